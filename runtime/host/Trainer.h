// The host-side training driver behind `dlc train` / `dlc eval`: seeded
// shuffling and batching, the train loop with a progress line, evaluation.
// It drives any compiled model through the runtime's C ABI only.
#pragma once

#include "runtime/dlc_runtime.h"
#include "runtime/host/Dataset.h"

#include <cstdint>
#include <ostream>
#include <string>

namespace dlc {

struct TrainOptions {
  int epochs = 1;
  uint64_t seed = 0;
  std::string trainEntry;   // "" = the model's first train entry
  bool progress = true;     // redraw a progress line (false: one line per epoch)
};

// Conventions: the train entry takes one f32 input (images; its per-example
// size must match the dataset's) and one i32 input (labels), in either order,
// and its first output is the scalar loss. The predict entry takes the f32
// input and its first output holds per-class scores [batch, classes].
// The last partial batch of an epoch is dropped in training; evaluation
// covers every example. Returns false with `error` on failure.
bool trainModel(dlc_context *ctx, const Dataset &train, const TrainOptions &opts,
                std::ostream &out, std::string &error);

struct EvalResult {
  double accuracy = 0; // fraction in [0, 1]
  int64_t count = 0;
};
bool evaluateModel(dlc_context *ctx, const Dataset &test, EvalResult &result,
                   std::string &error);

} // namespace dlc
