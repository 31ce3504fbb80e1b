// End to end with `weir submit` and `weir worker` processes sharing a store: every submitted task
// runs once across workers; a killed worker's task waits for its lease to expire, then another
// worker claims it and resumes from its checkpoint; a worker paused past its lease (SIGSTOP) can
// never commit once it wakes up (fencing). The real binary, real processes, and for the fleet
// case a real PostgreSQL server of the test's own.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
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
  argv.push_back(WEIR_BIN);
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
  auto done = Tasks(yaml);
  const Totals t = Sum(done);
  EXPECT_EQ(t.completed, 4u) << done.dump();
  EXPECT_EQ(t.written, rep.totals.valid);
  EXPECT_EQ(t.errored, rep.totals.malformed);
  for (const auto& row : done) {
    if (row["id"] != held["id"]) continue;
    EXPECT_NE(row["lease"]["owner"], held["lease"]["owner"]) << row.dump();
    // Claimed by the store's clock no earlier than A's lease ran out.
    EXPECT_GE(row["lease"]["since_ms"].get<int64_t>(), held["lease"]["until_ms"].get<int64_t>())
        << "before: " << held.dump() << "\nafter: " << row.dump();
    EXPECT_GT(row["attempts"].get<int>(), held["attempts"].get<int>());
  }
  Duck duck;
  EXPECT_EQ(LakeFingerprint(duck, dir).first, std::to_string(rep.totals.valid));
  EXPECT_EQ(ErrorsByOffset(yaml).size(), rep.totals.malformed);
  auto check = Weir("lake check " + yaml);
  EXPECT_EQ(check.exit_code, 0) << check.out;
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

  const auto done = Tasks(yaml);
  EXPECT_EQ(Facts(done), Facts(after_b)) << "the woken worker changed tasks:\n" << a_log;
  const Totals t = Sum(done);
  EXPECT_EQ(t.completed, 2u) << done.dump();
  EXPECT_EQ(t.written, rep.totals.valid);
  EXPECT_EQ(t.errored, rep.totals.malformed);
  Duck duck;
  EXPECT_EQ(LakeFingerprint(duck, dir).first, std::to_string(rep.totals.valid));
  EXPECT_EQ(ErrorsByOffset(yaml).size(), rep.totals.malformed);
  auto check = Weir("lake check " + yaml);
  EXPECT_EQ(check.exit_code, 0) << check.out;
}

}  // namespace
}  // namespace weir::e2e
