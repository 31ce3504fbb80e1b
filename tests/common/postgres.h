// A PostgreSQL server of a test's own (the Debian/local PostgreSQL 15 binaries): initdb in a
// temporary folder, `postgres` on a free loopback port, trust authentication for the superuser
// `weir`. As root (CI containers), initdb refuses to run, so the server runs as the `postgres`
// system user (the child drops privileges before exec, as `runuser -u postgres` would).
//
// Tests share one server per test binary (SharedPostgres()) and take a fresh database each
// (CreateDatabase), since initdb costs a second or two.
//
// Ownership: owns the server process and its folder (removed by the destructor). Thread-safety:
// none; use from the test's thread.
#pragma once

#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "process_util.h"

namespace weir::e2e {

class PostgresServer {
 public:
  PostgresServer() = default;
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer() {
    Stop();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // The folder with initdb and postgres, or "" when PostgreSQL is not installed.
  static std::string BinDir() {
    std::vector<std::string> candidates;
    std::error_code ec;
    if (std::filesystem::is_directory("/usr/lib/postgresql", ec)) {
      for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
        candidates.push_back(e.path().string() + "/bin");
      }
      std::sort(candidates.rbegin(), candidates.rend());  // newest major version first
    }
    candidates.push_back("/usr/local/bin");
    for (const auto& d : candidates) {
      if (::access((d + "/initdb").c_str(), X_OK) == 0 &&
          ::access((d + "/postgres").c_str(), X_OK) == 0) {
        return d;
      }
    }
    return "";
  }

  // Initialises a cluster in a new temporary folder and starts it. False (with why()) when it
  // could not.
  bool Start() {
    bin_ = BinDir();
    if (bin_.empty()) return Fail("no PostgreSQL binaries (initdb, postgres) found");
    char tmpl[] = "/tmp/weir-pg.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return Fail("mkdtemp failed");
    dir_ = tmpl;
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr) return Fail("running as root and there is no `postgres` user to run as");
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
      if (::chown(dir_.c_str(), uid_, gid_) != 0) return Fail("chown of " + dir_ + " failed");
    }
    const int rc = RunAs({bin_ + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U", "weir",
                          "--no-sync", "-E", "UTF8", "--locale=C"},
                         dir_ + "/initdb.log", /*wait=*/true);
    if (rc != 0) return Fail("initdb failed (see " + dir_ + "/initdb.log)");
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = FreeLoopbackPort();
      if (Launch()) return true;
    }
    return Fail("postgres did not come up (see " + dir_ + "/postgres.log)");
  }

  // Stops the server the way an operator's fast shutdown does (SIGINT: sessions are ended,
  // clients see their connection drop) and waits for it.
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Starts the stopped server again on the same port.
  bool Restart() {
    Stop();
    return Launch();
  }

  // A new empty database; its URL.
  std::string CreateDatabase(const std::string& name) {
    PGconn* c = PQconnectdb(Url("postgres").c_str());
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
    std::string sql = "DROP DATABASE IF EXISTS \"" + name + "\"";
    PQclear(PQexec(c, sql.c_str()));
    sql = "CREATE DATABASE \"" + name + "\"";
    PGresult* r = PQexec(c, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) why_ = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    return ok ? Url(name) : std::string();
  }

  std::string Url(const std::string& db) const {
    return "postgresql://weir@127.0.0.1:" + std::to_string(port_) + "/" + db;
  }
  int port() const { return port_; }
  const std::string& why() const { return why_; }

 private:
  bool Fail(const std::string& why) {
    why_ = why;
    return false;
  }

  bool Launch() {
    // fsync off: the tests kill the server, never the machine.
    pid_ = RunAs({bin_ + "/postgres", "-D", dir_ + "/data", "-p", std::to_string(port_), "-c",
                  "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + dir_, "-c",
                  "fsync=off", "-c", "max_connections=50"},
                 dir_ + "/postgres.log", /*wait=*/false);
    if (pid_ <= 0) return false;
    const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(port_) +
                                 " user=weir dbname=postgres connect_timeout=2";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {  // exited: port taken?
        pid_ = -1;
        return false;
      }
      if (PQping(conninfo.c_str()) == PQPING_OK) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Stop();
    return false;
  }

  // Runs argv (absolute argv[0]) as the server's user, output appended to `log`. wait: its exit
  // code; else its pid (or -1).
  int RunAs(const std::vector<std::string>& argv, const std::string& log, bool wait) {
    const pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      const int in = ::open("/dev/null", O_RDONLY);
      if (in >= 0) ::dup2(in, 0);
      if (::geteuid() == 0) {
        if (fd >= 0 && ::fchown(fd, uid_, gid_) != 0) _exit(126);
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0) _exit(126);
      }
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      _exit(127);
    }
    if (!wait) return pid;
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string bin_, dir_, why_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  pid_t pid_ = -1;
  int port_ = -1;
};

// One value from the database at `url` (empty on any failure, which then fails the comparison).
inline std::string PgOne(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  PGresult* r = PQexec(c, sql.c_str());
  std::string out;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  PQclear(r);
  PQfinish(c);
  return out;
}

// The test binary's PostgreSQL server, started on first use and stopped at exit; nullptr (with
// the reason in *why) when it cannot run here.
inline PostgresServer* SharedPostgres(std::string* why) {
  static std::unique_ptr<PostgresServer> server;
  static std::string failure;
  if (!server && failure.empty()) {
    auto s = std::make_unique<PostgresServer>();
    if (s->Start()) {
      server = std::move(s);
    } else {
      failure = s->why();
    }
  }
  if (why) *why = failure;
  return server.get();
}

}  // namespace weir::e2e
