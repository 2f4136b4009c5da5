// Unit tests of the IR text parser's diagnostics, and a fuzz test: random
// mutations of a printed module must parse or fail with a located error —
// never crash, throw or hang.
#include "ir/IRParser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

using namespace dlc;

namespace dlc::irtest {
std::unique_ptr<Module> makeMlpModule(); // tests/unit/ir_printer.cpp
}

namespace {

const char *kSmall = R"(model small

input x : f32[4, 3]
param w : f32[3, 2] = uniform(-0.5, 0.5)

func predict {
  %x = input {name = "x"} : f32[4, 3]
  %w = var {name = "w"} : f32[3, 2]
  %t = matmul(%x, %w) : f32[4, 2]
  output t = %t
}
)";

// Replaces the first occurrence of `from` in kSmall and parses the result.
std::string errorFor(const std::string &from, const std::string &to) {
  std::string text = kSmall;
  size_t at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  text.replace(at, from.size(), to);
  std::string err;
  auto m = parseModuleText(text, "small.ir", err);
  CHECK_MESSAGE(!m, "parsed: " << text);
  return err;
}

bool contains(const std::string &s, const std::string &part) {
  return s.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("ir parser: the small module parses") {
  std::string err;
  auto m = parseModuleText(kSmall, "small.ir", err);
  REQUIRE_MESSAGE(m, err);
  CHECK(printModule(*m) == kSmall);
  CHECK(verifyModule(*m).empty());
}

// Found by the ir fuzz target: -0.0 prints as "-0", which read back as the
// integer 0, so a zero's sign was lost and the module printed differently.
TEST_CASE("ir parser: a real written -0 keeps its sign") {
  std::string text = R"(model zero

input x : f32[4, 3]
param w : f32[3, 2] = constant(-0)
param v : f32[3, 2] = uniform(-0, 0.5)

func step {
  %x = input {name = "x"} : f32[4, 3]
  %w = var {name = "w"} : f32[3, 2]
  %t = matmul(%x, %w) : f32[4, 2]
  %loss = reduce_sum(%t) {axes = [0, 1]} : f32[]
  train loss = %loss, optimizer = sgd(lr = 0.1, momentum = -0), params = [w]
  output loss = %loss
}
)";
  std::string err;
  auto m = parseModuleText(text, "zero.ir", err);
  REQUIRE_MESSAGE(m, err);
  CHECK(std::signbit(m->vars[0].init.a));
  CHECK(std::signbit(m->vars[1].init.a));
  CHECK(std::signbit(m->functions[0]->train->hyper[1].second));
  CHECK(printModule(*m) == text);
  // A plain 0 stays +0.
  text.replace(text.find("constant(-0)"), 12, "constant(0)");
  m = parseModuleText(text, "zero.ir", err);
  REQUIRE_MESSAGE(m, err);
  CHECK(!std::signbit(m->vars[0].init.a));
}

TEST_CASE("ir parser: an error shows file:line:col, the line and a caret") {
  std::string err = errorFor("matmul(", "matmull(");
  CHECK(err == "small.ir:9:8: error: unknown op 'matmull'\n"
               "  %t = matmull(%x, %w) : f32[4, 2]\n"
               "       ^");
}

TEST_CASE("ir parser: a declared type must match the shape rule") {
  std::string err = errorFor("%w) : f32[4, 2]", "%w) : f32[4, 3]");
  CHECK(contains(err, "small.ir:9:25: error: type mismatch: declared f32[4, 3], "
                      "but matmul gives f32[4, 2]"));
  // An ill-typed application reports the shape rule's message at the op.
  err = errorFor("%t = matmul(%x, %w)", "%t = matmul(%w, %x)");
  CHECK(contains(err, "small.ir:9:8: error: matmul: inner dimensions differ: "
                      "f32[3, 2] @ f32[4, 3]"));
}

TEST_CASE("ir parser: diagnostics for each kind of mistake") {
  struct Case {
    const char *from, *to, *expected;
  };
  const Case cases[] = {
      {"model small", "modle small", "small.ir:1:1: error: expected 'model', found 'modle'"},
      {"%w = var", "%x = var", "small.ir:8:3: error: redefinition of %x"},
      {"matmul(%x, %w)", "matmul(%x, %v)", "small.ir:9:19: error: use of undefined value %v"},
      {"output t = %t", "output t = %q", "small.ir:10:14: error: use of undefined value %q"},
      {"f32[4, 2]\n", "f64[4, 2]\n", "small.ir:9:25: error: unknown element type 'f64'"},
      {"f32[4, 2]\n", "f32[4, 0]\n", "small.ir:9:32: error: dimension 0 is out of range"},
      {"f32[4, 2]\n", "f32[4, 2\n", "small.ir:10:3: error: expected ']', found 'output'"},
      {"uniform(-0.5, 0.5)", "gaussian(0, 1)", "small.ir:4:23: error: unknown initializer 'gaussian'"},
      {"input x : f32[4, 3]\n", "input x : f32[4, 3] = zeros()\n",
       "small.ir:3:21: error: an input has no initializer"},
      {"param w", "param x", "small.ir:4:7: error: 'x' is already declared"},
      {"{name = \"w\"}", "{name = \"v\"}", "small.ir:8:8: error: variable 'v' is not declared"},
      {"{name = \"w\"} : f32[3, 2]", "{name = \"w\"} : f32[2, 3]",
       "small.ir:8:8: error: 'w' is declared f32[3, 2], used as f32[2, 3]"},
      {"{name = \"w\"}", "{name = 3}", "small.ir:8:20: error: attribute 'name' must be a string"},
      {"{name = \"w\"}", "{nom = \"w\"}",
       "small.ir:8:13: error: unexpected attribute 'nom' (var takes name)"},
      {"%w) : f32[4, 2]", "%w) {transpose_a = 2} : f32[4, 2]",
       "small.ir:9:38: error: attribute 'transpose_a' must be 0 or 1"},
      {"{name = \"w\"}", "{name = \"w}", "small.ir:8:20: error: unterminated string"},
      {"  output t = %t\n}\n", "  output t = %t\n", "small.ir:10:16: error: expected '}' to close function 'predict'"},
      {"  output t = %t\n", "  output t = %t\n  output t = %x\n", "small.ir:11:10: error: duplicate 'output t'"},
      {"  output t = %t\n", "  update w = %t\n",
       "small.ir:10:10: error: variable 'w' is f32[3, 2], but %t is f32[4, 2]"},
      {"  output t = %t\n", "  grad v = %w\n", "small.ir:10:8: error: unknown variable 'v'"},
      {"  output t = %t\n", "  train loss = %t, optimizer = sgd(lr = 0.1), params = [w]\n",
       "small.ir:10:3: error: the train loss %t is f32[4, 2], expected f32[]"},
      {"func predict {", "func predict {\n  frobnicate\n",
       "small.ir:7:3: error: expected a node, 'train', 'grad', 'update', 'output' or '}', "
       "found 'frobnicate'"},
      {"f32[4, 2]\n", "f32[4, 2]  @x.dl:0:3\n", "small.ir:9:42: error: line number 0 is out of range"},
      {"f32[4, 2]\n", "f32[4, 2]  @x.dl\n", "small.ir:9:36: error: expected a location @file:line:col"},
      {"f32[4, 2]\n", "f32[4, 2]  grad_of %nope\n",
       "small.ir:9:44: error: grad_of names an undefined value %nope"},
      {"f32[4, 2]\n", "f32[4, 99999999999999999999]\n",
       "small.ir:9:32: error: integer 99999999999999999999 is out of range"},
      {"f32[4, 2]\n", "f32[4, 2] }\nfunc predict {\n",
       "small.ir:10:6: error: redefinition of function 'predict'"},
      {"func predict {", "input z : f32[1]\nfunc predict {\n}\ninput q : f32[1]\nfunc p2 {",
       "small.ir:9:1: error: declarations must come before the first function"},
      // A train line the passes could not run must fail here, located, not
      // later as an internal compiler error.
      {"  output t = %t\n",
       "  %l = reduce_sum(%t) {axes = [0, 1]} : f32[]\n"
       "  train loss = %l, optimizer = adagrad(), params = [w]\n",
       "small.ir:11:32: error: unknown optimizer 'adagrad' (expected one of sgd, rmsprop, adam, "
       "adamw)"},
      {"  output t = %t\n",
       "  %l = reduce_sum(%t) {axes = [0, 1]} : f32[]\n"
       "  train loss = %l, optimizer = sgd(beta1 = 0.9), params = [w]\n",
       "small.ir:11:36: error: sgd has no hyperparameter 'beta1'"},
      // Values are checked against the optimizer table, as the frontend does.
      {"  output t = %t\n",
       "  %l = reduce_sum(%t) {axes = [0, 1]} : f32[]\n"
       "  train loss = %l, optimizer = sgd(momentum = 1), params = [w]\n",
       "small.ir:11:47: error: sgd: hyperparameter 'momentum' must be at least 0 and less "
       "than 1, got 1"},
      {"  output t = %t\n",
       "  %l = reduce_sum(%t) {axes = [0, 1]} : f32[]\n"
       "  train loss = %l, optimizer = sgd(lr = 1, lr = 2), params = [w]\n",
       "small.ir:11:44: error: duplicate hyperparameter 'lr'"},
      {"  output t = %t\n",
       "  %l = reduce_sum(%t) {axes = [0, 1]} : f32[]\n"
       "  train loss = %l, optimizer = sgd(), params = [w, w]\n",
       "small.ir:11:52: error: 'w' is listed twice"},
  };
  for (const Case &c : cases) {
    std::string err = errorFor(c.from, c.to);
    CHECK_MESSAGE(contains(err, c.expected), "got: " << err << "\nwanted: " << std::string(c.expected));
  }
}

TEST_CASE("ir parser: train params must be trainable f32 variables") {
  std::string text = kSmall;
  text.replace(text.find("param w"), 5, "state");
  text.replace(text.find("  output t = %t\n"), 16,
               "  %l = reduce_sum(%t) {axes = [0, 1]} : f32[]\n"
               "  train loss = %l, optimizer = sgd(), params = [w]\n");
  std::string err;
  CHECK_FALSE(parseModuleText(text, "small.ir", err));
  CHECK(contains(err, "small.ir:11:49: error: 'w' is not a trainable f32 param"));
}

TEST_CASE("ir parser: errors at the end of input point after the last token") {
  std::string err;
  CHECK_FALSE(parseModuleText("model m\n\nfunc f {\n  %x = \n\n", "e.ir", err));
  CHECK(contains(err, "e.ir:4:7: error: expected an op name, found end of input"));
  CHECK_FALSE(parseModuleText("", "e.ir", err));
  CHECK(contains(err, "e.ir:1:1: error: expected 'model', found end of input"));
}

TEST_CASE("ir parser: the caret follows tabs in the source line") {
  std::string err;
  CHECK_FALSE(parseModuleText("model m\nfunc f {\n\t%x = bogus : f32[]\n}\n", "t.ir", err));
  CHECK(err == "t.ir:3:7: error: unknown op 'bogus'\n\t%x = bogus : f32[]\n\t     ^");
}

// Mutants of a printed module: each must parse (and then verify and round
// trip) or fail with a located error; an exception or crash fails the test.
TEST_CASE("ir parser: fuzzed input never crashes or throws") {
  const std::string base = printModule(*irtest::makeMlpModule());
  const std::string alphabet = "%@:=,()[]{}\"#.-_ \n\t0123456789aefinxz\\";
  std::mt19937 rng(12345);
  auto pick = [&](size_t n) { return n ? (size_t)(rng() % n) : 0; };
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string text = base;
    int edits = 1 + (int)pick(4);
    for (int e = 0; e < edits; ++e) {
      size_t at = pick(text.size() + 1);
      switch (pick(7)) {
      case 0: // delete a character
        if (at < text.size())
          text.erase(at, 1);
        break;
      case 1: // insert a character, sometimes a control or high byte
        text.insert(at, 1, pick(10) ? alphabet[pick(alphabet.size())]
                                    : (char)pick(256));
        break;
      case 2: // replace a character
        if (at < text.size())
          text[at] = alphabet[pick(alphabet.size())];
        break;
      case 3: { // delete a span
        text.erase(at, std::min(text.size() - at, pick(40)));
        break;
      }
      case 4: { // duplicate a line
        size_t s = text.rfind('\n', at ? at - 1 : 0);
        s = s == std::string::npos ? 0 : s + 1;
        size_t e2 = text.find('\n', s);
        if (e2 != std::string::npos)
          text.insert(s, text.substr(s, e2 - s + 1));
        break;
      }
      case 5: // truncate
        text.resize(at);
        break;
      case 6: { // copy a span elsewhere
        size_t from = pick(text.size());
        text.insert(at, text.substr(from, pick(30)));
        break;
      }
      }
    }
    std::string err;
    std::unique_ptr<Module> m;
    REQUIRE_NOTHROW(m = parseModuleText(text, "fuzz.ir", err));
    if (m) {
      ++parsed;
      CHECK_MESSAGE(verifyModule(*m).empty(), text);
      std::string once = printModule(*m), err2;
      auto again = parseModuleText(once, "fuzz.ir", err2);
      REQUIRE_MESSAGE(again, err2 << "\n" << once);
      CHECK(printModule(*again) == once);
    } else {
      ++rejected;
      CHECK_MESSAGE(err.rfind("fuzz.ir:", 0) == 0, err);
      CHECK_MESSAGE(contains(err, ": error: "), err);
      CHECK_MESSAGE(contains(err, "^"), err);
    }
  }
  MESSAGE("fuzz: " << parsed << " mutants parsed, " << rejected << " rejected");
  // Both paths were exercised.
  CHECK(parsed > 50);
  CHECK(rejected > 1000);
}
