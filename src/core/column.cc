#include "core/column.h"

namespace weir {

const char* ColumnTypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kString: return "string";
    case ColumnType::kInt64: return "int64";
    case ColumnType::kDouble: return "double";
    case ColumnType::kBool: return "bool";
    case ColumnType::kTimestampMs: return "timestamp_ms";
    case ColumnType::kDate: return "date";
    case ColumnType::kJson: return "json";
  }
  return "?";
}

std::optional<ColumnType> ParseColumnTypeName(std::string_view n) {
  if (n == "string") return ColumnType::kString;
  if (n == "int64") return ColumnType::kInt64;
  if (n == "double") return ColumnType::kDouble;
  if (n == "bool") return ColumnType::kBool;
  if (n == "timestamp_ms") return ColumnType::kTimestampMs;
  if (n == "date") return ColumnType::kDate;
  if (n == "json") return ColumnType::kJson;
  return std::nullopt;
}

void ColumnBuffer::AppendNull() {
  valid_.push_back(0);
  ++nulls_;
  switch (type_) {
    case ColumnType::kString:
    case ColumnType::kJson: offsets_.push_back(static_cast<uint32_t>(bytes_.size())); break;
    case ColumnType::kInt64:
    case ColumnType::kTimestampMs: ints_.push_back(0); break;
    case ColumnType::kDouble: doubles_.push_back(0); break;
    case ColumnType::kBool: bools_.push_back(0); break;
    case ColumnType::kDate: dates_.push_back(0); break;
  }
}

void ColumnBuffer::AppendFrom(const ColumnBuffer& src, size_t row) {
  if (src.IsNull(row)) {
    AppendNull();
    return;
  }
  switch (type_) {
    case ColumnType::kString:
    case ColumnType::kJson: AppendString(src.StringAt(row)); break;
    case ColumnType::kInt64:
    case ColumnType::kTimestampMs: AppendInt64(src.ints_[row]); break;
    case ColumnType::kDouble: AppendDouble(src.doubles_[row]); break;
    case ColumnType::kBool: AppendBool(src.bools_[row] != 0); break;
    case ColumnType::kDate: AppendDate(src.dates_[row]); break;
  }
}

void ColumnBuffer::PopBack() {
  if (valid_.empty()) return;
  if (valid_.back() == 0) --nulls_;
  valid_.pop_back();
  switch (type_) {
    case ColumnType::kString:
    case ColumnType::kJson:
      offsets_.pop_back();
      bytes_.resize(offsets_.back());
      break;
    case ColumnType::kInt64:
    case ColumnType::kTimestampMs: ints_.pop_back(); break;
    case ColumnType::kDouble: doubles_.pop_back(); break;
    case ColumnType::kBool: bools_.pop_back(); break;
    case ColumnType::kDate: dates_.pop_back(); break;
  }
}

void ColumnBuffer::Clear() {
  nulls_ = 0;
  valid_.clear();
  ints_.clear();
  doubles_.clear();
  bools_.clear();
  dates_.clear();
  bytes_.clear();
  offsets_.assign(1, 0);
}

size_t ColumnBuffer::MemoryBytes() const {
  return valid_.capacity() + ints_.capacity() * 8 + doubles_.capacity() * 8 + bools_.capacity() +
         dates_.capacity() * 4 + bytes_.capacity() + offsets_.capacity() * 4;
}

}  // namespace weir
