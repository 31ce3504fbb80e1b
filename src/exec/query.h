// SQL over a dataset's lake through embedded DuckDB (`weir query`).
//
// Opening a LakeQuery creates an in-memory DuckDB database with one view per dataset table over
// exactly the files the catalog lists as published, so a reader never sees staged, uncommitted
// or half-written files, and a view `<table>_errors` over the published error records.
// Ownership: owns the DuckDB database and connection. Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "exec/store.h"
#include "weir/status.h"

namespace weir {

enum class QueryFormat { kTable, kCsv, kJson };

// Which state of the table a query reads: the current one (both unset), one Iceberg snapshot by
// id, or the snapshot that was current at a time (the last committed at or before it).
struct QueryAt {
  std::optional<int64_t> snapshot_id;
  std::optional<int64_t> as_of_ms;
};

class LakeQuery {
 public:
  // Errors for time travel: an unknown or expired snapshot, a time before the first snapshot,
  // a table without snapshots. Error records (`<table>_errors`) are always the current ones.
  static Result<std::unique_ptr<LakeQuery>> Open(const DatasetConfig& config, Store& store,
                                                 const QueryAt& at = {});
  ~LakeQuery();
  // Runs `sql` and writes its result to `out` in the given format. Several statements separated
  // by `;` run in order, each result printed (tables and CSV separated by a blank line); the
  // first failing statement stops the rest.
  Status Execute(const std::string& sql, QueryFormat format, FILE* out);
  // Runs `sql` and returns the first column of the first row as text ("" for NULL).
  Result<std::string> Scalar(const std::string& sql);

  struct Impl;

 private:
  explicit LakeQuery(std::unique_ptr<Impl> impl);
  Status ExecuteOne(const std::string& sql, QueryFormat format, FILE* out);
  std::unique_ptr<Impl> impl_;
};

// Splits SQL text at the `;` that end statements (not those inside strings, quoted identifiers,
// comments or dollar quotes); pieces with nothing but blanks and comments are dropped.
std::vector<std::string> SplitSqlStatements(const std::string& sql);

// The data files a time-travel query reads (the chosen snapshot's live files), resolving
// `at` (one of its fields must be set) against the table's Iceberg metadata.
Result<std::vector<CatalogFile>> TimeTravelFiles(const DatasetConfig& config, Store& store,
                                                 const QueryAt& at);

// DuckDB SQL for a string literal: 'it''s'.
std::string SqlQuote(const std::string& s);

}  // namespace weir
