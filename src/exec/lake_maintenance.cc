#include "exec/lake_maintenance.h"

#include <duckdb.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include <spdlog/spdlog.h>

#include "core/interrupt.h"
#include "exec/iceberg_table.h"
#include "exec/lake_claim.h"
#include "exec/runner.h"
#include "exec/table_schema.h"
#include "io/fs.h"
#include "lake/iceberg.h"
#include "lake/iceberg_commit.h"
#include "lake/iceberg_datafile.h"
#include "lake/parquet_writer.h"

namespace weir {

namespace {

using Clock = std::chrono::steady_clock;

// Optimistic first; after this many lost races a commit takes the CommitGate (iceberg_table.h)
// so that a run committing every few hundred milliseconds cannot starve it.
constexpr int kGateAfterLostRaces = 3;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NewTag() {
  // Time first (names sort by creation), then randomness (two compactions in one millisecond).
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%llx-%s", static_cast<unsigned long long>(NowMs()),
                iceberg::NewUuid().substr(0, 8).c_str());
  return buf;
}

std::string Ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// After a commit outside `weir run`: moves version-hint.text to the store's readers' pointer
// (IcebergTableRow::published_location), which is this commit's `location` unless a run's
// newer commit is still being published (the run moves the hint itself once it is). It is
// written, then checked against the store again: a run that committed meanwhile may have written
// its own (older) hint after ours, so the hint ends at the newest published version either way.
Status UpdateHint(const DatasetConfig& config, Store& store, const std::string& location) {
  std::string written;
  for (int round = 0; round < 3; ++round) {
    WEIR_ASSIGN_OR_RETURN(auto row, store.IcebergTable(kIcebergNamespace, config.write.table));
    const std::string target =
        row && !row->published_location.empty() ? row->published_location : location;
    if (target == written) return Status::OK();  // stable: the newest published version
    WEIR_RETURN_IF_ERROR(WriteVersionHint(config, target));
    written = target;
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Compaction

// The weir type of each column of the table's current schema: the config's type when it names the
// column, else the recorded schema's, else the one the Iceberg type implies.
Result<std::vector<ColumnSchema>> FileColumns(const DatasetConfig& config, Store& store,
                                              const iceberg::Schema& schema) {
  std::map<std::string, ColumnType> known;
  WEIR_ASSIGN_OR_RETURN(auto recorded, LoadTableSchema(config, store));
  if (recorded) {
    for (const auto& c : recorded->columns) known[c.name] = c.type;
  }
  for (const auto& c : config.write.columns) known[c.name] = c.type;
  std::vector<ColumnSchema> out;
  for (const auto& f : schema.fields) {
    auto it = known.find(f.name);
    if (it != known.end() && iceberg::TypeForColumn(it->second) == f.type) {
      out.push_back({f.name, it->second});
      continue;
    }
    ColumnType t;
    switch (f.type) {
      case iceberg::Type::kString:
        t = ColumnType::kString;
        break;
      case iceberg::Type::kLong:
        t = ColumnType::kInt64;
        break;
      case iceberg::Type::kDouble:
        t = ColumnType::kDouble;
        break;
      case iceberg::Type::kBoolean:
        t = ColumnType::kBool;
        break;
      case iceberg::Type::kDate:
        t = ColumnType::kDate;
        break;
      case iceberg::Type::kTimestamptz:
        t = ColumnType::kTimestampMs;
        break;
      default:
        return Status::Invalid("table " + config.write.table + ": column '" + f.name +
                               "' has Iceberg type " + iceberg::TypeName(f.type) +
                               ", which weir does not write; it cannot compact this table");
    }
    out.push_back({f.name, t});
  }
  return out;
}

const char* CastType(ColumnType t) {
  switch (t) {
    case ColumnType::kString:
    case ColumnType::kJson:
      return "VARCHAR";
    case ColumnType::kInt64:
      return "BIGINT";
    case ColumnType::kDouble:
      return "DOUBLE";
    case ColumnType::kBool:
      return "BOOLEAN";
    case ColumnType::kTimestampMs:
      return "TIMESTAMPTZ";
    case ColumnType::kDate:
      return "DATE";
  }
  return "VARCHAR";
}

// An in-memory DuckDB for reading the files to rewrite.
class Duck {
 public:
  ~Duck() {
    if (con_) duckdb_disconnect(&con_);
    if (db_) duckdb_close(&db_);
  }
  Status Open() {
    if (duckdb_open(nullptr, &db_) == DuckDBError) return Status::Internal("cannot open DuckDB");
    if (duckdb_connect(db_, &con_) == DuckDBError)
      return Status::Internal("cannot connect to DuckDB");
    return Status::OK();
  }
  // Runs `sql`; the caller destroys `r` (also on error, which is returned with the message).
  Status Query(const std::string& sql, duckdb_result* r) {
    if (duckdb_query(con_, sql.c_str(), r) == DuckDBError) {
      std::string msg = duckdb_result_error(r);
      duckdb_destroy_result(r);
      return Status::IOError("DuckDB: " + msg + " (reading the files to compact)", false);
    }
    return Status::OK();
  }

 private:
  duckdb_database db_ = nullptr;
  duckdb_connection con_ = nullptr;
};

// A live data file of the current snapshot that the store also lists as published.
struct LiveFile {
  iceberg::DataFile data;
  CatalogFile catalog;
};

// The files of one partition (one partition tuple: NULL and "" share a folder but not a tuple).
struct Group {
  std::string partition;  // Hive path
  std::string folder;     // absolute folder of the rewritten files (where new ones go)
  std::vector<LiveFile> small;
  int64_t files_total = 0;  // live files in the partition
};

std::string TupleKey(const std::vector<iceberg::OptionalLiteral>& tuple) {
  std::string key;
  for (const auto& v : tuple) {
    if (!v) {
      key += "N;";
    } else {
      const std::string b = v->ToBinary();
      key += "V" + std::to_string(b.size()) + ":" + b + ";";
    }
  }
  return key;
}

// The new files of a group, written and described, not yet committed.
struct Rewritten {
  Group group;
  std::vector<iceberg::DataFile> added;
  std::vector<CatalogFile> files;  // path = final, staging = hidden name beside it
  CompactedPartition stats;
};

// Removes the new files of `r` under either name: only for files no commit has recorded.
void RemoveStaged(const Rewritten& r) {
  for (const auto& f : r.files) {
    (void)fs::RemoveFile(f.staging);
    (void)fs::RemoveFile(f.path);
  }
}

class Rewriter {
 public:
  Rewriter(const DatasetConfig& config, const iceberg::Schema& schema,
           const iceberg::PartitionSpec& spec, std::vector<ColumnSchema> columns, uint64_t target,
           std::string tag)
      : config_(config),
        schema_(schema),
        spec_(spec),
        columns_(std::move(columns)),
        target_(target),
        tag_(std::move(tag)) {
    // A table on S3 is rewritten through local disk: DuckDB reads local copies of the small
    // files, and the new files are written locally, then uploaded under their final names.
    if (fs::IsRemote(TableDir(config_))) local_dir_ = DataStagingDir(config_) + "/compact-" + tag_;
    for (const auto& c : columns_) {
      const iceberg::NestedField* f = schema_.FindByName(c.name);
      field_ids_.push_back(f ? f->id : 0);
    }
  }

  Status Open() { return duck_.Open(); }

  Result<Rewritten> Rewrite(const Group& g) {
    const auto t0 = Clock::now();
    Rewritten out;
    out.group = g;
    out.stats.partition = g.partition;
    out.stats.files_before = g.files_total;
    out.stats.rewritten_files = static_cast<int64_t>(g.small.size());
    int64_t rows_in = 0;
    std::string list;
    std::vector<std::string> copies;  // local copies of remote inputs, removed when done
    struct RemoveCopies {
      std::vector<std::string>& paths;
      ~RemoveCopies() {
        for (const auto& p : paths) (void)fs::RemoveFile(p);
      }
    } remove_copies{copies};
    for (const auto& f : g.small) {
      out.stats.bytes_read += f.data.file_size_in_bytes;
      rows_in += f.data.record_count;
      std::string path = f.catalog.path;
      if (!local_dir_.empty()) {
        WEIR_RETURN_IF_ERROR(fs::CreateDirs(local_dir_));
        // Never a name used before in this process: DuckDB may keep a file's footer by name.
        copies.push_back(local_dir_ + "/input-" + std::to_string(next_copy_++) + ".parquet");
        WEIR_ASSIGN_OR_RETURN(std::string bytes, fs::ReadFile(path));
        WEIR_RETURN_IF_ERROR(fs::WriteFile(copies.back(), bytes));
        path = copies.back();
      }
      list += (list.empty() ? "" : ", ") + Quote(path);
    }
    const std::string source = "read_parquet([" + list + "], union_by_name = true)";
    // Columns a file set lacks (added to the table after these files were written) read as NULL.
    // Assumed present first: listing them (DESCRIBE) reads every file's footer once more, which
    // is most of the cost with many small files; only a query that names a missing column pays
    // for it.
    auto build_sql = [&](const std::set<std::string>* present) {
      std::string select;
      for (size_t i = 0; i < columns_.size(); ++i) {
        const auto& c = columns_[i];
        select += i ? ", " : "";
        if (!present || present->count(c.name)) {
          select += "CAST(" + Ident(c.name) + " AS " + CastType(c.type) + ")";
        } else {
          select += std::string("CAST(NULL AS ") + CastType(c.type) + ")";
        }
        select += " AS c" + std::to_string(i);
      }
      std::string order;
      for (const auto& name : config_.write.sort_by) {
        for (size_t i = 0; i < columns_.size(); ++i) {
          if (columns_[i].name == name) {
            order += (order.empty() ? "" : ", ") + ("c" + std::to_string(i));
          }
        }
      }
      return "SELECT " + select + " FROM " + source + (order.empty() ? "" : " ORDER BY " + order);
    };
    // Files of about the target size: the input split into ceil(bytes / target) runs of rows.
    const int64_t nfiles = std::max<int64_t>(
        1, static_cast<int64_t>((static_cast<uint64_t>(out.stats.bytes_read) + target_ - 1) /
                                target_));
    const int64_t per_file = std::max<int64_t>(1, (rows_in + nfiles - 1) / nfiles);

    duckdb_result r;
    if (!duck_.Query(build_sql(nullptr), &r).ok()) {
      std::set<std::string> present;
      duckdb_result d;
      WEIR_RETURN_IF_ERROR(duck_.Query("DESCRIBE SELECT * FROM " + source, &d));
      for (idx_t row = 0; row < duckdb_row_count(&d); ++row) {
        char* v = duckdb_value_varchar(&d, 0, row);
        if (v) present.insert(v);
        duckdb_free(v);
      }
      duckdb_destroy_result(&d);
      WEIR_RETURN_IF_ERROR(duck_.Query(build_sql(&present), &r));
    }
    std::vector<ColumnBuffer> cols;
    auto reset = [&]() {
      cols.clear();
      for (const auto& c : columns_) cols.emplace_back(c.type);
    };
    reset();
    Status st;
    auto flush = [&]() -> Status {
      if (cols.empty() || cols[0].size() == 0) return Status::OK();
      WEIR_RETURN_IF_ERROR(WriteOne(out, cols));
      reset();
      return Status::OK();
    };
    while (st.ok()) {
      duckdb_data_chunk chunk = duckdb_fetch_chunk(r);
      if (!chunk) break;
      const idx_t n = duckdb_data_chunk_get_size(chunk);
      std::vector<void*> data(columns_.size());
      std::vector<uint64_t*> valid(columns_.size());
      for (size_t c = 0; c < columns_.size(); ++c) {
        duckdb_vector v = duckdb_data_chunk_get_vector(chunk, c);
        data[c] = duckdb_vector_get_data(v);
        valid[c] = duckdb_vector_get_validity(v);
      }
      for (idx_t row = 0; row < n && st.ok(); ++row) {
        for (size_t c = 0; c < columns_.size(); ++c) {
          ColumnBuffer& b = cols[c];
          if (valid[c] && !duckdb_validity_row_is_valid(valid[c], row)) {
            b.AppendNull();
            continue;
          }
          switch (columns_[c].type) {
            case ColumnType::kString:
            case ColumnType::kJson: {
              auto* s = static_cast<duckdb_string_t*>(data[c]) + row;
              b.AppendString(std::string_view(duckdb_string_t_data(s), duckdb_string_t_length(*s)));
              break;
            }
            case ColumnType::kInt64:
              b.AppendInt64(static_cast<int64_t*>(data[c])[row]);
              break;
            case ColumnType::kDouble:
              b.AppendDouble(static_cast<double*>(data[c])[row]);
              break;
            case ColumnType::kBool:
              b.AppendBool(static_cast<bool*>(data[c])[row]);
              break;
            case ColumnType::kDate:
              b.AppendDate(static_cast<duckdb_date*>(data[c])[row].days);
              break;
            case ColumnType::kTimestampMs:
              // Iceberg files hold microseconds; weir's buffers hold milliseconds.
              b.AppendInt64(static_cast<duckdb_timestamp*>(data[c])[row].micros / 1000);
              break;
          }
        }
        if (static_cast<int64_t>(cols[0].size()) >= per_file) st = flush();
      }
      duckdb_destroy_data_chunk(&chunk);
    }
    duckdb_destroy_result(&r);
    if (st.ok()) st = flush();
    if (!st.ok()) {
      RemoveStaged(out);
      return st;
    }
    if (out.stats.rows != rows_in) {
      RemoveStaged(out);
      return Status::Corruption("compaction of partition '" + g.partition + "' read " +
                                std::to_string(out.stats.rows) + " rows, but the metadata lists " +
                                std::to_string(rows_in) + " in its files; nothing was committed");
    }
    out.stats.new_files = static_cast<int64_t>(out.files.size());
    out.stats.files_after = g.files_total - out.stats.rewritten_files + out.stats.new_files;
    out.stats.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return out;
  }

 private:
  Status WriteOne(Rewritten& out, const std::vector<ColumnBuffer>& cols) {
    const int k = static_cast<int>(out.files.size());
    const std::string name = "compact-" + tag_ + "-" + std::to_string(k) + ".parquet";
    CatalogFile f;
    f.task_id = out.group.small.front().catalog.task_id;
    f.kind = "data";
    f.partition = out.group.partition;
    f.path = out.group.folder + "/" + name;
    f.staging = out.group.folder + "/." + name + ".staged";
    if (!local_dir_.empty()) {
      WEIR_RETURN_IF_ERROR(fs::CreateDirs(local_dir_));
      // One local folder serves every partition, and `name` is unique only within one.
      f.staging = local_dir_ + "/" + std::to_string(next_copy_++) + "-" + name + ".staged";
    }
    ParquetWriteOptions popts;
    popts.compression = config_.write.compression == "none"
                            ? ParquetWriteOptions::Compression::kNone
                            : ParquetWriteOptions::Compression::kZstd;
    popts.field_ids = field_ids_;
    popts.timestamp_micros = true;
    std::vector<ColumnBuffer> micros;
    micros.reserve(cols.size());
    std::vector<const ColumnBuffer*> ptrs, described;
    for (const auto& c : cols) {
      described.push_back(&c);
      if (c.type() != ColumnType::kTimestampMs) {
        ptrs.push_back(&c);
        continue;
      }
      ColumnBuffer& m = micros.emplace_back(ColumnType::kTimestampMs);
      for (size_t r = 0; r < c.size(); ++r) {
        if (c.IsNull(r)) {
          m.AppendNull();
        } else {
          m.AppendInt64(c.Int64At(r) * 1000);
        }
      }
      ptrs.push_back(&m);
    }
    out.files.push_back(f);  // before writing: a failure removes what was written
    WEIR_ASSIGN_OR_RETURN(uint64_t bytes, WriteParquetFile(f.staging, columns_, ptrs, popts));
    out.files.back().rows = cols[0].size();
    out.files.back().bytes = bytes;
    WEIR_ASSIGN_OR_RETURN(auto df, iceberg::DescribeDataFile(schema_, spec_, columns_, described,
                                                             f.path, static_cast<int64_t>(bytes)));
    out.added.push_back(std::move(df));
    out.stats.rows += static_cast<int64_t>(cols[0].size());
    out.stats.bytes_written += static_cast<int64_t>(bytes);
    return Status::OK();
  }

  const DatasetConfig& config_;
  const iceberg::Schema& schema_;
  const iceberg::PartitionSpec& spec_;
  std::vector<ColumnSchema> columns_;
  std::vector<int32_t> field_ids_;
  std::string local_dir_;  // tables on S3: where inputs are copied and outputs written first
  int64_t next_copy_ = 0;
  uint64_t target_;
  std::string tag_;
  Duck duck_;
};

// The live files of the current snapshot that the store lists as published, by path.
Result<std::map<std::string, LiveFile>> LiveFiles(const DatasetConfig& config, Store& store,
                                                  const IcebergTableState& state) {
  std::map<std::string, LiveFile> out;
  if (!state.metadata.current_snapshot_id) return out;
  WEIR_ASSIGN_OR_RETURN(auto entries,
                        iceberg::LiveEntries(state.metadata, *state.metadata.current_snapshot_id,
                                             LocalMetadataLoader()));
  WEIR_ASSIGN_OR_RETURN(auto published, store.Files(config.name, "data", "published"));
  std::map<std::string, CatalogFile> by_path;
  for (auto& f : published) by_path.emplace(f.path, std::move(f));
  for (auto& e : entries) {
    auto it = by_path.find(e.data_file.file_path);
    if (it == by_path.end()) continue;  // committed but not yet published by its writer
    LiveFile lf{std::move(e.data_file), it->second};
    out.emplace(lf.catalog.path, std::move(lf));
  }
  return out;
}

}  // namespace

bool PartitionMatches(const std::string& path, const std::string& filter) {
  if (filter.empty()) return true;
  auto split = [](const std::string& s) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= s.size()) {
      size_t slash = s.find('/', start);
      if (slash == std::string::npos) slash = s.size();
      if (slash > start) parts.push_back(s.substr(start, slash - start));
      start = slash + 1;
    }
    return parts;
  };
  const auto have = split(path);
  for (const auto& want : split(filter)) {
    if (std::find(have.begin(), have.end(), want) == have.end()) return false;
  }
  return true;
}

Result<CompactReport> CompactTable(const DatasetConfig& config, Store& store,
                                   const CompactOptions& options) {
  const auto t0 = Clock::now();
  CompactReport report;
  if (!UsesIceberg(config)) {
    return Status::Invalid("table " + config.write.table + " of dataset '" + config.name +
                           "' is a Hive table (write.table_format: " + config.write.table_format +
                           "); compaction rewrites Iceberg tables only");
  }
  const uint64_t target =
      options.target_file_bytes ? options.target_file_bytes : config.write.target_file_mb << 20;
  const std::string tag = options.tag.empty() ? NewTag() : options.tag;
  WEIR_ASSIGN_OR_RETURN(auto state, LoadIcebergTable(config, store));
  if (!state || !state->metadata.current_snapshot_id) return report;
  const iceberg::Schema* schema = state->metadata.CurrentSchema();
  const iceberg::PartitionSpec* spec = state->metadata.DefaultSpec();
  if (!schema || !spec) return Status::Corruption("table metadata lacks its schema or spec");

  // Plan: partitions with enough small files.
  WEIR_ASSIGN_OR_RETURN(auto live, LiveFiles(config, store, *state));
  std::map<std::pair<std::string, std::string>, Group> groups;
  for (auto& [path, f] : live) {
    Group& g = groups[{f.catalog.partition, TupleKey(f.data.partition)}];
    g.partition = f.catalog.partition;
    ++g.files_total;
    if (static_cast<uint64_t>(f.data.file_size_in_bytes) < target) g.small.push_back(f);
  }
  std::vector<Group> chosen;
  for (auto& [key, g] : groups) {
    if (!PartitionMatches(g.partition, options.partition)) continue;
    if (static_cast<int>(g.small.size()) < std::max(2, options.min_files)) continue;
    g.folder = Dirname(g.small.front().catalog.path);
    for (const auto& f : g.small) {
      // weir writes a partition's files into one folder; anything else is left as it is.
      if (Dirname(f.catalog.path) != g.folder) g.folder.clear();
    }
    if (g.folder.empty()) continue;
    WEIR_RETURN_IF_ERROR(CheckDatasetOutputPath(config, g.folder));
    chosen.push_back(std::move(g));
  }
  if (chosen.empty()) {
    report.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return report;
  }

  // Rewrite (outside any lock: this is the slow part).
  WEIR_ASSIGN_OR_RETURN(auto columns, FileColumns(config, store, *schema));
  Rewriter rewriter(config, *schema, *spec, columns, target, tag);
  WEIR_RETURN_IF_ERROR(rewriter.Open());
  std::vector<Rewritten> done;
  auto cleanup = [&]() {
    for (const auto& r : done) RemoveStaged(r);
  };
  for (const auto& g : chosen) {
    auto r = rewriter.Rewrite(g);
    if (!r.ok()) {
      cleanup();
      return r.status().WithContext("compacting partition '" + g.partition + "' of table " +
                                    config.write.table);
    }
    done.push_back(std::move(*r));
  }
  // The new files get their final names BEFORE the commit, so the commit can record them as
  // published in the same transaction that retires the rewritten ones: a `weir query` (which
  // reads the store's published files) sees the old files or the new ones, never neither or
  // both. Until the commit no snapshot and no store row names them; if it never happens they
  // are deleted below, or (after a crash) found by `weir lake check` as orphans and removed by
  // `weir lake expire`.
  for (auto& r : done) {
    for (auto& f : r.files) {
      Status st = fs::Rename(f.staging, f.path);
      if (!st.ok()) {
        cleanup();
        return st;
      }
      f.staging = f.path;
      f.state = "published";
    }
  }
  if (!done.empty()) {
    WEIR_RETURN_IF_ERROR(fs::SyncFilesystem(done.front().group.folder));
  }

  // Commit: plan on the current metadata, compare-and-set; on a lost race re-plan with the
  // partitions whose rewritten files are all still live.
  const auto loader = LocalMetadataLoader();
  // After a lost race only the metadata is re-read: planning itself refuses a removed file that
  // is no longer live, and so does the store transaction. Only then (rare: another compaction
  // took some of the same files) are the live files listed again to drop those partitions.
  bool check_live = false;
  std::unique_ptr<CommitGate> gate;  // taken after kGateAfterLostRaces lost races
  for (int attempt = 1;; ++attempt) {
    report.attempts = attempt;
    if (attempt > kGateAfterLostRaces && !gate) {
      auto g = CommitGate::Acquire(config);
      if (!g.ok()) {
        cleanup();
        return g.status();
      }
      gate = std::move(*g);
    }
    if (attempt > 1) {
      WEIR_ASSIGN_OR_RETURN(state, LoadIcebergTable(config, store));
      if (!state) {
        cleanup();
        return Status::Aborted("table " + config.write.table +
                               " was dropped (--restart) while it was being compacted");
      }
    }
    if (attempt > 1 && check_live) {
      check_live = false;
      WEIR_ASSIGN_OR_RETURN(live, LiveFiles(config, store, *state));
      std::vector<Rewritten> still;
      for (auto& r : done) {
        bool all = true;
        for (const auto& f : r.group.small) all &= live.count(f.catalog.path) > 0;
        if (all) {
          still.push_back(std::move(r));
        } else {
          RemoveStaged(r);
          ++report.skipped_partitions;
        }
      }
      done = std::move(still);
    }
    if (done.empty()) break;
    iceberg::SnapshotUpdate u;
    u.operation = "replace";
    u.timestamp_ms = std::max(NowMs(), state->metadata.last_updated_ms);
    CommitRequest req;
    req.dataset = config.name;
    for (const auto& r : done) {
      for (const auto& f : r.group.small) {
        u.removed_paths.push_back(f.data.file_path);
        req.replaced.push_back(f.catalog.id);
      }
      u.added.insert(u.added.end(), r.added.begin(), r.added.end());
      req.files.insert(req.files.end(), r.files.begin(), r.files.end());
    }
    u.extra_summary = {{"weir.dataset", config.name}, {"weir.run", "compact-" + tag}};
    auto plan = iceberg::PlanSnapshot(state->metadata, state->row.metadata_location, u, loader);
    if (!plan.ok() && plan.status().code() == StatusCode::kInvalidArgument &&
        plan.status().message().find("cannot remove") != std::string::npos && attempt < 100) {
      check_live = true;
      continue;
    }
    if (!plan.ok()) {
      // An expire that ran meanwhile may have deleted what this (now old) metadata names.
      auto row = store.IcebergTable(kIcebergNamespace, config.write.table);
      if (row.ok() && *row && (*row)->metadata_location != state->row.metadata_location &&
          attempt < 100) {
        continue;
      }
      cleanup();
      return plan.status();
    }
    for (const auto& f : plan->files) {
      if (f.location == plan->metadata_location) continue;
      WEIR_RETURN_IF_ERROR(fs::WriteFile(f.location, f.bytes));  // uuid names: never taken
    }
    WEIR_ASSIGN_OR_RETURN(
        std::string location,
        WriteMetadataFile(IcebergMetadataDir(config), plan->version, plan->files.back().bytes));
    req.iceberg = IcebergPointerMove{kIcebergNamespace, config.write.table,
                                     state->row.metadata_location, location};
    std::vector<int64_t> ids;
    Status st = store.Commit(req, &ids);
    if (st.code() == StatusCode::kAborted && attempt < 100) {  // a concurrent commit won
      check_live = st.message().find("no longer live") != std::string::npos;
      continue;
    }
    if (!st.ok()) {
      cleanup();
      return st.WithContext("committing the compaction of table " + config.write.table);
    }
    WEIR_RETURN_IF_ERROR(UpdateHint(config, store, location));
    report.snapshot_id = plan->snapshot_id;
    report.metadata_location = location;
    for (const auto& r : done) report.partitions.push_back(r.stats);
    break;
  }
  gate.reset();
  std::sort(report.partitions.begin(), report.partitions.end(),
            [](const auto& a, const auto& b) { return a.partition < b.partition; });
  report.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return report;
}

Result<CompactReport> AutoCompact(const DatasetConfig& config, Store& store,
                                  const std::string& tag) {
  if (!config.write.compaction_auto || !UsesIceberg(config)) return CompactReport{};
  CompactOptions o;
  o.min_files = config.write.compaction_min_files;
  o.tag = tag.empty() ? "" : tag + "-" + NewTag();
  return CompactTable(config, store, o);
}

BackgroundCompactor::BackgroundCompactor(const DatasetConfig& config, Store& store)
    : config_(config), store_(store), since_(std::chrono::steady_clock::now()) {}

BackgroundCompactor::~BackgroundCompactor() {
  if (thread_.joinable()) thread_.join();
}

void BackgroundCompactor::AfterCommit(const std::string& run_tag) {
  if (!config_.write.compaction_auto || closed_ || running_.load() || StopRequested()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - since_ < std::chrono::milliseconds(config_.write.compaction_interval_ms)) return;
  if (thread_.joinable()) thread_.join();  // the last one, finished
  since_ = now;
  const std::string tag = run_tag + "-c" + std::to_string(++compactions_);
  running_ = true;  // before the thread, which clears it when done
  try {
    thread_ = std::thread([this, tag] {
      auto r = AutoCompact(config_, store_, tag);
      if (!r.ok()) {
        spdlog::warn("{}: write.compaction.auto: compaction failed (the data stays committed; it "
                     "is tried again after write.compaction.interval): {}",
                     config_.name, r.status().message());
      }
      running_ = false;
    });
  } catch (const std::system_error& e) {  // no thread to be had: try again an interval later
    running_ = false;
    spdlog::warn("{}: write.compaction.auto: cannot start a thread: {}", config_.name, e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Expire

Result<int64_t> ParseAge(const std::string& text) {
  if (text.size() < 2) {
    return Status::Invalid("'" + text +
                           "' is not an age; write a number and a unit: 7d, 36h, "
                           "90m or 45s");
  }
  const char unit = text.back();
  int64_t mult = 0;
  switch (unit) {
    case 'd':
      mult = 24LL * 3600 * 1000;
      break;
    case 'h':
      mult = 3600LL * 1000;
      break;
    case 'm':
      mult = 60LL * 1000;
      break;
    case 's':
      mult = 1000;
      break;
    default:
      break;
  }
  const std::string num = text.substr(0, text.size() - 1);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(num.c_str(), &end, 10);
  if (mult == 0 || num.empty() || !end || *end != '\0' || errno != 0 || v < 0 || v > (1LL << 40)) {
    return Status::Invalid("'" + text +
                           "' is not an age; write a number and a unit: 7d, 36h, "
                           "90m or 45s");
  }
  return static_cast<int64_t>(v) * mult;
}

namespace {

// Files a set of snapshots references: manifest lists, manifests, live data files.
struct References {
  std::set<std::string> manifest_lists, manifests, data_files;
  bool Has(const std::string& p) const {
    return manifest_lists.count(p) || manifests.count(p) || data_files.count(p);
  }
};

std::string LocalPath(const std::string& location) {
  return location.rfind("file://", 0) == 0 ? location.substr(7) : location;
}

// Adds what snapshot `id` of `m` references. `tolerant`: files already gone are skipped (the
// snapshots of an expired set may have lost files to an earlier, interrupted expire).
Status AddReferences(const iceberg::TableMetadata& m, int64_t id, bool live_only, bool tolerant,
                     References& refs) {
  const iceberg::Snapshot* s = m.SnapshotById(id);
  if (!s) return Status::OK();
  const auto load = LocalMetadataLoader();
  refs.manifest_lists.insert(LocalPath(s->manifest_list));
  auto list_bytes = load(s->manifest_list);
  if (!list_bytes.ok()) {
    if (tolerant) return Status::OK();
    return list_bytes.status().WithContext("manifest list of snapshot " + std::to_string(id));
  }
  WEIR_ASSIGN_OR_RETURN(auto manifests, iceberg::ReadManifestList(*list_bytes, s->manifest_list));
  const iceberg::Schema* schema = m.CurrentSchema();
  for (const auto& mf : manifests) {
    refs.manifests.insert(LocalPath(mf.manifest_path));
    const iceberg::PartitionSpec* spec = m.SpecById(mf.partition_spec_id);
    if (!spec || !schema) return Status::Corruption(mf.manifest_path + ": unknown partition spec");
    WEIR_ASSIGN_OR_RETURN(auto ptypes, iceberg::PartitionTypes(*spec, *schema));
    auto bytes = load(mf.manifest_path);
    if (!bytes.ok()) {
      if (tolerant) continue;
      return bytes.status().WithContext("manifest of snapshot " + std::to_string(id));
    }
    WEIR_ASSIGN_OR_RETURN(auto entries,
                          iceberg::ReadManifest(*bytes, ptypes, mf, mf.manifest_path));
    for (const auto& e : entries) {
      if (live_only && e.status == iceberg::EntryStatus::kDeleted) continue;
      refs.data_files.insert(LocalPath(e.data_file.file_path));
    }
  }
  return Status::OK();
}

// The snapshots expire keeps: the current one, the last `retain_last` by sequence number, those
// committed at or after `cutoff_ms`, and those a ref (branch or tag) names.
std::set<int64_t> Retained(const iceberg::TableMetadata& m, int64_t cutoff_ms, int retain_last) {
  std::set<int64_t> keep;
  if (m.current_snapshot_id) keep.insert(*m.current_snapshot_id);
  for (const auto& [name, ref] : m.refs) keep.insert(ref.snapshot_id);
  std::vector<const iceberg::Snapshot*> by_seq;
  for (const auto& s : m.snapshots) by_seq.push_back(&s);
  std::sort(by_seq.begin(), by_seq.end(),
            [](const auto* a, const auto* b) { return a->sequence_number > b->sequence_number; });
  for (size_t i = 0; i < by_seq.size(); ++i) {
    if (static_cast<int>(i) < retain_last || by_seq[i]->timestamp_ms >= cutoff_ms) {
      keep.insert(by_seq[i]->snapshot_id);
    }
  }
  return keep;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<ExpireReport> ExpireSnapshots(const DatasetConfig& config, Store& store,
                                     const ExpireOptions& options) {
  ExpireReport report;
  if (!UsesIceberg(config)) {
    return Status::Invalid("table " + config.write.table + " of dataset '" + config.name +
                           "' is a Hive table (write.table_format: " + config.write.table_format +
                           "), which has no snapshots to expire");
  }
  const int64_t now = options.now_ms ? options.now_ms : NowMs();
  const int64_t cutoff = now - options.older_than_ms;
  const int retain_last = std::max(1, options.retain_last);
  const std::string table_dir = TableDir(config);
  const std::string meta_dir = IcebergMetadataDir(config);

  // 1. Commit the metadata without the expired snapshots (compare-and-set, re-planned on a race).
  std::optional<IcebergTableState> state;
  iceberg::TableMetadata old_metadata;
  std::string old_location;
  iceberg::TableMetadata next;
  std::string location;
  std::unique_ptr<CommitGate> gate;  // taken after kGateAfterLostRaces lost races
  std::string readers_location;      // the catalog readers' version, when behind the writers'
  for (int attempt = 1;; ++attempt) {
    report.attempts = attempt;
    if (attempt > kGateAfterLostRaces && !gate && !options.dry_run) {
      WEIR_ASSIGN_OR_RETURN(gate, CommitGate::Acquire(config));
    }
    WEIR_ASSIGN_OR_RETURN(state, LoadIcebergTable(config, store));
    if (!state) return report;  // no table yet: nothing to expire
    old_metadata = state->metadata;
    old_location = state->row.metadata_location;
    std::set<int64_t> keep = Retained(old_metadata, cutoff, retain_last);
    // Catalog readers may still be given an older version (a commit's files being published, or
    // a crashed run's until recovery): its snapshot and metadata file stay, or they would be
    // handed a version whose files are gone.
    readers_location.clear();
    if (!state->row.published_location.empty() && state->row.published_location != old_location) {
      readers_location = state->row.published_location;
      WEIR_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(LocalPath(readers_location)));
      WEIR_ASSIGN_OR_RETURN(auto readers, iceberg::ParseTableMetadata(text, readers_location));
      if (readers.current_snapshot_id) keep.insert(*readers.current_snapshot_id);
    }
    report.expired_snapshots.clear();
    next = old_metadata;
    next.snapshots.clear();
    for (const auto& s : old_metadata.snapshots) {
      if (keep.count(s.snapshot_id)) {
        next.snapshots.push_back(s);
      } else {
        report.expired_snapshots.push_back(s.snapshot_id);
      }
    }
    report.retained_snapshots = static_cast<int64_t>(next.snapshots.size());
    next.snapshot_log.erase(
        std::remove_if(next.snapshot_log.begin(), next.snapshot_log.end(),
                       [&](const auto& e) { return !keep.count(e.snapshot_id); }),
        next.snapshot_log.end());
    next.metadata_log.push_back({old_metadata.last_updated_ms, old_location});
    // Earlier metadata files older than the threshold describe expired states of the table
    // (their snapshots' files are about to go): they leave the log, and are deleted below.
    next.metadata_log.erase(std::remove_if(next.metadata_log.begin(), next.metadata_log.end(),
                                           [&](const auto& e) { return e.timestamp_ms < cutoff; }),
                            next.metadata_log.end());
    iceberg::TrimMetadataLog(next);
    next.last_updated_ms = std::max(now, old_metadata.last_updated_ms);
    location = old_location;
    if (report.expired_snapshots.empty() ||
        options.dry_run) {  // nothing to commit (or not allowed to)
      if (report.expired_snapshots.empty()) next = old_metadata;
      break;
    }
    WEIR_ASSIGN_OR_RETURN(int64_t version, iceberg::MetadataVersion(old_location));
    WEIR_ASSIGN_OR_RETURN(
        location, WriteMetadataFile(meta_dir, version + 1, iceberg::TableMetadataToJson(next)));
    Status st = store.MoveIcebergPointer(
        IcebergPointerMove{kIcebergNamespace, config.write.table, old_location, location, config.name});
    if (st.code() == StatusCode::kAborted && attempt < 100) {
      (void)fs::RemoveFile(location);  // never committed: no reader can know it
      continue;
    }
    WEIR_RETURN_IF_ERROR(st);
    WEIR_RETURN_IF_ERROR(UpdateHint(config, store, location));
    break;
  }
  gate.reset();  // deleting files needs no gate: nothing a commit writes is touched
  report.metadata_location = location;

  // 2. What the retained snapshots reference, and what only the expired ones did.
  References keep, expired;
  for (const auto& s : next.snapshots) {
    WEIR_RETURN_IF_ERROR(AddReferences(next, s.snapshot_id, /*live_only=*/true,
                                       /*tolerant=*/false, keep));
  }
  for (int64_t id : report.expired_snapshots) {
    WEIR_RETURN_IF_ERROR(AddReferences(old_metadata, id, false, /*tolerant=*/true, expired));
  }
  std::set<std::string> keep_metadata = {location};
  if (!readers_location.empty()) keep_metadata.insert(LocalPath(readers_location));
  for (const auto& e : next.metadata_log) keep_metadata.insert(LocalPath(e.metadata_file));
  WEIR_ASSIGN_OR_RETURN(int64_t current_version, iceberg::MetadataVersion(location));

  // A snapshot committed while expire ran (the pointer moved on): what it references is kept too.
  if (!options.dry_run) {
    WEIR_ASSIGN_OR_RETURN(auto latest, LoadIcebergTable(config, store));
    if (latest && latest->row.metadata_location != location) {
      keep_metadata.insert(latest->row.metadata_location);
      for (const auto& e : latest->metadata.metadata_log) keep_metadata.insert(e.metadata_file);
      for (const auto& s : latest->metadata.snapshots) {
        if (!next.SnapshotById(s.snapshot_id)) {
          WEIR_RETURN_IF_ERROR(AddReferences(latest->metadata, s.snapshot_id, true, false, keep));
        }
      }
    }
  }
  // The store's live files are never deleted, whatever the metadata says.
  std::set<std::string> store_live, store_known;
  {
    WEIR_ASSIGN_OR_RETURN(auto files, store.Files(config.name, "", ""));
    for (const auto& f : files) {
      if (f.state == "pending" || f.state == "published") store_live.insert(f.path);
      store_known.insert(f.path);
    }
  }

  // 3. Candidates: every file under data/ and metadata/.
  std::vector<std::pair<std::string, std::string>> doomed;  // (path, kind)
  const int64_t orphan_cutoff_s = std::min(cutoff / 1000, now / 1000 - kMinOrphanAgeSeconds);
  for (const std::string sub : {"data", "metadata"}) {
    const std::string dir = table_dir + "/" + sub;
    if (!fs::Exists(dir)) continue;
    WEIR_ASSIGN_OR_RETURN(auto listed, fs::ListFilesWithInfo(dir));  // local or on S3
    for (const auto& file : listed) {
      const std::string path = dir + "/" + file.rel;
      if (keep.Has(path) || keep_metadata.count(path) || store_live.count(path)) continue;
      const std::string name = path.substr(path.rfind('/') + 1);
      if (sub == "metadata" && name == "version-hint.text") continue;
      std::string kind;
      if (expired.data_files.count(path)) {
        kind = "data";
      } else if (expired.manifests.count(path)) {
        kind = "manifest";
      } else if (expired.manifest_lists.count(path)) {
        kind = "manifest_list";
      } else if (sub == "metadata" && EndsWith(name, ".metadata.json")) {
        // Older than the current version and out of the log: no reader of the table reaches it.
        // A newer one may be a writer's, about to be committed: only the orphan rule applies.
        auto v = iceberg::MetadataVersion(path);
        if (v.ok() && *v < current_version) kind = "metadata";
      }
      if (kind.empty() && file.mtime_s < orphan_cutoff_s) kind = "orphan";
      if (kind.empty()) continue;
      doomed.emplace_back(path, kind);
      report.bytes += file.size;
    }
  }
  // Error-record files the store never recorded: a crashed attempt's, uploaded before its
  // commit (on S3 error files get their final names before the commit, as data files do; on
  // local disk they are staged under a hidden folder, which recovery clears).
  if (fs::Exists(ErrorsDir(config))) {
    WEIR_ASSIGN_OR_RETURN(auto listed, fs::ListFilesWithInfo(ErrorsDir(config)));
    for (const auto& file : listed) {
      const std::string path = ErrorsDir(config) + "/" + file.rel;
      if (file.rel.empty() || file.rel[0] == '_' || file.rel[0] == '.') continue;
      if (store_known.count(path) || file.mtime_s >= orphan_cutoff_s) continue;
      doomed.emplace_back(path, "orphan");
      report.bytes += file.size;
    }
  }
  for (const auto& [path, kind] : doomed) {
    if (kind == "data") report.data_files.push_back(path);
    if (kind == "manifest") report.manifests.push_back(path);
    if (kind == "manifest_list") report.manifest_lists.push_back(path);
    if (kind == "metadata") report.metadata_files.push_back(path);
    if (kind == "orphan") report.orphans.push_back(path);
  }
  if (options.dry_run) return report;

  // 4. Delete, then forget the store rows of deleted data files (state `replaced`).
  std::set<std::string> gone;
  for (const auto& [path, kind] : doomed) {
    WEIR_RETURN_IF_ERROR(CheckDatasetOutputPath(config, path));
    WEIR_RETURN_IF_ERROR(fs::RemoveFile(path));
    gone.insert(path);
  }
  WEIR_ASSIGN_OR_RETURN(auto files, store.Files(config.name, "data", "replaced"));
  std::vector<int64_t> forget;
  for (const auto& f : files) {
    if (gone.count(f.path)) forget.push_back(f.id);
  }
  if (!forget.empty()) WEIR_RETURN_IF_ERROR(store.DeleteFiles(forget));
  fs::PruneEmptyFolders(table_dir + "/data");  // partitions whose files all expired
  return report;
}

}  // namespace weir
