// Deterministic random numbers for the data generators.
//
// The generators must produce identical bytes for the same seed on every platform and standard
// library, so they do not use <random>'s distributions (whose algorithms are unspecified). Rng is
// xoshiro256** seeded through splitmix64; ZipfTable samples ranks with probability proportional to
// 1 / (rank + 1)^exponent from a precomputed cumulative table.
//
// Thread-safety: an Rng is a plain value used by one thread; a const ZipfTable may be shared.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace weir::gen {

// One step of splitmix64; also a good 64-bit mixing function (a bijection of `x`).
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t s = seed;
    for (uint64_t& word : s_) word = SplitMix64(s);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform integer in [0, n); n > 0. Multiply-shift; the tiny bias is irrelevant here.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // True with probability p.
  bool Chance(double p) { return Uniform() < p; }
  // Roughly normal (sum of 4 uniforms, scaled to unit variance): cheap and portable.
  double Gaussian() {
    double s = Uniform() + Uniform() + Uniform() + Uniform() - 2.0;
    return s * 1.7320508075688772;  // sqrt(12 / 4)
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

class ZipfTable {
 public:
  ZipfTable(uint64_t n, double exponent) {
    cdf_.reserve(n);
    double sum = 0;
    for (uint64_t i = 0; i < n; ++i) {
      sum += 1.0 / std::pow(static_cast<double>(i + 1), exponent);
      cdf_.push_back(sum);
    }
    for (double& c : cdf_) c /= sum;
  }
  uint64_t size() const { return cdf_.size(); }
  // A rank in [0, size()), rank 0 the most frequent.
  uint64_t Sample(Rng& rng) const {
    const double u = rng.Uniform();
    auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    if (it == cdf_.end()) --it;
    return static_cast<uint64_t>(it - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

}  // namespace weir::gen
