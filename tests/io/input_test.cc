// Tests of OpenInput: what is refused as input (FIFOs, folders, symlink loops), which errors are
// permanent, and gzip framing (members, zero padding, trailing garbage, truncation).
#include "io/input.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include "io/fs.h"

namespace weir {
namespace {

std::string Tmp(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() /
           ("weir-input-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

void Write(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f << data;
}

// One complete gzip member holding `text`.
std::string Gzip(const std::string& text) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, text.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

Result<std::string> ReadWhole(const std::string& path) {
  WEIR_ASSIGN_OR_RETURN(auto in, OpenInput(path));
  std::string out;
  char buf[4096];
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(size_t n, in->Read(buf, sizeof(buf)));
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

// Regression: a FIFO in the manifest made `weir run` block forever inside open() (waiting for a
// writer) while it held the dataset lock.
TEST(InputTest, FifoIsRefusedWithoutBlocking) {
  const std::string dir = Tmp("fifo");
  const std::string fifo = dir + "/events.jsonl";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  auto fut = std::async(std::launch::async, [&] { return OpenInput(fifo).status(); });
  ASSERT_EQ(fut.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "OpenInput blocked on a FIFO";
  const Status st = fut.get();
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(st.retryable()) << st.ToString();
  EXPECT_NE(st.message().find("is a FIFO, not a regular file"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find(fifo), std::string::npos) << st.ToString();
  const Status check = fs::CheckRegularFile(fifo);
  EXPECT_NE(check.message().find("is a FIFO, not a regular file"), std::string::npos)
      << check.ToString();
}

TEST(InputTest, FolderSocketAndDeviceAreRefusedNamingTheKind) {
  const std::string dir = Tmp("kinds");
  auto folder = OpenInput(dir).status();
  EXPECT_FALSE(folder.retryable());
  EXPECT_NE(folder.message().find("is a folder, not a regular file"), std::string::npos)
      << folder.ToString();
  auto dev = OpenInput("/dev/null").status();
  EXPECT_FALSE(dev.retryable());
  EXPECT_NE(dev.message().find("is a character device"), std::string::npos) << dev.ToString();
  const std::string sock = dir + "/s.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_NE(fs::CheckRegularFile(sock).message().find("is a socket"), std::string::npos);
  ::close(fd);
}

// Regression: a symlink loop was retried as a transient error (4 attempts) and validate called it
// "does not exist".
TEST(InputTest, SymlinkLoopIsAPermanentErrorSayingSo) {
  const std::string dir = Tmp("loop");
  std::filesystem::create_symlink(dir + "/b", dir + "/a");
  std::filesystem::create_symlink(dir + "/a", dir + "/b");
  const Status st = OpenInput(dir + "/a").status();
  EXPECT_EQ(st.code(), StatusCode::kIOError) << st.ToString();
  EXPECT_FALSE(st.retryable()) << st.ToString();
  EXPECT_NE(st.message().find("symlink loop"), std::string::npos) << st.ToString();
  const Status check = fs::CheckRegularFile(dir + "/a");
  EXPECT_NE(check.code(), StatusCode::kNotFound);
  EXPECT_NE(check.message().find("symlink loop"), std::string::npos) << check.ToString();
  // A path through a regular file (ENOTDIR) and an over-long name are permanent too.
  Write(dir + "/file", "x");
  EXPECT_FALSE(OpenInput(dir + "/file/x.jsonl").status().retryable());
  EXPECT_FALSE(OpenInput(dir + "/" + std::string(300, 'n')).status().retryable());
  EXPECT_EQ(OpenInput(dir + "/missing").status().code(), StatusCode::kNotFound);
}

TEST(InputTest, GzipMembersAreOneStream) {
  const std::string dir = Tmp("members");
  Write(dir + "/a.gz", Gzip("one\n") + Gzip("two\n"));
  auto r = ReadWhole(dir + "/a.gz");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "one\ntwo\n");
}

// Regression: gzip files padded with zero bytes after the last member (GNU gzip: "trailing zero
// bytes ignored") failed their task with a data error.
TEST(InputTest, GzipTrailingZeroPaddingIsIgnored) {
  const std::string dir = Tmp("zeros");
  // Padding shorter than, equal to and longer than the 1 MiB read buffer.
  for (size_t pad : {size_t{1}, size_t{511}, size_t{1} << 20, (size_t{1} << 20) + 7}) {
    Write(dir + "/a.gz", Gzip("one\n") + Gzip("two\n") + std::string(pad, '\0'));
    auto r = ReadWhole(dir + "/a.gz");
    ASSERT_TRUE(r.ok()) << pad << ": " << r.status().ToString();
    EXPECT_EQ(*r, "one\ntwo\n") << pad;
  }
}

TEST(InputTest, GzipTrailingGarbageIsRejectedClearly) {
  const std::string dir = Tmp("garbage");
  const std::string member = Gzip("one\n");
  Write(dir + "/a.gz", member + "garbage");
  auto r = ReadWhole(dir + "/a.gz");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find(
                "trailing garbage after the last gzip member, at compressed offset " +
                std::to_string(member.size())),
            std::string::npos)
      << r.status().ToString();
  // Zero padding followed by something else is garbage too.
  Write(dir + "/b.gz", member + std::string(10, '\0') + "x");
  auto b = ReadWhole(dir + "/b.gz");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("compressed offset " + std::to_string(member.size() + 10)),
            std::string::npos)
      << b.status().ToString();
}

// Regression: the truncation error named the path twice when the caller added it as context; the
// stream's errors name it exactly once and say how far the file got.
TEST(InputTest, TruncatedGzipNamesThePathOnce) {
  const std::string dir = Tmp("truncated");
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "line " + std::to_string(i) + "\n";
  const std::string gz = Gzip(text);
  Write(dir + "/cut.jsonl.gz", gz.substr(0, gz.size() / 2));
  auto r = ReadWhole(dir + "/cut.jsonl.gz");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Count(r.status().message(), "cut.jsonl.gz"), 1u) << r.status().message();
  EXPECT_NE(r.status().message().find("gzip stream truncated"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace weir
