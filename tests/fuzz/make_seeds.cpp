// Writes the fuzz targets' seed inputs that are not files in the source
// tree (tools/fuzz.sh runs it into the corpus directories):
//   fuzz_seeds models DIR N        N random valid models (tests/fuzz/ModelGen.h,
//                                  seeds 0 to N - 1): gen_K.dl
//   fuzz_seeds ir DIR FILE.dl...   each model's IR after the frontend, after
//                                  the graph passes, and with its plans
//                                  (after memory planning): NAME.ir,
//                                  NAME.opt.ir, NAME.plan.ir; files over
//                                  16 KB are left out (every mutation of a
//                                  large seed is slow, and small ones hold
//                                  the same syntax)
//   fuzz_seeds checkpoint DIR      checkpoints of the toy model that the
//                                  checkpoint target loads: toy.ckpt,
//                                  toy_host.ckpt (with a host state),
//                                  toy_v1.ckpt (format version 1)
#include "frontend/Frontend.h"
#include "ir/Printer.h"
#include "passes/Pipeline.h"
#include "runtime/dlc_runtime.h"
#include "tests/fuzz/CheckpointBytes.h"
#include "tests/fuzz/ModelGen.h"
#include "tests/unit/runtime_test_support.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

using namespace dlc;

namespace {

bool write(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return bool(out);
}

// The module after the passes up to `stop` ("" for none).
std::string stage(const std::string &path, const std::string &stop, std::ostream &errs) {
  std::unique_ptr<Module> m = compileModelFile(path, errs);
  if (!m)
    return "";
  if (!stop.empty()) {
    PassOptions o;
    o.stopAfter = stop;
    PassManager pm(o);
    addDefaultPipeline(pm);
    pm.run(*m);
  }
  return printModule(*m);
}

} // namespace

int main(int argc, char **argv) {
  std::string mode = argc > 2 ? argv[1] : "";
  if (mode == "checkpoint" && argc == 3) {
    // The toy model as created, saved without and with a host state,
    // and as version 1 wrote it.
    std::string dir = argv[2];
    toy::ModelBuilder b("toy", toy::kBatch);
    toy::buildToy(b);
    dlc_context *ctx = dlc_create(&b.desc, 1);
    const char host[] = "epoch 3, step 120";
    int rc = !ctx ? DLC_ERR_NOMEM
                  : dlc_save(ctx, (dir + "/toy.ckpt").c_str()) != DLC_OK
                      ? DLC_ERR_IO
                      : dlc_save_host(ctx, (dir + "/toy_host.ckpt").c_str(), host, sizeof host);
    if (rc == DLC_OK)
      toy::writeBytes(dir + "/toy_v1.ckpt", fuzz::asVersion1(toy::readBytes(dir + "/toy.ckpt")));
    else
      std::cerr << "fuzz_seeds: " << (ctx ? dlc_error(ctx) : "cannot create the toy model")
                << "\n";
    dlc_destroy(ctx);
    return rc == DLC_OK ? 0 : 1;
  }
  if (mode == "models" && argc == 4) {
    int n = std::atoi(argv[3]);
    for (int k = 0; k < n; ++k) {
      fuzz::SeededChoices choices((uint64_t)k);
      if (!write(std::string(argv[2]) + "/gen_" + std::to_string(k) + ".dl",
                 fuzz::generateModel(choices).source))
        return 1;
    }
    return 0;
  }
  if (mode != "ir") {
    std::cerr << "usage: fuzz_seeds models DIR N | fuzz_seeds ir DIR FILE.dl... | "
                 "fuzz_seeds checkpoint DIR\n";
    return 2;
  }
  // Files that do not compile (error examples) are skipped: the frontend
  // target gets those as text.
  std::string dir = argv[2];
  struct Stage {
    const char *stop, *suffix;
  };
  const Stage stages[] = {{"", ".ir"}, {"simplify", ".opt.ir"}, {"memplan", ".plan.ir"}};
  int written = 0;
  std::ostringstream ignored;
  for (int i = 3; i < argc; ++i) {
    std::string name = std::filesystem::path(argv[i]).stem().string();
    for (const Stage &s : stages) {
      std::string text = stage(argv[i], s.stop, ignored);
      if (!text.empty() && text.size() <= 16384 && write(dir + "/" + name + s.suffix, text))
        ++written;
    }
  }
  std::cout << "fuzz_seeds: " << written << " IR files in " << dir << "\n";
  return written ? 0 : 1;
}
