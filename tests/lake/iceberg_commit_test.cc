// Tests of Iceberg snapshot planning: a table is built over several commits (appends, a replace
// that removes files), every snapshot is read back through our reader, and every manifest and
// manifest list is decoded and checked against the spec by Debian's python3-avro
// (tests/lake/iceberg_avro_check.py), an implementation independent of ours.
#include "lake/iceberg_commit.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "lake/avro_writer.h"

namespace weir::iceberg {
namespace {

namespace fs = std::filesystem;

// The files of a table, in memory; the loader plans read through.
struct Store {
  std::map<std::string, std::string> files;
  MetadataFileLoader Loader() {
    return [this](const std::string& loc) -> Result<std::string> {
      auto it = files.find(loc);
      if (it == files.end()) return Status::NotFound(loc);
      return it->second;
    };
  }
  void Apply(const SnapshotPlan& p) {
    for (const auto& f : p.files) {
      ASSERT_FALSE(files.count(f.location)) << "plan overwrites " << f.location;
      files[f.location] = f.bytes;
    }
  }
};

Schema EventSchema() {
  return SchemaFromColumns({{"id", ColumnType::kInt64},
                            {"event", ColumnType::kString},
                            {"ts", ColumnType::kTimestampMs},
                            {"score", ColumnType::kDouble}});
}

TableMetadata NewEvents(const std::string& location) {
  PartitionSpec spec{0, {{2, 0, "event", Transform::kIdentity}, {3, 0, "ts_day", Transform::kDay}}};
  auto m = NewTableMetadata(location, "0f0e0d0c-0b0a-4908-8706-050403020100", EventSchema(), spec,
                            {}, {}, 1000);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

DataFile File(const std::string& path, const std::string& event, int32_t day, int64_t rows) {
  DataFile f;
  f.file_path = path;
  f.partition = {Literal::String(event), Literal::Date(day)};
  f.record_count = rows;
  f.file_size_in_bytes = 1000 + rows;
  f.value_counts = {{1, rows}, {2, rows}};
  f.null_value_counts = {{1, 0}, {2, 0}};
  f.nan_value_counts = {{4, 0}};
  f.lower_bounds = {{1, Literal::Long(1).ToBinary()}, {2, Literal::String(event).ToBinary()}};
  f.upper_bounds = {{1, Literal::Long(rows).ToBinary()}, {2, Literal::String(event).ToBinary()}};
  f.column_sizes = {{1, 80}, {2, 40}};
  f.split_offsets = {4};
  return f;
}

std::set<std::string> LivePaths(const TableMetadata& m, int64_t snapshot, Store& st) {
  auto live = LiveEntries(m, snapshot, st.Loader());
  EXPECT_TRUE(live.ok()) << live.status().ToString();
  std::set<std::string> out;
  if (live.ok()) {
    for (const auto& e : *live) out.insert(e.data_file.file_path);
  }
  return out;
}

// Three commits: append 2 files, append 1, replace 2 of them by 1 (compaction).
struct History {
  Store st;
  std::vector<SnapshotPlan> plans;
  TableMetadata m;
  std::string loc;
};

History BuildHistory(const std::string& location) {
  History h;
  h.m = NewEvents(location);
  const std::string data = location + "/data/";
  std::vector<SnapshotUpdate> updates(3);
  updates[0].added = {File(data + "event=click/ts_day=2025-11-20/a.parquet", "click", 20412, 10),
                      File(data + "event=view/ts_day=2025-11-20/b.parquet", "view", 20412, 5)};
  updates[0].extra_summary = {{"weir.dataset", "events"}, {"weir.run", "r1"}};
  updates[1].added = {File(data + "event=click/ts_day=2025-11-21/c.parquet", "click", 20413, 7)};
  updates[2].operation = "replace";
  updates[2].removed_paths = {data + "event=click/ts_day=2025-11-20/a.parquet",
                              data + "event=click/ts_day=2025-11-21/c.parquet"};
  updates[2].added = {File(data + "event=click/compacted.parquet", "click", 20412, 17)};
  int64_t t = 2000;
  for (size_t k = 0; k < updates.size(); ++k) {
    updates[k].timestamp_ms = t += 1000;
    updates[k].snapshot_id = 100 + static_cast<int64_t>(k);
    updates[k].commit_uuid = "00000000-0000-4000-8000-00000000000" + std::to_string(k);
    auto p = PlanSnapshot(h.m, h.loc, updates[k], h.st.Loader());
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) return h;
    h.st.Apply(*p);
    h.m = p->metadata;
    h.loc = p->metadata_location;
    h.plans.push_back(*p);
  }
  return h;
}

TEST(IcebergCommit, AppendsAndReplaceProduceTheSpecLayout) {
  History h = BuildHistory("/lake/events");
  ASSERT_EQ(h.plans.size(), 3u);
  const std::string meta = "/lake/events/metadata/";
  // File names: manifests, the manifest list, the metadata JSON.
  EXPECT_EQ(h.plans[0].files[0].location, meta + "00000000-0000-4000-8000-000000000000-m0.avro");
  EXPECT_EQ(h.plans[0].files[1].location,
            meta + "snap-100-1-00000000-0000-4000-8000-000000000000.avro");
  EXPECT_EQ(h.plans[0].files[2].location, meta + "v1.metadata.json");
  EXPECT_EQ(h.plans[2].metadata_location, meta + "v3.metadata.json");
  EXPECT_EQ(h.plans[2].version, 3);

  // Metadata: sequence numbers, parents, refs, logs.
  const TableMetadata& m = h.m;
  EXPECT_EQ(m.last_sequence_number, 3);
  ASSERT_EQ(m.snapshots.size(), 3u);
  EXPECT_FALSE(m.snapshots[0].parent_snapshot_id.has_value());
  EXPECT_EQ(m.snapshots[1].parent_snapshot_id, 100);
  EXPECT_EQ(m.snapshots[2].sequence_number, 3);
  EXPECT_EQ(m.current_snapshot_id, 102);
  EXPECT_EQ(m.refs.at("main").snapshot_id, 102);
  ASSERT_EQ(m.metadata_log.size(), 2u);
  EXPECT_EQ(m.metadata_log[1].metadata_file, meta + "v2.metadata.json");
  EXPECT_EQ(m.snapshot_log.size(), 3u);

  // Summaries.
  const auto& s0 = m.snapshots[0].summary;
  EXPECT_EQ(s0.at("operation"), "append");
  EXPECT_EQ(s0.at("added-data-files"), "2");
  EXPECT_EQ(s0.at("added-records"), "15");
  EXPECT_EQ(s0.at("changed-partition-count"), "2");
  EXPECT_EQ(s0.at("weir.dataset"), "events");
  const auto& s2 = m.snapshots[2].summary;
  EXPECT_EQ(s2.at("operation"), "replace");
  EXPECT_EQ(s2.at("deleted-data-files"), "2");
  EXPECT_EQ(s2.at("deleted-records"), "17");
  EXPECT_EQ(s2.at("added-records"), "17");
  EXPECT_EQ(s2.at("total-data-files"), "2");
  EXPECT_EQ(s2.at("total-records"), "22");
  EXPECT_EQ(s2.at("total-files-size"), std::to_string(1017 + 1005));

  // Each metadata file parses back to the plan's metadata.
  for (const auto& p : h.plans) {
    auto parsed = ParseTableMetadata(h.st.files.at(p.metadata_location), p.metadata_location);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(*parsed, p.metadata);
  }

  // Every snapshot stays readable with its own files (time travel).
  const std::string d = "/lake/events/data/";
  EXPECT_EQ(LivePaths(m, 100, h.st),
            (std::set<std::string>{d + "event=click/ts_day=2025-11-20/a.parquet",
                                   d + "event=view/ts_day=2025-11-20/b.parquet"}));
  EXPECT_EQ(LivePaths(m, 101, h.st).size(), 3u);
  EXPECT_EQ(LivePaths(m, 102, h.st),
            (std::set<std::string>{d + "event=click/compacted.parquet",
                                   d + "event=view/ts_day=2025-11-20/b.parquet"}));

  // Inherited values come back explicit; the replaced files keep their original sequence numbers.
  auto live = LiveEntries(m, 102, h.st.Loader());
  ASSERT_TRUE(live.ok());
  for (const auto& e : *live) {
    if (e.data_file.file_path == d + "event=view/ts_day=2025-11-20/b.parquet") {
      EXPECT_EQ(e.status, EntryStatus::kExisting);
      EXPECT_EQ(e.sequence_number, 1);
      EXPECT_EQ(e.snapshot_id, 100);
      EXPECT_EQ(e.data_file, File(d + "event=view/ts_day=2025-11-20/b.parquet", "view", 20412, 5));
    } else {
      EXPECT_EQ(e.status, EntryStatus::kAdded);
      EXPECT_EQ(e.sequence_number, 3);
      EXPECT_EQ(e.snapshot_id, 102);
    }
  }
}

TEST(IcebergCommit, ManifestListSummarizesPartitions) {
  History h = BuildHistory("/lake/events");
  ASSERT_EQ(h.plans.size(), 3u);
  auto list = ReadManifestList(h.st.files.at(h.m.snapshots[0].manifest_list), "list");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  const ManifestFile& mf = (*list)[0];
  EXPECT_EQ(mf.added_files_count, 2);
  EXPECT_EQ(mf.added_rows_count, 15);
  EXPECT_EQ(mf.sequence_number, 1);
  EXPECT_EQ(mf.min_sequence_number, 1);
  EXPECT_EQ(mf.added_snapshot_id, 100);
  EXPECT_EQ(mf.manifest_length, static_cast<int64_t>(h.st.files.at(mf.manifest_path).size()));
  ASSERT_EQ(mf.partitions.size(), 2u);
  EXPECT_FALSE(mf.partitions[0].contains_null);
  EXPECT_EQ(mf.partitions[0].lower_bound, "click");
  EXPECT_EQ(mf.partitions[0].upper_bound, "view");
  EXPECT_EQ(mf.partitions[1].lower_bound, Literal::Date(20412).ToBinary());

  // After the replace: the rewritten manifest (1 EXISTING + 2 DELETED) comes with the new one; the
  // manifest of snapshot 101, whose only file was removed, is rewritten too.
  auto last = ReadManifestList(h.st.files.at(h.m.snapshots[2].manifest_list), "list");
  ASSERT_TRUE(last.ok());
  int added = 0, existing = 0, deleted = 0;
  for (const auto& f : *last) {
    added += f.added_files_count;
    existing += f.existing_files_count;
    deleted += f.deleted_files_count;
    EXPECT_EQ(f.sequence_number, 3);
  }
  EXPECT_EQ(added, 1);
  EXPECT_EQ(existing, 1);
  EXPECT_EQ(deleted, 2);
}

TEST(IcebergCommit, RefusesInvalidUpdates) {
  History h = BuildHistory("/lake/events");
  ASSERT_EQ(h.plans.size(), 3u);
  SnapshotUpdate u;
  u.timestamp_ms = 99999;
  u.operation = "append";
  u.removed_paths = {"/lake/events/data/x.parquet"};
  auto r = PlanSnapshot(h.m, h.loc, u, h.st.Loader());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("append snapshot cannot remove"), std::string::npos);

  u.operation = "overwrite";
  r = PlanSnapshot(h.m, h.loc, u, h.st.Loader());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot remove /lake/events/data/x.parquet"),
            std::string::npos);

  u = {};
  u.timestamp_ms = 99999;
  u.operation = "merge";
  EXPECT_FALSE(PlanSnapshot(h.m, h.loc, u, h.st.Loader()).ok());

  u.operation = "append";
  u.added = {File("/lake/events/data/y.parquet", "click", 1, 1)};
  u.added[0].partition.pop_back();
  r = PlanSnapshot(h.m, h.loc, u, h.st.Loader());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("has 1 partition values"), std::string::npos);

  u.added = {File("/lake/events/data/y.parquet", "click", 1, 1)};
  u.added[0].partition[1] = Literal::Int(1);  // day transform gives a date, not an int
  EXPECT_FALSE(PlanSnapshot(h.m, h.loc, u, h.st.Loader()).ok());

  u.added = {File("/lake/events/data/y.parquet", "click", 1, 1)};
  u.snapshot_id = 101;  // taken
  EXPECT_FALSE(PlanSnapshot(h.m, h.loc, u, h.st.Loader()).ok());

  EXPECT_FALSE(PlanSnapshot(h.m, "/lake/events/metadata/current.json", u, h.st.Loader()).ok());
  EXPECT_EQ(*MetadataVersion("s3://b/t/metadata/v12.metadata.json"), 12);
  // Unique names (tables on S3): <N>-<uuid>, N zero-padded.
  EXPECT_EQ(*MetadataVersion("s3://b/t/metadata/00012-3f2a9c1e-0b7d-4f7e-9d4e-1c2b3a4d5e6f.metadata.json"), 12);
  EXPECT_EQ(*MetadataVersion("s3://b/t/metadata/00001-x.metadata.json"), 1);
  EXPECT_FALSE(MetadataVersion("s3://b/t/metadata/-x.metadata.json").ok());
  EXPECT_FALSE(MetadataVersion("s3://b/t/metadata/abc-x.metadata.json").ok());
  EXPECT_FALSE(MetadataVersion("s3://b/t/metadata/00001-x.json").ok());
}

TEST(IcebergCommit, UnpartitionedTableAndNullPartitionValues) {
  Store st;
  auto m = NewTableMetadata("/t", "u", EventSchema(), {}, {}, {}, 1);
  ASSERT_TRUE(m.ok());
  SnapshotUpdate u;
  u.timestamp_ms = 5;
  DataFile f;
  f.file_path = "/t/data/a.parquet";
  f.record_count = 3;
  f.file_size_in_bytes = 10;
  u.added = {f};
  auto p = PlanSnapshot(*m, "", u, st.Loader());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  st.Apply(*p);
  EXPECT_EQ(LivePaths(p->metadata, p->snapshot_id, st), std::set<std::string>{"/t/data/a.parquet"});

  // A null partition value is recorded as contains_null and has no bounds.
  auto pm = NewEvents("/e");
  SnapshotUpdate n;
  n.timestamp_ms = 5;
  DataFile g = File("/e/data/n.parquet", "x", 0, 1);
  g.partition = {OptionalLiteral(), Literal::Date(3)};
  n.added = {g};
  Store st2;
  auto p2 = PlanSnapshot(pm, "", n, st2.Loader());
  ASSERT_TRUE(p2.ok()) << p2.status().ToString();
  auto list = ReadManifestList(p2->files[1].bytes, "l");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE((*list)[0].partitions[0].contains_null);
  EXPECT_FALSE((*list)[0].partitions[0].lower_bound.has_value());
}

// The readers face files from storage: every truncation and many single-byte corruptions of a
// manifest and a manifest list give an error or a value, never a crash or an over-read (run under
// the ASan tree to see over-reads).
TEST(IcebergCommit, ReadersSurviveTruncationAndCorruption) {
  History h = BuildHistory("/lake/events");
  ASSERT_EQ(h.plans.size(), 3u);
  const std::string list = h.st.files.at(h.m.snapshots[0].manifest_list);
  auto mfs = ReadManifestList(list, "list");
  ASSERT_TRUE(mfs.ok());
  const ManifestFile& mf = (*mfs)[0];
  const std::string manifest = h.st.files.at(mf.manifest_path);
  const std::vector<Type> ptypes = *PartitionTypes(h.m.partition_specs[0], h.m.schemas[0]);
  // A list cut right after its header is a valid empty Avro file (Avro has no trailer); every
  // other cut is an error. Manifests are length-checked against their list entry.
  size_t header_size = 0;
  for (size_t n = 0; n < list.size(); ++n) {
    auto r = ReadManifestList(std::string_view(list).substr(0, n), "list");
    if (r.ok()) {
      EXPECT_TRUE(r->empty()) << n;
      EXPECT_EQ(header_size, 0u) << "two cut points read as valid: " << header_size << ", " << n;
      header_size = n;
    }
  }
  for (size_t n = 0; n < manifest.size(); ++n) {
    EXPECT_FALSE(ReadManifest(std::string_view(manifest).substr(0, n), ptypes, mf, "m").ok()) << n;
  }
  std::mt19937_64 rng(42);
  int failures = 0;
  for (int k = 0; k < 2000; ++k) {
    std::string bad = k % 2 ? list : manifest;
    bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    const bool ok =
        k % 2 ? ReadManifestList(bad, "list").ok() : ReadManifest(bad, ptypes, mf, "m").ok();
    failures += ok ? 0 : 1;
  }
  EXPECT_GT(failures, 0);
}

// ---- the independent reader ---------------------------------------------------------------------

const char* kPython = "/usr/bin/python3";

bool HavePythonAvro() {
  const std::string cmd = std::string(kPython) + " -c 'import avro.datafile' 2>/dev/null";
  return std::system(cmd.c_str()) == 0;
}

struct CheckerRun {
  int status = -1;
  std::string out;
};

CheckerRun RunChecker(const std::vector<std::string>& files) {
  std::string cmd = std::string(kPython) + " " WEIR_SOURCE_DIR "/tests/lake/iceberg_avro_check.py";
  for (const auto& f : files) cmd += " '" + f + "'";
  cmd += " 2>&1";
  CheckerRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  r.status = pclose(p);
  return r;
}

fs::path TempDir(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("weir_iceberg_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(IcebergPythonAvro, EveryManifestAndListValidatesAgainstTheSpec) {
  if (!HavePythonAvro())
    FAIL() << "python3-avro is not installed: run scripts/install-deps.sh";
  History h = BuildHistory("/lake/events");
  ASSERT_EQ(h.plans.size(), 3u);
  const fs::path dir = TempDir("check");
  std::vector<std::string> files;
  std::map<std::string, std::string> local_of;  // table location -> local copy
  std::vector<std::string> metadata_files;      // v1..v3.metadata.json, checked separately
  for (const auto& [loc, bytes] : h.st.files) {
    if (loc.size() < 5 || loc.substr(loc.size() - 5) != ".avro") {
      metadata_files.push_back((dir / fs::path(loc).filename()).string());
      std::ofstream(metadata_files.back(), std::ios::binary) << bytes;
      continue;
    }
    const fs::path local = dir / fs::path(loc).filename();
    std::ofstream(local, std::ios::binary) << bytes;
    files.push_back(local.string());
    local_of[loc] = local.string();
  }
  ASSERT_EQ(files.size(), 3u + 3u + 2u);  // 3 lists, 1+1+1 new manifests, 2 rewritten
  CheckerRun r = RunChecker(files);
  ASSERT_EQ(r.status, 0) << r.out;

  // Compare what python decoded with what we meant to write.
  std::map<std::string, nlohmann::json> decoded;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    decoded[j["path"].get<std::string>()] = j;
  }
  ASSERT_EQ(decoded.size(), files.size());
  ASSERT_EQ(metadata_files.size(), 3u);
  CheckerRun meta_run = RunChecker(metadata_files);
  EXPECT_EQ(meta_run.status, 0) << meta_run.out;
  const auto& first_list = decoded.at(local_of.at(h.m.snapshots[0].manifest_list));
  EXPECT_EQ(first_list["kind"], "manifest_list");
  ASSERT_EQ(first_list["records"].size(), 1u);
  const auto& mf = first_list["records"][0];
  EXPECT_EQ(mf["added_files_count"], 2);
  EXPECT_EQ(mf["added_rows_count"], 15);
  EXPECT_EQ(mf["added_snapshot_id"], 100);
  EXPECT_EQ(mf["partitions"][0]["lower_bound"], "636c69636b");  // "click"
  EXPECT_EQ(first_list["metadata"]["snapshot-id"], "100");

  const auto& manifest = decoded.at(local_of.at(mf["manifest_path"].get<std::string>()));
  EXPECT_EQ(manifest["kind"], "manifest");
  EXPECT_EQ(manifest["metadata"]["partition-spec-id"], "0");
  EXPECT_EQ(manifest["metadata"]["format-version"], "2");
  ASSERT_EQ(manifest["records"].size(), 2u);
  const auto& e0 = manifest["records"][0];
  EXPECT_EQ(e0["status"], 1);
  EXPECT_TRUE(e0["snapshot_id"].is_null());  // inherited
  EXPECT_EQ(e0["data_file"]["file_path"],
            "/lake/events/data/event=click/ts_day=2025-11-20/a.parquet");
  EXPECT_EQ(e0["data_file"]["file_format"], "PARQUET");
  EXPECT_EQ(e0["data_file"]["partition"]["event"], "click");
  EXPECT_EQ(e0["data_file"]["partition"]["ts_day"], 20412);
  EXPECT_EQ(e0["data_file"]["record_count"], 10);
  EXPECT_EQ(e0["data_file"]["value_counts"][0]["key"], 1);
  EXPECT_EQ(e0["data_file"]["upper_bounds"][0]["value"], "0a00000000000000");  // long 10
  EXPECT_EQ(e0["data_file"]["split_offsets"][0], 4);

  // The replace snapshot's rewritten manifest: DELETED entries carry ids and sequence numbers.
  int deleted = 0;
  for (const auto& [path, j] : decoded) {
    if (j["kind"] != "manifest") continue;
    for (const auto& rec : j["records"]) {
      if (rec["status"] == 2) {
        ++deleted;
        EXPECT_EQ(rec["snapshot_id"], 102);
        EXPECT_FALSE(rec["sequence_number"].is_null());
      }
    }
  }
  EXPECT_EQ(deleted, 2);
  fs::remove_all(dir);
}

// The checker must be able to fail: a manifest whose record_count has the wrong field id, and
// one without the v2 metadata keys, are both rejected.
TEST(IcebergPythonAvro, CheckerRejectsSpecViolations) {
  if (!HavePythonAvro())
    FAIL() << "python3-avro is not installed: run scripts/install-deps.sh";
  const fs::path dir = TempDir("neg");
  TableMetadata m = NewEvents("/e");
  std::vector<Type> ptypes = *PartitionTypes(m.partition_specs[0], m.schemas[0]);
  std::string schema = ManifestAvroSchema(m.partition_specs[0], ptypes);
  const std::string good_id = "\"name\":\"record_count\",\"type\":\"long\",\"field-id\":103";
  ASSERT_NE(schema.find(good_id), std::string::npos) << schema;

  auto write = [&](const std::string& name, const std::string& avro_schema, bool with_meta) {
    AvroContainerWriter w(avro_schema);
    if (with_meta) {
      EXPECT_TRUE(w.SetMetadata("schema", SchemaToJson(m.schemas[0])).ok());
      EXPECT_TRUE(w.SetMetadata("schema-id", "0").ok());
      EXPECT_TRUE(
          w.SetMetadata("partition-spec", PartitionFieldsToJson(m.partition_specs[0])).ok());
      EXPECT_TRUE(w.SetMetadata("partition-spec-id", "0").ok());
      EXPECT_TRUE(w.SetMetadata("format-version", "2").ok());
      EXPECT_TRUE(w.SetMetadata("content", "data").ok());
    }
    const fs::path p = dir / name;
    std::ofstream(p, std::ios::binary) << *w.Finish();
    return p.string();
  };
  // Control: the right schema with the right metadata passes.
  CheckerRun ok = RunChecker({write("good.avro", schema, true)});
  EXPECT_EQ(ok.status, 0) << ok.out;

  std::string wrong = schema;
  wrong.replace(wrong.find(good_id), good_id.size(),
                "\"name\":\"record_count\",\"type\":\"long\",\"field-id\":999");
  CheckerRun bad = RunChecker({write("bad_id.avro", wrong, true)});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("record_count: field-id 999, spec says 103"), std::string::npos)
      << bad.out;

  CheckerRun no_meta = RunChecker({write("no_meta.avro", schema, false)});
  EXPECT_NE(no_meta.status, 0);
  EXPECT_NE(no_meta.out.find("metadata key 'schema' missing"), std::string::npos) << no_meta.out;

  // Table metadata: a v2 file without last-sequence-number is rejected.
  std::string json = TableMetadataToJson(m);
  const std::string key = "\"last-sequence-number\": 0,";
  ASSERT_NE(json.find(key), std::string::npos);
  std::ofstream(dir / "v1.metadata.json") << json.replace(json.find(key), key.size(), "");
  CheckerRun bad_meta = RunChecker({(dir / "v1.metadata.json").string()});
  EXPECT_NE(bad_meta.status, 0);
  EXPECT_NE(bad_meta.out.find("key 'last-sequence-number' missing"), std::string::npos)
      << bad_meta.out;
  fs::remove_all(dir);
}

// Every partition result type weir can produce (identity of each column type, day and hour of a
// timestamp, year/month of a date) is encoded as the spec's Avro type and decodes to our values.
TEST(IcebergPythonAvro, EveryPartitionTypeValidates) {
  if (!HavePythonAvro())
    FAIL() << "python3-avro is not installed: run scripts/install-deps.sh";
  Schema schema = SchemaFromColumns({{"s", ColumnType::kString},
                                     {"i", ColumnType::kInt64},
                                     {"d", ColumnType::kDouble},
                                     {"b", ColumnType::kBool},
                                     {"ts", ColumnType::kTimestampMs},
                                     {"dt", ColumnType::kDate},
                                     {"j", ColumnType::kJson}});
  PartitionSpec spec{0,
                     {{1, 0, "s", Transform::kIdentity},
                      {2, 0, "i", Transform::kIdentity},
                      {3, 0, "d", Transform::kIdentity},
                      {4, 0, "b", Transform::kIdentity},
                      {5, 0, "ts", Transform::kIdentity},
                      {5, 0, "ts_day", Transform::kDay},
                      {5, 0, "ts_hour", Transform::kHour},
                      {6, 0, "dt", Transform::kIdentity},
                      {6, 0, "dt_year", Transform::kYear},
                      {6, 0, "dt_month", Transform::kMonth},
                      {7, 0, "j-son", Transform::kIdentity}}};
  auto m = NewTableMetadata("/p", "u", schema, spec, {}, {}, 1);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const int64_t ts = 1763646300123456;  // microseconds
  DataFile f;
  f.file_path = "/p/data/x.parquet";
  f.record_count = 1;
  f.file_size_in_bytes = 1;
  f.partition = {Literal::String("é"),
                 Literal::Long(-5),
                 Literal::Double(2.5),
                 Literal::Boolean(true),
                 Literal::TimestampTz(ts),
                 *ApplyTransform(Transform::kDay, Literal::TimestampTz(ts)).value(),
                 *ApplyTransform(Transform::kHour, Literal::TimestampTz(ts)).value(),
                 Literal::Date(20412),
                 Literal::Int(55),
                 Literal::Int(670),
                 OptionalLiteral()};
  SnapshotUpdate u;
  u.timestamp_ms = 7;
  u.added = {f};
  Store st;
  auto plan = PlanSnapshot(*m, "", u, st.Loader());
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  st.Apply(*plan);
  auto back = LiveEntries(plan->metadata, plan->snapshot_id, st.Loader());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].data_file.partition, f.partition);  // our reader

  const fs::path dir = TempDir("types");
  const fs::path manifest = dir / "m.avro", list = dir / "l.avro";
  std::ofstream(manifest, std::ios::binary) << plan->files[0].bytes;
  std::ofstream(list, std::ios::binary) << plan->files[1].bytes;
  CheckerRun r = RunChecker({manifest.string(), list.string()});
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
  const auto& p = j["records"][0]["data_file"]["partition"];
  EXPECT_EQ(p["s"], "é");
  EXPECT_EQ(p["i"], -5);
  EXPECT_EQ(p["d"], 2.5);
  EXPECT_EQ(p["b"], true);
  EXPECT_EQ(p["ts"], ts);  // python-avro decodes timestamp-micros; back to micros
  EXPECT_EQ(p["ts_day"], 20412);
  EXPECT_EQ(p["ts_hour"], 489901);
  EXPECT_EQ(p["dt"], 20412);
  EXPECT_EQ(p["dt_year"], 55);
  EXPECT_EQ(p["dt_month"], 670);
  EXPECT_TRUE(p["j_x2Dson"].is_null());  // '-' is not allowed in Avro names
  fs::remove_all(dir);
}

}  // namespace
}  // namespace weir::iceberg
