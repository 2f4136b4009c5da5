// Assembles the LLVM module of a model: one kernel per node, one entry
// function per Function calling them on arena slots, and the constant
// dlc_model_desc (runtime/dlc_runtime.h) the runtime drives it through.
#include "codegen/Layout.h"
#include "codegen/Lowering.h"
#include "ir/Support.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>

using namespace llvm;

namespace dlc::codegen {

std::string entrySymbol(const Module &m, const Function &f) {
  return cIdentifier(m.name) + "__" + cIdentifier(f.name);
}

std::string descSymbol(const Module &m) { return cIdentifier(m.name) + "__desc"; }

namespace {

// The C structs of dlc_runtime.h as LLVM types. Natural (unpacked) layout
// under the target's data layout is exactly the C compiler's layout.
struct DescTypes {
  StructType *tensor, *entry, *model;
  explicit DescTypes(LLVMContext &c) {
    Type *p = PointerType::getUnqual(c), *i32 = Type::getInt32Ty(c),
         *i64 = Type::getInt64Ty(c), *f = Type::getFloatTy(c);
    tensor = StructType::create(c, {p, i32, i32, p, i64, i64, i32, i32, f, f},
                                "dlc_tensor_desc");
    entry = StructType::create(c, {p, i32, i32, p, i32, p, i64, p}, "dlc_entry_desc");
    model = StructType::create(c, {i32, p, i64, i64, i32, p, i32, p, i64, i32, p},
                               "dlc_model_desc");
  }
};

class Lowering {
public:
  Lowering(const Module &m, LLVMContext &c)
      : m_(m), ctx_(c), mod_(std::make_unique<llvm::Module>(m.name, c)), types_(c),
        state_(layoutState(m)) {}

  std::unique_ptr<llvm::Module> run() {
    std::vector<Constant *> entries;
    for (const auto &f : m_.functions)
      entries.push_back(lowerFunction(*f));
    emitDesc(entries);
    std::string msg;
    raw_string_ostream os(msg);
    if (verifyModule(*mod_, &os))
      internalError("codegen: broken module: " + os.str());
    return std::move(mod_);
  }

private:
  const Module &m_;
  LLVMContext &ctx_;
  std::unique_ptr<llvm::Module> mod_;
  DescTypes types_;
  StateLayout state_;

  Constant *i32(int64_t v) { return ConstantInt::get(Type::getInt32Ty(ctx_), v); }
  Constant *i64(int64_t v) { return ConstantInt::get(Type::getInt64Ty(ctx_), v); }
  Constant *null() { return ConstantPointerNull::get(PointerType::getUnqual(ctx_)); }

  Constant *privateGlobal(Constant *init, const std::string &name) {
    auto *g = new GlobalVariable(*mod_, init->getType(), true,
                                 GlobalValue::PrivateLinkage, init, name);
    g->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
    return g;
  }
  Constant *string(const std::string &s) {
    return privateGlobal(ConstantDataArray::getString(ctx_, s), ".str");
  }
  Constant *tensorArray(const std::vector<Constant *> &ts, const std::string &name) {
    if (ts.empty())
      return null();
    return privateGlobal(ConstantArray::get(ArrayType::get(types_.tensor, ts.size()), ts),
                         name);
  }

  Constant *tensorDesc(const std::string &name, const TensorType &t,
                       const VarDecl *var = nullptr, int64_t offset = 0) {
    Constant *dims = null();
    if (t.rank() > 0)
      dims = privateGlobal(ConstantDataArray::get(
                               ctx_, ArrayRef<uint64_t>((const uint64_t *)t.dims.data(),
                                                        t.dims.size())),
                           ".dims");
    int init = 0, trainable = 0;
    float a = 0, b = 0;
    if (var) {
      init = var->init.kind == Init::Zeros      ? DLC_INIT_ZEROS
             : var->init.kind == Init::Constant ? DLC_INIT_CONSTANT
             : var->init.kind == Init::Normal   ? DLC_INIT_NORMAL
                                                : DLC_INIT_UNIFORM;
      trainable = var->trainable;
      a = (float)var->init.a;
      b = (float)var->init.b;
    }
    Type *f = Type::getFloatTy(ctx_);
    return ConstantStruct::get(
        types_.tensor,
        {string(name), i32(t.dtype == DType::F32 ? DLC_F32 : DLC_I32), i32(t.rank()),
         dims, i64(t.numel()), i64(offset), i32(init), i32(trainable),
         ConstantFP::get(f, a), ConstantFP::get(f, b)});
  }

  // The entry function of `f`, and its dlc_entry_desc.
  Constant *lowerFunction(const Function &f) {
    Type *ptr = PointerType::getUnqual(ctx_);
    auto *fnTy = FunctionType::get(Type::getVoidTy(ctx_), {ptr, ptr, ptr, ptr}, false);
    auto *fn = llvm::Function::Create(fnTy, GlobalValue::ExternalLinkage,
                                      entrySymbol(m_, f), *mod_);
    fn->addFnAttr(Attribute::NoUnwind);
    Argument *state = fn->getArg(0), *arena = fn->getArg(1), *inputs = fn->getArg(2),
             *outputs = fn->getArg(3);
    state->setName("state");
    arena->setName("arena");
    inputs->setName("inputs");
    outputs->setName("outputs");
    IRBuilder<> b(BasicBlock::Create(ctx_, "entry", fn));

    std::vector<std::string> inputNames = f.inputNames();
    ArenaPlan plan = planArena(f);
    std::unordered_map<const Node *, Value *> where;
    auto slotPtr = [&](int64_t offset) {
      return b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), arena, offset);
    };
    for (const auto &np : f.nodes) {
      const Node &n = *np;
      switch (storageOf(n)) {
      case Storage::Input: {
        auto it = std::find(inputNames.begin(), inputNames.end(), n.attrs.getString("name"));
        Value *slot = b.CreateConstInBoundsGEP1_64(ptr, inputs, it - inputNames.begin());
        where[&n] = b.CreateLoad(ptr, slot, n.name);
        break;
      }
      case Storage::State:
        where[&n] = b.CreateConstInBoundsGEP1_64(
            b.getInt8Ty(), state, state_.offsetOf(m_, n.attrs.getString("name")), n.name);
        break;
      case Storage::Alias:
        where[&n] = where.at(n.operands[0]);
        break;
      case Storage::Slot: {
        Value *out = slotPtr(plan.slot.at(&n));
        std::vector<Value *> args{out};
        for (const Node *op : n.operands)
          args.push_back(where.at(op));
        std::string kname = entrySymbol(m_, f) + "." + n.name + "." + n.info().name;
        b.CreateCall(emitKernel(*mod_, n, kname), args);
        where[&n] = out;
        break;
      }
      }
    }
    // Outputs first, then staged updates, then the state: no kernel and no
    // output may observe a half-updated variable.
    for (size_t j = 0; j < f.outputs.size(); ++j) {
      const Node *n = f.outputs[j].second;
      Value *dst = b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, outputs, j));
      b.CreateMemCpy(dst, Align(4), where.at(n), Align(4), n->type.bytes());
    }
    std::vector<Value *> sources;
    for (size_t u = 0; u < f.updates.size(); ++u) {
      const Node *n = f.updates[u].second;
      Value *src = where.at(n);
      if (plan.updateStage[u] >= 0) {
        Value *stage = slotPtr(plan.updateStage[u]);
        b.CreateMemCpy(stage, Align(kAlignment), src, Align(4), n->type.bytes());
        src = stage;
      }
      sources.push_back(src);
    }
    for (size_t u = 0; u < f.updates.size(); ++u) {
      const auto &[var, n] = f.updates[u];
      Value *dst = b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), state,
                                                state_.offsetOf(m_, var));
      if (storageRoot(n)->op == OpKind::Var && storageRoot(n)->attrs.getString("name") == var)
        continue; // the variable keeps its value
      b.CreateMemCpy(dst, Align(kAlignment), sources[u], Align(4), n->type.bytes());
    }
    b.CreateRetVoid();

    std::vector<Constant *> inIdx, outDescs;
    for (const std::string &name : inputNames) {
      const InputDecl *d = m_.findInput(name);
      DLC_ASSERT(d, "codegen: function " + f.name + " reads undeclared input " + name);
      inIdx.push_back(i32(d - m_.inputs.data()));
    }
    for (const auto &[name, n] : f.outputs)
      outDescs.push_back(tensorDesc(name, n->type));
    Constant *inArr = inIdx.empty()
                          ? null()
                          : privateGlobal(ConstantArray::get(ArrayType::get(
                                              Type::getInt32Ty(ctx_), inIdx.size()), inIdx),
                                          ".inputs");
    return ConstantStruct::get(
        types_.entry, {string(f.name), i32(f.isTrain()), i32(inIdx.size()), inArr,
                       i32(outDescs.size()), tensorArray(outDescs, ".outputs"),
                       i64(plan.bytes), fn});
  }

  void emitDesc(const std::vector<Constant *> &entries) {
    std::vector<Constant *> ins, vars;
    for (const InputDecl &in : m_.inputs)
      ins.push_back(tensorDesc(in.name, in.type));
    for (size_t i = 0; i < m_.vars.size(); ++i)
      vars.push_back(tensorDesc(m_.vars[i].name, m_.vars[i].type, &m_.vars[i],
                                state_.offsets[i]));
    Constant *entryArr =
        entries.empty() ? null()
                        : privateGlobal(ConstantArray::get(
                                            ArrayType::get(types_.entry, entries.size()),
                                            entries),
                                        ".entries");
    Constant *desc = ConstantStruct::get(
        types_.model,
        {i32(DLC_ABI_VERSION), string(m_.name), i64((int64_t)modelSignature(m_)),
         i64(modelBatch(m_)), i32(ins.size()), tensorArray(ins, ".model_inputs"),
         i32(vars.size()), tensorArray(vars, ".vars"), i64(state_.bytes),
         i32(entries.size()), entryArr});
    new GlobalVariable(*mod_, types_.model, true, GlobalValue::ExternalLinkage, desc,
                       descSymbol(m_));
  }
};

} // namespace

std::unique_ptr<llvm::Module> lowerModule(const Module &m, LLVMContext &ctx) {
  return Lowering(m, ctx).run();
}

} // namespace dlc::codegen
