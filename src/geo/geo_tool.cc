#include "geo/geo_tool.h"

#include <charconv>
#include <optional>
#include <vector>

#include "geo/geo_index.h"

namespace weir::geo {
namespace {

std::optional<double> ParseCoord(std::string_view s) {
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

// RFC 4180 quoting when needed.
void WriteCsvField(std::ostream& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out << v;
    return;
  }
  out << '"';
  for (char c : v) {
    if (c == '"') out << '"';
    out << c;
  }
  out << '"';
}

// Why a "lon,lat" pair is unusable, or "" when it is fine (then *x, *y are set).
std::string ParsePoint(std::string_view lon, std::string_view lat, double* x, double* y) {
  auto a = ParseCoord(lon);
  if (!a) return "longitude '" + std::string(lon) + "' is not a number";
  auto b = ParseCoord(lat);
  if (!b) return "latitude '" + std::string(lat) + "' is not a number";
  if (auto bad = GeoIndex::CheckCoordinates(*a, *b)) return *bad;
  *x = *a;
  *y = *b;
  return "";
}

}  // namespace

int RunGeoCheck(const std::string& layers_file, std::ostream& out, std::ostream& err) {
  auto index = GeoIndex::Load(layers_file);
  if (!index.ok()) {
    err << "weir geo check: " << index.status().message() << "\n";
    return 2;
  }
  size_t rejected = 0;
  for (const LayerStats& s : (*index)->layer_stats()) {
    out << "layer " << s.name << " (" << s.file << "): " << s.polygons << " polygons, "
        << s.vertices << " vertices, " << s.invalid << " invalid (" << s.repaired << " repaired, "
        << s.rejected << " rejected); index " << s.index_nodes << " cells, " << s.boundary_leaves
        << " boundary cells\n";
    rejected += s.rejected;
  }
  for (const GeometryIssue& i : (*index)->issues()) out << "  " << i.ToString() << "\n";
  out << "output columns:";
  for (const auto& c : (*index)->output_columns()) out << " " << c;
  out << "\n";
  return rejected > 0 ? 1 : 0;
}

int RunGeoLookupPoint(const std::string& layers_file, const std::string& lon,
                      const std::string& lat, std::ostream& out, std::ostream& err) {
  double x = 0, y = 0;
  std::string bad = ParsePoint(lon, lat, &x, &y);
  if (!bad.empty()) {
    err << "weir geo lookup: " << bad << "\n";
    return 2;
  }
  auto index = GeoIndex::Load(layers_file);
  if (!index.ok()) {
    err << "weir geo lookup: " << index.status().message() << "\n";
    return 2;
  }
  std::vector<const std::string*> values;
  (void)(*index)->Lookup(x, y, &values);
  const auto& cols = (*index)->output_columns();
  for (size_t c = 0; c < cols.size(); ++c) {
    out << cols[c] << "=" << (values[c] != nullptr ? *values[c] : std::string("NULL")) << "\n";
  }
  return 0;
}

int RunGeoLookupPoints(const std::string& layers_file, std::istream& points, std::ostream& out,
                       std::ostream& err, bool fail_on_invalid) {
  auto loaded = GeoIndex::Load(layers_file);
  if (!loaded.ok()) {
    err << "weir geo lookup: " << loaded.status().message() << "\n";
    return 2;
  }
  const GeoIndex& index = **loaded;
  const auto& cols = index.output_columns();
  out << "lon,lat";
  for (const auto& c : cols) {
    out << ",";
    WriteCsvField(out, c);
  }
  out << "\n";
  std::string line;
  std::vector<const std::string*> values;
  int64_t line_no = 0;
  size_t invalid = 0;
  while (std::getline(points, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string_view lv(line);
    size_t comma = lv.find(',');
    std::string_view lon = comma == std::string_view::npos ? lv : lv.substr(0, comma);
    std::string_view lat =
        comma == std::string_view::npos ? std::string_view() : lv.substr(comma + 1);
    double x = 0, y = 0;
    std::string bad =
        comma == std::string_view::npos ? "expected lon,lat" : ParsePoint(lon, lat, &x, &y);
    if (bad.empty() && lat.find(',') != std::string_view::npos) bad = "more than two fields";
    WriteCsvField(out, lon);
    out << ",";
    WriteCsvField(out, lat);
    if (!bad.empty()) {
      if (fail_on_invalid) {
        out << std::string(cols.size(), ',') << "\n";
        err << "weir geo lookup: line " << line_no << ": " << bad << "\n";
        return 1;
      }
      ++invalid;
      if (invalid <= 10) err << "weir geo lookup: line " << line_no << ": " << bad << " (NULL)\n";
      out << std::string(cols.size(), ',') << "\n";
      continue;
    }
    (void)index.Lookup(x, y, &values);
    for (const std::string* v : values) {
      out << ",";
      if (v != nullptr) WriteCsvField(out, *v);
    }
    out << "\n";
  }
  if (invalid > 10) err << "weir geo lookup: " << invalid << " lines with invalid coordinates\n";
  return 0;
}

}  // namespace weir::geo
