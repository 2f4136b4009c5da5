#include "codegen/Elementary.h"

#include <llvm/IR/Intrinsics.h>

#include <initializer_list>

namespace dlc::codegen {

using namespace llvm;

namespace {

Value *constant(Value *like, double v) { return ConstantFP::get(like->getType(), v); }

Value *fma(IRBuilderBase &b, Value *x, Value *y, Value *z) {
  return b.CreateIntrinsic(Intrinsic::fma, {x->getType()}, {x, y, z});
}

// c[0] + r * (c[1] + r * (c[2] + ...)), by Horner's rule in fmas.
Value *polynomial(IRBuilderBase &b, Value *r, std::initializer_list<double> c) {
  const double *k = c.end();
  Value *acc = constant(r, *--k);
  while (k != c.begin())
    acc = fma(b, acc, r, constant(r, *--k));
  return acc;
}

// i32 lanes of x's shape.
Type *intsLike(Value *x) {
  Type *t = x->getType();
  if (auto *v = dyn_cast<VectorType>(t))
    return VectorType::getInteger(v);
  return Type::getInt32Ty(t->getContext());
}

// 2^k as a float, for k in [-126, 127].
Value *powerOfTwo(IRBuilderBase &b, Value *k, Type *f) {
  Value *biased = b.CreateAdd(k, ConstantInt::get(k->getType(), 127));
  return b.CreateBitCast(b.CreateShl(biased, 23), f);
}

} // namespace

Value *emitExp(IRBuilderBase &b, Value *x) {
  // exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 in
  // [-ln 2 / 2, ln 2 / 2], where Taylor's series to r^7 / 7! is within
  // 0.1 ulp. ln 2 is split in two (Cody and Waite): n * kLn2High is exact
  // for any n here, so r keeps its bits.
  constexpr double kLog2e = 1.4426950408889634;
  constexpr double kLn2High = 0.693359375, kLn2Low = -2.12194440e-4;
  // Past the ends the result is inf or 0 anyway; the clamp keeps n in
  // [-150, 128], where two powers of two scale it. A NaN is computed as 0
  // (no poison from its conversion) and returned as itself.
  Value *isNaN = b.CreateFCmpUNO(x, x);
  Value *v = b.CreateSelect(b.CreateFCmpOGT(x, constant(x, 88.8)), constant(x, 88.8), x);
  v = b.CreateSelect(b.CreateFCmpOLT(v, constant(x, -104.0)), constant(x, -104.0), v);
  v = b.CreateSelect(isNaN, constant(x, 0.0), v);
  Value *n = b.CreateUnaryIntrinsic(Intrinsic::roundeven, b.CreateFMul(v, constant(x, kLog2e)));
  Value *r = fma(b, n, constant(x, -kLn2High), v);
  r = fma(b, n, constant(x, -kLn2Low), r);
  Value *p = polynomial(b, r, {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720,
                               1.0 / 5040});
  // 2^n in two halves, each a normal float: p * 2^half is exact, and the
  // second product rounds once, to a subnormal, 0 or inf where it must.
  Value *ni = b.CreateFPToSI(n, intsLike(x));
  Value *half = b.CreateAShr(ni, 1);
  Value *rest = b.CreateSub(ni, half);
  Value *y = b.CreateFMul(b.CreateFMul(p, powerOfTwo(b, half, x->getType())),
                          powerOfTwo(b, rest, x->getType()));
  return b.CreateSelect(isNaN, x, y);
}

Value *emitTanh(IRBuilderBase &b, Value *x) {
  // tanh |x| = e / (e + 2) with e = expm1(2|x|): near 0 this keeps the
  // relative precision that 1 - 2 / (exp(2|x|) + 1) loses to cancellation.
  // For |x| <= 1/2, e is Taylor's series of expm1 on [0, 1] to t^11 / 11!
  // (within 0.02 ulp); above, tanh |x| > 0.46 and the second form is exact
  // enough, and 1 once exp overflows.
  Value *a = b.CreateUnaryIntrinsic(Intrinsic::fabs, x);
  Value *small = b.CreateFCmpOLE(a, constant(x, 0.5));
  Value *t = b.CreateFMul(b.CreateSelect(small, a, constant(x, 0.5)), constant(x, 2.0));
  Value *e = b.CreateFMul(t, polynomial(b, t, {1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120,
                                               1.0 / 720, 1.0 / 5040, 1.0 / 40320,
                                               1.0 / 362880, 1.0 / 3628800,
                                               1.0 / 39916800}));
  Value *near = b.CreateFDiv(e, b.CreateFAdd(e, constant(x, 2.0)));
  Value *big = emitExp(b, b.CreateFMul(a, constant(x, 2.0)));
  Value *far = b.CreateFSub(constant(x, 1.0),
                            b.CreateFDiv(constant(x, 2.0), b.CreateFAdd(big, constant(x, 1.0))));
  // NaN fails |x| <= 1/2 and comes through exp.
  Value *y = b.CreateSelect(small, near, far);
  return b.CreateBinaryIntrinsic(Intrinsic::copysign, y, x);
}

} // namespace dlc::codegen
