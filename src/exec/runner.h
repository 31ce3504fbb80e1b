// Runs the datatasks of one dataset: the engine behind `weir run` and `weir redrive`.
//
// A run takes the dataset lock (one writer per dataset and store), finishes or discards the
// publications a crashed run left behind, creates a task per new manifest entry, and executes
// every unfinished task on `workers` threads. Each task reads its file from its last checkpoint,
// splits and parses records in batches, buffers documents by partition, and commits at least every
// `checkpoint_seconds` or `roll_bytes`: staged files, checkpoint and counters in one store
// transaction, then publication by rename (see exec/store.h). A retryable failure retries the
// task from its last checkpoint; a permanent one marks it ERROR and the other tasks go on.
//
// Ownership: the runner borrows the config and the store; both must outlive it.
// Thread-safety: Run() is called from one thread; progress() may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/config.h"
#include "exec/store.h"
#include "store/advisory_lock.h"
#include "weir/status.h"

namespace weir {

namespace sdk {
struct RecordType;
}  // namespace sdk

class ParserSource;
class SegmentLog;
struct StreamMetrics;

struct RunOptions {
  int workers = 0;       // 0 = config.compute.workers
  bool restart = false;  // forget all tasks and output, start over
  bool redrive = false;  // also run ERROR tasks (from their checkpoints)
  bool rescan = false;   // read bytes appended to inputs of completed tasks
  // Stream datasets (DatasetConfig::IsStream): when to stop besides SIGINT/SIGTERM.
  int64_t until_idle_ms = 0;  // 0: never; else stop once no new data came for this long
  uint64_t max_records = 0;   // 0: no limit; else stop after reading this many records
  StreamMetrics* stream_metrics = nullptr;  // live figures of a stream run (exec/stream_metrics.h)
  // Files datasets: tasks come from the store's queue (Store::ClaimNextTask), claimed one at a
  // time under `lease`, instead of from this process's own list: `weir worker`, and `weir run`
  // when workers are running the dataset (Run() switches to it by itself then: it finds the
  // dataset lock held shared). The dataset lock is shared with the other claimers, and tasks
  // are those in the store (`weir submit` made them): the manifest is not read.
  bool claim = false;
  // With claim: once nothing is claimable, wait for the tasks other processes hold to end (or
  // for their leases to expire, then claim them), so Run() returns when the dataset is done.
  // Without it Run() returns as soon as nothing is claimable (a worker serving other datasets).
  bool wait_for_others = false;
  // The lease of every claim this run makes (in every mode: `weir tasks` shows the holder).
  // An empty owner is this process's own id (ProcessWorkerId()).
  Lease lease;
  // The caller renews the leases (a `weir worker`'s heartbeat, exec/heartbeat.h); otherwise
  // Run() keeps its own heartbeat while it runs.
  bool external_heartbeat = false;
  // Stream datasets with read.connector http: called once the dataset lock is held and the
  // collector's log (StreamLogDir) is open; starts accepting events into it (the CLI starts
  // the HTTP collector, server/collector.h) and returns what stops accepting. Run() calls that
  // before it returns. Without it nothing is accepted and Run() reads what the log holds.
  std::function<Result<std::function<void()>>(SegmentLog& log)> start_collector;
};

// Live counters for progress display; updated by workers, read by anyone.
struct RunProgress {
  std::atomic<uint64_t> tasks_total{0}, tasks_done{0}, tasks_failed{0};
  std::atomic<uint64_t> records{0}, raw_bytes{0}, raw_bytes_total{0};
};

struct RunSummary {
  std::vector<TaskRow> tasks;  // every task of the dataset after the run
  uint64_t tasks_run = 0;      // tasks this run executed
  double seconds = 0;
  bool all_completed = false;  // every task COMPLETED (or RETIRED)
  // What this run added to the task counters (so the summary equals the task table).
  uint64_t read = 0, written = 0, skipped = 0, errored = 0;
  uint64_t duplicates = 0;  // write.dedup drops (part of skipped)
  // Lake data files this run committed, by partition path ("" for an unpartitioned table):
  // with workers committing together, at most one per partition and commit.
  std::map<std::string, uint64_t> files_per_partition;
  std::vector<std::string> warnings;       // e.g. inputs that changed after they were read
  int interrupted_by = 0;                  // SIGINT/SIGTERM that stopped the run, or 0
  bool stream = false;                     // a stream dataset: its tasks never complete
  bool claimed = false;                    // tasks came from the store's queue (RunOptions::claim)
  std::string stopped;                     // stream: why the run stopped ("idle for 2s", ...)
  // rules (docs/rules.md): what the rules stage did in this run.
  bool rules = false;
  uint64_t rules_events = 0, rules_late = 0, rules_derived = 0, rules_keys = 0;
  uint64_t rules_state_bytes = 0;
  bool rules_waiting = false;  // stopped at a task that is not finished
};

// Result of a record-level redrive (`weir redrive --errors`).
struct ErrorRedriveSummary {
  uint64_t records = 0;        // error records reprocessed
  uint64_t fixed = 0;          // now documents in the lake
  uint64_t skipped = 0;        // now skipped by the parser
  uint64_t still_failing = 0;  // still errors (with their new reasons)
  std::vector<TaskRow> tasks;
};

class Runner {
 public:
  Runner(const DatasetConfig& config, Store& store) : config_(config), store_(store) {}
  Result<RunSummary> Run(const RunOptions& options);
  // Reprocesses exactly the bytes named by the published error records with the current parser
  // and config: records that now parse land in the lake and leave the error list, the others stay
  // with their new reasons. Each task's replacement is one commit (exactly once under crashes).
  Result<ErrorRedriveSummary> RedriveErrors();
  const RunProgress& progress() const { return progress_; }

 private:
  const DatasetConfig& config_;
  Store& store_;
  RunProgress progress_;
};

// Paths derived from a config, shared by the runner, recovery and the query/errors commands.
std::string TableDir(const DatasetConfig& c);          // write.location/table
std::string DataStagingDir(const DatasetConfig& c);    // write.location/_staging/table
std::string ErrorsDir(const DatasetConfig& c);         // errors.location/<dataset>
std::string ErrorsStagingDir(const DatasetConfig& c);  // errors.location/_staging/<dataset>
// The rules spool of a dataset with rules (exec/worker_output.h, set_rules): the committed
// "rules" files and their staging, under the store folder (<store>/rules/<dataset>/).
std::string RulesSpoolDir(const DatasetConfig& c);
std::string RulesSpoolStagingDir(const DatasetConfig& c);
// The HTTP collector's segment log (io/segment_log.h): <store folder>/streams/<dataset>.
std::string StreamLogDir(const DatasetConfig& c);
// The manifest entry (task name) of the HTTP collector's one task.
inline constexpr const char* kCollectorTaskEntry = "collector";

// Publishes files left pending by a crashed run and removes unreferenced staging files. Call only
// while holding the dataset lock.
Status RecoverPublications(const DatasetConfig& config, Store& store);

// Reads the manifest: (entry, absolute path) pairs in order; blank lines and # comments skipped, a
// UTF-8 byte order mark ignored. Entries are lexically normalised ("./a.jsonl", "sub/../a.jsonl"
// -> "a.jsonl"). With `multi_file_types` (a multi-file reader) entries stay as written and the
// path is the entry's text made absolute (the runner resolves the parts).
// Invalid (exit 2, "read.manifest: <path>: <reason>") when the manifest is missing, not a regular
// file, unreadable or lists nothing, and when two lines name the same file (the same normal
// absolute path, or for existing files the same device and inode: a symlinked alias), naming
// both lines.
// With a listing (`read.manifest: {list, glob}`) the entries are the files (objects) under the
// listed folder (prefix) whose relative path matches the glob, in path order; Invalid when the
// listing fails or finds none.
Result<std::vector<std::pair<std::string, std::string>>> ReadManifest(
    const DatasetConfig& c, const std::vector<sdk::RecordType>* multi_file_types = nullptr);

// The (entry, path) pairs of a files dataset's tasks: ReadManifest, with each multi-file entry's
// path made of its parts ("TYPE:path|TYPE:path") when `source` is a multi-file reader.
Result<std::vector<std::pair<std::string, std::string>>> TaskEntries(const DatasetConfig& c,
                                                                     const ParserSource* source);

// `weir submit`: the digest of a dataset definition (its file's absolute path and YAML text).
std::string SubmissionDigest(const std::string& file, const std::string& yaml);
// A run that joins workers must run the definition they run (the one submitted): kAborted with
// what to do when the dataset file differs from it. OK when the dataset was never submitted.
Status CheckSubmittedDefinition(const DatasetConfig& c, Store& store);

// Stores made before manifest entries were normalised hold a file's task under the spelling it
// had then ("./a.jsonl"). Rewrites each manifest entry that has no task of its own to the entry of
// the task for the same file (the same path, or with `normalised_entries` the same normal form),
// so that task is found and run (not retired) and the file gets no second task.
void AdoptStoredSpellings(std::vector<std::pair<std::string, std::string>>& entries,
                          const std::vector<TaskRow>& tasks, bool normalised_entries);

// What a manifest read now means for the tasks recorded before it (ReconcileManifest).
struct ManifestChanges {
  uint64_t retired = 0;      // unfinished tasks whose entries left the manifest
  uint64_t reinstated = 0;   // retired tasks whose entries are back
  uint64_t moved = 0;        // tasks whose entries resolve to a new path
  std::set<int64_t> outside; // tasks whose entries are not in the manifest (finished or retired)
};

// Brings `tasks` (the dataset's, as read from `store`) in line with the manifest's `entries`
// (after AdoptStoredSpellings), in the store and in `tasks`: a task whose entry (or file) left
// the manifest is retired unless finished (Store::RetireTask: its committed rows stay, and a
// worker running it is fenced off); a retired task whose entry is back is CREATED again; a
// task whose entry resolves to another path gets that path. `weir run` and `weir submit` both
// call it, so a manifest means the same to a run and to workers.
Result<ManifestChanges> ReconcileManifest(Store& store,
                                          const std::vector<std::pair<std::string, std::string>>& entries,
                                          std::vector<TaskRow>& tasks);

// An advisory lock on a dataset within its store (flock on <LocalStateDir>/<dataset>.lock; with
// a PostgreSQL store also a session advisory lock in the store, so that two machines do not run
// one dataset at once).
// Released on destruction or when the process dies, so a kill -9 never leaves a stale lock.
// Exclusive for batch runs, redrives and the HTTP collector. The members of a Kafka stream's
// consumer group share it (AcquireShared): they exclude all of those, not each other. `weir lake`
// maintenance does not take it (it runs beside writers, through the commit compare-and-set and
// the CommitGate). Not thread-safe; owns the descriptor.
class DatasetLock {
 public:
  static Result<std::unique_ptr<DatasetLock>> Acquire(const DatasetConfig& c, bool wait);
  // For a group member: takes the lock exclusively if nobody holds it (`*alone` = true: the
  // caller may recover the dataset as a whole, then Share()); otherwise waits for a shared hold
  // (an exclusive holder is a member starting up, or a batch command run on the dataset by
  // mistake; both finish). With `wait` false, an exclusive holder is kAborted at once (a
  // `weir worker` goes on with its other datasets).
  static Result<std::unique_ptr<DatasetLock>> AcquireShared(const DatasetConfig& c, bool* alone,
                                                            bool wait = true);
  // Exclusive -> shared. flock(2) may let another process in between; every holder tolerates
  // that (a member that gets the lock exclusively then recovers before this one stages anything).
  Status Share();
  ~DatasetLock();

 private:
  explicit DatasetLock(int fd) : fd_(fd) {}
  // With a PostgreSQL store, the flock (this machine) is paired with an advisory lock in the
  // store (every machine), taken after it, in the same mode.
  Status LockStore(const DatasetConfig& c, bool shared, bool wait);
  int fd_;
  std::unique_ptr<AdvisoryLock> store_lock_;
};

// Points this process's s3:// client at the dataset's `storage:` (unset fields: environment).
void UseDatasetStorage(const DatasetConfig& c);

}  // namespace weir
