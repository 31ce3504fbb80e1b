#include "parse/multiline_splitter.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <algorithm>
#include <functional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "parse/pattern_splitter.h"

namespace weir {
namespace {

// An owned copy of a RecordView.
struct Rec {
  std::string bytes;
  uint64_t offset, end_offset, range_end, number;
  std::string problem = {};
  bool oversize = false;
  bool operator==(const Rec&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Rec& r) {
  os << "{\"";
  for (char c : r.bytes) {
    if (c == '\n') {
      os << "\\n";
    } else if (c == '\r') {
      os << "\\r";
    } else {
      os << c;
    }
  }
  os << "\" @" << r.offset << ".." << r.range_end << "/" << r.end_offset << " #" << r.number;
  if (!r.problem.empty()) os << " [" << r.problem << "]";
  return os << (r.oversize ? " oversize" : "") << "}";
}

Rec Copy(const RecordView& v) {
  return Rec{std::string(v.bytes), v.offset, v.end_offset, v.range_end, v.number,
             v.problem != nullptr ? v.problem : "", v.oversize};
}

struct MlSetup {
  std::string regex = "^START";
  uint32_t max_lines = 1000;
  uint64_t max = 1 << 20;
  size_t limit = 0;
};

std::vector<Rec> SplitOnce(const MlSetup& su, const std::string& input) {
  auto s = MakeMultilineSplitter(su.regex, su.max_lines, su.max, su.limit);
  std::vector<Rec> out;
  size_t pos = 0;
  uint64_t number = 0;
  do {
    std::vector<RecordView> views;
    const size_t used = s->Split(std::string_view(input).substr(pos), true, pos, number, views);
    for (const auto& v : views) out.push_back(Copy(v));
    number += views.size();
    pos += used;
    if (views.empty()) break;
  } while (pos < input.size());
  EXPECT_EQ(pos, input.size());
  return out;
}

// Feeds the input as a reader does: chunks appended to the unconsumed tail. Checks the caller's
// buffer stays bounded (held record <= max, plus the line being judged <= max, plus one chunk).
std::vector<Rec> SplitChunked(const MlSetup& su, const std::string& input,
                              const std::function<size_t()>& next_chunk, size_t max_chunk) {
  auto s = MakeMultilineSplitter(su.regex, su.max_lines, su.max, su.limit);
  std::string buf;
  uint64_t base = 0, number = 0;
  size_t fed = 0;
  std::vector<Rec> out;
  bool eof = false;
  while (!eof) {
    const size_t take = std::min(next_chunk(), input.size() - fed);
    buf.append(input, fed, take);
    fed += take;
    eof = fed == input.size();
    for (;;) {
      std::vector<RecordView> views;
      const size_t used = s->Split(buf, eof, base, number, views);
      for (const auto& v : views) out.push_back(Copy(v));
      number += views.size();
      buf.erase(0, used);
      base += used;
      // Limit mode: call again while the splitter stops at boundaries with bytes left.
      if (su.limit == 0 || views.empty() || (used == 0 && !eof)) break;
      if (buf.empty()) break;
    }
    EXPECT_LE(buf.size(), 2 * su.max + 2 + max_chunk) << "unbounded buffer at " << base;
  }
  EXPECT_TRUE(buf.empty());
  return out;
}

// The reference: the rules of multiline_splitter.h over the whole input at once.
std::vector<Rec> Reference(const MlSetup& su, const std::string& in) {
  RE2 re(su.regex);
  struct Line {
    size_t start, content_end, next;
  };
  std::vector<Line> lines;
  for (size_t p = 0; p < in.size();) {
    const size_t nl = in.find('\n', p);
    if (nl == std::string::npos) {
      lines.push_back({p, in.size(), in.size()});
      break;
    }
    lines.push_back({p, nl > p && in[nl - 1] == '\r' ? nl - 1 : nl, nl + 1});
    p = nl + 1;
  }
  const uint64_t max = su.max;
  auto is_start = [&](const Line& l) {
    const size_t len = std::min<size_t>(l.content_end - l.start, max);
    return RE2::PartialMatch(re2::StringPiece(in.data() + l.start, len), re);
  };
  std::vector<Rec> out;
  auto emit = [&](size_t first, size_t last, const std::string& problem) {
    const size_t off = lines[first].start, ce = lines[last].content_end, end = lines[last].next;
    const bool over = ce - off > max;
    Rec r{in.substr(off, std::min<size_t>(ce - off, max)), off, end, ce, out.size(), problem, over};
    if (!problem.empty() || over) {
    } else {
      r.oversize = false;
    }
    out.push_back(r);
  };
  size_t i = 0;
  // Lines before the first start line.
  while (i < lines.size() && !is_start(lines[i])) ++i;
  if (i > 0) {
    const std::string run = in.substr(0, lines[i - 1].next);
    const bool ws = std::all_of(run.begin(), run.end(), [](char c) {
      return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    });
    if (!ws) emit(0, i - 1, kProblemOutsideRecord);
  }
  while (i < lines.size()) {
    size_t j = i + 1;
    while (j < lines.size() && !is_start(lines[j])) ++j;
    // Which limit is passed first, scanning line by line.
    std::string problem;
    for (size_t k = i; k < j && problem.empty(); ++k) {
      if (k - i + 1 > su.max_lines) {
        problem = kProblemTooManyLines;
      } else if (lines[k].content_end - lines[i].start > max) {
        problem = kProblemOversize;
      }
    }
    emit(i, j - 1, problem);
    i = j;
  }
  return out;
}

TEST(MultilineSplitter, JavaStackTraces) {
  const std::string in =
      "2024-01-01 10:00:00 INFO start\n"
      "2024-01-01 10:00:01 ERROR boom\n"
      "java.lang.IllegalStateException: bad\n"
      "\tat a.b.C.d(C.java:10)\n"
      "\n"
      "2024-01-01 10:00:02 INFO end";
  MlSetup su;
  su.regex = R"(^\d{4}-\d{2}-\d{2} )";
  const auto recs = SplitOnce(su, in);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].bytes, "2024-01-01 10:00:00 INFO start");
  EXPECT_EQ(recs[0].offset, 0u);
  EXPECT_EQ(recs[0].range_end, 30u);
  EXPECT_EQ(recs[0].end_offset, 31u);
  EXPECT_EQ(recs[1].bytes,
            "2024-01-01 10:00:01 ERROR boom\njava.lang.IllegalStateException: bad\n"
            "\tat a.b.C.d(C.java:10)\n");  // the blank line is a continuation line
  EXPECT_EQ(recs[1].offset, 31u);
  EXPECT_EQ(recs[1].range_end, recs[1].offset + recs[1].bytes.size());
  EXPECT_EQ(recs[1].end_offset, in.find("2024-01-01 10:00:02"));
  EXPECT_EQ(recs[1].number, 1u);
  EXPECT_EQ(recs[2].bytes, "2024-01-01 10:00:02 INFO end");  // no trailing newline
  EXPECT_EQ(recs[2].end_offset, in.size());
  EXPECT_EQ(recs[2].range_end, in.size());
  EXPECT_EQ(recs, Reference(su, in));
}

TEST(MultilineSplitter, LinesBeforeFirstStartAreOneErrorUnlessBlank) {
  MlSetup su;
  auto recs = SplitOnce(su, "\n  \nSTART a\nx\n");
  ASSERT_EQ(recs.size(), 1u);  // blank lines before the first record: ignored
  EXPECT_EQ(recs[0].bytes, "START a\nx");
  EXPECT_EQ(recs[0].offset, 4u);
  recs = SplitOnce(su, "junk\nmore junk\r\nSTART a\n");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].problem, kProblemOutsideRecord);
  EXPECT_EQ(recs[0].bytes, "junk\nmore junk");
  EXPECT_EQ(recs[0].offset, 0u);
  EXPECT_EQ(recs[0].range_end, 14u);  // "\r\n" excluded
  EXPECT_EQ(recs[0].end_offset, 16u);
  EXPECT_EQ(recs[1].number, 1u);
  // No start line at all: the whole file is one error view.
  recs = SplitOnce(su, "a\nb\n");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].problem, kProblemOutsideRecord);
  EXPECT_EQ(recs[0].bytes, "a\nb");
  EXPECT_TRUE(SplitOnce(su, "").empty());
  EXPECT_TRUE(SplitOnce(su, "\n\n").empty());
}

TEST(MultilineSplitter, CrlfAndNoTrailingNewline) {
  MlSetup su;
  const std::string in = "START 1\r\ncont\r\nSTART 2\r\nlast\r";
  const auto recs = SplitOnce(su, in);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].bytes, "START 1\r\ncont");  // inner line ends kept, last one dropped
  EXPECT_EQ(recs[0].range_end, 13u);
  EXPECT_EQ(recs[0].end_offset, 15u);
  EXPECT_EQ(recs[1].bytes, "START 2\r\nlast\r");  // a lone '\r' at EOF is kept, as for lines
  EXPECT_EQ(recs[1].end_offset, in.size());
  EXPECT_EQ(recs, Reference(su, in));
}

TEST(MultilineSplitter, MaxLinesGivesOneErrorWithExactOffsets) {
  MlSetup su;
  su.max_lines = 3;
  const std::string in = "START a\n1\n2\nSTART b\n1\n2\n3\n4\nSTART c\n";
  const auto recs = SplitOnce(su, in);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].problem, "");
  EXPECT_EQ(recs[1].problem, kProblemTooManyLines);
  EXPECT_EQ(recs[1].bytes, "START b\n1\n2\n3\n4");  // under max_record_bytes: all of it
  EXPECT_EQ(recs[1].offset, in.find("START b"));
  EXPECT_EQ(recs[1].range_end, in.find("START c") - 1);
  EXPECT_EQ(recs[1].end_offset, in.find("START c"));
  EXPECT_FALSE(recs[1].oversize);
  EXPECT_EQ(recs[2].bytes, "START c");
  EXPECT_EQ(recs, Reference(su, in));
}

TEST(MultilineSplitter, MaxRecordBytesKeepsPrefixAndEndsAtNextStart) {
  MlSetup su;
  su.max = 16;
  const std::string in = "START a\n" + std::string(100, 'x') + "\nmore\nSTART b\n";
  const auto recs = SplitOnce(su, in);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].problem, kProblemOversize);
  EXPECT_TRUE(recs[0].oversize);
  EXPECT_EQ(recs[0].bytes, in.substr(0, 16));
  EXPECT_EQ(recs[0].end_offset, in.find("START b"));
  EXPECT_EQ(recs[0].range_end, in.find("START b") - 1);
  EXPECT_EQ(recs[1].bytes, "START b");
  EXPECT_EQ(recs, Reference(su, in));
  // Fed in small chunks, the 100-byte line is never held whole.
  size_t c = 0;
  EXPECT_EQ(SplitChunked(su, in, [&] { return ++c % 7 + 1; }, 8), recs);
}

TEST(MultilineSplitter, RecordsAcrossFourMiBChunks) {
  MlSetup su;
  su.regex = R"(^\d{4}-)";
  std::string in;
  std::mt19937 rng(7);
  while (in.size() < (9u << 20)) {
    in += "2024-01-01 record " + std::to_string(in.size()) + "\n";
    const int cont = static_cast<int>(rng() % 5);
    for (int i = 0; i < cont; ++i) in += "\tat frame " + std::string(rng() % 200, 'f') + "\n";
  }
  const auto want = Reference(su, in);
  EXPECT_EQ(SplitOnce(su, in), want);
  EXPECT_EQ(SplitChunked(su, in, [] { return size_t{4} << 20; }, 4 << 20), want);
}

TEST(MultilineSplitter, OneRecordPerCallStopsAtBoundaries) {
  MlSetup su;
  su.limit = 1;
  const std::string in = "junk\nSTART a\nb\nSTART c\nSTART d\nx";
  MlSetup plain = su;
  plain.limit = 0;
  EXPECT_EQ(SplitOnce(su, in), SplitOnce(plain, in));
  // Each call stops where the next view begins, holding nothing: a fresh splitter may go on.
  std::vector<RecordView> views;
  auto s = MakeMultilineSplitter(su.regex, 0, 1 << 20, 1);
  EXPECT_EQ(s->Split(in, true, 0, 0, views), 5u);  // the junk run, ending at "START a"
  ASSERT_EQ(views.size(), 1u);
  EXPECT_STREQ(views[0].problem, kProblemOutsideRecord);
  views.clear();
  auto s2 = MakeMultilineSplitter(su.regex, 0, 1 << 20, 1);
  EXPECT_EQ(s2->Split(std::string_view(in).substr(5), true, 5, 1, views), 10u);
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].bytes, "START a\nb");
}

TEST(MultilineSplitter, ThroughPatternSplitterAndValidation) {
  const auto f = sdk::RecordFormat::StartRegex("^START", 2);
  EXPECT_TRUE(ValidateRecordFormat(f).ok());
  auto s = MakePatternSplitter(f, 1 << 20, nullptr);
  std::vector<RecordView> views;
  const std::string in = "START\n1\n2\nSTART\n";
  EXPECT_EQ(s->Split(in, true, 0, 0, views), in.size());
  ASSERT_EQ(views.size(), 2u);
  EXPECT_STREQ(views[0].problem, kProblemTooManyLines);  // max_lines from the format
  const Status bad = ValidateRecordFormat(sdk::RecordFormat::StartRegex("^(\\d"));
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("missing )"), std::string::npos) << bad.message();
  EXPECT_FALSE(ValidateRecordFormat(sdk::RecordFormat::StartRegex("")).ok());
}

// Differential: random inputs (short alphabet so start lines, blank lines, CRLF and long lines
// are all common) cut at random points must give exactly the reference's records.
TEST(MultilineSplitterProperty, RandomInputsMatchReference) {
  std::mt19937 rng(12345);
  const char* pieces[] = {"S", "x", "\n", "\r\n", " ", "\r", "Sx", "\n\n"};
  for (int iter = 0; iter < 3000; ++iter) {
    MlSetup su;
    su.regex = (iter % 3 == 0) ? "^S" : (iter % 3 == 1 ? "S$" : "^Sx");
    su.max_lines = 1 + rng() % 4;
    su.max = rng() % 12;  // 0 too (the fuzzer found it)
    su.limit = (iter % 4 == 0) ? 1 : 0;
    std::string in;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) in += pieces[rng() % 8];
    const auto want = Reference(su, in);
    ASSERT_EQ(SplitOnce(su, in), want) << "input #" << iter << " [" << in << "]";
    const size_t max_chunk = 1 + rng() % 6;
    ASSERT_EQ(SplitChunked(su, in, [&] { return 1 + rng() % max_chunk; }, max_chunk), want)
        << "input #" << iter << " chunks<=" << max_chunk;
  }
}

}  // namespace
}  // namespace weir
