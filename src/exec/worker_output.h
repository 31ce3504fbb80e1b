// The output side of a worker thread, shared by the executors of every reader shape: the
// buffer of documents and error records between two commits, the commit protocol itself (stage,
// one store transaction, publish; see exec/store.h and docs/design.md), the error-record format,
// and the crash and fault injection points the tests use. Internal to src/exec.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/column.h"
#include "core/config.h"
#include "exec/store.h"
#include "lake/partitioned_buffer.h"
#include "parse/record.h"
#include "weir/status.h"

namespace weir {

class IcebergTable;

// Deterministic crash points for the crash tests (RocksDB-style sync points): when the
// environment variable WEIR_CRASH_AT names a point, the process kills itself there with SIGKILL
// once WEIR_CRASH_AFTER_COMMITS commits (default 0) were made.
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

// The output of one worker thread between two commits: documents and error records of one or
// more tasks, and the checkpoints those tasks will have once the output is committed. Buffering
// across tasks keeps the number of lake files proportional to workers x partitions rather than
// tasks x partitions (file creation, not bytes, dominates a partitioned write). Not thread-safe:
// owned by one worker.
class WorkerOutput {
 public:
  // `iceberg`: the dataset's Iceberg table (shared by the run's workers; exec/iceberg_table.h),
  // or null for a Hive table.
  WorkerOutput(const DatasetConfig& cfg, Store& store, std::vector<ColumnSchema> schema,
               std::string writer_tag, IcebergTable* iceberg = nullptr)
      : cfg_(cfg), store_(store),
        buffer_(std::move(schema), cfg.write.partition_by, iceberg != nullptr),
        tag_(std::move(writer_tag)), iceberg_(iceberg),
        last_commit_(std::chrono::steady_clock::now()) {}

  PartitionedBuffer& buffer() { return buffer_; }

  // Records a task's new (uncommitted) state; `errors` are its new error-record lines;
  // `input_id`, when not empty, is the input identity to record with it (io/file_identity.h).
  void Update(const TaskRow& task, const TaskCounters& counters, int64_t duration_ms,
              std::string& errors, std::optional<TaskStatus> status,
              const std::string& input_id = {}) {
    Pending& p = pending_[task.id];
    if (p.update.task_id == 0) {
      p.update.task_id = task.id;
      auto it = committed_seq_.find(task.id);
      p.update.seq = it != committed_seq_.end() ? it->second : task.seq;
    }
    p.update.counters = counters;
    p.update.duration_ms = duration_ms;
    p.update.status = status;
    if (status) p.update.reason.clear();
    if (!input_id.empty()) p.update.input_id = input_id;
    p.errors += errors;
    errors.clear();
  }

  bool ShouldCommit() const {
    size_t err_bytes = 0;
    for (const auto& [id, p] : pending_) err_bytes += p.errors.size();
    if (buffer_.MemoryBytes() + err_bytes >= cfg_.write.roll_bytes) return true;
    if (cfg_.write.roll_records > 0 && buffer_.rows() >= cfg_.write.roll_records) return true;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - last_commit_).count() >=
           cfg_.compute.checkpoint_seconds;
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
  // checkpoints when run again.
  void Discard() {
    buffer_.Clear();
    pending_.clear();
    supersede_.clear();
    last_commit_ = std::chrono::steady_clock::now();
  }

  // Stages files, commits them with every pending task's checkpoint in one transaction, then
  // publishes them. On error nothing of this interval is committed (or, after the transaction,
  // recovery finishes the publication).
  Status Commit();

 private:
  struct Pending {
    TaskUpdate update;
    std::string errors;
  };
  const DatasetConfig& cfg_;
  Store& store_;
  PartitionedBuffer buffer_;
  std::string tag_;
  IcebergTable* iceberg_;
  int64_t commits_ = 0;
  std::map<int64_t, Pending> pending_;
  std::map<int64_t, int64_t> committed_seq_;  // task -> commits, for tasks this worker committed
  std::vector<int64_t> supersede_;
  std::chrono::steady_clock::time_point last_commit_;
};


}  // namespace weir
