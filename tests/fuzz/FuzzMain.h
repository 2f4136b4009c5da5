// What the fuzz targets share: reporting a broken invariant (libFuzzer
// saves the input that made a target abort), and the size beyond which a
// module is not taken through the passes.
#pragma once

#include "ir/Graph.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace dlc::fuzz {

[[noreturn]] inline void fail(const std::string &what, const std::string &input) {
  std::fprintf(stderr, "\n*** invariant broken: %s\n*** input:\n%s\n", what.c_str(),
               input.c_str());
  std::abort();
}

// A 4 KB program can unroll a loop 10 000 times, and even the LSTM example
// (1088 nodes) takes seconds through the passes and the checks under the
// sanitizers: each such input would slow the search a hundredfold. Larger
// modules go through the frontend or the parser and the verifier only; the
// time the pipeline takes on them is the business of the resource limits,
// and the examples' tests cover them.
inline bool tooBigToPlan(const Module &m) {
  size_t nodes = 0;
  for (auto &f : m.functions)
    nodes += f->nodes.size();
  return nodes > 600;
}

} // namespace dlc::fuzz
