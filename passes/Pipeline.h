// The compiler's pass pipeline, as one readable list (passes/Pipeline.cpp).
#pragma once

#include "passes/MemoryPlan.h"
#include "passes/PassManager.h"

namespace dlc {

struct PipelineOptions {
  bool fusion = true; // false: --no-fusion, one node per kernel
  MemoryPlanOptions memplan;
};

// Adds dlc's passes, in order, to `pm`.
void addDefaultPipeline(PassManager &pm, const PipelineOptions &opts = {});

// Runs only the passes that turn a finished graph into the buffer IR codegen
// reads (fusion, memory planning): for tests that build graphs by hand.
void planForCodegen(Module &m, const PipelineOptions &opts = {});

} // namespace dlc
