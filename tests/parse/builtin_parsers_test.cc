#include "parse/builtin/builtin_parsers.h"

#include <gtest/gtest.h>
#include <time.h>

#include <cstdio>
#include <optional>
#include <random>
#include <string>

#include "parse/builtin/regex_parser.h"
#include "parse/projector.h"

namespace weir {
namespace {

std::unique_ptr<sdk::Parser> Make(const std::string& name, const std::string& options) {
  auto p = CreateBuiltinParser(name, options);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(p).value() : nullptr;
}

std::string CreateError(const std::string& name, const std::string& options) {
  auto p = CreateBuiltinParser(name, options);
  return p.ok() ? "" : p.status().message();
}

// Field `key` of the root: its text, "<null>" for a null, nullopt when absent.
std::optional<std::string> Field(const sdk::Document& doc, const std::string& key) {
  const sdk::Document::Node* n = doc.Find({key});
  if (n == nullptr) return std::nullopt;
  if (n->kind == sdk::Document::Kind::kNull) return "<null>";
  EXPECT_EQ(n->kind, sdk::Document::Kind::kString) << key;
  return std::string(doc.text(*n));
}

sdk::ParseResult Parse(sdk::Parser& p, std::string_view record, sdk::Document& doc) {
  doc.Clear();
  return p.Parse(sdk::RecordContext{}, record, doc);
}

TEST(BuiltinParsersTest, Names) {
  EXPECT_TRUE(IsBuiltinParser("lines"));
  EXPECT_TRUE(IsBuiltinParser("regex"));
  EXPECT_FALSE(IsBuiltinParser("jsonl"));
  EXPECT_TRUE(IsBuiltinParser("warc"));
  EXPECT_FALSE(IsBuiltinParser("csv"));
  EXPECT_EQ(CreateError("regx", "{}"),
            "unknown built-in parser 'regx' (did you mean 'regex'?) (built-in: lines, regex, warc)");
}

TEST(BuiltinParsersTest, LinesParser) {
  auto p = Make("lines", "{}");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->file_type(), "lines");
  const sdk::RecordFormat f = p->format();
  EXPECT_EQ(f.kind, sdk::RecordFormat::Kind::kPatterns);
  EXPECT_EQ(f.start, "");
  EXPECT_EQ(f.end, "\n");
  EXPECT_TRUE(f.eof_ends_record);
  sdk::Document doc;
  EXPECT_EQ(Parse(*p, "hello world\n", doc).kind, sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Field(doc, "line"), "hello world");
  EXPECT_EQ(Parse(*p, "crlf line\r\n", doc).kind, sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Field(doc, "line"), "crlf line");
  EXPECT_EQ(Parse(*p, "last line without newline", doc).kind, sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Field(doc, "line"), "last line without newline");
  EXPECT_EQ(Parse(*p, "  \n", doc).kind, sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Field(doc, "line"), "  ");
  for (const char* blank : {"\n", "\r\n", ""}) {
    sdk::ParseResult r = Parse(*p, blank, doc);
    EXPECT_EQ(r.kind, sdk::ParseResult::Kind::kSkip);
    EXPECT_EQ(r.reason, "blank line");
  }
}

TEST(BuiltinParsersTest, LinesOptions) {
  EXPECT_TRUE(Make("lines", ""));
  EXPECT_TRUE(Make("lines", "null"));
  EXPECT_EQ(CreateError("lines", R"j({"pattern":"x"})j"),
            "parser 'lines': unknown option 'pattern' (it takes no options)");
  EXPECT_EQ(CreateError("lines", "[1]"),
            "parser 'lines': read.options must be a mapping of options");
  EXPECT_EQ(CreateError("lines", "{"), "parser 'lines': read.options is not valid JSON");
}

TEST(BuiltinParsersTest, RegexOptionErrors) {
  EXPECT_EQ(CreateError("regex", "{}"),
            "regex parser: give exactly one of options 'pattern' (an RE2 regular expression with "
            "named groups) or 'preset' (apache_common, apache_combined, nginx_combined)");
  EXPECT_NE(CreateError("regex", R"j({"pattern":"(?P<a>x)","preset":"apache_common"})j")
                .find("exactly one of"),
            std::string::npos);
  EXPECT_EQ(CreateError("regex", R"j({"presets":"apache_common"})j"),
            "parser 'regex': unknown option 'presets' (did you mean 'preset'?) (known: pattern, "
            "preset)");
  EXPECT_EQ(CreateError("regex", R"j({"preset":"apache_combine"})j"),
            "regex parser: unknown preset 'apache_combine' (did you mean 'apache_combined'?) "
            "(known: apache_common, apache_combined, nginx_combined)");
  EXPECT_EQ(CreateError("regex", R"j({"preset":5})j"),
            "parser 'regex': option 'preset' must be a string");
  EXPECT_EQ(CreateError("regex", R"j({"pattern":""})j"),
            "parser 'regex': option 'pattern' is empty");
  EXPECT_EQ(CreateError("regex", R"j({"pattern":"(?P<a>x"})j"),
            "regex parser: invalid pattern: missing ): (?P<a>x");
  EXPECT_EQ(CreateError("regex", R"j({"pattern":"(\\d+) (\\w+)"})j"),
            "regex parser: the pattern has no named group; name each field to keep, e.g. "
            "(?P<status>\\d+)");
}

TEST(BuiltinParsersTest, RegexCustomPattern) {
  auto p = Make(
      "regex", R"j({"pattern":"(?P<level>[A-Z]+) (\\d+) (?P<msg>.*?)(?: \\[(?P<tag>\\w+)\\])?"})j");
  ASSERT_TRUE(p);
  auto* rp = dynamic_cast<builtin::RegexParser*>(p.get());
  ASSERT_NE(rp, nullptr);
  EXPECT_EQ(rp->field_names(), (std::vector<std::string>{"level", "msg", "tag"}));
  sdk::Document doc;
  ASSERT_EQ(Parse(*p, "WARN 42 disk almost full [disk]\n", doc).kind,
            sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Field(doc, "level"), "WARN");
  EXPECT_EQ(Field(doc, "msg"), "disk almost full");
  EXPECT_EQ(Field(doc, "tag"), "disk");
  ASSERT_EQ(Parse(*p, "INFO 7 started", doc).kind, sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Field(doc, "msg"), "started");
  EXPECT_EQ(Field(doc, "tag"), "<null>");  // the optional group did not participate
  EXPECT_EQ(Field(doc, "unnamed"), std::nullopt);
  // The whole line must match: a prefix match is not enough.
  sdk::ParseResult r = Parse(*p, "info 7 lower case level\n", doc);
  EXPECT_EQ(r.kind, sdk::ParseResult::Kind::kError);
  EXPECT_EQ(r.reason,
            "line does not match the regex (pattern \"(?P<level>[A-Z]+) (\\d+) "
            "(?P<msg>.*?)(?: \\[(?P<tag>\\w+)\\])?\")");
  EXPECT_EQ(Parse(*p, "\n", doc).kind, sdk::ParseResult::Kind::kSkip);

  auto longp = Make(
      "regex",
      R"j({"pattern":"(?P<a>a{1,3})bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"})j");
  ASSERT_TRUE(longp);
  r = Parse(*longp, "zzz", doc);
  EXPECT_EQ(r.reason,
            "line does not match the regex (pattern "
            "\"(?P<a>a{1,3})bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...\")");
}

struct Expect {
  const char* key;
  const char* value;  // "<null>" for a null field
};

void ExpectFields(const sdk::Document& doc, std::initializer_list<Expect> fields) {
  for (const Expect& e : fields) EXPECT_EQ(Field(doc, e.key), std::string(e.value)) << e.key;
}

TEST(BuiltinParsersTest, ApacheCombined) {
  auto p = Make("regex", R"j({"preset":"apache_combined"})j");
  ASSERT_TRUE(p);
  sdk::Document doc;
  ASSERT_EQ(Parse(*p,
                  "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" "
                  "200 2326 \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I "
                  ";Nav)\"\n",
                  doc)
                .kind,
            sdk::ParseResult::Kind::kDocument);
  ExpectFields(doc, {{"client", "127.0.0.1"},
                     {"ident", "<null>"},
                     {"user", "frank"},
                     {"time", "10/Oct/2000:13:55:36 -0700"},
                     {"method", "GET"},
                     {"path", "/apache_pb.gif"},
                     {"protocol", "HTTP/1.0"},
                     {"status", "200"},
                     {"bytes", "2326"},
                     {"referer", "http://www.example.com/start.html"},
                     {"user_agent", "Mozilla/4.08 [en] (Win98; I ;Nav)"}});
  // IPv6 client, '-' bytes, '-' referer, escaped quotes in the user agent, CRLF.
  ASSERT_EQ(Parse(*p,
                  "2001:db8:85a3::8a2e:370:7334 - - [01/Feb/2024:00:00:01 +0100] \"POST "
                  "/api/v1/items?id=5&q=a%20b HTTP/2.0\" 204 - \"-\" \"curl/8.5 \\\"quoted\\\" "
                  "agent\"\r\n",
                  doc)
                .kind,
            sdk::ParseResult::Kind::kDocument);
  ExpectFields(doc, {{"client", "2001:db8:85a3::8a2e:370:7334"},
                     {"user", "<null>"},
                     {"method", "POST"},
                     {"path", "/api/v1/items?id=5&q=a%20b"},
                     {"protocol", "HTTP/2.0"},
                     {"status", "204"},
                     {"bytes", "<null>"},
                     {"referer", "<null>"},
                     {"user_agent", "curl/8.5 \\\"quoted\\\" agent"}});
  // No request line received ("-"), empty user agent.
  ASSERT_EQ(Parse(*p, "10.0.0.1 - - [01/Feb/2024:00:00:02 +0000] \"-\" 408 0 \"-\" \"\"", doc).kind,
            sdk::ParseResult::Kind::kDocument);
  ExpectFields(doc, {{"method", "<null>"},
                     {"path", "<null>"},
                     {"protocol", "<null>"},
                     {"status", "408"},
                     {"bytes", "0"},
                     {"user_agent", ""}});
  // HTTP/0.9: no protocol.
  ASSERT_EQ(
      Parse(*p, "h.example.org - - [01/Feb/2024:00:00:03 +0000] \"GET /\" 200 12 \"-\" \"-\"", doc)
          .kind,
      sdk::ParseResult::Kind::kDocument);
  ExpectFields(doc, {{"client", "h.example.org"}, {"path", "/"}, {"protocol", "<null>"}});

  for (const char* bad : {
           "garbage\n",
           // common format: the referer and user agent are missing
           "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\n",
           // trailing field not in the format
           "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326 \"-\" \"-\" "
           "\"1.2.3.4\"\n",
           // a binary probe instead of a request line
           "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"\\x16\\x03\\x01\" 400 0 \"-\" \"-\"\n",
           // status is not three digits
           "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 2000 1 \"-\" \"-\"\n",
       }) {
    sdk::ParseResult r = Parse(*p, bad, doc);
    EXPECT_EQ(r.kind, sdk::ParseResult::Kind::kError) << bad;
    EXPECT_EQ(r.reason, "line does not match the regex (preset apache_combined)") << bad;
  }
}

TEST(BuiltinParsersTest, ApacheCommon) {
  auto p = Make("regex", R"j({"preset":"apache_common"})j");
  ASSERT_TRUE(p);
  sdk::Document doc;
  ASSERT_EQ(Parse(*p,
                  "127.0.0.1 user-identifier frank [10/Oct/2000:13:55:36 -0700] \"GET "
                  "/apache_pb.gif HTTP/1.0\" 200 2326\n",
                  doc)
                .kind,
            sdk::ParseResult::Kind::kDocument);
  ExpectFields(doc, {{"client", "127.0.0.1"},
                     {"ident", "user-identifier"},
                     {"user", "frank"},
                     {"time", "10/Oct/2000:13:55:36 -0700"},
                     {"method", "GET"},
                     {"path", "/apache_pb.gif"},
                     {"protocol", "HTTP/1.0"},
                     {"status", "200"},
                     {"bytes", "2326"}});
  EXPECT_EQ(Field(doc, "referer"), std::nullopt);
  ASSERT_EQ(Parse(*p, "::1 - - [10/Oct/2000:13:55:36 -0700] \"HEAD /x HTTP/1.1\" 304 -", doc).kind,
            sdk::ParseResult::Kind::kDocument);
  ExpectFields(doc, {{"client", "::1"}, {"bytes", "<null>"}, {"method", "HEAD"}});
  sdk::ParseResult r = Parse(*p,
                             "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 "
                             "2326 \"-\" \"Mozilla/5.0\"",
                             doc);
  EXPECT_EQ(r.kind, sdk::ParseResult::Kind::kError);
  EXPECT_EQ(r.reason, "line does not match the regex (preset apache_common)");
}

TEST(BuiltinParsersTest, NginxCombined) {
  auto p = Make("regex", R"j({"preset":"nginx_combined"})j");
  ASSERT_TRUE(p);
  sdk::Document doc;
  ASSERT_EQ(Parse(*p,
                  "203.0.113.7 - alice [12/Mar/2024:06:25:24 +0000] \"GET /index.html?a=1 "
                  "HTTP/2.0\" 304 0 \"https://example.com/\" \"Mozilla/5.0 (X11; Linux x86_64) "
                  "\\x22x\\x22\"\n",
                  doc)
                .kind,
            sdk::ParseResult::Kind::kDocument);
  ExpectFields(doc, {{"client", "203.0.113.7"},
                     {"user", "alice"},
                     {"time", "12/Mar/2024:06:25:24 +0000"},
                     {"method", "GET"},
                     {"path", "/index.html?a=1"},
                     {"protocol", "HTTP/2.0"},
                     {"status", "304"},
                     {"bytes", "0"},
                     {"referer", "https://example.com/"},
                     {"user_agent", "Mozilla/5.0 (X11; Linux x86_64) \\x22x\\x22"}});
  EXPECT_EQ(Field(doc, "ident"), std::nullopt);  // nginx logs a literal "-" there
  ASSERT_EQ(Parse(*p,
                  "fe80::1%eth0 - - [12/Mar/2024:06:25:25 +0000] \"DELETE /v1/x HTTP/1.1\" 499 0 "
                  "\"-\" \"-\"",
                  doc)
                .kind,
            sdk::ParseResult::Kind::kDocument);
  ExpectFields(doc, {{"client", "fe80::1%eth0"}, {"status", "499"}, {"user_agent", "<null>"}});
  sdk::ParseResult r = Parse(*p,
                             "1.2.3.4 ident - [12/Mar/2024:06:25:25 +0000] \"GET / HTTP/1.1\" 200 "
                             "1 \"-\" \"-\"",
                             doc);
  EXPECT_EQ(r.kind, sdk::ParseResult::Kind::kError);
  EXPECT_EQ(r.reason, "line does not match the regex (preset nginx_combined)");
}

// A preset is matched as a chain of one-pass segments for speed; the chain must accept exactly
// the lines the whole pattern accepts, with the same fields ("-" placeholders aside).
TEST(BuiltinParsersTest, PresetSegmentsAgreeWithWholePattern) {
  const std::vector<std::string> lines = {
      "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 "
      "\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"",
      "2001:db8::1 id - [01/Feb/2024:00:00:01 +0100] \"POST /a\\\"b?x=\\\\ HTTP/2.0\" 204 - \"-\" "
      "\"curl \\\"q\\\"\"",
      "10.0.0.1 - - [01/Feb/2024:00:00:02 +0000] \"-\" 408 0 \"-\" \"\"",
      "h - - [x] \"GET /\" 200 12 \"-\" \"-\"",
      "h - - [x] \"GET /\" 200 12",
      "h - - [x] \"GET / HTTP/1.1\" 200 12 \"-\" \"-\" \"extra\"",
      "h - - [x] \"GET  HTTP/1.1\" 200 12 \"-\" \"-\"",
      "h - - [x] \"GET / HTTP/1.1 \" 200 12 \"-\" \"-\"",
      "h - - [x]  \"GET / HTTP/1.1\" 200 12 \"-\" \"-\"",
      "h - - [x] \"GET / HTTP/1.1\" 200 12 \"a\\\" \"-\"",
      "h - - [] \"GET / HTTP/1.1\" 200 12 \"-\" \"-\"",
      "h  - - [x] \"GET / HTTP/1.1\" 200 12 \"-\" \"-\"",
      "h - - [x] \"GET / HTTP/1.1\" 20 12 \"-\" \"-\"",
      "h - - [x] \"\" 200 12 \"-\" \"-\"",
  };
  for (const std::string& preset : builtin::RegexPresetNames()) {
    auto parser = Make("regex", "{\"preset\":\"" + preset + "\"}");
    ASSERT_TRUE(parser);
    const std::optional<std::string> whole = builtin::RegexPresetPattern(preset);
    ASSERT_TRUE(whole);
    RE2 re(*whole);
    ASSERT_TRUE(re.ok()) << re.error();
    const int n = re.NumberOfCapturingGroups();
    std::vector<re2::StringPiece> m(static_cast<size_t>(n) + 1);
    for (const std::string& line : lines) {
      sdk::Document doc;
      const bool whole_ok = re.Match(line, 0, line.size(), RE2::ANCHOR_BOTH, m.data(), n + 1);
      const sdk::ParseResult r = Parse(*parser, line, doc);
      ASSERT_EQ(r.kind == sdk::ParseResult::Kind::kDocument, whole_ok) << preset << ": " << line;
      if (!whole_ok) continue;
      for (const auto& [name, group] : re.NamedCapturingGroups()) {
        const re2::StringPiece& g = m[static_cast<size_t>(group)];
        std::string want = g.data() == nullptr ? "<null>" : std::string(g.data(), g.size());
        if (want == "-" && name != "client" && name != "time") want = "<null>";
        EXPECT_EQ(Field(doc, name), want) << preset << ": " << name << " in " << line;
      }
    }
  }
}

// Throughput of the regex hot path (RegexParser::Parse + Projector::ProjectDocument) on generated
// Apache combined lines, one core. Disabled by default; run:
//   parse_tests --gtest_also_run_disabled_tests --gtest_filter='*RegexBench*'
// `preset` picks the line shape: apache_common drops referer and user agent.
std::string MakeAccessLog(size_t n, size_t* lines, const std::string& preset = "apache_combined") {
  std::mt19937_64 rng(7);
  const char* methods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE", "HEAD"};
  const int statuses[] = {200, 200, 200, 200, 301, 304, 404, 500};
  const char* agents[] = {
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
      "Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
      "curl/8.5.0", "Googlebot/2.1 (+http://www.google.com/bot.html) \\\"x\\\""};
  std::string out;
  char buf[1024];
  for (*lines = 0; out.size() < n; ++*lines) {
    const uint64_t r = rng();
    const int len = std::snprintf(
        buf, sizeof(buf),
        "%u.%u.%u.%u - - [%02u/Mar/2024:%02u:%02u:%02u +0000] \"%s /shop/item/%u?ref=%u "
        "HTTP/1.1\" %d %u \"https://www.example.com/c/%u\" \"%s\"\n",
        static_cast<unsigned>(r & 255), static_cast<unsigned>((r >> 8) & 255),
        static_cast<unsigned>((r >> 16) & 255), static_cast<unsigned>((r >> 24) & 255),
        static_cast<unsigned>(1 + (r >> 32) % 28), static_cast<unsigned>((r >> 37) % 24),
        static_cast<unsigned>((r >> 42) % 60), static_cast<unsigned>((r >> 48) % 60),
        methods[(r >> 54) % 7], static_cast<unsigned>(rng() % 100000),
        static_cast<unsigned>(rng() % 1000), statuses[(r >> 58) % 8],
        static_cast<unsigned>(rng() % 50000), static_cast<unsigned>(rng() % 500),
        agents[(r >> 61) % 4]);
    std::string_view line(buf, static_cast<size_t>(len));
    if (preset == "apache_common") {
      line = line.substr(0, line.find(" \"https:"));
      out.append(line);
      out.push_back('\n');
    } else {
      out.append(line);
    }
  }
  return out;
}

double ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

void BenchParseAndProject(const std::string& preset) {
  size_t lines = 0;
  const std::string data = MakeAccessLog(64u << 20, &lines, preset);
  auto parser = CreateBuiltinParser("regex", "{\"preset\":\"" + preset + "\"}");
  ASSERT_TRUE(parser.ok());
  auto col = [](const char* name, ColumnType t) {
    ColumnConfig c;
    c.name = name;
    c.path = std::string("/") + name;
    c.type = t;
    return c;
  };
  DatasetConfig cfg;
  cfg.read.parser = "regex";
  cfg.write.columns = {col("client", ColumnType::kString),  col("time", ColumnType::kString),
                       col("method", ColumnType::kString),  col("path", ColumnType::kString),
                       col("status", ColumnType::kInt64),   col("bytes", ColumnType::kInt64),
                       col("referer", ColumnType::kString), col("user_agent", ColumnType::kString)};
  auto proj = Projector::Create(cfg);
  ASSERT_TRUE(proj.ok()) << proj.status().ToString();
  ColumnBatch batch((*proj)->schema());
  sdk::Document doc;
  std::string reason;
  // Pass 1: parse + project (the runner's per-record work after splitting); pass 2: parse only.
  // Each pass is timed as a whole (no per-line clock reads) on this thread's CPU clock.
  double secs[2] = {0, 0};
  for (int pass = 0; pass < 2; ++pass) {
    size_t docs = 0;
    const double t0 = ThreadCpuNs();
    size_t pos = 0;
    while (pos < data.size()) {
      size_t end = data.find('\n', pos);
      end = end == std::string::npos ? data.size() : end + 1;
      const std::string_view rec(data.data() + pos, end - pos);
      pos = end;
      doc.Clear();
      sdk::ParseResult r = (*parser)->Parse(sdk::RecordContext{}, rec, doc);
      ASSERT_EQ(r.kind, sdk::ParseResult::Kind::kDocument) << rec;
      if (pass == 0) {
        ASSERT_TRUE((*proj)->ProjectDocument(doc, batch, &reason)) << reason;
        if (++docs % 8192 == 0) batch.Clear();  // as the runner flushes batches
      }
    }
    secs[pass] = (ThreadCpuNs() - t0) / 1e9;
  }
  const double mib = data.size() / 1048576.0;
  std::printf(
      "regex %s: %zu lines, %.1f MiB; parse+project %.2f s CPU: %.0f lines/s, %.1f MiB/s per "
      "core; parse only: %.1f MiB/s\n",
      preset.c_str(), lines, mib, secs[0], lines / secs[0], mib / secs[0], mib / secs[1]);
}

TEST(RegexBench, DISABLED_ApacheCombinedParseAndProject) {
  BenchParseAndProject("apache_combined");
}
TEST(RegexBench, DISABLED_ApacheCommonParseAndProject) { BenchParseAndProject("apache_common"); }
TEST(RegexBench, DISABLED_NginxCombinedParseAndProject) { BenchParseAndProject("nginx_combined"); }

}  // namespace
}  // namespace weir
