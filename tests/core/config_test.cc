#include "core/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/config_schema.h"
#include "core/text_util.h"

namespace weir {
namespace {

namespace fs = std::filesystem;

// The shipped example (examples/clickstream/dataset.yaml). Line numbers used below:
// 2 read:, 6 parser, 7 write:, 11 format, 12 partition_by, 13 columns:, 14 id, 16 created_at,
// 17 user_id, 21 dt, 22 errors:, 25 workers.
constexpr const char* kExample = R"(name: clickstream
read:
  connector: files
  location: data                 # relative paths are relative to this file
  manifest: data/manifest.txt    # one file a line, relative to location
  parser: jsonl
write:
  connector: lake
  location: lake                 # the table lives at lake/events/
  table: events
  format: parquet
  partition_by: [event_type, dt]
  columns:
    id:         {path: /data/id, type: string, required: true}
    event_type: {path: /data/type, type: string, required: true}
    created_at: {path: /meta/created_at, type: timestamp_ms, required: true}
    user_id:    {path: /data/attributes/user_id, type: string}
    latitude:   {path: /data/attributes/latitude, type: double}
    longitude:  {path: /data/attributes/longitude, type: double}
    attributes: {path: /data/attributes, type: json}
    dt:         {date_of: created_at}
errors:
  location: errors
compute:
  workers: 2
)";

constexpr const char* kFile = "/tmp/weir-ds/dataset.yaml";

// kExample with `from` replaced by `to` (which must occur exactly once).
std::string Edit(const std::string& from, const std::string& to, std::string base = kExample) {
  const size_t pos = base.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  EXPECT_EQ(base.find(from, pos + 1), std::string::npos) << "ambiguous edit: " << from;
  if (pos == std::string::npos) return base;
  return base.replace(pos, from.size(), to);
}

// The error message of loading `yaml` as "dataset.yaml"; fails the test if it loads.
std::string ErrorOf(const std::string& yaml) {
  auto r = ParseDatasetConfig(yaml, "dataset.yaml");
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << yaml;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(DatasetConfigTest, ExampleLoadsWithAbsolutePathsAndColumnOrder) {
  auto r = ParseDatasetConfig(kExample, kFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const DatasetConfig& c = *r;
  EXPECT_EQ(c.file, "/tmp/weir-ds/dataset.yaml");
  EXPECT_EQ(c.dir, "/tmp/weir-ds");
  EXPECT_EQ(c.name, "clickstream");
  EXPECT_EQ(c.store, "/tmp/weir-ds/.weir/store.db");
  EXPECT_TRUE(c.plugins.empty());
  EXPECT_EQ(c.read.connector, "files");
  EXPECT_EQ(c.read.location, "/tmp/weir-ds/data");
  EXPECT_EQ(c.read.manifest, "/tmp/weir-ds/data/manifest.txt");
  EXPECT_EQ(c.read.parser, "jsonl");
  EXPECT_EQ(c.read.max_record_bytes, 16ull << 20);
  EXPECT_TRUE(c.transforms.empty());
  EXPECT_EQ(c.write.connector, "lake");
  EXPECT_EQ(c.write.location, "/tmp/weir-ds/lake");
  EXPECT_EQ(c.write.table, "events");
  EXPECT_EQ(c.write.format, "parquet");
  EXPECT_EQ(c.write.compression, "zstd");
  EXPECT_EQ(c.write.partition_by, (std::vector<std::string>{"event_type", "dt"}));
  EXPECT_EQ(c.write.roll_bytes, 128ull << 20);
  EXPECT_EQ(c.write.roll_records, 0u);

  std::vector<std::string> names;
  for (const auto& col : c.write.columns) names.push_back(col.name);
  EXPECT_EQ(names, (std::vector<std::string>{"id", "event_type", "created_at", "user_id",
                                             "latitude", "longitude", "attributes", "dt"}));
  const auto& cols = c.write.columns;
  ASSERT_EQ(cols.size(), 8u);
  EXPECT_EQ(cols[0].source, ColumnSource::kPath);
  EXPECT_EQ(cols[0].path, "/data/id");
  EXPECT_EQ(cols[0].type, ColumnType::kString);
  EXPECT_TRUE(cols[0].required);
  EXPECT_EQ(cols[0].line, 14);
  EXPECT_EQ(cols[2].type, ColumnType::kTimestampMs);
  EXPECT_FALSE(cols[2].iso8601);
  EXPECT_TRUE(cols[2].required);
  EXPECT_EQ(cols[3].path, "/data/attributes/user_id");
  EXPECT_FALSE(cols[3].required);
  EXPECT_EQ(cols[4].type, ColumnType::kDouble);
  EXPECT_EQ(cols[6].type, ColumnType::kJson);
  EXPECT_EQ(cols[7].source, ColumnSource::kDateOf);
  EXPECT_EQ(cols[7].from, "created_at");
  EXPECT_EQ(cols[7].type, ColumnType::kDate);
  EXPECT_FALSE(cols[7].required);
  EXPECT_EQ(cols[7].line, 21);

  EXPECT_EQ(c.errors.location, "/tmp/weir-ds/errors");
  EXPECT_FALSE(c.errors.max_ratio.has_value());
  EXPECT_EQ(c.errors.excerpt_bytes, 1024u);
  EXPECT_EQ(c.compute.workers, 2);
  EXPECT_EQ(c.compute.retries, 3);
  EXPECT_DOUBLE_EQ(c.compute.checkpoint_seconds, 5.0);
}

TEST(DatasetConfigTest, LoadsFromFileAndResolvesAgainstItsFolder) {
  const fs::path dir = fs::temp_directory_path() / "weir_config_test_load";
  fs::create_directories(dir / "sub");
  const fs::path file = dir / "sub" / "ds.yaml";
  {
    std::ofstream out(file);
    out << Edit("location: data ", "location: ../shared/./data ");
  }
  auto r = LoadDatasetConfig(file.string());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->file, file.lexically_normal().string());
  EXPECT_EQ(r->read.location, (dir / "shared" / "data").string());
  EXPECT_EQ(r->read.manifest, (dir / "sub" / "data" / "manifest.txt").string());
  fs::remove_all(dir);
}

TEST(DatasetConfigTest, ShippedExampleLoads) {
  const fs::path p = fs::path(WEIR_SOURCE_DIR) / "examples/clickstream/dataset.yaml";
  if (!fs::exists(p)) GTEST_SKIP() << p << " is not there yet";
  auto r = LoadDatasetConfig(p.string());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, "clickstream");
}

TEST(DatasetConfigTest, MissingFileIsNotFound) {
  auto r = LoadDatasetConfig("/nonexistent/weir/dataset.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/weir/dataset.yaml"), std::string::npos);
}

TEST(DatasetConfigTest, JsonFormLoads) {
  const char* json = R"({
  "name": "clickstream",
  "read": {"location": "data", "manifest": "data/manifest.txt", "parser": "jsonl"},
  "write": {
    "connector": "lake", "location": "lake", "table": "events",
    "partition_by": ["dt"],
    "columns": {
      "id": {"path": "/data/id", "type": "string", "required": true},
      "created_at": {"path": "/meta/created_at", "type": "timestamp"},
      "dt": {"date_of": "created_at"},
      "hour": {"hour_of": "created_at", "type": "int64"}
    }
  },
  "compute": {"workers": 4, "checkpoint_seconds": 0.5}
})";
  auto r = ParseDatasetConfig(json, kFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->read.connector, "files");
  ASSERT_EQ(r->write.columns.size(), 4u);
  EXPECT_EQ(r->write.columns[1].name, "created_at");
  EXPECT_EQ(r->write.columns[1].type, ColumnType::kTimestampMs);
  EXPECT_TRUE(r->write.columns[1].iso8601);
  EXPECT_EQ(r->write.columns[3].source, ColumnSource::kHourOf);
  EXPECT_EQ(r->write.columns[3].type, ColumnType::kInt64);
  EXPECT_EQ(r->compute.workers, 4);
  EXPECT_DOUBLE_EQ(r->compute.checkpoint_seconds, 0.5);

  // Errors in JSON carry lines too.
  EXPECT_EQ(ErrorOf(Edit("\"workers\": 4", "\"wokers\": 4", json)),
            "dataset.yaml:14: compute.wokers: unknown key (did you mean 'workers'?)");
}

TEST(DatasetConfigTest, DefaultsAreApplied) {
  const char* yaml = R"(name: min
read: {location: in, manifest: in/list.txt, parser: csv}
write:
  connector: lake
  location: /lake
  table: t
  columns:
    a: {path: a}
)";
  auto r = ParseDatasetConfig(yaml, kFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const DatasetConfig& c = *r;
  EXPECT_EQ(c.store, "/tmp/weir-ds/.weir/store.db");
  EXPECT_EQ(c.read.connector, "files");
  EXPECT_EQ(c.read.csv_delimiter, ',');
  EXPECT_EQ(c.read.csv_quote, '"');
  EXPECT_TRUE(c.read.csv_header);
  EXPECT_EQ(c.read.max_record_bytes, 16ull << 20);
  EXPECT_EQ(c.write.location, "/lake");
  EXPECT_EQ(c.write.format, "parquet");
  EXPECT_EQ(c.write.compression, "zstd");
  EXPECT_EQ(c.write.roll_bytes, 128ull << 20);
  EXPECT_EQ(c.write.roll_records, 0u);
  ASSERT_EQ(c.write.columns.size(), 1u);
  EXPECT_EQ(c.write.columns[0].type, ColumnType::kString);
  EXPECT_FALSE(c.write.columns[0].required);
  EXPECT_EQ(c.write.columns[0].path, "a");
  EXPECT_EQ(c.errors.location, "/tmp/weir-ds/errors");
  EXPECT_EQ(c.errors.excerpt_bytes, 1024u);
  EXPECT_EQ(c.compute.workers, 2);
  EXPECT_EQ(c.compute.retries, 3);
  EXPECT_DOUBLE_EQ(c.compute.checkpoint_seconds, 5.0);
}

TEST(DatasetConfigTest, AllOptionalKeysAreRead) {
  std::string yaml = Edit("  parser: jsonl\n",
                          "  parser: csv\n"
                          "  csv: {delimiter: \"\\t\", quote: \"'\", header: false}\n"
                          "  max_record_bytes: 512KiB\n");
  // Without a header row, csv columns are addressed by 1-based field number.
  int field = 1;
  for (const char* p : {"/data/id", "/data/type", "/meta/created_at", "/data/attributes/user_id",
                        "/data/attributes/latitude", "/data/attributes/longitude",
                        "/data/attributes"}) {
    yaml = Edit(std::string("path: ") + p + ",", "path: \"" + std::to_string(field++) + "\",", yaml);
  }
  yaml = Edit("  format: parquet\n",
              "  format: jsonl\n  compression: none\n  roll_bytes: 1GiB\n  roll_records: 1000\n",
              yaml);
  yaml = Edit("  location: errors\n",
              "  location: /var/errors\n  max_ratio: 0.25\n  excerpt_bytes: 64\n", yaml);
  yaml = Edit("  workers: 2\n", "  workers: 8\n  retries: 0\n  checkpoint_seconds: 1.5\n", yaml);
  yaml = Edit("name: clickstream\n",
              "name: click.stream-2\nstore: state\nplugins: [plug/a.so, /abs/b.so]\n"
              "transforms:\n"
              "  - geo: {layers: geo/layers.yaml, lon: longitude, lat: latitude, "
              "on_invalid: error}\n",
              yaml);
  auto r = ParseDatasetConfig(yaml, kFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const DatasetConfig& c = *r;
  EXPECT_EQ(c.name, "click.stream-2");
  EXPECT_EQ(c.store, "/tmp/weir-ds/state/store.db");
  EXPECT_EQ(c.plugins, (std::vector<std::string>{"/tmp/weir-ds/plug/a.so", "/abs/b.so"}));
  ASSERT_EQ(c.transforms.size(), 1u);
  ASSERT_TRUE(c.transforms[0].geo.has_value());
  EXPECT_EQ(c.transforms[0].geo->layers, "/tmp/weir-ds/geo/layers.yaml");
  EXPECT_EQ(c.transforms[0].geo->lon, "longitude");
  EXPECT_EQ(c.transforms[0].geo->lat, "latitude");
  EXPECT_TRUE(c.transforms[0].geo->invalid_is_error);
  EXPECT_EQ(c.transforms[0].geo->line, 5);
  EXPECT_EQ(c.read.parser, "csv");
  EXPECT_EQ(c.read.csv_delimiter, '\t');
  EXPECT_EQ(c.read.csv_quote, '\'');
  EXPECT_FALSE(c.read.csv_header);
  EXPECT_EQ(c.read.max_record_bytes, 512u * 1024u);
  EXPECT_EQ(c.write.columns[0].path, "1");
  EXPECT_EQ(c.write.format, "jsonl");
  EXPECT_EQ(c.write.compression, "none");
  EXPECT_EQ(c.write.roll_bytes, 1ull << 30);
  EXPECT_EQ(c.write.roll_records, 1000u);
  EXPECT_EQ(c.errors.location, "/var/errors");
  ASSERT_TRUE(c.errors.max_ratio.has_value());
  EXPECT_DOUBLE_EQ(*c.errors.max_ratio, 0.25);
  EXPECT_EQ(c.errors.excerpt_bytes, 64u);
  EXPECT_EQ(c.compute.workers, 8);
  EXPECT_EQ(c.compute.retries, 0);
  EXPECT_DOUBLE_EQ(c.compute.checkpoint_seconds, 1.5);
}

TEST(DatasetConfigTest, CsvDelimiterMayBeAnEscapedOrLiteralTab) {
  const std::string base = Edit("  parser: jsonl\n", "  parser: csv\n  csv: {delimiter: DELIM}\n");
  for (const char* delim : {"'\\t'", "\"\\t\"", "\"\t\""}) {
    std::string yaml = Edit("DELIM", delim, base);
    // csv paths are header names; JSON pointers are fine as header names too.
    auto r = ParseDatasetConfig(yaml, kFile);
    ASSERT_TRUE(r.ok()) << delim << ": " << r.status().ToString();
    EXPECT_EQ(r->read.csv_delimiter, '\t') << delim;
  }
  EXPECT_EQ(ErrorOf(Edit("DELIM", "';;'", base)),
            "dataset.yaml:7: read.csv.delimiter: "
            "';;' is not one character (write a tab as \"\\t\")");
}

TEST(DatasetConfigTest, SizesWithUnits) {
  const std::pair<const char*, uint64_t> cases[] = {
      {"1048576", 1048576},
      {"16MiB", 16ull << 20},
      {"512KiB", 512ull << 10},
      {"1GiB", 1ull << 30},
      {"100MB", 100000000},
      {"2 kb", 2000},
      {"1.5KiB", 1536},
      {"7B", 7},
      {"9007199254740993", 9007199254740993ull},
  };
  for (const auto& [text, bytes] : cases) {
    auto r =
        ParseDatasetConfig(Edit("  parser: jsonl\n",
                                std::string("  parser: jsonl\n  max_record_bytes: ") + text + "\n"),
                           kFile);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    EXPECT_EQ(r->read.max_record_bytes, bytes) << text;
  }
}

// ---- one test per class of error; each checks the whole message, line included ----------------

TEST(DatasetConfigErrorTest, UnknownKeyWithSuggestion) {
  EXPECT_EQ(ErrorOf(Edit("  partition_by:", "  partiton_by:")),
            "dataset.yaml:12: write.partiton_by: unknown key (did you mean 'partition_by'?)");
  EXPECT_EQ(ErrorOf(Edit("compute:", "compte:")),
            "dataset.yaml:24: compte: unknown key (did you mean 'compute'?)");
  EXPECT_EQ(ErrorOf(Edit("type: json}", "type: json, requird: true}")),
            "dataset.yaml:20: write.columns.attributes.requird: unknown key "
            "(did you mean 'required'?)");
  // Nothing close: no suggestion.
  EXPECT_EQ(ErrorOf(Edit("  workers: 2\n", "  workers: 2\n  gpu: true\n")),
            "dataset.yaml:26: compute.gpu: unknown key");
}

TEST(DatasetConfigErrorTest, MissingRequiredKeyNamesTheParentLine) {
  EXPECT_EQ(ErrorOf(Edit("  parser: jsonl\n", "")),
            "dataset.yaml:2: read.parser: missing required key");
  EXPECT_EQ(ErrorOf(Edit("name: clickstream\n", "")), "dataset.yaml:1: name: missing required key");
  EXPECT_EQ(ErrorOf(Edit("  table: events\n", "  table:\n")),
            "dataset.yaml:10: write.table: missing value");
  EXPECT_EQ(ErrorOf(Edit("    id:         {path: /data/id, type: string, required: true}",
                         "    id:         {type: string, required: true}")),
            "dataset.yaml:14: write.columns.id: missing required key: one of path, date_of, "
            "hour_of");
}

TEST(DatasetConfigErrorTest, WrongValueType) {
  EXPECT_EQ(ErrorOf(Edit("workers: 2", "workers: many")),
            "dataset.yaml:25: compute.workers: 'many' is not an integer");
  EXPECT_EQ(ErrorOf(Edit("workers: 2", "workers: 0")),
            "dataset.yaml:25: compute.workers: 0 is out of range; expected an integer from 1 to "
            "256");
  EXPECT_EQ(ErrorOf(Edit("workers: 2", "workers: [2]")),
            "dataset.yaml:25: compute.workers: expected an integer, got a list");
  EXPECT_EQ(ErrorOf(Edit("/data/id, type: string, required: true}",
                         "/data/id, type: string, required: yes please}")),
            "dataset.yaml:14: write.columns.id.required: 'yes please' is not a bool; expected "
            "true or false");
  EXPECT_EQ(ErrorOf(Edit("errors:\n  location: errors\n", "errors: errors\n")),
            "dataset.yaml:22: errors: expected a map, got 'errors'");
  EXPECT_EQ(ErrorOf(Edit("  workers: 2\n", "  checkpoint_seconds: 0\n")),
            "dataset.yaml:25: compute.checkpoint_seconds: 0 is out of range; expected a number "
            "greater than 0");
  EXPECT_EQ(ErrorOf(Edit("  location: errors\n", "  max_ratio: 1.5\n")),
            "dataset.yaml:23: errors.max_ratio: 1.5 is out of range; expected a number from 0 to "
            "1");
  EXPECT_EQ(ErrorOf(Edit("  table: events", "  table: 2events")),
            "dataset.yaml:10: write.table: '2events' is not a valid name; expected letters, "
            "digits and '_', not starting with a digit");
  EXPECT_EQ(ErrorOf(Edit("name: clickstream", "name: click stream")),
            "dataset.yaml:1: name: 'click stream' is not a valid name; use letters, digits, '_', "
            "'.' and '-'");
}

TEST(DatasetConfigTest, ParserOptionsBecomeJson) {
  auto cfg = ParseDatasetConfig(
      Edit("parser: jsonl",
           "parser: plugin:logfile\n  options: {min_level: INFO, n: 3, ratio: 0.5, on: true, "
           "quoted: '7', list: [a, 2], nested: {k: v}}"),
      "/tmp/ds/dataset.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->read.parser, "plugin:logfile");
  EXPECT_EQ(cfg->read.options_json,
            "{\"min_level\":\"INFO\",\"n\":3,\"ratio\":0.5,\"on\":true,\"quoted\":\"7\","
            "\"list\":[\"a\",2],\"nested\":{\"k\":\"v\"}}");
  auto bad = ParseDatasetConfig(Edit("parser: jsonl", "parser: regex\n  options: [x]"),
                                "/tmp/ds/dataset.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("read.options: expected a map of parser options"),
            std::string::npos)
      << bad.status().message();
}

// Regression (found by config_fuzz): with csv.header: false a column path must be a 1-based field
// number; the loader accepted "0" and names, and the run failed only when it started.
TEST(DatasetConfigErrorTest, CsvWithoutHeaderNeedsFieldNumbers) {
  const std::string yaml = R"(name: orders
read:
  location: in
  manifest: in/list.txt
  parser: csv
  csv: {header: false}
write:
  connector: lake
  location: lake
  table: orders
  columns:
    id: {path: "1", type: string}
    amount: {path: "0", type: double}
    note: {path: note}
)";
  auto cfg = ParseDatasetConfig(yaml, "dataset.yaml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().message(),
            "dataset.yaml:13: write.columns.amount.path: '0' is not a field number; with "
            "read.csv.header: false, csv columns are addressed by 1-based field number (e.g. path: "
            "\"1\")\n"
            "dataset.yaml:14: write.columns.note.path: 'note' is not a field number; with "
            "read.csv.header: false, csv columns are addressed by 1-based field number (e.g. path: "
            "\"1\")");
}

TEST(DatasetConfigErrorTest, BadEnumValue) {
  EXPECT_EQ(ErrorOf(Edit("type: timestamp_ms", "type: timestamp_sec")),
            "dataset.yaml:16: write.columns.created_at.type: 'timestamp_sec' is not a type; "
            "expected one of string, int64, double, bool, timestamp_ms, timestamp, json");
  EXPECT_EQ(ErrorOf(Edit("format: parquet", "format: parqet")),
            "dataset.yaml:11: write.format: 'parqet' is not a format; expected one of parquet, "
            "jsonl (did you mean 'parquet'?)");
  EXPECT_EQ(ErrorOf(Edit("parser: jsonl", "parser: xml")),
            "dataset.yaml:6: read.parser: 'xml' is not a parser; expected one of jsonl, csv, lines, "
            "regex, warc or plugin:NAME");
  EXPECT_EQ(ErrorOf(Edit("parser: jsonl", "parser: regx")),
            "dataset.yaml:6: read.parser: 'regx' is not a parser; expected one of jsonl, csv, lines, "
            "regex, warc or plugin:NAME (did you mean 'regex'?)");
  EXPECT_EQ(ErrorOf(Edit("parser: jsonl", "parser: 'plugin:'")),
            "dataset.yaml:6: read.parser: 'plugin:' needs the parser's name, e.g. plugin:logfile");
  EXPECT_EQ(ErrorOf(Edit("connector: files", "connector: s3")),
            "dataset.yaml:3: read.connector: 's3' is not a supported connector; expected one of "
            "files, http, kafka");
  EXPECT_EQ(ErrorOf(Edit("connector: lake", "connector: kafka")),
            "dataset.yaml:8: write.connector: 'kafka' is not supported yet; supported connectors: "
            "lake");
  EXPECT_EQ(ErrorOf(Edit("connector: lake", "connector: lak")),
            "dataset.yaml:8: write.connector: 'lak' is not a supported connector; expected one "
            "of lake, none (did you mean 'lake'?)");
}

TEST(DatasetConfigErrorTest, BadSize) {
  EXPECT_EQ(ErrorOf(Edit("  parser: jsonl\n", "  parser: jsonl\n  max_record_bytes: 16MiBs\n")),
            "dataset.yaml:7: read.max_record_bytes: '16MiBs' is not a size; expected a byte count "
            "or a number with a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 16MiB");
  EXPECT_EQ(ErrorOf(Edit("  format: parquet\n", "  roll_bytes: 0\n")),
            "dataset.yaml:11: write.roll_bytes: must be greater than 0");
  EXPECT_EQ(ErrorOf(Edit("  format: parquet\n", "  roll_bytes: -5MB\n")),
            "dataset.yaml:11: write.roll_bytes: '-5MB' is not a size; expected a byte count "
            "or a number with a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 16MiB");
}

TEST(DatasetConfigErrorTest, PartitionByChecks) {
  EXPECT_EQ(ErrorOf(Edit("[event_type, dt]", "[event_type, dte]")),
            "dataset.yaml:12: write.partition_by: unknown column 'dte' (did you mean 'dt'?)");
  EXPECT_EQ(ErrorOf(Edit("[event_type, dt]", "[attributes, latitude, dt, dt]")),
            "dataset.yaml:12: write.partition_by: column 'attributes' has type json; partition "
            "columns cannot be json or double\n"
            "dataset.yaml:12: write.partition_by: column 'latitude' has type double; partition "
            "columns cannot be json or double\n"
            "dataset.yaml:12: write.partition_by: column 'dt' is listed twice");
  EXPECT_EQ(ErrorOf(Edit("[event_type, dt]", "\n    - event_type\n    - dtt")),
            "dataset.yaml:14: write.partition_by: unknown column 'dtt' (did you mean 'dt'?)");
}

TEST(DatasetConfigErrorTest, DerivedColumnChecks) {
  EXPECT_EQ(ErrorOf(Edit("{date_of: created_at}", "{date_of: user_id}")),
            "dataset.yaml:21: write.columns.dt.date_of: column 'user_id' has type string; "
            "date_of needs a column of type timestamp_ms or timestamp");
  EXPECT_EQ(ErrorOf(Edit("{date_of: created_at}", "{hour_of: create_at}")),
            "dataset.yaml:21: write.columns.dt.hour_of: unknown column 'create_at' (did you mean "
            "'created_at'?)");
  EXPECT_EQ(ErrorOf(Edit("{date_of: created_at}", "{date_of: created_at, type: string}")),
            "dataset.yaml:21: write.columns.dt.type: 'string' does not match date_of, which "
            "gives date");
  EXPECT_EQ(ErrorOf(Edit("{date_of: created_at}", "{date_of: created_at, required: true}")),
            "dataset.yaml:21: write.columns.dt.required: not allowed on a derived column "
            "(date_of)");
  EXPECT_EQ(ErrorOf(Edit("{date_of: created_at}", "{date_of: created_at, path: /x}")),
            "dataset.yaml:21: write.columns.dt: give exactly one of path, date_of, hour_of");
  // A derived column may name its (matching) type.
  auto r =
      ParseDatasetConfig(Edit("{date_of: created_at}", "{date_of: created_at, type: date}"), kFile);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST(DatasetConfigErrorTest, CsvBlockNeedsCsvParser) {
  EXPECT_EQ(ErrorOf(Edit("  parser: jsonl\n", "  parser: jsonl\n  csv: {delimiter: ';'}\n")),
            "dataset.yaml:7: read.csv: only allowed when read.parser is csv (parser is 'jsonl')");
}

TEST(DatasetConfigErrorTest, BadJsonPointer) {
  EXPECT_EQ(ErrorOf(Edit("path: /data/id,", "path: data.id,")),
            "dataset.yaml:14: write.columns.id.path: 'data.id' is not a JSON pointer; it must "
            "start with '/' (did you mean '/data/id'?)");
  EXPECT_EQ(ErrorOf(Edit("path: /data/id,", "path: /data/a~2b,")),
            "dataset.yaml:14: write.columns.id.path: '/data/a~2b' is not a valid JSON pointer: "
            "'~' must be followed by 0 or 1 (RFC 6901: '~0' is '~', '~1' is '/')");
  EXPECT_TRUE(ParseDatasetConfig(Edit("path: /data/id,", "path: /da~1ta/i~0d,"), kFile).ok());
}

TEST(DatasetConfigErrorTest, GeoTransformColumnsMustBeDouble) {
  const std::string geo = std::string(kExample) +
                          "transforms:\n"
                          "  - geo:\n"
                          "      layers: layers.yaml\n"
                          "      lon: user_id\n"
                          "      lat: latitud\n";
  EXPECT_EQ(ErrorOf(geo),
            "dataset.yaml:29: transforms[0].geo.lon: column 'user_id' has type string; expected "
            "a column of type double\n"
            "dataset.yaml:30: transforms[0].geo.lat: unknown column 'latitud' (did you mean "
            "'latitude'?)");
  EXPECT_EQ(ErrorOf(std::string(kExample) + "transforms:\n  - geoo: {}\n"),
            "dataset.yaml:27: transforms[0].geoo: unknown key (did you mean 'geo'?)");
  EXPECT_EQ(ErrorOf(std::string(kExample) + "transforms:\n  - geo: {lon: longitude}\n"),
            "dataset.yaml:27: transforms[0].geo.layers: missing required key\n"
            "dataset.yaml:27: transforms[0].geo.lat: missing required key");
  EXPECT_EQ(ErrorOf(std::string(kExample) +
                    "transforms:\n  - geo: {layers: l.yaml, lon: longitude, lat: latitude, "
                    "on_invalid: skip}\n"),
            "dataset.yaml:27: transforms[0].geo.on_invalid: 'skip' is not a valid value; "
            "expected one of null, error");
}

TEST(DatasetConfigErrorTest, SyntaxErrorHasLineAndColumn) {
  const std::string msg = ErrorOf(Edit("  table: events\n", "  table: [events\n"));
  EXPECT_EQ(msg.rfind("dataset.yaml:", 0), 0u) << msg;
  EXPECT_NE(msg.find("YAML syntax error: "), std::string::npos) << msg;
  const std::string bad_indent = ErrorOf("name: x\nread:\n  location: a\n bad: 1\n");
  EXPECT_EQ(bad_indent, "dataset.yaml:4:2: YAML syntax error: end of map not found") << bad_indent;
}

TEST(DatasetConfigErrorTest, SeveralErrorsAreReportedTogetherInLineOrder) {
  std::string yaml = Edit("compute:", "compte:");
  yaml = Edit("format: parquet", "format: orc", yaml);
  yaml = Edit("  parser: jsonl\n", "", yaml);  // shifts later lines up by one
  yaml = Edit("[event_type, dt]", "[event_type, dte]", yaml);
  EXPECT_EQ(ErrorOf(yaml),
            "dataset.yaml:2: read.parser: missing required key\n"
            "dataset.yaml:10: write.format: 'orc' is not a format; expected one of parquet, "
            "jsonl\n"
            "dataset.yaml:11: write.partition_by: unknown column 'dte' (did you mean 'dt'?)\n"
            "dataset.yaml:23: compte: unknown key (did you mean 'compute'?)");
}

// read.location may be an s3:// URL (kept as written, not resolved against the file's folder),
// with the server in `storage:`; the other locations stay local for now and say so.
TEST(DatasetConfigTest, AnS3ReadLocationAndItsStorage) {
  auto r = ParseDatasetConfig(
      Edit("  location: data                 # relative paths are relative to this file\n",
           "  location: s3://raw-events/2025/11\n") +
          "storage:\n  endpoint: http://127.0.0.1:9000\n  region: eu-west-1\n  path_style: true\n",
      kFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->read.location, "s3://raw-events/2025/11");
  EXPECT_EQ(r->storage.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(r->storage.region, "eu-west-1");
  EXPECT_EQ(r->storage.path_style, std::optional<bool>(true));
  EXPECT_EQ(ErrorOf(std::string(kExample) + "storage:\n  endpoint: 127.0.0.1:9000\n"),
            "dataset.yaml:27: storage.endpoint: '127.0.0.1:9000' is not a URL; write it as "
            "http://host:port or https://host");
  EXPECT_EQ(ErrorOf(std::string(kExample) + "storage:\n  endpont: http://x\n"),
            "dataset.yaml:27: storage.endpont: unknown key (did you mean 'endpoint'?)");
}

// The lake and error records may be on S3 too; the lake only as an Iceberg table (S3 has no
// rename, and a Hive table becomes visible by renaming files into place).
TEST(DatasetConfigTest, AnS3LakeMustBeAnIcebergTable) {
  const std::string on_s3 =
      Edit("  location: errors\n", "  location: s3://lake/errors\n",
           Edit("  location: lake                 # the table lives at lake/events/\n",
                "  location: s3://lake/tables\n"));
  auto r = ParseDatasetConfig(on_s3, kFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->write.location, "s3://lake/tables");
  EXPECT_EQ(r->write.table_format, "iceberg");
  EXPECT_EQ(r->errors.location, "s3://lake/errors");
  EXPECT_EQ(ErrorOf(Edit("  format: parquet\n", "  format: jsonl\n", on_s3)),
            "dataset.yaml:7: write.location: a lake on s3:// must be an Iceberg table (its "
            "metadata commit is what makes files visible; S3 has no rename), and "
            "write.table_format is 'hive'; use write.format: parquet with write.table_format: "
            "iceberg, or a local folder");
  EXPECT_EQ(ErrorOf(on_s3 + "store: s3://lake/store\n"),
            "dataset.yaml:26: store: s3:// is not supported for 'store'; write the store as a "
            "local folder");
}

// read.manifest may be a listing: its `list` is also the location (which may be left out).
TEST(DatasetConfigTest, AManifestListingNamesItsLocation) {
  const std::string no_location =
      Edit("  location: data                 # relative paths are relative to this file\n", "");
  auto r = ParseDatasetConfig(
      Edit("  manifest: data/manifest.txt    # one file a line, relative to location\n",
           "  manifest: {list: 's3://raw/2025/11/', glob: '*.jsonl.gz'}\n", no_location),
      kFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->read.location, "s3://raw/2025/11");
  EXPECT_EQ(r->read.manifest_list, "s3://raw/2025/11");
  EXPECT_EQ(r->read.manifest_glob, "*.jsonl.gz");
  EXPECT_EQ(r->read.manifest, "");
  auto local = ParseDatasetConfig(
      Edit("  manifest: data/manifest.txt    # one file a line, relative to location\n",
           "  manifest: {list: data}\n"),
      kFile);
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_EQ(local->read.manifest_list, "/tmp/weir-ds/data");
  EXPECT_EQ(local->read.manifest_glob, "*");
  EXPECT_EQ(ErrorOf(Edit("  manifest: data/manifest.txt    # one file a line, relative to location\n",
                         "  manifest: {list: other}\n")),
            "dataset.yaml:5: read.manifest.list: '" +
                std::filesystem::current_path().string() +
                "/other' is not read.location ('" + std::filesystem::current_path().string() +
                "/data'); the listed files are read relative to it: remove read.location or make "
                "the two the same");
  EXPECT_EQ(ErrorOf(Edit("  manifest: data/manifest.txt    # one file a line, relative to location\n",
                         "  manifest: {list: data, globb: '*.gz'}\n")),
            "dataset.yaml:5: read.manifest.globb: unknown key (did you mean 'glob'?)");
}

TEST(DatasetConfigErrorTest, DuplicatesAndOddDocuments) {
  EXPECT_EQ(ErrorOf(Edit("  table: events\n", "  table: events\n  table: other\n")),
            "dataset.yaml:11: write.table: duplicate key");
  EXPECT_EQ(ErrorOf(Edit("    user_id:", "    id:")),
            "dataset.yaml:17: write.columns.id: duplicate column");
  EXPECT_EQ(ErrorOf(""),
            "dataset.yaml:1: empty document; expected a map with keys name, store, plugins, "
            "read, transforms, write, errors, compute, stream, rules, storage");
  EXPECT_EQ(ErrorOf("- a\n- b\n"), "dataset.yaml:1: expected a map, got a list");
  EXPECT_EQ(ErrorOf(Edit("  columns:\n", "  columns: {}\n  colums:\n")),
            "dataset.yaml:13: write.columns: declare at least one column\n"
            "dataset.yaml:14: write.colums: unknown key (did you mean 'columns'?)");
}

// ---- the reference ---------------------------------------------------------------------------

TEST(DatasetSchemaTest, ReferenceListsEveryKeyAndDefault) {
  const std::string ref = DatasetSchemaReference();
  for (const auto& m : DatasetSchema()) {
    for (const auto& k : m.keys) {
      EXPECT_NE(ref.find("| `" + std::string(k.name) + "` |"), std::string::npos) << k.name;
    }
  }
  EXPECT_NE(ref.find("| `workers` | integer 1..256 | no | `2` |"), std::string::npos) << ref;
  EXPECT_NE(ref.find("| `max_record_bytes` | size | no | `16MiB` |"), std::string::npos);
}

// docs/dataset-yaml.md embeds DatasetSchemaReference() verbatim between two markers.
// Regenerate with: WEIR_UPDATE_DOCS=1 core_tests --gtest_filter=DatasetSchemaTest.*
TEST(DatasetSchemaTest, DocsMatchTheCode) {
  const fs::path doc = fs::path(WEIR_SOURCE_DIR) / "docs/dataset-yaml.md";
  const std::string begin = "<!-- BEGIN GENERATED: DatasetSchemaReference() -->\n";
  const std::string end = "<!-- END GENERATED -->\n";
  std::string text;
  {
    std::ifstream in(doc);
    std::ostringstream s;
    s << in.rdbuf();
    text = s.str();
  }
  const size_t b = text.find(begin);
  const size_t e = text.find(end);
  ASSERT_NE(b, std::string::npos) << doc;
  ASSERT_NE(e, std::string::npos) << doc;
  const std::string generated = "\n" + DatasetSchemaReference() + "\n";
  const std::string current = text.substr(b + begin.size(), e - b - begin.size());
  if (std::getenv("WEIR_UPDATE_DOCS") != nullptr && current != generated) {
    text.replace(b + begin.size(), e - b - begin.size(), generated);
    std::ofstream(doc) << text;
    return;
  }
  EXPECT_EQ(current, generated) << "run WEIR_UPDATE_DOCS=1 core_tests to refresh " << doc;
}

// ---- text helpers ------------------------------------------------------------------------------

TEST(TextUtilTest, EditDistanceCountsTranspositionsAsOne) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("partiton_by", "partition_by"), 1u);
  EXPECT_EQ(EditDistance("wirte", "write"), 1u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
}

TEST(TextUtilTest, ClosestMatch) {
  const std::vector<std::string> keys = {"name", "read", "write", "errors", "compute"};
  EXPECT_EQ(ClosestMatch("wirte", keys), "write");
  EXPECT_EQ(ClosestMatch("nmae", keys), "name");
  EXPECT_EQ(ClosestMatch("xyz", keys), std::nullopt);
  EXPECT_EQ(ClosestMatch("write", keys), std::nullopt);
  EXPECT_EQ(ClosestMatch("id", {"dt"}), std::nullopt);  // too short to be a typo of each other
  EXPECT_EQ(ClosestMatch("checkpoint_second", {"checkpoint_seconds"}), "checkpoint_seconds");
  EXPECT_EQ(ClosestMatch("lat", {"lon"}), std::nullopt);
  EXPECT_EQ(ClosestMatch("timestamp_sec", {"timestamp_ms"}), std::nullopt);
  EXPECT_EQ(DidYouMean("dte", {"id", "dt"}), " (did you mean 'dt'?)");
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

// Robustness: every one-character deletion and a few junk insertions of the example give either
// a config or an error status; never a crash or an escaping exception.
TEST(DatasetConfigRobustnessTest, MutatedExamplesNeverThrow) {
  const std::string base = kExample;
  size_t errors = 0;
  for (size_t i = 0; i < base.size(); ++i) {
    std::string cut = base;
    cut.erase(i, 1);
    auto r = ParseDatasetConfig(cut, "dataset.yaml");
    if (!r.ok()) {
      ++errors;
      EXPECT_EQ(r.status().message().rfind("dataset.yaml:", 0), 0u) << r.status().message();
    }
    if (i % 9 != 0) continue;  // yaml-cpp is slow on errors; sample the insertions
    for (const char* junk : {"{", "]", ": ", "\n  - ", "&a ", "*a", "!!int ", "\t"}) {
      std::string ins = base;
      ins.insert(i, junk);
      auto r2 = ParseDatasetConfig(ins, "dataset.yaml");
      if (!r2.ok()) {
        EXPECT_FALSE(r2.status().message().empty());
      }
    }
  }
  EXPECT_GT(errors, 0u);
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

TEST(DatasetConfigTest, MultilineIsRead) {
  auto cfg = ParseDatasetConfig(
      Edit("  parser: jsonl\n",
           "  parser: jsonl\n  multiline: {start: '^\\d{4}-\\d{2}-\\d{2} ', max_lines: 50}\n"),
      kFile);
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  ASSERT_TRUE(cfg->read.multiline.has_value());
  EXPECT_EQ(cfg->read.multiline->start, "^\\d{4}-\\d{2}-\\d{2} ");
  EXPECT_EQ(cfg->read.multiline->max_lines, 50u);
  cfg = ParseDatasetConfig(Edit("  parser: jsonl\n", "  parser: jsonl\n  multiline: {start: '^{'}\n"),
                           kFile);
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  EXPECT_EQ(cfg->read.multiline->max_lines, 1000u);  // the default
  cfg = ParseDatasetConfig(kExample, kFile);
  ASSERT_TRUE(cfg.ok());
  EXPECT_FALSE(cfg->read.multiline.has_value());
}

TEST(DatasetConfigErrorTest, MultilineBadRegexNamesKeyAndRe2Error) {
  const std::string msg = ErrorOf(
      Edit("  parser: jsonl\n", "  parser: jsonl\n  multiline:\n    start: '^(\\d{4}'\n"));
  EXPECT_NE(msg.find("dataset.yaml:8: read.multiline.start: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing )"), std::string::npos) << msg;  // RE2's own words
  EXPECT_NE(msg.find("single quotes"), std::string::npos) << msg;  // the suggestion
}

TEST(DatasetConfigErrorTest, MultilineUnknownKeyMaxLinesAndMissingStart) {
  std::string msg = ErrorOf(Edit("  parser: jsonl\n",
                                 "  parser: jsonl\n  multiline: {start: '^x', max_line: 5}\n"));
  EXPECT_NE(msg.find("read.multiline.max_line: unknown key"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'max_lines'"), std::string::npos) << msg;
  msg = ErrorOf(
      Edit("  parser: jsonl\n", "  parser: jsonl\n  multiline: {start: '^x', max_lines: 0}\n"));
  EXPECT_NE(msg.find("read.multiline.max_lines: 0 is out of range"), std::string::npos) << msg;
  msg = ErrorOf(Edit("  parser: jsonl\n", "  parser: jsonl\n  multiline: {max_lines: 5}\n"));
  EXPECT_NE(msg.find("read.multiline.start: missing required key"), std::string::npos) << msg;
  msg = ErrorOf(Edit("  parser: jsonl\n", "  parser: jsonl\n  multiline: {start: ''}\n"));
  EXPECT_NE(msg.find("read.multiline.start: must not be empty"), std::string::npos) << msg;
}

TEST(DatasetConfigErrorTest, MultilineRejectedWithCsvAndWarc) {
  std::string msg = ErrorOf(
      Edit("  parser: jsonl\n", "  parser: csv\n  multiline: {start: '^x'}\n"));
  EXPECT_NE(msg.find("read.multiline: not allowed with parser 'csv'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("RFC 4180"), std::string::npos) << msg;
  msg = ErrorOf(Edit("  parser: jsonl\n", "  parser: warc\n  multiline: {start: '^x'}\n"));
  EXPECT_NE(msg.find("read.multiline: not allowed with parser 'warc'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

TEST(DurationTest, ParsesUnitsAndRefusesBareNumbers) {
  EXPECT_EQ(ParseDurationMs("500ms"), 500);
  EXPECT_EQ(ParseDurationMs("30s"), 30000);
  EXPECT_EQ(ParseDurationMs("5m"), 300000);
  EXPECT_EQ(ParseDurationMs("12h"), 43200000);
  EXPECT_EQ(ParseDurationMs("7d"), 604800000);
  EXPECT_EQ(ParseDurationMs(" 2w "), 1209600000);
  EXPECT_EQ(ParseDurationMs("30"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("1.5h"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("-1s"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("3 days"), std::nullopt);
  EXPECT_EQ(FormatDurationMs(604800000), "1w");
  EXPECT_EQ(FormatDurationMs(90000), "90s");
  EXPECT_EQ(FormatDurationMs(1500), "1500ms");
  for (const char* s : {"250ms", "45s", "90m", "36h", "3d"}) {
    EXPECT_EQ(ParseDurationMs(FormatDurationMs(*ParseDurationMs(s))), ParseDurationMs(s)) << s;
  }
}

TEST(DedupConfigTest, DefaultsToSevenDaysAndTheFirstTimestampColumn) {
  auto c = ParseDatasetConfig(R"(name: d
read: {connector: files, location: data, manifest: m.txt, parser: jsonl}
write:
  connector: lake
  location: lake
  table: t
  dedup: {key: [id, src]}
  columns:
    id: {path: /id, type: string}
    src: {path: /src, type: int64}
    seen: {path: /seen, type: timestamp}
    t: {path: /t, type: timestamp_ms}
)", "/tmp/d.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->write.dedup.has_value());
  EXPECT_EQ(c->write.dedup->key, (std::vector<std::string>{"id", "src"}));
  EXPECT_EQ(c->write.dedup->within_ms, 7 * 86400000LL);
  EXPECT_EQ(c->write.dedup->time, "seen");
}

// ---- stream datasets: read.connector http -----------------------------------------------------

constexpr const char* kHttpDataset = R"(name: s
read:
  connector: http
  listen: 127.0.0.1:8080
  parser: jsonl
write:
  connector: lake
  location: lake
  table: t
  columns:
    id: {path: /id, type: string}
stream:
  commit_interval: 250ms
)";

TEST(StreamConfigTest, AnHttpDatasetNeedsNoManifestAndTakesItsDefaults) {
  auto c = ParseDatasetConfig(kHttpDataset, "/tmp/s.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->IsStream());
  EXPECT_EQ(c->read.listen, "127.0.0.1:8080");
  EXPECT_EQ(c->read.http_path, "/v1/events");
  EXPECT_EQ(c->read.token, "");
  EXPECT_EQ(c->read.max_body_bytes, 8ull << 20);
  EXPECT_EQ(c->read.max_backlog_bytes, 256ull << 20);
  EXPECT_EQ(c->stream.commit_interval_ms, 250);
}

TEST(StreamConfigTest, TheTokenCanComeFromTheEnvironment) {
  ::setenv("WEIR_TEST_COLLECTOR_TOKEN", "from-env", 1);
  auto c = ParseDatasetConfig(
      Edit("  parser: jsonl\n",
           "  parser: jsonl\n  token: ${WEIR_TEST_COLLECTOR_TOKEN}\n  max_body_mb: 2\n",
           kHttpDataset),
      "/tmp/s.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->read.token, "from-env");
  EXPECT_EQ(c->read.max_body_bytes, 2ull << 20);
  ::unsetenv("WEIR_TEST_COLLECTOR_TOKEN");
  EXPECT_EQ(ErrorOf(Edit("  parser: jsonl\n", "  parser: jsonl\n  token: ${WEIR_TEST_NO_SUCH_VAR}\n",
                         kHttpDataset)),
            "dataset.yaml:6: read.token: environment variable WEIR_TEST_NO_SUCH_VAR is not set (or "
            "empty); export it, or remove read.token to accept requests without a token");
}

TEST(StreamConfigTest, MistakesNameTheKeyAndWhatToDo) {
  EXPECT_EQ(ErrorOf(Edit("  listen: 127.0.0.1:8080\n", "", kHttpDataset)),
            "dataset.yaml:2: read.listen: missing required key for read.connector http: the "
            "address to listen on, e.g. listen: 127.0.0.1:8080");
  EXPECT_EQ(ErrorOf(Edit("127.0.0.1:8080", "localhost", kHttpDataset)),
            "dataset.yaml:4: read.listen: 'localhost' is not host:port; e.g. 127.0.0.1:8080 "
            "(0.0.0.0:8080 listens on every interface; port 0 picks a free port)");
  EXPECT_EQ(ErrorOf(Edit("  parser: jsonl\n", "  parser: jsonl\n  manifest: m.txt\n", kHttpDataset)),
            "dataset.yaml:6: read.manifest: only for read.connector files; the http collector "
            "receives its records in POST requests; remove it");
  EXPECT_EQ(ErrorOf(Edit("parser: jsonl", "parser: csv", kHttpDataset)),
            "dataset.yaml:5: read.parser: 'csv' cannot read what the http collector receives (JSON "
            "lines or a JSON array of objects, one record each); use parser: jsonl");
  EXPECT_EQ(ErrorOf(Edit("  parser: jsonl\n", "  parser: jsonl\n  path: events\n", kHttpDataset)),
            "dataset.yaml:6: read.path: 'events' must start with /, e.g. /v1/events");
  EXPECT_EQ(ErrorOf(Edit("commit_interval: 250ms", "commit_interval: 250", kHttpDataset)),
            "dataset.yaml:13: stream.commit_interval: '250' is not a duration; expected a whole "
            "number with a unit (ms, s, m, h, d, w), e.g. 30s or 7d");
  // The other way round: a files dataset with collector keys or a stream section.
  const std::string files = Edit("  connector: http\n  listen: 127.0.0.1:8080\n",
                                 "  connector: files\n  location: data\n  manifest: m.txt\n",
                                 kHttpDataset);
  EXPECT_EQ(ErrorOf(files),
            "dataset.yaml:13: stream: only for stream datasets (read.connector http or kafka); a "
            "files dataset commits every compute.checkpoint_seconds");
  EXPECT_EQ(ErrorOf(Edit("  parser: jsonl\n", "  parser: jsonl\n  listen: 127.0.0.1:1\n",
                         Edit("stream:\n  commit_interval: 250ms\n", "", files))),
            "dataset.yaml:7: read.listen: only for read.connector http (connector is files); "
            "remove it, or set connector: http for a stream dataset");
  EXPECT_EQ(ErrorOf(Edit("  location: data\n", "", Edit("stream:\n  commit_interval: 250ms\n", "", files))),
            "dataset.yaml:2: read.location: missing required key");
}

TEST(StreamConfigTest, CatchUpIntervalDefaultsTo10sAndIsNeverShorterThanTheCommitInterval) {
  auto c = ParseDatasetConfig(kHttpDataset, "/tmp/s.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->stream.catch_up_interval_ms, 10000);

  c = ParseDatasetConfig(Edit("  commit_interval: 250ms\n",
                              "  commit_interval: 250ms\n  catch_up_interval: 1m\n", kHttpDataset),
                         "/tmp/s.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->stream.catch_up_interval_ms, 60000);

  // Equal to commit_interval: commits stay on the clock while behind (catching up off).
  c = ParseDatasetConfig(Edit("  commit_interval: 250ms\n",
                              "  commit_interval: 250ms\n  catch_up_interval: 250ms\n",
                              kHttpDataset),
                         "/tmp/s.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->stream.catch_up_interval_ms, 250);

  // A commit_interval over the default: catching up never commits less often than that.
  c = ParseDatasetConfig(Edit("commit_interval: 250ms", "commit_interval: 1m", kHttpDataset),
                         "/tmp/s.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->stream.catch_up_interval_ms, 60000);

  EXPECT_EQ(ErrorOf(Edit("  commit_interval: 250ms\n",
                         "  commit_interval: 2s\n  catch_up_interval: 500ms\n", kHttpDataset)),
            "dataset.yaml:14: stream.catch_up_interval: 500ms is shorter than "
            "stream.commit_interval (2s); set it to at least that, or equal to it to commit every "
            "commit_interval even while the stream is behind");
  EXPECT_EQ(ErrorOf(Edit("  commit_interval: 250ms\n",
                         "  commit_interval: 250ms\n  catch_up_interval: 30\n", kHttpDataset)),
            "dataset.yaml:14: stream.catch_up_interval: '30' is not a duration; expected a whole "
            "number with a unit (ms, s, m, h, d, w), e.g. 30s or 7d");
  EXPECT_EQ(ErrorOf(Edit("  commit_interval: 250ms\n",
                         "  commit_interval: 250ms\n  catchup_interval: 30s\n", kHttpDataset)),
            "dataset.yaml:14: stream.catchup_interval: unknown key (did you mean "
            "'catch_up_interval'?)");
}

TEST(StreamConfigTest, AKafkaDatasetTakesBrokersTopicsGroupAndLibrdkafkaSettings) {
  const std::string kafka = Edit("  connector: http\n  listen: 127.0.0.1:8080\n",
                                 "  connector: kafka\n  brokers: 127.0.0.1:9092\n  topics: [events, "
                                 "'^audit-.*']\n  group: weir-clicks\n  options: {security.protocol: "
                                 "plaintext, fetch.wait.max.ms: 50}\n",
                                 kHttpDataset);
  auto c = ParseDatasetConfig(kafka, "/tmp/s.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->IsStream());
  EXPECT_EQ(c->read.brokers, "127.0.0.1:9092");
  EXPECT_EQ(c->read.topics, (std::vector<std::string>{"events", "^audit-.*"}));
  EXPECT_EQ(c->read.group, "weir-clicks");
  EXPECT_EQ(c->read.start, "earliest");
  EXPECT_EQ(c->read.kafka_settings.at("security.protocol"), "plaintext");
  EXPECT_EQ(c->read.kafka_settings.at("fetch.wait.max.ms"), "50");
  ::setenv("WEIR_TEST_SASL_USER", "alice", 1);
  auto with_env = ParseDatasetConfig(
      Edit("fetch.wait.max.ms: 50}", "fetch.wait.max.ms: 50, sasl.username: '${WEIR_TEST_SASL_USER}'}",
           kafka),
      "/tmp/s.yaml");
  ASSERT_TRUE(with_env.ok()) << with_env.status().ToString();
  EXPECT_EQ(with_env->read.kafka_settings.at("sasl.username"), "alice");
  ::unsetenv("WEIR_TEST_SASL_USER");
  EXPECT_EQ(c->read.options_json, "{}");

  EXPECT_EQ(ErrorOf(Edit("  group: weir-clicks\n", "", kafka)),
            "dataset.yaml:2: read.group: missing required key for read.connector kafka: the "
            "consumer group, e.g. group: weir-clicks");
  EXPECT_EQ(ErrorOf(Edit("parser: jsonl", "parser: csv", kafka)),
            "dataset.yaml:8: read.parser: 'csv' reads files, not messages; a kafka source needs a "
            "parser that reads one record per message: jsonl, lines, regex or plugin:NAME");
  EXPECT_EQ(ErrorOf(Edit("  parser: jsonl\n", "  parser: jsonl\n  token: x\n", kafka)),
            "dataset.yaml:9: read.token: only for read.connector http (connector is kafka); remove it");
  EXPECT_EQ(ErrorOf(Edit("  parser: jsonl\n", "  parser: jsonl\n  group: g\n", kHttpDataset)),
            "dataset.yaml:6: read.group: only for read.connector kafka (connector is http); remove it");
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

// `store:` may name a PostgreSQL database instead of a folder; the local state (locks, stream
// logs) then stays in the dataset's .weir folder.
TEST(DatasetConfigTest, StoreMayBeAPostgresUrl) {
  auto r =
      ParseDatasetConfig(Edit("name: clickstream\n",
                              "name: clickstream\nstore: postgresql://weir@db.example:5433/lake\n"),
                         kFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->store, "postgresql://weir@db.example:5433/lake");
  EXPECT_EQ(LocalStateDir(*r), "/tmp/weir-ds/.weir");
  auto local =
      ParseDatasetConfig(Edit("name: clickstream\n", "name: clickstream\nstore: st\n"), kFile);
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(LocalStateDir(*local), "/tmp/weir-ds/st");
}

// A bad store URL names the key and what is wrong, and says how to write it; a password in the
// URL is refused (it would be in the dataset file) and never repeated in the message.
TEST(DatasetConfigTest, ABadStoreUrlIsRejectedWithTheReasonAndTheWayToWriteIt) {
  auto with = [](const std::string& store) {
    return ErrorOf(Edit("name: clickstream\n", "name: clickstream\nstore: " + store + "\n"));
  };
  EXPECT_EQ(with("postgresql://weir@db:54x2/lake"),
            "dataset.yaml:2: store: 'postgresql://weir@db:54x2/lake' is not a usable PostgreSQL "
            "URL: its port '54x2' is not a number; write it as "
            "postgresql://user@host:5432/database, or leave `store` out for the local SQLite "
            "store in .weir/");
  EXPECT_NE(with("postgresql://weir@db:5432").find("it names no database"), std::string::npos);
  EXPECT_NE(with("postgresql:///lake").find("it names no host"), std::string::npos);
  EXPECT_NE(with("mysql://weir@db/lake").find("is not a store this version knows"),
            std::string::npos);
  const std::string pw = with("postgresql://weir:hunter2@db/lake");
  EXPECT_EQ(pw.find("hunter2"), std::string::npos) << pw;
  EXPECT_NE(pw.find("store: the URL holds a password"), std::string::npos) << pw;
  EXPECT_NE(pw.find("PGPASSWORD or ~/.pgpass"), std::string::npos) << pw;
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

// kExample with rules (issue 11) after its last line.
std::string WithRules(const std::string& rules) {
  return std::string(kExample) + "rules:\n" + rules;
}

constexpr const char* kRules = R"Y(  event_time: created_at
  out_of_orderness: 5s
  output: {table: derived}
  patterns:
    - name: reminder
      key: user_id
      sequence:
        - {as: first, where: "event_type = 'a'"}
        - {as: second, where: "event_type = 'b'", within: 1h}
      absent: {where: "event_type = 'c'", within: 2h}
      emit: {first_at: first.created_at}
  segments:
    - name: level
      key: user_id
      window: 7d
      aggregates: {n: "count(*)"}
      buckets:
        - {name: many, when: "n >= 3"}
        - {name: few}
)Y";

TEST(RulesConfigTest, TheIssueShapeLoadsWithDefaultsAndOrder) {
  auto r = ParseDatasetConfig(WithRules(kRules), kFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->rules.has_value());
  const auto& ru = *r->rules;
  EXPECT_EQ(ru.event_time, "created_at");
  EXPECT_EQ(ru.out_of_orderness_ms, 5000);
  EXPECT_EQ(ru.idle_timeout_ms, 10000);
  EXPECT_EQ(ru.threads, 0);  // compute.workers
  EXPECT_EQ(ru.output.location, "/tmp/weir-ds/lake");  // beside the dataset's table
  EXPECT_EQ(ru.output.table, "derived");
  ASSERT_EQ(ru.patterns.size(), 1u);
  ASSERT_EQ(ru.patterns[0].sequence.size(), 2u);
  EXPECT_EQ(ru.patterns[0].sequence[1].within_ms, 3600000);
  ASSERT_TRUE(ru.patterns[0].absent.has_value());
  EXPECT_EQ(ru.patterns[0].absent->within_ms, 7200000);
  ASSERT_EQ(ru.patterns[0].emit.size(), 1u);
  EXPECT_EQ(ru.patterns[0].emit[0].alias, "first");
  EXPECT_EQ(ru.patterns[0].emit[0].column, "created_at");
  ASSERT_EQ(ru.segments.size(), 1u);
  EXPECT_EQ(ru.segments[0].buckets.back().name, "few");
  EXPECT_TRUE(ru.segments[0].buckets.back().when.empty());
}

TEST(RulesConfigTest, ShapeMistakesNameTheKeyTheLineAndTheFix) {
  // Line numbers: kExample has 25 lines, "rules:" is 26, so kRules line k is 26 + k.
  std::string e = ErrorOf(WithRules(Edit("- {as: second, where: \"event_type = 'b'\", within: 1h}",
                                         "- {as: second, where: \"event_type = 'b'\"}", kRules)));
  EXPECT_NE(e.find("dataset.yaml:35: rules.patterns[1].sequence[2].within: missing: every step "
                   "after the first needs within"),
            std::string::npos)
      << e;
  e = ErrorOf(WithRules(Edit("key: user_id\n      sequence", "key: usr_id\n      sequence", kRules)));
  EXPECT_NE(e.find("rules.patterns[1].key: unknown column 'usr_id' (did you mean 'user_id'?)"),
            std::string::npos)
      << e;
  e = ErrorOf(WithRules(Edit("- {name: few}", "- {name: few, when: \"n >= 0\"}", kRules)));
  EXPECT_NE(e.find("the last bucket is the default and has no when"), std::string::npos) << e;
  e = ErrorOf(WithRules(Edit("event_time: created_at", "event_time: user_id", kRules)));
  EXPECT_NE(e.find("rules.event_time: column 'user_id' has type string; expected a timestamp"),
            std::string::npos)
      << e;
  e = ErrorOf(WithRules(Edit("name: level", "name: reminder", kRules)));
  EXPECT_NE(e.find("'reminder' is used by another pattern or segment"), std::string::npos) << e;
  e = ErrorOf(WithRules(Edit("first_at: first.created_at", "first_at: created_at", kRules)));
  EXPECT_NE(e.find("'created_at' is not alias.column"), std::string::npos) << e;
  e = ErrorOf(WithRules(Edit("  out_of_orderness: 5s\n", "  out_of_orderness: 5s\n  threads: 0\n", kRules)));
  EXPECT_NE(e.find("dataset.yaml:29: rules.threads: 0 is out of range; expected an integer from 1 "
                   "to 64"),
            std::string::npos)
      << e;
  auto threads = ParseDatasetConfig(
      WithRules(Edit("  out_of_orderness: 5s\n", "  out_of_orderness: 5s\n  threads: 3\n", kRules)),
      kFile);
  ASSERT_TRUE(threads.ok()) << threads.status().ToString();
  EXPECT_EQ(threads->rules->threads, 3);
  e = ErrorOf(WithRules(Edit("  output: {table: derived}\n", "  output: {table: events}\n", kRules)));
  EXPECT_NE(e.find("'events' is the dataset's own table"), std::string::npos) << e;
  e = ErrorOf(WithRules(Edit("window: 7d", "windw: 7d", kRules)));
  EXPECT_NE(e.find("rules.segments[1].windw: unknown key (did you mean 'window'?)"),
            std::string::npos)
      << e;
}

TEST(RulesConfigTest, ConnectorNoneNeedsRulesAndAnOutputLocation) {
  const std::string none = Edit("  connector: lake\n  location: lake                 # the table "
                                "lives at lake/events/\n  table: events\n",
                                "  connector: none\n");
  std::string e = ErrorOf(Edit("  partition_by: [event_type, dt]\n", "", none));
  EXPECT_NE(e.find("write.connector: none writes no table, and the dataset has no rules"),
            std::string::npos)
      << e;
  e = ErrorOf(Edit("  partition_by: [event_type, dt]\n", "", none) + "rules:\n" + kRules);
  EXPECT_NE(e.find("rules.output.location: missing: write.connector is none"), std::string::npos)
      << e;
  auto r = ParseDatasetConfig(Edit("  partition_by: [event_type, dt]\n", "", none) + "rules:\n" +
                                  Edit("output: {table: derived}",
                                       "output: {location: lake, table: derived}", kRules),
                              kFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->write.connector, "none");
  EXPECT_EQ(r->rules->output.location, "/tmp/weir-ds/lake");
  // Without a table, lake connector keys are required again when connector is lake.
  e = ErrorOf(Edit("  table: events\n", ""));
  EXPECT_NE(e.find("write.table: missing required key"), std::string::npos) << e;
}

// rules.output.compaction: the keys and checks of write.compaction, for the derived table.
TEST(RulesConfigTest, TheDerivedTablesCompactionHasWriteCompactionsKeysAndChecks) {
  auto with_output = [&](const std::string& output) {
    return WithRules(Edit("output: {table: derived}", output, kRules));
  };
  auto r = ParseDatasetConfig(
      with_output("output: {table: derived, compaction: {auto: true, min_files: 3, interval: 2s}}"),
      kFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->rules->output.compaction_auto);
  EXPECT_EQ(r->rules->output.compaction_min_files, 3);
  EXPECT_EQ(r->rules->output.compaction_interval_ms, 2000);
  EXPECT_FALSE(r->write.compaction_auto);  // the dataset's own table keeps its own setting
  std::string e = ErrorOf(with_output("output: {table: derived, compaction: {min_files: 1}}"));
  EXPECT_NE(e.find("rules.output.compaction.min_files"), std::string::npos) << e;
  e = ErrorOf(with_output("output: {table: derived, compaction: {auto: true, min_file: 3}}"));
  EXPECT_NE(e.find("rules.output.compaction.min_file: unknown key (did you mean 'min_files'?)"),
            std::string::npos) << e;
}

TEST(RulesConfigTest, AKafkaOutputNeedsBrokersAndATopicAndNoTableKeys) {
  const std::string none = Edit("  connector: lake\n  location: lake                 # the table "
                                "lives at lake/events/\n  table: events\n",
                                "  connector: none\n");
  auto with_output = [&](const std::string& output) {
    return Edit("  partition_by: [event_type, dt]\n", "", none) + "rules:\n" +
           Edit("output: {table: derived}", output, kRules);
  };
  // No lake needed: write.connector none and no location.
  auto r = ParseDatasetConfig(
      with_output("output: {connector: kafka, brokers: \"127.0.0.1:9092\", topic: derived, "
                  "options: {linger.ms: 5}}"),
      kFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& o = r->rules->output;
  EXPECT_EQ(o.connector, "kafka");
  EXPECT_EQ(o.brokers, "127.0.0.1:9092");
  EXPECT_EQ(o.topic, "derived");
  EXPECT_EQ(o.progress_topic, "derived.weir-progress");
  EXPECT_EQ(o.transactional_id, "weir-rules-" + r->name);
  EXPECT_EQ(o.kafka_settings.at("linger.ms"), "5");
  EXPECT_TRUE(o.location.empty());
  r = ParseDatasetConfig(with_output("output: {connector: kafka, brokers: b:1, topic: d, "
                                     "progress_topic: p, transactional_id: t}"),
                         kFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rules->output.progress_topic, "p");
  EXPECT_EQ(r->rules->output.transactional_id, "t");

  std::string e = ErrorOf(with_output("output: {connector: kafka, brokers: b:1}"));
  EXPECT_NE(e.find("rules.output.topic: missing required key for output connector kafka"),
            std::string::npos)
      << e;
  e = ErrorOf(with_output("output: {connector: kafka, topic: d}"));
  EXPECT_NE(e.find("rules.output.brokers: missing required key for output connector kafka"),
            std::string::npos)
      << e;
  e = ErrorOf(with_output("output: {connector: kafka, brokers: b:1, topic: d, table: derived}"));
  EXPECT_NE(e.find("rules.output.table: only for output connector lake (connector is kafka)"),
            std::string::npos)
      << e;
  e = ErrorOf(with_output("output: {connector: kafka, brokers: b:1, topic: d, progress_topic: d}"));
  EXPECT_NE(e.find("rules.output.progress_topic: is the output topic"), std::string::npos) << e;
  e = ErrorOf(with_output("output: {location: lake, topic: d}"));
  EXPECT_NE(e.find("rules.output.topic: only for output connector kafka (connector is lake)"),
            std::string::npos)
      << e;
  e = ErrorOf(with_output("output: {connector: kafka, brokers: \"\", topic: d}"));
  EXPECT_NE(e.find("rules.output.brokers: is empty"), std::string::npos) << e;
  e = ErrorOf(with_output(
      "output: {connector: kafka, brokers: b:1, topic: d, options: {transactional.id: x}}"));
  EXPECT_NE(e.find("rules.output.options.transactional.id: weir sets it"), std::string::npos) << e;
  e = ErrorOf(with_output("output: {connector: kafak, topic: d}"));
  EXPECT_NE(e.find("rules.output.connector"), std::string::npos) << e;
  EXPECT_NE(e.find("kafka"), std::string::npos) << e;
}

}  // namespace
}  // namespace weir
