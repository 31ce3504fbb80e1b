#include "source/kafka_consumer.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <set>
#include <utility>

namespace weir::source {

namespace {

constexpr size_t kFirstBlockBytes = 256 << 10;
constexpr size_t kMaxBlockBytes = 8 << 20;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};

std::string ErrText(rd_kafka_resp_err_t err) {
  return std::string(rd_kafka_err2name(err)) + ": " + rd_kafka_err2str(err);
}

std::vector<TopicPartition> ToVector(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  if (list == nullptr) return out;
  out.reserve(static_cast<size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i)
    out.push_back({list->elems[i].topic, list->elems[i].partition});
  std::sort(out.begin(), out.end());
  return out;
}

std::string Join(const std::vector<TopicPartition>& tps) {
  std::string s;
  for (const auto& tp : tps) {
    if (!s.empty()) s += ", ";
    s += tp.ToString();
  }
  return s.empty() ? "none" : s;
}

// Errors no retry will fix: the credentials or the ACLs are wrong.
bool IsAuthError(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return true;
    default:
      return false;
  }
}

bool IsTrue(const std::string& v) { return v == "true" || v == "1"; }

}  // namespace

// ---- TopicPartition ---------------------------------------------------------------------------

std::string TopicPartition::ToString() const { return topic + "/" + std::to_string(partition); }

Result<TopicPartition> TopicPartition::Parse(std::string_view s) {
  size_t slash = s.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == s.size()) {
    return Status::Invalid("\"" + std::string(s) + "\" is not topic/partition");
  }
  std::string_view num = s.substr(slash + 1);
  int32_t partition = 0;
  auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), partition);
  if (ec != std::errc() || end != num.data() + num.size() || partition < 0) {
    return Status::Invalid("\"" + std::string(s) + "\": partition is not a number >= 0");
  }
  return TopicPartition{std::string(s.substr(0, slash)), partition};
}

std::ostream& operator<<(std::ostream& os, const TopicPartition& tp) {
  return os << tp.topic << '/' << tp.partition;
}

// ---- MessageBatch -----------------------------------------------------------------------------

void MessageBatch::Clear() {
  messages_.clear();
  eofs_.clear();
  partitions_.clear();
  partition_topics_.clear();
  if (blocks_.size() > 1) {
    auto largest = std::max_element(blocks_.begin(), blocks_.end(),
                                    [](const Block& a, const Block& b) { return a.size < b.size; });
    Block keep = std::move(*largest);
    blocks_.clear();
    blocks_.push_back(std::move(keep));
  }
  block_used_ = 0;
  payload_bytes_ = 0;
  last_index_ = 0;
}

std::string_view MessageBatch::Copy(const void* data, size_t size) {
  if (size == 0) return std::string_view();
  if (blocks_.empty() || blocks_.back().size - block_used_ < size) {
    size_t next =
        blocks_.empty() ? kFirstBlockBytes : std::min(blocks_.back().size * 2, kMaxBlockBytes);
    next = std::max(next, size);
    blocks_.push_back(Block{std::make_unique_for_overwrite<char[]>(next), next});
    block_used_ = 0;
  }
  char* dst = blocks_.back().data.get() + block_used_;
  std::memcpy(dst, data, size);
  block_used_ += size;
  return std::string_view(dst, size);
}

uint32_t MessageBatch::PartitionIndex(const char* topic, int32_t partition) {
  auto matches = [&](uint32_t i) {
    return partitions_[i].partition == partition && partition_topics_[i] == topic;
  };
  if (last_index_ < partitions_.size() && matches(last_index_)) return last_index_;
  for (uint32_t i = 0; i < partitions_.size(); ++i) {
    if (matches(i)) return last_index_ = i;
  }
  partitions_.push_back(TopicPartition{topic, partition});
  partition_topics_.push_back(Copy(topic, std::strlen(topic)));
  return last_index_ = static_cast<uint32_t>(partitions_.size() - 1);
}

void MessageBatch::Append(const rd_kafka_message_t* m, uint32_t partition_index) {
  KafkaMessage km;
  km.topic = partition_topics_[partition_index];
  km.partition = m->partition;
  km.partition_index = partition_index;
  km.offset = m->offset;
  if (m->key != nullptr) {
    km.key = Copy(m->key, m->key_len);
  } else {
    km.key_null = true;
  }
  if (m->payload != nullptr) {
    km.value = Copy(m->payload, m->len);
  } else {
    km.value_null = true;
  }
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  int64_t ts = rd_kafka_message_timestamp(m, &type);
  switch (type) {
    case RD_KAFKA_TIMESTAMP_CREATE_TIME:
      km.timestamp_type = KafkaTimestampType::kCreateTime;
      km.timestamp_ms = ts;
      break;
    case RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME:
      km.timestamp_type = KafkaTimestampType::kLogAppendTime;
      km.timestamp_ms = ts;
      break;
    default:
      break;
  }
  payload_bytes_ += km.key.size() + km.value.size();
  messages_.push_back(km);
}

void MessageBatch::DropPartitions(const std::vector<TopicPartition>& revoked) {
  if (revoked.empty()) return;
  std::set<std::pair<std::string_view, int32_t>> gone;
  for (const auto& tp : revoked) gone.emplace(tp.topic, tp.partition);
  std::erase_if(messages_, [&](const KafkaMessage& m) {
    if (!gone.count({m.topic, m.partition})) return false;
    payload_bytes_ -= m.key.size() + m.value.size();
    return true;
  });
  std::erase_if(eofs_, [&](const PartitionEof& e) {
    return gone.count({e.partition.topic, e.partition.partition}) > 0;
  });
}

// ---- KafkaConsumer ----------------------------------------------------------------------------

struct KafkaConsumer::Glue {
  static KafkaConsumer* Self(void* opaque) { return static_cast<KafkaConsumer*>(opaque); }
  static void Rebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    Self(opaque)->OnRebalance(err, partitions);
  }
  static void Commit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                     void* opaque) {
    Self(opaque)->OnCommit(err, offsets);
  }
  static void Error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    Self(opaque)->OnError(err, reason);
  }
  // Runs on librdkafka's internal threads: OnLog only reads what is immutable after Create().
  static void Log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    if (void* opaque = rd_kafka_opaque(rk)) Self(opaque)->OnLog(level, fac, buf);
  }
};

const std::map<std::string, std::string>& KafkaConsumer::DefaultSettings() {
  static const std::map<std::string, std::string> kDefaults = {
      // Eager rebalancing: see the header for why not cooperative-sticky on librdkafka 2.0.
      {"partition.assignment.strategy", "roundrobin"},
      // New partitions of a subscribed topic are noticed within 5 s instead of 5 min.
      {"topic.metadata.refresh.interval.ms", "5000"},
      // Only used when weir's own offset is out of range (deleted by retention, or the topic
      // was recreated): lose as little as possible. Positions weir has no offset for start at
      // `start`, passed explicitly on assignment.
      {"auto.offset.reset", "earliest"},
      // The longest a fetch waits at the broker for new data; bounds the added latency where a
      // broker only answers at the deadline (librdkafka's mock cluster) and is cheap elsewhere.
      {"fetch.wait.max.ms", "100"},
      // After a broker outage, reconnect within a second of it coming back.
      {"reconnect.backoff.max.ms", "1000"},
      // The consumer group's partitions all feed one queue, and librdkafka compares this
      // per-partition threshold with that shared queue's length: at its default (100,000, about
      // 25 MB of our small events) every partition stops fetching whenever the queue holds that
      // many messages, and reading stalls for a few hundred ms each time it drains. Above any
      // realistic queue length, queued.max.messages.kbytes (64 MB) bounds the prefetch instead.
      {"queued.min.messages", "1000000"},
  };
  return kDefaults;
}

const std::map<std::string, std::string>& KafkaConsumer::ReservedSettings() {
  static const std::map<std::string, std::string> kReserved = {
      {"bootstrap.servers", "weir sets it from `brokers`"},
      {"metadata.broker.list", "weir sets it from `brokers`"},
      {"group.id", "weir sets it from `group`"},
      {"client.id", "weir sets it itself"},
      {"enable.auto.commit",
       "weir commits offsets to Kafka itself, after they are committed in its store"},
      {"auto.commit.enable",
       "weir commits offsets to Kafka itself, after they are committed in its store"},
      {"enable.auto.offset.store", "weir commits explicit offsets, the store is not used"},
      {"enable.partition.eof", "weir needs end-of-partition events (idleness, --until-idle)"},
  };
  return kReserved;
}

KafkaConsumer::KafkaConsumer(KafkaConsumerOptions options, KafkaConsumerCallbacks callbacks)
    : options_(std::move(options)), callbacks_(std::move(callbacks)) {
  log_ = options_.logger ? options_.logger : spdlog::default_logger();
}

Result<std::unique_ptr<KafkaConsumer>> KafkaConsumer::Create(KafkaConsumerOptions options,
                                                             KafkaConsumerCallbacks callbacks) {
  if (options.brokers.empty()) return Status::Invalid("kafka: `brokers` is empty");
  if (options.topics.empty()) return Status::Invalid("kafka: `topics` is empty");
  for (const auto& t : options.topics) {
    if (t.empty()) return Status::Invalid("kafka: `topics` has an empty name");
  }
  if (options.group.empty()) return Status::Invalid("kafka: `group` is empty");
  if (options.start != "earliest" && options.start != "latest") {
    return Status::Invalid("kafka: `start` must be earliest or latest, not \"" + options.start +
                           "\"");
  }
  if (options.client_id.empty()) options.client_id = "weir";
  std::unique_ptr<KafkaConsumer> c(new KafkaConsumer(std::move(options), std::move(callbacks)));
  WEIR_RETURN_IF_ERROR(c->Init());
  return c;
}

Status KafkaConsumer::Init() {
  char errstr[512];
  std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
  auto set = [&](const std::string& key, const std::string& value) -> Status {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      return Status::Invalid("kafka setting \"" + key + "\" = \"" + value + "\": " + errstr);
    }
    return Status::OK();
  };
  for (const auto& [key, value] : DefaultSettings()) WEIR_RETURN_IF_ERROR(set(key, value));
  for (const auto& [key, value] : options_.settings) {
    auto reserved = ReservedSettings().find(key);
    if (reserved != ReservedSettings().end()) {
      return Status::Invalid("kafka setting \"" + key + "\" cannot be set: " + reserved->second);
    }
    WEIR_RETURN_IF_ERROR(set(key, value));
  }
  WEIR_RETURN_IF_ERROR(set("bootstrap.servers", options_.brokers));
  WEIR_RETURN_IF_ERROR(set("group.id", options_.group));
  WEIR_RETURN_IF_ERROR(set("client.id", options_.client_id));
  WEIR_RETURN_IF_ERROR(set("enable.auto.commit", "false"));
  WEIR_RETURN_IF_ERROR(set("enable.auto.offset.store", "false"));
  WEIR_RETURN_IF_ERROR(set("enable.partition.eof", "true"));
  auto create = options_.settings.find("allow.auto.create.topics");
  auto_create_topics_ = create != options_.settings.end() && IsTrue(create->second);

  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Glue::Rebalance);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), &Glue::Commit);
  rd_kafka_conf_set_error_cb(conf.get(), &Glue::Error);
  rd_kafka_conf_set_log_cb(conf.get(), &Glue::Log);

  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr));
  if (rk_ == nullptr) return Status::Invalid(std::string("kafka consumer: ") + errstr);
  conf.release();  // rd_kafka_new took it
  // Everything (errors, rebalances, commit results) is served by rd_kafka_consumer_poll().
  rd_kafka_poll_set_consumer(rk_);

  PartitionList topics(rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size())));
  for (const auto& t : options_.topics) {
    rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, topics.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Invalid("kafka: subscribing to the topics failed: " + ErrText(err));
  }
  return Status::OK();
}

KafkaConsumer::~KafkaConsumer() {
  if (rk_ == nullptr) return;
  if (!closed_) {
    callbacks_enabled_ = false;
    filling_ = nullptr;
    rd_kafka_consumer_close(rk_);
  }
  // The consumer is closed by now. Without this flag rd_kafka_destroy closes it again, and in
  // librdkafka 2.0.2 that spins forever after a fatal error (its main thread at 100% CPU).
  rd_kafka_destroy_flags(rk_, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

void KafkaConsumer::SetFinal(Status status) {
  if (status.ok() || !final_.ok()) return;
  log_->error("kafka consumer {}: {}", options_.client_id, status.message());
  final_ = std::move(status);
}

KafkaConsumer::PartitionState* KafkaConsumer::FindPartition(const char* topic, int32_t partition) {
  auto matches = [&](const PartitionState& p) {
    return p.tp.partition == partition && p.tp.topic == topic;
  };
  if (last_part_ < parts_.size() && matches(parts_[last_part_])) return &parts_[last_part_];
  for (size_t i = 0; i < parts_.size(); ++i) {
    if (matches(parts_[i])) {
      last_part_ = i;
      return &parts_[i];
    }
  }
  return nullptr;
}

void KafkaConsumer::PublishAssignment() {
  std::vector<TopicPartition> tps;
  tps.reserve(parts_.size());
  for (const auto& p : parts_) tps.push_back(p.tp);
  std::sort(tps.begin(), tps.end());
  std::lock_guard<std::mutex> lock(assignment_mu_);
  assignment_ = std::move(tps);
}

Status KafkaConsumer::Poll(int timeout_ms, size_t max_messages, MessageBatch* out) {
  out->Clear();
  if (closed_) return Status::Aborted("kafka consumer is closed");
  if (!final_.ok()) return final_;
  if (max_messages == 0) return Status::Invalid("kafka: Poll needs max_messages >= 1");
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  filling_ = out;
  bool got = false;  // a message or an event arrived: take the rest without waiting
  while (out->messages_.size() < max_messages && final_.ok()) {
    int wait = 0;
    if (!got) {
      wait = timeout_ms < 0 ? -1
                            : static_cast<int>(std::max<int64_t>(
                                  0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                         deadline - Clock::now())
                                         .count()));
    }
    MessagePtr m(rd_kafka_consumer_poll(rk_, wait));
    if (!m) {
      if (got || (timeout_ms >= 0 && Clock::now() >= deadline)) break;
      continue;
    }
    got = true;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      SetFinal(HandleEvent(m.get(), out));
      continue;
    }
    const char* topic = rd_kafka_topic_name(m->rkt);
    PartitionState* ps = FindPartition(topic, m->partition);
    if (ps == nullptr) {
      // Revoked while librdkafka still held it; the new owner reads it from weir's offset.
      log_->debug("kafka consumer {}: dropped {}/{}@{}: partition not assigned", options_.client_id,
                  topic, m->partition, m->offset);
      continue;
    }
    if (ps->next_offset >= 0 && m->offset < ps->next_offset) {
      log_->warn("kafka consumer {}: dropped {}@{}: offsets up to {} were already delivered",
                 options_.client_id, ps->tp.ToString(), m->offset, ps->next_offset - 1);
      continue;
    }
    if (ps->next_offset < 0 && ps->start_offset >= 0 && m->offset != ps->start_offset) {
      // Above: offsets deleted by retention or compaction, or transaction markers. Below: the
      // partition was truncated or the topic recreated, so weir's offset means other data.
      if (m->offset < ps->start_offset) {
        log_->warn(
            "kafka consumer {}: {} restarts at offset {}, below weir's offset {} (topic "
            "recreated or log truncated?)",
            options_.client_id, ps->tp.ToString(), m->offset, ps->start_offset);
      } else {
        log_->info(
            "kafka consumer {}: {} resumes at offset {}, weir's offset was {} (offsets "
            "in between are gone or are not messages)",
            options_.client_id, ps->tp.ToString(), m->offset, ps->start_offset);
      }
    }
    ps->next_offset = m->offset + 1;
    out->Append(m.get(), out->PartitionIndex(topic, m->partition));
  }
  filling_ = nullptr;
  char errstr[512];
  rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk_, errstr, sizeof(errstr));
  if (fatal != RD_KAFKA_RESP_ERR_NO_ERROR) {
    SetFinal(Status::IOError(
        "kafka: fatal error " + std::string(rd_kafka_err2name(fatal)) + ": " + errstr,
        /*retryable=*/false));
  }
  if (!final_.ok()) {
    out->Clear();
    return final_;
  }
  return Status::OK();
}

Status KafkaConsumer::HandleEvent(const rd_kafka_message_t* m, MessageBatch* out) {
  const char* topic = m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : nullptr;
  if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (topic == nullptr) return Status::OK();
    if (PartitionState* ps = FindPartition(topic, m->partition)) {
      out->eofs_.push_back(PartitionEof{ps->tp, m->offset});
    }
    return Status::OK();
  }
  if (m->err == RD_KAFKA_RESP_ERR__FATAL) return Status::OK();  // Poll reads rd_kafka_fatal_error
  const bool unknown_topic = m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                             m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
  const bool topic_level = unknown_topic || m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
  std::string where;
  if (topic != nullptr) {
    // Topic-level errors carry partition 0, which would name a partition wrongly.
    where = topic_level || m->partition < 0 ? std::string(topic)
                                            : TopicPartition{topic, m->partition}.ToString();
    where += ": ";
  }
  std::string what = where + rd_kafka_message_errstr(m) + " (" + rd_kafka_err2name(m->err) + ")";
  if (unknown_topic && !auto_create_topics_ && topic != nullptr &&
      std::find(options_.topics.begin(), options_.topics.end(), topic) != options_.topics.end()) {
    return Status::NotFound("kafka topic \"" + std::string(topic) + "\" does not exist: " + what);
  }
  if (IsAuthError(m->err)) return Status::Invalid("kafka: " + what);
  log_->warn("kafka consumer {}: {} (transient: librdkafka retries)", options_.client_id, what);
  return Status::OK();
}

void KafkaConsumer::OnRebalance(int err, rd_kafka_topic_partition_list_t* partitions) {
  const char* protocol = rd_kafka_rebalance_protocol(rk_);
  bool cooperative = protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    HandleAssign(partitions, cooperative);
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    HandleRevoke(partitions, cooperative, rd_kafka_assignment_lost(rk_) != 0);
  } else {
    // librdkafka asks for a full unassign to resynchronise: nothing is owned any more.
    log_->warn("kafka consumer {}: rebalance failed: {}; dropping the assignment",
               options_.client_id, ErrText(static_cast<rd_kafka_resp_err_t>(err)));
    std::vector<TopicPartition> all;
    for (const auto& p : parts_) all.push_back(p.tp);
    if (filling_ != nullptr) filling_->DropPartitions(all);
    if (!all.empty() && callbacks_enabled_ && callbacks_.on_revoke) {
      SetFinal(callbacks_.on_revoke(all, /*lost=*/true).WithContext("kafka: on_revoke"));
    }
    rd_kafka_assign(rk_, nullptr);
    parts_.clear();
    PublishAssignment();
  }
}

void KafkaConsumer::HandleAssign(rd_kafka_topic_partition_list_t* partitions, bool cooperative) {
  std::vector<TopicPartition> tps = ToVector(partitions);
  std::map<TopicPartition, int64_t> stored;
  Status status;
  if (!tps.empty() && callbacks_enabled_ && callbacks_.on_assign) {
    auto r = callbacks_.on_assign(tps);
    if (r.ok()) {
      stored = std::move(r).value();
    } else {
      status = r.status().WithContext("kafka: on_assign");
    }
  }
  const int64_t start =
      options_.start == "latest" ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
  std::string described;
  for (int i = 0; status.ok() && i < partitions->cnt; ++i) {
    rd_kafka_topic_partition_t& e = partitions->elems[i];
    auto it = stored.find(TopicPartition{e.topic, e.partition});
    if (it != stored.end() && it->second < 0) {
      status = Status::Invalid("kafka: on_assign gave offset " + std::to_string(it->second) +
                               " for " + it->first.ToString());
      break;
    }
    e.offset = it != stored.end() ? it->second : start;
    if (!described.empty()) described += ", ";
    described += std::string(e.topic) + "/" + std::to_string(e.partition) + "@" +
                 (it != stored.end() ? std::to_string(it->second) : options_.start);
  }
  if (!status.ok()) {
    // Consume nothing of these: Poll() reports the error and the runner closes the consumer.
    SetFinal(std::move(status));
    if (!cooperative) {
      rd_kafka_assign(rk_, nullptr);
      parts_.clear();
      PublishAssignment();
    }
    return;
  }
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_, partitions)) {
      SetFinal(Status::IOError(
          std::string("kafka: incremental assign: ") + rd_kafka_error_string(e), false));
      rd_kafka_error_destroy(e);
      return;
    }
  } else {
    rd_kafka_resp_err_t err = rd_kafka_assign(rk_, partitions);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      SetFinal(Status::IOError("kafka: assign: " + ErrText(err), false));
      return;
    }
    parts_.clear();
  }
  for (int i = 0; i < partitions->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = partitions->elems[i];
    parts_.push_back(PartitionState{{e.topic, e.partition}, e.offset >= 0 ? e.offset : -1, -1});
  }
  last_part_ = 0;
  PublishAssignment();
  if (!tps.empty()) {
    log_->info("kafka consumer {}: assigned {}", options_.client_id, described);
  }
}

void KafkaConsumer::HandleRevoke(rd_kafka_topic_partition_list_t* partitions, bool cooperative,
                                 bool lost) {
  std::vector<TopicPartition> tps = ToVector(partitions);
  // What this Poll() collected of them was never handed out: the next owner reads it again.
  if (filling_ != nullptr) filling_->DropPartitions(tps);
  if (!tps.empty() && callbacks_enabled_ && callbacks_.on_revoke) {
    SetFinal(callbacks_.on_revoke(tps, lost).WithContext("kafka: on_revoke"));
  }
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk_, partitions)) {
      log_->warn("kafka consumer {}: incremental unassign: {}", options_.client_id,
                 rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
    std::erase_if(parts_, [&](const PartitionState& p) {
      return std::binary_search(tps.begin(), tps.end(), p.tp);
    });
  } else {
    rd_kafka_resp_err_t err = rd_kafka_assign(rk_, nullptr);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log_->warn("kafka consumer {}: unassign: {}", options_.client_id, ErrText(err));
    }
    parts_.clear();
  }
  last_part_ = 0;
  PublishAssignment();
  if (!tps.empty()) {
    log_->info("kafka consumer {}: {} {}", options_.client_id, lost ? "lost" : "revoked",
               Join(tps));
  }
}

void KafkaConsumer::OnError(int err, const char* reason) {
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) return;  // Poll() reads rd_kafka_fatal_error()
  if (IsAuthError(code)) {
    SetFinal(
        Status::Invalid(std::string("kafka: ") + reason + " (" + rd_kafka_err2name(code) + ")"));
    return;
  }
  log_->warn("kafka consumer {}: {} ({}; transient: librdkafka retries)", options_.client_id,
             reason, rd_kafka_err2name(code));
}

void KafkaConsumer::OnCommit(int err, rd_kafka_topic_partition_list_t* offsets) {
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  std::string failed;
  if (code != RD_KAFKA_RESP_ERR_NO_ERROR) failed = ErrText(code);
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = offsets->elems[i];
    if (e.err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    if (!failed.empty()) failed += "; ";
    failed += std::string(e.topic) + "/" + std::to_string(e.partition) + ": " + ErrText(e.err);
  }
  if (!failed.empty()) {
    log_->warn(
        "kafka consumer {}: committing offsets to the group failed (only lag tools read "
        "them; weir's store has them): {}",
        options_.client_id, failed);
  }
}

void KafkaConsumer::OnLog(int level, const char* fac, const char* buf) {
  // syslog levels. librdkafka logs connection failures as errors and retries them; weir counts
  // them as warnings (the errors that end a run come back from Poll()). Its FAIL lines repeat
  // what the error callback reports (OnError logs those), so they only go to debug.
  spdlog::level::level_enum l = level <= 4   ? spdlog::level::warn
                                : level <= 6 ? spdlog::level::info
                                             : spdlog::level::debug;
  if (std::strcmp(fac, "FAIL") == 0) l = spdlog::level::debug;
  log_->log(l, "kafka consumer {}: [{}] {}", options_.client_id, fac, buf);
}

Status KafkaConsumer::CommitOffsets(const std::map<TopicPartition, int64_t>& next_offsets) {
  if (closed_) return Status::Aborted("kafka consumer is closed");
  if (next_offsets.empty()) return Status::OK();
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(next_offsets.size())));
  for (const auto& [tp, offset] : next_offsets) {
    if (offset < 0) {
      return Status::Invalid("kafka: cannot commit offset " + std::to_string(offset) + " for " +
                             tp.ToString());
    }
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = offset;
  }
  rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list.get(), /*async=*/1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log_->warn("kafka consumer {}: committing offsets to the group failed: {}", options_.client_id,
               ErrText(err));
  }
  return Status::OK();
}

Result<std::map<TopicPartition, int64_t>> KafkaConsumer::HighWatermarks() const {
  if (closed_) return Status::Aborted("kafka consumer is closed");
  std::vector<TopicPartition> tps = Assignment();
  std::map<TopicPartition, int64_t> out;
  for (auto& tp : tps) {
    int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(rk_, tp.topic.c_str(), tp.partition, &low, &high) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        high >= 0) {
      out.emplace(std::move(tp), high);
    }
  }
  return out;
}

Result<std::map<TopicPartition, int64_t>> KafkaConsumer::QueryHighWatermarks(
    const std::vector<TopicPartition>& partitions, int timeout_ms) const {
  if (closed_) return Status::Aborted("kafka consumer is closed");
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  std::map<TopicPartition, int64_t> out;
  for (const auto& tp : partitions) {
    int left = static_cast<int>(std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
    int64_t low = -1, high = -1;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk_, tp.topic.c_str(), tp.partition, &low, &high, left);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::IOError("kafka: high watermark of " + tp.ToString() + ": " + ErrText(err));
    }
    out.emplace(tp, high);
  }
  return out;
}

std::vector<TopicPartition> KafkaConsumer::Assignment() const {
  std::lock_guard<std::mutex> lock(assignment_mu_);
  return assignment_;
}

std::string KafkaConsumer::RebalanceProtocol() const {
  const char* p = rd_kafka_rebalance_protocol(rk_);
  return p != nullptr ? p : "NONE";
}

Status KafkaConsumer::Close() {
  if (closed_) return Status::OK();
  filling_ = nullptr;
  const bool failed_before = !final_.ok();
  rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_);  // runs on_revoke through OnRebalance
  closed_ = true;
  parts_.clear();
  PublishAssignment();
  if (!failed_before && !final_.ok()) return final_;  // on_revoke failed while leaving
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::IOError("kafka: leaving the group: " + ErrText(err));
  }
  return Status::OK();
}

}  // namespace weir::source
