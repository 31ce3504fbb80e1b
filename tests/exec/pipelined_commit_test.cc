// WorkerOutput's pipelined commits (stream.pipeline): CommitAsync hands the buffered output to
// a commit thread and the caller buffers the next interval meanwhile. Every commit lands with
// its own checkpoint and files; the on-committed callback runs on the caller's thread; and when
// the commit in flight fails, what was buffered after it (which continues its checkpoints) is
// discarded, never committed on its own. Real WorkerOutput, SQLite store and lake files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "core/config.h"
#include "exec/store.h"
#include "exec/worker_output.h"

namespace weir {
namespace {

class PipelinedCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("weir-pipelined-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto s = Store::Open((dir_ / "store.db").string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    auto c = ParseDatasetConfig("name: s\n"
                                "read: {connector: http, listen: 127.0.0.1:8080, parser: jsonl}\n"
                                "write:\n"
                                "  connector: lake\n"
                                "  location: lake\n"
                                "  table: t\n"
                                "  table_format: hive\n"
                                "  partition_by: [kind]\n"
                                "  columns:\n"
                                "    id: {path: /id, type: string}\n"
                                "    kind: {path: /kind, type: string}\n"
                                "stream: {commit_interval: 1h}\n",
                                (dir_ / "s.yaml").string());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cfg_ = std::make_unique<DatasetConfig>(std::move(c).value());
    ASSERT_TRUE(store_->EnsureTasks("s", {{"log", "log"}}).ok());
    auto tasks = store_->Tasks("s");
    ASSERT_TRUE(tasks.ok() && tasks->size() == 1);
    auto claimed = store_->ClaimTask(tasks->front().id);
    ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
    task_ = *claimed;
    out_ = std::make_unique<WorkerOutput>(*cfg_, *store_, Schema(), "t");
    out_->set_pipelined(true);
  }
  void TearDown() override {
    out_.reset();
    std::filesystem::remove_all(dir_);
  }

  static std::vector<ColumnSchema> Schema() {
    return {{"id", ColumnType::kString}, {"kind", ColumnType::kString}};
  }

  // Buffers `n` rows (ids from `first`, two partitions) and moves the task's checkpoint to
  // after them, as an executor does after a slice.
  void Read(int first, int n) {
    ColumnBatch b(Schema());
    for (int i = first; i < first + n; ++i) {
      b.columns[0].AppendString("id" + std::to_string(i));
      b.columns[1].AppendString(i % 2 ? "odd" : "even");
    }
    auto dropped = out_->Append(b, task_.id);
    ASSERT_TRUE(dropped.ok()) << dropped.status().ToString();
    counters_.read += n;
    counters_.written += n;
    counters_.offset = counters_.record_number = static_cast<uint64_t>(first + n);
    std::string errors;
    out_->Update(task_, counters_, 0, errors, std::nullopt);
  }

  uint64_t StoredOffset() {
    auto t = store_->Task(task_.id);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? t->counters.offset : UINT64_MAX;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<DatasetConfig> cfg_;
  TaskRow task_;
  TaskCounters counters_;
  std::unique_ptr<WorkerOutput> out_;
};

TEST_F(PipelinedCommitTest, ReadingGoesOnWhileACommitIsInFlightAndEveryCommitLands) {
  Read(0, 30);
  std::thread::id callback_thread;
  uint64_t offset_seen_by_callback = 0;
  ASSERT_TRUE(out_->CommitAsync([&](const WorkerOutput::Committed& c) {
                    callback_thread = std::this_thread::get_id();
                    offset_seen_by_callback = StoredOffset();
                    EXPECT_GE(c.seconds, 0);
                    EXPECT_GT(c.finished_unix_ms, 0);
                    return Status::OK();
                  }).ok());
  EXPECT_TRUE(out_->committing());
  EXPECT_FALSE(out_->has_pending());  // handed over
  // The next interval buffers while the first commits.
  Read(30, 20);
  EXPECT_TRUE(out_->has_pending());
  ASSERT_TRUE(out_->WaitCommitted().ok());
  EXPECT_FALSE(out_->committing());
  EXPECT_EQ(callback_thread, std::this_thread::get_id());
  EXPECT_EQ(offset_seen_by_callback, 30u);  // durable before the callback ran
  EXPECT_EQ(StoredOffset(), 30u);           // not the 50 buffered since

  bool second = false;
  ASSERT_TRUE(out_->CommitAsync([&](const WorkerOutput::Committed&) {
                    second = true;
                    return Status::OK();
                  }).ok());
  ASSERT_TRUE(out_->WaitCommitted().ok());
  EXPECT_TRUE(second);
  EXPECT_EQ(StoredOffset(), 50u);
  auto t = store_->Task(task_.id);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->seq, 2);

  // Two commits x two partitions: four files, distinct names, 50 rows, all in place.
  auto files = store_->Files("s", "data", "");
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 4u);
  std::set<std::string> paths;
  uint64_t rows = 0;
  for (const auto& f : *files) {
    EXPECT_EQ(f.state, "published") << f.path;
    EXPECT_TRUE(std::filesystem::exists(f.path)) << f.path;
    paths.insert(f.path);
    rows += f.rows;
  }
  EXPECT_EQ(paths.size(), 4u);
  EXPECT_EQ(rows, 50u);
}

TEST_F(PipelinedCommitTest, AFailedCommitInFlightDiscardsWhatWasReadAfterIt) {
  Read(0, 30);
  // Another member takes the task before the commit: the commit in flight is fenced.
  ASSERT_TRUE(store_->ClaimTask(task_.id).ok());
  bool called = false;
  ASSERT_TRUE(out_->CommitAsync([&](const WorkerOutput::Committed&) {
                    called = true;
                    return Status::OK();
                  }).ok());
  Read(30, 20);  // continues the fenced commit's checkpoint
  Status st = out_->WaitCommitted();
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(called);
  // Committing now must not write rows 30..49 with checkpoint 50 while 0..29 are lost.
  EXPECT_FALSE(out_->has_pending());
  EXPECT_EQ(out_->buffer().rows(), 0u);
  EXPECT_TRUE(out_->Commit().ok());
  EXPECT_EQ(StoredOffset(), 0u);
  auto files = store_->Files("s", "data", "");
  ASSERT_TRUE(files.ok());
  EXPECT_TRUE(files->empty());
}

TEST_F(PipelinedCommitTest, AFailedCommitInFlightIsReportedByTheNextHandOver) {
  Read(0, 10);
  ASSERT_TRUE(store_->ClaimTask(task_.id).ok());
  ASSERT_TRUE(out_->CommitAsync(nullptr).ok());
  Read(10, 10);
  // The hand-over waits for the flight, reports its failure and hands nothing over.
  EXPECT_FALSE(out_->CommitAsync(nullptr).ok());
  EXPECT_FALSE(out_->committing());
  EXPECT_EQ(out_->buffer().rows(), 0u);
  EXPECT_EQ(StoredOffset(), 0u);
}

TEST_F(PipelinedCommitTest, WithoutPipelineCommitAsyncCommitsBeforeReturning) {
  out_ = std::make_unique<WorkerOutput>(*cfg_, *store_, Schema(), "t");
  Read(0, 5);
  bool called = false;
  ASSERT_TRUE(out_->CommitAsync([&](const WorkerOutput::Committed&) {
                    called = true;
                    return Status::OK();
                  }).ok());
  EXPECT_TRUE(called);
  EXPECT_FALSE(out_->committing());
  EXPECT_EQ(StoredOffset(), 5u);
}

}  // namespace
}  // namespace weir
