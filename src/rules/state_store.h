// The rules' keyed state on disk: a RocksDB database under the store folder
// (<store>/rules/<dataset>/state), checkpointed in step with the commits of the derived table.
//
// Two systems commit here (RocksDB and the task store with the derived records), and a crash
// can fall between them, so each checkpoint is numbered with the commit it belongs to (the
// derived table's task `seq`) and carries its own undo:
//
//   Checkpoint(changes, seq):  one synced RocksDB write of the changed entries, the previous
//                               values of those entries ("undo"), and "seq" = seq;
//   then the store commit of the derived records with the task's seq = seq.
//
// Open(committed_seq) compares: equal, the state is the committed one; one ahead (the crash
// came between the two), the undo is applied and the state is that of committed_seq. Anything
// else means the state does not belong to the derived table (a copied store, a deleted table):
// Corruption naming both numbers and what to do.
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

  // Writes `changes` as checkpoint `seq` (durable when it returns).
  Status Checkpoint(const std::vector<Change>& changes, int64_t seq);
  // The store commit of checkpoint `seq` failed: puts the previous state back.
  Status Undo(int64_t seq);

  int64_t seq() const { return seq_; }
  // Bytes on disk (SST files and logs), for `weir run`'s summary and the benchmark.
  uint64_t DiskBytes() const;

  struct Impl;

 private:
  StateStore() = default;
  std::unique_ptr<Impl> impl_;
  int64_t seq_ = 0;
};

}  // namespace weir::rules
