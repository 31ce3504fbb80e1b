#include "lake/file_writer.h"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <memory>
#include <thread>
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
  WEIR_RETURN_IF_ERROR(fs::CreateDirs(options.staging_dir));
  const bool parquet = options.format == "parquet";
  const std::string ext = parquet ? ".parquet" : ".jsonl";
  ParquetWriteOptions popts;
  popts.compression = options.compression == "none" ? ParquetWriteOptions::Compression::kNone
                                                    : ParquetWriteOptions::Compression::kZstd;
  popts.field_ids = options.field_ids;
  popts.timestamp_micros = options.timestamp_micros;
  const std::vector<const PartitionedBuffer::Partition*> partitions = buf.Partitions();

  // File bytes per buffered byte, from an encoded sample of the largest partition: how big a
  // partition's file will be before it is written (write.target_file_mb). Only needed when
  // some partition could reach the target.
  double bytes_per_memory = 1.0;
  if (options.target_file_bytes > 0) {
    const PartitionedBuffer::Partition* largest = nullptr;
    for (const auto* p : partitions) {
      if (largest == nullptr || p->rows.MemoryBytes() > largest->rows.MemoryBytes()) largest = p;
    }
    if (largest != nullptr && largest->rows.MemoryBytes() > options.target_file_bytes / 4) {
      const size_t rows = largest->rows.num_rows();
      auto sample = SliceRows(largest->rows, 0, std::min(rows, std::max<size_t>(1000, rows / 16)));
      double sample_bytes = 0;
      if (parquet) {
        std::vector<const ColumnBuffer*> cols;
        for (const auto& c : sample->columns) cols.push_back(&c);
        WEIR_ASSIGN_OR_RETURN(std::string enc, EncodeParquet(buf.file_schema(), cols, popts));
        sample_bytes = static_cast<double>(enc.size());
      } else {
        sample_bytes = static_cast<double>(EncodeJsonLines(buf.file_schema(), *sample).size());
      }
      if (sample->MemoryBytes() > 0) bytes_per_memory = sample_bytes / static_cast<double>(sample->MemoryBytes());
    }
  }

  // Plan every file first (names, row ranges), in partition order, so names do not depend on
  // which thread writes what.
  struct Planned {
    const PartitionedBuffer::Partition* partition;
    size_t begin, end;
    bool whole;
  };
  std::vector<StagedFile> out;
  std::vector<Planned> plan;
  size_t i = 0;
  const PartitionedBuffer::Partition* prev = nullptr;
  int shared = 0;
  for (const PartitionedBuffer::Partition* p : partitions) {
    if (p->rows.num_rows() == 0) continue;
    // Partitions that share a folder (NULL and "" in Iceberg tables) get distinct file names.
    const bool shared_folder = (prev != nullptr && prev->path == p->path);
    shared = shared_folder ? shared + 1 : 0;
    prev = p;
    const size_t rows = p->rows.num_rows();
    // write.target_file_mb: a partition expected to be larger becomes several files of about
    // the target size (contiguous row ranges, so each stays in arrival order).
    size_t parts = 1;
    if (options.target_file_bytes > 0) {
      const double expected = static_cast<double>(p->rows.MemoryBytes()) * bytes_per_memory;
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
      // even if the staging folder were placed inside the table. The folder is the writing
      // thread's own (set below).
      f.staging_path = options.file_stem + "-" + std::to_string(i++) + ext + ".staged";
      out.push_back(std::move(f));
      plan.push_back({p, rows * part / parts, rows * (part + 1) / parts, parts == 1});
    }
  }

  // Encode and write the files on `threads` threads: a commit writes every partition of every
  // worker, and one thread alone left the other cores idle for the whole write.
  // Each thread stages into a folder of its own: creating a file holds its folder's lock while
  // the file system allocates the inode, so threads sharing one folder took turns (measured:
  // a sixth of a 3,000-file commit's CPU spinning on that lock).
  // Largest files first: the threads then end together instead of one encoding a big
  // partition alone at the end, while the commit waits (file names stay in plan order).
  std::vector<size_t> order(plan.size());
  std::vector<size_t> weight(plan.size());
  for (size_t k = 0; k < plan.size(); ++k) {
    order[k] = k;
    const size_t rows = plan[k].partition->rows.num_rows();
    weight[k] = rows == 0 ? 0 : plan[k].partition->rows.MemoryBytes() / rows * (plan[k].end - plan[k].begin);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return weight[a] > weight[b]; });
  std::atomic<size_t> next{0};
  std::vector<Status> errors(plan.size());
  auto work = [&](size_t thread) {
    const std::string dir = options.staging_dir + "/t" + std::to_string(thread);
    if (Status st = fs::CreateDirs(dir); !st.ok()) {
      for (size_t i = next++; i < plan.size(); i = next++) errors[order[i]] = st;
      return;
    }
    std::vector<ColumnBuffer> micros;  // scaled copies of timestamp columns, reused per file
    for (size_t i = next++; i < plan.size(); i = next++) {
      const size_t k = order[i];
      StagedFile& f = out[k];
      f.staging_path = dir + "/" + f.staging_path;
      if (!options.publish_dir.empty()) {
        // Best effort: `weir lake expire` may prune empty partition folders meanwhile (a
        // concurrent mkdir then fails with ENOENT), and the publishing rename creates a
        // missing folder anyway. Failing the commit here failed runs beside expire.
        const size_t slash = f.rel_path.rfind('/');
        if (slash != std::string::npos) {
          (void)fs::CreateDirs(options.publish_dir + "/" + f.rel_path.substr(0, slash));
        }
      }
      const Planned& pl = plan[k];
      if (pl.whole) {
        f.data = &pl.partition->rows;
      } else {
        f.owned = SliceRows(pl.partition->rows, pl.begin, pl.end);
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
        auto bytes = WriteParquetFile(f.staging_path, buf.file_schema(), cols, popts, &layout);
        if (!bytes.ok()) {
          errors[k] = bytes.status();
          continue;
        }
        f.bytes = *bytes;
        f.column_bytes = std::move(layout.column_bytes);
        f.split_offsets = std::move(layout.row_group_offsets);
      } else {
        std::string data = EncodeJsonLines(buf.file_schema(), *f.data);
        errors[k] = fs::WriteFile(f.staging_path, data);
        f.bytes = data.size();
      }
      if (errors[k].ok() && options.on_written) errors[k] = options.on_written(k, f);
    }
  };
  const size_t threads = std::min<size_t>(std::max(1, options.threads), plan.size());
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& t : pool) t.join();
  for (const Status& st : errors) WEIR_RETURN_IF_ERROR(st);
  return out;
}

}  // namespace weir
