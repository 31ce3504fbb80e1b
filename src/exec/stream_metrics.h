// Live figures of a stream run (docs/streams.md#metrics): what `GET /metrics` renders in the
// Prometheus text format and what the live display of `weir run` shows. The stream executor
// (runner.cc) sets the lake side after each commit; the HTTP collector (server/collector.h)
// counts requests. Counts are this process's, since it started.
//
// Ownership: the CLI owns one per run and hands a pointer to the runner and the collector.
// Thread-safety: every field is atomic or behind `mu`; writers and readers run on different
// threads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace weir {

// A Prometheus histogram with fixed bounds (seconds), lock-free.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 17> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5,   0.75, 1,     1.5,  2,   2.5,
                                                      5,     10,   30,    60,   300};
  void Observe(double seconds);
  // Appends the _bucket/_sum/_count lines of `name` with `labels` ("dataset=\"x\"").
  void Render(std::string& out, const std::string& name, const std::string& labels) const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};  // the last: +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_us_{0};
};

struct StreamMetrics {
  std::string dataset;
  std::string source = "collector";  // "collector" (HTTP) or "kafka"; set before the run starts

  // The lake side: committed by this process.
  std::atomic<uint64_t> read{0}, written{0}, skipped{0}, errored{0}, duplicates{0};
  std::atomic<uint64_t> commits{0};
  std::atomic<int64_t> last_commit_unix_ms{0};  // 0: none yet
  std::atomic<uint64_t> lag_bytes{0};           // HTTP: durable in the log, not committed
  std::atomic<uint64_t> lag_messages{0};        // Kafka: high watermarks minus next offsets
  void SetPartitionLags(std::map<std::string, uint64_t> lags) {
    std::lock_guard<std::mutex> l(mu);
    partition_lags = std::move(lags);
  }
  std::map<std::string, uint64_t> PartitionLags() const {
    std::lock_guard<std::mutex> l(mu);
    return partition_lags;
  }
  LatencyHistogram commit_seconds;               // one store+lake commit
  LatencyHistogram end_to_end_seconds;           // commit time minus each record's event time
  LatencyHistogram kafka_seconds;                // Kafka: commit time minus each message's timestamp

  // The rules stage (docs/rules.md), when the dataset has rules: counts since the process
  // started; `rules_latency` per rule (made before the run starts, then only read): when a
  // derived record was committed minus its event time (with live event times, how long after
  // the completing event it became visible).
  bool rules = false;
  std::atomic<uint64_t> rules_events{0}, rules_late{0}, rules_derived{0}, rules_keys{0};
  std::atomic<int64_t> rules_watermark_ms{INT64_MIN};
  std::map<std::string, std::unique_ptr<LatencyHistogram>> rules_latency;

  // The collector side.
  std::atomic<uint64_t> requests{0}, accepted{0}, malformed{0};
  std::atomic<uint64_t> refused{0}, throttled{0}, bytes_in{0};

 private:
  mutable std::mutex mu;
  std::map<std::string, uint64_t> partition_lags;  // Kafka: "topic/partition" -> messages
};

// The whole exposition (text format 0.0.4), ending in a newline.
std::string RenderPrometheus(const StreamMetrics& m);

}  // namespace weir
