#include "parse/splitter.h"

#include <cstring>
#include <string>
#include <utility>

namespace weir {

RecordSplitter::~RecordSplitter() = default;

namespace {

// Finds record terminators for newline-delimited input. No state is needed between bytes.
struct LineScanner {
  struct State {};
  // Searches data[from, n) for the '\n' that ends the current record.
  bool FindEnd(const char* data, size_t from, size_t n, State& /*st*/, size_t* nl) const {
    if (from >= n) return false;
    const void* p = std::memchr(data + from, '\n', n - from);
    if (p == nullptr) return false;
    *nl = static_cast<size_t>(static_cast<const char*>(p) - data);
    return true;
  }
};

// Finds record terminators for RFC 4180 CSV: tracks the quote state across the whole record,
// including across Split() calls (the state is saved with the unconsumed tail).
struct CsvScanner {
  enum class State : uint8_t {
    kFieldStart,     // at the first byte of a field: a quote here opens a quoted field
    kUnquoted,       // inside an unquoted field
    kQuoted,         // inside a quoted field: newlines and delimiters are data
    kQuoteInQuoted,  // just saw a quote inside a quoted field: doubled quote or closing quote
  };
  char delim;
  char quote;

  bool FindEnd(const char* data, size_t from, size_t n, State& st, size_t* nl) const {
    size_t i = from;
    while (i < n) {
      if (st == State::kQuoted) {
        // Fast path: only a quote can leave a quoted field.
        const void* p = std::memchr(data + i, quote, n - i);
        if (p == nullptr) return false;
        i = static_cast<size_t>(static_cast<const char*>(p) - data) + 1;
        st = State::kQuoteInQuoted;
        continue;
      }
      const char c = data[i];
      if (c == '\n') {
        st = State::kFieldStart;
        *nl = i;
        return true;
      }
      if (c == delim) {
        st = State::kFieldStart;
      } else if (st == State::kFieldStart) {
        st = (c == quote) ? State::kQuoted : State::kUnquoted;
      } else if (st == State::kQuoteInQuoted) {
        // A doubled quote continues the quoted field; anything else follows a closing quote
        // (malformed text after it is the field parser's business, not the splitter's).
        st = (c == quote) ? State::kQuoted : State::kUnquoted;
      }
      ++i;
    }
    return false;
  }
};

// The buffer/offset/oversize bookkeeping shared by both splitters; Scanner finds terminators.
template <typename Scanner>
class SplitterImpl final : public RecordSplitter {
 public:
  SplitterImpl(Scanner scanner, uint64_t max_record_bytes)
      : scanner_(scanner), max_(max_record_bytes) {}

  size_t Split(std::string_view buf, bool at_eof, uint64_t base_offset, uint64_t first_number,
               std::vector<RecordView>& out) override {
    const char* data = buf.data();
    const size_t n = buf.size();
    uint64_t number = first_number;
    size_t pos = 0;

    if (skipping_) {
      // Inside an oversize record that began in an earlier buffer: look for its end only.
      size_t nl = 0;
      const bool found = scanner_.FindEnd(data, 0, n, skip_state_, &nl);
      if (!found && !at_eof) return n;
      const size_t end = found ? nl + 1 : n;
      // The prefix of the record being skipped becomes the emitted one; swapping (rather than
      // reusing one string) keeps this view valid if another oversize record starts below.
      std::swap(emitted_prefix_, pending_prefix_);
      out.push_back(RecordView{emitted_prefix_, skip_offset_, base_offset + end, number++, true});
      skipping_ = false;
      skip_state_ = typename Scanner::State{};
      pos = end;
      if (pos == n) return n;
    }

    // Resume the scan of a tail left over from the previous call where it stopped.
    size_t hint = scanned_;
    typename Scanner::State st = scan_state_;
    scanned_ = 0;
    scan_state_ = typename Scanner::State{};
    while (pos < n) {
      size_t nl = 0;
      const bool found = scanner_.FindEnd(data, pos + hint, n, st, &nl);
      hint = 0;
      if (!found) break;
      size_t len = nl - pos;
      if (len > 0 && data[nl - 1] == '\r') --len;
      Emit(data, pos, len, base_offset, base_offset + nl + 1, number++, out);
      pos = nl + 1;
      st = typename Scanner::State{};
    }
    if (pos == n) return n;

    const size_t tail = n - pos;
    if (at_eof) {
      Emit(data, pos, tail, base_offset, base_offset + n, number++, out);
      return n;
    }
    // More than max+1 bytes without a terminator: the content is longer than max even if the
    // terminator turns out to be "\r\n". Keep the prefix and skip the rest.
    if (tail - 1 > max_) {
      pending_prefix_.assign(data + pos, static_cast<size_t>(max_));
      skip_offset_ = base_offset + pos;
      skip_state_ = st;
      skipping_ = true;
      return n;
    }
    scanned_ = tail;
    scan_state_ = st;
    return pos;
  }

 private:
  void Emit(const char* data, size_t pos, size_t len, uint64_t base, uint64_t end_offset,
            uint64_t number, std::vector<RecordView>& out) const {
    const bool oversize = len > max_;
    if (oversize) len = static_cast<size_t>(max_);
    out.push_back(
        RecordView{std::string_view(data + pos, len), base + pos, end_offset, number, oversize});
  }

  Scanner scanner_;
  const uint64_t max_;
  // Unconsumed tail: how many of its bytes were already scanned, and the scanner state there.
  size_t scanned_ = 0;
  typename Scanner::State scan_state_{};
  // Oversize record in progress.
  bool skipping_ = false;
  uint64_t skip_offset_ = 0;
  typename Scanner::State skip_state_{};
  std::string pending_prefix_;  // prefix of the record being skipped
  std::string emitted_prefix_;  // prefix of the oversize record emitted by the last call
};

}  // namespace

std::unique_ptr<RecordSplitter> MakeLineSplitter(uint64_t max_record_bytes) {
  return std::make_unique<SplitterImpl<LineScanner>>(LineScanner{}, max_record_bytes);
}

std::unique_ptr<RecordSplitter> MakeCsvSplitter(char delimiter, char quote,
                                                uint64_t max_record_bytes) {
  return std::make_unique<SplitterImpl<CsvScanner>>(CsvScanner{delimiter, quote}, max_record_bytes);
}

}  // namespace weir
