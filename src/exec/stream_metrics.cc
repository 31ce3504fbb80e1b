#include "exec/stream_metrics.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace weir {
namespace {

std::string Number(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.6g", v);
  return b;
}

// A Unix time in ms as seconds with all its digits ("%g" would keep six: 1.79634e+09).
std::string UnixSeconds(int64_t ms) {
  char b[32];
  std::snprintf(b, sizeof(b), "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
  return b;
}

// Label values escape backslash, double quote and newline (the text format's rule).
std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Head(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void Sample(std::string& out, const std::string& name, const std::string& labels, uint64_t v) {
  out += name + "{" + labels + "} " + std::to_string(v) + "\n";
}

}  // namespace

void LatencyHistogram::Observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // clock skew: an event "from the future" counts as 0
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<uint64_t>(std::llround(seconds * 1e6)), std::memory_order_relaxed);
}

void LatencyHistogram::Render(std::string& out, const std::string& name,
                              const std::string& labels) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    const std::string le = i < kBounds.size() ? Number(kBounds[i]) : "+Inf";
    out += name + "_bucket{" + labels + ",le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_sum{" + labels + "} " +
         Number(static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(count_.load(std::memory_order_relaxed)) +
         "\n";
}

std::string RenderPrometheus(const StreamMetrics& m) {
  const std::string ds = "dataset=\"" + Escape(m.dataset) + "\"";
  std::string out;
  Head(out, "weir_records_total", "counter",
       "Records committed to the lake by this process, by outcome (skipped includes duplicates).");
  Sample(out, "weir_records_total", ds + ",outcome=\"read\"", m.read);
  Sample(out, "weir_records_total", ds + ",outcome=\"written\"", m.written);
  Sample(out, "weir_records_total", ds + ",outcome=\"skipped\"", m.skipped);
  Sample(out, "weir_records_total", ds + ",outcome=\"errored\"", m.errored);
  Sample(out, "weir_records_total", ds + ",outcome=\"duplicate\"", m.duplicates);
  Head(out, "weir_commits_total", "counter", "Lake commits (Iceberg snapshots) by this process.");
  Sample(out, "weir_commits_total", ds, m.commits);
  Head(out, "weir_last_commit_timestamp_seconds", "gauge",
       "Unix time of the last commit (0: none yet).");
  out += "weir_last_commit_timestamp_seconds{" + ds + "} " +
         UnixSeconds(std::max<int64_t>(0, m.last_commit_unix_ms.load())) + "\n";
  Head(out, "weir_commit_duration_seconds", "histogram",
       "Time one commit takes: data files, store transaction, publication.");
  m.commit_seconds.Render(out, "weir_commit_duration_seconds", ds);
  Head(out, "weir_end_to_end_latency_seconds", "histogram",
       "Commit time minus each committed record's event time (the dedup time column, else the "
       "first timestamp column).");
  m.end_to_end_seconds.Render(out, "weir_end_to_end_latency_seconds", ds);
  if (m.source == "kafka") {
    Head(out, "weir_kafka_latency_seconds", "histogram",
         "Commit time minus each committed message's Kafka timestamp (CreateTime: when the "
         "producer made it; LogAppendTime: when the broker stored it).");
    m.kafka_seconds.Render(out, "weir_kafka_latency_seconds", ds);
    Head(out, "weir_consumer_lag_messages", "gauge",
         "Messages in the partition after the next offset weir will read (high watermark minus "
         "next offset), per assigned partition.");
    for (const auto& [partition, lag] : m.PartitionLags()) {
      Sample(out, "weir_consumer_lag_messages", ds + ",partition=\"" + Escape(partition) + "\"", lag);
    }
  } else {
    Head(out, "weir_stream_lag_bytes", "gauge",
         "Bytes accepted into the stream's log and not yet committed to the lake.");
    Sample(out, "weir_stream_lag_bytes", ds + ",partition=\"" + Escape(m.source) + "\"",
           m.lag_bytes);
  }
  Head(out, "weir_collector_requests_total", "counter", "HTTP collector requests by answer.");
  const uint64_t requests = m.requests, refused = m.refused, throttled = m.throttled;
  Sample(out, "weir_collector_requests_total", ds + ",answer=\"accepted\"",
         requests >= refused + throttled ? requests - refused - throttled : 0);
  Sample(out, "weir_collector_requests_total", ds + ",answer=\"refused\"", refused);
  Sample(out, "weir_collector_requests_total", ds + ",answer=\"throttled\"", throttled);
  Head(out, "weir_collector_records_total", "counter",
       "Records the HTTP collector stored, valid or malformed (malformed become error records).");
  Sample(out, "weir_collector_records_total", ds + ",kind=\"valid\"", m.accepted);
  Sample(out, "weir_collector_records_total", ds + ",kind=\"malformed\"", m.malformed);
  Head(out, "weir_collector_bytes_total", "counter", "Bytes the HTTP collector appended to the log.");
  Sample(out, "weir_collector_bytes_total", ds, m.bytes_in);
  if (m.rules) {
    Head(out, "weir_rules_records_total", "counter",
         "Records the rules stage read, by outcome: used, or late (behind the watermark).");
    Sample(out, "weir_rules_records_total", ds + ",outcome=\"used\"", m.rules_events);
    Sample(out, "weir_rules_records_total", ds + ",outcome=\"late\"", m.rules_late);
    Head(out, "weir_rules_derived_total", "counter", "Derived records committed.");
    Sample(out, "weir_rules_derived_total", ds, m.rules_derived);
    Head(out, "weir_rules_keys", "gauge", "Keys holding rules state.");
    Sample(out, "weir_rules_keys", ds, m.rules_keys);
    Head(out, "weir_rules_watermark_timestamp_seconds", "gauge",
         "The rules' watermark (event time), 0 before the first record.");
    const int64_t w = m.rules_watermark_ms.load();
    out += "weir_rules_watermark_timestamp_seconds{" + ds + "} " +
           UnixSeconds(std::max<int64_t>(0, w)) + "\n";
    Head(out, "weir_rules_latency_seconds", "histogram",
         "Per rule: when a derived record was committed minus its event time.");
    for (const auto& [rule, h] : m.rules_latency) {
      h->Render(out, "weir_rules_latency_seconds", ds + ",rule=\"" + Escape(rule) + "\"");
    }
  }
  return out;
}

}  // namespace weir
