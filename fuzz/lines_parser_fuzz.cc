// libFuzzer target: the `lines` parser and the built-in parsers' options.
//
// Mode 0 (first byte even): the rest is a text file read with the lines parser exactly as the
// runner does (pattern splitter from format(), Parse() per record, ProjectDocument()). Checks:
// one-buffer and chunked splitting agree; records tile the input (empty start pattern: no byte is
// outside a record) and carry the input's bytes; they match the line splitter's offsets and text;
// a blank line is a skip, any other line one document {"line": text without its terminator}; a
// projection adds a row to every column or to none.
// Mode 1 (first byte odd): the second byte picks a parser name (lines, regex, warc or unknown),
// the rest is read.options JSON for CreateBuiltinParser: it must return a parser or an error,
// never throw; a parser it returns must parse a few sample lines without breaking its contract.
//
// Build: make fuzz (fuzz/CMakeLists.txt). Corpus: fuzz/corpus/lines_parser_fuzz/.
#include <stdexcept>

#include "fuzz_util.h"
#include "parse/builtin/builtin_parsers.h"
#include "parse/builtin/lines_parser.h"
#include "parse/pattern_splitter.h"

using namespace weir;
using weir::fuzz::Rec;

namespace {

void OptionsMode(const uint8_t* data, size_t size) {
  if (size < 2) return;
  static const char* kNames[] = {"lines", "regex", "warc", "regexx"};
  const std::string name = kNames[data[1] % 4];
  const std::string options(reinterpret_cast<const char*>(data + 2), size - 2);
  Result<std::unique_ptr<sdk::Parser>> r = Status::Internal("unset");
  try {
    r = CreateBuiltinParser(name, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "CreateBuiltinParser threw: %s\n", e.what());
    std::abort();
  }
  if (!r.ok()) {
    WEIR_FUZZ_CHECK(!r.status().message().empty());
    WEIR_FUZZ_CHECK(r.status().message().find(name) != std::string::npos ||
                    r.status().message().find("regex parser") != std::string::npos);
    return;
  }
  auto& p = *r.value();
  WEIR_FUZZ_CHECK(ValidateRecordFormat(p.format()).ok());
  static const char* kSamples[] = {"", "\n", "a b c\n", "127.0.0.1 - - [x] \"GET / HTTP/1.1\" 200 1",
                                   "WARC/1.1\r\n\r\n", "\xff\xfe\r\n"};
  sdk::Document doc;
  for (const char* s : kSamples) {
    doc.Clear();
    const sdk::ParseResult res = p.Parse(sdk::RecordContext{}, s, doc);
    WEIR_FUZZ_CHECK(res.kind == sdk::ParseResult::Kind::kDocument ? res.reason.empty()
                                                                   : !res.reason.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  if (data[0] & 1) {
    OptionsMode(data, size);
    return 0;
  }
  static builtin::LinesParser parser;
  static auto projector = fuzz::DocumentProjector(
      "lines", {fuzz::Col("line", "/line", ColumnType::kString),
                fuzz::Col("n", "/line", ColumnType::kInt64),
                fuzz::Col("x", "/line", ColumnType::kDouble),
                fuzz::Col("b", "/line", ColumnType::kBool),
                fuzz::Col("t", "/line", ColumnType::kTimestampMs, /*iso=*/true),
                fuzz::Col("ms", "/line", ColumnType::kTimestampMs),
                fuzz::Col("d", "/line", ColumnType::kDate),
                fuzz::Col("j", "", ColumnType::kJson),
                fuzz::Derived("day", ColumnSource::kDateOf, "t"),
                fuzz::Derived("hour", ColumnSource::kHourOf, "ms")});
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const uint64_t max = in.size() + 1;  // no oversize records: pattern_splitter_fuzz covers those
  const sdk::RecordFormat f = parser.format();
  WEIR_FUZZ_CHECK(ValidateRecordFormat(f).ok());

  auto whole = MakePatternSplitter(f, max, {});
  const std::vector<Rec> recs = fuzz::SplitWhole(*whole, in);
  auto chunked = MakePatternSplitter(f, max, {});
  WEIR_FUZZ_CHECK(fuzz::SplitChunked(*chunked, in, data[0]) == recs);
  fuzz::CheckRecordsInInput(recs, in);

  // Lines tile the input: contiguous, nothing outside a record, "\n" kept in the bytes.
  uint64_t at = 0;
  for (const Rec& r : recs) {
    WEIR_FUZZ_CHECK(r.problem == nullptr && !r.oversize);
    WEIR_FUZZ_CHECK(r.offset == at && r.end_offset == r.offset + r.bytes.size());
    const size_t nl = r.bytes.find('\n');
    WEIR_FUZZ_CHECK(nl == std::string::npos ? r.end_offset == in.size() : nl + 1 == r.bytes.size());
    at = r.end_offset;
  }
  WEIR_FUZZ_CHECK(at == in.size());

  // Same records as the line splitter (which strips "\n" / "\r\n" but keeps a lone final "\r").
  auto ls = MakeLineSplitter(max);
  const std::vector<Rec> lines = fuzz::SplitWhole(*ls, in);
  WEIR_FUZZ_CHECK(lines.size() == recs.size());
  for (size_t i = 0; i < recs.size(); ++i) {
    WEIR_FUZZ_CHECK(lines[i].offset == recs[i].offset && lines[i].end_offset == recs[i].end_offset);
    std::string_view stripped = builtin::StripLineEnd(recs[i].bytes);
    if (lines[i].bytes.size() == stripped.size() + 1) {
      WEIR_FUZZ_CHECK(i + 1 == recs.size() && lines[i].bytes.back() == '\r');
      stripped = recs[i].bytes;
    }
    WEIR_FUZZ_CHECK(lines[i].bytes == stripped);
  }

  ColumnBatch batch(projector->schema());
  sdk::Document doc;
  for (const Rec& r : recs) {
    doc.Clear();
    sdk::RecordContext ctx{"lines", "fuzz.txt", r.offset, r.number};
    const sdk::ParseResult res = parser.Parse(ctx, r.bytes, doc);
    const std::string_view line = builtin::StripLineEnd(r.bytes);
    if (line.empty()) {
      WEIR_FUZZ_CHECK(res.kind == sdk::ParseResult::Kind::kSkip && doc.empty());
      continue;
    }
    WEIR_FUZZ_CHECK(res.kind == sdk::ParseResult::Kind::kDocument);
    WEIR_FUZZ_CHECK(line.find('\n') == std::string_view::npos);
    WEIR_FUZZ_CHECK(doc.nodes().size() == 2);
    const auto* n = doc.Find({"line"});
    WEIR_FUZZ_CHECK(n != nullptr && n->kind == sdk::Document::Kind::kString && doc.text(*n) == line);
    fuzz::ProjectAndCheck(*projector, doc, batch);
  }
  return 0;
}
