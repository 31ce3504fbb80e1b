// Maintenance of a dataset's Iceberg table: compaction (`weir lake compact`, and
// write.compaction.auto after `weir run`) and snapshot expiry with file removal
// (`weir lake expire`). The CLI (src/cli/lake_command.cc) only parses options and prints.
//
// Compaction rewrites, per partition, the live data files smaller than the target size into files
// of about the target size (rows ordered by write.sort_by), and commits the result as ONE Iceberg
// snapshot with operation `replace`, in ONE store transaction that also records the new files and
// marks the rewritten ones `replaced` (so `weir query`, `weir lake check` and redrive, which read
// the store's file records, see exactly what the snapshot's readers see). It does NOT take the
// dataset lock (DatasetLock) that `weir run` holds for its whole run: it plans on the current
// metadata and compare-and-sets the table's pointer like every commit; when a run (or another
// compaction) commits first, it re-reads the metadata, keeps only the partitions whose rewritten
// files are all still live, and plans again. Rows are never lost or duplicated: the new files
// replace exactly the files they were read from, in the same snapshot. The rewritten files stay
// on disk (older snapshots reference them) until expire removes them.
//
// New files are written next to the files they replace, under a hidden name
// (data/<partition>/.compact-<tag>-<k>.parquet.staged) that no reader, glob or `lake check`
// looks at, and renamed to their final name (compact-<tag>-<k>.parquet) just BEFORE the commit,
// which records them `published` in the same transaction that marks the rewritten files
// `replaced`: `weir query`, which reads the store's published files, sees the old files or the
// new ones, never neither or both. Until the commit nothing references them; a lost partition or
// a failure deletes them, and a crash leaves orphans (`weir lake check` lists them, expire
// removes them once older than its threshold). They are deliberately not in the run's staging
// folder (<location>/_staging/<table>/), which a starting `weir run` empties.
//
// Expire removes snapshots older than a threshold (always keeping the current one, the last N
// and those a branch or tag names), commits the new metadata (compare-and-set; the metadata-log
// is bounded by lake/iceberg_commit.h), then deletes the files no retained snapshot references:
//   - data files, manifests and manifest lists that only expired snapshots referenced;
//   - metadata JSON files older than the current one that the metadata-log no longer lists;
//   - orphans: any other file in <table>/data or <table>/metadata that nothing references (a
//     crashed commit's manifests or metadata, a crashed compaction's hidden files), only when its
//     mtime is older than the threshold AND than kMinOrphanAgeSeconds, so files a running writer
//     has just written and not yet committed are never taken.
// It never deletes a file a retained snapshot references, a file of a snapshot committed while it
// ran (the pointer is re-read before deleting), a file the store lists as pending or published,
// nor anything outside <table>/data and <table>/metadata (the run's staging folder is elsewhere).
//
// Thread-safety: free functions; each uses its own DuckDB instance. Safe to run in a process of
// its own while `weir run` commits to the same table (that is their point).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "exec/store.h"
#include "weir/status.h"

namespace weir {

struct CompactOptions {
  // Partitions to compact: "" = all; otherwise `col=value` components separated by '/', each of
  // which the partition's Hive path must contain ("dt=2025-11-20" matches every hour of the day).
  std::string partition;
  uint64_t target_file_bytes = 0;  // 0: write.target_file_mb
  // A partition is compacted only when it has at least this many files smaller than the target.
  int min_files = 2;
  std::string tag;  // summary key weir.run and the new files' names; empty: a new one
};

struct CompactedPartition {
  std::string partition;     // Hive path ("" unpartitioned)
  int64_t files_before = 0;  // live data files in the partition before
  int64_t files_after = 0;   // and after
  int64_t rewritten_files = 0, new_files = 0;
  int64_t rows = 0;
  int64_t bytes_read = 0, bytes_written = 0;
  double seconds = 0;  // reading, sorting and writing this partition
  double MbPerSecond() const {
    return seconds > 0 ? static_cast<double>(bytes_read) / (1 << 20) / seconds : 0;
  }
};

struct CompactReport {
  std::vector<CompactedPartition> partitions;  // those rewritten and committed, by path
  std::optional<int64_t> snapshot_id;          // the replace snapshot (none: nothing to do)
  std::string metadata_location;
  int attempts = 0;                // commit attempts (> 1: lost races with concurrent commits)
  int64_t skipped_partitions = 0;  // dropped because a concurrent commit changed their files
  double seconds = 0;
};

Result<CompactReport> CompactTable(const DatasetConfig& config, Store& store,
                                   const CompactOptions& options);

// write.compaction.auto: compacts the partitions with write.compaction.min_files or more small
// files. A no-op (empty report) when auto compaction is off or the table is not Iceberg.
Result<CompactReport> AutoCompact(const DatasetConfig& config, Store& store,
                                  const std::string& tag);

// write.compaction.auto while a stream runs: after a durable commit, at most every
// write.compaction.interval (the first one an interval after the start), AutoCompact runs on a
// thread of its own, so commits (and the visibility bound) go on meanwhile; its commit is its
// own snapshot and retries when it races with the stream's (see CompactTable). A failure is
// logged and tried again an interval later: the data stays committed as it was. Serves the
// collector's task, the Kafka stream and the rules stage's derived table.
//
// Owns its thread; `config` and `store` are borrowed and must outlive it (the store is used
// from the compaction thread: Store is thread-safe). AfterCommit and Close are called by one
// thread at a time; the destructor waits for a running compaction.
class BackgroundCompactor {
 public:
  BackgroundCompactor(const DatasetConfig& config, Store& store);
  ~BackgroundCompactor();
  BackgroundCompactor(const BackgroundCompactor&) = delete;
  BackgroundCompactor& operator=(const BackgroundCompactor&) = delete;
  // After a durable commit: starts a compaction when one is due and none is running, unless
  // Close was called or a stop was requested (a stop must not wait for a compaction it began).
  // `run_tag` names its snapshot (weir.run) and files.
  void AfterCommit(const std::string& run_tag);
  // The stream is ending: its last commits start nothing (the run's end compacts, once, when
  // it ends normally). A running compaction goes on; the destructor waits for it.
  void Close() { closed_ = true; }

 private:
  const DatasetConfig& config_;
  Store& store_;
  std::chrono::steady_clock::time_point since_;  // the start, then the last compaction's start
  std::thread thread_;
  std::atomic<bool> running_{false};
  bool closed_ = false;
  int compactions_ = 0;
};

// Orphans younger than this are never deleted, whatever --older-than says: a writer's
// uncommitted manifests and metadata, and compaction's hidden new files, are that young.
inline constexpr int64_t kMinOrphanAgeSeconds = 3600;

struct ExpireOptions {
  int64_t older_than_ms = 7LL * 24 * 3600 * 1000;  // snapshots and orphans older than this go
  int retain_last = 1;   // always keep this many most recent snapshots (>= 1)
  bool dry_run = false;  // report what would be removed; change nothing
  int64_t now_ms = 0;    // 0: the clock (tests pass a time)
};

struct ExpireReport {
  std::vector<int64_t> expired_snapshots;
  int64_t retained_snapshots = 0;
  std::string metadata_location;  // the new current metadata (unchanged when nothing expired)
  // Deleted (or, with dry_run, to delete) files, absolute paths, by kind.
  std::vector<std::string> data_files, manifests, manifest_lists, metadata_files, orphans;
  uint64_t bytes = 0;  // their total size
  int attempts = 0;
};

Result<ExpireReport> ExpireSnapshots(const DatasetConfig& config, Store& store,
                                     const ExpireOptions& options);

// "7d", "36h", "90m", "45s", "0s" -> milliseconds; Invalid otherwise.
Result<int64_t> ParseAge(const std::string& text);

// Whether Hive path `path` matches the --partition filter `filter` (see CompactOptions).
bool PartitionMatches(const std::string& path, const std::string& filter);

}  // namespace weir
