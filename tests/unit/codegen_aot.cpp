// AOT: model.so + model.h into a temp dir, dlopen()ed and driven through its
// model-prefixed C API; the header's text; and the error paths (bad CPU,
// missing runtime archive, no C compiler) that must be errors, not crashes.
#include "codegen/Codegen.h"
#include "codegen/Layout.h"
#include "ir/Builder.h"
#include "passes/Pipeline.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace dlc;

namespace {

// lin: y = x @ w (predict, x f32[4,3], w f32[3,2] = 0.5); step: loss =
// mean(x @ w), w <- w - 0.25 (a fixed "update" keeps the check simple).
std::unique_ptr<Module> linModel() {
  auto m = std::make_unique<Module>();
  m->name = "lin";
  m->inputs = {{"x", TensorType::f32({4, 3}), {}}, {"label.ids", TensorType::i32({4}), {}}};
  m->vars = {{"dense.w", TensorType::f32({3, 2}), {Init::Constant, 0.5, 0}, true, {}}};
  {
    Function &f = m->addFunction("predict");
    Builder b(f);
    f.outputs = {{"y", b.matmul(b.input("x", m->inputs[0].type),
                                b.var("dense.w", m->vars[0].type))}};
  }
  {
    Function &f = m->addFunction("step");
    Builder b(f);
    Node *w = b.var("dense.w", m->vars[0].type);
    Node *h = b.matmul(b.input("x", m->inputs[0].type), w);
    Node *loss = b.reduceMean(b.binary(OpKind::SparseXent, h, b.input("label.ids", m->inputs[1].type)), {0});
    f.train = TrainSpec{loss, {"dense.w"}, "sgd", {}};
    f.outputs = {{"loss", loss}};
    f.updates = {{"dense.w", b.sub(w, b.constant(0.25))}};
  }
  planForCodegen(*m);
  return m;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/dlc-codegen-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    path = tmpl;
  }
  ~TempDir() { (void)!system(("rm -rf '" + path + "'").c_str()); }
};

std::string readText(const std::string &p) {
  std::ifstream is(p);
  std::stringstream ss;
  ss << is.rdbuf();
  return ss.str();
}

// The runtime archive the build placed next to the test binary's build tree.
void pointAtRuntime() {
#ifdef DLC_BINARY_DIR
  if (!getenv("DLC_RUNTIME_LIB"))
    setenv("DLC_RUNTIME_LIB", DLC_BINARY_DIR "/libdlcrt.a", 1);
#endif
}

} // namespace

TEST_CASE("codegen: AOT model.so runs through its C API and header") {
  pointAtRuntime();
  auto m = linModel();
  TempDir dir;
  std::string so = dir.path + "/lin.so", h = dir.path + "/lin.h", error;
  REQUIRE_MESSAGE(emitSharedLibrary(*m, {}, so, h, "", error), error);

  std::string header = readText(h);
  for (const char *want :
       {"#ifndef DLC_MODEL_LIN_H", "extern \"C\"", "#include <stdint.h>", "#ifndef DLC_ABI_H",
        "typedef struct lin lin;", "lin *lin_create(uint64_t seed);",
        "void lin_destroy(lin *ctx);",
        "int lin_predict(lin *ctx, const float *x, size_t n, float *y);",
        "int lin_step(lin *ctx, const float *x, const int32_t *label_ids, float *loss);",
        "int lin_save(const lin *ctx, const char *path);",
        "#define LIN_PREDICT_ARENA_BYTES ", "#define LIN_STEP_ARENA_BYTES ",
        "int lin_load(lin *ctx, const char *path);",
        "const char *lin_error(const lin *ctx);",
        "const dlc_model_desc *lin_metadata(void);", "#define LIN_BATCH 4",
        "#define LIN_X_SIZE 3", "#define LIN_X_NUMEL 12", "#define LIN_Y_SIZE 2",
        "#define LIN_LABEL_IDS_SIZE 1", "#define LIN_NUM_PARAMS 6", "#define LIN_ALIGNMENT 64"}) {
    INFO(want);
    CHECK(header.find(want) != std::string::npos);
  }
  // The header compiles as C on its own and after dlc_runtime.h.
  std::string c = dir.path + "/use.c";
  std::ofstream(c) << "#include \"lin.h\"\nint main(void) { return LIN_BATCH - 4 + "
                      "(int)sizeof(dlc_model_desc) * 0; }\n";
  CHECK(system(("cc -std=c11 -Wall -Werror -fsyntax-only -I" + dir.path + " " + c).c_str()) == 0);
#ifdef DLC_SOURCE_DIR
  std::ofstream(c) << "#include \"runtime/dlc_runtime.h\"\n#include \"lin.h\"\n"
                      "int main(void) { return lin_metadata()->abi_version != DLC_ABI_VERSION; }\n";
  CHECK(system(("cc -std=c11 -Wall -Werror -fsyntax-only -I" DLC_SOURCE_DIR " -I" + dir.path +
                " " + c).c_str()) == 0);
#endif

  void *lib = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE_MESSAGE(lib, dlerror());
  using CreateFn = void *(*)(uint64_t);
  using PredictFn = int (*)(void *, const float *, size_t, float *);
  using StepFn = int (*)(void *, const float *, const int32_t *, float *);
  using ErrorFn = const char *(*)(const void *);
  using MetaFn = const dlc_model_desc *(*)();
  auto create = (CreateFn)dlsym(lib, "lin_create");
  auto destroy = (void (*)(void *))dlsym(lib, "lin_destroy");
  auto predict = (PredictFn)dlsym(lib, "lin_predict");
  auto step = (StepFn)dlsym(lib, "lin_step");
  auto err = (ErrorFn)dlsym(lib, "lin_error");
  auto meta = (MetaFn)dlsym(lib, "lin_metadata");
  REQUIRE((create && destroy && predict && step && err && meta));
  // Only the C API is exported: runtime and entry symbols stay inside.
  CHECK(dlsym(lib, "dlc_create") == nullptr);
  CHECK(dlsym(lib, "lin__predict") == nullptr);
  CHECK(std::string(meta()->name) == "lin");
  CHECK(meta()->batch == 4);

  void *ctx = create(42);
  REQUIRE(ctx);
  float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -2, -3}, y[8] = {0};
  CHECK(predict(ctx, x, 4, y) == 0);
  for (int i = 0; i < 4; ++i) { // w = 0.5 everywhere: each output is half the row sum
    float want = 0.5f * (x[3 * i] + x[3 * i + 1] + x[3 * i + 2]);
    CHECK(y[2 * i] == doctest::Approx(want));
    CHECK(y[2 * i + 1] == doctest::Approx(want));
  }
  float part[8] = {0, 0, 0, 0, 99, 99, 99, 99};
  CHECK(predict(ctx, x, 2, part) == 0); // a partial batch writes only its rows
  CHECK(part[2] == doctest::Approx(7.5f));
  CHECK(part[4] == 99);
  CHECK(predict(ctx, x, 5, y) != 0);
  CHECK(std::string(err(ctx)).find("rows") != std::string::npos);

  int32_t labels[4] = {0, 1, 0, 1};
  float loss = -1;
  CHECK(step(ctx, x, labels, &loss) == 0);
  CHECK(loss == doctest::Approx(std::log(2.0f))); // equal logits: log(classes)
  CHECK(predict(ctx, x, 4, y) == 0);              // w is now 0.25
  CHECK(y[0] == doctest::Approx(0.25f * 6));
  destroy(ctx);
  dlclose(lib);
}

TEST_CASE("codegen: bad targets and missing tools are errors, not crashes") {
  pointAtRuntime();
  auto m = linModel();
  TempDir dir;
  std::string so = dir.path + "/lin.so", h = dir.path + "/lin.h", error;
  CodegenOptions bad;
  bad.cpu = "no-such-cpu";
  CHECK_FALSE(emitSharedLibrary(*m, bad, so, h, "", error));
  CHECK(error.find("no-such-cpu") != std::string::npos);
  error.clear();
  CHECK(jitCompile(*m, bad, error) == nullptr);
  CHECK(error.find("unknown CPU") != std::string::npos);
  CodegenOptions badFeature;
  badFeature.features = "+avx2,+warp-drive";
  error.clear();
  CHECK(jitCompile(*m, badFeature, error) == nullptr);
  CHECK(error.find("warp-drive") != std::string::npos);

  // Another CPU is fine for AOT.
  CodegenOptions generic;
  generic.cpu = "x86-64";
  error.clear();
  CHECK_MESSAGE(emitSharedLibrary(*m, generic, so, h, "", error), error);

  std::string saved = getenv("DLC_RUNTIME_LIB") ? getenv("DLC_RUNTIME_LIB") : "";
  setenv("DLC_RUNTIME_LIB", "/nonexistent/libdlcrt.a", 1);
  CHECK_FALSE(emitSharedLibrary(*m, {}, so, h, "", error));
  CHECK(error.find("/nonexistent/libdlcrt.a") != std::string::npos);
  if (saved.empty())
    unsetenv("DLC_RUNTIME_LIB");
  else
    setenv("DLC_RUNTIME_LIB", saved.c_str(), 1);

  std::string path = getenv("PATH") ? getenv("PATH") : "";
  setenv("PATH", "/nonexistent", 1);
  error.clear();
  bool ok = emitSharedLibrary(*m, {}, dir.path + "/nocc.so", h, "", error);
  setenv("PATH", path.c_str(), 1);
  CHECK_FALSE(ok);
  CHECK(error.find("cc") != std::string::npos);
  struct stat st;
  CHECK(stat((dir.path + "/nocc.so").c_str(), &st) != 0); // no partial output

  // An entry whose C name collides with the fixed API is refused.
  auto clash = linModel();
  clash->functions[0]->name = "create";
  error.clear();
  CHECK_FALSE(emitSharedLibrary(*clash, {}, so, h, "", error));
  CHECK(error.find("lin_create") != std::string::npos);
}

TEST_CASE("codegen: names that are C or C++ keywords still give a usable header") {
  pointAtRuntime();
  // Inputs named new, size_t and new_ (the escape of new), an output named
  // class: the prototypes must compile as C and as C++, and the library must
  // still define what the header declares.
  auto m = std::make_unique<Module>();
  m->name = "kw";
  m->inputs = {{"new", TensorType::f32({2, 3}), {}},
               {"size_t", TensorType::f32({2, 3}), {}},
               {"new_", TensorType::f32({2, 3}), {}}};
  Function &f = m->addFunction("predict");
  Builder b(f);
  Node *sum = b.add(b.add(b.input("new", m->inputs[0].type), b.input("size_t", m->inputs[1].type)),
                    b.input("new_", m->inputs[2].type));
  f.outputs = {{"class", sum}};
  planForCodegen(*m);
  TempDir dir;
  std::string so = dir.path + "/kw.so", h = dir.path + "/kw.h", error;
  REQUIRE_MESSAGE(emitSharedLibrary(*m, {}, so, h, "", error), error);
  std::string header = readText(h);
  CHECK_MESSAGE(header.find("int kw_predict(kw *ctx, const float *new_, const float *size_t_, "
                            "const float *new__, size_t n, float *class_);") != std::string::npos,
                header);
  std::string c = dir.path + "/use.c", cpp = dir.path + "/use.cpp";
  const char *program = "#include \"kw.h\"\nint main(void) { float a[6] = {0}, y[6];\n"
                        "  return kw_predict(kw_create(1), a, a, a, 2, y); }\n";
  std::ofstream(c) << program;
  std::ofstream(cpp) << program;
  CHECK(system(("cc -std=c11 -Wall -Werror -fsyntax-only -I" + dir.path + " " + c).c_str()) == 0);
  CHECK(system(("c++ -std=c++17 -Wall -Werror -fsyntax-only -I" + dir.path + " " + cpp).c_str()) == 0);
  // The library defines the declared function (checked in-process: an
  // instrumented build's runtime archive needs the sanitizer runtime).
  void *lib = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE_MESSAGE(lib, dlerror());
  auto create = (void *(*)(uint64_t))dlsym(lib, "kw_create");
  auto destroy = (void (*)(void *))dlsym(lib, "kw_destroy");
  auto predict = (int (*)(void *, const float *, const float *, const float *, size_t,
                          float *))dlsym(lib, "kw_predict");
  REQUIRE((create && destroy && predict));
  void *ctx = create(1);
  float a[6] = {1, 2, 3, 4, 5, 6}, y[6] = {0};
  CHECK(predict(ctx, a, a, a, 2, y) == 0);
  CHECK(y[5] == 18);
  destroy(ctx);
  dlclose(lib);
}

TEST_CASE("codegen: a model name the header or the runtime owns is refused") {
  pointAtRuntime();
  TempDir dir;
  std::string so = dir.path + "/x.so", h = dir.path + "/x.h", error;
  auto m = linModel();
  m->name = "int"; // typedef struct int int;
  CHECK_FALSE(emitSharedLibrary(*m, {}, so, h, "", error));
  CHECK_MESSAGE(error.find("typedef struct int int") != std::string::npos, error);
  m->name = "dlc_task_fn"; // a type of dlc_abi.h, which the header embeds
  error.clear();
  CHECK_FALSE(emitSharedLibrary(*m, {}, so, h, "", error));
  CHECK_MESSAGE(error.find("typedef struct dlc_task_fn dlc_task_fn") != std::string::npos,
                error);
  m->name = "dlc"; // dlc_create is the runtime's, linked into the same .so
  error.clear();
  CHECK_FALSE(emitSharedLibrary(*m, {}, so, h, "", error));
  CHECK_MESSAGE(error.find("dlc_create") != std::string::npos, error);
  m = linModel();
  m->inputs.push_back({"X", TensorType::f32({4, 3}), {}}); // LIN_X_SIZE twice
  planForCodegen(*m);
  error.clear();
  CHECK_FALSE(emitSharedLibrary(*m, {}, so, h, "", error));
  CHECK_MESSAGE(error.find("LIN_X_SIZE") != std::string::npos, error);
  struct stat st;
  CHECK(stat(so.c_str(), &st) != 0); // nothing written
}

TEST_CASE("codegen: models beyond the state or arena limit are refused when compiled") {
  Module m;
  m.name = "big";
  m.vars = {{"w", TensorType::f32({int64_t(1) << 20, int64_t(1) << 14}), {}, true, {}},
            {"b", TensorType::f32({int64_t(1) << 20, int64_t(1) << 14}), {}, true, {}}};
  // 64 GiB each: the state is 128 GiB.
  CHECK(dlc::codegen::memoryLimitProblem(m) ==
        "model 'big' needs 128.0 GiB for its variables (params and optimizer state), more "
        "than dlc's limit of 64.0 GiB; the largest is 'w' f32[1048576, 16384], 64.0 GiB");
  m.vars.pop_back();
  CHECK(dlc::codegen::memoryLimitProblem(m).empty()); // exactly at the limit
  Function &f = m.addFunction("predict");
  f.plan.arenaBytes = dlc::codegen::kMaxArenaBytes + 64;
  CHECK(dlc::codegen::memoryLimitProblem(m) ==
        "entry 'predict' of model 'big' needs 64.0 GiB of scratch memory for its "
        "intermediates, more than dlc's limit of 64.0 GiB (a smaller batch?)");
  std::string error;
  CHECK_FALSE(emitSharedLibrary(m, {}, "/nonexistent/big.so", "/nonexistent/big.h", "", error));
  CHECK(error == dlc::codegen::memoryLimitProblem(m));
}
