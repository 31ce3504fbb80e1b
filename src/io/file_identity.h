// What an input file was when a task read it, so that weir notices when it changes afterwards:
// size, modification time, and a fingerprint of its first and last 64 KiB (raw bytes, before any
// decompression). Comparing a recorded identity with the file as it is now tells whether it is
// the same, has grown by appended bytes (a growing log: the old bytes are unchanged), or was
// rewritten or cut (old bytes differ or are gone).
//
// Stateless functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weir/status.h"

namespace weir {

struct FileIdentity {
  std::string path;        // the file as resolved when it was read
  uint64_t size = 0;       // raw bytes covered by the fingerprint
  int64_t mtime_ns = 0;    // modification time when recorded
  uint64_t fingerprint = 0;
};

enum class FileChange {
  kSame,       // same bytes as recorded (the mtime alone may have moved)
  kAppended,   // the recorded bytes are unchanged and more follow them
  kRewritten,  // the recorded bytes differ
  kTruncated,  // the file is shorter than what was recorded
  kMissing,    // the file is gone or unreadable
};
const char* FileChangeName(FileChange c);  // "same", "appended", "rewritten", "truncated", "missing"

// Identity of the file as it is now, covering its first `size` bytes (all of it when `size` is
// UINT64_MAX, the default). Covering only what was read matters for a file that grows while it
// is read: bytes appended after the reader's end of file are not claimed as read.
Result<FileIdentity> IdentifyFile(const std::string& path, uint64_t size = UINT64_MAX);

struct FileComparison {
  FileChange change = FileChange::kSame;
  uint64_t recorded_size = 0, current_size = 0;
  std::string detail;  // "12,345 bytes appended", "rewritten (size 100 -> 80)", ...
};
// Compares the file at `path` with what was recorded. Reads at most 128 KiB, and nothing when
// size and modification time are unchanged.
FileComparison CompareFile(const std::string& path, const FileIdentity& recorded);

// The per-task form stored with the task: a JSON array, one identity per input file (one for
// single-file tasks, one per file type for multi-file readers).
std::string FileIdentitiesToJson(const std::vector<FileIdentity>& ids);
// Empty vector for empty or unreadable text (an identity that was never recorded).
std::vector<FileIdentity> FileIdentitiesFromJson(const std::string& json);

}  // namespace weir
