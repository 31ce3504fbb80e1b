#include "parse/time_util.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>

namespace weir {
namespace {

// Random ISO 8601 texts against std::chrono's calendar (an independent implementation).
TEST(TimeUtilTest, Iso8601MatchesChronoOnRandomTimes) {
  std::mt19937 rng(8601);
  for (int i = 0; i < 20000; ++i) {
    const int y = std::uniform_int_distribution<int>(0, 9999)(rng);
    const unsigned m = std::uniform_int_distribution<unsigned>(1, 12)(rng);
    const std::chrono::year_month_day last{std::chrono::year{y} / std::chrono::month{m} /
                                           std::chrono::last};
    const unsigned d =
        std::uniform_int_distribution<unsigned>(1, static_cast<unsigned>(last.day()))(rng);
    const int hh = std::uniform_int_distribution<int>(0, 23)(rng);
    const int mm = std::uniform_int_distribution<int>(0, 59)(rng);
    const int ss = std::uniform_int_distribution<int>(0, 59)(rng);
    const int frac = std::uniform_int_distribution<int>(0, 999)(rng);
    const int off_h = std::uniform_int_distribution<int>(-14, 14)(rng);
    const int off_m = std::uniform_int_distribution<int>(0, 3)(rng) * 15;
    char text[64];
    std::snprintf(text, sizeof(text), "%04d-%02u-%02u%c%02d:%02d:%02d.%03d%c%02d:%02d", y, m, d,
                  (i % 2) ? 'T' : ' ', hh, mm, ss, frac, off_h < 0 ? '-' : '+', std::abs(off_h),
                  off_m);
    const auto day =
        std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
    const int64_t offset_ms = (off_h < 0 ? -1 : 1) * (std::abs(off_h) * 60 + off_m) * 60000LL;
    const int64_t expect =
        std::chrono::duration_cast<std::chrono::milliseconds>(day.time_since_epoch()).count() +
        ((hh * 60 + mm) * 60 + ss) * 1000LL + frac - offset_ms;
    int64_t got = 0;
    ASSERT_EQ(ParseIso8601Ms(text, &got), nullptr) << text;
    ASSERT_EQ(got, expect) << text;
    int32_t days = 0;
    ASSERT_EQ(ParseIsoDate(std::string_view(text, 10), &days), nullptr);
    ASSERT_EQ(days, day.time_since_epoch().count()) << text;
  }
}

TEST(TimeUtilTest, FloorDivAndModForNegativeTimes) {
  EXPECT_EQ(FloorDiv(-1, kMsPerDay), -1);
  EXPECT_EQ(FloorDiv(-kMsPerDay, kMsPerDay), -1);
  EXPECT_EQ(FloorDiv(-kMsPerDay - 1, kMsPerDay), -2);
  EXPECT_EQ(FloorDiv(kMsPerDay - 1, kMsPerDay), 0);
  EXPECT_EQ(FloorMod(-1, kMsPerDay), kMsPerDay - 1);
  EXPECT_EQ(FloorMod(-kMsPerDay, kMsPerDay), 0);
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
}

TEST(TimeUtilTest, RejectsMalformedText) {
  int64_t ms = 0;
  EXPECT_STREQ(ParseIso8601Ms("2024-01-01T00:00:60Z", &ms), "second out of range");
  EXPECT_STREQ(ParseIso8601Ms("2024-01-01T00:60:00Z", &ms), "minute out of range");
  EXPECT_STREQ(ParseIso8601Ms("2024-00-01T00:00:00Z", &ms), "month out of range");
  EXPECT_STREQ(ParseIso8601Ms("2024-01-00T00:00:00Z", &ms), "day out of range");
  EXPECT_STREQ(ParseIso8601Ms("1900-02-29T00:00:00Z", &ms), "day out of range");
  EXPECT_EQ(ParseIso8601Ms("2000-02-29T00:00:00Z", &ms), nullptr);
  EXPECT_STREQ(ParseIso8601Ms("2024-01-01T00:00", &ms), "expected HH:MM:SS");
  EXPECT_STREQ(ParseIso8601Ms("2024-01-01T00:00:00.1234567891Z", &ms),
               "expected 1 to 9 fraction digits");
  EXPECT_STREQ(ParseIso8601Ms("2024-01-01T00:00:00+1", &ms), "expected zone offset +HH:MM");
  EXPECT_STREQ(ParseIso8601Ms("24-01-01T00:00:00Z", &ms), "expected YYYY-MM-DD");
  EXPECT_STREQ(ParseIso8601Ms("", &ms), "expected YYYY-MM-DD");
  EXPECT_EQ(ParseIso8601Ms("2024-01-01T00:00:00+05", &ms), nullptr);
  EXPECT_EQ(ms, 1704067200000 - 5 * kMsPerHour);
  EXPECT_EQ(ParseIso8601Ms("2024-01-01T00:00:00-0130", &ms), nullptr);
  EXPECT_EQ(ms, 1704067200000 + 90 * 60000);
}

}  // namespace
}  // namespace weir
