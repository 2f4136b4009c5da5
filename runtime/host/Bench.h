// Throughput of a compiled model's entries (`dlc bench`): every train entry
// at a full batch, predict at a full batch and at one row, on synthetic data.
// Figures are medians over rounds, as a benchmark should report them.
#pragma once

#include "runtime/dlc_runtime.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dlc {

struct BenchOptions {
  int rounds = 7;              // timed rounds; the median is reported
  double secondsPerRound = 0.2;
  uint64_t seed = 0;
  // Each figure is taken at each of these thread counts (dlc_set_threads);
  // empty: at the context's own count only.
  std::vector<int> threads;
};

struct BenchFigure {
  std::string entry;
  int64_t rows = 0;
  int threads = 1;
  int64_t callsPerRound = 0;
  double median = 0, min = 0, max = 0; // seconds per call
};

// Runs each entry of the context's model; trains on random data, so the
// context's variables change. Returns false with `error` on a runtime error.
bool benchModel(dlc_context *ctx, const BenchOptions &opts,
                std::vector<BenchFigure> &figures, std::string &error);

} // namespace dlc
