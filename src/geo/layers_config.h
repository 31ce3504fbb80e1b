// The layers file (YAML) and the layer files it names (CSV with WKT, GeoJSON FeatureCollection).
//
//   layers:
//     - name: countries
//       file: countries.csv          # relative to the layers file; or a .geojson FeatureCollection
//       geometry_column: wkt         # CSV only (default "wkt", matched case-insensitively)
//       attributes: {country: name, iso_a3: iso_a3}   # output column: source column/property
//       invalid_geometry: repair     # repair (default) | reject | fail
//
// Internal to the geo module (GeoIndex::Load is the public entry point). Plain values; no
// thread-safety concerns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "geo/geo_index.h"
#include "geo/geos_util.h"
#include "weir/status.h"

namespace weir::geo {

enum class LayerFormat { kCsv, kGeoJson };

struct LayerConfig {
  std::string name;
  std::string file;             // absolute (or as given when already absolute)
  std::string file_as_written;  // for messages
  LayerFormat format = LayerFormat::kCsv;
  std::string geometry_column = "wkt";
  std::vector<std::pair<std::string, std::string>> attributes;  // output column -> source
  InvalidGeometryAction on_invalid = InvalidGeometryAction::kRepair;
  int line = 0;  // line of the layer entry in the YAML file
};

struct LayersConfig {
  std::string path;
  std::vector<LayerConfig> layers;
};

Result<LayersConfig> ParseLayersConfig(const std::string& path);

// One row / feature of a layer file, geometry parsed but not yet validated.
struct RawFeature {
  int64_t row = 0;   // 1-based
  int64_t line = 0;  // CSV line where the row starts (0 for GeoJSON)
  GeomPtr geom;      // null when the geometry text could not be parsed (parse_error says why)
  std::string parse_error;
  std::vector<std::optional<std::string>> attrs;  // one per LayerConfig::attributes
};

// Reads all features of a layer file; geometries are created in `ctx`.
Result<std::vector<RawFeature>> ReadLayerFile(const LayerConfig& layer, GeosContext& ctx);

// "did you mean" helper: the candidate closest to `word` by edit distance, or "" if none is close.
std::string ClosestWord(const std::string& word, const std::vector<std::string>& candidates);

// Splits RFC 4180 CSV text into records of fields; `lines` gets the 1-based starting line of each
// record. Fails on an unterminated quote.
Status ParseCsv(const std::string& text, std::vector<std::vector<std::string>>* records,
                std::vector<int64_t>* lines);

}  // namespace weir::geo
