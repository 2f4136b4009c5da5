// Fuzz target "ir": IR text (docs/IR.md, graph and buffer IR) through the
// parser, the verifier and, for a module the verifier accepts, the whole
// pass pipeline with the verifier after every pass, as `dlc FILE.ir` runs
// it. What must hold for any text, beyond ASan and UBSan staying quiet:
//   - the parser never throws; a refused text gets a located message
//     ("fuzz.ir:LINE:COL: error: ...");
//   - a module that parses and verifies prints and parses back to the same
//     text, goes through every pass without an internal error (whatever
//     the verifier accepts, the passes must handle), and after the pipeline
//     replays soundly over its buffers and round-trips again; the graph
//     passes give the same module when run again on their own output, as
//     `dlc` on its --emit=opt dump does (tests/fuzz/Invariants.h).
#include "ir/IRParser.h"
#include "ir/Verifier.h"
#include "tests/fuzz/FuzzMain.h"
#include "tests/fuzz/Invariants.h"

using namespace dlc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size), error;
  std::unique_ptr<Module> m = parseModuleText(text, "fuzz.ir", error);
  if (!m) {
    if (error.rfind("fuzz.ir:", 0) != 0 || error.find(": error: ") == std::string::npos)
      fuzz::fail("the IR was refused without a located error: '" + error + "'", text);
    return 0;
  }
  if (!verifyModule(*m).empty())
    return 0; // refused, with the verifier's reasons
  if (std::string p = fuzz::roundTripProblem(*m); !p.empty())
    fuzz::fail(p, text);
  if (fuzz::tooBigToPlan(*m))
    return 0;
  if (std::string p = fuzz::idempotenceProblem(*m); !p.empty())
    fuzz::fail(p, text);
  if (std::string p = fuzz::pipelineProblem(*m); !p.empty())
    fuzz::fail(p, text);
  return 0;
}
