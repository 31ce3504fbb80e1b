// The task store and lake catalog of one or more datasets, in SQLite (the embedded default, a
// file) or PostgreSQL (a server, `store: postgresql://user@host:port/db`, for several processes
// or machines). Both run the same SQL and the same migrations through store/sql_db.h.
//
// It holds the datatasks (one per manifest entry) with their status, checkpoint and counters, and
// the catalog of output files (lake data files and error-record files) with their publication
// state. Commit() is the heart of exactly-once output: the files a task wrote since its last
// checkpoint are recorded as `pending` in the SAME transaction that advances the checkpoint and
// counters; only after that transaction is durable are the files renamed into place and marked
// `published`. A crash before the transaction leaves unreferenced staging files (discarded by
// recovery); a crash after it leaves pending rows that recovery publishes.
//
// Paths: the catalog stores file paths under the store's base folder (the dataset file's folder)
// relative to it, so a project folder that is copied or moved keeps a working store that names
// its own files, never the original's. Paths outside the base folder stay absolute. The API
// takes and returns absolute paths. A PostgreSQL store keeps every path absolute: it is shared,
// and the machines that use it see the lake under the same absolute paths, not one project folder.
//
// PostgreSQL: write transactions run SERIALIZABLE, so concurrent writers (other processes or
// machines) behave as with SQLite's single writer; the compare-and-set of the Iceberg pointer and
// the task fencing (TaskUpdate::owner_attempt) are conditional UPDATEs whose row counts are
// checked. A serialization failure, or a connection lost (a server restart), runs the whole
// transaction again after reconnecting, for up to a minute. A COMMIT whose answer was lost is
// not run twice: every write transaction records a random token, and the retry first asks
// whether that token committed. Credentials are never stored or shown: libpq reads PGPASSWORD or
// ~/.pgpass, and a password written in the URL is replaced by *** in path() and in messages.
//
// Identity: every store has a random id (`store_id()`), kept in its `meta` table. Table folders
// record the id of the store that writes them (exec/lake_claim.h), so a lost or replaced store
// is noticed before it loads everything again on top of the old files.
//
// Ownership: owns its connection (SqlDb). Thread-safety: all methods are safe to call from
// several threads (one connection, serialised by an internal mutex; commits are infrequent).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "weir/status.h"

namespace weir {

class SqlDb;
enum class SqlErrorKind;

// CREATED: never started. RUNNING: started (a task left RUNNING by a killed process resumes from
// its checkpoint). INTERRUPTED: stopped by SIGINT/SIGTERM after committing what it had; resumes.
// COMPLETED, ERROR (see reason; `weir redrive` reruns it). RETIRED: its manifest entry was
// removed; its committed rows stay, it is not run (it comes back if the entry does).
enum class TaskStatus { kCreated, kRunning, kCompleted, kError, kInterrupted, kRetired };
const char* TaskStatusName(TaskStatus s);  // "CREATED", "RUNNING", "COMPLETED", "ERROR", ...

struct TaskCounters {
  uint64_t offset = 0;         // checkpoint: decompressed byte offset of the next record
  uint64_t record_number = 0;  // checkpoint: number of the next record
  uint64_t read = 0, written = 0, skipped = 0, errored = 0;
  uint64_t duplicates = 0;     // records write.dedup dropped (counted in skipped too)
  uint64_t bytes = 0;          // decompressed bytes consumed (== offset at the end)
  uint64_t files = 0;          // lake files published
  // checkpoint of multi-record readers (state machines, multi-file readers): per-file offsets
  // and the previous record, as JSON (exec/reader_task.h); empty for single-file parsers
  std::string state;
};

struct TaskRow {
  int64_t id = 0;
  std::string dataset;
  std::string entry;  // the manifest line as written
  std::string path;   // absolute input path
  TaskStatus status = TaskStatus::kCreated;
  int attempts = 0;
  int64_t seq = 0;    // commits made so far
  TaskCounters counters;
  int64_t duration_ms = 0;
  std::string reason;  // why it is ERROR (or the last retried failure)
  std::string updated_at;
  // Identity of the input file(s) as read (io/file_identity.h, JSON): recorded when the task
  // starts and again when it completes, so changed inputs are noticed. Empty before.
  std::string input_id;
  // The lease of the claim that took the task last (Store::ClaimNextTask): who (a worker id,
  // "host:pid:..."; empty before any leased claim), since when, and until when it is theirs
  // without a heartbeat, as Unix milliseconds of the store's clock. `lease_left_ms` is
  // lease_until_ms minus the store's clock when the row was read: <= 0 means expired (a RUNNING
  // task whose lease expired is claimable by any worker). The holder is kept after the task
  // leaves RUNNING: it says who ran it last.
  std::string lease_owner;
  int64_t leased_at_ms = 0, lease_until_ms = 0, lease_left_ms = 0;
};

// A claim's lease (Store::ClaimNextTask): the claimer and how long the task stays its own
// without a heartbeat (Store::Heartbeat renews every lease a worker holds).
struct Lease {
  std::string owner;
  int64_t ttl_ms = 30000;
};

// A live or stopped `weir worker` (or `weir run`) process, as it last reported itself.
struct WorkerRow {
  std::string id;        // "host:pid:random"
  std::string host;
  int64_t pid = 0;
  std::string datasets;  // the datasets it serves, comma-separated; empty: every submitted one
  int threads = 0;
  std::string state;     // "running", "idle", "stopped"
  std::string current;   // the dataset it is running now, if any
  uint64_t tasks_done = 0, records = 0, bytes = 0;  // since it started
  int64_t started_ms = 0, heartbeat_ms = 0;          // store clock, Unix ms
  int64_t heartbeat_age_ms = 0;  // store clock now minus heartbeat_ms, when read
};

// A dataset recorded by `weir submit`: the YAML as submitted, from where (its absolute path,
// which resolves its relative paths), and a digest of both.
struct SubmittedDataset {
  std::string name, file, yaml, digest, submitted_at;
};

// How many tasks of a dataset are in which state, as workers see them.
struct TaskCensus {
  uint64_t total = 0;
  uint64_t claimable = 0;  // CREATED, INTERRUPTED, or RUNNING with an expired lease
  uint64_t leased = 0;     // RUNNING under a live lease (someone is on it)
  uint64_t completed = 0, error = 0, retired = 0;
};

struct CatalogFile {
  int64_t id = 0;
  int64_t task_id = 0;    // errors files: the task; data files: the first task of the commit
  std::string kind;       // "data" or "errors"
  std::string partition;  // Hive partition path ("" for errors / unpartitioned)
  std::string path;       // absolute final path
  std::string staging;    // absolute staging path
  uint64_t rows = 0, bytes = 0;
  // "pending", "published", "superseded" (about to be deleted) or "replaced" (rewritten by
  // compaction; kept for older snapshots until `weir lake expire`)
  std::string state;
};

// The new state of one task in a commit.
struct TaskUpdate {
  int64_t task_id = 0;
  int64_t seq = 0;                   // the task's commit count after this commit
  TaskCounters counters;             // cumulative, after this commit (except files: see below)
  // Data files this commit adds to the task's `files` count. A task's executor does not see the
  // commits its rows go into, so the store adds (counters.files is ignored).
  uint64_t files_added = 0;
  int64_t duration_ms = 0;           // cumulative work time
  std::optional<TaskStatus> status;  // set the task's status in the same transaction
  std::string reason;
  std::string input_id;              // when not empty: the input identity to record
  // > 0: the writer's claim on the task (its `attempts` when it took the task). The commit
  // fails, changing nothing, if another writer has taken the task since (attempts moved on):
  // a stream partition the consumer group gave to another process is fenced this way.
  int owner_attempt = 0;
};

// A row of the Iceberg catalog table. The columns are those of Iceberg's JDBC (SQL) catalog
// (`iceberg_tables`), so a JDBC-catalog client pointed at the store's database finds weir's
// tables. weir writes catalog_name "weir"; metadata locations are absolute paths.
//
// Two pointers, so that a catalog reader never sees a snapshot whose data files are still being
// put in place (docs/lake.md#commit-protocol):
//   - `metadata_location` here is the WRITERS' pointer: the latest committed metadata, which
//     commits compare-and-set (column weir_committed_location, weir's own);
//   - `published_location` is what readers are given: the JDBC column metadata_location, which
//     JDBC-catalog clients, `weir serve --catalog` and version-hint.text follow. It moves to the
//     writers' pointer once no committed file of the dataset is waiting to be published: in the
//     commit's own transaction when nothing is, else after the publication (AdvanceIcebergPointer).
struct IcebergTableRow {
  std::string catalog_name = "weir";
  std::string table_namespace;
  std::string table_name;
  std::string metadata_location;           // the writers' pointer (see above)
  std::string previous_metadata_location;  // the readers' previous one; empty at first
  std::string published_location;          // the readers' pointer; empty before the first
};

// Compare-and-set of a table's metadata pointer: it moves to `new_location` only if it still is
// `expected` (empty `expected`: the table must not exist yet, and is created). A lost race is
// StatusCode::kAborted with "conflict" in the message; the caller re-plans on the new metadata.
struct IcebergPointerMove {
  std::string table_namespace, table_name;
  std::string expected;
  std::string new_location;
  // The dataset whose pending files hold the readers' pointer back (IcebergTableRow); a task
  // commit uses its CommitRequest::dataset. Empty outside a commit: readers follow at once.
  std::string dataset = {};
};

// The Iceberg catalog row a --restart drops with the dataset (Store::ResetDataset). The row is
// another dataset's business unless the caller checked it (exec/iceberg_table.h,
// DatasetIcebergRow), so it is dropped only while it still points at `expected`, the metadata the
// caller judged its own; empty `expected`: the caller saw no row, and none may appear meanwhile.
struct IcebergTableDrop {
  std::string table_namespace, table_name;
  std::string expected;
};

// One commit of a worker: the files it staged since its last commit, which may hold documents of
// several tasks, and the new checkpoints of those tasks. All or nothing.
// One key of a dataset's deduplication index (write.dedup, exec/dedup.h): a 128-bit hash of the
// key columns' values and the newest time a record with that key was written.
struct DedupKey {
  uint64_t hi = 0, lo = 0;
  int64_t time_ms = 0;
};

// How far apart two key times are; records of one key less than `within` apart are duplicates.
inline uint64_t DedupDistance(int64_t a, int64_t b) {
  return a > b ? static_cast<uint64_t>(a) - static_cast<uint64_t>(b)
               : static_cast<uint64_t>(b) - static_cast<uint64_t>(a);
}

struct CommitRequest {
  std::string dataset;
  std::vector<TaskUpdate> tasks;
  // Written to staging, not yet published: recorded `pending`. A file whose `state` is
  // "published" is already at its final path (compaction) and is recorded `published`.
  std::vector<CatalogFile> files;
  // Published files this commit replaces (record-level redrive rewrites error files): they
  // become `superseded` in the same transaction and are deleted after publication.
  std::vector<int64_t> supersede;
  // Published data files a compaction rewrote (exec/lake_maintenance.h): they become `replaced`
  // in the same transaction (no longer read; older snapshots still reference them, so they stay
  // on disk until `weir lake expire` deletes them and their rows).
  std::vector<int64_t> replaced;
  // When set, the Iceberg table's metadata pointer moves in the same transaction (see
  // IcebergPointerMove): the snapshot and the checkpoints commit together or not at all.
  std::optional<IcebergPointerMove> iceberg;
  // write.dedup: keys of the rows this commit writes, added to the dataset's index in the same
  // transaction (an existing key keeps the newer time). When dedup_within_ms > 0, keys older
  // than the index's newest time minus it are evicted in that transaction too.
  // The writer checked these keys against the index before buffering their rows; another
  // process may have committed one since. The transaction checks them again, against the index
  // as it was before this commit, and refuses the whole commit (IsDedupRace) if any key is
  // there with a time less than dedup_within_ms apart (0: at any time): its rows would
  // duplicate rows already committed.
  std::vector<DedupKey> dedup_keys;
  int64_t dedup_within_ms = 0;
};

// The refusal of a commit or status change by a writer whose claim on a task was superseded by
// another claim (TaskUpdate::owner_attempt): kAborted, not retryable, with this marker.
inline constexpr const char* kFencedMarker = "was taken by another writer";
bool IsFenced(const Status& st);

// The refusal of a commit some of whose write.dedup keys another writer committed after this
// one checked them (CommitRequest::dedup_keys): kAborted, not retryable, with this marker. The
// writer drops its uncommitted output and reads it again from its tasks' checkpoints; the new
// check then drops the rows the other writer committed first.
inline constexpr const char* kDedupRaceMarker = "committed by another writer since this one";
bool IsDedupRace(const Status& st);

class Store {
 public:
  // Opens (creating if needed) the store: `db_path` is the SQLite file, or a postgresql:// URL
  // (core/store_url.h). `base_dir`: the folder catalog paths are stored relative to (the dataset
  // file's folder); empty keeps every path absolute, as a PostgreSQL store always does. Waits out
  // another process creating or migrating the same store (busy), or a PostgreSQL server that is
  // not accepting connections yet, for up to 15 s.
  static Result<std::unique_ptr<Store>> Open(const std::string& db_path,
                                             const std::string& base_dir = "");
  const std::string& store_id() const { return store_id_; }
  // The SQLite file, or the PostgreSQL URL without its password.
  const std::string& path() const { return path_; }
  bool is_postgres() const;
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Creates a CREATED task for every manifest entry that has none yet; existing tasks keep their
  // state. `entries` are (entry, absolute path) pairs, in manifest order. An entry whose path
  // already belongs to a task of the dataset (the same file under another spelling, as stores
  // made before entries were normalised hold: "./a.jsonl") gets no second task.
  Status EnsureTasks(const std::string& dataset,
                     const std::vector<std::pair<std::string, std::string>>& entries);
  Result<std::vector<TaskRow>> Tasks(const std::string& dataset);
  Result<TaskRow> Task(int64_t task_id);

  // Marks a task RUNNING and counts the attempt; records `input_id` when not empty.
  Status StartAttempt(int64_t task_id, const std::string& input_id = "");
  // StartAttempt and Task in one transaction: the row as this attempt took it. Its `attempts`
  // is the taker's claim (TaskUpdate::owner_attempt); the checkpoint read is the last commit
  // made before the claim, and any commit by an earlier claimant after it is fenced.
  // With `lease`: the claim is leased to lease->owner (shown by `weir tasks`, renewed by
  // Heartbeat). With `expect_attempts` > 0: only if the task's attempts still equal it (a worker
  // taking a task it holds again, to retry it); NotFound-free kAborted (IsFenced) if not.
  Result<TaskRow> ClaimTask(int64_t task_id, const Lease* lease = nullptr,
                            int expect_attempts = 0);
  // The task queue of `weir worker`: claims the first claimable task of `dataset` in id order
  // (CREATED, INTERRUPTED, or RUNNING whose lease expired: its holder died or stalled) for
  // `lease`, in one transaction (PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent claimers
  // take different tasks without waiting on each other). The claim counts an attempt, which is
  // the claimer's fencing token (TaskUpdate::owner_attempt). nullopt when none is claimable.
  Result<std::optional<TaskRow>> ClaimNextTask(const std::string& dataset, const Lease& lease);
  // One heartbeat of worker `w`: records it (created on first call) and renews the lease of
  // every RUNNING task it holds to ttl_ms from now. `held` receives those tasks (id, attempts):
  // a task the caller thinks it holds but that is missing was taken by another claimer.
  Status Heartbeat(const WorkerRow& w, int64_t ttl_ms,
                   std::vector<std::pair<int64_t, int>>* held);
  // Marks a worker stopped (a clean exit); its row stays for `weir workers`.
  Status WorkerStopped(const std::string& worker_id);
  // Workers that reported within `within_ms` (0: all), newest heartbeat first.
  Result<std::vector<WorkerRow>> Workers(int64_t within_ms = 0);
  // Census of a dataset's tasks (--until-done: nothing claimable and nothing leased).
  Result<TaskCensus> Census(const std::string& dataset);

  // `weir submit`: records (replaces) a dataset's definition. Datasets(): every submitted one.
  Status Submit(const SubmittedDataset& d);
  Result<std::vector<SubmittedDataset>> Submitted();
  Result<std::optional<SubmittedDataset>> Submitted(const std::string& name);
  // Sets the input path of a task (the manifest resolves it anew each run).
  Status SetTaskPath(int64_t task_id, const std::string& path);
  // `owner_attempt` > 0: only while the task's attempts still equal it (TaskUpdate).
  Status SetStatus(int64_t task_id, TaskStatus status, const std::string& reason,
                   int owner_attempt = 0);
  // RETIRED with `reason`, unless COMPLETED or RETIRED already. A RUNNING task's claim is
  // fenced off (its attempts move on and its lease ends): the worker running it now can commit
  // nothing more of it. False when the task was finished already.
  Result<bool> RetireTask(int64_t task_id, const std::string& reason);
  // Records files as pending, advances checkpoint and counters, optionally sets status; one
  // durable transaction. Fills the ids of `req.files` in `file_ids`.
  Status Commit(const CommitRequest& req, std::vector<int64_t>* file_ids);
  Status MarkPublished(const std::vector<int64_t>& file_ids);
  // Moves the readers' pointer of table (namespace, name) to the writers' pointer if no file of
  // `dataset` waits to be published (IcebergTableRow). Idempotent.
  Status AdvanceIcebergPointer(const std::string& dataset, const std::string& table_namespace,
                               const std::string& table_name);

  // Files of a dataset by kind ("" = all kinds) and state ("" = all states).
  Result<std::vector<CatalogFile>> Files(const std::string& dataset, const std::string& kind,
                                         const std::string& state);
  // Starts a dataset over (--restart), crash-safe: in ONE transaction forgets every task, its
  // dedup index, and marks every file of the dataset `superseded`; DeleteSuperseded() (exec/worker_output.h) then
  // deletes them, and recovery finishes that after a crash. Never deletes a file before the
  // catalog stopped listing it as live.
  // `iceberg_table`, when given, is dropped from the Iceberg catalog in the same transaction (the
  // next commit starts a new table), only if its row still is what the caller checked: a row that
  // moved on or appeared since is StatusCode::kAborted and nothing is reset.
  Status ResetDataset(const std::string& dataset,
                      const std::optional<IcebergTableDrop>& iceberg_table = {});
  // write.dedup index lookups: for each key (hi, lo), the time recorded for it, or INT64_MIN
  // when the index does not have it. `out` is resized to keys.size(). Each dataset's index is
  // its own table `"dedup_keys:<dataset>"` (k_hi, k_lo, time_ms), created by its first commit.
  Status DedupLookup(const std::string& dataset, const std::vector<DedupKey>& keys,
                     std::vector<int64_t>* out);
  // Keys in a dataset's dedup index (for `weir tasks`-style reporting and tests).
  Result<uint64_t> DedupKeyCount(const std::string& dataset);

  // Deletes catalog rows of files (e.g. error files consumed by record-level redrive).
  Status DeleteFiles(const std::vector<int64_t>& file_ids);

  // The committed schema of a dataset's table (exec/table_schema.h), as JSON text: the columns
  // (`[{"name":..,"type":..}]`) and partition columns (`["dt",..]`) its data files were written
  // with. nullopt when none is recorded (a new dataset, or a store from before schemas were
  // recorded). The `table_schemas` table is created on first use.
  struct RecordedSchema {
    std::string columns_json, partition_by_json;
  };
  Result<std::optional<RecordedSchema>> TableSchema(const std::string& dataset);
  // Records (replaces) the committed schema of a dataset. Call under the dataset lock.
  Status SetTableSchema(const std::string& dataset, const RecordedSchema& schema);

  // The Iceberg catalog (tables `iceberg_tables` and `iceberg_namespace_properties`, created on
  // first use). IcebergTable: nullopt when the table is not in the catalog.
  Result<std::optional<IcebergTableRow>> IcebergTable(const std::string& table_namespace,
                                                      const std::string& table_name);
  Result<std::vector<IcebergTableRow>> IcebergTables();
  // Moves a pointer outside a task commit (compaction, expire): one transaction.
  Status MoveIcebergPointer(const IcebergPointerMove& move);
  // Forgets a table (its files are the caller's business): `--restart` starts a new table.
  Status DropIcebergTable(const std::string& table_namespace, const std::string& table_name);

 private:
  Store(std::unique_ptr<SqlDb> db, std::string path, std::string base_dir);
  // Runs `body` as one write transaction; on PostgreSQL runs it again from the start after a
  // serialization failure or a lost connection (see above). `body` must be re-runnable: it
  // starts from scratch each time. Caller holds mu_.
  // `serializable` false: READ COMMITTED on PostgreSQL (SqlDb::Begin), for the task queue.
  Status Transact(const std::function<Status()>& body, bool serializable = true);
  // Deletes commit tokens over an hour old (PostgreSQL). Caller holds mu_.
  void PruneTokens();
  // Runs a read (no transaction); on PostgreSQL again after a lost connection. Caller holds mu_.
  Status Read(const std::function<Status()>& body);
  // Waits, and reconnects after kConnectionLost, when a failure of `kind` (SqlErrorKind) is
  // worth running again on PostgreSQL; false when not, or past `deadline`.
  bool Recover(SqlErrorKind kind, int attempt, std::chrono::steady_clock::time_point deadline,
               Status* why);
  // `sql` with the dialect's spelling of {id} {int} {now} {without_rowid} {is_not}.
  std::string Sql(const std::string& sql) const;
  Status HasColumn(const std::string& table, const std::string& column, bool* has);
  Status AddColumnIfMissing(const std::string& table, const std::string& column,
                            const std::string& type);
  // Runs DDL: on PostgreSQL in a transaction of its own under the cross-process DDL lock
  // (concurrent CREATE TABLE IF NOT EXISTS of one table can fail there); on SQLite as a plain
  // statement, as before. Caller holds mu_.
  Status Ddl(const std::string& sql);
  Status DdlLockLocked();  // inside a transaction: the cross-process DDL lock (PostgreSQL)
  std::string DedupTableName(const std::string& dataset, const std::string& suffix = "") const;
  // Commit's write.dedup step, in its transaction: adds `keys` (sorted by key, then time) to
  // `table`, or refuses (IsDedupRace) if one was there already within `within_ms` of a time.
  Status AddDedupKeysLocked(const std::string& table, const std::vector<DedupKey>& keys,
                            int64_t within_ms);
  Status Migrate();
  Status LoadMeta();
  std::string ToStored(const std::string& path) const;
  std::string FromStored(const std::string& path) const;
  Status EnsureSchemaTable();  // caller holds mu_
  Status EnsureIcebergTables();  // caller holds mu_
  Result<TaskRow> TaskLocked(int64_t task_id);  // caller holds mu_
  Status MovePointerLocked(const IcebergPointerMove& move);  // inside a transaction
  Status AdvancePointerLocked(const std::string& dataset, const std::string& table_namespace,
                              const std::string& table_name);  // caller holds mu_

  std::mutex mu_;
  std::unique_ptr<SqlDb> db_;
  bool iceberg_tables_ready_ = false;  // EnsureIcebergTables ran (under mu_)
  bool schema_table_ready_ = false;    // EnsureSchemaTable ran (under mu_)
  std::unordered_set<std::string> dedup_tables_ready_;  // datasets whose dedup table exists
  uint64_t transactions_ = 0;  // committed by Transact (under mu_), for PruneTokens
  std::string path_, base_, store_id_;
};

}  // namespace weir
