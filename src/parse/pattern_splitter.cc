#include "parse/pattern_splitter.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "parse/multiline_splitter.h"

namespace weir {

namespace {

constexpr size_t kNpos = std::string_view::npos;

// Position of `pat` in hay[from, size), or npos. An empty pattern never matches, which keeps
// invalid formats from producing endless empty records.
size_t Find(std::string_view hay, std::string_view pat, size_t from) {
  if (pat.empty() || from >= hay.size()) return kNpos;
  return hay.find(pat, from);
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Lengths announced by a header or prefix may be absurd (corrupt input): saturate, never wrap.
uint64_t SatAdd(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max()
                                                      : a + b;
}

// The state machine behind MakePatternSplitter. A record being delimited is kept unconsumed in
// the caller's buffer (at most max_ bytes); everything that may be longer (oversize records,
// runs of bytes outside records) is consumed as it is scanned, keeping only a max_-byte prefix
// and, while a pattern is searched, its last pattern.size()-1 bytes so a straddling match is
// still found. See pattern_splitter.h for the rules.
class PatternSplitter final : public RecordSplitter {
 public:
  PatternSplitter(const sdk::RecordFormat& f, uint64_t max_record_bytes,
                  std::function<int64_t(std::string_view)> body_length, size_t max_records)
      : limit_(max_records),
        kind_(f.kind),
        start_(f.start),
        end_(f.end),
        trailer_(f.trailer),
        end_is_next_start_(f.end_is_next_start),
        eof_ends_record_(f.eof_ends_record),
        prefix_bytes_(static_cast<size_t>(std::clamp(f.prefix_bytes, 1, 8))),
        prefix_big_endian_(f.prefix_big_endian),
        max_(f.max_record_bytes != 0 ? f.max_record_bytes : max_record_bytes),
        body_length_(std::move(body_length)),
        searches_start_(f.kind != sdk::RecordFormat::Kind::kLengthPrefixed && !f.start.empty()) {}

  size_t Split(std::string_view buf, bool at_eof, uint64_t base_offset, uint64_t first_number,
               std::vector<RecordView>& out) override {
    owned_.clear();  // views handed out by the previous call may die now (see splitter.h)
    buf_ = buf;
    eof_ = at_eof;
    base_ = base_offset;
    number_ = first_number;
    out_ = &out;
    gap_from_ = 0;
    const size_t first_out = out.size();
    const size_t n = buf.size();
    size_t pos = 0;
    while (true) {
      Next next{false, pos};
      switch (state_) {
        case State::kBetween:
          if (searches_start_) {
            BeginGap(pos);
          } else {
            state_ = State::kRecord;
          }
          continue;
        case State::kGap:
          next = GapStep(pos);
          break;
        case State::kRecord:
          if (pos == n) return n;  // no record begun (empty start or length prefix)
          if (kind_ == sdk::RecordFormat::Kind::kPatterns) {
            next = PatternsRecord(pos);
          } else if (kind_ == sdk::RecordFormat::Kind::kHeaderBody) {
            next = HeaderBodyRecord(pos);
          } else {
            next = LengthPrefixedRecord(pos);
          }
          break;
        case State::kSkipSearch:
          next = SkipSearchStep(pos);
          break;
        case State::kSkipCount:
          next = SkipCountStep(pos);
          break;
      }
      if (next.stop) return next.pos;
      pos = next.pos;
      // Stop only at a record boundary, so the caller may switch formats before the next call.
      if (limit_ != 0 && state_ == State::kBetween && out.size() - first_out >= limit_) return pos;
    }
  }

 private:
  enum class State : uint8_t {
    kBetween,     // at a record boundary: a run outside records or a record begins here
    kGap,         // in a run of bytes outside any record (maybe begun in an earlier call)
    kRecord,      // a record begins at pos; between calls it is held unconsumed at buf[0]
    kSkipSearch,  // consuming the rest of an oversize record up to skip_target_
    kSkipCount,   // consuming the rest of an oversize record whose length is known
  };
  // What a step decided: stop and return `pos` as the consumed count, or go on at `pos`.
  struct Next {
    bool stop;
    size_t pos;
  };

  // ---- runs of bytes outside any record ----

  void BeginGap(size_t pos) {
    state_ = State::kGap;
    gap_offset_ = base_ + pos;
    gap_carried_ = 0;
    gap_ws_ = true;
    gap_prefix_.clear();
    gap_from_ = pos;
  }

  Next GapStep(size_t pos) {
    const size_t n = buf_.size();
    const size_t s = Find(buf_, start_, pos);
    if (s != kNpos) {
      EndGap(s);
      state_ = State::kRecord;
      return {false, s};
    }
    if (eof_) {
      EndGap(n);
      state_ = State::kBetween;
      return {true, n};
    }
    // A start pattern may begin in the last start_.size()-1 bytes: keep them for the next call.
    const size_t keep = std::min(n - pos, start_.size() - 1);
    NoteGapBytes(n - keep);
    AppendCapped(gap_prefix_, gap_from_, n - keep);
    gap_carried_ += n - keep - gap_from_;
    return {true, n - keep};
  }

  void NoteGapBytes(size_t to) {
    for (size_t i = gap_from_; gap_ws_ && i < to; ++i) gap_ws_ = IsAsciiSpace(buf_[i]);
  }

  // The run ends at buf_[to]: report it unless it is empty or only whitespace.
  void EndGap(size_t to) {
    NoteGapBytes(to);
    const uint64_t total = gap_carried_ + (to - gap_from_);
    if (total == 0 || gap_ws_) return;
    std::string_view bytes;
    if (gap_carried_ == 0) {
      bytes = buf_.substr(gap_from_, static_cast<size_t>(std::min<uint64_t>(total, max_)));
    } else {
      AppendCapped(gap_prefix_, gap_from_, to);
      bytes = Own(gap_prefix_);
    }
    Emit(bytes, gap_offset_, base_ + to, kProblemOutsideRecord, total > max_);
  }

  // ---- records ----

  // Where the next search for `target` may begin in a record held since an earlier call.
  size_t ResumeFrom(size_t pos) {
    const size_t from = pos + std::max(start_.size(), resume_);
    resume_ = 0;
    return from;
  }
  // Holds the record at pos unconsumed, remembering how far `target` was already searched.
  Next Hold(size_t pos, std::string_view target) {
    const size_t tail = buf_.size() - pos;
    resume_ = target.empty() ? tail : (tail >= target.size() ? tail - target.size() + 1 : 0);
    return {true, pos};
  }

  Next PatternsRecord(size_t pos) {
    const size_t n = buf_.size();
    const std::string_view target = end_is_next_start_ ? start_ : end_;
    const size_t t = Find(buf_, target, ResumeFrom(pos));
    const bool resync_at_start = !start_.empty() && !end_is_next_start_;
    if (t != kNpos) {
      const size_t rec_end = end_is_next_start_ ? t : t + target.size();
      if (rec_end - pos > max_) {
        if (resync_at_start) return OversizeSearch(pos, start_, false, pos + start_.size());
        return OversizeKnown(pos, pos, rec_end);
      }
      return EmitRecord(pos, rec_end, nullptr);
    }
    // With end_is_next_start the last start_.size()-1 bytes may begin the next record, so
    // only the bytes before them surely belong to this one.
    const size_t unsure = !eof_ && end_is_next_start_ && !target.empty() ? target.size() - 1 : 0;
    if (n - pos - unsure > max_) {
      // Whatever comes next, the record is longer than the limit.
      if (resync_at_start) return OversizeSearch(pos, start_, false, pos + start_.size());
      return OversizeSearch(pos, target, !end_is_next_start_, pos + start_.size());
    }
    if (eof_) {
      return EmitRecord(pos, n,
                        end_is_next_start_ || eof_ends_record_ ? nullptr : kProblemMissingEnd);
    }
    return Hold(pos, target);
  }

  Next HeaderBodyRecord(size_t pos) {
    const size_t n = buf_.size();
    if (!header_known_) {
      const size_t e = Find(buf_, end_, ResumeFrom(pos));
      const size_t header_end = e == kNpos ? kNpos : e + end_.size();
      if ((e == kNpos && n - pos > max_) || (e != kNpos && header_end - pos > max_)) {
        // A header this long tells nothing reliable: resync at the next record start.
        return OversizeSearch(pos, start_, false, pos + start_.size());
      }
      if (e == kNpos) {
        if (eof_) return EmitRecord(pos, n, kProblemMissingEnd);
        return Hold(pos, end_);
      }
      const int64_t body =
          body_length_ ? body_length_(buf_.substr(pos, header_end - pos)) : int64_t{-1};
      if (body < 0) return EmitRecord(pos, header_end, kProblemMalformedHeader);
      const uint64_t total =
          SatAdd(SatAdd(header_end - pos, static_cast<uint64_t>(body)), trailer_.size());
      if (total > max_) return OversizeCount(pos, pos, total);
      header_known_ = true;
      header_len_ = header_end - pos;
      body_len_ = static_cast<size_t>(body);
    }
    const size_t header_body = header_len_ + body_len_;
    const size_t need = header_body + trailer_.size();
    const size_t avail = n - pos;
    if (avail < need && !eof_) return {true, pos};  // bounded: need <= max_
    header_known_ = false;
    if (avail < header_body) return EmitRecord(pos, n, kProblemTruncated);
    if (avail >= need && buf_.compare(pos + header_body, trailer_.size(), trailer_) == 0) {
      return EmitRecord(pos, pos + need, nullptr);
    }
    return EmitRecord(pos, pos + header_body, kProblemMissingTrailer);
  }

  Next LengthPrefixedRecord(size_t pos) {
    const size_t n = buf_.size();
    const size_t p = prefix_bytes_;
    if (n - pos < p) {
      if (!eof_) return {true, pos};
      // bytes: the cut prefix itself, as there is no payload to show (capped like any excerpt).
      Emit(buf_.substr(pos, std::min<uint64_t>(n - pos, max_)), base_ + pos, base_ + n,
           kProblemTruncated, false);
      state_ = State::kBetween;
      return {false, n};
    }
    uint64_t len = 0;
    for (size_t i = 0; i < p; ++i) {
      const uint64_t b =
          static_cast<unsigned char>(buf_[pos + (prefix_big_endian_ ? i : p - 1 - i)]);
      len = (len << 8) | b;
    }
    if (len > max_) return OversizeCount(pos, pos + p, SatAdd(p, len));
    const size_t end = pos + p + static_cast<size_t>(len);
    state_ = State::kBetween;
    if (end <= n) {
      Emit(buf_.substr(pos + p, len), base_ + pos, base_ + end, nullptr, false);
      return {false, end};
    }
    if (!eof_) {
      state_ = State::kRecord;
      return {true, pos};  // bounded: p + len <= p + max_
    }
    Emit(buf_.substr(pos + p), base_ + pos, base_ + n, kProblemTruncated, false);
    return {false, n};
  }

  Next EmitRecord(size_t pos, size_t end, const char* problem) {
    Emit(buf_.substr(pos, end - pos), base_ + pos, base_ + end, problem, false);
    state_ = State::kBetween;
    return {false, end};
  }

  // ---- oversize records ----

  // The oversize record at pos ends at buf_[end]; its excerpt starts at bytes_from.
  Next OversizeKnown(size_t pos, size_t bytes_from, size_t end) {
    const size_t len = std::min<uint64_t>(end - bytes_from, max_);
    Emit(buf_.substr(bytes_from, len), base_ + pos, base_ + end, kProblemOversize, true);
    state_ = State::kBetween;
    return {false, end};
  }

  // The oversize record at pos ends at the next `target` at or after `from` (after it when
  // `include`), or at EOF.
  Next OversizeSearch(size_t pos, std::string_view target, bool include, size_t from) {
    const size_t n = buf_.size();
    from = std::min(from, n);
    const size_t t = Find(buf_, target, from);
    if (t != kNpos) return OversizeKnown(pos, pos, include ? t + target.size() : t);
    if (eof_) return OversizeKnown(pos, pos, n);
    const size_t keep = target.empty() ? 0 : std::min(target.size() - 1, n - from);
    BeginSkip(pos, pos, n - keep);
    skip_target_ = target;
    skip_include_ = include;
    state_ = State::kSkipSearch;
    return {true, n - keep};
  }

  // The oversize record at pos is `total` bytes long (prefix included).
  Next OversizeCount(size_t pos, size_t bytes_from, uint64_t total) {
    const size_t n = buf_.size();
    if (total <= n - pos) return OversizeKnown(pos, bytes_from, pos + static_cast<size_t>(total));
    if (eof_) return OversizeKnown(pos, bytes_from, n);
    BeginSkip(pos, bytes_from, n);
    skip_remaining_ = total - (n - pos);
    state_ = State::kSkipCount;
    return {true, n};
  }

  void BeginSkip(size_t pos, size_t bytes_from, size_t consumed) {
    skip_offset_ = base_ + pos;
    skip_prefix_.clear();
    AppendCapped(skip_prefix_, bytes_from, consumed);
  }

  Next SkipSearchStep(size_t pos) {
    const size_t n = buf_.size();
    const size_t t = Find(buf_, skip_target_, pos);
    if (t != kNpos || eof_) {
      const size_t end = t == kNpos ? n : (skip_include_ ? t + skip_target_.size() : t);
      return EndSkip(pos, end);
    }
    const size_t keep = skip_target_.empty() ? 0 : std::min(skip_target_.size() - 1, n - pos);
    AppendCapped(skip_prefix_, pos, n - keep);
    return {true, n - keep};
  }

  Next SkipCountStep(size_t pos) {
    const size_t n = buf_.size();
    if (skip_remaining_ <= n - pos) return EndSkip(pos, pos + static_cast<size_t>(skip_remaining_));
    if (eof_) return EndSkip(pos, n);
    AppendCapped(skip_prefix_, pos, n);
    skip_remaining_ -= n - pos;
    return {true, n};
  }

  Next EndSkip(size_t pos, size_t end) {
    AppendCapped(skip_prefix_, pos, end);
    Emit(Own(skip_prefix_), skip_offset_, base_ + end, kProblemOversize, true);
    state_ = State::kBetween;
    return {false, end};
  }

  // ---- helpers ----

  // Appends buf_[from, to) to dst without letting dst grow past max_ bytes.
  void AppendCapped(std::string& dst, size_t from, size_t to) const {
    if (from >= to || dst.size() >= max_) return;
    const size_t room = static_cast<size_t>(max_ - dst.size());
    dst.append(buf_.data() + from, std::min(to - from, room));
  }

  // Moves an accumulated prefix into storage that lives until the next Split() call.
  std::string_view Own(std::string& s) {
    owned_.push_back(std::move(s));
    s.clear();
    return owned_.back();
  }

  void Emit(std::string_view bytes, uint64_t offset, uint64_t end_offset, const char* problem,
            bool oversize) {
    RecordView v{bytes, offset, end_offset, number_++, oversize};
    v.problem = problem;
    out_->push_back(v);
  }

  const size_t limit_;  // views per Split() call before stopping at a boundary; 0 = no limit
  // Format (fixed at construction).
  const sdk::RecordFormat::Kind kind_;
  const std::string start_, end_, trailer_;
  const bool end_is_next_start_, eof_ends_record_;
  const size_t prefix_bytes_;
  const bool prefix_big_endian_;
  const uint64_t max_;
  const std::function<int64_t(std::string_view)> body_length_;
  const bool searches_start_;  // records are found by searching `start` (else they abut)

  // The current call.
  std::string_view buf_;
  bool eof_ = false;
  uint64_t base_ = 0;
  uint64_t number_ = 0;
  std::vector<RecordView>* out_ = nullptr;

  State state_ = State::kBetween;
  // kRecord held between calls: bytes (from the record start) already searched for the
  // pattern, and for kHeaderBody the parsed header (so body_length runs once per header).
  size_t resume_ = 0;
  bool header_known_ = false;
  size_t header_len_ = 0;
  size_t body_len_ = 0;
  // kGap: where the run began, its bytes in earlier calls, whether all were whitespace, their
  // first max_ bytes, and where the run's bytes in this call begin.
  uint64_t gap_offset_ = 0;
  uint64_t gap_carried_ = 0;
  bool gap_ws_ = true;
  std::string gap_prefix_;
  size_t gap_from_ = 0;
  // kSkipSearch / kSkipCount: the oversize record's offset and first max_ bytes.
  uint64_t skip_offset_ = 0;
  std::string skip_prefix_;
  std::string_view skip_target_;  // views start_ or end_
  bool skip_include_ = false;
  uint64_t skip_remaining_ = 0;
  // Prefix copies emitted by this call; deque keeps each string (and its SSO buffer) in place.
  std::deque<std::string> owned_;
};

}  // namespace

Status ValidateRecordFormat(const sdk::RecordFormat& f) {
  using Kind = sdk::RecordFormat::Kind;
  switch (f.kind) {
    case Kind::kPatterns:
      if (f.end_is_next_start && f.start.empty()) {
        return Status::Invalid("record format: end_is_next_start needs a non-empty start pattern");
      }
      if (!f.end_is_next_start && f.end.empty()) {
        return Status::Invalid("record format: the end pattern must not be empty");
      }
      return Status::OK();
    case Kind::kHeaderBody:
      if (f.start.empty() || f.end.empty()) {
        return Status::Invalid(
            "record format: header_body needs non-empty start and end (header end) patterns");
      }
      return Status::OK();
    case Kind::kLengthPrefixed:
      if (f.prefix_bytes != 1 && f.prefix_bytes != 2 && f.prefix_bytes != 4 &&
          f.prefix_bytes != 8) {
        return Status::Invalid("record format: prefix_bytes must be 1, 2, 4 or 8, not " +
                               std::to_string(f.prefix_bytes));
      }
      return Status::OK();
    case Kind::kStartRegex:
      return ValidateStartRegex(f.start).WithContext("record format");
  }
  return Status::Invalid("record format: unknown kind");
}

std::unique_ptr<RecordSplitter> MakePatternSplitter(
    const sdk::RecordFormat& format, uint64_t max_record_bytes,
    std::function<int64_t(std::string_view header)> body_length, size_t max_records_per_call) {
  if (format.kind == sdk::RecordFormat::Kind::kStartRegex) {
    return MakeMultilineSplitter(
        format.start, format.max_lines,
        format.max_record_bytes != 0 ? format.max_record_bytes : max_record_bytes,
        max_records_per_call);
  }
  return std::make_unique<PatternSplitter>(format, max_record_bytes, std::move(body_length),
                                           max_records_per_call);
}

}  // namespace weir
