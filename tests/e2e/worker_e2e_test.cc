// End to end with `weir submit` and `weir worker` processes sharing a store: every submitted task
// runs once across workers; a killed worker's task waits for its lease to expire, then another
// worker claims it and resumes from its checkpoint; a worker paused past its lease (SIGSTOP) can
// never commit once it wakes up (fencing); two workers that read the same records at once keep
// them once (write.dedup checks the keys again in the commit). The real binary, real processes, and for the fleet
// case a real PostgreSQL server of the test's own.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../common/postgres.h"
#include "../common/process_util.h"
#include "clickstream_util.h"
#include "e2e_util.h"

namespace weir::e2e {
namespace {

nlohmann::json Json(const CmdResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  return j.is_discarded() ? nlohmann::json{{"_raw", r.out}} : j;
}

nlohmann::json Tasks(const std::string& yaml) { return Json(Weir("tasks " + yaml + " --json")); }

// Starts `weir worker` with `args`, its output in `log`; `env` ("K=V" items) set for it alone.
pid_t StartWorker(const std::vector<std::string>& args, const std::string& log,
                  const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv{"env"};
  for (const auto& e : env) argv.push_back(e);
  argv.push_back(WeirBin());
  argv.push_back("worker");
  for (const auto& a : args) argv.push_back(a);
  return SpawnLogged(argv, log);
}

// Waits for `pid`: its exit code, or 128 + the signal that ended it; -1 after `seconds`.
int WaitFor(pid_t pid, int seconds = 180) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    int st = 0;
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

// True once `pid` is stopped (state T in /proc/<pid>/stat), within `seconds`.
bool WaitStopped(pid_t pid, int seconds = 120) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const size_t close = stat.rfind(')');
    if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'T') return true;
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) return false;  // it ended instead
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// What the task rows say was done, summed.
struct Totals {
  uint64_t written = 0, errored = 0, completed = 0, tasks = 0;
};
Totals Sum(const nlohmann::json& tasks) {
  Totals t;
  for (const auto& row : tasks) {
    t.written += row["written"].get<uint64_t>();
    t.errored += row["errored"].get<uint64_t>();
    t.completed += row["status"] == "COMPLETED";
    ++t.tasks;
  }
  return t;
}

// The tasks' facts that must not change once the dataset is done.
nlohmann::json Facts(const nlohmann::json& tasks) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : tasks) {
    out.push_back({{"file", t["file"]}, {"status", t["status"]}, {"written", t["written"]},
                   {"errored", t["errored"]}, {"checkpoint", t["checkpoint"]},
                   {"commits", t["commits"]}, {"attempts", t["attempts"]}});
  }
  return out;
}

// The end of every worker test: all `tasks` tasks COMPLETED, their counters are the generator's
// answer key, the lake (read straight by DuckDB) holds every valid record once, the error
// records are the malformed lines, and `weir lake check` finds the lake consistent.
void ExpectEveryRecordOnce(const std::string& dir, const std::string& yaml,
                           const gen::GenEventsReport& rep, uint64_t tasks) {
  auto done = Tasks(yaml);
  const Totals t = Sum(done);
  EXPECT_EQ(t.completed, tasks) << done.dump();
  EXPECT_EQ(t.written, rep.totals.valid);
  EXPECT_EQ(t.errored, rep.totals.malformed);
  Duck duck;
  EXPECT_EQ(LakeFingerprint(duck, dir).first, std::to_string(rep.totals.valid));
  EXPECT_EQ(ErrorsByOffset(yaml).size(), rep.totals.malformed);
  auto check = Weir("lake check " + yaml);
  EXPECT_EQ(check.exit_code, 0) << check.out;
}

TEST(WorkerE2E, ThreeWorkersOnPostgresRunEverySubmittedTaskExactlyOnce) {
  std::string why;
  PostgresServer* pg = SharedPostgres(&why);
  if (pg == nullptr && PostgresServer::BinDir().empty()) GTEST_SKIP() << why;
  ASSERT_NE(pg, nullptr) << "PostgreSQL is installed but did not start: " << why;
  const std::string url = pg->CreateDatabase("e2e_workers");
  ASSERT_FALSE(url.empty()) << pg->why();
  const std::string dir = TempDir("workers-pg");
  auto rep = Generate(dir, 12000, 24, 91);
  const std::string yaml = dir + "/dataset.yaml";
  WriteAll(yaml, ClickstreamYaml("  roll_records: 800\n", "store: " + url + "\n"));

  auto sub = Json(Weir("submit " + yaml + " --json"));
  ASSERT_EQ(sub["tasks"], 24) << sub.dump();
  EXPECT_EQ(sub["new_tasks"], 24);
  EXPECT_EQ(sub["created"], true);
  // Unchanged: nothing happens.
  auto again = Json(Weir("submit " + yaml + " --json"));
  EXPECT_EQ(again["created"], false) << again.dump();
  EXPECT_EQ(again["changed"], false);
  EXPECT_EQ(again["new_tasks"], 0);

  std::vector<pid_t> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(StartWorker({"--store", url, "--until-done", "--threads", "1", "--json"},
                                  dir + "/worker" + std::to_string(i) + ".log"));
    ASSERT_GT(workers.back(), 0);
  }
  for (size_t i = 0; i < workers.size(); ++i) {
    EXPECT_EQ(WaitFor(workers[i]), 0) << ReadAll(dir + "/worker" + std::to_string(i) + ".log");
  }

  auto tasks = Tasks(yaml);
  ASSERT_TRUE(tasks.is_array()) << tasks.dump();
  const Totals t = Sum(tasks);
  EXPECT_EQ(t.tasks, 24u);
  EXPECT_EQ(t.completed, 24u) << tasks.dump();
  EXPECT_EQ(t.written, rep.totals.valid);
  EXPECT_EQ(t.errored, rep.totals.malformed);
  std::set<std::string> holders;
  for (const auto& row : tasks) {
    ASSERT_TRUE(row["lease"].is_object()) << row.dump();
    holders.insert(row["lease"]["owner"].get<std::string>());
    EXPECT_EQ(row["lease"]["held"], false);
  }
  EXPECT_GE(holders.size(), 1u);
  std::printf("tasks ran by %zu of the 3 workers\n", holders.size());

  // The lake (files read straight by DuckDB) and the error records hold every record once.
  Duck duck;
  EXPECT_EQ(LakeFingerprint(duck, dir).first, std::to_string(rep.totals.valid));
  EXPECT_EQ(ErrorsByOffset(yaml).size(), rep.totals.malformed);
  auto check = Weir("lake check " + yaml);
  EXPECT_EQ(check.exit_code, 0) << check.out;

  // The registry knows the three, stopped cleanly.
  auto listed = Json(Weir("workers --store " + url + " --json"));
  ASSERT_TRUE(listed.is_array()) << listed.dump();
  size_t stopped = 0;
  for (const auto& w : listed) stopped += w["state"] == "stopped";
  EXPECT_GE(stopped, 3u) << listed.dump();
}

TEST(WorkerE2E, AKilledWorkersTaskIsClaimedOnlyAfterItsLeaseAndResumesFromItsCheckpoint) {
  const std::string dir = TempDir("workers-kill");
  auto rep = Generate(dir, 6000, 4, 92);
  const std::string yaml = dir + "/dataset.yaml";
  WriteAll(yaml, ClickstreamYaml("  roll_records: 400\n"));
  ASSERT_EQ(Weir("submit " + yaml).exit_code, 0);
  const std::string store = dir + "/.weir/store.db";

  // Worker A dies right after its third commit is durable (before publishing it).
  pid_t a = StartWorker({"--store", store, "--until-done", "--threads", "1", "--lease", "4s"},
                        dir + "/a.log", {"WEIR_CRASH_AT=after-commit", "WEIR_CRASH_AFTER_COMMITS=2"});
  ASSERT_GT(a, 0);
  ASSERT_EQ(WaitFor(a), 128 + SIGKILL) << ReadAll(dir + "/a.log");
  auto mid = Tasks(yaml);
  ASSERT_TRUE(mid.is_array()) << mid.dump();
  nlohmann::json held;
  for (const auto& row : mid) {
    if (row["status"] == "RUNNING") held = row;
  }
  ASSERT_TRUE(held.is_object()) << "no task left RUNNING by the killed worker: " << mid.dump();
  ASSERT_GT(held["commits"].get<int>(), 0) << "the task should have a checkpoint to resume from";
  ASSERT_EQ(held["lease"]["held"], true) << held.dump();

  // Worker B may take it only once A's lease has expired, then resumes from the checkpoint.
  pid_t b = StartWorker({"--store", store, "--until-done", "--threads", "1", "--lease", "4s"},
                        dir + "/b.log");
  ASSERT_GT(b, 0);
  ASSERT_EQ(WaitFor(b), 0) << ReadAll(dir + "/b.log");
  ExpectEveryRecordOnce(dir, yaml, rep, 4);
  for (const auto& row : Tasks(yaml)) {
    if (row["id"] != held["id"]) continue;
    EXPECT_NE(row["lease"]["owner"], held["lease"]["owner"]) << row.dump();
    // Claimed by the store's clock no earlier than A's lease ran out.
    EXPECT_GE(row["lease"]["since_ms"].get<int64_t>(), held["lease"]["until_ms"].get<int64_t>())
        << "before: " << held.dump() << "\nafter: " << row.dump();
    EXPECT_GT(row["attempts"].get<int>(), held["attempts"].get<int>());
  }
}

TEST(WorkerE2E, AWorkerPausedPastItsLeaseCannotCommitWhenItWakesUp) {
  const std::string dir = TempDir("workers-pause");
  auto rep = Generate(dir, 4000, 2, 93);
  const std::string yaml = dir + "/dataset.yaml";
  WriteAll(yaml, ClickstreamYaml("  roll_records: 300\n"));
  ASSERT_EQ(Weir("submit " + yaml).exit_code, 0);
  const std::string store = dir + "/.weir/store.db";

  // Worker A stalls (SIGSTOP, as a stopped VM or a long pause would) with a commit staged.
  pid_t a = StartWorker({"--store", store, "--until-done", "--threads", "1", "--lease", "2s"},
                        dir + "/a.log", {"WEIR_PAUSE_AT=after-stage", "WEIR_CRASH_AFTER_COMMITS=1"});
  ASSERT_GT(a, 0);
  ASSERT_TRUE(WaitStopped(a)) << ReadAll(dir + "/a.log");

  // Worker B finishes the dataset, taking A's task once A's lease expired.
  pid_t b = StartWorker({"--store", store, "--until-done", "--threads", "1", "--lease", "2s"},
                        dir + "/b.log");
  ASSERT_GT(b, 0);
  const int b_exit = WaitFor(b);
  const auto after_b = Tasks(yaml);
  // A wakes up: its staged commit must be refused, and it must leave the task alone.
  ::kill(a, SIGCONT);
  const int a_exit = WaitFor(a);
  ASSERT_EQ(b_exit, 0) << ReadAll(dir + "/b.log");
  EXPECT_EQ(a_exit, 0) << ReadAll(dir + "/a.log");
  const std::string a_log = ReadAll(dir + "/a.log");
  EXPECT_NE(a_log.find("was taken by another writer"), std::string::npos) << a_log;

  EXPECT_EQ(Facts(Tasks(yaml)), Facts(after_b)) << "the woken worker changed tasks:\n" << a_log;
  ExpectEveryRecordOnce(dir, yaml, rep, 2);
}

// The same records in two objects, read by two workers at once: A checks their keys (none is
// committed yet), stages them and stalls before its commit; B reads and commits the same
// records meanwhile. When A wakes its commit must be refused (A checked before B committed),
// and A must read its object again and drop every record as a duplicate. Before the commit
// checked the keys, both kept them.
TEST(WorkerE2E, TwoWorkersReadingTheSameRecordsAtOnceKeepThemOnce) {
  std::string why;
  PostgresServer* pg = SharedPostgres(&why);
  if (pg == nullptr && PostgresServer::BinDir().empty()) GTEST_SKIP() << why;
  ASSERT_NE(pg, nullptr) << "PostgreSQL is installed but did not start: " << why;
  const std::string url = pg->CreateDatabase("e2e_dedup_race");
  ASSERT_FALSE(url.empty()) << pg->why();
  const std::string dir = TempDir("workers-dedup-race");
  Generate(dir, 3000, 2, 94);
  // The second object becomes a copy of the first: every record is in both.
  std::vector<std::string> entries;
  {
    std::ifstream m(dir + "/data/manifest.txt");
    for (std::string line; std::getline(m, line);) {
      if (!line.empty() && line[0] != '#') entries.push_back(line);
    }
  }
  ASSERT_EQ(entries.size(), 2u);
  std::filesystem::copy_file(dir + "/data/" + entries[0], dir + "/data/" + entries[1],
                             std::filesystem::copy_options::overwrite_existing);
  // Commits of 500 rows: A's first commit is made (and stalls) while it reads the first object,
  // before it claims the second.
  const std::string write = "  roll_records: 500\n  dedup: {key: [id], within: 30d}\n";
  // The answer: one process, whose dedup is exact.
  const std::string ref = TempDir("workers-dedup-race-ref");
  std::filesystem::create_directories(ref + "/data");
  for (const auto& e : entries) {
    std::filesystem::copy_file(dir + "/data/" + e, ref + "/data/" + e);
  }
  std::filesystem::copy_file(dir + "/data/manifest.txt", ref + "/data/manifest.txt");
  WriteAll(ref + "/dataset.yaml", ClickstreamYaml(write));
  ASSERT_EQ(Weir("run " + ref + "/dataset.yaml").exit_code, 0);
  const Totals want = Sum(Tasks(ref + "/dataset.yaml"));
  ASSERT_GT(want.written, 0u);

  const std::string yaml = dir + "/dataset.yaml";
  WriteAll(yaml, ClickstreamYaml(write, "store: " + url + "\n"));
  ASSERT_EQ(Weir("submit " + yaml).exit_code, 0);
  // A claims the first task (claims go in task order) and stalls with its commit staged; its
  // lease outlasts the test, so B cannot take that task.
  pid_t a = StartWorker({"--store", url, "--until-done", "--threads", "1", "--lease", "120s"},
                        dir + "/a.log", {"WEIR_PAUSE_AT=after-stage"});
  ASSERT_GT(a, 0);
  ASSERT_TRUE(WaitStopped(a)) << ReadAll(dir + "/a.log");
  pid_t b = StartWorker({"--store", url, "--until-done", "--threads", "1"}, dir + "/b.log");
  ASSERT_GT(b, 0);
  bool b_committed = false;
  for (int i = 0; i < 1200 && !b_committed; ++i) {
    auto tasks = Tasks(yaml);
    for (const auto& t : tasks) b_committed |= t["file"] == entries[1] && t["status"] == "COMPLETED";
    if (!b_committed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(b_committed) << ReadAll(dir + "/b.log");
  ::kill(a, SIGCONT);
  const int a_exit = WaitFor(a), b_exit = WaitFor(b);
  const std::string a_log = ReadAll(dir + "/a.log");
  ASSERT_EQ(a_exit, 0) << a_log;
  ASSERT_EQ(b_exit, 0) << ReadAll(dir + "/b.log");
  EXPECT_NE(a_log.find("committed by another writer since this one checked them"),
            std::string::npos)
      << a_log;

  auto tasks = Tasks(yaml);
  const Totals t = Sum(tasks);
  EXPECT_EQ(t.completed, 2u) << tasks.dump();
  EXPECT_EQ(t.written, want.written) << tasks.dump();
  EXPECT_EQ(t.errored, want.errored);
  for (const auto& row : tasks) {
    // A's object, read again after the refusal: every record was B's first.
    if (row["file"] == entries[0]) {
      EXPECT_EQ(row["written"], 0) << row.dump();
    }
  }
  Duck duck;
  EXPECT_EQ(LakeFingerprint(duck, dir), LakeFingerprint(duck, ref));
  auto check = Weir("lake check " + yaml);
  EXPECT_EQ(check.exit_code, 0) << check.out;
}

// The manifest is the list of work for workers too: `weir submit` after an entry was removed
// retires its task, and fences off the worker running it (stalled here with a commit staged),
// whose commit is then refused; the rows it committed before stay. When the entry is back its
// task resumes from its checkpoint, and in the end every record is in the lake once.
TEST(WorkerE2E, ResubmittingWithoutAManifestEntryRetiresItsTaskEvenWhileAWorkerRunsIt) {
  const std::string dir = TempDir("workers-retire");
  auto rep = Generate(dir, 6000, 3, 95);
  const std::string yaml = dir + "/dataset.yaml";
  WriteAll(yaml, ClickstreamYaml("  roll_records: 400\n"));
  const std::string manifest = ReadAll(dir + "/data/manifest.txt");
  std::vector<std::string> entries;
  {
    std::istringstream m(manifest);
    for (std::string line; std::getline(m, line);) {
      if (!line.empty() && line[0] != '#') entries.push_back(line);
    }
  }
  ASSERT_EQ(entries.size(), 3u);
  ASSERT_EQ(Json(Weir("submit " + yaml + " --json"))["tasks"], 3);
  const std::string store = dir + "/.weir/store.db";

  // A claims the first task and stalls with its second commit staged (one is in).
  pid_t a = StartWorker({"--store", store, "--until-done", "--threads", "1", "--lease", "120s"},
                        dir + "/a.log",
                        {"WEIR_PAUSE_AT=after-stage", "WEIR_CRASH_AFTER_COMMITS=1"});
  ASSERT_GT(a, 0);
  ASSERT_TRUE(WaitStopped(a)) << ReadAll(dir + "/a.log");
  // Its entry leaves the manifest; the resubmission retires the task under A.
  std::string without;
  {
    std::istringstream m(manifest);
    for (std::string line; std::getline(m, line);) {
      if (line != entries[0]) without += line + "\n";
    }
  }
  WriteAll(dir + "/data/manifest.txt", without);
  auto sub = Json(Weir("submit " + yaml + " --json"));
  EXPECT_EQ(sub["retired"], 1) << sub.dump();
  EXPECT_EQ(sub["new_tasks"], 0);
  auto held = Tasks(yaml);
  ASSERT_TRUE(held.is_array()) << held.dump();
  EXPECT_EQ(held[0]["status"], "RETIRED") << held.dump();
  const nlohmann::json& lease = held[0].at("lease");  // null: no holder recorded
  EXPECT_TRUE(lease.is_null() || lease.at("held") == false) << held.dump();
  const uint64_t committed_before = held[0]["written"].get<uint64_t>();
  EXPECT_GT(committed_before, 0u) << "A's first commit should be in";

  ::kill(a, SIGCONT);
  ASSERT_EQ(WaitFor(a), 0) << ReadAll(dir + "/a.log");
  const std::string a_log = ReadAll(dir + "/a.log");
  EXPECT_NE(a_log.find("was taken by another writer"), std::string::npos) << a_log;
  auto mid = Tasks(yaml);
  EXPECT_EQ(mid[0]["status"], "RETIRED") << mid.dump();
  EXPECT_EQ(mid[0]["written"].get<uint64_t>(), committed_before) << "the fenced commit got in";
  EXPECT_EQ(mid[1]["status"], "COMPLETED") << mid.dump();
  EXPECT_EQ(mid[2]["status"], "COMPLETED") << mid.dump();
  Duck duck;
  EXPECT_EQ(LakeFingerprint(duck, dir).first, std::to_string(Sum(mid).written));

  // The entry is back: its task resumes from its checkpoint.
  WriteAll(dir + "/data/manifest.txt", manifest);
  auto back = Json(Weir("submit " + yaml + " --json"));
  EXPECT_EQ(back["reinstated"], 1) << back.dump();
  EXPECT_EQ(back["retired"], 0);
  pid_t b = StartWorker({"--store", store, "--until-done", "--threads", "1"}, dir + "/b.log");
  ASSERT_GT(b, 0);
  ASSERT_EQ(WaitFor(b), 0) << ReadAll(dir + "/b.log");
  ExpectEveryRecordOnce(dir, yaml, rep, 3);
}

// `weir redrive` while workers run the dataset joins them: it puts the ERROR tasks back in the
// queue they claim from and claims with them, instead of waiting for the dataset to itself.
TEST(WorkerE2E, RedriveBesideRunningWorkersRequeuesTheErrorTasksAndJoinsThem) {
  const std::string dir = TempDir("workers-redrive");
  auto rep = Generate(dir, 6000, 3, 96);
  const std::string yaml = dir + "/dataset.yaml";
  std::string text = ClickstreamYaml("  roll_records: 400\n");
  text.replace(text.find("  workers: 2"), 12, "  workers: 1\n  retries: 0");
  WriteAll(yaml, text);
  ASSERT_EQ(Weir("submit " + yaml).exit_code, 0);
  const std::string store = dir + "/.weir/store.db";

  // A's first read fails (no retries: its task goes to ERROR), then A stalls with a commit of
  // its next task staged, holding the dataset as a running worker does.
  pid_t a = StartWorker({"--store", store, "--until-done", "--threads", "1", "--lease", "120s"},
                        dir + "/a.log", {"WEIR_INJECT_READ_ERRORS=1", "WEIR_PAUSE_AT=after-stage"});
  ASSERT_GT(a, 0);
  ASSERT_TRUE(WaitStopped(a)) << ReadAll(dir + "/a.log");
  auto mid = Tasks(yaml);
  ASSERT_TRUE(mid.is_array()) << mid.dump();
  ASSERT_EQ(mid[0]["status"], "ERROR") << mid.dump();
  ASSERT_EQ(mid[1]["status"], "RUNNING") << mid.dump();

  const pid_t r = SpawnLogged({WeirBin(), "redrive", yaml, "--no-progress"}, dir + "/redrive.log");
  ASSERT_GT(r, 0);
  bool ran = false;  // the redrive ran the ERROR task and the unclaimed one
  for (int i = 0; i < 1200 && !ran; ++i) {
    auto tasks = Tasks(yaml);
    ran = tasks.is_array() && tasks[0]["status"] == "COMPLETED" &&
          tasks[2]["status"] == "COMPLETED";
    if (!ran) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(ran) << ReadAll(dir + "/redrive.log");
  ::kill(a, SIGCONT);
  const int a_exit = WaitFor(a), r_exit = WaitFor(r);
  const std::string r_log = ReadAll(dir + "/redrive.log");
  EXPECT_EQ(a_exit, 0) << ReadAll(dir + "/a.log");
  EXPECT_EQ(r_exit, 0) << r_log;
  EXPECT_NE(r_log.find("this redrive joins them"), std::string::npos) << r_log;
  EXPECT_NE(r_log.find("1 ERROR task(s) requeued"), std::string::npos) << r_log;
  ExpectEveryRecordOnce(dir, yaml, rep, 3);
}

}  // namespace
}  // namespace weir::e2e
