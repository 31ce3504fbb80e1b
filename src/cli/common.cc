#include "cli/common.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/text.h"
#include "exec/runner.h"

namespace weir::cli {

void PrintError(const std::string& msg) {
  bool color = ::isatty(2);
  std::fprintf(stderr, "%serror:%s %s\n", color ? "\033[1;31m" : "", color ? "\033[0m" : "",
               msg.c_str());
}

void PrintWarning(const std::string& msg) {
  bool color = ::isatty(2);
  std::fprintf(stderr, "%swarning:%s %s\n", color ? "\033[1;33m" : "", color ? "\033[0m" : "",
               msg.c_str());
}

std::unique_ptr<DatasetConfig> LoadConfigOrReport(const std::string& path) {
  auto cfg = LoadDatasetConfig(path);
  if (!cfg.ok()) {
    PrintError(cfg.status().message());
    return nullptr;
  }
  // Every command of a dataset reads and writes its s3:// locations through its storage.
  UseDatasetStorage(*cfg);
  return std::make_unique<DatasetConfig>(std::move(cfg).value());
}

std::unique_ptr<Store> OpenStoreOrReport(const DatasetConfig& config) {
  // Catalog paths are kept relative to the dataset file's folder, so a copied project folder
  // has a store that names its own files.
  auto store = Store::Open(config.store, std::filesystem::path(config.file).parent_path().string());
  if (!store.ok()) {
    PrintError(store.status().message());
    return nullptr;
  }
  return std::move(store).value();
}

OpenedDataset OpenDatasetOrReport(const std::string& path) {
  OpenedDataset d;
  d.config = LoadConfigOrReport(path);
  if (!d.config) {
    d.exit_code = kExitBadConfig;
    return d;
  }
  d.store = OpenStoreOrReport(*d.config);
  if (!d.store) d.exit_code = kExitFailed;
  return d;
}

std::string HumanBytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string HumanCount(uint64_t n) { return FormatCount(n); }

std::string HumanDuration(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) / 60 % 60);
  }
  return buf;
}

}  // namespace weir::cli
