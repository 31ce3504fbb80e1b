// End-to-end tests of lake maintenance (exec/lake_maintenance.h) through the real `weir` binary:
// `weir lake compact` while `weir run` commits to the same table, --partition, write.sort_by,
// write.compaction.auto, `weir lake expire` (retained snapshots readable by `weir query
// --snapshot` and by the npm Iceberg reader icebird, expired files and old orphans gone, young
// files kept), and the YAML keys' validation.
#include <gtest/gtest.h>
#include <utime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "clickstream_util.h"
#include "e2e_util.h"
#include "gen/events.h"
#include "io/fs.h"
#include "lake/iceberg.h"
#include "lake/iceberg_commit.h"

namespace weir::e2e {
namespace {

namespace sfs = std::filesystem;

// A clickstream dataset in its own folder with generated input.
struct Project {
  std::string dir;
  std::vector<std::string> event_types;  // most frequent first
  explicit Project(const std::string& name, uint64_t events, int files, const std::string& write,
                   const std::string& extra = "") {
    dir = TempDir(name);
    event_types = Generate(dir, events, files, 7, /*malformed=*/0.0).event_types;
    WriteAll(Yaml(), ClickstreamYaml(write, extra));
  }
  std::string Yaml() const { return dir + "/dataset.yaml"; }
  std::string Table() const { return dir + "/lake/events"; }
};

// The last line of `weir query --format csv` (one row, one or more cells).
std::string QueryRow(const Project& p, const std::string& sql, const std::string& flags = "") {
  CmdResult r = Weir("query " + p.Yaml() + " \"" + sql + "\" --format csv " + flags);
  EXPECT_EQ(r.exit_code, 0) << sql << ": " << r.out;
  std::string s = r.out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') + 1);
}

// Count, distinct ids and an order-independent checksum of the ids, as `weir query` reads them.
std::string Fingerprint(const Project& p, const std::string& flags = "") {
  return QueryRow(p, "SELECT count(*), count(DISTINCT id), sum(hash(id)) FROM events", flags);
}

nlohmann::json JsonOf(const CmdResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  return j;
}

// The table's current metadata, found through the store's pointer (`weir lake snapshots`).
iceberg::TableMetadata CurrentMetadata(const Project& p) {
  CmdResult r = Weir("lake snapshots " + p.Yaml() + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  const std::string loc = JsonOf(r)["metadata_location"].get<std::string>();
  auto text = fs::ReadFile(loc);
  EXPECT_TRUE(text.ok()) << loc;
  auto m = iceberg::ParseTableMetadata(*text, loc);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

// Live data files of a snapshot (current when 0), with their record counts.
std::map<std::string, int64_t> LiveFiles(const Project& p, int64_t snapshot = 0) {
  const auto m = CurrentMetadata(p);
  std::map<std::string, int64_t> out;
  if (!m.current_snapshot_id) return out;
  auto live = iceberg::LiveEntries(m, snapshot ? snapshot : *m.current_snapshot_id,
                                   [](const std::string& l) { return fs::ReadFile(l); });
  EXPECT_TRUE(live.ok()) << live.status().ToString();
  for (const auto& e : *live) out[e.data_file.file_path] = e.data_file.record_count;
  return out;
}

// Live files per partition folder (relative to data/).
std::map<std::string, int> FilesPerPartition(const Project& p, int64_t snapshot = 0) {
  std::map<std::string, int> out;
  const std::string prefix = p.Table() + "/data/";
  for (const auto& [path, rows] : LiveFiles(p, snapshot)) {
    ++out[sfs::path(path.substr(prefix.size())).parent_path().string()];
  }
  return out;
}

// The ids icebird reads (through version-hint.text), sorted.
std::vector<std::string> IcebirdIds(const Project& p, const std::string& metadata_file = "") {
  return e2e::IcebirdIds(p.dir, metadata_file);
}

// icebird reads the current snapshot of a metadata file; to read another retained snapshot it is
// given a copy of the current metadata whose current snapshot (and main branch) is that one,
// written next to it for the read and removed after.
std::vector<std::string> IcebirdSnapshotIds(const Project& p, int64_t snapshot) {
  CmdResult r = Weir("lake snapshots " + p.Yaml() + " --json");
  const std::string loc = JsonOf(r)["metadata_location"].get<std::string>();
  nlohmann::json m = nlohmann::json::parse(ReadAll(loc));
  m["current-snapshot-id"] = snapshot;
  m["refs"]["main"]["snapshot-id"] = snapshot;
  const std::string name = "v999999.metadata.json";
  const std::string path = p.Table() + "/metadata/" + name;
  WriteAll(path, m.dump());
  auto ids = IcebirdIds(p, name);
  sfs::remove(path);
  return ids;
}

std::vector<std::string> QueryIds(const Project& p) {
  CmdResult r = Weir("query " + p.Yaml() + " 'SELECT id FROM events ORDER BY id' --format csv");
  EXPECT_EQ(r.exit_code, 0);
  std::vector<std::string> ids;
  size_t pos = r.out.find('\n') + 1;  // after the header
  while (pos < r.out.size()) {
    size_t nl = r.out.find('\n', pos);
    if (nl == std::string::npos) nl = r.out.size();
    if (nl > pos) ids.push_back(r.out.substr(pos, nl - pos));
    pos = nl + 1;
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

struct SnapshotRow {
  int64_t id;
  std::string operation;
  int64_t total_records;
};

std::vector<SnapshotRow> Snapshots(const Project& p) {
  CmdResult r = Weir("lake snapshots " + p.Yaml() + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::vector<SnapshotRow> out;
  const nlohmann::json j = JsonOf(r);  // not a temporary in the range-for (it would dangle)
  for (const auto& s : j["snapshots"]) {
    out.push_back({s["snapshot_id"].get<int64_t>(), s["operation"].get<std::string>(),
                   s["total_records"].get<int64_t>()});
  }
  return out;
}

void SetOld(const std::string& path, int days) {
  struct utimbuf t;
  t.actime = t.modtime = ::time(nullptr) - days * 86400;
  ASSERT_EQ(::utime(path.c_str(), &t), 0) << path;
}

TEST(LakeMaintenanceE2E, CompactionDuringARunningWriterLosesAndDuplicatesNothing) {
  // Many small commits (roll_records) so the run commits all the time while compaction runs.
  // (600, not 300: every snapshot is read back below, and under ASan each read costs seconds.)
  const std::string write = "  roll_records: 600\n  sort_by: [user_id]\n";
  Project p("compact-concurrent", 20000, 6, write);
  Project ref("compact-reference", 20000, 6, write);  // same input, never compacted

  std::atomic<bool> done{false};
  CmdResult run;
  std::thread writer([&] {
    run = Weir("run " + p.Yaml() + " --json");
    done = true;
  });
  int compactions = 0, during = 0, lost_races = 0;
  // One event type at a time (--partition), so each compaction is short and many of them
  // commit between the run's commits.
  for (size_t round = 0; !done; ++round) {
    const std::string type = p.event_types[round % std::min<size_t>(4, p.event_types.size())];
    CmdResult c = Weir("lake compact " + p.Yaml() +
                       " --target-file-mb 1 --json --partition "
                       "event_type=" +
                       type);
    ASSERT_EQ(c.exit_code, 0) << c.out;
    auto j = JsonOf(c);
    if (!j["snapshot_id"].is_null()) {
      ++compactions;
      during += done ? 0 : 1;
      lost_races += j["attempts"].get<int>() - 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  writer.join();
  ASSERT_EQ(run.exit_code, 0) << run.out;
  CmdResult last = Weir("lake compact " + p.Yaml() + " --target-file-mb 1 --json");
  ASSERT_EQ(last.exit_code, 0) << last.out;
  compactions += JsonOf(last)["snapshot_id"].is_null() ? 0 : 1;
  EXPECT_GE(during, 1) << "no compaction committed while the run was committing";
  std::printf("compactions: %d (%d during the run, %d lost races re-planned)\n", compactions,
              during, lost_races);

  ASSERT_EQ(Weir("run " + ref.Yaml() + " --json").exit_code, 0);
  const std::string want = Fingerprint(ref);
  EXPECT_EQ(Fingerprint(p), want);
  // icebird reads exactly the same ids (duplicates in the input included) from the current
  // snapshot.
  const auto ids = QueryIds(ref);
  ASSERT_GT(ids.size(), 19000u);
  EXPECT_EQ(IcebirdIds(p), ids);

  // Every snapshot is readable with its summary's row count; a replace reads exactly the rows
  // (count, distinct ids, id checksum) of its parent.
  const auto snaps = Snapshots(p);
  // Read on two threads (the test binary's other core is idle by then); checked in order below.
  std::vector<std::string> fps(snaps.size());
  {
    std::vector<std::thread> readers;
    for (size_t t = 0; t < 2; ++t) {
      readers.emplace_back([&, t] {
        for (size_t i = t; i < snaps.size(); i += 2) {
          fps[i] = Fingerprint(p, "--snapshot " + std::to_string(snaps[i].id));
        }
      });
    }
    for (auto& r : readers) r.join();
  }
  int replaces = 0;
  std::string prev;
  int64_t prev_n = 0;
  for (size_t i = 0; i < snaps.size(); ++i) {
    const auto& s = snaps[i];
    const std::string& fp = fps[i];
    const int64_t n = std::stoll(fp.substr(0, fp.find(',')));
    EXPECT_EQ(n, s.total_records) << "snapshot " << s.id;
    if (s.operation == "replace") {
      ++replaces;
      EXPECT_EQ(fp, prev) << "replace snapshot " << s.id << " changed the rows";
    } else {
      EXPECT_GT(n, prev_n) << "append snapshot " << s.id;
    }
    prev = fp;
    prev_n = n;
  }
  EXPECT_EQ(prev, want);
  EXPECT_EQ(replaces, compactions);
  // The store agrees with the table: nothing missing, no orphan (new files were renamed, the
  // rewritten ones are known as replaced).
  CmdResult check = Weir("lake check " + p.Yaml());
  EXPECT_EQ(check.exit_code, 0) << check.out;
  EXPECT_LT(LiveFiles(p).size(), LiveFiles(ref).size());
}

TEST(LakeMaintenanceE2E, PartitionOptionCompactsOnlyThatPartitionAndSortByOrdersNewFiles) {
  Project p("compact-partition", 8000, 4, "  roll_records: 200\n  sort_by: [user_id]\n");
  ASSERT_EQ(Weir("run " + p.Yaml() + " --json").exit_code, 0);
  const std::string before = Fingerprint(p);
  const auto files_before = FilesPerPartition(p);
  // The busiest partition's day: every event type of that day is compacted, nothing else.
  std::string day;
  int most = 0;
  for (const auto& [part, n] : files_before) {
    if (n > most) {
      most = n;
      day = part.substr(part.find("dt="));
    }
  }
  ASSERT_GE(most, 3);
  CmdResult c = Weir("lake compact " + p.Yaml() + " --partition '" + day + "' --json");
  ASSERT_EQ(c.exit_code, 0) << c.out;
  auto j = JsonOf(c);
  ASSERT_FALSE(j["snapshot_id"].is_null()) << c.out;
  ASSERT_GE(j["partitions"].size(), 1u);
  for (const auto& part : j["partitions"]) {
    EXPECT_NE(part["partition"].get<std::string>().find(day), std::string::npos) << c.out;
    EXPECT_GT(part["files_before"].get<int>(), part["files_after"].get<int>());
    EXPECT_EQ(part["files_after"].get<int>(), 1);  // small data: one file of the target size
    EXPECT_GT(part["rows"].get<int>(), 0);
    EXPECT_GT(part["mb_per_s"].get<double>(), 0);
  }
  const auto files_after = FilesPerPartition(p);
  for (const auto& [part, n] : files_before) {
    if (part.find(day) != std::string::npos) {
      EXPECT_EQ(files_after.at(part), 1) << part;
    } else {
      EXPECT_EQ(files_after.at(part), n) << part << " is not in --partition but changed";
    }
  }
  EXPECT_EQ(Fingerprint(p), before);
  // The text output names the partitions with files before -> after, rows and MB/s.
  CmdResult again = Weir("lake compact " + p.Yaml() + " --partition '" + day + "'");
  ASSERT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("nothing to compact"), std::string::npos) << again.out;

  // sort_by: every new file is ordered by user_id (NULLs last); the files it replaced were not.
  Duck duck;
  int new_files = 0, unsorted_old = 0;
  const std::string inversions =
      "SELECT count(*) FILTER (WHERE p IS NOT NULL AND (u IS NULL OR p > u)) FROM (SELECT "
      "user_id AS u, lag(user_id) OVER (ORDER BY file_row_number) AS p FROM read_parquet('";
  for (const auto& [path, rows] : LiveFiles(p)) {
    if (sfs::path(path).filename().string().rfind("compact-", 0) != 0) continue;
    ++new_files;
    EXPECT_EQ(duck.One(inversions + path + "', file_row_number = true))"), "0") << path;
  }
  const auto snaps = Snapshots(p);
  ASSERT_GE(snaps.size(), 2u);
  for (const auto& [path, rows] : LiveFiles(p, snaps[snaps.size() - 2].id)) {
    if (path.find(day) == std::string::npos) continue;
    unsorted_old += duck.One(inversions + path + "', file_row_number = true))") != "0";
  }
  EXPECT_GE(new_files, 1);
  EXPECT_GE(unsorted_old, 1) << "the input was sorted already: the test proves nothing";
}

TEST(LakeMaintenanceE2E, AutoCompactionAfterARunLeavesFewFilesPerPartition) {
  Project p("compact-auto", 8000, 4,
            "  roll_records: 200\n  compaction: {auto: true, min_files: 3}\n");
  Project ref("compact-auto-ref", 8000, 4, "  roll_records: 200\n");
  auto out = RunJson(p.Yaml());
  ASSERT_EQ(out["_exit"], 0) << out.dump();
  ASSERT_EQ(RunJson(ref.Yaml())["_exit"], 0);
  EXPECT_EQ(Fingerprint(p), Fingerprint(ref));
  const auto snaps = Snapshots(p);
  ASSERT_FALSE(snaps.empty());
  EXPECT_EQ(snaps.back().operation, "replace");
  // Against the run's last snapshot (the replace's parent): partitions with 3 or more small
  // files are one file now, the others are as the run left them.
  ASSERT_GE(snaps.size(), 2u);
  const auto files = FilesPerPartition(p);
  const auto before = FilesPerPartition(p, snaps[snaps.size() - 2].id);
  int compacted = 0;
  for (const auto& [part, n] : before) {
    if (n >= 3) {
      EXPECT_EQ(files.at(part), 1) << part;
      ++compacted;
    } else {
      EXPECT_EQ(files.at(part), n) << part;
    }
  }
  EXPECT_GE(compacted, 1);
}

TEST(LakeMaintenanceE2E, ExpireKeepsRetainedSnapshotsReadableAndRemovesExpiredFilesAndOldOrphans) {
  Project p("expire", 6000, 3, "  roll_records: 300\n");
  ASSERT_EQ(Weir("run " + p.Yaml() + " --json").exit_code, 0);
  const auto appended = LiveFiles(p);  // the files compaction will replace (most of them)
  ASSERT_EQ(Weir("lake compact " + p.Yaml()).exit_code, 0);
  const std::string want = Fingerprint(p);
  auto snaps = Snapshots(p);
  ASSERT_GE(snaps.size(), 4u);
  ASSERT_EQ(snaps.back().operation, "replace");
  const auto m = CurrentMetadata(p);

  // Orphans: old ones (a crashed commit's manifest, a stray data file, a crashed compaction's
  // hidden file) go; young ones (a writer's files not yet committed) stay.
  const std::string some_part = sfs::path(appended.begin()->first).parent_path().string();
  const std::string old_data = some_part + "/part-crashed-000001.parquet";
  const std::string old_hidden = some_part + "/.compact-crashed-0.parquet.staged";
  const std::string old_manifest = p.Table() + "/metadata/crashed-m0.avro";
  const std::string young_manifest = p.Table() + "/metadata/inflight-m0.avro";
  const std::string young_hidden = some_part + "/.compact-inflight-0.parquet.staged";
  for (const auto& f : {old_data, old_hidden, old_manifest, young_manifest, young_hidden}) {
    WriteAll(f, "not referenced by any snapshot");
  }
  for (const auto& f : {old_data, old_hidden, old_manifest}) SetOld(f, 30);

  // --dry-run lists and changes nothing.
  CmdResult dry =
      Weir("lake expire " + p.Yaml() + " --older-than 0s --retain-last 2 --dry-run --json");
  ASSERT_EQ(dry.exit_code, 0) << dry.out;
  auto dj = JsonOf(dry);
  EXPECT_EQ(dj["expired_snapshots"].size(), snaps.size() - 2);
  EXPECT_EQ(dj["orphans"].size(), 3u) << dry.out;
  EXPECT_EQ(Snapshots(p).size(), snaps.size());
  EXPECT_TRUE(sfs::exists(old_data));

  // Keep the last 2: the replace and its parent (which still reads the rewritten files).
  CmdResult e = Weir("lake expire " + p.Yaml() + " --older-than 0s --retain-last 2 --json");
  ASSERT_EQ(e.exit_code, 0) << e.out;
  auto ej = JsonOf(e);
  EXPECT_EQ(ej["expired_snapshots"].size(), snaps.size() - 2);
  EXPECT_EQ(ej["retained_snapshots"], 2);
  auto kept = Snapshots(p);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].id, snaps[snaps.size() - 2].id);
  EXPECT_EQ(kept[1].id, snaps.back().id);
  const auto current_ids = QueryIds(p);
  for (const auto& s : kept) {
    EXPECT_EQ(Fingerprint(p, "--snapshot " + std::to_string(s.id)), want) << s.id;
    EXPECT_EQ(IcebirdSnapshotIds(p, s.id), current_ids) << "icebird, snapshot " << s.id;
  }
  for (size_t i = 0; i + 2 < snaps.size(); ++i) {
    EXPECT_NE(Weir("query " + p.Yaml() + " 'SELECT 1' --snapshot " + std::to_string(snaps[i].id) +
                   " 2>/dev/null")
                  .exit_code,
              0)
        << "expired snapshot " << snaps[i].id << " is still readable";
    EXPECT_FALSE(sfs::exists(m.SnapshotById(snaps[i].id)->manifest_list)) << snaps[i].id;
  }
  for (const auto& f : {old_data, old_hidden, old_manifest}) EXPECT_FALSE(sfs::exists(f)) << f;
  for (const auto& f : {young_manifest, young_hidden}) EXPECT_TRUE(sfs::exists(f)) << f;
  // The retained parent still reads the rewritten files: they stay.
  for (const auto& [path, rows] : appended) EXPECT_TRUE(sfs::exists(path)) << path;
  EXPECT_EQ(IcebirdIds(p), QueryIds(p));

  // Keep only the current one: the files only the parent read are deleted, and the store
  // forgets them (lake check stays clean).
  e = Weir("lake expire " + p.Yaml() + " --older-than 0s --retain-last 1 --json");
  ASSERT_EQ(e.exit_code, 0) << e.out;
  ej = JsonOf(e);
  EXPECT_EQ(ej["expired_snapshots"].size(), 1u);
  const auto live = LiveFiles(p);
  int deleted = 0;
  for (const auto& [path, rows] : appended) {
    if (live.count(path)) {
      EXPECT_TRUE(sfs::exists(path)) << path;
    } else {
      EXPECT_FALSE(sfs::exists(path)) << path;
      ++deleted;
    }
  }
  EXPECT_GE(deleted, 2);
  EXPECT_EQ(ej["data_files"].size(), static_cast<size_t>(deleted));
  EXPECT_EQ(Fingerprint(p), want);
  EXPECT_EQ(Fingerprint(p, "--snapshot " + std::to_string(snaps.back().id)), want);
  const auto ids = IcebirdIds(p);
  EXPECT_EQ(ids, QueryIds(p));
  EXPECT_GT(ids.size(), 5900u);
  sfs::remove(young_manifest);
  sfs::remove(young_hidden);
  CmdResult check = Weir("lake check " + p.Yaml());
  EXPECT_EQ(check.exit_code, 0) << check.out;
  // Only the current metadata file and nothing of the expired snapshots is left in metadata/.
  int json_files = 0;
  for (const auto& f : sfs::directory_iterator(p.Table() + "/metadata")) {
    json_files += f.path().extension() == ".json";
  }
  EXPECT_EQ(json_files, 1);
  // A run after expire commits on top of it.
  ASSERT_EQ(Weir("run " + p.Yaml() + " --json").exit_code, 0);
  EXPECT_EQ(Fingerprint(p), want);
}

// Expire with the most aggressive settings (--older-than 0s --retain-last 1), alternating with
// compactions, while a run commits: the run never fails on a file expire removed (its cached
// metadata may name a snapshot expire dropped; it re-reads and plans again), expire never takes
// a file the run or a retained snapshot needs, and every committed row is there at the end.
TEST(LakeMaintenanceE2E, ExpireAndCompactionDuringARunningWriterKeepEveryCommittedRow) {
  const std::string write = "  roll_records: 300\n";
  Project p("expire-concurrent", 15000, 4, write);
  Project ref("expire-reference", 15000, 4, write);
  std::atomic<bool> done{false};
  CmdResult run;
  std::thread writer([&] {
    run = Weir("run " + p.Yaml() + " --json");
    done = true;
  });
  int expires = 0, expired_snapshots = 0;
  for (size_t round = 0; !done; ++round) {
    const std::string type = p.event_types[round % std::min<size_t>(4, p.event_types.size())];
    CmdResult c = Weir("lake compact " + p.Yaml() + " --json --partition event_type=" + type);
    ASSERT_EQ(c.exit_code, 0) << c.out;
    CmdResult e = Weir("lake expire " + p.Yaml() + " --older-than 0s --retain-last 1 --json");
    ASSERT_EQ(e.exit_code, 0) << e.out;
    ++expires;
    expired_snapshots += static_cast<int>(JsonOf(e)["expired_snapshots"].size());
  }
  writer.join();
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_GE(expired_snapshots, 1);
  std::printf("%d expires during the run removed %d snapshots\n", expires, expired_snapshots);
  ASSERT_EQ(Weir("run " + ref.Yaml() + " --json").exit_code, 0);
  EXPECT_EQ(Fingerprint(p), Fingerprint(ref));
  EXPECT_EQ(IcebirdIds(p), QueryIds(ref));
  CmdResult check = Weir("lake check " + p.Yaml());
  EXPECT_EQ(check.exit_code, 0) << check.out;
  // Once more after the run: the table ends with one snapshot and still every row.
  ASSERT_EQ(Weir("lake expire " + p.Yaml() + " --older-than 0s --retain-last 1").exit_code, 0);
  EXPECT_EQ(Snapshots(p).size(), 1u);
  EXPECT_EQ(Fingerprint(p), Fingerprint(ref));
}

// Two compactions of the same table at once: the second to commit finds some of its files
// already rewritten (the store refuses to replace them again), drops those partitions and
// commits the rest. No file is rewritten twice, no row lost or duplicated.
TEST(LakeMaintenanceE2E, ConcurrentCompactionsNeverRewriteAFileTwice) {
  Project p("compact-twice", 8000, 4, "  roll_records: 200\n");
  ASSERT_EQ(Weir("run " + p.Yaml() + " --json").exit_code, 0);
  const std::string want = Fingerprint(p);
  const size_t files_before = LiveFiles(p).size();
  CmdResult a, b;
  std::thread ta([&] { a = Weir("lake compact " + p.Yaml() + " --json"); });
  std::thread tb([&] { b = Weir("lake compact " + p.Yaml() + " --json"); });
  ta.join();
  tb.join();
  ASSERT_EQ(a.exit_code, 0) << a.out;
  ASSERT_EQ(b.exit_code, 0) << b.out;
  int64_t rewritten = 0, added = 0;
  for (const auto* r : {&a, &b}) {
    const nlohmann::json j = JsonOf(*r);
    for (const auto& part : j["partitions"]) {
      rewritten += part["rewritten_files"].get<int64_t>();
      added += part["new_files"].get<int64_t>();
    }
  }
  EXPECT_EQ(LiveFiles(p).size(), files_before - rewritten + added);
  EXPECT_EQ(Fingerprint(p), want);
  for (const auto& s : Snapshots(p)) {
    if (s.operation == "replace") {
      EXPECT_EQ(Fingerprint(p, "--snapshot " + std::to_string(s.id)), want) << s.id;
    }
  }
  CmdResult check = Weir("lake check " + p.Yaml());
  EXPECT_EQ(check.exit_code, 0) << check.out;
}

// A column added after some files were written: compaction reads the older files' rows with
// NULL there (whether a partition mixes old and new files or holds only old ones), and keeps
// the new files' values.
TEST(LakeMaintenanceE2E, CompactionAfterAnAddedColumnKeepsOldRowsNull) {
  Project p("compact-evolve", 4000, 2, "  roll_records: 150\n");
  ASSERT_EQ(Weir("run " + p.Yaml() + " --json").exit_code, 0);
  gen::GenEventsOptions o;
  o.count = 4000;
  o.files = 2;
  o.seed = 8;
  o.out_dir = p.dir + "/data2";
  ASSERT_TRUE(gen::GenerateEvents(o).ok());
  std::string manifest = ReadAll(p.dir + "/data/manifest.txt");
  for (const auto& e : sfs::directory_iterator(p.dir + "/data2")) {
    if (e.path().extension() == ".jsonl")
      manifest += "../data2/" + e.path().filename().string() + "\n";
  }
  WriteAll(p.dir + "/data/manifest.txt", manifest);
  std::string yaml = ReadAll(p.Yaml());
  const std::string after = "    user_id:    {path: /data/attributes/user_id, type: string}\n";
  ASSERT_NE(yaml.find(after), std::string::npos);
  yaml.replace(yaml.find(after), after.size(),
               after + "    device:     {path: /data/attributes/device, type: string}\n");
  WriteAll(p.Yaml(), yaml);
  ASSERT_EQ(Weir("run " + p.Yaml() + " --json").exit_code, 0);
  const std::string sql =
      "SELECT count(*), count(device), count(DISTINCT device), sum(hash(id || coalesce(device, "
      "'-'))) FROM events";
  const std::string before = QueryRow(p, sql);
  // Old rows have no device, new ones do: both kinds are there to be compacted.
  const int64_t rows = std::stoll(before.substr(0, before.find(',')));
  const int64_t with_device = std::stoll(before.substr(before.find(',') + 1));
  ASSERT_GT(with_device, 0) << before;
  ASSERT_LT(with_device, rows) << before;
  CmdResult c = Weir("lake compact " + p.Yaml() + " --json");
  ASSERT_EQ(c.exit_code, 0) << c.out;
  ASSERT_FALSE(JsonOf(c)["snapshot_id"].is_null());
  EXPECT_EQ(QueryRow(p, sql), before);
  CmdResult check = Weir("lake check " + p.Yaml());
  EXPECT_EQ(check.exit_code, 0) << check.out;
}

TEST(LakeMaintenanceE2E, BadMaintenanceKeysAreRejected) {
  struct Case {
    std::string write, want1, want2;
  };
  const std::vector<Case> cases = {
      {"  sort_by: [user_idd]\n", "write.sort_by",
       "unknown column 'user_idd' (did you mean 'user_id'?)"},
      {"  sort_by: user_id\n", "write.sort_by", "expected a list of column names"},
      {"  sort_by: [user_id, user_id]\n", "write.sort_by", "listed twice"},
      {"  compaction: {auto: true, min_file: 3}\n", "write.compaction.min_file",
       "did you mean 'min_files'"},
      {"  compaction: {min_files: 1}\n", "write.compaction.min_files", ""},
      {"  compaction: {auto: maybe}\n", "write.compaction.auto", "not a bool"},
      {"  compaction: true\n", "write.compaction", "expected a map"},
      {"  target_file_mb: 0\n", "write.target_file_mb", ""},
  };
  const std::string dir = TempDir("maintenance-keys");
  WriteAll(dir + "/data/manifest.txt", "a.jsonl\n");
  WriteAll(dir + "/data/a.jsonl", "");
  for (const auto& c : cases) {
    WriteAll(dir + "/dataset.yaml", ClickstreamYaml(c.write));
    CmdResult r = Weir("validate " + dir + "/dataset.yaml 2>&1");
    EXPECT_NE(r.exit_code, 0) << c.write;
    EXPECT_NE(r.out.find(c.want1), std::string::npos) << c.write << r.out;
    EXPECT_NE(r.out.find(c.want2), std::string::npos) << c.write << r.out;
  }
  // JSON-lines (Hive) tables cannot be compacted automatically.
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml("  compaction: {auto: true}\n"));
  std::string text = ReadAll(dir + "/dataset.yaml");
  text.replace(text.find("format: parquet"), 15, "format: jsonl");
  WriteAll(dir + "/dataset.yaml", text);
  CmdResult r = Weir("validate " + dir + "/dataset.yaml 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("write.compaction.auto"), std::string::npos) << r.out;
  // A good file validates.
  WriteAll(dir + "/dataset.yaml",
           ClickstreamYaml("  sort_by: [user_id, created_at]\n  target_file_mb: 64\n  compaction: "
                           "{auto: true, min_files: 4}\n"));
  r = Weir("validate " + dir + "/dataset.yaml 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

}  // namespace
}  // namespace weir::e2e
