// Stream datasets with the HTTP collector (read.connector http), end to end through the real
// binary: events POSTed to a running `weir run` land in the Iceberg table exactly once (checked
// with icebird, an independent Iceberg reader, and with DuckDB over the data files), malformed
// lines become error records, the collector's limits answer as documented, SIGTERM and
// --until-idle / --max-records stop after a commit with exit 0, and kill -9 while events arrive
// loses and duplicates nothing that was acknowledged.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "e2e_util.h"

namespace weir::e2e {
namespace {

// A `weir run` of a stream dataset in the background (stdout and stderr to a log file).
// Ownership: owns the child process; the destructor kills and reaps it.
class StreamProcess {
 public:
  ~StreamProcess() { Kill(SIGKILL); }

  // Starts `weir run <yaml> <args...>` and waits until the collector answers /healthz.
  bool Start(const std::string& yaml, int port, const std::vector<std::string>& args,
             const std::string& log_path) {
    port_ = port;
    std::vector<std::string> argv = {WeirBin(), "run", yaml, "--no-progress"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = SpawnLogged(argv, log_path, /*append=*/true);
    if (pid_ <= 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline && Running()) {
      httplib::Client probe("127.0.0.1", port_);
      probe.set_connection_timeout(1);
      if (auto r = probe.Get("/healthz"); r && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Waits up to `seconds` for the exit: its status, or -1 if it is still running.
  int Wait(double seconds) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  void Kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    if (sig == SIGKILL) {
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  pid_t pid_ = -1;
  int port_ = 0;
};

std::string DatasetYaml(int port, const std::string& extra_read, const std::string& stream) {
  return "name: clicks\n"
         "read:\n"
         "  connector: http\n"
         "  listen: 127.0.0.1:" + std::to_string(port) + "\n"
         "  parser: jsonl\n" + extra_read +
         "write:\n"
         "  connector: lake\n"
         "  location: lake\n"
         "  table: events\n"
         "  partition_by: [dt]\n"
         "  columns:\n"
         "    id: {path: /id, type: string, required: true}\n"
         "    ts: {path: /ts, type: timestamp_ms, required: true}\n"
         "    dt: {date_of: ts}\n"
         "stream:\n" + stream;
}

std::string Event(const std::string& id, int64_t ts) {
  return "{\"id\":\"" + id + "\",\"ts\":" + std::to_string(ts) + "}";
}

// The table's row count through `weir query` ("" when the query fails), with a newline.
std::string Count(const std::string& yaml) {
  const std::string out =
      Weir("query " + yaml + " \"SELECT count(*) AS n FROM events\" --format csv 2>/dev/null").out;
  return out.rfind("n\n", 0) == 0 ? out.substr(2) : "";
}

TEST(StreamE2E, PostedEventsLandInTheLakeAndMalformedLinesBecomeErrorRecords) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("stream-basic");
  const int port = FreeLoopbackPort();
  const int metrics_port = FreeLoopbackPort();
  const std::string yaml = dir + "/ds.yaml";
  WriteAll(yaml, DatasetYaml(port, "", "  commit_interval: 200ms\n  metrics_listen: 127.0.0.1:" +
                                           std::to_string(metrics_port) + "\n"));
  StreamProcess run;
  ASSERT_TRUE(run.Start(yaml, port, {}, dir + "/run.log")) << ReadAll(dir + "/run.log");
  httplib::Client c("127.0.0.1", port);

  std::string body;
  for (int i = 0; i < 100; ++i) body += Event("l" + std::to_string(i), 1764000000000 + i * 3600000) + "\n";
  const size_t bad_offset = body.size();
  body += "{\"id\": oops}\n";
  auto r = c.Post("/v1/events", body, "application/x-ndjson");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto answer = nlohmann::json::parse(r->body);
  EXPECT_EQ(answer["accepted"], 100);
  ASSERT_EQ(answer["errors"].size(), 1u);
  EXPECT_EQ(answer["errors"][0]["line"], 101);

  std::string array = "[";
  for (int i = 0; i < 50; ++i) array += (i ? "," : "") + Event("a" + std::to_string(i), 1764000000000);
  array += "]";
  r = c.Post("/v1/events", array, "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(nlohmann::json::parse(r->body)["accepted"], 50);

  // Visible while the stream runs (commit_interval 200ms; polled, not timed).
  std::string count;
  for (int i = 0; i < 300 && count != "150\n"; ++i) {
    count = Count(yaml);
    if (count != "150\n") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(count, "150\n");

  // GET /metrics: the same figures in the Prometheus text format.
  httplib::Client mc("127.0.0.1", metrics_port);
  auto metrics = mc.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  const std::string& text = metrics->body;
  EXPECT_NE(text.find("weir_records_total{dataset=\"clicks\",outcome=\"written\"} 150\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("weir_records_total{dataset=\"clicks\",outcome=\"errored\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("weir_collector_records_total{dataset=\"clicks\",kind=\"valid\"} 150\n"),
            std::string::npos);
  EXPECT_NE(text.find("weir_end_to_end_latency_seconds_count{dataset=\"clicks\"} 150\n"),
            std::string::npos);
  EXPECT_NE(text.find("weir_stream_lag_bytes{dataset=\"clicks\",partition=\"collector\"} 0\n"),
            std::string::npos);

  run.Kill(SIGTERM);
  EXPECT_EQ(run.Wait(30), 0) << ReadAll(dir + "/run.log");

  auto tasks = nlohmann::json::parse(Weir("tasks " + yaml + " --json").out);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0]["file"], "collector");
  EXPECT_EQ(tasks[0]["status"], "INTERRUPTED");
  EXPECT_EQ(tasks[0]["read"], 151);
  EXPECT_EQ(tasks[0]["written"], 150);
  EXPECT_EQ(tasks[0]["errored"], 1);

  // The error record names the collector and the bytes of the bad line in the log.
  CmdResult errors = Weir("errors " + yaml + " --json");
  ASSERT_EQ(errors.exit_code, 0);
  auto e = nlohmann::json::parse(errors.out.substr(0, errors.out.find('\n')));
  EXPECT_EQ(e["file"], "collector");
  EXPECT_EQ(e["start_offset"], bad_offset);
  EXPECT_EQ(e["end_offset"], body.size() - 1);  // the line, without its newline (as for files)
  EXPECT_EQ(e["record_number"], 100);

  std::vector<std::string> want;
  for (int i = 0; i < 100; ++i) want.push_back("l" + std::to_string(i));
  for (int i = 0; i < 50; ++i) want.push_back("a" + std::to_string(i));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(IcebirdIds(dir), want);
  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) || '/' || count(DISTINCT id) FROM read_parquet('" + dir +
                     "/lake/events/data/**/*.parquet')"),
            "150/150");
}

TEST(StreamE2E, TokenBodyAndBacklogLimitsAnswerAsDocumentedAndLoseNothingAccepted) {
  const std::string dir = TempDir("stream-limits");
  const int port = FreeLoopbackPort();
  const std::string yaml = dir + "/ds.yaml";
  // The commit interval is long, so the backlog (accepted, not committed) only grows.
  WriteAll(yaml, DatasetYaml(port, "  token: t0ken\n  max_body_mb: 1\n  max_backlog_mb: 1\n",
                             "  commit_interval: 1h\n"));
  StreamProcess run;
  ASSERT_TRUE(run.Start(yaml, port, {}, dir + "/run.log")) << ReadAll(dir + "/run.log");
  httplib::Client c("127.0.0.1", port);
  const httplib::Headers auth = {{"Authorization", "Bearer t0ken"}};
  const std::string one = Event("x", 1764000000000) + "\n";

  auto r = c.Post("/v1/events", one, "application/x-ndjson");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = c.Post("/v1/events", {{"Authorization", "Bearer nope"}}, one, "application/x-ndjson");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = c.Post("/v1/events", auth, "not json at all\n", "application/x-ndjson");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("line 1"), std::string::npos) << r->body;
  r = c.Post("/v1/events", auth, std::string((1 << 20) + 10, ' '), "application/x-ndjson");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);

  // About 200 KiB a request: the backlog passes 1 MiB after a few, then 429 with Retry-After.
  uint64_t accepted = 0;
  int throttled = 0;
  for (int req = 0; req < 20 && throttled == 0; ++req) {
    std::string body;
    for (int i = 0; i < 4000; ++i) {
      body += Event("r" + std::to_string(req) + "-" + std::to_string(i), 1764000000000) + "\n";
    }
    r = c.Post("/v1/events", auth, body, "application/x-ndjson");
    ASSERT_TRUE(r);
    if (r->status == 429) {
      ++throttled;
      EXPECT_EQ(r->get_header_value("Retry-After"), "1");
    } else {
      ASSERT_EQ(r->status, 200) << r->body;
      accepted += nlohmann::json::parse(r->body)["accepted"].get<uint64_t>();
    }
  }
  EXPECT_EQ(throttled, 1);
  EXPECT_GE(accepted, 20000u);

  // SIGTERM commits what the run holds; a second run reads what is left in the log.
  run.Kill(SIGTERM);
  EXPECT_EQ(run.Wait(60), 0) << ReadAll(dir + "/run.log");
  CmdResult again = Weir("run " + yaml + " --until-idle 500ms --no-progress");
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(Count(yaml), std::to_string(accepted) + "\n");
}

TEST(StreamE2E, MaxRecordsStopsAfterThatManyAndTheNextRunGoesOnFromThere) {
  const std::string dir = TempDir("stream-max");
  const int port = FreeLoopbackPort();
  const std::string yaml = dir + "/ds.yaml";
  WriteAll(yaml, DatasetYaml(port, "", "  commit_interval: 100ms\n"));
  StreamProcess run;
  // The collector answers before the reader reaches 10 records: all 30 are durable, 10 read.
  ASSERT_TRUE(run.Start(yaml, port, {"--max-records", "10"}, dir + "/run.log"));
  std::string body;
  for (int i = 0; i < 30; ++i) body += Event("m" + std::to_string(i), 1764000000000) + "\n";
  httplib::Client c("127.0.0.1", port);
  auto r = c.Post("/v1/events", body, "application/x-ndjson");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(run.Wait(30), 0) << ReadAll(dir + "/run.log");
  EXPECT_EQ(Count(yaml), "10\n");
  CmdResult rest = Weir("run " + yaml + " --until-idle 300ms --no-progress --json");
  ASSERT_EQ(rest.exit_code, 0) << rest.out;
  auto j = nlohmann::json::parse(rest.out);
  EXPECT_EQ(j["run"]["read"], 20);
  EXPECT_EQ(j["stream"], true);
  EXPECT_NE(j["stopped"].get<std::string>().find("--until-idle"), std::string::npos);
  EXPECT_EQ(Count(yaml), "30\n");
}

// Commands that know files datasets say what a stream is instead: validate names the source
// (no manifest), redrive is refused with what to do.
TEST(StreamE2E, ValidateNamesTheSourceAndRedriveIsRefused) {
  const std::string dir = TempDir("stream-cmds");
  const std::string yaml = dir + "/ds.yaml";
  WriteAll(yaml, DatasetYaml(18099, "  token: t\n", "  commit_interval: 1s\n"));
  CmdResult v = Weir("validate " + yaml);
  EXPECT_EQ(v.exit_code, 0) << v.out;
  EXPECT_NE(v.out.find("source: HTTP collector on 127.0.0.1:18099, POST /v1/events (bearer token)"),
            std::string::npos) << v.out;
  EXPECT_NE(v.out.find("is valid"), std::string::npos);
  CmdResult r = Weir("redrive " + yaml + " 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("is a stream (read.connector http): `weir run"), std::string::npos) << r.out;
}

// write.compaction.auto on a stream: while the run goes on committing every 100 ms, partitions
// that gathered min_files small files are compacted in the background into a `replace` snapshot,
// and the table keeps every row once.
TEST(StreamE2E, AutoCompactionRunsWhileTheStreamCommits) {
  const std::string dir = TempDir("stream-compact");
  const int port = FreeLoopbackPort();
  const std::string yaml = dir + "/ds.yaml";
  std::string text = DatasetYaml(port, "", "  commit_interval: 100ms\n");
  const std::string at = "  partition_by: [dt]\n";
  text.replace(text.find(at), at.size(),
               at + "  compaction: {auto: true, min_files: 3, interval: 500ms}\n");
  WriteAll(yaml, text);
  StreamProcess run;
  ASSERT_TRUE(run.Start(yaml, port, {}, dir + "/run.log")) << ReadAll(dir + "/run.log");
  httplib::Client c("127.0.0.1", port);
  // One partition, one small file per commit: keep posting until a compaction has replaced some.
  int posted = 0;
  bool compacted = false;
  for (int round = 0; round < 100 && !compacted; ++round) {
    std::string body;
    for (int i = 0; i < 20; ++i) body += Event("c" + std::to_string(posted++), 1764000000000) + "\n";
    auto r = c.Post("/v1/events", body, "application/x-ndjson");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    CmdResult snaps = Weir("lake snapshots " + yaml + " --json 2>/dev/null");
    if (snaps.exit_code != 0) continue;
    const auto list = nlohmann::json::parse(snaps.out);  // named: the loop borrows from it
    for (const auto& sn : list["snapshots"]) compacted |= sn["operation"] == "replace";
  }
  EXPECT_TRUE(compacted) << "no replace snapshot while the stream ran; log:\n" << ReadAll(dir + "/run.log");
  run.Kill(SIGTERM);
  EXPECT_EQ(run.Wait(30), 0) << ReadAll(dir + "/run.log");
  EXPECT_EQ(Count(yaml), std::to_string(posted) + "\n");
  // The current snapshot holds fewer files than the appends added.
  auto snaps = nlohmann::json::parse(Weir("lake snapshots " + yaml + " --json").out);
  uint64_t appended = 0, live = 0;
  for (const auto& sn : snaps["snapshots"]) {
    if (sn["operation"] == "append") appended += sn["added_files"].get<uint64_t>();
    if (sn["current"] == true) live = sn["total_files"].get<uint64_t>();
  }
  EXPECT_LT(live, appended);
  EXPECT_EQ(nlohmann::json::parse(Weir("tasks " + yaml + " --json").out)[0]["written"], posted);
}

// kill -9 at random moments while a client posts numbered events: after a final run, the lake
// holds every acknowledged event exactly once, and nothing that was never sent.
TEST(StreamE2E, KillNineWhileCollectingLosesAndDuplicatesNothingAcknowledged) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("stream-kill");
  const int port = FreeLoopbackPort();
  const std::string yaml = dir + "/ds.yaml";
  WriteAll(yaml, DatasetYaml(port, "", "  commit_interval: 100ms\n"));
  std::set<std::string> acked, sent;
  std::mt19937 rng(12345);
  int next = 0;
  for (int round = 0; round < 4; ++round) {
    StreamProcess run;
    ASSERT_TRUE(run.Start(yaml, port, {}, dir + "/run.log")) << ReadAll(dir + "/run.log");
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::thread poster([&] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(5, 0);
      while (!stop) {
        std::vector<std::string> ids;
        std::string body;
        for (int i = 0; i < 200; ++i) {
          ids.push_back("k" + std::to_string(next++));
          body += Event(ids.back(), 1764000000000 + (next % 97) * 86400000LL) + "\n";
        }
        {
          std::lock_guard<std::mutex> l(mu);
          sent.insert(ids.begin(), ids.end());
        }
        auto r = c.Post("/v1/events", body, "application/x-ndjson");
        if (!r) break;  // killed mid-request: not acknowledged, maybe stored
        if (r->status == 200) {
          std::lock_guard<std::mutex> l(mu);
          acked.insert(ids.begin(), ids.end());
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 900));
    run.Kill(SIGKILL);
    stop = true;
    poster.join();
  }
  ASSERT_GT(acked.size(), 1000u);
  CmdResult last = Weir("run " + yaml + " --until-idle 500ms --no-progress --json");
  ASSERT_EQ(last.exit_code, 0) << last.out;

  const std::vector<std::string> lake = IcebirdIds(dir);
  const std::set<std::string> distinct(lake.begin(), lake.end());
  EXPECT_EQ(distinct.size(), lake.size()) << "duplicates in the lake";
  for (const auto& id : acked) {
    if (!distinct.count(id)) {
      ADD_FAILURE() << "acknowledged event " << id << " is not in the lake";
      break;
    }
  }
  for (const auto& id : distinct) {
    if (!sent.count(id)) {
      ADD_FAILURE() << id << " in the lake was never sent";
      break;
    }
  }
  auto tasks = nlohmann::json::parse(Weir("tasks " + yaml + " --json").out);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0]["written"].get<uint64_t>(), lake.size());
  EXPECT_EQ(tasks[0]["read"].get<uint64_t>(), lake.size());
}

// A collector log holding `n` events nobody committed, as after an outage of the reader: a run
// with a 1h commit_interval accepts them, then is killed (-9) before it commits any. The events'
// days spread over 100 `dt` partitions, so each commit writes up to 100 files. Their ids go to
// `want`.
void FillUncommittedLog(const std::string& dir, const std::string& yaml, int n,
                        std::vector<std::string>& want) {
  const int port = FreeLoopbackPort();
  WriteAll(yaml, DatasetYaml(port, "", "  commit_interval: 1h\n"));
  StreamProcess run;
  ASSERT_TRUE(run.Start(yaml, port, {}, dir + "/fill.log")) << ReadAll(dir + "/fill.log");
  httplib::Client c("127.0.0.1", port);
  for (int b = 0; b * 5000 < n; ++b) {
    std::string body;
    for (int i = b * 5000; i < std::min(n, (b + 1) * 5000); ++i) {
      want.push_back("b" + std::to_string(i));
      body += Event(want.back(), 1764000000000 - (i % 100) * 86400000LL) + "\n";
    }
    auto r = c.Post("/v1/events", body, "application/x-ndjson");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  run.Kill(SIGKILL);
  ASSERT_TRUE(LakeSnapshots(yaml).empty());
}

// Starts `run` on the dataset at `yaml` with the given stream settings and waits until the
// current snapshot holds `backlog` records; returns how long that took from the start of the
// process (ms), -1 on timeout.
double RunUntilVisible(StreamProcess& run, const std::string& dir, const std::string& yaml,
                       const std::string& stream, uint64_t backlog) {
  const int port = FreeLoopbackPort();
  WriteAll(yaml, DatasetYaml(port, "", stream));
  const auto t0 = std::chrono::steady_clock::now();  // the reader starts before /healthz answers
  if (!run.Start(yaml, port, {}, dir + "/run.log")) return -1;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) {
    if (CurrentRecords(LakeSnapshots(yaml)) >= backlog) {
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
          .count();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

// A backlog in the collector's log is read in a few large commits (stream.catch_up_interval),
// not one commit per commit_interval, every event exactly once; once caught up, a posted event
// is visible within about commit_interval again. The control, with catching up turned off
// (catch_up_interval = commit_interval), commits the same backlog by the clock.
TEST(StreamE2E, ABacklogIsReadInFewCommitsThenPostedEventsAreVisibleWithinTheInterval) {
  if (!HaveIcebird()) FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  constexpr int kBacklog = 500000;  // ~35 MB of log
  constexpr double kIntervalMs = 20;
  const std::string dir = TempDir("stream-catchup");
  std::filesystem::create_directories(dir + "/control");
  std::filesystem::create_directories(dir + "/main");

  std::vector<std::string> control_ids;
  FillUncommittedLog(dir + "/control", dir + "/control/ds.yaml", kBacklog, control_ids);
  size_t control_commits = 0;
  {
    StreamProcess control;
    ASSERT_GT(RunUntilVisible(control, dir + "/control", dir + "/control/ds.yaml",
                              "  commit_interval: 20ms\n  catch_up_interval: 20ms\n", kBacklog),
              0)
        << ReadAll(dir + "/control/run.log");
    control_commits = LakeSnapshots(dir + "/control/ds.yaml").size();
  }

  std::vector<std::string> want;
  const std::string yaml = dir + "/main/ds.yaml";
  FillUncommittedLog(dir + "/main", yaml, kBacklog, want);
  StreamProcess run;
  const double consumed_ms = RunUntilVisible(
      run, dir + "/main", yaml, "  commit_interval: 20ms\n  catch_up_interval: 1h\n", kBacklog);
  ASSERT_GT(consumed_ms, 0) << ReadAll(dir + "/main/run.log");
  const size_t commits = LakeSnapshots(yaml).size();
  // By the clock, reading for consumed_ms would have made one commit per interval (the control
  // shows it does); catching up makes a few, sized by the data.
  RecordProperty("commits", static_cast<int>(commits));
  RecordProperty("control_commits", static_cast<int>(control_commits));
  RecordProperty("consumed_ms", static_cast<int>(consumed_ms));
  EXPECT_LE(commits, 3u) << "consumed in " << consumed_ms << " ms";
  EXPECT_GE(consumed_ms / kIntervalMs, 4.0 * static_cast<double>(commits))
      << commits << " commits in " << consumed_ms << " ms";
  EXPECT_GT(control_commits, 2 * commits)
      << "the control committed by the clock: " << control_commits << " commits, catching up "
      << commits;

  // Caught up: a posted event is in a snapshot within about commit_interval (generous margin
  // for this shared machine; a stream wrongly still catching up would take the 1h interval).
  const int port = std::stoi(ReadAll(yaml).substr(ReadAll(yaml).find("127.0.0.1:") + 10));
  httplib::Client c("127.0.0.1", port);
  for (int round = 0; round < 5; ++round) {
    std::string body;
    for (int i = 0; i < 10; ++i) {
      want.push_back("live" + std::to_string(round) + "-" + std::to_string(i));
      body += Event(want.back(), 1764000000000) + "\n";
    }
    auto r = c.Post("/v1/events", body, "application/x-ndjson");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    const auto acked = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - acked < std::chrono::seconds(30) &&
           CurrentRecords(LakeSnapshots(yaml)) < want.size()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const double visible_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - acked)
            .count();
    EXPECT_LT(visible_ms, kIntervalMs + 5000) << "round " << round;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  run.Kill(SIGTERM);
  EXPECT_EQ(run.Wait(60), 0) << ReadAll(dir + "/main/run.log");
  std::sort(want.begin(), want.end());
  EXPECT_EQ(IcebirdIds(dir + "/main"), want);
}

}  // namespace
}  // namespace weir::e2e
