// iceberg_datafile.h: the Iceberg `data_file` description (partition tuple and metrics) of a data
// file weir wrote, computed from the column buffers the file was written from.
//
// Metrics (spec "Field-level Metrics"), keyed by the schema's field ids: value_counts (rows, nulls
// included), null_value_counts, nan_value_counts (double columns), lower/upper bounds in the
// Appendix D binary form: long, timestamptz (MICROseconds: weir's milliseconds * 1000), date,
// boolean, double (NaN excluded; -0.0 orders before +0.0), string/json up to kMaxStringBound bytes
// whole; a longer string's lower bound is its prefix cut at a UTF-8 character boundary and its
// upper bound is omitted (a truncated upper bound would need an incremented prefix; omitting it
// is valid and only costs pruning). column_sizes and split_offsets are left to the caller (the Parquet
// writer reports them: ParquetFileLayout).
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <vector>

#include "core/column.h"
#include "lake/iceberg.h"

namespace weir::iceberg {

inline constexpr size_t kMaxStringBound = 64;

// Describes one data file holding rows [0, size) of `data` (columns named as in `columns`, each
// of which must be a field of `schema` with the type TypeForColumn gives). Every row must map to
// the same partition tuple under `spec` (a file holds one partition); Invalid otherwise, naming
// the column and the row.
Result<DataFile> DescribeDataFile(const Schema& schema, const PartitionSpec& spec,
                                  const std::vector<ColumnSchema>& columns,
                                  const std::vector<const ColumnBuffer*>& data,
                                  std::string file_path, int64_t file_size_in_bytes);

// The value of row `row` of a column as an Iceberg literal (null -> nullopt).
OptionalLiteral ColumnValue(const ColumnBuffer& column, size_t row);

}  // namespace weir::iceberg
