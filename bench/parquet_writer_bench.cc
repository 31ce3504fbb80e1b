// parquet_writer_bench: weir's native Parquet writer against DuckDB's COPY, in one process.
//
//   (a) small files: 30 rows x 8 columns, N files into a temp dir, per-file wall time of
//       WriteParquetFile (zstd and uncompressed) vs DuckDB `COPY (SELECT * FROM t) TO ...`
//       through the C API (the data already in a DuckDB table: DuckDB's best case);
//   (b) one big file: 1M rows x 8 columns with zstd: MB/s of input column bytes and rows/s, vs one
//       DuckDB COPY of the same rows.
// Every file written by weir is counted back with DuckDB as a sanity check.
//
// Usage: parquet_writer_bench [small_files=2000] [big_rows=1000000] [--weir-only]
// (--weir-only skips the DuckDB peers, for profiling the writer alone.)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "duckdb.h"
#include "lake/parquet_writer.h"

namespace {

using Clock = std::chrono::steady_clock;
using weir::ColumnBuffer;
using weir::ColumnSchema;
using weir::ColumnType;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Table {
  std::vector<ColumnSchema> schema;
  std::vector<ColumnBuffer> cols;
  std::vector<const ColumnBuffer*> Ptrs() const {
    std::vector<const ColumnBuffer*> p;
    for (const auto& c : cols) p.push_back(&c);
    return p;
  }
  size_t Bytes() const {  // raw payload bytes of the values, the "input size" for MB/s
    size_t n = 0;
    for (const auto& c : cols) {
      switch (c.type()) {
        case ColumnType::kString:
        case ColumnType::kJson: n += c.bytes().size(); break;
        case ColumnType::kBool: n += c.size(); break;
        case ColumnType::kDate: n += 4 * c.size(); break;
        default: n += 8 * c.size(); break;
      }
    }
    return n;
  }
};

// Event-like rows: url-ish unique string, low-cardinality event type, a json payload, an id, a
// price, a flag, an event time and a day; ~5% nulls in the nullable-looking columns.
Table MakeEvents(size_t rows, uint64_t seed) {
  Table t;
  const std::pair<const char*, ColumnType> cols[] = {
      {"url", ColumnType::kString},      {"event_type", ColumnType::kString},
      {"payload", ColumnType::kJson},    {"user_id", ColumnType::kInt64},
      {"price", ColumnType::kDouble},    {"ts", ColumnType::kTimestampMs},
      {"dt", ColumnType::kDate},         {"is_bot", ColumnType::kBool}};
  for (const auto& [name, type] : cols) {
    t.schema.push_back({name, type});
    t.cols.emplace_back(type);
  }
  std::mt19937_64 rng(seed);
  const char* types[] = {"view", "click", "purchase", "add_to_cart", "search", "login"};
  int64_t ts = 1700000000000;
  for (size_t r = 0; r < rows; ++r) {
    const uint64_t x = rng();
    t.cols[0].AppendString("https://shop.example.com/p/" + std::to_string(x % 5000000) + "?ref=" +
                           std::to_string(x % 97));
    t.cols[1].AppendString(types[x % 6]);
    if (x % 20 == 0) {
      t.cols[2].AppendNull();
    } else {
      t.cols[2].AppendString("{\"sku\":" + std::to_string(x % 100000) + ",\"qty\":" +
                             std::to_string(x % 7) + ",\"tags\":[\"a\",\"b\"]}");
    }
    t.cols[3].AppendInt64(static_cast<int64_t>(x % 1000000));
    if (x % 17 == 0) t.cols[4].AppendNull();
    else t.cols[4].AppendDouble(static_cast<double>(x % 100000) / 100.0);
    ts += static_cast<int64_t>(x % 50);
    t.cols[5].AppendInt64(ts);
    t.cols[6].AppendDate(static_cast<int32_t>(ts / 86400000));
    t.cols[7].AppendBool((x >> 20) % 10 == 0);
  }
  return t;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "failed: %s\n", what);
    std::exit(1);
  }
}

void Exec(duckdb_connection con, const std::string& sql) {
  duckdb_result res;
  if (duckdb_query(con, sql.c_str(), &res) != DuckDBSuccess) {
    std::fprintf(stderr, "duckdb: %s\nSQL: %s\n", duckdb_result_error(&res), sql.c_str());
    std::exit(1);
  }
  duckdb_destroy_result(&res);
}

int64_t CountRows(duckdb_connection con, const std::string& glob) {
  duckdb_result res;
  const std::string sql = "SELECT count(*) FROM read_parquet('" + glob + "')";
  Check(duckdb_query(con, sql.c_str(), &res) == DuckDBSuccess, "count query");
  const int64_t n = duckdb_value_int64(&res, 0, 0);
  duckdb_destroy_result(&res);
  return n;
}

// Loads `t` into DuckDB table `name` by writing it once with weir and reading it back (so both
// writers get identical data).
void LoadIntoDuckDb(duckdb_connection con, const Table& t, const std::string& name,
                    const std::string& dir) {
  const std::string path = dir + "/load_" + name + ".parquet";
  auto r = weir::WriteParquetFile(path, t.schema, t.Ptrs(), {});
  Check(r.ok(), "weir write for load");
  Exec(con, "CREATE OR REPLACE TABLE " + name + " AS SELECT * FROM read_parquet('" + path + "')");
}

}  // namespace

int main(int argc, char** argv) {
  const int small_files = argc > 1 ? std::atoi(argv[1]) : 2000;
  const size_t big_rows = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1000000;
  const bool weir_only = argc > 3 && std::string(argv[3]) == "--weir-only";
  char tmpl[] = "/tmp/weir_pq_bench_XXXXXX";
  Check(mkdtemp(tmpl) != nullptr, "mkdtemp");
  const std::string dir = tmpl;
  duckdb_database db;
  duckdb_connection con;
  Check(duckdb_open(nullptr, &db) == DuckDBSuccess, "duckdb_open");
  Check(duckdb_connect(db, &con) == DuckDBSuccess, "duckdb_connect");

  // ---- (a) small files ----
  const Table small = MakeEvents(30, 7);
  for (auto comp : {weir::ParquetWriteOptions::Compression::kZstd,
                    weir::ParquetWriteOptions::Compression::kNone}) {
    weir::ParquetWriteOptions opt;
    opt.compression = comp;
    const std::string sub = dir + (comp == weir::ParquetWriteOptions::Compression::kZstd
                                       ? "/weir_small_zstd"
                                       : "/weir_small_none");
    std::filesystem::create_directories(sub);
    uint64_t bytes = 0;
    const auto t0 = Clock::now();
    for (int i = 0; i < small_files; ++i) {
      auto r = weir::WriteParquetFile(sub + "/part-" + std::to_string(i) + ".parquet",
                                      small.schema, small.Ptrs(), opt);
      Check(r.ok(), "weir small write");
      bytes += *r;
    }
    const double s = Seconds(t0, Clock::now());
    // Encode only (no file system), the part the writer itself controls.
    const auto t1 = Clock::now();
    for (int i = 0; i < small_files; ++i) {
      auto r = weir::EncodeParquet(small.schema, small.Ptrs(), opt);
      Check(r.ok(), "weir small encode");
    }
    const double se = Seconds(t1, Clock::now());
    Check(CountRows(con, sub + "/*.parquet") == 30LL * small_files, "weir small read back");
    std::printf("weir   small files (%s): %d files, %.1f us/file (encode only %.1f us), "
                "%.0f bytes/file\n",
                comp == weir::ParquetWriteOptions::Compression::kZstd ? "zstd" : "none",
                small_files, 1e6 * s / small_files, 1e6 * se / small_files,
                static_cast<double>(bytes) / small_files);
  }
  if (!weir_only) LoadIntoDuckDb(con, small, "small", dir);
  for (const char* codec : {"zstd", "snappy"}) {
    if (weir_only) break;
    const std::string sub = dir + "/duck_small_" + codec;
    std::filesystem::create_directories(sub);
    const auto t0 = Clock::now();
    for (int i = 0; i < small_files; ++i) {
      Exec(con, "COPY (SELECT * FROM small) TO '" + sub + "/part-" + std::to_string(i) +
                    ".parquet' (FORMAT parquet, COMPRESSION " + codec + ")");
    }
    const double s = Seconds(t0, Clock::now());
    std::printf("duckdb small files (%s): %d files, %.1f us/file (COPY from a table)\n", codec,
                small_files, 1e6 * s / small_files);
  }

  // ---- (b) one big file ----
  const auto g0 = Clock::now();
  const Table big = MakeEvents(big_rows, 11);
  std::printf("generated %zu rows (%.1f MB of column values) in %.2f s\n", big_rows,
              big.Bytes() / 1e6, Seconds(g0, Clock::now()));
  for (auto comp : {weir::ParquetWriteOptions::Compression::kZstd,
                    weir::ParquetWriteOptions::Compression::kNone}) {
    weir::ParquetWriteOptions opt;
    opt.compression = comp;
    const std::string path = dir + "/weir_big.parquet";
    double best = 1e9;
    uint64_t size = 0;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = Clock::now();
      auto r = weir::WriteParquetFile(path, big.schema, big.Ptrs(), opt);
      best = std::min(best, Seconds(t0, Clock::now()));
      Check(r.ok(), "weir big write");
      size = *r;
    }
    Check(CountRows(con, path) == static_cast<int64_t>(big_rows), "weir big read back");
    double best_encode = 1e9;  // in memory only: no file system, no page cache copy
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = Clock::now();
      auto r = weir::EncodeParquet(big.schema, big.Ptrs(), opt);
      best_encode = std::min(best_encode, Seconds(t0, Clock::now()));
      Check(r.ok(), "weir big encode");
    }
    std::printf("weir   big file (%s): %.3f s, %.0f MB/s of input, %.2f M rows/s, file %.1f MB; "
                "encode only %.3f s (%.0f MB/s)\n",
                comp == weir::ParquetWriteOptions::Compression::kZstd ? "zstd" : "none", best,
                big.Bytes() / 1e6 / best, big_rows / 1e6 / best, size / 1e6, best_encode,
                big.Bytes() / 1e6 / best_encode);
  }
  if (!weir_only) LoadIntoDuckDb(con, big, "big", dir);
  for (const char* threads : {"1", "2"}) {
    if (weir_only) break;
    Exec(con, std::string("SET threads=") + threads);
    const std::string path = dir + "/duck_big.parquet";
    double best = 1e9;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = Clock::now();
      Exec(con, "COPY (SELECT * FROM big) TO '" + path + "' (FORMAT parquet, COMPRESSION zstd)");
      best = std::min(best, Seconds(t0, Clock::now()));
    }
    std::printf("duckdb big file (zstd, %s thread(s)): %.3f s, %.0f MB/s, %.2f M rows/s, "
                "file %.1f MB\n",
                threads, best, big.Bytes() / 1e6 / best, big_rows / 1e6 / best,
                std::filesystem::file_size(path) / 1e6);
  }

  duckdb_disconnect(&con);
  duckdb_close(&db);
  std::filesystem::remove_all(dir);
  return 0;
}
