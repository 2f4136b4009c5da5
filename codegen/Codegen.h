// Codegen: graph IR to native code through LLVM 19. One kernel function per
// node (fusion later), specialised to static shapes; one entry function per
// Function; a constant dlc_model_desc (runtime/dlc_runtime.h) describing it.
// Nothing outside codegen/ includes LLVM headers.
//
// Symbols of a compiled model `m` (names are the DSL's, made C identifiers):
//   m__<entry>   dlc_entry_fn of each Function          (hidden in model.so)
//   m__desc      the constant dlc_model_desc            (hidden in model.so)
//   m__<entry>.<node>.<op>  one internal kernel per node
//   m__weights   the state block embedded by --weights  (private)
//   m_create, m_create_in, m_destroy, m_predict / m_<entry>, m_save, m_load,
//   m_get_param, m_set_param, m_error, m_metadata
//                the C API of model.so (codegen/README.md, generateHeader)
#pragma once

#include "ir/Graph.h"
#include "runtime/dlc_runtime.h"

#include <memory>
#include <string>

namespace dlc {

struct CodegenOptions {
  int optLevel = 3;     // 0..3: the new-PM default pipeline
  std::string cpu;      // "" = host CPU (AOT may target another)
  std::string features; // "" = host features
  // DWARF line tables mapping each kernel's code to DSL lines (always on for
  // -o; for --emit=asm they appear as .file/.loc directives, which
  // `dlc explain` reads).
  bool lineTables = false;
};

// A model compiled in-process with ORC LLJIT.
class JitModel {
public:
  virtual ~JitModel() = default;
  virtual const dlc_model_desc *desc() const = 0;
};

// Compiles `m` (after the pass pipeline) for this process. On failure returns
// nullptr and sets `error`.
std::unique_ptr<JitModel> jitCompile(const Module &m, const CodegenOptions &opts,
                                     std::string &error);

// `--emit=llvm` (optimised LLVM IR) and `--emit=asm` (host assembly).
bool emitLLVMText(const Module &m, const CodegenOptions &opts, std::string &out,
                  std::string &error);
bool emitAssembly(const Module &m, const CodegenOptions &opts, std::string &out,
                  std::string &error);

// AOT: writes `soPath` (object code linked with the runtime archive by the
// system C compiler) and the generated C header `headerPath`. With a
// `weightsPath` (a checkpoint of this model), the library embeds its
// variables and every context starts from them.
bool emitSharedLibrary(const Module &m, const CodegenOptions &opts,
                       const std::string &soPath, const std::string &headerPath,
                       const std::string &weightsPath, std::string &error);

// The generated header's text (`<model>.h`), prefixed by the model's name;
// `embeddedWeights` as the library was built.
std::string generateHeader(const Module &m, bool embeddedWeights = false);

} // namespace dlc
