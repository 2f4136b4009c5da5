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

#include <cmath>
#include <cstring>
#include <sstream>

using namespace dlc;
using namespace dlc::testing;

namespace {

// Runs entry `f` of the compiled model on `inputs`; its outputs by name.
TensorMap runEntry(dlc_context *ctx, const Function &f, const TensorMap &inputs) {
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
  int rc = dlc_run(ctx, e, inPtrs.data(), outPtrs.data(), m->batch > 0 ? m->batch : 1);
  REQUIRE_MESSAGE(rc == DLC_OK, dlc_error(ctx));
  TensorMap result;
  for (int k = 0; k < entry.n_outputs; ++k) {
    const dlc_tensor_desc &d = entry.outputs[k];
    Tensor t = Tensor::zeros(TensorType::f32(Dims(d.dims, d.dims + d.rank)));
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

} // namespace

TEST_CASE("random models: verified passes, sound plans, and compiled code equal to the "
          "interpreter") {
  constexpr uint64_t kModels = 40;
  for (uint64_t seed = 0; seed < kModels; ++seed) {
    fuzz::SeededChoices choices(seed);
    fuzz::GeneratedModel g = fuzz::generateModel(choices);
    CAPTURE(seed);
    INFO(g.source);
    std::ostringstream errs;
    std::unique_ptr<Module> m = compileModelSource("gen.dl", g.source, errs);
    REQUIRE_MESSAGE(m, errs.str());
    std::unique_ptr<Module> before = cloneModule(*m);
    REQUIRE(fuzz::pipelineProblem(*m) == "");
    TensorMap inputs = fuzz::generatedInputs(*before, g, seed);
    TensorMap vars = fuzz::testVars(*m, seed); // with the optimizer's state
    CHECK(fuzz::semanticsProblem(*before, *m, inputs, vars) == "");

    std::string error;
    std::unique_ptr<JitModel> jit = jitCompile(*m, CodegenOptions{}, error);
    REQUIRE_MESSAGE(jit, error);
    dlc_context *ctx = dlc_create(jit->desc(), 0);
    REQUIRE(ctx);
    writeVars(ctx, vars);
    // Predict first, then each train entry in order, each from the state
    // the previous one left (compiled state carried into the interpreter).
    for (bool train : {false, true})
      for (const auto &f : m->functions) {
        if (f->isTrain() != train)
          continue;
        CAPTURE(f->name);
        InterpResult want = interpret(*f, inputs, vars);
        TensorMap got = runEntry(ctx, *f, inputs);
        for (auto &[name, t] : want.outputs) {
          CAPTURE(name);
          CHECK(difference(got.at(name), t) <= 1e-5);
        }
        TensorMap after = readVars(ctx, vars);
        for (auto &[var, t] : want.updates) {
          CAPTURE(var);
          CHECK(difference(after.at(var), t) <= 1e-5);
        }
        vars = after;
      }
    dlc_destroy(ctx);
  }
}
