// Unit tests of the pure parts of exec/lake_maintenance.h and the metadata-log bound of
// lake/iceberg_commit.h; compaction and expire themselves are driven through the binary in
// tests/e2e/lake_maintenance_e2e_test.cc.
#include "exec/lake_maintenance.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace weir
