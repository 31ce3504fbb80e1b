#include "server/collector.h"

#include <simdjson.h>

#include <cstdio>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "io/segment_log.h"

namespace weir::server {
namespace {

namespace dom = simdjson::dom;
using net::HttpRequest;
using net::HttpResponse;

// Errors listed in a response; the rest are counted ("errors_total").
constexpr size_t kMaxListedErrors = 100;

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r") == std::string_view::npos;
}

// Why `line` is not one JSON object, or "" when it is.
std::string CheckRecord(dom::parser& parser, std::string_view line) {
  dom::element e;
  const simdjson::error_code err = parser.parse(line.data(), line.size(), true).get(e);
  // A number simdjson cannot represent (an integer beyond 64 bits, an overflowing double) is
  // valid JSON to the projector, which decides per column, as it does for files.
  if (err == simdjson::NUMBER_ERROR) return "";
  if (err) return std::string("not valid JSON: ") + simdjson::error_message(err);
  if (e.type() != dom::element_type::OBJECT) return "not a JSON object (each record is one object)";
  return "";
}

}  // namespace

CollectorBody ParseCollectorBody(std::string_view body) {
  CollectorBody out;
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    out.refused = "empty body: send JSON lines (one object a line) or a JSON array of objects";
    return out;
  }
  dom::parser parser;
  if (body[first] == '[') {
    out.array = true;
    dom::element doc;
    if (auto err = parser.parse(body.data(), body.size(), true).get(doc); err) {
      out.refused = std::string("the body starts with '[' but is not a JSON array: ") +
                    simdjson::error_message(err);
      return out;
    }
    dom::array items;
    if (doc.get_array().get(items)) {
      out.refused = "the body starts with '[' but is not a JSON array";
      return out;
    }
    uint64_t index = 0;
    for (dom::element item : items) {
      out.lines += simdjson::minify(item);
      out.lines += '\n';
      if (item.type() == dom::element_type::OBJECT) {
        ++out.accepted;
      } else {
        out.errors.emplace_back(index, "not a JSON object (each record is one object)");
      }
      ++index;
    }
    if (index == 0) out.refused = "empty JSON array: no records";
  } else {
    uint64_t line_no = 0;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t nl = body.find('\n', pos);
      if (nl == std::string_view::npos) nl = body.size();
      std::string_view line = body.substr(pos, nl - pos);
      pos = nl + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (IsBlank(line)) continue;
      std::string why = CheckRecord(parser, line);
      out.lines.append(line.data(), line.size());
      out.lines += '\n';
      if (why.empty()) {
        ++out.accepted;
      } else {
        out.errors.emplace_back(line_no, std::move(why));
      }
    }
  }
  if (out.refused.empty() && out.accepted == 0) {
    const auto& [where, why] = out.errors.front();
    out.refused = "no valid record in the body; " + std::string(out.array ? "element " : "line ") +
                  std::to_string(where) + ": " + why;
  }
  if (!out.refused.empty()) {
    out.lines.clear();
    out.accepted = 0;
  }
  return out;
}

HttpResponse Collector::Error(int status, const std::string& message) {
  return HttpResponse::Json(status, nlohmann::json{{"error", message}}.dump() + "\n");
}

HttpResponse Collector::Post(const HttpRequest& req) {
  m_.requests.fetch_add(1, std::memory_order_relaxed);
  if (!options_.token.empty()) {
    const std::optional<std::string> given = net::BearerToken(req);
    if (!given || !net::SameToken(*given, options_.token)) {
      m_.refused.fetch_add(1, std::memory_order_relaxed);
      HttpResponse r = Error(401, given ? "the bearer token is not this collector's read.token"
                                        : "this collector needs 'Authorization: Bearer <token>' "
                                          "with the dataset's read.token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"weir\"");
      return r;
    }
  }
  if (const uint64_t backlog = log_.Backlog(); backlog > options_.max_backlog_bytes) {
    // Overload: the lake writer is behind. Refusing keeps disk and memory bounded; clients
    // retry after the hint (as they do for Kafka's throttling or S3's SlowDown).
    m_.throttled.fetch_add(1, std::memory_order_relaxed);
    HttpResponse r = Error(429, "backlog of " + std::to_string(backlog >> 20) +
                                    " MiB not yet in the lake exceeds read.max_backlog_mb; retry "
                                    "after the Retry-After seconds");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  CollectorBody body = ParseCollectorBody(req.body);
  if (!body.refused.empty()) {
    m_.refused.fetch_add(1, std::memory_order_relaxed);
    return Error(400, body.refused);
  }
  auto range = log_.Append(body.lines);
  if (!range.ok()) {
    return Error(500, "the events were not stored (" + range.status().message() + "); retry");
  }
  m_.accepted.fetch_add(body.accepted, std::memory_order_relaxed);
  m_.malformed.fetch_add(body.errors.size(), std::memory_order_relaxed);
  m_.bytes_in.fetch_add(body.lines.size(), std::memory_order_relaxed);
  nlohmann::json errors = nlohmann::json::array();
  for (size_t i = 0; i < body.errors.size() && i < kMaxListedErrors; ++i) {
    errors.push_back({{body.array ? "index" : "line", body.errors[i].first},
                      {"reason", body.errors[i].second}});
  }
  nlohmann::json answer = {{"accepted", body.accepted}, {"errors", errors}};
  if (body.errors.size() > kMaxListedErrors) answer["errors_total"] = body.errors.size();
  return HttpResponse::Json(200, answer.dump() + "\n");
}

void Collector::AddRoutes(net::Router& router) {
  router.Add("POST", options_.path, [this](const HttpRequest& r) { return Post(r); });
  router.Add("GET", "/healthz", [this](const HttpRequest&) {
    return HttpResponse::Json(
        200, nlohmann::json{{"status", "ok"}, {"backlog_bytes", log_.Backlog()}}.dump() + "\n");
  });
}

namespace {

// Runs `server` on a thread; the returned function stops and joins it. `keep` is held until then.
std::function<void()> RunInBackground(std::shared_ptr<net::HttpServer> server,
                                      std::shared_ptr<void> keep) {
  auto thread = std::make_shared<std::thread>([server] { (void)server->Serve(); });
  return [server, thread, keep] {
    server->Stop();
    if (thread->joinable()) thread->join();
  };
}

}  // namespace

Result<std::function<void()>> StartMetricsServer(const std::string& listen,
                                                 const StreamMetrics& metrics) {
  std::string host;
  int port = 0;
  if (!net::ParseListen(listen, &host, &port)) {
    return Status::Invalid("stream.metrics_listen: '" + listen + "' is not HOST:PORT");
  }
  net::Router router;
  router.Add("GET", "/metrics", [&metrics](const HttpRequest&) {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = RenderPrometheus(metrics);
    return r;
  });
  net::HttpServerOptions options;
  options.host = host;
  options.port = port;
  options.log = [](const std::string&) {};
  auto server = std::make_shared<net::HttpServer>(std::move(router), std::move(options));
  if (Status st = server->Bind(); !st.ok()) {
    return Status::IOError("stream.metrics_listen: " + st.message(), false);
  }
  std::fprintf(stderr, "%s: metrics at http://%s:%d/metrics\n", metrics.dataset.c_str(),
               host.c_str(), server->port());
  return RunInBackground(server, nullptr);
}

Result<std::function<void()>> StartCollector(const DatasetConfig& config, SegmentLog& log,
                                             StreamMetrics& metrics) {
  std::string host;
  int port = 0;
  if (!net::ParseListen(config.read.listen, &host, &port)) {
    return Status::Invalid("read.listen: '" + config.read.listen + "' is not HOST:PORT");
  }
  auto collector = std::make_shared<Collector>(
      log, CollectorOptions{config.read.http_path, config.read.token, config.read.max_backlog_bytes},
      metrics);
  net::Router router;
  collector->AddRoutes(router);
  net::HttpServerOptions options;
  options.host = host;
  options.port = port;
  options.max_body_bytes = config.read.max_body_bytes;
  options.render_error = [](int status, const std::string& message) {
    return Collector::Error(status, message);
  };
  // One line per request on stderr would drown a busy collector's terminal; errors show in the
  // answers and the counters.
  options.log = [](const std::string&) {};
  auto server = std::make_shared<net::HttpServer>(std::move(router), std::move(options));
  if (Status st = server->Bind(); !st.ok()) {
    return Status::IOError("read.listen: " + st.message(), false);
  }
  std::fprintf(stderr, "%s: collector listening on http://%s:%d%s%s\n", config.name.c_str(),
               host.find(':') != std::string::npos ? ("[" + host + "]").c_str() : host.c_str(),
               server->port(), config.read.http_path.c_str(),
               config.read.token.empty() ? "" : " (bearer token required)");
  return RunInBackground(server, collector);
}

}  // namespace weir::server
