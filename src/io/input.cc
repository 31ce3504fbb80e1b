#include "io/input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <vector>

#include "io/fs.h"
#include "io/s3_client.h"

namespace weir {
namespace {

// EACCES, EISDIR, ELOOP ... will not heal by retrying; EIO or EINTR-like failures might.
using fs::ErrnoStatus;

bool EndsWith(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// The raw bytes under every codec: a local file, or an S3 object.
class RawSource {
 public:
  virtual ~RawSource() = default;
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
  virtual Status Seek(uint64_t off) = 0;
  const std::string& path() const { return path_; }
  uint64_t consumed() const { return consumed_; }
  uint64_t size() const { return size_; }

 protected:
  RawSource(std::string path, uint64_t size) : path_(std::move(path)), size_(size) {}
  std::string path_;
  uint64_t size_;
  uint64_t consumed_ = 0;
};

class RawFile final : public RawSource {
 public:
  RawFile(int fd, std::string path, uint64_t size) : RawSource(std::move(path), size), fd_(fd) {}
  ~RawFile() override { ::close(fd_); }
  Result<size_t> Read(char* buf, size_t n) override {
    for (;;) {
      ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) {
        consumed_ += static_cast<uint64_t>(r);
        return static_cast<size_t>(r);
      }
      if (errno == EINTR) continue;
      return ErrnoStatus("reading", path_, errno);
    }
  }
  Status Seek(uint64_t off) override {
    if (::lseek(fd_, static_cast<off_t>(off), SEEK_SET) < 0) return ErrnoStatus("seeking", path_, errno);
    consumed_ = off;
    return Status::OK();
  }

 private:
  int fd_;
};

// An S3 object read in windows of ranged GETs, the next window fetched while the current one is
// consumed (the client retries and resumes each GET itself).
class S3Object final : public RawSource {
 public:
  static constexpr uint64_t kWindow = 8u << 20;
  S3Object(std::shared_ptr<s3::Client> client, s3::Url url, std::string path, uint64_t size)
      : RawSource(std::move(path), size), client_(std::move(client)), url_(std::move(url)) {}
  ~S3Object() override {
    if (next_.valid()) next_.wait();
  }
  Result<size_t> Read(char* buf, size_t n) override {
    if (at_ == window_.size()) {
      if (consumed_ >= size_) return size_t{0};
      WEIR_ASSIGN_OR_RETURN(window_, Take(consumed_));
      at_ = 0;
      if (window_.empty()) return size_t{0};
      Prefetch(consumed_ + window_.size());
    }
    const size_t len = std::min(n, window_.size() - at_);
    std::memcpy(buf, window_.data() + at_, len);
    at_ += len;
    consumed_ += len;
    return len;
  }
  Status Seek(uint64_t off) override {
    window_.clear();
    at_ = 0;
    consumed_ = off;
    return Status::OK();
  }

 private:
  // The window starting at `from`: the prefetched one when it starts there.
  Result<std::string> Take(uint64_t from) {
    if (next_.valid()) {
      Result<std::string> got = next_.get();
      if (next_from_ == from) return got;
    }
    return client_->Get(url_.bucket, url_.key, from, std::min(kWindow, size_ - from));
  }
  void Prefetch(uint64_t from) {
    if (from >= size_) return;
    next_from_ = from;
    next_ = std::async(std::launch::async, [c = client_, u = url_, from, len = std::min(kWindow, size_ - from)] {
      return c->Get(u.bucket, u.key, from, len);
    });
  }
  std::shared_ptr<s3::Client> client_;
  s3::Url url_;
  std::string window_;
  size_t at_ = 0;
  std::future<Result<std::string>> next_;
  uint64_t next_from_ = 0;
};

class PlainInput final : public InputStream {
 public:
  explicit PlainInput(std::unique_ptr<RawSource> f) : f_(std::move(f)) {}
  Result<size_t> Read(char* buf, size_t n) override { return f_->Read(buf, n); }
  Status SkipTo(uint64_t offset) override { return f_->Seek(offset); }
  uint64_t raw_bytes_read() const override { return f_->consumed(); }
  uint64_t raw_size() const override { return f_->size(); }

 private:
  std::unique_ptr<RawSource> f_;
};

// Compressed streams share the discard-until-offset logic.
class DecompressingInput : public InputStream {
 public:
  explicit DecompressingInput(std::unique_ptr<RawSource> f) : f_(std::move(f)), in_(1 << 20) {}
  Status SkipTo(uint64_t offset) override {
    std::vector<char> scratch(1 << 20);
    while (pos_ < offset) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(scratch.size(), offset - pos_));
      WEIR_ASSIGN_OR_RETURN(size_t got, Read(scratch.data(), want));
      if (got == 0) {
        return Status::Corruption(f_->path() + ": checkpoint offset " + std::to_string(offset) +
                                  " is past the end of the decompressed data (" +
                                  std::to_string(pos_) + " bytes)");
      }
    }
    return Status::OK();
  }
  uint64_t raw_bytes_read() const override { return f_->consumed(); }
  uint64_t raw_size() const override { return f_->size(); }

 protected:
  std::unique_ptr<RawSource> f_;
  std::vector<char> in_;
  size_t in_pos_ = 0, in_len_ = 0;
  bool raw_eof_ = false;
  uint64_t pos_ = 0;  // decompressed bytes handed out

  Status Refill() {
    if (in_pos_ < in_len_ || raw_eof_) return Status::OK();
    WEIR_ASSIGN_OR_RETURN(size_t got, f_->Read(in_.data(), in_.size()));
    in_pos_ = 0;
    in_len_ = got;
    if (got == 0) raw_eof_ = true;
    return Status::OK();
  }
};

class GzipInput final : public DecompressingInput {
 public:
  explicit GzipInput(std::unique_ptr<RawSource> f) : DecompressingInput(std::move(f)) {
    std::memset(&zs_, 0, sizeof(zs_));
    // 15 + 32: zlib or gzip header auto-detected.
    ok_ = inflateInit2(&zs_, 15 + 32) == Z_OK;
  }
  ~GzipInput() override { inflateEnd(&zs_); }

  Result<size_t> Read(char* buf, size_t n) override {
    if (!ok_) return Status::Internal("zlib initialisation failed");
    size_t out = 0;
    while (out < n && !done_) {
      WEIR_RETURN_IF_ERROR(Refill());
      if (in_pos_ == in_len_ && raw_eof_) {
        if (!stream_end_) {
          return Status::Corruption(f_->path() + ": gzip stream truncated after " +
                                    std::to_string(pos_ + out) + " decompressed bytes (" +
                                    std::to_string(f_->consumed()) + " of " +
                                    std::to_string(f_->size()) +
                                    " compressed bytes read); was the file cut short?");
        }
        done_ = true;
        break;
      }
      if (stream_end_) {
        // After a member: another member (as `cat a.gz b.gz` makes; one logical stream), or zero
        // bytes padding the file to a block size (tape, some uploaders), which GNU gzip ignores
        // too. Anything else is trailing garbage: the file is not what it claims to be.
        if (in_[in_pos_] == 0 || padding_) {
          padding_ = true;
          const char* p = in_.data() + in_pos_;
          const char* end = in_.data() + in_len_;
          const char* nz = std::find_if(p, end, [](char c) { return c != 0; });
          if (nz != end) {
            return Status::Corruption(
                f_->path() + ": non-zero byte after the zero padding that follows the last gzip "
                "member, at compressed offset " + std::to_string(CompressedOffset() + (nz - p)) +
                "; the file is not a valid gzip file");
          }
          in_pos_ = in_len_;
          continue;
        }
        if (static_cast<unsigned char>(in_[in_pos_]) != 0x1f) {
          return Status::Corruption(f_->path() + ": trailing garbage after the last gzip member, at "
                                    "compressed offset " + std::to_string(CompressedOffset()) +
                                    " (" + std::to_string(pos_ + out) +
                                    " decompressed bytes before it); the file is not a valid gzip file");
        }
        inflateReset(&zs_);
        stream_end_ = false;
      }
      zs_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
      zs_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
      zs_.next_out = reinterpret_cast<Bytef*>(buf + out);
      zs_.avail_out = static_cast<uInt>(n - out);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      size_t used = (in_len_ - in_pos_) - zs_.avail_in;
      in_pos_ += used;
      out = n - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        stream_end_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return Status::Corruption(f_->path() + ": gzip data error at compressed offset " +
                                  std::to_string(CompressedOffset()) + ", after " +
                                  std::to_string(pos_ + out) + " decompressed bytes: " +
                                  (zs_.msg ? zs_.msg : "unknown"));
      }
    }
    pos_ += out;
    return out;
  }

 private:
  // Offset in the file of the next compressed byte not yet consumed.
  uint64_t CompressedOffset() const { return f_->consumed() - (in_len_ - in_pos_); }

  z_stream zs_;
  bool ok_ = false;
  bool stream_end_ = false;
  bool padding_ = false;  // in the zero bytes after the last member
  bool done_ = false;
};

class ZstdInput final : public DecompressingInput {
 public:
  explicit ZstdInput(std::unique_ptr<RawSource> f)
      : DecompressingInput(std::move(f)), ds_(ZSTD_createDStream()) {
    ZSTD_initDStream(ds_);
  }
  ~ZstdInput() override { ZSTD_freeDStream(ds_); }

  Result<size_t> Read(char* buf, size_t n) override {
    size_t out = 0;
    while (out < n) {
      WEIR_RETURN_IF_ERROR(Refill());
      if (in_pos_ == in_len_ && raw_eof_) {
        if (frame_open_) {
          return Status::Corruption(f_->path() + ": zstd stream truncated after " +
                                    std::to_string(pos_ + out) + " decompressed bytes");
        }
        break;
      }
      ZSTD_inBuffer ib{in_.data(), in_len_, in_pos_};
      ZSTD_outBuffer ob{buf, n, out};
      size_t rc = ZSTD_decompressStream(ds_, &ob, &ib);
      if (ZSTD_isError(rc)) {
        return Status::Corruption(f_->path() + ": zstd data error after " +
                                  std::to_string(pos_ + out) + " decompressed bytes: " +
                                  ZSTD_getErrorName(rc));
      }
      frame_open_ = rc != 0;
      // With output room and input left, zstd always consumes input or produces output, so the
      // loop advances; when the input buffer is drained, Refill() reads more.
      in_pos_ = ib.pos;
      out = ob.pos;
    }
    pos_ += out;
    return out;
  }

 private:
  ZSTD_DStream* ds_;
  bool frame_open_ = false;
};

std::atomic<uint64_t> g_inputs_opened{0};

}  // namespace

uint64_t InputsOpened() { return g_inputs_opened.load(std::memory_order_relaxed); }

Codec CodecForPath(const std::string& path) {
  if (EndsWith(path, ".gz") || EndsWith(path, ".gzip")) return Codec::kGzip;
  if (EndsWith(path, ".zst") || EndsWith(path, ".zstd")) return Codec::kZstd;
  return Codec::kNone;
}

namespace {

Result<std::unique_ptr<InputStream>> WithCodec(std::unique_ptr<RawSource> raw) {
  g_inputs_opened.fetch_add(1, std::memory_order_relaxed);
  const std::string path = raw->path();
  switch (CodecForPath(path)) {
    case Codec::kGzip: return std::unique_ptr<InputStream>(new GzipInput(std::move(raw)));
    case Codec::kZstd: return std::unique_ptr<InputStream>(new ZstdInput(std::move(raw)));
    case Codec::kNone: break;
  }
  return std::unique_ptr<InputStream>(new PlainInput(std::move(raw)));
}

// An s3:// input: its size (and existence) from a HEAD, its bytes from ranged GETs.
Result<std::unique_ptr<InputStream>> OpenS3Input(const std::string& path) {
  WEIR_ASSIGN_OR_RETURN(s3::Url url, s3::ParseUrl(path));
  if (url.key.empty() || url.key.back() == '/') {
    return Status::IOError(path + " names a prefix, not an object", false);
  }
  WEIR_ASSIGN_OR_RETURN(auto client, s3::DefaultClient());
  auto head = client->Head(url.bucket, url.key);
  if (!head.ok()) {
    if (head.status().code() == StatusCode::kNotFound) return Status::NotFound(path + ": no such object");
    return head.status();
  }
  const uint64_t size = head->size;
  return WithCodec(std::make_unique<S3Object>(std::move(client), std::move(url), path, size));
}
}  // namespace

Result<std::unique_ptr<InputStream>> OpenInput(const std::string& path) {
  if (s3::IsS3Url(path)) return OpenS3Input(path);
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever (with the
  // dataset lock held); a device could block too. Only regular files are inputs, so refuse the
  // rest after fstat, then clear O_NONBLOCK (it means nothing for regular files, but keep the
  // descriptor plain).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ErrnoStatus("opening", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("stat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::IOError(path + " is " + fs::NonRegularKind(st.st_mode) + ", not a regular file",
                           false);
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("fcntl", path, err);
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return WithCodec(std::make_unique<RawFile>(fd, path, static_cast<uint64_t>(st.st_size)));
}

}  // namespace weir
