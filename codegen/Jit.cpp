// In-process compilation with ORC LLJIT. LLJIT itself does not optimise, so
// the module goes through the same O3 pipeline as AOT before it is added.
// Generated code calls only libc/libm (expf, memcpy, ...), found by LLJIT's
// default process-symbols generator.
#include "codegen/Layout.h"
#include "codegen/Lowering.h"

#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

#include <fmt/format.h>

#include <mutex>

using namespace llvm;

namespace dlc {

namespace {

// ORC reports some failures (e.g. a symbol missing while materialising)
// through the session's reporter rather than the lookup's result; they are
// collected here so the caller sees them in its error string, not on stderr.
struct ReportedErrors {
  std::mutex mu;
  std::string text;
  void add(Error e) {
    std::lock_guard<std::mutex> lock(mu);
    if (!text.empty())
      text += "; ";
    text += toString(std::move(e));
  }
  std::string take() {
    std::lock_guard<std::mutex> lock(mu);
    return std::move(text);
  }
};

class OrcModel : public JitModel {
public:
  OrcModel(std::unique_ptr<orc::LLJIT> jit, std::shared_ptr<ReportedErrors> errors,
           const dlc_model_desc *desc)
      : jit_(std::move(jit)), errors_(std::move(errors)), desc_(desc) {}
  const dlc_model_desc *desc() const override { return desc_; }

private:
  std::unique_ptr<orc::LLJIT> jit_; // owns the code desc_ points into
  std::shared_ptr<ReportedErrors> errors_;
  const dlc_model_desc *desc_;
};

std::string withReported(std::string msg, ReportedErrors &errors) {
  std::string more = errors.take();
  return more.empty() ? msg : fmt::format("{} ({})", msg, more);
}

} // namespace

std::unique_ptr<JitModel> jitCompile(const Module &m, const CodegenOptions &opts,
                                     std::string &error) {
  std::unique_ptr<TargetMachine> tm = codegen::createTargetMachine(opts, false, error);
  if (!tm)
    return nullptr;
  if (error = codegen::memoryLimitProblem(m); !error.empty())
    return nullptr;
  auto ctx = std::make_unique<LLVMContext>();
  std::unique_ptr<llvm::Module> mod = codegen::lowerModule(m, *ctx, false, codegen::vectorLanes(*tm));
  if (!codegen::optimizeModule(*mod, *tm, opts.optLevel, error))
    return nullptr;

  // The JIT's own TargetMachine must match the one that optimised the IR.
  orc::JITTargetMachineBuilder jtmb(tm->getTargetTriple());
  jtmb.setCPU(tm->getTargetCPU().str());
  jtmb.setFeatures(tm->getTargetFeatureString());
  jtmb.setCodeGenOptLevel(tm->getOptLevel());
  Expected<std::unique_ptr<orc::LLJIT>> jit =
      orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(jtmb)).create();
  if (!jit) {
    error = fmt::format("cannot create the JIT: {}", toString(jit.takeError()));
    return nullptr;
  }
  auto errors = std::make_shared<ReportedErrors>();
  (*jit)->getExecutionSession().setErrorReporter(
      [errors](Error e) { errors->add(std::move(e)); });

  if (Error e = (*jit)->addIRModule(orc::ThreadSafeModule(std::move(mod), std::move(ctx)))) {
    error = withReported(
        fmt::format("cannot add the model to the JIT: {}", toString(std::move(e))), *errors);
    return nullptr;
  }
  // The first lookup materialises (compiles and links) the whole module.
  Expected<orc::ExecutorAddr> addr = (*jit)->lookup(codegen::descSymbol(m));
  if (!addr) {
    error = withReported(fmt::format("JIT compilation of model '{}' failed: {}", m.name,
                                     toString(addr.takeError())),
                         *errors);
    return nullptr;
  }
  auto *desc = addr->toPtr<const dlc_model_desc *>();
  return std::make_unique<OrcModel>(std::move(*jit), std::move(errors), desc);
}

} // namespace dlc
