// kafka_producer.h: a transactional Kafka producer for outputs that must be exactly once (the
// rules' Kafka output, docs/rules.md).
//
// The scheme it serves: the caller numbers its batches (the rules stage's checkpoint numbers)
// and keeps each batch durable on its own side until Kafka has it. A batch goes out in one
// transaction together with a progress marker (key: the transactional.id, value: the caller's
// text naming the batch) on partition 0 of a progress topic. After a crash, LastMarker() says
// which batch Kafka committed last, so the caller republishes exactly the ones after it.
//
//   - Create() calls init_transactions: Kafka aborts whatever transaction an earlier producer
//     with the same transactional.id left open and fences that producer off (its later writes
//     fail), so a zombie can never commit after a newer run has read the markers.
//   - A read_committed consumer sees a batch's records all at once or not at all.
//   - Messages are keyed (the default partitioner keeps one key on one partition, in order).
//
// Errors: after any failure of Publish() the producer is done (broken()): a transaction may
// be open or its commit's outcome unknown. A retryable IOError (the broker down, a timeout, an
// abortable error) means: create a new producer, whose init ends that transaction either way,
// and ask LastMarker() whether it was committed. A non-retryable one is fatal (fenced by a
// newer producer with the same id, a message the topic cannot take, no permission).
//
// Ownership: owns its librdkafka handle. Thread-safety: none; one thread uses it.
#pragma once

#include <spdlog/logger.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/status.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace weir::source {

struct KafkaProducerOptions {
  std::string brokers;
  std::string transactional_id;
  std::string progress_topic;
  std::string client_id = "weir";
  std::map<std::string, std::string> settings;  // librdkafka settings passed through
  // init, commit and the progress read give up after this; the transaction timeout too
  // (settings' transaction.timeout.ms, when given, sets both).
  int timeout_ms = 60000;
  std::shared_ptr<spdlog::logger> logger;  // null: spdlog's default
};

struct KafkaRecord {
  std::string key;
  std::string value;
};

class KafkaTxnProducer {
 public:
  // Connects and runs init_transactions (fencing older producers with the same id).
  static Result<std::unique_ptr<KafkaTxnProducer>> Create(KafkaProducerOptions options);
  ~KafkaTxnProducer();
  KafkaTxnProducer(const KafkaTxnProducer&) = delete;
  KafkaTxnProducer& operator=(const KafkaTxnProducer&) = delete;

  // The last marker committed under this transactional.id that starts with `prefix` ("":
  // none), read from the progress topic by a read_committed consumer. Waits for transactions
  // other producers hold open on the topic (they hide what was committed after them).
  Result<std::string> LastMarker(const std::string& prefix);
  // One transaction: `records` on `topic`, then `marker` on the progress topic.
  Status Publish(const std::string& topic, const std::vector<KafkaRecord>& records,
                 const std::string& marker);
  bool broken() const { return broken_; }

 private:
  explicit KafkaTxnProducer(KafkaProducerOptions options);
  Status Init();
  KafkaProducerOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  rd_kafka_t* rk_ = nullptr;
  bool in_txn_ = false;  // a transaction began and was not committed
  bool broken_ = false;  // a Publish failed: not used again
};

}  // namespace weir::source
