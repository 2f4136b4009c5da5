// Frontend: one mistake, one message. Lowering runs after syntax errors,
// with what a statement that did not parse would have bound poisoned;
// messages come in source order; "did you mean" only for close names.
#include <doctest/doctest.h>

#include "frontend/Diagnostics.h"
#include "frontend/Frontend.h"

#include <sstream>

using namespace dlc;

namespace {

// The diagnostics of compiling `text` as r.dl, which must fail.
std::string errorsOf(const std::string &text) {
  std::ostringstream errs;
  auto m = compileModelSource("r.dl", text, errs);
  CHECK(!m);
  return errs.str();
}

// The "file:line:col: error: message" lines of `out`.
std::vector<std::string> errorLines(const std::string &out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);)
    if (l.find(": error: ") != std::string::npos)
      lines.push_back(l);
  return lines;
}

} // namespace

TEST_CASE("recovery: a syntax error hides no later mistake, and causes none") {
  auto errs = errorLines(errorsOf("model m {\n"
                                  "  input x : f32[4, 3]\n"
                                  "  h = dense(x 8)\n"          // syntax error; h poisoned
                                  "  g = relu(h) + h * 2\n"     // nothing about h
                                  "  output y = g @ zz\n"       // a mistake of its own
                                  "}\n"));
  REQUIRE(errs.size() == 2);
  CHECK(errs[0] == "r.dl:3:15: error: expected ')' after arguments, found '8'");
  CHECK(errs[1] == "r.dl:5:18: error: unknown name 'zz'");
}

TEST_CASE("recovery: every name a failed statement would bind is poisoned") {
  // a, b (unpacking), x2 (slice assignment), the for loop's t and what its
  // body binds, an input declared on a bad line: none is reported unknown.
  auto errs = errorLines(errorsOf("fn two(x) {\n  return [x, x]\n}\n"
                                  "model m {\n"
                                  "  input x : f32[4, 3]\n"
                                  "  a, b = two(x)\n"
                                  "  x2 = x\n"
                                  "  x2[0] = 1\n"
                                  "  for t in range(3 {\n"
                                  "    g = x * t\n"
                                  "  }\n"
                                  "  input w : f32[4, 3\n"
                                  "  output y = a + b + x2 + g + t + w\n"
                                  "}\n"));
  REQUIRE(errs.size() == 4);
  CHECK(errs[0].find("r.dl:6:3: error: unpacking 'a, b = ...'") == 0);
  CHECK(errs[1].find("r.dl:8:9: error: assigning into an element or slice") == 0);
  CHECK(errs[2].find("r.dl:9:20: error: expected ')' after arguments, found '{'") == 0);
  CHECK(errs[3].find("r.dl:13:3: error: expected ']' after the dimensions, found keyword "
                     "'output'") == 0);
}

TEST_CASE("recovery: a function that did not parse") {
  // Header: calls give an invalid value silently, their arguments are checked.
  auto errs = errorLines(errorsOf("fn f(x y) {\n  return x\n}\n"
                                  "model m {\n  input x : f32[4]\n"
                                  "  h = f(x)\n  g = f(zzz)\n  output y = h + g\n}\n"));
  REQUIRE(errs.size() == 2);
  CHECK(errs[0].find("r.dl:1:8: error: expected ')'") == 0);
  CHECK(errs[1] == "r.dl:7:9: error: unknown name 'zzz'");

  // A 'return' that did not parse: not also "ends without 'return'".
  errs = errorLines(errorsOf("fn f(x) {\n  return x +* 2\n}\n"
                             "model m {\n  input x : f32[4]\n  output y = f(x)\n}\n"));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0] == "r.dl:2:13: error: expected an expression, found '*'");
}

TEST_CASE("recovery: params of an instance that was never made are not reported missing") {
  // dense's input is invalid, so dense_1 is never made; the penalty on its
  // weight is the same mistake.
  auto errs = errorLines(errorsOf("model m {\n  input x : f32[4, 3]\n"
                                  "  h = dense(relu(zzz), 2)\n"
                                  "  loss = mean(h) + sum(dense_1.w ** 2)\n"
                                  "  train step(loss, sgd())\n}\n"));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0] == "r.dl:3:18: error: unknown name 'zzz'");
}

TEST_CASE("recovery: a misspelt name is reported once, however often it is used") {
  auto errs = errorLines(errorsOf("model m {\n  input x : f32[4, 3]\n  hiden = relu(x)\n"
                                  "  a = hidden * 2\n  output y = hidden + a\n}\n"));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0] == "r.dl:4:7: error: unknown name 'hidden'; did you mean 'hiden'?");
}

TEST_CASE("diagnostics: printed in source order, not in the order they are found") {
  // The function body's mistake is found when line 7 calls it, after the
  // parser found line 6's; it is printed first.
  auto errs = errorLines(errorsOf("fn f(x) {\n  return x @ zzz\n}\n"
                                  "model m {\n  input x : f32[4, 3]\n  h = x $ x\n"
                                  "  output y = f(x)\n}\n"));
  REQUIRE(errs.size() == 2);
  CHECK(errs[0] == "r.dl:2:14: error: unknown name 'zzz'");
  CHECK(errs[1] == "r.dl:6:9: error: expected end of line after the statement, found "
                   "character '$'");
}

TEST_CASE("closestName: a typo is at most a third of the name, a swap is one edit") {
  CHECK(editDistance("dense", "desne") == 1);
  CHECK(editDistance("tanh", "rank") == 2);
  CHECK(editDistance("", "abc") == 3);
  CHECK(editDistance("abc", "") == 3);
  CHECK(editDistance("kitten", "sitting") == 3);
  // The optimal-string-alignment form edits no substring twice: "ca" to
  // "abc" is three edits, not two.
  CHECK(editDistance("ca", "abc") == 3);
  CHECK(editDistance("abcdef", "badcfe") == 3);
  const std::vector<std::string> fns = {"rank", "tanh", "dense", "relu", "mse", "sigmoid"};
  CHECK(closestName("tahn", fns) == "tanh");
  CHECK(closestName("desne", fns) == "dense");
  CHECK(closestName("sigmod", fns) == "sigmoid");
  // "tanq" is one edit from "tanh" but two from "rank"; "ranh" is one from
  // both and takes the first.
  CHECK(closestName("tanq", fns) == "tanh");
  CHECK(closestName("ranh", fns) == "rank");
  // Too far for their length: no suggestion rather than a wrong one.
  CHECK(closestName("mish", fns) == "");
  CHECK(closestName("tnah", {"rank"}) == "");
  // Nothing in common, or the name itself, is no typo.
  CHECK(closestName("x", {"y", "x"}) == "");
  CHECK(closestName("xs", {"x"}) == "x");
  // A long unknown name against a large scope: candidates of a far length
  // are skipped, the near one is still found.
  std::vector<std::string> scope(2000, std::string(300, 'q'));
  scope.push_back("dense_layer_2");
  CHECK(closestName("dense_layr_2", scope) == "dense_layer_2");
  CHECK(closestName(std::string(5000, 'z'), scope) == "");
}

TEST_CASE("did you mean: only names of the kind the place wants") {
  // A call is checked against functions: the tensor 'h2' is not suggested
  // for 'h3(x)', the function 'tanh' is for 'tahn(x)'.
  auto errs = errorLines(errorsOf("model m {\n  input x : f32[4]\n  h2 = relu(x)\n"
                                  "  output y = h3(x) + tahn(x)\n}\n"));
  REQUIRE(errs.size() == 2);
  CHECK(errs[0] == "r.dl:4:14: error: unknown function 'h3'");
  CHECK(errs[1] == "r.dl:4:22: error: unknown function 'tahn'; did you mean 'tanh'?");
  // A keyword argument is checked against the callee's parameters.
  errs = errorLines(errorsOf("model m {\n  input x : f32[4, 3]\n"
                             "  output y = dense(x, 2, unit = 3)\n}\n"));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0] == "r.dl:3:26: error: dense: unknown keyword argument 'unit'; did you mean "
                   "'units'?");
}
