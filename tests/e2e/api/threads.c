/* Separate contexts on separate threads: four threads train and predict at
 * once, each on its own context (two from create, two in caller-owned
 * blocks), and each must get bit for bit what the same calls give alone.
 * Built with -fsanitize=thread in a SANITIZE=thread tree, this is also the
 * ThreadSanitizer test of the generated library. */
#include "mnist_mlp.h"
#include "synthetic.h"

#include <pthread.h>
#include <string.h>

enum { kThreads = 4, kSteps = 12, kRows = 9 };
enum { kTrace = kSteps * (1 + kRows * 10) };

typedef struct work {
  int index;
  float trace[kTrace];
  int failed;
} work;

static _Alignas(MNIST_MLP_ALIGNMENT) char blocks[2][MNIST_MLP_CONTEXT_BYTES];

static void *run(void *arg) {
  work *wk = arg;
  /* Buffers of its own: the thread shares nothing with the others. */
  float *x = malloc(sizeof(float) * MNIST_MLP_X_NUMEL);
  int32_t *y = malloc(sizeof(int32_t) * MNIST_MLP_Y_NUMEL);
  float *probs = malloc(sizeof(float) * MNIST_MLP_PROBS_NUMEL);
  const uint64_t seed = 100 + (uint64_t)wk->index;
  mnist_mlp *ctx = wk->index < 2 ? mnist_mlp_create(seed)
                                 : mnist_mlp_create_in(blocks[wk->index - 2],
                                                       MNIST_MLP_CONTEXT_BYTES, seed);
  wk->failed = !ctx || !x || !y || !probs;
  uint32_t s = 1000u + (uint32_t)wk->index;
  float *out = wk->trace;
  for (int k = 0; k < kSteps && !wk->failed; ++k) {
    synthetic_batch(&s, x, y, MNIST_MLP_BATCH);
    wk->failed |= mnist_mlp_step(ctx, x, y, out++) != 0;
    wk->failed |= mnist_mlp_predict(ctx, x, kRows, probs) != 0;
    memcpy(out, probs, sizeof(float) * kRows * 10);
    out += kRows * 10;
  }
  mnist_mlp_destroy(ctx);
  free(x);
  free(y);
  free(probs);
  return NULL;
}

int main(void) {
  static work alone[kThreads], together[kThreads];
  for (int i = 0; i < kThreads; ++i) {
    alone[i].index = together[i].index = i;
    run(&alone[i]);
    CHECK(!alone[i].failed);
  }
  pthread_t threads[kThreads];
  for (int i = 0; i < kThreads; ++i)
    CHECK(pthread_create(&threads[i], NULL, run, &together[i]) == 0);
  for (int i = 0; i < kThreads; ++i)
    CHECK(pthread_join(threads[i], NULL) == 0);
  for (int i = 0; i < kThreads; ++i) {
    CHECK(!together[i].failed);
    CHECK(memcmp(alone[i].trace, together[i].trace, sizeof alone[i].trace) == 0);
  }
  /* Different seeds and data gave different runs: the comparison means something. */
  CHECK(memcmp(alone[0].trace, alone[1].trace, sizeof alone[0].trace) != 0);
  printf("threads: %d contexts on %d threads, bit-identical to running alone\n", kThreads,
         kThreads);
  return 0;
}
