#include "net/http_server.h"

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <thread>

namespace weir::net {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits "/a/b/" into {"a", "b", ""}: a trailing slash is a segment of its own, so "/x/" does
// not match the route "/x" (clients that add one get a clear 404 rather than a guess).
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path[0] != '/') return out;
  size_t start = 1;
  while (true) {
    const size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

bool IsCapture(const std::string& segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 400: return "bad request";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 413: return "request body too large";
    case 414: return "request line too long";
    case 416: return "range not satisfiable";
    default: return status >= 500 ? "internal server error" : "request refused";
  }
}

std::string JoinAllowed(const std::vector<std::string>& methods) {
  std::string out;
  for (const auto& m : methods) {
    if (!out.empty()) out += ", ";
    out += m;
  }
  return out;
}

// The time in the handler of the request this pool thread is serving, for the log line
// (cpp-httplib calls the logger on the same thread right after writing the response).
thread_local double t_handler_millis = 0;

}  // namespace

std::string HttpRequest::Header(std::string_view name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string HttpRequest::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::string HttpRequest::Query(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() ? std::string() : it->second;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Empty(int status) {
  HttpResponse r;
  r.status = status;
  r.content_type.clear();
  return r;
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    const int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return Status::Invalid("invalid percent escape at byte " + std::to_string(i) + " of '" +
                             std::string(s) + "': '%' must be followed by two hex digits");
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string FormatLogLine(const HttpLogEntry& e) {
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  char rest[64];
  std::snprintf(rest, sizeof(rest), " %d %lluB %.1fms", e.status,
                static_cast<unsigned long long>(e.response_bytes), e.millis);
  // The target is the client's text: cut it, and keep control characters out of the log.
  std::string target = e.target.substr(0, 512);
  for (char& c : target) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return std::string(when) + " " + (e.remote.empty() ? "-" : e.remote) + " " +
         (e.method.empty() ? "-" : e.method) + " " + (target.empty() ? "-" : target) + rest;
}

// ---- Router ----------------------------------------------------------------------------------

void Router::Add(std::string method, std::string pattern, HttpHandler handler) {
  std::vector<std::string> segments;
  for (std::string_view s : SplitPath(pattern)) segments.emplace_back(s);
  for (auto& r : routes_) {
    if (r.method == method && r.segments == segments) {
      r.handler = std::move(handler);
      return;
    }
  }
  routes_.push_back(Route{std::move(method), std::move(segments), std::move(handler)});
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match m;
  const std::vector<std::string_view> parts = SplitPath(path);
  const Route* get_route = nullptr;
  std::map<std::string, std::string> get_params;
  for (const Route& r : routes_) {
    if (r.segments.size() != parts.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (size_t i = 0; i < parts.size() && ok; ++i) {
      if (IsCapture(r.segments[i])) {
        auto decoded = PercentDecode(parts[i]);
        if (!decoded.ok()) {
          m.bad_escape = true;
          return m;
        }
        // An empty capture ("/v1/namespaces//tables") names nothing: no match.
        ok = !decoded->empty();
        params[r.segments[i].substr(1, r.segments[i].size() - 2)] = std::move(decoded).value();
      } else {
        ok = r.segments[i] == parts[i];
      }
    }
    if (!ok) continue;
    bool listed = false;
    for (const auto& a : m.allowed) listed = listed || a == r.method;
    if (!listed) m.allowed.push_back(r.method);
    if (r.method == method && !m.handler) {
      m.handler = &r.handler;
      m.params = std::move(params);
    } else if (r.method == "GET" && !get_route) {
      get_route = &r;
      get_params = std::move(params);
    }
  }
  // HEAD is GET without the body (RFC 9110 9.3.2), unless the path has a HEAD route of its own.
  if (!m.handler && method == "HEAD" && get_route) {
    m.handler = &get_route->handler;
    m.params = std::move(get_params);
  }
  bool has_get = false, has_head = false;
  for (const auto& a : m.allowed) {
    has_get = has_get || a == "GET";
    has_head = has_head || a == "HEAD";
  }
  if (has_get && !has_head) m.allowed.push_back("HEAD");
  return m;
}

// ---- HttpServer ----------------------------------------------------------------------------

struct HttpServer::Impl {
  httplib::Server server;
  std::atomic<bool> listening{false};
};

HttpServer::HttpServer(Router router, HttpServerOptions options)
    : router_(std::move(router)), options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  if (!options_.log) {
    options_.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  }
  if (!options_.render_error) {
    options_.render_error = [](int status, const std::string& message) {
      HttpResponse r;
      r.status = status;
      r.content_type = "text/plain";
      r.body = message + "\n";
      return r;
    };
  }
}

HttpServer::~HttpServer() { Stop(); }

HttpResponse HttpServer::Handle(HttpRequest& request) const {
  if (options_.filter) {
    if (auto refused = options_.filter(request)) return *refused;
  }
  Router::Match m = router_.Find(request.method, request.path);
  if (m.bad_escape) {
    return options_.render_error(
        400, "malformed path '" + request.path + "': '%' must be followed by two hex digits");
  }
  if (!m.handler) {
    if (m.allowed.empty()) {
      return options_.render_error(404, "no such resource: " + request.path);
    }
    const std::string allow = JoinAllowed(m.allowed);
    HttpResponse r = request.method == "OPTIONS"
                         ? HttpResponse::Empty(204)
                         : options_.render_error(405, "method " + request.method +
                                                          " is not allowed on " + request.path +
                                                          " (allowed: " + allow + ")");
    r.headers.emplace_back("Allow", allow);
    return r;
  }
  request.params = std::move(m.params);
  try {
    return (*m.handler)(request);
  } catch (const std::exception& e) {
    return options_.render_error(500, std::string("internal error: ") + e.what());
  } catch (...) {
    return options_.render_error(500, "internal error");
  }
}

Status HttpServer::Bind() {
  httplib::Server& s = impl_->server;
  // The pool is cpp-httplib's TaskQueue interface, which takes ownership of a raw pointer.
  const size_t threads = static_cast<size_t>(std::max(1, options_.threads));
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_payload_max_length(options_.max_body_bytes);
  s.set_read_timeout(options_.read_timeout_seconds, 0);
  s.set_write_timeout(options_.write_timeout_seconds, 0);
  s.set_keep_alive_timeout(options_.keep_alive_timeout_seconds);
  s.set_keep_alive_max_count(static_cast<size_t>(std::max(1, options_.keep_alive_max_requests)));

  // Every request whose method cpp-httplib routes lands in one handler that does weir's routing:
  // the pattern only has to match any path. It is applied after the body was read (or refused
  // with 413), so a keep-alive connection never sees a leftover body as its next request.
  auto handler = [this](const httplib::Request& in, httplib::Response& out) {
    const auto start = std::chrono::steady_clock::now();
    HttpRequest req;
    req.method = in.method;
    req.path = in.target.substr(0, in.target.find('?'));
    for (const auto& [k, v] : in.params) req.query.emplace(k, v);
    for (const auto& [k, v] : in.headers) req.headers.emplace(Lower(k), v);
    req.body = in.body;
    req.remote = in.remote_addr + ":" + std::to_string(in.remote_port);
    HttpResponse r = Handle(req);
    out.status = r.status;
    for (auto& [k, v] : r.headers) out.set_header(k, v);
    if (!r.body.empty() || !r.content_type.empty()) {
      out.set_content(std::move(r.body), r.content_type.empty() ? "text/plain" : r.content_type);
    }
    t_handler_millis =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count();
  };
  const std::string any_path = "/[\\s\\S]*";
  s.Get(any_path, handler);  // GET and HEAD
  s.Post(any_path, handler);
  s.Put(any_path, handler);
  s.Patch(any_path, handler);
  s.Delete(any_path, handler);
  s.Options(any_path, handler);

  // Errors the transport produces itself (400 malformed, 413, 414, and methods it has no route
  // kind for: TRACE, CONNECT) get the API's error body. Responses from Handle() already have one.
  s.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& in,
                                                                  httplib::Response& out) {
    if (!out.body.empty() || out.status == 405) return httplib::Server::HandlerResponse::Unhandled;
    HttpResponse r;
    if (out.status == 404 && !in.method.empty() && !in.target.empty() && in.target[0] == '/') {
      // A method cpp-httplib does not route: weir's router decides (405 on a known path).
      HttpRequest req;
      req.method = in.method;
      req.path = in.target.substr(0, in.target.find('?'));
      for (const auto& [k, v] : in.headers) req.headers.emplace(Lower(k), v);
      r = Handle(req);
    } else {
      r = options_.render_error(out.status, ReasonPhrase(out.status));
    }
    out.status = r.status;
    for (auto& [k, v] : r.headers) out.set_header(k, v);
    out.set_content(std::move(r.body), r.content_type.empty() ? "text/plain" : r.content_type);
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler(
      [this](const httplib::Request&, httplib::Response& out, std::exception_ptr) {
        HttpResponse r = options_.render_error(500, "internal error");
        out.status = 500;
        out.set_content(std::move(r.body), r.content_type);
      });
  s.set_logger([this](const httplib::Request& in, const httplib::Response& out) {
    HttpLogEntry e;
    if (!in.remote_addr.empty()) e.remote = in.remote_addr + ":" + std::to_string(in.remote_port);
    e.method = in.method;
    e.target = in.target;
    e.status = out.status;
    e.response_bytes = in.method == "HEAD" ? 0 : out.body.size();
    e.millis = t_handler_millis;
    t_handler_millis = 0;
    options_.log(FormatLogLine(e));
  });

  const int port = options_.port == 0 ? s.bind_to_any_port(options_.host)
                                      : (s.bind_to_port(options_.host, options_.port)
                                             ? options_.port
                                             : -1);
  if (port <= 0) {
    return Status::IOError("cannot listen on " + options_.host + ":" +
                               std::to_string(options_.port) +
                               ": the address is in use or not an address of this machine; "
                               "pick another with --listen HOST:PORT",
                           false);
  }
  port_ = port;
  impl_->listening = true;
  return Status::OK();
}

Status HttpServer::Serve(const std::function<bool()>& stop_requested) {
  if (!impl_->listening) return Status::Invalid("HttpServer::Serve called before Bind()");
  std::atomic<bool> done{false};
  // cpp-httplib's accept loop blocks in accept(2); stop() closes the listening socket to end it.
  // It may only be called once the loop runs (is_running()), and only once.
  std::thread watcher([&] {
    bool stopped = false;
    while (!done) {
      if (!stopped && (stop_ || (stop_requested && stop_requested())) &&
          impl_->server.is_running()) {
        impl_->server.stop();
        stopped = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const bool clean = impl_->server.listen_after_bind();
  done = true;
  watcher.join();
  impl_->listening = false;
  if (!clean && !stop_) {
    // The loop also ends with false when stop() closed the socket under accept(); only an
    // accept error with no stop requested is a failure.
    if (!(stop_requested && stop_requested())) {
      return Status::IOError("the HTTP server's accept loop failed on " + options_.host + ":" +
                             std::to_string(port_));
    }
  }
  return Status::OK();
}

void HttpServer::Stop() { stop_ = true; }

}  // namespace weir::net
