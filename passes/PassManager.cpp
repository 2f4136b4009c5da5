#include "passes/PassManager.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include <fmt/ostream.h>

#include <chrono>
#include <iostream>

namespace dlc {

bool PassManager::hasPass(const std::string &name) const {
  for (auto &p : passes_)
    if (p.name == name)
      return true;
  return false;
}

bool PassManager::run(Module &m) {
  std::ostream &out = opts_.dumps ? *opts_.dumps : std::cerr;
  std::vector<std::pair<std::string, double>> times;
  bool stopped = false;
  if (opts_.verifyEach)
    verifyOrThrow(m, "the frontend");
  for (const Pass &p : passes_) {
    if (opts_.printBeforeAll || opts_.printBefore.count(p.name))
      fmt::print(out, "; *** IR before {} ***\n{}\n", p.name, printModule(m));
    auto start = std::chrono::steady_clock::now();
    bool changed = p.run(m);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    times.push_back({p.name, secs});
    if (opts_.verifyEach)
      verifyOrThrow(m, p.name);
    if (opts_.printAfterAll || opts_.printAfter.count(p.name)) {
      if (changed)
        fmt::print(out, "; *** IR after {} ***\n{}\n", p.name,
                   p.print ? p.print(m) : printModule(m));
      else
        fmt::print(out, "; *** IR after {} *** (unchanged)\n\n", p.name);
    }
    if (p.name == opts_.stopAfter) {
      stopped = true;
      break;
    }
  }
  if (opts_.timePasses) {
    double total = 0;
    for (auto &t : times)
      total += t.second;
    fmt::print(out, "; pass timings\n");
    for (auto &[name, secs] : times)
      fmt::print(out, ";   {:<12} {:9.3f} ms  {:5.1f}%\n", name, secs * 1e3,
                 total > 0 ? 100 * secs / total : 0.0);
  }
  return !stopped;
}

} // namespace dlc
