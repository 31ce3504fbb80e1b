#include "lake/iceberg_manifest.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "lake/avro_writer.h"

namespace weir::iceberg {
namespace {

using ojson = nlohmann::ordered_json;

// Avro names must match [A-Za-z_][A-Za-z0-9_]*; other characters become _x<hex> (as Iceberg's
// own writers do), so a partition named "event-type" is the Avro field "event_x2Dtype".
std::string AvroName(const std::string& name) {
  std::string out;
  for (size_t k = 0; k < name.size(); ++k) {
    const unsigned char c = static_cast<unsigned char>(name[k]);
    const bool ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    (k > 0 && c >= '0' && c <= '9');
    if (ok) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "_x%02X", c);
      out += buf;
    }
  }
  return out.empty() ? "_" : out;
}

ojson AvroType(Type t) {
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
      return ojson{{"type", "int"}, {"logicalType", "date"}};
    case Type::kTimestamp:
      return ojson{{"type", "long"}, {"logicalType", "timestamp-micros"}, {"adjust-to-utc", false}};
    case Type::kTimestamptz:
      return ojson{{"type", "long"}, {"logicalType", "timestamp-micros"}, {"adjust-to-utc", true}};
    case Type::kString:
      return "string";
    case Type::kBinary:
      return "bytes";
  }
  return "null";
}

ojson Field(const std::string& name, ojson type, int id) {
  return ojson{{"name", name}, {"type", std::move(type)}, {"field-id", id}};
}

ojson Optional(const std::string& name, ojson type, int id) {
  return ojson{{"name", name},
               {"type", ojson::array({"null", std::move(type)})},
               {"default", nullptr},
               {"field-id", id}};
}

// An Iceberg map<int, V> in Avro: an array of {key, value} records with logicalType "map".
ojson IntMap(const std::string& name, int id, int key_id, int value_id, const char* value_type) {
  ojson rec{{"type", "record"},
            {"name", "k" + std::to_string(key_id) + "_v" + std::to_string(value_id)},
            {"fields",
             ojson::array({Field("key", "int", key_id), Field("value", value_type, value_id)})}};
  return Optional(name, ojson{{"type", "array"}, {"items", std::move(rec)}, {"logicalType", "map"}},
                  id);
}

ojson List(const std::string& name, int id, int element_id, const char* element_type) {
  return Optional(
      name, ojson{{"type", "array"}, {"items", element_type}, {"element-id", element_id}}, id);
}

void EncodeLiteral(AvroEncoder& e, const Literal& v) {
  switch (v.type) {
    case Type::kBoolean:
      e.Boolean(v.i != 0);
      break;
    case Type::kInt:
    case Type::kDate:
      e.Int(static_cast<int32_t>(v.i));
      break;
    case Type::kLong:
    case Type::kTimestamp:
    case Type::kTimestamptz:
      e.Long(v.i);
      break;
    case Type::kFloat:
      e.Float(static_cast<float>(v.d));
      break;
    case Type::kDouble:
      e.Double(v.d);
      break;
    case Type::kString:
      e.String(v.s);
      break;
    case Type::kBinary:
      e.Bytes(v.s);
      break;
  }
}

Result<Literal> DecodeLiteral(AvroDecoder& d, Type t) {
  Literal l;
  l.type = t;
  switch (t) {
    case Type::kBoolean: {
      WEIR_ASSIGN_OR_RETURN(bool b, d.Boolean());
      l.i = b;
      break;
    }
    case Type::kInt:
    case Type::kDate: {
      WEIR_ASSIGN_OR_RETURN(l.i, d.Int());
      break;
    }
    case Type::kLong:
    case Type::kTimestamp:
    case Type::kTimestamptz: {
      WEIR_ASSIGN_OR_RETURN(l.i, d.Long());
      break;
    }
    case Type::kFloat: {
      WEIR_ASSIGN_OR_RETURN(float f, d.Float());
      l.d = f;
      break;
    }
    case Type::kDouble: {
      WEIR_ASSIGN_OR_RETURN(l.d, d.Double());
      break;
    }
    case Type::kString:
    case Type::kBinary: {
      WEIR_ASSIGN_OR_RETURN(l.s, d.Bytes());
      break;
    }
  }
  return l;
}

template <typename V, typename F>
void EncodeOptionalMap(AvroEncoder& e, const std::map<int, V>& m, F value) {
  if (m.empty()) {
    e.Union(0);
    return;
  }
  e.Union(1);
  e.ArrayStart(static_cast<int64_t>(m.size()));
  for (const auto& [k, v] : m) {
    e.Int(k);
    value(v);
  }
  e.ArrayEnd();
}

void EncodeOptionalLong(AvroEncoder& e, const std::optional<int64_t>& v) {
  if (v) {
    e.Union(1);
    e.Long(*v);
  } else {
    e.Union(0);
  }
}

// Reads a ["null", T] union's branch: false for null.
Result<bool> Present(AvroDecoder& d) {
  WEIR_ASSIGN_OR_RETURN(int64_t b, d.Union());
  if (b != 0 && b != 1)
    return Status::Corruption("avro: union branch " + std::to_string(b) + " out of range");
  return b == 1;
}

Result<std::optional<int64_t>> DecodeOptionalLong(AvroDecoder& d) {
  WEIR_ASSIGN_OR_RETURN(bool present, Present(d));
  if (!present) return std::optional<int64_t>();
  WEIR_ASSIGN_OR_RETURN(int64_t v, d.Long());
  return std::optional<int64_t>(v);
}

// Decodes an optional map<int, V>; `value` reads one V.
template <typename V, typename F>
Status DecodeOptionalMap(AvroDecoder& d, std::map<int, V>& out, F value) {
  WEIR_ASSIGN_OR_RETURN(bool present, Present(d));
  if (!present) return Status::OK();
  while (true) {
    WEIR_ASSIGN_OR_RETURN(int64_t n, d.BlockCount());
    if (n == 0) break;
    for (int64_t k = 0; k < n; ++k) {
      WEIR_ASSIGN_OR_RETURN(int32_t key, d.Int());
      WEIR_ASSIGN_OR_RETURN(V v, value());
      out[key] = std::move(v);
    }
  }
  return Status::OK();
}

template <typename T, typename F>
Status DecodeOptionalList(AvroDecoder& d, std::vector<T>& out, F value) {
  WEIR_ASSIGN_OR_RETURN(bool present, Present(d));
  if (!present) return Status::OK();
  while (true) {
    WEIR_ASSIGN_OR_RETURN(int64_t n, d.BlockCount());
    if (n == 0) break;
    for (int64_t k = 0; k < n; ++k) {
      WEIR_ASSIGN_OR_RETURN(T v, value());
      out.push_back(std::move(v));
    }
  }
  return Status::OK();
}

void EncodeEntry(AvroEncoder& e, const ManifestEntry& en) {
  e.Int(static_cast<int32_t>(en.status));
  EncodeOptionalLong(e, en.snapshot_id);
  EncodeOptionalLong(e, en.sequence_number);
  EncodeOptionalLong(e, en.file_sequence_number);
  const DataFile& f = en.data_file;
  e.Int(f.content);
  e.String(f.file_path);
  e.String(f.file_format);
  for (const auto& p : f.partition) {  // the partition record: one optional field per spec field
    if (p) {
      e.Union(1);
      EncodeLiteral(e, *p);
    } else {
      e.Union(0);
    }
  }
  e.Long(f.record_count);
  e.Long(f.file_size_in_bytes);
  auto put_long = [&](int64_t v) { e.Long(v); };
  auto put_bytes = [&](const std::string& v) { e.Bytes(v); };
  EncodeOptionalMap(e, f.column_sizes, put_long);
  EncodeOptionalMap(e, f.value_counts, put_long);
  EncodeOptionalMap(e, f.null_value_counts, put_long);
  EncodeOptionalMap(e, f.nan_value_counts, put_long);
  EncodeOptionalMap(e, f.lower_bounds, put_bytes);
  EncodeOptionalMap(e, f.upper_bounds, put_bytes);
  e.Union(0);  // key_metadata: weir does not encrypt
  if (f.split_offsets.empty()) {
    e.Union(0);
  } else {
    e.Union(1);
    e.ArrayStart(static_cast<int64_t>(f.split_offsets.size()));
    for (int64_t o : f.split_offsets) e.Long(o);
    e.ArrayEnd();
  }
  e.Union(0);  // equality_ids: only for equality delete files
  if (f.sort_order_id) {
    e.Union(1);
    e.Int(*f.sort_order_id);
  } else {
    e.Union(0);
  }
}

Result<ManifestEntry> DecodeEntry(AvroDecoder& d, const std::vector<Type>& ptypes) {
  ManifestEntry en;
  WEIR_ASSIGN_OR_RETURN(int32_t status, d.Int());
  if (status < 0 || status > 2)
    return Status::Corruption("manifest entry status " + std::to_string(status));
  en.status = static_cast<EntryStatus>(status);
  WEIR_ASSIGN_OR_RETURN(en.snapshot_id, DecodeOptionalLong(d));
  WEIR_ASSIGN_OR_RETURN(en.sequence_number, DecodeOptionalLong(d));
  WEIR_ASSIGN_OR_RETURN(en.file_sequence_number, DecodeOptionalLong(d));
  DataFile& f = en.data_file;
  WEIR_ASSIGN_OR_RETURN(f.content, d.Int());
  WEIR_ASSIGN_OR_RETURN(f.file_path, d.String());
  WEIR_ASSIGN_OR_RETURN(f.file_format, d.String());
  for (Type t : ptypes) {
    WEIR_ASSIGN_OR_RETURN(bool present, Present(d));
    if (!present) {
      f.partition.emplace_back();
      continue;
    }
    WEIR_ASSIGN_OR_RETURN(Literal l, DecodeLiteral(d, t));
    f.partition.emplace_back(std::move(l));
  }
  WEIR_ASSIGN_OR_RETURN(f.record_count, d.Long());
  WEIR_ASSIGN_OR_RETURN(f.file_size_in_bytes, d.Long());
  auto get_long = [&] { return d.Long(); };
  auto get_bytes = [&] { return d.Bytes(); };
  WEIR_RETURN_IF_ERROR(DecodeOptionalMap(d, f.column_sizes, get_long));
  WEIR_RETURN_IF_ERROR(DecodeOptionalMap(d, f.value_counts, get_long));
  WEIR_RETURN_IF_ERROR(DecodeOptionalMap(d, f.null_value_counts, get_long));
  WEIR_RETURN_IF_ERROR(DecodeOptionalMap(d, f.nan_value_counts, get_long));
  WEIR_RETURN_IF_ERROR(DecodeOptionalMap(d, f.lower_bounds, get_bytes));
  WEIR_RETURN_IF_ERROR(DecodeOptionalMap(d, f.upper_bounds, get_bytes));
  WEIR_ASSIGN_OR_RETURN(bool has_key, Present(d));
  if (has_key) WEIR_RETURN_IF_ERROR(d.Bytes().status());
  WEIR_RETURN_IF_ERROR(DecodeOptionalList(d, f.split_offsets, get_long));
  std::vector<int32_t> equality_ids;
  WEIR_RETURN_IF_ERROR(DecodeOptionalList(d, equality_ids, [&] { return d.Int(); }));
  WEIR_ASSIGN_OR_RETURN(bool has_order, Present(d));
  if (has_order) {
    WEIR_ASSIGN_OR_RETURN(int32_t o, d.Int());
    f.sort_order_id = o;
  }
  return en;
}

// Decodes every record of a container whose schema must equal `schema`.
template <typename T, typename F>
Result<std::vector<T>> DecodeAll(std::string_view file, const std::string& schema,
                                 const std::string& what, const char* kind, F decode) {
  WEIR_ASSIGN_OR_RETURN(AvroContainerContents c, ReadAvroContainer(file, what));
  if (c.metadata["avro.schema"] != schema) {
    return Status::Invalid(
        what + ": this " + kind +
        "'s Avro schema is not the one weir writes (written by another engine, or "
        "for a different partition spec); weir only reads back its own " +
        kind + "s");
  }
  std::vector<T> out;
  for (const auto& b : c.blocks) {
    AvroDecoder d(b.data);
    for (int64_t k = 0; k < b.count; ++k) {
      auto v = decode(d);
      if (!v.ok()) {
        return v.status().WithContext(what + ": record " + std::to_string(out.size()));
      }
      out.push_back(std::move(*v));
    }
    if (!d.AtEnd()) {
      return Status::Corruption(what + ": an Avro block holds bytes after its " +
                                std::to_string(b.count) +
                                " records (wrong schema or damaged file)");
    }
  }
  return out;
}

}  // namespace

std::string ManifestAvroSchema(const PartitionSpec& spec, const std::vector<Type>& ptypes) {
  ojson partition_fields = ojson::array();
  for (size_t k = 0; k < spec.fields.size() && k < ptypes.size(); ++k) {
    partition_fields.push_back(
        Optional(AvroName(spec.fields[k].name), AvroType(ptypes[k]), spec.fields[k].field_id));
  }
  ojson partition{{"type", "record"}, {"name", "r102"}, {"fields", std::move(partition_fields)}};
  ojson data_file_fields = ojson::array({
      Field("content", "int", 134),
      Field("file_path", "string", 100),
      Field("file_format", "string", 101),
      Field("partition", std::move(partition), 102),
      Field("record_count", "long", 103),
      Field("file_size_in_bytes", "long", 104),
      IntMap("column_sizes", 108, 117, 118, "long"),
      IntMap("value_counts", 109, 119, 120, "long"),
      IntMap("null_value_counts", 110, 121, 122, "long"),
      IntMap("nan_value_counts", 137, 138, 139, "long"),
      IntMap("lower_bounds", 125, 126, 127, "bytes"),
      IntMap("upper_bounds", 128, 129, 130, "bytes"),
      Optional("key_metadata", "bytes", 131),
      List("split_offsets", 132, 133, "long"),
      List("equality_ids", 135, 136, "int"),
      Optional("sort_order_id", "int", 140),
  });
  ojson data_file{{"type", "record"}, {"name", "r2"}, {"fields", std::move(data_file_fields)}};
  ojson entry{
      {"type", "record"},
      {"name", "manifest_entry"},
      {"fields", ojson::array({Field("status", "int", 0), Optional("snapshot_id", "long", 1),
                               Optional("sequence_number", "long", 3),
                               Optional("file_sequence_number", "long", 4),
                               Field("data_file", std::move(data_file), 2)})}};
  return entry.dump();
}

std::string ManifestListAvroSchema() {
  ojson summary{{"type", "record"},
                {"name", "r508"},
                {"fields", ojson::array({Field("contains_null", "boolean", 509),
                                         Optional("contains_nan", "boolean", 518),
                                         Optional("lower_bound", "bytes", 510),
                                         Optional("upper_bound", "bytes", 511)})}};
  ojson fields = ojson::array({
      Field("manifest_path", "string", 500),
      Field("manifest_length", "long", 501),
      Field("partition_spec_id", "int", 502),
      Field("content", "int", 517),
      Field("sequence_number", "long", 515),
      Field("min_sequence_number", "long", 516),
      Field("added_snapshot_id", "long", 503),
      Field("added_files_count", "int", 504),
      Field("existing_files_count", "int", 505),
      Field("deleted_files_count", "int", 506),
      Field("added_rows_count", "long", 512),
      Field("existing_rows_count", "long", 513),
      Field("deleted_rows_count", "long", 514),
      Optional("partitions",
               ojson{{"type", "array"}, {"items", std::move(summary)}, {"element-id", 508}}, 507),
      Optional("key_metadata", "bytes", 519),
  });
  return ojson{{"type", "record"}, {"name", "manifest_file"}, {"fields", std::move(fields)}}.dump();
}

Result<std::string> WriteManifest(const Schema& schema, const PartitionSpec& spec,
                                  const std::vector<ManifestEntry>& entries) {
  WEIR_ASSIGN_OR_RETURN(std::vector<Type> ptypes, PartitionTypes(spec, schema));
  AvroContainerWriter w(ManifestAvroSchema(spec, ptypes));
  WEIR_RETURN_IF_ERROR(w.SetMetadata("schema", SchemaToJson(schema)));
  WEIR_RETURN_IF_ERROR(w.SetMetadata("schema-id", std::to_string(schema.schema_id)));
  WEIR_RETURN_IF_ERROR(w.SetMetadata("partition-spec", PartitionFieldsToJson(spec)));
  WEIR_RETURN_IF_ERROR(w.SetMetadata("partition-spec-id", std::to_string(spec.spec_id)));
  WEIR_RETURN_IF_ERROR(w.SetMetadata("format-version", std::to_string(kFormatVersion)));
  WEIR_RETURN_IF_ERROR(w.SetMetadata("content", "data"));
  AvroEncoder e;
  for (const auto& en : entries) {
    const DataFile& f = en.data_file;
    if (f.partition.size() != ptypes.size()) {
      return Status::Invalid(
          "data file " + f.file_path + " has " + std::to_string(f.partition.size()) +
          " partition values; the partition spec has " + std::to_string(ptypes.size()) + " fields");
    }
    for (size_t k = 0; k < ptypes.size(); ++k) {
      if (f.partition[k] && f.partition[k]->type != ptypes[k]) {
        return Status::Invalid("data file " + f.file_path + ": partition value of '" +
                               spec.fields[k].name + "' is a " + TypeName(f.partition[k]->type) +
                               ", the spec makes it a " + TypeName(ptypes[k]));
      }
    }
    e.Clear();
    EncodeEntry(e, en);
    WEIR_RETURN_IF_ERROR(w.Append(e.data()));
  }
  return w.Finish();
}

Result<ManifestFile> SummarizeManifest(const PartitionSpec& spec, const std::vector<Type>& ptypes,
                                       const std::vector<ManifestEntry>& entries, std::string path,
                                       int64_t length, int64_t snapshot_id,
                                       int64_t sequence_number) {
  ManifestFile mf;
  mf.manifest_path = std::move(path);
  mf.manifest_length = length;
  mf.partition_spec_id = spec.spec_id;
  mf.content = 0;
  mf.sequence_number = sequence_number;
  mf.added_snapshot_id = snapshot_id;
  int64_t min_seq = sequence_number;
  std::vector<std::optional<Literal>> lo(ptypes.size()), hi(ptypes.size());
  mf.partitions.resize(ptypes.size());
  for (size_t k = 0; k < ptypes.size(); ++k) {
    if (ptypes[k] == Type::kFloat || ptypes[k] == Type::kDouble)
      mf.partitions[k].contains_nan = false;
  }
  for (const auto& en : entries) {
    const DataFile& f = en.data_file;
    switch (en.status) {
      case EntryStatus::kAdded:
        ++mf.added_files_count;
        mf.added_rows_count += f.record_count;
        break;
      case EntryStatus::kExisting:
        ++mf.existing_files_count;
        mf.existing_rows_count += f.record_count;
        break;
      case EntryStatus::kDeleted:
        ++mf.deleted_files_count;
        mf.deleted_rows_count += f.record_count;
        break;
    }
    if (en.status != EntryStatus::kDeleted)
      min_seq = std::min(min_seq, en.sequence_number.value_or(sequence_number));
    if (f.partition.size() != ptypes.size()) {
      return Status::Invalid("data file " + f.file_path +
                             " has the wrong number of partition values");
    }
    for (size_t k = 0; k < ptypes.size(); ++k) {
      const auto& v = f.partition[k];
      if (!v) {
        mf.partitions[k].contains_null = true;
        continue;
      }
      if ((v->type == Type::kFloat || v->type == Type::kDouble) && std::isnan(v->d)) {
        mf.partitions[k].contains_nan = true;
        continue;
      }
      if (!lo[k] || v->Compare(*lo[k]) < 0) lo[k] = v;
      if (!hi[k] || v->Compare(*hi[k]) > 0) hi[k] = v;
    }
  }
  for (size_t k = 0; k < ptypes.size(); ++k) {
    if (lo[k]) mf.partitions[k].lower_bound = lo[k]->ToBinary();
    if (hi[k]) mf.partitions[k].upper_bound = hi[k]->ToBinary();
  }
  mf.min_sequence_number = min_seq;
  return mf;
}

Result<std::string> WriteManifestList(const std::vector<ManifestFile>& manifests,
                                      int64_t snapshot_id,
                                      std::optional<int64_t> parent_snapshot_id,
                                      int64_t sequence_number) {
  AvroContainerWriter w(ManifestListAvroSchema());
  WEIR_RETURN_IF_ERROR(w.SetMetadata("snapshot-id", std::to_string(snapshot_id)));
  WEIR_RETURN_IF_ERROR(w.SetMetadata(
      "parent-snapshot-id", parent_snapshot_id ? std::to_string(*parent_snapshot_id) : "null"));
  WEIR_RETURN_IF_ERROR(w.SetMetadata("sequence-number", std::to_string(sequence_number)));
  WEIR_RETURN_IF_ERROR(w.SetMetadata("format-version", std::to_string(kFormatVersion)));
  AvroEncoder e;
  for (const auto& m : manifests) {
    e.Clear();
    e.String(m.manifest_path);
    e.Long(m.manifest_length);
    e.Int(m.partition_spec_id);
    e.Int(m.content);
    e.Long(m.sequence_number);
    e.Long(m.min_sequence_number);
    e.Long(m.added_snapshot_id);
    e.Int(m.added_files_count);
    e.Int(m.existing_files_count);
    e.Int(m.deleted_files_count);
    e.Long(m.added_rows_count);
    e.Long(m.existing_rows_count);
    e.Long(m.deleted_rows_count);
    e.Union(1);  // partitions: always written (empty for an unpartitioned spec)
    e.ArrayStart(static_cast<int64_t>(m.partitions.size()));
    for (const auto& s : m.partitions) {
      e.Boolean(s.contains_null);
      if (s.contains_nan) {
        e.Union(1);
        e.Boolean(*s.contains_nan);
      } else {
        e.Union(0);
      }
      for (const auto* b : {&s.lower_bound, &s.upper_bound}) {
        if (*b) {
          e.Union(1);
          e.Bytes(**b);
        } else {
          e.Union(0);
        }
      }
    }
    e.ArrayEnd();
    e.Union(0);  // key_metadata
    WEIR_RETURN_IF_ERROR(w.Append(e.data()));
  }
  return w.Finish();
}

Result<std::vector<ManifestFile>> ReadManifestList(std::string_view file, const std::string& what) {
  return DecodeAll<ManifestFile>(
      file, ManifestListAvroSchema(), what, "manifest list",
      [](AvroDecoder& d) -> Result<ManifestFile> {
        ManifestFile m;
        WEIR_ASSIGN_OR_RETURN(m.manifest_path, d.String());
        WEIR_ASSIGN_OR_RETURN(m.manifest_length, d.Long());
        WEIR_ASSIGN_OR_RETURN(m.partition_spec_id, d.Int());
        WEIR_ASSIGN_OR_RETURN(m.content, d.Int());
        WEIR_ASSIGN_OR_RETURN(m.sequence_number, d.Long());
        WEIR_ASSIGN_OR_RETURN(m.min_sequence_number, d.Long());
        WEIR_ASSIGN_OR_RETURN(m.added_snapshot_id, d.Long());
        WEIR_ASSIGN_OR_RETURN(m.added_files_count, d.Int());
        WEIR_ASSIGN_OR_RETURN(m.existing_files_count, d.Int());
        WEIR_ASSIGN_OR_RETURN(m.deleted_files_count, d.Int());
        WEIR_ASSIGN_OR_RETURN(m.added_rows_count, d.Long());
        WEIR_ASSIGN_OR_RETURN(m.existing_rows_count, d.Long());
        WEIR_ASSIGN_OR_RETURN(m.deleted_rows_count, d.Long());
        WEIR_RETURN_IF_ERROR(DecodeOptionalList(d, m.partitions, [&]() -> Result<FieldSummary> {
          FieldSummary s;
          WEIR_ASSIGN_OR_RETURN(s.contains_null, d.Boolean());
          WEIR_ASSIGN_OR_RETURN(bool has_nan, Present(d));
          if (has_nan) {
            WEIR_ASSIGN_OR_RETURN(bool nan, d.Boolean());
            s.contains_nan = nan;
          }
          for (auto* b : {&s.lower_bound, &s.upper_bound}) {
            WEIR_ASSIGN_OR_RETURN(bool present, Present(d));
            if (present) {
              WEIR_ASSIGN_OR_RETURN(std::string v, d.Bytes());
              *b = std::move(v);
            }
          }
          return s;
        }));
        WEIR_ASSIGN_OR_RETURN(bool has_key, Present(d));
        if (has_key) WEIR_RETURN_IF_ERROR(d.Bytes().status());
        return m;
      });
}

Result<std::vector<ManifestEntry>> ReadManifest(std::string_view file,
                                                const std::vector<Type>& ptypes,
                                                const ManifestFile& from, const std::string& what) {
  // An Avro file has no trailer, so a file cut at a block boundary would decode as a shorter
  // valid one; the manifest list records each manifest's length, which catches that.
  if (from.manifest_length > 0 && static_cast<int64_t>(file.size()) != from.manifest_length) {
    return Status::Corruption(what + ": manifest is " + std::to_string(file.size()) +
                              " bytes, its manifest list says " +
                              std::to_string(from.manifest_length));
  }
  WEIR_ASSIGN_OR_RETURN(AvroContainerContents c, ReadAvroContainer(file, what));
  // The schema depends on the spec's field names too; rebuild it from the file's own
  // partition-spec metadata so the comparison is exact.
  PartitionSpec spec;
  {
    const std::string fields = c.metadata["partition-spec"];
    auto j = ojson::parse(fields, nullptr, false);
    if (j.is_discarded() || !j.is_array()) {
      return Status::Invalid(what + ": manifest metadata 'partition-spec' is not a JSON list");
    }
    for (const auto& f : j) {
      if (!f.is_object() || !f.contains("name") || !f["name"].is_string() ||
          !f.contains("field-id") || !f["field-id"].is_number_integer()) {
        return Status::Invalid(what + ": manifest metadata 'partition-spec' has a malformed field");
      }
      PartitionField pf;
      pf.name = f["name"].get<std::string>();
      pf.field_id = f["field-id"].get<int>();
      spec.fields.push_back(pf);
    }
  }
  if (spec.fields.size() != ptypes.size()) {
    return Status::Invalid(what + ": manifest has " + std::to_string(spec.fields.size()) +
                           " partition fields, its table spec " + std::to_string(ptypes.size()));
  }
  WEIR_ASSIGN_OR_RETURN(auto entries, DecodeAll<ManifestEntry>(
                                          file, ManifestAvroSchema(spec, ptypes), what, "manifest",
                                          [&](AvroDecoder& d) { return DecodeEntry(d, ptypes); }));
  for (auto& en : entries) {
    // Inheritance (spec "Sequence Number Inheritance"): only ADDED entries may leave them null.
    if (en.status == EntryStatus::kAdded) {
      if (!en.snapshot_id) en.snapshot_id = from.added_snapshot_id;
      if (!en.sequence_number) en.sequence_number = from.sequence_number;
      if (!en.file_sequence_number) en.file_sequence_number = from.sequence_number;
    } else if (!en.snapshot_id || !en.sequence_number || !en.file_sequence_number) {
      return Status::Corruption(what + ": an EXISTING or DELETED entry of " +
                                en.data_file.file_path +
                                " lacks its snapshot id or sequence numbers");
    }
  }
  return entries;
}

}  // namespace weir::iceberg
