// Helpers shared by the fuzz targets (header-only; each target is one .cc file).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/column.h"
#include "core/config.h"
#include "parse/projector.h"
#include "parse/record.h"
#include "parse/splitter.h"
#include "weir/sdk.h"

namespace weir::fuzz {

// Fails the run (libFuzzer saves the input) with the broken invariant's text.
#define WEIR_FUZZ_CHECK(cond)                                                         \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "invariant broken at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

// A RecordView copied out of the splitter's buffers, comparable.
struct Rec {
  std::string bytes;
  uint64_t offset, end_offset, number;
  const char* problem;
  bool oversize;
  bool operator==(const Rec&) const = default;
};

inline Rec Copy(const RecordView& v) {
  return Rec{std::string(v.bytes), v.offset, v.end_offset, v.number, v.problem, v.oversize};
}

// Splits `in` in one buffer.
inline std::vector<Rec> SplitWhole(RecordSplitter& s, std::string_view in) {
  std::vector<RecordView> views;
  WEIR_FUZZ_CHECK(s.Split(in, true, 0, 0, views) == in.size());
  std::vector<Rec> out;
  for (const auto& v : views) out.push_back(Copy(v));
  return out;
}

// Splits `in` fed in pseudo-random chunks (mostly tiny, sometimes large), as the reader does.
// `per_call` > 0 is for a splitter made with that max_records_per_call: Split() is called again on
// the same buffer while it emits views (as the record reader does), and one call may emit at most
// per_call + 1 views. Before each call the unconsumed buffer, the new chunk aside, must stay
// within `max_held` bytes.
inline std::vector<Rec> SplitChunked(RecordSplitter& s, std::string_view in, uint32_t seed,
                                     size_t per_call = 0, uint64_t max_held = UINT64_MAX) {
  std::vector<Rec> got;
  std::vector<RecordView> views;
  std::string buf;
  uint64_t base = 0, number = 0;
  size_t pos = 0;
  while (true) {
    seed = seed * 1103515245u + 12345u;
    const size_t chunk = (seed >> 16) % 4 == 0 ? 1 + (seed >> 8) % 4096 : 1 + (seed >> 8) % 7;
    const size_t n = std::min(chunk, in.size() - pos);
    WEIR_FUZZ_CHECK(buf.size() <= max_held);
    buf.append(in.substr(pos, n));
    pos += n;
    const bool eof = pos == in.size();
    for (;;) {
      views.clear();
      const size_t used = s.Split(buf, eof, base, number, views);
      WEIR_FUZZ_CHECK(used <= buf.size());
      if (per_call != 0) WEIR_FUZZ_CHECK(views.size() <= per_call + 1);
      for (const auto& v : views) got.push_back(Copy(v));
      number += views.size();
      buf.erase(0, used);
      base += used;
      if (per_call == 0 || views.empty()) break;
    }
    if (eof) break;
  }
  WEIR_FUZZ_CHECK(buf.empty());
  return got;
}

// Records must be numbered 0.., ordered, within the input, and (unless oversize / prefixed)
// their bytes must be the input's bytes at their offset.
inline void CheckRecordsInInput(const std::vector<Rec>& recs, std::string_view in) {
  uint64_t covered = 0;
  for (size_t i = 0; i < recs.size(); ++i) {
    const Rec& r = recs[i];
    WEIR_FUZZ_CHECK(r.number == i);
    WEIR_FUZZ_CHECK(r.offset >= covered);
    WEIR_FUZZ_CHECK(r.end_offset > r.offset && r.end_offset <= in.size());
    WEIR_FUZZ_CHECK(r.bytes.size() <= r.end_offset - r.offset);
    WEIR_FUZZ_CHECK(in.substr(r.offset, r.bytes.size()) == r.bytes);
    covered = r.end_offset;
  }
}

inline ColumnConfig Col(const char* name, const char* path, ColumnType t, bool iso = false) {
  ColumnConfig c;
  c.name = name;
  c.path = path;
  c.type = t;
  c.iso8601 = iso;
  return c;
}

inline ColumnConfig Derived(const char* name, ColumnSource s, const char* from) {
  ColumnConfig c;
  c.name = name;
  c.source = s;
  c.from = from;
  c.type = s == ColumnSource::kDateOf ? ColumnType::kDate : ColumnType::kInt64;
  return c;
}

// A projector for a document parser (lines, regex, warc) with the given columns.
inline std::unique_ptr<Projector> DocumentProjector(const char* parser,
                                                    std::vector<ColumnConfig> columns) {
  DatasetConfig cfg;
  cfg.read.parser = parser;
  cfg.write.columns = std::move(columns);
  auto p = Projector::Create(cfg);
  if (!p.ok()) {
    std::fprintf(stderr, "projector: %s\n", p.status().ToString().c_str());
    std::abort();
  }
  return std::move(p).value();
}

// Projects `doc`; a success adds exactly one row to every column, a failure none and a reason.
inline void ProjectAndCheck(Projector& p, const sdk::Document& doc, ColumnBatch& batch) {
  const size_t before = batch.num_rows();
  std::string reason;
  const bool ok = p.ProjectDocument(doc, batch, &reason);
  WEIR_FUZZ_CHECK(batch.num_rows() == before + (ok ? 1 : 0));
  for (const auto& c : batch.columns) WEIR_FUZZ_CHECK(c.size() == batch.num_rows());
  WEIR_FUZZ_CHECK(ok || !reason.empty());
  if (batch.num_rows() > 256) batch = ColumnBatch(p.schema());  // bound memory per input
}

}  // namespace weir::fuzz
