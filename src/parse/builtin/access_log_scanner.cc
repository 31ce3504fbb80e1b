#include "parse/builtin/access_log_scanner.h"

#include <array>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace weir::builtin {
namespace {

// The preset regexes (regex_parser.cc), as the scanners below walk them:
//   apache_*: (?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "REQ" ...
//   nginx:    (?P<client>\S+) - (?P<user>\S+) \[(?P<time>[^\]]+)\] "REQ" ...
//   REQ:      (?:(?P<method>[A-Za-z]+) (?P<path>P)(?: (?P<protocol>[^\s"]+))?|-)
//             with P = (?:[^\s"\\]|\\.)[^\s"\\]*(?:\\.[^\s"\\]*)*, i.e. one or more units that
//             are each [^\s"\\] or \\.
//   then:     " (?P<status>\d{3}) (?P<bytes>\d+|-)
//   combined: then ( "(?P<referer>Q)" "(?P<user_agent>Q)") with Q = [^"\\]*(?:\\.[^"\\]*)*,
//             i.e. zero or more units that are each [^"\\] or \\.
// Every choice in these patterns is decided by the next byte (a field's class excludes the
// delimiter that follows it; an alternative starts with a byte the other cannot), so one
// left-to-right pass with no backtracking finds RE2's match and captures exactly.

// Bits of kClass for ASCII bytes; bytes >= 0x80 have none (multi-byte characters are matched by
// MultiByteLen, and every class below admits all of them).
constexpr uint8_t kNonSpace = 1;  // \S
constexpr uint8_t kTime = 2;      // [^\]]
constexpr uint8_t kPath = 4;      // [^\s"\\]
constexpr uint8_t kProto = 8;     // [^\s"]
constexpr uint8_t kQuoted = 16;   // [^"\\]

constexpr bool IsRe2Space(unsigned c) {
  return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

constexpr std::array<uint8_t, 256> MakeClassTable() {
  std::array<uint8_t, 256> t{};
  for (unsigned c = 0; c < 0x80; ++c) {
    uint8_t bits = 0;
    if (!IsRe2Space(c)) bits |= kNonSpace;
    if (c != ']') bits |= kTime;
    if (!IsRe2Space(c) && c != '"' && c != '\\') bits |= kPath;
    if (!IsRe2Space(c) && c != '"') bits |= kProto;
    if (c != '"' && c != '\\') bits |= kQuoted;
    t[c] = bits;
  }
  return t;
}

constexpr std::array<uint8_t, 256> kClass = MakeClassTable();

inline bool IsCont(unsigned char c) { return c >= 0x80 && c <= 0xBF; }

// Length of the multi-byte character RE2 (UTF-8 mode) matches at p (*p >= 0x80), or 0 when the
// bytes there are no character to RE2: [C2-DF][80-BF] | [E0-EF][80-BF]{2} | [F0-F4][80-BF]{3}.
inline size_t MultiByteLen(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = *p;
  size_t n;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
  } else {
    return 0;
  }
  if (static_cast<size_t>(end - p) < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if (!IsCont(p[i])) return 0;
  }
  return n;
}

// Skips 16 bytes at a time while all of them are ASCII bytes of class kMask (a prefilter: it
// may stop early at a byte of the class, never late); the scalar loop in Run() decides the rest.
template <uint8_t kMask>
inline const unsigned char* SkipBlocks(const unsigned char* p, const unsigned char* end) {
#if defined(__SSE2__)
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i stop;
    if constexpr (kMask == kNonSpace || kMask == kPath || kMask == kProto) {
      // Bytes < 0x21 as signed values: controls, space, and every byte >= 0x80.
      stop = _mm_cmplt_epi8(v, _mm_set1_epi8(0x21));
      if constexpr (kMask != kNonSpace) {
        stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
      }
      if constexpr (kMask == kPath) {
        stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
      }
    } else {
      static_assert(kMask == kTime || kMask == kQuoted);
      stop = _mm_cmplt_epi8(v, _mm_setzero_si128());  // bytes >= 0x80
      if constexpr (kMask == kTime) {
        stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, _mm_set1_epi8(']')));
      } else {
        stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
        stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
      }
    }
    const unsigned m = static_cast<unsigned>(_mm_movemask_epi8(stop));
    if (m != 0) return p + __builtin_ctz(m);
    p += 16;
  }
#else
  (void)end;
#endif
  return p;
}

// Advances over the longest run of characters of class kMask starting at p.
template <uint8_t kMask>
inline const unsigned char* Run(const unsigned char* p, const unsigned char* end) {
  for (;;) {
    p = SkipBlocks<kMask>(p, end);
    while (p < end && (kClass[*p] & kMask)) ++p;
    if (p == end || *p < 0x80) return p;
    const size_t n = MultiByteLen(p, end);
    if (n == 0) return p;
    p += n;
  }
}

// Advances over the longest run of units ([class] | \\.) starting at p; nullptr when a
// backslash is not followed by a character `.` matches (end of line, \n, or no character), which
// no other way of matching can get past either.
template <uint8_t kMask>
inline const unsigned char* EscapedRun(const unsigned char* p, const unsigned char* end) {
  for (;;) {
    p = Run<kMask>(p, end);
    if (p == end || *p != '\\') return p;
    ++p;  // the backslash
    if (p == end) return nullptr;
    const unsigned char c = *p;
    if (c < 0x80) {
      if (c == '\n') return nullptr;
      ++p;
    } else {
      const size_t n = MultiByteLen(p, end);
      if (n == 0) return nullptr;
      p += n;
    }
  }
}

inline bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(unsigned char c) { return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

template <AccessLogPreset P>
bool Scan(std::string_view line, std::string_view* out) {
  const unsigned char* const begin = reinterpret_cast<const unsigned char*>(line.data());
  const unsigned char* const end = begin + line.size();
  const unsigned char* p = begin;
  auto view = [begin, &line](const unsigned char* from, const unsigned char* to) {
    return std::string_view(line.data() + (from - begin), static_cast<size_t>(to - from));
  };
  auto literal = [&p, end](unsigned char c) {
    if (p == end || *p != c) return false;
    ++p;
    return true;
  };
  // One \S+ field followed by a space.
  auto word = [&p, end, &view](std::string_view* field) {
    const unsigned char* s = p;
    p = Run<kNonSpace>(p, end);
    if (p == s || p == end || *p != ' ') return false;
    *field = view(s, p);
    ++p;
    return true;
  };
  size_t f = 0;
  if (!word(&out[f++])) return false;  // client
  if constexpr (P == AccessLogPreset::kNginxCombined) {
    if (!literal('-') || !literal(' ')) return false;
  } else {
    if (!word(&out[f++])) return false;  // ident
  }
  if (!word(&out[f++])) return false;  // user
  // \[(?P<time>[^\]]+)\] "
  if (!literal('[')) return false;
  {
    const unsigned char* s = p;
    p = Run<kTime>(p, end);
    if (p == s) return false;
    out[f++] = view(s, p);
  }
  if (!literal(']') || !literal(' ') || !literal('"')) return false;
  // The request line: "-", or METHOD PATH[ PROTOCOL].
  if (p == end) return false;
  if (*p == '-') {
    ++p;
    out[f++] = {};
    out[f++] = {};
    out[f++] = {};
  } else {
    const unsigned char* s = p;
    while (p < end && IsAlpha(*p)) ++p;
    if (p == s) return false;
    out[f++] = view(s, p);  // method
    if (!literal(' ')) return false;
    s = p;
    p = EscapedRun<kPath>(p, end);
    if (p == nullptr || p == s) return false;
    out[f++] = view(s, p);  // path
    if (p < end && *p == ' ') {
      ++p;
      s = p;
      p = Run<kProto>(p, end);
      if (p == s) return false;
      out[f++] = view(s, p);  // protocol
    } else {
      out[f++] = {};
    }
  }
  if (!literal('"') || !literal(' ')) return false;
  // (?P<status>\d{3})
  if (end - p < 3 || !IsDigit(p[0]) || !IsDigit(p[1]) || !IsDigit(p[2])) return false;
  out[f++] = view(p, p + 3);
  p += 3;
  if (!literal(' ')) return false;
  // (?P<bytes>\d+|-)
  {
    const unsigned char* s = p;
    if (p < end && *p == '-') {
      ++p;
    } else {
      while (p < end && IsDigit(*p)) ++p;
      if (p == s) return false;
    }
    out[f++] = view(s, p);
  }
  if constexpr (P != AccessLogPreset::kApacheCommon) {
    // ( "(?P<referer>Q)" "(?P<user_agent>Q)")
    for (int q = 0; q < 2; ++q) {
      if (!literal(' ') || !literal('"')) return false;
      const unsigned char* s = p;
      p = EscapedRun<kQuoted>(p, end);
      if (p == nullptr) return false;
      out[f++] = view(s, p);
      if (!literal('"')) return false;
    }
  }
  return p == end;
}

}  // namespace

std::optional<AccessLogPreset> AccessLogPresetFromName(std::string_view name) {
  if (name == "apache_common") return AccessLogPreset::kApacheCommon;
  if (name == "apache_combined") return AccessLogPreset::kApacheCombined;
  if (name == "nginx_combined") return AccessLogPreset::kNginxCombined;
  return std::nullopt;
}

size_t AccessLogFieldCount(AccessLogPreset preset) {
  switch (preset) {
    case AccessLogPreset::kApacheCommon:
      return 9;
    case AccessLogPreset::kApacheCombined:
      return 11;
    case AccessLogPreset::kNginxCombined:
      return 10;
  }
  return 0;
}

bool ScanAccessLog(AccessLogPreset preset, std::string_view line, std::string_view* fields) {
  switch (preset) {
    case AccessLogPreset::kApacheCommon:
      return Scan<AccessLogPreset::kApacheCommon>(line, fields);
    case AccessLogPreset::kApacheCombined:
      return Scan<AccessLogPreset::kApacheCombined>(line, fields);
    case AccessLogPreset::kNginxCombined:
      return Scan<AccessLogPreset::kNginxCombined>(line, fields);
  }
  return false;
}

}  // namespace weir::builtin
