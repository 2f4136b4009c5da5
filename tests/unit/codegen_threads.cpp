// Two contexts of one JIT-compiled model used from two threads at once: the
// header promises that all state is in the context, so each thread must get
// bit for bit what the same calls give when run alone.
#include "codegen/Codegen.h"
#include "frontend/Frontend.h"
#include "passes/Pipeline.h"
#include "runtime/dlc_runtime.h"

#include <doctest/doctest.h>

#include <cstring>
#include <sstream>
#include <thread>
#include <vector>

using namespace dlc;

namespace {

constexpr int64_t kBatch = 16, kPixels = 28 * 28, kClasses = 10;
constexpr int kSteps = 40;

// Trains `steps` steps on data derived from `seed`, predicting a partial
// batch after each; returns every loss and prediction in call order, or
// nothing on an error. No doctest assertions: it runs on other threads.
std::vector<float> workload(const dlc_model_desc *desc, uint64_t seed, int steps) {
  int step = dlc_find_entry(desc, "step"), predict = dlc_find_entry(desc, "predict");
  dlc_context *ctx = dlc_create(desc, seed);
  if (!ctx || step < 0 || predict < 0) {
    dlc_destroy(ctx);
    return {};
  }
  std::vector<float> x(kBatch * kPixels), probs(kBatch * kClasses), trace;
  std::vector<int32_t> y(kBatch);
  uint32_t s = uint32_t(seed) * 2654435761u + 1;
  for (int k = 0; k < steps; ++k) {
    for (float &v : x) {
      s = s * 1664525u + 1013904223u;
      v = float(s >> 8) / float(1u << 24);
    }
    for (int32_t &v : y)
      v = int32_t((s = s * 1664525u + 1013904223u) >> 28) % kClasses;
    float loss = 0;
    // The trainer's convention: the step takes x and y in the entry's order.
    const dlc_entry_desc &e = desc->entries[step];
    std::vector<const void *> in;
    for (int i = 0; i < e.n_inputs; ++i)
      in.push_back(desc->inputs[e.inputs[i]].dtype == DLC_F32 ? (const void *)x.data()
                                                                : (const void *)y.data());
    void *out[] = {&loss};
    const void *pin[] = {x.data()};
    void *pout[] = {probs.data()};
    if (dlc_run(ctx, step, in.data(), out, kBatch) != DLC_OK ||
        dlc_run(ctx, predict, pin, pout, kBatch - 3) != DLC_OK) {
      dlc_destroy(ctx);
      return {};
    }
    trace.push_back(loss);
    trace.insert(trace.end(), probs.begin(), probs.begin() + (kBatch - 3) * kClasses);
  }
  dlc_destroy(ctx);
  return trace;
}

} // namespace

TEST_CASE("codegen: two contexts of one model run on two threads at once") {
  FrontendOptions fo;
  fo.constants["batch"] = kBatch;
  std::ostringstream errs;
  auto m = compileModelFile(DLC_SOURCE_DIR "/examples/mnist_mlp.dl", errs, fo);
  REQUIRE_MESSAGE(m, errs.str());
  PassManager pm;
  addDefaultPipeline(pm);
  pm.run(*m);
  std::string error;
  auto jit = jitCompile(*m, {}, error);
  REQUIRE_MESSAGE(jit, error);
  const dlc_model_desc *desc = jit->desc();

  std::vector<float> aloneA = workload(desc, 1, kSteps), aloneB = workload(desc, 2, kSteps);
  REQUIRE(!aloneA.empty());
  REQUIRE(aloneA.size() == aloneB.size());
  REQUIRE(std::memcmp(aloneA.data(), aloneB.data(), aloneA.size() * sizeof(float)) != 0);
  std::vector<float> a, b;
  std::thread ta([&] { a = workload(desc, 1, kSteps); });
  std::thread tb([&] { b = workload(desc, 2, kSteps); });
  ta.join();
  tb.join();
  REQUIRE(a.size() == aloneA.size());
  REQUIRE(b.size() == aloneB.size());
  CHECK(std::memcmp(a.data(), aloneA.data(), a.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(b.data(), aloneB.data(), b.size() * sizeof(float)) == 0);
}
