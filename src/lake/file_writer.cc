#include "lake/file_writer.h"

#include <cmath>
#include <cstdio>

#include "core/text.h"
#include "io/fs.h"
#include "lake/parquet_writer.h"

namespace weir {

std::string EncodeJsonLines(const std::vector<ColumnSchema>& schema, const ColumnBatch& rows) {
  std::string out;
  const size_t n = rows.num_rows();
  char num[40];
  for (size_t r = 0; r < n; ++r) {
    out.push_back('{');
    for (size_t c = 0; c < schema.size(); ++c) {
      if (c) out.push_back(',');
      AppendJsonString(out, schema[c].name);
      out.push_back(':');
      const ColumnBuffer& col = rows.columns[c];
      if (col.IsNull(r)) {
        out += "null";
        continue;
      }
      switch (col.type()) {
        case ColumnType::kString: AppendJsonString(out, col.StringAt(r)); break;
        case ColumnType::kJson: out += col.StringAt(r); break;
        case ColumnType::kInt64: out += std::to_string(col.Int64At(r)); break;
        case ColumnType::kBool: out += col.BoolAt(r) ? "true" : "false"; break;
        case ColumnType::kDate: AppendJsonString(out, FormatDate(col.DateAt(r))); break;
        case ColumnType::kTimestampMs: AppendJsonString(out, FormatTimestampMs(col.Int64At(r))); break;
        case ColumnType::kDouble: {
          double v = col.DoubleAt(r);
          if (std::isfinite(v)) {
            std::snprintf(num, sizeof(num), "%.17g", v);
            out += num;
          } else {
            out += "null";
          }
          break;
        }
      }
    }
    out += "}\n";
  }
  return out;
}

Result<std::vector<StagedFile>> WriteStagedFiles(const PartitionedBuffer& buf,
                                                 const LakeFileOptions& options) {
  std::vector<StagedFile> out;
  WEIR_RETURN_IF_ERROR(fs::CreateDirs(options.staging_dir));
  const bool parquet = options.format == "parquet";
  const std::string ext = parquet ? ".parquet" : ".jsonl";
  ParquetWriteOptions popts;
  popts.compression = options.compression == "none" ? ParquetWriteOptions::Compression::kNone
                                                    : ParquetWriteOptions::Compression::kZstd;
  popts.field_ids = options.field_ids;
  popts.timestamp_micros = options.timestamp_micros;
  std::vector<ColumnBuffer> micros;  // scaled copies of timestamp columns, reused per partition
  size_t i = 0;
  const PartitionedBuffer::Partition* prev = nullptr;
  int shared = 0;
  for (const PartitionedBuffer::Partition* p : buf.Partitions()) {
    if (p->rows.num_rows() == 0) continue;
    StagedFile f;
    f.partition = p->path;
    // Partitions that share a folder (NULL and "" in Iceberg tables) get distinct file names.
    const bool shared_folder = (prev != nullptr && prev->path == p->path);
    shared = shared_folder ? shared + 1 : 0;
    prev = p;
    f.rel_path = options.rel_prefix + (p->path.empty() ? "" : p->path + "/") + options.file_stem +
                 (shared ? "-" + std::to_string(shared) : "") + ext;
    // The staged name never ends in .parquet/.jsonl, so no glob over the lake can match it even
    // if the staging folder were placed inside the table.
    f.staging_path = options.staging_dir + "/" + options.file_stem + "-" + std::to_string(i++) +
                     ext + ".staged";
    f.rows = p->rows.num_rows();
    f.data = &p->rows;
    if (parquet) {
      std::vector<const ColumnBuffer*> cols;
      micros.clear();
      micros.reserve(p->rows.columns.size());
      for (const auto& c : p->rows.columns) {
        if (options.timestamp_micros && c.type() == ColumnType::kTimestampMs) {
          ColumnBuffer& m = micros.emplace_back(ColumnType::kTimestampMs);
          for (size_t r = 0; r < c.size(); ++r) {
            if (c.IsNull(r)) {
              m.AppendNull();
            } else {
              m.AppendInt64(c.Int64At(r) * 1000);
            }
          }
          cols.push_back(&m);
        } else {
          cols.push_back(&c);
        }
      }
      ParquetFileLayout layout;
      WEIR_ASSIGN_OR_RETURN(f.bytes,
                            WriteParquetFile(f.staging_path, buf.file_schema(), cols, popts, &layout));
      f.column_bytes = std::move(layout.column_bytes);
      f.split_offsets = std::move(layout.row_group_offsets);
    } else {
      std::string data = EncodeJsonLines(buf.file_schema(), p->rows);
      WEIR_RETURN_IF_ERROR(fs::WriteFile(f.staging_path, data));
      f.bytes = data.size();
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace weir
