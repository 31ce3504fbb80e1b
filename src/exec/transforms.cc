#include "exec/transforms.h"

#include <algorithm>

#include "geo/geo_index.h"

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
}

}  // namespace weir
