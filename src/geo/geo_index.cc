#include "geo/geo_index.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <deque>

#include "geo/geos_util.h"
#include "geo/layers_config.h"

namespace weir::geo {
namespace {

// Quadtree node encoding: the top two bits are the kind, the low 30 bits the payload.
constexpr uint32_t kKindShift = 30;
constexpr uint32_t kPayloadMask = (1u << kKindShift) - 1;
constexpr uint32_t kEmpty = 0u << kKindShift;     // no polygon touches the cell
constexpr uint32_t kUniform = 1u << kKindShift;   // payload: the polygon that covers the cell
constexpr uint32_t kInternal = 2u << kKindShift;  // payload: index of the first of 4 children
constexpr uint32_t kMixed = 3u << kKindShift;     // payload: offset of [count, ids...] in lists
constexpr uint32_t kKindMask = 3u << kKindShift;

struct Box {
  double x0, y0, x1, y1;
  bool Intersects(const Box& o) const {
    return x0 <= o.x1 && o.x0 <= x1 && y0 <= o.y1 && o.y0 <= y1;
  }
};

std::optional<double> ParseNumber(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string GeometryIssue::ToString() const {
  std::string where = file + (line > 0 ? " line " + std::to_string(line) : "") + " (" +
                      (line > 0 ? "row " : "feature ") + std::to_string(row) + ")";
  return "layer " + layer + ": " + where + ": " + reason +
         (repaired ? " -> repaired" : " -> rejected");
}

// One polygon layer: geometries, their prepared forms, attribute values and the quadtree.
// Owned by GeoIndex; immutable after Build(); see GeoIndex for thread-safety.
struct GeoIndex::Layer {
  std::string name;
  std::shared_ptr<GeosContext> owner_ctx;  // destroys the geometries
  std::vector<GeomPtr> geoms;
  std::vector<const GEOSPreparedGeometry*> prepared;
  std::vector<Box> boxes;
  size_t num_attrs = 0;
  std::vector<std::optional<std::string>> values;  // polygon-major: values[p * num_attrs + a]

  // Quadtree over a top grid of nx * ny cells starting at (gx0, gy0).
  double gx0 = 0, gy0 = 0, cell_w = 1, cell_h = 1, inv_w = 1, inv_h = 1;
  int nx = 0, ny = 0;
  double eps = 0;  // every tested cell is enlarged by this much, to absorb rounding in Find()
  std::vector<uint32_t> nodes;
  std::vector<uint32_t> lists;

  ~Layer() {
    for (auto* p : prepared) GEOSPreparedGeom_destroy_r(owner_ctx->get(), p);
    prepared.clear();
    geoms.clear();  // before owner_ctx goes
  }

  Status Build(size_t max_nodes, LayerStats* stats);
  int32_t Find(double x, double y, GEOSContextHandle_t ctx) const;
};

Status GeoIndex::Layer::Build(size_t max_nodes, LayerStats* stats) {
  GEOSContextHandle_t ctx = owner_ctx->get();
  const size_t n = geoms.size();
  prepared.reserve(n);
  boxes.reserve(n);
  Box all{1e300, 1e300, -1e300, -1e300};
  for (size_t i = 0; i < n; ++i) {
    const GEOSPreparedGeometry* p = GEOSPrepare_r(ctx, geoms[i].get());
    if (p == nullptr) return Status::Internal("GEOSPrepare failed: " + owner_ctx->last_error());
    prepared.push_back(p);
    Box b{};
    if (!GEOSGeom_getXMin_r(ctx, geoms[i].get(), &b.x0) ||
        !GEOSGeom_getYMin_r(ctx, geoms[i].get(), &b.y0) ||
        !GEOSGeom_getXMax_r(ctx, geoms[i].get(), &b.x1) ||
        !GEOSGeom_getYMax_r(ctx, geoms[i].get(), &b.y1)) {
      return Status::Internal("cannot compute a polygon envelope: " + owner_ctx->last_error());
    }
    boxes.push_back(b);
    all.x0 = std::min(all.x0, b.x0);
    all.y0 = std::min(all.y0, b.y0);
    all.x1 = std::max(all.x1, b.x1);
    all.y1 = std::max(all.y1, b.y1);
  }
  if (n == 0) {
    nx = ny = 0;
    return Status::OK();
  }
  const double extent = std::max({all.x1 - all.x0, all.y1 - all.y0, 1e-6});
  eps = 1e-9 * (extent + std::max({std::fabs(all.x0), std::fabs(all.x1), std::fabs(all.y0),
                                   std::fabs(all.y1)}));
  // The grid overhangs the layer's bounding box a little, so that rounding in Find() can never
  // send a point that lies on the box's edge outside the grid.
  const double margin = 1e-7 * extent;
  gx0 = all.x0 - margin;
  gy0 = all.y0 - margin;
  const double w = (all.x1 - all.x0) + 2 * margin;
  const double h = (all.y1 - all.y0) + 2 * margin;
  // About two top cells per polygon, roughly square, at least 16.
  const double target = std::clamp<double>(2.0 * n, 16.0, 1 << 20);
  nx = std::max(1, static_cast<int>(std::lround(std::sqrt(target * w / h))));
  ny = std::max(1, static_cast<int>(std::lround(target / nx)));
  cell_w = w / nx;
  cell_h = h / ny;
  inv_w = 1.0 / cell_w;
  inv_h = 1.0 / cell_h;
  if (max_nodes == 0) max_nodes = std::max<size_t>(400000, 24 * n);
  max_nodes = std::max<size_t>(max_nodes, static_cast<size_t>(nx) * ny);

  // STRtree over the polygons' envelopes seeds each top cell's candidates.
  GEOSSTRtree* tree = GEOSSTRtree_create_r(ctx, 10);
  for (size_t i = 0; i < n; ++i) {
    GEOSSTRtree_insert_r(ctx, tree, geoms[i].get(), reinterpret_cast<void*>(i));
  }

  struct Pending {
    uint32_t slot;
    Box cell;
    int depth;
    std::vector<uint32_t> cands;  // ascending polygon numbers whose envelope may touch the cell
  };
  std::deque<Pending> queue;
  nodes.assign(static_cast<size_t>(nx) * ny, kEmpty);
  for (int iy = 0; iy < ny; ++iy) {
    for (int ix = 0; ix < nx; ++ix) {
      Pending p;
      p.slot = static_cast<uint32_t>(iy * nx + ix);
      p.cell = Box{gx0 + ix * cell_w, gy0 + iy * cell_h, gx0 + (ix + 1) * cell_w,
                   gy0 + (iy + 1) * cell_h};
      p.depth = 0;
      GeomPtr rect = MakeGeom(ctx, GEOSGeom_createRectangle_r(ctx, p.cell.x0 - eps, p.cell.y0 - eps,
                                                              p.cell.x1 + eps, p.cell.y1 + eps));
      GEOSSTRtree_query_r(
          ctx, tree, rect.get(),
          [](void* item, void* user) {
            static_cast<std::vector<uint32_t>*>(user)->push_back(
                static_cast<uint32_t>(reinterpret_cast<uintptr_t>(item)));
          },
          &p.cands);
      std::sort(p.cands.begin(), p.cands.end());
      queue.push_back(std::move(p));
    }
  }
  GEOSSTRtree_destroy_r(ctx, tree);

  constexpr int kMaxDepth = 20;
  size_t leaves_mixed = 0;
  // Breadth first, so that when the node budget runs out the refinement is even across the map.
  // Refinement also stops once the cells still undecided cover under 0.2% of the grid: uniformly
  // spread points then almost never need an exact test, and small layers build in milliseconds.
  const double grid_area = w * h;
  int level = -1;
  bool refine = true;
  while (!queue.empty()) {
    if (queue.front().depth > level) {
      level = queue.front().depth;
      double open_area = 0;
      for (const Pending& q : queue) {
        open_area += (q.cell.x1 - q.cell.x0) * (q.cell.y1 - q.cell.y0);
      }
      if (open_area < 0.002 * grid_area) refine = false;
    }
    Pending p = std::move(queue.front());
    queue.pop_front();
    const Box grown{p.cell.x0 - eps, p.cell.y0 - eps, p.cell.x1 + eps, p.cell.y1 + eps};
    GeomPtr rect =
        MakeGeom(ctx, GEOSGeom_createRectangle_r(ctx, grown.x0, grown.y0, grown.x1, grown.y1));
    std::vector<uint32_t> hit;
    for (uint32_t c : p.cands) {
      if (!boxes[c].Intersects(grown)) continue;
      char r = GEOSPreparedIntersects_r(ctx, prepared[c], rect.get());
      if (r == 2) return Status::Internal("GEOS intersects failed: " + owner_ctx->last_error());
      if (r == 1) hit.push_back(c);
    }
    if (hit.empty()) {
      nodes[p.slot] = kEmpty;
      continue;
    }
    char covers = GEOSPreparedCovers_r(ctx, prepared[hit[0]], rect.get());
    if (covers == 2) return Status::Internal("GEOS covers failed: " + owner_ctx->last_error());
    if (covers == 1) {
      nodes[p.slot] = kUniform | hit[0];
      continue;
    }
    if (refine && p.depth < kMaxDepth && nodes.size() + 4 <= max_nodes) {
      const uint32_t first = static_cast<uint32_t>(nodes.size());
      nodes.resize(nodes.size() + 4, kEmpty);
      nodes[p.slot] = kInternal | first;
      const double mx = 0.5 * (p.cell.x0 + p.cell.x1);
      const double my = 0.5 * (p.cell.y0 + p.cell.y1);
      // Child q: bit 0 = east half, bit 1 = north half (matches Find()).
      const Box kids[4] = {{p.cell.x0, p.cell.y0, mx, my},
                           {mx, p.cell.y0, p.cell.x1, my},
                           {p.cell.x0, my, mx, p.cell.y1},
                           {mx, my, p.cell.x1, p.cell.y1}};
      for (int q = 0; q < 4; ++q) queue.push_back(Pending{first + q, kids[q], p.depth + 1, hit});
      continue;
    }
    nodes[p.slot] = kMixed | static_cast<uint32_t>(lists.size());
    lists.push_back(static_cast<uint32_t>(hit.size()));
    lists.insert(lists.end(), hit.begin(), hit.end());
    ++leaves_mixed;
  }
  if (nodes.size() > kPayloadMask || lists.size() > kPayloadMask) {
    return Status::Internal("geo index too large for its node encoding");
  }

  // Prepared geometries build their point locator lazily on first use; force that now, while
  // one thread owns the layer, so that concurrent lookups only ever read.
  for (size_t i = 0; i < n; ++i) {
    GeomPtr pt = MakeGeom(ctx, GEOSGeom_createPointFromXY_r(ctx, 0.5 * (boxes[i].x0 + boxes[i].x1),
                                                            0.5 * (boxes[i].y0 + boxes[i].y1)));
    if (GEOSPreparedCovers_r(ctx, prepared[i], pt.get()) == 2) {
      return Status::Internal("GEOS covers failed: " + owner_ctx->last_error());
    }
  }
  stats->index_nodes = nodes.size();
  stats->boundary_leaves = leaves_mixed;
  return Status::OK();
}

int32_t GeoIndex::Layer::Find(double x, double y, GEOSContextHandle_t ctx) const {
  double fx = (x - gx0) * inv_w;
  double fy = (y - gy0) * inv_h;
  if (!(fx >= 0 && fy >= 0 && fx <= nx && fy <= ny)) return -1;  // also rejects NaN
  const int ix = std::min(static_cast<int>(fx), nx - 1);
  const int iy = std::min(static_cast<int>(fy), ny - 1);
  fx -= ix;  // exact: fx and ix are within a factor of two of each other, or ix is 0
  fy -= iy;
  uint32_t node = nodes[static_cast<size_t>(iy) * nx + ix];
  while ((node & kKindMask) == kInternal) {
    // Doubling and subtracting 1 are exact in binary floating point.
    const int qx = fx >= 0.5;
    const int qy = fy >= 0.5;
    fx = fx * 2 - qx;
    fy = fy * 2 - qy;
    node = nodes[(node & kPayloadMask) + qx + 2 * qy];
  }
  switch (node & kKindMask) {
    case kEmpty:
      return -1;
    case kUniform:
      return static_cast<int32_t>(node & kPayloadMask);
    default:
      break;
  }
  const uint32_t* list = lists.data() + (node & kPayloadMask);
  GeomPtr pt = MakeGeom(ctx, GEOSGeom_createPointFromXY_r(ctx, x, y));
  for (uint32_t k = 1; k <= list[0]; ++k) {
    if (GEOSPreparedCovers_r(ctx, prepared[list[k]], pt.get()) == 1) {
      return static_cast<int32_t>(list[k]);
    }
  }
  return -1;
}

GeoIndex::GeoIndex() = default;
GeoIndex::~GeoIndex() = default;

size_t GeoIndex::num_layers() const { return layers_.size(); }

namespace {

// Polygonal part of a geometry (what a repaired geometry keeps), or null if it has none.
GeomPtr PolygonalPart(GEOSContextHandle_t ctx, GeomPtr g) {
  int type = GEOSGeomTypeId_r(ctx, g.get());
  if (type == GEOS_POLYGON || type == GEOS_MULTIPOLYGON) return g;
  if (type != GEOS_GEOMETRYCOLLECTION) return nullptr;
  std::vector<GEOSGeometry*> parts;
  const int count = GEOSGetNumGeometries_r(ctx, g.get());
  for (int i = 0; i < count; ++i) {
    const GEOSGeometry* sub = GEOSGetGeometryN_r(ctx, g.get(), i);
    int st = GEOSGeomTypeId_r(ctx, sub);
    if (st == GEOS_POLYGON) {
      parts.push_back(GEOSGeom_clone_r(ctx, sub));
    } else if (st == GEOS_MULTIPOLYGON) {
      for (int j = 0; j < GEOSGetNumGeometries_r(ctx, sub); ++j) {
        parts.push_back(GEOSGeom_clone_r(ctx, GEOSGetGeometryN_r(ctx, sub, j)));
      }
    }
  }
  if (parts.empty()) return nullptr;
  return MakeGeom(ctx, GEOSGeom_createCollection_r(ctx, GEOS_MULTIPOLYGON, parts.data(),
                                                   static_cast<unsigned>(parts.size())));
}

}  // namespace

Result<std::shared_ptr<const GeoIndex>> GeoIndex::Load(const std::string& layers_yaml,
                                                       const LoadOptions& options) {
  WEIR_ASSIGN_OR_RETURN(LayersConfig cfg, ParseLayersConfig(layers_yaml));
  std::shared_ptr<GeoIndex> index(new GeoIndex());
  auto owner = std::make_shared<GeosContext>();
  GEOSContextHandle_t ctx = owner->get();
  for (const LayerConfig& lc : cfg.layers) {
    auto layer = std::make_unique<Layer>();
    layer->name = lc.name;
    layer->owner_ctx = owner;
    layer->num_attrs = lc.attributes.size();
    LayerStats stats;
    stats.name = lc.name;
    stats.file = lc.file;
    auto read = ReadLayerFile(lc, *owner);
    if (!read.ok()) {
      return read.status().WithContext(layers_yaml + ":" + std::to_string(lc.line) + ": layer " +
                                       lc.name);
    }
    std::vector<RawFeature> features = std::move(read).value();
    for (RawFeature& f : features) {
      GeometryIssue issue;
      issue.layer = lc.name;
      issue.file = lc.file;
      issue.row = f.row;
      issue.line = f.line;
      GeomPtr g = std::move(f.geom);
      bool invalid = false;
      bool repairable = true;
      if (g == nullptr) {
        issue.reason = f.parse_error;
        invalid = true;
        repairable = false;
      } else if (int t = GEOSGeomTypeId_r(ctx, g.get());
                 t != GEOS_POLYGON && t != GEOS_MULTIPOLYGON) {
        char* type_name = GEOSGeomType_r(ctx, g.get());  // malloc'ed by GEOS
        issue.reason = std::string("not a polygon or multipolygon but a ") +
                       (type_name != nullptr ? type_name : "?");
        GEOSFree_r(ctx, type_name);
        invalid = true;
        repairable = false;
      } else if (GEOSisEmpty_r(ctx, g.get()) == 1) {
        issue.reason = "empty geometry";
        invalid = true;
        repairable = false;
      } else {
        char* reason = nullptr;
        GEOSGeometry* location = nullptr;
        char valid = GEOSisValidDetail_r(ctx, g.get(), 0, &reason, &location);
        if (valid != 1) {
          invalid = true;
          issue.reason =
              reason != nullptr ? reason : ("validity check failed: " + owner->last_error());
          if (location != nullptr) {
            double x = 0, y = 0;
            if (GEOSGeomGetX_r(ctx, location, &x) == 1 && GEOSGeomGetY_r(ctx, location, &y) == 1) {
              char buf[96];
              snprintf(buf, sizeof(buf), " at (%.9g %.9g)", x, y);
              issue.reason += buf;
            }
            GEOSGeom_destroy_r(ctx, location);
          }
        }
        if (reason != nullptr) GEOSFree_r(ctx, reason);
      }
      if (invalid) {
        ++stats.invalid;
        if (lc.on_invalid == InvalidGeometryAction::kFail) {
          return Status::Invalid(
              layers_yaml + ":" + std::to_string(lc.line) + ": layer " + lc.name + ": " + lc.file +
              (f.line > 0 ? " line " + std::to_string(f.line) : "") + " (" +
              (f.line > 0 ? "row " : "feature ") + std::to_string(f.row) +
              "): invalid geometry: " + issue.reason + " (invalid_geometry: fail)");
        }
        if (lc.on_invalid == InvalidGeometryAction::kRepair && repairable) {
          GeomPtr fixed = MakeGeom(ctx, GEOSMakeValid_r(ctx, g.get()));
          if (fixed != nullptr) fixed = PolygonalPart(ctx, std::move(fixed));
          if (fixed != nullptr && GEOSisEmpty_r(ctx, fixed.get()) != 1) {
            g = std::move(fixed);
            issue.repaired = true;
            ++stats.repaired;
          } else {
            issue.reason += " (make_valid left no polygon)";
            g = nullptr;
          }
        } else {
          g = nullptr;
        }
        if (g == nullptr) ++stats.rejected;
        index->issues_.push_back(issue);
        if (g == nullptr) continue;
      }
      stats.vertices += static_cast<size_t>(std::max(0, GEOSGetNumCoordinates_r(ctx, g.get())));
      layer->geoms.push_back(std::move(g));
      for (auto& v : f.attrs) layer->values.push_back(std::move(v));
    }
    stats.polygons = layer->geoms.size();
    WEIR_RETURN_IF_ERROR(layer->Build(options.max_index_nodes, &stats)
                             .WithContext("building the index of layer " + lc.name));
    const uint32_t li = static_cast<uint32_t>(index->layers_.size());
    for (size_t a = 0; a < lc.attributes.size(); ++a) {
      index->output_columns_.push_back(lc.attributes[a].first);
      index->column_source_.emplace_back(li, static_cast<uint32_t>(a));
    }
    index->stats_.push_back(std::move(stats));
    index->layers_.push_back(std::move(layer));
  }
  return std::shared_ptr<const GeoIndex>(std::move(index));
}

std::optional<std::string> GeoIndex::CheckCoordinates(double lon, double lat) {
  if (!std::isfinite(lon)) return std::string("longitude is not a finite number");
  if (!std::isfinite(lat)) return std::string("latitude is not a finite number");
  if (lon < -180.0 || lon > 180.0)
    return "longitude " + std::to_string(lon) + " outside [-180, 180]";
  if (lat < -90.0 || lat > 90.0) return "latitude " + std::to_string(lat) + " outside [-90, 90]";
  return std::nullopt;
}

void GeoIndex::FindPolygons(size_t layer, const double* lon, const double* lat, size_t n,
                            int32_t* out) const {
  const Layer& l = *layers_[layer];
  GEOSContextHandle_t ctx = ThreadGeosContext().get();
  for (size_t i = 0; i < n; ++i) out[i] = l.nx == 0 ? -1 : l.Find(lon[i], lat[i], ctx);
}

bool GeoIndex::Lookup(double lon, double lat, std::vector<const std::string*>* out) const {
  out->assign(output_columns_.size(), nullptr);
  if (CheckCoordinates(lon, lat)) return false;
  GEOSContextHandle_t ctx = ThreadGeosContext().get();
  std::vector<int32_t> ids(layers_.size());
  for (size_t l = 0; l < layers_.size(); ++l) {
    ids[l] = layers_[l]->nx == 0 ? -1 : layers_[l]->Find(lon, lat, ctx);
  }
  for (size_t c = 0; c < column_source_.size(); ++c) {
    const auto [l, a] = column_source_[c];
    if (ids[l] < 0) continue;
    const auto& v = layers_[l]->values[static_cast<size_t>(ids[l]) * layers_[l]->num_attrs + a];
    if (v) (*out)[c] = &*v;
  }
  return true;
}

namespace {

// Reads row i of a coordinate column; nullopt plus a reason when it is missing or not a number.
std::optional<double> CoordAt(const ColumnBuffer& col, size_t i, const char* what,
                              std::string* reason) {
  if (col.IsNull(i)) {
    *reason = std::string("missing ") + what;
    return std::nullopt;
  }
  switch (col.type()) {
    case ColumnType::kDouble:
      return col.DoubleAt(i);
    case ColumnType::kInt64:
      return static_cast<double>(col.Int64At(i));
    case ColumnType::kString:
    case ColumnType::kJson: {
      auto v = ParseNumber(col.StringAt(i));
      if (!v)
        *reason = std::string(what) + " '" + std::string(col.StringAt(i).substr(0, 40)) +
                  "' is not a number";
      return v;
    }
    default:
      *reason = std::string(what) + " column is not numeric";
      return std::nullopt;
  }
}

}  // namespace

Status GeoIndex::Enrich(const ColumnBuffer& lon, const ColumnBuffer& lat,
                        const std::vector<ColumnBuffer*>& outputs,
                        std::vector<CoordError>* errors) const {
  if (lon.size() != lat.size()) {
    return Status::Invalid("geo enrich: longitude and latitude columns differ in length");
  }
  if (outputs.size() != output_columns_.size()) {
    return Status::Invalid("geo enrich: expected " + std::to_string(output_columns_.size()) +
                           " output buffers, got " + std::to_string(outputs.size()));
  }
  for (const ColumnBuffer* o : outputs) {
    if (o == nullptr || o->type() != ColumnType::kString) {
      return Status::Invalid("geo enrich: output buffers must be string columns");
    }
  }
  GEOSContextHandle_t ctx = ThreadGeosContext().get();
  std::vector<int32_t> ids(layers_.size());
  std::string reason;
  for (size_t i = 0; i < lon.size(); ++i) {
    reason.clear();
    double x = 0, y = 0;
    if (std::optional<double> vx = CoordAt(lon, i, "longitude", &reason)) {
      x = *vx;
      if (std::optional<double> vy = CoordAt(lat, i, "latitude", &reason)) {
        y = *vy;
        if (auto bad = CheckCoordinates(x, y)) reason = *bad;
      }
    }
    if (!reason.empty()) {
      for (ColumnBuffer* o : outputs) o->AppendNull();
      if (errors != nullptr) errors->push_back(CoordError{i, reason});
      continue;
    }
    for (size_t l = 0; l < layers_.size(); ++l) {
      ids[l] = layers_[l]->nx == 0 ? -1 : layers_[l]->Find(x, y, ctx);
    }
    for (size_t c = 0; c < column_source_.size(); ++c) {
      const auto [l, a] = column_source_[c];
      if (ids[l] < 0) {
        outputs[c]->AppendNull();
        continue;
      }
      const auto& v = layers_[l]->values[static_cast<size_t>(ids[l]) * layers_[l]->num_attrs + a];
      if (v) {
        outputs[c]->AppendString(*v);
      } else {
        outputs[c]->AppendNull();
      }
    }
  }
  return Status::OK();
}

}  // namespace weir::geo
