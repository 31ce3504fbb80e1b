#include "io/segment_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "io/fs.h"
#include "io/input.h"

namespace weir {
namespace {

namespace stdfs = std::filesystem;

constexpr uint32_t kMarkerMagic = 0x4d4c5357;  // "WSLM"
constexpr size_t kSlotBytes = 32;

// FNV-1a over the slot's payload: detects a torn or zeroed slot.
uint32_t Check(const unsigned char* p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 16777619u;
  return h;
}

struct Marker {
  uint64_t seq = 0, base = 0, size = 0;
  bool valid = false;
};

Marker ParseSlot(const unsigned char* s) {
  Marker m;
  uint32_t magic, check;
  std::memcpy(&magic, s, 4);
  std::memcpy(&check, s + 4, 4);
  if (magic != kMarkerMagic || check != Check(s + 8, kSlotBytes - 8)) return m;
  std::memcpy(&m.seq, s + 8, 8);
  std::memcpy(&m.base, s + 16, 8);
  std::memcpy(&m.size, s + 24, 8);
  m.valid = true;
  return m;
}

Status WriteAllAt(int fd, const char* p, size_t n, uint64_t offset, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return fs::ErrnoStatus("write", path, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return Status::OK();
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fs::ErrnoStatus("open", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? Status::OK() : fs::ErrnoStatus("fsync", dir, err);
}

}  // namespace

std::string SegmentLog::SegmentName(uint64_t base) {
  char name[40];
  std::snprintf(name, sizeof(name), "%020" PRIu64 ".seg", base);
  return name;
}

Result<std::unique_ptr<SegmentLog>> SegmentLog::Open(const Options& options) {
  if (options.segment_bytes == 0) return Status::Invalid("segment log: segment_bytes must be > 0");
  WEIR_RETURN_IF_ERROR(fs::CreateDirs(options.dir));
  std::unique_ptr<SegmentLog> log(new SegmentLog(options));
  const std::string marker_path = options.dir + "/durable";
  log->marker_fd_ = ::open(marker_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (log->marker_fd_ < 0) return fs::ErrnoStatus("open", marker_path, errno);
  unsigned char slots[2 * kSlotBytes] = {};
  ssize_t got = ::pread(log->marker_fd_, slots, sizeof(slots), 0);
  if (got < 0) return fs::ErrnoStatus("read", marker_path, errno);
  Marker best;  // no valid slot: nothing was ever acknowledged
  for (int i = 0; i < 2; ++i) {
    if (static_cast<size_t>(got) < (i + 1) * kSlotBytes) break;
    Marker m = ParseSlot(slots + i * kSlotBytes);
    if (m.valid && (!best.valid || m.seq > best.seq)) best = m;
  }
  log->seq_ = best.seq;

  std::vector<uint64_t> bases;
  for (const auto& e : stdfs::directory_iterator(options.dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() != 24 || name.substr(20) != ".seg") continue;
    bases.push_back(std::strtoull(name.c_str(), nullptr, 10));
  }
  std::sort(bases.begin(), bases.end());
  bool active_found = false;
  for (uint64_t b : bases) {
    const std::string path = options.dir + "/" + SegmentName(b);
    if (b < best.base) {
      WEIR_ASSIGN_OR_RETURN(uint64_t size, fs::FileSize(path));
      log->sealed_.push_back({path, b, size});
    } else if (b == best.base) {
      active_found = true;
    } else {
      // Started after the last durable append: it holds nothing anyone was told is durable.
      WEIR_RETURN_IF_ERROR(fs::RemoveFile(path));
    }
  }
  if (!best.valid && bases.empty()) best.base = options.start_offset;  // a new log
  if (!active_found && best.size > 0) {
    return Status::Corruption("segment log " + options.dir + ": segment " + SegmentName(best.base) +
                              " holds acknowledged data but is missing");
  }
  WEIR_RETURN_IF_ERROR(log->OpenActive(best.base, best.size, !active_found));
  log->committed_ = log->sealed_.empty() ? log->base_ : log->sealed_.front().base;
  return log;
}

Status SegmentLog::OpenActive(uint64_t base, uint64_t size, bool create) {
  const std::string path = options_.dir + "/" + SegmentName(base);
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
  if (fd < 0) return fs::ErrnoStatus("open", path, errno);
  // Bytes past the durable size were never acknowledged (and may have holes): drop them.
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0 || ::fdatasync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return fs::ErrnoStatus("truncate", path, err);
  }
  if (create) {
    if (Status st = SyncDir(options_.dir); !st.ok()) {
      ::close(fd);
      return st;
    }
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  base_ = base;
  size_ = durable_ = size;
  return Status::OK();
}

SegmentLog::~SegmentLog() {
  if (fd_ >= 0) ::close(fd_);
  if (marker_fd_ >= 0) ::close(marker_fd_);
}

Status SegmentLog::WriteMarker(uint64_t base, uint64_t size) {
  const uint64_t seq = seq_ + 1;
  unsigned char slot[kSlotBytes];
  std::memcpy(slot, &kMarkerMagic, 4);
  std::memcpy(slot + 8, &seq, 8);
  std::memcpy(slot + 16, &base, 8);
  std::memcpy(slot + 24, &size, 8);
  const uint32_t check = Check(slot + 8, kSlotBytes - 8);
  std::memcpy(slot + 4, &check, 4);
  // Alternate slots: a torn write damages only the slot being written; the other still holds
  // the previous durable position.
  const std::string path = options_.dir + "/durable";
  WEIR_RETURN_IF_ERROR(WriteAllAt(marker_fd_, reinterpret_cast<const char*>(slot), kSlotBytes,
                                  (seq % 2) * kSlotBytes, path));
  if (::fdatasync(marker_fd_) != 0) return fs::ErrnoStatus("fdatasync", path, errno);
  seq_ = seq;
  return Status::OK();
}

Result<SegmentLog::Range> SegmentLog::Append(std::string_view lines) {
  if (!lines.empty() && lines.back() != '\n') {
    return Status::Invalid("segment log: appended bytes must end with a newline");
  }
  std::unique_lock<std::mutex> l(mu_);
  Range r;
  r.segment = options_.dir + "/" + SegmentName(base_);
  r.start = r.end = base_ + size_;
  if (lines.empty()) return r;
  if (Status st = WriteAllAt(fd_, lines.data(), lines.size(), size_, r.segment); !st.ok()) {
    // Leave no partial bytes for the next append to follow.
    (void)::ftruncate(fd_, static_cast<off_t>(size_));
    return st;
  }
  size_ += lines.size();
  r.end = base_ + size_;
  while (base_ + durable_ < r.end) {
    if (syncing_) {
      cv_.wait(l);
      continue;
    }
    // This appender syncs for everyone who has written so far (group commit).
    syncing_ = true;
    const int fd = fd_;
    const uint64_t base = base_, size = size_;
    l.unlock();
    Status st = ::fdatasync(fd) == 0 ? Status::OK() : fs::ErrnoStatus("fdatasync", r.segment, errno);
    if (st.ok()) st = WriteMarker(base, size);
    l.lock();
    syncing_ = false;
    ++syncs_;
    if (st.ok()) {
      durable_ = std::max(durable_, size);
      if (durable_ == size_ && size_ >= options_.segment_bytes) {
        // Seal the full segment (all of it durable) and start the next one.
        Segment full{options_.dir + "/" + SegmentName(base_), base_, size_};
        st = OpenActive(base_ + size_, 0, true);
        if (st.ok()) sealed_.push_back(std::move(full));
      }
    }
    cv_.notify_all();
    if (!st.ok()) return st;
  }
  return r;
}

std::vector<SegmentLog::Segment> SegmentLog::Segments() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Segment> out = sealed_;
  out.push_back({options_.dir + "/" + SegmentName(base_), base_, durable_});
  return out;
}

uint64_t SegmentLog::DurableEnd() const {
  std::lock_guard<std::mutex> l(mu_);
  return base_ + durable_;
}

uint64_t SegmentLog::Start() const {
  std::lock_guard<std::mutex> l(mu_);
  return sealed_.empty() ? base_ : sealed_.front().base;
}

uint64_t SegmentLog::Backlog() const {
  std::lock_guard<std::mutex> l(mu_);
  const uint64_t end = base_ + durable_;
  return end > committed_ ? end - committed_ : 0;
}

bool SegmentLog::WaitBeyond(uint64_t offset, int64_t timeout_ms) const {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, std::chrono::milliseconds(std::max<int64_t>(0, timeout_ms)),
                      [&] { return base_ + durable_ > offset; });
}

namespace {

// Reads the log's durable bytes in order across segments (SegmentLog::OpenReader).
class SegmentLogReader final : public InputStream {
 public:
  SegmentLogReader(const SegmentLog& log, uint64_t pos) : log_(log), pos_(pos), start_(pos) {}
  ~SegmentLogReader() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Result<size_t> Read(char* buf, size_t n) override {
    for (;;) {
      if (fd_ < 0 || pos_ >= base_ + durable_) {
        // Find the segment holding pos_ (or the last, active one when pos_ is at its end) and
        // how much of it is durable now.
        const std::vector<SegmentLog::Segment> segments = log_.Segments();
        bool found = false;
        for (size_t i = 0; i < segments.size() && pos_ >= segments[i].base; ++i) {
          const SegmentLog::Segment& s = segments[i];
          if (pos_ >= s.base + s.durable && i + 1 < segments.size()) continue;
          if (s.path != path_) {
            if (fd_ >= 0) ::close(fd_);
            fd_ = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd_ < 0) return fs::ErrnoStatus("open", s.path, errno);
            path_ = s.path;
          }
          base_ = s.base;
          durable_ = s.durable;
          found = true;
          break;
        }
        if (!found) {
          return Status::Corruption("segment log: offset " + std::to_string(pos_) +
                                    " is in no segment (trimmed, or the log was replaced)");
        }
        if (pos_ >= base_ + durable_) return size_t{0};  // caught up
      }
      const size_t want = static_cast<size_t>(std::min<uint64_t>(n, base_ + durable_ - pos_));
      ssize_t got = ::pread(fd_, buf, want, static_cast<off_t>(pos_ - base_));
      if (got < 0) {
        if (errno == EINTR) continue;
        return fs::ErrnoStatus("read", path_, errno);
      }
      if (got == 0) {
        return Status::Corruption("segment log: " + path_ + " is shorter than its durable size");
      }
      pos_ += static_cast<uint64_t>(got);
      return static_cast<size_t>(got);
    }
  }

  Status SkipTo(uint64_t offset) override {
    if (offset < pos_) return Status::Invalid("segment log reader: cannot seek backwards");
    pos_ = offset;
    return Status::OK();
  }
  uint64_t raw_bytes_read() const override { return pos_ - start_; }
  uint64_t raw_size() const override { return log_.DurableEnd() - start_; }

 private:
  const SegmentLog& log_;
  uint64_t pos_, start_;
  int fd_ = -1;
  std::string path_;
  uint64_t base_ = 0, durable_ = 0;  // of the open segment, as last seen
};

}  // namespace

Result<std::unique_ptr<InputStream>> SegmentLog::OpenReader(uint64_t offset) const {
  if (offset < Start()) {
    return Status::Invalid("segment log " + options_.dir + ": offset " + std::to_string(offset) +
                           " was trimmed (the log starts at " + std::to_string(Start()) + ")");
  }
  if (offset > DurableEnd()) {
    return Status::Corruption("segment log " + options_.dir + ": offset " + std::to_string(offset) +
                              " is past its durable end " + std::to_string(DurableEnd()) +
                              " (acknowledged data was lost, or the log was replaced)");
  }
  return std::unique_ptr<InputStream>(new SegmentLogReader(*this, offset));
}

Status SegmentLog::Trim(uint64_t offset) {
  std::lock_guard<std::mutex> l(mu_);
  committed_ = std::max(committed_, offset);
  while (!sealed_.empty() && sealed_.front().base + sealed_.front().durable <= offset) {
    WEIR_RETURN_IF_ERROR(fs::RemoveFile(sealed_.front().path));
    sealed_.erase(sealed_.begin());
  }
  return Status::OK();
}

}  // namespace weir
