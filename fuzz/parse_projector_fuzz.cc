// libFuzzer target: the projector on arbitrary records, jsonl and csv. Checks the accounting
// invariant (documents + skips + errors = records) and that all columns stay equally long;
// sanitizers catch any read outside the records or the padded parser buffer.
//
// Build and run: make fuzz, or ctest -L fuzz (fuzz/CMakeLists.txt, fuzz/README.md).
// Corpus: fuzz/corpus/parse_projector_fuzz/.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "parse/projector.h"
#include "parse/splitter.h"

namespace {

using weir::ColumnConfig;
using weir::ColumnSource;
using weir::ColumnType;

ColumnConfig Col(const char* name, const char* path, ColumnType t, bool required = false,
                 bool iso = false) {
  ColumnConfig c;
  c.name = name;
  c.path = path;
  c.type = t;
  c.required = required;
  c.iso8601 = iso;
  return c;
}

using weir::fuzz::Derived;

std::unique_ptr<weir::Projector> MakeProjector(bool csv) {
  weir::DatasetConfig cfg;
  cfg.read.parser = csv ? "csv" : "jsonl";
  if (csv) {
    cfg.write.columns = {Col("s", "s", ColumnType::kString),
                         Col("i", "i", ColumnType::kInt64),
                         Col("d", "d", ColumnType::kDouble),
                         Col("b", "b", ColumnType::kBool),
                         Col("t", "t", ColumnType::kTimestampMs, false, true),
                         Col("j", "j", ColumnType::kJson),
                         Col("dt", "dt", ColumnType::kDate),
                         Derived("day", ColumnSource::kDateOf, "t"),
                         Derived("hour", ColumnSource::kHourOf, "t")};
  } else {
    cfg.write.columns = {Col("s", "/a/s", ColumnType::kString),
                         Col("i", "/a/i", ColumnType::kInt64),
                         Col("d", "/d", ColumnType::kDouble),
                         Col("b", "/b", ColumnType::kBool),
                         Col("t", "/t", ColumnType::kTimestampMs, false, true),
                         Col("ms", "/ms", ColumnType::kTimestampMs),
                         Col("j", "/j", ColumnType::kJson),
                         Col("x", "/arr/1", ColumnType::kJson),
                         Col("dt", "/dt", ColumnType::kDate),
                         Derived("day", ColumnSource::kDateOf, "ms"),
                         Derived("hour", ColumnSource::kHourOf, "t")};
  }
  auto p = weir::Projector::Create(cfg);
  if (!p.ok()) std::abort();
  return std::move(p).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto jsonl = MakeProjector(false);
  static auto csv = MakeProjector(true);
  if (size < 1) return 0;
  const bool use_csv = data[0] & 1;
  const std::string in(reinterpret_cast<const char*>(data + 1), size - 1);
  auto splitter = use_csv ? weir::MakeCsvSplitter(',', '"', 256) : weir::MakeLineSplitter(256);
  std::vector<weir::RecordView> recs;
  (void)splitter->Split(in, true, 0, 0, recs);
  weir::Projector& p = use_csv ? *csv : *jsonl;
  size_t first = 0;
  if (use_csv && !recs.empty()) {
    (void)p.SetCsvHeader(recs[0].bytes);  // may fail: then every record must be an error
    first = 1;
  }
  weir::ColumnBatch batch(p.schema());
  std::vector<weir::RecordIssue> skips, errors;
  const size_t n = recs.size() - first;
  const size_t docs =
      p.Process(std::span<const weir::RecordView>(recs.data() + first, n), batch, skips, errors);
  if (docs + skips.size() + errors.size() != n) std::abort();
  for (const auto& c : batch.columns) {
    if (c.size() != docs) std::abort();
  }
  return 0;
}
