// Tests of the native Parquet writer: every file is read back by DuckDB (the lake's reader) and
// every value, null and column type is compared with the source buffers.
#include "lake/parquet_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "duckdb.h"

namespace weir {
namespace {

namespace fs = std::filesystem;
using Compression = ParquetWriteOptions::Compression;

// A schema plus owned buffers, with the pointer view the writer takes.
struct Table {
  std::vector<ColumnSchema> schema;
  std::vector<ColumnBuffer> cols;

  void Add(std::string name, ColumnType t) {
    schema.push_back({std::move(name), t});
    cols.emplace_back(t);
  }
  std::vector<const ColumnBuffer*> Ptrs() const {
    std::vector<const ColumnBuffer*> p;
    for (const auto& c : cols) p.push_back(&c);
    return p;
  }
  size_t rows() const { return cols.empty() ? 0 : cols[0].size(); }
};

// Valid UTF-8 pieces, multi-byte ones included, so DuckDB accepts every string.
const char* const kPieces[] = {"a", "b",  "zz",     "é",  "日本",
                               "🙂", " ", "x\"y", "\\", "0123456789"};

std::string RandomString(std::mt19937_64& rng, int max_pieces, bool json_safe = false) {
  std::string s;
  const int n = static_cast<int>(rng() % (max_pieces + 1));
  // The first 7 pieces need no escaping inside a JSON string (DuckDB validates JSON columns).
  const size_t choices = json_safe ? 7 : std::size(kPieces);
  for (int k = 0; k < n; ++k) s += kPieces[rng() % choices];
  return s;
}

struct GenSpec {
  size_t rows = 0;
  double null_frac = 0.2;
  bool with_nan = true;  // doubles include NaN (which disables double min/max)
  uint64_t seed = 1;
};

// Columns: unique-ish strings (PLAIN path), low-cardinality strings (dictionary path), json,
// int64, double, bool, timestamp_ms, date, and an int64 column that is entirely null.
Table MakeRandomTable(const GenSpec& spec) {
  Table t;
  t.Add("s", ColumnType::kString);
  t.Add("s_low", ColumnType::kString);
  t.Add("j", ColumnType::kJson);
  t.Add("i", ColumnType::kInt64);
  t.Add("d", ColumnType::kDouble);
  t.Add("b", ColumnType::kBool);
  t.Add("ts", ColumnType::kTimestampMs);
  t.Add("dt", ColumnType::kDate);
  t.Add("all_null", ColumnType::kInt64);
  std::mt19937_64 rng(spec.seed);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<std::string> low_values;
  for (int k = 0; k < 20; ++k) {
    low_values.push_back("cat-" + std::to_string(k) + RandomString(rng, 3));
  }
  auto is_null = [&] { return unit(rng) < spec.null_frac; };
  for (size_t r = 0; r < spec.rows; ++r) {
    if (is_null()) t.cols[0].AppendNull();
    else t.cols[0].AppendString(std::to_string(r) + RandomString(rng, 12));
    if (is_null()) t.cols[1].AppendNull();
    else t.cols[1].AppendString(low_values[rng() % low_values.size()]);
    if (is_null()) t.cols[2].AppendNull();
    else t.cols[2].AppendString("{\"k\":" + std::to_string(rng() % 1000) + ",\"v\":\"" +
                                RandomString(rng, 4, true) + "\"}");
    if (is_null()) {
      t.cols[3].AppendNull();
    } else {
      const uint64_t pick = rng() % 50;
      const int64_t v = pick == 0   ? std::numeric_limits<int64_t>::min()
                        : pick == 1 ? std::numeric_limits<int64_t>::max()
                                    : static_cast<int64_t>(rng());
      t.cols[3].AppendInt64(v);
    }
    if (is_null()) {
      t.cols[4].AppendNull();
    } else {
      const uint64_t pick = rng() % 100;
      double v = (unit(rng) - 0.5) * 1e6;
      if (pick == 0) v = std::numeric_limits<double>::infinity();
      if (pick == 1) v = -std::numeric_limits<double>::infinity();
      if (pick == 2) v = -0.0;
      if (pick == 3 && spec.with_nan) v = std::nan("");
      t.cols[4].AppendDouble(v);
    }
    if (is_null()) t.cols[5].AppendNull();
    else t.cols[5].AppendBool(rng() & 1);
    if (is_null()) t.cols[6].AppendNull();
    else t.cols[6].AppendInt64(static_cast<int64_t>(rng() % 20000000000000ULL) - 10000000000000LL);
    if (is_null()) t.cols[7].AppendNull();
    else t.cols[7].AppendDate(static_cast<int32_t>(rng() % 200000) - 100000);
    t.cols[8].AppendNull();
  }
  return t;
}

// One in-memory DuckDB for the whole test binary.
class DuckDb {
 public:
  DuckDb() {
    EXPECT_EQ(duckdb_open(nullptr, &db_), DuckDBSuccess);
    EXPECT_EQ(duckdb_connect(db_, &con_), DuckDBSuccess);
  }
  ~DuckDb() {
    duckdb_disconnect(&con_);
    duckdb_close(&db_);
  }
  duckdb_connection con() { return con_; }

 private:
  duckdb_database db_ = nullptr;
  duckdb_connection con_ = nullptr;
};

DuckDb& Db() {
  static DuckDb* db = new DuckDb();  // never destroyed: outlives every test
  return *db;
}

// Runs `sql`; fails the test (with DuckDB's message) on error. Caller destroys the result.
bool Query(const std::string& sql, duckdb_result* res) {
  if (duckdb_query(Db().con(), sql.c_str(), res) != DuckDBSuccess) {
    ADD_FAILURE() << "duckdb: " << duckdb_result_error(res) << "\nSQL: " << sql;
    duckdb_destroy_result(res);
    return false;
  }
  return true;
}

// All rows of a query as strings ("NULL" for null), every value cast to VARCHAR by DuckDB.
std::vector<std::vector<std::string>> QueryStrings(const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  duckdb_result res;
  if (!Query(sql, &res)) return rows;
  const idx_t ncol = duckdb_column_count(&res);
  const idx_t nrow = duckdb_row_count(&res);
  for (idx_t r = 0; r < nrow; ++r) {
    std::vector<std::string> row;
    for (idx_t c = 0; c < ncol; ++c) {
      if (duckdb_value_is_null(&res, c, r)) {
        row.push_back("NULL");
      } else {
        char* v = duckdb_value_varchar(&res, c, r);
        row.push_back(v);
        duckdb_free(v);
      }
    }
    rows.push_back(std::move(row));
  }
  duckdb_destroy_result(&res);
  return rows;
}

// One scratch directory per test run, removed at exit unless WEIR_KEEP_TEST_FILES is set (to
// inspect the files with other readers).
struct ScratchDir {
  std::string path;
  ScratchDir() {
    path = (fs::temp_directory_path() / "weir_parquet_test_XXXXXX").string();
    if (mkdtemp(path.data()) == nullptr) std::abort();
  }
  ~ScratchDir() {
    std::error_code ec;
    if (std::getenv("WEIR_KEEP_TEST_FILES") == nullptr) fs::remove_all(path, ec);
  }
};

std::string TempDir() {
  static ScratchDir dir;
  return dir.path;
}

std::string TempPath(const std::string& name) { return TempDir() + "/" + name; }

uint64_t Bits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}

// Reads `path` with DuckDB and compares every value, null and column type with `t`.
void ExpectDuckDbReadsBack(const std::string& path, const Table& t) {
  std::string cols;
  for (const auto& c : t.schema) cols += (cols.empty() ? "\"" : ", \"") + c.name + "\"";
  const std::string sql = "SELECT " + cols + " FROM read_parquet('" + path +
                          "', file_row_number=true) ORDER BY file_row_number";
  duckdb_result res;
  ASSERT_TRUE(Query(sql, &res));
  ASSERT_EQ(duckdb_column_count(&res), t.schema.size());
  for (size_t c = 0; c < t.schema.size(); ++c) {
    const duckdb_type want = [&] {
      switch (t.schema[c].type) {
        case ColumnType::kString:
        case ColumnType::kJson: return DUCKDB_TYPE_VARCHAR;
        case ColumnType::kInt64: return DUCKDB_TYPE_BIGINT;
        case ColumnType::kDouble: return DUCKDB_TYPE_DOUBLE;
        case ColumnType::kBool: return DUCKDB_TYPE_BOOLEAN;
        case ColumnType::kTimestampMs: return DUCKDB_TYPE_TIMESTAMP_TZ;
        case ColumnType::kDate: return DUCKDB_TYPE_DATE;
      }
      return DUCKDB_TYPE_INVALID;
    }();
    EXPECT_EQ(duckdb_column_type(&res, c), want) << "column " << t.schema[c].name;
    duckdb_logical_type lt = duckdb_column_logical_type(&res, c);
    char* alias = duckdb_logical_type_get_alias(lt);
    const std::string alias_s = alias ? alias : "";
    if (alias) duckdb_free(alias);
    duckdb_destroy_logical_type(&lt);
    EXPECT_EQ(alias_s, t.schema[c].type == ColumnType::kJson ? "JSON" : "")
        << "column " << t.schema[c].name;
  }
  size_t row = 0;
  size_t mismatches = 0;
  while (true) {
    duckdb_data_chunk chunk = duckdb_fetch_chunk(res);
    if (!chunk) break;
    const idx_t n = duckdb_data_chunk_get_size(chunk);
    for (size_t c = 0; c < t.schema.size(); ++c) {
      duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, c);
      uint64_t* validity = duckdb_vector_get_validity(vec);
      void* data = duckdb_vector_get_data(vec);
      const ColumnBuffer& col = t.cols[c];
      for (idx_t k = 0; k < n && mismatches < 20; ++k) {
        const size_t r = row + k;
        ASSERT_LT(r, t.rows());
        const bool valid = validity == nullptr || duckdb_validity_row_is_valid(validity, k);
        if (valid == col.IsNull(r)) {
          ++mismatches;
          ADD_FAILURE() << "null mismatch at row " << r << " column " << t.schema[c].name;
          continue;
        }
        if (!valid) continue;
        bool same = true;
        std::string detail;
        switch (col.type()) {
          case ColumnType::kString:
          case ColumnType::kJson: {
            duckdb_string_t* s = static_cast<duckdb_string_t*>(data) + k;
            const std::string got(duckdb_string_t_data(s), duckdb_string_t_length(*s));
            same = got == col.StringAt(r);
            detail = "got '" + got + "' want '" + std::string(col.StringAt(r)) + "'";
            break;
          }
          case ColumnType::kInt64: {
            const int64_t got = static_cast<int64_t*>(data)[k];
            same = got == col.Int64At(r);
            detail = std::to_string(got) + " vs " + std::to_string(col.Int64At(r));
            break;
          }
          case ColumnType::kDouble: {
            const double got = static_cast<double*>(data)[k];
            const double want = col.DoubleAt(r);
            same = std::isnan(want) ? std::isnan(got) : Bits(got) == Bits(want);
            detail = std::to_string(got) + " vs " + std::to_string(want);
            break;
          }
          case ColumnType::kBool: {
            const bool got = static_cast<bool*>(data)[k];
            same = got == col.BoolAt(r);
            break;
          }
          case ColumnType::kTimestampMs: {
            // DuckDB holds TIMESTAMP WITH TIME ZONE as microseconds since the epoch.
            const int64_t got = static_cast<int64_t*>(data)[k];
            same = got == col.Int64At(r) * 1000;
            detail = std::to_string(got) + " vs " + std::to_string(col.Int64At(r)) + " ms";
            break;
          }
          case ColumnType::kDate: {
            const int32_t got = static_cast<int32_t*>(data)[k];
            same = got == col.DateAt(r);
            detail = std::to_string(got) + " vs " + std::to_string(col.DateAt(r));
            break;
          }
        }
        if (!same) {
          ++mismatches;
          ADD_FAILURE() << "value mismatch at row " << r << " column " << t.schema[c].name << ": "
                        << detail;
        }
      }
    }
    row += n;
    duckdb_destroy_data_chunk(&chunk);
  }
  duckdb_destroy_result(&res);
  EXPECT_EQ(row, t.rows()) << "row count read back";
}

struct RoundTripCase {
  size_t rows;
  Compression compression;
  size_t row_group_rows;
  size_t page_values;
};

std::string CaseName(const ::testing::TestParamInfo<RoundTripCase>& info) {
  const RoundTripCase& c = info.param;
  return "rows" + std::to_string(c.rows) +
         (c.compression == Compression::kZstd ? "_zstd" : "_none") + "_rg" +
         std::to_string(c.row_group_rows) + "_pg" + std::to_string(c.page_values);
}

class ParquetRoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(ParquetRoundTrip, DuckDbReadsEveryValue) {
  const RoundTripCase& p = GetParam();
  GenSpec spec;
  spec.rows = p.rows;
  spec.seed = p.rows * 31 + static_cast<uint64_t>(p.compression);
  const Table t = MakeRandomTable(spec);
  ParquetWriteOptions opt;
  opt.compression = p.compression;
  opt.row_group_rows = p.row_group_rows;
  opt.page_values = p.page_values;
  const std::string path = TempPath(CaseName({p, 0}) + ".parquet");
  Result<uint64_t> size = WriteParquetFile(path, t.schema, t.Ptrs(), opt);
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_EQ(*size, fs::file_size(path));
  // The in-memory encoding is the same bytes.
  Result<std::string> mem = EncodeParquet(t.schema, t.Ptrs(), opt);
  ASSERT_TRUE(mem.ok());
  EXPECT_EQ(mem->size(), *size);
  ExpectDuckDbReadsBack(path, t);

  // The footer says what we meant: row groups, codec, dictionary use on the low-cardinality
  // column and PLAIN on the unique strings.
  const size_t want_groups = (p.rows + p.row_group_rows - 1) / p.row_group_rows;
  const auto meta = QueryStrings(
      "SELECT count(DISTINCT row_group_id), coalesce(sum(row_group_num_rows) // 9, 0), "
      "count(DISTINCT compression) FROM parquet_metadata('" + path + "')");
  ASSERT_EQ(meta.size(), 1u);
  EXPECT_EQ(meta[0][0], std::to_string(want_groups));
  EXPECT_EQ(meta[0][1], std::to_string(p.rows));
  if (p.rows > 0) {
    // UNCOMPRESSED everywhere when asked for; with zstd, every chunk of a big row group is zstd
    // (only chunks under 1 KiB of raw values, e.g. small files, stay uncompressed).
    const bool zstd = p.compression == Compression::kZstd;
    const auto codec = QueryStrings(
        "SELECT DISTINCT compression FROM parquet_metadata('" + path + "')" +
        (zstd ? " WHERE row_group_num_rows >= 1000 AND path_in_schema <> 'b'" : ""));
    if (!zstd || std::min(p.rows, p.row_group_rows) >= 1000) {
      ASSERT_EQ(codec.size(), 1u);
      EXPECT_EQ(codec[0][0], zstd ? "ZSTD" : "UNCOMPRESSED");
    }
  }
  if (p.rows >= 1000) {
    const auto enc = QueryStrings(
        "SELECT path_in_schema, bool_and(encodings LIKE '%RLE_DICTIONARY%') FROM "
        "parquet_metadata('" + path + "') WHERE path_in_schema IN ('s', 's_low') GROUP BY ALL "
        "ORDER BY 1");
    ASSERT_EQ(enc.size(), 2u);
    EXPECT_EQ(enc[0][0], "s");
    EXPECT_EQ(enc[0][1], "false");
    EXPECT_EQ(enc[1][0], "s_low");
    EXPECT_EQ(enc[1][1], "true");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, ParquetRoundTrip,
    ::testing::Values(RoundTripCase{0, Compression::kZstd, 1 << 20, 64 * 1024},
                      RoundTripCase{0, Compression::kNone, 1 << 20, 64 * 1024},
                      RoundTripCase{1, Compression::kZstd, 1 << 20, 64 * 1024},
                      RoundTripCase{1, Compression::kNone, 1 << 20, 64 * 1024},
                      RoundTripCase{7, Compression::kZstd, 1 << 20, 64 * 1024},
                      RoundTripCase{7, Compression::kNone, 3, 2},
                      RoundTripCase{1000, Compression::kZstd, 1 << 20, 64 * 1024},
                      RoundTripCase{1000, Compression::kNone, 300, 37},
                      RoundTripCase{1000, Compression::kZstd, 300, 37},
                      RoundTripCase{300000, Compression::kZstd, 100000, 64 * 1024},
                      RoundTripCase{300000, Compression::kNone, 1 << 20, 10000}),
    CaseName);

TEST(ParquetWriter, StatisticsAreWrittenAndReadByDuckDb) {
  Table t;
  t.Add("i", ColumnType::kInt64);
  t.Add("d", ColumnType::kDouble);
  t.Add("s", ColumnType::kString);
  t.Add("ts", ColumnType::kTimestampMs);
  t.Add("dt", ColumnType::kDate);
  t.Add("j", ColumnType::kJson);
  const int64_t ints[] = {5, -3, 42, 7};
  const double dbls[] = {1.5, -2.25, 0.0, 9.75};
  const char* strs[] = {"pear", "apple", "zebra", "mango"};
  const int64_t tss[] = {1700000000000, 1600000000123, 1800000000000, 1650000000000};
  const int32_t dts[] = {19000, 18000, 20000, 19500};
  for (int r = 0; r < 4; ++r) {
    t.cols[0].AppendInt64(ints[r]);
    t.cols[1].AppendDouble(dbls[r]);
    t.cols[2].AppendString(strs[r]);
    t.cols[3].AppendInt64(tss[r]);
    t.cols[4].AppendDate(dts[r]);
    t.cols[5].AppendString("{}");
  }
  for (auto& c : t.cols) c.AppendNull();  // one null in every column
  const std::string path = TempPath("stats.parquet");
  ASSERT_TRUE(WriteParquetFile(path, t.schema, t.Ptrs(), {}).ok());
  ExpectDuckDbReadsBack(path, t);
  const auto rows = QueryStrings(
      "SELECT path_in_schema, stats_min_value, stats_max_value, stats_null_count FROM "
      "parquet_metadata('" + path + "') ORDER BY column_id");
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"i", "-3", "42", "1"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"d", "-2.25", "9.75", "1"}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"s", "apple", "zebra", "1"}));
  EXPECT_EQ(rows[3][0], "ts");
  EXPECT_EQ(rows[3][1].substr(0, 23), "2020-09-13 12:26:40.123");
  EXPECT_EQ(rows[3][2].substr(0, 19), "2027-01-15 08:00:00");
  EXPECT_EQ(rows[3][3], "1");
  EXPECT_EQ(rows[4], (std::vector<std::string>{"dt", "2019-04-14", "2024-10-04", "1"}));
  EXPECT_EQ(rows[5], (std::vector<std::string>{"j", "NULL", "NULL", "1"}));

  // DuckDB uses the statistics: a filter outside [min, max] prunes the only row group, so
  // nothing is scanned, and one inside keeps it.
  EXPECT_EQ(QueryStrings("SELECT count(*) FROM read_parquet('" + path + "') WHERE i > 42")[0][0],
            "0");
  EXPECT_EQ(QueryStrings("SELECT count(*) FROM read_parquet('" + path + "') WHERE i = 42")[0][0],
            "1");
  EXPECT_EQ(QueryStrings("SELECT count(*) FROM read_parquet('" + path +
                         "') WHERE dt = DATE '2024-10-04'")[0][0],
            "1");
  EXPECT_EQ(QueryStrings("SELECT count(*) FROM read_parquet('" + path +
                         "') WHERE s >= 'zebra'")[0][0],
            "1");
}

TEST(ParquetWriter, DoubleStatisticsOmittedWithNanAndZeroSigned) {
  Table t;
  t.Add("d", ColumnType::kDouble);
  t.Add("z", ColumnType::kDouble);
  t.cols[0].AppendDouble(1.0);
  t.cols[0].AppendDouble(std::nan(""));
  t.cols[1].AppendDouble(0.0);
  t.cols[1].AppendDouble(0.0);
  const std::string path = TempPath("nan.parquet");
  ASSERT_TRUE(WriteParquetFile(path, t.schema, t.Ptrs(), {}).ok());
  ExpectDuckDbReadsBack(path, t);
  const auto rows = QueryStrings(
      "SELECT stats_min_value, stats_max_value FROM parquet_metadata('" + path +
      "') ORDER BY column_id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"NULL", "NULL"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"-0.0", "0.0"}));
}

TEST(ParquetWriter, DictionaryWithSingleValueAndLongStrings) {
  Table t;
  t.Add("one", ColumnType::kString);
  t.Add("long", ColumnType::kString);
  const std::string big(3 << 20, 'q');  // forces PLAIN pages to split on the byte limit
  for (int r = 0; r < 50; ++r) {
    t.cols[0].AppendString("same");
    if (r % 10 == 3) t.cols[1].AppendNull();
    else t.cols[1].AppendString(big.substr(0, (r * 7919) % big.size()));
  }
  for (Compression c : {Compression::kNone, Compression::kZstd}) {
    ParquetWriteOptions opt;
    opt.compression = c;
    const std::string path = TempPath("dict1.parquet");
    ASSERT_TRUE(WriteParquetFile(path, t.schema, t.Ptrs(), opt).ok());
    ExpectDuckDbReadsBack(path, t);
  }
}

// More than 14 columns: the schema, column-chunk and column-order lists need the long form of
// the Thrift compact list header.
TEST(ParquetWriter, WideTable) {
  const ColumnType types[] = {ColumnType::kString, ColumnType::kInt64,       ColumnType::kDouble,
                              ColumnType::kBool,   ColumnType::kTimestampMs, ColumnType::kDate,
                              ColumnType::kJson};
  Table t;
  for (int c = 0; c < 40; ++c) t.Add("col_" + std::to_string(c), types[c % 7]);
  std::mt19937_64 rng(99);
  for (int r = 0; r < 500; ++r) {
    for (auto& col : t.cols) {
      if (rng() % 5 == 0) {
        col.AppendNull();
        continue;
      }
      switch (col.type()) {
        case ColumnType::kString: col.AppendString(RandomString(rng, 5)); break;
        case ColumnType::kJson: col.AppendString(std::to_string(rng() % 100)); break;
        case ColumnType::kInt64:
        case ColumnType::kTimestampMs:
          col.AppendInt64(static_cast<int64_t>(rng() % 1000000));
          break;
        case ColumnType::kDouble: col.AppendDouble(static_cast<double>(rng() % 1000) / 8); break;
        case ColumnType::kBool: col.AppendBool(rng() & 1); break;
        case ColumnType::kDate: col.AppendDate(static_cast<int32_t>(rng() % 30000)); break;
      }
    }
  }
  const std::string path = TempPath("wide.parquet");
  ASSERT_TRUE(WriteParquetFile(path, t.schema, t.Ptrs(), {}).ok());
  ExpectDuckDbReadsBack(path, t);
}

TEST(ParquetWriter, ZeroRowFileIsValid) {
  Table t = MakeRandomTable(GenSpec{});
  Result<std::string> bytes = EncodeParquet(t.schema, t.Ptrs(), {});
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->substr(0, 4), "PAR1");
  EXPECT_EQ(bytes->substr(bytes->size() - 4), "PAR1");
  const std::string path = TempPath("empty.parquet");
  ASSERT_TRUE(WriteParquetFile(path, t.schema, t.Ptrs(), {}).ok());
  EXPECT_EQ(QueryStrings("SELECT count(*) FROM read_parquet('" + path + "')")[0][0], "0");
  const auto desc = QueryStrings("DESCRIBE SELECT * FROM read_parquet('" + path + "')");
  ASSERT_EQ(desc.size(), t.schema.size());
  const std::map<std::string, std::string> want = {
      {"s", "VARCHAR"}, {"s_low", "VARCHAR"}, {"j", "JSON"},
      {"i", "BIGINT"},  {"d", "DOUBLE"},      {"b", "BOOLEAN"},
      {"ts", "TIMESTAMP WITH TIME ZONE"},     {"dt", "DATE"},
      {"all_null", "BIGINT"}};
  for (const auto& row : desc) EXPECT_EQ(row[1], want.at(row[0])) << row[0];
}

TEST(ParquetWriter, RejectsBadInput) {
  Table t;
  t.Add("a", ColumnType::kInt64);
  t.Add("b", ColumnType::kString);
  t.cols[0].AppendInt64(1);
  // Unequal lengths.
  Result<std::string> r = EncodeParquet(t.schema, t.Ptrs(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  t.cols[1].AppendString("x");
  EXPECT_TRUE(EncodeParquet(t.schema, t.Ptrs(), {}).ok());
  // Type mismatch between schema and buffer.
  std::vector<ColumnSchema> wrong = t.schema;
  wrong[1].type = ColumnType::kJson;
  EXPECT_FALSE(EncodeParquet(wrong, t.Ptrs(), {}).ok());
  // Duplicate names, no columns, bad options, unwritable path.
  wrong = t.schema;
  wrong[1].name = "a";
  EXPECT_FALSE(EncodeParquet(wrong, t.Ptrs(), {}).ok());
  EXPECT_FALSE(EncodeParquet({}, {}, {}).ok());
  ParquetWriteOptions bad;
  bad.page_values = 0;
  EXPECT_FALSE(EncodeParquet(t.schema, t.Ptrs(), bad).ok());
  Result<uint64_t> w = WriteParquetFile("/nonexistent-dir/x.parquet", t.schema, t.Ptrs(), {});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kIOError);
}

// Iceberg tables need Parquet field ids; DuckDB's parquet_schema() shows what the footer holds.
// Without the option no field id is written, so today's files are byte-for-byte unchanged.
TEST(ParquetWriter, FieldIdsAreWrittenOnlyWhenAsked) {
  Table t;
  t.Add("id", ColumnType::kInt64);
  t.Add("event", ColumnType::kString);
  t.Add("ts", ColumnType::kTimestampMs);
  t.cols[0].AppendInt64(1);
  t.cols[1].AppendString("click");
  t.cols[2].AppendInt64(1700000000000);
  ParquetWriteOptions with_ids;
  with_ids.field_ids = {1, 2, 7};
  const std::string path = TempPath("field_ids.parquet");
  ASSERT_TRUE(WriteParquetFile(path, t.schema, t.Ptrs(), with_ids).ok());
  ExpectDuckDbReadsBack(path, t);
  auto rows = QueryStrings("SELECT name, field_id FROM parquet_schema('" + path + "') ORDER BY name");
  EXPECT_EQ(rows, (std::vector<std::vector<std::string>>{
                      {"event", "2"}, {"id", "1"}, {"schema", "NULL"}, {"ts", "7"}}));

  const std::string plain = TempPath("no_field_ids.parquet");
  ASSERT_TRUE(WriteParquetFile(plain, t.schema, t.Ptrs(), {}).ok());
  rows = QueryStrings("SELECT count(*) FROM parquet_schema('" + plain + "') WHERE field_id IS NOT NULL");
  EXPECT_EQ(rows, (std::vector<std::vector<std::string>>{{"0"}}));

  ParquetWriteOptions wrong_count;
  wrong_count.field_ids = {1, 2};
  auto r = EncodeParquet(t.schema, t.Ptrs(), wrong_count);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("2 field ids for 3 columns"), std::string::npos);
}

// The layout the writer reports (Iceberg's column_sizes and split_offsets) is what DuckDB finds
// in the file's footer: compressed bytes per column over all row groups, and each row group's
// first page offset.
TEST(ParquetWriter, ReportedLayoutMatchesTheFooter) {
  Table t;
  t.Add("id", ColumnType::kInt64);
  t.Add("event", ColumnType::kString);
  for (int i = 0; i < 5000; ++i) {
    t.cols[0].AppendInt64(i * 7);
    t.cols[1].AppendString("event-" + std::to_string(i % 37));
  }
  ParquetWriteOptions o;
  o.row_group_rows = 2000;  // three row groups
  ParquetFileLayout layout;
  const std::string path = TempPath("layout.parquet");
  auto size = WriteParquetFile(path, t.schema, t.Ptrs(), o, &layout);
  ASSERT_TRUE(size.ok());
  auto rows = QueryStrings("SELECT path_in_schema, sum(total_compressed_size) FROM parquet_metadata('" +
                           path + "') GROUP BY ALL ORDER BY 1");
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_EQ(layout.column_bytes.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"event", std::to_string(layout.column_bytes[1])}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"id", std::to_string(layout.column_bytes[0])}));
  auto groups = QueryStrings("SELECT row_group_id, min(coalesce(dictionary_page_offset, data_page_offset)) "
                             "FROM parquet_metadata('" + path + "') GROUP BY ALL ORDER BY 1");
  ASSERT_EQ(groups.size(), 3u);
  ASSERT_EQ(layout.row_group_offsets.size(), 3u);
  EXPECT_EQ(layout.row_group_offsets[0], 4);  // after the magic
  for (size_t g = 0; g < 3; ++g) {
    EXPECT_EQ(groups[g][1], std::to_string(layout.row_group_offsets[g])) << g;
  }
  EXPECT_LT(layout.column_bytes[0] + layout.column_bytes[1], static_cast<int64_t>(*size));
}

}  // namespace
}  // namespace weir
