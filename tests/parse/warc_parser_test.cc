// Tests of the `warc` parser: hand-made WARC/1.0 and WARC/1.1 records (tests/data/warc), every
// error the parser reports, the options, and real crawler output: a local HTTP server crawled by
// wget --warc-file, split by the engine's pattern splitter and parsed record by record.

#include "parse/builtin/warc_parser.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "parse/pattern_splitter.h"

extern char** environ;

namespace weir::builtin {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A record built like a writer would: version line, fields, Content-Length, block, trailer.
std::string Record(std::string_view version, const std::vector<std::string>& fields,
                   std::string_view block) {
  std::string r(version);
  r += "\r\n";
  for (const std::string& f : fields) r += f + "\r\n";
  r += "Content-Length: " + std::to_string(block.size()) + "\r\n\r\n";
  r.append(block);
  r += "\r\n\r\n";
  return r;
}

const std::vector<std::string> kBasicFields = {
    "WARC-Type: resource", "WARC-Date: 2024-05-01T10:00:00Z",
    "WARC-Record-ID: <urn:uuid:11111111-2222-4333-8444-555555555555>"};

// The string value at a JSON pointer given as tokens, or "<missing>" / "<not a string>".
std::string Str(const sdk::Document& doc, const std::vector<std::string>& tokens) {
  const sdk::Document::Node* n = doc.Find(tokens);
  if (n == nullptr) return "<missing>";
  if (n->kind != sdk::Document::Kind::kString) return "<not a string>";
  return std::string(doc.text(*n));
}

int64_t Int(const sdk::Document& doc, const std::vector<std::string>& tokens) {
  const sdk::Document::Node* n = doc.Find(tokens);
  EXPECT_NE(n, nullptr);
  if (n == nullptr) return -1;
  EXPECT_TRUE(n->kind == sdk::Document::Kind::kInt || n->kind == sdk::Document::Kind::kBool);
  return n->i;
}

// Parses one record with `parser`; the document is left in `doc`.
sdk::ParseResult ParseWith(WarcParser& parser, std::string_view record, sdk::Document& doc) {
  doc.Clear();
  sdk::RecordContext ctx;
  ctx.file_type = parser.file_type();
  return parser.Parse(ctx, record, doc);
}

// The error reason of parsing `record` ("" when it parsed).
std::string ErrorOf(std::string_view record) {
  WarcParser parser;
  sdk::Document doc;
  sdk::ParseResult r = ParseWith(parser, record, doc);
  if (r.kind == sdk::ParseResult::Kind::kDocument) return "";
  EXPECT_EQ(r.kind, sdk::ParseResult::Kind::kError);
  return r.reason;
}

// Splits a whole (decompressed) WARC file with the engine's splitter driven by the parser's
// format and BodyLength; fails the test on any delimiting problem.
std::vector<std::string_view> Split(const WarcParser& parser, std::string_view data) {
  std::unique_ptr<RecordSplitter> splitter = MakePatternSplitter(
      parser.format(), 64 << 20, [&](std::string_view h) { return parser.BodyLength(h); });
  std::vector<RecordView> views;
  const size_t used = splitter->Split(data, /*at_eof=*/true, 0, 0, views);
  EXPECT_EQ(used, data.size());
  std::vector<std::string_view> out;
  uint64_t expected_offset = 0;
  for (const RecordView& v : views) {
    EXPECT_EQ(v.problem, nullptr) << v.problem << " at offset " << v.offset;
    EXPECT_FALSE(v.oversize);
    EXPECT_EQ(v.offset, expected_offset) << "records should tile the file";
    expected_offset = v.end_offset;
    out.push_back(v.bytes);
  }
  return out;
}

// ---- format, length, options ----------------------------------------------------------------

TEST(WarcParserTest, FormatAndFileType) {
  WarcParser parser;
  EXPECT_EQ(parser.file_type(), "WARC");
  const sdk::RecordFormat f = parser.format();
  EXPECT_EQ(f.kind, sdk::RecordFormat::Kind::kHeaderBody);
  EXPECT_EQ(f.start, "WARC/");
  EXPECT_EQ(f.end, "\r\n\r\n");
  EXPECT_EQ(f.trailer, "\r\n\r\n");
  EXPECT_TRUE(ValidateRecordFormat(f).ok());
}

TEST(WarcParserTest, BodyLength) {
  WarcParser p;
  auto len = [&](std::string_view fields) {
    return p.BodyLength("WARC/1.1\r\nWARC-Type: resource\r\n" + std::string(fields) + "\r\n");
  };
  EXPECT_EQ(len("Content-Length: 120\r\n"), 120);
  EXPECT_EQ(len("content-length:0\r\n"), 0);
  EXPECT_EQ(len("CONTENT-LENGTH: \t 007 \t\r\n"), 7);
  EXPECT_EQ(len("Content-Length:\r\n  42\r\n"), 42);  // value on a continuation line
  EXPECT_EQ(len("Content-Length: 9223372036854775807\r\n"), INT64_MAX);
  EXPECT_EQ(len(""), -1);                     // absent
  EXPECT_EQ(len("Content-Length:\r\n"), -1);  // empty
  EXPECT_EQ(len("Content-Length: 12a\r\n"), -1);
  EXPECT_EQ(len("Content-Length: +5\r\n"), -1);
  EXPECT_EQ(len("Content-Length: -5\r\n"), -1);
  EXPECT_EQ(len("Content-Length: 1 2\r\n"), -1);
  EXPECT_EQ(len("Content-Length: 0x10\r\n"), -1);
  EXPECT_EQ(len("Content-Length: 9223372036854775808\r\n"), -1);     // int64 overflow
  EXPECT_EQ(len("Content-Length: 5\r\nContent-Length: 5\r\n"), -1);  // repeated
  EXPECT_EQ(len("X-Content-Length: 5\r\n"), -1);
  EXPECT_EQ(p.BodyLength("WARC/1.1\r\nContent-Length: 5\r\n"), -1);  // no end of header block
}

TEST(WarcParserTest, Options) {
  auto max_of = [](const std::string& json) -> std::optional<uint64_t> {
    Result<std::unique_ptr<sdk::Parser>> p = CreateWarcParser(json);
    EXPECT_TRUE(p.ok()) << json << ": " << p.status().ToString();
    if (!p.ok()) return 12345;
    return static_cast<WarcParser&>(**p).max_body_bytes();
  };
  EXPECT_EQ(max_of(""), std::nullopt);
  EXPECT_EQ(max_of("{}"), std::nullopt);
  EXPECT_EQ(max_of("null"), std::nullopt);
  EXPECT_EQ(max_of(R"({"max_body_bytes": 1000})"), 1000u);
  EXPECT_EQ(max_of(R"({"max_body_bytes": 0})"), 0u);

  auto error_of = [](const std::string& json) {
    Result<std::unique_ptr<sdk::Parser>> p = CreateWarcParser(json);
    EXPECT_FALSE(p.ok()) << json;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    return p.status().message();
  };
  EXPECT_EQ(error_of(R"({"max_body_byte": 10})"),
            "parser 'warc': unknown option 'max_body_byte' (did you mean 'max_body_bytes'?) "
            "(known: max_body_bytes)");
  EXPECT_EQ(error_of(R"({"pattern": "x"})"),
            "parser 'warc': unknown option 'pattern' (known: max_body_bytes)");
  EXPECT_EQ(error_of(R"({"max_body_bytes": -1})"),
            "parser 'warc': option 'max_body_bytes' must be a non-negative integer (got -1)");
  EXPECT_EQ(error_of(R"({"max_body_bytes": 1.5})"),
            "parser 'warc': option 'max_body_bytes' must be a non-negative integer (got 1.5)");
  EXPECT_EQ(error_of(R"({"max_body_bytes": "10"})"),
            "parser 'warc': option 'max_body_bytes' must be a non-negative integer (got \"10\")");
  EXPECT_EQ(error_of(R"({"max_body_bytes": true})"),
            "parser 'warc': option 'max_body_bytes' must be a non-negative integer (got true)");
  EXPECT_EQ(error_of("[1]"), "parser 'warc': read.options must be a mapping of options");
  EXPECT_EQ(error_of("{"), "parser 'warc': read.options is not valid JSON");
}

// ---- hand-made records ------------------------------------------------------------------------

TEST(WarcParserTest, HandMadeFile) {
  const std::string data = ReadFile(fs::path(WEIR_SOURCE_DIR) / "tests/data/warc/handmade.warc");
  ASSERT_FALSE(data.empty());
  WarcParser parser;
  const std::vector<std::string_view> records = Split(parser, data);
  ASSERT_EQ(records.size(), 6u);
  std::vector<sdk::Document> docs(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    sdk::ParseResult r = ParseWith(parser, records[i], docs[i]);
    ASSERT_EQ(r.kind, sdk::ParseResult::Kind::kDocument) << "record " << i << ": " << r.reason;
  }

  // warcinfo, WARC/1.1, UTF-8 text block.
  const sdk::Document& info = docs[0];
  EXPECT_EQ(Str(info, {"version"}), "WARC/1.1");
  EXPECT_EQ(Str(info, {"headers", "WARC-Type"}), "warcinfo");
  EXPECT_EQ(Str(info, {"headers", "WARC-Filename"}), "handmade.warc");
  EXPECT_EQ(Str(info, {"headers", "Content-Length"}), "93");
  EXPECT_EQ(Int(info, {"content_length"}), 93);
  EXPECT_EQ(Str(info, {"body_encoding"}), "text");
  EXPECT_EQ(Str(info, {"body"}),
            "software: hand-written for weir tests\r\nformat: WARC File Format 1.1\r\n"
            "description: caf\xc3\xa9 \xe2\x98\x95\r\n");
  EXPECT_EQ(Int(info, {"body_truncated"}), 0);

  // request: its block ends with "\r\n\r\n" itself; the length, not the pattern, ends it.
  const sdk::Document& request = docs[1];
  EXPECT_EQ(Str(request, {"headers", "WARC-Type"}), "request");
  EXPECT_EQ(Str(request, {"headers", "WARC-Date"}), "2024-05-01T10:00:01.123456Z");
  EXPECT_EQ(Str(request, {"body"}),
            "GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: weir-test\r\n\r\n");

  // response: names kept as written, values trimmed, repeated field joined.
  const sdk::Document& response = docs[2];
  EXPECT_EQ(Str(response, {"headers", "warc-type"}), "response");
  EXPECT_EQ(Str(response, {"headers", "WARC-Type"}), "<missing>");
  EXPECT_EQ(Str(response, {"headers", "WARC-Date"}), "2024-05-01T10:00:02Z");
  EXPECT_EQ(Str(response, {"headers", "WARC-Concurrent-To"}),
            "<urn:uuid:00000000-0000-4000-8000-000000000002>, "
            "<urn:uuid:00000000-0000-4000-8000-000000000009>");
  EXPECT_NE(Str(response, {"body"}).find("<title>Hand Made Page</title>"), std::string::npos);

  // metadata, WARC/1.0, continuation lines folded.
  const sdk::Document& metadata = docs[3];
  EXPECT_EQ(Str(metadata, {"version"}), "WARC/1.0");
  EXPECT_EQ(Str(metadata, {"headers", "WARC-Type"}), "metadata");
  EXPECT_EQ(Str(metadata, {"headers", "WARC-Record-ID"}),
            "<urn:uuid:00000000-0000-4000-8000-000000000004>");
  EXPECT_EQ(Str(metadata, {"headers", "X-Note"}), "first part second part third part");
  EXPECT_EQ(Str(metadata, {"headers", "Content-Type"}), "application/warc-fields");
  EXPECT_EQ(Str(metadata, {"body"}), "via: http://example.test/\r\nhopsFromSeed: L\r\n");

  // resource with a binary block: base64 of the exact bytes.
  const sdk::Document& resource = docs[4];
  EXPECT_EQ(Str(resource, {"body_encoding"}), "base64");
  EXPECT_EQ(Str(resource, {"body"}), "iVBORw0KGgoAAAANSUhEUv/+gA==");
  EXPECT_EQ(Int(resource, {"content_length"}), 19);

  // empty block.
  const sdk::Document& empty = docs[5];
  EXPECT_EQ(Str(empty, {"body"}), "");
  EXPECT_EQ(Str(empty, {"body_encoding"}), "text");
  EXPECT_EQ(Int(empty, {"content_length"}), 0);
  // The field order of the document is the record's.
  std::vector<std::string> keys;
  for (const sdk::Document::Node& n : empty.nodes()) {
    if (&n != &empty.nodes()[0]) keys.emplace_back(empty.key(n));
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"version", "headers", "WARC-Type", "WARC-Date",
                                            "WARC-Record-ID", "Content-Length", "content_length",
                                            "body", "body_encoding", "body_truncated"}));
}

TEST(WarcParserTest, BinaryBodyIsBase64) {
  const std::string block("\x00\x01\x02\xff text", 9);
  WarcParser parser;
  sdk::Document doc;
  ASSERT_EQ(ParseWith(parser, Record("WARC/1.1", kBasicFields, block), doc).kind,
            sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Str(doc, {"body_encoding"}), "base64");
  EXPECT_EQ(Str(doc, {"body"}), "AAEC/yB0ZXh0");
  // An overlong encoding and a lone surrogate are not valid UTF-8 either.
  ASSERT_EQ(ParseWith(parser, Record("WARC/1.1", kBasicFields, "\xc0\xaf"), doc).kind,
            sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Str(doc, {"body_encoding"}), "base64");
  ASSERT_EQ(ParseWith(parser, Record("WARC/1.1", kBasicFields, "\xed\xa0\x80"), doc).kind,
            sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Str(doc, {"body_encoding"}), "base64");
}

TEST(WarcParserTest, MaxBodyBytes) {
  sdk::Document doc;
  WarcParser five(5);
  ASSERT_EQ(ParseWith(five, Record("WARC/1.1", kBasicFields, "hello world"), doc).kind,
            sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Str(doc, {"body"}), "hello");
  EXPECT_EQ(Int(doc, {"body_truncated"}), 1);
  EXPECT_EQ(Int(doc, {"content_length"}), 11);  // the record's, not what was kept

  ASSERT_EQ(ParseWith(five, Record("WARC/1.1", kBasicFields, "hello"), doc).kind,
            sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Str(doc, {"body"}), "hello");
  EXPECT_EQ(Int(doc, {"body_truncated"}), 0);

  // A cut inside a multi-byte character keeps the whole characters before it, as text.
  ASSERT_EQ(ParseWith(five, Record("WARC/1.1", kBasicFields, "caf\xc3\xa9s"), doc).kind,
            sdk::ParseResult::Kind::kDocument);  // "café" is 5 bytes: fits exactly
  EXPECT_EQ(Str(doc, {"body"}), "caf\xc3\xa9");
  WarcParser four(4);
  ASSERT_EQ(ParseWith(four, Record("WARC/1.1", kBasicFields, "caf\xc3\xa9s"), doc).kind,
            sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Str(doc, {"body"}), "caf");
  EXPECT_EQ(Str(doc, {"body_encoding"}), "text");
  WarcParser two(2);
  ASSERT_EQ(ParseWith(two, Record("WARC/1.1", kBasicFields, "\xe2\x98\x95\xe2\x98\x95"), doc).kind,
            sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Str(doc, {"body"}), "");
  EXPECT_EQ(Str(doc, {"body_encoding"}), "text");

  // Binary blocks are cut at the byte limit, then base64-encoded.
  WarcParser three(3);
  ASSERT_EQ(
      ParseWith(three, Record("WARC/1.1", kBasicFields, std::string("\xff\x00\x01\x02", 4)), doc)
          .kind,
      sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Str(doc, {"body"}), "/wAB");
  EXPECT_EQ(Str(doc, {"body_encoding"}), "base64");

  WarcParser zero(0);
  ASSERT_EQ(ParseWith(zero, Record("WARC/1.1", kBasicFields, "abc"), doc).kind,
            sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Str(doc, {"body"}), "");
  EXPECT_EQ(Int(doc, {"body_truncated"}), 1);
}

TEST(WarcParserTest, ParserReusedAcrossRecords) {
  WarcParser parser;
  sdk::Document doc;
  std::vector<std::string> many = kBasicFields;
  for (int i = 0; i < 20; ++i)
    many.push_back("X-Field-" + std::to_string(i) + ": v" + std::to_string(i));
  ASSERT_EQ(ParseWith(parser, Record("WARC/1.1", many, "a"), doc).kind,
            sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Str(doc, {"headers", "X-Field-19"}), "v19");
  ASSERT_EQ(ParseWith(parser, Record("WARC/1.0", kBasicFields, "b"), doc).kind,
            sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Str(doc, {"headers", "X-Field-0"}), "<missing>");
  EXPECT_EQ(Str(doc, {"version"}), "WARC/1.0");
  EXPECT_EQ(Str(doc, {"body"}), "b");
}

// ---- errors -------------------------------------------------------------------------------

TEST(WarcParserTest, BadVersion) {
  EXPECT_EQ(ErrorOf(Record("WARC/0.17", kBasicFields, "x")),
            "unsupported WARC version line \"WARC/0.17\" (expected WARC/1.0 or WARC/1.1)");
  EXPECT_EQ(ErrorOf(Record("WARC/1.1 ", kBasicFields, "x")),
            "unsupported WARC version line \"WARC/1.1 \" (expected WARC/1.0 or WARC/1.1)");
  EXPECT_EQ(ErrorOf(Record("WARC/2.0\x01", kBasicFields, "x")),
            "unsupported WARC version line \"WARC/2.0\\x01\" (expected WARC/1.0 or WARC/1.1)");
}

TEST(WarcParserTest, MissingRequiredHeaders) {
  // Content-Length is always written by Record(); drop the others one by one.
  for (size_t drop = 0; drop < kBasicFields.size(); ++drop) {
    std::vector<std::string> fields = kBasicFields;
    const std::string name = fields[drop].substr(0, fields[drop].find(':'));
    fields.erase(fields.begin() + static_cast<std::ptrdiff_t>(drop));
    EXPECT_EQ(ErrorOf(Record("WARC/1.1", fields, "x")), "missing required header " + name);
  }
  EXPECT_EQ(ErrorOf(Record("WARC/1.0", {"WARC-Date: 2024-05-01T10:00:00Z"}, "x")),
            "missing required headers WARC-Type, WARC-Record-ID");
  std::string no_length = "WARC/1.1\r\n";
  for (const std::string& f : kBasicFields) no_length += f + "\r\n";
  no_length += "\r\nabc\r\n\r\n";
  EXPECT_EQ(ErrorOf(no_length), "missing required header Content-Length");
  EXPECT_EQ(ErrorOf("WARC/1.1\r\n\r\n\r\n\r\n"),
            "missing required headers WARC-Type, WARC-Record-ID, WARC-Date, Content-Length");
}

TEST(WarcParserTest, MalformedHeaderLines) {
  std::vector<std::string> fields = kBasicFields;
  fields.insert(fields.begin() + 1, "this line has no colon");
  EXPECT_EQ(ErrorOf(Record("WARC/1.1", fields, "x")),
            "header line 3 has no ':' \"this line has no colon\"");

  fields = kBasicFields;
  fields.insert(fields.begin(), " leading continuation");
  EXPECT_EQ(ErrorOf(Record("WARC/1.1", fields, "x")),
            "header line 2 starts with a space or tab (a continuation line) but no field "
            "precedes it");

  fields = kBasicFields;
  fields.push_back(": no name");
  EXPECT_EQ(ErrorOf(Record("WARC/1.1", fields, "x")), "header line 5 has an empty field name");

  fields = kBasicFields;
  fields.push_back("Bad Name: v");
  EXPECT_EQ(ErrorOf(Record("WARC/1.1", fields, "x")),
            "header line 5: field name \"Bad Name\" contains a character not allowed in a name "
            "(space, control or separator)");

  fields = kBasicFields;
  fields.push_back("X-Odd: a\nb");
  EXPECT_EQ(ErrorOf(Record("WARC/1.1", fields, "x")),
            "header line 5 contains a bare CR or LF: \"X-Odd: a\\nb\"");

  fields = kBasicFields;
  fields.push_back("warc-type: request");
  EXPECT_EQ(ErrorOf(Record("WARC/1.1", fields, "x")),
            "header WARC-Type appears twice (header lines 2 and 5)");

  EXPECT_EQ(ErrorOf("WARC/1.1\r\nWARC-Type: resource\r\n"),
            "no end of the WARC header block (an empty line, \\r\\n\\r\\n)");
}

TEST(WarcParserTest, LengthAndTrailerErrors) {
  std::string fields;
  for (const std::string& f : kBasicFields) fields += f + "\r\n";
  const std::string head = "WARC/1.1\r\n" + fields;
  EXPECT_EQ(ErrorOf(head + "Content-Length: 12a\r\n\r\nabc\r\n\r\n"),
            "Content-Length \"12a\" is not a decimal number of bytes (header line 5)");
  EXPECT_EQ(ErrorOf(head + "Content-Length: 120\r\n\r\n" + std::string(118, 'x') + "\r\n\r\n"),
            "Content-Length 120 but the record has 118 body bytes");
  EXPECT_EQ(ErrorOf(head + "Content-Length: 3\r\n\r\nabcd\r\n\r\n"),
            "Content-Length 3 but the record has 4 body bytes");
  EXPECT_EQ(ErrorOf(head + "Content-Length: 3\r\n\r\nabc\r\n"),
            "the record does not end with the WARC trailer \\r\\n\\r\\n after its block "
            "(Content-Length 3)");
  EXPECT_EQ(ErrorOf(head + "Content-Length: 0\r\n\r\n"),
            "the record does not end with the WARC trailer \\r\\n\\r\\n after its block "
            "(Content-Length 0)");
}

// A record with a bad version line is still delimited by its Content-Length, so the engine
// reports it as one precise error record and the records after it parse.
TEST(WarcParserTest, BadRecordDoesNotBreakTheNextOnes) {
  WarcParser parser;
  const std::string data = Record("WARC/1.1", kBasicFields, "first") +
                           Record("WARC/9.9", kBasicFields, "WARC/1.1\r\n\r\n") +
                           Record("WARC/1.0", kBasicFields, "third");
  const std::vector<std::string_view> records = Split(parser, data);
  ASSERT_EQ(records.size(), 3u);
  sdk::Document doc;
  EXPECT_EQ(ParseWith(parser, records[0], doc).kind, sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(ParseWith(parser, records[1], doc).reason,
            "unsupported WARC version line \"WARC/9.9\" (expected WARC/1.0 or WARC/1.1)");
  ASSERT_EQ(ParseWith(parser, records[2], doc).kind, sdk::ParseResult::Kind::kDocument);
  EXPECT_EQ(Str(doc, {"body"}), "third");
}

// Every single-byte change and every truncation of the hand-made records gives a document or an
// error, never a crash (run under ASan/UBSan in the sanitizer build), and BodyLength never
// reads past its header.
TEST(WarcParserTest, MutatedRecordsNeverCrash) {
  const std::string data = ReadFile(fs::path(WEIR_SOURCE_DIR) / "tests/data/warc/handmade.warc");
  WarcParser parser(8);
  const std::vector<std::string_view> records = Split(parser, data);
  ASSERT_EQ(records.size(), 6u);
  sdk::Document doc;
  size_t documents = 0, errors = 0;
  for (std::string_view original : records) {
    for (size_t cut = 0; cut <= original.size(); ++cut) {
      const std::string truncated(original.substr(0, cut));  // exact size: ASan sees overreads
      const sdk::ParseResult r = ParseWith(parser, truncated, doc);
      (r.kind == sdk::ParseResult::Kind::kDocument ? documents : errors)++;
      (void)parser.BodyLength(truncated);
    }
    std::string mutated(original);
    for (size_t i = 0; i < mutated.size(); ++i) {
      const char saved = mutated[i];
      for (char c : {'\0', '\r', '\n', ' ', ':', '9', '\xff'}) {
        mutated[i] = c;
        const sdk::ParseResult r = ParseWith(parser, mutated, doc);
        (r.kind == sdk::ParseResult::Kind::kDocument ? documents : errors)++;
        if (r.kind == sdk::ParseResult::Kind::kError) {
          EXPECT_FALSE(r.reason.empty());
        }
        (void)parser.BodyLength(mutated);
      }
      mutated[i] = saved;
    }
  }
  EXPECT_GT(documents, 0u);
  EXPECT_GT(errors, 0u);
}

// ---- real crawler output ------------------------------------------------------------------

// A child process started with posix_spawnp; the destructor stops it (SIGTERM, then SIGKILL after
// a bounded wait) and reaps it.
class Child {
 public:
  // `stdout_path`: where the child's stdout and stderr go.
  static pid_t Spawn(const std::vector<std::string>& argv, const std::string& stdout_path) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    return rc == 0 ? pid : -1;
  }

  explicit Child(pid_t pid) : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { Stop(); }

  pid_t pid() const { return pid_; }
  // True while the child has not exited (reaps it when it has).
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && Running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_;
};

// Runs argv under `timeout` (so it cannot hang the test) and returns its exit code (-1: could
// not start or died from a signal).
int RunCommand(std::vector<std::string> argv, const std::string& output_path, int timeout_seconds) {
  argv.insert(argv.begin(), {"timeout", "-k", "5", std::to_string(timeout_seconds)});
  const pid_t pid = Child::Spawn(argv, output_path);
  if (pid <= 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A free TCP port on 127.0.0.1 (bound to 0, read back, released).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool CanConnect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// A 2x2 RGB PNG (red pixels): a real image whose bytes are not UTF-8.
const unsigned char kPng[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfd,
    0xd4, 0x9a, 0x73, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8,
    0xcf, 0xc0, 0x00, 0x44, 0x0c, 0x10, 0x0a, 0x00, 0x1f, 0xee, 0x03, 0xfd, 0x8b, 0x5f, 0x14,
    0xd4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

class WarcCrawlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/weir_warc_crawl_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    server_.reset();                          // stop the server before removing its directory
    if (!HasFailure()) fs::remove_all(dir_);  // keep the evidence when something failed
  }

  // Starts python's http.server on a free port serving `site`; retries on another port when the
  // one picked was taken in between.
  void StartServer(const fs::path& site) {
    for (int attempt = 0; attempt < 3 && !server_; ++attempt) {
      port_ = FreePort();
      ASSERT_GT(port_, 0);
      const pid_t pid =
          Child::Spawn({"timeout", "-k", "5", "180", "/usr/bin/python3", "-m", "http.server",
                        "--bind", "127.0.0.1", std::to_string(port_), "--directory", site.string()},
                       (dir_ / "server.log").string());
      ASSERT_GT(pid, 0) << "cannot start python3 -m http.server";
      auto child = std::make_unique<Child>(pid);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (std::chrono::steady_clock::now() < deadline && child->Running()) {
        if (CanConnect(port_)) {
          server_ = std::move(child);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    ASSERT_TRUE(server_) << "http.server did not come up: " << ReadFile(dir_ / "server.log");
  }

  fs::path dir_;
  int port_ = -1;
  std::unique_ptr<Child> server_;
};

TEST_F(WarcCrawlTest, WgetCrawlParsesCompletely) {
  const fs::path site = dir_ / "site";
  fs::create_directories(site);
  WriteFile(site / "index.html",
            "<html><head><title>Weir Crawl Home</title></head><body>\n"
            "<a href=\"a.html\">A</a> <a href=\"b.html\">B</a> <img src=\"pic.png\">\n"
            "</body></html>\n");
  WriteFile(site / "a.html",
            "<html><head><title>Page A of the crawl</title></head><body>\n"
            "<a href=\"b.html\">B</a> <a href=\"index.html\">home</a> caf\xc3\xa9\n"
            "</body></html>\n");
  WriteFile(site / "b.html",
            "<html><head><title>Page B of the crawl</title></head><body>\n"
            "<a href=\"a.html\">A</a> <img src=\"pic.png\">\n</body></html>\n");
  WriteFile(site / "pic.png", std::string_view(reinterpret_cast<const char*>(kPng), sizeof(kPng)));
  ASSERT_NO_FATAL_FAILURE(StartServer(site));

  const std::string base = "http://127.0.0.1:" + std::to_string(port_) + "/";
  const int wget_rc = RunCommand(
      {"wget", "--no-config", "--no-proxy", "--recursive", "--level=2", "--no-http-keep-alive",
       "--tries=2", "--timeout=10", "--warc-file=" + (dir_ / "crawl").string(), "--warc-cdx",
       "--no-verbose", "--directory-prefix=" + (dir_ / "mirror").string(), base},
      (dir_ / "wget.out").string(), 90);
  // wget exits 8 when some fetch failed (robots.txt is a 404 here); the WARC is complete anyway.
  ASSERT_TRUE(wget_rc == 0 || wget_rc == 8)
      << "wget exit " << wget_rc << ": " << ReadFile(dir_ / "wget.out");
  server_.reset();

  ASSERT_TRUE(fs::exists(dir_ / "crawl.warc.gz"));
  ASSERT_TRUE(fs::exists(dir_ / "crawl.cdx"));
  ASSERT_EQ(RunCommand({"gzip", "-dc", (dir_ / "crawl.warc.gz").string()},
                       (dir_ / "crawl.warc").string(), 30),
            0);
  const std::string data = ReadFile(dir_ / "crawl.warc");
  ASSERT_FALSE(data.empty());

  // Ground truth, independent of the parser: wget writes one "WARC-Type: x" line per record,
  // and its CDX lists every response (url ... <urn:uuid:record id>).
  std::map<std::string, int> expected_types;
  {
    std::istringstream lines(data);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("WARC-Type: ", 0) == 0 && line.back() == '\r') {
        ++expected_types[line.substr(11, line.size() - 12)];
      }
    }
  }
  std::set<std::string> cdx_urls, cdx_ids;
  {
    std::istringstream lines(ReadFile(dir_ / "crawl.cdx"));
    std::string line;
    ASSERT_TRUE(std::getline(lines, line));
    EXPECT_EQ(line.rfind(" CDX ", 0), 0u) << line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
      if (f.empty()) continue;
      ASSERT_GE(f.size(), 3u) << line;
      cdx_urls.insert(f[0]);
      cdx_urls.insert(f[2]);
      cdx_ids.insert(f.back());
    }
  }
  EXPECT_EQ(expected_types["warcinfo"], 1);
  // /, robots.txt (a 404), index.html (linked by a.html: a URL of its own), a.html, b.html, pic.png
  EXPECT_EQ(expected_types["response"], 6);
  // Usually one request per response, but wget writes a request record for each attempt (a
  // retry after a dropped connection adds one).
  EXPECT_GE(expected_types["request"], expected_types["response"]);
  EXPECT_GE(expected_types["metadata"], 1);
  EXPECT_EQ(cdx_ids.size(), 6u);

  WarcParser parser;
  const std::vector<std::string_view> records = Split(parser, data);
  std::map<std::string, int> types;
  std::set<std::string> response_ids;
  int html_pages = 0;
  bool saw_png = false;
  sdk::Document doc;
  for (size_t i = 0; i < records.size(); ++i) {
    const sdk::ParseResult r = ParseWith(parser, records[i], doc);
    ASSERT_EQ(r.kind, sdk::ParseResult::Kind::kDocument) << "record " << i << ": " << r.reason;
    EXPECT_EQ(Str(doc, {"version"}), "WARC/1.0");
    const std::string type = Str(doc, {"headers", "WARC-Type"});
    ++types[type];
    if (type != "response") continue;
    std::string uri = Str(doc, {"headers", "WARC-Target-URI"});
    if (uri.size() >= 2 && uri.front() == '<' && uri.back() == '>') {  // WARC/1.0 style <uri>
      uri = uri.substr(1, uri.size() - 2);
    }
    EXPECT_TRUE(cdx_urls.count(uri)) << uri << " is not in the CDX file";
    response_ids.insert(Str(doc, {"headers", "WARC-Record-ID"}));
    const std::string body = Str(doc, {"body"});
    if (uri == base + "a.html") {
      ++html_pages;
      EXPECT_EQ(Str(doc, {"body_encoding"}), "text");
      EXPECT_EQ(body.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << body.substr(0, 40);
      EXPECT_NE(body.find("<title>Page A of the crawl</title>"), std::string::npos);
      EXPECT_NE(body.find("caf\xc3\xa9"), std::string::npos);
    } else if (uri == base + "pic.png") {
      saw_png = true;
      EXPECT_EQ(Str(doc, {"body_encoding"}), "base64");  // HTTP header + PNG bytes
      // Base64 of exactly Content-Length bytes: 4 characters per started group of 3.
      EXPECT_EQ(static_cast<int64_t>(body.size()), (Int(doc, {"content_length"}) + 2) / 3 * 4);
      EXPECT_EQ(body.rfind("SFRUUC8xLjAgMjAwIE9L", 0), 0u) << "base64 of \"HTTP/1.0 200 OK\"";
    }
  }
  EXPECT_EQ(types, expected_types);
  EXPECT_EQ(response_ids, cdx_ids);
  EXPECT_EQ(html_pages, 1);
  EXPECT_TRUE(saw_png);
}

}  // namespace
}  // namespace weir::builtin
