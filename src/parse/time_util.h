// Calendar arithmetic for timestamp columns: civil date <-> days since the Unix epoch, ISO 8601
// parsing to UTC milliseconds, and floor division for derived date_of / hour_of columns.
// Written here (rather than using <chrono> calendars or timegm) so the hot path has no locale,
// time zone database or allocation; proleptic Gregorian calendar, years 0000-9999.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace weir {

inline constexpr int64_t kMsPerDay = 86400000;
inline constexpr int64_t kMsPerHour = 3600000;

// Days since 1970-01-01 of the civil date y-m-d (m 1..12, d 1..31); valid for any y.
constexpr int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's algorithm: shift the year to start in March so the leap day is last.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Floor division and modulo (rounding toward negative infinity), for times before 1970.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
constexpr int64_t FloorMod(int64_t a, int64_t b) { return a - FloorDiv(a, b) * b; }

// Parses "YYYY-MM-DDTHH:MM:SS[.f...][Z|+HH:MM|-HH:MM|+HHMM|+HH]" ('T', 't' or ' ' between date
// and time, 'Z' or 'z'; no zone means UTC; 1-9 fraction digits, truncated to milliseconds).
// On success stores milliseconds since the epoch (UTC) in *ms and returns nullptr; otherwise
// returns a static description of the first problem ("month out of range", ...).
const char* ParseIso8601Ms(std::string_view s, int64_t* ms);

// Parses "YYYY-MM-DD" into days since the epoch; same conventions as ParseIso8601Ms.
const char* ParseIsoDate(std::string_view s, int32_t* days);

}  // namespace weir
