// Rules end to end (issue 11, docs/rules.md): the derived table of a files dataset against an
// independent oracle (tests/rules/oracle.py, written from the docs' semantics, not from the
// engine), with 1 and 2 workers, after kill -9 at every kind of commit point, across reruns and
// --restart, with write.dedup, and config errors for bad rules; and Kafka sources: one partition
// against the oracle, kill -9 mid-stream, idle timers firing on the clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "e2e_util.h"
#include "kafka_util.h"

namespace weir::e2e {
namespace {

namespace fs = std::filesystem;

const char* kOracle = WEIR_SOURCE_DIR "/tests/rules/oracle.py";

// The dataset: `write` (connector none by default) and compute settings vary.
const char* kFilesRead =
    "read: {connector: files, location: data, manifest: data/manifest.txt, parser: jsonl}\n";

std::string RulesYaml(const std::string& write_extra = "  connector: none\n",
                      const std::string& top_extra = "", const std::string& read = kFilesRead,
                      const std::string& idle_timeout = "10s") {
  return "name: marketplace_rules\n" + read +
         "write:\n" +
         write_extra +
         "  columns:\n"
         "    id:         {path: /data/id, type: string, required: true}\n"
         "    event_type: {path: /data/type, type: string, required: true}\n"
         "    created_at: {path: /meta/created_at, type: timestamp, required: true}\n"
         "    user_id:    {path: /data/attributes/user_id, type: string}\n"
         "    meeting_id: {path: /data/attributes/meeting_id, type: string}\n" +
         top_extra +
         "rules:\n"
         "  event_time: created_at\n"
         "  out_of_orderness: 5s\n"
         "  idle_timeout: " + idle_timeout + "\n"
         "  output: {location: lake, table: derived}\n"
         "  patterns:\n"
         "    - name: meeting_accepted\n"
         "      key: meeting_id\n"
         "      sequence:\n"
         "        - {as: proposed, where: \"event_type = 'meeting_proposal'\"}\n"
         "        - {as: accepted, where: \"event_type = 'meeting_accepted'\", within: 48h}\n"
         "      emit: {proposed_at: proposed.created_at, accepted_at: accepted.created_at}\n"
         "    - name: meeting_reminder\n"
         "      key: meeting_id\n"
         "      sequence:\n"
         "        - {as: proposed, where: \"event_type = 'meeting_proposal'\"}\n"
         "      absent: {where: \"event_type = 'meeting_accepted'\", within: 1h}\n"
         "      emit: {proposed_at: proposed.created_at}\n"
         "  segments:\n"
         "    - name: seller_level\n"
         "      key: user_id\n"
         "      window: 7d\n"
         "      aggregates:\n"
         "        listings: \"count(*) where event_type = 'listing_created'\"\n"
         "      buckets:\n"
         "        - {name: power_seller, when: \"listings >= 3\"}\n"
         "        - {name: seller, when: \"listings >= 1\"}\n"
         "        - {name: none}\n";
}

// "rule|key|event_time|data" with data re-serialised, sorted: the oracle's lines and weir's
// query output compare as multisets.
std::vector<std::string> Canonical(const std::string& jsonl, bool data_is_text) {
  std::vector<std::string> out;
  std::istringstream in(jsonl);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    auto data = data_is_text ? nlohmann::json::parse(j["data"].get<std::string>()) : j["data"];
    out.push_back(j["rule"].get<std::string>() + "|" + j["key"].get<std::string>() + "|" +
                  j["event_time"].get<std::string>() + "|" + data.dump());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Input files for `seed` under dir/data, and the oracle's derived records and late count.
struct Expected {
  std::vector<std::string> records;
  uint64_t late = 0;
};

Expected Generate(const std::string& dir, int seed, int events, int files,
                  const std::string& oracle_args = "") {
  auto g = RunCmd(std::string("python3 ") + kOracle + " gen --dir " + dir + " --seed " +
                  std::to_string(seed) + " --events " + std::to_string(events) + " --files " +
                  std::to_string(files) + " 2>/dev/null");
  EXPECT_EQ(g.exit_code, 0);
  auto e = RunCmd(std::string("python3 ") + kOracle + " expect --dir " + dir + oracle_args + " 2>" +
                  dir + "/oracle.err");
  EXPECT_EQ(e.exit_code, 0);
  Expected x;
  x.records = Canonical(e.out, false);
  const std::string err = ReadAll(dir + "/oracle.err");
  const size_t at = err.find("late ");
  if (at != std::string::npos) x.late = std::stoull(err.substr(at + 5));
  return x;
}

std::vector<std::string> Derived(const std::string& yaml) {
  auto r = Weir("query " + yaml +
                " --format json \"SELECT rule, key, strftime(event_time, '%Y-%m-%dT%H:%M:%S.%g') "
                "|| 'Z' AS event_time, data FROM derived\"");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return Canonical(r.out, true);
}

void CopyData(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  fs::copy(from + "/data", to + "/data", fs::copy_options::recursive);
}

TEST(RulesE2E, DerivedTableEqualsTheOracleWithOneAndTwoWorkers) {
  const std::string src = TempDir("rules-src");
  const Expected want = Generate(src, 7, 12000, 6);
  ASSERT_GT(want.records.size(), 3000u);
  ASSERT_GT(want.late, 50u);
  for (int workers : {1, 2}) {
    SCOPED_TRACE("workers " + std::to_string(workers));
    const std::string dir = TempDir("rules-w" + std::to_string(workers));
    CopyData(src, dir);
    WriteAll(dir + "/rules.yaml", RulesYaml());
    auto r = Weir("run " + dir + "/rules.yaml --json --workers " + std::to_string(workers));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["rules"]["late"].get<uint64_t>(), want.late);
    EXPECT_EQ(j["rules"]["derived"].get<uint64_t>(), want.records.size());
    EXPECT_EQ(j["rules"]["events"].get<uint64_t>(), 12000 - want.late);
    const auto got = Derived(dir + "/rules.yaml");
    ASSERT_EQ(got.size(), want.records.size());
    EXPECT_TRUE(got == want.records);
    // connector none: no table of the records themselves.
    EXPECT_FALSE(fs::exists(dir + "/lake/marketplace_rules"));
    // The table is an Iceberg table an independent reader can read: the same rows.
    if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing";
    LocalHttpServer server;
    ASSERT_TRUE(server.Start(dir, dir + "/http.log"));
    CmdResult ib = IcebirdRead(server.base_url() + "lake/derived", "", dir + "/=" + server.base_url());
    ASSERT_EQ(ib.exit_code, 0) << ib.out.substr(0, 2000);
    auto rows = nlohmann::json::parse(ib.out);
    EXPECT_EQ(rows.size(), want.records.size());
    std::multiset<std::string> a, b;
    for (const auto& row : rows) {
      // icebird gives a json column as the parsed value.
      const auto& data = row["data"];
      a.insert(row["rule"].get<std::string>() + "|" + row["key"].get<std::string>() + "|" +
               (data.is_string() ? nlohmann::json::parse(data.get<std::string>()) : data).dump());
    }
    for (const auto& rec : want.records) {
      const size_t p1 = rec.find('|'), p2 = rec.find('|', p1 + 1), p3 = rec.find('|', p2 + 1);
      b.insert(rec.substr(0, p2) + "|" + rec.substr(p3 + 1));
    }
    EXPECT_TRUE(a == b);
  }
}

TEST(RulesE2E, KilledAtCommitPointsAndRerunDerivesExactlyTheOracle) {
  const std::string src = TempDir("rules-kill-src");
  const Expected want = Generate(src, 11, 6000, 4);
  // Commits every few milliseconds: the tasks and the rules stage commit many times each.
  const std::string compute = "compute: {checkpoint_seconds: 0.001}\n";
  // About 6 commits of the tasks and about 6 of the rules stage, which runs beside them.
  const std::vector<std::pair<const char*, std::vector<int>>> plan = {
      {"after-stage", {1, 3, 5, 6, 7, 8, 9, 10, 11}},
      {"after-commit", {2, 4, 6, 7, 8, 9, 10, 11}},
      {"mid-publish", {6, 8, 10}},
      // The stage's own commits: the store has the derived records, RocksDB only the redo.
      {"rules-before-apply", {1, 2, 3}}};
  int killed = 0, killed_in_rules = 0;
  for (const auto& [point, afters] : plan) {
    for (int after : afters) {
      SCOPED_TRACE(std::string(point) + " after " + std::to_string(after));
      const std::string dir = TempDir("rules-kill");
      CopyData(src, dir);
      WriteAll(dir + "/rules.yaml", RulesYaml("  connector: none\n", compute));
      auto r = Weir("run " + dir + "/rules.yaml --json",
                    std::string("WEIR_CRASH_AT=") + point +
                        " WEIR_CRASH_AFTER_COMMITS=" + std::to_string(after));
      if (r.signal == 9) {
        ++killed;
        // The rules stage had committed derived records, or every task had committed its
        // end: the kill came while the stage was at work (it runs beside the tasks).
        auto t = Weir("tasks " + dir + "/rules.yaml --json");
        const bool tasks_done = t.out.find("\"CREATED\"") == std::string::npos &&
                                t.out.find("\"RUNNING\"") == std::string::npos;
        killed_in_rules += tasks_done || fs::exists(dir + "/lake/derived/metadata");
      }
      auto again = Weir("run " + dir + "/rules.yaml --json");
      ASSERT_EQ(again.exit_code, 0) << again.out;
      const auto got = Derived(dir + "/rules.yaml");
      EXPECT_EQ(got.size(), want.records.size());
      EXPECT_TRUE(got == want.records);
    }
  }
  // The crash points were reached, in the tasks and in the rules stage.
  EXPECT_GE(killed, 12);
  EXPECT_GE(killed_in_rules, 9);
}

TEST(RulesE2E, RerunAddsNothingAndRestartDerivesTheSameRecordsAgain) {
  const std::string dir = TempDir("rules-rerun");
  const Expected want = Generate(dir, 3, 4000, 3);
  WriteAll(dir + "/rules.yaml", RulesYaml());
  ASSERT_EQ(Weir("run " + dir + "/rules.yaml").exit_code, 0);
  EXPECT_TRUE(Derived(dir + "/rules.yaml") == want.records);
  ASSERT_EQ(Weir("run " + dir + "/rules.yaml").exit_code, 0);
  EXPECT_TRUE(Derived(dir + "/rules.yaml") == want.records);
  ASSERT_EQ(Weir("run --restart " + dir + "/rules.yaml").exit_code, 0);
  EXPECT_TRUE(Derived(dir + "/rules.yaml") == want.records);
  // Changed rules do not run on the old rules' state.
  std::string changed = RulesYaml();
  changed.replace(changed.find("window: 7d"), 10, "window: 8d");
  WriteAll(dir + "/rules.yaml", changed);
  auto refused = Weir("run " + dir + "/rules.yaml 2>&1");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.out.find("rules: the rules or the columns they read changed"), std::string::npos)
      << refused.out;
  EXPECT_NE(refused.out.find("weir run --restart"), std::string::npos);
  ASSERT_EQ(Weir("run --restart " + dir + "/rules.yaml").exit_code, 0);
  EXPECT_FALSE(Derived(dir + "/rules.yaml") == want.records);  // 8 days differ from 7
  // A spool file nothing names (a crash between forgetting and deleting) is swept.
  WriteAll(dir + "/.weir/rules/marketplace_rules/spool/rules-1-9-stray.bin", "x");
  ASSERT_EQ(Weir("run " + dir + "/rules.yaml").exit_code, 0);
  // The spool is consumed: nothing of it stays behind.
  size_t spool_files = 0;
  for (auto& e : fs::recursive_directory_iterator(dir + "/.weir/rules/marketplace_rules/spool")) {
    spool_files += e.is_regular_file();
  }
  EXPECT_EQ(spool_files, 0u);
}

TEST(RulesE2E, DuplicatesThatWriteDedupDropsNeverReachTheRules) {
  const std::string dir = TempDir("rules-dedup");
  // One proposal sent twice (same id), never accepted: one reminder with dedup, two without.
  const std::string line =
      "{\"data\":{\"id\":\"p1\",\"type\":\"meeting_proposal\",\"attributes\":{\"user_id\":\"u1\","
      "\"meeting_id\":\"m1\"}},\"meta\":{\"created_at\":\"2025-11-01T10:00:00.000Z\"}}\n";
  WriteAll(dir + "/data/a.jsonl", line);
  WriteAll(dir + "/data/b.jsonl", line);
  WriteAll(dir + "/data/manifest.txt", "a.jsonl\nb.jsonl\n");
  const std::string lake =
      "  connector: lake\n  location: lake\n  table: events\n  dedup: {key: [id], within: 1d}\n";
  WriteAll(dir + "/rules.yaml", RulesYaml(lake));
  auto r = Weir("run " + dir + "/rules.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto got = Derived(dir + "/rules.yaml");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0],
            "meeting_reminder|m1|2025-11-01T11:00:00.000Z|{\"proposed_at\":\"2025-11-01T10:00:00.000Z\"}");
  // The dataset's own table is written as usual next to the derived one.
  auto q = Weir("query " + dir + "/rules.yaml \"SELECT count(*) FROM events\"");
  EXPECT_NE(q.out.find(" 1\n"), std::string::npos) << q.out;

  const std::string dir2 = TempDir("rules-nodedup");
  fs::copy(dir + "/data", dir2 + "/data", fs::copy_options::recursive);
  WriteAll(dir2 + "/rules.yaml", RulesYaml("  connector: lake\n  location: lake\n  table: events\n"));
  ASSERT_EQ(Weir("run " + dir2 + "/rules.yaml").exit_code, 0);
  EXPECT_EQ(Derived(dir2 + "/rules.yaml").size(), 2u);
}

// Regression (review of the first version): the stage kept one position for the whole spool,
// so records a task committed after the stage had passed it (appended bytes read by --rescan,
// a redrive) were skipped and their spool deleted unread.
TEST(RulesE2E, RecordsAnEarlierFileGainsLaterStillReachTheRules) {
  const std::string dir = TempDir("rules-rescan");
  auto proposal = [](const std::string& id, const std::string& meeting, const std::string& at) {
    return "{\"data\":{\"id\":\"" + id + "\",\"type\":\"meeting_proposal\",\"attributes\":{"
           "\"user_id\":\"u1\",\"meeting_id\":\"" + meeting + "\"}},\"meta\":{\"created_at\":\"" +
           at + "\"}}\n";
  };
  WriteAll(dir + "/data/a.jsonl", proposal("p1", "m1", "2025-11-01T10:00:00.000Z"));
  WriteAll(dir + "/data/b.jsonl", proposal("p2", "m2", "2025-11-01T12:00:00.000Z"));
  WriteAll(dir + "/data/manifest.txt", "a.jsonl\nb.jsonl\n");
  WriteAll(dir + "/rules.yaml", RulesYaml());
  ASSERT_EQ(Weir("run " + dir + "/rules.yaml").exit_code, 0);
  EXPECT_EQ(Derived(dir + "/rules.yaml").size(), 2u);  // two reminders
  {
    std::ofstream a(dir + "/data/a.jsonl", std::ios::app);
    a << proposal("p3", "m3", "2025-11-02T09:00:00.000Z");
  }
  auto r = Weir("run --rescan " + dir + "/rules.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rules"]["events"].get<uint64_t>(), 1u);
  const auto got = Derived(dir + "/rules.yaml");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2], "meeting_reminder|m3|2025-11-02T10:00:00.000Z|"
                    "{\"proposed_at\":\"2025-11-02T09:00:00.000Z\"}");
}

TEST(RulesE2E, BadRulesAreConfigErrorsWithTheLineAndASuggestion) {
  const std::string dir = TempDir("rules-bad");
  std::string yaml = RulesYaml();
  const std::string good = "where: \"event_type = 'meeting_accepted'\", within: 48h";
  yaml.replace(yaml.find(good), good.size(), "where: \"event_typ = 'meeting_accepted'\", within: 48h");
  WriteAll(dir + "/rules.yaml", yaml);
  auto r = Weir("validate " + dir + "/rules.yaml 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("rules.yaml:21:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rules.patterns.meeting_accepted.sequence[2].where"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("did you mean 'event_type'"), std::string::npos) << r.out;

  yaml = RulesYaml();
  const std::string bucket = "- {name: seller, when: \"listings >= 1\"}";
  yaml.replace(yaml.find(bucket), bucket.size(), "- {name: seller}");
  WriteAll(dir + "/rules.yaml", yaml);
  r = Weir("validate " + dir + "/rules.yaml 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("only the last bucket (the default) goes without when"), std::string::npos)
      << r.out;
}

// ---- Kafka sources ----

// "2026-12-04T10:00:00.000Z"
std::string IsoMs(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char b[96];
  std::snprintf(b, sizeof(b), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return b;
}

// A Kafka read section for the mock cluster at `bootstrap` (a killed member holds its
// partitions until its session times out: short here).
std::string KafkaRead(const std::string& bootstrap) {
  return "read:\n"
         "  connector: kafka\n"
         "  brokers: " + bootstrap + "\n"
         "  topics: [events]\n"
         "  group: weir-rules\n"
         "  parser: jsonl\n"
         "  options: {session.timeout.ms: 6000, heartbeat.interval.ms: 500}\n";
}

// The generated files' lines, in manifest order (the order the oracle reads them in).
std::string InputLines(const std::string& dir) {
  std::string all;
  std::istringstream manifest(ReadAll(dir + "/data/manifest.txt"));
  std::string name;
  while (std::getline(manifest, name)) {
    if (!name.empty()) all += ReadAll(dir + "/data/" + name);
  }
  return all;
}

// One partition keeps the generated order: the derived records are the oracle's, whose
// watermark is that of one input read in order.
TEST(RulesE2E, AKafkaSourceWithOnePartitionDerivesExactlyTheOracle) {
  const std::string dir = TempDir("rules-kafka");
  const Expected want = Generate(dir, 5, 6000, 3);
  ASSERT_GT(want.records.size(), 1000u);
  ASSERT_GT(want.late, 20u);
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:1"));
  ASSERT_TRUE(Produce(kafka.bootstrap(), 0, InputLines(dir)));
  WriteAll(dir + "/rules.yaml",
           RulesYaml("  connector: none\n", "stream: {commit_interval: 200ms}\n",
                     KafkaRead(kafka.bootstrap())));
  auto r = Weir("run " + dir + "/rules.yaml --until-idle 3s --no-progress --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["rules"]["late"].get<uint64_t>(), want.late);
  EXPECT_EQ(j["rules"]["derived"].get<uint64_t>(), want.records.size());
  const auto got = Derived(dir + "/rules.yaml");
  ASSERT_EQ(got.size(), want.records.size());
  EXPECT_TRUE(got == want.records);
  // Run again: nothing new in the topic, nothing new derived.
  auto again = Weir("run " + dir + "/rules.yaml --until-idle 2s --no-progress --json");
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(nlohmann::json::parse(again.out)["rules"]["derived"].get<uint64_t>(), 0u);
  EXPECT_TRUE(Derived(dir + "/rules.yaml") == want.records);
}

// Two partitions: each meeting's events in one partition (Kafka keeps order per partition, so
// producers key by what must stay in order), users' events spread over both. Keyed state is per
// key, not per partition: a user's window holds events from both. With an out_of_orderness
// longer than the data, nothing is late however the partitions interleave, and the records are
// the oracle's. (How the watermark follows the slower partition is the engine test's
// TheWatermarkIsTheSlowestInputsUnlessThatInputIsIdle.)
TEST(RulesE2E, AKafkaSourceWithTwoPartitionsKeepsStatePerKeyAcrossPartitions) {
  const std::string dir = TempDir("rules-kafka2");
  const int64_t year_ms = 365LL * 86400000;
  const Expected want = Generate(dir, 9, 6000, 3, " --ooo-ms " + std::to_string(year_ms));
  ASSERT_GT(want.records.size(), 1000u);
  ASSERT_EQ(want.late, 0u);
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:2"));
  std::string parts[2];
  std::istringstream in(InputLines(dir));
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    const auto& attrs = j["data"]["attributes"];
    const std::string by = attrs.contains("meeting_id") ? attrs["meeting_id"].get<std::string>()
                           : attrs.contains("user_id") ? attrs["user_id"].get<std::string>()
                                                       : j["data"]["id"].get<std::string>();
    parts[std::hash<std::string>{}(by) % 2] += line + "\n";
  }
  ASSERT_FALSE(parts[0].empty());
  ASSERT_FALSE(parts[1].empty());
  // Produced in slices, alternating: the partitions' rows interleave in the commits.
  for (size_t at0 = 0, at1 = 0; at0 < parts[0].size() || at1 < parts[1].size();) {
    auto slice = [&](const std::string& all, size_t& at) {
      const size_t nl = all.find('\n', std::min(all.size(), at + 20000));
      const size_t end = nl == std::string::npos ? all.size() : nl + 1;
      std::string s = all.substr(at, end - at);
      at = end;
      return s;
    };
    const std::string a = slice(parts[0], at0), b = slice(parts[1], at1);
    ASSERT_TRUE(a.empty() || Produce(kafka.bootstrap(), 0, a));
    ASSERT_TRUE(b.empty() || Produce(kafka.bootstrap(), 1, b));
  }
  std::string yaml = RulesYaml("  connector: none\n", "stream: {commit_interval: 200ms}\n",
                               KafkaRead(kafka.bootstrap()));
  yaml.replace(yaml.find("out_of_orderness: 5s"), 20, "out_of_orderness: 365d");
  WriteAll(dir + "/rules.yaml", yaml);
  auto r = Weir("run " + dir + "/rules.yaml --until-idle 3s --no-progress --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["rules"]["late"].get<uint64_t>(), 0u);
  const auto got = Derived(dir + "/rules.yaml");
  ASSERT_EQ(got.size(), want.records.size());
  EXPECT_TRUE(got == want.records);
}

TEST(RulesE2E, KilledDuringAKafkaSourcedRunAndRerunDerivesExactlyTheOracle) {
  const std::string src = TempDir("rules-kafka-kill-src");
  const Expected want = Generate(src, 13, 5000, 2);
  const std::string lines = InputLines(src);
  // Commits every 100 ms even while catching up: the stream and the stage commit many times.
  const std::string stream = "stream: {commit_interval: 100ms, catch_up_interval: 100ms}\n";
  const std::vector<std::pair<const char*, int>> plan = {
      {"rules-before-apply", 1}, {"rules-before-apply", 3}, {"after-commit", 2},
      {"mid-publish", 4}, {"after-stage", 3}};
  int killed = 0;
  for (const auto& [point, after] : plan) {
    SCOPED_TRACE(std::string(point) + " after " + std::to_string(after));
    const std::string dir = TempDir("rules-kafka-kill");
    KafkaMock kafka;
    ASSERT_TRUE(kafka.Start("events:1"));
    // Half before the first run, half while it runs, so the kill comes mid-stream.
    const size_t half = lines.find('\n', lines.size() / 2) + 1;
    ASSERT_TRUE(Produce(kafka.bootstrap(), 0, lines.substr(0, half)));
    WriteAll(dir + "/rules.yaml",
             RulesYaml("  connector: none\n", stream, KafkaRead(kafka.bootstrap())));
    std::thread rest([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(4000));
      EXPECT_TRUE(Produce(kafka.bootstrap(), 0, lines.substr(half)));
    });
    auto r = Weir("run " + dir + "/rules.yaml --until-idle 3s --no-progress --json",
                  std::string("WEIR_CRASH_AT=") + point +
                      " WEIR_CRASH_AFTER_COMMITS=" + std::to_string(after));
    rest.join();
    killed += r.signal == 9;
    auto again = Weir("run " + dir + "/rules.yaml --until-idle 3s --no-progress --json");
    ASSERT_EQ(again.exit_code, 0) << again.out;
    const auto got = Derived(dir + "/rules.yaml");
    EXPECT_EQ(got.size(), want.records.size());
    EXPECT_TRUE(got == want.records);
  }
  EXPECT_GE(killed, 4);
}

// The HTTP collector: events POSTed in order are one input read in order, like one partition.
// Waits (up to 15 s) for the HTTP collector `c` talks to to answer /healthz.
bool CollectorUp(httplib::Client& c) {
  for (int i = 0; i < 300; ++i) {
    auto h = c.Get("/healthz");
    if (h && h->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// POSTs `body` (JSON lines) to the collector, which must accept it; clears it.
void PostLines(httplib::Client& c, std::string& body) {
  auto r = c.Post("/v1/events", body, "application/x-ndjson");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  body.clear();
}

TEST(RulesE2E, AnHttpCollectorSourceDerivesExactlyTheOracle) {
  const std::string dir = TempDir("rules-http");
  const Expected want = Generate(dir, 17, 4000, 2);
  const int port = FreeLoopbackPort();
  const std::string read = "read: {connector: http, listen: 127.0.0.1:" + std::to_string(port) +
                           ", parser: jsonl}\n";
  WriteAll(dir + "/rules.yaml",
           RulesYaml("  connector: none\n", "stream: {commit_interval: 200ms}\n", read));
  const pid_t pid = SpawnLogged({WeirBin(), "run", dir + "/rules.yaml", "--no-progress", "--json",
                                 "--until-idle", "4s"},
                                dir + "/run.log", true);
  ASSERT_GT(pid, 0);
  httplib::Client c("127.0.0.1", port);
  ASSERT_TRUE(CollectorUp(c)) << ReadAll(dir + "/run.log");
  // In bodies of about 500 lines, one after another (their order is the arrival order).
  std::istringstream in(InputLines(dir));
  std::string line, body;
  int lines = 0;
  auto post = [&] { PostLines(c, body); };
  while (std::getline(in, line)) {
    body += line + "\n";
    if (++lines % 500 == 0) post();
  }
  if (!body.empty()) post();
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadAll(dir + "/run.log");
  const auto got = Derived(dir + "/rules.yaml");
  ASSERT_EQ(got.size(), want.records.size());
  EXPECT_TRUE(got == want.records);
}

// rules.output.compaction: the derived table's many small files (a file per partition and
// stage commit) are compacted; the derived records stay exactly the oracle's.
std::string WithDerivedCompaction(std::string yaml, const std::string& settings) {
  const std::string at = "  output: {location: lake, table: derived}\n";
  yaml.replace(yaml.find(at), at.size(),
               "  output: {location: lake, table: derived, compaction: " + settings + "}\n");
  return yaml;
}

// Appended files, and the live files of the current snapshot, of `snapshots` (LakeSnapshots).
std::pair<uint64_t, uint64_t> AppendedAndLiveFiles(const nlohmann::json& snapshots) {
  uint64_t appended = 0, live = 0;
  for (const auto& sn : snapshots) {
    if (sn["operation"] == "append") appended += sn["added_files"].get<uint64_t>();
    if (sn["current"] == true) live = sn["total_files"].get<uint64_t>();
  }
  return {appended, live};
}

nlohmann::json DerivedSnapshots(const std::string& yaml) {
  CmdResult r = Weir("lake snapshots " + yaml + " --table derived --json 2>/dev/null");
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (r.exit_code != 0 || j.is_discarded() || !j.contains("snapshots")) return nlohmann::json::array();
  return j["snapshots"];
}

TEST(RulesE2E, TheDerivedTableIsCompactedAtTheEndOfAFilesRunAndTheLakeCommandsReachIt) {
  const std::string dir = TempDir("rules-compact");
  const Expected want = Generate(dir, 13, 6000, 4);
  const std::string yaml = dir + "/rules.yaml";
  // Commits every few milliseconds: many small files per partition (rule, day).
  WriteAll(yaml, WithDerivedCompaction(
                     RulesYaml("  connector: none\n", "compute: {checkpoint_seconds: 0.001}\n"),
                     "{auto: true, min_files: 2}"));
  auto r = Weir("run " + yaml + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Derived(yaml) == want.records);
  const auto snaps = DerivedSnapshots(yaml);
  ASSERT_GE(snaps.size(), 3u);
  EXPECT_EQ(snaps.back()["operation"], "replace") << snaps.dump(1);
  const auto [appended, live] = AppendedAndLiveFiles(snaps);
  EXPECT_LT(live, appended);
  EXPECT_EQ(CurrentRecords(snaps), want.records.size());
  // The lake commands reach the derived table by its name, and without one when it is the
  // dataset's only table (write.connector none).
  EXPECT_EQ(LakeSnapshots(yaml), snaps);
  CmdResult check = Weir("lake check " + yaml + " --table derived");
  EXPECT_EQ(check.exit_code, 0) << check.out;
  EXPECT_NE(check.out.find("consistent: " + std::to_string(live) + " committed file(s)"),
            std::string::npos) << check.out;
  CmdResult expire = Weir("lake expire " + yaml + " --table derived --older-than 0s --json");
  ASSERT_EQ(expire.exit_code, 0) << expire.out;
  const auto ex = nlohmann::json::parse(expire.out);
  EXPECT_EQ(ex["expired_snapshots"].size(), snaps.size() - 1);
  uint64_t rewritten = 0;  // the files compaction replaced: only expired snapshots held them
  for (const auto& sn : snaps) {
    if (sn["operation"] == "replace") rewritten += sn["deleted_files"].get<uint64_t>();
  }
  EXPECT_GT(rewritten, 0u);
  EXPECT_EQ(ex["data_files"].size(), rewritten) << expire.out;
  EXPECT_TRUE(Derived(yaml) == want.records);  // the compacted files hold every record
  CmdResult nothing = Weir("lake compact " + yaml + " --table derived");
  EXPECT_EQ(nothing.exit_code, 0) << nothing.out;
  EXPECT_NE(nothing.out.find("nothing to compact in table 'derived'"), std::string::npos)
      << nothing.out;
  // A name that is not one of the dataset's tables: refused with the names there are.
  CmdResult bad = Weir("lake snapshots " + yaml + " --table derivd 2>&1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("--table derivd: dataset 'marketplace_rules' has no lake table of that "
                         "name (did you mean 'derived'?); its tables: 'derived' (its rules' "
                         "derived table)"),
            std::string::npos) << bad.out;
  // Compaction settings belong to a lake output only.
  std::string kafka = WithDerivedCompaction(RulesYaml(), "{auto: true}");
  kafka.replace(kafka.find("  output: {location: lake, table: derived, "),
                std::string("  output: {location: lake, table: derived, ").size(),
                "  output: {connector: kafka, brokers: 127.0.0.1:9, topic: d, ");
  WriteAll(dir + "/kafka.yaml", kafka);
  CmdResult refused = Weir("validate " + dir + "/kafka.yaml 2>&1");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.out.find("rules.output.compaction: only for output connector lake"),
            std::string::npos) << refused.out;
}

// A stream's rules commit the derived table about every commit interval: with
// rules.output.compaction.auto it is compacted while the stream runs (every interval), and the
// derived records stay exactly the oracle's.
TEST(RulesE2E, AStreamsDerivedTableIsCompactedWhileItRuns) {
  const std::string dir = TempDir("rules-stream-compact");
  const Expected want = Generate(dir, 17, 4000, 2);
  const int port = FreeLoopbackPort();
  const std::string read = "read: {connector: http, listen: 127.0.0.1:" + std::to_string(port) +
                           ", parser: jsonl}\n";
  const std::string yaml = dir + "/rules.yaml";
  WriteAll(yaml, WithDerivedCompaction(
                     RulesYaml("  connector: none\n", "stream: {commit_interval: 100ms}\n", read),
                     "{auto: true, min_files: 3, interval: 300ms}"));
  const pid_t pid = SpawnLogged(
      {WeirBin(), "run", yaml, "--no-progress", "--json", "--until-idle", "4s"},
      dir + "/run.log", true);
  ASSERT_GT(pid, 0);
  httplib::Client c("127.0.0.1", port);
  ASSERT_TRUE(CollectorUp(c)) << ReadAll(dir + "/run.log");
  // Bodies of 40 lines, one after another with pauses (so the stage commits many times), until
  // a compaction of the derived table has committed while the stream runs; then the rest.
  std::istringstream in(InputLines(dir));
  std::string line, body;
  int lines = 0;
  bool compacted = false;
  auto post = [&] { PostLines(c, body); };
  while (std::getline(in, line)) {
    body += line + "\n";
    if (++lines % 40 != 0) continue;
    post();
    if (!compacted) {
      std::this_thread::sleep_for(std::chrono::milliseconds(120));
      for (const auto& sn : DerivedSnapshots(yaml)) compacted |= sn["operation"] == "replace";
    }
  }
  if (!body.empty()) post();
  EXPECT_TRUE(compacted) << "no compaction of the derived table while the stream ran; log:\n"
                         << ReadAll(dir + "/run.log");
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadAll(dir + "/run.log");
  const auto got = Derived(yaml);
  ASSERT_EQ(got.size(), want.records.size());
  EXPECT_TRUE(got == want.records);
  const auto snaps = DerivedSnapshots(yaml);
  const auto [appended, live] = AppendedAndLiveFiles(snaps);
  EXPECT_LT(live, appended);
  EXPECT_EQ(CurrentRecords(snaps), want.records.size());
}

// With no input for idle_timeout the watermark follows the clock: reminders of proposals made
// two hours ago fire without any later event, within idle_timeout + commit_interval + 1 s of
// the last input.
TEST(RulesE2E, IdleTimersFireWithinIdleTimeoutAfterTheLastInput) {
  const std::string dir = TempDir("rules-idle");
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:1"));
  const int metrics_port = FreeLoopbackPort();
  WriteAll(dir + "/rules.yaml",
           RulesYaml("  connector: none\n",
                     "stream: {commit_interval: 200ms, metrics_listen: 127.0.0.1:" +
                         std::to_string(metrics_port) + "}\n",
                     KafkaRead(kafka.bootstrap()), "2s"));
  const pid_t pid = SpawnLogged({WeirBin(), "run", dir + "/rules.yaml", "--no-progress"},
                                dir + "/run.log", true);
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 300 && ReadAll(dir + "/run.log").find("assigned 1 partition") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(ReadAll(dir + "/run.log").find("assigned 1 partition"), std::string::npos)
      << ReadAll(dir + "/run.log");
  // Three proposals, two hours old, never accepted (1 h to answer: overdue already).
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  std::string lines;
  for (int i = 0; i < 3; ++i) {
    lines += "{\"data\":{\"id\":\"p" + std::to_string(i) +
             "\",\"type\":\"meeting_proposal\",\"attributes\":{\"user_id\":\"u1\",\"meeting_id\":\"m" +
             std::to_string(i) + "\"}},\"meta\":{\"created_at\":\"" +
             IsoMs(now_ms - 7200000 + i * 1000) + "\"}}\n";
  }
  ASSERT_TRUE(Produce(kafka.bootstrap(), 0, lines));
  const auto produced = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - produced).count();
  };
  // Visibility from GET /metrics: weir_rules_derived_total counts derived records once their
  // commit is durable and visible (polled every 20 ms; `weir query` itself takes longer than
  // that, much longer under the sanitizers).
  httplib::Client mc("127.0.0.1", metrics_port);
  const std::string ds = "{dataset=\"marketplace_rules\"";
  auto metrics = [&] {
    auto m = mc.Get("/metrics");
    return m && m->status == 200 ? m->body : std::string();
  };
  auto derived = [&] {
    const std::string body = metrics();
    const size_t at = body.find("weir_rules_derived_total" + ds + "} ");
    return at == std::string::npos ? -1 : std::atoi(body.c_str() + body.find("} ", at) + 2);
  };
  // Before idle_timeout nothing can fire: the events' own watermark is two hours back.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(derived(), 0);
  int n = 0;
  while (seconds() < 15 && (n = derived()) < 3) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double at = seconds();
  std::printf("reminders visible %.2f s after the last input\n", at);
  EXPECT_EQ(n, 3);
  // idle_timeout 2 s + commit_interval 0.2 s + 1 s.
  EXPECT_LE(at, 3.2) << "reminders became visible " << at << " s after the last input";
  EXPECT_GE(at, 1.5);
  // They are the three reminders, in the derived table.
  auto q = Weir("query " + dir + "/rules.yaml --format csv \"SELECT key FROM derived "
                "WHERE rule = 'meeting_reminder' ORDER BY key\" 2>/dev/null");
  EXPECT_EQ(q.out, "key\nm0\nm1\nm2\n");
  // The other figures: a latency per reminder, and the watermark on the clock.
  const std::string body = metrics();
  EXPECT_NE(body.find("weir_rules_latency_seconds_count" + ds + ",rule=\"meeting_reminder\"} 3\n"),
            std::string::npos) << body;
  const size_t w = body.find("weir_rules_watermark_timestamp_seconds" + ds + "} ");
  ASSERT_NE(w, std::string::npos);
  const double watermark_s = std::atof(body.c_str() + body.find("} ", w) + 2);
  EXPECT_GT(watermark_s, static_cast<double>(now_ms) / 1000.0 - 10);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadAll(dir + "/run.log");
}

// ---- The Kafka output ----

// `yaml` with the rules' output on `topic` of the cluster at `bootstrap`.
std::string WithKafkaOutput(std::string yaml, const std::string& bootstrap,
                            const std::string& topic) {
  const std::string lake = "  output: {location: lake, table: derived}\n";
  yaml.replace(yaml.find(lake), lake.size(),
               "  output: {connector: kafka, brokers: \"" + bootstrap + "\", topic: " + topic +
                   "}\n");
  return yaml;
}

// What a read_committed consumer reads from `topic`, as Canonical records. `keyed`: every
// message's key is its record's key.
std::vector<std::string> Consumed(const std::string& bootstrap, const std::string& topic,
                                  bool* keyed) {
  auto r = RunCmd("kcat -C -b " + bootstrap + " -t " + topic +
                  " -X isolation.level=read_committed -e -q -f '%k\\t%s\\n' 2>/dev/null");
  EXPECT_EQ(r.exit_code, 0);
  std::string values;
  std::istringstream in(r.out);
  std::string line;
  *keyed = true;
  while (std::getline(in, line)) {
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) {
      *keyed = false;
      continue;
    }
    const std::string key = line.substr(0, tab), value = line.substr(tab + 1);
    *keyed &= nlohmann::json::parse(value)["key"].get<std::string>() == key;
    values += value + "\n";
  }
  return Canonical(values, false);
}

// The last progress marker on the output's progress topic ("" when there is none).
std::string LastMarker(const std::string& bootstrap, const std::string& topic) {
  auto r = RunCmd("kcat -C -b " + bootstrap + " -t " + topic +
                  ".weir-progress -X isolation.level=read_committed -e -q -f '%s\\n' 2>/dev/null");
  std::string last, line;
  std::istringstream in(r.out);
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

// Waits up to 30 s for a first derived record on `topic` (a running stage has published).
bool AwaitRecords(const std::string& bootstrap, const std::string& topic) {
  bool keyed = false;
  for (int i = 0; i < 300; ++i) {
    if (!Consumed(bootstrap, topic, &keyed).empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

size_t OutboxFiles(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir + "/.weir/rules/marketplace_rules/outbox", ec)) {
    n += e.is_regular_file();
  }
  return n;
}

TEST(RulesE2E, AKafkaOutputGivesAReadCommittedConsumerEachDerivedRecordOnce) {
  const std::string dir = TempDir("rules-kout");
  const Expected want = Generate(dir, 21, 8000, 4);
  ASSERT_GT(want.records.size(), 2000u);
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("derived:3"));
  ASSERT_TRUE(kafka.Command("topic derived.weir-progress 1"));
  // Small commits: many transactions, each with its marker.
  WriteAll(dir + "/rules.yaml",
           WithKafkaOutput(RulesYaml("  connector: none\n", "compute: {checkpoint_seconds: 0.01}\n"),
                           kafka.bootstrap(), "derived"));
  auto r = Weir("run " + dir + "/rules.yaml --json --workers 2");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["rules"]["derived"].get<uint64_t>(), want.records.size());
  EXPECT_EQ(j["rules"]["topic"].get<std::string>(), "derived");
  bool keyed = false;
  auto got = Consumed(kafka.bootstrap(), "derived", &keyed);
  ASSERT_EQ(got.size(), want.records.size());
  EXPECT_TRUE(got == want.records);
  EXPECT_TRUE(keyed);
  // The marker names the last commit; the outbox is empty once Kafka has everything.
  const std::string marker = LastMarker(kafka.bootstrap(), "derived");
  ASSERT_NE(marker.find(':'), std::string::npos) << marker;
  EXPECT_GT(std::stoll(marker.substr(marker.rfind(':') + 1)), 1);
  EXPECT_EQ(OutboxFiles(dir), 0u);
  // No lake table, so nothing to query about the derived records.
  EXPECT_FALSE(fs::exists(dir + "/lake"));
  // A rerun adds nothing; --restart derives everything again, after the first generation.
  ASSERT_EQ(Weir("run " + dir + "/rules.yaml").exit_code, 0);
  EXPECT_EQ(Consumed(kafka.bootstrap(), "derived", &keyed).size(), want.records.size());
  ASSERT_EQ(Weir("run --restart " + dir + "/rules.yaml").exit_code, 0);
  got = Consumed(kafka.bootstrap(), "derived", &keyed);
  EXPECT_EQ(got.size(), 2 * want.records.size());
  const std::string restarted = LastMarker(kafka.bootstrap(), "derived");
  EXPECT_NE(restarted.substr(0, restarted.rfind(':')), marker.substr(0, marker.rfind(':')));
}

// kill -9 between the store commit and Kafka's (the outbox holds the records), and between
// Kafka's commit and forgetting the outbox file: the rerun publishes exactly what Kafka lacks.
// (A kill inside a Kafka transaction is Kafka's to undo: the next producer's init aborts it and
// read_committed consumers skip it. The librdkafka 2.0.2 mock cluster writes no abort markers,
// so that moment is not tested here.)
TEST(RulesE2E, KilledAroundTheKafkaOutputsCommitsAndRerunPublishesEachRecordOnce) {
  const std::string src = TempDir("rules-kout-kill-src");
  const Expected want = Generate(src, 23, 6000, 4);
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:1"));
  const std::string compute = "compute: {checkpoint_seconds: 0.001}\n";
  const std::vector<std::pair<const char*, int>> plan = {
      {"rules-before-publish", 1}, {"rules-before-publish", 2}, {"rules-before-publish", 4},
      {"rules-after-publish", 1},  {"rules-after-publish", 3},  {"rules-before-apply", 2}};
  int killed = 0, trial = 0;
  for (const auto& [point, after] : plan) {
    SCOPED_TRACE(std::string(point) + " after " + std::to_string(after));
    const std::string dir = TempDir("rules-kout-kill");
    const std::string topic = "derived" + std::to_string(++trial);
    ASSERT_TRUE(kafka.Command("topic " + topic + " 2"));
    ASSERT_TRUE(kafka.Command("topic " + topic + ".weir-progress 1"));
    CopyData(src, dir);
    WriteAll(dir + "/rules.yaml", WithKafkaOutput(RulesYaml("  connector: none\n", compute),
                                                  kafka.bootstrap(), topic));
    auto r = Weir("run " + dir + "/rules.yaml --json",
                  std::string("WEIR_CRASH_AT=") + point +
                      " WEIR_CRASH_AFTER_COMMITS=" + std::to_string(after));
    bool keyed = false;
    EXPECT_EQ(r.signal, 9) << "the crash point was not reached";
    if (r.signal == 9) {
      ++killed;
      // Before publishing, the commit's records wait in the outbox; after, Kafka has them.
      if (std::string(point) == "rules-before-publish") {
        EXPECT_GE(OutboxFiles(dir), 1u);
      }
      if (std::string(point) == "rules-after-publish") {
        EXPECT_GE(OutboxFiles(dir), 1u);
        EXPECT_FALSE(Consumed(kafka.bootstrap(), topic, &keyed).empty());
      }
    }
    auto again = Weir("run " + dir + "/rules.yaml --json");
    ASSERT_EQ(again.exit_code, 0) << again.out;
    const auto got = Consumed(kafka.bootstrap(), topic, &keyed);
    EXPECT_EQ(got.size(), want.records.size());
    EXPECT_TRUE(got == want.records);
    EXPECT_EQ(OutboxFiles(dir), 0u);
  }
  EXPECT_EQ(killed, 6);

  // A Kafka source and the Kafka output, killed mid-stream before a publish.
  const std::string dir = TempDir("rules-kout-kill-stream");
  const std::string lines = InputLines(src);
  const size_t half = lines.find('\n', lines.size() / 2) + 1;
  ASSERT_TRUE(Produce(kafka.bootstrap(), 0, lines.substr(0, half)));
  ASSERT_TRUE(kafka.Command("topic derived-stream 2"));
  ASSERT_TRUE(kafka.Command("topic derived-stream.weir-progress 1"));
  WriteAll(dir + "/rules.yaml",
           WithKafkaOutput(RulesYaml("  connector: none\n",
                                     "stream: {commit_interval: 100ms, catch_up_interval: 100ms}\n",
                                     KafkaRead(kafka.bootstrap())),
                           kafka.bootstrap(), "derived-stream"));
  std::thread rest([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(4000));
    EXPECT_TRUE(Produce(kafka.bootstrap(), 0, lines.substr(half)));
  });
  auto r = Weir("run " + dir + "/rules.yaml --until-idle 3s --no-progress --json",
                "WEIR_CRASH_AT=rules-before-publish WEIR_CRASH_AFTER_COMMITS=3");
  rest.join();
  EXPECT_EQ(r.signal, 9) << r.out;
  auto again = Weir("run " + dir + "/rules.yaml --until-idle 3s --no-progress --json");
  ASSERT_EQ(again.exit_code, 0) << again.out;
  bool keyed = false;
  const auto got = Consumed(kafka.bootstrap(), "derived-stream", &keyed);
  EXPECT_EQ(got.size(), want.records.size());
  EXPECT_TRUE(got == want.records);
  EXPECT_TRUE(keyed);
}

// Regression: a stream whose rules stage failed stopped itself as if SIGTERM had come, and
// exited 143 like a killed run. Here the stage fails mid-run (its outbox folder is replaced by a
// file, so the next commit cannot write it): the run must end with the stage's error and exit 1,
// and a rerun once the folder is back derives every record once.
TEST(RulesE2E, AStreamWhoseRulesStageFailsExitsWithTheStagesErrorNotAsSignalled) {
  const std::string dir = TempDir("rules-kout-fail");
  const Expected want = Generate(dir, 31, 3000, 2);
  const std::string lines = InputLines(dir);
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:1"));
  ASSERT_TRUE(kafka.Command("topic derived 2"));
  ASSERT_TRUE(kafka.Command("topic derived.weir-progress 1"));
  const size_t half = lines.find('\n', lines.size() / 2) + 1;
  ASSERT_TRUE(Produce(kafka.bootstrap(), 0, lines.substr(0, half)));
  WriteAll(dir + "/rules.yaml",
           WithKafkaOutput(RulesYaml("  connector: none\n", "stream: {commit_interval: 200ms}\n",
                                     KafkaRead(kafka.bootstrap())),
                           kafka.bootstrap(), "derived"));
  const pid_t pid = SpawnLogged({WeirBin(), "run", dir + "/rules.yaml", "--no-progress", "--json",
                                 "--until-idle", "20s"},
                                dir + "/run.log", true);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(AwaitRecords(kafka.bootstrap(), "derived")) << ReadAll(dir + "/run.log");
  bool keyed = false;
  const std::string outbox = dir + "/.weir/rules/marketplace_rules/outbox";
  fs::remove_all(outbox);
  WriteAll(outbox, "not a folder");
  ASSERT_TRUE(Produce(kafka.bootstrap(), 0, lines.substr(half)));
  int status = 0;
  ::waitpid(pid, &status, 0);
  const std::string log = ReadAll(dir + "/run.log");
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 1) << log;
  EXPECT_NE(log.find("the rules stage failed"), std::string::npos) << log;
  EXPECT_EQ(log.find("interrupted by SIGTERM"), std::string::npos) << log;
  // Nothing is lost: the input and the stage's position are committed; a rerun goes on.
  fs::remove(outbox);
  auto again = Weir("run " + dir + "/rules.yaml --until-idle 3s --no-progress --json");
  ASSERT_EQ(again.exit_code, 0) << again.out;
  const auto got = Consumed(kafka.bootstrap(), "derived", &keyed);
  EXPECT_EQ(got.size(), want.records.size());
  EXPECT_TRUE(got == want.records);
}

// The output's cluster down for 8 s mid-run (the source's stays up): the committed derived
// records wait in the outbox, the stage goes on, and once the cluster is back they are
// published, each once.
TEST(RulesE2E, AKafkaOutputClusterDownMidRunDelaysTheRecordsAndLosesNone) {
  const std::string dir = TempDir("rules-kout-down");
  const Expected want = Generate(dir, 29, 5000, 2);
  const std::string lines = InputLines(dir);
  KafkaMock source, output;
  ASSERT_TRUE(source.Start("events:1"));
  ASSERT_TRUE(output.Start("derived:2"));
  ASSERT_TRUE(output.Command("topic derived.weir-progress 1"));
  const size_t half = lines.find('\n', lines.size() / 2) + 1;
  ASSERT_TRUE(Produce(source.bootstrap(), 0, lines.substr(0, half)));
  // Transactions time out after 2 s: the outage outlasts them, so publishing fails, the
  // producer is replaced and the commits wait in the outbox until the cluster is back.
  std::string yaml = WithKafkaOutput(RulesYaml("  connector: none\n",
                                               "stream: {commit_interval: 200ms}\n",
                                               KafkaRead(source.bootstrap())),
                                     output.bootstrap(), "derived");
  yaml.replace(yaml.find(", topic: derived}"), 17,
               ", topic: derived, options: {transaction.timeout.ms: 2000}}");
  WriteAll(dir + "/rules.yaml", yaml);
  const pid_t pid = SpawnLogged({WeirBin(), "run", dir + "/rules.yaml", "--no-progress", "--json",
                                 "--until-idle", "4s"},
                                dir + "/run.log", true);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(AwaitRecords(output.bootstrap(), "derived")) << ReadAll(dir + "/run.log");
  bool keyed = false;
  ASSERT_TRUE(output.Command("down 1"));
  ASSERT_TRUE(Produce(source.bootstrap(), 0, lines.substr(half)));
  std::this_thread::sleep_for(std::chrono::seconds(8));
  ASSERT_TRUE(output.Command("up 1"));
  int status = 0;
  ::waitpid(pid, &status, 0);
  const std::string log = ReadAll(dir + "/run.log");
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << log;
  // The outage was met: commits waited in the outbox.
  EXPECT_NE(log.find("commit(s) wait in"), std::string::npos) << log;
  const auto got = Consumed(output.bootstrap(), "derived", &keyed);
  EXPECT_EQ(got.size(), want.records.size());
  EXPECT_TRUE(got == want.records);
  EXPECT_TRUE(keyed);
  EXPECT_EQ(OutboxFiles(dir), 0u);
}

}  // namespace
}  // namespace weir::e2e

namespace weir::e2e {
namespace {

// Rules may key on a transform's output column (here geo's iso_a3), which the loader cannot see:
// they are checked when the dataset runs, and a misspelled one still fails before any task.
TEST(RulesE2E, ASegmentKeyedByAGeoColumn) {
  const std::string dir = TempDir("rules-geo");
  auto visit = [](const std::string& id, double lon, double lat, const std::string& at) {
    return "{\"id\":\"" + id + "\",\"lon\":" + std::to_string(lon) + ",\"lat\":" +
           std::to_string(lat) + ",\"at\":\"" + at + "\"}\n";
  };
  WriteAll(dir + "/in/a.jsonl", visit("v1", 2.3522, 48.8566, "2025-11-01T10:00:00.000Z") +
                                    visit("v2", 139.6917, 35.6895, "2025-11-01T10:30:00.000Z") +
                                    visit("v3", 2.35, 48.85, "2025-11-01T11:00:00.000Z"));
  WriteAll(dir + "/in/manifest.txt", "a.jsonl\n");
  auto yaml = [&](const std::string& key) {
    return std::string("name: visits\n"
                       "read: {connector: files, location: in, manifest: in/manifest.txt, parser: jsonl}\n"
                       "transforms:\n"
                       "  - geo: {layers: ") + WEIR_SOURCE_DIR +
           "/tests/data/geo/countries.yaml, lon: lon, lat: lat}\n"
           "write:\n"
           "  connector: none\n"
           "  columns:\n"
           "    id:  {path: /id, type: string, required: true}\n"
           "    lon: {path: /lon, type: double}\n"
           "    lat: {path: /lat, type: double}\n"
           "    at:  {path: /at, type: timestamp, required: true}\n"
           "rules:\n"
           "  event_time: at\n"
           "  output: {location: lake, table: derived}\n"
           "  segments:\n"
           "    - name: country_traffic\n"
           "      key: " + key + "\n"
           "      window: 1d\n"
           "      aggregates: {visits: \"count(*)\"}\n"
           "      buckets:\n"
           "        - {name: busy, when: \"visits >= 2\"}\n"
           "        - {name: quiet}\n";
  };
  WriteAll(dir + "/rules.yaml", yaml("iso_a3"));
  auto r = Weir("run " + dir + "/rules.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto got = Derived(dir + "/rules.yaml");
  const std::vector<std::string> want = {
      "country_traffic|FRA|2025-11-01T11:00:00.000Z|{\"from\":\"quiet\",\"to\":\"busy\"}",
      "country_traffic|FRA|2025-11-02T10:00:00.000Z|{\"from\":\"busy\",\"to\":\"quiet\"}"};
  EXPECT_EQ(got, want);

  const std::string bad = TempDir("rules-geo-bad");
  fs::copy(dir + "/in", bad + "/in", fs::copy_options::recursive);
  WriteAll(bad + "/rules.yaml", yaml("iso_a4"));
  auto b = Weir("run " + bad + "/rules.yaml 2>&1");
  EXPECT_NE(b.exit_code, 0);
  EXPECT_NE(b.out.find("unknown column 'iso_a4' (did you mean 'iso_a3'?)"), std::string::npos)
      << b.out;
  EXPECT_FALSE(fs::exists(bad + "/lake/derived/metadata"));
}

}  // namespace
}  // namespace weir::e2e
