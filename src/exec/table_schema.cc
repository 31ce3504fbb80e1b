#include "exec/table_schema.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace weir {
namespace {

std::string ListText(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s + "]";
}

std::string WhatToDo(const DatasetConfig& config) {
  return "change it back, write to a new table (write.table), or rebuild table '" +
         config.write.table + "' with `weir run --restart`";
}

Store::RecordedSchema ToRecorded(const TableSchemaRecord& r) {
  nlohmann::json cols = nlohmann::json::array();
  for (const auto& c : r.columns)
    cols.push_back({{"name", c.name}, {"type", ColumnTypeName(c.type)}});
  return {cols.dump(), nlohmann::json(r.partition_by).dump()};
}

Result<TableSchemaRecord> FromRecorded(const std::string& dataset, const Store::RecordedSchema& s) {
  TableSchemaRecord r;
  auto bad = [&] {
    return Status::Internal("store: the recorded schema of dataset '" + dataset +
                            "' is unreadable: " + s.columns_json + " / " + s.partition_by_json);
  };
  auto cols = nlohmann::json::parse(s.columns_json, nullptr, false);
  auto parts = nlohmann::json::parse(s.partition_by_json, nullptr, false);
  if (!cols.is_array() || !parts.is_array()) return bad();
  for (const auto& c : cols) {
    if (!c.is_object() || !c.contains("name") || !c.contains("type") || !c["name"].is_string() ||
        !c["type"].is_string()) {
      return bad();
    }
    auto t = ParseColumnTypeName(c["type"].get<std::string>());
    if (!t) return bad();
    r.columns.push_back({c["name"].get<std::string>(), *t});
  }
  for (const auto& p : parts) {
    if (!p.is_string()) return bad();
    r.partition_by.push_back(p.get<std::string>());
  }
  return r;
}

bool SameSchema(const TableSchemaRecord& a, const TableSchemaRecord& b) {
  if (a.partition_by != b.partition_by || a.columns.size() != b.columns.size()) return false;
  for (size_t i = 0; i < a.columns.size(); ++i) {
    if (a.columns[i].name != b.columns[i].name || a.columns[i].type != b.columns[i].type)
      return false;
  }
  return true;
}

}  // namespace

TableSchemaRecord ConfigTableSchema(const DatasetConfig& config) {
  TableSchemaRecord r;
  for (const auto& c : config.write.columns) r.columns.push_back({c.name, c.type});
  r.partition_by = config.write.partition_by;
  return r;
}

bool IsCompatibleTypeChange(ColumnType from, ColumnType to) {
  if (from == to) return true;
  if (from == ColumnType::kInt64 && to == ColumnType::kDouble) return true;
  // JSON numbers and booleans are the old values' own JSON text; old strings are not JSON.
  if (to == ColumnType::kJson) {
    return from == ColumnType::kInt64 || from == ColumnType::kDouble || from == ColumnType::kBool;
  }
  return false;
}

Status CheckTableSchemaChange(const DatasetConfig& config, const TableSchemaRecord& committed,
                              const TableSchemaRecord& next) {
  if (committed.partition_by != next.partition_by) {
    return Status::Invalid("write.partition_by: changed from " + ListText(committed.partition_by) +
                           " to " + ListText(next.partition_by) + ", but table '" +
                           config.write.table + "' already has files laid out by " +
                           ListText(committed.partition_by) +
                           ", which one table cannot mix: " + WhatToDo(config));
  }
  for (const auto& col : next.columns) {
    auto old = std::find_if(committed.columns.begin(), committed.columns.end(),
                            [&](const ColumnSchema& c) { return c.name == col.name; });
    if (old == committed.columns.end() || old->type == col.type) continue;
    if (config.write.table_format == "iceberg") {
      // Iceberg's type promotions (int -> long, float -> double, decimal precision) do not
      // include any change weir's column types could make: long -> double is not one.
      return Status::Invalid(
          "write.columns." + col.name + ": type changed from " + ColumnTypeName(old->type) +
          " to " + ColumnTypeName(col.type) + ", but the Iceberg table '" + config.write.table +
          "' has files with " + col.name + " as " + ColumnTypeName(old->type) +
          ", and Iceberg allows no such type change in place (other engines read the column by "
          "its field id and its table type). Add the new values as a new column, or: " +
          WhatToDo(config));
    }
    if (IsCompatibleTypeChange(old->type, col.type)) continue;
    return Status::Invalid(
        "write.columns." + col.name + ": type changed from " + ColumnTypeName(old->type) + " to " +
        ColumnTypeName(col.type) + ", but table '" + config.write.table +
        "' already has files with " + col.name + " as " + ColumnTypeName(old->type) +
        ", which cannot be read as " + ColumnTypeName(col.type) +
        " (compatible changes: add a column, int64 -> double, int64/double/bool -> "
        "json): " +
        WhatToDo(config));
  }
  return Status::OK();
}

TableSchemaRecord MergeTableSchemas(const TableSchemaRecord& committed,
                                    const TableSchemaRecord& next) {
  TableSchemaRecord r = next;
  for (const auto& c : committed.columns) {
    bool kept = std::any_of(next.columns.begin(), next.columns.end(),
                            [&](const ColumnSchema& n) { return n.name == c.name; });
    if (!kept) r.columns.push_back(c);
  }
  return r;
}

Result<std::optional<TableSchemaRecord>> LoadTableSchema(const DatasetConfig& config,
                                                         Store& store) {
  WEIR_ASSIGN_OR_RETURN(auto rec, store.TableSchema(config.name));
  if (!rec) return std::optional<TableSchemaRecord>();
  WEIR_ASSIGN_OR_RETURN(auto r, FromRecorded(config.name, *rec));
  return std::optional<TableSchemaRecord>(std::move(r));
}

namespace {

// Whether the table has data files a reader can see or that are about to be published.
Result<bool> HasLiveDataFiles(const DatasetConfig& config, Store& store) {
  WEIR_ASSIGN_OR_RETURN(auto files, store.Files(config.name, "data", ""));
  return std::any_of(files.begin(), files.end(),
                     [](const CatalogFile& f) { return f.state != "superseded"; });
}

}  // namespace

Status CheckTableSchema(const DatasetConfig& config, Store& store) {
  WEIR_ASSIGN_OR_RETURN(auto committed, LoadTableSchema(config, store));
  if (!committed) return Status::OK();
  WEIR_ASSIGN_OR_RETURN(bool live, HasLiveDataFiles(config, store));
  if (!live) return Status::OK();
  return CheckTableSchemaChange(config, *committed, ConfigTableSchema(config));
}

Status EnsureTableSchema(const DatasetConfig& config, Store& store) {
  TableSchemaRecord next = ConfigTableSchema(config);
  WEIR_ASSIGN_OR_RETURN(auto committed, LoadTableSchema(config, store));
  WEIR_ASSIGN_OR_RETURN(bool live, HasLiveDataFiles(config, store));
  TableSchemaRecord record = next;
  if (committed && live) {
    WEIR_RETURN_IF_ERROR(CheckTableSchemaChange(config, *committed, next));
    record = MergeTableSchemas(*committed, next);
  }
  if (committed && SameSchema(*committed, record)) return Status::OK();
  return store.SetTableSchema(config.name, ToRecorded(record));
}

}  // namespace weir
