// write.dedup: drops records whose key was already written to the table (committed, or buffered
// by a worker of this run) with a time less than `within` apart. Internal to src/exec.
//
// The index has two parts, and every key written is in at least one of them at any moment:
//   - committed keys live in the store's `dedup_keys` table, added by the same transaction that
//     commits the rows (CommitRequest::dedup_keys), so the index is exactly the committed rows'
//     keys after any crash, for any number of workers, runs or processes sharing the store;
//   - keys of rows buffered but not yet committed live here in memory (bounded by the workers'
//     buffers), so two workers cannot both keep the same key. A worker that gives up its buffer
//     (a failed task) forgets its keys; a commit moves them to the store.
// Filter() decides a whole batch under one lock, store lookup included, and a commit removes its
// keys from memory only after its store transaction: a concurrent Filter therefore finds a key
// either in memory or in the store, never in neither.
//
// Keys are 128-bit hashes of the key columns' values (type-tagged, length-prefixed), 16 bytes a
// key in the store whatever the key's length; at 100M keys a collision has odds of about 1e-23.
// A row with a NULL in any key column is never a duplicate (NULL equals nothing, as in SQL).
// Eviction: each commit deletes keys older than the index's newest time minus `within`
// (store-side, in the commit's transaction), so the index holds the window, not all history.
//
// Thread-safety: Filter, Committed and Forget are safe from any thread. Ownership: the index
// refers to the store and config it was created with; both outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/column.h"
#include "core/config.h"
#include "exec/store.h"
#include "weir/status.h"

namespace weir {

class DedupIndex {
 public:
  // Null when the dataset has no write.dedup.
  static std::unique_ptr<DedupIndex> Create(const DatasetConfig& cfg, Store& store);

  // Removes from `batch` the rows that are duplicates and returns how many; the kept rows' keys
  // are appended to `owned` (the caller's uncommitted keys, which its commit hands to the store
  // and then to Committed, or its discard to Forget).
  Result<size_t> Filter(ColumnBatch& batch, std::vector<DedupKey>& owned);
  // `keys` are in the store now (their commit's transaction is durable).
  void Committed(const std::vector<DedupKey>& keys) { Release(keys); }
  // `keys` were buffered but will not be committed (their output was discarded).
  void Forget(const std::vector<DedupKey>& keys) { Release(keys); }

  int64_t within_ms() const { return cfg_.write.dedup->within_ms; }

 private:
  DedupIndex(const DatasetConfig& cfg, Store& store) : cfg_(cfg), store_(store) {}
  void Release(const std::vector<DedupKey>& keys);

  struct KeyHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& k) const { return k.first ^ (k.second * 31); }
  };
  const DatasetConfig& cfg_;
  Store& store_;
  std::mutex mu_;
  // Uncommitted keys -> times of the buffered rows that hold them (usually one; several when
  // rows with one key are more than `within` apart).
  std::unordered_multimap<std::pair<uint64_t, uint64_t>, int64_t, KeyHash> pending_;
};

// The 128-bit key of row `row` of `batch` over `key_columns` (indexes into batch.columns);
// false when a key column is NULL there. Exposed for tests.
bool DedupKeyOf(const ColumnBatch& batch, const std::vector<size_t>& key_columns, size_t row,
                std::string& scratch, uint64_t* hi, uint64_t* lo);

}  // namespace weir
