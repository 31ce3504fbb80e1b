// The rules' expression language (src/rules/expr.h): SQL's three-valued logic, comparisons by
// kind, IN with NULLs, precedence, literals, aggregates, and compile errors that name the
// position, the problem and a fix. Expected values are worked out by hand from SQL's rules.
#include "rules/expr.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace weir::rules {
namespace {

// A row given as literal values, one per name (nullopt: NULL).
struct TestRow : Row {
  std::vector<Value> values;
  Value Get(size_t i) const override { return values[i]; }
};

const Names kNames = {{"event_type", ColumnType::kString},
                      {"price", ColumnType::kDouble},
                      {"listings", ColumnType::kInt64},
                      {"created_at", ColumnType::kTimestampMs},
                      {"verified", ColumnType::kBool},
                      {"user_id", ColumnType::kString}};

TestRow Row6(Value type, Value price, Value listings, Value created, Value verified, Value user) {
  TestRow r;
  r.values = {type, price, listings, created, verified, user};
  return r;
}

const Value N = Value::Null();
Value S(std::string_view s) { return Value::String(s); }
Value D(double d) { return Value::Number(d); }
Value B(bool b) { return Value::Bool(b); }

std::optional<bool> Eval(const std::string& text, const TestRow& row) {
  auto e = Expr::Compile(text, kNames);
  EXPECT_TRUE(e.ok()) << text << ": " << e.status().ToString();
  if (!e.ok()) return std::nullopt;
  return e->Test(row);
}

std::string CompileError(const std::string& text) {
  auto e = Expr::Compile(text, kNames);
  EXPECT_FALSE(e.ok()) << text << " compiled";
  return e.ok() ? "" : e.status().message();
}

TEST(RulesExprTest, ComparesStringsNumbersAndBools) {
  const TestRow r = Row6(S("meeting_proposal"), D(12.5), D(3), D(1700000000123), B(true), S("u1"));
  EXPECT_EQ(Eval("event_type = 'meeting_proposal'", r), true);
  EXPECT_EQ(Eval("event_type <> 'meeting_proposal'", r), false);
  EXPECT_EQ(Eval("event_type != 'meeting_accepted'", r), true);
  EXPECT_EQ(Eval("price > 12", r), true);
  EXPECT_EQ(Eval("price >= 12.5 AND price <= 12.5", r), true);
  EXPECT_EQ(Eval("price < -1", r), false);
  EXPECT_EQ(Eval("listings >= 3", r), true);
  EXPECT_EQ(Eval("created_at > 1700000000122", r), true);  // milliseconds are exact
  EXPECT_EQ(Eval("created_at = 1700000000123", r), true);
  EXPECT_EQ(Eval("verified", r), true);
  EXPECT_EQ(Eval("verified = FALSE", r), false);
  EXPECT_EQ(Eval("user_id < 'u2'", r), true);  // strings compare by bytes
}

TEST(RulesExprTest, NullIsUnknownAndUnknownDoesNotPass) {
  const TestRow r = Row6(N, D(5), N, N, N, S("u1"));
  EXPECT_EQ(Eval("event_type = 'x'", r), std::nullopt);
  EXPECT_EQ(Eval("NOT event_type = 'x'", r), std::nullopt);
  EXPECT_EQ(Eval("event_type IS NULL", r), true);
  EXPECT_EQ(Eval("event_type IS NOT NULL", r), false);
  // AND: false wins over unknown; OR: true wins over unknown.
  EXPECT_EQ(Eval("event_type = 'x' AND price > 10", r), false);
  EXPECT_EQ(Eval("event_type = 'x' AND price > 1", r), std::nullopt);
  EXPECT_EQ(Eval("event_type = 'x' OR price > 1", r), true);
  EXPECT_EQ(Eval("event_type = 'x' OR price > 10", r), std::nullopt);
  EXPECT_EQ(Eval("verified", r), std::nullopt);
  auto e = Expr::Compile("event_type = 'x'", kNames);
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->Passes(r));
}

TEST(RulesExprTest, InAndNotInFollowSqlWithNullsInTheList) {
  const TestRow r = Row6(S("b"), D(2), N, N, N, N);
  EXPECT_EQ(Eval("event_type IN ('a', 'b')", r), true);
  EXPECT_EQ(Eval("event_type NOT IN ('a', 'b')", r), false);
  EXPECT_EQ(Eval("event_type IN ('a', 'c')", r), false);
  EXPECT_EQ(Eval("event_type NOT IN ('a', 'c')", r), true);
  EXPECT_EQ(Eval("price IN (1, NULL)", r), std::nullopt);
  EXPECT_EQ(Eval("price NOT IN (1, NULL)", r), std::nullopt);
  EXPECT_EQ(Eval("price IN (2, NULL)", r), true);
  EXPECT_EQ(Eval("user_id IN ('a')", r), std::nullopt);
}

TEST(RulesExprTest, AndBindsTighterThanOrAndParenthesesRegroup) {
  // a OR (b AND c): true because the first term is.
  const TestRow r = Row6(S("x"), D(1), D(0), N, B(false), S("u"));
  EXPECT_EQ(Eval("event_type = 'x' OR price = 2 AND listings = 0", r), true);
  EXPECT_EQ(Eval("(event_type = 'x' OR price = 2) AND listings = 1", r), false);
  EXPECT_EQ(Eval("NOT verified AND listings = 0", r), true);
  EXPECT_EQ(Eval("NOT (verified OR listings = 0)", r), false);
}

TEST(RulesExprTest, KeywordsAreCaseInsensitiveAndQuotesDouble) {
  const TestRow r = Row6(S("it's"), D(1), N, N, N, S("u"));
  EXPECT_EQ(Eval("event_type = 'it''s' and price is not null", r), true);
  EXPECT_EQ(Eval("event_type in ('a', 'it''s') Or FALSE", r), true);
}

TEST(RulesExprTest, UsesListsTheNamesOnce) {
  auto e = Expr::Compile("price > 1 AND (user_id = 'a' OR price < 5)", kNames);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->uses(), (std::vector<size_t>{1, 5}));
}

TEST(RulesExprTest, BatchRowsReadEveryColumnType) {
  ColumnBatch b({{"s", ColumnType::kString}, {"i", ColumnType::kInt64}, {"d", ColumnType::kDouble},
                 {"t", ColumnType::kTimestampMs}, {"ok", ColumnType::kBool}, {"day", ColumnType::kDate}});
  b.columns[0].AppendString("x");
  b.columns[1].AppendInt64(-3);
  b.columns[2].AppendDouble(0.5);
  b.columns[3].AppendInt64(1000);
  b.columns[4].AppendBool(true);
  b.columns[5].AppendDate(20000);
  b.columns[0].AppendNull();
  b.columns[1].AppendNull();
  b.columns[2].AppendNull();
  b.columns[3].AppendNull();
  b.columns[4].AppendNull();
  b.columns[5].AppendNull();
  auto e = Expr::Compile("s = 'x' AND i = -3 AND d < 1 AND t = 1000 AND ok AND day = 20000", b.schema);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->Test(BatchRow(b, 0)), true);
  EXPECT_EQ(e->Test(BatchRow(b, 1)), std::nullopt);
}

TEST(RulesExprTest, ErrorsNameThePositionTheProblemAndAFix) {
  std::string m = CompileError("event_typ = 'x'");
  EXPECT_NE(m.find("at character 1"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown name 'event_typ'"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'event_type'"), std::string::npos) << m;

  m = CompileError("price = 'cheap'");
  EXPECT_NE(m.find("at character 7"), std::string::npos) << m;
  EXPECT_NE(m.find("cannot compare a number with a string"), std::string::npos) << m;

  m = CompileError("user_id = NULL");
  EXPECT_NE(m.find("IS NULL"), std::string::npos) << m;

  m = CompileError("event_type = 'x");
  EXPECT_NE(m.find("at character 14"), std::string::npos) << m;
  EXPECT_NE(m.find("not closed"), std::string::npos) << m;

  m = CompileError("event_type = \"x\"");
  EXPECT_NE(m.find("single quotes"), std::string::npos) << m;

  m = CompileError("event_type = 'x' listings");
  EXPECT_NE(m.find("at character 18"), std::string::npos) << m;
  EXPECT_NE(m.find("expected AND, OR or the end"), std::string::npos) << m;

  m = CompileError("user_id");
  EXPECT_NE(m.find("not true or false"), std::string::npos) << m;

  m = CompileError("price AND verified");
  EXPECT_NE(m.find("AND joins conditions"), std::string::npos) << m;

  m = CompileError("event_type IN ('a', 2)");
  EXPECT_NE(m.find("at character 21"), std::string::npos) << m;

  m = CompileError("price >");
  EXPECT_NE(m.find("found the end"), std::string::npos) << m;

  m = CompileError("price IS 3");
  EXPECT_NE(m.find("expected NULL after IS"), std::string::npos) << m;
}

TEST(RulesExprTest, AggregatesParseTheirFunctionColumnAndFilter) {
  auto a = Aggregate::Compile("count(*) where event_type = 'listing_created'", kNames);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->func, Aggregate::Func::kCountStar);
  EXPECT_FALSE(a->column.has_value());
  ASSERT_TRUE(a->where.has_value());
  EXPECT_EQ(a->where->Test(Row6(S("listing_created"), N, N, N, N, N)), true);
  EXPECT_EQ(a->where->Test(Row6(S("other"), N, N, N, N, N)), false);

  a = Aggregate::Compile("COUNT(DISTINCT user_id)", kNames);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->func, Aggregate::Func::kCountDistinct);
  EXPECT_EQ(a->column, 5u);
  EXPECT_FALSE(a->where.has_value());

  a = Aggregate::Compile("sum(price) where verified", kNames);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->func, Aggregate::Func::kSum);
  EXPECT_EQ(a->column, 1u);

  a = Aggregate::Compile("max(created_at)", kNames);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->func, Aggregate::Func::kMax);

  a = Aggregate::Compile("sum(user_id)", kNames);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("needs a number column"), std::string::npos);

  a = Aggregate::Compile("avg(price)", kNames);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("expected an aggregate"), std::string::npos);

  a = Aggregate::Compile("count(*) when listings > 1", kNames);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("at character 10"), std::string::npos) << a.status().message();

  a = Aggregate::Compile("count(*) where pricee > 1", kNames);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("did you mean 'price'"), std::string::npos)
      << a.status().message();
}

}  // namespace
}  // namespace weir::rules
