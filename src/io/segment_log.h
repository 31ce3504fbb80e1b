// An append-only, durable log of JSON lines in segment files: what the HTTP collector (streams,
// docs/design.md) writes an accepted request body to before it answers 200, and what the lake
// writer then reads like input files, with byte offsets, so the lake commit stays exactly once.
//
// Layout of the log's folder:
//   <base>.seg   segments; <base> is the 20-digit global offset of the segment's first byte, so a
//                record's global offset is <base> + its offset in the file, and segments sort by
//                name. Content: complete lines, exactly the bytes appended.
//   durable      two 32-byte slots (written alternately, each with a sequence number and a
//                checksum) naming the last segment and how many of its bytes are durable.
//
// Durability: Append() returns only after the bytes are on disk (fdatasync) AND the durable
// marker says so (its own fdatasync), so a crash can only lose appends that had not returned.
// Appends running at the same time share one pair of syncs (group commit). A crash can leave
// bytes past the marker (written, not yet synced, possibly with holes); Open() truncates the last
// segment to the marker and removes segments after it, so unacknowledged bytes never appear.
// Only the last segment is ever written: a segment is sealed (a new one started) once it holds
// `segment_bytes` and everything in it is durable.
//
// Readers (the lake writer) read through OpenReader() (or Segments(), up to their durable sizes);
// Trim() records the offset the lake has committed (Backlog() is what is durable past it, what
// the collector's 429 limit looks at) and removes sealed segments entirely below it.
//
// Thread-safety: every method is thread-safe. Ownership: owns its file descriptors.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir {

class SegmentLog {
 public:
  struct Options {
    std::string dir;                        // created if missing
    uint64_t segment_bytes = 64ull << 20;   // seal a segment once it holds this much
    // Global offset of the first byte of a log created empty (a log whose folder was lost must
    // not hand out offsets a reader has already committed past). Ignored for an existing log.
    uint64_t start_offset = 0;
  };
  struct Segment {
    std::string path;
    uint64_t base = 0;     // global offset of its first byte
    uint64_t durable = 0;  // bytes of it that are durable (readable)
  };
  // Where an append went: global offsets [start, end), and the segment holding it.
  struct Range {
    std::string segment;
    uint64_t start = 0, end = 0;
  };

  // Opens (or creates) the log, recovering from a crash as described above.
  static Result<std::unique_ptr<SegmentLog>> Open(const Options& options);
  ~SegmentLog();
  SegmentLog(const SegmentLog&) = delete;
  SegmentLog& operator=(const SegmentLog&) = delete;

  // Appends `lines` (complete lines: empty, or ending in '\n') and returns once they are durable.
  Result<Range> Append(std::string_view lines);
  // The segments in order, with their durable sizes.
  std::vector<Segment> Segments() const;
  // Global offset one past the last durable byte.
  uint64_t DurableEnd() const;
  // Global offset of the first byte still held (the first segment's base).
  uint64_t Start() const;
  // Records that everything below `offset` is committed downstream and removes sealed segments
  // whose every byte is below it.
  Status Trim(uint64_t offset);
  // Durable bytes past the last Trim() offset (or past Start() before any Trim()).
  uint64_t Backlog() const;
  // Waits until a durable byte exists at or past `offset`, or `timeout_ms` passed; returns
  // whether one does.
  bool WaitBeyond(uint64_t offset, int64_t timeout_ms) const;
  // A reader of the durable bytes from global offset `offset` (>= Start()): Read() returns what
  // is durable now and 0 when it has caught up (more may come: read again after WaitBeyond()).
  // It holds open the segment it reads, so Trim() below the reader's position is safe. The log
  // must outlive the reader.
  Result<std::unique_ptr<class InputStream>> OpenReader(uint64_t offset) const;
  // Sync rounds run so far (appends share them; a metric, and how tests see group commit).
  uint64_t syncs() const {
    std::lock_guard<std::mutex> l(mu_);
    return syncs_;
  }

 private:
  explicit SegmentLog(Options o) : options_(std::move(o)) {}
  Status OpenActive(uint64_t base, uint64_t size, bool create);
  Status WriteMarker(uint64_t base, uint64_t size);  // caller is the only syncer
  static std::string SegmentName(uint64_t base);

  const Options options_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  int fd_ = -1;            // the active (last) segment
  int marker_fd_ = -1;
  uint64_t base_ = 0;      // global offset of the active segment
  uint64_t size_ = 0;      // bytes written to it
  uint64_t durable_ = 0;   // bytes of it that are durable
  uint64_t seq_ = 0;       // marker sequence number
  bool syncing_ = false;   // an appender is running the syncs
  uint64_t syncs_ = 0;
  uint64_t committed_ = 0;  // the last Trim() offset
  std::vector<Segment> sealed_;
};

}  // namespace weir
