// Autodiff on whole graphs against f64 central finite differences: an MLP,
// values used several times, params that do not reach the loss, and the
// shape of the adjoint graph. Each op's own rule is checked by
// tests/unit/op_table.cpp.
#include "ir/Builder.h"
#include "tests/unit/grad_support.h"

#include <doctest/doctest.h>

#include <random>
#include <set>

using namespace dlc;
using namespace dlc::testing;

namespace {

TensorType F(Dims d) { return TensorType::f32(std::move(d)); }
Operand any(Dims d) { return {F(std::move(d))}; }

} // namespace

TEST_CASE("grad: an MLP (reshape, matmul, bias, relu, sparse_xent, mean) matches finite differences") {
  std::mt19937 rng(99);
  Module m;
  m.name = "t";
  Function &f = m.addFunction("step");
  Builder b(f);
  TensorMap inputs, vars;
  auto param = [&](const std::string &name, Dims d) {
    m.vars.push_back({name, F(d), {}, true, {}});
    vars[name] = randomTensor(any(d), rng);
    return b.var(name, F(d));
  };
  inputs["x"] = randomTensor(any({4, 2, 3}), rng);
  inputs["y"] = randomTensor({TensorType::i32({4}), 0, 3}, rng);
  Node *x = b.input("x", F({4, 2, 3}));
  Node *labels = b.input("y", TensorType::i32({4}));
  m.inputs = {{"x", x->type, {}}, {"y", labels->type, {}}};
  Node *h = b.reshape(x, {4, 6});
  Node *w1 = param("dense_1.w", {6, 5}), *b1 = param("dense_1.b", {5});
  Node *w2 = param("dense_2.w", {5, 3}), *b2 = param("dense_2.b", {3});
  h = b.unary(OpKind::Relu, b.add(b.matmul(h, w1), b1));
  Node *logits = b.add(b.matmul(h, w2), b2);
  Node *loss = b.reduceMean(b.create(OpKind::SparseXent, {logits, labels}), {0});
  f.train = TrainSpec{loss, {"dense_1.w", "dense_1.b", "dense_2.w", "dense_2.b"}, "adam", {}};
  checkGradients(m, f, inputs, vars, loss->name);
}

TEST_CASE("grad: shared values, repeated var nodes and unreachable params") {
  Module m;
  m.name = "t";
  Function &f = m.addFunction("step");
  Builder b(f);
  m.vars.push_back({"w", F({2, 3}), {}, true, {}});
  m.vars.push_back({"unused", F({3}), {}, true, {}});
  m.vars.push_back({"frozen", F({3}), {}, true, {}});
  Node *w = b.var("w", F({2, 3}));
  Node *w2 = b.var("w", F({2, 3})); // the same variable read twice
  Node *fz = b.var("frozen", F({3}));
  Node *x = b.input("x", F({2, 3}));
  m.inputs.push_back({"x", x->type, {}});
  Node *sq = b.mul(w, w); // w used twice by one node
  Node *h = b.create(OpKind::Add, {b.mul(sq, x), b.mul(w2, fz)}, {}, "h"); // frozen: no param
  Node *loss = b.reduceSum(b.mul(h, h), {0, 1}); // h used twice
  b.var("unused", F({3}));
  f.train = TrainSpec{loss, {"w", "unused"}, "sgd", {}};
  std::mt19937 rng(5);
  TensorMap inputs{{"x", randomTensor(any({2, 3}), rng)}};
  TensorMap vars{{"w", randomTensor(any({2, 3}), rng)},
                 {"unused", randomTensor(any({3}), rng)},
                 {"frozen", randomTensor(any({3}), rng)}};
  checkGradients(m, f, inputs, vars, loss->name);

  CHECK(f.grads[0].first == "w");
  CHECK(f.grads[0].second->name == "d.w");
  CHECK(f.grads[1].first == "unused");
  Node *zero = f.grads[1].second;
  CHECK(zero->op == OpKind::Constant);
  CHECK(zero->type == F({3}));
  CHECK(zero->attrs.getFloat("value") == 0.0);
  // Adjoints are named after their forward value and note it.
  Node *dh = f.find("d.h");
  REQUIRE(dh);
  CHECK(dh->gradOf == loss->operands[0]); // accumulated from h's user
  Node *dLoss = f.find("d." + loss->name);
  REQUIRE(dLoss);
  CHECK(dLoss->op == OpKind::Constant);
  CHECK(dLoss->gradOf == loss);
  // frozen is not differentiated: nothing refers to it by a d. name.
  CHECK(!f.find("d.frozen"));
  // A second run leaves a differentiated function alone.
  size_t before = f.nodes.size();
  CHECK(!runAutodiff(m));
  CHECK(f.nodes.size() == before);
}

TEST_CASE("grad: autodiff keeps topological order and only the nodes it needs") {
  Module m;
  m.name = "t";
  Function &f = m.addFunction("step");
  Builder b(f);
  m.vars.push_back({"w", F({3, 2}), {}, true, {}});
  Node *x = b.input("x", F({4, 3}));
  Node *w = b.var("w", F({3, 2}));
  Node *loss = b.reduceSum(b.matmul(x, w), {0, 1});
  f.train = TrainSpec{loss, {"w"}, "sgd", {}};
  REQUIRE(runAutodiff(m));
  std::set<const Node *> seen;
  for (auto &n : f.nodes) {
    for (Node *op : n->operands)
      CHECK(seen.count(op));
    seen.insert(n.get());
  }
  // d x is never needed: no matmul producing an f32[4, 3] adjoint remains.
  for (auto &n : f.nodes)
    CHECK_FALSE((n->op == OpKind::MatMul && n->type == F({4, 3})));
  CHECK(f.removeDeadNodes() == 0);
}
