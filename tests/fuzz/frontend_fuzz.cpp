// Fuzz target "frontend": DSL text through lexing, parsing and lowering and,
// for a program that lowers, the verifier and the whole pass pipeline
// (autodiff, optimizer, simplify, fusion, memory planning) with the verifier
// after every pass. Codegen is left out: LLVM would cost far more per input
// than everything before it. What must hold for any text, beyond ASan and
// UBSan staying quiet:
//   - a refused program says why: at least one "error:" diagnostic;
//   - a lowered module verifies, goes through every pass without an
//     internal error, replays soundly over its buffers and prints and parses
//     back to the same text, and the graph passes give the same module
//     when run again on their own output (tests/fuzz/Invariants.h).
#include "frontend/Frontend.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "tests/fuzz/FuzzMain.h"
#include "tests/fuzz/Invariants.h"

#include <sstream>

using namespace dlc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  std::ostringstream errs;
  // Mutated loops unroll thousands of times: lowering them to the default
  // guard of 250 000 operations took most of the target's time, and the
  // pipeline takes only modules of at most 600 nodes (tooBigToPlan). The
  // guard's refusal is exercised all the same, sooner.
  FrontendOptions opts;
  opts.maxNodes = 4000;
  std::unique_ptr<Module> m = compileModelSource("fuzz.dl", text, errs, opts);
  if (!m) {
    if (errs.str().find("error:") == std::string::npos)
      fuzz::fail("the program was refused without an error message", text);
    return 0;
  }
  if (auto problems = verifyModule(*m); !problems.empty())
    fuzz::fail("the frontend made a module the verifier refuses: " + problems[0], text);
  if (fuzz::tooBigToPlan(*m))
    return 0;
  if (std::string p = fuzz::idempotenceProblem(*m); !p.empty())
    fuzz::fail(p, text);
  if (std::string p = fuzz::pipelineProblem(*m); !p.empty())
    fuzz::fail(p, text);
  return 0;
}
