// Lookups against an independent oracle (shapely 1.8 over the same files), on random points and on
// points constructed on shared edges and vertices; real-data checks (Natural Earth capitals, NYC
// boroughs); NULL and out-of-range handling; concurrent use of one index.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "geo/geo_index.h"
#include "geo_test_util.h"

namespace weir::geo {
namespace {

using namespace weir::geo::testing;  // NOLINT

std::vector<int32_t> Find(const GeoIndex& index, const std::vector<double>& lon,
                          const std::vector<double>& lat, size_t layer = 0) {
  std::vector<int32_t> ids(lon.size());
  index.FindPolygons(layer, lon.data(), lat.data(), lon.size(), ids.data());
  return ids;
}

// Seeded uniform points over [x0,x1] x [y0,y1].
void RandomPoints(size_t n, uint64_t seed, double x0, double x1, double y0, double y1,
                  std::vector<double>* lon, std::vector<double>* lat) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> ux(x0, x1), uy(y0, y1);
  for (size_t i = 0; i < n; ++i) {
    lon->push_back(ux(rng));
    lat->push_back(uy(rng));
  }
}

// Compares weir with the oracle point by point; reports the first few disagreements.
void ExpectAgree(const std::vector<int32_t>& weir, const std::vector<int32_t>& oracle,
                 const std::vector<double>& lon, const std::vector<double>& lat) {
  ASSERT_EQ(weir.size(), oracle.size());
  size_t bad = 0;
  for (size_t i = 0; i < weir.size(); ++i) {
    if (weir[i] != oracle[i] && ++bad <= 10) {
      ADD_FAILURE() << "point " << i << " (" << lon[i] << ", " << lat[i] << "): weir " << weir[i]
                    << ", oracle " << oracle[i];
    }
  }
  EXPECT_EQ(bad, 0u) << "of " << weir.size() << " points";
}

// Random points over the world plus boundary points of `layer_csv`, weir vs shapely.
void CheckAgainstOracle(const GeoIndex& index, const std::string& layer_csv, size_t n_random,
                        size_t n_boundary, const std::string& dir) {
  std::vector<double> lon, lat;
  RandomPoints(n_random, 12345, -180, 180, -90, 90, &lon, &lat);
  const std::string bpath = dir + "/boundary.csv";
  ASSERT_EQ(Shell(Python() + " " + SourceDir() + "/tests/geo/boundary_points.py '" + layer_csv +
                  "' wkt " + std::to_string(n_boundary) + " 7 '" + bpath + "'"),
            0);
  auto [blon, blat] = ReadPoints(bpath);
  EXPECT_GT(blon.size(), n_boundary / 2);
  lon.insert(lon.end(), blon.begin(), blon.end());
  lat.insert(lat.end(), blat.begin(), blat.end());
  const std::string ppath = dir + "/points.csv";
  WritePoints(ppath, lon, lat);
  std::vector<int32_t> oracle = Oracle(layer_csv, "wkt", ppath, dir + "/oracle.txt");
  std::vector<int32_t> weir = Find(index, lon, lat);
  ExpectAgree(weir, oracle, lon, lat);
  // Sanity: the boundary points really do hit polygons (most of them).
  size_t hits = 0;
  for (size_t i = n_random; i < weir.size(); ++i) hits += weir[i] >= 0;
  EXPECT_GT(hits, (weir.size() - n_random) * 9 / 10);
}

TEST(GeoLookup, CountriesAgreeWithShapely) {
  if (!HavePythonShapely()) GTEST_SKIP() << "python3-shapely not installed";
  auto index = Countries();
  ASSERT_NE(index, nullptr);
  CheckAgainstOracle(*index, DataDir() + "/countries.csv", 30000, 15000, TempDir());
}

// The synthetic many-polygon layer: Voronoi cells clipped to countries (cells share edges and
// vertices exactly). Generated once into the build tree by tests/data/geo/make_voronoi.py.
std::string VoronoiLayer(int cells) {
  std::string csv = CacheDir() + "/voronoi_" + std::to_string(cells) + ".csv";
  if (!std::filesystem::exists(csv)) {
    std::string tmp = csv + ".tmp" + std::to_string(::getpid());
    EXPECT_EQ(Shell(Python() + " " + DataDir() + "/make_voronoi.py " + DataDir() +
                    "/countries.csv " + std::to_string(cells) + " 7 '" + tmp + "'"),
              0);
    std::filesystem::rename(tmp, csv);
  }
  std::string yaml = CacheDir() + "/voronoi_" + std::to_string(cells) + ".yaml";
  WriteFile(yaml, "layers:\n  - name: cells\n    file: " + csv +
                      "\n    attributes: {cell: cell, cell_country: country}\n");
  return yaml;
}

TEST(GeoLookup, VoronoiCellsAgreeWithShapely) {
  if (!HavePythonShapely()) GTEST_SKIP() << "python3-shapely not installed";
  std::string yaml = VoronoiLayer(2000);
  auto index = GeoIndex::Load(yaml);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_GT((*index)->layer_stats()[0].polygons, 2000u);
  CheckAgainstOracle(**index, CacheDir() + "/voronoi_2000.csv", 30000, 15000, TempDir());
}

TEST(GeoLookup, CapitalsResolveToTheirCountry) {
  auto index = Countries();
  ASSERT_NE(index, nullptr);
  // lon,lat,city,country,expected,note: `expected` differs from `country` only for the documented
  // exceptions (see the note column and docs/geo.md).
  std::ifstream in(DataDir() + "/capitals_expected.csv");
  std::string line;
  std::getline(in, line);
  size_t n = 0, own = 0;
  std::vector<const std::string*> v;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> f;
    std::string cur;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        f.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    f.push_back(cur);
    ASSERT_EQ(f.size(), 6u) << line;
    ASSERT_TRUE(index->Lookup(std::stod(f[0]), std::stod(f[1]), &v));
    std::string got = v[0] == nullptr ? "" : *v[0];
    EXPECT_EQ(got, f[4]) << f[2];
    if (f[3] == f[4]) {
      EXPECT_TRUE(f[5].empty()) << f[2];
      ++own;
    } else {
      EXPECT_FALSE(f[5].empty()) << f[2] << ": an exception must be documented";
    }
    ++n;
  }
  EXPECT_EQ(n, 243u);
  EXPECT_EQ(own, 243u - 42u);
}

// NYC boroughs (geopandas' nybb, EPSG:2263 feet) converted to WGS84 GeoJSON with ogr2ogr.
TEST(GeoLookup, NewYorkBoroughs) {
  const std::string zip = "/usr/lib/python3/dist-packages/geopandas/datasets/nybb_16a.zip";
  if (!std::filesystem::exists(zip) || Shell("command -v ogr2ogr >/dev/null") != 0) {
    GTEST_SKIP() << "needs python3-geopandas and gdal-bin";
  }
  const std::string gj = CacheDir() + "/nybb.geojson";
  if (!std::filesystem::exists(gj)) {
    std::string tmp = gj + ".tmp" + std::to_string(::getpid()) + ".geojson";
    ASSERT_EQ(Shell("ogr2ogr -f GeoJSON -t_srs EPSG:4326 -lco COORDINATE_PRECISION=7 '" + tmp +
                    "' /vsizip/" + zip + "/nybb.shp"),
              0);
    std::filesystem::rename(tmp, gj);
  }
  std::string d = TempDir();
  WriteFile(d + "/geo.yaml", "layers:\n  - name: boroughs\n    file: " + gj +
                                 "\n    attributes: {borough: BoroName, boro_code: BoroCode}\n");
  auto index = GeoIndex::Load(d + "/geo.yaml");
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ((*index)->layer_stats()[0].polygons, 5u);
  struct {
    double lon, lat;
    const char* borough;
  } places[] = {
      {-73.9855, 40.7580, "Manhattan"},      // Times Square
      {-73.9654, 40.7829, "Manhattan"},      // Central Park
      {-73.9442, 40.6782, "Brooklyn"},       // Crown Heights
      {-73.8648, 40.8448, "Bronx"},          // Van Nest
      {-73.7949, 40.7282, "Queens"},         // Fresh Meadows
      {-74.1502, 40.5795, "Staten Island"},  // Todt Hill
      {-73.7781, 40.6413, "Queens"},         // JFK airport
  };
  std::vector<const std::string*> v;
  for (const auto& p : places) {
    ASSERT_TRUE((*index)->Lookup(p.lon, p.lat, &v));
    ASSERT_NE(v[0], nullptr) << p.borough;
    EXPECT_EQ(*v[0], p.borough);
  }
  ASSERT_TRUE((*index)->Lookup(-74.0700, 40.7000, &v));  // Upper Bay, Jersey side: no borough
  EXPECT_EQ(v[0], nullptr);
  ASSERT_TRUE((*index)->Lookup(-74.2000, 40.7300, &v));  // Newark, NJ
  EXPECT_EQ(v[0], nullptr);
  if (HavePythonShapely()) {
    std::vector<double> lon, lat;
    RandomPoints(20000, 99, -74.26, -73.70, 40.49, 40.92, &lon, &lat);
    WritePoints(d + "/points.csv", lon, lat);
    ExpectAgree(Find(**index, lon, lat), Oracle(gj, "-", d + "/points.csv", d + "/o.txt"), lon,
                lat);
  }
}

TEST(GeoLookup, EnrichHandlesMissingBadAndOutOfRangeCoordinates) {
  auto index = Countries();
  ASSERT_NE(index, nullptr);
  ColumnBuffer lon(ColumnType::kString), lat(ColumnType::kDouble);
  auto row = [&](const char* x, std::optional<double> y) {
    if (x == nullptr) {
      lon.AppendNull();
    } else {
      lon.AppendString(x);
    }
    if (y) {
      lat.AppendDouble(*y);
    } else {
      lat.AppendNull();
    }
  };
  row("2.3522", 48.8566);       // 0 Paris
  row(nullptr, 48.8566);        // 1 missing lon
  row("2.3522", std::nullopt);  // 2 missing lat
  row("abc", 10.0);             // 3 not a number
  row("181", 10.0);             // 4 out of range
  row("10", -90.5);             // 5 out of range
  row("nan", 10.0);             // 6 NaN
  row(" -30 ", 0.0);            // 7 ocean: valid, no country
  row("-180", -90.0);           // 8 corner: valid (Antarctica touches it)
  row("", 1.0);                 // 9 empty
  std::vector<ColumnBuffer> out(3, ColumnBuffer(ColumnType::kString));
  std::vector<ColumnBuffer*> ptrs{&out[0], &out[1], &out[2]};
  std::vector<CoordError> errors;
  ASSERT_TRUE(index->Enrich(lon, lat, ptrs, &errors).ok());
  for (const auto& o : out) ASSERT_EQ(o.size(), 10u);
  EXPECT_EQ(out[0].StringAt(0), "France");
  EXPECT_EQ(out[1].StringAt(0), "FRA");
  for (size_t r : {1, 2, 3, 4, 5, 6, 7, 9}) EXPECT_TRUE(out[0].IsNull(r)) << r;
  std::vector<size_t> bad_rows;
  for (const auto& e : errors) bad_rows.push_back(e.row);
  EXPECT_EQ(bad_rows, (std::vector<size_t>{1, 2, 3, 4, 5, 6, 9}));
  EXPECT_NE(errors[0].reason.find("missing longitude"), std::string::npos);
  EXPECT_NE(errors[2].reason.find("not a number"), std::string::npos);
  EXPECT_NE(errors[3].reason.find("outside [-180, 180]"), std::string::npos);
  // Misuse is an error, not a crash.
  std::vector<ColumnBuffer*> too_few{&out[0]};
  EXPECT_FALSE(index->Enrich(lon, lat, too_few, nullptr).ok());
  ColumnBuffer ints(ColumnType::kInt64);
  ints.AppendInt64(2);
  ColumnBuffer ints2(ColumnType::kInt64);
  ints2.AppendInt64(48);
  std::vector<ColumnBuffer> out2(3, ColumnBuffer(ColumnType::kString));
  std::vector<ColumnBuffer*> p2{&out2[0], &out2[1], &out2[2]};
  ASSERT_TRUE(index->Enrich(ints, ints2, p2).ok());
  EXPECT_EQ(out2[0].StringAt(0), "France");
}

TEST(GeoLookup, ManyThreadsShareOneIndex) {
  std::string yaml = VoronoiLayer(2000);
  auto loaded = GeoIndex::Load(yaml);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  std::shared_ptr<const GeoIndex> index = *loaded;
  std::vector<double> lon, lat;
  RandomPoints(100000, 5, -180, 180, -60, 85, &lon, &lat);
  const std::vector<int32_t> expected = Find(*index, lon, lat);
  constexpr int kThreads = 6;
  std::vector<std::vector<int32_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread walks the points from a different start so they hit different cells at once.
      std::vector<double> x(lon.size()), y(lat.size());
      const size_t off = t * lon.size() / kThreads;
      for (size_t i = 0; i < lon.size(); ++i) {
        x[i] = lon[(i + off) % lon.size()];
        y[i] = lat[(i + off) % lat.size()];
      }
      std::vector<int32_t> ids = Find(*index, x, y);
      got[t].resize(ids.size());
      for (size_t i = 0; i < ids.size(); ++i) got[t][(i + off) % ids.size()] = ids[i];
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(got[t], expected) << "thread " << t;
}

}  // namespace
}  // namespace weir::geo
