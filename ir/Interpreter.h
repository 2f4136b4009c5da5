// A plain reference interpreter of the graph IR: straightforward loops in
// float arithmetic, written for clarity, not speed. It is the
// numerical oracle that compiled code, fusion and autodiff are checked against.
#pragma once

#include "ir/Graph.h"

#include <map>
#include <string>
#include <vector>

namespace dlc {

struct Tensor {
  TensorType type;
  std::vector<float> f32;   // used when type.dtype == F32
  std::vector<int32_t> i32; // used when type.dtype == I32

  static Tensor zeros(const TensorType &t);
  int64_t numel() const { return type.numel(); }
};

using TensorMap = std::map<std::string, Tensor>;

struct InterpResult {
  TensorMap outputs; // by output name
  TensorMap updates; // by variable name: the new value
  TensorMap grads;   // by variable name
  TensorMap values;  // every node's value, by node name
};

// Evaluates `f` on `inputs` (by input name) and `vars` (by variable name).
// Missing or mistyped tensors are an InternalError.
InterpResult interpret(const Function &f, const TensorMap &inputs,
                       const TensorMap &vars);

// Fills every variable of `m` from its initializer with a deterministic
// generator (not the runtime's; for tests that need plausible values).
TensorMap initVarsForTest(const Module &m, uint64_t seed);

} // namespace dlc
