// Throughput of the jsonl hot path (splitter + projector), one core. Disabled by default; run:
//   parse_tests --gtest_also_run_disabled_tests --gtest_filter='*Bench*'
#include <gtest/gtest.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "parse/projector.h"
#include "parse/splitter.h"

namespace weir {
namespace {

ColumnConfig Col(std::string name, std::string path, ColumnType type) {
  ColumnConfig c;
  c.name = std::move(name);
  c.path = std::move(path);
  c.type = type;
  return c;
}

std::string MakeEvents(size_t n, size_t* avg_len) {
  std::mt19937 rng(42);
  std::string out;
  const char* types[] = {"page_view", "click", "purchase", "signup"};
  const char* countries[] = {"DE", "FR", "US", "BR", "JP"};
  char buf[512];
  for (size_t i = 0; i < n; ++i) {
    const int len = std::snprintf(
        buf, sizeof(buf),
        "{\"event_id\":\"evt-%010zu\",\"event_type\":\"%s\",\"ts\":%lld,"
        "\"user\":{\"id\":%u,\"country\":\"%s\",\"plan\":\"free\"},"
        "\"data\":{\"url\":\"https://example.com/p/%u\",\"duration\":%.3f,\"ok\":%s,"
        "\"ua\":\"Mozilla/5.0\"},\"v\":2}\n",
        i, types[rng() % 4], 1700000000000LL + static_cast<long long>(rng() % 100000000),
        static_cast<unsigned>(rng() % 1000000), countries[rng() % 5],
        static_cast<unsigned>(rng() % 100000), (rng() % 100000) / 1000.0,
        (rng() % 2) ? "true" : "false");
    out.append(buf, static_cast<size_t>(len));
  }
  *avg_len = out.size() / n;
  return out;
}

// Thread CPU time: the machine is shared, so wall time would mostly measure other processes.
double CpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

TEST(ProjectorBench, DISABLED_Jsonl8Columns) {
  DatasetConfig cfg;
  cfg.read.parser = "jsonl";
  cfg.write.columns = {Col("event_id", "/event_id", ColumnType::kString),
                       Col("event_type", "/event_type", ColumnType::kString),
                       Col("ts", "/ts", ColumnType::kTimestampMs),
                       Col("user_id", "/user/id", ColumnType::kInt64),
                       Col("country", "/user/country", ColumnType::kString),
                       Col("url", "/data/url", ColumnType::kString),
                       Col("duration", "/data/duration", ColumnType::kDouble),
                       Col("ok", "/data/ok", ColumnType::kBool)};
  ColumnConfig dt;
  dt.name = "dt";
  dt.source = ColumnSource::kDateOf;
  dt.from = "ts";
  cfg.write.columns.push_back(dt);
  auto p = Projector::Create(cfg);
  ASSERT_TRUE(p.ok());
  size_t avg = 0;
  const size_t n = 200000;
  const std::string data = MakeEvents(n, &avg);
  auto splitter = MakeLineSplitter(cfg.read.max_record_bytes);
  std::vector<RecordView> recs;
  ASSERT_EQ(splitter->Split(data, true, 0, 0, recs), data.size());
  ASSERT_EQ(recs.size(), n);

  ColumnBatch batch((*p)->schema());
  std::vector<RecordIssue> skips, errors;
  const size_t kBatch = 4096;
  double best_ns = 1e18, best_split_ns = 1e18;
  for (int round = 0; round < 5; ++round) {
    const double t0 = CpuNs();
    size_t docs = 0;
    for (size_t i = 0; i < n; i += kBatch) {
      batch.Clear();
      const size_t m = std::min(kBatch, n - i);
      docs += (*p)->Process(std::span<const RecordView>(recs.data() + i, m), batch, skips, errors);
    }
    const double t1 = CpuNs();
    ASSERT_EQ(docs, n);
    ASSERT_TRUE(errors.empty());
    best_ns = std::min(best_ns, t1 - t0);
    std::vector<RecordView> r2;
    r2.reserve(n);
    auto s = MakeLineSplitter(cfg.read.max_record_bytes);
    const double t2 = CpuNs();
    (void)s->Split(data, true, 0, 0, r2);
    const double t3 = CpuNs();
    best_split_ns = std::min(best_split_ns, t3 - t2);
  }
  std::printf("records: %zu, avg %zu bytes, 8 path columns + date_of\n", n, avg);
  std::printf("project (thread CPU time): %.0f ns/record, %.2f M records/s, %.0f MB/s\n",
              best_ns / n, n / best_ns * 1e3, data.size() / best_ns * 1e3);
  std::printf("split:   %.1f ns/record, %.0f MB/s\n", best_split_ns / n,
              data.size() / best_split_ns * 1e3);
}

}  // namespace
}  // namespace weir
