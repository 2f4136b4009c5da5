// The LLVM instance of ir/Formulas.h: a Scalar is an llvm::Value (a float,
// or a vector of floats) plus the IRBuilder that makes more of them, with the
// operators and functions the formulas are written in. mapFormula<Scalar>
// therefore emits exactly the math the interpreter evaluates in double.
#pragma once

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>

namespace dlc::codegen {

struct Scalar {
  llvm::IRBuilderBase *b;
  llvm::Value *v;

  Scalar with(llvm::Value *x) const { return {b, x}; }
  // A constant of this value's type (splat for a vector).
  Scalar constant(double c) const { return with(llvm::ConstantFP::get(v->getType(), c)); }
};

// A comparison result (i1, or a vector of them) for select.
struct Mask {
  llvm::Value *v;
};

inline Scalar like(const Scalar &x, double c) { return x.constant(c); }

inline Scalar operator+(Scalar a, Scalar c) { return a.with(a.b->CreateFAdd(a.v, c.v)); }
inline Scalar operator-(Scalar a, Scalar c) { return a.with(a.b->CreateFSub(a.v, c.v)); }
inline Scalar operator*(Scalar a, Scalar c) { return a.with(a.b->CreateFMul(a.v, c.v)); }
inline Scalar operator/(Scalar a, Scalar c) { return a.with(a.b->CreateFDiv(a.v, c.v)); }
inline Scalar operator-(Scalar a) { return a.with(a.b->CreateFNeg(a.v)); }

// Comparisons as C's: false when either side is NaN (ordered), except !=,
// which is then true (unordered).
inline Mask operator>(Scalar a, Scalar c) { return {a.b->CreateFCmpOGT(a.v, c.v)}; }
inline Mask operator<(Scalar a, Scalar c) { return {a.b->CreateFCmpOLT(a.v, c.v)}; }
inline Mask operator>=(Scalar a, Scalar c) { return {a.b->CreateFCmpOGE(a.v, c.v)}; }
inline Mask operator<=(Scalar a, Scalar c) { return {a.b->CreateFCmpOLE(a.v, c.v)}; }
inline Mask operator==(Scalar a, Scalar c) { return {a.b->CreateFCmpOEQ(a.v, c.v)}; }
inline Mask operator!=(Scalar a, Scalar c) { return {a.b->CreateFCmpUNE(a.v, c.v)}; }
inline Mask operator>(Scalar a, double c) { return a > a.constant(c); }
inline Mask operator<(Scalar a, double c) { return a < a.constant(c); }
inline Mask operator>=(Scalar a, double c) { return a >= a.constant(c); }
inline Mask operator<=(Scalar a, double c) { return a <= a.constant(c); }
inline Mask operator!=(Scalar a, double c) { return a != a.constant(c); }

inline Scalar select(Mask m, Scalar a, Scalar c) {
  return a.with(a.b->CreateSelect(m.v, a.v, c.v));
}

inline Scalar abs(Scalar x) { return x.with(x.b->CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x.v)); }
inline Scalar exp(Scalar x) { return x.with(x.b->CreateUnaryIntrinsic(llvm::Intrinsic::exp, x.v)); }
inline Scalar log(Scalar x) { return x.with(x.b->CreateUnaryIntrinsic(llvm::Intrinsic::log, x.v)); }
inline Scalar sqrt(Scalar x) { return x.with(x.b->CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, x.v)); }
inline Scalar tanh(Scalar x) { return x.with(x.b->CreateUnaryIntrinsic(llvm::Intrinsic::tanh, x.v)); }
inline Scalar pow(Scalar x, Scalar y) {
  return x.with(x.b->CreateBinaryIntrinsic(llvm::Intrinsic::pow, x.v, y.v));
}

} // namespace dlc::codegen
