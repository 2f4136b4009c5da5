// Assembles the LLVM module of a model from its buffer IR: one function per
// kernel, one entry function per Function calling them on the planned
// buffers, and the constant dlc_model_desc (runtime/dlc_runtime.h) the
// runtime drives it through.
#include "codegen/DebugInfo.h"
#include "codegen/Descriptor.h"
#include "codegen/Layout.h"
#include "codegen/Lowering.h"
#include "ir/RowIndependence.h"
#include "ir/Support.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

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
  StructType *tensor, *entry, *model, *exec;
  FunctionType *parallelFor; // dlc_exec.parallel_for
  explicit DescTypes(LLVMContext &c) {
    Type *p = PointerType::getUnqual(c), *i32 = Type::getInt32Ty(c),
         *i64 = Type::getInt64Ty(c), *f = Type::getFloatTy(c);
    tensor = StructType::create(c, {p, i32, i32, p, i64, i64, i32, i32, f, f, i64},
                                "dlc_tensor_desc");
    entry = StructType::create(c, {p, i32, i32, i32, p, i32, p, i64, p}, "dlc_entry_desc");
    model = StructType::create(c, {i32, p, i64, i64, i32, p, i32, p, i64, i32, p},
                               "dlc_model_desc");
    exec = StructType::create(c, {i64, p, p}, "dlc_exec");
    parallelFor = FunctionType::get(Type::getVoidTy(c), {p, p, p, i64, i64}, false);
  }
};

// A call's kernel and the row count it takes (the batch, or 0: none).
struct CallKernel {
  EmittedKernel &kernel;
  int64_t rowsOfBatch;
};

class Lowering {
public:
  Lowering(const Module &m, LLVMContext &c, bool lineTables, int lanes)
      : m_(m), ctx_(c), mod_(std::make_unique<llvm::Module>(m.name, c)), types_(c),
        state_(layoutState(m)), lanes_(lanes) {
    if (lineTables)
      debug_ = std::make_unique<DebugInfo>(*mod_);
  }

  std::unique_ptr<llvm::Module> run() {
    // The kernels that take a row count, by signature: a train entry's
    // kernel of whole batches with one of these signatures calls it with
    // the batch instead of being emitted again (the LSTM's step and predict
    // share 31 of predict's 38 kernels: 13% less IR to compile). Each
    // call's signature is computed here, once.
    const int64_t batch = modelBatch(m_);
    for (const auto &f : m_.functions) {
      const RowAnalysis rows = analyzeRows(*f, batch);
      std::vector<std::string> &sigs = signatures_[f.get()];
      for (size_t c = 0; c < f->plan.calls.size(); ++c) {
        sigs.push_back(kernelSignature(*f, c));
        if (computesRows(f->plan.kernels[f->plan.calls[c].kernel], rows))
          rowKernels_.insert(sigs.back());
      }
    }
    std::vector<llvm::Function *> entries;
    for (const auto &f : m_.functions)
      entries.push_back(lowerFunction(*f));
    emitDesc(entries);
    if (debug_)
      debug_->finish();
    std::string msg;
    raw_string_ostream os(msg);
    if (verifyModule(*mod_, &os))
      internalError(fmt::format("codegen: broken module: {}", os.str()));
    return std::move(mod_);
  }

private:
  const Module &m_;
  LLVMContext &ctx_;
  std::unique_ptr<llvm::Module> mod_;
  DescTypes types_;
  StateLayout state_;
  int lanes_;
  // By row count (the batch, or 0: none) and kernelSignature.
  std::map<std::pair<int64_t, std::string>, EmittedKernel> kernels_;
  std::map<llvm::Function *, llvm::Function *> tasks_;  // a shared kernel's dlc_task_fn
  std::map<const Function *, std::vector<std::string>> signatures_; // of each call
  std::set<std::string> rowKernels_; // signatures of the kernels taking a row count
  std::unique_ptr<DebugInfo> debug_;                 // null: no line tables

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

  Constant *tensorDesc(const dlc_tensor_desc &t) {
    Constant *dims = null();
    if (t.rank > 0)
      dims = privateGlobal(ConstantDataArray::get(
                               ctx_, ArrayRef<uint64_t>((const uint64_t *)t.dims, t.rank)),
                           ".dims");
    Type *f = Type::getFloatTy(ctx_);
    return ConstantStruct::get(
        types_.tensor,
        {string(t.name), i32(t.dtype), i32(t.rank), dims, i64(t.numel), i64(t.offset),
         i32(t.init), i32(t.trainable), ConstantFP::get(f, t.init_a),
         ConstantFP::get(f, t.init_b), i64(t.index_bound)});
  }
  Constant *tensorArray(const dlc_tensor_desc *ts, int32_t n, const std::string &name) {
    std::vector<Constant *> cs;
    for (int32_t i = 0; i < n; ++i)
      cs.push_back(tensorDesc(ts[i]));
    return tensorArray(cs, name);
  }

  // The entry function of `f`: dlc_entry_fn (runtime/dlc_abi.h).
  llvm::Function *lowerFunction(const Function &f) {
    Type *ptr = PointerType::getUnqual(ctx_);
    auto *fnTy = FunctionType::get(Type::getVoidTy(ctx_), {ptr, ptr, ptr, ptr, ptr}, false);
    auto *fn = llvm::Function::Create(fnTy, GlobalValue::ExternalLinkage,
                                      entrySymbol(m_, f), *mod_);
    // The entry is straight-line calls (thousands for a deep model) with no
    // loop to optimise: O3 only costs time on it. Its kernels are optimised
    // as usual.
    auto straightLine = [](llvm::Function *g) {
      g->addFnAttr(Attribute::NoUnwind);
      g->addFnAttr(Attribute::OptimizeNone);
      g->addFnAttr(Attribute::NoInline);
    };
    straightLine(fn);
    Argument *state = fn->getArg(0), *arena = fn->getArg(1), *inputs = fn->getArg(2),
             *outputs = fn->getArg(3), *exec = fn->getArg(4);
    state->setName("state");
    arena->setName("arena");
    inputs->setName("inputs");
    outputs->setName("outputs");
    exec->setName("exec");
    BasicBlock *entryBlock = BasicBlock::Create(ctx_, "entry", fn);
    IRBuilder<> b(entryBlock);

    std::vector<std::string> inputNames = f.inputNames();
    const Plan &plan = f.plan;
    if (!plan.planned)
      internalError(fmt::format("codegen: entry {} has no memory plan; run the pipeline "
                                "(passes/Pipeline.h) before codegen", f.name));
    // A row-independent entry (the descriptor's rows_independent, from the
    // same analysis) runs on exec->rows rows: the kernels that compute rows
    // take the count, the copies into outputs move that many rows. The count
    // is loaded where it is used, as buffer pointers are.
    const int64_t batch = modelBatch(m_);
    const RowAnalysis rows = analyzeRows(f, batch);
    auto rowCount = [&]() -> Value * {
      return b.CreateLoad(b.getInt64Ty(), exec, "rows"); // dlc_exec.rows, its first field
    };
    // A pointer to buffer `id`, computed where it is used: values kept live
    // across thousands of calls would make a deep model's entry a register
    // allocator's nightmare.
    std::map<std::string, int64_t> stateOffset;
    for (size_t v = 0; v < m_.vars.size(); ++v)
      stateOffset[m_.vars[v].name] = state_.offsets[v];
    auto where = [&](int id) -> Value * {
      const Buffer &buf = plan.buffers[id];
      switch (buf.kind) {
      case BufferKind::Arena:
        return b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), arena, buf.offset);
      case BufferKind::State:
        return b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), state, stateOffset.at(buf.ref));
      case BufferKind::Input: {
        auto it = std::find(inputNames.begin(), inputNames.end(), buf.ref);
        DLC_ASSERT(it != inputNames.end(),
                   fmt::format("codegen: {} reads input '{}' it does not declare", f.name,
                               buf.ref));
        Value *slot = b.CreateConstInBoundsGEP1_64(ptr, inputs, it - inputNames.begin());
        return b.CreateLoad(ptr, slot, buf.ref);
      }
      case BufferKind::Output: {
        size_t j = 0;
        while (j < f.outputs.size() && f.outputs[j].first != buf.ref)
          ++j;
        DLC_ASSERT(j < f.outputs.size(), fmt::format("codegen: no output '{}'", buf.ref));
        return b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, outputs, j), buf.ref);
      }
      }
      internalError("codegen: bad buffer kind");
    };
    // The kernel of call c, emitted at its first call of a signature, and
    // its row count: the batch when it computes rows of this entry, or has
    // the signature of a kernel that does elsewhere; else 0, none.
    const std::vector<std::string> &sigs = signatures_.at(&f);
    auto kernelOf = [&](size_t c) -> CallKernel {
      const Kernel &k = plan.kernels[plan.calls[c].kernel];
      const int64_t rowsOfBatch =
          computesRows(k, rows) || rowKernels_.count(sigs[c]) ? batch : 0;
      EmittedKernel &kernel = kernels_[{rowsOfBatch, sigs[c]}];
      // Named after its first node (the anchor, if any): "<m>__step.k9.d.dense_1.w".
      if (!kernel.fn)
        kernel = emitKernel(*mod_, f, c,
                            fmt::format("{}.k{}.{}", entrySymbol(m_, f), c,
                                        k.nodes.empty() ? "kernel" : k.nodes.front()->name),
                            debug_.get(), rowsOfBatch, lanes_);
      return {kernel, rowsOfBatch};
    };
    // exec->parallel_for(exec, task, &args, n, grain): the runtime runs the
    // parts of [0, n) on its threads, each through the task, which unpacks
    // `args` from the block.
    auto parallelFor = [&](const std::function<llvm::Function *(StructType *)> &taskFor,
                           const std::vector<Value *> &args, Value *n, int64_t grain) {
      std::vector<Type *> fields;
      for (Value *a : args)
        fields.push_back(a->getType());
      StructType *argsTy = StructType::get(ctx_, fields);
      llvm::Function *here = b.GetInsertBlock()->getParent();
      IRBuilder<> top(&here->getEntryBlock(), here->getEntryBlock().begin());
      AllocaInst *block = top.CreateAlloca(argsTy, nullptr, "task.args");
      for (size_t i = 0; i < args.size(); ++i)
        b.CreateStore(args[i], b.CreateStructGEP(argsTy, block, (unsigned)i));
      Value *fn = b.CreateLoad(ptr, b.CreateStructGEP(types_.exec, exec, 1), "parallel_for");
      b.CreateCall(types_.parallelFor, fn, {exec, taskFor(argsTy), block, n, b.getInt64(grain)});
    };
    // The register allocator still runs on an optnone function, and its time
    // grows faster than the function's length (a 2000-layer MLP's entry took
    // it 13 s): a long entry calls its kernels from parts of at most
    // kCallsPerPart calls each, which it calls in turn.
    constexpr size_t kCallsPerPart = 64;
    bool inParts = plan.calls.size() > kCallsPerPart;
    Argument *entryArgs[5] = {state, arena, inputs, outputs, exec};
    std::vector<const RowGroup *> groupAt(plan.calls.size(), nullptr);
    for (const RowGroup &g : plan.groups)
      groupAt.at((size_t)g.first) = &g;
    size_t parts = 0, callsInPart = 0;
    for (size_t c = 0; c < plan.calls.size();) {
      const RowGroup *group = groupAt[c];
      const size_t span = group ? (size_t)(group->last - group->first) + 1 : 1;
      if (inParts && (parts == 0 || callsInPart + span > kCallsPerPart)) {
        if (parts > 0) // close the previous part
          b.CreateRetVoid();
        auto *part = llvm::Function::Create(
            fnTy, GlobalValue::InternalLinkage,
            fmt::format("{}.part{}", entrySymbol(m_, f), parts++), *mod_);
        straightLine(part);
        b.SetInsertPoint(entryBlock);
        b.CreateCall(part, {entryArgs[0], entryArgs[1], entryArgs[2], entryArgs[3], entryArgs[4]});
        state = part->getArg(0), arena = part->getArg(1), inputs = part->getArg(2),
        outputs = part->getArg(3), exec = part->getArg(4);
        b.SetInsertPoint(BasicBlock::Create(ctx_, "entry", part));
        callsInPart = 0;
      }
      callsInPart += span;
      if (group) {
        // One parallel_for over the rows in chunks; the task passes each
        // chunk through the group's calls.
        std::vector<int> buffers = groupBuffers(plan, *group);
        std::vector<Value *> bases;
        for (int id : buffers)
          bases.push_back(where(id));
        parallelFor([&](StructType *argsTy) {
                      return emitGroupTask(f, *group, buffers, argsTy, rows, batch, kernelOf);
                    },
                    bases, rowCount(), group->rows);
        c += span;
        continue;
      }
      std::vector<Value *> args;
      for (const KernelArg &a : plan.calls[c].args)
        args.push_back(where(a.buffer));
      // The row count: the caller's in a row-independent entry, else the
      // whole batch (a kernel shared with one).
      const bool callerRows = computesRows(plan.kernels[plan.calls[c].kernel], rows);
      const CallKernel call = kernelOf(c);
      const EmittedKernel &kernel = call.kernel;
      const int64_t rowsOfBatch = call.rowsOfBatch;
      if (rowsOfBatch)
        args.push_back(callerRows ? rowCount() : b.getInt64(batch));
      ++c;
      if (!kernel.share.iterations) {
        b.CreateCall(kernel.fn, args);
        continue;
      }
      const KernelShare &share = kernel.share;
      DLC_ASSERT(!rowsOfBatch || share.iterations % batch == 0,
                 fmt::format("codegen: {} shares {} iterations, not rows of the batch {}",
                             kernel.fn->getName().str(), share.iterations, batch));
      Value *n = callerRows ? b.CreateMul(rowCount(), b.getInt64(share.iterations / batch))
                            : (Value *)b.getInt64(share.iterations);
      parallelFor([&](StructType *argsTy) {
                    llvm::Function *&task = tasks_[kernel.fn];
                    if (!task)
                      task = emitTask(kernel.fn, argsTy);
                    return task;
                  },
                  args, n, share.grain);
    }
    if (inParts) {
      b.CreateRetVoid();
      b.SetInsertPoint(entryBlock);
      state = entryArgs[0], arena = entryArgs[1], inputs = entryArgs[2],
      outputs = entryArgs[3], exec = entryArgs[4];
    }
    // Outputs first, then staged updates, then the state (the plan's order):
    // no output may observe a half-updated variable. A row-independent
    // entry has no updates, and its outputs lead with the batch.
    for (const BufferCopy &c : plan.copies) {
      const int64_t bytes = plan.buffers[c.to].type.bytes();
      Value *size = rows.independent
                        ? b.CreateMul(rowCount(), b.getInt64(bytes / batch))
                        : (Value *)b.getInt64(bytes);
      b.CreateMemCpy(where(c.to), Align(4), where(c.from), Align(4), size);
    }
    b.CreateRetVoid();

    return fn;
  }

  // The dlc_task_fn of a shared kernel: its arguments from the block the
  // entry filled (argsTy), then its share, [begin, end).
  llvm::Function *emitTask(llvm::Function *kernel, StructType *argsTy) {
    Type *ptr = PointerType::getUnqual(ctx_), *i64 = Type::getInt64Ty(ctx_);
    auto *task = llvm::Function::Create(
        FunctionType::get(Type::getVoidTy(ctx_), {ptr, i64, i64}, false),
        GlobalValue::InternalLinkage, kernel->getName() + ".task", *mod_);
    task->addFnAttr(Attribute::NoUnwind);
    IRBuilder<> b(BasicBlock::Create(ctx_, "entry", task));
    std::vector<Value *> args;
    for (unsigned i = 0; i < argsTy->getNumElements(); ++i)
      args.push_back(b.CreateLoad(argsTy->getElementType(i),
                                  b.CreateStructGEP(argsTy, task->getArg(0), i)));
    args.push_back(task->getArg(1));
    args.push_back(task->getArg(2));
    b.CreateCall(kernel, args);
    b.CreateRetVoid();
    return task;
  }

  // The distinct buffers a group's calls pass, in order of first use: the
  // block its task reads.
  static std::vector<int> groupBuffers(const Plan &plan, const RowGroup &g) {
    std::vector<int> out;
    for (int c = g.first; c <= g.last; ++c)
      for (const KernelArg &a : plan.calls[(size_t)c].args)
        if (std::find(out.begin(), out.end(), a.buffer) == out.end())
          out.push_back(a.buffer);
    return out;
  }

  // The dlc_task_fn of a row group (ir/BufferIR.h RowGroup): the rows
  // [begin, end) in chunks of g.rows, each through the group's calls in
  // order. A kernel computing rows runs on a chunk as on a short batch: its
  // row-count argument is the chunk's length and its buffers of rows start
  // at the chunk's first row, or, for a local buffer, at the part's first
  // row, where every chunk of the part is kept in turn.
  llvm::Function *emitGroupTask(const Function &f, const RowGroup &g,
                                const std::vector<int> &buffers, StructType *argsTy,
                                const RowAnalysis &rows, int64_t batch,
                                const std::function<CallKernel(size_t)> &kernelOf) {
    const Plan &plan = f.plan;
    Type *ptr = PointerType::getUnqual(ctx_), *i64 = Type::getInt64Ty(ctx_);
    auto *task = llvm::Function::Create(
        FunctionType::get(Type::getVoidTy(ctx_), {ptr, i64, i64}, false),
        GlobalValue::InternalLinkage,
        fmt::format("{}.group{}-{}.task", entrySymbol(m_, f), g.first, g.last), *mod_);
    task->addFnAttr(Attribute::NoUnwind);
    Argument *block = task->getArg(0), *begin = task->getArg(1), *end = task->getArg(2);
    BasicBlock *entry = BasicBlock::Create(ctx_, "entry", task),
               *body = BasicBlock::Create(ctx_, "chunk", task),
               *done = BasicBlock::Create(ctx_, "done", task);
    IRBuilder<> b(entry);
    const std::vector<bool> rowed = rowedBuffers(f, rows);
    std::map<int, Value *> base;
    for (size_t i = 0; i < buffers.size(); ++i)
      base[buffers[i]] = b.CreateLoad(ptr, b.CreateStructGEP(argsTy, block, (unsigned)i),
                                      fmt::format("b{}", buffers[i]));
    auto isLocal = [&](int id) {
      return std::find(g.local.begin(), g.local.end(), id) != g.local.end();
    };
    b.CreateCondBr(b.CreateICmpSLT(begin, end), body, done);

    b.SetInsertPoint(body);
    PHINode *row = b.CreatePHI(i64, 2, "row");
    row->addIncoming(begin, entry);
    Value *len = b.CreateBinaryIntrinsic(Intrinsic::smin, b.CreateSub(end, row),
                                         b.getInt64(g.rows), nullptr, "len");
    auto rowBytes = [&](int id) {
      const int64_t bytes = plan.buffers[(size_t)id].type.bytes();
      DLC_ASSERT(bytes % batch == 0, fmt::format("codegen: b{} of {} bytes holds rows of a "
                                                 "batch of {}", id, bytes, batch));
      return bytes / batch;
    };
    for (int c = g.first; c <= g.last; ++c) {
      const KernelCall &call = plan.calls[(size_t)c];
      DLC_ASSERT(computesRows(plan.kernels[(size_t)call.kernel], rows),
                 fmt::format("codegen: call {} of {}'s row group computes no rows", c, f.name));
      std::vector<Value *> args;
      for (const KernelArg &a : call.args) {
        Value *at = base.at(a.buffer);
        if (isLocal(a.buffer) || rowed[(size_t)a.buffer])
          at = b.CreateGEP(b.getInt8Ty(), at,
                           b.CreateMul(isLocal(a.buffer) ? (Value *)begin : row,
                                       b.getInt64(rowBytes(a.buffer))));
        args.push_back(at);
      }
      args.push_back(len);
      const EmittedKernel &kernel = kernelOf((size_t)c).kernel;
      if (kernel.share.iterations) {
        args.push_back(b.getInt64(0));
        args.push_back(b.CreateMul(len, b.getInt64(kernel.share.iterations / batch)));
      }
      b.CreateCall(kernel.fn, args);
    }
    Value *next = b.CreateAdd(row, b.getInt64(g.rows), "next");
    row->addIncoming(next, b.GetInsertBlock());
    b.CreateCondBr(b.CreateICmpSLT(next, end), body, done);
    b.SetInsertPoint(done);
    b.CreateRetVoid();
    return task;
  }

  // The descriptor HostDescriptor decides, with each entry's function.
  void emitDesc(const std::vector<llvm::Function *> &fns) {
    HostDescriptor host(m_);
    const dlc_model_desc &d = host.desc();
    std::vector<Constant *> entries;
    for (int32_t e = 0; e < d.n_entries; ++e) {
      const dlc_entry_desc &entry = d.entries[e];
      std::vector<Constant *> inIdx;
      for (int32_t i = 0; i < entry.n_inputs; ++i)
        inIdx.push_back(i32(entry.inputs[i]));
      Constant *inArr = inIdx.empty()
                            ? null()
                            : privateGlobal(ConstantArray::get(ArrayType::get(
                                                Type::getInt32Ty(ctx_), inIdx.size()), inIdx),
                                            ".inputs");
      entries.push_back(ConstantStruct::get(
          types_.entry,
          {string(entry.name), i32(entry.is_train), i32(entry.rows_independent),
           i32(entry.n_inputs), inArr,
           i32(entry.n_outputs), tensorArray(entry.outputs, entry.n_outputs, ".outputs"),
           i64(entry.arena_bytes), fns[(size_t)e]}));
    }
    Constant *entryArr =
        entries.empty() ? null()
                        : privateGlobal(ConstantArray::get(
                                            ArrayType::get(types_.entry, entries.size()),
                                            entries),
                                        ".entries");
    Constant *desc = ConstantStruct::get(
        types_.model,
        {i32(d.abi_version), string(d.name), i64((int64_t)d.signature), i64(d.batch),
         i32(d.n_inputs), tensorArray(d.inputs, d.n_inputs, ".model_inputs"), i32(d.n_vars),
         tensorArray(d.vars, d.n_vars, ".vars"), i64(d.state_bytes), i32(d.n_entries),
         entryArr});
    new GlobalVariable(*mod_, types_.model, true, GlobalValue::ExternalLinkage, desc,
                       descSymbol(m_));
  }
};

} // namespace

std::unique_ptr<llvm::Module> lowerModule(const Module &m, LLVMContext &ctx, bool lineTables,
                                          int lanes) {
  return Lowering(m, ctx, lineTables, lanes).run();
}

} // namespace dlc::codegen
