// DWARF line tables for generated code, so `objdump -S`, `perf annotate` and
// gdb show the DSL line each instruction computes. Each kernel is a function
// whose lines are its nodes' (ir/SourceLoc.h); the code of a layer written in
// the prelude points at prelude.dl. A kernel shared by several calls of one
// signature (codegen/Lowering.h) keeps the lines of its first call.
#pragma once

#include "ir/Graph.h"

#include <llvm/IR/DIBuilder.h>
#include <llvm/IR/DebugLoc.h>

#include <map>
#include <string>
#include <vector>

namespace dlc::codegen {

class DebugInfo {
public:
  explicit DebugInfo(llvm::Module &mod);
  // Makes `fn` a function of the DSL: of the file and line of the first of
  // `nodes` with a known location.
  void beginKernel(llvm::Function *fn, const std::vector<const Node *> &nodes);
  // Where n is in the DSL, in the scope of the kernel begun last; the
  // kernel's own line when n has no location.
  llvm::DebugLoc at(const Node *n);
  // Completes the debug metadata; call once, after the last kernel.
  void finish();

private:
  llvm::Module &mod_;
  llvm::DIBuilder dib_;
  llvm::DICompileUnit *unit_ = nullptr;
  llvm::DISubroutineType *kernelType_ = nullptr;
  std::map<std::string, llvm::DIFile *> files_;
  llvm::DISubprogram *kernel_ = nullptr;
  std::map<llvm::DIFile *, llvm::DIScope *> scopes_; // of the current kernel, per file

  llvm::DIFile *file(const std::string &name);
};

} // namespace dlc::codegen
