// iceberg_commit.h: plans one Iceberg snapshot commit as files to write, without touching storage.
//
// Given the table's current metadata (and its location), the data files a weir commit adds (and,
// for overwrite/replace/delete, the paths it removes), PlanSnapshot returns:
//   - metadata/<uuid>-m<k>.avro          new manifests (ADDED entries; rewritten manifests with
//                                        EXISTING and DELETED entries when files are removed),
//   - metadata/snap-<id>-1-<uuid>.avro   the new snapshot's manifest list (new manifests first,
//                                        then the current snapshot's manifests that are unchanged),
//   - metadata/v<N>.metadata.json        the new table metadata (N = current N + 1, or 1),
// plus the new TableMetadata value. The caller writes the files (any order; the metadata JSON
// must be durable before the commit), then commits by moving the table's metadata pointer from
// `current_metadata_location` to the new one atomically (the store's iceberg_tables row), which is
// not this module's job. A failed or lost race leaves only orphan files, never a visible change.
//
// Reading the current snapshot's manifest list and manifests goes through the caller's loader so
// this stays pure and storage-agnostic (local disk, S3, tests with an in-memory map).
//
// Thread-safety: pure function; the loader is called on the calling thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lake/iceberg.h"
#include "lake/iceberg_manifest.h"

namespace weir::iceberg {

struct SnapshotUpdate {
  // append (adds only) | overwrite | replace (same rows, new files: compaction) | delete.
  std::string operation = "append";
  std::vector<DataFile> added;
  std::vector<std::string> removed_paths;  // file_path values of live files of the current snapshot
  // Extra summary keys (e.g. "weir.dataset", "weir.run"); the spec's keys cannot be overridden.
  std::map<std::string, std::string> extra_summary;
  int64_t timestamp_ms = 0;  // required: the commit time
  int64_t snapshot_id = 0;   // 0: a random positive id
  std::string commit_uuid;   // names the new files; empty: a random UUID
};

struct PlannedFile {
  std::string location;  // absolute: <table location>/metadata/...
  std::string bytes;
};

struct SnapshotPlan {
  std::vector<PlannedFile> files;  // manifests, then the manifest list, then the metadata JSON
  TableMetadata metadata;          // the new metadata (what the JSON file holds)
  std::string metadata_location;   // the new metadata JSON's location
  int64_t version = 0;             // N of v<N>.metadata.json
  int64_t snapshot_id = 0;
};

// Returns the bytes of a file the plan needs to read (the current manifest list and, when files
// are removed, the current manifests), given its location as written in the metadata.
using MetadataFileLoader = std::function<Result<std::string>(const std::string& location)>;

Result<SnapshotPlan> PlanSnapshot(const TableMetadata& current,
                                  const std::string& current_metadata_location,
                                  const SnapshotUpdate& update, const MetadataFileLoader& load);

// The metadata-log keeps the last `write.metadata.previous-versions-max` (a table property, as in
// Iceberg's Java library; default 100) earlier metadata files: every commit appends one, and
// without a bound the metadata JSON (rewritten by every commit) would grow forever. Files that
// drop out of the log are no longer referenced; `weir lake expire` deletes them.
inline constexpr size_t kDefaultPreviousMetadataVersions = 100;
size_t MaxPreviousMetadataVersions(const TableMetadata& m);
void TrimMetadataLog(TableMetadata& m);  // drops the oldest entries beyond the maximum

// The version N of ".../v<N>.metadata.json" or ".../<N>-<uuid>.metadata.json" (leading zeros
// allowed); Invalid for any other name.
Result<int64_t> MetadataVersion(const std::string& metadata_location);

// Every live data file of a snapshot (ADDED and EXISTING entries of its manifests), read through
// `load`: what a reader of that snapshot scans. Used by tests and, later, by compaction and expire.
Result<std::vector<ManifestEntry>> LiveEntries(const TableMetadata& m, int64_t snapshot_id,
                                               const MetadataFileLoader& load);

}  // namespace weir::iceberg
