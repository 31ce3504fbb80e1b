// `weir submit` and `weir worker`: datasets recorded in a shared store, and processes on any
// number of machines that claim their tasks from it (docs/scale.md).
//
// Submission records a files dataset's YAML and creates its tasks (one per manifest entry or
// listed object). A worker serves every submitted dataset (or those named): it claims tasks one
// at a time under a lease (Store::ClaimNextTask), runs them with the same runner as `weir run`
// (exec/runner.h, RunOptions::claim), and renews its leases with a heartbeat. A worker that dies
// or stalls loses its tasks when their leases expire; other workers claim them and resume from
// their checkpoints, and the stalled one's commits are refused (fencing).
//
// Thread-safety: RunWorker() blocks its caller; it stops on SIGINT/SIGTERM (core/interrupt.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "exec/store.h"
#include "weir/status.h"

namespace weir {

struct SubmitResult {
  bool created = false;     // first submission of the dataset
  bool changed = false;     // a new definition replaced the recorded one
  uint64_t tasks = 0;       // tasks of the dataset after the submission
  uint64_t new_tasks = 0;   // tasks this submission created
  uint64_t retired = 0;     // unfinished tasks whose manifest entries are gone (ReconcileManifest)
  uint64_t reinstated = 0;  // retired tasks whose entries are back
  std::string digest;
};

// Records `cfg` (its YAML file as it is now) in `store` and creates its tasks. Resubmitting an
// unchanged definition changes nothing but the tasks the manifest now names: new entries get
// tasks, removed ones are retired (a worker running one is fenced off), returning ones resume. A changed one
// is refused (kAborted) while any of its tasks is leased to a live worker, unless `replace`.
// Stream datasets are refused: they run with `weir run` on each machine (Kafka's consumer group
// shares the partitions).
Result<SubmitResult> SubmitDataset(const DatasetConfig& cfg, Store& store, bool replace);

struct WorkerOptions {
  std::string store;                  // the store URL (or SQLite file) to serve
  std::vector<std::string> datasets;  // only these; empty: every submitted dataset
  int threads = 0;                    // worker threads per dataset; 0: its compute.workers
  bool until_done = false;            // exit once no task is claimable or leased anywhere
  int64_t lease_ms = 30000;           // a claim's lease; the heartbeat renews it every third
  int64_t poll_ms = 1000;             // idle: how often to look for claimable tasks
};

struct WorkerSummary {
  std::string worker_id;
  uint64_t tasks_run = 0, read = 0, written = 0, errored = 0;
  // Datasets this worker could not run (a missing plugin, a bad definition), with the reason;
  // their tasks stay for other workers.
  std::vector<std::string> skipped;
  // --until-done: tasks of its datasets left in ERROR (see `weir tasks`, `weir redrive`).
  uint64_t error_tasks = 0;
  int interrupted_by = 0;  // SIGINT/SIGTERM
};

Result<WorkerSummary> RunWorker(const WorkerOptions& o);

}  // namespace weir
