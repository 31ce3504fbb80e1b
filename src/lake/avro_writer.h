// avro_writer.h: a small Apache Avro (1.11) binary encoder, decoder and Object Container File
// writer/reader, written from the Avro specification.
//
// Why it exists: Iceberg table metadata (manifests and manifest lists) are Avro container files.
// weir writes only a handful of fixed schemas, so a typed encoder that the caller drives in schema
// order is all that is needed (no generic datum model, no schema resolution, no libavro).
//
// What it covers:
//   - AvroEncoder: binary encoding of every Avro type: null (nothing), boolean (one byte),
//     int/long (zig-zag varint), float/double (IEEE 754 little-endian), bytes/string (long length
//     then the bytes), fixed (the bytes), union (long branch index then the value), arrays and maps
//     (blocks of `count` items, ended by a 0 count), records (fields in schema order, nothing
//     else). The encoder does not know the schema: the caller writes values in the schema's order.
//   - AvroContainerWriter: the container file: magic "Obj\x01", the file metadata map (bytes
//     values; `avro.schema` and `avro.codec` are set by the writer), a 16-byte sync marker, then
//     data blocks of (record count, byte size, serialized records, sync marker). Codecs: `null` and
//     `deflate` (raw RFC 1951 deflate, via zlib).
//   - AvroDecoder / ReadAvroContainer: the mirror image, used to read back files weir wrote (a
//     later commit reads the current manifest list). It decodes with the caller's knowledge of the
//     schema; it does not resolve a writer schema against a different reader schema.
//
// Ownership: the encoder and writer own their buffers; the decoder borrows the bytes it reads
// (they must outlive it). Thread-safety: none; use one object per thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/status.h"

namespace weir {

class AvroEncoder {
 public:
  void Null() {}
  void Boolean(bool v) { buf_.push_back(v ? 1 : 0); }
  void Int(int32_t v) { Long(v); }  // int and long share the zig-zag varint encoding
  void Long(int64_t v);
  void Float(float v);
  void Double(double v);
  void Bytes(std::string_view v);
  void String(std::string_view v) { Bytes(v); }
  void Fixed(std::string_view v) { buf_.append(v.data(), v.size()); }
  // Selects branch `index` (0-based, in the union's schema order); then write the branch's value.
  void Union(int64_t index) { Long(index); }
  // Arrays and maps: ArrayStart(n) opens one block of n items (nothing is written for n == 0),
  // the caller writes the n items (for maps: String(key) then the value), ArrayEnd() writes the
  // terminating 0 block. Several Start calls before one End give several blocks.
  void ArrayStart(int64_t count) {
    if (count > 0) Long(count);
  }
  void ArrayEnd() { Long(0); }
  void MapStart(int64_t count) { ArrayStart(count); }
  void MapEnd() { ArrayEnd(); }

  const std::string& data() const { return buf_; }
  size_t size() const { return buf_.size(); }
  std::string Take() { return std::exchange(buf_, std::string()); }
  void Clear() { buf_.clear(); }

 private:
  std::string buf_;
};

// Reads values in schema order from one byte range. Every getter returns Corruption (with the
// byte offset) instead of reading past the end.
class AvroDecoder {
 public:
  explicit AvroDecoder(std::string_view data) : data_(data) {}

  Result<bool> Boolean();
  Result<int32_t> Int();
  Result<int64_t> Long();
  Result<float> Float();
  Result<double> Double();
  Result<std::string> Bytes();
  Result<std::string> String() { return Bytes(); }
  Result<std::string> Fixed(size_t size);
  Result<int64_t> Union() { return Long(); }
  // Returns the item count of the next block (0 at the end). A negative count in the data means
  // "count, then the block's byte size"; the size is read and the absolute count returned.
  Result<int64_t> BlockCount();

  size_t offset() const { return pos_; }
  bool AtEnd() const { return pos_ >= data_.size(); }

 private:
  Status Need(size_t n, const char* what) const;
  std::string_view data_;
  size_t pos_ = 0;
};

struct AvroContainerOptions {
  enum class Codec { kNull, kDeflate };
  Codec codec = Codec::kDeflate;
  int deflate_level = 6;
  // A block is flushed when its serialized records reach this size.
  size_t block_bytes = 64 * 1024;
  // The sync marker; empty means 16 random bytes (fixed ones make files reproducible in tests).
  std::string sync_marker;
};

// Builds one Avro Object Container File in memory. The caller sets the file metadata, appends
// records encoded with an AvroEncoder in the schema given here, and takes the file bytes from
// Finish(). The schema text is written verbatim (it must be valid Avro schema JSON; this class
// does not parse it).
class AvroContainerWriter {
 public:
  AvroContainerWriter(std::string schema_json, AvroContainerOptions options = {});

  // User metadata (e.g. Iceberg's `schema`, `partition-spec`). Keys starting with "avro." are
  // reserved by the Avro specification and refused; must be called before the first Append.
  Status SetMetadata(const std::string& key, std::string value);
  // Appends one record (the encoded bytes of exactly one datum of the schema).
  Status Append(std::string_view encoded_record);
  size_t record_count() const { return total_records_; }
  // Flushes the last block and returns the complete file. The writer is spent afterwards.
  Result<std::string> Finish();

 private:
  Status WriteHeader();
  Status FlushBlock();

  std::string schema_json_;
  AvroContainerOptions options_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::string sync_;
  std::string out_;
  std::string block_;
  int64_t block_records_ = 0;
  size_t total_records_ = 0;
  bool header_written_ = false;
  bool finished_ = false;
};

// A container file read back: its metadata (avro.schema and avro.codec included) and each
// record's encoded bytes, decompressed, concatenated per block. Decode the records with an
// AvroDecoder over `blocks[i].data`, `blocks[i].count` times.
struct AvroContainerContents {
  std::map<std::string, std::string> metadata;
  struct Block {
    int64_t count = 0;
    std::string data;
  };
  std::vector<Block> blocks;
  std::string sync_marker;
};

// Parses a whole container file (codecs null and deflate). `what` names the file in errors.
Result<AvroContainerContents> ReadAvroContainer(std::string_view file, const std::string& what);

}  // namespace weir
