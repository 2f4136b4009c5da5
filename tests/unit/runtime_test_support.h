// Support for the runtime's unit tests: a temporary directory, and
// hand-written model descriptors — what codegen would emit, small enough to
// check by hand. The "toy" model is a 2-class logistic regression over 2
// features: predict = softmax(x @ w + b), and a train entry "step" doing one
// SGD step on the mean cross-entropy. Its predict may be built rows
// independent, as codegen marks such an entry: it then computes exec->rows
// rows of the caller's buffers and touches no other row.
#pragma once

#include "runtime/dlc_runtime.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <stdlib.h>

namespace toy {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
public:
  TempDir() {
    const char *base = getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/dlc-runtime-XXXXXX";
    if (mkdtemp(pattern.data()))
      dir = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!dir.empty())
      std::filesystem::remove_all(dir, ignored);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  std::string path(const std::string &name) const { return dir + "/" + name; }
  const std::string &root() const { return dir; }

private:
  std::string dir;
};

inline std::vector<uint8_t> readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline std::string readText(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void writeBytes(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
}

// Builds a dlc_model_desc with stable storage for every name, dims array and
// table the descriptor points into. Variables get 64-byte aligned offsets in
// the order they are added.
class ModelBuilder {
public:
  ModelBuilder(const std::string &name, int64_t batch) : batch(batch) { desc.name = keep(name); }

  int addInput(const std::string &name, int32_t dtype, std::vector<int64_t> dims,
               int64_t indexBound = 0) {
    inputs.push_back(tensor(name, dtype, std::move(dims)));
    inputs.back().index_bound = indexBound;
    return int(inputs.size()) - 1;
  }

  int64_t addVar(const std::string &name, int32_t dtype, std::vector<int64_t> dims,
                 int32_t init, float a = 0, float b = 0, bool trainable = true) {
    dlc_tensor_desc t = tensor(name, dtype, std::move(dims));
    t.offset = stateBytes;
    t.init = init;
    t.init_a = a;
    t.init_b = b;
    t.trainable = trainable;
    stateBytes += (t.numel * 4 + 63) / 64 * 64;
    vars.push_back(t);
    return t.offset;
  }

  void addEntry(const std::string &name, bool train, std::vector<int32_t> entryInputs,
                std::vector<dlc_tensor_desc> outputs, int64_t arenaBytes, dlc_entry_fn fn,
                bool rowsIndependent = false) {
    entryInputStore.push_back(std::move(entryInputs));
    outputStore.push_back(std::move(outputs));
    dlc_entry_desc e{};
    e.name = keep(name);
    e.is_train = train;
    e.rows_independent = rowsIndependent;
    e.n_inputs = int32_t(entryInputStore.back().size());
    e.inputs = entryInputStore.back().data();
    e.n_outputs = int32_t(outputStore.back().size());
    e.outputs = outputStore.back().data();
    e.arena_bytes = arenaBytes;
    e.fn = fn;
    entries.push_back(e);
  }

  dlc_tensor_desc tensor(const std::string &name, int32_t dtype, std::vector<int64_t> dims) {
    dlc_tensor_desc t{};
    t.name = keep(name);
    t.dtype = dtype;
    t.rank = int32_t(dims.size());
    t.numel = 1;
    for (int64_t d : dims)
      t.numel *= d;
    dimStore.push_back(std::move(dims));
    t.dims = dimStore.back().data();
    return t;
  }

  // Call once everything is added; the builder must outlive the descriptor.
  const dlc_model_desc *finish(uint64_t signature) {
    desc.abi_version = DLC_ABI_VERSION;
    desc.signature = signature;
    desc.batch = batch;
    desc.n_inputs = int32_t(inputs.size());
    desc.inputs = inputs.data();
    desc.n_vars = int32_t(vars.size());
    desc.vars = vars.data();
    desc.state_bytes = stateBytes;
    desc.n_entries = int32_t(entries.size());
    desc.entries = entries.data();
    return &desc;
  }

  dlc_model_desc desc{};

private:
  const char *keep(const std::string &s) {
    strings.push_back(s);
    return strings.back().c_str();
  }

  int64_t batch;
  int64_t stateBytes = 0;
  std::deque<std::string> strings;
  std::deque<std::vector<int64_t>> dimStore;
  std::deque<std::vector<int32_t>> entryInputStore;
  std::deque<std::vector<dlc_tensor_desc>> outputStore;
  std::vector<dlc_tensor_desc> inputs, vars;
  std::vector<dlc_entry_desc> entries;
};

constexpr int64_t kBatch = 8;
constexpr int kFeatures = 2, kClasses = 2;
constexpr float kLearningRate = 0.5f;
// The entries address the state by these offsets, as generated code would.
constexpr int64_t kW = 0, kB = 64, kCount = 128, kLastGrad = 192;

// What the entries saw on their last call, for tests of dlc_run's plumbing.
struct Probe {
  const void *input = nullptr;
  int64_t rows = 0; // exec->rows
  float x[kBatch * kFeatures] = {};
  bool arenaAligned = false;
  unsigned int fpMode = 0; // MXCSR inside the entry (x86)
  int calls = 0;
};
inline Probe probe;

inline void logits(const char *state, const float *x, float *out, int64_t rows = kBatch) {
  const float *w = reinterpret_cast<const float *>(state + kW);
  const float *b = reinterpret_cast<const float *>(state + kB);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < kClasses; ++c)
      out[r * kClasses + c] = b[c] + x[r * kFeatures] * w[c] + x[r * kFeatures + 1] * w[kClasses + c];
}

inline void softmaxRows(float *v, int64_t rows = kBatch) {
  for (int r = 0; r < rows; ++r) {
    float *row = v + r * kClasses;
    const float m = std::max(row[0], row[1]);
    const float e0 = std::exp(row[0] - m), e1 = std::exp(row[1] - m);
    row[0] = e0 / (e0 + e1);
    row[1] = e1 / (e0 + e1);
  }
}

inline void record(const void *input, const char *arena, const dlc_exec *exec,
                   int64_t rowsRead = kBatch) {
  probe.input = input;
  probe.rows = exec->rows;
  std::memset(probe.x, 0, sizeof probe.x);
  std::memcpy(probe.x, input, sizeof(float) * size_t(rowsRead) * kFeatures);
  probe.arenaAligned = reinterpret_cast<uintptr_t>(arena) % 64 == 0;
#if defined(__SSE2__)
  probe.fpMode = _mm_getcsr();
#endif
  ++probe.calls;
}

// predict(x) -> probs; the logits live in the arena, as a compiled entry's
// intermediates would.
inline void predictEntry(char *state, char *arena, const void *const *in, void *const *out,
                         const dlc_exec *exec) {
  record(in[0], arena, exec);
  float *scratch = reinterpret_cast<float *>(arena);
  logits(state, static_cast<const float *>(in[0]), scratch);
  softmaxRows(scratch);
  std::memcpy(out[0], scratch, sizeof(float) * kBatch * kClasses);
}

// step(y, x) -> loss (labels first, to exercise "in either order"); updates
// w and b, keeps the last gradient of w and a step count as optimizer state.
// The same predict, rows independent: exec->rows rows, in the caller's
// buffers, which hold only those.
inline void predictRowsEntry(char *state, char *arena, const void *const *in,
                             void *const *out, const dlc_exec *exec) {
  record(in[0], arena, exec, exec->rows);
  float *scratch = reinterpret_cast<float *>(arena);
  logits(state, static_cast<const float *>(in[0]), scratch, exec->rows);
  softmaxRows(scratch, exec->rows);
  std::memcpy(out[0], scratch, sizeof(float) * size_t(exec->rows) * kClasses);
}

inline void stepEntry(char *state, char *arena, const void *const *in, void *const *out,
                      const dlc_exec *exec) {
  const int32_t *y = static_cast<const int32_t *>(in[0]);
  const float *x = static_cast<const float *>(in[1]);
  record(x, arena, exec);
  float *p = reinterpret_cast<float *>(arena);
  logits(state, x, p);
  softmaxRows(p);
  float loss = 0, gw[kFeatures * kClasses] = {}, gb[kClasses] = {};
  for (int r = 0; r < kBatch; ++r) {
    loss -= std::log(p[r * kClasses + y[r]]);
    for (int c = 0; c < kClasses; ++c) {
      const float d = (p[r * kClasses + c] - (c == y[r] ? 1.0f : 0.0f)) / kBatch;
      gb[c] += d;
      for (int f = 0; f < kFeatures; ++f)
        gw[f * kClasses + c] += x[r * kFeatures + f] * d;
    }
  }
  float *w = reinterpret_cast<float *>(state + kW);
  float *b = reinterpret_cast<float *>(state + kB);
  for (int i = 0; i < kFeatures * kClasses; ++i)
    w[i] -= kLearningRate * gw[i];
  for (int c = 0; c < kClasses; ++c)
    b[c] -= kLearningRate * gb[c];
  std::memcpy(state + kLastGrad, gw, sizeof gw);
  *reinterpret_cast<int32_t *>(state + kCount) += 1;
  *static_cast<float *>(out[0]) = loss / kBatch;
}

// The toy model. `wDims` lets a test build the same model with another shape
// for w (its entries must then not be run), `signature` another signature;
// `rowsIndependent` makes predict the rows-independent entry.
inline void buildToy(ModelBuilder &m, uint64_t signature = 0x70E5u,
                     std::vector<int64_t> wDims = {kFeatures, kClasses},
                     bool rowsIndependent = false) {
  m.addInput("x", DLC_F32, {kBatch, kFeatures});
  m.addInput("y", DLC_I32, {kBatch}, kClasses); // class labels, as codegen marks them
  m.addVar("dense.w", DLC_F32, wDims, DLC_INIT_NORMAL, 0.0f, 0.5f);
  m.addVar("dense.b", DLC_F32, {kClasses}, DLC_INIT_ZEROS);
  m.addVar("step.count", DLC_I32, {1}, DLC_INIT_ZEROS, 0, 0, false);
  m.addVar("step.last_grad", DLC_F32, {kFeatures, kClasses}, DLC_INIT_ZEROS, 0, 0, false);
  m.addEntry("predict", false, {0}, {m.tensor("probs", DLC_F32, {kBatch, kClasses})},
             64, rowsIndependent ? predictRowsEntry : predictEntry, rowsIndependent);
  m.addEntry("step", true, {1, 0}, {m.tensor("loss", DLC_F32, {})}, 64, stepEntry);
  m.finish(signature);
}

// step as above, and its second output the probabilities its forward pass
// computed (before the update), as `dlc train` asks the frontend for them.
inline void stepWithScoresEntry(char *state, char *arena, const void *const *in,
                                void *const *out, const dlc_exec *exec) {
  float before[kBatch * kClasses];
  logits(state, static_cast<const float *>(in[1]), before);
  softmaxRows(before);
  stepEntry(state, arena, in, out, exec);
  std::memcpy(out[1], before, sizeof before);
}

// A train entry that learns nothing and scores each example by the sign of
// its first feature: right on every example of two blobs around (-1, -1)
// and (1, 1), so that the trainer's training accuracy must be 100% when it
// pairs each row of scores with its example's label.
inline void signScoresEntry(char *, char *, const void *const *in, void *const *out,
                            const dlc_exec *) {
  const float *x = static_cast<const float *>(in[1]);
  float *scores = static_cast<float *>(out[1]);
  for (int r = 0; r < kBatch; ++r) {
    scores[r * kClasses] = x[r * kFeatures] < 0 ? 1.0f : 0.0f;
    scores[r * kClasses + 1] = x[r * kFeatures] < 0 ? 0.0f : 1.0f;
  }
  *static_cast<float *>(out[0]) = 0.0f;
}

// The toy model with a train entry `step` that outputs its loss and then
// the class scores "probs" (stepWithScoresEntry or signScoresEntry).
inline void buildToyWithScores(ModelBuilder &m, dlc_entry_fn step) {
  m.addInput("x", DLC_F32, {kBatch, kFeatures});
  m.addInput("y", DLC_I32, {kBatch}, kClasses);
  m.addVar("dense.w", DLC_F32, {kFeatures, kClasses}, DLC_INIT_NORMAL, 0.0f, 0.5f);
  m.addVar("dense.b", DLC_F32, {kClasses}, DLC_INIT_ZEROS);
  m.addVar("step.count", DLC_I32, {1}, DLC_INIT_ZEROS, 0, 0, false);
  m.addVar("step.last_grad", DLC_F32, {kFeatures, kClasses}, DLC_INIT_ZEROS, 0, 0, false);
  m.addEntry("predict", false, {0}, {m.tensor("probs", DLC_F32, {kBatch, kClasses})},
             64, predictEntry);
  m.addEntry("step", true, {1, 0},
             {m.tensor("loss", DLC_F32, {}), m.tensor("probs", DLC_F32, {kBatch, kClasses})},
             64, step);
  m.finish(0x70E5u);
}

// Every variable's bytes, to compare whole states.
inline std::vector<uint8_t> snapshot(dlc_context *ctx) {
  const dlc_model_desc *m = dlc_model(ctx);
  std::vector<uint8_t> bytes;
  for (int v = 0; v < m->n_vars; ++v) {
    const uint8_t *p = static_cast<const uint8_t *>(dlc_var_data(ctx, v));
    bytes.insert(bytes.end(), p, p + m->vars[v].numel * 4);
  }
  return bytes;
}

} // namespace toy
