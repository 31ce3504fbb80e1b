// Loading layers: YAML validation, CSV/WKT and GeoJSON layer files, invalid geometries.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "geo/geo_index.h"
#include "geo/layers_config.h"
#include "geo_test_util.h"

namespace weir::geo {
namespace {

using ::testing::HasSubstr;
using namespace weir::geo::testing;  // NOLINT

// Two unit squares sharing the edge x = 1, plus a bow-tie (self-intersecting) polygon in row 3.
const char* kSquaresCsv =
    "wkt,name,code\n"
    "\"POLYGON((0 0,1 0,1 1,0 1,0 0))\",west,W\n"
    "\"POLYGON((1 0,2 0,2 1,1 1,1 0))\",east,E\n"
    "\"POLYGON((10 10,12 12,12 10,10 12,10 10))\",bowtie,B\n";

std::string Yaml(const std::string& extra) {
  return "layers:\n"
         "  - name: squares\n"
         "    file: squares.csv\n"
         "    geometry_column: wkt\n"
         "    attributes: {square: name, code: code}\n" +
         extra;
}

TEST(GeoLoad, CountriesCsv) {
  auto index = Countries();
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(index->output_columns(), ::testing::ElementsAre("country", "iso_a3", "continent"));
  ASSERT_EQ(index->layer_stats().size(), 1u);
  EXPECT_EQ(index->layer_stats()[0].polygons, 177u);
  EXPECT_EQ(index->layer_stats()[0].invalid, 0u);
  EXPECT_GT(index->layer_stats()[0].vertices, 10000u);
  std::vector<const std::string*> v;
  ASSERT_TRUE(index->Lookup(2.3522, 48.8566, &v));  // Paris
  ASSERT_NE(v[0], nullptr);
  EXPECT_EQ(*v[0], "France");
  EXPECT_EQ(*v[1], "FRA");
  EXPECT_EQ(*v[2], "Europe");
  ASSERT_TRUE(index->Lookup(-30.0, 0.0, &v));  // Atlantic
  EXPECT_EQ(v[0], nullptr);
  EXPECT_EQ(v[1], nullptr);
  // Latitude first by mistake: (48.8566, 2.3522) is in the Indian Ocean, not France.
  ASSERT_TRUE(index->Lookup(48.8566, 2.3522, &v));
  EXPECT_TRUE(v[0] == nullptr || *v[0] != "France");
}

TEST(GeoLoad, SharedEdgeGoesToTheFirstPolygon) {
  std::string d = TempDir();
  WriteFile(d + "/squares.csv", kSquaresCsv);
  WriteFile(d + "/geo.yaml", Yaml(""));
  auto r = GeoIndex::Load(d + "/geo.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<const std::string*> v;
  auto square = [&](double x, double y) -> std::string {
    EXPECT_TRUE((*r)->Lookup(x, y, &v));
    return v[0] == nullptr ? "NULL" : *v[0];
  };
  EXPECT_EQ(square(0.5, 0.5), "west");
  EXPECT_EQ(square(1.5, 0.5), "east");
  EXPECT_EQ(square(1.0, 0.5), "west");  // shared edge: first row wins
  EXPECT_EQ(square(1.0, 0.0), "west");  // shared vertex
  EXPECT_EQ(square(1.0, 1.0), "west");
  EXPECT_EQ(square(2.0, 0.5), "east");  // outer boundary belongs to the polygon
  EXPECT_EQ(square(0.0, 0.0), "west");
  EXPECT_EQ(square(2.0000001, 0.5), "NULL");
  EXPECT_EQ(square(1.0, 1.0000001), "NULL");
  EXPECT_EQ(square(5, 5), "NULL");
}

TEST(GeoLoad, InvalidGeometryRepairedByDefault) {
  std::string d = TempDir();
  WriteFile(d + "/squares.csv", kSquaresCsv);
  WriteFile(d + "/geo.yaml", Yaml(""));
  auto r = GeoIndex::Load(d + "/geo.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& s = (*r)->layer_stats()[0];
  EXPECT_EQ(s.polygons, 3u);
  EXPECT_EQ(s.invalid, 1u);
  EXPECT_EQ(s.repaired, 1u);
  ASSERT_EQ((*r)->issues().size(), 1u);
  const GeometryIssue& issue = (*r)->issues()[0];
  EXPECT_EQ(issue.row, 3);
  EXPECT_EQ(issue.line, 4);
  EXPECT_TRUE(issue.repaired);
  EXPECT_THAT(issue.reason, HasSubstr("Self-intersection"));
  EXPECT_THAT(issue.ToString(), HasSubstr("squares.csv line 4 (row 3)"));
  std::vector<const std::string*> v;
  ASSERT_TRUE((*r)->Lookup(10.2, 11.0, &v));  // left lobe of the repaired bow-tie
  ASSERT_NE(v[0], nullptr);
  EXPECT_EQ(*v[0], "bowtie");
  ASSERT_TRUE((*r)->Lookup(11.0, 10.2, &v));  // outside both lobes
  EXPECT_EQ(v[0], nullptr);
}

TEST(GeoLoad, InvalidGeometryRejected) {
  std::string d = TempDir();
  WriteFile(d + "/squares.csv", kSquaresCsv);
  WriteFile(d + "/geo.yaml", Yaml("    invalid_geometry: reject\n"));
  auto r = GeoIndex::Load(d + "/geo.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->layer_stats()[0].polygons, 2u);
  EXPECT_EQ((*r)->layer_stats()[0].rejected, 1u);
  ASSERT_EQ((*r)->issues().size(), 1u);
  EXPECT_FALSE((*r)->issues()[0].repaired);
  std::vector<const std::string*> v;
  ASSERT_TRUE((*r)->Lookup(10.2, 11.0, &v));
  EXPECT_EQ(v[0], nullptr);
}

TEST(GeoLoad, InvalidGeometryFails) {
  std::string d = TempDir();
  WriteFile(d + "/squares.csv", kSquaresCsv);
  WriteFile(d + "/geo.yaml", Yaml("    invalid_geometry: fail\n"));
  auto r = GeoIndex::Load(d + "/geo.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("squares.csv line 4 (row 3)"));
  EXPECT_THAT(r.status().message(), HasSubstr("Self-intersection"));
}

TEST(GeoLoad, UnparseableAndNonPolygonRowsAreReported) {
  std::string d = TempDir();
  WriteFile(d + "/squares.csv",
            "wkt,name,code\n"
            "\"POLYGON((0 0,1 0,1 1,0 1,0 0))\",west,W\n"
            "\"POLYGON((0 0,1 0,1 1\",broken,X\n"
            "\"POINT(3 3)\",point,P\n"
            "\"POLYGON((0 0,1 0,1 1,0 1,0 5))\",open,O\n");
  WriteFile(d + "/geo.yaml", Yaml(""));
  auto r = GeoIndex::Load(d + "/geo.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->layer_stats()[0].polygons, 1u);
  ASSERT_EQ((*r)->issues().size(), 3u);
  EXPECT_EQ((*r)->issues()[0].row, 2);
  EXPECT_THAT((*r)->issues()[0].reason, HasSubstr("cannot parse WKT"));
  EXPECT_EQ((*r)->issues()[1].row, 3);
  EXPECT_THAT((*r)->issues()[1].reason, HasSubstr("not a polygon"));
  EXPECT_EQ((*r)->issues()[2].row, 4);
}

TEST(GeoLoad, GeoJsonFeatureCollection) {
  std::string d = TempDir();
  WriteFile(d + "/zones.geojson", R"({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"zip": "10001", "dma": 501, "name": "A"},
     "geometry": {"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},
    {"type": "Feature", "properties": {"zip": "10002", "dma": 501.0},
     "geometry": {"type": "MultiPolygon",
                  "coordinates": [[[[1,0],[2,0],[2,1],[1,1],[1,0]]], [[[5,5],[6,5],[6,6],[5,5]]]]}}
  ]})");
  WriteFile(d + "/geo.yaml",
            "layers:\n"
            "  - name: zips\n"
            "    file: zones.geojson\n"
            "    attributes: {postal_code: zip, dma_number: dma, dma_name: name}\n");
  auto r = GeoIndex::Load(d + "/geo.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<const std::string*> v;
  ASSERT_TRUE((*r)->Lookup(0.5, 0.5, &v));
  EXPECT_EQ(*v[0], "10001");
  EXPECT_EQ(*v[1], "501");
  EXPECT_EQ(*v[2], "A");
  ASSERT_TRUE((*r)->Lookup(5.8, 5.5, &v));
  EXPECT_EQ(*v[0], "10002");
  EXPECT_EQ(*v[1], "501");
  EXPECT_EQ(v[2], nullptr);  // missing property -> NULL
}

TEST(GeoLoad, ConfigErrorsNameFileLineAndReason) {
  std::string d = TempDir();
  WriteFile(d + "/squares.csv", kSquaresCsv);
  struct Case {
    std::string yaml;
    std::vector<std::string> expect;
  } cases[] = {
      {"layers:\n  - name: s\n    file: squares.csv\n    atributes: {a: name}\n",
       {"geo.yaml:4", "unknown key 'atributes'", "did you mean 'attributes'"}},
      {"layer:\n  - name: s\n", {"geo.yaml:1", "unknown key 'layer'", "did you mean 'layers'"}},
      {"layers:\n  - name: s\n    file: missing.csv\n    attributes: {a: name}\n",
       {"layer s", "cannot open", "missing.csv"}},
      {"layers:\n  - name: s\n    file: squares.csv\n    attributes: {a: nam}\n",
       {"squares.csv line 1", "'nam'", "did you mean 'name'"}},
      {"layers:\n  - name: s\n    file: squares.csv\n    geometry_column: geom\n"
       "    attributes: {a: name}\n",
       {"geometry column 'geom'"}},
      {"layers:\n  - name: s\n    file: squares.csv\n    attributes: {a: name}\n"
       "    invalid_geometry: fix\n",
       {"geo.yaml:5", "repair, reject, fail"}},
      {"layers:\n  - name: s\n    file: squares.csv\n    attributes: {a: name}\n"
       "  - name: t\n    file: squares.csv\n    attributes: {a: code}\n",
       {"geo.yaml:5", "output column 'a'"}},
      {"layers:\n  - name: s\n    file: squares.csv\n", {"missing key 'attributes'"}},
      {"layers: [\n", {"geo.yaml:"}},
      {"layers:\n  - name: s\n    file: squares.txt\n    attributes: {a: name}\n", {"format: csv"}},
  };
  for (const Case& c : cases) {
    WriteFile(d + "/geo.yaml", c.yaml);
    auto r = GeoIndex::Load(d + "/geo.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    for (const auto& e : c.expect) EXPECT_THAT(r.status().message(), HasSubstr(e)) << c.yaml;
  }
}

TEST(GeoLoad, CsvParser) {
  std::vector<std::vector<std::string>> rec;
  std::vector<int64_t> lines;
  ASSERT_TRUE(ParseCsv("a,b\r\n\"x,\"\"y\"\"\nz\",2\n3,\n", &rec, &lines).ok());
  ASSERT_EQ(rec.size(), 3u);
  EXPECT_EQ(rec[1][0], "x,\"y\"\nz");
  EXPECT_EQ(rec[2][1], "");
  EXPECT_EQ(lines[2], 4);
  EXPECT_FALSE(ParseCsv("a,\"b\n", &rec, &lines).ok());
}

}  // namespace
}  // namespace weir::geo
