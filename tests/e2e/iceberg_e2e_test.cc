// End-to-end tests of Iceberg lake tables (exec/iceberg_table.h): `weir run` on the clickstream
// dataset, then the table read by independent readers: the npm Iceberg reader `icebird` over HTTP
// (through version-hint.text, as path-based readers open a table), Debian's python3-avro checking
// every manifest and manifest list against the spec's schemas, and DuckDB reading the data files.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "clickstream_util.h"
#include "e2e_util.h"

namespace weir::e2e {
namespace {

namespace fs = std::filesystem;

std::string MetadataDir(const std::string& dir) { return dir + "/lake/events/metadata"; }

// The current metadata as path-based readers find it: version-hint.text names v<N>.metadata.json.
nlohmann::json CurrentMetadata(const std::string& dir) {
  const std::string hint = ReadAll(MetadataDir(dir) + "/version-hint.text");
  return nlohmann::json::parse(ReadAll(MetadataDir(dir) + "/v" + hint + ".metadata.json"));
}

// The store's pointer to the current metadata (Iceberg's JDBC-catalog table `iceberg_tables`),
// read with Python's sqlite3 module: not through weir.
std::string StorePointer(const std::string& dir) {
  CmdResult r = RunCmd("/usr/bin/python3 -c \"import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                       "print(c.execute('SELECT metadata_location FROM iceberg_tables WHERE "
                       "catalog_name=\\'weir\\' AND table_namespace=\\'default\\' AND "
                       "table_name=\\'events\\'').fetchone()[0])\" '" +
                       dir + "/.weir/store.db'");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::string s = r.out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// version-hint.text names the metadata file the store's catalog row points at.
void ExpectHintNamesTheStoresMetadata(const std::string& dir) {
  EXPECT_EQ(StorePointer(dir), MetadataDir(dir) + "/v" +
                                   ReadAll(MetadataDir(dir) + "/version-hint.text") +
                                   ".metadata.json");
}

// Every metadata file (manifests, manifest lists, metadata JSON) passes the python3-avro check.
void CheckMetadataWithPythonAvro(const std::string& dir) {
  std::string cmd = "/usr/bin/python3 " WEIR_SOURCE_DIR "/tests/lake/iceberg_avro_check.py";
  int files = 0;
  for (const auto& e : fs::directory_iterator(MetadataDir(dir))) {
    if (e.path().extension() == ".avro" || e.path().extension() == ".json") {
      cmd += " '" + e.path().string() + "'";
      ++files;
    }
  }
  ASSERT_GT(files, 0);
  CmdResult check = RunCmd(cmd + " 2>&1");
  EXPECT_EQ(check.exit_code, 0) << check.out;
}

// DuckDB's ids over the live files (icebird's: IcebirdIds in e2e_util.h), sorted.
std::vector<std::string> DuckIds(Duck& duck, const std::string& dir) {
  std::vector<std::string> ids;
  for (auto& row : duck.Rows("SELECT id FROM read_parquet('" + dir +
                             "/lake/events/data/**/*.parquet') ORDER BY id")) {
    ids.push_back(row[0]);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST(IcebergE2E, IcebirdReadsExactlyTheRowsDuckDbReadsFromTheLiveFiles) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  std::string dir = TempDir("iceberg-read");
  auto rep = Generate(dir, 4000, 3, 21);
  // Small commits: several snapshots, each adding files to partitions earlier ones touched.
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml("  roll_records: 700\n"));
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();

  Duck duck;
  std::vector<std::string> duck_ids = DuckIds(duck, dir);
  ASSERT_EQ(duck_ids.size(), rep.totals.valid);
  EXPECT_EQ(IcebirdIds(dir), duck_ids);
  CheckMetadataWithPythonAvro(dir);

  nlohmann::json meta = CurrentMetadata(dir);
  EXPECT_EQ(meta["format-version"], 2);
  EXPECT_EQ(meta["location"], dir + "/lake/events");
  ExpectHintNamesTheStoresMetadata(dir);
  // Hidden partitioning: dt is the day of created_at; event_type an identity partition.
  const auto& fields = meta["partition-specs"][0]["fields"];
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0]["name"], "event_type");
  EXPECT_EQ(fields[0]["transform"], "identity");
  EXPECT_EQ(fields[1]["name"], "dt");
  EXPECT_EQ(fields[1]["transform"], "day");
  int created_at_id = 0;
  for (const auto& f : meta["schemas"][0]["fields"]) {
    if (f["name"] == "created_at") {
      created_at_id = f["id"];
      EXPECT_EQ(f["type"], "timestamptz");
    }
  }
  EXPECT_EQ(fields[1]["source-id"], created_at_id);
  // Several snapshots (one per commit that added rows), each an append naming its run and tasks.
  ASSERT_GE(meta["snapshots"].size(), 2u);
  uint64_t added = 0;
  for (const auto& s : meta["snapshots"]) {
    EXPECT_EQ(s["summary"]["operation"], "append");
    EXPECT_EQ(s["summary"]["weir.dataset"], "clickstream");
    EXPECT_FALSE(s["summary"]["weir.tasks"].get<std::string>().empty());
    added += std::stoull(s["summary"]["added-records"].get<std::string>());
  }
  EXPECT_EQ(added, rep.totals.valid);
  EXPECT_EQ(meta["snapshots"].back()["summary"]["total-records"],
            std::to_string(rep.totals.valid));

  // Data files: every column with its field id, timestamps as Iceberg's microseconds.
  const std::string schema = "parquet_schema('" + dir + "/lake/events/data/**/*.parquet')";
  EXPECT_EQ(duck.One("SELECT count(DISTINCT name) FROM " + schema + " WHERE field_id IS NOT NULL"),
            "8");
  EXPECT_EQ(duck.One("SELECT DISTINCT converted_type FROM " + schema + " WHERE name = 'created_at'"),
            "TIMESTAMP_MICROS");
  // The values are the input's milliseconds (and dt agrees with the day of created_at).
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + dir + "/lake/events/data/**/*.parquet') "
                     "WHERE dt <> CAST(created_at AT TIME ZONE 'UTC' AS DATE)"),
            "0");
  EXPECT_EQ(Weir("query " + dir + "/dataset.yaml \"SELECT min(created_at)::VARCHAR FROM events\" --format csv").out,
            "CAST(min(created_at) AS VARCHAR)\n" +
                duck.One("SELECT min(created_at)::VARCHAR FROM read_parquet('" + dir +
                         "/lake/events/data/**/*.parquet')") +
                "\n");
  // weir query answers from the same files.
  EXPECT_EQ(Weir("query " + dir + "/dataset.yaml \"SELECT count(*) FROM events\" --format csv").out,
            "count_star()\n" + std::to_string(rep.totals.valid) + "\n");
  // Time travel by path: the first metadata version holds exactly the first snapshot's rows.
  nlohmann::json v1 = nlohmann::json::parse(ReadAll(MetadataDir(dir) + "/v1.metadata.json"));
  const std::string first_records =
      v1["snapshots"][0]["summary"]["total-records"].get<std::string>();
  EXPECT_EQ(std::to_string(IcebirdIds(dir, "v1.metadata.json").size()), first_records);
}

// kill -9 at each step of the commit protocol, then a rerun: one consistent table with every
// record exactly once, the hint and the store's pointer agreeing, and nothing an independent
// reader sees that the catalog does not.
class IcebergCrashE2E : public ::testing::TestWithParam<std::string> {};

TEST_P(IcebergCrashE2E, KillNineThenRerunGivesOneConsistentTable) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  const std::string point = GetParam();
  std::string dir = TempDir("iceberg-crash-" + point);
  auto rep = Generate(dir, 3000, 2, 5);
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml("  roll_records: 400\n"));
  auto r = Weir("run " + dir + "/dataset.yaml --json",
                "WEIR_CRASH_AT=" + point + " WEIR_CRASH_AFTER_COMMITS=2");
  ASSERT_EQ(r.signal, 9) << r.out;
  // Whatever a path-based reader finds now is a committed snapshot whose files are all there.
  if (fs::exists(MetadataDir(dir) + "/version-hint.text")) {
    std::vector<std::string> before = IcebirdIds(dir);
    EXPECT_LT(before.size(), rep.totals.valid);
  }
  // So is what a catalog reader is given (the JDBC row `weir serve --catalog` serves), before
  // any recovery: after "after-commit" the writers' pointer is a version ahead of it.
  const std::string published = StorePointer(dir);
  if (!published.empty() && published != "None") {
    std::vector<std::string> seen =
        IcebirdIds(dir, fs::path(published).filename().string());
    EXPECT_LT(seen.size(), rep.totals.valid);
    EXPECT_GT(seen.size(), 0u);
  }
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  Duck duck;
  std::vector<std::string> duck_ids = DuckIds(duck, dir);
  EXPECT_EQ(duck_ids.size(), rep.totals.valid);
  EXPECT_EQ(IcebirdIds(dir), duck_ids);
  ExpectHintNamesTheStoresMetadata(dir);
  CheckMetadataWithPythonAvro(dir);
}

INSTANTIATE_TEST_SUITE_P(CommitSteps, IcebergCrashE2E,
                         ::testing::Values("after-stage", "after-commit", "mid-publish"));

// Regression: expire kept only what the writers' version retains. After a crash between the
// store commit and the renames, the writers' version is one ahead of the one catalog readers are
// given, and expire deleted the readers' snapshot and metadata file: the catalog then handed out
// a version whose files were gone.
TEST(IcebergExpireE2E, ExpireKeepsTheVersionCatalogReadersAreGivenWhileACommitIsUnpublished) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  std::string dir = TempDir("iceberg-expire-readers");
  auto rep = Generate(dir, 3000, 2, 5);
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml("  roll_records: 400\n"));
  auto r = Weir("run " + dir + "/dataset.yaml --json",
                "WEIR_CRASH_AT=after-commit WEIR_CRASH_AFTER_COMMITS=2");
  ASSERT_EQ(r.signal, 9) << r.out;
  const std::string published = StorePointer(dir);
  ASSERT_FALSE(published.empty() || published == "None");
  const std::vector<std::string> seen = IcebirdIds(dir, fs::path(published).filename().string());
  ASSERT_GT(seen.size(), 0u);
  CmdResult expire = Weir("lake expire " + dir + "/dataset.yaml --older-than 0s --retain-last 1");
  EXPECT_EQ(expire.exit_code, 0) << expire.out;
  EXPECT_EQ(StorePointer(dir), published) << "readers moved on while files were unpublished";
  EXPECT_EQ(IcebirdIds(dir, fs::path(published).filename().string()), seen);
  // The next run recovers, and readers then get every row.
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  EXPECT_EQ(IcebirdIds(dir).size(), rep.totals.valid);
  ExpectHintNamesTheStoresMetadata(dir);
}

// A crash between the store commit and the hint leaves version-hint.text naming an older
// version; the next run repairs it even when it has nothing else to do. A metadata file name
// taken by a crashed commit is never overwritten: the next commit takes the next free version.
TEST(IcebergE2E, StaleHintIsRepairedAndATakenMetadataNameIsSkipped) {
  std::string dir = TempDir("iceberg-hint");
  Generate(dir, 1200, 2, 12);
  // Several commits, so the hint has a version to go stale from.
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml("  roll_records: 300\n"));
  ASSERT_EQ(RunJson(dir + "/dataset.yaml")["_exit"], 0);
  const std::string hint = ReadAll(MetadataDir(dir) + "/version-hint.text");
  ASSERT_NE(hint, "1");
  WriteAll(MetadataDir(dir) + "/version-hint.text", "1");
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  EXPECT_EQ(j["tasks_run"], 0);
  EXPECT_EQ(ReadAll(MetadataDir(dir) + "/version-hint.text"), hint);

  // An orphan left where the next version would go.
  const int next = std::stoi(hint) + 1;
  const std::string orphan = MetadataDir(dir) + "/v" + std::to_string(next) + ".metadata.json";
  WriteAll(orphan, "{\"left by\": \"a crashed commit\"}");
  Generate(dir + "/more", 500, 1, 13);
  fs::copy_file(dir + "/more/data/events-0000.jsonl", dir + "/data/late.jsonl");
  WriteAll(dir + "/data/manifest.txt", ReadAll(dir + "/data/manifest.txt") + "late.jsonl\n");
  j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  EXPECT_EQ(ReadAll(orphan), "{\"left by\": \"a crashed commit\"}");
  EXPECT_GT(std::stoi(ReadAll(MetadataDir(dir) + "/version-hint.text")), next);
  ExpectHintNamesTheStoresMetadata(dir);
  // The table (through the hint) and weir's catalog agree on the rows.
  const std::string total =
      CurrentMetadata(dir)["snapshots"].back()["summary"]["total-records"].get<std::string>();
  EXPECT_EQ(Weir("query " + dir + "/dataset.yaml \"SELECT count(*) FROM events\" --format csv").out,
            "count_star()\n" + total + "\n");
}

// A worker that runs out of tasks joins the others' next commit instead of forcing one: with a
// small file and a big one on two workers, the run is still ONE snapshot and one file per
// partition (before, the worker done first made every worker commit, then the other committed
// the rest: twice the files for a batch load).
TEST(IcebergE2E, AWorkerOutOfTasksWaitsForTheOthersCommit) {
  std::string dir = TempDir("iceberg-uneven");
  Generate(dir + "/big", 30000, 1, 41, 0.0);
  Generate(dir + "/small", 50, 1, 42, 0.0);
  fs::create_directories(dir + "/data");
  fs::copy_file(dir + "/small/data/events-0000.jsonl", dir + "/data/small.jsonl");
  fs::copy_file(dir + "/big/data/events-0000.jsonl", dir + "/data/big.jsonl");
  WriteAll(dir + "/data/manifest.txt", "small.jsonl\nbig.jsonl\n");
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml("", "  checkpoint_seconds: 600\n"));
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  nlohmann::json meta = CurrentMetadata(dir);
  EXPECT_EQ(meta["snapshots"].size(), 1u);
  EXPECT_EQ(j["files"]["max_per_partition"], 1);
  EXPECT_EQ(meta["snapshots"][0]["summary"]["weir.tasks"], "1,2");
}

// write.target_file_mb: a commit's partition bigger than the target is written as several files
// of about that size, all in the one snapshot, every row once.
TEST(IcebergE2E, APartitionLargerThanTheTargetFileSizeIsRolled) {
  std::string dir = TempDir("iceberg-roll");
  auto rep = Generate(dir, 40000, 2, 43, 0.0);
  std::string yaml = ClickstreamYaml("  target_file_mb: 1\n", "  checkpoint_seconds: 600\n");
  const std::string partitioned = "  partition_by: [event_type, dt]\n";
  yaml.erase(yaml.find(partitioned), partitioned.size());  // one partition: the whole table
  WriteAll(dir + "/dataset.yaml", yaml);
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  nlohmann::json meta = CurrentMetadata(dir);
  ASSERT_EQ(meta["snapshots"].size(), 1u);
  size_t files = 0;
  uint64_t largest = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/lake/events/data")) {
    if (e.path().extension() != ".parquet") continue;
    ++files;
    largest = std::max<uint64_t>(largest, fs::file_size(e.path()));
  }
  EXPECT_GE(files, 3u);
  EXPECT_LT(largest, 2u << 20);
  EXPECT_EQ(j["files"]["data_files"], files);
  EXPECT_EQ(meta["snapshots"][0]["summary"]["added-data-files"], std::to_string(files));
  Duck duck;
  EXPECT_EQ(DuckIds(duck, dir).size(), rep.totals.valid);
  EXPECT_EQ(IcebirdIds(dir).size(), rep.totals.valid);
}

// The workers of a run commit together (CommitGroup): one commit writes ONE file per partition
// however many workers hold rows for it, and makes one snapshot.
TEST(IcebergE2E, WorkersShareOneFilePerPartitionPerCommit) {
  std::string dir = TempDir("iceberg-group");
  auto rep = Generate(dir, 6000, 4, 31);
  WriteAll(dir + "/dataset.yaml",
           ClickstreamYaml("", "  checkpoint_seconds: 600\n"));  // under compute: (2 workers)
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  std::set<std::string> partitions;
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/lake/events/data")) {
    if (e.path().extension() != ".parquet") continue;
    ++files;
    partitions.insert(e.path().parent_path().string());
  }
  EXPECT_EQ(files, partitions.size());
  // The run reports the same files per partition (`--json` files section).
  EXPECT_EQ(j["files"]["data_files"], files);
  EXPECT_EQ(j["files"]["partitions"], partitions.size());
  EXPECT_EQ(j["files"]["max_per_partition"], 1);
  nlohmann::json meta = CurrentMetadata(dir);
  ASSERT_EQ(meta["snapshots"].size(), 1u);
  EXPECT_EQ(meta["snapshots"][0]["summary"]["added-data-files"], std::to_string(files));
  // Both workers' tasks are in the one commit.
  EXPECT_EQ(meta["snapshots"][0]["summary"]["weir.tasks"], "1,2,3,4");
  Duck duck;
  EXPECT_EQ(DuckIds(duck, dir).size(), rep.totals.valid);
}

TEST(IcebergE2E, HiveTableFormatKeepsThePlainLayoutAndIsNotMixedWithIceberg) {
  std::string dir = TempDir("iceberg-hive");
  auto rep = Generate(dir, 1500, 2, 8);
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml("  table_format: hive\n"));
  ASSERT_EQ(RunJson(dir + "/dataset.yaml")["_exit"], 0);
  EXPECT_FALSE(fs::exists(dir + "/lake/events/metadata"));
  EXPECT_FALSE(fs::exists(dir + "/lake/events/data"));
  Duck duck;
  // Hive files leave the partition columns to the path.
  EXPECT_EQ(duck.One("SELECT count(*) FROM parquet_schema('" + dir +
                     "/lake/events/*/*/*.parquet') WHERE name IN ('dt', 'event_type')"),
            "0");
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + dir + "/lake/events/*/*/*.parquet')"),
            std::to_string(rep.totals.valid));

  // The default (Iceberg) over a Hive table is refused, naming both ways out.
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml());
  CmdResult r = Weir("run " + dir + "/dataset.yaml 2>&1");
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("written as a Hive table"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("table_format: hive"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--restart"), std::string::npos) << r.out;
  // --restart writes it again as an Iceberg table, and the Hive files are gone.
  auto j = RunJson(dir + "/dataset.yaml", "", "--restart");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  for (const auto& e : fs::recursive_directory_iterator(dir + "/lake/events")) {
    if (e.path().extension() == ".parquet") {
      EXPECT_EQ(e.path().string().find(dir + "/lake/events/data/"), 0u) << e.path();
    }
  }
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + dir + "/lake/events/data/**/*.parquet')"),
            std::to_string(rep.totals.valid));
  EXPECT_TRUE(fs::exists(MetadataDir(dir) + "/v1.metadata.json"));
}

TEST(IcebergE2E, RestartStartsANewTableAndForgetsTheOldMetadata) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  std::string dir = TempDir("iceberg-restart");
  auto rep = Generate(dir, 1500, 2, 9);
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml("  roll_records: 300\n"));
  ASSERT_EQ(RunJson(dir + "/dataset.yaml")["_exit"], 0);
  const std::string old_uuid = CurrentMetadata(dir)["table-uuid"];
  ASSERT_GE(CurrentMetadata(dir)["snapshots"].size(), 2u);
  auto j = RunJson(dir + "/dataset.yaml", "", "--restart");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  nlohmann::json meta = CurrentMetadata(dir);
  EXPECT_NE(meta["table-uuid"], old_uuid);
  EXPECT_EQ(meta["metadata-log"].size(), meta["snapshots"].size() - 1);
  // Only the new table's files are left in metadata/: its snapshots' lists and manifests.
  std::set<std::string> lists;
  for (const auto& s : meta["snapshots"]) lists.insert(fs::path(s["manifest-list"].get<std::string>()).filename());
  for (const auto& e : fs::directory_iterator(MetadataDir(dir))) {
    const std::string name = e.path().filename();
    if (name.rfind("snap-", 0) == 0) {
      EXPECT_TRUE(lists.count(name)) << name << " is left from the old table";
    }
  }
  Duck duck;
  EXPECT_EQ(IcebirdIds(dir), DuckIds(duck, dir));
  EXPECT_EQ(DuckIds(duck, dir).size(), rep.totals.valid);
}

}  // namespace
}  // namespace weir::e2e
