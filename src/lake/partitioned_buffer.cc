#include "lake/partitioned_buffer.h"

#include <algorithm>
#include <cstdio>

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

PartitionedBuffer::PartitionedBuffer(std::vector<ColumnSchema> schema,
                                     const std::vector<std::string>& partition_by)
    : schema_(std::move(schema)), partition_by_(partition_by) {
  for (const auto& p : partition_by_) {
    for (size_t i = 0; i < schema_.size(); ++i) {
      if (schema_[i].name == p) part_cols_.push_back(i);
    }
  }
  for (size_t i = 0; i < schema_.size(); ++i) {
    if (std::find(part_cols_.begin(), part_cols_.end(), i) == part_cols_.end()) {
      data_cols_.push_back(i);
      file_schema_.push_back(schema_[i]);
    }
  }
}

void PartitionedBuffer::Append(const ColumnBatch& batch) {
  const size_t n = batch.num_rows();
  if (n == 0) return;
  std::vector<Partition*> row_part(n);
  std::string key;
  std::string last_key;
  Partition* last = nullptr;
  for (size_t r = 0; r < n; ++r) {
    key.clear();
    for (size_t k = 0; k < part_cols_.size(); ++k) {
      if (k) key.push_back('/');
      key += partition_by_[k];
      key.push_back('=');
      key += PartitionValueText(batch.columns[part_cols_[k]], r);
    }
    if (last != nullptr && key == last_key) {
      row_part[r] = last;
      continue;
    }
    auto it = parts_.find(key);
    if (it == parts_.end()) {
      auto p = std::make_unique<Partition>(Partition{key, ColumnBatch(file_schema_)});
      it = parts_.emplace(key, std::move(p)).first;
    }
    last = it->second.get();
    last_key = key;
    row_part[r] = last;
  }
  // Column at a time: each source column is read sequentially while rows scatter to partitions.
  for (size_t j = 0; j < data_cols_.size(); ++j) {
    const ColumnBuffer& src = batch.columns[data_cols_[j]];
    for (size_t r = 0; r < n; ++r) row_part[r]->rows.columns[j].AppendFrom(src, r);
  }
  rows_ += n;
  memory_ = 0;
  for (const auto& [k, p] : parts_) memory_ += p->rows.MemoryBytes() + k.size();
}

size_t PartitionedBuffer::MemoryBytes() const { return memory_; }

std::vector<const PartitionedBuffer::Partition*> PartitionedBuffer::Partitions() const {
  std::vector<const Partition*> out;
  out.reserve(parts_.size());
  for (const auto& [k, p] : parts_) out.push_back(p.get());
  std::sort(out.begin(), out.end(),
            [](const Partition* a, const Partition* b) { return a->path < b->path; });
  return out;
}

void PartitionedBuffer::Clear() {
  parts_.clear();
  rows_ = 0;
  memory_ = 0;
}

}  // namespace weir
