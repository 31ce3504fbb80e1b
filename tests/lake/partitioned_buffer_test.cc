// PartitionedBuffer: gathering rows by Hive partition, and reusing partitions across Clear().
#include "lake/partitioned_buffer.h"
#include "lake/file_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include <optional>
#include <string>
#include <vector>

namespace weir {
namespace {

std::vector<ColumnSchema> Schema() {
  return {{"status", ColumnType::kInt64}, {"path", ColumnType::kString}};
}

ColumnBatch Batch(const std::vector<std::pair<std::optional<int64_t>, std::string>>& rows) {
  ColumnBatch b(Schema());
  for (const auto& [status, path] : rows) {
    if (status) {
      b.columns[0].AppendInt64(*status);
    } else {
      b.columns[0].AppendNull();
    }
    b.columns[1].AppendString(path);
  }
  return b;
}

// "path=row,row;..." in path order: what the buffer holds.
std::string Dump(const PartitionedBuffer& buf) {
  std::string out;
  for (const PartitionedBuffer::Partition* p : buf.Partitions()) {
    out += p->path + "=";
    for (size_t r = 0; r < p->rows.num_rows(); ++r) {
      if (r) out += ",";
      out += std::string(p->rows.columns[0].StringAt(r));
    }
    out += ";";
  }
  return out;
}

TEST(PartitionedBufferTest, GathersRowsByPartition) {
  PartitionedBuffer buf(Schema(), {"status"});
  buf.Append(Batch({{200, "/a"}, {404, "/b"}, {200, "/c"}, {std::nullopt, "/d"}, {404, "/e"}}));
  buf.Append(Batch({{500, "/f"}, {200, "/g"}}));
  EXPECT_EQ(Dump(buf),
            "status=200=/a,/c,/g;status=404=/b,/e;status=500=/f;"
            "status=__HIVE_DEFAULT_PARTITION__=/d;");
  EXPECT_EQ(buf.rows(), 7u);
  EXPECT_EQ(buf.partition_count(), 4u);
  ASSERT_EQ(buf.file_schema().size(), 1u);
  EXPECT_EQ(buf.file_schema()[0].name, "path");
}

// After Clear() the buffer is empty whatever it keeps: no partitions, no rows, no memory
// reported; refilling gives exactly the rows appended since, and partitions unused for a round
// are dropped rather than listed empty.
TEST(PartitionedBufferTest, ClearKeepsNothingVisible) {
  PartitionedBuffer buf(Schema(), {"status"});
  buf.Append(Batch({{200, "/a"}, {404, "/b"}}));
  const size_t first_memory = buf.MemoryBytes();
  EXPECT_GT(first_memory, 0u);
  buf.Clear();
  EXPECT_EQ(buf.rows(), 0u);
  EXPECT_EQ(buf.partition_count(), 0u);
  EXPECT_EQ(buf.MemoryBytes(), 0u);
  EXPECT_EQ(Dump(buf), "");
  buf.Append(Batch({{404, "/c"}, {301, "/d"}}));
  EXPECT_EQ(Dump(buf), "status=301=/d;status=404=/c;");
  buf.Clear();
  buf.Append(Batch({{404, "/e"}, {404, "/f"}}));  // 404 kept from the round before
  EXPECT_EQ(Dump(buf), "status=404=/e,/f;");
  // Memory is reported as for freshly grown buffers, so it does not depend on what was kept.
  PartitionedBuffer fresh(Schema(), {"status"});
  fresh.Append(Batch({{404, "/e"}, {404, "/f"}}));
  EXPECT_EQ(buf.MemoryBytes(), fresh.MemoryBytes());
}

// Append() recounts only the partitions a batch touched: the memory reported after many small
// batches, a merge and a Clear() must be what one batch of the same rows reports.
TEST(PartitionedBufferTest, MemoryIsTheSameWhateverTheBatching) {
  std::vector<std::pair<std::optional<int64_t>, std::string>> rows;
  for (int i = 0; i < 3000; ++i) {
    rows.emplace_back(i % 7 == 0 ? std::nullopt : std::optional<int64_t>(i % 13),
                      std::string(static_cast<size_t>(i % 50), 'x'));
  }
  PartitionedBuffer whole(Schema(), {"status"});
  whole.Append(Batch(rows));
  PartitionedBuffer pieces(Schema(), {"status"}), other(Schema(), {"status"});
  pieces.Append(Batch({{99, "/dropped"}}));
  pieces.Clear();
  for (size_t at = 0; at < rows.size(); at += 37) {
    const auto end = rows.begin() + static_cast<long>(std::min(rows.size(), at + 37));
    std::vector<std::pair<std::optional<int64_t>, std::string>> batch(rows.begin() + static_cast<long>(at), end);
    (at / 37 % 3 == 0 ? other : pieces).Append(Batch(batch));
    EXPECT_GT(pieces.MemoryBytes() + other.MemoryBytes(), 0u);
  }
  pieces.MergeFrom(other);
  EXPECT_EQ(other.MemoryBytes(), 0u);
  EXPECT_EQ(pieces.rows(), whole.rows());
  EXPECT_EQ(pieces.MemoryBytes(), whole.MemoryBytes());
  // Appending after the merge recounts from the merged sizes.
  pieces.Append(Batch({{3, "/more"}}));
  whole.Append(Batch({{3, "/more"}}));
  EXPECT_EQ(pieces.MemoryBytes(), whole.MemoryBytes());
}

// A merge copies the partitions both buffers hold on several threads: the result is the same
// rows in the same order as a merge on one thread.
TEST(PartitionedBufferTest, AMergeOnSeveralThreadsKeepsEveryRowInOrder) {
  std::vector<std::pair<std::optional<int64_t>, std::string>> a, b;
  for (int i = 0; i < 5000; ++i) {
    a.emplace_back(i % 700, "/a" + std::to_string(i));
    b.emplace_back(i % 900, "/b" + std::to_string(i));  // 700 partitions shared, 200 not
  }
  PartitionedBuffer one(Schema(), {"status"}), many(Schema(), {"status"});
  PartitionedBuffer one_other(Schema(), {"status"}), many_other(Schema(), {"status"});
  one.Append(Batch(a));
  many.Append(Batch(a));
  one_other.Append(Batch(b));
  many_other.Append(Batch(b));
  one.MergeFrom(one_other, 1);
  many.MergeFrom(many_other, 4);
  EXPECT_EQ(many.rows(), 10000u);
  EXPECT_EQ(many.partition_count(), 900u);
  EXPECT_EQ(Dump(many), Dump(one));
  EXPECT_EQ(many.MemoryBytes(), one.MemoryBytes());
  EXPECT_EQ(many_other.rows(), 0u);
}

TEST(PartitionedBufferTest, Unpartitioned) {
  PartitionedBuffer buf(Schema(), {});
  buf.Append(Batch({{200, "/a"}, {404, "/b"}}));
  ASSERT_EQ(buf.Partitions().size(), 1u);
  EXPECT_EQ(buf.Partitions()[0]->path, "");
  EXPECT_EQ(buf.Partitions()[0]->rows.num_rows(), 2u);
}

// write.target_file_mb: a partition bigger than the target is written as several files of about
// the target size, contiguous in arrival order, together holding every row once; a small one stays
// one file.
TEST(WriteStagedFilesTest, APartitionLargerThanTheTargetIsRolledIntoSeveralFiles) {
  PartitionedBuffer buf(Schema(), {"status"});
  ColumnBatch big(Schema());
  for (int i = 0; i < 60000; ++i) {
    big.columns[0].AppendInt64(200);
    big.columns[1].AppendString("/p/" + std::to_string(i * 7919 % 100003) + "/" + std::to_string(i));
  }
  big.columns[0].AppendInt64(404);
  big.columns[1].AppendString("/missing");
  buf.Append(big);
  LakeFileOptions o;
  o.staging_dir = ::testing::TempDir() + "weir-roll-" + std::to_string(::getpid());
  o.file_stem = "part-x";
  o.compression = "none";
  auto whole = WriteStagedFiles(buf, o);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  ASSERT_EQ(whole->size(), 2u);  // no target: one file per partition
  uint64_t big_bytes = 0;
  for (const auto& f : *whole) big_bytes = std::max(big_bytes, f.bytes);
  o.file_stem = "part-y";
  o.target_file_bytes = big_bytes / 4;
  o.threads = 3;  // written in parallel, returned in partition and row order
  auto rolled = WriteStagedFiles(buf, o);
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  size_t files_200 = 0;
  uint64_t rows_200 = 0;
  std::string next = "/p/0/0";  // rows stay in arrival order across the files
  for (const auto& f : *rolled) {
    if (f.partition != "status=200") {
      EXPECT_EQ(f.rows, 1u);
      continue;
    }
    ++files_200;
    rows_200 += f.rows;
    EXPECT_LT(f.bytes, o.target_file_bytes * 3 / 2) << f.rel_path;
    EXPECT_EQ(std::string(f.data->columns[0].StringAt(0)), next) << f.rel_path;
    const size_t last = rows_200 - 1;
    next = "/p/" + std::to_string((last + 1) * 7919 % 100003) + "/" + std::to_string(last + 1);
    EXPECT_NE(f.rel_path.find("part-y-r"), std::string::npos) << f.rel_path;
  }
  EXPECT_GE(files_200, 3u);
  EXPECT_LE(files_200, 6u);
  EXPECT_EQ(rows_200, 60000u);
}

}  // namespace
}  // namespace weir
