// Random valid models (tests/fuzz/ModelGen.h) from fixed seeds, each taken
// through the whole pipeline with the verifier after every pass and the
// fuzz targets' invariants (tests/fuzz/Invariants.h), then JIT-compiled:
// every entry's outputs, and every variable after each train entry, equal
// the reference interpreter's. The fuzz target "model" searches the same
// generator without LLVM; this keeps a few dozen of its models, codegen
// included, in every build's suite.
#include "codegen/Codegen.h"
#include "frontend/Frontend.h"
#include "runtime/dlc_runtime.h"
#include "tests/fuzz/Invariants.h"
#include "tests/fuzz/ModelGen.h"
#include "tests/unit/jit_support.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

using namespace dlc;
using namespace dlc::testing;

namespace {

// Runs entry `f` of the compiled model on `inputs` (on their first `rows`
// rows when rows > 0, else on the whole batch); its outputs by name, each
// tensor leading with the batch cut to the rows run.
TensorMap runEntry(dlc_context *ctx, const Function &f, const TensorMap &inputs,
                   int64_t rows = 0) {
  const dlc_model_desc *m = dlc_model(ctx);
  int e = dlc_find_entry(m, f.name.c_str());
  REQUIRE(e >= 0);
  const dlc_entry_desc &entry = m->entries[e];
  std::vector<RawTensor> in;
  for (int k = 0; k < entry.n_inputs; ++k)
    in.emplace_back(inputs.at(m->inputs[entry.inputs[k]].name));
  std::vector<const void *> inPtrs;
  for (RawTensor &r : in)
    inPtrs.push_back(r.words.data());
  std::vector<std::vector<uint32_t>> out;
  std::vector<void *> outPtrs;
  for (int k = 0; k < entry.n_outputs; ++k)
    out.emplace_back((size_t)entry.outputs[k].numel);
  for (auto &o : out)
    outPtrs.push_back(o.data());
  if (rows <= 0)
    rows = m->batch > 0 ? m->batch : 1;
  int rc = dlc_run(ctx, e, inPtrs.data(), outPtrs.data(), rows);
  REQUIRE_MESSAGE(rc == DLC_OK, dlc_error(ctx));
  TensorMap result;
  for (int k = 0; k < entry.n_outputs; ++k) {
    const dlc_tensor_desc &d = entry.outputs[k];
    Dims dims(d.dims, d.dims + d.rank);
    if (m->batch > 0 && d.rank > 0 && dims[0] == m->batch)
      dims[0] = rows;
    Tensor t = Tensor::zeros(TensorType::f32(dims));
    readRaw(t, out[(size_t)k].data());
    result[d.name] = std::move(t);
  }
  return result;
}

void writeVars(dlc_context *ctx, const TensorMap &vars) {
  const dlc_model_desc *m = dlc_model(ctx);
  for (int i = 0; i < m->n_vars; ++i) {
    RawTensor raw(vars.at(m->vars[i].name));
    std::memcpy(dlc_var_data(ctx, i), raw.words.data(), raw.words.size() * 4);
  }
}

TensorMap readVars(dlc_context *ctx, const TensorMap &like) {
  const dlc_model_desc *m = dlc_model(ctx);
  TensorMap vars = like;
  for (int i = 0; i < m->n_vars; ++i)
    readRaw(vars.at(m->vars[i].name), dlc_var_data(ctx, i));
  return vars;
}

// max |a - b| / max(1, max |b|): float code against the double reference,
// relative where values are large and absolute where they are small (a
// gradient that cancels to 1e-9 in double is some 1e-8 in float).
double difference(const Tensor &a, const Tensor &b) {
  REQUIRE(a.data.size() == b.data.size());
  double diff = 0, scale = 1;
  for (size_t i = 0; i < a.data.size(); ++i) {
    if (std::isnan(b.data[i]) && std::isnan(a.data[i]))
      continue;
    diff = std::max(diff, std::fabs(a.data[i] - b.data[i]));
    scale = std::max(scale, std::fabs(b.data[i]));
  }
  return std::isnan(diff) ? INFINITY : diff / scale;
}

// Adam, AdamW and RMSprop divide each gradient element by its own running
// magnitude: where the gradient is tiny against the rest of its tensor (it
// cancels, or is exactly 0 in double and 1e-9 in float), float rounding in
// g moves the param by up to lr either way. Their params are compared only
// where |g| >= 1e-3 max |g| and |g| >= 1e-6 (float's rounding in a sum of
// terms near 1), read from the reference's first moment (or RMSprop's mean
// square); the moments themselves, which hold g and g², are
// compared everywhere. `var`'s mask, or none when every element counts.
std::vector<bool> comparable(const Function &f, const std::string &var,
                             const TensorMap &updates) {
  const std::string &opt = f.train->optimizer;
  if (opt == "sgd" || !f.train->hyperValue("lr") ||
      std::find(f.train->params.begin(), f.train->params.end(), var) == f.train->params.end())
    return {};
  std::string slot = opt == "rmsprop" ? ".s." : ".m.";
  auto it = updates.find(f.name + "." + opt + slot + var);
  REQUIRE(it != updates.end());
  std::vector<double> g;
  for (double v : it->second.data)
    g.push_back(opt == "rmsprop" ? std::sqrt(std::fabs(v)) : std::fabs(v));
  double most = *std::max_element(g.begin(), g.end());
  std::vector<bool> mask;
  for (double v : g)
    mask.push_back(v >= std::max(1e-3 * most, 1e-6));
  return mask;
}

// difference() over the elements `mask` keeps (all when it is empty).
double difference(Tensor a, Tensor b, const std::vector<bool> &mask) {
  for (size_t i = 0; i < mask.size(); ++i)
    if (!mask[i])
      a.data[i] = b.data[i] = 0;
  return difference(a, b);
}

// `inputs` with every row from `rows` on zeroed, in the tensors that lead
// with the batch: the data a partial batch of `rows` rows stands for.
TensorMap zeroPadded(TensorMap inputs, int64_t batch, int64_t rows) {
  for (auto &[name, t] : inputs)
    if (t.type.rank() > 0 && t.type.dims[0] == batch)
      std::fill(t.data.begin() + (ptrdiff_t)(t.numel() / batch * rows), t.data.end(), 0.0);
  return inputs;
}

// The first `rows` rows of t when it leads with the batch, else t.
Tensor firstRows(const Tensor &t, int64_t batch, int64_t rows) {
  if (t.type.rank() == 0 || t.type.dims[0] != batch)
    return t;
  Dims dims = t.type.dims;
  dims[0] = rows;
  Tensor cut = Tensor::zeros(TensorType::f32(dims));
  std::copy(t.data.begin(), t.data.begin() + (ptrdiff_t)cut.data.size(), cut.data.begin());
  return cut;
}

// One compiled build of a generated model: fused or not.
struct Compiled {
  std::unique_ptr<Module> module;
  std::unique_ptr<JitModel> jit;
  dlc_context *ctx = nullptr;
  ~Compiled() { dlc_destroy(ctx); }
};

} // namespace

TEST_CASE("random models: verified passes, sound plans, and compiled code, fused and "
          "unfused, equal to the interpreter") {
  // DLC_RANDOM_MODELS=FIRST:COUNT runs other seeds (the suite runs 0:24).
  uint64_t first = 0, count = 24;
  if (const char *range = std::getenv("DLC_RANDOM_MODELS"))
    std::sscanf(range, "%" SCNu64 ":%" SCNu64, &first, &count);
  int grouped = 0; // entries whose unfused plan has a row group
  for (uint64_t seed = first; seed < first + count; ++seed) {
    fuzz::SeededChoices choices(seed);
    fuzz::GeneratedModel g = fuzz::generateModel(choices);
    CAPTURE(seed);
    INFO(g.source);
    std::ostringstream errs;
    std::unique_ptr<Module> before = compileModelSource("gen.dl", g.source, errs);
    REQUIRE_MESSAGE(before, errs.str());
    CHECK(fuzz::idempotenceProblem(*before) == "");
    Compiled builds[2];
    for (bool fused : {true, false}) {
      Compiled &c = builds[fused ? 0 : 1];
      c.module = cloneModule(*before);
      // Unfused, every run of calls over rows that keeps a buffer to itself
      // is a row group of one-row chunks.
      PipelineOptions opts = fused ? PipelineOptions{} : fuzz::unfusedInRowGroups();
      REQUIRE(fuzz::pipelineProblem(*c.module, opts) == "");
      for (const auto &f : c.module->functions)
        grouped += !f->plan.groups.empty();
      std::string error;
      c.jit = jitCompile(*c.module, CodegenOptions{}, error);
      REQUIRE_MESSAGE(c.jit, error);
      c.ctx = dlc_create(c.jit->desc(), 0);
      REQUIRE(c.ctx);
    }
    const Module &m = *builds[0].module;
    TensorMap inputs = fuzz::generatedInputs(*before, g, seed);
    TensorMap start = fuzz::testVars(m, seed); // with the optimizer's state
    CHECK(fuzz::semanticsProblem(*before, m, inputs, start) == "");
    for (Compiled &c : builds) {
      CAPTURE(c.module->functions[0]->plan.fused);
      TensorMap vars = start;
      writeVars(c.ctx, vars);
      // Predict first, then each train entry in order, each from the state
      // the previous one left (compiled state carried into the interpreter).
      for (bool train : {false, true})
        for (const auto &f : m.functions) {
          if (f->isTrain() != train)
            continue;
          CAPTURE(f->name);
          InterpResult want = interpret(*f, inputs, vars);
          TensorMap got = runEntry(c.ctx, *f, inputs);
          for (auto &[name, t] : want.outputs) {
            CAPTURE(name);
            CHECK(difference(got.at(name), t) <= 1e-5);
          }
          // A partial batch (computed on its rows alone when the entry is
          // row independent, else staged) means the rows of the zero-padded
          // batch.
          const int64_t batch = dlc_model(c.ctx)->batch;
          if (!train && batch > 1)
            for (int64_t rows : {int64_t(1), batch - 1}) {
              CAPTURE(rows);
              InterpResult part = interpret(*f, zeroPadded(inputs, batch, rows), vars);
              TensorMap gotRows = runEntry(c.ctx, *f, inputs, rows);
              for (auto &[name, t] : part.outputs) {
                CAPTURE(name);
                CHECK(difference(gotRows.at(name), firstRows(t, batch, rows)) <= 1e-5);
              }
            }
          TensorMap after = readVars(c.ctx, vars);
          for (auto &[var, t] : want.updates) {
            CAPTURE(var);
            CHECK(difference(after.at(var), t, comparable(*f, var, want.updates)) <= 1e-5);
          }
          vars = after;
        }
    }
  }
  // The suite's seeds make row groups: the chunked code is compared too.
  MESSAGE(grouped << " entries in row groups");
  if (first == 0 && count >= 24)
    CHECK(grouped > 0);
}
