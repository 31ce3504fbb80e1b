// End-to-end tests of batch datasets: the real `weir` binary on generated files, the lake read
// back by DuckDB, error records checked against the generator's answer key, and kill -9 crashes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "clickstream_util.h"
#include "e2e_util.h"

namespace weir::e2e {
namespace {

TEST(BatchE2E, ClickstreamCountsErrorsAndAccountingAreExact) {
  std::string dir = TempDir("counts");
  auto rep = Generate(dir, 20000, 4, 11);
  ASSERT_GT(rep.totals.malformed, 50u);
  ASSERT_GT(rep.totals.blank, 5u);
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml());

  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  ASSERT_EQ(j["tasks"].size(), 4u);
  EXPECT_EQ(j["totals"]["read"], rep.totals.lines);
  EXPECT_EQ(j["totals"]["written"], rep.totals.valid);
  EXPECT_EQ(j["totals"]["errored"], rep.totals.malformed);
  EXPECT_EQ(j["totals"]["skipped"], rep.totals.blank);
  for (const auto& t : j["tasks"]) {
    EXPECT_EQ(t["status"], "COMPLETED");
    EXPECT_EQ(t["read"].get<uint64_t>(),
              t["written"].get<uint64_t>() + t["skipped"].get<uint64_t>() + t["errored"].get<uint64_t>())
        << "accounting broken for task " << t.dump();
  }

  // The lake, read by DuckDB without weir: every valid line exactly once, types as declared.
  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + LakeGlob(dir) + "', hive_partitioning = true)"),
            std::to_string(rep.totals.valid));
  EXPECT_EQ(duck.One("SELECT count(*) FROM (SELECT DISTINCT id FROM read_parquet('" + LakeGlob(dir) + "'))"),
            std::to_string(rep.totals.unique));
  EXPECT_EQ(duck.One("SELECT typeof(created_at) FROM read_parquet('" + LakeGlob(dir) + "') LIMIT 1"),
            "TIMESTAMP WITH TIME ZONE");
  // dt in the path is the UTC date of created_at for every row.
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + LakeGlob(dir) +
                     "', hive_partitioning = true) WHERE CAST(dt AS DATE) <> CAST(created_at AS DATE)"),
            "0");
  // weir query agrees, through the catalog.
  auto q = Weir("query " + dir + "/dataset.yaml \"SELECT count(*) AS n FROM events\" --format csv");
  EXPECT_EQ(q.exit_code, 0);
  EXPECT_EQ(q.out, "n\n" + std::to_string(rep.totals.valid) + "\n");

  // Error records: one per malformed line, offsets exactly on the bad bytes.
  const auto by_offset = ErrorsByOffset(dir + "/dataset.yaml");
  ASSERT_EQ(by_offset.size(), rep.totals.malformed);
  for (const auto& f : rep.files) {
    std::string bytes = ReadAll(dir + "/data/" + f.name);
    for (const auto& m : f.malformed) {
      auto it = by_offset.find({f.name, m.offset});
      ASSERT_NE(it, by_offset.end()) << f.name << " line " << m.line << " offset " << m.offset;
      const auto& e = it->second;
      EXPECT_EQ(e["end_offset"].get<uint64_t>(), m.offset + m.length);
      EXPECT_EQ(e["record_number"].get<uint64_t>(), m.line);
      EXPECT_EQ(e["dataset"], "clickstream");
      EXPECT_FALSE(e["reason"].get<std::string>().empty());
      std::string raw = bytes.substr(m.offset, std::min<uint64_t>(m.length, 1024));
      if (e.contains("excerpt_base64")) {
        EXPECT_EQ(e["excerpt"].get<std::string>().size() > 0, true);
      } else {
        EXPECT_EQ(e["excerpt"].get<std::string>(), raw);
      }
    }
  }

  // A second run has nothing to do and changes nothing.
  auto fp = LakeFingerprint(duck, dir);
  auto again = RunJson(dir + "/dataset.yaml");
  EXPECT_EQ(again["_exit"], 0);
  EXPECT_EQ(again["tasks_run"], 0);
  EXPECT_EQ(LakeFingerprint(duck, dir), fp);

  // --restart replaces the output: same content, no doubling.
  auto re = RunJson(dir + "/dataset.yaml", "", "--restart");
  EXPECT_EQ(re["_exit"], 0);
  EXPECT_EQ(re["tasks_run"], 4);
  EXPECT_EQ(LakeFingerprint(duck, dir), fp);
  auto er2 = Weir("errors " + dir + "/dataset.yaml --json");
  EXPECT_EQ(static_cast<uint64_t>(std::count(er2.out.begin(), er2.out.end(), '\n')), rep.totals.malformed);
}

TEST(BatchE2E, NothingUncommittedEverMatchesTheLakeGlob) {
  std::string dir = TempDir("glob");
  auto rep = Generate(dir, 6000, 2, 5);
  // Many small commits, then a crash right after staging: staged files must not be visible.
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml("  roll_records: 500\n"));
  auto r = Weir("run " + dir + "/dataset.yaml --json", "WEIR_CRASH_AT=after-stage WEIR_CRASH_AFTER_COMMITS=2");
  EXPECT_EQ(r.signal, 9) << r.out;
  for (auto& p : std::filesystem::recursive_directory_iterator(dir + "/lake/events")) {
    if (p.path().extension() == ".parquet") {
      EXPECT_EQ(p.path().string().find("_staging"), std::string::npos) << p.path();
    }
    EXPECT_EQ(p.path().string().find(".staged"), std::string::npos) << p.path();
  }
  Duck duck;
  std::string visible = duck.One("SELECT count(*) FROM read_parquet('" + LakeGlob(dir) + "')");
  // Two commits of 500 records per task at most were published before the crash.
  EXPECT_LE(std::stoull(visible), 2u * 2u * 500u);
  auto j = RunJson(dir + "/dataset.yaml");
  EXPECT_EQ(j["_exit"], 0);
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + LakeGlob(dir) + "')"),
            std::to_string(rep.totals.valid));
}

// Crash at every step of the commit protocol, then rerun: the lake and the error records hold
// every record exactly once, identical to a run that never crashed.
class CrashE2E : public ::testing::TestWithParam<std::string> {};

TEST_P(CrashE2E, KillNineThenRerunLosesAndDuplicatesNothing) {
  std::string point = GetParam();
  std::string dir = TempDir("crash-" + point);
  auto rep = Generate(dir, 8000, 3, 23);
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml("  roll_records: 700\n"));
  // Reference: a clean run in a second folder over the same bytes.
  std::string ref = TempDir("crash-ref-" + point);
  std::filesystem::copy(dir + "/data", ref + "/data", std::filesystem::copy_options::recursive);
  WriteAll(ref + "/dataset.yaml", ClickstreamYaml("  roll_records: 700\n"));
  ASSERT_EQ(RunJson(ref + "/dataset.yaml")["_exit"], 0);

  for (int after : {0, 2}) {
    auto r = Weir("run " + dir + "/dataset.yaml --json",
                  "WEIR_CRASH_AT=" + point + " WEIR_CRASH_AFTER_COMMITS=" + std::to_string(after));
    EXPECT_EQ(r.signal, 9) << "expected the run to be killed at " << point << ": " << r.out;
  }
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  EXPECT_EQ(j["totals"]["read"], rep.totals.lines);
  EXPECT_EQ(j["totals"]["written"], rep.totals.valid);
  EXPECT_EQ(j["totals"]["errored"], rep.totals.malformed);

  Duck duck;
  EXPECT_EQ(LakeFingerprint(duck, dir), LakeFingerprint(duck, ref));
  EXPECT_EQ(LakeFingerprint(duck, dir).first, std::to_string(rep.totals.valid));
  auto errs = Weir("errors " + dir + "/dataset.yaml --json");
  std::set<std::string> uniq;
  size_t n = 0;
  std::istringstream in(errs.out);
  std::string line;
  while (std::getline(in, line)) {
    auto e = nlohmann::json::parse(line);
    uniq.insert(e["file"].get<std::string>() + ":" + std::to_string(e["start_offset"].get<uint64_t>()));
    ++n;
  }
  EXPECT_EQ(n, rep.totals.malformed);
  EXPECT_EQ(uniq.size(), rep.totals.malformed);
}

INSTANTIATE_TEST_SUITE_P(CommitSteps, CrashE2E,
                         ::testing::Values("after-stage", "after-commit", "mid-publish"));

TEST(BatchE2E, KillNineAtRandomMomentsMidFile) {
  std::string dir = TempDir("random-kill");
  auto rep = Generate(dir, 120000, 2, 99);
  std::string yaml = ClickstreamYaml("  roll_records: 5000\n");
  yaml.replace(yaml.find("  workers: 2"), 12, "  workers: 2\n  checkpoint_seconds: 0.05");
  WriteAll(dir + "/dataset.yaml", yaml);
  // Kill after increasing delays until a run completes on its own.
  bool done = false;
  for (int delay_ms : {150, 300, 450, 600, 900, 1200, 2000, 4000, 8000}) {
    auto r = RunCmd("timeout -s KILL " + std::to_string(delay_ms / 1000.0) + " " + WeirBin() +
                    " run " + dir + "/dataset.yaml --json");
    if (r.exit_code == 0) {
      done = true;
      break;
    }
  }
  if (!done) {
    ASSERT_EQ(RunJson(dir + "/dataset.yaml")["_exit"], 0);
  }
  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + LakeGlob(dir) + "')"),
            std::to_string(rep.totals.valid));
  auto t = nlohmann::json::parse(Weir("tasks " + dir + "/dataset.yaml --json").out);
  uint64_t errored = 0;
  for (const auto& x : t) errored += x["errored"].get<uint64_t>();
  EXPECT_EQ(errored, rep.totals.malformed);
}

TEST(BatchE2E, MissingFileFailsOnlyItsTaskAndRedriveFinishesIt) {
  std::string dir = TempDir("missing");
  auto rep = Generate(dir, 3000, 2, 3);
  std::string manifest = ReadAll(dir + "/data/manifest.txt");
  WriteAll(dir + "/data/manifest.txt", manifest + "late-arrival.jsonl\n");
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml());
  auto j = RunJson(dir + "/dataset.yaml");
  EXPECT_EQ(j["_exit"], 1);
  int completed = 0, failed = 0;
  for (const auto& t : j["tasks"]) {
    if (t["status"] == "COMPLETED") ++completed;
    if (t["status"] == "ERROR") {
      ++failed;
      EXPECT_EQ(t["file"], "late-arrival.jsonl");
      EXPECT_NE(t["reason"].get<std::string>().find("No such file"), std::string::npos) << t["reason"];
    }
  }
  EXPECT_EQ(completed, 2);
  EXPECT_EQ(failed, 1);
  // The file arrives; redrive runs only the failed task.
  WriteAll(dir + "/data/late-arrival.jsonl", ReadAll(dir + "/data/" + rep.files[0].name));
  auto r = Weir("redrive " + dir + "/dataset.yaml --json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  auto rj = nlohmann::json::parse(r.out);
  EXPECT_EQ(rj["tasks_run"], 1);
  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + LakeGlob(dir) + "')"),
            std::to_string(rep.totals.valid + rep.files[0].counts.valid));
}

TEST(BatchE2E, TransientReadErrorsAreRetriedFromTheCheckpointExactlyOnce) {
  std::string dir = TempDir("retry");
  auto rep = Generate(dir, 6000, 2, 31);
  std::string yaml = ClickstreamYaml("  roll_records: 400\n");
  yaml.replace(yaml.find("  workers: 2"), 12, "  workers: 1\n  retries: 3");
  WriteAll(dir + "/dataset.yaml", yaml);
  // Read 2 is the end-of-file read of the first task, after several commits of it; read 4 fails
  // the retried attempt once more.
  auto j = RunJson(dir + "/dataset.yaml", "WEIR_INJECT_READ_ERRORS=2,4");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  EXPECT_EQ(j["totals"]["written"], rep.totals.valid);
  EXPECT_EQ(j["totals"]["errored"], rep.totals.malformed);
  EXPECT_EQ(j["tasks"][0]["attempts"], 3);
  Duck duck;
  EXPECT_EQ(LakeFingerprint(duck, dir).first, std::to_string(rep.totals.valid));
  EXPECT_EQ(duck.One("SELECT count(*) - count(DISTINCT id) FROM read_parquet('" + LakeGlob(dir) + "')"),
            std::to_string(rep.totals.duplicates));
  auto errs = Weir("errors " + dir + "/dataset.yaml --json");
  EXPECT_EQ(static_cast<uint64_t>(std::count(errs.out.begin(), errs.out.end(), '\n')), rep.totals.malformed);
}

TEST(BatchE2E, RetriesExhaustedMarkTheTaskErrorWithTheReason) {
  std::string dir = TempDir("retry-exhausted");
  Generate(dir, 1000, 1, 32);
  std::string yaml = ClickstreamYaml();
  yaml.replace(yaml.find("  workers: 2"), 12, "  workers: 1\n  retries: 1");
  WriteAll(dir + "/dataset.yaml", yaml);
  auto j = RunJson(dir + "/dataset.yaml", "WEIR_INJECT_READ_ERRORS=1,2,3");
  EXPECT_EQ(j["_exit"], 1);
  ASSERT_EQ(j["tasks"].size(), 1u);
  EXPECT_EQ(j["tasks"][0]["status"], "ERROR");
  EXPECT_NE(j["tasks"][0]["reason"].get<std::string>().find("gave up after 2 attempts"), std::string::npos)
      << j["tasks"][0]["reason"];
  // Without the fault, redrive completes it.
  EXPECT_EQ(Weir("redrive " + dir + "/dataset.yaml --json").exit_code, 0);
}

TEST(BatchE2E, ErrorRatioAboveMaxMarksTaskError) {
  std::string dir = TempDir("ratio");
  Generate(dir, 4000, 1, 8, /*malformed=*/0.05);
  std::string yaml = ClickstreamYaml();
  yaml.replace(yaml.find("  location: errors"), 18, "  location: errors\n  max_ratio: 0.01");
  WriteAll(dir + "/dataset.yaml", yaml);
  auto j = RunJson(dir + "/dataset.yaml");
  EXPECT_EQ(j["_exit"], 1);
  ASSERT_EQ(j["tasks"].size(), 1u);
  EXPECT_EQ(j["tasks"][0]["status"], "ERROR");
  EXPECT_NE(j["tasks"][0]["reason"].get<std::string>().find("max_ratio"), std::string::npos);
}

TEST(BatchE2E, CompressedInputsGiveTheSameLakeAsPlainOnes) {
  std::string plain = TempDir("plain");
  auto rep = Generate(plain, 5000, 2, 77);
  WriteAll(plain + "/dataset.yaml", ClickstreamYaml());
  ASSERT_EQ(RunJson(plain + "/dataset.yaml")["_exit"], 0);
  Duck duck;
  auto fp = LakeFingerprint(duck, plain);
  for (std::string codec : {"gz", "zst"}) {
    std::string d = TempDir("codec-" + codec);
    Generate(d, 5000, 2, 77, 0.01, codec);
    WriteAll(d + "/dataset.yaml", ClickstreamYaml());
    auto j = RunJson(d + "/dataset.yaml");
    ASSERT_EQ(j["_exit"], 0) << codec << " " << j.dump();
    EXPECT_EQ(j["totals"]["errored"], rep.totals.malformed);
    EXPECT_EQ(LakeFingerprint(duck, d), fp) << codec;
    // Error offsets are offsets in the decompressed stream: identical to the plain run's.
    EXPECT_EQ(Weir("errors " + d + "/dataset.yaml --json").out.size() > 0, true);
  }
}

TEST(BatchE2E, CsvDatasetWithQuotedFieldsAndWrongTypes) {
  std::string dir = TempDir("csv");
  WriteAll(dir + "/in/a.csv",
           "id,kind,amount,when,note\n"
           "1,buy,10.5,2024-06-01T10:00:00Z,plain\n"
           "2,sell,x,2024-06-01T11:00:00Z,amount is not a number\n"
           "3,buy,7,2024-06-02T00:30:00+02:00,\"multi\nline, with \"\"quotes\"\"\"\n"
           "4,,3,2024-06-02T01:00:00Z,kind missing\n");
  WriteAll(dir + "/in/manifest.txt", "a.csv\n");
  WriteAll(dir + "/dataset.yaml", R"(name: orders
read: {connector: files, location: in, manifest: in/manifest.txt, parser: csv}
write:
  connector: lake
  location: lake
  table: orders
  partition_by: [day]
  columns:
    id:     {path: id, type: int64, required: true}
    kind:   {path: kind, type: string, required: true}
    amount: {path: amount, type: double}
    at:     {path: when, type: timestamp, required: true}
    note:   {path: note, type: string}
    day:    {date_of: at}
)");
  auto j = RunJson(dir + "/dataset.yaml");
  EXPECT_EQ(j["_exit"], 0) << j.dump();
  EXPECT_EQ(j["totals"]["read"], 4);
  EXPECT_EQ(j["totals"]["written"], 2);
  EXPECT_EQ(j["totals"]["errored"], 2);
  auto q = Weir("query " + dir + "/dataset.yaml \"SELECT id, day, note FROM orders ORDER BY id\" --format json");
  EXPECT_EQ(q.out,
            "{\"id\":1,\"day\":\"2024-06-01\",\"note\":\"plain\"}\n"
            "{\"id\":3,\"day\":\"2024-06-01\",\"note\":\"multi\\nline, with \\\"quotes\\\"\"}\n");
  auto e = Weir("errors " + dir + "/dataset.yaml --json");
  std::string data = ReadAll(dir + "/in/a.csv");
  std::istringstream in(e.out);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    auto rec = nlohmann::json::parse(line);
    uint64_t s = rec["start_offset"], en = rec["end_offset"];
    std::string bad = data.substr(s, en - s);
    EXPECT_TRUE(bad.rfind("2,sell,x", 0) == 0 || bad.rfind("4,,3", 0) == 0) << bad;
    ++n;
  }
  EXPECT_EQ(n, 2);
}

TEST(BatchE2E, JsonLinesLakeFormatAndHourOfColumns) {
  std::string dir = TempDir("jsonl-lake");
  auto rep = Generate(dir, 3000, 2, 4);
  std::string yaml = ClickstreamYaml();
  yaml.replace(yaml.find("format: parquet"), 15, "format: jsonl");
  yaml.replace(yaml.find("partition_by: [event_type, dt]"), 30, "partition_by: [dt, hour]");
  yaml.replace(yaml.find("    dt:         {date_of: created_at}"), 37,
               "    dt:         {date_of: created_at}\n    hour:       {hour_of: created_at}");
  WriteAll(dir + "/dataset.yaml", yaml);
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  // Plain JSON lines under the Hive layout, one object per row, partition columns in the path.
  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_json('" + dir + "/lake/events/*/*/*.jsonl', format = 'newline_delimited')"),
            std::to_string(rep.totals.valid));
  auto q = Weir("query " + dir + "/dataset.yaml \"SELECT count(*) FROM events WHERE hour = hour(created_at) "
                "AND dt = CAST(created_at AS DATE)\" --format csv");
  EXPECT_EQ(q.out, "count_star()\n" + std::to_string(rep.totals.valid) + "\n") << q.out;
}

// Regression: `weir query` printed every lake timestamp column (TIMESTAMP WITH TIME ZONE) as an
// empty string, because duckdb_value_varchar has no text form for that type.
TEST(BatchE2E, QueryPrintsTimestampColumns) {
  std::string dir = TempDir("query-ts");
  Generate(dir, 500, 1, 8);
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml());
  ASSERT_EQ(RunJson(dir + "/dataset.yaml")["_exit"], 0);
  auto q = Weir("query " + dir + "/dataset.yaml \"SELECT created_at FROM events ORDER BY created_at "
                "LIMIT 20\" --format csv");
  auto ref = Weir("query " + dir + "/dataset.yaml \"SELECT CAST(created_at AS VARCHAR) AS created_at "
                  "FROM events ORDER BY created_at LIMIT 20\" --format csv");
  EXPECT_EQ(std::count(q.out.begin(), q.out.end(), '\n'), 21) << q.out;
  EXPECT_EQ(q.out, ref.out);
  EXPECT_EQ(q.out.find("\n\n"), std::string::npos) << "empty cells: " << q.out;
}

// Regression: NULL partition values came back from `weir query` as the literal
// __HIVE_DEFAULT_PARTITION__ (DuckDB decodes %XX escapes but not Hive's NULL marker).
TEST(BatchE2E, PartitionValuesWithSpecialCharactersAndNullsRoundTrip) {
  std::string dir = TempDir("escape");
  WriteAll(dir + "/in/a.jsonl",
           "{\"k\":\"a/b:c=d%e\",\"v\":1}\n{\"k\":null,\"v\":2}\n{\"k\":\"\",\"v\":3}\n{\"k\":\"..\",\"v\":4}\n");
  WriteAll(dir + "/in/manifest.txt", "a.jsonl\n");
  WriteAll(dir + "/dataset.yaml", R"(name: esc
read: {connector: files, location: in, manifest: in/manifest.txt, parser: jsonl}
write:
  connector: lake
  location: lake
  table: t
  partition_by: [k]
  columns:
    k: {path: /k, type: string}
    v: {path: /v, type: int64}
)");
  ASSERT_EQ(RunJson(dir + "/dataset.yaml")["_exit"], 0);
  auto q = Weir("query " + dir + "/dataset.yaml \"SELECT v, k FROM t ORDER BY v\" --format csv");
  // Hive has no way to tell an empty string from NULL in a path: both come back NULL.
  EXPECT_EQ(q.out, "v,k\n1,a/b:c=d%e\n2,\n3,\n4,..\n");
  EXPECT_TRUE(std::filesystem::exists(dir + "/lake/t/data/k=a%2Fb%3Ac%3Dd%25e"));
}

TEST(BatchE2E, BadConfigIsRejectedWithKeyLineAndSuggestion) {
  std::string dir = TempDir("badcfg");
  std::string yaml = ClickstreamYaml();
  yaml.replace(yaml.find("partition_by"), 12, "partiton_by");
  WriteAll(dir + "/dataset.yaml", yaml);
  auto r = RunCmd(WeirBin() + " validate " + dir + "/dataset.yaml 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("dataset.yaml:12"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("partiton_by"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("did you mean 'partition_by'"), std::string::npos) << r.out;
  auto run = RunCmd(WeirBin() + " run " + dir + "/dataset.yaml 2>&1");
  EXPECT_EQ(run.exit_code, 2);
}

TEST(BatchE2E, ExampleDatasetShipsAndValidates) {
  // The example ships without its data (`make demo` generates it with `weir gen events`), and a
  // dataset whose manifest does not exist is not valid: validate a copy after generating.
  const std::string dir = TempDir("example");
  std::filesystem::copy_file(std::string(WEIR_SOURCE_DIR) + "/examples/clickstream/dataset.yaml",
                             dir + "/dataset.yaml");
  auto gen = Weir("gen events --count 200 --files 2 --out " + dir + "/data --seed 7");
  ASSERT_EQ(gen.exit_code, 0) << gen.out;
  auto r = Weir("validate " + dir + "/dataset.yaml");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("dataset 'clickstream' is valid"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace weir::e2e
