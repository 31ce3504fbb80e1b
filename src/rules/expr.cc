#include "rules/expr.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "core/text_util.h"

namespace weir::rules {

using Kind = Value::Kind;

struct Expr::Node {
  enum class Op : uint8_t { kLiteral, kName, kAnd, kOr, kNot, kCompare, kIn, kIsNull };
  enum class Cmp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
  Op op = Op::kLiteral;
  Kind kind = Kind::kNull;  // the static kind of the node's value (kNull: the literal NULL)
  Value literal;            // kLiteral; a string's bytes are in `text`
  std::string text;
  size_t name = 0;          // kName
  Cmp cmp = Cmp::kEq;       // kCompare
  bool negate = false;      // NOT IN, IS NOT NULL
  std::vector<std::shared_ptr<const Node>> kids;
};

namespace {

using Node = Expr::Node;
using NodePtr = std::shared_ptr<const Node>;

Kind KindOf(ColumnType t) {
  switch (t) {
    case ColumnType::kString:
    case ColumnType::kJson:
      return Kind::kString;
    case ColumnType::kBool:
      return Kind::kBool;
    default:
      return Kind::kNumber;
  }
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kNull:
      return "NULL";
    case Kind::kBool:
      return "a bool";
    case Kind::kNumber:
      return "a number";
    case Kind::kString:
      return "a string";
  }
  return "?";
}

struct Token {
  enum class Type : uint8_t { kName, kString, kNumber, kSymbol, kEnd };
  Type type = Type::kEnd;
  std::string text;  // a name as written, a string's value, a number or a symbol
  size_t pos = 0;    // 1-based character position
};

bool IsKeyword(const Token& t, std::string_view kw) {
  if (t.type != Token::Type::kName || t.text.size() != kw.size()) return false;
  for (size_t i = 0; i < kw.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(t.text[i])) != kw[i]) return false;
  }
  return true;
}

bool IsReserved(const Token& t) {
  for (std::string_view kw : {"AND", "OR", "NOT", "IN", "IS", "NULL", "TRUE", "FALSE", "WHERE",
                              "DISTINCT"}) {
    if (IsKeyword(t, kw)) return true;
  }
  return false;
}

std::string Describe(const Token& t) {
  switch (t.type) {
    case Token::Type::kEnd:
      return "the end";
    case Token::Type::kString:
      return "the string '" + t.text + "'";
    default:
      return "'" + t.text + "'";
  }
}

class Parser {
 public:
  Parser(std::string_view text, const Names& names) : text_(text), names_(names) {}

  Status Tokenize() {
    size_t i = 0;
    while (i < text_.size()) {
      const char c = text_[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
        continue;
      }
      Token t;
      t.pos = i + 1;
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t j = i;
        while (j < text_.size() &&
               (std::isalnum(static_cast<unsigned char>(text_[j])) || text_[j] == '_' || text_[j] == '.')) {
          ++j;
        }
        t.type = Token::Type::kName;
        t.text = std::string(text_.substr(i, j - i));
        i = j;
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 (c == '.' && i + 1 < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i + 1])))) {
        size_t j = i;
        while (j < text_.size() &&
               (std::isdigit(static_cast<unsigned char>(text_[j])) || text_[j] == '.' || text_[j] == 'e' ||
                text_[j] == 'E' ||
                ((text_[j] == '-' || text_[j] == '+') && (text_[j - 1] == 'e' || text_[j - 1] == 'E')))) {
          ++j;
        }
        t.type = Token::Type::kNumber;
        t.text = std::string(text_.substr(i, j - i));
        i = j;
      } else if (c == '\'') {
        size_t j = i + 1;
        std::string value;
        for (;;) {
          if (j >= text_.size()) return Error(t.pos, "this string is not closed (a ' is missing)");
          if (text_[j] == '\'') {
            if (j + 1 < text_.size() && text_[j + 1] == '\'') {
              value += '\'';
              j += 2;
              continue;
            }
            break;
          }
          value += text_[j++];
        }
        t.type = Token::Type::kString;
        t.text = std::move(value);
        i = j + 1;
      } else {
        static constexpr std::string_view kTwo[] = {"<>", "!=", "<=", ">="};
        t.type = Token::Type::kSymbol;
        bool two = false;
        for (std::string_view s : kTwo) {
          if (text_.substr(i, 2) == s) {
            t.text = std::string(s);
            two = true;
          }
        }
        if (!two) {
          if (std::string_view("=<>(),*-").find(c) == std::string_view::npos) {
            if (c == '"') {
              return Error(t.pos, "strings take single quotes: 'text' (double quotes are not used)");
            }
            return Error(t.pos, std::string("unexpected character '") + c + "'");
          }
          t.text = std::string(1, c);
        }
        i += t.text.size();
      }
      tokens_.push_back(std::move(t));
    }
    Token end;
    end.pos = text_.size() + 1;
    tokens_.push_back(end);
    return Status::OK();
  }

  // A whole expression, to the end of the text.
  Result<NodePtr> ParseAll() {
    WEIR_ASSIGN_OR_RETURN(NodePtr n, ParseOr());
    if (Peek().type != Token::Type::kEnd) {
      return Error(Peek().pos, "expected AND, OR or the end, found " + Describe(Peek()));
    }
    return n;
  }

  Result<Aggregate> ParseAggregate() {
    Aggregate a;
    const Token fn = Next();
    const bool count = IsKeyword(fn, "COUNT");
    if (!count && !IsKeyword(fn, "SUM") && !IsKeyword(fn, "MIN") && !IsKeyword(fn, "MAX")) {
      return Error(fn.pos, "expected an aggregate: count(*), count(col), count(distinct col), "
                           "sum(col), min(col) or max(col); found " + Describe(fn));
    }
    WEIR_RETURN_IF_ERROR(Expect("("));
    if (count && PeekSymbol("*")) {
      Next();
      a.func = Aggregate::Func::kCountStar;
    } else {
      bool distinct = false;
      if (count && IsKeyword(Peek(), "DISTINCT")) {
        Next();
        distinct = true;
      }
      const Token col = Next();
      WEIR_ASSIGN_OR_RETURN(size_t index, ResolveName(col));
      a.column = index;
      if (count) {
        a.func = distinct ? Aggregate::Func::kCountDistinct : Aggregate::Func::kCount;
      } else {
        a.func = IsKeyword(fn, "SUM") ? Aggregate::Func::kSum
                 : IsKeyword(fn, "MIN") ? Aggregate::Func::kMin
                                        : Aggregate::Func::kMax;
        if (KindOf(names_[index].type) != Kind::kNumber) {
          return Error(col.pos, fn.text + "(" + col.text + ") needs a number column; '" + col.text +
                                    "' is " + ColumnTypeName(names_[index].type));
        }
      }
    }
    WEIR_RETURN_IF_ERROR(Expect(")"));
    if (Peek().type == Token::Type::kEnd) return a;
    if (!IsKeyword(Peek(), "WHERE")) {
      return Error(Peek().pos, "expected `where <condition>` or the end after the aggregate, found " +
                                   Describe(Peek()));
    }
    // The filter is an expression of its own, compiled by the caller from here on.
    where_offset_ = Peek().pos - 1 + std::string_view("where").size();
    return a;
  }

  Status CheckCondition(const Node& n, size_t pos) {
    if (n.kind == Kind::kBool || n.kind == Kind::kNull) return Status::OK();
    return Error(pos, std::string("the condition is ") + KindName(n.kind) +
                          ", not true or false; compare it, e.g. `x = 'value'` or `x IS NOT NULL`");
  }

  const std::vector<size_t>& uses() const { return uses_; }
  // After ParseAggregate: where the text of its `where` condition starts (0: none).
  size_t where_offset() const { return where_offset_; }
  Status Error(size_t pos, const std::string& what) const {
    return Status::Invalid("at character " + std::to_string(pos) + " of \"" + std::string(text_) +
                           "\": " + what);
  }

 private:
  const Token& Peek() const { return tokens_[at_]; }
  Token Next() {
    Token t = tokens_[at_];
    if (at_ + 1 < tokens_.size()) ++at_;
    return t;
  }
  bool PeekSymbol(std::string_view s) const {
    return Peek().type == Token::Type::kSymbol && Peek().text == s;
  }
  Status Expect(std::string_view s) {
    if (!PeekSymbol(s)) {
      return Error(Peek().pos, "expected '" + std::string(s) + "', found " + Describe(Peek()));
    }
    Next();
    return Status::OK();
  }

  Result<size_t> ResolveName(const Token& t) {
    if (t.type != Token::Type::kName || IsReserved(t)) {
      return Error(t.pos, "expected a column name, found " + Describe(t));
    }
    for (size_t i = 0; i < names_.size(); ++i) {
      if (names_[i].name == t.text) {
        if (std::find(uses_.begin(), uses_.end(), i) == uses_.end()) uses_.push_back(i);
        return i;
      }
    }
    std::vector<std::string> all;
    for (const auto& n : names_) all.push_back(n.name);
    std::string msg = "unknown name '" + t.text + "'" + DidYouMean(t.text, all);
    if (!all.empty()) msg += "; the names are " + JoinNames(all);
    return Error(t.pos, msg);
  }

  Result<NodePtr> ParseOr() {
    WEIR_ASSIGN_OR_RETURN(NodePtr left, ParseAnd());
    while (IsKeyword(Peek(), "OR")) {
      const size_t pos = Next().pos;
      WEIR_ASSIGN_OR_RETURN(NodePtr right, ParseAnd());
      WEIR_ASSIGN_OR_RETURN(left, Logical(Node::Op::kOr, std::move(left), std::move(right), pos));
    }
    return left;
  }

  Result<NodePtr> ParseAnd() {
    WEIR_ASSIGN_OR_RETURN(NodePtr left, ParseNot());
    while (IsKeyword(Peek(), "AND")) {
      const size_t pos = Next().pos;
      WEIR_ASSIGN_OR_RETURN(NodePtr right, ParseNot());
      WEIR_ASSIGN_OR_RETURN(left, Logical(Node::Op::kAnd, std::move(left), std::move(right), pos));
    }
    return left;
  }

  Result<NodePtr> Logical(Node::Op op, NodePtr left, NodePtr right, size_t pos) {
    const char* word = op == Node::Op::kAnd ? "AND" : "OR";
    for (const NodePtr& side : {left, right}) {
      if (side->kind != Kind::kBool && side->kind != Kind::kNull) {
        return Error(pos, std::string(word) + " joins conditions; one side is " + KindName(side->kind));
      }
    }
    auto n = std::make_shared<Node>();
    n->op = op;
    n->kind = Kind::kBool;
    n->kids = {std::move(left), std::move(right)};
    return NodePtr(std::move(n));
  }

  Result<NodePtr> ParseNot() {
    if (!IsKeyword(Peek(), "NOT")) return ParsePredicate();
    const size_t pos = Next().pos;
    WEIR_ASSIGN_OR_RETURN(NodePtr inner, ParseNot());
    if (inner->kind != Kind::kBool && inner->kind != Kind::kNull) {
      return Error(pos, std::string("NOT needs a condition; this is ") + KindName(inner->kind));
    }
    auto n = std::make_shared<Node>();
    n->op = Node::Op::kNot;
    n->kind = Kind::kBool;
    n->kids = {std::move(inner)};
    return NodePtr(std::move(n));
  }

  Result<NodePtr> ParsePredicate() {
    WEIR_ASSIGN_OR_RETURN(NodePtr left, ParseOperand());
    const Token& t = Peek();
    if (t.type == Token::Type::kSymbol) {
      static const std::pair<std::string_view, Node::Cmp> kOps[] = {
          {"=", Node::Cmp::kEq}, {"<>", Node::Cmp::kNe}, {"!=", Node::Cmp::kNe}, {"<", Node::Cmp::kLt},
          {"<=", Node::Cmp::kLe}, {">", Node::Cmp::kGt}, {">=", Node::Cmp::kGe}};
      for (const auto& [sym, cmp] : kOps) {
        if (t.text != sym) continue;
        const Token op = Next();
        WEIR_ASSIGN_OR_RETURN(NodePtr right, ParseOperand());
        if (left->kind == Kind::kNull || right->kind == Kind::kNull) {
          return Error(op.pos, "a comparison with NULL is never true; write `x IS NULL` or "
                               "`x IS NOT NULL`");
        }
        if (left->kind != right->kind) {
          return Error(op.pos, std::string("cannot compare ") + KindName(left->kind) + " with " +
                                   KindName(right->kind));
        }
        auto n = std::make_shared<Node>();
        n->op = Node::Op::kCompare;
        n->kind = Kind::kBool;
        n->cmp = cmp;
        n->kids = {std::move(left), std::move(right)};
        return NodePtr(std::move(n));
      }
    }
    if (IsKeyword(t, "IS")) {
      Next();
      bool negate = false;
      if (IsKeyword(Peek(), "NOT")) {
        Next();
        negate = true;
      }
      if (!IsKeyword(Peek(), "NULL")) {
        return Error(Peek().pos, "expected NULL after IS" + std::string(negate ? " NOT" : "") +
                                     ", found " + Describe(Peek()));
      }
      Next();
      auto n = std::make_shared<Node>();
      n->op = Node::Op::kIsNull;
      n->kind = Kind::kBool;
      n->negate = negate;
      n->kids = {std::move(left)};
      return NodePtr(std::move(n));
    }
    bool negate = false;
    if (IsKeyword(t, "NOT") && IsKeyword(tokens_[std::min(at_ + 1, tokens_.size() - 1)], "IN")) {
      Next();
      negate = true;
    }
    if (IsKeyword(Peek(), "IN")) {
      Next();
      WEIR_RETURN_IF_ERROR(Expect("("));
      auto n = std::make_shared<Node>();
      n->op = Node::Op::kIn;
      n->kind = Kind::kBool;
      n->negate = negate;
      n->kids.push_back(left);
      for (;;) {
        const size_t pos = Peek().pos;
        WEIR_ASSIGN_OR_RETURN(NodePtr item, ParseOperand());
        if (item->op != Node::Op::kLiteral) return Error(pos, "IN takes a list of literal values");
        if (item->kind != Kind::kNull && item->kind != left->kind) {
          return Error(pos, std::string("IN compares ") + KindName(left->kind) + " with " +
                                KindName(item->kind));
        }
        n->kids.push_back(std::move(item));
        if (PeekSymbol(")")) break;
        WEIR_RETURN_IF_ERROR(Expect(","));
      }
      Next();
      return NodePtr(std::move(n));
    }
    return left;
  }

  Result<NodePtr> ParseOperand() {
    const Token t = Next();
    auto n = std::make_shared<Node>();
    n->op = Node::Op::kLiteral;
    switch (t.type) {
      case Token::Type::kString:
        n->kind = Kind::kString;
        n->literal = Value::String({});
        n->text = t.text;
        return NodePtr(std::move(n));
      case Token::Type::kNumber:
        return Number(t, false);
      case Token::Type::kName:
        if (IsKeyword(t, "NULL")) return NodePtr(std::move(n));  // kind kNull
        if (IsKeyword(t, "TRUE") || IsKeyword(t, "FALSE")) {
          n->kind = Kind::kBool;
          n->literal = Value::Bool(IsKeyword(t, "TRUE"));
          return NodePtr(std::move(n));
        }
        {
          WEIR_ASSIGN_OR_RETURN(size_t index, ResolveName(t));
          n->op = Node::Op::kName;
          n->name = index;
          n->kind = KindOf(names_[index].type);
        }
        return NodePtr(std::move(n));
      case Token::Type::kSymbol:
        if (t.text == "(") {
          WEIR_ASSIGN_OR_RETURN(NodePtr inner, ParseOr());
          WEIR_RETURN_IF_ERROR(Expect(")"));
          return inner;
        }
        if (t.text == "-" && Peek().type == Token::Type::kNumber) return Number(Next(), true);
        break;
      case Token::Type::kEnd:
        break;
    }
    return Error(t.pos, "expected a column name, a 'string', a number, TRUE, FALSE, NULL or "
                        "'(', found " + Describe(t));
  }

  Result<NodePtr> Number(const Token& t, bool negative) {
    char* end = nullptr;
    const double v = std::strtod(t.text.c_str(), &end);
    if (end == nullptr || *end != '\0' || !std::isfinite(v)) {
      return Error(t.pos, "'" + t.text + "' is not a number");
    }
    auto n = std::make_shared<Node>();
    n->op = Node::Op::kLiteral;
    n->kind = Kind::kNumber;
    n->literal = Value::Number(negative ? -v : v);
    return NodePtr(std::move(n));
  }

  std::string_view text_;
  const Names& names_;
  std::vector<Token> tokens_;
  size_t at_ = 0;
  std::vector<size_t> uses_;
  size_t where_offset_ = 0;
};

// -1, 0, 1; both values of the same non-null kind.
int Compare(const Value& a, const Value& b) {
  switch (a.kind) {
    case Kind::kBool:
      return static_cast<int>(a.b) - static_cast<int>(b.b);
    case Kind::kNumber:
      return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
    case Kind::kString: {
      const int c = a.s.compare(b.s);
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    case Kind::kNull:
      break;
  }
  return 0;
}

Value Evaluate(const Node& n, const Row& row) {
  switch (n.op) {
    case Node::Op::kLiteral:
      return n.kind == Kind::kString ? Value::String(n.text) : n.literal;
    case Node::Op::kName:
      return row.Get(n.name);
    case Node::Op::kNot: {
      const Value v = Evaluate(*n.kids[0], row);
      return v.kind == Kind::kNull ? v : Value::Bool(!v.b);
    }
    case Node::Op::kAnd:
    case Node::Op::kOr: {
      // Three-valued: a decisive side (false for AND, true for OR) wins over NULL.
      const bool decisive = n.op == Node::Op::kOr;
      bool unknown = false;
      for (const NodePtr& k : n.kids) {
        const Value v = Evaluate(*k, row);
        if (v.kind == Kind::kNull) {
          unknown = true;
        } else if (v.b == decisive) {
          return Value::Bool(decisive);
        }
      }
      return unknown ? Value::Null() : Value::Bool(!decisive);
    }
    case Node::Op::kCompare: {
      const Value a = Evaluate(*n.kids[0], row);
      const Value b = Evaluate(*n.kids[1], row);
      if (a.kind == Kind::kNull || b.kind == Kind::kNull) return Value::Null();
      const int c = Compare(a, b);
      switch (n.cmp) {
        case Node::Cmp::kEq:
          return Value::Bool(c == 0);
        case Node::Cmp::kNe:
          return Value::Bool(c != 0);
        case Node::Cmp::kLt:
          return Value::Bool(c < 0);
        case Node::Cmp::kLe:
          return Value::Bool(c <= 0);
        case Node::Cmp::kGt:
          return Value::Bool(c > 0);
        case Node::Cmp::kGe:
          return Value::Bool(c >= 0);
      }
      return Value::Null();
    }
    case Node::Op::kIn: {
      const Value v = Evaluate(*n.kids[0], row);
      if (v.kind == Kind::kNull) return v;
      bool saw_null = false;
      for (size_t i = 1; i < n.kids.size(); ++i) {
        const Value item = Evaluate(*n.kids[i], row);
        if (item.kind == Kind::kNull) {
          saw_null = true;
        } else if (Compare(v, item) == 0) {
          return Value::Bool(!n.negate);
        }
      }
      // x IN (1, NULL) with x = 2 is unknown, as in SQL; so is x NOT IN (1, NULL).
      return saw_null ? Value::Null() : Value::Bool(n.negate);
    }
    case Node::Op::kIsNull: {
      const bool null = Evaluate(*n.kids[0], row).kind == Kind::kNull;
      return Value::Bool(null != n.negate);
    }
  }
  return Value::Null();
}

}  // namespace

Value BatchRow::Get(size_t name_index) const {
  const ColumnBuffer& c = batch_.columns[name_index];
  if (c.IsNull(row_)) return Value::Null();
  switch (c.type()) {
    case ColumnType::kString:
    case ColumnType::kJson:
      return Value::String(c.StringAt(row_));
    case ColumnType::kBool:
      return Value::Bool(c.BoolAt(row_));
    case ColumnType::kDouble:
      return Value::Number(c.DoubleAt(row_));
    case ColumnType::kDate:
      return Value::Number(c.DateAt(row_));
    case ColumnType::kInt64:
    case ColumnType::kTimestampMs:
      return Value::Number(static_cast<double>(c.Int64At(row_)));
  }
  return Value::Null();
}

Result<Expr> Expr::Compile(std::string_view text, const Names& names) {
  Parser p(text, names);
  WEIR_RETURN_IF_ERROR(p.Tokenize());
  WEIR_ASSIGN_OR_RETURN(NodePtr root, p.ParseAll());
  WEIR_RETURN_IF_ERROR(p.CheckCondition(*root, 1));
  Expr e;
  e.root_ = std::move(root);
  e.uses_ = p.uses();
  std::sort(e.uses_.begin(), e.uses_.end());
  e.text_ = std::string(text);
  return e;
}

Value Expr::Eval(const Row& row) const { return Evaluate(*root_, row); }

std::optional<bool> Expr::Test(const Row& row) const {
  const Value v = Eval(row);
  if (v.kind != Kind::kBool) return std::nullopt;
  return v.b;
}

Result<Aggregate> Aggregate::Compile(std::string_view text, const Names& names) {
  Parser p(text, names);
  WEIR_RETURN_IF_ERROR(p.Tokenize());
  WEIR_ASSIGN_OR_RETURN(Aggregate a, p.ParseAggregate());
  if (p.where_offset() > 0) {
    WEIR_ASSIGN_OR_RETURN(Expr e, Expr::Compile(text.substr(p.where_offset()), names));
    a.where = std::move(e);
  }
  return a;
}

}  // namespace weir::rules
