// A whole Iceberg table on disk, read by an independent reader: Parquet files from weir's native
// writer, metadata from this library (DescribeDataFile + PlanSnapshot), served over loopback HTTP
// by python3 http.server and read with the npm package `icebird` (tests/lake/icebird_read.mjs),
// including time travel to the first snapshot. Also unit tests of DescribeDataFile's metrics.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "lake/iceberg_commit.h"
#include "lake/iceberg_datafile.h"
#include "lake/parquet_writer.h"

// e2e_util.h's Weir() helper needs the binary's path; this test never runs weir itself.
#ifndef WEIR_BUILT_BIN
#define WEIR_BUILT_BIN "/bin/false"
#endif
#include "../e2e/e2e_util.h"

namespace weir::iceberg {
namespace {

namespace fs = std::filesystem;

const std::vector<ColumnSchema> kColumns = {{"id", ColumnType::kInt64},
                                            {"event", ColumnType::kString},
                                            {"ts", ColumnType::kTimestampMs},
                                            {"score", ColumnType::kDouble}};

struct Rows {
  std::vector<ColumnBuffer> cols;
  Rows() {
    for (const auto& c : kColumns) cols.emplace_back(c.type);
  }
  void Add(int64_t id, const std::string& event, int64_t ts_ms, std::optional<double> score) {
    cols[0].AppendInt64(id);
    cols[1].AppendString(event);
    cols[2].AppendInt64(ts_ms);
    if (score) {
      cols[3].AppendDouble(*score);
    } else {
      cols[3].AppendNull();
    }
  }
  std::vector<const ColumnBuffer*> Ptrs() const {
    std::vector<const ColumnBuffer*> p;
    for (const auto& c : cols) p.push_back(&c);
    return p;
  }
};

PartitionSpec EventDaySpec() {
  return PartitionSpec{
      0, {{2, 1000, "event", Transform::kIdentity}, {3, 1001, "ts_day", Transform::kDay}}};
}

constexpr int64_t kNov20 = 1763596800000;  // 2025-11-20T00:00:00Z in ms (day 20412)
constexpr int64_t kDayMs = 86400000;

TEST(IcebergDataFile, MetricsAndPartitionFromColumns) {
  Schema schema = SchemaFromColumns(kColumns);
  Rows r;
  r.Add(7, "click", kNov20 + 5, 2.5);
  r.Add(-3, "click", kNov20 + 1000, std::nan(""));
  r.Add(12, "click", kNov20 + kDayMs - 1, std::nullopt);
  r.Add(0, "click", kNov20, -0.0);
  auto f = DescribeDataFile(schema, EventDaySpec(), kColumns, r.Ptrs(), "/t/data/x.parquet", 1234);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->record_count, 4);
  EXPECT_EQ(f->file_size_in_bytes, 1234);
  EXPECT_EQ(f->value_counts.at(4), 4);
  EXPECT_EQ(f->null_value_counts.at(4), 1);
  EXPECT_EQ(f->nan_value_counts.at(4), 1);
  EXPECT_FALSE(f->nan_value_counts.count(1));
  EXPECT_EQ(f->lower_bounds.at(1), Literal::Long(-3).ToBinary());
  EXPECT_EQ(f->upper_bounds.at(1), Literal::Long(12).ToBinary());
  EXPECT_EQ(f->lower_bounds.at(3), Literal::TimestampTz(kNov20 * 1000).ToBinary());  // microseconds
  EXPECT_EQ(f->upper_bounds.at(3), Literal::TimestampTz((kNov20 + kDayMs - 1) * 1000).ToBinary());
  EXPECT_EQ(f->lower_bounds.at(4), Literal::Double(-0.0).ToBinary());  // NaN excluded, -0.0 first
  EXPECT_EQ(f->upper_bounds.at(4), Literal::Double(2.5).ToBinary());
  ASSERT_EQ(f->partition.size(), 2u);
  EXPECT_EQ(f->partition[0], Literal::String("click"));
  EXPECT_EQ(f->partition[1], Literal::Date(20412));
}

TEST(IcebergDataFile, LongStringsGetAPrefixLowerBoundAndNoUpperBound) {
  Schema schema = SchemaFromColumns(kColumns);
  Rows r;
  const std::string long_value = std::string(63, 'a') + "é" + "zzz";  // 'é' straddles byte 64
  r.Add(1, long_value, 0, 1.0);
  auto f = DescribeDataFile(schema, {}, kColumns, r.Ptrs(), "/t/x.parquet", 1);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->lower_bounds.at(2), std::string(63, 'a'));
  EXPECT_FALSE(f->upper_bounds.count(2));
}

// The bounds are found on typed values (no Literal per row); they must be what Iceberg's order
// over literals gives: the reference below builds a Literal per row and compares with
// Literal::Compare, on random columns of every type with nulls, NaN, -0.0/+0.0, long and
// multi-byte strings.
TEST(IcebergDataFile, TypedBoundsAgreeWithTheLiteralOrderOnRandomColumns) {
  const std::vector<ColumnSchema> columns = {
      {"i", ColumnType::kInt64},  {"s", ColumnType::kString}, {"t", ColumnType::kTimestampMs},
      {"d", ColumnType::kDouble}, {"day", ColumnType::kDate}, {"b", ColumnType::kBool},
      {"j", ColumnType::kJson}};
  const Schema schema = SchemaFromColumns(columns);
  std::mt19937_64 rng(20261203);
  const std::vector<std::string> pieces = {"a", "Z", "é", "\xF0\x9F\x98\x80", "0", "~", ""};
  auto text = [&](size_t max_pieces) {
    std::string v;
    for (size_t n = rng() % (max_pieces + 1); n > 0; --n) v += pieces[rng() % pieces.size()];
    return v;
  };
  const std::vector<double> doubles = {0.0, -0.0, 1.5, -1.5, std::nan(""),
                                       std::numeric_limits<double>::infinity(), -2e300};
  for (int round = 0; round < 300; ++round) {
    std::vector<ColumnBuffer> cols;
    for (const auto& c : columns) cols.emplace_back(c.type);
    const size_t rows = 1 + rng() % 12;
    const int null_percent = static_cast<int>(rng() % 3) * 40;  // none, some, most
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols.size(); ++c) {
        if (static_cast<int>(rng() % 100) < null_percent) {
          cols[c].AppendNull();
          continue;
        }
        switch (columns[c].type) {
          case ColumnType::kInt64: cols[c].AppendInt64(static_cast<int64_t>(rng() % 7) - 3); break;
          case ColumnType::kTimestampMs: cols[c].AppendInt64(static_cast<int64_t>(rng() % 5) * -kDayMs); break;
          case ColumnType::kDouble: cols[c].AppendDouble(doubles[rng() % doubles.size()]); break;
          case ColumnType::kDate: cols[c].AppendDate(static_cast<int32_t>(rng() % 9) - 4); break;
          case ColumnType::kBool: cols[c].AppendBool(rng() % 2 == 1); break;
          case ColumnType::kString: cols[c].AppendString(text(rng() % 4 == 0 ? 40 : 4)); break;
          case ColumnType::kJson: cols[c].AppendString("\"" + text(rng() % 4 == 0 ? 40 : 4) + "\""); break;
        }
      }
    }
    std::vector<const ColumnBuffer*> ptrs;
    for (const auto& c : cols) ptrs.push_back(&c);
    auto f = DescribeDataFile(schema, {}, columns, ptrs, "/t/x.parquet", 1);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    for (size_t c = 0; c < cols.size(); ++c) {
      const int id = schema.FindByName(columns[c].name)->id;
      OptionalLiteral lo, hi;
      bool truncated = false;
      int64_t nans = 0;
      for (size_t r = 0; r < rows; ++r) {
        OptionalLiteral v = ColumnValue(cols[c], r);
        if (!v) continue;
        if (v->type == Type::kDouble && std::isnan(v->d)) {
          ++nans;
          continue;
        }
        if (v->type == Type::kString && v->s.size() > kMaxStringBound) {
          size_t n = kMaxStringBound;
          while (n > 0 && (static_cast<unsigned char>(v->s[n]) & 0xC0) == 0x80) --n;
          Literal cut = Literal::String(v->s.substr(0, n));
          if (!lo || cut.Compare(*lo) < 0) lo = cut;
          truncated = true;
          continue;
        }
        if (!lo || v->Compare(*lo) < 0) lo = v;
        if (!hi || v->Compare(*hi) > 0) hi = v;
      }
      const std::string where = "round " + std::to_string(round) + ", column " + columns[c].name;
      ASSERT_EQ(f->lower_bounds.count(id), lo.has_value() ? 1u : 0u) << where;
      if (lo) {
        EXPECT_EQ(f->lower_bounds.at(id), lo->ToBinary()) << where;
      }
      const bool has_upper = hi.has_value() && !truncated;
      ASSERT_EQ(f->upper_bounds.count(id), has_upper ? 1u : 0u) << where;
      if (has_upper) {
        EXPECT_EQ(f->upper_bounds.at(id), hi->ToBinary()) << where;
      }
      if (columns[c].type == ColumnType::kDouble) {
        EXPECT_EQ(f->nan_value_counts.at(id), nans) << where;
      }
    }
  }
}

// Rows repeating their predecessor's partition value skip the transform; a change after a run of
// equal values is still refused, at the row where it happens.
TEST(IcebergDataFile, APartitionChangeAfterRepeatedValuesIsRefusedAtItsRow) {
  Schema schema = SchemaFromColumns(kColumns);
  Rows r;
  r.Add(1, "click", kNov20, 1.0);
  r.Add(2, "click", kNov20, 1.0);
  r.Add(3, "click", kNov20, 1.0);
  r.Add(4, "view", kNov20, 1.0);
  auto f = DescribeDataFile(schema, EventDaySpec(), kColumns, r.Ptrs(), "/t/x.parquet", 1);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("row 3 of column 'event' belongs to another partition"),
            std::string::npos)
      << f.status().message();
}

TEST(IcebergDataFile, RefusesMixedPartitionsAndUnknownColumns) {
  Schema schema = SchemaFromColumns(kColumns);
  Rows r;
  r.Add(1, "click", kNov20, 1.0);
  r.Add(2, "click", kNov20 + kDayMs, 1.0);  // next day
  auto f = DescribeDataFile(schema, EventDaySpec(), kColumns, r.Ptrs(), "/t/x.parquet", 1);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(
      f.status().message().find("row 1 of column 'ts' belongs to another partition ('ts_day')"),
      std::string::npos)
      << f.status().message();
  Schema other = SchemaFromColumns({{"id", ColumnType::kInt64}});
  EXPECT_FALSE(DescribeDataFile(other, {}, kColumns, r.Ptrs(), "/t/x.parquet", 1).ok());
  Schema wrong_type = SchemaFromColumns({{"id", ColumnType::kString},
                                         {"event", ColumnType::kString},
                                         {"ts", ColumnType::kTimestampMs},
                                         {"score", ColumnType::kDouble}});
  auto t = DescribeDataFile(wrong_type, {}, kColumns, r.Ptrs(), "/t/x.parquet", 1);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(
      t.status().message().find("'id' is int64 but the Iceberg table schema has it as string"),
      std::string::npos)
      << t.status().message();
}

// ---- icebird ------------------------------------------------------------------------------------

// Writes a planned metadata file under the table folder (location prefix -> local folder).
void WritePlanned(const SnapshotPlan& plan, const std::string& location,
                  const fs::path& table_dir) {
  for (const auto& f : plan.files) {
    ASSERT_EQ(f.location.rfind(location + "/", 0), 0u) << f.location;
    const fs::path local = table_dir / f.location.substr(location.size() + 1);
    fs::create_directories(local.parent_path());
    std::ofstream(local, std::ios::binary) << f.bytes;
  }
  // The file-system catalog convention that path-based readers (icebird included) follow.
  std::ofstream(table_dir / "metadata" / "version-hint.text") << plan.version;
}

nlohmann::json ReadWithIcebird(const std::string& table_url,
                               const std::string& metadata_file = "") {
  e2e::CmdResult r = e2e::IcebirdRead(table_url, metadata_file);
  EXPECT_EQ(r.exit_code, 0) << table_url << "\n" << r.out;
  if (r.exit_code != 0) return nlohmann::json::array();
  return nlohmann::json::parse(r.out);
}

TEST(IcebergIcebird, ReadsATableWeirWroteIncludingTimeTravel) {
  if (!e2e::HaveIcebird())
    FAIL() << "node or the npm package icebird is missing: run scripts/install-deps.sh";
  const fs::path dir = e2e::TempDir("iceberg-icebird");
  const fs::path table_dir = dir / "events";
  e2e::LocalHttpServer server;
  ASSERT_TRUE(server.Start(dir.string(), (dir / "http.log").string()));
  const std::string location = server.base_url() + "events";

  Schema schema = SchemaFromColumns(kColumns);
  auto meta = NewTableMetadata(location, NewUuid(), schema, EventDaySpec(), {}, {}, 1000);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();

  // One data file per partition, written by weir's Parquet writer.
  auto data_file = [&](const std::string& rel, const Rows& rows) {
    ParquetWriteOptions options;
    for (const auto& field : schema.fields)
      options.field_ids.push_back(field.id);  // as Iceberg requires
    auto bytes = EncodeParquet(kColumns, rows.Ptrs(), options);
    EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
    const fs::path local = table_dir / rel;
    fs::create_directories(local.parent_path());
    std::ofstream(local, std::ios::binary) << *bytes;
    auto f = DescribeDataFile(schema, EventDaySpec(), kColumns, rows.Ptrs(), location + "/" + rel,
                              static_cast<int64_t>(bytes->size()));
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return *f;
  };
  Rows a, b, c;
  a.Add(1, "click", kNov20 + 1000, 1.5);
  a.Add(2, "click", kNov20 + 2000, std::nullopt);
  a.Add(3, "click", kNov20 + 3000, 3.5);
  b.Add(4, "view", kNov20 + 4000, 4.5);
  b.Add(5, "view", kNov20 + 5000, 5.5);
  c.Add(6, "click", kNov20 + kDayMs, 6.5);
  c.Add(7, "click", kNov20 + kDayMs + 1, 7.5);

  SnapshotUpdate first;
  first.timestamp_ms = 2000;
  first.added = {data_file("data/event=click/ts_day=2025-11-20/part-0.parquet", a),
                 data_file("data/event=view/ts_day=2025-11-20/part-0.parquet", b)};
  MetadataFileLoader load = [&](const std::string& loc) -> Result<std::string> {
    std::ifstream in(table_dir / loc.substr(location.size() + 1), std::ios::binary);
    if (!in) return Status::NotFound(loc);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  auto p1 = PlanSnapshot(*meta, "", first, load);
  ASSERT_TRUE(p1.ok()) << p1.status().ToString();
  WritePlanned(*p1, location, table_dir);

  SnapshotUpdate second;
  second.timestamp_ms = 3000;
  second.added = {data_file("data/event=click/ts_day=2025-11-21/part-0.parquet", c)};
  auto p2 = PlanSnapshot(p1->metadata, p1->metadata_location, second, load);
  ASSERT_TRUE(p2.ok()) << p2.status().ToString();
  WritePlanned(*p2, location, table_dir);

  // The metadata of this real table passes the python3-avro spec check too (when installed).
  if (std::system("/usr/bin/python3 -c 'import avro.datafile' 2>/dev/null") == 0) {
    std::string cmd = "/usr/bin/python3 " WEIR_SOURCE_DIR "/tests/lake/iceberg_avro_check.py";
    for (const auto& e : fs::directory_iterator(table_dir / "metadata")) {
      if (e.path().extension() != ".text") cmd += " '" + e.path().string() + "'";
    }
    e2e::CmdResult check = e2e::RunCmd(cmd + " 2>&1");
    EXPECT_EQ(check.exit_code, 0) << check.out;
  }

  // Current snapshot (through version-hint.text): all 7 rows with their values.
  nlohmann::json rows = ReadWithIcebird(location);
  ASSERT_EQ(rows.size(), 7u) << rows.dump();
  std::set<std::string> ids;
  for (const auto& row : rows) {
    ids.insert(row["id"].get<std::string>());  // BigInt from INT64
    const int64_t id = std::stoll(row["id"].get<std::string>());
    EXPECT_EQ(row["event"], id <= 3 || id >= 6 ? "click" : "view");
    if (id == 2) {
      EXPECT_TRUE(row["score"].is_null());
    } else {
      EXPECT_DOUBLE_EQ(row["score"].get<double>(), static_cast<double>(id) + 0.5);
    }
    if (id == 4) {
      EXPECT_EQ(row["ts"].get<int64_t>(), kNov20 + 4000) << row.dump();
    }
  }
  EXPECT_EQ(ids, (std::set<std::string>{"1", "2", "3", "4", "5", "6", "7"}));

  // Time travel: the first snapshot's metadata file sees only its 5 rows.
  nlohmann::json old_rows = ReadWithIcebird(location, "v1.metadata.json");
  EXPECT_EQ(old_rows.size(), 5u) << old_rows.dump();
  server.Stop();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace weir::iceberg
