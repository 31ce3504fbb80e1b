// The multiline splitter: a RecordSplitter whose records start at a line matching a regex and run
// until the next such line (Java stack traces, multi-line application logs, pretty-printed JSON
// objects). It backs `read.multiline` in the dataset YAML and RecordFormat::StartRegex in the SDK.
//
// It implements the Split() contract of parse/splitter.h (buf starts where the previous call
// stopped consuming; records completed in buf go to `out`; at_eof=true flushes everything) and,
// with max_records_per_call > 0, the one-record-at-a-time mode of pattern_splitter.h that record
// readers use. Records are identical however the file is cut into buffers.
//
// Rules:
//  - Lines end at '\n'; a line's text, which the regex is matched against (RE2, unanchored unless
//    the regex says '^'), excludes its "\n" or "\r\n". A line longer than max_record_bytes is
//    judged by its first max_record_bytes bytes (so deciding never needs more memory than that).
//  - A record is a start line plus every following line that does not match (continuation lines),
//    up to the next start line or end of file. RecordView.bytes is the record from the first byte
//    of its first line to the end of its last line's text, inner line ends kept as they are;
//    `offset` is its first byte, `range_end` the end of its last line's text (terminator
//    excluded, as for lines) and `end_offset` where the next record starts (after the last
//    line's terminator), which is what checkpoints use. A last line without '\n' at end of file
//    is taken as is (a lone trailing '\r' is kept, as the line splitter does).
//  - Lines before the first start line: as the pattern splitter treats bytes before a start
//    pattern, they are ignored when they are only ASCII whitespace (blank lines), otherwise they
//    form one error view "bytes outside any record" (bytes: its first max_record_bytes bytes).
//    A file in which no line matches is therefore one such error view.
//  - A record of more than max_lines lines gives one view with problem "record longer than
//    max_lines lines"; a record longer than max_record_bytes one with "record longer than
//    max_record_bytes" (whichever limit is passed first names the problem). Either way its
//    offsets are exact (it still ends at the next start line), bytes are its first
//    max_record_bytes bytes (oversize=true when that cut it), and the splitter consumes the rest
//    as it scans, so memory stays bounded by about max_record_bytes + one read chunk + one line
//    (itself capped at max_record_bytes).
// Every emitted view gets the next record number.
//
// Ownership: owns the compiled regex, small state and the prefix copies of views that spanned
// several calls (valid until the next Split()). Thread-safety: none; one splitter per file per
// thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "parse/splitter.h"
#include "weir/status.h"

namespace weir {

// RecordView::problem of a record with more than max_lines lines.
inline constexpr const char kProblemTooManyLines[] = "record longer than max_lines lines";

// The default of read.multiline.max_lines and RecordFormat::max_lines.
inline constexpr uint32_t kDefaultMultilineMaxLines = 1000;

// OK when `regex` compiles with RE2; otherwise Invalid with RE2's message.
Status ValidateStartRegex(std::string_view regex);

// A multiline splitter. max_lines 0 means kDefaultMultilineMaxLines. A regex that does not
// compile matches no line (validate it first). See pattern_splitter.h for max_records_per_call.
std::unique_ptr<RecordSplitter> MakeMultilineSplitter(std::string_view start_regex,
                                                      uint32_t max_lines,
                                                      uint64_t max_record_bytes,
                                                      size_t max_records_per_call = 0);

}  // namespace weir
