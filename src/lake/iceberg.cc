#include "lake/iceberg.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "core/text.h"

namespace weir::iceberg {
namespace {

using ojson = nlohmann::ordered_json;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

void PutLE(std::string& out, uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
}

uint64_t GetLE(std::string_view in, int bytes) {
  uint64_t v = 0;
  for (int k = 0; k < bytes; ++k)
    v |= static_cast<uint64_t>(static_cast<uint8_t>(in[k])) << (8 * k);
  return v;
}

// ---- JSON helpers: typed getters that name the key and file in errors ---------------------------

struct Reader {
  const std::string& what;

  Status Err(const std::string& key, const std::string& msg) const {
    return Status::Invalid(what + ": Iceberg metadata key '" + key + "' " + msg);
  }
  Result<const ojson*> Get(const ojson& o, const std::string& key, bool required) const {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) {
      if (required) return Err(key, "is missing");
      return static_cast<const ojson*>(nullptr);
    }
    return &*it;
  }
  Result<int64_t> Long(const ojson& o, const std::string& key) const {
    WEIR_ASSIGN_OR_RETURN(const ojson* v, Get(o, key, true));
    if (!v->is_number_integer()) return Err(key, "must be an integer, got " + v->dump());
    return v->get<int64_t>();
  }
  Result<std::optional<int64_t>> OptLong(const ojson& o, const std::string& key) const {
    WEIR_ASSIGN_OR_RETURN(const ojson* v, Get(o, key, false));
    if (!v) return std::optional<int64_t>();
    if (!v->is_number_integer()) return Err(key, "must be an integer, got " + v->dump());
    return std::optional<int64_t>(v->get<int64_t>());
  }
  Result<int> Int(const ojson& o, const std::string& key) const {
    WEIR_ASSIGN_OR_RETURN(int64_t v, Long(o, key));
    if (v < INT32_MIN || v > INT32_MAX) return Err(key, "is out of the int range");
    return static_cast<int>(v);
  }
  Result<std::string> Str(const ojson& o, const std::string& key) const {
    WEIR_ASSIGN_OR_RETURN(const ojson* v, Get(o, key, true));
    if (!v->is_string()) return Err(key, "must be a string, got " + v->dump());
    return v->get<std::string>();
  }
  Result<bool> Bool(const ojson& o, const std::string& key) const {
    WEIR_ASSIGN_OR_RETURN(const ojson* v, Get(o, key, true));
    if (!v->is_boolean()) return Err(key, "must be a boolean, got " + v->dump());
    return v->get<bool>();
  }
  Result<const ojson*> Array(const ojson& o, const std::string& key, bool required) const {
    WEIR_ASSIGN_OR_RETURN(const ojson* v, Get(o, key, required));
    if (v && !v->is_array()) return Err(key, "must be a list");
    return v;
  }
  Result<std::map<std::string, std::string>> StrMap(const ojson& o, const std::string& key) const {
    std::map<std::string, std::string> out;
    WEIR_ASSIGN_OR_RETURN(const ojson* v, Get(o, key, false));
    if (!v) return out;
    if (!v->is_object()) return Err(key, "must be an object of strings");
    for (auto it = v->begin(); it != v->end(); ++it) {
      if (!it.value().is_string()) return Err(key + "." + it.key(), "must be a string");
      out[it.key()] = it.value().get<std::string>();
    }
    return out;
  }
};

ojson SchemaJson(const Schema& s) {
  ojson j;
  j["type"] = "struct";
  j["schema-id"] = s.schema_id;
  if (!s.identifier_field_ids.empty()) j["identifier-field-ids"] = s.identifier_field_ids;
  ojson fields = ojson::array();
  for (const auto& f : s.fields) {
    ojson fj;
    fj["id"] = f.id;
    fj["name"] = f.name;
    fj["required"] = f.required;
    fj["type"] = TypeName(f.type);
    if (!f.doc.empty()) fj["doc"] = f.doc;
    fields.push_back(std::move(fj));
  }
  j["fields"] = std::move(fields);
  return j;
}

ojson PartitionFieldsJson(const PartitionSpec& spec) {
  ojson fields = ojson::array();
  for (const auto& f : spec.fields) {
    fields.push_back({{"name", f.name},
                      {"transform", TransformName(f.transform)},
                      {"source-id", f.source_id},
                      {"field-id", f.field_id}});
  }
  return fields;
}

ojson SpecJson(const PartitionSpec& spec) {
  ojson j;
  j["spec-id"] = spec.spec_id;
  j["fields"] = PartitionFieldsJson(spec);
  return j;
}

ojson SortOrderJson(const SortOrder& o) {
  ojson fields = ojson::array();
  for (const auto& f : o.fields) {
    fields.push_back({{"transform", TransformName(f.transform)},
                      {"source-id", f.source_id},
                      {"direction", f.descending ? "desc" : "asc"},
                      {"null-order", f.nulls_first ? "nulls-first" : "nulls-last"}});
  }
  return ojson{{"order-id", o.order_id}, {"fields", std::move(fields)}};
}

Result<Schema> ParseSchema(const Reader& r, const ojson& j) {
  Schema s;
  if (!j.is_object()) return r.Err("schemas", "must hold objects");
  WEIR_ASSIGN_OR_RETURN(std::string type, r.Str(j, "type"));
  if (type != "struct") return r.Err("schemas.type", "must be \"struct\", got \"" + type + "\"");
  WEIR_ASSIGN_OR_RETURN(s.schema_id, r.Int(j, "schema-id"));
  WEIR_ASSIGN_OR_RETURN(const ojson* ids, r.Array(j, "identifier-field-ids", false));
  if (ids) {
    for (const auto& id : *ids) {
      if (!id.is_number_integer()) return r.Err("identifier-field-ids", "must hold integers");
      s.identifier_field_ids.push_back(id.get<int>());
    }
  }
  WEIR_ASSIGN_OR_RETURN(const ojson* fields, r.Array(j, "fields", true));
  for (const auto& fj : *fields) {
    NestedField f;
    WEIR_ASSIGN_OR_RETURN(f.id, r.Int(fj, "id"));
    WEIR_ASSIGN_OR_RETURN(f.name, r.Str(fj, "name"));
    WEIR_ASSIGN_OR_RETURN(f.required, r.Bool(fj, "required"));
    WEIR_ASSIGN_OR_RETURN(const ojson* t, r.Get(fj, "type", true));
    if (!t->is_string()) {
      return r.Err("schemas.fields.type",
                   "of field '" + f.name + "' is a nested type, which weir tables do not use");
    }
    auto ty = ParseTypeName(t->get<std::string>());
    if (!ty.ok()) return ty.status().WithContext(r.what + ": field '" + f.name + "'");
    f.type = *ty;
    if (fj.contains("doc") && fj["doc"].is_string()) f.doc = fj["doc"].get<std::string>();
    s.fields.push_back(std::move(f));
  }
  return s;
}

Result<PartitionSpec> ParseSpec(const Reader& r, const ojson& j) {
  PartitionSpec spec;
  WEIR_ASSIGN_OR_RETURN(spec.spec_id, r.Int(j, "spec-id"));
  WEIR_ASSIGN_OR_RETURN(const ojson* fields, r.Array(j, "fields", true));
  for (const auto& fj : *fields) {
    PartitionField f;
    WEIR_ASSIGN_OR_RETURN(f.name, r.Str(fj, "name"));
    WEIR_ASSIGN_OR_RETURN(f.source_id, r.Int(fj, "source-id"));
    WEIR_ASSIGN_OR_RETURN(f.field_id, r.Int(fj, "field-id"));
    WEIR_ASSIGN_OR_RETURN(std::string t, r.Str(fj, "transform"));
    auto tr = ParseTransformName(t);
    if (!tr.ok()) return tr.status().WithContext(r.what + ": partition field '" + f.name + "'");
    f.transform = *tr;
    spec.fields.push_back(std::move(f));
  }
  return spec;
}

Result<SortOrder> ParseSortOrder(const Reader& r, const ojson& j) {
  SortOrder o;
  WEIR_ASSIGN_OR_RETURN(o.order_id, r.Int(j, "order-id"));
  WEIR_ASSIGN_OR_RETURN(const ojson* fields, r.Array(j, "fields", true));
  for (const auto& fj : *fields) {
    SortField f;
    WEIR_ASSIGN_OR_RETURN(f.source_id, r.Int(fj, "source-id"));
    WEIR_ASSIGN_OR_RETURN(std::string t, r.Str(fj, "transform"));
    WEIR_ASSIGN_OR_RETURN(f.transform, ParseTransformName(t));
    WEIR_ASSIGN_OR_RETURN(std::string dir, r.Str(fj, "direction"));
    if (dir != "asc" && dir != "desc") return r.Err("sort-orders.direction", "must be asc or desc");
    f.descending = dir == "desc";
    WEIR_ASSIGN_OR_RETURN(std::string nulls, r.Str(fj, "null-order"));
    if (nulls != "nulls-first" && nulls != "nulls-last") {
      return r.Err("sort-orders.null-order", "must be nulls-first or nulls-last");
    }
    f.nulls_first = nulls == "nulls-first";
    o.fields.push_back(f);
  }
  return o;
}

}  // namespace

// ---- types and literals -------------------------------------------------------------------------

const char* TypeName(Type t) {
  switch (t) {
    case Type::kBoolean:
      return "boolean";
    case Type::kInt:
      return "int";
    case Type::kLong:
      return "long";
    case Type::kFloat:
      return "float";
    case Type::kDouble:
      return "double";
    case Type::kDate:
      return "date";
    case Type::kTimestamp:
      return "timestamp";
    case Type::kTimestamptz:
      return "timestamptz";
    case Type::kString:
      return "string";
    case Type::kBinary:
      return "binary";
  }
  return "?";
}

Result<Type> ParseTypeName(std::string_view name) {
  for (Type t : {Type::kBoolean, Type::kInt, Type::kLong, Type::kFloat, Type::kDouble, Type::kDate,
                 Type::kTimestamp, Type::kTimestamptz, Type::kString, Type::kBinary}) {
    if (name == TypeName(t)) return t;
  }
  return Status::Invalid("Iceberg type '" + std::string(name) +
                         "' is not supported by weir (boolean, int, long, float, double, date, "
                         "timestamp, timestamptz, string, binary)");
}

Type TypeForColumn(ColumnType t) {
  switch (t) {
    case ColumnType::kString:
    case ColumnType::kJson:
      return Type::kString;
    case ColumnType::kInt64:
      return Type::kLong;
    case ColumnType::kDouble:
      return Type::kDouble;
    case ColumnType::kBool:
      return Type::kBoolean;
    case ColumnType::kTimestampMs:
      return Type::kTimestamptz;
    case ColumnType::kDate:
      return Type::kDate;
  }
  return Type::kString;
}

std::string Literal::ToBinary() const {
  std::string out;
  switch (type) {
    case Type::kBoolean:
      out.push_back(i ? 1 : 0);
      break;
    case Type::kInt:
    case Type::kDate:
      PutLE(out, static_cast<uint32_t>(static_cast<int32_t>(i)), 4);
      break;
    case Type::kLong:
    case Type::kTimestamp:
    case Type::kTimestamptz:
      PutLE(out, static_cast<uint64_t>(i), 8);
      break;
    case Type::kFloat: {
      const float f = static_cast<float>(d);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      PutLE(out, bits, 4);
      break;
    }
    case Type::kDouble: {
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      PutLE(out, bits, 8);
      break;
    }
    case Type::kString:
    case Type::kBinary:
      out = s;
      break;
  }
  return out;
}

Result<Literal> Literal::FromBinary(Type type, std::string_view b) {
  auto want = [&](size_t n) -> Status {
    if (b.size() != n) {
      return Status::Corruption(std::string("Iceberg ") + TypeName(type) + " bound has " +
                                std::to_string(b.size()) + " bytes, expected " + std::to_string(n));
    }
    return Status::OK();
  };
  Literal l;
  l.type = type;
  switch (type) {
    case Type::kBoolean:
      WEIR_RETURN_IF_ERROR(want(1));
      l.i = b[0] != 0;
      break;
    case Type::kInt:
    case Type::kDate:
      WEIR_RETURN_IF_ERROR(want(4));
      l.i = static_cast<int32_t>(static_cast<uint32_t>(GetLE(b, 4)));
      break;
    case Type::kLong:
    case Type::kTimestamp:
    case Type::kTimestamptz:
      WEIR_RETURN_IF_ERROR(want(8));
      l.i = static_cast<int64_t>(GetLE(b, 8));
      break;
    case Type::kFloat: {
      WEIR_RETURN_IF_ERROR(want(4));
      const auto bits = static_cast<uint32_t>(GetLE(b, 4));
      float f;
      std::memcpy(&f, &bits, 4);
      l.d = f;
      break;
    }
    case Type::kDouble: {
      WEIR_RETURN_IF_ERROR(want(8));
      const uint64_t bits = GetLE(b, 8);
      std::memcpy(&l.d, &bits, 8);
      break;
    }
    case Type::kString:
    case Type::kBinary:
      l.s = std::string(b);
      break;
  }
  return l;
}

int Literal::Compare(const Literal& o) const {
  switch (type) {
    case Type::kFloat:
    case Type::kDouble:
      // -0.0 sorts before +0.0, as the spec's bounds require.
      if (d == o.d) return std::signbit(d) == std::signbit(o.d) ? 0 : (std::signbit(d) ? -1 : 1);
      return d < o.d ? -1 : 1;
    case Type::kString:
    case Type::kBinary: {
      const int c = s.compare(o.s);  // std::string compares bytes as unsigned char
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    default:
      return i < o.i ? -1 : (i > o.i ? 1 : 0);
  }
}

// ---- schema, transforms, specs -----------------------------------------------------------------

const NestedField* Schema::FindById(int id) const {
  for (const auto& f : fields) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

const NestedField* Schema::FindByName(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

int Schema::HighestFieldId() const {
  int m = 0;
  for (const auto& f : fields) m = std::max(m, f.id);
  return m;
}

Schema SchemaFromColumns(const std::vector<ColumnSchema>& columns, int schema_id) {
  Schema s;
  s.schema_id = schema_id;
  int id = 1;
  for (const auto& c : columns) {
    s.fields.push_back({id++, c.name, /*required=*/false, TypeForColumn(c.type), {}});
  }
  return s;
}

const char* TransformName(Transform t) {
  switch (t) {
    case Transform::kIdentity:
      return "identity";
    case Transform::kYear:
      return "year";
    case Transform::kMonth:
      return "month";
    case Transform::kDay:
      return "day";
    case Transform::kHour:
      return "hour";
    case Transform::kVoid:
      return "void";
  }
  return "?";
}

Result<Transform> ParseTransformName(std::string_view name) {
  for (Transform t : {Transform::kIdentity, Transform::kYear, Transform::kMonth, Transform::kDay,
                      Transform::kHour, Transform::kVoid}) {
    if (name == TransformName(t)) return t;
  }
  return Status::Invalid("Iceberg transform '" + std::string(name) +
                         "' is not supported by weir (identity, year, month, day, hour, void)");
}

Result<Type> TransformResultType(Transform t, Type source) {
  const bool is_ts = source == Type::kTimestamp || source == Type::kTimestamptz;
  const bool is_date = source == Type::kDate;
  switch (t) {
    case Transform::kIdentity:
    case Transform::kVoid:
      return source;
    case Transform::kYear:
    case Transform::kMonth:
      if (is_ts || is_date) return Type::kInt;
      break;
    case Transform::kDay:
      if (is_ts || is_date) return Type::kDate;
      break;
    case Transform::kHour:
      if (is_ts) return Type::kInt;
      break;
  }
  return Status::Invalid(std::string("the Iceberg '") + TransformName(t) +
                         "' transform does not apply to a " + TypeName(source) + " column");
}

Result<OptionalLiteral> ApplyTransform(Transform t, const OptionalLiteral& v) {
  if (!v || t == Transform::kVoid) return OptionalLiteral();
  if (t == Transform::kIdentity) return v;
  WEIR_ASSIGN_OR_RETURN(Type rt, TransformResultType(t, v->type));
  (void)rt;
  constexpr int64_t kMicrosPerHour = 3600LL * 1000 * 1000;
  constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;
  const bool is_date = v->type == Type::kDate;
  const int64_t days = is_date ? v->i : FloorDiv(v->i, kMicrosPerDay);
  switch (t) {
    case Transform::kHour:
      return OptionalLiteral(Literal::Int(static_cast<int32_t>(FloorDiv(v->i, kMicrosPerHour))));
    case Transform::kDay:
      return OptionalLiteral(Literal::Date(static_cast<int32_t>(days)));
    case Transform::kYear:
    case Transform::kMonth: {
      int64_t y;
      unsigned m;
      unsigned d = 0;
      CivilFromDays(days, y, m, d);  // core/text.h
      const int64_t r = t == Transform::kYear ? y - 1970 : (y - 1970) * 12 + (m - 1);
      return OptionalLiteral(Literal::Int(static_cast<int32_t>(r)));
    }
    default:
      break;
  }
  return Status::Internal("unhandled transform");
}

Result<std::vector<Type>> PartitionTypes(const PartitionSpec& spec, const Schema& schema) {
  std::vector<Type> out;
  for (const auto& f : spec.fields) {
    const NestedField* src = schema.FindById(f.source_id);
    if (!src) {
      return Status::Invalid("partition field '" + f.name + "' refers to column id " +
                             std::to_string(f.source_id) + ", which the schema does not have");
    }
    auto t = TransformResultType(f.transform, src->type);
    if (!t.ok()) return t.status().WithContext("partition field '" + f.name + "'");
    out.push_back(*t);
  }
  return out;
}

// ---- table metadata ----------------------------------------------------------------------------

const Schema* TableMetadata::CurrentSchema() const {
  for (const auto& s : schemas) {
    if (s.schema_id == current_schema_id) return &s;
  }
  return nullptr;
}

const PartitionSpec* TableMetadata::SpecById(int id) const {
  for (const auto& s : partition_specs) {
    if (s.spec_id == id) return &s;
  }
  return nullptr;
}

const PartitionSpec* TableMetadata::DefaultSpec() const { return SpecById(default_spec_id); }

const Snapshot* TableMetadata::SnapshotById(int64_t id) const {
  for (const auto& s : snapshots) {
    if (s.snapshot_id == id) return &s;
  }
  return nullptr;
}

const Snapshot* TableMetadata::CurrentSnapshot() const {
  return current_snapshot_id ? SnapshotById(*current_snapshot_id) : nullptr;
}

Result<TableMetadata> NewTableMetadata(std::string location, std::string table_uuid, Schema schema,
                                       PartitionSpec spec, SortOrder sort_order,
                                       std::map<std::string, std::string> properties,
                                       int64_t now_ms) {
  TableMetadata m;
  while (!location.empty() && location.back() == '/') location.pop_back();
  if (location.empty()) return Status::Invalid("an Iceberg table needs a location");
  m.location = std::move(location);
  m.table_uuid = std::move(table_uuid);
  m.last_updated_ms = now_ms;
  m.last_column_id = schema.HighestFieldId();
  schema.schema_id = 0;
  spec.spec_id = 0;
  int next_pid = kFirstPartitionFieldId;
  for (auto& f : spec.fields) {
    if (f.field_id == 0) f.field_id = next_pid;
    next_pid = std::max(next_pid, f.field_id + 1);
  }
  WEIR_RETURN_IF_ERROR(PartitionTypes(spec, schema).status());
  m.last_partition_id = next_pid - 1;
  for (const auto& f : sort_order.fields) {
    const NestedField* src = schema.FindById(f.source_id);
    if (!src) {
      return Status::Invalid("sort field refers to column id " + std::to_string(f.source_id) +
                             ", which the schema does not have");
    }
    WEIR_RETURN_IF_ERROR(TransformResultType(f.transform, src->type).status());
  }
  m.schemas.push_back(std::move(schema));
  m.partition_specs.push_back(std::move(spec));
  m.sort_orders.push_back(SortOrder{0, {}});
  if (!sort_order.fields.empty()) {
    sort_order.order_id = 1;
    m.sort_orders.push_back(std::move(sort_order));
    m.default_sort_order_id = 1;
  }
  m.properties = std::move(properties);
  return m;
}

std::string SchemaToJson(const Schema& s) { return SchemaJson(s).dump(); }
std::string PartitionFieldsToJson(const PartitionSpec& spec) {
  return PartitionFieldsJson(spec).dump();
}
std::string PartitionSpecToJson(const PartitionSpec& spec) { return SpecJson(spec).dump(); }

std::string TableMetadataToJson(const TableMetadata& m) {
  ojson j;
  j["format-version"] = m.format_version;
  j["table-uuid"] = m.table_uuid;
  j["location"] = m.location;
  j["last-sequence-number"] = m.last_sequence_number;
  j["last-updated-ms"] = m.last_updated_ms;
  j["last-column-id"] = m.last_column_id;
  j["current-schema-id"] = m.current_schema_id;
  j["schemas"] = ojson::array();
  for (const auto& s : m.schemas) j["schemas"].push_back(SchemaJson(s));
  j["default-spec-id"] = m.default_spec_id;
  j["partition-specs"] = ojson::array();
  for (const auto& s : m.partition_specs) j["partition-specs"].push_back(SpecJson(s));
  j["last-partition-id"] = m.last_partition_id;
  j["default-sort-order-id"] = m.default_sort_order_id;
  j["sort-orders"] = ojson::array();
  for (const auto& o : m.sort_orders) j["sort-orders"].push_back(SortOrderJson(o));
  j["properties"] = ojson::object();
  for (const auto& [k, v] : m.properties) j["properties"][k] = v;
  if (m.current_snapshot_id) j["current-snapshot-id"] = *m.current_snapshot_id;
  j["refs"] = ojson::object();
  for (const auto& [name, r] : m.refs) {
    ojson rj{{"snapshot-id", r.snapshot_id}, {"type", r.type}};
    if (r.min_snapshots_to_keep) rj["min-snapshots-to-keep"] = *r.min_snapshots_to_keep;
    if (r.max_snapshot_age_ms) rj["max-snapshot-age-ms"] = *r.max_snapshot_age_ms;
    if (r.max_ref_age_ms) rj["max-ref-age-ms"] = *r.max_ref_age_ms;
    j["refs"][name] = std::move(rj);
  }
  j["snapshots"] = ojson::array();
  for (const auto& s : m.snapshots) {
    ojson sj;
    sj["snapshot-id"] = s.snapshot_id;
    if (s.parent_snapshot_id) sj["parent-snapshot-id"] = *s.parent_snapshot_id;
    sj["sequence-number"] = s.sequence_number;
    sj["timestamp-ms"] = s.timestamp_ms;
    sj["manifest-list"] = s.manifest_list;
    sj["summary"] = ojson::object();
    // "operation" first: readers and humans look for it.
    if (auto it = s.summary.find("operation"); it != s.summary.end())
      sj["summary"]["operation"] = it->second;
    for (const auto& [k, v] : s.summary) {
      if (k != "operation") sj["summary"][k] = v;
    }
    if (s.schema_id) sj["schema-id"] = *s.schema_id;
    j["snapshots"].push_back(std::move(sj));
  }
  j["snapshot-log"] = ojson::array();
  for (const auto& e : m.snapshot_log) {
    j["snapshot-log"].push_back({{"timestamp-ms", e.timestamp_ms}, {"snapshot-id", e.snapshot_id}});
  }
  j["metadata-log"] = ojson::array();
  for (const auto& e : m.metadata_log) {
    j["metadata-log"].push_back(
        {{"timestamp-ms", e.timestamp_ms}, {"metadata-file", e.metadata_file}});
  }
  return j.dump(2);
}

Result<TableMetadata> ParseTableMetadata(std::string_view text, const std::string& what) {
  ojson j = ojson::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Invalid(what + ": not a JSON object (Iceberg table metadata expected)");
  }
  Reader r{what};
  TableMetadata m;
  WEIR_ASSIGN_OR_RETURN(m.format_version, r.Int(j, "format-version"));
  if (m.format_version != 2) {
    return Status::Invalid(what + ": Iceberg format-version " + std::to_string(m.format_version) +
                           " is not supported; weir reads and writes v2 tables");
  }
  WEIR_ASSIGN_OR_RETURN(m.table_uuid, r.Str(j, "table-uuid"));
  WEIR_ASSIGN_OR_RETURN(m.location, r.Str(j, "location"));
  WEIR_ASSIGN_OR_RETURN(m.last_sequence_number, r.Long(j, "last-sequence-number"));
  WEIR_ASSIGN_OR_RETURN(m.last_updated_ms, r.Long(j, "last-updated-ms"));
  WEIR_ASSIGN_OR_RETURN(m.last_column_id, r.Int(j, "last-column-id"));
  WEIR_ASSIGN_OR_RETURN(m.current_schema_id, r.Int(j, "current-schema-id"));
  WEIR_ASSIGN_OR_RETURN(const ojson* schemas, r.Array(j, "schemas", true));
  for (const auto& sj : *schemas) {
    WEIR_ASSIGN_OR_RETURN(Schema s, ParseSchema(r, sj));
    m.schemas.push_back(std::move(s));
  }
  if (!m.CurrentSchema()) {
    return r.Err("current-schema-id", std::to_string(m.current_schema_id) + " names no schema");
  }
  WEIR_ASSIGN_OR_RETURN(m.default_spec_id, r.Int(j, "default-spec-id"));
  WEIR_ASSIGN_OR_RETURN(const ojson* specs, r.Array(j, "partition-specs", true));
  for (const auto& sj : *specs) {
    WEIR_ASSIGN_OR_RETURN(PartitionSpec s, ParseSpec(r, sj));
    m.partition_specs.push_back(std::move(s));
  }
  if (!m.DefaultSpec()) {
    return r.Err("default-spec-id", std::to_string(m.default_spec_id) + " names no partition spec");
  }
  WEIR_ASSIGN_OR_RETURN(m.last_partition_id, r.Int(j, "last-partition-id"));
  WEIR_ASSIGN_OR_RETURN(m.default_sort_order_id, r.Int(j, "default-sort-order-id"));
  WEIR_ASSIGN_OR_RETURN(const ojson* orders, r.Array(j, "sort-orders", true));
  for (const auto& oj : *orders) {
    WEIR_ASSIGN_OR_RETURN(SortOrder o, ParseSortOrder(r, oj));
    m.sort_orders.push_back(std::move(o));
  }
  WEIR_ASSIGN_OR_RETURN(m.properties, r.StrMap(j, "properties"));
  WEIR_ASSIGN_OR_RETURN(m.current_snapshot_id, r.OptLong(j, "current-snapshot-id"));
  if (m.current_snapshot_id == -1) m.current_snapshot_id.reset();  // Java's "no snapshot" in v2
  WEIR_ASSIGN_OR_RETURN(const ojson* snaps, r.Array(j, "snapshots", false));
  if (snaps) {
    for (const auto& sj : *snaps) {
      Snapshot s;
      WEIR_ASSIGN_OR_RETURN(s.snapshot_id, r.Long(sj, "snapshot-id"));
      WEIR_ASSIGN_OR_RETURN(s.parent_snapshot_id, r.OptLong(sj, "parent-snapshot-id"));
      WEIR_ASSIGN_OR_RETURN(s.sequence_number, r.Long(sj, "sequence-number"));
      WEIR_ASSIGN_OR_RETURN(s.timestamp_ms, r.Long(sj, "timestamp-ms"));
      WEIR_ASSIGN_OR_RETURN(s.manifest_list, r.Str(sj, "manifest-list"));
      WEIR_ASSIGN_OR_RETURN(s.summary, r.StrMap(sj, "summary"));
      if (!s.summary.count("operation")) return r.Err("snapshots.summary.operation", "is missing");
      WEIR_ASSIGN_OR_RETURN(auto sid, r.OptLong(sj, "schema-id"));
      if (sid) s.schema_id = static_cast<int>(*sid);
      m.snapshots.push_back(std::move(s));
    }
  }
  if (m.current_snapshot_id && !m.CurrentSnapshot()) {
    return r.Err("current-snapshot-id",
                 std::to_string(*m.current_snapshot_id) + " names no snapshot");
  }
  WEIR_ASSIGN_OR_RETURN(const ojson* refs, r.Get(j, "refs", false));
  if (refs) {
    if (!refs->is_object()) return r.Err("refs", "must be an object");
    for (auto it = refs->begin(); it != refs->end(); ++it) {
      SnapshotRef ref;
      WEIR_ASSIGN_OR_RETURN(ref.snapshot_id, r.Long(it.value(), "snapshot-id"));
      WEIR_ASSIGN_OR_RETURN(ref.type, r.Str(it.value(), "type"));
      WEIR_ASSIGN_OR_RETURN(auto keep, r.OptLong(it.value(), "min-snapshots-to-keep"));
      if (keep) ref.min_snapshots_to_keep = static_cast<int>(*keep);
      WEIR_ASSIGN_OR_RETURN(ref.max_snapshot_age_ms, r.OptLong(it.value(), "max-snapshot-age-ms"));
      WEIR_ASSIGN_OR_RETURN(ref.max_ref_age_ms, r.OptLong(it.value(), "max-ref-age-ms"));
      m.refs[it.key()] = std::move(ref);
    }
  }
  if (m.current_snapshot_id && !m.refs.count("main")) {
    // The spec: "there is always a main branch reference pointing to the current-snapshot-id".
    m.refs["main"] = SnapshotRef{*m.current_snapshot_id, "branch", {}, {}, {}};
  }
  WEIR_ASSIGN_OR_RETURN(const ojson* slog, r.Array(j, "snapshot-log", false));
  if (slog) {
    for (const auto& e : *slog) {
      SnapshotLogEntry le;
      WEIR_ASSIGN_OR_RETURN(le.timestamp_ms, r.Long(e, "timestamp-ms"));
      WEIR_ASSIGN_OR_RETURN(le.snapshot_id, r.Long(e, "snapshot-id"));
      m.snapshot_log.push_back(le);
    }
  }
  WEIR_ASSIGN_OR_RETURN(const ojson* mlog, r.Array(j, "metadata-log", false));
  if (mlog) {
    for (const auto& e : *mlog) {
      MetadataLogEntry le;
      WEIR_ASSIGN_OR_RETURN(le.timestamp_ms, r.Long(e, "timestamp-ms"));
      WEIR_ASSIGN_OR_RETURN(le.metadata_file, r.Str(e, "metadata-file"));
      m.metadata_log.push_back(std::move(le));
    }
  }
  return m;
}

// ---- ids ---------------------------------------------------------------------------------------

namespace {
std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }());
  return rng;
}
}  // namespace

std::string NewUuid() {
  uint64_t hi = Rng()(), lo = Rng()();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;                         // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

int64_t NewSnapshotId() {
  int64_t id = 0;
  while (id == 0) id = static_cast<int64_t>(Rng()() & 0x7FFFFFFFFFFFFFFFULL);
  return id;
}

}  // namespace weir::iceberg
