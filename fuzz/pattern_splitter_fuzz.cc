// libFuzzer target: the pattern splitter (SDK record formats). The first input bytes choose a
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
#include <cstring>
#include <string>
#include <vector>

#include "parse/pattern_splitter.h"

namespace {

struct Rec {
  std::string bytes;
  uint64_t offset, end_offset, number;
  const char* problem;
  bool oversize;
  bool operator==(const Rec&) const = default;
};

void Check(bool ok) {
  if (!ok) std::abort();
}

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
  f.kind = static_cast<Kind>(data[0] % 3);
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
  const std::string in(reinterpret_cast<const char*>(data + at), size - at);
  const size_t prefix = static_cast<size_t>(f.prefix_bytes);

  std::vector<weir::RecordView> views;
  std::vector<Rec> ref;
  {
    auto s = weir::MakePatternSplitter(f, max, Digits);
    Check(s->Split(in, true, 0, 0, views) == in.size());
    for (const auto& v : views) {
      ref.push_back(
          Rec{std::string(v.bytes), v.offset, v.end_offset, v.number, v.problem, v.oversize});
    }
  }
  uint64_t covered = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const Rec& r = ref[i];
    Check(r.number == i);
    Check(r.offset >= covered && r.end_offset > r.offset && r.end_offset <= in.size());
    for (uint64_t k = covered; k < r.offset; ++k) Check(IsAsciiSpace(in[k]));
    Check(r.bytes.size() <= max);
    Check(r.oversize == (r.problem == weir::kProblemOversize) ||
          (r.oversize && r.problem == weir::kProblemOutsideRecord));
    uint64_t from = r.offset;
    if (f.kind == Kind::kLengthPrefixed && r.end_offset - r.offset >= prefix) from += prefix;
    Check(r.bytes.size() <= r.end_offset - from);
    Check(in.compare(from, r.bytes.size(), r.bytes) == 0);
    covered = r.end_offset;
  }
  for (uint64_t k = covered; k < in.size(); ++k) Check(IsAsciiSpace(in[k]));

  // Chunked input, once with no per-call limit and once one record per call (what the record
  // reader of state machine and multi-file parsers does): the same views either way.
  for (const size_t limit : {size_t{0}, size_t{1}}) {
    auto s = weir::MakePatternSplitter(f, max, Digits, limit);
    std::vector<Rec> got;
    std::string buf;
    uint64_t base = 0, number = 0;
    size_t pos = 0;
    uint32_t lcg = chunk_seed;
    bool eof = false;
    while (true) {
      lcg = lcg * 1103515245u + 12345u;
      // Mostly tiny chunks (boundary cases), sometimes large ones.
      const size_t chunk = (lcg >> 16) % 4 == 0 ? 1 + (lcg >> 8) % 4096 : 1 + (lcg >> 8) % 7;
      const size_t n = std::min(chunk, in.size() - pos);
      buf.append(in, pos, n);
      pos += n;
      Check(buf.size() <= max + n + 8);  // limit + one chunk + the longest pattern or prefix
      eof = pos == in.size();
      for (;;) {
        views.clear();
        const size_t used = s->Split(buf, eof, base, number, views);
        Check(used <= buf.size());
        // A limited call emits at most a run outside records and the record that ends it.
        if (limit != 0) Check(views.size() <= limit + 1);
        for (const auto& v : views) {
          got.push_back(
              Rec{std::string(v.bytes), v.offset, v.end_offset, v.number, v.problem, v.oversize});
        }
        number += views.size();
        buf.erase(0, used);
        base += used;
        if (limit == 0 || views.empty()) break;
      }
      if (eof) break;
    }
    Check(buf.empty());
    Check(got == ref);
  }
  return 0;
}
