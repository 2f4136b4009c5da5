#include "codegen/DebugInfo.h"

#include <llvm/BinaryFormat/Dwarf.h>
#include <llvm/IR/Module.h>

#include <filesystem>

using namespace llvm;

namespace dlc::codegen {

namespace {
// The prelude is compiled into dlc; its locations name it by this file name.
const char *const kPreludeName = "prelude.dl";
} // namespace

DebugInfo::DebugInfo(llvm::Module &mod) : mod_(mod), dib_(mod) {
  std::error_code ec;
  std::string cwd = std::filesystem::current_path(ec).string();
  DIFile *unitFile = dib_.createFile(mod.getName(), ec ? "" : cwd);
  unit_ = dib_.createCompileUnit(dwarf::DW_LANG_C99, unitFile, "dlc", /*isOptimized=*/true,
                                 "", 0);
  kernelType_ = dib_.createSubroutineType(dib_.getOrCreateTypeArray({}));
  mod_.addModuleFlag(llvm::Module::Warning, "Debug Info Version", DEBUG_METADATA_VERSION);
  // DWARF 4: Debian 12's valgrind (3.19) refuses a library with DWARF 5's
  // sections as corrupt, and callgrind is how a model's kernels are
  // profiled; gdb and perf read either.
  mod_.addModuleFlag(llvm::Module::Warning, "Dwarf Version", 4);
}

DIFile *DebugInfo::file(const std::string &name) {
  DIFile *&f = files_[name];
  if (!f) {
    // A relative path is relative to where dlc ran, as the compiler saw it.
    std::error_code ec;
    std::string dir = name == kPreludeName || std::filesystem::path(name).is_absolute()
                          ? ""
                          : std::filesystem::current_path(ec).string();
    f = dib_.createFile(name, dir);
  }
  return f;
}

void DebugInfo::beginKernel(llvm::Function *fn, const std::vector<const Node *> &nodes) {
  const SourceLoc *first = nullptr;
  for (const Node *n : nodes)
    if (n->loc.known()) {
      first = &n->loc;
      break;
    }
  DIFile *f = first ? file(*first->file) : unit_->getFile();
  unsigned line = first ? (unsigned)first->line : 0;
  kernel_ = dib_.createFunction(f, fn->getName(), fn->getName(), f, line, kernelType_, line,
                                DINode::FlagPrototyped | DINode::FlagArtificial,
                                DISubprogram::SPFlagDefinition |
                                    DISubprogram::SPFlagLocalToUnit |
                                    DISubprogram::SPFlagOptimized);
  fn->setSubprogram(kernel_);
  scopes_.clear();
  scopes_[f] = kernel_;
}

DebugLoc DebugInfo::at(const Node *n) {
  LLVMContext &c = mod_.getContext();
  if (!n || !n->loc.known())
    return DILocation::get(c, kernel_->getLine(), 0, kernel_);
  DIFile *f = file(*n->loc.file);
  // A line of another file than the kernel's sits in a lexical block of
  // that file (a fused kernel of prelude and model lines).
  DIScope *&scope = scopes_[f];
  if (!scope)
    scope = dib_.createLexicalBlockFile(kernel_, f);
  return DILocation::get(c, (unsigned)n->loc.line, (unsigned)n->loc.col, scope);
}

void DebugInfo::finish() { dib_.finalize(); }

} // namespace dlc::codegen
