// SegmentLog: durable appends with group commit, segment rolling, trimming, and recovery that
// keeps every acknowledged byte and nothing else (torn tails, a torn marker slot, kill -9).
#include "io/segment_log.h"

#include "io/input.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace weir {
namespace {

namespace stdfs = std::filesystem;

std::string TempLogDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "weir-seglog-" + name + "-" + std::to_string(::getpid());
  stdfs::remove_all(dir);
  return dir;
}

std::string Slurp(const std::string& path, uint64_t limit = UINT64_MAX) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  std::string out = s.str();
  if (out.size() > limit) out.resize(limit);
  return out;
}

// Every durable byte of the log, in order.
std::string ReadLog(const SegmentLog& log) {
  std::string out;
  for (const auto& seg : log.Segments()) out += Slurp(seg.path, seg.durable);
  return out;
}

std::string Line(int writer, int i) {
  return "{\"w\":" + std::to_string(writer) + ",\"i\":" + std::to_string(i) + "}\n";
}

TEST(SegmentLogTest, AppendsAreContiguousRangesOfTheSegments) {
  auto log = SegmentLog::Open({TempLogDir("ranges")});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto a = (*log)->Append("{\"a\":1}\n{\"a\":2}\n");
  auto b = (*log)->Append("{\"b\":1}\n");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->start, 0u);
  EXPECT_EQ(a->end, 16u);
  EXPECT_EQ(b->start, 16u);
  EXPECT_EQ(b->end, 24u);
  EXPECT_EQ(a->segment, b->segment);
  EXPECT_EQ(ReadLog(**log), "{\"a\":1}\n{\"a\":2}\n{\"b\":1}\n");
  EXPECT_EQ((*log)->DurableEnd(), 24u);
  // Not a whole line: refused, nothing written.
  EXPECT_FALSE((*log)->Append("{\"c\":").ok());
  EXPECT_EQ((*log)->DurableEnd(), 24u);
}

TEST(SegmentLogTest, SegmentsRollAtTheSizeAndTrimRemovesConsumedOnes) {
  const std::string dir = TempLogDir("roll");
  auto log = SegmentLog::Open({dir, 100});
  ASSERT_TRUE(log.ok());
  std::string all;
  for (int i = 0; i < 30; ++i) {
    std::string l = Line(0, i);
    all += l;
    ASSERT_TRUE((*log)->Append(l).ok());
  }
  auto segs = (*log)->Segments();
  ASSERT_GE(segs.size(), 4u);
  for (size_t i = 1; i < segs.size(); ++i) {
    EXPECT_EQ(segs[i].base, segs[i - 1].base + segs[i - 1].durable);  // no gap, no overlap
    EXPECT_GE(segs[i - 1].durable, 100u);
  }
  EXPECT_EQ(ReadLog(**log), all);
  // Trim below the end of the second segment: the first two go, the rest stay.
  ASSERT_TRUE((*log)->Trim(segs[1].base + segs[1].durable).ok());
  auto left = (*log)->Segments();
  EXPECT_EQ(left.size(), segs.size() - 2);
  EXPECT_EQ(left.front().base, segs[2].base);
  EXPECT_FALSE(stdfs::exists(segs[0].path));
  // Reopened: the same segments and bytes.
  log->reset();
  auto again = SegmentLog::Open({dir, 100});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Segments().size(), left.size());
  EXPECT_EQ((*again)->DurableEnd(), all.size());
  EXPECT_EQ(ReadLog(**again), all.substr(segs[2].base));
}

TEST(SegmentLogTest, ConcurrentAppendersShareSyncsAndLoseNothing) {
  auto log = SegmentLog::Open({TempLogDir("group"), 1 << 16});
  ASSERT_TRUE(log.ok());
  constexpr int kWriters = 8, kEach = 200;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        if (!(*log)->Append(Line(w, i)).ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  // Each writer's lines, in its own order, each exactly once.
  std::string text = ReadLog(**log);
  std::vector<int> next(kWriters, 0);
  std::istringstream in(text);
  std::string l;
  int lines = 0;
  while (std::getline(in, l)) {
    int w = -1, i = -1;
    ASSERT_EQ(std::sscanf(l.c_str(), "{\"w\":%d,\"i\":%d}", &w, &i), 2) << l;
    EXPECT_EQ(i, next[w]++) << l;
    ++lines;
  }
  EXPECT_EQ(lines, kWriters * kEach);
  // Group commit: fewer sync rounds than appends.
  EXPECT_LT((*log)->syncs(), static_cast<uint64_t>(kWriters * kEach));
}

// Bytes past the durable marker (a crash between write and sync) and a segment started after it
// are dropped on open: they were never acknowledged.
TEST(SegmentLogTest, RecoveryDropsBytesPastTheMarker) {
  const std::string dir = TempLogDir("tail");
  std::string path;
  {
    auto log = SegmentLog::Open({dir});
    ASSERT_TRUE(log.ok());
    auto r = (*log)->Append("{\"kept\":1}\n");
    ASSERT_TRUE(r.ok());
    path = r->segment;
  }
  {
    std::ofstream(path, std::ios::app | std::ios::binary) << std::string("{\"torn\":\0\0\0", 12);
    std::ofstream(dir + "/00000000000000099999.seg") << "{\"later\":1}\n";
  }
  auto log = SegmentLog::Open({dir});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(ReadLog(**log), "{\"kept\":1}\n");
  EXPECT_EQ(Slurp(path), "{\"kept\":1}\n");
  EXPECT_FALSE(stdfs::exists(dir + "/00000000000000099999.seg"));
  // Appending goes on right after the kept bytes.
  auto r = (*log)->Append("{\"next\":1}\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->start, 11u);
}

// A torn write of the newest marker slot: the other slot still names the previous durable end
// (the append whose marker tore never returned, so it was not acknowledged).
TEST(SegmentLogTest, ATornMarkerSlotFallsBackToThePreviousOne) {
  const std::string dir = TempLogDir("slot");
  {
    auto log = SegmentLog::Open({dir});
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append("{\"a\":1}\n").ok());  // marker seq 1 -> slot 1
    ASSERT_TRUE((*log)->Append("{\"b\":1}\n").ok());  // marker seq 2 -> slot 0
  }
  {
    int fd = ::open((dir + "/durable").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const char junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ASSERT_EQ(::pwrite(fd, junk, sizeof(junk), 20), 8);  // inside slot 0
    ::close(fd);
  }
  auto log = SegmentLog::Open({dir});
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(ReadLog(**log), "{\"a\":1}\n");
}

// kill -9 of a process appending as fast as it can: every append that returned is there, byte
// for byte, after recovery; nothing unacknowledged is past the last acknowledged one but whole
// lines of the same writer (an append that was durable but had not returned yet).
TEST(SegmentLogTest, KillNineKeepsEveryAcknowledgedAppend) {
  for (int trial = 0; trial < 3; ++trial) {
    const std::string dir = TempLogDir("kill" + std::to_string(trial));
    const std::string acks = dir + ".acks";
    stdfs::remove(acks);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto log = SegmentLog::Open({dir, 4096});
      if (!log.ok()) ::_exit(3);
      int fd = ::open(acks.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      for (int i = 0;; ++i) {
        auto r = (*log)->Append(Line(1, i));
        if (!r.ok()) ::_exit(4);
        std::string ack = std::to_string(i) + " " + std::to_string(r->end) + "\n";
        if (::write(fd, ack.data(), ack.size()) < 0) ::_exit(5);
      }
    }
    ::usleep(150000 + trial * 100000);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << status;
    // The last acknowledged append.
    int last = -1;
    uint64_t last_end = 0;
    {
      std::ifstream in(acks);
      int i;
      uint64_t end;
      while (in >> i >> end) {
        last = i;
        last_end = end;
      }
    }
    ASSERT_GT(last, 10) << "the child appended too little to test anything";
    auto log = SegmentLog::Open({dir, 4096});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_GE((*log)->DurableEnd(), last_end);
    std::string expect;
    for (int i = 0; i <= last; ++i) expect += Line(1, i);
    std::string text = ReadLog(**log);
    ASSERT_GE(text.size(), expect.size());
    EXPECT_EQ(text.substr(0, expect.size()), expect);
    // Anything after: whole lines continuing the sequence (durable, not yet acknowledged).
    std::string rest = text.substr(expect.size());
    for (int i = last + 1; !rest.empty(); ++i) {
      const std::string l = Line(1, i);
      ASSERT_EQ(rest.substr(0, l.size()), l);
      rest.erase(0, l.size());
    }
  }
}

// Everything a reader returns until it has caught up.
std::string Drain(InputStream& in) {
  std::string out;
  char buf[7];  // small on purpose: reads must cross segment ends mid-buffer
  for (;;) {
    auto n = in.Read(buf, sizeof(buf));
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (!n.ok() || *n == 0) return out;
    out.append(buf, *n);
  }
}

TEST(SegmentLogTest, AReaderFollowsTheLogAcrossSegmentsAsItGrows) {
  SegmentLog::Options o{TempLogDir("reader")};
  o.segment_bytes = 20;
  auto log = SegmentLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  std::string all;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*log)->Append(Line(0, i)).ok());
    all += Line(0, i);
  }
  ASSERT_GE((*log)->Segments().size(), 2u);
  auto reader = (*log)->OpenReader(0);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(Drain(**reader), all);
  // Caught up: nothing more until the next append, then exactly that.
  EXPECT_FALSE((*log)->WaitBeyond(all.size(), 10));
  ASSERT_TRUE((*log)->Append(Line(1, 0)).ok());
  EXPECT_TRUE((*log)->WaitBeyond(all.size(), 0));
  EXPECT_EQ(Drain(**reader), Line(1, 0));
  // A reader opened mid-log starts at its offset.
  auto mid = (*log)->OpenReader(Line(0, 0).size());
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(Drain(**mid), all.substr(Line(0, 0).size()) + Line(1, 0));
}

TEST(SegmentLogTest, TrimSetsTheBacklogAndReadersCannotGoBelowTheStart) {
  SegmentLog::Options o{TempLogDir("backlog")};
  o.segment_bytes = 16;
  auto log = SegmentLog::Open(o);
  ASSERT_TRUE(log.ok());
  uint64_t end = 0;
  for (int i = 0; i < 4; ++i) {
    auto r = (*log)->Append(Line(0, i));
    ASSERT_TRUE(r.ok());
    end = r->end;
  }
  EXPECT_EQ((*log)->Backlog(), end);
  ASSERT_GE((*log)->Segments().size(), 2u);
  const SegmentLog::Segment first = (*log)->Segments().front();
  const uint64_t first_end = first.base + first.durable;
  // Trimming inside the first segment keeps it (and moves the backlog only).
  ASSERT_TRUE((*log)->Trim(first_end - 1).ok());
  EXPECT_EQ((*log)->Start(), 0u);
  EXPECT_EQ((*log)->Backlog(), end - first_end + 1);
  ASSERT_TRUE((*log)->Trim(first_end).ok());
  EXPECT_EQ((*log)->Backlog(), end - first_end);
  EXPECT_EQ((*log)->Start(), first_end);
  EXPECT_FALSE(stdfs::exists(first.path));
  EXPECT_FALSE((*log)->OpenReader(0).ok());
  EXPECT_FALSE((*log)->OpenReader(end + 1).ok());
  // Reopened, the log starts where the trimmed segments ended.
  log->reset();
  auto again = SegmentLog::Open(o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Start(), first_end);
  EXPECT_EQ((*again)->DurableEnd(), end);
}

TEST(SegmentLogTest, ANewLogStartsAtTheGivenOffset) {
  SegmentLog::Options o{TempLogDir("start")};
  o.start_offset = 1000;
  auto log = SegmentLog::Open(o);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->Start(), 1000u);
  auto r = (*log)->Append(Line(0, 0));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->start, 1000u);
  log->reset();
  // An existing log keeps its own offsets whatever start_offset says.
  o.start_offset = 5;
  auto again = SegmentLog::Open(o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Start(), 1000u);
  auto reader = (*again)->OpenReader(1000);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(Drain(**reader), Line(0, 0));
}

}  // namespace
}  // namespace weir
