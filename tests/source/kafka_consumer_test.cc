// KafkaConsumer against librdkafka's mock cluster (a real Kafka-protocol server on loopback),
// produced to with librdkafka's producer.
#include "source/kafka_consumer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "kafka_test_util.h"

namespace weir::source {

// Reaches into the consumer for what only tests need.
class KafkaConsumerTestPeer {
 public:
  static rd_kafka_t* Handle(KafkaConsumer& c) { return c.rk_; }
  static void DropPartitions(MessageBatch& b, const std::vector<TopicPartition>& tps) {
    b.DropPartitions(tps);
  }
};

namespace {

using testing::CaptureLogger;
using testing::CaptureSink;
using testing::Consumed;
using testing::FastOptions;
using testing::MockKafka;
using testing::PollUntil;
using testing::TestProducer;

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> v;
  for (int64_t i = from; i < to; ++i) v.push_back(i);
  return v;
}

std::unique_ptr<KafkaConsumer> MustCreate(KafkaConsumerOptions o, KafkaConsumerCallbacks cb = {}) {
  auto r = KafkaConsumer::Create(std::move(o), std::move(cb));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

Status PollUntilError(KafkaConsumer& c, int timeout_ms = 10000) {
  MessageBatch batch;
  Status st;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (st.ok() && std::chrono::steady_clock::now() < deadline) st = c.Poll(100, 100, &batch);
  return st;
}

TEST(TopicPartitionTest, PrintsParsesAndOrders) {
  TopicPartition tp{"events", 3};
  EXPECT_EQ(tp.ToString(), "events/3");
  auto parsed = TopicPartition::Parse("events/3");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, tp);
  EXPECT_FALSE(TopicPartition::Parse("events").ok());
  EXPECT_FALSE(TopicPartition::Parse("/3").ok());
  EXPECT_FALSE(TopicPartition::Parse("events/").ok());
  EXPECT_FALSE(TopicPartition::Parse("events/-1").ok());
  EXPECT_FALSE(TopicPartition::Parse("events/3x").ok());
  EXPECT_LT((TopicPartition{"a", 9}), (TopicPartition{"b", 0}));
  EXPECT_LT((TopicPartition{"a", 1}), (TopicPartition{"a", 2}));
}

TEST(KafkaConsumerTest, RejectsBadOptionsWithLibrdkafkasMessage) {
  KafkaConsumerOptions base = FastOptions("127.0.0.1:1", {"t"}, "g");
  auto with = [&](auto change) {
    KafkaConsumerOptions o = base;
    change(o);
    return KafkaConsumer::Create(std::move(o), {}).status();
  };
  Status st = with([](auto& o) { o.settings["no.such.setting"] = "1"; });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("no.such.setting"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("No such configuration property"), std::string::npos) << st.message();

  st = with([](auto& o) { o.settings["session.timeout.ms"] = "soon"; });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("Invalid value"), std::string::npos) << st.message();

  st = with([](auto& o) { o.settings["enable.auto.commit"] = "true"; });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("cannot be set"), std::string::npos) << st.message();

  // Checked by rd_kafka_new, not by the single setting.
  st = with([](auto& o) { o.settings["max.poll.interval.ms"] = "1000"; });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("max.poll.interval.ms"), std::string::npos) << st.message();

  EXPECT_FALSE(with([](auto& o) { o.start = "beginning"; }).ok());
  EXPECT_FALSE(with([](auto& o) { o.group.clear(); }).ok());
  EXPECT_FALSE(with([](auto& o) { o.topics.clear(); }).ok());
  EXPECT_FALSE(with([](auto& o) { o.brokers.clear(); }).ok());
  EXPECT_TRUE(with([](auto&) {}).ok());
}

TEST(KafkaConsumerTest, ConsumesFromEarliestAndReportsEndOfPartition) {
  MockKafka kafka;
  kafka.CreateTopic("ev", 2);
  TestProducer producer(kafka.bootstrap());
  producer.SendRange("ev", 0, 0, 50);
  producer.SendRange("ev", 1, 0, 30);
  producer.Flush();

  std::vector<std::vector<TopicPartition>> assigned;
  KafkaConsumerCallbacks cb;
  cb.on_assign =
      [&](const std::vector<TopicPartition>& tps) -> Result<std::map<TopicPartition, int64_t>> {
    assigned.push_back(tps);
    return std::map<TopicPartition, int64_t>{};  // weir has nothing: start = earliest
  };
  auto c = MustCreate(FastOptions(kafka.bootstrap(), {"ev"}, "g1"), cb);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->RebalanceProtocol(), "NONE");
  Consumed got;
  TopicPartition p0{"ev", 0}, p1{"ev", 1};
  ASSERT_TRUE(PollUntil(*c, got, [&] { return got.SawEof(p0, 50) && got.SawEof(p1, 30); }));

  ASSERT_EQ(assigned.size(), 1u);
  EXPECT_EQ(assigned[0], (std::vector<TopicPartition>{p0, p1}));
  EXPECT_EQ(c->Assignment(), (std::vector<TopicPartition>{p0, p1}));
  EXPECT_EQ(c->RebalanceProtocol(), "EAGER");
  auto offsets = got.OffsetsByPartition();
  EXPECT_EQ(offsets[p0], Range(0, 50));
  EXPECT_EQ(offsets[p1], Range(0, 30));
  for (const auto& r : got.records) {
    ASSERT_TRUE(r.key && r.value);
    EXPECT_EQ(*r.key, "k" + std::to_string(r.offset));
    EXPECT_EQ(*r.value, r.tp.ToString() + "#" + std::to_string(r.offset));
    EXPECT_EQ(r.timestamp_type, KafkaTimestampType::kCreateTime);
    EXPECT_GT(r.timestamp_ms, 1600000000000);
  }

  auto high = c->HighWatermarks();
  ASSERT_TRUE(high.ok());
  EXPECT_EQ(*high, (std::map<TopicPartition, int64_t>{{p0, 50}, {p1, 30}}));
  auto queried = c->QueryHighWatermarks({p0, p1}, 5000);
  ASSERT_TRUE(queried.ok()) << queried.status().ToString();
  EXPECT_EQ(*queried, *high);

  // Each end is reported once per arrival, and again after new messages are read.
  size_t eofs_before = got.eofs.size();
  producer.SendRange("ev", 1, 30, 35);
  producer.Flush();
  ASSERT_TRUE(PollUntil(*c, got, [&] { return got.SawEof(p1, 35); }));
  EXPECT_EQ(got.OffsetsByPartition()[p1], Range(0, 35));
  EXPECT_EQ(got.eofs.size(), eofs_before + 1);
  EXPECT_TRUE(c->Close().ok());
}

TEST(KafkaConsumerTest, StartsExactlyAtTheOffsetsOnAssignGives) {
  MockKafka kafka;
  kafka.CreateTopic("ev", 3);
  TestProducer producer(kafka.bootstrap());
  for (int p = 0; p < 3; ++p) producer.SendRange("ev", p, 0, 30);
  producer.Flush();

  TopicPartition p0{"ev", 0}, p1{"ev", 1}, p2{"ev", 2};
  KafkaConsumerCallbacks cb;
  cb.on_assign =
      [&](const std::vector<TopicPartition>&) -> Result<std::map<TopicPartition, int64_t>> {
    // p2 is left out: weir has no offset, so it starts at `start` (latest).
    return std::map<TopicPartition, int64_t>{{p0, 7}, {p1, 30}};
  };
  KafkaConsumerOptions o = FastOptions(kafka.bootstrap(), {"ev"}, "g-start");
  o.start = "latest";
  auto c = MustCreate(o, cb);
  ASSERT_NE(c, nullptr);
  Consumed got;
  ASSERT_TRUE(PollUntil(
      *c, got, [&] { return got.SawEof(p0, 30) && got.SawEof(p1, 30) && got.SawEof(p2, 30); }));
  auto offsets = got.OffsetsByPartition();
  EXPECT_EQ(offsets[p0], Range(7, 30));
  EXPECT_EQ(offsets.count(p1), 0u);
  EXPECT_EQ(offsets.count(p2), 0u);  // started at the end

  producer.SendRange("ev", 1, 30, 33);
  producer.SendRange("ev", 2, 30, 34);
  producer.Flush();
  ASSERT_TRUE(PollUntil(*c, got, [&] { return got.SawEof(p1, 33) && got.SawEof(p2, 34); }));
  offsets = got.OffsetsByPartition();
  EXPECT_EQ(offsets[p1], Range(30, 33));
  EXPECT_EQ(offsets[p2], Range(30, 34));
  EXPECT_EQ(offsets[p0], Range(7, 30));
}

TEST(KafkaConsumerTest, OnAssignErrorEndsTheRun) {
  MockKafka kafka;
  kafka.CreateTopic("ev", 1);
  KafkaConsumerCallbacks cb;
  cb.on_assign =
      [](const std::vector<TopicPartition>&) -> Result<std::map<TopicPartition, int64_t>> {
    return Status::IOError("store unavailable");
  };
  auto c = MustCreate(FastOptions(kafka.bootstrap(), {"ev"}, "g-fail"), cb);
  ASSERT_NE(c, nullptr);
  Status st = PollUntilError(*c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("store unavailable"), std::string::npos) << st.ToString();
  EXPECT_TRUE(c->Assignment().empty());
  MessageBatch batch;
  Status again = c->Poll(0, 100, &batch);
  EXPECT_EQ(again.message(), st.message());
}

TEST(KafkaConsumerTest, FlagsTombstonesApartFromEmptyValues) {
  MockKafka kafka;
  kafka.CreateTopic("ev", 1);
  TestProducer producer(kafka.bootstrap());
  producer.Send("ev", 0, "a", std::nullopt);       // tombstone
  producer.Send("ev", 0, "b", std::string());      // empty value
  producer.Send("ev", 0, std::nullopt, "no key");  // null key
  producer.Send("ev", 0, std::string(), "");       // empty key, empty value
  producer.Flush();

  auto c = MustCreate(FastOptions(kafka.bootstrap(), {"ev"}, "g-tomb"));
  ASSERT_NE(c, nullptr);
  Consumed got;
  ASSERT_TRUE(PollUntil(*c, got, [&] { return got.SawEof({"ev", 0}, 4); }));
  ASSERT_EQ(got.records.size(), 4u);
  EXPECT_EQ(got.records[0].key, "a");
  EXPECT_FALSE(got.records[0].value.has_value());
  EXPECT_EQ(got.records[1].value, "");
  EXPECT_FALSE(got.records[2].key.has_value());
  EXPECT_EQ(got.records[2].value, "no key");
  EXPECT_EQ(got.records[3].key, "");
  EXPECT_EQ(got.records[3].value, "");
}

TEST(KafkaConsumerTest, BatchOwnsItsBytesAndDropsRevokedPartitions) {
  MockKafka kafka;
  kafka.CreateTopic("ev", 2);
  TestProducer producer(kafka.bootstrap());
  std::string big(300 << 10, 'x');  // larger than the first arena block
  producer.Send("ev", 0, "big", big);
  producer.SendRange("ev", 0, 1, 20);
  producer.SendRange("ev", 1, 0, 20);
  producer.Flush();

  auto c = MustCreate(FastOptions(kafka.bootstrap(), {"ev"}, "g-batch"));
  ASSERT_NE(c, nullptr);
  // Join with one-message polls, give librdkafka a second to prefetch both partitions, then
  // take everything in one batch.
  MessageBatch batch;
  size_t total = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool saw_big = false;
  auto check_big = [&](const MessageBatch& b) {
    for (const auto& m : b.messages()) {
      if (m.partition == 0 && m.offset == 0) {
        EXPECT_EQ(m.value, big);
        saw_big = true;
      }
    }
  };
  while (c->Assignment().size() < 2 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(c->Poll(100, 1, &batch).ok());
    total += batch.size();
    check_big(batch);
  }
  ASSERT_EQ(c->Assignment().size(), 2u);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ASSERT_TRUE(c->Poll(1000, 1000, &batch).ok());
  total += batch.size();
  EXPECT_EQ(total, 40u);
  ASSERT_EQ(batch.partitions().size(), 2u);
  MessageBatch kept = std::move(batch);
  check_big(kept);  // moving kept the views valid
  EXPECT_TRUE(saw_big);
  size_t bytes = 0;
  for (const auto& m : kept.messages()) bytes += m.key.size() + m.value.size();
  EXPECT_EQ(kept.payload_bytes(), bytes);
  KafkaConsumerTestPeer::DropPartitions(kept, {{"ev", 0}});
  ASSERT_FALSE(kept.messages().empty());
  bytes = 0;
  for (const auto& m : kept.messages()) {
    EXPECT_EQ(m.partition, 1);
    bytes += m.key.size() + m.value.size();
  }
  EXPECT_EQ(kept.payload_bytes(), bytes);
}

// The hand-over between two members: every message is delivered exactly once when each member,
// on revoke, records the next offset of what it received, and each assignment starts there.
class RebalanceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RebalanceTest, SecondMemberTakesOverWithoutLossOrDuplicates) {
  const std::string strategy = GetParam();
  const bool cooperative = strategy == "cooperative-sticky";
  constexpr int kPartitions = 4;
  MockKafka kafka;
  kafka.CreateTopic("ev", kPartitions);
  TestProducer producer(kafka.bootstrap());
  std::vector<int> produced(kPartitions, 0);
  auto produce = [&](int n) {
    for (int p = 0; p < kPartitions; ++p) {
      producer.SendRange("ev", p, produced[p], produced[p] + n);
      produced[p] += n;
    }
  };
  produce(50);
  producer.Flush();

  std::map<TopicPartition, int64_t> store;  // "committed" next offsets
  std::vector<std::string> events;          // "A revoke ev/0", "B assign ev/1", ...
  std::map<TopicPartition, std::vector<int64_t>> delivered;
  struct Member {
    std::string name;
    std::unique_ptr<KafkaConsumer> consumer;
    std::map<TopicPartition, int64_t> held;        // next offset of what it received
    std::map<TopicPartition, int64_t> started_at;  // what on_assign returned
    size_t received = 0;
    bool lost = false;
  };
  Member a, b;
  a.name = "A";
  b.name = "B";
  auto callbacks = [&](Member& m) {
    KafkaConsumerCallbacks cb;
    cb.on_assign =
        [&](const std::vector<TopicPartition>& tps) -> Result<std::map<TopicPartition, int64_t>> {
      std::map<TopicPartition, int64_t> out;
      for (const auto& tp : tps) {
        events.push_back(m.name + " assign " + tp.ToString());
        if (store.count(tp)) out[tp] = m.started_at[tp] = store[tp];
      }
      return out;
    };
    cb.on_revoke = [&](const std::vector<TopicPartition>& tps, bool lost) -> Status {
      if (lost) m.lost = true;
      for (const auto& tp : tps) {
        events.push_back(m.name + " revoke " + tp.ToString());
        auto it = m.held.find(tp);
        if (it != m.held.end()) {
          store[tp] = it->second;
          m.held.erase(it);
        }
      }
      return Status::OK();
    };
    return cb;
  };
  auto options = [&](const std::string& name) {
    KafkaConsumerOptions o = FastOptions(kafka.bootstrap(), {"ev"}, "g-rebalance");
    o.client_id = name;
    o.settings["partition.assignment.strategy"] = strategy;
    // Small fetches, so that the partitions' messages arrive interleaved.
    o.settings["fetch.message.max.bytes"] = "1024";
    return o;
  };
  MessageBatch batch;
  auto poll = [&](Member& m, size_t max) {
    Status st = m.consumer->Poll(10, max, &batch);
    ASSERT_TRUE(st.ok()) << m.name << ": " << st.ToString();
    for (const auto& msg : batch.messages()) {
      TopicPartition tp = batch.partitions()[msg.partition_index];
      delivered[tp].push_back(msg.offset);
      m.held[tp] = msg.offset + 1;
      m.received++;
    }
  };

  a.consumer = MustCreate(options("A"), callbacks(a));
  ASSERT_NE(a.consumer, nullptr);
  auto each_read = [&](size_t n) {
    for (int p = 0; p < kPartitions; ++p) {
      if (delivered[{"ev", p}].size() < n) return false;
    }
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!each_read(10) && std::chrono::steady_clock::now() < deadline) poll(a, 20);
  ASSERT_TRUE(each_read(10));
  ASSERT_EQ(a.consumer->Assignment().size(), static_cast<size_t>(kPartitions));

  // B joins while messages keep arriving and A keeps reading, so every partition is handed
  // over mid-stream, whatever the speed of this machine.
  b.consumer = MustCreate(options("B"), callbacks(b));
  ASSERT_NE(b.consumer, nullptr);
  auto split = [&] {
    size_t at_a = a.consumer->Assignment().size(), at_b = b.consumer->Assignment().size();
    return at_a > 0 && at_b > 0 && at_a + at_b == kPartitions && b.received >= 20;
  };
  // A liveness bound, not a speed target: a cooperative handover is two rebalances, each with
  // the mock's join delay, and took over 12 s once on a loaded 2-core machine (CI run of
  // 2026-12-03).
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (!split() && std::chrono::steady_clock::now() < deadline) {
    produce(1);
    poll(a, 5);
    poll(b, 5);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  ASSERT_TRUE(split());
  producer.Flush();
  auto all_read = [&] {
    for (int p = 0; p < kPartitions; ++p) {
      if (delivered[{"ev", p}].size() < static_cast<size_t>(produced[p])) return false;
    }
    return true;
  };
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!all_read() && std::chrono::steady_clock::now() < deadline) {
    poll(a, 100);
    poll(b, 100);
  }
  ASSERT_TRUE(all_read());
  for (int p = 0; p < kPartitions; ++p) {
    auto offsets = delivered[{"ev", p}];
    std::sort(offsets.begin(), offsets.end());
    EXPECT_EQ(offsets, Range(0, produced[p])) << "partition " << p;
  }
  EXPECT_FALSE(a.lost);
  EXPECT_FALSE(b.lost);
  EXPECT_GT(b.received, 0u);
  std::vector<TopicPartition> at_a = a.consumer->Assignment(), at_b = b.consumer->Assignment();
  EXPECT_FALSE(at_a.empty());
  EXPECT_FALSE(at_b.empty());
  std::set<TopicPartition> all(at_a.begin(), at_a.end());
  all.insert(at_b.begin(), at_b.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kPartitions));
  EXPECT_EQ(at_a.size() + at_b.size(), static_cast<size_t>(kPartitions));
  // Each partition B got was revoked from A before B was given it, and B started where A
  // stopped (A had read part of every partition).
  for (const auto& tp : at_b) {
    EXPECT_GT(b.started_at[tp], 0) << tp;
    auto revoked = std::find(events.begin(), events.end(), "A revoke " + tp.ToString());
    auto assigned = std::find(events.begin(), events.end(), "B assign " + tp.ToString());
    ASSERT_NE(revoked, events.end()) << tp;
    ASSERT_NE(assigned, events.end()) << tp;
    EXPECT_LT(revoked - events.begin(), assigned - events.begin()) << tp;
  }
  if (cooperative) {
    EXPECT_EQ(a.consumer->RebalanceProtocol(), "COOPERATIVE");
    // Partitions A kept were never revoked.
    for (const auto& tp : at_a) {
      EXPECT_EQ(std::count(events.begin(), events.end(), "A revoke " + tp.ToString()), 0) << tp;
    }
  } else {
    EXPECT_EQ(a.consumer->RebalanceProtocol(), "EAGER");
  }
  EXPECT_TRUE(b.consumer->Close().ok());
  EXPECT_TRUE(a.consumer->Close().ok());
}

INSTANTIATE_TEST_SUITE_P(Strategies, RebalanceTest,
                         ::testing::Values("roundrobin", "cooperative-sticky"),
                         [](const auto& info) {
                           return info.param == "roundrobin" ? std::string("Eager")
                                                             : std::string("Cooperative");
                         });

// The 2.0.2 mock cannot add partitions to a topic, so this covers the same path (a metadata
// refresh, at weir's default interval, changes what the subscription covers and the member
// rejoins) with a topic created while a regex subscription runs.
TEST(KafkaConsumerTest, PicksUpATopicCreatedWhileRunning) {
  MockKafka kafka;
  kafka.CreateTopic("ev-a", 1);
  std::vector<TopicPartition> assigned;
  KafkaConsumerCallbacks cb;
  cb.on_assign =
      [&](const std::vector<TopicPartition>& tps) -> Result<std::map<TopicPartition, int64_t>> {
    assigned = tps;
    return std::map<TopicPartition, int64_t>{};
  };
  auto c = MustCreate(FastOptions(kafka.bootstrap(), {"^ev-.*"}, "g-new"), cb);
  ASSERT_NE(c, nullptr);
  Consumed got;
  ASSERT_TRUE(PollUntil(*c, got, [&] { return !assigned.empty(); }));
  EXPECT_EQ(assigned, (std::vector<TopicPartition>{{"ev-a", 0}}));
  kafka.CreateTopic("ev-b", 2);
  TestProducer producer(kafka.bootstrap());
  producer.SendRange("ev-b", 1, 0, 3);
  producer.Flush();
  ASSERT_TRUE(PollUntil(
      *c, got, [&] { return got.records.size() == 3; }, 11000));
  EXPECT_EQ(c->Assignment(), (std::vector<TopicPartition>{{"ev-a", 0}, {"ev-b", 0}, {"ev-b", 1}}));
  EXPECT_EQ(got.OffsetsByPartition()[TopicPartition({"ev-b", 1})], Range(0, 3));
}

TEST(KafkaConsumerTest, BrokerDownThenUpLosesNothing) {
  MockKafka kafka;
  kafka.CreateTopic("ev", 2);
  TestProducer producer(kafka.bootstrap());
  producer.SendRange("ev", 0, 0, 50);
  producer.SendRange("ev", 1, 0, 50);
  producer.Flush();

  auto sink = std::make_shared<CaptureSink>();
  KafkaConsumerOptions o = FastOptions(kafka.bootstrap(), {"ev"}, "g-down");
  o.settings["session.timeout.ms"] = "6000";  // outlives the 2.5 s outage
  o.logger = CaptureLogger(sink);
  bool lost = false;
  int revokes = 0;
  KafkaConsumerCallbacks cb;
  cb.on_revoke = [&](const std::vector<TopicPartition>&, bool l) {
    revokes++;
    lost = lost || l;
    return Status::OK();
  };
  auto c = MustCreate(o, cb);
  ASSERT_NE(c, nullptr);
  Consumed got;
  ASSERT_TRUE(PollUntil(*c, got, [&] { return got.records.size() == 100; }));

  kafka.SetDown(1);
  producer.SendRange("ev", 0, 50, 100);  // queued in the producer until the broker is back
  producer.SendRange("ev", 1, 50, 100);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
  MessageBatch batch;
  while (std::chrono::steady_clock::now() < until) {
    Status st = c->Poll(100, 1000, &batch);
    ASSERT_TRUE(st.ok()) << st.ToString();  // an outage is not an error of the run
    got.Add(batch);
  }
  EXPECT_EQ(got.records.size(), 100u);
  kafka.SetUp(1);
  producer.Flush();
  ASSERT_TRUE(PollUntil(*c, got, [&] { return got.records.size() >= 200; }));
  auto offsets = got.OffsetsByPartition();
  EXPECT_EQ(offsets[TopicPartition({"ev", 0})], Range(0, 100));
  EXPECT_EQ(offsets[TopicPartition({"ev", 1})], Range(0, 100));
  EXPECT_EQ(revokes, 0);
  EXPECT_FALSE(lost);
  EXPECT_TRUE(sink->Contains("transient")) << "the outage was not logged";
  EXPECT_TRUE(c->Close().ok());
}

TEST(KafkaConsumerTest, AssignmentTakenAwayIsRevokedAsLost) {
  MockKafka kafka;
  kafka.CreateTopic("ev", 1);
  TestProducer producer(kafka.bootstrap());
  producer.SendRange("ev", 0, 0, 10);
  producer.Flush();
  KafkaConsumerOptions o = FastOptions(kafka.bootstrap(), {"ev"}, "g-lost");
  o.settings["max.poll.interval.ms"] = "4000";  // >= session.timeout.ms, as librdkafka requires
  std::vector<bool> revoked_lost;
  int assigns = 0;
  KafkaConsumerCallbacks cb;
  cb.on_assign =
      [&](const std::vector<TopicPartition>&) -> Result<std::map<TopicPartition, int64_t>> {
    assigns++;
    return std::map<TopicPartition, int64_t>{};
  };
  cb.on_revoke = [&](const std::vector<TopicPartition>& tps, bool lost) {
    EXPECT_EQ(tps, (std::vector<TopicPartition>{{"ev", 0}}));
    revoked_lost.push_back(lost);
    return Status::OK();
  };
  auto c = MustCreate(o, cb);
  ASSERT_NE(c, nullptr);
  Consumed got;
  ASSERT_TRUE(PollUntil(*c, got, [&] { return got.records.size() == 10; }));
  // The application stops polling for longer than max.poll.interval.ms: librdkafka leaves the
  // group, and the next Poll() revokes the assignment as lost.
  std::this_thread::sleep_for(std::chrono::milliseconds(5000));
  ASSERT_TRUE(PollUntil(
      *c, got, [&] { return !revoked_lost.empty(); }, 4000));
  EXPECT_EQ(revoked_lost, std::vector<bool>{true});
  // It rejoins and gets the partition again.
  ASSERT_TRUE(PollUntil(
      *c, got, [&] { return assigns == 2; }, 8000));
}

TEST(KafkaConsumerTest, MissingTopicIsAnErrorNamingIt) {
  MockKafka kafka;
  kafka.CreateTopic("ev", 1);
  // The 2.0.2 mock creates any topic a consumer asks about (it ignores the consumer's
  // allow.auto.create.topics=false), so the broker's answer for a missing topic is set here.
  kafka.SetTopicError("no-such-topic", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  auto c = MustCreate(FastOptions(kafka.bootstrap(), {"ev", "no-such-topic"}, "g-missing"));
  ASSERT_NE(c, nullptr);
  Status st = PollUntilError(*c);
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  EXPECT_NE(st.message().find("no-such-topic"), std::string::npos) << st.ToString();
}

TEST(KafkaConsumerTest, AuthorizationFailureEndsTheRun) {
  MockKafka kafka;
  kafka.CreateTopic("ev", 1);
  kafka.SetTopicError("secret", RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  auto c = MustCreate(FastOptions(kafka.bootstrap(), {"secret"}, "g-auth"));
  ASSERT_NE(c, nullptr);
  Status st = PollUntilError(*c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("secret"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("TOPIC_AUTHORIZATION_FAILED"), std::string::npos) << st.ToString();
}

TEST(KafkaConsumerTest, FatalErrorEndsTheRun) {
  MockKafka kafka;
  kafka.CreateTopic("ev", 1);
  auto c = MustCreate(FastOptions(kafka.bootstrap(), {"ev"}, "g-fatal"));
  ASSERT_NE(c, nullptr);
  MessageBatch batch;
  ASSERT_TRUE(c->Poll(100, 10, &batch).ok());
  ASSERT_EQ(rd_kafka_test_fatal_error(KafkaConsumerTestPeer::Handle(*c),
                                      RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID, "fenced by a test"),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  Status st = c->Poll(100, 10, &batch);
  EXPECT_EQ(st.code(), StatusCode::kIOError) << st.ToString();
  EXPECT_FALSE(st.retryable());
  EXPECT_NE(st.message().find("fenced by a test"), std::string::npos) << st.ToString();
  EXPECT_EQ(c->Poll(100, 10, &batch).message(), st.message());
}

TEST(KafkaConsumerTest, CommittedOffsetsReachTheGroup) {
  MockKafka kafka;
  kafka.CreateTopic("ev", 2);
  TestProducer producer(kafka.bootstrap());
  producer.SendRange("ev", 0, 0, 10);
  producer.Flush();
  auto c = MustCreate(FastOptions(kafka.bootstrap(), {"ev"}, "g-commit"));
  ASSERT_NE(c, nullptr);
  Consumed got;
  ASSERT_TRUE(PollUntil(*c, got, [&] { return got.records.size() == 10; }));
  EXPECT_EQ(c->CommitOffsets({{{"ev", 0}, -1}}).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(c->CommitOffsets({{{"ev", 0}, 7}, {{"ev", 1}, 0}}).ok());

  // Read them back the way a lag tool does: OffsetFetch for the group.
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", kafka.bootstrap().c_str(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "group.id", "g-commit", errstr, sizeof(errstr));
  rd_kafka_t* reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  ASSERT_NE(reader, nullptr) << errstr;
  int64_t committed = -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  while (committed != 7 && std::chrono::steady_clock::now() < deadline) {
    MessageBatch batch;
    ASSERT_TRUE(c->Poll(100, 10, &batch).ok());  // serves the commit result
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, "ev", 0);
    if (rd_kafka_committed(reader, list, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      committed = list->elems[0].offset;
    }
    rd_kafka_topic_partition_list_destroy(list);
  }
  rd_kafka_destroy(reader);
  EXPECT_EQ(committed, 7);
}

TEST(KafkaConsumerTest, CloseRevokesFirstAndEndsPolling) {
  MockKafka kafka;
  kafka.CreateTopic("ev", 2);
  std::vector<TopicPartition> revoked;
  bool revoked_lost = true;
  KafkaConsumerCallbacks cb;
  cb.on_revoke = [&](const std::vector<TopicPartition>& tps, bool lost) {
    revoked = tps;
    revoked_lost = lost;
    return Status::OK();
  };
  auto c = MustCreate(FastOptions(kafka.bootstrap(), {"ev"}, "g-close"), cb);
  ASSERT_NE(c, nullptr);
  Consumed got;
  ASSERT_TRUE(PollUntil(*c, got, [&] { return c->Assignment().size() == 2; }));
  ASSERT_TRUE(c->Close().ok());
  EXPECT_EQ(revoked, (std::vector<TopicPartition>{{"ev", 0}, {"ev", 1}}));
  EXPECT_FALSE(revoked_lost);
  EXPECT_TRUE(c->Assignment().empty());
  MessageBatch batch;
  EXPECT_EQ(c->Poll(0, 10, &batch).code(), StatusCode::kAborted);
  EXPECT_TRUE(c->Close().ok());
}

}  // namespace
}  // namespace weir::source
