// StreamMetrics in the Prometheus text format: cumulative histogram buckets, sums, counts,
// escaped labels, and the collector's answer split.
#include "exec/stream_metrics.h"

#include <gtest/gtest.h>

namespace weir {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(StreamMetrics, HistogramBucketsAreCumulativeWithSumAndCount) {
  LatencyHistogram h;
  h.Observe(0.003);   // <= 0.005
  h.Observe(0.2);     // <= 0.25
  h.Observe(0.25);    // a bound belongs to its own bucket (le)
  h.Observe(1000);    // only +Inf
  h.Observe(-1);      // clock skew counts as 0
  std::string out;
  h.Render(out, "x", "d=\"a\"");
  EXPECT_TRUE(Has(out, "x_bucket{d=\"a\",le=\"0.005\"} 2")) << out;
  EXPECT_TRUE(Has(out, "x_bucket{d=\"a\",le=\"0.1\"} 2")) << out;
  EXPECT_TRUE(Has(out, "x_bucket{d=\"a\",le=\"0.25\"} 4")) << out;
  EXPECT_TRUE(Has(out, "x_bucket{d=\"a\",le=\"300\"} 4")) << out;
  EXPECT_TRUE(Has(out, "x_bucket{d=\"a\",le=\"+Inf\"} 5")) << out;
  EXPECT_TRUE(Has(out, "x_sum{d=\"a\"} 1000.45")) << out;
  EXPECT_TRUE(Has(out, "x_count{d=\"a\"} 5")) << out;
  EXPECT_EQ(h.count(), 5u);
}

TEST(StreamMetrics, ExpositionNamesEveryFamilyWithTheDatasetLabel) {
  StreamMetrics m;
  m.dataset = "we\"ird";
  m.written = 7;
  m.errored = 1;
  m.commits = 3;
  m.lag_bytes = 42;
  m.requests = 10;
  m.refused = 2;
  m.throttled = 1;
  m.malformed = 4;
  m.commit_seconds.Observe(0.02);
  const std::string text = RenderPrometheus(m);
  const std::string ds = "dataset=\"we\\\"ird\"";
  EXPECT_TRUE(Has(text, "weir_records_total{" + ds + ",outcome=\"written\"} 7")) << text;
  EXPECT_TRUE(Has(text, "weir_records_total{" + ds + ",outcome=\"errored\"} 1"));
  EXPECT_TRUE(Has(text, "weir_commits_total{" + ds + "} 3"));
  EXPECT_TRUE(Has(text, "weir_stream_lag_bytes{" + ds + ",partition=\"collector\"} 42"));
  EXPECT_TRUE(Has(text, "weir_collector_requests_total{" + ds + ",answer=\"accepted\"} 7"));
  EXPECT_TRUE(Has(text, "weir_collector_requests_total{" + ds + ",answer=\"refused\"} 2"));
  EXPECT_TRUE(Has(text, "weir_collector_records_total{" + ds + ",kind=\"malformed\"} 4"));
  EXPECT_TRUE(Has(text, "weir_commit_duration_seconds_count{" + ds + "} 1"));
  EXPECT_TRUE(Has(text, "# TYPE weir_end_to_end_latency_seconds histogram"));
  // Every sample line belongs to a family announced before it.
  size_t types = 0, pos = 0;
  while ((pos = text.find("# TYPE ", pos)) != std::string::npos) ++types, ++pos;
  EXPECT_EQ(types, 9u);
}

TEST(StreamMetrics, AKafkaStreamAddsMessageTimestampLatencyAndLagPerPartition) {
  StreamMetrics m;
  m.dataset = "k";
  m.source = "kafka";
  m.kafka_seconds.Observe(0.3);
  m.kafka_seconds.Observe(2);
  m.SetPartitionLags({{"events/0", 5}, {"events/1", 0}});
  const std::string text = RenderPrometheus(m);
  EXPECT_TRUE(Has(text, "# TYPE weir_kafka_latency_seconds histogram")) << text;
  EXPECT_TRUE(Has(text, "weir_kafka_latency_seconds_bucket{dataset=\"k\",le=\"0.5\"} 1"));
  EXPECT_TRUE(Has(text, "weir_kafka_latency_seconds_count{dataset=\"k\"} 2"));
  EXPECT_TRUE(Has(text, "weir_consumer_lag_messages{dataset=\"k\",partition=\"events/0\"} 5"));
  EXPECT_FALSE(Has(text, "weir_stream_lag_bytes")) << "a Kafka stream has no collector log";
}

TEST(StreamMetrics, TimestampsKeepEveryDigit) {
  // Regression: "%g" printed the last commit's Unix time with six significant digits
  // (1.79634e+09), a thousand seconds coarse.
  StreamMetrics m;
  m.dataset = "t";
  m.last_commit_unix_ms = 1796337653501;
  const std::string text = RenderPrometheus(m);
  EXPECT_TRUE(Has(text, "weir_last_commit_timestamp_seconds{dataset=\"t\"} 1796337653.501")) << text;
}

TEST(StreamMetrics, RulesAddTheirCountersWatermarkAndALatencyHistogramPerRule) {
  StreamMetrics m;
  m.dataset = "r";
  EXPECT_EQ(RenderPrometheus(m).find("weir_rules_"), std::string::npos) << "no rules, no families";
  m.rules = true;
  m.rules_events = 90;
  m.rules_late = 3;
  m.rules_derived = 12;
  m.rules_keys = 40;
  m.rules_watermark_ms = 1796337600000;
  m.rules_latency["meeting_accepted"] = std::make_unique<LatencyHistogram>();
  m.rules_latency["meeting_accepted"]->Observe(1.2);  // within the 1.5 s bound, not 1 s
  const std::string text = RenderPrometheus(m);
  EXPECT_TRUE(Has(text, "weir_rules_records_total{dataset=\"r\",outcome=\"used\"} 90")) << text;
  EXPECT_TRUE(Has(text, "weir_rules_records_total{dataset=\"r\",outcome=\"late\"} 3"));
  EXPECT_TRUE(Has(text, "weir_rules_derived_total{dataset=\"r\"} 12"));
  EXPECT_TRUE(Has(text, "weir_rules_keys{dataset=\"r\"} 40"));
  EXPECT_TRUE(Has(text, "weir_rules_watermark_timestamp_seconds{dataset=\"r\"} 1796337600.000"));
  const std::string b = "weir_rules_latency_seconds_bucket{dataset=\"r\",rule=\"meeting_accepted\",le=";
  EXPECT_TRUE(Has(text, b + "\"1\"} 0"));
  EXPECT_TRUE(Has(text, b + "\"1.5\"} 1"));
}

}  // namespace
}  // namespace weir
