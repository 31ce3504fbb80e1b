// The committed table schema: which YAML changes keep a table readable (exec/table_schema.h).
#include "exec/table_schema.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace weir {
namespace {

ColumnConfig Col(std::string name, ColumnType type) {
  ColumnConfig c;
  c.name = std::move(name);
  c.path = "/" + c.name;
  c.type = type;
  return c;
}

// A Hive table unless `table_format` says otherwise: widening is a Hive-table feature.
DatasetConfig Config(std::vector<ColumnConfig> cols, std::vector<std::string> parts = {},
                     const std::string& table_format = "hive") {
  DatasetConfig c;
  c.name = "ds";
  c.write.table = "t";
  c.write.table_format = table_format;
  c.write.columns = std::move(cols);
  c.write.partition_by = std::move(parts);
  return c;
}

std::unique_ptr<Store> OpenFresh(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("weir-schema-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto s = Store::Open((dir / "store.db").string());
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

// A published data file, so the table counts as having committed data.
void CommitDataFile(Store& store) {
  ASSERT_TRUE(store.EnsureTasks("ds", {{"a", "/a"}}).ok());
  auto tasks = *store.Tasks("ds");
  CommitRequest req;
  req.dataset = "ds";
  TaskUpdate u;
  u.task_id = tasks[0].id;
  u.seq = 1;
  req.tasks.push_back(u);
  CatalogFile f;
  f.task_id = tasks[0].id;
  f.kind = "data";
  f.path = "/lake/t/part-1.parquet";
  f.staging = "/lake/_staging/t/part-1.parquet.staged";
  req.files.push_back(f);
  std::vector<int64_t> ids;
  ASSERT_TRUE(store.Commit(req, &ids).ok());
  ASSERT_TRUE(store.MarkPublished(ids).ok());
}

TEST(TableSchemaTest, CompatibleTypeChanges) {
  using T = ColumnType;
  EXPECT_TRUE(IsCompatibleTypeChange(T::kString, T::kString));
  EXPECT_TRUE(IsCompatibleTypeChange(T::kInt64, T::kDouble));
  EXPECT_TRUE(IsCompatibleTypeChange(T::kInt64, T::kJson));
  EXPECT_TRUE(IsCompatibleTypeChange(T::kDouble, T::kJson));
  EXPECT_TRUE(IsCompatibleTypeChange(T::kBool, T::kJson));
  EXPECT_FALSE(IsCompatibleTypeChange(T::kString, T::kInt64));
  EXPECT_FALSE(IsCompatibleTypeChange(T::kDouble, T::kInt64));
  EXPECT_FALSE(IsCompatibleTypeChange(T::kString, T::kJson));
  EXPECT_FALSE(IsCompatibleTypeChange(T::kJson, T::kString));
  EXPECT_FALSE(IsCompatibleTypeChange(T::kTimestampMs, T::kInt64));
}

// Regression: a type change accepted by run and redrive broke every later query. The store now
// records the committed schema and refuses what old files cannot be read as.
TEST(TableSchemaTest, RecordedOnFirstRunAndIncompatibleChangesRefused) {
  auto store = OpenFresh("refuse");
  DatasetConfig v1 = Config({Col("id", ColumnType::kString), Col("n", ColumnType::kInt64)});
  ASSERT_TRUE(EnsureTableSchema(v1, *store).ok());
  CommitDataFile(*store);

  DatasetConfig bad = Config({Col("id", ColumnType::kInt64), Col("n", ColumnType::kInt64)});
  Status st = EnsureTableSchema(bad, *store);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("write.columns.id: type changed from string to int64"),
            std::string::npos)
      << st.message();
  EXPECT_FALSE(CheckTableSchema(bad, *store).ok());

  DatasetConfig parts =
      Config({Col("id", ColumnType::kString), Col("n", ColumnType::kInt64)}, {"id"});
  st = EnsureTableSchema(parts, *store);
  EXPECT_NE(st.message().find("write.partition_by: changed from [] to [id]"), std::string::npos)
      << st.message();

  // An Iceberg table refuses even the widening Hive tables take (Iceberg has no long -> double).
  DatasetConfig iceberg_v2 =
      Config({Col("n", ColumnType::kDouble), Col("extra", ColumnType::kBool)}, {}, "iceberg");
  st = EnsureTableSchema(iceberg_v2, *store);
  EXPECT_NE(st.message().find("write.columns.n: type changed from int64 to double, but the "
                              "Iceberg table 't'"),
            std::string::npos)
      << st.message();

  // Compatible: widen n, drop id, add a column. The dropped column stays recorded, so it
  // cannot come back as another type.
  DatasetConfig v2 = Config({Col("n", ColumnType::kDouble), Col("extra", ColumnType::kBool)});
  ASSERT_TRUE(EnsureTableSchema(v2, *store).ok());
  auto rec = LoadTableSchema(v2, *store);
  ASSERT_TRUE(rec.ok() && rec->has_value());
  ASSERT_EQ((*rec)->columns.size(), 3u);
  EXPECT_EQ((*rec)->columns[0].name, "n");
  EXPECT_EQ((*rec)->columns[0].type, ColumnType::kDouble);
  EXPECT_EQ((*rec)->columns[2].name, "id");
  DatasetConfig back = Config({Col("n", ColumnType::kDouble), Col("id", ColumnType::kInt64)});
  EXPECT_FALSE(EnsureTableSchema(back, *store).ok());
  // Narrowing back is refused too.
  EXPECT_FALSE(EnsureTableSchema(v1, *store).ok());
}

// A store from before schemas were recorded: published files, no record. The first run takes
// the YAML's schema as the committed one (documented); a table without live files takes any.
TEST(TableSchemaTest, StoresWithoutARecordTakeTheCurrentSchema) {
  auto store = OpenFresh("legacy");
  CommitDataFile(*store);
  DatasetConfig cfg = Config({Col("id", ColumnType::kString)});
  EXPECT_TRUE(CheckTableSchema(cfg, *store).ok());
  ASSERT_TRUE(EnsureTableSchema(cfg, *store).ok());
  EXPECT_FALSE(EnsureTableSchema(Config({Col("id", ColumnType::kInt64)}), *store).ok());

  auto empty = OpenFresh("empty");
  ASSERT_TRUE(EnsureTableSchema(cfg, *empty).ok());
  ASSERT_TRUE(EnsureTableSchema(Config({Col("id", ColumnType::kInt64)}), *empty).ok());
  auto rec = LoadTableSchema(cfg, *empty);
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ((*rec)->columns.at(0).type, ColumnType::kInt64);
}

}  // namespace
}  // namespace weir
