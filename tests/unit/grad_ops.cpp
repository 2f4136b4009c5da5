// Every op's gradient rule against central finite differences, through the
// autodiff pass and the reference interpreter: f = reduce_sum(op(x...) * r)
// with a fixed random r, params = the op's f32 operands.
#include "ir/Builder.h"
#include "ir/Interpreter.h"
#include "ir/Verifier.h"
#include "passes/Autodiff.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <set>

using namespace dlc;

namespace {

// The verifier's complaints as one string, so a failure shows them.
std::string problems(const Module &m) {
  std::string all;
  for (const std::string &p : verifyModule(m))
    all += p + "\n";
  return all;
}

struct Operand {
  TensorType type;
  float lo = -1, hi = 1;
  float minMagnitude = 0; // keeps kinks (relu) and poles (div) out of reach
};

struct GradCase {
  std::string label;
  OpKind op;
  std::vector<Operand> operands;
  Attrs attrs;
  std::optional<TensorType> result; // reshape / broadcast target
};

Tensor randomTensor(const Operand &o, std::mt19937 &rng) {
  Tensor t = Tensor::zeros(o.type);
  std::uniform_real_distribution<float> u(o.lo, o.hi);
  for (float &v : t.f32) {
    do
      v = u(rng);
    while (std::fabs(v) < o.minMagnitude);
  }
  std::uniform_int_distribution<int32_t> l((int32_t)o.lo, (int32_t)o.hi - 1);
  for (int32_t &v : t.i32)
    v = l(rng);
  return t;
}

// Checks d loss / d var for every element of every param against central
// differences of the interpreted loss.
void checkGradients(Module &m, Function &f, const TensorMap &inputs, TensorMap vars,
                    const std::string &lossName, float eps = 1e-3f, double tol = 1e-2) {
  REQUIRE(runAutodiff(m));
  CHECK(problems(m) == "");
  REQUIRE(f.grads.size() == f.train->params.size());
  InterpResult analytic = interpret(f, inputs, vars);
  auto lossAt = [&](const TensorMap &v) {
    return (double)interpret(f, inputs, v).values.at(lossName).f32.at(0);
  };
  for (const std::string &p : f.train->params) {
    const Tensor &g = analytic.grads.at(p);
    REQUIRE(g.type == vars.at(p).type);
    for (size_t i = 0; i < g.f32.size(); ++i) {
      float orig = vars[p].f32[i];
      vars[p].f32[i] = orig + eps;
      double up = lossAt(vars);
      vars[p].f32[i] = orig - eps;
      double down = lossAt(vars);
      vars[p].f32[i] = orig;
      double numeric = (up - down) / (2.0 * (double)eps), got = g.f32[i];
      INFO("param " << p << " element " << i << ": autodiff " << got
                    << ", finite difference " << numeric);
      CHECK(std::fabs(got - numeric) <= tol * (1 + std::fabs(numeric)));
    }
  }
}

void runCase(const GradCase &c) {
  INFO(c.label);
  std::mt19937 rng(1234);
  Module m;
  m.name = "t";
  Function &f = m.addFunction("step");
  Builder b(f);
  TensorMap inputs, vars;
  std::vector<Node *> ops;
  std::vector<std::string> params;
  for (size_t i = 0; i < c.operands.size(); ++i) {
    const Operand &o = c.operands[i];
    std::string name = "p" + std::to_string(i);
    Tensor t = randomTensor(o, rng);
    if (o.type.dtype == DType::I32) { // labels: an input, never a param
      inputs[name] = t;
      m.inputs.push_back({name, o.type, {}});
      ops.push_back(b.input(name, o.type));
      continue;
    }
    m.vars.push_back({name, o.type, {}, true, {}});
    vars[name] = t;
    params.push_back(name);
    ops.push_back(b.var(name, o.type));
  }
  Node *y = b.create(c.op, ops, c.attrs, "y", c.result ? &*c.result : nullptr);
  Node *r = b.input("r", y->type);
  m.inputs.push_back({"r", y->type, {}});
  inputs["r"] = randomTensor({y->type}, rng);
  std::vector<int64_t> all;
  for (int64_t i = 0; i < y->type.rank(); ++i)
    all.push_back(i);
  Node *prod = b.mul(y, r);
  Node *loss = all.empty() ? prod : b.reduceSum(prod, all);
  f.train = TrainSpec{loss, params, "sgd", {}};
  checkGradients(m, f, inputs, vars, loss->name);
}

TensorType F(Dims d) { return TensorType::f32(std::move(d)); }
Attrs axes(std::vector<int64_t> a) {
  Attrs at;
  at.set("axes", std::move(a));
  return at;
}
Attrs transposes(bool ta, bool tb) {
  Attrs at;
  if (ta)
    at.set("transpose_a", int64_t(1));
  if (tb)
    at.set("transpose_b", int64_t(1));
  return at;
}

const Operand pos(Dims d) { return {F(std::move(d)), 0.5f, 2.0f}; }
const Operand any(Dims d) { return {F(std::move(d))}; }
const Operand nonzero(Dims d) { return {F(std::move(d)), -2.0f, 2.0f, 0.5f}; }

} // namespace

TEST_CASE("grad: elementwise unary ops match finite differences") {
  runCase({"neg", OpKind::Neg, {any({3, 4})}, {}, {}});
  runCase({"relu", OpKind::Relu, {{F({3, 4}), -1, 1, 0.05f}}, {}, {}});
  runCase({"exp", OpKind::Exp, {any({3, 4})}, {}, {}});
  runCase({"log", OpKind::Log, {pos({3, 4})}, {}, {}});
  runCase({"sqrt", OpKind::Sqrt, {pos({3, 4})}, {}, {}});
}

TEST_CASE("grad: broadcasting binary ops match finite differences") {
  runCase({"add same shape", OpKind::Add, {any({3, 4}), any({3, 4})}, {}, {}});
  runCase({"add rank-3 + row", OpKind::Add, {any({2, 3, 4}), any({4})}, {}, {}});
  runCase({"add column + row", OpKind::Add, {any({3, 1}), any({1, 4})}, {}, {}});
  runCase({"add scalar + matrix", OpKind::Add, {any({}), any({2, 3})}, {}, {}});
  runCase({"sub row", OpKind::Sub, {any({3, 4}), any({4})}, {}, {}});
  runCase({"sub rank-3 - rank-2", OpKind::Sub, {any({2, 1, 3}), any({4, 1})}, {}, {}});
  runCase({"mul same shape", OpKind::Mul, {any({3, 4}), any({3, 4})}, {}, {}});
  runCase({"mul by scalar", OpKind::Mul, {any({3, 4}), any({})}, {}, {}});
  runCase({"mul stretch both", OpKind::Mul, {any({2, 3, 1}), any({3, 4})}, {}, {}});
  runCase({"div same shape", OpKind::Div, {any({3, 4}), nonzero({3, 4})}, {}, {}});
  runCase({"div by column", OpKind::Div, {any({3, 4}), nonzero({3, 1})}, {}, {}});
  runCase({"pow same shape", OpKind::Pow, {pos({3, 4}), {F({3, 4}), -1.5f, 1.5f}}, {}, {}});
  runCase({"pow scalar exponent", OpKind::Pow, {pos({3, 4}), {F({}), 1.0f, 2.5f}}, {}, {}});
  runCase({"pow row base", OpKind::Pow, {pos({3}), {F({2, 3}), -1.5f, 1.5f}}, {}, {}});
  // x gets a zero gradient (relu_grad is flat in x away from 0).
  runCase({"relu_grad", OpKind::ReluGrad, {any({3, 4}), {F({3, 4}), -1, 1, 0.05f}}, {}, {}});
  runCase({"relu_grad broadcast dy", OpKind::ReluGrad, {any({4}), {F({3, 4}), -1, 1, 0.05f}}, {}, {}});
}

TEST_CASE("grad: data movement and reductions match finite differences") {
  runCase({"reshape", OpKind::Reshape, {any({2, 3, 4})}, {}, F({6, 4})});
  runCase({"reshape to scalar", OpKind::Reshape, {any({1, 1})}, {}, F({})});
  runCase({"broadcast column", OpKind::Broadcast, {any({3, 1})}, {}, F({2, 3, 4})});
  runCase({"broadcast row", OpKind::Broadcast, {any({4})}, {}, F({3, 4})});
  runCase({"broadcast scalar", OpKind::Broadcast, {any({})}, {}, F({2, 2})});
  for (OpKind k : {OpKind::ReduceSum, OpKind::ReduceMean}) {
    std::string n = opName(k);
    runCase({n + " outer axes", k, {any({2, 3, 4})}, axes({0, 2}), {}});
    runCase({n + " middle axis", k, {any({2, 3, 4})}, axes({1}), {}});
    runCase({n + " all axes", k, {any({2, 3, 4})}, axes({2, 0, 1}), {}});
  }
}

TEST_CASE("grad: softmax, cross-entropy and their gradient ops match finite differences") {
  runCase({"softmax", OpKind::Softmax, {{F({3, 5}), -2, 2}}, {}, {}});
  runCase({"softmax rank 3", OpKind::Softmax, {{F({2, 3, 4}), -2, 2}}, {}, {}});
  runCase({"softmax_grad", OpKind::SoftmaxGrad, {any({3, 4}), {F({3, 4}), 0.05f, 1}}, {}, {}});
  Operand labels{TensorType::i32({4}), 0, 5};
  runCase({"sparse_xent", OpKind::SparseXent, {{F({4, 5}), -2, 2}, labels}, {}, {}});
  runCase({"sparse_xent_grad", OpKind::SparseXentGrad,
           {any({4}), {F({4, 5}), -2, 2}, labels}, {}, {}});
}

TEST_CASE("grad: matmul in every transpose layout matches finite differences") {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      Dims a = ta ? Dims{4, 3} : Dims{3, 4}, c = tb ? Dims{2, 4} : Dims{4, 2};
      runCase({"matmul ta=" + std::to_string(ta) + " tb=" + std::to_string(tb),
               OpKind::MatMul, {any(a), any(c)}, transposes(ta, tb), {}});
    }
  runCase({"matmul wide", OpKind::MatMul, {any({5, 7}), any({7, 3})}, {}, {}});
}

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
