// exp and tanh of a float or a vector of floats, emitted as IR: range
// reduction, a polynomial and a scaling by a power of two, all lane-wise.
//
// Why not llvm.exp and llvm.tanh: LLVM lowers them to a libm call per lane
// (expf, and tanhf, which calls expm1f), which stops a vectorised loop at
// every element: the LSTM's step spent a third of its instructions in libm.
// These are plain arithmetic, so the loop vectoriser keeps them 8 or 16
// wide, and a lane's result does not depend on how many lanes run at once
// (explicit fma, no fast-math flags): a scalar remainder gives the bits a
// vector lane gives, so results stay the same at any thread count.
//
// Accuracy (tests/unit/codegen_elementary.cpp, against double over 200,000
// points of [-103, 88.7] and small arguments of both signs):
//   exp: within 1 ulp (0.9 measured) where the result is a normal float;
//     the subnormals rounded once; inf above 88.73, 0 at -104 and below;
//     NaN stays NaN.
//   tanh: within 2 ulp (1.9 measured); odd, -0 kept, ±1 from 9.02 on; NaN
//     stays NaN.
#pragma once

#include <llvm/IR/IRBuilder.h>

namespace dlc::codegen {

llvm::Value *emitExp(llvm::IRBuilderBase &b, llvm::Value *x);
llvm::Value *emitTanh(llvm::IRBuilderBase &b, llvm::Value *x);

} // namespace dlc::codegen
