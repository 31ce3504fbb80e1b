// Sequential input over a local file, decompressing gzip (.gz) and zstd (.zst) transparently by
// extension. Offsets everywhere in weir are offsets in the *decompressed* byte stream, so error
// records and checkpoints mean the same thing for plain and compressed inputs.
//
// Ownership: an InputStream owns its file descriptor and codec state. Thread-safety: none; one
// task reads one stream.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "weir/status.h"

namespace weir {

class InputStream {
 public:
  virtual ~InputStream() = default;
  // Reads up to n decompressed bytes; returns 0 only at end of stream.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
  // Positions the stream at decompressed offset `offset` (forward from the start; compressed
  // streams decompress and discard, plain files seek).
  virtual Status SkipTo(uint64_t offset) = 0;
  // Bytes of the underlying file consumed so far (compressed bytes for compressed input): what
  // progress reporting compares with the file size.
  virtual uint64_t raw_bytes_read() const = 0;
  // Size of the underlying file.
  virtual uint64_t raw_size() const = 0;
};

enum class Codec { kNone, kGzip, kZstd };
Codec CodecForPath(const std::string& path);

// Opens `path`; NotFound when it does not exist, IOError (not retryable) when unreadable, when
// it is not a regular file (a FIFO, device, socket or folder: "is a FIFO, not a regular file";
// never blocks in open()) or when the path cannot resolve (symlink loop, ENOTDIR, ENAMETOOLONG).
// Every error of the stream names `path`, so callers need not add it again.
// gzip input may hold several members; zero bytes after the last one are ignored (as GNU gzip
// does), any other trailing bytes are a Corruption error.
Result<std::unique_ptr<InputStream>> OpenInput(const std::string& path);

// How many inputs OpenInput() has opened in this process (all threads): lets tests prove that
// a code path reads each file once rather than once per record.
uint64_t InputsOpened();

}  // namespace weir
