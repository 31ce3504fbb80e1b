// s3::Client against a real S3 server: s3rver (npm, installed by scripts/install-deps.sh) on
// loopback, started by this suite, directly and through FaultProxy (tests/common/fault_proxy.h),
// a loopback HTTP proxy that injects S3's failures (503 SlowDown, 500, connection resets,
// stalls, responses cut mid-body) into chosen requests. What weir wrote is read back
// independently with boto3 (Debian's python3-boto3).
#include "io/s3_client.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>

#include "../common/process_util.h"
#include "io/fs.h"
#include "../common/s3rver.h"
#include "../common/fault_proxy.h"

namespace weir::s3 {
namespace {

using e2e::FreeLoopbackPort;
using e2e::LoopbackService;
using e2e::Fault;
using e2e::FaultProxy;

constexpr char kBucket[] = "weir-test";

std::string TempDir(const std::string& name) {
  std::string dir = "/tmp/weir-s3-" + name + "-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// One s3rver for the whole test process, with the bucket kBucket (credentials S3RVER/S3RVER).
class S3Server {
 public:
  static S3Server& Get() {
    static S3Server server;
    return server;
  }
  bool ok() const { return ok_; }
  std::string endpoint() const { return service_.endpoint(); }
  int port() const { return service_.port(); }

 private:
  S3Server() : dir_(TempDir("server")) { ok_ = service_.Start(dir_, kBucket); }
  // At the process's exit: the server's objects (~12 MB a run) go with it.
  ~S3Server() {
    service_.Stop();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  e2e::S3rver service_;
  bool ok_ = false;
};

Settings LocalSettings(const std::string& endpoint) {
  Settings s;
  s.endpoint = endpoint;
  s.path_style = true;
  s.credentials = {"S3RVER", "S3RVER", ""};
  s.base_backoff_ms = 5;
  s.max_backoff_ms = 50;
  return s;
}

#define REQUIRE_S3RVER()                                                                        \
  if (!S3Server::Get().ok())                                                                    \
  FAIL() << "s3rver did not start (node and the npm package s3rver are needed: run "            \
            "scripts/install-deps.sh)"

// ---- tests ------------------------------------------------------------------------------------

TEST(S3Url, ParsesBucketAndKeyAndRefusesBadBuckets) {
  auto u = ParseUrl("s3://raw-events/2025/11/a.jsonl");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->bucket, "raw-events");
  EXPECT_EQ(u->key, "2025/11/a.jsonl");
  EXPECT_EQ(ParseUrl("s3://lake").value().key, "");
  EXPECT_FALSE(IsS3Url("/data/lake"));
  auto bad = ParseUrl("s3://Bad_Bucket/x");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bucket name 'Bad_Bucket' is not valid"), std::string::npos);
}

TEST(S3Credentials, EnvironmentFirstThenTheSharedFileProfile) {
  const std::string dir = TempDir("creds");
  std::ofstream(dir + "/credentials") << "[default]\naws_access_key_id = AKDEFAULT\n"
                                         "aws_secret_access_key = secret-default\n\n"
                                         "[ci]\naws_access_key_id=AKCI\naws_secret_access_key=secret-ci\n"
                                         "aws_session_token = tok\n";
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::setenv("AWS_SHARED_CREDENTIALS_FILE", (dir + "/credentials").c_str(), 1);
  ::setenv("AWS_PROFILE", "ci", 1);
  auto c = ResolveCredentials();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKCI");
  EXPECT_EQ(c->secret_access_key, "secret-ci");
  EXPECT_EQ(c->session_token, "tok");
  ::setenv("AWS_PROFILE", "nope", 1);
  auto none = ResolveCredentials();
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("add the profile 'nope'"), std::string::npos);
  ::setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "secret-env", 1);
  EXPECT_EQ(ResolveCredentials().value().access_key_id, "AKENV");
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::unsetenv("AWS_PROFILE");
  ::unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

TEST(S3Client, PutGetHeadListAndDeleteRoundTrip) {
  REQUIRE_S3RVER();
  Settings s = LocalSettings(S3Server::Get().endpoint());
  s.list_page_keys = 2;  // several pages
  Client c(s);
  const std::vector<std::string> keys = {"rt/a b/é+&=?.txt", "rt/raw/2025/11/x-1.jsonl",
                                         "rt/raw/2025/11/x-2.jsonl", "rt/z", "rt/raw/2025/12/y.jsonl"};
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(c.Put(kBucket, keys[i], "object " + std::to_string(i) + " of " + keys[i]).ok());
  }
  auto listed = c.List(kBucket, "rt/raw/2025/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  std::vector<std::string> names;
  for (const auto& o : *listed) names.push_back(o.key);
  EXPECT_EQ(names, (std::vector<std::string>{"rt/raw/2025/11/x-1.jsonl", "rt/raw/2025/11/x-2.jsonl",
                                             "rt/raw/2025/12/y.jsonl"}));
  EXPECT_GE(c.stats().list.load(), 2u);  // more than one page
  auto whole = c.Get(kBucket, keys[0]);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(*whole, "object 0 of " + keys[0]);
  EXPECT_EQ(c.Get(kBucket, keys[0], 7, 4).value(), "0 of");
  EXPECT_EQ(c.Get(kBucket, keys[0], 7).value(), ("object 0 of " + keys[0]).substr(7));
  EXPECT_EQ(c.Get(kBucket, keys[0], 10000).value(), "");  // past the end: empty, not an error
  auto head = c.Head(kBucket, keys[3]);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, ("object 3 of " + keys[3]).size());
  ASSERT_TRUE(c.Delete(kBucket, keys[3]).ok());
  auto gone = c.Get(kBucket, keys[3]);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find("NoSuchKey"), std::string::npos) << gone.status().message();
  EXPECT_EQ(c.stats().retries.load(), 0u);
}

TEST(S3Client, WrongCredentialsFailAtOnceWithTheReason) {
  REQUIRE_S3RVER();
  Settings s = LocalSettings(S3Server::Get().endpoint());
  s.credentials = {"NOT-A-KEY", "S3RVER", ""};
  Client c(s);
  auto r = c.Get(kBucket, "anything");
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(r.status().retryable());
  EXPECT_NE(r.status().message().find("HTTP 403 InvalidAccessKeyId"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("check the credentials"), std::string::npos);
  EXPECT_EQ(c.stats().get.load(), 1u);  // no retries of a permanent refusal
}

TEST(S3Client, AnObjectAbovePartSizeIsUploadedInPartsAndReadsBackWhole) {
  REQUIRE_S3RVER();
  Settings s = LocalSettings(S3Server::Get().endpoint());
  s.part_bytes = 5u << 20;
  Client c(s);
  const std::string data = RandomBytes((12u << 20) + 12345, 7);
  ASSERT_TRUE(c.Put(kBucket, "mp/big.bin", data).ok());
  EXPECT_EQ(c.stats().post.load(), 2u);  // initiate + complete
  EXPECT_EQ(c.stats().put.load(), 3u);   // three parts
  auto back = c.Get(kBucket, "mp/big.bin");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(*back == data) << "the object read back differs (" << back->size() << " bytes)";
}

// A fifth of requests fail in each of S3's ways (503 SlowDown, 500, reset, stall, a response cut
// mid-body); every object still lands and reads back exactly.
TEST(S3Client, ServerErrorsResetsAndStallsAreRetriedUntilEveryObjectIsRight) {
  REQUIRE_S3RVER();
  std::mutex mu;
  std::mt19937 rng(20261203);
  FaultProxy proxy(S3Server::Get().port(), [&](const std::string&) {
    std::lock_guard<std::mutex> l(mu);
    const int roll = static_cast<int>(rng() % 100);
    if (roll < 8) return Fault::kSlowDown;
    if (roll < 14) return Fault::kInternal;
    if (roll < 20) return Fault::kReset;
    if (roll < 23) return Fault::kStall;
    if (roll < 30) return Fault::kCutBody;
    return Fault::kNone;
  });
  Settings s = LocalSettings(proxy.endpoint());
  s.stall_seconds = 1;
  s.max_attempts = 12;
  Client c(s);
  for (int i = 0; i < 30; ++i) {
    const std::string key = "faults/obj-" + std::to_string(i);
    const std::string data = RandomBytes(20000 + static_cast<size_t>(i) * 1000, static_cast<uint64_t>(i));
    Status put = c.Put(kBucket, key, data);
    ASSERT_TRUE(put.ok()) << put.ToString();
    auto back = c.Get(kBucket, key);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(*back == data) << key;
  }
  auto listed = c.List(kBucket, "faults/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->size(), 30u);
  for (Fault f : {Fault::kSlowDown, Fault::kInternal, Fault::kReset, Fault::kStall, Fault::kCutBody}) {
    EXPECT_GT(proxy.injected(f), 0) << "fault " << static_cast<int>(f) << " never injected";
  }
  EXPECT_GT(c.stats().retries.load(), 10u);
}

// Regression: s3rver answered a PUT before its bytes were on disk, and a GET right after was a
// 200 with an empty or cut body (S3Files.FsHelpers read "" for an object it had just written;
// the fault test above read a cut faults/obj-19). scripts/s3rver.js writes each object to a
// temporary file renamed into place once written. Here the first write of each object or part
// waits 200 ms, so without that fix a GET right after its PUT reads the object before its bytes
// have landed (the small object and the overwrite read "").
TEST(S3TestServer, AGetRightAfterAPutReadsTheWholeObjectEvenOnASlowDisk) {
  const std::string dir = TempDir("slow-server");
  e2e::S3rver slow;
  ASSERT_TRUE(slow.Start(dir, kBucket, 200))
      << "s3rver did not start (run scripts/install-deps.sh)";
  Settings s = LocalSettings(slow.endpoint());
  s.part_bytes = 5u << 20;
  Client c(s);
  // One small object, one of several stream chunks, one uploaded in three parts.
  const std::vector<size_t> sizes = {12, 300000, (11u << 20) + 7};
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string key = "slow/obj-" + std::to_string(i);
    const std::string data = RandomBytes(sizes[i], 100 + i);
    ASSERT_TRUE(c.Put(kBucket, key, data).ok()) << key;
    auto back = c.Get(kBucket, key);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->size(), data.size()) << key;
    EXPECT_TRUE(*back == data) << key;
  }
  // An overwrite by a shorter object: a reader sees the new one whole, not the old one's tail.
  ASSERT_TRUE(c.Put(kBucket, "slow/obj-1", "short now").ok());
  EXPECT_EQ(c.Get(kBucket, "slow/obj-1").value(), "short now");
  // No temporary file is left behind as an object: the listing holds the three keys only.
  auto listed = c.List(kBucket, "slow/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->size(), 3u);
  EXPECT_EQ(c.stats().retries.load(), 0u);
  slow.Stop();
  std::filesystem::remove_all(dir);
}

// The first GET is cut after a third of its body: the read goes on with a ranged GET from the
// first byte it has not delivered, and the sink sees every byte once.
TEST(S3Client, AReadCutMidBodyResumesWhereItStoppedWithoutRepeatingBytes) {
  REQUIRE_S3RVER();
  const std::string data = RandomBytes(3u << 20, 11);
  {
    Client direct(LocalSettings(S3Server::Get().endpoint()));
    ASSERT_TRUE(direct.Put(kBucket, "resume/obj", data).ok());
  }
  std::atomic<int> gets{0};
  FaultProxy proxy(S3Server::Get().port(), [&](const std::string& head) {
    return head.rfind("GET ", 0) == 0 && gets++ == 0 ? Fault::kCutBody : Fault::kNone;
  });
  Client c(LocalSettings(proxy.endpoint()));
  std::string seen;
  size_t chunks = 0;
  Status st = c.Read(kBucket, "resume/obj", 0, [&](std::string_view chunk) {
    seen.append(chunk);
    ++chunks;
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(seen.size(), data.size());
  EXPECT_TRUE(seen == data) << "bytes repeated or lost across the resume";
  EXPECT_EQ(c.stats().get.load(), 2u);
  const auto heads = proxy.heads();
  ASSERT_EQ(heads.size(), 2u);
  const size_t cut = data.size() / 3;
  EXPECT_NE(heads[1].find("Range: bytes="), std::string::npos) << heads[1];
  // The resume starts where the cut answer stopped delivering (a third of the body, give or
  // take what curl had buffered): never at 0.
  const size_t at = heads[1].find("Range: bytes=");
  const uint64_t from = std::strtoull(heads[1].c_str() + at + 13, nullptr, 10);
  EXPECT_GT(from, 0u);
  EXPECT_LE(from, cut);
}

// A part refused for good (403) fails the upload without retrying it, and the upload is aborted:
// nothing is left under the key.
TEST(S3Client, AFailingPartAbortsTheMultipartUpload) {
  REQUIRE_S3RVER();
  FaultProxy proxy(S3Server::Get().port(), [&](const std::string& head) {
    return head.find("partNumber=2") != std::string::npos ? Fault::kForbidden : Fault::kNone;
  });
  Settings s = LocalSettings(proxy.endpoint());
  s.part_bytes = 5u << 20;
  Client c(s);
  Status st = c.Put(kBucket, "mp/aborted.bin", RandomBytes(11u << 20, 3));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("HTTP 403 AccessDenied"), std::string::npos) << st.message();
  bool aborted = false;
  for (const auto& h : proxy.heads()) aborted |= h.rfind("DELETE /weir-test/mp/aborted.bin?uploadId=", 0) == 0;
  EXPECT_TRUE(aborted) << "no abort (DELETE ?uploadId) was sent";
  EXPECT_EQ(proxy.injected(Fault::kForbidden), 1);  // not retried
  auto gone = c.Head(kBucket, "mp/aborted.bin");
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
}

// boto3 (not weir) lists the bucket and reads what weir wrote, multipart included.
TEST(S3Client, Boto3ReadsWhatWeirWrote) {
  REQUIRE_S3RVER();
  if (std::system("/usr/bin/python3 -c 'import boto3' 2>/dev/null") != 0) {
    FAIL() << "python3-boto3 is missing: run scripts/install-deps.sh";
  }
  Settings s = LocalSettings(S3Server::Get().endpoint());
  s.part_bytes = 5u << 20;
  Client c(s);
  std::map<std::string, std::string> written = {
      {"boto/small.txt", "hello from weir\n"},
      {"boto/dir/é x.bin", RandomBytes(70000, 5)},
      {"boto/big.bin", RandomBytes((10u << 20) + 1, 9)}};
  for (const auto& [k, v] : written) ASSERT_TRUE(c.Put(kBucket, k, v).ok()) << k;
  const std::string dir = TempDir("boto");
  std::ofstream(dir + "/read.py")
      << "import boto3, hashlib, sys\n"
         "s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='S3RVER',\n"
         "                  aws_secret_access_key='S3RVER', region_name='us-east-1')\n"
         "for o in s3.list_objects_v2(Bucket='weir-test', Prefix='boto/')['Contents']:\n"
         "    body = s3.get_object(Bucket='weir-test', Key=o['Key'])['Body'].read()\n"
         "    print(o['Key'], o['Size'], hashlib.sha256(body).hexdigest())\n";
  const std::string cmd = "/usr/bin/python3 " + dir + "/read.py " + S3Server::Get().endpoint() +
                          " > " + dir + "/out.txt 2>" + dir + "/err.txt";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << std::ifstream(dir + "/err.txt").rdbuf();
  std::map<std::string, std::string> seen;
  std::ifstream out(dir + "/out.txt");
  std::string line;
  while (std::getline(out, line)) {
    const size_t hash_at = line.rfind(' ');
    const size_t size_at = line.rfind(' ', hash_at - 1);
    seen[line.substr(0, size_at)] = line.substr(size_at + 1);
  }
  ASSERT_EQ(seen.size(), written.size());
  for (const auto& [k, v] : written) {
    // sha256 of what weir wrote, by python too (hashlib), so neither side's hash code is trusted.
    const std::string hash_cmd = "/usr/bin/python3 -c \"import hashlib,sys; "
                                 "print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())\" " +
                                 dir + "/expect.bin";
    std::ofstream(dir + "/expect.bin", std::ios::binary) << v;
    FILE* p = ::popen(hash_cmd.c_str(), "r");
    char hash[80] = {0};
    ASSERT_NE(std::fgets(hash, sizeof(hash), p), nullptr);
    ::pclose(p);
    std::string h(hash);
    while (!h.empty() && h.back() == '\n') h.pop_back();
    EXPECT_EQ(seen[k], std::to_string(v.size()) + " " + h) << k;
  }
}

}  // namespace
}  // namespace weir::s3

namespace weir::s3 {
namespace {

TEST(S3Time, ParsesTheIsoTimesOfListings) {
  EXPECT_EQ(ParseIsoTime("1970-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(ParseIsoTime("2026-12-03T06:40:12.000Z"), 1796280012);
  EXPECT_EQ(ParseIsoTime("2000-02-29T23:59:59Z"), 951868799);
  EXPECT_EQ(ParseIsoTime("yesterday"), 0);
}

// io/fs.h on s3:// paths, as the lake, recovery and expire use it.
TEST(S3Files, FsHelpersActOnObjectsOfTheDefaultStorage) {
  REQUIRE_S3RVER();
  ::setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
  SetDefaultStorage(S3Server::Get().endpoint(), "us-east-1", 1);
  const std::string root = std::string("s3://") + kBucket + "/fs-helpers";
  ASSERT_TRUE(fs::IsRemote(root));
  EXPECT_FALSE(fs::IsRemote("/tmp/x"));
  EXPECT_FALSE(fs::Exists(root));
  ASSERT_TRUE(fs::CreateDirs(root + "/a/b").ok());  // nothing to create on S3
  ASSERT_TRUE(fs::WriteFile(root + "/a/b/one.txt", "one").ok());
  ASSERT_TRUE(fs::WriteFile(root + "/two.txt", "two!").ok());
  // A prefix exists once an object is under it; the object itself exists.
  EXPECT_TRUE(fs::Exists(root));
  EXPECT_TRUE(fs::Exists(root + "/a"));
  EXPECT_TRUE(fs::Exists(root + "/two.txt"));
  EXPECT_FALSE(fs::Exists(root + "/tw"));  // a key prefix is not a folder
  EXPECT_EQ(fs::ReadFile(root + "/a/b/one.txt").value(), "one");
  EXPECT_EQ(fs::FileSize(root + "/two.txt").value(), 4u);
  EXPECT_EQ(fs::ReadFile(root + "/nope").status().code(), StatusCode::kNotFound);

  // A rename from local disk uploads, then removes the local file.
  const std::string local = TempDir("fs-helpers") + "/staged";
  ASSERT_TRUE(fs::WriteFile(local, "staged bytes").ok());
  ASSERT_TRUE(fs::Rename(local, root + "/a/three.parquet").ok());
  EXPECT_FALSE(fs::Exists(local));
  EXPECT_EQ(fs::ReadFile(root + "/a/three.parquet").value(), "staged bytes");
  EXPECT_FALSE(fs::Rename(root + "/two.txt", root + "/x").ok());  // no rename within S3

  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  auto listed = fs::ListFilesWithInfo(root);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  std::vector<std::string> rels;
  for (const auto& f : *listed) {
    rels.push_back(f.rel);
    EXPECT_NEAR(static_cast<double>(f.mtime_s), static_cast<double>(now), 120.0) << f.rel;
  }
  EXPECT_EQ(rels, (std::vector<std::string>{"a/b/one.txt", "a/three.parquet", "two.txt"}));
  EXPECT_EQ((*listed)[2].size, 4u);
  EXPECT_EQ(fs::ListFilesRecursive(root + "/a").value(),
            (std::vector<std::string>{"b/one.txt", "three.parquet"}));

  ASSERT_TRUE(fs::RemoveFile(root + "/two.txt").ok());
  EXPECT_TRUE(fs::RemoveFile(root + "/two.txt").ok());  // already gone: not an error
  ASSERT_TRUE(fs::RemoveTree(root + "/a").ok());
  EXPECT_FALSE(fs::Exists(root));
  EXPECT_TRUE(fs::ListFilesRecursive(root).value().empty());
}

}  // namespace
}  // namespace weir::s3
