// Calendar arithmetic for timestamp columns: civil date <-> days since the Unix epoch, ISO 8601
// parsing to UTC milliseconds, and floor division for derived date_of / hour_of columns.
// Written here (rather than using <chrono> calendars or timegm) so the hot path has no locale,
// time zone database or allocation; proleptic Gregorian calendar, years 0000-9999.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/text.h"  // DaysFromCivil, FloorDiv, FloorMod

namespace weir {

inline constexpr int64_t kMsPerDay = 86400000;
inline constexpr int64_t kMsPerHour = 3600000;

// Parses "YYYY-MM-DDTHH:MM:SS[.f...][Z|+HH:MM|-HH:MM|+HHMM|+HH]" ('T', 't' or ' ' between date
// and time, 'Z' or 'z'; no zone means UTC; 1-9 fraction digits, truncated to milliseconds).
// On success stores milliseconds since the epoch (UTC) in *ms and returns nullptr; otherwise
// returns a static description of the first problem ("month out of range", ...).
const char* ParseIso8601Ms(std::string_view s, int64_t* ms);

// Parses "YYYY-MM-DD" into days since the epoch; same conventions as ParseIso8601Ms.
const char* ParseIsoDate(std::string_view s, int32_t* days);

}  // namespace weir
