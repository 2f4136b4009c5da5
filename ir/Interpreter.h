// A plain reference interpreter of the graph IR: straightforward loops in
// double arithmetic, written for clarity, not speed. It is the numerical
// oracle that compiled code, fusion and autodiff are checked against, and
// being exact to double lets finite differences check gradients tightly.
#pragma once

#include "ir/Graph.h"

#include <map>
#include <string>
#include <vector>

namespace dlc {

// A tensor's elements, row-major, held as doubles whatever its dtype (an
// i32 tensor holds integers, exactly).
struct Tensor {
  TensorType type;
  std::vector<double> data;

  static Tensor zeros(const TensorType &t);
  // An InternalError when `values` does not have t's element count.
  static Tensor of(const TensorType &t, std::vector<double> values);
  int64_t numel() const { return type.numel(); }
  // The elements as compiled code stores them (f32 rounds to nearest).
  std::vector<float> floats() const;
  std::vector<int32_t> ints() const;
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
