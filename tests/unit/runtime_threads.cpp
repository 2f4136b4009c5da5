// The runtime's threads (runtime/pool.c), seen as generated code sees them:
// an entry that hands tasks to dlc_exec.parallel_for. What must hold: the
// parts cover [0, n) exactly once, cut only at multiples of the grain, four
// per thread at most; workers take parts and run them in the caller's
// floating-point mode; results are the same bits at any count;
// dlc_set_threads checks its argument.
#include "tests/unit/runtime_test_support.h"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

namespace {

struct Part {
  int64_t begin, end;
  bool operator<(const Part &o) const { return begin < o.begin; }
};

// What the test entry runs: one parallel_for per (n, grain) pair, each
// part recorded with the thread that ran it and its FTZ/DAZ bits.
struct Plan {
  std::vector<std::pair<int64_t, int64_t>> loops; // (n, grain)
  std::mutex lock;
  std::vector<std::vector<Part>> parts; // per loop
  std::set<std::thread::id> threads;
  bool allFlushDenormals = true;
  std::atomic<int> calls{0};
};
Plan *plan = nullptr;
size_t currentLoop = 0;

void recordPart(void *args, int64_t begin, int64_t end) {
  auto *loop = static_cast<size_t *>(args);
  std::lock_guard<std::mutex> hold(plan->lock);
  plan->parts[*loop].push_back({begin, end});
  plan->threads.insert(std::this_thread::get_id());
#if defined(__SSE2__)
  if ((_mm_getcsr() & 0x8040u) != 0x8040u)
    plan->allFlushDenormals = false;
#endif
}

void loopsEntry(char *, char *, const void *const *, void *const *, const dlc_exec *exec) {
  plan->calls++;
  for (currentLoop = 0; currentLoop < plan->loops.size(); ++currentLoop)
    exec->parallel_for(exec, recordPart, &currentLoop, plan->loops[currentLoop].first,
                       plan->loops[currentLoop].second);
}

// out[i] = a sum over i's own inputs, in a fixed order, computed by parts:
// the shape of a generated kernel, whose bits must not depend on the count.
struct SumArgs {
  const float *x;
  float *out;
};
void sumRows(void *args, int64_t begin, int64_t end) {
  auto *a = static_cast<SumArgs *>(args);
  for (int64_t i = begin; i < end; ++i) {
    float s = 0;
    for (int k = 0; k < 97; ++k)
      s += a->x[i * 97 + k] * 0.37f;
    a->out[i] = s;
  }
}
constexpr int64_t kRows = 1000;
void sumEntry(char *, char *, const void *const *in, void *const *out, const dlc_exec *exec) {
  SumArgs a{static_cast<const float *>(in[0]), static_cast<float *>(out[0])};
  exec->parallel_for(exec, sumRows, &a, kRows, 8);
}

struct LoopsModel {
  toy::ModelBuilder b{"loops", 0};
  const dlc_model_desc *desc;
  LoopsModel() {
    b.addEntry("run", false, {}, {}, 0, loopsEntry);
    desc = b.finish(1);
  }
};

std::vector<Part> sorted(std::vector<Part> v) {
  std::sort(v.begin(), v.end());
  return v;
}

} // namespace

TEST_CASE("threads: parts cover each loop once, at multiples of the grain, one per thread") {
  LoopsModel model;
  Plan p;
  plan = &p;
  p.loops = {{1000, 1}, {1000, 64}, {130, 6}, {5, 6}, {1, 1}, {64 * 3 + 1, 64}, {7, 1}};
  for (int threads : {1, 2, 3, 4, 8}) {
    CAPTURE(threads);
    dlc_context *ctx = dlc_create(model.desc, 0);
    REQUIRE(ctx);
    REQUIRE(dlc_set_threads(ctx, threads) == DLC_OK);
    CHECK(dlc_threads(ctx) == threads);
    for (int run = 0; run < 3; ++run) {
      p.parts.assign(p.loops.size(), {});
      p.threads.clear();
      REQUIRE(dlc_run(ctx, 0, nullptr, nullptr, 1) == DLC_OK);
      for (size_t l = 0; l < p.loops.size(); ++l) {
        auto [n, grain] = p.loops[l];
        CAPTURE(n);
        CAPTURE(grain);
        std::vector<Part> parts = sorted(p.parts[l]);
        const int64_t units = (n + grain - 1) / grain;
        CHECK(parts.size() == (size_t)(threads == 1 ? 1 : std::min<int64_t>(4 * threads, units)));
        int64_t next = 0;
        for (const Part &part : parts) {
          CHECK(part.begin == next);
          CHECK(part.end > part.begin);
          CHECK((part.end == n || part.end % grain == 0));
          next = part.end;
        }
        CHECK(next == n);
      }
      CHECK(p.threads.size() <= (size_t)threads);
      CHECK(p.allFlushDenormals);
    }
    dlc_destroy(ctx);
  }
  plan = nullptr;
}

// Parts that take a millisecond each: the caller cannot run all of them
// before the workers wake, so they must take some.
void slowPart(void *, int64_t, int64_t) {
  {
    std::lock_guard<std::mutex> hold(plan->lock);
    plan->threads.insert(std::this_thread::get_id());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
}
void slowEntry(char *, char *, const void *const *, void *const *, const dlc_exec *exec) {
  exec->parallel_for(exec, slowPart, nullptr, 64, 1);
}

TEST_CASE("threads: the workers take parts") {
  toy::ModelBuilder b{"slow", 0};
  b.addEntry("run", false, {}, {}, 0, slowEntry);
  const dlc_model_desc *desc = b.finish(3);
  Plan p;
  plan = &p;
  dlc_context *ctx = dlc_create(desc, 0);
  REQUIRE(ctx);
  REQUIRE(dlc_set_threads(ctx, 2) == DLC_OK);
  for (int run = 0; run < 5 && p.threads.size() < 2; ++run)
    REQUIRE(dlc_run(ctx, 0, nullptr, nullptr, 1) == DLC_OK);
  CHECK(p.threads.size() == 2);
  dlc_destroy(ctx);
  plan = nullptr;
}

TEST_CASE("threads: a result is the same bits at 1, 2, 3 and 7 threads") {
  toy::ModelBuilder b{"sums", 0};
  b.addInput("x", DLC_F32, {kRows, 97});
  b.addEntry("run", false, {0}, {b.tensor("y", DLC_F32, {kRows})}, 0, sumEntry);
  const dlc_model_desc *desc = b.finish(2);
  std::vector<float> x(kRows * 97);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float((i * 2654435761u) % 1000) / 997.0f - 0.5f;
  std::vector<float> first;
  for (int threads : {1, 2, 3, 7}) {
    dlc_context *ctx = dlc_create(desc, 0);
    REQUIRE(ctx);
    REQUIRE(dlc_set_threads(ctx, threads) == DLC_OK);
    std::vector<float> y(kRows, -1.0f);
    const void *in[] = {x.data()};
    void *out[] = {y.data()};
    REQUIRE(dlc_run(ctx, 0, in, out, 1) == DLC_OK);
    if (first.empty())
      first = y;
    CHECK(std::memcmp(first.data(), y.data(), y.size() * sizeof(float)) == 0);
    dlc_destroy(ctx);
  }
}

TEST_CASE("threads: dlc_set_threads checks its count, DLC_THREADS sets the default") {
  LoopsModel model;
  dlc_context *ctx = dlc_create(model.desc, 0);
  REQUIRE(ctx);
  CHECK(dlc_threads(ctx) >= 1);
  CHECK(dlc_set_threads(ctx, -1) == DLC_ERR_ARG);
  CHECK(std::string(dlc_error(ctx)) == "threads must be 0 (the default) or more, got -1");
  CHECK(dlc_set_threads(ctx, 1000) == DLC_OK);
  CHECK(dlc_threads(ctx) == 64);
  CHECK(dlc_set_threads(ctx, 3) == DLC_OK);
  CHECK(dlc_set_threads(ctx, 3) == DLC_OK); // unchanged: the workers stay
  CHECK(dlc_threads(ctx) == 3);
  CHECK(dlc_set_threads(nullptr, 2) == DLC_ERR_ARG);
  CHECK(dlc_threads(nullptr) == 0);
  dlc_destroy(ctx);

  const char *saved = getenv("DLC_THREADS");
  std::string keep = saved ? saved : "";
  setenv("DLC_THREADS", "5", 1);
  ctx = dlc_create(model.desc, 0);
  REQUIRE(ctx);
  CHECK(dlc_threads(ctx) == 5);
  CHECK(dlc_set_threads(ctx, 2) == DLC_OK);
  CHECK(dlc_set_threads(ctx, 0) == DLC_OK); // back to the default
  CHECK(dlc_threads(ctx) == 5);
  dlc_destroy(ctx);
  setenv("DLC_THREADS", "zero", 1); // not a positive number: the CPUs decide
  ctx = dlc_create(model.desc, 0);
  REQUIRE(ctx);
  CHECK(dlc_threads(ctx) >= 1);
  dlc_destroy(ctx);
  if (saved)
    setenv("DLC_THREADS", keep.c_str(), 1);
  else
    unsetenv("DLC_THREADS");
}

TEST_CASE("threads: a context in the caller's block runs on threads and stops them") {
  LoopsModel model;
  Plan p;
  plan = &p;
  p.loops = {{4096, 64}};
  size_t bytes = dlc_context_bytes(model.desc);
  void *block = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  for (int round = 0; round < 3; ++round) { // the block reused after each destroy
    dlc_context *ctx = dlc_create_in(model.desc, block, bytes, 0);
    REQUIRE(ctx);
    REQUIRE(dlc_set_threads(ctx, 4) == DLC_OK);
    p.parts.assign(1, {});
    for (int run = 0; run < 20; ++run)
      REQUIRE(dlc_run(ctx, 0, nullptr, nullptr, 1) == DLC_OK);
    CHECK(p.parts[0].size() == 4 * 4 * 20);
    dlc_destroy(ctx);
  }
  std::free(block);
  plan = nullptr;
}

TEST_CASE("threads: a child forked after the workers started runs and destroys its copy") {
  LoopsModel model;
  Plan p;
  plan = &p;
  p.loops = {{4096, 64}};
  p.parts.assign(1, {});
  dlc_context *ctx = dlc_create(model.desc, 0);
  REQUIRE(ctx);
  REQUIRE(dlc_set_threads(ctx, 2) == DLC_OK);
  REQUIRE(dlc_run(ctx, 0, nullptr, nullptr, 1) == DLC_OK);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The parent's workers do not exist here: the runs must not wait for
    // them, nor start others (the child runs on one thread), and destroy
    // must not join them.
    int ok = dlc_run(ctx, 0, nullptr, nullptr, 1) == DLC_OK;
    ok &= dlc_run(ctx, 0, nullptr, nullptr, 1) == DLC_OK;
    ok &= dlc_threads(ctx) == 1;
    dlc_destroy(ctx);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  for (int waited = 0; waited < 200 && waitpid(child, &status, WNOHANG) == 0; ++waited)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (waitpid(child, &status, WNOHANG) == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    FAIL("the forked child hung for 10 s");
  }
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  REQUIRE(dlc_run(ctx, 0, nullptr, nullptr, 1) == DLC_OK); // the parent's pool still works
  dlc_destroy(ctx);
  plan = nullptr;
}
