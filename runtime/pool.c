/* pool.c — a context's threads: how dlc_exec.parallel_for runs a kernel's
 * parts on them. No OpenMP. A part is a range of whole grains, so each one
 * runs the kernel's own code on iterations it treats the same way at any
 * cut, and nothing is summed across parts: a result is the same bits at any
 * thread count. There are a few parts per thread, and each thread, the
 * caller included, claims the next part until none is left, so a worker the
 * system has descheduled (another process on the same cores) delays no one:
 * the others take its parts. */
#include "runtime_internal.h"

#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

/* How long an idle worker spins before it sleeps: while an entry runs,
 * longer than the gap between two of its shared kernels; after it, long
 * enough that a program calling entries back to back (a training loop,
 * one-row predicts) finds the workers awake, since waking a sleeping one
 * costs tens of microseconds. */
#define DLCRT_SPIN_IN_ENTRY_NS 2000000
#define DLCRT_SPIN_AFTER_ENTRY_NS 300000
/* After this long, a spinning thread yields its core at each look: when
 * more threads want the cores than there are (another busy process), the
 * one that has work then gets to run it. */
#define DLCRT_YIELD_AFTER_NS 20000

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

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
  atomic_init(&pool->claims, 0);
  atomic_init(&pool->done, 0);
  atomic_init(&pool->sleeping, 0);
  atomic_init(&pool->active, 0);
  atomic_init(&pool->stop, 0);
}

/* The claims word: which task (the low bits of its generation), how many
 * parts it has and the next part to take. A thread takes a part by moving
 * `next` on with a compare-and-swap that also checks the task, so a thread
 * late for a task takes nothing from the next one; only after a successful
 * claim does it read the task's fields, which the caller does not rewrite
 * before every part is done. */
#define CLAIM_BITS 16
#define CLAIM_MASK ((1u << CLAIM_BITS) - 1)
static uint_least64_t claims_word(uint_least64_t generation, int parts) {
  return (generation << (2 * CLAIM_BITS)) | ((uint_least64_t)parts << CLAIM_BITS);
}

/* Runs parts of the task of `generation` until none is left; how many. */
static int run_parts(dlcrt_pool *pool, uint_least64_t generation, int worker) {
  int ran = 0;
  uint_least64_t word = atomic_load_explicit(&pool->claims, memory_order_acquire);
  for (;;) {
    if ((word >> (2 * CLAIM_BITS)) != (generation & ((1ull << (64 - 2 * CLAIM_BITS)) - 1)))
      return ran; /* another task's word: this one is over */
    const int parts = (int)((word >> CLAIM_BITS) & CLAIM_MASK), part = (int)(word & CLAIM_MASK);
    if (part >= parts)
      return ran;
    if (!atomic_compare_exchange_weak_explicit(&pool->claims, &word, word + 1,
                                               memory_order_acq_rel, memory_order_acquire))
      continue; /* word now holds the current value */
    if (worker)
      set_fp_mode(pool->mxcsr);
    /* Units [units*part/parts, units*(part+1)/parts) of grain iterations,
     * the last part ending at n. */
    const int64_t units = (pool->n + pool->grain - 1) / pool->grain;
    const int64_t u0 = units * part / parts, u1 = units * (part + 1) / parts;
    const int64_t begin = u0 * pool->grain;
    const int64_t end = u1 * pool->grain < pool->n ? u1 * pool->grain : pool->n;
    if (begin < end)
      pool->task(pool->args, begin, end);
    atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
    ++ran;
    word = atomic_load_explicit(&pool->claims, memory_order_acquire);
  }
}

static void *worker_main(void *arg) {
  dlcrt_worker *w = (dlcrt_worker *)arg;
  dlcrt_pool *pool = w->pool;
  uint_least64_t seen = w->seen;
  for (;;) {
    uint_least64_t now;
    unsigned spins = 0;
    int64_t idle_since = now_ns();
    while ((now = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen) {
      if (atomic_load_explicit(&pool->stop, memory_order_relaxed))
        return NULL;
      cpu_relax();
      if (++spins % 64 != 0) /* the clock, every 64 pauses */
        continue;
      const int64_t limit = atomic_load_explicit(&pool->active, memory_order_relaxed)
                                ? DLCRT_SPIN_IN_ENTRY_NS
                                : DLCRT_SPIN_AFTER_ENTRY_NS;
      const int64_t idle = now_ns() - idle_since;
      if (idle < limit) {
        if (idle > DLCRT_YIELD_AFTER_NS)
          sched_yield();
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
      idle_since = now_ns();
    }
    seen = now;
    run_parts(pool, now, 1);
  }
}

/* In a child forked after the workers started, they do not exist: the pool
 * forgets them (their mutex and condition variable may be in any state, so
 * they are left alone) and runs on the calling thread alone until
 * dlc_set_threads asks for more. Children of a fork are usually many (a
 * process pool): threads of their own would oversubscribe the cores. */
static void forget_if_forked(dlcrt_pool *pool) {
  if (pool->started > 0 && pool->owner != (int)getpid()) {
    pool->started = 0;
    pool->sync_ready = 0;
    pool->threads = 1;
  }
}

int dlcrt_pool_start(dlcrt_pool *pool) {
  forget_if_forked(pool);
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
  pool->owner = (int)getpid();
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
  forget_if_forked(pool);
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
  int threads = pool ? pool->threads : 1;
  /* Work of one grain (a one-row predict) runs here without a look at the
   * pool. */
  if (threads > 1 && units > 1 && dlcrt_pool_start(pool) + 1 < threads)
    threads = pool->started + 1;
  /* Four parts a thread: a late worker's share is taken by the others in
   * pieces, not waited for. */
  int64_t parts = (int64_t)threads * 4;
  if (parts > units)
    parts = units;
  if (threads <= 1 || parts <= 1) {
    task(args, 0, n);
    return;
  }
  pool->task = task;
  pool->args = args;
  pool->n = n;
  pool->grain = grain;
  pool->mxcsr = fp_mode();
  atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
  const uint_least64_t generation = atomic_load(&pool->generation) + 1;
  /* The fields above, then the claims word, then the generation the
   * sleepers wait on: a worker that sees either sees the fields. */
  atomic_store_explicit(&pool->claims, claims_word(generation, (int)parts),
                        memory_order_release);
  atomic_store(&pool->generation, generation);
  if (atomic_load(&pool->sleeping) > 0) {
    pthread_mutex_lock(&pool->lock);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
  }
  run_parts(pool, generation, 0);
  /* The last parts are a worker's: wait, and yield if it takes long (the
   * worker may be waiting for this core). */
  int64_t since = 0;
  for (unsigned spins = 0; atomic_load_explicit(&pool->done, memory_order_acquire) < parts;) {
    cpu_relax();
    if (++spins % 64 == 0) {
      if (!since)
        since = now_ns();
      else if (now_ns() - since > DLCRT_YIELD_AFTER_NS)
        sched_yield();
    }
  }
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
