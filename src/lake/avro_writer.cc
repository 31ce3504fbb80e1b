#include "lake/avro_writer.h"

#include <zlib.h>

#include <cstring>
#include <random>

namespace weir {
namespace {

constexpr char kMagic[4] = {'O', 'b', 'j', 1};
constexpr size_t kSyncSize = 16;

// Raw deflate (RFC 1951, no zlib header or checksum), which is what the Avro `deflate` codec is.
Result<std::string> RawDeflate(std::string_view in, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::Internal("avro: deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Status::Internal("avro: deflate did not finish a block");
  return out;
}

Result<std::string> RawInflate(std::string_view in, const std::string& what) {
  z_stream zs{};
  if (inflateInit2(&zs, -15) != Z_OK) return Status::Internal("avro: inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char chunk[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return Status::Corruption(what + ": a deflate block does not decompress (zlib error " +
                                std::to_string(rc) + ")");
    }
    out.append(chunk, sizeof(chunk) - zs.avail_out);
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return Status::Corruption(what + ": a deflate block is truncated");
    }
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace

// ---- encoder ----------------------------------------------------------------------------------

void AvroEncoder::Long(int64_t v) {
  // Zig-zag maps small magnitudes of either sign to small unsigned numbers (0,-1,1,-2 -> 0,1,2,3),
  // then a little-endian base-128 varint with the high bit as "more bytes follow".
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    buf_.push_back(static_cast<char>((z & 0x7F) | 0x80));
    z >>= 7;
  }
  buf_.push_back(static_cast<char>(z));
}

void AvroEncoder::Float(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  for (int i = 0; i < 4; ++i) buf_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}

void AvroEncoder::Double(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  for (int i = 0; i < 8; ++i) buf_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}

void AvroEncoder::Bytes(std::string_view v) {
  Long(static_cast<int64_t>(v.size()));
  buf_.append(v.data(), v.size());
}

// ---- decoder ----------------------------------------------------------------------------------

Status AvroDecoder::Need(size_t n, const char* what) const {
  if (data_.size() - pos_ < n) {
    return Status::Corruption(std::string("avro: truncated ") + what + " at byte " +
                              std::to_string(pos_));
  }
  return Status::OK();
}

Result<bool> AvroDecoder::Boolean() {
  WEIR_RETURN_IF_ERROR(Need(1, "boolean"));
  const auto b = static_cast<uint8_t>(data_[pos_]);
  if (b > 1) {
    return Status::Corruption("avro: boolean byte " + std::to_string(b) + " at byte " +
                              std::to_string(pos_) + " is neither 0 nor 1");
  }
  ++pos_;
  return b == 1;
}

Result<int64_t> AvroDecoder::Long() {
  uint64_t z = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    WEIR_RETURN_IF_ERROR(Need(1, "varint"));
    const auto b = static_cast<uint8_t>(data_[pos_++]);
    z |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  return Status::Corruption("avro: varint longer than 10 bytes ending at byte " +
                            std::to_string(pos_));
}

Result<int32_t> AvroDecoder::Int() {
  WEIR_ASSIGN_OR_RETURN(int64_t v, Long());
  if (v < INT32_MIN || v > INT32_MAX) {
    return Status::Corruption("avro: int value " + std::to_string(v) +
                              " out of range before byte " + std::to_string(pos_));
  }
  return static_cast<int32_t>(v);
}

Result<float> AvroDecoder::Float() {
  WEIR_RETURN_IF_ERROR(Need(4, "float"));
  uint32_t bits = 0;
  for (int i = 0; i < 4; ++i)
    bits |= static_cast<uint32_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
  pos_ += 4;
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

Result<double> AvroDecoder::Double() {
  WEIR_RETURN_IF_ERROR(Need(8, "double"));
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i)
    bits |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
  pos_ += 8;
  double v;
  std::memcpy(&v, &bits, 8);
  return v;
}

Result<std::string> AvroDecoder::Bytes() {
  WEIR_ASSIGN_OR_RETURN(int64_t n, Long());
  if (n < 0) {
    return Status::Corruption("avro: negative length " + std::to_string(n) + " before byte " +
                              std::to_string(pos_));
  }
  return Fixed(static_cast<size_t>(n));
}

Result<std::string> AvroDecoder::Fixed(size_t size) {
  WEIR_RETURN_IF_ERROR(Need(size, "bytes"));
  std::string v(data_.substr(pos_, size));
  pos_ += size;
  return v;
}

Result<int64_t> AvroDecoder::BlockCount() {
  WEIR_ASSIGN_OR_RETURN(int64_t n, Long());
  if (n < 0) {
    WEIR_ASSIGN_OR_RETURN(int64_t bytes, Long());
    (void)bytes;  // the block size only lets readers skip a block; we decode every item
    if (n == INT64_MIN) return Status::Corruption("avro: invalid block count");
    n = -n;
  }
  return n;
}

// ---- container writer -------------------------------------------------------------------------

AvroContainerWriter::AvroContainerWriter(std::string schema_json, AvroContainerOptions options)
    : schema_json_(std::move(schema_json)), options_(std::move(options)) {
  if (options_.sync_marker.size() == kSyncSize) {
    sync_ = options_.sync_marker;
  } else {
    std::random_device rd;
    sync_.resize(kSyncSize);
    for (auto& c : sync_) c = static_cast<char>(rd() & 0xFF);
  }
}

Status AvroContainerWriter::SetMetadata(const std::string& key, std::string value) {
  if (header_written_) {
    return Status::Internal("avro: metadata '" + key + "' set after the first record");
  }
  if (key.rfind("avro.", 0) == 0) {
    return Status::Invalid("avro: metadata key '" + key +
                           "' is reserved by the Avro specification");
  }
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return Status::OK();
    }
  }
  metadata_.emplace_back(key, std::move(value));
  return Status::OK();
}

Status AvroContainerWriter::WriteHeader() {
  AvroEncoder e;
  e.Fixed(std::string_view(kMagic, 4));
  // The metadata is an Avro map<bytes>: one block with every entry, then the 0 terminator.
  e.MapStart(static_cast<int64_t>(metadata_.size() + 2));
  e.String("avro.schema");
  e.Bytes(schema_json_);
  e.String("avro.codec");
  e.Bytes(options_.codec == AvroContainerOptions::Codec::kDeflate ? "deflate" : "null");
  for (const auto& [k, v] : metadata_) {
    e.String(k);
    e.Bytes(v);
  }
  e.MapEnd();
  e.Fixed(sync_);
  out_ = e.Take();
  header_written_ = true;
  return Status::OK();
}

Status AvroContainerWriter::FlushBlock() {
  if (block_records_ == 0) return Status::OK();
  std::string payload;
  if (options_.codec == AvroContainerOptions::Codec::kDeflate) {
    WEIR_ASSIGN_OR_RETURN(payload, RawDeflate(block_, options_.deflate_level));
  } else {
    payload = std::move(block_);
  }
  AvroEncoder e;
  e.Long(block_records_);
  e.Long(static_cast<int64_t>(payload.size()));
  out_ += e.data();
  out_ += payload;
  out_ += sync_;
  block_.clear();
  block_records_ = 0;
  return Status::OK();
}

Status AvroContainerWriter::Append(std::string_view encoded_record) {
  if (finished_) return Status::Internal("avro: Append after Finish");
  if (!header_written_) WEIR_RETURN_IF_ERROR(WriteHeader());
  block_.append(encoded_record.data(), encoded_record.size());
  ++block_records_;
  ++total_records_;
  if (block_.size() >= options_.block_bytes) return FlushBlock();
  return Status::OK();
}

Result<std::string> AvroContainerWriter::Finish() {
  if (finished_) return Status::Internal("avro: Finish called twice");
  if (!header_written_) WEIR_RETURN_IF_ERROR(WriteHeader());
  WEIR_RETURN_IF_ERROR(FlushBlock());
  finished_ = true;
  return std::move(out_);
}

// ---- container reader -------------------------------------------------------------------------

Result<AvroContainerContents> ReadAvroContainer(std::string_view file, const std::string& what) {
  if (file.size() < 4 || std::memcmp(file.data(), kMagic, 4) != 0) {
    return Status::Corruption(what + ": not an Avro container file (no 'Obj\\x01' magic)");
  }
  AvroContainerContents c;
  AvroDecoder d(file.substr(4));
  auto ctx = [&](const Status& s) { return s.WithContext(what); };
  while (true) {
    auto n = d.BlockCount();
    if (!n.ok()) return ctx(n.status());
    if (*n == 0) break;
    for (int64_t i = 0; i < *n; ++i) {
      auto k = d.String();
      if (!k.ok()) return ctx(k.status());
      auto v = d.Bytes();
      if (!v.ok()) return ctx(v.status());
      c.metadata[*k] = std::move(*v);
    }
  }
  auto sync = d.Fixed(kSyncSize);
  if (!sync.ok()) return ctx(sync.status());
  c.sync_marker = *sync;
  const std::string codec = c.metadata.count("avro.codec") ? c.metadata["avro.codec"] : "null";
  if (codec != "null" && codec != "deflate") {
    return Status::Invalid(what + ": Avro codec '" + codec + "' is not supported (null, deflate)");
  }
  while (!d.AtEnd()) {
    auto count = d.Long();
    if (!count.ok()) return ctx(count.status());
    auto size = d.Long();
    if (!size.ok()) return ctx(size.status());
    if (*count < 0 || *size < 0) {
      return Status::Corruption(what + ": negative block count or size at byte " +
                                std::to_string(d.offset() + 4));
    }
    auto payload = d.Fixed(static_cast<size_t>(*size));
    if (!payload.ok()) return ctx(payload.status());
    auto marker = d.Fixed(kSyncSize);
    if (!marker.ok()) return ctx(marker.status());
    if (*marker != c.sync_marker) {
      return Status::Corruption(what + ": sync marker mismatch after the block ending at byte " +
                                std::to_string(d.offset() + 4 - kSyncSize));
    }
    AvroContainerContents::Block b;
    b.count = *count;
    if (codec == "deflate") {
      WEIR_ASSIGN_OR_RETURN(b.data, RawInflate(*payload, what));
    } else {
      b.data = std::move(*payload);
    }
    c.blocks.push_back(std::move(b));
  }
  return c;
}

}  // namespace weir
