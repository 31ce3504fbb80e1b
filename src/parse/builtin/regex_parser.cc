#include "parse/builtin/regex_parser.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "core/text_util.h"
#include "parse/builtin/lines_parser.h"

namespace weir::builtin {
namespace {

// Access-log presets. Field rules, shared by all three so a dataset can switch presets:
//   client      the remote host or address as logged (IPv4, IPv6 or a host name)
//   ident       RFC 1413 identity (Apache only; nginx always logs "-"), null when "-"
//   user        authenticated user, null when "-"
//   time        the bracketed time text as logged, e.g. "10/Oct/2000:13:55:36 -0700"
//   method, path, protocol
//               the request line "GET /a?b HTTP/1.1"; protocol is optional (HTTP/0.9); a request
//               logged as "-" (none received) leaves all three null. Any other request text
//               that is not "METHOD TARGET [PROTOCOL]" makes the line an error record rather
//               than a silently half-empty row.
//   status      three digits
//   bytes       response size, null when "-" (Apache's %b for an empty body)
//   referer, user_agent
//               the quoted text, escapes kept as logged (Apache writes \" and \\, nginx \xHH);
//               null when "-"
// Quoted text is matched as [^"\\]*(?:\\.[^"\\]*)*, so an escaped quote inside a user agent does
// not end the field.
//
// Matching: the whole pattern (RegexPresetPattern()) is the specification, but Parse() does not
// run RE2 on preset lines. A hand-written one-pass scanner per preset (access_log_scanner.h)
// accepts exactly the lines RE2 accepts for the whole pattern with ANCHOR_BOTH, with the same
// captures; tests/parse/access_log_scanner_test.cc checks this on generated and mutated lines.
// It is several times faster than RE2, which for a whole access-log line (11 groups) falls back
// to its backtracking engine (~50 MiB/s), and about 2-3x faster end to end than the previous
// chain of one-pass RE2 segments. The segments below are still compiled (they define the field
// names and order, and keep the pattern text in one-pass-friendly pieces): each has at most 4
// groups and ends in a delimiter its last field cannot contain, so their concatenation is the
// whole pattern. "-" placeholders are captured and turned into nulls afterwards rather than
// written as (?:-|(?P<x>...)).
struct Preset {
  const char* name;
  std::vector<const char*> segments;
  std::vector<const char*> dash_is_null;  // fields whose "-" means absent
};

#define WEIR_HEAD_ R"re(\[(?P<time>[^\]]+)\] )re"
#define WEIR_REQUEST_STATUS_                                                              \
  R"re("(?:(?P<method>[A-Za-z]+) (?P<path>(?:[^\s"\\]|\\.)[^\s"\\]*(?:\\.[^\s"\\]*)*))re" \
  R"re((?: (?P<protocol>[^\s"]+))?|-)" (?P<status>\d{3}) )re"
#define WEIR_BYTES_ R"re((?P<bytes>\d+|-))re"
#define WEIR_REF_UA_ \
  R"re( "(?P<referer>[^"\\]*(?:\\.[^"\\]*)*)" "(?P<user_agent>[^"\\]*(?:\\.[^"\\]*)*)")re"

const std::vector<Preset>& Presets() {
  static const std::vector<Preset> kPresets = {
      {"apache_common",
       {R"re((?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) )re" WEIR_HEAD_, WEIR_REQUEST_STATUS_,
        WEIR_BYTES_},
       {"ident", "user", "bytes"}},
      {"apache_combined",
       {R"re((?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) )re" WEIR_HEAD_, WEIR_REQUEST_STATUS_,
        WEIR_BYTES_ WEIR_REF_UA_},
       {"ident", "user", "bytes", "referer", "user_agent"}},
      // nginx's built-in "combined": $remote_addr - $remote_user [$time_local] "$request"
      // $status $body_bytes_sent "$http_referer" "$http_user_agent" (a literal "-" second).
      {"nginx_combined",
       {R"re((?P<client>\S+) - (?P<user>\S+) )re" WEIR_HEAD_, WEIR_REQUEST_STATUS_,
        WEIR_BYTES_ WEIR_REF_UA_},
       {"user", "bytes", "referer", "user_agent"}},
  };
  return kPresets;
}

#undef WEIR_HEAD_
#undef WEIR_REQUEST_STATUS_
#undef WEIR_BYTES_
#undef WEIR_REF_UA_

const Preset* FindPreset(std::string_view name) {
  for (const Preset& p : Presets()) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

// `s` cut to a readable length for messages.
std::string Shorten(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "...";
}

}  // namespace

const std::vector<std::string>& RegexPresetNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const Preset& p : Presets()) names.emplace_back(p.name);
    return names;
  }();
  return kNames;
}

std::optional<std::string> RegexPresetPattern(std::string_view name) {
  const Preset* p = FindPreset(name);
  if (p == nullptr) return std::nullopt;
  std::string re;
  for (const char* seg : p->segments) re += seg;
  return re;
}

Result<std::unique_ptr<RegexParser>> RegexParser::Create(const std::string& pattern,
                                                         const std::string& preset) {
  if (pattern.empty() == preset.empty()) {
    return Status::Invalid(
        "regex parser: give exactly one of options 'pattern' (an RE2 regular expression with "
        "named groups) or 'preset' (" +
        JoinNames(RegexPresetNames()) + ")");
  }
  std::unique_ptr<RegexParser> p(new RegexParser());
  std::vector<std::string> texts;
  const Preset* ps = nullptr;
  if (!preset.empty()) {
    ps = FindPreset(preset);
    if (ps == nullptr) {
      return Status::Invalid("regex parser: unknown preset '" + preset + "'" +
                             DidYouMean(preset, RegexPresetNames()) +
                             " (known: " + JoinNames(RegexPresetNames()) + ")");
    }
    texts.assign(ps->segments.begin(), ps->segments.end());
    p->what_ = "preset " + preset;
  } else {
    texts.push_back(pattern);
    p->what_ = "pattern \"" + Shorten(pattern, 60) + "\"";
  }
  RE2::Options opts;
  opts.set_log_errors(false);  // the message goes into the Status instead of stderr
  for (const std::string& text : texts) {
    Segment seg;
    seg.re = std::make_unique<RE2>(text, opts);
    if (!seg.re->ok()) {
      // RE2's message already quotes the offending part ("missing ): (?P<a>x").
      return Status::Invalid("regex parser: invalid pattern: " + seg.re->error());
    }
    std::vector<std::pair<int, std::string>> by_group;
    for (const auto& [name, group] : seg.re->NamedCapturingGroups()) {
      by_group.emplace_back(group, name);
    }
    std::sort(by_group.begin(), by_group.end());
    for (auto& [group, name] : by_group) {
      if (std::find(p->names_.begin(), p->names_.end(), name) != p->names_.end()) {
        return Status::Invalid("regex parser: group name '" + name + "' is used twice");
      }
      seg.groups.push_back(group);
      seg.fields.push_back(static_cast<uint32_t>(p->names_.size()));
      p->names_.push_back(std::move(name));
    }
    // Ask RE2 for $0 (where the segment ended) and no group beyond the last named one.
    seg.match.resize(static_cast<size_t>(seg.groups.empty() ? 0 : seg.groups.back()) + 1);
    p->segments_.push_back(std::move(seg));
  }
  if (p->names_.empty()) {
    return Status::Invalid(
        "regex parser: the pattern has no named group; name each field to keep, e.g. "
        "(?P<status>\\d+)");
  }
  p->dash_is_null_.assign(p->names_.size(), 0);
  if (ps != nullptr) {
    for (const char* f : ps->dash_is_null) {
      for (size_t i = 0; i < p->names_.size(); ++i) {
        if (p->names_[i] == f) p->dash_is_null_[i] = 1;
      }
    }
  }
  p->values_.resize(p->names_.size());
  p->keys_.assign(p->names_.begin(), p->names_.end());
  if (ps != nullptr) {
    p->scanner_ = AccessLogPresetFromName(preset);
    // The scanner reports the preset's groups in the same order as the regex declares them.
    if (!p->scanner_ || AccessLogFieldCount(*p->scanner_) != p->names_.size()) {
      return Status::Internal("regex parser: preset '" + preset + "' has no matching scanner");
    }
  }
  return p;
}

sdk::RecordFormat RegexParser::format() const {
  sdk::RecordFormat f;
  f.kind = sdk::RecordFormat::Kind::kPatterns;
  f.start = "";
  f.end = "\n";
  f.eof_ends_record = true;
  return f;
}

sdk::ParseResult RegexParser::Parse(const sdk::RecordContext& ctx, std::string_view record,
                                    sdk::Document& doc) {
  (void)ctx;
  const std::string_view line = StripLineEnd(record);
  if (line.empty()) return sdk::ParseResult::Skip("blank line");
  if (scanner_) {
    if (!ScanAccessLog(*scanner_, line, scanned_)) {
      return sdk::ParseResult::Error("line does not match the regex (" + what_ + ")");
    }
    sdk::Document::Object root = doc.root();
    for (size_t i = 0; i < keys_.size(); ++i) {
      const std::string_view m = scanned_[i];
      if (m.data() == nullptr || (dash_is_null_[i] && m.size() == 1 && m[0] == '-')) {
        root.SetNull(keys_[i]);
      } else {
        root.SetView(keys_[i], m);  // a slice of `record`: no copy
      }
    }
    return sdk::ParseResult::Doc();
  }
  const re2::StringPiece text(line.data(), line.size());
  size_t at = 0;
  for (size_t s = 0; s < segments_.size(); ++s) {
    Segment& seg = segments_[s];
    const bool last = s + 1 == segments_.size();
    if (!seg.re->Match(text, at, text.size(), last ? RE2::ANCHOR_BOTH : RE2::ANCHOR_START,
                       seg.match.data(), static_cast<int>(seg.match.size()))) {
      return sdk::ParseResult::Error("line does not match the regex (" + what_ + ")");
    }
    at = static_cast<size_t>(seg.match[0].data() + seg.match[0].size() - text.data());
    for (size_t g = 0; g < seg.groups.size(); ++g) {
      values_[seg.fields[g]] = seg.match[static_cast<size_t>(seg.groups[g])];
    }
  }
  sdk::Document::Object root = doc.root();
  for (size_t i = 0; i < names_.size(); ++i) {
    const re2::StringPiece& m = values_[i];
    if (m.data() == nullptr || (dash_is_null_[i] && m.size() == 1 && m[0] == '-')) {
      root.SetNull(keys_[i]);
    } else {
      root.SetView(keys_[i], std::string_view(m.data(), m.size()));
    }
  }
  return sdk::ParseResult::Doc();
}

}  // namespace weir::builtin
