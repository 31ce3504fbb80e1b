// The history of an Iceberg lake table (exec/lake_history.h): snapshots, the partitions changed
// since a snapshot, time travel. Tables are built here with the Iceberg library (PlanSnapshot),
// their files written to a temporary folder and registered in a real store with
// MoveIcebergPointer, exactly what `weir run` leaves behind; readers go through OpenLakeTable.
#include "exec/lake_history.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "core/text.h"
#include "exec/iceberg_table.h"
#include "io/fs.h"
#include "lake/iceberg_datafile.h"
#include "lake/partitioned_buffer.h"

namespace weir {
namespace {

using iceberg::DataFile;
using iceberg::Literal;
using iceberg::PartitionSpec;
using iceberg::SnapshotUpdate;
using iceberg::Transform;

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kJune1 = 19875 * kDayMs;  // 2024-06-01T00:00:00Z

ColumnConfig Col(std::string name, ColumnType type, ColumnSource src = ColumnSource::kPath,
                 std::string from = "") {
  ColumnConfig c;
  c.name = std::move(name);
  c.path = "/" + c.name;
  c.type = type;
  c.source = src;
  c.from = std::move(from);
  return c;
}

// events(id, event_type, created_at, dt = date_of created_at, hr = hour_of created_at),
// partitioned by [event_type, dt, hr] as weir maps them: identity, day and hour transforms whose
// Iceberg names differ from the Hive names on purpose.
struct Table {
  std::string dir, location;
  DatasetConfig config;
  std::unique_ptr<Store> store;
  iceberg::TableMetadata m;
  std::string meta_loc;
  std::vector<int64_t> ids;         // snapshot ids in commit order
  std::vector<std::string> loaded;  // every location the recording loader was asked for

  explicit Table(const std::string& name) {
    dir = (std::filesystem::temp_directory_path() /
           ("weir-history-" + name + "-" + std::to_string(::getpid())))
              .string();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    location = dir + "/lake/events";
    config.name = "ev";
    config.dir = dir;
    config.write.location = dir + "/lake";
    config.write.table = "events";
    config.write.columns = {Col("id", ColumnType::kString), Col("event_type", ColumnType::kString),
                            Col("created_at", ColumnType::kTimestampMs),
                            Col("dt", ColumnType::kDate, ColumnSource::kDateOf, "created_at"),
                            Col("hr", ColumnType::kInt64, ColumnSource::kHourOf, "created_at")};
    config.write.partition_by = {"event_type", "dt", "hr"};
    auto s = Store::Open(dir + "/store.db", dir);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    store = std::move(s).value();
    std::vector<ColumnSchema> cols;
    for (const auto& c : config.write.columns) cols.push_back({c.name, c.type});
    PartitionSpec spec{0,
                       {{2, 0, "event_type", Transform::kIdentity},
                        {3, 0, "created_at_day", Transform::kDay},
                        {3, 0, "created_at_hour", Transform::kHour}}};
    auto nm = iceberg::NewTableMetadata(location, "9a7d3c1e-2b4f-4e6a-8c0d-1f2e3d4c5b6a",
                                        iceberg::SchemaFromColumns(cols), spec, {}, {}, 1000);
    EXPECT_TRUE(nm.ok()) << nm.status().ToString();
    m = *nm;
  }
  ~Table() {
    store.reset();
    std::filesystem::remove_all(dir);
  }

  iceberg::MetadataFileLoader Loader() {
    return [this](const std::string& loc) -> Result<std::string> {
      loaded.push_back(loc);
      return fs::ReadFile(loc);
    };
  }

  // The data file of `rows` events of one type at one instant (the partition the writer would
  // put them in); its path follows weir's layout.
  DataFile File(const std::string& event, int64_t ts_ms, int64_t rows, const std::string& name) {
    DataFile f;
    const int32_t day = static_cast<int32_t>(FloorDiv(ts_ms, kDayMs));
    f.partition = {Literal::String(event), Literal::Date(day),
                   Literal::Int(static_cast<int32_t>(FloorDiv(ts_ms, kHourMs)))};
    f.file_path = location + "/data/event_type=" + event + "/dt=" + FormatDate(day) +
                  "/hr=" + std::to_string(FloorMod(ts_ms, kDayMs) / kHourMs) + "/" + name +
                  ".parquet";
    f.record_count = rows;
    f.file_size_in_bytes = 100 + rows;
    return f;
  }

  // Plans a snapshot, writes its files and moves the store's pointer to it.
  int64_t Commit(SnapshotUpdate u, int64_t at_ms) {
    u.timestamp_ms = at_ms;
    u.extra_summary = {{"weir.dataset", "ev"},
                       {"weir.run", "run-" + std::to_string(ids.size() + 1)}};
    auto plan = iceberg::PlanSnapshot(m, meta_loc, u, LocalMetadataLoader());
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    if (!plan.ok()) return 0;
    for (const auto& f : plan->files) {
      EXPECT_TRUE(fs::CreateDirs(std::filesystem::path(f.location).parent_path().string()).ok());
      EXPECT_TRUE(fs::WriteFile(f.location, f.bytes).ok());
    }
    Status st = store->MoveIcebergPointer({"default", "events", meta_loc, plan->metadata_location});
    EXPECT_TRUE(st.ok()) << st.ToString();
    m = plan->metadata;
    meta_loc = plan->metadata_location;
    ids.push_back(plan->snapshot_id);
    return plan->snapshot_id;
  }
  int64_t Append(std::vector<DataFile> files, int64_t at_ms) {
    SnapshotUpdate u;
    u.added = std::move(files);
    return Commit(std::move(u), at_ms);
  }

  // What `weir lake expire` would leave: the metadata without `expired` snapshots (and their
  // snapshot-log entries), as a new metadata version the pointer moves to.
  void Expire(const std::set<int64_t>& expired, int64_t at_ms) {
    iceberg::TableMetadata next = m;
    std::erase_if(next.snapshots, [&](const auto& s) { return expired.count(s.snapshot_id) > 0; });
    std::erase_if(next.snapshot_log,
                  [&](const auto& e) { return expired.count(e.snapshot_id) > 0; });
    next.metadata_log.push_back({m.last_updated_ms, meta_loc});
    next.last_updated_ms = at_ms;
    const std::string loc = location + "/metadata/v" +
                            std::to_string(*iceberg::MetadataVersion(meta_loc) + 1) +
                            ".metadata.json";
    ASSERT_TRUE(fs::WriteFile(loc, iceberg::TableMetadataToJson(next)).ok());
    ASSERT_TRUE(store->MoveIcebergPointer({"default", "events", meta_loc, loc}).ok());
    m = next;
    meta_loc = loc;
  }

  LakeTable Open() {
    auto t = OpenLakeTable(config, *store);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_TRUE(t->has_value());
    return std::move(**t);
  }
};

// Three appends into overlapping partitions: late events land in older day partitions.
struct LateEvents {
  Table t;
  int64_t s1, s2, s3;
  explicit LateEvents(const std::string& name) : t(name) {
    s1 = t.Append({t.File("click", kJune1 + 5 * kHourMs, 10, "a"),
                   t.File("view", kJune1 + 5 * kHourMs, 4, "b")},
                  kJune1 + kDayMs);
    // Run 2: the next day, plus late clicks of June 1 05:xx.
    s2 = t.Append({t.File("click", kJune1 + 5 * kHourMs + 1234, 3, "c"),
                   t.File("click", kJune1 + kDayMs, 7, "d")},
                  kJune1 + 2 * kDayMs);
    // Run 3: late views of June 1 05:xx only.
    s3 = t.Append({t.File("view", kJune1 + 5 * kHourMs + 99, 2, "e")}, kJune1 + 3 * kDayMs);
  }
};

std::vector<std::string> Paths(const ChangesSince& c) {
  std::vector<std::string> out;
  for (const auto& p : c.partitions) out.push_back(p.path);
  return out;
}

TEST(LakeHistory, SnapshotsAreListedOldestFirstWithTheCurrentOneMarked) {
  LateEvents h("snapshots");
  LakeTable table = h.t.Open();
  EXPECT_EQ(table.hive_names, (std::vector<std::string>{"event_type", "dt", "hr"}));
  auto snaps = ListSnapshots(table.metadata);
  ASSERT_EQ(snaps.size(), 3u);
  EXPECT_EQ(snaps[0].snapshot_id, h.s1);
  EXPECT_FALSE(snaps[0].parent_snapshot_id.has_value());
  EXPECT_EQ(snaps[1].parent_snapshot_id, h.s1);
  EXPECT_EQ(snaps[2].snapshot_id, h.s3);
  EXPECT_EQ(snaps[1].operation, "append");
  EXPECT_EQ(snaps[1].added_files, 2);
  EXPECT_EQ(snaps[1].added_records, 10);
  EXPECT_EQ(snaps[1].total_records, 24);
  EXPECT_EQ(snaps[1].weir_run, "run-2");
  EXPECT_EQ(snaps[1].timestamp_ms, kJune1 + 2 * kDayMs);
  EXPECT_FALSE(snaps[0].current);
  EXPECT_FALSE(snaps[1].current);
  EXPECT_TRUE(snaps[2].current);
}

TEST(LakeHistory, ChangesSinceListExactlyThePartitionsOfLaterSnapshots) {
  LateEvents h("changes");
  LakeTable table = h.t.Open();
  table.load = h.t.Loader();  // records what is read
  auto c = ChangedPartitions(table.metadata, h.s1, table.load, table.hive_names);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->since, h.s1);
  EXPECT_FALSE(c->since_expired);
  EXPECT_EQ(c->to, h.s3);
  EXPECT_EQ(c->snapshots, (std::vector<int64_t>{h.s2, h.s3}));
  ASSERT_EQ(Paths(*c), (std::vector<std::string>{"event_type=click/dt=2024-06-01/hr=5",
                                                 "event_type=click/dt=2024-06-02/hr=0",
                                                 "event_type=view/dt=2024-06-01/hr=5"}));
  const PartitionChange& late_click = c->partitions[0];
  EXPECT_EQ(late_click.added_files, 1);
  EXPECT_EQ(late_click.added_records, 3);  // only run 2's file, not run 1's 10 rows
  EXPECT_EQ(late_click.deleted_files, 0);
  EXPECT_EQ(late_click.snapshots, (std::vector<int64_t>{h.s2}));
  using V = std::vector<std::pair<std::string, std::optional<std::string>>>;
  EXPECT_EQ(late_click.values, (V{{"event_type", "click"}, {"dt", "2024-06-01"}, {"hr", "5"}}));
  EXPECT_EQ(c->partitions[2].added_records, 2);
  EXPECT_EQ(c->partitions[2].snapshots, (std::vector<int64_t>{h.s3}));

  // Only the two snapshots' manifest lists and the manifests they added were read, never run 1's
  // manifest (which both later lists carry).
  EXPECT_EQ(c->manifests_read, 2);
  std::set<std::string> manifests;
  for (const auto& l : h.t.loaded) {
    if (l.find("/snap-") == std::string::npos) manifests.insert(l);
  }
  EXPECT_EQ(manifests.size(), 2u);
  for (const auto& l : manifests) {
    EXPECT_EQ(l.find(h.t.location + "/metadata/"), 0u) << l;
  }
  auto s1_list =
      iceberg::ReadManifestList(*fs::ReadFile(h.t.m.SnapshotById(h.s1)->manifest_list), "l");
  ASSERT_TRUE(s1_list.ok());
  for (const auto& mf : *s1_list)
    EXPECT_FALSE(manifests.count(mf.manifest_path)) << mf.manifest_path;

  // Since the last snapshot: nothing; since 0 (the start): every partition with every snapshot.
  auto none = ChangedPartitions(table.metadata, h.s3, table.load, table.hive_names);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->partitions.empty());
  EXPECT_TRUE(none->snapshots.empty());
  auto all = ChangedPartitions(table.metadata, 0, table.load, table.hive_names);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->snapshots, (std::vector<int64_t>{h.s1, h.s2, h.s3}));
  ASSERT_EQ(all->partitions.size(), 3u);
  EXPECT_EQ(all->partitions[0].added_records, 13);
  EXPECT_EQ(all->partitions[0].snapshots, (std::vector<int64_t>{h.s1, h.s2}));
  EXPECT_EQ(all->partitions[2].snapshots, (std::vector<int64_t>{h.s1, h.s3}));
}

TEST(LakeHistory, ReplaceAndOverwriteReportTheFilesTheyRemoved) {
  LateEvents h("replace");
  const std::string click1 = h.t.File("click", kJune1 + 5 * kHourMs, 10, "a").file_path;
  const std::string late = h.t.File("click", kJune1 + 5 * kHourMs, 3, "c").file_path;
  const std::string view = h.t.File("view", kJune1 + 5 * kHourMs, 4, "b").file_path;
  // Compaction of June 1 05:xx clicks: two files become one.
  SnapshotUpdate compact;
  compact.operation = "replace";
  compact.removed_paths = {click1, late};
  compact.added = {h.t.File("click", kJune1 + 5 * kHourMs, 13, "compacted")};
  const int64_t s4 = h.t.Commit(compact, kJune1 + 4 * kDayMs);
  // An overwrite drops the first views and writes nothing.
  SnapshotUpdate drop;
  drop.operation = "overwrite";
  drop.removed_paths = {view};
  const int64_t s5 = h.t.Commit(drop, kJune1 + 5 * kDayMs);

  LakeTable table = h.t.Open();
  auto c = ChangedPartitions(table.metadata, h.s3, table.load, table.hive_names);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->snapshots, (std::vector<int64_t>{s4, s5}));
  ASSERT_EQ(Paths(*c), (std::vector<std::string>{"event_type=click/dt=2024-06-01/hr=5",
                                                 "event_type=view/dt=2024-06-01/hr=5"}));
  const PartitionChange& click = c->partitions[0];
  EXPECT_EQ(click.added_files, 1);
  EXPECT_EQ(click.added_records, 13);
  EXPECT_EQ(click.deleted_files, 2);
  EXPECT_EQ(click.deleted_records, 13);
  EXPECT_EQ(click.snapshots, (std::vector<int64_t>{s4}));
  const PartitionChange& v = c->partitions[1];
  EXPECT_EQ(v.added_files, 0);
  EXPECT_EQ(v.deleted_files, 1);
  EXPECT_EQ(v.deleted_records, 4);
  EXPECT_EQ(v.snapshots, (std::vector<int64_t>{s5}));
  // The rewritten manifests also hold EXISTING entries (June 2 clicks, the late views): they
  // are not changes.
  for (const auto& p : c->partitions) EXPECT_EQ(p.path.find("dt=2024-06-02"), std::string::npos);

  auto snaps = ListSnapshots(table.metadata);
  ASSERT_EQ(snaps.size(), 5u);
  EXPECT_EQ(snaps[3].operation, "replace");
  EXPECT_EQ(snaps[3].deleted_files, 2);
  EXPECT_EQ(snaps[4].operation, "overwrite");
  EXPECT_EQ(snaps[4].deleted_records, 4);
  EXPECT_TRUE(snaps[4].current);
}

TEST(LakeHistory, UnknownSinceSnapshotIsAClearError) {
  LateEvents h("unknown");
  LakeTable table = h.t.Open();
  auto c = ChangedPartitions(table.metadata, 12345, table.load, table.hive_names);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("snapshot 12345 is not a snapshot of this table"),
            std::string::npos)
      << c.status().message();
}

TEST(LakeHistory, ExpiredSinceSnapshot) {
  LateEvents h("expired");
  // Run 1's snapshot expired, run 2's kept: its parent link still says what came after run 1,
  // so the answer stays exact and says the snapshot was expired.
  h.t.Expire({h.s1}, kJune1 + 4 * kDayMs);
  LakeTable table = h.t.Open();
  ASSERT_EQ(ListSnapshots(table.metadata).size(), 2u);
  auto c = ChangedPartitions(table.metadata, h.s1, table.load, table.hive_names);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->since_expired);
  EXPECT_EQ(c->snapshots, (std::vector<int64_t>{h.s2, h.s3}));
  EXPECT_EQ(c->partitions.size(), 3u);
  // Since the start is no longer known.
  auto all = ChangedPartitions(table.metadata, 0, table.load, table.hive_names);
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.status().message().find("first snapshots were expired"), std::string::npos)
      << all.status().message();
  EXPECT_NE(all.status().message().find("--since " + std::to_string(h.s1)), std::string::npos);

  // Run 2 expired too: what happened between run 1 and run 3 is gone; the older metadata file
  // still names run 1, so the message says it was expired rather than unknown.
  h.t.Expire({h.s2}, kJune1 + 5 * kDayMs);
  table = h.t.Open();
  c = ChangedPartitions(table.metadata, h.s1, table.load, table.hive_names);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("snapshot " + std::to_string(h.s1) + " was expired"),
            std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("--since " + std::to_string(h.s3)), std::string::npos);
  // Without the older metadata files, it cannot be told from an id that never existed.
  for (const auto& e : table.metadata.metadata_log) std::filesystem::remove(e.metadata_file);
  c = ChangedPartitions(table.metadata, h.s1, table.load, table.hive_names);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("or was expired"), std::string::npos);
}

TEST(LakeHistory, AsOfPicksTheLastSnapshotCommittedAtOrBeforeTheTime) {
  LateEvents h("asof");
  LakeTable table = h.t.Open();
  const auto& m = table.metadata;
  EXPECT_EQ(*SnapshotAsOf(m, kJune1 + kDayMs), h.s1);  // exactly its commit time
  EXPECT_EQ(*SnapshotAsOf(m, kJune1 + 2 * kDayMs - 1), h.s1);
  EXPECT_EQ(*SnapshotAsOf(m, kJune1 + 2 * kDayMs), h.s2);
  EXPECT_EQ(*SnapshotAsOf(m, kJune1 + 100 * kDayMs), h.s3);
  auto before = SnapshotAsOf(m, kJune1 + kDayMs - 1);
  ASSERT_FALSE(before.ok());
  EXPECT_NE(before.status().message().find(
                "2024-06-01T23:59:59.999Z is before the table's first snapshot, committed at "
                "2024-06-02T00:00:00.000Z"),
            std::string::npos)
      << before.status().message();
  // After expiry the old times are expired, not "before the first snapshot".
  h.t.Expire({h.s1}, kJune1 + 4 * kDayMs);
  table = h.t.Open();
  auto gone = SnapshotAsOf(table.metadata, kJune1 + kDayMs + 5);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find("were expired"), std::string::npos);
}

TEST(LakeHistory, AsOfTimeFormats) {
  EXPECT_EQ(*ParseAsOfTime("1717243200000"), 1717243200000);
  EXPECT_EQ(*ParseAsOfTime("2024-06-01T12:00:00Z"), 1717243200000);
  EXPECT_EQ(*ParseAsOfTime("2024-06-01T14:00:00+02:00"), 1717243200000);
  EXPECT_EQ(*ParseAsOfTime("2024-06-01 12:00:00.5"), 1717243200500);
  EXPECT_EQ(*ParseAsOfTime("2024-06-01"), 1717200000000);
  auto bad = ParseAsOfTime("yesterday");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--as-of 'yesterday'"), std::string::npos);
  EXPECT_FALSE(ParseAsOfTime("2024-13-01").ok());
  EXPECT_FALSE(ParseAsOfTime("").ok());
  EXPECT_FALSE(ParseAsOfTime("99999999999999999999").ok());
}

TEST(LakeHistory, SnapshotFilesAreEachSnapshotsLiveFiles) {
  LateEvents h("files");
  LakeTable table = h.t.Open();
  auto f1 = SnapshotFiles(table, h.s1);
  ASSERT_TRUE(f1.ok()) << f1.status().ToString();
  ASSERT_EQ(f1->size(), 2u);
  EXPECT_EQ((*f1)[0].path, h.t.File("click", kJune1 + 5 * kHourMs, 10, "a").file_path);
  EXPECT_EQ((*f1)[0].rows, 10u);
  EXPECT_EQ((*f1)[0].bytes, 110u);
  EXPECT_EQ((*f1)[0].partition, "event_type=click/dt=2024-06-01/hr=5");
  EXPECT_EQ(SnapshotFiles(table, h.s3)->size(), 5u);
  auto missing = SnapshotFiles(table, 777);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

// The Hive path computed from an Iceberg partition tuple is the folder weir's writer uses for
// the same rows: the tuple comes from DescribeDataFile and the folder from PartitionValueText
// over the same columns, including times before 1970, nulls, empty and escaped strings.
TEST(LakeHistory, HivePathOfATupleIsTheWritersFolder) {
  const std::vector<ColumnSchema> cols = {
      {"event_type", ColumnType::kString}, {"created_at", ColumnType::kTimestampMs},
      {"dt", ColumnType::kDate},           {"hr", ColumnType::kInt64},
      {"n", ColumnType::kInt64},           {"ok", ColumnType::kBool},
      {"x", ColumnType::kDouble}};
  const iceberg::Schema schema = iceberg::SchemaFromColumns(cols);
  PartitionSpec spec{0,
                     {{1, 1000, "event_type", Transform::kIdentity},
                      {2, 1001, "created_at_day", Transform::kDay},
                      {2, 1002, "created_at_hour", Transform::kHour},
                      {5, 1003, "n", Transform::kIdentity},
                      {6, 1004, "ok", Transform::kIdentity},
                      {7, 1005, "x", Transform::kIdentity},
                      {2, 1006, "created_at", Transform::kIdentity}}};
  const std::vector<std::string> names = {"event_type", "dt", "hr", "n", "ok", "x", "created_at"};
  struct Row {
    std::optional<std::string> event;
    int64_t ts;
    std::optional<int64_t> n;
  };
  const std::vector<Row> rows = {{"click", kJune1 + 5 * kHourMs + 7, 3},
                                 {"a/b=c%d", -1, -42},  // 1969-12-31T23:59:59.999Z
                                 {"", -25 * kHourMs, std::nullopt},
                                 {std::nullopt, 0, 0},
                                 {"ünï", 253402300799999, 1}};  // 9999-12-31T23:59:59.999Z
  for (const Row& r : rows) {
    std::vector<ColumnBuffer> data;
    for (const auto& c : cols) data.emplace_back(c.type);
    r.event ? data[0].AppendString(*r.event) : data[0].AppendNull();
    data[1].AppendInt64(r.ts);
    data[2].AppendDate(static_cast<int32_t>(FloorDiv(r.ts, kDayMs)));
    data[3].AppendInt64(FloorMod(r.ts, kDayMs) / kHourMs);
    r.n ? data[4].AppendInt64(*r.n) : data[4].AppendNull();
    data[5].AppendBool(r.ts < 0);
    data[6].AppendDouble(0.1 * static_cast<double>(r.ts % 7));
    std::vector<const ColumnBuffer*> ptrs;
    for (const auto& d : data) ptrs.push_back(&d);
    auto described = iceberg::DescribeDataFile(schema, spec, cols, ptrs, "/x.parquet", 1);
    ASSERT_TRUE(described.ok()) << described.status().ToString();
    std::string folder;
    const std::vector<int> col_of = {0, 2, 3, 4, 5, 6, 1};
    for (size_t i = 0; i < names.size(); ++i) {
      folder += (i ? "/" : "") + names[i] + "=" + PartitionValueText(data[col_of[i]], 0);
    }
    std::vector<std::pair<std::string, std::optional<std::string>>> values;
    auto path = HivePartitionPath(spec, described->partition, names, &values);
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    EXPECT_EQ(*path, folder);
    // NULL and "" share the Hive NULL folder; both report a null value, others their text.
    ASSERT_EQ(values.size(), names.size());
    EXPECT_EQ(values[0].first, "event_type");
    if (r.event && !r.event->empty()) {
      EXPECT_EQ(values[0].second, r.event);
    } else {
      EXPECT_EQ(values[0].second, std::nullopt);
    }
  }
  // A spec whose field count differs from the names given uses the spec's own names.
  PartitionSpec one{0, {{1, 1000, "event_type", Transform::kIdentity}}};
  EXPECT_EQ(*HivePartitionPath(one, {Literal::String("x")}, names), "event_type=x");
  EXPECT_FALSE(HivePartitionPath(one, {}, {}).ok());
}

}  // namespace
}  // namespace weir
