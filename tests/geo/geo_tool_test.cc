// `weir geo check` / `weir geo lookup` logic (src/geo/geo_tool.h), without the weir binary.
#include "geo/geo_tool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "geo_test_util.h"

namespace weir::geo {
namespace {

using ::testing::HasSubstr;
using namespace weir::geo::testing;  // NOLINT

TEST(GeoTool, CheckPrintsCounts) {
  std::ostringstream out, err;
  EXPECT_EQ(RunGeoCheck(DataDir() + "/countries.yaml", out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("layer countries"));
  EXPECT_THAT(out.str(), HasSubstr("177 polygons, 10643 vertices, 0 invalid"));
  EXPECT_THAT(out.str(), HasSubstr("output columns: country iso_a3 continent"));
}

TEST(GeoTool, CheckReportsInvalidRows) {
  std::string d = TempDir();
  WriteFile(d + "/a.csv",
            "wkt,name\n\"POLYGON((0 0,1 0,1 1,0 1,0 0))\",ok\n"
            "\"POLYGON((10 10,12 12,12 10,10 12,10 10))\",bowtie\n\"LINESTRING(0 0,1 1)\",line\n");
  WriteFile(d + "/geo.yaml", "layers:\n  - name: a\n    file: a.csv\n    attributes: {n: name}\n");
  std::ostringstream out, err;
  EXPECT_EQ(RunGeoCheck(d + "/geo.yaml", out, err), 1);  // a row was rejected
  EXPECT_THAT(out.str(), HasSubstr("2 polygons"));
  EXPECT_THAT(out.str(), HasSubstr("2 invalid (1 repaired, 1 rejected)"));
  EXPECT_THAT(out.str(), HasSubstr("a.csv line 3 (row 2): Self-intersection"));
  EXPECT_THAT(out.str(), HasSubstr("a.csv line 4 (row 3): not a polygon"));
  std::ostringstream out2, err2;
  WriteFile(d + "/bad.yaml", "layers:\n  - name: a\n    file: a.csv\n    attribute: {n: name}\n");
  EXPECT_EQ(RunGeoCheck(d + "/bad.yaml", out2, err2), 2);
  EXPECT_THAT(err2.str(), HasSubstr("bad.yaml:4"));
}

TEST(GeoTool, LookupOnePoint) {
  std::ostringstream out, err;
  EXPECT_EQ(RunGeoLookupPoint(DataDir() + "/countries.yaml", "-74.006", "40.7128", out, err), 0);
  EXPECT_EQ(out.str(), "country=United States of America\niso_a3=USA\ncontinent=North America\n");
  std::ostringstream out2, err2;
  EXPECT_EQ(RunGeoLookupPoint(DataDir() + "/countries.yaml", "-30", "0", out2, err2), 0);
  EXPECT_EQ(out2.str(), "country=NULL\niso_a3=NULL\ncontinent=NULL\n");
  std::ostringstream out3, err3;
  EXPECT_EQ(RunGeoLookupPoint(DataDir() + "/countries.yaml", "40.7", "-200", out3, err3), 2);
  EXPECT_THAT(err3.str(), HasSubstr("latitude"));
}

TEST(GeoTool, LookupPointsFile) {
  std::istringstream in("2.3522,48.8566\n-30,0\nabc,1\n139.6917,35.6895\n\n10,95\n");
  std::ostringstream out, err;
  EXPECT_EQ(RunGeoLookupPoints(DataDir() + "/countries.yaml", in, out, err, false), 0);
  EXPECT_EQ(out.str(),
            "lon,lat,country,iso_a3,continent\n"
            "2.3522,48.8566,France,FRA,Europe\n"
            "-30,0,,,\n"
            "abc,1,,,\n"
            "139.6917,35.6895,Japan,JPN,Asia\n"
            ",,,,\n"
            "10,95,,,\n");
  EXPECT_THAT(err.str(), HasSubstr("line 3"));
  std::istringstream in2("2.3522,48.8566\nabc,1\n139.6917,35.6895\n");
  std::ostringstream out2, err2;
  EXPECT_EQ(RunGeoLookupPoints(DataDir() + "/countries.yaml", in2, out2, err2, true), 1);
  EXPECT_THAT(err2.str(), HasSubstr("line 2"));
}

TEST(GeoTool, LookupQuotesCsvValues) {
  std::string d = TempDir();
  WriteFile(d + "/a.csv",
            "wkt,name\n\"POLYGON((0 0,1 0,1 1,0 1,0 0))\",\"Korea, \"\"South\"\"\"\n");
  WriteFile(d + "/geo.yaml", "layers:\n  - name: a\n    file: a.csv\n    attributes: {n: name}\n");
  std::istringstream in("0.5,0.5\n");
  std::ostringstream out, err;
  EXPECT_EQ(RunGeoLookupPoints(d + "/geo.yaml", in, out, err, false), 0);
  EXPECT_EQ(out.str(), "lon,lat,n\n0.5,0.5,\"Korea, \"\"South\"\"\"\n");
}

}  // namespace
}  // namespace weir::geo
