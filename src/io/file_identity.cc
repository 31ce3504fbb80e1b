#include "io/file_identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "io/s3_client.h"

namespace weir {
namespace {

constexpr uint64_t kBlock = 64 << 10;

// FNV-1a, 64 bit: enough to tell a rewritten block from the recorded one; not a security hash.
uint64_t Fnv(const char* p, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 1099511628211ull;
  }
  return h;
}

Status ReadAt(int fd, uint64_t off, size_t n, std::string& out, const std::string& path) {
  out.resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, out.data() + got, n - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::IOError("reading " + path + ": " + std::strerror(errno));
    if (r == 0) return Status::IOError(path + ": shorter than expected while fingerprinting");
    got += static_cast<size_t>(r);
  }
  return Status::OK();
}

// Fingerprint of bytes [0, size): the first and the last block, and the size itself.
Result<uint64_t> Fingerprint(int fd, uint64_t size, const std::string& path) {
  uint64_t h = Fnv(reinterpret_cast<const char*>(&size), sizeof(size), 14695981039346656037ull);
  std::string buf;
  uint64_t head = std::min(size, kBlock);
  WEIR_RETURN_IF_ERROR(ReadAt(fd, 0, head, buf, path));
  h = Fnv(buf.data(), buf.size(), h);
  if (size > head) {
    uint64_t from = size - std::min(size - head, kBlock);
    WEIR_RETURN_IF_ERROR(ReadAt(fd, from, size - from, buf, path));
    h = Fnv(buf.data(), buf.size(), h);
  }
  return h;
}

}  // namespace

const char* FileChangeName(FileChange c) {
  switch (c) {
    case FileChange::kSame: return "same";
    case FileChange::kAppended: return "appended";
    case FileChange::kRewritten: return "rewritten";
    case FileChange::kTruncated: return "truncated";
    case FileChange::kMissing: return "missing";
  }
  return "?";
}

namespace {

// An S3 object cannot be appended to or changed in place, only replaced: its identity is its
// size and ETag (the fingerprint is a hash of the ETag), and any difference means "rewritten".
Result<FileIdentity> IdentifyObject(const std::string& path) {
  WEIR_ASSIGN_OR_RETURN(s3::Url url, s3::ParseUrl(path));
  WEIR_ASSIGN_OR_RETURN(auto client, s3::DefaultClient());
  WEIR_ASSIGN_OR_RETURN(s3::ObjectInfo info, client->Head(url.bucket, url.key));
  FileIdentity id;
  id.path = path;
  id.size = info.size;
  id.fingerprint = std::hash<std::string>{}(info.etag);
  return id;
}

}  // namespace

Result<FileIdentity> IdentifyFile(const std::string& path, uint64_t size) {
  if (s3::IsS3Url(path)) return IdentifyObject(path);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Status::IOError("opening " + path + ": " + std::strerror(errno), false);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::IOError(path + ": not a regular file", false);
  }
  FileIdentity id;
  id.path = path;
  id.size = std::min<uint64_t>(size, static_cast<uint64_t>(st.st_size));
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  auto fp = Fingerprint(fd, id.size, path);
  ::close(fd);
  if (!fp.ok()) return fp.status();
  id.fingerprint = *fp;
  return id;
}

FileComparison CompareFile(const std::string& path, const FileIdentity& recorded) {
  FileComparison c;
  c.recorded_size = recorded.size;
  if (s3::IsS3Url(path)) {
    auto now = IdentifyObject(path);
    if (!now.ok()) {
      c.change = FileChange::kMissing;
      c.detail = now.status().code() == StatusCode::kNotFound ? "missing (no such object)"
                                                               : now.status().message();
      return c;
    }
    c.current_size = now->size;
    if (now->size == recorded.size && now->fingerprint == recorded.fingerprint) return c;
    c.change = FileChange::kRewritten;
    c.detail = "replaced (size " + std::to_string(recorded.size) + " -> " +
               std::to_string(now->size) + ", new ETag)";
    return c;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) ::close(fd);
    c.change = FileChange::kMissing;
    c.detail = "missing or not a regular file";
    return c;
  }
  c.current_size = static_cast<uint64_t>(st.st_size);
  int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (c.current_size < recorded.size) {
    ::close(fd);
    c.change = FileChange::kTruncated;
    c.detail = "cut from " + FormatCount(recorded.size) + " to " + FormatCount(c.current_size) + " bytes";
    return c;
  }
  if (c.current_size == recorded.size && mtime == recorded.mtime_ns) {
    ::close(fd);
    return c;  // same size and time: not worth reading
  }
  auto fp = Fingerprint(fd, recorded.size, path);
  ::close(fd);
  if (!fp.ok() || *fp != recorded.fingerprint) {
    c.change = FileChange::kRewritten;
    c.detail = "rewritten (the first " + FormatCount(recorded.size) + " bytes differ from what was read)";
    return c;
  }
  if (c.current_size > recorded.size) {
    c.change = FileChange::kAppended;
    c.detail = FormatCount(c.current_size - recorded.size) + " bytes appended";
  }
  return c;
}

std::string FileIdentitiesToJson(const std::vector<FileIdentity>& ids) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& id : ids) {
    // The fingerprint as hex text: JSON readers lose precision on 64-bit integers.
    char fp[24];
    std::snprintf(fp, sizeof(fp), "%016llx", static_cast<unsigned long long>(id.fingerprint));
    j.push_back({{"path", id.path}, {"size", id.size}, {"mtime_ns", id.mtime_ns}, {"fp", fp}});
  }
  return j.dump();
}

std::vector<FileIdentity> FileIdentitiesFromJson(const std::string& json) {
  std::vector<FileIdentity> out;
  if (json.empty()) return out;
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    if (!e.is_object()) return {};
    FileIdentity id;
    id.path = e.value("path", std::string());
    id.size = e.value("size", uint64_t{0});
    id.mtime_ns = e.value("mtime_ns", int64_t{0});
    id.fingerprint = std::strtoull(e.value("fp", std::string()).c_str(), nullptr, 16);
    out.push_back(id);
  }
  return out;
}

}  // namespace weir
