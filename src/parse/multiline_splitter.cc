#include "parse/multiline_splitter.h"

#include <re2/re2.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>

#include "parse/pattern_splitter.h"

namespace weir {

namespace {

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

RE2::Options StartRegexOptions() {
  RE2::Options o;
  o.set_log_errors(false);  // the message goes into the Status instead of stderr
  return o;
}

// The line-by-line state machine behind MakeMultilineSplitter (rules in multiline_splitter.h).
// A record that may still be valid is held unconsumed in the caller's buffer (at most max_
// bytes plus the line being judged); a run before the first record, and a record once it broke a
// limit, are consumed as they are scanned, keeping only their first max_ bytes.
class MultilineSplitter final : public RecordSplitter {
 public:
  MultilineSplitter(std::string_view regex, uint32_t max_lines, uint64_t max_record_bytes,
                    size_t limit)
      : re_(re2::StringPiece(regex.data(), regex.size()), StartRegexOptions()),
        max_lines_(max_lines == 0 ? kDefaultMultilineMaxLines : max_lines),
        max_(max_record_bytes),
        limit_(limit) {}

  size_t Split(std::string_view buf, bool at_eof, uint64_t base_offset, uint64_t first_number,
               std::vector<RecordView>& out) override {
    owned_.clear();  // views handed out by the previous call may die now (see splitter.h)
    buf_ = buf;
    base_ = base_offset;
    number_ = first_number;
    out_ = &out;
    first_out_ = out.size();
    const size_t n = buf.size();
    size_t pos = 0;
    if (mode_ == Mode::kRecord) {
      // The held record is at buf[0]; its lines up to rec_scanned_ are judged already.
      rec_start_ = 0;
      pos = rec_scanned_;
    }
    if (in_long_line_) {
      // The rest of a line longer than max_ that was judged in an earlier call.
      const void* p = pos < n ? std::memchr(buf.data() + pos, '\n', n - pos) : nullptr;
      if (p == nullptr) {
        Consume(pos, n);
        if (n > 0) long_last_cr_ = buf[n - 1] == '\r';
        if (!at_eof) return n;
        SetContentEnd(base_ + n);  // unterminated last line: taken as is
        in_long_line_ = false;
        Close(n);
        Reset();
        return n;
      }
      const size_t nl = static_cast<size_t>(static_cast<const char*>(p) - buf.data());
      Consume(pos, nl + 1);
      const bool cr = nl > pos ? buf[nl - 1] == '\r' : long_last_cr_;
      SetContentEnd(base_ + nl - (cr ? 1 : 0));
      in_long_line_ = false;
      pos = nl + 1;
    }
    while (true) {
      if (pos >= n) {
        if (at_eof) {
          Close(n);
          Reset();
          return n;
        }
        return Stop(pos);
      }
      const void* p = std::memchr(buf.data() + pos, '\n', n - pos);
      size_t next = 0, content_end = 0;
      if (p != nullptr) {
        const size_t nl = static_cast<size_t>(static_cast<const char*>(p) - buf.data());
        next = nl + 1;
        content_end = (nl > pos && buf[nl - 1] == '\r') ? nl - 1 : nl;
      } else if (at_eof) {
        next = content_end = n;
      } else if (n - pos - 1 > max_) {
        // Longer than max_ even if the line turns out to end with "\r\n".
        return LongLine(pos);
      } else {
        return Stop(pos);  // an incomplete line: judged when its end is here
      }
      const bool start = IsStart(pos, std::min<size_t>(content_end, pos + max_));
      if (start) {
        if (Close(pos) && LimitReached()) {
          Reset();
          return pos;
        }
        mode_ = Mode::kRecord;
        rec_start_ = pos;
        rec_content_end_ = content_end;
        lines_ = 1;
        if (content_end - pos > max_) ToSkip(kProblemOversize, next);
      } else {
        switch (mode_) {
          case Mode::kLead:
            if (!gap_open_) OpenGap(pos);
            Consume(pos, next);
            gap_content_end_ = base_ + content_end;
            break;
          case Mode::kRecord:
            ++lines_;
            rec_content_end_ = content_end;
            if (lines_ > max_lines_) {
              ToSkip(kProblemTooManyLines, next);
            } else if (content_end - rec_start_ > max_) {
              ToSkip(kProblemOversize, next);
            }
            break;
          case Mode::kSkip:
            ++lines_;
            Consume(pos, next);
            skip_content_end_ = base_ + content_end;
            break;
        }
      }
      pos = next;
    }
  }

 private:
  enum class Mode : uint8_t {
    kLead,    // no record begun yet (start of file, or after a boundary in limit mode)
    kRecord,  // a record within its limits, held unconsumed from rec_start_
    kSkip,    // a record past a limit: consumed as scanned, first max_ bytes kept
  };

  bool IsStart(size_t from, size_t to) const {
    if (!re_.ok()) return false;
    const re2::StringPiece text(buf_.data() + from, to - from);
    return re_.Match(text, 0, text.size(), RE2::UNANCHORED, nullptr, 0);
  }

  bool LimitReached() const { return limit_ != 0 && out_->size() - first_out_ >= limit_; }

  // A line at pos longer than max_ whose end is not in the buffer: judge it by its first max_
  // bytes and consume it as part of whatever it belongs to.
  size_t LongLine(size_t pos) {
    const size_t n = buf_.size();
    if (IsStart(pos, pos + max_)) {
      if (Close(pos) && LimitReached()) {
        Reset();
        return pos;
      }
      mode_ = Mode::kSkip;
      skip_offset_ = base_ + pos;
      skip_problem_ = kProblemOversize;
      skip_prefix_.clear();
      lines_ = 1;
      Consume(pos, n);
    } else if (mode_ == Mode::kLead) {
      if (!gap_open_) OpenGap(pos);
      Consume(pos, n);
    } else if (mode_ == Mode::kRecord) {
      ++lines_;
      ToSkip(lines_ > max_lines_ ? kProblemTooManyLines : kProblemOversize, n);
    } else {
      ++lines_;
      Consume(pos, n);
    }
    in_long_line_ = true;
    long_last_cr_ = buf_[n - 1] == '\r';
    return n;
  }

  // No complete line at pos: keep it (and a held record) unconsumed for the next call.
  size_t Stop(size_t pos) {
    if (mode_ == Mode::kRecord) {
      rec_scanned_ = pos - rec_start_;
      rec_content_end_ -= rec_start_;
      return rec_start_;
    }
    return pos;
  }

  // The held record broke a limit: keep its first max_ bytes, consume it up to `to`.
  void ToSkip(const char* problem, size_t to) {
    mode_ = Mode::kSkip;
    skip_problem_ = problem;
    skip_offset_ = base_ + rec_start_;
    skip_content_end_ = base_ + rec_content_end_;
    skip_prefix_.clear();
    Consume(rec_start_, to);
  }

  void OpenGap(size_t pos) {
    gap_open_ = true;
    gap_ws_ = true;
    gap_offset_ = base_ + pos;
    gap_prefix_.clear();
  }

  // Bytes [from, to) of the current call belong to the run before the first record (kLead) or
  // to a record past a limit (kSkip): note them, keeping at most max_ bytes.
  void Consume(size_t from, size_t to) {
    std::string& dst = mode_ == Mode::kSkip ? skip_prefix_ : gap_prefix_;
    if (mode_ == Mode::kLead) {
      for (size_t i = from; gap_ws_ && i < to; ++i) gap_ws_ = IsAsciiSpace(buf_[i]);
    }
    if (from >= to || dst.size() >= max_) return;
    dst.append(buf_.data() + from, std::min<size_t>(to - from, static_cast<size_t>(max_ - dst.size())));
  }

  void SetContentEnd(uint64_t end) {
    if (mode_ == Mode::kSkip) {
      skip_content_end_ = end;
    } else {
      gap_content_end_ = end;
    }
  }

  // Emits the view that ends where a start line (or end of file) at buf[pos] begins, if any.
  bool Close(size_t pos) {
    const uint64_t end = base_ + pos;
    switch (mode_) {
      case Mode::kLead:
        if (!gap_open_) return false;
        gap_open_ = false;
        if (gap_ws_) return false;  // only blank lines before the first record: ignored
        EmitOwned(gap_prefix_, gap_offset_, gap_content_end_, end, kProblemOutsideRecord);
        return true;
      case Mode::kRecord: {
        RecordView v{buf_.substr(rec_start_, rec_content_end_ - rec_start_), base_ + rec_start_,
                     end, number_++};
        v.range_end = base_ + rec_content_end_;
        out_->push_back(v);
        mode_ = Mode::kLead;
        return true;
      }
      case Mode::kSkip:
        EmitOwned(skip_prefix_, skip_offset_, skip_content_end_, end, skip_problem_);
        mode_ = Mode::kLead;
        return true;
    }
    return false;
  }

  void EmitOwned(std::string& prefix, uint64_t offset, uint64_t content_end, uint64_t end,
                 const char* problem) {
    const uint64_t len = content_end - offset;
    if (prefix.size() > len) prefix.resize(static_cast<size_t>(len));  // drop the terminator
    owned_.push_back(std::move(prefix));
    prefix.clear();
    RecordView v{owned_.back(), offset, end, number_++, len > max_};
    v.problem = problem;
    v.range_end = content_end;
    out_->push_back(v);
  }

  void Reset() {
    mode_ = Mode::kLead;
    gap_open_ = false;
    in_long_line_ = false;
    rec_scanned_ = 0;
  }

  const RE2 re_;
  const uint64_t max_lines_;
  const uint64_t max_;
  const size_t limit_;  // views per call before stopping at a boundary; 0 = no limit

  // The current call.
  std::string_view buf_;
  uint64_t base_ = 0;
  uint64_t number_ = 0;
  std::vector<RecordView>* out_ = nullptr;
  size_t first_out_ = 0;

  Mode mode_ = Mode::kLead;
  uint64_t lines_ = 0;  // lines of the current record so far
  // kRecord: buffer positions in the current call (rec_start_ is 0 for a held record);
  // between calls rec_scanned_ and rec_content_end_ are relative to the record's start.
  size_t rec_start_ = 0, rec_scanned_ = 0, rec_content_end_ = 0;
  // kLead: the run of lines before the first record (file offsets).
  bool gap_open_ = false, gap_ws_ = true;
  uint64_t gap_offset_ = 0, gap_content_end_ = 0;
  std::string gap_prefix_;
  // kSkip: the record past a limit (file offsets).
  uint64_t skip_offset_ = 0, skip_content_end_ = 0;
  const char* skip_problem_ = nullptr;
  std::string skip_prefix_;
  // A line longer than max_ is being consumed; whether the byte before this call was '\r'.
  bool in_long_line_ = false, long_last_cr_ = false;
  // Prefix copies emitted by this call; deque keeps each string (and its SSO buffer) in place.
  std::deque<std::string> owned_;
};

}  // namespace

Status ValidateStartRegex(std::string_view regex) {
  if (regex.empty()) {
    return Status::Invalid("the start regex is empty; it must match the first line of a record, "
                           "e.g. '^\\d{4}-\\d{2}-\\d{2} '");
  }
  RE2 re(re2::StringPiece(regex.data(), regex.size()), StartRegexOptions());
  if (!re.ok()) {
    return Status::Invalid("start regex '" + std::string(regex) + "' does not compile: " +
                           re.error() +
                           " (RE2 syntax; no look-around or backreferences; in YAML, single "
                           "quotes keep backslashes as written)");
  }
  return Status::OK();
}

std::unique_ptr<RecordSplitter> MakeMultilineSplitter(std::string_view start_regex,
                                                      uint32_t max_lines,
                                                      uint64_t max_record_bytes,
                                                      size_t max_records_per_call) {
  return std::make_unique<MultilineSplitter>(start_regex, max_lines, max_record_bytes,
                                             max_records_per_call);
}

}  // namespace weir
