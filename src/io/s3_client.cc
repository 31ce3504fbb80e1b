#include "io/s3_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <pugixml.hpp>
#include <random>
#include <thread>

namespace weir::s3 {
namespace {

std::once_flag g_curl_init;

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

// S3's URI encoding: everything but the unreserved characters (and '/' in object keys) as %XX.
std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (Unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// S3's <Error><Code>..</Code><Message>..</Message></Error>, or empty strings.
std::pair<std::string, std::string> ErrorCode(const std::string& body) {
  pugi::xml_document doc;
  if (body.empty() || !doc.load_buffer(body.data(), body.size())) return {};
  pugi::xml_node e = doc.child("Error");
  return {e.child_value("Code"), e.child_value("Message")};
}

struct Request {
  const char* method = "GET";
  std::string bucket, key;
  std::vector<std::pair<std::string, std::string>> query;  // sent in this order, encoded here
  std::string_view body;
  bool ranged = false;
  uint64_t range_from = 0, range_to = UINT64_MAX;  // inclusive end; UINT64_MAX: to the end
  const std::function<Status(std::string_view)>* sink = nullptr;  // streamed 2xx body
  std::atomic<uint64_t>* counter = nullptr;
};

struct Response {
  long status = 0;
  std::string body;  // the whole body, unless streamed into a sink
  std::map<std::string, std::string> headers;  // lower-case names
};

// One attempt's state, seen by curl's callbacks.
struct Transfer {
  CURL* handle = nullptr;
  const Request* req = nullptr;
  Response* resp = nullptr;
  uint64_t delivered = 0;  // bytes handed to the sink in this attempt
  uint64_t skip = 0;       // bytes to drop: a server that ignored our Range sent them again
  bool started = false;
  Status sink_error;
  size_t upload_at = 0;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  long code = 0;
  curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &code);
  if (t->req->sink == nullptr || code < 200 || code >= 300) {
    t->resp->body.append(data, len);
    return len;
  }
  if (!t->started) {
    t->started = true;
    if (code == 200 && t->req->range_from > 0) t->skip = t->req->range_from;
  }
  std::string_view chunk(data, len);
  const size_t drop = static_cast<size_t>(std::min<uint64_t>(t->skip, chunk.size()));
  chunk.remove_prefix(drop);
  t->skip -= drop;
  if (t->req->range_to != UINT64_MAX) {
    const uint64_t wanted = t->req->range_to - t->req->range_from + 1;
    if (t->delivered + chunk.size() > wanted) chunk = chunk.substr(0, static_cast<size_t>(wanted - t->delivered));
  }
  if (!chunk.empty()) {
    Status st = (*t->req->sink)(chunk);
    if (!st.ok()) {
      t->sink_error = std::move(st);
      return 0;  // stops the transfer
    }
    t->delivered += chunk.size();
  }
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  std::string_view line(data, len);
  if (line.rfind("HTTP/", 0) == 0) {
    t->resp->headers.clear();  // a new response (after 100 Continue, or a redirect)
    return len;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string value = Trim(line.substr(colon + 1));
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  t->resp->headers[name] = value;
  return len;
}

size_t OnUpload(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = std::min(size * n, t->req->body.size() - t->upload_at);
  std::memcpy(buf, t->req->body.data() + t->upload_at, len);
  t->upload_at += len;
  return len;
}

// curl rewinds the body when it sends it again on a new connection (the reused one was dead).
int OnSeek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > t->req->body.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t->upload_at = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

bool RetryableCurl(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:  // also what CURLOPT_LOW_SPEED_TIME (a stall) gives
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

bool RetryableCode(const std::string& code) {
  return code == "SlowDown" || code == "RequestTimeout" || code == "InternalError" ||
         code == "ServiceUnavailable" || code == "Throttling" || code == "RequestTimeTooSkewed";
}

}  // namespace

bool IsS3Url(std::string_view text) { return text.rfind("s3://", 0) == 0; }

int64_t ParseIsoTime(std::string_view text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  const std::string t(text);
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6) return 0;
  // Days from the civil date (proleptic Gregorian), so no time zone of this machine is involved.
  const int yy = y - (mo <= 2);
  const int era = (yy >= 0 ? yy : yy - 399) / 400;
  const int yoe = yy - era * 400;
  const int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = static_cast<int64_t>(era) * 146097 + doe - 719468;
  return days * 86400 + h * 3600 + mi * 60 + sec;
}

Result<Url> ParseUrl(std::string_view text) {
  if (!IsS3Url(text)) return Status::Invalid("'" + std::string(text) + "' is not an s3:// URL");
  std::string_view rest = text.substr(5);
  const size_t slash = rest.find('/');
  Url u;
  u.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) u.key = std::string(rest.substr(slash + 1));
  const bool valid_chars = std::all_of(u.bucket.begin(), u.bucket.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
  if (u.bucket.size() < 3 || u.bucket.size() > 63 || !valid_chars) {
    return Status::Invalid("'" + std::string(text) + "': the bucket name '" + u.bucket +
                           "' is not valid (3 to 63 lower-case letters, digits, '.' or '-'); "
                           "write s3://bucket/prefix");
  }
  return u;
}

Result<Credentials> ResolveCredentials() {
  Credentials c;
  c.access_key_id = Env("AWS_ACCESS_KEY_ID");
  c.secret_access_key = Env("AWS_SECRET_ACCESS_KEY");
  c.session_token = Env("AWS_SESSION_TOKEN");
  if (!c.access_key_id.empty() && !c.secret_access_key.empty()) return c;
  std::string path = Env("AWS_SHARED_CREDENTIALS_FILE");
  if (path.empty() && !Env("HOME").empty()) path = Env("HOME") + "/.aws/credentials";
  std::string profile = Env("AWS_PROFILE");
  if (profile.empty()) profile = "default";
  std::ifstream in(path);
  std::string line, section;
  Credentials f;
  while (in && std::getline(in, line)) {
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      section = Trim(std::string_view(t).substr(1, t.size() - 2));
      continue;
    }
    if (section != profile) continue;
    const size_t eq = t.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = Trim(std::string_view(t).substr(0, eq));
    const std::string v = Trim(std::string_view(t).substr(eq + 1));
    if (k == "aws_access_key_id") f.access_key_id = v;
    if (k == "aws_secret_access_key") f.secret_access_key = v;
    if (k == "aws_session_token") f.session_token = v;
  }
  if (!f.access_key_id.empty() && !f.secret_access_key.empty()) return f;
  return Status::NotFound(
      "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add the profile '" +
      profile + "' to " + (path.empty() ? std::string("~/.aws/credentials") : path));
}

struct Client::Impl {
  Settings settings;
  Stats stats;
  CURLSH* share = nullptr;
  std::mutex locks[CURL_LOCK_DATA_LAST];
  std::string scheme, host;  // of the endpoint
  std::mt19937_64 rng{std::random_device{}()};
  std::mutex rng_mu;

  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Impl*>(user)->locks[data].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Impl*>(user)->locks[data].unlock();
  }

  std::string UrlOf(const Request& r) const {
    std::string url = scheme + "://";
    if (settings.path_style) {
      url += host + "/" + UriEncode(r.bucket, false);
      if (!r.key.empty()) url += "/" + UriEncode(r.key, true);
    } else {
      url += UriEncode(r.bucket, false) + "." + host + "/" + UriEncode(r.key, true);
    }
    for (size_t i = 0; i < r.query.size(); ++i) {
      url += i == 0 ? "?" : "&";
      url += UriEncode(r.query[i].first, false);
      if (!r.query[i].second.empty()) url += "=" + UriEncode(r.query[i].second, false);
    }
    return url;
  }

  std::string Where(const Request& r) const {
    return std::string(r.method) + " s3://" + r.bucket + "/" + r.key;
  }

  // One attempt. Sets *retry when trying again may succeed.
  Status Attempt(const Request& r, Response* resp, Transfer* t, bool* retry) {
    *retry = false;
    CURL* h = curl_easy_init();
    if (h == nullptr) return Status::Internal("curl_easy_init failed");
    t->handle = h;
    t->req = &r;
    t->resp = resp;
    const std::string url = UrlOf(r);
    const std::string sigv4 = "aws:amz:" + settings.region + ":s3";
    const std::string userpwd =
        settings.credentials.access_key_id + ":" + settings.credentials.secret_access_key;
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    headers = curl_slist_append(headers, "Expect:");
    if (!settings.credentials.session_token.empty()) {
      headers = curl_slist_append(
          headers, ("x-amz-security-token: " + settings.credentials.session_token).c_str());
    }
    std::string range;
    if (r.ranged) {
      range = "Range: bytes=" + std::to_string(r.range_from) + "-" +
              (r.range_to == UINT64_MAX ? "" : std::to_string(r.range_to));
      headers = curl_slist_append(headers, range.c_str());
    }
    const std::string method = r.method;
    if (method == "PUT" || method == "POST") {
      headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    }
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_SHARE, share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(h, CURLOPT_USERPWD, userpwd.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings.connect_timeout_ms));
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(settings.stall_seconds));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    if (method == "PUT") {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, OnUpload);
      curl_easy_setopt(h, CURLOPT_READDATA, t);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, OnSeek);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, t);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    } else if (method == "POST") {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, r.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    } else if (method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method);
    }
    const CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    if (!t->sink_error.ok()) return t->sink_error;
    if (rc != CURLE_OK) {
      *retry = RetryableCurl(rc);
      return Status::IOError(Where(r) + ": " + curl_easy_strerror(rc), *retry);
    }
    if (resp->status >= 200 && resp->status < 300) return Status::OK();
    const auto [code, message] = ErrorCode(resp->body);
    std::string what = Where(r) + ": HTTP " + std::to_string(resp->status);
    if (!code.empty()) what += " " + code;
    if (!message.empty()) what += ": " + message;
    if (resp->status == 404) return Status::NotFound(what);
    *retry = resp->status == 429 || resp->status >= 500 || RetryableCode(code);
    if (resp->status == 403) {
      what += " (check the credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the shared "
              "credentials file, and the bucket's permissions)";
    }
    return Status::IOError(what, *retry);
  }

  // Attempts `r` until it succeeds, fails for good, or max_attempts pass. A streamed read that
  // broke mid-body goes on from the first byte its sink has not seen.
  Status Call(Request r, Response* resp) {
    Status last;
    for (int attempt = 1; attempt <= std::max(1, settings.max_attempts); ++attempt) {
      if (r.counter != nullptr) ++*r.counter;
      *resp = Response{};
      Transfer t;
      bool retry = false;
      last = Attempt(r, resp, &t, &retry);
      if (last.ok() || !retry) return last;
      if (r.sink != nullptr && t.delivered > 0) {
        r.ranged = true;
        r.range_from += t.delivered;
        if (r.range_to != UINT64_MAX && r.range_from > r.range_to) return Status::OK();
      }
      if (attempt == settings.max_attempts) break;
      ++stats.retries;
      // Full jitter: a fleet of retrying workers does not come back in step.
      const int cap = std::min(settings.max_backoff_ms,
                               settings.base_backoff_ms << std::min(attempt - 1, 16));
      int wait_ms = 0;
      {
        std::lock_guard<std::mutex> l(rng_mu);
        wait_ms = static_cast<int>(rng() % static_cast<uint64_t>(std::max(1, cap) + 1));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    }
    return Status::IOError(last.message() + " (gave up after " +
                               std::to_string(settings.max_attempts) + " attempts)",
                           true);
  }
};

Client::Client(Settings settings) : impl_(std::make_unique<Impl>()) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->settings = std::move(settings);
  Settings& s = impl_->settings;
  std::string endpoint = s.endpoint.empty() ? "https://s3." + s.region + ".amazonaws.com" : s.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  const size_t sep = endpoint.find("://");
  impl_->scheme = sep == std::string::npos ? "https" : endpoint.substr(0, sep);
  impl_->host = sep == std::string::npos ? endpoint : endpoint.substr(sep + 3);
  impl_->share = curl_share_init();
  curl_share_setopt(impl_->share, CURLSHOPT_LOCKFUNC, &Impl::Lock);
  curl_share_setopt(impl_->share, CURLSHOPT_UNLOCKFUNC, &Impl::Unlock);
  curl_share_setopt(impl_->share, CURLSHOPT_USERDATA, impl_.get());
  curl_share_setopt(impl_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  curl_share_setopt(impl_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
}

Client::~Client() {
  if (impl_ && impl_->share != nullptr) curl_share_cleanup(impl_->share);
}

const Stats& Client::stats() const { return impl_->stats; }
const Settings& Client::settings() const { return impl_->settings; }

Result<std::string> Client::Get(const std::string& bucket, const std::string& key, uint64_t offset,
                                uint64_t length) {
  std::string out;
  const std::function<Status(std::string_view)> sink = [&](std::string_view chunk) {
    out.append(chunk);
    return Status::OK();
  };
  Request r;
  r.bucket = bucket;
  r.key = key;
  r.sink = &sink;
  r.counter = &impl_->stats.get;
  if (offset > 0 || length != UINT64_MAX) {
    if (length == 0) return std::string();
    r.ranged = true;
    r.range_from = offset;
    r.range_to = length == UINT64_MAX ? UINT64_MAX : offset + length - 1;
  }
  Response resp;
  Status st = impl_->Call(std::move(r), &resp);
  // A range that starts at or past the end is an empty read, not an error.
  if (!st.ok() && resp.status == 416) return std::string();
  WEIR_RETURN_IF_ERROR(st);
  return out;
}

Status Client::Read(const std::string& bucket, const std::string& key, uint64_t offset,
                    const std::function<Status(std::string_view)>& sink) {
  Request r;
  r.bucket = bucket;
  r.key = key;
  r.sink = &sink;
  r.counter = &impl_->stats.get;
  r.ranged = offset > 0;
  r.range_from = offset;
  Response resp;
  Status st = impl_->Call(std::move(r), &resp);
  if (!st.ok() && resp.status == 416) return Status::OK();
  return st;
}

Result<ObjectInfo> Client::Head(const std::string& bucket, const std::string& key) {
  Request r;
  r.method = "HEAD";
  r.bucket = bucket;
  r.key = key;
  r.counter = &impl_->stats.head;
  Response resp;
  WEIR_RETURN_IF_ERROR(impl_->Call(std::move(r), &resp));
  ObjectInfo info;
  info.key = key;
  info.size = std::strtoull(resp.headers["content-length"].c_str(), nullptr, 10);
  info.etag = resp.headers["etag"];
  return info;
}

Status Client::Put(const std::string& bucket, const std::string& key, std::string_view data) {
  Impl& im = *impl_;
  const uint64_t part = std::max<uint64_t>(im.settings.part_bytes, 1);
  Response resp;
  if (data.size() <= part) {
    Request r;
    r.method = "PUT";
    r.bucket = bucket;
    r.key = key;
    r.body = data;
    r.counter = &im.stats.put;
    return im.Call(std::move(r), &resp);
  }
  Request init;
  init.method = "POST";
  init.bucket = bucket;
  init.key = key;
  init.query = {{"uploads", ""}};
  init.counter = &im.stats.post;
  WEIR_RETURN_IF_ERROR(im.Call(std::move(init), &resp));
  pugi::xml_document doc;
  doc.load_buffer(resp.body.data(), resp.body.size());
  const std::string upload_id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (upload_id.empty()) {
    return Status::IOError("POST s3://" + bucket + "/" + key + "?uploads: no UploadId in the answer",
                           true);
  }
  auto abort = [&](Status why) {
    Request a;
    a.method = "DELETE";
    a.bucket = bucket;
    a.key = key;
    a.query = {{"uploadId", upload_id}};
    a.counter = &im.stats.del;
    Response ignored;
    Status st = im.Call(std::move(a), &ignored);
    if (!st.ok() && st.code() != StatusCode::kNotFound) {
      return Status(why.code(),
                    why.message() + " (and aborting the multipart upload failed too: " +
                        st.message() + ")",
                    why.retryable());
    }
    return why;
  };
  std::string complete = "<CompleteMultipartUpload>";
  int number = 1;
  for (uint64_t at = 0; at < data.size(); at += part, ++number) {
    Request p;
    p.method = "PUT";
    p.bucket = bucket;
    p.key = key;
    p.query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}};
    p.body = data.substr(static_cast<size_t>(at), static_cast<size_t>(std::min<uint64_t>(part, data.size() - at)));
    p.counter = &im.stats.put;
    Status st = im.Call(std::move(p), &resp);
    if (!st.ok()) return abort(std::move(st));
    const std::string etag = resp.headers["etag"];
    if (etag.empty()) return abort(Status::IOError("part " + std::to_string(number) + " of s3://" +
                                                   bucket + "/" + key + ": no ETag in the answer"));
    complete += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>" + etag +
                "</ETag></Part>";
  }
  complete += "</CompleteMultipartUpload>";
  Request c;
  c.method = "POST";
  c.bucket = bucket;
  c.key = key;
  c.query = {{"uploadId", upload_id}};
  c.body = complete;
  c.counter = &im.stats.post;
  Status st = im.Call(std::move(c), &resp);
  if (st.ok()) {
    // S3 may answer 200 and still report an error in the body of a completion.
    const auto [code, message] = ErrorCode(resp.body);
    if (!code.empty()) {
      st = Status::IOError("completing the upload of s3://" + bucket + "/" + key + ": " + code +
                               ": " + message,
                           RetryableCode(code));
    }
  }
  return st.ok() ? st : abort(std::move(st));
}

Result<std::vector<ObjectInfo>> Client::List(const std::string& bucket, const std::string& prefix,
                                             size_t limit) {
  std::vector<ObjectInfo> out;
  std::string token;
  for (;;) {
    Request r;
    r.bucket = bucket;
    r.counter = &impl_->stats.list;
    if (!token.empty()) r.query.emplace_back("continuation-token", token);
    r.query.emplace_back("list-type", "2");
    const size_t page = std::min<size_t>(static_cast<size_t>(impl_->settings.list_page_keys),
                                         limit - std::min(limit, out.size()));
    r.query.emplace_back("max-keys", std::to_string(std::max<size_t>(page, 1)));
    r.query.emplace_back("prefix", prefix);
    Response resp;
    WEIR_RETURN_IF_ERROR(impl_->Call(std::move(r), &resp));
    pugi::xml_document doc;
    if (!doc.load_buffer(resp.body.data(), resp.body.size())) {
      return Status::IOError("listing s3://" + bucket + "/" + prefix + ": the answer is not XML");
    }
    pugi::xml_node result = doc.child("ListBucketResult");
    for (pugi::xml_node c : result.children("Contents")) {
      ObjectInfo info;
      info.key = c.child_value("Key");
      info.size = std::strtoull(c.child_value("Size"), nullptr, 10);
      info.etag = c.child_value("ETag");
      info.last_modified_s = ParseIsoTime(c.child_value("LastModified"));
      out.push_back(std::move(info));
    }
    token = result.child_value("NextContinuationToken");
    if (std::string(result.child_value("IsTruncated")) != "true" || token.empty()) break;
    if (out.size() >= limit) break;
  }
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status Client::Delete(const std::string& bucket, const std::string& key) {
  Request r;
  r.method = "DELETE";
  r.bucket = bucket;
  r.key = key;
  r.counter = &impl_->stats.del;
  Response resp;
  return impl_->Call(std::move(r), &resp);
}

Status Client::CreateBucket(const std::string& bucket) {
  Request r;
  r.method = "PUT";
  r.bucket = bucket;
  r.counter = &impl_->stats.put;
  Response resp;
  Status st = impl_->Call(std::move(r), &resp);
  if (!st.ok() && st.message().find("BucketAlreadyOwnedByYou") != std::string::npos) return Status::OK();
  return st;
}

namespace {

struct DefaultStorage {
  std::mutex mu;
  std::string endpoint, region;
  int path_style = -1;
  std::shared_ptr<Client> client;
};

DefaultStorage& Defaults() {
  static DefaultStorage d;
  return d;
}

}  // namespace

void SetDefaultStorage(const std::string& endpoint, const std::string& region, int path_style) {
  DefaultStorage& d = Defaults();
  std::lock_guard<std::mutex> l(d.mu);
  if (d.endpoint != endpoint || d.region != region || d.path_style != path_style) d.client.reset();
  d.endpoint = endpoint;
  d.region = region;
  d.path_style = path_style;
}

Result<std::shared_ptr<Client>> DefaultClient() {
  DefaultStorage& d = Defaults();
  std::lock_guard<std::mutex> l(d.mu);
  if (d.client) return d.client;
  Settings s;
  s.endpoint = d.endpoint.empty() ? Env("AWS_ENDPOINT_URL") : d.endpoint;
  s.region = d.region;
  if (s.region.empty()) s.region = Env("AWS_REGION");
  if (s.region.empty()) s.region = Env("AWS_DEFAULT_REGION");
  if (s.region.empty()) s.region = "us-east-1";
  s.path_style = d.path_style < 0 ? !s.endpoint.empty() : d.path_style == 1;
  WEIR_ASSIGN_OR_RETURN(s.credentials, ResolveCredentials());
  d.client = std::make_shared<Client>(std::move(s));
  return d.client;
}

std::shared_ptr<Client> CreatedDefaultClient() {
  DefaultStorage& d = Defaults();
  std::lock_guard<std::mutex> l(d.mu);
  return d.client;
}

}  // namespace weir::s3
