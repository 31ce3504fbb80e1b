// The lake (an Iceberg table) and the error records on S3 (write.location and errors.location
// s3://...), on s3rver over loopback. What weir wrote is read back without weir: the bucket is
// listed and copied with boto3 and read by DuckDB, and the table is read by icebird (an
// independent Iceberg reader) over HTTP, following the metadata file the store's catalog names.
// Crashes before and after a commit must leave every record exactly once, and what a crashed
// attempt uploaded (orphans) must never be referenced by the table.
#include <gtest/gtest.h>
#include <utime.h>

#include <map>
#include <set>
#include <sstream>

#include "../common/s3rver.h"
#include "clickstream_util.h"
#include "s3_util.h"

namespace weir::e2e {
namespace {

constexpr char kBucket[] = "weir-lake";

std::string S3LakeYaml(const std::string& endpoint, const std::string& extra_write = "") {
  std::string yaml = ClickstreamYaml(extra_write, "storage:\n  endpoint: " + endpoint + "\n");
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = yaml.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    yaml.replace(at, from.size(), to);
  };
  replace("  location: lake\n", "  location: s3://" + std::string(kBucket) + "/lake\n");
  replace("  location: errors\n", "  location: s3://" + std::string(kBucket) + "/errors\n");
  return yaml;
}

// The writers' metadata location the store's catalog holds for the table (`weir lake history`
// is weir's; the store is read with sqlite3 here, as a JDBC-catalog client would).
std::string CatalogMetadata(const std::string& dir) {
  auto r = RunCmd("sqlite3 " + dir + "/.weir/store.db \"SELECT metadata_location FROM iceberg_tables "
                  "WHERE table_name = 'events'\"");
  std::string s = r.out;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// The ids icebird reads from the table on s3rver, following the catalog's metadata file.
std::multiset<std::string> IcebirdIdsOnS3(const S3rver& s3, const std::string& dir) {
  const std::string metadata = CatalogMetadata(dir);
  const std::string table = "s3://" + std::string(kBucket) + "/lake/events";
  EXPECT_EQ(metadata.rfind(table + "/metadata/", 0), 0u) << metadata;
  const std::string name = metadata.substr(metadata.rfind('/') + 1);
  // Locations in the metadata are s3:// URLs, which icebird fetches from AWS's virtual-hosted
  // address; s3rver serves the same objects over plain HTTP at the endpoint.
  CmdResult r = IcebirdRead(s3.endpoint() + "/" + kBucket + "/lake/events", name,
                            "https://" + std::string(kBucket) + ".s3.amazonaws.com=" +
                                s3.endpoint() + "/" + kBucket);
  std::multiset<std::string> ids;
  EXPECT_EQ(r.exit_code, 0) << r.out;
  if (r.exit_code != 0) return ids;
  auto rows = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_TRUE(rows.is_array()) << r.out;
  if (!rows.is_array()) return ids;
  for (const auto& row : rows) ids.insert(row["id"].get<std::string>());
  return ids;
}

// The generator's valid ids are unique per line; duplicates in the input repeat an id, so the
// expected multiset is every valid line's id: read straight from the bucket's copy.
std::string CountAndDistinct(Duck& duck, const std::string& glob) {
  auto rows = duck.Rows("SELECT count(*) || ' ' || count(DISTINCT id) FROM read_parquet('" + glob + "')");
  return rows.empty() || rows[0].empty() ? "?" : rows[0][0];
}

TEST(S3LakeE2E, AnIcebergTableAndErrorRecordsOnS3HoldEveryRecordOnce) {
  if (!HaveBoto3()) FAIL() << "python3-boto3 is missing: run scripts/install-deps.sh";
  if (!HaveIcebird()) FAIL() << "icebird is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("s3-lake");
  S3rver s3;
  ASSERT_TRUE(s3.Start(dir + "/s3", kBucket)) << "s3rver did not start (run scripts/install-deps.sh)";
  auto rep = Generate(dir, 8000, 3, 61);
  // Several commits, so partitions have several small files for compaction below.
  WriteAll(dir + "/dataset.yaml", S3LakeYaml(s3.endpoint(), "  roll_records: 3000\n"));
  const std::string env = S3rver::CredentialsEnv();

  auto j = RunJson(dir + "/dataset.yaml", env);
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  EXPECT_EQ(j["totals"]["written"], rep.totals.valid);
  EXPECT_EQ(j["totals"]["errored"], rep.totals.malformed);

  // Nothing of the lake on local disk; data files in Hive folders under data/, metadata under
  // metadata/ with unique names (S3 has no exclusive create), errors under errors/clickstream/.
  EXPECT_FALSE(std::filesystem::exists(dir + "/lake"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/errors"));
  const auto objects = ListBucket(s3.endpoint(), kBucket, "");
  size_t data = 0, metadata_json = 0, errors = 0;
  for (const auto& [key, size] : objects) {
    if (key.rfind("lake/events/data/event_type=", 0) == 0 && key.ends_with(".parquet")) ++data;
    if (key.rfind("lake/events/metadata/", 0) == 0 && key.ends_with(".metadata.json")) {
      ++metadata_json;
      const std::string name = key.substr(key.rfind('/') + 1);
      EXPECT_EQ(name.find('-'), 5u) << name;  // <NNNNN>-<uuid>.metadata.json
    }
    if (key.rfind("errors/clickstream/errors-", 0) == 0) ++errors;
    EXPECT_TRUE(key.rfind("lake/events/", 0) == 0 || key.rfind("errors/clickstream/", 0) == 0) << key;
  }
  EXPECT_GT(data, 0u);
  EXPECT_GE(metadata_json, 1u);
  EXPECT_GT(errors, 0u);

  // Independent readers: DuckDB over a boto3 copy of the bucket, icebird over HTTP.
  DownloadBucket(s3.endpoint(), kBucket, "lake/", dir + "/copy");
  Duck duck;
  EXPECT_EQ(CountAndDistinct(duck, dir + "/copy/lake/events/data/**/*.parquet"),
            std::to_string(rep.totals.valid) + " " + std::to_string(rep.totals.unique));
  const auto ids = IcebirdIdsOnS3(s3, dir);
  EXPECT_EQ(ids.size(), rep.totals.valid);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), rep.totals.unique);

  // weir query reads the table (through local copies of the objects).
  auto q = Weir("query " + dir + "/dataset.yaml \"SELECT count(*), count(DISTINCT id) FROM events\" --format csv", env);
  EXPECT_EQ(q.exit_code, 0) << q.out;
  EXPECT_NE(q.out.find(std::to_string(rep.totals.valid) + "," + std::to_string(rep.totals.unique)),
            std::string::npos) << q.out;

  // Error records at their offsets, read from the objects.
  const auto by_offset = ErrorsByOffset(dir + "/dataset.yaml", env);
  ASSERT_EQ(by_offset.size(), rep.totals.malformed);
  for (const auto& f : rep.files) {
    for (const auto& m : f.malformed) {
      auto it = by_offset.find({f.name, m.offset});
      ASSERT_NE(it, by_offset.end()) << f.name << " line " << m.line << " offset " << m.offset;
      EXPECT_EQ(it->second["end_offset"].get<uint64_t>(), m.offset + m.length);
    }
  }

  // `weir lake check` finds every committed object in place and no orphan.
  auto check = Weir("lake check " + dir + "/dataset.yaml", env);
  EXPECT_EQ(check.exit_code, 0) << check.out;

  // A second run has nothing to do and changes nothing in the bucket.
  auto again = RunJson(dir + "/dataset.yaml", env);
  EXPECT_EQ(again["_exit"], 0) << again.dump();
  EXPECT_EQ(again["tasks_run"], 0);
  EXPECT_EQ(ListBucket(s3.endpoint(), kBucket, ""), objects);

  // Compaction rewrites the small files through local disk; the table reads the same after.
  auto compact = Weir("lake compact " + dir + "/dataset.yaml --target-file-mb 64 --json", env);
  EXPECT_EQ(compact.exit_code, 0) << compact.out;
  auto compacted = nlohmann::json::parse(compact.out, nullptr, false);
  ASSERT_TRUE(compacted.is_object()) << compact.out;
  EXPECT_GT(compacted["partitions"].size(), 0u) << compact.out;
  EXPECT_EQ(compacted["metadata_location"].get<std::string>().rfind(
                "s3://" + std::string(kBucket) + "/lake/events/metadata/", 0),
            0u) << compact.out;
  EXPECT_EQ(CatalogMetadata(dir), compacted["metadata_location"].get<std::string>());
  const auto after = IcebirdIdsOnS3(s3, dir);
  EXPECT_EQ(after, ids);
  auto q2 = Weir("query " + dir + "/dataset.yaml \"SELECT count(*), count(DISTINCT id) FROM events\" --format csv", env);
  EXPECT_NE(q2.out.find(std::to_string(rep.totals.valid) + "," + std::to_string(rep.totals.unique)),
            std::string::npos) << q2.out;
}

// kill -9 after files were uploaded but before their commit (orphans on the bucket), then after a
// commit: the table holds every record once, no snapshot references an orphan, `weir lake check`
// names the orphans and `weir lake expire` deletes them once they are old enough.
TEST(S3LakeE2E, KillsBeforeAndAfterACommitLeaveOrphansOnlyAndEveryRowOnce) {
  if (!HaveBoto3()) FAIL() << "python3-boto3 is missing: run scripts/install-deps.sh";
  if (!HaveIcebird()) FAIL() << "icebird is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("s3-lake-kill");
  S3rver s3;
  ASSERT_TRUE(s3.Start(dir + "/s3", kBucket)) << "s3rver did not start (run scripts/install-deps.sh)";
  auto rep = Generate(dir, 9000, 2, 67);
  WriteAll(dir + "/dataset.yaml", S3LakeYaml(s3.endpoint(), "  roll_records: 3000\n"));
  const std::string env = S3rver::CredentialsEnv();

  auto before = Weir("run " + dir + "/dataset.yaml --json",
                     env + " WEIR_CRASH_AT=after-stage WEIR_CRASH_AFTER_COMMITS=2");
  EXPECT_EQ(before.signal, 9) << before.out;
  auto after = Weir("run " + dir + "/dataset.yaml --json",
                    env + " WEIR_CRASH_AT=after-commit WEIR_CRASH_AFTER_COMMITS=0");
  EXPECT_EQ(after.signal, 9) << after.out;
  auto j = RunJson(dir + "/dataset.yaml", env);
  ASSERT_EQ(j["_exit"], 0) << j.dump();

  const auto ids = IcebirdIdsOnS3(s3, dir);
  EXPECT_EQ(ids.size(), rep.totals.valid);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), rep.totals.unique);
  auto q = Weir("query " + dir + "/dataset.yaml \"SELECT count(*) FROM events\" --format csv", env);
  EXPECT_EQ(q.exit_code, 0) << "signal " << q.signal << ": " << q.out;
  EXPECT_NE(q.out.find(std::to_string(rep.totals.valid)), std::string::npos)
      << "exit " << q.exit_code << ", signal " << q.signal << ": " << q.out;
  EXPECT_EQ(ErrorsByOffset(dir + "/dataset.yaml", env).size(), rep.totals.malformed);

  // The first crash uploaded data files no commit recorded: orphans, named by `lake check`.
  auto check = Weir("lake check " + dir + "/dataset.yaml --json", env);
  auto report = nlohmann::json::parse(check.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << check.out;
  ASSERT_TRUE(report.contains("orphans")) << check.out;
  const auto orphans = report["orphans"];
  EXPECT_GT(orphans.size(), 0u) << check.out;
  for (const auto& o : orphans) EXPECT_EQ(o.get<std::string>().rfind("s3://", 0), 0u) << o;

  // Expire deletes orphans only once they are older than an hour (a writer's files in flight
  // are younger): age them on s3rver's disk, as an hour passing would.
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) - 7200;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir + "/s3/data")) {
    struct utimbuf times{t, t};
    ::utime(entry.path().c_str(), &times);
  }
  auto expire = Weir("lake expire " + dir + "/dataset.yaml --older-than 1h --json", env);
  EXPECT_EQ(expire.exit_code, 0) << expire.out;
  const auto objects = ListBucket(s3.endpoint(), kBucket, "lake/");
  for (const auto& o : orphans) {
    const std::string key = o.get<std::string>().substr(std::string("s3://").size() + sizeof(kBucket));
    EXPECT_EQ(objects.count(key), 0u) << key << " was not expired\n" << expire.out;
  }
  EXPECT_EQ(IcebirdIdsOnS3(s3, dir), ids);
  auto check2 = Weir("lake check " + dir + "/dataset.yaml", env);
  EXPECT_EQ(check2.exit_code, 0) << check2.out;

  // --restart loads everything again into a new table and deletes the old objects.
  const auto old_objects = ListBucket(s3.endpoint(), kBucket, "");
  auto restarted = RunJson(dir + "/dataset.yaml", env, "--restart");
  ASSERT_EQ(restarted["_exit"], 0) << restarted.dump();
  EXPECT_EQ(IcebirdIdsOnS3(s3, dir), ids);
  EXPECT_EQ(ErrorsByOffset(dir + "/dataset.yaml", env).size(), rep.totals.malformed);
  const auto new_objects = ListBucket(s3.endpoint(), kBucket, "");
  for (const auto& [key, size] : old_objects) {
    if (key.ends_with("/_weir_owner.json")) continue;  // the folders' claims stay
    if (key.rfind("lake/events/data/", 0) == 0 || key.rfind("errors/", 0) == 0 ||
        key.ends_with(".metadata.json")) {
      EXPECT_EQ(new_objects.count(key), 0u) << key << " outlived --restart";
    }
  }
}

}  // namespace
}  // namespace weir::e2e
