#include "store/advisory_lock.h"

#include <libpq-fe.h>

#include "core/store_url.h"

namespace weir {

struct AdvisoryLock::Conn {
  PGconn* pg = nullptr;
  ~Conn() { PQfinish(pg); }
};

namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

// Runs a query answering one boolean: true/false, or an error.
Result<bool> Ask(PGconn* pg, const std::string& sql, const std::string& url) {
  PGresult* r = PQexec(pg, sql.c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
    std::string msg = Trimmed(PQresultErrorMessage(r));
    if (msg.empty()) msg = Trimmed(PQerrorMessage(pg));
    PQclear(r);
    return Status::IOError("store " + RedactStoreUrl(url) + ": advisory lock: " + msg);
  }
  const bool yes = std::string(PQgetvalue(r, 0, 0)) == "t";
  PQclear(r);
  return yes;
}

}  // namespace

int64_t AdvisoryLockKey(std::string_view name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return static_cast<int64_t>(h);
}

AdvisoryLock::AdvisoryLock(std::unique_ptr<Conn> conn, int64_t key, Mode mode)
    : conn_(std::move(conn)), key_(key), mode_(mode) {}

AdvisoryLock::~AdvisoryLock() {
  // Closing the session releases the lock too, but the server ends the session after the
  // client has gone: unlocking first makes the release done when the destructor returns (a
  // process that lets go and takes the lock again at once, or a test, must not be refused).
  if (conn_ && conn_->pg != nullptr && PQstatus(conn_->pg) == CONNECTION_OK) {
    PQclear(PQexec(conn_->pg, "SELECT pg_advisory_unlock_all()"));
  }
}

Result<std::unique_ptr<AdvisoryLock>> AdvisoryLock::Try(const std::string& url, int64_t key,
                                                        Mode mode) {
  auto conn = std::make_unique<Conn>();
  conn->pg = PQconnectdb(url.c_str());
  if (conn->pg == nullptr || PQstatus(conn->pg) != CONNECTION_OK) {
    return Status::IOError("connecting to the store " + RedactStoreUrl(url) + ": " +
                           Trimmed(conn->pg ? PQerrorMessage(conn->pg) : "out of memory"));
  }
  const std::string fn =
      mode == Mode::kExclusive ? "pg_try_advisory_lock" : "pg_try_advisory_lock_shared";
  WEIR_ASSIGN_OR_RETURN(bool got,
                        Ask(conn->pg, "SELECT " + fn + "(" + std::to_string(key) + ")", url));
  if (!got) return Status::Aborted("held by another session");
  return std::unique_ptr<AdvisoryLock>(new AdvisoryLock(std::move(conn), key, mode));
}

Status AdvisoryLock::Share() {
  if (mode_ == Mode::kShared) return Status::OK();
  // The session holds it exclusively, so the shared hold is granted at once; then the exclusive
  // one goes.
  const std::string k = std::to_string(key_);
  WEIR_ASSIGN_OR_RETURN(bool shared,
                        Ask(conn_->pg, "SELECT pg_try_advisory_lock_shared(" + k + ")", ""));
  if (!shared) return Status::Internal("advisory lock: no shared hold while holding it exclusively");
  WEIR_ASSIGN_OR_RETURN(bool released, Ask(conn_->pg, "SELECT pg_advisory_unlock(" + k + ")", ""));
  (void)released;
  mode_ = Mode::kShared;
  return Status::OK();
}

}  // namespace weir
