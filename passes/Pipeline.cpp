// The whole pipeline, in order. Each pass is a passes/<Name>.h pair with one
// documented entry function. The graph passes come first; fusion and memory
// planning then build the buffer IR (ir/BufferIR.h) that codegen reads.
#include "passes/Pipeline.h"
#include "passes/Autodiff.h"
#include "passes/Fusion.h"
#include "passes/MemoryPlan.h"
#include "passes/OptimizerUpdate.h"
#include "passes/Simplify.h"

namespace dlc {

namespace {

std::string printAll(const Module &m, std::string (*print)(const Function &)) {
  std::string out;
  for (auto &f : m.functions)
    out += print(*f);
  return out;
}

} // namespace

void addDefaultPipeline(PassManager &pm, const PipelineOptions &opts) {
  pm.add({"autodiff", "append each train entry's adjoint graph (reverse mode)",
          runAutodiff});
  pm.add({"optimizer", "expand SGD/Adam updates into graph ops over params and state",
          runOptimizerUpdate});
  pm.add({"simplify", "CSE, constant folding, algebraic identities, dead nodes",
          runSimplify});
  pm.add({"fusion",
          opts.fusion ? "group nodes into kernels (epilogues, chains, hoisted scalars)"
                      : "one kernel per node (--no-fusion)",
          opts.fusion ? runFusion : runNoFusion,
          [](const Module &m) { return printAll(m, printFused); }});
  pm.add({"memplan", "schedule the kernels, give values buffers, place the arena",
          [memplan = opts.memplan](Module &m) { return runMemoryPlan(m, memplan); },
          [](const Module &m) { return printAll(m, printMemPlan); }});
}

void planForCodegen(Module &m, const PipelineOptions &opts) {
  opts.fusion ? runFusion(m) : runNoFusion(m);
  runMemoryPlan(m, opts.memplan);
}

} // namespace dlc
