// Helpers shared by the CLI commands: loading a dataset with its store, and human formatting.
// Stateless; thread-safety is not a concern in the single-threaded CLI front end.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/config.h"
#include "exec/store.h"

namespace weir::cli {

// Exit codes: 0 success, 1 the work failed (a task ERROR, a query error), 2 bad usage or config.
inline constexpr int kExitFailed = 1;
inline constexpr int kExitBadConfig = 2;

// Loads and validates the dataset file; on failure prints the errors and returns nullptr.
std::unique_ptr<DatasetConfig> LoadConfigOrReport(const std::string& path);
std::unique_ptr<Store> OpenStoreOrReport(const DatasetConfig& config);

// A dataset file loaded together with its store, as most commands need.
struct OpenedDataset {
  std::unique_ptr<DatasetConfig> config;
  std::unique_ptr<Store> store;
  int exit_code = 0;  // kExitBadConfig or kExitFailed when opening failed (already reported)
  bool ok() const { return exit_code == 0; }
};
OpenedDataset OpenDatasetOrReport(const std::string& path);

std::string HumanBytes(uint64_t n);
std::string HumanCount(uint64_t n);  // 1234567 -> "1,234,567"
std::string HumanDuration(double seconds);
void PrintError(const std::string& msg);
// Prints "warning: msg" on stderr (yellow on a terminal).
void PrintWarning(const std::string& msg);

}  // namespace weir::cli
