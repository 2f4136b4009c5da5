// The DSL's recursive-descent parser (grammar in Parser.h). Each statement
// is parsed on its own: a syntax error is reported once and unwinds to it
// (ParseRecovery.cpp decides where parsing resumes and what the statement
// would have bound), so one mistake gives one message.
#include "frontend/ParserImpl.h"

#include <fmt/format.h>

namespace dlc {

namespace parse {

Parser::Parser(const std::vector<Token> &toks, DiagEngine &diags)
    : toks_(toks), diags_(diags) {
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

Program Parser::program() {
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
    last = {&f->body, false, fmt::format("function '{}'", f->name), closingBrace()};
    (f->name.empty() ? unnamed : p.fns).push_back(std::move(f));
  };
  auto modelDecl = [&] {
    auto m = model();
    last = {&m->body, true, fmt::format("model '{}'", m->name), closingBrace()};
    if (p.model) {
      diags_.error(m->loc,
                   fmt::format("a file holds one model; '{}' is already defined", p.model->name),
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
      report(t.loc,
             fmt::format("expected 'model' or 'fn', found {} after the end of {}", describe(t),
                         last.owner),
             {{last.close, fmt::format("{} ends at this '}}'", last.owner)}});
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
          word = fmt::format("expected 'model' or 'fn', found '{}'; did you mean '{}'?", t.text,
                             near);
      }
      std::vector<DiagNote> notes;
      if (last.close.known() && word.empty())
        notes.push_back({last.close, fmt::format("{} ends at this '}}'", last.owner)});
      try {
        fail(t.loc,
             word.empty() ? fmt::format("expected 'model' or 'fn', found {}", describe(t)) : word,
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

Token Parser::expect(Tok k, const std::string &context, std::vector<DiagNote> notes) {
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
  fail(cur().loc,
       fmt::format("expected {} {}, found {}{}", spelling(k), context, describe(cur()), hint),
       std::move(notes));
}

Token Parser::expectName(const std::string &context) {
  if (cur().kind != Tok::Ident)
    fail(cur().loc, fmt::format("expected a name {}, found {}", context, describe(cur())));
  return take();
}

std::vector<FnParam> Parser::argList(const std::string &owner, bool &broken) {
  std::vector<FnParam> out;
  Token open = take();
  FnParam partial;
  try {
    Nest nest(*this);
    while (cur().kind != Tok::RParen) {
      FnParam a;
      Token name = expectName(fmt::format("in the argument list of {}", owner));
      a.name = name.text;
      a.loc = name.loc;
      partial.name = a.name;
      partial.loc = a.loc;
      for (auto &prev : out)
        if (prev.name == a.name)
          fail(a.loc, fmt::format("duplicate argument '{}' in {}", a.name, owner));
      if (cur().kind == Tok::Colon)
        fail(cur().loc, fmt::format("type annotations are not supported; write the name alone: "
                                    "'{}' (its value decides its type)",
                                    a.name));
      if (accept(Tok::Equal))
        a.dflt = expr();
      else if (!out.empty() && out.back().dflt)
        fail(a.loc, fmt::format("argument '{}' needs a default value: it follows one that has a "
                                "default",
                                a.name));
      out.push_back(std::move(a));
      partial.name.clear();
      if (!accept(Tok::Comma))
        break;
    }
    expect(Tok::RParen, fmt::format("after the arguments of {}", owner),
           {{open.loc, "to match this '('"}});
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

std::unique_ptr<FnDecl> Parser::fn() {
  auto f = std::make_unique<FnDecl>();
  Token kw = take();
  f->loc = kw.loc;
  nameOnNextLine("'fn'");
  if (cur().kind == Tok::Ident) {
    Token name = take();
    f->name = name.text;
    f->loc = name.loc;
  } else {
    complain(cur().loc, fmt::format("expected a name after 'fn', found {}", describe(cur())));
    f->broken = true;
  }
  std::string owner = f->name.empty() ? "the function" : fmt::format("function '{}'", f->name);
  if (cur().kind != Tok::LParen) {
    complain(cur().loc, fmt::format("expected '(' after {}, found {}", owner, describe(cur())));
    f->broken = true;
    if (!skipTo(Tok::LParen))
      skipHeader(f->params);
  }
  if (cur().kind == Tok::LParen)
    f->params = argList(owner, f->broken);
  block(f->body, false, owner, kw.loc.col, false);
  return f;
}

std::unique_ptr<ModelDecl> Parser::model() {
  auto m = std::make_unique<ModelDecl>();
  Token kw = take();
  m->loc = kw.loc;
  nameOnNextLine("'model'");
  if (cur().kind == Tok::Ident) {
    Token name = take();
    m->name = name.text;
    m->loc = name.loc;
  } else {
    complain(cur().loc, fmt::format("expected a name after 'model', found {}", describe(cur())));
    m->broken = true;
  }
  std::string owner = m->name.empty() ? "the model" : fmt::format("model '{}'", m->name);
  if (cur().kind != Tok::LParen && cur().kind != Tok::LBrace && cur().kind != Tok::Newline) {
    complain(cur().loc,
             fmt::format("expected '(' or '{{' after {}, found {}", owner, describe(cur())));
    m->broken = true;
    if (!skipTo(Tok::LParen))
      skipHeader(m->constants);
  }
  if (cur().kind == Tok::LParen)
    m->constants = argList(owner, m->broken);
  block(m->body, true, owner, kw.loc.col, false);
  return m;
}

void Parser::block(std::vector<Stmt> &body, bool inModel, const std::string &owner, int openerCol,
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
    report(toks_[p].loc, fmt::format("expected the '{{' of {} at the end of the line before, "
                                     "found it on a line of its own",
                                     owner));
    pos_ = p;
    Token open = toks_[pos_++];
    blockBody(body, inModel, owner, &open, openerCol, nested, false);
    return;
  }
  try {
    expect(Tok::LBrace, fmt::format("to begin the body of {}", owner));
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
  Tok after = toks_[p].kind == Tok::Eof ? Tok::Eof : toks_[p + 1].kind;
  bool braceTypo = toks_[p].kind == Tok::RBrace && missingBraces_ < 0 &&
                   (after == Tok::Newline || after == Tok::Eof);
  if (toks_[p].kind == Tok::LBrace || braceTypo) {
    // A '}' ending the line, in a file with too many '}', is the '{' mistyped.
    if (braceTypo)
      missingBraces_ += 2;
    Token open = toks_[pos_++];
    blockBody(body, inModel, owner, &open, openerCol, nested, false);
  } else if (toks_[p].kind == Tok::Newline) {
    bool untilBrace = missingBraces_ < 0;
    if (untilBrace)
      ++missingBraces_;
    blockBody(body, inModel, owner, nullptr, openerCol, nested, !untilBrace);
  }
}

void Parser::blockBody(std::vector<Stmt> &body, bool inModel, const std::string &owner,
                       const Token *open, int openerCol, bool nested, bool byIndent) {
  if (blocks_ >= kMaxNesting) {
    // Deeper blocks would exhaust the stack (here and in lowering): say so
    // once, and skip this one whole.
    if (!blocksReported_)
      diags_.error(open ? open->loc : cur().loc,
                   fmt::format("blocks nested too deeply (more than {} levels)", kMaxNesting));
    blocksReported_ = true;
    for (int depth = 1; toks_[pos_].kind != Tok::Eof; ++pos_) {
      depth += toks_[pos_].kind == Tok::LBrace ? 1 : toks_[pos_].kind == Tok::RBrace ? -1 : 0;
      if (depth == 0) {
        ++pos_;
        break;
      }
    }
    return;
  }
  ++blocks_;
  struct Leave {
    int &n;
    ~Leave() { --n; }
  } leave{blocks_};
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
        diags_.error(t.loc, fmt::format("expected '}}' at the end of {}, found {}", owner,
                                        describe(t)),
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
      complain(t.loc, fmt::format("expected '}}' at the end of {}, found {}", owner, describe(t)),
               {{open->loc, "to match this '{'"}});
      ++pos_;
      return;
    }
    if (dedent && nested && open && missingBraces_ > 0) {
      --missingBraces_;
      diags_.error(t.loc,
                   fmt::format("expected '}}' to close {} before this line, which is not "
                               "indented under it",
                               owner),
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

TypeExpr Parser::type() {
  TypeExpr t;
  Token dt = expectName("(an element type such as f32)");
  t.dtype = dt.text;
  t.loc = dt.loc;
  Token open = expect(Tok::LBracket, fmt::format("after element type '{}'", t.dtype));
  Nest nest(*this);
  while (cur().kind != Tok::RBracket) {
    t.dims.push_back(expr());
    if (!accept(Tok::Comma))
      break;
  }
  expect(Tok::RBracket, "after the dimensions", {{open.loc, "to match this '['"}});
  return t;
}

void Parser::stmt(Stmt &s, bool inModel) {
  Token first = cur();
  s.loc = first.loc;
  auto onlyIn = [&](bool wantModel) {
    if (inModel == wantModel)
      return;
    if (next().kind == Tok::Ident)
      s.poisoned.push_back(next().text);
    fail(first.loc, fmt::format("'{}' is only allowed in {}", first.text,
                                wantModel ? "a model" : "a function"));
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
    expect(Tok::Colon, fmt::format("after input name '{}'", s.name));
    s.type = type();
    return;
  case Tok::KwParam:
    take();
    s.kind = Stmt::Param;
    name("after 'param'");
    if (cur().kind == Tok::Equal)
      fail(cur().loc, fmt::format("expected ':' and a type after param name '{0}', found '=' (a "
                                  "param is declared 'param {0} : f32[3, 1] = normal(0, 0.01)')",
                                  s.name));
    expect(Tok::Colon, fmt::format("after param name '{}'", s.name));
    s.type = type();
    expect(Tok::Equal, fmt::format("and an initializer after the type of param '{}'", s.name));
    s.value = expr();
    return;
  case Tok::KwOutput:
    onlyIn(true);
    take();
    s.kind = Stmt::Output;
    name("after 'output'");
    expect(Tok::Equal, fmt::format("after output name '{}'", s.name));
    s.value = expr();
    return;
  case Tok::KwTrain: {
    onlyIn(true);
    take();
    s.kind = Stmt::Train;
    name("after 'train'", false);
    if (cur().kind != Tok::LParen)
      expect(Tok::LParen, fmt::format("after train entry '{}'", s.name));
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
      fail(cur().loc,
           fmt::format("expected 'in' after 'for {}', found {}", s.name, describe(cur())));
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
      fail(callee.loc,
           fmt::format("a for loop runs over range(n) or range(a, b), found {}", describe(callee)));
    s.value = call(callee);
    block(s.body, inModel, "the for loop", first.loc.col, true);
    return;
  }
  case Tok::Ident:
    return assignment(s, first);
  default:
    fail(first.loc, fmt::format("expected a statement, found {}", describe(first)));
  }
}

void Parser::assignment(Stmt &s, const Token &first) {
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
    fail(op.loc, fmt::format("'{0}=' is not supported; write '{1} = {1} {0} ...'", op.text,
                             s.name));
  if (op.kind == Tok::LBracket) {
    auto base = make(Expr::Ident, n.loc, {});
    base->name = n.text;
    ExprPtr e = postfix(std::move(base));
    if (cur().kind == Tok::Equal)
      fail(cur().loc, fmt::format("assigning into an element or slice ('{0}[...] = ...') is not "
                                  "supported: a tensor cannot be changed in place; compute a new "
                                  "one (concat, pad, where) and bind it: '{0} = ...'",
                                  s.name));
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
      fail(first.loc, fmt::format("unpacking '{} = ...' is not supported; bind the list and "
                                  "index it: 's = ...', then '{} = s[0]'",
                                  fmt::join(names, ", "), names[0]));
    }
  }
  if (op.kind == Tok::LParen) {
    s.poisoned.clear();
    fail(first.loc, fmt::format("a call alone is not a statement (its value would be lost); "
                                "bind it: 'h = {}(...)'",
                                s.name));
  }
  expect(Tok::Equal,
         fmt::format("after '{0}' (a statement binds a name: '{0} = ...')", s.name));
}

ExprPtr Parser::make(Expr::Kind k, const SourceLoc &loc, std::vector<ExprPtr> args) {
  auto e = std::make_unique<Expr>(k, loc);
  for (auto &a : args)
    e->depth = std::max(e->depth, a->depth + 1);
  if (e->depth > kMaxExprHeight)
    fail(loc, fmt::format("expression too long (deeper than {} operations); split it with "
                          "intermediate names",
                          kMaxExprHeight));
  e->args = std::move(args);
  return e;
}

ExprPtr Parser::expr() {
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

ExprPtr Parser::term() {
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

ExprPtr Parser::unary() {
  if (cur().kind == Tok::Minus) {
    Token op = take();
    Depth d(*this, op.loc);
    std::vector<ExprPtr> args;
    args.push_back(unary());
    return make(Expr::Neg, op.loc, std::move(args));
  }
  return power();
}

ExprPtr Parser::power() {
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

ExprPtr Parser::postfix(ExprPtr e) {
  while (cur().kind == Tok::LBracket) {
    Token open = take();
    Depth d(*this, open.loc);
    Nest nest(*this);
    std::vector<ExprPtr> args;
    args.push_back(std::move(e));
    auto noStep = [&] {
      if (cur().kind == Tok::Colon)
        fail(cur().loc, "a slice step ('lo:hi:step') is not supported; write lo:hi, which "
                        "takes every element from lo to hi");
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

ExprPtr Parser::primary() {
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
    fail(t.loc, fmt::format("expected an expression, found {}", describe(t)));
  }
}

ExprPtr Parser::call(const Token &callee) {
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
          fail(kw.loc, fmt::format("keyword argument '{}' given twice", kw.text));
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
} // namespace parse

Program parseProgram(const std::vector<Token> &toks, DiagEngine &diags) {
  return parse::Parser(toks, diags).program();
}

} // namespace dlc
