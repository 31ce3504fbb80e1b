// The `lines` parser: one document {"line": text} per line of a text file.
//
// Ownership: holds nothing but its name. Thread-safety: one instance per worker thread (sdk.h);
// Parse() keeps no state between calls.
#pragma once

#include <string_view>

#include "weir/sdk.h"

namespace weir::builtin {

class LinesParser final : public sdk::Parser {
 public:
  std::string_view file_type() const override { return "lines"; }
  // Records end after "\n"; a last line without one ends at end of file.
  sdk::RecordFormat format() const override;
  // {"line": record without its "\n" or "\r\n"}; an empty line is skipped as "blank line"
  // (a line of spaces is content: the lines parser does not judge text).
  sdk::ParseResult Parse(const sdk::RecordContext& ctx, std::string_view record,
                         sdk::Document& doc) override;
};

// The record without its line terminator ("\n", "\r\n", or a lone trailing "\r" at end of file).
inline std::string_view StripLineEnd(std::string_view record) {
  if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
  if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
  return record;
}

}  // namespace weir::builtin
