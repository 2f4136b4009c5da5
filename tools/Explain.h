// `dlc explain FILE -o page.html`: one self-contained HTML page (no network,
// no external script) that follows a model from its DSL lines to machine
// code: the source, the IR after each pass, the fused kernels, the memory
// plan drawn as buffers over time, each kernel's assembly and the graph.
// Everything that came from a DSL line carries that line (data-locs), so a
// click on a line highlights what it became in every view, and a click on
// an IR, kernel or assembly line leads back to its line.
#pragma once

#include "codegen/Codegen.h"
#include "ir/Graph.h"
#include "passes/Pipeline.h"

#include <string>

namespace dlc {

struct ExplainInput {
  std::string path;   // the model file, as its locations name it
  std::string source; // its text
  PipelineOptions pipeline;
  CodegenOptions codegen;
};

// Runs the pipeline on `m` (fresh from the frontend), pass by pass, and
// compiles it to assembly; returns the page, or "" with `error` set.
std::string explainPage(const ExplainInput &in, Module &m, std::string &error);

} // namespace dlc
