// The delimiter engine for SDK parsers: a RecordSplitter driven by an sdk::RecordFormat
// (start/end byte patterns, header + body + trailer, or a length prefix).
//
// It implements the Split() contract of parse/splitter.h: `buf` starts where the previous call
// stopped consuming, records completed in `buf` are appended to `out`, the return value is the
// number of bytes consumed, and at_eof=true flushes everything. Records are identical (bytes,
// offsets, numbers, problems) however the file is cut into buffers, and the caller never holds
// more than about max_record_bytes + one read chunk + the longest pattern.
//
// Delimiting rules (sdk.h describes them for plugin authors; the details are fixed here):
//  - kPatterns, non-empty `start`, `end` (default): a record is [start, end] with both patterns
//    inside it; `end` is searched from the first byte after `start`. With `end_is_next_start`
//    a record is [start, next start) or runs to end of file (EOF always ends such a record).
//    With an empty `start`, a record begins at the first byte after the previous one, so no
//    byte is outside a record (start="" end="\n" gives the line splitter's records and offsets,
//    with the "\n" kept in the bytes). An unterminated record at EOF is the final record if
//    `eof_ends_record`, otherwise an error record ("missing end pattern at end of file").
//  - kHeaderBody: the header is [start, first `end` after it]; body_length(header) (the header
//    includes both patterns) gives the body size; then `trailer` must follow. A record is
//    header + body + trailer. A negative body length gives an error record over the header
//    ("malformed record header"); a wrong trailer an error record over header + body ("missing
//    record trailer"); in both cases scanning resumes after that range by searching `start`, so
//    the body or bytes that follow are reported as bytes outside any record unless they are
//    whitespace. A header without `end` at EOF is "missing end pattern at end of file", a body
//    cut by EOF "record truncated at end of file" (eof_ends_record does not apply).
//  - kLengthPrefixed: a `prefix_bytes` unsigned length (big or little endian), then that many
//    payload bytes. RecordView.bytes is the payload only, but `offset` is the offset of the
//    PREFIX, so [offset, end_offset) covers the whole record and consecutive records tile the
//    file. A prefix or payload cut by EOF is "record truncated at end of file" (bytes: what is
//    there of the payload, or of the prefix when the prefix itself is cut, at most
//    max_record_bytes).
//  - Bytes before a start pattern or between records: ignored (but consumed) when they are only
//    ASCII whitespace, otherwise one error view per run ("bytes outside any record") whose bytes
//    are the run's first max_record_bytes bytes (oversize=true when the run is longer).
//  - A record longer than max_record_bytes (for kLengthPrefixed: a payload longer than it) gives
//    one view with the first max_record_bytes bytes, oversize=true, problem "record longer than
//    max_record_bytes" (this takes precedence over the EOF problems) and exact offsets. Where
//    it ends: for kPatterns with start and end, at the next `start` after its own (the end is
//    not trusted: resync at a record start) or EOF; with end_is_next_start, at the next start;
//    with an empty start, after the next `end`; for kHeaderBody and kLengthPrefixed at the end
//    the length announces (or EOF), except that a header longer than the limit ends at the
//    next `start`.
//  - kStartRegex: delegated to the multiline splitter (parse/multiline_splitter.h).
//  - An empty pattern never matches (so invalid formats cannot loop; ValidateRecordFormat
//    rejects them up front).
// Every emitted view, error views included, gets the next record number.
//
// Ownership: the splitter owns its small state and copies of the prefixes of records and runs
// that spanned several Split() calls; views into those copies stay valid until the next Split().
// Thread-safety: none; one splitter per file per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "parse/splitter.h"
#include "weir/sdk.h"
#include "weir/status.h"

namespace weir {

// RecordView::problem values set by the pattern splitter (compare by pointer or by text).
inline constexpr const char kProblemOutsideRecord[] = "bytes outside any record";
inline constexpr const char kProblemOversize[] = "record longer than max_record_bytes";
inline constexpr const char kProblemMissingEnd[] = "missing end pattern at end of file";
inline constexpr const char kProblemMalformedHeader[] = "malformed record header";
inline constexpr const char kProblemMissingTrailer[] = "missing record trailer";
inline constexpr const char kProblemTruncated[] = "record truncated at end of file";

// Checks that a format can delimit records: non-empty end pattern (unless end_is_next_start,
// which needs a non-empty start), non-empty start and end for kHeaderBody, prefix_bytes 1, 2, 4
// or 8 for kLengthPrefixed. The splitter still behaves (without looping) on invalid formats.
Status ValidateRecordFormat(const sdk::RecordFormat& format);

// A splitter for `format`. The size limit is format.max_record_bytes when non-zero, else
// `max_record_bytes`. `body_length` is the parser's BodyLength (kHeaderBody only; an empty
// function counts every header as malformed); it is called once per header.
// With `max_records_per_call` > 0 a Split() call returns as soon as it has emitted that many
// views AND stands at a record boundary (a run of bytes outside records is emitted together with
// the record that ends it, so a call may emit one view more). Consumption then ends exactly at
// the last emitted view, the splitter holds no state, and the caller may delimit what follows
// with another splitter (a record reader switching record types does this).
std::unique_ptr<RecordSplitter> MakePatternSplitter(
    const sdk::RecordFormat& format, uint64_t max_record_bytes,
    std::function<int64_t(std::string_view header)> body_length,
    size_t max_records_per_call = 0);

}  // namespace weir
