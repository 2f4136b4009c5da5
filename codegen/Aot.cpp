// Ahead-of-time output: the model-prefixed C API as LLVM functions beside the
// kernels, an object file for the chosen CPU, and model.so linked by the
// system C compiler with the runtime archive (libdlcrt.a) inside.
#include "codegen/Descriptor.h"
#include "codegen/Layout.h"
#include "codegen/Lowering.h"
#include "ir/RowIndependence.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace llvm;

namespace dlc {
namespace codegen {

namespace {

// A runtime function, declared for the wrappers to call.
llvm::Function *runtimeFn(llvm::Module &mod, const char *name, Type *ret,
                          std::vector<Type *> params) {
  return cast<llvm::Function>(
      mod.getOrInsertFunction(name, FunctionType::get(ret, params, false)).getCallee());
}

struct ApiBuilder {
  llvm::Module &mod;
  IRBuilder<> b;
  Type *ptr, *i32, *i64;
  explicit ApiBuilder(llvm::Module &m)
      : mod(m), b(m.getContext()), ptr(b.getPtrTy()), i32(b.getInt32Ty()),
        i64(b.getInt64Ty()) {}

  llvm::Function *begin(const std::string &name, Type *ret, std::vector<Type *> params) {
    auto *fn = llvm::Function::Create(FunctionType::get(ret, params, false),
                                      GlobalValue::ExternalLinkage, name, mod);
    fn->addFnAttr(Attribute::NoUnwind);
    b.SetInsertPoint(BasicBlock::Create(mod.getContext(), "entry", fn));
    return fn;
  }
  // A stack array of the pointer arguments [first, first + n).
  Value *pointerArray(llvm::Function *fn, unsigned first, unsigned n) {
    if (n == 0)
      return ConstantPointerNull::get(b.getPtrTy());
    Value *arr = b.CreateAlloca(ArrayType::get(ptr, n));
    for (unsigned i = 0; i < n; ++i)
      b.CreateStore(fn->getArg(first + i), b.CreateConstInBoundsGEP2_64(
                                               ArrayType::get(ptr, n), arr, 0, i));
    return arr;
  }
};

} // namespace

bool addCApi(llvm::Module &mod, const Module &m, const std::vector<char> *weights,
             std::string &error) {
  if (!checkApiNames(m, error))
    return false;
  ApiBuilder a(mod);
  Type *voidTy = a.b.getVoidTy();
  GlobalVariable *desc = mod.getGlobalVariable(descSymbol(m));
  FixedSymbols sym = apiFixedSymbols(m);
  auto fnCreate = runtimeFn(mod, "dlc_create", a.ptr, {a.ptr, a.i64});
  auto fnCreateIn = runtimeFn(mod, "dlc_create_in", a.ptr, {a.ptr, a.ptr, a.i64, a.i64});
  auto fnSetState = runtimeFn(mod, "dlc_set_state", a.i32, {a.ptr, a.ptr, a.i64});
  auto fnDestroy = runtimeFn(mod, "dlc_destroy", voidTy, {a.ptr});
  auto fnSave = runtimeFn(mod, "dlc_save", a.i32, {a.ptr, a.ptr});
  auto fnLoad = runtimeFn(mod, "dlc_load", a.i32, {a.ptr, a.ptr});
  auto fnError = runtimeFn(mod, "dlc_error", a.ptr, {a.ptr});
  auto fnGetVar = runtimeFn(mod, "dlc_get_var", a.i32, {a.ptr, a.ptr, a.ptr, a.i64});
  auto fnSetVar = runtimeFn(mod, "dlc_set_var", a.i32, {a.ptr, a.ptr, a.ptr, a.i64});
  auto fnSetThreads = runtimeFn(mod, "dlc_set_threads", a.i32, {a.ptr, a.i32});
  auto fnRun = runtimeFn(mod, "dlc_run", a.i32, {a.ptr, a.i32, a.ptr, a.ptr, a.i64});

  // With --weights, every new context starts from the checkpoint's state
  // block, embedded here (checked by the runtime when the library was built).
  GlobalVariable *image = nullptr;
  if (weights) {
    Constant *bytes = ConstantDataArray::get(
        mod.getContext(), ArrayRef<uint8_t>((const uint8_t *)weights->data(), weights->size()));
    image = new GlobalVariable(mod, bytes->getType(), true, GlobalValue::PrivateLinkage, bytes,
                               cIdentifier(m.name) + "__weights");
    image->setAlignment(Align(kAlignment));
  }
  // Returns ctx, after copying the embedded state into it if there is one.
  auto startFrom = [&](llvm::Function *f, Value *ctx) {
    if (!image) {
      a.b.CreateRet(ctx);
      return;
    }
    LLVMContext &c = mod.getContext();
    BasicBlock *fill = BasicBlock::Create(c, "fill", f), *done = BasicBlock::Create(c, "done", f);
    a.b.CreateCondBr(a.b.CreateIsNull(ctx), done, fill);
    a.b.SetInsertPoint(fill);
    a.b.CreateCall(fnSetState, {ctx, image, a.b.getInt64(weights->size())});
    a.b.CreateBr(done);
    a.b.SetInsertPoint(done);
    a.b.CreateRet(ctx);
  };

  llvm::Function *f = a.begin(sym.create, a.ptr, {a.i64});
  startFrom(f, a.b.CreateCall(fnCreate, {desc, f->getArg(0)}));
  f = a.begin(sym.createIn, a.ptr, {a.ptr, a.i64, a.i64});
  startFrom(f, a.b.CreateCall(fnCreateIn, {desc, f->getArg(0), f->getArg(1), f->getArg(2)}));
  f = a.begin(sym.destroy, voidTy, {a.ptr});
  a.b.CreateCall(fnDestroy, {f->getArg(0)});
  a.b.CreateRetVoid();
  f = a.begin(sym.save, a.i32, {a.ptr, a.ptr});
  a.b.CreateRet(a.b.CreateCall(fnSave, {f->getArg(0), f->getArg(1)}));
  f = a.begin(sym.load, a.i32, {a.ptr, a.ptr});
  a.b.CreateRet(a.b.CreateCall(fnLoad, {f->getArg(0), f->getArg(1)}));
  f = a.begin(sym.getParam, a.i32, {a.ptr, a.ptr, a.ptr, a.i64});
  a.b.CreateRet(a.b.CreateCall(fnGetVar, {f->getArg(0), f->getArg(1), f->getArg(2), f->getArg(3)}));
  f = a.begin(sym.setParam, a.i32, {a.ptr, a.ptr, a.ptr, a.i64});
  a.b.CreateRet(a.b.CreateCall(fnSetVar, {f->getArg(0), f->getArg(1), f->getArg(2), f->getArg(3)}));
  f = a.begin(sym.setThreads, a.i32, {a.ptr, a.i32});
  a.b.CreateRet(a.b.CreateCall(fnSetThreads, {f->getArg(0), f->getArg(1)}));
  f = a.begin(sym.error, a.ptr, {a.ptr});
  a.b.CreateRet(a.b.CreateCall(fnError, {f->getArg(0)}));
  a.begin(sym.metadata, a.ptr, {});
  a.b.CreateRet(desc);

  // int <m>_<entry>(ctx, inputs..., [size_t n,] outputs...)
  int64_t batch = modelBatch(m);
  for (const ApiEntry &e : apiEntries(m)) {
    unsigned nIn = e.fn->inputNames().size(), nOut = e.fn->outputs.size();
    std::vector<Type *> params(1 + nIn, a.ptr);
    if (e.takesRows)
      params.push_back(a.i64);
    params.insert(params.end(), nOut, a.ptr);
    f = a.begin(e.symbol, a.i32, params);
    unsigned outFirst = 1 + nIn + (e.takesRows ? 1 : 0);
    Value *ins = a.pointerArray(f, 1, nIn);
    Value *outs = a.pointerArray(f, outFirst, nOut);
    // A train entry always runs a full batch; with no batch dim (batch 0)
    // the runtime is told 1 row, the whole tensors.
    Value *rows = e.takesRows ? (Value *)f->getArg(1 + nIn) : a.b.getInt64(batch ? batch : 1);
    a.b.CreateRet(a.b.CreateCall(fnRun, {f->getArg(0), a.b.getInt32(e.index), ins, outs, rows}));
  }
  // Only the C API is the library's interface; entries and the descriptor are
  // reached through <m>_metadata().
  desc->setVisibility(GlobalValue::HiddenVisibility);
  for (const auto &fn : m.functions)
    if (llvm::Function *ef = mod.getFunction(entrySymbol(m, *fn)))
      ef->setVisibility(GlobalValue::HiddenVisibility);
  return true;
}

} // namespace codegen

namespace {

// A mkdtemp directory removed (with its files) when it goes out of scope.
struct TempDir {
  std::string path;
  std::vector<std::string> files;
  TempDir() {
    const char *tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/dlc-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back(0);
    if (mkdtemp(buf.data()))
      path = buf.data();
  }
  std::string file(const std::string &name) {
    files.push_back(path + "/" + name);
    return files.back();
  }
  ~TempDir() {
    for (const std::string &f : files)
      unlink(f.c_str());
    if (!path.empty())
      rmdir(path.c_str());
  }
};

bool writeFile(const std::string &path, const std::string &data, std::string &error) {
  std::ofstream os(path, std::ios::binary);
  os.write(data.data(), (std::streamsize)data.size());
  os.close();
  if (!os) {
    error = fmt::format("cannot write {}: {}", path, strerror(errno));
    return false;
  }
  return true;
}

bool fileExists(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// libdlcrt.a: $DLC_RUNTIME_LIB, else beside the running executable (where the
// build puts it), else in ../lib/dlc (where `cmake --install` puts it).
std::string findRuntimeArchive(std::string &error) {
  if (const char *env = getenv("DLC_RUNTIME_LIB"); env && *env) {
    if (fileExists(env))
      return env;
    error = fmt::format("DLC_RUNTIME_LIB names '{}', which does not exist", env);
    return "";
  }
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  std::string dir = n > 0 ? std::string(exe, n) : std::string(".");
  size_t slash = dir.find_last_of('/');
  dir = slash == std::string::npos ? "." : dir.substr(0, slash); // "" for "/dlc"
  const std::string candidates[] = {dir + "/libdlcrt.a", dir + "/../lib/dlc/libdlcrt.a"};
  for (const std::string &lib : candidates)
    if (fileExists(lib))
      return lib;
  error = fmt::format("runtime archive not found: looked for {} and {} (set DLC_RUNTIME_LIB to "
                      "the path of libdlcrt.a)", candidates[0], candidates[1]);
  return "";
}

// Runs argv without a shell; stderr goes to `errFile`. Returns the exit
// status, or -1 if the program could not be started.
int runProgram(const std::vector<std::string> &argv, const std::string &errFile) {
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    int fd = open(errFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char *> args;
    for (const std::string &s : argv)
      args.push_back(const_cast<char *>(s.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string readFile(const std::string &path) {
  std::ifstream is(path);
  std::stringstream ss;
  ss << is.rdbuf();
  return ss.str();
}

} // namespace

bool emitSharedLibrary(const Module &m, const CodegenOptions &opts,
                       const std::string &soPath, const std::string &headerPath,
                       const std::string &weightsPath, std::string &error) {
  std::vector<char> weights;
  if (!weightsPath.empty() && !codegen::loadStateImage(m, weightsPath, weights, error)) {
    error = "--weights: " + error; // the runtime's message names the file
    return false;
  }
  std::string runtime = findRuntimeArchive(error);
  if (runtime.empty())
    return false;
  std::unique_ptr<TargetMachine> tm = codegen::createTargetMachine(opts, true, error);
  if (!tm)
    return false;
  if (error = codegen::memoryLimitProblem(m); !error.empty())
    return false;
  LLVMContext ctx;
  std::unique_ptr<llvm::Module> mod = codegen::lowerModule(m, ctx, /*lineTables=*/true,
                                                               codegen::vectorLanes(*tm));
  std::vector<std::string> objects;
  if (!codegen::addCApi(*mod, m, weightsPath.empty() ? nullptr : &weights, error) ||
      !codegen::emitObjectFiles(*mod, *tm, opts, objects, error))
    return false;

  TempDir tmp;
  if (tmp.path.empty()) {
    error = fmt::format("cannot create a temporary directory: {}", strerror(errno));
    return false;
  }
  std::vector<std::string> objPaths;
  for (size_t i = 0; i < objects.size(); ++i) {
    objPaths.push_back(tmp.file(fmt::format("{}.{}.o", codegen::cIdentifier(m.name), i)));
    if (!writeFile(objPaths.back(), objects[i], error))
      return false;
  }
  std::string errPath = tmp.file("cc.stderr");
  // Link to a temporary name and rename: a process that has the old model.so
  // mapped keeps a consistent file, and a failed link leaves no partial .so.
  std::string soTmp = fmt::format("{}.tmp{}", soPath, getpid());
  // --exclude-libs keeps the runtime's symbols out of the dynamic table, so a
  // host exporting its own dlc_* functions cannot interpose on the model's.
  // The soname is the file's own name, so a program linked against it by
  // path finds it again through its rpath instead of recording the path.
  std::string soName = soPath.substr(soPath.find_last_of('/') + 1);
  std::vector<std::string> argv{"cc", "-shared", "-o", soTmp};
  argv.insert(argv.end(), objPaths.begin(), objPaths.end());
  argv.insert(argv.end(), {runtime, "-lm", "-lpthread", "-Wl,--exclude-libs,ALL",
                           "-Wl,-soname," + soName});
  int rc = runProgram(argv, errPath);
  if (rc != 0) {
    unlink(soTmp.c_str());
    std::string ccErr = readFile(errPath);
    error = rc == 127 || rc == -1
                ? fmt::format("cannot run the C compiler 'cc' to link {}", soPath)
                : fmt::format("linking {} with cc failed (exit {})", soPath, rc);
    if (!ccErr.empty())
      error += ":\n" + ccErr;
    return false;
  }
  if (rename(soTmp.c_str(), soPath.c_str()) != 0) {
    error = fmt::format("cannot write {}: {}", soPath, strerror(errno));
    unlink(soTmp.c_str());
    return false;
  }
  return writeFile(headerPath, generateHeader(m, !weightsPath.empty()), error);
}

} // namespace dlc
