// Small filesystem helpers with Status errors, shared by the lake publisher, the error sink and
// the store. All functions are thread-safe (they hold no state).
//
// Object storage: where a path is an s3:// URL (the lake and error records on S3), WriteFile,
// ReadFile, RemoveFile, RemoveTree, Exists, FileSize and the listings act on objects of the
// process's default storage (io/s3_client.h, DefaultClient). CreateDirs and SyncFilesystem do
// nothing there (S3 has no folders, and an object is durable once its PUT returned). S3 has no
// rename: Rename from a local file to an s3:// URL uploads the file and then removes it, which is
// NOT atomic for readers of the prefix; the commit protocol therefore never renames into S3 and
// gives objects their final, unique names before the commit (exec/worker_output.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir::fs {

// The Status for a failed system call `what` on `path` with errno `err`: NotFound for ENOENT;
// otherwise IOError, retryable only when retrying could help (EIO, EAGAIN, ...). Errors about the
// path itself (ELOOP "symlink loop", ENOTDIR, EISDIR, ENAMETOOLONG) and about permissions (EACCES,
// EPERM, EROFS) are permanent: a retry would fail the same way.
Status ErrnoStatus(const std::string& what, const std::string& path, int err);

// Why `path` cannot be read as an input file, from stat(2) (symlinks followed): OK for a regular
// file; NotFound when it does not exist; otherwise a permanent error naming the reason ("is a
// FIFO, not a regular file", "symlink loop", ...). Never opens the file, so it never blocks.
Status CheckRegularFile(const std::string& path);

// "a FIFO", "a folder", "a socket", "a character device", "a block device" or "a special file"
// for a st_mode that is not a regular file.
std::string NonRegularKind(unsigned mode);

// std::filesystem::create_directories that starts again when a folder on the way vanishes
// (PruneEmptyFolders in another process removed it): a pruner passes once, so a retry or two
// suffices.
Status CreateDirs(const std::string& dir);
// Removes the empty folders below `root` (not `root` itself), deepest first, in one pass. Safe
// beside writers: CreateDirs and Rename start again when a folder they made is pruned.
// Local paths only (S3 has no folders); errors are ignored, a folder left behind is harmless.
void PruneEmptyFolders(const std::string& root);
// Writes `data` to `path` (created/truncated) with one write loop. No fsync: the commit protocol
// makes data durable in bulk with SyncFilesystem() before recording a commit.
Status WriteFile(const std::string& path, std::string_view data);
Result<std::string> ReadFile(const std::string& path);
// rename(2), creating the destination's folder first. Atomic on one filesystem.
Status Rename(const std::string& from, const std::string& to);
// Removes a file; a missing file is not an error.
Status RemoveFile(const std::string& path);
Status RemoveTree(const std::string& path);
// An s3:// path exists when it is an object or a non-empty prefix ("folder"). An S3 error other
// than "not found" answers true: callers use Exists to avoid overwriting or to skip work, and
// a false "gone" is the dangerous answer.
bool Exists(const std::string& path);
Result<uint64_t> FileSize(const std::string& path);
// Makes everything written so far on the filesystem holding `path` durable (syncfs(2)): one call
// per commit instead of one fsync per small file.
Status SyncFilesystem(const std::string& path);
// Files (not folders) under `dir`, recursively, as paths relative to `dir`, sorted.
Result<std::vector<std::string>> ListFilesRecursive(const std::string& dir);
// The same with each file's size and modification time (an object's LastModified).
struct FileInfo {
  std::string rel;
  uint64_t size = 0;
  int64_t mtime_s = 0;
};
Result<std::vector<FileInfo>> ListFilesWithInfo(const std::string& dir);

// True for an s3:// URL: a path the local file system does not hold.
bool IsRemote(const std::string& path);

// An input named by `entry` (a manifest line, or a path a reader resolved) against the dataset's
// `location`: an absolute path stays as it is, an s3:// URL is normalised; anything else is
// joined to `location`, a folder or an s3://bucket/prefix. Lexically normal: "./a" is "a", and
// ".." never climbs above an s3:// URL's bucket.
std::string ResolveInput(const std::string& location, const std::string& entry);

}  // namespace weir::fs
