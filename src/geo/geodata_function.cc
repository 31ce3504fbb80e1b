#include "geo/geodata_function.h"

#include <vector>

namespace weir::geo {
namespace {

struct FunctionState {
  std::shared_ptr<const GeoIndex> index;
};

void DestroyState(void* p) { delete static_cast<FunctionState*>(p); }

void SetNull(duckdb_vector v, idx_t row) {
  duckdb_vector_ensure_validity_writable(v);
  duckdb_validity_set_row_invalid(duckdb_vector_get_validity(v), row);
}

// Never throws: errors go back through duckdb_scalar_function_set_error.
void GeodataFunction(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  const auto* state =
      static_cast<const FunctionState*>(duckdb_scalar_function_get_extra_info(info));
  const GeoIndex& index = *state->index;
  const idx_t n = duckdb_data_chunk_get_size(input);
  duckdb_vector lon_v = duckdb_data_chunk_get_vector(input, 0);
  duckdb_vector lat_v = duckdb_data_chunk_get_vector(input, 1);
  const auto* lon = static_cast<const double*>(duckdb_vector_get_data(lon_v));
  const auto* lat = static_cast<const double*>(duckdb_vector_get_data(lat_v));
  uint64_t* lon_valid = duckdb_vector_get_validity(lon_v);
  uint64_t* lat_valid = duckdb_vector_get_validity(lat_v);
  const size_t ncols = index.output_columns().size();
  std::vector<duckdb_vector> children(ncols);
  for (size_t c = 0; c < ncols; ++c) children[c] = duckdb_struct_vector_get_child(output, c);
  std::vector<const std::string*> values;
  for (idx_t i = 0; i < n; ++i) {
    const bool present = (lon_valid == nullptr || duckdb_validity_row_is_valid(lon_valid, i)) &&
                         (lat_valid == nullptr || duckdb_validity_row_is_valid(lat_valid, i));
    if (!present || !index.Lookup(lon[i], lat[i], &values)) {
      SetNull(output, i);
      for (duckdb_vector child : children) SetNull(child, i);
      continue;
    }
    for (size_t c = 0; c < ncols; ++c) {
      if (values[c] == nullptr) {
        SetNull(children[c], i);
      } else {
        duckdb_vector_assign_string_element_len(children[c], i, values[c]->data(),
                                                values[c]->size());
      }
    }
  }
}

}  // namespace

Status RegisterGeodataFunction(duckdb_connection con, std::shared_ptr<const GeoIndex> index,
                               const std::string& name) {
  if (index == nullptr) return Status::Invalid("geodata: no geo index");
  const auto& cols = index->output_columns();
  duckdb_logical_type varchar = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
  duckdb_logical_type dbl = duckdb_create_logical_type(DUCKDB_TYPE_DOUBLE);
  std::vector<duckdb_logical_type> member_types(cols.size(), varchar);
  std::vector<const char*> member_names;
  for (const auto& c : cols) member_names.push_back(c.c_str());
  duckdb_logical_type ret = duckdb_create_struct_type(member_types.data(), member_names.data(),
                                                      static_cast<idx_t>(cols.size()));
  duckdb_scalar_function fn = duckdb_create_scalar_function();
  duckdb_scalar_function_set_name(fn, name.c_str());
  duckdb_scalar_function_add_parameter(fn, dbl);
  duckdb_scalar_function_add_parameter(fn, dbl);
  duckdb_scalar_function_set_return_type(fn, ret);
  // We produce the NULLs ourselves (and want NULL in -> NULL struct out, not an error).
  duckdb_scalar_function_set_special_handling(fn);
  duckdb_scalar_function_set_function(fn, &GeodataFunction);
  duckdb_scalar_function_set_extra_info(fn, new FunctionState{std::move(index)}, &DestroyState);
  duckdb_state st = duckdb_register_scalar_function(con, fn);
  duckdb_destroy_scalar_function(&fn);
  duckdb_destroy_logical_type(&ret);
  duckdb_destroy_logical_type(&dbl);
  duckdb_destroy_logical_type(&varchar);
  if (st != DuckDBSuccess) {
    return Status::Invalid("cannot register SQL function " + name +
                           " (a function of that name may already exist)");
  }
  return Status::OK();
}

}  // namespace weir::geo
