// FaultProxy: a loopback HTTP/1.1 proxy for the tests, in front of s3rver, that injects S3's
// failures (503 SlowDown, 500, 403, connection resets, stalls, responses cut mid-body) into the
// requests a test chooses. Used by the S3 client's tests and the fleet chaos test.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace weir::e2e {

enum class Fault { kNone, kSlowDown, kInternal, kReset, kStall, kCutBody, kForbidden };

// A loopback HTTP/1.1 proxy in front of s3rver. Each request is read whole, then either forwarded
// (on the client connection's own upstream connection, kept alive like the client's; the answer
// is read whole and relayed) or answered with the fault `decide` picks for it. Records every
// request's head.
// A connection per request would leave a socket in TIME_WAIT per request on this side: minutes
// of a busy test used up the ephemeral ports, and then the proxy could not reach s3rver at all
// (the long chaos run's "Server returned nothing" eight times in a row).
// Ownership: owns its listening socket and threads (a finished connection's thread is joined
// when the next connection arrives). Thread-safety: decide() runs on the connection threads;
// the counters and heads are guarded.
class FaultProxy {
 public:
  using Decide = std::function<Fault(const std::string& head)>;
  FaultProxy(int upstream_port, Decide decide) : upstream_(upstream_port), decide_(std::move(decide)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(listen_fd_, 64);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~FaultProxy() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    std::lock_guard<std::mutex> l(mu_);
    for (auto& w : workers_) w.thread.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Forwards to another upstream port from now on (a restarted server).
  void set_upstream(int port) { upstream_ = port; }
  int injected(Fault f) {
    std::lock_guard<std::mutex> l(mu_);
    return injected_[f];
  }
  std::vector<std::string> heads() {
    std::lock_guard<std::mutex> l(mu_);
    return heads_;
  }
  // Requests the proxy could not forward (s3rver unreachable or closed mid-answer), faults aside.
  int forward_failures() const { return forward_failures_; }

 private:
  void Accept() {
    while (!stop_) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::lock_guard<std::mutex> l(mu_);
      for (auto it = workers_.begin(); it != workers_.end();) {
        if (*it->done) {
          it->thread.join();
          it = workers_.erase(it);
        } else {
          ++it;
        }
      }
      auto done = std::make_shared<std::atomic<bool>>(false);
      workers_.push_back({std::thread([this, fd, done] {
                            Serve(fd);
                            *done = true;
                          }),
                          done});
    }
  }

  // Reads one HTTP message (head + Content-Length body, or chunked, or to the end when
  // `to_close`) from `fd` into `out`, keeping what follows in `buf`. False on EOF/error.
  static bool ReadMessage(int fd, std::string& buf, std::string& out, bool no_body, bool to_close) {
    auto fill = [&]() {
      char tmp[65536];
      const ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<size_t>(n));
      return true;
    };
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return false;
    }
    std::string head = buf.substr(0, end + 4);
    std::string lower = head;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t body = 0;
    bool chunked = lower.find("transfer-encoding: chunked") != std::string::npos;
    const size_t cl = lower.find("content-length:");
    bool known = false;
    if (cl != std::string::npos) {
      body = std::strtoull(lower.c_str() + cl + 15, nullptr, 10);
      known = true;
    }
    // A 204 or 304 answer has no body whatever its headers say (DELETE answers 204).
    if (head.rfind("HTTP/1.1 204", 0) == 0 || head.rfind("HTTP/1.1 304", 0) == 0) no_body = true;
    if (no_body) {
      body = 0;
      chunked = false;
      known = true;
    }
    if (chunked) {
      while (buf.find("\r\n0\r\n\r\n", end) == std::string::npos) {
        if (!fill()) return false;
      }
      const size_t stop = buf.find("\r\n0\r\n\r\n", end) + 7;
      out = buf.substr(0, stop);
      buf.erase(0, stop);
      return true;
    }
    if (!known && to_close) {
      while (fill()) {
      }
      out = buf;
      buf.clear();
      return true;
    }
    while (buf.size() < end + 4 + body) {
      if (!fill()) return false;
    }
    out = buf.substr(0, end + 4 + body);
    buf.erase(0, end + 4 + body);
    return true;
  }

  static void SendAll(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  static std::string ErrorAnswer(int status, const std::string& reason, const std::string& code) {
    const std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
                             "</Code><Message>injected by the test proxy</Message></Error>";
    return "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\nContent-Type: application/xml\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
  }

  // The upstream connection of one client connection, kept alive across its requests.
  struct Upstream {
    int fd = -1;
    int port = 0;
    std::string buf;
    ~Upstream() { Drop(); }
    void Drop() {
      if (fd >= 0) ::close(fd);
      fd = -1;
      buf.clear();
    }
  };

  void Serve(int fd) {
    Upstream up;
    std::string buf, request;
    while (!stop_ && ReadMessage(fd, buf, request, false, false)) {
      const std::string head = request.substr(0, request.find("\r\n\r\n"));
      const Fault f = decide_(head);
      {
        std::lock_guard<std::mutex> l(mu_);
        heads_.push_back(head);
        ++injected_[f];
      }
      if (f == Fault::kSlowDown) return Close(fd, ErrorAnswer(503, "Slow Down", "SlowDown"));
      if (f == Fault::kInternal) return Close(fd, ErrorAnswer(500, "Internal Server Error", "InternalError"));
      if (f == Fault::kForbidden) return Close(fd, ErrorAnswer(403, "Forbidden", "AccessDenied"));
      if (f == Fault::kReset) {
        linger lg{1, 0};  // close with RST
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        ::close(fd);
        return;
      }
      if (f == Fault::kStall) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // past stall_seconds (1)
        ::close(fd);
        return;
      }
      std::string answer;
      if (!Forward(request, head.rfind("HEAD ", 0) == 0, &up, &answer)) {
        ++forward_failures_;
        return Close(fd, "");
      }
      if (f == Fault::kCutBody) {
        const size_t body_at = answer.find("\r\n\r\n") + 4;
        const size_t keep = body_at + (answer.size() - body_at) / 3;
        SendAll(fd, std::string_view(answer).substr(0, keep));
        ::close(fd);
        return;
      }
      SendAll(fd, answer);
    }
    ::close(fd);
  }

  void Close(int fd, const std::string& answer) {
    SendAll(fd, answer);
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
  }

  bool Forward(const std::string& request, bool head_only, Upstream* up, std::string* answer) {
    // A kept connection may have been closed by s3rver while idle (or s3rver restarted on
    // another port): then once more on a fresh one.
    if (up->fd >= 0 && up->port != upstream_.load()) up->Drop();
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool fresh = up->fd < 0;
      if (fresh && !Connect(up)) return false;
      SendAll(up->fd, request);
      answer->clear();
      if (ReadMessage(up->fd, up->buf, *answer, head_only, true)) {
        std::string lower = answer->substr(0, answer->find("\r\n\r\n"));
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const bool framed = lower.find("content-length:") != std::string::npos ||
                            lower.find("transfer-encoding: chunked") != std::string::npos ||
                            head_only;
        if (!framed || lower.find("connection: close") != std::string::npos) up->Drop();
        return true;
      }
      up->Drop();
      if (fresh) return false;
    }
    return false;
  }

  bool Connect(Upstream* up) {
    up->fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(upstream_.load()));
    if (::connect(up->fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      up->Drop();
      return false;
    }
    up->port = upstream_.load();
    return true;
  }

  std::atomic<int> upstream_;
  Decide decide_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mu_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Worker> workers_;
  std::atomic<int> forward_failures_{0};
  std::map<Fault, int> injected_;
  std::vector<std::string> heads_;
};

}  // namespace weir::e2e
