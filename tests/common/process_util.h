// Helpers for tests that run server processes on loopback (no weir, no DuckDB): free ports,
// spawning with the output in a log, and a server process owned by a test.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace weir::e2e {

// A free TCP port on 127.0.0.1 (bound to port 0, read back, released; another process may take
// it before the caller binds it, so callers retry).
inline int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// Starts `argv` (argv[0] looked up in PATH) with stdout and stderr going to `log_path` (appended
// to when `append`, else truncated) and stdin from /dev/null. The child's pid, or -1.
inline pid_t SpawnLogged(const std::vector<std::string>& argv, const std::string& log_path,
                         bool append = false) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(),
                                   O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// A server process of a test (an HTTP server, s3rver, ...) listening on a free loopback port:
// Start() runs the command `argv(port)` and waits until the port accepts connections, and
// retries on another port when the one picked was taken meanwhile. The destructor stops it
// (SIGTERM, then SIGKILL after ~5 s) and reaps it.
// Ownership: owns the child process. Thread-safety: none; use from the test's thread.
class LoopbackService {
 public:
  LoopbackService() = default;
  LoopbackService(const LoopbackService&) = delete;
  LoopbackService& operator=(const LoopbackService&) = delete;
  ~LoopbackService() { Stop(); }

  // False when no server came up; its output goes to `log_path`.
  bool Start(const std::function<std::vector<std::string>(int port)>& argv,
             const std::string& log_path) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = FreeLoopbackPort();
      if (port_ <= 0) continue;
      pid_ = SpawnLogged(argv(port_), log_path);
      if (pid_ <= 0) return false;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (std::chrono::steady_clock::now() < deadline && Running()) {
        if (CanConnect()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      Stop();  // exited (port taken?) or never answered: try another port
    }
    return false;
  }
  int port() const { return port_; }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && Running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  bool CanConnect() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return ok;
  }

  pid_t pid_ = -1;
  int port_ = -1;
};

}  // namespace weir::e2e
