#include "lake/iceberg_datafile.h"

#include <cmath>

namespace weir::iceberg {
namespace {

// The longest prefix of `s` of at most `max` bytes that ends on a UTF-8 character boundary.
std::string Utf8Prefix(std::string_view s, size_t max) {
  size_t n = std::min(max, s.size());
  while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n));
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
    OptionalLiteral lo, hi;
    bool upper_truncated = false;
    int64_t nans = 0;
    for (size_t r = 0; r < rows; ++r) {
      OptionalLiteral v = ColumnValue(b, r);
      if (!v) continue;
      if (v->type == Type::kDouble && std::isnan(v->d)) {
        ++nans;
        continue;
      }
      if (v->type == Type::kString && v->s.size() > kMaxStringBound) {
        Literal cut = Literal::String(Utf8Prefix(v->s, kMaxStringBound));
        if (!lo || cut.Compare(*lo) < 0) lo = cut;
        upper_truncated = true;
        continue;
      }
      if (!lo || v->Compare(*lo) < 0) lo = v;
      if (!hi || v->Compare(*hi) > 0) hi = v;
    }
    if (columns[c].type == ColumnType::kDouble) f.nan_value_counts[field->id] = nans;
    if (lo) f.lower_bounds[field->id] = lo->ToBinary();
    if (hi && !upper_truncated) f.upper_bounds[field->id] = hi->ToBinary();
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
