// Dataset YAML loading: yaml-cpp builds the node tree, the schema tables in config_schema.h say
// which keys each map may hold, their kinds, defaults and ranges, and this file turns the tree
// into a DatasetConfig while collecting every problem it finds (one "file:line: key: reason"
// line each) instead of stopping at the first.
#include "core/config.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string_view>

#include "core/config_schema.h"
#include "core/store_url.h"
#include "core/text_util.h"

namespace weir {
namespace {

namespace fs = std::filesystem;

std::string JoinKey(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return parent + "." + std::string(key);
}

int LineOf(const YAML::Node& n, int fallback) {
  const YAML::Mark m = n.Mark();
  return m.line >= 0 ? m.line + 1 : fallback;
}

std::string Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "'" + n.Scalar() + "'";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Undefined:
      return "nothing";
  }
  return "?";
}

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), IsNameChar);
}

bool IsDatasetName(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsNameChar(c) || c == '.' || c == '-'; });
}

std::string FormatDouble(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// Parses "16MiB", "512 KiB", "100MB", "1.5GiB", "1048576" into bytes.
std::optional<uint64_t> ParseSize(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  size_t i = 0;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
  if (i == 0) return std::nullopt;
  const std::string_view num = s.substr(0, i);
  std::string_view unit = s.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  std::string u;
  for (char c : unit) u += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::pair<const char*, uint64_t> kUnits[] = {{"", 1},
                                                            {"b", 1},
                                                            {"kb", 1000},
                                                            {"mb", 1000000},
                                                            {"gb", 1000000000},
                                                            {"tb", 1000000000000},
                                                            {"kib", 1ull << 10},
                                                            {"mib", 1ull << 20},
                                                            {"gib", 1ull << 30},
                                                            {"tib", 1ull << 40}};
  uint64_t mult = 0;
  for (const auto& [name, m] : kUnits) {
    if (u == name) mult = m;
  }
  if (mult == 0) return std::nullopt;
  const char* end = num.data() + num.size();
  if (num.find('.') == std::string_view::npos) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(num.data(), end, v);
    if (ec != std::errc() || p != end || v > (uint64_t{1} << 62) / mult) return std::nullopt;
    return v * mult;
  }
  double v = 0;
  auto [p, ec] = std::from_chars(num.data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  const double bytes = v * static_cast<double>(mult);
  if (!std::isfinite(bytes) || bytes >= 4.6e18 || bytes != std::floor(bytes)) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

constexpr std::pair<std::string_view, int64_t> kDurationUnits[] = {
    {"w", 7 * 86400000LL}, {"d", 86400000LL}, {"h", 3600000LL},
    {"m", 60000LL},        {"s", 1000LL},     {"ms", 1LL}};

// A map of the file after its keys were checked against its MapSpec.
struct Field {
  std::string key;
  YAML::Node value;
  int key_line = 0;
  int line = 0;  // line of the value (the key's line when the value has no mark)
};

struct MapView {
  const MapSpec* spec = nullptr;
  std::string path;  // "read", "write.columns.id", "" for the document
  int line = 0;      // line of the key that introduces the map (1 for the document)
  std::vector<Field> fields;

  // The field, when present with a non-null value.
  const Field* Get(std::string_view key) const {
    for (const auto& f : fields) {
      if (f.key == key) return f.value.IsNull() ? nullptr : &f;
    }
    return nullptr;
  }
  const Field* GetEvenIfNull(std::string_view key) const {
    for (const auto& f : fields) {
      if (f.key == key) return &f;
    }
    return nullptr;
  }
};

// A value to convert: a written value or the schema default of an absent key.
struct Value {
  YAML::Node node;
  int line = 0;
  std::string key;  // full key path, for messages
  const KeySpec* spec = nullptr;
};

struct ColumnInfo {
  const ColumnConfig* column = nullptr;
  int path_line = 0;
  int from_line = 0;
};

// Converts one dataset document, collecting problems. Owns nothing beyond its problem list;
// used by one thread for one document.
class Loader {
 public:
  Loader(std::string label, fs::path dir) : label_(std::move(label)), dir_(std::move(dir)) {}

  void Error(int line, const std::string& key, const std::string& reason) {
    std::string msg = label_ + ":" + std::to_string(line) + ": ";
    if (!key.empty()) msg += key + ": ";
    msg += reason;
    problems_.push_back({line, std::move(msg)});
  }

  Status ToStatus() {
    std::stable_sort(problems_.begin(), problems_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string msg;
    for (const auto& p : problems_) {
      if (!msg.empty()) msg += "\n";
      msg += p.second;
    }
    return Status::Invalid(msg);
  }
  bool ok() const { return problems_.empty(); }
  size_t problem_count() const { return problems_.size(); }

  // An empty view of `spec`: every lookup gives the default.
  static MapView Empty(const MapSpec& spec, std::string path, int line) {
    MapView m;
    m.spec = &spec;
    m.path = std::move(path);
    m.line = line;
    return m;
  }

  // Checks that `node` is a map whose keys `spec` allows, none twice, none required missing.
  std::optional<MapView> CheckMap(const YAML::Node& node, const MapSpec& spec,
                                  const std::string& path, int line) {
    if (!node.IsMap()) {
      Error(LineOf(node, line), path, "expected a map, got " + Describe(node));
      return std::nullopt;
    }
    MapView m = Empty(spec, path, line);
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const int key_line = LineOf(it->first, line);
      if (!it->first.IsScalar()) {
        Error(key_line, path, "a key must be a plain string, got " + Describe(it->first));
        continue;
      }
      const std::string key = it->first.Scalar();
      const std::string full = JoinKey(path, key);
      if (!seen.insert(key).second) {
        Error(key_line, full, "duplicate key");
        continue;
      }
      if (spec.Find(key) == nullptr) {
        Error(key_line, full, "unknown key" + DidYouMean(key, spec.KeyNames()));
        continue;
      }
      m.fields.push_back(Field{key, it->second, key_line, LineOf(it->second, key_line)});
    }
    for (const auto& k : spec.keys) {
      if (!k.required) continue;
      const Field* f = m.GetEvenIfNull(k.name);
      if (f == nullptr) {
        Error(line, JoinKey(path, k.name), "missing required key");
      } else if (f->value.IsNull()) {
        Error(f->key_line, JoinKey(path, k.name), "missing value");
      }
    }
    return m;
  }

  // The written value of `key`, else its default, else nullopt.
  std::optional<Value> Lookup(const MapView& m, std::string_view key) {
    const KeySpec* spec = m.spec->Find(key);
    if (spec == nullptr) {
      Error(m.line, JoinKey(m.path, key), "internal error: key not in schema");
      return std::nullopt;
    }
    if (const Field* f = m.Get(key)) return Value{f->value, f->line, JoinKey(m.path, key), spec};
    if (spec->default_value.empty()) return std::nullopt;
    return Value{YAML::Load(std::string(spec->default_value)), m.line, JoinKey(m.path, key), spec};
  }

  std::optional<std::string> Scalar(const Value& v, const char* expected) {
    if (!v.node.IsScalar()) {
      Error(v.line, v.key, std::string("expected ") + expected + ", got " + Describe(v.node));
      return std::nullopt;
    }
    return v.node.Scalar();
  }

  std::optional<std::string> String(const MapView& m, std::string_view key) {
    auto v = Lookup(m, key);
    if (!v) return std::nullopt;
    auto s = Scalar(*v, "a string");
    if (s && s->empty()) {
      Error(v->line, v->key, "must not be empty");
      return std::nullopt;
    }
    return s;
  }

  std::optional<std::string> Name(const MapView& m, std::string_view key) {
    auto v = Lookup(m, key);
    if (!v) return std::nullopt;
    auto s = Scalar(*v, "a name");
    if (s && !IsDatasetName(*s)) {
      Error(v->line, v->key,
            "'" + *s + "' is not a valid name; use letters, digits, '_', '.' and '-'");
      return std::nullopt;
    }
    return s;
  }

  std::optional<std::string> Identifier(const MapView& m, std::string_view key) {
    auto v = Lookup(m, key);
    if (!v) return std::nullopt;
    auto s = Scalar(*v, "a name");
    if (s && !IsIdentifier(*s)) {
      Error(v->line, v->key,
            "'" + *s +
                "' is not a valid name; expected letters, digits and '_', not starting "
                "with a digit");
      return std::nullopt;
    }
    return s;
  }

  std::string Resolve(const std::string& p) const {
    if (p.rfind("s3://", 0) == 0) return p;  // object storage: not relative to this file
    fs::path path(p);
    if (path.is_relative()) path = dir_ / path;
    return path.lexically_normal().string();
  }

  std::optional<std::string> Path(const MapView& m, std::string_view key) {
    auto v = Lookup(m, key);
    if (!v) return std::nullopt;
    auto s = Scalar(*v, "a path");
    if (!s) return std::nullopt;
    if (s->empty()) {
      Error(v->line, v->key, "must not be empty");
      return std::nullopt;
    }
    return Resolve(*s);
  }

  std::optional<std::string> EnumValue(const Value& v) {
    // `on_invalid: null` is a YAML null; only a default can bring one here.
    std::string s;
    if (v.node.IsNull()) {
      s = "null";
    } else {
      auto sc = Scalar(v, "a string");
      if (!sc) return std::nullopt;
      s = *sc;
    }
    const auto& choices = v.spec->choices;
    if (std::find(choices.begin(), choices.end(), s) != choices.end()) return s;
    const std::string noun =
        v.spec->noun.empty() ? std::string("valid value") : std::string(v.spec->noun);
    Error(v.line, v.key,
          "'" + s + "' is not a " + noun + "; expected one of " + JoinNames(v.spec->ChoiceNames()) +
              DidYouMean(s, v.spec->ChoiceNames()));
    return std::nullopt;
  }

  std::optional<std::string> Enum(const MapView& m, std::string_view key) {
    auto v = Lookup(m, key);
    if (!v) return std::nullopt;
    return EnumValue(*v);
  }

  std::optional<bool> Bool(const MapView& m, std::string_view key) {
    auto v = Lookup(m, key);
    if (!v) return std::nullopt;
    auto s = Scalar(*v, "true or false");
    if (!s) return std::nullopt;
    if (*s == "true" || *s == "True" || *s == "TRUE") return true;
    if (*s == "false" || *s == "False" || *s == "FALSE") return false;
    Error(v->line, v->key, "'" + *s + "' is not a bool; expected true or false");
    return std::nullopt;
  }

  std::string RangeText(const KeySpec& k, const char* what) {
    std::string out = std::string("expected ") + what;
    if (k.min && k.max) {
      out += " from " + FormatDouble(*k.min) + " to " + FormatDouble(*k.max);
    } else if (k.min) {
      out += (k.min_exclusive ? " greater than " : " of at least ") + FormatDouble(*k.min);
    } else if (k.max) {
      out += " of at most " + FormatDouble(*k.max);
    }
    return out;
  }

  bool InRange(const KeySpec& k, double v) {
    if (k.min && (k.min_exclusive ? v <= *k.min : v < *k.min)) return false;
    if (k.max && v > *k.max) return false;
    return true;
  }

  std::optional<int64_t> Int(const MapView& m, std::string_view key) {
    auto v = Lookup(m, key);
    if (!v) return std::nullopt;
    auto s = Scalar(*v, "an integer");
    if (!s) return std::nullopt;
    int64_t out = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), out);
    if (s->empty() || ec != std::errc() || p != s->data() + s->size()) {
      Error(v->line, v->key, "'" + *s + "' is not an integer");
      return std::nullopt;
    }
    if (!InRange(*v->spec, static_cast<double>(out))) {
      Error(v->line, v->key, *s + " is out of range; " + RangeText(*v->spec, "an integer"));
      return std::nullopt;
    }
    return out;
  }

  std::optional<double> Number(const MapView& m, std::string_view key) {
    auto v = Lookup(m, key);
    if (!v) return std::nullopt;
    auto s = Scalar(*v, "a number");
    if (!s) return std::nullopt;
    double out = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), out);
    if (s->empty() || ec != std::errc() || p != s->data() + s->size() || !std::isfinite(out)) {
      Error(v->line, v->key, "'" + *s + "' is not a number");
      return std::nullopt;
    }
    if (!InRange(*v->spec, out)) {
      Error(v->line, v->key, *s + " is out of range; " + RangeText(*v->spec, "a number"));
      return std::nullopt;
    }
    return out;
  }

  std::optional<uint64_t> Size(const MapView& m, std::string_view key) {
    auto v = Lookup(m, key);
    if (!v) return std::nullopt;
    auto s = Scalar(*v, "a size");
    if (!s) return std::nullopt;
    auto out = ParseSize(*s);
    if (!out) {
      Error(v->line, v->key,
            "'" + *s +
                "' is not a size; expected a byte count or a number with a unit (B, KB, "
                "MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 16MiB");
      return std::nullopt;
    }
    if (*out == 0) {
      Error(v->line, v->key, "must be greater than 0");
      return std::nullopt;
    }
    return out;
  }

  std::optional<int64_t> Duration(const MapView& m, std::string_view key,
                                  bool allow_zero = false) {
    auto v = Lookup(m, key);
    if (!v) return std::nullopt;
    auto s = Scalar(*v, "a duration");
    if (!s) return std::nullopt;
    auto out = ParseDurationMs(*s);
    if (!out) {
      Error(v->line, v->key,
            "'" + *s + "' is not a duration; expected a whole number with a unit (ms, s, m, h, d, w), "
                      "e.g. 30s or 7d");
      return std::nullopt;
    }
    if (*out == 0 && !allow_zero) {
      Error(v->line, v->key, "must be greater than 0");
      return std::nullopt;
    }
    return out;
  }

  std::optional<char> Char(const MapView& m, std::string_view key) {
    auto v = Lookup(m, key);
    if (!v) return std::nullopt;
    auto s = Scalar(*v, "one character");
    if (!s) return std::nullopt;
    if (*s == "\\t") return '\t';
    if (s->size() != 1) {
      Error(v->line, v->key, "'" + *s + "' is not one character (write a tab as \"\\t\")");
      return std::nullopt;
    }
    return (*s)[0];
  }

  // The sequence at `key`, or nullopt (absent, or not a list: reported).
  std::optional<YAML::Node> List(const MapView& m, std::string_view key, int* line,
                                 std::string* full_key, const char* what) {
    const Field* f = m.Get(key);
    if (f == nullptr) return std::nullopt;
    *line = f->line;
    *full_key = JoinKey(m.path, key);
    if (!f->value.IsSequence()) {
      Error(f->line, *full_key,
            std::string("expected a list of ") + what + ", got " + Describe(f->value));
      return std::nullopt;
    }
    return f->value;
  }

  const fs::path& dir() const { return dir_; }

 private:
  std::string label_;
  fs::path dir_;
  std::vector<std::pair<int, std::string>> problems_;
};

// Parser options are schema-free YAML handed over as JSON. YAML scalars are untyped, so plain
// scalars that read as booleans, integers or numbers become JSON booleans and numbers; quoted
// scalars stay strings.
std::string YamlToJson(const YAML::Node& n) {
  std::string out;
  auto str = [&](const std::string& v) {
    out.push_back('"');
    for (unsigned char c : v) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    out.push_back('"');
  };
  if (n.IsMap()) {
    out.push_back('{');
    bool first = true;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!first) out.push_back(',');
      first = false;
      str(it->first.Scalar());
      out.push_back(':');
      out += YamlToJson(it->second);
    }
    out.push_back('}');
  } else if (n.IsSequence()) {
    out.push_back('[');
    for (size_t i = 0; i < n.size(); ++i) {
      if (i) out.push_back(',');
      out += YamlToJson(n[i]);
    }
    out.push_back(']');
  } else if (n.IsNull()) {
    out += "null";
  } else {
    const std::string& v = n.Scalar();
    bool plain = n.Tag() != "!";  // quoted scalars carry the "!" tag in yaml-cpp
    char* end = nullptr;
    if (plain && (v == "true" || v == "false")) {
      out += v;
    } else if (plain && !v.empty() && (std::strtod(v.c_str(), &end), end && *end == '\0') &&
               v.find_first_not_of("0123456789+-.eE") == std::string::npos) {
      out += v;
    } else {
      str(v);
    }
  }
  return out;
}

// The start regex compiles with RE2 (the engine's multiline splitter compiles it the same way).
Status ValidateStartRegexSyntax(const std::string& regex) {
  RE2::Options o;
  o.set_log_errors(false);
  RE2 re(regex, o);
  if (re.ok()) return Status::OK();
  return Status::Invalid("'" + regex + "' is not a valid RE2 regex: " + re.error() +
                         "; RE2 has no look-around or backreferences, and in YAML single quotes "
                         "keep backslashes as written, e.g. start: '^\\d{4}-\\d{2}-\\d{2} '");
}

// read.multiline: a start regex that must compile, max_lines >= 1, and a parser whose records
// are lines (csv has its own multi-line rule, warc its own framing; plugins are checked when
// they are loaded, as only then is their record format known).
void ParseMultiline(Loader& L, const Field& f, const std::optional<std::string>& parser,
                    ReadConfig* out) {
  auto m = L.CheckMap(f.value, DatasetMapSpec("read.multiline"), "read.multiline", f.key_line);
  if (!m) return;
  MultilineConfig ml;
  ml.line = f.key_line;
  bool ok = true;
  if (auto v = L.String(*m, "start")) {
    ml.start = *v;
    const Status st = ValidateStartRegexSyntax(ml.start);
    if (!st.ok()) {
      L.Error(m->Get("start")->line, "read.multiline.start", st.message());
      ok = false;
    }
  } else {
    ok = false;
  }
  if (auto v = L.Int(*m, "max_lines")) ml.max_lines = static_cast<uint32_t>(*v);
  if (parser && (*parser == "csv" || *parser == "warc")) {
    L.Error(f.key_line, "read.multiline",
            "not allowed with parser '" + *parser + "': " +
                (*parser == "csv" ? std::string("csv records already span lines inside quoted "
                                                "fields (RFC 4180); remove read.multiline")
                                  : std::string("warc records are framed by Content-Length; "
                                                "remove read.multiline")) +
                "; multiline works with jsonl, lines, regex and line-based plugin parsers");
    ok = false;
  }
  if (ok) out->multiline = ml;
}

// A secret written as "${NAME}" is the environment variable NAME, so it stays out of the file;
// anything else is taken as written.
std::string FromEnvironment(Loader& L, int line, const std::string& key, const std::string& value,
                            const std::string& otherwise) {
  if (value.size() <= 3 || value.rfind("${", 0) != 0 || value.back() != '}') return value;
  const std::string var = value.substr(2, value.size() - 3);
  const char* env = std::getenv(var.c_str());
  if (env == nullptr || *env == '\0') {
    L.Error(line, key,
            "environment variable " + var + " is not set (or empty); export it, or " + otherwise);
    return "";
  }
  return env;
}

// "host:port" with a port of 0-65535 (read.listen, stream.metrics_listen). The host is checked
// when the server binds.
bool IsHostPort(const std::string& v) {
  const size_t colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  int port = -1;
  const char* first = v.data() + colon + 1;
  const char* last = v.data() + v.size();
  auto [end, ec] = std::from_chars(first, last, port);
  return ec == std::errc() && end == last && first != last && port >= 0 && port <= 65535;
}

// read.connector http: the collector's keys (and the file keys it has no use for).
void ParseHttpSource(Loader& L, const MapView& m, ReadConfig* out) {
  for (const char* key : {"location", "manifest", "multiline", "csv"}) {
    if (const Field* f = m.Get(key)) {
      L.Error(f->key_line, std::string("read.") + key,
              "only for read.connector files; the http collector receives its records in POST "
              "requests; remove it");
    }
  }
  if (const Field* f = m.Get("listen")) {
    if (auto v = L.String(m, "listen")) {
      if (!IsHostPort(*v)) {
        L.Error(f->line, "read.listen",
                "'" + *v + "' is not host:port; e.g. 127.0.0.1:8080 (0.0.0.0:8080 listens on "
                "every interface; port 0 picks a free port)");
      } else {
        out->listen = *v;
      }
    }
  } else {
    L.Error(m.line, "read.listen",
            "missing required key for read.connector http: the address to listen on, e.g. "
            "listen: 127.0.0.1:8080");
  }
  if (auto v = L.String(m, "path")) {
    if (v->empty() || v->front() != '/') {
      L.Error(m.Get("path")->line, "read.path", "'" + *v + "' must start with /, e.g. /v1/events");
    } else {
      out->http_path = *v;
    }
  }
  if (auto v = L.String(m, "token")) {
    out->token = FromEnvironment(L, m.Get("token")->line, "read.token", *v,
                                 "remove read.token to accept requests without a token");
  }
  if (auto v = L.Int(m, "max_body_mb")) out->max_body_bytes = static_cast<uint64_t>(*v) << 20;
  if (auto v = L.Int(m, "max_backlog_mb")) out->max_backlog_bytes = static_cast<uint64_t>(*v) << 20;
}

// librdkafka settings passed through (read.options, rules.output.options): scalars, where
// `${NAME}` is the environment variable NAME.
std::map<std::string, std::string> KafkaSettings(Loader& L, const Field& f, const std::string& key) {
  std::map<std::string, std::string> out;
  if (!f.value.IsMap()) return out;
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    const std::string name = it->first.as<std::string>();
    if (!it->second.IsScalar()) {
      L.Error(LineOf(it->second, f.line), key + "." + name,
              "expected a scalar librdkafka setting, got " + Describe(it->second));
      continue;
    }
    out[name] = FromEnvironment(L, LineOf(it->second, f.line), key + "." + name,
                                it->second.Scalar(), "write the value in the file");
  }
  return out;
}

// read.connector kafka: the consumer's keys; read.options are librdkafka settings.
void ParseKafkaSource(Loader& L, const MapView& m, ReadConfig* out) {
  for (const char* key : {"location", "manifest", "multiline", "csv"}) {
    if (const Field* f = m.Get(key)) {
      L.Error(f->key_line, std::string("read.") + key,
              "only for read.connector files; a kafka source reads one record per message; "
              "remove it");
    }
  }
  for (const char* key : {"listen", "path", "token", "max_body_mb", "max_backlog_mb"}) {
    if (const Field* f = m.Get(key)) {
      L.Error(f->key_line, std::string("read.") + key,
              "only for read.connector http (connector is kafka); remove it");
    }
  }
  for (const char* key : {"brokers", "group"}) {
    if (!m.Get(key)) {
      L.Error(m.line, std::string("read.") + key,
              std::string("missing required key for read.connector kafka: ") +
                  (std::string(key) == "brokers" ? "the bootstrap servers, e.g. brokers: 127.0.0.1:9092"
                                                 : "the consumer group, e.g. group: weir-clicks"));
    }
  }
  if (auto v = L.String(m, "brokers")) out->brokers = *v;
  if (auto v = L.String(m, "group")) out->group = *v;
  if (auto v = L.Enum(m, "start")) out->start = *v;
  int line = 0;
  std::string key;
  if (!m.Get("topics")) {
    L.Error(m.line, "read.topics",
            "missing required key for read.connector kafka: the topics to read, e.g. topics: [events]");
  } else if (auto list = L.List(m, "topics", &line, &key, "topic names")) {
    for (const auto& item : *list) {
      if (!item.IsScalar() || item.Scalar().empty()) {
        L.Error(LineOf(item, line), key, "expected a topic name, got " + Describe(item));
        continue;
      }
      out->topics.push_back(item.Scalar());
    }
    if (out->topics.empty()) L.Error(line, key, "lists no topic; name at least one");
  }
  if (const Field* f = m.Get("options")) out->kafka_settings = KafkaSettings(L, *f, "read.options");
}

void ParseRead(Loader& L, const MapView& m, ReadConfig* out, std::optional<std::string>* parser) {
  if (auto v = L.Enum(m, "connector")) out->connector = *v;
  if (out->connector != "kafka") {
    for (const char* key : {"brokers", "topics", "group", "start", "parser_options"}) {
      if (const Field* f = m.Get(key)) {
        L.Error(f->key_line, std::string("read.") + key,
                "only for read.connector kafka (connector is " + out->connector + "); remove it");
      }
    }
  }
  if (out->connector == "kafka") ParseKafkaSource(L, m, out);
  const Field* listing = m.Get("manifest");
  if (listing != nullptr && !listing->value.IsMap()) listing = nullptr;
  if (out->connector == "files") {
    for (const char* key : {"location", "manifest"}) {
      // A listing names the location itself.
      if (listing != nullptr && std::string_view(key) == "location") continue;
      if (!m.Get(key)) L.Error(m.line, std::string("read.") + key, "missing required key");
    }
    for (const char* key : {"listen", "path", "token", "max_body_mb", "max_backlog_mb"}) {
      if (const Field* f = m.Get(key)) {
        L.Error(f->key_line, std::string("read.") + key,
                "only for read.connector http (connector is files); remove it, or set "
                "connector: http for a stream dataset");
      }
    }
  } else if (out->connector == "http") {
    ParseHttpSource(L, m, out);
  }
  if (auto v = L.Path(m, "location")) out->location = *v;
  if (listing != nullptr) {
    if (auto lm = L.CheckMap(listing->value, DatasetMapSpec("read.manifest"), "read.manifest",
                             listing->key_line)) {
      if (auto v = L.Path(*lm, "list")) {
        auto bare = [](std::string p) {
          while (p.size() > 1 && p.back() == '/' && p != "s3://") p.pop_back();
          return p;
        };
        out->manifest_list = bare(*v);
        if (out->location.empty()) {
          out->location = out->manifest_list;
        } else if (bare(out->location) != out->manifest_list) {
          L.Error(lm->Get("list")->line, "read.manifest.list",
                  "'" + out->manifest_list + "' is not read.location ('" + out->location +
                      "'); the listed files are read relative to it: remove read.location or "
                      "make the two the same");
        }
      }
      if (auto v = L.String(*lm, "glob")) out->manifest_glob = *v;
    }
  } else if (auto v = L.Path(m, "manifest")) {
    out->manifest = *v;
  }
  *parser = L.String(m, "parser");
  if (const Field* f = m.Get("parser")) out->parser_line = f->line;
  if (*parser) {
    static const std::vector<std::string> kParsers = {"jsonl", "csv", "lines", "regex", "warc"};
    const std::string& p = **parser;
    bool plugin = p.rfind("plugin:", 0) == 0;
    if (plugin && p.size() == 7) {
      L.Error(m.Get("parser")->line, "read.parser",
              "'plugin:' needs the parser's name, e.g. plugin:logfile");
      parser->reset();
    } else if (!plugin && std::find(kParsers.begin(), kParsers.end(), p) == kParsers.end()) {
      L.Error(m.Get("parser")->line, "read.parser",
              "'" + p + "' is not a parser; expected one of " + JoinNames(kParsers) +
                  " or plugin:NAME" + DidYouMean(p, kParsers));
      parser->reset();
    } else {
      out->parser = p;
      if (out->connector == "kafka" && (p == "csv" || p == "warc")) {
        L.Error(m.Get("parser")->line, "read.parser",
                "'" + p + "' reads files, not messages; a kafka source needs a parser that reads "
                "one record per message: jsonl, lines, regex or plugin:NAME");
      }
      if (out->connector == "http" && p != "jsonl") {
        L.Error(m.Get("parser")->line, "read.parser",
                "'" + p + "' cannot read what the http collector receives (JSON lines or a JSON "
                "array of objects, one record each); use parser: jsonl");
      }
    }
  }
  // For kafka, read.options are librdkafka settings (ParseKafkaSource) and the parser's
  // options are read.parser_options.
  if (const Field* f = m.Get(out->connector == "kafka" ? "parser_options" : "options")) {
    out->options_line = f->key_line;
    if (!f->value.IsMap()) {
      L.Error(f->line, "read.options", "expected a map of parser options, got " + Describe(f->value));
    } else {
      out->options_json = YamlToJson(f->value);
    }
  }
  const MapSpec& csv_spec = DatasetMapSpec("read.csv");
  std::optional<MapView> csv;
  if (const Field* f = m.Get("csv")) {
    if (*parser && **parser != "csv") {
      L.Error(f->key_line, "read.csv",
              "only allowed when read.parser is csv (parser is '" + **parser + "')");
    } else {
      csv = L.CheckMap(f->value, csv_spec, "read.csv", f->key_line);
    }
  } else {
    csv = Loader::Empty(csv_spec, "read.csv", m.line);
  }
  if (csv) {
    if (auto v = L.Char(*csv, "delimiter")) out->csv_delimiter = *v;
    if (auto v = L.Char(*csv, "quote")) out->csv_quote = *v;
    if (auto v = L.Bool(*csv, "header")) out->csv_header = *v;
  }
  if (auto v = L.Size(m, "max_record_bytes")) out->max_record_bytes = *v;
  if (const Field* f = m.Get("multiline")) ParseMultiline(L, *f, *parser, out);
}

void CheckPath(Loader& L, const std::optional<std::string>& parser, const ColumnConfig& c,
               int line) {
  const std::string key = "write.columns." + c.name + ".path";
  if (!parser) return;           // the parser error is reported already
  if (*parser == "csv") return;  // a header name: any non-empty string
  const std::string& p = c.path;
  if (p.empty() || p[0] != '/') {
    std::string guess = "/" + p;
    std::replace(guess.begin(), guess.end(), '.', '/');
    L.Error(line, key,
            "'" + p + "' is not a JSON pointer; it must start with '/' (did you mean '" + guess +
                "'?)");
    return;
  }
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '~' && (i + 1 == p.size() || (p[i + 1] != '0' && p[i + 1] != '1'))) {
      L.Error(line, key,
              "'" + p +
                  "' is not a valid JSON pointer: '~' must be followed by 0 or 1 "
                  "(RFC 6901: '~0' is '~', '~1' is '/')");
      return;
    }
  }
}

// One column definition; nullopt (with the problem reported) when it is unusable.
std::optional<ColumnConfig> ParseColumn(Loader& L, const YAML::Node& node, const MapSpec& spec,
                                        const std::optional<std::string>& parser,
                                        const std::string& name, int key_line, ColumnInfo* ci) {
  const std::string ckey = "write.columns." + name;
  if (!IsIdentifier(name)) {
    L.Error(key_line, ckey,
            "'" + name +
                "' is not a valid column name; expected letters, digits and '_', not "
                "starting with a digit");
    return std::nullopt;
  }
  auto m = L.CheckMap(node, spec, ckey, key_line);
  if (!m) return std::nullopt;
  const Field* path = m->Get("path");
  const Field* date_of = m->Get("date_of");
  const Field* hour_of = m->Get("hour_of");
  const int sources = (path ? 1 : 0) + (date_of ? 1 : 0) + (hour_of ? 1 : 0);
  if (sources != 1) {
    L.Error(key_line, ckey,
            sources == 0 ? "missing required key: one of path, date_of, hour_of"
                         : "give exactly one of path, date_of, hour_of");
    return std::nullopt;
  }
  ColumnConfig c;
  c.name = name;
  c.line = key_line;
  if (path) {
    c.source = ColumnSource::kPath;
    auto p = L.String(*m, "path");
    if (!p) return std::nullopt;
    c.path = *p;
    ci->path_line = path->line;
    if (auto t = L.Enum(*m, "type")) {
      if (*t == "timestamp") {
        c.type = ColumnType::kTimestampMs;
        c.iso8601 = true;
      } else {
        c.type = *ParseColumnTypeName(*t);
      }
    }
    if (auto r = L.Bool(*m, "required")) c.required = *r;
    CheckPath(L, parser, c, ci->path_line);
    return c;
  }
  const bool is_date = date_of != nullptr;
  const char* op = is_date ? "date_of" : "hour_of";
  c.source = is_date ? ColumnSource::kDateOf : ColumnSource::kHourOf;
  c.type = is_date ? ColumnType::kDate : ColumnType::kInt64;
  auto from = L.Identifier(*m, op);
  if (!from) return std::nullopt;
  c.from = *from;
  ci->from_line = (is_date ? date_of : hour_of)->line;
  if (const Field* r = m->Get("required")) {
    L.Error(r->key_line, ckey + ".required",
            std::string("not allowed on a derived column (") + op + ")");
  }
  if (const Field* t = m->Get("type")) {
    const char* want = is_date ? "date" : "int64";
    if (!t->value.IsScalar() || t->value.Scalar() != want) {
      L.Error(t->line, ckey + ".type",
              Describe(t->value) + " does not match " + op + ", which gives " + want);
    }
  }
  return c;
}

// The columns of the lake table. A column whose definition has a problem goes into `broken`
// (not into `out`), so that checks naming it (partition_by, date_of, geo) stay quiet about it.
// Returns false when the columns map itself is unusable.
bool ParseColumns(Loader& L, const Field& f, const std::optional<std::string>& parser,
                  std::vector<ColumnConfig>* out, std::map<std::string, ColumnInfo>* info,
                  std::set<std::string>* broken) {
  const std::string key = "write.columns";
  if (!f.value.IsMap()) {
    L.Error(f.line, key, "expected a map of column name to column, got " + Describe(f.value));
    return false;
  }
  if (f.value.size() == 0) {
    L.Error(f.line, key, "declare at least one column");
    return false;
  }
  const MapSpec& spec = DatasetMapSpec("write.columns.<name>");
  std::set<std::string> names;
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    const int key_line = LineOf(it->first, f.line);
    if (!it->first.IsScalar()) {
      L.Error(key_line, key, "a column name must be a plain string, got " + Describe(it->first));
      continue;
    }
    const std::string name = it->first.Scalar();
    const std::string ckey = key + "." + name;
    if (!names.insert(name).second) {
      L.Error(key_line, ckey, "duplicate column");
      continue;
    }
    const size_t errors_before = L.problem_count();
    ColumnInfo ci;
    std::optional<ColumnConfig> c = ParseColumn(L, it->second, spec, parser, name, key_line, &ci);
    if (!c || L.problem_count() != errors_before) {
      broken->insert(name);
      continue;
    }
    out->push_back(std::move(*c));
    (*info)[name] = ci;
  }
  // Pointers into `out` are stable from here on.
  for (auto& c : *out) (*info)[c.name].column = &c;
  return true;
}

std::vector<std::string> ColumnNames(const std::vector<ColumnConfig>& cols) {
  std::vector<std::string> names;
  for (const auto& c : cols) names.push_back(c.name);
  return names;
}

std::string TypeSpelling(const ColumnConfig& c) {
  if (c.type == ColumnType::kTimestampMs && c.iso8601) return "timestamp";
  return ColumnTypeName(c.type);
}

void CheckDerived(Loader& L, const std::vector<ColumnConfig>& cols,
                  const std::map<std::string, ColumnInfo>& info,
                  const std::set<std::string>& broken) {
  for (const auto& c : cols) {
    if (c.source == ColumnSource::kPath) continue;
    const char* op = c.source == ColumnSource::kDateOf ? "date_of" : "hour_of";
    const std::string key = "write.columns." + c.name + "." + op;
    const int line = info.at(c.name).from_line;
    if (broken.count(c.from) != 0) continue;  // its own problem is reported already
    auto it = info.find(c.from);
    if (it == info.end() || it->second.column == nullptr) {
      L.Error(line, key, "unknown column '" + c.from + "'" + DidYouMean(c.from, ColumnNames(cols)));
      continue;
    }
    const ColumnConfig& src = *it->second.column;
    if (src.source != ColumnSource::kPath) {
      L.Error(line, key,
              "column '" + src.name + "' is derived itself; " + op +
                  " needs a path column of type timestamp_ms or timestamp");
    } else if (src.type != ColumnType::kTimestampMs) {
      L.Error(line, key,
              "column '" + src.name + "' has type " + TypeSpelling(src) + "; " + op +
                  " needs a column of type timestamp_ms or timestamp");
    }
  }
}

// With transforms, a partition column may be one a transform adds (e.g. a geo layer's iso_a3);
// those are only known once the transform loads, so the run checks them (`deferred`).
void ParsePartitionBy(Loader& L, const MapView& m, const std::set<std::string>& broken,
                      bool has_transforms, WriteConfig* w) {
  int line = 0;
  std::string key;
  auto list = L.List(m, "partition_by", &line, &key, "column names");
  if (!list) return;
  const std::vector<std::string> names = ColumnNames(w->columns);
  std::set<std::string> seen;
  for (const auto& item : *list) {
    const int item_line = LineOf(item, line);
    if (!item.IsScalar()) {
      L.Error(item_line, key, "expected a column name, got " + Describe(item));
      continue;
    }
    const std::string name = item.Scalar();
    if (broken.count(name) != 0) continue;
    auto it = std::find_if(w->columns.begin(), w->columns.end(),
                           [&](const ColumnConfig& c) { return c.name == name; });
    if (it == w->columns.end()) {
      if (has_transforms && DidYouMean(name, names).empty()) {
        if (seen.insert(name).second) w->partition_by.push_back(name);
        continue;
      }
      L.Error(item_line, key, "unknown column '" + name + "'" + DidYouMean(name, names));
      continue;
    }
    if (it->type == ColumnType::kJson || it->type == ColumnType::kDouble) {
      L.Error(item_line, key,
              "column '" + name + "' has type " + TypeSpelling(*it) +
                  "; partition columns cannot be json or double");
      continue;
    }
    if (!seen.insert(name).second) {
      L.Error(item_line, key, "column '" + name + "' is listed twice");
      continue;
    }
    w->partition_by.push_back(name);
  }
}

// write.sort_by: declared columns (compaction orders rewritten files by them), no duplicates.
void ParseSortBy(Loader& L, const MapView& m, const std::set<std::string>& broken, WriteConfig* w) {
  int line = 0;
  std::string key;
  auto list = L.List(m, "sort_by", &line, &key, "column names");
  if (!list) return;
  const std::vector<std::string> names = ColumnNames(w->columns);
  std::set<std::string> seen;
  for (const auto& item : *list) {
    const int item_line = LineOf(item, line);
    if (!item.IsScalar()) {
      L.Error(item_line, key, "expected a column name, got " + Describe(item));
      continue;
    }
    const std::string name = item.Scalar();
    if (broken.count(name) != 0) continue;
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      L.Error(item_line, key,
              "unknown column '" + name + "'" + DidYouMean(name, names) +
                  "; sort_by names columns of write.columns");
      continue;
    }
    if (!seen.insert(name).second) {
      L.Error(item_line, key, "column '" + name + "' is listed twice");
      continue;
    }
    w->sort_by.push_back(name);
  }
}

// write.compaction and rules.output.compaction (`path`): {auto, min_files, interval}; unknown
// keys are refused by CheckMap ("did you mean"). `table_format`: the table's, which must be
// iceberg for auto.
void ParseCompaction(Loader& L, const MapView& m, const std::string& path,
                     const std::string& table_format, bool* on, int* min_files,
                     int64_t* interval_ms) {
  const Field* f = m.Get("compaction");
  if (f == nullptr) return;
  auto c = L.CheckMap(f->value, DatasetMapSpec(path), path, f->key_line);
  if (!c) return;
  if (auto v = L.Bool(*c, "auto")) *on = *v;
  if (auto v = L.Int(*c, "min_files")) *min_files = static_cast<int>(*v);
  if (auto v = L.Duration(*c, "interval")) *interval_ms = *v;
  if (*on && table_format != "iceberg") {
    L.Error(f->key_line, path + ".auto",
            "compaction rewrites Iceberg tables only, and write.table_format is '" +
                table_format + "'; remove " + path + " or use an Iceberg table");
  }
}

// write.dedup: key columns and the time column must be declared columns of suitable types.
void ParseDedup(Loader& L, const Field& f, const std::set<std::string>& broken, WriteConfig* w) {
  auto m = L.CheckMap(f.value, DatasetMapSpec("write.dedup"), "write.dedup", f.key_line);
  if (!m) return;
  DedupConfig d;
  bool ok = true;
  const std::vector<std::string> names = ColumnNames(w->columns);
  auto find = [&](const std::string& name) {
    return std::find_if(w->columns.begin(), w->columns.end(),
                        [&](const ColumnConfig& c) { return c.name == name; });
  };
  int line = 0;
  std::string key;
  if (auto list = L.List(*m, "key", &line, &key, "column names")) {
    std::set<std::string> seen;
    for (const auto& item : *list) {
      const int item_line = LineOf(item, line);
      if (!item.IsScalar()) {
        L.Error(item_line, key, "expected a column name, got " + Describe(item));
        ok = false;
        continue;
      }
      const std::string name = item.Scalar();
      if (broken.count(name) != 0) {
        ok = false;
        continue;
      }
      auto it = find(name);
      if (it == w->columns.end()) {
        L.Error(item_line, key, "unknown column '" + name + "'" + DidYouMean(name, names));
        ok = false;
      } else if (it->type == ColumnType::kJson || it->type == ColumnType::kDouble) {
        L.Error(item_line, key,
                "column '" + name + "' has type " + TypeSpelling(*it) +
                    "; key columns cannot be json or double (compare them as text or integers)");
        ok = false;
      } else if (!seen.insert(name).second) {
        L.Error(item_line, key, "column '" + name + "' is listed twice");
        ok = false;
      } else {
        d.key.push_back(name);
      }
    }
    if (list->size() == 0) {
      L.Error(line, key, "needs at least one column");
      ok = false;
    }
  }
  if (auto v = L.Duration(*m, "within")) d.within_ms = *v;
  if (const Field* t = m->Get("time")) {
    if (auto name = L.Identifier(*m, "time")) {
      auto it = find(*name);
      if (broken.count(*name) != 0) {
        ok = false;
      } else if (it == w->columns.end()) {
        L.Error(t->line, "write.dedup.time", "unknown column '" + *name + "'" + DidYouMean(*name, names));
        ok = false;
      } else if (it->type != ColumnType::kTimestampMs) {
        L.Error(t->line, "write.dedup.time",
                "column '" + *name + "' has type " + TypeSpelling(*it) +
                    "; expected a timestamp_ms or timestamp column");
        ok = false;
      } else {
        d.time = *name;
      }
    }
  } else {
    for (const auto& c : w->columns) {
      if (c.source == ColumnSource::kPath && c.type == ColumnType::kTimestampMs) {
        d.time = c.name;
        break;
      }
    }
  }
  if (ok) w->dedup = d;
}

// Returns whether the columns map was usable (so checks naming columns make sense).
bool ParseWrite(Loader& L, const MapView& m, const std::optional<std::string>& parser,
                bool has_transforms, WriteConfig* w, std::map<std::string, ColumnInfo>* info,
                std::set<std::string>* broken) {
  if (const Field* f = m.Get("connector")) {
    static const char* const kLater[] = {"kafka", "postgres", "postgresql", "files", "s3"};
    const std::string v = f->value.IsScalar() ? f->value.Scalar() : "";
    if (std::find(std::begin(kLater), std::end(kLater), v) != std::end(kLater)) {
      L.Error(f->line, "write.connector",
              "'" + v + "' is not supported yet; supported connectors: lake");
    } else if (auto c = L.Enum(m, "connector")) {
      w->connector = *c;
    }
  }
  if (auto v = L.Path(m, "location")) w->location = *v;
  if (auto v = L.Identifier(m, "table")) w->table = *v;
  if (w->connector == "lake") {
    for (const char* k : {"location", "table"}) {
      const Field* kf = m.GetEvenIfNull(k);
      if (kf == nullptr) {
        L.Error(m.line, std::string("write.") + k,
                "missing required key (connector lake writes a table; connector none writes "
                "nothing but the rules' output)");
      } else if (kf->value.IsNull()) {
        L.Error(kf->key_line, std::string("write.") + k, "missing value");
      }
    }
  }
  if (auto v = L.Enum(m, "format")) w->format = *v;
  // Iceberg by default for Parquet; JSON-lines files can only be a Hive-style table.
  w->table_format = w->format == "parquet" ? "iceberg" : "hive";
  if (const Field* tf = m.Get("table_format")) {
    if (auto v = L.Enum(m, "table_format")) {
      w->table_format = *v;
      if (*v == "iceberg" && w->format != "parquet") {
        L.Error(tf->line, "write.table_format",
                "Iceberg tables hold Parquet data files, but write.format is '" + w->format +
                    "'; use format: parquet, or table_format: hive for JSON-lines files");
      }
    }
  }
  if (auto v = L.Enum(m, "compression")) w->compression = *v;
  if (auto v = L.Size(m, "roll_bytes")) w->roll_bytes = *v;
  if (auto v = L.Int(m, "roll_records")) w->roll_records = static_cast<uint64_t>(*v);
  if (auto v = L.Int(m, "target_file_mb")) w->target_file_mb = static_cast<uint64_t>(*v);
  ParseCompaction(L, m, "write.compaction", w->table_format, &w->compaction_auto,
                  &w->compaction_min_files, &w->compaction_interval_ms);
  const Field* f = m.Get("columns");
  if (f == nullptr || !ParseColumns(L, *f, parser, &w->columns, info, broken)) return false;
  CheckDerived(L, w->columns, *info, *broken);
  ParsePartitionBy(L, m, *broken, has_transforms, w);
  ParseSortBy(L, m, *broken, w);
  if (const Field* d = m.Get("dedup")) ParseDedup(L, *d, *broken, w);
  return true;
}

void CheckCoordinateColumn(Loader& L, const MapView& geo, std::string_view key,
                           const std::vector<ColumnConfig>& cols,
                           const std::set<std::string>& broken) {
  const Field* f = geo.Get(key);
  if (f == nullptr || !f->value.IsScalar()) return;
  const std::string name = f->value.Scalar();
  if (broken.count(name) != 0 || !IsIdentifier(name)) return;
  const std::string full = JoinKey(geo.path, key);
  auto it =
      std::find_if(cols.begin(), cols.end(), [&](const ColumnConfig& c) { return c.name == name; });
  if (it == cols.end()) {
    L.Error(f->line, full, "unknown column '" + name + "'" + DidYouMean(name, ColumnNames(cols)));
  } else if (it->type != ColumnType::kDouble) {
    L.Error(f->line, full,
            "column '" + name + "' has type " + TypeSpelling(*it) +
                "; expected a column of type double");
  }
}

RulesCheck g_rules_check = nullptr;

// The items of the list at `key` of `m`, each checked against MapSpec `spec_path`
// (e.g. "rules.patterns[]"); with their keys for messages ("rules.patterns[2]").
std::vector<std::pair<std::string, MapView>> MapItems(Loader& L, const MapView& m,
                                                       std::string_view key,
                                                       std::string_view spec_path,
                                                       const char* what) {
  std::vector<std::pair<std::string, MapView>> out;
  int line = 0;
  std::string full;
  auto list = L.List(m, key, &line, &full, what);
  if (!list) return out;
  if (list->size() == 0) L.Error(line, full, std::string("expected at least one of ") + what);
  const MapSpec& spec = DatasetMapSpec(spec_path);
  size_t index = 0;
  for (const auto& item : *list) {
    const std::string ikey = full + "[" + std::to_string(++index) + "]";
    if (auto v = L.CheckMap(item, spec, ikey, LineOf(item, line))) out.emplace_back(ikey, *v);
  }
  return out;
}

// A map of name -> string (aggregates, emit), in the order written.
std::vector<std::tuple<std::string, std::string, int>> StringMap(Loader& L, const MapView& m,
                                                                 std::string_view key) {
  std::vector<std::tuple<std::string, std::string, int>> out;
  const Field* f = m.Get(key);
  if (f == nullptr) return out;
  const std::string full = JoinKey(m.path, key);
  if (!f->value.IsMap()) {
    L.Error(f->line, full, "expected a map of name to text, got " + Describe(f->value));
    return out;
  }
  for (auto it = f->value.begin(); it != f->value.end(); ++it) {
    const int line = LineOf(it->first, f->line);
    const std::string name = it->first.IsScalar() ? it->first.Scalar() : "";
    if (!IsIdentifier(name)) {
      L.Error(line, full, "'" + name + "' is not a valid name; expected letters, digits and '_'");
      continue;
    }
    if (!it->second.IsScalar() || it->second.Scalar().empty()) {
      L.Error(line, full + "." + name, "expected text, got " + Describe(it->second));
      continue;
    }
    out.emplace_back(name, it->second.Scalar(), line);
  }
  if (out.empty() && f->value.size() == 0) L.Error(f->line, full, "must not be empty");
  return out;
}

// rules: the shape, names and columns; the expressions through g_rules_check.
void ParseRules(Loader& L, const Field& f, const DatasetConfig& cfg,
                const std::set<std::string>& broken, std::optional<rules::RulesConfig>* out) {
  auto m = L.CheckMap(f.value, DatasetMapSpec("rules"), "rules", f.key_line);
  if (!m) return;
  const size_t problems_before = L.problem_count();
  rules::RulesConfig r;
  const std::vector<std::string> names = ColumnNames(cfg.write.columns);
  // A declared column, with `ok` types; reports the key otherwise.
  auto column = [&](const MapView& v, std::string_view key, bool time) -> std::string {
    auto name = L.Identifier(v, key);
    if (!name || broken.count(*name) != 0) return {};
    const Field* kf = v.Get(key);
    const int line = kf ? kf->line : v.line;
    auto it = std::find_if(cfg.write.columns.begin(), cfg.write.columns.end(),
                           [&](const ColumnConfig& c) { return c.name == *name; });
    if (it == cfg.write.columns.end()) {
      // A transform's output column (geo: city, country, ...) is known only when the transform
      // is built: the rules are checked against it when the dataset runs.
      if (!cfg.transforms.empty()) return *name;
      L.Error(line, JoinKey(v.path, key), "unknown column '" + *name + "'" + DidYouMean(*name, names));
      return {};
    }
    if (time && it->type != ColumnType::kTimestampMs) {
      L.Error(line, JoinKey(v.path, key),
              "column '" + *name + "' has type " + TypeSpelling(*it) +
                  "; expected a timestamp or timestamp_ms column");
      return {};
    }
    if (!time && (it->type == ColumnType::kJson || it->type == ColumnType::kDouble)) {
      L.Error(line, JoinKey(v.path, key),
              "column '" + *name + "' has type " + TypeSpelling(*it) +
                  "; a key cannot be json or double (use a string or integer column)");
      return {};
    }
    return *name;
  };
  r.event_time = column(*m, "event_time", true);
  if (auto v = L.Duration(*m, "out_of_orderness", true)) r.out_of_orderness_ms = *v;
  if (auto v = L.Duration(*m, "idle_timeout")) r.idle_timeout_ms = *v;
  if (auto v = L.Int(*m, "threads")) r.threads = static_cast<int>(*v);
  r.output.location = cfg.write.location;
  {
    const Field* of = m->Get("output");
    std::optional<MapView> o;
    if (of != nullptr) {
      o = L.CheckMap(of->value, DatasetMapSpec("rules.output"), "rules.output", of->key_line);
    } else {
      o = Loader::Empty(DatasetMapSpec("rules.output"), "rules.output", f.key_line);
    }
    if (o) {
      if (auto v = L.Enum(*o, "connector")) r.output.connector = *v;
      if (auto v = L.Path(*o, "location")) r.output.location = *v;
      if (auto v = L.Identifier(*o, "table")) r.output.table = *v;
      if (r.output.connector != "kafka") {
        ParseCompaction(L, *o, "rules.output.compaction", "iceberg", &r.output.compaction_auto,
                        &r.output.compaction_min_files, &r.output.compaction_interval_ms);
      }
    }
    if (o && r.output.connector == "kafka") {
      // The derived records go to a Kafka topic (transactions; docs/rules.md): no table.
      for (const char* key : {"location", "table", "compaction"}) {
        if (const Field* k = o->Get(key)) {
          L.Error(k->key_line, std::string("rules.output.") + key,
                  "only for output connector lake (connector is kafka); remove it");
        }
      }
      for (const char* key : {"brokers", "topic"}) {
        if (!o->Get(key)) {
          L.Error(of ? of->line : f.key_line, std::string("rules.output.") + key,
                  std::string("missing required key for output connector kafka: ") +
                      (std::string(key) == "brokers"
                           ? "the bootstrap servers, e.g. brokers: 127.0.0.1:9092"
                           : "the topic to write, e.g. topic: derived"));
        }
      }
      if (auto v = L.String(*o, "brokers")) r.output.brokers = *v;
      if (auto v = L.String(*o, "topic")) r.output.topic = *v;
      if (auto v = L.String(*o, "progress_topic")) r.output.progress_topic = *v;
      if (r.output.progress_topic.empty()) r.output.progress_topic = r.output.topic + ".weir-progress";
      if (auto v = L.String(*o, "transactional_id")) r.output.transactional_id = *v;
      if (r.output.transactional_id.empty()) r.output.transactional_id = "weir-rules-" + cfg.name;
      if (const Field* k = o->Get("options")) {
        r.output.kafka_settings = KafkaSettings(L, *k, "rules.output.options");
        for (const char* name : {"transactional.id", "bootstrap.servers", "isolation.level",
                                 "enable.idempotence", "group.id", "enable.auto.commit"}) {
          if (r.output.kafka_settings.count(name) > 0) {
            L.Error(k->line, std::string("rules.output.options.") + name,
                    "weir sets it (exactly-once output needs it); use rules.output.brokers and "
                    "rules.output.transactional_id for those, and remove it");
          }
        }
      }
      for (const char* key : {"brokers", "topic", "progress_topic", "transactional_id"}) {
        const Field* k = o->Get(key);
        if (k != nullptr && k->value.IsScalar() && k->value.Scalar().empty()) {
          L.Error(k->line, std::string("rules.output.") + key, "is empty; give a value or remove it");
        }
      }
      if (!r.output.topic.empty() && r.output.topic == r.output.progress_topic) {
        L.Error(o->Get("progress_topic")->line, "rules.output.progress_topic",
                "is the output topic; the progress markers need a topic of their own, e.g. " +
                    r.output.topic + ".weir-progress");
      }
      r.output.location.clear();
      r.output.table.clear();
    } else if (o) {
      for (const char* key : {"brokers", "topic", "progress_topic", "transactional_id", "options"}) {
        if (const Field* k = o->Get(key)) {
          L.Error(k->key_line, std::string("rules.output.") + key,
                  "only for output connector kafka (connector is " + r.output.connector +
                      "); remove it");
        }
      }
    }
    if (r.output.connector == "kafka") {
      // No table: nothing below applies.
    } else if (r.output.location.empty()) {
      L.Error(of ? of->line : f.key_line, "rules.output.location",
              "missing: write.connector is none, so there is no write.location to put the "
              "derived table beside; e.g. output: {location: lake, table: derived}");
    } else if (cfg.write.connector == "lake" && r.output.table == cfg.write.table) {
      // One store names its Iceberg tables by table name alone (default.<table>).
      L.Error(of ? of->line : f.key_line, "rules.output.table",
              "'" + r.output.table + "' is the dataset's own table; give the derived records "
              "their own, e.g. table: derived");
    }
  }
  std::set<std::string> rule_names;
  auto unique_name = [&](const MapView& v, std::string* name) {
    if (auto n = L.Identifier(v, "name")) {
      *name = *n;
      if (!rule_names.insert(*n).second) {
        L.Error(v.Get("name")->line, JoinKey(v.path, "name"),
                "'" + *n + "' is used by another pattern or segment; rule names must differ");
      }
    }
  };
  for (auto& [ikey, pv] : MapItems(L, *m, "patterns", "rules.patterns[]", "patterns")) {
    rules::PatternConfig p;
    p.line = pv.line;
    unique_name(pv, &p.name);
    p.key = column(pv, "key", false);
    std::set<std::string> aliases;
    size_t step_index = 0;
    for (auto& [skey, sv] :
         MapItems(L, pv, "sequence", "rules.patterns[].sequence[]", "steps")) {
      rules::StepConfig st;
      st.line = sv.line;
      if (auto a = L.Identifier(sv, "as")) {
        st.as = *a;
        if (!aliases.insert(*a).second) {
          L.Error(sv.Get("as")->line, skey + ".as", "'" + *a + "' names another step too");
        }
      }
      if (auto w = L.String(sv, "where")) st.where = *w;
      if (auto w = L.Duration(sv, "within")) st.within_ms = *w;
      if (step_index == 0 && sv.Get("within") != nullptr) {
        L.Error(sv.Get("within")->line, skey + ".within",
                "the first step has no within (within counts from the first step); remove it");
      } else if (step_index > 0 && sv.Get("within") == nullptr) {
        L.Error(sv.line, skey + ".within",
                "missing: every step after the first needs within (how long after the first "
                "step it may come), e.g. within: 48h");
      } else if (step_index > 1 && !p.sequence.empty() &&
                 st.within_ms < p.sequence.back().within_ms) {
        L.Error(sv.Get("within")->line, skey + ".within",
                FormatDurationMs(st.within_ms) + " is shorter than the step before's (" +
                    FormatDurationMs(p.sequence.back().within_ms) +
                    "); within counts from the first step, so a later step's is at least "
                    "as long");
      }
      ++step_index;
      p.sequence.push_back(std::move(st));
    }
    if (const Field* af = pv.Get("absent")) {
      if (auto av = L.CheckMap(af->value, DatasetMapSpec("rules.patterns[].absent"),
                               ikey + ".absent", af->key_line)) {
        rules::AbsentConfig a;
        a.line = av->line;
        if (auto w = L.String(*av, "where")) a.where = *w;
        if (auto w = L.Duration(*av, "within")) a.within_ms = *w;
        p.absent = a;
      }
    }
    for (auto& [name, text, line] : StringMap(L, pv, "emit")) {
      rules::EmitField e;
      e.name = name;
      e.line = line;
      const size_t dot = text.find('.');
      if (dot == std::string::npos || dot == 0 || dot + 1 == text.size()) {
        L.Error(line, ikey + ".emit." + name,
                "'" + text + "' is not alias.column; e.g. proposed.created_at (a step's `as`, "
                "a dot, a column)");
        continue;
      }
      e.alias = text.substr(0, dot);
      e.column = text.substr(dot + 1);
      p.emit.push_back(std::move(e));
    }
    r.patterns.push_back(std::move(p));
  }
  for (auto& [ikey, sv] : MapItems(L, *m, "segments", "rules.segments[]", "segments")) {
    rules::SegmentConfig sg;
    sg.line = sv.line;
    unique_name(sv, &sg.name);
    sg.key = column(sv, "key", false);
    if (auto w = L.Duration(sv, "window")) sg.window_ms = *w;
    for (auto& [name, text, line] : StringMap(L, sv, "aggregates")) {
      sg.aggregates.push_back({name, text, line});
    }
    auto buckets = MapItems(L, sv, "buckets", "rules.segments[].buckets[]", "buckets");
    std::set<std::string> bucket_names;
    for (size_t b = 0; b < buckets.size(); ++b) {
      auto& [bkey, bv] = buckets[b];
      rules::BucketConfig bc;
      bc.line = bv.line;
      if (auto n = L.Identifier(bv, "name")) {
        bc.name = *n;
        if (!bucket_names.insert(*n).second) {
          L.Error(bv.line, bkey + ".name", "'" + *n + "' names another bucket too");
        }
      }
      if (auto w = L.String(bv, "when")) bc.when = *w;
      const bool last = b + 1 == buckets.size();
      if (last && bv.Get("when") != nullptr) {
        L.Error(bv.Get("when")->line, bkey + ".when",
                "the last bucket is the default and has no when; add a bucket without when "
                "after it, e.g. {name: none}");
      } else if (!last && bv.Get("when") == nullptr) {
        L.Error(bv.line, bkey + ".when",
                "missing: only the last bucket (the default) goes without when");
      }
      sg.buckets.push_back(std::move(bc));
    }
    r.segments.push_back(std::move(sg));
  }
  if (r.patterns.empty() && r.segments.empty() && m->Get("patterns") == nullptr &&
      m->Get("segments") == nullptr) {
    L.Error(f.key_line, "rules", "has no patterns and no segments; add one, or remove rules");
  }
  if (L.problem_count() != problems_before) return;
  // With transforms, the expressions may name their output columns, known only when the
  // dataset runs (rules::Engine::Create checks everything then, before any task starts).
  if (g_rules_check != nullptr && cfg.transforms.empty()) {
    std::vector<ColumnSchema> columns;
    for (const auto& c : cfg.write.columns) columns.push_back({c.name, c.type});
    int line = f.key_line;
    if (Status st = g_rules_check(r, columns, &line); !st.ok()) {
      L.Error(line, "", st.message());
      return;
    }
  }
  *out = std::move(r);
}

void ParseTransforms(Loader& L, const MapView& top, const std::vector<ColumnConfig>& cols,
                     bool columns_ok, const std::set<std::string>& broken,
                     std::vector<TransformConfig>* out) {
  int line = 0;
  std::string key;
  auto list = L.List(top, "transforms", &line, &key, "transforms");
  if (!list) return;
  const MapSpec& item_spec = DatasetMapSpec("transforms[]");
  const MapSpec& geo_spec = DatasetMapSpec("transforms[].geo");
  size_t index = 0;
  for (const auto& item : *list) {
    const std::string ikey = "transforms[" + std::to_string(index++) + "]";
    const int item_line = LineOf(item, line);
    if (item.IsMap() && item.size() != 1) {
      L.Error(item_line, ikey,
              "a transform is a map with exactly one key (one of " +
                  JoinNames(item_spec.KeyNames()) + "), got " + std::to_string(item.size()));
      continue;
    }
    auto m = L.CheckMap(item, item_spec, ikey, item_line);
    if (!m) continue;
    const Field* g = m->Get("geo");
    if (g == nullptr) {
      if (m->GetEvenIfNull("geo") != nullptr) L.Error(item_line, ikey + ".geo", "missing value");
      continue;
    }
    auto gm = L.CheckMap(g->value, geo_spec, ikey + ".geo", g->key_line);
    if (!gm) continue;
    TransformConfig t;
    GeoTransformConfig geo;
    geo.line = g->key_line;
    if (auto v = L.Path(*gm, "layers")) geo.layers = *v;
    if (auto v = L.Identifier(*gm, "lon")) geo.lon = *v;
    if (auto v = L.Identifier(*gm, "lat")) geo.lat = *v;
    if (auto v = L.Enum(*gm, "on_invalid")) geo.invalid_is_error = *v == "error";
    if (columns_ok) {
      CheckCoordinateColumn(L, *gm, "lon", cols, broken);
      CheckCoordinateColumn(L, *gm, "lat", cols, broken);
    }
    t.geo = std::move(geo);
    out->push_back(std::move(t));
  }
}

Result<DatasetConfig> Convert(const YAML::Node& root, Loader& L, const std::string& file) {
  DatasetConfig cfg;
  cfg.file = file;
  cfg.dir = L.dir().string();
  const MapSpec& top_spec = DatasetMapSpec("");
  if (root.IsNull() || !root.IsDefined()) {
    L.Error(1, "", "empty document; expected a map with keys " + JoinNames(top_spec.KeyNames()));
    return L.ToStatus();
  }
  auto top = L.CheckMap(root, top_spec, "", 1);
  if (!top) return L.ToStatus();
  if (auto v = L.Name(*top, "name")) cfg.name = *v;
  if (const Field* f = top->Get("store"); f != nullptr && f->value.IsScalar() &&
                                          f->value.Scalar().find("://") != std::string::npos &&
                                          f->value.Scalar().rfind("s3://", 0) != 0) {
    // A URL: a PostgreSQL store (anything else with a scheme is a mistake, not a folder).
    const std::string url = f->value.Scalar();
    const std::string shown = RedactStoreUrl(url);
    const std::string form =
        "write it as postgresql://user@host:5432/database, or leave `store` out for the local "
        "SQLite store in .weir/";
    if (!IsPostgresStoreUrl(url)) {
      L.Error(f->line, "store", "'" + shown + "' is not a store this version knows: " + form);
    } else if (auto problem = PostgresUrlProblem(url)) {
      L.Error(f->line, "store",
              "'" + shown + "' is not a usable PostgreSQL URL: " + *problem + "; " + form);
    } else if (shown != url) {
      L.Error(f->line, "store",
              "the URL holds a password, which would sit in the dataset file (and in every copy "
              "of it); remove it and give it to libpq through PGPASSWORD or ~/.pgpass");
    } else {
      cfg.store = url;
    }
  } else if (auto v = L.Path(*top, "store")) {
    cfg.store = (fs::path(*v) / "store.db").string();
  }
  {
    int line = 0;
    std::string key;
    if (auto list = L.List(*top, "plugins", &line, &key, "paths")) {
      for (const auto& item : *list) {
        if (!item.IsScalar() || item.Scalar().empty()) {
          L.Error(LineOf(item, line), key, "expected a path, got " + Describe(item));
          continue;
        }
        cfg.plugins.push_back(L.Resolve(item.Scalar()));
      }
    }
  }
  std::optional<std::string> parser;
  if (const Field* f = top->Get("read")) {
    if (auto m = L.CheckMap(f->value, DatasetMapSpec("read"), "read", f->key_line)) {
      ParseRead(L, *m, &cfg.read, &parser);
    }
  }
  std::map<std::string, ColumnInfo> info;
  std::set<std::string> broken;
  bool columns_ok = false;
  if (const Field* f = top->Get("write")) {
    if (auto m = L.CheckMap(f->value, DatasetMapSpec("write"), "write", f->key_line)) {
      columns_ok = ParseWrite(L, *m, parser, top->Get("transforms") != nullptr, &cfg.write, &info, &broken);
    }
  }
  ParseTransforms(L, *top, cfg.write.columns, columns_ok, broken, &cfg.transforms);
  // Without a header row, csv columns are addressed by 1-based field number (found by fuzzing:
  // the loader accepted any name here and the run failed only when it started).
  if (parser && *parser == "csv" && !cfg.read.csv_header) {
    for (const ColumnConfig& c : cfg.write.columns) {
      if (c.source != ColumnSource::kPath) continue;
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(c.path.data(), c.path.data() + c.path.size(), n);
      if (ec != std::errc() || end != c.path.data() + c.path.size() || n < 1 || n > 1000000) {
        L.Error(c.line, "write.columns." + c.name + ".path",
                "'" + c.path + "' is not a field number; with read.csv.header: false, csv columns "
                "are addressed by 1-based field number (e.g. path: \"1\")");
      }
    }
  }
  if (const Field* f = top->Get("storage")) {
    if (auto m = L.CheckMap(f->value, DatasetMapSpec("storage"), "storage", f->key_line)) {
      if (auto v = L.String(*m, "endpoint")) {
        cfg.storage.endpoint = *v;
        if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0) {
          L.Error(m->Get("endpoint")->line, "storage.endpoint",
                  "'" + *v + "' is not a URL; write it as http://host:port or https://host");
        }
      }
      if (auto v = L.String(*m, "region")) cfg.storage.region = *v;
      if (auto v = L.Bool(*m, "path_style")) cfg.storage.path_style = *v;
    }
  }
  {
    const MapSpec& spec = DatasetMapSpec("errors");
    std::optional<MapView> m;
    if (const Field* f = top->Get("errors")) {
      m = L.CheckMap(f->value, spec, "errors", f->key_line);
    } else {
      m = Loader::Empty(spec, "errors", 1);
    }
    if (m) {
      if (auto v = L.Path(*m, "location")) cfg.errors.location = *v;
      if (auto v = L.Number(*m, "max_ratio")) cfg.errors.max_ratio = *v;
      if (auto v = L.Int(*m, "excerpt_bytes")) cfg.errors.excerpt_bytes = static_cast<uint32_t>(*v);
    }
  }
  {
    const MapSpec& spec = DatasetMapSpec("compute");
    std::optional<MapView> m;
    if (const Field* f = top->Get("compute")) {
      m = L.CheckMap(f->value, spec, "compute", f->key_line);
    } else {
      m = Loader::Empty(spec, "compute", 1);
    }
    if (m) {
      if (auto v = L.Int(*m, "workers")) cfg.compute.workers = static_cast<int>(*v);
      if (auto v = L.Int(*m, "retries")) cfg.compute.retries = static_cast<int>(*v);
      if (auto v = L.Number(*m, "checkpoint_seconds")) cfg.compute.checkpoint_seconds = *v;
    }
  }
  if (const Field* f = top->Get("stream")) {
    if (auto m = L.CheckMap(f->value, DatasetMapSpec("stream"), "stream", f->key_line)) {
      if (!cfg.IsStream()) {
        L.Error(f->key_line, "stream",
                "only for stream datasets (read.connector http or kafka); a files dataset "
                "commits every compute.checkpoint_seconds");
      }
      if (auto v = L.Duration(*m, "commit_interval")) cfg.stream.commit_interval_ms = *v;
      if (auto v = L.Duration(*m, "catch_up_interval")) {
        const Field* written = m->Get("catch_up_interval");
        if (written == nullptr) {
          // The default, under a longer commit_interval: catching up never commits less
          // often than the stream does anyway.
          cfg.stream.catch_up_interval_ms = std::max(*v, cfg.stream.commit_interval_ms);
        } else if (*v < cfg.stream.commit_interval_ms) {
          L.Error(written->line, "stream.catch_up_interval",
                  FormatDurationMs(*v) + " is shorter than stream.commit_interval (" +
                      FormatDurationMs(cfg.stream.commit_interval_ms) +
                      "); set it to at least that, or equal to it to commit every "
                      "commit_interval even while the stream is behind");
        } else {
          cfg.stream.catch_up_interval_ms = *v;
        }
      }
      if (auto v = L.Bool(*m, "pipeline")) cfg.stream.pipeline = *v;
      if (auto v = L.String(*m, "metrics_listen")) {
        if (!IsHostPort(*v)) {
          L.Error(m->Get("metrics_listen")->line, "stream.metrics_listen",
                  "'" + *v + "' is not host:port; e.g. 127.0.0.1:9464");
        } else {
          cfg.stream.metrics_listen = *v;
        }
      }
    }
  }
  if (const Field* f = top->Get("rules")) {
    ParseRules(L, *f, cfg, broken, &cfg.rules);
  }
  if (cfg.write.connector == "none") {
    // No table: the paths that name one point into this dataset's own state folder, where
    // nothing is ever written (WorkerOutput buffers no rows), so the lake claims, recovery
    // and cleanup code stays the same for both connectors.
    cfg.write.location = (fs::path(LocalStateDir(cfg)) / "no-table" / cfg.name).string();
    cfg.write.table = "none";
    cfg.write.table_format = "hive";
  }
  if (cfg.write.connector == "none" && !cfg.rules) {
    const Field* wf = top->Get("write");
    L.Error(wf != nullptr ? wf->key_line : 1, "write.connector",
            "none writes no table, and the dataset has no rules to use its records; use "
            "connector: lake, or add rules");
  }
  // Object storage: inputs, the lake (an Iceberg table) and error records may be on S3; the
  // manifest file and the store stay on a local (or mounted) file system.
  auto key_line = [&](const char* top_key) {
    const Field* f = top->Get(top_key);
    return f != nullptr ? f->key_line : 1;
  };
  auto local_only = [&](const char* top_key, const char* key, const std::string& value,
                        const std::string& instead) {
    if (value.rfind("s3://", 0) != 0) return;
    L.Error(key_line(top_key), key,
            "s3:// is not supported for '" + std::string(key) + "'; " + instead);
  };
  local_only("read", "read.manifest", cfg.read.manifest,
             "list the objects instead (read.manifest: {list: s3://bucket/prefix/, glob: '*'}) "
             "or keep the manifest file on local disk");
  local_only("store", "store", cfg.store, "write the store as a local folder");
  if (cfg.write.location.rfind("s3://", 0) == 0 && cfg.write.table_format != "iceberg") {
    // A Hive table becomes visible by renaming files into place, and S3 has no rename.
    L.Error(key_line("write"), "write.location",
            "a lake on s3:// must be an Iceberg table (its metadata commit is what makes files "
            "visible; S3 has no rename), and write.table_format is '" +
                cfg.write.table_format +
                "'; use write.format: parquet with write.table_format: iceberg, or a local folder");
  }
  if (!L.ok()) return L.ToStatus();
  return cfg;
}

std::string YamlReason(const YAML::Exception& e) {
  return e.msg.empty() ? std::string(e.what()) : e.msg;
}

}  // namespace

std::string LocalStateDir(const DatasetConfig& c) {
  if (IsPostgresStoreUrl(c.store)) {
    // Workers on other machines need not have the dataset file's folder (docs/scale.md).
    const char* env = std::getenv("WEIR_STATE_DIR");
    if (env != nullptr && *env != '\0') return (fs::path(env) / c.name).string();
    return (fs::path(c.dir) / ".weir").string();
  }
  return fs::path(c.store).parent_path().string();
}

void SetRulesCheck(RulesCheck check) { g_rules_check = check; }

std::optional<int64_t> ParseDurationMs(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == 0 || i > 12) return std::nullopt;
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + i, v);
  std::string_view unit = s.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  for (const auto& [name, mult] : kDurationUnits) {
    if (unit == name) return v * mult;
  }
  return std::nullopt;
}

std::string FormatDurationMs(int64_t ms) {
  for (const auto& [name, mult] : kDurationUnits) {
    if (ms != 0 && ms % mult == 0) return std::to_string(ms / mult) + std::string(name);
  }
  return std::to_string(ms) + "ms";
}

Result<DatasetConfig> ParseDatasetConfig(const std::string& yaml_text, const std::string& path) {
  std::error_code ec;
  fs::path abs = fs::absolute(fs::path(path), ec);
  if (ec) abs = fs::path(path);
  abs = abs.lexically_normal();
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    std::string where = path;
    if (e.mark.line >= 0) {
      where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    }
    return Status::Invalid(where + ": YAML syntax error: " + YamlReason(e));
  }
  Loader loader(path, abs.parent_path());
  try {
    return Convert(root, loader, abs.string());
  } catch (const YAML::Exception& e) {
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 1;
    return Status::Invalid(path + ":" + std::to_string(line) + ": " + YamlReason(e));
  } catch (const std::exception& e) {
    return Status::Internal(path + ": loading the dataset file failed: " + e.what());
  }
}

Result<DatasetConfig> LoadDatasetConfig(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::NotFound("dataset file not found: " + path);
  if (fs::is_directory(path, ec)) {
    return Status::Invalid(path + ": is a folder; expected a dataset YAML file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot open dataset file " + path, /*retryable=*/false);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read dataset file " + path);
  return ParseDatasetConfig(text.str(), path);
}

}  // namespace weir
