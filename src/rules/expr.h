// The expression language of rules (issue 11; docs/rules.md, "Expressions"): the `where` of a
// pattern step or an `absent` clause, the `when` of a segment bucket, and the aggregates of a
// segment ("count(*) where event_type = 'listing_created'").
//
//   expr      := or
//   or        := and (OR and)*
//   and       := not (AND not)*
//   not       := NOT not | predicate
//   predicate := operand [ (= | <> | != | < | <= | > | >=) operand
//                        | [NOT] IN ( literal, ... )
//                        | IS [NOT] NULL ]
//   operand   := name | 'string' | number | TRUE | FALSE | NULL | - number | ( expr )
//   aggregate := (count(*) | count(name) | count(distinct name) | sum(name) | min(name)
//                 | max(name)) [where expr]
//
// Keywords are case-insensitive; names are column names (or, in a bucket's `when`, aggregate
// names) and are case-sensitive. Strings use single quotes ('' is a quote). Values are SQL's:
// NULL compares as unknown, AND/OR/NOT are three-valued, and a row passes a `where` only when
// it is true. Numbers (int64, double, timestamp_ms as milliseconds, date as days) compare as
// numbers, strings and json as bytes, bools with bools; comparing a string with a number is a
// compile error, not a silent false.
//
// Compile() checks names and types once, so evaluating never fails. Errors name the character
// position (1-based) and what was expected, with "did you mean" for names.
//
// Ownership: an Expr owns its syntax tree (values, not pointers into the source text).
// Thread-safety: compiled expressions are immutable; Eval/Test are safe from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/column.h"
#include "weir/status.h"

namespace weir::rules {

// A value during evaluation. `s` views the row's bytes or the expression's literal.
struct Value {
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString };
  Kind kind = Kind::kNull;
  bool b = false;
  double n = 0;
  std::string_view s;

  static Value Null() { return {}; }
  static Value Bool(bool v) { return {Kind::kBool, v, 0, {}}; }
  static Value Number(double v) { return {Kind::kNumber, false, v, {}}; }
  static Value String(std::string_view v) { return {Kind::kString, false, 0, v}; }
};

// The names an expression may use and their types, in a fixed order: Eval asks a Row for
// values by index into this list.
using Names = std::vector<ColumnSchema>;

// One row's values by name index (see Names). Implementations: BatchRow below, the segment's
// current aggregates.
class Row {
 public:
  virtual ~Row() = default;
  virtual Value Get(size_t name_index) const = 0;
};

// Row `row` of `batch`, whose column i holds name i (a batch with the Names' schema).
class BatchRow final : public Row {
 public:
  BatchRow(const ColumnBatch& batch, size_t row) : batch_(batch), row_(row) {}
  Value Get(size_t name_index) const override;

 private:
  const ColumnBatch& batch_;
  size_t row_;
};

class Expr {
 public:
  // Parses and checks `text` against `names`. Invalid (with the position) when it does not
  // parse, names something not in `names`, or compares values of different kinds.
  static Result<Expr> Compile(std::string_view text, const Names& names);

  // The value of the expression for `row`.
  Value Eval(const Row& row) const;
  // A `where`/`when`: true, false, or nullopt for unknown (NULL), which does not pass.
  std::optional<bool> Test(const Row& row) const;
  bool Passes(const Row& row) const { return Test(row).value_or(false); }

  // The indexes (into the Names) of the names the expression uses, ascending, no repeats.
  const std::vector<size_t>& uses() const { return uses_; }
  const std::string& text() const { return text_; }

  // Public for the parser (expr.cc); not part of the interface.
  struct Node;

 private:
  std::shared_ptr<const Node> root_;
  std::vector<size_t> uses_;
  std::string text_;
};

// A segment aggregate: a function over the events of the window, with an optional filter.
struct Aggregate {
  enum class Func : uint8_t { kCountStar, kCount, kCountDistinct, kSum, kMin, kMax };
  Func func = Func::kCountStar;
  std::optional<size_t> column;  // index into the Names; none for count(*)
  std::optional<Expr> where;     // events that count; all when absent

  // Parses e.g. "count(*) where event_type = 'listing_created'" or "sum(price)". sum, min and
  // max need a number column. Invalid with the position otherwise.
  static Result<Aggregate> Compile(std::string_view text, const Names& names);
};

}  // namespace weir::rules
