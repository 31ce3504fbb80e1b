// FileRecordReader: the engine's sdk::RecordReader over one file, used by state machine parsers
// (the engine switches the record type between records) and multi-file readers (one reader per
// file type, driven by the user's code).
//
// It reads the (decompressed) file in chunks and delimits ONE record at a time with the pattern
// splitter of the current record type (MakePatternSplitter with max_records_per_call = 1), so
// the type may change at every record boundary. Offsets, record numbers and delimiting problems
// are exactly those of the single-file path. A reader may be bounded to [start, end) of its file
// (record-level redrive re-reads just the bytes an error record names); past `end` it reports end
// of file.
//
// Lifetimes: a Record returned by Next() or Peek() stays valid until the next Next() or Peek()
// call on the same reader (the buffer is compacted only then). Memory: about one read chunk plus
// the longest record held, bounded by max_record_bytes.
// Ownership: owns its input stream and splitters. Thread-safety: none; one task's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/input.h"
#include "parse/splitter.h"
#include "weir/sdk.h"
#include "weir/status.h"

namespace weir {

class FileRecordReader final : public sdk::RecordReader {
 public:
  struct Options {
    std::string file_type;               // e.g. "WARC"
    std::string path;                    // absolute path
    std::vector<sdk::RecordFormat> formats;  // one per record type (one for a multi-file reader)
    // The parser's BodyLength for kHeaderBody formats: (type index, header) -> length or -1.
    std::function<int64_t(int, std::string_view)> body_length;
    uint64_t max_record_bytes = 0;       // the dataset's read.max_record_bytes
    size_t excerpt_bytes = 1024;         // how much of the last record last_excerpt() keeps
    uint64_t start_offset = 0;           // first byte to read (a record boundary)
    uint64_t start_number = 0;           // number of the record at start_offset
    uint64_t end_offset = std::numeric_limits<uint64_t>::max();  // exclusive bound
    // Called before each read from the file (fault injection); an error fails the reader.
    std::function<Status()> before_read;
    // Incremented by every Next() of every reader sharing it, so the engine can tell which
    // reader was read last (last_sequence()); may be null.
    uint64_t* sequence = nullptr;
    // Raw (compressed) bytes read are added here for progress display; may be null.
    std::atomic<uint64_t>* raw_progress = nullptr;
  };

  // Opens the file and positions it at start_offset. NotFound when the file does not exist.
  static Result<std::unique_ptr<FileRecordReader>> Open(Options options);
  // Same on an input already open at decompressed offset `at` (at <= start_offset), the one a
  // previous reader of the file gave back with ReleaseInput(): record-level redrive reads each
  // file once, forward, across all its error records instead of decompressing it from the start
  // for every one.
  static Result<std::unique_ptr<FileRecordReader>> Open(Options options,
                                                        std::unique_ptr<InputStream> input,
                                                        uint64_t at);
  // Gives up the input and sets `*at` to its position (the reader never reads past end_offset,
  // so *at <= end_offset). The reader must not be used afterwards.
  std::unique_ptr<InputStream> ReleaseInput(uint64_t* at);

  // Sets the record type that delimits the next record. Takes effect for the next record not yet
  // delimited; a record already peeked keeps the type it was delimited with.
  void SetType(int type);

  // sdk::RecordReader
  std::string_view file_type() const override { return opt_.file_type; }
  std::string_view file_name() const override { return opt_.path; }
  bool Next(sdk::Record& rec) override;
  bool Peek(sdk::Record& rec) override;
  uint64_t offset() const override;
  uint64_t record_number() const override;
  State state() const override { return state_; }

  // Why state() is kFailed (the read error, retryable or not).
  const Status& error() const { return error_; }
  // The offsets, number and problem of the record the last Next() returned (its bytes field is
  // not to be used), or nullptr; and a copy of its first excerpt_bytes bytes, which stays valid
  // whatever the reader does next (error records are written after the user's code returns).
  const sdk::Record* last() const { return has_last_ ? &last_ : nullptr; }
  const std::string& last_excerpt() const { return last_excerpt_; }
  // Starts a unit: first_offset() then gives the offset of the first record Next() returns
  // from now on (whitespace skipped before it is not part of it).
  void MarkUnit() {
    first_since_mark_.reset();
    unit_excerpt_.clear();
  }
  std::optional<uint64_t> first_offset() const { return first_since_mark_; }
  // The first excerpt_bytes bytes of the records Next() returned since MarkUnit(), in order (a
  // document-level error record's excerpt starts at the document's first record).
  const std::string& unit_excerpt() const { return unit_excerpt_; }
  // A copy of the first excerpt_bytes bytes of that first record (empty when there is none):
  // the excerpt of an error about the unit as a whole (a column check of its document).
  const std::string& first_excerpt() const {
    static const std::string kNone;
    return first_since_mark_ ? first_excerpt_ : kNone;
  }
  // The value of Options::sequence at the last Next() (0 if none).
  uint64_t last_sequence() const { return last_seq_; }

 private:
  struct Entry {
    uint64_t offset, end_offset, number;
    const char* problem;
    uint64_t bytes_at;  // file offset of the bytes' first byte when they are in buf_
    size_t len;
    bool owned;         // bytes are in `copy` (an excerpt the splitter assembled)
    std::string copy;
  };
  explicit FileRecordReader(Options o) : opt_(std::move(o)) {}
  bool Ensure();      // at least one entry queued, or false at end / on failure
  bool Fill();        // appends a chunk; false on failure (sets error_)
  void ToRecord(const Entry& e, sdk::Record& rec) const;
  RecordSplitter& splitter();

  Options opt_;
  std::unique_ptr<InputStream> in_;
  std::vector<std::unique_ptr<RecordSplitter>> splitters_;  // by type, made on first use
  int type_ = 0;
  int splitter_type_ = -1;  // the type whose splitter may hold state mid-record
  std::string buf_;
  uint64_t base_ = 0;   // file offset of buf_[0]
  size_t scan_ = 0;     // buf_[0, scan_) is delimited (queued or handed out)
  bool eof_ = false;
  uint64_t next_number_ = 0;
  uint64_t raw_seen_ = 0;
  std::deque<Entry> queue_;
  Entry current_{};  // the entry Next() handed out last (owns its copy, if any)
  sdk::Record last_;
  std::string last_excerpt_;
  std::string first_excerpt_;
  bool has_last_ = false;
  uint64_t last_seq_ = 0;
  std::optional<uint64_t> first_since_mark_;
  std::string unit_excerpt_;
  State state_ = State::kOk;
  Status error_;
};

}  // namespace weir
