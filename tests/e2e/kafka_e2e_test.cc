// Kafka stream datasets end to end: librdkafka's mock cluster runs in its own process
// (weir-kafka-mock), kcat produces, the real `weir run` consumes as a group member, and the
// table is read back with icebird (an independent Iceberg reader). Checked: every message lands
// exactly once, one task per partition with the next offset as its checkpoint, error records
// with the message offsets, tombstones skipped and counted, a rerun resumes from the store, and
// kill -9 while consuming neither loses nor duplicates anything.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../common/postgres.h"
#include "e2e_util.h"
#include "kafka_util.h"

namespace weir::e2e {
namespace {

std::string Event(const std::string& id) {
  return "{\"id\":\"" + id + "\",\"ts\":1764000000000}\n";
}

// Polls `weir query` until the table has `n` rows (or ~30 s pass); returns the last count seen.
std::string WaitForRows(const std::string& yaml, int n) {
  const std::string want = std::to_string(n) + "\n";
  std::string got;
  for (int i = 0; i < 300 && got != want; ++i) {
    const std::string out =
        Weir("query " + yaml + " \"SELECT count(*) AS n FROM events\" --format csv 2>/dev/null").out;
    got = out.rfind("n\n", 0) == 0 ? out.substr(2) : "";
    if (got != want) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return got;
}

std::string DatasetYaml(const std::string& bootstrap) {
  return "name: kclicks\n"
         "read:\n"
         "  connector: kafka\n"
         "  brokers: " + bootstrap + "\n"
         "  topics: [events]\n"
         "  group: weir-e2e\n"
         "  parser: jsonl\n"
         // A killed member holds its partitions until its session times out (45 s by default).
         "  options: {session.timeout.ms: 6000, heartbeat.interval.ms: 500}\n"
         "write:\n"
         "  connector: lake\n"
         "  location: lake\n"
         "  table: events\n"
         "  columns:\n"
         "    id: {path: /id, type: string, required: true}\n"
         "    ts: {path: /ts, type: timestamp_ms, required: true}\n"
         "stream:\n"
         "  commit_interval: 200ms\n";
}

TEST(KafkaE2E, EveryPartitionLandsOnceWithErrorRecordsTombstonesAndResume) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("kafka-basic");
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:4"));
  std::vector<std::string> want;
  for (int p = 0; p < 4; ++p) {
    std::string lines;
    for (int i = 0; i < 200; ++i) {
      want.push_back("p" + std::to_string(p) + "-" + std::to_string(i));
      lines += Event(want.back());
    }
    ASSERT_TRUE(Produce(kafka.bootstrap(), p, lines));
  }
  ASSERT_TRUE(Produce(kafka.bootstrap(), 2, "not json\n"));          // offset 200 of events/2
  ASSERT_TRUE(Produce(kafka.bootstrap(), 1, "tomb:\n", "-Z -K:"));   // a null value, offset 200
  const std::string yaml = dir + "/ds.yaml";
  WriteAll(yaml, DatasetYaml(kafka.bootstrap()));

  CmdResult run = Weir("run " + yaml + " --until-idle 1500ms --no-progress --json");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  auto j = nlohmann::json::parse(run.out);
  EXPECT_EQ(j["run"]["read"], 802);
  EXPECT_EQ(j["run"]["written"], 800);
  EXPECT_EQ(j["run"]["skipped"], 1);
  EXPECT_EQ(j["run"]["errored"], 1);
  std::map<std::string, nlohmann::json> tasks;
  for (const auto& t : j["tasks"]) tasks[t["file"].get<std::string>()] = t;
  ASSERT_EQ(tasks.size(), 4u);
  EXPECT_EQ(tasks["events/0"]["checkpoint"]["offset"], 200);
  EXPECT_EQ(tasks["events/1"]["checkpoint"]["offset"], 201);
  EXPECT_EQ(tasks["events/1"]["skipped"], 1);
  EXPECT_EQ(tasks["events/2"]["checkpoint"]["offset"], 201);
  EXPECT_EQ(tasks["events/2"]["errored"], 1);

  CmdResult errors = Weir("errors " + yaml + " --json");
  auto e = nlohmann::json::parse(errors.out.substr(0, errors.out.find('\n')));
  EXPECT_EQ(e["file"], "events/2");
  EXPECT_EQ(e["start_offset"], 200);
  EXPECT_EQ(e["end_offset"], 201);
  EXPECT_EQ(e["record_number"], 200);

  std::sort(want.begin(), want.end());
  EXPECT_EQ(IcebirdIds(dir), want);

  // More messages: the next run starts each partition at its stored offset.
  std::string more;
  for (int i = 0; i < 50; ++i) {
    want.push_back("late-" + std::to_string(i));
    more += Event(want.back());
  }
  ASSERT_TRUE(Produce(kafka.bootstrap(), 3, more));
  CmdResult again = Weir("run " + yaml + " --until-idle 1500ms --no-progress --json");
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(nlohmann::json::parse(again.out)["run"]["read"], 50);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(IcebirdIds(dir), want);
}

// The broker goes down mid-run and comes back: weir waits, resumes, loses nothing, and stops
// with exit 0 at SIGTERM. Its /metrics count every committed message in both latency
// histograms (event time and Kafka timestamp).
TEST(KafkaE2E, ABrokerOutageMidRunLosesNothing) {
  const std::string dir = TempDir("kafka-outage");
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:2"));
  const std::string yaml = dir + "/ds.yaml";
  const int metrics_port = FreeLoopbackPort();
  WriteAll(yaml, DatasetYaml(kafka.bootstrap()) + "  metrics_listen: 127.0.0.1:" +
                     std::to_string(metrics_port) + "\n");
  auto batch = [](const std::string& prefix) {
    std::string lines;
    for (int i = 0; i < 300; ++i) lines += Event(prefix + std::to_string(i));
    return lines;
  };
  ASSERT_TRUE(Produce(kafka.bootstrap(), 0, batch("before-")));
  const pid_t pid = SpawnLogged({WeirBin(), "run", yaml, "--no-progress"}, dir + "/run.log");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(WaitForRows(yaml, 300), "300\n") << ReadAll(dir + "/run.log");
  ASSERT_TRUE(kafka.Command("down 1"));
  std::this_thread::sleep_for(std::chrono::seconds(4));
  ASSERT_TRUE(kafka.Command("up 1"));
  ASSERT_TRUE(Produce(kafka.bootstrap(), 1, batch("after-")));
  EXPECT_EQ(WaitForRows(yaml, 600), "600\n") << ReadAll(dir + "/run.log");
  httplib::Client mc("127.0.0.1", metrics_port);
  auto metrics = mc.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("weir_kafka_latency_seconds_count{dataset=\"kclicks\"} 600\n"),
            std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("weir_end_to_end_latency_seconds_count{dataset=\"kclicks\"} 600\n"),
            std::string::npos) << metrics->body;
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadAll(dir + "/run.log");
  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) || '/' || count(DISTINCT id) FROM read_parquet('" + dir +
                     "/lake/events/data/**/*.parquet')"),
            "600/600");
}

// write.compaction.auto on a Kafka stream compacts while the stream runs, as it does on the
// HTTP collector's: a Kafka stream compacted only at the end of its run before, which a stream
// that runs for weeks never reaches, so its partitions gathered a file per commit.
TEST(KafkaE2E, AutoCompactionRunsWhileAKafkaStreamRuns) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("kafka-compact");
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:1"));
  const std::string yaml = dir + "/ds.yaml";
  std::string text = DatasetYaml(kafka.bootstrap());
  const std::string at = "  table: events\n";
  text.replace(text.find(at), at.size(),
               at + "  compaction: {auto: true, min_files: 3, interval: 500ms}\n");
  WriteAll(yaml, text);
  const pid_t pid = SpawnLogged({WeirBin(), "run", yaml, "--no-progress"}, dir + "/run.log");
  ASSERT_GT(pid, 0);
  // One partition, a small file per commit (200 ms): produce until a compaction replaced some.
  int produced = 0;
  bool compacted = false;
  for (int round = 0; round < 150 && !compacted; ++round) {
    std::string lines;
    for (int i = 0; i < 20; ++i) lines += Event("c" + std::to_string(produced++));
    ASSERT_TRUE(Produce(kafka.bootstrap(), 0, lines));
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    for (const auto& sn : LakeSnapshots(yaml)) compacted |= sn["operation"] == "replace";
  }
  EXPECT_TRUE(compacted) << "no replace snapshot while the stream ran; log:\n"
                         << ReadAll(dir + "/run.log");
  EXPECT_EQ(WaitForRows(yaml, produced), std::to_string(produced) + "\n");
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadAll(dir + "/run.log");
  // Every message once, in fewer live files than the appends added.
  const auto snaps = LakeSnapshots(yaml);
  EXPECT_EQ(CurrentRecords(snaps), static_cast<uint64_t>(produced));
  uint64_t appended = 0, live = 0;
  for (const auto& sn : snaps) {
    if (sn["operation"] == "append") appended += sn["added_files"].get<uint64_t>();
    if (sn["current"] == true) live = sn["total_files"].get<uint64_t>();
  }
  EXPECT_LT(live, appended);
  // An independent reader of the current snapshot: each produced message once.
  std::vector<std::string> want;
  for (int i = 0; i < produced; ++i) want.push_back("c" + std::to_string(i));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(IcebirdIds(dir), want);
}

// kill -9 at random moments while messages keep arriving: after a final run every produced
// message is in the table exactly once.
TEST(KafkaE2E, KillNineWhileConsumingLosesAndDuplicatesNothing) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("kafka-kill");
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:4"));
  const std::string yaml = dir + "/ds.yaml";
  WriteAll(yaml, DatasetYaml(kafka.bootstrap()));
  std::atomic<bool> stop{false};
  std::atomic<int> produced_batches{0};
  std::set<std::string> produced;
  std::mutex mu;
  std::thread producer([&] {
    for (int batch = 0; !stop && batch < 400; ++batch) {
      std::string lines;
      std::vector<std::string> ids;
      for (int i = 0; i < 50; ++i) {
        ids.push_back("b" + std::to_string(batch) + "-" + std::to_string(i));
        lines += Event(ids.back());
      }
      if (Produce(kafka.bootstrap(), batch % 4, lines)) {
        std::lock_guard<std::mutex> l(mu);
        produced.insert(ids.begin(), ids.end());
        ++produced_batches;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::mt19937 rng(4242);
  for (int round = 0; round < 3; ++round) {
    const pid_t pid = SpawnLogged({WeirBin(), "run", yaml, "--no-progress"}, dir + "/run.log", true);
    ASSERT_GT(pid, 0);
    // Joining the group takes about 3 s on the mock (and up to the session timeout after a
    // kill); kill somewhere in the consuming that follows.
    std::this_thread::sleep_for(std::chrono::milliseconds(3500 + rng() % 3000));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  stop = true;
  producer.join();
  ASSERT_GT(produced_batches.load(), 20);
  CmdResult last = Weir("run " + yaml + " --until-idle 3s --no-progress --json");
  ASSERT_EQ(last.exit_code, 0) << last.out << ReadAll(dir + "/run.log");

  const std::vector<std::string> lake = IcebirdIds(dir);
  const std::set<std::string> distinct(lake.begin(), lake.end());
  EXPECT_EQ(distinct.size(), lake.size()) << "duplicates in the lake";
  EXPECT_EQ(distinct, produced);
  uint64_t written = 0;
  const auto summary = nlohmann::json::parse(last.out);  // named: the loop borrows from it
  for (const auto& t : summary["tasks"]) written += t["written"].get<uint64_t>();
  EXPECT_EQ(written, lake.size());
}

// Produces numbered 50-message batches round-robin over `partitions` until `stop` (or
// `max_batches`), remembering the ids of every batch kcat got acknowledged.
class Producer {
 public:
  Producer(const std::string& bootstrap, int partitions, int max_batches, int pause_ms = 20)
      : thread_([=, this] {
          for (int batch = 0; !stop_ && batch < max_batches; ++batch) {
            std::string lines;
            std::vector<std::string> ids;
            for (int i = 0; i < 50; ++i) {
              ids.push_back("b" + std::to_string(batch) + "-" + std::to_string(i));
              lines += Event(ids.back());
            }
            if (Produce(bootstrap, batch % partitions, lines)) {
              std::lock_guard<std::mutex> l(mu_);
              produced_.insert(ids.begin(), ids.end());
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
          }
        }) {}
  ~Producer() { Join(); }
  void Join() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void Wait() {  // until every batch is produced
    if (thread_.joinable()) thread_.join();
  }
  std::set<std::string> produced() {
    std::lock_guard<std::mutex> l(mu_);
    return produced_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::set<std::string> produced_;
  std::thread thread_;
};

int WaitExit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls a process's log until `needle` occurs `times` times (or 60 s pass).
bool WaitForLog(const std::string& path, const std::string& needle, int times) {
  for (int i = 0; i < 600; ++i) {
    const std::string log = ReadAll(path);
    int seen = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++seen;
    if (seen >= times) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Every produced id in the table exactly once (read by icebird), after a final catch-up run.
void ExpectExactlyOnce(const std::string& dir, const std::string& yaml,
                       const std::set<std::string>& produced) {
  CmdResult last = Weir("run " + yaml + " --until-idle 3s --no-progress --json");
  ASSERT_EQ(last.exit_code, 0) << last.out;
  const std::vector<std::string> lake = IcebirdIds(dir);
  const std::set<std::string> distinct(lake.begin(), lake.end());
  EXPECT_EQ(distinct.size(), lake.size()) << "duplicates in the lake";
  EXPECT_EQ(distinct, produced);
  uint64_t written = 0;
  const auto summary = nlohmann::json::parse(last.out);  // named: the loop borrows from it
  for (const auto& t : summary["tasks"]) written += t["written"].get<uint64_t>();
  EXPECT_EQ(written, lake.size()) << "the tasks' counters do not add up to the table's rows";
}

// Two `weir run` processes in one consumer group share the partitions; one joins mid-run and
// later leaves (two rebalances), while messages keep arriving: nothing lost or duplicated.
TEST(KafkaE2E, TwoProcessesShareTheGroupAndRebalancesLoseAndDuplicateNothing) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("kafka-group");
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:4"));
  const std::string yaml = dir + "/ds.yaml";
  WriteAll(yaml, DatasetYaml(kafka.bootstrap()));
  Producer producer(kafka.bootstrap(), 4, 300);
  const std::string first_path = dir + "/first.log", second_path = dir + "/second.log";
  const pid_t first = SpawnLogged({WeirBin(), "run", yaml, "--no-progress"}, first_path);
  ASSERT_GT(first, 0);
  // The group's steps are waited for in the logs, not slept for: a join takes seconds under
  // ASan, and a member that joins late first gets every partition, then half.
  ASSERT_TRUE(WaitForLog(first_path, "assigned 4 partition(s)", 1)) << ReadAll(first_path);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const pid_t second = SpawnLogged({WeirBin(), "run", yaml, "--no-progress"}, second_path);
  ASSERT_GT(second, 0);
  // Both consumed: the second got half the partitions, the first all of them, then half.
  EXPECT_TRUE(WaitForLog(second_path, "assigned 2 partition(s)", 1)) << ReadAll(second_path);
  EXPECT_TRUE(WaitForLog(first_path, "assigned 2 partition(s)", 1)) << ReadAll(first_path);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ::kill(second, SIGTERM);  // leaves the group: the first takes every partition again
  EXPECT_EQ(WaitExit(second), 0) << ReadAll(second_path);
  EXPECT_TRUE(WaitForLog(first_path, "assigned 4 partition(s)", 2)) << ReadAll(first_path);
  producer.Wait();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ::kill(first, SIGTERM);
  EXPECT_EQ(WaitExit(first), 0) << ReadAll(first_path);
  ExpectExactlyOnce(dir, yaml, producer.produced());
}

// The same with the store on PostgreSQL and the two members in two folders, as on two
// machines: each has its own .weir/ (flock), both write one lake and share the store, and the
// dataset lock is a shared advisory lock in PostgreSQL. Partition handovers between them are
// fenced by the store across connections: nothing lost or duplicated.
TEST(KafkaE2E, TwoMachinesOnAPostgresStoreShareTheGroupAndLoseAndDuplicateNothing) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  std::string why;
  PostgresServer* pg = SharedPostgres(&why);
  if (pg == nullptr && PostgresServer::BinDir().empty()) GTEST_SKIP() << why;
  ASSERT_NE(pg, nullptr) << "PostgreSQL is installed but did not start: " << why;
  const std::string url = pg->CreateDatabase("kafka_group");
  ASSERT_FALSE(url.empty()) << pg->why();
  const std::string dir = TempDir("kafka-group-pg"), other = TempDir("kafka-group-pg-b");
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:4"));
  std::string text = DatasetYaml(kafka.bootstrap());
  const std::string relative = "  location: lake\n";
  text.replace(text.find(relative), relative.size(), "  location: " + dir + "/lake\n");
  text += "store: " + url + "\nerrors:\n  location: " + dir + "/errors\n";
  const std::string yaml = dir + "/ds.yaml", yaml_b = other + "/ds.yaml";
  WriteAll(yaml, text);
  WriteAll(yaml_b, text);
  Producer producer(kafka.bootstrap(), 4, 300);
  const std::string first_path = dir + "/first.log", second_path = other + "/second.log";
  const pid_t first = SpawnLogged({WeirBin(), "run", yaml, "--no-progress"}, first_path);
  ASSERT_GT(first, 0);
  ASSERT_TRUE(WaitForLog(first_path, "assigned 4 partition(s)", 1)) << ReadAll(first_path);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const pid_t second = SpawnLogged({WeirBin(), "run", yaml_b, "--no-progress"}, second_path);
  ASSERT_GT(second, 0);
  EXPECT_TRUE(WaitForLog(second_path, "assigned 2 partition(s)", 1)) << ReadAll(second_path);
  EXPECT_TRUE(WaitForLog(first_path, "assigned 2 partition(s)", 1)) << ReadAll(first_path);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ::kill(second, SIGTERM);
  EXPECT_EQ(WaitExit(second), 0) << ReadAll(second_path);
  EXPECT_TRUE(WaitForLog(first_path, "assigned 4 partition(s)", 2)) << ReadAll(first_path);
  producer.Wait();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ::kill(first, SIGTERM);
  EXPECT_EQ(WaitExit(first), 0) << ReadAll(first_path);
  EXPECT_FALSE(std::filesystem::exists(other + "/lake")) << "the second member wrote its own lake";
  ExpectExactlyOnce(dir, yaml, producer.produced());
}

// A topic matching the subscription's regex, created while weir runs, is picked up: its
// partitions become tasks and land like the others. (The 2.0.2 mock cannot add partitions to
// an existing topic; a new matching topic takes the same path: metadata refresh, rebalance,
// assignment of partitions weir has no position for, starting at read.start.)
TEST(KafkaE2E, ATopicCreatedWhileRunningIsPickedUp) {
  const std::string dir = TempDir("kafka-newtopic");
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:2"));
  const std::string yaml = dir + "/ds.yaml";
  std::string text = DatasetYaml(kafka.bootstrap());
  text.replace(text.find("topics: [events]"), 16, "topics: [\"^events.*\"]");
  WriteAll(yaml, text);
  std::string lines;
  for (int i = 0; i < 100; ++i) lines += Event("old-" + std::to_string(i));
  ASSERT_TRUE(Produce(kafka.bootstrap(), 0, lines));
  const pid_t pid = SpawnLogged({WeirBin(), "run", yaml, "--no-progress"}, dir + "/run.log");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(WaitForRows(yaml, 100), "100\n") << ReadAll(dir + "/run.log");
  ASSERT_TRUE(kafka.Command("topic events-eu 3"));
  std::string eu;
  for (int i = 0; i < 60; ++i) eu += Event("eu-" + std::to_string(i));
  ASSERT_TRUE(Produce(kafka.bootstrap(), 2, eu, "", "events-eu"));
  EXPECT_EQ(WaitForRows(yaml, 160), "160\n") << ReadAll(dir + "/run.log");
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadAll(dir + "/run.log");
  CmdResult tasks = Weir("tasks " + yaml + " --json");
  ASSERT_EQ(tasks.exit_code, 0) << tasks.out;
  const auto listed = nlohmann::json::parse(tasks.out);
  std::map<std::string, uint64_t> offsets;
  for (const auto& t : listed) offsets[t["file"].get<std::string>()] = t["checkpoint"]["offset"].get<uint64_t>();
  EXPECT_EQ(offsets.size(), 5u) << tasks.out;  // events/0-1 and events-eu/0-2
  EXPECT_EQ(offsets["events-eu/2"], 60u) << tasks.out;
}

// A member that stops responding (SIGSTOP past the session timeout) loses its partitions to
// another member, which claims and commits them. When it wakes up holding uncommitted rows, its
// commit is refused (fenced) and it rejoins the group: nothing it held lands twice.
TEST(KafkaE2E, AMemberThatLostItsPartitionsCanNeverCommitThemAgain) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("kafka-fence");
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:2"));
  const std::string yaml = dir + "/ds.yaml";
  // Commits every 2 s: the stopped member is almost surely holding uncommitted rows.
  std::string text = DatasetYaml(kafka.bootstrap());
  text.replace(text.find("commit_interval: 200ms"), 22, "commit_interval: 2s");
  WriteAll(yaml, text);
  Producer producer(kafka.bootstrap(), 2, 400, 10);
  const pid_t stale = SpawnLogged({WeirBin(), "run", yaml, "--no-progress"}, dir + "/stale.log");
  ASSERT_GT(stale, 0);
  // Wait for its first commit, then a little more, so it holds uncommitted rows.
  for (int i = 0; i < 200 && ReadAll(dir + "/stale.log").find("assigned 2") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  ::kill(stale, SIGSTOP);
  const pid_t fresh = SpawnLogged({WeirBin(), "run", yaml, "--no-progress"}, dir + "/fresh.log");
  ASSERT_GT(fresh, 0);
  // The session (6 s) times out, the group gives both partitions to `fresh`, which claims them.
  for (int i = 0; i < 300 && ReadAll(dir + "/fresh.log").find("assigned 2") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));  // `fresh` commits meanwhile
  ::kill(stale, SIGCONT);
  std::this_thread::sleep_for(std::chrono::seconds(6));
  producer.Wait();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ::kill(stale, SIGTERM);
  ::kill(fresh, SIGTERM);
  EXPECT_EQ(WaitExit(stale), 0) << ReadAll(dir + "/stale.log");
  EXPECT_EQ(WaitExit(fresh), 0) << ReadAll(dir + "/fresh.log");
  const std::string stale_log = ReadAll(dir + "/stale.log");
  // It noticed, either way: the group told it (lost) or the store refused its commit.
  EXPECT_TRUE(stale_log.find("taken by another member") != std::string::npos ||
              stale_log.find("took 2 partition(s) away") != std::string::npos)
      << stale_log;
  ExpectExactlyOnce(dir, yaml, producer.produced());
}

// A dataset whose table is partitioned by day, for the catch-up tests: `events` spread over 100
// days make every commit write up to 100 files, as a many-partition table does.
std::string CatchUpYaml(const std::string& bootstrap, const std::string& group,
                        const std::string& commit_interval, const std::string& catch_up_interval) {
  return "name: kcatchup\n"
         "read:\n"
         "  connector: kafka\n"
         "  brokers: " + bootstrap + "\n"
         "  topics: [events]\n"
         "  group: " + group + "\n"
         "  parser: jsonl\n"
         "write:\n"
         "  connector: lake\n"
         "  location: lake\n"
         "  table: events\n"
         "  partition_by: [dt]\n"
         "  columns:\n"
         "    id: {path: /id, type: string, required: true}\n"
         "    ts: {path: /ts, type: timestamp_ms, required: true}\n"
         "    dt: {date_of: ts}\n"
         "stream:\n"
         "  commit_interval: " + commit_interval + "\n"
         "  catch_up_interval: " + catch_up_interval + "\n";
}

std::string SpreadEvent(const std::string& id, int i) {
  return "{\"id\":\"" + id + "\",\"ts\":" + std::to_string(1764000000000 - (i % 100) * 86400000LL) +
         "}\n";
}

// A backlog waiting when weir starts is read in a few large commits (stream.catch_up_interval),
// not one commit per commit_interval, with every message exactly once; once caught up, new
// messages are visible within about commit_interval again. The control run, with catching up
// turned off (catch_up_interval = commit_interval), commits the same backlog by the clock.
TEST(KafkaE2E, ABacklogIsReadInFewCommitsThenNewMessagesAreVisibleWithinTheInterval) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("kafka-catchup");
  KafkaMock kafka;
  ASSERT_TRUE(kafka.Start("events:8"));
  std::vector<std::string> want;
  constexpr int kPerPartition = 30000;  // ~2 MB a partition: the mock keeps ~5 MB
  for (int p = 0; p < 8; ++p) {
    std::string lines;
    for (int i = 0; i < kPerPartition; ++i) {
      want.push_back("p" + std::to_string(p) + "-" + std::to_string(i));
      lines += SpreadEvent(want.back(), i);
    }
    ASSERT_TRUE(Produce(kafka.bootstrap(), p, lines));
  }
  const uint64_t backlog = want.size();
  constexpr double kIntervalMs = 20;

  std::filesystem::create_directories(dir + "/control");
  const std::string control = dir + "/control/ds.yaml";
  WriteAll(control, CatchUpYaml(kafka.bootstrap(), "weir-control", "20ms", "20ms"));
  CmdResult c = Weir("run " + control + " --until-idle 1500ms --no-progress --json");
  ASSERT_EQ(c.exit_code, 0) << c.out;
  ASSERT_EQ(nlohmann::json::parse(c.out)["run"]["written"].get<uint64_t>(), backlog);
  const auto control_snaps = LakeSnapshots(control);
  ASSERT_FALSE(control_snaps.empty());
  const size_t control_commits = control_snaps.size();

  std::filesystem::create_directories(dir + "/main");
  const std::string yaml = dir + "/main/ds.yaml";
  WriteAll(yaml, CatchUpYaml(kafka.bootstrap(), "weir-main", "20ms", "1h"));
  const std::string log = dir + "/main/run.log";
  const pid_t pid = SpawnLogged({WeirBin(), "run", yaml, "--no-progress"}, log);
  ASSERT_GT(pid, 0);
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  std::optional<Clock::time_point> assigned;
  nlohmann::json snaps = nlohmann::json::array();
  while (Clock::now() < deadline && CurrentRecords(snaps) < backlog) {
    if (!assigned && ReadAll(log).find("assigned 8 partition") != std::string::npos) {
      assigned = Clock::now();
    }
    snaps = LakeSnapshots(yaml);
    if (CurrentRecords(snaps) < backlog) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double consumed_ms = assigned ? std::chrono::duration<double, std::milli>(
                                            Clock::now() - *assigned).count() : 0;
  ASSERT_EQ(CurrentRecords(snaps), backlog) << ReadAll(log);
  ASSERT_TRUE(assigned.has_value());
  // By the clock, consuming for consumed_ms would have made one commit per interval (the
  // control shows it does); catching up makes a few, sized by the data.
  RecordProperty("commits", static_cast<int>(snaps.size()));
  RecordProperty("control_commits", static_cast<int>(control_commits));
  RecordProperty("consumed_ms", static_cast<int>(consumed_ms));
  EXPECT_LE(snaps.size(), 3u) << "consumed in " << consumed_ms << " ms";
  EXPECT_GE(consumed_ms / kIntervalMs, 4.0 * static_cast<double>(snaps.size()))
      << snaps.size() << " commits in " << consumed_ms << " ms";
  // Compared as commits per second of consuming, not as counts. Regression: on CI the control
  // read the whole backlog in 164 ms, in 3 commits (each as soon as the one before finished),
  // and "more than twice as many commits as catching up" failed although it had committed by
  // the clock, 6x as often per second as the run that caught up.
  const double control_ms = kIntervalMs + static_cast<double>(
      control_snaps.back()["timestamp_ms"].get<int64_t>() -
      control_snaps.front()["timestamp_ms"].get<int64_t>());
  const double control_rate = static_cast<double>(control_commits) / control_ms;
  const double catch_up_rate = static_cast<double>(snaps.size()) / consumed_ms;
  EXPECT_GT(control_rate, 2 * catch_up_rate)
      << "the control committed by the clock: " << control_commits << " commits in "
      << control_ms << " ms; catching up " << snaps.size() << " in " << consumed_ms << " ms";

  // Caught up: each new message is in a snapshot within about commit_interval (generous margin
  // for this shared machine; a stream wrongly still catching up would take the 1h interval).
  for (int round = 0; round < 5; ++round) {
    std::string lines;
    for (int i = 0; i < 10; ++i) {
      want.push_back("live" + std::to_string(round) + "-" + std::to_string(i));
      lines += SpreadEvent(want.back(), i);
    }
    ASSERT_TRUE(Produce(kafka.bootstrap(), round % 8, lines));
    const auto produced = Clock::now();
    while (Clock::now() - produced < std::chrono::seconds(30) &&
           CurrentRecords(LakeSnapshots(yaml)) < want.size()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const double visible_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - produced).count();
    EXPECT_LT(visible_ms, kIntervalMs + 5000) << "round " << round;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadAll(log);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(IcebirdIds(dir + "/main"), want);
}

}  // namespace
}  // namespace weir::e2e
