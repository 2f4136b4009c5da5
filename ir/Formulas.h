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
// + - * / and unary -, comparisons > < >= <= yielding a mask type M, and
//   select(M, T, T), like(T, double) (a constant of T's kind),
//   exp, log, sqrt, pow.
#pragma once

#include "ir/Op.h"
#include "ir/Support.h"

#include <cmath>

namespace dlc {

// The double instances of the helpers the formulas use.
inline double select(bool c, double a, double b) { return c ? a : b; }
inline double like(double, double v) { return v; }

template <class T> T mapFormula(OpKind op, const T *x) {
  using std::exp, std::log, std::sqrt, std::pow;
  switch (op) {
  case OpKind::Neg: return -x[0];
  // NaN fails x > 0 and becomes 0 in both instances: select, not max.
  case OpKind::Relu: return select(x[0] > 0.0, x[0], like(x[0], 0.0));
  case OpKind::Exp: return exp(x[0]);
  case OpKind::Log: return log(x[0]);
  case OpKind::Sqrt: return sqrt(x[0]);
  case OpKind::Add: return x[0] + x[1];
  case OpKind::Sub: return x[0] - x[1];
  case OpKind::Mul: return x[0] * x[1];
  case OpKind::Div: return x[0] / x[1];
  case OpKind::Pow: return pow(x[0], x[1]);
  case OpKind::ReluGrad: return select(x[1] > 0.0, x[0], like(x[0], 0.0)); // (dy, x)

  // Every other op is a loop, not a formula (ir/Interpreter.cpp,
  // codegen/Kernels.cpp).
#define DLC_OP(Enum, Name, Operands, Kind, Schema, Flags) DLC_NONMAP_CASE_##Kind(Enum)
#include "ir/Ops.def"
    break;
  }
  internalError(std::string("mapFormula: ") + opName(op) + " is not an elementwise op");
}

} // namespace dlc
