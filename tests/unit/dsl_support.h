// Helpers for tests that write models in the DSL: compile and verify one,
// and run its train step compiled and interpreted from the same state.
#pragma once

#include "frontend/Frontend.h"
#include "passes/OptimizerUpdate.h"
#include "passes/Simplify.h"
#include "tests/unit/grad_support.h"
#include "tests/unit/jit_support.h"

#include <doctest/doctest.h>

#include <sstream>

namespace dlc::testing {

// The model of `src` ("t.dl"), verified; with `quiet`, no warning either.
inline std::unique_ptr<Module> compileDsl(const std::string &src, bool quiet = false) {
  std::ostringstream errs;
  auto m = compileModelSource("t.dl", src, errs);
  REQUIRE_MESSAGE(m, errs.str());
  if (quiet)
    CHECK(errs.str() == "");
  CHECK(problems(*m) == "");
  return m;
}

// The train entry `step` of m after autodiff, the optimizer and simplify,
// interpreted and compiled from the same variables on `inputs`: the losses
// agree, and so does every param, which the step must move.
inline void checkTrainStepCompiled(Module &m, const TensorMap &inputs) {
  runAutodiff(m);
  runOptimizerUpdate(m);
  runSimplify(m);
  TensorMap vars = initVarsForTest(m, 3);
  int entry = 0;
  while (entry < (int)m.functions.size() && m.functions[entry]->name != "step")
    ++entry;
  REQUIRE(entry < (int)m.functions.size());
  InterpResult want = interpret(*m.functions[entry], inputs, vars);
  TensorMap got = jitRun(m, entry, inputs, vars);
  checkClose(got.at("loss").data, want.outputs.at("loss").data);
  for (const VarDecl &v : m.vars)
    if (v.trainable) {
      INFO("param " << v.name);
      CHECK(want.updates.at(v.name).data != initVarsForTest(m, 3).at(v.name).data);
      checkClose(vars.at(v.name).data, want.updates.at(v.name).data);
    }
}

} // namespace dlc::testing
