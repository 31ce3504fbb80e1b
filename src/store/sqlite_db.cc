// SqlDb on SQLite: one sqlite3 connection to a file (store/sql_db.h).
#include <sqlite3.h>

#include <string>

#include "store/sql_db.h"

namespace weir {

namespace {

SqlErrorKind KindOf(int rc, const std::string& msg) {
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return SqlErrorKind::kRetry;
  if (msg.find("no such table") != std::string::npos) return SqlErrorKind::kUndefinedTable;
  if (msg.find("duplicate column") != std::string::npos ||
      msg.find("already exists") != std::string::npos) {
    return SqlErrorKind::kDuplicateObject;
  }
  return SqlErrorKind::kOther;
}

class SqliteDb;

class SqliteStatement : public SqlStatement {
 public:
  SqliteStatement(sqlite3* db, const std::string& sql, SqlErrorKind* last_error)
      : db_(db), last_error_(last_error) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr);
    if (rc_ != SQLITE_OK) {
      prepare_error_ = sqlite3_errmsg(db);
      *last_error_ = KindOf(rc_, prepare_error_);
    }
  }
  ~SqliteStatement() override { sqlite3_finalize(st_); }

  SqlStatement& Bind(int i, int64_t v) override {
    if (st_) sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  SqlStatement& Bind(int i, const std::string& v) override {
    if (st_) sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  SqlStatement& BindNull(int i) override {
    if (st_) sqlite3_bind_null(st_, i);
    return *this;
  }
  bool Step(Status& err) override {
    if (rc_ != SQLITE_OK) {
      *last_error_ = KindOf(rc_, prepare_error_);
      err = Status::IOError("store: preparing statement: " + prepare_error_,
                            *last_error_ == SqlErrorKind::kRetry);
      return false;
    }
    *last_error_ = SqlErrorKind::kNone;
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) {
      changes_ = sqlite3_changes(db_);
      return false;
    }
    const std::string msg = sqlite3_errmsg(db_);
    *last_error_ = KindOf(rc, msg);
    err = Status::IOError("store: " + msg, *last_error_ == SqlErrorKind::kRetry);
    return false;
  }
  int64_t Changes() const override { return changes_; }
  void Reset() override {
    if (st_) sqlite3_reset(st_);
  }
  int64_t Int(int col) const override { return sqlite3_column_int64(st_, col); }
  bool IsNull(int col) const override { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
  std::string Text(int col) const override {
    const unsigned char* t = sqlite3_column_text(st_, col);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(st_, col)))
             : std::string();
  }

 private:
  sqlite3* db_;
  SqlErrorKind* last_error_;
  sqlite3_stmt* st_ = nullptr;
  int rc_ = SQLITE_OK;
  std::string prepare_error_;
  int64_t changes_ = 0;
};

class SqliteDb : public SqlDb {
 public:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  ~SqliteDb() override { sqlite3_close(db_); }
  SqlDialect dialect() const override { return SqlDialect::kSqlite; }
  std::unique_ptr<SqlStatement> Prepare(const std::string& sql) override {
    return std::make_unique<SqliteStatement>(db_, sql, &last_error_);
  }
  Status Exec(const std::string& sql) override {
    last_error_ = SqlErrorKind::kNone;
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : "unknown";
      sqlite3_free(err);
      last_error_ = KindOf(rc, msg);
      return Status::IOError("store: " + msg, last_error_ == SqlErrorKind::kRetry);
    }
    return Status::OK();
  }
  Status Begin(bool /*serializable*/) override { return Exec("BEGIN IMMEDIATE"); }
  Status Commit() override { return Exec("COMMIT"); }
  void Rollback() override { (void)Exec("ROLLBACK"); }
  SqlErrorKind last_error() const override { return last_error_; }
  Status Reconnect() override { return Status::OK(); }

 private:
  sqlite3* db_;
  SqlErrorKind last_error_ = SqlErrorKind::kNone;
};

}  // namespace

Result<std::unique_ptr<SqlDb>> OpenSqliteDb(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IOError("opening store " + path + ": " + msg, false);
  }
  sqlite3_busy_timeout(db, 10000);
  return std::unique_ptr<SqlDb>(std::make_unique<SqliteDb>(db));
}

}  // namespace weir
