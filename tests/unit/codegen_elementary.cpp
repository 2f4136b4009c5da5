// exp and tanh as the kernels compute them (codegen/Elementary.h), JIT-run
// over sweeps of their domains against double, in units in the last place
// of the float result; their special values; and the same bits for a value
// in a vector lane and in the scalar loop that finishes a row.
#include "ir/Builder.h"
#include "tests/unit/jit_support.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

using namespace dlc;
using namespace dlc::testing;

namespace {

// exp(x) and tanh(x), compiled, for each x (an odd count, so the kernels'
// vector loops end in scalar ones).
struct Results {
  std::vector<double> exp, tanh;
};

Results run(const std::vector<double> &x) {
  auto m = std::make_unique<Module>();
  m->name = "elementary";
  const TensorType t = TensorType::f32({1, (int64_t)x.size()});
  Builder b(m->addFunction("f"));
  Node *in = b.input("x", t);
  b.function().outputs.push_back({"e", b.unary(OpKind::Exp, in)});
  b.function().outputs.push_back({"t", b.unary(OpKind::Tanh, in)});
  m->inputs.push_back({"x", t, {}});
  TensorMap vars, inputs{{"x", Tensor::of(t, x)}};
  TensorMap got = jitRun(*m, 0, inputs, vars);
  return {got.at("e").data, got.at("t").data};
}

// |got - want| in units of the float spacing at want.
double ulps(double got, double want) {
  float w = (float)want;
  double spacing = std::nextafter(std::fabs(w), std::numeric_limits<float>::infinity()) -
                   std::fabs(w);
  return std::fabs(got - want) / spacing;
}

uint32_t bits(double v) {
  float f = (float)v;
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

} // namespace

TEST_CASE("codegen: exp and tanh within a few ulp of double over their domains") {
  std::vector<double> x;
  for (int i = 0; i <= 200001; ++i) // [-103, 88.7], every 1e-3 or so
    x.push_back((float)(-103.0 + 191.7 * i / 200001.0));
  for (int e = -40; e <= 4; ++e) // tanh's small arguments, both signs
    for (double m : {1.0, 1.37, 1.9})
      for (double s : {1.0, -1.0})
        x.push_back((float)(s * m * std::ldexp(1.0, e)));
  Results r = run(x);
  double worstExp = 0, worstTanh = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    CAPTURE(x[i]);
    const double e = std::exp(x[i]);
    if (e >= std::numeric_limits<float>::min()) // subnormals below: checked apart
      worstExp = std::max(worstExp, ulps(r.exp[i], e));
    worstTanh = std::max(worstTanh, ulps(r.tanh[i], std::tanh(x[i])));
  }
  MESSAGE("exp within " << worstExp << " ulp, tanh within " << worstTanh << " ulp");
  CHECK(worstExp <= 1);
  CHECK(worstTanh <= 2);
}

TEST_CASE("codegen: exp and tanh at their special values") {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> x{0.0, -0.0, inf, -inf, nan, 88.72f, 88.73f, 89.0, 1000.0,
                        -87.3f, -100.0, -103.9f, -104.0, -200.0, 9.02f, -9.02f, 20.0,
                        1e-30f, -1e-30f};
  Results r = run(x);
  auto at = [&](double v) {
    for (size_t i = 0; i < x.size(); ++i)
      if (std::memcmp(&x[i], &v, sizeof v) == 0)
        return i;
    FAIL("no such input");
    return size_t(0);
  };
  CHECK(r.exp[at(0.0)] == 1.0);
  CHECK(r.exp[at(inf)] == inf);
  CHECK(r.exp[at(-inf)] == 0.0);
  CHECK(std::isnan(r.exp[at(nan)]));
  CHECK(std::isfinite(r.exp[at(88.72f)]));
  CHECK(r.exp[at(88.73f)] == inf);
  CHECK(r.exp[at(1000.0)] == inf);
  CHECK(r.exp[at(-200.0)] == 0.0);
  CHECK(r.exp[at(-104.0)] == 0.0);
  // Subnormal results, rounded once: within one of the smallest spacing.
  for (double v : {(double)-87.3f, -100.0, (double)-103.9f}) {
    CAPTURE(v);
    CHECK(std::fabs(r.exp[at(v)] - (double)(float)std::exp(v)) <=
          std::numeric_limits<float>::denorm_min());
  }
  CHECK(r.tanh[at(0.0)] == 0.0);
  CHECK(std::signbit(r.tanh[at(-0.0)]));
  CHECK(r.tanh[at(inf)] == 1.0);
  CHECK(r.tanh[at(-inf)] == -1.0);
  CHECK(std::isnan(r.tanh[at(nan)]));
  CHECK(r.tanh[at(9.02f)] == 1.0);
  CHECK(r.tanh[at(-9.02f)] == -1.0);
  CHECK(r.tanh[at(1e-30f)] == (double)1e-30f);
  CHECK(r.tanh[at(-1e-30f)] == (double)-1e-30f);
}

TEST_CASE("codegen: exp and tanh give a value's bits in any lane and in the scalar loop") {
  // 37 values, each at 16 positions of a row of 37 * 16 + 5: every residue
  // of a vector's lanes, and the last 5 in the loop after the vectors.
  std::vector<double> v = data(37, -12.0f, 12.0f, 3), x;
  for (int copy = 0; copy < 16; ++copy)
    for (size_t i = 0; i < v.size(); ++i)
      x.push_back(v[(i + copy) % v.size()]);
  for (int i = 0; i < 5; ++i)
    x.push_back(v[(size_t)i]);
  Results r = run(x);
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t first = (size_t)(std::find(x.begin(), x.end(), x[i]) - x.begin());
    CAPTURE(x[i]);
    CHECK(bits(r.exp[i]) == bits(r.exp[first]));
    CHECK(bits(r.tanh[i]) == bits(r.tanh[first]));
  }
}
