/* runtime_internal.h — what the runtime's own C files share and nothing else
 * sees: the context's layout, error reporting and the RNG. Not installed, not
 * part of the ABI; every symbol is hidden (dlcrt is built with hidden
 * visibility) and prefixed dlcrt_ so it cannot clash with the public dlc_*. */
#ifndef DLC_RUNTIME_INTERNAL_H
#define DLC_RUNTIME_INTERNAL_H

#include "dlc_runtime.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define DLCRT_ALIGN 64
#define DLCRT_ERROR_CAPACITY 512

#define DLCRT_MAX_THREADS 64

typedef struct dlcrt_pool dlcrt_pool;
typedef struct dlcrt_worker {
  dlcrt_pool *pool;
  int index; /* 1.. ; the caller runs part 0 */
  uint_least64_t seen; /* the generation before its first task, set before it starts */
  pthread_t thread;
} dlcrt_worker;

/* A context's threads (pool.c): the caller and threads - 1 workers. The
 * caller writes a task's fields, then `claims` (the task's parts and the
 * next one to take), then bumps `generation`, which wakes the workers; each
 * thread claims parts until none is left and counts them in `done`, which
 * the caller waits to reach the number of parts. An idle worker spins, 2 ms
 * while an entry runs (`active`: its kernels come microseconds apart) and
 * 0.3 ms after it (the next call is often that close), then sleeps on
 * `wake`. */
struct dlcrt_pool {
  int threads;  /* wanted, the caller included: 1..DLCRT_MAX_THREADS */
  int started;  /* workers running */
  int owner;    /* getpid() of the process that started them: a forked
                   child has the pool's memory but none of its threads */
  int sync_ready; /* lock and wake are initialised */
  pthread_mutex_t lock;
  pthread_cond_t wake;
  atomic_uint_least64_t generation;
  atomic_uint_least64_t claims;
  atomic_int done;
  atomic_int sleeping;
  atomic_int active;
  atomic_int stop;
  dlc_task_fn task;
  void *args;
  int64_t n, grain;
  unsigned int mxcsr; /* the caller's floating-point mode, for the workers */
  dlcrt_worker workers[DLCRT_MAX_THREADS - 1];
};

void dlcrt_pool_init(dlcrt_pool *pool, int threads);
void dlcrt_pool_stop(dlcrt_pool *pool); /* joins the workers; they restart on demand */
int dlcrt_pool_start(dlcrt_pool *pool); /* starts the workers now; how many run */
int dlcrt_default_threads(void);
/* Brackets one entry call: workers spin for tasks in between. */
void dlcrt_pool_enter(dlcrt_pool *pool);
void dlcrt_pool_leave(dlcrt_pool *pool);
void dlcrt_parallel_for(const dlc_exec *exec, dlc_task_fn task, void *args, int64_t n,
                        int64_t grain);

/* A context and everything it points to are one block (context.c lays it
 * out); the context is the block's first bytes. */
struct dlc_context {
  const dlc_model_desc *model;
  int owns_block;              /* dlc_create's block, freed by dlc_destroy */
  char *state;                 /* model->state_bytes, DLCRT_ALIGN-aligned */
  char *arena;                 /* max arena_bytes over entries */
  char *staging;               /* partial-batch copies; NULL if none needed */
  void **staged_inputs;        /* per model input: full-batch buffer or NULL */
  void **staged_outputs;       /* flattened: entry e's outputs start at output_base[e] */
  int32_t *output_base;        /* per entry */
  const void **call_inputs;    /* scratch pointer tables for dlc_run, sized to */
  void **call_outputs;         /* the widest entry, so running never allocates */
  char error[DLCRT_ERROR_CAPACITY];
  dlcrt_pool pool;
};

/* Formats a message into ctx->error (truncated to fit) and returns `code`,
 * so a failure path reads `return dlcrt_fail(ctx, DLC_ERR_ARG, "...")`. */
int dlcrt_fail(dlc_context *ctx, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

size_t dlcrt_dtype_size(int32_t dtype); /* 0 for an unknown dtype */

/* xoshiro256** (Blackman & Vigna) — see rng.c for why. */
typedef struct dlcrt_rng {
  uint64_t s[4];
  double spare_normal; /* Box–Muller yields pairs; the second waits here */
  int has_spare;
} dlcrt_rng;

/* Independent streams: the same (seed, stream) always gives the same
 * sequence, and different streams are decorrelated by splitmix64. */
void dlcrt_rng_seed(dlcrt_rng *rng, uint64_t seed, uint64_t stream);
uint64_t dlcrt_rng_next(dlcrt_rng *rng);
float dlcrt_rng_uniform(dlcrt_rng *rng, float lo, float hi); /* [lo, hi) */
float dlcrt_rng_normal(dlcrt_rng *rng, float mean, float stddev);
uint64_t dlcrt_hash_name(const char *name); /* FNV-1a, for per-variable streams */

#endif /* DLC_RUNTIME_INTERNAL_H */
