#include "gen/output_file.h"

#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

namespace weir::gen {

namespace {
constexpr size_t kBufferBytes = 4u << 20;
}  // namespace

Result<Codec> ParseCodec(std::string_view name) {
  if (name.empty() || name == "none") return Codec::kNone;
  if (name == "gz" || name == "gzip") return Codec::kGzip;
  if (name == "zst" || name == "zstd") return Codec::kZstd;
  return Status::Invalid("unknown compression '" + std::string(name) +
                         "' (expected gz, zst or nothing)");
}

const char* CodecSuffix(Codec codec) {
  switch (codec) {
    case Codec::kNone:
      return "";
    case Codec::kGzip:
      return ".gz";
    case Codec::kZstd:
      return ".zst";
  }
  return "";
}

struct OutputFile::CodecState {
  z_stream zs{};
  bool zs_init = false;
  ZSTD_CCtx* zstd = nullptr;
  ~CodecState() {
    if (zs_init) deflateEnd(&zs);
    if (zstd != nullptr) ZSTD_freeCCtx(zstd);
  }
};

OutputFile::OutputFile() = default;

OutputFile::~OutputFile() {
  if (file_ != nullptr) std::fclose(file_);
}

Status OutputFile::Open(const std::string& path, Codec codec) {
  path_ = path;
  codec_ = codec;
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) {
    return Status::IOError("cannot create " + path + ": " + std::strerror(errno), false);
  }
  state_ = std::make_unique<CodecState>();
  if (codec == Codec::kGzip) {
    // windowBits 15 + 16: gzip wrapper. Level 1: generated data is for tests and benchmarks,
    // where writing fast matters more than the last 20% of size.
    if (deflateInit2(&state_->zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
      return Status::Internal("deflateInit2 failed for " + path);
    }
    state_->zs_init = true;
  } else if (codec == Codec::kZstd) {
    state_->zstd = ZSTD_createCCtx();
    if (state_->zstd == nullptr) return Status::Internal("ZSTD_createCCtx failed for " + path);
    ZSTD_CCtx_setParameter(state_->zstd, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(state_->zstd, ZSTD_c_checksumFlag, 1);
  }
  buffer_.reserve(kBufferBytes + (64u << 10));
  return Status::OK();
}

Status OutputFile::Append(std::string_view bytes) {
  buffer_.append(bytes);
  raw_bytes_ += bytes.size();
  if (buffer_.size() >= kBufferBytes) return Flush(false);
  return Status::OK();
}

Status OutputFile::WriteOut(const char* data, size_t n) {
  if (n == 0) return Status::OK();
  if (std::fwrite(data, 1, n, file_) != n) {
    return Status::IOError("writing " + path_ + ": " + std::strerror(errno));
  }
  written_bytes_ += n;
  return Status::OK();
}

Status OutputFile::Flush(bool finish) {
  switch (codec_) {
    case Codec::kNone:
      WEIR_RETURN_IF_ERROR(WriteOut(buffer_.data(), buffer_.size()));
      break;
    case Codec::kGzip: {
      z_stream& zs = state_->zs;
      zs.next_in = reinterpret_cast<Bytef*>(buffer_.data());
      zs.avail_in = static_cast<uInt>(buffer_.size());
      out_.resize(1u << 20);
      int rc;
      do {
        zs.next_out = reinterpret_cast<Bytef*>(out_.data());
        zs.avail_out = static_cast<uInt>(out_.size());
        rc = deflate(&zs, finish ? Z_FINISH : Z_NO_FLUSH);
        if (rc == Z_STREAM_ERROR) return Status::Internal("deflate failed for " + path_);
        WEIR_RETURN_IF_ERROR(WriteOut(out_.data(), out_.size() - zs.avail_out));
      } while (zs.avail_out == 0 || (finish && rc != Z_STREAM_END));
      break;
    }
    case Codec::kZstd: {
      ZSTD_inBuffer in{buffer_.data(), buffer_.size(), 0};
      out_.resize(ZSTD_CStreamOutSize());
      const ZSTD_EndDirective mode = finish ? ZSTD_e_end : ZSTD_e_continue;
      size_t remaining;
      do {
        ZSTD_outBuffer out{out_.data(), out_.size(), 0};
        remaining = ZSTD_compressStream2(state_->zstd, &out, &in, mode);
        if (ZSTD_isError(remaining)) {
          return Status::Internal("zstd compression failed for " + path_ + ": " +
                                  ZSTD_getErrorName(remaining));
        }
        WEIR_RETURN_IF_ERROR(WriteOut(out_.data(), out.pos));
      } while (finish ? remaining != 0 : in.pos < in.size);
      break;
    }
  }
  buffer_.clear();
  return Status::OK();
}

Status OutputFile::Close() {
  if (file_ == nullptr) return Status::OK();
  Status st = Flush(true);
  if (std::fclose(file_) != 0 && st.ok()) {
    st = Status::IOError("closing " + path_ + ": " + std::strerror(errno));
  }
  file_ = nullptr;
  state_.reset();
  return st;
}

}  // namespace weir::gen
