// The fleet under fire: three `weir worker` processes share a PostgreSQL store and run a dataset
// whose inputs, Iceberg table and error records are on s3rver, reached through a FaultProxy that
// fails a share of the requests (503 SlowDown, 500, connection resets). Meanwhile the test
// kill -9s random workers (and starts them again), stops one with SIGSTOP past its lease and
// lets it go on after, restarts PostgreSQL, and cuts S3 off for 10 s. At the end every task is
// COMPLETED, and an independent reader (icebird, following the catalog's metadata on s3rver)
// finds every valid record exactly once; the error records are exactly the generator's
// malformed lines, at their offsets.
//
// The short form runs in `make test`. The long form, as the issue asks (2,000 files, 20+ kills):
//   export WEIR_CHAOS_FILES=2000 WEIR_CHAOS_EVENTS=60 WEIR_CHAOS_KILLS=25 WEIR_CHAOS_SECONDS=1800
// (WEIR_CHAOS_SECONDS, default 600, is how long the workers may take; 2,000 objects of 600
// events took longer than 600 s on the 2-core VM under this much chaos, about 1.3 objects/s.)
//   build/e2e_tests --gtest_filter='FleetChaos*'
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <utime.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../common/fault_proxy.h"
#include "../common/postgres.h"
#include "../common/process_util.h"
#include "../common/s3rver.h"
#include "clickstream_util.h"
#include "e2e_util.h"
#include "s3_util.h"

namespace weir::e2e {
namespace {

constexpr char kBucket[] = "weir-chaos";

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// One worker slot: the process running in it now, and how it ended.
struct Slot {
  pid_t pid = -1;
  bool done = false;     // exited 0 (--until-done: nothing left anywhere)
  bool paused = false;   // SIGSTOPped by the test
  int failures = 0;      // exits other than 0 and our SIGKILL
  std::string log;
};

TEST(FleetChaosE2E, KillsAPauseAPostgresRestartAndAnS3OutageLoseAndDuplicateNothing) {
  if (!HaveBoto3()) FAIL() << "python3-boto3 is missing: run scripts/install-deps.sh";
  if (!HaveIcebird()) FAIL() << "icebird is missing: run scripts/install-deps.sh";
  std::string why;
  PostgresServer* pg = SharedPostgres(&why);
  if (pg == nullptr && PostgresServer::BinDir().empty()) GTEST_SKIP() << why;
  ASSERT_NE(pg, nullptr) << "PostgreSQL is installed but did not start: " << why;
  const std::string url = pg->CreateDatabase("e2e_chaos");
  ASSERT_FALSE(url.empty()) << pg->why();

  const int files = EnvInt("WEIR_CHAOS_FILES", 120);
  const int kills_wanted = EnvInt("WEIR_CHAOS_KILLS", 6);
  const int events_per_file = EnvInt("WEIR_CHAOS_EVENTS", 60);  // enough work to outlast the kills
  const std::string dir = TempDir("fleet-chaos");
  S3rver s3;
  ASSERT_TRUE(s3.Start(dir + "/s3", kBucket)) << "s3rver did not start (run scripts/install-deps.sh)";
  auto rep = Generate(dir, static_cast<uint64_t>(files) * events_per_file, files, 2026);
  ASSERT_EQ(UploadDir(s3.endpoint(), kBucket, dir + "/data", "raw/"), "");

  // weir reaches S3 only through the proxy: 2% of its requests fail, and all of them while S3
  // is "down". The test's own reads go to s3rver directly.
  std::mutex rng_mu;
  std::mt19937 rng(7);
  std::atomic<bool> s3_down{false};
  FaultProxy proxy(s3.port(), [&](const std::string&) {
    if (s3_down) return Fault::kReset;
    std::lock_guard<std::mutex> l(rng_mu);
    const int roll = static_cast<int>(rng() % 1000);
    if (roll < 7) return Fault::kSlowDown;
    if (roll < 14) return Fault::kInternal;
    if (roll < 20) return Fault::kReset;
    return Fault::kNone;
  });

  std::string yaml = ClickstreamYaml("  roll_records: 400\n",
                                     "store: " + url + "\nstorage:\n  endpoint: " +
                                         proxy.endpoint() + "\n");
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = yaml.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    yaml.replace(at, from.size(), to);
  };
  const std::string s3_root = "s3://" + std::string(kBucket);
  replace("  location: data\n", "  location: " + s3_root + "/raw\n");
  replace("  manifest: data/manifest.txt\n",
          "  manifest: {list: '" + s3_root + "/raw/', glob: '*.jsonl'}\n");
  replace("  location: lake\n", "  location: " + s3_root + "/lake\n");
  replace("  location: errors\n", "  location: " + s3_root + "/errors\n");
  replace("  workers: 2\n", "  workers: 1\n");
  const std::string yaml_path = dir + "/dataset.yaml";
  WriteAll(yaml_path, yaml);
  const std::string env = S3rver::CredentialsEnv();
  auto sub = Weir("submit " + yaml_path + " --json", env);
  ASSERT_EQ(sub.exit_code, 0) << sub.out;

  std::vector<Slot> slots(3);
  auto start = [&](size_t i) {
    slots[i].log = dir + "/worker" + std::to_string(i) + ".log";
    slots[i].pid = SpawnLogged({"env", "AWS_ACCESS_KEY_ID=S3RVER", "AWS_SECRET_ACCESS_KEY=S3RVER",
                                WeirBin(), "worker", "--store", url, "--until-done", "--threads",
                                "1", "--lease", "3s"},
                               slots[i].log, /*append=*/true);
    slots[i].paused = false;
  };
  for (size_t i = 0; i < slots.size(); ++i) start(i);

  std::mt19937 pick(11);
  int kills = 0;
  bool paused_once = false, pg_restarted = false, s3_cut = false;
  std::thread s3_back;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  std::chrono::steady_clock::time_point resume_at{};
  size_t paused_slot = 0;
  const double limit_s = EnvInt("WEIR_CHAOS_SECONDS", 600);
  while (elapsed() < limit_s) {
    // Reap: a worker that exits 0 is done (nothing left anywhere); any other exit is a defect,
    // counted, and its slot starts again so the run can finish.
    bool all_done = true;
    for (size_t i = 0; i < slots.size(); ++i) {
      Slot& s = slots[i];
      if (s.done) continue;
      int st = 0;
      if (::waitpid(s.pid, &st, WNOHANG) == s.pid) {
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
          s.done = true;
          continue;
        }
        ++s.failures;
        start(i);
      }
      all_done = false;
    }
    if (all_done) break;
    if (slots[paused_slot].paused && std::chrono::steady_clock::now() >= resume_at) {
      ::kill(slots[paused_slot].pid, SIGCONT);
      slots[paused_slot].paused = false;
    }
    if (kills < kills_wanted) {
      std::vector<size_t> live;
      for (size_t i = 0; i < slots.size(); ++i) {
        if (!slots[i].done && !slots[i].paused) live.push_back(i);
      }
      if (!live.empty()) {
        const size_t i = live[pick() % live.size()];
        ::kill(slots[i].pid, SIGKILL);
        ::waitpid(slots[i].pid, nullptr, 0);
        ++kills;
        start(i);
      }
      if (kills == 2 && !paused_once) {
        // Past its lease (3 s): its tasks are claimed by others; it wakes up 6 s later.
        for (size_t i = 0; i < slots.size(); ++i) {
          if (slots[i].done) continue;
          paused_slot = i;
          ::kill(slots[i].pid, SIGSTOP);
          slots[i].paused = true;
          resume_at = std::chrono::steady_clock::now() + std::chrono::seconds(6);
          paused_once = true;
          break;
        }
      }
      if (kills == 3 && !pg_restarted) {
        ASSERT_TRUE(pg->Restart()) << pg->why();
        pg_restarted = true;
      }
      if (kills == 4 && !s3_cut) {
        s3_down = true;
        s3_cut = true;
        s3_back = std::thread([&] {
          std::this_thread::sleep_for(std::chrono::seconds(10));
          s3_down = false;
        });
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  }
  if (s3_back.joinable()) s3_back.join();
  for (auto& s : slots) {
    if (!s.done) {
      ::kill(s.pid, SIGCONT);
      ::kill(s.pid, SIGKILL);
      ::waitpid(s.pid, nullptr, 0);
    }
  }
  std::string logs;
  for (const auto& s : slots) logs += "---- " + s.log + "\n" + ReadAll(s.log).substr(0, 6000);
  std::printf("chaos: %d kills, pause %s, PostgreSQL restart %s, S3 cut %s, %d SlowDown / %d "
              "500 / %d resets injected, %d requests the proxy could not forward, %.1f s\n",
              kills, paused_once ? "yes" : "no", pg_restarted ? "yes" : "no", s3_cut ? "yes" : "no",
              proxy.injected(Fault::kSlowDown), proxy.injected(Fault::kInternal),
              proxy.injected(Fault::kReset), proxy.forward_failures(), elapsed());
  for (const auto& s : slots) {
    EXPECT_TRUE(s.done) << "a worker did not finish\n" << logs;
    EXPECT_EQ(s.failures, 0) << "a worker exited with an error\n" << logs;
  }
  EXPECT_EQ(kills, kills_wanted) << "the run ended before the chaos did: use more files";
  EXPECT_TRUE(paused_once && pg_restarted && s3_cut);

  // Every task COMPLETED, and the counters are the answer key.
  auto tasks = nlohmann::json::parse(Weir("tasks " + yaml_path + " --json", env).out, nullptr, false);
  ASSERT_TRUE(tasks.is_array()) << logs;
  uint64_t written = 0, errored = 0, completed = 0;
  for (const auto& t : tasks) {
    written += t["written"].get<uint64_t>();
    errored += t["errored"].get<uint64_t>();
    completed += t["status"] == "COMPLETED";
  }
  EXPECT_EQ(completed, static_cast<uint64_t>(files)) << tasks.dump().substr(0, 4000);
  EXPECT_EQ(written, rep.totals.valid);
  EXPECT_EQ(errored, rep.totals.malformed);

  // The table as an independent reader sees it: icebird follows the metadata file the store's
  // catalog names, straight from s3rver (no proxy), and reads every data file it references.
  const std::string metadata =
      PgOne(url, "SELECT metadata_location FROM iceberg_tables WHERE table_name = 'events'");
  ASSERT_EQ(metadata.rfind(s3_root + "/lake/events/metadata/", 0), 0u) << metadata;
  CmdResult r = IcebirdRead(s3.endpoint() + "/" + kBucket + "/lake/events",
                            metadata.substr(metadata.rfind('/') + 1),
                            "https://" + std::string(kBucket) + ".s3.amazonaws.com=" +
                                s3.endpoint() + "/" + kBucket);
  ASSERT_EQ(r.exit_code, 0) << r.out.substr(0, 2000);
  auto rows = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(rows.is_array()) << r.out.substr(0, 2000);
  std::multiset<std::string> ids;
  for (const auto& row : rows) ids.insert(row["id"].get<std::string>());
  EXPECT_EQ(ids.size(), rep.totals.valid);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), rep.totals.unique);

  // Each malformed line is one error record, at its offset.
  const auto by_offset = ErrorsByOffset(yaml_path, env);
  EXPECT_EQ(by_offset.size(), rep.totals.malformed);
  for (const auto& f : rep.files) {
    for (const auto& m : f.malformed) {
      EXPECT_TRUE(by_offset.count({f.name, m.offset})) << f.name << " offset " << m.offset;
    }
  }
  // Every file the store says is committed is in the bucket. What killed and fenced attempts
  // uploaded is there too, as orphans no snapshot references; `weir lake expire` deletes them
  // once they are older than an hour (age them on s3rver's disk, as an hour passing would),
  // and the table reads the same after.
  auto check = Weir("lake check " + yaml_path + " --json", env);
  auto report = nlohmann::json::parse(check.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << check.out.substr(0, 2000);
  EXPECT_EQ(report["problems"].size(), 0u) << check.out.substr(0, 2000);
  EXPECT_GT(report["files_checked"].get<uint64_t>(), 0u);
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) - 7200;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir + "/s3/data")) {
    struct utimbuf times{t, t};
    ::utime(entry.path().c_str(), &times);
  }
  auto expire = Weir("lake expire " + yaml_path + " --older-than 1h --json", env);
  EXPECT_EQ(expire.exit_code, 0) << expire.out;
  auto check2 = Weir("lake check " + yaml_path, env);
  EXPECT_EQ(check2.exit_code, 0) << check2.out.substr(0, 3000);
  const std::string expired_metadata =
      PgOne(url, "SELECT metadata_location FROM iceberg_tables WHERE table_name = 'events'");
  CmdResult again = IcebirdRead(s3.endpoint() + "/" + kBucket + "/lake/events",
                                expired_metadata.substr(expired_metadata.rfind('/') + 1),
                                "https://" + std::string(kBucket) + ".s3.amazonaws.com=" +
                                        s3.endpoint() + "/" + kBucket);
  std::multiset<std::string> ids_after;
  auto rows_after = nlohmann::json::parse(again.out, nullptr, false);
  if (rows_after.is_array()) {
    for (const auto& row : rows_after) ids_after.insert(row["id"].get<std::string>());
  }
  EXPECT_EQ(ids_after, ids) << again.out.substr(0, 2000);
}

}  // namespace
}  // namespace weir::e2e
