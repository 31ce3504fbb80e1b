#include "source/kafka_producer.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <utility>

namespace weir::source {

namespace {

using Clock = std::chrono::steady_clock;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using Conf = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};

struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
using Error = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

std::string ErrText(rd_kafka_resp_err_t err) {
  return std::string(rd_kafka_err2name(err)) + ": " + rd_kafka_err2str(err);
}

// librdkafka's log lines into the producer's logger (the opaque), at matching levels.
void LogLine(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* log = static_cast<spdlog::logger*>(rd_kafka_opaque(rk));
  if (log == nullptr) return;
  const auto lvl = level <= 3 ? spdlog::level::err
                   : level <= 4 ? spdlog::level::warn
                   : level <= 6 ? spdlog::level::info
                                : spdlog::level::debug;
  log->log(lvl, "kafka producer {}: {}", fac, buf);
}

using Settings = std::vector<std::pair<std::string, std::string>>;

// Settings weir sets itself: exactly-once needs them (or they are keys of their own).
bool Reserved(const std::string& k) {
  return k == "transactional.id" || k == "bootstrap.servers" || k == "isolation.level" ||
         k == "enable.idempotence" || k == "group.id" || k == "enable.auto.commit";
}

// A configuration: weir's defaults, the user's settings, then weir's own.
Result<Conf> MakeConf(const KafkaProducerOptions& o, spdlog::logger* log,
                      const Settings& defaults, const Settings& own) {
  Conf conf(rd_kafka_conf_new());
  char errstr[512];
  auto set = [&](const std::string& key, const std::string& value) -> Status {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      return Status::Invalid("kafka setting \"" + key + "\" = \"" + value + "\": " + errstr);
    }
    return Status::OK();
  };
  for (const auto& [k, v] : defaults) WEIR_RETURN_IF_ERROR(set(k, v));
  for (const auto& [k, v] : o.settings) {
    if (Reserved(k)) {
      return Status::Invalid("kafka setting \"" + k +
                             "\" cannot be set in rules.output.options: weir sets it (exactly-once "
                             "output needs it; transactional_id and brokers are keys of their own)");
    }
    WEIR_RETURN_IF_ERROR(set(k, v));
  }
  WEIR_RETURN_IF_ERROR(set("bootstrap.servers", o.brokers));
  WEIR_RETURN_IF_ERROR(set("client.id", o.client_id));
  for (const auto& [k, v] : own) WEIR_RETURN_IF_ERROR(set(k, v));
  rd_kafka_conf_set_opaque(conf.get(), log);
  rd_kafka_conf_set_log_cb(conf.get(), &LogLine);
  return conf;
}

}  // namespace

KafkaTxnProducer::KafkaTxnProducer(KafkaProducerOptions options) : options_(std::move(options)) {
  log_ = options_.logger ? options_.logger : spdlog::default_logger();
}

KafkaTxnProducer::~KafkaTxnProducer() {
  if (rk_ == nullptr) return;
  // A transaction left open would hold read_committed consumers of its partitions back until
  // the next producer's init or the broker's transaction timeout: abort it when we can.
  if (in_txn_ && !broken_) {
    if (rd_kafka_error_t* e = rd_kafka_abort_transaction(rk_, 5000)) rd_kafka_error_destroy(e);
  }
  rd_kafka_destroy(rk_);
}

Result<std::unique_ptr<KafkaTxnProducer>> KafkaTxnProducer::Create(KafkaProducerOptions options) {
  if (options.brokers.empty()) return Status::Invalid("kafka output: `brokers` is empty");
  if (options.transactional_id.empty()) {
    return Status::Invalid("kafka output: `transactional_id` is empty");
  }
  if (options.progress_topic.empty()) return Status::Invalid("kafka output: no progress topic");
  // The user's transaction timeout bounds weir's own waits as well.
  auto t = options.settings.find("transaction.timeout.ms");
  if (t != options.settings.end()) {
    const long long ms = std::strtoll(t->second.c_str(), nullptr, 10);
    if (ms >= 1000) options.timeout_ms = static_cast<int>(std::min<long long>(ms, 900000));
  }
  std::unique_ptr<KafkaTxnProducer> p(new KafkaTxnProducer(std::move(options)));
  WEIR_RETURN_IF_ERROR(p->Init());
  return p;
}

Status KafkaTxnProducer::Init() {
  const std::string timeout = std::to_string(options_.timeout_ms);
  WEIR_ASSIGN_OR_RETURN(
      Conf conf, MakeConf(options_, log_.get(),
                          {{"transaction.timeout.ms", timeout},
                           // A derived record's latency matters more than batching.
                           {"linger.ms", "1"}},
                          {{"transactional.id", options_.transactional_id},
                           {"enable.idempotence", "true"}}));
  char errstr[512];
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr));
  if (rk_ == nullptr) return Status::Invalid(std::string("kafka producer: ") + errstr);
  conf.release();  // rd_kafka_new took it
  // Retriable failures (the coordinator not up yet) are retried until the deadline.
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  for (;;) {
    Error e(rd_kafka_init_transactions(rk_, 10000));
    if (!e) return Status::OK();
    if (!rd_kafka_error_is_retriable(e.get()) || Clock::now() >= deadline) {
      return Status::IOError("kafka output: initialising transactions for transactional.id " +
                                 options_.transactional_id + " at " + options_.brokers +
                                 " failed: " + rd_kafka_error_string(e.get()));
    }
    log_->warn("kafka output: init_transactions: {} (retrying)", rd_kafka_error_string(e.get()));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

Result<std::string> KafkaTxnProducer::LastMarker(const std::string& prefix) {
  WEIR_ASSIGN_OR_RETURN(
      Conf conf, MakeConf(options_, log_.get(), {},
                          {{"group.id", options_.transactional_id + ".progress"},
                           {"isolation.level", "read_committed"},
                           {"enable.auto.commit", "false"},
                           {"enable.partition.eof", "true"}}));
  char errstr[512];
  Handle c(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr)));
  if (!c) return Status::Invalid(std::string("kafka progress reader: ") + errstr);
  conf.release();
  rd_kafka_poll_set_consumer(c.get());
  const std::string& topic = options_.progress_topic;
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  auto timed_out = [&](const std::string& what) {
    return Status::IOError("kafka output: reading the progress topic " + topic + " at " +
                           options_.brokers + ": " + what + " (for " +
                           std::to_string(options_.timeout_ms / 1000) + " s)");
  };
  int64_t lo = 0, hi = 0;
  for (;;) {
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        c.get(), topic.c_str(), 0, &lo, &hi, std::min(options_.timeout_ms, 10000));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      return Status::Invalid("kafka output: the progress topic " + topic +
                             " does not exist at " + options_.brokers +
                             "; create it (one partition is enough) or name another one in "
                             "rules.output.progress_topic");
    }
    if (Clock::now() >= deadline) return timed_out(ErrText(err));
    log_->warn("kafka output: reading the progress topic {}: {} (retrying)", topic, ErrText(err));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  // Our last marker is near the end: each transaction adds it and a commit marker. Read a
  // window before the end, and a wider one while no marker of ours is in it (a new generation
  // has none: the whole partition is read once).
  for (int64_t window = 256;; window *= 8) {
    const int64_t start = std::max(lo, hi - window);
    std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter> list(
        rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), 0)->offset = start;
    if (rd_kafka_resp_err_t err = rd_kafka_assign(c.get(), list.get()); err) {
      return Status::IOError("kafka output: reading " + topic + ": " + ErrText(err));
    }
    std::string found;
    bool any = false;
    while (start < hi) {
      std::unique_ptr<rd_kafka_message_t, MessageDeleter> m(rd_kafka_consumer_poll(c.get(), 200));
      if (Clock::now() >= deadline) return timed_out("no end reached");
      if (!m) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // The end a read_committed consumer may see: the last stable offset. Another
        // producer's open transaction holds it below the high watermark (and maybe below a
        // marker of ours committed after it began): wait until it ends.
        rd_kafka_position(c.get(), list.get());
        if (list->elems[0].offset >= hi) break;
        continue;
      }
      if (m->err) {
        log_->warn("kafka output: reading the progress topic {}: {}", topic, ErrText(m->err));
        continue;
      }
      const std::string key(static_cast<const char*>(m->key), m->key_len);
      const std::string value(static_cast<const char*>(m->payload), m->len);
      if (key == options_.transactional_id && value.rfind(prefix, 0) == 0) {
        found = value;  // the later one wins
        any = true;
      }
      if (m->offset >= hi - 1) break;
    }
    rd_kafka_assign(c.get(), nullptr);
    if (any || start <= lo) {
      rd_kafka_consumer_close(c.get());
      return found;
    }
  }
}

Status KafkaTxnProducer::Publish(const std::string& topic, const std::vector<KafkaRecord>& records,
                                 const std::string& marker) {
  // Any failure but a fatal one is retryable by a NEW producer: its init_transactions ends
  // whatever this one left (aborts an open transaction, completes one being committed), and
  // the caller then asks LastMarker() what Kafka has. This one is not used again.
  auto fail = [&](const std::string& what, rd_kafka_error_t* raw, bool permanent) -> Status {
    Error e(raw);
    const std::string text = e ? what + ": " + rd_kafka_error_string(e.get()) : what;
    broken_ = true;
    if (permanent || (e && rd_kafka_error_is_fatal(e.get()))) {
      return Status::IOError("kafka output: " + text +
                                 (e && rd_kafka_error_is_fatal(e.get())
                                      ? " (fatal: another producer with transactional.id " +
                                            options_.transactional_id + " may have taken over)"
                                      : std::string()),
                             false);
    }
    return Status::IOError("kafka output: " + text);
  };
  if (broken_) return Status::Internal("kafka output: Publish on a producer that failed");
  if (rd_kafka_error_t* e = rd_kafka_begin_transaction(rk_)) {
    return fail("begin transaction", e, false);
  }
  in_txn_ = true;
  auto produce = [&](const std::string& t, int32_t partition, const std::string& key,
                     const std::string& value) -> Status {
    for (;;) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(t.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::OK();
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk_, 20);  // the queue drains as the broker acknowledges
        continue;
      }
      // A message the topic cannot take, a topic known not to exist, no permission: no
      // retry helps.
      const bool permanent = err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
                             err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                             err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                             err == RD_KAFKA_RESP_ERR__INVALID_ARG;
      return fail("producing to " + t + ": " + ErrText(err), nullptr, permanent);
    }
  };
  for (const auto& r : records) {
    WEIR_RETURN_IF_ERROR(produce(topic, RD_KAFKA_PARTITION_UA, r.key, r.value));
  }
  WEIR_RETURN_IF_ERROR(produce(options_.progress_topic, 0, options_.transactional_id, marker));
  // A retriable error leaves the commit's outcome open: call it again (librdkafka's advice),
  // until the deadline; then a new producer settles it.
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    rd_kafka_error_t* e =
        rd_kafka_commit_transaction(rk_, static_cast<int>(std::max<int64_t>(left.count(), 1)));
    if (e == nullptr) {
      in_txn_ = false;
      return Status::OK();
    }
    if (rd_kafka_error_is_retriable(e) && Clock::now() < deadline) {
      log_->warn("kafka output: committing a transaction: {} (retrying)", rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    return fail("committing a transaction", e, false);
  }
}

}  // namespace weir::source
