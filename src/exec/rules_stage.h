// The rules stage of a files dataset (docs/rules.md): runs the dataset's rules over the rows its
// tasks committed for them (the rules spool, exec/worker_output.h set_rules) and commits the
// derived records to their own lake table, exactly once.
//
// Order. Tasks write their spool files with their commits, in parallel and in any order. The
// stage reads them in task order (manifest order), each task's in commit order, and passes a
// task only once it is finished (COMPLETED, ERROR or RETIRED): the rules see the records in the
// order a single reader would read the manifest, so the derived records do not depend on the
// number of workers or on which file finished first.
//
// Streams (Kafka, the HTTP collector): their tasks never finish, so the stage reads the spool in
// commit order (catalog order) as it comes, each task (partition) as an input of its own with
// its own watermark (rules/engine.h SetInput), and commits derived records at once. When the
// source reports itself idle (SourceIdle, exec/task_executor.h) for rules.idle_timeout, the
// watermark follows the clock. One stage per state folder: Open takes a lock on it.
//
// Exactly once. The derived table is a table of its own (rules.output; its tasks and files are
// under the store's dataset name "<dataset>.rules") with one task, "rules", whose checkpoint
// (counters.state) is the last spool file consumed, "<task id>:<commit>". Each commit of the
// stage is: the engine's state changes written to RocksDB as checkpoint N (rules/state_store.h),
// then one store transaction with the derived records' files and the task at seq N. A crash
// between the two is undone when the stage opens again, so the state, the derived records and
// the progress always come from the same point of the input.
//
// The Kafka output (rules.output.connector kafka) keeps the task and the checkpoints but no
// table: a commit's derived records go to an outbox file before the store transaction and to
// Kafka after it, in a transaction with a progress marker naming the commit; Open publishes
// the committed files Kafka's last marker does not cover (docs/rules.md).
//
// Ownership: owns the engine, the state store, the derived table's handle (or the Kafka
// producer) and the state folder's lock; borrows the source's idleness report. Thread-safety: none; one thread of
// `weir run` steps it while the dataset's tasks run, and once more after them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/column.h"
#include "core/config.h"
#include "exec/store.h"
#include "weir/status.h"

namespace weir {

struct SourceIdle;
struct StreamMetrics;

// The table config of a dataset's derived records: rule, key, event_time, data (json), and the
// partition column day (the date of event_time), partitioned by rule and day.
DatasetConfig DerivedTableConfig(const DatasetConfig& config);

// The derived table's catalog row a --restart drops with it (none for the Kafka output).
Result<std::optional<IcebergTableDrop>> DerivedTableDrop(const DatasetConfig& config,
                                                          Store& store);

// Adds the rules' figures to a stream's metrics (one latency histogram per rule): before anything
// renders them.
void AddRulesMetrics(const DatasetConfig& config, StreamMetrics& metrics);

struct RulesSummary {
  uint64_t events = 0;   // records the rules processed (this run)
  uint64_t late = 0;     // records behind the watermark (this run)
  uint64_t derived = 0;  // derived records committed (this run)
  // Keys holding state and the RocksDB files' bytes, before the end of the input fires every
  // timer (after it, nothing is left but what no timer covers).
  uint64_t keys = 0;
  uint64_t state_bytes = 0;
  int64_t watermark_ms = INT64_MIN;
  bool waiting = false;  // stopped at a task that is not finished
};

// The stage of one `weir run`. Open() recovers the derived table and the state and loads the
// engine; Step() consumes every committed spool file it may now (see above) and commits. The
// runner steps it while the tasks run (so the spool does not pile up and derived records come
// as the input is read) and once more at the end with `end_of_input`: when every task is
// finished, every pending timer fires (the watermark moves past the last timer and comes back
// to the input's watermark, so a later run with new files goes on from there).
//
// Thread-safety: one thread at a time (the store is shared with the run's workers).
class RulesStage {
 public:
  // `schema`: the dataset's row schema (projection and transforms).
  // A stream: `idle` is its source's idleness report (exec/task_executor.h), borrowed. Aborted
  // when another process on this machine runs the stage (a Kafka group's other member).
  static Result<std::unique_ptr<RulesStage>> Open(const DatasetConfig& config, Store& store,
                                                  const std::vector<ColumnSchema>& schema,
                                                  const std::string& run_tag,
                                                  const SourceIdle* idle = nullptr);
  ~RulesStage();
  Status Step(bool end_of_input);
  // A stream's live figures (weir_rules_* in GET /metrics; AddRulesMetrics made them). Borrowed.
  void set_metrics(StreamMetrics* metrics);
  // A stream stopped without reaching its end (--max-records): reads what was committed and
  // commits, firing nothing the input has not passed. Files datasets: nothing.
  Status Stop();
  // This run's figures so far.
  const RulesSummary& summary() const;

  struct Impl;

 private:
  explicit RulesStage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir
