// libFuzzer target: the pattern splitter (SDK record formats, kStartRegex = the multiline
// splitter included). The first input bytes choose a
// RecordFormat (kind, patterns, flags, limit); the rest is the file. Splitting it in random-sized
// chunks must give exactly the records of splitting it in one buffer, and those records must
// account for every byte: ordered, numbered consecutively, no longer than the limit, bytes equal
// to the input at their offsets, and only ASCII whitespace between them (nothing lost silently).
//
// Build and run: make fuzz, or ctest -L fuzz (fuzz/CMakeLists.txt, fuzz/README.md).
// Corpus: fuzz/corpus/pattern_splitter_fuzz/.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "parse/multiline_splitter.h"
#include "parse/pattern_splitter.h"

namespace {

using weir::fuzz::Rec;

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// A parser's BodyLength: the first run of decimal digits in the header, -1 if none.
int64_t Digits(std::string_view h) {
  size_t k = 0;
  while (k < h.size() && (h[k] < '0' || h[k] > '9')) ++k;
  if (k == h.size()) return -1;
  int64_t v = 0;
  for (; k < h.size() && h[k] >= '0' && h[k] <= '9'; ++k) {
    if (v > 1000000000000) return v;  // long enough to be oversize, far from overflow
    v = v * 10 + (h[k] - '0');
  }
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  using Kind = weir::sdk::RecordFormat::Kind;
  weir::sdk::RecordFormat f;
  f.kind = static_cast<Kind>(data[0] % 4);  // kStartRegex: the multiline splitter
  f.end_is_next_start = data[0] & 0x04;
  f.eof_ends_record = data[0] & 0x08;
  f.prefix_big_endian = data[0] & 0x10;
  static constexpr int kPrefix[] = {1, 2, 4, 8};
  f.prefix_bytes = kPrefix[(data[0] >> 5) & 3];
  const uint64_t max = data[1];  // 0..255, small so oversize paths are common
  const uint8_t chunk_seed = data[2];
  size_t at = 6;
  auto take = [&](size_t len) {
    len = std::min(len, size - at);
    std::string s(reinterpret_cast<const char*>(data + at), len);
    at += len;
    return s;
  };
  f.start = take(data[3] % 5);
  f.end = take(data[4] % 5);
  f.trailer = take(data[5] % 5);
  f.max_lines = 1 + data[5] % 7;  // kStartRegex only; small so the line limit is hit
  const std::string in(reinterpret_cast<const char*>(data + at), size - at);
  const size_t prefix = static_cast<size_t>(f.prefix_bytes);

  auto whole = weir::MakePatternSplitter(f, max, Digits);
  const std::vector<Rec> ref = weir::fuzz::SplitWhole(*whole, in);
  uint64_t covered = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const Rec& r = ref[i];
    WEIR_FUZZ_CHECK(r.number == i);
    WEIR_FUZZ_CHECK(r.offset >= covered && r.end_offset > r.offset && r.end_offset <= in.size());
    for (uint64_t k = covered; k < r.offset; ++k) WEIR_FUZZ_CHECK(IsAsciiSpace(in[k]));
    WEIR_FUZZ_CHECK(r.bytes.size() <= max);
    WEIR_FUZZ_CHECK(r.oversize == (r.problem == weir::kProblemOversize) ||
                    (r.oversize && r.problem == weir::kProblemOutsideRecord) ||
                    (f.kind == Kind::kStartRegex && r.problem == weir::kProblemTooManyLines));
    uint64_t from = r.offset;
    if (f.kind == Kind::kLengthPrefixed && r.end_offset - r.offset >= prefix) from += prefix;
    WEIR_FUZZ_CHECK(r.bytes.size() <= r.end_offset - from);
    WEIR_FUZZ_CHECK(in.compare(from, r.bytes.size(), r.bytes) == 0);
    covered = r.end_offset;
  }
  for (uint64_t k = covered; k < in.size(); ++k) WEIR_FUZZ_CHECK(IsAsciiSpace(in[k]));

  // Chunked input, once with no per-call limit and once one record per call (what the record
  // reader of state machine and multi-file parsers does): the same views either way. The caller
  // never holds more than the limit plus the longest pattern or prefix unconsumed.
  for (const size_t limit : {size_t{0}, size_t{1}}) {
    auto s = weir::MakePatternSplitter(f, max, Digits, limit);
    // kStartRegex holds a record (<= max) plus the line that may end it (<= max + "\r").
    const uint64_t held = f.kind == Kind::kStartRegex ? 2 * max + 8 : max + 8;
    WEIR_FUZZ_CHECK(weir::fuzz::SplitChunked(*s, in, chunk_seed, limit, held) == ref);
  }
  return 0;
}
