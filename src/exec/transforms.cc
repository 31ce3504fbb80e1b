#include "exec/transforms.h"

#include <algorithm>

#include "exec/runner.h"
#include "geo/geo_index.h"
#include "lake/partitioned_buffer.h"

namespace weir {

// One configured transform step.
struct Transforms::Impl {
  virtual ~Impl() = default;
  virtual void Apply(ColumnBatch& batch, std::vector<std::pair<size_t, std::string>>& rejected) const = 0;
};

namespace {

// transforms: - geo: {layers, lon, lat, on_invalid}: point-in-polygon attributes as string columns.
class GeoStep final : public Transforms::Impl {
 public:
  GeoStep(std::shared_ptr<const geo::GeoIndex> index, std::string lon, std::string lat, bool strict)
      : index_(std::move(index)), lon_(std::move(lon)), lat_(std::move(lat)), strict_(strict) {}

  void Apply(ColumnBatch& batch, std::vector<std::pair<size_t, std::string>>& rejected) const override {
    size_t lon_i = Find(batch, lon_), lat_i = Find(batch, lat_);
    size_t first = batch.columns.size();
    for (const auto& name : index_->output_columns()) {
      batch.schema.push_back({name, ColumnType::kString});
      batch.columns.emplace_back(ColumnType::kString);
    }
    std::vector<ColumnBuffer*> outs;
    for (size_t i = first; i < batch.columns.size(); ++i) outs.push_back(&batch.columns[i]);
    std::vector<geo::CoordError> errs;
    // Both indexes were checked against the schema when the step was created.
    Status st = index_->Enrich(batch.columns[lon_i], batch.columns[lat_i], outs, strict_ ? &errs : nullptr);
    if (!st.ok()) {
      for (size_t r = 0; r < batch.num_rows(); ++r) rejected.emplace_back(r, "geo: " + st.message());
      return;
    }
    for (auto& e : errs) rejected.emplace_back(e.row, "geo: " + e.reason);
  }

 private:
  static size_t Find(const ColumnBatch& b, const std::string& name) {
    for (size_t i = 0; i < b.schema.size(); ++i) {
      if (b.schema[i].name == name) return i;
    }
    return 0;
  }
  std::shared_ptr<const geo::GeoIndex> index_;
  std::string lon_, lat_;
  bool strict_;
};

}  // namespace

Transforms::~Transforms() = default;

Result<std::unique_ptr<Transforms>> Transforms::Create(const DatasetConfig& config) {
  std::unique_ptr<Transforms> t(new Transforms());
  std::vector<std::string> names;
  for (const auto& c : config.write.columns) names.push_back(c.name);
  for (const auto& tc : config.transforms) {
    if (!tc.geo) continue;
    const GeoTransformConfig& g = *tc.geo;
    std::string where = config.file + ":" + std::to_string(g.line) + ": transforms.geo";
    auto index = geo::GeoIndex::Load(g.layers);
    if (!index.ok()) return index.status().WithContext(where);
    for (const auto& out : (*index)->output_columns()) {
      if (std::find(names.begin(), names.end(), out) != names.end()) {
        return Status::Invalid(where + ": output column '" + out +
                               "' of the layers clashes with a column of the same name; rename "
                               "one of them in write.columns or in the layers file");
      }
      names.push_back(out);
      t->outputs_.push_back({out, ColumnType::kString});
    }
    t->steps_.push_back(std::make_unique<GeoStep>(*index, g.lon, g.lat, g.invalid_is_error));
  }
  t->partition_by_ = config.write.partition_by;
  // The longest partition path: PATH_MAX less the table folder and a file name.
  const size_t table_dir = TableDir(config).size() + 1, file_name = 96;
  t->max_partition_path_ = table_dir + file_name < 4095 ? 4095 - table_dir - file_name : 0;
  // The config loader lets partition_by name columns a transform may add; now they are known.
  for (const auto& p : config.write.partition_by) {
    if (std::find(names.begin(), names.end(), p) == names.end()) {
      return Status::Invalid(config.file + ": write.partition_by: unknown column '" + p +
                             "': neither in write.columns nor added by a transform");
    }
  }
  return t;
}

void Transforms::Apply(ColumnBatch& batch, std::vector<std::pair<size_t, std::string>>& rejected) const {
  for (const auto& s : steps_) s->Apply(batch, rejected);
  CheckPartitionPaths(batch, rejected);
}

void Transforms::CheckPartitionPaths(const ColumnBatch& batch,
                                     std::vector<std::pair<size_t, std::string>>& rejected) const {
  // Only text can be long: numbers, dates and booleans always make short folder names.
  std::vector<size_t> cols;
  for (const auto& name : partition_by_) {
    for (size_t i = 0; i < batch.schema.size(); ++i) {
      if (batch.schema[i].name != name) continue;
      ColumnType t = batch.columns[i].type();
      if (t == ColumnType::kString || t == ColumnType::kJson) cols.push_back(i);
    }
  }
  if (cols.empty()) return;
  const size_t rows = batch.num_rows();
  std::vector<uint8_t> already;  // rows an earlier step rejected keep that reason
  for (size_t r = 0; r < rows; ++r) {
    size_t total = 0;
    std::string problem;
    for (size_t c : cols) {
      const ColumnBuffer& col = batch.columns[c];
      const std::string& name = batch.schema[c].name;
      if (col.IsNull(r)) continue;
      size_t raw = col.StringAt(r).size();
      // Escaping at most triples a byte: short values need no closer look (the hot path).
      size_t len = name.size() + 1 + raw * 3;
      if (len > kMaxFolderName) len = name.size() + 1 + PartitionValueText(col, r).size();
      if (len > kMaxFolderName && problem.empty()) {
        problem = "partition column '" + name + "': a value of " + std::to_string(raw) +
                  " bytes makes the partition folder name " + std::to_string(len) +
                  " bytes long, over the " + std::to_string(kMaxFolderName) +
                  "-byte limit of a file name; shorten the value (or partition by another column)";
      }
      total += len + 1;
    }
    if (problem.empty() && total > max_partition_path_) {
      problem = "partition path of " + std::to_string(total) + " bytes is longer than the " +
                std::to_string(max_partition_path_) +
                " bytes a path below the table folder can take; shorten the partition values";
    }
    if (problem.empty()) continue;
    if (already.empty()) {
      already.assign(rows, 0);
      for (const auto& [row, reason] : rejected) already[row] = 1;
    }
    if (!already[r]) rejected.emplace_back(r, std::move(problem));
  }
  if (!already.empty()) {
    std::sort(rejected.begin(), rejected.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
  }
}

}  // namespace weir
