#include "io/file_identity.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace weir {
namespace {

class FileIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("weir-fileid-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "in.jsonl").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& data, bool append = false) {
    std::ofstream f(path_, append ? std::ios::app | std::ios::binary : std::ios::binary);
    f << data;
  }
  static std::string Bytes(size_t n, char seed) {
    std::string s(n, 'a');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
    return s;
  }
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(FileIdentityTest, UnchangedFileIsSameWithoutReading) {
  Write(Bytes(300000, 1));
  auto id = IdentifyFile(path_);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->size, 300000u);
  EXPECT_EQ(CompareFile(path_, *id).change, FileChange::kSame);
}

TEST_F(FileIdentityTest, AppendedBytesAreToldApartFromRewrites) {
  std::string base = Bytes(200000, 2);
  Write(base);
  auto id = *IdentifyFile(path_);
  Write("more\n", true);
  auto c = CompareFile(path_, id);
  EXPECT_EQ(c.change, FileChange::kAppended);
  EXPECT_EQ(c.current_size, 200005u);
  EXPECT_NE(c.detail.find("5 bytes appended"), std::string::npos) << c.detail;
  // A change in the last block of what was read is a rewrite, even with bytes appended.
  std::string changed = base;
  changed[199990] ^= 1;
  Write(changed + "more\n");
  EXPECT_EQ(CompareFile(path_, id).change, FileChange::kRewritten);
  // So is a change in the first block.
  changed = base;
  changed[10] ^= 1;
  Write(changed);
  EXPECT_EQ(CompareFile(path_, id).change, FileChange::kRewritten);
}

TEST_F(FileIdentityTest, ShorterFileIsTruncatedAndGoneIsMissing) {
  Write(Bytes(1000, 3));
  auto id = *IdentifyFile(path_);
  Write(Bytes(999, 3));
  EXPECT_EQ(CompareFile(path_, id).change, FileChange::kTruncated);
  std::filesystem::remove(path_);
  EXPECT_EQ(CompareFile(path_, id).change, FileChange::kMissing);
}

TEST_F(FileIdentityTest, IdentityOfAPrefixIgnoresBytesAppendedAfterTheRead) {
  Write(Bytes(5000, 4));
  auto read_part = *IdentifyFile(path_, 3000);  // the reader stopped at 3000
  EXPECT_EQ(read_part.size, 3000u);
  EXPECT_EQ(CompareFile(path_, read_part).change, FileChange::kAppended);
}

TEST_F(FileIdentityTest, SameSizeSameContentNewMtimeIsSame) {
  std::string data = Bytes(70000, 5);
  Write(data);
  auto id = *IdentifyFile(path_);
  id.mtime_ns -= 5'000'000'000;  // as if touched since
  EXPECT_EQ(CompareFile(path_, id).change, FileChange::kSame);
}

TEST_F(FileIdentityTest, JsonRoundTripKeepsEveryField) {
  Write(Bytes(123, 6));
  auto a = *IdentifyFile(path_);
  auto back = FileIdentitiesFromJson(FileIdentitiesToJson({a, a}));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].path, a.path);
  EXPECT_EQ(back[1].size, a.size);
  EXPECT_EQ(back[1].mtime_ns, a.mtime_ns);
  EXPECT_EQ(back[1].fingerprint, a.fingerprint);
  EXPECT_TRUE(FileIdentitiesFromJson("").empty());
  EXPECT_TRUE(FileIdentitiesFromJson("{not json").empty());
}

TEST_F(FileIdentityTest, FifoIsNotIdentifiedAndDoesNotBlock) {
  std::string fifo = (dir_ / "pipe").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  auto id = IdentifyFile(fifo);
  EXPECT_FALSE(id.ok());
}

}  // namespace
}  // namespace weir
