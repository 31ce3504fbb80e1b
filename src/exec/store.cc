#include "exec/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <tuple>
#include <random>
#include <thread>
#include <unordered_set>

namespace weir {

const char* TaskStatusName(TaskStatus s) {
  switch (s) {
    case TaskStatus::kCreated: return "CREATED";
    case TaskStatus::kRunning: return "RUNNING";
    case TaskStatus::kCompleted: return "COMPLETED";
    case TaskStatus::kError: return "ERROR";
    case TaskStatus::kInterrupted: return "INTERRUPTED";
    case TaskStatus::kRetired: return "RETIRED";
  }
  return "?";
}

namespace {

TaskStatus ParseStatus(const std::string& s) {
  if (s == "RUNNING") return TaskStatus::kRunning;
  if (s == "COMPLETED") return TaskStatus::kCompleted;
  if (s == "ERROR") return TaskStatus::kError;
  if (s == "INTERRUPTED") return TaskStatus::kInterrupted;
  if (s == "RETIRED") return TaskStatus::kRetired;
  return TaskStatus::kCreated;
}

// A prepared statement that finalizes itself; binds by 1-based position.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &st_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Status status() const {
    if (rc_ == SQLITE_OK) return Status::OK();
    return Status::Internal(std::string("store: preparing statement: ") + sqlite3_errmsg(db_));
  }
  Stmt& Bind(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); return *this; }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Returns true while rows come; false at the end; sets `err` on failure.
  bool Step(Status& err) {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) {
      bool busy = rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
      err = Status::IOError(std::string("store: ") + sqlite3_errmsg(db_), busy);
    }
    return false;
  }
  Status Run() {
    Status err;
    while (Step(err)) {
    }
    return err;
  }
  // Makes the statement runnable again with new bindings (a loop over many keys).
  void Reset() { sqlite3_reset(st_); }
  int64_t Int(int col) const { return sqlite3_column_int64(st_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(st_, col);
    return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
  int rc_;
};

constexpr const char* kTaskCols =
    "id, dataset, entry, path, status, attempts, seq, ck_offset, ck_record, n_read, n_written, "
    "n_skipped, n_errored, n_bytes, n_files, duration_ms, reason, updated_at, ck_state, input_id, "
    "n_duplicates";

// The dataset's dedup index table (or one of its indexes, `suffix`), quoted: dataset names are
// [A-Za-z0-9_.-]+, so they never hold a double quote. One table per dataset makes --restart a
// DROP TABLE and keeps the dataset name out of every key row.
std::string DedupTableName(const std::string& dataset, const std::string& suffix = "") {
  return "\"dedup_keys:" + dataset + (suffix.empty() ? "" : ":" + suffix) + "\"";
}

TaskRow ReadTask(const Stmt& s) {
  TaskRow t;
  t.id = s.Int(0);
  t.dataset = s.Text(1);
  t.entry = s.Text(2);
  t.path = s.Text(3);
  t.status = ParseStatus(s.Text(4));
  t.attempts = static_cast<int>(s.Int(5));
  t.seq = s.Int(6);
  t.counters.offset = static_cast<uint64_t>(s.Int(7));
  t.counters.record_number = static_cast<uint64_t>(s.Int(8));
  t.counters.read = static_cast<uint64_t>(s.Int(9));
  t.counters.written = static_cast<uint64_t>(s.Int(10));
  t.counters.skipped = static_cast<uint64_t>(s.Int(11));
  t.counters.errored = static_cast<uint64_t>(s.Int(12));
  t.counters.bytes = static_cast<uint64_t>(s.Int(13));
  t.counters.files = static_cast<uint64_t>(s.Int(14));
  t.duration_ms = s.Int(15);
  t.reason = s.Text(16);
  t.updated_at = s.Text(17);
  t.counters.state = s.Text(18);
  t.input_id = s.Text(19);
  t.counters.duplicates = static_cast<uint64_t>(s.Int(20));
  return t;
}

}  // namespace

namespace {
bool IsBusy(const Status& st) {
  return st.message().find("locked") != std::string::npos ||
         st.message().find("busy") != std::string::npos;
}
}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::string& db_path, const std::string& base_dir) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(db_path).parent_path(), ec);
  if (ec) return Status::IOError("creating store folder for " + db_path + ": " + ec.message(), false);
  // Another process may be creating this store or switching it to WAL at this moment; some of
  // those steps answer SQLITE_BUSY without waiting on the busy handler, so wait here.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(db_path.c_str(), &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      return Status::IOError("opening store " + db_path + ": " + msg, false);
    }
    sqlite3_busy_timeout(db, 10000);
    std::string base = base_dir.empty() ? std::string()
                                        : std::filesystem::path(base_dir).lexically_normal().string();
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    std::unique_ptr<Store> store(new Store(db, db_path, base));
    Status st = store->Migrate();
    if (st.ok()) st = store->LoadMeta();
    if (st.ok()) return store;
    if (IsBusy(st) && std::chrono::steady_clock::now() < deadline) {
      store.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    if (st.message().find("not a database") != std::string::npos ||
        st.message().find("malformed") != std::string::npos) {
      return Status::Corruption("store " + db_path + " (the `store` setting) is not a usable weir "
                                "store: " + st.message() + "; restore it from a backup, or move it "
                                "away to start a new one (weir then refuses to write over the "
                                "lake folders the old store owned)");
    }
    return st.WithContext("store " + db_path);
  }
}

std::string Store::ToStored(const std::string& path) const {
  if (base_.empty() || path.size() <= base_.size() + 1 || path.compare(0, base_.size(), base_) != 0 ||
      path[base_.size()] != '/') {
    return path;
  }
  return path.substr(base_.size() + 1);
}

std::string Store::FromStored(const std::string& path) const {
  // Absolute paths and object URLs (a lake on S3) are stored as they are.
  if (path.empty() || path[0] == '/' || base_.empty() || path.rfind("s3://", 0) == 0) return path;
  return base_ + "/" + path;
}

Status Store::LoadMeta() {
  std::lock_guard<std::mutex> lock(mu_);
  {
    // The common case reads only, so read commands never wait for a writer's lock here.
    Stmt s(db_, "SELECT (SELECT value FROM meta WHERE key = 'store_id'), "
                "(SELECT value FROM meta WHERE key = 'base_dir')");
    WEIR_RETURN_IF_ERROR(s.status());
    Status err;
    if (s.Step(err) && !s.Text(0).empty() && (base_.empty() || s.Text(1) == base_)) {
      store_id_ = s.Text(0);
      return Status::OK();
    }
    WEIR_RETURN_IF_ERROR(err);
  }
  WEIR_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> Status {
    auto get = [&](const char* key, std::string* value) -> Result<bool> {
      Stmt s(db_, "SELECT value FROM meta WHERE key = ?");
      WEIR_RETURN_IF_ERROR(s.status());
      s.Bind(1, std::string(key));
      Status err;
      bool found = s.Step(err);
      WEIR_RETURN_IF_ERROR(err);
      if (found) *value = s.Text(0);
      return found;
    };
    auto put = [&](const char* key, const std::string& value) -> Status {
      Stmt s(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
      WEIR_RETURN_IF_ERROR(s.status());
      return s.Bind(1, std::string(key)).Bind(2, value).Run();
    };
    WEIR_ASSIGN_OR_RETURN(bool has_id, get("store_id", &store_id_));
    if (!has_id) {
      std::random_device rd;
      std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                          static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
      char buf[40];
      std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(gen()),
                    static_cast<unsigned long long>(gen()));
      store_id_ = buf;
      WEIR_RETURN_IF_ERROR(put("store_id", store_id_));
    }
    if (base_.empty()) return Status::OK();
    std::string recorded;
    WEIR_ASSIGN_OR_RETURN(bool has_base, get("base_dir", &recorded));
    if (!has_base) {
      // A store from before relative paths: it is where it was made (a copy made before this
      // version keeps absolute paths into the original, which the ownership checks refuse).
      Stmt s(db_, "SELECT id, path, staging FROM files");
      WEIR_RETURN_IF_ERROR(s.status());
      std::vector<std::tuple<int64_t, std::string, std::string>> rows;
      Status err;
      while (s.Step(err)) rows.emplace_back(s.Int(0), s.Text(1), s.Text(2));
      WEIR_RETURN_IF_ERROR(err);
      for (const auto& [id, path, staging] : rows) {
        Stmt u(db_, "UPDATE files SET path = ?, staging = ? WHERE id = ?");
        WEIR_RETURN_IF_ERROR(u.status());
        WEIR_RETURN_IF_ERROR(u.Bind(1, ToStored(path)).Bind(2, ToStored(staging)).Bind(3, id).Run());
      }
    }
    if (recorded != base_) WEIR_RETURN_IF_ERROR(put("base_dir", base_));
    return Status::OK();
  };
  Status st = body();
  if (!st.ok()) {
    (void)Exec("ROLLBACK");
    return st;
  }
  return Exec("COMMIT");
}

Store::~Store() { sqlite3_close(db_); }

Status Store::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown";
    sqlite3_free(err);
    return Status::IOError("store: " + msg, msg.find("locked") != std::string::npos);
  }
  return Status::OK();
}

Status Store::Migrate() {
  // WAL + synchronous=FULL: a returned COMMIT is durable, which the publication step relies on.
  // A 64 MiB page cache (the default is 2 MiB): write.dedup probes and inserts one key per
  // record, and with the default cache most of them re-read pages through pread.
  WEIR_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536;"));
  WEIR_RETURN_IF_ERROR(Exec(R"sql(
CREATE TABLE IF NOT EXISTS tasks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dataset TEXT NOT NULL, entry TEXT NOT NULL, path TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'CREATED', attempts INTEGER NOT NULL DEFAULT 0,
  seq INTEGER NOT NULL DEFAULT 0,
  ck_offset INTEGER NOT NULL DEFAULT 0, ck_record INTEGER NOT NULL DEFAULT 0,
  ck_state TEXT NOT NULL DEFAULT '', input_id TEXT NOT NULL DEFAULT '',
  n_read INTEGER NOT NULL DEFAULT 0, n_written INTEGER NOT NULL DEFAULT 0,
  n_skipped INTEGER NOT NULL DEFAULT 0, n_errored INTEGER NOT NULL DEFAULT 0,
  n_bytes INTEGER NOT NULL DEFAULT 0, n_files INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  UNIQUE (dataset, entry));
CREATE TABLE IF NOT EXISTS files (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dataset TEXT NOT NULL, task_id INTEGER NOT NULL, commit_seq INTEGER NOT NULL,
  kind TEXT NOT NULL, partition TEXT NOT NULL, path TEXT NOT NULL, staging TEXT NOT NULL,
  n_rows INTEGER NOT NULL, n_bytes INTEGER NOT NULL, state TEXT NOT NULL,
  committed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
CREATE INDEX IF NOT EXISTS files_by_dataset ON files(dataset, kind, state);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql"));
  // Stores created by older versions gain the columns added since.
  for (const char* col : {"ck_state", "input_id", "n_duplicates"}) {
    Stmt s(db_, "SELECT 1 FROM pragma_table_info('tasks') WHERE name = ?");
    WEIR_RETURN_IF_ERROR(s.status());
    s.Bind(1, std::string(col));
    Status err;
    bool has = s.Step(err);
    WEIR_RETURN_IF_ERROR(err);
    if (!has) {
      const std::string type = std::string(col).rfind("n_", 0) == 0 ? " INTEGER NOT NULL DEFAULT 0"
                                                                   : " TEXT NOT NULL DEFAULT ''";
      Status st = Exec(std::string("ALTER TABLE tasks ADD COLUMN ") + col + type);
      // Another process opening the same old store may have added it first.
      if (!st.ok() && st.message().find("duplicate column") == std::string::npos) return st;
    }
  }
  return Status::OK();
}

Status Store::EnsureTasks(const std::string& dataset,
                          const std::vector<std::pair<std::string, std::string>>& entries) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  // A file already owned by a task under another spelling of its entry ("./a.jsonl", written
  // before manifest entries were normalised) keeps that task: a second one would load it twice.
  std::unordered_set<std::string> known_paths;
  {
    Stmt q(db_, "SELECT path FROM tasks WHERE dataset = ?");
    WEIR_RETURN_IF_ERROR(q.status());
    q.Bind(1, dataset);
    Status err;
    while (q.Step(err)) known_paths.insert(q.Text(0));
    if (!err.ok()) {
      (void)Exec("ROLLBACK");
      return err;
    }
  }
  for (const auto& [entry, path] : entries) {
    if (!known_paths.insert(path).second) continue;
    Stmt s(db_, "INSERT OR IGNORE INTO tasks(dataset, entry, path) VALUES (?, ?, ?)");
    WEIR_RETURN_IF_ERROR(s.status());
    Status st = s.Bind(1, dataset).Bind(2, entry).Bind(3, path).Run();
    if (!st.ok()) {
      (void)Exec("ROLLBACK");
      return st;
    }
  }
  return Exec("COMMIT");
}

Result<std::vector<TaskRow>> Store::Tasks(const std::string& dataset) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = std::string("SELECT ") + kTaskCols + " FROM tasks WHERE dataset = ? ORDER BY id";
  Stmt s(db_, sql.c_str());
  WEIR_RETURN_IF_ERROR(s.status());
  s.Bind(1, dataset);
  std::vector<TaskRow> out;
  Status err;
  while (s.Step(err)) out.push_back(ReadTask(s));
  WEIR_RETURN_IF_ERROR(err);
  return out;
}

Result<TaskRow> Store::Task(int64_t task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return TaskLocked(task_id);
}

Result<TaskRow> Store::TaskLocked(int64_t task_id) {
  std::string sql = std::string("SELECT ") + kTaskCols + " FROM tasks WHERE id = ?";
  Stmt s(db_, sql.c_str());
  WEIR_RETURN_IF_ERROR(s.status());
  s.Bind(1, task_id);
  Status err;
  if (s.Step(err)) return ReadTask(s);
  WEIR_RETURN_IF_ERROR(err);
  return Status::NotFound("no task " + std::to_string(task_id));
}

Status Store::StartAttempt(int64_t task_id, const std::string& input_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "UPDATE tasks SET status = 'RUNNING', attempts = attempts + 1, "
         "input_id = CASE WHEN ? = '' THEN input_id ELSE ? END, "
         "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?");
  WEIR_RETURN_IF_ERROR(s.status());
  return s.Bind(1, input_id).Bind(2, input_id).Bind(3, task_id).Run();
}

Result<TaskRow> Store::ClaimTask(int64_t task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> Result<TaskRow> {
    Stmt u(db_,
           "UPDATE tasks SET status = 'RUNNING', attempts = attempts + 1, "
           "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?");
    WEIR_RETURN_IF_ERROR(u.status());
    WEIR_RETURN_IF_ERROR(u.Bind(1, task_id).Run());
    return TaskLocked(task_id);
  };
  auto row = body();
  if (!row.ok()) {
    (void)Exec("ROLLBACK");
    return row;
  }
  WEIR_RETURN_IF_ERROR(Exec("COMMIT"));
  return row;
}

Status Store::SetTaskPath(int64_t task_id, const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "UPDATE tasks SET path = ? WHERE id = ? AND path <> ?");
  WEIR_RETURN_IF_ERROR(s.status());
  return s.Bind(1, path).Bind(2, task_id).Bind(3, path).Run();
}

Status Store::SetStatus(int64_t task_id, TaskStatus status, const std::string& reason,
                        int owner_attempt) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "UPDATE tasks SET status = ?, reason = ?, "
         "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ? AND (? = 0 OR attempts = ?)");
  WEIR_RETURN_IF_ERROR(s.status());
  return s.Bind(1, std::string(TaskStatusName(status)))
      .Bind(2, reason)
      .Bind(3, task_id)
      .Bind(4, int64_t{owner_attempt})
      .Bind(5, int64_t{owner_attempt})
      .Run();
}

Status Store::Commit(const CommitRequest& req, std::vector<int64_t>* file_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  if (req.iceberg) WEIR_RETURN_IF_ERROR(EnsureIcebergTables());
  WEIR_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> Status {
    for (const CatalogFile& f : req.files) {
      Stmt s(db_,
             "INSERT INTO files(dataset, task_id, commit_seq, kind, partition, path, staging, "
             "n_rows, n_bytes, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      WEIR_RETURN_IF_ERROR(s.status());
      WEIR_RETURN_IF_ERROR(s.Bind(1, req.dataset)
                               .Bind(2, f.task_id)
                               .Bind(3, int64_t{0})
                               .Bind(4, f.kind)
                               .Bind(5, f.partition)
                               .Bind(6, ToStored(f.path))
                               .Bind(7, ToStored(f.staging))
                               .Bind(8, static_cast<int64_t>(f.rows))
                               .Bind(9, static_cast<int64_t>(f.bytes))
                               // Already in place (compaction): published at once.
                               .Bind(10, std::string(f.state == "published" ? "published"
                                                                             : "pending"))
                               .Run());
      if (file_ids) file_ids->push_back(sqlite3_last_insert_rowid(db_));
    }
    for (int64_t id : req.supersede) {
      Stmt s(db_, "UPDATE files SET state = 'superseded' WHERE id = ?");
      WEIR_RETURN_IF_ERROR(s.status());
      WEIR_RETURN_IF_ERROR(s.Bind(1, id).Run());
    }
    for (int64_t id : req.replaced) {
      // Only a live file can be replaced: a lost race with another compaction aborts.
      Stmt s(db_, "UPDATE files SET state = 'replaced' WHERE id = ? AND state = 'published'");
      WEIR_RETURN_IF_ERROR(s.status());
      WEIR_RETURN_IF_ERROR(s.Bind(1, id).Run());
      if (sqlite3_changes(db_) != 1) {
        return Status(StatusCode::kAborted,
                      "conflict: file " + std::to_string(id) + " is no longer live", true);
      }
    }
    if (req.iceberg) {
      WEIR_RETURN_IF_ERROR(MovePointerLocked(*req.iceberg));
      // Nothing of the dataset waits for publication (a compaction, expire, or a commit with
      // no data files of its own after a dead writer's were finished): readers see it at once.
      WEIR_RETURN_IF_ERROR(AdvancePointerLocked(req.dataset, req.iceberg->table_namespace,
                                                req.iceberg->table_name));
    }
    for (const TaskUpdate& u : req.tasks) {
      const TaskCounters& c = u.counters;
      Stmt s(db_,
             "UPDATE tasks SET seq = ?, ck_offset = ?, ck_record = ?, n_read = ?, n_written = ?, "
             "n_skipped = ?, n_errored = ?, n_bytes = ?, n_files = n_files + ?, duration_ms = ?, "
             "status = COALESCE(?, status), reason = CASE WHEN ? IS NULL THEN reason ELSE ? END, "
             "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'), ck_state = ?, "
             "input_id = CASE WHEN ? = '' THEN input_id ELSE ? END, n_duplicates = ? "
             "WHERE id = ? AND (? = 0 OR attempts = ?)");
      WEIR_RETURN_IF_ERROR(s.status());
      s.Bind(1, u.seq)
          .Bind(2, static_cast<int64_t>(c.offset))
          .Bind(3, static_cast<int64_t>(c.record_number))
          .Bind(4, static_cast<int64_t>(c.read))
          .Bind(5, static_cast<int64_t>(c.written))
          .Bind(6, static_cast<int64_t>(c.skipped))
          .Bind(7, static_cast<int64_t>(c.errored))
          .Bind(8, static_cast<int64_t>(c.bytes))
          .Bind(9, static_cast<int64_t>(u.files_added))
          .Bind(10, u.duration_ms);
      if (u.status) {
        s.Bind(11, std::string(TaskStatusName(*u.status))).Bind(12, int64_t{1}).Bind(13, u.reason);
      }
      s.Bind(14, c.state).Bind(15, u.input_id).Bind(16, u.input_id);
      s.Bind(17, static_cast<int64_t>(c.duplicates)).Bind(18, u.task_id);
      s.Bind(19, int64_t{u.owner_attempt}).Bind(20, int64_t{u.owner_attempt});
      WEIR_RETURN_IF_ERROR(s.Run());
      if (u.owner_attempt > 0 && sqlite3_changes(db_) != 1) {
        // Not retryable: planning again cannot help, the task is someone else's now.
        return Status::Aborted("task " + std::to_string(u.task_id) +
                               " was taken by another writer since this one took it (attempt " +
                               std::to_string(u.owner_attempt) +
                               "): this writer may not commit it any more");
      }
    }
    if (!req.dedup_keys.empty()) {
      const std::string table = DedupTableName(req.dataset);
      WEIR_RETURN_IF_ERROR(Exec("CREATE TABLE IF NOT EXISTS " + table +
                                " (k_hi INTEGER NOT NULL, k_lo INTEGER NOT NULL, time_ms INTEGER "
                                "NOT NULL, PRIMARY KEY (k_hi, k_lo)) WITHOUT ROWID; "
                                "CREATE INDEX IF NOT EXISTS " + DedupTableName(req.dataset, "by_time") +
                                " ON " + table + "(time_ms)"));
      // In key order, inserts walk the b-tree forward instead of touching pages at random.
      std::vector<DedupKey> keys = req.dedup_keys;
      std::sort(keys.begin(), keys.end(), [](const DedupKey& x, const DedupKey& y) {
        return std::make_pair(static_cast<int64_t>(x.hi), static_cast<int64_t>(x.lo)) <
               std::make_pair(static_cast<int64_t>(y.hi), static_cast<int64_t>(y.lo));
      });
      const std::string insert = "INSERT INTO " + table +
                                 "(k_hi, k_lo, time_ms) VALUES (?, ?, ?) ON CONFLICT(k_hi, k_lo) "
                                 "DO UPDATE SET time_ms = max(time_ms, excluded.time_ms)";
      Stmt s(db_, insert.c_str());
      WEIR_RETURN_IF_ERROR(s.status());
      for (const DedupKey& k : keys) {
        s.Bind(1, static_cast<int64_t>(k.hi)).Bind(2, static_cast<int64_t>(k.lo)).Bind(3, k.time_ms);
        WEIR_RETURN_IF_ERROR(s.Run());
        s.Reset();
      }
      if (req.dedup_within_ms > 0) {
        // The newest time comes from the time index: one seek, not a scan.
        const std::string evict = "DELETE FROM " + table +
                                  " WHERE time_ms < (SELECT max(time_ms) FROM " + table + ") - ?";
        Stmt e(db_, evict.c_str());
        WEIR_RETURN_IF_ERROR(e.status());
        WEIR_RETURN_IF_ERROR(e.Bind(1, req.dedup_within_ms).Run());
      }
    }
    return Status::OK();
  };
  Status st = body();
  if (!st.ok()) {
    if (file_ids) file_ids->clear();
    (void)Exec("ROLLBACK");
    return st;
  }
  return Exec("COMMIT");
}

Status Store::AdvanceIcebergPointer(const std::string& dataset,
                                    const std::string& table_namespace,
                                    const std::string& table_name) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(EnsureIcebergTables());
  return AdvancePointerLocked(dataset, table_namespace, table_name);
}

Status Store::AdvancePointerLocked(const std::string& dataset, const std::string& table_namespace,
                                   const std::string& table_name) {
  Stmt s(db_,
         "UPDATE iceberg_tables SET previous_metadata_location = metadata_location, "
         "metadata_location = weir_committed_location "
         "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? "
         "AND weir_committed_location IS NOT NULL "
         "AND metadata_location IS NOT weir_committed_location "
         "AND NOT EXISTS (SELECT 1 FROM files WHERE dataset = ? AND state = 'pending')");
  WEIR_RETURN_IF_ERROR(s.status());
  return s.Bind(1, IcebergTableRow().catalog_name)
      .Bind(2, table_namespace)
      .Bind(3, table_name)
      .Bind(4, dataset)
      .Run();
}

Status Store::MarkPublished(const std::vector<int64_t>& file_ids) {
  if (file_ids.empty()) return Status::OK();
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  for (int64_t id : file_ids) {
    Stmt s(db_, "UPDATE files SET state = 'published' WHERE id = ?");
    Status st = s.status().ok() ? s.Bind(1, id).Run() : s.status();
    if (!st.ok()) {
      (void)Exec("ROLLBACK");
      return st;
    }
  }
  return Exec("COMMIT");
}

Result<std::vector<CatalogFile>> Store::Files(const std::string& dataset, const std::string& kind,
                                              const std::string& state) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "SELECT id, task_id, kind, partition, path, staging, n_rows, n_bytes, state FROM files "
         "WHERE dataset = ? AND (? = '' OR kind = ?) AND (? = '' OR state = ?) ORDER BY id");
  WEIR_RETURN_IF_ERROR(s.status());
  s.Bind(1, dataset).Bind(2, kind).Bind(3, kind).Bind(4, state).Bind(5, state);
  std::vector<CatalogFile> out;
  Status err;
  while (s.Step(err)) {
    CatalogFile f;
    f.id = s.Int(0);
    f.task_id = s.Int(1);
    f.kind = s.Text(2);
    f.partition = s.Text(3);
    f.path = FromStored(s.Text(4));
    f.staging = FromStored(s.Text(5));
    f.rows = static_cast<uint64_t>(s.Int(6));
    f.bytes = static_cast<uint64_t>(s.Int(7));
    f.state = s.Text(8);
    out.push_back(std::move(f));
  }
  WEIR_RETURN_IF_ERROR(err);
  return out;
}

Status Store::ResetDataset(const std::string& dataset,
                           const std::optional<IcebergTableDrop>& iceberg_table) {
  std::lock_guard<std::mutex> lock(mu_);
  if (iceberg_table) WEIR_RETURN_IF_ERROR(EnsureIcebergTables());
  WEIR_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  // Dropping the dataset's dedup table is one catalog change, however many keys it holds.
  if (Status st = Exec("DROP TABLE IF EXISTS " + DedupTableName(dataset)); !st.ok()) {
    (void)Exec("ROLLBACK");
    return st;
  }
  for (const char* sql : {"UPDATE files SET state = 'superseded' WHERE dataset = ?",
                          "DELETE FROM tasks WHERE dataset = ?"}) {
    Stmt s(db_, sql);
    Status st = s.status().ok() ? s.Bind(1, dataset).Run() : s.status();
    if (!st.ok()) {
      (void)Exec("ROLLBACK");
      return st;
    }
  }
  if (iceberg_table) {
    // Compare-and-delete: the catalog row is keyed by table name alone, and a row the caller did
    // not check may be another dataset's table (or one moved on by `weir lake compact`).
    Status st;
    std::optional<std::string> now;
    {
      Stmt s(db_,
             "SELECT COALESCE(weir_committed_location, metadata_location, '') FROM iceberg_tables "
             "WHERE catalog_name = ? "
             "AND table_namespace = ? AND table_name = ?");
      st = s.status();
      if (st.ok()) {
        s.Bind(1, IcebergTableRow().catalog_name)
            .Bind(2, iceberg_table->table_namespace)
            .Bind(3, iceberg_table->table_name);
        if (s.Step(st)) now = s.Text(0);
      }
    }
    if (st.ok() && now.value_or("") != iceberg_table->expected) {
      st = Status::Aborted("the Iceberg catalog entry " + iceberg_table->table_namespace + "." +
                           iceberg_table->table_name + " now points at " +
                           (now ? *now : std::string("nothing")) + ", not at " +
                           (iceberg_table->expected.empty() ? std::string("nothing")
                                                            : iceberg_table->expected) +
                           " as checked before the reset; nothing was reset, run again");
    }
    if (st.ok() && now) {
      Stmt d(db_,
             "DELETE FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND "
             "table_name = ? AND COALESCE(weir_committed_location, metadata_location, '') = ?");
      st = d.status().ok() ? d.Bind(1, IcebergTableRow().catalog_name)
                                 .Bind(2, iceberg_table->table_namespace)
                                 .Bind(3, iceberg_table->table_name)
                                 .Bind(4, *now)
                                 .Run()
                           : d.status();
    }
    if (!st.ok()) {
      (void)Exec("ROLLBACK");
      return st;
    }
  }
  return Exec("COMMIT");
}

Status Store::DedupLookup(const std::string& dataset, const std::vector<DedupKey>& keys,
                          std::vector<int64_t>* out) {
  out->assign(keys.size(), INT64_MIN);
  if (keys.empty()) return Status::OK();
  // Sorted probes walk the primary-key b-tree in order, so neighbouring probes share pages.
  std::vector<uint32_t> order(keys.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return static_cast<int64_t>(keys[a].hi) < static_cast<int64_t>(keys[b].hi);
  });
  std::lock_guard<std::mutex> lock(mu_);
  const std::string sql =
      "SELECT time_ms FROM " + DedupTableName(dataset) + " WHERE k_hi = ? AND k_lo = ?";
  Stmt s(db_, sql.c_str());
  if (!s.status().ok()) {
    // No table yet: no commit has written a key.
    if (std::string(sqlite3_errmsg(db_)).find("no such table") != std::string::npos) {
      return Status::OK();
    }
    return s.status();
  }
  for (uint32_t i : order) {
    s.Bind(1, static_cast<int64_t>(keys[i].hi)).Bind(2, static_cast<int64_t>(keys[i].lo));
    Status err;
    if (s.Step(err)) (*out)[i] = s.Int(0);
    WEIR_RETURN_IF_ERROR(err);
    s.Reset();
  }
  return Status::OK();
}

Result<uint64_t> Store::DedupKeyCount(const std::string& dataset) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string sql = "SELECT count(*) FROM " + DedupTableName(dataset);
  Stmt s(db_, sql.c_str());
  if (!s.status().ok()) {
    if (std::string(sqlite3_errmsg(db_)).find("no such table") != std::string::npos) {
      return uint64_t{0};
    }
    return s.status();
  }
  Status err;
  uint64_t n = s.Step(err) ? static_cast<uint64_t>(s.Int(0)) : 0;
  WEIR_RETURN_IF_ERROR(err);
  return n;
}

Status Store::DeleteFiles(const std::vector<int64_t>& file_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  for (int64_t id : file_ids) {
    Stmt s(db_, "DELETE FROM files WHERE id = ?");
    Status st = s.status().ok() ? s.Bind(1, id).Run() : s.status();
    if (!st.ok()) {
      (void)Exec("ROLLBACK");
      return st;
    }
  }
  return Exec("COMMIT");
}

// --- committed table schemas (exec/table_schema.h) ---
// Kept apart from Migrate(): the table is created on first use, so stores of any age gain it.

Status Store::EnsureSchemaTable() {
  return Exec(
      "CREATE TABLE IF NOT EXISTS table_schemas (dataset TEXT PRIMARY KEY, "
      "columns_json TEXT NOT NULL, partition_by_json TEXT NOT NULL, "
      "updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))");
}

Result<std::optional<Store::RecordedSchema>> Store::TableSchema(const std::string& dataset) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(EnsureSchemaTable());
  Stmt s(db_, "SELECT columns_json, partition_by_json FROM table_schemas WHERE dataset = ?");
  WEIR_RETURN_IF_ERROR(s.status());
  s.Bind(1, dataset);
  Status err;
  if (!s.Step(err)) {
    WEIR_RETURN_IF_ERROR(err);
    return std::optional<RecordedSchema>();
  }
  return std::optional<RecordedSchema>(RecordedSchema{s.Text(0), s.Text(1)});
}

Status Store::SetTableSchema(const std::string& dataset, const RecordedSchema& schema) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(EnsureSchemaTable());
  Stmt s(db_,
         "INSERT INTO table_schemas (dataset, columns_json, partition_by_json) VALUES (?, ?, ?) "
         "ON CONFLICT(dataset) DO UPDATE SET columns_json = excluded.columns_json, "
         "partition_by_json = excluded.partition_by_json, "
         "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')");
  WEIR_RETURN_IF_ERROR(s.status());
  return s.Bind(1, dataset).Bind(2, schema.columns_json).Bind(3, schema.partition_by_json).Run();
}

// --- the Iceberg catalog (Iceberg's JDBC catalog tables) ---

Status Store::EnsureIcebergTables() {
  if (iceberg_tables_ready_) return Status::OK();
  WEIR_RETURN_IF_ERROR(Exec(
      "CREATE TABLE IF NOT EXISTS iceberg_tables (catalog_name VARCHAR(255) NOT NULL, "
      "table_namespace VARCHAR(255) NOT NULL, table_name VARCHAR(255) NOT NULL, "
      "metadata_location VARCHAR(1000), previous_metadata_location VARCHAR(1000), "
      "iceberg_type VARCHAR(5), "
      "PRIMARY KEY (catalog_name, table_namespace, table_name));"
      "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (catalog_name VARCHAR(255) NOT NULL, "
      "namespace VARCHAR(255) NOT NULL, property_key VARCHAR(255), property_value VARCHAR(1000), "
      "PRIMARY KEY (catalog_name, namespace, property_key))"));
  // weir's own column (JDBC catalogs ignore columns they do not know): the writers' pointer.
  // Stores from before it have one pointer; NULL reads as metadata_location.
  Stmt info(db_, "SELECT 1 FROM pragma_table_info('iceberg_tables') WHERE name = 'weir_committed_location'");
  WEIR_RETURN_IF_ERROR(info.status());
  Status err;
  const bool has = info.Step(err);
  WEIR_RETURN_IF_ERROR(err);
  if (!has) {
    Status added = Exec("ALTER TABLE iceberg_tables ADD COLUMN weir_committed_location VARCHAR(1000)");
    // Another process on the same old store may have added it a moment ago.
    if (!added.ok() && added.message().find("duplicate column") == std::string::npos) return added;
  }
  iceberg_tables_ready_ = true;
  return Status::OK();
}

Status Store::MovePointerLocked(const IcebergPointerMove& move) {
  const IcebergTableRow row;  // for the catalog name
  if (move.expected.empty()) {
    Stmt s(db_,
           "INSERT OR IGNORE INTO iceberg_tables (catalog_name, table_namespace, table_name, "
           "metadata_location, previous_metadata_location, iceberg_type, weir_committed_location) "
           "VALUES (?, ?, ?, NULL, NULL, 'TABLE', ?)");
    WEIR_RETURN_IF_ERROR(s.status());
    WEIR_RETURN_IF_ERROR(s.Bind(1, row.catalog_name)
                             .Bind(2, move.table_namespace)
                             .Bind(3, move.table_name)
                             .Bind(4, move.new_location)
                             .Run());
    if (sqlite3_changes(db_) == 0) {
      return Status(StatusCode::kAborted,
                    "iceberg commit conflict: table " + move.table_namespace + "." +
                        move.table_name + " was created by another writer",
                    true);
    }
    Stmt ns(db_,
            "INSERT OR IGNORE INTO iceberg_namespace_properties (catalog_name, namespace, "
            "property_key, property_value) VALUES (?, ?, 'exists', 'true')");
    WEIR_RETURN_IF_ERROR(ns.status());
    return ns.Bind(1, row.catalog_name).Bind(2, move.table_namespace).Run();
  }
  Stmt s(db_,
         "UPDATE iceberg_tables SET weir_committed_location = ? "
         "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? "
         "AND COALESCE(weir_committed_location, metadata_location) = ?");
  WEIR_RETURN_IF_ERROR(s.status());
  WEIR_RETURN_IF_ERROR(s.Bind(1, move.new_location)
                           .Bind(2, row.catalog_name)
                           .Bind(3, move.table_namespace)
                           .Bind(4, move.table_name)
                           .Bind(5, move.expected)
                           .Run());
  if (sqlite3_changes(db_) == 0) {
    return Status(StatusCode::kAborted,
                  "iceberg commit conflict: table " + move.table_namespace + "." +
                      move.table_name + " no longer points at " + move.expected,
                  true);
  }
  return Status::OK();
}

Result<std::optional<IcebergTableRow>> Store::IcebergTable(const std::string& table_namespace,
                                                           const std::string& table_name) {
  WEIR_ASSIGN_OR_RETURN(auto all, IcebergTables());
  for (auto& r : all) {
    if (r.table_namespace == table_namespace && r.table_name == table_name) {
      return std::optional<IcebergTableRow>(std::move(r));
    }
  }
  return std::optional<IcebergTableRow>();
}

Result<std::vector<IcebergTableRow>> Store::IcebergTables() {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(EnsureIcebergTables());
  Stmt s(db_,
         "SELECT catalog_name, table_namespace, table_name, "
         "COALESCE(weir_committed_location, metadata_location, ''), "
         "COALESCE(previous_metadata_location, ''), COALESCE(metadata_location, '') "
         "FROM iceberg_tables WHERE catalog_name = ? ORDER BY table_namespace, table_name");
  WEIR_RETURN_IF_ERROR(s.status());
  s.Bind(1, IcebergTableRow().catalog_name);
  std::vector<IcebergTableRow> out;
  Status err;
  while (s.Step(err)) {
    IcebergTableRow r;
    r.catalog_name = s.Text(0);
    r.table_namespace = s.Text(1);
    r.table_name = s.Text(2);
    r.metadata_location = s.Text(3);
    r.previous_metadata_location = s.Text(4);
    r.published_location = s.Text(5);
    out.push_back(std::move(r));
  }
  WEIR_RETURN_IF_ERROR(err);
  return out;
}

Status Store::MoveIcebergPointer(const IcebergPointerMove& move) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(EnsureIcebergTables());
  WEIR_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status st = MovePointerLocked(move);
  if (st.ok()) st = AdvancePointerLocked(move.dataset, move.table_namespace, move.table_name);
  if (!st.ok()) {
    (void)Exec("ROLLBACK");
    return st;
  }
  return Exec("COMMIT");
}

Status Store::DropIcebergTable(const std::string& table_namespace, const std::string& table_name) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(EnsureIcebergTables());
  Stmt s(db_,
         "DELETE FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND "
         "table_name = ?");
  WEIR_RETURN_IF_ERROR(s.status());
  return s.Bind(1, IcebergTableRow().catalog_name).Bind(2, table_namespace).Bind(3, table_name).Run();
}

}  // namespace weir
