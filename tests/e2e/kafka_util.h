// The Kafka side of the e2e tests: librdkafka's mock cluster in a child process
// (weir-kafka-mock) and a kcat producer. Shared by the Kafka stream and the rules tests.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "e2e_util.h"

extern char** environ;

namespace weir::e2e {

// The mock cluster in a child process: its stdin takes commands ("down 1"), its first stdout
// line names the bootstrap servers. Ownership: owns the child and both pipes.
class KafkaMock {
 public:
  ~KafkaMock() {
    if (in_) std::fclose(in_);  // EOF on stdin ends the tool
    if (out_) std::fclose(out_);
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool Start(const std::string& topic_spec) {
    int to_child[2], from_child[2];
    if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) return false;
    posix_spawn_file_actions_t a;
    posix_spawn_file_actions_init(&a);
    posix_spawn_file_actions_adddup2(&a, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&a, from_child[1], 1);
    posix_spawn_file_actions_addclose(&a, to_child[1]);
    posix_spawn_file_actions_addclose(&a, from_child[0]);
    std::vector<std::string> argv = {KafkaMockBin(), "--topic", topic_spec};
    std::vector<char*> args;
    for (auto& s : argv) args.push_back(s.data());
    args.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, args[0], &a, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&a);
    ::close(to_child[0]);
    ::close(from_child[1]);
    in_ = ::fdopen(to_child[1], "w");
    out_ = ::fdopen(from_child[0], "r");
    if (rc != 0) return false;
    const std::string line = ReadLine();
    if (line.rfind("bootstrap=", 0) != 0) return false;
    bootstrap_ = line.substr(10);
    return true;
  }
  const std::string& bootstrap() const { return bootstrap_; }
  // Sends a command; true when the tool answered "ok".
  bool Command(const std::string& cmd) {
    std::fprintf(in_, "%s\n", cmd.c_str());
    std::fflush(in_);
    return ReadLine() == "ok";
  }

 private:
  std::string ReadLine() {
    char buf[4096];
    if (!std::fgets(buf, sizeof(buf), out_)) return "";
    std::string s(buf);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }
  pid_t pid_ = -1;
  FILE* in_ = nullptr;
  FILE* out_ = nullptr;
  std::string bootstrap_;
};

// Produces `lines` (one message each) to one partition with kcat; true when kcat succeeded
// (every message acknowledged by the broker). A kcat that has not finished in 60 s is killed
// and counts as failed: once, under the sanitizer suite's load, a produce never returned and
// the test hung until ctest's 900 s timeout instead of reporting what it saw.
inline bool Produce(const std::string& bootstrap, int partition, const std::string& lines,
             const std::string& extra = "", const std::string& topic = "events") {
  FILE* p = ::popen(("timeout 60 kcat -P -b " + bootstrap + " -t " + topic + " -p " + std::to_string(partition) +
                     " " + extra + " 2>/dev/null").c_str(),
                    "w");
  if (!p) return false;
  std::fwrite(lines.data(), 1, lines.size(), p);
  return ::pclose(p) == 0;
}

}  // namespace weir::e2e
