#include "parse/projector.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <system_error>
#include <utility>

#include "core/text_util.h"
#include "parse/builtin/builtin_parsers.h"
#include "parse/time_util.h"
#include "weir/sdk.h"

// Column type rules (jsonl value / csv field text):
//   string        JSON string / the field text
//   int64         JSON integer (no fraction or exponent, within int64) / decimal integer text
//   double        any JSON number / std::from_chars text, finite
//   bool          true or false / true, false, 1, 0 (case-insensitive)
//   timestamp_ms  JSON integer milliseconds since the epoch / integer text
//   timestamp     (iso8601) ISO 8601 string, see ParseIso8601Ms / the same text
//   date          "YYYY-MM-DD" string / the same text
//   json          any JSON value, stored minified / valid JSON text, stored minified
// JSON null and a missing value are NULL (an error when the column is required).
// A valid JSON number beyond simdjson's range (an integer outside int64/uint64, a double that
// overflows) does not make the record invalid: only a column reading it fails ("... is out of
// the int64 range"), except double (a big integer is a fine double) and json (its exact text).

namespace weir {
namespace {

namespace dom = simdjson::dom;
namespace ondemand = simdjson::ondemand;

// A converted value of one column for the record being processed.
struct Cell {
  bool null = true;
  int64_t i = 0;       // int64, timestamp_ms, date (days), hour_of
  double d = 0;        // double
  std::string_view s;  // string, json (points into the record, parser or scratch storage)
};

struct ColumnPlan {
  std::string name;
  std::string path;
  ColumnType type = ColumnType::kString;
  ColumnSource source = ColumnSource::kPath;
  bool iso8601 = false;
  bool required = false;
  int from = -1;       // derived columns: index of the source column
  int csv_field = -1;  // csv: 0-based field index; -1 = absent from the header (always NULL)
};

// One token of the JSON pointer trie. Columns whose pointers share a prefix share nodes, so
// each object on the way is walked once per record whatever the number of columns.
struct PathNode {
  std::string key;
  bool has_index = false;  // the token is also a valid array index
  uint64_t index = 0;
  std::vector<uint32_t> children;
  std::vector<uint32_t> columns;  // columns whose pointer ends at this node
};

Status SplitPointer(const std::string& p, std::vector<std::string>* tokens) {
  tokens->clear();
  if (p.empty()) return Status::OK();  // the whole document
  if (p[0] != '/') return Status::Invalid("JSON pointer must start with '/'");
  std::string tok;
  for (size_t i = 1; i <= p.size(); ++i) {
    if (i == p.size() || p[i] == '/') {
      tokens->push_back(std::move(tok));
      tok.clear();
      continue;
    }
    if (p[i] == '~') {
      if (i + 1 < p.size() && (p[i + 1] == '0' || p[i + 1] == '1')) {
        tok.push_back(p[i + 1] == '0' ? '~' : '/');
        ++i;
        continue;
      }
      return Status::Invalid("'~' in a JSON pointer must be followed by 0 or 1");
    }
    tok.push_back(p[i]);
  }
  return Status::OK();
}

bool ParseArrayIndex(std::string_view t, uint64_t* idx) {
  if (t.empty() || t.size() > 18 || (t.size() > 1 && t[0] == '0')) return false;
  uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *idx = v;
  return true;
}

const char* ErrorName(simdjson::error_code e) {
  switch (e) {
    case simdjson::CAPACITY:
      return "CAPACITY";
    case simdjson::MEMALLOC:
      return "MEMALLOC";
    case simdjson::TAPE_ERROR:
      return "TAPE_ERROR";
    case simdjson::DEPTH_ERROR:
      return "DEPTH_ERROR";
    case simdjson::STRING_ERROR:
      return "STRING_ERROR";
    case simdjson::T_ATOM_ERROR:
      return "T_ATOM_ERROR";
    case simdjson::F_ATOM_ERROR:
      return "F_ATOM_ERROR";
    case simdjson::N_ATOM_ERROR:
      return "N_ATOM_ERROR";
    case simdjson::NUMBER_ERROR:
      return "NUMBER_ERROR";
    case simdjson::UTF8_ERROR:
      return "UTF8_ERROR";
    case simdjson::EMPTY:
      return "EMPTY";
    case simdjson::UNESCAPED_CHARS:
      return "UNESCAPED_CHARS";
    case simdjson::UNCLOSED_STRING:
      return "UNCLOSED_STRING";
    case simdjson::NUMBER_OUT_OF_RANGE:
      return "NUMBER_OUT_OF_RANGE";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      return "INCOMPLETE_ARRAY_OR_OBJECT";
    case simdjson::TRAILING_CONTENT:
      return "TRAILING_CONTENT";
    default:
      return "JSON_ERROR";
  }
}

// `s` as a double-quoted excerpt for messages, control characters escaped, cut at 80 bytes.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string r = "\"";
  const size_t n = std::min(s.size(), kMax);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      r.push_back('\\');
      r.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      static const char kHex[] = "0123456789abcdef";
      r += "\\u00";
      r.push_back(kHex[c >> 4]);
      r.push_back(kHex[c & 15]);
    } else {
      r.push_back(static_cast<char>(c));
    }
  }
  r.push_back('"');
  if (s.size() > kMax) r += "...";
  return r;
}

std::string FormatDouble(double d) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d);
  std::string r(buf, res.ptr);
  // A JSON double that happens to be integral (2.0, 1e3) would print as "2": keep it visibly
  // non-integer so "expected an integer, got number 2.0" makes sense.
  if (r.find_first_of(".eEn") == std::string::npos) r += ".0";
  return r;
}

// "string \"x\"", "integer 5", "number 1.5", "boolean true", "null", "object", "array".
std::string Describe(dom::element e) {
  switch (e.type()) {
    case dom::element_type::STRING: {
      std::string_view s;
      if (e.get_string().get(s)) return "string";
      return "string " + Quote(s);
    }
    case dom::element_type::INT64: {
      int64_t v = 0;
      if (e.get_int64().get(v)) return "integer";
      return "integer " + std::to_string(v);
    }
    case dom::element_type::UINT64: {
      uint64_t v = 0;
      if (e.get_uint64().get(v)) return "integer";
      return "integer " + std::to_string(v);
    }
    case dom::element_type::DOUBLE: {
      double v = 0;
      if (e.get_double().get(v)) return "number";
      return "number " + FormatDouble(v);
    }
    case dom::element_type::BOOL: {
      bool v = false;
      if (e.get_bool().get(v)) return "boolean";
      return v ? "boolean true" : "boolean false";
    }
    case dom::element_type::NULL_VALUE:
      return "null";
    case dom::element_type::OBJECT:
      return "object";
    case dom::element_type::ARRAY:
      return "array";
  }
  return "value";
}

bool IsJsonWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

// Visits every value of an on-demand document so that its first error surfaces; used only to
// locate the byte of a JSON error that the DOM parser reported without a position.
simdjson::error_code WalkValue(ondemand::value v) {
  ondemand::json_type t;
  if (auto err = v.type().get(t)) return err;
  switch (t) {
    case ondemand::json_type::array: {
      ondemand::array a;
      if (auto err = v.get_array().get(a)) return err;
      for (auto el : a) {
        ondemand::value x;
        if (auto err = std::move(el).get(x)) return err;
        if (auto err = WalkValue(x)) return err;
      }
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::object: {
      ondemand::object o;
      if (auto err = v.get_object().get(o)) return err;
      for (auto f : o) {
        ondemand::field fld;
        if (auto err = std::move(f).get(fld)) return err;
        std::string_view k;
        if (auto err = fld.unescaped_key().get(k)) return err;
        if (auto err = WalkValue(fld.value())) return err;
      }
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::number: {
      ondemand::number n;
      return v.get_number().get(n);
    }
    case ondemand::json_type::string: {
      std::string_view s;
      return v.get_string().get(s);
    }
    case ondemand::json_type::boolean: {
      bool b = false;
      return v.get_bool().get(b);
    }
    case ondemand::json_type::null: {
      bool is_null = false;
      if (auto err = v.is_null().get(is_null)) return err;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::SUCCESS;
}

simdjson::error_code WalkDocument(ondemand::document& doc) {
  ondemand::json_type t;
  if (auto err = doc.type().get(t)) return err;
  switch (t) {
    case ondemand::json_type::array:
    case ondemand::json_type::object: {
      ondemand::value v;
      if (auto err = doc.get_value().get(v)) return err;
      if (auto err = WalkValue(v)) return err;
      break;
    }
    case ondemand::json_type::number: {
      ondemand::number n;
      if (auto err = doc.get_number().get(n)) return err;
      break;
    }
    case ondemand::json_type::string: {
      std::string_view s;
      if (auto err = doc.get_string().get(s)) return err;
      break;
    }
    case ondemand::json_type::boolean: {
      bool b = false;
      if (auto err = doc.get_bool().get(b)) return err;
      break;
    }
    case ondemand::json_type::null: {
      bool is_null = false;
      if (auto err = doc.is_null().get(is_null)) return err;
      if (!is_null) return simdjson::N_ATOM_ERROR;
      break;
    }
  }
  return simdjson::SUCCESS;
}

}  // namespace

// The projector's state. Each record is handled in two phases: convert every column into
// `cells` (phase 1, may fail with a reason; nothing is written yet), then append the cells as
// one row (phase 2, cannot fail). A failed record therefore never needs a rollback: no column
// ever holds part of it. All buffers here are reused from record to record, so the steady state
// makes no allocation except for error reasons and column growth.
// Ownership: owns everything; string cells point into the record, the DOM parser's string buffer,
// `unescaped` or `json_scratch`, all valid until the next record.
namespace {

// --- valid JSON numbers simdjson cannot hold -------------------------------------------------
// simdjson's DOM rejects a whole record with NUMBER_ERROR when one number does not fit its types
// (an integer beyond int64/uint64, a double overflowing to infinity), even in a field no column
// reads. Such a record is valid JSON, so the rare record that fails that way is parsed a second
// time with each out-of-range number replaced by a marked string holding the number's exact text
// (kOutOfRangeMark + text); only the columns that read one see it, as a range error or, for json
// columns, as the exact text. The marker starts with U+0001, which a JSON string can hold only
// escaped, so the text of a real string never matches by accident in practice.
constexpr std::string_view kOutOfRangeMark = "\x01weir-out-of-range-number:";
constexpr std::string_view kOutOfRangeMarkJson = "\\u0001weir-out-of-range-number:";

// Length of the JSON number grammar match at `p` (0 when it is not a valid JSON number).
size_t JsonNumberLength(const char* p, const char* end, bool* integer) {
  const char* q = p;
  if (q < end && *q == '-') ++q;
  if (q >= end) return 0;
  if (*q == '0') {
    ++q;
  } else if (*q >= '1' && *q <= '9') {
    while (q < end && *q >= '0' && *q <= '9') ++q;
  } else {
    return 0;
  }
  *integer = true;
  if (q < end && *q == '.') {
    ++q;
    if (q >= end || *q < '0' || *q > '9') return 0;
    while (q < end && *q >= '0' && *q <= '9') ++q;
    *integer = false;
  }
  if (q < end && (*q == 'e' || *q == 'E')) {
    ++q;
    if (q < end && (*q == '+' || *q == '-')) ++q;
    if (q >= end || *q < '0' || *q > '9') return 0;
    while (q < end && *q >= '0' && *q <= '9') ++q;
    *integer = false;
  }
  return static_cast<size_t>(q - p);
}

// Whether a valid JSON number token is beyond what simdjson's DOM holds.
bool NumberOutOfRange(std::string_view tok, bool integer) {
  if (integer) {
    if (tok[0] == '-') {
      int64_t v = 0;
      return std::from_chars(tok.data(), tok.data() + tok.size(), v).ec ==
             std::errc::result_out_of_range;
    }
    uint64_t v = 0;
    return std::from_chars(tok.data(), tok.data() + tok.size(), v).ec ==
           std::errc::result_out_of_range;
  }
  const std::string t(tok);
  return std::isinf(std::strtod(t.c_str(), nullptr));
}

// Copies `in` to `out` with every out-of-range number outside strings replaced by a marked
// string. Returns false when there was none (the parse error is then a real one).
bool MarkOutOfRangeNumbers(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size() + 64);
  bool any = false;
  const char* p = in.data();
  const char* end = p + in.size();
  while (p < end) {
    const char c = *p;
    if (c == '"') {  // copy a string whole, escapes included
      const char* q = p + 1;
      while (q < end && *q != '"') q += *q == '\\' ? 2 : 1;
      q = std::min(end, q + 1);
      out.append(p, q);
      p = q;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const char* q = p;
      while (q < end && (*q == '-' || *q == '+' || *q == '.' || *q == 'e' || *q == 'E' ||
                         (*q >= '0' && *q <= '9')))
        ++q;
      bool integer = false;
      const std::string_view tok(p, static_cast<size_t>(q - p));
      if (JsonNumberLength(p, q, &integer) == tok.size() && NumberOutOfRange(tok, integer)) {
        out += '"';
        out += kOutOfRangeMarkJson;
        out += tok;
        out += '"';
        any = true;
      } else {
        out += tok;
      }
      p = q;
    } else {
      out += c;
      ++p;
    }
  }
  return any;
}

// The number text of a marked string, or nullopt for any other element.
std::optional<std::string_view> OutOfRangeNumber(dom::element e) {
  std::string_view s;
  if (e.type() != dom::element_type::STRING || e.get_string().get(s)) return std::nullopt;
  if (s.size() <= kOutOfRangeMark.size() ||
      s.substr(0, kOutOfRangeMark.size()) != kOutOfRangeMark) {
    return std::nullopt;
  }
  return s.substr(kOutOfRangeMark.size());
}

// "integer 1234..." or "number 1e400", as Describe() words numbers.
std::string DescribeNumberText(std::string_view tok) {
  return (tok.find_first_of(".eE") == std::string_view::npos ? "integer " : "number ") +
         std::string(tok);
}

// Replaces the marked strings in minified JSON text by the numbers' own text.
void UnmarkOutOfRangeNumbers(std::string& json) {
  const std::string open = "\"" + std::string(kOutOfRangeMarkJson);
  size_t at = 0;
  while ((at = json.find(open, at)) != std::string::npos) {
    const size_t close = json.find('"', at + open.size());
    if (close == std::string::npos) return;
    json.replace(at, close + 1 - at, json.substr(at + open.size(), close - at - open.size()));
  }
}

}  // namespace

struct Projector::Impl {
  bool csv = false;
  bool csv_header = true;
  bool header_set = false;
  char delim = ',';
  char quote = '"';
  uint64_t max_record_bytes = 0;
  std::vector<ColumnSchema> schema;
  std::vector<ColumnPlan> plan;
  std::vector<uint32_t> path_columns;     // indexes of kPath columns
  std::vector<uint32_t> derived_columns;  // indexes of date_of / hour_of columns
  std::vector<PathNode> nodes;            // nodes[0] is the document root
  std::vector<uint64_t> node_seen;        // generation in which each node was last visited
  uint64_t generation = 0;                // one per record, so node_seen needs no clearing

  // Per-record scratch, sized once.
  std::vector<Cell> cells;
  std::vector<dom::element> found_el;
  std::vector<uint8_t> found;
  std::vector<std::string> json_scratch;  // minified text of json columns

  dom::parser parser;
  ondemand::parser od_parser;  // error location only
  // The record being projected had numbers beyond simdjson's range, parsed as marked strings
  // from `marked` (MarkOutOfRangeNumbers).
  bool out_of_range_numbers = false;
  std::string marked;
  std::unique_ptr<char[]> pad;
  size_t pad_cap = 0;
  // simdjson's own minifier for json columns; in its `internal` namespace but part of the
  // installed header (3.0.1), and it reuses its buffer where simdjson::minify() would allocate.
  simdjson::internal::string_builder<> builder;

  // csv
  std::vector<std::string_view> fields;
  std::vector<uint8_t> field_quoted;
  std::string unescaped;

  // documents (ProjectDocument)
  bool document = false;             // the parser builds sdk::Documents (not jsonl/csv)
  std::string parser_name;
  std::vector<uint32_t> found_node;  // per column: index of its document node when found
  std::vector<int32_t> doc_map;      // per document node: its trie node, or -1
  // Per document node index: what the node at this index resolved to last time (documents of
  // one parser repeat their layout). A hit and a miss (a field no column reads) are both cached,
  // keyed by the trie parent and the node's key, so either costs one key comparison.
  struct DocHint {
    int32_t parent = -1;  // trie node of the document node's parent
    uint32_t pos = 0;     // position among that trie node's children; children.size(): none
    std::string key;      // the document key it was computed for
  };
  std::vector<DocHint> doc_hints;
  // The parents and keys of the last document resolved in full (index 0, the root, unused), and
  // whether found[] / found_node[] still hold its resolution (see SameLayout()).
  struct LayoutNode {
    uint32_t parent = 0;
    std::string key;
  };
  std::vector<LayoutNode> layout;
  bool layout_valid = false;
  bool children_built = false;       // first_child / next_sibling are for the current document
  std::vector<uint32_t> first_child, last_child, next_sibling;  // 0 = none

  // Copies `s` into the reusable padded buffer simdjson requires (it reads up to
  // SIMDJSON_PADDING bytes past the end; the record's own buffer gives no such guarantee).
  const char* Pad(std::string_view s) {
    const size_t need = s.size() + simdjson::SIMDJSON_PADDING;
    if (need > pad_cap) {
      size_t cap = std::max<size_t>(need, pad_cap * 2);
      cap = std::max<size_t>(cap, 4096);
      pad = std::make_unique<char[]>(cap);
      pad_cap = cap;
    }
    if (!s.empty()) std::memcpy(pad.get(), s.data(), s.size());
    std::memset(pad.get() + s.size(), 0, simdjson::SIMDJSON_PADDING);
    return pad.get();
  }

  std::string ColumnPrefix(const ColumnPlan& c) const {
    return "column '" + c.name + "' (" + c.path + "): ";
  }

  bool Fail(const ColumnPlan& c, const char* expected, dom::element e, std::string* reason) {
    *reason = ColumnPrefix(c) + expected + ", got " + Describe(e);
    return false;
  }

  void Visit(uint32_t ni, dom::element e) {
    const PathNode& n = nodes[ni];
    for (uint32_t c : n.columns) {
      if (!found[c]) {  // two columns may name the same pointer; each node is visited once
        found[c] = 1;
        found_el[c] = e;
      }
    }
    if (n.children.empty()) return;
    const dom::element_type t = e.type();
    if (t == dom::element_type::OBJECT) {
      dom::object obj;
      if (e.get_object().get(obj)) return;
      // First occurrence of a duplicated key wins (its value is the one the pointer names, as
      // at_pointer would); the walk stops once every wanted key was seen.
      size_t left = n.children.size();
      for (auto it = obj.begin(); it != obj.end(); ++it) {
        const uint32_t klen = it.key_length();
        const char* k = it.key_c_str();
        for (uint32_t child : n.children) {
          const std::string& ck = nodes[child].key;
          if (ck.size() == klen && std::memcmp(ck.data(), k, klen) == 0) {
            if (node_seen[child] != generation) {
              node_seen[child] = generation;
              Visit(child, it.value());
              --left;
            }
            break;
          }
        }
        if (left == 0) break;
      }
    } else if (t == dom::element_type::ARRAY) {
      dom::array arr;
      if (e.get_array().get(arr)) return;
      for (uint32_t child : n.children) {
        if (!nodes[child].has_index) continue;
        dom::element v;
        if (!arr.at(nodes[child].index).get(v)) Visit(child, v);
      }
    }
  }

  std::string JsonError(size_t len, simdjson::error_code err) {
    std::string r = "invalid JSON: ";
    r += ErrorName(err);
    r += ": ";
    r += simdjson::error_message(err);
    // The DOM parser gives no position; an on-demand walk over the same bytes finds the first
    // bad token and its position (relative to the start of the record).
    ondemand::document doc;
    // When the walk succeeds the DOM error is what follows the value (trailing content), and the
    // walk stopped right there.
    if (!od_parser.iterate(pad.get(), len, pad_cap).get(doc)) {
      (void)WalkDocument(doc);
      const char* loc = nullptr;
      if (!doc.current_location().get(loc) && loc >= pad.get() && loc < pad.get() + len) {
        r += " at byte " + std::to_string(loc - pad.get());
      }
    }
    return r;
  }

  // A column reading a number simdjson could not hold (see MarkOutOfRangeNumbers): a double
  // column takes it when it is finite as a double (a big integer), json columns keep its text,
  // every other column reports it.
  bool ConvertOutOfRange(uint32_t ci, std::string_view tok, std::string* reason) {
    const ColumnPlan& c = plan[ci];
    Cell& cell = cells[ci];
    switch (c.type) {
      case ColumnType::kDouble: {
        const std::string t(tok);
        cell.d = std::strtod(t.c_str(), nullptr);
        if (std::isfinite(cell.d)) return true;
        *reason = ColumnPrefix(c) + DescribeNumberText(tok) + " is out of the double range";
        return false;
      }
      case ColumnType::kInt64:
        *reason = ColumnPrefix(c) + DescribeNumberText(tok) + " is out of the int64 range";
        return false;
      case ColumnType::kTimestampMs:
        if (!c.iso8601) {
          *reason = ColumnPrefix(c) + DescribeNumberText(tok) +
                    " is out of the int64 range (milliseconds)";
          return false;
        }
        *reason = ColumnPrefix(c) + "expected an ISO 8601 timestamp string, got " +
                  DescribeNumberText(tok);
        return false;
      case ColumnType::kString:
        *reason = ColumnPrefix(c) + "expected a string, got " + DescribeNumberText(tok);
        return false;
      case ColumnType::kBool:
        *reason = ColumnPrefix(c) + "expected true or false, got " + DescribeNumberText(tok);
        return false;
      case ColumnType::kDate:
        *reason =
            ColumnPrefix(c) + "expected a date string YYYY-MM-DD, got " + DescribeNumberText(tok);
        return false;
      case ColumnType::kJson:
        json_scratch[ci].assign(tok);
        cell.s = json_scratch[ci];
        return true;
    }
    return false;
  }

  bool ConvertJson(uint32_t ci, dom::element e, std::string* reason) {
    const ColumnPlan& c = plan[ci];
    Cell& cell = cells[ci];
    cell.null = false;
    const dom::element_type t = e.type();
    if (out_of_range_numbers && t == dom::element_type::STRING) {
      if (auto tok = OutOfRangeNumber(e)) return ConvertOutOfRange(ci, *tok, reason);
    }
    switch (c.type) {
      case ColumnType::kString:
        if (t != dom::element_type::STRING || e.get_string().get(cell.s)) {
          return Fail(c, "expected a string", e, reason);
        }
        return true;
      case ColumnType::kInt64:
      case ColumnType::kTimestampMs: {
        if (c.type == ColumnType::kTimestampMs && c.iso8601) {
          std::string_view s;
          if (t != dom::element_type::STRING || e.get_string().get(s)) {
            return Fail(c, "expected an ISO 8601 timestamp string", e, reason);
          }
          if (const char* why = ParseIso8601Ms(s, &cell.i)) {
            *reason = ColumnPrefix(c) + "expected an ISO 8601 timestamp (" + why + "), got " +
                      Describe(e);
            return false;
          }
          return true;
        }
        const char* expected =
            c.type == ColumnType::kInt64 ? "expected an integer" : "expected integer milliseconds";
        if (t == dom::element_type::UINT64) {
          *reason = ColumnPrefix(c) + Describe(e) + " is out of the int64 range";
          return false;
        }
        if (t != dom::element_type::INT64 || e.get_int64().get(cell.i)) {
          return Fail(c, expected, e, reason);
        }
        return true;
      }
      case ColumnType::kDouble:
        if (t == dom::element_type::DOUBLE) {
          if (e.get_double().get(cell.d)) return Fail(c, "expected a number", e, reason);
        } else if (t == dom::element_type::INT64) {
          int64_t v = 0;
          if (e.get_int64().get(v)) return Fail(c, "expected a number", e, reason);
          cell.d = static_cast<double>(v);
        } else if (t == dom::element_type::UINT64) {
          uint64_t v = 0;
          if (e.get_uint64().get(v)) return Fail(c, "expected a number", e, reason);
          cell.d = static_cast<double>(v);
        } else {
          return Fail(c, "expected a number", e, reason);
        }
        return true;
      case ColumnType::kBool: {
        bool b = false;
        if (t != dom::element_type::BOOL || e.get_bool().get(b)) {
          return Fail(c, "expected true or false", e, reason);
        }
        cell.i = b ? 1 : 0;
        return true;
      }
      case ColumnType::kDate: {
        std::string_view s;
        if (t != dom::element_type::STRING || e.get_string().get(s)) {
          return Fail(c, "expected a date string YYYY-MM-DD", e, reason);
        }
        int32_t days = 0;
        if (const char* why = ParseIsoDate(s, &days)) {
          *reason =
              ColumnPrefix(c) + "expected a date YYYY-MM-DD (" + why + "), got " + Describe(e);
          return false;
        }
        cell.i = days;
        return true;
      }
      case ColumnType::kJson:
        builder.clear();
        builder.append(e);
        json_scratch[ci].assign(builder.str());
        if (out_of_range_numbers) UnmarkOutOfRangeNumbers(json_scratch[ci]);
        cell.s = json_scratch[ci];
        return true;
    }
    return Fail(c, "unsupported column type", e, reason);
  }

  // Derived columns, once every path column converted. Can fail only on absurd timestamps.
  bool ComputeDerived(std::string* reason) {
    for (uint32_t ci : derived_columns) {
      const ColumnPlan& c = plan[ci];
      const Cell& src = cells[static_cast<size_t>(c.from)];
      Cell& cell = cells[ci];
      cell.null = src.null;
      if (src.null) continue;
      if (c.source == ColumnSource::kDateOf) {
        const int64_t days = FloorDiv(src.i, kMsPerDay);
        if (days < std::numeric_limits<int32_t>::min() ||
            days > std::numeric_limits<int32_t>::max()) {
          *reason = "column '" + c.name + "': timestamp " + std::to_string(src.i) +
                    " ms is outside the date range";
          return false;
        }
        cell.i = days;
      } else {
        cell.i = FloorMod(src.i, kMsPerDay) / kMsPerHour;
      }
    }
    return true;
  }

  bool MissingOrNull(uint32_t ci, bool present, std::string* reason) {
    const ColumnPlan& c = plan[ci];
    cells[ci].null = true;
    if (!c.required) return true;
    *reason = present ? "required column '" + c.name + "' (" + c.path + ") is null"
                      : "missing required column '" + c.name + "' (" + c.path + ")";
    return false;
  }

  // Parses the JSON text of one value (a csv field or a document's raw JSON) like ProjectJson
  // parses a record: numbers beyond simdjson's range come back as marked strings, and
  // `marked_numbers` says so (UnmarkOutOfRangeNumbers restores their text after minifying).
  simdjson::error_code ParseJsonText(std::string_view text, dom::element& e, bool& marked_numbers) {
    marked_numbers = false;
    const simdjson::error_code err = parser.parse(Pad(text), text.size(), false).get(e);
    if (err != simdjson::NUMBER_ERROR || !MarkOutOfRangeNumbers(text, marked)) return err;
    if (parser.parse(Pad(marked), marked.size(), false).get(e)) return err;
    marked_numbers = true;
    return simdjson::SUCCESS;
  }

  bool ProjectJson(std::string_view bytes, std::string* reason) {
    const char* buf = Pad(bytes);
    dom::element root;
    out_of_range_numbers = false;
    if (auto err = parser.parse(buf, bytes.size(), false).get(root)) {
      // Valid JSON with a number simdjson cannot hold (simdjson 3.0 says NUMBER_ERROR for it, as
      // for a malformed number): parse again with such numbers marked
      // (rare; the common path above is untouched).
      if (err != simdjson::NUMBER_ERROR || !MarkOutOfRangeNumbers(bytes, marked) ||
          parser.parse(Pad(marked), marked.size(), false).get(root)) {
        Pad(bytes);  // JsonError locates the error in the original bytes
        *reason = JsonError(bytes.size(), err);
        return false;
      }
      out_of_range_numbers = true;
    }
    if (root.type() != dom::element_type::OBJECT) {
      *reason = "top-level JSON value is " + Describe(root) + ", expected an object";
      return false;
    }
    std::fill(found.begin(), found.end(), 0);
    layout_valid = false;  // found[] no longer describes the last document
    ++generation;
    Visit(0, root);
    for (uint32_t ci : path_columns) {
      if (!found[ci]) {
        if (!MissingOrNull(ci, false, reason)) return false;
      } else if (found_el[ci].type() == dom::element_type::NULL_VALUE) {
        if (!MissingOrNull(ci, true, reason)) return false;
      } else if (!ConvertJson(ci, found_el[ci], reason)) {
        return false;
      }
    }
    return ComputeDerived(reason);
  }

  // Splits a CSV record into fields (views into `rec` or `unescaped`). Strict: text after a
  // closing quote and an unterminated quoted field are errors.
  bool SplitCsv(std::string_view rec, std::string* reason) {
    fields.clear();
    field_quoted.clear();
    unescaped.clear();
    unescaped.reserve(rec.size());  // never reallocates below, so views into it stay valid
    const char* d = rec.data();
    const size_t n = rec.size();
    size_t i = 0;
    while (true) {
      if (i < n && d[i] == quote) {
        ++i;
        const size_t start = i;
        size_t ustart = std::string::npos;  // set once a doubled quote forces a copy
        while (true) {
          const void* p = std::memchr(d + i, quote, n - i);
          if (p == nullptr) {
            *reason =
                "malformed CSV: unterminated quoted field " + std::to_string(fields.size() + 1);
            return false;
          }
          const size_t j = static_cast<size_t>(static_cast<const char*>(p) - d);
          if (j + 1 < n && d[j + 1] == quote) {  // doubled quote: a literal quote
            if (ustart == std::string::npos) {
              ustart = unescaped.size();
              unescaped.append(d + start, j + 1 - start);
            } else {
              unescaped.append(d + i, j + 1 - i);
            }
            i = j + 2;
            continue;
          }
          if (ustart == std::string::npos) {
            fields.emplace_back(d + start, j - start);
          } else {
            unescaped.append(d + i, j - i);
            fields.emplace_back(unescaped.data() + ustart, unescaped.size() - ustart);
          }
          i = j + 1;
          break;
        }
        field_quoted.push_back(1);
        if (i < n && d[i] != delim) {
          *reason = "malformed CSV: unexpected " + Quote(std::string_view(d + i, 1)) +
                    " after the closing quote of field " + std::to_string(fields.size());
          return false;
        }
      } else {
        const void* p = i < n ? std::memchr(d + i, delim, n - i) : nullptr;
        const size_t j = p ? static_cast<size_t>(static_cast<const char*>(p) - d) : n;
        fields.emplace_back(d + i, j - i);
        field_quoted.push_back(0);
        i = j;
      }
      if (i >= n) break;
      ++i;  // the delimiter; a record ending in one has a final empty field
      if (i == n) {
        fields.emplace_back();
        field_quoted.push_back(0);
        break;
      }
    }
    return true;
  }

  bool FailText(const ColumnPlan& c, const std::string& expected, std::string_view text,
                std::string* reason) {
    *reason = ColumnPrefix(c) + expected + ", got " + Quote(text);
    return false;
  }

  bool ParseInt(const ColumnPlan& c, std::string_view text, const char* expected, int64_t* v,
                std::string* reason) {
    auto res = std::from_chars(text.data(), text.data() + text.size(), *v);
    if (res.ec == std::errc::result_out_of_range) {
      *reason = ColumnPrefix(c) + Quote(text) + " is out of the int64 range";
      return false;
    }
    if (res.ec != std::errc() || res.ptr != text.data() + text.size()) {
      return FailText(c, expected, text, reason);
    }
    return true;
  }

  bool ConvertText(uint32_t ci, std::string_view text, std::string* reason) {
    const ColumnPlan& c = plan[ci];
    Cell& cell = cells[ci];
    cell.null = false;
    switch (c.type) {
      case ColumnType::kString:
        cell.s = text;
        return true;
      case ColumnType::kInt64:
        return ParseInt(c, text, "expected an integer", &cell.i, reason);
      case ColumnType::kTimestampMs:
        if (c.iso8601) {
          if (const char* why = ParseIso8601Ms(text, &cell.i)) {
            return FailText(c, std::string("expected an ISO 8601 timestamp (") + why + ")", text,
                            reason);
          }
          return true;
        }
        return ParseInt(c, text, "expected integer milliseconds", &cell.i, reason);
      case ColumnType::kDouble: {
        auto res = std::from_chars(text.data(), text.data() + text.size(), cell.d);
        if (res.ec != std::errc() || res.ptr != text.data() + text.size() ||
            !std::isfinite(cell.d)) {
          return FailText(c, "expected a number", text, reason);
        }
        return true;
      }
      case ColumnType::kBool:
        if (EqualsIgnoreCase(text, "true") || text == "1") {
          cell.i = 1;
        } else if (EqualsIgnoreCase(text, "false") || text == "0") {
          cell.i = 0;
        } else {
          return FailText(c, "expected true, false, 1 or 0", text, reason);
        }
        return true;
      case ColumnType::kDate: {
        int32_t days = 0;
        if (const char* why = ParseIsoDate(text, &days)) {
          return FailText(c, std::string("expected a date YYYY-MM-DD (") + why + ")", text, reason);
        }
        cell.i = days;
        return true;
      }
      case ColumnType::kJson: {
        dom::element e;
        bool marked_numbers = false;
        if (auto err = ParseJsonText(text, e, marked_numbers)) {
          return FailText(c, std::string("expected JSON text (") + ErrorName(err) + ")", text,
                          reason);
        }
        builder.clear();
        builder.append(e);
        json_scratch[ci].assign(builder.str());
        if (marked_numbers) UnmarkOutOfRangeNumbers(json_scratch[ci]);
        cell.s = json_scratch[ci];
        return true;
      }
    }
    return FailText(c, "unsupported column type", text, reason);
  }

  bool ProjectCsv(std::string_view bytes, std::string* reason) {
    if (csv_header && !header_set) {
      *reason = "csv header row not seen before this record";
      return false;
    }
    if (!SplitCsv(bytes, reason)) return false;
    for (uint32_t ci : path_columns) {
      const ColumnPlan& c = plan[ci];
      if (c.csv_field < 0 || static_cast<size_t>(c.csv_field) >= fields.size()) {
        if (!MissingOrNull(ci, false, reason)) return false;
        continue;
      }
      const std::string_view text = fields[static_cast<size_t>(c.csv_field)];
      if (text.empty() &&
          !(field_quoted[static_cast<size_t>(c.csv_field)] && c.type == ColumnType::kString)) {
        cells[ci].null = true;
        if (c.required) {
          *reason = "required column '" + c.name + "' (" + c.path + ") is empty";
          return false;
        }
        continue;
      }
      if (!ConvertText(ci, text, reason)) return false;
    }
    return ComputeDerived(reason);
  }

  // ---- documents (ProjectDocument) ----

  // What a jsonl column of this type says it expected, so document errors read the same.
  static const char* Expected(const ColumnPlan& c) {
    switch (c.type) {
      case ColumnType::kString:
        return "expected a string";
      case ColumnType::kInt64:
        return "expected an integer";
      case ColumnType::kTimestampMs:
        return c.iso8601 ? "expected an ISO 8601 timestamp string"
                         : "expected integer milliseconds";
      case ColumnType::kDouble:
        return "expected a number";
      case ColumnType::kBool:
        return "expected true or false";
      case ColumnType::kDate:
        return "expected a date string YYYY-MM-DD";
      case ColumnType::kJson:
        return "expected a JSON value";
    }
    return "unsupported column type";
  }

  // Describe() for document nodes: "string \"x\"", "integer 5", "number 1.5", "boolean true",
  // "null", "object", "JSON text \"[1]\"".
  static std::string DescribeNode(const sdk::Document& doc, const sdk::Document::Node& n) {
    switch (n.kind) {
      case sdk::Document::Kind::kNull:
        return "null";
      case sdk::Document::Kind::kString:
        return "string " + Quote(doc.text(n));
      case sdk::Document::Kind::kInt:
        return "integer " + std::to_string(n.i);
      case sdk::Document::Kind::kDouble:
        return "number " + FormatDouble(n.d);
      case sdk::Document::Kind::kBool:
        return n.i ? "boolean true" : "boolean false";
      case sdk::Document::Kind::kJson:
        return "JSON text " + Quote(doc.text(n));
      case sdk::Document::Kind::kObject:
        return "object";
    }
    return "value";
  }

  bool FailNode(const ColumnPlan& c, std::string_view expected, const sdk::Document& doc,
                const sdk::Document::Node& n, std::string* reason) {
    *reason = ColumnPrefix(c);
    reason->append(expected);
    *reason += ", got " + DescribeNode(doc, n);
    return false;
  }

  void MarkDocFound(uint32_t trie_node, uint32_t doc_node) {
    for (uint32_t c : nodes[trie_node].columns) {
      if (!found[c]) {
        found[c] = 1;
        found_node[c] = doc_node;
      }
    }
  }

  // Key equality for ResolveDocument(). Document keys are short field names; comparing them
  // inline beats a call to memcmp per node, which profiles showed as a hot spot.
  static bool SameKey(const std::string& a, std::string_view b) {
    const size_t n = a.size();
    if (n != b.size()) return false;
    const char* x = a.data();
    const char* y = b.data();
    if (n > 16) return std::memcmp(x, y, n) == 0;
    // Two overlapping loads cover 4..16 bytes without a byte loop.
    if (n >= 8) return Load<uint64_t>(x) == Load<uint64_t>(y) &&
                       Load<uint64_t>(x + n - 8) == Load<uint64_t>(y + n - 8);
    if (n >= 4) return Load<uint32_t>(x) == Load<uint32_t>(y) &&
                       Load<uint32_t>(x + n - 4) == Load<uint32_t>(y + n - 4);
    for (size_t j = 0; j < n; ++j) {
      if (x[j] != y[j]) return false;
    }
    return true;
  }
  template <typename T>
  static T Load(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
  }

  // Finds the node of every path column in one pass over the document. Nodes are stored in
  // insertion order and a child always follows its parent, so mapping each node to the trie node
  // of its path (or -1) only needs its parent's mapping. A key set twice in one object keeps the
  // first node, as sdk::Document::Find() and the jsonl path do.
  void ResolveDocument(const sdk::Document& doc) {
    const std::vector<sdk::Document::Node>& dn = doc.nodes();
    if (SameLayout(doc)) return;  // found[] and found_node[] still hold this layout's answer
    std::fill(found.begin(), found.end(), 0);
    ++generation;
    doc_map.resize(dn.size());
    if (doc_hints.size() < dn.size()) doc_hints.resize(dn.size());
    doc_map[0] = 0;
    MarkDocFound(0, 0);
    size_t left = nodes.size() - 1;  // trie nodes not yet matched; none left: stop early
    for (uint32_t i = 1; i < dn.size() && left > 0; ++i) {
      const sdk::Document::Node& n = dn[i];
      doc_map[i] = -1;
      if (n.parent >= i) continue;  // malformed tree; never built by Document itself
      const int32_t tp = doc_map[n.parent];
      if (tp < 0) continue;
      const PathNode& pn = nodes[static_cast<uint32_t>(tp)];
      if (pn.children.empty()) continue;
      const std::string_view k = doc.key(n);
      // Documents of one parser repeat their layout, so first reuse what the node at this index
      // resolved to last time when its parent and key are the same (children's keys are unique,
      // so the result is too). Misses are cached as well: re-checking a field that no column
      // reads against every child on every record was a measured hot spot.
      const std::vector<uint32_t>& kids = pn.children;
      DocHint& hint = doc_hints[i];
      uint32_t pos = hint.pos;
      if (hint.parent != tp || !SameKey(hint.key, k)) {
        for (pos = 0; pos < kids.size() && !SameKey(nodes[kids[pos]].key, k); ++pos) {
        }
        hint.parent = tp;
        hint.pos = pos;
        hint.key.assign(k);
      }
      if (pos < kids.size()) {
        const uint32_t child = kids[pos];
        if (node_seen[child] != generation) {
          node_seen[child] = generation;
          doc_map[i] = static_cast<int32_t>(child);
          --left;
          MarkDocFound(child, i);
        }
      }
    }
    RememberLayout(doc);
  }

  // True when `doc` has the same nodes, parents and keys as the document ResolveDocument() last
  // resolved in full. Which node each column reads depends on nothing else, so the previous
  // answer stands. Parsers that always emit the same fields in the same order (regex, lines)
  // thus pay one parent and one key comparison per node instead of a trie walk.
  bool SameLayout(const sdk::Document& doc) const {
    const std::vector<sdk::Document::Node>& dn = doc.nodes();
    if (!layout_valid || dn.size() != layout.size()) return false;
    for (size_t i = 1; i < dn.size(); ++i) {
      if (dn[i].parent != layout[i].parent || !SameKey(layout[i].key, doc.key(dn[i]))) {
        return false;
      }
    }
    return true;
  }
  void RememberLayout(const sdk::Document& doc) {
    const std::vector<sdk::Document::Node>& dn = doc.nodes();
    layout.resize(dn.size());
    for (size_t i = 1; i < dn.size(); ++i) {
      layout[i].parent = dn[i].parent;
      layout[i].key.assign(doc.key(dn[i]));
    }
    layout_valid = true;
  }

  // Strict conversion of a string node's text for int64 / double / bool / timestamp_ms columns.
  // Empty text was already made NULL by the caller.
  bool ConvertNodeText(uint32_t ci, const sdk::Document& doc, const sdk::Document::Node& n,
                       std::string* reason) {
    const ColumnPlan& c = plan[ci];
    Cell& cell = cells[ci];
    const std::string_view text = doc.text(n);
    const char* end = text.data() + text.size();
    switch (c.type) {
      case ColumnType::kInt64:
      case ColumnType::kTimestampMs: {
        // Fast path for the common case, 1 to 18 plain digits (cannot overflow int64); anything
        // else (a sign, other bytes, more digits) goes to from_chars as before.
        if (!text.empty() && text.size() <= 18) {
          int64_t v = 0;
          size_t k = 0;
          for (; k < text.size(); ++k) {
            const unsigned d = static_cast<unsigned char>(text[k]) - static_cast<unsigned>('0');
            if (d > 9) break;
            v = v * 10 + static_cast<int64_t>(d);
          }
          if (k == text.size()) {
            cell.i = v;
            return true;
          }
        }
        auto res = std::from_chars(text.data(), end, cell.i);
        if (res.ec == std::errc::result_out_of_range && res.ptr == end) {
          *reason = ColumnPrefix(c) + DescribeNode(doc, n) + " is out of the int64 range";
          return false;
        }
        if (res.ec != std::errc() || res.ptr != end) {
          return FailNode(c, Expected(c), doc, n, reason);
        }
        return true;
      }
      case ColumnType::kDouble: {
        auto res = std::from_chars(text.data(), end, cell.d);
        if (res.ec != std::errc() || res.ptr != end || !std::isfinite(cell.d)) {
          return FailNode(c, "expected a number", doc, n, reason);
        }
        return true;
      }
      case ColumnType::kBool:
        if (EqualsIgnoreCase(text, "true") || text == "1") {
          cell.i = 1;
        } else if (EqualsIgnoreCase(text, "false") || text == "0") {
          cell.i = 0;
        } else {
          return FailNode(c, "expected true, false, 1 or 0", doc, n, reason);
        }
        return true;
      default:
        return FailNode(c, Expected(c), doc, n, reason);
    }
  }

  // Builds first-child / next-sibling links of the document's objects, once per document and
  // only when a json column serializes an object.
  void BuildChildren(const sdk::Document& doc) {
    if (children_built) return;
    children_built = true;
    const std::vector<sdk::Document::Node>& dn = doc.nodes();
    first_child.assign(dn.size(), 0);
    last_child.assign(dn.size(), 0);
    next_sibling.assign(dn.size(), 0);
    for (uint32_t i = 1; i < dn.size(); ++i) {
      const uint32_t p = dn[i].parent;
      if (p >= i) continue;
      if (first_child[p] == 0) {
        first_child[p] = i;
      } else {
        next_sibling[last_child[p]] = i;
      }
      last_child[p] = i;
    }
  }

  static void AppendJsonString(std::string_view s, std::string& out) {
    static const char kHex[] = "0123456789abcdef";
    out.push_back('"');
    size_t run = 0;  // start of the pending run of bytes that need no escape
    for (size_t i = 0; i < s.size(); ++i) {
      const unsigned char ch = static_cast<unsigned char>(s[i]);
      if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
      out.append(s.data() + run, i - run);
      run = i + 1;
      out.push_back('\\');
      switch (ch) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '\n':
          out.push_back('n');
          break;
        case '\r':
          out.push_back('r');
          break;
        case '\t':
          out.push_back('t');
          break;
        case '\b':
          out.push_back('b');
          break;
        case '\f':
          out.push_back('f');
          break;
        default:
          out += "u00";
          out.push_back(kHex[ch >> 4]);
          out.push_back(kHex[ch & 15]);
      }
    }
    out.append(s.data() + run, s.size() - run);
    out.push_back('"');
  }

  // True when every byte of `s` is ASCII (then `s` is valid UTF-8): a word-at-a-time check that
  // spares the short strings of parsed documents simdjson's dispatch.
  static bool IsAscii(std::string_view s) {
    const char* p = s.data();
    size_t n = s.size();
    uint64_t acc = 0;
    for (; n >= 8; p += 8, n -= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      acc |= w;
    }
    for (; n > 0; ++p, --n) acc |= static_cast<unsigned char>(*p);
    return (acc & 0x8080808080808080ull) == 0;
  }

  bool CheckUtf8(const ColumnPlan& c, std::string_view s, std::string* reason) {
    if (IsAscii(s) || simdjson::validate_utf8(s.data(), s.size())) return true;
    *reason = ColumnPrefix(c) + "text is not valid UTF-8: " + Quote(s);
    return false;
  }

  // Appends node `idx` as minified JSON text to `out` (the json column's scratch).
  bool AppendNodeJson(const ColumnPlan& c, const sdk::Document& doc, uint32_t idx,
                      std::string& out, std::string* reason) {
    const sdk::Document::Node& n = doc.nodes()[idx];
    switch (n.kind) {
      case sdk::Document::Kind::kNull:
        out += "null";
        return true;
      case sdk::Document::Kind::kString:
        if (!CheckUtf8(c, doc.text(n), reason)) return false;
        AppendJsonString(doc.text(n), out);
        return true;
      case sdk::Document::Kind::kInt: {
        char buf[24];
        auto res = std::to_chars(buf, buf + sizeof(buf), n.i);
        out.append(buf, res.ptr);
        return true;
      }
      case sdk::Document::Kind::kDouble: {
        if (!std::isfinite(n.d)) {
          *reason = ColumnPrefix(c) + DescribeNode(doc, n) + " cannot be written as JSON";
          return false;
        }
        char buf[64];
        auto res = std::to_chars(buf, buf + sizeof(buf), n.d);
        out.append(buf, res.ptr);
        // Keep a double visibly a double (2.0, not 2), as simdjson's minifier writes jsonl values.
        if (std::find_if(buf, res.ptr, [](char ch) { return ch == '.' || ch == 'e'; }) == res.ptr) {
          out += ".0";
        }
        return true;
      }
      case sdk::Document::Kind::kBool:
        out += n.i ? "true" : "false";
        return true;
      case sdk::Document::Kind::kJson: {
        // The SDK promises validation of raw JSON when a column reads it: parse, then minify.
        const std::string_view text = doc.text(n);
        dom::element e;
        bool marked_numbers = false;
        if (auto err = ParseJsonText(text, e, marked_numbers)) {
          *reason = ColumnPrefix(c) + "the document holds invalid JSON text (" + ErrorName(err) +
                    "): " + Quote(text);
          return false;
        }
        builder.clear();
        builder.append(e);
        if (marked_numbers) {
          std::string minified(builder.str());
          UnmarkOutOfRangeNumbers(minified);
          out.append(minified);
        } else {
          out.append(builder.str());
        }
        return true;
      }
      case sdk::Document::Kind::kObject: {
        BuildChildren(doc);
        out.push_back('{');
        bool first = true;
        for (uint32_t ch = first_child[idx]; ch != 0; ch = next_sibling[ch]) {
          const std::string_view key = doc.key(doc.nodes()[ch]);
          bool dup = false;  // first of duplicate keys wins; objects are small, a scan will do
          for (uint32_t prev = first_child[idx]; prev != ch; prev = next_sibling[prev]) {
            if (doc.key(doc.nodes()[prev]) == key) {
              dup = true;
              break;
            }
          }
          if (dup) continue;
          if (!CheckUtf8(c, key, reason)) return false;
          if (!first) out.push_back(',');
          first = false;
          AppendJsonString(key, out);
          out.push_back(':');
          if (!AppendNodeJson(c, doc, ch, out, reason)) return false;
        }
        out.push_back('}');
        return true;
      }
    }
    return FailNode(c, "a known node kind", doc, n, reason);
  }

  // Converts the (non-null) node `idx` for column `ci` into cells[ci].
  bool ConvertNode(uint32_t ci, const sdk::Document& doc, uint32_t idx, std::string* reason) {
    const ColumnPlan& c = plan[ci];
    Cell& cell = cells[ci];
    const sdk::Document::Node& n = doc.nodes()[idx];
    cell.null = false;
    if (c.type == ColumnType::kJson) {
      if (n.kind == sdk::Document::Kind::kJson) return ConvertText(ci, doc.text(n), reason);
      std::string& out = json_scratch[ci];
      out.clear();
      if (!AppendNodeJson(c, doc, idx, out, reason)) return false;
      cell.s = out;
      return true;
    }
    switch (n.kind) {
      case sdk::Document::Kind::kString: {
        const std::string_view text = doc.text(n);
        if (!CheckUtf8(c, text, reason)) return false;
        if (c.type == ColumnType::kString) {
          cell.s = text;
          return true;
        }
        if (c.type == ColumnType::kDate || (c.type == ColumnType::kTimestampMs && c.iso8601)) {
          const char* why = nullptr;
          int32_t days = 0;
          if (c.type == ColumnType::kDate) {
            why = ParseIsoDate(text, &days);
            cell.i = days;
          } else {
            why = ParseIso8601Ms(text, &cell.i);
          }
          if (why == nullptr) return true;
          *reason = ColumnPrefix(c) +
                    (c.type == ColumnType::kDate ? "expected a date YYYY-MM-DD ("
                                                 : "expected an ISO 8601 timestamp (") +
                    why + "), got " + DescribeNode(doc, n);
          return false;
        }
        if (text.empty()) {
          cell.null = true;
          if (!c.required) return true;
          *reason = "required column '" + c.name + "' (" + c.path + ") is empty";
          return false;
        }
        return ConvertNodeText(ci, doc, n, reason);
      }
      case sdk::Document::Kind::kInt:
        if (c.type == ColumnType::kInt64 || (c.type == ColumnType::kTimestampMs && !c.iso8601)) {
          cell.i = n.i;
          return true;
        }
        if (c.type == ColumnType::kDouble) {
          cell.d = static_cast<double>(n.i);
          return true;
        }
        return FailNode(c, Expected(c), doc, n, reason);
      case sdk::Document::Kind::kDouble:
        if (c.type == ColumnType::kDouble && std::isfinite(n.d)) {
          cell.d = n.d;
          return true;
        }
        return FailNode(c, Expected(c), doc, n, reason);
      case sdk::Document::Kind::kBool:
        if (c.type == ColumnType::kBool) {
          cell.i = n.i != 0 ? 1 : 0;
          return true;
        }
        return FailNode(c, Expected(c), doc, n, reason);
      case sdk::Document::Kind::kJson: {
        // Raw JSON from a plugin: validated, then typed exactly like a jsonl value.
        const std::string_view text = doc.text(n);
        dom::element e;
        if (auto err = ParseJsonText(text, e, out_of_range_numbers)) {
          *reason = ColumnPrefix(c) + "the document holds invalid JSON text (" + ErrorName(err) +
                    "): " + Quote(text);
          return false;
        }
        if (e.type() == dom::element_type::NULL_VALUE) return MissingOrNull(ci, true, reason);
        const bool converted = ConvertJson(ci, e, reason);
        out_of_range_numbers = false;  // it described this value only
        if (!converted) return false;
        if (c.type == ColumnType::kString) {
          // The parser's string buffer is reused by the next parse: keep a copy.
          json_scratch[ci].assign(cell.s);
          cell.s = json_scratch[ci];
        }
        return true;
      }
      case sdk::Document::Kind::kNull:
        return MissingOrNull(ci, true, reason);
      case sdk::Document::Kind::kObject:
        return FailNode(c, Expected(c), doc, n, reason);
    }
    return FailNode(c, Expected(c), doc, n, reason);
  }

  bool ProjectDoc(const sdk::Document& doc, std::string* reason) {
    children_built = false;
    ResolveDocument(doc);
    const std::vector<sdk::Document::Node>& dn = doc.nodes();
    for (uint32_t ci : path_columns) {
      if (!found[ci]) {
        if (!MissingOrNull(ci, false, reason)) return false;
      } else if (dn[found_node[ci]].kind == sdk::Document::Kind::kNull) {
        if (!MissingOrNull(ci, true, reason)) return false;
      } else if (!ConvertNode(ci, doc, found_node[ci], reason)) {
        return false;
      }
    }
    return ComputeDerived(reason);
  }

  // Appends the converted cells as one row; cannot fail, so columns stay equally long.
  void AppendRow(ColumnBatch& out) {
    for (size_t ci = 0; ci < plan.size(); ++ci) {
      ColumnBuffer& col = out.columns[ci];
      const Cell& cell = cells[ci];
      if (cell.null) {
        col.AppendNull();
        continue;
      }
      switch (schema[ci].type) {
        case ColumnType::kString:
        case ColumnType::kJson:
          col.AppendString(cell.s);
          break;
        case ColumnType::kInt64:
        case ColumnType::kTimestampMs:
          col.AppendInt64(cell.i);
          break;
        case ColumnType::kDouble:
          col.AppendDouble(cell.d);
          break;
        case ColumnType::kBool:
          col.AppendBool(cell.i != 0);
          break;
        case ColumnType::kDate:
          col.AppendDate(static_cast<int32_t>(cell.i));
          break;
      }
    }
  }
};

Projector::Projector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Projector::~Projector() = default;

const std::vector<ColumnSchema>& Projector::schema() const { return impl_->schema; }

Result<std::unique_ptr<Projector>> Projector::Create(const DatasetConfig& cfg) {
  auto impl = std::make_unique<Impl>();
  const ReadConfig& rd = cfg.read;
  if (rd.parser == "csv") {
    impl->csv = true;
  } else if (IsBuiltinParser(rd.parser) || rd.parser.starts_with("plugin:")) {
    impl->document = true;  // paths are JSON pointers into sdk::Documents
  } else if (rd.parser != "jsonl") {
    return Status::Invalid("read.parser: unsupported parser '" + rd.parser +
                           "' (expected jsonl, csv, " + JoinNames(BuiltinParserNames()) +
                           " or plugin:<name>)");
  }
  impl->parser_name = rd.parser;
  impl->csv_header = rd.csv_header;
  impl->delim = rd.csv_delimiter;
  impl->quote = rd.csv_quote;
  impl->max_record_bytes = rd.max_record_bytes;
  if (impl->csv && (rd.csv_delimiter == rd.csv_quote || rd.csv_delimiter == '\n' ||
                    rd.csv_quote == '\n' || rd.csv_delimiter == '\r' || rd.csv_quote == '\r')) {
    return Status::Invalid("read: csv delimiter and quote must differ and not be a line break");
  }
  const auto& cols = cfg.write.columns;
  if (cols.empty()) return Status::Invalid("write.columns: no columns");
  impl->nodes.emplace_back();  // root
  std::vector<std::string> tokens;
  for (size_t i = 0; i < cols.size(); ++i) {
    const ColumnConfig& cc = cols[i];
    const std::string where = "write.columns '" + cc.name + "'" +
                              (cc.line > 0 ? " (line " + std::to_string(cc.line) + ")" : "");
    for (size_t j = 0; j < i; ++j) {
      if (cols[j].name == cc.name) return Status::Invalid(where + ": duplicate column name");
    }
    ColumnPlan p;
    p.name = cc.name;
    p.source = cc.source;
    p.required = cc.required;
    p.iso8601 = cc.iso8601;
    if (cc.source == ColumnSource::kPath) {
      p.type = cc.type;
      p.path = cc.path;
      if (p.iso8601 && p.type != ColumnType::kTimestampMs) {
        return Status::Invalid(where + ": iso8601 applies to timestamp columns only");
      }
      if (impl->csv) {
        if (!impl->csv_header) {
          uint64_t n = 0;
          if (!ParseArrayIndex(cc.path, &n) || n == 0 || n > 1000000) {
            return Status::Invalid(where +
                                   ": csv without a header row needs the 1-based field "
                                   "number as path, got '" +
                                   cc.path + "'");
          }
          p.csv_field = static_cast<int>(n - 1);
        }
      } else {
        Status st = SplitPointer(cc.path, &tokens);
        if (!st.ok()) return st.WithContext(where + ": path '" + cc.path + "'");
        uint32_t node = 0;
        for (const std::string& tok : tokens) {
          uint32_t next = 0;
          for (uint32_t child : impl->nodes[node].children) {
            if (impl->nodes[child].key == tok) next = child;
          }
          if (next == 0) {
            next = static_cast<uint32_t>(impl->nodes.size());
            PathNode pn;
            pn.key = tok;
            pn.has_index = ParseArrayIndex(tok, &pn.index);
            impl->nodes.push_back(std::move(pn));
            impl->nodes[node].children.push_back(next);
          }
          node = next;
        }
        impl->nodes[node].columns.push_back(static_cast<uint32_t>(i));
      }
      impl->path_columns.push_back(static_cast<uint32_t>(i));
    } else {
      p.type = cc.source == ColumnSource::kDateOf ? ColumnType::kDate : ColumnType::kInt64;
      p.path = cc.source == ColumnSource::kDateOf ? "date_of " + cc.from : "hour_of " + cc.from;
      for (size_t j = 0; j < cols.size(); ++j) {
        if (cols[j].name == cc.from) p.from = static_cast<int>(j);
      }
      if (p.from < 0) {
        return Status::Invalid(where + ": source column '" + cc.from + "' does not exist");
      }
      const ColumnConfig& src = cols[static_cast<size_t>(p.from)];
      if (src.source != ColumnSource::kPath || src.type != ColumnType::kTimestampMs) {
        return Status::Invalid(where + ": source column '" + cc.from +
                               "' is not a timestamp column read from the input");
      }
      impl->derived_columns.push_back(static_cast<uint32_t>(i));
    }
    impl->schema.push_back(ColumnSchema{p.name, p.type});
    impl->plan.push_back(std::move(p));
  }
  const size_t n = cols.size();
  impl->cells.resize(n);
  impl->found.resize(n);
  impl->found_el.resize(n);
  impl->found_node.resize(n);
  impl->json_scratch.resize(n);
  impl->node_seen.assign(impl->nodes.size(), 0);
  return std::unique_ptr<Projector>(new Projector(std::move(impl)));
}

Status Projector::SetCsvHeader(std::string_view header_record) {
  Impl& m = *impl_;
  if (!m.csv || !m.csv_header) {
    return Status::Invalid("SetCsvHeader: the dataset is not csv with a header row");
  }
  std::string reason;
  if (!m.SplitCsv(header_record, &reason)) return Status::Invalid("csv header: " + reason);
  if (!m.fields.empty() && m.fields[0].starts_with("\xEF\xBB\xBF")) {
    m.fields[0].remove_prefix(3);  // UTF-8 byte order mark written by spreadsheet exports
  }
  for (uint32_t ci : m.path_columns) {
    ColumnPlan& c = m.plan[ci];
    c.csv_field = -1;
    for (size_t f = 0; f < m.fields.size(); ++f) {
      if (m.fields[f] == c.path) {
        c.csv_field = static_cast<int>(f);
        break;
      }
    }
    if (c.csv_field < 0 && c.required) {
      m.header_set = false;
      return Status::Invalid("csv header has no field '" + c.path + "' for required column '" +
                             c.name + "'");
    }
  }
  m.header_set = true;
  return Status::OK();
}

size_t Projector::Process(std::span<const RecordView> records, ColumnBatch& out,
                          std::vector<RecordIssue>& skips, std::vector<RecordIssue>& errors) {
  Impl& m = *impl_;
  if (out.columns.size() != m.schema.size()) {
    // A caller bug; still account for every record rather than write misaligned rows.
    for (size_t i = 0; i < records.size(); ++i) {
      errors.push_back(RecordIssue{i, "internal error: output batch does not match the schema"});
    }
    return 0;
  }
  if (m.document) {
    // A caller bug: these parsers' records go through sdk::Parser and ProjectDocument().
    for (size_t i = 0; i < records.size(); ++i) {
      errors.push_back(RecordIssue{i, "internal error: parser '" + m.parser_name +
                                          "' builds documents; project them with "
                                          "ProjectDocument()"});
    }
    return 0;
  }
  size_t docs = 0;
  std::string reason;
  for (size_t i = 0; i < records.size(); ++i) {
    const RecordView& r = records[i];
    if (r.problem != nullptr) {  // a delimiting problem (multiline: lines before the first record)
      errors.push_back(RecordIssue{i, r.problem});
      continue;
    }
    if (r.oversize) {
      errors.push_back(RecordIssue{
          i, "record longer than max_record_bytes (" + std::to_string(m.max_record_bytes) + ")"});
      continue;
    }
    std::string_view b = r.bytes;
    // A UTF-8 byte order mark at the start of a jsonl file is not JSON; drop it.
    if (!m.csv && r.offset == 0 && b.starts_with("\xEF\xBB\xBF")) b.remove_prefix(3);
    const bool blank = m.csv ? b.empty() : std::all_of(b.begin(), b.end(), IsJsonWhitespace);
    if (blank) {
      skips.push_back(RecordIssue{i, "blank line"});
      continue;
    }
    const bool ok = m.csv ? m.ProjectCsv(b, &reason) : m.ProjectJson(b, &reason);
    if (!ok) {
      errors.push_back(RecordIssue{i, std::move(reason)});
      reason.clear();
      continue;
    }
    m.AppendRow(out);
    ++docs;
  }
  return docs;
}

bool Projector::ProjectDocument(const sdk::Document& doc, ColumnBatch& out, std::string* reason) {
  Impl& m = *impl_;
  if (m.csv) {
    *reason = "internal error: ProjectDocument() on a csv projector";
    return false;
  }
  if (out.columns.size() != m.schema.size()) {
    *reason = "internal error: output batch does not match the schema";
    return false;
  }
  if (!m.ProjectDoc(doc, reason)) return false;
  m.AppendRow(out);
  return true;
}

}  // namespace weir
