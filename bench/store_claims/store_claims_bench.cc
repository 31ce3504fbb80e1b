// store_claims_bench: the task store as a task queue. How many task claims per second a store
// (PostgreSQL or SQLite) gives W worker processes that do nothing but claim and complete tiny
// tasks, i.e. the ceiling the store puts on a fleet of `weir worker`s whatever the tasks do.
//
//   store_claims_bench --store URL|FILE [--tasks 100000] [--workers 4] [--dataset claims]
//                      [--lease-ms 30000] [--heartbeat-ms 1000] [--setup-only | --no-setup]
//                      [--json FILE]
//
// 1. Forgets the dataset's tasks (Store::ResetDataset) and creates --tasks CREATED tasks with
//    Store::EnsureTasks (timed: "setup").
// 2. Forks --workers processes. Each opens its own two store connections, as `weir worker` does
//    (one for its heartbeat, one for its claims and commits): a heartbeat thread calls
//    Store::Heartbeat every --heartbeat-ms with a --lease-ms lease, and the main thread loops
//        ClaimNextTask(dataset, lease)          -- claim latency
//        Commit({one TaskUpdate: COMPLETED, owner_attempt = the claim's attempts, counters})
//    until no task is claimable. The workers start together (a pipe releases them once all are
//    connected); the clock runs from that release to the last worker's exit.
// 3. Prints claims/s (claim+commit pairs per second of wall time), claim and commit latency
//    percentiles over every claim of every worker, and checks the outcome: every task
//    COMPLETED once, with attempts 1, and no fenced commit.
// On PostgreSQL it also reports the transactions the server rolled back meanwhile
// (pg_stat_database.xact_rollback of the store's database): the store retries a transaction
// after a serialization failure, and these retries are invisible to its caller.
//
// --setup-only stops after step 1, --no-setup skips it (the dataset's tasks must be CREATED):
// run.sh sets up, lets PostgreSQL VACUUM ANALYZE the table, then runs; the peer's tasks (pgbench)
// are laid out with --setup-only in the same table.
// Exit status: 0 when the run was exact, 1 when a check failed, 2 on a usage or setup error.
#include <fcntl.h>
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "exec/store.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string store;
  std::string dataset = "claims";
  int64_t tasks = 100000;
  int workers = 4;
  int64_t lease_ms = 30000;
  int64_t heartbeat_ms = 1000;
  bool setup_only = false;
  bool no_setup = false;
  std::string json;
};

// What one worker process reports back to the parent (a fixed-size header, then the latencies).
struct WorkerReport {
  int64_t claims = 0;
  int64_t fenced = 0;
  int64_t errors = 0;
  int64_t heartbeats = 0, heartbeat_failures = 0;
  int64_t n_latencies = 0;  // claim latencies (us), then commit latencies (us), each n long
  char first_error[512] = {0};
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "store_claims_bench: %s\nusage: store_claims_bench --store URL|FILE [--tasks N] "
               "[--workers W] [--dataset NAME] [--lease-ms MS] [--heartbeat-ms MS] "
               "[--setup-only | --no-setup] [--json FILE]\n",
               why);
  std::exit(2);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "--store") {
      o.store = next();
    } else if (a == "--dataset") {
      o.dataset = next();
    } else if (a == "--tasks") {
      o.tasks = std::stoll(next());
    } else if (a == "--workers") {
      o.workers = std::stoi(next());
    } else if (a == "--lease-ms") {
      o.lease_ms = std::stoll(next());
    } else if (a == "--heartbeat-ms") {
      o.heartbeat_ms = std::stoll(next());
    } else if (a == "--setup-only") {
      o.setup_only = true;
    } else if (a == "--no-setup") {
      o.no_setup = true;
    } else if (a == "--json") {
      o.json = next();
    } else {
      Usage(("unknown argument " + a).c_str());
    }
  }
  if (o.store.empty()) Usage("--store is required");
  if (o.tasks <= 0 || o.workers <= 0 || o.lease_ms <= 0 || o.heartbeat_ms <= 0) {
    Usage("--tasks, --workers, --lease-ms and --heartbeat-ms must be positive");
  }
  return o;
}

bool IsPostgresUrl(const std::string& s) {
  return s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0;
}

// xact_commit and xact_rollback of the store's database, or {-1, -1} when not PostgreSQL or the
// statistics cannot be read. Statistics of backends that have exited are flushed by then.
std::pair<int64_t, int64_t> PgTransactionCounts(const std::string& url) {
  if (!IsPostgresUrl(url)) return {-1, -1};
  PGconn* c = PQconnectdb(url.c_str());
  std::pair<int64_t, int64_t> out{-1, -1};
  if (PQstatus(c) == CONNECTION_OK) {
    PQclear(PQexec(c, "SELECT pg_stat_clear_snapshot()"));
    PGresult* r = PQexec(c,
                         "SELECT xact_commit, xact_rollback FROM pg_stat_database "
                         "WHERE datname = current_database()");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
      out = {std::atoll(PQgetvalue(r, 0, 0)), std::atoll(PQgetvalue(r, 0, 1))};
    }
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

bool WriteAll(int fd, const void* p, size_t n) {
  const char* b = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    b += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, void* p, size_t n) {
  char* b = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t r = ::read(fd, b, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    b += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void NoteError(WorkerReport& rep, const std::string& what) {
  ++rep.errors;
  if (rep.first_error[0] == 0)
    std::snprintf(rep.first_error, sizeof(rep.first_error), "%s", what.c_str());
}

// The body of worker process `index`: connects, reports ready on `ready_fd`, waits for the
// release byte on `go_fd`, claims until nothing is claimable, writes its report to `out_fd`.
int WorkerMain(const Options& o, int index, int ready_fd, int go_fd, int out_fd) {
  WorkerReport rep;
  std::vector<int64_t> claim_us, commit_us;
  claim_us.reserve(static_cast<size_t>(o.tasks / o.workers * 2 + 16));
  commit_us.reserve(claim_us.capacity());

  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "host");
  weir::WorkerRow self;
  self.id = std::string(host) + ":" + std::to_string(::getpid()) + ":bench" + std::to_string(index);
  self.host = host;
  self.pid = ::getpid();
  self.datasets = o.dataset;
  self.threads = 1;
  self.state = "running";
  const weir::Lease lease{self.id, o.lease_ms};

  auto queue = weir::Store::Open(o.store);
  auto beat_store = weir::Store::Open(o.store);
  char ok = 1;
  if (!queue.ok() || !beat_store.ok()) {
    NoteError(rep, "open: " + (!queue.ok() ? queue.status() : beat_store.status()).ToString());
    ok = 0;
  }
  WriteAll(ready_fd, &ok, 1);
  char go = 0;
  if (!ReadAll(go_fd, &go, 1) || go != 1 || !ok) {
    WriteAll(out_fd, &rep, sizeof(rep));
    return 1;
  }

  std::atomic<int64_t> done{0};
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread beater([&] {
    std::vector<std::pair<int64_t, int>> held;
    std::unique_lock<std::mutex> lock(mu);
    while (!stop) {
      lock.unlock();
      weir::WorkerRow w = self;
      w.tasks_done = static_cast<uint64_t>(done.load());
      const weir::Status st = (*beat_store)->Heartbeat(w, o.lease_ms, &held);
      ++rep.heartbeats;
      if (!st.ok()) ++rep.heartbeat_failures;
      lock.lock();
      cv.wait_for(lock, std::chrono::milliseconds(o.heartbeat_ms), [&] { return stop; });
    }
  });

  weir::Store& store = **queue;
  for (;;) {
    const auto t0 = Clock::now();
    auto claimed = store.ClaimNextTask(o.dataset, lease);
    const auto t1 = Clock::now();
    if (!claimed.ok()) {
      NoteError(rep, "claim: " + claimed.status().ToString());
      break;
    }
    if (!claimed->has_value()) break;  // nothing claimable: the queue is drained
    const weir::TaskRow& row = **claimed;
    weir::CommitRequest req;
    req.dataset = o.dataset;
    weir::TaskUpdate u;
    u.task_id = row.id;
    u.seq = row.seq + 1;
    u.counters.read = u.counters.written = u.counters.record_number = 1;
    u.counters.offset = u.counters.bytes = 100;
    u.duration_ms = 1;
    u.status = weir::TaskStatus::kCompleted;
    u.owner_attempt = row.attempts;
    req.tasks.push_back(std::move(u));
    const weir::Status st = store.Commit(req, nullptr);
    const auto t2 = Clock::now();
    if (weir::IsFenced(st)) {
      ++rep.fenced;
    } else if (!st.ok()) {
      NoteError(rep, "commit: " + st.ToString());
      break;
    }
    ++rep.claims;
    done.store(rep.claims);
    claim_us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count());
    commit_us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(t2 - t1).count());
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  cv.notify_all();
  beater.join();
  (void)(*beat_store)->WorkerStopped(self.id);

  rep.n_latencies = static_cast<int64_t>(claim_us.size());
  bool wrote = WriteAll(out_fd, &rep, sizeof(rep));
  wrote = wrote && WriteAll(out_fd, claim_us.data(), claim_us.size() * sizeof(int64_t));
  wrote = wrote && WriteAll(out_fd, commit_us.data(), commit_us.size() * sizeof(int64_t));
  return wrote && rep.errors == 0 ? 0 : 1;
}

double PercentileMs(std::vector<int64_t>& us, double p) {
  if (us.empty()) return 0;
  const size_t k = std::min(us.size() - 1, static_cast<size_t>(p * static_cast<double>(us.size())));
  std::nth_element(us.begin(), us.begin() + static_cast<std::ptrdiff_t>(k), us.end());
  return static_cast<double>(us[k]) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  const bool pg = IsPostgresUrl(o.store);

  // 1. A fresh queue of tiny tasks. The parent's store is closed before forking: a connection
  // (libpq socket, SQLite handle) must not be shared by two processes.
  double setup_s = 0;
  if (!o.no_setup) {
    auto store = weir::Store::Open(o.store);
    if (!store.ok()) {
      std::fprintf(stderr, "store_claims_bench: %s\n", store.status().ToString().c_str());
      return 2;
    }
    const auto t0 = Clock::now();
    weir::Status st = (*store)->ResetDataset(o.dataset);
    std::vector<std::pair<std::string, std::string>> entries;
    entries.reserve(static_cast<size_t>(o.tasks));
    for (int64_t i = 0; i < o.tasks; ++i) {
      char name[32];
      std::snprintf(name, sizeof(name), "t%07lld.jsonl", static_cast<long long>(i));
      entries.emplace_back(name, "/bench/" + o.dataset + "/" + name);
    }
    if (st.ok()) st = (*store)->EnsureTasks(o.dataset, entries);
    setup_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!st.ok()) {
      std::fprintf(stderr, "store_claims_bench: setup: %s\n", st.ToString().c_str());
      return 2;
    }
  }
  if (!o.no_setup) {
    std::fprintf(stderr, "setup: %lld tasks of dataset %s in %.2f s\n",
                 static_cast<long long>(o.tasks), o.dataset.c_str(), setup_s);
  }
  if (o.setup_only) return 0;

  // 2. The workers.
  const auto before = PgTransactionCounts(o.store);
  int ready_pipe[2], go_pipe[2];
  if (::pipe(ready_pipe) != 0 || ::pipe(go_pipe) != 0) return 2;
  std::vector<pid_t> pids;
  std::vector<std::string> outs;
  const std::string tmp =
      (std::filesystem::temp_directory_path() / ("store_claims." + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(tmp);
  std::fflush(nullptr);
  for (int i = 0; i < o.workers; ++i) {
    outs.push_back(tmp + "/worker" + std::to_string(i) + ".bin");
    const pid_t pid = ::fork();
    if (pid < 0) return 2;
    if (pid == 0) {
      ::close(ready_pipe[0]);
      ::close(go_pipe[1]);
      const int fd = ::open(outs.back().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      _exit(WorkerMain(o, i, ready_pipe[1], go_pipe[0], fd));
    }
    pids.push_back(pid);
  }
  ::close(ready_pipe[1]);
  ::close(go_pipe[0]);
  bool all_ready = true;
  for (int i = 0; i < o.workers; ++i) {
    char ok = 0;
    if (!ReadAll(ready_pipe[0], &ok, 1) || ok != 1) all_ready = false;
  }
  const auto start = Clock::now();
  for (int i = 0; i < o.workers; ++i) {
    const char go = all_ready ? 1 : 0;
    WriteAll(go_pipe[1], &go, 1);
  }
  int failed_workers = 0;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed_workers;
  }
  const double wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  const auto after = PgTransactionCounts(o.store);

  // 3. Gather, check, print.
  int64_t claims = 0, fenced = 0, errors = 0, beats = 0, beat_failures = 0;
  std::vector<int64_t> claim_us, commit_us;
  // Claim latencies of each worker's first and last tenth of its claims: does a claim get
  // slower as completed tasks pile up in front of the claimable ones?
  std::vector<int64_t> first_tenth_us, last_tenth_us;
  std::vector<int64_t> per_worker;
  std::string first_error;
  for (const std::string& path : outs) {
    std::ifstream in(path, std::ios::binary);
    WorkerReport rep;
    if (!in.read(reinterpret_cast<char*>(&rep), sizeof(rep))) {
      ++errors;
      if (first_error.empty()) first_error = "a worker wrote no report";
      continue;
    }
    claims += rep.claims;
    fenced += rep.fenced;
    errors += rep.errors;
    beats += rep.heartbeats;
    beat_failures += rep.heartbeat_failures;
    per_worker.push_back(rep.claims);
    if (first_error.empty() && rep.first_error[0] != 0) first_error = rep.first_error;
    std::vector<int64_t> c(static_cast<size_t>(rep.n_latencies)), m(c.size());
    in.read(reinterpret_cast<char*>(c.data()), static_cast<std::streamsize>(c.size() * 8));
    in.read(reinterpret_cast<char*>(m.data()), static_cast<std::streamsize>(m.size() * 8));
    claim_us.insert(claim_us.end(), c.begin(), c.end());
    const size_t tenth = c.size() / 10;
    first_tenth_us.insert(first_tenth_us.end(), c.begin(),
                          c.begin() + static_cast<std::ptrdiff_t>(tenth));
    last_tenth_us.insert(last_tenth_us.end(), c.end() - static_cast<std::ptrdiff_t>(tenth),
                         c.end());
    commit_us.insert(commit_us.end(), m.begin(), m.end());
  }
  std::filesystem::remove_all(tmp);

  // Every task completed exactly once: status COMPLETED, one attempt, one commit.
  int64_t completed = 0, not_once = 0;
  {
    auto store = weir::Store::Open(o.store);
    if (store.ok()) {
      auto tasks = (*store)->Tasks(o.dataset);
      if (tasks.ok()) {
        for (const weir::TaskRow& t : *tasks) {
          if (t.status == weir::TaskStatus::kCompleted) ++completed;
          if (t.attempts != 1 || t.seq != 1) ++not_once;
        }
      } else if (first_error.empty()) {
        first_error = tasks.status().ToString();
      }
    }
  }
  const bool exact = failed_workers == 0 && errors == 0 && fenced == 0 && claims == o.tasks &&
                     completed == o.tasks && not_once == 0;

  const double rate = wall_s > 0 ? static_cast<double>(claims) / wall_s : 0;
  const double claim_p50 = PercentileMs(claim_us, 0.50), claim_p99 = PercentileMs(claim_us, 0.99);
  const double first_p50 = PercentileMs(first_tenth_us, 0.50),
               last_p50 = PercentileMs(last_tenth_us, 0.50);
  const double commit_p50 = PercentileMs(commit_us, 0.50),
               commit_p99 = PercentileMs(commit_us, 0.99);
  const int64_t rollbacks =
      before.second >= 0 && after.second >= 0 ? after.second - before.second : -1;
  const int64_t xacts = before.first >= 0 && after.first >= 0 ? after.first - before.first : -1;
  std::string spread;
  for (int64_t n : per_worker) spread += (spread.empty() ? "" : "/") + std::to_string(n);

  std::printf(
      "%s W=%d: %lld claims in %.2f s = %.0f claims/s; claim p50 %.2f ms p99 %.2f ms (p50 of "
      "the first/last tenth %.2f/%.2f ms); commit p50 %.2f ms p99 %.2f ms; per worker %s; "
      "heartbeats %lld (%lld failed); fenced %lld; rollbacks %s; %s\n",
      pg ? "postgresql" : "sqlite", o.workers, static_cast<long long>(claims), wall_s, rate,
      claim_p50, claim_p99, first_p50, last_p50, commit_p50, commit_p99, spread.c_str(),
      static_cast<long long>(beats), static_cast<long long>(beat_failures),
      static_cast<long long>(fenced), rollbacks >= 0 ? std::to_string(rollbacks).c_str() : "n/a",
      exact ? "exact" : "NOT EXACT");
  if (!exact) {
    std::fprintf(stderr,
                 "store_claims_bench: claims %lld of %lld, completed %lld, not once %lld, fenced "
                 "%lld, errors %lld, failed workers %d; first error: %s\n",
                 static_cast<long long>(claims), static_cast<long long>(o.tasks),
                 static_cast<long long>(completed), static_cast<long long>(not_once),
                 static_cast<long long>(fenced), static_cast<long long>(errors), failed_workers,
                 first_error.c_str());
  }
  if (!o.json.empty()) {
    std::ofstream j(o.json);
    j << "{\"store\":\"" << (pg ? "postgresql" : "sqlite") << "\",\"workers\":" << o.workers
      << ",\"tasks\":" << o.tasks << ",\"setup_s\":" << setup_s << ",\"claims\":" << claims
      << ",\"wall_s\":" << wall_s << ",\"claims_per_s\":" << rate
      << ",\"claim_p50_ms\":" << claim_p50 << ",\"claim_p99_ms\":" << claim_p99
      << ",\"claim_p50_first_tenth_ms\":" << first_p50
      << ",\"claim_p50_last_tenth_ms\":" << last_p50 << ",\"commit_p50_ms\":" << commit_p50
      << ",\"commit_p99_ms\":" << commit_p99 << ",\"heartbeats\":" << beats
      << ",\"heartbeat_failures\":" << beat_failures << ",\"fenced\":" << fenced
      << ",\"pg_xact_commits\":" << xacts << ",\"pg_rollbacks\":" << rollbacks
      << ",\"exact\":" << (exact ? "true" : "false") << "}\n";
  }
  return exact ? 0 : 1;
}
