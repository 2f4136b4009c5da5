// Graph clean-up. For now dead-node elimination only: nodes that no output,
// update, grad or loss depends on are dropped from every function.
#include "passes/Simplify.h"

namespace dlc {

bool runSimplify(Module &m) {
  size_t removed = 0;
  for (auto &f : m.functions)
    removed += f->removeDeadNodes();
  return removed != 0;
}

} // namespace dlc
