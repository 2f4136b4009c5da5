/* Run with a checkpoint of mnist_mlp, against a library compiled with
 * --weights from it: every context the library creates, whatever its seed
 * and however it is created, holds exactly that checkpoint's variables. */
#include "trained.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Alignas(MNIST_MLP_ALIGNMENT) char block[MNIST_MLP_CONTEXT_BYTES];

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CHECKPOINT\n", argv[0]);
    return 2;
  }
  mnist_mlp *a = mnist_mlp_create(1), *b = mnist_mlp_create_in(block, sizeof block, 99);
  mnist_mlp *loaded = mnist_mlp_create(5);
  if (!a || !b || !loaded || mnist_mlp_load(loaded, argv[1]) != 0) {
    fprintf(stderr, "setup failed: %s\n", loaded ? mnist_mlp_error(loaded) : "create");
    return 1;
  }
  const dlc_model_desc *m = mnist_mlp_metadata();
  int same = 0;
  for (int v = 0; v < m->n_vars; ++v) {
    const size_t n = (size_t)m->vars[v].numel;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *z = malloc(n * sizeof *z);
    mnist_mlp_get_param(a, m->vars[v].name, x, n);
    mnist_mlp_get_param(b, m->vars[v].name, y, n);
    mnist_mlp_get_param(loaded, m->vars[v].name, z, n);
    if (memcmp(x, z, n * sizeof *x) == 0 && memcmp(y, z, n * sizeof *y) == 0)
      ++same;
    else
      printf("differs: %s\n", m->vars[v].name);
    free(x), free(y), free(z);
  }
  printf("%d of %d variables equal the checkpoint's\n", same, (int)m->n_vars);
  mnist_mlp_destroy(a);
  mnist_mlp_destroy(b);
  mnist_mlp_destroy(loaded);
  return same == m->n_vars ? 0 : 1;
}
