// Record-level redrive: `weir redrive FILE --errors` after fixing the config or the parser.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "e2e_util.h"

namespace weir::e2e {
namespace {

// A Hive table: the fix these tests make (int64 -> double) is a type change Iceberg tables
// refuse (SchemaChangeE2E.IcebergTableRefusesTypeChangesAndAddsColumnsWithNewFieldIds).
std::string Dataset(const std::string& amount_type) {
  return R"(name: pay
read: {connector: files, location: in, manifest: in/manifest.txt, parser: jsonl}
write:
  connector: lake
  location: lake
  table: payments
  table_format: hive
  columns:
    id:     {path: /id, type: string, required: true}
    amount: {path: /amount, type: )" + amount_type + R"(, required: true}
)";
}

struct Counts {
  uint64_t read = 0, written = 0, skipped = 0, errored = 0;
};

Counts TaskTotals(const std::string& yaml) {
  Counts c;
  for (const auto& t : nlohmann::json::parse(Weir("tasks " + yaml + " --json").out)) {
    c.read += t["read"].get<uint64_t>();
    c.written += t["written"].get<uint64_t>();
    c.skipped += t["skipped"].get<uint64_t>();
    c.errored += t["errored"].get<uint64_t>();
  }
  return c;
}

// One file: every 25th record is broken JSON (an error whatever the config says), every other
// 10th has a fractional amount (an error only while amount is int64). With 200 records: 8 broken,
// 16 fractional (49, 99, 149 and 199 are both, and count as broken).
std::string FileContent(int f, int records) {
  std::string s;
  for (int i = 0; i < records; ++i) {
    std::string id = std::to_string(f) + "-" + std::to_string(i);
    if (i % 25 == 24) {
      s += "{\"id\":\"" + id + "\",\"amount\":\n";
    } else if (i % 10 == 9) {
      s += "{\"id\":\"" + id + "\",\"amount\":" + std::to_string(i) + ".5}\n";
    } else {
      s += "{\"id\":\"" + id + "\",\"amount\":" + std::to_string(i) + "}\n";
    }
  }
  return s;
}

void WriteInputs(const std::string& dir, int files, int records) {
  std::string manifest;
  for (int f = 0; f < files; ++f) {
    std::string name = "p" + std::to_string(f) + ".jsonl";
    WriteAll(dir + "/in/" + name, FileContent(f, records));
    manifest += name + "\n";
  }
  WriteAll(dir + "/in/manifest.txt", manifest);
}

TEST(RedriveE2E, FixedConfigMovesExactlyTheFixableErrorsIntoTheLake) {
  std::string dir = TempDir("redrive");
  WriteInputs(dir, 3, 200);
  WriteAll(dir + "/dataset.yaml", Dataset("int64"));
  ASSERT_EQ(Weir("run " + dir + "/dataset.yaml --json").exit_code, 0);
  Counts c0 = TaskTotals(dir + "/dataset.yaml");
  EXPECT_EQ(c0.read, 600u);
  EXPECT_EQ(c0.errored, 3u * (16 + 8));
  Duck duck;
  std::string glob = dir + "/lake/payments/*.parquet";
  uint64_t before = std::stoull(duck.One("SELECT count(*) FROM read_parquet('" + glob + "')"));
  EXPECT_EQ(before, c0.written);

  // Nothing changed: redrive finds the same errors, fixes none, and keeps them exactly once.
  auto same = nlohmann::json::parse(Weir("redrive " + dir + "/dataset.yaml --errors --json").out);
  EXPECT_EQ(same["records"], c0.errored);
  EXPECT_EQ(same["fixed"], 0);
  EXPECT_EQ(same["still_failing"], c0.errored);
  EXPECT_EQ(TaskTotals(dir + "/dataset.yaml").errored, c0.errored);

  // The fix: amounts may be fractional. Crash right after the redrive's first commit, then redrive
  // again: recovery finishes that commit, and the rest is redriven once.
  WriteAll(dir + "/dataset.yaml", Dataset("double"));
  auto crash = Weir("redrive " + dir + "/dataset.yaml --errors --json",
                    "WEIR_CRASH_AT=after-commit WEIR_CRASH_AFTER_COMMITS=0");
  EXPECT_EQ(crash.signal, 9) << crash.out;
  auto r = nlohmann::json::parse(Weir("redrive " + dir + "/dataset.yaml --errors --json").out);
  EXPECT_EQ(r["still_failing"], 3u * 8);
  Counts c1 = TaskTotals(dir + "/dataset.yaml");
  EXPECT_EQ(c1.read, c0.read);
  EXPECT_EQ(c1.errored, 3u * 8);
  EXPECT_EQ(c1.written, c0.written + (c0.errored - 3u * 8));
  EXPECT_EQ(c1.read, c1.written + c1.skipped + c1.errored);
  uint64_t after = std::stoull(duck.One("SELECT count(*) FROM read_parquet('" + glob + "')"));
  EXPECT_EQ(after, c1.written);
  EXPECT_EQ(duck.One("SELECT count(*) - count(DISTINCT id) FROM read_parquet('" + glob + "')"), "0");
  // The remaining error records are the broken lines, with offsets still exact.
  auto errs = Weir("errors " + dir + "/dataset.yaml --json");
  std::istringstream in(errs.out);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    auto e = nlohmann::json::parse(line);
    std::string data = ReadAll(dir + "/in/" + e["file"].get<std::string>());
    uint64_t s = e["start_offset"], en = e["end_offset"];
    EXPECT_EQ(data.substr(s, en - s).back(), ':') << data.substr(s, en - s);
    ++n;
  }
  EXPECT_EQ(n, 3u * 8);
  // No error file is left behind that the catalog no longer lists (the folder's owner file,
  // _weir_owner.json, is not an error file).
  size_t files = 0;
  for (auto& p : std::filesystem::recursive_directory_iterator(dir + "/errors")) {
    files += p.is_regular_file() && p.path().extension() == ".jsonl";
  }
  EXPECT_EQ(files, nlohmann::json::parse(Weir("tasks " + dir + "/dataset.yaml --json").out).size());
}

TEST(RedriveE2E, SwitchingTheRegexPresetRedrivesNonMatchingLines) {
  std::string dir = TempDir("redrive-regex");
  std::string log;
  for (int i = 0; i < 50; ++i) {
    log += "10.0.0." + std::to_string(i) + " - - [10/Oct/2000:13:55:36 -0700] \"GET /p" + std::to_string(i) +
           " HTTP/1.0\" 200 " + std::to_string(100 + i) + " \"-\" \"agent\"\n";
  }
  WriteAll(dir + "/in/a.log", log);
  WriteAll(dir + "/in/manifest.txt", "a.log\n");
  auto yaml = [](const std::string& preset) {
    return "name: web\nread: {connector: files, location: in, manifest: in/manifest.txt, parser: regex, "
           "options: {preset: " + preset + "}}\nwrite:\n  connector: lake\n  location: lake\n  table: hits\n"
           "  columns:\n    path: {path: /path, type: string, required: true}\n"
           "    bytes: {path: /bytes, type: int64}\n";
  };
  WriteAll(dir + "/dataset.yaml", yaml("apache_common"));  // combined lines have two extra fields
  Weir("run " + dir + "/dataset.yaml --json");
  EXPECT_EQ(TaskTotals(dir + "/dataset.yaml").errored, 50u);
  WriteAll(dir + "/dataset.yaml", yaml("apache_combined"));
  auto r = nlohmann::json::parse(Weir("redrive " + dir + "/dataset.yaml --errors --json").out);
  EXPECT_EQ(r["fixed"], 50);
  auto q = Weir("query " + dir + "/dataset.yaml \"SELECT count(*), sum(bytes) FROM hits\" --format csv");
  EXPECT_EQ(q.out, "count_star(),sum(bytes)\n50,6225\n");
  EXPECT_EQ(Weir("errors " + dir + "/dataset.yaml --json").out, "");
}

}  // namespace
}  // namespace weir::e2e
