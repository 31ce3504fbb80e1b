// libFuzzer target: the `regex` parser, its three presets and a custom pattern.
//
// The first byte picks the parser (apache_common, apache_combined, nginx_combined, or a custom
// pattern with optional groups); the rest is a log file read as the runner reads it (pattern
// splitter from format(), Parse() per line, ProjectDocument() into a few typed columns).
// Checks:
//  - one-buffer and chunked splitting agree; records carry the input's bytes at their offsets;
//  - a blank line is a skip; any other line is a document exactly when the WHOLE regular
//    expression (the preset's segments concatenated, RegexPresetPattern) matches the whole line
//    with RE2::FullMatch, and then its fields are the named groups in order with the same
//    captures ("-" -> null for the preset's dash fields, a non-participating group -> null):
//    the segmented one-pass matching must be exactly equivalent to the single expression;
//  - an error has a reason naming the regex; every captured value is text of the line;
//  - parsing the same line twice gives the same document (scratch reuse);
//  - a projection adds a row to every column or to none.
//
// Build: make fuzz (fuzz/CMakeLists.txt). Corpus: fuzz/corpus/regex_parser_fuzz/.
#include <re2/re2.h>

#include "fuzz_util.h"
#include "parse/builtin/lines_parser.h"
#include "parse/builtin/regex_parser.h"
#include "parse/pattern_splitter.h"

using namespace weir;
using weir::fuzz::Rec;

namespace {

constexpr const char* kCustom =
    R"re((?P<ts>\d{4}-\d\d-\d\dT[0-9:.]+Z?) +(?P<level>[A-Z]+)(?: \[(?P<thread>[^\]]*)\])?)re"
    R"re( (?P<code>-?\d+)?(?:,(?P<ratio>[-+.\deE]+))? ?(?P<msg>.*))re";

struct Setup {
  std::unique_ptr<builtin::RegexParser> parser;
  std::unique_ptr<RE2> whole;   // the single expression the segments must be equivalent to
  std::vector<bool> dash_null;  // per field
  std::unique_ptr<Projector> projector;
};

Setup Make(int which) {
  static const char* kPresets[] = {"apache_common", "apache_combined", "nginx_combined"};
  Setup s;
  const std::string preset = which < 3 ? kPresets[which] : "";
  auto p = builtin::RegexParser::Create(which < 3 ? "" : kCustom, preset);
  WEIR_FUZZ_CHECK(p.ok());
  s.parser = std::move(p).value();
  const std::string text = which < 3 ? *builtin::RegexPresetPattern(preset) : kCustom;
  s.whole = std::make_unique<RE2>(text);
  WEIR_FUZZ_CHECK(s.whole->ok());
  WEIR_FUZZ_CHECK(static_cast<size_t>(s.whole->NumberOfCapturingGroups()) ==
                  s.parser->field_names().size());
  for (const std::string& n : s.parser->field_names()) {
    const bool dash = which < 3 && (n == "ident" || n == "user" || n == "bytes" ||
                                    n == "referer" || n == "user_agent");
    s.dash_null.push_back(dash);
  }
  if (which < 3) {
    s.projector = fuzz::DocumentProjector(
        "regex", {fuzz::Col("client", "/client", ColumnType::kString),
                  fuzz::Col("status", "/status", ColumnType::kInt64),
                  fuzz::Col("bytes", "/bytes", ColumnType::kInt64),
                  fuzz::Col("path", "/path", ColumnType::kString),
                  fuzz::Col("time", "/time", ColumnType::kTimestampMs, /*iso=*/true),
                  fuzz::Col("all", "", ColumnType::kJson)});
  } else {
    s.projector = fuzz::DocumentProjector(
        "regex", {fuzz::Col("ts", "/ts", ColumnType::kTimestampMs, /*iso=*/true),
                  fuzz::Col("level", "/level", ColumnType::kString),
                  fuzz::Col("code", "/code", ColumnType::kInt64),
                  fuzz::Col("ratio", "/ratio", ColumnType::kDouble),
                  fuzz::Col("msg", "/msg", ColumnType::kString),
                  fuzz::Col("thread", "/thread", ColumnType::kJson),
                  fuzz::Derived("day", ColumnSource::kDateOf, "ts"),
                  fuzz::Derived("hour", ColumnSource::kHourOf, "ts")});
  }
  return s;
}

// The document as (kind, text) per root field, for comparisons.
std::vector<std::pair<int, std::string>> Fields(const sdk::Document& doc) {
  std::vector<std::pair<int, std::string>> out;
  for (size_t i = 1; i < doc.nodes().size(); ++i) {
    const auto& n = doc.nodes()[i];
    out.emplace_back(static_cast<int>(n.kind), std::string(doc.key(n)) + "=" +
                                                   std::string(doc.text(n)));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Setup setups[4] = {Make(0), Make(1), Make(2), Make(3)};
  if (size < 1) return 0;
  Setup& s = setups[data[0] % 4];
  builtin::RegexParser& parser = *s.parser;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const uint64_t max = 1 + (data[0] >> 2) * 16;  // 1..1009: oversize lines are common
  const sdk::RecordFormat f = parser.format();
  WEIR_FUZZ_CHECK(ValidateRecordFormat(f).ok());

  auto whole = MakePatternSplitter(f, max, {});
  const std::vector<Rec> recs = fuzz::SplitWhole(*whole, in);
  auto chunked = MakePatternSplitter(f, max, {});
  WEIR_FUZZ_CHECK(fuzz::SplitChunked(*chunked, in, data[0] * 7919u) == recs);
  fuzz::CheckRecordsInInput(recs, in);

  const auto& names = parser.field_names();
  const size_t ngroups = names.size();
  std::vector<re2::StringPiece> caps(ngroups);
  std::vector<RE2::Arg> args(ngroups);
  std::vector<const RE2::Arg*> argp(ngroups);
  for (size_t i = 0; i < ngroups; ++i) {
    args[i] = RE2::Arg(&caps[i]);
    argp[i] = &args[i];
  }

  ColumnBatch batch(s.projector->schema());
  sdk::Document doc, again;
  for (const Rec& r : recs) {
    if (r.problem != nullptr) continue;  // an error record of the reader, never parsed
    doc.Clear();
    sdk::RecordContext ctx{"regex", "fuzz.log", r.offset, r.number};
    const sdk::ParseResult res = parser.Parse(ctx, r.bytes, doc);
    const std::string_view line = builtin::StripLineEnd(r.bytes);
    if (line.empty()) {
      WEIR_FUZZ_CHECK(res.kind == sdk::ParseResult::Kind::kSkip && doc.empty());
      continue;
    }
    // The segmented match must agree with the whole expression on the whole line.
    for (auto& c : caps) c = re2::StringPiece();
    const bool matches = RE2::FullMatchN(re2::StringPiece(line.data(), line.size()), *s.whole,
                                         argp.data(), static_cast<int>(ngroups));
    if (!matches) {
      WEIR_FUZZ_CHECK(res.kind == sdk::ParseResult::Kind::kError);
      WEIR_FUZZ_CHECK(res.reason.find("does not match") != std::string::npos);
      WEIR_FUZZ_CHECK(doc.empty());
      continue;
    }
    WEIR_FUZZ_CHECK(res.kind == sdk::ParseResult::Kind::kDocument);
    WEIR_FUZZ_CHECK(doc.nodes().size() == ngroups + 1);
    for (size_t i = 0; i < ngroups; ++i) {
      const auto& n = doc.nodes()[i + 1];
      WEIR_FUZZ_CHECK(n.parent == 0 && doc.key(n) == names[i]);
      const re2::StringPiece& c = caps[i];
      const bool null = c.data() == nullptr || (s.dash_null[i] && c.size() == 1 && c[0] == '-');
      if (null) {
        WEIR_FUZZ_CHECK(n.kind == sdk::Document::Kind::kNull);
      } else {
        WEIR_FUZZ_CHECK(n.kind == sdk::Document::Kind::kString);
        WEIR_FUZZ_CHECK(doc.text(n) == std::string_view(c.data(), c.size()));
        WEIR_FUZZ_CHECK(line.find(doc.text(n)) != std::string_view::npos);
      }
    }
    again.Clear();
    WEIR_FUZZ_CHECK(parser.Parse(ctx, r.bytes, again).kind == sdk::ParseResult::Kind::kDocument);
    WEIR_FUZZ_CHECK(Fields(again) == Fields(doc));
    fuzz::ProjectAndCheck(*s.projector, doc, batch);
  }
  return 0;
}
