// weir validate | run | redrive | tasks | errors | query: the dataset commands.
#include <unistd.h>

#include <csignal>
#include <map>
#include <optional>
#include <set>
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <functional>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/interrupt.h"
#include "core/store_url.h"
#include "core/text.h"
#include "exec/iceberg_table.h"
#include "exec/lake_check.h"
#include "exec/lake_history.h"
#include "exec/parser_source.h"
#include "exec/query.h"
#include "exec/reader_task.h"
#include "exec/runner.h"
#include "exec/rules_stage.h"
#include "exec/stream_metrics.h"
#include "exec/table_schema.h"
#include "io/fs.h"
#include "io/s3_client.h"
#include "server/collector.h"

namespace weir::cli {
namespace {

nlohmann::json TaskJson(const TaskRow& t) {
  nlohmann::json checkpoint = {{"offset", t.counters.offset}, {"record", t.counters.record_number}};
  if (!t.counters.state.empty()) {
    // Multi-record readers: per-file offsets and the previous record (exec/reader_task.h).
    nlohmann::json state = nlohmann::json::parse(t.counters.state, nullptr, false);
    if (!state.is_discarded()) checkpoint["state"] = state;
  }
  return {{"id", t.id},
          {"file", t.entry},
          {"path", t.path},
          {"status", TaskStatusName(t.status)},
          {"attempts", t.attempts},
          {"read", t.counters.read},
          {"written", t.counters.written},
          {"skipped", t.counters.skipped},
          {"duplicates", t.counters.duplicates},
          {"errored", t.counters.errored},
          {"bytes", t.counters.bytes},
          {"files", t.counters.files},
          {"checkpoint", checkpoint},
          {"commits", t.seq},
          {"duration_ms", t.duration_ms},
          {"reason", t.reason},
          // Who claimed it last (`weir worker`, `weir run`), since and until when (Unix ms,
          // the store's clock); `left_ms` <= 0 is an expired lease.
          {"lease", t.lease_owner.empty()
                        ? nlohmann::json(nullptr)
                        : nlohmann::json{{"owner", t.lease_owner},
                                         {"since_ms", t.leased_at_ms},
                                         {"until_ms", t.lease_until_ms},
                                         {"left_ms", t.lease_left_ms},
                                         {"held", t.status == TaskStatus::kRunning &&
                                                      t.lease_left_ms > 0}}}};
}

// The holder column of a RUNNING task: "worker (12s left)" or "worker (expired 3s ago)".
std::string LeaseText(const TaskRow& t) {
  if (t.status != TaskStatus::kRunning || t.lease_owner.empty()) return "";
  const double left = static_cast<double>(t.lease_left_ms) / 1000.0;
  return t.lease_owner + (left > 0 ? " (" + HumanDuration(left) + " left)"
                                   : " (expired " + HumanDuration(-left) + " ago)");
}

void PrintTaskTable(const std::vector<TaskRow>& tasks) {
  size_t wf = 4, ww = 0;
  bool dups = false;  // the duplicates column shows only where write.dedup dropped records
  for (const auto& t : tasks) {
    wf = std::max(wf, std::min<size_t>(t.entry.size(), 48));
    dups |= t.counters.duplicates > 0;
    ww = std::max(ww, LeaseText(t).size());  // the worker column shows while tasks run
  }
  if (ww > 0) ww = std::max<size_t>(ww, 6);
  std::printf("%4s  %-*s  %-11s  %11s  %11s  %9s  ", "id", static_cast<int>(wf), "file", "status",
              "read", "written", "skipped");
  if (dups) std::printf("%10s  ", "duplicates");
  std::printf("%9s  %10s  %8s  ", "errored", "bytes", "duration");
  if (ww > 0) std::printf("%-*s  ", static_cast<int>(ww), "worker");
  std::printf("%s\n", "reason");
  TaskCounters tot;
  for (const auto& t : tasks) {
    std::string f = t.entry.size() > wf ? "..." + t.entry.substr(t.entry.size() - wf + 3) : t.entry;
    std::printf("%4lld  %-*s  %-11s  %11s  %11s  %9s  ", static_cast<long long>(t.id),
                static_cast<int>(wf), f.c_str(), TaskStatusName(t.status),
                HumanCount(t.counters.read).c_str(), HumanCount(t.counters.written).c_str(),
                HumanCount(t.counters.skipped).c_str());
    if (dups) std::printf("%10s  ", HumanCount(t.counters.duplicates).c_str());
    std::printf("%9s  %10s  %8s  ", HumanCount(t.counters.errored).c_str(),
                HumanBytes(t.counters.bytes).c_str(),
                HumanDuration(t.duration_ms / 1000.0).c_str());
    if (ww > 0) std::printf("%-*s  ", static_cast<int>(ww), LeaseText(t).c_str());
    std::printf("%s\n", t.reason.c_str());
    tot.read += t.counters.read;
    tot.written += t.counters.written;
    tot.skipped += t.counters.skipped;
    tot.duplicates += t.counters.duplicates;
    tot.errored += t.counters.errored;
    tot.bytes += t.counters.bytes;
  }
  std::printf("%4s  %-*s  %-11s  %11s  %11s  %9s  ", "", static_cast<int>(wf), "total", "",
              HumanCount(tot.read).c_str(), HumanCount(tot.written).c_str(),
              HumanCount(tot.skipped).c_str());
  if (dups) std::printf("%10s  ", HumanCount(tot.duplicates).c_str());
  std::printf("%9s  %10s\n", HumanCount(tot.errored).c_str(), HumanBytes(tot.bytes).c_str());
}

// Redraws one status line on stderr while the run goes on.
class ProgressBar {
 public:
  explicit ProgressBar(const RunProgress& p) : p_(p), t0_(std::chrono::steady_clock::now()) {
    thread_ = std::thread([this] {
      while (!stop_) {
        Draw();
        for (int i = 0; i < 5 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      Draw();
      std::fprintf(stderr, "\n");
    });
  }
  ~ProgressBar() {
    stop_ = true;
    thread_.join();
  }

 private:
  void Draw() {
    // Until the runner has recovered and counted its tasks there is nothing to show.
    if (p_.tasks_total == 0) return;
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    uint64_t total = p_.raw_bytes_total, done = std::min<uint64_t>(p_.raw_bytes, total);
    double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 0;
    if (p_.tasks_total > 0 && p_.tasks_done == p_.tasks_total) frac = 1;
    int width = 28, fill = static_cast<int>(frac * width);
    std::string bar = std::string(fill, '#') + std::string(width - fill, '.');
    double rps = el > 0 ? p_.records / el : 0, mbps = el > 0 ? done / el / 1e6 : 0;
    std::string eta = frac > 0.01 && frac < 1 ? HumanDuration(el / frac - el) : "-";
    std::fprintf(stderr, "\r[%s] %3.0f%%  tasks %llu/%llu%s  %s rec/s  %.1f MB/s  ETA %s   ",
                 bar.c_str(), frac * 100, static_cast<unsigned long long>(p_.tasks_done.load()),
                 static_cast<unsigned long long>(p_.tasks_total.load()),
                 p_.tasks_failed ? (" (" + std::to_string(p_.tasks_failed.load()) + " failed)").c_str() : "",
                 HumanCount(static_cast<uint64_t>(rps)).c_str(), mbps, eta.c_str());
    std::fflush(stderr);
  }
  const RunProgress& p_;
  std::chrono::steady_clock::time_point t0_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The live line of a stream run on stderr: what is committed, the rate, the lag and how long ago
// the last commit was (the visibility bound a user watches).
class StreamStatusLine {
 public:
  StreamStatusLine(const RunProgress& p, const StreamMetrics& m) : p_(p), m_(m) {
    thread_ = std::thread([this] {
      auto prev_t = std::chrono::steady_clock::now();
      uint64_t prev_records = p_.records;
      double rate = 0;
      while (!stop_) {
        for (int i = 0; i < 5 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const auto now = std::chrono::steady_clock::now();
        const double dt = std::chrono::duration<double>(now - prev_t).count();
        const uint64_t records = p_.records;
        if (dt > 0) rate = 0.5 * rate + 0.5 * static_cast<double>(records - prev_records) / dt;
        prev_t = now;
        prev_records = records;
        Draw(rate);
      }
      std::fprintf(stderr, "\n");
    });
  }
  ~StreamStatusLine() {
    stop_ = true;
    thread_.join();
  }

 private:
  void Draw(double rate) {
    const int64_t last = m_.last_commit_unix_ms;
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    const std::string age = last == 0 ? "-" : HumanDuration(static_cast<double>(now_ms - last) / 1000.0);
    std::fprintf(stderr,
                 "\r%s: %s written, %s errored | %s rec/s | lag %s | last commit %s ago | %s "
                 "commits   ",
                 m_.dataset.c_str(), HumanCount(m_.written).c_str(), HumanCount(m_.errored).c_str(),
                 HumanCount(static_cast<uint64_t>(rate)).c_str(),
                 m_.source == "kafka" ? (HumanCount(m_.lag_messages) + " msgs").c_str()
                                      : HumanBytes(m_.lag_bytes).c_str(),
                 age.c_str(), HumanCount(m_.commits).c_str());
    std::fflush(stderr);
  }
  const RunProgress& p_;
  const StreamMetrics& m_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

const char* SignalName(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

int RunDataset(const std::string& file, RunOptions opts, bool json, bool no_progress) {
  auto ds = OpenDatasetOrReport(file);
  if (!ds.ok()) return ds.exit_code;
  auto& cfg = ds.config;
  auto& store = ds.store;
  Runner runner(*cfg, *store);
  if (!cfg->IsStream() && (opts.until_idle_ms > 0 || opts.max_records > 0)) {
    PrintError("--until-idle and --max-records are for stream datasets (read.connector http); a "
               "files dataset stops when its manifest's files are read");
    return kExitBadConfig;
  }
  StreamMetrics metrics;
  metrics.dataset = cfg->name;
  metrics.source = cfg->read.connector == "kafka" ? "kafka" : "collector";  // set before threads read it
  std::function<void()> stop_metrics;
  struct StopMetrics {
    std::function<void()>& stop;
    ~StopMetrics() {
      if (stop) stop();
    }
  } stop_metrics_at_exit{stop_metrics};
  if (cfg->IsStream()) {
    opts.stream_metrics = &metrics;
    AddRulesMetrics(*cfg, metrics);  // before the server below renders them
    if (!cfg->stream.metrics_listen.empty()) {
      auto started = server::StartMetricsServer(cfg->stream.metrics_listen, metrics);
      if (!started.ok()) {
        PrintError(started.status().message());
        return kExitFailed;
      }
      stop_metrics = std::move(started).value();
    }
  }
  if (cfg->read.connector == "http") {
    const DatasetConfig& c = *cfg;
    opts.start_collector = [&c, &metrics](SegmentLog& log) {
      return server::StartCollector(c, log, metrics);
    };
  }
  Result<RunSummary> res = Status::Internal("not run");
  // SIGINT/SIGTERM: workers stop taking records, commit what they hold, and leave their tasks
  // resumable (core/interrupt.h); a second signal ends the process at once.
  InstallStopHandlers();
  {
    std::unique_ptr<ProgressBar> bar;
    std::unique_ptr<StreamStatusLine> line;
    if (!json && !no_progress && ::isatty(2)) {
      if (cfg->IsStream()) {
        line = std::make_unique<StreamStatusLine>(runner.progress(), metrics);
      } else {
        bar = std::make_unique<ProgressBar>(runner.progress());
      }
    }
    res = runner.Run(opts);
  }
  if (!res.ok()) {
    PrintError(res.status().message());
    if (StopSignal() > 0) return 128 + StopSignal();
    return res.status().code() == StatusCode::kInvalidArgument ? kExitBadConfig : kExitFailed;
  }
  const RunSummary& s = *res;
  for (const auto& w : s.warnings) PrintWarning(w);
  std::map<std::string, size_t> by_status;
  for (const auto& t : s.tasks) by_status[TaskStatusName(t.status)]++;
  if (json) {
    nlohmann::json j;
    j["dataset"] = cfg->name;
    j["tasks_run"] = s.tasks_run;
    j["seconds"] = s.seconds;
    j["all_completed"] = s.all_completed;
    j["run"] = {{"read", s.read},         {"written", s.written},       {"skipped", s.skipped},
                {"duplicates", s.duplicates}, {"errored", s.errored}};
    uint64_t data_files = 0, most = 0;
    for (const auto& [p, n] : s.files_per_partition) {
      data_files += n;
      most = std::max(most, n);
    }
    j["files"] = {{"data_files", data_files},
                  {"partitions", s.files_per_partition.size()},
                  {"max_per_partition", most},
                  {"per_partition", s.files_per_partition}};
    j["status_counts"] = by_status;
    if (s.interrupted_by) j["interrupted_by"] = SignalName(s.interrupted_by);
    if (s.stream) {
      j["stream"] = true;
      if (!s.stopped.empty()) j["stopped"] = s.stopped;
    }
    j["warnings"] = s.warnings;
    if (s.rules) {
      j["rules"] = {{"events", s.rules_events},   {"late", s.rules_late},
                    {"derived", s.rules_derived}, {"keys", s.rules_keys},
                    {"state_bytes", s.rules_state_bytes}, {"waiting", s.rules_waiting},
                    {"table", cfg->rules->output.table}};
      if (cfg->rules->output.connector == "kafka") {
        j["rules"].erase("table");
        j["rules"]["topic"] = cfg->rules->output.topic;
      }
    }
    TaskCounters tot;
    j["tasks"] = nlohmann::json::array();
    for (const auto& t : s.tasks) {
      j["tasks"].push_back(TaskJson(t));
      tot.read += t.counters.read;
      tot.written += t.counters.written;
      tot.skipped += t.counters.skipped;
      tot.duplicates += t.counters.duplicates;
      tot.errored += t.counters.errored;
      tot.bytes += t.counters.bytes;
    }
    j["totals"] = {{"read", tot.read},       {"written", tot.written},
                   {"skipped", tot.skipped}, {"duplicates", tot.duplicates},
                   {"errored", tot.errored}, {"bytes", tot.bytes}};
    // Requests to object storage (attempts, retries included), when s3:// locations were used.
    if (auto client = s3::CreatedDefaultClient()) {
      const s3::Stats& st = client->stats();
      j["s3_requests"] = {{"get", st.get.load()},   {"put", st.put.load()},
                          {"post", st.post.load()}, {"head", st.head.load()},
                          {"list", st.list.load()}, {"delete", st.del.load()},
                          {"retries", st.retries.load()}};
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::string counts;
    for (const auto& [name, n] : by_status) {
      counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + name;
    }
    const size_t errors = by_status.count("ERROR") ? by_status["ERROR"] : 0;
    if (s.tasks_run == 0) {
      std::printf("dataset '%s': nothing to run (%zu task(s): %s)%s\n", cfg->name.c_str(),
                  s.tasks.size(), counts.c_str(),
                  errors ? "; see `weir tasks` for the ERROR reasons, fix the cause, then "
                           "`weir redrive` reruns them"
                         : "; --restart starts over, --rescan reads bytes appended to inputs");
    } else {
      PrintTaskTable(s.tasks);
      std::printf("\n%s: ran %llu task(s) in %s: %s records read, %s written, %s skipped, %s errored "
                  "(%s rec/s); tasks: %s\n",
                  cfg->name.c_str(), static_cast<unsigned long long>(s.tasks_run),
                  HumanDuration(s.seconds).c_str(), HumanCount(s.read).c_str(),
                  HumanCount(s.written).c_str(), HumanCount(s.skipped).c_str(),
                  HumanCount(s.errored).c_str(),
                  HumanCount(static_cast<uint64_t>(s.seconds > 0 ? s.read / s.seconds : 0)).c_str(),
                  counts.c_str());
      if (s.duplicates > 0) {
        std::printf("write.dedup: %s duplicate record(s) not written (counted in skipped)\n",
                    HumanCount(s.duplicates).c_str());
      }
      if (!s.files_per_partition.empty()) {
        uint64_t data_files = 0, most = 0;
        for (const auto& [p, n] : s.files_per_partition) {
          data_files += n;
          most = std::max(most, n);
        }
        std::printf("lake: %s data file(s) in %s partition(s), at most %s per partition\n",
                    HumanCount(data_files).c_str(),
                    HumanCount(s.files_per_partition.size()).c_str(), HumanCount(most).c_str());
      }
      if (s.rules) {
        const bool to_kafka = cfg->rules->output.connector == "kafka";
        std::printf("rules: %s record(s) processed, %s late (not used), %s derived record(s) "
                    "into %s %s; state before the end of the input: %s key(s), %s on disk%s\n",
                    HumanCount(s.rules_events).c_str(), HumanCount(s.rules_late).c_str(),
                    HumanCount(s.rules_derived).c_str(), to_kafka ? "Kafka topic" : "table",
                    (to_kafka ? cfg->rules->output.topic : cfg->rules->output.table).c_str(),
                    HumanCount(s.rules_keys).c_str(), HumanBytes(s.rules_state_bytes).c_str(),
                    s.rules_waiting ? "; waiting for an unfinished task (later files' records "
                                      "come after its)"
                                    : "");
      }
      if (s.stream) {
        std::printf("stream stopped (%s): what was read is committed; `weir run %s` goes on from "
                    "there\n",
                    s.interrupted_by ? SignalName(s.interrupted_by) : s.stopped.c_str(),
                    file.c_str());
      } else if (s.interrupted_by) {
        std::printf("interrupted by %s: what was read is committed; `weir run %s` resumes\n",
                    SignalName(s.interrupted_by), file.c_str());
      } else if (!s.all_completed) {
        std::printf("some tasks are not COMPLETED: see `weir tasks`, fix the cause, then `weir redrive`\n");
      }
    }
  }
  if (s.stream) {
    // A stream runs until stopped: a stop (signal, --until-idle, --max-records) after its
    // commit is success; a task in ERROR is not.
    for (const auto& t : s.tasks) {
      if (t.status == TaskStatus::kError) return kExitFailed;
    }
    return 0;
  }
  if (s.interrupted_by) return 128 + s.interrupted_by;
  // The store can say "all completed" over a lake that lost files since: say so (exec/lake_check.h).
  if (auto broken = CheckPublishedFiles(*cfg, *store); broken.ok() && !broken->empty()) {
    PrintError(BrokenFilesMessage(*cfg, "dataset '" + cfg->name + "'", *broken));
    return kExitFailed;
  }
  return s.all_completed ? 0 : kExitFailed;
}

}  // namespace

void AddValidateCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("validate", "Check a dataset file: keys, types, columns, manifest");
  auto file = std::make_shared<std::string>();
  cmd->add_option("FILE", *file, "dataset YAML file")->required();
  cmd->callback([file, &exit_code] {
    auto cfg = LoadConfigOrReport(*file);
    if (!cfg) {
      exit_code = kExitBadConfig;
      return;
    }
    // Every check runs and reports; "is valid" comes last and only when nothing failed.
    bool failed = false;
    auto fail = [&](const std::string& msg) {
      PrintError(msg);
      failed = true;
    };
    // Plugins load and check their options here too, so a bad plugin fails validation.
    std::unique_ptr<ParserSource> source;
    bool source_ok = true;
    if (ParserSource::UsesSdk(*cfg)) {
      auto s = ParserSource::Create(*cfg);
      if (!s.ok()) {
        fail(s.status().message());
        source_ok = false;
      } else {
        source = std::move(s).value();
        if (source->shape() != Shape::kParser) {
          std::printf("parser: %s (%s) with %zu %s\n", cfg->read.parser.c_str(),
                      ShapeName(source->shape()), source->types().size(),
                      source->shape() == Shape::kMultiFile ? "file types" : "record types");
        }
      }
    }
    // Without the reader the entries of a multi-file manifest cannot be told apart.
    const bool multi_file = source && source->shape() == Shape::kMultiFile;
    auto entries = cfg->IsStream()
                       ? Result<std::vector<std::pair<std::string, std::string>>>(
                             std::vector<std::pair<std::string, std::string>>{})
                       : ReadManifest(*cfg, multi_file ? &source->types() : nullptr);
    if (cfg->IsStream()) {
      // No manifest: say where records will come from.
      if (cfg->read.connector == "http") {
        std::printf("source: HTTP collector on %s, POST %s%s\n", cfg->read.listen.c_str(),
                    cfg->read.http_path.c_str(), cfg->read.token.empty() ? "" : " (bearer token)");
      } else {
        std::string topics;
        for (const auto& t : cfg->read.topics) topics += (topics.empty() ? "" : ", ") + t;
        std::printf("source: kafka %s, topics %s, group %s (start %s)\n", cfg->read.brokers.c_str(),
                    topics.c_str(), cfg->read.group.c_str(), cfg->read.start.c_str());
        if (source && source->shape() != Shape::kParser) {
          fail("read.parser: " + cfg->read.parser +
               " reads documents made of several records; a kafka source needs one record per message");
        }
      }
    } else if (!entries.ok()) {
      fail(entries.status().message());
    } else if (source_ok) {
      size_t missing = 0, unusable = 0;
      // s3:// inputs: one listing of the location's prefix answers for every entry (a HEAD per
      // entry would be thousands of requests for a big manifest).
      std::optional<std::set<std::string>> objects;
      std::optional<Status> listing_error;
      auto check_object = [&](const std::string& f) -> Status {
        if (!objects && !listing_error) {
          UseDatasetStorage(*cfg);
          auto loc = s3::ParseUrl(cfg->read.location);
          auto client = s3::DefaultClient();
          if (!loc.ok() || !client.ok()) {
            listing_error = !loc.ok() ? loc.status() : client.status();
          } else {
            std::string prefix = loc->key;
            if (!prefix.empty() && prefix.back() != '/') prefix += '/';
            auto listed = (*client)->List(loc->bucket, prefix);
            if (!listed.ok()) {
              listing_error = listed.status();
            } else {
              objects.emplace();
              for (const auto& o : *listed) objects->insert("s3://" + loc->bucket + "/" + o.key);
            }
          }
        }
        if (listing_error) return *listing_error;
        return objects->count(f) ? Status::OK() : Status::NotFound(f + ": no such object");
      };
      // A listing's entries were found by listing just now: checking them would list again.
      const bool listed = !cfg->read.manifest_list.empty();
      for (const auto& [e, p] : *entries) {
        if (listing_error || listed) break;  // said once / nothing to check
        std::vector<std::string> files{p};
        if (multi_file) {
          auto parts = MultiFileEntryPaths(*cfg, e, source->types());
          if (!parts.ok()) {
            if (unusable++ < 5) fail(parts.status().message());
            failed = true;
            continue;
          }
          files = *parts;
        }
        for (const auto& f : files) {
          // stat() gives the real reason; only ENOENT is "missing" (the file may arrive later,
          // so that alone is a warning). Anything else fails every run of the entry's task.
          const Status st = s3::IsS3Url(f) && s3::IsS3Url(cfg->read.location) ? check_object(f)
                                                                               : fs::CheckRegularFile(f);
          if (listing_error) {
            fail("read.location: " + cfg->read.location + ": " + listing_error->message());
            failed = true;
            break;
          }
          if (st.ok()) continue;
          if (st.code() == StatusCode::kNotFound) {
            if (missing++ < 5) {
              std::printf("warning: manifest entry '%s': %s does not exist (yet)\n", e.c_str(), f.c_str());
            }
          } else {
            if (unusable++ < 5) fail("manifest entry '" + e + "': " + st.message());
            failed = true;
          }
        }
      }
      std::string note;
      if (missing) note += ", " + std::to_string(missing) + " missing";
      if (unusable) note += ", " + std::to_string(unusable) + " unusable";
      std::printf("manifest: %zu file(s)%s\n", entries->size(), note.c_str());
    }
    if (failed) {
      exit_code = kExitBadConfig;
      return;
    }
    // A store that already holds the table: the config must still fit the files it committed.
    if (IsPostgresStoreUrl(cfg->store) || fs::Exists(cfg->store)) {
      if (auto store = OpenStoreOrReport(*cfg)) {
        if (Status st = CheckTableSchema(*cfg, *store); !st.ok()) {
          PrintError(*file + ": " + st.message());
          exit_code = kExitBadConfig;
          return;
        }
        // Another dataset of the store already has a table by this write.table.
        if (UsesIceberg(*cfg)) {
          if (auto row = DatasetIcebergRow(*cfg, *store); !row.ok()) {
            PrintError(*file + ": " + row.status().message());
            exit_code = kExitBadConfig;
            return;
          }
        }
      }
    }
    std::printf("%s: dataset '%s' is valid: %zu columns -> %s/%s (%s", file->c_str(),
                cfg->name.c_str(), cfg->write.columns.size(), cfg->write.location.c_str(),
                cfg->write.table.c_str(), cfg->write.format.c_str());
    if (!cfg->write.partition_by.empty()) {
      std::string p;
      for (const auto& c : cfg->write.partition_by) p += (p.empty() ? "" : ", ") + c;
      std::printf(", partitioned by %s", p.c_str());
    }
    std::printf(")\n");
    exit_code = 0;
  });
}

void AddRunCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("run", "Run every unfinished task of a dataset, resuming from checkpoints");
  struct Args {
    std::string file;
    int workers = 0;
    bool restart = false, rescan = false, json = false, no_progress = false;
    std::string until_idle;
    uint64_t max_records = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("FILE", a->file, "dataset YAML file")->required();
  cmd->add_option("--workers", a->workers, "worker threads (default: compute.workers)")->check(CLI::Range(1, 256));
  cmd->add_flag("--restart", a->restart, "forget all tasks and output of the dataset and start over");
  cmd->add_flag("--rescan", a->rescan,
                "also read bytes appended to the inputs of completed tasks since they were read");
  cmd->add_flag("--json", a->json, "print the result as JSON");
  cmd->add_flag("--no-progress", a->no_progress, "no progress bar");
  cmd->add_option("--until-idle", a->until_idle,
                  "stream datasets: stop (after committing) once no new data came for this long, "
                  "e.g. 5s (backfills, tests)");
  cmd->add_option("--max-records", a->max_records,
                  "stream datasets: stop (after committing) once this many records were read");
  cmd->callback([a, &exit_code] {
    RunOptions o;
    o.workers = a->workers;
    o.restart = a->restart;
    o.rescan = a->rescan;
    o.max_records = a->max_records;
    if (!a->until_idle.empty()) {
      auto ms = ParseDurationMs(a->until_idle);
      if (!ms || *ms == 0) {
        PrintError("--until-idle '" + a->until_idle +
                   "' is not a duration; expected a whole number with a unit (ms, s, m, h), e.g. 5s");
        exit_code = kExitBadConfig;
        return;
      }
      o.until_idle_ms = *ms;
    }
    exit_code = RunDataset(a->file, o, a->json, a->no_progress);
  });
}

int RedriveErrorRecords(const std::string& file, bool json) {
  auto ds = OpenDatasetOrReport(file);
  if (!ds.ok()) return ds.exit_code;
  auto& cfg = ds.config;
  auto& store = ds.store;
  Runner runner(*cfg, *store);
  auto res = runner.RedriveErrors();
  if (!res.ok()) {
    PrintError(res.status().message());
    return res.status().code() == StatusCode::kInvalidArgument ? kExitBadConfig : kExitFailed;
  }
  const ErrorRedriveSummary& s = *res;
  if (json) {
    nlohmann::json j = {{"dataset", cfg->name},        {"records", s.records},
                        {"fixed", s.fixed},            {"skipped", s.skipped},
                        {"still_failing", s.still_failing}};
    j["tasks"] = nlohmann::json::array();
    for (const auto& t : s.tasks) j["tasks"].push_back(TaskJson(t));
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s: reprocessed %s error record(s): %s now in the lake, %s skipped, %s still failing%s\n",
                cfg->name.c_str(), HumanCount(s.records).c_str(), HumanCount(s.fixed).c_str(),
                HumanCount(s.skipped).c_str(), HumanCount(s.still_failing).c_str(),
                s.still_failing ? " (see `weir errors` for their new reasons)" : "");
  }
  return 0;
}

void AddRedriveCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "redrive", "Rerun the ERROR tasks from their checkpoints, or (--errors) reprocess the error records");
  struct Args {
    std::string file;
    int workers = 0;
    bool json = false, no_progress = false, errors = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("FILE", a->file, "dataset YAML file")->required();
  cmd->add_option("--workers", a->workers, "worker threads")->check(CLI::Range(1, 256));
  cmd->add_flag("--errors", a->errors,
                "reprocess exactly the bytes named by the error records with the current parser and "
                "config: records that now parse land in the lake and leave the error list");
  cmd->add_flag("--json", a->json, "print the result as JSON");
  cmd->add_flag("--no-progress", a->no_progress, "no progress bar");
  cmd->callback([a, &exit_code] {
    // A stream has no finished manifest to rerun: `weir run` goes on from every checkpoint, and
    // the bytes behind a collector's error records are trimmed once committed.
    if (auto cfg = LoadConfigOrReport(a->file); !cfg) {
      exit_code = kExitBadConfig;
      return;
    } else if (cfg->IsStream()) {
      PrintError("weir redrive is for files datasets; '" + cfg->name + "' is a stream (read.connector " +
                 cfg->read.connector + "): `weir run " + a->file +
                 "` resumes every task from its checkpoint, and its error records are in `weir errors`");
      exit_code = kExitBadConfig;
      return;
    }
    if (a->errors) {
      exit_code = RedriveErrorRecords(a->file, a->json);
      return;
    }
    RunOptions o;
    o.workers = a->workers;
    o.redrive = true;
    exit_code = RunDataset(a->file, o, a->json, a->no_progress);
  });
}

void AddTasksCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("tasks", "Show the datatasks of a dataset with their counters");
  auto file = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("FILE", *file, "dataset YAML file")->required();
  cmd->add_flag("--json", *json, "print as JSON");
  cmd->callback([file, json, &exit_code] {
    auto ds = OpenDatasetOrReport(*file);
    if (!ds.ok()) {
      exit_code = ds.exit_code;
      return;
    }
    auto& cfg = ds.config;
    auto& store = ds.store;
    auto tasks = store->Tasks(cfg->name);
    if (!tasks.ok()) {
      PrintError(tasks.status().message());
      exit_code = kExitFailed;
      return;
    }
    if (*json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& t : *tasks) j.push_back(TaskJson(t));
      std::printf("%s\n", j.dump(2).c_str());
    } else if (tasks->empty()) {
      std::printf("dataset '%s' has no tasks yet: `weir run %s` creates them\n", cfg->name.c_str(), file->c_str());
    } else {
      PrintTaskTable(*tasks);
    }
    exit_code = 0;
  });
}

void AddErrorsCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("errors", "List the error records of a dataset");
  struct Args {
    std::string file;
    int64_t task = 0;
    bool json = false;
    size_t limit = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("FILE", a->file, "dataset YAML file")->required();
  cmd->add_option("--task", a->task, "only the records of this task id");
  cmd->add_option("--limit", a->limit, "print at most this many records (0 = all)");
  cmd->add_flag("--json", a->json, "print the records as JSON lines, exactly as stored");
  cmd->callback([a, &exit_code] {
    auto ds = OpenDatasetOrReport(a->file);
    if (!ds.ok()) {
      exit_code = ds.exit_code;
      return;
    }
    auto& cfg = ds.config;
    auto& store = ds.store;
    auto files = store->Files(cfg->name, "errors", "published");
    if (!files.ok()) {
      PrintError(files.status().message());
      exit_code = kExitFailed;
      return;
    }
    size_t shown = 0, total = 0;
    for (const auto& f : *files) {
      if (a->task && f.task_id != a->task) continue;
      auto text = fs::ReadFile(f.path);
      if (!text.ok()) {
        PrintError(text.status().message());
        exit_code = kExitFailed;
        return;
      }
      size_t pos = 0;
      while (pos < text->size()) {
        size_t nl = text->find('\n', pos);
        if (nl == std::string::npos) nl = text->size();
        std::string line = text->substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty()) continue;
        ++total;
        if (a->limit && shown >= a->limit) continue;
        ++shown;
        if (a->json) {
          std::printf("%s\n", line.c_str());
          continue;
        }
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded()) continue;
        std::string ex = j.value("excerpt", "");
        if (ex.size() > 80) ex = ex.substr(0, 77) + "...";
        for (char& ch : ex) {
          if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
        }
        std::printf("task %lld  %s  bytes %lld-%lld  record %lld\n  %s\n  | %s\n",
                    j.value("task", 0LL), j.value("file", "").c_str(), j.value("start_offset", 0LL),
                    j.value("end_offset", 0LL), j.value("record_number", 0LL),
                    j.value("reason", "").c_str(), ex.c_str());
        // Multi-record readers: the range every file gave the bad document (a document may
        // start well before the record named above).
        if (j.contains("document") && j["document"].is_object()) {
          std::string doc;
          for (const auto& [type, r] : j["document"].items()) {
            if (!r.is_object() || r.value("records", 0LL) == 0) continue;
            const long long first = r.value("first_record", 0LL), n = r.value("records", 0LL);
            doc += (doc.empty() ? "" : ", ") + type + " bytes " +
                   std::to_string(r.value("start_offset", 0LL)) + "-" +
                   std::to_string(r.value("end_offset", 0LL)) + " records " +
                   std::to_string(first) + "-" + std::to_string(first + n - 1);
          }
          if (!doc.empty()) std::printf("  document: %s\n", doc.c_str());
        }
      }
    }
    if (!a->json) {
      std::printf("%zu error record(s)%s\n", total,
                  shown < total ? (", " + std::to_string(shown) + " shown").c_str() : "");
    }
    exit_code = 0;
  });
}

void AddQueryCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("query", "Run SQL (DuckDB) over the dataset's committed lake files");
  struct Args {
    std::string file, sql, format = "table";
    std::optional<int64_t> snapshot;
    std::string as_of;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("FILE", a->file, "dataset YAML file")->required();
  cmd->add_option("SQL", a->sql, "the query; the table is a view named after write.table, errors are <table>_errors")->required();
  cmd->add_option("--format", a->format, "output format")->check(CLI::IsMember({"table", "csv", "json"}));
  auto* snap =
      cmd->add_option("--snapshot", a->snapshot,
                      "read the table as of this Iceberg snapshot id (`weir lake snapshots`)");
  cmd->add_option("--as-of", a->as_of,
                  "read the table as it was at this time: ISO 8601 (2024-06-01T12:00:00Z), a date, "
                  "or epoch milliseconds")
      ->excludes(snap);
  cmd->callback([a, &exit_code] {
    QueryAt at;
    at.snapshot_id = a->snapshot;
    if (!a->as_of.empty()) {
      auto ms = ParseAsOfTime(a->as_of);
      if (!ms.ok()) {
        PrintError(ms.status().message());
        exit_code = kExitBadConfig;
        return;
      }
      at.as_of_ms = *ms;
    }
    auto ds = OpenDatasetOrReport(a->file);
    if (!ds.ok()) {
      exit_code = ds.exit_code;
      return;
    }
    auto& cfg = ds.config;
    auto& store = ds.store;
    auto q = LakeQuery::Open(*cfg, *store, at);
    if (!q.ok()) {
      PrintError(q.status().message());
      exit_code = kExitFailed;
      return;
    }
    QueryFormat f = a->format == "csv" ? QueryFormat::kCsv
                    : a->format == "json" ? QueryFormat::kJson : QueryFormat::kTable;
    Status st = (*q)->Execute(a->sql, f, stdout);
    if (!st.ok()) {
      PrintError("query failed: " + st.message());
      exit_code = kExitFailed;
      return;
    }
    exit_code = 0;
  });
}

}  // namespace weir::cli
