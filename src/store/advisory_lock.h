// store/advisory_lock.h: a PostgreSQL session-level advisory lock, held on a connection of its
// own, for locks that must hold across machines (the dataset lock with a PostgreSQL store,
// exec/runner.h DatasetLock). The lock is the session's: it is released when the object is
// destroyed, and also when the connection ends (the process dies, or the server restarts; the
// holder is not told, so such a lock keeps concurrent runs apart in the normal case, and the
// commit protocol's own checks keep the store consistent when it did not).
//
// Ownership: owns its connection. Thread-safety: none.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "weir/status.h"

namespace weir {

class AdvisoryLock {
 public:
  enum class Mode { kExclusive, kShared };

  // Takes the lock `key` on the server at `url` without waiting: kAborted when another session
  // holds it in a conflicting mode; IOError when the server cannot be reached.
  static Result<std::unique_ptr<AdvisoryLock>> Try(const std::string& url, int64_t key, Mode mode);
  // Exclusive -> shared, with no moment at which the lock is free.
  Status Share();
  ~AdvisoryLock();
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  struct Conn;
  AdvisoryLock(std::unique_ptr<Conn> conn, int64_t key, Mode mode);

  std::unique_ptr<Conn> conn_;
  int64_t key_;
  Mode mode_;
};

// A stable 64-bit lock key for `name` (FNV-1a), e.g. "weir-dataset:clickstream".
int64_t AdvisoryLockKey(std::string_view name);

}  // namespace weir
