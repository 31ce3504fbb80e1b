// Small text helpers shared by config validation and the CLI: edit distance and "did you mean"
// suggestions.
//
// Free functions on values; no state, thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir {

// Optimal-string-alignment (restricted Damerau-Levenshtein) distance: insertions, deletions,
// substitutions and transpositions of two adjacent characters each cost 1.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible typo: distance at most
// 2 and at most a third of the word's length (rounded up), and smaller than the length of both
// words (so "id" never suggests "dt"). Ties go to the earlier candidate. An exact match is not a
// suggestion (returns nullopt).
std::optional<std::string> ClosestMatch(std::string_view word,
                                        const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" for the closest match, or "" when there is none.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// "a, b, c": candidates joined with ", ".
std::string JoinNames(const std::vector<std::string>& names, std::string_view sep = ", ");

}  // namespace weir
