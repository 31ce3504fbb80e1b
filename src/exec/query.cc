#include "exec/query.h"
#include "exec/rules_stage.h"

#include <cctype>

#include <duckdb.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <optional>
#include <set>
#include <vector>

#include "core/text.h"
#include "exec/lake_check.h"
#include "exec/iceberg_table.h"
#include "exec/lake_claim.h"
#include "exec/lake_history.h"
#include "exec/runner.h"
#include "geo/geo_index.h"
#include "geo/geodata_function.h"
#include "io/fs.h"

namespace weir {

std::string SqlQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

namespace {

// DuckDB reads local files here (no network extension is installed), so a lake on S3 is read
// through local copies: <LocalStateDir>/_cache/<bucket>/<key>. Lake objects have unique names and
// never change, so a copy of the committed size is the object; it is fetched once, on several
// threads. Files whose object is missing or of another size than committed are returned in
// `broken` (and keep their remote path); the others' paths become their copies'.
void UseLocalCopies(const DatasetConfig& config, std::vector<CatalogFile>& files,
                    std::vector<LakeFileProblem>& broken) {
  const std::string cache = LocalStateDir(config) + "/_cache";
  std::vector<size_t> remote;
  for (size_t i = 0; i < files.size(); ++i) {
    if (fs::IsRemote(files[i].path)) remote.push_back(i);
  }
  if (remote.empty()) return;
  std::vector<std::optional<std::string>> problems(files.size());
  auto fetch = [&](size_t i) -> std::optional<std::string> {
    const CatalogFile& f = files[i];
    const std::string local = cache + "/" + f.path.substr(5);  // after "s3://"
    auto size = fs::FileSize(local);
    if (size.ok() && *size == f.bytes) return std::nullopt;
    auto bytes = fs::ReadFile(f.path);
    if (!bytes.ok()) {
      return bytes.status().code() == StatusCode::kNotFound ? std::string("missing")
                                                            : "unreadable: " + bytes.status().message();
    }
    if (auto p = SizeProblem(f, bytes->size())) return p;
    const std::string tmp = local + ".part-" + std::to_string(i);
    Status st = fs::CreateDirs(std::filesystem::path(local).parent_path().string());
    if (st.ok()) st = fs::WriteFile(tmp, *bytes);
    if (st.ok()) st = fs::Rename(tmp, local);
    if (!st.ok()) return "cannot be cached locally: " + st.message();
    return std::nullopt;
  };
  constexpr size_t kThreads = 8;
  for (size_t start = 0; start < remote.size(); start += kThreads) {
    std::vector<std::future<std::optional<std::string>>> running;
    for (size_t k = start; k < std::min(remote.size(), start + kThreads); ++k) {
      running.push_back(std::async(std::launch::async, fetch, remote[k]));
    }
    for (size_t k = 0; k < running.size(); ++k) problems[remote[start + k]] = running[k].get();
  }
  for (size_t i : remote) {
    if (problems[i]) {
      broken.push_back({files[i], *problems[i]});
    } else {
      files[i].path = cache + "/" + files[i].path.substr(5);
    }
  }
}

const char* DuckType(ColumnType t) {
  switch (t) {
    case ColumnType::kString: return "VARCHAR";
    case ColumnType::kJson: return "JSON";
    case ColumnType::kInt64: return "BIGINT";
    case ColumnType::kDouble: return "DOUBLE";
    case ColumnType::kBool: return "BOOLEAN";
    case ColumnType::kTimestampMs: return "TIMESTAMPTZ";
    case ColumnType::kDate: return "DATE";
  }
  return "VARCHAR";
}

std::string Ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Schema of the table as weir writes it: projected columns, then transform outputs.
std::vector<ColumnSchema> TableSchema(const DatasetConfig& c,
                                      const std::vector<std::shared_ptr<const geo::GeoIndex>>& geo) {
  std::vector<ColumnSchema> s;
  for (const auto& col : c.write.columns) s.push_back({col.name, col.type});
  for (const auto& g : geo) {
    for (const auto& name : g->output_columns()) s.push_back({name, ColumnType::kString});
  }
  return s;
}

// `CAST(NULL AS type) AS name, ...` for every column: the shape of a table without rows.
std::string TypedNulls(const std::vector<ColumnSchema>& schema) {
  std::string out;
  for (const auto& c : schema) {
    if (!out.empty()) out += ", ";
    out += "CAST(NULL AS " + std::string(DuckType(c.type)) + ") AS " + Ident(c.name);
  }
  return out;
}

}  // namespace

struct LakeQuery::Impl {
  duckdb_database db = nullptr;
  duckdb_connection con = nullptr;
  ~Impl() {
    if (con) duckdb_disconnect(&con);
    if (db) duckdb_close(&db);
  }
  Status Run(const std::string& sql) {
    duckdb_result r;
    if (duckdb_query(con, sql.c_str(), &r) == DuckDBError) {
      std::string msg = duckdb_result_error(&r);
      duckdb_destroy_result(&r);
      return Status::Invalid(msg);
    }
    duckdb_destroy_result(&r);
    return Status::OK();
  }
  // The first column of every row of `sql` (e.g. the names a DESCRIBE lists).
  Result<std::set<std::string>> Columns(const std::string& sql) {
    duckdb_result r;
    if (duckdb_query(con, sql.c_str(), &r) == DuckDBError) {
      std::string msg = duckdb_result_error(&r);
      duckdb_destroy_result(&r);
      return Status::Invalid(msg);
    }
    std::set<std::string> out;
    for (idx_t row = 0; row < duckdb_row_count(&r); ++row) {
      char* v = duckdb_value_varchar(&r, 0, row);
      if (v) out.insert(v);
      duckdb_free(v);
    }
    duckdb_destroy_result(&r);
    return out;
  }
};

LakeQuery::LakeQuery(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LakeQuery::~LakeQuery() = default;

Result<std::vector<CatalogFile>> TimeTravelFiles(const DatasetConfig& config, Store& store,
                                                 const QueryAt& at) {
  const std::string what = "table '" + config.write.table + "'";
  const std::string lists = "; `weir lake snapshots " + config.file + "` lists its snapshots";
  if (!UsesIceberg(config)) {
    return Status::Invalid("time travel reads Iceberg snapshots; " + what +
                           " is a Hive table (write.table_format: " + config.write.table_format +
                           ", write.format: " + config.write.format + ") without snapshots");
  }
  WEIR_ASSIGN_OR_RETURN(auto table, OpenLakeTable(config, store));
  if (!table || table->metadata.snapshots.empty()) {
    return Status::Invalid(what +
                           " has no Iceberg snapshot yet, so there is nothing to travel to "
                           "(time travel reads the snapshots `weir run` commits)");
  }
  int64_t id = 0;
  if (at.snapshot_id) {
    id = *at.snapshot_id;
    if (!table->metadata.SnapshotById(id)) {
      return Status::NotFound("snapshot " + std::to_string(id) + " is not a snapshot of " + what +
                              " (or was expired)" + lists);
    }
  } else {
    auto picked = SnapshotAsOf(table->metadata, *at.as_of_ms);
    if (!picked.ok()) {
      return Status(picked.status().code(),
                    what + " as of the given time: " + picked.status().message() + lists);
    }
    id = *picked;
  }
  WEIR_ASSIGN_OR_RETURN(auto files, SnapshotFiles(*table, id));
  return files;
}

namespace {
// A partition column of a view: values come back as text from the path (DuckDB decodes %XX
// escapes but keeps Hive's NULL marker literally), so map the marker to NULL and cast.
std::string PartitionColumn(const ColumnSchema& c) {
  return "CAST(NULLIF(" + Ident(c.name) + ", '__HIVE_DEFAULT_PARTITION__') AS " +
         DuckType(c.type) + ") AS " + Ident(c.name);
}
}  // namespace

Result<std::unique_ptr<LakeQuery>> LakeQuery::Open(const DatasetConfig& config, Store& store,
                                                   const QueryAt& at) {
  auto impl = std::make_unique<Impl>();
  if (duckdb_open(nullptr, &impl->db) == DuckDBError) return Status::Internal("cannot open DuckDB");
  if (duckdb_connect(impl->db, &impl->con) == DuckDBError) return Status::Internal("cannot connect to DuckDB");
  WEIR_RETURN_IF_ERROR(impl->Run("SET TimeZone = 'UTC'"));

  // Geo layers of the dataset: their columns are part of the table, and the first one backs the
  // geodata(lon, lat) SQL function.
  std::vector<std::shared_ptr<const geo::GeoIndex>> geo;
  for (const auto& t : config.transforms) {
    if (!t.geo) continue;
    auto index = geo::GeoIndex::Load(t.geo->layers);
    if (!index.ok()) return index.status().WithContext("transforms.geo");
    geo.push_back(*index);
  }
  if (!geo.empty()) WEIR_RETURN_IF_ERROR(geo::RegisterGeodataFunction(impl->con, geo.front()));

  // One view per table: the dataset's own (unless write.connector is none) and its rules'
  // derived records (exec/rules_stage.h), which time travel does not apply to.
  auto make_view = [&](const DatasetConfig& config, const QueryAt& at,
                       const std::vector<std::shared_ptr<const geo::GeoIndex>>& geo) -> Status {
    std::vector<CatalogFile> files;
    // Time travel reads one Iceberg snapshot's live files instead of the catalog's published ones.
    if (at.snapshot_id || at.as_of_ms) {
      WEIR_ASSIGN_OR_RETURN(files, TimeTravelFiles(config, store, at));
    } else {
      WEIR_ASSIGN_OR_RETURN(files, store.Files(config.name, "data", "published"));
    }
    // A store copied from another project folder before paths were relative names the
    // original's files: never answer from them (exec/lake_claim.h).
    for (const auto& f : files) WEIR_RETURN_IF_ERROR(CheckDatasetOutputPath(config, f.path));
    std::vector<ColumnSchema> schema = TableSchema(config, geo);
    const auto& parts = config.write.partition_by;
    const std::string table_what = "table '" + config.write.table + "'";

    // A published file that is gone or damaged must not take every query down (the error view
    // included): the view of the broken table raises a message naming the file and the fix when
    // it is read, and the other views work.
    std::vector<LakeFileProblem> broken;
    for (const auto& f : files) {
      if (fs::IsRemote(f.path)) continue;  // checked as it is fetched (UseLocalCopies)
      if (auto p = CatalogFileProblem(f)) broken.push_back({f, *p});
    }
    UseLocalCopies(config, files, broken);
    std::string view = "CREATE VIEW " + Ident(config.write.table) + " AS ";
    if (files.empty() || !broken.empty()) {
      view += "SELECT " + TypedNulls(schema);
      if (!broken.empty()) {
        view += " FROM range(1) WHERE error(" +
                SqlQuote(BrokenFilesMessage(config, table_what, broken)) + ") IS NULL";
      } else {
        view += " LIMIT 0";
      }
    } else {
      std::string list = "[";
      for (size_t i = 0; i < files.size(); ++i) list += (i ? "," : "") + SqlQuote(files[i].path);
      list += "]";
      std::string hive_types;
      for (const auto& p : parts) hive_types += (hive_types.empty() ? "" : ", ") + SqlQuote(p) + ": 'VARCHAR'";
      // Iceberg data files hold the partition columns themselves; Hive files only in their paths.
      const bool parts_in_files = UsesIceberg(config);
      std::string opts = parts.empty() || parts_in_files
                             ? "hive_partitioning = false"
                             : "hive_partitioning = true, hive_types = {" + hive_types + "}";
      if (config.write.format == "parquet") {
        // Files written before a compatible schema change (exec/table_schema.h) differ from newer
        // ones: union_by_name reads each file by column name (without it DuckDB reads every file
        // with the first file's schema, truncating a widened double to int64), columns a file
        // lacks come back NULL, and each column is cast to the config's current type. A column no
        // published file has yet (just added) is a typed NULL.
        const std::string scan = "read_parquet(" + list + ", union_by_name = true, " + opts + ")";
        WEIR_ASSIGN_OR_RETURN(auto present, impl->Columns("DESCRIBE SELECT * FROM " + scan));
        std::string select;
        for (const auto& c : schema) {
          if (!select.empty()) select += ", ";
          bool is_part = !parts_in_files && std::find(parts.begin(), parts.end(), c.name) != parts.end();
          if (is_part) {
            select += PartitionColumn(c);
          } else if (present.count(c.name)) {
            select += "CAST(" + Ident(c.name) + " AS " + DuckType(c.type) + ") AS " + Ident(c.name);
          } else {
            select += "CAST(NULL AS " + std::string(DuckType(c.type)) + ") AS " + Ident(c.name);
          }
        }
        view += "SELECT " + select + " FROM " + scan;
      } else {
        // JSON lines are read with the config's columns and types: missing keys are NULL and
        // widened types parse from the text.
        std::string select;
        for (const auto& c : schema) {
          if (!select.empty()) select += ", ";
          bool is_part = std::find(parts.begin(), parts.end(), c.name) != parts.end();
          if (is_part) {
            select += PartitionColumn(c);
          } else {
            select += Ident(c.name);
          }
        }
        std::string cols;
        for (const auto& c : schema) {
          if (std::find(parts.begin(), parts.end(), c.name) != parts.end()) continue;
          cols += (cols.empty() ? "" : ", ") + SqlQuote(c.name) + ": '" + DuckType(c.type) + "'";
        }
        view += "SELECT " + select + " FROM read_json(" + list + ", format = 'newline_delimited', columns = {" +
                cols + "}, " + opts + ")";
      }
    }
    WEIR_RETURN_IF_ERROR(impl->Run(view).WithContext("creating view " + config.write.table));
    return Status::OK();
  };
  if (config.write.connector != "none") WEIR_RETURN_IF_ERROR(make_view(config, at, geo));
  if (config.rules && config.rules->output.connector == "lake") {
    WEIR_RETURN_IF_ERROR(make_view(DerivedTableConfig(config), {}, {}));
  }

  WEIR_ASSIGN_OR_RETURN(auto errs, store.Files(config.name, "errors", "published"));
  for (const auto& f : errs) WEIR_RETURN_IF_ERROR(CheckDatasetOutputPath(config, f.path));
  std::vector<LakeFileProblem> broken_errs;
  for (const auto& f : errs) {
    if (fs::IsRemote(f.path)) continue;
    if (auto p = CatalogFileProblem(f)) broken_errs.push_back({f, *p});
  }
  UseLocalCopies(config, errs, broken_errs);
  std::string ev = "CREATE VIEW " + Ident(config.write.table + "_errors") + " AS ";
  const char* ecols =
      "{'dataset': 'VARCHAR', 'task': 'BIGINT', 'file': 'VARCHAR', 'start_offset': 'BIGINT', "
      "'end_offset': 'BIGINT', 'record_number': 'BIGINT', 'reason': 'VARCHAR', 'excerpt': 'VARCHAR', "
      "'excerpt_base64': 'VARCHAR'}";
  const char* enulls =
      "NULL::VARCHAR AS dataset, NULL::BIGINT AS task, NULL::VARCHAR AS file, "
      "NULL::BIGINT AS start_offset, NULL::BIGINT AS end_offset, NULL::BIGINT AS record_number, "
      "NULL::VARCHAR AS reason, NULL::VARCHAR AS excerpt, NULL::VARCHAR AS excerpt_base64";
  if (!broken_errs.empty()) {
    ev += std::string("SELECT ") + enulls + " FROM range(1) WHERE error(" +
          SqlQuote(
              BrokenFilesMessage(config, "view '" + config.write.table + "_errors'", broken_errs)) +
          ") IS NULL";
  } else if (errs.empty()) {
    ev += std::string("SELECT ") + enulls + " LIMIT 0";
  } else {
    std::string list = "[";
    for (size_t i = 0; i < errs.size(); ++i) list += (i ? "," : "") + SqlQuote(errs[i].path);
    list += "]";
    ev += std::string("SELECT * FROM read_json(") + list + ", format = 'newline_delimited', columns = " + ecols + ")";
  }
  WEIR_RETURN_IF_ERROR(impl->Run(ev).WithContext("creating view of error records"));
  return std::unique_ptr<LakeQuery>(new LakeQuery(std::move(impl)));
}

Result<std::string> LakeQuery::Scalar(const std::string& sql) {
  duckdb_result r;
  if (duckdb_query(impl_->con, sql.c_str(), &r) == DuckDBError) {
    std::string msg = duckdb_result_error(&r);
    duckdb_destroy_result(&r);
    return Status::Invalid(msg);
  }
  std::string out;
  if (duckdb_row_count(&r) > 0 && duckdb_column_count(&r) > 0 && !duckdb_value_is_null(&r, 0, 0)) {
    char* v = duckdb_value_varchar(&r, 0, 0);
    out = v ? v : "";
    duckdb_free(v);
  }
  duckdb_destroy_result(&r);
  return out;
}

namespace {

// DuckDB 1.4 repeats the "LINE n: ... ^" context of a parser error; keep it once.
std::string CleanDuckDBError(std::string msg) {
  size_t first = msg.find("LINE ");
  if (first == std::string::npos) return msg;
  size_t second = msg.find("\nLINE ", first);
  if (second == std::string::npos) return msg;
  auto trim = [](std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
  };
  if (trim(msg.substr(first, second + 1 - first)) == trim(msg.substr(second + 1))) {
    msg = trim(msg.substr(0, second));
  }
  return msg;
}

}  // namespace

std::vector<std::string> SplitSqlStatements(const std::string& sql) {
  std::vector<std::string> out;
  std::string cur;
  bool content = false;  // the current piece has something besides blanks and comments
  auto flush = [&] {
    if (content) out.push_back(cur);
    cur.clear();
    content = false;
  };
  const size_t n = sql.size();
  for (size_t i = 0; i < n;) {
    char c = sql[i];
    if (c == '-' && i + 1 < n && sql[i + 1] == '-') {  // line comment
      size_t e = sql.find('\n', i);
      e = e == std::string::npos ? n : e;
      cur.append(sql, i, e - i);
      i = e;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {  // block comment
      size_t e = sql.find("*/", i + 2);
      e = e == std::string::npos ? n : e + 2;
      cur.append(sql, i, e - i);
      i = e;
    } else if (c == '\'' || c == '"') {  // string or quoted identifier; doubled quotes stay inside
      bool backslash = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e');
      size_t j = i + 1;
      while (j < n) {
        if (backslash && sql[j] == '\\') {
          j += 2;
          continue;
        }
        if (sql[j] == c) {
          if (j + 1 < n && sql[j + 1] == c) {
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      size_t e = std::min(n, j + 1);
      cur.append(sql, i, e - i);
      content = true;
      i = e;
    } else if (c == '$') {  // dollar quoting: $$...$$ or $tag$...$tag$
      size_t k = i + 1;
      while (k < n && (std::isalnum(static_cast<unsigned char>(sql[k])) || sql[k] == '_')) ++k;
      if (k < n && sql[k] == '$' &&
          (k == i + 1 || !std::isdigit(static_cast<unsigned char>(sql[i + 1])))) {
        const std::string tag = sql.substr(i, k + 1 - i);
        size_t e = sql.find(tag, k + 1);
        e = e == std::string::npos ? n : e + tag.size();
        cur.append(sql, i, e - i);
        i = e;
      } else {
        cur += c;
        ++i;
      }
      content = true;
    } else if (c == ';') {
      flush();
      ++i;
    } else {
      if (!std::isspace(static_cast<unsigned char>(c))) content = true;
      cur += c;
      ++i;
    }
  }
  flush();
  return out;
}

Status LakeQuery::Execute(const std::string& sql, QueryFormat format, FILE* out) {
  // Parse the whole text first: a syntax error anywhere is reported before anything runs, and
  // DuckDB's statement count says how many results to print (as its own CLI does, in order).
  duckdb_extracted_statements extracted = nullptr;
  const idx_t count = duckdb_extract_statements(impl_->con, sql.c_str(), &extracted);
  if (count == 0) {
    const char* e = duckdb_extract_statements_error(extracted);
    std::string msg = e ? CleanDuckDBError(e) : "no SQL statement to run";
    duckdb_destroy_extracted(&extracted);
    return Status::Invalid(msg);
  }
  duckdb_destroy_extracted(&extracted);
  std::vector<std::string> statements = SplitSqlStatements(sql);
  if (statements.size() != count) statements = {sql};  // our split disagrees: let DuckDB run it whole
  for (size_t i = 0; i < statements.size(); ++i) {
    if (i > 0 && format != QueryFormat::kJson) std::fputc('\n', out);
    Status st = ExecuteOne(statements[i], format, out);
    if (!st.ok() && statements.size() > 1) {
      return Status::Invalid("statement " + std::to_string(i + 1) + " of " + std::to_string(statements.size()) +
                             ": " + st.message());
    }
    WEIR_RETURN_IF_ERROR(st);
  }
  return Status::OK();
}

Status LakeQuery::ExecuteOne(const std::string& sql, QueryFormat format, FILE* out) {
  duckdb_result r;
  if (duckdb_query(impl_->con, sql.c_str(), &r) == DuckDBError) {
    std::string msg = CleanDuckDBError(duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    return Status::Invalid(msg);
  }
  idx_t ncol = duckdb_column_count(&r), nrow = duckdb_row_count(&r);
  std::vector<std::string> names(ncol);
  for (idx_t c = 0; c < ncol; ++c) names[c] = duckdb_column_name(&r, c);
  std::vector<std::vector<std::string>> cells(nrow, std::vector<std::string>(ncol));
  std::vector<std::vector<bool>> nulls(nrow, std::vector<bool>(ncol));
  std::vector<bool> numeric(ncol);
  for (idx_t c = 0; c < ncol; ++c) {
    duckdb_type t = duckdb_column_type(&r, c);
    numeric[c] = t == DUCKDB_TYPE_BIGINT || t == DUCKDB_TYPE_INTEGER || t == DUCKDB_TYPE_DOUBLE ||
                 t == DUCKDB_TYPE_HUGEINT || t == DUCKDB_TYPE_SMALLINT || t == DUCKDB_TYPE_TINYINT ||
                 t == DUCKDB_TYPE_UBIGINT || t == DUCKDB_TYPE_FLOAT || t == DUCKDB_TYPE_DECIMAL ||
                 t == DUCKDB_TYPE_BOOLEAN;
  }
  // duckdb_value_varchar gives null for some types (e.g. TIMESTAMP WITH TIME ZONE, what the lake's
  // timestamp columns are); then DuckDB itself casts every column to text in a second query.
  bool unprintable = false;
  auto read_cells = [&](duckdb_result& res) {
    for (idx_t row = 0; row < nrow; ++row) {
      for (idx_t c = 0; c < ncol; ++c) {
        nulls[row][c] = duckdb_value_is_null(&res, c, row);
        if (nulls[row][c]) continue;
        char* v = duckdb_value_varchar(&res, c, row);
        if (v == nullptr) unprintable = true;
        cells[row][c] = v ? v : "";
        duckdb_free(v);
      }
    }
  };
  read_cells(r);
  duckdb_destroy_result(&r);
  if (unprintable) {
    std::string inner = sql;
    while (!inner.empty() && (std::isspace(static_cast<unsigned char>(inner.back())) || inner.back() == ';')) {
      inner.pop_back();
    }
    const std::string wrapped = "SELECT CAST(COLUMNS(*) AS VARCHAR) FROM (" + inner + ") AS weir_q";
    duckdb_result t;
    if (duckdb_query(impl_->con, wrapped.c_str(), &t) != DuckDBError &&
        duckdb_row_count(&t) == nrow && duckdb_column_count(&t) == ncol) {
      read_cells(t);
    }
    duckdb_destroy_result(&t);
  }

  std::string o;
  if (format == QueryFormat::kCsv) {
    auto field = [&](const std::string& s) {
      if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
      std::string q = "\"";
      for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      return q + "\"";
    };
    for (idx_t c = 0; c < ncol; ++c) o += (c ? "," : "") + field(names[c]);
    o += "\n";
    for (idx_t row = 0; row < nrow; ++row) {
      for (idx_t c = 0; c < ncol; ++c) o += (c ? "," : "") + (nulls[row][c] ? "" : field(cells[row][c]));
      o += "\n";
    }
  } else if (format == QueryFormat::kJson) {
    // One JSON object per row (JSON lines); numbers stay numbers, everything else is text.
    for (idx_t row = 0; row < nrow; ++row) {
      o += "{";
      for (idx_t c = 0; c < ncol; ++c) {
        if (c) o += ",";
        AppendJsonString(o, names[c]);
        o += ":";
        if (nulls[row][c]) {
          o += "null";
        } else if (numeric[c] && cells[row][c] != "inf" && cells[row][c] != "-inf" &&
                   cells[row][c] != "nan") {
          o += cells[row][c];
        } else {
          AppendJsonString(o, cells[row][c]);
        }
      }
      o += "}\n";
    }
  } else {
    std::vector<size_t> w(ncol);
    for (idx_t c = 0; c < ncol; ++c) w[c] = names[c].size();
    for (idx_t row = 0; row < nrow; ++row) {
      for (idx_t c = 0; c < ncol; ++c) {
        if (nulls[row][c]) cells[row][c] = "NULL";
        w[c] = std::max(w[c], std::min<size_t>(cells[row][c].size(), 60));
      }
    }
    auto cell = [&](std::string s, size_t width, bool right) {
      if (s.size() > 60) s = s.substr(0, 57) + "...";
      std::string pad(width > s.size() ? width - s.size() : 0, ' ');
      return right ? pad + s : s + pad;
    };
    for (idx_t c = 0; c < ncol; ++c) o += (c ? " | " : "") + cell(names[c], w[c], false);
    o += "\n";
    for (idx_t c = 0; c < ncol; ++c) o += (c ? "-+-" : "") + std::string(w[c], '-');
    o += "\n";
    for (idx_t row = 0; row < nrow; ++row) {
      for (idx_t c = 0; c < ncol; ++c) o += (c ? " | " : "") + cell(cells[row][c], w[c], numeric[c]);
      o += "\n";
    }
    o += "(" + std::to_string(nrow) + (nrow == 1 ? " row)\n" : " rows)\n");
  }
  std::fwrite(o.data(), 1, o.size(), out);
  return Status::OK();
}

}  // namespace weir
