// Test helpers for the Kafka source: an in-process librdkafka mock cluster, a producer, a logger
// that keeps its lines, and a loop that polls a consumer until a condition holds.
#pragma once

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "source/kafka_consumer.h"

namespace weir::source::testing {

// A mock Kafka cluster on loopback, served by librdkafka's own threads.
class MockKafka {
 public:
  explicit MockKafka(int brokers = 1) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    EXPECT_NE(rk_, nullptr) << errstr;
    mc_ = rd_kafka_mock_cluster_new(rk_, brokers);
    EXPECT_NE(mc_, nullptr);
    bootstrap_ = rd_kafka_mock_cluster_bootstraps(mc_);
  }
  ~MockKafka() {
    if (mc_ != nullptr) rd_kafka_mock_cluster_destroy(mc_);
    if (rk_ != nullptr) rd_kafka_destroy(rk_);
  }
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  void CreateTopic(const std::string& name, int partitions) {
    ASSERT_EQ(rd_kafka_mock_topic_create(mc_, name.c_str(), partitions, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void SetDown(int32_t broker) {
    ASSERT_EQ(rd_kafka_mock_broker_set_down(mc_, broker), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void SetUp(int32_t broker) {
    ASSERT_EQ(rd_kafka_mock_broker_set_up(mc_, broker), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  // Metadata requests for the topic answer this error (the mock creates the topic to hold it).
  void SetTopicError(const std::string& topic, rd_kafka_resp_err_t err) {
    rd_kafka_mock_topic_set_error(mc_, topic.c_str(), err);
  }
  const std::string& bootstrap() const { return bootstrap_; }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
  std::string bootstrap_;
};

// librdkafka's producer; Flush() checks that every message was delivered.
class TestProducer {
 public:
  explicit TestProducer(const std::string& bootstrap) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof(errstr));
    // Small batches: the mock answers a fetch with whole batches, so small ones let a consumer's
    // fetches interleave the partitions.
    rd_kafka_conf_set(conf, "batch.num.messages", "10", errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "reconnect.backoff.max.ms", "500", errstr, sizeof(errstr));
    // Quiet: the broker outage test makes it log every failed connection.
    rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof(errstr));
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
      auto* self = static_cast<TestProducer*>(opaque);
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        self->failed_++;
      } else {
        self->delivered_++;
      }
    });
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    EXPECT_NE(rk_, nullptr) << errstr;
  }
  ~TestProducer() { rd_kafka_destroy(rk_); }

  // nullopt key or value: null (not empty).
  void Send(const std::string& topic, int32_t partition, std::optional<std::string> key,
            std::optional<std::string> value) {
    // librdkafka's macros cast their arguments without parentheses: pass plain variables.
    const void* key_data = key ? key->data() : nullptr;
    size_t key_size = key ? key->size() : 0;
    void* value_data = value ? const_cast<char*>(value->data()) : nullptr;
    size_t value_size = value ? value->size() : 0;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key_data, key_size),
        RD_KAFKA_V_VALUE(value_data, value_size), RD_KAFKA_V_END);
    ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
    sent_++;
  }
  // Sends n messages "<prefix><i>" (key "k<i>") to one partition.
  void SendRange(const std::string& topic, int32_t partition, int from, int to) {
    for (int i = from; i < to; ++i) {
      Send(topic, partition, "k" + std::to_string(i),
           topic + "/" + std::to_string(partition) + "#" + std::to_string(i));
    }
  }
  void Flush(int timeout_ms = 10000) {
    ASSERT_EQ(rd_kafka_flush(rk_, timeout_ms), RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(failed_.load(), 0);
    ASSERT_EQ(delivered_.load(), sent_);
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  int sent_ = 0;
  std::atomic<int> delivered_{0};
  std::atomic<int> failed_{0};
};

// An spdlog sink that keeps every line (and echoes warnings and worse to stderr for debugging).
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }
  bool Contains(const std::string& needle) {
    for (const auto& l : Lines()) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string line(msg.payload.data(), msg.payload.size());
    if (msg.level >= spdlog::level::warn) std::fprintf(stderr, "[log] %s\n", line.c_str());
    lines_.push_back(std::move(line));
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

inline std::shared_ptr<spdlog::logger> CaptureLogger(std::shared_ptr<CaptureSink> sink) {
  auto logger = std::make_shared<spdlog::logger>("kafka-test", sink);
  logger->set_level(spdlog::level::debug);
  return logger;
}

// Consumer options that make the mock's group protocol quick: the mock waits
// session.timeout.ms - 1 s for members to rejoin after one joins. It also waits a fixed 3 s
// before answering the first member of an empty group, and drops members whose session timed
// out meanwhile, so the session timeout must stay well above 3 s.
inline KafkaConsumerOptions FastOptions(const std::string& bootstrap,
                                        std::vector<std::string> topics, const std::string& group) {
  KafkaConsumerOptions o;
  o.brokers = bootstrap;
  o.topics = std::move(topics);
  o.group = group;
  o.settings = {{"session.timeout.ms", "4000"}, {"heartbeat.interval.ms", "300"}};
  return o;
}

// What a test keeps of a consumed message.
struct Record {
  TopicPartition tp;
  int64_t offset = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  int64_t timestamp_ms = -1;
  KafkaTimestampType timestamp_type = KafkaTimestampType::kNotAvailable;
};

struct Consumed {
  std::vector<Record> records;
  std::vector<PartitionEof> eofs;

  void Add(const MessageBatch& batch) {
    for (const auto& m : batch.messages()) {
      Record r;
      r.tp = batch.partitions()[m.partition_index];
      EXPECT_EQ(r.tp.topic, m.topic);
      EXPECT_EQ(r.tp.partition, m.partition);
      r.offset = m.offset;
      if (!m.key_null) r.key = std::string(m.key);
      if (!m.value_null) r.value = std::string(m.value);
      r.timestamp_ms = m.timestamp_ms;
      r.timestamp_type = m.timestamp_type;
      records.push_back(std::move(r));
    }
    for (const auto& e : batch.eofs()) eofs.push_back(e);
  }
  std::map<TopicPartition, std::vector<int64_t>> OffsetsByPartition() const {
    std::map<TopicPartition, std::vector<int64_t>> out;
    for (const auto& r : records) out[r.tp].push_back(r.offset);
    return out;
  }
  bool SawEof(const TopicPartition& tp, int64_t next_offset) const {
    for (const auto& e : eofs) {
      if (e.partition == tp && e.next_offset == next_offset) return true;
    }
    return false;
  }
};

// Polls until `done` holds or `timeout_ms` passes; every Poll() must return OK.
inline bool PollUntil(KafkaConsumer& c, Consumed& got, const std::function<bool()>& done,
                      int timeout_ms = 12000, size_t max_messages = 1000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  MessageBatch batch;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    Status st = c.Poll(100, max_messages, &batch);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok()) return false;
    got.Add(batch);
  }
  return true;
}

}  // namespace weir::source::testing
