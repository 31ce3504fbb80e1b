// OutputFile: a buffered, optionally compressed (gzip or zstd) file writer for generated data.
//
// Open() creates or truncates the file; Append() buffers bytes and compresses/writes them in
// large chunks; Close() flushes the codec's trailer and the OS file and reports any error. The
// object owns its FILE* and codec state; the destructor closes without reporting (call Close()).
// Output is deterministic for the same input bytes and codec (gzip level 1, zstd level 3).
// Thread-safety: none; one thread owns an OutputFile (distinct files may be written from distinct
// threads).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "weir/status.h"

namespace weir::gen {

enum class Codec { kNone, kGzip, kZstd };

// "" -> kNone, "gz"/"gzip" -> kGzip, "zst"/"zstd" -> kZstd.
Result<Codec> ParseCodec(std::string_view name);
// File name suffix: "", ".gz" or ".zst".
const char* CodecSuffix(Codec codec);

class OutputFile {
 public:
  OutputFile();
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  Status Open(const std::string& path, Codec codec);
  Status Append(std::string_view bytes);
  Status Close();

  uint64_t raw_bytes() const { return raw_bytes_; }
  uint64_t written_bytes() const { return written_bytes_; }

 private:
  struct CodecState;
  Status Flush(bool finish);
  Status WriteOut(const char* data, size_t n);

  std::string path_;
  Codec codec_ = Codec::kNone;
  std::FILE* file_ = nullptr;
  std::unique_ptr<CodecState> state_;
  std::string buffer_;
  std::string out_;
  uint64_t raw_bytes_ = 0;
  uint64_t written_bytes_ = 0;
};

}  // namespace weir::gen
