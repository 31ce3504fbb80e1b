// thrift_compact.h: a minimal, append-only encoder for the Thrift compact protocol, enough to
// write Parquet's footer (FileMetaData) and page headers by hand.
//
// Written from the Thrift compact protocol specification:
//   - integers (i16/i32/i64) are zigzag-encoded ULEB128 varints;
//   - a field header is one byte (delta << 4 | type) when the field id is 1..15 above the previous
//     field id of the same struct, else the type byte followed by the zigzag varint field id;
//   - booleans that are struct fields carry their value in the type nibble (1 true, 2 false);
//   - binary/string is a varint length then the bytes;
//   - a list header is one byte (size << 4 | element type) for size < 15, else 0xF0 | type followed
//     by the varint size; struct elements of a list have no field header;
//   - a struct ends with a 0 byte (STOP); field-id deltas restart at 0 inside each nested struct.
//
// The caller drives the structure (Begin/End calls must nest correctly; field ids within a struct
// must be written in increasing order so deltas stay small — Parquet's writers all do this).
// Ownership: appends to a caller-owned std::string that must outlive the writer.
// Thread-safety: none; one writer per thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weir::thrift {

// Compact protocol type ids (the low nibble of a field header or list header).
enum class CType : uint8_t {
  kBoolTrue = 1,
  kBoolFalse = 2,
  kByte = 3,
  kI16 = 4,
  kI32 = 5,
  kI64 = 6,
  kDouble = 7,
  kBinary = 8,
  kList = 9,
  kSet = 10,
  kMap = 11,
  kStruct = 12,
};

class CompactWriter {
 public:
  explicit CompactWriter(std::string* out) : out_(out) { last_id_.reserve(8); }

  // --- struct fields ---
  void FieldI16(int16_t id, int16_t v) {
    FieldHeader(id, CType::kI16);
    Varint(ZigZag32(v));
  }
  void FieldI32(int16_t id, int32_t v) {
    FieldHeader(id, CType::kI32);
    Varint(ZigZag32(v));
  }
  void FieldI64(int16_t id, int64_t v) {
    FieldHeader(id, CType::kI64);
    Varint(ZigZag64(v));
  }
  void FieldBool(int16_t id, bool v) { FieldHeader(id, v ? CType::kBoolTrue : CType::kBoolFalse); }
  void FieldBinary(int16_t id, std::string_view v) {
    FieldHeader(id, CType::kBinary);
    Binary(v);
  }
  // Opens a struct-typed field; close it with EndStruct().
  void BeginStructField(int16_t id) {
    FieldHeader(id, CType::kStruct);
    last_id_.push_back(cur_id_);
    cur_id_ = 0;
  }
  // Opens a list-typed field of `size` elements of type `elem`; then write the elements with the
  // List* calls below (or BeginListStruct/EndStruct for struct elements). Lists need no end call.
  void BeginListField(int16_t id, CType elem, uint32_t size) {
    FieldHeader(id, CType::kList);
    if (size < 15) {
      Byte(static_cast<uint8_t>(size << 4 | static_cast<uint8_t>(elem)));
    } else {
      Byte(static_cast<uint8_t>(0xF0 | static_cast<uint8_t>(elem)));
      Varint(size);
    }
  }

  // --- list elements ---
  void ListI32(int32_t v) { Varint(ZigZag32(v)); }
  void ListBinary(std::string_view v) { Binary(v); }
  void BeginListStruct() {
    last_id_.push_back(cur_id_);
    cur_id_ = 0;
  }

  // --- top-level struct (a whole message such as a PageHeader or FileMetaData) ---
  void BeginMessage() { BeginListStruct(); }

  // Closes the innermost struct (field, list element or message): writes STOP.
  void EndStruct() {
    Byte(0);
    cur_id_ = last_id_.back();
    last_id_.pop_back();
  }

 private:
  static uint32_t ZigZag32(int32_t v) {
    return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
  }
  static uint64_t ZigZag64(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  }
  void Byte(uint8_t b) { out_->push_back(static_cast<char>(b)); }
  void Varint(uint64_t v) {
    char buf[10];
    int n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_->append(buf, n);
  }
  void Binary(std::string_view v) {
    Varint(v.size());
    out_->append(v.data(), v.size());
  }
  void FieldHeader(int16_t id, CType type) {
    const int delta = id - cur_id_;
    if (delta > 0 && delta <= 15) {
      Byte(static_cast<uint8_t>(delta << 4 | static_cast<uint8_t>(type)));
    } else {
      Byte(static_cast<uint8_t>(type));
      Varint(ZigZag32(id));
    }
    cur_id_ = id;
  }

  std::string* out_;
  int16_t cur_id_ = 0;            // last field id written in the current struct
  std::vector<int16_t> last_id_;  // saved cur_id_ of the enclosing structs
};

}  // namespace weir::thrift
