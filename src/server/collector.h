// collector.h: the HTTP collector of stream datasets (read.connector http; docs/streams.md):
// apps POST events, weir answers only once they are durable in the dataset's segment log
// (io/segment_log.h), and the stream runner (exec/runner.h) reads that log into the lake with the
// log offset as its checkpoint, so an acknowledged event lands in the lake exactly once.
//
//   POST <read.path>   body: JSON lines (one object a line; blank lines ignored) or one JSON
//                      array of objects. 200 {"accepted": N, "errors": [...]} once durable:
//                      `accepted` counts the valid records, `errors` lists the malformed ones
//                      ({"line": n, "reason": ...}; "index" for array elements), which are
//                      stored too and become error records of the dataset, as in files.
//                      400: empty body, a body with no valid record, or an array that is not
//                      valid JSON (nothing is stored). 401 without the bearer token when one
//                      is set. 413 over read.max_body_mb (the transport's limit). 429 with
//                      Retry-After while the backlog not yet committed to the lake exceeds
//                      read.max_backlog_mb. 500 when the log cannot be written (the request was
//                      not stored: retry it).
//   GET  /healthz      200 {"status": "ok", "backlog_bytes": N}, without a token.
//
// Ownership: borrows the log and the metrics, which must outlive the collector and its server.
// Thread-safety: Post() runs concurrently on the server's connection threads; the log is
// thread-safe and appends share their syncs (group commit); the metrics are atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.h"
#include "exec/stream_metrics.h"
#include "net/http_server.h"
#include "weir/status.h"

namespace weir {
class SegmentLog;
}

namespace weir::server {

struct CollectorOptions {
  std::string path = "/v1/events";
  std::string token;                          // empty: no authentication
  uint64_t max_backlog_bytes = 256ull << 20;  // 429 above this
};

// What a request body holds, as the log stores it.
struct CollectorBody {
  std::string lines;  // every record (valid or not) as one line each, ready to append
  uint64_t accepted = 0;
  // Malformed records: (line number, or array index when `array`) and why.
  std::vector<std::pair<uint64_t, std::string>> errors;
  bool array = false;
  std::string refused;  // non-empty: the whole body is refused (400) for this reason
};

// Splits and checks a request body (see the file comment). Pure; unit-tested on its own.
CollectorBody ParseCollectorBody(std::string_view body);

class Collector {
 public:
  // Counts requests into `metrics` (the collector fields of StreamMetrics).
  Collector(SegmentLog& log, CollectorOptions options, StreamMetrics& metrics)
      : log_(log), options_(std::move(options)), m_(metrics) {}

  void AddRoutes(net::Router& router);
  // The error body ({"error": "..."}) for the transport's own errors (413, 404, ...).
  static net::HttpResponse Error(int status, const std::string& message);

  net::HttpResponse Post(const net::HttpRequest& req);

 private:
  SegmentLog& log_;
  const CollectorOptions options_;
  StreamMetrics& m_;
};

// Starts the collector of `config` (read.listen, read.path, read.token, read.max_body_mb,
// read.max_backlog_mb) on its own thread, appending to `log`; prints where it listens (to
// stderr). Returns a function that stops it (requests in progress are answered first) and joins
// the thread. An address that cannot be bound is an error naming it. `metrics` must outlive it.
Result<std::function<void()>> StartCollector(const DatasetConfig& config, SegmentLog& log,
                                             StreamMetrics& metrics);

// Serves `GET /metrics` (StreamMetrics in the Prometheus text format) on `listen` (host:port)
// on its own thread until the returned function is called. `metrics` must outlive it.
Result<std::function<void()>> StartMetricsServer(const std::string& listen,
                                                 const StreamMetrics& metrics);

}  // namespace weir::server
