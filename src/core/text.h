// Text helpers shared across modules: JSON string escaping that survives arbitrary bytes, and
// UTC calendar conversions. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weir {

// Appends `s` as a quoted JSON string. Bytes that are not valid UTF-8 become U+FFFD; returns
// true when that happened (the caller may then also record the exact bytes, e.g. in base64).
bool AppendJsonString(std::string& out, std::string_view s);
std::string Base64Encode(std::string_view bytes);
// 1234567 -> "1,234,567": counts in messages and summaries.
std::string FormatCount(uint64_t n);

// Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1..12, d 1..31), and back.
// The year is shifted to start in March so the leap day comes last (Howard Hinnant's method).
constexpr int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
void CivilFromDays(int64_t days, int64_t& y, unsigned& m, unsigned& d);
// "YYYY-MM-DD"
std::string FormatDate(int32_t days);
// "YYYY-MM-DDTHH:MM:SS.mmmZ"
std::string FormatTimestampMs(int64_t ms);
// The wall clock, in ms since the epoch.
int64_t UnixNowMs();
// Floor division and modulo (rounding toward negative infinity), for times before 1970.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}
constexpr int64_t FloorMod(int64_t a, int64_t b) { return a - FloorDiv(a, b) * b; }

}  // namespace weir
