#include "exec/lake_check.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "exec/runner.h"
#include "io/fs.h"

namespace weir {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Lake files (*.parquet, *.jsonl) under `dir`, skipping every file or folder whose name starts
// with `_` or `.` (staging, claims, hidden files), into `out`.
void ListLakeFiles(const std::string& dir, std::vector<std::string>& out) {
  namespace sfs = std::filesystem;
  if (fs::IsRemote(dir)) {
    auto listed = fs::ListFilesRecursive(dir);
    if (!listed.ok()) return;
    for (const auto& rel : *listed) {
      bool hidden = false;
      for (const auto& part : sfs::path(rel)) hidden |= part.string()[0] == '_' || part.string()[0] == '.';
      if (!hidden && (EndsWith(rel, ".parquet") || EndsWith(rel, ".jsonl"))) out.push_back(dir + "/" + rel);
    }
    return;
  }
  std::error_code ec;
  if (!sfs::is_directory(dir, ec)) return;
  sfs::recursive_directory_iterator it(dir, sfs::directory_options::skip_permission_denied, ec),
      end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && (name[0] == '_' || name[0] == '.')) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    if (EndsWith(name, ".parquet") || EndsWith(name, ".jsonl")) out.push_back(it->path().string());
  }
}

}  // namespace

std::optional<std::string> CatalogFileProblem(const CatalogFile& f) {
  uint64_t size = 0;
  if (fs::IsRemote(f.path)) {
    auto head = fs::FileSize(f.path);
    if (!head.ok()) {
      if (head.status().code() == StatusCode::kNotFound) return std::string("missing");
      return "unreadable: " + head.status().message();
    }
    size = *head;
  } else {
    struct stat st;
    if (::stat(f.path.c_str(), &st) != 0) return std::string("missing");
    size = static_cast<uint64_t>(st.st_size);
  }
  return SizeProblem(f, size);
}

std::optional<std::string> SizeProblem(const CatalogFile& f, uint64_t size) {
  if (size == f.bytes) return std::nullopt;
  return "size " + std::to_string(size) + " bytes, committed " + std::to_string(f.bytes) +
         " bytes";
}

Result<LakeCheckReport> CheckLake(const DatasetConfig& config, Store& store) {
  LakeCheckReport report;
  WEIR_ASSIGN_OR_RETURN(auto files, store.Files(config.name, "", ""));
  std::set<std::string> known;
  for (const auto& f : files) {
    // Pending files are published by the next run's recovery; superseded ones are about to be
    // deleted; replaced ones (compaction) wait for `weir lake expire`. None is an orphan, and
    // only published ones must be in place.
    known.insert(f.path);
    if (f.state != "published") continue;
    ++report.files_checked;
    if (auto p = CatalogFileProblem(f)) report.problems.push_back({f, *p});
  }
  std::vector<std::string> on_disk;
  ListLakeFiles(TableDir(config), on_disk);
  ListLakeFiles(ErrorsDir(config), on_disk);
  std::sort(on_disk.begin(), on_disk.end());
  on_disk.erase(std::unique(on_disk.begin(), on_disk.end()), on_disk.end());
  for (const auto& p : on_disk) {
    if (!known.count(p)) report.orphans.push_back(p);
  }
  return report;
}

Result<std::vector<LakeFileProblem>> CheckPublishedFiles(const DatasetConfig& config,
                                                         Store& store) {
  WEIR_ASSIGN_OR_RETURN(auto files, store.Files(config.name, "", "published"));
  // Objects on S3 are checked against one listing of each folder, not a HEAD per file.
  std::map<std::string, uint64_t> listed;
  for (const std::string& dir : {TableDir(config), ErrorsDir(config)}) {
    if (!fs::IsRemote(dir)) continue;
    WEIR_ASSIGN_OR_RETURN(auto objects, fs::ListFilesWithInfo(dir));
    for (const auto& o : objects) listed[dir + "/" + o.rel] = o.size;
  }
  std::vector<LakeFileProblem> problems;
  for (const auto& f : files) {
    if (!fs::IsRemote(f.path)) {
      if (auto p = CatalogFileProblem(f)) problems.push_back({f, *p});
      continue;
    }
    auto it = listed.find(f.path);
    if (it == listed.end()) {
      // Outside the listed folders (moved settings): ask for the object itself.
      if (auto p = CatalogFileProblem(f)) problems.push_back({f, *p});
    } else if (auto p = SizeProblem(f, it->second)) {
      problems.push_back({f, *p});
    }
  }
  return problems;
}

std::string BrokenFilesMessage(const DatasetConfig& config, const std::string& what,
                               const std::vector<LakeFileProblem>& problems) {
  if (problems.empty()) return "";
  const auto& f = problems.front();
  std::string msg = what + ": lake file " + f.file.path + " (task " +
                    std::to_string(f.file.task_id) + ", " + std::to_string(f.file.rows) +
                    " rows) is " + f.problem;
  if (problems.size() > 1)
    msg += ", and " + std::to_string(problems.size() - 1) + " more file(s) are missing or damaged";
  msg +=
      "; the catalog lists it as committed. Restore the file(s) from a backup, or rebuild with "
      "`weir run " +
      config.file + " --restart`; `weir lake check " + config.file + "` lists every problem";
  return msg;
}

}  // namespace weir
