// parquet_writer.h: weir's native Parquet writer for its flat column types.
//
// Why it exists: a partitioned lake write produces thousands of small files per run, and each
// DuckDB `COPY ... TO 'x.parquet'` costs ~0.8 ms whatever its size (see DESIGN.md, "Measured
// facts"). This writer encodes a whole file in memory in tens of microseconds for small inputs
// and at high throughput for large ones, and DuckDB (the lake's reader) reads every file back.
//
// What it writes (from the Apache Parquet format specification):
//   - one flat schema, every column OPTIONAL (max definition level 1, no repetition levels);
//   - DataPage v1 pages: definition levels RLE/bit-packed hybrid with a 4-byte length prefix, then
//     the non-null values (PLAIN, or RLE_DICTIONARY indices for string/json columns whose
//     distinct values are few relative to the rows; the dictionary page is PLAIN);
//   - type mapping: string -> BYTE_ARRAY/STRING(UTF8); json -> BYTE_ARRAY/JSON;
//     int64 -> INT64; double -> DOUBLE; bool -> BOOLEAN; timestamp_ms -> INT64/TIMESTAMP(UTC,
//     MILLIS); date -> INT32/DATE;
//   - zstd or uncompressed pages (with zstd, column chunks under 1 KiB of raw values stay
//     uncompressed: zstd's fixed per-call cost would dominate small files for little gain);
//   - column-chunk statistics (null_count; min/max for int64, timestamp, date, double without
//     NaN, and strings up to 64 bytes) with TYPE_ORDER column orders, so engines can prune
//     row groups;
//   - a zero-row input gives a valid file with zero row groups;
//   - optionally, a field_id per column (for Iceberg tables).
//
// Ownership: the functions borrow the schema and the column buffers for the duration of the call.
// Thread-safety: both functions are reentrant; concurrent calls from different threads are safe
// (each thread keeps its own cached zstd context).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/column.h"
#include "weir/status.h"

namespace weir {

struct ParquetWriteOptions {
  enum class Compression { kNone, kZstd };
  Compression compression = Compression::kZstd;
  int zstd_level = 1;
  size_t row_group_rows = 1 << 20;  // rows per row group; a file may have several
  size_t page_values = 64 * 1024;   // values per data page (roughly; string pages also stop
                                    // near 1 MiB of value bytes)
  // Parquet field_id of each column (SchemaElement.field_id), in schema order; empty (the
  // default) writes none. Iceberg tables need them: engines map Parquet columns to table columns
  // by these ids (iceberg::Schema field ids), not by name.
  std::vector<int32_t> field_ids;
  // Timestamp columns hold MICROseconds (the caller scaled them) and are declared
  // TIMESTAMP(MICROS): Iceberg's timestamptz is microseconds in data files. Default: MILLIS.
  bool timestamp_micros = false;
};

// Where the bytes of a written file are, for table metadata (Iceberg's column_sizes and
// split_offsets): compressed bytes of each column over all row groups (schema order), and the
// offset of each row group's first page.
struct ParquetFileLayout {
  std::vector<int64_t> column_bytes;
  std::vector<int64_t> row_group_offsets;
};

// Writes rows [0, columns[0]->size()) of the given columns as one Parquet file at `path`
// (created/truncated; the caller handles staging and atomic publication; no fsync here).
// All columns must be equally long and match the schema's types. Returns the file size in bytes.
// `layout`, when given, receives where the bytes went.
Result<uint64_t> WriteParquetFile(const std::string& path, const std::vector<ColumnSchema>& schema,
                                  const std::vector<const ColumnBuffer*>& columns,
                                  const ParquetWriteOptions& options,
                                  ParquetFileLayout* layout = nullptr);

// Same, but into memory (the caller may write it to S3 later, and tests use it).
Result<std::string> EncodeParquet(const std::vector<ColumnSchema>& schema,
                                  const std::vector<const ColumnBuffer*>& columns,
                                  const ParquetWriteOptions& options,
                                  ParquetFileLayout* layout = nullptr);

}  // namespace weir
