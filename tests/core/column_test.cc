#include "core/column.h"

#include <gtest/gtest.h>

namespace weir {
namespace {

TEST(ColumnTypeTest, NamesRoundTrip) {
  for (ColumnType t :
       {ColumnType::kString, ColumnType::kInt64, ColumnType::kDouble, ColumnType::kBool,
        ColumnType::kTimestampMs, ColumnType::kDate, ColumnType::kJson}) {
    EXPECT_EQ(ParseColumnTypeName(ColumnTypeName(t)), t);
  }
  EXPECT_EQ(ParseColumnTypeName("timestamp"), std::nullopt);
}

TEST(ColumnBufferTest, StringsWithNullsKeepRowIndexes) {
  ColumnBuffer b(ColumnType::kString);
  b.AppendString("ab");
  b.AppendNull();
  b.AppendString("");
  b.AppendString("xyz");
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b.null_count(), 1u);
  EXPECT_EQ(b.StringAt(0), "ab");
  EXPECT_TRUE(b.IsNull(1));
  EXPECT_EQ(b.StringAt(1), "");
  EXPECT_FALSE(b.IsNull(2));
  EXPECT_EQ(b.StringAt(3), "xyz");
  EXPECT_EQ(b.offsets().size(), 5u);
  b.PopBack();
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(b.bytes(), "ab");
  b.PopBack();
  b.PopBack();
  EXPECT_EQ(b.null_count(), 0u);
  b.Clear();
  EXPECT_EQ(b.size(), 0u);
  b.AppendString("q");
  EXPECT_EQ(b.StringAt(0), "q");
}

TEST(ColumnBufferTest, AppendFromGathersRows) {
  ColumnBuffer src(ColumnType::kInt64);
  src.AppendInt64(7);
  src.AppendNull();
  src.AppendInt64(-3);
  ColumnBuffer dst(ColumnType::kInt64);
  dst.AppendFrom(src, 2);
  dst.AppendFrom(src, 1);
  dst.AppendFrom(src, 0);
  ASSERT_EQ(dst.size(), 3u);
  EXPECT_EQ(dst.Int64At(0), -3);
  EXPECT_TRUE(dst.IsNull(1));
  EXPECT_EQ(dst.Int64At(2), 7);
  EXPECT_EQ(dst.null_count(), 1u);
}

TEST(ColumnBatchTest, RowsAndClear) {
  ColumnBatch batch({{"a", ColumnType::kDouble}, {"d", ColumnType::kDate}});
  batch.columns[0].AppendDouble(1.5);
  batch.columns[1].AppendDate(19000);
  EXPECT_EQ(batch.num_rows(), 1u);
  EXPECT_GT(batch.MemoryBytes(), 0u);
  batch.Clear();
  EXPECT_EQ(batch.num_rows(), 0u);
}

}  // namespace
}  // namespace weir
