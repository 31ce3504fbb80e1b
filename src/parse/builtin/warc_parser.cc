#include "parse/builtin/warc_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "core/text_util.h"

namespace weir::builtin {
namespace {

constexpr std::string_view kHeaderEnd = "\r\n\r\n";  // an empty line closes the header block
constexpr std::string_view kTrailer = "\r\n\r\n";    // two CRLFs follow every content block
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kContentLength = "Content-Length";
// The fields every WARC record must have (WARC 1.1, section 5), in the order errors list them.
constexpr std::array<std::string_view, 4> kRequired = {"WARC-Type", "WARC-Record-ID", "WARC-Date",
                                                       "Content-Length"};

bool IsLws(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimLws(std::string_view s) {
  while (!s.empty() && IsLws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsLws(s.back())) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// A field name is an RFC 2616 token: visible ASCII except separators.
bool IsTokenChar(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  if (c <= 32 || c >= 127) return false;
  return std::string_view("()<>@,;:\\\"/[]?={}").find(ch) == std::string_view::npos;
}

// Strict decimal: one or more ASCII digits, nothing else (the caller trims LWS); nullopt when the
// text is not such a number or exceeds int64.
std::optional<int64_t> ParseDecimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const int d = c - '0';
    if (v > (std::numeric_limits<int64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// `s` quoted for a message: at most `max` bytes, control and non-ASCII bytes as \xNN.
std::string Quote(std::string_view s, size_t max = 60) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 32 || c >= 127) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += s.size() > max ? "\"..." : "\"";
  return out;
}

// Calls fn(line, number) for each CRLF-separated line of `text` (numbers from 1) until fn
// returns false.
template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  int number = 0;
  size_t pos = 0;
  while (true) {
    const size_t eol = text.find(kCrlf, pos);
    const std::string_view line =
        text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (!fn(line, ++number)) return;
    if (eol == std::string_view::npos) return;
    pos = eol + kCrlf.size();
  }
}

// Appends a continuation line's text to a field value: folded LWS becomes one space.
void AppendFolded(std::string& value, std::string_view continuation) {
  const std::string_view piece = TrimLws(continuation);
  if (piece.empty()) return;
  if (!value.empty()) value += ' ';
  value.append(piece);
}

// `text` without an incomplete UTF-8 sequence at its very end (what a byte limit can leave).
std::string_view DropCutUtf8Tail(std::string_view text) {
  for (size_t back = 1; back <= 4 && back <= text.size(); ++back) {
    const auto c = static_cast<unsigned char>(text[text.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: keep looking for the lead byte
    size_t need = 1;
    if ((c & 0xE0) == 0xC0) {
      need = 2;
    } else if ((c & 0xF0) == 0xE0) {
      need = 3;
    } else if ((c & 0xF8) == 0xF0) {
      need = 4;
    }
    return back < need ? text.substr(0, text.size() - back) : text;
  }
  return text;
}

}  // namespace

sdk::RecordFormat WarcParser::format() const {
  sdk::RecordFormat f;
  f.kind = sdk::RecordFormat::Kind::kHeaderBody;
  f.start = "WARC/";
  f.end = std::string(kHeaderEnd);
  f.trailer = std::string(kTrailer);
  return f;
}

int64_t WarcParser::BodyLength(std::string_view header) const {
  const size_t end = header.find(kHeaderEnd);
  if (end == std::string_view::npos) return -1;
  int count = 0;
  bool in_length = false;  // the last field line was Content-Length (continuations extend it)
  std::string value;
  ForEachLine(header.substr(0, end), [&](std::string_view line, int number) {
    if (number == 1) return true;  // the version line
    if (!line.empty() && IsLws(line.front())) {
      if (in_length) AppendFolded(value, line);
      return true;
    }
    const size_t colon = line.find(':');
    in_length =
        colon != std::string_view::npos && EqualsIgnoreCase(line.substr(0, colon), kContentLength);
    if (in_length) {
      ++count;
      value.assign(TrimLws(line.substr(colon + 1)));
    }
    return count < 2;
  });
  if (count != 1) return -1;
  return ParseDecimal(value).value_or(-1);
}

sdk::ParseResult WarcParser::Parse(const sdk::RecordContext& ctx, std::string_view record,
                                   sdk::Document& doc) {
  (void)ctx;
  const size_t header_end = record.find(kHeaderEnd);
  if (header_end == std::string_view::npos) {
    return sdk::ParseResult::Error("no end of the WARC header block (an empty line, \\r\\n\\r\\n)");
  }
  const std::string_view header = record.substr(0, header_end);
  const std::string_view version = header.substr(0, header.find(kCrlf));
  if (version != "WARC/1.0" && version != "WARC/1.1") {
    return sdk::ParseResult::Error("unsupported WARC version line " + Quote(version) +
                                   " (expected WARC/1.0 or WARC/1.1)");
  }

  // Named fields, unfolded; repeated names merged into their first occurrence.
  field_count_ = 0;
  Field* current = nullptr;  // the field a continuation line extends
  std::string error;
  ForEachLine(header, [&](std::string_view line, int number) {
    if (line.find_first_of("\r\n") != std::string_view::npos) {
      error = "header line " + std::to_string(number) + " contains a bare CR or LF: " + Quote(line);
      return false;
    }
    if (number == 1) return true;
    if (!line.empty() && IsLws(line.front())) {
      if (current == nullptr) {
        error = "header line " + std::to_string(number) +
                " starts with a space or tab (a continuation line) but no field precedes it";
        return false;
      }
      AppendFolded(current->value, line);
      return true;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      error = "header line " + std::to_string(number) + " has no ':' " + Quote(line);
      return false;
    }
    const std::string_view name = line.substr(0, colon);
    if (name.empty()) {
      error = "header line " + std::to_string(number) + " has an empty field name";
      return false;
    }
    if (!std::all_of(name.begin(), name.end(), IsTokenChar)) {
      error = "header line " + std::to_string(number) + ": field name " + Quote(name) +
              " contains a character not allowed in a name (space, control or separator)";
      return false;
    }
    const std::string_view value = TrimLws(line.substr(colon + 1));
    for (size_t i = 0; i < field_count_; ++i) {
      Field& seen = fields_[i];
      if (!EqualsIgnoreCase(seen.name, name)) continue;
      for (std::string_view required : kRequired) {
        if (EqualsIgnoreCase(name, required)) {
          error = "header " + std::string(required) + " appears twice (header lines " +
                  std::to_string(seen.line) + " and " + std::to_string(number) + ")";
          return false;
        }
      }
      seen.value += ", ";
      seen.value.append(value);
      current = &seen;
      return true;
    }
    if (field_count_ == fields_.size()) fields_.emplace_back();
    current = &fields_[field_count_++];
    current->name = name;
    current->value.assign(value);
    current->line = number;
    return true;
  });
  if (!error.empty()) return sdk::ParseResult::Error(std::move(error));

  auto find = [&](std::string_view name) -> const Field* {
    for (size_t i = 0; i < field_count_; ++i) {
      if (EqualsIgnoreCase(fields_[i].name, name)) return &fields_[i];
    }
    return nullptr;
  };
  std::string missing;
  int missing_count = 0;
  for (std::string_view required : kRequired) {
    if (find(required) != nullptr) continue;
    if (missing_count++ > 0) missing += ", ";
    missing.append(required);
  }
  if (missing_count > 0) {
    return sdk::ParseResult::Error(std::string("missing required header") +
                                   (missing_count > 1 ? "s " : " ") + missing);
  }
  const Field* length_field = find(kContentLength);
  const std::optional<int64_t> length = ParseDecimal(length_field->value);
  if (!length) {
    return sdk::ParseResult::Error("Content-Length " + Quote(length_field->value) +
                                   " is not a decimal number of bytes (header line " +
                                   std::to_string(length_field->line) + ")");
  }

  // The block: everything between the header block and the trailer.
  const size_t body_start = header_end + kHeaderEnd.size();
  if (record.size() < body_start + kTrailer.size() || !record.ends_with(kTrailer)) {
    return sdk::ParseResult::Error(
        "the record does not end with the WARC trailer \\r\\n\\r\\n after its block "
        "(Content-Length " +
        std::to_string(*length) + ")");
  }
  const std::string_view body =
      record.substr(body_start, record.size() - body_start - kTrailer.size());
  if (static_cast<uint64_t>(*length) != body.size()) {
    return sdk::ParseResult::Error("Content-Length " + std::to_string(*length) +
                                   " but the record has " + std::to_string(body.size()) +
                                   " body bytes");
  }

  sdk::Document::Object root = doc.root();
  root.Set("version", version);
  sdk::Document::Object headers = root.AddObject("headers");
  for (size_t i = 0; i < field_count_; ++i) headers.Set(fields_[i].name, fields_[i].value);
  root.SetInt("content_length", *length);

  std::string_view kept = body;
  const bool truncated = max_body_bytes_ && body.size() > *max_body_bytes_;
  if (truncated) {
    kept = body.substr(0, *max_body_bytes_);
    // A cut inside a character should not turn a text block into base64.
    const std::string_view whole_chars = DropCutUtf8Tail(kept);
    if (whole_chars.size() != kept.size() && simdjson::validate_utf8(whole_chars)) {
      kept = whole_chars;
    }
  }
  if (simdjson::validate_utf8(kept)) {
    root.Set("body", kept);
    root.Set("body_encoding", "text");
  } else {
    root.Set("body", Base64Encode(kept));
    root.Set("body_encoding", "base64");
  }
  root.SetBool("body_truncated", truncated);
  return sdk::ParseResult::Doc();
}

Result<std::unique_ptr<sdk::Parser>> CreateWarcParser(const std::string& options_json) {
  static const std::vector<std::string> kKnown = {"max_body_bytes"};
  nlohmann::json options = nlohmann::json::object();
  if (!options_json.empty()) {
    options = nlohmann::json::parse(options_json, nullptr, /*allow_exceptions=*/false);
    if (options.is_discarded()) {
      return Status::Invalid("parser 'warc': read.options is not valid JSON");
    }
    if (options.is_null()) options = nlohmann::json::object();
  }
  if (!options.is_object()) {
    return Status::Invalid("parser 'warc': read.options must be a mapping of options");
  }
  std::optional<uint64_t> max_body_bytes;
  for (const auto& [key, value] : options.items()) {
    if (key != "max_body_bytes") {
      return Status::Invalid("parser 'warc': unknown option '" + key + "'" +
                             DidYouMean(key, kKnown) + " (known: " + JoinNames(kKnown) + ")");
    }
    if (!value.is_number_unsigned()) {
      return Status::Invalid(
          "parser 'warc': option 'max_body_bytes' must be a non-negative integer (got " +
          value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + ")");
    }
    max_body_bytes = value.get<uint64_t>();
  }
  return std::unique_ptr<sdk::Parser>(std::make_unique<WarcParser>(max_body_bytes));
}

}  // namespace weir::builtin
