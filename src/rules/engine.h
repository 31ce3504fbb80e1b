// The rules engine (issue 11; docs/rules.md, "Semantics"): event time, the watermark and
// lateness, the event-time reorder buffer, timers, keyed state, patterns (sequence, within,
// absent) and segments (sliding windows, aggregates, buckets), producing derived records.
//
// The engine is deterministic: the same input rows in the same arrival order (and the same
// AdvanceWatermark calls) give the same derived records, whatever the batching and the number
// of shards (only their order within one TakeOutput differs with the shards). Everything it
// holds is keyed state the caller checkpoints through TakeChanges()/Load() (exec's rules stage
// keeps it in RocksDB and commits it with the derived records), so a restart from a checkpoint
// continues exactly where the checkpoint was taken.
//
// Input rows come in the dataset's schema (the columns of `write.columns`); the engine copies
// only the columns its rules use (input_columns()). Rows can also travel as bytes between the
// process that read them and the one running the rules (EncodeRows / PushEncoded): the rules
// spool of a files dataset.
//
// Shards: every rule's state is per key, and keys never meet, so an engine can split its keyed
// state (partial matches, windows, timers) over `shards` by a stable hash of each rule's key,
// one thread each while it processes. The watermark, the reorder buffer and the counters stay
// whole and shared (read-only while the shards run). A checkpoint's entries are named and laid
// out the same for any number of shards, so a checkpoint loads into an engine with any number.
//
// Ownership: the engine owns its state and the derived records until TakeOutput(); with
// shards, it starts a thread per extra shard for each processing step and joins it before
// returning. Thread-safety: none; one thread drives an engine. An engine that threw (out of
// memory) is not usable any more: its shards may have moved on unevenly; load a checkpoint
// into a new one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/column.h"
#include "core/rules_config.h"
#include "rules/expr.h"
#include "weir/status.h"

namespace weir::rules {

// One derived record (docs/rules.md, "Output records").
struct Derived {
  std::string rule;
  std::string key;
  int64_t event_time_ms = 0;
  std::string data;  // a JSON object
};

// An owned input value. tag: 0 NULL, 1 integer (int64, timestamp_ms, date), 2 double, 3 bool
// (in i), 4 bytes (string, json).
struct Cell {
  uint8_t tag = 0;
  int64_t i = 0;
  double d = 0;
  std::string s;
  bool operator==(const Cell& o) const {
    return tag == o.tag && i == o.i && d == o.d && s == o.s;
  }
};

// An input row as the rules keep it: its event time, arrival number and used columns.
struct Event {
  int64_t t = 0;
  uint64_t seq = 0;
  std::vector<Cell> cells;  // by slot (Engine::input_columns() order)
};

class Engine {
 public:
  static constexpr int64_t kEndOfTime = INT64_MAX;

  // Compiles every expression against `schema`; Invalid with the key and the position, and
  // `*error_line` set to the YAML line of the rule part at fault. `shards`: see above (1 to
  // 64). The derived records are the same for any number; only their order differs.
  static Result<std::unique_ptr<Engine>> Create(const RulesConfig& cfg,
                                                std::vector<ColumnSchema> schema,
                                                int* error_line = nullptr, int shards = 1);
  ~Engine();

  // Indexes into the schema of the columns the rules read, ascending.
  const std::vector<size_t>& input_columns() const { return slots_; }

  // Rows of `batch` (the dataset's schema) in arrival order. A row whose event time is NULL is
  // ignored; one behind the watermark is late (counted, not used). Processes what the
  // watermark passes.
  void Push(const ColumnBatch& batch);
  // The same rows as bytes, for a spool: only the input columns. A spool file is
  // SpoolHeader() then EncodeRows() output; PushEncoded takes a whole file and refuses one
  // whose header names other columns (rules changed since it was written).
  void EncodeRows(const ColumnBatch& batch, std::string& out) const;
  const std::string& SpoolHeader() const { return spool_header_; }
  // A spool file may carry, right after its header, the processing time of the commit that
  // wrote it (ms since the epoch): what makes a stream's per-input idleness replay the same.
  static std::string SpoolTime(int64_t unix_ms);
  Status PushEncoded(std::string_view file);

  // Several inputs (a stream's partitions; docs/rules.md, "Several inputs"): rows pushed next
  // come from input `id`. Each input's watermark is its largest event time minus
  // out_of_orderness; the engine's is the smallest of them over the inputs not idle. An input
  // is idle when its last rows were committed more than idle_timeout before the newest rows of
  // any input (the spool's commit times, SpoolTime, so a replay decides the same; a gap of
  // idle_timeout between two commits, when nothing was committed at all, a quiet stream or a
  // restart, makes no input idle). SetInput
  // announces an input: until its rows (with their commit time) are read, it holds the
  // watermark where it is, so announcing every input of a commit first keeps one partition's
  // rows from moving the watermark past another's of the same commit. An input never announced
  // holds nothing back. Without a call (a files dataset, read in manifest order), all rows are
  // one input.
  void SetInput(int64_t id);

  // Moves the watermark to at least `w` and processes what it passes: an idle input following
  // the clock, or kEndOfTime at the end of a finite input (every pending timer fires).
  void AdvanceWatermark(int64_t w);

  // Sets the watermark back to `w` without processing anything: after an end-of-input flush
  // (AdvanceWatermark(kEndOfTime)), a later input goes on from the input's own watermark
  // instead of finding everything late.
  void RestoreWatermark(int64_t w) { watermark_ = w; }

  // Derived records since the last call, in the order they were produced.
  std::vector<Derived> TakeOutput();

  // State entries changed since the last TakeChanges (keys; the reorder buffer not counted):
  // the rules stage commits before a checkpoint grows too large to hold twice in memory.
  size_t PendingChanges() const;

  int64_t watermark() const { return watermark_; }
  uint64_t late() const { return late_; }
  uint64_t processed() const { return processed_; }
  size_t keys() const;

  // Checkpointing. The state is a set of (key, value) entries; TakeChanges appends the entries
  // written since the last call (value nullopt: deleted), in no particular order, and may list
  // a key twice: the later one counts (a delete, then a put of the same key). Load() puts one
  // stored entry back into an empty engine, the entries in key order (as RocksDB iterates
  // them: a segment key's entry before the chunks of its window); FinishLoad() then rebuilds
  // the timers and checks that the pieces fit.
  using Change = std::pair<std::string, std::optional<std::string>>;
  void TakeChanges(std::vector<Change>& out);
  Status Load(std::string_view key, std::string_view value);
  Status FinishLoad();

  // Public for engine.cc; not part of the interface.
  struct Impl;

 private:
  Engine() = default;
  // One input record in arrival order: late (counted), or numbered, buffered, and the
  // watermark moved by it.
  void Arrive(Event ev);
  // Every shard processes what the watermark passes (in parallel), then the buffer drops it.
  void RunShards();
  std::vector<ColumnSchema> schema_;
  std::vector<size_t> slots_;
  std::vector<int> slot_of_;  // column index -> slot, -1 when unused
  std::string spool_header_;  // "weir-rules-spool 1 <columns>\n"
  size_t time_slot_ = 0;
  int64_t out_of_orderness_ms_ = 0;
  int64_t idle_timeout_ms_ = 0;
  int64_t max_time_ = INT64_MIN;
  // Several inputs (SetInput): each one's largest event time and the commit time of its last
  // rows; `clock_ms_` the newest commit time seen, `input_` the input of the rows pushed now.
  static constexpr int64_t kAnnounced = INT64_MAX;  // Input::last_ms of an announced input
  struct Input {
    int64_t max_time = INT64_MIN;
    int64_t last_ms = 0;  // or kAnnounced: SetInput called, its rows not read yet
  };
  std::map<int64_t, Input> inputs_;
  int64_t input_ = -1;
  int64_t clock_ms_ = 0;
  int64_t watermark_ = INT64_MIN;
  uint64_t next_seq_ = 0;
  uint64_t late_ = 0;
  uint64_t processed_ = 0;
  // The reorder buffer, in (event time, arrival) order: every shard reads it while it runs.
  std::map<std::pair<int64_t, uint64_t>, std::shared_ptr<const Event>> buffer_;
  // Its entries as the last TakeChanges wrote them: each buffered record is its own state
  // entry, and a checkpoint writes the difference (the buffer holds out_of_orderness worth of
  // records: a week of them in a backfill), with no work per record.
  std::vector<std::pair<int64_t, uint64_t>> buffer_persisted_;  // sorted
  std::vector<std::unique_ptr<Impl>> shards_;
};

// Makes the dataset loader compile rules' expressions (core/config.h, SetRulesCheck), so a bad
// expression is a config error with its line. Call once at startup (the CLI does).
void RegisterConfigCheck();

}  // namespace weir::rules
