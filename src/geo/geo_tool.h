// The logic of `weir geo check` and `weir geo lookup`, kept in the geo library so it can be tested
// without the weir binary; src/cli/geo_command.cc only parses arguments and calls these.
// Each function returns the process exit code (0 ok, 1 bad input data, 2 usage/config error) and
// writes results to `out`, diagnostics to `err`. Thread-safety: none needed (one call per command).
#pragma once

#include <istream>
#include <ostream>
#include <string>

namespace weir::geo {

// Loads and validates a layers file; prints per layer its polygon, vertex and invalid counts and
// every geometry issue (row and reason). Exit code 1 when some geometry was rejected.
int RunGeoCheck(const std::string& layers_file, std::ostream& out, std::ostream& err);

// Prints `column=value` lines (NULL for no value) for one point, in output-column order.
int RunGeoLookupPoint(const std::string& layers_file, const std::string& lon,
                      const std::string& lat, std::ostream& out, std::ostream& err);

// Reads `lon,lat` lines (no header) from `points` and writes CSV with the header
// `lon,lat,<output columns>` and one row per input line, in order. lon/lat are echoed as read.
// A line whose coordinates are missing, not numbers or out of range gets empty (NULL) outputs and
// a warning on `err`; with fail_on_invalid the command stops there with exit code 1 instead.
int RunGeoLookupPoints(const std::string& layers_file, std::istream& points, std::ostream& out,
                       std::ostream& err, bool fail_on_invalid);

}  // namespace weir::geo
