/* The ceiling for dlc's matmul: OpenBLAS's cblas_sgemm on N x N row-major
 * float matrices (C = A B), the product tools/bench/matmul.dl asks dlc for.
 * Prints `sgemm <N> <median seconds>`, timed as `dlc bench` times an entry
 * (peer_common.h); compare.py turns it into GFLOP/s (2 N^3 flops a call).
 * Threads are OpenBLAS's: OPENBLAS_NUM_THREADS.
 * Build: cc -O3 -march=native -o sgemm sgemm.c -lopenblas -lm
 * Run:   OPENBLAS_NUM_THREADS=1 ./sgemm [--n 1024] [--rounds 5] */
#include <cblas.h>

#include "peer_common.h"

typedef struct { int n; const float *a, *b; float *c; } Run;

static void run_sgemm(void *p) {
  Run *r = p;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r->n, r->n, r->n, 1, r->a, r->n, r->b, r->n,
              0, r->c, r->n);
}

int main(int argc, char **argv) {
  PeerArgs a = peer_args(argc, argv, 1);
  peer_flush_denormals();
  /* The library and the threads it runs on, for compare.py to check. */
  printf("# %s; %d threads\n", openblas_get_config(), openblas_get_num_threads());
  size_t nn = (size_t)a.n * a.n;
  float *A = malloc(sizeof(float) * nn), *Bm = malloc(sizeof(float) * nn), *Cm = malloc(sizeof(float) * nn);
  srand(1);
  /* Values like dlc bench's input and glorot weights: the product's cost does
   * not depend on them, but denormals would. */
  for (size_t i = 0; i < nn; i++) A[i] = (float)rand() / RAND_MAX;
  for (size_t i = 0; i < nn; i++) Bm[i] = ((float)rand() / RAND_MAX - 0.5f) * 0.1f;
  Run r = {a.n, A, Bm, Cm};
  printf("sgemm %d %.9g\n", a.n, peer_median_seconds(run_sgemm, &r, a.rounds));
  return 0;
}
