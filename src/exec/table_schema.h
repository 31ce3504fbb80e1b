// The committed schema of a dataset's lake table, and which config changes keep it queryable.
//
// Every published data file of a table was written with the columns the config had when its run
// started. `weir query` reads all of them as one table, so a change of the YAML must be one that
// old files can still be read under: the store records the schema the files were written with
// (Store::TableSchema, table `table_schemas`), and every run and redrive compares the current
// config against it before writing anything (EnsureTableSchema, under the dataset lock).
//
// Compatible (accepted, recorded, old files stay readable through explicit casts in the query
// view, exec/query.cc):
//   - adding a column (older files read it as NULL);
//   - removing a column (it stays recorded with its type, so it cannot come back as another type);
//   - widening a type: int64 -> double; int64, double or bool -> json (old values become JSON
//     numbers or booleans).
// Iceberg tables (write.table_format: iceberg) accept no type change at all: Iceberg's type
// promotions include none of the above (exec/iceberg_table.h checks the same on the metadata).
// Incompatible (refused with the column, the old and new type and what to do): any other type
// change (string -> int64, double -> int64, string -> json, json -> string, ...), and any change of
// write.partition_by (added, removed, reordered partition columns).
//
// Stores made before schemas were recorded have published files but no record: the first run or
// redrive records the current config's schema as the committed one (nothing older is known).
//
// Thread-safety: free functions; EnsureTableSchema must be called while holding the dataset lock.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/column.h"
#include "core/config.h"
#include "exec/store.h"
#include "weir/status.h"

namespace weir {

struct TableSchemaRecord {
  std::vector<ColumnSchema> columns;      // every column ever written, with its widest type
  std::vector<std::string> partition_by;  // partition columns, in path order
};

// The schema the current config writes (write.columns and write.partition_by).
TableSchemaRecord ConfigTableSchema(const DatasetConfig& config);

// Whether a column written as `from` can be read as `to` (equal types included).
bool IsCompatibleTypeChange(ColumnType from, ColumnType to);

// Compares `next` against the committed `committed` schema: OK when compatible, otherwise an
// Invalid status naming the first offending column (or the partition change) and what to do.
Status CheckTableSchemaChange(const DatasetConfig& config, const TableSchemaRecord& committed,
                              const TableSchemaRecord& next);

// The schema to record after a compatible change: `next`'s columns in its order, then the columns
// of `committed` that `next` no longer has.
TableSchemaRecord MergeTableSchemas(const TableSchemaRecord& committed,
                                    const TableSchemaRecord& next);

// The recorded schema of the dataset, if any.
Result<std::optional<TableSchemaRecord>> LoadTableSchema(const DatasetConfig& config, Store& store);

// Checks the current config against the committed schema without writing (`weir validate`).
Status CheckTableSchema(const DatasetConfig& config, Store& store);

// At the start of a run or redrive, under the dataset lock: refuses an incompatible change;
// otherwise records the (merged) schema when it is absent or changed. A dataset with no live data
// files (new, or after --restart) may take any schema.
Status EnsureTableSchema(const DatasetConfig& config, Store& store);

}  // namespace weir
