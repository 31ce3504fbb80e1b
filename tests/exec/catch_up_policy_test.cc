// WorkerOutput's commit timing for streams (stream.commit_interval, stream.catch_up_interval):
// a stream that keeps up commits every commit_interval; one that is behind (what waits would
// take longer than commit_interval to read) waits for catch_up_interval, until it has caught
// up to under a tenth of commit_interval of reading. Real WorkerOutput and SQLite store; the
// intervals are short real times (no clock is faked), with margins for a busy machine.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "core/config.h"
#include "exec/store.h"
#include "exec/worker_output.h"

namespace weir {
namespace {

class CatchUpPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("weir-catchup-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto s = Store::Open((dir_ / "store.db").string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A collector dataset with the given stream section.
  std::unique_ptr<WorkerOutput> Output(const std::string& stream) {
    auto c = ParseDatasetConfig("name: s\n"
                                "read: {connector: http, listen: 127.0.0.1:8080, parser: jsonl}\n"
                                "write:\n"
                                "  connector: lake\n"
                                "  location: lake\n"
                                "  table: t\n"
                                "  columns:\n"
                                "    id: {path: /id, type: string}\n"
                                "stream:\n" + stream,
                                (dir_ / "s.yaml").string());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    cfg_ = std::make_unique<DatasetConfig>(std::move(c).value());
    auto out = std::make_unique<WorkerOutput>(
        *cfg_, *store_, std::vector<ColumnSchema>{{"id", ColumnType::kString}}, "t");
    out->set_commit_seconds(static_cast<double>(cfg_->stream.commit_interval_ms) / 1000.0);
    return out;
  }

  static void Sleep(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

  static void AppendRow(WorkerOutput& out) {
    ColumnBatch b({{"id", ColumnType::kString}});
    b.columns[0].AppendString("x");
    ASSERT_TRUE(out.Append(b, 1).ok());
  }

  // A row buffered while `consumed` are read in ~20 ms, `waiting` left, and a commit due by
  // size (write.roll_bytes 1), made; write.roll_bytes is then large again.
  void CommitBySize(WorkerOutput& out, uint64_t consumed, uint64_t waiting) {
    cfg_->write.roll_bytes = 1;
    AppendRow(out);
    Sleep(20);
    out.SetBacklog(consumed, waiting);
    ASSERT_TRUE(out.ShouldCommit());
    ASSERT_TRUE(out.Commit().ok());
    cfg_->write.roll_bytes = size_t{1} << 30;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<DatasetConfig> cfg_;
};

TEST_F(CatchUpPolicyTest, KeepingUpCommitsEveryCommitInterval) {
  auto out = Output("  commit_interval: 100ms\n  catch_up_interval: 1h\n");
  out->SetBacklog(1000, 5);
  EXPECT_FALSE(out->ShouldCommit());  // not due yet
  Sleep(150);
  // 1000 read in ~0.15 s; 5 waiting take ~1 ms to read: keeping up.
  out->SetBacklog(1000, 5);
  EXPECT_TRUE(out->ShouldCommit());
  // A source that never reports a backlog commits by the clock as before.
  auto plain = Output("  commit_interval: 100ms\n  catch_up_interval: 1h\n");
  Sleep(150);
  EXPECT_TRUE(plain->ShouldCommit());
}

TEST_F(CatchUpPolicyTest, BehindWaitsUntilCaughtUpThenCommitsAtOnce) {
  auto out = Output("  commit_interval: 100ms\n  catch_up_interval: 1h\n");
  Sleep(150);
  // 1000 read in ~0.15 s, 100,000 waiting: ~15 s of reading, far over 100 ms. Behind.
  out->SetBacklog(1000, 100000);
  EXPECT_FALSE(out->ShouldCommit());
  // Reading on at that rate: 10,000 read, 1,000 waiting is ~15 ms of reading, over a tenth of
  // the interval (10 ms): still behind (the backlog's tail is not committed on its own).
  out->SetBacklog(10000, 1000);
  EXPECT_FALSE(out->ShouldCommit());
  // Caught up to a few messages: commit now, and by the clock from then on.
  out->SetBacklog(100000, 10);
  EXPECT_TRUE(out->ShouldCommit());
  out->SetBacklog(100000, 0);
  EXPECT_TRUE(out->ShouldCommit());
}

// A backlog read fast enough to fill write.roll_bytes before commit_interval is over was never
// judged behind (only a commit due by the clock judged), so once it was read the last commit
// waited out the rest of commit_interval with the lake behind. Its size commit judges it now.
TEST_F(CatchUpPolicyTest, CaughtUpAfterCommittingBySizeCommitsAtOnce) {
  auto out = Output("  commit_interval: 10s\n  catch_up_interval: 1h\n");
  // 1000 read in ~20 ms, 1,000,000 waiting: ~20 s of reading, over the 10 s interval.
  CommitBySize(*out, 1000, 1000000);
  AppendRow(*out);
  Sleep(20);
  out->SetBacklog(2000, 500000);  // 1000 more in ~20 ms, 500,000 waiting: ~10 s, still behind
  EXPECT_FALSE(out->ShouldCommit());
  // Caught up: 5,000 waiting take well under a tenth of the interval. They are read before
  // the commit, so that the backlog's last few do not wait out the interval alone.
  out->SetBacklog(995000, 5000);
  EXPECT_FALSE(out->ShouldCommit());
  // Read to the end, long before commit_interval: commit now.
  out->SetBacklog(1000000, 0);
  EXPECT_TRUE(out->ShouldCommit());
  ASSERT_TRUE(out->Commit().ok());
  // Then by the clock again.
  AppendRow(*out);
  out->SetBacklog(1000010, 0);
  EXPECT_FALSE(out->ShouldCommit());
}

// The other side: a stream that keeps up at a rate that fills write.roll_bytes within
// commit_interval commits by size, and reading what waited then (here ~2 s of reading, under
// the 10 s interval) is no reason to commit again before the interval is over.
TEST_F(CatchUpPolicyTest, KeepingUpWhileCommittingBySizeDoesNotCommitAgainAtOnce) {
  auto out = Output("  commit_interval: 10s\n  catch_up_interval: 1h\n");
  CommitBySize(*out, 1000, 100000);  // 1000 read in ~20 ms, 100,000 waiting: ~2 s
  AppendRow(*out);
  Sleep(20);
  out->SetBacklog(101000, 0);
  EXPECT_FALSE(out->ShouldCommit());
}

// A Kafka stream's first poll came after a 3 s group join, found commit_interval over before
// any backlog was known, and committed a few thousand messages as a file per partition they
// touched. Its interval now starts at the assignment (StartInterval).
TEST_F(CatchUpPolicyTest, TheFirstIntervalStartsWhenReadingStarts) {
  auto out = Output("  commit_interval: 200ms\n  catch_up_interval: 1h\n");
  Sleep(250);  // joining the group
  out->StartInterval();
  AppendRow(*out);
  out->SetBacklog(10, 0);
  EXPECT_FALSE(out->ShouldCommit());
  Sleep(250);
  out->SetBacklog(20, 0);
  EXPECT_TRUE(out->ShouldCommit());
  // With rows buffered, the interval they are in goes on.
  ASSERT_TRUE(out->Commit().ok());
  Sleep(250);
  AppendRow(*out);
  out->StartInterval();
  EXPECT_TRUE(out->ShouldCommit());
}

TEST_F(CatchUpPolicyTest, BehindStillCommitsEveryCatchUpInterval) {
  auto out = Output("  commit_interval: 50ms\n  catch_up_interval: 400ms\n");
  Sleep(80);
  out->SetBacklog(1000, 1000000);
  EXPECT_FALSE(out->ShouldCommit());
  Sleep(400);
  out->SetBacklog(2000, 1000000);
  EXPECT_TRUE(out->ShouldCommit());
}

TEST_F(CatchUpPolicyTest, CatchUpIntervalEqualToCommitIntervalTurnsCatchingUpOff) {
  auto out = Output("  commit_interval: 100ms\n  catch_up_interval: 100ms\n");
  Sleep(150);
  out->SetBacklog(1000, 1000000);
  EXPECT_TRUE(out->ShouldCommit());
}

TEST_F(CatchUpPolicyTest, TheMemoryBoundCommitsWhateverTheBacklog) {
  auto out = Output("  commit_interval: 1h\n  catch_up_interval: 1h\n");
  cfg_->write.roll_bytes = 1;  // any buffered row reaches it
  out->SetBacklog(1, 1000000);
  EXPECT_FALSE(out->ShouldCommit());  // nothing buffered yet
  ColumnBatch b({{"id", ColumnType::kString}});
  b.columns[0].AppendString("x");
  ASSERT_TRUE(out->Append(b, 1).ok());
  EXPECT_TRUE(out->ShouldCommit());
}

}  // namespace
}  // namespace weir
