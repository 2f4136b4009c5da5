// A generator of random *valid* models in the DSL: a random stack of the
// language's real layers (dense, conv2d, pooling, recurrent cells in for
// loops, embedding, residual and concatenated branches, shared and named
// instances, user functions, dropout, elementwise and reduction ops), one or
// two heads with their losses, train entries with random optimizers, and
// outputs that no kernel computes (an input, a param, a constant, a view).
// Byte mutation of DSL text almost never yields a program that lowers, so
// the passes after the frontend would go untested by it; every model made
// here lowers, so each one exercises autodiff, the optimizer expansion,
// simplify, fusion, memory planning and, in tests, codegen.
//
// Shapes are kept small (dimensions mostly up to 8, now and then 9 to 33 or
// a 520-wide input; images up to 8 x 8) so the reference interpreter checks
// a model in milliseconds.
#pragma once

#include "ir/Graph.h"
#include "ir/Interpreter.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace dlc::fuzz {

// Where the generator's decisions come from: a seeded generator in tests,
// the fuzzer's bytes in tests/fuzz/model_fuzz.cpp.
class Choices {
public:
  virtual ~Choices() = default;
  // A number in [0, n), n >= 1. A source that has run out returns 0, and the
  // generator's option 0 is always the one that ends a model soonest.
  virtual uint64_t below(uint64_t n) = 0;

  int between(int lo, int hi) { return lo + (int)below(uint64_t(hi - lo) + 1); }
  bool flip() { return below(2) == 1; }
  template <class T> const T &pick(const std::vector<T> &v) { return v[below(v.size())]; }
};

class SeededChoices : public Choices {
public:
  explicit SeededChoices(uint64_t seed) : rng_(seed) {}
  uint64_t below(uint64_t n) override { return rng_() % n; }

private:
  std::mt19937_64 rng_;
};

// How a test feeds an input of a generated model.
struct InputSpec {
  enum Kind {
    Data,   // f32 in [-1, 1)
    Unit,   // f32 in [0, 1): targets of mse, binary and categorical losses
    Labels, // i32 in [0, range): class labels or embedding ids
  };
  std::string name;
  Kind kind = Data;
  int range = 0;
};

struct GeneratedModel {
  std::string source; // the model.dl text
  std::vector<InputSpec> inputs;
};

struct GenOptions {
  int maxLayers = 6; // layers of the trunk, before the heads
  int maxBatch = 4;
};

GeneratedModel generateModel(Choices &c, const GenOptions &opts = {});

// Inputs for every input of `m` as `g` says they are fed, from `seed`; f32
// values are floats, so compiled code and the interpreter read the same.
TensorMap generatedInputs(const Module &m, const GeneratedModel &g, uint64_t seed);

} // namespace dlc::fuzz
