#include "exec/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "../common/postgres.h"

namespace weir {
namespace {

// The store tests run on both backends: every assertion must hold on SQLite and on PostgreSQL
// (a server of the test binary's own, tests/common/postgres.h; a database per test).
enum class Backend { kSqlite, kPostgres };

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      std::string why;
      pg_ = e2e::SharedPostgres(&why);
      if (pg_ == nullptr && e2e::PostgresServer::BinDir().empty()) GTEST_SKIP() << why;
      ASSERT_NE(pg_, nullptr) << "PostgreSQL is installed but did not start: " << why;
    }
  }
  // A new, empty store named for the test: a SQLite file, or a PostgreSQL database.
  std::string FreshLocation(const std::string& name) {
    if (GetParam() == Backend::kPostgres) {
      std::string db = "store_" + name;
      for (char& c : db) {
        if (c == '-') c = '_';
      }
      const std::string url = pg_->CreateDatabase(db);
      EXPECT_FALSE(url.empty()) << pg_->why();
      return url;
    }
    auto dir = std::filesystem::temp_directory_path() /
               ("weir-store-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    return (dir / "store.db").string();
  }
  std::unique_ptr<Store> OpenFresh(const std::string& name) {
    auto s = Store::Open(FreshLocation(name));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return std::move(s).value();
  }

  e2e::PostgresServer* pg_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& p) {
                           return p.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST_P(StoreTest, EnsureTasksIsIdempotentAndKeepsManifestOrder) {
  auto store = OpenFresh("ensure");
  ASSERT_TRUE(store->EnsureTasks("ds", {{"b.jsonl", "/x/b.jsonl"}, {"a.jsonl", "/x/a.jsonl"}}).ok());
  ASSERT_TRUE(store->EnsureTasks("ds", {{"a.jsonl", "/x/a.jsonl"}, {"c.jsonl", "/x/c.jsonl"}}).ok());
  auto tasks = store->Tasks("ds");
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 3u);
  EXPECT_EQ((*tasks)[0].entry, "b.jsonl");
  EXPECT_EQ((*tasks)[1].entry, "a.jsonl");
  EXPECT_EQ((*tasks)[2].entry, "c.jsonl");
  for (const auto& t : *tasks) EXPECT_EQ(t.status, TaskStatus::kCreated);
  EXPECT_TRUE(store->Tasks("other")->empty());
}

TEST_P(StoreTest, CommitAdvancesCheckpointsAndRecordsFilesTogether) {
  auto store = OpenFresh("commit");
  ASSERT_TRUE(store->EnsureTasks("ds", {{"a", "/a"}, {"b", "/b"}}).ok());
  auto tasks = *store->Tasks("ds");
  CommitRequest req;
  req.dataset = "ds";
  for (const auto& t : tasks) {
    TaskUpdate u;
    u.task_id = t.id;
    u.seq = 1;
    u.counters.offset = 100 * t.id;
    u.counters.read = 10;
    u.counters.written = 7;
    u.counters.skipped = 1;
    u.counters.errored = 2;
    if (t.entry == "a") u.status = TaskStatus::kCompleted;
    req.tasks.push_back(u);
  }
  CatalogFile f;
  f.kind = "data";
  f.partition = "dt=2024-01-01";
  f.path = "/lake/t/dt=2024-01-01/part-1.parquet";
  f.staging = "/lake/_staging/part-1.parquet.staged";
  f.rows = 14;
  req.files.push_back(f);
  std::vector<int64_t> ids;
  ASSERT_TRUE(store->Commit(req, &ids).ok());
  ASSERT_EQ(ids.size(), 1u);
  auto after = *store->Tasks("ds");
  EXPECT_EQ(after[0].status, TaskStatus::kCompleted);
  EXPECT_EQ(after[1].status, TaskStatus::kCreated);
  EXPECT_EQ(after[1].counters.offset, 100u * after[1].id);
  EXPECT_EQ(after[0].counters.read, 10u);
  EXPECT_EQ(after[0].seq, 1);
  auto pending = *store->Files("ds", "data", "pending");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].rows, 14u);
  EXPECT_TRUE(store->Files("ds", "data", "published")->empty());
  ASSERT_TRUE(store->MarkPublished(ids).ok());
  EXPECT_TRUE(store->Files("ds", "", "pending")->empty());
  EXPECT_EQ(store->Files("ds", "data", "published")->size(), 1u);
}

// Regression: a task's `files` count showed only its last commit's files (plus those before the
// run): the executor's counters never see the files a commit writes, and the store overwrote it.
TEST_P(StoreTest, ATasksFilesCountAddsUpOverItsCommits) {
  auto store = OpenFresh("files-count");
  ASSERT_TRUE(store->EnsureTasks("ds", {{"a", "/a"}}).ok());
  const int64_t id = (*store->Tasks("ds"))[0].id;
  for (int commit = 1; commit <= 3; ++commit) {
    CommitRequest req;
    req.dataset = "ds";
    TaskUpdate u;
    u.task_id = id;
    u.seq = commit;
    u.counters.read = 10 * commit;
    u.files_added = static_cast<uint64_t>(commit + 1);  // 2, 3, 4 files
    req.tasks.push_back(u);
    std::vector<int64_t> ids;
    ASSERT_TRUE(store->Commit(req, &ids).ok());
  }
  auto t = (*store->Tasks("ds"))[0];
  EXPECT_EQ(t.counters.files, 9u);
  EXPECT_EQ(t.counters.read, 30u);
}

TEST_P(StoreTest, StatusReasonAndAttemptsAreStored) {
  auto store = OpenFresh("status");
  ASSERT_TRUE(store->EnsureTasks("ds", {{"a", "/a"}}).ok());
  int64_t id = (*store->Tasks("ds"))[0].id;
  ASSERT_TRUE(store->StartAttempt(id).ok());
  ASSERT_TRUE(store->StartAttempt(id).ok());
  ASSERT_TRUE(store->SetStatus(id, TaskStatus::kError, "disk on fire").ok());
  auto t = *store->Task(id);
  EXPECT_EQ(t.status, TaskStatus::kError);
  EXPECT_EQ(t.attempts, 2);
  EXPECT_EQ(t.reason, "disk on fire");
  EXPECT_EQ(store->Task(9999).status().code(), StatusCode::kNotFound);
}

// Two stream processes that both think they own a partition (the group gave it to a new member
// while the old one was paused): only the latest claim may commit, and the stale one's status
// update does not overwrite the new owner's.
TEST_P(StoreTest, ACommitOfATaskClaimedSinceByAnotherWriterIsRefused) {
  auto store = OpenFresh("claim");
  ASSERT_TRUE(store->EnsureTasks("ds", {{"events/0", "kafka:events/0"}}).ok());
  const int64_t id = (*store->Tasks("ds"))[0].id;
  auto first = store->ClaimTask(id);
  ASSERT_TRUE(first.ok());
  auto commit = [&](int attempt, uint64_t offset) {
    CommitRequest req;
    req.dataset = "ds";
    TaskUpdate u;
    u.task_id = id;
    u.seq = 1;
    u.counters.offset = offset;
    u.counters.read = offset;
    u.owner_attempt = attempt;
    req.tasks.push_back(u);
    CatalogFile f;
    f.task_id = id;
    f.kind = "data";
    f.path = "/lake/t/f" + std::to_string(offset);
    f.staging = "/lake/_staging/f" + std::to_string(offset);
    req.files.push_back(f);
    std::vector<int64_t> ids;
    return store->Commit(req, &ids);
  };
  ASSERT_TRUE(commit(first->attempts, 10).ok());
  auto second = store->ClaimTask(id);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->attempts, first->attempts + 1);
  EXPECT_EQ(second->counters.offset, 10u);  // the claim reads the last commit before it

  Status stale = commit(first->attempts, 25);
  EXPECT_EQ(stale.code(), StatusCode::kAborted) << stale.ToString();
  EXPECT_FALSE(stale.retryable());  // planning again cannot help: IcebergTable must not retry
  EXPECT_EQ(store->Task(id)->counters.offset, 10u);
  EXPECT_EQ(store->Files("ds", "data", "")->size(), 1u) << "the refused commit left a file row";

  ASSERT_TRUE(store->SetStatus(id, TaskStatus::kInterrupted, "stale", first->attempts).ok());
  EXPECT_EQ(store->Task(id)->status, TaskStatus::kRunning);
  ASSERT_TRUE(commit(second->attempts, 30).ok());
  EXPECT_EQ(store->Task(id)->counters.offset, 30u);
}

// write.dedup across processes: a commit whose keys another writer committed after this one
// checked them is refused whole (its rows would be duplicates), judged against the index as it
// was before the commit; a key stored longer than the window ago is no duplicate.
TEST_P(StoreTest, ACommitOfDedupKeysAnotherWriterCommittedFirstIsRefused) {
  const std::string where = FreshLocation("dedup-race");
  auto a = Store::Open(where), b = Store::Open(where);  // two writers, two connections
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->EnsureTasks("ds", {{"x", "/x"}, {"y", "/y"}}).ok());
  const auto tasks = *(*a)->Tasks("ds");
  auto commit = [&](Store& s, int64_t task, uint64_t offset, std::vector<DedupKey> keys) {
    CommitRequest req;
    req.dataset = "ds";
    TaskUpdate u;
    u.task_id = task;
    u.seq = static_cast<int64_t>(offset);
    u.counters.offset = offset;
    req.tasks.push_back(u);
    CatalogFile f;
    f.task_id = task;
    f.kind = "data";
    f.path = "/lake/t/f" + std::to_string(offset);
    f.staging = "/lake/_staging/f" + std::to_string(offset);
    req.files.push_back(f);
    req.dedup_keys = std::move(keys);
    req.dedup_within_ms = 5000;
    return s.Commit(req, nullptr);
  };
  ASSERT_TRUE(commit(**a, tasks[0].id, 10, {{1, 2, 1000}, {3, 4, 1000}}).ok());
  // (3, 4) at 3000 is 2 s from the stored 1000: refused, and nothing of it is in.
  Status raced = commit(**b, tasks[1].id, 20, {{5, 6, 1000}, {3, 4, 3000}});
  EXPECT_TRUE(IsDedupRace(raced)) << raced.ToString();
  EXPECT_FALSE(IsFenced(raced));
  EXPECT_NE(raced.message().find("1 of the 2 keys"), std::string::npos) << raced.ToString();
  EXPECT_EQ((*b)->Task(tasks[1].id)->counters.offset, 0u);
  EXPECT_EQ((*b)->Files("ds", "data", "")->size(), 1u);
  std::vector<int64_t> t;
  ASSERT_TRUE((*b)->DedupLookup("ds", {{5, 6, 0}, {3, 4, 0}}, &t).ok());
  EXPECT_EQ(t, (std::vector<int64_t>{INT64_MIN, 1000}));
  // Outside the window it is a new record: kept, and the index keeps its newer time.
  ASSERT_TRUE(commit(**b, tasks[1].id, 30, {{5, 6, 1000}, {3, 4, 6000}}).ok());
  ASSERT_TRUE((*a)->DedupLookup("ds", {{5, 6, 0}, {3, 4, 0}}, &t).ok());
  EXPECT_EQ(t, (std::vector<int64_t>{1000, 6000}));
  // One key at two times a window apart, the older one within the window of the stored time:
  // each time is judged against the time stored before this commit (1000), not the newer
  // time the commit itself writes.
  Status again = commit(**a, tasks[0].id, 40, {{1, 2, 2000}, {1, 2, 9000}});
  EXPECT_TRUE(IsDedupRace(again)) << again.ToString();
  ASSERT_TRUE(commit(**a, tasks[0].id, 50, {{1, 2, 7000}, {1, 2, 13000}}).ok());
  ASSERT_TRUE((*b)->DedupLookup("ds", {{1, 2, 0}}, &t).ok());
  EXPECT_EQ(t, (std::vector<int64_t>{13000}));
}

// Two writers commit the same key at the same moment, many times: each time exactly one is
// in and the other is refused as a race (never both in, never both refused).
TEST_P(StoreTest, OfTwoWritersCommittingOneKeyAtOnceExactlyOneKeepsIt) {
  const std::string where = FreshLocation("dedup-race-live");
  auto a = Store::Open(where), b = Store::Open(where);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->EnsureTasks("ds", {{"x", "/x"}, {"y", "/y"}}).ok());
  const auto tasks = *(*a)->Tasks("ds");
  Store* stores[2] = {a->get(), b->get()};
  for (int round = 1; round <= 25; ++round) {
    std::atomic<int> ready{0};
    Status results[2];
    auto racer = [&](int who) {
      CommitRequest req;
      req.dataset = "ds";
      TaskUpdate u;
      u.task_id = tasks[who].id;
      u.seq = round;
      u.counters.offset = static_cast<uint64_t>(round);
      req.tasks.push_back(u);
      req.dedup_keys = {{static_cast<uint64_t>(round), 99, 1000 * round}};
      req.dedup_within_ms = 500;
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      results[who] = stores[who]->Commit(req, nullptr);
    };
    std::thread ta(racer, 0), tb(racer, 1);
    ta.join();
    tb.join();
    const int wins = results[0].ok() + results[1].ok();
    EXPECT_EQ(wins, 1) << "round " << round << ": " << results[0].ToString() << " / "
                       << results[1].ToString();
    for (const Status& r : results) {
      if (!r.ok()) {
        EXPECT_TRUE(IsDedupRace(r)) << r.ToString();
      }
    }
  }
}

TEST_P(StoreTest, ClaimNextTaskTakesEachTaskOnceAndALeasedOneOnlyAfterItExpires) {
  auto store = OpenFresh("queue");
  ASSERT_TRUE(store->EnsureTasks("ds", {{"a", "/in/a"}, {"b", "/in/b"}, {"c", "/in/c"}}).ok());
  ASSERT_TRUE(store->EnsureTasks("other", {{"x", "/in/x"}}).ok());
  const Lease alive{"w1", 60000};
  auto a = store->ClaimNextTask("ds", alive);
  auto b = store->ClaimNextTask("ds", alive);
  ASSERT_TRUE(a.ok() && *a && b.ok() && *b);
  EXPECT_EQ((*a)->entry, "a");  // in id order
  EXPECT_EQ((*b)->entry, "b");
  EXPECT_EQ((*a)->status, TaskStatus::kRunning);
  EXPECT_EQ((*a)->attempts, 1);
  EXPECT_EQ((*a)->lease_owner, "w1");
  EXPECT_GT((*a)->lease_left_ms, 50000);
  // A lease of 1 ms: expired at once, so the task is claimable by anyone.
  auto c = store->ClaimNextTask("ds", Lease{"w2", 1});
  ASSERT_TRUE(c.ok() && *c);
  EXPECT_EQ((*c)->entry, "c");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto census = store->Census("ds");
  ASSERT_TRUE(census.ok());
  EXPECT_EQ(census->leased, 2u);     // a and b
  EXPECT_EQ(census->claimable, 1u);  // c, its lease expired
  auto again = store->ClaimNextTask("ds", Lease{"w3", 60000});
  ASSERT_TRUE(again.ok() && *again);
  EXPECT_EQ((*again)->id, (*c)->id);
  EXPECT_EQ((*again)->attempts, (*c)->attempts + 1);  // the new claim fences the old one
  EXPECT_EQ((*again)->lease_owner, "w3");
  auto none = store->ClaimNextTask("ds", Lease{"w3", 60000});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none) << (*none)->entry;
  // An INTERRUPTED task (a worker stopped by SIGTERM) is claimable at once.
  ASSERT_TRUE(store->SetStatus((*a)->id, TaskStatus::kInterrupted, "stopped", (*a)->attempts).ok());
  auto resumed = store->ClaimNextTask("ds", Lease{"w4", 60000});
  ASSERT_TRUE(resumed.ok() && *resumed);
  EXPECT_EQ((*resumed)->id, (*a)->id);
  // A retry by the holder only while its claim stands.
  auto stale = store->ClaimTask((*c)->id, &alive, (*c)->attempts);
  EXPECT_TRUE(IsFenced(stale.status())) << stale.status().ToString();
  auto own = store->ClaimTask((*again)->id, &alive, (*again)->attempts);
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(own->attempts, (*again)->attempts + 1);
}

TEST_P(StoreTest, AHeartbeatRenewsOnlyTheLeasesItsWorkerStillHolds) {
  auto store = OpenFresh("heartbeat");
  ASSERT_TRUE(store->EnsureTasks("ds", {{"a", "/in/a"}, {"b", "/in/b"}}).ok());
  auto a = store->ClaimNextTask("ds", Lease{"w1", 60000});
  auto b = store->ClaimNextTask("ds", Lease{"w1", 60000});
  ASSERT_TRUE(a.ok() && *a && b.ok() && *b);
  ASSERT_NE((*a)->id, (*b)->id);
  // Another claimer takes a over (as after an expired lease) before w1 beats again.
  const Lease w2{"w2", 60000};
  auto taken = store->ClaimTask((*a)->id, &w2);
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(taken->lease_owner, "w2");
  WorkerRow w;
  w.id = "w1";
  w.host = "h";
  w.pid = 1;
  w.state = "running";
  w.records = 42;
  std::vector<std::pair<int64_t, int>> held;
  ASSERT_TRUE(store->Heartbeat(w, 60000, &held).ok());
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].first, (*b)->id);
  EXPECT_GT(store->Task((*b)->id)->lease_left_ms, 50000);
  EXPECT_EQ(store->Task((*a)->id)->lease_owner, "w2");
  auto workers = store->Workers();
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->size(), 1u);
  EXPECT_EQ((*workers)[0].records, 42u);
  EXPECT_EQ((*workers)[0].state, "running");
  ASSERT_TRUE(store->WorkerStopped("w1").ok());
  EXPECT_EQ((*store->Workers())[0].state, "stopped");
  // Submissions: recorded, replaced by name.
  ASSERT_TRUE(store->Submit({"ds", "/p/ds.yaml", "name: ds\n", "d1", ""}).ok());
  ASSERT_TRUE(store->Submit({"ds", "/p/ds.yaml", "name: ds\n# v2\n", "d2", ""}).ok());
  auto sub = store->Submitted("ds");
  ASSERT_TRUE(sub.ok() && *sub);
  EXPECT_EQ((*sub)->digest, "d2");
  EXPECT_EQ(store->Submitted()->size(), 1u);
}

TEST_P(StoreTest, StateSurvivesReopeningAndResetForgetsADataset) {
  const std::string path = FreshLocation("reopen");
  {
    auto s = std::move(Store::Open(path).value());
    ASSERT_TRUE(s->EnsureTasks("ds", {{"a", "/a"}}).ok());
    ASSERT_TRUE(s->EnsureTasks("keep", {{"k", "/k"}}).ok());
  }
  auto s = std::move(Store::Open(path).value());
  EXPECT_EQ(s->Tasks("ds")->size(), 1u);
  ASSERT_TRUE(s->ResetDataset("ds").ok());
  EXPECT_TRUE(s->Tasks("ds")->empty());
  EXPECT_EQ(s->Tasks("keep")->size(), 1u);
}

TEST_P(StoreTest, ResetMarksFilesSupersededInTheSameTransaction) {
  auto store = OpenFresh("reset-files");
  ASSERT_TRUE(store->EnsureTasks("ds", {{"a", "/a"}}).ok());
  CommitRequest req;
  req.dataset = "ds";
  CatalogFile f;
  f.kind = "data";
  f.path = "/lake/t/part-1.parquet";
  f.staging = "/lake/_staging/t/part-1.staged";
  req.files.push_back(f);
  std::vector<int64_t> ids;
  ASSERT_TRUE(store->Commit(req, &ids).ok());
  ASSERT_TRUE(store->MarkPublished(ids).ok());
  ASSERT_TRUE(store->ResetDataset("ds").ok());
  EXPECT_TRUE(store->Tasks("ds")->empty());
  // The file is no longer live, but still listed until someone deletes it (recovery does).
  EXPECT_TRUE(store->Files("ds", "", "published")->empty());
  auto old = *store->Files("ds", "", "superseded");
  ASSERT_EQ(old.size(), 1u);
  EXPECT_EQ(old[0].path, f.path);
}

TEST(SqliteStoreTest, PathsUnderTheBaseFolderAreStoredRelativeAndFollowACopy) {
  auto dir = std::filesystem::temp_directory_path() / ("weir-store-rel-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::string a = (dir / "a").string(), b = (dir / "b").string();
  std::string id;
  {
    auto s = std::move(Store::Open(a + "/.weir/store.db", a).value());
    id = s->store_id();
    EXPECT_EQ(id.size(), 32u);
    CommitRequest req;
    req.dataset = "ds";
    CatalogFile in, out;
    in.kind = out.kind = "data";
    in.path = a + "/lake/t/k=1/part-1.parquet";
    in.staging = a + "/lake/_staging/t/w/part-1.staged";
    out.path = "/elsewhere/lake/t/part-2.parquet";
    out.staging = "/elsewhere/lake/_staging/part-2.staged";
    req.files = {in, out};
    ASSERT_TRUE(s->Commit(req, nullptr).ok());
  }
  std::filesystem::copy(a, b, std::filesystem::copy_options::recursive);
  auto s = std::move(Store::Open(b + "/.weir/store.db", b).value());
  EXPECT_EQ(s->store_id(), id);  // a copy is the same store: claims tell copies apart
  auto files = *s->Files("ds", "", "");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, b + "/lake/t/k=1/part-1.parquet");
  EXPECT_EQ(files[0].staging, b + "/lake/_staging/t/w/part-1.staged");
  EXPECT_EQ(files[1].path, "/elsewhere/lake/t/part-2.parquet");
  // A new store gets a new id.
  auto fresh = std::move(Store::Open((dir / "c/store.db").string(), (dir / "c").string()).value());
  EXPECT_NE(fresh->store_id(), id);
}

TEST(SqliteStoreTest, StoreFromBeforeRelativePathsIsConvertedWhereItIs) {
  auto dir = std::filesystem::temp_directory_path() / ("weir-store-legacy-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::string a = (dir / "a").string(), b = (dir / "b").string();
  {
    // No base folder: every path absolute, as stores were before.
    auto s = std::move(Store::Open(a + "/.weir/store.db").value());
    CommitRequest req;
    req.dataset = "ds";
    CatalogFile f;
    f.kind = "data";
    f.path = a + "/lake/t/part-1.parquet";
    f.staging = a + "/lake/_staging/part-1.staged";
    req.files = {f};
    ASSERT_TRUE(s->Commit(req, nullptr).ok());
  }
  { auto s = std::move(Store::Open(a + "/.weir/store.db", a).value()); }  // first open: converts
  std::filesystem::copy(a, b, std::filesystem::copy_options::recursive);
  auto s = std::move(Store::Open(b + "/.weir/store.db", b).value());
  EXPECT_EQ((*s->Files("ds", "", ""))[0].path, b + "/lake/t/part-1.parquet");
}

TEST_P(StoreTest, InputIdentityIsRecordedByAttemptsAndCommits) {
  auto store = OpenFresh("input-id");
  ASSERT_TRUE(store->EnsureTasks("ds", {{"a", "/a"}}).ok());
  int64_t id = (*store->Tasks("ds"))[0].id;
  ASSERT_TRUE(store->StartAttempt(id, "[1]").ok());
  EXPECT_EQ(store->Task(id)->input_id, "[1]");
  ASSERT_TRUE(store->StartAttempt(id).ok());  // empty keeps what was recorded
  EXPECT_EQ(store->Task(id)->input_id, "[1]");
  CommitRequest req;
  req.dataset = "ds";
  TaskUpdate u;
  u.task_id = id;
  u.input_id = "[2]";
  req.tasks.push_back(u);
  ASSERT_TRUE(store->Commit(req, nullptr).ok());
  EXPECT_EQ(store->Task(id)->input_id, "[2]");
  req.tasks[0].input_id.clear();
  ASSERT_TRUE(store->Commit(req, nullptr).ok());
  EXPECT_EQ(store->Task(id)->input_id, "[2]");
}

TEST_P(StoreTest, IcebergPointerMovesWithTheCheckpointsOrNotAtAll) {
  auto store = OpenFresh("iceberg");
  ASSERT_TRUE(store->EnsureTasks("ds", {{"a", "/a"}}).ok());
  const int64_t task = (*store->Tasks("ds"))[0].id;
  auto commit = [&](const std::string& expected, const std::string& next, uint64_t offset) {
    CommitRequest req;
    req.dataset = "ds";
    TaskUpdate u;
    u.task_id = task;
    u.seq = static_cast<int64_t>(offset);
    u.counters.offset = offset;
    req.tasks.push_back(u);
    req.iceberg = IcebergPointerMove{"default", "events", expected, next};
    return store->Commit(req, nullptr);
  };
  ASSERT_TRUE(commit("", "/l/events/metadata/v1.metadata.json", 10).ok());
  // Creating it again, or moving it from a location it no longer has, is a conflict that leaves
  // the checkpoint where the last successful commit put it.
  Status again = commit("", "/l/events/metadata/v1.metadata.json", 20);
  EXPECT_EQ(again.code(), StatusCode::kAborted) << again.ToString();
  Status stale = commit("/l/events/metadata/v0.metadata.json", "/l/events/metadata/v2.metadata.json", 30);
  EXPECT_EQ(stale.code(), StatusCode::kAborted);
  EXPECT_NE(stale.message().find("conflict"), std::string::npos);
  EXPECT_EQ(store->Task(task)->counters.offset, 10u);
  ASSERT_TRUE(commit("/l/events/metadata/v1.metadata.json", "/l/events/metadata/v2.metadata.json", 40).ok());
  EXPECT_EQ(store->Task(task)->counters.offset, 40u);
  auto row = store->IcebergTable("default", "events");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->catalog_name, "weir");
  EXPECT_EQ((*row)->metadata_location, "/l/events/metadata/v2.metadata.json");
  EXPECT_EQ((*row)->previous_metadata_location, "/l/events/metadata/v1.metadata.json");
  EXPECT_EQ(store->IcebergTables()->size(), 1u);
  // --restart drops the table in the same transaction as the tasks.
  ASSERT_TRUE(store->ResetDataset("ds", IcebergTableDrop{"default", "events",
                                                         "/l/events/metadata/v2.metadata.json"})
                  .ok());
  EXPECT_FALSE(store->IcebergTable("default", "events")->has_value());
  EXPECT_TRUE(store->Tasks("ds")->empty());
}

// The catalog row is keyed by table name alone, so another dataset with the same write.table may
// own it: --restart drops only the row the runner checked, and a row that moved on or appeared
// meanwhile leaves everything as it was (tasks, files, the row).
TEST_P(StoreTest, ResetDropsOnlyTheIcebergRowItChecked) {
  auto store = OpenFresh("iceberg-reset");
  ASSERT_TRUE(store->EnsureTasks("ds", {{"a", "/a"}}).ok());
  const int64_t task = (*store->Tasks("ds"))[0].id;
  CommitRequest req;
  req.dataset = "ds";
  TaskUpdate u;
  u.task_id = task;
  req.tasks.push_back(u);
  req.iceberg = IcebergPointerMove{"default", "events", "", "/other/events/metadata/v1.metadata.json"};
  ASSERT_TRUE(store->Commit(req, nullptr).ok());
  for (const std::string& expected : {std::string(), std::string("/l/events/metadata/v1.metadata.json")}) {
    Status st = store->ResetDataset("ds", IcebergTableDrop{"default", "events", expected});
    EXPECT_EQ(st.code(), StatusCode::kAborted) << st.ToString();
    EXPECT_NE(st.message().find("/other/events/metadata/v1.metadata.json"), std::string::npos)
        << st.message();
    auto row = store->IcebergTable("default", "events");
    ASSERT_TRUE(row.ok() && row->has_value());
    EXPECT_EQ((*row)->metadata_location, "/other/events/metadata/v1.metadata.json");
    EXPECT_EQ(store->Tasks("ds")->size(), 1u);  // rolled back: nothing was reset
  }
  // No row, as checked: the reset goes through and creates none.
  ASSERT_TRUE(store->ResetDataset("ds2", IcebergTableDrop{"default", "clicks", ""}).ok());
  EXPECT_FALSE(store->IcebergTable("default", "clicks")->has_value());
  // The row as checked: dropped with the tasks.
  ASSERT_TRUE(store->ResetDataset("ds", IcebergTableDrop{"default", "events",
                                                         "/other/events/metadata/v1.metadata.json"})
                  .ok());
  EXPECT_FALSE(store->IcebergTable("default", "events")->has_value());
  EXPECT_TRUE(store->Tasks("ds")->empty());
}

// Regression: the catalog row moved in the commit's transaction, before the snapshot's data
// files were renamed into place, so a catalog reader (JDBC client, `weir serve --catalog`) could
// be given a snapshot whose files did not exist yet. The readers' pointer now waits until no
// file of the dataset is pending; the writers' pointer (compare-and-set) moves at once.
TEST_P(StoreTest, CatalogReadersGetASnapshotOnlyOnceItsFilesArePublished) {
  auto store = OpenFresh("iceberg-publish");
  ASSERT_TRUE(store->EnsureTasks("ds", {{"a", "/a"}}).ok());
  const int64_t task = (*store->Tasks("ds"))[0].id;
  auto commit = [&](const std::string& expected, const std::string& next, bool with_file,
                    std::vector<int64_t>* ids) {
    CommitRequest req;
    req.dataset = "ds";
    if (with_file) {
      CatalogFile f;
      f.task_id = task;
      f.kind = "data";
      f.path = next + ".parquet";
      f.staging = next + ".staged";
      req.files.push_back(f);
    }
    req.iceberg = IcebergPointerMove{"default", "events", expected, next};
    return store->Commit(req, ids);
  };
  auto row = [&] { return **store->IcebergTable("default", "events"); };
  std::vector<int64_t> first, second;
  ASSERT_TRUE(commit("", "/m/v1.json", true, &first).ok());
  EXPECT_EQ(row().metadata_location, "/m/v1.json");  // writers plan on it
  EXPECT_EQ(row().published_location, "");           // readers do not see the table yet
  ASSERT_TRUE(store->MarkPublished(first).ok());
  ASSERT_TRUE(store->AdvanceIcebergPointer("ds", "default", "events").ok());
  EXPECT_EQ(row().published_location, "/m/v1.json");

  ASSERT_TRUE(commit("/m/v1.json", "/m/v2.json", true, &second).ok());
  EXPECT_EQ(row().metadata_location, "/m/v2.json");
  EXPECT_EQ(row().published_location, "/m/v1.json");
  // A commit with no files of its own (a compaction's are published at once) while v2's files
  // are still pending: the writers move on, the readers still wait for v2's files.
  ASSERT_TRUE(commit("/m/v2.json", "/m/v3.json", false, nullptr).ok());
  ASSERT_TRUE(store->AdvanceIcebergPointer("ds", "default", "events").ok());
  EXPECT_EQ(row().published_location, "/m/v1.json");
  ASSERT_TRUE(store->MarkPublished(second).ok());
  ASSERT_TRUE(store->AdvanceIcebergPointer("ds", "default", "events").ok());
  EXPECT_EQ(row().published_location, "/m/v3.json");
  EXPECT_EQ(row().previous_metadata_location, "/m/v1.json");
  // A stale writer still loses the compare-and-set against the writers' pointer.
  EXPECT_EQ(commit("/m/v2.json", "/m/v4.json", false, nullptr).code(), StatusCode::kAborted);
}

}  // namespace
}  // namespace weir
