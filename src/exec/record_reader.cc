#include "exec/record_reader.h"

#include "parse/pattern_splitter.h"

namespace weir {

namespace {
constexpr size_t kChunk = 1 << 20;
}  // namespace

Result<std::unique_ptr<FileRecordReader>> FileRecordReader::Open(Options options) {
  const std::string path = options.path;
  WEIR_ASSIGN_OR_RETURN(auto in, OpenInput(path));
  return Open(std::move(options), std::move(in), 0);
}

std::unique_ptr<InputStream> FileRecordReader::ReleaseInput(uint64_t* at) {
  *at = base_ + buf_.size();
  eof_ = true;
  state_ = State::kFailed;
  error_ = Status::Internal("FileRecordReader used after ReleaseInput()");
  return std::move(in_);
}

Result<std::unique_ptr<FileRecordReader>> FileRecordReader::Open(Options options,
                                                                 std::unique_ptr<InputStream> input,
                                                                 uint64_t at) {
  if (options.formats.empty()) return Status::Internal("FileRecordReader without a record format");
  if (at > options.start_offset) {
    return Status::Internal("FileRecordReader: input at " + std::to_string(at) + " is past the start " +
                            std::to_string(options.start_offset));
  }
  std::unique_ptr<FileRecordReader> r(new FileRecordReader(std::move(options)));
  r->in_ = std::move(input);
  r->raw_seen_ = r->in_->raw_bytes_read();  // what earlier readers of the input counted already
  if (r->opt_.start_offset > at) WEIR_RETURN_IF_ERROR(r->in_->SkipTo(r->opt_.start_offset));
  r->base_ = r->opt_.start_offset;
  r->next_number_ = r->opt_.start_number;
  r->splitters_.resize(r->opt_.formats.size());
  if (r->opt_.end_offset <= r->base_) r->eof_ = true;
  return r;
}

void FileRecordReader::SetType(int type) {
  if (type >= 0 && static_cast<size_t>(type) < opt_.formats.size()) type_ = type;
}

RecordSplitter& FileRecordReader::splitter() {
  if (splitter_type_ != type_ && splitter_type_ >= 0) {
    // The previous type's splitter stopped at a record boundary or holds at most the start of a
    // record it had not delimited yet (still unconsumed in buf_); a fresh one is equivalent.
    splitters_[splitter_type_].reset();
  }
  splitter_type_ = type_;
  auto& s = splitters_[type_];
  if (!s) {
    const int t = type_;
    auto body = opt_.body_length;
    s = MakePatternSplitter(
        opt_.formats[t], opt_.max_record_bytes,
        [t, body](std::string_view h) { return body ? body(t, h) : int64_t{-1}; }, 1);
  }
  return *s;
}

bool FileRecordReader::Fill() {
  if (opt_.before_read) {
    Status st = opt_.before_read();
    if (!st.ok()) {
      error_ = st.WithContext(opt_.path);
      state_ = State::kFailed;
      return false;
    }
  }
  const uint64_t file_pos = base_ + buf_.size();
  size_t want = kChunk;
  if (opt_.end_offset - file_pos < want) want = static_cast<size_t>(opt_.end_offset - file_pos);
  const size_t old = buf_.size();
  buf_.resize(old + want);
  auto got = in_->Read(buf_.data() + old, want);
  if (!got.ok()) {
    buf_.resize(old);
    error_ = got.status();  // input errors already name the path (io/input.h)
    state_ = State::kFailed;
    return false;
  }
  buf_.resize(old + *got);
  if (*got == 0 || base_ + buf_.size() >= opt_.end_offset) eof_ = true;
  if (opt_.raw_progress != nullptr) {
    const uint64_t raw = in_->raw_bytes_read();
    opt_.raw_progress->fetch_add(raw - raw_seen_);
    raw_seen_ = raw;
  }
  return true;
}

bool FileRecordReader::Ensure() {
  if (!queue_.empty()) return true;
  if (state_ != State::kOk) return false;
  // Everything before scan_ was handed out and its lifetime has ended.
  if (scan_ >= kChunk || (scan_ > 0 && scan_ * 2 >= buf_.size())) {
    buf_.erase(0, scan_);
    base_ += scan_;
    scan_ = 0;
  }
  std::vector<RecordView> views;
  for (;;) {
    views.clear();
    const std::string_view rest = std::string_view(buf_).substr(scan_);
    const size_t used = splitter().Split(rest, eof_, base_ + scan_, next_number_, views);
    for (const RecordView& v : views) {
      Entry e{v.offset, v.end_offset, v.number, v.problem, 0, v.bytes.size(), false, {}};
      const char* b = buf_.data();
      if (v.bytes.data() >= b && v.bytes.data() + v.bytes.size() <= b + buf_.size()) {
        e.bytes_at = base_ + static_cast<uint64_t>(v.bytes.data() - b);
      } else {
        e.owned = true;  // an excerpt in splitter storage that the next Split() reuses
        e.copy.assign(v.bytes);
      }
      queue_.push_back(std::move(e));
    }
    scan_ += used;
    next_number_ += views.size();
    if (!queue_.empty()) return true;
    if (eof_) {
      state_ = State::kEnd;
      return false;
    }
    if (!Fill()) return false;
  }
}

void FileRecordReader::ToRecord(const Entry& e, sdk::Record& rec) const {
  rec.bytes = e.owned ? std::string_view(e.copy)
                      : std::string_view(buf_.data() + (e.bytes_at - base_), e.len);
  rec.offset = e.offset;
  rec.end_offset = e.end_offset;
  rec.number = e.number;
  rec.problem = e.problem;
}

bool FileRecordReader::Next(sdk::Record& rec) {
  if (!Ensure()) return false;
  current_ = std::move(queue_.front());
  queue_.pop_front();
  ToRecord(current_, rec);
  if (!first_since_mark_) {
    first_since_mark_ = rec.offset;
    first_excerpt_.assign(rec.bytes.substr(0, opt_.excerpt_bytes));
  }
  last_ = rec;
  last_.bytes = {};
  last_excerpt_.assign(rec.bytes.substr(0, opt_.excerpt_bytes));
  if (unit_excerpt_.size() < opt_.excerpt_bytes) {
    unit_excerpt_.append(rec.bytes.substr(0, opt_.excerpt_bytes - unit_excerpt_.size()));
  }
  has_last_ = true;
  if (opt_.sequence != nullptr) last_seq_ = ++*opt_.sequence;
  return true;
}

bool FileRecordReader::Peek(sdk::Record& rec) {
  if (!Ensure()) return false;
  ToRecord(queue_.front(), rec);
  return true;
}

uint64_t FileRecordReader::offset() const {
  return queue_.empty() ? base_ + scan_ : queue_.front().offset;
}

uint64_t FileRecordReader::record_number() const {
  return queue_.empty() ? next_number_ : queue_.front().number;
}

}  // namespace weir
