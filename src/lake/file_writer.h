// Turns buffered partitions into lake files under a staging folder. Publication (rename into the
// table folder) is the commit protocol's job (exec/committer), never this one's: a file written
// here is invisible to every reader of the table until its commit is durable.
//
// Thread-safety: stateless functions; different tasks call them concurrently on their own data.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lake/partitioned_buffer.h"
#include "weir/status.h"

namespace weir {

struct StagedFile {
  std::string partition;     // "event_type=click/dt=2024-06-01" or ""
  std::string rel_path;      // final path relative to the table folder
  std::string staging_path;  // absolute path where it was written
  uint64_t rows = 0;
  uint64_t bytes = 0;
  const ColumnBatch* data = nullptr;  // the rows written (the buffer's; valid until it changes)
  std::shared_ptr<ColumnBatch> owned;  // `data`'s rows when a partition was rolled into several files
  // Parquet: compressed bytes per column of file_schema() and row-group offsets (Iceberg's
  // column_sizes and split_offsets); empty for JSON lines.
  std::vector<int64_t> column_bytes;
  std::vector<int64_t> split_offsets;
};

struct LakeFileOptions {
  std::string format = "parquet";     // parquet | jsonl
  std::string compression = "zstd";   // zstd | none (parquet)
  std::string staging_dir;            // absolute; created if missing
  std::string file_stem;              // e.g. "part-00003-000001"; the extension is added
  std::string rel_prefix;             // before the partition path in rel_path ("data/": Iceberg)
  std::vector<int32_t> field_ids;     // Parquet field ids of the buffer's file_schema() (Iceberg)
  // Parquet timestamps as TIMESTAMP(MICROS) (values * 1000), as Iceberg's timestamptz requires;
  // otherwise TIMESTAMP(MILLIS), weir's own unit.
  bool timestamp_micros = false;
  // write.target_file_mb: a partition whose file is expected to be larger is written as several
  // files of about this size (0: one file per partition, whatever its size).
  uint64_t target_file_bytes = 0;
  // Files are encoded and written on this many threads (a commit holds every worker's rows).
  int threads = 1;
  // The folder rel_path is relative to (the table), or empty. When set, the writing threads
  // also create each file's destination folder there, so the publication after the commit (a
  // rename per file, on one thread) does not create thousands of partition folders alone. Best
  // effort: a folder that cannot be created now is created by the rename.
  std::string publish_dir;
  // Called on the writing thread right after each file is written, with the file's index in the
  // result, while its rows are still in cache: Iceberg tables compute each file's metrics here,
  // on every writing thread, instead of for all files on one thread afterwards. May be called
  // concurrently; an error fails the write like an I/O error.
  std::function<Status(size_t index, const StagedFile& file)> on_written;
};

// Encodes every partition of `buf` into one file each in options.staging_dir (several when it
// is larger than options.target_file_bytes), on options.threads threads. The result is in
// partition order whatever the threads did.
Result<std::vector<StagedFile>> WriteStagedFiles(const PartitionedBuffer& buf,
                                                 const LakeFileOptions& options);

// JSON-lines encoding of rows (one object per row, columns in schema order; timestamps as ISO
// 8601 UTC text, dates as YYYY-MM-DD, json columns embedded as JSON).
std::string EncodeJsonLines(const std::vector<ColumnSchema>& schema, const ColumnBatch& rows);

}  // namespace weir
