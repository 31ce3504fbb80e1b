// End-to-end tests of write.dedup (exec/dedup.h): the generator's answer key says how many
// events are unique; weir must write exactly those, whatever the number of workers, runs, commits
// and kill -9s, with duplicates inside a file, across files and across runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "clickstream_util.h"
#include "e2e_util.h"

namespace weir::e2e {
namespace {

namespace fs = std::filesystem;

const char kDedup[] = "  dedup: {key: [id], within: 30d}\n";

struct LakeIds {
  uint64_t rows = 0, distinct = 0;
};

LakeIds ReadIds(const std::string& dir) {
  Duck duck;
  auto r = duck.Rows("SELECT count(*), count(DISTINCT id) FROM read_parquet('" + LakeGlob(dir) +
                     "', hive_partitioning = true)");
  EXPECT_EQ(r.size(), 1u);
  if (r.size() != 1 || r[0].size() != 2) return {};
  return {std::stoull(r[0][0]), std::stoull(r[0][1])};
}

uint64_t TaskTotal(const nlohmann::json& j, const char* key) { return j["totals"][key].get<uint64_t>(); }

// Appends `files` (names under dir/data) to the manifest.
void AddToManifest(const std::string& dir, const std::vector<std::string>& files) {
  std::string m = ReadAll(dir + "/data/manifest.txt");
  for (const auto& f : files) m += f + "\n";
  WriteAll(dir + "/data/manifest.txt", m);
}

// The first `n` lines of `from` written to `to`: a resend of part of a file.
void CopyLines(const std::string& from, const std::string& to, size_t n) {
  std::string text = ReadAll(from);
  size_t pos = 0;
  for (size_t i = 0; i < n && pos != std::string::npos; ++i) {
    pos = text.find('\n', pos);
    if (pos != std::string::npos) ++pos;
  }
  WriteAll(to, text.substr(0, pos == std::string::npos ? text.size() : pos));
}

// Duplicates inside files (the generator's resends), across files (a resent part of a file in the
// same run) and across runs (a later run resending lines of files committed earlier): the lake
// holds each unique event once, and the counters add up.
TEST(DedupE2E, DuplicatesInsideFilesAcrossFilesAndAcrossRunsAreDroppedExactly) {
  std::string dir = TempDir("dedup-exact");
  auto first = Generate(dir, 20000, 4, 71);
  CopyLines(dir + "/data/events-0001.jsonl", dir + "/data/resend-a.jsonl", 3000);
  AddToManifest(dir, {"resend-a.jsonl"});
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml(std::string(kDedup) + "  roll_records: 1500\n"));
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  LakeIds ids = ReadIds(dir);
  EXPECT_EQ(ids.rows, first.totals.unique);
  EXPECT_EQ(ids.distinct, first.totals.unique);
  // Every valid line that is not the first of its id was dropped as a duplicate.
  const uint64_t resent_valid = TaskTotal(j, "read") - first.totals.lines;  // lines of resend-a
  EXPECT_GT(resent_valid, 2900u);
  EXPECT_EQ(TaskTotal(j, "written"), first.totals.unique);
  EXPECT_EQ(TaskTotal(j, "read"),
            TaskTotal(j, "written") + TaskTotal(j, "skipped") + TaskTotal(j, "errored"));
  const uint64_t dups = TaskTotal(j, "duplicates");
  EXPECT_GE(dups, first.totals.duplicates + 2900);
  EXPECT_EQ(j["run"]["duplicates"], dups);

  // A second run: new events plus resends of lines committed by the first run.
  auto second = Generate(dir + "/more", 6000, 1, 72);
  fs::copy_file(dir + "/more/data/events-0000.jsonl", dir + "/data/new.jsonl");
  CopyLines(dir + "/data/events-0002.jsonl", dir + "/data/resend-b.jsonl", 2000);
  AddToManifest(dir, {"new.jsonl", "resend-b.jsonl"});
  auto j2 = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j2["_exit"], 0) << j2.dump();
  ids = ReadIds(dir);
  EXPECT_EQ(ids.rows, first.totals.unique + second.totals.unique);
  EXPECT_EQ(ids.distinct, ids.rows);
  EXPECT_EQ(j2["run"]["written"], second.totals.unique);
  EXPECT_GE(j2["run"]["duplicates"].get<uint64_t>(), second.totals.duplicates + 1900);
  // `weir tasks` shows the duplicates column and the same numbers.
  auto t = Weir("tasks " + dir + "/dataset.yaml");
  EXPECT_NE(t.out.find("duplicates"), std::string::npos) << t.out;
}

// One worker or two, one commit or many: the same rows.
TEST(DedupE2E, SameAnswerForOneWorkerOrTwoAndAnyCommitSize) {
  std::string base = TempDir("dedup-workers");
  std::pair<std::string, std::string> reference;
  uint64_t unique = 0;
  int variant = 0;
  for (const char* compute : {"  workers: 1\n", "  workers: 2\n"}) {
    for (const char* roll : {"", "  roll_records: 700\n"}) {
      std::string dir = base + "/" + std::to_string(variant++);
      auto rep = Generate(dir, 8000, 3, 81);
      unique = rep.totals.unique;
      // The same content twice under two names: every line of the copy is a duplicate.
      fs::copy_file(dir + "/data/events-0000.jsonl", dir + "/data/copy.jsonl");
      AddToManifest(dir, {"copy.jsonl"});
      std::string yaml = ClickstreamYaml(std::string(kDedup) + roll);
      yaml.replace(yaml.find("  workers: 2\n"), 13, compute);
      WriteAll(dir + "/dataset.yaml", yaml);
      auto j = RunJson(dir + "/dataset.yaml");
      ASSERT_EQ(j["_exit"], 0) << j.dump();
      Duck duck;
      auto fp = LakeFingerprint(duck, dir);
      EXPECT_EQ(fp.first, std::to_string(unique)) << compute << roll;
      if (reference.first.empty()) reference = fp;
      EXPECT_EQ(fp, reference) << compute << roll;
    }
  }
}

// kill -9 at each step of a commit, then a rerun: the key index committed with the rows, so the
// rerun neither loses an event (a key indexed without its row) nor writes one twice.
class DedupCrashE2E : public ::testing::TestWithParam<std::string> {};

TEST_P(DedupCrashE2E, KillNineThenRerunWritesEachUniqueEventOnce) {
  const std::string point = GetParam();
  std::string dir = TempDir("dedup-crash-" + point);
  auto rep = Generate(dir, 5000, 2, 91);
  CopyLines(dir + "/data/events-0000.jsonl", dir + "/data/resend.jsonl", 1500);
  AddToManifest(dir, {"resend.jsonl"});
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml(std::string(kDedup) + "  roll_records: 400\n"));
  auto r = Weir("run " + dir + "/dataset.yaml --json",
                "WEIR_CRASH_AT=" + point + " WEIR_CRASH_AFTER_COMMITS=3");
  ASSERT_EQ(r.signal, 9) << r.out;
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  LakeIds ids = ReadIds(dir);
  EXPECT_EQ(ids.rows, rep.totals.unique);
  EXPECT_EQ(ids.distinct, rep.totals.unique);
  EXPECT_EQ(TaskTotal(j, "read"),
            TaskTotal(j, "written") + TaskTotal(j, "skipped") + TaskTotal(j, "errored"));
  EXPECT_EQ(TaskTotal(j, "written"), rep.totals.unique);
}

INSTANTIATE_TEST_SUITE_P(CommitSteps, DedupCrashE2E,
                         ::testing::Values("after-stage", "after-commit", "mid-publish"));

// Hand-written events: the window, eviction, NULL keys and composite keys.
TEST(DedupE2E, WindowEvictionNullAndCompositeKeys) {
  std::string dir = TempDir("dedup-window");
  fs::create_directories(dir + "/data");
  auto ev = [](const std::string& id, const std::string& src, int64_t hours) {
    nlohmann::json e = {{"id", id}, {"src", src}, {"t", 1717200000000LL + hours * 3600000LL}};
    if (id.empty()) e.erase("id");
    return e.dump() + "\n";
  };
  WriteAll(dir + "/dataset.yaml", R"(name: win
read: {connector: files, location: data, manifest: data/manifest.txt, parser: jsonl}
write:
  connector: lake
  location: lake
  table: t
  dedup: {key: [id, src], within: 2h, time: t}
  columns:
    id:  {path: /id, type: string}
    src: {path: /src, type: string, required: true}
    t:   {path: /t, type: timestamp_ms, required: true}
errors: {location: errors}
compute: {workers: 1}
)");
  auto run_file = [&](const std::string& name, const std::string& body) {
    WriteAll(dir + "/data/" + name, body);
    AddToManifest(dir, {name});
    auto j = RunJson(dir + "/dataset.yaml");
    EXPECT_EQ(j["_exit"], 0) << j.dump();
    return j;
  };
  // In one file: a@0 kept; a@1h dup (1h < 2h); a@3h kept (3h from a@0); (a,other-src) kept: a
  // composite key; two NULL ids kept (NULL matches nothing).
  auto j = run_file("1.jsonl", ev("a", "web", 0) + ev("a", "web", 1) + ev("a", "web", 3) +
                                   ev("a", "app", 0) + ev("", "web", 0) + ev("", "web", 0));
  EXPECT_EQ(j["run"]["written"], 5);
  EXPECT_EQ(j["run"]["duplicates"], 1);
  // Next run, against the committed index: a@4h is 1h from the newest a (3h): dup; a@-2h is
  // 5h from it: kept.
  j = run_file("2.jsonl", ev("a", "web", 4) + ev("a", "web", -2));
  EXPECT_EQ(j["run"]["written"], 1);
  EXPECT_EQ(j["run"]["duplicates"], 1);
  // An event 100h later moves the index's newest time on: keys older than 98h leave it, so a@3h's
  // key is gone and a resend of a@3h is not recognised any more (the documented window).
  j = run_file("3.jsonl", ev("z", "web", 100));
  EXPECT_EQ(j["run"]["written"], 1);
  j = run_file("4.jsonl", ev("a", "web", 3) + ev("z", "web", 100));
  EXPECT_EQ(j["run"]["written"], 1);
  EXPECT_EQ(j["run"]["duplicates"], 1);
  Duck duck;
  auto rows = duck.Rows("SELECT count(*) FROM read_parquet('" + dir + "/lake/t/**/*.parquet')");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "8");
}

// --restart forgets the index with the tasks: the reloaded table has every unique event again.
TEST(DedupE2E, RestartForgetsTheIndex) {
  std::string dir = TempDir("dedup-restart");
  auto rep = Generate(dir, 3000, 2, 93);
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml(kDedup));
  ASSERT_EQ(RunJson(dir + "/dataset.yaml")["_exit"], 0);
  auto j = RunJson(dir + "/dataset.yaml", "", "--restart");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  EXPECT_EQ(j["run"]["written"], rep.totals.unique);
  EXPECT_EQ(ReadIds(dir).rows, rep.totals.unique);
}

TEST(DedupE2E, BadDedupKeysAreRejectedWithTheKeyAndWhatToDo) {
  std::string dir = TempDir("dedup-config");
  struct Case {
    std::string dedup, expect;
  };
  for (const Case& c : std::vector<Case>{
           {"{key: [idd]}", "write.dedup.key: unknown column 'idd' (did you mean 'id'?)"},
           {"{key: [latitude]}", "key columns cannot be json or double"},
           {"{key: [id], within: 7}", "write.dedup.within: '7' is not a duration"},
           {"{key: [id], time: user_id}", "write.dedup.time: column 'user_id' has type string"},
           {"{key: [id], windw: 7d}", "write.dedup.windw: unknown key"},
           {"{within: 7d}", "write.dedup.key: missing required key"}}) {
    WriteAll(dir + "/dataset.yaml", ClickstreamYaml("  dedup: " + c.dedup + "\n"));
    auto r = Weir("validate " + dir + "/dataset.yaml 2>&1");
    EXPECT_EQ(r.exit_code, 2) << c.dedup << "\n" << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.dedup << "\n" << r.out;
  }
}

}  // namespace
}  // namespace weir::e2e
