// GeoIndex: point -> polygon attribute lookup ("geo enrichment") over the layers named in a layers
// YAML file (countries, states, postal areas, markets, ...). Start here for the geo module; see
// docs/geo.md for the file formats and the rules.
//
// Lookup rule (documented, deterministic, the same in pipelines, SQL and the CLI): for each layer
// independently, a point gets the attributes of the polygon that comes FIRST in the layer file
// (lowest row / feature number) among the polygons that COVER the point, i.e. contain it in their
// interior or on their boundary (GEOS "covers"). A point on an edge or vertex shared by two
// polygons therefore goes to the earlier one; a point in no polygon gives NULL for that layer's
// columns. Coordinates are always (longitude, latitude) = (x, y), in degrees, WGS84 as in the
// layer files; longitude must lie in [-180, 180] and latitude in [-90, 90], and NaN/inf, missing
// or non-numeric values are invalid.
//
// Engine: each layer keeps its polygons as GEOS prepared geometries, found at build time through
// a GEOS STRtree, plus a quadtree over a regular top grid: a cell whose first intersecting polygon
// covers the whole (slightly enlarged) cell answers without any geometry test, a cell no polygon
// intersects answers NULL, and only the leaf cells that straddle a boundary keep a short list of
// candidate polygons that are tested exactly with GEOSPreparedCovers_r.
//
// Ownership: Load() returns a shared_ptr<const GeoIndex>; the index owns all geometries. It is
// immutable after Load().
// Thread-safety: all const methods may be called concurrently from any number of threads without
// locks. (The lazily built internals of every prepared geometry are forced at build time, and each
// thread uses its own GEOS context for the per-point geometry it creates.)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/column.h"
#include "weir/status.h"

namespace weir::geo {

// What to do with a polygon that GEOS reports invalid (self-intersection, ring not closed, ...).
enum class InvalidGeometryAction {
  kRepair,  // GEOSMakeValid, keep its polygonal part, report it (the default)
  kReject,  // drop the polygon, report it
  kFail,    // Load() fails naming the file, row and reason
};

// One reported geometry problem.
struct GeometryIssue {
  std::string layer;
  std::string file;
  int64_t row = 0;        // 1-based data row (CSV: not counting the header) or feature number
  int64_t line = 0;       // CSV: 1-based line in the file where the row starts; GeoJSON: 0
  std::string reason;     // GEOS's reason, with the location when GEOS gives one
  bool repaired = false;  // false: the polygon was dropped
  std::string ToString() const;
};

struct LayerStats {
  std::string name;
  std::string file;
  size_t polygons = 0;  // polygons in the index (after repair/reject)
  size_t vertices = 0;  // coordinates of those polygons
  size_t invalid = 0;   // rows GEOS reported invalid (repaired + rejected)
  size_t repaired = 0;
  size_t rejected = 0;         // invalid, empty or non-polygonal rows dropped
  size_t index_nodes = 0;      // quadtree nodes
  size_t boundary_leaves = 0;  // quadtree leaves that need an exact test
};

// A row whose coordinates could not be used.
struct CoordError {
  size_t row = 0;
  std::string reason;
};

struct LoadOptions {
  // Upper bound on quadtree nodes per layer (build time and memory grow with it); 0 = automatic.
  size_t max_index_nodes = 0;
};

class GeoIndex {
 public:
  ~GeoIndex();
  GeoIndex(const GeoIndex&) = delete;
  GeoIndex& operator=(const GeoIndex&) = delete;

  // Reads the layers YAML file and every layer file it names (paths relative to the YAML file),
  // validates, repairs or rejects geometries as configured, and builds the index. Errors name the
  // file, the line or row and the reason.
  static Result<std::shared_ptr<const GeoIndex>> Load(const std::string& layers_yaml,
                                                      const LoadOptions& options = {});

  // The output columns (all ColumnType::kString lake columns), layer by layer in file order and,
  // within a layer, in the order of its `attributes` map.
  const std::vector<std::string>& output_columns() const { return output_columns_; }
  size_t num_layers() const;
  const std::vector<LayerStats>& layer_stats() const { return stats_; }
  const std::vector<GeometryIssue>& issues() const { return issues_; }

  // Why (lon, lat) is not a usable coordinate, or nullopt when it is.
  static std::optional<std::string> CheckCoordinates(double lon, double lat);

  // Polygon number (0-based row in the layer after rejections) of the polygon of layer `layer`
  // selected by the lookup rule for each of the n points, or -1. Coordinates must be valid.
  void FindPolygons(size_t layer, const double* lon, const double* lat, size_t n,
                    int32_t* out) const;

  // Attribute values for one point: out gets one entry per output column, nullptr meaning NULL.
  // Returns false (all nullptr) when the coordinates are invalid.
  bool Lookup(double lon, double lat, std::vector<const std::string*>* out) const;

  // Batch enrichment. lon and lat are kDouble, kInt64 or kString (decimal text) columns of equal
  // length; outputs has one kString buffer per output column, and gets one row appended per input
  // row. Rows with missing, non-numeric or out-of-range coordinates get NULL in every output and,
  // when `errors` is not null, an entry there (so the caller can turn them into error records).
  // Returns an error only for misuse (sizes or types).
  Status Enrich(const ColumnBuffer& lon, const ColumnBuffer& lat,
                const std::vector<ColumnBuffer*>& outputs,
                std::vector<CoordError>* errors = nullptr) const;

  struct Layer;  // one layer's geometries and quadtree; defined in geo_index.cc

 private:
  GeoIndex();

  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::string> output_columns_;
  // For output column i: its layer and the attribute number within the layer.
  std::vector<std::pair<uint32_t, uint32_t>> column_source_;
  std::vector<LayerStats> stats_;
  std::vector<GeometryIssue> issues_;
};

}  // namespace weir::geo
