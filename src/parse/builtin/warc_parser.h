// The `warc` parser: one document per WARC record (ISO 28500, WARC/1.0 and WARC/1.1), as written
// by web crawlers (wget --warc-file, Heritrix, warcio, ...).
//
// A WARC record is a header block, a content block of exactly Content-Length bytes and the
// trailer "\r\n\r\n":
//
//   WARC/1.1\r\n                          version line (header line 1)
//   WARC-Type: response\r\n               named fields "Name: value" (header lines 2, 3, ...);
//   Content-Length: 1234\r\n              a line starting with SP or HT continues the value of
//   ...\r\n                               the field above it
//   \r\n                                  end of the header block
//   <1234 bytes of block>\r\n\r\n
//
// The record format is kHeaderBody (start "WARC/", header end "\r\n\r\n", trailer "\r\n\r\n"),
// so the engine finds records with BodyLength() and hands each whole record to Parse(). Compressed
// .warc.gz files (one gzip member per record, or one for the whole file) are decompressed by the
// input layer; offsets are offsets in the decompressed stream.
//
// The document of a record:
//   /version         "WARC/1.0" or "WARC/1.1"
//   /headers/<Name>  every named field, keyed by its name as written in the record, value as a
//                    string with surrounding whitespace removed and each continuation (CRLF +
//                    spaces/tabs) folded to one space. A field repeated in one record (e.g.
//                    WARC-Concurrent-To) has its values joined with ", " under the first spelling
//                    of its name (names compare case-insensitively).
//   /content_length  Content-Length as an integer
//   /body            the content block: as text when it is valid UTF-8, else base64 (RFC 4648)
//   /body_encoding   "text" or "base64"
//   /body_truncated  true when max_body_bytes cut the block (a cut never splits a UTF-8 character:
//                    a text block cut in the middle of one keeps the whole characters before it)
//
// Error records (Parse): a version line other than WARC/1.0 or WARC/1.1; a header line without
// ':' or with an empty or invalid field name; a continuation line with no field above it; a bare
// CR or LF inside a header line; a missing or repeated WARC-Type, WARC-Record-ID, WARC-Date or
// Content-Length; a Content-Length that is not a decimal number; a block whose size differs from
// Content-Length or a missing trailer. Header lines are numbered from 1 (the version line).
//
// Options (JSON object): {} or {"max_body_bytes": N}, N >= 0 an integer: keep at most N bytes of
// each block in /body (0 keeps none; absent: no limit). Unknown keys are errors.
//
// Ownership: a WarcParser owns its options and scratch buffers. Thread-safety: one instance per
// worker thread (sdk.h); Parse() mutates the scratch, BodyLength() and format() are const and
// keep no state.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/sdk.h"
#include "weir/status.h"

namespace weir::builtin {

class WarcParser final : public sdk::Parser {
 public:
  // `max_body_bytes`: keep at most this many block bytes in /body; nullopt: keep all.
  explicit WarcParser(std::optional<uint64_t> max_body_bytes = std::nullopt)
      : max_body_bytes_(max_body_bytes) {}

  std::string_view file_type() const override { return "WARC"; }
  // kHeaderBody: start "WARC/", end "\r\n\r\n", trailer "\r\n\r\n".
  sdk::RecordFormat format() const override;
  // The value of the Content-Length field of `header` (the header block, from "WARC/" through
  // its closing "\r\n\r\n"): name matched case-insensitively, value strict decimal digits with
  // optional surrounding spaces/tabs. -1 when the field is absent, repeated, not a number or does
  // not fit in int64. Other problems of the header are left to Parse(), so a record with, say, a
  // bad version line is still delimited by its length and reported as one precise error record.
  int64_t BodyLength(std::string_view header) const override;
  sdk::ParseResult Parse(const sdk::RecordContext& ctx, std::string_view record,
                         sdk::Document& doc) override;

  std::optional<uint64_t> max_body_bytes() const { return max_body_bytes_; }

 private:
  struct Field {
    std::string_view name;  // as written (a view of the record)
    std::string value;      // unfolded, trimmed; repeated fields joined with ", "
    int line = 0;           // header line of its first occurrence
  };

  std::optional<uint64_t> max_body_bytes_;
  std::vector<Field> fields_;  // scratch, reused from record to record
  size_t field_count_ = 0;     // fields_[0, field_count_) are this record's
};

// Creates a WarcParser from the dataset's read.options (JSON text; "" or "null" mean {}).
// Accepts {} or {"max_body_bytes": N}; errors name the option ("parser 'warc': ...").
Result<std::unique_ptr<sdk::Parser>> CreateWarcParser(const std::string& options_json);

}  // namespace weir::builtin
