// S3 (and S3-compatible: MinIO, s3rver, R2, ...) object storage over HTTP: get (ranged, and
// streamed with resume), put (multipart above a size, aborted on failure), head, list, delete.
//
// Requests are signed by libcurl (CURLOPT_AWS_SIGV4) with the payload marked UNSIGNED-PAYLOAD;
// XML answers are read with pugixml. No AWS SDK. Credentials come from the standard AWS
// environment variables or the shared credentials file (ResolveCredentials), never from a
// dataset's YAML or the store.
//
// Failures: 5xx, 429, S3's SlowDown/RequestTimeout/InternalError codes, connection failures,
// resets, timeouts and stalled transfers are retried with exponential backoff and full jitter,
// up to Settings::max_attempts; then the call fails with a retryable IOError that says what
// happened last. A permanent refusal fails at once: 404 (NotFound: missing key or bucket), 403
// and other 4xx (not retryable), each message naming the object and S3's error code.
//
// Ownership: a Client owns its libcurl connection cache. Thread-safety: every method may be
// called from several threads at once; each call uses its own curl handle, and the handles
// share connections.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir::s3 {

// "s3://bucket/some/key" -> {bucket, "some/key"} (key may be empty or a prefix).
struct Url {
  std::string bucket;
  std::string key;
};
bool IsS3Url(std::string_view text);
Result<Url> ParseUrl(std::string_view text);
// "2026-12-03T06:40:12.000Z" (S3's ISO 8601 timestamps) -> seconds since the epoch; 0 if unreadable.
int64_t ParseIsoTime(std::string_view text);

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials only
};
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) when set; otherwise the
// profile AWS_PROFILE (default "default") of the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials). NotFound, saying where it looked,
// when neither has a key pair.
Result<Credentials> ResolveCredentials();

struct Settings {
  // "http://127.0.0.1:4568" for a local server; empty: https://s3.<region>.amazonaws.com.
  std::string endpoint;
  std::string region = "us-east-1";
  // bucket in the path (http://host/bucket/key), as local servers need; otherwise in the host
  // name (http://bucket.host/key).
  bool path_style = false;
  Credentials credentials;
  int max_attempts = 8;
  int base_backoff_ms = 100;   // first retry waits up to this; doubles each attempt
  int max_backoff_ms = 10000;  // cap of one wait
  int connect_timeout_ms = 10000;
  // A transfer that moves less than one byte per second for this long is dropped and retried
  // (a stalled connection otherwise hangs a task forever).
  int stall_seconds = 30;
  // Objects larger than this are uploaded in parts of this size (S3's minimum part is 5 MiB).
  uint64_t part_bytes = 8ull << 20;
  int list_page_keys = 1000;  // max-keys of each ListObjectsV2 page
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;
  // LastModified of a listing, in seconds since the epoch (0 when the answer had none): what
  // `weir lake expire` judges an unreferenced object's age by, as it judges a file's mtime.
  int64_t last_modified_s = 0;
};

// Requests sent (attempts, retries included), by kind: the "requests per object" of benchmarks.
struct Stats {
  std::atomic<uint64_t> get{0}, put{0}, list{0}, head{0}, del{0}, post{0}, retries{0};
};

class Client {
 public:
  explicit Client(Settings settings);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Bytes [offset, offset + length) of the object (to its end when length is UINT64_MAX).
  Result<std::string> Get(const std::string& bucket, const std::string& key, uint64_t offset = 0,
                          uint64_t length = UINT64_MAX);
  // Streams the object from `offset` to its end into `sink`, chunk by chunk. A connection lost
  // mid-body resumes with a ranged GET from the first byte not yet delivered: `sink` sees every
  // byte once, in order. An error from `sink` stops the read and is returned.
  Status Read(const std::string& bucket, const std::string& key, uint64_t offset,
              const std::function<Status(std::string_view)>& sink);
  Result<ObjectInfo> Head(const std::string& bucket, const std::string& key);
  // Writes the object whole: one PUT up to Settings::part_bytes, a multipart upload above it
  // (aborted when any part fails for good, so no parts are left behind on the bucket).
  Status Put(const std::string& bucket, const std::string& key, std::string_view data);
  // Every object whose key starts with `prefix`, in key order (ListObjectsV2, all pages), or
  // the first `limit` of them (one page when it is small: "is anything under this prefix?").
  Result<std::vector<ObjectInfo>> List(const std::string& bucket, const std::string& prefix,
                                       size_t limit = SIZE_MAX);
  Status Delete(const std::string& bucket, const std::string& key);
  Status CreateBucket(const std::string& bucket);

  const Stats& stats() const;
  const Settings& settings() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The settings s3:// locations of this process use. A dataset's `storage:` block sets them
// (SetDefaultStorage) before anything is read; unset fields come from the environment:
// AWS_ENDPOINT_URL (empty: AWS itself), AWS_REGION or AWS_DEFAULT_REGION (default us-east-1).
// path_style: 1 or 0; -1 means "path style when an endpoint is set" (local and compatible
// servers), virtual-hosted style for AWS.
void SetDefaultStorage(const std::string& endpoint, const std::string& region, int path_style);
// The process's client for s3:// locations, created on first use (credentials from
// ResolveCredentials(); its NotFound when there are none). Thread-safe.
Result<std::shared_ptr<Client>> DefaultClient();
// The process's client if something used s3:// locations already, else null (never creates one):
// for reporting its request counts.
std::shared_ptr<Client> CreatedDefaultClient();

}  // namespace weir::s3
