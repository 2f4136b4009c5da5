// A pass manager in the LLVM habit: named passes run in order, with
// --print-before/--print-after/--print-after-all, --verify-each,
// --stop-after and --time-passes hooked in this one place.
#pragma once

#include "ir/Graph.h"

#include <functional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace dlc {

struct PassOptions {
  std::set<std::string> printBefore, printAfter;
  bool printBeforeAll = false, printAfterAll = false;
  bool verifyEach = false;
  bool timePasses = false;
  std::string stopAfter;          // "" = run every pass
  std::ostream *dumps = nullptr;  // where printing goes (stderr by default)
};

struct Pass {
  std::string name;        // as used by --print-after=NAME
  std::string description; // one line, for `dlc --list-passes`
  std::function<bool(Module &)> run; // returns whether it changed the module
  // What --print-after shows; the graph IR text when unset. Fusion and
  // memory planning print the buffer IR they build.
  std::function<std::string(const Module &)> print = nullptr;
};

class PassManager {
public:
  explicit PassManager(PassOptions opts = {}) : opts_(std::move(opts)) {}

  void add(Pass p) { passes_.push_back(std::move(p)); }
  const std::vector<Pass> &passes() const { return passes_; }
  bool hasPass(const std::string &name) const;

  // Runs the passes in order. Returns false when --stop-after stopped it
  // early (the module is then the state after that pass).
  bool run(Module &m);

private:
  PassOptions opts_;
  std::vector<Pass> passes_;
};

} // namespace dlc
