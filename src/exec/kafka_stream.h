// Runs a Kafka stream dataset (read.connector kafka; docs/streams.md): one consumer in the
// dataset's consumer group (source/kafka_consumer.h), one datatask per assigned topic-partition
// (named "<topic>/<partition>"), one WorkerOutput committing every partition's rows and
// checkpoints together every stream.commit_interval. With stream.pipeline (the default) a
// commit runs on its own thread while the consumer reads the next interval
// (WorkerOutput::CommitAsync); a revoke, a stop and a failure wait for it.
//
// Exactly once: a task's checkpoint is the partition's next offset, committed in the same store
// transaction as the lake snapshot holding the messages before it. The store is the source of
// truth: on assignment the consumer starts each partition exactly at its stored offset (or at
// read.start when weir never committed it). Offsets are committed to Kafka only after each
// store commit, for lag tools. On revoke, what is held is committed before the partition is let
// go; when the group took partitions away (lost), it is discarded instead.
//
// Several processes (group members) share the dataset: each claims the tasks of the partitions
// it is assigned (Store::ClaimTask) and its commits carry the claim, so a member that lost a
// partition can never commit it again (the store refuses; the member drops what it holds and
// rejoins the group). Commits go through the shared-writer path of WorkerOutput and IcebergTable,
// which finishes what dead members left before each snapshot.
//
// Each message is one record: error records name the task ("<topic>/<partition>") as their
// file, with start_offset = the message offset, end_offset = offset + 1 and record_number =
// offset. Tombstones (null values) are read and skipped.
//
// Ownership: borrows everything in the context. Thread-safety: runs on the calling thread, but
// for two things: the partitions of a polled batch are parsed on up to compute.workers threads
// (one partition on one thread, in offset order; WorkerOutput::Append/Update are safe for
// that), and the commit runs on WorkerOutput's commit thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/column.h"
#include "core/config.h"
#include "exec/store.h"
#include "weir/sdk.h"
#include "weir/status.h"

namespace weir {

namespace rules {
class Engine;
}
class DedupIndex;
class IcebergTable;
class Transforms;
struct RunProgress;
struct SourceIdle;
struct StreamMetrics;

struct KafkaRunContext {
  const DatasetConfig* config = nullptr;
  Store* store = nullptr;
  RunProgress* progress = nullptr;
  const Transforms* transforms = nullptr;
  std::vector<ColumnSchema> schema;  // projected columns plus transform outputs
  IcebergTable* iceberg = nullptr;   // null: a Hive table
  DedupIndex* dedup = nullptr;       // write.dedup, or null
  sdk::Parser* parser = nullptr;     // an SDK parser, or null for jsonl
  const sdk::RecordFormat* format = nullptr;
  std::string run_tag;
  int64_t until_idle_ms = 0;  // 0: never
  uint64_t max_records = 0;   // 0: no limit
  StreamMetrics* metrics = nullptr;
  // rules: the encoder of the rows kept for the rules stage (WorkerOutput::set_rules), and
  // where the consumer reports its idleness to it; null without rules.
  const rules::Engine* rules = nullptr;
  SourceIdle* idle = nullptr;
};

// Consumes until SIGINT/SIGTERM, --until-idle or --max-records, commits, leaves the group, and
// returns why it stopped ("" for a signal). An error that ends the run (a fatal Kafka error, a
// failed commit, a missing topic) is returned; what was not committed is read again next time.
Result<std::string> RunKafkaStream(const KafkaRunContext& context);

}  // namespace weir
