// The `regex` parser: matches each line, whole, against an RE2 regular expression and turns its
// named groups into string fields of the document (access logs and other line formats).
//
// The expression is compiled once by Create() and never changes; the match array is scratch
// reused from line to line, and captured fields are handed to the Document with SetView(), as
// views of the record that the Document does not copy (the record outlives the document, see the
// lifetime rule in sdk.h), so a line costs one match, no allocation and no copy of its own.
// Presets are regular expressions written here for the common access-log formats (see Presets()
// in regex_parser.cc for the exact field rules); they remain the specification, but a preset
// line is matched by a hand-written one-pass scanner that gives exactly RE2's result for the
// whole preset regex (access_log_scanner.h), several times faster.
//
// Ownership: owns the compiled RE2 and its scratch. Thread-safety: one instance per worker thread
// (sdk.h); Parse() mutates the scratch.
#pragma once

#include <re2/re2.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parse/builtin/access_log_scanner.h"
#include "weir/sdk.h"
#include "weir/status.h"

namespace weir::builtin {

class RegexParser final : public sdk::Parser {
 public:
  // Exactly one of `pattern` (RE2 syntax, at least one named group) or `preset` (a name from
  // RegexPresetNames()). Errors carry RE2's own message for a bad pattern.
  static Result<std::unique_ptr<RegexParser>> Create(const std::string& pattern,
                                                     const std::string& preset);

  std::string_view file_type() const override { return "regex"; }
  sdk::RecordFormat format() const override;
  // Empty line: skip. Matching line: one string field per named group (null when the group
  // did not participate). Otherwise: error "line does not match the regex (...)".
  sdk::ParseResult Parse(const sdk::RecordContext& ctx, std::string_view record,
                         sdk::Document& doc) override;

  // The named groups in group order, i.e. the document's fields.
  const std::vector<std::string>& field_names() const { return names_; }

 private:
  RegexParser() = default;

  // One RE2 of the pattern; presets have several, matched one after the other (see Presets() in the
  // .cc).
  struct Segment {
    std::unique_ptr<RE2> re;
    std::vector<int> groups;              // named groups' numbers in `re`
    std::vector<uint32_t> fields;         // their indexes in names_
    std::vector<re2::StringPiece> match;  // scratch: $0..$last named group
  };
  std::vector<Segment> segments_;
  std::string what_;                      // "preset apache_combined" / "pattern \"...\""
  std::vector<std::string> names_;        // named groups in pattern order: the fields
  std::vector<uint8_t> dash_is_null_;     // per field: "-" means null (presets)
  std::vector<re2::StringPiece> values_;  // scratch: each field's capture
  // Presets: the scanner that replaces the RE2 segments in Parse(), and its capture scratch.
  std::optional<AccessLogPreset> scanner_;
  std::string_view scanned_[kAccessLogMaxFields];
  // Interned keys for the Document: names_ as views (no std::string indirection per field).
  std::vector<std::string_view> keys_;
};

// "apache_common", "apache_combined", "nginx_combined".
const std::vector<std::string>& RegexPresetNames();
// The whole regular expression of a preset (its segments concatenated; RE2 and Python `re`
// syntax), or nullopt for an unknown name. Before a capture becomes a field, a preset turns "-"
// into null for ident, user, bytes, referer and user_agent.
std::optional<std::string> RegexPresetPattern(std::string_view name);

}  // namespace weir::builtin
