#include "exec/fleet_worker.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/interrupt.h"
#include "core/store_url.h"
#include "exec/heartbeat.h"
#include "exec/parser_source.h"
#include "exec/runner.h"
#include "io/fs.h"

namespace weir {

Result<SubmitResult> SubmitDataset(const DatasetConfig& cfg, Store& store, bool replace) {
  if (cfg.IsStream()) {
    return Status::Invalid(
        "dataset '" + cfg.name + "' reads a stream (read.connector " + cfg.read.connector +
        "); workers run files datasets. Run a stream with `weir run` on each machine: a Kafka "
        "consumer group shares the partitions among them");
  }
  WEIR_ASSIGN_OR_RETURN(std::string yaml, fs::ReadFile(cfg.file));
  SubmitResult r;
  r.digest = SubmissionDigest(cfg.file, yaml);
  WEIR_ASSIGN_OR_RETURN(auto recorded, store.Submitted(cfg.name));
  r.created = !recorded;
  r.changed = recorded && recorded->digest != r.digest;
  if (r.changed && !replace) {
    WEIR_ASSIGN_OR_RETURN(TaskCensus census, store.Census(cfg.name));
    if (census.leased > 0) {
      return Status::Aborted(
          "dataset '" + cfg.name + "' differs from the definition submitted from " +
          recorded->file + " (" + recorded->submitted_at + "), and " +
          std::to_string(census.leased) +
          " of its tasks are running on workers now. Wait until they finish, or `weir submit "
          "--replace` to make workers run the new definition from their next task on (rows "
          "already committed stay as the old definition wrote them)");
    }
  }
  // The manifest (or listing) is read, and the parser loaded, before anything is recorded: a
  // definition that cannot run is refused here, not on every worker.
  std::unique_ptr<ParserSource> source;
  if (ParserSource::UsesSdk(cfg)) {
    WEIR_ASSIGN_OR_RETURN(source, ParserSource::Create(cfg));
  }
  WEIR_ASSIGN_OR_RETURN(auto entries, TaskEntries(cfg, source.get()));
  WEIR_ASSIGN_OR_RETURN(auto before, store.Tasks(cfg.name));
  AdoptStoredSpellings(entries, before, !(source && source->shape() == Shape::kMultiFile));
  if (r.created || r.changed) {
    SubmittedDataset d;
    d.name = cfg.name;
    d.file = cfg.file;
    d.yaml = yaml;
    d.digest = r.digest;
    WEIR_RETURN_IF_ERROR(store.Submit(d));
  }
  WEIR_RETURN_IF_ERROR(store.EnsureTasks(cfg.name, entries));
  WEIR_ASSIGN_OR_RETURN(auto after, store.Tasks(cfg.name));
  WEIR_ASSIGN_OR_RETURN(ManifestChanges changes, ReconcileManifest(store, entries, after));
  r.retired = changes.retired;
  r.reinstated = changes.reinstated;
  r.tasks = after.size();
  r.new_tasks = after.size() - std::min(after.size(), before.size());
  return r;
}

namespace {

std::string Hostname() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) return "host";
  return host;
}

// Sleeps up to `ms`, waking early on a stop request.
void Nap(int64_t ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!StopRequested() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

Result<WorkerSummary> RunWorker(const WorkerOptions& o) {
  WorkerSummary summary;
  summary.worker_id = ProcessWorkerId();
  WEIR_ASSIGN_OR_RETURN(auto store, Store::Open(o.store));
  std::mutex mu;  // guards `live` (read by the heartbeat thread)
  WorkerRow live;
  WorkerRow self;
  self.id = summary.worker_id;
  self.host = Hostname();
  self.pid = ::getpid();
  for (const auto& d : o.datasets) self.datasets += (self.datasets.empty() ? "" : ",") + d;
  self.threads = o.threads;
  self.state = "idle";
  live = self;
  Heartbeat heartbeat(*store, self, o.lease_ms, [&](WorkerRow& w) {
    std::lock_guard<std::mutex> l(mu);
    w.state = live.state;
    w.current = live.current;
    w.tasks_done = live.tasks_done;
    w.records = live.records;
    w.bytes = live.bytes;
  });
  auto set_state = [&](const std::string& state, const std::string& current) {
    std::lock_guard<std::mutex> l(mu);
    live.state = state;
    live.current = current;
  };
  spdlog::info("worker {} serving {} from the store {}", summary.worker_id,
               o.datasets.empty() ? std::string("every submitted dataset") : self.datasets,
               RedactStoreUrl(o.store));
  std::map<std::string, std::string> told;  // dataset -> the reason last logged for skipping it
  std::set<std::string> missing_told;
  auto skip = [&](const std::string& name, const std::string& why) {
    if (told[name] == why) return;
    told[name] = why;
    spdlog::warn("worker {}: cannot run dataset '{}': {}; its tasks are left to other workers",
                 summary.worker_id, name, why);
    summary.skipped.push_back(name + ": " + why);
  };
  while (!StopRequested()) {
    WEIR_ASSIGN_OR_RETURN(auto submitted, store->Submitted());
    std::vector<SubmittedDataset> mine;
    for (auto& d : submitted) {
      if (o.datasets.empty() ||
          std::find(o.datasets.begin(), o.datasets.end(), d.name) != o.datasets.end()) {
        mine.push_back(std::move(d));
      }
    }
    for (const auto& name : o.datasets) {
      bool found = false;
      for (const auto& d : mine) found |= d.name == name;
      if (!found && missing_told.insert(name).second) {
        spdlog::warn("worker {}: dataset '{}' is not submitted to this store (yet): `weir "
                     "submit` it", summary.worker_id, name);
      }
    }
    bool worked = false, all_done = true;
    if (o.until_done) {
      // A named dataset not submitted yet keeps an --until-done worker waiting for it.
      for (const auto& name : o.datasets) {
        bool found = false;
        for (const auto& d : mine) found |= d.name == name;
        all_done &= found;
      }
    }
    uint64_t errors = 0;
    for (const auto& d : mine) {
      if (StopRequested()) break;
      WEIR_ASSIGN_OR_RETURN(TaskCensus census, store->Census(d.name));
      errors += census.error;
      if (census.claimable > 0 || census.leased > 0) all_done = false;
      if (census.claimable == 0) continue;
      auto parsed = ParseDatasetConfig(d.yaml, d.file);
      if (!parsed.ok()) {
        skip(d.name, parsed.status().message());
        continue;
      }
      DatasetConfig cfg = std::move(parsed).value();
      cfg.store = o.store;  // the store it was submitted to is the one it lives in
      UseDatasetStorage(cfg);
      auto ds_store = Store::Open(o.store, std::filesystem::path(d.file).parent_path().string());
      if (!ds_store.ok()) return ds_store.status();
      Runner runner(cfg, **ds_store);
      RunOptions ro;
      ro.claim = true;
      ro.workers = o.threads;
      ro.lease = Lease{summary.worker_id, o.lease_ms};
      ro.external_heartbeat = true;
      set_state("running", d.name);
      std::atomic<bool> done{false};
      // The runner's live counters, for `weir workers`.
      std::thread progress([&] {
        const uint64_t base_tasks = live.tasks_done, base_records = live.records,
                       base_bytes = live.bytes;
        for (bool last = false; !last;) {
          last = done;  // one more update after the run ended: its final figures
          {
            std::lock_guard<std::mutex> l(mu);
            live.tasks_done = base_tasks + runner.progress().tasks_done;
            live.records = base_records + runner.progress().records;
            live.bytes = base_bytes + runner.progress().raw_bytes;
          }
          if (!last) std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      });
      auto res = runner.Run(ro);
      done = true;
      progress.join();
      set_state("idle", "");
      if (!res.ok()) {
        if (StopRequested()) break;
        if (res.status().code() == StatusCode::kAborted) {
          // Held exclusively on this machine (a `weir run --restart`, maintenance): later.
          spdlog::info("worker {}: dataset '{}' is busy ({}); trying again later",
                       summary.worker_id, d.name, res.status().message());
          continue;
        }
        skip(d.name, res.status().message());
        continue;
      }
      told.erase(d.name);
      worked |= res->tasks_run > 0;
      summary.tasks_run += res->tasks_run;
      summary.read += res->read;
      summary.written += res->written;
      summary.errored += res->errored;
    }
    summary.error_tasks = errors;
    if (o.until_done && all_done) break;
    if (!worked) Nap(o.poll_ms);
  }
  summary.interrupted_by = StopSignal();
  heartbeat.Stop();
  return summary;
}

}  // namespace weir
