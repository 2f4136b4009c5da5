// The LLVM instance of ir/Formulas.h: a Scalar is an llvm::Value (a float,
// or a vector of floats) plus the IRBuilder that makes more of them, with the
// operators and functions the formulas are written in. mapFormula<Scalar>
// therefore emits the math the interpreter evaluates in double, rounded to
// float (exp and tanh within a few ulp: codegen/Elementary.h).
#pragma once

#include "codegen/Elementary.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

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
inline Scalar exp(Scalar x) { return x.with(emitExp(*x.b, x.v)); }
inline Scalar log(Scalar x) { return x.with(x.b->CreateUnaryIntrinsic(llvm::Intrinsic::log, x.v)); }
inline Scalar sqrt(Scalar x) { return x.with(x.b->CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, x.v)); }
inline Scalar tanh(Scalar x) { return x.with(emitTanh(*x.b, x.v)); }
// LLVM has no expm1 intrinsic: each lane calls libm's double expm1 and rounds
// to float, which is what the interpreter stores (its formula runs in
// double); expm1f would add up to 0.8 ulp that the bias correction it serves
// (passes/OptimizerUpdate.cpp) cannot afford.
inline Scalar expm1(Scalar x) {
  llvm::IRBuilderBase &b = *x.b;
  llvm::Type *f64 = b.getDoubleTy();
  llvm::FunctionCallee fn = b.GetInsertBlock()->getModule()->getOrInsertFunction(
      "expm1", llvm::FunctionType::get(f64, {f64}, false));
  auto lane = [&](llvm::Value *v) {
    return b.CreateFPTrunc(b.CreateCall(fn, {b.CreateFPExt(v, f64)}), v->getType());
  };
  auto *vt = llvm::dyn_cast<llvm::FixedVectorType>(x.v->getType());
  if (!vt)
    return x.with(lane(x.v));
  llvm::Value *out = llvm::PoisonValue::get(vt);
  for (unsigned i = 0; i < vt->getNumElements(); ++i)
    out = b.CreateInsertElement(out, lane(b.CreateExtractElement(x.v, i)), i);
  return x.with(out);
}
inline Scalar pow(Scalar x, Scalar y) {
  return x.with(x.b->CreateBinaryIntrinsic(llvm::Intrinsic::pow, x.v, y.v));
}

} // namespace dlc::codegen
