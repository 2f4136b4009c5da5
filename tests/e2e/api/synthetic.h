/* synthetic.h — a learnable stand-in for Fashion-MNIST, so the API tests
 * need no data files: an image of class k is noise with its row 2k lit. */
#ifndef DLC_TEST_SYNTHETIC_H
#define DLC_TEST_SYNTHETIC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                     \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);          \
      exit(1);                                                                          \
    }                                                                                   \
  } while (0)
/* An API call that must succeed; on failure, the library's message. */
#define CHECK_OK(call, ctx, error_fn)                                                   \
  do {                                                                                  \
    if ((call) != 0) {                                                                  \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,             \
              error_fn(ctx));                                                           \
      exit(1);                                                                          \
    }                                                                                   \
  } while (0)

static uint32_t synthetic_next(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

/* `rows` images of 28x28 and their labels, from the stream `*s`. */
static void synthetic_batch(uint32_t *s, float *x, int32_t *y, int rows) {
  for (int r = 0; r < rows; ++r) {
    const int32_t label = (int32_t)(synthetic_next(s) % 10u);
    for (int p = 0; p < 28 * 28; ++p)
      x[r * 784 + p] = 0.2f * (float)(synthetic_next(s) % 1000u) / 1000.0f;
    for (int c = 0; c < 28; ++c)
      x[r * 784 + 2 * label * 28 + c] = 1.0f;
    if (y)
      y[r] = label;
  }
}

#endif
