// The rules engine against the timelines of docs/rules.md: lateness, event-time order, patterns
// (within, absent, boundaries), segments (window enter/leave at one instant), and a checkpoint
// restored mid-stream giving the uninterrupted run's records.
#include "rules/engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "core/text.h"

namespace weir::rules {
namespace {

std::vector<ColumnSchema> Schema() {
  return {{"id", ColumnType::kString},
          {"event_type", ColumnType::kString},
          {"created_at", ColumnType::kTimestampMs},
          {"user_id", ColumnType::kString},
          {"meeting_id", ColumnType::kString}};
}

// Minutes from 2025-11-01T00:00Z.
int64_t Min(int64_t m) { return DaysFromCivil(2025, 11, 1) * 86400000LL + m * 60000; }
int64_t Sec(int64_t s) { return DaysFromCivil(2025, 11, 1) * 86400000LL + s * 1000; }

struct Row {
  std::string type;
  int64_t t;
  std::string user;     // empty: NULL
  std::string meeting;  // empty: NULL
};

ColumnBatch Batch(const std::vector<Row>& rows) {
  ColumnBatch b(Schema());
  int n = 0;
  for (const auto& r : rows) {
    b.columns[0].AppendString("e" + std::to_string(++n));
    b.columns[1].AppendString(r.type);
    b.columns[2].AppendInt64(r.t);
    if (r.user.empty()) b.columns[3].AppendNull(); else b.columns[3].AppendString(r.user);
    if (r.meeting.empty()) b.columns[4].AppendNull(); else b.columns[4].AppendString(r.meeting);
  }
  return b;
}

// The rules of issue 11's example.
RulesConfig IssueRules() {
  RulesConfig c;
  c.event_time = "created_at";
  c.out_of_orderness_ms = 5000;
  PatternConfig acc;
  acc.name = "meeting_accepted";
  acc.key = "meeting_id";
  acc.sequence = {{"proposed", "event_type = 'meeting_proposal'", 0, 0},
                  {"accepted", "event_type = 'meeting_accepted'", 48 * 3600000LL, 0}};
  acc.emit = {{"proposed_at", "proposed", "created_at", 0},
              {"accepted_at", "accepted", "created_at", 0}};
  PatternConfig rem;
  rem.name = "meeting_reminder";
  rem.key = "meeting_id";
  rem.sequence = {{"proposed", "event_type = 'meeting_proposal'", 0, 0}};
  rem.absent = AbsentConfig{"event_type = 'meeting_accepted'", 3600000, 0};
  rem.emit = {{"proposed_at", "proposed", "created_at", 0}};
  SegmentConfig seg;
  seg.name = "seller_level";
  seg.key = "user_id";
  seg.window_ms = 7 * 86400000LL;
  seg.aggregates = {{"listings", "count(*) where event_type = 'listing_created'", 0}};
  seg.buckets = {{"power_seller", "listings >= 3", 0}, {"seller", "listings >= 1", 0}, {"none", "", 0}};
  c.patterns = {acc, rem};
  c.segments = {seg};
  return c;
}

std::vector<std::string> Lines(const std::vector<Derived>& out) {
  std::vector<std::string> v;
  for (const auto& d : out) {
    v.push_back(d.rule + " " + d.key + " " + FormatTimestampMs(d.event_time_ms) + " " + d.data);
  }
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> RunRules(const std::vector<Row>& rows, uint64_t* late = nullptr) {
  auto en = Engine::Create(IssueRules(), Schema());
  EXPECT_TRUE(en.ok()) << en.status().ToString();
  (*en)->Push(Batch(rows));
  (*en)->AdvanceWatermark(Engine::kEndOfTime);
  if (late) *late = (*en)->late();
  return Lines((*en)->TakeOutput());
}

TEST(RulesEngineTest, SegmentCrossesUpAndDownAndEnterLeaveAtOneInstantIsOneEvaluation) {
  const int64_t day = 24 * 60;
  auto got = RunRules({{"listing_created", Min(1 * day + 600), "u1", ""},
                  {"listing_created", Min(2 * day + 600), "u1", ""},
                  {"listing_created", Min(3 * day + 600), "u1", ""},
                  {"page_view", Min(8 * day + 600), "u1", ""},
                  {"listing_created", Min(9 * day + 600), "u1", ""}});
  // Nov 2 10:00 (+1 day from Nov 1 00:00 is Nov 2): the docs' Nov 1 timeline shifted one day.
  std::vector<std::string> want = {
      "seller_level u1 2025-11-02T10:00:00.000Z {\"from\":\"none\",\"to\":\"seller\"}",
      "seller_level u1 2025-11-04T10:00:00.000Z {\"from\":\"seller\",\"to\":\"power_seller\"}",
      "seller_level u1 2025-11-09T10:00:00.000Z {\"from\":\"power_seller\",\"to\":\"seller\"}",
      // Nov 10: one enters and one leaves (still 2); Nov 11: 1; the Nov 10 listing leaves Nov 17.
      "seller_level u1 2025-11-17T10:00:00.000Z {\"from\":\"seller\",\"to\":\"none\"}",
  };
  EXPECT_EQ(got, want);
}

TEST(RulesEngineTest, ReminderFiresAtDeadlineUnlessAnAcceptanceComesAtOrBeforeIt) {
  auto got = RunRules({{"meeting_proposal", Min(600), "u1", "m1"},
                  {"meeting_proposal", Min(600), "u2", "m2"},
                  {"meeting_proposal", Min(640), "u1", "m1"},
                  {"meeting_accepted", Min(660), "u1", "m1"},  // exactly m1's first deadline
                  {"meeting_proposal", Min(700), "u3", "m3"},
                  {"meeting_accepted", Min(761), "u3", "m3"}});  // 1 min after m3's deadline
  std::vector<std::string> want = {
      "meeting_accepted m1 2025-11-01T11:00:00.000Z "
      "{\"proposed_at\":\"2025-11-01T10:00:00.000Z\",\"accepted_at\":\"2025-11-01T11:00:00.000Z\"}",
      "meeting_accepted m1 2025-11-01T11:00:00.000Z "
      "{\"proposed_at\":\"2025-11-01T10:40:00.000Z\",\"accepted_at\":\"2025-11-01T11:00:00.000Z\"}",
      "meeting_accepted m3 2025-11-01T12:41:00.000Z "
      "{\"proposed_at\":\"2025-11-01T11:40:00.000Z\",\"accepted_at\":\"2025-11-01T12:41:00.000Z\"}",
      "meeting_reminder m2 2025-11-01T11:00:00.000Z {\"proposed_at\":\"2025-11-01T10:00:00.000Z\"}",
      "meeting_reminder m3 2025-11-01T12:40:00.000Z {\"proposed_at\":\"2025-11-01T11:40:00.000Z\"}",
  };
  EXPECT_EQ(got, want);
}

TEST(RulesEngineTest, AcceptanceAtExactlyWithinMatchesAndOneMillisecondLaterDoesNot) {
  const int64_t h48 = 48 * 60;
  auto got = RunRules({{"meeting_proposal", Min(0), "u", "a"},
                  {"meeting_proposal", Min(1), "u", "b"},
                  {"meeting_accepted", Min(h48), "u", "a"},
                  {"meeting_accepted", Min(1 + h48) + 1, "u", "b"}});
  int accepted = 0;
  for (const auto& l : got) accepted += l.rfind("meeting_accepted", 0) == 0;
  EXPECT_EQ(accepted, 1);
  EXPECT_NE(got[0].find("meeting_accepted a "), std::string::npos) << got[0];
}

TEST(RulesEngineTest, LateRecordsAreCountedAndOutOfOrderOnesAreReordered) {
  // The lateness timeline of docs/rules.md: a 10:00:00, b 10:00:07, c 10:00:03, d 10:00:01.
  // c is on time and matched in event-time order (before b); d is late.
  uint64_t late = 0;
  auto got = RunRules({{"meeting_proposal", Sec(36000), "u", "m"},
                  {"meeting_proposal", Sec(36007), "u", "n"},
                  {"meeting_accepted", Sec(36003), "u", "m"},
                  {"meeting_accepted", Sec(36001), "u", "n"}},
                 &late);
  EXPECT_EQ(late, 1u);
  std::vector<std::string> want = {
      "meeting_accepted m 2025-11-01T10:00:03.000Z "
      "{\"proposed_at\":\"2025-11-01T10:00:00.000Z\",\"accepted_at\":\"2025-11-01T10:00:03.000Z\"}",
      "meeting_reminder n 2025-11-01T11:00:07.000Z {\"proposed_at\":\"2025-11-01T10:00:07.000Z\"}",
  };
  EXPECT_EQ(got, want);
}

TEST(RulesEngineTest, AnAcceptanceBeforeTheProposalInEventTimeDoesNotMatchIt) {
  // Arrives after the proposal but is earlier in event time (within out_of_orderness).
  auto got = RunRules({{"meeting_proposal", Sec(100), "u", "m"},
                  {"meeting_accepted", Sec(98), "u", "m"}});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rfind("meeting_reminder m", 0), 0u) << got[0];
}

TEST(RulesEngineTest, NothingIsEmittedBeforeTheWatermarkPassesIt) {
  auto en = Engine::Create(IssueRules(), Schema());
  ASSERT_TRUE(en.ok());
  (*en)->Push(Batch({{"meeting_proposal", Sec(0), "u", "m"},
                     {"meeting_accepted", Sec(10), "u", "m"}}));
  EXPECT_TRUE((*en)->TakeOutput().empty());  // watermark 5 s: the acceptance is not final
  (*en)->Push(Batch({{"page_view", Sec(16), "u", ""}}));
  auto out = (*en)->TakeOutput();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "meeting_accepted");
  // The reminder's deadline (1 h) has not passed; the clock advancing (idle input) fires it
  // only once the watermark passes the deadline, and the acceptance cancelled it anyway.
  (*en)->AdvanceWatermark(Sec(7200));
  EXPECT_TRUE((*en)->TakeOutput().empty());
}

// `n` records of every kind over `meetings` meetings and `users` users, `step` minutes apart
// and up to 3 s out of order; with `late_every`, every such record is an hour behind (late).
std::vector<Row> MixedRows(int n, int meetings, int users, int step, int late_every = 0) {
  std::vector<Row> rows;
  for (int i = 0; i < n; ++i) {
    const std::string m = "m" + std::to_string(i % meetings);
    const std::string u = "u" + std::to_string(i % users);
    const char* type = i % 3 == 0   ? "meeting_proposal"
                       : i % 3 == 1 ? "listing_created"
                       : (i % 7 == 0 ? "meeting_accepted" : "page_view");
    int64_t t = Min(static_cast<int64_t>(i) * step) - (i % 4) * 1000;
    if (late_every > 0 && i % late_every == late_every - 1) t -= 3600000;
    rows.push_back({type, t, u, type[0] == 'm' ? m : ""});
  }
  return rows;
}

TEST(RulesEngineTest, AStateCheckpointRestoredMidStreamGivesTheUninterruptedRunsRecords) {
  const std::vector<Row> rows = MixedRows(400, 37, 11, 37);
  const auto whole = RunRules(rows);
  ASSERT_GT(whole.size(), 20u);

  auto first = Engine::Create(IssueRules(), Schema());
  ASSERT_TRUE(first.ok());
  std::map<std::string, std::string> store;
  std::vector<Derived> out;
  auto checkpoint = [&](Engine& en) {
    std::vector<Engine::Change> ch;
    en.TakeChanges(ch);
    for (auto& [k, v] : ch) {
      if (v) store[k] = *v; else store.erase(k);
    }
  };
  (*first)->Push(Batch({rows.begin(), rows.begin() + 150}));
  checkpoint(**first);
  (*first)->Push(Batch({rows.begin() + 150, rows.begin() + 230}));
  checkpoint(**first);
  for (auto& d : (*first)->TakeOutput()) out.push_back(d);

  auto second = Engine::Create(IssueRules(), Schema());
  ASSERT_TRUE(second.ok());
  for (const auto& [k, v] : store) ASSERT_TRUE((*second)->Load(k, v).ok()) << k;
  ASSERT_TRUE((*second)->FinishLoad().ok());
  (*second)->Push(Batch({rows.begin() + 230, rows.end()}));
  (*second)->AdvanceWatermark(Engine::kEndOfTime);
  for (auto& d : (*second)->TakeOutput()) out.push_back(d);
  EXPECT_EQ(Lines(out), whole);
  EXPECT_EQ((*second)->late(), 0u);
}

// TakeChanges lists a segment key once per node it had since the last checkpoint: one erased
// (its window emptied back to the default bucket) and made again is listed twice. Its entry
// must then be written once, with the new node's window; the old node's window entry, in the
// last checkpoint, is deleted before the new one (of the same number) is written; and the state
// restores to the same engine.
TEST(RulesEngineTest, ASegmentKeyErasedAndMadeAgainBetweenCheckpointsIsWrittenOnce) {
  const int64_t day = 24 * 60;
  const std::vector<Row> rows = {{"listing_created", Min(1 * day), "u1", ""},
                                 {"page_view", Min(2 * day), "u2", ""},
                                 {"page_view", Min(9 * day), "u2", ""},
                                 {"listing_created", Min(10 * day), "u1", ""},
                                 {"page_view", Min(11 * day), "u2", ""},
                                 {"listing_created", Min(12 * day), "u1", ""}};
  const auto whole = RunRules(rows);
  auto en = Engine::Create(IssueRules(), Schema());
  ASSERT_TRUE(en.ok());
  std::map<std::string, std::string> store;
  std::vector<Engine::Change> ch;
  auto apply = [&] {
    for (const auto& [k, v] : ch) {
      if (v) store[k] = *v; else store.erase(k);
    }
  };
  (*en)->Push(Batch({rows[0], rows[1]}));  // u1's day-1 listing is in its window
  (*en)->TakeChanges(ch);
  apply();
  ch.clear();
  (*en)->Push(Batch({rows[2]}));
  // u1's listing left its window on day 8 and u1 went back to `none`: its state is gone (u2's
  // day-9 page view waits in the reorder buffer, 5 s behind).
  EXPECT_EQ((*en)->keys(), 1u);
  (*en)->Push(Batch({rows[3], rows[4]}));
  EXPECT_EQ((*en)->keys(), 2u);  // u1 again, with its day-10 listing
  (*en)->TakeChanges(ch);
  int heads = 0;
  std::vector<bool> window;  // u1's window entry changes, in order: put or delete
  for (const auto& [k, v] : ch) {
    if (k.size() > 3 && k.compare(k.size() - 3, 3, "/u1") == 0) {
      ++heads;
      EXPECT_TRUE(v.has_value()) << "u1 holds state again: its entry is a put";
    }
    if (k[0] == 'w' && k.find("u1") != std::string::npos) window.push_back(v.has_value());
  }
  EXPECT_EQ(heads, 1);
  EXPECT_EQ(window, (std::vector<bool>{false, true}));
  apply();
  auto restored = Engine::Create(IssueRules(), Schema());
  ASSERT_TRUE(restored.ok());
  for (const auto& [k, v] : store) ASSERT_TRUE((*restored)->Load(k, v).ok()) << k;
  ASSERT_TRUE((*restored)->FinishLoad().ok());
  EXPECT_EQ((*restored)->keys(), 2u);
  std::vector<Derived> out = (*en)->TakeOutput();
  (*restored)->Push(Batch({rows[5]}));
  (*restored)->AdvanceWatermark(Engine::kEndOfTime);
  for (auto& d : (*restored)->TakeOutput()) out.push_back(d);
  EXPECT_EQ(Lines(out), whole);
}

// A checkpoint writes the window entries that came since the last one, as one chunk per key,
// and deletes a chunk once all its entries have left the window: its size follows what changed,
// not the windows' size. Checkpoints that held each key's whole window in its entry (before
// session 33) still load.
TEST(RulesEngineTest, WindowEntriesAreCheckpointedOnceAndWholeWindowCheckpointsStillLoad) {
  const int64_t day = 24 * 60;
  std::vector<Row> rows;
  for (int d = 1; d <= 14; ++d) {
    rows.push_back({"listing_created", Min(d * day), "u1", ""});
    rows.push_back({"page_view", Min(d * day + 1), "u2", ""});
  }
  const auto whole = RunRules(rows);
  auto en = Engine::Create(IssueRules(), Schema());
  ASSERT_TRUE(en.ok());
  std::map<std::string, std::string> store;
  // Puts and deletes of u1's chunks in one checkpoint.
  auto checkpoint = [&](int* puts, int* deletes) {
    std::vector<Engine::Change> ch;
    (*en)->TakeChanges(ch);
    *puts = *deletes = 0;
    for (auto& [k, v] : ch) {
      if (k[0] == 'w' && k.find("u1") != std::string::npos) ++(v ? *puts : *deletes);
      if (v) store[k] = *v; else store.erase(k);
    }
  };
  int puts = 0, deletes = 0;
  // The watermark is 5 s behind the last record, u2's page view a minute after u1's listing.
  (*en)->Push(Batch({rows.begin(), rows.begin() + 8}));  // days 1-4: u1's chunk [0, 4)
  checkpoint(&puts, &deletes);
  EXPECT_EQ(puts, 1);
  EXPECT_EQ(deletes, 0);
  (*en)->Push(Batch({rows.begin() + 8, rows.begin() + 10}));  // day 5: [4, 5)
  checkpoint(&puts, &deletes);
  EXPECT_EQ(puts, 1);
  EXPECT_EQ(deletes, 0);
  (*en)->Push(Batch({rows.begin() + 10, rows.begin() + 16}));  // days 6-8: day 1 leaves
  checkpoint(&puts, &deletes);
  EXPECT_EQ(puts, 1);
  EXPECT_EQ(deletes, 0) << "days 2-4 of the first chunk are still in the window";
  // A restore from here loads the first chunk without its first entry.
  const auto store_day8 = store;
  const std::vector<Derived> out_day8 = (*en)->TakeOutput();
  (*en)->Push(Batch({rows.begin() + 16, rows.begin() + 22}));  // days 9-11: days 2-4 leave
  checkpoint(&puts, &deletes);
  EXPECT_EQ(puts, 1);
  EXPECT_EQ(deletes, 1);
  std::vector<Derived> out = out_day8;
  for (auto& d : (*en)->TakeOutput()) out.push_back(d);
  auto finish = [&](const std::map<std::string, std::string>& state, size_t from,
                    std::vector<Derived> all) {
    auto r = Engine::Create(IssueRules(), Schema());
    EXPECT_TRUE(r.ok());
    for (const auto& [k, v] : state) EXPECT_TRUE((*r)->Load(k, v).ok()) << k;
    EXPECT_TRUE((*r)->FinishLoad().ok());
    (*r)->Push(Batch({rows.begin() + static_cast<std::ptrdiff_t>(from), rows.end()}));
    (*r)->AdvanceWatermark(Engine::kEndOfTime);
    for (auto& d : (*r)->TakeOutput()) all.push_back(d);
    return Lines(all);
  };
  EXPECT_EQ(finish(store, 22, out), whole);
  EXPECT_EQ(finish(store_day8, 16, out_day8), whole);
  // The same state as the old format had it: each key's entry is bucket, timer, the number of
  // window entries and the entries themselves (the bytes of its chunks, here none of them with
  // entries that have left the window).
  auto u64 = [](const std::string& v, size_t at) {
    uint64_t n = 0;
    std::memcpy(&n, v.data() + at, 8);  // little-endian, as the engine writes it
    return n;
  };
  std::map<std::string, std::string> old;
  for (const auto& [k, v] : store) {
    if (k[0] == 'r' && k.find("/u") != std::string::npos) {
      old[k] = v.substr(0, 24);  // without the window's first number
    } else if (k[0] != 'w') {
      old[k] = v;
    }
  }
  for (const auto& [k, v] : store) {
    if (k[0] != 'w') continue;
    const uint32_t len = (static_cast<uint8_t>(k[10]) << 24) | (static_cast<uint8_t>(k[11]) << 16) |
                         (static_cast<uint8_t>(k[12]) << 8) | static_cast<uint8_t>(k[13]);
    const std::string head = "r" + k.substr(1, 9) + k.substr(14, len);
    ASSERT_EQ(old.count(head), 1u) << head;
    uint64_t from = 0;
    for (size_t i = 14 + len; i < k.size(); ++i) from = (from << 8) | static_cast<uint8_t>(k[i]);
    ASSERT_GE(from, u64(store.at(head), 24)) << "a chunk with entries out of the window";
    std::string& h = old[head];
    // Entries: the time, then count(*)'s cell: a tag, and 8 bytes unless NULL (tag 0).
    uint64_t entries = 0;
    for (size_t at = 0; at < v.size(); ++entries) at += 9 + (v[at + 8] == 0 ? 0 : 8);
    const uint64_t n = u64(h, 16) + entries;
    std::memcpy(h.data() + 16, &n, 8);
    h += v;
  }
  EXPECT_EQ(finish(old, 22, out), whole);
  // A chunk whose key's entry is missing (a damaged state folder) is refused.
  std::map<std::string, std::string> headless = store;
  for (auto it = headless.begin(); it != headless.end();) {
    it = it->first[0] == 'r' && it->first.find("/u1") != std::string::npos ? headless.erase(it)
                                                                            : std::next(it);
  }
  // Refused at the chunk when the window's first number shows a gap, else at FinishLoad.
  for (bool from_zero : {false, true}) {
    if (from_zero) {
      headless = store_day8;  // u1's first chunk starts at entry 0
      for (auto it = headless.begin(); it != headless.end();) {
        it = it->first[0] == 'r' && it->first.find("/u1") != std::string::npos ? headless.erase(it)
                                                                                : std::next(it);
      }
    }
    auto r = Engine::Create(IssueRules(), Schema());
    ASSERT_TRUE(r.ok());
    Status st = Status::OK();
    for (const auto& [k, v] : headless) {
      if (st.ok()) st = (*r)->Load(k, v);
    }
    if (st.ok()) st = (*r)->FinishLoad();
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find(from_zero ? "'u1' holds window entries but no entry for the key"
                                          : "'u1': a chunk of its window from entry 4"),
              std::string::npos)
        << st.message();
  }
}

// A chunk written before some of its entries left the window: a restore skips those (the key's
// entry says where the window starts), or u1's day-8 page view would count three listings.
TEST(RulesEngineTest, AChunkPartlyOutOfTheWindowRestoresWithoutTheEntriesThatLeft) {
  const int64_t day = 24 * 60;
  const std::vector<Row> rows = {{"listing_created", Min(1 * day), "u1", ""},
                                 {"listing_created", Min(2 * day), "u1", ""},
                                 {"listing_created", Min(3 * day), "u1", ""},
                                 {"page_view", Min(3 * day + 1), "u2", ""},
                                 {"page_view", Min(8 * day + 1), "u2", ""},
                                 {"page_view", Min(8 * day + 720), "u1", ""},
                                 {"page_view", Min(12 * day), "u2", ""}};
  const auto whole = RunRules(rows);
  auto en = Engine::Create(IssueRules(), Schema());
  ASSERT_TRUE(en.ok());
  std::map<std::string, std::string> store;
  auto checkpoint = [&] {
    std::vector<Engine::Change> ch;
    (*en)->TakeChanges(ch);
    for (const auto& [k, v] : ch) {
      if (v) store[k] = *v; else store.erase(k);
    }
  };
  (*en)->Push(Batch({rows.begin(), rows.begin() + 4}));  // u1's chunk of days 1-3
  checkpoint();
  (*en)->Push(Batch({rows[4]}));  // day 1 leaves; the chunk stays (days 2-3 are in)
  checkpoint();
  std::vector<Derived> out = (*en)->TakeOutput();
  auto r = Engine::Create(IssueRules(), Schema());
  ASSERT_TRUE(r.ok());
  for (const auto& [k, v] : store) ASSERT_TRUE((*r)->Load(k, v).ok()) << k;
  ASSERT_TRUE((*r)->FinishLoad().ok());
  (*r)->Push(Batch({rows.begin() + 5, rows.end()}));
  (*r)->AdvanceWatermark(Engine::kEndOfTime);
  for (auto& d : (*r)->TakeOutput()) out.push_back(d);
  EXPECT_EQ(Lines(out), whole);
}

// Shards (Engine::Create's `shards`) split the keys, not the records: any number derives the
// records one shard does, and a checkpoint taken with one number goes on with another.
TEST(RulesEngineTest, ShardsDeriveWhatOneDoesAndACheckpointMovesBetweenShardCounts) {
  const std::vector<Row> rows = MixedRows(3000, 97, 23, 29, 50);
  uint64_t late = 0;
  const auto whole = RunRules(rows, &late);
  ASSERT_GT(whole.size(), 200u);
  ASSERT_GT(late, 0u);
  // Checkpoints every 250 records until `split` into a store (deletes applied, read back in key
  // order, as RocksDB gives it), then an engine with `then_shards` goes on from it.
  auto run = [&](int shards, size_t split, int then_shards) {
    auto a = Engine::Create(IssueRules(), Schema(), nullptr, shards);
    EXPECT_TRUE(a.ok());
    std::map<std::string, std::string> store;
    std::vector<Derived> out;
    for (size_t at = 0; at < split;) {
      const size_t to = std::min(split, at + 250);
      (*a)->Push(Batch({rows.begin() + static_cast<std::ptrdiff_t>(at),
                        rows.begin() + static_cast<std::ptrdiff_t>(to)}));
      for (auto& d : (*a)->TakeOutput()) out.push_back(d);
      std::vector<Engine::Change> ch;
      (*a)->TakeChanges(ch);
      for (const auto& [k, v] : ch) {
        if (v) store[k] = *v; else store.erase(k);
      }
      at = to;
    }
    auto b = Engine::Create(IssueRules(), Schema(), nullptr, then_shards);
    EXPECT_TRUE(b.ok());
    for (const auto& [k, v] : store) EXPECT_TRUE((*b)->Load(k, v).ok()) << k;
    EXPECT_TRUE((*b)->FinishLoad().ok());
    EXPECT_EQ((*b)->keys(), (*a)->keys());
    EXPECT_EQ((*b)->processed(), (*a)->processed());
    (*b)->Push(Batch({rows.begin() + static_cast<std::ptrdiff_t>(split), rows.end()}));
    (*b)->AdvanceWatermark(Engine::kEndOfTime);
    for (auto& d : (*b)->TakeOutput()) out.push_back(d);
    EXPECT_EQ((*b)->late(), late);  // the counters come with the checkpoint
    EXPECT_EQ((*b)->processed() + (*b)->late(), rows.size());
    return Lines(out);
  };
  EXPECT_EQ(run(2, 0, 2), whole);
  EXPECT_EQ(run(3, 1500, 3), whole);
  EXPECT_EQ(run(2, 1700, 1), whole);
  EXPECT_EQ(run(1, 1700, 3), whole);
  EXPECT_EQ(run(4, 2400, 2), whole);
}

TEST(RulesEngineTest, StateIsDroppedOnceNothingCanMatch) {
  auto en = Engine::Create(IssueRules(), Schema());
  ASSERT_TRUE(en.ok());
  (*en)->Push(Batch({{"meeting_proposal", Min(0), "u", "m"},
                     {"listing_created", Min(1), "u", ""}}));
  (*en)->AdvanceWatermark(Min(60 * 24 * 10));
  EXPECT_EQ((*en)->keys(), 0u);
}

TEST(RulesEngineTest, BadRulesAreRejectedWithTheRuleAndPosition) {
  auto c = IssueRules();
  c.patterns[0].sequence[1].where = "event_typ = 'x'";
  auto en = Engine::Create(c, Schema());
  ASSERT_FALSE(en.ok());
  EXPECT_NE(en.status().message().find("rules.patterns.meeting_accepted.sequence[2].where"),
            std::string::npos) << en.status().message();
  EXPECT_NE(en.status().message().find("did you mean 'event_type'"), std::string::npos);
  c = IssueRules();
  c.patterns[0].emit[0].alias = "propsed";
  en = Engine::Create(c, Schema());
  ASSERT_FALSE(en.ok());
  EXPECT_NE(en.status().message().find("did you mean 'proposed'"), std::string::npos)
      << en.status().message();
  c = IssueRules();
  c.segments[0].buckets[0].when = "listing >= 3";
  en = Engine::Create(c, Schema());
  ASSERT_FALSE(en.ok());
  EXPECT_NE(en.status().message().find("did you mean 'listings'"), std::string::npos)
      << en.status().message();
}

}  // namespace
}  // namespace weir::rules

namespace weir::rules {
namespace {

// Not a test: the engine alone over synthetic marketplace events (run with
// --gtest_also_run_disabled_tests --gtest_filter='*EngineThroughput*'); bench/rules measures
// the whole run.
// Spool bytes of `rows` as a commit at processing time `at_ms` writes them.
std::string Spool(const Engine& en, int64_t at_ms, const std::vector<Row>& rows) {
  std::string s = en.SpoolHeader() + Engine::SpoolTime(at_ms);
  en.EncodeRows(Batch(rows), s);
  return s;
}

TEST(RulesEngineTest, TheWatermarkIsTheSlowestInputsUnlessThatInputIsIdle) {
  auto made = Engine::Create(IssueRules(), Schema());  // out_of_orderness 5 s, idle_timeout 10 s
  ASSERT_TRUE(made.ok());
  Engine& e = **made;
  const int64_t clock = 1800000000000;  // commit times (processing time)
  auto push = [&](Engine& en, int64_t input, int64_t at, int64_t t, const std::string& user) {
    en.SetInput(input);
    ASSERT_TRUE(en.PushEncoded(Spool(en, at, {{"page_view", t, user, ""}})).ok());
  };
  // Both inputs are known before their rows (the rules stage registers the inputs of the spool
  // files it is about to read): partition 1's rows do not move the watermark on their own.
  e.SetInput(1);
  e.SetInput(2);
  // Partition 1 is at 10:00, partition 2 at 09:00: the watermark is partition 2's.
  push(e, 1, clock, Min(600), "u1");
  EXPECT_EQ(e.watermark(), INT64_MIN);
  push(e, 2, clock, Min(540), "u2");
  EXPECT_EQ(e.watermark(), Min(540) - 5000);
  // Partition 2 at 09:30 is not late, though partition 1 is half an hour ahead.
  push(e, 2, clock + 1000, Min(570), "u2");
  EXPECT_EQ(e.late(), 0u);
  EXPECT_EQ(e.watermark(), Min(570) - 5000);
  // Partition 2 sends nothing while partition 1 commits on; once partition 2's last commit is
  // idle_timeout behind, it stops holding the watermark back and partition 1 alone moves it.
  push(e, 1, clock + 6000, Min(605), "u1");
  EXPECT_EQ(e.watermark(), Min(570) - 5000);
  push(e, 1, clock + 12000, Min(610), "u1");
  EXPECT_EQ(e.watermark(), Min(610) - 5000);
  // Partition 2's next event is behind that watermark: late.
  push(e, 2, clock + 13000, Min(575), "u2");
  EXPECT_EQ(e.late(), 1u);
  // The inputs are state: an engine restored from a checkpoint goes on exactly the same way.
  std::vector<Engine::Change> changes;
  e.TakeChanges(changes);
  auto restored = Engine::Create(IssueRules(), Schema());
  ASSERT_TRUE(restored.ok());
  Engine& r = **restored;
  for (const auto& [k, v] : changes) {
    if (v) {
      ASSERT_TRUE(r.Load(k, *v).ok());
    }
  }
  ASSERT_TRUE(r.FinishLoad().ok());
  EXPECT_EQ(r.watermark(), e.watermark());
  for (Engine* en : {&e, &r}) {
    // Partition 2 is back: its event is late, but the partition holds the watermark again
    // (partition 1 at 10:20 moves nothing).
    push(*en, 2, clock + 14000, Min(575) + 1, "u2");
    push(*en, 1, clock + 15000, Min(620), "u1");
    EXPECT_EQ(en->watermark(), Min(610) - 5000);
    // Then nothing at all is committed for 15 s (the stream was quiet, or down): that makes
    // neither partition idle against the other.
    push(*en, 1, clock + 30000, Min(630), "u1");
    EXPECT_EQ(en->watermark(), Min(610) - 5000);
    // Partition 1 commits on alone; 10 s of that and partition 2 is idle.
    push(*en, 1, clock + 36000, Min(640), "u1");
    EXPECT_EQ(en->watermark(), Min(610) - 5000);
    push(*en, 1, clock + 41000, Min(650), "u1");
  }
  EXPECT_EQ(e.watermark(), Min(650) - 5000);
  EXPECT_EQ(e.late(), 2u);
  EXPECT_EQ(r.watermark(), e.watermark());
  EXPECT_EQ(r.late(), e.late());
}

TEST(RulesEngineBench, DISABLED_EngineThroughput) {
  const int n = 400000;
  std::vector<Row> rows;
  rows.reserve(n);
  for (int i = 0; i < n; ++i) {
    const char* type = i % 5 == 0 ? "meeting_proposal" : i % 5 == 1 ? "meeting_accepted"
                       : i % 5 == 2 ? "listing_created" : "page_view";
    rows.push_back({type, Sec(i) / 10 * 10, "u" + std::to_string(i % 5000),
                    type[0] == 'm' ? "m" + std::to_string(i / 7) : ""});
  }
  for (int shards : {1, 2}) {
    auto en = Engine::Create(IssueRules(), Schema(), nullptr, shards);
    ASSERT_TRUE(en.ok());
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; i += 10000) {
      (*en)->Push(Batch({rows.begin() + i, rows.begin() + i + 10000}));
      (void)(*en)->TakeOutput();
    }
    (*en)->AdvanceWatermark(Engine::kEndOfTime);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%d shard(s): %d events in %.3f s: %.0f events/s\n", shards, n, s, n / s);
  }
}

}  // namespace
}  // namespace weir::rules

namespace weir::rules {
namespace {

// Every aggregate function over a sliding window, entering and leaving, with where and NULLs.
TEST(RulesEngineTest, AggregatesFollowTheWindowInAndOut) {
  std::vector<ColumnSchema> schema = {{"t", ColumnType::kTimestampMs},
                                      {"user", ColumnType::kString},
                                      {"item", ColumnType::kString},
                                      {"price", ColumnType::kDouble}};
  RulesConfig c;
  c.event_time = "t";
  SegmentConfig seg;
  seg.name = "spend";
  seg.key = "user";
  seg.window_ms = 10000;
  seg.aggregates = {{"n", "count(price)", 0},
                    {"items", "count(distinct item)", 0},
                    {"total", "sum(price) where item <> 'gift'", 0},
                    {"lo", "min(price)", 0},
                    {"hi", "max(price)", 0}};
  // The bucket names say which condition holds; evaluated in order.
  seg.buckets = {{"big", "total >= 100 AND items >= 2", 0},
                 {"cheap_only", "hi < 10", 0},
                 {"wide", "hi - lo > 0 OR n >= 3", 0},
                 {"other", "", 0}};
  // `hi - lo` is not in the language: expect a compile error first.
  c.segments = {seg};
  auto bad = Engine::Create(c, schema);
  ASSERT_FALSE(bad.ok());
  c.segments[0].buckets[2].when = "lo < 50 AND n >= 2";
  auto en = Engine::Create(c, schema);
  ASSERT_TRUE(en.ok()) << en.status().ToString();
  ColumnBatch b(schema);
  auto add = [&](int64_t s, const char* item, std::optional<double> price) {
    b.columns[0].AppendInt64(Sec(s));
    b.columns[1].AppendString("u");
    b.columns[2].AppendString(item);
    if (price) b.columns[3].AppendDouble(*price); else b.columns[3].AppendNull();
  };
  add(0, "a", 5);        // n1 items{a} total5 lo5 hi5 -> cheap_only
  add(1, "a", 7);        // n2 items{a} total12 hi7 -> cheap_only
  add(2, "b", std::nullopt);  // price NULL: n2, items{a,b} -> cheap_only
  add(3, "gift", 200);   // total not counted: 12; hi 200, lo 5, n3 -> wide
  add(4, "c", 95);       // total 107, items 4 -> big
  // t=10: the t=0 record leaves (n3: 7,200,95; total 102) -> still big
  // t=11: the t=1 record leaves (total 95) -> items{b,gift,c}: lo 95 n2 -> other? lo 95 >= 50 -> other
  add(30, "z", 1);       // everything before left; then only z: cheap_only
  (*en)->Push(b);
  (*en)->AdvanceWatermark(Engine::kEndOfTime);
  std::vector<std::string> got;
  for (const auto& d : (*en)->TakeOutput()) {
    got.push_back(std::to_string((d.event_time_ms - Sec(0)) / 1000) + " " + d.data);
  }
  const std::vector<std::string> want = {
      "0 {\"from\":\"other\",\"to\":\"cheap_only\"}",
      "3 {\"from\":\"cheap_only\",\"to\":\"wide\"}",
      "4 {\"from\":\"wide\",\"to\":\"big\"}",
      "11 {\"from\":\"big\",\"to\":\"other\"}",
      "30 {\"from\":\"other\",\"to\":\"cheap_only\"}",
      "40 {\"from\":\"cheap_only\",\"to\":\"other\"}",
  };
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace weir::rules
