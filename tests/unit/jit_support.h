// Helpers for tests that run JIT-compiled code against the reference
// interpreter: deterministic data, tensors in the compiled layout, running
// one entry through its descriptor, and closeness checks.
#pragma once

#include "codegen/Codegen.h"
#include "ir/Interpreter.h"
#include "passes/Pipeline.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace dlc::testing {

// Deterministic test data in [lo, hi), each value a float (what the
// compiled code reads is then exactly what the interpreter reads).
inline std::vector<double> data(int64_t n, float lo, float hi, uint32_t seed = 1) {
  std::vector<double> v((size_t)n);
  uint32_t s = seed * 2654435761u + 12345u;
  for (double &x : v) {
    s = s * 1664525u + 1013904223u;
    x = lo + (hi - lo) * (float)(s >> 8) / (float)(1u << 24);
  }
  return v;
}

inline Tensor f32Tensor(const Dims &d, std::vector<double> v) {
  return Tensor::of(TensorType::f32(d), std::move(v));
}

inline Tensor i32Tensor(const Dims &d, std::vector<double> v) {
  return Tensor::of(TensorType::i32(d), std::move(v));
}

struct AlignedBuf {
  void *p = nullptr;
  explicit AlignedBuf(int64_t bytes) {
    p = std::aligned_alloc(64, (size_t)std::max<int64_t>(64, (bytes + 63) / 64 * 64));
    std::memset(p, 0xCD, (size_t)std::max<int64_t>(64, (bytes + 63) / 64 * 64));
  }
  ~AlignedBuf() { std::free(p); }
  char *c() { return static_cast<char *>(p); }
};

// A tensor in the 4-byte layout compiled code reads and writes.
struct RawTensor {
  std::vector<uint32_t> words;
  explicit RawTensor(const Tensor &t) : words((size_t)t.numel()) {
    for (size_t i = 0; i < words.size(); ++i) {
      if (t.type.dtype == DType::F32) {
        float f = (float)t.data[i];
        std::memcpy(&words[i], &f, 4);
      } else {
        int32_t v = (int32_t)t.data[i];
        std::memcpy(&words[i], &v, 4);
      }
    }
  }
};

// Reads `count` 4-byte elements of dtype `dt` at `p` into `t.data`.
inline void readRaw(Tensor &t, const void *p) {
  const char *c = static_cast<const char *>(p);
  for (size_t i = 0; i < t.data.size(); ++i) {
    if (t.type.dtype == DType::F32) {
      float f;
      std::memcpy(&f, c + 4 * i, 4);
      t.data[i] = f;
    } else {
      int32_t v;
      std::memcpy(&v, c + 4 * i, 4);
      t.data[i] = v;
    }
  }
}

// Compiles `m`, runs entry `entry` through its descriptor (no runtime), and
// returns the outputs by name; `vars` is read into the state block and
// written back from it afterwards.
// dlc_exec.parallel_for for the tests that call entries directly: three
// parts at multiples of the grain, as runtime/pool.c cuts, run one by one
// from the last, on this thread.
inline void partsInReverse(const dlc_exec *, dlc_task_fn task, void *args, int64_t n,
                           int64_t grain) {
  const int64_t units = (n + grain - 1) / grain, parts = 3;
  for (int64_t p = parts - 1; p >= 0; --p) {
    const int64_t begin = units * p / parts * grain,
                  end = std::min(n, units * (p + 1) / parts * grain);
    if (begin < end)
      task(args, begin, end);
  }
}

inline TensorMap jitRun(const Module &m, int entry, const TensorMap &inputs, TensorMap &vars,
                        const CodegenOptions &opts = {},
                        const PipelineOptions &pipeline = {}) {
  std::string error;
  // Graphs built by hand get the buffer IR the pipeline would give them.
  std::unique_ptr<Module> planned = cloneModule(m);
  planForCodegen(*planned, pipeline);
  auto jit = jitCompile(*planned, opts, error);
  REQUIRE_MESSAGE(jit, error);
  const dlc_model_desc *d = jit->desc();
  REQUIRE(entry < d->n_entries);
  const dlc_entry_desc &e = d->entries[entry];
  AlignedBuf state(d->state_bytes), arena(e.arena_bytes);
  for (int i = 0; i < d->n_vars; ++i) {
    RawTensor raw(vars.at(d->vars[i].name));
    std::memcpy(state.c() + d->vars[i].offset, raw.words.data(), raw.words.size() * 4);
  }
  std::vector<RawTensor> inRaw;
  for (int i = 0; i < e.n_inputs; ++i)
    inRaw.emplace_back(inputs.at(d->inputs[e.inputs[i]].name));
  std::vector<const void *> ins;
  for (RawTensor &r : inRaw)
    ins.push_back(r.words.data());
  TensorMap outs;
  std::vector<std::vector<uint32_t>> outRaw;
  std::vector<void *> outPtrs;
  for (int o = 0; o < e.n_outputs; ++o) {
    const dlc_tensor_desc &td = e.outputs[o];
    Dims dims(td.dims, td.dims + td.rank);
    outs[td.name] = Tensor::zeros(td.dtype == DLC_F32 ? TensorType::f32(dims)
                                                      : TensorType::i32(dims));
    // Garbage, as a caller's buffer may hold: every element must be written.
    outRaw.emplace_back((size_t)outs[td.name].numel(), 0x7fc00001u);
  }
  for (auto &r : outRaw)
    outPtrs.push_back(r.data());
  // Whole batches; a shared kernel's range cut in three parts run last to
  // first, as threads might, so each kernel's share boundaries are tested.
  const dlc_exec exec{d->batch > 0 ? d->batch : 1, partsInReverse, nullptr};
  e.fn(state.c(), arena.c(), ins.data(), outPtrs.data(), &exec);
  for (int o = 0; o < e.n_outputs; ++o)
    readRaw(outs[e.outputs[o].name], outRaw[(size_t)o].data());
  for (int i = 0; i < d->n_vars; ++i)
    readRaw(vars.at(d->vars[i].name), state.c() + d->vars[i].offset);
  return outs;
}

// Compiled float against the double reference: relative above 1, absolute
// below; NaN matches NaN and an infinity only itself.
inline bool close(double got, double want, double tol = 1e-5) {
  if (std::isnan(want))
    return std::isnan(got);
  return got == want || std::fabs(got - want) <= tol * std::max(1.0, std::fabs(want));
}

inline void checkClose(const std::vector<double> &got, const std::vector<double> &want,
                       double tol = 1e-5) {
  REQUIRE(got.size() == want.size());
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!close(got[i], want[i], tol) && bad++ < 5)
      MESSAGE("element " << i << ": got " << got[i] << ", want " << want[i]);
  CHECK(bad == 0);
}

} // namespace dlc::testing
