#include "lake/iceberg_commit.h"

#include <cstdlib>

#include <set>

namespace weir::iceberg {
namespace {

// A byte key for a partition tuple (null and each value's binary form), to count partitions.
std::string PartitionKey(const std::vector<OptionalLiteral>& p) {
  std::string k;
  for (const auto& v : p) {
    if (!v) {
      k += '\0';
      continue;
    }
    const std::string b = v->ToBinary();
    k += '\1';
    k += std::to_string(b.size());
    k += ':';
    k += b;
  }
  return k;
}

int64_t SummaryLong(const Snapshot* s, const std::string& key) {
  if (!s) return 0;
  auto it = s->summary.find(key);
  if (it == s->summary.end()) return 0;
  try {
    return std::stoll(it->second);
  } catch (...) {
    return 0;
  }
}

}  // namespace

Result<int64_t> MetadataVersion(const std::string& location) {
  const size_t slash = location.find_last_of('/');
  const std::string name = slash == std::string::npos ? location : location.substr(slash + 1);
  const std::string suffix = ".metadata.json";
  if (name.size() > 1 + suffix.size() &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    const std::string stem = name.substr(0, name.size() - suffix.size());
    // v<N> (a table opened by path: version-hint.text) or <N>-<uuid> (a catalog table whose
    // metadata files must have unique names, as on S3 where nothing can be created exclusively).
    std::string digits;
    if (stem[0] == 'v') {
      digits = stem.substr(1);
    } else if (const size_t dash = stem.find('-'); dash != std::string::npos && dash > 0) {
      digits = stem.substr(0, dash);
    }
    if (!digits.empty() && digits.size() < 18 &&
        digits.find_first_not_of("0123456789") == std::string::npos) {
      return std::stoll(digits);
    }
  }
  return Status::Invalid("Iceberg metadata file '" + location +
                         "' is not named v<N>.metadata.json or <N>-<uuid>.metadata.json, so the "
                         "next version is unknown");
}

Result<std::vector<ManifestEntry>> LiveEntries(const TableMetadata& m, int64_t snapshot_id,
                                               const MetadataFileLoader& load) {
  const Snapshot* s = m.SnapshotById(snapshot_id);
  if (!s)
    return Status::NotFound("snapshot " + std::to_string(snapshot_id) +
                            " is not in the table metadata");
  WEIR_ASSIGN_OR_RETURN(std::string list_bytes, load(s->manifest_list));
  WEIR_ASSIGN_OR_RETURN(std::vector<ManifestFile> manifests,
                        ReadManifestList(list_bytes, s->manifest_list));
  const Schema* schema = m.CurrentSchema();
  std::vector<ManifestEntry> out;
  for (const auto& mf : manifests) {
    const PartitionSpec* spec = m.SpecById(mf.partition_spec_id);
    if (!spec) {
      return Status::Corruption(mf.manifest_path + ": partition spec " +
                                std::to_string(mf.partition_spec_id) +
                                " is not in the table metadata");
    }
    WEIR_ASSIGN_OR_RETURN(std::vector<Type> ptypes, PartitionTypes(*spec, *schema));
    WEIR_ASSIGN_OR_RETURN(std::string bytes, load(mf.manifest_path));
    WEIR_ASSIGN_OR_RETURN(auto entries, ReadManifest(bytes, ptypes, mf, mf.manifest_path));
    for (auto& e : entries) {
      if (e.status != EntryStatus::kDeleted) out.push_back(std::move(e));
    }
  }
  return out;
}

size_t MaxPreviousMetadataVersions(const TableMetadata& m) {
  auto it = m.properties.find("write.metadata.previous-versions-max");
  if (it != m.properties.end()) {
    char* end = nullptr;
    const long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (end && *end == '\0' && v >= 1) return static_cast<size_t>(v);
  }
  return kDefaultPreviousMetadataVersions;
}

void TrimMetadataLog(TableMetadata& m) {
  const size_t max = MaxPreviousMetadataVersions(m);
  if (m.metadata_log.size() > max) {
    m.metadata_log.erase(m.metadata_log.begin(),
                         m.metadata_log.end() - static_cast<std::ptrdiff_t>(max));
  }
}

Result<SnapshotPlan> PlanSnapshot(const TableMetadata& current, const std::string& current_location,
                                  const SnapshotUpdate& u, const MetadataFileLoader& load) {
  static const std::set<std::string> kOps = {"append", "overwrite", "replace", "delete"};
  if (!kOps.count(u.operation)) {
    return Status::Invalid("Iceberg snapshot operation '" + u.operation +
                           "' is not one of append, overwrite, replace, delete");
  }
  if (u.operation == "append" && !u.removed_paths.empty()) {
    return Status::Invalid("an append snapshot cannot remove files; use overwrite or replace");
  }
  if (u.timestamp_ms <= 0)
    return Status::Invalid("a snapshot needs its commit time (timestamp_ms)");
  const Schema* schema = current.CurrentSchema();
  const PartitionSpec* spec = current.DefaultSpec();
  if (!schema || !spec)
    return Status::Corruption("table metadata lacks its current schema or default spec");
  WEIR_ASSIGN_OR_RETURN(std::vector<Type> ptypes, PartitionTypes(*spec, *schema));

  SnapshotPlan plan;
  int64_t version = 1;
  if (!current_location.empty()) {
    WEIR_ASSIGN_OR_RETURN(int64_t v, MetadataVersion(current_location));
    version = v + 1;
  }
  const int64_t seq = current.last_sequence_number + 1;
  int64_t snapshot_id = u.snapshot_id;
  while (snapshot_id == 0 || current.SnapshotById(snapshot_id)) {
    if (u.snapshot_id != 0) {
      return Status::Invalid("snapshot id " + std::to_string(u.snapshot_id) +
                             " is already in the table");
    }
    snapshot_id = NewSnapshotId();
  }
  const std::string uuid = u.commit_uuid.empty() ? NewUuid() : u.commit_uuid;
  const std::string meta_dir = current.location + "/metadata/";
  const Snapshot* parent = current.CurrentSnapshot();

  // The current snapshot's manifests.
  std::vector<ManifestFile> existing;
  if (parent) {
    WEIR_ASSIGN_OR_RETURN(std::string bytes, load(parent->manifest_list));
    WEIR_ASSIGN_OR_RETURN(existing, ReadManifestList(bytes, parent->manifest_list));
  }

  std::vector<ManifestFile> new_list;
  int manifest_index = 0;
  std::set<std::string> changed_partitions;
  int64_t added_records = 0, added_size = 0, deleted_records = 0, deleted_size = 0,
          deleted_files = 0;

  // New data files: one manifest of ADDED entries with inherited snapshot id and sequence numbers.
  if (!u.added.empty()) {
    std::vector<ManifestEntry> entries;
    std::set<std::string> paths;
    for (const auto& f : u.added) {
      if (!paths.insert(f.file_path).second) {
        return Status::Invalid("data file " + f.file_path + " is added twice in one snapshot");
      }
      ManifestEntry e;
      e.status = EntryStatus::kAdded;
      e.data_file = f;
      entries.push_back(std::move(e));
      added_records += f.record_count;
      added_size += f.file_size_in_bytes;
      changed_partitions.insert(PartitionKey(f.partition));
    }
    WEIR_ASSIGN_OR_RETURN(std::string bytes, WriteManifest(*schema, *spec, entries));
    const std::string path = meta_dir + uuid + "-m" + std::to_string(manifest_index++) + ".avro";
    WEIR_ASSIGN_OR_RETURN(ManifestFile mf,
                          SummarizeManifest(*spec, ptypes, entries, path,
                                            static_cast<int64_t>(bytes.size()), snapshot_id, seq));
    plan.files.push_back({path, std::move(bytes)});
    new_list.push_back(std::move(mf));
  }

  // Removals: rewrite each manifest that holds a removed file (EXISTING + DELETED entries); keep
  // the others as they are. Manifests left with no live file are dropped from the new list.
  std::set<std::string> to_remove(u.removed_paths.begin(), u.removed_paths.end());
  std::set<std::string> removed_found;
  std::vector<ManifestFile> kept;
  for (const auto& mf : existing) {
    if (mf.added_files_count + mf.existing_files_count == 0) continue;
    if (to_remove.empty()) {
      kept.push_back(mf);
      continue;
    }
    const PartitionSpec* mspec = current.SpecById(mf.partition_spec_id);
    if (!mspec) {
      return Status::Corruption(mf.manifest_path + ": partition spec " +
                                std::to_string(mf.partition_spec_id) +
                                " is not in the table metadata");
    }
    WEIR_ASSIGN_OR_RETURN(std::vector<Type> mtypes, PartitionTypes(*mspec, *schema));
    WEIR_ASSIGN_OR_RETURN(std::string bytes, load(mf.manifest_path));
    WEIR_ASSIGN_OR_RETURN(std::vector<ManifestEntry> entries,
                          ReadManifest(bytes, mtypes, mf, mf.manifest_path));
    bool touched = false;
    std::vector<ManifestEntry> rewritten;
    for (auto& e : entries) {
      if (e.status == EntryStatus::kDeleted) continue;  // deletions are reported once, then dropped
      if (to_remove.count(e.data_file.file_path)) {
        touched = true;
        removed_found.insert(e.data_file.file_path);
        e.status = EntryStatus::kDeleted;
        e.snapshot_id = snapshot_id;
        ++deleted_files;
        deleted_records += e.data_file.record_count;
        deleted_size += e.data_file.file_size_in_bytes;
        changed_partitions.insert(PartitionKey(e.data_file.partition));
      } else {
        e.status = EntryStatus::kExisting;
      }
      rewritten.push_back(std::move(e));
    }
    if (!touched) {
      kept.push_back(mf);
      continue;
    }
    WEIR_ASSIGN_OR_RETURN(std::string out, WriteManifest(*schema, *mspec, rewritten));
    const std::string path = meta_dir + uuid + "-m" + std::to_string(manifest_index++) + ".avro";
    WEIR_ASSIGN_OR_RETURN(ManifestFile nmf,
                          SummarizeManifest(*mspec, mtypes, rewritten, path,
                                            static_cast<int64_t>(out.size()), snapshot_id, seq));
    plan.files.push_back({path, std::move(out)});
    new_list.push_back(std::move(nmf));
  }
  for (const auto& p : to_remove) {
    if (!removed_found.count(p)) {
      return Status::Invalid(
          "cannot remove " + p + ": it is not a live file of the current snapshot " +
          (parent ? std::to_string(parent->snapshot_id) : std::string("(none)")));
    }
  }
  for (auto& k : kept) new_list.push_back(std::move(k));

  const std::string list_path =
      meta_dir + "snap-" + std::to_string(snapshot_id) + "-1-" + uuid + ".avro";
  WEIR_ASSIGN_OR_RETURN(
      std::string list_bytes,
      WriteManifestList(new_list, snapshot_id,
                        parent ? std::optional<int64_t>(parent->snapshot_id) : std::nullopt, seq));
  plan.files.push_back({list_path, std::move(list_bytes)});

  Snapshot snap;
  snap.snapshot_id = snapshot_id;
  if (parent) snap.parent_snapshot_id = parent->snapshot_id;
  snap.sequence_number = seq;
  snap.timestamp_ms = u.timestamp_ms;
  snap.manifest_list = list_path;
  snap.schema_id = schema->schema_id;
  int64_t total_files = 0, total_records = 0;
  for (const auto& mf : new_list) {
    total_files += mf.added_files_count + mf.existing_files_count;
    total_records += mf.added_rows_count + mf.existing_rows_count;
  }
  const int64_t total_size = SummaryLong(parent, "total-files-size") + added_size - deleted_size;
  snap.summary = u.extra_summary;
  const std::map<std::string, std::string> spec_keys = {
      {"operation", u.operation},
      {"added-data-files", std::to_string(u.added.size())},
      {"deleted-data-files", std::to_string(deleted_files)},
      {"added-records", std::to_string(added_records)},
      {"deleted-records", std::to_string(deleted_records)},
      {"added-files-size", std::to_string(added_size)},
      {"removed-files-size", std::to_string(deleted_size)},
      {"changed-partition-count", std::to_string(changed_partitions.size())},
      {"total-data-files", std::to_string(total_files)},
      {"total-records", std::to_string(total_records)},
      {"total-files-size", std::to_string(total_size)},
      {"total-delete-files", "0"},
      {"total-position-deletes", "0"},
      {"total-equality-deletes", "0"},
  };
  for (const auto& [k, v] : spec_keys) snap.summary[k] = v;

  TableMetadata m = current;
  m.last_sequence_number = seq;
  m.last_updated_ms = u.timestamp_ms;
  m.snapshots.push_back(snap);
  m.current_snapshot_id = snapshot_id;
  m.refs["main"] = SnapshotRef{snapshot_id, "branch", {}, {}, {}};
  m.snapshot_log.push_back({u.timestamp_ms, snapshot_id});
  if (!current_location.empty())
    m.metadata_log.push_back({current.last_updated_ms, current_location});
  TrimMetadataLog(m);

  plan.version = version;
  plan.snapshot_id = snapshot_id;
  plan.metadata_location = meta_dir + "v" + std::to_string(version) + ".metadata.json";
  plan.files.push_back({plan.metadata_location, TableMetadataToJson(m)});
  plan.metadata = std::move(m);
  return plan;
}

}  // namespace weir::iceberg
