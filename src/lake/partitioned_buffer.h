// Rows of one task waiting to be written to the lake, grouped by Hive partition.
//
// Append() takes projected batches (full schema, partition columns included) and gathers each
// row into the buffer of its partition; for Hive tables the partition columns are dropped from
// the buffered data because the layout carries them in the path (col=value/...), as Hive, Spark
// and DuckDB do; Iceberg tables keep them (keep_partition_columns).
//
// Memory reuse: Clear() empties the partitions that received rows since the previous Clear() but
// keeps them and their buffers' capacity, and drops only partitions that stayed empty. The next
// round of a worker usually fills the same partitions, and refilling warm memory avoids what
// profiles showed dominating a partitioned write: growing buffers from empty again (realloc
// copies) into fresh pages (page faults, kernel page zeroing). What is kept is bounded by the
// capacity the previous round already held. MemoryBytes() therefore reports the capacity the
// buffered rows would need in freshly grown buffers (what it reported before reuse existed), not
// the capacity kept from earlier rounds, so roll-by-size cuts files where it always did.
// Ownership: owns all buffered rows. Thread-safety: none; one task owns one buffer.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/column.h"
#include "weir/status.h"

namespace weir {

// Hive path escaping of one partition value: the characters Hive escapes become %XX, an empty
// value and NULL become __HIVE_DEFAULT_PARTITION__.
std::string HiveEscape(std::string_view value);
inline constexpr std::string_view kHiveNull = "__HIVE_DEFAULT_PARTITION__";
// Text of row `row` of `col` as it appears in a partition path (dates as YYYY-MM-DD).
std::string PartitionValueText(const ColumnBuffer& col, size_t row);

class PartitionedBuffer {
 public:
  struct Partition {
    std::string path;  // "event_type=click/dt=2024-06-01", or "" when unpartitioned
    ColumnBatch rows;
    // Identifies the partition: the path, plus (when partition columns are kept) which values
    // are NULL, since NULL and "" share a Hive folder name. Two partitions may share a path.
    std::string key;
    // MemoryBytes()'s share of this partition, kept per partition so that an Append() recounts
    // only the partitions it touched (recounting every partition per batch showed in profiles
    // of tables with thousands of partitions), and the batch that last recounted it.
    size_t memory = 0;
    uint64_t counted_in = 0;
  };

  // `partition_by` must name columns of `schema` (validated by the config loader).
  // `keep_partition_columns`: files hold the partition columns too (Iceberg data files carry
  // every column of the table, as Spark's and Iceberg's own writers do).
  PartitionedBuffer(std::vector<ColumnSchema> schema, const std::vector<std::string>& partition_by,
                    bool keep_partition_columns = false);

  // Columns written into files: the schema minus the partition columns (all of it when they
  // are kept).
  const std::vector<ColumnSchema>& file_schema() const { return file_schema_; }
  const std::vector<ColumnSchema>& schema() const { return schema_; }
  const std::vector<std::string>& partition_by() const { return partition_by_; }

  void Append(const ColumnBatch& batch);
  size_t rows() const { return rows_; }
  // Partitions holding at least one row.
  size_t partition_count() const;
  // Approximate heap bytes of the buffered rows, for roll-by-size and memory accounting: per
  // buffer, the capacity growing it from empty would have reached (see the class comment).
  size_t MemoryBytes() const;
  // Partitions holding at least one row, ordered by key (path first), so files are written in
  // a deterministic order.
  std::vector<const Partition*> Partitions() const;
  // Moves every row of `other` (same schema and partitioning) into this buffer: one partition
  // of the two becomes one partition here, so one file. `other` is left empty (Clear()). The
  // rows of partitions both hold are copied on up to `threads` threads.
  void MergeFrom(PartitionedBuffer& other, int threads = 1);
  // Removes every row; keeps the capacity of the partitions used since the previous Clear().
  void Clear();

 private:
  std::vector<ColumnSchema> schema_;
  std::vector<ColumnSchema> file_schema_;
  std::vector<std::string> partition_by_;
  bool keep_partition_columns_ = false;
  std::vector<size_t> part_cols_;  // indexes in schema_ of the partition columns
  std::vector<size_t> data_cols_;  // indexes in schema_ of the file columns
  std::unordered_map<std::string, std::unique_ptr<Partition>> parts_;
  size_t rows_ = 0;
  size_t memory_ = 0;
  uint64_t appends_ = 0;  // Append() calls so far, to mark the partitions a batch touched
  // Sets memory_ (and every partition's share) from scratch.
  void RecountMemory();
  // Append() scratch, kept to spare allocations: each row's partition, and a memo from the raw
  // bytes of partition values (not their path text) to their partition, so a path is built and
  // looked up once per distinct value until Clear() rather than once per row.
  static constexpr size_t kMemoSize = 64;
  std::vector<Partition*> row_part_;
  std::vector<std::pair<std::string, Partition*>> memo_;
  std::string raw_;
};

}  // namespace weir
