// Data safety of the lake as a reader sees it: schema changes of the dataset YAML, missing lake
// files (`weir lake check`), valid JSON numbers beyond simdjson's range, and `weir query` output.
// Every test drives the real binary and reads the lake back with DuckDB independently.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "e2e_util.h"

namespace weir::e2e {
namespace {

std::string Dataset(const std::string& columns, const std::string& partition = "",
                    const std::string& extra_write = "") {
  return "name: pay\n"
         "read: {connector: files, location: in, manifest: in/manifest.txt, parser: jsonl}\n"
         "write:\n"
         "  connector: lake\n"
         "  location: lake\n"
         "  table: payments\n" +
         (partition.empty() ? std::string() : "  partition_by: [" + partition + "]\n") +
         extra_write +
         "  columns:\n" + columns;
}

const char* kIdCol = "    id:     {path: /id, type: string, required: true}\n";
const char* kDayCol = "    day:    {path: /day, type: string}\n";

// 20 records in each of two files; every 5th amount is fractional (an error while int64).
void WriteInputs(const std::string& dir, const std::string& prefix = "p") {
  std::string manifest;
  for (int f = 0; f < 2; ++f) {
    std::string s;
    for (int i = 0; i < 20; ++i) {
      s += "{\"id\":\"" + prefix + std::to_string(f) + "-" + std::to_string(i) + "\",\"day\":\"d" +
           std::to_string(i % 2) + "\",\"amount\":" + std::to_string(i) + (i % 5 == 4 ? ".5" : "") +
           ",\"note\":\"n" + std::to_string(i) + "\"}\n";
    }
    std::string name = prefix + std::to_string(f) + ".jsonl";
    WriteAll(dir + "/in/" + name, s);
    manifest += name + "\n";
  }
  WriteAll(dir + "/in/manifest.txt", manifest);
}

std::string Yaml(const std::string& dir) { return dir + "/dataset.yaml"; }

// Regression: int64 -> double, then the documented fix-and-`weir redrive --errors`, made every
// `weir query` fail (DuckDB read all files with the first file's schema, or failed to bind).
// Widening is a Hive-table feature: Iceberg tables refuse it (IcebergTableRefusesTypeChanges...).
const char* kHive = "  table_format: hive\n";
TEST(SchemaChangeE2E, WidenedTypeAndAddedColumnStayQueryable) {
  std::string dir = TempDir("schema-widen");
  WriteInputs(dir);
  WriteAll(Yaml(dir), Dataset(std::string(kIdCol) + "    amount: {path: /amount, type: int64}\n", "", kHive));
  ASSERT_EQ(Weir("run " + Yaml(dir) + " --json").exit_code, 0);
  EXPECT_EQ(Weir("query " + Yaml(dir) + " 'SELECT count(*) FROM payments' --format csv").out,
            "count_star()\n32\n");

  // Widen amount and add a column; redrive the fractional amounts.
  WriteAll(Yaml(dir), Dataset(std::string(kIdCol) + "    amount: {path: /amount, type: double}\n" +
                              "    note:   {path: /note, type: string}\n", "", kHive));
  CmdResult v = Weir("validate " + Yaml(dir) + " 2>&1");
  EXPECT_EQ(v.exit_code, 0) << v.out;
  CmdResult rd = Weir("redrive " + Yaml(dir) + " --errors --json 2>&1");
  ASSERT_EQ(rd.exit_code, 0) << rd.out;
  CmdResult q =
      Weir("query " + Yaml(dir) +
           " 'SELECT count(*), sum(amount), count(note), typeof(any_value(amount)) FROM payments' "
           "--format csv 2>&1");
  ASSERT_EQ(q.exit_code, 0) << q.out;
  // 2 files x (sum 0..19 = 190, with 4.5, 9.5, 14.5, 19.5 carrying .5): 2 x 192 = 384; only the 8
  // redriven records were written with the new note column.
  EXPECT_EQ(q.out,
            "count_star(),sum(amount),count(note),typeof(any_value(amount))\n40,384.0,8,DOUBLE\n");

  // Independently: the old files hold BIGINT, the new ones DOUBLE, and nothing was lost.
  Duck duck;
  EXPECT_EQ(duck.One("SELECT sum(amount) FROM read_parquet('" + dir +
                     "/lake/payments/*.parquet', union_by_name = true)"),
            "384.0");

  // A new run over new input writes the current schema; the table still reads.
  WriteAll(Yaml(dir), Dataset(std::string(kIdCol) + "    amount: {path: /amount, type: json}\n" +
                              "    note:   {path: /note, type: string}\n", "", kHive));
  WriteInputs(dir, "q");  // q0, q1 (and a manifest naming only them)
  WriteAll(dir + "/in/manifest.txt", "p0.jsonl\np1.jsonl\nq0.jsonl\nq1.jsonl\n");
  ASSERT_EQ(Weir("run " + Yaml(dir) + " --json 2>&1").exit_code, 0);
  q = Weir("query " + Yaml(dir) +
           " 'SELECT count(*), count(amount) FROM payments' --format csv 2>&1");
  ASSERT_EQ(q.exit_code, 0) << q.out;
  EXPECT_EQ(q.out, "count_star(),count(amount)\n80,80\n");
}

// An Iceberg table takes an added column as a new schema with a new field id, and refuses the
// type changes Iceberg cannot make in place (long -> double included) in validate, run and
// redrive alike, before anything is written.
TEST(SchemaChangeE2E, IcebergTableRefusesTypeChangesAndAddsColumnsWithNewFieldIds) {
  std::string dir = TempDir("schema-iceberg");
  WriteInputs(dir);
  WriteAll(Yaml(dir), Dataset(std::string(kIdCol) + "    amount: {path: /amount, type: int64}\n"));
  ASSERT_EQ(Weir("run " + Yaml(dir) + " --json").exit_code, 0);
  WriteAll(Yaml(dir), Dataset(std::string(kIdCol) + "    amount: {path: /amount, type: double}\n"));
  for (const std::string cmd : {"validate", "run", "redrive"}) {
    CmdResult r = Weir(cmd + " " + Yaml(dir) + (cmd == "redrive" ? " --errors" : "") + " 2>&1");
    EXPECT_EQ(r.exit_code, 2) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("write.columns.amount: type changed from int64 to double, but the Iceberg "
                         "table 'payments'"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("weir run --restart"), std::string::npos) << r.out;
  }
  // Adding a column: schema 1 with field id 3, and only new files carry it.
  WriteAll(Yaml(dir), Dataset(std::string(kIdCol) + "    amount: {path: /amount, type: int64}\n" +
                              "    note:   {path: /note, type: string}\n"));
  WriteInputs(dir, "q");
  WriteAll(dir + "/in/manifest.txt", "p0.jsonl\np1.jsonl\nq0.jsonl\nq1.jsonl\n");
  CmdResult r = Weir("run " + Yaml(dir) + " --json 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string hint = ReadAll(dir + "/lake/payments/metadata/version-hint.text");
  auto meta = nlohmann::json::parse(
      ReadAll(dir + "/lake/payments/metadata/v" + hint + ".metadata.json"));
  EXPECT_EQ(meta["current-schema-id"], 1);
  EXPECT_EQ(meta["last-column-id"], 3);
  ASSERT_EQ(meta["schemas"].size(), 2u);
  EXPECT_EQ(meta["schemas"][1]["fields"][2]["name"], "note");
  EXPECT_EQ(meta["schemas"][1]["fields"][2]["id"], 3);
  Duck duck;
  const std::string schema = "parquet_schema('" + dir + "/lake/payments/data/*.parquet')";
  EXPECT_EQ(duck.One("SELECT count(*) > 0 AND bool_and(field_id = 3) FROM " + schema +
                     " WHERE name = 'note'"),
            "true");
  EXPECT_EQ(duck.One("SELECT bool_and(field_id = 1) FROM " + schema + " WHERE name = 'id'"), "true");
  CmdResult q = Weir("query " + Yaml(dir) +
                     " 'SELECT count(*), count(note) FROM payments' --format csv 2>&1");
  EXPECT_EQ(q.out, "count_star(),count(note)\n64,32\n");
}

// Regression: incompatible changes were accepted by validate, run and redrive, and then broke
// every query. They are refused before anything is written, naming the column and the fix.
TEST(SchemaChangeE2E, IncompatibleChangesAreRefused) {
  std::string dir = TempDir("schema-refuse");
  WriteInputs(dir);
  WriteAll(Yaml(dir),
           Dataset(std::string(kIdCol) + kDayCol + "    amount: {path: /amount, type: double}\n",
                   "day"));
  ASSERT_EQ(Weir("run " + Yaml(dir) + " --json").exit_code, 0);

  // string -> int64
  WriteAll(Yaml(dir),
           Dataset("    id:     {path: /amount, type: int64, required: true}\n" +
                       std::string(kDayCol) + "    amount: {path: /amount, type: double}\n",
                   "day"));
  for (const std::string cmd : {"validate", "run", "redrive"}) {
    CmdResult r = Weir(cmd + " " + Yaml(dir) + (cmd == "redrive" ? " --errors" : "") + " 2>&1");
    EXPECT_EQ(r.exit_code, 2) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("write.columns.id: type changed from string to int64"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("weir run --restart"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("write.table"), std::string::npos) << r.out;
  }
  // double -> int64 (narrowing)
  WriteAll(
      Yaml(dir),
      Dataset(std::string(kIdCol) + kDayCol + "    amount: {path: /amount, type: int64}\n", "day"));
  CmdResult r = Weir("run " + Yaml(dir) + " 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("write.columns.amount: type changed from double to int64"),
            std::string::npos)
      << r.out;
  // partition_by removed
  WriteAll(Yaml(dir),
           Dataset(std::string(kIdCol) + kDayCol + "    amount: {path: /amount, type: double}\n"));
  r = Weir("run " + Yaml(dir) + " 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("write.partition_by: changed from [day] to []"), std::string::npos) << r.out;

  // Nothing was written and the table still reads.
  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + dir + "/lake/payments/data/*/*.parquet')"),
            "40");
  WriteAll(Yaml(dir),
           Dataset(std::string(kIdCol) + kDayCol + "    amount: {path: /amount, type: double}\n",
                   "day"));
  CmdResult q = Weir("query " + Yaml(dir) + " 'SELECT count(*) FROM payments' --format csv 2>&1");
  EXPECT_EQ(q.out, "count_star()\n40\n");

  // --restart rebuilds the table with the new schema.
  WriteAll(Yaml(dir),
           Dataset(std::string(kIdCol) + kDayCol + "    amount: {path: /amount, type: int64}\n"));
  r = Weir("run " + Yaml(dir) + " --restart --json 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  q = Weir("query " + Yaml(dir) +
           " 'SELECT count(*), typeof(any_value(amount)) FROM payments' --format csv 2>&1");
  EXPECT_EQ(q.out, "count_star(),typeof(any_value(amount))\n32,BIGINT\n");
}

// Regression: one missing lake file made every query fail with a raw DuckDB error, the error
// records view included, while `weir run` said "nothing to do".
TEST(LakeCheckE2E, MissingFileIsNamedAndOtherViewsStillWork) {
  std::string dir = TempDir("lake-check");
  WriteInputs(dir);
  WriteAll(
      Yaml(dir),
      Dataset(std::string(kIdCol) + kDayCol + "    amount: {path: /amount, type: int64}\n", "day"));
  ASSERT_EQ(Weir("run " + Yaml(dir) + " --json").exit_code, 0);
  CmdResult c = Weir("lake check " + Yaml(dir));
  EXPECT_EQ(c.exit_code, 0) << c.out;
  EXPECT_NE(c.out.find("is consistent"), std::string::npos) << c.out;

  std::string victim;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir + "/lake/payments")) {
    if (e.path().extension() == ".parquet") {
      victim = e.path().string();
      break;
    }
  }
  ASSERT_FALSE(victim.empty());
  Duck duck;
  const std::string victim_rows = duck.One("SELECT count(*) FROM read_parquet('" + victim + "')");
  std::filesystem::remove(victim);
  WriteAll(dir + "/lake/payments/day=d0/stray.parquet", "not really parquet");
  WriteAll(dir + "/lake/payments/_ignored/x.parquet", "underscore folders are not data");
  WriteAll(dir + "/lake/payments/.hidden.parquet", "hidden files are not data");

  CmdResult q = Weir("query " + Yaml(dir) + " 'SELECT count(*) FROM payments' 2>&1");
  EXPECT_EQ(q.exit_code, 1);
  EXPECT_NE(q.out.find(victim), std::string::npos) << q.out;
  EXPECT_NE(q.out.find("is missing"), std::string::npos) << q.out;
  EXPECT_NE(q.out.find("--restart"), std::string::npos) << q.out;
  q = Weir("query " + Yaml(dir) + " 'SELECT count(*) FROM payments_errors' --format csv 2>&1");
  EXPECT_EQ(q.exit_code, 0) << q.out;
  EXPECT_EQ(q.out, "count_star()\n8\n");

  // `weir run` no longer says "nothing to do" over the broken lake.
  CmdResult run = Weir("run " + Yaml(dir) + " 2>&1");
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find(victim + " (task "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("weir lake check"), std::string::npos) << run.out;

  c = Weir("lake check " + Yaml(dir));
  EXPECT_EQ(c.exit_code, 1) << c.out;
  EXPECT_NE(c.out.find(victim + ": missing (task "), std::string::npos) << c.out;
  EXPECT_NE(c.out.find(", " + victim_rows + " rows)"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("orphan " + dir + "/lake/payments/day=d0/stray.parquet"), std::string::npos)
      << c.out;
  EXPECT_EQ(c.out.find("_ignored"), std::string::npos) << c.out;
  EXPECT_EQ(c.out.find(".hidden"), std::string::npos) << c.out;

  c = Weir("lake check " + Yaml(dir) + " --json");
  EXPECT_EQ(c.exit_code, 1);
  auto j = nlohmann::json::parse(c.out);
  EXPECT_FALSE(j["clean"].get<bool>());
  ASSERT_EQ(j["problems"].size(), 1u);
  EXPECT_EQ(j["problems"][0]["path"], victim);
  EXPECT_EQ(j["problems"][0]["problem"], "missing");
  EXPECT_EQ(std::to_string(j["problems"][0]["rows"].get<uint64_t>()), victim_rows);
  ASSERT_EQ(j["orphans"].size(), 1u);

  // A damaged (truncated) error file is named too; the data view is not affected by it.
  std::string errfile;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/errors/pay")) {
    if (e.path().extension() == ".jsonl") errfile = e.path().string();
  }
  ASSERT_FALSE(errfile.empty());
  std::filesystem::resize_file(errfile, 10);
  c = Weir("lake check " + Yaml(dir));
  EXPECT_NE(c.out.find(errfile + ": size 10 bytes, committed "), std::string::npos) << c.out;
  q = Weir("query " + Yaml(dir) + " 'SELECT count(*) FROM payments_errors' 2>&1");
  EXPECT_EQ(q.exit_code, 1);
  EXPECT_NE(q.out.find(errfile), std::string::npos) << q.out;
}

// Regression: valid JSON with a number simdjson cannot hold in a field no column reads was an
// error record ("invalid JSON: NUMBER_ERROR"); json columns must keep such numbers' exact text.
TEST(JsonNumbersE2E, OutOfRangeNumbersParseAndKeepTheirText) {
  std::string dir = TempDir("json-numbers");
  WriteAll(dir + "/in/a.jsonl",
           "{\"id\":\"a\",\"big\":123456789012345678901234567890,\"raw\":{\"x\":1e400}}\n"
           "{\"id\":\"b\",\"neg\":-9223372036854775809,\"raw\":[-1e400,1]}\n"
           "{\"id\":\"c\",\"n\":-9223372036854775809}\n");
  WriteAll(dir + "/in/manifest.txt", "a.jsonl\n");
  WriteAll(Yaml(dir), Dataset(std::string(kIdCol) + "    raw:    {path: /raw, type: json}\n" +
                              "    n:      {path: /n, type: int64}\n"));
  ASSERT_EQ(Weir("run " + Yaml(dir) + " --json").exit_code, 0);  // record c is an error record
  Duck duck;
  auto rows = duck.Rows("SELECT id, CAST(raw AS VARCHAR) FROM read_parquet('" + dir +
                        "/lake/payments/data/*.parquet') ORDER BY id");
  ASSERT_EQ(rows.size(), 2u) << rows[0][0];
  EXPECT_EQ(rows[0][1], "{\"x\":1e400}");
  EXPECT_EQ(rows[1][1], "[-1e400,1]");
  EXPECT_EQ(duck.One("SELECT reason FROM read_json('" + dir + "/errors/pay/*.jsonl')"),
            "column 'n' (/n): integer -9223372036854775809 is out of the int64 range");
}

// Regression: invalid SQL printed DuckDB's error pointer twice, and `select 1; select 2`
// silently printed only the last result.
TEST(QueryE2E, ErrorPointerOnceAndEveryStatementPrinted) {
  std::string dir = TempDir("query-cosmetics");
  WriteInputs(dir);
  WriteAll(Yaml(dir), Dataset(std::string(kIdCol) + "    amount: {path: /amount, type: double}\n"));
  ASSERT_EQ(Weir("run " + Yaml(dir) + " --json").exit_code, 0);
  CmdResult q = Weir("query " + Yaml(dir) + " 'SELECT 1 FROM;' 2>&1");
  EXPECT_EQ(q.exit_code, 1);
  size_t first = q.out.find('^');
  ASSERT_NE(first, std::string::npos) << q.out;
  EXPECT_EQ(q.out.find('^', first + 1), std::string::npos) << q.out;

  q = Weir("query " + Yaml(dir) +
           " \"SELECT 1 AS a; SELECT 'x;y' AS b; -- c;\nSELECT count(*) AS n FROM payments;\" "
           "--format csv 2>&1");
  EXPECT_EQ(q.exit_code, 0) << q.out;
  EXPECT_EQ(q.out, "a\n1\n\nb\nx;y\n\nn\n40\n");

  q = Weir("query " + Yaml(dir) + " 'SELECT 1; SELECT nope FROM payments' 2>&1");
  EXPECT_EQ(q.exit_code, 1);
  EXPECT_NE(q.out.find("statement 2 of 2"), std::string::npos) << q.out;
}

}  // namespace
}  // namespace weir::e2e
