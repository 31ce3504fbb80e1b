// Unit tests of the pure parts of exec/lake_maintenance.h and the metadata-log bound of
// lake/iceberg_commit.h; compaction and expire themselves are driven through the binary in
// tests/e2e/lake_maintenance_e2e_test.cc.
#include "exec/lake_maintenance.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "exec/store.h"
#include "lake/iceberg_commit.h"

namespace weir {
namespace {

TEST(LakeMaintenance, PartitionFilterMatchesEveryComponent) {
  EXPECT_TRUE(PartitionMatches("event_type=click/dt=2025-11-20", ""));
  EXPECT_TRUE(PartitionMatches("event_type=click/dt=2025-11-20", "dt=2025-11-20"));
  EXPECT_TRUE(PartitionMatches("event_type=click/dt=2025-11-20", "dt=2025-11-20/event_type=click"));
  EXPECT_FALSE(PartitionMatches("event_type=click/dt=2025-11-20", "dt=2025-11-2"));
  EXPECT_FALSE(PartitionMatches("event_type=click/dt=2025-11-20", "dt=2025-11-20/event_type=view"));
  EXPECT_FALSE(PartitionMatches("", "dt=2025-11-20"));
  EXPECT_TRUE(PartitionMatches("dt=2025-11-20/hr=5", "hr=5/"));
}

TEST(LakeMaintenance, AgesHaveAUnit) {
  EXPECT_EQ(*ParseAge("7d"), 7LL * 24 * 3600 * 1000);
  EXPECT_EQ(*ParseAge("36h"), 36LL * 3600 * 1000);
  EXPECT_EQ(*ParseAge("90m"), 90LL * 60 * 1000);
  EXPECT_EQ(*ParseAge("0s"), 0);
  for (const char* bad : {"", "7", "d", "7w", "-1d", "1.5d", "7 d", "99999999999999999d"}) {
    auto r = ParseAge(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("7d, 36h"), std::string::npos) << r.status().message();
  }
}

TEST(LakeMaintenance, MetadataLogIsBoundedByThePropertyOrOneHundred) {
  iceberg::TableMetadata m;
  for (int i = 0; i < 150; ++i) m.metadata_log.push_back({i, "v" + std::to_string(i)});
  iceberg::TrimMetadataLog(m);
  ASSERT_EQ(m.metadata_log.size(), iceberg::kDefaultPreviousMetadataVersions);
  EXPECT_EQ(m.metadata_log.front().metadata_file, "v50");  // the newest are kept
  EXPECT_EQ(m.metadata_log.back().metadata_file, "v149");
  m.properties["write.metadata.previous-versions-max"] = "3";
  iceberg::TrimMetadataLog(m);
  ASSERT_EQ(m.metadata_log.size(), 3u);
  EXPECT_EQ(m.metadata_log.front().metadata_file, "v147");
  m.properties["write.metadata.previous-versions-max"] = "zero";  // unreadable: the default
  EXPECT_EQ(iceberg::MaxPreviousMetadataVersions(m), iceberg::kDefaultPreviousMetadataVersions);
}

// What a compaction's commit does to the store: new files recorded published at once, the
// rewritten ones `replaced` (not read, not deleted), and a second replace of the same file (a
// lost race with another compaction) aborts with nothing changed.
TEST(LakeMaintenance, ReplacingFilesInTheStoreIsAllOrNothing) {
  auto dir =
      std::filesystem::temp_directory_path() / ("weir-maint-store-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto store = Store::Open((dir / "store.db").string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Store& s = **store;
  CommitRequest first;
  first.dataset = "d";
  for (int i = 0; i < 2; ++i) {
    CatalogFile f;
    f.kind = "data";
    f.partition = "dt=2025-11-20";
    f.path = "/lake/t/data/dt=2025-11-20/part-" + std::to_string(i) + ".parquet";
    f.staging = f.path + ".staged";
    f.rows = 10;
    first.files.push_back(f);
  }
  std::vector<int64_t> old_ids;
  ASSERT_TRUE(s.Commit(first, &old_ids).ok());
  ASSERT_TRUE(s.MarkPublished(old_ids).ok());

  CommitRequest compact;
  compact.dataset = "d";
  CatalogFile merged;
  merged.kind = "data";
  merged.partition = "dt=2025-11-20";
  merged.path = merged.staging = "/lake/t/data/dt=2025-11-20/compact-x-0.parquet";
  merged.rows = 20;
  merged.state = "published";
  compact.files.push_back(merged);
  compact.replaced = old_ids;
  std::vector<int64_t> new_ids;
  ASSERT_TRUE(s.Commit(compact, &new_ids).ok());
  auto published = s.Files("d", "data", "published");
  ASSERT_TRUE(published.ok());
  ASSERT_EQ(published->size(), 1u);
  EXPECT_EQ(published->front().path, merged.path);
  EXPECT_EQ(s.Files("d", "data", "replaced")->size(), 2u);

  // The same files again: aborted (a conflict), and the second new file is not recorded.
  compact.files[0].path = compact.files[0].staging =
      "/lake/t/data/dt=2025-11-20/compact-y-0.parquet";
  Status st = s.Commit(compact, &new_ids);
  EXPECT_EQ(st.code(), StatusCode::kAborted) << st.ToString();
  EXPECT_NE(st.message().find("conflict"), std::string::npos);
  EXPECT_EQ(s.Files("d", "data", "published")->size(), 1u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace weir
