#include "lake/partitioned_buffer.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdio>
#include <thread>

#include "core/text.h"

namespace weir {

std::string HiveEscape(std::string_view v) {
  if (v.empty()) return std::string(kHiveNull);
  std::string out;
  out.reserve(v.size());
  for (char ch : v) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool esc = c < 0x20 || c == 0x7F || c == '"' || c == '#' || c == '%' || c == '\'' ||
               c == '*' || c == '/' || c == ':' || c == '=' || c == '?' || c == '\\' ||
               c == '{' || c == '[' || c == ']' || c == '^';
    if (esc) {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    } else {
      out.push_back(ch);
    }
  }
  // "." and ".." are not usable as folder names.
  if (out == "." || out == "..") {
    std::string dots;
    for (size_t i = 0; i < out.size(); ++i) dots += "%2E";
    return dots;
  }
  return out;
}

std::string PartitionValueText(const ColumnBuffer& col, size_t row) {
  if (col.IsNull(row)) return std::string(kHiveNull);
  switch (col.type()) {
    case ColumnType::kString:
    case ColumnType::kJson: return HiveEscape(col.StringAt(row));
    case ColumnType::kInt64: return std::to_string(col.Int64At(row));
    case ColumnType::kBool: return col.BoolAt(row) ? "true" : "false";
    case ColumnType::kDate: return FormatDate(col.DateAt(row));
    case ColumnType::kTimestampMs: return HiveEscape(FormatTimestampMs(col.Int64At(row)));
    case ColumnType::kDouble: {
      char buf[40];
      std::snprintf(buf, sizeof(buf), "%.17g", col.DoubleAt(row));
      return buf;
    }
  }
  return std::string(kHiveNull);
}

namespace {

// The capacity a standard container grown one element at a time from empty reaches for n
// elements (libstdc++ doubles: vectors 1, 2, 4, ...; strings 15 (in place), 30, 60, ...). Keeps
// MemoryBytes() independent of capacity kept from earlier rounds.
size_t GrownVectorCapacity(size_t n) { return n == 0 ? 0 : std::bit_ceil(n); }
size_t GrownStringCapacity(size_t n) {
  size_t cap = 15;
  while (cap < n) cap *= 2;
  return cap;
}

// ColumnBuffer::MemoryBytes() of a buffer holding `c`'s rows that grew from empty.
size_t FreshCapacityBytes(const ColumnBuffer& c) {
  return GrownVectorCapacity(c.validity().size()) + GrownVectorCapacity(c.ints().size()) * 8 +
         GrownVectorCapacity(c.doubles().size()) * 8 + GrownVectorCapacity(c.bools().size()) +
         GrownVectorCapacity(c.dates().size()) * 4 + GrownStringCapacity(c.bytes().size()) +
         GrownVectorCapacity(c.offsets().size()) * 4;
}

}  // namespace

PartitionedBuffer::PartitionedBuffer(std::vector<ColumnSchema> schema,
                                     const std::vector<std::string>& partition_by,
                                     bool keep_partition_columns)
    : schema_(std::move(schema)), partition_by_(partition_by),
      keep_partition_columns_(keep_partition_columns) {
  for (const auto& p : partition_by_) {
    for (size_t i = 0; i < schema_.size(); ++i) {
      if (schema_[i].name == p) part_cols_.push_back(i);
    }
  }
  for (size_t i = 0; i < schema_.size(); ++i) {
    if (keep_partition_columns ||
        std::find(part_cols_.begin(), part_cols_.end(), i) == part_cols_.end()) {
      data_cols_.push_back(i);
      file_schema_.push_back(schema_[i]);
    }
  }
}

namespace {

// Appends the bytes of row `row` of `col` to `out` in a form that is equal for two rows exactly
// when their values are bit-for-bit equal (so equal raw bytes imply equal partition text).
void AppendRawValue(const ColumnBuffer& col, size_t row, std::string& out) {
  if (col.IsNull(row)) {
    out.push_back('\0');
    return;
  }
  out.push_back('\1');
  auto raw = [&out](const auto& v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof(v));
  };
  switch (col.type()) {
    case ColumnType::kString:
    case ColumnType::kJson: {
      const std::string_view s = col.StringAt(row);
      raw(static_cast<uint32_t>(s.size()));
      out.append(s);
      break;
    }
    case ColumnType::kInt64:
    case ColumnType::kTimestampMs: raw(col.Int64At(row)); break;
    case ColumnType::kDouble: raw(col.DoubleAt(row)); break;
    case ColumnType::kBool: out.push_back(col.BoolAt(row) ? '\1' : '\0'); break;
    case ColumnType::kDate: raw(col.DateAt(row)); break;
  }
}

// Appends rows [0, n) of `src` to the buffers `dst(r)` picks, with the type dispatch hoisted out
// of the row loop (ColumnBuffer::AppendFrom decides it per row).
template <typename Dst>
void Scatter(const ColumnBuffer& src, size_t n, Dst dst) {
  switch (src.type()) {
    case ColumnType::kString:
    case ColumnType::kJson:
      for (size_t r = 0; r < n; ++r) {
        ColumnBuffer& d = dst(r);
        if (src.IsNull(r)) {
          d.AppendNull();
        } else {
          d.AppendString(src.StringAt(r));
        }
      }
      return;
    case ColumnType::kInt64:
    case ColumnType::kTimestampMs:
      for (size_t r = 0; r < n; ++r) {
        ColumnBuffer& d = dst(r);
        if (src.IsNull(r)) {
          d.AppendNull();
        } else {
          d.AppendInt64(src.Int64At(r));
        }
      }
      return;
    default:
      for (size_t r = 0; r < n; ++r) dst(r).AppendFrom(src, r);
      return;
  }
}

}  // namespace

void PartitionedBuffer::Append(const ColumnBatch& batch) {
  const size_t n = batch.num_rows();
  if (n == 0) return;
  row_part_.resize(n);
  std::string key;
  size_t hit = 0;  // memo_ entry of the previous row: rows often repeat their partition
  for (size_t r = 0; r < n; ++r) {
    raw_.clear();
    for (size_t c : part_cols_) AppendRawValue(batch.columns[c], r, raw_);
    Partition* part = nullptr;
    if (hit < memo_.size() && memo_[hit].first == raw_) {
      part = memo_[hit].second;
    } else {
      for (hit = 0; hit < memo_.size() && memo_[hit].first != raw_; ++hit) {
      }
      if (hit < memo_.size()) part = memo_[hit].second;
    }
    if (part == nullptr) {
      // A value not seen since the last Clear() (or past the memo's size): build its path.
      key.clear();
      for (size_t k = 0; k < part_cols_.size(); ++k) {
        if (k) key.push_back('/');
        key += partition_by_[k];
        key.push_back('=');
        key += PartitionValueText(batch.columns[part_cols_[k]], r);
      }
      const size_t path_size = key.size();
      if (keep_partition_columns_) {
        // Hive writes NULL and "" as the same folder name, but they are different partition
        // values for a table whose files hold the column (Iceberg): separate files.
        key.push_back('\0');
        for (size_t c : part_cols_) key.push_back(batch.columns[c].IsNull(r) ? 'n' : 'v');
      }
      auto it = parts_.find(key);
      if (it == parts_.end()) {
        auto p = std::make_unique<Partition>(
            Partition{key.substr(0, path_size), ColumnBatch(file_schema_), key});
        it = parts_.emplace(key, std::move(p)).first;
      }
      part = it->second.get();
      if (memo_.size() < kMemoSize) memo_.emplace_back(raw_, part);
    }
    row_part_[r] = part;
  }
  // Column at a time: each source column is read sequentially while rows scatter to partitions.
  for (size_t j = 0; j < data_cols_.size(); ++j) {
    Scatter(batch.columns[data_cols_[j]], n,
            [this, j](size_t r) -> ColumnBuffer& { return row_part_[r]->rows.columns[j]; });
  }
  rows_ += n;
  ++appends_;
  for (size_t r = 0; r < n; ++r) {
    Partition* p = row_part_[r];
    if (p->counted_in == appends_) continue;
    p->counted_in = appends_;
    size_t m = p->key.size();
    for (const ColumnBuffer& c : p->rows.columns) m += FreshCapacityBytes(c);
    memory_ = memory_ - p->memory + m;
    p->memory = m;
  }
}

void PartitionedBuffer::RecountMemory() {
  memory_ = 0;
  for (const auto& [k, p] : parts_) {
    p->memory = 0;
    if (p->rows.num_rows() == 0) continue;
    p->memory = k.size();
    for (const ColumnBuffer& c : p->rows.columns) p->memory += FreshCapacityBytes(c);
    memory_ += p->memory;
  }
}

void PartitionedBuffer::MergeFrom(PartitionedBuffer& other, int threads) {
  // Partitions only one side holds move over as they are; those both hold are copied, on
  // `threads` threads (a commit merges every worker's rows while the workers wait).
  std::vector<std::pair<Partition*, Partition*>> copies;  // (into, from)
  for (auto& [key, part] : other.parts_) {
    const size_t n = part->rows.num_rows();
    if (n == 0) continue;
    auto it = parts_.find(key);
    if (it == parts_.end() || it->second->rows.num_rows() == 0) {
      // Not here yet (or here but empty): take the other's buffers as they are, no copy.
      if (it == parts_.end()) {
        parts_.emplace(key, std::make_unique<Partition>(Partition{part->path, ColumnBatch(file_schema_), key}));
        it = parts_.find(key);
      }
      std::swap(it->second->rows, part->rows);
    } else {
      copies.emplace_back(it->second.get(), part.get());
    }
    rows_ += n;
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < copies.size(); i = next++) {
      auto [into, from] = copies[i];
      const size_t n = from->rows.num_rows();
      for (size_t j = 0; j < from->rows.columns.size(); ++j) {
        Scatter(from->rows.columns[j], n,
                [&, j](size_t) -> ColumnBuffer& { return into->rows.columns[j]; });
      }
    }
  };
  std::vector<std::thread> pool;
  const size_t extra = std::min<size_t>(static_cast<size_t>(std::max(1, threads)) - 1, copies.size() / 64);
  for (size_t t = 0; t < extra; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  other.Clear();
  memo_.clear();
  RecountMemory();
}

size_t PartitionedBuffer::MemoryBytes() const { return memory_; }

size_t PartitionedBuffer::partition_count() const {
  size_t n = 0;
  for (const auto& [k, p] : parts_) n += p->rows.num_rows() > 0;
  return n;
}

std::vector<const PartitionedBuffer::Partition*> PartitionedBuffer::Partitions() const {
  std::vector<const Partition*> out;
  out.reserve(parts_.size());
  for (const auto& [k, p] : parts_) {
    if (p->rows.num_rows() > 0) out.push_back(p.get());
  }
  std::sort(out.begin(), out.end(),
            [](const Partition* a, const Partition* b) { return a->key < b->key; });
  return out;
}

void PartitionedBuffer::Clear() {
  // Partitions that stayed empty for a whole round are dropped, so what is kept stays bounded by
  // the previous round's capacity; the others keep their buffers' capacity for the next round.
  for (auto it = parts_.begin(); it != parts_.end();) {
    if (it->second->rows.num_rows() == 0) {
      it = parts_.erase(it);
    } else {
      it->second->rows.Clear();
      it->second->memory = 0;
      ++it;
    }
  }
  memo_.clear();  // may point to erased partitions
  rows_ = 0;
  memory_ = 0;
}

}  // namespace weir
