// The DSL's recursive-descent parser (grammar in Parser.h), which recovers
// from errors so that one mistake gives one message. A statement's first
// error is reported and a SyntaxError unwinds to the statement, which becomes
// a Stmt::Error naming what it would have bound; parsing resumes where the
// statement ends: the end of its line (at the bracket depth of the error),
// past any block opened on it, or at the start of the next line when an
// unclosed bracket ran into it. Constructs of other languages get a message
// that names them and says what the DSL writes instead.
#include "frontend/Parser.h"

#include <algorithm>
#include <set>

namespace dlc {

namespace {

struct SyntaxError {};

// A statement that starts with `word` (not followed by '='): what another
// language means by it and what the DSL writes instead; "" if nothing.
std::string unsupportedStatement(const std::string &word, const Token &after) {
  if (word == "while")
    return "'while' loops are not supported; a loop is 'for NAME in range(n) { ... }', "
           "unrolled at compile time";
  if (word == "if" || word == "elif" || word == "else")
    return "'" + word + "' is not supported: a model has no branches; choose(flag, a, b) "
                        "picks a value by a compile-time flag, where(cond, a, b) picks elements";
  if (word == "def")
    return "'def' is not supported; a function is written 'fn NAME(args) { ... return expr }'";
  if (word == "import" || word == "from")
    return "'" + word + "' is not supported: a model is one file, and the prelude's "
                        "functions (dense, conv2d, ...) are always available";
  if (word == "lambda")
    return "'lambda' is not supported; write a function with 'fn NAME(args) { return ... }' "
           "and pass its name";
  if (word == "break" || word == "continue")
    return "'" + word + "' is not supported: a for loop runs every iteration (it is "
                        "unrolled at compile time)";
  if (word == "pass")
    return "'pass' is not needed: a block may be empty";
  if ((word == "let" || word == "var" || word == "const") && after.kind == Tok::Ident)
    return "a binding needs no '" + word + "'; write '" + after.text + " = ...'";
  static const std::set<std::string> python = {
      "class", "with",   "try",   "except", "finally",  "raise", "assert",
      "del",   "global", "yield", "async",  "nonlocal", "await"};
  if (python.count(word))
    return "'" + word + "' is not part of the DSL; a statement is input, param, output, "
                        "train, return, for, or 'NAME = expr'";
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
    return "'" + t.text + "' is not supported; for masks (1.0 or 0.0), a * b is 'a and b' "
                          "and maximum(a, b) is 'a or b'";
  return "";
}

bool isBinaryOp(Tok k) {
  return k == Tok::Plus || k == Tok::Minus || k == Tok::Star || k == Tok::StarStar ||
         k == Tok::Slash || k == Tok::SlashSlash || k == Tok::At;
}

bool startsExpression(Tok k) {
  return k == Tok::Ident || k == Tok::Int || k == Tok::Float || k == Tok::String ||
         k == Tok::LParen || k == Tok::LBracket || k == Tok::Minus;
}

class Parser {
public:
  Parser(const std::vector<Token> &toks, DiagEngine &diags) : toks_(toks), diags_(diags) {
    // More '{' than '}' means a block lacks its '}': only then does a line
    // indented no deeper than a loop end the loop (see blockBody).
    for (const Token &t : toks_) {
      missingBraces_ += t.kind == Tok::LBrace ? 1 : t.kind == Tok::RBrace ? -1 : 0;
      // A string without its closing quote that took a '}' along: the
      // block it closed is not reported as unclosed too.
      swallowedBrace_ |= t.kind == Tok::String && !t.problem.empty() &&
                         t.text.find('}') != std::string::npos;
    }
  }

  Program program() {
    Program p;
    // The declaration read last, which statements after its '}' are added
    // to (the '}' was one too many). Declarations a Program does not keep (a
    // second model, a function without a name) stay alive here.
    struct Last {
      std::vector<Stmt> *body = nullptr;
      bool inModel = false;
      std::string owner;
      SourceLoc close;
    } last;
    std::vector<std::unique_ptr<FnDecl>> unnamed;
    std::vector<std::unique_ptr<ModelDecl>> extraModels;
    // Each parses a declaration whose keyword is at (or just before) pos_.
    auto fnDecl = [&] {
      auto f = fn();
      last = {&f->body, false, "function '" + f->name + "'", closingBrace()};
      (f->name.empty() ? unnamed : p.fns).push_back(std::move(f));
    };
    auto modelDecl = [&] {
      auto m = model();
      last = {&m->body, true, "model '" + m->name + "'", closingBrace()};
      if (p.model) {
        diags_.error(m->loc, "a file holds one model; '" + p.model->name +
                                 "' is already defined",
                     {{p.model->loc, "previous model is here"}});
        extraModels.push_back(std::move(m));
      } else {
        p.model = std::move(m);
      }
    };
    while (true) {
      skipNewlines();
      const Token &t = cur();
      if (t.kind == Tok::Eof)
        break;
      stmtErrors_ = 0;
      if (t.kind == Tok::KwFn) {
        fnDecl();
      } else if (t.kind == Tok::KwModel) {
        modelDecl();
      } else if (last.body && last.close.known() && startsStatement(pos_)) {
        report(t.loc, "expected 'model' or 'fn', found " + describe(t) + " after the end of " +
                          last.owner,
               {{last.close, last.owner + " ends at this '}'"}});
        // The statements belong to the declaration: parse them as its own.
        stmtErrors_ = 0;
        blockBody(*last.body, last.inModel, last.owner, nullptr, -1, false, false);
        last.close = closingBrace();
      } else {
        std::string word = t.kind == Tok::Ident ? unsupportedStatement(t.text, next()) : "";
        bool isModel = false;
        if (word.empty() && t.kind == Tok::Ident) {
          std::string near = closestName(t.text, {"model", "fn"});
          isModel = near == "model";
          if (!near.empty())
            word = "expected 'model' or 'fn', found '" + t.text + "'; did you mean '" + near +
                   "'?";
        }
        std::vector<DiagNote> notes;
        if (last.close.known() && word.empty())
          notes.push_back({last.close, last.owner + " ends at this '}'"});
        try {
          fail(t.loc, word.empty() ? "expected 'model' or 'fn', found " + describe(t) : word,
               notes);
        } catch (SyntaxError &) {
        }
        // A line shaped as a declaration ('def f(x) {', 'mdoel m(b = 4) {')
        // is read as one, its first word standing for the keyword.
        size_t name = declarationName(pos_);
        if (name != std::string::npos) {
          pos_ = name - 1;
          if (isModel || bodyHoldsModelStatements(name))
            modelDecl();
          else
            fnDecl();
          continue;
        }
        skipTopLevel(!last.body && startsStatement(pos_));
      }
    }
    return p;
  }

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
  bool startsStatement(size_t p) const {
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
  // Whether the line after the newline at p starts a new statement rather
  // than continuing a bracketed one: a statement keyword, or 'NAME =' not
  // indented deeper than the statement (a continued call's keyword
  // arguments usually are).
  bool nextLineStartsStatement(size_t p, int stmtCol) const {
    while (toks_[p].kind == Tok::Newline)
      ++p;
    const Token &t = toks_[p];
    if (t.kind == Tok::KwFn || t.kind == Tok::KwModel || t.kind == Tok::RBrace)
      return true;
    return startsStatement(p) && (t.kind != Tok::Ident || t.loc.col <= stmtCol);
  }

  // --- errors ---------------------------------------------------------------

  // Reports the first error of the current statement; later ones in it are
  // consequences, or would repeat what the user must fix first.
  void report(const SourceLoc &loc, const std::string &msg, std::vector<DiagNote> notes = {}) {
    if (stmtErrors_++ == 0)
      diags_.error(loc, msg, notes);
  }
  // Reports (see report) and unwinds to the statement. At a token the lexer
  // flagged, its message replaces `msg`: '<' says what to write instead.
  [[noreturn]] void fail(const SourceLoc &loc, const std::string &msg,
                         std::vector<DiagNote> notes = {}) {
    errPos_ = pos_;
    errNest_ = nest_;
    complain(loc, msg, std::move(notes));
    throw SyntaxError();
  }
  // fail() without unwinding, for a declaration's header.
  void complain(const SourceLoc &loc, const std::string &msg, std::vector<DiagNote> notes = {}) {
    const Token &t = cur();
    if (!t.problem.empty() && t.loc.line == loc.line && t.loc.col == loc.col)
      report(t.problemLoc, t.problem);
    else
      report(loc, msg, std::move(notes));
  }
  // 'fn' alone on its line, the rest of the header on the next: reported,
  // then read.
  void nameOnNextLine(const std::string &keyword) {
    size_t p = pos_;
    while (toks_[p].kind == Tok::Newline)
      ++p;
    if (p == pos_ || toks_[p].kind != Tok::Ident ||
        (toks_[p + 1].kind != Tok::LParen && toks_[p + 1].kind != Tok::LBrace))
      return;
    complain(cur().loc, "expected a name after " + keyword + ", found end of line (a "
                        "declaration's header is one line)");
    pos_ = p;
  }
  // After a malformed declaration name: to the first `k` on the line, if any.
  bool skipTo(Tok k) {
    size_t p = pos_;
    while (toks_[p].kind != k && toks_[p].kind != Tok::Newline && toks_[p].kind != Tok::Eof &&
           toks_[p].kind != Tok::LBrace)
      ++p;
    if (toks_[p].kind != k)
      return false;
    pos_ = p;
    return true;
  }
  Token expect(Tok k, const std::string &context, std::vector<DiagNote> notes = {}) {
    if (cur().kind == k)
      return take();
    if (k == Tok::RParen || k == Tok::RBracket) {
      std::string python = unsupportedAfterExpr(cur());
      if (!python.empty())
        fail(cur().loc, python);
    }
    std::string hint;
    if (k == Tok::LBrace && cur().kind == Tok::Colon)
      hint = " (a block is written in braces, '{ ... }', not with ':')";
    fail(cur().loc, "expected " + spelling(k) + " " + context + ", found " + describe(cur()) +
                        hint,
         std::move(notes));
  }
  Token expectName(const std::string &context) {
    if (cur().kind != Tok::Ident)
      fail(cur().loc, "expected a name " + context + ", found " + describe(cur()));
    return take();
  }

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
        p.fail(loc, "expression nested too deeply (more than " +
                        std::to_string(kMaxNesting) + " levels)");
      }
    }
    ~Depth() { p.depth_ = std::max(0, p.depth_ - 1); }
  };

  // --- recovery -------------------------------------------------------------

  // A statement from `start` that failed (or whose tokens had errors):
  // an Error statement poisoning what it would have bound, with pos_ moved
  // to where the next statement starts.
  Stmt recover(size_t start, Stmt partial, bool failed, bool inModel) {
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

  // Skips the rest of a failed statement: to the end of its line, or of
  // the lines its open brackets span; a block on it is parsed into e.body,
  // so its own mistakes are found and the names it binds poisoned.
  void skipStatement(Stmt &e, bool inModel, size_t start) {
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

  // Where the name is in a top-level line shaped as a declaration with a
  // misspelt or foreign keyword: the last name followed by '(' (or else the
  // name before the '{') on a line that ends with '{'; npos otherwise.
  size_t declarationName(size_t p) const {
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

  // Whether the block opened on the line of `p` holds input, output or
  // train statements: then a declaration with a mangled keyword is a model.
  bool bodyHoldsModelStatements(size_t p) const {
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

  // Skips what follows a top-level token that is not a declaration: to the
  // next declaration when `toNextDecl` (statements before any model), else
  // to the end of the line, past any balanced block on it.
  void skipTopLevel(bool toNextDecl) {
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

  // --- declarations ---------------------------------------------------------

  void poisonParam(std::vector<FnParam> &out, const std::string &name, const SourceLoc &loc) {
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

  // The rest of a header that did not parse, up to the '{' that ends its
  // line (the body's; a '{' within the line is a stray one), poisoning the
  // names it declares ('b' in 'b = 2,').
  void skipHeader(std::vector<FnParam> &out) {
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

  // "(" (arg ("," arg)*)? ")". On an error, the rest of the list is skipped;
  // names it would have declared come back poisoned, and `broken` is set.
  std::vector<FnParam> argList(const std::string &owner, bool &broken) {
    std::vector<FnParam> out;
    Token open = take();
    FnParam partial;
    try {
      Nest nest(*this);
      while (cur().kind != Tok::RParen) {
        FnParam a;
        Token name = expectName("in the argument list of " + owner);
        a.name = name.text;
        a.loc = name.loc;
        partial.name = a.name;
        partial.loc = a.loc;
        for (auto &prev : out)
          if (prev.name == a.name)
            fail(a.loc, "duplicate argument '" + a.name + "' in " + owner);
        if (cur().kind == Tok::Colon)
          fail(cur().loc, "type annotations are not supported; write the name alone: '" +
                              a.name + "' (its value decides its type)");
        if (accept(Tok::Equal))
          a.dflt = expr();
        else if (!out.empty() && out.back().dflt)
          fail(a.loc, "argument '" + a.name +
                          "' needs a default value: it follows one that has a default");
        out.push_back(std::move(a));
        partial.name.clear();
        if (!accept(Tok::Comma))
          break;
      }
      expect(Tok::RParen, "after the arguments of " + owner, {{open.loc, "to match this '('"}});
    } catch (SyntaxError &) {
      broken = true;
      // The name read last may be what went wrong ('batch{ = 128').
      if (partial.name.empty() && !out.empty())
        out.back().poisoned = true;
      if (!partial.name.empty())
        poisonParam(out, partial.name, partial.loc);
      pos_ = errPos_;
      skipHeader(out);
    }
    return out;
  }

  std::unique_ptr<FnDecl> fn() {
    auto f = std::make_unique<FnDecl>();
    Token kw = take();
    f->loc = kw.loc;
    nameOnNextLine("'fn'");
    if (cur().kind == Tok::Ident) {
      Token name = take();
      f->name = name.text;
      f->loc = name.loc;
    } else {
      complain(cur().loc, "expected a name after 'fn', found " + describe(cur()));
      f->broken = true;
    }
    std::string owner = f->name.empty() ? "the function" : "function '" + f->name + "'";
    if (cur().kind != Tok::LParen) {
      complain(cur().loc, "expected '(' after " + owner + ", found " + describe(cur()));
      f->broken = true;
      if (!skipTo(Tok::LParen))
        skipHeader(f->params);
    }
    if (cur().kind == Tok::LParen)
      f->params = argList(owner, f->broken);
    block(f->body, false, owner, kw.loc.col, false);
    return f;
  }

  std::unique_ptr<ModelDecl> model() {
    auto m = std::make_unique<ModelDecl>();
    Token kw = take();
    m->loc = kw.loc;
    nameOnNextLine("'model'");
    if (cur().kind == Tok::Ident) {
      Token name = take();
      m->name = name.text;
      m->loc = name.loc;
    } else {
      complain(cur().loc, "expected a name after 'model', found " + describe(cur()));
      m->broken = true;
    }
    std::string owner = m->name.empty() ? "the model" : "model '" + m->name + "'";
    if (cur().kind != Tok::LParen && cur().kind != Tok::LBrace && cur().kind != Tok::Newline) {
      complain(cur().loc, "expected '(' or '{' after " + owner + ", found " + describe(cur()));
      m->broken = true;
      if (!skipTo(Tok::LParen))
        skipHeader(m->constants);
    }
    if (cur().kind == Tok::LParen)
      m->constants = argList(owner, m->broken);
    block(m->body, true, owner, kw.loc.col, false);
    return m;
  }

  // "{" statements "}". A missing '{' is reported; the body is then read
  // up to a '}' if the file has one too many, else as far as it is
  // indented deeper than its opening line (as Python would read it).
  void block(std::vector<Stmt> &body, bool inModel, const std::string &owner, int openerCol,
             bool nested) {
    if (cur().kind == Tok::LBrace) {
      Token open = take();
      blockBody(body, inModel, owner, &open, openerCol, nested, false);
      return;
    }
    size_t p = pos_;
    while (toks_[p].kind == Tok::Newline)
      ++p;
    if (cur().kind == Tok::Newline && toks_[p].kind == Tok::LBrace) {
      report(toks_[p].loc, "expected the '{' of " + owner +
                               " at the end of the line before, found it on a line of its own");
      pos_ = p;
      Token open = toks_[pos_++];
      blockBody(body, inModel, owner, &open, openerCol, nested, false);
      return;
    }
    try {
      expect(Tok::LBrace, "to begin the body of " + owner);
    } catch (SyntaxError &) {
    }
    // Resume at a '{' later on the line, if there is one.
    for (p = pos_; toks_[p].kind != Tok::Newline && toks_[p].kind != Tok::Eof &&
                   toks_[p].kind != Tok::KwFn && toks_[p].kind != Tok::KwModel &&
                   toks_[p].kind != Tok::RBrace;
         ++p)
      if (toks_[p].kind == Tok::LBrace)
        break;
    pos_ = p;
    if (toks_[p].kind == Tok::LBrace) {
      Token open = toks_[pos_++];
      blockBody(body, inModel, owner, &open, openerCol, nested, false);
    } else if (toks_[p].kind == Tok::Newline) {
      bool untilBrace = missingBraces_ < 0;
      if (untilBrace)
        ++missingBraces_;
      blockBody(body, inModel, owner, nullptr, openerCol, nested, !untilBrace);
    }
  }

  // The statements of a block up to its '}' (consumed). `open` is its '{'
  // (null when missing, and then nothing more is reported about it). With
  // `byIndent`, the body ends before the first line indented no deeper than
  // `openerCol`. A nested block of a file with more '{' than '}' ends the same
  // way, with an error: its '}' is the one missing.
  void blockBody(std::vector<Stmt> &body, bool inModel, const std::string &owner,
                 const Token *open, int openerCol, bool nested, bool byIndent) {
    bool afterFailedIf = false;
    while (true) {
      skipNewlines();
      const Token &t = cur();
      bool dedent = firstOnLine(pos_) && t.loc.col <= openerCol;
      if (t.kind == Tok::RBrace) {
        if (!(byIndent && dedent))
          take();
        return;
      }
      if (t.kind == Tok::Eof || t.kind == Tok::KwFn || t.kind == Tok::KwModel) {
        // Once per place: the blocks around this one miss the same '}'.
        if (open && !byIndent && closeReported_ != pos_ && !swallowedBrace_) {
          closeReported_ = pos_;
          diags_.error(t.loc, "expected '}' at the end of " + owner + ", found " + describe(t),
                       {{open->loc, "to match this '{'"}});
        }
        return;
      }
      if (dedent && byIndent)
        return;
      // A lone token that starts nothing, on a line of its own, in a file
      // missing a '}': it stands where the '}' should ('.' for '}').
      Tok k = t.kind;
      if (open && missingBraces_ > 0 && firstOnLine(pos_) &&
          (toks_[pos_ + 1].kind == Tok::Newline || toks_[pos_ + 1].kind == Tok::Eof) &&
          k != Tok::Ident && k != Tok::KwReturn && k != Tok::String && k != Tok::LBrace) {
        --missingBraces_;
        stmtErrors_ = 0;
        complain(t.loc, "expected '}' at the end of " + owner + ", found " + describe(t),
                 {{open->loc, "to match this '{'"}});
        ++pos_;
        return;
      }
      if (dedent && nested && open && missingBraces_ > 0) {
        --missingBraces_;
        diags_.error(t.loc, "expected '}' to close " + owner +
                                " before this line, which is not indented under it",
                     {{open->loc, "to match this '{'"}});
        return;
      }
      if (t.kind == Tok::LBrace && missingBraces_ > 0) {
        // A '{' where a statement starts, in a file with one '{' too many:
        // that one; the statement after it on the line is read.
        --missingBraces_;
        diags_.error(t.loc, "expected a statement, found '{' (a '{' opens a block only at the "
                            "end of a 'for' line)");
        ++pos_;
        continue;
      }
      size_t start = pos_;
      int saved = stmtErrors_;
      stmtErrors_ = 0;
      // 'else' after an 'if' that was reported is part of the same mistake.
      if (afterFailedIf && t.kind == Tok::Ident && (t.text == "else" || t.text == "elif"))
        stmtErrors_ = 1;
      Stmt s;
      s.loc = t.loc;
      bool failed = false;
      try {
        stmt(s, inModel);
        // (A loop whose block ended before a line not indented under it
        // leaves cur() at that line's start.)
        // A '}' within a line of a file with one '}' too many is that one.
        const Token &end = cur();
        bool strayBrace = end.kind == Tok::RBrace && missingBraces_ < 0 &&
                          !firstOnLine(pos_) && toks_[pos_ + 1].kind != Tok::Newline &&
                          toks_[pos_ + 1].kind != Tok::Eof;
        if ((end.kind != Tok::Newline && end.kind != Tok::Semicolon &&
             end.kind != Tok::RBrace && end.kind != Tok::Eof && !firstOnLine(pos_)) ||
            strayBrace)
          failAfterStatement(s, end);
      } catch (SyntaxError &) {
        failed = true;
      }
      const Token &first = toks_[start];
      afterFailedIf = failed && first.kind == Tok::Ident &&
                      (first.text == "if" || first.text == "elif" || first.text == "else");
      if (failed || stmtErrors_ > 0)
        body.push_back(recover(start, std::move(s), failed, inModel));
      else
        body.push_back(std::move(s));
      stmtErrors_ = saved;
    }
  }

  // A complete statement followed by something other than its end.
  [[noreturn]] void failAfterStatement(Stmt &s, const Token &end) {
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
    fail(end.loc, python.empty() ? "expected end of line after the statement, found " +
                                       describe(end)
                                 : python);
  }

  // --- statements -----------------------------------------------------------

  TypeExpr type() {
    TypeExpr t;
    Token dt = expectName("(an element type such as f32)");
    t.dtype = dt.text;
    t.loc = dt.loc;
    Token open = expect(Tok::LBracket, "after element type '" + t.dtype + "'");
    Nest nest(*this);
    while (cur().kind != Tok::RBracket) {
      t.dims.push_back(expr());
      if (!accept(Tok::Comma))
        break;
    }
    expect(Tok::RBracket, "after the dimensions", {{open.loc, "to match this '['"}});
    return t;
  }

  // Parses one statement into `s`; on a SyntaxError, `s` holds what was
  // read, `s.poisoned` the names it would bind.
  void stmt(Stmt &s, bool inModel) {
    Token first = cur();
    s.loc = first.loc;
    auto onlyIn = [&](bool wantModel) {
      if (inModel == wantModel)
        return;
      if (next().kind == Tok::Ident)
        s.poisoned.push_back(next().text);
      fail(first.loc, "'" + first.text + "' is only allowed in " +
                          (wantModel ? "a model" : "a function"));
    };
    auto name = [&](const std::string &ctx, bool binds = true) {
      Token n = expectName(ctx);
      s.name = n.text;
      s.nameLoc = n.loc;
      if (binds)
        s.poisoned.push_back(n.text);
    };
    switch (first.kind) {
    case Tok::KwInput:
      onlyIn(true);
      take();
      s.kind = Stmt::Input;
      name("after 'input'");
      expect(Tok::Colon, "after input name '" + s.name + "'");
      s.type = type();
      return;
    case Tok::KwParam:
      take();
      s.kind = Stmt::Param;
      name("after 'param'");
      if (cur().kind == Tok::Equal)
        fail(cur().loc, "expected ':' and a type after param name '" + s.name +
                            "', found '=' (a param is declared 'param " + s.name +
                            " : f32[3, 1] = normal(0, 0.01)')");
      expect(Tok::Colon, "after param name '" + s.name + "'");
      s.type = type();
      expect(Tok::Equal, "and an initializer after the type of param '" + s.name + "'");
      s.value = expr();
      return;
    case Tok::KwOutput:
      onlyIn(true);
      take();
      s.kind = Stmt::Output;
      name("after 'output'");
      expect(Tok::Equal, "after output name '" + s.name + "'");
      s.value = expr();
      return;
    case Tok::KwTrain: {
      onlyIn(true);
      take();
      s.kind = Stmt::Train;
      name("after 'train'", false);
      if (cur().kind != Tok::LParen)
        expect(Tok::LParen, "after train entry '" + s.name + "'");
      Token entry;
      entry.kind = Tok::Ident;
      entry.text = s.name;
      entry.loc = s.nameLoc;
      s.value = call(entry);
      return;
    }
    case Tok::KwReturn:
      onlyIn(false);
      take();
      s.kind = Stmt::Return;
      s.value = expr();
      return;
    case Tok::KwFor: {
      // for NAME in range(...) { ... }; `in` is not reserved elsewhere.
      take();
      s.kind = Stmt::For;
      name("after 'for'");
      if (cur().kind != Tok::Ident || cur().text != "in")
        fail(cur().loc, "expected 'in' after 'for " + s.name + "', found " + describe(cur()));
      take();
      if (cur().kind != Tok::Ident) {
        // for t in 0..3: the '..' says it best.
        const Token &after = next();
        if (after.kind == Tok::Error && !after.problem.empty()) {
          take();
          fail(after.loc, after.problem);
        }
      }
      Token callee = expectName("after 'in' (a loop runs over range(n) or range(a, b))");
      if (callee.text != "range" || cur().kind != Tok::LParen)
        fail(callee.loc, "a for loop runs over range(n) or range(a, b), found " +
                             describe(callee));
      s.value = call(callee);
      block(s.body, inModel, "the for loop", first.loc.col, true);
      return;
    }
    case Tok::Ident:
      return assignment(s, first);
    default:
      fail(first.loc, "expected a statement, found " + describe(first));
    }
  }

  // NAME "=" expr, and what other languages write in its place.
  void assignment(Stmt &s, const Token &first) {
    const Token &after = next();
    if (after.kind != Tok::Equal) {
      std::string word = unsupportedStatement(first.text, after);
      if (!word.empty()) {
        if (first.text == "let" || first.text == "var" || first.text == "const")
          s.poisoned.push_back(after.text);
        fail(first.loc, word);
      }
    }
    s.kind = Stmt::Let;
    Token n = take();
    s.name = n.text;
    s.nameLoc = n.loc;
    s.poisoned.push_back(n.text);
    const Token &op = cur();
    if (op.kind == Tok::Equal) {
      take();
      s.value = expr();
      return;
    }
    if (isBinaryOp(op.kind) && next().kind == Tok::Equal)
      fail(op.loc, "'" + op.text + "=' is not supported; write '" + s.name + " = " + s.name +
                       " " + op.text + " ...'");
    if (op.kind == Tok::LBracket) {
      auto base = make(Expr::Ident, n.loc, {});
      base->name = n.text;
      ExprPtr e = postfix(std::move(base));
      if (cur().kind == Tok::Equal)
        fail(cur().loc, "assigning into an element or slice ('" + s.name +
                            "[...] = ...') is not supported: a tensor cannot be changed in "
                            "place; compute a new one (concat, pad, where) and bind it: '" +
                            s.name + " = ...'");
      s.poisoned.clear();
      fail(first.loc, "an expression alone is not a statement; bind its value: 'NAME = ...'");
    }
    if (op.kind == Tok::Comma) {
      // a, b = f(x)
      std::vector<std::string> names = {s.name};
      size_t p = pos_;
      while (toks_[p].kind == Tok::Comma && toks_[p + 1].kind == Tok::Ident) {
        names.push_back(toks_[p + 1].text);
        p += 2;
      }
      if (toks_[p].kind == Tok::Equal) {
        s.poisoned = names;
        std::string list = names[0];
        for (size_t k = 1; k < names.size(); ++k)
          list += ", " + names[k];
        fail(first.loc, "unpacking '" + list + " = ...' is not supported; bind the list and "
                        "index it: 's = ...', then '" + names[0] + " = s[0]'");
      }
    }
    if (op.kind == Tok::LParen) {
      s.poisoned.clear();
      fail(first.loc, "a call alone is not a statement (its value would be lost); bind it: "
                      "'h = " + s.name + "(...)'");
    }
    expect(Tok::Equal, "after '" + s.name + "' (a statement binds a name: '" + s.name +
                           " = ...')");
  }

  // --- expressions ----------------------------------------------------------

  ExprPtr make(Expr::Kind k, const SourceLoc &loc, std::vector<ExprPtr> args) {
    auto e = std::make_unique<Expr>(k, loc);
    for (auto &a : args)
      e->depth = std::max(e->depth, a->depth + 1);
    if (e->depth > kMaxExprHeight)
      fail(loc, "expression too long (deeper than " + std::to_string(kMaxExprHeight) +
                    " operations); split it with intermediate names");
    e->args = std::move(args);
    return e;
  }

  ExprPtr expr() {
    Depth d(*this, cur().loc);
    ExprPtr lhs = term();
    while (cur().kind == Tok::Plus || cur().kind == Tok::Minus) {
      Token op = take();
      std::vector<ExprPtr> args;
      args.push_back(std::move(lhs));
      args.push_back(term());
      lhs = make(Expr::Binary, op.loc, std::move(args));
      lhs->op = op.text;
    }
    return lhs;
  }

  ExprPtr term() {
    ExprPtr lhs = unary();
    while (cur().kind == Tok::Star || cur().kind == Tok::Slash ||
           cur().kind == Tok::SlashSlash || cur().kind == Tok::At) {
      Token op = take();
      std::vector<ExprPtr> args;
      args.push_back(std::move(lhs));
      args.push_back(unary());
      lhs = make(Expr::Binary, op.loc, std::move(args));
      lhs->op = op.text;
    }
    return lhs;
  }

  ExprPtr unary() {
    if (cur().kind == Tok::Minus) {
      Token op = take();
      Depth d(*this, op.loc);
      std::vector<ExprPtr> args;
      args.push_back(unary());
      return make(Expr::Neg, op.loc, std::move(args));
    }
    return power();
  }

  // As in Python: ** binds tighter than a unary minus on its left (-x ** 2
  // is -(x ** 2)), takes one on its right (2 ** -1), and groups to the
  // right (a ** b ** c is a ** (b ** c)).
  ExprPtr power() {
    ExprPtr base = postfix(primary());
    if (cur().kind != Tok::StarStar)
      return base;
    Token op = take();
    Depth d(*this, op.loc);
    std::vector<ExprPtr> args;
    args.push_back(std::move(base));
    args.push_back(unary());
    ExprPtr e = make(Expr::Binary, op.loc, std::move(args));
    e->op = op.text;
    return e;
  }

  // e ("[" item ("," item)* "]")*, item := expr | expr? ":" expr?
  // (a list element s[0], a tensor slice x[:, t, 0:14]).
  ExprPtr postfix(ExprPtr e) {
    while (cur().kind == Tok::LBracket) {
      Token open = take();
      Depth d(*this, open.loc);
      Nest nest(*this);
      std::vector<ExprPtr> args;
      args.push_back(std::move(e));
      auto noStep = [&] {
        if (cur().kind == Tok::Colon)
          fail(cur().loc, "a slice step ('lo:hi:step') is not supported: a slice takes every "
                          "element from lo to hi");
      };
      do {
        if (cur().kind == Tok::RBracket)
          break;
        SourceLoc at = cur().loc;
        ExprPtr lo;
        if (cur().kind != Tok::Colon)
          lo = expr();
        if (cur().kind != Tok::Colon) {
          args.push_back(std::move(lo));
          continue;
        }
        take();
        noStep();
        ExprPtr hi;
        if (cur().kind != Tok::Comma && cur().kind != Tok::RBracket)
          hi = expr();
        noStep();
        std::vector<ExprPtr> bounds;
        bool hasLo = lo != nullptr, hasHi = hi != nullptr;
        if (lo)
          bounds.push_back(std::move(lo));
        if (hi)
          bounds.push_back(std::move(hi));
        ExprPtr r = make(Expr::Range, at, std::move(bounds));
        r->hasLo = hasLo;
        r->hasHi = hasHi;
        args.push_back(std::move(r));
      } while (accept(Tok::Comma));
      expect(Tok::RBracket, "after the index", {{open.loc, "to match this '['"}});
      if (args.size() == 1)
        fail(open.loc, "expected an index between '[' and ']'");
      e = make(Expr::Index, open.loc, std::move(args));
    }
    return e;
  }

  ExprPtr primary() {
    Token t = cur();
    switch (t.kind) {
    case Tok::Int: {
      take();
      auto e = make(Expr::Int, t.loc, {});
      e->intValue = t.intValue;
      return e;
    }
    case Tok::Float: {
      take();
      auto e = make(Expr::Float, t.loc, {});
      e->floatValue = t.floatValue;
      return e;
    }
    case Tok::String: {
      take();
      auto e = make(Expr::String, t.loc, {});
      e->name = t.text;
      return e;
    }
    case Tok::Ident: {
      Tok after = next().kind;
      if (t.text == "lambda" && (after == Tok::Ident || after == Tok::Colon))
        fail(t.loc, unsupportedStatement("lambda", next()));
      if (t.text == "not" && after != Tok::LParen && startsExpression(after))
        fail(t.loc, "'not' is not supported; for a mask m (1.0 or 0.0), 1 - m is 'not m'");
      if (t.text == "if" && startsExpression(after))
        fail(t.loc, unsupportedStatement("if", next()));
      take();
      if (cur().kind == Tok::LParen)
        return call(t);
      auto e = make(Expr::Ident, t.loc, {});
      e->name = t.text;
      return e;
    }
    case Tok::LParen: {
      take();
      ExprPtr inner;
      {
        Nest nest(*this);
        inner = expr();
        expect(Tok::RParen, "to close the parenthesis", {{t.loc, "to match this '('"}});
      }
      return inner;
    }
    case Tok::LBracket: {
      take();
      std::vector<ExprPtr> elems;
      {
        Nest nest(*this);
        while (cur().kind != Tok::RBracket) {
          elems.push_back(expr());
          if (!accept(Tok::Comma))
            break;
        }
        expect(Tok::RBracket, "after list elements", {{t.loc, "to match this '['"}});
      }
      return make(Expr::List, t.loc, std::move(elems));
    }
    default:
      fail(t.loc, "expected an expression, found " + describe(t));
    }
  }

  // `callee` is already consumed; cur() is '('.
  ExprPtr call(const Token &callee) {
    Token open = take();
    std::vector<ExprPtr> args;
    std::vector<std::string> names;
    std::vector<SourceLoc> nameLocs;
    {
      Nest nest(*this);
      while (cur().kind != Tok::RParen) {
        SourceLoc argLoc = cur().loc;
        if (cur().kind == Tok::Ident && next().kind == Tok::Equal) {
          Token kw = take();
          take();
          if (std::find(names.begin(), names.end(), kw.text) != names.end())
            fail(kw.loc, "keyword argument '" + kw.text + "' given twice");
          names.push_back(kw.text);
          nameLocs.push_back(kw.loc);
        } else {
          if (!names.empty() && !names.back().empty())
            fail(argLoc, "positional argument after keyword argument");
          names.push_back("");
          nameLocs.push_back(argLoc);
        }
        args.push_back(expr());
        if (!accept(Tok::Comma))
          break;
      }
      expect(Tok::RParen, "after arguments", {{open.loc, "to match this '('"}});
    }
    auto e = make(Expr::Call, callee.loc, std::move(args));
    e->name = callee.text;
    e->argNames = std::move(names);
    e->argNameLocs = std::move(nameLocs);
    return e;
  }

  const std::vector<Token> &toks_;
  DiagEngine &diags_;
  size_t pos_ = 0;
  int nest_ = 0;
  int depth_ = 0;
  // Where the last fail() was, and how many brackets were open there.
  size_t errPos_ = 0;
  int errNest_ = 0;
  int stmtErrors_ = 0;     // errors reported in the current statement
  int missingBraces_ = 0;  // '{' minus '}' in the file, less those reported
  size_t closeReported_ = (size_t)-1; // where a missing '}' was last reported
  bool swallowedBrace_ = false;
};

} // namespace

Program parseProgram(const std::vector<Token> &toks, DiagEngine &diags) {
  return Parser(toks, diags).program();
}

} // namespace dlc
