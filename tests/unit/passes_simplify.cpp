// The simplify pass: what each rewrite leaves of small graphs, that the graph
// stays valid (verifier, order, names, locations, gradOf notes), that a
// second run changes nothing, and that the interpreter computes the same
// outputs and updates before and after, on random values and on inf, NaN
// and -0.0, down to an MLP's train step after autodiff and Adam.
#include "ir/Builder.h"
#include "passes/OptimizerUpdate.h"
#include "passes/Simplify.h"
#include "tests/unit/grad_support.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

using namespace dlc;
using namespace dlc::testing;

namespace {

TensorType F(Dims d) { return TensorType::f32(std::move(d)); }

size_t countOps(const Function &f, OpKind op) {
  size_t n = 0;
  for (auto &node : f.nodes)
    n += node->op == op;
  return n;
}

// Equal as the interpreter computes them: within `tol` relative (0: the
// same value, sign of zero included), NaN matching NaN.
void checkSame(const TensorMap &want, const TensorMap &got, double tol) {
  REQUIRE(want.size() == got.size());
  for (auto &[name, w] : want) {
    auto it = got.find(name);
    REQUIRE_MESSAGE(it != got.end(), name);
    const Tensor &g = it->second;
    REQUIRE(g.type == w.type);
    for (size_t i = 0; i < w.data.size(); ++i) {
      double a = w.data[i], b = g.data[i];
      INFO(name << "[" << i << "]: before " << a << ", after " << b);
      bool same = (std::isnan(a) && std::isnan(b)) ||
                  (a == b && std::signbit(a) == std::signbit(b)) ||
                  (tol > 0 && std::fabs(a - b) <= tol * (1 + std::fabs(a)));
      CHECK(same);
    }
  }
}

// Random values for every declared input (i32 ones in [0, 2): labels) and
// variable (in [0.1, 1], so Adam's second moment has a square root).
void randomValues(const Module &m, std::mt19937 &rng, TensorMap &inputs, TensorMap &vars) {
  for (auto &in : m.inputs) {
    bool labels = in.type.dtype == DType::I32;
    inputs[in.name] = randomTensor({in.type, labels ? 0.f : -1.f, labels ? 2.f : 1.f}, rng);
  }
  for (auto &v : m.vars)
    vars[v.name] = randomTensor({v.type, 0.1f, 1}, rng);
}

// Simplifies a copy of `m` and checks it: valid, a fixed point (a second run
// changes nothing), and every function computes what it did on `inputs`.
std::unique_ptr<Module> simplifyChecked(const Module &m, const TensorMap &inputs,
                                        const TensorMap &vars, double tol = 1e-6) {
  REQUIRE(problems(m) == "");
  std::unique_ptr<Module> s = cloneModule(m);
  runSimplify(*s);
  CHECK(problems(*s) == "");
  CHECK_FALSE(runSimplify(*s));
  for (size_t i = 0; i < m.functions.size(); ++i) {
    INFO("function " << m.functions[i]->name);
    InterpResult before = interpret(*m.functions[i], inputs, vars);
    InterpResult after = interpret(*s->functions[i], inputs, vars);
    checkSame(before.outputs, after.outputs, tol);
    checkSame(before.updates, after.updates, tol);
  }
  return s;
}

std::unique_ptr<Module> simplifyChecked(const Module &m, uint32_t seed) {
  std::mt19937 rng(seed);
  TensorMap inputs, vars;
  randomValues(m, rng, inputs, vars);
  return simplifyChecked(m, inputs, vars);
}

} // namespace

TEST_CASE("simplify: CSE merges equal nodes, reads and constants, keeping the first") {
  Module m;
  m.name = "t";
  m.inputs = {{"x", F({2, 3}), {}}};
  m.vars = {{"w", F({2, 3}), {}, true, {}}};
  Function &f = m.addFunction("predict");
  Builder b(f);
  Node *x = b.input("x", F({2, 3})), *w = b.var("w", F({2, 3}));
  Node *a = b.mul(x, w);
  Node *a2 = b.mul(b.input("x", F({2, 3})), b.var("w", F({2, 3}))); // read again
  Node *swapped = b.mul(w, x); // not merged: no commutativity
  Node *sum = b.add(a, a2);
  Node *s0 = b.reduceSum(sum, {0});
  Node *s1 = b.reduceSum(b.add(a, a2), {1}); // other attributes
  // 2 * 3 and 3 * 2 fold to one constant 6; 6 of another type stays apart.
  Node *six = b.mul(b.constant(2), b.constant(3));
  Node *six2 = b.mul(b.constant(3), b.constant(2));
  Node *sixes = b.constant(6, F({3}));
  f.outputs = {{"p", b.mul(s0, six)}, {"q", b.mul(s1, six2)}, {"r", b.add(s0, sixes)},
               {"swapped", swapped}};

  auto s = simplifyChecked(m, 1);
  Function &g = *s->functions[0];
  CHECK(countOps(g, OpKind::Input) == 1);
  CHECK(countOps(g, OpKind::Var) == 1);
  CHECK(countOps(g, OpKind::Mul) == 1 + 1 + 2); // a, swapped, p and q
  CHECK(countOps(g, OpKind::Add) == 2);         // one a + a, r
  CHECK(countOps(g, OpKind::ReduceSum) == 2);
  CHECK(countOps(g, OpKind::Constant) == 2);    // 6 : f32[] and 6 : f32[3]
  CHECK(g.nodes.size() == 12);
  // The first of equal nodes is the one kept, under its own name.
  Node *kept = g.find(sum->name);
  REQUIRE(kept);
  CHECK(kept->operands[0] == kept->operands[1]);
  CHECK(kept->operands[0]->name == a->name);
  CHECK_FALSE(g.find(a2->name));
}

TEST_CASE("simplify: folds maps, data movement and reductions of constants") {
  Module m;
  m.name = "t";
  m.inputs = {{"x", F({4, 3}), {}}};
  Function &f = m.addFunction("predict");
  Builder b(f);
  Node *x = b.input("x", F({4, 3}));
  // (exp(1) * 2 - 1) / 3, broadcast to [4, 3] through a reshape.
  Node *one = b.constant(1);
  Node *c = b.div(b.sub(b.mul(b.unary(OpKind::Exp, one), b.constant(2)), one),
                  b.constant(3, F({1})));
  Node *cb = b.broadcast(b.reshape(c, {1, 1}), {4, 3});
  Node *sum = b.reduceSum(b.constant(0.1, F({4, 3})), {0});
  Node *mean = b.reduceMean(b.constant(0.1, F({4, 3})), {0, 1});
  Node *inf = b.div(one, b.constant(0));
  Node *nan = b.unary(OpKind::Log, b.constant(-1));
  f.outputs = {{"y", b.mul(x, cb)}, {"sum", sum}, {"mean", mean}, {"inf", inf}, {"nan", nan}};

  auto s = simplifyChecked(m, 2);
  Function &g = *s->functions[0];
  REQUIRE(g.nodes.size() == 7); // x, the folded cb, y, and one constant per other output
  auto value = [&](const std::string &out) {
    for (auto &[name, n] : g.outputs)
      if (name == out) {
        REQUIRE(n->op == OpKind::Constant);
        return n->attrs.getFloat("value");
      }
    FAIL("no output " << out);
    return 0.0;
  };
  CHECK(value("sum") == (double)(float)(0.1 * 4));
  CHECK(value("mean") == (double)(float)0.1);
  CHECK(value("inf") == INFINITY);
  CHECK(std::isnan(value("nan")));
  Node *y = g.outputs[0].second;
  CHECK(y->op == OpKind::Mul);
  CHECK(y->operands[0]->op == OpKind::Input);
  Node *folded = y->operands[1];
  CHECK(folded->op == OpKind::Constant);
  CHECK(folded->type == F({4, 3}));
  // Folded in double, then stored as the f32 the compiled model holds.
  float e = (float)std::exp(1.0);
  float e2 = (float)((double)e * 2), e2m1 = (float)((double)e2 - 1);
  CHECK(folded->attrs.getFloat("value") == (double)(float)((double)e2m1 / 3));
}

TEST_CASE("simplify: transposes compose, the identity one goes, constants fold") {
  Module m;
  m.name = "t";
  m.inputs = {{"x", F({2, 3, 4}), {}}};
  Function &f = m.addFunction("predict");
  Builder b(f);
  Node *x = b.input("x", F({2, 3, 4}));
  auto transpose = [&](Node *v, std::vector<int64_t> perm) {
    Attrs a;
    a.set("perm", perm);
    return b.create(OpKind::Transpose, {v}, a);
  };
  Node *back = transpose(transpose(x, {1, 2, 0}), {2, 0, 1}); // there and back
  Node *two = transpose(transpose(x, {1, 0, 2}), {0, 2, 1});  // x's axes 1, 2, 0
  Attrs axes;
  axes.set("axes", std::vector<int64_t>{1});
  Node *c = b.create(OpKind::ReduceMax, {transpose(b.constant(-0.0, F({2, 3})), {1, 0})}, axes);
  f.outputs = {{"back", back}, {"two", two}, {"c", c}};

  auto s = simplifyChecked(m, 4);
  Function &g = *s->functions[0];
  CHECK(g.outputs[0].second->op == OpKind::Input);
  Node *t = g.outputs[1].second;
  REQUIRE(t->op == OpKind::Transpose);
  CHECK(t->operands[0]->op == OpKind::Input);
  CHECK(t->attrs.getInts("perm") == std::vector<int64_t>{1, 2, 0});
  Node *k = g.outputs[2].second;
  REQUIRE(k->op == OpKind::Constant);
  CHECK(k->type == F({3}));
  CHECK(std::signbit(k->attrs.getFloat("value"))); // -0.0: the max of -0s
  CHECK(g.nodes.size() == 3);
}

TEST_CASE("simplify: identities, with a broadcast when the constant is the larger operand") {
  Module m;
  m.name = "t";
  m.inputs = {{"x", F({3}), {}}};
  Function &f = m.addFunction("predict");
  Builder b(f);
  Node *x = b.input("x", F({3}));
  Node *y = b.neg(b.neg(b.div(b.mul(b.constant(1), b.mul(x, b.constant(1))), b.constant(1))));
  y = b.sub(b.add(b.constant(-0.0), b.add(y, b.constant(-0.0))), b.constant(0.0));
  Node *wide = b.mul(y, b.constant(1, F({2, 3})));
  Node *flat = b.reshape(b.reshape(b.broadcast(b.broadcast(x, {3}), {2, 3}), {3, 2}), {6});
  Node *back = b.reshape(b.reshape(x, {3, 1}), {3});
  f.outputs = {{"y", y}, {"wide", wide}, {"flat", flat}, {"back", back}};

  auto s = simplifyChecked(m, 3);
  Function &g = *s->functions[0];
  REQUIRE(g.nodes.size() == 3); // x, broadcast(x), reshape of it
  Node *in = g.nodes[0].get();
  CHECK(g.outputs[0].second == in);
  CHECK(g.outputs[3].second == in);
  Node *w = g.outputs[1].second;
  CHECK(w->op == OpKind::Broadcast);
  CHECK(w->operands[0] == in);
  CHECK(w->type == F({2, 3}));
  CHECK(w->name == wide->name); // the mul, turned into a broadcast in place
  Node *r = g.outputs[2].second;
  CHECK(r->op == OpKind::Reshape);
  CHECK(r->type == F({6}));
  CHECK(r->operands[0] == w); // flat's broadcast(x) is wide's, merged
}

TEST_CASE("simplify: identities are exact on inf, NaN and -0.0, and x * 0 and x + 0.0 stay") {
  Module m;
  m.name = "t";
  m.inputs = {{"x", F({6}), {}}};
  Function &f = m.addFunction("predict");
  Builder b(f);
  Node *x = b.input("x", F({6}));
  Node *zero = b.constant(0.0), *negZero = b.constant(-0.0), *one = b.constant(1);
  f.outputs = {{"mul1", b.mul(one, x)},          {"div1", b.div(x, one)},
               {"addnz", b.add(negZero, x)},     {"subz", b.sub(x, zero)},
               {"negneg", b.neg(b.neg(x))},      {"mul0", b.mul(x, zero)},
               {"addz", b.add(x, zero)},         {"subnz", b.sub(x, negZero)},
               {"recip", b.div(one, b.add(x, zero))}};
  TensorMap inputs{{"x", Tensor::of(F({6}), {INFINITY, -INFINITY, NAN, -0.0, 0.0, -2.5})}};
  auto s = simplifyChecked(m, inputs, {}, 0.0); // bit for bit, sign of zero included
  Function &g = *s->functions[0];
  CHECK(countOps(g, OpKind::Mul) == 1);
  CHECK(countOps(g, OpKind::Add) == 1); // x + 0.0, shared by addz and recip
  CHECK(countOps(g, OpKind::Sub) == 1);
  CHECK(countOps(g, OpKind::Neg) == 0);
}

TEST_CASE("simplify: rewritten nodes keep name, location and gradOf, and notes follow merges") {
  Module m;
  m.name = "t";
  m.inputs = {{"x", F({2}), {}}};
  Function &f = m.addFunction("predict");
  Builder b(f);
  SourceLoc here{std::make_shared<const std::string>("here.dl"), 3, 7};
  Node *x = b.input("x", F({2}));
  Node *e1 = b.unary(OpKind::Exp, x);
  Node *e2 = b.unary(OpKind::Exp, x); // merged into e1
  b.setLoc(here);
  b.setGradOf(e2);
  Node *c = b.create(OpKind::Add, {b.constant(1), b.constant(2)}, {}, "three");
  Node *y = b.mul(b.add(e1, e2), c);
  b.setGradOf(nullptr);
  f.outputs = {{"y", y}};

  auto s = simplifyChecked(m, 4);
  Function &g = *s->functions[0];
  Node *three = g.find("three");
  REQUIRE(three);
  CHECK(three->op == OpKind::Constant);
  CHECK(three->attrs.getFloat("value") == 3.0);
  CHECK(three->loc.str() == "here.dl:3:7");
  REQUIRE(three->gradOf);
  CHECK(three->gradOf->name == e1->name); // the note moved to the kept exp
  CHECK_FALSE(g.find(e2->name));
  Node *y2 = g.find(y->name);
  REQUIRE(y2);
  CHECK(y2->loc.str() == "here.dl:3:7");
  CHECK(y2->gradOf == three->gradOf);
}

TEST_CASE("simplify: dead nodes go, in every function, also those rewrites leave dead") {
  Module m;
  m.name = "t";
  m.inputs = {{"x", F({2}), {}}};
  m.vars = {{"w", F({2}), {}, true, {}}};
  Function &f = m.addFunction("predict");
  Builder b(f);
  Node *x = b.input("x", F({2}));
  b.mul(b.unary(OpKind::Exp, x), x); // nothing reads it
  f.outputs = {{"y", b.neg(b.mul(x, b.constant(1)))}};
  Function &u = m.addFunction("update");
  Builder bu(u);
  Node *w = bu.var("w", F({2}));
  bu.unary(OpKind::Sqrt, w);
  u.updates = {{"w", bu.add(w, bu.input("x", F({2})))}};
  u.train = TrainSpec{bu.constant(0.0, F({})), {}, "sgd", {}}; // updates need one

  auto s = simplifyChecked(m, 5);
  CHECK(s->functions[0]->nodes.size() == 2); // x, neg(x)
  CHECK(s->functions[1]->nodes.size() == 4); // w, x, w + x, the loss
}

TEST_CASE("simplify: an MLP's train step after autodiff and Adam computes the same") {
  std::mt19937 rng(7);
  Module m;
  m.name = "mlp";
  m.inputs = {{"x", F({4, 2, 3}), {}}, {"y", TensorType::i32({4}), {}}};
  auto logits = [&](Builder &b) {
    auto param = [&](const std::string &name, Dims d) { return b.var(name, F(d)); };
    Node *h = b.reshape(b.input("x", F({4, 2, 3})), {4, 6});
    h = b.unary(OpKind::Relu, b.add(b.matmul(h, param("dense_1.w", {6, 5})),
                                    param("dense_1.b", {5})));
    return b.add(b.matmul(h, param("dense_2.w", {5, 2})), param("dense_2.b", {2}));
  };
  for (auto &[name, d] : std::vector<std::pair<std::string, Dims>>{
           {"dense_1.w", {6, 5}}, {"dense_1.b", {5}}, {"dense_2.w", {5, 2}}, {"dense_2.b", {2}}})
    m.vars.push_back({name, F(d), {}, true, {}});
  Function &predict = m.addFunction("predict");
  Builder bp(predict);
  predict.outputs = {{"probs", bp.create(OpKind::Softmax, {logits(bp)})}};
  Function &step = m.addFunction("step");
  Builder bs(step);
  Node *xent = bs.create(OpKind::SparseXent, {logits(bs), bs.input("y", TensorType::i32({4}))});
  Node *loss = bs.reduceMean(xent, {0});
  step.outputs = {{"loss", loss}};
  step.train = TrainSpec{loss, {"dense_1.w", "dense_1.b", "dense_2.w", "dense_2.b"}, "adam", {}};
  REQUIRE(runAutodiff(m));
  REQUIRE(runOptimizerUpdate(m));

  TensorMap inputs, vars;
  randomValues(m, rng, inputs, vars);
  auto s = simplifyChecked(m, inputs, vars);
  Function &g = *s->findFunction("step");
  CHECK(s->findFunction("predict")->nodes.size() == predict.nodes.size());
  // The seed 1 / 4 spread over the batch folds to one constant (the divisor,
  // the division and the reshape go), Adam's 1 merges with the seed's 1, and
  // its lr with 1 - beta2 (both 0.001 as a float).
  CHECK(g.nodes.size() == step.nodes.size() - 5);
  CHECK(countOps(g, OpKind::Div) == countOps(step, OpKind::Div) - 1);
  CHECK(countOps(g, OpKind::Broadcast) == 0);
  bool seedFolded = false;
  for (auto &n : g.nodes)
    if (n->op == OpKind::Constant && n->type == F({4}))
      seedFolded = n->attrs.getFloat("value") == 0.25 && n->gradOf == g.train->loss;
  CHECK(seedFolded);

  // Three steps, the updated variables fed back, stay together.
  TensorMap before = vars, after = vars;
  for (int i = 0; i < 3; ++i) {
    InterpResult rb = interpret(step, inputs, before), ra = interpret(g, inputs, after);
    checkSame(rb.outputs, ra.outputs, 1e-6);
    checkSame(rb.updates, ra.updates, 1e-6);
    for (auto &[name, t] : rb.updates)
      before[name] = t;
    for (auto &[name, t] : ra.updates)
      after[name] = t;
  }
}
