// Hand-written matchers for the `regex` parser's access-log presets (apache_common,
// apache_combined, nginx_combined).
//
// Each scanner makes one pass over a line, allocates nothing, and is an exact replacement for
// RE2 matching the preset's whole regular expression (RegexPresetPattern(name)) against the line
// with ANCHOR_BOTH and the default RE2 options: the same lines match, and every capture has the
// same bytes (same position and length), with non-participating groups (method/path/protocol of
// a "-" request line, protocol of an HTTP/0.9 request) reported as a null view. The preset
// regexes stay the specification; tests/parse/access_log_scanner_test.cc checks the scanners
// against RE2 on generated and mutated lines.
//
// RE2 details the scanners reproduce (RE2 matches UTF-8 by default):
//   - a negated class ([^\]], [^"\\], [^\s"\\], [^\s"], \S) and `.` match one character: an
//     ASCII byte not in the class's exclusions, or a multi-byte sequence [C2-DF][80-BF],
//     [E0-EF][80-BF]{2} or [F0-F4][80-BF]{3} (RE2 accepts overlong E0/F0 forms, surrogates and
//     F4 sequences past U+10FFFF); any other byte >= 0x80 matches nothing, so the line fails;
//   - \s is [\t\n\f\r ] (not \v); `.` excludes \n, negated classes do not; \d is [0-9].
//
// Thread-safety: stateless functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace weir::builtin {

enum class AccessLogPreset : uint8_t { kApacheCommon, kApacheCombined, kNginxCombined };

// Most fields of any preset (apache_combined's 11).
inline constexpr size_t kAccessLogMaxFields = 11;

// The preset of a name from RegexPresetNames(), or nullopt.
std::optional<AccessLogPreset> AccessLogPresetFromName(std::string_view name);

// The number of named groups of the preset, i.e. of fields a scan reports:
//   apache_common   client ident user time method path protocol status bytes
//   apache_combined the same, then referer user_agent
//   nginx_combined  client user time method path protocol status bytes referer user_agent
size_t AccessLogFieldCount(AccessLogPreset preset);

// Matches the whole `line` (no line terminator is stripped). On a match returns true and sets
// fields[0 .. AccessLogFieldCount(preset)) to the captures in group order, as views into `line`;
// a group that did not participate is a default view (data() == nullptr). Captures that
// participate always point into `line`, even when empty. On no match returns false and leaves
// `fields` unspecified. `fields` must have room for AccessLogFieldCount(preset) views.
bool ScanAccessLog(AccessLogPreset preset, std::string_view line, std::string_view* fields);

}  // namespace weir::builtin
