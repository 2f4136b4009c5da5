// The math of every elementwise and broadcast op, written once.
//
// `mapFormula<T>(op, x)` is the value of element i of op's result given
// element i of each operand (x[0], x[1], ...). It is a template over the
// scalar type T, so one formula serves every consumer:
//   - T = double: the reference interpreter and the constant folder;
//   - T = codegen::Scalar, which wraps an llvm::Value and an IRBuilder: the
//     kernels, where a fused chain is these expressions composed in one loop.
// Interpreter and kernels therefore cannot disagree about an op's meaning.
//
// What T must offer (found by argument-dependent lookup for class types):
// + - * / and unary -, comparisons > < >= <= == != yielding a mask type M
//   (ordered, so false for NaN, except !=), select(M, T, T),
//   like(T, double) (a constant of T's kind), abs, exp, expm1, log, sqrt,
//   tanh, pow.
#pragma once

#include "ir/Op.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <cmath>

namespace dlc {

// The double instances of the helpers the formulas use.
inline double select(bool c, double a, double b) { return c ? a : b; }
inline double like(double, double v) { return v; }

template <class T> T mapFormula(OpKind op, const T *x) {
  using std::abs, std::exp, std::expm1, std::log, std::sqrt, std::tanh, std::pow;
  // A comparison's mask as an f32 value.
  auto mask = [&](auto m) { return select(m, like(x[0], 1.0), like(x[0], 0.0)); };
  switch (op) {
  case OpKind::Neg: return -x[0];
  // NaN fails x > 0 and becomes 0 in both instances: select, not max.
  case OpKind::Relu: return select(x[0] > 0.0, x[0], like(x[0], 0.0));
  case OpKind::Exp: return exp(x[0]);
  case OpKind::Expm1: return expm1(x[0]);
  case OpKind::Log: return log(x[0]);
  case OpKind::Sqrt: return sqrt(x[0]);
  case OpKind::Abs: return abs(x[0]);
  case OpKind::Sigmoid: {
    // 1 / (1 + exp(-x)) for x >= 0, exp(x) / (1 + exp(x)) below: exp never
    // overflows and the tail keeps its relative precision. Both arms are
    // evaluated (codegen selects), so both are computed from e = exp(-|x|).
    T e = exp(-abs(x[0]));
    T r = like(x[0], 1.0) / (like(x[0], 1.0) + e);
    return select(x[0] >= 0.0, r, e * r);
  }
  case OpKind::Tanh: return tanh(x[0]);
  case OpKind::StopGradient: return x[0];
  case OpKind::Add: return x[0] + x[1];
  case OpKind::Sub: return x[0] - x[1];
  case OpKind::Mul: return x[0] * x[1];
  case OpKind::Div: return x[0] / x[1];
  case OpKind::Pow: return pow(x[0], x[1]);
  case OpKind::ReluGrad: return select(x[1] > 0.0, x[0], like(x[0], 0.0)); // (dy, x)
  case OpKind::Maximum: return select(x[0] > x[1], x[0], x[1]);
  case OpKind::Minimum: return select(x[0] < x[1], x[0], x[1]);
  case OpKind::Greater: return mask(x[0] > x[1]);
  case OpKind::Less: return mask(x[0] < x[1]);
  case OpKind::GreaterEqual: return mask(x[0] >= x[1]);
  case OpKind::LessEqual: return mask(x[0] <= x[1]);
  case OpKind::Equal: return mask(x[0] == x[1]);
  case OpKind::NotEqual: return mask(x[0] != x[1]);
  case OpKind::Where: return select(x[0] != 0.0, x[1], x[2]); // (cond, a, b)

  // Every other op is a loop, not a formula (ir/Interpreter.cpp,
  // codegen/Kernels.cpp).
#define DLC_OP(Enum, Name, Operands, Kind, Schema, Flags) DLC_NONMAP_CASE_##Kind(Enum)
#include "ir/Ops.def"
    break;
  }
  internalError(fmt::format("mapFormula: {} is not an elementwise op", opName(op)));
}

} // namespace dlc
