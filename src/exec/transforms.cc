#include "exec/transforms.h"

namespace weir {

// One configured transform step. The geo step is wired in once the geo library lands.
struct Transforms::Impl {
  virtual ~Impl() = default;
  virtual void Apply(ColumnBatch& batch, std::vector<std::pair<size_t, std::string>>& rejected) const = 0;
};

Transforms::~Transforms() = default;

Result<std::unique_ptr<Transforms>> Transforms::Create(const DatasetConfig& config) {
  std::unique_ptr<Transforms> t(new Transforms());
  for (const auto& tc : config.transforms) {
    if (tc.geo) {
      return Status::Invalid(config.file + ":" + std::to_string(tc.geo->line) +
                             ": transforms.geo: not available in this build");
    }
  }
  return t;
}

void Transforms::Apply(ColumnBatch& batch, std::vector<std::pair<size_t, std::string>>& rejected) const {
  for (const auto& s : steps_) s->Apply(batch, rejected);
}

}  // namespace weir
