#include "exec/record_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace weir {
namespace {

namespace fs = std::filesystem;

// Two record types that must alternate: "<a>...</a>" (patterns) and "B <len>\n<body>\n"
// (header + body + trailer). Bodies contain the other type's patterns, so delimiting with the
// wrong format would give different records.
struct Model {
  std::string text;
  struct Rec {
    int type;
    uint64_t offset, end;
  };
  std::vector<Rec> recs;
};

Model MakeModel(uint32_t seed, int n) {
  std::mt19937 rng(seed);
  Model m;
  const char* noise[] = {"x", "<a>", "B 3\n", "\n", "</a", ">", "yy"};
  for (int i = 0; i < n; ++i) {
    std::string body;
    for (int k = static_cast<int>(rng() % 8); k > 0; --k) body += noise[rng() % 7];
    if (rng() % 4 == 0) m.text += "\n ";  // whitespace between records is skipped
    const uint64_t at = m.text.size();
    if (i % 2 == 0) {
      // An <a> record's body must not contain its end pattern.
      std::string safe;
      for (char c : body) safe += c == '<' ? '(' : c;
      m.text += "<a>" + safe + "</a>";
      m.recs.push_back({0, at, m.text.size()});
    } else {
      m.text += "B " + std::to_string(body.size()) + "\n" + body + "\n";
      m.recs.push_back({1, at, m.text.size()});
    }
  }
  return m;
}

std::vector<sdk::RecordFormat> Formats() {
  sdk::RecordFormat a;
  a.start = "<a>";
  a.end = "</a>";
  sdk::RecordFormat b;
  b.kind = sdk::RecordFormat::Kind::kHeaderBody;
  b.start = "B ";
  b.end = "\n";
  b.trailer = "\n";
  return {a, b};
}

class RecordReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("weir-record-reader-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& data) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << data;
    return p;
  }
  FileRecordReader::Options Opts(const std::string& path) {
    FileRecordReader::Options o;
    o.file_type = "T";
    o.path = path;
    o.formats = Formats();
    o.max_record_bytes = 1 << 20;
    o.body_length = [](int type, std::string_view h) -> int64_t {
      if (type != 1) return -1;
      return std::atoll(std::string(h.substr(2)).c_str());
    };
    return o;
  }
  fs::path dir_;
};

// Reads alternating types one record at a time and checks every record against the model.
void ExpectModel(FileRecordReader& r, const Model& m, size_t first, size_t last) {
  for (size_t i = first; i < last; ++i) {
    r.SetType(m.recs[i].type);
    sdk::Record peeked, rec;
    ASSERT_TRUE(r.Peek(peeked)) << i;
    ASSERT_TRUE(r.Next(rec)) << i;
    EXPECT_EQ(peeked.offset, rec.offset);
    EXPECT_EQ(rec.problem, nullptr) << i << " " << rec.problem;
    EXPECT_EQ(rec.offset, m.recs[i].offset) << i;
    EXPECT_EQ(rec.end_offset, m.recs[i].end) << i;
    EXPECT_EQ(rec.number, i);
    EXPECT_EQ(rec.bytes, std::string_view(m.text).substr(rec.offset, rec.end_offset - rec.offset));
    EXPECT_EQ(r.offset(), rec.end_offset);
  }
}

TEST_F(RecordReaderTest, SwitchingTypesPerRecordGivesExactRecordsPlainAndGzip) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(seed);
    // Enough data for several read chunks, so records straddle chunk boundaries.
    const Model m = MakeModel(seed, 160000);
    ASSERT_GT(m.text.size(), 2u << 20);
    const std::string plain = Write("m.txt", m.text);
    ASSERT_EQ(std::system(("gzip -c " + plain + " > " + plain + ".gz").c_str()), 0);
    for (const std::string& p : {plain, plain + ".gz"}) {
      auto r = FileRecordReader::Open(Opts(p));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ExpectModel(**r, m, 0, m.recs.size());
      sdk::Record rec;
      (*r)->SetType(0);
      EXPECT_FALSE((*r)->Next(rec));
      EXPECT_EQ((*r)->state(), sdk::RecordReader::State::kEnd);
    }
  }
}

// RecordFormat::StartRegex through the reader (one record per Split() call, 1 MiB chunks): the
// records of shapes 2 and 3 are multi-line entries with exact offsets, in whole files and in a
// bounded window (what record-level redrive reads).
TEST_F(RecordReaderTest, StartRegexRecordsAcrossChunksAndInAWindow) {
  std::mt19937 rng(4);
  std::string text = "preamble\n";
  struct Want {
    uint64_t offset, content_end, end;
  };
  std::vector<Want> want = {{0, 8, 9}};  // "bytes outside any record"
  while (text.size() < (3u << 20)) {
    const uint64_t at = text.size();
    text += "H " + std::to_string(want.size());
    for (int k = static_cast<int>(rng() % 6); k > 0; --k) text += "\n  at frame " + std::string(rng() % 90, 'f');
    want.push_back({at, text.size(), text.size() + 1});
    text += "\n";
  }
  const std::string plain = Write("ml.txt", text);
  ASSERT_EQ(std::system(("gzip -c " + plain + " > " + plain + ".gz").c_str()), 0);
  for (const std::string& p : {plain, plain + ".gz"}) {
    FileRecordReader::Options o = Opts(p);
    o.formats = {sdk::RecordFormat::StartRegex("^H \\d+$|^H \\d+\\b")};
    auto r = FileRecordReader::Open(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (size_t i = 0; i < want.size(); ++i) {
      sdk::Record rec;
      ASSERT_TRUE((*r)->Next(rec)) << i;
      ASSERT_EQ(rec.offset, want[i].offset) << i;
      EXPECT_EQ(rec.end_offset, want[i].end) << i;
      EXPECT_EQ(rec.number, i);
      EXPECT_EQ(rec.bytes, std::string_view(text).substr(rec.offset, want[i].content_end - rec.offset));
      if (i == 0) {
        EXPECT_STREQ(rec.problem, "bytes outside any record");
      } else {
        EXPECT_EQ(rec.problem, nullptr) << i;
      }
    }
    sdk::Record rec;
    EXPECT_FALSE((*r)->Next(rec));
    EXPECT_EQ((*r)->state(), sdk::RecordReader::State::kEnd);
    // A window over records 1000..1002 reads exactly those.
    o.start_offset = want[1000].offset;
    o.start_number = 1000;
    o.end_offset = want[1002].end;
    auto w = FileRecordReader::Open(o);
    ASSERT_TRUE(w.ok());
    for (size_t i = 1000; i <= 1002; ++i) {
      ASSERT_TRUE((*w)->Next(rec)) << i;
      EXPECT_EQ(rec.offset, want[i].offset);
      EXPECT_EQ(rec.end_offset, want[i].end);
      EXPECT_EQ(rec.number, i);
    }
    EXPECT_FALSE((*w)->Next(rec));
  }
}

TEST_F(RecordReaderTest, BoundedWindowReadsExactlyTheRecordsInside) {
  const Model m = MakeModel(9, 500);
  const std::string p = Write("w.txt", m.text);
  for (size_t first : {0u, 1u, 77u, 250u}) {
    const size_t last = std::min<size_t>(first + 40, m.recs.size());
    auto o = Opts(p);
    o.start_offset = first == 0 ? 0 : m.recs[first - 1].end;  // a record boundary
    o.start_number = first;
    o.end_offset = m.recs[last - 1].end;
    auto r = FileRecordReader::Open(std::move(o));
    ASSERT_TRUE(r.ok());
    ExpectModel(**r, m, first, last);
    sdk::Record rec;
    (*r)->SetType(m.recs[last % m.recs.size()].type);
    EXPECT_FALSE((*r)->Next(rec)) << "read past the window at " << rec.offset;
  }
}

TEST_F(RecordReaderTest, WrongTypeGivesProblemRecordsAndReadErrorsFailTheReader) {
  const std::string p = Write("x.txt", "junk<a>1</a>B 2\nzz\n");
  auto r = FileRecordReader::Open(Opts(p));
  ASSERT_TRUE(r.ok());
  sdk::Record rec;
  ASSERT_TRUE((*r)->Next(rec));  // the junk before the first <a>
  EXPECT_STREQ(rec.problem, "bytes outside any record");
  EXPECT_EQ(rec.bytes, "junk");
  ASSERT_TRUE((*r)->Next(rec));
  EXPECT_EQ(rec.bytes, "<a>1</a>");
  // Asking for another <a> where a B record stands: the B bytes are outside any <a> record.
  ASSERT_TRUE((*r)->Next(rec));
  EXPECT_STREQ(rec.problem, "bytes outside any record");
  EXPECT_EQ(rec.offset, 12u);

  auto o = Opts(p);
  o.before_read = [] { return Status::IOError("disk on fire", true); };
  auto f = FileRecordReader::Open(std::move(o));
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE((*f)->Next(rec));
  EXPECT_EQ((*f)->state(), sdk::RecordReader::State::kFailed);
  EXPECT_TRUE((*f)->error().retryable());
  EXPECT_NE((*f)->error().message().find("disk on fire"), std::string::npos);
}

TEST_F(RecordReaderTest, MissingFileIsNotFound) {
  auto r = FileRecordReader::Open(Opts((dir_ / "nope.txt").string()));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace weir
