// Checks that a dataset's lake is what its catalog says (`weir lake check`, and `weir query`
// before it builds its views).
//
// Every published catalog file (data and error records) must exist with the size committed in
// the catalog (`n_bytes`). Files under the table folder (write.location/table) or the errors
// folder (errors.location/<dataset>) that the catalog does not list as live are orphans: left by
// hand, by a copy, or by an older store. Staging folders and names starting with `_` or `.` are
// not data (weir's own claims and staging; every Hive-style reader skips them too).
//
// Thread-safety: free functions, no shared state; reads the store and the file system only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "exec/store.h"
#include "weir/status.h"

namespace weir {

// What is wrong with a published catalog file on disk ("missing", "size 10 bytes, committed
// 20 bytes"), or nullopt when it is there with its committed size.
std::optional<std::string> CatalogFileProblem(const CatalogFile& f);
// The problem of a file found with `size` bytes where the catalog committed f.bytes, or nullopt.
std::optional<std::string> SizeProblem(const CatalogFile& f, uint64_t size);

struct LakeFileProblem {
  CatalogFile file;
  std::string problem;  // as CatalogFileProblem
};

struct LakeCheckReport {
  uint64_t files_checked = 0;             // published catalog files looked at
  std::vector<LakeFileProblem> problems;  // published files missing or of the wrong size
  std::vector<std::string> orphans;       // lake files the catalog does not know (absolute paths)
  bool clean() const { return problems.empty() && orphans.empty(); }
};

Result<LakeCheckReport> CheckLake(const DatasetConfig& config, Store& store);

// Only the published files (one stat each, no folder listing): what `weir run` checks at its end
// so "nothing to do" is never said over a lake that lost files.
Result<std::vector<LakeFileProblem>> CheckPublishedFiles(const DatasetConfig& config, Store& store);

// One sentence about broken published files of one kind for a reader: the first file, how many
// more, and what to do. `what` names the table or view ("table 'payments'").
std::string BrokenFilesMessage(const DatasetConfig& config, const std::string& what,
                               const std::vector<LakeFileProblem>& problems);

}  // namespace weir
