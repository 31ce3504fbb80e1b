// Data-safety regressions: ordinary operations around the commit protocol (restart, copied
// project folders, two datasets on one table, changed inputs, a lost store, signals, concurrent
// read commands) must never lose, duplicate or wedge committed data. Each test drives the real
// binary and reads the lake back with DuckDB, independently of weir's own catalog.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "e2e_util.h"

namespace weir::e2e {
namespace {
namespace stdfs = std::filesystem;

// n records {"id": "<prefix>-<i>", "kind": "k<i%3>", "n": i}, one a line.
std::string Records(int n, const std::string& prefix = "r", int from = 0) {
  std::string out;
  for (int i = from; i < from + n; ++i) {
    out += "{\"id\":\"" + prefix + "-" + std::to_string(i) + "\",\"kind\":\"k" + std::to_string(i % 3) +
           "\",\"n\":" + std::to_string(i) + "}\n";
  }
  return out;
}

std::string Yaml(const std::string& name = "safe", const std::string& lake = "lake",
                 const std::string& table = "t", const std::string& write_extra = "",
                 const std::string& extra = "") {
  return "name: " + name + R"(
read:
  connector: files
  location: data
  manifest: data/manifest.txt
  parser: jsonl
write:
  connector: lake
  location: )" + lake + R"(
  table: )" + table + R"(
  partition_by: [kind]
)" + write_extra + R"(  columns:
    id:   {path: /id, type: string, required: true}
    kind: {path: /kind, type: string, required: true}
    n:    {path: /n, type: int64}
errors:
  location: errors
compute:
  workers: 2
)" + extra;
}

// A dataset folder with `files` inputs of `per_file` records each.
std::string MakeDataset(const std::string& name, int files, int per_file,
                        const std::string& yaml = Yaml()) {
  std::string dir = TempDir(name);
  std::string manifest;
  for (int f = 0; f < files; ++f) {
    std::string file = "f" + std::to_string(f) + ".jsonl";
    WriteAll(dir + "/data/" + file, Records(per_file, "f" + std::to_string(f)));
    manifest += file + "\n";
  }
  WriteAll(dir + "/data/manifest.txt", manifest);
  WriteAll(dir + "/dataset.yaml", yaml);
  return dir;
}

// Rows read straight from the table folder's Parquet files: count and an id fingerprint.
std::string LakeRows(const std::string& table_dir) {
  Duck duck;
  if (!stdfs::exists(table_dir)) return "0|NULL";
  auto rows = duck.Rows("SELECT count(*), sum(hash(id)) FROM read_parquet('" + table_dir +
                        "/**/*.parquet', hive_partitioning = true)");
  if (rows.empty() || rows[0].size() < 2) return "?";
  return rows[0][0] + "|" + rows[0][1];
}

size_t CountFiles(const std::string& dir, const std::string& ext) {
  size_t n = 0;
  if (!stdfs::exists(dir)) return 0;
  for (auto& e : stdfs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ext) ++n;
  }
  return n;
}

nlohmann::json Tasks(const std::string& yaml) {
  auto r = Weir("tasks " + yaml + " --json");
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  return j.is_discarded() ? nlohmann::json::array() : j;
}

std::string Query(const std::string& yaml, const std::string& sql) {
  auto r = Weir("query " + yaml + " \"" + sql + "\" --format csv 2>&1");
  return r.out;
}

// Item 1: a partition value longer than a file name allows made the commit's rename fail after
// the catalog transaction and wedged every later run.
TEST(SafetyE2E, PartitionValueTooLongForAFolderNameBecomesAnErrorRecord) {
  std::string dir = MakeDataset("longpart", 1, 0);
  std::string data = Records(50);
  std::string long_kind(300, 'x');
  data += "{\"id\":\"long\",\"kind\":\"" + long_kind + "\",\"n\":1}\n";
  data += Records(50, "r", 50);
  WriteAll(dir + "/data/f0.jsonl", data);
  auto r = Weir("run " + dir + "/dataset.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["totals"]["read"], 101);
  EXPECT_EQ(j["totals"]["written"], 100);
  EXPECT_EQ(j["totals"]["errored"], 1);
  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + dir + "/lake/t/**/*.parquet')"), "100");
  auto errors = Weir("errors " + dir + "/dataset.yaml --json");
  auto e = nlohmann::json::parse(errors.out.substr(0, errors.out.find('\n')));
  EXPECT_NE(e["reason"].get<std::string>().find("partition column 'kind'"), std::string::npos) << errors.out;
  EXPECT_EQ(e["record_number"], 50);
  // Nothing is wedged: a rerun has nothing to do, a restart rebuilds the same rows.
  std::string before = LakeRows(dir + "/lake/t");
  EXPECT_EQ(Weir("run " + dir + "/dataset.yaml").exit_code, 0);
  ASSERT_EQ(Weir("run " + dir + "/dataset.yaml --restart --json").exit_code, 0);
  EXPECT_EQ(LakeRows(dir + "/lake/t"), before);
}

// Item 2: interrupting `run --restart` deleted committed files before the catalog was reset;
// the next run said "nothing to do" over a lake that had lost files.
TEST(SafetyE2E, RestartKilledMidwayLosesNothing) {
  for (const char* point : {"after-reset", "mid-delete"}) {
    SCOPED_TRACE(point);
    std::string dir = MakeDataset(std::string("restart-") + point, 4, 500,
                                  Yaml("safe", "lake", "t", "  roll_records: 300\n"));
    ASSERT_EQ(Weir("run " + dir + "/dataset.yaml --json").exit_code, 0);
    std::string full = LakeRows(dir + "/lake/t");
    ASSERT_EQ(full.substr(0, full.find('|')), "2000");
    auto killed = Weir("run " + dir + "/dataset.yaml --restart --json",
                       std::string("WEIR_CRASH_AT=") + point);
    EXPECT_EQ(killed.signal, SIGKILL);
    // Whatever the crash left, the next plain run ends with every row exactly once.
    auto r = Weir("run " + dir + "/dataset.yaml --json");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(LakeRows(dir + "/lake/t"), full);
    EXPECT_EQ(Query(dir + "/dataset.yaml", "SELECT count(*) FROM t"), "count_star()\n2000\n");
  }
}

// Item 3: after `cp -r A B`, `weir run B/dataset.yaml --restart` deleted A's lake (the store kept
// absolute paths) and B's queries read A's files.
TEST(SafetyE2E, CopiedProjectFolderNeverTouchesTheOriginal) {
  std::string a = MakeDataset("copy-a", 3, 400);
  ASSERT_EQ(Weir("run " + a + "/dataset.yaml --json").exit_code, 0);
  std::string a_rows = LakeRows(a + "/lake/t");
  size_t a_files = CountFiles(a + "/lake/t", ".parquet");
  std::string b = a + "-copy";
  stdfs::remove_all(b);
  stdfs::copy(a, b, stdfs::copy_options::recursive);
  // The copy answers from its own files: delete the original's lake and query the copy.
  stdfs::rename(a + "/lake", a + "/lake.away");
  EXPECT_EQ(Query(b + "/dataset.yaml", "SELECT count(*) FROM t"), "count_star()\n1200\n");
  stdfs::rename(a + "/lake.away", a + "/lake");
  auto r = Weir("run " + b + "/dataset.yaml --restart --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(CountFiles(a + "/lake/t", ".parquet"), a_files);
  EXPECT_EQ(LakeRows(a + "/lake/t"), a_rows);
  EXPECT_EQ(LakeRows(b + "/lake/t"), a_rows);
  EXPECT_EQ(Query(a + "/dataset.yaml", "SELECT count(*) FROM t"), "count_star()\n1200\n");
  stdfs::remove_all(b);
}

// Item 3, a store written before paths were relative (absolute paths into the original) and
// copied with its project: the copy must neither read nor delete the original's files.
TEST(SafetyE2E, CopiedStoreFromBeforeRelativePathsNeverReachesTheOriginal) {
  std::string a = MakeDataset("copy-legacy", 2, 300);
  ASSERT_EQ(Weir("run " + a + "/dataset.yaml --json").exit_code, 0);
  std::string rows = LakeRows(a + "/lake/t");
  // Make the store look like an old one: absolute catalog paths, no recorded base folder.
  auto py = RunCmd("/usr/bin/python3 -c \"import sqlite3; c = sqlite3.connect('" + a +
                   "/.weir/store.db'); c.execute(\\\"UPDATE files SET path = '" + a +
                   "/' || path, staging = '" + a + "/' || staging WHERE path NOT LIKE '/%'\\\"); "
                   "c.execute(\\\"DELETE FROM meta WHERE key = 'base_dir'\\\"); c.commit()\" 2>&1");
  ASSERT_EQ(py.exit_code, 0) << py.out;
  std::string b = a + "-copy";
  stdfs::remove_all(b);
  stdfs::copy(a, b, stdfs::copy_options::recursive);
  auto q = Weir("query " + b + "/dataset.yaml \"SELECT count(*) FROM t\" 2>&1");
  EXPECT_EQ(q.exit_code, 1) << q.out;
  EXPECT_NE(q.out.find("outside this dataset's output folders"), std::string::npos) << q.out;
  auto r = Weir("run " + b + "/dataset.yaml --restart 2>&1");
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("outside this dataset's output folders"), std::string::npos) << r.out;
  EXPECT_EQ(LakeRows(a + "/lake/t"), rows);
  EXPECT_EQ(Tasks(b + "/dataset.yaml").size(), 2u);  // refused before anything was reset
  // The original, opened where it was made, converts its paths and works on.
  EXPECT_EQ(Query(a + "/dataset.yaml", "SELECT count(*) FROM t"), "count_star()\n600\n");
  stdfs::remove_all(b);
}

// Item 3, absolute lake location: a copy whose store still names the original's table folder
// must not write there while the original store exists.
TEST(SafetyE2E, CopiedStoreWithAbsoluteLakeIsRefused) {
  std::string lake = TempDir("copy-abs-lake");
  std::string a = MakeDataset("copy-abs", 2, 100, Yaml("safe", lake));
  ASSERT_EQ(Weir("run " + a + "/dataset.yaml --json").exit_code, 0);
  std::string rows = LakeRows(lake + "/t");
  std::string b = a + "-copy";
  stdfs::remove_all(b);
  stdfs::copy(a, b, stdfs::copy_options::recursive);
  auto r = Weir("run " + b + "/dataset.yaml --restart 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("is a copy"), std::string::npos) << r.out;
  EXPECT_EQ(LakeRows(lake + "/t"), rows);
  stdfs::remove_all(b);
}

// Item 4: two datasets writing one location + table removed each other's staged files (778 files
// lost in a 500K-record race). The second is refused, naming the first.
TEST(SafetyE2E, SecondDatasetOnTheSameTableIsRefusedNamingTheFirst) {
  std::string dir = MakeDataset("two-writers", 2, 300);
  WriteAll(dir + "/other.yaml", Yaml("other"));
  ASSERT_EQ(Weir("run " + dir + "/dataset.yaml --json").exit_code, 0);
  std::string rows = LakeRows(dir + "/lake/t");
  auto r = Weir("run " + dir + "/other.yaml 2>&1");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("belongs to dataset 'safe'"), std::string::npos) << r.out;
  EXPECT_EQ(LakeRows(dir + "/lake/t"), rows);
  // Another project folder pointing at the same absolute table: refused the same way.
  std::string other = MakeDataset("two-writers-b", 1, 10, Yaml("safe", dir + "/lake"));
  r = Weir("run " + other + "/dataset.yaml 2>&1");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("belongs to dataset 'safe'"), std::string::npos) << r.out;
  EXPECT_EQ(LakeRows(dir + "/lake/t"), rows);
}

// The catalog row (default.<write.table>) of a store is keyed by table name alone. Two datasets of
// one store that both wrote `write.table: t`, in different locations, shared it: the second's run
// failed saying the project folder was copied and `weir run --restart` would start the table over,
// and that --restart deleted the FIRST dataset's catalog row. Now every path refuses, names both
// datasets, and leaves the first's table as it was.
TEST(SafetyE2E, TwoDatasetsWithOneTableNameInOneStoreNeverShareItsCatalogRow) {
  std::string dir = MakeDataset("one-table-name", 2, 300);
  WriteAll(dir + "/other.yaml", Yaml("other", "lake2"));  // same store, same table, other folder
  ASSERT_EQ(Weir("run " + dir + "/dataset.yaml --json").exit_code, 0);
  const std::string rows = LakeRows(dir + "/lake/t");
  ASSERT_EQ(rows.substr(0, 4), "600|");
  auto catalog_row = [&] {
    return RunCmd("/usr/bin/python3 -c \"import sqlite3; print(sqlite3.connect('" + dir +
                  "/.weir/store.db').execute(\\\"SELECT metadata_location FROM iceberg_tables "
                  "WHERE table_name = 't'\\\").fetchall())\" 2>&1")
        .out;
  };
  const std::string row = catalog_row();
  ASSERT_NE(row.find(dir + "/lake/t/metadata/"), std::string::npos) << row;
  // A config problem for run and validate (exit 2); `weir lake` commands fail with 1.
  auto refused = [&](const std::string& what, const CmdResult& r, int exit_code = 2) {
    EXPECT_EQ(r.exit_code, exit_code) << what << ": " << r.out;
    EXPECT_NE(r.out.find("is the table of dataset 'safe'"), std::string::npos) << what << ": " << r.out;
    EXPECT_NE(r.out.find("dataset 'other'"), std::string::npos) << what << ": " << r.out;
    EXPECT_NE(r.out.find("another write.table"), std::string::npos) << what << ": " << r.out;
    EXPECT_EQ(r.out.find("copied or moved"), std::string::npos) << what << ": " << r.out;
    EXPECT_EQ(catalog_row(), row) << what;
    EXPECT_EQ(LakeRows(dir + "/lake/t"), rows) << what;
  };
  refused("validate", Weir("validate " + dir + "/other.yaml 2>&1"));
  refused("run", Weir("run " + dir + "/other.yaml 2>&1"));
  refused("run --restart", Weir("run " + dir + "/other.yaml --restart 2>&1"));
  refused("lake compact", Weir("lake compact " + dir + "/other.yaml 2>&1"), 1);
  refused("lake expire", Weir("lake expire " + dir + "/other.yaml --older-than 0s 2>&1"), 1);
  refused("lake snapshots", Weir("lake snapshots " + dir + "/other.yaml 2>&1"), 1);
  EXPECT_EQ(CountFiles(dir + "/lake2", ".parquet"), 0u);
  // The first dataset's table is whole through its catalog row, and its runs go on.
  EXPECT_EQ(Query(dir + "/dataset.yaml", "SELECT count(*) FROM t"), "count_star()\n600\n");
  auto snaps = Weir("lake snapshots " + dir + "/dataset.yaml --json 2>&1");
  EXPECT_EQ(snaps.exit_code, 0) << snaps.out;
  WriteAll(dir + "/data/f2.jsonl", Records(300, "f2"));
  WriteAll(dir + "/data/manifest.txt", "f0.jsonl\nf1.jsonl\nf2.jsonl\n");
  auto more = Weir("run " + dir + "/dataset.yaml --json 2>&1");
  ASSERT_EQ(more.exit_code, 0) << more.out;
  EXPECT_EQ(Query(dir + "/dataset.yaml", "SELECT count(*) FROM t"), "count_star()\n900\n");
  EXPECT_EQ(LakeRows(dir + "/lake/t").substr(0, 4), "900|");
  // The fix the message names: another write.table, and both datasets live in one store.
  WriteAll(dir + "/other.yaml", Yaml("other", "lake2", "t2"));
  auto fixed = Weir("run " + dir + "/other.yaml --json 2>&1");
  ASSERT_EQ(fixed.exit_code, 0) << fixed.out;
  EXPECT_EQ(Query(dir + "/other.yaml", "SELECT count(*) FROM t2"), "count_star()\n900\n");
  EXPECT_EQ(Query(dir + "/dataset.yaml", "SELECT count(*) FROM t"), "count_star()\n900\n");
}

// Item 5: a completed file that grew was never read again ("nothing to do"); now the run warns
// and --rescan reads exactly the appended records.
TEST(SafetyE2E, AppendedInputIsReportedAndRescanReadsOnlyTheNewBytes) {
  std::string dir = MakeDataset("append", 2, 200);
  ASSERT_EQ(Weir("run " + dir + "/dataset.yaml --json").exit_code, 0);
  {
    std::ofstream f(dir + "/data/f1.jsonl", std::ios::app);
    f << Records(25, "f1", 200);
  }
  auto r = Weir("run " + dir + "/dataset.yaml 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("grew after it was read"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--rescan"), std::string::npos) << r.out;
  EXPECT_EQ(LakeRows(dir + "/lake/t").substr(0, 4), "400|");
  r = Weir("run " + dir + "/dataset.yaml --rescan --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["run"]["read"], 25);
  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) || '/' || count(DISTINCT id) FROM read_parquet('" + dir +
                     "/lake/t/**/*.parquet')"),
            "425/425");
  // Read to the end again: no more warnings.
  r = Weir("run " + dir + "/dataset.yaml 2>&1");
  EXPECT_EQ(r.out.find("warning"), std::string::npos) << r.out;
}

// Item 5: a file rewritten after its task completed is reported (its old rows are in the lake).
TEST(SafetyE2E, RewrittenCompletedInputIsReported) {
  std::string dir = MakeDataset("rewritten-done", 1, 100);
  ASSERT_EQ(Weir("run " + dir + "/dataset.yaml --json").exit_code, 0);
  WriteAll(dir + "/data/f0.jsonl", Records(100, "zz"));  // same size, other content
  auto r = Weir("run " + dir + "/dataset.yaml 2>&1");
  EXPECT_NE(r.out.find("changed after it was read"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--restart"), std::string::npos) << r.out;
}

// Item 5: a file rewritten or cut while its task was interrupted resumed at the old offset and
// mixed old and new content. Now the task refuses to resume and says why.
TEST(SafetyE2E, InterruptedTaskWithChangedInputRefusesToResume) {
  for (const std::string change : {"rewrite", "cut"}) {
    SCOPED_TRACE(change);
    std::string dir = MakeDataset("changed-" + change, 1, 3000,
                                  Yaml("safe", "lake", "t", "  roll_records: 500\n"));
    auto killed = Weir("run " + dir + "/dataset.yaml --json",
                       "WEIR_CRASH_AT=after-commit WEIR_CRASH_AFTER_COMMITS=1");
    ASSERT_EQ(killed.signal, SIGKILL);
    if (change == "rewrite") {
      WriteAll(dir + "/data/f0.jsonl", Records(3000, "new"));
    } else {
      WriteAll(dir + "/data/f0.jsonl", Records(10, "f0"));
    }
    auto r = Weir("run " + dir + "/dataset.yaml --json");
    EXPECT_EQ(r.exit_code, 1) << r.out;
    auto t = Tasks(dir + "/dataset.yaml");
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0]["status"], "ERROR");
    EXPECT_NE(t[0]["reason"].get<std::string>().find("changed since this task started reading it"),
              std::string::npos)
        << t[0]["reason"];
    // The lake holds exactly the committed checkpoint's rows, none of the new content.
    Duck duck;
    EXPECT_EQ(duck.One("SELECT count(*) || '/' || count(*) FILTER (WHERE id LIKE 'f0-%') FROM "
                       "read_parquet('" + dir + "/lake/t/**/*.parquet')"),
              std::to_string(t[0]["written"].get<uint64_t>()) + "/" +
                  std::to_string(t[0]["written"].get<uint64_t>()));
    EXPECT_GE(t[0]["written"].get<uint64_t>(), 500u);
  }
}

// Item 7: losing or emptying the store made a rerun load everything again on top of the files
// (499,500 rows in weir query, 999,000 in the folder). Now the run refuses and says why.
TEST(SafetyE2E, LostOrEmptiedStoreRefusesToLoadAgain) {
  for (const std::string how : {"deleted", "emptied", "deleted-before-claims"}) {
    SCOPED_TRACE(how);
    std::string dir = MakeDataset("lost-" + how, 2, 300);
    ASSERT_EQ(Weir("run " + dir + "/dataset.yaml --json").exit_code, 0);
    std::string rows = LakeRows(dir + "/lake/t");
    if (how == "emptied") {
      stdfs::resize_file(dir + "/.weir/store.db", 0);
      stdfs::remove(dir + "/.weir/store.db-wal");
      stdfs::remove(dir + "/.weir/store.db-shm");
    } else {
      stdfs::remove_all(dir + "/.weir");
    }
    if (how == "deleted-before-claims") {  // a lake written before claim files existed
      stdfs::remove(dir + "/lake/t/_weir_owner.json");
      stdfs::remove(dir + "/errors/safe/_weir_owner.json");
    }
    auto r = Weir("run " + dir + "/dataset.yaml 2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find("duplicat"), std::string::npos) << r.out;
    EXPECT_EQ(LakeRows(dir + "/lake/t"), rows);
    r = Weir("run " + dir + "/dataset.yaml --restart 2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_EQ(LakeRows(dir + "/lake/t"), rows);
  }
}

// Signals: SIGTERM stops taking records, commits what is buffered, leaves no task RUNNING, exits
// 143; the rerun finishes with every row exactly once.
TEST(SafetyE2E, SigtermCommitsAndLeavesTasksResumable) {
  std::string dir = MakeDataset("sigterm", 4, 150000,
                                Yaml("safe", "lake", "t", "  roll_records: 2000\n"));
  std::string pidfile = dir + "/pid";
  auto r = RunCmd("sh -c '" + WeirBin() + " run " + dir +
                  "/dataset.yaml --json > " + dir + "/out.json & echo $! > " + pidfile +
                  "; sleep 0.3; kill -TERM $(cat " + pidfile + "); wait $(cat " + pidfile +
                  "); echo exit=$?'");
  ASSERT_NE(r.out.find("exit=143"), std::string::npos)
      << r.out << ReadAll(dir + "/out.json") << " (did the run finish before the signal?)";
  auto out = nlohmann::json::parse(ReadAll(dir + "/out.json"), nullptr, false);
  ASSERT_FALSE(out.is_discarded());
  EXPECT_EQ(out["interrupted_by"], "SIGTERM");
  uint64_t read = 0;
  for (const auto& t : Tasks(dir + "/dataset.yaml")) {
    EXPECT_NE(t["status"], "RUNNING") << t.dump();
    read += t["read"].get<uint64_t>();
  }
  EXPECT_GT(read, 0u);
  EXPECT_LT(read, 600000u);
  // Committed rows equal the task table's written count: what was buffered was committed.
  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + dir + "/lake/t/**/*.parquet')"),
            std::to_string(read));
  ASSERT_EQ(Weir("run " + dir + "/dataset.yaml --json").exit_code, 0);
  EXPECT_EQ(duck.One("SELECT count(*) || '/' || count(DISTINCT id) FROM read_parquet('" + dir +
                     "/lake/t/**/*.parquet')"),
            "600000/600000");
}

// Read commands racing a run that creates the store failed with "database is locked".
TEST(SafetyE2E, ReadCommandsWaitWhileARunCreatesTheStore) {
  std::string dir = MakeDataset("storebusy", 2, 200);
  int failures = 0;
  std::string last;
  for (int i = 0; i < 20; ++i) {
    stdfs::remove_all(dir + "/.weir");
    stdfs::remove_all(dir + "/lake");
    stdfs::remove_all(dir + "/errors");
    auto r = RunCmd("sh -c '" + WeirBin() + " run " + dir + "/dataset.yaml --json >/dev/null & " +
                    WeirBin() + " tasks " + dir + "/dataset.yaml --json 2>&1; echo exit=$?; " +
                    WeirBin() + " errors " + dir + "/dataset.yaml 2>&1; echo exit=$?; wait'");
    if (r.out.find("locked") != std::string::npos || r.out.find("exit=0") == std::string::npos ||
        r.out.find("exit=1") != std::string::npos) {
      ++failures;
      last = r.out;
    }
  }
  EXPECT_EQ(failures, 0) << last;
}

// The run summary counted discarded and retried work; it must equal the task table.
TEST(SafetyE2E, RunSummaryEqualsTheTaskTable) {
  std::string dir = MakeDataset("summary", 3, 5000,
                                Yaml("safe", "lake", "t", "  roll_records: 1000\n"));
  auto r = Weir("run " + dir + "/dataset.yaml --json", "WEIR_INJECT_READ_ERRORS=2,3");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["run"]["read"], j["totals"]["read"]);
  EXPECT_EQ(j["run"]["read"], 15000);
  auto text = Weir("run " + dir + "/dataset.yaml --restart --no-progress", "WEIR_INJECT_READ_ERRORS=2,3");
  EXPECT_NE(text.out.find("15,000 records read"), std::string::npos) << text.out;
}

// "nothing to do (all N tasks completed)" was printed while a task was in ERROR; a task whose
// manifest entry was removed stayed ERROR for ever.
TEST(SafetyE2E, NothingToRunNamesErrorTasksAndRemovedEntriesRetire) {
  std::string dir = MakeDataset("retire", 2, 50);
  WriteAll(dir + "/data/manifest.txt", "f0.jsonl\nf1.jsonl\nmissing.jsonl\n");
  auto r = Weir("run " + dir + "/dataset.yaml --json");
  EXPECT_EQ(r.exit_code, 1);
  r = Weir("run " + dir + "/dataset.yaml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("1 ERROR"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("redrive"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("all 3 tasks completed"), std::string::npos) << r.out;
  WriteAll(dir + "/data/manifest.txt", "f0.jsonl\nf1.jsonl\n");
  r = Weir("run " + dir + "/dataset.yaml");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  auto t = Tasks(dir + "/dataset.yaml");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[2]["status"], "RETIRED");
  EXPECT_EQ(LakeRows(dir + "/lake/t").substr(0, 4), "100|");
}

// `run --restart` with a manifest that no longer reads reset the dataset, then failed: the
// config and manifest are checked before a restart deletes anything.
TEST(SafetyE2E, RestartWithABadManifestDeletesNothing) {
  std::string dir = MakeDataset("restart-badmanifest", 2, 100);
  ASSERT_EQ(Weir("run " + dir + "/dataset.yaml --json").exit_code, 0);
  std::string rows = LakeRows(dir + "/lake/t");
  stdfs::remove(dir + "/data/manifest.txt");
  auto r = Weir("run " + dir + "/dataset.yaml --restart 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(LakeRows(dir + "/lake/t"), rows);
  EXPECT_EQ(Tasks(dir + "/dataset.yaml").size(), 2u);
}

// A lake location that is a file, and a store file that is not a database, must name the setting
// and the path.
TEST(SafetyE2E, LakeLocationThatIsAFileAndCorruptStoreNameTheSetting) {
  std::string dir = MakeDataset("badpaths", 1, 10);
  WriteAll(dir + "/lake", "not a folder");
  auto r = Weir("run " + dir + "/dataset.yaml 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("write.location"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(dir + "/lake"), std::string::npos) << r.out;
  stdfs::remove(dir + "/lake");
  stdfs::create_directories(dir + "/.weir");
  WriteAll(dir + "/.weir/store.db", std::string(8192, 'x'));
  r = Weir("tasks " + dir + "/dataset.yaml 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("`store` setting"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(dir + "/.weir/store.db"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace weir::e2e
