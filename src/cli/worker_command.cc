// `weir submit`, `weir worker` and `weir workers`: running datasets on a fleet of worker
// processes that share a store (exec/fleet_worker.h, docs/scale.md).
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/interrupt.h"
#include "core/store_url.h"
#include "exec/fleet_worker.h"
#include "exec/runner.h"

namespace weir::cli {
namespace {

// --lease: a duration of at least a second (the heartbeat beats every third of it).
bool ParseLease(const std::string& text, int64_t* ms) {
  auto v = ParseDurationMs(text);
  if (!v || *v < 1000) {
    PrintError("--lease '" + text + "' is not a duration of at least 1s, e.g. 30s");
    return false;
  }
  *ms = *v;
  return true;
}

}  // namespace

void AddSubmitCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "submit", "Record a dataset in its store and create its tasks, for `weir worker`s to run");
  struct Args {
    std::string file, store;
    bool replace = false, json = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("FILE", a->file, "dataset YAML file")->required();
  cmd->add_option("--store", a->store,
                  "the store to submit to (default: the dataset's `store:`)")
      ->envname("WEIR_STORE");
  cmd->add_flag("--replace", a->replace,
                "replace a changed definition even while workers run its tasks");
  cmd->add_flag("--json", a->json, "print the result as JSON");
  cmd->callback([a, &exit_code] {
    auto cfg = LoadConfigOrReport(a->file);
    if (!cfg) {
      exit_code = kExitBadConfig;
      return;
    }
    if (!a->store.empty()) cfg->store = a->store;
    auto store = OpenStoreOrReport(*cfg);
    if (!store) {
      exit_code = kExitFailed;
      return;
    }
    auto r = SubmitDataset(*cfg, *store, a->replace);
    if (!r.ok()) {
      PrintError(r.status().message());
      exit_code = r.status().code() == StatusCode::kInvalidArgument ? kExitBadConfig : kExitFailed;
      return;
    }
    if (a->json) {
      nlohmann::json j = {{"dataset", cfg->name},     {"store", store->path()},
                          {"created", r->created},    {"changed", r->changed},
                          {"tasks", r->tasks},        {"new_tasks", r->new_tasks},
                          {"retired", r->retired},    {"reinstated", r->reinstated},
                          {"digest", r->digest}};
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      const char* what = r->created ? "submitted" : r->changed ? "replaced" : "unchanged";
      std::string changes = HumanCount(r->new_tasks) + " new";
      if (r->retired > 0) {
        changes += ", " + HumanCount(r->retired) +
                   " retired (their manifest entries are gone; rows committed stay)";
      }
      if (r->reinstated > 0) changes += ", " + HumanCount(r->reinstated) + " back in the manifest";
      std::printf("dataset '%s' %s in %s: %s task(s), %s; `weir worker --store %s` runs them\n",
                  cfg->name.c_str(), what, store->path().c_str(), HumanCount(r->tasks).c_str(),
                  changes.c_str(), store->path().c_str());
    }
    exit_code = 0;
  });
}

void AddWorkerCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "worker", "Claim and run tasks of the datasets submitted to a store, beside other workers");
  struct Args {
    std::string store, lease = "30s", state_dir;
    std::vector<std::string> datasets;
    int threads = 0;
    bool until_done = false, json = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--store", a->store, "the store (postgresql://user@host/db, or a SQLite file)")
      ->envname("WEIR_STORE")
      ->required();
  cmd->add_option("--dataset", a->datasets, "serve only this dataset (repeatable)");
  cmd->add_option("--threads", a->threads, "worker threads (default: each dataset's compute.workers)")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--until-done", a->until_done,
                "exit once no task of its datasets is claimable or running anywhere");
  cmd->add_option("--lease", a->lease,
                  "how long a claimed task stays this worker's without a heartbeat (default 30s)");
  cmd->add_option("--state-dir", a->state_dir,
                  "this machine's local state (staging, locks) for datasets on a PostgreSQL "
                  "store (default: .weir beside each dataset file; sets WEIR_STATE_DIR)")
      ->envname("WEIR_STATE_DIR");
  cmd->add_flag("--json", a->json, "print the summary as JSON");
  cmd->callback([a, &exit_code] {
    // LocalStateDir (core/config.h) reads it, for this process and what it starts.
    if (!a->state_dir.empty()) ::setenv("WEIR_STATE_DIR", a->state_dir.c_str(), 1);
    WorkerOptions o;
    o.store = a->store;
    o.datasets = a->datasets;
    o.threads = a->threads;
    o.until_done = a->until_done;
    if (!ParseLease(a->lease, &o.lease_ms)) {
      exit_code = kExitBadConfig;
      return;
    }
    InstallStopHandlers();
    auto r = RunWorker(o);
    if (!r.ok()) {
      PrintError(r.status().message());
      exit_code = kExitFailed;
      return;
    }
    for (const auto& s : r->skipped) PrintWarning("skipped " + s);
    if (a->json) {
      nlohmann::json j = {{"worker", r->worker_id},   {"tasks_run", r->tasks_run},
                          {"read", r->read},          {"written", r->written},
                          {"errored", r->errored},    {"error_tasks", r->error_tasks},
                          {"skipped", r->skipped}};
      if (r->interrupted_by) j["interrupted_by"] = r->interrupted_by;
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("worker %s: ran %s task(s): %s records read, %s written, %s errored%s\n",
                  r->worker_id.c_str(), HumanCount(r->tasks_run).c_str(),
                  HumanCount(r->read).c_str(), HumanCount(r->written).c_str(),
                  HumanCount(r->errored).c_str(),
                  r->interrupted_by ? " (stopped by a signal; its tasks resume on any worker)" : "");
      if (r->error_tasks > 0) {
        PrintWarning(std::to_string(r->error_tasks) +
                     " task(s) are in ERROR: `weir tasks` shows why, `weir redrive` reruns them");
      }
    }
    // A stop by SIGTERM/SIGINT is how a service manager stops a worker: success.
    exit_code = 0;
  });
}

void AddWorkersCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("workers", "List the workers (and runs) of a store");
  struct Args {
    std::string store, within = "1h";
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--store", a->store, "the store (postgresql://user@host/db, or a SQLite file)")
      ->envname("WEIR_STORE")
      ->required();
  cmd->add_option("--within", a->within,
                  "only workers heard from within this long (default 1h; 0s: all)");
  cmd->add_flag("--json", a->json, "print as JSON");
  cmd->callback([a, &exit_code] {
    auto within = ParseDurationMs(a->within);
    if (!within) {
      PrintError("--within '" + a->within + "' is not a duration, e.g. 1h");
      exit_code = kExitBadConfig;
      return;
    }
    auto store = Store::Open(a->store);
    if (!store.ok()) {
      PrintError(store.status().message());
      exit_code = kExitFailed;
      return;
    }
    auto workers = (*store)->Workers(*within);
    if (!workers.ok()) {
      PrintError(workers.status().message());
      exit_code = kExitFailed;
      return;
    }
    // A worker silent for longer than the default lease has lost its tasks (or is stopped).
    auto shown_state = [](const WorkerRow& w) {
      if (w.state != "stopped" && w.heartbeat_age_ms > 30000) return std::string("silent");
      return w.state;
    };
    auto rate = [](const WorkerRow& w) {
      const double s = static_cast<double>(w.heartbeat_ms - w.started_ms) / 1000.0;
      return s > 0 ? static_cast<double>(w.records) / s : 0.0;
    };
    if (a->json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& w : *workers) {
        j.push_back({{"id", w.id},
                     {"host", w.host},
                     {"pid", w.pid},
                     {"state", shown_state(w)},
                     {"datasets", w.datasets},
                     {"current", w.current},
                     {"threads", w.threads},
                     {"tasks_done", w.tasks_done},
                     {"records", w.records},
                     {"bytes", w.bytes},
                     {"records_per_second", rate(w)},
                     {"started_ms", w.started_ms},
                     {"heartbeat_ms", w.heartbeat_ms},
                     {"heartbeat_age_ms", w.heartbeat_age_ms}});
      }
      std::printf("%s\n", j.dump(2).c_str());
    } else if (workers->empty()) {
      std::printf("no worker reported to %s within %s\n", (*store)->path().c_str(),
                  a->within.c_str());
    } else {
      std::printf("%-32s  %-8s  %-18s  %7s  %12s  %9s  %s\n", "worker", "state", "dataset",
                  "tasks", "records", "rec/s", "heartbeat");
      for (const auto& w : *workers) {
        std::printf("%-32s  %-8s  %-18s  %7s  %12s  %9s  %s ago\n", w.id.c_str(),
                    shown_state(w).c_str(), w.current.empty() ? "-" : w.current.c_str(),
                    HumanCount(w.tasks_done).c_str(), HumanCount(w.records).c_str(),
                    HumanCount(static_cast<uint64_t>(rate(w))).c_str(),
                    HumanDuration(static_cast<double>(w.heartbeat_age_ms) / 1000.0).c_str());
      }
    }
    exit_code = 0;
  });
}

}  // namespace weir::cli
