// Runtime contexts: creation, seeded initialisation, dlc_run's argument
// checks and partial-batch staging, against the hand-written toy model.
#include "tests/unit/runtime_test_support.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

using namespace toy;

namespace {

std::vector<float> floats(dlc_context *ctx, int var) {
  const float *p = static_cast<const float *>(dlc_var_data(ctx, var));
  return std::vector<float>(p, p + dlc_model(ctx)->vars[var].numel);
}

struct Moments {
  double mean = 0, stddev = 0;
};

Moments moments(const std::vector<float> &v) {
  Moments m;
  for (float x : v)
    m.mean += x;
  m.mean /= double(v.size());
  for (float x : v)
    m.stddev += (x - m.mean) * (x - m.mean);
  m.stddev = std::sqrt(m.stddev / double(v.size()));
  return m;
}

// Inputs for 8 rows: x[r] = (r, -r) / 8, so every row differs.
std::vector<float> rowsOfX(int rows) {
  std::vector<float> x(size_t(rows) * kFeatures);
  for (int r = 0; r < rows; ++r) {
    x[size_t(r) * 2] = float(r + 1) / 8;
    x[size_t(r) * 2 + 1] = -float(r + 1) / 8;
  }
  return x;
}

} // namespace

TEST_CASE("runtime: dlc_create refuses another ABI version and an inconsistent descriptor") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  m.desc.abi_version = DLC_ABI_VERSION + 1;
  CHECK(dlc_create(&m.desc, 1) == nullptr);
  CHECK(std::string(dlc_error(nullptr)) ==
        "dlc_create: the model was compiled for ABI version " +
            std::to_string(DLC_ABI_VERSION + 1) + ", this runtime has version " +
            std::to_string(DLC_ABI_VERSION) + " (recompile the model with this dlc)");
  dlc_destroy(nullptr); // must be harmless

  // A variable past the end of the state block would be written out of bounds.
  ModelBuilder overflowing("toy", kBatch);
  buildToy(overflowing);
  overflowing.desc.state_bytes = 64;
  CHECK(dlc_create(&overflowing.desc, 1) == nullptr);
  CHECK(std::string(dlc_error(nullptr)) ==
        "dlc_create: the descriptor of model 'toy' is inconsistent (variables beyond the "
        "state block, or unknown inputs)");

  // A successful create clears the message.
  ModelBuilder fine("toy", kBatch);
  buildToy(fine);
  dlc_context *ctx = dlc_create(&fine.desc, 1);
  REQUIRE(ctx);
  CHECK(std::string(dlc_error(nullptr)) == "no context");
  dlc_destroy(ctx);
}

TEST_CASE("runtime: dlc_create says how many bytes it could not get") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  m.desc.state_bytes = int64_t(1) << 45; // 32 TiB
  CHECK(dlc_create(&m.desc, 1) == nullptr);
  CHECK(std::string(dlc_error(nullptr)) ==
        "dlc_create: cannot allocate 33554432.0 MiB for model 'toy' (variables 33554432.0 MiB, "
        "scratch 0.0 MiB, partial-batch staging 0.0 MiB)");
}

TEST_CASE("runtime: variables initialise deterministically for a seed") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *a = dlc_create(&m.desc, 1), *b = dlc_create(&m.desc, 1), *c = dlc_create(&m.desc, 2);
  REQUIRE((a && b && c));
  CHECK(snapshot(a) == snapshot(b));
  CHECK(floats(a, 0) != floats(c, 0));
  CHECK(floats(a, 1) == std::vector<float>{0, 0});
  CHECK(*static_cast<int32_t *>(dlc_var_data(a, 2)) == 0);
  CHECK(reinterpret_cast<uintptr_t>(dlc_var_data(a, 0)) % 64 == 0);
  CHECK(dlc_model(a) == &m.desc);
  CHECK(dlc_var_data(a, 4) == nullptr);
  CHECK(dlc_var_data(a, -1) == nullptr);
  dlc_destroy(a);
  dlc_destroy(b);
  dlc_destroy(c);
}

TEST_CASE("runtime: a variable's initial values do not depend on the other variables") {
  ModelBuilder plain("toy", kBatch), extended("toy", kBatch);
  buildToy(plain);
  extended.addVar("aaa.first", DLC_F32, {100}, DLC_INIT_NORMAL, 0, 1);
  extended.addVar("dense.w", DLC_F32, {2, 2}, DLC_INIT_NORMAL, 0.0f, 0.5f);
  extended.finish(1);
  dlc_context *a = dlc_create(&plain.desc, 9), *b = dlc_create(&extended.desc, 9);
  REQUIRE((a && b));
  CHECK(floats(a, 0) == floats(b, 1));
  dlc_destroy(a);
  dlc_destroy(b);
}

TEST_CASE("runtime: init kinds follow their distributions") {
  ModelBuilder m("dist", 0);
  m.addVar("normal", DLC_F32, {200, 100}, DLC_INIT_NORMAL, 1.0f, 2.0f);
  m.addVar("uniform", DLC_F32, {20000}, DLC_INIT_UNIFORM, -3.0f, -1.0f);
  m.addVar("constant", DLC_F32, {5}, DLC_INIT_CONSTANT, 0.25f);
  m.addVar("count", DLC_I32, {3}, DLC_INIT_CONSTANT, 7.0f);
  m.addVar("zeros", DLC_F32, {5}, DLC_INIT_ZEROS, 3.0f);
  m.finish(1);
  dlc_context *ctx = dlc_create(&m.desc, 2024);
  REQUIRE(ctx);

  // 20000 samples: the standard error of the mean is 2/sqrt(20000) = 0.014.
  const Moments normal = moments(floats(ctx, 0));
  CHECK(std::fabs(normal.mean - 1.0) < 0.06);
  CHECK(std::fabs(normal.stddev - 2.0) < 0.06);

  const std::vector<float> uniform = floats(ctx, 1);
  bool inRange = true;
  for (float v : uniform)
    inRange = inRange && v >= -3.0f && v < -1.0f;
  CHECK(inRange);
  const Moments u = moments(uniform);
  CHECK(std::fabs(u.mean + 2.0) < 0.02);
  CHECK(std::fabs(u.stddev - 2.0 / std::sqrt(12.0)) < 0.02);

  CHECK(floats(ctx, 2) == std::vector<float>(5, 0.25f));
  const int32_t *count = static_cast<const int32_t *>(dlc_var_data(ctx, 3));
  CHECK(std::vector<int32_t>(count, count + 3) == std::vector<int32_t>{7, 7, 7});
  CHECK(floats(ctx, 4) == std::vector<float>(5, 0.0f));
  dlc_destroy(ctx);
}

TEST_CASE("runtime: a full batch runs on the caller's buffers") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 1);
  REQUIRE(ctx);
  std::vector<float> x = rowsOfX(kBatch), probs(kBatch * kClasses, -1.0f);
  const void *in[] = {x.data()};
  void *out[] = {probs.data()};
  REQUIRE(dlc_run(ctx, 0, in, out, kBatch) == DLC_OK);
  CHECK(probe.input == x.data());
  CHECK(probe.arenaAligned);
  for (int r = 0; r < kBatch; ++r)
    CHECK(probs[size_t(r) * 2] + probs[size_t(r) * 2 + 1] == doctest::Approx(1.0f));
  CHECK(std::string(dlc_error(ctx)).empty());
  dlc_destroy(ctx);
}

#if defined(__SSE2__)
TEST_CASE("runtime: entries run with denormals flushed, and the caller's mode is restored") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 1);
  REQUIRE(ctx);
  std::vector<float> x = rowsOfX(kBatch), probs(kBatch * kClasses);
  const void *in[] = {x.data()};
  void *out[] = {probs.data()};
  const unsigned int callerMode = _mm_getcsr();
  REQUIRE((callerMode & 0x8040u) == 0); // the test process runs IEEE-exact
  for (int64_t rows : {kBatch, int64_t(3)}) {
    CAPTURE(rows);
    REQUIRE(dlc_run(ctx, 0, in, out, rows) == DLC_OK);
    CHECK((probe.fpMode & 0x8040u) == 0x8040u); // FTZ and DAZ inside
    CHECK(_mm_getcsr() == callerMode);
  }
  dlc_destroy(ctx);
}
#endif

TEST_CASE("runtime: a partial batch is staged, zero-padded and copied back row by row") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 1);
  REQUIRE(ctx);
  std::vector<float> full = rowsOfX(kBatch), fullProbs(kBatch * kClasses);
  const void *fullIn[] = {full.data()};
  void *fullOut[] = {fullProbs.data()};
  REQUIRE(dlc_run(ctx, 0, fullIn, fullOut, kBatch) == DLC_OK);

  // 5 rows, then 3: the second run must not see the first run's rows 3..4.
  for (int rows : {5, 3}) {
    CAPTURE(rows);
    std::vector<float> x = rowsOfX(rows);
    std::vector<float> probs(size_t(rows + 1) * kClasses, -7.0f); // one sentinel row
    const void *in[] = {x.data()};
    void *out[] = {probs.data()};
    REQUIRE(dlc_run(ctx, 0, in, out, rows) == DLC_OK);
    CHECK(probe.input != x.data());
    CHECK(probe.rows == kBatch); // a staged entry computes the whole batch
    for (int i = 0; i < kBatch * kFeatures; ++i)
      CHECK(probe.x[i] == (i < rows * kFeatures ? x[size_t(i)] : 0.0f));
    for (int i = 0; i < rows * kClasses; ++i)
      CHECK(probs[size_t(i)] == fullProbs[size_t(i)]);
    CHECK(probs[size_t(rows) * kClasses] == -7.0f);
    CHECK(probs[size_t(rows) * kClasses + 1] == -7.0f);
  }
  dlc_destroy(ctx);
}

TEST_CASE("runtime: dlc_run refuses bad arguments with a message") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 1);
  REQUIRE(ctx);
  std::vector<float> x = rowsOfX(kBatch), probs(kBatch * kClasses);
  std::vector<int32_t> y(kBatch, 0);
  float loss = 0;
  const void *in[] = {x.data()};
  void *out[] = {probs.data()};
  const void *nullIn[] = {nullptr};
  void *nullOut[] = {nullptr};
  const void *trainIn[] = {y.data(), x.data()};
  void *trainOut[] = {&loss};
  const int calls = probe.calls;

  auto refused = [&](int rc, const char *fragment) {
    CHECK(rc == DLC_ERR_ARG);
    const std::string message = dlc_error(ctx);
    CHECK_MESSAGE(message.find(fragment) != std::string::npos, message);
  };
  refused(dlc_run(ctx, 2, in, out, kBatch), "no entry #2");
  refused(dlc_run(ctx, -1, in, out, kBatch), "no entry #-1");
  refused(dlc_run(ctx, 0, in, out, 0), "rows must be in 1..8, got 0");
  refused(dlc_run(ctx, 0, in, out, 9), "rows must be in 1..8, got 9");
  refused(dlc_run(ctx, 0, nullptr, out, kBatch), "inputs is NULL");
  refused(dlc_run(ctx, 0, in, nullptr, kBatch), "outputs is NULL");
  refused(dlc_run(ctx, 0, nullIn, out, kBatch), "input 'x' is NULL");
  refused(dlc_run(ctx, 0, in, nullOut, kBatch), "output 'probs' is NULL");
  refused(dlc_run(ctx, 1, trainIn, trainOut, 4), "needs a full batch of 8 rows, got 4");
  CHECK(probe.calls == calls); // nothing ran
  CHECK(dlc_run(nullptr, 0, in, out, kBatch) == DLC_ERR_ARG);

  REQUIRE(dlc_run(ctx, 1, trainIn, trainOut, kBatch) == DLC_OK);
  CHECK(std::string(dlc_error(ctx)).empty()); // a success clears the last error
  CHECK(*static_cast<int32_t *>(dlc_var_data(ctx, 2)) == 1);
  dlc_destroy(ctx);
}

TEST_CASE("runtime: a label that is not a class is refused before the entry runs") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 1);
  REQUIRE(ctx);
  const std::vector<uint8_t> before = snapshot(ctx);
  std::vector<float> x = rowsOfX(kBatch);
  float loss = 0;
  void *out[] = {&loss};
  const int calls = probe.calls;
  for (int32_t bad : {int32_t(kClasses), int32_t(1000), int32_t(-1), INT32_MIN}) {
    std::vector<int32_t> y(kBatch, 1);
    y[5] = bad;
    const void *in[] = {y.data(), x.data()};
    CHECK(dlc_run(ctx, 1, in, out, kBatch) == DLC_ERR_ARG);
    CHECK(std::string(dlc_error(ctx)) == "entry 'step': input 'y' holds " + std::to_string(bad) +
                                             " in row 5, outside [0, " + std::to_string(kClasses) + ")");
  }
  CHECK(probe.calls == calls);    // the entry never ran
  CHECK(snapshot(ctx) == before); // so no variable changed
  std::vector<int32_t> y(kBatch, kClasses - 1);
  const void *in[] = {y.data(), x.data()};
  CHECK(dlc_run(ctx, 1, in, out, kBatch) == DLC_OK); // the largest class is fine
  dlc_destroy(ctx);
}

TEST_CASE("runtime: entries are found by name") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  CHECK(dlc_find_entry(&m.desc, "predict") == 0);
  CHECK(dlc_find_entry(&m.desc, "step") == 1);
  CHECK(dlc_find_entry(&m.desc, "train") == -1);
  CHECK(dlc_find_entry(&m.desc, nullptr) == -1);
  CHECK(dlc_find_entry(nullptr, "step") == -1);
}

TEST_CASE("runtime: a rows-independent entry runs on the caller's rows, with no staging") {
  ModelBuilder staged("toy", kBatch), direct("toy", kBatch);
  buildToy(staged);
  buildToy(direct, 0x70E5u, {kFeatures, kClasses}, true);
  // Only predict ever staged (step gets full batches): x and probs, 64 bytes each.
  CHECK(dlc_context_bytes(&direct.desc) == dlc_context_bytes(&staged.desc) - 2 * 64);
  dlc_context *ctx = dlc_create(&direct.desc, 1), *reference = dlc_create(&staged.desc, 1);
  REQUIRE((ctx && reference));
  for (int rows : {int(kBatch), 5, 1}) {
    CAPTURE(rows);
    std::vector<float> x = rowsOfX(rows);
    std::vector<float> probs(size_t(rows + 1) * kClasses, -7.0f), want(probs);
    const void *in[] = {x.data()};
    void *out[] = {probs.data()}, *wantOut[] = {want.data()};
    REQUIRE(dlc_run(reference, 0, in, wantOut, rows) == DLC_OK);
    REQUIRE(dlc_run(ctx, 0, in, out, rows) == DLC_OK);
    CHECK(probe.input == x.data()); // the caller's rows, not a staged copy
    CHECK(probe.rows == rows);
    CHECK(probe.arenaAligned);
    CHECK(probs == want); // equal rows, and the sentinel row untouched by both
    CHECK(probs[size_t(rows) * kClasses] == -7.0f);
  }
  // The train entry still needs a full batch, and gets exec->rows = batch.
  std::vector<float> x = rowsOfX(kBatch);
  std::vector<int32_t> y(kBatch, 1);
  float loss = 0;
  const void *in[] = {y.data(), x.data()};
  void *out[] = {&loss};
  CHECK(dlc_run(ctx, 1, in, out, 3) == DLC_ERR_ARG);
  REQUIRE(dlc_run(ctx, 1, in, out, kBatch) == DLC_OK);
  CHECK(probe.rows == kBatch);
  dlc_destroy(ctx);
  dlc_destroy(reference);
}

TEST_CASE("runtime: a model without a batch dimension runs whatever rows says") {
  ModelBuilder m("unbatched", 0);
  m.addInput("x", DLC_F32, {kBatch, kFeatures});
  m.addVar("dense.w", DLC_F32, {kFeatures, kClasses}, DLC_INIT_NORMAL, 0.0f, 0.5f);
  m.addVar("dense.b", DLC_F32, {kClasses}, DLC_INIT_ZEROS);
  m.addEntry("predict", false, {0}, {m.tensor("probs", DLC_F32, {kBatch, kClasses})}, 64,
             predictEntry);
  m.finish(1);
  dlc_context *ctx = dlc_create(&m.desc, 1);
  REQUIRE(ctx);
  std::vector<float> x = rowsOfX(kBatch), probs(kBatch * kClasses);
  const void *in[] = {x.data()};
  void *out[] = {probs.data()};
  CHECK(dlc_run(ctx, 0, in, out, 0) == DLC_OK);
  CHECK(probe.input == x.data());
  dlc_destroy(ctx);
}

TEST_CASE("runtime: a context in the caller's block needs nothing else and frees nothing") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  const size_t bytes = dlc_context_bytes(&m.desc);
  REQUIRE(bytes > size_t(m.desc.state_bytes));
  // A block inside a vector: if dlc_destroy freed it, the allocator would
  // see a pointer it never returned.
  std::vector<char> storage(bytes + 128);
  char *block = storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64);

  CHECK(dlc_create_in(&m.desc, block, bytes - 1, 1) == nullptr);
  CHECK(std::string(dlc_error(nullptr)) == "dlc_create_in: model 'toy' needs a block of " +
                                               std::to_string(bytes) + " bytes, got " +
                                               std::to_string(bytes - 1));
  CHECK(dlc_create_in(&m.desc, block + 4, bytes, 1) == nullptr);
  CHECK(std::string(dlc_error(nullptr)).find("is not aligned to 64 bytes") != std::string::npos);
  CHECK(dlc_create_in(&m.desc, nullptr, bytes, 1) == nullptr);

  std::memset(block, 0xAB, bytes); // whatever the caller's block held before
  dlc_context *in = dlc_create_in(&m.desc, block, bytes, 1);
  dlc_context *heap = dlc_create(&m.desc, 1);
  REQUIRE((in && heap));
  CHECK(static_cast<void *>(in) == block);
  CHECK(snapshot(in) == snapshot(heap));
  for (int v = 0; v < m.desc.n_vars; ++v) {
    const char *p = static_cast<const char *>(dlc_var_data(in, v));
    CHECK((p >= block && p + m.desc.vars[v].numel * 4 <= block + bytes));
  }
  // Full and partial batches (which use the block's staging) match the heap's.
  for (int rows : {int(kBatch), 3}) {
    std::vector<float> x = rowsOfX(rows), a(size_t(rows) * kClasses), b(a.size());
    const void *ins[] = {x.data()};
    void *outA[] = {a.data()}, *outB[] = {b.data()};
    REQUIRE(dlc_run(in, 0, ins, outA, rows) == DLC_OK);
    REQUIRE(dlc_run(heap, 0, ins, outB, rows) == DLC_OK);
    CHECK(a == b);
  }
  dlc_destroy(in);
  dlc_destroy(heap);

  ModelBuilder bad("toy", kBatch);
  buildToy(bad);
  bad.desc.abi_version = DLC_ABI_VERSION + 1;
  CHECK(dlc_context_bytes(&bad.desc) == 0);
  CHECK(dlc_context_bytes(nullptr) == 0);
}

TEST_CASE("runtime: variables by name, copied out and in") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 1);
  REQUIRE(ctx);
  CHECK(dlc_find_var(&m.desc, "dense.b") == 1);
  CHECK(dlc_find_var(&m.desc, "dense") == -1);

  std::vector<float> w(size_t(kFeatures) * kClasses);
  REQUIRE(dlc_get_var(ctx, "dense.w", w.data(), w.size()) == DLC_OK);
  CHECK(w == floats(ctx, 0));
  for (float &v : w)
    v += 1;
  REQUIRE(dlc_set_var(ctx, "dense.w", w.data(), w.size()) == DLC_OK);
  CHECK(w == floats(ctx, 0));

  // Refusals name what was wrong and change nothing.
  const std::vector<uint8_t> before = snapshot(ctx);
  CHECK(dlc_get_var(ctx, "dense.W", w.data(), w.size()) == DLC_ERR_ARG);
  CHECK(std::string(dlc_error(ctx)) ==
        "get: model 'toy' has no variable 'dense.W' (its params: dense.w, dense.b)");
  CHECK(dlc_set_var(ctx, "dense.b", w.data(), w.size()) == DLC_ERR_ARG);
  CHECK(std::string(dlc_error(ctx)) ==
        "set: variable 'dense.b' has " + std::to_string(kClasses) + " elements, got " +
            std::to_string(w.size()));
  CHECK(dlc_set_var(ctx, "step.count", w.data(), 1) == DLC_ERR_ARG);
  CHECK(std::string(dlc_error(ctx)) == "set: variable 'step.count' is not f32");
  CHECK(dlc_get_var(ctx, nullptr, w.data(), 1) == DLC_ERR_ARG);
  CHECK(dlc_get_var(ctx, "dense.w", nullptr, w.size()) == DLC_ERR_ARG);
  w[3] = INFINITY;
  CHECK(dlc_set_var(ctx, "dense.w", w.data(), w.size()) == DLC_ERR_ARG);
  CHECK(std::string(dlc_error(ctx)) ==
        "set: element 3 of 'dense.w' is infinite; the variable is unchanged");
  CHECK(snapshot(ctx) == before);
  // Optimizer state is a variable like any other.
  std::vector<float> grad(size_t(kFeatures) * kClasses, 0.5f);
  CHECK(dlc_set_var(ctx, "step.last_grad", grad.data(), grad.size()) == DLC_OK);
  CHECK(floats(ctx, 3) == grad);

  // The whole state block at once, as --weights embeds it.
  std::vector<char> image(size_t(m.desc.state_bytes), 0);
  CHECK(dlc_set_state(ctx, image.data(), image.size() - 1) == DLC_ERR_ARG);
  CHECK(dlc_set_state(ctx, image.data(), image.size()) == DLC_OK);
  CHECK(floats(ctx, 0) == std::vector<float>(w.size(), 0.0f));

  // Every variable of another context of the same layout (the model at
  // another batch); one of another layout is refused, leaving `to` as it was.
  ModelBuilder same("toy", 3), other("toy", kBatch);
  buildToy(same);
  buildToy(other, 0x70E5u, {kFeatures * kClasses, 1});
  dlc_context *from = dlc_create(&same.desc, 9), *wrong = dlc_create(&other.desc, 9);
  REQUIRE(from);
  REQUIRE(wrong);
  CHECK(dlc_copy_state(ctx, from) == DLC_OK);
  CHECK(snapshot(ctx) == snapshot(from));
  const std::vector<uint8_t> copied = snapshot(ctx);
  CHECK(dlc_copy_state(ctx, wrong) == DLC_ERR_ARG);
  CHECK(std::string(dlc_error(ctx)) ==
        "copy_state: model 'toy' and model 'toy' lay out different variables");
  CHECK(snapshot(ctx) == copied);
  CHECK(dlc_copy_state(ctx, nullptr) == DLC_ERR_ARG);
  CHECK(dlc_copy_state(nullptr, from) == DLC_ERR_ARG);
  dlc_destroy(wrong);
  dlc_destroy(from);
  dlc_destroy(ctx);
}
