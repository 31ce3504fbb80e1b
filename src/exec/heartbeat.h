// Keeps a process's task claims alive: a thread that, every third of the lease, records the
// process in the store's worker registry and renews the lease of every task it holds
// (Store::Heartbeat). A process that stops beating (killed, paused by SIGSTOP, cut off) loses its
// tasks once their leases expire: other workers claim them, and the claim fences this process's
// later commits (TaskUpdate::owner_attempt).
//
// Ownership: borrows the store (which must outlive it); owns its thread, stopped and joined by
// the destructor. Thread-safety: Set*() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "exec/store.h"

namespace weir {

// This process's worker id, "host:pid:xxxx" (four random hex digits, so a recycled pid on the
// same host is another worker). The same for the whole process.
const std::string& ProcessWorkerId();

class Heartbeat {
 public:
  // `self`: the worker row to record (id, host, pid, datasets, threads); `fill`, when given, is
  // called before each beat to update its live fields (state, current, counters).
  Heartbeat(Store& store, WorkerRow self, int64_t ttl_ms,
            std::function<void(WorkerRow&)> fill = nullptr);
  ~Heartbeat();
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  // Beats now (after a claim, so a new lease is renewed on schedule) without waiting.
  void Poke();
  // Stops beating and marks the worker stopped in the registry (a clean exit).
  void Stop();
  uint64_t beats() const { return beats_.load(); }
  uint64_t failures() const { return failures_.load(); }

 private:
  void Loop();
  void Join();  // stops the thread
  Store& store_;
  WorkerRow self_;
  const int64_t ttl_ms_;
  std::function<void(WorkerRow&)> fill_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, poke_ = false;
  std::atomic<uint64_t> beats_{0}, failures_{0};
  std::thread thread_;
};

}  // namespace weir
