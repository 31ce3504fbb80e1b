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
// Ownership: borrows the log, which must outlive the collector and its server.
// Thread-safety: Handle() runs concurrently on the server's connection threads; the log is
// thread-safe and appends share their syncs (group commit); the counters are atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.h"
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
  Collector(SegmentLog& log, CollectorOptions options) : log_(log), options_(std::move(options)) {}

  void AddRoutes(net::Router& router);
  // The error body ({"error": "..."}) for the transport's own errors (413, 404, ...).
  static net::HttpResponse Error(int status, const std::string& message);

  net::HttpResponse Post(const net::HttpRequest& req);

  struct Counters {
    std::atomic<uint64_t> requests{0}, accepted{0}, malformed{0}, refused{0}, throttled{0};
    std::atomic<uint64_t> bytes{0};  // appended to the log
  };
  const Counters& counters() const { return counters_; }

 private:
  SegmentLog& log_;
  const CollectorOptions options_;
  Counters counters_;
};

// Starts the collector of `config` (read.listen, read.path, read.token, read.max_body_mb,
// read.max_backlog_mb) on its own thread, appending to `log`; prints where it listens (to
// stderr). Returns a function that stops it (requests in progress are answered first) and joins
// the thread. An address that cannot be bound is an error naming it.
Result<std::function<void()>> StartCollector(const DatasetConfig& config, SegmentLog& log);

}  // namespace weir::server
