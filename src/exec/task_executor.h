// Executes one datatask whose parser reads one record at a time (jsonl, csv, lines, regex, warc
// and SDK Parser plugins): reads the task's file from its checkpoint to its end, splits and
// parses records in slices, and hands documents, skips and error records to the worker's
// WorkerOutput, committing whenever it is due. State machines and multi-file readers have their
// own executor (exec/reader_task.h); both feed the same WorkerOutput, so commits, error files and
// exactly-once publication are shared.
//
// With a StreamRun, the task is the HTTP collector's segment log instead (docs/streams.md): read
// as it grows, committed every stream.commit_interval, until a signal, --until-idle or
// --max-records.
//
// Ownership: borrows everything it is given (they must outlive it); owns its projector,
// splitter and input, and the background compaction thread of a stream (joined on
// destruction). Thread-safety: none; one worker thread runs one executor at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/config.h"
#include "exec/store.h"
#include "parse/record.h"
#include "weir/sdk.h"
#include "weir/status.h"

namespace weir {

class SegmentLog;
class Transforms;
class WorkerOutput;
struct RunProgress;
struct StreamMetrics;

// What the executor of a stream task reads and when it stops (Runner::Run on a stream dataset).
// A stream source's report to the rules stage (exec/rules_stage.h): since when (ms since the
// epoch, the time of the last record read) the source has had nothing more to read and nothing
// read but uncommitted; 0 while it reads or holds uncommitted rows. The stage lets the
// watermark follow the clock once this is idle_timeout old. Written by the source's thread,
// read by the stage's.
struct SourceIdle {
  std::atomic<int64_t> since_ms{0};
};

struct StreamRun {
  SegmentLog* log = nullptr;  // the HTTP collector's log
  Store* store = nullptr;     // for write.compaction.auto in the background
  std::string run_tag;
  int64_t until_idle_ms = 0;
  uint64_t max_records = 0;
  StreamMetrics* metrics = nullptr;  // null: none kept
  SourceIdle* idle = nullptr;        // rules: reported while caught up; null: not reported
  std::string stopped;               // why the executor returned OK: set by it
};

class TaskExecutor {
 public:
  // `parser` is the worker's SDK parser, or null for jsonl and csv; `format` its record format.
  TaskExecutor(const DatasetConfig& cfg, RunProgress& progress, const TaskRow& task,
               const Transforms& transforms, WorkerOutput& out, sdk::Parser* parser,
               const sdk::RecordFormat* format, StreamRun* stream = nullptr);
  ~TaskExecutor();

  // Reads the task from its checkpoint (see the file comment). An error fails this task; the
  // caller discards the worker's uncommitted output.
  Status Execute();

  // One record named by an error record: where its bytes are.
  struct ErrorRef {
    uint64_t start = 0, end = 0, number = 0;
  };
  // Record-level redrive: re-reads exactly the byte ranges of `refs` (sorted by start) and runs
  // them through the current parser and transforms into the worker's output. Counters move the
  // records from `errored` to whatever they are now; `read` does not change.
  Status Reprocess(const std::vector<ErrorRef>& refs, uint64_t* fixed, uint64_t* skipped,
                   uint64_t* still_failing);

  // A message source (Kafka, exec/kafka_stream.h) delivers the task's records itself. Open()
  // prepares parser and projector (no file is read). Feed() runs consecutive records of the task
  // through parser, transforms and output and moves the checkpoint to `next_offset` (the next
  // record's offset; also the next record number). Skip() counts `n` records that are not
  // documents (tombstones: read and skipped) and moves the checkpoint too. Both record the
  // task's new state in the worker output, committed with its next commit.
  Status Open();
  Status Feed(std::span<const RecordView> records, uint64_t next_offset);
  void Skip(uint64_t n, uint64_t next_offset);
  const TaskCounters& counters() const;
  // Appends the event time (ms) of every row Feed() buffers to `sink` (null: none kept), for
  // the end-to-end latency the caller observes when it commits (StreamMetrics).
  void KeepEventTimes(std::vector<int64_t>* sink);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir
