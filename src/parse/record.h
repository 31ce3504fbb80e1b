// RecordView: one record of an input file as delimited by a RecordSplitter.
//
// A RecordView is a non-owning view: `bytes` points into the caller's read buffer (or, for an
// oversize record that spanned several buffers, into storage owned by the splitter). It stays
// valid until the caller changes that buffer or calls the splitter's Split() again.
// Offsets are absolute byte offsets in the (decompressed) file, so an error record can name the
// exact byte range of a bad record.
// Thread-safety: a plain value.
#pragma once

#include <cstdint>
#include <string_view>

namespace weir {

struct RecordView {
  std::string_view bytes;  // the record's content WITHOUT its terminator ("\n" or "\r\n")
  uint64_t offset;         // byte offset of bytes[0] in the (decompressed) file
  uint64_t end_offset;     // offset just past the terminator (where the next record starts)
  uint64_t number;         // 0-based record number in the file (header row excluded for csv)
  bool oversize = false;   // longer than max_record_bytes: bytes holds only a prefix (excerpt)
  // non-null: a delimiting problem makes this record an error record (static string, e.g.
  // "bytes outside any record"). Set by the pattern splitter (parse/pattern_splitter.h).
  const char* problem = nullptr;
  // Where the record's own bytes end (terminator excluded) when a splitter knows it and it differs
  // from what error records would otherwise derive: the multiline splitter sets it, so an error
  // record of a multi-line record ends at its last line's end even for SDK parsers, whose range
  // otherwise runs to end_offset. kNoRangeEnd: derive it (see AppendErrorRecord).
  static constexpr uint64_t kNoRangeEnd = ~uint64_t{0};
  uint64_t range_end = kNoRangeEnd;
};

}  // namespace weir
