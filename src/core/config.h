// The dataset configuration: what a dataset YAML file says, validated and with every path made
// absolute (relative paths in the YAML are relative to the YAML file's folder).
//
// LoadDatasetConfig() is the only way to build one from a file: it rejects unknown keys (with a
// "did you mean"), missing keys and wrong types, naming the key, its line and a suggestion.
// The structs are plain values; share a const DatasetConfig between threads freely.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/column.h"
#include "core/rules_config.h"
#include "weir/status.h"

namespace weir {

// How a lake column gets its value.
enum class ColumnSource {
  kPath,    // from the parsed document: a JSON pointer (jsonl) or a CSV header name (csv)
  kDateOf,  // UTC calendar date of another (timestamp) column -> type kDate
  kHourOf,  // UTC hour (0-23) of another (timestamp) column -> type kInt64
};

struct ColumnConfig {
  std::string name;
  ColumnSource source = ColumnSource::kPath;
  std::string path;            // kPath: "/data/id" (jsonl, JSON pointer) or "id" (csv header)
  std::string from;            // kDateOf / kHourOf: name of the source column
  ColumnType type = ColumnType::kString;  // derived columns: kDate (date_of), kInt64 (hour_of)
  // Input spelling "timestamp" (ISO 8601 text) is stored as kTimestampMs with iso8601 = true;
  // "timestamp_ms" expects integer milliseconds since the epoch.
  bool iso8601 = false;
  bool required = false;
  int line = 0;                // line in the YAML file, for messages
};

// read.multiline: records start at a line matching `start` (RE2) and run to the next such line.
struct MultilineConfig {
  std::string start;
  uint32_t max_lines = 1000;
  int line = 0;  // line of the `multiline` key, for messages
};

struct ReadConfig {
  std::string connector = "files";
  std::string location;        // absolute folder
  std::string manifest;        // absolute path of the manifest file (empty with a listing)
  // read.manifest: {list, glob}: the inputs are what listing `manifest_list` (== location) finds.
  std::string manifest_list;
  std::string manifest_glob = "*";
  std::string parser = "jsonl";  // jsonl | csv | lines | regex | plugin:NAME
  std::string options_json = "{}";  // read.options as JSON text, for SDK parsers
  char csv_delimiter = ',';
  char csv_quote = '"';
  bool csv_header = true;
  uint64_t max_record_bytes = 16ull << 20;  // a longer record becomes an error record
  std::optional<MultilineConfig> multiline;  // unset: the parser's own record format
  // read.connector http: the collector (docs/streams.md). `listen` is "host:port".
  std::string listen;
  std::string http_path = "/v1/events";
  std::string token;                         // empty: no token needed
  uint64_t max_body_bytes = 8ull << 20;      // a larger request gets 413
  uint64_t max_backlog_bytes = 256ull << 20; // accepted but not in the lake yet: more gets 429
  // read.connector kafka (docs/streams.md).
  std::string brokers;
  std::vector<std::string> topics;
  std::string group;
  std::string start = "earliest";
  std::map<std::string, std::string> kafka_settings;  // read.options: librdkafka settings
  // YAML lines of read.parser and read.options (0: not written), for errors found after loading
  // (a plugin that is missing or rejects its options).
  int parser_line = 0;
  int options_line = 0;
};

struct GeoTransformConfig {
  std::string layers;          // absolute path of the layers YAML file
  std::string lon;             // name of the lake column holding longitude
  std::string lat;             // name of the lake column holding latitude
  bool invalid_is_error = false;  // bad coordinates: error record (true) or NULL outputs (false)
  int line = 0;
};

struct TransformConfig {
  std::optional<GeoTransformConfig> geo;
};

// write.dedup: records whose `key` columns match a record already written (committed, or earlier
// in the same run) with a `time` less than `within_ms` apart are dropped (exec/dedup.h).
struct DedupConfig {
  std::vector<std::string> key;  // column names
  int64_t within_ms = 7 * 86400000LL;
  std::string time;  // a timestamp column; empty: the time the record was read
};

struct WriteConfig {
  std::string connector = "lake";
  std::string location;        // absolute lake root; the table lives at location/table/
  std::string table;
  std::string format = "parquet";  // parquet | jsonl
  // iceberg (the default for parquet): an Iceberg v2 table, exec/iceberg_table.h | hive (the
  // default for jsonl): partition folders only weir's catalog describes
  std::string table_format = "iceberg";
  std::string compression = "zstd";  // parquet page compression: zstd | none
  std::vector<std::string> partition_by;  // column names, in path order
  std::vector<ColumnConfig> columns;      // in the order they were written in the YAML
  uint64_t roll_bytes = 128ull << 20;     // buffered bytes per task before files are written
  uint64_t roll_records = 0;              // 0 = no record limit
  // Compaction (exec/lake_maintenance.h): the size files are rewritten to, the order of rows in
  // rewritten files, and compaction after each run.
  uint64_t target_file_mb = 128;
  std::vector<std::string> sort_by;       // column names; empty: rows keep no particular order
  bool compaction_auto = false;           // write.compaction.auto
  int compaction_min_files = 8;           // write.compaction.min_files
  int64_t compaction_interval_ms = 300000;  // write.compaction.interval (stream datasets)
  std::optional<DedupConfig> dedup;
};

// storage: where s3:// locations are served from (empty fields: from the environment).
struct StorageConfig {
  std::string endpoint;
  std::string region;
  std::optional<bool> path_style;
};

struct ErrorsConfig {
  std::string location;        // absolute folder for error records (JSON lines)
  std::optional<double> max_ratio;  // errored/read above this fails the task
  uint32_t excerpt_bytes = 1024;
};

struct ComputeConfig {
  int workers = 2;
  int retries = 3;                  // attempts per task for retryable failures
  double checkpoint_seconds = 5.0;  // commit at least this often while a task runs
};

// stream: how a stream dataset (read.connector http or kafka) commits.
struct StreamConfig {
  int64_t commit_interval_ms = 1000;  // commit at least this often while data flows
  // While the stream is behind (reading what waits would take longer than commit_interval),
  // commits wait for write.roll_bytes of rows or this long instead (exec/worker_output.h).
  int64_t catch_up_interval_ms = 10000;
  // Commits run on their own thread while the stream reads on (WorkerOutput::CommitAsync).
  bool pipeline = true;
  std::string metrics_listen;         // host:port of GET /metrics; empty: off
};

struct DatasetConfig {
  std::string file;            // absolute path of the YAML file
  std::string dir;             // its folder
  std::string name;
  ReadConfig read;
  std::vector<TransformConfig> transforms;
  WriteConfig write;
  ErrorsConfig errors;
  StorageConfig storage;
  ComputeConfig compute;
  StreamConfig stream;
  std::optional<rules::RulesConfig> rules;  // `rules:` (docs/rules.md)
  // The task store: the absolute path of the SQLite store file (default dir/.weir/store.db), or
  // a postgresql:// URL (core/store_url.h). See LocalStateDir for this machine's own state.
  std::string store;
  std::vector<std::string> plugins;  // absolute paths of parser plugins (docs/sdk.md)

  // A stream dataset reads continuously (read.connector http or kafka) instead of a manifest's
  // files.
  bool IsStream() const { return read.connector != "files"; }
};

// The folder of this machine's local state of a dataset: the dataset lock, the commit gate and
// the stream segment logs. The SQLite store's folder (`store:`, default <dataset dir>/.weir);
// with a PostgreSQL store, $WEIR_STATE_DIR/<dataset> when that environment variable is set (a
// fleet's worker machines need not have the dataset file's folder; every weir process of a
// machine must then see the same value), else <dataset dir>/.weir, the default store folder:
// those files are local by nature (flock, segment files), only the store is shared.
std::string LocalStateDir(const DatasetConfig& c);

// "500ms", "30s", "5m", "12h", "7d", "2w" (a non-negative integer and a unit) in milliseconds;
// nullopt for anything else (a bare number has no unit and is refused: 30 what?).
std::optional<int64_t> ParseDurationMs(std::string_view s);
// The shortest exact spelling ParseDurationMs reads back: 604800000 -> "7d", 90000 -> "90s".
std::string FormatDurationMs(int64_t ms);

// Checks a dataset's `rules:` beyond their shape: compiles their expressions against the
// columns (rules/engine.h). Set by the rules module (rules::RegisterConfigCheck) so that core
// does not depend on it; without it the expressions are checked when the dataset runs. On
// error, returns Invalid with "key: reason" and sets `*line` to the YAML line.
using RulesCheck = Status (*)(const rules::RulesConfig& rules,
                              const std::vector<ColumnSchema>& columns, int* line);
void SetRulesCheck(RulesCheck check);

// Loads and validates a dataset file. Errors look like:
//   "dataset.yaml:12: write.partition_by: unknown column 'dte' (did you mean 'dt'?)"
Result<DatasetConfig> LoadDatasetConfig(const std::string& path);
// Same, from YAML text; `path` is used for messages and to resolve relative paths.
Result<DatasetConfig> ParseDatasetConfig(const std::string& yaml_text, const std::string& path);

// The reference of every dataset YAML key (type, required, default, description) as Markdown,
// rendered from the same schema tables the loader validates with (core/config_schema.h).
// docs/dataset-yaml.md embeds it; a test keeps the two identical.
std::string DatasetSchemaReference();

}  // namespace weir
