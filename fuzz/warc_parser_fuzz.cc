// libFuzzer target: the `warc` parser behind the delimiter engine, as the runner reads a WARC
// file: the pattern splitter built from WarcParser::format() with BodyLength(), Parse() on every
// delimited record, ProjectDocument() into typed columns.
//
// The first byte picks max_record_bytes and the parser's max_body_bytes; the rest is the file.
// Checks:
//  - one-buffer and chunked splitting agree; records are ordered, within the input, and carry
//    the input's bytes at their offsets;
//  - a record the splitter delimited (no problem) never fails Parse() for a framing reason that
//    the splitter already checked (missing header end, missing trailer, body size differing from
//    Content-Length): BodyLength() and Parse() must read the header the same way;
//  - a document has /version WARC/1.0 or 1.1, /headers holding the four required fields,
//    /content_length = BodyLength(header) = the block's size, /body = the block (or its first
//    max_body_bytes, minus a cut UTF-8 character) as text when valid UTF-8 else base64 of
//    exactly those bytes, /body_truncated as the limit says;
//  - parsing the same record again gives the same document (scratch reuse across records);
//  - a projection adds a row to every column or to none.
//
// Build: make fuzz (fuzz/CMakeLists.txt). Corpus: fuzz/corpus/warc_parser_fuzz/.
#include <simdjson.h>

#include <strings.h>

#include <optional>

#include "fuzz_util.h"
#include "parse/builtin/warc_parser.h"
#include "parse/pattern_splitter.h"

using namespace weir;
using weir::fuzz::Rec;

namespace {

std::optional<std::string> Base64Decode(std::string_view s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (s.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < s.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = s[i + k];
      if (c == '=' && i + 4 == s.size() && k >= 2) {
        ++pad;
        v <<= 6;
        continue;
      }
      if (pad > 0 || val(c) < 0) return std::nullopt;
      v = (v << 6) | static_cast<uint32_t>(val(c));
    }
    out += static_cast<char>(v >> 16);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
  }
  return out;
}

const sdk::Document::Node* Get(const sdk::Document& d, std::vector<std::string> path,
                               sdk::Document::Kind kind) {
  const auto* n = d.Find(path);
  WEIR_FUZZ_CHECK(n != nullptr && n->kind == kind);
  return n;
}

std::string Dump(const sdk::Document& d) {
  std::string s;
  for (const auto& n : d.nodes()) {
    s += std::to_string(n.parent) + ":" + std::to_string(static_cast<int>(n.kind)) + ":" +
         std::string(d.key(n)) + "=" + std::string(d.text(n)) + ":" + std::to_string(n.i) + ";";
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr uint64_t kMax[] = {64, 700, 4096, 1 << 20};
  static const std::optional<uint64_t> kBody[] = {std::nullopt, 0, 1, 5, 64, std::nullopt,
                                                  std::nullopt, 3};
  static auto projector = fuzz::DocumentProjector(
      "warc", {fuzz::Col("type", "/headers/WARC-Type", ColumnType::kString),
               fuzz::Col("id", "/headers/WARC-Record-ID", ColumnType::kString),
               fuzz::Col("date", "/headers/WARC-Date", ColumnType::kTimestampMs, /*iso=*/true),
               fuzz::Col("len", "/content_length", ColumnType::kInt64),
               fuzz::Col("clen", "/headers/Content-Length", ColumnType::kInt64),
               fuzz::Col("body", "/body", ColumnType::kString),
               fuzz::Col("trunc", "/body_truncated", ColumnType::kBool),
               fuzz::Col("headers", "/headers", ColumnType::kJson),
               fuzz::Derived("day", ColumnSource::kDateOf, "date")});
  if (size < 1) return 0;
  const uint64_t max = kMax[data[0] & 3];
  const std::optional<uint64_t> max_body = kBody[(data[0] >> 2) & 7];
  builtin::WarcParser parser(max_body);
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const sdk::RecordFormat f = parser.format();
  WEIR_FUZZ_CHECK(ValidateRecordFormat(f).ok());
  auto body_length = [&parser](std::string_view h) { return parser.BodyLength(h); };

  auto whole = MakePatternSplitter(f, max, body_length);
  const std::vector<Rec> recs = fuzz::SplitWhole(*whole, in);
  auto chunked = MakePatternSplitter(f, max, body_length);
  WEIR_FUZZ_CHECK(fuzz::SplitChunked(*chunked, in, data[0] * 2654435761u) == recs);
  fuzz::CheckRecordsInInput(recs, in);

  ColumnBatch batch(projector->schema());
  sdk::Document doc, again;
  for (const Rec& r : recs) {
    if (r.problem != nullptr) {
      WEIR_FUZZ_CHECK(r.bytes.size() <= max);
      continue;
    }
    WEIR_FUZZ_CHECK(!r.oversize && r.bytes.size() == r.end_offset - r.offset);
    WEIR_FUZZ_CHECK(r.bytes.starts_with("WARC/") && r.bytes.ends_with("\r\n\r\n"));
    const size_t header_end = r.bytes.find("\r\n\r\n");
    WEIR_FUZZ_CHECK(header_end != std::string::npos);
    const std::string_view header = std::string_view(r.bytes).substr(0, header_end + 4);
    const int64_t announced = parser.BodyLength(header);
    WEIR_FUZZ_CHECK(announced >= 0 &&
                    static_cast<uint64_t>(announced) + header.size() + 4 == r.bytes.size());

    doc.Clear();
    sdk::RecordContext ctx{"WARC", "fuzz.warc", r.offset, r.number};
    const sdk::ParseResult res = parser.Parse(ctx, r.bytes, doc);
    WEIR_FUZZ_CHECK(res.kind != sdk::ParseResult::Kind::kSkip);
    if (res.kind == sdk::ParseResult::Kind::kError) {
      WEIR_FUZZ_CHECK(!res.reason.empty() && doc.empty());
      // Framing was checked by the splitter with BodyLength(): Parse() must agree.
      // (Reasons quote header text, so compare their fixed beginnings only.)
      const std::string& why = res.reason;
      WEIR_FUZZ_CHECK(!why.starts_with("no end of the WARC header"));
      WEIR_FUZZ_CHECK(!why.starts_with("the record does not end with the WARC trailer"));
      WEIR_FUZZ_CHECK(!(why.starts_with("Content-Length ") && why.size() > 15 && why[15] >= '0' &&
                        why[15] <= '9' && why.ends_with(" body bytes")));
      continue;
    }
    const std::string_view version = doc.text(*Get(doc, {"version"}, sdk::Document::Kind::kString));
    WEIR_FUZZ_CHECK(version == "WARC/1.0" || version == "WARC/1.1");
    Get(doc, {"headers"}, sdk::Document::Kind::kObject);
    for (const char* h : {"WARC-Type", "WARC-Record-ID", "WARC-Date", "Content-Length"}) {
      bool found = false;  // names compare case-insensitively; the key keeps the record's spelling
      for (const auto& n : doc.nodes()) {
        if (n.parent != 0 && n.kind == sdk::Document::Kind::kString &&
            strcasecmp(std::string(doc.key(n)).c_str(), h) == 0) {
          found = true;
        }
      }
      WEIR_FUZZ_CHECK(found);
    }
    const auto* len = Get(doc, {"content_length"}, sdk::Document::Kind::kInt);
    WEIR_FUZZ_CHECK(len->i == announced);
    const std::string_view block =
        std::string_view(r.bytes).substr(header.size(), static_cast<size_t>(announced));
    const bool truncated = max_body && block.size() > *max_body;
    WEIR_FUZZ_CHECK(Get(doc, {"body_truncated"}, sdk::Document::Kind::kBool)->i == truncated);
    const std::string_view kept = truncated ? block.substr(0, *max_body) : block;
    const std::string_view body = doc.text(*Get(doc, {"body"}, sdk::Document::Kind::kString));
    const std::string_view enc =
        doc.text(*Get(doc, {"body_encoding"}, sdk::Document::Kind::kString));
    if (enc == "text") {
      WEIR_FUZZ_CHECK(simdjson::validate_utf8(body.data(), body.size()));
      WEIR_FUZZ_CHECK(kept.starts_with(body));
      WEIR_FUZZ_CHECK(body.size() == kept.size() || (truncated && kept.size() - body.size() < 4));
    } else {
      WEIR_FUZZ_CHECK(enc == "base64");
      WEIR_FUZZ_CHECK(!simdjson::validate_utf8(kept.data(), kept.size()));
      const auto decoded = Base64Decode(body);
      WEIR_FUZZ_CHECK(decoded && *decoded == kept);
    }
    again.Clear();
    WEIR_FUZZ_CHECK(parser.Parse(ctx, r.bytes, again).kind == sdk::ParseResult::Kind::kDocument);
    WEIR_FUZZ_CHECK(Dump(again) == Dump(doc));
    fuzz::ProjectAndCheck(*projector, doc, batch);
  }
  return 0;
}
