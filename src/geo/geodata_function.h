// The SQL function geodata(lon, lat) for `weir query`: a DuckDB scalar function, registered
// through DuckDB's C API, that returns STRUCT(<output columns> VARCHAR, ...) for a point, so that
// `SELECT geodata(longitude, latitude).country FROM t` works.
//
// NULL, NaN or out-of-range coordinates give a NULL struct; a point in no polygon of a layer gives
// NULL fields for that layer. Arguments are DOUBLE (DuckDB casts integers and decimals).
//
// Ownership: the registered function keeps its own reference to the index until the database
// drops it. Thread-safety: DuckDB may call the function from several threads at once; GeoIndex
// lookups are lock-free and thread-safe.
#pragma once

#include <duckdb.h>

#include <memory>
#include <string>

#include "geo/geo_index.h"
#include "weir/status.h"

namespace weir::geo {

Status RegisterGeodataFunction(duckdb_connection con, std::shared_ptr<const GeoIndex> index,
                               const std::string& name = "geodata");

}  // namespace weir::geo
