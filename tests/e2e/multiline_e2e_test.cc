// read.multiline end to end: Java-style logs with stack traces (regex parser), pretty-printed JSON
// objects (jsonl), plain/gzip/zstd input across 4 MiB read chunks, exact error records, kill -9
// and rerun, and record-level redrive. The answer key comes from the generator below, never from
// weir; the lake is read back with DuckDB.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "e2e_util.h"

namespace weir::e2e {
namespace {

struct LogRow {
  std::string ts, level, thread, msg;
  bool operator<(const LogRow& o) const {
    return std::tie(ts, level, thread, msg) < std::tie(o.ts, o.level, o.thread, o.msg);
  }
  bool operator==(const LogRow&) const = default;
};

struct BadRecord {
  std::string file;
  uint64_t start, end, number;
  std::string reason;  // a part of the expected reason
  std::string excerpt;
};

struct LogFile {
  std::string text;
  std::vector<LogRow> rows;
  std::vector<BadRecord> bad;
  uint64_t records = 0;  // records as weir counts them (error views included)
};

struct GenOptions {
  int records = 1000;
  int day = 1;                 // makes timestamps unique per file
  bool preamble = false;       // lines before the first record
  int malformed_every = 0;     // a start line the parser regex rejects
  int lowercase_every = 0;     // level in lower case: rejected by [A-Z]+, fixable by redrive
  int too_long_every = 0;      // a stack trace over max_lines
  uint32_t max_lines = 50;
  bool trailing_newline = true;
  uint64_t seed = 1;
};

LogFile GenerateLog(const std::string& name, const GenOptions& o) {
  std::mt19937_64 rng(o.seed);
  LogFile f;
  auto bad = [&](uint64_t start, const std::string& reason) {
    const uint64_t end = f.text.size();
    f.bad.push_back({name, start, end, f.records, reason,
                     f.text.substr(start, std::min<uint64_t>(end - start, 1024))});
  };
  if (o.preamble) {
    f.text += "# log of acme-service\nstarted by init\n";
    f.text.pop_back();
    bad(0, "bytes outside any record");
    f.text += "\n";
    ++f.records;
  }
  static const char* kLevels[] = {"INFO", "WARN", "ERROR", "DEBUG"};
  for (int i = 0; i < o.records; ++i) {
    char ts[64];
    std::snprintf(ts, sizeof ts, "2024-03-%02d %02d:%02d:%02d.%03d", o.day, i / 360000 % 24,
                  i / 6000 % 60, i / 100 % 60, i % 100 * 10);
    const uint64_t start = f.text.size();
    const bool too_long = o.too_long_every > 0 && i % o.too_long_every == o.too_long_every - 1;
    if (o.malformed_every > 0 && i % o.malformed_every == o.malformed_every - 1) {
      f.text += std::string(ts) + " ??? malformed " + std::to_string(i) + "\n  detail line";
      bad(start, "does not match the regex");
    } else {
      std::string level = too_long ? "ERROR" : kLevels[rng() % 4];
      const bool lower = o.lowercase_every > 0 && i % o.lowercase_every == o.lowercase_every - 1;
      if (lower) std::transform(level.begin(), level.end(), level.begin(), ::tolower);
      const std::string thread = "worker-" + std::to_string(rng() % 8);
      std::string msg = "request " + std::to_string(o.day) + "-" + std::to_string(i) + " " +
                        std::string(rng() % 200, 'p');
      if (level == "ERROR" || level == "error") {
        msg += "\njava.lang.IllegalStateException: boom " + std::to_string(i);
        const int frames = too_long ? static_cast<int>(o.max_lines) + 3 : 1 + rng() % 12;
        for (int k = 0; k < frames; ++k) {
          msg += "\n\tat com.acme.Service.step" + std::to_string(k) + "(Service.java:" +
                 std::to_string(rng() % 900) + ")";
          if (k == 2 && rng() % 3 == 0) msg += "\n\nCaused by: java.io.IOException: disk";
        }
      }
      f.text += std::string(ts) + " " + level + (level.size() == 4 ? "  " : " ") + "[" + thread +
                "] com.acme.Service - " + msg;
      if (too_long) {
        bad(start, "record longer than max_lines lines");
      } else if (lower) {
        bad(start, "does not match the regex");
      } else {
        f.rows.push_back({ts, level, thread, msg});
      }
    }
    ++f.records;
    if (o.trailing_newline || i + 1 < o.records) f.text += "\n";
  }
  return f;
}

constexpr const char* kLogPattern =
    R"((?s)(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) (?P<level>[A-Z]+) +\[(?P<thread>[^\]]+)\] \S+ - (?P<msg>.*))";

std::string LogYaml(const std::string& level_class = "A-Z", const std::string& extra_write = "",
                    uint32_t max_lines = 50) {
  std::string pattern = kLogPattern;
  pattern.replace(pattern.find("A-Z"), 3, level_class);
  nlohmann::json options = {{"pattern", pattern}};  // JSON is YAML: no quoting trouble
  return "name: javalogs\nread:\n  location: in\n  manifest: in/manifest.txt\n  parser: regex\n"
         "  options: " + options.dump() + "\n"
         "  multiline: {start: '^\\d{4}-\\d{2}-\\d{2} ', max_lines: " + std::to_string(max_lines) +
         "}\nwrite:\n  connector: lake\n  location: lake\n  table: logs\n  partition_by: [level]\n" +
         extra_write +
         "  columns:\n"
         "    ts:     {path: /ts, type: string, required: true}\n"
         "    level:  {path: /level, type: string}\n"
         "    thread: {path: /thread, type: string}\n"
         "    msg:    {path: /msg, type: string}\n"
         "errors:\n  location: errors\ncompute:\n  workers: 2\n";
}

std::vector<LogRow> LakeRows(Duck& duck, const std::string& dir) {
  std::vector<LogRow> out;
  for (auto& r : duck.Rows("SELECT ts, level, thread, msg FROM read_parquet('" + dir +
                           "/lake/logs/**/*.parquet', hive_partitioning = true)")) {
    if (r.size() != 4) {
      ADD_FAILURE() << (r.empty() ? "no columns" : r[0]);
      break;
    }
    out.push_back({r[0], r[1], r[2], r[3]});
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<nlohmann::json> ErrorRecords(const std::string& yaml) {
  std::vector<nlohmann::json> out;
  std::istringstream in(Weir("errors " + yaml + " --json").out);
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Every expected bad record appears exactly once, with exact offsets, number and excerpt.
void ExpectErrors(const std::string& yaml, const std::vector<BadRecord>& want) {
  auto got = ErrorRecords(yaml);
  ASSERT_EQ(got.size(), want.size());
  std::map<std::pair<std::string, uint64_t>, nlohmann::json> by_start;
  for (const auto& e : got) {
    by_start[{e["file"].get<std::string>(), e["start_offset"].get<uint64_t>()}] = e;
  }
  EXPECT_EQ(by_start.size(), want.size()) << "an error record appears twice";
  for (const BadRecord& b : want) {
    auto it = by_start.find({b.file, b.start});
    ASSERT_NE(it, by_start.end()) << b.file << " @" << b.start << " (" << b.reason << ")";
    const nlohmann::json& e = it->second;
    EXPECT_EQ(e["end_offset"].get<uint64_t>(), b.end) << b.file << " @" << b.start;
    EXPECT_EQ(e["record_number"].get<uint64_t>(), b.number) << b.file << " @" << b.start;
    EXPECT_NE(e["reason"].get<std::string>().find(b.reason), std::string::npos) << e.dump();
    EXPECT_EQ(e["excerpt"].get<std::string>(), b.excerpt) << b.file << " @" << b.start;
  }
}

struct Inputs {
  std::vector<LogRow> rows;
  std::vector<BadRecord> bad;
  uint64_t records = 0;
};

// Writes files (compressing those whose name ends in .gz / .zst) and the manifest.
Inputs WriteLogs(const std::string& dir, const std::vector<std::pair<std::string, GenOptions>>& files) {
  Inputs in;
  std::string manifest;
  for (const auto& [name, o] : files) {
    LogFile f = GenerateLog(name, o);
    std::string plain = name;
    const bool gz = name.ends_with(".gz"), zst = name.ends_with(".zst");
    if (gz || zst) plain = name.substr(0, name.rfind('.'));
    WriteAll(dir + "/in/" + plain, f.text);
    if (gz) {
      EXPECT_EQ(RunCmd("gzip -f " + dir + "/in/" + plain).exit_code, 0);
    }
    if (zst) {
      EXPECT_EQ(RunCmd("zstd -q --rm -f " + dir + "/in/" + plain).exit_code, 0);
    }
    manifest += name + "\n";
    in.rows.insert(in.rows.end(), f.rows.begin(), f.rows.end());
    in.bad.insert(in.bad.end(), f.bad.begin(), f.bad.end());
    in.records += f.records;
  }
  WriteAll(dir + "/in/manifest.txt", manifest);
  std::sort(in.rows.begin(), in.rows.end());
  return in;
}

nlohmann::json Totals(const std::string& yaml) {
  auto t = nlohmann::json::parse(Weir("tasks " + yaml + " --json").out, nullptr, false);
  nlohmann::json sum = {{"read", 0}, {"written", 0}, {"skipped", 0}, {"errored", 0}};
  if (!t.is_array()) return sum;
  for (const auto& x : t) {
    for (const char* k : {"read", "written", "skipped", "errored"}) {
      sum[k] = sum[k].get<uint64_t>() + x[k].get<uint64_t>();
    }
  }
  return sum;
}

std::vector<std::pair<std::string, GenOptions>> BigLogSet() {
  GenOptions a;  // plain, > 2 read chunks, no trailing newline, lines before the first record
  a.records = 50000;
  a.day = 1;
  a.preamble = true;
  a.malformed_every = 997;
  a.too_long_every = 2500;
  a.trailing_newline = false;
  a.seed = 11;
  GenOptions b = a;  // gzip
  b.records = 20000;
  b.day = 2;
  b.preamble = false;
  b.trailing_newline = true;
  b.seed = 12;
  GenOptions c = b;  // zstd
  c.records = 3000;
  c.day = 3;
  c.seed = 13;
  return {{"app.log", a}, {"app2.log.gz", b}, {"app3.log.zst", c}};
}

TEST(MultilineE2E, JavaStackTracesExactRowsAndErrorRecordsPlainGzipZstd) {
  const std::string dir = TempDir("multiline-java");
  const Inputs in = WriteLogs(dir, BigLogSet());
  ASSERT_GT(ReadAll(dir + "/in/app.log").size(), 9u << 20) << "must cross 4 MiB read chunks";
  WriteAll(dir + "/dataset.yaml", LogYaml());
  auto r = Weir("run " + dir + "/dataset.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  Duck duck;
  const auto rows = LakeRows(duck, dir);
  ASSERT_EQ(rows.size(), in.rows.size());
  EXPECT_TRUE(rows == in.rows);
  // A stack trace survives whole, inner blank lines included.
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + dir +
                     "/lake/logs/**/*.parquet') WHERE msg LIKE '%\n\nCaused by: %'") != "0",
            true);
  const auto t = Totals(dir + "/dataset.yaml");
  EXPECT_EQ(t["read"], in.records);  // records, not lines
  EXPECT_EQ(t["written"], in.rows.size());
  EXPECT_EQ(t["errored"], in.bad.size());
  ExpectErrors(dir + "/dataset.yaml", in.bad);
}

// The first defect this feature removes: an error record of a multi-line record starts at its
// FIRST line (offset, excerpt), not at the line where a line-by-line reader noticed the problem.
TEST(MultilineE2E, ErrorRangeStartsAtFirstLine) {
  const std::string dir = TempDir("multiline-first-line");
  const std::string text =
      "2024-03-01 10:00:00.000 INFO  [main] c.A - ok\n"
      "2024-03-01 10:00:01.000 ??? [main] c.A - bad first line\n"
      "\tat c.A.x(A.java:1)\n"
      "\tat c.A.y(A.java:2)\n"
      "2024-03-01 10:00:02.000 INFO  [main] c.A - ok again\n";
  WriteAll(dir + "/in/a.log", text);
  WriteAll(dir + "/in/manifest.txt", "a.log\n");
  WriteAll(dir + "/dataset.yaml", LogYaml());
  ASSERT_EQ(Weir("run " + dir + "/dataset.yaml --json").exit_code, 0);
  auto errs = ErrorRecords(dir + "/dataset.yaml");
  ASSERT_EQ(errs.size(), 1u);
  const uint64_t start = text.find("2024-03-01 10:00:01");
  const uint64_t end = text.find("2024-03-01 10:00:02") - 1;
  EXPECT_EQ(errs[0]["start_offset"], start);
  EXPECT_EQ(errs[0]["end_offset"], end);
  EXPECT_EQ(errs[0]["record_number"], 1);
  EXPECT_EQ(errs[0]["excerpt"], text.substr(start, end - start));
  // The text output shows the same range.
  const std::string out = Weir("errors " + dir + "/dataset.yaml").out;
  EXPECT_NE(out.find(std::to_string(start)), std::string::npos) << out;
}

TEST(MultilineE2E, KillNineMidRunThenRerunEqualsUninterruptedRun) {
  GenOptions a;
  a.records = 6000;
  a.preamble = true;
  a.malformed_every = 311;
  a.too_long_every = 1500;
  a.seed = 5;
  GenOptions b = a;
  b.day = 2;
  b.preamble = false;
  b.seed = 6;
  const std::vector<std::pair<std::string, GenOptions>> files = {{"a.log", a}, {"b.log.gz", b}};
  const std::string ref = TempDir("multiline-crash-ref");
  const Inputs in = WriteLogs(ref, files);
  WriteAll(ref + "/dataset.yaml", LogYaml("A-Z", "  roll_records: 400\n"));
  ASSERT_EQ(Weir("run " + ref + "/dataset.yaml --json").exit_code, 0);
  Duck duck;
  const auto want = LakeRows(duck, ref);
  ASSERT_EQ(want, in.rows);
  for (const std::string point : {"after-stage", "after-commit", "mid-publish"}) {
    const std::string dir = TempDir("multiline-crash-" + point);
    WriteLogs(dir, files);
    WriteAll(dir + "/dataset.yaml", LogYaml("A-Z", "  roll_records: 400\n"));
    // Each killed run leaves fewer commits to the next, so a late crash point may not be
    // reached any more: such a run must then simply complete.
    int kills = 0;
    for (int after : {1, 4, 9}) {
      auto r = Weir("run " + dir + "/dataset.yaml --json",
                    "WEIR_CRASH_AT=" + point + " WEIR_CRASH_AFTER_COMMITS=" + std::to_string(after));
      kills += r.signal == 9;
      EXPECT_TRUE(r.signal == 9 || r.exit_code == 0) << point << " after " << after << ": " << r.out;
    }
    EXPECT_GE(kills, 2) << point;
    auto r = Weir("run " + dir + "/dataset.yaml --json");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_TRUE(LakeRows(duck, dir) == want) << point;
    const auto t = Totals(dir + "/dataset.yaml");
    EXPECT_EQ(t["read"], in.records) << point;
    EXPECT_EQ(t["errored"], in.bad.size()) << point;
    ExpectErrors(dir + "/dataset.yaml", in.bad);
  }
}

TEST(MultilineE2E, RedriveErrorsMovesFixedRecordsAndKeepsTheRest) {
  GenOptions a;
  a.records = 3000;
  a.preamble = true;
  a.malformed_every = 101;
  a.lowercase_every = 37;
  a.seed = 9;
  const std::string dir = TempDir("multiline-redrive");
  const Inputs in = WriteLogs(dir, {{"a.log.gz", a}});
  WriteAll(dir + "/dataset.yaml", LogYaml());
  ASSERT_EQ(Weir("run " + dir + "/dataset.yaml --json").exit_code, 0);
  ExpectErrors(dir + "/dataset.yaml", in.bad);
  uint64_t lower = 0;
  std::vector<BadRecord> still;
  for (const auto& b : in.bad) {
    const bool fixable = b.reason == "does not match the regex" && b.excerpt.find("???") == std::string::npos;
    lower += fixable;
    if (!fixable) still.push_back(b);
    // Redrive re-parses a run outside any record like a record: it fails with the parser's word.
    if (b.reason == "bytes outside any record") still.back().reason = "does not match the regex";
  }
  ASSERT_GT(lower, 50u);
  // The fix: levels may be lower case.
  WriteAll(dir + "/dataset.yaml", LogYaml("A-Za-z"));
  auto r = nlohmann::json::parse(Weir("redrive " + dir + "/dataset.yaml --errors --json").out, nullptr, false);
  ASSERT_FALSE(r.is_discarded());
  EXPECT_EQ(r["fixed"], lower);
  EXPECT_EQ(r["still_failing"], still.size());
  ExpectErrors(dir + "/dataset.yaml", still);
  Duck duck;
  const auto rows = LakeRows(duck, dir);
  EXPECT_EQ(rows.size(), in.rows.size() + lower);
  // The redriven stack traces are whole.
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + dir +
                     "/lake/logs/**/*.parquet', hive_partitioning = true) WHERE level = 'error' "
                     "AND msg LIKE '%\n\tat com.acme.Service.step0(%'"),
            duck.One("SELECT count(*) FROM read_parquet('" + dir +
                     "/lake/logs/**/*.parquet', hive_partitioning = true) WHERE level = 'error'"));
  const auto t = Totals(dir + "/dataset.yaml");
  EXPECT_EQ(t["read"], in.records);
  EXPECT_EQ(t["errored"], still.size());
}

TEST(MultilineE2E, JsonlPrettyPrintedObjects) {
  const std::string dir = TempDir("multiline-jsonl");
  std::string text = "\n";  // a blank line before the first record is ignored
  std::vector<std::string> want;
  uint64_t bad_start = 0, bad_end = 0;
  for (int i = 0; i < 500; ++i) {
    const uint64_t start = text.size();
    if (i == 123) {
      text += "{\n  \"id\": \"x123\"\n  \"n\": 1\n}";  // missing comma
      bad_start = start;
      bad_end = text.size();
    } else {
      nlohmann::json o = {{"id", "x" + std::to_string(i)}, {"n", i}, {"tags", {"a", "b"}}};
      text += o.dump(2);
      want.push_back("x" + std::to_string(i) + "|" + std::to_string(i));
    }
    text += "\n";
  }
  WriteAll(dir + "/in/objs.json", text);
  WriteAll(dir + "/in/manifest.txt", "objs.json\n");
  WriteAll(dir + "/dataset.yaml",
           "name: objs\nread:\n  location: in\n  manifest: in/manifest.txt\n  parser: jsonl\n"
           "  multiline: {start: '^\\{'}\nwrite:\n  connector: lake\n  location: lake\n"
           "  table: objs\n  columns:\n    id: {path: /id, type: string}\n"
           "    n: {path: /n, type: int64}\n    tags: {path: /tags, type: json}\n"
           "errors:\n  location: errors\n");
  auto r = Weir("run " + dir + "/dataset.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  Duck duck;
  std::vector<std::string> got;
  for (auto& row : duck.Rows("SELECT id || '|' || n FROM read_parquet('" + dir +
                             "/lake/objs/data/*.parquet')")) {
    got.push_back(row[0]);
  }
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  auto errs = ErrorRecords(dir + "/dataset.yaml");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0]["start_offset"], bad_start);
  EXPECT_EQ(errs[0]["end_offset"], bad_end);
  EXPECT_EQ(errs[0]["record_number"], 123);
  EXPECT_EQ(errs[0]["excerpt"], text.substr(bad_start, bad_end - bad_start));
}

TEST(MultilineE2E, BadConfigIsRejectedWithKeyAndReason) {
  const std::string dir = TempDir("multiline-badcfg");
  WriteAll(dir + "/in/manifest.txt", "a.log\n");
  std::string yaml = LogYaml();
  yaml.replace(yaml.find("start: '"), 8, "start: '(");
  WriteAll(dir + "/dataset.yaml", yaml);
  auto r = RunCmd(WeirBin() + " validate " + dir + "/dataset.yaml 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("read.multiline.start"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("missing )"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace weir::e2e

namespace weir::e2e {
namespace {

// The plugin way: the example logfile plugin with {multiline: true} returns
// RecordFormat::StartRegex, so an event and its stack trace are one record.
TEST(MultilineE2E, LogfilePluginStartRegexRecords) {
  const std::string dir = TempDir("multiline-logfile");
  std::string text;
  uint64_t bad_start = 0, bad_end = 0;
  int events = 0, traces = 0;
  for (int i = 0; i < 400; ++i) {
    const uint64_t start = text.size();
    const bool bad = i == 77;
    text += "2024-06-01T10:00:" + std::string(i % 60 < 10 ? "0" : "") + std::to_string(i % 60) +
            "Z " + (bad ? "LOUD" : (i % 4 ? "INFO" : "ERROR")) + " [svc] event n=" +
            std::to_string(i);
    if (i % 4 == 0) {
      text += "\njava.lang.RuntimeException: e" + std::to_string(i) + "\n\tat A.b(A.java:1)";
      if (!bad) ++traces;
    }
    if (bad) {
      text += "\n\tat continuation of the bad event";
      bad_start = start;
      bad_end = text.size();
    } else {
      ++events;
    }
    text += "\n";
  }
  WriteAll(dir + "/in/app.log", text);
  WriteAll(dir + "/in/manifest.txt", "app.log\n");
  const std::string common =
      "plugins: [" + LogfilePlugin() +
      "]\nread:\n  location: in\n  manifest: in/manifest.txt\n  parser: plugin:logfile\n";
  const std::string write =
      "write:\n  connector: lake\n  location: lake\n  table: ev\n  columns:\n"
      "    ts: {path: /ts, type: timestamp}\n    level: {path: /level, type: string}\n"
      "    n: {path: /fields/n, type: int64}\n    trace: {path: /trace, type: string}\n"
      "errors:\n  location: errors\n";
  WriteAll(dir + "/dataset.yaml", "name: ev\n" + common + "  options: {multiline: true}\n" + write);
  auto r = Weir("run " + dir + "/dataset.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  Duck duck;
  const std::string glob = "read_parquet('" + dir + "/lake/ev/data/*.parquet')";
  EXPECT_EQ(duck.One("SELECT count(*) FROM " + glob), std::to_string(events));
  EXPECT_EQ(duck.One("SELECT count(*) FROM " + glob + " WHERE trace LIKE 'java.lang.RuntimeException: e%\n\tat A.b(A.java:1)'"),
            std::to_string(traces));
  auto errs = ErrorRecords(dir + "/dataset.yaml");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0]["start_offset"], bad_start);
  EXPECT_EQ(errs[0]["end_offset"], bad_end);  // the last line's end, terminator excluded
  EXPECT_EQ(errs[0]["record_number"], 77);
  EXPECT_EQ(errs[0]["excerpt"], text.substr(bad_start, bad_end - bad_start));

  // read.multiline is refused for a state machine or multi-file reader, with the way to go.
  const std::string mdir = TempDir("multiline-shape3");
  WriteAll(mdir + "/in/manifest.txt", "LOG:a.log\n");
  WriteAll(mdir + "/in/a.log", "2024-01-01 INFO x\n");
  WriteAll(mdir + "/dataset.yaml",
           "name: m\nplugins: [" + TestPluginDir() +
               "/libmlog_plugin.so]\nread:\n  location: in\n  manifest: in/manifest.txt\n"
               "  parser: plugin:mlog\n  multiline: {start: '^\\d'}\n"
               "write:\n  connector: lake\n  location: lake\n  table: t\n  columns:\n"
               "    day: {path: /day, type: string}\n");
  auto m = RunCmd(WeirBin() + " run " + mdir + "/dataset.yaml 2>&1");
  EXPECT_NE(m.exit_code, 0);
  EXPECT_NE(m.out.find("read.multiline is for single-record parsers"), std::string::npos) << m.out;
  EXPECT_NE(m.out.find("RecordFormat::StartRegex"), std::string::npos) << m.out;
}

}  // namespace
}  // namespace weir::e2e

namespace weir::e2e {
namespace {

// parser: lines with read.multiline: each record is one row whose `line` holds all its lines.
TEST(MultilineE2E, LinesParserGetsWholeRecords) {
  const std::string dir = TempDir("multiline-lines");
  const std::string text =
      "\r\n"
      "BEGIN 1\r\n  a\r\n  b\r\n"
      "BEGIN 2\r\n"
      "BEGIN 3\n\n  c";  // a blank continuation line; no final newline
  WriteAll(dir + "/in/x.txt", text);
  WriteAll(dir + "/in/manifest.txt", "x.txt\n");
  WriteAll(dir + "/dataset.yaml",
           "name: l\nread:\n  location: in\n  manifest: in/manifest.txt\n  parser: lines\n"
           "  multiline: {start: '^BEGIN '}\nwrite:\n  connector: lake\n  location: lake\n"
           "  table: l\n  columns:\n    line: {path: /line, type: string}\n"
           "errors:\n  location: errors\n");
  auto r = Weir("run " + dir + "/dataset.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  Duck duck;
  std::vector<std::string> got;
  for (auto& row : duck.Rows("SELECT line FROM read_parquet('" + dir + "/lake/l/data/*.parquet')")) {
    got.push_back(row[0]);
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"BEGIN 1\r\n  a\r\n  b", "BEGIN 2", "BEGIN 3\n\n  c"}));
  EXPECT_EQ(Totals(dir + "/dataset.yaml")["read"], 3);  // the leading blank line is no record
}

}  // namespace
}  // namespace weir::e2e
