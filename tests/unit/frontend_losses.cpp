// The prelude's losses (mse, binary_cross_entropy, categorical_cross_entropy,
// each from probabilities and from logits) as a model writes them, over
// x, t : f32[3, 4]. Each is checked three ways, as the elementwise functions
// are: its value against the formula computed here in doubles (with logits of
// ±80, where a naive log(sigmoid(x)) or log(softmax(x)) is -inf in f32), its
// gradient against f64 finite differences, and the compiled (fused) predict
// against the interpreter.
#include "frontend/Frontend.h"
#include "tests/unit/dsl_support.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

using namespace dlc;
using namespace dlc::testing;

namespace {

constexpr int kRows = 3, kCols = 4;
using Vec = std::vector<double>;

// The clip bounds as the f32 constants the kernels hold.
const double kLo = (float)1e-7, kHi = (float)(1 - 1e-7);

double clamp(double p) { return std::min(std::max(p, kLo), kHi); }

double mse(const Vec &x, const Vec &t) {
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i)
    s += (x[i] - t[i]) * (x[i] - t[i]);
  return s / (double)x.size();
}

double bceLogits(const Vec &x, const Vec &t) {
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i)
    s += std::max(x[i], 0.0) - x[i] * t[i] + std::log1p(std::exp(-std::fabs(x[i])));
  return s / (double)x.size();
}

double bceProbs(const Vec &p, const Vec &t) {
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    double q = clamp(p[i]);
    s += t[i] * std::log(q) + (1 - t[i]) * std::log(1 - q);
  }
  return -s / (double)p.size();
}

double cceLogits(const Vec &x, const Vec &t) {
  double s = 0;
  for (int r = 0; r < kRows; ++r) {
    const double *row = &x[(size_t)(r * kCols)];
    double m = *std::max_element(row, row + kCols), z = 0;
    for (int j = 0; j < kCols; ++j)
      z += std::exp(row[j] - m);
    double lse = m + std::log(z);
    for (int j = 0; j < kCols; ++j)
      s += t[(size_t)(r * kCols + j)] * (row[j] - lse);
  }
  return -s / kRows;
}

double cceProbs(const Vec &p, const Vec &t) {
  double s = 0;
  for (int r = 0; r < kRows; ++r) {
    double sum = 0;
    for (int j = 0; j < kCols; ++j)
      sum += p[(size_t)(r * kCols + j)];
    for (int j = 0; j < kCols; ++j)
      s += t[(size_t)(r * kCols + j)] * std::log(clamp(p[(size_t)(r * kCols + j)] / sum));
  }
  return -s / kRows;
}

// Logits with ±80 in them: exp(80) overflows f32, sigmoid(80) is 1 in f32.
const Vec kLogits = {80, -80, 0.3, -1.7, 2.5, -0.4, 17, -20, -80, 80, 0.05, -3.1};
// Probabilities strictly inside (1e-7, 1 - 1e-7), so finite differences do
// not cross a clip bound; rows not normalised (cce renormalises them).
const Vec kProbs = {0.9, 0.05, 0.3, 0.6, 0.2, 0.7, 0.01, 0.45, 0.999, 0.002, 0.5, 0.35};
// Probabilities at the clip bounds and beyond: 0 and 1 exactly.
const Vec kEdgeProbs = {1, 0, 0.3, 0.6, 0, 1, 0.01, 0.45, 1, 0, 0, 1};
// Targets: binary (and a soft one), and one-hot rows.
const Vec kBinary = {0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0.3, 1};
const Vec kOneHot = {0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0};
const Vec kTarget = {0.5, -1.2, 0.3, 2.0, -0.7, 0.1, 1.1, -2.2, 0.9, 0.4, -0.3, 1.5};

struct LossCase {
  std::string expr; // over x, t : f32[3, 4]
  Vec x, t;
  std::function<double(const Vec &, const Vec &)> want;
  bool gradient = true; // false where x sits on a clip bound (a kink)
};

const std::vector<LossCase> &cases() {
  static const std::vector<LossCase> c = {
      {"mse(x, t)", kLogits, kTarget, mse},
      {"mse(pred = x, target = t)", kProbs, kTarget, mse},
      {"binary_cross_entropy(x, t, from_logits = true)", kLogits, kBinary, bceLogits},
      {"binary_cross_entropy(x, t, true)", kProbs, kBinary, bceLogits},
      {"binary_cross_entropy(x, t)", kProbs, kBinary, bceProbs},
      {"binary_cross_entropy(x, t, from_logits = false)", kEdgeProbs, kBinary, bceProbs, false},
      {"categorical_cross_entropy(x, t, from_logits = true)", kLogits, kOneHot, cceLogits},
      {"categorical_cross_entropy(x, t, from_logits = true)", kLogits, kBinary, cceLogits},
      {"categorical_cross_entropy(x, t)", kProbs, kOneHot, cceProbs},
      {"categorical_cross_entropy(x, t)", kEdgeProbs, kOneHot, cceProbs, false},
  };
  return c;
}


Tensor tensor(const Vec &v) {
  Vec f;
  for (double x : v)
    f.push_back((float)x);
  return f32Tensor({kRows, kCols}, f);
}

} // namespace

TEST_CASE("DSL losses: interpreted values match their formulas, compiled values the "
          "interpreter") {
  for (const LossCase &c : cases()) {
    INFO(c.expr);
    auto m = compileDsl("model m {\n  input x : f32[3, 4]\n  input t : f32[3, 4]\n"
                     "  output y = " + c.expr + "\n}\n", true);
    TensorMap inputs{{"x", tensor(c.x)}, {"t", tensor(c.t)}}, noVars;
    Tensor y = interpret(*m->findFunction("predict"), inputs, noVars).outputs.at("y");
    REQUIRE(y.data.size() == 1); // a scalar
    double want = c.want(inputs.at("x").data, inputs.at("t").data);
    INFO("want " << want << ", interpreted " << y.data[0]);
    CHECK(std::isfinite(want));
    checkClose(y.data, {want}, 1e-6);
    Tensor got = jitRun(*m, 0, inputs, noVars).at("y");
    CHECK(std::isfinite(got.data[0]));
    checkClose(got.data, y.data, 1e-5);
  }
}

TEST_CASE("DSL losses: gradients match f64 finite differences") {
  for (const LossCase &c : cases()) {
    if (!c.gradient)
      continue;
    INFO(c.expr);
    auto m = compileDsl("model m {\n  input t : f32[3, 4]\n  param x : f32[3, 4] = zeros()\n"
                     "  loss = " + c.expr + "\n  train step(loss, sgd(lr = 0.1))\n}\n", true);
    Function &step = *m->findFunction("step");
    TensorMap inputs{{"t", tensor(c.t)}};
    checkGradients(*m, step, inputs, {{"x", tensor(c.x)}}, step.train->loss->name);
  }
}

// A train step through each loss, compiled as interpreted: the gradients of
// the clips, the renormalisation and log_softmax fused into kernels.
TEST_CASE("DSL losses: a train step through each, compiled as interpreted") {
  for (const LossCase &c : cases()) {
    INFO(c.expr);
    // The loss of x = a @ w, or of its sigmoid where the case takes probabilities.
    bool probs = c.expr.find("true") == std::string::npos && c.expr.find("mse") != 0;
    auto m = compileDsl("model m {\n  input a : f32[3, 4]\n  input t : f32[3, 4]\n"
                     "  param w : f32[4, 4] = glorot_uniform()\n  x = a @ w\n" +
                     std::string(probs ? "  x = sigmoid(x)\n" : "") + "  loss = " + c.expr +
                     "\n  train step(loss, sgd(lr = 0.5))\n}\n", true);
    checkTrainStepCompiled(*m, {{"a", tensor(c.x)}, {"t", tensor(c.t)}});
  }
}

TEST_CASE("DSL losses: a softmax given as logits warns, and still compiles") {
  std::ostringstream errs;
  auto m = compileModelSource(
      "t.dl",
      "model m {\n  input x : f32[3, 4]\n  input t : f32[3, 4]\n  p = softmax(x)\n"
      "  output y = categorical_cross_entropy(p, t, from_logits = true)\n}\n",
      errs);
  CHECK(m);
  CHECK(errs.str().find("t.dl:5:14: warning: categorical_cross_entropy expects logits, but "
                        "'x' is already the output of a softmax") == 0);
}

TEST_CASE("DSL choose: a compile-time flag picks a value; anything else is an error") {
  auto out = [](const std::string &expr) {
    std::ostringstream errs;
    std::string src = "model m {\n  input x : f32[" + expr + "]\n  output y = x\n}\n";
    auto m = compileModelSource("t.dl", src, errs);
    return m ? m->inputs[0].type.str() : errs.str();
  };
  CHECK(out("choose(true, 2, 3)") == "f32[2]");
  CHECK(out("choose(false, 2, 3)") == "f32[3]");
  CHECK(out("choose(flag = 1, a = 5, b = 7)") == "f32[5]");
  CHECK(out("choose(2, 2, 3)").find(
            "t.dl:2:17: error: choose: argument 'flag' must be true or false (1 or 0), got "
            "integer 2") == 0);
}
