// Codegen's internal seams between its translation units. Only forward
// declarations of LLVM types here, so including this costs nothing; the TUs
// that implement these pull in the LLVM headers they need.
#pragma once

#include "codegen/Codegen.h"

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class Function;
class LLVMContext;
class Module;
class TargetMachine;
} // namespace llvm

namespace dlc::codegen {

class DebugInfo;

// Symbols of a compiled model (C identifiers; model and entry names are the
// DSL's): `<model>__<entry>` entry functions, `<model>__desc` the descriptor.
std::string entrySymbol(const Module &m, const Function &f);
std::string descSymbol(const Module &m);

// Lower.cpp: the whole model as one LLVM module: kernels, entry functions and
// the dlc_model_desc constant. Unoptimised; the caller picks the target.
// With `lineTables`, DWARF line info maps each kernel's code to DSL lines.
// `lanes`: floats per vector in the matmul tiles (vectorLanes).
std::unique_ptr<llvm::Module> lowerModule(const Module &m, llvm::LLVMContext &ctx,
                                          bool lineTables = false, int lanes = 8);

// FusedKernel.cpp: the function of call `call` of f's plan (ir/BufferIR.h),
// `void name(ptr, ...)` with one pointer per argument of the call.
// `debug` (may be null) receives the kernel's DSL lines. With `rowsOfBatch`
// > 0 (the batch), the kernel computes rows of a row-independent entry
// (ir/RowIndependence.h): `void name(ptr, ..., i64 rows)`, its loops over
// the batch dim bounded by rows.
//
// A kernel with enough work to share between threads (shareableKernel) is
// `void name(ptr, ..., [i64 rows,] i64 begin, i64 end)`: it computes the
// iterations [begin, end) of its outermost loop, `share.iterations` of them
// at a full batch (rows * iterations / batch with a row count), and the
// entry runs it through dlc_exec.parallel_for with `share.grain`.
struct KernelShare {
  int64_t iterations = 0; // 0: the kernel runs whole, on the calling thread
  int64_t grain = 1;
};

// Whether a kernel's work is cut between threads (KernelBuilder::loopShare):
// an elementwise kernel over its elements, a matmul over its result's rows,
// a reduction without an epilogue that keeps its outer dims over those
// (reductionShareable), patches over its windows. Any other anchor runs
// whole, as does a kernel that stores a hoisted value (every part would
// store it). Decided from the kernel alone, so calls that share a
// kernelSignature share the decision.
bool shareableKernel(const Kernel &k);

struct EmittedKernel {
  llvm::Function *fn = nullptr;
  KernelShare share;
};
EmittedKernel emitKernel(llvm::Module &mod, const Function &f, size_t call,
                         const std::string &name, DebugInfo *debug, int64_t rowsOfBatch,
                         int lanes);
// What the function of call `call` depends on, as text: its arguments' uses,
// and for each node its op, type, attributes, operands (local, argument or
// immediate) and where it is stored. Calls with equal signatures (and the
// same row count, or none) share one function, so a deep model's repeated
// layers are emitted once.
std::string kernelSignature(const Function &f, size_t call);

// Target.cpp: a TargetMachine for the host, or opts.cpu/features (validated:
// an unknown CPU or feature is an error, not LLVM's stderr warning).
std::unique_ptr<llvm::TargetMachine>
createTargetMachine(const CodegenOptions &opts, bool pic, std::string &error);
// Floats per vector register of the target: 16 with AVX-512, else 8 (AVX2;
// narrower targets split the vectors).
int vectorLanes(const llvm::TargetMachine &tm);
// Sets the module's data layout and triple, then runs the new-PM default
// pipeline of opts.optLevel.
bool optimizeModule(llvm::Module &mod, llvm::TargetMachine &tm, int optLevel,
                    std::string &error);
// Object files of a module for a shared library, optimised at
// opts.optLevel: one when the module is small, else one per part of it
// (llvm::SplitModule), each part optimised and compiled on its own thread
// in its own LLVMContext. The optimiser and the backend are nearly all of a
// large model's compile time; the parts link as one object would, their
// internal symbols made hidden. Kernels are noinline and the entries
// optnone, so a part loses nothing the whole module would have allowed.
// `tm` (PIC, from `opts`) compiles a module left whole; each part gets
// its own, as a TargetMachine serves one thread.
bool emitObjectFiles(llvm::Module &mod, llvm::TargetMachine &tm, const CodegenOptions &opts,
                     std::vector<std::string> &objects, std::string &error);
// Object code (assembly == false) or assembly text of an optimised module.
bool emitMachineCode(llvm::Module &mod, llvm::TargetMachine &tm, bool assembly,
                     std::string &out, std::string &error);
std::string moduleText(const llvm::Module &mod);

// Aot.cpp: the model-prefixed C API (`<m>_create`, `<m>_predict`, ...) as
// LLVM functions calling the runtime; false + error if a name collides.
// With `weights` (a state block, see loadStateImage), every new context
// starts from it instead of its initialisers.
bool addCApi(llvm::Module &mod, const Module &m, const std::vector<char> *weights,
             std::string &error);

} // namespace dlc::codegen
