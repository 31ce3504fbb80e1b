#include "exec/store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>
#include <tuple>
#include <unordered_set>

#include "core/store_url.h"
#include "store/sql_db.h"

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

constexpr const char* kTaskCols =
    "id, dataset, entry, path, status, attempts, seq, ck_offset, ck_record, n_read, n_written, "
    "n_skipped, n_errored, n_bytes, n_files, duration_ms, reason, updated_at, ck_state, input_id, "
    "n_duplicates, lease_owner, leased_at, lease_until, lease_until - {now_ms}";

// The key of the cross-process lock (pg_advisory_xact_lock) that serialises weir's DDL on a
// PostgreSQL store: "weir" in ASCII.
constexpr int64_t kDdlLockKey = 0x77656972;

// How long a PostgreSQL store keeps trying an operation through serialization failures and a
// lost connection (a server restart) before the error reaches the caller.
constexpr auto kRecoverFor = std::chrono::seconds(60);

TaskRow ReadTask(const SqlStatement& s) {
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
  t.lease_owner = s.Text(21);
  t.leased_at_ms = s.Int(22);
  t.lease_until_ms = s.Int(23);
  t.lease_left_ms = s.Int(24);
  return t;
}

bool IsBusy(const Status& st) {
  return st.message().find("locked") != std::string::npos ||
         st.message().find("busy") != std::string::npos;
}

std::string RandomHex128() {
  std::random_device rd;
  std::mt19937_64 gen(
      (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(gen()),
                static_cast<unsigned long long>(gen()));
  return buf;
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
}

}  // namespace

Store::Store(std::unique_ptr<SqlDb> db, std::string path, std::string base_dir)
    : db_(std::move(db)), path_(std::move(path)), base_(std::move(base_dir)) {}

Store::~Store() = default;

bool Store::is_postgres() const { return db_->dialect() == SqlDialect::kPostgres; }

Result<std::unique_ptr<Store>> Store::Open(const std::string& db_path, const std::string& base_dir) {
  const bool pg = IsPostgresStoreUrl(db_path);
  if (!pg) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(db_path).parent_path(), ec);
    if (ec) {
      return Status::IOError("creating store folder for " + db_path + ": " + ec.message(), false);
    }
  }
  const std::string shown = pg ? RedactStoreUrl(db_path) : db_path;
  // Another process may be creating this store or switching it to WAL at this moment; some of
  // those steps answer SQLITE_BUSY without waiting on the busy handler, so wait here. A
  // PostgreSQL server may be starting.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    auto db = pg ? OpenPostgresDb(db_path) : OpenSqliteDb(db_path);
    if (!db.ok()) {
      if (pg && db.status().retryable() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      return db.status();
    }
    std::string base = base_dir.empty() || pg
                           ? std::string()
                           : std::filesystem::path(base_dir).lexically_normal().string();
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    std::unique_ptr<Store> store(new Store(std::move(db).value(), shown, base));
    Status st = store->Migrate();
    if (st.ok()) st = store->LoadMeta();
    if (st.ok()) return store;
    if ((IsBusy(st) || (pg && st.retryable())) && std::chrono::steady_clock::now() < deadline) {
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
    return st.WithContext("store " + shown);
  }
}

std::string Store::Sql(const std::string& sql) const {
  std::string out = sql;
  const bool pg = is_postgres();
  ReplaceAll(out, "{id}",
             pg ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
                : "INTEGER PRIMARY KEY AUTOINCREMENT");
  // PostgreSQL's INTEGER has 32 bits; SQLite's holds 64 whatever it is called.
  ReplaceAll(out, "{int}", pg ? "BIGINT" : "INTEGER");
  ReplaceAll(out, "{now}",
             pg ? "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
                : "strftime('%Y-%m-%dT%H:%M:%fZ','now')");
  // The store's clock in Unix milliseconds: leases are judged by one clock, the store's, not by
  // the workers' (which may disagree by seconds across a fleet).
  ReplaceAll(out, "{now_ms}",
             pg ? "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
                : "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)");
  ReplaceAll(out, "{without_rowid}", pg ? "" : " WITHOUT ROWID");
  ReplaceAll(out, "{is_not}", pg ? "IS DISTINCT FROM" : "IS NOT");
  return out;
}

bool Store::Recover(SqlErrorKind kind, int attempt, std::chrono::steady_clock::time_point deadline,
                    Status* why) {
  if (!is_postgres() || (kind != SqlErrorKind::kRetry && kind != SqlErrorKind::kConnectionLost)) {
    return false;
  }
  std::string lost = why->message();  // libpq's messages end lines with '\n'
  for (char& c : lost) {
    if (c == '\n') c = ' ';
  }
  for (;;) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    const int shift = std::min(attempt, 5);
    std::this_thread::sleep_for(std::chrono::milliseconds(50 << shift));  // 50 ms .. 1.6 s
    ++attempt;
    if (kind != SqlErrorKind::kConnectionLost) return true;
    Status st = db_->Reconnect();
    if (st.ok()) {
      spdlog::warn("store {}: the connection was lost ({}); reconnected, going on", path_, lost);
      return true;
    }
    *why = st;
  }
}

Status Store::Transact(const std::function<Status()>& body, bool serializable) {
  const auto deadline = std::chrono::steady_clock::now() + kRecoverFor;
  const bool pg = is_postgres();
  for (int attempt = 0;; ++attempt) {
    std::string token;
    Status st = db_->Begin(serializable);
    if (st.ok() && pg) {
      token = RandomHex128();
      auto s = db_->Prepare("INSERT INTO weir_txn_tokens (token) VALUES (?)");
      st = s->Bind(1, token).Run();
    }
    if (st.ok()) st = body();
    if (!st.ok()) {
      // The kind of the failing statement, if a statement failed (a refusal of the body's own,
      // such as a lost compare-and-set, leaves kNone: not retried here).
      const SqlErrorKind kind = db_->last_error();
      db_->Rollback();
      if (Recover(kind, attempt, deadline, &st)) continue;
      return st;
    }
    st = db_->Commit();
    if (st.ok()) {
      // A token matters only while its writer asks whether its COMMIT went through (under a
      // minute); a long-running stream would otherwise pile them up until the next Open.
      if (pg && ++transactions_ % 1024 == 0) PruneTokens();
      return st;
    }
    SqlErrorKind kind = db_->last_error();
    if (!pg) {
      db_->Rollback();
      return st;
    }
    if (kind == SqlErrorKind::kConnectionLost) {
      // The COMMIT went out but its answer did not come back: it may have committed. Running
      // the body again would apply it twice (counters, files), so ask whether it did.
      Status why = st;
      for (;;) {
        if (!Recover(kind, attempt++, deadline, &why)) return why;
        auto s = db_->Prepare("SELECT 1 FROM weir_txn_tokens WHERE token = ?");
        s->Bind(1, token);
        Status err;
        const bool committed = s->Step(err);
        if (!err.ok()) {
          why = err;
          kind = db_->last_error();
          continue;
        }
        if (committed) return Status::OK();
        break;  // it did not: run it again
      }
      continue;
    }
    db_->Rollback();
    if (Recover(kind, attempt, deadline, &st)) continue;
    return st;
  }
}

void Store::PruneTokens() {
  // Best effort, outside any transaction: a failure only leaves old tokens for the next time.
  (void)db_->Exec("DELETE FROM weir_txn_tokens WHERE created_at < now() - interval '1 hour'");
}

Status Store::Read(const std::function<Status()>& body) {
  const auto deadline = std::chrono::steady_clock::now() + kRecoverFor;
  for (int attempt = 0;; ++attempt) {
    Status st = body();
    if (st.ok() || !Recover(db_->last_error(), attempt, deadline, &st)) return st;
  }
}

Status Store::DdlLockLocked() {
  if (!is_postgres()) return Status::OK();
  auto s = db_->Prepare("SELECT pg_advisory_xact_lock(?)");
  return s->Bind(1, kDdlLockKey).Run();
}

Status Store::Ddl(const std::string& sql) {
  // SQLite: as one statement, outside a transaction: CREATE ... IF NOT EXISTS of a table that
  // exists takes no write lock, so read commands do not wait behind a committing writer.
  if (!is_postgres()) return db_->Exec(sql);
  return Transact([&]() -> Status {
    WEIR_RETURN_IF_ERROR(DdlLockLocked());
    return db_->Exec(sql);
  });
}

Status Store::HasColumn(const std::string& table, const std::string& column, bool* has) {
  auto s =
      db_->Prepare(is_postgres() ? "SELECT 1 FROM information_schema.columns WHERE table_schema = "
                                   "current_schema() AND table_name = ? AND column_name = ?"
                                 : "SELECT 1 FROM pragma_table_info(?) WHERE name = ?");
  s->Bind(1, table).Bind(2, column);
  Status err;
  *has = s->Step(err);
  return err;
}

Status Store::AddColumnIfMissing(const std::string& table, const std::string& column,
                                 const std::string& type) {
  bool has = false;
  WEIR_RETURN_IF_ERROR(HasColumn(table, column, &has));
  if (has) return Status::OK();
  Status st = Ddl("ALTER TABLE " + table + " ADD COLUMN " + column + " " + type);
  // Another process opening the same old store may have added it first.
  if (!st.ok() && db_->last_error() == SqlErrorKind::kDuplicateObject) return Status::OK();
  return st;
}

std::string Store::DedupTableName(const std::string& dataset, const std::string& suffix) const {
  // The dataset's dedup index table (or one of its indexes, `suffix`), quoted: dataset names are
  // [A-Za-z0-9_.-]+, so they never hold a double quote. One table per dataset makes --restart a
  // DROP TABLE and keeps the dataset name out of every key row.
  std::string name = "dedup_keys:" + dataset + (suffix.empty() ? "" : ":" + suffix);
  if (is_postgres() && name.size() > 63) {
    // PostgreSQL cuts names at 63 bytes, which could make two datasets share one table: keep a
    // prefix and a hash of the whole name.
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
    char hex[20];
    std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
    name = name.substr(0, 46) + "~" + hex;
  }
  return "\"" + name + "\"";
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
    bool done = false;
    WEIR_RETURN_IF_ERROR(Read([&]() -> Status {
      auto s = db_->Prepare(
          "SELECT (SELECT value FROM meta WHERE key = 'store_id'), "
          "(SELECT value FROM meta WHERE key = 'base_dir')");
      Status err;
      if (s->Step(err) && !s->Text(0).empty() && (base_.empty() || s->Text(1) == base_)) {
        store_id_ = s->Text(0);
        done = true;
      }
      return err;
    }));
    if (done) return Status::OK();
  }
  return Transact([&]() -> Status {
    auto get = [&](const char* key, std::string* value) -> Result<bool> {
      auto s = db_->Prepare("SELECT value FROM meta WHERE key = ?");
      s->Bind(1, std::string(key));
      Status err;
      bool found = s->Step(err);
      WEIR_RETURN_IF_ERROR(err);
      if (found) *value = s->Text(0);
      return found;
    };
    auto put = [&](const char* key, const std::string& value) -> Status {
      auto s = db_->Prepare(
          "INSERT INTO meta(key, value) VALUES (?, ?) "
          "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
      return s->Bind(1, std::string(key)).Bind(2, value).Run();
    };
    store_id_.clear();
    WEIR_ASSIGN_OR_RETURN(bool has_id, get("store_id", &store_id_));
    if (!has_id) {
      store_id_ = RandomHex128();
      WEIR_RETURN_IF_ERROR(put("store_id", store_id_));
    }
    if (base_.empty()) return Status::OK();
    std::string recorded;
    WEIR_ASSIGN_OR_RETURN(bool has_base, get("base_dir", &recorded));
    if (!has_base) {
      // A store from before relative paths: it is where it was made (a copy made before this
      // version keeps absolute paths into the original, which the ownership checks refuse).
      auto s = db_->Prepare("SELECT id, path, staging FROM files");
      std::vector<std::tuple<int64_t, std::string, std::string>> rows;
      Status err;
      while (s->Step(err)) rows.emplace_back(s->Int(0), s->Text(1), s->Text(2));
      WEIR_RETURN_IF_ERROR(err);
      for (const auto& [id, path, staging] : rows) {
        auto u = db_->Prepare("UPDATE files SET path = ?, staging = ? WHERE id = ?");
        WEIR_RETURN_IF_ERROR(
            u->Bind(1, ToStored(path)).Bind(2, ToStored(staging)).Bind(3, id).Run());
      }
    }
    if (recorded != base_) WEIR_RETURN_IF_ERROR(put("base_dir", base_));
    return Status::OK();
  });
}

Status Store::Migrate() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!is_postgres()) {
    // WAL + synchronous=FULL: a returned COMMIT is durable, which the publication step relies
    // on. A 64 MiB page cache (the default is 2 MiB): write.dedup probes and inserts one key per
    // record, and with the default cache most of them re-read pages through pread.
    WEIR_RETURN_IF_ERROR(
        db_->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536;"));
  } else {
    // The table of commit tokens (Transact) must exist before the first transaction, so it is
    // made in a transaction of its own, without a token; then old tokens are forgotten (a token
    // only matters while its writer is asking whether its COMMIT went through). Transact also
    // prunes every 1024 transactions.
    const auto deadline = std::chrono::steady_clock::now() + kRecoverFor;
    for (int attempt = 0;; ++attempt) {
      Status st = db_->Begin();
      if (st.ok()) st = DdlLockLocked();
      if (st.ok()) {
        st = db_->Exec(
            Sql("CREATE TABLE IF NOT EXISTS weir_txn_tokens (token TEXT PRIMARY KEY, "
                "created_at TIMESTAMPTZ NOT NULL DEFAULT now()); "
                "DELETE FROM weir_txn_tokens WHERE created_at < now() - interval '1 hour'"));
      }
      if (st.ok()) st = db_->Commit();
      if (st.ok()) break;
      const SqlErrorKind kind = db_->last_error();
      db_->Rollback();
      if (!Recover(kind, attempt, deadline, &st)) return st;
    }
  }
  const std::string ddl = Sql(R"sql(
CREATE TABLE IF NOT EXISTS tasks (
  id {id},
  dataset TEXT NOT NULL, entry TEXT NOT NULL, path TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'CREATED', attempts {int} NOT NULL DEFAULT 0,
  seq {int} NOT NULL DEFAULT 0,
  ck_offset {int} NOT NULL DEFAULT 0, ck_record {int} NOT NULL DEFAULT 0,
  ck_state TEXT NOT NULL DEFAULT '', input_id TEXT NOT NULL DEFAULT '',
  n_read {int} NOT NULL DEFAULT 0, n_written {int} NOT NULL DEFAULT 0,
  n_skipped {int} NOT NULL DEFAULT 0, n_errored {int} NOT NULL DEFAULT 0,
  n_bytes {int} NOT NULL DEFAULT 0, n_files {int} NOT NULL DEFAULT 0,
  duration_ms {int} NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT ({now}),
  updated_at TEXT NOT NULL DEFAULT ({now}),
  UNIQUE (dataset, entry));
CREATE TABLE IF NOT EXISTS files (
  id {id},
  dataset TEXT NOT NULL, task_id {int} NOT NULL, commit_seq {int} NOT NULL,
  kind TEXT NOT NULL, partition TEXT NOT NULL, path TEXT NOT NULL, staging TEXT NOT NULL,
  n_rows {int} NOT NULL, n_bytes {int} NOT NULL, state TEXT NOT NULL,
  committed_at TEXT NOT NULL DEFAULT ({now}));
CREATE INDEX IF NOT EXISTS files_by_dataset ON files(dataset, kind, state);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql");
  WEIR_RETURN_IF_ERROR(Ddl(ddl));
  // Stores created by older versions gain the columns added since.
  for (const char* col : {"ck_state", "input_id", "n_duplicates"}) {
    const std::string type = std::string(col).rfind("n_", 0) == 0
                                 ? Sql("{int} NOT NULL DEFAULT 0")
                                 : std::string("TEXT NOT NULL DEFAULT ''");
    WEIR_RETURN_IF_ERROR(AddColumnIfMissing("tasks", col, type));
  }
  // Leases (Store::ClaimNextTask) and the worker and submission registries (`weir worker`).
  WEIR_RETURN_IF_ERROR(AddColumnIfMissing("tasks", "lease_owner", "TEXT NOT NULL DEFAULT ''"));
  for (const char* col : {"leased_at", "lease_until"}) {
    WEIR_RETURN_IF_ERROR(AddColumnIfMissing("tasks", col, Sql("{int} NOT NULL DEFAULT 0")));
  }
  return Ddl(Sql(R"sql(
CREATE INDEX IF NOT EXISTS tasks_unfinished ON tasks(dataset, id)
  WHERE status IN ('CREATED', 'INTERRUPTED', 'RUNNING');
CREATE TABLE IF NOT EXISTS workers (
  id TEXT PRIMARY KEY, host TEXT NOT NULL, pid {int} NOT NULL, datasets TEXT NOT NULL,
  threads {int} NOT NULL, state TEXT NOT NULL, current TEXT NOT NULL,
  tasks_done {int} NOT NULL, n_records {int} NOT NULL, n_bytes {int} NOT NULL,
  started_ms {int} NOT NULL, heartbeat_ms {int} NOT NULL);
CREATE TABLE IF NOT EXISTS submitted_datasets (
  name TEXT PRIMARY KEY, file TEXT NOT NULL, yaml TEXT NOT NULL, digest TEXT NOT NULL,
  submitted_at TEXT NOT NULL DEFAULT ({now}));
)sql"));
}

Status Store::EnsureTasks(const std::string& dataset,
                          const std::vector<std::pair<std::string, std::string>>& entries) {
  std::lock_guard<std::mutex> lock(mu_);
  return Transact([&]() -> Status {
    // A file already owned by a task under another spelling of its entry ("./a.jsonl", written
    // before manifest entries were normalised) keeps that task: a second one would load it twice.
    std::unordered_set<std::string> known_paths;
    {
      auto q = db_->Prepare("SELECT path FROM tasks WHERE dataset = ?");
      q->Bind(1, dataset);
      Status err;
      while (q->Step(err)) known_paths.insert(q->Text(0));
      WEIR_RETURN_IF_ERROR(err);
    }
    auto s = db_->Prepare(
        "INSERT INTO tasks(dataset, entry, path) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
    for (const auto& [entry, path] : entries) {
      if (!known_paths.insert(path).second) continue;
      s->Reset();
      WEIR_RETURN_IF_ERROR(s->Bind(1, dataset).Bind(2, entry).Bind(3, path).Run());
    }
    return Status::OK();
  });
}

Result<std::vector<TaskRow>> Store::Tasks(const std::string& dataset) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TaskRow> out;
  WEIR_RETURN_IF_ERROR(Read([&]() -> Status {
    out.clear();
    auto s = db_->Prepare(Sql(std::string("SELECT ") + kTaskCols) +
                          " FROM tasks WHERE dataset = ? ORDER BY id");
    s->Bind(1, dataset);
    Status err;
    while (s->Step(err)) out.push_back(ReadTask(*s));
    return err;
  }));
  return out;
}

Result<TaskRow> Store::Task(int64_t task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<TaskRow> row = Status::Internal("unset");
  Status st = Read([&]() -> Status {
    row = TaskLocked(task_id);
    return row.ok() || row.status().code() == StatusCode::kNotFound ? Status::OK() : row.status();
  });
  if (!st.ok()) return st;
  return row;
}

Result<TaskRow> Store::TaskLocked(int64_t task_id) {
  auto s = db_->Prepare(Sql(std::string("SELECT ") + kTaskCols) + " FROM tasks WHERE id = ?");
  s->Bind(1, task_id);
  Status err;
  if (s->Step(err)) return ReadTask(*s);
  WEIR_RETURN_IF_ERROR(err);
  return Status::NotFound("no task " + std::to_string(task_id));
}

Status Store::StartAttempt(int64_t task_id, const std::string& input_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return Transact([&]() -> Status {
    auto s =
        db_->Prepare(Sql("UPDATE tasks SET status = 'RUNNING', attempts = attempts + 1, "
                         "input_id = CASE WHEN ? = '' THEN input_id ELSE ? END, "
                         "updated_at = {now} WHERE id = ?"));
    return s->Bind(1, input_id).Bind(2, input_id).Bind(3, task_id).Run();
  });
}

Result<TaskRow> Store::ClaimTask(int64_t task_id, const Lease* lease, int expect_attempts) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<TaskRow> row = Status::Internal("unset");
  WEIR_RETURN_IF_ERROR(Transact([&]() -> Status {
    auto u = db_->Prepare(
        Sql("UPDATE tasks SET status = 'RUNNING', attempts = attempts + 1, updated_at = {now}, "
            "lease_owner = CASE WHEN ? = 1 THEN ? ELSE lease_owner END, "
            "leased_at = CASE WHEN ? = 1 THEN {now_ms} ELSE leased_at END, "
            "lease_until = CASE WHEN ? = 1 THEN {now_ms} + ? ELSE lease_until END "
            "WHERE id = ? AND (? = 0 OR attempts = ?)"));
    const int64_t leased = lease != nullptr ? 1 : 0;
    u->Bind(1, leased).Bind(2, lease ? lease->owner : std::string()).Bind(3, leased);
    u->Bind(4, leased).Bind(5, lease ? lease->ttl_ms : int64_t{0}).Bind(6, task_id);
    u->Bind(7, int64_t{expect_attempts}).Bind(8, int64_t{expect_attempts});
    WEIR_RETURN_IF_ERROR(u->Run());
    if (expect_attempts > 0 && u->Changes() != 1) {
      return Status::Aborted("task " + std::to_string(task_id) + " " + kFencedMarker +
                             " since this one took it (attempt " +
                             std::to_string(expect_attempts) + ")");
    }
    row = TaskLocked(task_id);
    return row.status();
  }));
  return row;
}

bool IsFenced(const Status& st) {
  return st.code() == StatusCode::kAborted && !st.retryable() &&
         st.message().find(kFencedMarker) != std::string::npos;
}

bool IsDedupRace(const Status& st) {
  return st.code() == StatusCode::kAborted && !st.retryable() &&
         st.message().find(kDedupRaceMarker) != std::string::npos;
}

Result<std::optional<TaskRow>> Store::ClaimNextTask(const std::string& dataset,
                                                    const Lease& lease) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<TaskRow> out;
  WEIR_RETURN_IF_ERROR(Transact(
      [&]() -> Status {
        out.reset();
        // The first claimable task, locked; a task another claimer has locked meanwhile is
        // skipped (PostgreSQL), so N workers claiming at once take N different tasks.
        auto q = db_->Prepare(
            // The first condition matches the partial index tasks_unfinished, so a claim
            // never walks past the finished tasks (a queue of 100,000 drains in linear time).
            Sql(std::string("SELECT id FROM tasks WHERE dataset = ? AND status IN ('CREATED', "
                            "'INTERRUPTED', 'RUNNING') AND (status <> 'RUNNING' OR "
                            "lease_until < {now_ms}) ORDER BY id LIMIT 1") +
                (is_postgres() ? " FOR UPDATE SKIP LOCKED" : "")));
        q->Bind(1, dataset);
        Status err;
        if (!q->Step(err)) return err;
        const int64_t id = q->Int(0);
        WEIR_RETURN_IF_ERROR(q->Run());
        auto u = db_->Prepare(
            Sql("UPDATE tasks SET status = 'RUNNING', attempts = attempts + 1, "
                "updated_at = {now}, lease_owner = ?, leased_at = {now_ms}, "
                "lease_until = {now_ms} + ? WHERE id = ?"));
        WEIR_RETURN_IF_ERROR(u->Bind(1, lease.owner).Bind(2, lease.ttl_ms).Bind(3, id).Run());
        WEIR_ASSIGN_OR_RETURN(TaskRow row, TaskLocked(id));
        out = std::move(row);
        return Status::OK();
      },
      /*serializable=*/false));
  return out;
}

Status Store::Heartbeat(const WorkerRow& w, int64_t ttl_ms,
                        std::vector<std::pair<int64_t, int>>* held) {
  std::lock_guard<std::mutex> lock(mu_);
  return Transact(
      [&]() -> Status {
        if (held) held->clear();
        auto up = db_->Prepare(Sql(
            "INSERT INTO workers (id, host, pid, datasets, threads, state, current, tasks_done, "
            "n_records, n_bytes, started_ms, heartbeat_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "{now_ms}, {now_ms}) ON CONFLICT (id) DO UPDATE SET state = excluded.state, "
            "current = excluded.current, tasks_done = excluded.tasks_done, "
            "n_records = excluded.n_records, n_bytes = excluded.n_bytes, "
            "heartbeat_ms = excluded.heartbeat_ms"));
        up->Bind(1, w.id).Bind(2, w.host).Bind(3, w.pid).Bind(4, w.datasets);
        up->Bind(5, int64_t{w.threads}).Bind(6, w.state).Bind(7, w.current);
        up->Bind(8, static_cast<int64_t>(w.tasks_done)).Bind(9, static_cast<int64_t>(w.records));
        up->Bind(10, static_cast<int64_t>(w.bytes));
        WEIR_RETURN_IF_ERROR(up->Run());
        auto renew = db_->Prepare(
            Sql("UPDATE tasks SET lease_until = {now_ms} + ? WHERE lease_owner = ? AND "
                "status = 'RUNNING'"));
        WEIR_RETURN_IF_ERROR(renew->Bind(1, ttl_ms).Bind(2, w.id).Run());
        if (held) {
          auto q = db_->Prepare(
              "SELECT id, attempts FROM tasks WHERE lease_owner = ? AND status = 'RUNNING'");
          q->Bind(1, w.id);
          Status err;
          while (q->Step(err)) held->emplace_back(q->Int(0), static_cast<int>(q->Int(1)));
          WEIR_RETURN_IF_ERROR(err);
        }
        return Status::OK();
      },
      /*serializable=*/false);
}

Status Store::WorkerStopped(const std::string& worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return Transact([&]() -> Status {
    auto s = db_->Prepare(
        Sql("UPDATE workers SET state = 'stopped', current = '', heartbeat_ms = {now_ms} "
            "WHERE id = ?"));
    return s->Bind(1, worker_id).Run();
  });
}

Result<std::vector<WorkerRow>> Store::Workers(int64_t within_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<WorkerRow> out;
  WEIR_RETURN_IF_ERROR(Read([&]() -> Status {
    out.clear();
    auto q = db_->Prepare(Sql(
        "SELECT id, host, pid, datasets, threads, state, current, tasks_done, n_records, "
        "n_bytes, started_ms, heartbeat_ms, {now_ms} - heartbeat_ms FROM workers "
        "WHERE ? = 0 OR heartbeat_ms >= {now_ms} - ? ORDER BY heartbeat_ms DESC, id"));
    q->Bind(1, within_ms).Bind(2, within_ms);
    Status err;
    while (q->Step(err)) {
      WorkerRow w;
      w.id = q->Text(0);
      w.host = q->Text(1);
      w.pid = q->Int(2);
      w.datasets = q->Text(3);
      w.threads = static_cast<int>(q->Int(4));
      w.state = q->Text(5);
      w.current = q->Text(6);
      w.tasks_done = static_cast<uint64_t>(q->Int(7));
      w.records = static_cast<uint64_t>(q->Int(8));
      w.bytes = static_cast<uint64_t>(q->Int(9));
      w.started_ms = q->Int(10);
      w.heartbeat_ms = q->Int(11);
      w.heartbeat_age_ms = q->Int(12);
      out.push_back(std::move(w));
    }
    return err;
  }));
  return out;
}

Result<TaskCensus> Store::Census(const std::string& dataset) {
  std::lock_guard<std::mutex> lock(mu_);
  TaskCensus c;
  WEIR_RETURN_IF_ERROR(Read([&]() -> Status {
    c = TaskCensus{};
    auto q = db_->Prepare(Sql(
        "SELECT status, CASE WHEN status = 'RUNNING' AND lease_until >= {now_ms} THEN 1 ELSE 0 "
        "END, COUNT(*) FROM tasks WHERE dataset = ? GROUP BY 1, 2"));
    q->Bind(1, dataset);
    Status err;
    while (q->Step(err)) {
      const std::string status = q->Text(0);
      const bool live = q->Int(1) != 0;
      const auto n = static_cast<uint64_t>(q->Int(2));
      c.total += n;
      if (status == "COMPLETED") {
        c.completed += n;
      } else if (status == "ERROR") {
        c.error += n;
      } else if (status == "RETIRED") {
        c.retired += n;
      } else if (live) {
        c.leased += n;
      } else {
        c.claimable += n;
      }
    }
    return err;
  }));
  return c;
}

Status Store::Submit(const SubmittedDataset& d) {
  std::lock_guard<std::mutex> lock(mu_);
  return Transact([&]() -> Status {
    auto s = db_->Prepare(
        Sql("INSERT INTO submitted_datasets (name, file, yaml, digest) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET file = excluded.file, yaml = excluded.yaml, "
            "digest = excluded.digest, submitted_at = {now}"));
    return s->Bind(1, d.name).Bind(2, d.file).Bind(3, d.yaml).Bind(4, d.digest).Run();
  });
}

Result<std::vector<SubmittedDataset>> Store::Submitted() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SubmittedDataset> out;
  WEIR_RETURN_IF_ERROR(Read([&]() -> Status {
    out.clear();
    auto q = db_->Prepare(
        "SELECT name, file, yaml, digest, submitted_at FROM submitted_datasets ORDER BY name");
    Status err;
    while (q->Step(err)) {
      out.push_back({q->Text(0), q->Text(1), q->Text(2), q->Text(3), q->Text(4)});
    }
    return err;
  }));
  return out;
}

Result<std::optional<SubmittedDataset>> Store::Submitted(const std::string& name) {
  WEIR_ASSIGN_OR_RETURN(auto all, Submitted());
  for (auto& d : all) {
    if (d.name == name) return std::optional<SubmittedDataset>(std::move(d));
  }
  return std::optional<SubmittedDataset>();
}

Status Store::SetTaskPath(int64_t task_id, const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  return Transact([&]() -> Status {
    auto s = db_->Prepare("UPDATE tasks SET path = ? WHERE id = ? AND path <> ?");
    return s->Bind(1, path).Bind(2, task_id).Bind(3, path).Run();
  });
}

Status Store::SetStatus(int64_t task_id, TaskStatus status, const std::string& reason,
                        int owner_attempt) {
  std::lock_guard<std::mutex> lock(mu_);
  return Transact([&]() -> Status {
    auto s =
        db_->Prepare(Sql("UPDATE tasks SET status = ?, reason = ?, "
                         "updated_at = {now} WHERE id = ? AND (? = 0 OR attempts = ?)"));
    return s->Bind(1, std::string(TaskStatusName(status)))
        .Bind(2, reason)
        .Bind(3, task_id)
        .Bind(4, int64_t{owner_attempt})
        .Bind(5, int64_t{owner_attempt})
        .Run();
  });
}

Result<bool> Store::RetireTask(int64_t task_id, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  bool retired = false;
  WEIR_RETURN_IF_ERROR(Transact([&]() -> Status {
    auto s = db_->Prepare(
        Sql("UPDATE tasks SET attempts = attempts + CASE WHEN status = 'RUNNING' THEN 1 ELSE 0 "
            "END, status = 'RETIRED', reason = ?, lease_owner = '', lease_until = 0, "
            "updated_at = {now} WHERE id = ? AND status NOT IN ('COMPLETED', 'RETIRED')"));
    WEIR_RETURN_IF_ERROR(s->Bind(1, reason).Bind(2, task_id).Run());
    retired = s->Changes() == 1;
    return Status::OK();
  }));
  return retired;
}

Status Store::Commit(const CommitRequest& req, std::vector<int64_t>* file_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  if (req.iceberg) WEIR_RETURN_IF_ERROR(EnsureIcebergTables());
  const std::string dedup_table = DedupTableName(req.dataset);
  const bool create_dedup = !req.dedup_keys.empty() && dedup_tables_ready_.count(req.dataset) == 0;
  // In key order, inserts walk the b-tree forward instead of touching pages at random.
  std::vector<DedupKey> keys = req.dedup_keys;
  std::sort(keys.begin(), keys.end(), [](const DedupKey& x, const DedupKey& y) {
    return std::make_tuple(static_cast<int64_t>(x.hi), static_cast<int64_t>(x.lo), x.time_ms) <
           std::make_tuple(static_cast<int64_t>(y.hi), static_cast<int64_t>(y.lo), y.time_ms);
  });
  auto body = [&]() -> Status {
    if (file_ids) file_ids->clear();
    for (const CatalogFile& f : req.files) {
      auto s = db_->Prepare(
          "INSERT INTO files(dataset, task_id, commit_seq, kind, partition, path, staging, "
          "n_rows, n_bytes, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
      s->Bind(1, req.dataset)
          .Bind(2, f.task_id)
          .Bind(3, int64_t{0})
          .Bind(4, f.kind)
          .Bind(5, f.partition)
          .Bind(6, ToStored(f.path))
          .Bind(7, ToStored(f.staging))
          .Bind(8, static_cast<int64_t>(f.rows))
          .Bind(9, static_cast<int64_t>(f.bytes))
          // Already in place (compaction): published at once.
          .Bind(10, std::string(f.state == "published" ? "published" : "pending"));
      Status err;
      const bool got = s->Step(err);
      WEIR_RETURN_IF_ERROR(err);
      if (!got) return Status::Internal("store: INSERT ... RETURNING gave no id");
      const int64_t id = s->Int(0);
      WEIR_RETURN_IF_ERROR(s->Run());  // finish the statement
      if (file_ids) file_ids->push_back(id);
    }
    for (int64_t id : req.supersede) {
      auto s = db_->Prepare("UPDATE files SET state = 'superseded' WHERE id = ?");
      WEIR_RETURN_IF_ERROR(s->Bind(1, id).Run());
    }
    for (int64_t id : req.replaced) {
      // Only a live file can be replaced: a lost race with another compaction aborts.
      auto s =
          db_->Prepare("UPDATE files SET state = 'replaced' WHERE id = ? AND state = 'published'");
      WEIR_RETURN_IF_ERROR(s->Bind(1, id).Run());
      if (s->Changes() != 1) {
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
      auto s = db_->Prepare(
          Sql("UPDATE tasks SET seq = ?, ck_offset = ?, ck_record = ?, n_read = ?, n_written = ?, "
              "n_skipped = ?, n_errored = ?, n_bytes = ?, n_files = n_files + ?, duration_ms = ?, "
              "status = COALESCE(?, status), reason = CASE WHEN ? IS NULL THEN reason ELSE ? END, "
              "updated_at = {now}, ck_state = ?, "
              "input_id = CASE WHEN ? = '' THEN input_id ELSE ? END, n_duplicates = ? "
              "WHERE id = ? AND (? = 0 OR attempts = ?)"));
      s->Bind(1, u.seq)
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
        s->Bind(11, std::string(TaskStatusName(*u.status))).Bind(12, int64_t{1}).Bind(13, u.reason);
      } else {
        s->BindNull(11).BindNull(12).BindNull(13);
      }
      s->Bind(14, c.state).Bind(15, u.input_id).Bind(16, u.input_id);
      s->Bind(17, static_cast<int64_t>(c.duplicates)).Bind(18, u.task_id);
      s->Bind(19, int64_t{u.owner_attempt}).Bind(20, int64_t{u.owner_attempt});
      WEIR_RETURN_IF_ERROR(s->Run());
      if (u.owner_attempt > 0 && s->Changes() != 1) {
        // Not retryable: planning again cannot help, the task is someone else's now.
        return Status::Aborted("task " + std::to_string(u.task_id) + " " + kFencedMarker +
                               " since this one took it (attempt " +
                               std::to_string(u.owner_attempt) +
                               "): this writer may not commit it any more");
      }
    }
    if (!keys.empty()) {
      if (create_dedup) {
        WEIR_RETURN_IF_ERROR(DdlLockLocked());
        WEIR_RETURN_IF_ERROR(db_->Exec(
            Sql("CREATE TABLE IF NOT EXISTS " + dedup_table +
                " (k_hi {int} NOT NULL, k_lo {int} NOT NULL, time_ms {int} NOT NULL, "
                "PRIMARY KEY (k_hi, k_lo)){without_rowid}; "
                "CREATE INDEX IF NOT EXISTS " +
                DedupTableName(req.dataset, "by_time") + " ON " + dedup_table + "(time_ms)")));
      }
      WEIR_RETURN_IF_ERROR(AddDedupKeysLocked(dedup_table, keys, req.dedup_within_ms));
      if (req.dedup_within_ms > 0) {
        // The newest time comes from the time index: one seek, not a scan.
        auto e =
            db_->Prepare("DELETE FROM " + dedup_table +
                         " WHERE time_ms < (SELECT max(time_ms) FROM " + dedup_table + ") - ?");
        WEIR_RETURN_IF_ERROR(e->Bind(1, req.dedup_within_ms).Run());
      }
    }
    return Status::OK();
  };
  Status st = Transact(body);
  if (!st.ok()) {
    if (file_ids) file_ids->clear();
    return st;
  }
  if (create_dedup) dedup_tables_ready_.insert(req.dataset);
  return st;
}

Status Store::AdvanceIcebergPointer(const std::string& dataset,
                                    const std::string& table_namespace,
                                    const std::string& table_name) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(EnsureIcebergTables());
  return Transact([&]() { return AdvancePointerLocked(dataset, table_namespace, table_name); });
}

Status Store::AdvancePointerLocked(const std::string& dataset, const std::string& table_namespace,
                                   const std::string& table_name) {
  auto s = db_->Prepare(
      Sql("UPDATE iceberg_tables SET previous_metadata_location = metadata_location, "
          "metadata_location = weir_committed_location "
          "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? "
          "AND weir_committed_location IS NOT NULL "
          "AND metadata_location {is_not} weir_committed_location "
          "AND NOT EXISTS (SELECT 1 FROM files WHERE dataset = ? AND state = 'pending')"));
  return s->Bind(1, IcebergTableRow().catalog_name)
      .Bind(2, table_namespace)
      .Bind(3, table_name)
      .Bind(4, dataset)
      .Run();
}

Status Store::MarkPublished(const std::vector<int64_t>& file_ids) {
  if (file_ids.empty()) return Status::OK();
  std::lock_guard<std::mutex> lock(mu_);
  return Transact([&]() -> Status {
    auto s = db_->Prepare("UPDATE files SET state = 'published' WHERE id = ?");
    for (int64_t id : file_ids) {
      s->Reset();
      WEIR_RETURN_IF_ERROR(s->Bind(1, id).Run());
    }
    return Status::OK();
  });
}

Result<std::vector<CatalogFile>> Store::Files(const std::string& dataset, const std::string& kind,
                                              const std::string& state) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<CatalogFile> out;
  WEIR_RETURN_IF_ERROR(Read([&]() -> Status {
    out.clear();
    auto s = db_->Prepare(
        "SELECT id, task_id, kind, partition, path, staging, n_rows, n_bytes, state FROM files "
        "WHERE dataset = ? AND (? = '' OR kind = ?) AND (? = '' OR state = ?) ORDER BY id");
    s->Bind(1, dataset).Bind(2, kind).Bind(3, kind).Bind(4, state).Bind(5, state);
    Status err;
    while (s->Step(err)) {
      CatalogFile f;
      f.id = s->Int(0);
      f.task_id = s->Int(1);
      f.kind = s->Text(2);
      f.partition = s->Text(3);
      f.path = FromStored(s->Text(4));
      f.staging = FromStored(s->Text(5));
      f.rows = static_cast<uint64_t>(s->Int(6));
      f.bytes = static_cast<uint64_t>(s->Int(7));
      f.state = s->Text(8);
      out.push_back(std::move(f));
    }
    return err;
  }));
  return out;
}

Status Store::ResetDataset(const std::string& dataset,
                           const std::optional<IcebergTableDrop>& iceberg_table) {
  std::lock_guard<std::mutex> lock(mu_);
  if (iceberg_table) WEIR_RETURN_IF_ERROR(EnsureIcebergTables());
  Status st = Transact([&]() -> Status {
    // Dropping the dataset's dedup table is one catalog change, however many keys it holds.
    WEIR_RETURN_IF_ERROR(DdlLockLocked());
    WEIR_RETURN_IF_ERROR(db_->Exec("DROP TABLE IF EXISTS " + DedupTableName(dataset)));
    for (const char* sql : {"UPDATE files SET state = 'superseded' WHERE dataset = ?",
                            "DELETE FROM tasks WHERE dataset = ?"}) {
      auto s = db_->Prepare(sql);
      WEIR_RETURN_IF_ERROR(s->Bind(1, dataset).Run());
    }
    if (!iceberg_table) return Status::OK();
    // Compare-and-delete: the catalog row is keyed by table name alone, and a row the caller did
    // not check may be another dataset's table (or one moved on by `weir lake compact`).
    std::optional<std::string> now;
    {
      auto s = db_->Prepare(
          "SELECT COALESCE(weir_committed_location, metadata_location, '') FROM iceberg_tables "
          "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?");
      s->Bind(1, IcebergTableRow().catalog_name)
          .Bind(2, iceberg_table->table_namespace)
          .Bind(3, iceberg_table->table_name);
      Status err;
      if (s->Step(err)) now = s->Text(0);
      WEIR_RETURN_IF_ERROR(err);
    }
    if (now.value_or("") != iceberg_table->expected) {
      return Status::Aborted(
          "the Iceberg catalog entry " + iceberg_table->table_namespace + "." +
          iceberg_table->table_name + " now points at " + (now ? *now : std::string("nothing")) +
          ", not at " +
          (iceberg_table->expected.empty() ? std::string("nothing") : iceberg_table->expected) +
          " as checked before the reset; nothing was reset, run again");
    }
    if (!now) return Status::OK();
    auto d = db_->Prepare(
        "DELETE FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND "
        "table_name = ? AND COALESCE(weir_committed_location, metadata_location, '') = ?");
    return d->Bind(1, IcebergTableRow().catalog_name)
        .Bind(2, iceberg_table->table_namespace)
        .Bind(3, iceberg_table->table_name)
        .Bind(4, *now)
        .Run();
  });
  // Whether or not the drop committed, the table must be made again before its next use.
  dedup_tables_ready_.erase(dataset);
  return st;
}

Status Store::DeleteFiles(const std::vector<int64_t>& file_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  return Transact([&]() -> Status {
    auto s = db_->Prepare("DELETE FROM files WHERE id = ?");
    for (int64_t id : file_ids) {
      s->Reset();
      WEIR_RETURN_IF_ERROR(s->Bind(1, id).Run());
    }
    return Status::OK();
  });
}

}  // namespace weir
