// The target side of codegen: TargetMachine creation (host or a named CPU),
// the new-PM optimisation pipeline, and object/assembly emission. Shared by
// the JIT, the AOT path and the --emit dumps so they compile identically.
#include "codegen/Layout.h"
#include "codegen/Lowering.h"

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/Bitcode/BitcodeWriter.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/SubtargetFeature.h>
#include <llvm/Transforms/Utils/Cloning.h>
#include <llvm/Transforms/Utils/ValueMapper.h>

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <thread>

using namespace llvm;

namespace dlc::codegen {

namespace {

void initNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    InitializeNativeTarget();
    InitializeNativeTargetAsmPrinter();
    InitializeNativeTargetAsmParser();
  });
}

std::string hostFeatures() {
  SubtargetFeatures f;
  for (auto &kv : sys::getHostCPUFeatures())
    f.AddFeature(kv.getKey(), kv.getValue());
  return f.getString();
}

// LLVM only warns on stderr about an unknown CPU or feature and then builds
// generic code; a user who asked for one deserves an error instead.
bool validate(const Target &t, const std::string &triple, const std::string &cpu,
              const std::string &features, std::string &error) {
  std::unique_ptr<MCSubtargetInfo> sti(t.createMCSubtargetInfo(triple, "", ""));
  if (!sti) {
    error = fmt::format("no subtarget information for {}", triple);
    return false;
  }
  if (!cpu.empty() && !sti->isCPUStringValid(cpu)) {
    error = fmt::format("unknown CPU '{}' for target {}", cpu, triple);
    return false;
  }
  SmallVector<StringRef, 16> parts;
  StringRef(features).split(parts, ',', -1, false);
  for (StringRef p : parts) {
    StringRef name = p.trim();
    if (name.consume_front("+") || name.consume_front("-")) {
      bool known = false;
      for (const SubtargetFeatureKV &kv : sti->getAllProcessorFeatures())
        known |= name == kv.Key;
      if (known)
        continue;
    }
    error = fmt::format("unknown CPU feature '{}' (expected +name or -name)", p.str());
    return false;
  }
  return true;
}

} // namespace

std::unique_ptr<TargetMachine> createTargetMachine(const CodegenOptions &opts, bool pic,
                                                   std::string &error) {
  initNativeTarget();
  std::string triple = sys::getProcessTriple();
  const Target *t = TargetRegistry::lookupTarget(triple, error);
  if (!t)
    return nullptr;
  if (!validate(*t, triple, opts.cpu, opts.features, error))
    return nullptr;
  std::string cpu = opts.cpu.empty() ? sys::getHostCPUName().str() : opts.cpu;
  // A named CPU brings its own feature set; only the host needs probing.
  std::string features = opts.features;
  if (opts.cpu.empty() && opts.features.empty())
    features = hostFeatures();
  CodeGenOptLevel level = opts.optLevel <= 0   ? CodeGenOptLevel::None
                          : opts.optLevel == 1 ? CodeGenOptLevel::Less
                          : opts.optLevel == 2 ? CodeGenOptLevel::Default
                                               : CodeGenOptLevel::Aggressive;
  std::unique_ptr<TargetMachine> tm(t->createTargetMachine(
      triple, cpu, features, TargetOptions{},
      pic ? std::optional<Reloc::Model>(Reloc::PIC_) : std::nullopt, std::nullopt, level));
  if (!tm)
    error = fmt::format("cannot create a target machine for {} ({})", triple, cpu);
  return tm;
}

int vectorLanes(const TargetMachine &tm) {
  // Explicit 512-bit vectors go to zmm registers whatever the target's
  // preferred width for the loop vectoriser (X86 legalises them as 512 bits
  // unless a function asks for less).
  return tm.getMCSubtargetInfo()->checkFeatures("+avx512f") ? 16 : 8;
}

bool optimizeModule(llvm::Module &mod, TargetMachine &tm, int optLevel,
                    std::string &error) {
  mod.setDataLayout(tm.createDataLayout());
  mod.setTargetTriple(tm.getTargetTriple().str());
  // Without the TargetMachine the pass builder has no cost model and the
  // vectoriser does nothing.
  LoopAnalysisManager lam;
  FunctionAnalysisManager fam;
  CGSCCAnalysisManager cgam;
  ModuleAnalysisManager mam;
  PassBuilder pb(&tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  OptimizationLevel level = optLevel <= 0   ? OptimizationLevel::O0
                            : optLevel == 1 ? OptimizationLevel::O1
                            : optLevel == 2 ? OptimizationLevel::O2
                                            : OptimizationLevel::O3;
  ModulePassManager mpm = optLevel <= 0 ? pb.buildO0DefaultPipeline(level)
                                        : pb.buildPerModuleDefaultPipeline(level);
  mpm.run(mod, mam);
  return true;
}

bool emitMachineCode(llvm::Module &mod, TargetMachine &tm, bool assembly,
                     std::string &out, std::string &error) {
  SmallVector<char, 0> buf;
  raw_svector_ostream os(buf);
  legacy::PassManager pm;
  // addPassesToEmitFile returns true when it *cannot* emit.
  if (tm.addPassesToEmitFile(pm, os, nullptr,
                             assembly ? CodeGenFileType::AssemblyFile
                                      : CodeGenFileType::ObjectFile)) {
    error = "the target machine cannot emit this file type";
    return false;
  }
  pm.run(mod);
  out.assign(buf.begin(), buf.end());
  return true;
}

namespace {

// The module cut into `parts` modules, as bitcode, of about equal work for
// the optimiser and the code generator: the functions with bodies, largest
// first, each to the part with the fewest instructions so far. (SplitModule
// places them by a hash of their names: it left the autoencoder's parts at
// 11,427 and 3,847 instructions, and the compile waited for the larger.)
// Every definition becomes visible to the other parts, hidden, so the
// library still exports only its API; global variables stay in part 0.
std::vector<SmallVector<char, 0>> splitBalanced(llvm::Module &mod, unsigned parts) {
  std::vector<std::pair<unsigned, llvm::Function *>> bySize;
  for (GlobalValue &gv : mod.global_values()) {
    if (gv.isDeclaration() || gv.hasAppendingLinkage())
      continue;
    if (gv.hasLocalLinkage()) {
      gv.setLinkage(GlobalValue::ExternalLinkage);
      gv.setVisibility(GlobalValue::HiddenVisibility);
    }
    if (!gv.hasName())
      gv.setName("dlc.unnamed");
    if (auto *f = dyn_cast<llvm::Function>(&gv))
      bySize.push_back({f->getInstructionCount(), f});
  }
  std::stable_sort(bySize.begin(), bySize.end(),
                   [](const auto &a, const auto &b) { return a.first > b.first; });
  std::vector<uint64_t> load(parts, 0);
  DenseMap<const GlobalValue *, unsigned> partOf;
  for (auto [size, f] : bySize) {
    unsigned least = unsigned(std::min_element(load.begin(), load.end()) - load.begin());
    partOf[f] = least;
    load[least] += size + 1;
  }
  std::vector<SmallVector<char, 0>> bitcode(parts);
  for (unsigned i = 0; i < parts; ++i) {
    ValueToValueMapTy map;
    std::unique_ptr<llvm::Module> part = CloneModule(mod, map, [&](const GlobalValue *gv) {
      auto it = partOf.find(gv);
      return (it == partOf.end() ? 0 : it->second) == i;
    });
    raw_svector_ostream os(bitcode[i]);
    WriteBitcodeToFile(*part, os);
  }
  return bitcode;
}

} // namespace

bool emitObjectFiles(llvm::Module &mod, TargetMachine &tm, const CodegenOptions &opts,
                     std::vector<std::string> &objects, std::string &error) {
  // Below this many functions a split costs more (bitcode round trips,
  // target machines) than the second core saves.
  constexpr size_t kMinFunctionsToSplit = 16;
  unsigned parts = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  if (mod.getFunctionList().size() < kMinFunctionsToSplit)
    parts = 1;
  if (parts == 1) {
    objects.assign(1, "");
    return optimizeModule(mod, tm, opts.optLevel, error) &&
           emitMachineCode(mod, tm, false, objects[0], error);
  }
  // Each part goes through bitcode into a context of its own: an
  // LLVMContext is used by one thread at a time.
  std::vector<SmallVector<char, 0>> bitcode = splitBalanced(mod, parts);
  objects.assign(bitcode.size(), "");
  std::vector<std::string> errors(bitcode.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < bitcode.size(); ++i)
    threads.emplace_back([&, i] {
      LLVMContext ctx;
      Expected<std::unique_ptr<llvm::Module>> part = parseBitcodeFile(
          MemoryBufferRef(StringRef(bitcode[i].data(), bitcode[i].size()), "part"), ctx);
      if (!part) {
        errors[i] = toString(part.takeError());
        return;
      }
      std::unique_ptr<TargetMachine> tm = createTargetMachine(opts, true, errors[i]);
      if (tm && optimizeModule(**part, *tm, opts.optLevel, errors[i]))
        emitMachineCode(**part, *tm, false, objects[i], errors[i]);
    });
  for (std::thread &t : threads)
    t.join();
  for (const std::string &e : errors)
    if (!e.empty()) {
      error = e;
      return false;
    }
  return true;
}

std::string moduleText(const llvm::Module &mod) {
  std::string s;
  raw_string_ostream os(s);
  mod.print(os, nullptr);
  return os.str();
}

} // namespace dlc::codegen

namespace dlc {

namespace {
bool compileToText(const Module &m, const CodegenOptions &opts, bool assembly,
                   std::string &out, std::string &error) {
  std::unique_ptr<TargetMachine> tm = codegen::createTargetMachine(opts, false, error);
  if (!tm)
    return false;
  if (error = codegen::memoryLimitProblem(m); !error.empty())
    return false;
  LLVMContext ctx;
  std::unique_ptr<llvm::Module> mod =
      codegen::lowerModule(m, ctx, opts.lineTables, codegen::vectorLanes(*tm));
  if (!codegen::optimizeModule(*mod, *tm, opts.optLevel, error))
    return false;
  if (!assembly) {
    out = codegen::moduleText(*mod);
    return true;
  }
  return codegen::emitMachineCode(*mod, *tm, true, out, error);
}
} // namespace

bool emitLLVMText(const Module &m, const CodegenOptions &opts, std::string &out,
                  std::string &error) {
  return compileToText(m, opts, false, out, error);
}

bool emitAssembly(const Module &m, const CodegenOptions &opts, std::string &out,
                  std::string &error) {
  return compileToText(m, opts, true, out, error);
}

} // namespace dlc
