#include "core/interrupt.h"

#include <signal.h>

#include <atomic>

namespace weir {
namespace {

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the handler needs a lock-free flag");

void OnSignal(int sig) { RequestStop(sig); }

}  // namespace

void RequestStop(int sig) {
  int expected = 0;
  g_stop_signal.compare_exchange_strong(expected, sig);
}

bool StopRequested() { return g_stop_signal.load(std::memory_order_relaxed) != 0; }

int StopSignal() {
  const int sig = g_stop_signal.load();
  return sig > 0 ? sig : 0;
}

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  // SA_RESETHAND: the second signal finds the default action again and ends the process.
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace weir
