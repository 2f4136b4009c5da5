// The DSL's recursive-descent parser (grammar in Parser.h). A syntax error is
// reported once, then a SyntaxError unwinds to the enclosing statement, which
// skips to the end of its line: one bad line costs one message.
#include "frontend/Parser.h"

#include <algorithm>

namespace dlc {

namespace {

struct SyntaxError {};

class Parser {
public:
  Parser(const std::vector<Token> &toks, DiagEngine &diags)
      : toks_(toks), diags_(diags) {}

  Program program() {
    Program p;
    while (true) {
      skipNewlines();
      const Token &t = cur();
      if (t.kind == Tok::Eof)
        break;
      try {
        if (t.kind == Tok::KwFn) {
          p.fns.push_back(fn());
        } else if (t.kind == Tok::KwModel) {
          auto m = model();
          if (p.model)
            diags_.error(m->loc, "a file holds one model; '" + p.model->name +
                                     "' is already defined",
                         {{p.model->loc, "previous model is here"}});
          else
            p.model = std::move(m);
        } else {
          fail(t.loc, "expected 'model' or 'fn', found " + describe(t));
        }
      } catch (SyntaxError &) {
        // Resume at the next declaration.
        nest_ = 0;
        while (cur().kind != Tok::Eof && cur().kind != Tok::KwFn &&
               cur().kind != Tok::KwModel)
          ++pos_;
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
  Token take() {
    Token t = cur();
    if (t.kind != Tok::Eof)
      ++pos_;
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

  [[noreturn]] void fail(const SourceLoc &loc, const std::string &msg,
                         std::vector<DiagNote> notes = {}) {
    diags_.error(loc, msg, notes);
    throw SyntaxError();
  }
  Token expect(Tok k, const std::string &context, std::vector<DiagNote> notes = {}) {
    if (cur().kind != k)
      fail(cur().loc, "expected " + spelling(k) + " " + context + ", found " +
                          describe(cur()),
           std::move(notes));
    return take();
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

  // --- declarations ---------------------------------------------------------

  std::vector<FnParam> argList(const std::string &owner) {
    std::vector<FnParam> out;
    Token open = expect(Tok::LParen, "after " + owner);
    Nest nest(*this);
    while (cur().kind != Tok::RParen) {
      FnParam a;
      Token name = expectName("in the argument list of " + owner);
      a.name = name.text;
      a.loc = name.loc;
      for (auto &prev : out)
        if (prev.name == a.name)
          fail(a.loc, "duplicate argument '" + a.name + "' in " + owner);
      if (accept(Tok::Equal))
        a.dflt = expr();
      else if (!out.empty() && out.back().dflt)
        fail(a.loc, "argument '" + a.name +
                        "' needs a default value: it follows one that has a default");
      out.push_back(std::move(a));
      if (!accept(Tok::Comma))
        break;
    }
    expect(Tok::RParen, "after the arguments of " + owner,
           {{open.loc, "to match this '('"}});
    return out;
  }

  std::unique_ptr<FnDecl> fn() {
    auto f = std::make_unique<FnDecl>();
    take();
    Token name = expectName("after 'fn'");
    f->name = name.text;
    f->loc = name.loc;
    f->params = argList("function '" + f->name + "'");
    f->body = block(false, "function '" + f->name + "'");
    return f;
  }

  std::unique_ptr<ModelDecl> model() {
    auto m = std::make_unique<ModelDecl>();
    take();
    Token name = expectName("after 'model'");
    m->name = name.text;
    m->loc = name.loc;
    if (cur().kind == Tok::LParen)
      m->constants = argList("model '" + m->name + "'");
    m->body = block(true, "model '" + m->name + "'");
    return m;
  }

  std::vector<Stmt> block(bool inModel, const std::string &owner) {
    std::vector<Stmt> body;
    Token open = expect(Tok::LBrace, "to begin the body of " + owner);
    while (true) {
      skipNewlines();
      const Token &t = cur();
      if (t.kind == Tok::RBrace) {
        take();
        return body;
      }
      if (t.kind == Tok::Eof || t.kind == Tok::KwFn || t.kind == Tok::KwModel)
        fail(t.loc, "expected '}' at the end of " + owner + ", found " + describe(t),
             {{open.loc, "to match this '{'"}});
      try {
        body.push_back(stmt(inModel));
        const Token &end = cur();
        if (end.kind != Tok::Newline && end.kind != Tok::Semicolon &&
            end.kind != Tok::RBrace && end.kind != Tok::Eof)
          fail(end.loc, "expected end of line after the statement, found " +
                            describe(end));
      } catch (SyntaxError &) {
        nest_ = 0;
        while (cur().kind != Tok::Newline && cur().kind != Tok::Semicolon &&
               cur().kind != Tok::RBrace && cur().kind != Tok::Eof &&
               cur().kind != Tok::KwFn && cur().kind != Tok::KwModel)
          ++pos_;
      }
    }
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

  Stmt stmt(bool inModel) {
    Stmt s;
    Token first = cur();
    s.loc = first.loc;
    auto onlyIn = [&](bool wantModel) {
      if (inModel != wantModel)
        fail(first.loc, "'" + first.text + "' is only allowed in " +
                            (wantModel ? "a model" : "a function"));
    };
    auto name = [&](const std::string &ctx) {
      Token n = expectName(ctx);
      s.name = n.text;
      s.nameLoc = n.loc;
    };
    switch (first.kind) {
    case Tok::KwInput:
      onlyIn(true);
      take();
      s.kind = Stmt::Input;
      name("after 'input'");
      expect(Tok::Colon, "after input name '" + s.name + "'");
      s.type = type();
      return s;
    case Tok::KwParam:
      take();
      s.kind = Stmt::Param;
      name("after 'param'");
      expect(Tok::Colon, "after param name '" + s.name + "'");
      s.type = type();
      expect(Tok::Equal, "and an initializer after the type of param '" + s.name + "'");
      s.value = expr();
      return s;
    case Tok::KwOutput:
      onlyIn(true);
      take();
      s.kind = Stmt::Output;
      name("after 'output'");
      expect(Tok::Equal, "after output name '" + s.name + "'");
      s.value = expr();
      return s;
    case Tok::KwTrain: {
      onlyIn(true);
      take();
      s.kind = Stmt::Train;
      name("after 'train'");
      if (cur().kind != Tok::LParen)
        expect(Tok::LParen, "after train entry '" + s.name + "'");
      s.value = call(Token{Tok::Ident, s.name, s.nameLoc});
      return s;
    }
    case Tok::KwReturn:
      onlyIn(false);
      take();
      s.kind = Stmt::Return;
      s.value = expr();
      return s;
    case Tok::KwFor: {
      // for NAME in range(...) { ... }; `in` is not reserved elsewhere.
      take();
      s.kind = Stmt::For;
      name("after 'for'");
      if (cur().kind != Tok::Ident || cur().text != "in")
        fail(cur().loc, "expected 'in' after 'for " + s.name + "', found " + describe(cur()));
      take();
      Token callee = expectName("after 'in' (a loop runs over range(n) or range(a, b))");
      if (callee.text != "range" || cur().kind != Tok::LParen)
        fail(callee.loc, "a for loop runs over range(n) or range(a, b), found " +
                             describe(callee));
      s.value = call(callee);
      s.body = block(inModel, "the for loop");
      return s;
    }
    case Tok::Ident:
      s.kind = Stmt::Let;
      name("");
      expect(Tok::Equal, "after '" + s.name + "' (a statement binds a name: 'h = ...')");
      s.value = expr();
      return s;
    default:
      fail(first.loc, "expected a statement, found " + describe(first));
    }
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
    ExprPtr base = postfix();
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

  // primary ("[" item ("," item)* "]")*, item := expr | expr? ":" expr?
  // (a list element s[0], a tensor slice x[:, t, 0:14]).
  ExprPtr postfix() {
    ExprPtr e = primary();
    while (cur().kind == Tok::LBracket) {
      Token open = take();
      Depth d(*this, open.loc);
      Nest nest(*this);
      std::vector<ExprPtr> args;
      args.push_back(std::move(e));
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
        ExprPtr hi;
        if (cur().kind != Tok::Comma && cur().kind != Tok::RBracket)
          hi = expr();
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
};

} // namespace

Program parseProgram(const std::vector<Token> &toks, DiagEngine &diags) {
  return Parser(toks, diags).program();
}

} // namespace dlc
