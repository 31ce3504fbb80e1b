// geodata(lon, lat) as a DuckDB scalar function: register on an in-memory database and query.
#include <duckdb.h>
#include <gtest/gtest.h>

#include "geo/geodata_function.h"
#include "geo_test_util.h"

namespace weir::geo {
namespace {

using namespace weir::geo::testing;  // NOLINT

class GeoSql : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(duckdb_open(nullptr, &db_), DuckDBSuccess);
    ASSERT_EQ(duckdb_connect(db_, &con_), DuckDBSuccess);
    auto index = Countries();
    ASSERT_NE(index, nullptr);
    Status st = RegisterGeodataFunction(con_, index);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void TearDown() override {
    duckdb_disconnect(&con_);
    duckdb_close(&db_);
  }
  // All rows of a one-column VARCHAR result, NULL as "NULL".
  std::vector<std::string> Column(const std::string& sql) {
    duckdb_result res;
    std::vector<std::string> out;
    if (duckdb_query(con_, sql.c_str(), &res) != DuckDBSuccess) {
      ADD_FAILURE() << sql << ": " << duckdb_result_error(&res);
      duckdb_destroy_result(&res);
      return out;
    }
    for (idx_t r = 0; r < duckdb_row_count(&res); ++r) {
      if (duckdb_value_is_null(&res, 0, r)) {
        out.push_back("NULL");
      } else {
        char* s = duckdb_value_varchar(&res, 0, r);
        out.push_back(s);
        duckdb_free(s);
      }
    }
    duckdb_destroy_result(&res);
    return out;
  }
  duckdb_database db_ = nullptr;
  duckdb_connection con_ = nullptr;
};

TEST_F(GeoSql, StructFieldsPerRow) {
  ASSERT_EQ(Column("CREATE TABLE pts AS SELECT * FROM (VALUES (1, 2.3522, 48.8566), "
                   "(2, -30.0, 0.0), (3, NULL, 1.0), (4, 200.0, 1.0), (5, 139.6917, 35.6895), "
                   "(6, -74, 40.75)) t(id, longitude, latitude)")
                .size(),
            1u);
  EXPECT_EQ(Column("SELECT geodata(longitude, latitude).country FROM pts ORDER BY id"),
            (std::vector<std::string>{"France", "NULL", "NULL", "NULL", "Japan",
                                      "United States of America"}));
  EXPECT_EQ(Column("SELECT geodata(longitude, latitude).iso_a3 FROM pts ORDER BY id"),
            (std::vector<std::string>{"FRA", "NULL", "NULL", "NULL", "JPN", "USA"}));
  // A point in no polygon gives a struct of NULLs; bad coordinates give a NULL struct.
  EXPECT_EQ(Column("SELECT (geodata(longitude, latitude) IS NULL)::VARCHAR FROM pts ORDER BY id"),
            (std::vector<std::string>{"false", "false", "true", "true", "false", "false"}));
  EXPECT_EQ(Column("SELECT geodata(2.3522, 48.8566).continent"),
            (std::vector<std::string>{"Europe"}));
  // One constant and one column argument.
  EXPECT_EQ(Column("SELECT geodata(longitude, 48.8566).country FROM pts WHERE id IN (1, 6) "
                   "ORDER BY id"),
            (std::vector<std::string>{"France", "Canada"}));  // (-74, 48.86) is Quebec
  EXPECT_EQ(Column("SELECT geodata(2, 48)::VARCHAR"),
            (std::vector<std::string>{"{'country': France, 'iso_a3': FRA, 'continent': Europe}"}));
}

TEST_F(GeoSql, ManyRowsAcrossThreads) {
  // Enough rows for DuckDB to split the work across its threads; compare with Lookup().
  ASSERT_EQ(Column("SET threads = 4").size(), 0u);
  auto got = Column(
      "SELECT coalesce(geodata(lon, lat).iso_a3, '-') FROM (SELECT (i * 7919 % 36000) / 100.0 - "
      "180 AS lon, (i * 104729 % 17000) / 100.0 - 85 AS lat, i FROM range(200000) r(i)) ORDER BY "
      "i");
  ASSERT_EQ(got.size(), 200000u);
  auto index = Countries();
  std::vector<const std::string*> v;
  size_t matched = 0, bad = 0;
  for (int64_t i = 0; i < 200000; ++i) {
    double lon = static_cast<double>(i * 7919 % 36000) / 100.0 - 180;
    double lat = static_cast<double>(i * 104729 % 17000) / 100.0 - 85;
    ASSERT_TRUE(index->Lookup(lon, lat, &v));
    std::string want = v[1] == nullptr ? "-" : *v[1];
    matched += want != "-";
    if (got[i] != want && ++bad < 5) ADD_FAILURE() << i << ": " << got[i] << " vs " << want;
  }
  EXPECT_EQ(bad, 0u);
  EXPECT_GT(matched, 40000u);
}

}  // namespace
}  // namespace weir::geo
