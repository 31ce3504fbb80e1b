#include "geo/layers_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace weir::geo {
namespace {

namespace fs = std::filesystem;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError("error reading " + path);
  return ss.str();
}

// "geo.yaml:7: " prefix for messages about a YAML node.
std::string At(const std::string& path, const YAML::Node& node) {
  int line = node.Mark().line;
  return line >= 0 ? path + ":" + std::to_string(line + 1) + ": " : path + ": ";
}

Status UnknownKey(const std::string& path, const YAML::Node& key, const std::string& where,
                  const std::vector<std::string>& known) {
  std::string k = key.Scalar();
  std::string msg = At(path, key) + where + ": unknown key '" + k + "'";
  std::string near = ClosestWord(k, known);
  if (!near.empty()) msg += " (did you mean '" + near + "'?)";
  msg += "; known keys:";
  for (const auto& w : known) msg += " " + w;
  return Status::Invalid(msg);
}

Result<std::string> ScalarString(const std::string& path, const YAML::Node& node,
                                 const std::string& what) {
  if (!node.IsScalar()) return Status::Invalid(At(path, node) + what + ": expected a string");
  return node.Scalar();
}

Result<LayerConfig> ParseLayer(const std::string& path, const YAML::Node& node, size_t index) {
  const std::string where = "layers[" + std::to_string(index) + "]";
  if (!node.IsMap()) return Status::Invalid(At(path, node) + where + ": expected a mapping");
  static const std::vector<std::string> kKeys = {
      "name", "file", "format", "geometry_column", "attributes", "invalid_geometry"};
  LayerConfig layer;
  layer.line = node.Mark().line + 1;
  bool have_format = false;
  bool have_geometry_column = false;
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "name") {
      WEIR_ASSIGN_OR_RETURN(layer.name, ScalarString(path, v, where + ".name"));
    } else if (key == "file") {
      WEIR_ASSIGN_OR_RETURN(layer.file_as_written, ScalarString(path, v, where + ".file"));
    } else if (key == "format") {
      WEIR_ASSIGN_OR_RETURN(std::string f, ScalarString(path, v, where + ".format"));
      if (f == "csv") {
        layer.format = LayerFormat::kCsv;
      } else if (f == "geojson") {
        layer.format = LayerFormat::kGeoJson;
      } else {
        return Status::Invalid(At(path, v) + where + ".format: '" + f +
                               "' is not one of: csv, geojson");
      }
      have_format = true;
    } else if (key == "geometry_column") {
      WEIR_ASSIGN_OR_RETURN(layer.geometry_column,
                            ScalarString(path, v, where + ".geometry_column"));
      have_geometry_column = true;
    } else if (key == "invalid_geometry") {
      WEIR_ASSIGN_OR_RETURN(std::string a, ScalarString(path, v, where + ".invalid_geometry"));
      if (a == "repair") {
        layer.on_invalid = InvalidGeometryAction::kRepair;
      } else if (a == "reject") {
        layer.on_invalid = InvalidGeometryAction::kReject;
      } else if (a == "fail") {
        layer.on_invalid = InvalidGeometryAction::kFail;
      } else {
        return Status::Invalid(At(path, v) + where + ".invalid_geometry: '" + a +
                               "' is not one of: repair, reject, fail");
      }
    } else if (key == "attributes") {
      if (!v.IsMap() || v.size() == 0) {
        return Status::Invalid(At(path, v) + where +
                               ".attributes: expected a non-empty mapping output_column: source");
      }
      for (const auto& a : v) {
        if (!a.second.IsScalar()) {
          return Status::Invalid(At(path, a.second) + where + ".attributes." + a.first.Scalar() +
                                 ": expected the name of a source column/property");
        }
        layer.attributes.emplace_back(a.first.Scalar(), a.second.Scalar());
      }
    } else {
      return UnknownKey(path, kv.first, where, kKeys);
    }
  }
  if (layer.name.empty()) return Status::Invalid(At(path, node) + where + ": missing key 'name'");
  if (layer.file_as_written.empty()) {
    return Status::Invalid(At(path, node) + where + " (" + layer.name + "): missing key 'file'");
  }
  if (layer.attributes.empty()) {
    return Status::Invalid(At(path, node) + where + " (" + layer.name +
                           "): missing key 'attributes'");
  }
  fs::path f(layer.file_as_written);
  if (f.is_relative()) f = fs::path(path).parent_path() / f;
  layer.file = f.lexically_normal().string();
  if (!have_format) {
    std::string lf = Lower(layer.file);
    if (EndsWith(lf, ".csv")) {
      layer.format = LayerFormat::kCsv;
    } else if (EndsWith(lf, ".geojson") || EndsWith(lf, ".json")) {
      layer.format = LayerFormat::kGeoJson;
    } else {
      return Status::Invalid(At(path, node) + where + " (" + layer.name +
                             "): cannot tell the format of '" + layer.file_as_written +
                             "' from its extension; add format: csv or format: geojson");
    }
  }
  if (have_geometry_column && layer.format != LayerFormat::kCsv) {
    return Status::Invalid(At(path, node) + where + " (" + layer.name +
                           "): geometry_column applies to CSV layers only");
  }
  return layer;
}

// Attribute text of a GeoJSON property value; nullopt for JSON null.
std::optional<std::string> PropertyText(const nlohmann::json& v) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return v.dump();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
      return std::to_string(static_cast<int64_t>(d));
    }
    return v.dump();
  }
  return v.dump();
}

Result<std::vector<RawFeature>> ReadCsvLayer(const LayerConfig& layer, GeosContext& ctx) {
  WEIR_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(layer.file));
  std::vector<std::vector<std::string>> records;
  std::vector<int64_t> lines;
  WEIR_RETURN_IF_ERROR(ParseCsv(text, &records, &lines).WithContext(layer.file));
  if (records.empty()) return Status::Invalid(layer.file + ": empty CSV file (a header is needed)");
  const auto& header = records[0];
  auto find_col = [&](const std::string& name, bool ci) -> int {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name || (ci && Lower(header[i]) == Lower(name))) return static_cast<int>(i);
    }
    return -1;
  };
  auto columns_list = [&]() {
    std::string s;
    for (const auto& h : header) s += (s.empty() ? "" : ", ") + h;
    return s;
  };
  int geom_col = find_col(layer.geometry_column, true);
  if (geom_col < 0) {
    return Status::Invalid(layer.file + " line 1: geometry column '" + layer.geometry_column +
                           "' is not in the header (columns: " + columns_list() + ")");
  }
  std::vector<int> attr_cols;
  for (const auto& [out, src] : layer.attributes) {
    int c = find_col(src, false);
    if (c < 0) {
      std::string near = ClosestWord(src, header);
      return Status::Invalid(layer.file + " line 1: attribute '" + out + "' reads column '" + src +
                             "', which is not in the header" +
                             (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                             " (columns: " + columns_list() + ")");
    }
    attr_cols.push_back(c);
  }
  std::unique_ptr<GEOSWKTReader, void (*)(GEOSWKTReader*)> reader(
      GEOSWKTReader_create_r(ctx.get()),
      [](GEOSWKTReader* r) { GEOSWKTReader_destroy_r(ThreadGeosContext().get(), r); });
  std::vector<RawFeature> out;
  out.reserve(records.size() - 1);
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    if (rec.size() == 1 && rec[0].empty()) continue;  // blank line
    if (rec.size() != header.size()) {
      return Status::Invalid(layer.file + " line " + std::to_string(lines[r]) + ": " +
                             std::to_string(rec.size()) + " fields, the header has " +
                             std::to_string(header.size()));
    }
    RawFeature f;
    f.row = static_cast<int64_t>(r);
    f.line = lines[r];
    ctx.ClearError();
    GEOSGeometry* g = GEOSWKTReader_read_r(ctx.get(), reader.get(), rec[geom_col].c_str());
    if (g == nullptr) {
      f.parse_error = "cannot parse WKT: " + ctx.last_error();
    } else {
      f.geom = MakeGeom(ctx.get(), g);
    }
    for (int c : attr_cols) f.attrs.emplace_back(rec[c]);
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::vector<RawFeature>> ReadGeoJsonLayer(const LayerConfig& layer, GeosContext& ctx) {
  WEIR_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(layer.file));
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::Invalid(layer.file + ": not valid JSON");
  if (!doc.is_object() || !doc.contains("type") || doc["type"] != "FeatureCollection" ||
      !doc.contains("features") || !doc["features"].is_array()) {
    return Status::Invalid(layer.file + ": expected a GeoJSON FeatureCollection with 'features'");
  }
  std::unique_ptr<GEOSGeoJSONReader, void (*)(GEOSGeoJSONReader*)> reader(
      GEOSGeoJSONReader_create_r(ctx.get()),
      [](GEOSGeoJSONReader* r) { GEOSGeoJSONReader_destroy_r(ThreadGeosContext().get(), r); });
  std::vector<RawFeature> out;
  const auto& features = doc["features"];
  out.reserve(features.size());
  int64_t n = 0;
  for (const auto& feat : features) {
    ++n;
    const std::string where = layer.file + " feature " + std::to_string(n);
    if (!feat.is_object()) return Status::Invalid(where + ": not a JSON object");
    RawFeature f;
    f.row = n;
    auto git = feat.find("geometry");
    if (git == feat.end() || git->is_null()) {
      f.parse_error = "feature has no geometry";
    } else {
      ctx.ClearError();
      std::string gj = git->dump();
      GEOSGeometry* g = GEOSGeoJSONReader_readGeometry_r(ctx.get(), reader.get(), gj.c_str());
      if (g == nullptr) {
        f.parse_error = "cannot read GeoJSON geometry: " + ctx.last_error();
      } else {
        f.geom = MakeGeom(ctx.get(), g);
      }
    }
    auto pit = feat.find("properties");
    for (const auto& [out_col, src] : layer.attributes) {
      (void)out_col;
      if (pit == feat.end() || !pit->is_object() || !pit->contains(src)) {
        f.attrs.emplace_back(std::nullopt);
      } else {
        f.attrs.push_back(PropertyText((*pit)[src]));
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

std::string ClosestWord(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    // Levenshtein distance, two rows.
    std::vector<size_t> prev(c.size() + 1), cur(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= word.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= c.size(); ++j) {
        size_t sub = prev[j - 1] + (std::tolower(static_cast<unsigned char>(word[i - 1])) ==
                                            std::tolower(static_cast<unsigned char>(c[j - 1]))
                                        ? 0
                                        : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    if (prev[c.size()] < best_d) {
      best_d = prev[c.size()];
      best = c;
    }
  }
  return best;
}

Status ParseCsv(const std::string& text, std::vector<std::vector<std::string>>* records,
                std::vector<int64_t>* lines) {
  size_t i = 0;
  int64_t line = 1;
  const size_t n = text.size();
  if (n >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
      static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF) {
    i = 3;  // UTF-8 byte order mark
  }
  while (i < n) {
    std::vector<std::string> rec;
    lines->push_back(line);
    while (true) {
      std::string field;
      if (i < n && text[i] == '"') {
        const int64_t start_line = line;
        ++i;
        while (true) {
          if (i >= n) {
            return Status::Invalid("line " + std::to_string(start_line) +
                                   ": unterminated quoted field");
          }
          char c = text[i++];
          if (c == '"') {
            if (i < n && text[i] == '"') {
              field.push_back('"');
              ++i;
            } else {
              break;
            }
          } else {
            if (c == '\n') ++line;
            field.push_back(c);
          }
        }
        // Anything between the closing quote and the next separator is kept verbatim.
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
          field.push_back(text[i++]);
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
          field.push_back(text[i++]);
      }
      rec.push_back(std::move(field));
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      break;
    }
    if (i < n && text[i] == '\r') ++i;
    if (i < n && text[i] == '\n') {
      ++i;
      ++line;
    }
    records->push_back(std::move(rec));
  }
  return Status::OK();
}

Result<LayersConfig> ParseLayersConfig(const std::string& path) {
  WEIR_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) return Status::Invalid(path + ": expected a mapping with key 'layers'");
  LayersConfig cfg;
  cfg.path = path;
  YAML::Node layers;
  for (const auto& kv : root) {
    if (kv.first.Scalar() == "layers") {
      layers = kv.second;
    } else {
      return UnknownKey(path, kv.first, "top level", {"layers"});
    }
  }
  if (!layers || !layers.IsSequence() || layers.size() == 0) {
    return Status::Invalid(path + ": 'layers' must be a non-empty list of layers");
  }
  std::set<std::string> names, columns;
  for (size_t i = 0; i < layers.size(); ++i) {
    WEIR_ASSIGN_OR_RETURN(LayerConfig layer, ParseLayer(path, layers[i], i));
    if (!names.insert(layer.name).second) {
      return Status::Invalid(At(path, layers[i]) + "duplicate layer name '" + layer.name + "'");
    }
    for (const auto& [out, src] : layer.attributes) {
      (void)src;
      if (!columns.insert(out).second) {
        return Status::Invalid(At(path, layers[i]) + "layer '" + layer.name + "': output column '" +
                               out + "' is already produced by an earlier layer");
      }
    }
    cfg.layers.push_back(std::move(layer));
  }
  return cfg;
}

Result<std::vector<RawFeature>> ReadLayerFile(const LayerConfig& layer, GeosContext& ctx) {
  if (layer.format == LayerFormat::kCsv) return ReadCsvLayer(layer, ctx);
  return ReadGeoJsonLayer(layer, ctx);
}

}  // namespace weir::geo
