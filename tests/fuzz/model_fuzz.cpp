// Fuzz target "model": the fuzzer's bytes drive the random model generator
// (tests/fuzz/ModelGen.h) through FuzzedDataProvider, so every input is a
// valid model and the search explores layer stacks, shapes, losses and
// optimizers rather than syntax. Each model goes through the frontend and
// the pipeline, fused and unfused, with the verifier after every pass.
// What must hold, beyond ASan and UBSan staying quiet:
//   - the frontend accepts the model (it is valid by construction);
//   - both pipelines pass the verifier, replay soundly over their buffers
//     and round-trip through the text form, and the graph passes are a
//     fixed point on their own output (tests/fuzz/Invariants.h);
//   - the passes keep the meaning: every entry interpreted after them
//     equals the frontend's, and autodiff's gradients agree with finite
//     differences (semanticsProblem).
// Compiled code against the interpreter, which needs LLVM and is too slow
// per input here, is tests/e2e/random_models.cpp, on the same generator.
#include "frontend/Frontend.h"
#include "ir/Verifier.h"
#include "tests/fuzz/FuzzMain.h"
#include "tests/fuzz/Invariants.h"
#include "tests/fuzz/ModelGen.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <sstream>

using namespace dlc;

namespace {

class FuzzChoices : public fuzz::Choices {
public:
  explicit FuzzChoices(FuzzedDataProvider &fdp) : fdp_(fdp) {}
  uint64_t below(uint64_t n) override {
    return n <= 1 ? 0 : fdp_.ConsumeIntegralInRange<uint64_t>(0, n - 1);
  }

private:
  FuzzedDataProvider &fdp_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  FuzzChoices choices(fdp);
  fuzz::GeneratedModel g = fuzz::generateModel(choices);
  std::ostringstream errs;
  std::unique_ptr<Module> m = compileModelSource("gen.dl", g.source, errs);
  if (!m)
    fuzz::fail("the frontend refuses a generated model:\n" + errs.str(), g.source);
  if (auto problems = verifyModule(*m); !problems.empty())
    fuzz::fail("the frontend made a module the verifier refuses: " + problems[0], g.source);
  if (std::string p = fuzz::idempotenceProblem(*m); !p.empty())
    fuzz::fail(p, g.source);
  std::unique_ptr<Module> before = cloneModule(*m), unfused = cloneModule(*m);
  if (std::string p = fuzz::pipelineProblem(*m); !p.empty())
    fuzz::fail(p, g.source);
  if (std::string p = fuzz::pipelineProblem(*unfused, fuzz::unfusedInRowGroups()); !p.empty())
    fuzz::fail("(unfused) " + p, g.source);
  uint64_t seed = size;
  TensorMap inputs = fuzz::generatedInputs(*before, g, seed);
  TensorMap vars = fuzz::testVars(*m, seed); // with the optimizer's state
  if (std::string p = fuzz::semanticsProblem(*before, *m, inputs, vars); !p.empty())
    fuzz::fail(p, g.source);
  return 0;
}
