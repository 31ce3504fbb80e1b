#include "lake/file_writer.h"

#include <algorithm>
#include <cmath>
#include <memory>
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

namespace {

// Rows [begin, end) of `rows` as a batch of their own (a partition rolled into several files).
std::shared_ptr<ColumnBatch> SliceRows(const ColumnBatch& rows, size_t begin, size_t end) {
  auto part = std::make_shared<ColumnBatch>(rows.schema);
  for (size_t c = 0; c < rows.columns.size(); ++c) {
    for (size_t r = begin; r < end; ++r) part->columns[c].AppendFrom(rows.columns[c], r);
  }
  return part;
}

}  // namespace

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
  std::vector<ColumnBuffer> micros;  // scaled copies of timestamp columns, reused per file
  size_t i = 0;
  const PartitionedBuffer::Partition* prev = nullptr;
  int shared = 0;
  // File bytes per buffered byte, learnt from the files written so far (or a sample of the first
  // large partition): how big a partition's file will be before it is written.
  double bytes_per_memory = 1.0;
  uint64_t seen_memory = 0, seen_bytes = 0;
  for (const PartitionedBuffer::Partition* p : buf.Partitions()) {
    if (p->rows.num_rows() == 0) continue;
    // Partitions that share a folder (NULL and "" in Iceberg tables) get distinct file names.
    const bool shared_folder = (prev != nullptr && prev->path == p->path);
    shared = shared_folder ? shared + 1 : 0;
    prev = p;
    const size_t rows = p->rows.num_rows();
    const size_t memory = p->rows.MemoryBytes();
    // write.target_file_mb: a partition expected to be larger becomes several files of about
    // the target size (contiguous row ranges, so each stays in arrival order).
    size_t parts = 1;
    if (options.target_file_bytes > 0 && memory > options.target_file_bytes / 4) {
      if (seen_memory == 0) {
        // Nothing written yet to learn from: encode a sample of this partition's rows.
        const size_t n = std::min(rows, std::max<size_t>(1000, rows / 16));
        auto sample = SliceRows(p->rows, 0, n);
        const double sample_memory = static_cast<double>(sample->MemoryBytes());
        double sample_bytes = 0;
        if (parquet) {
          std::vector<const ColumnBuffer*> cols;
          for (const auto& c : sample->columns) cols.push_back(&c);
          WEIR_ASSIGN_OR_RETURN(std::string enc, EncodeParquet(buf.file_schema(), cols, popts));
          sample_bytes = static_cast<double>(enc.size());
        } else {
          sample_bytes = static_cast<double>(EncodeJsonLines(buf.file_schema(), *sample).size());
        }
        if (sample_memory > 0) bytes_per_memory = sample_bytes / sample_memory;
      }
      const double expected = static_cast<double>(memory) * bytes_per_memory;
      parts = static_cast<size_t>(std::ceil(expected / static_cast<double>(options.target_file_bytes)));
      parts = std::clamp<size_t>(parts, 1, rows);
    }
    for (size_t part = 0; part < parts; ++part) {
      StagedFile f;
      f.partition = p->path;
      std::string suffix = shared ? "-" + std::to_string(shared) : "";
      if (parts > 1) suffix += "-r" + std::to_string(part);
      f.rel_path = options.rel_prefix + (p->path.empty() ? "" : p->path + "/") + options.file_stem +
                   suffix + ext;
      // The staged name never ends in .parquet/.jsonl, so no glob over the lake can match it
      // even if the staging folder were placed inside the table.
      f.staging_path = options.staging_dir + "/" + options.file_stem + "-" + std::to_string(i++) +
                       ext + ".staged";
      if (parts == 1) {
        f.data = &p->rows;
      } else {
        f.owned = SliceRows(p->rows, rows * part / parts, rows * (part + 1) / parts);
        f.data = f.owned.get();
      }
      f.rows = f.data->num_rows();
      if (parquet) {
        std::vector<const ColumnBuffer*> cols;
        micros.clear();
        micros.reserve(f.data->columns.size());
        for (const auto& c : f.data->columns) {
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
        WEIR_ASSIGN_OR_RETURN(
            f.bytes, WriteParquetFile(f.staging_path, buf.file_schema(), cols, popts, &layout));
        f.column_bytes = std::move(layout.column_bytes);
        f.split_offsets = std::move(layout.row_group_offsets);
      } else {
        std::string data = EncodeJsonLines(buf.file_schema(), *f.data);
        WEIR_RETURN_IF_ERROR(fs::WriteFile(f.staging_path, data));
        f.bytes = data.size();
      }
      out.push_back(std::move(f));
    }
    seen_memory += memory;
    for (size_t k = out.size() - parts; k < out.size(); ++k) seen_bytes += out[k].bytes;
    if (seen_memory > 0) bytes_per_memory = static_cast<double>(seen_bytes) / static_cast<double>(seen_memory);
  }
  return out;
}

}  // namespace weir
