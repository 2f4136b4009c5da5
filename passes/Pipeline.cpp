// The whole graph-level pipeline, in order. Each pass is a passes/<Name>.h
// pair with one documented entry function; fusion and memory planning will
// slot in after simplify.
#include "passes/Pipeline.h"
#include "passes/Autodiff.h"
#include "passes/OptimizerUpdate.h"
#include "passes/Simplify.h"

namespace dlc {

void addDefaultPipeline(PassManager &pm) {
  pm.add({"autodiff", "append each train entry's adjoint graph (reverse mode)",
          runAutodiff});
  pm.add({"optimizer", "expand SGD/Adam updates into graph ops over params and state",
          runOptimizerUpdate});
  pm.add({"simplify", "remove dead nodes", runSimplify});
}

} // namespace dlc
