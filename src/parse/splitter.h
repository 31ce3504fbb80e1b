// Record splitters: cut a byte stream into records (lines, or RFC 4180 CSV records).
//
// Usage (one splitter per file, started at a record boundary):
//
//   auto splitter = MakeLineSplitter(cfg.read.max_record_bytes);
//   std::string buf;  uint64_t base = 0, number = 0;
//   while (read more into buf) {
//     size_t before = records.size();
//     size_t used = splitter->Split(buf, at_eof, base, number, records);
//     number += records.size() - before;
//     ... process records (views into buf) ...
//     buf.erase(0, used);  base += used;
//   }
//
// Split() is one virtual call per buffer, never per record. It appends every complete record in
// `buf` to `out` and returns how many bytes it consumed; the caller keeps the unconsumed tail,
// appends more data after it and calls again. With at_eof=true a non-empty unterminated remainder
// is the final record (taken as is: a lone trailing '\r' is kept). Blank lines are records with
// empty bytes (the projector counts them as skipped).
//
// Oversize records: when a record grows past max_record_bytes without a terminator, the splitter
// copies its first max_record_bytes into storage it owns, consumes the buffer and remembers that
// it is "skipping until the end of the record" (for CSV, together with the quote state). When the
// end is found, it emits one RecordView with oversize=true, bytes = that prefix and exact offsets.
// So the caller never needs to hold more than about max_record_bytes + one read chunk, whatever
// the record's length. A record whose end is found inside the buffer is also flagged oversize
// when its content is longer than max_record_bytes (bytes = first max_record_bytes).
//
// Record numbers are first_number + i for the i-th record completed in a call. For csv with a
// header row, the caller excludes the header by passing first_number = UINT64_MAX for the call
// that yields the header (unsigned wrap-around makes the first data record number 0), or by
// splitting the header separately.
//
// Contract: between calls the caller passes the same unconsumed tail at the start of `buf` (the
// splitter remembers how far it already scanned the tail, so long records are not rescanned).
// Ownership: the splitter owns only its small state and the oversize prefix copies.
// Thread-safety: none; one splitter per file per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "parse/record.h"

namespace weir {

class RecordSplitter {
 public:
  virtual ~RecordSplitter();
  // See the file comment. `base_offset` is the file offset of buf[0]; `first_number` the record
  // number of the first record completed in this call.
  virtual size_t Split(std::string_view buf, bool at_eof, uint64_t base_offset,
                       uint64_t first_number, std::vector<RecordView>& out) = 0;
};

// Newline-delimited records (jsonl, text): '\n' ends a record, a "\r\n" terminator is stripped.
std::unique_ptr<RecordSplitter> MakeLineSplitter(uint64_t max_record_bytes);

// RFC 4180 CSV records: a '\n' inside a quoted field does not end the record. A quote opens a
// quoted field only at the start of a field; inside one, a doubled quote is a literal quote.
// A quote in the middle of an unquoted field is an ordinary character.
std::unique_ptr<RecordSplitter> MakeCsvSplitter(char delimiter, char quote,
                                                uint64_t max_record_bytes);

}  // namespace weir
