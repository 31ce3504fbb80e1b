#include "net/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <list>
#include <mutex>
#include <thread>

namespace weir::net {
namespace {

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

// The reason phrase of the status line (RFC 9110 section 15).
const char* StatusText(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

// RFC 9110 5.6.2 token characters (method names, header field names).
std::string HttpDate() {
  char buf[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string PeerName(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return "?";
}

std::string JoinAllowed(const std::vector<std::string>& methods) {
  std::string out;
  for (const auto& m : methods) {
    if (!out.empty()) out += ", ";
    out += m;
  }
  return out;
}

}  // namespace

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

// One accepted connection: its socket and read buffer, served by its own thread.
struct HttpServer::Connection {
  int fd = -1;
  std::string remote;
  std::string buf;  // bytes read and not yet consumed (pipelined requests wait here)
  std::thread thread;
  std::atomic<bool> done{false};
};

HttpServer::HttpServer(Router router, HttpServerOptions options)
    : router_(std::move(router)), options_(std::move(options)) {
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

HttpServer::~HttpServer() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

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
    HttpResponse r =
        request.method == "OPTIONS"
            ? HttpResponse::Empty(204)
            : options_.render_error(405, "method " + request.method + " is not allowed on " +
                                             request.path + " (allowed: " + allow + ")");
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
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc =
      ::getaddrinfo(options_.host.c_str(), std::to_string(options_.port).c_str(), &hints, &found);
  if (rc != 0) {
    return Status::IOError("cannot listen on " + where + ": " + ::gai_strerror(rc), false);
  }
  std::string last_error = "no address";
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
    break;
  }
  ::freeaddrinfo(found);
  if (listen_fd_ < 0) {
    return Status::IOError("cannot listen on " + where + ": " + last_error +
                               " (another server on that port, or not an address of this "
                               "machine); pick another with --listen HOST:PORT",
                           false);
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                     : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Status::IOError(std::string("eventfd: ") + std::strerror(errno), false);
  return Status::OK();
}

Status HttpServer::Serve(const std::function<bool()>& stop_requested) {
  if (listen_fd_ < 0) return Status::Invalid("HttpServer::Serve called before Bind()");
  std::list<Connection> connections;
  auto reap = [&connections](bool all) {
    for (auto it = connections.begin(); it != connections.end();) {
      if (all || it->done) {
        it->thread.join();
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
  };
  Status result;
  while (true) {
    if (stop_ || (stop_requested && stop_requested())) break;
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, 100);
    reap(false);
    if (n < 0) {
      if (errno == EINTR) continue;
      result =
          Status::IOError(std::string("poll on the listening socket: ") + std::strerror(errno));
      break;
    }
    if (n == 0 || !(fds[0].revents & POLLIN)) continue;
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      // Transient (the peer gave up, out of descriptors for a moment): keep serving.
      if (errno == EMFILE || errno == ENFILE)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    // A client that stops reading cannot hold a thread forever: a blocked send(2) gives up.
    const timeval send_timeout{options_.write_timeout_seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
    Connection& c = connections.emplace_back();
    c.fd = fd;
    c.remote = PeerName(addr);
    if (static_cast<int>(connections.size()) > std::max(1, options_.max_connections)) {
      HttpRequest none;
      WriteResponse(c, none,
                    options_.render_error(503, "too many connections (" +
                                                   std::to_string(options_.max_connections) +
                                                   "); retry shortly"),
                    false, 0);
      ::close(c.fd);
      connections.pop_back();
      continue;
    }
    c.thread = std::thread([this, &c] {
      ServeConnection(c);
      ::close(c.fd);
      c.done = true;
    });
  }
  // Stop: no new connections; wake every connection thread (the eventfd stays readable).
  stop_ = true;
  const uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof(one)) < 0) {
    // Already readable (counter saturated) is fine; anything else leaves threads to time out.
  }
  ::close(listen_fd_);
  listen_fd_ = -1;
  reap(true);
  return result;
}

void HttpServer::Stop() {
  stop_ = true;
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }
}

bool HttpServer::WriteAll(int fd, std::string_view bytes) const {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, options_.write_timeout_seconds * 1000) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

void HttpServer::WriteResponse(Connection& c, const HttpRequest& req, const HttpResponse& r,
                               bool keep_alive, double millis) {
  // 1xx, 204 and 304 have no body (RFC 9112 6.3); HEAD announces the body's length only.
  const bool bodiless = r.status == 204 || r.status == 304 || r.status < 200;
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + StatusText(r.status) + "\r\n";
  out += "Date: " + HttpDate() + "\r\n";
  if (!bodiless) {
    if (!r.content_type.empty()) out += "Content-Type: " + r.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  }
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
  const bool send_body = !bodiless && req.method != "HEAD";
  if (send_body) out += r.body;
  WriteAll(c.fd, out);
  HttpLogEntry e;
  e.remote = c.remote;
  e.method = req.method;
  e.target = req.target.empty() ? req.path : req.target;
  e.status = r.status;
  e.response_bytes = send_body ? r.body.size() : 0;
  e.millis = millis;
  options_.log(FormatLogLine(e));
}

void HttpServer::ServeConnection(Connection& c) {
  const HttpLimits limits;
  int served = 0;
  // Waits until the socket has bytes (true) or the timeout, a stop or an error (false). While
  // `idle`, a stop ends the wait at once; mid-request the client gets its answer first.
  auto wait_readable = [&](int timeout_seconds, bool idle) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) return false;
      pollfd fds[2] = {{c.fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      const int n = ::poll(fds, idle ? 2 : 1, static_cast<int>(left));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) return true;
      if (idle && (fds[1].revents & POLLIN)) return false;
    }
  };
  // Reads what is available into the buffer; false on EOF or error.
  auto fill = [&]() {
    char tmp[16384];
    while (true) {
      const ssize_t n = ::recv(c.fd, tmp, sizeof(tmp), 0);
      if (n > 0) {
        c.buf.append(tmp, static_cast<size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
  };
  // Closing after an error answer: stop sending, then read and drop what the client still sends
  // (a refused body) for a moment, so the close does not reset the connection before the client
  // read the answer.
  auto linger_close = [&]() {
    ::shutdown(c.fd, SHUT_WR);
    size_t dropped = 0;
    char tmp[16384];
    while (dropped < (4u << 20)) {
      pollfd p{c.fd, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) break;
      const ssize_t n = ::recv(c.fd, tmp, sizeof(tmp), 0);
      if (n <= 0) break;
      dropped += static_cast<size_t>(n);
    }
  };
  auto refuse = [&](HttpRequest& req, int status, const std::string& message) {
    WriteResponse(c, req, options_.render_error(status, message), false, 0);
    linger_close();
  };

  while (true) {
    // Empty lines before a request line are ignored (RFC 9112 2.2).
    size_t skip = 0;
    while (skip < c.buf.size() && (c.buf[skip] == '\r' || c.buf[skip] == '\n')) ++skip;
    c.buf.erase(0, skip);
    size_t head_end = FindHeadEnd(c.buf);
    while (head_end == std::string::npos) {
      if (c.buf.size() > limits.max_header_bytes) {
        HttpRequest req;
        const bool long_line =
            c.buf.find('\n') == std::string::npos && c.buf.size() > limits.max_request_line;
        refuse(req, long_line ? 414 : 431,
               long_line ? "request line too long" : "request head too large");
        return;
      }
      if (stop_ && c.buf.empty()) return;
      const bool waiting_idle = c.buf.empty();
      if (!wait_readable(waiting_idle && served > 0 ? options_.keep_alive_timeout_seconds
                                                    : options_.read_timeout_seconds,
                         waiting_idle)) {
        if (!c.buf.empty() && !stop_) {
          HttpRequest req;
          refuse(
              req, 408,
              "request not complete after " + std::to_string(options_.read_timeout_seconds) + " s");
        }
        return;
      }
      if (!fill()) return;
      skip = 0;
      while (skip < c.buf.size() && (c.buf[skip] == '\r' || c.buf[skip] == '\n')) ++skip;
      c.buf.erase(0, skip);
      head_end = FindHeadEnd(c.buf);
    }
    const auto start = std::chrono::steady_clock::now();
    HttpRequest req;
    req.remote = c.remote;
    RequestHead head = ParseRequestHead(std::string_view(c.buf).substr(0, head_end), &req, limits);
    c.buf.erase(0, head_end);
    if (head.error_status) {
      refuse(req, head.error_status, head.error);
      return;
    }
    if (head.content_length > options_.max_body_bytes) {
      refuse(req, 413,
             "request body of " + std::to_string(head.content_length) +
                 " bytes is over the limit of " + std::to_string(options_.max_body_bytes));
      return;
    }
    if (head.expect_continue && c.buf.size() < head.content_length) {
      if (!WriteAll(c.fd, "HTTP/1.1 100 Continue\r\n\r\n")) return;
    }
    while (c.buf.size() < head.content_length) {
      if (!wait_readable(options_.read_timeout_seconds, false)) {
        refuse(req, 408,
               "request body not complete after " + std::to_string(options_.read_timeout_seconds) +
                   " s");
        return;
      }
      if (!fill()) return;
    }
    req.body = c.buf.substr(0, head.content_length);
    c.buf.erase(0, head.content_length);
    HttpResponse r = Handle(req);
    ++served;
    const bool keep = head.keep_alive && !stop_ && served < options_.keep_alive_max_requests;
    const double millis =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    WriteResponse(c, req, r, keep, millis);
    if (!keep) {
      ::shutdown(c.fd, SHUT_WR);
      return;
    }
  }
}

}  // namespace weir::net
