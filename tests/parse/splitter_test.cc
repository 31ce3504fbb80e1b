#include "parse/splitter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace weir {
namespace {

// An owned copy of a RecordView (views die with the buffer they point into).
struct Rec {
  std::string bytes;
  uint64_t offset;
  uint64_t end_offset;
  uint64_t number;
  bool oversize;
  bool operator==(const Rec&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Rec& r) {
  return os << "{\"" << r.bytes << "\" @" << r.offset << ".." << r.end_offset << " #" << r.number
            << (r.oversize ? " oversize" : "") << "}";
}

using Factory = std::function<std::unique_ptr<RecordSplitter>()>;

void CopyOut(const std::vector<RecordView>& v, size_t from, std::vector<Rec>* out) {
  for (size_t i = from; i < v.size(); ++i) {
    out->push_back(
        Rec{std::string(v[i].bytes), v[i].offset, v[i].end_offset, v[i].number, v[i].oversize});
  }
}

// The whole input in one buffer.
std::vector<Rec> SplitOnce(const Factory& make, const std::string& input) {
  auto s = make();
  std::vector<RecordView> views;
  EXPECT_EQ(s->Split(input, true, 0, 0, views), input.size());
  std::vector<Rec> out;
  CopyOut(views, 0, &out);
  return out;
}

// The input fed the way a reader does: chunks of random size appended to the unconsumed tail.
// Also checks that the buffer the caller must hold stays bounded by max + 2 + chunk.
std::vector<Rec> SplitChunked(const Factory& make, const std::string& input, std::mt19937& rng,
                              size_t max_chunk, uint64_t max_record_bytes) {
  auto s = make();
  std::uniform_int_distribution<size_t> chunk(1, max_chunk);
  std::string buf;
  uint64_t base = 0, number = 0;
  size_t pos = 0;
  std::vector<Rec> out;
  std::vector<RecordView> views;
  while (true) {
    const size_t take = std::min(chunk(rng), input.size() - pos);
    buf.append(input, pos, take);
    pos += take;
    EXPECT_LE(buf.size(), max_record_bytes + 2 + max_chunk);
    const bool eof = pos == input.size();
    views.clear();
    const size_t used = s->Split(buf, eof, base, number, views);
    EXPECT_LE(used, buf.size());
    CopyOut(views, 0, &out);
    number += views.size();
    buf.erase(0, used);
    base += used;
    if (eof) {
      EXPECT_TRUE(buf.empty());
      break;
    }
  }
  return out;
}

// Independent oracle for newline records: plain string search.
std::vector<Rec> NaiveLines(const std::string& in, uint64_t max) {
  std::vector<Rec> out;
  size_t pos = 0;
  uint64_t n = 0;
  while (pos < in.size()) {
    size_t nl = in.find('\n', pos);
    size_t end = nl == std::string::npos ? in.size() : nl + 1;
    size_t len = (nl == std::string::npos ? in.size() : nl) - pos;
    if (nl != std::string::npos && len > 0 && in[nl - 1] == '\r') --len;
    std::string b = in.substr(pos, len);
    bool over = b.size() > max;
    if (over) b.resize(max);
    out.push_back(Rec{b, pos, end, n++, over});
    pos = end;
  }
  return out;
}

// Independent oracle for CSV records: a byte-at-a-time quote tracker (a quote opens a quoted
// field only at a field start; "" inside one is a literal quote).
std::vector<Rec> NaiveCsv(const std::string& in, uint64_t max) {
  std::vector<Rec> out;
  size_t start = 0;
  uint64_t n = 0;
  bool in_quotes = false, at_field_start = true;
  auto emit = [&](size_t content_end, size_t end) {
    size_t len = content_end - start;
    if (content_end < in.size() && in[content_end] == '\n' && len > 0 &&
        in[content_end - 1] == '\r')
      --len;
    std::string b = in.substr(start, len);
    bool over = b.size() > max;
    if (over) b.resize(max);
    out.push_back(Rec{b, start, end, n++, over});
    start = end;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < in.size() && in[i + 1] == '"') {
          ++i;
        } else {
          in_quotes = false;
        }
      }
      continue;
    }
    if (c == '\n') {
      emit(i, i + 1);
      at_field_start = true;
    } else if (c == ',') {
      at_field_start = true;
    } else {
      if (c == '"' && at_field_start) in_quotes = true;
      at_field_start = false;
    }
  }
  if (start < in.size()) emit(in.size(), in.size());
  return out;
}

std::string RandomInput(std::mt19937& rng, const std::string& alphabet, size_t max_len) {
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string s(len(rng), ' ');
  for (char& c : s) c = alphabet[pick(rng)];
  return s;
}

void CheckContiguous(const std::vector<Rec>& recs, const std::string& input) {
  uint64_t expect_offset = 0;
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].offset, expect_offset) << i;
    EXPECT_EQ(recs[i].number, i);
    EXPECT_EQ(input.compare(recs[i].offset, recs[i].bytes.size(), recs[i].bytes), 0) << i;
    expect_offset = recs[i].end_offset;
  }
  EXPECT_EQ(expect_offset, input.size());
}

TEST(LineSplitterTest, RandomBuffersMatchOneBufferAndNaiveOracle) {
  std::mt19937 rng(20261123);
  for (int iter = 0; iter < 3000; ++iter) {
    const uint64_t max = std::uniform_int_distribution<uint64_t>(1, 24)(rng);
    const std::string in = RandomInput(rng, "ab\n\n\r{}", 300);
    Factory make = [max] { return MakeLineSplitter(max); };
    const std::vector<Rec> ref = SplitOnce(make, in);
    ASSERT_EQ(ref, NaiveLines(in, max)) << "input: " << in;
    CheckContiguous(ref, in);
    const size_t max_chunk = std::uniform_int_distribution<size_t>(1, 64)(rng);
    ASSERT_EQ(SplitChunked(make, in, rng, max_chunk, max), ref)
        << "input: " << in << " max " << max << " chunk " << max_chunk;
  }
}

TEST(LineSplitterTest, CrlfAndBlankLinesAndNoTrailingNewline) {
  Factory make = [] { return MakeLineSplitter(100); };
  std::vector<Rec> expect = {{"a", 0, 3, 0, false},
                             {"", 3, 5, 1, false},
                             {"", 5, 6, 2, false},
                             {"bc", 6, 9, 3, false},
                             {"last", 9, 13, 4, false}};
  EXPECT_EQ(SplitOnce(make, "a\r\n\r\n\nbc\nlast"), expect);
}

TEST(LineSplitterTest, EmptyInputHasNoRecords) {
  auto s = MakeLineSplitter(10);
  std::vector<RecordView> out;
  EXPECT_EQ(s->Split("", true, 0, 0, out), 0u);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(s->Split("", false, 0, 0, out), 0u);
  EXPECT_TRUE(out.empty());
}

TEST(LineSplitterTest, IncompleteTailIsNotConsumedUntilEof) {
  auto s = MakeLineSplitter(100);
  std::vector<RecordView> out;
  EXPECT_EQ(s->Split("ab\ncd", false, 50, 7, out), 3u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, "ab");
  EXPECT_EQ(out[0].offset, 50u);
  EXPECT_EQ(out[0].end_offset, 53u);
  EXPECT_EQ(out[0].number, 7u);
  out.clear();
  EXPECT_EQ(s->Split("cdef\n", false, 53, 8, out), 5u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, "cdef");
  EXPECT_EQ(out[0].offset, 53u);
  EXPECT_EQ(out[0].end_offset, 58u);
  EXPECT_EQ(out[0].number, 8u);
}

TEST(LineSplitterTest, ExactlyMaxBytesWithCrlfIsNotOversize) {
  Factory make = [] { return MakeLineSplitter(10); };
  const std::string in = "0123456789\r\n01234567890\r\nx";
  std::vector<Rec> expect = {
      {"0123456789", 0, 12, 0, false}, {"0123456789", 12, 25, 1, true}, {"x", 25, 26, 2, false}};
  EXPECT_EQ(SplitOnce(make, in), expect);
  std::mt19937 rng(1);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(SplitChunked(make, in, rng, 5, 10), expect);
}

TEST(LineSplitterTest, OversizeRecordLongerThanManyBuffersKeepsExactOffsets) {
  const uint64_t max = 16;
  Factory make = [max] { return MakeLineSplitter(max); };
  const std::string big(1000, 'x');
  const std::string in = "first\n" + big + "\r\nafter\n" + big + "tail" + "\nend";
  std::vector<Rec> expect = {
      {"first", 0, 6, 0, false},       {std::string(16, 'x'), 6, 1008, 1, true},
      {"after", 1008, 1014, 2, false}, {std::string(16, 'x'), 1014, 2019, 3, true},
      {"end", 2019, 2022, 4, false},
  };
  EXPECT_EQ(SplitOnce(make, in), expect);
  std::mt19937 rng(2);
  for (size_t chunk : {1, 3, 7, 17, 64, 333}) {
    EXPECT_EQ(SplitChunked(make, in, rng, chunk, max), expect) << chunk;
  }
}

TEST(LineSplitterTest, OversizeRecordAtEofWithoutNewline) {
  Factory make = [] { return MakeLineSplitter(4); };
  const std::string in = "ok\n" + std::string(50, 'y');
  std::vector<Rec> expect = {{"ok", 0, 3, 0, false}, {"yyyy", 3, 53, 1, true}};
  EXPECT_EQ(SplitOnce(make, in), expect);
  std::mt19937 rng(3);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(SplitChunked(make, in, rng, 6, 4), expect);
}

TEST(LineSplitterTest, TwoOversizeRecordsInOneCallKeepValidPrefixes) {
  // The first oversize record completes and a second one starts in the same call: the prefix
  // of the first must survive until the next call.
  auto s = MakeLineSplitter(3);
  std::vector<RecordView> out;
  EXPECT_EQ(s->Split("aaaaaaa", false, 0, 0, out), 7u);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(s->Split("a\nbbbbbbb", false, 7, 0, out), 9u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, "aaa");
  EXPECT_TRUE(out[0].oversize);
  EXPECT_EQ(out[0].offset, 0u);
  EXPECT_EQ(out[0].end_offset, 9u);
  out.clear();
  EXPECT_EQ(s->Split("b\n", false, 16, 1, out), 2u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, "bbb");
  EXPECT_EQ(out[0].offset, 9u);
  EXPECT_EQ(out[0].end_offset, 18u);
  EXPECT_EQ(out[0].number, 1u);
}

TEST(CsvSplitterTest, QuotedNewlinesDelimitersAndDoubledQuotes) {
  Factory make = [] { return MakeCsvSplitter(',', '"', 1000); };
  const std::string in =
      "id,text\r\n"
      "1,\"line one\nline two\"\r\n"
      "2,\"a,b\"\n"
      "3,\"say \"\"hi\"\"\nnow\"\n"
      "4,\"crlf\r\ninside\"\r\n"
      "5,plain\"quote\n"
      "\n"
      "6,\"unterminated\nat eof";
  std::vector<Rec> expect = {
      {"id,text", 0, 9, 0, false},
      {"1,\"line one\nline two\"", 9, 32, 1, false},
      {"2,\"a,b\"", 32, 40, 2, false},
      {"3,\"say \"\"hi\"\"\nnow\"", 40, 59, 3, false},
      {"4,\"crlf\r\ninside\"", 59, 77, 4, false},
      {"5,plain\"quote", 77, 91, 5, false},
      {"", 91, 92, 6, false},
      {"6,\"unterminated\nat eof", 92, 114, 7, false},
  };
  EXPECT_EQ(SplitOnce(make, in), expect);
  std::mt19937 rng(4);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(SplitChunked(make, in, rng, 9, 1000), expect);
}

TEST(CsvSplitterTest, OtherDelimiterAndQuote) {
  Factory make = [] { return MakeCsvSplitter(';', '\'', 1000); };
  std::vector<Rec> expect = {{"a;'x;\ny'", 0, 9, 0, false}, {"\"b\"", 9, 13, 1, false}};
  EXPECT_EQ(SplitOnce(make, "a;'x;\ny'\n\"b\"\n"), expect);
}

TEST(CsvSplitterTest, OversizeQuotedRecordSpanningBuffers) {
  const uint64_t max = 8;
  Factory make = [max] { return MakeCsvSplitter(',', '"', max); };
  // The oversize record has newlines inside its quoted field; the splitter must keep tracking
  // quotes while skipping to find the real end.
  const std::string body = "\"" + std::string(40, 'q') + "\n\n" + std::string(30, 'r') + "\"";
  const std::string in = "a,b\n1," + body + ",z\r\n2,c\n";
  const uint64_t end1 = 4 + 2 + body.size() + 4;
  std::vector<Rec> expect = {{"a,b", 0, 4, 0, false},
                             {in.substr(4, 8), 4, end1, 1, true},
                             {"2,c", end1, end1 + 4, 2, false}};
  EXPECT_EQ(SplitOnce(make, in), expect);
  std::mt19937 rng(5);
  for (size_t chunk : {1, 2, 5, 11, 50}) {
    for (int i = 0; i < 20; ++i) EXPECT_EQ(SplitChunked(make, in, rng, chunk, max), expect);
  }
}

TEST(CsvSplitterTest, RandomBuffersMatchOneBuffer) {
  std::mt19937 rng(777);
  for (int iter = 0; iter < 3000; ++iter) {
    const uint64_t max = std::uniform_int_distribution<uint64_t>(1, 30)(rng);
    const std::string in = RandomInput(rng, "ab,,\"\"\n\r", 300);
    Factory make = [max] { return MakeCsvSplitter(',', '"', max); };
    const std::vector<Rec> ref = SplitOnce(make, in);
    CheckContiguous(ref, in);
    ASSERT_EQ(ref, NaiveCsv(in, max)) << "input: " << in;
    for (const Rec& r : ref) {
      if (r.oversize) {
        EXPECT_EQ(r.bytes.size(), max);
        EXPECT_GT(r.end_offset - r.offset, max);
      } else {
        EXPECT_LE(r.bytes.size(), max);
      }
    }
    const size_t max_chunk = std::uniform_int_distribution<size_t>(1, 64)(rng);
    ASSERT_EQ(SplitChunked(make, in, rng, max_chunk, max), ref)
        << "input: " << in << " max " << max << " chunk " << max_chunk;
  }
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

TEST(CsvSplitterTest, HeaderExcludedFromNumbersByWrapAround) {
  auto s = MakeCsvSplitter(',', '"', 100);
  std::vector<RecordView> out;
  EXPECT_EQ(s->Split("h1,h2\n1,2\n3,4\n", true, 0, UINT64_MAX, out), 14u);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].bytes, "h1,h2");
  EXPECT_EQ(out[1].number, 0u);
  EXPECT_EQ(out[2].number, 1u);
  EXPECT_EQ(out[2].offset, 10u);
}

}  // namespace
}  // namespace weir
