// weir-kafka-mock, the mock cluster the stream end-to-end tests run as a child process: its
// bootstrap line, its commands, and that a KafkaConsumer reads through it.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "kafka_test_util.h"
#include "source/kafka_consumer.h"

extern char** environ;

namespace weir::source {
namespace {

using testing::Consumed;
using testing::FastOptions;
using testing::PollUntil;
using testing::TestProducer;

// The tool as a child process with pipes to its stdin and from its stdout.
class MockTool {
 public:
  explicit MockTool(std::vector<std::string> args) {
    int in[2], out[2];
    EXPECT_EQ(pipe(in), 0);
    EXPECT_EQ(pipe(out), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    for (int fd : {in[0], in[1], out[0], out[1]}) posix_spawn_file_actions_addclose(&actions, fd);
    args.insert(args.begin(), WEIR_KAFKA_MOCK);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, WEIR_KAFKA_MOCK, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    to_ = fdopen(in[1], "w");
    from_ = fdopen(out[0], "r");
  }
  ~MockTool() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (to_ != nullptr) fclose(to_);
    if (from_ != nullptr) fclose(from_);
  }

  std::string ReadLine() {
    char buf[4096];
    if (fgets(buf, sizeof(buf), from_) == nullptr) return "<eof>";
    std::string s(buf);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  std::string Command(const std::string& line) {
    fprintf(to_, "%s\n", line.c_str());
    fflush(to_);
    return ReadLine();
  }
  void CloseStdin() {
    fclose(to_);
    to_ = nullptr;
  }
  // Waits up to 5 s for the exit; returns the exit status, or -1.
  int Wait() {
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
};

TEST(KafkaMockToolTest, ServesTopicsAndAnswersCommands) {
  MockTool tool({"--brokers", "2", "--topic", "ev:2", "--topic=other:1"});
  std::string first = tool.ReadLine();
  ASSERT_EQ(first.rfind("bootstrap=", 0), 0u) << first;
  std::string bootstrap = first.substr(10);
  EXPECT_NE(bootstrap.find(','), std::string::npos) << "two brokers: " << bootstrap;

  TestProducer producer(bootstrap);
  producer.SendRange("ev", 0, 0, 5);
  producer.SendRange("ev", 1, 0, 5);
  producer.Flush();
  auto c = KafkaConsumer::Create(FastOptions(bootstrap, {"ev"}, "g-tool"), {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Consumed got;
  ASSERT_TRUE(PollUntil(**c, got, [&] { return got.records.size() == 10; }));

  EXPECT_EQ(tool.Command("down 2"), "ok");
  EXPECT_EQ(tool.Command("up 2"), "ok");
  EXPECT_EQ(tool.Command("down 3").rfind("error ", 0), 0u);
  EXPECT_EQ(tool.Command("topic fresh 3"), "ok");
  EXPECT_EQ(tool.Command("topic fresh 3").rfind("error TOPIC_ALREADY_EXISTS", 0), 0u);
  EXPECT_EQ(tool.Command("leader ev 1 2"), "ok");
  std::string partitions = tool.Command("partitions ev 4");
  EXPECT_EQ(partitions.rfind("error ", 0), 0u) << partitions;
  EXPECT_NE(partitions.find("cannot add partitions"), std::string::npos) << partitions;
  // A blank line gets no answer: the next answer is the next command's.
  EXPECT_EQ(tool.Command("  \nexplode").rfind("error unknown command \"explode\"", 0), 0u);

  // The created topic is served.
  producer.SendRange("fresh", 2, 0, 3);
  producer.Flush();
  EXPECT_TRUE((*c)->Close().ok());
  tool.CloseStdin();  // the end of stdin stops the cluster
  EXPECT_EQ(tool.Wait(), 0);
}

TEST(KafkaMockToolTest, StopsOnSigterm) {
  MockTool tool({"--topic", "ev:1"});
  ASSERT_EQ(tool.ReadLine().rfind("bootstrap=127.0.0.1:", 0), 0u);
  ASSERT_EQ(kill(tool.pid(), SIGTERM), 0);
  EXPECT_EQ(tool.Wait(), 0);
}

TEST(KafkaMockToolTest, RejectsBadArguments) {
  MockTool tool({"--topic", "ev"});
  EXPECT_EQ(tool.ReadLine(), "<eof>");
  EXPECT_EQ(tool.Wait(), 2);
}

}  // namespace
}  // namespace weir::source
