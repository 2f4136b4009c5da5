// The reference interpreter on small hand-computed cases, one per op (and the
// broadcasting, transposed and out-of-range variants that matter).
#include "ir/Builder.h"
#include "ir/Interpreter.h"
#include "ir/Support.h"

#include <doctest/doctest.h>

#include <cmath>

using namespace dlc;

namespace {

Tensor tf(Dims d, std::vector<double> v) {
  Tensor t = Tensor::zeros(TensorType::f32(std::move(d)));
  REQUIRE(v.size() == t.data.size());
  t.data = std::move(v);
  return t;
}

Tensor ti(Dims d, std::vector<double> v) {
  Tensor t = Tensor::zeros(TensorType::i32(std::move(d)));
  REQUIRE(v.size() == t.data.size());
  t.data = std::move(v);
  return t;
}

// A one-function scratch graph: declare inputs, build, run, read "out".
struct Scratch {
  Function f{"t"};
  Builder b{f};
  TensorMap inputs;

  Node *in(const std::string &name, const Tensor &t) {
    inputs[name] = t;
    return b.input(name, t.type);
  }
  Tensor run(Node *out) {
    f.outputs = {{"out", out}};
    return interpret(f, inputs, {}).outputs.at("out");
  }
};

void checkF32(const Tensor &t, const TensorType &type, std::vector<double> want) {
  CHECK(t.type == type);
  REQUIRE(t.data.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    CHECK(t.data[i] == doctest::Approx(want[i]).epsilon(1e-6));
  }
}

Node *op2(Scratch &s, OpKind k, Node *a, Node *c) { return s.b.binary(k, a, c); }

} // namespace

TEST_CASE("interp: const fills f32 and i32") {
  Scratch s;
  checkF32(s.run(s.b.constant(2.5, TensorType::f32({2, 2}))),
           TensorType::f32({2, 2}), {2.5, 2.5, 2.5, 2.5});
  Scratch s2;
  Tensor t = s2.run(s2.b.constant(3, TensorType::i32({3})));
  CHECK(t.data == std::vector<double>{3, 3, 3});
}

TEST_CASE("interp: unary elementwise ops") {
  Tensor x = tf({4}, {-2, 0, 1, 4});
  auto run = [&](OpKind k) {
    Scratch s;
    return s.run(s.b.unary(k, s.in("x", x)));
  };
  TensorType t = TensorType::f32({4});
  checkF32(run(OpKind::Neg), t, {2, 0, -1, -4});
  checkF32(run(OpKind::Relu), t, {0, 0, 1, 4});
  checkF32(run(OpKind::Exp), t, {std::exp(-2.0f), 1, std::exp(1.0f), std::exp(4.0f)});
  Tensor lx = run(OpKind::Log);
  CHECK(std::isnan(lx.data[0]));
  CHECK(std::isinf(lx.data[1]));
  CHECK(lx.data[3] == doctest::Approx(std::log(4.0)));
  Tensor sq = run(OpKind::Sqrt);
  CHECK(sq.data[2] == 1.0f);
  CHECK(sq.data[3] == 2.0f);
}

TEST_CASE("interp: binary ops broadcast like numpy") {
  Tensor m23 = tf({2, 3}, {1, 2, 3, 4, 5, 6});
  SUBCASE("add row vector") {
    Scratch s;
    checkF32(s.run(s.b.add(s.in("a", m23), s.in("b", tf({3}, {10, 20, 30})))),
             TensorType::f32({2, 3}), {11, 22, 33, 14, 25, 36});
  }
  SUBCASE("sub column minus row gives an outer difference") {
    Scratch s;
    checkF32(s.run(s.b.sub(s.in("a", tf({2, 1}, {1, 2})), s.in("b", tf({1, 3}, {10, 20, 30})))),
             TensorType::f32({2, 3}), {-9, -19, -29, -8, -18, -28});
  }
  SUBCASE("mul by a scalar on the left") {
    Scratch s;
    checkF32(s.run(s.b.mul(s.in("a", tf({}, {2})), s.in("b", m23))),
             TensorType::f32({2, 3}), {2, 4, 6, 8, 10, 12});
  }
  SUBCASE("div by a column") {
    Scratch s;
    checkF32(s.run(s.b.div(s.in("a", m23), s.in("b", tf({2, 1}, {2, 4})))),
             TensorType::f32({2, 3}), {0.5, 1, 1.5, 1, 1.25, 1.5});
  }
  SUBCASE("pow with a scalar exponent is powf") {
    Scratch s;
    checkF32(s.run(op2(s, OpKind::Pow, s.in("a", tf({3}, {4, 9, 2})), s.in("b", tf({}, {0.5f})))),
             TensorType::f32({3}), {2, 3, std::sqrt(2.0f)});
  }
  SUBCASE("rank-3 against rank-2") {
    Scratch s;
    Tensor a = tf({2, 1, 2}, {1, 2, 3, 4});
    Tensor c = tf({3, 1}, {10, 20, 30});
    checkF32(s.run(s.b.add(s.in("a", a), s.in("b", c))), TensorType::f32({2, 3, 2}),
             {11, 12, 21, 22, 31, 32, 13, 14, 23, 24, 33, 34});
  }
  SUBCASE("relu_grad passes dy where x > 0, broadcasting dy") {
    Scratch s;
    Node *dy = s.in("dy", tf({2}, {5, 7}));
    Node *x = s.in("x", tf({2, 2}, {1, 0, -1, 2}));
    checkF32(s.run(op2(s, OpKind::ReluGrad, dy, x)), TensorType::f32({2, 2}), {5, 0, 0, 7});
  }
}

TEST_CASE("interp: reshape and broadcast move data") {
  Tensor m23 = tf({2, 3}, {1, 2, 3, 4, 5, 6});
  {
    Scratch s;
    checkF32(s.run(s.b.reshape(s.in("a", m23), {3, 2})), TensorType::f32({3, 2}),
             {1, 2, 3, 4, 5, 6});
  }
  {
    Scratch s;
    checkF32(s.run(s.b.broadcast(s.in("a", tf({3}, {1, 2, 3})), {2, 3})),
             TensorType::f32({2, 3}), {1, 2, 3, 1, 2, 3});
  }
  {
    Scratch s;
    checkF32(s.run(s.b.broadcast(s.in("a", tf({2, 1}, {1, 2})), {2, 3})),
             TensorType::f32({2, 3}), {1, 1, 1, 2, 2, 2});
  }
  {
    Scratch s;
    checkF32(s.run(s.b.broadcast(s.in("a", tf({}, {7})), {2})), TensorType::f32({2}), {7, 7});
  }
  {
    Scratch s; // integer tensors move too
    Node *r = s.b.broadcast(s.b.reshape(s.in("l", ti({2}, {4, 5})), {2, 1}), {2, 2});
    Tensor t = s.run(r);
    CHECK(t.type == TensorType::i32({2, 2}));
    CHECK(t.data == std::vector<double>{4, 4, 5, 5});
  }
}

TEST_CASE("interp: reductions drop the listed axes") {
  Tensor m23 = tf({2, 3}, {1, 2, 3, 4, 5, 6});
  auto reduce = [](const Tensor &x, OpKind k, std::vector<int64_t> axes) {
    Scratch s;
    Node *in = s.in("x", x);
    return s.run(k == OpKind::ReduceSum ? s.b.reduceSum(in, axes) : s.b.reduceMean(in, axes));
  };
  checkF32(reduce(m23, OpKind::ReduceSum, {0}), TensorType::f32({3}), {5, 7, 9});
  checkF32(reduce(m23, OpKind::ReduceSum, {1}), TensorType::f32({2}), {6, 15});
  checkF32(reduce(m23, OpKind::ReduceSum, {1, 0}), TensorType::f32({}), {21});
  checkF32(reduce(m23, OpKind::ReduceMean, {1}), TensorType::f32({2}), {2, 5});
  checkF32(reduce(m23, OpKind::ReduceMean, {0, 1}), TensorType::f32({}), {3.5});
  Tensor t = tf({2, 3, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  // axes {0, 2}: for each middle index j, sum over i and k.
  checkF32(reduce(t, OpKind::ReduceSum, {0, 2}), TensorType::f32({3}), {1 + 2 + 7 + 8, 3 + 4 + 9 + 10, 5 + 6 + 11 + 12});
  checkF32(reduce(t, OpKind::ReduceMean, {0, 2}), TensorType::f32({3}), {4.5, 6.5, 8.5});
}

TEST_CASE("interp: softmax is stable and works on the last axis") {
  float l3 = std::log(3.0f);
  Scratch s;
  float e = std::exp(1.0f);
  Tensor x = tf({3, 2}, {0, l3, 1000, 1000, -1000, -999});
  checkF32(s.run(s.b.unary(OpKind::Softmax, s.in("x", x))), TensorType::f32({3, 2}),
           {0.25, 0.75, 0.5, 0.5, 1 / (1 + e), e / (1 + e)});
  Scratch s3; // rank 3: rows are the last axis
  Tensor x3 = tf({2, 1, 2}, {0, l3, 0, 0});
  checkF32(s3.run(s3.b.unary(OpKind::Softmax, s3.in("x", x3))), TensorType::f32({2, 1, 2}),
           {0.25, 0.75, 0.5, 0.5});
}

TEST_CASE("interp: softmax_grad is y * (dy - sum(dy * y))") {
  Scratch s;
  Node *dy = s.in("dy", tf({2, 2}, {1, 0, 2, 2}));
  Node *y = s.in("y", tf({2, 2}, {0.25, 0.75, 0.5, 0.5}));
  // row 0: sum = 0.25 -> [0.25 * 0.75, 0.75 * -0.25]; row 1: dy constant -> 0.
  checkF32(s.run(op2(s, OpKind::SoftmaxGrad, dy, y)), TensorType::f32({2, 2}),
           {0.1875, -0.1875, 0, 0});
}

TEST_CASE("interp: sparse_xent and its gradient") {
  float l3 = std::log(3.0f);
  Tensor logits = tf({3, 2}, {0, l3, 0, 0, 1000, 1000});
  Tensor labels = ti({3}, {1, 0, 1});
  {
    Scratch s;
    Node *r = s.b.create(OpKind::SparseXent, {s.in("x", logits), s.in("l", labels)});
    checkF32(s.run(r), TensorType::f32({3}),
             {std::log(4.0f / 3.0f), std::log(2.0f), std::log(2.0f)});
  }
  {
    Scratch s;
    Node *r = s.b.create(OpKind::SparseXentGrad,
                         {s.in("dy", tf({3}, {2, 1, 1})), s.in("x", logits), s.in("l", labels)});
    checkF32(s.run(r), TensorType::f32({3, 2}), {0.5, -0.5, -0.5, 0.5, 0.5, -0.5});
  }
  for (int32_t bad : {2, -1}) {
    Scratch s;
    Node *r = s.b.create(OpKind::SparseXent,
                         {s.in("x", logits), s.in("l", ti({3}, {0, (double)bad, 1}))});
    CHECK_THROWS_WITH_AS(s.run(r), doctest::Contains("outside [0, 2)"), InternalError);
  }
}

TEST_CASE("interp: matmul in all four transpose layouts") {
  Tensor a = tf({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor at = tf({3, 2}, {1, 4, 2, 5, 3, 6});
  Tensor c = tf({3, 2}, {7, 8, 9, 10, 11, 12});
  Tensor ct = tf({2, 3}, {7, 9, 11, 8, 10, 12});
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      INFO("transpose_a=" << ta << " transpose_b=" << tb);
      Scratch s;
      Node *r = s.b.matmul(s.in("a", ta ? at : a), s.in("b", tb ? ct : c), ta, tb);
      checkF32(s.run(r), TensorType::f32({2, 2}), {58, 64, 139, 154});
    }
}

TEST_CASE("interp: missing or mistyped tensors are internal errors") {
  Function f("t");
  Builder b(f);
  Node *x = b.input("x", TensorType::f32({2}));
  Node *w = b.var("w", TensorType::f32({2}));
  f.outputs = {{"y", b.add(x, w)}};
  TensorMap in{{"x", tf({2}, {1, 2})}};
  CHECK_THROWS_WITH_AS(interpret(f, in, {}), doctest::Contains("missing variable 'w'"),
                       InternalError);
  CHECK_THROWS_WITH_AS(interpret(f, in, {{"w", tf({3}, {1, 2, 3})}}),
                       doctest::Contains("expected f32[2]"), InternalError);
  InterpResult r = interpret(f, in, {{"w", tf({2}, {10, 20})}});
  CHECK(r.outputs.at("y").data == std::vector<double>{11, 22});
  CHECK(r.values.at("x").data == std::vector<double>{1, 2}); // every node, by name
}

TEST_CASE("interp: initVarsForTest follows each initializer, deterministically") {
  Module m;
  m.vars.push_back({"z", TensorType::f32({3}), {Init::Zeros, 0, 0}, true, {}});
  m.vars.push_back({"c", TensorType::f32({2}), {Init::Constant, 1.5, 0}, true, {}});
  m.vars.push_back({"u", TensorType::f32({1000}), {Init::Uniform, -2, 3}, true, {}});
  m.vars.push_back({"n", TensorType::f32({4000}), {Init::Normal, 1, 0.5}, true, {}});
  TensorMap a = initVarsForTest(m, 7), b = initVarsForTest(m, 7), c = initVarsForTest(m, 8);
  CHECK(a.at("z").data == std::vector<double>{0, 0, 0});
  CHECK(a.at("c").data == std::vector<double>{1.5, 1.5});
  CHECK(a.at("u").data == b.at("u").data);
  CHECK(a.at("u").data != c.at("u").data);
  float lo = 1e9, hi = -1e9;
  for (float v : a.at("u").data)
    lo = std::min(lo, v), hi = std::max(hi, v);
  CHECK(lo >= -2.0f);
  CHECK(lo < -1.9f);
  CHECK(hi < 3.0f);
  CHECK(hi > 2.9f);
  double sum = 0, sq = 0;
  for (float v : a.at("n").data)
    sum += v, sq += (double)v * v;
  double mean = sum / 4000, sd = std::sqrt(sq / 4000 - mean * mean);
  CHECK(mean == doctest::Approx(1.0).epsilon(0.05));
  CHECK(sd == doctest::Approx(0.5).epsilon(0.05));
}
