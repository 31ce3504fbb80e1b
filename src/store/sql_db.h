// store/sql_db.h: the small SQL connection interface the task store (exec/store.h) is written
// against, with two implementations: SQLite (the embedded default, a file) and PostgreSQL
// (libpq, a server shared by several processes or machines).
//
// The store's SQL is written once. Placeholders are `?` (the PostgreSQL backend numbers them
// $1..$n). Statements must use the common subset of both dialects (INSERT ... ON CONFLICT,
// RETURNING, COALESCE, CASE); the few places where the dialects differ (DDL column types,
// timestamps) ask dialect(). Values are bound as 64-bit integers, text or NULL; results are read
// as integers or text.
//
// Errors are Status values (IOError, retryable when the same transaction may succeed when run
// again); last_error() classifies the most recent failure for the callers that must react to
// it: a transaction to run again from its start, a dropped connection, a table not there yet.
//
// Ownership: a SqlDb owns its connection; a SqlStatement borrows its SqlDb and must not outlive
// it. Thread-safety: none; one thread at a time per SqlDb (the Store serialises its calls).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "weir/status.h"

namespace weir {

enum class SqlDialect { kSqlite, kPostgres };

// What the last failure means for the caller.
enum class SqlErrorKind {
  kNone,
  kRetry,            // busy / serialization failure / deadlock: run the whole transaction again
  kConnectionLost,   // the server went away: Reconnect(), then run the transaction again
  kUndefinedTable,   // the statement names a table that does not exist
  kDuplicateObject,  // a column or table that is being added exists already
  kOther,
};

// One statement with `?` placeholders (1-based), run by Step().
class SqlStatement {
 public:
  virtual ~SqlStatement() = default;
  virtual SqlStatement& Bind(int i, int64_t v) = 0;
  virtual SqlStatement& Bind(int i, const std::string& v) = 0;
  virtual SqlStatement& BindNull(int i) = 0;
  // Runs the statement on the first call, then moves to the next row: true while a row is
  // there, false at the end or on failure (`err` set).
  virtual bool Step(Status& err) = 0;
  // Steps to the end.
  Status Run() {
    Status err;
    while (Step(err)) {
    }
    return err;
  }
  // Rows changed by the last run (INSERT/UPDATE/DELETE).
  virtual int64_t Changes() const = 0;
  // Runs again with new bindings (earlier bindings stay unless rebound).
  virtual void Reset() = 0;
  // The current row's columns, 0-based. NULL reads as 0 / "".
  virtual int64_t Int(int col) const = 0;
  virtual std::string Text(int col) const = 0;
  virtual bool IsNull(int col) const = 0;
};

class SqlDb {
 public:
  virtual ~SqlDb() = default;
  virtual SqlDialect dialect() const = 0;
  // Prepares `sql`; a statement that does not prepare reports it on Step() (and in status()).
  virtual std::unique_ptr<SqlStatement> Prepare(const std::string& sql) = 0;
  // Runs one or more statements separated by ';', without parameters.
  virtual Status Exec(const std::string& sql) = 0;
  // A write transaction: SQLite takes the write lock at once (BEGIN IMMEDIATE), PostgreSQL runs
  // SERIALIZABLE so that concurrent writers behave as if one ran after the other, or, with
  // `serializable` false, READ COMMITTED: for the task queue's claims and lease renewals, whose
  // row locks (FOR UPDATE SKIP LOCKED) already keep claimers apart and which would otherwise
  // fail each other's serialization checks when several workers claim at once.
  virtual Status Begin(bool serializable = true) = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;  // best effort; a broken connection has nothing to roll back
  // The kind of the last failure of any call on this connection or its statements.
  virtual SqlErrorKind last_error() const = 0;
  // Opens the connection again after kConnectionLost (a no-op for SQLite).
  virtual Status Reconnect() = 0;
};

// Opens (creating) the SQLite database file at `path`. SQLite is in WAL mode with
// synchronous=FULL, so a returned Commit() is durable.
Result<std::unique_ptr<SqlDb>> OpenSqliteDb(const std::string& path);
// Connects to PostgreSQL at `url` (postgresql://user@host:port/db?options, anything libpq
// accepts); the password comes from PGPASSWORD or ~/.pgpass, as libpq reads them.
Result<std::unique_ptr<SqlDb>> OpenPostgresDb(const std::string& url);

}  // namespace weir
