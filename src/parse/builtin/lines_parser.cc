#include "parse/builtin/lines_parser.h"

namespace weir::builtin {

sdk::RecordFormat LinesParser::format() const {
  sdk::RecordFormat f;
  f.kind = sdk::RecordFormat::Kind::kPatterns;
  f.start = "";
  f.end = "\n";
  f.eof_ends_record = true;  // a file whose last line lacks "\n" is normal, not an error
  return f;
}

sdk::ParseResult LinesParser::Parse(const sdk::RecordContext& ctx, std::string_view record,
                                    sdk::Document& doc) {
  (void)ctx;
  const std::string_view line = StripLineEnd(record);
  if (line.empty()) return sdk::ParseResult::Skip("blank line");
  doc.Set("line", line);
  return sdk::ParseResult::Doc();
}

}  // namespace weir::builtin
