// Lake history through the real binary: `weir lake snapshots`, `weir lake changes --since`
// (the dirty partitions a downstream job recomputes) and time travel (`weir query --snapshot`,
// `--as-of`). Expected answers are computed independently: by DuckDB over the data files, and
// from the inputs each commit wrote.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "e2e_util.h"
#include "exec/store.h"
#include "io/fs.h"
#include "lake/iceberg_commit.h"

namespace weir::e2e {
namespace {

const char* kEventsYaml = R"(name: ev
read: {connector: files, location: in, manifest: in/manifest.txt, parser: jsonl}
write:
  connector: lake
  location: lake
  table: events
  partition_by: [event_type, dt, hr]
  columns:
    id:         {path: /id, type: string, required: true}
    event_type: {path: /type, type: string, required: true}
    created_at: {path: /ts, type: timestamp_ms, required: true}
    dt:         {date_of: created_at}
    hr:         {hour_of: created_at}
errors:
  location: errors
)";

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kJune1 = 19875 * kDayMs;  // 2024-06-01T00:00:00Z

// A table made the way weir's commit path makes one, without `weir run`: Parquet files with every
// column (partition columns included) written by DuckDB into the Hive folders, Iceberg metadata
// from the library, the store's iceberg_tables pointer moved to each new version. It pins the
// readers' contract independently of the writer.
struct HandmadeTable {
  std::string dir, location, meta_loc;
  iceberg::TableMetadata m;
  std::unique_ptr<Store> store;
  Duck duck;

  explicit HandmadeTable(const std::string& name) {
    dir = TempDir(name);
    location = dir + "/lake/events";
    WriteAll(dir + "/dataset.yaml", kEventsYaml);
    WriteAll(dir + "/in/manifest.txt", "a.jsonl\n");
    WriteAll(dir + "/in/a.jsonl", "");
    auto s = Store::Open(dir + "/.weir/store.db", dir);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    store = std::move(s).value();
    const std::vector<ColumnSchema> cols = {{"id", ColumnType::kString},
                                            {"event_type", ColumnType::kString},
                                            {"created_at", ColumnType::kTimestampMs},
                                            {"dt", ColumnType::kDate},
                                            {"hr", ColumnType::kInt64}};
    iceberg::PartitionSpec spec{0,
                                {{2, 0, "event_type", iceberg::Transform::kIdentity},
                                 {3, 0, "created_at_day", iceberg::Transform::kDay},
                                 {3, 0, "created_at_hour", iceberg::Transform::kHour}}};
    m = *iceberg::NewTableMetadata(location, iceberg::NewUuid(), iceberg::SchemaFromColumns(cols),
                                   spec, {}, {}, kJune1);
  }

  // Writes `rows` events of one type at `ts` (+ i ms) as one data file and describes it. The
  // file is in weir's Hive folder, or with `iceberg_folders` where an Iceberg engine (Spark's
  // compaction) puts it: folders named after the partition fields, which Iceberg readers ignore.
  iceberg::DataFile File(const std::string& event, int64_t ts, int rows, const std::string& name,
                         bool iceberg_folders = false) {
    const int32_t day = static_cast<int32_t>(ts / kDayMs);
    const int64_t hour = ts % kDayMs / kHourMs;
    const std::string date = duck.One("SELECT DATE '1970-01-01' + " + std::to_string(day));
    const std::string path =
        location + "/data/event_type=" + event +
        (iceberg_folders
             ? "/created_at_day=" + date + "/created_at_hour=" + std::to_string(ts / kHourMs)
             : "/dt=" + date + "/hr=" + std::to_string(hour)) +
        "/" + name + ".parquet";
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    const std::string copy = "COPY (SELECT '" + name + "-' || i AS id, '" + event +
                             "' AS event_type, make_timestamptz((" + std::to_string(ts) +
                             " + i) * 1000) AS created_at, DATE '1970-01-01' + " +
                             std::to_string(day) + " AS dt, " + std::to_string(hour) +
                             "::BIGINT AS hr FROM range(" + std::to_string(rows) + ") t(i)) TO '" +
                             path + "' (FORMAT parquet)";
    EXPECT_EQ(duck.Rows(copy).size(), 1u) << copy;
    iceberg::DataFile f;
    f.file_path = path;
    f.partition = {iceberg::Literal::String(event), iceberg::Literal::Date(day),
                   iceberg::Literal::Int(static_cast<int32_t>(ts / kHourMs))};
    f.record_count = rows;
    f.file_size_in_bytes = static_cast<int64_t>(std::filesystem::file_size(path));
    return f;
  }

  int64_t Commit(iceberg::SnapshotUpdate u, int64_t at_ms) {
    u.timestamp_ms = at_ms;
    auto plan =
        iceberg::PlanSnapshot(m, meta_loc, u, [](const std::string& l) { return fs::ReadFile(l); });
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    for (const auto& f : plan->files) WriteAll(f.location, f.bytes);
    EXPECT_TRUE(
        store->MoveIcebergPointer({"default", "events", meta_loc, plan->metadata_location}).ok());
    m = plan->metadata;
    meta_loc = plan->metadata_location;
    return plan->snapshot_id;
  }

  std::string Yaml() const { return dir + "/dataset.yaml"; }
};

int64_t CountOf(const std::string& query_out) {
  // `--format csv` of a single count: header line, then the number.
  auto nl = query_out.find('\n');
  return nl == std::string::npos ? -1 : std::stoll(query_out.substr(nl + 1));
}

TEST(LakeHistoryE2E, HandmadeTableSnapshotsChangesAndTimeTravel) {
  HandmadeTable t("history-handmade");
  iceberg::SnapshotUpdate u1, u2, u3;
  u1.added = {t.File("click", kJune1 + 5 * kHourMs, 10, "a"),
              t.File("view", kJune1 + 5 * kHourMs, 4, "b")};
  u1.extra_summary = {{"weir.run", "run-1"}};
  const int64_t s1 = t.Commit(u1, kJune1 + kDayMs);
  u2.added = {t.File("click", kJune1 + 5 * kHourMs + 1234, 3, "c"),
              t.File("click", kJune1 + kDayMs, 7, "d")};
  const int64_t s2 = t.Commit(u2, kJune1 + 2 * kDayMs);
  // A compaction by another engine: the two June 1 05:xx click files become one, in a folder
  // named after the Iceberg partition fields (a reader must take dt and hr from the file).
  u3.operation = "replace";
  u3.removed_paths = {u1.added[0].file_path, u2.added[0].file_path};
  u3.added = {t.File("click", kJune1 + 5 * kHourMs, 13, "compacted", true)};
  const int64_t s3 = t.Commit(u3, kJune1 + 3 * kDayMs);

  // Snapshots, oldest first, the current one marked.
  CmdResult r = Weir("lake snapshots " + t.Yaml() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["snapshots"].size(), 3u);
  EXPECT_EQ(j["current_snapshot_id"], s3);
  EXPECT_EQ(j["snapshots"][0]["snapshot_id"], s1);
  EXPECT_TRUE(j["snapshots"][0]["parent_snapshot_id"].is_null());
  EXPECT_EQ(j["snapshots"][0]["time"], "2024-06-02T00:00:00.000Z");
  EXPECT_EQ(j["snapshots"][0]["weir_run"], "run-1");
  EXPECT_EQ(j["snapshots"][0]["added_records"], 14);
  EXPECT_EQ(j["snapshots"][1]["parent_snapshot_id"], s1);
  EXPECT_EQ(j["snapshots"][2]["operation"], "replace");
  EXPECT_EQ(j["snapshots"][2]["deleted_files"], 2);
  EXPECT_EQ(j["snapshots"][2]["current"], true);
  EXPECT_EQ(j["snapshots"][1]["current"], false);
  r = Weir("lake snapshots " + t.Yaml());
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("* " + std::to_string(s3)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 snapshot(s) of table 'events'"), std::string::npos) << r.out;

  // Changes after run 1: June 1 05h clicks (late events, then compacted), June 2 clicks.
  r = Weir("lake changes " + t.Yaml() + " --since " + std::to_string(s1) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["since"], s1);
  EXPECT_EQ(j["to"], s3);
  EXPECT_EQ(j["snapshots"], nlohmann::json({s2, s3}));
  ASSERT_EQ(j["partitions"].size(), 2u) << r.out;
  EXPECT_EQ(j["partitions"][0]["partition"], "event_type=click/dt=2024-06-01/hr=5");
  EXPECT_EQ(j["partitions"][0]["values"],
            nlohmann::json({{"event_type", "click"}, {"dt", "2024-06-01"}, {"hr", "5"}}));
  EXPECT_EQ(j["partitions"][0]["added_records"], 3 + 13);
  EXPECT_EQ(j["partitions"][0]["deleted_records"], 13);
  EXPECT_EQ(j["partitions"][0]["snapshots"], nlohmann::json({s2, s3}));
  EXPECT_EQ(j["partitions"][1]["partition"], "event_type=click/dt=2024-06-02/hr=0");
  r = Weir("lake changes " + t.Yaml() + " --since " + std::to_string(s1));
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(
      r.out.find("event_type=click/dt=2024-06-02/hr=0  +1 file(s) +7 record(s)  by snapshot " +
                 std::to_string(s2)),
      std::string::npos)
      << r.out;
  // Unknown id.
  r = Weir("lake changes " + t.Yaml() + " --since 42 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("snapshot 42 is not a snapshot of this table"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("weir lake snapshots " + t.Yaml()), std::string::npos) << r.out;

  // Time travel: each snapshot reads exactly its files, counted by DuckDB.
  for (int64_t s : {s1, s2, s3}) {
    auto live = iceberg::LiveEntries(t.m, s, [](const std::string& l) { return fs::ReadFile(l); });
    ASSERT_TRUE(live.ok());
    std::string list;
    for (const auto& e : *live) list += (list.empty() ? "'" : ", '") + e.data_file.file_path + "'";
    const std::string expected = t.duck.One("SELECT count(*) FROM read_parquet([" + list + "])");
    r = Weir("query " + t.Yaml() + " 'SELECT count(*) FROM events' --format csv --snapshot " +
             std::to_string(s));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(std::to_string(CountOf(r.out)), expected) << "snapshot " << s;
  }
  // Partition columns come once, with their types, and agree with the rows' own times.
  r = Weir("query " + t.Yaml() +
           " \"SELECT count(*), count(DISTINCT dt), min(typeof(dt)), min(typeof(hr)), "
           "count(*) FILTER (WHERE dt <> created_at::DATE OR hr <> hour(created_at)) FROM events\" "
           "--format csv --snapshot " +
           std::to_string(s2));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.substr(r.out.find('\n') + 1), "24,2,DATE,BIGINT,0\n");
  r = Weir("query " + t.Yaml() + " 'SELECT * FROM events LIMIT 1' --format json --snapshot " +
           std::to_string(s1));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 5u) << r.out;
  r = Weir("query " + t.Yaml() +
           " \"SELECT count(*), count(DISTINCT dt), count(*) FILTER (WHERE dt <> created_at::DATE "
           "OR hr <> hour(created_at)) FROM events\" --format csv --snapshot " +
           std::to_string(s3));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.substr(r.out.find('\n') + 1), "24,2,0\n");

  // --as-of: the last snapshot committed at or before the time.
  auto as_of = [&](const std::string& when) {
    return Weir("query " + t.Yaml() + " 'SELECT count(*) FROM events' --format csv --as-of " +
                when + " 2>&1");
  };
  EXPECT_EQ(CountOf(as_of("2024-06-02T00:00:00Z").out), 14);
  EXPECT_EQ(CountOf(as_of(std::to_string(kJune1 + 2 * kDayMs - 1)).out), 14);
  EXPECT_EQ(CountOf(as_of("2024-06-03").out), 24);
  EXPECT_EQ(CountOf(as_of("2030-01-01T00:00:00+02:00").out), 24);
  r = as_of("2024-06-01T23:59:59Z");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(
      r.out.find("is before the table's first snapshot, committed at 2024-06-02T00:00:00.000Z"),
      std::string::npos)
      << r.out;
  r = as_of("tomorrow");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("--as-of 'tomorrow'"), std::string::npos) << r.out;
  r = Weir("query " + t.Yaml() + " 'SELECT 1' --snapshot 42 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("snapshot 42 is not a snapshot of table 'events'"), std::string::npos)
      << r.out;
  r = Weir("query " + t.Yaml() + " 'SELECT 1' --snapshot 1 --as-of 2024-06-03 2>&1");
  EXPECT_NE(r.exit_code, 0);
}

TEST(LakeHistoryE2E, TableWithoutSnapshots) {
  HandmadeTable t("history-empty");
  CmdResult r = Weir("lake snapshots " + t.Yaml() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["snapshots"].empty());
  EXPECT_TRUE(j["current_snapshot_id"].is_null());
  r = Weir("lake changes " + t.Yaml() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(nlohmann::json::parse(r.out)["partitions"].empty());
  r = Weir("query " + t.Yaml() + " 'SELECT 1' --snapshot 5 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("has no Iceberg snapshot yet"), std::string::npos) << r.out;

  // A Hive table has no snapshots at all, and says so.
  std::string hive = kEventsYaml;
  const std::string table_line = "  table: events\n";
  hive.replace(hive.find(table_line), table_line.size(), table_line + "  table_format: hive\n");
  WriteAll(t.Yaml(), hive);
  r = Weir("query " + t.Yaml() + " 'SELECT 1' --as-of 2024-06-01 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("time travel reads Iceberg snapshots; table 'events' is a Hive table"),
            std::string::npos)
      << r.out;
  r = Weir("lake snapshots " + t.Yaml());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("is a Hive table (write.table_format: hive), which has no snapshots"),
            std::string::npos)
      << r.out;
}

// ---- driven by `weir run` ----

// `n` events of `type` starting at `start_ms`, one every `step_ms`, as JSON lines; ids are
// `<prefix>-<i>`.
std::string Events(const std::string& prefix, const std::string& type, int64_t start_ms,
                   int64_t step_ms, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += "{\"id\":\"" + prefix + "-" + std::to_string(i) + "\",\"type\":\"" + type +
         "\",\"ts\":" + std::to_string(start_ms + i * step_ms) + "}\n";
  }
  return s;
}

// The lake's current metadata, read from the location `weir lake snapshots --json` reports.
iceberg::TableMetadata CurrentMetadata(const nlohmann::json& snapshots) {
  const std::string loc = snapshots["metadata_location"];
  auto bytes = fs::ReadFile(loc);
  EXPECT_TRUE(bytes.ok()) << loc;
  auto m = iceberg::ParseTableMetadata(*bytes, loc);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

// The Hive partitions (event_type=X/dt=YYYY-MM-DD/hr=H) and row counts of JSON-lines inputs,
// computed by DuckDB from the input files alone.
std::map<std::string, int64_t> InputPartitions(Duck& duck, const std::vector<std::string>& files) {
  std::string list;
  for (const auto& f : files) list += (list.empty() ? "'" : ", '") + f + "'";
  auto rows = duck.Rows(
      "SELECT 'event_type=' || type || '/dt=' || strftime(to_timestamp(ts / 1000)::DATE, "
      "'%Y-%m-%d') || '/hr=' || hour(to_timestamp(ts / 1000)), count(*) FROM read_json([" +
      list + "], columns = {id: 'VARCHAR', type: 'VARCHAR', ts: 'BIGINT'}) GROUP BY 1");
  std::map<std::string, int64_t> out;
  for (const auto& r : rows) {
    EXPECT_EQ(r.size(), 2u) << r[0];
    if (r.size() == 2) out[r[0]] = std::stoll(r[1]);
  }
  return out;
}

// Three runs; runs 2 and 3 bring late events into the day partitions of earlier runs. The
// partitions `lake changes --since <run 1's last snapshot>` lists are exactly those of the later
// inputs (computed by DuckDB from the input files), with their record counts; every snapshot
// reads exactly the rows of the files it lists; --as-of picks per the commit times.
TEST(LakeHistoryE2E, LateEventsAcrossRunsAreTheChangedPartitions) {
  const std::string dir = TempDir("history-runs");
  const std::string yaml = dir + "/dataset.yaml";
  WriteAll(yaml, std::string(kEventsYaml) + "compute: {workers: 2}\n");
  const int64_t june1 = kJune1, june2 = kJune1 + kDayMs, june3 = kJune1 + 2 * kDayMs;
  // Run 1: June 1 and 2.
  WriteAll(dir + "/in/r1a.jsonl", Events("r1a", "click", june1 + 1000, 97 * 60000, 40) +
                                      Events("r1a-v", "view", june1 + 3 * kHourMs, 53 * 60000, 30));
  WriteAll(dir + "/in/r1b.jsonl", Events("r1b", "buy", june2 + 7 * kHourMs, 61000, 25) +
                                      Events("r1b-c", "click", june2, 31 * 60000, 20));
  // Run 2: June 3, plus clicks late into June 1 (hours that already hold rows, and one new).
  WriteAll(dir + "/in/r2.jsonl", Events("r2", "view", june3 + 2 * kHourMs, 45000, 15) +
                                     Events("r2-late", "click", june1 + 5 * kHourMs + 17, 1000, 6) +
                                     Events("r2-late2", "click", june1 + 23 * kHourMs, 1000, 2));
  // Run 3: views late into June 2, buys late into June 1 (a partition nobody wrote before).
  WriteAll(dir + "/in/r3a.jsonl", Events("r3a", "view", june2 + 11 * kHourMs, 120000, 9));
  WriteAll(dir + "/in/r3b.jsonl", Events("r3b", "buy", june1 + 8 * kHourMs + 5, 1, 4));
  const std::vector<std::vector<std::string>> runs = {
      {"r1a.jsonl", "r1b.jsonl"}, {"r2.jsonl"}, {"r3a.jsonl", "r3b.jsonl"}};

  Duck duck;
  std::string manifest;
  std::vector<int64_t> last_snapshot;  // the current snapshot after each run
  std::vector<int64_t> rows_after;     // input rows so far after each run
  int64_t rows = 0;
  for (const auto& run : runs) {
    std::vector<std::string> paths;
    for (const auto& f : run) {
      manifest += f + "\n";
      paths.push_back(dir + "/in/" + f);
    }
    WriteAll(dir + "/in/manifest.txt", manifest);
    CmdResult r = Weir("run " + yaml + " --json --no-progress 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    for (const auto& [p, n] : InputPartitions(duck, paths)) rows += n;
    rows_after.push_back(rows);
    r = Weir("lake snapshots " + yaml + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    last_snapshot.push_back(nlohmann::json::parse(r.out)["current_snapshot_id"].get<int64_t>());
  }

  // Changes after run 1 = the partitions of runs 2 and 3's inputs, with their row counts.
  std::map<std::string, int64_t> expected =
      InputPartitions(duck, {dir + "/in/r2.jsonl", dir + "/in/r3a.jsonl", dir + "/in/r3b.jsonl"});
  ASSERT_GE(expected.size(), 5u);
  ASSERT_TRUE(expected.count("event_type=click/dt=2024-06-01/hr=5"));  // late, into an old hour
  CmdResult r =
      Weir("lake changes " + yaml + " --since " + std::to_string(last_snapshot[0]) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto changes = nlohmann::json::parse(r.out);
  EXPECT_EQ(changes["to"], last_snapshot[2]);
  std::map<std::string, int64_t> got;
  for (const auto& p : changes["partitions"]) {
    got[p["partition"]] = p["added_records"].get<int64_t>();
    EXPECT_EQ(p["deleted_files"], 0) << p.dump();
  }
  EXPECT_EQ(got, expected);
  // After run 2: only run 3's partitions.
  r = Weir("lake changes " + yaml + " --since " + std::to_string(last_snapshot[1]) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  got.clear();
  const auto after_run2 = nlohmann::json::parse(r.out);
  EXPECT_EQ(after_run2["since"], last_snapshot[1]);
  for (const auto& p : after_run2["partitions"]) {
    got[p["partition"]] = p["added_records"].get<int64_t>();
  }
  EXPECT_EQ(got, InputPartitions(duck, {dir + "/in/r3a.jsonl", dir + "/in/r3b.jsonl"}));

  // Every changed partition is a folder weir wrote: the Hive path matches the file paths.
  r = Weir("lake snapshots " + yaml + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto snaps = nlohmann::json::parse(r.out);
  const iceberg::TableMetadata m = CurrentMetadata(snaps);
  auto load = [](const std::string& l) { return fs::ReadFile(l); };
  auto live = iceberg::LiveEntries(m, last_snapshot[2], load);
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  std::set<std::string> folders;
  for (const auto& e : *live) {
    const std::string rel = e.data_file.file_path.substr(e.data_file.file_path.find("/data/") + 6);
    folders.insert(rel.substr(0, rel.rfind('/')));
  }
  for (const auto& [p, n] : expected) EXPECT_TRUE(folders.count(p)) << p;

  // Time travel: each snapshot's query counts exactly the rows DuckDB counts in the files it
  // lists; the last snapshot of each run holds exactly the inputs so far.
  ASSERT_GE(snaps["snapshots"].size(), 3u);
  std::map<int64_t, int64_t> count_of;
  for (const auto& s : snaps["snapshots"]) {
    const int64_t id = s["snapshot_id"];
    auto files = iceberg::LiveEntries(m, id, load);
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    std::string list;
    for (const auto& e : *files) list += (list.empty() ? "'" : ", '") + e.data_file.file_path + "'";
    const int64_t expected_rows =
        list.empty() ? 0
                     : std::stoll(duck.One("SELECT count(*) FROM read_parquet([" + list + "])"));
    r = Weir("query " + yaml + " 'SELECT count(*) FROM events' --format csv --snapshot " +
             std::to_string(id));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(CountOf(r.out), expected_rows) << "snapshot " << id;
    EXPECT_EQ(s["total_records"], expected_rows) << "snapshot " << id;
    count_of[id] = expected_rows;
  }
  for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(count_of[last_snapshot[i]], rows_after[i]);

  // --as-of each snapshot-log time reads the last snapshot committed at or before it.
  for (size_t i = 0; i < m.snapshot_log.size(); ++i) {
    const int64_t t = m.snapshot_log[i].timestamp_ms;
    int64_t want = 0;
    for (const auto& e : m.snapshot_log) {
      if (e.timestamp_ms <= t) want = e.snapshot_id;
    }
    r = Weir("query " + yaml + " 'SELECT count(*) FROM events' --format csv --as-of " +
             std::to_string(t));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(CountOf(r.out), count_of[want]) << "as of " << t;
  }
  r = Weir("query " + yaml + " 'SELECT 1' --as-of " +
           std::to_string(m.snapshot_log.front().timestamp_ms - 1) + " 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("is before the table's first snapshot"), std::string::npos) << r.out;
  // The current view and the current snapshot agree.
  r = Weir("query " + yaml + " 'SELECT count(*) FROM events' --format csv");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(CountOf(r.out), rows);
}

}  // namespace
}  // namespace weir::e2e
