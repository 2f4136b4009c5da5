// The parser after a syntax error (ParserImpl.h): the statement that failed
// becomes a Stmt::Error naming what it would have bound, and parsing resumes
// where the statement ends: the end of its line (at the bracket depth of the
// error), past any block opened on it, or at the start of the next line
// when an unclosed bracket ran into it. Unbalanced braces are resolved by
// indentation, declarations with a misspelt keyword read as declarations;
// constructs of other languages get a message that names them and says
// what the DSL writes instead.
#include "frontend/ParserImpl.h"

#include <fmt/format.h>

#include <set>

namespace dlc::parse {

// A statement that starts with `word` (not followed by '='): what another
// language means by it and what the DSL writes instead; "" if nothing.
std::string unsupportedStatement(const std::string &word, const Token &after) {
  if (word == "while")
    return "'while' loops are not supported; a loop is 'for NAME in range(n) { ... }', "
           "unrolled at compile time";
  if (word == "if" || word == "elif" || word == "else")
    return fmt::format("'{}' is not supported: a model has no branches; choose(flag, a, b) "
                       "picks a value by a compile-time flag, where(cond, a, b) picks elements",
                       word);
  if (word == "def")
    return "'def' is not supported; a function is written 'fn NAME(args) { ... return expr }'";
  if (word == "import" || word == "from")
    return fmt::format("'{}' is not supported: a model is one file, and the prelude's "
                       "functions (dense, conv2d, ...) are always available",
                       word);
  if (word == "lambda")
    return "'lambda' is not supported; write a function with 'fn NAME(args) { return ... }' "
           "and pass its name";
  if (word == "break" || word == "continue")
    return fmt::format("'{}' is not supported: a for loop runs every iteration (it is "
                       "unrolled at compile time)",
                       word);
  if (word == "pass")
    return "'pass' is not needed: a block may be empty";
  if ((word == "let" || word == "var" || word == "const") && after.kind == Tok::Ident)
    return fmt::format("a binding needs no '{}'; write '{} = ...'", word, after.text);
  static const std::set<std::string> python = {
      "class", "with",   "try",   "except", "finally",  "raise", "assert",
      "del",   "global", "yield", "async",  "nonlocal", "await"};
  if (python.count(word))
    return fmt::format("'{}' is not part of the DSL; a statement is input, param, output, "
                       "train, return, for, or 'NAME = expr'",
                       word);
  return "";
}

// A token after a complete expression that would continue it in Python.
std::string unsupportedAfterExpr(const Token &t) {
  if (t.kind == Tok::KwFor)
    return "comprehensions ('[... for x in ...]') are not supported; write the elements "
           "out, or bind them in a for loop";
  if (t.kind != Tok::Ident)
    return "";
  if (t.text == "if")
    return "conditional expressions ('a if c else b') are not supported; choose(flag, a, b) "
           "picks a value by a compile-time flag, where(cond, a, b) picks elements";
  if (t.text == "and" || t.text == "or")
    return fmt::format("'{}' is not supported; for masks (1.0 or 0.0), a * b is 'a and b' "
                       "and maximum(a, b) is 'a or b'",
                       t.text);
  return "";
}

bool Parser::startsStatement(size_t p) const {
  switch (toks_[p].kind) {
  case Tok::KwInput: case Tok::KwParam: case Tok::KwOutput: case Tok::KwTrain:
  case Tok::KwReturn: case Tok::KwFor:
    return true;
  case Tok::Ident: {
    Tok k = toks_[p + 1].kind;
    return k == Tok::Equal || (isBinaryOp(k) && toks_[p + 2].kind == Tok::Equal);
  }
  default:
    return false;
  }
}

bool Parser::nextLineStartsStatement(size_t p, int stmtCol) const {
  while (toks_[p].kind == Tok::Newline)
    ++p;
  const Token &t = toks_[p];
  if (t.kind == Tok::KwFn || t.kind == Tok::KwModel || t.kind == Tok::RBrace)
    return true;
  return startsStatement(p) && (t.kind != Tok::Ident || t.loc.col <= stmtCol);
}

void Parser::report(const SourceLoc &loc, const std::string &msg, std::vector<DiagNote> notes) {
  if (stmtErrors_++ == 0)
    diags_.error(loc, msg, notes);
}

void Parser::fail(const SourceLoc &loc, const std::string &msg,
                  std::vector<DiagNote> notes) {
  errPos_ = pos_;
  errNest_ = nest_;
  complain(loc, msg, std::move(notes));
  throw SyntaxError();
}

void Parser::complain(const SourceLoc &loc, const std::string &msg, std::vector<DiagNote> notes) {
  const Token &t = cur();
  if (!t.problem.empty() && t.loc.line == loc.line && t.loc.col == loc.col)
    report(t.problemLoc, t.problem);
  else
    report(loc, msg, std::move(notes));
}

void Parser::nameOnNextLine(const std::string &keyword) {
  size_t p = pos_;
  while (toks_[p].kind == Tok::Newline)
    ++p;
  if (p == pos_ || toks_[p].kind != Tok::Ident ||
      (toks_[p + 1].kind != Tok::LParen && toks_[p + 1].kind != Tok::LBrace))
    return;
  complain(cur().loc, fmt::format("expected a name after {}, found end of line (a "
                                  "declaration's header is one line)",
                                  keyword));
  pos_ = p;
}

bool Parser::skipTo(Tok k) {
  size_t p = pos_;
  while (toks_[p].kind != k && toks_[p].kind != Tok::Newline && toks_[p].kind != Tok::Eof &&
         toks_[p].kind != Tok::LBrace)
    ++p;
  if (toks_[p].kind != k)
    return false;
  pos_ = p;
  return true;
}

Stmt Parser::recover(size_t start, Stmt partial, bool failed, bool inModel) {
  Stmt e;
  e.kind = Stmt::Error;
  e.loc = toks_[start].loc;
  e.poisoned = std::move(partial.poisoned);
  e.body = std::move(partial.body);
  if (failed) {
    depth_ = 0;
    pos_ = errPos_;
    // An unclosed bracket made the statement run into lines that start
    // statements ("h = relu(x" then "output y = h"): resume at the first.
    size_t resume = 0;
    if (errNest_ > 0 || firstOnLine(errPos_))
      for (size_t p = start + 1; p <= errPos_ && !resume; ++p)
        if (toks_[p - 1].kind == Tok::Newline && toks_[p].kind != Tok::Newline &&
            nextLineStartsStatement(p - 1, toks_[start].loc.col))
          resume = p;
    if (resume)
      pos_ = resume;
    else
      skipStatement(e, inModel, start);
    // Cut short at the end of its line ("train" then "step(...)" on the
    // next): a next line that starts no statement is its rest.
    if (toks_[errPos_].kind == Tok::Newline && toks_[pos_].kind == Tok::Newline &&
        !nextLineStartsStatement(pos_, 1 << 30)) {
      size_t p = pos_;
      while (toks_[p].kind == Tok::Newline)
        ++p;
      if (toks_[p].kind != Tok::Eof && toks_[p].kind != Tok::LBrace) {
        pos_ = p;
        errNest_ = 0;
        skipStatement(e, inModel, start);
      }
    }
  }
  // Names before the first '=' outside brackets: h in '$h = 1', a and b in
  // 'a, b = f(x)', x in 'x[0] = 1'; and declared ones: y in 'inp y : i32[4]'.
  auto poison = [&](const std::string &n) {
    if (std::find(e.poisoned.begin(), e.poisoned.end(), n) == e.poisoned.end())
      e.poisoned.push_back(n);
  };
  int depth = 0;
  std::vector<std::string> before; // names before the first '='
  bool assigns = false;
  // A stray token first ('( h = ...', '$h = 1') is not part of it.
  Tok first = toks_[start].kind;
  size_t from = start + (first == Tok::LParen || first == Tok::LBracket || first == Tok::Error);
  for (size_t p = from; p < pos_ && toks_[p].kind != Tok::LBrace; ++p) {
    Tok k = toks_[p].kind;
    depth += k == Tok::LParen || k == Tok::LBracket ? 1 : 0;
    depth -= (k == Tok::RParen || k == Tok::RBracket) && depth > 0 ? 1 : 0;
    if (depth > 0)
      continue;
    if (k == Tok::Equal)
      assigns = true;
    if (k != Tok::Ident)
      continue;
    if (toks_[p + 1].kind == Tok::Colon)
      poison(toks_[p].text);
    else if (!assigns && !(p > from && toks_[p - 1].kind == Tok::Colon))
      before.push_back(toks_[p].text);
  }
  if (assigns)
    for (const std::string &n : before)
      poison(n);
  return e;
}

void Parser::skipStatement(Stmt &e, bool inModel, size_t start) {
  int stmtCol = toks_[start].loc.col;
  // Words that open a block on their line in some language.
  static const std::set<std::string> blockWords = {"while", "if", "elif", "else", "def",
                                                   "with", "try", "except", "class"};
  const Token &first = toks_[start];
  bool opensBlock = first.kind == Tok::KwFor ||
                    (first.kind == Tok::Ident && blockWords.count(first.text));
  // Newlines are whitespace inside the brackets open at the error, not
  // inside those the skipped tokens open: '[h = f(x)' ends at its line.
  int open = errNest_, inner = 0;
  while (true) {
    const Token &t = toks_[pos_];
    switch (t.kind) {
    case Tok::Eof: case Tok::KwFn: case Tok::KwModel:
      return;
    case Tok::RBrace:
      // A '}' within a line of a file with one '}' too many: that one.
      if (missingBraces_ >= 0 || firstOnLine(pos_))
        return;
      ++missingBraces_;
      break;
    case Tok::Semicolon:
      if (open == 0)
        return;
      break;
    case Tok::Newline:
      if (open == 0 || nextLineStartsStatement(pos_, stmtCol))
        return;
      break;
    case Tok::LBrace: {
      // A block ends the line of a word that opens one ('while x {'); in
      // a file with one '{' too many, another '{' is that one.
      if (missingBraces_ > 0 && (toks_[pos_ + 1].kind != Tok::Newline || !opensBlock)) {
        --missingBraces_;
        break;
      }
      open = inner = 0;
      Token brace = toks_[pos_++];
      blockBody(e.body, inModel, "the block", &brace, stmtCol, true, false);
      continue;
    }
    case Tok::LParen: case Tok::LBracket:
      ++inner;
      break;
    case Tok::RParen: case Tok::RBracket:
      if (inner > 0)
        --inner;
      else
        open = std::max(0, open - 1);
      break;
    default:
      break;
    }
    ++pos_;
  }
}

size_t Parser::declarationName(size_t p) const {
  size_t name = std::string::npos, end = p;
  while (toks_[end].kind != Tok::Newline && toks_[end].kind != Tok::Eof)
    ++end;
  if (end < p + 3 || toks_[end - 1].kind != Tok::LBrace)
    return std::string::npos;
  for (size_t q = p + 1; q + 1 < end; ++q)
    if (toks_[q].kind == Tok::Ident && toks_[q + 1].kind == Tok::LParen)
      name = q;
  if (name == std::string::npos && toks_[end - 2].kind == Tok::Ident)
    name = end - 2;
  return name;
}

bool Parser::bodyHoldsModelStatements(size_t p) const {
  while (toks_[p].kind != Tok::LBrace && toks_[p].kind != Tok::Eof)
    ++p;
  for (int depth = 0; toks_[p].kind != Tok::Eof; ++p) {
    Tok k = toks_[p].kind;
    depth += k == Tok::LBrace ? 1 : k == Tok::RBrace ? -1 : 0;
    if (depth <= 0 || k == Tok::KwFn || k == Tok::KwModel)
      return false;
    if (k == Tok::KwInput || k == Tok::KwOutput || k == Tok::KwTrain)
      return true;
  }
  return false;
}

void Parser::skipTopLevel(bool toNextDecl) {
  int braces = 0;
  while (true) {
    Tok k = toks_[pos_].kind;
    if (k == Tok::Eof || k == Tok::KwFn || k == Tok::KwModel)
      return;
    if (!toNextDecl && braces == 0 && k == Tok::Newline)
      return;
    braces += k == Tok::LBrace ? 1 : k == Tok::RBrace && braces > 0 ? -1 : 0;
    ++pos_;
    if (!toNextDecl && braces == 0 && k == Tok::RBrace)
      return;
  }
}

void Parser::poisonParam(std::vector<FnParam> &out, const std::string &name, const SourceLoc &loc) {
  for (auto &a : out)
    if (a.name == name) {
      a.poisoned = true;
      return;
    }
  FnParam a;
  a.name = name;
  a.loc = loc;
  a.poisoned = true;
  out.push_back(std::move(a));
}

void Parser::skipHeader(std::vector<FnParam> &out) {
  while (true) {
    const Token &t = toks_[pos_];
    Tok k = t.kind, after = k == Tok::Eof ? Tok::Eof : toks_[pos_ + 1].kind;
    if (k == Tok::Eof || k == Tok::KwFn || k == Tok::KwModel ||
        (k == Tok::LBrace && (after == Tok::Newline || after == Tok::Eof)) ||
        (k == Tok::Newline && nextLineStartsStatement(pos_, 0)))
      return;
    if (k == Tok::LBrace && missingBraces_ > 0)
      --missingBraces_;
    if (k == Tok::RBrace && missingBraces_ < 0)
      ++missingBraces_;
    if (k == Tok::Ident && (after == Tok::Equal || after == Tok::Comma || after == Tok::RParen))
      poisonParam(out, t.text, t.loc);
    ++pos_;
  }
}

void Parser::failAfterStatement(Stmt &s, const Token &end) {
  if (end.kind == Tok::Comma && s.kind == Stmt::Return)
    fail(end.loc, "a function returns one value; return a list: 'return [a, b]'");
  if (end.kind == Tok::Equal && (s.kind == Stmt::Let || s.kind == Stmt::Output)) {
    if (s.value && s.value->kind == Expr::Index) {
      if (s.value->args[0]->kind == Expr::Ident)
        s.poisoned.push_back(s.value->args[0]->name);
      fail(end.loc, "assigning into an element or slice ('x[...] = ...') is not supported: "
                    "a tensor cannot be changed in place; compute a new one (concat, pad, "
                    "where) and bind it");
    }
    if (s.value && s.value->kind == Expr::Ident)
      s.poisoned.push_back(s.value->name);
    fail(end.loc, "chained assignment 'a = b = ...' is not supported; bind one name per "
                  "statement");
  }
  std::string python = unsupportedAfterExpr(end);
  fail(end.loc, python.empty()
                    ? fmt::format("expected end of line after the statement, found {}",
                                  describe(end))
                    : python);
}
} // namespace dlc::parse
