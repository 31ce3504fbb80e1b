// weir/status.h: the error type of every fallible weir call.
//
// Status is a value: OK, or a code plus a message that says what went wrong and where (file,
// byte offset, config key). `retryable()` tells the caller whether the same operation may succeed
// when tried again (a transient I/O failure) or never will (a malformed record, a bad config).
// Result<T> carries either a T or a non-OK Status. Both are [[nodiscard]]: ignoring an error is a
// compile error under -Werror.
//
// Thread-safety: plain values; distinct objects may be used from different threads freely.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace weir {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input data or bad config; not retryable
  kNotFound,         // a file, task or key that does not exist
  kIOError,          // the OS or a remote server failed; usually retryable
  kCorruption,       // stored state that does not make sense
  kAborted,          // stopped on request (signal, cancellation)
  kInternal,         // a weir bug
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status OK() { return Status(); }
  static Status Invalid(std::string msg) { return Status(StatusCode::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status IOError(std::string msg, bool retryable = true) {
    return Status(StatusCode::kIOError, std::move(msg), retryable);
  }
  static Status Corruption(std::string msg) { return Status(StatusCode::kCorruption, std::move(msg)); }
  static Status Aborted(std::string msg) { return Status(StatusCode::kAborted, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }

  Status(StatusCode code, std::string msg, bool retryable = false)
      : code_(code), msg_(std::move(msg)), retryable_(retryable) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return msg_; }
  bool retryable() const { return retryable_; }
  // "code: message", or "OK".
  std::string ToString() const;
  // Prefixes context ("reading data/a.jsonl: ") to the message, keeping code and retryability.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + msg_, retryable_);
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string msg_;
  bool retryable_ = false;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace weir

#define WEIR_CONCAT_INNER(a, b) a##b
#define WEIR_CONCAT(a, b) WEIR_CONCAT_INNER(a, b)

// Returns the status from the enclosing function when it is not OK.
#define WEIR_RETURN_IF_ERROR(expr)            \
  do {                                        \
    ::weir::Status _weir_st = (expr);         \
    if (!_weir_st.ok()) return _weir_st;      \
  } while (0)

// `WEIR_ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a Result or returns its error.
// __COUNTER__ (not __LINE__) names the temporary, so a call may span several lines.
#define WEIR_ASSIGN_OR_RETURN(lhs, rexpr) WEIR_ASSIGN_OR_RETURN_IMPL(WEIR_CONCAT(_weir_r_, __COUNTER__), lhs, rexpr)
#define WEIR_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                               \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
