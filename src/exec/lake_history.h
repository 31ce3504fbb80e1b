// lake_history.h: reading the history of a lake table from its Iceberg metadata, for
// `weir lake snapshots`, `weir lake changes --since` (the "dirty buckets" a downstream job
// recomputes) and time travel in `weir query --snapshot / --as-of`; shaped so a REST API can
// serve the same values later.
//
// Everything works on a table's TableMetadata plus a loader for the files it references
// (manifest lists, manifests, older metadata files), so it is independent of where the table
// lives. OpenLakeTable() is the local-disk entry point: the store's `iceberg_tables` pointer
// (namespace "default", table = write.table) names the current metadata file.
//
// Partitions are reported as Hive paths (`event_type=click/dt=2024-06-01`), derived from each
// data file's partition tuple and the partition spec it was written with, not from its file
// name: a file another engine rewrote (compaction) may live anywhere. The text of a value is
// what weir's writer puts in folder names (lake/partitioned_buffer.h PartitionValueText): dates
// (identity of a date, or the `day` transform) as YYYY-MM-DD, the `hour` transform (hours since
// the epoch) as the UTC hour of day 0-23 (what an `hour_of:` column holds), strings Hive-escaped,
// nulls as __HIVE_DEFAULT_PARTITION__.
//
// Thread-safety: free functions over values; the loader is called on the calling thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "exec/store.h"
#include "lake/iceberg.h"
#include "lake/iceberg_commit.h"
#include "weir/status.h"

namespace weir {

// A table's current metadata, as the store's catalog points to it.
struct LakeTable {
  std::string name;               // write.table
  std::string metadata_location;  // absolute path of the current v<N>.metadata.json
  iceberg::TableMetadata metadata;
  iceberg::MetadataFileLoader load;  // reads files the metadata references (local disk)
  // The Hive column name of each partition field of the default spec (write.partition_by when
  // it matches the spec, the spec's field names otherwise); see HivePartitionPath.
  std::vector<std::string> hive_names;
};

// The dataset's table as the store's Iceberg catalog has it (exec/iceberg_table.h
// LoadIcebergTable), read from local disk; nullopt when the table has no row yet (nothing
// committed since it became an Iceberg table, a Hive table, or after `--restart`).
Result<std::optional<LakeTable>> OpenLakeTable(const DatasetConfig& config, Store& store);

// ---- snapshots ----

struct SnapshotInfo {
  int64_t snapshot_id = 0;
  std::optional<int64_t> parent_snapshot_id;
  int64_t sequence_number = 0;
  int64_t timestamp_ms = 0;
  std::string operation;  // append | overwrite | replace | delete
  // From the summary (0 when a key is absent, as other engines may omit them).
  int64_t added_files = 0, deleted_files = 0, added_records = 0, deleted_records = 0;
  int64_t total_files = 0, total_records = 0;
  std::string weir_run;  // summary "weir.run" ("" when absent)
  bool current = false;
  std::map<std::string, std::string> summary;  // the whole summary
};

// Every snapshot the metadata keeps, oldest first (by sequence number), the current one marked.
std::vector<SnapshotInfo> ListSnapshots(const iceberg::TableMetadata& m);

// ---- changed partitions ----

struct PartitionChange {
  std::string path;  // Hive path, "" for an unpartitioned table
  // Hive column name -> value text (not escaped; nullopt for null), in path order.
  std::vector<std::pair<std::string, std::optional<std::string>>> values;
  int64_t added_files = 0, added_records = 0, deleted_files = 0, deleted_records = 0;
  std::vector<int64_t> snapshots;  // the snapshots that changed it, oldest first
};

struct ChangesSince {
  int64_t since = 0;               // the snapshot asked for; 0 = since the table's start
  bool since_expired = false;      // `since` is no longer in the metadata, but its child is
  std::optional<int64_t> to;       // the current snapshot (nullopt: the table has none)
  std::vector<int64_t> snapshots;  // the snapshots after `since`, oldest first
  std::vector<PartitionChange> partitions;  // sorted by path
  int64_t manifests_read = 0;               // only manifests added by those snapshots are read
};

// The partitions changed by the snapshots after `since` up to the current one, from the
// manifests those snapshots added (ADDED and DELETED entries of their own snapshot id; never the
// manifests carried over from older snapshots). `since` must be an ancestor of the current
// snapshot, or an expired snapshot whose child is still kept (then the answer is still exact).
// Errors name the snapshot and say what to do: an unknown id (NotFound), an id that was expired
// together with the snapshots after it, or `since` 0 on a table whose first snapshots were
// expired (Invalid: the changes cannot be known exactly).
// `hive_names`: the Hive column name of each partition field (see LakeTable::hive_names); empty
// uses the spec's field names.
Result<ChangesSince> ChangedPartitions(const iceberg::TableMetadata& m, int64_t since,
                                       const iceberg::MetadataFileLoader& load,
                                       const std::vector<std::string>& hive_names = {});

// The Hive path of a partition tuple written with `spec` (see the header comment for the text
// of each transform), and the (name, value text) pairs it is made of.
Result<std::string> HivePartitionPath(
    const iceberg::PartitionSpec& spec, const std::vector<iceberg::OptionalLiteral>& tuple,
    const std::vector<std::string>& hive_names,
    std::vector<std::pair<std::string, std::optional<std::string>>>* values = nullptr);

// ---- time travel ----

// The snapshot that was current at `timestamp_ms` per the snapshot log: the last one committed
// at or before it. Invalid (naming the first commit time) for a time before the first snapshot;
// NotFound when that snapshot was expired.
Result<int64_t> SnapshotAsOf(const iceberg::TableMetadata& m, int64_t timestamp_ms);

// Parses a --as-of argument: milliseconds since the epoch (digits), an ISO 8601 date-time
// ("2024-06-01T12:00:00Z", no zone = UTC) or a date ("2024-06-01" = its first millisecond, UTC).
Result<int64_t> ParseAsOfTime(std::string_view text);

// The live data files of a snapshot as catalog rows (path, rows, bytes; kind "data",
// state "published", partition = its Hive path): what a reader of that snapshot scans.
Result<std::vector<CatalogFile>> SnapshotFiles(const LakeTable& table, int64_t snapshot_id);

}  // namespace weir
