#include "io/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "io/s3_client.h"

namespace weir::fs {
namespace stdfs = std::filesystem;

bool IsRemote(const std::string& path) { return s3::IsS3Url(path); }

namespace {

// The default client and the bucket/key of an s3:// path.
struct Object {
  std::shared_ptr<s3::Client> client;
  s3::Url url;
};
Result<Object> OpenObject(const std::string& path) {
  WEIR_ASSIGN_OR_RETURN(auto url, s3::ParseUrl(path));
  WEIR_ASSIGN_OR_RETURN(auto client, s3::DefaultClient());
  return Object{std::move(client), std::move(url)};
}

// The key prefix of the objects "in" the folder `key` ("" for the whole bucket).
std::string FolderPrefix(std::string key) {
  if (!key.empty() && key.back() != '/') key += '/';
  return key;
}

Result<std::vector<FileInfo>> ListObjects(const std::string& dir) {
  WEIR_ASSIGN_OR_RETURN(auto o, OpenObject(dir));
  const std::string prefix = FolderPrefix(o.url.key);
  WEIR_ASSIGN_OR_RETURN(auto listed, o.client->List(o.url.bucket, prefix));
  std::vector<FileInfo> out;
  out.reserve(listed.size());
  for (auto& info : listed) {
    out.push_back(FileInfo{info.key.substr(prefix.size()), info.size, info.last_modified_s});
  }
  return out;
}

}  // namespace

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  std::string msg = what + " " + path + ": ";
  if (err == ELOOP) msg += "symlink loop (";
  msg += std::strerror(err);
  if (err == ELOOP) msg += ")";
  if (err == ENOENT) return Status::NotFound(msg);
  const bool permanent = err == EACCES || err == EPERM || err == EROFS || err == ELOOP ||
                         err == ENOTDIR || err == EISDIR || err == ENAMETOOLONG;
  return Status::IOError(msg, !permanent);
}

std::string NonRegularKind(unsigned mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "a special file";
}

Status CheckRegularFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path, errno);
  if (S_ISREG(st.st_mode)) return Status::OK();
  return Status::IOError(path + " is " + NonRegularKind(st.st_mode) + ", not a regular file", false);
}

namespace {
Status FromErrno(const std::string& what, const std::string& path, int err) {
  return ErrnoStatus(what, path, err);
}
Status FromEc(const std::string& what, const std::string& path, const std::error_code& ec) {
  return FromErrno(what, path, ec.value());
}
}  // namespace

// `weir lake expire` removes empty partition folders while writers run: a folder made a moment
// ago (by us, on the way down to `dir`, or by another writer) can vanish before the next level
// is made. Starting again is always right, and the pruner stops once a file is in the folder.
constexpr int kPrunedFolderRetries = 100;

Status CreateDirs(const std::string& dir) {
  if (IsRemote(dir)) return Status::OK();
  std::error_code ec;
  for (int attempt = 0; attempt < kPrunedFolderRetries; ++attempt) {
    stdfs::create_directories(dir, ec);
    if (!ec) return Status::OK();
    if (ec != std::errc::no_such_file_or_directory) break;
  }
  return FromEc("creating folder", dir, ec);
}

void PruneEmptyFolders(const std::string& root) {
  if (IsRemote(root)) return;
  std::error_code ec;
  std::vector<stdfs::path> dirs;
  for (stdfs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) dirs.push_back(it->path());
  }
  std::sort(dirs.rbegin(), dirs.rend());  // a child sorts after its parent: children first
  for (const auto& d : dirs) {
    if (stdfs::is_empty(d, ec)) stdfs::remove(d, ec);
  }
}

Status WriteFile(const std::string& path, std::string_view data) {
  if (IsRemote(path)) {
    WEIR_ASSIGN_OR_RETURN(auto o, OpenObject(path));
    return o.client->Put(o.url.bucket, o.url.key, data);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return FromErrno("creating", path, errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return FromErrno("writing", path, err);
    }
    done += static_cast<size_t>(w);
  }
  if (::close(fd) != 0) return FromErrno("closing", path, errno);
  return Status::OK();
}

Result<std::string> ReadFile(const std::string& path) {
  if (IsRemote(path)) {
    WEIR_ASSIGN_OR_RETURN(auto o, OpenObject(path));
    return o.client->Get(o.url.bucket, o.url.key);
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FromErrno("opening", path, errno);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof(buf));
    if (r < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return FromErrno("reading", path, err);
    }
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  return out;
}

Status Rename(const std::string& from, const std::string& to) {
  if (IsRemote(from)) return Status::Invalid("cannot rename " + from + ": S3 has no rename");
  if (IsRemote(to)) {
    WEIR_ASSIGN_OR_RETURN(std::string bytes, ReadFile(from));
    WEIR_RETURN_IF_ERROR(WriteFile(to, bytes));
    return RemoveFile(from);
  }
  if (::rename(from.c_str(), to.c_str()) == 0) return Status::OK();
  // The destination folder may be missing, or be created by another worker at this very moment:
  // creating it is idempotent, so always create and retry rather than test first (a race).
  // A folder pruned between our mkdir and our rename (see CreateDirs): make it again.
  for (int attempt = 0; attempt < kPrunedFolderRetries && errno == ENOENT && Exists(from); ++attempt) {
    WEIR_RETURN_IF_ERROR(CreateDirs(stdfs::path(to).parent_path().string()));
    if (::rename(from.c_str(), to.c_str()) == 0) return Status::OK();
  }
  return FromErrno("renaming " + from + " to", to, errno);
}

Status RemoveFile(const std::string& path) {
  if (IsRemote(path)) {
    WEIR_ASSIGN_OR_RETURN(auto o, OpenObject(path));
    Status st = o.client->Delete(o.url.bucket, o.url.key);
    return st.code() == StatusCode::kNotFound ? Status::OK() : st;
  }
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return Status::OK();
  return FromErrno("removing", path, errno);
}

Status RemoveTree(const std::string& path) {
  if (IsRemote(path)) {
    WEIR_ASSIGN_OR_RETURN(auto files, ListObjects(path));
    for (const auto& f : files) WEIR_RETURN_IF_ERROR(RemoveFile(path + "/" + f.rel));
    return RemoveFile(path);  // an object of that very name, if any
  }
  std::error_code ec;
  stdfs::remove_all(path, ec);
  if (ec) return FromEc("removing", path, ec);
  return Status::OK();
}

bool Exists(const std::string& path) {
  if (!IsRemote(path)) return ::access(path.c_str(), F_OK) == 0;
  auto o = OpenObject(path);
  if (!o.ok()) return false;  // not a valid URL, or no credentials: nothing can be there
  auto head = o->client->Head(o->url.bucket, o->url.key);
  if (head.ok()) return true;
  if (head.status().code() != StatusCode::kNotFound) return true;
  auto listed = o->client->List(o->url.bucket, FolderPrefix(o->url.key), 1);
  return !listed.ok() || !listed->empty();
}

Result<uint64_t> FileSize(const std::string& path) {
  if (IsRemote(path)) {
    WEIR_ASSIGN_OR_RETURN(auto o, OpenObject(path));
    WEIR_ASSIGN_OR_RETURN(auto info, o.client->Head(o.url.bucket, o.url.key));
    return info.size;
  }
  std::error_code ec;
  auto n = stdfs::file_size(path, ec);
  if (ec) return FromEc("stat", path, ec);
  return static_cast<uint64_t>(n);
}

Status SyncFilesystem(const std::string& path) {
  if (IsRemote(path)) return Status::OK();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FromErrno("opening", path, errno);
  int rc = ::syncfs(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return FromErrno("syncfs", path, err);
  return Status::OK();
}

Result<std::vector<std::string>> ListFilesRecursive(const std::string& dir) {
  if (IsRemote(dir)) {
    WEIR_ASSIGN_OR_RETURN(auto files, ListObjects(dir));
    std::vector<std::string> out;
    for (auto& f : files) out.push_back(std::move(f.rel));
    return out;
  }
  std::vector<std::string> out;
  std::error_code ec;
  if (!stdfs::exists(dir, ec)) return out;
  for (auto it = stdfs::recursive_directory_iterator(dir, ec);
       !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) out.push_back(stdfs::relative(it->path(), dir, ec).string());
  }
  if (ec) return FromEc("listing", dir, ec);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<FileInfo>> ListFilesWithInfo(const std::string& dir) {
  if (IsRemote(dir)) return ListObjects(dir);
  WEIR_ASSIGN_OR_RETURN(auto rels, ListFilesRecursive(dir));
  std::vector<FileInfo> out;
  for (auto& rel : rels) {
    struct stat st;
    const std::string path = dir + "/" + rel;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;  // gone meanwhile
    out.push_back(FileInfo{std::move(rel), static_cast<uint64_t>(st.st_size),
                           static_cast<int64_t>(st.st_mtime)});
  }
  return out;
}

std::string ResolveInput(const std::string& location, const std::string& entry) {
  auto is_s3 = [](const std::string& p) { return p.rfind("s3://", 0) == 0; };
  // The key part of an s3:// URL, normalised like a relative path ("a/./b/../c" is "a/c").
  auto s3_normal = [](const std::string& url) {
    const size_t slash = url.find('/', 5);
    if (slash == std::string::npos) return url;
    std::string key = std::filesystem::path(url.substr(slash + 1)).lexically_normal().string();
    while (key.rfind("../", 0) == 0) key.erase(0, 3);
    if (key == ".." || key == ".") key.clear();
    return url.substr(0, slash + 1) + key;
  };
  if (is_s3(entry)) return s3_normal(entry);
  if (!entry.empty() && entry[0] == '/') return entry;
  if (is_s3(location)) {
    std::string base = location;
    while (base.size() > 5 && base.back() == '/') base.pop_back();
    return s3_normal(base + "/" + entry);
  }
  return (std::filesystem::path(location) / entry).lexically_normal().string();
}

}  // namespace weir::fs
