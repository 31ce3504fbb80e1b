// Geo enrichment through a real dataset run and through `weir query ... geodata(lon, lat)`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "e2e_util.h"

namespace weir::e2e {
namespace {

std::string GeoDataset(const std::string& on_invalid) {
  return std::string(R"(name: places
read: {connector: files, location: in, manifest: in/manifest.txt, parser: jsonl}
transforms:
  - geo: {layers: )") + WEIR_SOURCE_DIR + "/tests/data/geo/countries.yaml, lon: lon, lat: lat, on_invalid: " +
         on_invalid + R"(}
write:
  connector: lake
  location: lake
  table: visits
  partition_by: [iso_a3]
  columns:
    id:  {path: /id, type: string, required: true}
    lon: {path: /lon, type: double}
    lat: {path: /lat, type: double}
)";
}

const char* kInput =
    "{\"id\":\"paris\",\"lon\":2.3522,\"lat\":48.8566}\n"
    "{\"id\":\"nyc\",\"lon\":-73.9857,\"lat\":40.7484}\n"
    "{\"id\":\"tokyo\",\"lon\":139.6917,\"lat\":35.6895}\n"
    "{\"id\":\"ocean\",\"lon\":-30.0,\"lat\":0.0}\n"
    "{\"id\":\"nowhere\"}\n"
    "{\"id\":\"bad\",\"lon\":500.0,\"lat\":10.0}\n";

TEST(GeoE2E, DatasetEnrichesColumnsAndPartitionsByCountry) {
  std::string dir = TempDir("geo-ds");
  WriteAll(dir + "/in/points.jsonl", kInput);
  WriteAll(dir + "/in/manifest.txt", "points.jsonl\n");
  WriteAll(dir + "/dataset.yaml", GeoDataset("null"));
  auto r = Weir("run " + dir + "/dataset.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["totals"]["written"], 6);
  auto q = Weir("query " + dir + "/dataset.yaml \"SELECT id, country, iso_a3, continent FROM visits ORDER BY id\" --format csv");
  EXPECT_EQ(q.exit_code, 0);
  EXPECT_EQ(q.out,
            "id,country,iso_a3,continent\n"
            "bad,,,\n"
            "nowhere,,,\n"
            "nyc,United States of America,USA,North America\n"
            "ocean,,,\n"
            "paris,France,FRA,Europe\n"
            "tokyo,Japan,JPN,Asia\n");
  // The lake is partitioned by the enriched column; points in no polygon go to the NULL partition.
  EXPECT_TRUE(std::filesystem::exists(dir + "/lake/visits/data/iso_a3=FRA"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/lake/visits/data/iso_a3=__HIVE_DEFAULT_PARTITION__"));
  // geodata() in SQL over the same layers agrees with the enrichment done at write time.
  auto g = Weir("query " + dir + "/dataset.yaml \"SELECT count(*) FROM visits WHERE lon IS NOT NULL AND "
                "geodata(lon, lat).iso_a3 IS NOT DISTINCT FROM iso_a3\" --format csv");
  EXPECT_EQ(g.out, "count_star()\n5\n") << g.out;
  auto c = Weir("query " + dir + "/dataset.yaml \"SELECT geodata(2.3522, 48.8566).country AS c\" --format csv");
  EXPECT_EQ(c.out, "c\nFrance\n");
}

TEST(GeoE2E, InvalidCoordinatesBecomeErrorRecordsWhenConfigured) {
  std::string dir = TempDir("geo-strict");
  WriteAll(dir + "/in/points.jsonl", kInput);
  WriteAll(dir + "/in/manifest.txt", "points.jsonl\n");
  WriteAll(dir + "/dataset.yaml", GeoDataset("error"));
  auto r = Weir("run " + dir + "/dataset.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["totals"]["read"], 6);
  EXPECT_EQ(j["totals"]["written"], 4);
  EXPECT_EQ(j["totals"]["errored"], 2);
  auto e = Weir("errors " + dir + "/dataset.yaml --json");
  std::istringstream in(e.out);
  std::string line;
  std::set<std::string> ids;
  std::string data = kInput;
  while (std::getline(in, line)) {
    auto rec = nlohmann::json::parse(line);
    EXPECT_EQ(rec["reason"].get<std::string>().rfind("geo: ", 0), 0u) << rec["reason"];
    uint64_t s = rec["start_offset"], en = rec["end_offset"];
    ids.insert(nlohmann::json::parse(data.substr(s, en - s))["id"].get<std::string>());
  }
  EXPECT_EQ(ids, (std::set<std::string>{"nowhere", "bad"}));
}

}  // namespace
}  // namespace weir::e2e
