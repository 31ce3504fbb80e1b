// The output side of a worker thread, shared by the executors of every reader shape: the
// buffer of documents and error records between two commits, the commit protocol itself (stage,
// one store transaction, publish; see exec/store.h and docs/design.md), the error-record format,
// and the crash and fault injection points the tests use. Internal to src/exec.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/column.h"
#include "core/config.h"
#include "exec/store.h"
#include "lake/partitioned_buffer.h"
#include "parse/record.h"
#include "weir/status.h"

namespace weir::rules {
class Engine;
}

namespace weir {

class DedupIndex;
class IcebergTable;
class WorkerOutput;

// Joins the commits of a run's workers into one, so that a commit writes ONE file per partition
// however many workers hold rows for it (file creation dominates a partitioned write, and an
// Iceberg table wants fewer, larger files) and makes one snapshot.
//
// A worker whose output should be committed arrives (Commit) and the round is requested: every
// other worker sees ShouldCommit() turn true at its next slice and arrives too. A requested round
// is committed when every member has arrived or holds nothing uncommitted; a round nobody asked
// for (only workers out of tasks arrived) when every member has arrived or left; the arrival that finds
// it complete leads it: it takes the others' buffered rows, tasks and supersede lists into its
// own output (they are blocked in Commit meanwhile, so nothing is shared while running), writes
// and commits them as one, and hands every participant the result. A worker failing a task
// discards only its own output, as before: outputs stay separate until a round takes them.
//
// Thread-safety: all methods are thread-safe. Ownership: members are not owned; a member must
// Leave() before its WorkerOutput is destroyed.
class CommitGroup {
 public:
  void Join(WorkerOutput* w);
  void Leave(WorkerOutput* w);
  // A round is waiting for the workers that hold uncommitted output.
  bool Requested() const { return requested_.load(std::memory_order_relaxed); }
  // Commits `w`'s output in the current round (see the class comment); returns that round's result.
  // `request`: ask the other members to commit now. A worker that ran out of tasks arrives
  // without asking: it waits for the others to commit when they would anyway (by size, time, or
  // running out of tasks too), so a batch load is one commit, not one per worker finishing.
  Status Commit(WorkerOutput& w, bool request = true);
  // A member's "holds uncommitted output" changed (a discard): a waiting round may be complete.
  void Notify();

 private:
  bool CompleteLocked() const;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<WorkerOutput*> members_;
  std::vector<WorkerOutput*> arrived_;
  bool leading_ = false;
  uint64_t round_ = 0;  // rounds completed
  size_t requesting_ = 0;  // arrivals in arrived_ that asked for the round
  std::atomic<bool> requested_{false};
};

// Deterministic crash points for the crash tests (RocksDB-style sync points): when the
// environment variable WEIR_CRASH_AT names a point, the process kills itself there with SIGKILL
// once WEIR_CRASH_AFTER_COMMITS commits (default 0) were made by the process (all workers).
// WEIR_PAUSE_AT names a point where the process stops itself with SIGSTOP instead (once), as a
// stalled worker would, until the test sends SIGCONT.
void CrashPoint(const char* name, int64_t commits_done);

// Fault injection for the retry tests: WEIR_INJECT_READ_ERRORS="2,5" makes the 2nd and 5th input
// read of the process fail with a retryable I/O error.
Status InjectedReadError();

// Appends one error record as a JSON line (see docs: error records). `extra_json` (",\"k\":v..."
// or empty) is appended before the closing brace: the fields of multi-record documents.
void AppendErrorRecord(std::string& out, const DatasetConfig& cfg, int64_t task_id,
                       const std::string& entry, const RecordView& rec, const std::string& reason,
                       bool sdk_record, std::string_view extra_json = {});

// The errors.max_ratio limit: fails the task before anything past its last checkpoint is
// committed, so the ERROR task's checkpoint still points at the start of the offending data.
// Judged after 1000 records, or at end of file (`eof`) for smaller files.
Status CheckErrorRatio(const DatasetConfig& cfg, const TaskCounters& counters, bool eof);

// Before a task reads: its inputs must still hold the bytes it read before (a rewritten or cut
// input would mix old and new content behind the checkpoint: a permanent error naming the file
// and what to do). Appended bytes are fine. For a task that never recorded its inputs,
// `start_identity` receives the identity to record with its first commit; otherwise it is
// cleared.
Status CheckTaskInputs(const TaskRow& task, const std::vector<std::string>& paths,
                       std::string* start_identity);
// The identity of inputs read to their end, `sizes[i]` raw bytes of `paths[i]` (UINT64_MAX:
// the whole file as it is now); empty text if a file cannot be read.
std::string ReadInputsIdentity(const std::vector<std::string>& paths,
                               const std::vector<uint64_t>& sizes);

// Removes the rows of `batch` whose `drop` flag is set (rows rejected by transforms).
void RemoveRows(ColumnBatch& batch, const std::vector<uint8_t>& drop);

// Deletes files a committed redrive replaced, then forgets them. Idempotent, so recovery can
// finish it after a crash.
Status DeleteSuperseded(const DatasetConfig& cfg, Store& store);

// Renames every committed-but-unpublished file of the dataset from staging into place and marks
// it published (the end of a commit whose writer died after its store transaction). Corruption
// if a committed file is neither staged nor in place. Only safe when no live writer is between
// its transaction and its renames: alone (under the DatasetLock), or under the CommitGate
// among shared writers, which hold the gate through their whole commit.
Status PublishPendingFiles(const DatasetConfig& cfg, Store& store);

// A writer's claim on its staging folders (<data staging>/<tag>/ and <errors staging>/<tag>/)
// while its process lives, for datasets several processes write at once (Kafka streams): an
// exclusive flock(2) on <data staging>/<tag>.live, released when the process dies however it
// dies. Owns the descriptor. Not thread-safe (one per writer).
class StagingLease {
 public:
  static Result<std::unique_ptr<StagingLease>> Acquire(const DatasetConfig& cfg,
                                                       const std::string& tag);
  ~StagingLease();
  StagingLease(const StagingLease&) = delete;
  StagingLease& operator=(const StagingLease&) = delete;

 private:
  StagingLease(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

// Finishes what dead shared writers left: publishes their committed files (PublishPendingFiles)
// and removes the staging folders of writers whose StagingLease is free (their uncommitted
// files). Folders without a lease file are left to the next run that has the dataset to itself.
// Call under the CommitGate.
Status RecoverDeadWriters(const DatasetConfig& cfg, Store& store);

// The output of one worker thread between two commits: documents and error records of one or
// more tasks, and the checkpoints those tasks will have once the output is committed. Buffering
// across tasks keeps the number of lake files proportional to workers x partitions rather than
// tasks x partitions (file creation, not bytes, dominates a partitioned write).
//
// Pipelined commits (streams, stream.pipeline): CommitAsync() hands the buffered output to a
// commit thread and returns, so the stream reads the next interval while the previous one is
// written and committed; at most one commit is in flight. The commit protocol is the same
// (CommitAlone on a second WorkerOutput, the "flight", that owns the handed-over output); only
// the thread differs. The output buffered meanwhile continues the flight's checkpoints, so it
// may only be committed after the flight: if the flight fails, the buffered output is discarded
// with it (nothing past the last durable commit can then be committed), and the caller resumes
// from the store as after any failed commit.
//
// Thread-safety: owned by one worker; only Append and Update may be called concurrently (see
// there). The flight's thread touches only the flight (and the thread-safe store, dedup index
// and Iceberg table).
class WorkerOutput {
 public:
  // `iceberg`: the dataset's Iceberg table (shared by the run's workers; exec/iceberg_table.h),
  // or null for a Hive table. Commits go through `group` when one is set (set_group).
  WorkerOutput(const DatasetConfig& cfg, Store& store, std::vector<ColumnSchema> schema,
               std::string writer_tag, IcebergTable* iceberg = nullptr)
      : cfg_(cfg), store_(store),
        buffer_(std::move(schema), cfg.write.partition_by, iceberg != nullptr),
        tag_(std::move(writer_tag)), iceberg_(iceberg),
        last_commit_(std::chrono::steady_clock::now()) {}

  ~WorkerOutput();
  WorkerOutput(const WorkerOutput&) = delete;
  WorkerOutput& operator=(const WorkerOutput&) = delete;

  PartitionedBuffer& buffer() { return buffer_; }
  // Joins the run's commit group (null: commit alone). Call before the first Update().
  void set_group(CommitGroup* group) { group_ = group; }
  // The run's dedup index (write.dedup; null: none). Call before the first Append().
  void set_dedup(DedupIndex* dedup) { dedup_ = dedup; }
  // The dataset has rules (docs/rules.md): Append also keeps each task's rows for them (only
  // the columns `rules` reads, encoded by it), and every commit writes them as a "rules" file
  // of the catalog, the task's rules spool, which the rules stage (exec/rules_stage.h) reads
  // in task order. `rules` is only used to encode (const, thread-safe); not owned.
  void set_rules(const rules::Engine* rules) { rules_ = rules; }
  // Commit at least this often (seconds) instead of compute.checkpoint_seconds: a stream's
  // stream.commit_interval.
  void set_commit_seconds(double seconds) { commit_seconds_ = seconds; }
  // Several processes write the dataset (a Kafka stream's group members, `weir worker`s): a
  // Hive table's commits take
  // the CommitGate and first finish what dead writers left (RecoverDeadWriters). For Iceberg
  // tables, IcebergTable::set_shared_writers does the latter.
  void set_shared_writers(bool shared) { shared_writers_ = shared; }
  // A stream source's position after a read, in the source's own unit (Kafka messages, bytes of
  // the collector's log): `consumed` counts what was read and only grows; `waiting` is what the
  // source holds beyond it. With these, ShouldCommit() tells a stream that keeps up (commit
  // every commit_interval) from one that is behind. Only with set_commit_seconds; a source that
  // never reports is never behind.
  //
  // Behind means: at the rate read since the last commit, reading what waits would take longer
  // than commit_interval. It is judged once a commit is due, by the clock (elapsed >=
  // commit_interval, so the rate is measured over a full interval, not over a first small read)
  // or by size (the memory bound, half of write.roll_bytes when pipelined, filled: the rate is
  // measured over that much reading), and it lasts until what waits would take under a tenth
  // of commit_interval to read: caught up to what arrives between two reads (at most
  // fetch.wait.max.ms, 100 ms, for Kafka). Without that hysteresis the last stretch of a
  // backlog (under one interval's reading) would be committed on its own, one more file per
  // partition for a fraction of the data. Once caught up, the next commit is due as soon as
  // nothing waits, or a tenth of commit_interval later (the lake is then up to date without
  // waiting out the interval), and by commit_interval from then on.
  void SetBacklog(uint64_t consumed, uint64_t waiting);
  // A stream source starts reading (Kafka: partitions were assigned) with nothing buffered:
  // commit_interval counts from now. Otherwise the first poll after a slow group join found the
  // interval long over and, before any backlog was known, committed a few thousand messages as
  // a file per partition they touched.
  void StartInterval() {
    if (buffer_.rows() == 0 && pending_.empty()) RestartInterval(std::chrono::steady_clock::now());
  }

  // Adds a batch of rows of task `task_id` for the lake (transforms applied): drops the
  // duplicates write.dedup finds, buffers the rest (and keeps them for the rules, set_rules),
  // and returns how many were dropped. With write.connector none nothing is buffered for a
  // table.
  //
  // Append and Update may be called from several threads at once, for different tasks (a
  // Kafka stream feeds its partitions on several lanes); everything else is the owner's.
  Result<size_t> Append(ColumnBatch& batch, int64_t task_id);

  // Records a task's new (uncommitted) state; `errors` are its new error-record lines;
  // `input_id`, when not empty, is the input identity to record with it (io/file_identity.h).
  void Update(const TaskRow& task, const TaskCounters& counters, int64_t duration_ms,
              std::string& errors, std::optional<TaskStatus> status,
              const std::string& input_id = {}) {
    std::lock_guard<std::mutex> l(feed_mu_);
    Pending& p = pending_[task.id];
    if (p.update.task_id == 0) {
      p.update.task_id = task.id;
      auto it = committed_seq_.find(task.id);
      p.update.seq = it != committed_seq_.end() ? it->second : task.seq;
      // The writer's claim, checked by the commit (fencing): a task another process claimed
      // since (a Kafka partition handed over, a worker's expired lease) cannot be committed.
      p.update.owner_attempt = task.attempts;
    }
    p.update.counters = counters;
    p.update.duration_ms = duration_ms;
    p.update.status = status;
    if (status) p.update.reason.clear();
    if (!input_id.empty()) p.update.input_id = input_id;
    p.errors += errors;
    errors.clear();
    has_pending_.store(true, std::memory_order_relaxed);
  }

  // The buffered output is due for a commit: by size (write.roll_bytes, write.roll_records: the
  // memory bound, always), when a commit group asks, or by time. A stream commits every
  // stream.commit_interval while it keeps up. While it is behind, it commits every
  // stream.catch_up_interval instead (or by size): what it reads then is late anyway, and a
  // commit writes a file per partition it touched whatever its size, so one commit per second
  // over thousands of partitions spends the catch-up creating small files.
  //
  // Pipelined (set_pipelined), the reading interval and the commit in flight share the memory
  // bound: each may hold half of write.roll_bytes. While a commit is in flight, only that bound
  // makes a commit due (CommitAsync then waits for the flight: back-pressure); the interval
  // ends when the flight is done, so a commit that takes longer than commit_interval sets the
  // pace.
  bool ShouldCommit() const {
    if (group_ && group_->Requested()) return true;
    if (OverRoll()) return true;
    if (flight_busy_ && !flight_done_.load(std::memory_order_acquire)) return false;
    const auto now = std::chrono::steady_clock::now();
    // A stream that was behind and has caught up commits once the little that waited is read
    // too, or a tenth of commit_interval later (SetBacklog).
    if (caught_up_ && (waiting_ == 0 || std::chrono::duration<double>(now - caught_up_at_).count() >=
                                            commit_seconds_ / 10)) {
      return true;
    }
    const double elapsed = std::chrono::duration<double>(now - last_commit_).count();
    if (commit_seconds_ <= 0) return elapsed >= cfg_.compute.checkpoint_seconds;
    if (elapsed < commit_seconds_) return false;
    return !behind_ ||
           elapsed >= static_cast<double>(cfg_.stream.catch_up_interval_ms) / 1000.0;
  }

  // Published files that the next commit replaces (record-level redrive).
  void Supersede(const std::vector<int64_t>& file_ids) {
    supersede_.insert(supersede_.end(), file_ids.begin(), file_ids.end());
  }

  // Ids of tasks with uncommitted progress.
  std::vector<int64_t> PendingTasks() const {
    std::vector<int64_t> ids;
    for (const auto& [id, p] : pending_) ids.push_back(id);
    return ids;
  }

  // Drops everything uncommitted (after a task failure); those tasks resume from their
  // checkpoints when run again. A commit in flight is waited for first (it may still succeed:
  // then its on-committed callback runs).
  void Discard() {
    if (flight_busy_) (void)WaitCommitted();
    DropBuffered();
  }

  // Stages files, commits them with every pending task's checkpoint in one transaction, then
  // publishes them. On error nothing of this interval is committed (or, after the transaction,
  // recovery finishes the publication). With a group, the commit is the group's round;
  // `request` false joins the next round without asking for it (CommitGroup::Commit).
  Status Commit(bool request = true);

  // Holds uncommitted output (read by the group from other threads).
  bool has_pending() const { return has_pending_.load(std::memory_order_relaxed); }

  // Pipelined commits (see the class comment). Call before the first Update(); not with a
  // commit group of more than one member (a stream has one worker).
  void set_pipelined(bool pipelined) { pipelined_ = pipelined; }
  // What a finished commit reports to its on-committed callback.
  struct Committed {
    double seconds = 0;          // from the hand-over to durability
    int64_t finished_unix_ms = 0;  // when it became durable (and visible)
  };
  // Runs once a commit is durable; an error it returns is returned as is (the commit stays).
  using OnCommitted = std::function<Status(const Committed&)>;
  // Runs on the commit thread the moment a commit is durable (and visible), before its
  // OnCommitted: for what must be in step with the lake and is thread-safe (StreamMetrics).
  using OnDurable = std::function<void(const Committed&)>;
  // Waits for the commit in flight (if any), then hands the buffered output to the commit
  // thread and returns. `done` (may be empty) runs on the caller's thread, in a later
  // PollCommitted, WaitCommitted, CommitAsync or Commit, once this commit is durable;
  // `durable` (may be empty) on the commit thread, at once. Without set_pipelined, or with
  // nothing buffered, commits at once (Commit) and runs both on the caller's thread before
  // returning. An error comes from the earlier commit: if that commit failed, nothing was
  // handed over and everything buffered was discarded; if it succeeded and its `done` failed,
  // nothing was handed over and the buffer is kept.
  Status CommitAsync(OnCommitted done, OnDurable durable = nullptr);
  // The commit in flight has finished: reaps it (runs its callback, or on error discards what
  // is buffered) and returns its result. OK when none is in flight or it still runs.
  Status PollCommitted();
  // Waits for the commit in flight, then as PollCommitted.
  Status WaitCommitted();
  // A commit is in flight (handed over and not reaped yet).
  bool committing() const { return flight_busy_; }

 private:
  friend class CommitGroup;
  Status CommitAlone();
  // The leader of a round: takes the others' output, commits all of it, finishes theirs.
  Status CommitRound(const std::vector<WorkerOutput*>& round);
  // A participant's output was committed by the round's leader.
  void FinishCommitted();
  void ForgetDedupKeys();

  struct Pending {
    TaskUpdate update;
    std::string errors;
    std::string rules;  // the rules spool of this interval (rules::Engine::EncodeRows)
    uint64_t rules_rows = 0;
  };
  const DatasetConfig& cfg_;
  // The buffered output reached the memory bound (write.roll_bytes, write.roll_records).
  bool OverRoll() const {
    size_t err_bytes = 0;
    uint64_t spool_rows = 0;  // rows kept for the rules (all the rows with connector none)
    for (const auto& [id, p] : pending_) {
      err_bytes += p.errors.size() + p.rules.size();
      spool_rows += p.rules_rows;
    }
    const size_t roll_bytes = pipelined_ ? cfg_.write.roll_bytes / 2 : cfg_.write.roll_bytes;
    if (buffer_.MemoryBytes() + err_bytes >= roll_bytes) return true;
    return cfg_.write.roll_records > 0 &&
           std::max<uint64_t>(buffer_.rows(), spool_rows) >= cfg_.write.roll_records;
  }
  // A commit (or hand-over, or discard) at `at` starts the next interval.
  void RestartInterval(std::chrono::steady_clock::time_point at);

  Store& store_;
  PartitionedBuffer buffer_;
  std::string tag_;
  IcebergTable* iceberg_;
  int64_t commits_ = 0;
  std::map<int64_t, Pending> pending_;
  std::map<int64_t, int64_t> committed_seq_;  // task -> commits, for tasks this worker committed
  std::vector<int64_t> supersede_;
  std::chrono::steady_clock::time_point last_commit_;
  double commit_seconds_ = 0;  // 0: compute.checkpoint_seconds
  bool shared_writers_ = false;
  // SetBacklog: the source's position, its position at the last commit (or discard, set
  // together with last_commit_), and whether the stream is behind.
  uint64_t consumed_ = 0;
  uint64_t consumed_at_commit_ = 0;
  bool behind_ = false;
  uint64_t waiting_ = 0;
  // Was behind and caught up (at caught_up_at_) since the last commit: commit soon.
  bool caught_up_ = false;
  std::chrono::steady_clock::time_point caught_up_at_;
  CommitGroup* group_ = nullptr;
  DedupIndex* dedup_ = nullptr;
  const rules::Engine* rules_ = nullptr;
  std::vector<DedupKey> dedup_keys_;  // keys of the buffered rows (write.dedup)
  std::atomic<bool> has_pending_{false};
  Status round_result_;  // set by a round's leader for each participant

  // Pipelined commits. flight_ (created on first use) owns the output handed over; its thread
  // runs flight_->CommitAlone(). flight_busy_: handed over and not reaped (only the owner's
  // thread reads or writes it); flight_done_: the thread has finished (set by it, release).
  bool pipelined_ = false;
  std::mutex feed_mu_;  // Append and Update from several feeding threads
  std::unique_ptr<WorkerOutput> flight_;
  std::thread flight_thread_;
  bool flight_busy_ = false;
  std::atomic<bool> flight_done_{false};
  Status flight_status_;             // written by the thread before flight_done_
  Committed flight_info_;            // likewise
  OnCommitted flight_callback_;
  OnDurable flight_durable_;         // run by the thread
  // committed_seq_ entries as they were before the hand-over, restored if the flight fails
  // (-1: there was none).
  std::map<int64_t, int64_t> flight_prev_seq_;
  Status ReapFlight();
  // Drops what is buffered (Discard without waiting for a flight).
  void DropBuffered();
};


}  // namespace weir
