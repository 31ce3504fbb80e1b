// http_server.h: the HTTP/1.1 server weir's network endpoints share (the Iceberg REST catalog of
// `weir serve --catalog` today; the web console and the REST API later).
//
// Pieces, usable on their own:
//   - HttpRequest / HttpResponse: plain values a handler reads and returns. Handlers never see
//     sockets, so they are unit-tested by calling them.
//   - ParseRequestHead / FindHeadEnd: the request parser (request line, header fields, framing
//     decisions), pure functions over bytes (http_request.cc; the rest is in http_server.cc).
//   - Router: maps (method, path) to a handler. Patterns are literal segments and `{name}`
//     captures ("/v1/namespaces/{namespace}/tables/{table}"); a capture matches one whole path
//     segment, percent-decoded, so "%2F" stays inside its segment instead of splitting the path.
//     A path with no route is 404; a path whose routes all have other methods is 405 with their
//     `Allow` list; HEAD is answered by the GET route (the body is not sent).
//   - HttpServer: listens on one address and serves a Router: a blocking accept loop and one
//     thread per connection (at most `max_connections`; more get 503), keep-alive with
//     pipelining (requests on a connection are answered in order from one read buffer), bodies
//     framed by Content-Length only (chunked request bodies get 501: no client of these APIs
//     sends them), a request filter (authentication), the API's error body for the transport's
//     own errors, one log line per request, and shutdown.
//
// Why weir parses HTTP itself although cpp-httplib is installed: Debian 12's cpp-httplib 0.11.4
// drops pipelined requests (each request of a keep-alive connection starts a new read buffer, so
// bytes read ahead are lost and the client waits for the keep-alive timeout), binds with
// SO_REUSEPORT (a second server on the same port silently shares it, answering from another
// store), and polls idle keep-alive connections every 10 ms. The parser here is deliberately
// small and strict: anything ambiguous for framing is refused and the connection closed.
//
// Limits (HttpServerOptions): request line 8 KiB (414), header block 16 KiB or 100 fields (431),
// bodies over `max_body_bytes` get 413 without being read; a client that sends nothing for
// `read_timeout_seconds` mid-request gets 408; an idle keep-alive connection closes after
// `keep_alive_timeout_seconds`, and after `keep_alive_max_requests` requests.
//
// Shutdown: Stop() or the `stop_requested` predicate ends the accept loop at once; idle
// connections close at once; a request in progress is answered first (its connection then
// closes). Serve() returns when every connection thread has ended.
//
// Ownership: HttpServer owns its router, sockets and threads. Thread-safety: a Router is
// read-only once serving starts (handlers run concurrently on connection threads, so they must
// be thread-safe themselves); HttpServer::Stop() may be called from any thread; everything else
// from the thread that owns the server.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/status.h"

namespace weir::net {

struct HttpRequest {
  std::string method;  // "GET", "HEAD", "POST", ...
  std::string target;  // the request target as received ("/v1/a%1Fb?x=1")
  std::string path;    // the request target's path, still percent-encoded ("/v1/a%1Fb")
  // Query parameters, percent-decoded ("+" is a space); the first value of a repeated name.
  std::map<std::string, std::string> query;
  // Header names lower-cased; the first value of a repeated header.
  std::map<std::string, std::string> headers;
  std::string body;
  std::string remote;  // "127.0.0.1:54321"
  // Filled by the Router: the `{name}` captures of the matched pattern, percent-decoded.
  std::map<std::string, std::string> params;

  // The header (any case) or "" when absent.
  std::string Header(std::string_view name) const;
  // The capture or query parameter, or "" when absent.
  std::string Param(const std::string& name) const;
  std::string Query(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers ("ETag", ...)

  static HttpResponse Json(int status, std::string body);
  static HttpResponse Empty(int status);  // 204, 304, or a HEAD answer
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Decodes %XX escapes (and nothing else: "+" stays "+", as in a path). Invalid when an escape is
// not two hex digits.
Result<std::string> PercentDecode(std::string_view s);

// "HOST:PORT" or "[IPv6]:PORT" -> host, port (0-65535). False when it is neither.
bool ParseListen(const std::string& s, std::string* host, int* port);
// A loopback host name or address ("localhost", 127.x.x.x, ::1).
bool IsLoopback(const std::string& host);
// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 9110
// 11.1; surrounding spaces dropped), or nullopt when the header is missing or another scheme.
std::optional<std::string> BearerToken(const HttpRequest& req);
// Compares two secrets in time independent of where they differ.
bool SameToken(const std::string& a, const std::string& b);

class Router {
 public:
  // Adds a route. `pattern` starts with "/"; a segment "{name}" captures one path segment.
  // Adding the same method and pattern twice replaces the handler.
  void Add(std::string method, std::string pattern, HttpHandler handler);

  // What a request resolves to.
  struct Match {
    const HttpHandler* handler = nullptr;       // null: no route for this method
    std::map<std::string, std::string> params;  // decoded captures of the matched route
    std::vector<std::string> allowed;           // methods the path has (for 405 and OPTIONS)
    bool bad_escape = false;                    // a segment had an invalid %XX escape (400)
  };
  // `path` is percent-encoded, without the query. HEAD falls back to GET.
  Match Find(std::string_view method, std::string_view path) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // literal, or "{name}"
    HttpHandler handler;
  };
  std::vector<Route> routes_;
};

// Renders an error response for a status and message (the transport's own errors: 400, 404,
// 405, 413, 414, 500). Each API picks its error body format (the Iceberg catalog uses the
// `{"error":{...}}` of its spec).
using HttpErrorRenderer = std::function<HttpResponse(int status, const std::string& message)>;
// Runs before routing for every request; a response ends the request there (401 for a missing
// token), nullopt lets it through.
using HttpFilter = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

// The request parser's limits.
struct HttpLimits {
  size_t max_request_line = 8192;
  size_t max_header_bytes = 16384;  // the whole head, request line included
  size_t max_header_fields = 100;
};

// What ParseRequestHead found out about one request.
struct RequestHead {
  // 0: parsed. Otherwise the status to answer before closing the connection: 400 malformed,
  // 414 request line too long, 417 an Expect other than 100-continue, 431 headers too large,
  // 501 Transfer-Encoding, 505 not HTTP/1.x.
  int error_status = 0;
  std::string error;  // why, for the error body
  size_t content_length = 0;
  bool keep_alive = true;        // HTTP/1.1 without "Connection: close", or 1.0 with keep-alive
  bool expect_continue = false;  // "Expect: 100-continue"
};

// Parses a request head: the bytes up to and including the blank line that ends it (lines end
// with CRLF; a bare LF is accepted as a line end, a bare CR anywhere is refused). Fills method,
// path, query and headers of `out`.
RequestHead ParseRequestHead(std::string_view head, HttpRequest* out,
                             const HttpLimits& limits = {});
// The length of the request head at the start of `buf` (through its blank line), or
// std::string_view::npos when the blank line has not arrived yet.
size_t FindHeadEnd(std::string_view buf);

// One line per request, as the transport writes it to the log sink.
struct HttpLogEntry {
  std::string remote, method, target;  // target: path and query as received
  int status = 0;
  uint64_t response_bytes = 0;
  double millis = 0;  // time in weir's handler (0 for requests refused before routing)
};
std::string FormatLogLine(const HttpLogEntry& e);  // "127.0.0.1:5 GET /v1/config 200 120B 0.3ms"

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // an IP address; "0.0.0.0" or "::" listen everywhere
  int port = 8181;                 // 0: any free port (see HttpServer::port())
  int max_connections = 64;        // open connections served at once; more are answered 503
  size_t max_body_bytes = 1 << 20;
  int read_timeout_seconds = 10;
  int write_timeout_seconds = 10;
  int keep_alive_timeout_seconds = 5;
  int keep_alive_max_requests = 100;
  HttpErrorRenderer render_error;  // empty: a plain-text body
  HttpFilter filter;               // empty: every request is routed
  // Where log lines go; empty: stderr.
  std::function<void(const std::string& line)> log;
};

class HttpServer {
 public:
  HttpServer(Router router, HttpServerOptions options);
  // Serve() must have returned before the server is destroyed.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (SO_REUSEADDR only: a restart may reuse a port in TIME_WAIT, a second
  // server may not share a listening one); IOError naming the address when it cannot.
  Status Bind();
  // The bound port (after Bind(); the chosen one when options.port was 0).
  int port() const { return port_; }
  // Serves until Stop() is called or `stop_requested` (polled every 100 ms; may be empty) turns
  // true, then returns once the requests in progress are answered. Call after Bind(), once.
  Status Serve(const std::function<bool()>& stop_requested = {});
  // Makes Serve() return; safe from any thread, also before Serve() started.
  void Stop();

  // Handles one request without a socket: filter, routing, handler, error rendering. What the
  // transport calls for every request; public so that tests check routing and error bodies
  // without a network.
  HttpResponse Handle(HttpRequest& request) const;

 private:
  struct Connection;
  void ServeConnection(Connection& c);
  // Writes all of `bytes`; false when the peer is gone or the write timed out.
  bool WriteAll(int fd, std::string_view bytes) const;
  void WriteResponse(Connection& c, const HttpRequest& req, const HttpResponse& r, bool keep_alive,
                     double millis);

  Router router_;
  HttpServerOptions options_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: readable once stopping, wakes every poll(2) at once
  int port_ = 0;
  std::atomic<bool> stop_{false};
};

}  // namespace weir::net
