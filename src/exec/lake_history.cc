#include "exec/lake_history.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "core/text.h"
#include "exec/iceberg_table.h"
#include "lake/iceberg_manifest.h"
#include "lake/partitioned_buffer.h"
#include "parse/time_util.h"

namespace weir {

using iceberg::EntryStatus;
using iceberg::ManifestEntry;
using iceberg::ManifestFile;
using iceberg::MetadataFileLoader;
using iceberg::OptionalLiteral;
using iceberg::PartitionSpec;
using iceberg::Snapshot;
using iceberg::TableMetadata;
using iceberg::Transform;
using iceberg::Type;

namespace {

std::string LocalPath(const std::string& location) {
  // Metadata written by other tools may use file: URIs for local tables.
  if (location.rfind("file://", 0) == 0) return location.substr(7);
  if (location.rfind("file:/", 0) == 0) return location.substr(5);
  return location;
}

int64_t SummaryLong(const Snapshot& s, const std::string& key) {
  auto it = s.summary.find(key);
  if (it == s.summary.end()) return 0;
  try {
    return std::stoll(it->second);
  } catch (...) {
    return 0;  // another engine's malformed summary must not hide the snapshot
  }
}

std::string Id(int64_t id) { return std::to_string(id); }

std::string When(int64_t ms) { return FormatTimestampMs(ms); }

// Whether the write.partition_by columns are the spec's fields, in order: identity of the column
// itself, or day/hour of the timestamp a date_of/hour_of column derives from.
bool PartitionByMatchesSpec(const DatasetConfig& c, const TableMetadata& m) {
  const PartitionSpec* spec = m.DefaultSpec();
  const iceberg::Schema* schema = m.CurrentSchema();
  if (!spec || !schema || spec->fields.size() != c.write.partition_by.size()) return false;
  for (size_t i = 0; i < spec->fields.size(); ++i) {
    const auto& pf = spec->fields[i];
    const iceberg::NestedField* src = schema->FindById(pf.source_id);
    if (!src) return false;
    const std::string& name = c.write.partition_by[i];
    auto col = std::find_if(c.write.columns.begin(), c.write.columns.end(),
                            [&](const ColumnConfig& cc) { return cc.name == name; });
    if (col == c.write.columns.end()) return false;
    const bool identity = pf.transform == Transform::kIdentity && src->name == name;
    const bool derived =
        src->name == col->from &&
        ((col->source == ColumnSource::kDateOf && pf.transform == Transform::kDay) ||
         (col->source == ColumnSource::kHourOf && pf.transform == Transform::kHour));
    if (!identity && !derived) return false;
  }
  return true;
}

// The text of one partition value in a Hive path, before escaping (nullopt: null).
std::optional<std::string> ValueText(Transform t, const OptionalLiteral& v) {
  if (!v || t == Transform::kVoid) return std::nullopt;
  switch (t) {
    case Transform::kHour:  // hours since the epoch -> the UTC hour of day, as hour_of holds it
      return std::to_string(FloorMod(v->i, 24));
    case Transform::kDay:  // days since the epoch (a date)
      return FormatDate(static_cast<int32_t>(v->i));
    case Transform::kYear:
      return std::to_string(1970 + v->i);
    case Transform::kMonth: {
      char buf[48];
      std::snprintf(buf, sizeof(buf), "%04lld-%02lld",
                    static_cast<long long>(1970 + FloorDiv(v->i, 12)),
                    static_cast<long long>(FloorMod(v->i, 12) + 1));
      return std::string(buf);
    }
    case Transform::kIdentity:
    case Transform::kVoid:
      break;
  }
  switch (v->type) {
    case Type::kString:
    case Type::kBinary:
      return v->s;
    case Type::kBoolean:
      return std::string(v->i ? "true" : "false");
    case Type::kInt:
    case Type::kLong:
      return std::to_string(v->i);
    case Type::kDate:
      return FormatDate(static_cast<int32_t>(v->i));
    case Type::kTimestamp:
    case Type::kTimestamptz:
      return FormatTimestampMs(FloorDiv(v->i, 1000));  // micros
    case Type::kFloat:
    case Type::kDouble: {
      char buf[40];
      std::snprintf(buf, sizeof(buf), "%.17g", v->d);
      return std::string(buf);
    }
  }
  return std::nullopt;
}

// Whether an older metadata file of the table still lists `id` (it existed and was expired).
bool ListedInOlderMetadata(const TableMetadata& m, int64_t id, const MetadataFileLoader& load) {
  for (const auto& e : m.snapshot_log) {
    if (e.snapshot_id == id) return true;
  }
  for (auto it = m.metadata_log.rbegin(); it != m.metadata_log.rend(); ++it) {
    auto bytes = load(it->metadata_file);
    if (!bytes.ok()) continue;  // expired metadata files may be gone: not an error here
    auto old = iceberg::ParseTableMetadata(*bytes, it->metadata_file);
    if (old.ok() && old->SnapshotById(id)) return true;
  }
  return false;
}

}  // namespace

Result<std::optional<LakeTable>> OpenLakeTable(const DatasetConfig& config, Store& store) {
  WEIR_ASSIGN_OR_RETURN(auto state, LoadIcebergTable(config, store));
  if (!state) return std::optional<LakeTable>();
  LakeTable t;
  t.name = config.write.table;
  t.metadata_location = state->row.metadata_location;
  t.metadata = std::move(state->metadata);
  t.load = LocalMetadataLoader();
  if (PartitionByMatchesSpec(config, t.metadata)) {
    t.hive_names = config.write.partition_by;
  } else if (const PartitionSpec* spec = t.metadata.DefaultSpec()) {
    for (const auto& f : spec->fields) t.hive_names.push_back(f.name);
  }
  return std::optional<LakeTable>(std::move(t));
}

std::vector<SnapshotInfo> ListSnapshots(const TableMetadata& m) {
  std::vector<SnapshotInfo> out;
  for (const auto& s : m.snapshots) {
    SnapshotInfo i;
    i.snapshot_id = s.snapshot_id;
    i.parent_snapshot_id = s.parent_snapshot_id;
    i.sequence_number = s.sequence_number;
    i.timestamp_ms = s.timestamp_ms;
    auto op = s.summary.find("operation");
    i.operation = op == s.summary.end() ? "" : op->second;
    i.added_files = SummaryLong(s, "added-data-files");
    i.deleted_files = SummaryLong(s, "deleted-data-files");
    i.added_records = SummaryLong(s, "added-records");
    i.deleted_records = SummaryLong(s, "deleted-records");
    i.total_files = SummaryLong(s, "total-data-files");
    i.total_records = SummaryLong(s, "total-records");
    auto run = s.summary.find("weir.run");
    if (run != s.summary.end()) i.weir_run = run->second;
    i.current = m.current_snapshot_id == s.snapshot_id;
    i.summary = s.summary;
    out.push_back(std::move(i));
  }
  // Sequence numbers increase with every commit (v2); the time breaks ties of foreign metadata.
  std::stable_sort(out.begin(), out.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    if (a.sequence_number != b.sequence_number) return a.sequence_number < b.sequence_number;
    return a.timestamp_ms < b.timestamp_ms;
  });
  return out;
}

Result<std::string> HivePartitionPath(
    const PartitionSpec& spec, const std::vector<OptionalLiteral>& tuple,
    const std::vector<std::string>& hive_names,
    std::vector<std::pair<std::string, std::optional<std::string>>>* values) {
  if (tuple.size() != spec.fields.size()) {
    return Status::Corruption("a partition tuple has " + std::to_string(tuple.size()) +
                              " value(s) but partition spec " + std::to_string(spec.spec_id) +
                              " has " + std::to_string(spec.fields.size()) + " field(s)");
  }
  const bool use_names = hive_names.size() == spec.fields.size();
  std::string path;
  for (size_t i = 0; i < tuple.size(); ++i) {
    const std::string& name = use_names ? hive_names[i] : spec.fields[i].name;
    std::optional<std::string> text = ValueText(spec.fields[i].transform, tuple[i]);
    const std::string folder = text ? HiveEscape(*text) : std::string(kHiveNull);
    if (!path.empty()) path += '/';
    path += name + "=" + folder;
    // NULL and "" share the Hive NULL folder (one partition for a Hive reader): report both
    // as null so the values of one path never depend on which file came first.
    if (values) values->emplace_back(name, folder == kHiveNull ? std::nullopt : std::move(text));
  }
  return path;
}

Result<ChangesSince> ChangedPartitions(const TableMetadata& m, int64_t since,
                                       const MetadataFileLoader& load,
                                       const std::vector<std::string>& hive_names) {
  ChangesSince out;
  out.since = since;
  const Snapshot* current = m.CurrentSnapshot();
  if (since != 0 && !m.SnapshotById(since) && !current) {
    return Status::NotFound("snapshot " + Id(since) +
                            " is not a snapshot of this table (it has "
                            "no snapshot yet)");
  }
  if (!current) return out;
  out.to = current->snapshot_id;

  // The current snapshot's ancestry back to `since` (newest first).
  std::vector<const Snapshot*> chain;
  bool found = false;
  std::optional<int64_t> missing_parent;  // the chain ends at an expired snapshot
  for (const Snapshot* s = current; s;) {
    if (since != 0 && s->snapshot_id == since) {
      found = true;
      break;
    }
    chain.push_back(s);
    if (!s->parent_snapshot_id) break;
    const Snapshot* p = m.SnapshotById(*s->parent_snapshot_id);
    if (!p) missing_parent = *s->parent_snapshot_id;
    s = p;
  }
  if (since == 0) {
    if (missing_parent) {
      const Snapshot* oldest = chain.back();
      return Status::Invalid(
          "the table's first snapshots were expired (the oldest kept, " + Id(oldest->snapshot_id) +
          " of " + When(oldest->timestamp_ms) + ", has parent " + Id(*missing_parent) +
          ", which is gone), so the partitions changed since the table's start are not known; "
          "--since " +
          Id(*missing_parent) + " lists those changed by every snapshot kept");
    }
  } else if (!found) {
    if (missing_parent && *missing_parent == since) {
      out.since_expired = true;  // its child is kept: every change after it is still known
    } else if (m.SnapshotById(since)) {
      return Status::Invalid("snapshot " + Id(since) +
                             " is not an ancestor of the current snapshot " +
                             Id(current->snapshot_id) + " (the table was rolled back past it)");
    } else if (ListedInOlderMetadata(m, since, load)) {
      const Snapshot* oldest = chain.back();
      return Status::Invalid(
          "snapshot " + Id(since) +
          " was expired, and so were the snapshots right after it, so "
          "the partitions changed since it are not known; the oldest snapshot kept is " +
          Id(oldest->snapshot_id) + " of " + When(oldest->timestamp_ms) +
          ": recompute everything downstream, then continue with --since " +
          Id(current->snapshot_id) + " (the current snapshot)");
    } else {
      return Status::NotFound("snapshot " + Id(since) +
                              " is not a snapshot of this table (or was expired long ago)");
    }
  }
  std::reverse(chain.begin(), chain.end());

  std::map<std::string, PartitionChange> by_path;
  const iceberg::Schema* schema = m.CurrentSchema();
  if (!schema) return Status::Corruption("table metadata lacks its current schema");
  for (const Snapshot* s : chain) {
    out.snapshots.push_back(s->snapshot_id);
    WEIR_ASSIGN_OR_RETURN(std::string list_bytes, load(s->manifest_list));
    WEIR_ASSIGN_OR_RETURN(std::vector<ManifestFile> manifests,
                          iceberg::ReadManifestList(list_bytes, s->manifest_list));
    for (const ManifestFile& mf : manifests) {
      // Only manifests this snapshot wrote hold its ADDED and DELETED entries; the others were
      // carried over unchanged from older snapshots.
      if (mf.added_snapshot_id != s->snapshot_id) continue;
      if (mf.added_files_count == 0 && mf.deleted_files_count == 0) continue;
      const PartitionSpec* spec = m.SpecById(mf.partition_spec_id);
      if (!spec) {
        return Status::Corruption(mf.manifest_path + ": partition spec " +
                                  std::to_string(mf.partition_spec_id) +
                                  " is not in the table metadata");
      }
      WEIR_ASSIGN_OR_RETURN(std::vector<Type> ptypes, iceberg::PartitionTypes(*spec, *schema));
      WEIR_ASSIGN_OR_RETURN(std::string bytes, load(mf.manifest_path));
      ++out.manifests_read;
      WEIR_ASSIGN_OR_RETURN(std::vector<ManifestEntry> entries,
                            iceberg::ReadManifest(bytes, ptypes, mf, mf.manifest_path));
      const bool default_spec = spec->spec_id == m.default_spec_id;
      for (const ManifestEntry& e : entries) {
        if (e.status == EntryStatus::kExisting || e.snapshot_id != s->snapshot_id) continue;
        if (e.data_file.content != 0) continue;  // delete files: weir writes none
        std::vector<std::pair<std::string, std::optional<std::string>>> values;
        auto path =
            HivePartitionPath(*spec, e.data_file.partition,
                              default_spec ? hive_names : std::vector<std::string>(), &values);
        if (!path.ok()) return path.status().WithContext(mf.manifest_path);
        PartitionChange& c = by_path[*path];
        if (c.snapshots.empty()) {
          c.path = *path;
          c.values = std::move(values);
        }
        if (e.status == EntryStatus::kAdded) {
          ++c.added_files;
          c.added_records += e.data_file.record_count;
        } else {
          ++c.deleted_files;
          c.deleted_records += e.data_file.record_count;
        }
        if (c.snapshots.empty() || c.snapshots.back() != s->snapshot_id) {
          c.snapshots.push_back(s->snapshot_id);
        }
      }
    }
  }
  for (auto& [path, c] : by_path) out.partitions.push_back(std::move(c));
  return out;
}

Result<int64_t> SnapshotAsOf(const TableMetadata& m, int64_t timestamp_ms) {
  if (m.snapshots.empty()) {
    return Status::Invalid("the table has no snapshot yet: nothing was committed");
  }
  std::optional<iceberg::SnapshotLogEntry> pick;
  for (const auto& e : m.snapshot_log) {
    if (e.timestamp_ms <= timestamp_ms) pick = e;
  }
  if (!pick) {
    const auto snaps = ListSnapshots(m);
    const SnapshotInfo& first = snaps.front();
    const int64_t first_ms =
        m.snapshot_log.empty() ? first.timestamp_ms : m.snapshot_log.front().timestamp_ms;
    if (first.parent_snapshot_id) {
      return Status::NotFound("the snapshots current at " + When(timestamp_ms) +
                              " were expired; the oldest kept was committed at " + When(first_ms));
    }
    return Status::Invalid(When(timestamp_ms) +
                           " is before the table's first snapshot, committed at " + When(first_ms));
  }
  if (!m.SnapshotById(pick->snapshot_id)) {
    return Status::NotFound("snapshot " + Id(pick->snapshot_id) + ", current at " +
                            When(timestamp_ms) + ", was expired");
  }
  return pick->snapshot_id;
}

Result<int64_t> ParseAsOfTime(std::string_view text) {
  const std::string t(text);
  auto bad = [&](const std::string& why) {
    return Status::Invalid("--as-of '" + t + "': " + why +
                           "; give an ISO 8601 time (2024-06-01T12:00:00Z, no zone = UTC), a date "
                           "(2024-06-01) or milliseconds since the epoch");
  };
  if (t.empty()) return bad("empty");
  if (t.find_first_not_of("0123456789") == std::string::npos) {
    if (t.size() > 15) return bad("too many digits for milliseconds since the epoch");
    return static_cast<int64_t>(std::stoll(t));
  }
  if (t.size() == 10) {
    int32_t days = 0;
    if (const char* why = ParseIsoDate(t, &days)) return bad(why);
    return static_cast<int64_t>(days) * kMsPerDay;
  }
  int64_t ms = 0;
  if (const char* why = ParseIso8601Ms(t, &ms)) return bad(why);
  return ms;
}

Result<std::vector<CatalogFile>> SnapshotFiles(const LakeTable& table, int64_t snapshot_id) {
  WEIR_ASSIGN_OR_RETURN(auto live, iceberg::LiveEntries(table.metadata, snapshot_id, table.load));
  const PartitionSpec* spec = table.metadata.DefaultSpec();
  std::vector<CatalogFile> out;
  for (const auto& e : live) {
    if (e.data_file.content != 0) continue;
    CatalogFile f;
    f.kind = "data";
    f.state = "published";
    f.path = LocalPath(e.data_file.file_path);
    f.rows = static_cast<uint64_t>(e.data_file.record_count);
    f.bytes = static_cast<uint64_t>(e.data_file.file_size_in_bytes);
    if (spec && spec->fields.size() == e.data_file.partition.size()) {
      auto p = HivePartitionPath(*spec, e.data_file.partition, table.hive_names);
      if (p.ok()) f.partition = *p;
    }
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(),
            [](const CatalogFile& a, const CatalogFile& b) { return a.path < b.path; });
  return out;
}

}  // namespace weir
