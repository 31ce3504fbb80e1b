// Projector::ProjectDocument(): documents built by sdk parsers into typed lake columns.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "parse/builtin/builtin_parsers.h"
#include "parse/projector.h"
#include "weir/sdk.h"

namespace weir {
namespace {

ColumnConfig Col(std::string name, std::string path, ColumnType type, bool required = false,
                 bool iso8601 = false) {
  ColumnConfig c;
  c.name = std::move(name);
  c.path = std::move(path);
  c.type = type;
  c.required = required;
  c.iso8601 = iso8601;
  return c;
}

ColumnConfig Derived(std::string name, ColumnSource src, std::string from) {
  ColumnConfig c;
  c.name = std::move(name);
  c.source = src;
  c.from = std::move(from);
  c.type = src == ColumnSource::kDateOf ? ColumnType::kDate : ColumnType::kInt64;
  return c;
}

DatasetConfig Docs(std::vector<ColumnConfig> cols, std::string parser = "regex") {
  DatasetConfig cfg;
  cfg.name = "test";
  cfg.read.parser = std::move(parser);
  cfg.write.columns = std::move(cols);
  return cfg;
}

std::unique_ptr<Projector> Make(const DatasetConfig& cfg) {
  auto p = Projector::Create(cfg);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(p).value() : nullptr;
}

// Projects `doc`; returns "" for a row (checking that exactly one row was appended to every
// column) or the reason (checking that nothing was appended).
std::string Project(Projector& p, const sdk::Document& doc, ColumnBatch& batch) {
  const size_t before = batch.num_rows();
  std::string reason;
  const bool ok = p.ProjectDocument(doc, batch, &reason);
  for (const ColumnBuffer& c : batch.columns) EXPECT_EQ(c.size(), before + (ok ? 1 : 0));
  if (ok) {
    EXPECT_EQ(reason, "");
    return "";
  }
  EXPECT_NE(reason, "");
  return reason;
}

// One-column helper: projects {"v": <set by fn>} into a column of `type`.
template <typename Fn>
std::string One(ColumnType type, Fn fn, ColumnBatch* out = nullptr, bool required = false,
                bool iso8601 = false) {
  auto p = Make(Docs({Col("v", "/v", type, required, iso8601)}));
  if (!p) return "no projector";
  sdk::Document doc;
  fn(doc);
  ColumnBatch batch(p->schema());
  std::string r = Project(*p, doc, batch);
  if (out) *out = std::move(batch);
  return r;
}

TEST(DocumentProjectorTest, CreateAcceptsDocumentParsers) {
  EXPECT_TRUE(Projector::Create(Docs({Col("a", "/a", ColumnType::kString)}, "lines")).ok());
  EXPECT_TRUE(Projector::Create(Docs({Col("a", "/a", ColumnType::kString)}, "regex")).ok());
  EXPECT_TRUE(Projector::Create(Docs({Col("a", "/a", ColumnType::kString)}, "plugin:warc")).ok());
  auto bad = Projector::Create(Docs({Col("a", "/a", ColumnType::kString)}, "xml"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "read.parser: unsupported parser 'xml' (expected jsonl, csv, lines, regex, warc or "
            "plugin:<name>)");
  auto bad_ptr = Projector::Create(Docs({Col("a", "a", ColumnType::kString)}));
  ASSERT_FALSE(bad_ptr.ok());
  EXPECT_NE(bad_ptr.status().message().find("JSON pointer must start with '/'"), std::string::npos);
}

TEST(DocumentProjectorTest, ProcessIsRefusedForDocumentParsers) {
  auto p = Make(Docs({Col("a", "/a", ColumnType::kString)}));
  ColumnBatch batch(p->schema());
  std::vector<RecordIssue> skips, errors;
  std::string line = "x";
  std::vector<RecordView> views = {RecordView{line, 0, 2, 0}};
  EXPECT_EQ(p->Process(views, batch, skips, errors), 0u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].reason.find("ProjectDocument"), std::string::npos);
}

TEST(DocumentProjectorTest, StringColumn) {
  ColumnBatch b{{}};
  EXPECT_EQ(One(
                ColumnType::kString, [](sdk::Document& d) { d.Set("v", "héllo \"w\""); }, &b),
            "");
  EXPECT_EQ(b.columns[0].StringAt(0), "héllo \"w\"");
  EXPECT_EQ(One(
                ColumnType::kString, [](sdk::Document& d) { d.Set("v", ""); }, &b),
            "");
  EXPECT_FALSE(b.columns[0].IsNull(0));  // empty text is an empty string for string columns
  EXPECT_EQ(One(
                ColumnType::kString, [](sdk::Document& d) { d.SetNull("v"); }, &b),
            "");
  EXPECT_TRUE(b.columns[0].IsNull(0));
  EXPECT_EQ(One(
                ColumnType::kString, [](sdk::Document&) {}, &b),
            "");
  EXPECT_TRUE(b.columns[0].IsNull(0));
  EXPECT_EQ(One(ColumnType::kString, [](sdk::Document& d) { d.SetInt("v", 5); }),
            "column 'v' (/v): expected a string, got integer 5");
  EXPECT_EQ(One(ColumnType::kString, [](sdk::Document& d) { d.AddObject("v").Set("x", "1"); }),
            "column 'v' (/v): expected a string, got object");
  EXPECT_EQ(One(ColumnType::kString, [](sdk::Document& d) { d.Set("v", "a\xff"); }),
            "column 'v' (/v): text is not valid UTF-8: \"a\xff\"");
  // A raw JSON string from a plugin is typed like a jsonl value.
  EXPECT_EQ(One(
                ColumnType::kString, [](sdk::Document& d) { d.SetJson("v", R"("a\nb")"); }, &b),
            "");
  EXPECT_EQ(b.columns[0].StringAt(0), "a\nb");
  EXPECT_EQ(One(ColumnType::kString, [](sdk::Document& d) { d.SetJson("v", "[1]"); }),
            "column 'v' (/v): expected a string, got array");
  EXPECT_EQ(One(ColumnType::kString, [](sdk::Document& d) { d.SetJson("v", "[1"); }),
            "column 'v' (/v): the document holds invalid JSON text (TAPE_ERROR): \"[1\"");
}

TEST(DocumentProjectorTest, Int64Column) {
  ColumnBatch b{{}};
  EXPECT_EQ(One(
                ColumnType::kInt64, [](sdk::Document& d) { d.SetInt("v", -7); }, &b),
            "");
  EXPECT_EQ(b.columns[0].Int64At(0), -7);
  EXPECT_EQ(
      One(
          ColumnType::kInt64, [](sdk::Document& d) { d.Set("v", "9223372036854775807"); }, &b),
      "");
  EXPECT_EQ(b.columns[0].Int64At(0), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(One(
                ColumnType::kInt64, [](sdk::Document& d) { d.Set("v", "-42"); }, &b),
            "");
  EXPECT_EQ(b.columns[0].Int64At(0), -42);
  // Documents built by parsers carry text: empty text is NULL...
  EXPECT_EQ(One(
                ColumnType::kInt64, [](sdk::Document& d) { d.Set("v", ""); }, &b),
            "");
  EXPECT_TRUE(b.columns[0].IsNull(0));
  EXPECT_EQ(One(
                ColumnType::kInt64, [](sdk::Document& d) { d.Set("v", ""); }, nullptr, true),
            "required column 'v' (/v) is empty");
  // ...and other text is parsed strictly.
  EXPECT_EQ(One(ColumnType::kInt64, [](sdk::Document& d) { d.Set("v", "-"); }),
            "column 'v' (/v): expected an integer, got string \"-\"");
  EXPECT_EQ(One(ColumnType::kInt64, [](sdk::Document& d) { d.Set("v", " 5"); }),
            "column 'v' (/v): expected an integer, got string \" 5\"");
  EXPECT_EQ(One(ColumnType::kInt64, [](sdk::Document& d) { d.Set("v", "+5"); }),
            "column 'v' (/v): expected an integer, got string \"+5\"");
  EXPECT_EQ(One(ColumnType::kInt64, [](sdk::Document& d) { d.Set("v", "5.0"); }),
            "column 'v' (/v): expected an integer, got string \"5.0\"");
  EXPECT_EQ(One(ColumnType::kInt64, [](sdk::Document& d) { d.Set("v", "99999999999999999999"); }),
            "column 'v' (/v): string \"99999999999999999999\" is out of the int64 range");
  // Typed nodes follow the jsonl rules: a double is not an integer, even 2.0.
  EXPECT_EQ(One(ColumnType::kInt64, [](sdk::Document& d) { d.SetDouble("v", 2.0); }),
            "column 'v' (/v): expected an integer, got number 2.0");
  EXPECT_EQ(One(ColumnType::kInt64, [](sdk::Document& d) { d.SetBool("v", true); }),
            "column 'v' (/v): expected an integer, got boolean true");
  EXPECT_EQ(One(
                ColumnType::kInt64, [](sdk::Document& d) { d.SetNull("v"); }, nullptr, true),
            "required column 'v' (/v) is null");
  EXPECT_EQ(One(
                ColumnType::kInt64, [](sdk::Document&) {}, nullptr, true),
            "missing required column 'v' (/v)");
  EXPECT_EQ(One(
                ColumnType::kInt64, [](sdk::Document& d) { d.SetJson("v", "12"); }, &b),
            "");
  EXPECT_EQ(b.columns[0].Int64At(0), 12);
  EXPECT_EQ(One(ColumnType::kInt64, [](sdk::Document& d) { d.SetJson("v", "1.5"); }),
            "column 'v' (/v): expected an integer, got number 1.5");
}

TEST(DocumentProjectorTest, DoubleColumn) {
  ColumnBatch b{{}};
  EXPECT_EQ(One(
                ColumnType::kDouble, [](sdk::Document& d) { d.SetDouble("v", 1.5); }, &b),
            "");
  EXPECT_EQ(b.columns[0].DoubleAt(0), 1.5);
  EXPECT_EQ(One(
                ColumnType::kDouble, [](sdk::Document& d) { d.SetInt("v", 3); }, &b),
            "");
  EXPECT_EQ(b.columns[0].DoubleAt(0), 3.0);
  EXPECT_EQ(One(
                ColumnType::kDouble, [](sdk::Document& d) { d.Set("v", "-0.25e2"); }, &b),
            "");
  EXPECT_EQ(b.columns[0].DoubleAt(0), -25.0);
  EXPECT_EQ(One(
                ColumnType::kDouble, [](sdk::Document& d) { d.Set("v", ""); }, &b),
            "");
  EXPECT_TRUE(b.columns[0].IsNull(0));
  EXPECT_EQ(One(ColumnType::kDouble, [](sdk::Document& d) { d.Set("v", "1.5s"); }),
            "column 'v' (/v): expected a number, got string \"1.5s\"");
  EXPECT_EQ(One(ColumnType::kDouble, [](sdk::Document& d) { d.Set("v", "inf"); }),
            "column 'v' (/v): expected a number, got string \"inf\"");
  EXPECT_EQ(
      One(ColumnType::kDouble,
          [](sdk::Document& d) { d.SetDouble("v", std::numeric_limits<double>::infinity()); }),
      "column 'v' (/v): expected a number, got number inf");
  EXPECT_EQ(One(ColumnType::kDouble, [](sdk::Document& d) { d.SetBool("v", false); }),
            "column 'v' (/v): expected a number, got boolean false");
}

TEST(DocumentProjectorTest, BoolColumn) {
  ColumnBatch b{{}};
  EXPECT_EQ(One(
                ColumnType::kBool, [](sdk::Document& d) { d.SetBool("v", true); }, &b),
            "");
  EXPECT_TRUE(b.columns[0].BoolAt(0));
  for (const char* t : {"true", "TRUE", "1"}) {
    EXPECT_EQ(One(
                  ColumnType::kBool, [&](sdk::Document& d) { d.Set("v", t); }, &b),
              "");
    EXPECT_TRUE(b.columns[0].BoolAt(0)) << t;
  }
  for (const char* f : {"false", "False", "0"}) {
    EXPECT_EQ(One(
                  ColumnType::kBool, [&](sdk::Document& d) { d.Set("v", f); }, &b),
              "");
    EXPECT_FALSE(b.columns[0].BoolAt(0)) << f;
  }
  EXPECT_EQ(One(ColumnType::kBool, [](sdk::Document& d) { d.Set("v", "yes"); }),
            "column 'v' (/v): expected true, false, 1 or 0, got string \"yes\"");
  EXPECT_EQ(One(ColumnType::kBool, [](sdk::Document& d) { d.SetInt("v", 1); }),
            "column 'v' (/v): expected true or false, got integer 1");
}

TEST(DocumentProjectorTest, TimestampColumns) {
  ColumnBatch b{{}};
  EXPECT_EQ(
      One(
          ColumnType::kTimestampMs, [](sdk::Document& d) { d.SetInt("v", 1700000000123); }, &b),
      "");
  EXPECT_EQ(b.columns[0].Int64At(0), 1700000000123);
  EXPECT_EQ(
      One(
          ColumnType::kTimestampMs, [](sdk::Document& d) { d.Set("v", "1700000000123"); }, &b),
      "");
  EXPECT_EQ(b.columns[0].Int64At(0), 1700000000123);
  EXPECT_EQ(One(ColumnType::kTimestampMs, [](sdk::Document& d) { d.Set("v", "17e11"); }),
            "column 'v' (/v): expected integer milliseconds, got string \"17e11\"");
  EXPECT_EQ(One(ColumnType::kTimestampMs, [](sdk::Document& d) { d.SetDouble("v", 1.5); }),
            "column 'v' (/v): expected integer milliseconds, got number 1.5");
  // iso8601 ("timestamp" in the YAML)
  EXPECT_EQ(One(
                ColumnType::kTimestampMs,
                [](sdk::Document& d) { d.Set("v", "2023-11-14T22:13:20.123Z"); }, &b, false, true),
            "");
  EXPECT_EQ(b.columns[0].Int64At(0), 1700000000123);
  EXPECT_EQ(One(
                ColumnType::kTimestampMs,
                [](sdk::Document& d) { d.Set("v", "2023-13-14T22:13:20Z"); }, nullptr, false, true),
            "column 'v' (/v): expected an ISO 8601 timestamp (month out of range), got string "
            "\"2023-13-14T22:13:20Z\"");
  EXPECT_EQ(One(
                ColumnType::kTimestampMs, [](sdk::Document& d) { d.SetInt("v", 5); }, nullptr,
                false, true),
            "column 'v' (/v): expected an ISO 8601 timestamp string, got integer 5");
  EXPECT_EQ(One(
                ColumnType::kDate, [](sdk::Document& d) { d.Set("v", "1970-01-02"); }, &b),
            "");
  EXPECT_EQ(b.columns[0].DateAt(0), 1);
}

TEST(DocumentProjectorTest, JsonColumnSerializesNodes) {
  ColumnBatch b{{}};
  EXPECT_EQ(One(
                ColumnType::kJson,
                [](sdk::Document& d) {
                  sdk::Document::Object o = d.AddObject("v");
                  o.Set("s", "q\"uote\\ \n\t\x01 é");
                  o.SetInt("i", -3);
                  o.SetDouble("d", 2.0);
                  o.SetDouble("e", 1e300);
                  o.SetBool("b", false);
                  o.SetNull("n");
                  o.SetJson("raw", "[1, {\"a\" : null}]");
                  sdk::Document::Object inner = o.AddObject("inner");
                  inner.Set("k", "v");
                  inner.AddObject("empty");
                  o.Set("s", "second value of a duplicate key is ignored");
                },
                &b),
            "");
  EXPECT_EQ(b.columns[0].StringAt(0),
            R"j({"s":"q\"uote\\ \n\t\u0001 é","i":-3,"d":2.0,"e":1e+300,"b":false,"n":null,)j"
            R"j("raw":[1,{"a":null}],"inner":{"k":"v","empty":{}}})j");
  // Scalars, and the whole document with an empty path.
  EXPECT_EQ(One(
                ColumnType::kJson, [](sdk::Document& d) { d.Set("v", "x"); }, &b),
            "");
  EXPECT_EQ(b.columns[0].StringAt(0), "\"x\"");
  EXPECT_EQ(One(
                ColumnType::kJson, [](sdk::Document& d) { d.SetInt("v", 7); }, &b),
            "");
  EXPECT_EQ(b.columns[0].StringAt(0), "7");
  EXPECT_EQ(One(
                ColumnType::kJson, [](sdk::Document& d) { d.SetJson("v", " { \"a\" : 1 } "); }, &b),
            "");
  EXPECT_EQ(b.columns[0].StringAt(0), "{\"a\":1}");
  EXPECT_EQ(One(
                ColumnType::kJson, [](sdk::Document& d) { d.SetNull("v"); }, &b),
            "");
  EXPECT_TRUE(b.columns[0].IsNull(0));
  EXPECT_EQ(One(ColumnType::kJson, [](sdk::Document& d) { d.SetJson("v", "{"); }),
            "column 'v' (/v): expected JSON text (TAPE_ERROR), got \"{\"");
  EXPECT_EQ(
      One(ColumnType::kJson, [](sdk::Document& d) { d.AddObject("v").SetJson("bad", "nul"); }),
      "column 'v' (/v): the document holds invalid JSON text (N_ATOM_ERROR): \"nul\"");
  EXPECT_EQ(One(ColumnType::kJson,
                [](sdk::Document& d) {
                  d.AddObject("v").SetDouble("nan", std::numeric_limits<double>::quiet_NaN());
                }),
            "column 'v' (/v): number nan cannot be written as JSON");

  auto p = Make(Docs({Col("all", "", ColumnType::kJson)}));
  sdk::Document doc;
  doc.Set("a", "1");
  doc.AddObject("h").SetInt("n", 2);
  ColumnBatch batch(p->schema());
  EXPECT_EQ(Project(*p, doc, batch), "");
  EXPECT_EQ(batch.columns[0].StringAt(0), R"j({"a":"1","h":{"n":2}})j");
}

// A WARC-like document: nested paths, several columns under one object, first duplicate wins,
// derived columns, a column whose pointer passes through a string.
TEST(DocumentProjectorTest, NestedPathsAndDerived) {
  auto p = Make(Docs(
      {Col("type", "/headers/WARC-Type", ColumnType::kString, true),
       Col("len", "/headers/Content-Length", ColumnType::kInt64),
       Col("date", "/headers/WARC-Date", ColumnType::kTimestampMs, false, true),
       Col("uri", "/headers/WARC-Target-URI", ColumnType::kString),
       Col("tilde", "/a~1b/c~0d", ColumnType::kString),
       Col("through", "/body/x", ColumnType::kString),
       Col("headers", "/headers", ColumnType::kJson), Derived("dt", ColumnSource::kDateOf, "date"),
       Derived("hour", ColumnSource::kHourOf, "date")},
      "plugin:warc"));
  ASSERT_TRUE(p);
  sdk::Document doc;
  doc.Set("version", "WARC/1.1");
  sdk::Document::Object h = doc.AddObject("headers");
  h.Set("WARC-Type", "response");
  h.Set("WARC-Date", "2024-03-01T05:06:07Z");
  h.Set("Content-Length", "1234");
  h.Set("WARC-Type", "duplicate");
  doc.AddObject("a/b").Set("c~d", "escaped");
  doc.Set("body", "not an object");
  ColumnBatch batch(p->schema());
  ASSERT_EQ(Project(*p, doc, batch), "");
  EXPECT_EQ(batch.columns[0].StringAt(0), "response");
  EXPECT_EQ(batch.columns[1].Int64At(0), 1234);
  EXPECT_EQ(batch.columns[2].Int64At(0), 1709269567000);
  EXPECT_TRUE(batch.columns[3].IsNull(0));
  EXPECT_EQ(batch.columns[4].StringAt(0), "escaped");
  EXPECT_TRUE(batch.columns[5].IsNull(0));
  EXPECT_EQ(
      batch.columns[6].StringAt(0),
      R"j({"WARC-Type":"response","WARC-Date":"2024-03-01T05:06:07Z","Content-Length":"1234"})j");
  EXPECT_EQ(batch.columns[7].DateAt(0), 19783);
  EXPECT_EQ(batch.columns[8].Int64At(0), 5);

  // The same projector on the next document: nothing leaks from the previous one, and a failing
  // column appends nothing.
  doc.Clear();
  doc.AddObject("headers").Set("Content-Length", "12x");
  EXPECT_EQ(Project(*p, doc, batch), "missing required column 'type' (/headers/WARC-Type)");
  doc.Clear();
  sdk::Document::Object h2 = doc.AddObject("headers");
  h2.Set("WARC-Type", "request");
  h2.Set("Content-Length", "12x");
  EXPECT_EQ(Project(*p, doc, batch),
            "column 'len' (/headers/Content-Length): expected an integer, got string \"12x\"");
  EXPECT_EQ(batch.num_rows(), 1u);
  doc.Clear();
  doc.AddObject("headers").Set("WARC-Type", "metadata");
  ASSERT_EQ(Project(*p, doc, batch), "");
  EXPECT_EQ(batch.columns[0].StringAt(1), "metadata");
  EXPECT_TRUE(batch.columns[2].IsNull(1));
  EXPECT_TRUE(batch.columns[7].IsNull(1));
  EXPECT_EQ(batch.columns[6].StringAt(1), R"j({"WARC-Type":"metadata"})j");
}

// End to end through the regex parser: the benchmark's columns.
TEST(DocumentProjectorTest, RegexParserIntoColumns) {
  auto parser = CreateBuiltinParser("regex", R"j({"preset":"apache_combined"})j");
  ASSERT_TRUE(parser.ok()) << parser.status().ToString();
  auto p = Make(Docs(
      {Col("client", "/client", ColumnType::kString, true),
       Col("time", "/time", ColumnType::kString), Col("method", "/method", ColumnType::kString),
       Col("path", "/path", ColumnType::kString),
       Col("status", "/status", ColumnType::kInt64, true),
       Col("bytes", "/bytes", ColumnType::kInt64), Col("referer", "/referer", ColumnType::kString),
       Col("user_agent", "/user_agent", ColumnType::kString)}));
  ASSERT_TRUE(p);
  ColumnBatch batch(p->schema());
  sdk::Document doc;
  const char* lines[] = {
      "::1 - - [10/Oct/2000:13:55:36 -0700] \"GET /a HTTP/1.1\" 200 - \"-\" \"ua \\\"x\\\"\"\n",
      "1.2.3.4 - bob [10/Oct/2000:13:55:37 -0700] \"PUT /b HTTP/1.1\" 201 17 \"http://r/\" \"u\"\n",
  };
  for (const char* line : lines) {
    doc.Clear();
    ASSERT_EQ((*parser)->Parse(sdk::RecordContext{}, line, doc).kind,
              sdk::ParseResult::Kind::kDocument);
    ASSERT_EQ(Project(*p, doc, batch), "");
  }
  EXPECT_EQ(batch.columns[0].StringAt(0), "::1");
  EXPECT_EQ(batch.columns[4].Int64At(0), 200);
  EXPECT_TRUE(batch.columns[5].IsNull(0));
  EXPECT_TRUE(batch.columns[6].IsNull(0));
  EXPECT_EQ(batch.columns[7].StringAt(0), "ua \\\"x\\\"");
  EXPECT_EQ(batch.columns[5].Int64At(1), 17);
  EXPECT_EQ(batch.columns[6].StringAt(1), "http://r/");
}


// SetView(): the document points at the caller's bytes instead of copying them; the projected
// values are the same as with Set(), and an int64 column still parses the viewed text.
TEST(DocumentProjectorTest, SetViewValuesProjectLikeSet) {
  auto p = Make(Docs({Col("a", "/a", ColumnType::kString), Col("n", "/n", ColumnType::kInt64)}));
  ASSERT_NE(p, nullptr);
  ColumnBatch batch(p->schema());
  const std::string record = "hello 42";
  sdk::Document d;
  d.SetView("a", std::string_view(record).substr(0, 5));
  d.SetView("n", std::string_view(record).substr(6));
  EXPECT_EQ(d.text(d.nodes()[1]), "hello");
  EXPECT_EQ(Project(*p, d, batch), "");
  EXPECT_EQ(batch.columns[0].StringAt(0), "hello");
  EXPECT_EQ(batch.columns[1].Int64At(0), 42);
  d.Clear();
  d.SetView("n", "x");
  EXPECT_EQ(Project(*p, d, batch), "column 'n' (/n): expected an integer, got string \"x\"");
}

// Documents with the layout of the previous one reuse its resolution; a document with other
// keys, other parents or a duplicate key must be resolved afresh (first of duplicates wins).
TEST(DocumentProjectorTest, RepeatedAndChangedLayouts) {
  auto p = Make(Docs({Col("a", "/a", ColumnType::kString), Col("b", "/o/b", ColumnType::kString)}));
  ASSERT_NE(p, nullptr);
  ColumnBatch batch(p->schema());
  auto row = [&](const std::function<void(sdk::Document&)>& fill) {
    sdk::Document d;
    fill(d);
    EXPECT_EQ(Project(*p, d, batch), "");
    const size_t r = batch.num_rows() - 1;
    auto text = [&](size_t c) {
      return batch.columns[c].IsNull(r) ? std::string("null")
                                        : std::string(batch.columns[c].StringAt(r));
    };
    return text(0) + "," + text(1);
  };
  EXPECT_EQ(row([](sdk::Document& d) { d.Set("a", "1"); d.AddObject("o").Set("b", "2"); }), "1,2");
  EXPECT_EQ(row([](sdk::Document& d) { d.Set("a", "3"); d.AddObject("o").Set("b", "4"); }), "3,4");
  // Same size, key renamed: "a" is missing now.
  EXPECT_EQ(row([](sdk::Document& d) { d.Set("x", "5"); d.AddObject("o").Set("b", "6"); }),
            "null,6");
  // Same size and keys, but "b" moved to the root: /o/b is missing.
  EXPECT_EQ(row([](sdk::Document& d) { d.Set("a", "7"); d.AddObject("o"); d.Set("b", "8"); }),
            "7,null");
  // Duplicate key: the first one wins, also when the layout then repeats.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(row([](sdk::Document& d) { d.Set("a", "first"); d.Set("a", "second"); }),
              "first,null");
  }
  EXPECT_EQ(row([](sdk::Document& d) { d.Set("a", "9"); d.AddObject("o").Set("b", "10"); }),
            "9,10");
}

}  // namespace
// Regression: raw JSON from a plugin with numbers beyond simdjson's range is valid JSON: json
// columns keep the numbers' exact text, other columns report the range like jsonl values.
TEST(DocumentProjectorTest, RawJsonWithOutOfRangeNumbers) {
  ColumnBatch b{{}};
  EXPECT_EQ(
      One(
          ColumnType::kJson,
          [](sdk::Document& d) { d.SetJson("v", R"({"a" : 1e400, "b" : -9223372036854775809})"); },
          &b),
      "");
  EXPECT_EQ(b.columns[0].StringAt(0), R"({"a":1e400,"b":-9223372036854775809})");
  EXPECT_EQ(One(
                ColumnType::kJson,
                [](sdk::Document& d) { d.AddObject("v").SetJson("raw", "[1e400]"); }, &b),
            "");
  EXPECT_EQ(b.columns[0].StringAt(0), R"({"raw":[1e400]})");
  EXPECT_EQ(
      One(ColumnType::kInt64, [](sdk::Document& d) { d.SetJson("v", "-9223372036854775809"); }),
      "column 'v' (/v): integer -9223372036854775809 is out of the int64 range");
  EXPECT_EQ(One(ColumnType::kDouble, [](sdk::Document& d) { d.SetJson("v", "1e400"); }),
            "column 'v' (/v): number 1e400 is out of the double range");
}

}  // namespace weir
