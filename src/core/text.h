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

// Days since 1970-01-01 for a proleptic Gregorian UTC date, and back.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t days, int64_t& y, unsigned& m, unsigned& d);
// "YYYY-MM-DD"
std::string FormatDate(int32_t days);
// "YYYY-MM-DDTHH:MM:SS.mmmZ"
std::string FormatTimestampMs(int64_t ms);
// Floor division that is right for negative numerators (times before 1970).
inline int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace weir
