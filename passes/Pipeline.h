// The compiler's pass pipeline, as one readable list (passes/Pipeline.cpp).
#pragma once

#include "passes/PassManager.h"

namespace dlc {

// Adds dlc's passes, in order, to `pm`.
void addDefaultPipeline(PassManager &pm);

} // namespace dlc
