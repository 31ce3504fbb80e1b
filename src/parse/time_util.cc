#include "parse/time_util.h"

namespace weir {
namespace {

// Reads exactly `n` decimal digits at s[*i] into *v.
bool Digits(std::string_view s, size_t* i, int n, int* v) {
  if (*i + static_cast<size_t>(n) > s.size()) return false;
  int r = 0;
  for (int k = 0; k < n; ++k) {
    const char c = s[*i + static_cast<size_t>(k)];
    if (c < '0' || c > '9') return false;
    r = r * 10 + (c - '0');
  }
  *i += static_cast<size_t>(n);
  *v = r;
  return true;
}

bool Expect(std::string_view s, size_t* i, char c) {
  if (*i >= s.size() || s[*i] != c) return false;
  ++*i;
  return true;
}

int DaysInMonth(int y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) return 29;
  return kDays[m - 1];
}

// Parses the date part at s[0..10) into days since the epoch.
const char* ParseDatePart(std::string_view s, size_t* i, int64_t* days) {
  int y = 0, m = 0, d = 0;
  if (!Digits(s, i, 4, &y) || !Expect(s, i, '-')) return "expected YYYY-MM-DD";
  if (!Digits(s, i, 2, &m) || !Expect(s, i, '-')) return "expected YYYY-MM-DD";
  if (!Digits(s, i, 2, &d)) return "expected YYYY-MM-DD";
  if (m < 1 || m > 12) return "month out of range";
  if (d < 1 || d > DaysInMonth(y, m)) return "day out of range";
  *days = DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  return nullptr;
}

}  // namespace

const char* ParseIsoDate(std::string_view s, int32_t* days) {
  size_t i = 0;
  int64_t d = 0;
  if (const char* err = ParseDatePart(s, &i, &d)) return err;
  if (i != s.size()) return "unexpected text after the date";
  *days = static_cast<int32_t>(d);
  return nullptr;
}

const char* ParseIso8601Ms(std::string_view s, int64_t* ms) {
  size_t i = 0;
  int64_t days = 0;
  if (const char* err = ParseDatePart(s, &i, &days)) return err;
  if (i >= s.size() || (s[i] != 'T' && s[i] != 't' && s[i] != ' ')) {
    return "expected 'T' or ' ' then HH:MM:SS after the date";
  }
  ++i;
  int hh = 0, mm = 0, ss = 0;
  if (!Digits(s, &i, 2, &hh) || !Expect(s, &i, ':') || !Digits(s, &i, 2, &mm) ||
      !Expect(s, &i, ':') || !Digits(s, &i, 2, &ss)) {
    return "expected HH:MM:SS";
  }
  if (hh > 23) return "hour out of range";
  if (mm > 59) return "minute out of range";
  if (ss > 59) return "second out of range";
  int64_t frac_ms = 0;
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    ++i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0 || digits > 9) return "expected 1 to 9 fraction digits";
    for (int k = digits; k < 3; ++k) frac_ms *= 10;
  }
  int64_t offset_min = 0;
  if (i < s.size()) {
    const char z = s[i];
    if (z == 'Z' || z == 'z') {
      ++i;
    } else if (z == '+' || z == '-') {
      ++i;
      int oh = 0, om = 0;
      if (!Digits(s, &i, 2, &oh)) return "expected zone offset +HH:MM";
      if (i < s.size()) {
        if (s[i] == ':') ++i;
        if (!Digits(s, &i, 2, &om)) return "expected zone offset +HH:MM";
      }
      if (oh > 23 || om > 59) return "zone offset out of range";
      offset_min = (z == '-' ? -1 : 1) * (oh * 60 + om);
    } else {
      return "unexpected text after the time";
    }
  }
  if (i != s.size()) return "unexpected text after the zone";
  // Local time minus its offset is UTC.
  *ms =
      days * kMsPerDay + ((hh * 60 + mm) * 60 + ss) * int64_t{1000} + frac_ms - offset_min * 60000;
  return nullptr;
}

}  // namespace weir
