// Native Parquet writer; see parquet_writer.h for the contract and the file layout it produces.
//
// The whole file is built in one std::string: "PAR1", then for each row group and column a
// column chunk (optional dictionary page, then data pages), then the Thrift-compact FileMetaData,
// its 4-byte little-endian length and "PAR1". Enum values and field ids below come from the
// Apache Parquet format specification (parquet.thrift).
#include "lake/parquet_writer.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string_view>

#include "lake/thrift_compact.h"

namespace weir {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the PLAIN encoders memcpy host integers; Parquet is little-endian");

using thrift::CompactWriter;
using thrift::CType;

// parquet.thrift enum Type.
constexpr int32_t kTypeBoolean = 0;
constexpr int32_t kTypeInt32 = 1;
constexpr int32_t kTypeInt64 = 2;
constexpr int32_t kTypeDouble = 5;
constexpr int32_t kTypeByteArray = 6;
// enum FieldRepetitionType.
constexpr int32_t kRepOptional = 1;
// enum ConvertedType.
constexpr int32_t kConvUtf8 = 0;
constexpr int32_t kConvDate = 6;
constexpr int32_t kConvTimestampMillis = 9;
constexpr int32_t kConvTimestampMicros = 10;
constexpr int32_t kConvJson = 19;
// enum Encoding.
constexpr int32_t kEncPlain = 0;
constexpr int32_t kEncRle = 3;
constexpr int32_t kEncRleDictionary = 8;
// enum CompressionCodec.
constexpr int32_t kCodecUncompressed = 0;
constexpr int32_t kCodecZstd = 6;
// enum PageType.
constexpr int32_t kPageData = 0;
constexpr int32_t kPageDictionary = 2;

constexpr char kMagic[] = "PAR1";
constexpr char kCreatedBy[] = "weir";
// A string page stops once its values pass this many bytes, so pages stay a reader-friendly size
// (and far below the int32 page-size limit) whatever the string lengths.
constexpr size_t kMaxPageValueBytes = 1 << 20;
// Upper bound on values a page, whatever the options say (keeps int32 page sizes safe).
constexpr size_t kMaxPageValues = 1 << 24;
// A dictionary larger than this is abandoned for PLAIN (mirrors common writers' 1 MiB limit).
constexpr size_t kMaxDictionaryBytes = 1 << 20;
// Column chunks whose raw values are smaller than this are stored UNCOMPRESSED even when zstd is
// requested: each zstd call has a fixed cost of ~4 us (context reset, tables), which would
// dominate the per-file cost of small partition files while saving only a few hundred bytes.
// The codec is per column chunk in Parquet, so readers handle the mix.
constexpr size_t kMinCompressBytes = 1024;
// String min/max statistics longer than this are left out rather than bloating the footer.
constexpr size_t kMaxStatBytes = 64;

// ---- small encoding helpers --------------------------------------------------------------------

template <typename T>
void AppendLE(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out->append(buf, sizeof(T));
}

void AppendUleb(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Bit width needed for values 0..max_value (at least 1: some readers mishandle width 0).
int BitWidth(uint32_t max_value) {
  return std::max(1, static_cast<int>(std::bit_width(max_value)));
}

// RLE/bit-packed hybrid encoding (Parquet "RLE" encoding) of n values of `width` bits, without
// the length prefix. Runs of >= 8 equal values become RLE runs; everything else is bit-packed in
// groups of 8 (LSB first). Only the final bit-packed run may be zero-padded past n, which readers
// ignore because they know the value count.
template <typename T>
class RleHybridEncoder {
 public:
  static void Encode(const T* v, size_t n, int width, std::string* out) {
    size_t i = 0;
    size_t lit_start = 0;
    while (i < n) {
      size_t j = i + 1;
      while (j < n && v[j] == v[i]) ++j;
      const size_t run = j - i;
      if (run >= 8) {
        // Literals must be a whole number of 8-value groups, so lend them the first values of
        // this run when needed; the rest of the run (if still >= 8) becomes one RLE run.
        const size_t lit = i - lit_start;
        const size_t pad = (8 - lit % 8) % 8;
        if (run - pad >= 8) {
          if (lit + pad > 0) BitPacked(v + lit_start, lit + pad, width, out);
          Rle(static_cast<uint32_t>(v[i]), run - pad, width, out);
          lit_start = j;
        }
      }
      i = j;
    }
    if (lit_start < n) BitPacked(v + lit_start, n - lit_start, width, out);
  }

 private:
  static void Rle(uint32_t value, size_t count, int width, std::string* out) {
    AppendUleb(out, static_cast<uint64_t>(count) << 1);
    const int bytes = (width + 7) / 8;
    for (int b = 0; b < bytes; ++b) out->push_back(static_cast<char>((value >> (8 * b)) & 0xFF));
  }
  static void BitPacked(const T* v, size_t count, int width, std::string* out) {
    const size_t groups = (count + 7) / 8;
    AppendUleb(out, (static_cast<uint64_t>(groups) << 1) | 1);
    const size_t nbytes = groups * static_cast<size_t>(width);
    const size_t base = out->size();
    out->resize(base + nbytes);
    uint8_t* p = reinterpret_cast<uint8_t*>(out->data() + base);
    if (width == 1) {
      // The definition-level case: 8 values a byte.
      std::memset(p, 0, nbytes);
      for (size_t k = 0; k < count; ++k) p[k >> 3] |= static_cast<uint8_t>((v[k] & 1) << (k & 7));
      return;
    }
    uint64_t acc = 0;
    int bits = 0;
    size_t w = 0;
    for (size_t k = 0; k < count; ++k) {
      acc |= static_cast<uint64_t>(v[k]) << bits;
      bits += width;
      while (bits >= 8) {
        p[w++] = static_cast<uint8_t>(acc);
        acc >>= 8;
        bits -= 8;
      }
    }
    if (bits > 0) p[w++] = static_cast<uint8_t>(acc);
    while (w < nbytes) p[w++] = 0;
  }
};

// Open-addressing hash set of string views -> dense dictionary ids, for one column chunk.
class StringDictionary {
 public:
  void Reset(size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    slots_.assign(cap, 0);
    entries_.clear();
    bytes_ = 0;
  }
  // Returns the id of `s`, inserting it when new.
  uint32_t Intern(std::string_view s) {
    if ((entries_.size() + 1) * 2 > slots_.size()) Grow();
    const size_t mask = slots_.size() - 1;
    const uint64_t h = std::hash<std::string_view>{}(s);
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const uint32_t slot = slots_[i];
      if (slot == 0) {
        entries_.push_back(Entry{s, h});
        bytes_ += s.size();
        slots_[i] = static_cast<uint32_t>(entries_.size());
        return static_cast<uint32_t>(entries_.size() - 1);
      }
      const Entry& e = entries_[slot - 1];
      if (e.hash == h && e.value == s) return slot - 1;
    }
  }
  size_t size() const { return entries_.size(); }
  size_t bytes() const { return bytes_; }
  std::string_view at(size_t i) const { return entries_[i].value; }

 private:
  struct Entry {
    std::string_view value;
    uint64_t hash;
  };
  void Grow() {
    std::vector<uint32_t> next(slots_.size() * 2, 0);
    const size_t mask = next.size() - 1;
    for (size_t k = 0; k < entries_.size(); ++k) {
      size_t i = entries_[k].hash & mask;
      while (next[i] != 0) i = (i + 1) & mask;
      next[i] = static_cast<uint32_t>(k + 1);
    }
    slots_.swap(next);
  }

  std::vector<uint32_t> slots_;  // 0 = empty, else entry index + 1
  std::vector<Entry> entries_;
  size_t bytes_ = 0;
};

// What the footer needs to know about one column chunk.
struct ChunkMeta {
  int32_t codec = kCodecUncompressed;
  int64_t num_values = 0;
  int64_t total_uncompressed = 0;
  int64_t total_compressed = 0;
  int64_t data_page_offset = 0;
  int64_t dictionary_page_offset = -1;  // -1: no dictionary page
  int64_t null_count = 0;
  bool has_min_max = false;
  std::string min_value;  // PLAIN encoding of the value, as the spec's Statistics require
  std::string max_value;
};

struct RowGroupMeta {
  int64_t num_rows = 0;
  int64_t file_offset = 0;
  std::vector<ChunkMeta> chunks;
};

int32_t PhysicalType(ColumnType t) {
  switch (t) {
    case ColumnType::kString:
    case ColumnType::kJson: return kTypeByteArray;
    case ColumnType::kInt64:
    case ColumnType::kTimestampMs: return kTypeInt64;
    case ColumnType::kDouble: return kTypeDouble;
    case ColumnType::kBool: return kTypeBoolean;
    case ColumnType::kDate: return kTypeInt32;
  }
  return kTypeByteArray;
}

// Per-thread zstd context: creating one per small file would dominate the per-file cost.
ZSTD_CCtx* ThreadZstdContext() {
  struct Deleter {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  thread_local std::unique_ptr<ZSTD_CCtx, Deleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}

// Encodes column chunks into `out_`. Owns its scratch buffers, reused across pages and chunks.
class ChunkEncoder {
 public:
  ChunkEncoder(const ParquetWriteOptions& options, std::string* out)
      : options_(options),
        // Bounded so a page's value count and size stay within Parquet's int32 fields.
        page_values_(std::min<size_t>(options.page_values, kMaxPageValues)),
        out_(out) {}

  Status Encode(const ColumnBuffer& col, size_t begin, size_t end, ChunkMeta* meta) {
    meta->num_values = static_cast<int64_t>(end - begin);
    const uint8_t* valid = col.validity().data();
    size_t nulls = 0;
    for (size_t r = begin; r < end; ++r) nulls += valid[r] == 0;
    meta->null_count = static_cast<int64_t>(nulls);
    const bool any_nulls = nulls > 0;

    const ColumnType type = col.type();
    compress_ = options_.compression == ParquetWriteOptions::Compression::kZstd &&
                RawBytes(col, begin, end) >= kMinCompressBytes;
    meta->codec = compress_ ? kCodecZstd : kCodecUncompressed;
    bool use_dict = false;
    if ((type == ColumnType::kString || type == ColumnType::kJson) && nulls < end - begin) {
      use_dict = BuildDictionary(col, begin, end, end - begin - nulls);
    }
    ComputeStats(col, begin, end, use_dict, meta);

    if (use_dict) {
      // Dictionary page: the distinct values, PLAIN.
      body_.clear();
      for (size_t k = 0; k < dict_.size(); ++k) {
        const std::string_view s = dict_.at(k);
        AppendLE<uint32_t>(&body_, static_cast<uint32_t>(s.size()));
        body_.append(s.data(), s.size());
      }
      meta->dictionary_page_offset = static_cast<int64_t>(out_->size());
      WEIR_RETURN_IF_ERROR(WritePage(kPageDictionary, static_cast<int32_t>(dict_.size()),
                                     kEncPlain, meta));
    }
    meta->data_page_offset = static_cast<int64_t>(out_->size());

    const int dict_width = use_dict ? BitWidth(static_cast<uint32_t>(dict_.size() - 1)) : 0;
    size_t index_cursor = 0;  // next entry of indices_ (one per non-null value of the chunk)
    size_t page_begin = begin;
    do {
      size_t page_end = page_begin + std::min(end - page_begin, page_values_);
      if (!use_dict && (type == ColumnType::kString || type == ColumnType::kJson)) {
        page_end = LimitStringPage(col, page_begin, page_end);
      }
      body_.clear();
      size_t page_nulls = 0;
      if (any_nulls) {
        for (size_t r = page_begin; r < page_end; ++r) page_nulls += valid[r] == 0;
      }
      EncodeDefinitionLevels(valid + page_begin, page_end - page_begin, page_nulls);
      const size_t page_non_null = page_end - page_begin - page_nulls;
      const bool dense = page_nulls == 0;
      if (use_dict) {
        body_.push_back(static_cast<char>(dict_width));
        RleHybridEncoder<uint32_t>::Encode(indices_.data() + index_cursor, page_non_null,
                                           dict_width, &body_);
        index_cursor += page_non_null;
      } else {
        EncodePlain(col, page_begin, page_end, page_non_null, dense);
      }
      WEIR_RETURN_IF_ERROR(WritePage(kPageData, static_cast<int32_t>(page_end - page_begin),
                                     use_dict ? kEncRleDictionary : kEncPlain, meta));
      page_begin = page_end;
    } while (page_begin < end);
    last_chunk_dict_ = use_dict;
    return Status::OK();
  }

  bool last_chunk_used_dictionary() const { return last_chunk_dict_; }

 private:
  // Tries to dictionary-encode the chunk's non-null strings into dict_/indices_. Gives up (returns
  // false) when the values are too distinct for a dictionary to pay off or it grows too large.
  bool BuildDictionary(const ColumnBuffer& col, size_t begin, size_t end, size_t non_null) {
    // A dictionary pays off when values repeat: require on average two rows per distinct value.
    const size_t max_distinct = non_null / 2;
    if (max_distinct == 0) return false;
    dict_.Reset(std::min<size_t>(max_distinct, 4096));
    indices_.clear();
    indices_.reserve(non_null);
    const uint8_t* valid = col.validity().data();
    const char* bytes = col.bytes().data();
    const uint32_t* offs = col.offsets().data();
    size_t seen = 0;
    for (size_t r = begin; r < end; ++r) {
      if (!valid[r]) continue;
      const std::string_view s(bytes + offs[r], offs[r + 1] - offs[r]);
      indices_.push_back(dict_.Intern(s));
      ++seen;
      if (dict_.size() > max_distinct || dict_.bytes() > kMaxDictionaryBytes) return false;
      // Early exit on clearly unique data (ids, URLs) instead of hashing half the chunk.
      if (seen == 4096 && non_null > 3 * 4096 && dict_.size() * 4 > seen * 3) return false;
    }
    return true;
  }

  // The PLAIN size of the rows' values (nulls counted as present: an upper bound).
  static size_t RawBytes(const ColumnBuffer& col, size_t begin, size_t end) {
    const size_t rows = end - begin;
    switch (col.type()) {
      case ColumnType::kString:
      case ColumnType::kJson: return 4 * rows + (col.offsets()[end] - col.offsets()[begin]);
      case ColumnType::kInt64:
      case ColumnType::kTimestampMs:
      case ColumnType::kDouble: return 8 * rows;
      case ColumnType::kDate: return 4 * rows;
      case ColumnType::kBool: return rows / 8;
    }
    return rows;
  }

  size_t LimitStringPage(const ColumnBuffer& col, size_t page_begin, size_t page_end) const {
    const uint32_t* offs = col.offsets().data();
    if (offs[page_end] - offs[page_begin] <= kMaxPageValueBytes) return page_end;
    // First row r such that the page [page_begin, r) passes the limit; keep at least one row.
    const uint32_t limit = offs[page_begin] + static_cast<uint32_t>(kMaxPageValueBytes);
    const uint32_t* it = std::upper_bound(offs + page_begin + 1, offs + page_end + 1, limit);
    return std::max(page_begin + 1, static_cast<size_t>(it - offs) - 1);
  }

  // Min and max of the valid integer values in rows [begin, end), when there are any.
  template <typename T>
  static void SetIntegerMinMax(const T* v, const uint8_t* valid, size_t begin, size_t end,
                               ChunkMeta* meta) {
    T lo = std::numeric_limits<T>::max();
    T hi = std::numeric_limits<T>::min();
    bool any = false;
    for (size_t r = begin; r < end; ++r) {
      if (!valid[r]) continue;
      any = true;
      lo = std::min(lo, v[r]);
      hi = std::max(hi, v[r]);
    }
    if (any) SetMinMax(meta, lo, hi);
  }

  void ComputeStats(const ColumnBuffer& col, size_t begin, size_t end, bool use_dict,
                    ChunkMeta* meta) {
    const uint8_t* valid = col.validity().data();
    meta->has_min_max = false;
    switch (col.type()) {
      case ColumnType::kInt64:
      case ColumnType::kTimestampMs:
        SetIntegerMinMax(col.ints().data(), valid, begin, end, meta);
        break;
      case ColumnType::kDate:
        SetIntegerMinMax(col.dates().data(), valid, begin, end, meta);
        break;
      case ColumnType::kDouble: {
        double lo = std::numeric_limits<double>::infinity();
        double hi = -std::numeric_limits<double>::infinity();
        bool any = false;
        const double* v = col.doubles().data();
        for (size_t r = begin; r < end; ++r) {
          if (!valid[r]) continue;
          if (std::isnan(v[r])) return;  // NaN has no place in the order: no min/max at all
          any = true;
          lo = std::min(lo, v[r]);
          hi = std::max(hi, v[r]);
        }
        if (!any) break;
        // The spec asks for -0.0 as a zero minimum and +0.0 as a zero maximum, so a reader
        // pruning with either sign of zero stays correct.
        if (lo == 0.0) lo = -0.0;
        if (hi == 0.0) hi = 0.0;
        SetMinMax(meta, lo, hi);
        break;
      }
      case ColumnType::kString: {
        // Unsigned byte-wise order (std::string_view compares like memcmp), the order the spec
        // defines for STRING under TYPE_ORDER.
        std::string_view lo, hi;
        bool any = false;
        auto visit = [&](std::string_view s) {
          if (!any) {
            lo = hi = s;
            any = true;
          } else if (s < lo) {
            lo = s;
          } else if (s > hi) {
            hi = s;
          }
        };
        if (use_dict) {
          for (size_t k = 0; k < dict_.size(); ++k) visit(dict_.at(k));
        } else {
          for (size_t r = begin; r < end; ++r) {
            if (valid[r]) visit(col.StringAt(r));
          }
        }
        if (any && lo.size() <= kMaxStatBytes && hi.size() <= kMaxStatBytes) {
          meta->has_min_max = true;
          meta->min_value.assign(lo);
          meta->max_value.assign(hi);
        }
        break;
      }
      case ColumnType::kJson:  // text order of JSON documents means nothing to a query
      case ColumnType::kBool:
        break;
    }
  }

  template <typename T>
  static void SetMinMax(ChunkMeta* meta, T lo, T hi) {
    meta->has_min_max = true;
    meta->min_value.assign(reinterpret_cast<const char*>(&lo), sizeof(T));
    meta->max_value.assign(reinterpret_cast<const char*>(&hi), sizeof(T));
  }

  // Appends the definition levels of one page (1 = value present) with their 4-byte length.
  void EncodeDefinitionLevels(const uint8_t* valid, size_t n, size_t page_nulls) {
    const size_t len_pos = body_.size();
    body_.append(4, '\0');
    if (page_nulls == 0 || page_nulls == n) {
      // The common cases: one RLE run.
      AppendUleb(&body_, static_cast<uint64_t>(n) << 1);
      body_.push_back(page_nulls == 0 ? 1 : 0);
    } else {
      RleHybridEncoder<uint8_t>::Encode(valid, n, 1, &body_);
    }
    const uint32_t len = static_cast<uint32_t>(body_.size() - len_pos - 4);
    std::memcpy(body_.data() + len_pos, &len, 4);
  }

  // Appends the PLAIN values of the non-null rows of [a, b).
  void EncodePlain(const ColumnBuffer& col, size_t a, size_t b, size_t non_null, bool dense) {
    const uint8_t* valid = col.validity().data();
    switch (col.type()) {
      case ColumnType::kInt64:
      case ColumnType::kTimestampMs:
        AppendFixed(col.ints().data(), valid, a, b, non_null, dense);
        break;
      case ColumnType::kDouble:
        AppendFixed(col.doubles().data(), valid, a, b, non_null, dense);
        break;
      case ColumnType::kDate:
        AppendFixed(col.dates().data(), valid, a, b, non_null, dense);
        break;
      case ColumnType::kBool: {
        // PLAIN booleans: bit-packed, LSB first, one bit a value.
        const size_t base = body_.size();
        body_.resize(base + (non_null + 7) / 8, '\0');
        uint8_t* p = reinterpret_cast<uint8_t*>(body_.data() + base);
        const uint8_t* v = col.bools().data();
        size_t k = 0;
        for (size_t r = a; r < b; ++r) {
          if (!valid[r]) continue;
          p[k >> 3] |= static_cast<uint8_t>((v[r] & 1) << (k & 7));
          ++k;
        }
        break;
      }
      case ColumnType::kString:
      case ColumnType::kJson: {
        // PLAIN byte arrays: 4-byte little-endian length, then the bytes.
        const uint32_t* offs = col.offsets().data();
        const char* bytes = col.bytes().data();
        const size_t base = body_.size();
        body_.resize(base + 4 * non_null + (offs[b] - offs[a]));
        char* p = body_.data() + base;
        for (size_t r = a; r < b; ++r) {
          if (!valid[r]) continue;
          const uint32_t len = offs[r + 1] - offs[r];
          std::memcpy(p, &len, 4);
          std::memcpy(p + 4, bytes + offs[r], len);
          p += 4 + len;
        }
        body_.resize(static_cast<size_t>(p - body_.data()));
        break;
      }
    }
  }

  template <typename T>
  void AppendFixed(const T* v, const uint8_t* valid, size_t a, size_t b, size_t non_null,
                   bool dense) {
    const size_t base = body_.size();
    body_.resize(base + non_null * sizeof(T));
    char* p = body_.data() + base;
    if (dense) {
      std::memcpy(p, v + a, (b - a) * sizeof(T));
      return;
    }
    for (size_t r = a; r < b; ++r) {
      if (!valid[r]) continue;
      std::memcpy(p, v + r, sizeof(T));
      p += sizeof(T);
    }
  }

  // Compresses body_ (when configured) and appends page header + page to the file.
  Status WritePage(int32_t page_type, int32_t num_values, int32_t encoding, ChunkMeta* meta) {
    if (body_.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
      return Status::Invalid("parquet page larger than 2 GiB");
    }
    std::string_view page = body_;
    if (compress_) {
      const size_t bound = ZSTD_compressBound(body_.size());
      if (bound > compressed_capacity_) {
        // Not a std::string: resizing one would zero-fill the bound on every page.
        compressed_ = std::make_unique_for_overwrite<char[]>(bound);
        compressed_capacity_ = bound;
      }
      const size_t n = ZSTD_compressCCtx(ThreadZstdContext(), compressed_.get(), bound,
                                         body_.data(), body_.size(), options_.zstd_level);
      if (ZSTD_isError(n)) {
        return Status::Internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
      }
      page = std::string_view(compressed_.get(), n);
    }
    header_.clear();
    CompactWriter w(&header_);
    w.BeginMessage();                                   // PageHeader
    w.FieldI32(1, page_type);                           // type
    w.FieldI32(2, static_cast<int32_t>(body_.size()));  // uncompressed_page_size
    w.FieldI32(3, static_cast<int32_t>(page.size()));   // compressed_page_size
    if (page_type == kPageData) {
      w.BeginStructField(5);  // data_page_header: DataPageHeader
      w.FieldI32(1, num_values);
      w.FieldI32(2, encoding);
      w.FieldI32(3, kEncRle);  // definition_level_encoding
      w.FieldI32(4, kEncRle);  // repetition_level_encoding (no levels stored: max level 0)
      w.EndStruct();
    } else {
      w.BeginStructField(7);  // dictionary_page_header: DictionaryPageHeader
      w.FieldI32(1, num_values);
      w.FieldI32(2, encoding);
      w.EndStruct();
    }
    w.EndStruct();
    out_->append(header_);
    out_->append(page);
    meta->total_uncompressed += static_cast<int64_t>(header_.size() + body_.size());
    meta->total_compressed += static_cast<int64_t>(header_.size() + page.size());
    return Status::OK();
  }

  const ParquetWriteOptions& options_;
  const size_t page_values_;
  std::string* out_;
  std::string body_;        // uncompressed page being built
  std::unique_ptr<char[]> compressed_;  // its compressed form
  size_t compressed_capacity_ = 0;
  std::string header_;      // its Thrift page header
  StringDictionary dict_;
  std::vector<uint32_t> indices_;  // dictionary id of every non-null value of the chunk
  bool last_chunk_dict_ = false;
  bool compress_ = false;  // zstd for the current chunk
};

void WriteLogicalType(CompactWriter* w, ColumnType t, bool micros) {
  // LogicalType is a Thrift union: exactly one field, an (often empty) struct.
  switch (t) {
    case ColumnType::kString:
      w->BeginStructField(10);
      w->BeginStructField(1);  // STRING: StringType
      w->EndStruct();
      w->EndStruct();
      return;
    case ColumnType::kJson:
      w->BeginStructField(10);
      w->BeginStructField(12);  // JSON: JsonType
      w->EndStruct();
      w->EndStruct();
      return;
    case ColumnType::kDate:
      w->BeginStructField(10);
      w->BeginStructField(6);  // DATE: DateType
      w->EndStruct();
      w->EndStruct();
      return;
    case ColumnType::kTimestampMs:
      w->BeginStructField(10);
      w->BeginStructField(8);  // TIMESTAMP: TimestampType
      w->FieldBool(1, true);   // isAdjustedToUTC
      w->BeginStructField(2);  // unit: TimeUnit (union)
      w->BeginStructField(micros ? 2 : 1);  // MICROS: MicroSeconds | MILLIS: MilliSeconds
      w->EndStruct();
      w->EndStruct();
      w->EndStruct();
      w->EndStruct();
      return;
    case ColumnType::kInt64:
    case ColumnType::kDouble:
    case ColumnType::kBool:
      return;
  }
}

void WriteFooter(const std::vector<ColumnSchema>& schema, const std::vector<int32_t>& field_ids,
                 bool micros,
                 const std::vector<RowGroupMeta>& groups,
                 const std::vector<std::vector<int32_t>>& chunk_encodings, int64_t num_rows,
                 std::string* out) {
  const size_t footer_start = out->size();
  CompactWriter w(out);
  w.BeginMessage();  // FileMetaData
  w.FieldI32(1, 1);  // version
  w.BeginListField(2, CType::kStruct, static_cast<uint32_t>(schema.size() + 1));  // schema
  w.BeginListStruct();  // root SchemaElement
  w.FieldBinary(4, "schema");
  w.FieldI32(5, static_cast<int32_t>(schema.size()));  // num_children
  w.EndStruct();
  for (size_t i = 0; i < schema.size(); ++i) {
    const ColumnSchema& c = schema[i];
    w.BeginListStruct();
    w.FieldI32(1, PhysicalType(c.type));  // type
    w.FieldI32(3, kRepOptional);          // repetition_type
    w.FieldBinary(4, c.name);             // name
    switch (c.type) {                     // converted_type, for readers predating LogicalType
      case ColumnType::kString: w.FieldI32(6, kConvUtf8); break;
      case ColumnType::kJson: w.FieldI32(6, kConvJson); break;
      case ColumnType::kDate: w.FieldI32(6, kConvDate); break;
      case ColumnType::kTimestampMs:
        w.FieldI32(6, micros ? kConvTimestampMicros : kConvTimestampMillis);
        break;
      default: break;
    }
    if (!field_ids.empty()) w.FieldI32(9, field_ids[i]);  // field_id (Iceberg column ids)
    WriteLogicalType(&w, c.type, micros);
    w.EndStruct();
  }
  w.FieldI64(3, num_rows);
  w.BeginListField(4, CType::kStruct, static_cast<uint32_t>(groups.size()));  // row_groups
  for (size_t g = 0; g < groups.size(); ++g) {
    const RowGroupMeta& rg = groups[g];
    int64_t total_uncompressed = 0;
    int64_t total_compressed = 0;
    w.BeginListStruct();  // RowGroup
    w.BeginListField(1, CType::kStruct, static_cast<uint32_t>(rg.chunks.size()));  // columns
    for (size_t c = 0; c < rg.chunks.size(); ++c) {
      const ChunkMeta& m = rg.chunks[c];
      total_uncompressed += m.total_uncompressed;
      total_compressed += m.total_compressed;
      w.BeginListStruct();  // ColumnChunk
      // file_offset: deprecated; the spec asks for 0 when no ColumnMetaData is written outside
      // the footer (readers use meta_data's page offsets instead).
      w.FieldI64(2, 0);
      w.BeginStructField(3);  // meta_data: ColumnMetaData
      w.FieldI32(1, PhysicalType(schema[c].type));
      const std::vector<int32_t>& enc = chunk_encodings[g * schema.size() + c];
      w.BeginListField(2, CType::kI32, static_cast<uint32_t>(enc.size()));
      for (int32_t e : enc) w.ListI32(e);
      w.BeginListField(3, CType::kBinary, 1);  // path_in_schema
      w.ListBinary(schema[c].name);
      w.FieldI32(4, m.codec);
      w.FieldI64(5, m.num_values);
      w.FieldI64(6, m.total_uncompressed);
      w.FieldI64(7, m.total_compressed);
      w.FieldI64(9, m.data_page_offset);
      if (m.dictionary_page_offset >= 0) w.FieldI64(11, m.dictionary_page_offset);
      w.BeginStructField(12);  // statistics: Statistics
      w.FieldI64(3, m.null_count);
      if (m.has_min_max) {
        w.FieldBinary(5, m.max_value);  // max_value
        w.FieldBinary(6, m.min_value);  // min_value
      }
      w.EndStruct();
      w.EndStruct();  // ColumnMetaData
      w.EndStruct();  // ColumnChunk
    }
    w.FieldI64(2, total_uncompressed);  // total_byte_size
    w.FieldI64(3, rg.num_rows);
    w.FieldI64(5, rg.file_offset);
    w.FieldI64(6, total_compressed);
    w.FieldI16(7, static_cast<int16_t>(g));  // ordinal
    w.EndStruct();
  }
  w.FieldBinary(6, kCreatedBy);
  // column_orders: TYPE_ORDER for every column, which tells readers min_value/max_value follow
  // the logical type's order (signed ints, unsigned bytes for strings) and may be used.
  w.BeginListField(7, CType::kStruct, static_cast<uint32_t>(schema.size()));
  for (size_t c = 0; c < schema.size(); ++c) {
    w.BeginListStruct();     // ColumnOrder (union)
    w.BeginStructField(1);   // TYPE_ORDER: TypeDefinedOrder
    w.EndStruct();
    w.EndStruct();
  }
  w.EndStruct();  // FileMetaData
  const uint32_t footer_len = static_cast<uint32_t>(out->size() - footer_start);
  AppendLE<uint32_t>(out, footer_len);
  out->append(kMagic, 4);
}

Status Validate(const std::vector<ColumnSchema>& schema,
                const std::vector<const ColumnBuffer*>& columns,
                const ParquetWriteOptions& options) {
  if (schema.empty()) return Status::Invalid("parquet writer: the schema has no columns");
  if (columns.size() != schema.size()) {
    return Status::Invalid("parquet writer: " + std::to_string(schema.size()) +
                           " schema columns but " + std::to_string(columns.size()) + " buffers");
  }
  if (options.row_group_rows == 0 || options.page_values == 0) {
    return Status::Invalid("parquet writer: row_group_rows and page_values must be positive");
  }
  if (options.compression == ParquetWriteOptions::Compression::kZstd &&
      (options.zstd_level < ZSTD_minCLevel() || options.zstd_level > ZSTD_maxCLevel())) {
    return Status::Invalid("parquet writer: zstd_level " + std::to_string(options.zstd_level) +
                           " out of range");
  }
  if (!options.field_ids.empty() && options.field_ids.size() != schema.size()) {
    return Status::Invalid("parquet writer: " + std::to_string(options.field_ids.size()) +
                           " field ids for " + std::to_string(schema.size()) + " columns");
  }
  for (size_t c = 0; c < schema.size(); ++c) {
    const std::string& name = schema[c].name;
    if (name.empty()) return Status::Invalid("parquet writer: column " + std::to_string(c) +
                                             " has an empty name");
    for (size_t d = 0; d < c; ++d) {
      if (schema[d].name == name) {
        return Status::Invalid("parquet writer: duplicate column name '" + name + "'");
      }
    }
    if (columns[c] == nullptr) {
      return Status::Invalid("parquet writer: no buffer for column '" + name + "'");
    }
    if (columns[c]->type() != schema[c].type) {
      return Status::Invalid("parquet writer: column '" + name + "' is declared " +
                             ColumnTypeName(schema[c].type) + " but its buffer holds " +
                             ColumnTypeName(columns[c]->type()));
    }
    if (columns[c]->size() != columns[0]->size()) {
      return Status::Invalid("parquet writer: column '" + name + "' has " +
                             std::to_string(columns[c]->size()) + " rows, column '" +
                             schema[0].name + "' has " + std::to_string(columns[0]->size()));
    }
  }
  return Status::OK();
}

}  // namespace

Result<std::string> EncodeParquet(const std::vector<ColumnSchema>& schema,
                                  const std::vector<const ColumnBuffer*>& columns,
                                  const ParquetWriteOptions& options, ParquetFileLayout* layout) {
  WEIR_RETURN_IF_ERROR(Validate(schema, columns, options));
  const size_t num_rows = columns[0]->size();

  std::string out;
  {
    // One allocation in the common case: the raw size is an upper bound for zstd output in
    // practice, and untouched capacity of a large reservation costs no physical memory.
    size_t estimate = 1024 + 256 * schema.size();
    for (const ColumnBuffer* c : columns) estimate += c->MemoryBytes();
    out.reserve(estimate);
  }
  out.append(kMagic, 4);

  ChunkEncoder encoder(options, &out);
  std::vector<RowGroupMeta> groups;
  std::vector<std::vector<int32_t>> encodings;  // per (group, column), row-major
  for (size_t begin = 0, end = 0; begin < num_rows; begin = end) {
    end = begin + std::min(num_rows - begin, options.row_group_rows);
    RowGroupMeta& rg = groups.emplace_back();
    rg.num_rows = static_cast<int64_t>(end - begin);
    rg.file_offset = static_cast<int64_t>(out.size());
    rg.chunks.resize(columns.size());
    for (size_t c = 0; c < columns.size(); ++c) {
      Status st = encoder.Encode(*columns[c], begin, end, &rg.chunks[c]);
      if (!st.ok()) return st.WithContext("column '" + schema[c].name + "'");
      if (encoder.last_chunk_used_dictionary()) {
        encodings.push_back({kEncPlain, kEncRle, kEncRleDictionary});
      } else {
        encodings.push_back({kEncPlain, kEncRle});
      }
    }
  }
  WriteFooter(schema, options.field_ids, options.timestamp_micros, groups, encodings, static_cast<int64_t>(num_rows), &out);
  if (layout != nullptr) {
    layout->column_bytes.assign(columns.size(), 0);
    layout->row_group_offsets.clear();
    for (const RowGroupMeta& rg : groups) {
      layout->row_group_offsets.push_back(rg.file_offset);
      for (size_t c = 0; c < rg.chunks.size(); ++c) layout->column_bytes[c] += rg.chunks[c].total_compressed;
    }
  }
  return out;
}

Result<uint64_t> WriteParquetFile(const std::string& path, const std::vector<ColumnSchema>& schema,
                                  const std::vector<const ColumnBuffer*>& columns,
                                  const ParquetWriteOptions& options, ParquetFileLayout* layout) {
  WEIR_ASSIGN_OR_RETURN(std::string data, EncodeParquet(schema, columns, options, layout));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::IOError("open " + path + ": " + std::strerror(errno));
  }
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Status::IOError("write " + path + ": " + std::strerror(err));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    return Status::IOError("close " + path + ": " + std::strerror(errno));
  }
  return static_cast<uint64_t>(data.size());
}

}  // namespace weir
