#include "geo/geos_util.h"

namespace weir::geo {

GeosContext::GeosContext() : handle_(GEOS_init_r()) {
  GEOSContext_setErrorMessageHandler_r(handle_, &GeosContext::OnError, this);
}

GeosContext::~GeosContext() { GEOS_finish_r(handle_); }

void GeosContext::OnError(const char* message, void* userdata) {
  static_cast<GeosContext*>(userdata)->last_error_ = message != nullptr ? message : "";
}

GeosContext& ThreadGeosContext() {
  thread_local GeosContext ctx;
  return ctx;
}

}  // namespace weir::geo
