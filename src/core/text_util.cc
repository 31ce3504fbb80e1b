#include "core/text_util.h"

#include <algorithm>
#include <limits>

namespace weir {

size_t EditDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  const size_t m = b.size();
  // Three rows suffice for the transposition rule: d[i-2], d[i-1], d[i].
  std::vector<size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t best = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        best = std::min(best, prev2[j - 2] + 1);
      }
      cur[j] = best;
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

std::optional<std::string> ClosestMatch(std::string_view word,
                                        const std::vector<std::string>& candidates) {
  // At most 2 edits, and at most a third of the word (rounded up): "dte" -> "dt" but not
  // "lat" -> "lon".
  const size_t limit = std::min<size_t>(2, std::max<size_t>(1, (word.size() + 2) / 3));
  size_t best = std::numeric_limits<size_t>::max();
  const std::string* best_name = nullptr;
  for (const auto& c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d == 0) return std::nullopt;
    if (d > limit || d >= word.size() || d >= c.size()) continue;
    if (d < best) {
      best = d;
      best_name = &c;
    }
  }
  if (best_name == nullptr) return std::nullopt;
  return *best_name;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  auto m = ClosestMatch(word, candidates);
  if (!m) return "";
  return " (did you mean '" + *m + "'?)";
}

std::string JoinNames(const std::vector<std::string>& names, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.append(sep);
    out += names[i];
  }
  return out;
}

}  // namespace weir
