// Every op of ir/Ops.def, checked the same two ways from one table of cases:
//   - its gradient rule (autodiff) against f64 central finite differences of
//     loss = sum(op(operands) * r), r fixed and random, params = the f32
//     operands;
//   - its JIT-compiled kernel against the reference interpreter.
// A walk over the op table fails for an op that has no case, so a new op
// cannot land unchecked: adding one means adding a line to opCases().
#include "ir/Builder.h"
#include "ir/Formulas.h"
#include "tests/unit/grad_support.h"
#include "tests/unit/jit_support.h"

#include <doctest/doctest.h>

#include <random>

using namespace dlc;
using namespace dlc::testing;

namespace {

struct OpCase {
  std::string label;
  OpKind op;
  std::vector<Operand> operands;
  Attrs attrs = {};
  std::optional<TensorType> result = {}; // the node's type, for Typed ops
  double tol = 1e-5;                     // compiled float vs interpreter double
};

TensorType F(Dims d) { return TensorType::f32(std::move(d)); }
TensorType I(Dims d) { return TensorType::i32(std::move(d)); }
Operand any(Dims d) { return {F(std::move(d))}; }
Operand pos(Dims d) { return {F(std::move(d)), 0.5f, 2.0f}; }
Operand nonzero(Dims d) { return {F(std::move(d)), -2.0f, 2.0f, 0.5f}; }
Operand awayFromZero(Dims d) { return {F(std::move(d)), -1, 1, 0.05f}; }
Operand labels(int64_t n, int classes) { return {I({n}), 0, (float)classes}; }
// Two operands kept apart, for kinks and steps where they meet (maximum,
// comparisons): |big| in [0.5, 1], |small| below 0.4, so either may win.
Operand big(Dims d) { return {F(std::move(d)), -1, 1, 0.5f}; }
Operand small(Dims d) { return {F(std::move(d)), -0.4f, 0.4f}; }
Operand mask(Dims d) { return {F(std::move(d)), 0, 2, 0, true}; }

Attrs attr(const std::string &k, AttrValue v) {
  Attrs a;
  a.set(k, std::move(v));
  return a;
}
Attrs axis(int64_t a) { return attr("axis", a); }
Attrs perm(std::vector<int64_t> p) { return attr("perm", std::move(p)); }
Attrs box(std::vector<int64_t> begin, std::vector<int64_t> end) {
  Attrs a = attr("begin", std::move(begin));
  a.set("end", std::move(end));
  return a;
}
Attrs padding(std::vector<int64_t> low, std::vector<int64_t> high) {
  Attrs a = attr("low", std::move(low));
  a.set("high", std::move(high));
  return a;
}
Attrs windows(std::vector<int64_t> kernel, std::vector<int64_t> stride) {
  Attrs a = attr("kernel", std::move(kernel));
  a.set("stride", std::move(stride));
  return a;
}
Attrs dropout(double rate, int64_t seed) {
  Attrs a = attr("rate", rate);
  a.set("seed", seed);
  return a;
}
Attrs transposes(bool ta, bool tb) {
  Attrs a;
  if (ta)
    a.set("transpose_a", int64_t(1));
  if (tb)
    a.set("transpose_b", int64_t(1));
  return a;
}

// Shapes are small for the finite differences (each element of each param
// costs two interpretations) but awkward for the kernels: odd sizes leave
// vector remainders, size-1 and rank-0 dims exercise broadcasting.
const std::vector<OpCase> &opCases() {
  static const std::vector<OpCase> cases = [] {
    std::vector<OpCase> c = {
        {"const f32", OpKind::Constant, {}, attr("value", 2.5), F({3, 5})},
        {"const i32", OpKind::Constant, {}, attr("value", int64_t(-3)), I({9})},
        {"const scalar", OpKind::Constant, {}, attr("value", 1.25), F({})},

        {"neg", OpKind::Neg, {any({3, 5})}},
        {"relu", OpKind::Relu, {awayFromZero({3, 5})}},
        {"exp", OpKind::Exp, {any({3, 5})}},
        {"expm1", OpKind::Expm1, {{F({3, 5}), -3, 3}}},
        {"log", OpKind::Log, {pos({3, 5})}},
        {"sqrt", OpKind::Sqrt, {pos({3, 5})}},
        {"abs", OpKind::Abs, {awayFromZero({3, 5})}},
        {"sigmoid", OpKind::Sigmoid, {{F({3, 5}), -4, 4}}},
        // Far into both tails: nothing overflows, the tail keeps its value.
        {"sigmoid tails", OpKind::Sigmoid, {{F({2, 9}), -100, 100, 20}}},
        {"tanh", OpKind::Tanh, {{F({3, 5}), -3, 3}}},
        {"tanh tails", OpKind::Tanh, {{F({2, 9}), -100, 100, 20}}},
        // Its gradient is checked to be zero, not against finite differences.
        {"stop_gradient", OpKind::StopGradient, {any({3, 5})}},

        {"add same shape", OpKind::Add, {any({3, 4}), any({3, 4})}},
        {"add rank-3 + row", OpKind::Add, {any({2, 3, 5}), any({5})}},
        {"add column + row", OpKind::Add, {any({3, 1}), any({1, 5})}},
        {"add scalar + matrix", OpKind::Add, {any({}), any({2, 3})}},
        {"sub row", OpKind::Sub, {any({3, 4}), any({4})}},
        {"sub rank-3 - rank-2", OpKind::Sub, {any({2, 1, 3}), any({4, 1})}},
        {"mul same shape", OpKind::Mul, {any({3, 4}), any({3, 4})}},
        {"mul by scalar", OpKind::Mul, {any({3, 4}), any({})}},
        {"mul stretch both", OpKind::Mul, {any({2, 3, 1}), any({3, 4})}},
        {"div same shape", OpKind::Div, {any({3, 4}), nonzero({3, 4})}},
        {"div by column", OpKind::Div, {any({3, 4}), nonzero({3, 1})}},
        {"pow same shape", OpKind::Pow, {pos({3, 4}), {F({3, 4}), -1.5f, 1.5f}}},
        {"pow scalar exponent", OpKind::Pow, {pos({3, 4}), {F({}), 1.0f, 2.5f}}},
        {"pow row base", OpKind::Pow, {pos({3}), {F({2, 3}), -1.5f, 1.5f}}},
        // x gets a zero gradient (relu_grad is flat in x away from 0).
        {"relu_grad", OpKind::ReluGrad, {any({3, 4}), awayFromZero({3, 4})}},
        {"relu_grad broadcast dy", OpKind::ReluGrad, {any({4}), awayFromZero({3, 4})}},
        {"maximum", OpKind::Maximum, {big({3, 5}), small({3, 5})}},
        {"maximum by scalar", OpKind::Maximum, {small({}), big({3, 4})}},
        {"minimum", OpKind::Minimum, {small({3, 5}), big({3, 5})}},
        {"minimum column, row", OpKind::Minimum, {big({3, 1}), small({1, 5})}},
        {"greater", OpKind::Greater, {big({3, 5}), small({3, 5})}},
        {"less", OpKind::Less, {big({3, 5}), small({5})}},
        {"greater_equal", OpKind::GreaterEqual, {small({3, 1}), big({3, 4})}},
        {"less_equal", OpKind::LessEqual, {big({3, 4}), small({})}},
        // Random operands are never equal: ties are checked on their own below.
        {"equal", OpKind::Equal, {big({3, 5}), small({3, 5})}},
        {"not_equal", OpKind::NotEqual, {big({3, 5}), small({3, 5})}},
        {"where", OpKind::Where, {mask({3, 5}), any({3, 5}), any({3, 5})}},
        {"where broadcast all three", OpKind::Where, {mask({3, 1}), any({4}), any({2, 1, 1})}},
        {"where scalar else", OpKind::Where, {mask({2, 3}), any({2, 3}), any({})}},

        {"reshape", OpKind::Reshape, {any({2, 3, 4})}, {}, F({6, 4})},
        {"reshape to scalar", OpKind::Reshape, {any({1, 1})}, {}, F({})},
        {"reshape i32", OpKind::Reshape, {labels(6, 5)}, {}, I({2, 3})},
        {"broadcast column", OpKind::Broadcast, {any({3, 1})}, {}, F({2, 3, 5})},
        {"broadcast row", OpKind::Broadcast, {any({4})}, {}, F({3, 4})},
        {"broadcast scalar", OpKind::Broadcast, {any({})}, {}, F({2, 2})},
        {"broadcast i32", OpKind::Broadcast, {labels(3, 5)}, {}, I({2, 3})},
        {"transpose", OpKind::Transpose, {any({3, 5})}, perm({1, 0})},
        {"transpose rank 3", OpKind::Transpose, {any({2, 3, 5})}, perm({2, 0, 1})},
        // The last axis stays: the kernel's inner loop is a contiguous copy.
        {"transpose keeping rows", OpKind::Transpose, {any({2, 3, 5})}, perm({1, 0, 2})},
        {"transpose i32", OpKind::Transpose, {{I({2, 3}), 0, 5}}, perm({1, 0})},

        {"slice", OpKind::Slice, {any({4, 5, 3})}, box({1, 0, 1}, {3, 4, 3})},
        {"slice rows (contiguous)", OpKind::Slice, {any({6, 4})}, box({2, 0}, {5, 4})},
        {"slice i32", OpKind::Slice, {labels(6, 5)}, box({1}, {4})},
        {"pad", OpKind::Pad, {any({2, 3})}, padding({1, 0}, {0, 2})},
        {"pad rank 4", OpKind::Pad, {any({1, 3, 3, 2})}, padding({0, 1, 2, 0}, {0, 1, 0, 0})},
        {"concat last axis", OpKind::Concat, {any({2, 3}), any({2, 1}), any({2, 4})}, axis(1)},
        {"concat first axis", OpKind::Concat, {any({1, 3}), any({2, 3})}, axis(0)},
        {"concat one operand", OpKind::Concat, {any({2, 3})}, axis(0)},
        {"concat i32", OpKind::Concat, {labels(2, 5), labels(3, 5)}, axis(0)},
        {"patches", OpKind::Patches, {any({2, 5, 6, 3})}, windows({2, 3}, {1, 2})},
        {"patches one channel", OpKind::Patches, {any({2, 6, 6, 1})}, windows({3, 3}, {1, 1})},
        // The stride leaves the last row and column unread: their dx is 0.
        {"patches stride remainder", OpKind::Patches, {any({1, 6, 6, 2})}, windows({3, 3}, {2, 2})},
        {"patches_grad", OpKind::PatchesGrad, {any({2, 4, 2, 18})}, windows({2, 3}, {1, 2}),
         F({2, 5, 6, 3})},
        {"patches_grad remainder", OpKind::PatchesGrad, {any({1, 2, 2, 18})},
         windows({3, 3}, {2, 2}), F({1, 6, 6, 2})},
        // The step is held between integers, where finite differences see
        // the same mask on both sides.
        {"dropout", OpKind::Dropout, {any({3, 50}), {F({}), 3, 3.5f}}, dropout(0.3, 7)},
        {"dropout rate 0", OpKind::Dropout, {any({3, 5}), {F({}), 0, 0.5f}}, dropout(0, 1)},

        {"gather", OpKind::Gather, {any({5, 3}), labels(4, 5)}},
        {"gather rank-2 ids", OpKind::Gather, {any({6, 9}), {I({2, 3}), 0, 6}}},
        // Repeated ids add up: 7 ids into 3 rows.
        {"gather_grad", OpKind::GatherGrad, {any({7, 4}), labels(7, 3)}, {}, F({3, 4})},

        {"softmax", OpKind::Softmax, {{F({3, 5}), -2, 2}}},
        {"softmax rank 3", OpKind::Softmax, {{F({2, 3, 9}), -2, 2}}},
        {"softmax_grad", OpKind::SoftmaxGrad, {any({3, 4}), {F({3, 4}), 0.05f, 1}}},
        // Another axis: the kernels walk strided rows.
        {"softmax axis 0", OpKind::Softmax, {{F({3, 5}), -2, 2}}, axis(0)},
        {"softmax middle axis", OpKind::Softmax, {{F({2, 3, 9}), -2, 2}}, axis(1)},
        {"softmax_grad axis 0", OpKind::SoftmaxGrad, {any({3, 4}), {F({3, 4}), 0.05f, 1}},
         axis(0)},
        {"log_softmax", OpKind::LogSoftmax, {{F({3, 5}), -2, 2}}},
        {"log_softmax middle axis", OpKind::LogSoftmax, {{F({2, 3, 9}), -2, 2}}, axis(1)},
        // Far apart: log(softmax(x)) would be -inf where softmax rounds to 0.
        {"log_softmax far apart", OpKind::LogSoftmax, {{F({2, 7}), -100, 100}}},
        {"sparse_xent", OpKind::SparseXent, {{F({4, 5}), -2, 2}, labels(4, 5)}},
        {"sparse_xent_grad", OpKind::SparseXentGrad,
         {any({4}), {F({4, 5}), -2, 2}, labels(4, 5)}},

        {"matmul wide", OpKind::MatMul, {any({5, 7}), any({7, 3})}},
        // 18 columns: two 8-wide vectors and a scalar tail; 6 rows: a 4-row
        // tile and a remainder.
        {"matmul tiles", OpKind::MatMul, {any({6, 3}), any({3, 18})}},
        // A @ Bᵀ in 4 x 4 tiles of dot products: two whole tiles and a
        // remainder each way, K of two vectors and a masked tail.
        {"matmul rows dot tiles", OpKind::MatMul, {any({9, 21}), any({10, 21})},
         transposes(false, true)},
    };
    for (OpKind k : {OpKind::ReduceSum, OpKind::ReduceMean, OpKind::ReduceMax}) {
      std::string n = opName(k);
      c.push_back({n + " outer axes", k, {any({2, 3, 4})}, attr("axes", std::vector<int64_t>{0, 2})});
      c.push_back({n + " middle axis", k, {any({2, 3, 4})}, attr("axes", std::vector<int64_t>{1})});
      c.push_back({n + " all axes", k, {any({2, 3, 4})}, attr("axes", std::vector<int64_t>{0, 1, 2})});
    }
    // dy goes to x's maximum: random values have no ties (those are below).
    c.push_back({"reduce_max_grad middle axis", OpKind::ReduceMaxGrad,
                 {any({2, 4}), any({2, 3, 4})}, attr("axes", std::vector<int64_t>{1})});
    c.push_back({"reduce_max_grad outer axes", OpKind::ReduceMaxGrad,
                 {any({3}), any({2, 3, 4})}, attr("axes", std::vector<int64_t>{0, 2})});
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        Dims a = ta ? Dims{4, 3} : Dims{3, 4}, b = tb ? Dims{2, 4} : Dims{4, 2};
        c.push_back({"matmul ta=" + std::to_string(ta) + " tb=" + std::to_string(tb),
                     OpKind::MatMul, {any(a), any(b)}, transposes(ta, tb)});
      }
    return c;
  }();
  return cases;
}

bool hasF32Operand(const OpCase &c) {
  for (const Operand &o : c.operands)
    if (o.type.dtype == DType::F32)
      return true;
  return false;
}

// f = sum(op(p0, p1, ...) * r): the f32 operands are params, i32 ones inputs.
void checkGradient(const OpCase &c) {
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
    if (o.type.dtype == DType::I32) {
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
  if (c.op != OpKind::StopGradient)
    return checkGradients(m, f, inputs, vars, loss->name);
  // Finite differences see its forward pass, the identity; autodiff must
  // see nothing.
  REQUIRE(runAutodiff(m));
  for (auto &[param, g] : interpret(f, inputs, vars).grads)
    CHECK(g.data == std::vector<double>(g.data.size(), 0.0));
}

// y = op(p0, p1, ...) with every operand an input, compiled and interpreted;
// the operands' values are drawn from the case's ranges unless given.
// Returns the interpreter's y.
Tensor checkCompiled(const OpCase &c, const std::vector<Tensor> &values = {}) {
  std::mt19937 rng(4321);
  Module m;
  m.name = "t";
  Function &f = m.addFunction("predict");
  Builder b(f);
  TensorMap inputs, noVars;
  std::vector<Node *> ops;
  for (size_t i = 0; i < c.operands.size(); ++i) {
    std::string name = "p" + std::to_string(i);
    inputs[name] = values.empty() ? randomTensor(c.operands[i], rng) : values[i];
    m.inputs.push_back({name, c.operands[i].type, {}});
    ops.push_back(b.input(name, c.operands[i].type));
  }
  Node *y = b.create(c.op, ops, c.attrs, "y", c.result ? &*c.result : nullptr);
  f.outputs.push_back({"y", y});
  CHECK(problems(m) == "");
  TensorMap got = jitRun(m, 0, inputs, noVars);
  Tensor want = interpret(f, inputs, noVars).outputs.at("y");
  REQUIRE(got.at("y").type == want.type);
  if (want.type.dtype == DType::F32)
    checkClose(got.at("y").data, want.data, c.tol);
  else
    CHECK(got.at("y").data == want.data);
  return want;
}

} // namespace

TEST_CASE("op table: every op has a finite-difference case and a compiled case") {
  for (const OpInfo &info : allOps()) {
    // Every case reads its operands through input and var nodes.
    if (info.kind == OpKind::Input || info.kind == OpKind::Var)
      continue;
    bool compiled = false, differentiated = false;
    for (const OpCase &c : opCases())
      if (c.op == info.kind) {
        compiled = true;
        differentiated |= hasF32Operand(c);
      }
    CHECK_MESSAGE(compiled, std::string(info.name) << " has no case in opCases(): add one");
    // An op without operands has no gradient to check.
    if (info.operands > 0)
      CHECK_MESSAGE(differentiated,
                    std::string(info.name) << " has no case with an f32 operand to differentiate");
  }
}

TEST_CASE("op table: gradient rules match f64 finite differences") {
  for (const OpCase &c : opCases())
    if (hasF32Operand(c)) {
      INFO(c.label);
      checkGradient(c);
    }
}

TEST_CASE("op table: compiled kernels match the interpreter") {
  for (const OpCase &c : opCases()) {
    INFO(c.label);
    checkCompiled(c);
  }
}

// What random operands never meet: ties, signed zeros, infinities and NaN.
// Comparisons are C's in both instances (false on NaN, != true), maximum and
// minimum give their second operand on a tie or a NaN first operand, where
// reads any nonzero cond (NaN too) as true; compiled code agrees.
TEST_CASE("op table: selections and comparisons on ties, zeros, infinities and NaN") {
  const double nan = NAN, inf = INFINITY;
  Tensor a = Tensor::of(F({9}), {1, 2, -0.0, nan, 1, inf, -inf, nan, 0.5});
  Tensor b = Tensor::of(F({9}), {1, 1, 0.0, 1, nan, inf, 0, nan, -2});
  Tensor seven = Tensor::of(F({}), {7});
  struct Want {
    OpKind op;
    std::vector<double> y;
  };
  for (const Want &w : std::vector<Want>{
           {OpKind::Maximum, {1, 2, 0, 1, nan, inf, 0, nan, 0.5}},
           {OpKind::Minimum, {1, 1, 0, 1, nan, inf, -inf, nan, -2}},
           {OpKind::Greater, {0, 1, 0, 0, 0, 0, 0, 0, 1}},
           {OpKind::Less, {0, 0, 0, 0, 0, 0, 1, 0, 0}},
           {OpKind::GreaterEqual, {1, 1, 1, 0, 0, 1, 0, 0, 1}},
           {OpKind::LessEqual, {1, 0, 1, 0, 0, 1, 1, 0, 0}},
           {OpKind::Equal, {1, 0, 1, 0, 0, 1, 0, 0, 0}},
           {OpKind::NotEqual, {0, 1, 0, 1, 1, 0, 1, 1, 1}},
           {OpKind::Where, {1, 1, 7, 1, nan, inf, 0, nan, -2}}}) {
    INFO(opName(w.op));
    bool where = w.op == OpKind::Where; // where(a, b, 7)
    OpCase c{opName(w.op), w.op, {any({9}), any({9})}};
    if (where)
      c.operands.push_back(any({}));
    Tensor y = checkCompiled(c, where ? std::vector<Tensor>{a, b, seven}
                                      : std::vector<Tensor>{a, b});
    checkClose(y.data, w.y, 0);
  }
  Tensor x = Tensor::of(F({7}), {-inf, -100, -0.0, 0, 100, inf, nan});
  for (const Want &w : std::vector<Want>{
           {OpKind::Abs, {inf, 100, 0, 0, 100, inf, nan}},
           {OpKind::Sigmoid, {0, std::exp(-100.0), 0.5, 0.5, 1, 1, nan}},
           {OpKind::Tanh, {-1, -1, 0, 0, 1, 1, nan}}}) {
    INFO(opName(w.op));
    checkClose(checkCompiled({opName(w.op), w.op, {any({7})}}, {x}).data, w.y, 0);
  }
}

// reduce_max on ties, NaN and -inf: NaN is the largest (it propagates) and
// of equal values the first in row-major order is the maximum, the position
// reduce_max_grad routes dy to; compiled code agrees on that position.
TEST_CASE("op table: reduce_max and its gradient on ties, NaN and -inf") {
  const double nan = NAN, inf = INFINITY;
  Tensor x = Tensor::of(F({4, 4}), {1,    3,    3,    2,   //
                                    nan,  5,    nan,  1,   //
                                    -inf, 5,    -inf, 2,   //
                                    -inf, -inf, -inf, -inf});
  struct Want {
    std::vector<int64_t> axes;
    std::vector<double> max, dy, dx;
  };
  for (const Want &w : std::vector<Want>{
           {{1}, {3, nan, 5, -inf}, {10, 20, 30, 40},
            {0, 10, 0, 0, 20, 0, 0, 0, 0, 30, 0, 0, 40, 0, 0, 0}},
           {{0}, {nan, 5, nan, 2}, {1, 2, 3, 4},
            {0, 0, 0, 4, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
           {{0, 1}, {nan}, {7}, {0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}}) {
    INFO("axes " << dimsStr(w.axes));
    Attrs axes = attr("axes", w.axes);
    Dims reduced = w.axes.size() == 2 ? Dims{} : Dims{4};
    checkClose(checkCompiled({"max", OpKind::ReduceMax, {any({4, 4})}, axes}, {x}).data, w.max,
               0);
    Tensor dy = Tensor::of(F(reduced), w.dy);
    OpCase grad{"max grad", OpKind::ReduceMaxGrad, {any(reduced), any({4, 4})}, axes};
    checkClose(checkCompiled(grad, {dy, x}).data, w.dx, 0);
  }
}

TEST_CASE("op table: the map ops, and only they, have a formula") {
  double x[3] = {0.5, 2.0, 1.0};
  for (const OpInfo &info : allOps()) {
    INFO(std::string(info.name));
    if (info.isMap())
      CHECK_NOTHROW(mapFormula<double>(info.kind, x));
    else
      CHECK_THROWS_AS(mapFormula<double>(info.kind, x), InternalError);
  }
}

TEST_CASE("op table: flags that passes rely on are consistent") {
  for (const OpInfo &info : allOps()) {
    INFO(std::string(info.name));
    if (info.fusion == FusionKind::Source)
      CHECK(info.typed()); // a source's type is declared, never inferred
    if (info.isView())
      CHECK(info.operands == 1);
    for (int k = info.operands; k < 8; ++k)
      CHECK_FALSE(info.mayOverwrite(k)); // only real operands, InPlaceAll masked
  }
}

// dropout's mask: about `rate` of the elements zeroed, the others scaled by
// 1 / (1 - rate); the same (seed, step) gives the same mask, another step or
// seed another one.
TEST_CASE("op table: dropout keeps 1 - rate of the elements, repeatably per (seed, step)") {
  Tensor ones = Tensor::of(F({100, 100}), std::vector<double>(10000, 1.0));
  auto run = [&](double rate, int64_t seed, double step) {
    OpCase c{"dropout", OpKind::Dropout, {any({100, 100}), any({})}, dropout(rate, seed)};
    return checkCompiled(c, {ones, Tensor::of(F({}), {step})}).data;
  };
  std::vector<double> a = run(0.25, 1, 5), again = run(0.25, 1, 5), next = run(0.25, 1, 6),
                      other = run(0.25, 2, 5);
  double kept = 0;
  for (double v : a) {
    CHECK((v == 0 || std::fabs(v - 1 / 0.75) < 1e-12));
    kept += v != 0;
  }
  CHECK(kept / 10000 == doctest::Approx(0.75).epsilon(0.02));
  CHECK(a == again);
  CHECK(a != next);
  CHECK(a != other);
  for (double v : run(0, 3, 1))
    CHECK(v == 1);
}

// K of 2 * 256 rows and more runs in blocks that accumulate in the output
// (codegen/Kernels.cpp, kBlockK): whole blocks and a remainder, every
// transpose case, against the interpreter. Too large for finite differences,
// which the small matmul cases above cover.
TEST_CASE("op table: matmul with a long K, in blocks") {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const int64_t M = 7, N = 19, K = 600;
      Dims a = ta ? Dims{K, M} : Dims{M, K}, b = tb ? Dims{N, K} : Dims{K, N};
      INFO("ta=" << ta << " tb=" << tb);
      checkCompiled({"long K", OpKind::MatMul, {any(a), any(b)}, transposes(ta, tb), {}, 1e-5});
    }
}
