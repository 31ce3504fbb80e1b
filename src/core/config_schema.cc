#include "core/config_schema.h"

#include <cstdio>
#include <cstdlib>

#include "core/config.h"

namespace weir {
namespace {

KeySpec Key(std::string_view name, ValueKind kind, bool required, std::string_view default_value,
            std::string_view description) {
  KeySpec k;
  k.name = name;
  k.kind = kind;
  k.required = required;
  k.default_value = default_value;
  k.description = description;
  return k;
}

constexpr bool kRequired = true;
constexpr bool kOptional = false;

// write.compaction and rules.output.compaction: the same keys.
std::vector<KeySpec> CompactionKeys() {
  using K = ValueKind;
  return {
      Key("auto", K::kBool, kOptional, "false",
          "Compact at the end of every `weir run` (stream datasets: every `interval` while "
          "running)."),
      Key("min_files", K::kInt, kOptional, "8",
          "Small files a partition must have before it is compacted.")
          .Range(2, std::nullopt),
      Key("interval", K::kDuration, kOptional, "5m",
          "Stream datasets: while running, compact at most this often (in the background, "
          "after a commit); a files dataset compacts at the end of each run."),
  };
}

std::vector<MapSpec> BuildSchema() {
  using K = ValueKind;
  std::vector<MapSpec> s;
  s.push_back(MapSpec{
      "",
      "The document: a map with these keys.",
      {
          Key("name", K::kName, kRequired, "", "Dataset name: letters, digits, `_`, `.` and `-`."),
          Key("store", K::kPath, kOptional, ".weir",
              "Folder of the task store; the SQLite file is `<store>/store.db`. Or a PostgreSQL "
              "database, `postgresql://user@host:5432/db` (password from PGPASSWORD or "
              "~/.pgpass), shared by several processes or machines."),
          Key("plugins", K::kPathList, kOptional, "",
              "Shared libraries with parser plugins, loaded before read.parser `plugin:NAME` is looked up "
              "(relative to this file; see docs/sdk.md)."),
          Key("read", K::kMap, kRequired, "", "Where records come from and how to parse them."),
          Key("transforms", K::kTransformList, kOptional, "",
              "Transforms applied to each document, in order; each item is a map with exactly "
              "one key naming the transform."),
          Key("write", K::kMap, kRequired, "", "Where documents go."),
          Key("errors", K::kMap, kOptional, "", "Where error records go."),
          Key("compute", K::kMap, kOptional, "", "Workers, retries and checkpoints."),
          Key("stream", K::kMap, kOptional, "",
              "How a stream dataset (`read.connector: http`) commits; docs/streams.md."),
          Key("rules", K::kMap, kOptional, "",
              "Pattern detection and user segmentation on event time, with their derived "
              "records in a lake table; docs/rules.md."),
          Key("storage", K::kMap, kOptional, "",
              "Where `s3://` locations are served from (S3 or an S3-compatible server); "
              "credentials come from the AWS environment variables or shared credentials "
              "file, never from this file."),
      }});
  s.push_back(MapSpec{
      "read",
      "The source.",
      {
          Key("connector", K::kEnum, kOptional, "files",
              "Source connector: `files` (a manifest of files, read once), `http` (the HTTP "
              "collector) or `kafka` (a consumer group); `http` and `kafka` make a stream "
              "dataset that runs until stopped (docs/streams.md).")
              .Choices({"files", "http", "kafka"}, "supported connector"),
          Key("location", K::kPath, kOptional, "",
              "Folder the input files live in (required for `files`)."),
          Key("manifest", K::kManifest, kOptional, "",
              "(Required for `files`.) "
              "File listing the input files, one a line; each line is relative to `location`. Blank "
              "lines, `#` comments and a UTF-8 byte order mark are ignored; entries are normalised "
              "(`./a.jsonl` is `a.jsonl`). A file listed twice (under any spelling, or through a "
              "symlink) is an error naming both lines, and so is a manifest that is missing or lists "
              "no file. Or a listing, `{list: FOLDER_OR_S3_PREFIX, glob: PATTERN}`: every file "
              "(object) under `list` whose path relative to it matches `glob` is an input, listed "
              "again at each run, so new files become new tasks."),
          Key("listen", K::kString, kOptional, "",
              "`http` only (required): `host:port` the collector listens on, e.g. "
              "`127.0.0.1:8080` (`0.0.0.0:8080` for every interface; port 0 picks a free one "
              "and prints it)."),
          Key("path", K::kString, kOptional, "/v1/events",
              "`http` only: the URL path clients `POST` events to."),
          Key("token", K::kString, kOptional, "",
              "`http` only: when set, requests must send `Authorization: Bearer <token>` (401 "
              "otherwise). `${NAME}` takes it from the environment variable NAME, so the secret stays out of the file."),
          Key("max_body_mb", K::kInt, kOptional, "8",
              "`http` only: larger request bodies are refused with 413.")
              .Range(1, 1024),
          Key("max_backlog_mb", K::kInt, kOptional, "256",
              "`http` only: when this much accepted data is not in the lake yet, requests get "
              "429 with `Retry-After` (memory and disk stay bounded under overload).")
              .Range(1, std::nullopt),
          Key("brokers", K::kString, kOptional, "",
              "`kafka` only (required): bootstrap servers, `host:port[,host:port...]`."),
          Key("topics", K::kStringList, kOptional, "",
              "`kafka` only (required): topics to read; a name starting with `^` is a regex."),
          Key("group", K::kString, kOptional, "",
              "`kafka` only (required): the consumer group. weir's store, not Kafka, holds the "
              "positions; offsets are also committed to the group after each lake commit, for "
              "lag tools."),
          Key("start", K::kEnum, kOptional, "earliest",
              "`kafka` only: where a partition starts when weir has no position for it.")
              .Choices({"earliest", "latest"}, "start position"),
          Key("parser_options", K::kOptions, kOptional, "",
              "`kafka` only: the parser's options (for `kafka`, `options` holds librdkafka "
              "settings)."),
          Key("parser", K::kString, kRequired, "",
              "How records are found and parsed: `jsonl`, `csv`, `lines`, `regex`, `warc`, or "
              "`plugin:NAME` for a parser from a library listed in `plugins`."),
          Key("options", K::kOptions, kOptional, "",
              "Parser options (`kafka`: librdkafka settings such as `security.protocol`, "
              "`sasl.*`, passed through; a value `${NAME}` is the environment variable NAME), handed to the parser as JSON (e.g. `regex`: `{preset: "
              "apache_combined}` or `{pattern: '...'}`); each parser checks its own."),
          Key("csv", K::kMap, kOptional, "", "CSV options; only allowed when `parser` is `csv`."),
          Key("max_record_bytes", K::kSize, kOptional, "16MiB",
              "A longer record becomes an error record."),
          Key("multiline", K::kMap, kOptional, "",
              "Multi-line records: a record starts at a line matching `start` and runs until the "
              "next such line (stack traces, pretty-printed JSON). For `jsonl`, `lines`, "
              "`regex` and line-based `plugin:NAME` parsers."),
      }});
  s.push_back(MapSpec{
      "rules",
      "Rules (docs/rules.md): patterns and segments over the records, in event time.",
      {
          Key("event_time", K::kIdentifier, kRequired, "",
              "A `timestamp_ms` column: the time each record happened."),
          Key("out_of_orderness", K::kDuration, kOptional, "0s",
              "How far behind the largest event time seen a record may arrive and still be "
              "used: the watermark is that time minus this. Records behind the watermark are "
              "late: written to the table but not used by the rules."),
          Key("idle_timeout", K::kDuration, kOptional, "10s",
              "Streams: with no input for this long, the watermark advances with the clock, "
              "so reminders and window expiries fire without new records."),
          Key("threads", K::kInt, kOptional, "",
              "Threads the rules run on (default: `compute.workers`): keyed state (partial "
              "matches, windows, timers) is split over them by a hash of each rule's key. The "
              "derived records are the same for any number, and a checkpoint taken with one "
              "number loads with another.")
              .Range(1, 64),
          Key("output", K::kMap, kOptional, "",
              "Where derived records go: a lake table (default: `derived` beside the dataset's "
              "table) or a Kafka topic."),
          Key("patterns", K::kMapList, kOptional, "", "Patterns: sequences of records per key."),
          Key("segments", K::kMapList, kOptional, "",
              "Segments: a bucket per key from aggregates over a sliding window."),
      }});
  s.push_back(MapSpec{
      "rules.output",
      "Where the derived records go: a lake table (columns `rule`, `key`, `event_time`, "
      "`data`, partitioned by rule and day) or a Kafka topic (the same fields as JSON "
      "messages, in transactions).",
      {
          Key("connector", K::kEnum, kOptional, "lake", "Output connector.")
              .Choices({"lake", "kafka"}, "supported output connector"),
          Key("location", K::kPath, kOptional, "",
              "`lake` only: lake root folder; default: `write.location` (required with "
              "write.connector none)."),
          Key("table", K::kIdentifier, kOptional, "derived", "`lake` only: table name."),
          Key("brokers", K::kString, kOptional, "",
              "`kafka` only (required): bootstrap servers, `host:port[,host:port...]`."),
          Key("topic", K::kString, kOptional, "",
              "`kafka` only (required): the topic the derived records go to, keyed by the "
              "rule's key."),
          Key("progress_topic", K::kString, kOptional, "",
              "`kafka` only: the topic of the progress markers, written in the same "
              "transactions as the records (partition 0 is read when weir starts); default: "
              "`<topic>.weir-progress`."),
          Key("transactional_id", K::kString, kOptional, "",
              "`kafka` only: the producer's transactional.id; a new run fences off an older "
              "one still writing. Default: `weir-rules-<dataset name>`."),
          Key("options", K::kOptions, kOptional, "",
              "`kafka` only: librdkafka producer settings passed through (`security.protocol`, "
              "`sasl.*`, ...; `${NAME}` is the environment variable NAME)."),
          Key("compaction", K::kMap, kOptional, "",
              "`lake` only: automatic compaction of the derived table, as `write.compaction` "
              "for the dataset's table."),
      }});
  s.push_back(MapSpec{
      "rules.output.compaction",
      "Automatic compaction of the derived table (a stream's rules commit small files about "
      "every `stream.commit_interval`): partitions with `min_files` or more data files smaller "
      "than 128 MiB are compacted (as `weir lake compact FILE --table TABLE`).",
      CompactionKeys()});
  s.push_back(MapSpec{
      "rules.patterns[]",
      "A pattern: a sequence of steps per key, and an optional `absent` clause.",
      {
          Key("name", K::kIdentifier, kRequired, "", "The `rule` of its derived records."),
          Key("key", K::kIdentifier, kRequired, "", "The column the pattern is matched per."),
          Key("sequence", K::kMapList, kRequired, "",
              "The steps, in order: `{as, where, within}`."),
          Key("absent", K::kMap, kOptional, "",
              "Emit when no record passing `where` comes within `within` of the first step: "
              "a reminder."),
          Key("emit", K::kStringMap, kOptional, "",
              "The fields of `data`: name to `alias.column` (a step's `as` and a column)."),
      }});
  s.push_back(MapSpec{
      "rules.patterns[].sequence[]",
      "One step of a sequence.",
      {
          Key("as", K::kIdentifier, kRequired, "", "The step's alias, for `emit`."),
          Key("where", K::kString, kRequired, "",
              "The records that match the step: an expression (docs/rules.md#expressions)."),
          Key("within", K::kDuration, kOptional, "",
              "Steps after the first: at most this long after the first step (inclusive). "
              "Required there; not allowed on the first step."),
      }});
  s.push_back(MapSpec{
      "rules.patterns[].absent",
      "The absent clause.",
      {
          Key("where", K::kString, kRequired, "", "The records whose arrival cancels the match."),
          Key("within", K::kDuration, kRequired, "",
              "The deadline after the first step; the derived record's event_time."),
      }});
  s.push_back(MapSpec{
      "rules.segments[]",
      "A segment: per key, aggregates over the last `window` of event time choose a bucket; "
      "a derived record is emitted when the bucket changes.",
      {
          Key("name", K::kIdentifier, kRequired, "", "The `rule` of its derived records."),
          Key("key", K::kIdentifier, kRequired, "", "The column the segment is kept per."),
          Key("window", K::kDuration, kRequired, "",
              "The aggregates at time t cover records in (t - window, t]."),
          Key("aggregates", K::kStringMap, kRequired, "",
              "Name to aggregate, e.g. `count(*) where event_type = 'listing_created'`."),
          Key("buckets", K::kMapList, kRequired, "",
              "`{name, when}` in order; the first whose `when` holds is the bucket; the last "
              "has no `when` and is the default."),
      }});
  s.push_back(MapSpec{
      "rules.segments[].buckets[]",
      "One bucket.",
      {
          Key("name", K::kIdentifier, kRequired, "", "The bucket's name."),
          Key("when", K::kString, kOptional, "",
              "An expression over the aggregates; every bucket but the last needs one."),
      }});
  s.push_back(MapSpec{
      "stream",
      "Stream datasets (docs/streams.md).",
      {
          Key("commit_interval", K::kDuration, kOptional, "1s",
              "Commit (make visible in the lake) at least this often while data flows; the "
              "bound on how long an accepted event takes to appear in the lake while the stream "
              "keeps up."),
          Key("catch_up_interval", K::kDuration, kOptional, "10s",
              "While the stream is behind (what waits at the source would take longer than "
              "`commit_interval` to read), commit when `write.roll_bytes` of rows are buffered or "
              "after this long, instead of every `commit_interval`: fewer, larger files while "
              "catching up. At least `commit_interval`; equal to it turns catching up off."),
          Key("pipeline", K::kBool, kOptional, "true",
              "Read the next interval while a commit is written and committed (at most one "
              "commit in flight; docs/streams.md, \"Reading while a commit runs\"). The rows "
              "being read and those in flight each hold up to half of `write.roll_bytes`. "
              "`false` stops reading for each commit."),
          Key("metrics_listen", K::kString, kOptional, "",
              "`host:port` to serve `GET /metrics` on (Prometheus text format: records, commits, "
              "commit and end-to-end latency histograms, lag); off when absent."),
      }});
  s.push_back(MapSpec{
      "read.multiline",
      "Multi-line records (not with `csv` or `warc`).",
      {
          Key("start", K::kString, kRequired, "",
              "RE2 regex matched against each line (without its line end); a matching line "
              "starts a record, e.g. `'^\\d{4}-\\d{2}-\\d{2} '`. Lines before the first match "
              "are one error record (\"bytes outside any record\") unless blank."),
          Key("max_lines", K::kInt, kOptional, "1000",
              "A record of more lines becomes an error record (exact offsets; its bytes are not "
              "all kept in memory).")
              .Range(1, std::nullopt),
      }});
  s.push_back(MapSpec{
      "read.csv",
      "CSV dialect (only with `parser: csv`).",
      {
          Key("delimiter", K::kChar, kOptional, "','",
              "Field delimiter: one character; a tab is written `\"\\t\"`."),
          Key("quote", K::kChar, kOptional, "'\"'", "Quote character: one character."),
          Key("header", K::kBool, kOptional, "true",
              "The first line holds the column names (paths of csv columns are header names)."),
      }});
  s.push_back(MapSpec{"transforms[]",
                      "One item of `transforms`: a map with exactly one of these keys.",
                      {
                          Key("geo", K::kMap, kOptional, "",
                              "Point-in-polygon enrichment from longitude/latitude columns."),
                      }});
  s.push_back(MapSpec{
      "transforms[].geo",
      "The `geo` transform.",
      {
          Key("layers", K::kPath, kRequired, "", "The layers YAML file."),
          Key("lon", K::kIdentifier, kRequired, "",
              "Name of the column (type `double`) holding the longitude."),
          Key("lat", K::kIdentifier, kRequired, "",
              "Name of the column (type `double`) holding the latitude."),
          Key("on_invalid", K::kEnum, kOptional, "null",
              "Invalid coordinates give NULL outputs (`null`) or an error record (`error`).")
              .Choices({"null", "error"}),
      }});
  s.push_back(
      MapSpec{"write",
              "The sink.",
              {
                  Key("connector", K::kEnum, kRequired, "",
                      "Sink connector: `lake` (a table), or `none`: the columns are projected "
                      "for `rules` only and no table is written.")
                      .Choices({"lake", "none"}, "supported connector"),
                  Key("location", K::kPath, kOptional, "",
                      "Lake root folder, or `s3://bucket/prefix` (an Iceberg table only); the table lives at `<location>/<table>/`. Required for connector `lake`."),
                  Key("table", K::kIdentifier, kOptional, "",
                      "Required for connector `lake`. Table name; also its name in the store's Iceberg catalog "
                      "(`default.<table>`), so datasets that share a `store` need different "
                      "table names."),
                  Key("format", K::kEnum, kOptional, "parquet", "File format.")
                      .Choices({"parquet", "jsonl"}, "format"),
                  Key("table_format", K::kEnum, kOptional, "iceberg",
                      "`iceberg`: an Apache Iceberg v2 table (snapshots in `<table>/metadata/`, "
                      "data files in `<table>/data/`; needs format parquet). `hive`: plain "
                      "Hive-style partition folders, as before Iceberg (the default for jsonl).")
                      .Choices({"iceberg", "hive"}, "table format"),
                  Key("compression", K::kEnum, kOptional, "zstd", "Parquet page compression.")
                      .Choices({"zstd", "none"}, "compression"),
                  Key("partition_by", K::kIdentifierList, kOptional, "",
                      "Partition columns, in path order; declared columns, not of type `json` or "
                      "`double`, no duplicates."),
                  Key("roll_bytes", K::kSize, kOptional, "128MiB",
                      "Buffered bytes per task before files are written."),
                  Key("roll_records", K::kInt, kOptional, "0",
                      "Buffered records per task before files are written; 0 means no limit.")
                      .Range(0, std::nullopt),
                  Key("target_file_mb", K::kInt, kOptional, "128",
                      "Target data file size (MiB): a commit writes a partition larger than this "
                      "as several files of about this size, and `weir lake compact` rewrites small "
                      "files into files of this size (Iceberg tables).")
                      .Range(1, std::nullopt),
                  Key("sort_by", K::kIdentifierList, kOptional, "",
                      "Columns that order the rows of files written by compaction (declared "
                      "columns, no duplicates); unsorted when absent."),
                  Key("compaction", K::kMap, kOptional, "",
                      "Compaction after each `weir run` (Iceberg tables)."),
                  Key("columns", K::kColumns, kRequired, "",
                      "The table's columns, in this order: a non-empty map of column name "
                      "(`[A-Za-z_][A-Za-z0-9_]*`) to column definition."),
                  Key("dedup", K::kMap, kOptional, "",
                      "Deduplication by key: a record whose key was already written to the table "
                      "(in this run or a committed one) with a time less than `within` apart is "
                      "not written and counts as a duplicate. Exact under any number of workers, "
                      "runs and crashes (the key index commits with the lake commit)."),
              }});
  s.push_back(MapSpec{
      "write.compaction",
      "Automatic compaction: after a run's commits, partitions with `min_files` or more data "
      "files smaller than `write.target_file_mb` are compacted (as `weir lake compact`).",
      CompactionKeys()});
  s.push_back(MapSpec{
      "write.dedup",
      "Deduplication (docs/lake.md#deduplication).",
      {
          Key("key", K::kIdentifierList, kRequired, "",
              "Columns whose values together identify a record, e.g. `[id]`; declared columns, "
              "not of type `json` or `double`."),
          Key("within", K::kDuration, kOptional, "7d",
              "Two records with the same key are duplicates when their `time` values are less "
              "than this apart. Keys older than the newest committed time minus `within` leave "
              "the index, so set it above the lateness you expect."),
          Key("time", K::kIdentifier, kOptional, "",
              "A `timestamp_ms` or `timestamp` column giving each record's time; default: the "
              "first such column; without one, the time the record was read."),
      }});
  s.push_back(MapSpec{
      "write.columns.<name>",
      "One column: either taken from the document (`path`, `type`, `required`) or derived from "
      "a timestamp column (`date_of` or `hour_of`).",
      {
          Key("path", K::kString, kOptional, "",
              "jsonl: a JSON pointer (RFC 6901) such as `/data/id`; csv: a header name."),
          Key("type", K::kEnum, kOptional, "string",
              "Column type; `timestamp` is ISO 8601 text, `timestamp_ms` integer milliseconds "
              "since the epoch. A derived column may give `type` only if it matches (`date` for "
              "`date_of`, `int64` for `hour_of`).")
              .Choices({"string", "int64", "double", "bool", "timestamp_ms", "timestamp", "json"},
                       "type"),
          Key("required", K::kBool, kOptional, "false",
              "A document without this value becomes an error record (path columns only)."),
          Key("date_of", K::kIdentifier, kOptional, "",
              "UTC date (type `date`) of the named `timestamp_ms`/`timestamp` path column."),
          Key("hour_of", K::kIdentifier, kOptional, "",
              "UTC hour 0-23 (type `int64`) of the named `timestamp_ms`/`timestamp` path column."),
      }});
  s.push_back(MapSpec{
      "read.manifest",
      "A listing instead of a manifest file (`read.manifest: {list: ..., glob: ...}`).",
      {
          Key("list", K::kPath, kRequired, "",
              "Folder or `s3://bucket/prefix` to list (recursively); it is also `read.location`, "
              "which may be left out or must be the same."),
          Key("glob", K::kString, kOptional, "",
              "Pattern each file's path relative to `list` must match (`*`, `?`, `[...]`; `*` "
              "also matches `/`), e.g. `'*.jsonl.gz'` (quoted: a bare `*` starts a YAML "
              "alias); absent: every file."),
      }});
  s.push_back(MapSpec{
      "storage",
      "Object storage for `s3://` locations (`read.location`, `write.location`, `errors.location`).",
      {
          Key("endpoint", K::kString, kOptional, "",
              "URL of an S3-compatible server, e.g. `http://127.0.0.1:9000`; absent: "
              "AWS_ENDPOINT_URL, or AWS S3 itself."),
          Key("region", K::kString, kOptional, "",
              "Signing region; absent: AWS_REGION, AWS_DEFAULT_REGION, or `us-east-1`."),
          Key("path_style", K::kBool, kOptional, "",
              "Bucket in the URL path (`http://host/bucket/key`) instead of the host name; "
              "absent: true when an endpoint is set, false for AWS."),
      }});
  s.push_back(
      MapSpec{"errors",
              "Error records (JSON lines).",
              {
                  Key("location", K::kPath, kOptional, "errors", "Folder for error records, or `s3://bucket/prefix`."),
                  Key("max_ratio", K::kNumber, kOptional, "",
                      "A task whose errored/read ratio exceeds this fails; no limit when absent.")
                      .Range(0, 1),
                  Key("excerpt_bytes", K::kInt, kOptional, "1024",
                      "Bytes of the raw record kept in an error record.")
                      .Range(16, 65536),
              }});
  s.push_back(MapSpec{
      "compute",
      "Execution.",
      {
          Key("workers", K::kInt, kOptional, "2",
              "Worker threads. A Kafka stream parses the partitions of each polled batch on this "
              "many threads (one partition on one thread, in order; one thread with a "
              "`plugin:` parser) and writes a commit's files on as many. An HTTP collector "
              "stream reads its log on one.")
              .Range(1, 256),
          Key("retries", K::kInt, kOptional, "3", "Attempts per task for retryable failures.")
              .Range(0, 100),
          Key("checkpoint_seconds", K::kNumber, kOptional, "5",
              "Commit at least this often while a task runs.")
              .Range(0, std::nullopt, /*lo_exclusive=*/true),
      }});
  return s;
}

std::string FormatNumber(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

std::string Heading(const MapSpec& m) {
  return m.path.empty() ? std::string("Top level") : "`" + std::string(m.path) + "`";
}

// Markdown table cells must not contain raw '|'.
std::string Cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::vector<std::string> KeySpec::ChoiceNames() const {
  return std::vector<std::string>(choices.begin(), choices.end());
}

std::string KeySpec::TypeText() const {
  auto range = [&](const char* what) {
    std::string out = what;
    if (min && max) {
      out += " " + FormatNumber(*min) + ".." + FormatNumber(*max);
    } else if (min) {
      out += std::string(min_exclusive ? " > " : " >= ") + FormatNumber(*min);
    } else if (max) {
      out += " <= " + FormatNumber(*max);
    }
    return out;
  };
  switch (kind) {
    case ValueKind::kString:
      return "string";
    case ValueKind::kName:
      return "name";
    case ValueKind::kIdentifier:
      return "identifier";
    case ValueKind::kPath:
      return "path";
    case ValueKind::kEnum: {
      std::string out = "one of ";
      for (size_t i = 0; i < choices.size(); ++i) {
        if (i > 0) out += ", ";
        out += "`" + std::string(choices[i]) + "`";
      }
      return out;
    }
    case ValueKind::kBool:
      return "bool";
    case ValueKind::kInt:
      return range("integer");
    case ValueKind::kNumber:
      return range("number");
    case ValueKind::kSize:
      return "size";
    case ValueKind::kDuration:
      return "duration";
    case ValueKind::kChar:
      return "character";
    case ValueKind::kMap:
      return "map";
    case ValueKind::kColumns:
      return "map of columns";
    case ValueKind::kIdentifierList:
      return "list of column names";
    case ValueKind::kPathList:
      return "list of paths";
    case ValueKind::kStringList:
      return "list of strings";
    case ValueKind::kTransformList:
      return "list of transforms";
    case ValueKind::kOptions:
      return "map (parser options)";
    case ValueKind::kManifest:
      return "path, or map (`list`, `glob`)";
    case ValueKind::kMapList:
      return "list of maps";
    case ValueKind::kStringMap:
      return "map of name to string";
  }
  return "?";
}

const KeySpec* MapSpec::Find(std::string_view name) const {
  for (const auto& k : keys) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::vector<std::string> MapSpec::KeyNames() const {
  std::vector<std::string> out;
  out.reserve(keys.size());
  for (const auto& k : keys) out.emplace_back(k.name);
  return out;
}

const std::vector<MapSpec>& DatasetSchema() {
  static const std::vector<MapSpec> schema = BuildSchema();
  return schema;
}

const MapSpec& DatasetMapSpec(std::string_view path) {
  for (const auto& m : DatasetSchema()) {
    if (m.path == path) return m;
  }
  std::fprintf(stderr, "weir: no dataset schema map '%.*s'\n", static_cast<int>(path.size()),
               path.data());
  std::abort();
}

std::string DatasetSchemaReference() {
  std::string out;
  out +=
      "Relative paths are relative to the folder of the dataset file. Sizes are a byte count or "
      "a string with a unit: `B`, `KB`, `MB`, `GB`, `TB` (powers of 1000) or `KiB`, `MiB`, "
      "`GiB`, `TiB` (powers of 1024), e.g. `16MiB`. A key not listed here is an error.\n";
  for (const auto& m : DatasetSchema()) {
    out += "\n### " + Heading(m) + "\n\n";
    out += std::string(m.description) + "\n\n";
    out += "| key | type | required | default | description |\n";
    out += "| --- | --- | --- | --- | --- |\n";
    for (const auto& k : m.keys) {
      std::string def = k.default_value.empty() ? "" : "`" + std::string(k.default_value) + "`";
      out += "| `" + std::string(k.name) + "` | " + Cell(k.TypeText()) + " | " +
             (k.required ? "yes" : "no") + " | " + Cell(def) + " | " + Cell(k.description) + " |\n";
    }
  }
  return out;
}

}  // namespace weir
