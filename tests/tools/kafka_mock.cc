// weir-kafka-mock: a librdkafka mock Kafka cluster in its own process, for end-to-end tests.
//
//   weir-kafka-mock [--brokers N] [--topic NAME:PARTITIONS]...
//
// Starts a mock cluster of N brokers (ids 1..N, default 1) on loopback ports, creates the given
// topics, prints one line "bootstrap=<host:port,...>" on stdout, then serves until SIGTERM or
// SIGINT or the end of stdin. Commands on stdin, one a line, each answered by one line on stdout,
// "ok" or "error <why>":
//
//   down <broker_id>                    the broker drops its connections and refuses new ones
//   up <broker_id>                      it accepts connections again
//   topic <name> <partitions>           creates a topic
//   leader <topic> <partition> <id>     moves a partition's leader (`down` does not move leaders)
//   partitions <name> <total>           always "error": see below
//
// Limits of the librdkafka 2.0.2 mock that tests must live with (read in its source,
// src/rdkafka_mock.c):
//   - Partitions cannot be added to an existing topic: there is no mock API for it and the mock
//     broker does not implement CreatePartitions (nor CreateTopics: `topic` uses the mock API).
//   - Each partition keeps at most 5 MiB or 100,000 message sets (producer batches) and deletes
//     the oldest batches beyond that (fixed in rd_kafka_mock_partition_init; no setting, no API).
//     Produce while consuming, or spread data over more partitions.
//   - Broker ports are chosen by the OS; consumer-group joins of a new group wait 3 s (fixed).
//
// Signals are blocked in every thread (librdkafka's threads inherit the mask) and read through a
// signalfd, so the main loop waits for stdin and signals in one poll().
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

bool ParseInt(const std::string& s, long min, long max, long* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return false;
  *out = v;
  return true;
}

int Usage(const char* why) {
  std::fprintf(stderr,
               "weir-kafka-mock: %s\n"
               "usage: weir-kafka-mock [--brokers N] [--topic NAME:PARTITIONS]...\n",
               why);
  return 2;
}

std::string ErrText(rd_kafka_resp_err_t err) {
  return std::string(rd_kafka_err2name(err)) + ": " + rd_kafka_err2str(err);
}

// Runs one command line; returns the answer line.
std::string Execute(rd_kafka_mock_cluster_t* mcluster, int brokers, const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  if (words.empty()) return "error empty command";
  const std::string& cmd = words[0];
  long a = 0, b = 0;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (cmd == "down" || cmd == "up") {
    if (words.size() != 2 || !ParseInt(words[1], 1, brokers, &a)) {
      return "error usage: " + cmd + " <broker_id 1.." + std::to_string(brokers) + ">";
    }
    err = cmd == "down" ? rd_kafka_mock_broker_set_down(mcluster, static_cast<int32_t>(a))
                        : rd_kafka_mock_broker_set_up(mcluster, static_cast<int32_t>(a));
  } else if (cmd == "topic") {
    if (words.size() != 3 || !ParseInt(words[2], 1, 100000, &a)) {
      return "error usage: topic <name> <partitions>";
    }
    err = rd_kafka_mock_topic_create(mcluster, words[1].c_str(), static_cast<int>(a),
                                     brokers < 3 ? brokers : 3);
  } else if (cmd == "leader") {
    if (words.size() != 4 || !ParseInt(words[2], 0, 100000, &a) ||
        !ParseInt(words[3], 1, brokers, &b)) {
      return "error usage: leader <topic> <partition> <broker_id>";
    }
    err = rd_kafka_mock_partition_set_leader(mcluster, words[1].c_str(), static_cast<int32_t>(a),
                                             static_cast<int32_t>(b));
  } else if (cmd == "partitions") {
    return "error the librdkafka " + std::string(rd_kafka_version_str()) +
           " mock cluster cannot add partitions to an existing topic (no mock API, no "
           "CreatePartitions support)";
  } else {
    return "error unknown command \"" + cmd + "\" (down, up, topic, leader, partitions)";
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return "error " + ErrText(err);
  return "ok";
}

void Answer(const std::string& s) {
  std::fputs(s.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  long brokers = 1;
  std::vector<std::pair<std::string, int>> topics;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    auto take_value = [&](const std::string& name) -> bool {
      if (arg == name) {
        if (i + 1 >= argc) return false;
        value = argv[++i];
        return true;
      }
      if (arg.rfind(name + "=", 0) == 0) {
        value = arg.substr(name.size() + 1);
        return true;
      }
      return false;
    };
    if (take_value("--brokers")) {
      if (!ParseInt(value, 1, 64, &brokers)) return Usage("--brokers takes a number 1..64");
    } else if (take_value("--topic")) {
      size_t colon = value.rfind(':');
      long parts = 0;
      if (colon == std::string::npos || colon == 0 ||
          !ParseInt(value.substr(colon + 1), 1, 100000, &parts)) {
        return Usage(("--topic takes NAME:PARTITIONS, got \"" + value + "\"").c_str());
      }
      topics.emplace_back(value.substr(0, colon), static_cast<int>(parts));
    } else if (arg == "--help" || arg == "-h") {
      std::printf("usage: weir-kafka-mock [--brokers N] [--topic NAME:PARTITIONS]...\n");
      return 0;
    } else {
      return Usage(("unknown argument \"" + arg + "\"").c_str());
    }
  }

  // Before any thread exists, so librdkafka's threads inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGPIPE);  // a closed stdout must not kill the cluster silently
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) return Usage("pthread_sigmask failed");
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  int sfd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
  if (sfd < 0) return Usage("signalfd failed");

  // The mock needs a client handle for its own book-keeping; a producer that never produces.
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // log_level 4: warnings and worse; hides the notice that this handle has no bootstrap.servers.
  if (rd_kafka_conf_set(conf, "client.id", "weir-kafka-mock", errstr, sizeof(errstr)) !=
          RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    return Usage(errstr);
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    std::fprintf(stderr, "weir-kafka-mock: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* mcluster = rd_kafka_mock_cluster_new(rk, static_cast<int>(brokers));
  if (mcluster == nullptr) {
    std::fprintf(stderr, "weir-kafka-mock: cannot create the mock cluster\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  for (const auto& [name, parts] : topics) {
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
        mcluster, name.c_str(), parts, brokers < 3 ? static_cast<int>(brokers) : 3);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "weir-kafka-mock: topic %s: %s\n", name.c_str(), ErrText(err).c_str());
      rd_kafka_mock_cluster_destroy(mcluster);
      rd_kafka_destroy(rk);
      return 1;
    }
  }
  Answer(std::string("bootstrap=") + rd_kafka_mock_cluster_bootstraps(mcluster));

  std::string pending;  // stdin bytes not yet ended by a newline
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("weir-kafka-mock: poll");
      break;
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info;
      if (read(sfd, &info, sizeof(info)) > 0) {
        std::fprintf(stderr, "weir-kafka-mock: stopping on signal %u\n", info.ssi_signo);
      }
      break;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {  // end of stdin: the test that started us is gone or done
        if (!pending.empty()) Answer(Execute(mcluster, static_cast<int>(brokers), pending));
        break;
      }
      pending.append(buf, static_cast<size_t>(n));
      if (pending.size() > 65536 && pending.find('\n') == std::string::npos) {
        Answer("error line longer than 64 KiB");
        pending.clear();
      }
      size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        Answer(Execute(mcluster, static_cast<int>(brokers), line));
      }
    }
  }
  rd_kafka_mock_cluster_destroy(mcluster);
  rd_kafka_destroy(rk);
  close(sfd);
  return 0;
}
