// Small RAII helpers over the reentrant GEOS C API (geos_c.h, `_r` functions).
//
// GEOS geometries are not tied to the context that created them (all contexts share GEOS's default
// geometry factory), so a geometry built at load time in one context may be read from any thread
// using that thread's own context. A context holds the last error message, so it must not be
// shared between threads: ThreadGeosContext() hands each thread its own.
//
// Thread-safety: ThreadGeosContext() is safe from any thread; GeosContext and GeomPtr objects
// belong to one thread at a time.
#pragma once

#define GEOS_USE_ONLY_R_API
#include <geos_c.h>

#include <memory>
#include <string>

namespace weir::geo {

// Owns one GEOS context and remembers the last error/notice GEOS reported through it.
class GeosContext {
 public:
  GeosContext();
  ~GeosContext();
  GeosContext(const GeosContext&) = delete;
  GeosContext& operator=(const GeosContext&) = delete;

  GEOSContextHandle_t get() const { return handle_; }
  // The last error message GEOS reported on this context ("" if none); cleared by ClearError().
  const std::string& last_error() const { return last_error_; }
  void ClearError() { last_error_.clear(); }

 private:
  static void OnError(const char* message, void* userdata);
  GEOSContextHandle_t handle_;
  std::string last_error_;
};

// The calling thread's context, created on first use and finished when the thread exits.
GeosContext& ThreadGeosContext();

// Deleter that destroys a geometry through the context it was given.
struct GeomDeleter {
  GEOSContextHandle_t ctx = nullptr;
  void operator()(GEOSGeometry* g) const {
    if (g != nullptr) GEOSGeom_destroy_r(ctx, g);
  }
};
using GeomPtr = std::unique_ptr<GEOSGeometry, GeomDeleter>;

inline GeomPtr MakeGeom(GEOSContextHandle_t ctx, GEOSGeometry* g) {
  return GeomPtr(g, GeomDeleter{ctx});
}

}  // namespace weir::geo
