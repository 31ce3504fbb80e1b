// Test fixture: an Iceberg table on local disk made with weir's Iceberg library (NewTableMetadata +
// PlanSnapshot, the planned metadata files written to disk) and registered in a store's Iceberg
// catalog with MoveIcebergPointer, as a weir commit does. The data files are described, not
// written: the catalog serves metadata only. Used by the catalog's unit tests and the e2e test.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "exec/store.h"
#include "lake/iceberg.h"
#include "lake/iceberg_commit.h"

namespace weir::fixture {

struct FixtureTable {
  std::string location;                         // table folder (absolute)
  std::string metadata_location;                // current vN.metadata.json (absolute)
  std::vector<std::string> metadata_locations;  // every version, v1 first
  iceberg::TableMetadata metadata;
};

// Commits one more append snapshot (one data file) to `t`, as a weir commit does: the planned
// metadata files are written (and closed) first, then the store's pointer moves from the current
// version to the new one (compare-and-set).
inline Status AppendSnapshot(Store& store, const std::string& ns, const std::string& name,
                             FixtureTable& t) {
  namespace fs = std::filesystem;
  iceberg::MetadataFileLoader load = [](const std::string& loc) -> Result<std::string> {
    std::ifstream in(loc, std::ios::binary);
    if (!in) return Status::NotFound(loc);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const int i = static_cast<int>(t.metadata_locations.size());
  iceberg::SnapshotUpdate u;
  u.timestamp_ms = 2000 + i;
  iceberg::DataFile f;
  f.file_path = t.location + "/data/event=click/part-" + std::to_string(i) + ".parquet";
  f.partition = {iceberg::Literal::String("click")};
  f.record_count = 10 + i;
  f.file_size_in_bytes = 1000 + i;
  u.added.push_back(f);
  WEIR_ASSIGN_OR_RETURN(iceberg::SnapshotPlan plan,
                        iceberg::PlanSnapshot(t.metadata, t.metadata_location, u, load));
  for (const auto& pf : plan.files) {
    fs::create_directories(fs::path(pf.location).parent_path());
    std::ofstream(pf.location, std::ios::binary) << pf.bytes;
  }
  WEIR_RETURN_IF_ERROR(
      store.MoveIcebergPointer({ns, name, t.metadata_location, plan.metadata_location}));
  t.metadata_location = plan.metadata_location;
  t.metadata_locations.push_back(plan.metadata_location);
  t.metadata = plan.metadata;
  return Status::OK();
}

// Writes table `name` under `dir/name` with `snapshots` append snapshots (one data file each) and
// points the store's catalog at the last version, moving the pointer once per snapshot.
inline Result<FixtureTable> MakeIcebergTable(Store& store, const std::string& ns,
                                             const std::string& name, const std::string& dir,
                                             int snapshots) {
  FixtureTable t;
  t.location = (std::filesystem::path(dir) / name).string();
  const std::vector<ColumnSchema> columns = {
      {"id", ColumnType::kInt64}, {"event", ColumnType::kString}, {"ts", ColumnType::kTimestampMs}};
  iceberg::Schema schema = iceberg::SchemaFromColumns(columns);
  iceberg::PartitionSpec spec{0, {{2, 0, "event", iceberg::Transform::kIdentity}}};
  WEIR_ASSIGN_OR_RETURN(t.metadata,
                        iceberg::NewTableMetadata(t.location, iceberg::NewUuid(), schema, spec, {},
                                                  {{"weir.dataset", name}}, 1000));
  for (int i = 0; i < snapshots; ++i) WEIR_RETURN_IF_ERROR(AppendSnapshot(store, ns, name, t));
  return t;
}

}  // namespace weir::fixture
