// The rules' keyed state on disk: a RocksDB database under the store folder
// (<store>/rules/<dataset>/state), checkpointed in step with the commits of the derived table.
//
// Two systems commit here (RocksDB and the task store with the derived records), and a crash
// can fall between them, so each checkpoint is numbered with the commit it belongs to (the
// derived table's task `seq`) and goes through a redo record:
//
//   Prepare(changes, seq):  one synced RocksDB write of the whole change as one value ("redo");
//   the store commit of the derived records with the task's seq = seq;
//   Apply(seq):             the change itself, the redo deleted and "seq" = seq, in one write.
//
// Open(committed_seq) finishes what a crash interrupted: a redo of committed_seq (the store
// commit happened, the apply did not) is applied; a redo of a later seq (the store commit did
// not happen) is dropped. The state is then that of committed_seq; anything else means it does
// not belong to the derived table (a copied store, a deleted table): Corruption naming both
// numbers and what to do. Nothing is read back to write a checkpoint: its cost is the size of
// the change, written twice.
//
// Ownership: owns the database handle. Thread-safety: none; the rules stage's thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/status.h"

namespace weir::rules {

class StateStore {
 public:
  using Change = std::pair<std::string, std::optional<std::string>>;

  // Opens (creating) the database at `dir` and brings it to `committed_seq` (see above).
  static Result<std::unique_ptr<StateStore>> Open(const std::string& dir, int64_t committed_seq);
  ~StateStore();

  // Every state entry (not the checkpoint bookkeeping), in key order.
  Status ForEach(const std::function<Status(std::string_view, std::string_view)>& fn) const;

  // Writes `changes` as the redo of checkpoint `seq` (durable when it returns).
  Status Prepare(const std::vector<Change>& changes, int64_t seq);
  // The store commit of checkpoint `seq` is durable: the state becomes checkpoint `seq`.
  Status Apply(int64_t seq);
  // The store commit of checkpoint `seq` did not happen: its redo goes.
  Status Discard(int64_t seq);

  int64_t seq() const { return seq_; }
  // Bytes on disk (SST files and logs), for `weir run`'s summary and the benchmark.
  uint64_t DiskBytes() const;

  struct Impl;

 private:
  StateStore() = default;
  std::unique_ptr<Impl> impl_;
  int64_t seq_ = 0;        // the applied checkpoint
  int64_t prepared_ = -1;  // the checkpoint whose redo is written, -1: none
};

}  // namespace weir::rules
