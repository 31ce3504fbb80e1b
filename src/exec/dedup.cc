#include "exec/dedup.h"

#include <chrono>
#include <climits>
#include <cstring>
#include <string_view>

#include "exec/worker_output.h"

namespace weir {
namespace {

// A bijective 64-bit finalizer (the splitmix64 output function's constants, a published fact):
// every input bit affects every output bit.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// Two lanes that absorb every 8-byte word differently, so the 128-bit result is not one 64-bit
// hash repeated: a collision needs both lanes to collide.
void Hash128(std::string_view s, uint64_t* hi, uint64_t* lo) {
  uint64_t a = 0x243f6a8885a308d3ULL ^ s.size();
  uint64_t b = 0x13198a2e03707344ULL + s.size() * 0x9e3779b97f4a7c15ULL;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    a = Mix(a ^ w);
    b = Mix(b + Rotl(w, 29) * 0x9e3779b97f4a7c15ULL);
  }
  uint64_t w = 0;
  std::memcpy(&w, s.data() + i, s.size() - i);
  w ^= static_cast<uint64_t>(s.size() - i) << 56;
  a = Mix(a ^ w ^ 0xa4093822299f31d0ULL);
  b = Mix(b + Rotl(w, 29) * 0x9e3779b97f4a7c15ULL + 0x082efa98ec4e6c89ULL);
  *hi = Mix(a + Rotl(b, 17));
  *lo = Mix(b ^ Rotl(a, 41));
}

template <typename T>
void Put(std::string& out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

}  // namespace

bool DedupKeyOf(const ColumnBatch& batch, const std::vector<size_t>& key_columns, size_t row,
                std::string& scratch, uint64_t* hi, uint64_t* lo) {
  scratch.clear();
  for (size_t c : key_columns) {
    const ColumnBuffer& col = batch.columns[c];
    if (col.IsNull(row)) return false;
    // Type tag and length prefix: ("ab", "c") and ("a", "bc") must differ, and so must the
    // string "1" and the integer 1.
    scratch.push_back(static_cast<char>(col.type()));
    switch (col.type()) {
      case ColumnType::kString:
      case ColumnType::kJson: {
        std::string_view v = col.StringAt(row);
        Put<uint32_t>(scratch, static_cast<uint32_t>(v.size()));
        scratch.append(v.data(), v.size());
        break;
      }
      case ColumnType::kInt64:
      case ColumnType::kTimestampMs: Put<int64_t>(scratch, col.Int64At(row)); break;
      case ColumnType::kDouble: Put<double>(scratch, col.DoubleAt(row)); break;
      case ColumnType::kBool: scratch.push_back(col.BoolAt(row) ? 1 : 0); break;
      case ColumnType::kDate: Put<int32_t>(scratch, col.DateAt(row)); break;
    }
  }
  Hash128(scratch, hi, lo);
  return true;
}

std::unique_ptr<DedupIndex> DedupIndex::Create(const DatasetConfig& cfg, Store& store) {
  if (!cfg.write.dedup) return nullptr;
  return std::unique_ptr<DedupIndex>(new DedupIndex(cfg, store));
}

Result<size_t> DedupIndex::Filter(ColumnBatch& batch, std::vector<DedupKey>& owned) {
  const size_t rows = batch.num_rows();
  if (rows == 0) return size_t{0};
  const DedupConfig& d = *cfg_.write.dedup;
  std::vector<size_t> key_cols;
  for (const auto& name : d.key) {
    for (size_t c = 0; c < batch.schema.size(); ++c) {
      if (batch.schema[c].name == name) key_cols.push_back(c);
    }
  }
  if (key_cols.size() != d.key.size()) {
    return Status::Internal("write.dedup: a key column is missing from the written rows");
  }
  int time_col = -1;
  for (size_t c = 0; c < batch.schema.size() && !d.time.empty(); ++c) {
    if (batch.schema[c].name == d.time) time_col = static_cast<int>(c);
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();

  std::vector<DedupKey> keys;
  std::vector<uint32_t> key_row;  // keys[i] belongs to row key_row[i]
  keys.reserve(rows);
  key_row.reserve(rows);
  std::string scratch;
  for (size_t r = 0; r < rows; ++r) {
    DedupKey k;
    if (!DedupKeyOf(batch, key_cols, r, scratch, &k.hi, &k.lo)) continue;
    k.time_ms = time_col >= 0 && !batch.columns[time_col].IsNull(r)
                    ? batch.columns[time_col].Int64At(r)
                    : now_ms;
    keys.push_back(k);
    key_row.push_back(static_cast<uint32_t>(r));
  }

  const uint64_t within = static_cast<uint64_t>(d.within_ms);
  std::vector<uint8_t> drop(rows, 0);
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<int64_t> stored;
    WEIR_RETURN_IF_ERROR(store_.DedupLookup(cfg_.name, keys, &stored));
    for (size_t i = 0; i < keys.size(); ++i) {
      const DedupKey& k = keys[i];
      bool dup = stored[i] != INT64_MIN && DedupDistance(stored[i], k.time_ms) < within;
      if (!dup) {
        auto [lo, hi] = pending_.equal_range({k.hi, k.lo});
        for (auto it = lo; it != hi && !dup; ++it) dup = DedupDistance(it->second, k.time_ms) < within;
      }
      if (dup) {
        drop[key_row[i]] = 1;
        ++dropped;
      } else {
        pending_.emplace(std::make_pair(k.hi, k.lo), k.time_ms);
        owned.push_back(k);
      }
    }
  }
  if (dropped > 0) RemoveRows(batch, drop);
  return dropped;
}

void DedupIndex::Release(const std::vector<DedupKey>& keys) {
  std::lock_guard<std::mutex> l(mu_);
  for (const DedupKey& k : keys) {
    auto [lo, hi] = pending_.equal_range({k.hi, k.lo});
    for (auto it = lo; it != hi; ++it) {
      if (it->second == k.time_ms) {
        pending_.erase(it);
        break;
      }
    }
  }
}

}  // namespace weir
