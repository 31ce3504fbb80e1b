#include "io/fs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "io/input.h"

namespace weir {
namespace {

std::string Tmp(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("weir-io-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

// Regression: two workers publishing into the same new partition folder at once made one rename
// fail with ENOENT (the folder check and the creation raced), failing a whole task.
TEST(FsTest, ConcurrentRenamesIntoTheSameNewFolderAllSucceed) {
  std::string dir = Tmp("rename-race");
  for (int round = 0; round < 50; ++round) {
    std::vector<std::thread> threads;
    std::vector<Status> results(8);
    for (int t = 0; t < 8; ++t) {
      std::string src = dir + "/src-" + std::to_string(round) + "-" + std::to_string(t);
      ASSERT_TRUE(fs::WriteFile(src, "x").ok());
      threads.emplace_back([&, src, t] {
        results[t] = fs::Rename(src, dir + "/p=" + std::to_string(round) + "/q=1/f" + std::to_string(t));
      });
    }
    for (auto& th : threads) th.join();
    for (const auto& st : results) EXPECT_TRUE(st.ok()) << st.ToString();
  }
}

// Regression: `weir lake expire` pruned an empty partition folder while a writer was creating
// the folder below it (or renaming into it), and the writer's task failed with "creating folder
// ...: No such file or directory".
TEST(FsTest, CreatingAndRenamingIntoFoldersBeingPrunedSucceeds) {
  const std::string dir = Tmp("prune-race");
  const std::string parent = dir + "/event_type=click";
  const std::string part = parent + "/dt=2024-06-01";
  std::atomic<bool> stop{false};
  std::atomic<int> passes{0};
  // Expire's own pruner, in passes far closer together than real expire runs (one pass per
  // `weir lake expire`). The rmdir loop this test had, every 50 us, models no real caller: on a
  // slow, loaded filesystem it can remove the parent between a writer's two mkdirs every time.
  std::thread pruner([&] {
    while (!stop) {
      fs::PruneEmptyFolders(dir);
      ++passes;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });
  int failures = 0;
  for (int i = 0; i < 20000 && failures < 5; ++i) {
    Status made = fs::CreateDirs(part);
    if (!made.ok()) ++failures;
    EXPECT_TRUE(made.ok()) << made.ToString();
    const std::string src = dir + "/staged";
    ASSERT_TRUE(fs::WriteFile(src, "x").ok());
    Status moved = fs::Rename(src, part + "/f");
    if (!moved.ok()) ++failures;
    EXPECT_TRUE(moved.ok()) << moved.ToString();
    (void)::unlink((part + "/f").c_str());  // empty again: prunable
  }
  stop = true;
  pruner.join();
  EXPECT_GT(passes.load(), 10) << "the pruner hardly ran: the race was not exercised";
}

TEST(FsTest, RenameOfAMissingSourceIsNotFound) {
  std::string dir = Tmp("rename-missing");
  Status st = fs::Rename(dir + "/nope", dir + "/a/b");
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
}

TEST(InputTest, MissingFileIsNotFoundAndNotRetryable) {
  auto in = OpenInput("/nonexistent/weir/file.jsonl");
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(in.status().retryable());
}

TEST(InputTest, SkipToPositionsPlainAndCompressedStreamsAtTheSameOffset) {
  std::string dir = Tmp("skip");
  std::string data;
  for (int i = 0; i < 200000; ++i) data += "line " + std::to_string(i) + "\n";
  ASSERT_TRUE(fs::WriteFile(dir + "/a.txt", data).ok());
  ASSERT_EQ(std::system(("gzip -k -c " + dir + "/a.txt > " + dir + "/a.txt.gz").c_str()), 0);
  for (std::string name : {"a.txt", "a.txt.gz"}) {
    auto in = OpenInput(dir + "/" + name);
    ASSERT_TRUE(in.ok());
    ASSERT_TRUE((*in)->SkipTo(1234567).ok());
    char buf[32];
    auto got = (*in)->Read(buf, sizeof(buf));
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(std::string(buf, *got), data.substr(1234567, 32)) << name;
  }
}

}  // namespace
}  // namespace weir
