// State machine parsers (SDK shape 2) and multi-file readers (shape 3) through the real binary,
// with the test plugins "exchange" and "pair" (tests/plugin/test_plugins). Expected rows and error
// ranges are computed from the generated inputs, never written out by hand.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <algorithm>

#include "e2e_util.h"

namespace weir::e2e {
namespace {

std::string Plugin(const std::string& name) {
  return TestPluginDir() + "/lib" + name + "_plugin.so";
}

std::vector<nlohmann::json> Errors(const std::string& yaml) {
  std::vector<nlohmann::json> out;
  std::istringstream in(Weir("errors " + yaml + " --json").out);
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

nlohmann::json RunJson(const std::string& yaml, const std::string& env = "",
                       const std::string& flags = "") {
  auto r = Weir("run " + yaml + " --json --no-progress " + flags, env);
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) j = nlohmann::json::object({{"_raw", r.out}});
  j["_exit"] = r.exit_code;
  j["_signal"] = r.signal;
  return j;
}

// ---- shape 2: the exchange state machine ----

// One generated exchange and where its records landed in the file.
struct Exchange {
  int id;
  std::string url, body;
  int status, ms;
  bool broken_response = false;  // RESP carries another id
  uint64_t req_at = 0, resp_at = 0, resp_end = 0, meta_at = 0, end = 0;
  uint64_t first_record = 0;
};

struct ExchangeFile {
  std::string text;
  std::vector<Exchange> ex;
};

// Exchanges with random bodies (including bytes that look like record starts and newlines,
// which only the Content-Length-style body length keeps apart), some broken responses.
ExchangeFile MakeExchanges(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  ExchangeFile f;
  uint64_t record = 0;
  for (int i = 1; i <= n; ++i) {
    Exchange e;
    e.id = i;
    e.url = "/p/" + std::to_string(rng() % 1000);
    e.status = std::vector<int>{200, 200, 200, 201, 304, 404, 503}[rng() % 7];
    e.ms = static_cast<int>(rng() % 5000);
    const char* pieces[] = {"abc", "\n", "REQ 9 /x\n", "META ", " ", "RESP 1 200 3\n", "zz"};
    for (int k = static_cast<int>(rng() % 6); k > 0; --k) e.body += pieces[rng() % 7];
    e.broken_response = rng() % 23 == 0;
    e.first_record = record;
    e.req_at = f.text.size();
    f.text += "REQ " + std::to_string(e.id) + " " + e.url + "\n";
    e.resp_at = f.text.size();
    f.text += "RESP " + std::to_string(e.broken_response ? e.id + 100000 : e.id) + " " +
              std::to_string(e.status) + " " + std::to_string(e.body.size()) + "\n" + e.body + "\n";
    e.resp_end = f.text.size();
    e.meta_at = f.text.size();
    f.text += "META " + std::to_string(e.id) + " ms=" + std::to_string(e.ms) + "\n";
    e.end = f.text.size();
    if (rng() % 5 == 0) f.text += "\n";  // whitespace between records is not an error
    record += 3;
    f.ex.push_back(e);
  }
  return f;
}

// A dataset reading in/manifest.txt with test plugin `name` into lake table t.
std::string PluginYaml(const std::string& name, const std::string& options,
                       const std::string& write_extra, const std::string& columns) {
  return "name: " + name + "\nplugins: [" + Plugin(name) +
         "]\nread:\n  connector: files\n  location: in\n  manifest: in/manifest.txt\n"
         "  parser: plugin:" + name + "\n  options: " + options +
         "\nwrite:\n  connector: lake\n  location: lake\n  table: t\n" + write_extra +
         "  columns:\n" + columns;
}

std::string ExchangeYaml(const std::string& options, const std::string& write_extra = "") {
  return PluginYaml("exchange", options, write_extra,
                    "    id: {path: /id, type: int64, required: true}\n"
                    "    url: {path: /url, type: string}\n"
                    "    status: {path: /status, type: int64}\n"
                    "    body: {path: /body, type: string}\n"
                    "    ms: {path: /ms, type: int64}\n"
                    "    prev_type: {path: /prev_type, type: int64}\n"
                    "    prev_offset: {path: /prev_offset, type: int64}\n");
}

// The rows the lake must hold, as "id|url|status|body-length|ms|prev_type|prev_offset" lines.
std::multiset<std::string> ExpectedExchangeRows(const ExchangeFile& f, int max_status) {
  std::multiset<std::string> rows;
  for (size_t i = 0; i < f.ex.size(); ++i) {
    const Exchange& e = f.ex[i];
    if (e.broken_response || e.status > max_status) continue;
    const int prev_type = i == 0 ? -1 : 2;
    const uint64_t prev_offset = i == 0 ? 0 : f.ex[i - 1].meta_at;
    rows.insert(std::to_string(e.id) + "|" + e.url + "|" + std::to_string(e.status) + "|" +
                std::to_string(e.body.size()) + "|" + std::to_string(e.ms) + "|" +
                std::to_string(prev_type) + "|" + std::to_string(prev_offset));
  }
  return rows;
}

// The rows of a one-column `weir query` in CSV, header dropped.
std::multiset<std::string> QueryRows(const std::string& yaml, const std::string& sql) {
  auto q = Weir("query " + yaml + " \"" + sql + "\" --format csv");
  std::multiset<std::string> rows;
  std::istringstream in(q.out);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) rows.insert(line);
  return rows;
}

std::multiset<std::string> LakeExchangeRows(const std::string& yaml) {
  return QueryRows(yaml, "SELECT id || '|' || url || '|' || status || '|' || length(body) || '|' || "
                         "ms || '|' || prev_type || '|' || prev_offset FROM t");
}

TEST(StateMachineE2E, DocumentsSpanRecordsAndErrorsNameTheBadRecordAndTheDocument) {
  const std::string dir = TempDir("sm-basic");
  const ExchangeFile f = MakeExchanges(400, 7);
  WriteAll(dir + "/in/x.log", f.text);
  WriteAll(dir + "/in/manifest.txt", "x.log\n");
  WriteAll(dir + "/dataset.yaml", ExchangeYaml("{max_status: 499}"));
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  EXPECT_EQ(LakeExchangeRows(dir + "/dataset.yaml"), ExpectedExchangeRows(f, 499));

  // Expected error records: a failed status is ONE error over the whole exchange naming the
  // response; a broken response ends its document there, and the orphaned metadata is another.
  std::set<std::string> expected;
  uint64_t broken = 0, failed = 0;
  for (const Exchange& e : f.ex) {
    if (e.broken_response) {
      ++broken;
      expected.insert("response|" + std::to_string(e.resp_at) + "-" + std::to_string(e.resp_end) +
                      "|doc " + std::to_string(e.req_at) + "-" + std::to_string(e.resp_end));
      expected.insert("metadata|" + std::to_string(e.meta_at) + "-" + std::to_string(e.end) +
                      "|doc " + std::to_string(e.meta_at) + "-" + std::to_string(e.end));
    } else if (e.status > 499) {
      ++failed;
      expected.insert("status|" + std::to_string(e.resp_at) + "-" + std::to_string(e.resp_end) +
                      "|doc " + std::to_string(e.req_at) + "-" + std::to_string(e.end));
    }
  }
  ASSERT_GT(broken, 0u);
  ASSERT_GT(failed, 0u);
  EXPECT_EQ(j["totals"]["errored"], 2 * broken + failed);
  EXPECT_EQ(j["totals"]["read"], f.ex.size() + broken);  // units: one per document or error
  std::set<std::string> got;
  for (const auto& e : Errors(dir + "/dataset.yaml")) {
    const std::string reason = e["reason"];
    const std::string kind = reason.rfind("status ", 0) == 0       ? "status"
                             : reason.find("response") == 0        ? "response"
                             : reason.find("metadata") == 0        ? "metadata"
                                                                   : reason;
    const uint64_t s = e["start_offset"], t = e["end_offset"];
    const auto& d = e["document"]["exchange-log"];
    got.insert(kind + "|" + std::to_string(s) + "-" + std::to_string(t) + "|doc " +
               std::to_string(d["start_offset"].get<uint64_t>()) + "-" +
               std::to_string(d["end_offset"].get<uint64_t>()));
    // The excerpt is the bad record's bytes, exactly.
    EXPECT_EQ(e["excerpt"].get<std::string>(), f.text.substr(s, t - s));
    EXPECT_EQ(e["file_type"], "exchange-log");
    EXPECT_EQ(e["path"], dir + "/in/x.log");
  }
  EXPECT_EQ(got, expected);

  // Nothing left to do on a second run.
  auto again = RunJson(dir + "/dataset.yaml");
  EXPECT_EQ(again["tasks_run"], 0);
}

TEST(StateMachineE2E, RecordLevelRedriveRereadsWholeFailedDocuments) {
  const std::string dir = TempDir("sm-redrive");
  const ExchangeFile f = MakeExchanges(300, 11);
  WriteAll(dir + "/in/x.log", f.text);
  WriteAll(dir + "/in/manifest.txt", "x.log\n");
  WriteAll(dir + "/dataset.yaml", ExchangeYaml("{max_status: 299}"));
  ASSERT_EQ(RunJson(dir + "/dataset.yaml")["_exit"], 0);
  const size_t errors_before = Errors(dir + "/dataset.yaml").size();
  // The fix: accept every status. Exchanges that failed on status now land; broken ones stay.
  WriteAll(dir + "/dataset.yaml", ExchangeYaml("{max_status: 599}"));
  auto r = Weir("redrive " + dir + "/dataset.yaml --errors");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(LakeExchangeRows(dir + "/dataset.yaml"), ExpectedExchangeRows(f, 599));
  uint64_t broken = 0;
  for (const Exchange& e : f.ex) broken += e.broken_response;
  auto errs = Errors(dir + "/dataset.yaml");
  EXPECT_EQ(errs.size(), 2 * broken);
  EXPECT_LT(errs.size(), errors_before);
  // A second redrive changes nothing.
  ASSERT_EQ(Weir("redrive " + dir + "/dataset.yaml --errors").exit_code, 0);
  EXPECT_EQ(LakeExchangeRows(dir + "/dataset.yaml"), ExpectedExchangeRows(f, 599));
}

// Kill -9 at each commit step with many small commits, then rerun: the rows (including the
// previous-record context the parser saw) equal those of a run that never crashed.
class StateMachineCrashE2E : public ::testing::TestWithParam<std::string> {};

TEST_P(StateMachineCrashE2E, ResumeFromCheckpointGivesTheSameRowsAndContext) {
  const std::string point = GetParam();
  const std::string dir = TempDir("sm-crash-" + point);
  const ExchangeFile f = MakeExchanges(3000, 5);
  WriteAll(dir + "/in/x.log", f.text);
  WriteAll(dir + "/in/x2.log.gz", "");  // replaced below by a gzip copy
  ASSERT_EQ(RunCmd("gzip -c " + dir + "/in/x.log > " + dir + "/in/x2.log.gz").exit_code, 0);
  WriteAll(dir + "/in/manifest.txt", "x.log\nx2.log.gz\n");
  WriteAll(dir + "/dataset.yaml", ExchangeYaml("{max_status: 499}", "  roll_records: 150\n"));
  bool resumed_mid_file = false;
  for (int after : {1, 4}) {
    auto r = Weir("run " + dir + "/dataset.yaml --json --no-progress",
                  "WEIR_CRASH_AT=" + point + " WEIR_CRASH_AFTER_COMMITS=" + std::to_string(after));
    EXPECT_EQ(r.signal, 9) << "expected a kill at " << point << ": " << r.out;
    // The next run must resume inside a file, from a checkpoint with its previous record.
    for (const auto& t : nlohmann::json::parse(Weir("tasks " + dir + "/dataset.yaml --json").out)) {
      const uint64_t at = t["checkpoint"]["offset"];
      resumed_mid_file |= at > 0 && at < f.text.size();
    }
  }
  EXPECT_TRUE(resumed_mid_file);
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  std::multiset<std::string> expected = ExpectedExchangeRows(f, 499);
  for (const auto& row : ExpectedExchangeRows(f, 499)) expected.insert(row);  // two files
  EXPECT_EQ(LakeExchangeRows(dir + "/dataset.yaml"), expected);
  // Every error record exactly once.
  std::set<std::string> uniq;
  auto errs = Errors(dir + "/dataset.yaml");
  for (const auto& e : errs) {
    uniq.insert(e["file"].get<std::string>() + ":" + std::to_string(e["start_offset"].get<uint64_t>()));
  }
  EXPECT_EQ(uniq.size(), errs.size());
  uint64_t per_file = 0;
  for (const Exchange& e : f.ex) per_file += e.broken_response ? 2 : (e.status > 499 ? 1 : 0);
  EXPECT_EQ(errs.size(), 2 * per_file);
}

INSTANTIATE_TEST_SUITE_P(CommitSteps, StateMachineCrashE2E,
                         ::testing::Values("after-stage", "after-commit", "mid-publish"));

// ---- shape 3: the pair multi-file reader ----

std::string PairYaml(const std::string& options, const std::string& write_extra = "") {
  return PluginYaml("pair", options, write_extra,
                    "    key: {path: /key, type: string, required: true}\n"
                    "    a: {path: /a, type: string}\n"
                    "    b: {path: /b, type: string}\n");
}

std::multiset<std::string> LakePairs(const std::string& yaml) {
  return QueryRows(yaml, "SELECT key || '|' || a || '|' || b FROM t");
}

TEST(MultiFileE2E, FilesReadInStepMakeOneDocumentPerPairAndErrorsNameTheFile) {
  const std::string dir = TempDir("mf-basic");
  // A and B agree except at line 3 (B's key differs); B has two lines more than A.
  std::string a, b;
  std::vector<uint64_t> b_at;
  for (int i = 0; i < 6; ++i) {
    a += "k" + std::to_string(i) + " a" + std::to_string(i) + "\n";
    b_at.push_back(b.size());
    b += (i == 3 ? "zz" : "k" + std::to_string(i)) + " b" + std::to_string(i) + "\n";
  }
  for (int i = 6; i < 8; ++i) {
    b_at.push_back(b.size());
    b += "k" + std::to_string(i) + " b" + std::to_string(i) + "\n";
  }
  b_at.push_back(b.size());
  WriteAll(dir + "/in/a.txt", a);
  WriteAll(dir + "/in/b.txt", b);
  ASSERT_EQ(RunCmd("gzip -c " + dir + "/in/a.txt > " + dir + "/in/a2.txt.gz").exit_code, 0);
  WriteAll(dir + "/in/manifest.txt",
           "A:a.txt|B:b.txt\nB:b.txt|A:a2.txt.gz\nA:a.txt\nA:a.txt|C:c.txt|B:b.txt\n");
  WriteAll(dir + "/dataset.yaml", PairYaml("{}"));
  auto j = RunJson(dir + "/dataset.yaml");
  EXPECT_EQ(j["_exit"], 1) << j.dump();  // the two bad manifest entries fail their tasks
  ASSERT_EQ(j["tasks"].size(), 4u);
  EXPECT_EQ(j["tasks"][0]["status"], "COMPLETED");
  EXPECT_EQ(j["tasks"][1]["status"], "COMPLETED");
  EXPECT_EQ(j["tasks"][2]["status"], "ERROR");
  EXPECT_NE(j["tasks"][2]["reason"].get<std::string>().find("file type 'B' is missing"),
            std::string::npos) << j["tasks"][2]["reason"];
  EXPECT_NE(j["tasks"][3]["reason"].get<std::string>().find("unknown file type 'C'"),
            std::string::npos) << j["tasks"][3]["reason"];

  std::multiset<std::string> expected;
  for (int i = 0; i < 6; ++i) {
    if (i == 3) continue;
    const std::string k = std::to_string(i);
    expected.insert("k" + k + "|a" + k + "|b" + k);
    expected.insert("k" + k + "|a" + k + "|b" + k);  // the gzip entry gives the same
  }
  EXPECT_EQ(LakePairs(dir + "/dataset.yaml"), expected);

  // Per task: the key mismatch names B (read last) with B's line; B's two extra lines are
  // "not consumed" errors naming B; offsets are B's.
  auto errs = Errors(dir + "/dataset.yaml");
  ASSERT_EQ(errs.size(), 6u);
  std::multiset<std::string> got, want;
  for (const auto& e : errs) {
    got.insert(e["file_type"].get<std::string>() + "@" +
               std::to_string(e["start_offset"].get<uint64_t>()) + "-" +
               std::to_string(e["end_offset"].get<uint64_t>()) + ":" +
               e["reason"].get<std::string>().substr(0, 12));
    EXPECT_EQ(e["path"], dir + "/in/b.txt");
    const uint64_t s = e["start_offset"], t = e["end_offset"];
    EXPECT_EQ(e["excerpt"].get<std::string>(), b.substr(s, t - s));
  }
  for (int task = 0; task < 2; ++task) {
    want.insert("B@" + std::to_string(b_at[3]) + "-" + std::to_string(b_at[4]) + ":key mismatch");
    for (int i = 6; i < 8; ++i) {
      want.insert("B@" + std::to_string(b_at[i]) + "-" + std::to_string(b_at[i + 1]) +
                  ":record not c");
    }
  }
  EXPECT_EQ(got, want);
  // The mismatch's document covers A's line 3 and B's line 3.
  for (const auto& e : errs) {
    if (e["reason"].get<std::string>().rfind("key mismatch", 0) != 0) continue;
    EXPECT_EQ(e["document"]["A"]["records"], 1);
    EXPECT_EQ(e["document"]["A"]["first_record"], 3);
    EXPECT_EQ(e["document"]["B"]["first_record"], 3);
  }
}

TEST(MultiFileE2E, ReaderBugsAreClearErrorsNotHangsOrCrashes) {
  const std::string dir = TempDir("mf-bugs");
  WriteAll(dir + "/in/a.txt", "k0 a\nk1 a\nk2 a\n");
  WriteAll(dir + "/in/b.txt", "k0 b\nk1 b\nk2 b\n");
  WriteAll(dir + "/in/manifest.txt", "A:a.txt|B:b.txt\n");
  // An exception escaping Read() is an error record for that unit (naming the file read last,
  // A) and the run goes on. The plugin threw after consuming A's line only, so from then on its
  // files are out of step: k2 meets B's k1 (a mismatch) and B's k2 is left over.
  WriteAll(dir + "/throw.yaml", PairYaml("{throw_on: k1}"));
  auto j = RunJson(dir + "/throw.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  EXPECT_EQ(j["totals"]["written"], 1);
  auto errs = Errors(dir + "/throw.yaml");
  ASSERT_EQ(errs.size(), 3u);
  std::sort(errs.begin(), errs.end(), [](const auto& x, const auto& y) {
    return x["record_number"].template get<uint64_t>() < y["record_number"].template get<uint64_t>() ||
           (x["record_number"] == y["record_number"] && x["file_type"] < y["file_type"]);
  });
  EXPECT_EQ(errs[0]["reason"], "reader threw: boom at k1");
  EXPECT_EQ(errs[0]["file_type"], "A");
  EXPECT_EQ(errs[0]["excerpt"], "k1 a\n");
  EXPECT_EQ(errs[1]["reason"], "key mismatch: A has k2, B has k1");
  EXPECT_EQ(errs[2]["reason"], "record not consumed by the reader (Read() returned End() first)");
  EXPECT_EQ(errs[2]["excerpt"], "k2 b\n");
  // A Read() that consumes nothing would loop forever: the task fails with the reason instead.
  WriteAll(dir + "/stall.yaml", PairYaml("{stall_on: k1}"));
  auto s = RunJson(dir + "/stall.yaml", "", "--restart");
  EXPECT_EQ(s["_exit"], 1) << s.dump();
  EXPECT_NE(s["tasks"][0]["reason"].get<std::string>().find("without consuming any record"),
            std::string::npos) << s["tasks"][0]["reason"];
}

TEST(MultiFileE2E, KillNineMidRunThenRerunAndRecordLevelRedrive) {
  const std::string dir = TempDir("mf-crash");
  std::mt19937 rng(3);
  std::string a, b;
  std::multiset<std::string> strict_rows, all_rows;
  for (int i = 0; i < 2000; ++i) {
    const std::string k = "k" + std::to_string(i);
    const bool mismatch = rng() % 17 == 0;
    const std::string va = "a" + std::to_string(rng() % 100000), vb = "b" + std::to_string(rng() % 100000);
    a += k + " " + va + "\n";
    b += (mismatch ? "x" + k : k) + " " + vb + "\n";
    if (!mismatch) strict_rows.insert(k + "|" + va + "|" + vb);
    all_rows.insert(k + "|" + va + "|" + vb);
  }
  WriteAll(dir + "/in/a.txt", a);
  WriteAll(dir + "/in/b.txt", b);
  WriteAll(dir + "/in/manifest.txt", "A:a.txt|B:b.txt\n");
  WriteAll(dir + "/dataset.yaml", PairYaml("{}", "  roll_records: 100\n"));
  for (const char* point : {"after-stage", "after-commit", "mid-publish"}) {
    auto r = Weir("run " + dir + "/dataset.yaml --json --no-progress",
                  std::string("WEIR_CRASH_AT=") + point + " WEIR_CRASH_AFTER_COMMITS=3");
    EXPECT_EQ(r.signal, 9) << point << ": " << r.out;
  }
  ASSERT_EQ(RunJson(dir + "/dataset.yaml")["_exit"], 0);
  EXPECT_EQ(LakePairs(dir + "/dataset.yaml"), strict_rows);
  const size_t mismatches = all_rows.size() - strict_rows.size();
  EXPECT_EQ(Errors(dir + "/dataset.yaml").size(), mismatches);
  // Fix by relaxing the reader: the mismatched pairs land exactly once, the errors are gone.
  WriteAll(dir + "/dataset.yaml", PairYaml("{strict: false}", "  roll_records: 100\n"));
  auto r = Weir("redrive " + dir + "/dataset.yaml --errors");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(LakePairs(dir + "/dataset.yaml"), all_rows);
  EXPECT_EQ(Errors(dir + "/dataset.yaml").size(), 0u);
}

// ---- shape 3 with multi-line entries (test plugin "mlog") ----

// Regression: a multi-line entry that a MultiFileReader assembles from line records with Peek()
// and rejects as a whole used to get an error record at its LAST line (offset and excerpt), as
// Error() names the last record read. DocumentError() (and, better, StartRegex records) put it at
// the entry's first line; `weir errors` prints the whole document range.
TEST(MultiFileE2E, MultiFileReaderErrorRangeStartsAtFirstLine) {
  std::string text;
  std::multiset<std::string> want;
  struct Bad {
    uint64_t first, last_line, next;
  };
  std::vector<Bad> bad;
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i) {
    const uint64_t start = text.size();
    const bool is_bad = i % 29 == 7;
    const std::string level = is_bad ? "warn" : (i % 3 ? "INFO" : "ERROR");
    std::string msg = "entry " + std::to_string(i);
    const int extra = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < extra; ++k) msg += "\n\tat frame" + std::to_string(k);
    text += "2024-05-0" + std::to_string(1 + i % 9) + " " + level + " " + msg;
    const uint64_t last_line = text.rfind('\n') + 1;
    text += "\n";
    if (is_bad) {
      bad.push_back({start, last_line, text.size()});
    } else {
      want.insert(level + "|" + msg);
    }
  }
  for (const std::string mode : {"lines", "regex", "legacy"}) {
    const std::string dir = TempDir("mlog-" + mode);
    WriteAll(dir + "/in/a.log", text);
    WriteAll(dir + "/in/manifest.txt", "LOG:a.log\n");
    WriteAll(dir + "/dataset.yaml",
             PluginYaml("mlog", "{mode: " + mode + "}", "",
                        "    day: {path: /day, type: string}\n"
                        "    level: {path: /level, type: string}\n"
                        "    msg: {path: /msg, type: string}\n") +
                 "errors:\n  location: errors\n");
    auto j = RunJson(dir + "/dataset.yaml");
    ASSERT_EQ(j["_exit"], 0) << mode << " " << j.dump();
    uint64_t chars = 0;
    for (const std::string& w : want) chars += w.size();
    EXPECT_EQ(QueryRows(dir + "/dataset.yaml",
                        "SELECT count(*) || ' ' || sum(length(level) + 1 + length(msg)) FROM t"),
              std::multiset<std::string>{std::to_string(want.size()) + " " + std::to_string(chars)})
        << mode;
    auto errs = Errors(dir + "/dataset.yaml");
    ASSERT_EQ(errs.size(), bad.size()) << mode;
    std::sort(errs.begin(), errs.end(), [](const auto& a, const auto& b) {
      return a["start_offset"].template get<uint64_t>() < b["start_offset"].template get<uint64_t>();
    });
    for (size_t i = 0; i < bad.size(); ++i) {
      const auto& e = errs[i];
      const Bad& b = bad[i];
      EXPECT_EQ(e["document"]["LOG"]["start_offset"], b.first) << mode;
      EXPECT_EQ(e["document"]["LOG"]["end_offset"], b.next) << mode;
      if (mode == "legacy") {
        // Error() names the last record read: the entry's last line. Kept as the contrast.
        EXPECT_EQ(e["start_offset"], b.last_line);
        continue;
      }
      EXPECT_EQ(e["start_offset"], b.first) << mode;
      EXPECT_EQ(e["end_offset"], b.next) << mode;  // both: up to the next entry's first byte
      const std::string excerpt = text.substr(b.first, b.next - b.first - (mode == "regex"));
      EXPECT_EQ(e["excerpt"], excerpt) << mode;
      EXPECT_NE(e["reason"].get<std::string>().find("level 'warn'"), std::string::npos);
    }
    if (mode == "lines") {
      // The text output shows the whole document range and its records.
      const std::string out = Weir("errors " + dir + "/dataset.yaml").out;
      EXPECT_NE(out.find("document: LOG bytes " + std::to_string(bad[0].first) + "-" +
                         std::to_string(bad[0].next) + " records "),
                std::string::npos)
          << out;
    }
  }
}

}  // namespace
}  // namespace weir::e2e
