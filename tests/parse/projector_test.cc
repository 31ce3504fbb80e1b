#include "parse/projector.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

DatasetConfig Jsonl(std::vector<ColumnConfig> cols) {
  DatasetConfig cfg;
  cfg.name = "test";
  cfg.read.parser = "jsonl";
  cfg.write.columns = std::move(cols);
  return cfg;
}

DatasetConfig Csv(std::vector<ColumnConfig> cols, bool header = true) {
  DatasetConfig cfg = Jsonl(std::move(cols));
  cfg.read.parser = "csv";
  cfg.read.csv_header = header;
  return cfg;
}

struct Outcome {
  ColumnBatch batch{{}};
  size_t docs = 0;
  std::vector<RecordIssue> skips;
  std::vector<RecordIssue> errors;
};

std::vector<RecordView> Views(const std::vector<std::string>& lines) {
  std::vector<RecordView> v;
  uint64_t off = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    v.push_back(RecordView{lines[i], off, off + lines[i].size() + 1, i});
    off += lines[i].size() + 1;
  }
  return v;
}

Outcome Project(Projector& p, const std::vector<std::string>& lines) {
  Outcome r;
  r.batch = ColumnBatch(p.schema());
  std::vector<RecordView> views = Views(lines);
  r.docs = p.Process(views, r.batch, r.skips, r.errors);
  // Accounting invariant and aligned columns, for every call.
  EXPECT_EQ(r.docs + r.skips.size() + r.errors.size(), lines.size());
  for (const ColumnBuffer& c : r.batch.columns) EXPECT_EQ(c.size(), r.docs);
  return r;
}

std::unique_ptr<Projector> Make(const DatasetConfig& cfg) {
  auto p = Projector::Create(cfg);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(p).value() : nullptr;
}

// Projects one jsonl record into one column; returns the error reason ("" when it is a document).
std::string OneError(const ColumnConfig& col, const std::string& line) {
  auto p = Make(Jsonl({col}));
  Outcome r = Project(*p, {line});
  return r.errors.empty() ? "" : r.errors[0].reason;
}

TEST(ProjectorTest, SchemaIncludesDerivedColumnsInOrder) {
  auto p = Make(Jsonl(
      {Col("id", "/id", ColumnType::kString), Derived("dt", ColumnSource::kDateOf, "ts"),
       Col("ts", "/ts", ColumnType::kTimestampMs), Derived("hour", ColumnSource::kHourOf, "ts")}));
  ASSERT_EQ(p->schema().size(), 4u);
  EXPECT_EQ(p->schema()[0].name, "id");
  EXPECT_EQ(p->schema()[1].name, "dt");
  EXPECT_EQ(p->schema()[1].type, ColumnType::kDate);
  EXPECT_EQ(p->schema()[2].type, ColumnType::kTimestampMs);
  EXPECT_EQ(p->schema()[3].type, ColumnType::kInt64);
}

TEST(ProjectorTest, CreateRejectsBadConfig) {
  auto bad_ptr = Projector::Create(Jsonl({Col("a", "a/b", ColumnType::kString)}));
  ASSERT_FALSE(bad_ptr.ok());
  EXPECT_NE(bad_ptr.status().message().find("JSON pointer must start with '/'"), std::string::npos);
  auto bad_tilde = Projector::Create(Jsonl({Col("a", "/a~2", ColumnType::kString)}));
  EXPECT_FALSE(bad_tilde.ok());
  auto no_src = Projector::Create(Jsonl({Derived("dt", ColumnSource::kDateOf, "ts")}));
  ASSERT_FALSE(no_src.ok());
  EXPECT_NE(no_src.status().message().find("source column 'ts' does not exist"), std::string::npos);
  auto not_ts = Projector::Create(
      Jsonl({Col("ts", "/ts", ColumnType::kInt64), Derived("dt", ColumnSource::kDateOf, "ts")}));
  ASSERT_FALSE(not_ts.ok());
  EXPECT_NE(not_ts.status().message().find("is not a timestamp column"), std::string::npos);
  auto dup = Projector::Create(
      Jsonl({Col("a", "/a", ColumnType::kString), Col("a", "/b", ColumnType::kString)}));
  EXPECT_FALSE(dup.ok());
  DatasetConfig regex = Jsonl({Col("a", "/a", ColumnType::kString)});
  regex.read.parser = "xml";
  EXPECT_FALSE(Projector::Create(regex).ok());
  auto csv_no_header = Projector::Create(Csv({Col("a", "name", ColumnType::kString)}, false));
  EXPECT_FALSE(csv_no_header.ok());
}

TEST(ProjectorTest, StringColumn) {
  auto p = Make(Jsonl({Col("s", "/s", ColumnType::kString)}));
  Outcome r = Project(*p, {R"({"s":"hello \"w\" \u00e9"})", R"({"s":""})", R"({"s":5})",
                           R"({"s":{"x":1}})", R"({"s":null})", R"({})"});
  ASSERT_EQ(r.docs, 4u);
  const ColumnBuffer& c = r.batch.columns[0];
  EXPECT_EQ(c.StringAt(0), "hello \"w\" \xc3\xa9");
  EXPECT_EQ(c.StringAt(1), "");
  EXPECT_FALSE(c.IsNull(1));
  EXPECT_TRUE(c.IsNull(2));
  EXPECT_TRUE(c.IsNull(3));
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].record_index, 2u);
  EXPECT_EQ(r.errors[0].reason, "column 's' (/s): expected a string, got integer 5");
  EXPECT_EQ(r.errors[1].record_index, 3u);
  EXPECT_EQ(r.errors[1].reason, "column 's' (/s): expected a string, got object");
}

TEST(ProjectorTest, Int64Column) {
  auto p = Make(Jsonl({Col("i", "/i", ColumnType::kInt64)}));
  Outcome r =
      Project(*p, {R"({"i":42})", R"({"i":-9223372036854775808})", R"({"i":9223372036854775807})"});
  ASSERT_EQ(r.docs, 3u);
  EXPECT_EQ(r.batch.columns[0].Int64At(0), 42);
  EXPECT_EQ(r.batch.columns[0].Int64At(1), INT64_MIN);
  EXPECT_EQ(r.batch.columns[0].Int64At(2), INT64_MAX);
  const ColumnConfig c = Col("i", "/i", ColumnType::kInt64);
  EXPECT_EQ(OneError(c, R"({"i":1.5})"), "column 'i' (/i): expected an integer, got number 1.5");
  EXPECT_EQ(OneError(c, R"({"i":2.0})"), "column 'i' (/i): expected an integer, got number 2.0");
  EXPECT_EQ(OneError(c, R"({"i":1e3})"), "column 'i' (/i): expected an integer, got number 1000.0");
  EXPECT_EQ(OneError(c, R"({"i":9223372036854775808})"),
            "column 'i' (/i): integer 9223372036854775808 is out of the int64 range");
  EXPECT_EQ(OneError(c, R"({"i":"7"})"), "column 'i' (/i): expected an integer, got string \"7\"");
  EXPECT_EQ(OneError(c, R"({"i":true})"), "column 'i' (/i): expected an integer, got boolean true");
}

TEST(ProjectorTest, DoubleColumn) {
  auto p = Make(Jsonl({Col("d", "/d", ColumnType::kDouble)}));
  Outcome r = Project(
      *p, {R"({"d":1.25})", R"({"d":-3})", R"({"d":1e-2})", R"({"d":18446744073709551615})"});
  ASSERT_EQ(r.docs, 4u);
  EXPECT_EQ(r.batch.columns[0].DoubleAt(0), 1.25);
  EXPECT_EQ(r.batch.columns[0].DoubleAt(1), -3.0);
  EXPECT_EQ(r.batch.columns[0].DoubleAt(2), 0.01);
  EXPECT_EQ(r.batch.columns[0].DoubleAt(3), 18446744073709551615.0);
  const ColumnConfig c = Col("d", "/d", ColumnType::kDouble);
  EXPECT_EQ(OneError(c, R"({"d":"1.5"})"),
            "column 'd' (/d): expected a number, got string \"1.5\"");
  EXPECT_EQ(OneError(c, R"({"d":[1]})"), "column 'd' (/d): expected a number, got array");
}

TEST(ProjectorTest, BoolColumn) {
  auto p = Make(Jsonl({Col("b", "/b", ColumnType::kBool)}));
  Outcome r = Project(*p, {R"({"b":true})", R"({"b":false})"});
  ASSERT_EQ(r.docs, 2u);
  EXPECT_TRUE(r.batch.columns[0].BoolAt(0));
  EXPECT_FALSE(r.batch.columns[0].BoolAt(1));
  const ColumnConfig c = Col("b", "/b", ColumnType::kBool);
  EXPECT_EQ(OneError(c, R"({"b":1})"), "column 'b' (/b): expected true or false, got integer 1");
  EXPECT_EQ(OneError(c, R"({"b":"true"})"),
            "column 'b' (/b): expected true or false, got string \"true\"");
}

TEST(ProjectorTest, TimestampMsColumn) {
  auto p = Make(Jsonl({Col("created_at", "/meta/created_at", ColumnType::kTimestampMs)}));
  Outcome r =
      Project(*p, {R"({"meta":{"created_at":1700000000123}})", R"({"meta":{"created_at":-5}})",
                   R"({"meta":{"created_at":"yesterday"}})", R"({"meta":{"created_at":1.5}})"});
  ASSERT_EQ(r.docs, 2u);
  EXPECT_EQ(r.batch.columns[0].Int64At(0), 1700000000123);
  EXPECT_EQ(r.batch.columns[0].Int64At(1), -5);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].reason,
            "column 'created_at' (/meta/created_at): expected integer milliseconds, got string "
            "\"yesterday\"");
  EXPECT_EQ(r.errors[1].reason,
            "column 'created_at' (/meta/created_at): expected integer milliseconds, got number "
            "1.5");
}

TEST(ProjectorTest, Iso8601TimestampColumn) {
  auto p = Make(Jsonl({Col("ts", "/ts", ColumnType::kTimestampMs, false, true)}));
  Outcome r = Project(*p, {
                              R"({"ts":"1970-01-01T00:00:00Z"})",
                              R"({"ts":"2024-02-29T12:34:56.789+02:00"})",
                              R"({"ts":"2024-02-29 12:34:56"})",
                              R"({"ts":"1969-12-31T23:59:59.999Z"})",
                              R"({"ts":"2001-09-09T01:46:40.123456-05:30"})",
                              R"({"ts":"1900-03-01T00:00:00+0000"})",
                              R"({"ts":"0001-01-01T00:00:00"})",
                              R"({"ts":"2024-02-29t12:34:56.7z"})",
                          });
  ASSERT_EQ(r.docs, 8u) << (r.errors.empty() ? "" : r.errors[0].reason);
  const ColumnBuffer& c = r.batch.columns[0];
  EXPECT_EQ(c.Int64At(0), 0);
  EXPECT_EQ(c.Int64At(1), 1709202896789);
  EXPECT_EQ(c.Int64At(2), 1709210096000);
  EXPECT_EQ(c.Int64At(3), -1);
  EXPECT_EQ(c.Int64At(4), 1000019800123);
  EXPECT_EQ(c.Int64At(5), -2203891200000);
  EXPECT_EQ(c.Int64At(6), -62135596800000);
  EXPECT_EQ(c.Int64At(7), 1709210096700);

  const ColumnConfig col = Col("ts", "/ts", ColumnType::kTimestampMs, false, true);
  EXPECT_EQ(OneError(col, R"({"ts":"2023-02-29T00:00:00Z"})"),
            "column 'ts' (/ts): expected an ISO 8601 timestamp (day out of range), got string "
            "\"2023-02-29T00:00:00Z\"");
  EXPECT_EQ(OneError(col, R"({"ts":"2024-13-01T00:00:00Z"})"),
            "column 'ts' (/ts): expected an ISO 8601 timestamp (month out of range), got string "
            "\"2024-13-01T00:00:00Z\"");
  EXPECT_EQ(OneError(col, R"({"ts":"2024-01-01T24:00:00Z"})"),
            "column 'ts' (/ts): expected an ISO 8601 timestamp (hour out of range), got string "
            "\"2024-01-01T24:00:00Z\"");
  EXPECT_EQ(OneError(col, R"({"ts":"2024-01-01"})"),
            "column 'ts' (/ts): expected an ISO 8601 timestamp (expected 'T' or ' ' then "
            "HH:MM:SS after the date), got string \"2024-01-01\"");
  EXPECT_EQ(OneError(col, R"({"ts":"2024-01-01T00:00:00+25:00"})"),
            "column 'ts' (/ts): expected an ISO 8601 timestamp (zone offset out of range), got "
            "string \"2024-01-01T00:00:00+25:00\"");
  EXPECT_EQ(OneError(col, R"({"ts":"2024-01-01T00:00:00.Z"})"),
            "column 'ts' (/ts): expected an ISO 8601 timestamp (expected 1 to 9 fraction "
            "digits), got string \"2024-01-01T00:00:00.Z\"");
  EXPECT_EQ(OneError(col, R"({"ts":"2024-01-01T00:00:00Z junk"})"),
            "column 'ts' (/ts): expected an ISO 8601 timestamp (unexpected text after the "
            "zone), got string \"2024-01-01T00:00:00Z junk\"");
  EXPECT_EQ(OneError(col, R"({"ts":1700000000000})"),
            "column 'ts' (/ts): expected an ISO 8601 timestamp string, got integer 1700000000000");
}

TEST(ProjectorTest, DateColumn) {
  auto p = Make(Jsonl({Col("d", "/d", ColumnType::kDate)}));
  Outcome r =
      Project(*p, {R"({"d":"2024-02-29"})", R"({"d":"1900-03-01"})", R"({"d":"2024-2-1"})"});
  ASSERT_EQ(r.docs, 2u);
  EXPECT_EQ(r.batch.columns[0].DateAt(0), 19782);
  EXPECT_EQ(r.batch.columns[0].DateAt(1), -25508);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].reason,
            "column 'd' (/d): expected a date YYYY-MM-DD (expected YYYY-MM-DD), got string "
            "\"2024-2-1\"");
}

TEST(ProjectorTest, JsonColumnIsMinifiedForAnyType) {
  auto p = Make(Jsonl({Col("j", "/j", ColumnType::kJson)}));
  Outcome r = Project(*p, {R"({"j": { "a" : [1, 2.5, "x\"y"], "b": null }})", R"({"j":"text"})",
                           R"({"j":7})", R"({"j":true})", R"({"j":null})", R"({"j":[]})"});
  ASSERT_EQ(r.docs, 6u);
  const ColumnBuffer& c = r.batch.columns[0];
  EXPECT_EQ(c.StringAt(0), R"({"a":[1,2.5,"x\"y"],"b":null})");
  EXPECT_EQ(c.StringAt(1), R"("text")");
  EXPECT_EQ(c.StringAt(2), "7");
  EXPECT_EQ(c.StringAt(3), "true");
  EXPECT_TRUE(c.IsNull(4));
  EXPECT_EQ(c.StringAt(5), "[]");
}

TEST(ProjectorTest, WholeDocumentPointerAndEscapedTokensAndArrayIndexes) {
  auto p = Make(Jsonl(
      {Col("doc", "", ColumnType::kJson), Col("slash", "/a~1b/c~0d", ColumnType::kInt64),
       Col("second", "/items/1/x", ColumnType::kString), Col("numkey", "/m/0", ColumnType::kString),
       Col("out", "/items/5/x", ColumnType::kString)}));
  Outcome r = Project(*p, {R"({"a/b":{"c~d":7},"items":[{"x":"p"},{"x":"q"}],"m":{"0":"z"}})"});
  ASSERT_EQ(r.docs, 1u) << r.errors[0].reason;
  EXPECT_EQ(r.batch.columns[0].StringAt(0),
            R"({"a/b":{"c~d":7},"items":[{"x":"p"},{"x":"q"}],"m":{"0":"z"}})");
  EXPECT_EQ(r.batch.columns[1].Int64At(0), 7);
  EXPECT_EQ(r.batch.columns[2].StringAt(0), "q");
  EXPECT_EQ(r.batch.columns[3].StringAt(0), "z");
  EXPECT_TRUE(r.batch.columns[4].IsNull(0));
}

TEST(ProjectorTest, RequiredAndOptionalAndNulls) {
  auto p = Make(Jsonl({Col("id", "/data/id", ColumnType::kString, true),
                       Col("opt", "/data/opt", ColumnType::kInt64)}));
  Outcome r = Project(
      *p, {R"({"data":{"id":"a"}})", R"({"data":{"id":"b","opt":null}})", R"({"data":{"opt":1}})",
           R"({"data":{"id":null}})", R"({"data":5})", R"({"data":{"id":"c","opt":3}})"});
  ASSERT_EQ(r.docs, 3u);
  EXPECT_EQ(r.batch.columns[0].StringAt(0), "a");
  EXPECT_TRUE(r.batch.columns[1].IsNull(0));
  EXPECT_TRUE(r.batch.columns[1].IsNull(1));
  EXPECT_EQ(r.batch.columns[0].StringAt(2), "c");
  EXPECT_EQ(r.batch.columns[1].Int64At(2), 3);
  EXPECT_EQ(r.batch.columns[1].null_count(), 2u);
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0].record_index, 2u);
  EXPECT_EQ(r.errors[0].reason, "missing required column 'id' (/data/id)");
  EXPECT_EQ(r.errors[1].reason, "required column 'id' (/data/id) is null");
  EXPECT_EQ(r.errors[2].reason, "missing required column 'id' (/data/id)");
}

TEST(ProjectorTest, FailedRecordLeavesNoPartialRow) {
  // 'a' converts before 'b' fails: no column may keep a value of the failed record.
  auto p = Make(Jsonl({Col("a", "/a", ColumnType::kString), Col("j", "/j", ColumnType::kJson),
                       Col("b", "/b", ColumnType::kInt64), Col("c", "/c", ColumnType::kDouble)}));
  Outcome r = Project(
      *p, {R"({"a":"first","j":[1],"b":1,"c":1})", R"({"a":"BAD","j":{"k":"BAD"},"b":"x","c":2})",
           R"({"a":"third","j":2,"b":3,"c":3})"});
  ASSERT_EQ(r.docs, 2u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].record_index, 1u);
  for (const ColumnBuffer& c : r.batch.columns) EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(r.batch.columns[0].StringAt(1), "third");
  EXPECT_EQ(r.batch.columns[0].bytes(), "firstthird");
  EXPECT_EQ(r.batch.columns[1].bytes(), "[1]2");
  EXPECT_EQ(r.batch.columns[2].Int64At(1), 3);
  EXPECT_EQ(r.batch.columns[3].DoubleAt(1), 3.0);
}

TEST(ProjectorTest, DerivedDateAndHourIncludingNegativeTimes) {
  auto p = Make(
      Jsonl({Col("ts", "/ts", ColumnType::kTimestampMs), Derived("dt", ColumnSource::kDateOf, "ts"),
             Derived("hr", ColumnSource::kHourOf, "ts")}));
  Outcome r =
      Project(*p, {R"({"ts":0})", R"({"ts":86399999})", R"({"ts":-1})", R"({"ts":-86400000})",
                   R"({"ts":-86400001})", R"({"ts":1709202896789})", R"({"ts":null})", R"({})"});
  ASSERT_EQ(r.docs, 8u);
  const ColumnBuffer& dt = r.batch.columns[1];
  const ColumnBuffer& hr = r.batch.columns[2];
  const int32_t days[] = {0, 0, -1, -1, -2, 19782};
  const int64_t hours[] = {0, 23, 23, 0, 23, 10};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(dt.DateAt(i), days[i]) << i;
    EXPECT_EQ(hr.Int64At(i), hours[i]) << i;
  }
  EXPECT_TRUE(dt.IsNull(6));
  EXPECT_TRUE(hr.IsNull(6));
  EXPECT_TRUE(dt.IsNull(7));
  EXPECT_TRUE(hr.IsNull(7));
}

TEST(ProjectorTest, DerivedFromIsoTimestampWithOffset) {
  auto p = Make(Jsonl({Col("ts", "/ts", ColumnType::kTimestampMs, false, true),
                       Derived("dt", ColumnSource::kDateOf, "ts"),
                       Derived("hr", ColumnSource::kHourOf, "ts")}));
  // 00:30 at +02:00 is 22:30 UTC of the previous day.
  Outcome r = Project(*p, {R"({"ts":"2024-03-01T00:30:00+02:00"})"});
  ASSERT_EQ(r.docs, 1u);
  EXPECT_EQ(r.batch.columns[1].DateAt(0), 19782);
  EXPECT_EQ(r.batch.columns[2].Int64At(0), 22);
}

TEST(ProjectorTest, InvalidJsonNonObjectBlankAndOversize) {
  auto p = Make(Jsonl({Col("a", "/a", ColumnType::kInt64)}));
  std::vector<std::string> lines = {
      R"({"a":1,})",           "[1,2]",     "",   "   \t",    R"({"a":tru})", R"({"a":1} x)",
      R"({"a":"unterminated)", "{\"a\":1}", "17", R"({"a":1)"};
  std::vector<RecordView> views = Views(lines);
  views.push_back(RecordView{"{\"a\":", 100, 5000, 10, true});
  ColumnBatch batch(p->schema());
  std::vector<RecordIssue> skips, errors;
  EXPECT_EQ(p->Process(views, batch, skips, errors), 1u);
  ASSERT_EQ(skips.size(), 2u);
  EXPECT_EQ(skips[0].record_index, 2u);
  EXPECT_EQ(skips[0].reason, "blank line");
  EXPECT_EQ(skips[1].record_index, 3u);
  ASSERT_EQ(errors.size(), 8u);
  EXPECT_EQ(errors[0].record_index, 0u);
  EXPECT_EQ(errors[0].reason.rfind("invalid JSON: TAPE_ERROR: ", 0), 0u) << errors[0].reason;
  EXPECT_NE(errors[0].reason.find(" at byte 7"), std::string::npos) << errors[0].reason;
  EXPECT_EQ(errors[1].reason, "top-level JSON value is array, expected an object");
  EXPECT_EQ(errors[2].record_index, 4u);
  EXPECT_EQ(errors[2].reason.rfind("invalid JSON: T_ATOM_ERROR: ", 0), 0u) << errors[2].reason;
  EXPECT_NE(errors[2].reason.find(" at byte 5"), std::string::npos) << errors[2].reason;
  EXPECT_EQ(errors[3].reason.rfind("invalid JSON: ", 0), 0u) << errors[3].reason;
  EXPECT_NE(errors[3].reason.find(" at byte 8"), std::string::npos) << errors[3].reason;
  EXPECT_EQ(errors[4].reason.rfind("invalid JSON: UNCLOSED_STRING", 0), 0u) << errors[4].reason;
  EXPECT_EQ(errors[5].record_index, 8u);
  EXPECT_EQ(errors[5].reason, "top-level JSON value is integer 17, expected an object");
  EXPECT_EQ(errors[6].reason.rfind("invalid JSON: ", 0), 0u) << errors[6].reason;
  EXPECT_EQ(errors[7].record_index, 10u);
  EXPECT_EQ(errors[7].reason, "record longer than max_record_bytes (16777216)");
  EXPECT_EQ(batch.columns[0].Int64At(0), 1);
}

TEST(ProjectorTest, ByteOrderMarkOnlyAtFileStart) {
  auto p = Make(Jsonl({Col("a", "/a", ColumnType::kInt64)}));
  const std::string bom_line = "\xEF\xBB\xBF{\"a\":1}";
  std::vector<RecordView> views = {RecordView{bom_line, 0, 11, 0}, RecordView{bom_line, 11, 22, 1}};
  ColumnBatch batch(p->schema());
  std::vector<RecordIssue> skips, errors;
  EXPECT_EQ(p->Process(views, batch, skips, errors), 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].record_index, 1u);
  EXPECT_EQ(errors[0].reason.rfind("invalid JSON: ", 0), 0u);
}

TEST(ProjectorTest, DuplicateKeyFirstOccurrenceWins) {
  // The first "o" is the value of /o: its siblings are not merged into it.
  auto p = Make(Jsonl({Col("a", "/o/a", ColumnType::kInt64), Col("b", "/o/b", ColumnType::kInt64),
                       Col("top", "/a", ColumnType::kInt64)}));
  Outcome r = Project(*p, {R"({"o":{"a":1},"o":{"a":2,"b":3},"a":9,"a":10})"});
  ASSERT_EQ(r.docs, 1u);
  EXPECT_EQ(r.batch.columns[0].Int64At(0), 1);
  EXPECT_TRUE(r.batch.columns[1].IsNull(0));
  EXPECT_EQ(r.batch.columns[2].Int64At(0), 9);
}

TEST(ProjectorTest, ParserReuseAcrossLongAndShortRecords) {
  auto p = Make(Jsonl({Col("s", "/s", ColumnType::kString)}));
  const std::string big = "{\"s\":\"" + std::string(100000, 'x') + "\"}";
  Outcome r = Project(*p, {R"({"s":"a"})", big, R"({"s":"b"})"});
  ASSERT_EQ(r.docs, 3u);
  EXPECT_EQ(r.batch.columns[0].StringAt(1).size(), 100000u);
  EXPECT_EQ(r.batch.columns[0].StringAt(2), "b");
}

// ---- csv --------------------------------------------------------------------------------------

TEST(ProjectorCsvTest, HeaderMappingQuotesAndTypes) {
  auto p = Make(Csv(
      {Col("id", "id", ColumnType::kInt64, true), Col("name", "name", ColumnType::kString),
       Col("score", "score", ColumnType::kDouble), Col("ok", "ok", ColumnType::kBool),
       Col("ts", "when", ColumnType::kTimestampMs, false, true),
       Col("extra", "extra", ColumnType::kJson), Col("absent", "not_in_file", ColumnType::kString),
       Derived("dt", ColumnSource::kDateOf, "ts")}));
  ASSERT_TRUE(p->SetCsvHeader("\xEF\xBB\xBFok,id,when,name,score,extra").ok());
  Outcome r = Project(*p, {
                              "TRUE,1,2024-02-29T12:34:56.789+02:00,\"Smith, \"\"J\"\"\nline\",1.5,"
                              "\"{ \"\"a\"\": [1, 2] }\"",
                              "0,2,,plain,-2e3",
                              "false,3",
                              "1,4,,\"\",,",
                              "",
                          });
  ASSERT_EQ(r.docs, 4u) << (r.errors.empty() ? "" : r.errors[0].reason);
  ASSERT_EQ(r.skips.size(), 1u);
  EXPECT_EQ(r.skips[0].reason, "blank line");
  const auto& cols = r.batch.columns;
  EXPECT_EQ(cols[0].Int64At(0), 1);
  EXPECT_EQ(cols[1].StringAt(0), "Smith, \"J\"\nline");
  EXPECT_EQ(cols[2].DoubleAt(0), 1.5);
  EXPECT_TRUE(cols[3].BoolAt(0));
  EXPECT_EQ(cols[4].Int64At(0), 1709202896789);
  EXPECT_EQ(cols[5].StringAt(0), R"({"a":[1,2]})");
  EXPECT_TRUE(cols[6].IsNull(0));
  EXPECT_EQ(cols[7].DateAt(0), 19782);
  // Row 2: empty 'when' is NULL, and so is its date; 'extra' is missing (short row).
  EXPECT_EQ(cols[1].StringAt(1), "plain");
  EXPECT_EQ(cols[2].DoubleAt(1), -2000.0);
  EXPECT_FALSE(cols[3].BoolAt(1));
  EXPECT_TRUE(cols[4].IsNull(1));
  EXPECT_TRUE(cols[7].IsNull(1));
  EXPECT_TRUE(cols[5].IsNull(1));
  // Row 3: only two fields.
  EXPECT_EQ(cols[0].Int64At(2), 3);
  EXPECT_TRUE(cols[1].IsNull(2));
  EXPECT_TRUE(cols[2].IsNull(2));
  // Row 4: a quoted empty string is an empty string; trailing empty field is NULL.
  EXPECT_FALSE(cols[1].IsNull(3));
  EXPECT_EQ(cols[1].StringAt(3), "");
  EXPECT_TRUE(cols[5].IsNull(3));
}

TEST(ProjectorCsvTest, ConversionErrors) {
  auto p = Make(Csv({Col("id", "id", ColumnType::kInt64, true), Col("b", "b", ColumnType::kBool),
                     Col("d", "d", ColumnType::kDouble), Col("j", "j", ColumnType::kJson),
                     Col("t", "t", ColumnType::kTimestampMs)}));
  ASSERT_TRUE(p->SetCsvHeader("id,b,d,j,t").ok());
  Outcome r =
      Project(*p, {"x,,,,", "99999999999999999999,,,,", "1,yes,,,", "1,,1.5x,,", "1,,inf,,",
                   "1,,,{bad,", "1,,,,1.5", ",1", "1,\"a\"b", "1,\"open", "1,true,0.5,\"[1]\",5"});
  ASSERT_EQ(r.docs, 1u);
  ASSERT_EQ(r.errors.size(), 10u);
  EXPECT_EQ(r.errors[0].reason, "column 'id' (id): expected an integer, got \"x\"");
  EXPECT_EQ(r.errors[1].reason,
            "column 'id' (id): \"99999999999999999999\" is out of the int64 range");
  EXPECT_EQ(r.errors[2].reason, "column 'b' (b): expected true, false, 1 or 0, got \"yes\"");
  EXPECT_EQ(r.errors[3].reason, "column 'd' (d): expected a number, got \"1.5x\"");
  EXPECT_EQ(r.errors[4].reason, "column 'd' (d): expected a number, got \"inf\"");
  EXPECT_EQ(r.errors[5].reason.rfind("column 'j' (j): expected JSON text (", 0), 0u)
      << r.errors[5].reason;
  EXPECT_EQ(r.errors[6].reason, "column 't' (t): expected integer milliseconds, got \"1.5\"");
  EXPECT_EQ(r.errors[7].reason, "required column 'id' (id) is empty");
  EXPECT_EQ(r.errors[8].reason,
            "malformed CSV: unexpected \"b\" after the closing quote of field 2");
  EXPECT_EQ(r.errors[9].reason, "malformed CSV: unterminated quoted field 2");
  EXPECT_EQ(r.batch.columns[3].StringAt(0), "[1]");
  EXPECT_EQ(r.batch.columns[4].Int64At(0), 5);
}

TEST(ProjectorCsvTest, RequiredHeaderAbsentAndRequiredFieldMissing) {
  auto p = Make(
      Csv({Col("id", "id", ColumnType::kInt64, true), Col("v", "v", ColumnType::kString, true)}));
  Status st = p->SetCsvHeader("id,other");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "csv header has no field 'v' for required column 'v'");
  // Without a valid header every data record is an error, not a silent NULL.
  Outcome r0 = Project(*p, {"1,2"});
  ASSERT_EQ(r0.errors.size(), 1u);
  EXPECT_EQ(r0.errors[0].reason, "csv header row not seen before this record");
  ASSERT_TRUE(p->SetCsvHeader("v,id").ok());
  Outcome r = Project(*p, {"a,1", "b"});
  ASSERT_EQ(r.docs, 1u);
  EXPECT_EQ(r.batch.columns[0].Int64At(0), 1);
  EXPECT_EQ(r.batch.columns[1].StringAt(0), "a");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].reason, "missing required column 'id' (id)");
}

TEST(ProjectorCsvTest, NoHeaderUsesFieldNumbersAndOtherDelimiter) {
  DatasetConfig cfg =
      Csv({Col("second", "2", ColumnType::kString), Col("first", "1", ColumnType::kInt64)}, false);
  cfg.read.csv_delimiter = '\t';
  cfg.read.csv_quote = '\'';
  auto p = Make(cfg);
  EXPECT_FALSE(p->SetCsvHeader("a\tb").ok());
  Outcome r = Project(*p, {"7\t'x\ty'", "8"});
  ASSERT_EQ(r.docs, 2u);
  EXPECT_EQ(r.batch.columns[0].StringAt(0), "x\ty");
  EXPECT_EQ(r.batch.columns[1].Int64At(0), 7);
  EXPECT_TRUE(r.batch.columns[0].IsNull(1));
}

}  // namespace
// Regression: a record with a valid number simdjson cannot hold (beyond int64/uint64, or a
// double overflowing to infinity) in a field NO column reads was rejected whole as "invalid
// JSON: NUMBER_ERROR". Valid JSON must parse; the number matters only to a column reading it.
TEST(ProjectorTest, OutOfRangeNumbersInUnreadFieldsDoNotRejectTheRecord) {
  auto p = Make(
      Jsonl({Col("id", "/id", ColumnType::kString, true), Col("n", "/n", ColumnType::kInt64)}));
  Outcome r = Project(
      *p, {R"({"id":"a","big":123456789012345678901234567890,"n":1})",
           R"({"id":"b","x":{"huge":1e400,"neg":-1e400,"arr":[18446744073709551616]},"n":2})",
           R"({"id":"c","neg":-9223372036854775809,"s":"1e400 in a string","n":3})"});
  ASSERT_EQ(r.docs, 3u) << (r.errors.empty() ? "" : r.errors[0].reason);
  EXPECT_EQ(r.batch.columns[0].StringAt(1), "b");
  EXPECT_EQ(r.batch.columns[1].Int64At(0), 1);
  EXPECT_EQ(r.batch.columns[1].Int64At(2), 3);
}

// Regression: the columns that do read such a number say what is wrong with it, and
// -9223372036854775809 gets the same range message as 9223372036854775808.
TEST(ProjectorTest, OutOfRangeNumbersReadByAColumnNameTheRange) {
  const ColumnConfig i = Col("n", "/data/n", ColumnType::kInt64);
  EXPECT_EQ(OneError(i, R"({"data":{"n":-9223372036854775809}})"),
            "column 'n' (/data/n): integer -9223372036854775809 is out of the int64 range");
  EXPECT_EQ(OneError(i, R"({"data":{"n":9223372036854775808}})"),
            "column 'n' (/data/n): integer 9223372036854775808 is out of the int64 range");
  EXPECT_EQ(
      OneError(i, R"({"data":{"n":123456789012345678901234567890}})"),
      "column 'n' (/data/n): integer 123456789012345678901234567890 is out of the int64 range");
  EXPECT_EQ(OneError(i, R"({"data":{"n":1e400}})"),
            "column 'n' (/data/n): number 1e400 is out of the int64 range");
  const ColumnConfig d = Col("n", "/data/n", ColumnType::kDouble);
  EXPECT_EQ(OneError(d, R"({"data":{"n":1e400}})"),
            "column 'n' (/data/n): number 1e400 is out of the double range");
  EXPECT_EQ(OneError(d, R"({"data":{"n":-1.5e999}})"),
            "column 'n' (/data/n): number -1.5e999 is out of the double range");
  const ColumnConfig s = Col("n", "/n", ColumnType::kString);
  EXPECT_EQ(OneError(s, R"({"n":1e400})"), "column 'n' (/n): expected a string, got number 1e400");
  const ColumnConfig b = Col("n", "/n", ColumnType::kBool);
  EXPECT_EQ(OneError(b, R"({"n":-9223372036854775809})"),
            "column 'n' (/n): expected true or false, got integer -9223372036854775809");

  // A big integer is a fine double.
  auto p = Make(Jsonl({Col("n", "/n", ColumnType::kDouble)}));
  Outcome r = Project(*p, {R"({"n":123456789012345678901234567890})"});
  ASSERT_EQ(r.docs, 1u);
  EXPECT_DOUBLE_EQ(r.batch.columns[0].DoubleAt(0), 1.2345678901234568e29);

  // Malformed numbers are still invalid JSON.
  EXPECT_NE(OneError(i, R"({"data":{"n":01}})").find("invalid JSON: NUMBER_ERROR"),
            std::string::npos);
  EXPECT_NE(OneError(i, R"({"x":1e400,"data":{"n":-}})").find("invalid JSON: NUMBER_ERROR"),
            std::string::npos);
}

// Regression: json columns holding such numbers keep their exact text, nested or not.
TEST(ProjectorTest, OutOfRangeNumbersKeepTheirTextInJsonColumns) {
  auto p = Make(Jsonl({Col("n", "/n", ColumnType::kJson), Col("obj", "/obj", ColumnType::kJson),
                       Col("s", "/s", ColumnType::kString)}));
  Outcome r = Project(
      *p,
      {R"({"n":123456789012345678901234567890,"obj":{"a":[1e400, -9223372036854775809, 2],"b":"\u0001x"},"s":"t"})"});
  ASSERT_EQ(r.docs, 1u) << (r.errors.empty() ? "" : r.errors[0].reason);
  EXPECT_EQ(r.batch.columns[0].StringAt(0), "123456789012345678901234567890");
  EXPECT_EQ(r.batch.columns[1].StringAt(0),
            R"({"a":[1e400,-9223372036854775809,2],"b":"\u0001x"})");
  EXPECT_EQ(r.batch.columns[2].StringAt(0), "t");
}

// Regression (as above, for JSON text in a csv field): valid JSON with numbers beyond
// simdjson's range is accepted by a json column and keeps its exact text.
TEST(ProjectorCsvTest, JsonFieldWithOutOfRangeNumbersKeepsItsText) {
  auto p = Make(Csv({Col("j", "j", ColumnType::kJson)}));
  ASSERT_TRUE(p->SetCsvHeader("j").ok());
  Outcome r = Project(*p, {R"("{""a"":1e400,""b"":[123456789012345678901234567890]}")", "01"});
  ASSERT_EQ(r.docs, 1u) << (r.errors.empty() ? "" : r.errors[0].reason);
  EXPECT_EQ(r.batch.columns[0].StringAt(0), R"({"a":1e400,"b":[123456789012345678901234567890]})");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].reason.rfind("column 'j' (j): expected JSON text (NUMBER_ERROR)", 0), 0u)
      << r.errors[0].reason;
}

}  // namespace weir
