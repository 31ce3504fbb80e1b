#include "exec/lake_claim.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "exec/runner.h"
#include "io/fs.h"

namespace weir {
namespace stdfs = std::filesystem;
namespace {

constexpr const char* kClaimName = "_weir_owner.json";

std::string Normal(const std::string& p) {
  // An s3:// URL keeps its "//" (lexically_normal would fold it into "s3:/").
  if (fs::IsRemote(p)) {
    std::string s = "s3://" + stdfs::path(p.substr(5)).lexically_normal().string();
    while (s.size() > 5 && s.back() == '/') s.pop_back();
    return s;
  }
  if (p.find("://") != std::string::npos) return p;  // a PostgreSQL store's URL, not a path
  std::string s = stdfs::path(p).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool Under(const std::string& path, const std::string& dir) {
  std::string p = Normal(path), d = Normal(dir);
  return p.size() > d.size() + 1 && p.compare(0, d.size(), d) == 0 && p[d.size()] == '/';
}

// Files a table reader or `weir errors` could pick up: not hidden, not claim files.
std::vector<std::string> VisibleFiles(const std::string& dir) {
  std::vector<std::string> out;
  auto files = fs::ListFilesRecursive(dir);
  if (!files.ok()) return out;
  for (const auto& rel : *files) {
    bool hidden = false;
    for (const auto& part : stdfs::path(rel)) {
      std::string s = part.string();
      hidden |= !s.empty() && (s[0] == '_' || s[0] == '.');
    }
    if (!hidden) out.push_back(rel);
  }
  return out;
}

nlohmann::json ClaimFor(const DatasetConfig& cfg, const Store& store, const std::string& dir) {
  return {{"store_id", store.store_id()}, {"store", Normal(store.path())},
          {"dataset", cfg.name},          {"dataset_file", cfg.file},
          {"folder", Normal(dir)}};
}

// Writes the claim without ever replacing one another process wrote meanwhile (link(2) fails
// on an existing name), unless `replace`.
Result<bool> WriteClaim(const std::string& dir, const nlohmann::json& claim, bool replace) {
  WEIR_RETURN_IF_ERROR(fs::CreateDirs(dir));
  std::string path = dir + "/" + kClaimName;
  if (fs::IsRemote(path)) {
    // S3 has neither link(2) nor rename: check, then put. Two first runs racing on one new
    // folder can both pass the check; the folder's store commits (one store, one dataset lock)
    // still keep their files apart, so this is a guard against mistakes, not a lock.
    if (!replace && fs::Exists(path)) return false;
    WEIR_RETURN_IF_ERROR(fs::WriteFile(path, claim.dump(2) + "\n"));
    return true;
  }
  std::string tmp = dir + "/." + kClaimName + "." + std::to_string(::getpid());
  WEIR_RETURN_IF_ERROR(fs::WriteFile(tmp, claim.dump(2) + "\n"));
  if (replace) {
    WEIR_RETURN_IF_ERROR(fs::Rename(tmp, path));
    return true;
  }
  bool linked = ::link(tmp.c_str(), path.c_str()) == 0;
  int err = errno;
  (void)fs::RemoveFile(tmp);
  if (!linked && err != EEXIST) {
    return Status::IOError("creating " + path + ": " + std::strerror(err), false);
  }
  return linked;
}

using KnownFiles = std::function<Result<std::set<std::string>>()>;

Status ClaimFolder(const DatasetConfig& cfg, const Store& store, const std::string& dir,
                   const char* setting, const KnownFiles& known_files) {
  const std::string path = dir + "/" + kClaimName;
  const std::string here = Normal(dir);
  const std::string what = std::string(setting) + " folder " + dir;
  for (int round = 0; round < 2; ++round) {
    if (fs::Exists(path)) {
      auto text = fs::ReadFile(path);
      if (!text.ok()) return text.status().WithContext(what);
      auto claim = nlohmann::json::parse(*text, nullptr, false);
      if (!claim.is_object()) {
        return Status::Corruption(what + ": its owner file " + path +
                                  " is unreadable; restore it, or remove it if this dataset is the "
                                  "only writer of the folder");
      }
      std::string id = claim.value("store_id", ""), ds = claim.value("dataset", "");
      std::string owner_store = claim.value("store", ""), owner_file = claim.value("dataset_file", "");
      std::string folder = claim.value("folder", "");
      if (folder != here) {
        // The folder was copied or moved together with its claim (cp -r of a project): the
        // copy is this store's own now.
        if (id == store.store_id() && ds == cfg.name) {
          WEIR_ASSIGN_OR_RETURN(bool ok, WriteClaim(dir, ClaimFor(cfg, store, dir), true));
          (void)ok;
          return Status::OK();
        }
      }
      if (id == store.store_id() && ds == cfg.name) {
        if (owner_store == Normal(store.path()) || !fs::Exists(owner_store)) {
          if (owner_store != Normal(store.path())) {  // the store was moved: follow it
            WEIR_ASSIGN_OR_RETURN(bool ok, WriteClaim(dir, ClaimFor(cfg, store, dir), true));
            (void)ok;
          }
          return Status::OK();
        }
        return Status::Aborted(
            what + " is written by the store " + owner_store + ", of which this dataset's store " +
            store.path() + " is a copy (same store id). Two stores cannot write one folder: run "
            "the dataset from its original place, or give the copy its own " + setting);
      }
      if (id != store.store_id() && owner_store == Normal(store.path())) {
        return Status::Aborted(
            what + " holds files committed by an earlier store at " + owner_store +
            " (store id " + id + "); the store there now is a new one (id " + store.store_id() +
            ") that knows none of them, so a run would load everything again on top of them, "
            "duplicating every row. "
            "Restore the old store file, or to start over remove " + dir +
            " yourself (weir does not delete files it has no record of)");
      }
      return Status::Aborted(what + " belongs to dataset '" + ds + "' (" +
                             (owner_file.empty() ? "" : "file " + owner_file + ", ") + "store " +
                             owner_store + "). Two datasets cannot write one folder: their runs "
                             "would remove each other's staged files. Change " + setting +
                             " (or write.table) of this dataset");
    }
    // No claim yet. Files here that the store does not know were written by someone else (or
    // by a store that was lost before claims existed): writing on would mix or duplicate them.
    std::vector<std::string> unknown;
    std::vector<std::string> present = VisibleFiles(dir);
    std::set<std::string> known;
    if (!present.empty()) {
      WEIR_ASSIGN_OR_RETURN(known, known_files());
    }
    for (const auto& rel : present) {
      if (!known.count(Normal(dir + "/" + rel))) unknown.push_back(rel);
    }
    if (!unknown.empty()) {
      return Status::Aborted(
          what + " already holds " + std::to_string(unknown.size()) +
          " file(s) this dataset's store does not know (e.g. " + unknown.front() +
          "): another dataset wrote them, or the store that committed them was lost. A run would "
          "duplicate their rows. Restore the store, or choose another " + setting +
          ", or remove them yourself to start over");
    }
    auto created = WriteClaim(dir, ClaimFor(cfg, store, dir), false);
    if (!created.ok()) return created.status().WithContext(what);
    if (*created) return Status::OK();
    // Another process claimed it between our look and our write: judge its claim.
  }
  return Status::Aborted(what + ": could not claim it (another process keeps claiming it)");
}

}  // namespace

Status ClaimOutputs(const DatasetConfig& config, Store& store) {
  // Read only when a folder without a claim has files (first run after an upgrade).
  KnownFiles known = [&]() -> Result<std::set<std::string>> {
    WEIR_ASSIGN_OR_RETURN(auto files, store.Files(config.name, "", ""));
    std::set<std::string> out;
    for (const auto& f : files) out.insert(Normal(f.path));
    return out;
  };
  WEIR_RETURN_IF_ERROR(ClaimFolder(config, store, TableDir(config), "write.location", known));
  return ClaimFolder(config, store, ErrorsDir(config), "errors.location", known);
}

std::optional<FolderOwner> ReadFolderOwner(const std::string& dir) {
  auto text = fs::ReadFile(dir + "/" + kClaimName);
  if (!text.ok()) return std::nullopt;
  auto claim = nlohmann::json::parse(*text, nullptr, false);
  if (!claim.is_object()) return std::nullopt;
  // A hand-edited claim with a non-string value reads as empty rather than throwing.
  auto text_of = [&](const char* key) {
    auto it = claim.find(key);
    return it != claim.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  FolderOwner o;
  o.store_id = text_of("store_id");
  o.store = text_of("store");
  o.dataset = text_of("dataset");
  o.dataset_file = text_of("dataset_file");
  o.folder = text_of("folder");
  if (o.store_id.empty() || o.dataset.empty()) return std::nullopt;
  return o;
}

bool IsDatasetOutputPath(const DatasetConfig& config, const std::string& path) {
  for (const std::string& dir : {TableDir(config), ErrorsDir(config), DataStagingDir(config),
                                 ErrorsStagingDir(config), RulesSpoolDir(config),
                                 RulesSpoolStagingDir(config)}) {
    if (Under(path, dir)) return true;
  }
  return false;
}

Status CheckDatasetOutputPath(const DatasetConfig& config, const std::string& path) {
  if (IsDatasetOutputPath(config, path)) return Status::OK();
  return Status::Aborted(
      "the store names " + path + ", which is outside this dataset's output folders (" +
      TableDir(config) + ", " + ErrorsDir(config) +
      "); weir does not touch it. Was the store copied from another project folder? Run the "
      "dataset from its original place, or start this copy with a new store");
}

}  // namespace weir
