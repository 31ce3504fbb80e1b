// iceberg.h: typed Apache Iceberg v2 table metadata (schemas, partition specs, sort orders,
// snapshots, table metadata) and its JSON form, written from the Iceberg table specification
// (format/spec.md: "Table Metadata", "Snapshots", Appendix C "JSON serialization", Appendix D
// "Single-value serialization").
//
// Scope: the flat tables weir writes. Types are the primitives weir's column types map to (plus
// int/float/binary for partition results and completeness); nested types (struct, list, map) and
// v3 types are refused with a clear message when parsing, because weir never writes them.
//
// weir column type -> Iceberg type (SchemaFromColumns):
//   string -> string, json -> string, int64 -> long, double -> double, bool -> boolean,
//   date -> date, timestamp_ms -> timestamptz.
// KNOWN MISMATCH (to fix before integration): Iceberg's timestamptz is MICROseconds since the
// epoch, in metadata (bounds, partition values) AND in data files (Parquet TIMESTAMP(MICROS,
// adjustToUTC=true)). weir's Parquet writer stores timestamp_ms as TIMESTAMP(MILLIS). An Iceberg
// reader given such a file either rejects it or reads values 1000x off. The proposed fix is for the
// Parquet writer to store TIMESTAMP(MICROS) (value * 1000) for Iceberg tables; this library
// already works in microseconds (Literal::TimestampTz takes micros; MicrosFromMillis converts).
//
// Everything here is plain values; JSON conversion lives in iceberg.cc so nlohmann/json stays out
// of this header. Thread-safety: plain values, no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/column.h"
#include "weir/status.h"

namespace weir::iceberg {

inline constexpr int kFormatVersion = 2;
inline constexpr int kFirstPartitionFieldId = 1000;  // partition field ids start here (spec)

enum class Type {
  kBoolean,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kDate,
  kTimestamp,
  kTimestamptz,
  kString,
  kBinary
};

// "boolean", "long", "timestamptz", ... (Appendix C).
const char* TypeName(Type t);
Result<Type> ParseTypeName(std::string_view name);
// The Iceberg type a weir column is stored as (see the table above).
Type TypeForColumn(ColumnType t);

// One non-null value of a primitive type. Integers of every width (int, long, date, timestamp*)
// live in `i`; float and double in `d`; string and binary in `s`; boolean in `i` (0/1).
struct Literal {
  Type type = Type::kLong;
  int64_t i = 0;
  double d = 0;
  std::string s;

  static Literal Boolean(bool v) { return {Type::kBoolean, v ? 1 : 0, 0, {}}; }
  static Literal Int(int32_t v) { return {Type::kInt, v, 0, {}}; }
  static Literal Long(int64_t v) { return {Type::kLong, v, 0, {}}; }
  static Literal Double(double v) { return {Type::kDouble, 0, v, {}}; }
  static Literal Date(int32_t days) { return {Type::kDate, days, 0, {}}; }
  static Literal TimestampTz(int64_t micros) { return {Type::kTimestamptz, micros, 0, {}}; }
  static Literal String(std::string v) { return {Type::kString, 0, 0, std::move(v)}; }

  // Appendix D binary single-value serialization (little-endian ints/floats, raw UTF-8 bytes),
  // the form of lower/upper bounds in manifests and manifest lists.
  std::string ToBinary() const;
  static Result<Literal> FromBinary(Type type, std::string_view bytes);
  // Iceberg's order: numbers numerically, strings by unsigned bytes (= Unicode code points).
  // Both sides must have the same type. Returns <0, 0, >0.
  int Compare(const Literal& other) const;
  bool operator==(const Literal& o) const {
    return type == o.type && i == o.i && d == o.d && s == o.s;
  }
};
using OptionalLiteral = std::optional<Literal>;

inline int64_t MicrosFromMillis(int64_t ms) { return ms * 1000; }

struct NestedField {
  int id = 0;
  std::string name;
  bool required = false;
  Type type = Type::kString;
  std::string doc;  // empty: not written
  bool operator==(const NestedField&) const = default;
};

struct Schema {
  int schema_id = 0;
  std::vector<NestedField> fields;
  std::vector<int> identifier_field_ids;

  const NestedField* FindById(int id) const;
  const NestedField* FindByName(std::string_view name) const;
  int HighestFieldId() const;
  bool operator==(const Schema&) const = default;
};

// A schema for weir columns: ids 1..n in column order, every field optional (weir's Parquet
// columns are OPTIONAL: any value may be null).
Schema SchemaFromColumns(const std::vector<ColumnSchema>& columns, int schema_id = 0);

enum class Transform { kIdentity, kYear, kMonth, kDay, kHour, kVoid };
const char* TransformName(Transform t);
Result<Transform> ParseTransformName(std::string_view name);
// The result type of a transform applied to `source` (spec "Partition Transforms"); Invalid when
// the transform does not apply to that type (e.g. hour of a date).
Result<Type> TransformResultType(Transform t, Type source);
// Applies a transform to one value (null stays null). Time transforms count from the epoch with
// floor division, so instants before 1970 land in the right (negative) day/hour.
Result<OptionalLiteral> ApplyTransform(Transform t, const OptionalLiteral& v);

struct PartitionField {
  int source_id = 0;
  int field_id = 0;
  std::string name;
  Transform transform = Transform::kIdentity;
  bool operator==(const PartitionField&) const = default;
};

struct PartitionSpec {
  int spec_id = 0;
  std::vector<PartitionField> fields;
  bool operator==(const PartitionSpec&) const = default;
};

// Result type of each partition field, in spec order (the Avro `partition` struct's types).
Result<std::vector<Type>> PartitionTypes(const PartitionSpec& spec, const Schema& schema);

struct SortField {
  int source_id = 0;
  Transform transform = Transform::kIdentity;
  bool descending = false;
  bool nulls_first = true;
  bool operator==(const SortField&) const = default;
};

struct SortOrder {
  int order_id = 0;  // 0 is reserved for "unsorted" (no fields)
  std::vector<SortField> fields;
  bool operator==(const SortOrder&) const = default;
};

// One data file of a snapshot (the `data_file` struct of a manifest entry). Metric maps are keyed
// by field id; bounds are Literal::ToBinary() bytes. `partition` has one value per spec field.
struct DataFile {
  int content = 0;  // 0 data, 1 position deletes, 2 equality deletes
  std::string file_path;
  std::string file_format = "PARQUET";
  std::vector<OptionalLiteral> partition;
  int64_t record_count = 0;
  int64_t file_size_in_bytes = 0;
  std::map<int, int64_t> column_sizes;
  std::map<int, int64_t> value_counts;
  std::map<int, int64_t> null_value_counts;
  std::map<int, int64_t> nan_value_counts;
  std::map<int, std::string> lower_bounds;
  std::map<int, std::string> upper_bounds;
  std::vector<int64_t> split_offsets;
  std::optional<int> sort_order_id;
  bool operator==(const DataFile&) const = default;
};

enum class EntryStatus { kExisting = 0, kAdded = 1, kDeleted = 2 };

// One `manifest_entry`. For ADDED entries of a new manifest snapshot_id and both sequence numbers
// are null (inherited from the manifest list at read time, so a retry only rewrites the list);
// EXISTING and DELETED entries carry them explicitly.
struct ManifestEntry {
  EntryStatus status = EntryStatus::kAdded;
  std::optional<int64_t> snapshot_id;
  std::optional<int64_t> sequence_number;
  std::optional<int64_t> file_sequence_number;
  DataFile data_file;
  bool operator==(const ManifestEntry&) const = default;
};

// `field_summary` of a manifest list entry, one per partition field.
struct FieldSummary {
  bool contains_null = false;
  std::optional<bool> contains_nan;
  std::optional<std::string> lower_bound;  // Literal::ToBinary() of the partition field's type
  std::optional<std::string> upper_bound;
  bool operator==(const FieldSummary&) const = default;
};

// One `manifest_file` entry of a manifest list.
struct ManifestFile {
  std::string manifest_path;
  int64_t manifest_length = 0;
  int partition_spec_id = 0;
  int content = 0;  // 0 data, 1 deletes
  int64_t sequence_number = 0;
  int64_t min_sequence_number = 0;
  int64_t added_snapshot_id = 0;
  int32_t added_files_count = 0;
  int32_t existing_files_count = 0;
  int32_t deleted_files_count = 0;
  int64_t added_rows_count = 0;
  int64_t existing_rows_count = 0;
  int64_t deleted_rows_count = 0;
  std::vector<FieldSummary> partitions;
  bool operator==(const ManifestFile&) const = default;
};

struct Snapshot {
  int64_t snapshot_id = 0;
  std::optional<int64_t> parent_snapshot_id;
  int64_t sequence_number = 0;
  int64_t timestamp_ms = 0;
  std::string manifest_list;
  // The summary map; "operation" (append | replace | overwrite | delete) is required.
  std::map<std::string, std::string> summary;
  std::optional<int> schema_id;
  bool operator==(const Snapshot&) const = default;
};

struct SnapshotRef {
  int64_t snapshot_id = 0;
  std::string type = "branch";  // or "tag"
  std::optional<int> min_snapshots_to_keep;
  std::optional<int64_t> max_snapshot_age_ms;
  std::optional<int64_t> max_ref_age_ms;
  bool operator==(const SnapshotRef&) const = default;
};

struct SnapshotLogEntry {
  int64_t timestamp_ms = 0;
  int64_t snapshot_id = 0;
  bool operator==(const SnapshotLogEntry&) const = default;
};

struct MetadataLogEntry {
  int64_t timestamp_ms = 0;
  std::string metadata_file;
  bool operator==(const MetadataLogEntry&) const = default;
};

struct TableMetadata {
  int format_version = kFormatVersion;
  std::string table_uuid;
  std::string location;
  int64_t last_sequence_number = 0;
  int64_t last_updated_ms = 0;
  int last_column_id = 0;
  std::vector<Schema> schemas;
  int current_schema_id = 0;
  std::vector<PartitionSpec> partition_specs;
  int default_spec_id = 0;
  int last_partition_id = kFirstPartitionFieldId - 1;  // 999 when no partition field exists yet
  std::map<std::string, std::string> properties;
  std::optional<int64_t> current_snapshot_id;
  std::vector<Snapshot> snapshots;
  std::vector<SnapshotLogEntry> snapshot_log;
  std::vector<MetadataLogEntry> metadata_log;
  std::vector<SortOrder> sort_orders;
  int default_sort_order_id = 0;
  std::map<std::string, SnapshotRef> refs;

  const Schema* CurrentSchema() const;
  const PartitionSpec* DefaultSpec() const;
  const PartitionSpec* SpecById(int spec_id) const;
  const Snapshot* SnapshotById(int64_t id) const;
  const Snapshot* CurrentSnapshot() const;
  bool operator==(const TableMetadata&) const = default;
};

// A new table's metadata with no snapshot: one schema (id 0), one spec (id 0; its field ids are
// assigned from 1000 when they are 0), one sort order (the unsorted order 0, plus `sort_order`
// as id 1 when it has fields). Invalid when a partition or sort field names an unknown column or a
// transform that does not apply to its type.
Result<TableMetadata> NewTableMetadata(std::string location, std::string table_uuid, Schema schema,
                                       PartitionSpec spec, SortOrder sort_order,
                                       std::map<std::string, std::string> properties,
                                       int64_t now_ms);

// Metadata <-> JSON text (Appendix C). Serialization is deterministic (fixed key order). Parsing
// accepts what the spec allows for v2 (optional fields absent, Java's -1 for "no current
// snapshot") and says which key was wrong; `what` names the file in errors.
std::string TableMetadataToJson(const TableMetadata& m);
Result<TableMetadata> ParseTableMetadata(std::string_view json, const std::string& what);

// The JSON pieces manifests embed in their Avro file metadata.
std::string SchemaToJson(const Schema& s);
std::string PartitionFieldsToJson(const PartitionSpec& spec);  // only the fields array
std::string PartitionSpecToJson(const PartitionSpec& spec);

// A random (version 4) UUID in canonical lowercase form, and a positive 63-bit snapshot id.
std::string NewUuid();
int64_t NewSnapshotId();

}  // namespace weir::iceberg
