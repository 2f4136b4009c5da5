// Frontend: the parser's tree shapes, precedence, recovery and the AST dump.
#include <doctest/doctest.h>

#include "frontend/Frontend.h"
#include "frontend/Parser.h"

#include <fstream>
#include <sstream>

using namespace dlc;

namespace {

struct Parsed {
  Program program;
  std::string errs;
  size_t errors = 0;
};

Parsed parseText(const std::string &text) {
  std::ostringstream out;
  DiagEngine diags(out, 1000);
  Parsed p;
  auto toks = lex(text, diags.addFile("t.dl", text));
  p.program = parseProgram(toks, diags);
  diags.flush();
  p.errs = out.str();
  p.errors = diags.errorCount();
  return p;
}

// The single expression of `model m { output y = EXPR }`.
const Expr &outputExpr(const Parsed &p) {
  REQUIRE(p.program.model);
  REQUIRE(p.program.model->body.size() == 1);
  return *p.program.model->body[0].value;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST_CASE("parser: the MNIST example parses into its nine statements") {
  Parsed p = parseText(readFile(DLC_SOURCE_DIR "/examples/mnist_mlp.dl"));
  CHECK(p.errors == 0);
  REQUIRE(p.program.model);
  const ModelDecl &m = *p.program.model;
  CHECK(m.name == "mnist_mlp");
  REQUIRE(m.constants.size() == 1);
  CHECK(m.constants[0].name == "batch");
  std::vector<Stmt::Kind> kinds;
  for (auto &s : m.body)
    kinds.push_back(s.kind);
  CHECK(kinds == std::vector<Stmt::Kind>{Stmt::Input, Stmt::Input, Stmt::Let, Stmt::Let,
                                         Stmt::Let, Stmt::Output, Stmt::Let, Stmt::Train});
  const Stmt &train = m.body.back();
  CHECK(train.name == "step");
  REQUIRE(train.value->args.size() == 2);
  const Expr &opt = *train.value->args[1];
  CHECK(opt.name == "adam");
  CHECK(opt.argNames == std::vector<std::string>{"lr"});
}

TEST_CASE("parser: precedence of + - * / @ and unary minus") {
  // x @ w + b * c  ==  (x @ w) + (b * c)
  Parsed p = parseText("model m {\n output y = x @ w + b * c\n}\n");
  const Expr &e = outputExpr(p);
  CHECK(e.op == "+");
  CHECK(e.args[0]->op == "@");
  CHECK(e.args[1]->op == "*");
  // -a * b  ==  (-a) * b; a - b - c == (a - b) - c
  Parsed q = parseText("model m {\n output y = -a * b - c - d\n}\n");
  const Expr &f = outputExpr(q);
  CHECK(f.op == "-");
  CHECK(f.args[0]->op == "-");
  CHECK(f.args[0]->args[0]->op == "*");
  CHECK(f.args[0]->args[0]->args[0]->kind == Expr::Neg);
}

TEST_CASE("parser: ** binds tighter than unary minus and groups to the right, as in Python") {
  // -a ** b ** -c * d  ==  (-(a ** (b ** (-c)))) * d
  Parsed p = parseText("model m {\n output y = -a ** b ** -c * d\n}\n");
  const Expr &e = outputExpr(p);
  CHECK(e.op == "*");
  const Expr &neg = *e.args[0];
  REQUIRE(neg.kind == Expr::Neg);
  const Expr &pow = *neg.args[0];
  CHECK(pow.op == "**");
  CHECK(pow.args[0]->name == "a");
  CHECK(pow.args[1]->op == "**");
  CHECK(pow.args[1]->args[1]->kind == Expr::Neg);
  // The base is a primary, a call included: 2 * (f(x) ** 2).
  Parsed q = parseText("model m {\n output y = 2 * f(x) ** 2\n}\n");
  CHECK(outputExpr(q).args[1]->op == "**");
  CHECK(outputExpr(q).args[1]->args[0]->kind == Expr::Call);
}

TEST_CASE("parser: newlines inside parentheses and brackets are whitespace") {
  Parsed p = parseText("model m {\n output y = dense(x,\n   10,\n   activation = relu)\n}\n");
  CHECK(p.errors == 0);
  const Expr &e = outputExpr(p);
  CHECK(e.kind == Expr::Call);
  CHECK(e.argNames == std::vector<std::string>{"", "", "activation"});
}

TEST_CASE("parser: functions with defaults, params and return") {
  Parsed p = parseText("fn lin(x, n, act = none) {\n param w : f32[dim(x, -1), n] = zeros()\n"
                       " return act(x @ w)\n}\n");
  CHECK(p.errors == 0);
  REQUIRE(p.program.fns.size() == 1);
  const FnDecl &f = *p.program.fns[0];
  CHECK(f.name == "lin");
  REQUIRE(f.params.size() == 3);
  CHECK(!f.params[1].dflt);
  CHECK(f.params[2].dflt);
  REQUIRE(f.body.size() == 2);
  CHECK(f.body[0].kind == Stmt::Param);
  CHECK(f.body[0].type.dims.size() == 2);
  CHECK(f.body[1].kind == Stmt::Return);
}

TEST_CASE("parser: one error per bad line, and the good lines still parse") {
  Parsed p = parseText("model m {\n input x : f32[4]\n h = x +\n y = )\n output z = x\n}\n");
  CHECK(p.errors == 2);
  REQUIRE(p.program.model);
  // input x and output z survive; the bad lines are Error statements that
  // poison the names they would have bound.
  const auto &body = p.program.model->body;
  REQUIRE(body.size() == 4);
  CHECK(body[0].kind == Stmt::Input);
  CHECK(body[1].kind == Stmt::Error);
  CHECK(body[1].poisoned == std::vector<std::string>{"h"});
  CHECK(body[2].kind == Stmt::Error);
  CHECK(body[2].poisoned == std::vector<std::string>{"y"});
  CHECK(body[3].kind == Stmt::Output);
}

namespace {

// The kinds of a statement list, "input let error ...", blocks in braces.
std::string kinds(const std::vector<Stmt> &body) {
  static const char *names[] = {"input", "param", "let", "output", "train", "return", "for",
                                "error"};
  std::string out;
  for (const Stmt &s : body) {
    out += (out.empty() ? "" : " ") + std::string(names[s.kind]);
    if (!s.body.empty())
      out += " {" + kinds(s.body) + "}";
  }
  return out;
}

} // namespace

TEST_CASE("parser recovery: one message per mistake, and the statements after it parse") {
  // A bad run of characters: one message, the statement poisoned.
  Parsed p = parseText("model m {\n input x : f32[4]\n h = x $$$ x\n output y = h\n}\n");
  CHECK(p.errors == 1);
  CHECK(p.errs.find("t.dl:3:8: error: expected end of line after the statement, found "
                    "characters '$$$'") == 0);
  CHECK(kinds(p.program.model->body) == "input error output");

  // An unclosed '(' runs into the next line, which is still a statement.
  p = parseText("model m {\n input x : f32[4]\n h = relu(x\n output y = h\n}\n");
  CHECK(p.errors == 1);
  CHECK(kinds(p.program.model->body) == "input error output");

  // A call continued over lines, with a mistake on the first: the
  // continuation is part of the statement, not a statement of its own.
  p = parseText("model m {\n input x : f32[4]\n h = dense(x 10,\n      relu)\n output y = h\n}\n");
  CHECK(p.errors == 1);
  CHECK(kinds(p.program.model->body) == "input error output");

  // A block on a line that does not parse is parsed as that statement's:
  // its mistakes are found, its names poisoned, and its '}' is not the model's.
  p = parseText("model m {\n input x : f32[4]\n while x {\n  h = relu(x)\n  g = )\n }\n"
                " output y = h\n}\n");
  CHECK(p.errors == 2);
  CHECK(p.errs.find("t.dl:3:2: error: 'while' loops are not supported") == 0);
  CHECK(p.errs.find("t.dl:5:7: error: expected an expression, found ')'") != std::string::npos);
  CHECK(kinds(p.program.model->body) == "input error {let error} output");

  // 'else' after a reported 'if' is the same mistake.
  p = parseText("model m {\n input x : f32[4]\n if x {\n  h = x\n }\n else {\n  h = x\n }\n"
                " output y = h\n}\n");
  CHECK(p.errors == 1);
  CHECK(kinds(p.program.model->body) == "input error {let} error {let} output");
}

TEST_CASE("parser recovery: unbalanced braces") {
  // A for loop without its '}': the line indented as the loop ends it.
  Parsed p = parseText("model m {\n input x : f32[4]\n h = x\n for t in range(3) {\n"
                       "  h = h + 1\n output y = h\n}\n");
  CHECK(p.errors == 1);
  CHECK(p.errs.find("t.dl:6:2: error: expected '}' to close the for loop before this line, "
                    "which is not indented under it") == 0);
  CHECK(kinds(p.program.model->body) == "input let for {let} output");

  // With balanced braces, indentation means nothing.
  p = parseText("model m {\n input x : f32[4]\n h = x\n for t in range(3) {\n"
                " h = h + 1\n }\n output y = h\n}\n");
  CHECK(p.errors == 0);

  // One '}' too many: the statements after it still belong to the model.
  p = parseText("model m {\n input x : f32[4]\n h = x\n for t in range(3) {\n"
                "  h = h + 1\n }}\n output y = h\n}\n");
  CHECK(p.errors == 1);
  CHECK(p.errs.find("t.dl:7:2: error: expected 'model' or 'fn', found keyword 'output' after "
                    "the end of model 'm'") == 0);
  CHECK(kinds(p.program.model->body) == "input let for {let} output");

  // A function without its '}' ends at the next declaration, and is kept.
  p = parseText("fn f(x) {\n return x\nmodel m {\n input x : f32[4]\n output y = f(x)\n}\n");
  CHECK(p.errors == 1);
  REQUIRE(p.program.fns.size() == 1);
  CHECK(kinds(p.program.fns[0]->body) == "return");
  CHECK(kinds(p.program.model->body) == "input output");

  // Python's blocks: the ':' is reported, the indented lines are the body.
  p = parseText("model m {\n input x : f32[4]\n h = x\n for t in range(3):\n  h = h + 1\n"
                " output y = h\n}\n");
  CHECK(p.errors == 1);
  CHECK(kinds(p.program.model->body) == "input let error {let} output");
}

TEST_CASE("parser recovery: a header that does not parse poisons what it declares") {
  Parsed p = parseText("model m(a = 4, b = , c = 10) {\n input x : f32[a, b, c]\n output y = x\n}\n");
  CHECK(p.errors == 1);
  REQUIRE(p.program.model);
  CHECK(p.program.model->broken);
  const auto &cs = p.program.model->constants;
  REQUIRE(cs.size() == 3);
  CHECK((!cs[0].poisoned && cs[1].poisoned && cs[1].name == "b" && cs[2].poisoned &&
         cs[2].name == "c"));
  CHECK(kinds(p.program.model->body) == "input output");

  p = parseText("fn f(x y) {\n return x\n}\nmodel m {\n input x : f32[4]\n output y = f(x)\n}\n");
  CHECK(p.errors == 1);
  REQUIRE(p.program.fns.size() == 1);
  CHECK(p.program.fns[0]->broken);
}

TEST_CASE("parser: statements in the wrong place") {
  Parsed p = parseText("fn f(x) {\n input y : f32[1]\n return x\n}\nmodel m {\n return 1\n}\n");
  CHECK(p.errs.find("t.dl:2:2: error: 'input' is only allowed in a model") != std::string::npos);
  CHECK(p.errs.find("t.dl:6:2: error: 'return' is only allowed in a function") != std::string::npos);
}

TEST_CASE("parser: nesting depth is bounded with a diagnostic, not a crash") {
  std::string deep(5000, '(');
  Parsed p = parseText("model m {\n output y = " + deep + "x" + std::string(5000, ')') + "\n}\n");
  CHECK(p.errs.find("error: expression nested too deeply (more than 200 levels)") != std::string::npos);
  std::string chain = "x";
  for (int i = 0; i < 20000; ++i)
    chain += " + x";
  Parsed q = parseText("model m {\n output y = " + chain + "\n}\n");
  CHECK(q.errs.find("error: expression too long") != std::string::npos);
  Parsed r = parseText("model m {\n output y = " + std::string(20000, '-') + "x\n}\n");
  CHECK(r.errors == 1);
}

TEST_CASE("parser: --emit=ast prints one node per line with positions") {
  std::ostringstream out, errs;
  CHECK(dumpAst(DLC_SOURCE_DIR "/examples/mnist_mlp.dl", out, errs));
  std::string ast = out.str();
  CHECK(ast.find("model mnist_mlp  @3:7\n") == 0);
  CHECK(ast.find("\n  const batch  @3:17\n    default = int 128  @3:25\n") != std::string::npos);
  CHECK(ast.find("\n  let logits  @9:3\n    call dense  @9:12\n      ident h  @9:18\n") !=
        std::string::npos);
  CHECK(ast.find("\n  train step  @14:3\n    ident loss  @14:14\n    call adam  @14:20\n"
                 "      lr = float 0.001  @14:30\n") != std::string::npos);
  CHECK(errs.str().empty());
}
