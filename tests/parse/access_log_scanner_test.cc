// Differential tests: the hand-written access-log scanners against RE2 matching the whole preset
// regex (the specification) with ANCHOR_BOTH, on seeded generated lines (valid shapes and edge
// cases) and on mutations of them (byte flips, insertions, deletions: mostly near-misses).
#include "parse/builtin/access_log_scanner.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "parse/builtin/builtin_parsers.h"
#include "parse/builtin/lines_parser.h"
#include "parse/builtin/regex_parser.h"
#include "weir/sdk.h"

namespace weir::builtin {
namespace {

using Rng = std::mt19937_64;

template <size_t N>
const char* Pick(Rng& rng, const char* const (&options)[N]) {
  return options[rng() % N];
}

// Fields of generated lines: mostly realistic values, with the edge cases the presets define
// (IPv6, '-' placeholders, escapes, UTF-8) and some values that break the format.
std::string Client(Rng& rng) {
  static const char* const kOdd[] = {"2001:db8:85a3::8a2e:370:7334",
                                     "::1",
                                     "fe80::1%eth0",
                                     "h.example.org",
                                     "-",
                                     "x",
                                     "h\xc3\xb4te.example",
                                     "1.2.3.4\xe2\x80\x8b",
                                     "a\\b",
                                     "[::1]:80",
                                     "\xff"};
  if (rng() % 3 != 0) {
    return std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) + "." +
           std::to_string(rng() % 256) + "." + std::to_string(rng() % 256);
  }
  return Pick(rng, kOdd);
}

std::string Word(Rng& rng) {  // ident, user
  static const char* const kWords[] = {"-",
                                       "-",
                                       "-",
                                       "alice",
                                       "frank",
                                       "user-identifier",
                                       "j\xc3\xbcrgen",
                                       "a\"b",
                                       "x\\",
                                       "-x",
                                       "\xf0\x9f\x98\x80",
                                       "a\xc3",
                                       "\x7f"};
  return Pick(rng, kWords);
}

std::string Time(Rng& rng) {
  static const char* const kTimes[] = {"10/Oct/2000:13:55:36 -0700",
                                       "01/Feb/2024:00:00:01 +0100",
                                       "x",
                                       "12/M\xc3\xa4r/2024:06:25:24 +0000",
                                       "a [b",
                                       "a\"b",
                                       "tab\there",
                                       "nl\nhere",
                                       "\\"};
  return Pick(rng, kTimes);
}

std::string Request(Rng& rng) {
  static const char* const kMethods[] = {"GET", "GET",      "POST",     "HEAD", "DELETE",  "PUT",
                                         "get", "PROPFIND", "M-SEARCH", "G3T",  "OPTIONS", "x"};
  static const char* const kPaths[] = {"/",
                                       "/apache_pb.gif",
                                       "/shop/item/42?ref=7&q=a%20b",
                                       "/a\\\"b?x=\\\\",
                                       "*",
                                       "http://x.example/y",
                                       "/caf\xc3\xa9",
                                       "/esc\\ aped",
                                       "\\x",
                                       "/a\\",
                                       "/tab\\\tx",
                                       "/q\"",
                                       "",
                                       "/\xe2\x82",
                                       "/\\\xc3\xa9"};
  static const char* const kProtocols[] = {"HTTP/1.1", "HTTP/1.0",      "HTTP/2.0", "HTTP/1.1",
                                           "h\\x",     "HTTP/\xc3\xa9", "HTTP/1.1 "};
  switch (rng() % 10) {
    case 0:
      return "-";
    case 1:  // HTTP/0.9: no protocol
      return std::string(Pick(rng, kMethods)) + " " + Pick(rng, kPaths);
    case 2: {  // odd shapes
      static const char* const kOdd[] = {"",   "\\x16\\x03\\x01",  "GET",    "GET  / HTTP/1.1",
                                         "--", "GET / HTTP/1.1 x", " GET /", "GET /\\\""};
      return Pick(rng, kOdd);
    }
    default: {
      std::string path = rng() % 2 ? Pick(rng, kPaths)
                                   : "/item/" + std::to_string(rng() % 100000) +
                                         "?ref=" + std::to_string(rng() % 1000);
      return std::string(Pick(rng, kMethods)) + " " + path + " " + Pick(rng, kProtocols);
    }
  }
}

std::string Status(Rng& rng) {
  static const char* const kOdd[] = {"20", "2000", "abc", "-", "2x0"};
  if (rng() % 12 == 0) return Pick(rng, kOdd);
  static const int kStatus[] = {200, 200, 200, 301, 304, 404, 408, 499, 500};
  return std::to_string(kStatus[rng() % 9]);
}

std::string Bytes(Rng& rng) {
  static const char* const kOdd[] = {"-", "0",  "99999999999999999999999999", "--", "12a",
                                     "",  "-1", "9223372036854775808"};
  if (rng() % 4 == 0) return Pick(rng, kOdd);
  return std::to_string(rng() % 200000);
}

std::string Quoted(Rng& rng) {  // referer, user agent
  static const char* const kValues[] = {
      "-",
      "-",
      "",
      "https://www.example.com/c/17",
      "http://www.example.com/start.html",
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)",
      "Mozilla/4.08 [en] (Win98; I ;Nav)",
      "curl/8.5 \\\"quoted\\\" agent",
      "python-requests/2.31 \\\"scanner\\\"",
      "Mozilla/5.0 \\x22x\\x22",
      "back\\\\slash",
      "ends in \\\\",
      "caf\xc3\xa9 \xe2\x82\xac",
      "bad \xc3",
      "esc\\\xc3\xa9",
      "esc\\",
      "nl\\\nx",
      "tab\tin",
      "q\"q",
      "\\"};
  return Pick(rng, kValues);
}

enum class Shape { kCommon, kCombined, kNginx };

std::string MakeLine(Rng& rng, Shape shape) {
  std::string line = Client(rng);
  if (shape == Shape::kNginx) {
    line += rng() % 20 == 0 ? " x " : " - ";
  } else {
    line += " " + Word(rng) + " ";
  }
  line +=
      Word(rng) + " [" + Time(rng) + "] \"" + Request(rng) + "\" " + Status(rng) + " " + Bytes(rng);
  if (shape != Shape::kCommon) line += " \"" + Quoted(rng) + "\" \"" + Quoted(rng) + "\"";
  if (rng() % 15 == 0) line += rng() % 2 ? "\n" : "\r\n";
  return line;
}

// A byte that is likely to matter to the format.
char Interesting(Rng& rng) {
  static const char kBytes[] = " \"\\[]-\t\n\r\f\v0123456789aZ/:%";
  switch (rng() % 4) {
    case 0:
      return static_cast<char>(0x80 + rng() % 0x80);
    case 1:
      return static_cast<char>(rng() % 256);
    default:
      return kBytes[rng() % (sizeof(kBytes) - 1)];
  }
}

std::string Mutate(Rng& rng, std::string line) {
  const int n = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < n; ++i) {
    const size_t at = line.empty() ? 0 : rng() % (line.size() + 1);
    switch (rng() % 6) {
      case 0:
      case 1:  // replace a byte
        if (at < line.size()) line[at] = Interesting(rng);
        break;
      case 2:  // insert a byte
        line.insert(line.begin() + static_cast<std::ptrdiff_t>(at), Interesting(rng));
        break;
      case 3:  // delete a byte
        if (at < line.size()) line.erase(at, 1);
        break;
      case 4:  // flip one bit
        if (at < line.size()) line[at] = static_cast<char>(line[at] ^ (1 << (rng() % 8)));
        break;
      case 5:  // truncate
        line.resize(at);
        break;
    }
  }
  return line;
}

struct PresetCase {
  const char* name;
  AccessLogPreset preset;
};

const PresetCase kPresets[] = {{"apache_common", AccessLogPreset::kApacheCommon},
                               {"apache_combined", AccessLogPreset::kApacheCombined},
                               {"nginx_combined", AccessLogPreset::kNginxCombined}};

std::string Show(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

// Compares the scanner with RE2 on `line`; returns whether RE2 matched.
bool ExpectSameAsRe2(const RE2& re, AccessLogPreset preset, std::string_view line) {
  const int n = re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> m(static_cast<size_t>(n) + 1);
  const bool want = re.Match(re2::StringPiece(line.data(), line.size()), 0, line.size(),
                             RE2::ANCHOR_BOTH, m.data(), n + 1);
  std::string_view got[kAccessLogMaxFields];
  const bool have = ScanAccessLog(preset, line, got);
  EXPECT_EQ(have, want) << Show(line);
  if (have != want || !want) return want;
  for (int g = 1; g <= n; ++g) {
    const re2::StringPiece& w = m[static_cast<size_t>(g)];
    const std::string_view h = got[g - 1];
    if (w.data() == nullptr) {
      EXPECT_EQ(h.data(), nullptr) << "group " << g << " in " << Show(line);
    } else {
      // Same bytes of the line: same offset and length.
      EXPECT_EQ(h.data() - line.data(), w.data() - line.data())
          << "group " << g << " in " << Show(line);
      EXPECT_EQ(h.size(), w.size()) << "group " << g << " in " << Show(line);
    }
  }
  return want;
}

TEST(AccessLogScannerTest, FieldCountsMatchThePresetRegexes) {
  for (const PresetCase& pc : kPresets) {
    const std::optional<std::string> whole = RegexPresetPattern(pc.name);
    ASSERT_TRUE(whole);
    RE2 re(*whole);
    ASSERT_TRUE(re.ok()) << re.error();
    EXPECT_EQ(AccessLogFieldCount(pc.preset), static_cast<size_t>(re.NumberOfCapturingGroups()));
    EXPECT_EQ(AccessLogPresetFromName(pc.name), pc.preset);
  }
  EXPECT_EQ(AccessLogPresetFromName("apache"), std::nullopt);
}

TEST(AccessLogScannerTest, HandPickedEdgeCases) {
  const std::vector<std::string> lines = {
      "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326",
      "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 "
      "\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"",
      "h - - [x] \"-\" 408 - \"-\" \"-\"",
      "h - - [x] \"GET /\" 200 12 \"\" \"\"",
      "h - - [x] \"GET /a\\ b HTTP/1.1\" 200 12 \"\\\"\" \"\\\\\"",
      "h - - [x] \"GET /a\\\n HTTP/1.1\" 200 12 \"-\" \"-\"",  // `.` excludes \n
      "h - - [a\nb] \"GET / HTTP/1.1\" 200 12 \"-\" \"-\"",    // [^\]] includes \n
      "h - - [x] \"GET / HTTP/1.1\" 200 12 \"a\nb\" \"-\"",
      "h - - [x] \"GET / HTTP/1.1\" 200 12 \"\\\xc3\xa9\" \"\\\xc3\"",
      "h\xc3\xa9 - - [x] \"GET /\xf4\x90\x80\x80 HTTP/1.1\" 200 12 \"\xed\xa0\x80\" \"-\"",
      "h\xc0\x80 - - [x] \"GET / HTTP/1.1\" 200 12 \"-\" \"-\"",
      "h - - [\xf5] \"GET / HTTP/1.1\" 200 12 \"-\" \"-\"",
      "h\v - - [x] \"GET / HTTP/1.1\" 200 12 \"-\" \"-\"",  // \v is not \s in RE2
      "h - - [x] \"GET / HTTP/1.1\" 200 123456789012345678901234567890 \"-\" \"-\"",
      "h - - [x] \"GET / HTTP/1.1\" 200 - \"-\" \"-\"",
      "h - - [x] \"GET / \" 200 1 \"-\" \"-\"",
      "h - - [x] \"GET /\\\" 200 1 \"-\" \"-\"",
      "h - - [x] \"- \" 200 1 \"-\" \"-\"",
      "",
      "h",
      "h - - [x] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"\n",
  };
  for (const PresetCase& pc : kPresets) {
    RE2 re(*RegexPresetPattern(pc.name));
    ASSERT_TRUE(re.ok());
    for (const std::string& line : lines) ExpectSameAsRe2(re, pc.preset, line);
  }
}

// Generated valid lines of all three shapes and mutations of them, through each preset.
TEST(AccessLogScannerTest, AgreesWithWholePresetRegexOnGeneratedAndMutatedLines) {
  constexpr int kLines = 12000;  // per preset; each also mutated twice
  for (const PresetCase& pc : kPresets) {
    RE2 re(*RegexPresetPattern(pc.name));
    ASSERT_TRUE(re.ok());
    Rng rng(0x5eed0000u + static_cast<unsigned>(pc.preset));
    int matched = 0, mutated_matched = 0, total = 0;
    for (int i = 0; i < kLines && !HasFailure(); ++i) {
      const Shape shape = static_cast<Shape>(rng() % 3);
      const std::string line = MakeLine(rng, shape);
      matched += ExpectSameAsRe2(re, pc.preset, line) ? 1 : 0;
      for (int k = 0; k < 2; ++k) {
        mutated_matched += ExpectSameAsRe2(re, pc.preset, Mutate(rng, line)) ? 1 : 0;
      }
      total += 3;
    }
    // Both outcomes must be well represented for the comparison to mean something.
    EXPECT_GT(matched, kLines / 20) << pc.name;
    EXPECT_GT(mutated_matched, kLines / 50) << pc.name;
    EXPECT_LT(matched + mutated_matched, total * 3 / 4) << pc.name;
  }
}

// Valid lines only (every generated field well-formed), so most captures are exercised with
// realistic content; then every single-byte deletion and a flip at every position of a few.
TEST(AccessLogScannerTest, AgreesOnWellFormedLinesAndEverySingleByteEdit) {
  for (const PresetCase& pc : kPresets) {
    RE2 re(*RegexPresetPattern(pc.name));
    ASSERT_TRUE(re.ok());
    Rng rng(42 + static_cast<unsigned>(pc.preset));
    const Shape shape = pc.preset == AccessLogPreset::kApacheCommon    ? Shape::kCommon
                        : pc.preset == AccessLogPreset::kNginxCombined ? Shape::kNginx
                                                                       : Shape::kCombined;
    int matched = 0;
    for (int i = 0; i < 300 && !HasFailure(); ++i) {
      std::string line = MakeLine(rng, shape);
      if (!ExpectSameAsRe2(re, pc.preset, line)) continue;
      ++matched;
      for (size_t at = 0; at < line.size(); ++at) {
        std::string del = line;
        del.erase(at, 1);
        ExpectSameAsRe2(re, pc.preset, del);
        std::string sub = line;
        sub[at] = Interesting(rng);
        ExpectSameAsRe2(re, pc.preset, sub);
      }
    }
    EXPECT_GT(matched, 20) << pc.name;
  }
}

// The parser as a whole (scanner + Document) against the regex: same match decision, every
// field the capture with "-" made null for the preset's placeholder fields.
TEST(AccessLogScannerTest, RegexParserPresetsAgreeWithWholePattern) {
  for (const PresetCase& pc : kPresets) {
    auto created = CreateBuiltinParser("regex", std::string("{\"preset\":\"") + pc.name + "\"}");
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    sdk::Parser& parser = **created;
    RE2 re(*RegexPresetPattern(pc.name));
    ASSERT_TRUE(re.ok());
    const int n = re.NumberOfCapturingGroups();
    std::vector<re2::StringPiece> m(static_cast<size_t>(n) + 1);
    Rng rng(977 + static_cast<unsigned>(pc.preset));
    sdk::Document doc;
    for (int i = 0; i < 4000 && !HasFailure(); ++i) {
      std::string record = MakeLine(rng, static_cast<Shape>(rng() % 3));
      if (rng() % 2) record = Mutate(rng, record);
      const std::string_view line = StripLineEnd(record);
      doc.Clear();
      const sdk::ParseResult r = parser.Parse(sdk::RecordContext{}, record, doc);
      if (line.empty()) {
        EXPECT_EQ(r.kind, sdk::ParseResult::Kind::kSkip);
        continue;
      }
      const bool want = re.Match(re2::StringPiece(line.data(), line.size()), 0, line.size(),
                                 RE2::ANCHOR_BOTH, m.data(), n + 1);
      ASSERT_EQ(r.kind == sdk::ParseResult::Kind::kDocument, want) << Show(record);
      if (!want) {
        EXPECT_EQ(r.reason, std::string("line does not match the regex (preset ") + pc.name + ")");
        continue;
      }
      ASSERT_EQ(doc.nodes().size(), static_cast<size_t>(n) + 1);
      for (const auto& [name, group] : re.NamedCapturingGroups()) {
        const sdk::Document::Node* node = doc.Find({name});
        ASSERT_NE(node, nullptr) << name;
        const re2::StringPiece& g = m[static_cast<size_t>(group)];
        const bool dash_field = name != "client" && name != "time" && name != "method" &&
                                name != "path" && name != "protocol" && name != "status";
        const bool null = g.data() == nullptr || (dash_field && g == "-");
        if (null) {
          EXPECT_EQ(node->kind, sdk::Document::Kind::kNull) << name << " in " << Show(record);
        } else {
          ASSERT_EQ(node->kind, sdk::Document::Kind::kString) << name << " in " << Show(record);
          EXPECT_EQ(doc.text(*node), std::string_view(g.data(), g.size()))
              << name << " in " << Show(record);
        }
      }
    }
  }
}

}  // namespace
}  // namespace weir::builtin
