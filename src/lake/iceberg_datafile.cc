#include "lake/iceberg_datafile.h"

#include <cmath>
#include <optional>
#include <string_view>

namespace weir::iceberg {
namespace {

// The longest prefix of `s` of at most `max` bytes that ends on a UTF-8 character boundary.
std::string_view Utf8Prefix(std::string_view s, size_t max) {
  size_t n = std::min(max, s.size());
  while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// A column's bounds and NaN count. Found on the typed values, then turned into literals once:
// building a Literal per row (a string copy for every string value) made describing a commit's
// files cost as much as encoding them.
struct Bounds {
  OptionalLiteral lo, hi;
  bool upper_truncated = false;  // a string longer than kMaxStringBound: no upper bound
  int64_t nans = 0;
};

// Rows of the smallest and largest non-null value under `less`; false when every row is null
// (or skipped by `skip`).
template <typename Less, typename Skip>
bool ExtremeRows(const ColumnBuffer& b, Less less, Skip skip, size_t* lo, size_t* hi) {
  bool any = false;
  for (size_t r = 0; r < b.size(); ++r) {
    if (b.IsNull(r) || skip(r)) continue;
    if (!any) {
      *lo = *hi = r;
      any = true;
      continue;
    }
    if (less(r, *lo)) *lo = r;
    if (less(*hi, r)) *hi = r;
  }
  return any;
}

Bounds ColumnBounds(const ColumnBuffer& b) {
  Bounds out;
  size_t lo = 0, hi = 0;
  auto keep = [](size_t) { return false; };
  switch (b.type()) {
    case ColumnType::kString:
    case ColumnType::kJson: {
      // Values longer than the bound contribute their prefix to the lower bound and drop the
      // upper bound; string_view compares bytes as unsigned char, Iceberg's order.
      std::optional<std::string_view> low, high;
      for (size_t r = 0; r < b.size(); ++r) {
        if (b.IsNull(r)) continue;
        const std::string_view v = b.StringAt(r);
        if (v.size() > kMaxStringBound) {
          const std::string_view cut = Utf8Prefix(v, kMaxStringBound);
          if (!low || cut < *low) low = cut;
          out.upper_truncated = true;
          continue;
        }
        if (!low || v < *low) low = v;
        if (!high || v > *high) high = v;
      }
      if (low) out.lo = Literal::String(std::string(*low));
      if (high) out.hi = Literal::String(std::string(*high));
      return out;
    }
    case ColumnType::kDouble: {
      // NaN has no place in the order (counted apart); -0.0 orders before +0.0.
      auto nan = [&](size_t r) { return std::isnan(b.DoubleAt(r)); };
      auto less = [&](size_t x, size_t y) {
        const double a = b.DoubleAt(x), c = b.DoubleAt(y);
        return a < c || (a == c && std::signbit(a) && !std::signbit(c));
      };
      for (size_t r = 0; r < b.size(); ++r) out.nans += !b.IsNull(r) && nan(r);
      if (!ExtremeRows(b, less, nan, &lo, &hi)) return out;
      break;
    }
    case ColumnType::kInt64:
    case ColumnType::kTimestampMs:
      if (!ExtremeRows(b, [&](size_t x, size_t y) { return b.Int64At(x) < b.Int64At(y); }, keep,
                       &lo, &hi))
        return out;
      break;
    case ColumnType::kDate:
      if (!ExtremeRows(b, [&](size_t x, size_t y) { return b.DateAt(x) < b.DateAt(y); }, keep,
                       &lo, &hi))
        return out;
      break;
    case ColumnType::kBool:
      if (!ExtremeRows(b, [&](size_t x, size_t y) { return !b.BoolAt(x) && b.BoolAt(y); }, keep,
                       &lo, &hi))
        return out;
      break;
  }
  out.lo = ColumnValue(b, lo);
  out.hi = ColumnValue(b, hi);
  return out;
}

// Whether rows `a` and `b` of a column hold the same value (both null counts as the same).
bool SameValue(const ColumnBuffer& c, size_t a, size_t b) {
  if (c.IsNull(a) || c.IsNull(b)) return c.IsNull(a) == c.IsNull(b);
  switch (c.type()) {
    case ColumnType::kString:
    case ColumnType::kJson: return c.StringAt(a) == c.StringAt(b);
    case ColumnType::kInt64:
    case ColumnType::kTimestampMs: return c.Int64At(a) == c.Int64At(b);
    case ColumnType::kDate: return c.DateAt(a) == c.DateAt(b);
    case ColumnType::kBool: return c.BoolAt(a) == c.BoolAt(b);
    case ColumnType::kDouble: return false;  // NaN != NaN: let the transform decide
  }
  return false;
}

}  // namespace

OptionalLiteral ColumnValue(const ColumnBuffer& c, size_t row) {
  if (c.IsNull(row)) return std::nullopt;
  switch (c.type()) {
    case ColumnType::kString:
    case ColumnType::kJson:
      return Literal::String(std::string(c.StringAt(row)));
    case ColumnType::kInt64:
      return Literal::Long(c.Int64At(row));
    case ColumnType::kDouble:
      return Literal::Double(c.DoubleAt(row));
    case ColumnType::kBool:
      return Literal::Boolean(c.BoolAt(row));
    case ColumnType::kTimestampMs:
      return Literal::TimestampTz(MicrosFromMillis(c.Int64At(row)));
    case ColumnType::kDate:
      return Literal::Date(c.DateAt(row));
  }
  return std::nullopt;
}

Result<DataFile> DescribeDataFile(const Schema& schema, const PartitionSpec& spec,
                                  const std::vector<ColumnSchema>& columns,
                                  const std::vector<const ColumnBuffer*>& data,
                                  std::string file_path, int64_t file_size_in_bytes) {
  if (columns.size() != data.size())
    return Status::Internal("DescribeDataFile: schema and buffers differ in count");
  DataFile f;
  f.file_path = std::move(file_path);
  f.file_size_in_bytes = file_size_in_bytes;
  const size_t rows = data.empty() ? 0 : data[0]->size();
  f.record_count = static_cast<int64_t>(rows);
  std::map<int, size_t> column_of_field;
  for (size_t c = 0; c < columns.size(); ++c) {
    const NestedField* field = schema.FindByName(columns[c].name);
    if (!field) {
      return Status::Invalid("column '" + columns[c].name + "' of " + f.file_path +
                             " is not in the Iceberg table schema");
    }
    if (field->type != TypeForColumn(columns[c].type)) {
      return Status::Invalid("column '" + columns[c].name + "' is " +
                             ColumnTypeName(columns[c].type) +
                             " but the Iceberg table schema has it as " + TypeName(field->type));
    }
    if (data[c]->size() != rows)
      return Status::Internal("DescribeDataFile: columns of different lengths");
    column_of_field[field->id] = c;
    const ColumnBuffer& b = *data[c];
    f.value_counts[field->id] = static_cast<int64_t>(rows);
    f.null_value_counts[field->id] = static_cast<int64_t>(b.null_count());
    Bounds bounds = ColumnBounds(b);
    if (columns[c].type == ColumnType::kDouble) f.nan_value_counts[field->id] = bounds.nans;
    if (bounds.lo) f.lower_bounds[field->id] = bounds.lo->ToBinary();
    if (bounds.hi && !bounds.upper_truncated) f.upper_bounds[field->id] = bounds.hi->ToBinary();
  }
  for (const auto& pf : spec.fields) {
    auto it = column_of_field.find(pf.source_id);
    if (it == column_of_field.end()) {
      return Status::Invalid("partition field '" + pf.name + "' needs column id " +
                             std::to_string(pf.source_id) + ", which " + f.file_path +
                             " does not hold");
    }
    const ColumnBuffer& b = *data[it->second];
    OptionalLiteral first;
    for (size_t r = 0; r < rows; ++r) {
      if (r > 0 && SameValue(b, r, r - 1)) continue;  // same source value, same partition value
      WEIR_ASSIGN_OR_RETURN(OptionalLiteral v, ApplyTransform(pf.transform, ColumnValue(b, r)));
      if (r == 0) {
        first = std::move(v);
      } else if (v.has_value() != first.has_value() || (v && v->Compare(*first) != 0)) {
        return Status::Invalid(f.file_path + ": row " + std::to_string(r) + " of column '" +
                               columns[it->second].name + "' belongs to another partition ('" +
                               pf.name + "') than row 0; one data file must hold one partition");
      }
    }
    f.partition.push_back(std::move(first));
  }
  return f;
}

}  // namespace weir::iceberg
