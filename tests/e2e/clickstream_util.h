// The clickstream dataset of the end-to-end tests: its YAML, generated input with the
// generator's answer key, and the lake read back by DuckDB. Shared by the batch and Iceberg tests.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>

#include "e2e_util.h"
#include "gen/events.h"

namespace weir::e2e {

inline std::string ClickstreamYaml(const std::string& extra_write = "", const std::string& extra = "") {
  return R"(name: clickstream
read:
  connector: files
  location: data
  manifest: data/manifest.txt
  parser: jsonl
write:
  connector: lake
  location: lake
  table: events
  format: parquet
  partition_by: [event_type, dt]
)" + extra_write + R"(  columns:
    id:         {path: /data/id, type: string, required: true}
    event_type: {path: /data/type, type: string, required: true}
    created_at: {path: /meta/created_at, type: timestamp_ms, required: true}
    user_id:    {path: /data/attributes/user_id, type: string}
    latitude:   {path: /data/attributes/latitude, type: double}
    longitude:  {path: /data/attributes/longitude, type: double}
    attributes: {path: /data/attributes, type: json}
    dt:         {date_of: created_at}
errors:
  location: errors
compute:
  workers: 2
)" + extra;
}

inline gen::GenEventsReport Generate(const std::string& dir, uint64_t count, int files, uint64_t seed,
                              double malformed = 0.01, const std::string& compression = "") {
  gen::GenEventsOptions o;
  o.count = count;
  o.files = files;
  o.seed = seed;
  o.out_dir = dir + "/data";
  o.malformed_share = malformed;
  o.blank_share = 0.001;
  o.compression = compression;
  auto r = gen::GenerateEvents(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return *r;
}

inline std::string LakeGlob(const std::string& dir) { return dir + "/lake/events/**/*.parquet"; }

// Count and an order-independent fingerprint of the lake rows, read straight from the files.
inline std::pair<std::string, std::string> LakeFingerprint(Duck& duck, const std::string& dir) {
  auto rows = duck.Rows("SELECT count(*), sum(hash(id || '|' || epoch_ms(created_at) || '|' || "
                        "event_type || '|' || coalesce(attributes::VARCHAR, ''))) FROM read_parquet('" +
                        LakeGlob(dir) + "', hive_partitioning = true)");
  if (rows.empty() || rows[0].size() < 2) return {"?", "?"};
  return {rows[0][0], rows[0][1]};
}

// The dataset's error records (`weir errors --json`) by (file, start_offset); an empty map and a
// test failure when the command fails.
inline std::map<std::pair<std::string, uint64_t>, nlohmann::json> ErrorsByOffset(
    const std::string& yaml, const std::string& env = "") {
  std::map<std::pair<std::string, uint64_t>, nlohmann::json> out;
  auto er = Weir("errors " + yaml + " --json", env);
  EXPECT_EQ(er.exit_code, 0) << er.out;
  std::istringstream lines(er.out);
  std::string line;
  while (std::getline(lines, line)) {
    auto e = nlohmann::json::parse(line);
    out[{e["file"].get<std::string>(), e["start_offset"].get<uint64_t>()}] = e;
  }
  return out;
}

inline nlohmann::json RunJson(const std::string& yaml, const std::string& env = "",
                       const std::string& flags = "") {
  auto r = Weir("run " + yaml + " --json " + flags, env);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return nlohmann::json{{"_raw", r.out}, {"_exit", r.exit_code}};
  j["_exit"] = r.exit_code;
  return j;
}

}  // namespace weir::e2e
