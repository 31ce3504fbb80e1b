// Column types and column buffers: the in-memory, columnar form of documents between projection
// and the lake writers.
//
// A ColumnBuffer holds the values of one column for a run of rows, with a validity byte per row.
// Null rows still occupy a (zero/empty) slot in the value vectors, so row i is always at index i.
// Physical storage by type:
//   kString, kJson        -> bytes() + offsets() (offsets has size()+1 entries; row i is
//                            bytes[offsets[i], offsets[i+1]))
//   kInt64, kTimestampMs  -> ints()      (timestamp: milliseconds since the Unix epoch, UTC)
//   kDouble               -> doubles()
//   kBool                 -> bools()     (0 or 1)
//   kDate                 -> dates()     (days since 1970-01-01)
// Ownership: a buffer owns its values. Thread-safety: none; one thread fills and reads a buffer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir {

enum class ColumnType : uint8_t { kString, kInt64, kDouble, kBool, kTimestampMs, kDate, kJson };

// Config spelling of a type ("string", "int64", "double", "bool", "timestamp_ms", "date", "json").
const char* ColumnTypeName(ColumnType t);
std::optional<ColumnType> ParseColumnTypeName(std::string_view name);

struct ColumnSchema {
  std::string name;
  ColumnType type;
};

class ColumnBuffer {
 public:
  explicit ColumnBuffer(ColumnType type) : type_(type) { offsets_.push_back(0); }

  ColumnType type() const { return type_; }
  size_t size() const { return valid_.size(); }
  size_t null_count() const { return nulls_; }

  void AppendNull();
  void AppendInt64(int64_t v) { valid_.push_back(1); ints_.push_back(v); }
  void AppendDouble(double v) { valid_.push_back(1); doubles_.push_back(v); }
  void AppendBool(bool v) { valid_.push_back(1); bools_.push_back(v ? 1 : 0); }
  void AppendDate(int32_t days) { valid_.push_back(1); dates_.push_back(days); }
  void AppendString(std::string_view s) {
    valid_.push_back(1);
    bytes_.append(s.data(), s.size());
    offsets_.push_back(static_cast<uint32_t>(bytes_.size()));
  }
  // Appends row `row` of `src` (same type) to this buffer: how partitioning gathers rows.
  void AppendFrom(const ColumnBuffer& src, size_t row);
  // Removes the last row (used when a record fails after some of its columns were appended).
  void PopBack();

  bool IsNull(size_t i) const { return valid_[i] == 0; }
  int64_t Int64At(size_t i) const { return ints_[i]; }
  double DoubleAt(size_t i) const { return doubles_[i]; }
  bool BoolAt(size_t i) const { return bools_[i] != 0; }
  int32_t DateAt(size_t i) const { return dates_[i]; }
  std::string_view StringAt(size_t i) const {
    return std::string_view(bytes_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
  }

  const std::vector<uint8_t>& validity() const { return valid_; }
  const std::vector<int64_t>& ints() const { return ints_; }
  const std::vector<double>& doubles() const { return doubles_; }
  const std::vector<uint8_t>& bools() const { return bools_; }
  const std::vector<int32_t>& dates() const { return dates_; }
  const std::string& bytes() const { return bytes_; }
  const std::vector<uint32_t>& offsets() const { return offsets_; }

  void Clear();
  // Approximate heap bytes held, for roll-by-size and memory accounting.
  size_t MemoryBytes() const;

 private:
  ColumnType type_;
  size_t nulls_ = 0;
  std::vector<uint8_t> valid_;
  std::vector<int64_t> ints_;
  std::vector<double> doubles_;
  std::vector<uint8_t> bools_;
  std::vector<int32_t> dates_;
  std::string bytes_;
  std::vector<uint32_t> offsets_;
};

// A set of equally long column buffers with their schema.
struct ColumnBatch {
  std::vector<ColumnSchema> schema;
  std::vector<ColumnBuffer> columns;

  explicit ColumnBatch(std::vector<ColumnSchema> s) : schema(std::move(s)) {
    columns.reserve(schema.size());
    for (const auto& c : schema) columns.emplace_back(c.type);
  }
  size_t num_rows() const { return columns.empty() ? 0 : columns[0].size(); }
  void Clear() {
    for (auto& c : columns) c.Clear();
  }
  size_t MemoryBytes() const {
    size_t n = 0;
    for (const auto& c : columns) n += c.MemoryBytes();
    return n;
  }
};

}  // namespace weir
