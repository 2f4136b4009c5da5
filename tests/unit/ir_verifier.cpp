// Unit tests of the IR verifier: each broken invariant, made by hand the way
// a buggy pass would make it, is reported with the function and value named.
#include "ir/Builder.h"
#include "ir/Support.h"
#include "ir/Verifier.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace dlc;

namespace dlc::irtest {
std::unique_ptr<Module> makeMlpModule(); // tests/unit/ir_printer.cpp
}

namespace {

// The single problem the verifier reports, or a note listing all of them.
std::string onlyProblem(const Module &m) {
  auto problems = verifyModule(m);
  if (problems.size() == 1)
    return problems[0];
  std::string all = std::to_string(problems.size()) + " problems:";
  for (auto &p : problems)
    all += "\n  " + p;
  return all;
}

struct Fixture {
  std::unique_ptr<Module> m = irtest::makeMlpModule();
  Function &predict = *m->findFunction("predict");
  Function &step = *m->findFunction("step");
  Node *node(Function &f, const std::string &name) {
    Node *n = f.find(name);
    REQUIRE_MESSAGE(n, name);
    return n;
  }
};

} // namespace

TEST_CASE("ir verifier: the hand-built module is valid") {
  Fixture fx;
  CHECK(verifyModule(*fx.m).empty());
  CHECK_NOTHROW(verifyOrThrow(*fx.m, "autodiff"));
}

TEST_CASE("ir verifier: a node whose type disagrees with its shape rule") {
  Fixture fx;
  fx.node(fx.predict, "h.1")->type = TensorType::f32({4, 3});
  // The user of %h.1 (softmax) now also disagrees; both are reported.
  auto problems = verifyModule(*fx.m);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0] == "func predict: %h.1 = relu: type is f32[4, 3] but the "
                       "shape rule gives f32[4, 2]");
  CHECK(problems[1].find("%probs = softmax: type is f32[4, 2]") != std::string::npos);
}

TEST_CASE("ir verifier: an ill-typed application") {
  Fixture fx;
  Node *t = fx.node(fx.predict, "t");
  std::swap(t->operands[0], t->operands[1]);
  CHECK(onlyProblem(*fx.m) == "func predict: %t = matmul: matmul: inner dimensions "
                              "differ: f32[3, 2] @ f32[4, 3]");
}

TEST_CASE("ir verifier: an operand from another function") {
  Fixture fx;
  fx.node(fx.predict, "probs")->operands[0] = fx.node(fx.step, "h.1");
  CHECK(onlyProblem(*fx.m) ==
        "func predict: %probs = softmax: operand %h.1 belongs to another function");
}

TEST_CASE("ir verifier: a variable or input that is not declared") {
  Fixture fx;
  fx.node(fx.predict, "w")->attrs.set("name", std::string("nope"));
  fx.node(fx.step, "y")->attrs.set("name", std::string("labels"));
  auto problems = verifyModule(*fx.m);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0] == "func predict: %w = var: variable 'nope' is not declared");
  CHECK(problems[1] == "func step: %y = input: input 'labels' is not declared");
}

TEST_CASE("ir verifier: a variable read with the wrong type") {
  Fixture fx;
  fx.m->findVar("b")->type = TensorType::f32({1, 2});
  // Both reads of b and its update disagree with the declaration.
  auto problems = verifyModule(*fx.m);
  REQUIRE(problems.size() == 3);
  CHECK(problems[0] == "func predict: %b = var: 'b' is declared f32[1, 2], used as f32[2]");
  CHECK(problems[2] ==
        "func step: update b: variable is f32[1, 2], value %b.new is f32[2]");
}

TEST_CASE("ir verifier: operands out of topological order") {
  Fixture fx;
  auto &nodes = fx.predict.nodes;
  // Move %t (index 3) after its user %h.
  std::swap(nodes[3], nodes[4]);
  CHECK(onlyProblem(*fx.m) ==
        "func predict: %h = add: operand %t is not defined before its use");
}

TEST_CASE("ir verifier: duplicate names") {
  Fixture fx;
  fx.node(fx.step, "s.1")->name = "s";
  CHECK(onlyProblem(*fx.m) == "func step: %s = mul: duplicate name");
}

TEST_CASE("ir verifier: an update whose type is not its variable's") {
  Fixture fx;
  fx.step.updates[0].second = fx.node(fx.step, "b.new");
  CHECK(onlyProblem(*fx.m) ==
        "func step: update w: variable is f32[3, 2], value %b.new is f32[2]");
}

TEST_CASE("ir verifier: roots outside the function, unknown variables") {
  Fixture fx;
  fx.predict.outputs[0].second = fx.node(fx.step, "loss");
  CHECK(onlyProblem(*fx.m) ==
        "func predict: output probs: %loss is not a node of this function");

  Fixture g;
  g.step.grads.push_back({"nope", g.node(g.step, "d.w")});
  g.step.train->params.push_back("ghost");
  auto problems = verifyModule(*g.m);
  REQUIRE(problems.size() == 4);
  CHECK(problems[0] == "func step: train: unknown variable 'ghost'");
  CHECK(problems[1] == "func step: grad nope: unknown variable");
  // The entry contract: a grad only for a listed param, and once one param
  // has a grad, every param has a grad or an update.
  CHECK(problems[2] == "func step: grad nope: 'nope' is not in the train line's params");
  CHECK(problems[3] == "func step: train: param 'ghost' has no grad line, though other "
                       "params have one (autodiff gives every param a grad)");
}

TEST_CASE("ir verifier: the entry contract") {
  Fixture fx; // the fixture's step is past the optimizer: updates, no grads
  fx.step.grads.push_back({"w", fx.node(fx.step, "d.w")});
  CHECK(onlyProblem(*fx.m) ==
        "func step: grad w: 'w' has both a grad and an update: the optimizer would "
        "update it a second time (a function holds grads before the optimizer pass, "
        "param updates after it)");

  Fixture missing;
  missing.step.updates.pop_back();
  CHECK(onlyProblem(*missing.m) == "func step: train: param 'b' has no update line, though "
                                   "other params have one (the optimizer updates every param)");

  Fixture outside;
  outside.predict.updates.push_back({"w", outside.node(outside.predict, "w")});
  outside.predict.grads.push_back({"w", outside.node(outside.predict, "w")});
  auto problems = verifyModule(*outside.m);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0] == "func predict: grad w: only a train entry has grads, and 'predict' "
                       "has no train line");
  CHECK(problems[1] == "func predict: update w: only a train entry changes variables, and "
                       "'predict' has no train line");
}

TEST_CASE("ir verifier: attributes the op does not declare, or of the wrong kind") {
  Fixture fx;
  fx.node(fx.predict, "h.1")->attrs.set("axes", std::vector<int64_t>{0});
  fx.node(fx.step, "d.w")->attrs.set("transpose_a", std::string("yes"));
  auto problems = verifyModule(*fx.m);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0] == "func predict: %h.1 = relu: unexpected attribute 'axes' (relu takes none)");
  CHECK(problems[1] == "func step: %d.w = matmul: attribute 'transpose_a' must be 0 or 1");
}

TEST_CASE("ir verifier: a train loss that is not a scalar, a bad grad_of") {
  Fixture fx;
  fx.step.train->loss = fx.node(fx.step, "xent");
  fx.node(fx.step, "d.b")->gradOf = fx.node(fx.predict, "h");
  auto problems = verifyModule(*fx.m);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0] == "func step: %d.b = reduce_sum: grad_of refers to a node "
                       "outside the function");
  CHECK(problems[1] == "func step: train: loss %xent is f32[4], expected f32[]");
}

TEST_CASE("ir verifier: a train entry's optimizer and params") {
  Fixture fx;
  fx.step.train->optimizer = "adagrad";
  fx.step.train->params = {"w", "step.sgd.t", "w"};
  auto problems = verifyModule(*fx.m);
  REQUIRE(problems.size() == 4);
  CHECK(problems[0] == "func step: train: unknown optimizer 'adagrad'");
  CHECK(problems[1] == "func step: train: 'step.sgd.t' is not a trainable f32 param");
  CHECK(problems[2] == "func step: train: param 'w' is listed twice");
  CHECK(problems[3] == "func step: train: param 'step.sgd.t' has no update line, though "
                       "other params have one (the optimizer updates every param)");
}

TEST_CASE("ir verifier: a train entry's hyper-parameters, against the optimizer table") {
  Fixture fx;
  fx.step.train->optimizer = "adam";
  fx.step.train->hyper = {{"lr", 0.01}, {"beta1", 1.0}, {"rho", 0.9}, {"lr", 0.02}};
  auto problems = verifyModule(*fx.m);
  REQUIRE(problems.size() == 3);
  CHECK(problems[0] == "func step: train: adam: hyper-parameter 'beta1' must be at least 0 "
                       "and less than 1, got 1");
  CHECK(problems[1] == "func step: train: adam has no hyper-parameter 'rho'");
  CHECK(problems[2] == "func step: train: hyper-parameter 'lr' is given twice");
}

TEST_CASE("ir verifier: types outside the size limits") {
  Fixture fx;
  fx.m->inputs[0].type = TensorType::f32({4, 0});
  fx.node(fx.predict, "x")->type = TensorType::f32({4, 0});
  auto problems = verifyModule(*fx.m);
  REQUIRE(problems.size() >= 2);
  CHECK(problems[0] == "input 'x': type f32[4, 0] has a dimension below 1 or more "
                       "than 2^40 elements");
  CHECK(problems[1] == "func predict: %x = input: input: result f32[4, 0] has a "
                       "dimension below 1");
}

TEST_CASE("ir verifier: names the text form could not read back") {
  Fixture fx;
  fx.node(fx.predict, "t")->name = "1t";
  fx.predict.outputs[0].first = "my probs";
  auto problems = verifyModule(*fx.m);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0] == "func predict: %1t = matmul: name is not a valid IR name");
  CHECK(problems[1] == "func predict: output my probs: name is not a valid IR name");
}

TEST_CASE("ir verifier: verifyOrThrow names the pass and every problem") {
  Fixture fx;
  fx.node(fx.step, "s.1")->name = "s";
  fx.step.updates[0].second = fx.node(fx.step, "b.new");
  try {
    verifyOrThrow(*fx.m, "optimizer-update");
    FAIL("no exception");
  } catch (const InternalError &e) {
    std::string msg = e.what();
    CHECK(msg.find("after 'optimizer-update'") != std::string::npos);
    CHECK(msg.find("\n  func step: %s = mul: duplicate name") != std::string::npos);
    CHECK(msg.find("\n  func step: update w:") != std::string::npos);
  }
}
