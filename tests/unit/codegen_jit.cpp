// JIT-compiled kernels, one op at a time at awkward sizes, checked against
// values computed here and against the reference interpreter; plus the entry
// function's contract (input order, output copies, update ordering) and the
// model descriptor.
#include "codegen/Codegen.h"
#include "codegen/Lowering.h"
#include "ir/Builder.h"
#include "ir/IRParser.h"
#include "ir/Interpreter.h"
#include "passes/Pipeline.h"
#include "tests/unit/jit_support.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>

using namespace dlc;
using namespace dlc::testing;

namespace {

using BuildFn = std::function<void(Builder &, Module &)>;

// A one-function model "t" whose function "f" is filled by `build`, with
// `inputs` as its inputs.
std::unique_ptr<Module> oneFunction(const BuildFn &build, const TensorMap &inputs) {
  auto m = std::make_unique<Module>();
  m->name = "t";
  Builder b(m->addFunction("f"));
  build(b, *m);
  for (auto &[name, t] : inputs)
    if (!m->findInput(name))
      m->inputs.push_back({name, t.type, {}});
  return m;
}

// oneFunction(build, inputs) run compiled and interpreted on `inputs`,
// outputs compared elementwise. Returns the compiled outputs for
// test-specific checks.
TensorMap runBoth(const BuildFn &build, const TensorMap &inputs, double tol = 1e-5) {
  std::unique_ptr<Module> owned = oneFunction(build, inputs);
  Module &m = *owned;
  Function &f = *m.functions[0];
  TensorMap vars = initVarsForTest(m, 7), varsRef = vars;
  TensorMap got = jitRun(m, 0, inputs, vars);
  InterpResult ref = interpret(f, inputs, varsRef);
  for (auto &[name, t] : ref.outputs) {
    INFO("output " << name);
    REQUIRE(got.count(name));
    if (t.type.dtype == DType::F32)
      checkClose(got[name].data, t.data, tol);
    else
      CHECK(got[name].data == t.data);
  }
  for (auto &[name, t] : ref.updates) {
    INFO("update " << name);
    checkClose(vars.at(name).data, t.data, tol);
  }
  return got;
}

Node *in(Builder &b, const char *name, const TensorMap &inputs) {
  return b.input(name, inputs.at(name).type);
}

} // namespace

TEST_CASE("codegen: unary elementwise kernels at 13x7") {
  TensorMap ins{{"x", f32Tensor({13, 7}, data(91, 0.05f, 3.0f))},
                {"s", f32Tensor({13, 7}, data(91, -3.0f, 3.0f, 2))}};
  for (OpKind op : {OpKind::Neg, OpKind::Relu, OpKind::Exp, OpKind::Log, OpKind::Sqrt}) {
    INFO(opName(op));
    bool positive = op == OpKind::Log || op == OpKind::Sqrt;
    TensorMap got = runBoth(
        [&](Builder &b, Module &) {
          b.function().outputs.push_back(
              {"y", b.unary(op, in(b, positive ? "x" : "s", ins))});
        },
        ins);
    const std::vector<double> &x = ins.at(positive ? "x" : "s").data;
    std::vector<double> want;
    for (float v : x)
      want.push_back(op == OpKind::Neg    ? -v
                     : op == OpKind::Relu ? (v > 0 ? v : 0)
                     : op == OpKind::Exp  ? std::exp(v)
                     : op == OpKind::Log  ? std::log(v)
                                          : std::sqrt(v));
    checkClose(got["y"].data, want);
  }
}

TEST_CASE("codegen: binary kernels broadcast like numpy") {
  struct Case {
    Dims a, b;
  } cases[] = {{{13, 7}, {13, 7}}, {{5, 1}, {1, 7}}, {{3}, {4, 3}},    {{}, {13, 7}},
               {{4, 1, 3}, {2, 1}}, {{13, 7}, {7}},  {{2, 3, 4}, {3, 1}}};
  for (const Case &c : cases)
    for (OpKind op : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div, OpKind::Pow,
                      OpKind::ReluGrad}) {
      INFO(opName(op) << " " << dimsStr(c.a) << " " << dimsStr(c.b));
      int64_t na = TensorType::f32(c.a).numel(), nb = TensorType::f32(c.b).numel();
      bool pos = op == OpKind::Pow || op == OpKind::Div;
      TensorMap ins{{"a", f32Tensor(c.a, data(na, pos ? 0.5f : -2.0f, 2.0f, 3))},
                    {"b", f32Tensor(c.b, data(nb, pos ? 0.5f : -2.0f, 2.0f, 4))}};
      TensorMap got = runBoth(
          [&](Builder &b, Module &) {
            b.function().outputs.push_back(
                {"y", b.binary(op, in(b, "a", ins), in(b, "b", ins))});
          },
          ins, 1e-5f);
      if (op == OpKind::Add && c.a == Dims{5, 1}) { // hand-computed broadcast
        std::vector<double> want;
        for (int i = 0; i < 5; ++i)
          for (int j = 0; j < 7; ++j)
            want.push_back(ins["a"].data[i] + ins["b"].data[j]);
        checkClose(got["y"].data, want);
      }
      if (op == OpKind::Mul && c.a == Dims{3}) {
        std::vector<double> want;
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 3; ++j)
            want.push_back(ins["a"].data[j] * ins["b"].data[i * 3 + j]);
        checkClose(got["y"].data, want);
      }
    }
}

TEST_CASE("codegen: broadcast, reshape and constants") {
  TensorMap ins{{"x", f32Tensor({3, 1}, data(3, -1, 1))},
                {"r", f32Tensor({4, 3}, data(12, -1, 1, 5))},
                {"l", i32Tensor({5}, {1, 2, 3, 4, 5})}};
  TensorMap got = runBoth(
      [&](Builder &b, Module &) {
        auto &outs = b.function().outputs;
        outs.push_back({"bc", b.broadcast(in(b, "x", ins), {2, 3, 5})});
        outs.push_back({"rs", b.reshape(in(b, "r", ins), {2, 6})});
        outs.push_back({"li", b.reshape(in(b, "l", ins), {5, 1})});
        outs.push_back({"c", b.constant(2.5, TensorType::f32({13, 7}))});
        outs.push_back({"ci", b.constant(-3, TensorType::i32({9}))});
        outs.push_back({"cs", b.constant(1.25)});
      },
      ins);
  CHECK(got["bc"].data[5 * 2 + 3] == ins["x"].data[2]); // [0][2][3] reads x[2]
  CHECK(got["rs"].data == ins["r"].data);
  CHECK(got["li"].data == ins["l"].data);
  CHECK(got["c"].data == std::vector<double>(91, 2.5f));
  CHECK(got["ci"].data == std::vector<double>(9, -3));
  CHECK(got["cs"].data == std::vector<double>{1.25f});
}

TEST_CASE("codegen: reduce_sum and reduce_mean over any axes") {
  std::vector<std::vector<int64_t>> axesList = {{0}, {1}, {2}, {0, 1}, {0, 2}, {1, 2}, {0, 1, 2}};
  TensorMap ins{{"x", f32Tensor({4, 5, 6}, data(120, -1, 1, 9))},
                {"v", f32Tensor({13, 7}, data(91, -1, 1, 10))}};
  for (const auto &axes : axesList)
    for (bool mean : {false, true}) {
      INFO(dimsStr(axes) << (mean ? " mean" : " sum"));
      runBoth(
          [&](Builder &b, Module &) {
            Node *x = in(b, "x", ins);
            b.function().outputs.push_back(
                {"y", mean ? b.reduceMean(x, axes) : b.reduceSum(x, axes)});
          },
          ins, 1e-5f);
    }
  // Column sums of 13x7 (the bias-gradient shape), checked by hand.
  TensorMap got = runBoth(
      [&](Builder &b, Module &) {
        b.function().outputs.push_back({"y", b.reduceSum(in(b, "v", ins), {0})});
      },
      ins);
  std::vector<double> want(7, 0);
  for (int i = 0; i < 13; ++i)
    for (int j = 0; j < 7; ++j)
      want[j] += ins["v"].data[i * 7 + j];
  checkClose(got["y"].data, want);
}

// A reduction that keeps its outermost dims (max pooling's windows of a
// batch) is cut between threads by them: each part starts, folds and
// finishes its own results (jitRun runs three parts, last first). Checked
// against the interpreter, and for the same bits against the first rows
// reduced whole (too small to share) where both accumulate in f32 (a max,
// or more than 2048 sums).
TEST_CASE("codegen: reductions that keep their outer dims are shared") {
  TensorMap ins{{"x", f32Tensor({64, 6, 2, 6, 2, 8}, data(73728, -1, 1, 41))}};
  ins["small"] = f32Tensor({12, 6, 2, 6, 2, 8},
                           std::vector<double>(ins["x"].data.begin(), ins["x"].data.begin() + 13824));
  for (OpKind op : {OpKind::ReduceMax, OpKind::ReduceSum, OpKind::ReduceMean})
    for (const std::vector<int64_t> &axes : {std::vector<int64_t>{2, 4}, {1}, {4}, {2, 5}}) {
      INFO(std::string(opName(op)) << " " << dimsStr(axes));
      auto build = [&](Builder &b, Module &) {
        Attrs attrs;
        attrs.set("axes", axes);
        for (const char *name : {"x", "small"})
          b.function().outputs.push_back({name, b.create(op, {in(b, name, ins)}, attrs)});
      };
      TensorMap got = runBoth(build, ins, 1e-5f);
      const std::vector<double> &shared = got["x"].data, &whole = got["small"].data;
      if (op == OpKind::ReduceMax || whole.size() > 2048)
        CHECK(std::vector<double>(shared.begin(), shared.begin() + whole.size()) == whole);
      std::unique_ptr<Module> m = oneFunction(build, ins);
      planForCodegen(*m);
      const Plan &plan = m->functions[0]->plan;
      CHECK(codegen::shareableKernel(plan.kernels[0]));
      CHECK_FALSE(codegen::shareableKernel(plan.kernels[1]));
    }
}

// reduce_max_grad's rows, each zeroing and writing its own elements, and
// patches' windows are cut between threads too (three parts, last first).
TEST_CASE("codegen: max pooling's gradient and patches are shared") {
  TensorMap ins{{"x", f32Tensor({32, 13, 2, 13, 2, 8}, data(173056, -1, 1, 51))},
                {"dy", f32Tensor({32, 13, 1, 13, 1, 8}, data(43264, -1, 1, 52))},
                {"img", f32Tensor({16, 28, 28, 2}, data(25088, -1, 1, 53))}};
  auto build = [&](Builder &b, Module &) {
    Attrs pool, window;
    pool.set("axes", std::vector<int64_t>{2, 4});
    window.set("kernel", std::vector<int64_t>{3, 3});
    window.set("stride", std::vector<int64_t>{1, 1});
    Node *dy = b.reshape(in(b, "dy", ins), {32, 13, 13, 8});
    b.function().outputs.push_back(
        {"dx", b.create(OpKind::ReduceMaxGrad, {dy, in(b, "x", ins)}, pool)});
    b.function().outputs.push_back(
        {"p", b.create(OpKind::Patches, {in(b, "img", ins)}, window)});
  };
  runBoth(build, ins);
  std::unique_ptr<Module> m = oneFunction(build, ins);
  planForCodegen(*m);
  for (const Kernel &k : m->functions[0]->plan.kernels)
    if (k.anchor) {
      INFO(k.kind());
      CHECK(codegen::shareableKernel(k));
    }
}

TEST_CASE("codegen: rank-0 tensors, size-1 dims and leading broadcasts") {
  TensorMap ins{{"s", f32Tensor({}, {1.5f})},
                {"row", f32Tensor({1, 7}, data(7, -1, 1, 30))},
                {"m", f32Tensor({5, 7}, data(35, -1, 1, 31))},
                {"t", f32Tensor({5, 1, 1}, data(5, -1, 1, 32))},
                {"u", f32Tensor({1, 4, 3}, data(12, -1, 1, 33))},
                {"q", f32Tensor({1, 5, 1, 6}, data(30, -1, 1, 34))},
                {"one", f32Tensor({1}, {0.25f})},
                {"l1", f32Tensor({3, 1}, data(3, -2, 2, 35))},
                {"y1", i32Tensor({3}, {0, 0, 0})}};
  TensorMap got = runBoth(
      [&](Builder &b, Module &) {
        auto &outs = b.function().outputs;
        Node *s = in(b, "s", ins), *m = in(b, "m", ins), *q = in(b, "q", ins);
        outs.push_back({"exp_s", b.unary(OpKind::Exp, s)});
        outs.push_back({"s_plus_s", b.add(s, s)});
        outs.push_back({"sum_s", b.reduceSum(s, {})});
        outs.push_back({"row_m", b.sub(in(b, "row", ins), m)}); // [1,7] over [5,7]
        outs.push_back({"t_u", b.mul(in(b, "t", ins), in(b, "u", ins))});
        outs.push_back({"q03", b.reduceSum(q, {0, 3})});
        outs.push_back({"q12", b.reduceMean(q, {1, 2})});
        outs.push_back({"q_all", b.reduceMean(q, {0, 1, 2, 3})});
        outs.push_back({"m0", b.reduceSum(m, {0})});
        outs.push_back({"soft1", b.unary(OpKind::Softmax, in(b, "one", ins))});
        Node *l1 = in(b, "l1", ins), *y1 = in(b, "y1", ins);
        outs.push_back({"xent1", b.binary(OpKind::SparseXent, l1, y1)});
        outs.push_back({"xent1_g", b.create(OpKind::SparseXentGrad,
                                            {b.constant(1.0, TensorType::f32({3})), l1, y1})});
      },
      ins);
  CHECK(got["exp_s"].data == std::vector<double>{std::exp(1.5f)});
  CHECK(got["sum_s"].data == std::vector<double>{1.5f});
  CHECK(got["soft1"].data == std::vector<double>{1.0f});
  CHECK(got["xent1"].data == std::vector<double>(3, 0.0f)); // one class: log 1
  std::vector<double> want;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 7; ++j)
      want.push_back(ins["row"].data[j] - ins["m"].data[i * 7 + j]);
  checkClose(got["row_m"].data, want);
}

TEST_CASE("codegen: softmax and softmax_grad over the last axis") {
  TensorMap ins{{"x", f32Tensor({13, 7}, data(91, -30, 30, 11))},
                {"dy", f32Tensor({13, 7}, data(91, -1, 1, 12))},
                {"z", f32Tensor({2, 3, 5}, data(30, -5, 5, 13))}};
  TensorMap got = runBoth(
      [&](Builder &b, Module &) {
        Node *y = b.unary(OpKind::Softmax, in(b, "x", ins));
        auto &outs = b.function().outputs;
        outs.push_back({"y", y});
        outs.push_back({"g", b.binary(OpKind::SoftmaxGrad, in(b, "dy", ins), y)});
        outs.push_back({"z3", b.unary(OpKind::Softmax, in(b, "z", ins))});
      },
      ins);
  for (int r = 0; r < 13; ++r) { // rows are distributions even for |x| = 30
    float s = 0;
    for (int j = 0; j < 7; ++j)
      s += got["y"].data[r * 7 + j];
    CHECK(s == doctest::Approx(1.0f).epsilon(1e-5));
  }
}

TEST_CASE("codegen: sparse cross-entropy and its gradient") {
  std::vector<double> labels;
  for (int i = 0; i < 13; ++i)
    labels.push_back((i * 5) % 7);
  TensorMap ins{{"x", f32Tensor({13, 7}, data(91, -4, 4, 14))},
                {"y", i32Tensor({13}, labels)},
                {"d", f32Tensor({13}, data(13, 0.5f, 1.5f, 15))}};
  TensorMap got = runBoth(
      [&](Builder &b, Module &) {
        Node *x = in(b, "x", ins), *y = in(b, "y", ins);
        auto &outs = b.function().outputs;
        outs.push_back({"loss", b.binary(OpKind::SparseXent, x, y)});
        outs.push_back({"g", b.create(OpKind::SparseXentGrad, {in(b, "d", ins), x, y})});
      },
      ins);
  const std::vector<double> &x = ins["x"].data;
  for (int r = 0; r < 13; ++r) {
    double s = 0;
    for (int j = 0; j < 7; ++j)
      s += std::exp((double)x[r * 7 + j]);
    CHECK(close(got["loss"].data[r], (float)(std::log(s) - x[r * 7 + labels[r]])));
  }

  // Out-of-range labels give NaN rows instead of reading out of bounds.
  Module m;
  m.name = "bad";
  m.inputs = {{"x", TensorType::f32({3, 7}), {}}, {"y", TensorType::i32({3}), {}}};
  Function &f = m.addFunction("f");
  Builder b(f);
  Node *xn = b.input("x", m.inputs[0].type), *yn = b.input("y", m.inputs[1].type);
  Node *dn = b.constant(1.0, TensorType::f32({3}));
  f.outputs = {{"loss", b.binary(OpKind::SparseXent, xn, yn)},
               {"g", b.create(OpKind::SparseXentGrad, {dn, xn, yn})}};
  TensorMap vars;
  TensorMap out = jitRun(m, 0,
                         {{"x", f32Tensor({3, 7}, data(21, -1, 1))},
                          {"y", i32Tensor({3}, {2, -1, 1000000})}},
                         vars);
  CHECK(std::isfinite(out["loss"].data[0]));
  CHECK(std::isnan(out["loss"].data[1]));
  CHECK(std::isnan(out["loss"].data[2]));
  CHECK(std::isfinite(out["g"].data[3]));
  CHECK(std::isnan(out["g"].data[7]));
  CHECK(std::isnan(out["g"].data[20]));
}

TEST_CASE("codegen: matmul in all four transpose forms") {
  // N = 8, 16, 24, 40 hit each mix of 2-vector tiles, 1-vector tiles and
  // no scalar tail; K = 1 a single FMA per tile. The last three have a B
  // larger than a column group (1 MB: groups of 48 columns and a last one
  // of 22 with a masked tail; of 872 and 128 B rows for A @ Bᵀ), and enough
  // work to be cut between the threads the test runs with.
  for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{13, 7, 9}, {37, 61, 45},
                         {1, 1, 1}, {6, 17, 3}, {3, 2, 8}, {4, 3, 16}, {1, 5, 24},
                         {5, 1, 40}, {9, 1, 7}, {30, 5000, 70}, {20, 300, 1000},
                         {100, 3000, 90}})
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        INFO(M << "x" << K << "x" << N << " ta=" << ta << " tb=" << tb);
        // A float sum in order over K products drifts from the double one
        // by about sqrt(K) roundings of its partial sums: at K = 5000, A @
        // Bᵀ's in-order sum (over a transposed panel of B) is 1.3e-4 off at
        // one element, exactly the float FMA chain's value.
        const double tol = 1e-4 * std::max(1.0, std::sqrt(K / 1000.0));
        Dims ad = ta ? Dims{K, M} : Dims{M, K}, bd = tb ? Dims{N, K} : Dims{K, N};
        TensorMap ins{{"a", f32Tensor(ad, data(M * K, -1, 1, 16))},
                      {"b", f32Tensor(bd, data(K * N, -1, 1, 17))}};
        TensorMap got = runBoth(
            [&](Builder &b, Module &) {
              b.function().outputs.push_back(
                  {"c", b.matmul(in(b, "a", ins), in(b, "b", ins), ta, tb)});
            },
            ins, tol);
        const std::vector<double> &A = ins["a"].data, &B = ins["b"].data;
        std::vector<double> want;
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double s = 0;
            for (int64_t p = 0; p < K; ++p)
              s += (double)A[ta ? p * M + i : i * K + p] * B[tb ? j * K + p : p * N + j];
            want.push_back((float)s);
          }
        checkClose(got["c"].data, want, tol);
      }
}

// A K of 512 or more runs in blocks of 256 whose partial sums wait in
// memory; with an epilogue, in the buffer of a result of C's shape that the
// epilogue writes at the last block. K = 1100 and 777 end with a partial
// block, 1024 with a whole one; N = 45 and 70 with a masked tail; M = 13
// with a leftover row block. Fused or not, each sum runs over k in order:
// the same bits.
TEST_CASE("codegen: a matmul's epilogue after blocks of K") {
  for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{13, 1100, 45}, {30, 1024, 70},
                         {7, 777, 16}}) {
    INFO(M << "x" << K << "x" << N);
    TensorMap ins{{"a", f32Tensor({M, K}, data(M * K, -1, 1, 31))},
                  {"b", f32Tensor({K, N}, data(K * N, -1, 1, 32))},
                  {"bias", f32Tensor({N}, data(N, -1, 1, 33))}};
    auto build = [&](Builder &b, Module &) {
      Node *c = b.matmul(in(b, "a", ins), in(b, "b", ins));
      Node *y = b.add(c, in(b, "bias", ins));
      b.function().outputs.push_back({"relu", b.unary(OpKind::Relu, y)});
      b.function().outputs.push_back({"neg", b.neg(y)});
    };
    TensorMap fused = runBoth(build, ins, 1e-4f);
    std::unique_ptr<Module> m = oneFunction(build, ins);
    TensorMap vars;
    TensorMap apart = jitRun(*m, 0, ins, vars, {}, PipelineOptions{/*fusion=*/false});
    CHECK(fused["relu"].data == apart["relu"].data);
    CHECK(fused["neg"].data == apart["neg"].data);
    planForCodegen(*m);
    REQUIRE(m->functions[0]->plan.kernels.size() == 1);
    CHECK(m->functions[0]->plan.kernels[0].kind() == "matmul + epilogue");
  }
}

TEST_CASE("codegen: entry copies outputs before it writes updates") {
  Module m;
  m.name = "upd";
  m.vars = {{"a", TensorType::f32({3}), {Init::Constant, 1, 0}, true, {}},
            {"b", TensorType::f32({5}), {Init::Constant, 2, 0}, false, {}},
            {"c", TensorType::f32({3}), {Init::Constant, 3, 0}, false, {}}};
  m.inputs = {{"unused", TensorType::f32({2}), {}}, {"x", TensorType::f32({3}), {}}};
  Function &f = m.addFunction("f");
  Builder b(f);
  Node *x = b.input("x", m.inputs[1].type);
  Node *a = b.var("a", m.vars[0].type), *c = b.var("c", m.vars[2].type);
  f.outputs = {{"old_a", a}, {"sum", b.add(a, x)}};
  // a <- a + x, then c <- a: c must get the old a, though a's state was
  // already overwritten when c's update is written.
  f.updates = {{"a", b.add(a, x)}, {"c", a}, {"b", b.constant(7, TensorType::f32({5}))}};
  (void)c;
  TensorMap vars{{"a", f32Tensor({3}, {1, 2, 3})},
                 {"b", f32Tensor({5}, {0, 0, 0, 0, 0})},
                 {"c", f32Tensor({3}, {9, 9, 9})}};
  TensorMap out = jitRun(m, 0, {{"x", f32Tensor({3}, {10, 20, 30})}}, vars);
  CHECK(out["old_a"].data == std::vector<double>{1, 2, 3});
  CHECK(out["sum"].data == std::vector<double>{11, 22, 33});
  CHECK(vars["a"].data == std::vector<double>{11, 22, 33});
  CHECK(vars["c"].data == std::vector<double>{1, 2, 3});
  CHECK(vars["b"].data == std::vector<double>(5, 7));
}

TEST_CASE("codegen: the model descriptor matches the module") {
  Module m;
  m.name = "desc_model";
  m.inputs = {{"x", TensorType::f32({8, 3}), {}}, {"y", TensorType::i32({8}), {}}};
  m.vars = {{"w", TensorType::f32({3, 4}), {Init::Normal, 0, 0.1}, true, {}},
            {"t", TensorType::f32({}), {Init::Zeros, 0, 0}, false, {}},
            {"b", TensorType::f32({4}), {Init::Uniform, -1, 1}, true, {}}};
  Function &p = m.addFunction("predict");
  {
    Builder b(p);
    Node *h = b.matmul(b.input("x", m.inputs[0].type), b.var("w", m.vars[0].type));
    p.outputs = {{"probs", b.unary(OpKind::Softmax, b.add(h, b.var("b", m.vars[2].type)))}};
  }
  Function &s = m.addFunction("step");
  {
    Builder b(s);
    // y is read first: the entry's inputs follow first use, not declaration.
    Node *y = b.input("y", m.inputs[1].type);
    Node *h = b.matmul(b.input("x", m.inputs[0].type), b.var("w", m.vars[0].type));
    Node *loss = b.reduceMean(b.binary(OpKind::SparseXent, h, y), {0});
    s.train = TrainSpec{loss, {"w"}, "sgd", {}};
    s.outputs = {{"loss", loss}};
    s.updates = {{"t", b.add(b.var("t", m.vars[1].type), b.constant(1))}};
  }
  std::string error;
  planForCodegen(m);
  auto jit = jitCompile(m, {}, error);
  REQUIRE_MESSAGE(jit, error);
  const dlc_model_desc *d = jit->desc();
  CHECK(d->abi_version == DLC_ABI_VERSION);
  CHECK(std::string(d->name) == "desc_model");
  CHECK(d->batch == 8);
  REQUIRE(d->n_inputs == 2);
  CHECK(std::string(d->inputs[1].name) == "y");
  CHECK(d->inputs[1].dtype == DLC_I32);
  CHECK(d->inputs[1].index_bound == 4); // labels of sparse_xent over 4 classes
  CHECK(d->inputs[0].index_bound == 0);
  REQUIRE(d->n_vars == 3);
  CHECK(d->vars[0].offset == 0);
  CHECK(d->vars[1].offset == 64);  // 48 bytes of w, aligned up
  CHECK(d->vars[2].offset == 128); // the scalar t takes one line
  CHECK(d->state_bytes == 192);
  CHECK(d->vars[0].init == DLC_INIT_NORMAL);
  CHECK(d->vars[0].init_b == doctest::Approx(0.1));
  CHECK(d->vars[1].trainable == 0);
  CHECK(d->vars[1].rank == 0);
  CHECK(d->vars[0].dims[1] == 4);
  REQUIRE(d->n_entries == 2);
  CHECK(std::string(d->entries[0].name) == "predict");
  CHECK(d->entries[0].is_train == 0);
  CHECK(d->entries[1].is_train == 1);
  REQUIRE(d->entries[1].n_inputs == 2);
  CHECK(d->entries[1].inputs[0] == 1);
  CHECK(d->entries[1].inputs[1] == 0);
  CHECK(d->entries[0].arena_bytes % 64 == 0);
  // The planned arena: the matmul's 8x4 floats, which the fused bias add
  // overwrites in place; softmax writes straight into the caller's output.
  CHECK(d->entries[0].arena_bytes == 128);
  CHECK(d->entries[0].arena_bytes == m.functions[0]->plan.arenaBytes);
  CHECK(std::string(d->entries[0].outputs[0].name) == "probs");
  CHECK(d->entries[0].outputs[0].numel == 32);
  CHECK(d->entries[1].outputs[0].rank == 0);

  // The signature depends on variable names and shapes only.
  auto sig = d->signature;
  auto m2 = cloneModule(m);
  planForCodegen(*m2);
  auto jit2 = jitCompile(*m2, {}, error);
  REQUIRE(jit2);
  CHECK(jit2->desc()->signature == sig);
  m2->vars[2].type = TensorType::f32({5});
  std::string text;
  m2->functions.clear();
  auto jit3 = jitCompile(*m2, {}, error);
  REQUIRE_MESSAGE(jit3, error);
  CHECK(jit3->desc()->signature != sig);
  CHECK(jit3->desc()->n_entries == 0);
}

TEST_CASE("codegen: every optimisation level computes the same") {
  Module m;
  m.name = "levels";
  m.inputs = {{"x", TensorType::f32({6, 11}), {}}, {"y", TensorType::i32({6}), {}}};
  m.vars = {{"w", TensorType::f32({11, 19}), {Init::Uniform, -1, 1}, true, {}}};
  Function &f = m.addFunction("f");
  Builder b(f);
  Node *h = b.matmul(b.input("x", m.inputs[0].type), b.var("w", m.vars[0].type));
  h = b.unary(OpKind::Relu, b.add(h, b.constant(0.1)));
  f.outputs = {{"p", b.unary(OpKind::Softmax, h)},
               {"l", b.binary(OpKind::SparseXent, h, b.input("y", m.inputs[1].type))}};
  TensorMap ins{{"x", f32Tensor({6, 11}, data(66, -1, 1, 21))},
                {"y", i32Tensor({6}, {0, 5, 18, 3, 3, 7})}};
  TensorMap vars0 = initVarsForTest(m, 3);
  TensorMap want = interpret(f, ins, vars0).outputs;
  for (int level = 0; level <= 3; ++level) {
    INFO("O" << level);
    CodegenOptions o;
    o.optLevel = level;
    TensorMap vars = vars0;
    TensorMap got = jitRun(m, 0, ins, vars, o);
    checkClose(got["p"].data, want["p"].data);
    checkClose(got["l"].data, want["l"].data);
  }
}

TEST_CASE("codegen: --emit=llvm and --emit=asm show vectorised FMA matmul") {
  Module m;
  m.name = "mm";
  m.inputs = {{"a", TensorType::f32({64, 128}), {}}, {"b", TensorType::f32({128, 96}), {}}};
  Function &f = m.addFunction("predict");
  Builder b(f);
  f.outputs = {{"c", b.matmul(b.input("a", m.inputs[0].type), b.input("b", m.inputs[1].type))}};
  planForCodegen(m);
  std::string ir, as, error;
  REQUIRE_MESSAGE(emitLLVMText(m, {}, ir, error), error);
  CHECK(ir.find("define void @mm__predict(") != std::string::npos);
  CHECK(ir.find("@mm__desc = ") != std::string::npos);
  CHECK(ir.find("noalias") != std::string::npos);
  REQUIRE_MESSAGE(emitAssembly(m, {}, as, error), error);
  CHECK(as.find("mm__predict:") != std::string::npos);
  CodegenOptions avx2;
  avx2.cpu = "haswell"; // AVX2 + FMA whatever machine runs the test
  REQUIRE_MESSAGE(emitAssembly(m, avx2, as, error), error);
  bool fma = as.find("vfmadd") != std::string::npos && as.find("ps\t") != std::string::npos;
  CHECK(fma);
  CHECK(as.find("%ymm") != std::string::npos);
}

TEST_CASE("codegen: prologues run inside reductions and row-wise ops") {
  TensorMap ins{{"x", f32Tensor({13, 7}, data(91, -2, 2, 21))},
                {"t", f32Tensor({13, 7}, data(91, -1, 1, 22))},
                {"d", f32Tensor({13}, data(13, 0.5f, 1.5f, 23))},
                {"l", i32Tensor({13}, {0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5})}};
  TensorMap got = runBoth(
      [&](Builder &b, Module &) {
        Node *x = in(b, "x", ins), *t = in(b, "t", ins);
        Node *diff = b.sub(x, t);
        Node *sq = b.mul(diff, diff);
        auto &outs = b.function().outputs;
        outs.push_back({"sum_sq", b.reduceSum(sq, {1})});
        outs.push_back({"mse", b.reduceMean(b.mul(b.sub(t, x), b.sub(t, x)), {0, 1})});
        outs.push_back({"soft", b.unary(OpKind::Softmax, b.mul(x, b.constant(2.0)))});
        Node *logits = b.add(x, b.constant(0.5));
        outs.push_back({"xent", b.create(OpKind::SparseXent, {logits, in(b, "l", ins)})});
        Node *dl = b.mul(in(b, "d", ins), b.constant(3.0));
        Node *lg = b.sub(x, b.constant(1.0));
        outs.push_back({"xent_grad", b.create(OpKind::SparseXentGrad, {dl, lg, in(b, "l", ins)})});
        outs.push_back({"sgrad", b.binary(OpKind::SoftmaxGrad, b.neg(t),
                                          b.unary(OpKind::Softmax, x))});
      },
      ins);
  CHECK(got.size() == 6);
  // Every one of those reductions took its operand's maps as a prologue.
  Module m;
  m.name = "t";
  m.inputs = {{"x", ins.at("x").type, {}}, {"t", ins.at("t").type, {}}};
  Function &f = m.addFunction("f");
  Builder b(f);
  Node *x = b.input("x", ins.at("x").type), *t = b.input("t", ins.at("t").type);
  Node *d = b.sub(x, t);
  f.outputs = {{"y", b.reduceSum(b.mul(d, d), {1})}};
  planForCodegen(m);
  REQUIRE(f.plan.kernels.size() == 1);
  CHECK(f.plan.kernels[0].prologue.size() == 2);
  CHECK(f.plan.kernels[0].kind() == "prologue + reduce_sum");
  CHECK(f.plan.arenaBytes == 0); // the squares never reach memory
}

// The anchors of reduce_max, log_softmax, softmax on another axis and
// reduce_max_grad take prologues and epilogues like reduce_sum and softmax;
// a transpose is a kernel of its own whose epilogue runs after its loops.
TEST_CASE("codegen: prologues and epilogues around reduce_max, log_softmax and transpose") {
  TensorMap ins{{"x", f32Tensor({5, 7}, data(35, -2, 2, 41))},
                {"t", f32Tensor({5, 7}, data(35, -1, 1, 42))},
                {"d", f32Tensor({5}, data(5, 0.5f, 1.5f, 43))},
                {"u", f32Tensor({7, 5}, data(35, -1, 1, 44))},
                {"z", f32Tensor({2, 3, 4}, data(24, -1, 1, 45))}};
  auto build = [&](Builder &b, Module &) {
    Node *x = in(b, "x", ins), *t = in(b, "t", ins);
    Attrs axes1, axis0, perm10, perm201;
    axes1.set("axes", std::vector<int64_t>{1});
    axis0.set("axis", int64_t(0));
    perm10.set("perm", std::vector<int64_t>{1, 0});
    perm201.set("perm", std::vector<int64_t>{2, 0, 1});
    auto &outs = b.function().outputs;
    Node *mx = b.create(OpKind::ReduceMax, {b.sub(b.mul(x, b.constant(2.0)), t)}, axes1);
    outs.push_back({"max", b.add(mx, b.constant(1.0))});
    Node *ls = b.create(OpKind::LogSoftmax, {b.add(x, t)}, axis0);
    outs.push_back({"probs", b.unary(OpKind::Exp, ls)});
    outs.push_back({"soft0", b.create(OpKind::Softmax, {b.mul(x, b.constant(3.0))}, axis0)});
    Node *dmax = b.mul(in(b, "d", ins), b.constant(2.0));
    outs.push_back({"dmax", b.create(OpKind::ReduceMaxGrad, {dmax, x}, axes1)});
    Node *xt = b.create(OpKind::Transpose, {b.sub(x, t)}, perm10);
    outs.push_back({"xt", b.add(b.unary(OpKind::Relu, xt), in(b, "u", ins))});
    Node *zt = b.create(OpKind::Transpose, {in(b, "z", ins)}, perm201);
    outs.push_back({"zt", b.mul(zt, zt)});
  };
  CHECK(runBoth(build, ins).size() == 6);
  Module m;
  m.name = "t";
  Function &f = m.addFunction("f");
  Builder b(f);
  build(b, m);
  for (auto &[name, t] : ins)
    m.inputs.push_back({name, t.type, {}});
  planForCodegen(m);
  std::multiset<std::string> kinds;
  for (const Kernel &k : f.plan.kernels)
    kinds.insert(k.kind());
  CHECK(kinds.count("prologue + reduce_max + epilogue") == 1);
  CHECK(kinds.count("prologue + log_softmax + epilogue") == 1);
  CHECK(kinds.count("prologue + softmax") == 1);
  CHECK(kinds.count("prologue + reduce_max_grad") == 1);
  CHECK(kinds.count("transpose + epilogue") == 2); // x - t stays a map of its own
  CHECK(kinds.count("map") == 1);
}

TEST_CASE("codegen: a long entry calls its kernels through parts, in order") {
  // 200 kernels (fusion off): the entry is cut into parts of 64 calls, and
  // the result still depends on every kernel running in order.
  Module m;
  m.name = "long";
  m.inputs = {{"x", TensorType::f32({3, 5}), {}}};
  Function &f = m.addFunction("f");
  Builder b(f);
  Node *h = b.input("x", m.inputs[0].type);
  for (int i = 0; i < 200; ++i)
    h = i % 2 ? b.neg(h) : b.add(h, b.constant(0.5));
  f.outputs = {{"y", h}};
  TensorMap ins{{"x", f32Tensor({3, 5}, data(15, -1, 1, 31))}}, vars;
  PipelineOptions off;
  off.fusion = false;
  TensorMap got = jitRun(m, 0, ins, vars, {}, off);
  std::vector<double> want;
  for (double x : ins.at("x").data) {
    for (int i = 0; i < 200; ++i)
      x = i % 2 ? -x : x + 0.5;
    want.push_back(x);
  }
  checkClose(got.at("y").data, want);
  std::string ir, error;
  auto planned = cloneModule(m);
  planForCodegen(*planned, off);
  REQUIRE_MESSAGE(emitLLVMText(*planned, {}, ir, error), error);
  CHECK(ir.find("@long__f.part3(") != std::string::npos);
  CHECK(ir.find("@long__f.part4(") == std::string::npos);
}

// Found by the ir fuzzer: an output that is a view of a value (`extra1`, a
// reshape of `h3`) keeps that value, though a later map of the same type
// (`h4`) would overwrite the value's buffer in place once its last kernel
// has read it. Views get their root's buffer after the kernels' buffers are
// chosen, so the planner must know beforehand that a view of the value is
// a root.
TEST_CASE("codegen: an output view keeps its value when a map could reuse its buffer") {
  const char *text = R"(model gen

input x1 : f32[1, 4]
param dense_1.w : f32[4, 1] = uniform(-1.09544512, 1.09544512)
param dense_1.b : f32[1] = zeros()

func predict {
  %x1 = input {name = "x1"} : f32[1, 4]
  %t = reduce_sum(%x1) {axes = [1]} : f32[1]
  %t.1 = reshape(%t) : f32[1, 1]
  %t.2 = sigmoid(%t.1) : f32[1, 1]
  %h2 = mul(%x1, %t.2) : f32[1, 4]
  %t.3 = reduce_mean(%h2) {axes = [1]} : f32[1]
  %t.4 = reshape(%t.3) : f32[1, 1]
  %h3 = sub(%h2, %t.4) : f32[1, 4]
  %square_1.t = mul(%h3, %h3) : f32[1, 4]
  %t.5 = reduce_mean(%square_1.t) {axes = [1]} : f32[1]
  %t.6 = reshape(%t.5) : f32[1, 1]
  %c = const {value = 0.001} : f32[]
  %t.7 = add(%t.6, %c) : f32[1, 1]
  %t.8 = sqrt(%t.7) : f32[1, 1]
  %h4 = div(%h3, %t.8) : f32[1, 4]
  %dense_1.w = var {name = "dense_1.w"} : f32[4, 1]
  %dense_1.b = var {name = "dense_1.b"} : f32[1]
  %dense_1.t = matmul(%h4, %dense_1.w) : f32[1, 1]
  %logit1 = add(%dense_1.t, %dense_1.b) : f32[1, 1]
  %out1 = sigmoid(%logit1) : f32[1, 1]
  %extra1 = reshape(%h3) : f32[1, 4, 1]
  output out1 = %out1
  output extra1 = %extra1
  output extra2 = %extra1
}

)";
  std::string error;
  std::unique_ptr<Module> m = parseModuleText(text, "viewout.ir", error);
  REQUIRE_MESSAGE(m, error);
  TensorMap ins{{"x1", f32Tensor({1, 4}, {0.5, -1, 2, 0.25})}};
  TensorMap vars = initVarsForTest(*m, 3), varsRef = vars;
  TensorMap got = jitRun(*m, 0, ins, vars);
  InterpResult ref = interpret(*m->functions[0], ins, varsRef);
  for (const char *name : {"out1", "extra1", "extra2"}) {
    INFO(name);
    checkClose(got[name].data, ref.outputs[name].data);
  }
}
