// kafka_consumer.h: reads Kafka topics as a member of a consumer group, for weir's stream runner.
//
// The runner's exactly-once scheme decides the shape of this class:
//   - weir's store, not Kafka, is the source of truth for positions. When the group assigns
//     partitions, `on_assign` asks the runner for the next offset it has stored for each, and
//     consumption starts exactly there (partitions weir has no position for start at `start`:
//     earliest or latest). Offsets Kafka may hold for the group are never read.
//   - Offsets are committed to Kafka only so that standard lag tools work: CommitOffsets(), which
//     the runner calls after each store commit. Auto-commit and auto offset store are off.
//   - When partitions are taken away, `on_revoke` runs BEFORE they are given up, so the runner
//     can commit what it holds for them. From then on no message of those partitions is
//     delivered: messages of them already in the batch being filled are dropped (the next owner
//     re-reads them from the runner's committed offset) and librdkafka discards what it had
//     prefetched. When the group took the partitions away without asking (session timeout,
//     max.poll.interval.ms exceeded: another member may own them already), `on_revoke` says
//     `lost`, and the runner must discard instead of commit.
//   - Per partition and assignment, offsets are delivered strictly increasing: a message at or
//     below one already delivered is dropped with a warning (a guard against client-side
//     redelivery, which librdkafka should never do). A first message other than the offset
//     on_assign gave is logged: above it, offsets were deleted (retention, compaction) or were
//     transaction markers; below it, the topic was recreated or the log truncated, and
//     auto.offset.reset (earliest) decided where reading restarted.
//
// Assignment protocol: EAGER, with the `roundrobin` assignor (partition.assignment.strategy;
// a user may choose another in `settings`, cooperative ones included: both protocols are
// handled). Why not cooperative-sticky, which keeps unaffected partitions flowing during a
// rebalance? In librdkafka 2.0.2, the version Debian 12 ships, the cooperative path has bugs
// fixed only later that hit exactly this usage (librdkafka's CHANGELOG): an offset commit
// during a cooperative rebalance could make the consumer lose its assignment (issue #4059,
// fixed in 2.10.0), closing while an assignment arrives could hang (#4527, fixed in 2.4.0), and
// the cooperative-sticky assignor could loop forever for some member orders (#4783, fixed in
// 2.6.1). weir commits to Kafka after every store commit (about once a second), so #4059 could
// turn rebalances into lost assignments (wasted work, re-read from the store). Eager rebalances
// stop the whole group briefly (every member commits and re-seeks from the store), which costs
// a store commit per member per rebalance; rebalances are rare (deploys, scale-out, added
// partitions), so correctness wins. With eager, on_assign/on_revoke always carry the member's
// whole assignment; with a cooperative assignor they carry only the change. Revisit when the
// build moves to librdkafka >= 2.10 (the tests run both protocols).
//
// Errors: Poll() logs transient problems (broker down, transport errors, a leader moving, a
// commit failing) through spdlog and returns OK with what it received; librdkafka reconnects
// and resumes from the position it had, so nothing is lost or repeated. It returns a non-OK
// Status naming the cause for errors that will not go away: librdkafka's fatal errors, a
// subscribed topic that does not exist (unless `allow.auto.create.topics` is set), failed
// authentication or authorization, and errors returned by on_assign/on_revoke. Such an error is
// final: every later Poll() returns it again; Close() the consumer.
//
// Ownership: the consumer owns its librdkafka handle and the callbacks' std::function objects;
// a MessageBatch owns the bytes of its messages (views stay valid until the batch is cleared,
// refilled or destroyed; moving a batch keeps them valid).
//
// Thread-safety: one thread owns the consumer and calls Poll() and Close(); on_assign and
// on_revoke run on that thread, inside Poll() or Close(). CommitOffsets(), HighWatermarks(),
// QueryHighWatermarks(), Assignment() and RebalanceProtocol() may also be called from other
// threads (a metrics endpoint), but not concurrently with Close() or destruction. The owning
// thread must call Poll() at least every max.poll.interval.ms (default 300 s), or the group
// considers the member dead and its partitions are lost.
#pragma once

#include <spdlog/logger.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

// librdkafka's handle types (rdkafka.h declares them the same way), so that including this
// header does not pull in the C API.
typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_message_s rd_kafka_message_t;
typedef struct rd_kafka_topic_partition_list_s rd_kafka_topic_partition_list_t;

namespace weir::source {

// One partition of one topic; the name of a stream task is ToString(): "topic/partition".
struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  auto operator<=>(const TopicPartition&) const = default;
  bool operator==(const TopicPartition&) const = default;
  std::string ToString() const;
  // Parses "topic/partition" (Kafka topic names cannot contain '/').
  static Result<TopicPartition> Parse(std::string_view s);
};
std::ostream& operator<<(std::ostream& os, const TopicPartition& tp);

enum class KafkaTimestampType { kNotAvailable, kCreateTime, kLogAppendTime };

// One consumed message. The views point into the MessageBatch that holds it.
struct KafkaMessage {
  std::string_view topic;
  int32_t partition = 0;
  uint32_t partition_index = 0;  // index into MessageBatch::partitions()
  int64_t offset = 0;
  std::string_view key;    // empty when key_null
  std::string_view value;  // empty when value_null
  bool key_null = false;
  bool value_null = false;    // a tombstone: the producer sent no value (not an empty one)
  int64_t timestamp_ms = -1;  // -1 when timestamp_type is kNotAvailable
  KafkaTimestampType timestamp_type = KafkaTimestampType::kNotAvailable;
};

// The consumer reached the end of a partition: `next_offset` is the high watermark, the offset
// the next produced message will get. Emitted once each time the end is reached.
struct PartitionEof {
  TopicPartition partition;
  int64_t next_offset = 0;
};

// What one Poll() returned: messages (in order within each partition), end-of-partition events,
// and the bytes of both. Reuse one batch across polls: Clear() keeps its largest memory block.
class MessageBatch {
 public:
  MessageBatch() = default;
  MessageBatch(MessageBatch&&) = default;
  MessageBatch& operator=(MessageBatch&&) = default;
  MessageBatch(const MessageBatch&) = delete;
  MessageBatch& operator=(const MessageBatch&) = delete;

  const std::vector<KafkaMessage>& messages() const { return messages_; }
  const std::vector<PartitionEof>& eofs() const { return eofs_; }
  // The partitions the messages belong to (KafkaMessage::partition_index), in first-seen order.
  const std::vector<TopicPartition>& partitions() const { return partitions_; }
  size_t size() const { return messages_.size(); }
  bool empty() const { return messages_.empty() && eofs_.empty(); }
  // Key and value bytes of the messages.
  size_t payload_bytes() const { return payload_bytes_; }
  void Clear();

 private:
  friend class KafkaConsumer;
  friend class KafkaConsumerTestPeer;
  uint32_t PartitionIndex(const char* topic, int32_t partition);
  std::string_view Copy(const void* data, size_t size);
  void Append(const rd_kafka_message_t* m, uint32_t partition_index);
  // Removes the messages and end events of these partitions (they were revoked mid-poll).
  void DropPartitions(const std::vector<TopicPartition>& revoked);

  struct Block {
    std::unique_ptr<char[]> data;
    size_t size = 0;
  };
  std::vector<KafkaMessage> messages_;
  std::vector<PartitionEof> eofs_;
  std::vector<TopicPartition> partitions_;
  std::vector<std::string_view> partition_topics_;  // arena copies of partitions_[i].topic
  std::vector<Block> blocks_;                       // the last one is being filled
  size_t block_used_ = 0;
  size_t payload_bytes_ = 0;
  uint32_t last_index_ = 0;  // PartitionIndex's cache: messages come in runs per partition
};

struct KafkaConsumerOptions {
  std::string brokers;              // bootstrap servers, "host:port,host:port"
  std::vector<std::string> topics;  // a name starting with '^' is a regex subscription
  std::string group;                // consumer group id
  // Where a partition starts when on_assign gives no offset for it: "earliest" | "latest".
  std::string start = "earliest";
  std::string client_id = "weir";
  // librdkafka settings (global or topic level), applied over DefaultSettings(). A key
  // librdkafka does not know, or a bad value, is an error with librdkafka's own message; keys
  // weir sets itself (ReservedSettings()) are refused with the reason.
  std::map<std::string, std::string> settings;
  // Where librdkafka's logs and the transient errors go; null: spdlog's default logger (as it
  // is when Create() runs).
  std::shared_ptr<spdlog::logger> logger;
};

struct KafkaConsumerCallbacks {
  // Partitions given to this member: return the next offset weir has stored for each; a
  // partition left out starts at `start`. An error is returned by Poll() and the partitions are
  // not consumed. Null: every partition starts at `start`.
  std::function<Result<std::map<TopicPartition, int64_t>>(const std::vector<TopicPartition>&)>
      on_assign;
  // Partitions about to be given up (lost == false: commit what is held for them first) or
  // already taken away (lost == true: another member may own them; discard, never commit). An
  // error is returned by Poll() (or Close()); the partitions are given up anyway.
  std::function<Status(const std::vector<TopicPartition>&, bool lost)> on_revoke;
};

class KafkaConsumer {
 public:
  // Creates the consumer and subscribes to the topics; the group assigns partitions during
  // later Poll() calls. Invalid for bad options or settings.
  static Result<std::unique_ptr<KafkaConsumer>> Create(KafkaConsumerOptions options,
                                                       KafkaConsumerCallbacks callbacks);
  // Without Close(): leaves the group without running on_revoke (the runner may be gone).
  ~KafkaConsumer();
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  // Clears `out`, then waits up to `timeout_ms` (-1: no limit) for a message or event, and
  // then takes what is already there without waiting, up to `max_messages` (>= 1) messages.
  // Rebalance callbacks run inside. OK also when nothing arrived or on transient errors; on an
  // error `out` is left empty.
  Status Poll(int timeout_ms, size_t max_messages, MessageBatch* out);

  // Commits next offsets (the offset of the next message to read) to the group, asynchronously;
  // failures are logged only, since Kafka's committed offsets only feed lag tools. Invalid for
  // a negative offset, Aborted after Close().
  Status CommitOffsets(const std::map<TopicPartition, int64_t>& next_offsets);

  // The high watermark of each assigned partition as of its last fetch response (no request is
  // sent); partitions not fetched yet are left out. Lag = high watermark - next offset.
  Result<std::map<TopicPartition, int64_t>> HighWatermarks() const;
  // Asks the partitions' leaders (blocks up to timeout_ms); any partitions, assigned or not.
  Result<std::map<TopicPartition, int64_t>> QueryHighWatermarks(
      const std::vector<TopicPartition>& partitions, int timeout_ms) const;

  // The partitions currently assigned to this member, sorted.
  std::vector<TopicPartition> Assignment() const;
  // "NONE" before the first join, then "EAGER" or "COOPERATIVE".
  std::string RebalanceProtocol() const;

  // Leaves the group: runs on_revoke for the assignment first (lost == false unless librdkafka
  // already knows it lost it). Later calls to Poll() return Aborted. Safe to call twice. Returns
  // immediately also while the brokers are down.
  Status Close();

  // The settings weir applies before the user's (kafka_consumer.cc gives each one's reason).
  static const std::map<std::string, std::string>& DefaultSettings();
  // Settings weir sets itself, with the reason a user may not set them.
  static const std::map<std::string, std::string>& ReservedSettings();

 private:
  friend class KafkaConsumerTestPeer;
  struct PartitionState {
    TopicPartition tp;
    int64_t start_offset = -1;  // from on_assign; -1: `start` (a logical offset)
    int64_t next_offset = -1;   // last delivered offset + 1; -1 before the first delivery
  };

  KafkaConsumer(KafkaConsumerOptions options, KafkaConsumerCallbacks callbacks);
  Status Init();
  void OnRebalance(int err, rd_kafka_topic_partition_list_t* partitions);
  void HandleAssign(rd_kafka_topic_partition_list_t* partitions, bool cooperative);
  void HandleRevoke(rd_kafka_topic_partition_list_t* partitions, bool cooperative, bool lost);
  void OnError(int err, const char* reason);
  void OnCommit(int err, rd_kafka_topic_partition_list_t* offsets);
  void OnLog(int level, const char* fac, const char* buf);
  Status HandleEvent(const rd_kafka_message_t* m, MessageBatch* out);
  PartitionState* FindPartition(const char* topic, int32_t partition);
  void PublishAssignment();
  void SetFinal(Status status);

  struct Glue;  // librdkafka's C callbacks, forwarding to the members above

  KafkaConsumerOptions options_;
  KafkaConsumerCallbacks callbacks_;
  std::shared_ptr<spdlog::logger> log_;
  rd_kafka_t* rk_ = nullptr;
  bool auto_create_topics_ = false;
  bool closed_ = false;
  bool callbacks_enabled_ = true;  // off in the destructor: the runner may be gone

  // Owning thread only.
  std::vector<PartitionState> parts_;  // the assignment, with delivery positions
  size_t last_part_ = 0;               // FindPartition's cache
  MessageBatch* filling_ = nullptr;    // the batch Poll() is filling (revokes drop from it)
  Status final_;                       // the first error that ends the run

  // Assignment() for other threads: a copy published at each rebalance.
  mutable std::mutex assignment_mu_;
  std::vector<TopicPartition> assignment_;
};

}  // namespace weir::source
