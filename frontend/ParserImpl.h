// The DSL parser's internals, shared by Parser.cpp (the grammar) and
// ParseRecovery.cpp (what happens after a syntax error). Not part of the
// frontend's interface: that is parseProgram() in Parser.h.
#pragma once

#include "frontend/Parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace dlc::parse {

// Unwinds from a syntax error, already reported, to the statement.
struct SyntaxError {};

// What other languages mean by a statement starting with `word` (not
// followed by '='), and what the DSL writes instead; "" if nothing.
std::string unsupportedStatement(const std::string &word, const Token &after);
// The same for a token after a complete expression ('if', 'and', 'for').
std::string unsupportedAfterExpr(const Token &t);

inline bool isBinaryOp(Tok k) {
  return k == Tok::Plus || k == Tok::Minus || k == Tok::Star || k == Tok::StarStar ||
         k == Tok::Slash || k == Tok::SlashSlash || k == Tok::At;
}

inline bool startsExpression(Tok k) {
  return k == Tok::Ident || k == Tok::Int || k == Tok::Float || k == Tok::String ||
         k == Tok::LParen || k == Tok::LBracket || k == Tok::Minus;
}

class Parser {
public:
  Parser(const std::vector<Token> &toks, DiagEngine &diags);
  Program program();

private:
  // --- token access ---------------------------------------------------------

  const Token &cur() {
    // Inside ( ) and [ ] a newline is only whitespace.
    while (nest_ > 0 && toks_[pos_].kind == Tok::Newline)
      ++pos_;
    return toks_[pos_];
  }
  const Token &next() { // the token after cur()
    cur();
    size_t p = pos_ + 1;
    while (p < toks_.size() - 1 && nest_ > 0 && toks_[p].kind == Tok::Newline)
      ++p;
    return toks_[std::min(p, toks_.size() - 1)];
  }
  // Consumes cur(), reporting the lexer's complaint about it if it has one.
  Token take() {
    Token t = cur();
    if (t.kind != Tok::Eof)
      ++pos_;
    if (!t.problem.empty())
      report(t.problemLoc, t.problem);
    return t;
  }
  bool accept(Tok k) {
    if (cur().kind != k)
      return false;
    take();
    return true;
  }
  void skipNewlines() {
    while (cur().kind == Tok::Newline || cur().kind == Tok::Semicolon)
      ++pos_;
  }
  bool firstOnLine(size_t p) const { return p == 0 || toks_[p - 1].kind == Tok::Newline; }
  // The '}' just consumed, if the last token taken was one.
  SourceLoc closingBrace() const {
    return pos_ > 0 && toks_[pos_ - 1].kind == Tok::RBrace ? toks_[pos_ - 1].loc : SourceLoc();
  }
  // Whether the token at p starts a statement: a statement keyword, or a
  // name followed by '=' (or by '+=' and the like).
  bool startsStatement(size_t p) const;
  // Whether the line after the newline at p starts a new statement rather
  // than continuing a bracketed one: a statement keyword, or 'NAME =' not
  // indented deeper than the statement (a continued call's keyword
  // arguments usually are).
  bool nextLineStartsStatement(size_t p, int stmtCol) const;

  // --- errors ---------------------------------------------------------------

  // Reports the first error of the current statement; later ones in it are
  // consequences, or would repeat what the user must fix first.
  void report(const SourceLoc &loc, const std::string &msg, std::vector<DiagNote> notes = {});
  // Reports (see report) and unwinds to the statement. At a token the lexer
  // flagged, its message replaces `msg`: '<' says what to write instead.
  [[noreturn]] void fail(const SourceLoc &loc, const std::string &msg,
                         std::vector<DiagNote> notes = {});
  // fail() without unwinding, for a declaration's header.
  void complain(const SourceLoc &loc, const std::string &msg, std::vector<DiagNote> notes = {});
  // 'fn' alone on its line, the rest of the header on the next: reported,
  // then read.
  void nameOnNextLine(const std::string &keyword);
  // After a malformed declaration name: to the first `k` on the line, if any.
  bool skipTo(Tok k);
  Token expect(Tok k, const std::string &context, std::vector<DiagNote> notes = {});
  Token expectName(const std::string &context);

  // Counts open brackets so cur() can ignore newlines inside them.
  struct Nest {
    Parser &p;
    explicit Nest(Parser &p) : p(p) { ++p.nest_; }
    ~Nest() { --p.nest_; }
  };
  // Bounds recursion depth (nested parentheses, chains of unary minus or **).
  struct Depth {
    Parser &p;
    Depth(Parser &p, const SourceLoc &loc) : p(p) {
      if (++p.depth_ > kMaxNesting) {
        p.depth_ = 0;
        p.fail(loc, fmt::format("expression nested too deeply (more than {} levels)", kMaxNesting));
      }
    }
    ~Depth() { p.depth_ = std::max(0, p.depth_ - 1); }
  };

  // --- recovery -------------------------------------------------------------

  // A statement from `start` that failed (or whose tokens had errors):
  // an Error statement poisoning what it would have bound, with pos_ moved
  // to where the next statement starts.
  Stmt recover(size_t start, Stmt partial, bool failed, bool inModel);

  // Skips the rest of a failed statement: to the end of its line, or of
  // the lines its open brackets span; a block on it is parsed into e.body,
  // so its own mistakes are found and the names it binds poisoned.
  void skipStatement(Stmt &e, bool inModel, size_t start);

  // Where the name is in a top-level line shaped as a declaration with a
  // misspelt or foreign keyword: the last name followed by '(' (or else the
  // name before the '{') on a line that ends with '{'; npos otherwise.
  size_t declarationName(size_t p) const;

  // Whether the block opened on the line of `p` holds input, output or
  // train statements: then a declaration with a mangled keyword is a model.
  bool bodyHoldsModelStatements(size_t p) const;

  // Skips what follows a top-level token that is not a declaration: to the
  // next declaration when `toNextDecl` (statements before any model), else
  // to the end of the line, past any balanced block on it.
  void skipTopLevel(bool toNextDecl);

  // --- declarations ---------------------------------------------------------

  // Marks `name` in `out` poisoned, adding it if it is not there.
  void poisonParam(std::vector<FnParam> &out, const std::string &name, const SourceLoc &loc);

  // The rest of a header that did not parse, up to the '{' that ends its
  // line (the body's; a '{' within the line is a stray one), poisoning the
  // names it declares ('b' in 'b = 2,').
  void skipHeader(std::vector<FnParam> &out);

  // "(" (arg ("," arg)*)? ")". On an error, the rest of the list is skipped;
  // names it would have declared come back poisoned, and `broken` is set.
  std::vector<FnParam> argList(const std::string &owner, bool &broken);
  std::unique_ptr<FnDecl> fn();
  std::unique_ptr<ModelDecl> model();

  // "{" statements "}". A missing '{' is reported; the body is then read
  // up to a '}' if the file has one too many, else as far as it is
  // indented deeper than its opening line (as Python would read it).
  void block(std::vector<Stmt> &body, bool inModel, const std::string &owner, int openerCol,
             bool nested);

  // The statements of a block up to its '}' (consumed). `open` is its '{'
  // (null when missing, and then nothing more is reported about it). With
  // `byIndent`, the body ends before the first line indented no deeper than
  // `openerCol`. A nested block of a file with more '{' than '}' ends the same
  // way, with an error: its '}' is the one missing.
  void blockBody(std::vector<Stmt> &body, bool inModel, const std::string &owner,
                 const Token *open, int openerCol, bool nested, bool byIndent);

  // A complete statement followed by something other than its end.
  [[noreturn]] void failAfterStatement(Stmt &s, const Token &end);

  // --- statements -----------------------------------------------------------

  TypeExpr type();

  // Parses one statement into `s`; on a SyntaxError, `s` holds what was
  // read, `s.poisoned` the names it would bind.
  void stmt(Stmt &s, bool inModel);

  // NAME "=" expr, and what other languages write in its place.
  void assignment(Stmt &s, const Token &first);

  // --- expressions ----------------------------------------------------------

  ExprPtr make(Expr::Kind k, const SourceLoc &loc, std::vector<ExprPtr> args);
  ExprPtr expr();
  ExprPtr term();
  ExprPtr unary();

  // As in Python: ** binds tighter than a unary minus on its left (-x ** 2
  // is -(x ** 2)), takes one on its right (2 ** -1), and groups to the
  // right (a ** b ** c is a ** (b ** c)).
  ExprPtr power();

  // e ("[" item ("," item)* "]")*, item := expr | expr? ":" expr?
  // (a list element s[0], a tensor slice x[:, t, 0:14]).
  ExprPtr postfix(ExprPtr e);
  ExprPtr primary();

  // `callee` is already consumed; cur() is '('.
  ExprPtr call(const Token &callee);

  const std::vector<Token> &toks_;
  DiagEngine &diags_;
  size_t pos_ = 0;
  int nest_ = 0;
  int depth_ = 0;
  int blocks_ = 0; // blocks being parsed, bounded by kMaxNesting
  bool blocksReported_ = false;
  // Where the last fail() was, and how many brackets were open there.
  size_t errPos_ = 0;
  int errNest_ = 0;
  int stmtErrors_ = 0;     // errors reported in the current statement
  int missingBraces_ = 0;  // '{' minus '}' in the file, less those reported
  size_t closeReported_ = (size_t)-1; // where a missing '}' was last reported
  bool swallowedBrace_ = false; // a string without its closing quote took a '}'
};

} // namespace dlc::parse
