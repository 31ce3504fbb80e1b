// geo_bench: weir's side of bench/geo/run.sh.
//
//   geo_bench LAYERS_YAML POINTS_BIN [IDS_OUT [N_IDS]]
//
// POINTS_BIN holds little-endian float64 pairs (lon, lat). For every layer, looks all points up
// on one thread (GeoIndex::FindPolygons, the hot loop of Enrich without column building) and then
// once through Enrich (string output columns), and prints points/s. With IDS_OUT, writes the
// polygon number (-1 = none) of the first N_IDS points of the first layer, one per line, so the
// script can check that the peers agree.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/column.h"
#include "geo/geo_index.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// CPU time of the calling thread: the honest "per core" figure on a shared machine.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: geo_bench LAYERS_YAML POINTS_BIN [IDS_OUT [N_IDS]]\n";
    return 2;
  }
  std::ifstream in(argv[2], std::ios::binary);
  std::vector<double> xy;
  in.seekg(0, std::ios::end);
  const size_t bytes = static_cast<size_t>(in.tellg());
  in.seekg(0);
  xy.assign(bytes / sizeof(double), 0.0);
  in.read(reinterpret_cast<char*>(xy.data()), static_cast<std::streamsize>(bytes));
  const size_t n = xy.size() / 2;
  std::vector<double> lon(n), lat(n);
  for (size_t i = 0; i < n; ++i) {
    lon[i] = xy[2 * i];
    lat[i] = xy[2 * i + 1];
  }
  xy = {};

  auto t0 = std::chrono::steady_clock::now();
  auto loaded = weir::geo::GeoIndex::Load(argv[1]);
  auto t1 = std::chrono::steady_clock::now();
  if (!loaded.ok()) {
    std::cerr << loaded.status().ToString() << "\n";
    return 1;
  }
  const auto& index = **loaded;
  std::printf("load+build wall %.2f s\n", Seconds(t0, t1));
  for (const auto& s : index.layer_stats()) {
    std::printf("layer %s: %zu polygons, %zu vertices, %zu index cells, %zu boundary cells\n",
                s.name.c_str(), s.polygons, s.vertices, s.index_nodes, s.boundary_leaves);
  }
  std::vector<int32_t> ids(n);
  for (size_t l = 0; l < index.num_layers(); ++l) {
    auto a = std::chrono::steady_clock::now();
    const double c0 = ThreadCpuSeconds();
    index.FindPolygons(l, lon.data(), lat.data(), n, ids.data());
    const double cpu = ThreadCpuSeconds() - c0;
    auto b = std::chrono::steady_clock::now();
    size_t hits = 0;
    for (int32_t id : ids) hits += id >= 0;
    std::printf(
        "weir find layer=%s points=%zu matched=%zu wall_s=%.3f cpu_s=%.3f "
        "points_per_cpu_s=%.0f\n",
        index.layer_stats()[l].name.c_str(), n, hits, Seconds(a, b), cpu, n / cpu);
    if (l == 0 && argc >= 4) {
      size_t k = argc >= 5 ? std::stoul(argv[4]) : n;
      k = std::min(k, n);
      std::FILE* f = std::fopen(argv[3], "w");
      for (size_t i = 0; i < k; ++i) std::fprintf(f, "%d\n", ids[i]);
      std::fclose(f);
    }
  }
  // Enrich end to end: coordinate columns in, string columns out, in batches of 64K rows.
  weir::ColumnBuffer lon_col(weir::ColumnType::kDouble), lat_col(weir::ColumnType::kDouble);
  std::vector<weir::ColumnBuffer> outs(index.output_columns().size(),
                                       weir::ColumnBuffer(weir::ColumnType::kString));
  std::vector<weir::ColumnBuffer*> out_ptrs;
  for (auto& o : outs) out_ptrs.push_back(&o);
  const size_t kBatch = 65536;
  double enrich_s = 0;
  for (size_t start = 0; start < n; start += kBatch) {
    lon_col.Clear();
    lat_col.Clear();
    for (auto& o : outs) o.Clear();
    const size_t end = std::min(n, start + kBatch);
    for (size_t i = start; i < end; ++i) {
      lon_col.AppendDouble(lon[i]);
      lat_col.AppendDouble(lat[i]);
    }
    const double c0 = ThreadCpuSeconds();
    weir::Status st = index.Enrich(lon_col, lat_col, out_ptrs);
    enrich_s += ThreadCpuSeconds() - c0;
    if (!st.ok()) {
      std::cerr << st.ToString() << "\n";
      return 1;
    }
  }
  std::printf("weir enrich layers=%zu columns=%zu points=%zu cpu_s=%.3f points_per_cpu_s=%.0f\n",
              index.num_layers(), outs.size(), n, enrich_s, n / enrich_s);
  return 0;
}
