// libFuzzer target: record splitters. Splitting an input in random-sized chunks must give exactly
// the records of splitting it in one buffer, and those records must tile the input (offsets
// contiguous, bytes equal to the input at their offsets, numbers consecutive).
//
// Build and run: make fuzz, or ctest -L fuzz (fuzz/CMakeLists.txt, fuzz/README.md).
// Corpus: fuzz/corpus/parse_splitter_fuzz/.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "parse/splitter.h"

namespace {

struct Rec {
  std::string bytes;
  uint64_t offset, end_offset, number;
  bool oversize;
  bool operator==(const Rec&) const = default;
};

void Check(bool ok) {
  if (!ok) std::abort();
}

std::unique_ptr<weir::RecordSplitter> Make(bool csv, uint64_t max) {
  return csv ? weir::MakeCsvSplitter(',', '"', max) : weir::MakeLineSplitter(max);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const bool csv = data[0] & 1;
  const uint64_t max = 1 + (data[0] >> 1);  // 1..128
  const uint8_t chunk_seed = data[1];
  const std::string in(reinterpret_cast<const char*>(data + 2), size - 2);

  std::vector<weir::RecordView> views;
  std::vector<Rec> ref;
  {
    auto s = Make(csv, max);
    Check(s->Split(in, true, 0, 0, views) == in.size());
    for (const auto& v : views) {
      ref.push_back(Rec{std::string(v.bytes), v.offset, v.end_offset, v.number, v.oversize});
    }
  }
  uint64_t expect = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    Check(ref[i].offset == expect && ref[i].number == i);
    Check(ref[i].end_offset > ref[i].offset);
    Check(ref[i].bytes.size() <= max);
    Check(in.compare(ref[i].offset, ref[i].bytes.size(), ref[i].bytes) == 0);
    expect = ref[i].end_offset;
  }
  Check(expect == in.size());

  auto s = Make(csv, max);
  std::vector<Rec> got;
  std::string buf;
  uint64_t base = 0, number = 0;
  size_t pos = 0, k = 0;
  while (true) {
    const size_t chunk = 1 + ((chunk_seed * 31u + k++ * 17u) % 97u);
    const size_t take = std::min(chunk, in.size() - pos);
    buf.append(in, pos, take);
    pos += take;
    Check(buf.size() <= max + 2 + 97);
    const bool eof = pos == in.size();
    views.clear();
    const size_t used = s->Split(buf, eof, base, number, views);
    Check(used <= buf.size());
    for (const auto& v : views) {
      got.push_back(Rec{std::string(v.bytes), v.offset, v.end_offset, v.number, v.oversize});
    }
    number += views.size();
    buf.erase(0, used);
    base += used;
    if (eof) break;
  }
  Check(buf.empty());
  Check(got == ref);
  return 0;
}
