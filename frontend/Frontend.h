// The frontend's one entry point: DSL source in, graph IR out.
#pragma once

#include "ir/Graph.h"

#include <map>
#include <memory>
#include <ostream>
#include <string>

namespace dlc {

struct FrontendOptions {
  // Overrides of the model header's compile-time constants (-Dbatch=32).
  std::map<std::string, int64_t> constants;
  // Each train entry also outputs the model's first `output`, after its
  // loss and under the same name, computed by the entry's own forward pass
  // (dropout active, from the variables before the update), when that
  // output is a computed f32 [batch, N] tensor (class scores) that reads no
  // input the loss does not: `dlc train` counts the batch's correct
  // predictions from it, as Keras reports accuracy, at the cost of at most
  // a softmax per step instead of a second pass over the data. Off by
  // default: it adds an argument to the generated library's train functions.
  bool scoresInTrainEntries = false;
  // The resource guard: a program whose lowering makes more operations is
  // refused ("the model is too large"). Only a fuzzer, which would spend its
  // time unrolling loops, lowers it.
  size_t maxNodes = 250000;
};

// Lexes, parses, checks and lowers `text` (the contents of `path`) together
// with the built-in prelude. Returns the module — one Function "predict" when
// the model has outputs, one per `train` entry outputting its loss (and the
// scores of FrontendOptions::scoresInTrainEntries), each holding only the
// nodes it depends on — or nullptr after writing every diagnostic to `errs` as
// "file:line:col: error: message", the source line, and a caret.
std::unique_ptr<Module> compileModelSource(const std::string &path,
                                           const std::string &text,
                                           std::ostream &errs,
                                           const FrontendOptions &opts = {});

// Reads `path` and calls compileModelSource; an unreadable file is a
// diagnostic too.
std::unique_ptr<Module> compileModelFile(const std::string &path,
                                         std::ostream &errs,
                                         const FrontendOptions &opts = {});

// `--emit=ast`: the parsed syntax tree, one node per line, indented.
bool dumpAst(const std::string &path, std::ostream &out, std::ostream &errs);

// The prelude's source text and the name its locations use ("prelude.dl").
const std::string &preludeSource();
const char *preludeName();

} // namespace dlc
