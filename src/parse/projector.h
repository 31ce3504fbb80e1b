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
// Documents (parsers other than jsonl/csv: the built-in lines and regex parsers, plugins): the
// runner parses each record into an sdk::Document and calls ProjectDocument(). Column paths are
// the same JSON pointers, resolved by one pass over the document's nodes; a document with the
// same nodes, parents and keys as the previous one reuses its resolution (parsers repeat their
// layout). Types follow the jsonl rules (kString / kInt / kDouble / kBool nodes as JSON strings,
// integers, numbers, booleans), with one addition: documents built by parsers carry text (regex
// captures, WARC headers), so a string node may feed an int64, double, bool or timestamp_ms
// column; its text is parsed strictly as for csv ("42", not " 42" or "42.0"; bool:
// true/false/1/0) and empty text is NULL. Strings must be valid UTF-8. A kJson node is validated
// and then typed like a jsonl value. json columns serialize the node (objects recursively, first
// of duplicate keys, strings escaped, kJson minified).
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

namespace sdk {
class Document;
}  // namespace sdk

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
  // cfg.read.parser is jsonl, csv, a built-in document parser (IsBuiltinParser) or
  // "plugin:<name>"; the latter two are projected with ProjectDocument() only.
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

  // Appends one row to `out` (schema() columns) from a parsed document. Returns false, appends
  // nothing and sets *reason (e.g. "column 'status' (/status): expected an integer, got
  // \"abc\"") when a column fails. The steady state allocates nothing beyond `out`'s growth.
  // Not for csv projectors (their paths are header names, not pointers).
  bool ProjectDocument(const sdk::Document& doc, ColumnBatch& out, std::string* reason);

 private:
  struct Impl;
  explicit Projector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;  // keeps simdjson out of this header
};

}  // namespace weir
