// A files dataset whose inputs live on S3 (read.location: s3://bucket/prefix, the manifest local),
// read from s3rver on loopback. The objects are uploaded by boto3 (Debian's python3-boto3), not by
// weir; the lake and the error records are checked against the generator's answer key and the
// local copies of the files, as BatchE2E does for local inputs.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "../common/s3rver.h"
#include "clickstream_util.h"
#include "s3_util.h"

namespace weir::e2e {
namespace {

constexpr char kBucket[] = "weir-e2e";

std::string S3Yaml(const std::string& endpoint, const std::string& prefix) {
  std::string yaml = ClickstreamYaml("", "storage:\n  endpoint: " + endpoint + "\n");
  const std::string local = "  location: data\n";
  yaml.replace(yaml.find(local), local.size(), "  location: s3://" + std::string(kBucket) + "/" + prefix + "\n");
  return yaml;
}

TEST(S3InputE2E, InputsOnS3LoadExactlyWithErrorsAtTheirOffsets) {
  if (!HaveBoto3()) FAIL() << "python3-boto3 is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("s3-input");
  S3rver s3;
  ASSERT_TRUE(s3.Start(dir + "/s3", kBucket)) << "s3rver did not start (run scripts/install-deps.sh)";
  auto rep = Generate(dir, 12000, 3, 41);
  ASSERT_EQ(UploadDir(s3.endpoint(), kBucket, dir + "/data", "raw/2026/"), "");
  WriteAll(dir + "/dataset.yaml", S3Yaml(s3.endpoint(), "raw/2026"));

  // validate checks the entries against one listing of the prefix.
  auto v = Weir("validate " + dir + "/dataset.yaml", S3rver::CredentialsEnv());
  EXPECT_EQ(v.exit_code, 0) << v.out;
  EXPECT_NE(v.out.find("manifest: 3 file(s)\n"), std::string::npos) << v.out;

  auto j = RunJson(dir + "/dataset.yaml", S3rver::CredentialsEnv());
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  ASSERT_EQ(j["tasks"].size(), 3u);
  EXPECT_EQ(j["totals"]["read"], rep.totals.lines);
  EXPECT_EQ(j["totals"]["written"], rep.totals.valid);
  EXPECT_EQ(j["totals"]["errored"], rep.totals.malformed);
  for (const auto& t : j["tasks"]) EXPECT_EQ(t["status"], "COMPLETED") << t.dump();

  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + LakeGlob(dir) + "', hive_partitioning = true)"),
            std::to_string(rep.totals.valid));
  EXPECT_EQ(duck.One("SELECT count(*) FROM (SELECT DISTINCT id FROM read_parquet('" + LakeGlob(dir) + "'))"),
            std::to_string(rep.totals.unique));

  // One error record per malformed line, its offsets on the bad bytes of the object (the same
  // bytes as the local file it was uploaded from).
  const auto by_offset = ErrorsByOffset(dir + "/dataset.yaml");
  ASSERT_EQ(by_offset.size(), rep.totals.malformed);
  for (const auto& f : rep.files) {
    const std::string bytes = ReadAll(dir + "/data/" + f.name);
    for (const auto& m : f.malformed) {
      auto it = by_offset.find({f.name, m.offset});
      ASSERT_NE(it, by_offset.end()) << f.name << " line " << m.line << " offset " << m.offset;
      EXPECT_EQ(it->second["end_offset"].get<uint64_t>(), m.offset + m.length);
      if (!it->second.contains("excerpt_base64")) {
        EXPECT_EQ(it->second["excerpt"].get<std::string>(),
                  bytes.substr(m.offset, std::min<uint64_t>(m.length, 1024)));
      }
    }
  }

  // Nothing left to do: a second run reads nothing and changes nothing.
  auto fp = LakeFingerprint(duck, dir);
  auto again = RunJson(dir + "/dataset.yaml", S3rver::CredentialsEnv());
  EXPECT_EQ(again["_exit"], 0) << again.dump();
  EXPECT_EQ(again["tasks_run"], 0);
  EXPECT_EQ(LakeFingerprint(duck, dir), fp);
}

// gzip objects are decompressed like local .gz files; a run killed (-9) in the middle goes on from
// its checkpoints on S3 objects and lands every row once.
TEST(S3InputE2E, GzipObjectsAndAKillNineMidRunLandEveryRowOnce) {
  if (!HaveBoto3()) FAIL() << "python3-boto3 is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("s3-gzip");
  S3rver s3;
  ASSERT_TRUE(s3.Start(dir + "/s3", kBucket)) << "s3rver did not start (run scripts/install-deps.sh)";
  auto rep = Generate(dir, 30000, 2, 43, 0.01, "gzip");
  ASSERT_EQ(UploadDir(s3.endpoint(), kBucket, dir + "/data", "gz/"), "");
  WriteAll(dir + "/dataset.yaml", S3Yaml(s3.endpoint(), "gz") + "");
  // Small commits, and a crash after the second one.
  std::string yaml = ReadAll(dir + "/dataset.yaml");
  yaml.replace(yaml.find("  columns:\n"), 11, "  roll_records: 2000\n  columns:\n");
  WriteAll(dir + "/dataset.yaml", yaml);
  auto crashed = Weir("run " + dir + "/dataset.yaml --json",
                      S3rver::CredentialsEnv() + " WEIR_CRASH_AT=after-commit WEIR_CRASH_AFTER_COMMITS=2");
  EXPECT_EQ(crashed.signal, 9) << crashed.out;
  auto j = RunJson(dir + "/dataset.yaml", S3rver::CredentialsEnv());
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + LakeGlob(dir) + "')"),
            std::to_string(rep.totals.valid));
  EXPECT_EQ(duck.One("SELECT count(*) FROM (SELECT DISTINCT id FROM read_parquet('" + LakeGlob(dir) + "'))"),
            std::to_string(rep.totals.unique));
  auto er = Weir("errors " + dir + "/dataset.yaml --json");
  EXPECT_EQ(static_cast<uint64_t>(std::count(er.out.begin(), er.out.end(), '\n')), rep.totals.malformed);
}

// read.manifest: {list, glob} instead of a manifest file: the objects under the prefix that match
// the glob become tasks (not manifest.txt or gen-summary.json, which were uploaded too; a
// sub-folder's object is included), and an object uploaded later becomes a task of the next run.
TEST(S3InputE2E, AListingMakesATaskPerMatchingObjectAndPicksUpNewOnes) {
  if (!HaveBoto3()) FAIL() << "python3-boto3 is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("s3-listing");
  S3rver s3;
  ASSERT_TRUE(s3.Start(dir + "/s3", kBucket)) << "s3rver did not start (run scripts/install-deps.sh)";
  auto rep = Generate(dir, 6000, 3, 53);
  WriteAll(dir + "/data/sub/extra.jsonl", ReadAll(dir + "/data/" + rep.files[0].name));
  ASSERT_EQ(UploadDir(s3.endpoint(), kBucket, dir + "/data", "listed/"), "");
  ASSERT_EQ(UploadDir(s3.endpoint(), kBucket, dir + "/data/sub", "listed/sub/"), "");
  std::string yaml = S3Yaml(s3.endpoint(), "listed");
  const std::string manifest = "  manifest: data/manifest.txt\n";
  yaml.replace(yaml.find(manifest), manifest.size(),
               "  manifest: {list: 's3://" + std::string(kBucket) + "/listed', glob: '*.jsonl'}\n");
  WriteAll(dir + "/dataset.yaml", yaml);
  auto j = RunJson(dir + "/dataset.yaml", S3rver::CredentialsEnv());
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  std::set<std::string> files;
  for (const auto& t : j["tasks"]) files.insert(t["file"].get<std::string>());
  std::set<std::string> expected{"sub/extra.jsonl"};
  for (const auto& f : rep.files) expected.insert(f.name);
  EXPECT_EQ(files, expected);
  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + LakeGlob(dir) + "')"),
            std::to_string(rep.totals.valid + rep.files[0].counts.valid));
  // A new object: the next run lists it and runs it alone.
  WriteAll(dir + "/late/late.jsonl", ReadAll(dir + "/data/" + rep.files[1].name));
  ASSERT_EQ(UploadDir(s3.endpoint(), kBucket, dir + "/late", "listed/"), "");
  auto again = RunJson(dir + "/dataset.yaml", S3rver::CredentialsEnv());
  ASSERT_EQ(again["_exit"], 0) << again.dump();
  EXPECT_EQ(again["tasks_run"], 1) << again.dump();
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_parquet('" + LakeGlob(dir) + "')"),
            std::to_string(rep.totals.valid + rep.files[0].counts.valid + rep.files[1].counts.valid));
  // A glob nothing matches is refused with the reason.
  yaml.replace(yaml.find("'*.jsonl'"), 9, "'*.csv'");
  WriteAll(dir + "/dataset.yaml", yaml);
  auto none = Weir("run " + dir + "/dataset.yaml", S3rver::CredentialsEnv());
  EXPECT_EQ(none.exit_code, 2) << none.out;
}

// The same listing over a local folder.
TEST(ListingE2E, ALocalFolderListingReadsTheMatchingFiles) {
  const std::string dir = TempDir("local-listing");
  auto rep = Generate(dir, 3000, 2, 59);
  std::string yaml = ClickstreamYaml();
  const std::string manifest = "  manifest: data/manifest.txt\n";
  yaml.replace(yaml.find(manifest), manifest.size(), "  manifest: {list: data, glob: 'events-*'}\n");
  WriteAll(dir + "/dataset.yaml", yaml);
  auto v = Weir("validate " + dir + "/dataset.yaml");
  EXPECT_EQ(v.exit_code, 0) << v.out;
  EXPECT_NE(v.out.find("manifest: " + std::to_string(rep.files.size()) + " file(s)\n"),
            std::string::npos)
      << v.out;
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  EXPECT_EQ(j["tasks"].size(), rep.files.size());
  EXPECT_EQ(j["totals"]["written"], rep.totals.valid);
}

// Without credentials, or with an object missing, the task fails with the reason (no retry loop,
// nothing written for it).
TEST(S3InputE2E, MissingCredentialsAndAMissingObjectFailTheTaskWithTheReason) {
  if (!HaveBoto3()) FAIL() << "python3-boto3 is missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("s3-missing");
  S3rver s3;
  ASSERT_TRUE(s3.Start(dir + "/s3", kBucket)) << "s3rver did not start (run scripts/install-deps.sh)";
  Generate(dir, 500, 2, 47);
  ASSERT_EQ(UploadDir(s3.endpoint(), kBucket, dir + "/data", "only/"), "");
  WriteAll(dir + "/dataset.yaml", S3Yaml(s3.endpoint(), "only"));
  auto no_creds = RunJson(dir + "/dataset.yaml",
                          "env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=none "
                          "AWS_SHARED_CREDENTIALS_FILE=" + dir + "/no-such-file");
  EXPECT_NE(no_creds["_exit"], 0) << no_creds.dump();
  EXPECT_NE(no_creds.dump().find("no S3 credentials: set AWS_ACCESS_KEY_ID"), std::string::npos)
      << no_creds.dump();
  // An entry with no object behind it.
  std::string manifest = ReadAll(dir + "/data/manifest.txt");
  WriteAll(dir + "/data/manifest.txt", manifest + "not-uploaded.jsonl\n");
  auto v = Weir("validate " + dir + "/dataset.yaml", S3rver::CredentialsEnv());
  EXPECT_NE(v.out.find("warning: manifest entry 'not-uploaded.jsonl': "
                       "s3://weir-e2e/only/not-uploaded.jsonl does not exist (yet)"),
            std::string::npos)
      << v.out;
  EXPECT_NE(v.out.find("manifest: 3 file(s), 1 missing"), std::string::npos) << v.out;
  auto missing = RunJson(dir + "/dataset.yaml", S3rver::CredentialsEnv(), "--restart");
  EXPECT_NE(missing["_exit"], 0);
  bool found = false;
  for (const auto& t : missing["tasks"]) {
    if (t["file"] != "not-uploaded.jsonl") continue;
    found = true;
    EXPECT_EQ(t["status"], "ERROR") << t.dump();
    EXPECT_NE(t.dump().find("s3://weir-e2e/only/not-uploaded.jsonl: no such object"), std::string::npos)
        << t.dump();
  }
  EXPECT_TRUE(found) << missing.dump();
}

}  // namespace
}  // namespace weir::e2e
