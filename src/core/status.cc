#include "weir/status.h"

namespace weir {

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: name = "invalid argument"; break;
    case StatusCode::kNotFound: name = "not found"; break;
    case StatusCode::kIOError: name = "I/O error"; break;
    case StatusCode::kCorruption: name = "corruption"; break;
    case StatusCode::kAborted: name = "aborted"; break;
    case StatusCode::kInternal: name = "internal error"; break;
  }
  return std::string(name) + ": " + msg_;
}

}  // namespace weir
