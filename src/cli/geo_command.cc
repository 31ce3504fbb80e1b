// `weir geo check LAYERS_FILE` and `weir geo lookup LAYERS_FILE (LON LAT | --points FILE)`.
// Thin argument parsing over src/geo/geo_tool.h.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "geo/geo_tool.h"

namespace weir::cli {

void AddGeoCommand(CLI::App& app, int& exit_code) {
  CLI::App* geo = app.add_subcommand("geo", "Geo enrichment layers: validate them, look points up");
  geo->require_subcommand(1);

  CLI::App* check = geo->add_subcommand(
      "check", "Validate a layers file; print polygon, vertex and invalid-geometry counts");
  auto check_file = std::make_shared<std::string>();  // shared with the callback below
  check->add_option("LAYERS_FILE", *check_file, "Layers YAML file")->required();
  check->callback([check_file, &exit_code] {
    exit_code = weir::geo::RunGeoCheck(*check_file, std::cout, std::cerr);
  });

  struct LookupArgs {
    std::string layers, lon, lat, points;
    bool fail_on_invalid = false;
  };
  auto args = std::make_shared<LookupArgs>();
  CLI::App* lookup = geo->add_subcommand(
      "lookup",
      "Look up one point (LON LAT, longitude first; use -- before a negative longitude) or a file "
      "of lon,lat lines (--points); prints the attributes of the polygons containing it");
  lookup->add_option("LAYERS_FILE", args->layers, "Layers YAML file")->required();
  lookup->add_option("LON", args->lon, "Longitude (x), degrees");
  lookup->add_option("LAT", args->lat, "Latitude (y), degrees");
  lookup->add_option("--points", args->points,
                     "File of lon,lat lines without header ('-' for stdin); writes CSV to stdout");
  lookup->add_flag("--fail-on-invalid", args->fail_on_invalid,
                   "With --points: stop at the first line with invalid coordinates (exit 1) "
                   "instead of writing NULLs");
  lookup->callback([args, &exit_code] {
    if (!args->points.empty()) {
      if (!args->lon.empty()) {
        std::cerr << "weir geo lookup: give either LON LAT or --points, not both\n";
        exit_code = 2;
        return;
      }
      if (args->points == "-") {
        exit_code = weir::geo::RunGeoLookupPoints(args->layers, std::cin, std::cout, std::cerr,
                                                  args->fail_on_invalid);
        return;
      }
      std::ifstream in(args->points);
      if (!in) {
        std::cerr << "weir geo lookup: cannot open " << args->points << "\n";
        exit_code = 2;
        return;
      }
      exit_code = weir::geo::RunGeoLookupPoints(args->layers, in, std::cout, std::cerr,
                                                args->fail_on_invalid);
      return;
    }
    if (args->lon.empty() || args->lat.empty()) {
      std::cerr << "weir geo lookup: give LON LAT or --points FILE\n";
      exit_code = 2;
      return;
    }
    exit_code =
        weir::geo::RunGeoLookupPoint(args->layers, args->lon, args->lat, std::cout, std::cerr);
  });
}

}  // namespace weir::cli
