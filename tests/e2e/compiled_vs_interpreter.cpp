// The compiled model (frontend → passes → LLVM JIT → runtime) against the
// reference interpreter on the same parameters and data: predict outputs,
// the train step's loss, and every variable after one and after three steps.
#include "codegen/Codegen.h"
#include "frontend/Frontend.h"
#include "ir/Interpreter.h"
#include "passes/Pipeline.h"
#include "runtime/dlc_runtime.h"

#include "tests/unit/jit_support.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace dlc;
using namespace dlc::testing;

namespace {

struct Compiled {
  std::unique_ptr<Module> module;
  std::unique_ptr<JitModel> jit;
  dlc_context *ctx = nullptr;
  ~Compiled() { dlc_destroy(ctx); }
};

void compile(const std::string &path, const std::string &source, Compiled &c,
             const PipelineOptions &opts = {}, const FrontendOptions &front = {}) {
  std::ostringstream errs;
  c.module = compileModelSource(path, source, errs, front);
  REQUIRE_MESSAGE(c.module, errs.str());
  PassOptions check;
  check.verifyEach = true; // the graph and the buffer IR after every pass
  PassManager pm(check);
  addDefaultPipeline(pm, opts);
  pm.run(*c.module);
  std::string error;
  c.jit = jitCompile(*c.module, CodegenOptions{}, error);
  REQUIRE_MESSAGE(c.jit, error);
  c.ctx = dlc_create(c.jit->desc(), 7);
  REQUIRE(c.ctx);
}

Tensor readVar(dlc_context *ctx, int i) {
  const dlc_tensor_desc &d = dlc_model(ctx)->vars[i];
  Tensor t;
  t.type = TensorType(d.dtype == DLC_F32 ? DType::F32 : DType::I32,
                      Dims(d.dims, d.dims + d.rank));
  t.data.resize((size_t)d.numel);
  readRaw(t, dlc_var_data(ctx, i));
  return t;
}

TensorMap readVars(dlc_context *ctx) {
  TensorMap vars;
  const dlc_model_desc *m = dlc_model(ctx);
  for (int i = 0; i < m->n_vars; ++i)
    vars[m->vars[i].name] = readVar(ctx, i);
  return vars;
}

// Random data shaped like the model's inputs: floats in [0, 1), labels < 10.
TensorMap randomInputs(const Module &m, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> pixel(0, 1);
  TensorMap inputs;
  for (const InputDecl &in : m.inputs) {
    Tensor t = Tensor::zeros(in.type);
    for (double &v : t.data)
      v = in.type.dtype == DType::F32 ? pixel(rng) : (double)(rng() % 10);
    inputs[in.name] = t;
  }
  return inputs;
}

// Runs entry `name` of the compiled model; returns its outputs by name.
TensorMap runCompiled(dlc_context *ctx, const std::string &name,
                      const TensorMap &inputs) {
  const dlc_model_desc *m = dlc_model(ctx);
  int e = dlc_find_entry(m, name.c_str());
  REQUIRE(e >= 0);
  const dlc_entry_desc &entry = m->entries[e];
  std::vector<RawTensor> inRaw;
  for (int k = 0; k < entry.n_inputs; ++k)
    inRaw.emplace_back(inputs.at(m->inputs[entry.inputs[k]].name));
  std::vector<const void *> in;
  for (RawTensor &r : inRaw)
    in.push_back(r.words.data());
  TensorMap outs;
  std::vector<std::vector<uint32_t>> outRaw;
  std::vector<void *> out;
  for (int k = 0; k < entry.n_outputs; ++k) {
    const dlc_tensor_desc &d = entry.outputs[k];
    outs[d.name] = Tensor::zeros(TensorType::f32(Dims(d.dims, d.dims + d.rank)));
    outRaw.emplace_back((size_t)d.numel);
  }
  for (auto &r : outRaw)
    out.push_back(r.data());
  int rc = dlc_run(ctx, e, in.data(), out.data(), m->batch);
  REQUIRE_MESSAGE(rc == DLC_OK, dlc_error(ctx));
  for (int k = 0; k < entry.n_outputs; ++k)
    readRaw(outs[entry.outputs[k].name], outRaw[(size_t)k].data());
  return outs;
}

// Largest |a - b| / max(|b|, floor) over the tensor: elementwise relative error.
double maxRelError(const Tensor &a, const Tensor &b, double floor = 1e-3) {
  REQUIRE(a.data.size() == b.data.size());
  double worst = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    double d = std::fabs((double)a.data[i] - b.data[i]);
    worst = std::max(worst, d / std::max<double>(std::fabs(b.data[i]), floor));
  }
  return worst;
}

// max |a - b| / max |b|: relative error in the max norm, the measure that
// stays meaningful for sums that cancel (gradients, second moments ~1e-6).
double normRelError(const Tensor &a, const Tensor &b) {
  REQUIRE(a.data.size() == b.data.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    diff = std::max(diff, std::fabs((double)a.data[i] - b.data[i]));
    scale = std::max(scale, std::fabs((double)b.data[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

// A param after an Adam step, against another computation of it: the
// largest difference, relative to the param's magnitude where that is above
// 1, else absolute. Adam moves each weight by about lr, and by
// lr * g / (|g| + eps) where |g| is near eps (1e-7): there it magnifies
// rounding in g (float against double, or one summation order against
// another) by up to 1/eps. Biases start at 0, where a relative error would
// divide by the update itself.
double paramError(const Tensor &a, const Tensor &b) {
  REQUIRE(a.data.size() == b.data.size());
  double diff = 0, scale = 1;
  for (size_t i = 0; i < a.data.size(); ++i) {
    diff = std::max(diff, std::fabs(a.data[i] - b.data[i]));
    scale = std::max(scale, std::fabs(b.data[i]));
  }
  return diff / scale;
}

// Every variable of `m` in `got` against `want`: params by paramError,
// optimizer state and counters relative in the max norm, both within `tol`.
void checkVars(const Module &m, const TensorMap &got, const TensorMap &want, double tol) {
  for (auto &[var, value] : want) {
    CAPTURE(var);
    if (m.findVar(var)->trainable)
      CHECK(paramError(got.at(var), value) <= tol);
    else
      CHECK(normRelError(got.at(var), value) <= tol);
  }
}

// The models in examples/.
std::vector<std::string> examplePaths() {
  std::vector<std::string> paths;
  for (const auto &entry : std::filesystem::directory_iterator(DLC_SOURCE_DIR "/examples"))
    if (entry.path().extension() == ".dl")
      paths.push_back(entry.path().string());
  return paths;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs predict and `steps` train steps on both, comparing as it goes; returns
// the worst normwise error seen on trainable params after a step.
double compareTraining(const std::string &name, const std::string &source,
                       int steps) {
  Compiled c;
  compile(name, source, c);
  const Module &m = *c.module;
  TensorMap vars = readVars(c.ctx);
  double worstParam = 0;
  for (int round = 0; round < steps; ++round) {
    TensorMap inputs = randomInputs(m, 100 + round);
    CAPTURE(round);

    InterpResult ref = interpret(*m.findFunction("predict"), inputs, vars);
    TensorMap got = runCompiled(c.ctx, "predict", inputs);
    CHECK(maxRelError(got.at("probs"), ref.outputs.at("probs")) < 1e-5);

    ref = interpret(*m.findFunction("step"), inputs, vars);
    got = runCompiled(c.ctx, "step", inputs);
    CHECK(maxRelError(got.at("loss"), ref.outputs.at("loss")) < 1e-5);

    // The step updated the context's variables; compare them all, then carry
    // the compiled values forward so later rounds start from the same state.
    TensorMap after = readVars(c.ctx);
    REQUIRE(ref.updates.size() == after.size());
    for (auto &[var, value] : ref.updates) {
      CAPTURE(var);
      double err = normRelError(after.at(var), value);
      if (m.findVar(var)->trainable)
        worstParam = std::max(worstParam, err);
      else
        CHECK(err < 1e-5); // optimizer state: moments carry the gradients
    }
    vars = after;
  }
  return worstParam;
}

} // namespace

TEST_CASE("mnist_mlp (sgd): compiled predict, loss, gradients and update match "
          "the interpreter to 1e-5") {
  std::string source = readFile(DLC_SOURCE_DIR "/examples/mnist_mlp.dl");
  size_t at = source.find("adam(lr = 0.001)");
  REQUIRE(at != std::string::npos);
  source.replace(at, 16, "sgd(lr = 0.1)");
  // w' = w - lr * g is well conditioned, so params check at 1e-5 too.
  CHECK(compareTraining("mnist_mlp_sgd.dl", source, 3) < 1e-5);
}

TEST_CASE("mnist_mlp (adam): compiled predict, loss, moments and update match "
          "the interpreter") {
  std::string source = readFile(DLC_SOURCE_DIR "/examples/mnist_mlp.dl");
  // Adam's first step moves a weight by lr * g / (|g| + eps): where |g| is
  // near eps (1e-7) that ratio magnifies float-vs-double rounding in g by up
  // to ~1/eps, so params get 1e-4 while the moments (the gradients) hold 1e-5.
  CHECK(compareTraining("mnist_mlp.dl", source, 3) < 1e-4);
}

// Every example at batch 4 (so that the interpreter's plain loops stay
// quick), compiled against the interpreter: each predict output, then each
// train entry's loss and every variable after it.
TEST_CASE("examples: compiled predict and train steps equal the interpreter") {
  for (const std::string &path : examplePaths()) {
    CAPTURE(path);
    FrontendOptions small;
    small.constants["batch"] = 4;
    Compiled c;
    compile(path, readFile(path), c, {}, small);
    const Module &m = *c.module;
    TensorMap vars = readVars(c.ctx), inputs = randomInputs(m, 900);
    for (bool train : {false, true})
      for (const auto &f : m.functions) {
        if (f->isTrain() != train)
          continue;
        CAPTURE(f->name);
        InterpResult ref = interpret(*f, inputs, vars);
        TensorMap got = runCompiled(c.ctx, f->name, inputs);
        for (auto &[name, t] : ref.outputs) {
          CAPTURE(name);
          CHECK(maxRelError(got.at(name), t) < 1e-5);
        }
        TensorMap after = readVars(c.ctx);
        checkVars(m, after, ref.updates, 1e-5);
        vars = after;
      }
  }
}

// Every example, fused and with --no-fusion, from the same initial state on
// the same data: each non-train entry's outputs, then each train entry's
// outputs and every variable after it, for two rounds. The kernels differ
// (epilogues, in-place buffers, hoisted scalars); the arithmetic must not,
// beyond rounding: a fused kernel contracts a * b + c into one FMA and sums
// a prologue's values in another order, so the outputs agree to 1e-6 and
// the variables, after Adam (see paramError) and squared moments, to 1e-5.
TEST_CASE("examples: fused code equals unfused code to 1e-6, and arenas are near their bound") {
  for (const std::string &path : examplePaths()) {
    CAPTURE(path);
    std::string source = readFile(path);
    Compiled fused, unfused;
    compile(path, source, fused);
    PipelineOptions off;
    off.fusion = false;
    compile(path, source, unfused, off);
    const Module &m = *fused.module;
    // The planned arena is within 10% of the most bytes ever live at once.
    for (const auto &f : m.functions) {
      CAPTURE(f->name);
      CHECK(f->plan.arenaBytes <= f->plan.lowerBound * 11 / 10);
    }
    for (int round = 0; round < 2; ++round) {
      TensorMap inputs = randomInputs(m, 500 + round);
      for (bool train : {false, true})
        for (const auto &f : m.functions) {
          if (f->isTrain() != train)
            continue;
          CAPTURE(f->name);
          CAPTURE(round);
          TensorMap a = runCompiled(fused.ctx, f->name, inputs);
          TensorMap b = runCompiled(unfused.ctx, f->name, inputs);
          for (auto &[name, t] : a)
            CHECK(normRelError(t, b.at(name)) <= 1e-6);
          checkVars(m, readVars(fused.ctx), readVars(unfused.ctx), 1e-5);
        }
    }
  }
}

namespace {

// Entry `name` of the compiled model on the first `rows` rows of `inputs`.
// In the buffers it is given, the rows past those hold NaN (i32: a number no
// index bound admits), which must not reach the rows computed, and each
// output's rows past them hold a sentinel, which must survive: the entry
// reads and writes only the caller's rows. Returns the outputs' first rows.
TensorMap runRows(dlc_context *ctx, const std::string &name, const TensorMap &inputs,
                  int64_t rows) {
  const dlc_model_desc *m = dlc_model(ctx);
  int e = dlc_find_entry(m, name.c_str());
  REQUIRE(e >= 0);
  const dlc_entry_desc &entry = m->entries[e];
  const uint32_t sentinel = 0xFFFFFFFFu; // a NaN no kernel computes
  auto rowWords = [&](const dlc_tensor_desc &d) {
    return d.rank > 0 && d.dims[0] == m->batch ? (size_t)(d.numel / m->batch) * rows
                                               : (size_t)d.numel;
  };
  std::vector<RawTensor> inRaw;
  for (int k = 0; k < entry.n_inputs; ++k) {
    const dlc_tensor_desc &d = m->inputs[entry.inputs[k]];
    inRaw.emplace_back(inputs.at(d.name));
    for (size_t w = rowWords(d); w < inRaw.back().words.size(); ++w)
      inRaw.back().words[w] = d.dtype == DLC_F32 ? 0x7FC00000u : 0x40000000u;
  }
  std::vector<const void *> in;
  for (RawTensor &r : inRaw)
    in.push_back(r.words.data());
  std::vector<std::vector<uint32_t>> outRaw;
  std::vector<void *> out;
  for (int k = 0; k < entry.n_outputs; ++k)
    outRaw.emplace_back((size_t)entry.outputs[k].numel, sentinel);
  for (auto &r : outRaw)
    out.push_back(r.data());
  int rc = dlc_run(ctx, e, in.data(), out.data(), rows);
  REQUIRE_MESSAGE(rc == DLC_OK, dlc_error(ctx));
  TensorMap outs;
  for (int k = 0; k < entry.n_outputs; ++k) {
    const dlc_tensor_desc &d = entry.outputs[k];
    CAPTURE(d.name);
    const size_t used = rowWords(d);
    CHECK(std::count(outRaw[(size_t)k].begin() + (ptrdiff_t)used, outRaw[(size_t)k].end(),
                     sentinel) == (ptrdiff_t)(outRaw[(size_t)k].size() - used));
    Dims dims(d.dims, d.dims + d.rank);
    if (used != (size_t)d.numel)
      dims[0] = rows;
    Tensor t = Tensor::zeros(TensorType::f32(dims));
    readRaw(t, outRaw[(size_t)k].data());
    outs[d.name] = t;
  }
  return outs;
}

// `inputs` with the rows from `rows` on zeroed: what a partial batch means to
// an entry that runs on zero-padded staging, and what the first rows of a
// row-independent entry cannot see.
TensorMap firstRows(TensorMap inputs, int64_t batch, int64_t rows) {
  for (auto &[name, t] : inputs)
    if (t.type.rank() > 0 && t.type.dims[0] == batch)
      std::fill(t.data.begin() + (ptrdiff_t)(t.numel() / batch * rows), t.data.end(), 0.0);
  return inputs;
}

// Entry f on the first `rows` rows of `inputs` (a batch of `batch`)
// against the interpreter on the same rows, zero-padded: each output has
// exactly those rows (if it leads with the batch), and each element is within `tol` of the reference,
// relative to |reference| but never below `floor`.
void checkFirstRows(dlc_context *ctx, const Function &f, const TensorMap &inputs,
                    const TensorMap &vars, int64_t batch, int64_t rows, double floor,
                    double tol) {
  CAPTURE(rows);
  InterpResult ref = interpret(f, firstRows(inputs, batch, rows), vars);
  TensorMap got = runRows(ctx, f.name, inputs, rows);
  for (auto &[name, want] : ref.outputs) {
    CAPTURE(name);
    const Tensor &have = got.at(name);
    const bool batched = want.type.rank() > 0 && want.type.dims[0] == batch;
    REQUIRE(have.data.size() == size_t(batched ? want.numel() / batch * rows : want.numel()));
    double worst = 0;
    for (size_t i = 0; i < have.data.size(); ++i)
      worst = std::max(worst, std::fabs(have.data[i] - want.data[i]) /
                                  std::max(std::fabs(want.data[i]), floor));
    CHECK(worst < tol);
  }
}

} // namespace

// Every example's non-train entries (predict; the GAN's sampler) on 1, 5 and
// a whole batch of 8 rows, fused and unfused, against the interpreter on the
// same rows: a row-independent entry computes only the caller's rows (its
// loops bounded by the row count), the others run on staged full batches;
// either way the rows match and no other row of the caller's is touched.
TEST_CASE("examples: predict on 1, 5 and a batch of rows equals the interpreter's rows") {
  constexpr int64_t kBatch = 8;
  for (const std::string &path : examplePaths()) {
    for (bool fusion : {true, false}) {
      CAPTURE(path);
      CAPTURE(fusion);
      FrontendOptions small;
      small.constants["batch"] = kBatch;
      PipelineOptions opts;
      opts.fusion = fusion;
      Compiled c;
      compile(path, readFile(path), c, opts, small);
      const Module &m = *c.module;
      const dlc_model_desc *d = c.jit->desc();
      REQUIRE(d->batch == kBatch);
      TensorMap vars = readVars(c.ctx), inputs = randomInputs(m, 300);
      for (const auto &f : m.functions) {
        if (f->isTrain())
          continue;
        CAPTURE(f->name);
        // Every example's predict keeps its rows apart.
        CHECK(d->entries[dlc_find_entry(d, f->name.c_str())].rows_independent == 1);
        for (int64_t rows : {int64_t(1), int64_t(5), kBatch})
          checkFirstRows(c.ctx, *f, inputs, vars, kBatch, rows, 1e-3, 1e-5);
      }
    }
  }
}

// A row-independent matmul with rows enough packs B's panels into a buffer
// on the stack; with fewer it reads B in place (codegen/Kernels.cpp,
// emitMatMul). `w`'s K of 300 is one block, packed from 256 rows; `v`'s
// 600 fits a panel whole, packed from 256 rows in parts of 256 or more,
// read in blocks of 256 below that; `u`'s 1100 (with AVX2, whole) runs in blocks with AVX-512,
// packed or not, the partial sums of its 512 x 600 C prefetched, and the
// dense layer's bias and relu applied at the last block. Row counts on
// both sides of each switch, and ones that leave a partial row block,
// against the interpreter. The switch is made by each thread's part: at 2
// threads, `w`'s parts of 512 rows are 64 (runtime/pool.c), so the packed
// paths are checked at 1 thread too.
TEST_CASE("a predict's matmuls at row counts on both sides of packing") {
  const std::string source = R"(model packing(batch = 512) {
  input  x : f32[batch, 300]
  input  z : f32[batch, 600]
  input  y : f32[batch, 1100]
  param  w : f32[300, 200] = glorot_uniform()
  param  v : f32[600, 200] = glorot_uniform()
  output h = x @ w
  output g = z @ v
  output e = dense(y, 600, activation = relu)
}
)";
  Compiled c;
  compile("packing.dl", source, c);
  const Module &m = *c.module;
  TensorMap vars = readVars(c.ctx), inputs = randomInputs(m, 11);
  const Function &f = *m.functions[0];
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    REQUIRE(dlc_set_threads(c.ctx, threads) == DLC_OK);
    for (int64_t rows : {1, 7, 127, 128, 255, 256, 261, 512})
      checkFirstRows(c.ctx, f, inputs, vars, 512, rows, 1.0, 1e-4);
  }
}

// A row group (ir/BufferIR.h RowGroup): the CNN's patches, convolution and
// pooling run 3 images at a time, the patches and the product local to the
// chunk in flight. Row counts that end inside a chunk, at one, and past
// several, against the interpreter; at 1 and 2 threads the same bits.
TEST_CASE("a predict whose convolution runs a few rows at a time equals the interpreter's") {
  const std::string source = R"(model cnn(batch = 64) {
  input  x : f32[batch, 28, 28]
  h      = reshape(x, [batch, 28, 28, 1])
  h      = conv2d(h, 32, 3, activation = relu)
  h      = max_pool2d(h, 2)
  output logits = dense(flatten(h), 10)
}
)";
  Compiled c;
  compile("cnn.dl", source, c);
  const Module &m = *c.module;
  const Function &f = *m.functions[0];
  REQUIRE(f.plan.groups.size() == 1);
  CHECK(f.plan.groups[0].rows == 3);
  CHECK(f.plan.groups[0].local.size() == 3);
  TensorMap vars = readVars(c.ctx), inputs = randomInputs(m, 5);
  for (int64_t rows : {1, 2, 3, 4, 7, 64})
    checkFirstRows(c.ctx, f, inputs, vars, 64, rows, 1.0, 1e-4);
  for (int64_t rows : {int64_t(5), int64_t(64)}) {
    REQUIRE(dlc_set_threads(c.ctx, 1) == DLC_OK);
    TensorMap one = runRows(c.ctx, f.name, inputs, rows);
    REQUIRE(dlc_set_threads(c.ctx, 2) == DLC_OK);
    TensorMap two = runRows(c.ctx, f.name, inputs, rows);
    CHECK(one.at("logits").data == two.at("logits").data);
  }
}
