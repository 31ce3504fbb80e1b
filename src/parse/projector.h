// Projector: parses records (jsonl or csv) and projects them into lake columns.
//
// Created from a DatasetConfig, a Projector turns a batch of RecordViews into rows of a
// ColumnBatch whose schema is cfg.write.columns in order (derived date_of / hour_of columns
// included), and classifies every record as a document (one row appended), a skip (blank line)
// or an error (with a precise human reason). So for every batch:
//   records.size() == documents returned + skips added + errors added.
//
// jsonl: each record is parsed with a simdjson DOM parser (full validation: a record that is not
// valid JSON is an error even if the projected fields look fine). Column paths are RFC 6901 JSON
// pointers, split into tokens once at Create() and resolved by one walk over the document.
// Duplicate keys: the first occurrence wins. Values are typed strictly (see the column type rules
// in projector.cc); a wrong type is an error, never a silent NULL. json columns hold the value
// re-serialized minified by simdjson (no whitespace; numbers in simdjson's form, e.g. 1e2 ->
// 100.0; strings re-escaped).
// csv: fields are matched to columns by header name (SetCsvHeader) or, when the dataset has no
// header row, by a 1-based field number written as the column's path ("3"). An empty unquoted
// field is NULL; a quoted empty field ("") is an empty string for string columns and NULL
// otherwise.
//
// A row is appended only after every column of the record converted successfully, so a failing
// record never leaves columns of unequal length.
//
// Ownership: owns its parsers and scratch buffers; string values it returns are copied into the
// ColumnBatch. Thread-safety: none; use one Projector per task/thread (the DatasetConfig it was
// made from may be shared).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/column.h"
#include "core/config.h"
#include "parse/record.h"
#include "weir/status.h"

namespace weir {

struct RecordOutcome {
  enum Kind : uint8_t { kDocument, kSkip, kError } kind;
};

// A skipped or errored record: its index in the span given to Process(), and why.
struct RecordIssue {
  size_t record_index;
  std::string reason;
};

class Projector {
 public:
  // Validates the column definitions (types, JSON pointers, derived columns' sources).
  static Result<std::unique_ptr<Projector>> Create(const DatasetConfig& cfg);
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  // Output schema: cfg.write.columns in order (name, type), derived columns included.
  const std::vector<ColumnSchema>& schema() const;

  // csv with header: give it the header record before any data record (call again on resume).
  // Fails when a required column's header name is absent.
  Status SetCsvHeader(std::string_view header_record);

  // Parses records, appends one row to `out` (schema() columns) per document, and reports
  // skipped and errored records. Rows are appended in record order. Returns the number of
  // documents.
  size_t Process(std::span<const RecordView> records, ColumnBatch& out,
                 std::vector<RecordIssue>& skips, std::vector<RecordIssue>& errors);

 private:
  struct Impl;
  explicit Projector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;  // keeps simdjson out of this header
};

}  // namespace weir
