// The transforms of a dataset (config `transforms:`), applied to each projected batch in order.
// Each transform appends its output columns to the batch (so the lake schema is the projected
// columns followed by every transform's outputs) and may reject rows, which then become error
// records instead of documents.
//
// Ownership: owns the loaded transform state (e.g. geo layers, shared read-only). Thread-safety:
// Apply() is const and safe to call from all worker threads at once.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/column.h"
#include "core/config.h"
#include "weir/status.h"

namespace weir {

class Transforms {
 public:
  static Result<std::unique_ptr<Transforms>> Create(const DatasetConfig& config);
  ~Transforms();
  // Columns appended by all transforms, in order.
  const std::vector<ColumnSchema>& output_columns() const { return outputs_; }
  // Appends the output columns to `batch`; rows to reject go to `rejected` as (row, reason).
  // The last step rejects rows whose partition values cannot be a folder name (over 255 bytes
  // escaped) or a path (over PATH_MAX with the table folder): such a row would fail the commit
  // after the catalog transaction, so it becomes an error record instead.
  void Apply(ColumnBatch& batch, std::vector<std::pair<size_t, std::string>>& rejected) const;
  static constexpr size_t kMaxFolderName = 255;

  struct Impl;

 private:
  Transforms() = default;
  void CheckPartitionPaths(const ColumnBatch& batch,
                           std::vector<std::pair<size_t, std::string>>& rejected) const;
  std::vector<ColumnSchema> outputs_;
  std::vector<std::string> partition_by_;
  size_t max_partition_path_ = 0;
  std::vector<std::unique_ptr<Impl>> steps_;
};

}  // namespace weir
