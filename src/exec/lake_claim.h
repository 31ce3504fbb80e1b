// Which dataset owns an output folder, and the guard that keeps weir from touching files that
// are not its own.
//
// A dataset writes two folders: its table (write.location/table) and its error records
// (errors.location/<dataset>). Each holds a claim file, `_weir_owner.json`, naming the store (by
// its random id and path), the dataset and the folder it was written for. Before a run writes
// anything, ClaimOutputs() checks the claim:
//  - another dataset, or another store, owns the folder: refused, naming the owner (two writers
//    would delete each other's staged files and duplicate rows);
//  - the same store id under another store path while the claimed store still exists: a copied
//    store writing the original's folder (absolute locations): refused;
//  - a store that was lost or replaced (new id at the same path): refused, since a rerun would
//    load everything again on top of the committed files;
//  - a copied or moved project folder (the claim names another folder): the copy takes its own
//    folder over.
// A folder without a claim is claimed, unless it already holds lake or error files that the
// store does not know (a lost store from before claims existed, or another writer).
//
// Names starting with `_` or `.` are ignored by Spark, Hive and DuckDB globs, so the claim file is
// invisible to table readers. Stateless functions; call ClaimOutputs() under the dataset lock.
#pragma once

#include <optional>
#include <string>

#include "core/config.h"
#include "exec/store.h"
#include "weir/status.h"

namespace weir {

Status ClaimOutputs(const DatasetConfig& config, Store& store);

// The owner a folder's claim file names, as written by ClaimOutputs().
struct FolderOwner {
  std::string store_id;      // the owning store's random id (Store::store_id())
  std::string store;         // its path when it claimed the folder
  std::string dataset;       // the owning dataset's name
  std::string dataset_file;  // its YAML file, when known
  std::string folder;        // the folder it was claimed as (differs once copied or moved)
};
// nullopt when `dir` does not exist or has no readable claim. Reads only.
std::optional<FolderOwner> ReadFolderOwner(const std::string& dir);

// True when `path` lies inside one of the dataset's own output folders (table, error records,
// or their staging folders). Deleting or renaming anything else is refused: a store copied with
// a project folder must never reach back into the original's files.
bool IsDatasetOutputPath(const DatasetConfig& config, const std::string& path);
// OK, or an error naming the path and why it was not touched.
Status CheckDatasetOutputPath(const DatasetConfig& config, const std::string& path);

}  // namespace weir
