// Tests of the Avro encoder, decoder and container writer: byte sequences from the examples of the
// Avro 1.11 specification and round trips through our decoder. Files from this writer (deflate
// codec) are also decoded by Debian's python3-avro in iceberg_commit_test.cc (IcebergPythonAvro).
#include "lake/avro_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

namespace weir {
namespace {

std::string Hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (!out.empty()) out.push_back(' ');
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

std::string EncLong(int64_t v) {
  AvroEncoder e;
  e.Long(v);
  return Hex(e.data());
}

// The zig-zag table of the specification ("Primitive Types Encoding").
TEST(AvroEncoder, ZigZagMatchesSpecTable) {
  EXPECT_EQ(EncLong(0), "00");
  EXPECT_EQ(EncLong(-1), "01");
  EXPECT_EQ(EncLong(1), "02");
  EXPECT_EQ(EncLong(-2), "03");
  EXPECT_EQ(EncLong(2), "04");
  EXPECT_EQ(EncLong(-64), "7f");
  EXPECT_EQ(EncLong(64), "80 01");
  EXPECT_EQ(EncLong(27), "36");
  EXPECT_EQ(EncLong(std::numeric_limits<int64_t>::max()), "fe ff ff ff ff ff ff ff ff 01");
  EXPECT_EQ(EncLong(std::numeric_limits<int64_t>::min()), "ff ff ff ff ff ff ff ff ff 01");
  AvroEncoder e;
  e.Int(-64);
  EXPECT_EQ(Hex(e.data()), "7f");
}

// The specification's examples: string "foo", record {a: 27, b: "foo"}, array [3, 27],
// union ["null","string"] with null and "a".
TEST(AvroEncoder, SpecExamples) {
  AvroEncoder s;
  s.String("foo");
  EXPECT_EQ(Hex(s.data()), "06 66 6f 6f");

  AvroEncoder rec;
  rec.Long(27);
  rec.String("foo");
  EXPECT_EQ(Hex(rec.data()), "36 06 66 6f 6f");

  AvroEncoder arr;
  arr.ArrayStart(2);
  arr.Long(3);
  arr.Long(27);
  arr.ArrayEnd();
  EXPECT_EQ(Hex(arr.data()), "04 06 36 00");

  AvroEncoder empty;
  empty.ArrayStart(0);
  empty.ArrayEnd();
  EXPECT_EQ(Hex(empty.data()), "00");

  AvroEncoder u;
  u.Union(0);
  u.Null();
  u.Union(1);
  u.String("a");
  EXPECT_EQ(Hex(u.data()), "00 02 02 61");
}

TEST(AvroEncoder, FloatDoubleBooleanLittleEndian) {
  AvroEncoder e;
  e.Double(1.0);
  e.Float(1.0f);
  e.Boolean(true);
  e.Boolean(false);
  EXPECT_EQ(Hex(e.data()), "00 00 00 00 00 00 f0 3f 00 00 80 3f 01 00");
}

TEST(AvroDecoder, RoundTripsEveryType) {
  std::mt19937_64 rng(7);
  AvroEncoder e;
  std::vector<int64_t> longs = {0, 1, -1, 63, 64, -65, INT64_MAX, INT64_MIN};
  for (int i = 0; i < 200; ++i) longs.push_back(static_cast<int64_t>(rng()) >> (rng() % 64));
  for (int64_t v : longs) e.Long(v);
  e.Int(INT32_MIN);
  e.Double(-0.0);
  e.Double(std::numeric_limits<double>::quiet_NaN());
  e.Float(3.5f);
  e.Bytes(std::string("\0\xff", 2));
  e.String("");
  e.Fixed("0123456789abcdef");
  e.Boolean(true);

  AvroDecoder d(e.data());
  for (int64_t v : longs) {
    auto r = d.Long();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, v);
  }
  EXPECT_EQ(*d.Int(), INT32_MIN);
  auto nz = d.Double();
  EXPECT_TRUE(*nz == 0.0 && std::signbit(*nz));
  EXPECT_TRUE(std::isnan(*d.Double()));
  EXPECT_EQ(*d.Float(), 3.5f);
  EXPECT_EQ(*d.Bytes(), std::string("\0\xff", 2));
  EXPECT_EQ(*d.String(), "");
  EXPECT_EQ(*d.Fixed(16), "0123456789abcdef");
  EXPECT_TRUE(*d.Boolean());
  EXPECT_TRUE(d.AtEnd());
}

TEST(AvroDecoder, TruncatedInputIsCorruptionNotOverread) {
  AvroEncoder e;
  e.String("hello");
  const std::string cut = e.data().substr(0, 3);
  AvroDecoder d(cut);
  auto r = d.String();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  const std::string unterminated("\x80\x80", 2);  // varint whose last byte says "more follows"
  AvroDecoder bad(unterminated);
  EXPECT_FALSE(bad.Long().ok());
}

AvroContainerOptions FixedSync(AvroContainerOptions::Codec codec) {
  AvroContainerOptions o;
  o.codec = codec;
  o.sync_marker = std::string(16, '\x5a');
  return o;
}

TEST(AvroContainer, HeaderLayoutMatchesSpec) {
  AvroContainerWriter w("\"long\"", FixedSync(AvroContainerOptions::Codec::kNull));
  AvroEncoder e;
  e.Long(1);
  ASSERT_TRUE(w.Append(e.data()).ok());
  auto file = w.Finish();
  ASSERT_TRUE(file.ok());
  // magic, map block of 2 entries, "avro.schema" -> "\"long\"", "avro.codec" -> "null", end,
  // sync, then one block: count 1, size 1, the datum 02, sync.
  AvroEncoder x;
  x.Fixed(std::string("Obj\x01", 4));
  x.Long(2);
  x.String("avro.schema");
  x.Bytes("\"long\"");
  x.String("avro.codec");
  x.Bytes("null");
  x.Long(0);
  x.Fixed(std::string(16, '\x5a'));
  x.Long(1);
  x.Long(1);
  x.Long(1);
  x.Fixed(std::string(16, '\x5a'));
  EXPECT_EQ(Hex(*file), Hex(x.data()));
}

TEST(AvroContainer, RoundTripWithBothCodecsAndManyBlocks) {
  for (auto codec : {AvroContainerOptions::Codec::kNull, AvroContainerOptions::Codec::kDeflate}) {
    auto opts = FixedSync(codec);
    opts.block_bytes = 100;  // force many blocks
    AvroContainerWriter w(R"({"type":"record","name":"r","fields":[{"name":"s","type":"string"}]})",
                          opts);
    ASSERT_TRUE(w.SetMetadata("k", "v").ok());
    EXPECT_FALSE(w.SetMetadata("avro.codec", "x").ok());
    for (int i = 0; i < 500; ++i) {
      AvroEncoder e;
      e.String("row " + std::to_string(i));
      ASSERT_TRUE(w.Append(e.data()).ok());
    }
    EXPECT_FALSE(w.SetMetadata("late", "x").ok());
    auto file = w.Finish();
    ASSERT_TRUE(file.ok());
    auto c = ReadAvroContainer(*file, "test.avro");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->metadata["k"], "v");
    EXPECT_EQ(c->metadata["avro.codec"],
              codec == AvroContainerOptions::Codec::kNull ? "null" : "deflate");
    EXPECT_GT(c->blocks.size(), 5u);
    int i = 0;
    for (const auto& b : c->blocks) {
      AvroDecoder d(b.data);
      for (int64_t k = 0; k < b.count; ++k, ++i) EXPECT_EQ(*d.String(), "row " + std::to_string(i));
      EXPECT_TRUE(d.AtEnd());
    }
    EXPECT_EQ(i, 500);
  }
}

TEST(AvroContainer, EmptyFileHasHeaderOnly) {
  AvroContainerWriter w("\"int\"", FixedSync(AvroContainerOptions::Codec::kDeflate));
  auto file = w.Finish();
  ASSERT_TRUE(file.ok());
  auto c = ReadAvroContainer(*file, "empty.avro");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->blocks.empty());
  EXPECT_EQ(c->metadata["avro.schema"], "\"int\"");
}

TEST(AvroContainer, ReaderRejectsDamage) {
  AvroContainerWriter w("\"int\"", FixedSync(AvroContainerOptions::Codec::kNull));
  AvroEncoder e;
  e.Int(5);
  ASSERT_TRUE(w.Append(e.data()).ok());
  std::string file = *w.Finish();
  EXPECT_FALSE(ReadAvroContainer("Obj", "x").ok());
  std::string bad_sync = file;
  bad_sync.back() ^= 1;
  auto r = ReadAvroContainer(bad_sync, "x.avro");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("sync marker"), std::string::npos);
  EXPECT_FALSE(ReadAvroContainer(file.substr(0, file.size() - 3), "x.avro").ok());
}

}  // namespace
}  // namespace weir
