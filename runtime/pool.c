/* pool.c — a context's threads: how dlc_exec.parallel_for runs a kernel's
 * parts on them. No OpenMP: the parts are fixed by (n, grain, threads)
 * alone, each one runs the kernel's own code on its range, and nothing is
 * summed across parts, so a result is the same bits at any thread count. */
#include "runtime_internal.h"

#include <stdlib.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

/* About 1 ms of pause instructions: longer than the gap between two kernels
 * of an entry, short enough that an idle worker soon stops taking a core. */
#define DLCRT_SPINS (1 << 14)

static void cpu_relax(void) {
#if defined(__SSE2__)
  _mm_pause();
#endif
}

static unsigned int fp_mode(void) {
#if defined(__SSE2__)
  return _mm_getcsr();
#else
  return 0;
#endif
}

static void set_fp_mode(unsigned int mode) {
#if defined(__SSE2__)
  if (_mm_getcsr() != mode)
    _mm_setcsr(mode);
#else
  (void)mode;
#endif
}

int dlcrt_default_threads(void) {
  const char *env = getenv("DLC_THREADS");
  if (env && *env) {
    char *end;
    long n = strtol(env, &end, 10);
    if (*end == '\0' && n > 0)
      return n > DLCRT_MAX_THREADS ? DLCRT_MAX_THREADS : (int)n;
  }
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1)
    return 1;
  return cpus > DLCRT_MAX_THREADS ? DLCRT_MAX_THREADS : (int)cpus;
}

void dlcrt_pool_init(dlcrt_pool *pool, int threads) {
  pool->threads = threads < 1 ? 1 : threads > DLCRT_MAX_THREADS ? DLCRT_MAX_THREADS : threads;
  pool->started = 0;
  pool->sync_ready = 0;
  atomic_init(&pool->generation, 0);
  atomic_init(&pool->pending, 0);
  atomic_init(&pool->sleeping, 0);
  atomic_init(&pool->active, 0);
  atomic_init(&pool->stop, 0);
}

/* Part `part` of the current task: units [units*part/parts, ...) of grain
 * iterations each, the last one ending at n. */
static void run_part(dlcrt_pool *pool, int part) {
  if (part >= pool->parts)
    return;
  const int64_t units = (pool->n + pool->grain - 1) / pool->grain;
  const int64_t u0 = units * part / pool->parts, u1 = units * (part + 1) / pool->parts;
  const int64_t begin = u0 * pool->grain;
  const int64_t end = u1 * pool->grain < pool->n ? u1 * pool->grain : pool->n;
  if (begin < end)
    pool->task(pool->args, begin, end);
}

static void *worker_main(void *arg) {
  dlcrt_worker *w = (dlcrt_worker *)arg;
  dlcrt_pool *pool = w->pool;
  uint_least64_t seen = w->seen;
  for (;;) {
    uint_least64_t now;
    int spins = 0;
    while ((now = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen) {
      if (atomic_load_explicit(&pool->stop, memory_order_relaxed))
        return NULL;
      if (spins < DLCRT_SPINS && atomic_load_explicit(&pool->active, memory_order_relaxed)) {
        ++spins;
        cpu_relax();
        continue;
      }
      /* Sleeping is announced before the last look at the generation, and
       * the caller bumps it before it looks at `sleeping`: one of the two
       * sees the other, so no wake-up is lost. */
      pthread_mutex_lock(&pool->lock);
      atomic_fetch_add(&pool->sleeping, 1);
      while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop))
        pthread_cond_wait(&pool->wake, &pool->lock);
      atomic_fetch_sub(&pool->sleeping, 1);
      pthread_mutex_unlock(&pool->lock);
      spins = 0;
    }
    seen = now;
    set_fp_mode(pool->mxcsr);
    run_part(pool, w->index);
    atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel);
  }
}

int dlcrt_pool_start(dlcrt_pool *pool) {
  if (pool->started > 0 || pool->threads <= 1)
    return pool->started;
  if (!pool->sync_ready) {
    if (pthread_mutex_init(&pool->lock, NULL) != 0)
      return 0;
    if (pthread_cond_init(&pool->wake, NULL) != 0) {
      pthread_mutex_destroy(&pool->lock);
      return 0;
    }
    pool->sync_ready = 1;
  }
  atomic_store(&pool->stop, 0);
  for (int i = 0; i < pool->threads - 1; ++i) {
    dlcrt_worker *w = &pool->workers[i];
    w->pool = pool;
    w->index = i + 1;
    w->seen = atomic_load(&pool->generation);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
      break; /* the threads that did start share the work */
    pool->started = i + 1;
  }
  return pool->started;
}

void dlcrt_pool_stop(dlcrt_pool *pool) {
  if (pool->started > 0) {
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->started; ++i)
      pthread_join(pool->workers[i].thread, NULL);
    pool->started = 0;
  }
  if (pool->sync_ready) {
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    pool->sync_ready = 0;
  }
}

void dlcrt_pool_enter(dlcrt_pool *pool) { atomic_store(&pool->active, 1); }
void dlcrt_pool_leave(dlcrt_pool *pool) { atomic_store(&pool->active, 0); }

void dlcrt_parallel_for(const dlc_exec *exec, dlc_task_fn task, void *args, int64_t n,
                        int64_t grain) {
  if (n <= 0)
    return;
  if (grain < 1)
    grain = 1;
  dlcrt_pool *pool = (dlcrt_pool *)exec->pool;
  const int64_t units = (n + grain - 1) / grain;
  int parts = pool ? pool->threads : 1;
  if (parts > units)
    parts = (int)units;
  if (parts > 1 && dlcrt_pool_start(pool) + 1 < parts)
    parts = pool->started + 1;
  if (parts <= 1) {
    task(args, 0, n);
    return;
  }
  pool->task = task;
  pool->args = args;
  pool->n = n;
  pool->grain = grain;
  pool->parts = parts;
  pool->mxcsr = fp_mode();
  /* Every worker answers, those without a part too: none may still be
   * reading this task when the next one is written. */
  atomic_store(&pool->pending, pool->started);
  atomic_fetch_add(&pool->generation, 1);
  if (atomic_load(&pool->sleeping) > 0) {
    pthread_mutex_lock(&pool->lock);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
  }
  run_part(pool, 0);
  while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0)
    cpu_relax();
}

int dlc_set_threads(dlc_context *ctx, int threads) {
  if (!ctx)
    return DLC_ERR_ARG;
  if (threads < 0)
    return dlcrt_fail(ctx, DLC_ERR_ARG, "threads must be 0 (the default) or more, got %d",
                      threads);
  const int want = threads == 0 ? dlcrt_default_threads()
                   : threads > DLCRT_MAX_THREADS ? DLCRT_MAX_THREADS
                                                 : threads;
  if (want != ctx->pool.threads) {
    dlcrt_pool_stop(&ctx->pool);
    dlcrt_pool_init(&ctx->pool, want);
  }
  dlcrt_pool_start(&ctx->pool);
  return DLC_OK;
}

int dlc_threads(const dlc_context *ctx) { return ctx ? ctx->pool.threads : 0; }
