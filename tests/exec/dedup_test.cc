#include "exec/dedup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <algorithm>
#include <vector>

namespace weir {
namespace {

// Keys that differ only in how their bytes split over columns, or in a value's type, must not
// collide: the key is type-tagged and length-prefixed before hashing.
TEST(DedupKeyTest, ColumnBoundariesTypesAndNullsArePartOfTheKey) {
  ColumnBatch b({{"a", ColumnType::kString}, {"b", ColumnType::kString}, {"n", ColumnType::kInt64},
                 {"s", ColumnType::kString}});
  auto row = [&](const char* a, const char* bb, int64_t n, const char* s) {
    b.columns[0].AppendString(a);
    b.columns[1].AppendString(bb);
    b.columns[2].AppendInt64(n);
    if (s) {
      b.columns[3].AppendString(s);
    } else {
      b.columns[3].AppendNull();
    }
  };
  row("ab", "c", 1, "1");
  row("a", "bc", 1, "1");
  row("ab", "c", 1, "1");  // same as row 0
  row("", "abc", 2, nullptr);
  std::string scratch;
  uint64_t hi[4], lo[4];
  for (size_t r = 0; r < 3; ++r) ASSERT_TRUE(DedupKeyOf(b, {0, 1}, r, scratch, &hi[r], &lo[r]));
  EXPECT_FALSE(hi[0] == hi[1] && lo[0] == lo[1]);
  EXPECT_TRUE(hi[0] == hi[2] && lo[0] == lo[2]);
  // The integer 1 and the string "1".
  uint64_t ih, il, sh, sl;
  ASSERT_TRUE(DedupKeyOf(b, {2}, 0, scratch, &ih, &il));
  ASSERT_TRUE(DedupKeyOf(b, {3}, 0, scratch, &sh, &sl));
  EXPECT_FALSE(ih == sh && il == sl);
  // A NULL key column: no key at all.
  EXPECT_FALSE(DedupKeyOf(b, {0, 3}, 3, scratch, &hi[3], &lo[3]));
}

// 500K distinct keys, 500K distinct 128-bit hashes (and no 64-bit half collides either: the
// halves are not one hash repeated).
TEST(DedupKeyTest, ManyNearIdenticalKeysDoNotCollide) {
  ColumnBatch b({{"id", ColumnType::kString}});
  const int n = 500000;
  for (int i = 0; i < n; ++i) b.columns[0].AppendString("evt-" + std::to_string(i));
  std::string scratch;
  std::vector<uint64_t> his(n), los(n);
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(DedupKeyOf(b, {0}, static_cast<size_t>(i), scratch, &his[i], &los[i]));
  }
  for (auto* v : {&his, &los}) {
    std::sort(v->begin(), v->end());
    EXPECT_EQ(std::unique(v->begin(), v->end()), v->end());
  }
}

std::unique_ptr<Store> OpenFresh(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("weir-dedup-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto s = Store::Open((dir / "store.db").string());
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

// The store side: keys arrive with a commit, keep the newest time, are evicted past the window,
// are per dataset, and --restart (ResetDataset) forgets them.
TEST(DedupStoreTest, CommitKeepsNewestTimeEvictsOldKeysAndResetForgets) {
  auto store = OpenFresh("store");
  CommitRequest req;
  req.dataset = "ds";
  req.dedup_keys = {{1, 2, 1000}, {3, 4, 5000}, {1, 2, 500}};
  ASSERT_TRUE(store->Commit(req, nullptr).ok());
  std::vector<int64_t> t;
  ASSERT_TRUE(store->DedupLookup("ds", {{1, 2, 0}, {3, 4, 0}, {5, 6, 0}}, &t).ok());
  EXPECT_EQ(t, (std::vector<int64_t>{1000, 5000, INT64_MIN}));
  ASSERT_TRUE(store->DedupLookup("other", {{1, 2, 0}}, &t).ok());
  EXPECT_EQ(t, (std::vector<int64_t>{INT64_MIN}));
  // Newest time 9000, window 4500: keys older than 4500 go.
  req.dedup_keys = {{7, 8, 9000}};
  req.dedup_within_ms = 4500;
  ASSERT_TRUE(store->Commit(req, nullptr).ok());
  ASSERT_TRUE(store->DedupLookup("ds", {{1, 2, 0}, {3, 4, 0}, {7, 8, 0}}, &t).ok());
  EXPECT_EQ(t, (std::vector<int64_t>{INT64_MIN, 5000, 9000}));
  EXPECT_EQ(*store->DedupKeyCount("ds"), 2u);
  // Hashes use all 64 bits: the top bit survives the trip through SQLite's signed integers.
  req.dedup_keys = {{~0ull, 1ull << 63, 9001}};
  ASSERT_TRUE(store->Commit(req, nullptr).ok());
  ASSERT_TRUE(store->DedupLookup("ds", {{~0ull, 1ull << 63, 0}}, &t).ok());
  EXPECT_EQ(t, (std::vector<int64_t>{9001}));
  ASSERT_TRUE(store->ResetDataset("ds").ok());
  EXPECT_EQ(*store->DedupKeyCount("ds"), 0u);
}

}  // namespace
}  // namespace weir
