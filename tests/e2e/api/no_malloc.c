/* The header promises that nothing is allocated after create and
 * set_threads: predict (full and partial batches), a train step and the
 * params by name run without calling the allocator, on two threads. This program replaces glibc's allocator entry points
 * with counting wrappers (the executable's definitions come first in symbol
 * lookup, so model.so's calls reach them too) and counts the calls made
 * inside those functions. Not built with the sanitizers, which own malloc. */
#define _GNU_SOURCE
#include "mnist_mlp.h"
#include "synthetic.h"

#include <errno.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static int counting;
static long allocations;

void *malloc(size_t n) {
  allocations += counting;
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t size) {
  allocations += counting;
  return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
  allocations += counting;
  return __libc_realloc(p, n);
}
void *aligned_alloc(size_t alignment, size_t n) {
  allocations += counting;
  return __libc_memalign(alignment, n);
}
void *memalign(size_t alignment, size_t n) {
  allocations += counting;
  return __libc_memalign(alignment, n);
}
int posix_memalign(void **out, size_t alignment, size_t n) {
  allocations += counting;
  void *p = __libc_memalign(alignment, n);
  if (!p)
    return ENOMEM;
  *out = p;
  return 0;
}
void free(void *p) { __libc_free(p); }

static float x[MNIST_MLP_X_NUMEL], probs[MNIST_MLP_PROBS_NUMEL], w[784 * 128];
static int32_t y[MNIST_MLP_Y_NUMEL];

int main(void) {
  /* The hook sees create's allocation: a test that could not fail would
   * count nothing here either. */
  counting = 1;
  mnist_mlp *ctx = mnist_mlp_create(3);
  counting = 0;
  CHECK(ctx != NULL);
  printf("allocations in create: %ld\n", allocations);
  CHECK(allocations > 0);
  /* Starting the workers is where the C library may allocate (their TLS). */
  CHECK(mnist_mlp_set_threads(ctx, 2) == 0);

  uint32_t s = 11;
  synthetic_batch(&s, x, y, MNIST_MLP_BATCH);
  allocations = 0;
  counting = 1;
  float loss = 0;
  int rc = 0;
  for (int k = 0; k < 3; ++k) {
    rc |= mnist_mlp_step(ctx, x, y, &loss);
    rc |= mnist_mlp_predict(ctx, x, MNIST_MLP_BATCH, probs);
    rc |= mnist_mlp_predict(ctx, x, 7, probs); /* staged: partial batch */
    rc |= mnist_mlp_get_param(ctx, "dense_1.w", w, 784 * 128);
    rc |= mnist_mlp_set_param(ctx, "dense_1.w", w, 784 * 128);
  }
  y[5] = 10; /* refused, with a message, still without allocating */
  const int refused = mnist_mlp_step(ctx, x, y, &loss);
  counting = 0;
  CHECK(rc == 0);
  CHECK(refused != 0);
  printf("allocations in steps, predicts and params: %ld\n", allocations);
  CHECK(allocations == 0);
  mnist_mlp_destroy(ctx);
  printf("no malloc: ok\n");
  return 0;
}
