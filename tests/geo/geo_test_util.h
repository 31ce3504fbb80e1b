// Helpers shared by the geo tests: paths, temp files, running the Python oracle.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "geo/geo_index.h"

namespace weir::geo::testing {

inline std::string SourceDir() { return WEIR_SOURCE_DIR; }
inline std::string DataDir() { return SourceDir() + "/tests/data/geo"; }
// The Debian python with shapely 1.8 (a pyenv python3 earlier on PATH may lack it).
inline std::string Python() {
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

// Derived test data that is expensive to make (nybb conversion, synthetic Voronoi layer) is cached
// here, so that the per-test processes ctest starts build it once.
inline std::string CacheDir() {
  std::string d = std::string(WEIR_BINARY_DIR) + "/geo_testdata";
  std::filesystem::create_directories(d);
  return d;
}

// The folders TempDir made in this process.
inline std::vector<std::string>& TempDirs() {
  static std::vector<std::string> dirs;
  return dirs;
}

// At exit: the folders go when every test of the process passed; a failed test's stay to be
// looked at. (They were never removed: ~50 folders, ~40 MB in /tmp per `make test`.)
inline void RemoveTempDirsIfPassed() {
  if (!::testing::UnitTest::GetInstance()->Passed()) return;
  for (const auto& d : TempDirs()) {
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
  }
}

// A fresh temp folder per test.
inline std::string TempDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string d = std::filesystem::temp_directory_path().string() + "/weir_geo_" +
                  std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name();
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  // Registered after the list and gtest's UnitTest exist, so it runs before either goes.
  if (TempDirs().empty()) std::atexit(RemoveTempDirsIfPassed);
  TempDirs().push_back(d);
  return d;
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline int Shell(const std::string& cmd) { return std::system(cmd.c_str()); }

inline bool HavePythonShapely() {
  static const bool ok = Shell(Python() + " -c 'import shapely' >/dev/null 2>&1") == 0;
  return ok;
}

// Reads `lon,lat` lines.
inline std::pair<std::vector<double>, std::vector<double>> ReadPoints(const std::string& path) {
  std::ifstream in(path);
  std::vector<double> lon, lat;
  std::string line;
  while (std::getline(in, line)) {
    auto c = line.find(',');
    lon.push_back(std::stod(line.substr(0, c)));
    lat.push_back(std::stod(line.substr(c + 1)));
  }
  return {lon, lat};
}

inline void WritePoints(const std::string& path, const std::vector<double>& lon,
                        const std::vector<double>& lat) {
  std::ofstream out(path);
  char buf[64];
  for (size_t i = 0; i < lon.size(); ++i) {
    // %.17g round-trips a double exactly.
    std::snprintf(buf, sizeof(buf), "%.17g,%.17g\n", lon[i], lat[i]);
    out << buf;
  }
}

// Polygon numbers from tests/geo/oracle.py (shapely) for the points in points_csv.
inline std::vector<int32_t> Oracle(const std::string& layer_file, const std::string& geom_col,
                                   const std::string& points_csv, const std::string& out) {
  std::string cmd = Python() + " " + SourceDir() + "/tests/geo/oracle.py '" + layer_file + "' '" +
                    geom_col + "' '" + points_csv + "' '" + out + "'";
  EXPECT_EQ(Shell(cmd), 0) << cmd;
  std::vector<int32_t> ids;
  std::ifstream in(out);
  int32_t v;
  while (in >> v) ids.push_back(v);
  return ids;
}

// The countries index, loaded once per process.
inline std::shared_ptr<const GeoIndex> Countries() {
  static std::shared_ptr<const GeoIndex> index = [] {
    auto r = GeoIndex::Load(DataDir() + "/countries.yaml");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : nullptr;
  }();
  return index;
}

}  // namespace weir::geo::testing
