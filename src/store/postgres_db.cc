// SqlDb on PostgreSQL through libpq (store/sql_db.h). Statements run with PQexecParams in text
// format, parameters typed (bigint, text) so that `? IS NULL` and `? = ''` need no casts.
#include <libpq-fe.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "core/store_url.h"
#include "store/sql_db.h"

namespace weir {

namespace {

constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

// `?` -> $1, $2, ... outside quoted strings and identifiers.
std::string NumberPlaceholders(const std::string& sql, int* count) {
  std::string out;
  out.reserve(sql.size() + 16);
  char quote = 0;
  int n = 0;
  for (char c : sql) {
    if (quote) {
      if (c == quote) quote = 0;
      out += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '?') {
      out += '$';
      out += std::to_string(++n);
    } else {
      out += c;
    }
  }
  *count = n;
  return out;
}

SqlErrorKind KindOf(PGconn* conn, const PGresult* res) {
  if (PQstatus(conn) == CONNECTION_BAD) return SqlErrorKind::kConnectionLost;
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  if (state == nullptr) return SqlErrorKind::kConnectionLost;  // no answer at all
  const std::string s = state;
  if (s == "40001" || s == "40P01") return SqlErrorKind::kRetry;
  // 08: connection exceptions; 57P01-03: the server is shutting down or starting up.
  if (s.rfind("08", 0) == 0 || s == "57P01" || s == "57P02" || s == "57P03") {
    return SqlErrorKind::kConnectionLost;
  }
  if (s == "42P01") return SqlErrorKind::kUndefinedTable;
  if (s == "42701" || s == "42P07" || s == "42710") return SqlErrorKind::kDuplicateObject;
  return SqlErrorKind::kOther;
}

std::string ErrorText(PGconn* conn, const PGresult* res) {
  std::string msg = res ? PQresultErrorMessage(res) : "";
  if (msg.empty()) msg = PQerrorMessage(conn);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (msg.empty()) msg = "no answer from the server";
  return msg;
}

class PostgresStatement : public SqlStatement {
 public:
  PostgresStatement(PGconn* conn, const std::string& sql, SqlErrorKind* last_error)
      : conn_(conn), last_error_(last_error) {
    int n = 0;
    sql_ = NumberPlaceholders(sql, &n);
    values_.resize(static_cast<size_t>(n));
    types_.assign(static_cast<size_t>(n), kTextOid);
  }
  ~PostgresStatement() override { PQclear(res_); }

  SqlStatement& Bind(int i, int64_t v) override {
    if (Valid(i)) {
      values_[i - 1] = std::to_string(v);
      types_[i - 1] = kInt8Oid;
    }
    return *this;
  }
  SqlStatement& Bind(int i, const std::string& v) override {
    if (Valid(i)) {
      values_[i - 1] = v;
      types_[i - 1] = kTextOid;
    }
    return *this;
  }
  SqlStatement& BindNull(int i) override {
    if (Valid(i)) values_[i - 1].reset();
    return *this;
  }
  bool Step(Status& err) override {
    if (!ran_) {
      ran_ = true;
      *last_error_ = SqlErrorKind::kNone;
      std::vector<const char*> ptrs;
      ptrs.reserve(values_.size());
      for (const auto& v : values_) ptrs.push_back(v ? v->c_str() : nullptr);
      PQclear(res_);
      res_ = PQexecParams(conn_, sql_.c_str(), static_cast<int>(values_.size()), types_.data(),
                          ptrs.data(), nullptr, nullptr, 0);
      const ExecStatusType st = res_ ? PQresultStatus(res_) : PGRES_FATAL_ERROR;
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        *last_error_ = KindOf(conn_, res_);
        const bool retry =
            *last_error_ == SqlErrorKind::kRetry || *last_error_ == SqlErrorKind::kConnectionLost;
        err = Status::IOError("store: " + ErrorText(conn_, res_), retry);
        PQclear(res_);
        res_ = nullptr;
        return false;
      }
      const char* tuples = PQcmdTuples(res_);
      changes_ = tuples && *tuples ? std::strtoll(tuples, nullptr, 10) : 0;
      rows_ = st == PGRES_TUPLES_OK ? PQntuples(res_) : 0;
      row_ = -1;
    }
    return ++row_ < rows_;
  }
  int64_t Changes() const override { return changes_; }
  void Reset() override {
    ran_ = false;
    PQclear(res_);
    res_ = nullptr;
    rows_ = 0;
    row_ = -1;
  }
  int64_t Int(int col) const override {
    if (!res_ || PQgetisnull(res_, row_, col)) return 0;
    return std::strtoll(PQgetvalue(res_, row_, col), nullptr, 10);
  }
  bool IsNull(int col) const override { return !res_ || PQgetisnull(res_, row_, col); }
  std::string Text(int col) const override {
    if (!res_ || PQgetisnull(res_, row_, col)) return std::string();
    return std::string(PQgetvalue(res_, row_, col),
                       static_cast<size_t>(PQgetlength(res_, row_, col)));
  }

 private:
  bool Valid(int i) const { return i >= 1 && static_cast<size_t>(i) <= values_.size(); }

  PGconn* conn_;
  SqlErrorKind* last_error_;
  std::string sql_;
  std::vector<std::optional<std::string>> values_;
  std::vector<Oid> types_;
  PGresult* res_ = nullptr;
  bool ran_ = false;
  int rows_ = 0, row_ = -1;
  int64_t changes_ = 0;
};

class PostgresDb : public SqlDb {
 public:
  PostgresDb(PGconn* conn, std::string url) : conn_(conn), url_(std::move(url)) { Quiet(); }
  ~PostgresDb() override { PQfinish(conn_); }
  SqlDialect dialect() const override { return SqlDialect::kPostgres; }
  std::unique_ptr<SqlStatement> Prepare(const std::string& sql) override {
    return std::make_unique<PostgresStatement>(conn_, sql, &last_error_);
  }
  Status Exec(const std::string& sql) override {
    last_error_ = SqlErrorKind::kNone;
    PGresult* res = PQexec(conn_, sql.c_str());
    const ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    Status out;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      last_error_ = KindOf(conn_, res);
      out = Status::IOError(
          "store: " + ErrorText(conn_, res),
          last_error_ == SqlErrorKind::kRetry || last_error_ == SqlErrorKind::kConnectionLost);
    } else if (sql == "COMMIT" && std::string(PQcmdStatus(res)) == "ROLLBACK") {
      // COMMIT of a transaction that failed earlier rolls back without an error.
      last_error_ = SqlErrorKind::kOther;
      out = Status::IOError("store: the transaction failed and was rolled back", false);
    }
    PQclear(res);
    return out;
  }
  Status Begin(bool serializable) override {
    return Exec(serializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                             : "BEGIN ISOLATION LEVEL READ COMMITTED");
  }
  Status Commit() override { return Exec("COMMIT"); }
  void Rollback() override {
    if (PQstatus(conn_) == CONNECTION_OK) PQclear(PQexec(conn_, "ROLLBACK"));
  }
  SqlErrorKind last_error() const override { return last_error_; }
  Status Reconnect() override {
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      last_error_ = SqlErrorKind::kConnectionLost;
      return Status::IOError(
          "store " + RedactStoreUrl(url_) + ": reconnecting: " + ErrorText(conn_, nullptr), true);
    }
    Quiet();
    return Status::OK();
  }

 private:
  // NOTICEs (e.g. "relation already exists, skipping") would go to stderr by default.
  void Quiet() {
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
  }

  PGconn* conn_;
  std::string url_;
  SqlErrorKind last_error_ = SqlErrorKind::kNone;
};

}  // namespace

Result<std::unique_ptr<SqlDb>> OpenPostgresDb(const std::string& url) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (conn == nullptr) return Status::IOError("store " + RedactStoreUrl(url) + ": out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = ErrorText(conn, nullptr);
    PQfinish(conn);
    // A server that is not up (yet), going down, restarting or full is worth trying again;
    // libpq words those many ways ("Connection refused", "server closed the connection
    // unexpectedly", "the database system is starting up", "too many clients"), so the
    // permanent failures are the ones named: a refused login, a missing database or role, a
    // bad URL, an unknown host.
    static constexpr const char* kPermanent[] = {
        "does not exist", "authentication", "pg_hba.conf", "password", "invalid",
        "could not translate host name", "permission denied", "SSL", "missing \"=\""};
    bool retry = true;
    for (const char* p : kPermanent) retry &= msg.find(p) == std::string::npos;
    return Status::IOError("connecting to the store " + RedactStoreUrl(url) + ": " + msg, retry);
  }
  return std::unique_ptr<SqlDb>(std::make_unique<PostgresDb>(conn, url));
}

}  // namespace weir
