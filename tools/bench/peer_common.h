/* What the C peer programs of tools/bench share: the command line, the
 * batches they run on, the floating-point mode and the way they time a call.
 * compare.py builds and runs them; each prints a first line `# <OpenBLAS's
 * configuration>; <n> threads`, then one line per figure, `<entry> <rows>
 * <median seconds>`.
 *
 * Timing is `dlc bench`'s own (runtime/host/Bench.cpp), so that dlc's figures
 * and the peers' mean the same: warm up for at least 5 calls and 0.1 s, size a
 * round to about 0.2 s from that, and report the median over timed rounds. */
#ifndef PEER_COMMON_H
#define PEER_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

typedef struct {
  int batch;        /* --batch: rows of a train step and of the larger predict */
  int rounds;       /* --rounds: timed rounds per figure (the median is printed) */
  int n;            /* --n: the matrix size of sgemm */
  const char *data; /* --data: a file of images and labels (peer_load_batches) */
} PeerArgs;

static inline void peer_usage(const char *prog) {
  fprintf(stderr, "usage: %s [--batch B] [--rounds R] [--data FILE] [--n N]\n", prog);
  exit(2);
}

static inline PeerArgs peer_args(int argc, char **argv, int default_batch) {
  PeerArgs a = {default_batch, 5, 1024, NULL};
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) peer_usage(argv[0]);
    const char *opt = argv[i], *val = argv[++i];
    if (!strcmp(opt, "--data")) { a.data = val; continue; }
    int v = atoi(val);
    if (v < 1) peer_usage(argv[0]);
    if (!strcmp(opt, "--batch")) a.batch = v;
    else if (!strcmp(opt, "--rounds")) a.rounds = v;
    else if (!strcmp(opt, "--n")) a.n = v;
    else peer_usage(argv[0]);
  }
  return a;
}

/* dlc runs its compiled code with denormals flushed to zero and read as zero
 * (FTZ and DAZ, runtime/context.c), and so do the peers: in the default mode,
 * once the Adam moments of units that no longer get a gradient decay into the
 * denormal range, every float op on them takes a microcode assist, and the
 * hand-written MLP's train step became 2.5-5x slower. OpenBLAS's own threads
 * keep their mode, but its kernels only read what the peers compute. */
static inline void peer_flush_denormals(void) {
#if defined(__SSE__)
  _mm_setcsr(_mm_getcsr() | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
#endif
}

static inline double peer_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline int peer_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median seconds per call of fn(ctx) over `rounds` timed rounds. */
static inline double peer_median_seconds(void (*fn)(void *), void *ctx, int rounds) {
  double start = peer_now();
  long calls = 0;
  do { fn(ctx); calls++; } while (calls < 5 || peer_now() - start < 0.1);
  long per_round = (long)(0.2 / ((peer_now() - start) / calls));
  if (per_round < 3) per_round = 3;
  double *samples = malloc(sizeof(double) * rounds);
  for (int r = 0; r < rounds; r++) {
    double t0 = peer_now();
    for (long k = 0; k < per_round; k++) fn(ctx);
    samples[r] = (peer_now() - t0) / per_round;
  }
  qsort(samples, rounds, sizeof(double), peer_cmp);
  double median = samples[rounds / 2];
  free(samples);
  return median;
}

/* The lines compare.py reads: the train step at the batch, then predict at
 * the batch and at one row. `rows` is where run_predict finds its count. */
static inline void peer_report(int batch, int rounds, void (*run_step)(void *),
                               void (*run_predict)(void *), void *run, int *rows) {
  printf("step %d %.9g\n", batch, peer_median_seconds(run_step, run, rounds));
  int predict_rows[] = {batch, 1};
  for (int j = 0; j < (batch > 1 ? 2 : 1); j++) {
    *rows = predict_rows[j];
    printf("predict %d %.9g\n", *rows, peer_median_seconds(run_predict, run, rounds));
  }
}

/* The images x (rows x 784 floats) and labels y the models run on. With a data
 * file (compare.py writes consecutive Fashion-MNIST training images, pixels /
 * 255 as float32, then their labels as int32), as many rows as it holds, at
 * least min_rows; without one, min_rows of uniform [0, 1) pixels and random
 * labels, as the original programs had. Returns the row count. */
static inline int peer_load_batches(const char *path, int min_rows, float **x, int **y) {
  enum { PIXELS = 784 };
  int rows = min_rows;
  FILE *f = NULL;
  if (path) {
    f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    rows = (int)(ftell(f) / (PIXELS * sizeof(float) + sizeof(int)));
    rewind(f);
    if (rows < min_rows) { fprintf(stderr, "%s: %d rows, need %d\n", path, rows, min_rows); exit(1); }
  }
  *x = malloc(sizeof(float) * rows * PIXELS);
  *y = malloc(sizeof(int) * rows);
  if (f) {
    if (fread(*x, sizeof(float) * PIXELS, rows, f) != (size_t)rows ||
        fread(*y, sizeof(int), rows, f) != (size_t)rows) { fprintf(stderr, "%s: short read\n", path); exit(1); }
    fclose(f);
    for (int i = 0; i < rows; i++)
      if ((*y)[i] < 0 || (*y)[i] > 9) { fprintf(stderr, "%s: label %d of row %d\n", path, (*y)[i], i); exit(1); }
  } else {
    for (int i = 0; i < rows * PIXELS; i++) (*x)[i] = (float)rand() / RAND_MAX;
    for (int i = 0; i < rows; i++) (*y)[i] = rand() % 10;
  }
  return rows;
}

#endif
