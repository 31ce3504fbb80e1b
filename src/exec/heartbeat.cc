#include "exec/heartbeat.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>

#include <spdlog/spdlog.h>

namespace weir {

const std::string& ProcessWorkerId() {
  static const std::string id = [] {
    char host[256] = {0};
    if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "host");
    char buf[320];
    std::snprintf(buf, sizeof(buf), "%s:%ld:%04x", host, static_cast<long>(::getpid()),
                  static_cast<unsigned>(std::random_device{}() & 0xffff));
    return std::string(buf);
  }();
  return id;
}

Heartbeat::Heartbeat(Store& store, WorkerRow self, int64_t ttl_ms,
                     std::function<void(WorkerRow&)> fill)
    : store_(store), self_(std::move(self)), ttl_ms_(ttl_ms), fill_(std::move(fill)) {
  if (self_.state.empty()) self_.state = "running";
  thread_ = std::thread([this] { Loop(); });
}

Heartbeat::~Heartbeat() { Join(); }

void Heartbeat::Join() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Heartbeat::Poke() {
  {
    std::lock_guard<std::mutex> l(mu_);
    poke_ = true;
  }
  cv_.notify_all();
}

void Heartbeat::Stop() {
  Join();
  {
    // The last figures, so `weir workers` shows what a short-lived worker did.
    std::lock_guard<std::mutex> l(mu_);
    if (fill_) fill_(self_);
  }
  (void)store_.Heartbeat(self_, ttl_ms_, nullptr);
  Status st = store_.WorkerStopped(self_.id);
  if (!st.ok()) spdlog::warn("worker {}: recording its stop failed: {}", self_.id, st.message());
}

void Heartbeat::Loop() {
  // A third of the lease: two beats may be lost (a slow store, a restart) before it expires.
  const auto every = std::chrono::milliseconds(std::max<int64_t>(ttl_ms_ / 3, 50));
  for (;;) {
    WorkerRow row;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (fill_) fill_(self_);
      row = self_;
    }
    Status st = store_.Heartbeat(row, ttl_ms_, nullptr);
    if (st.ok()) {
      ++beats_;
    } else {
      ++failures_;
      spdlog::warn("worker {}: heartbeat failed ({}); its leases expire in {} ms unless a later "
                   "one succeeds", row.id, st.message(), ttl_ms_);
    }
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, every, [this] { return stop_ || poke_; });
    if (stop_) return;
    poke_ = false;
  }
}

}  // namespace weir
