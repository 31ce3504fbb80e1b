// Tests of the typed Iceberg metadata: single-value binary serialization (spec Appendix D),
// transforms, table creation, and the metadata JSON round trip (Appendix C).
#include "lake/iceberg.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace weir::iceberg {
namespace {

std::string Hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

TEST(IcebergLiteral, BinarySerializationFollowsAppendixD) {
  EXPECT_EQ(Hex(Literal::Boolean(true).ToBinary()), "01");
  EXPECT_EQ(Hex(Literal::Boolean(false).ToBinary()), "00");
  EXPECT_EQ(Hex(Literal::Int(1).ToBinary()), "01000000");
  EXPECT_EQ(Hex(Literal::Date(-1).ToBinary()), "ffffffff");
  EXPECT_EQ(Hex(Literal::Long(258).ToBinary()), "0201000000000000");
  EXPECT_EQ(Hex(Literal::TimestampTz(-1).ToBinary()), "ffffffffffffffff");
  EXPECT_EQ(Hex(Literal::Double(1.0).ToBinary()), "000000000000f03f");
  EXPECT_EQ(Literal::String("héllo").ToBinary(), "héllo");  // UTF-8 bytes, no length prefix

  for (const Literal& l :
       {Literal::Boolean(true), Literal::Int(-7), Literal::Date(20000), Literal::Long(INT64_MIN),
        Literal::TimestampTz(1732000000123456), Literal::Double(-2.5), Literal::String("")}) {
    auto back = Literal::FromBinary(l.type, l.ToBinary());
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, l) << TypeName(l.type);
  }
  auto bad = Literal::FromBinary(Type::kLong, "abc");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("3 bytes, expected 8"), std::string::npos);
}

TEST(IcebergLiteral, CompareUsesIcebergOrder) {
  EXPECT_LT(Literal::Double(-0.0).Compare(Literal::Double(0.0)), 0);
  EXPECT_GT(Literal::String("é").Compare(Literal::String("z")), 0);  // unsigned bytes
  EXPECT_LT(Literal::Long(-5).Compare(Literal::Long(3)), 0);
  EXPECT_EQ(Literal::Date(3).Compare(Literal::Date(3)), 0);
}

TEST(IcebergTransform, TimeTransformsFloorBeforeTheEpoch) {
  constexpr int64_t kHour = 3600LL * 1000000;
  auto day = [](int64_t micros) {
    return ApplyTransform(Transform::kDay, Literal::TimestampTz(micros))->value();
  };
  auto hour = [](int64_t micros) {
    return ApplyTransform(Transform::kHour, Literal::TimestampTz(micros))->value();
  };
  EXPECT_EQ(day(0), Literal::Date(0));
  EXPECT_EQ(day(-1), Literal::Date(-1));
  EXPECT_EQ(day(24 * kHour), Literal::Date(1));
  EXPECT_EQ(hour(kHour - 1), Literal::Int(0));
  EXPECT_EQ(hour(-1), Literal::Int(-1));
  // 2025-11-20T13:45:00Z = 1763646300 s -> day 20412, hour 489901.
  EXPECT_EQ(day(1763646300LL * 1000000), Literal::Date(20412));
  EXPECT_EQ(hour(1763646300LL * 1000000), Literal::Int(489901));
  EXPECT_EQ(ApplyTransform(Transform::kYear, Literal::Date(20412))->value(), Literal::Int(55));
  EXPECT_EQ(ApplyTransform(Transform::kMonth, Literal::Date(20412))->value(),
            Literal::Int(55 * 12 + 10));
  EXPECT_EQ(ApplyTransform(Transform::kMonth, Literal::Date(-1))->value(), Literal::Int(-1));
  EXPECT_EQ(ApplyTransform(Transform::kDay, Literal::Date(5))->value(), Literal::Date(5));
  EXPECT_FALSE(ApplyTransform(Transform::kDay, OptionalLiteral()).value().has_value());
  EXPECT_EQ(ApplyTransform(Transform::kIdentity, Literal::String("x"))->value(),
            Literal::String("x"));
  auto bad = ApplyTransform(Transform::kHour, Literal::Date(1));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'hour' transform does not apply to a date"),
            std::string::npos);
}

TEST(IcebergSchema, FromWeirColumns) {
  Schema s = SchemaFromColumns({{"s", ColumnType::kString},
                                {"i", ColumnType::kInt64},
                                {"d", ColumnType::kDouble},
                                {"b", ColumnType::kBool},
                                {"ts", ColumnType::kTimestampMs},
                                {"dt", ColumnType::kDate},
                                {"j", ColumnType::kJson}});
  ASSERT_EQ(s.fields.size(), 7u);
  const Type want[] = {Type::kString,      Type::kLong, Type::kDouble, Type::kBoolean,
                       Type::kTimestamptz, Type::kDate, Type::kString};
  for (size_t k = 0; k < 7; ++k) {
    EXPECT_EQ(s.fields[k].id, static_cast<int>(k + 1));
    EXPECT_FALSE(s.fields[k].required);
    EXPECT_EQ(s.fields[k].type, want[k]) << s.fields[k].name;
  }
  EXPECT_EQ(s.HighestFieldId(), 7);
}

Schema EventSchema() {
  return SchemaFromColumns({{"id", ColumnType::kInt64},
                            {"event", ColumnType::kString},
                            {"ts", ColumnType::kTimestampMs},
                            {"score", ColumnType::kDouble}});
}

TEST(IcebergTable, NewTableAssignsPartitionIdsAndValidates) {
  PartitionSpec spec{0, {{2, 0, "event", Transform::kIdentity}, {3, 0, "ts_day", Transform::kDay}}};
  SortOrder order{0, {{1, Transform::kIdentity, false, true}}};
  auto m = NewTableMetadata("/lake/events/", "u-1", EventSchema(), spec, order, {{"k", "v"}}, 1000);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->location, "/lake/events");
  EXPECT_EQ(m->partition_specs[0].fields[0].field_id, 1000);
  EXPECT_EQ(m->partition_specs[0].fields[1].field_id, 1001);
  EXPECT_EQ(m->last_partition_id, 1001);
  EXPECT_EQ(m->last_column_id, 4);
  ASSERT_EQ(m->sort_orders.size(), 2u);
  EXPECT_EQ(m->default_sort_order_id, 1);
  EXPECT_FALSE(m->current_snapshot_id.has_value());

  auto unpartitioned = NewTableMetadata("/t", "u", EventSchema(), {}, {}, {}, 1);
  ASSERT_TRUE(unpartitioned.ok());
  EXPECT_EQ(unpartitioned->last_partition_id, 999);

  PartitionSpec bad_src{0, {{9, 0, "x", Transform::kIdentity}}};
  auto r = NewTableMetadata("/t", "u", EventSchema(), bad_src, {}, {}, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("column id 9"), std::string::npos);
  PartitionSpec bad_transform{0, {{2, 0, "x", Transform::kHour}}};
  EXPECT_FALSE(NewTableMetadata("/t", "u", EventSchema(), bad_transform, {}, {}, 1).ok());
}

TableMetadata FullMetadata() {
  PartitionSpec spec{0,
                     {{2, 0, "event", Transform::kIdentity}, {3, 0, "ts_hour", Transform::kHour}}};
  TableMetadata m =
      *NewTableMetadata("s3://bucket/lake/events", "9c12a3f0-0000-4000-8000-000000000001",
                        EventSchema(), spec, SortOrder{0, {{1, Transform::kIdentity, true, false}}},
                        {{"write.format.default", "parquet"}}, 1700000000000);
  Schema s1 = m.schemas[0];
  s1.schema_id = 1;
  s1.fields.push_back({5, "note", false, Type::kString, "added later"});
  s1.identifier_field_ids = {1};
  m.schemas.push_back(s1);
  m.current_schema_id = 1;
  m.last_column_id = 5;
  m.snapshots.push_back({11,
                         std::nullopt,
                         1,
                         1700000000100,
                         "s3://bucket/lake/events/metadata/snap-11.avro",
                         {{"operation", "append"}, {"added-data-files", "2"}, {"weir.run", "r1"}},
                         0});
  m.snapshots.push_back({22,
                         11,
                         2,
                         1700000000200,
                         "s3://bucket/lake/events/metadata/snap-22.avro",
                         {{"operation", "replace"}},
                         1});
  m.current_snapshot_id = 22;
  m.last_sequence_number = 2;
  m.refs["main"] = {22, "branch", {}, {}, {}};
  m.refs["audit"] = {11, "tag", std::nullopt, std::nullopt, 86400000};
  m.refs["dev"] = {11, "branch", 3, 604800000, std::nullopt};
  m.snapshot_log = {{1700000000100, 11}, {1700000000200, 22}};
  m.metadata_log = {{1700000000000, "s3://bucket/lake/events/metadata/v1.metadata.json"}};
  m.last_updated_ms = 1700000000200;
  return m;
}

TEST(IcebergJson, MetadataRoundTripsExactly) {
  const TableMetadata m = FullMetadata();
  const std::string text = TableMetadataToJson(m);
  auto back = ParseTableMetadata(text, "v3.metadata.json");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, m);
  EXPECT_EQ(TableMetadataToJson(*back), text);  // deterministic serialization
  // Spot checks of the spec's spellings.
  for (const char* key :
       {"\"format-version\": 2", "\"last-sequence-number\": 2", "\"default-sort-order-id\": 1",
        "\"transform\": \"hour\"", "\"field-id\": 1001", "\"type\": \"timestamptz\"",
        "\"null-order\": \"nulls-last\"", "\"direction\": \"desc\"", "\"max-ref-age-ms\": 86400000",
        "\"metadata-file\": \"s3://bucket/lake/events/metadata/v1.metadata.json\"",
        "\"identifier-field-ids\": [", "\"doc\": \"added later\""}) {
    EXPECT_NE(text.find(key), std::string::npos) << key << "\n" << text;
  }
}

// Metadata as another engine writes it: keys in another order, Java's -1 for "no snapshot",
// no refs, extra keys we do not model.
TEST(IcebergJson, ParsesForeignV2MetadataWithoutSnapshots) {
  const std::string text = R"({
    "format-version": 2, "table-uuid": "fb072c92-a02b-11e9-ae9c-1bb7bc9eca94",
    "location": "s3://b/wh/data.db/table", "last-sequence-number": 0,
    "last-updated-ms": 1515100955770, "last-column-id": 2,
    "schemas": [{"type": "struct", "schema-id": 0, "fields": [
      {"id": 1, "name": "x", "required": true, "type": "long"},
      {"id": 2, "name": "ts", "required": false, "type": "timestamptz"}]}],
    "current-schema-id": 0,
    "partition-specs": [{"spec-id": 0, "fields": [{"source-id": 2, "field-id": 1000, "name": "ts_day", "transform": "day"}]}],
    "default-spec-id": 0, "last-partition-id": 1000,
    "sort-orders": [{"order-id": 0, "fields": []}], "default-sort-order-id": 0,
    "current-snapshot-id": -1, "statistics": [], "partition-statistics": []
  })";
  auto m = ParseTableMetadata(text, "v1.metadata.json");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_FALSE(m->current_snapshot_id.has_value());
  EXPECT_TRUE(m->refs.empty());
  EXPECT_TRUE(m->schemas[0].fields[0].required);
  EXPECT_EQ(m->partition_specs[0].fields[0].transform, Transform::kDay);
}

TEST(IcebergJson, ErrorsNameTheFileAndKey) {
  std::string text = TableMetadataToJson(FullMetadata());
  auto expect_error = [](const std::string& t, const std::string& needle) {
    auto r = ParseTableMetadata(t, "meta/v9.metadata.json");
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("meta/v9.metadata.json"), std::string::npos);
  };
  expect_error("not json", "not a JSON object");
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    const size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  expect_error(replace("\"format-version\": 2", "\"format-version\": 3"),
               "format-version 3 is not supported");
  expect_error(replace("\"table-uuid\"", "\"table-uuidx\""), "'table-uuid' is missing");
  expect_error(replace("\"last-column-id\": 5", "\"last-column-id\": \"5\""),
               "'last-column-id' must be an integer");
  expect_error(replace("\"type\": \"timestamptz\"", "\"type\": \"decimal(9,2)\""),
               "'decimal(9,2)' is not supported");
  expect_error(replace("\"current-snapshot-id\": 22", "\"current-snapshot-id\": 23"),
               "23 names no snapshot");
  expect_error(replace("\"transform\": \"hour\"", "\"transform\": \"bucket[16]\""),
               "'bucket[16]' is not supported");
}

TEST(IcebergIds, UuidAndSnapshotIdShape) {
  const std::string u = NewUuid();
  ASSERT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '4');
  EXPECT_TRUE(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b');
  EXPECT_NE(NewUuid(), u);
  for (int k = 0; k < 100; ++k) EXPECT_GT(NewSnapshotId(), 0);
}

}  // namespace
}  // namespace weir::iceberg
