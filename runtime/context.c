/* context.c — model contexts: allocation, variable initialisation, running
 * entries (with partial-batch staging for the entries that need it) and
 * error reporting. */
#include "runtime_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

int dlcrt_fail(dlc_context *ctx, int code, const char *fmt, ...) {
  if (ctx) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(ctx->error, sizeof ctx->error, fmt, args);
    va_end(args);
  }
  return code;
}

size_t dlcrt_dtype_size(int32_t dtype) {
  switch (dtype) {
  case DLC_F32: return sizeof(float);
  case DLC_I32: return sizeof(int32_t);
  default: return 0;
  }
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

static size_t tensor_bytes(const dlc_tensor_desc *t) {
  return (size_t)t->numel * dlcrt_dtype_size(t->dtype);
}

/* Bytes per batch row, or 0 if the tensor has no leading batch dimension
 * (such a tensor is copied whole when staging). */
static size_t row_bytes(const dlc_model_desc *m, const dlc_tensor_desc *t) {
  if (m->batch <= 0 || t->rank < 1 || t->dims[0] != m->batch)
    return 0;
  return tensor_bytes(t) / (size_t)m->batch;
}

/* A descriptor comes from our own codegen, but one whose variables overflow
 * the state block or whose entries name missing inputs would corrupt memory
 * silently, so it is refused here. */
static int descriptor_is_sane(const dlc_model_desc *m) {
  for (int32_t i = 0; i < m->n_vars; ++i) {
    const dlc_tensor_desc *v = &m->vars[i];
    if (v->offset < 0 || v->numel < 0 || dlcrt_dtype_size(v->dtype) == 0 ||
        v->offset + (int64_t)tensor_bytes(v) > m->state_bytes)
      return 0;
  }
  for (int32_t e = 0; e < m->n_entries; ++e) {
    const dlc_entry_desc *entry = &m->entries[e];
    if (entry->n_inputs < 0 || entry->n_outputs < 0 || entry->arena_bytes < 0)
      return 0;
    for (int32_t i = 0; i < entry->n_inputs; ++i)
      if (entry->inputs[i] < 0 || entry->inputs[i] >= m->n_inputs)
        return 0;
  }
  return 1;
}

static void init_variable(char *state, const dlc_tensor_desc *v, uint64_t seed) {
  /* The stream is the variable's name, not its index, so adding, removing or
   * reordering other variables leaves this one's initial values unchanged. */
  dlcrt_rng rng;
  dlcrt_rng_seed(&rng, seed, dlcrt_hash_name(v->name));
  for (int64_t i = 0; i < v->numel; ++i) {
    float value;
    switch (v->init) {
    case DLC_INIT_CONSTANT: value = v->init_a; break;
    case DLC_INIT_NORMAL: value = dlcrt_rng_normal(&rng, v->init_a, v->init_b); break;
    case DLC_INIT_UNIFORM: value = dlcrt_rng_uniform(&rng, v->init_a, v->init_b); break;
    default: value = 0.0f; break;
    }
    if (v->dtype == DLC_I32) {
      int32_t iv = (int32_t)value;
      memcpy(state + v->offset + 4 * i, &iv, sizeof iv);
    } else {
      memcpy(state + v->offset + 4 * i, &value, sizeof value);
    }
  }
}

/* Why the last dlc_create on this thread returned NULL: there is no context
 * to hold the message, and a thread's own copy keeps threads apart. */
static _Thread_local char create_error[DLCRT_ERROR_CAPACITY];

static dlc_context *create_failed(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static dlc_context *create_failed(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vsnprintf(create_error, sizeof create_error, fmt, args);
  va_end(args);
  return NULL;
}

/* Where each part of a context lives in its one block. The block holds
 * everything a context will ever need, so running an entry never allocates
 * and a caller can provide the block itself (dlc_create_in). Offsets are
 * multiples of DLCRT_ALIGN. Staging is needed only by non-train entries:
 * train entries always get full batches. */
typedef struct context_layout {
  size_t state, arena, staging, staged_inputs, staged_outputs, output_base, call_inputs,
      call_outputs, end;
  size_t arena_bytes, staging_bytes;
} context_layout;

/* Whether a partial batch of entry e is copied into full-batch buffers:
 * train entries always get full batches, and a rows_independent entry
 * computes the caller's rows where they are. */
static int entry_needs_staging(const dlc_model_desc *m, const dlc_entry_desc *e) {
  return m->batch > 0 && !e->is_train && !e->rows_independent;
}

static int input_needs_staging(const dlc_model_desc *m, int32_t input) {
  for (int32_t e = 0; e < m->n_entries; ++e) {
    if (!entry_needs_staging(m, &m->entries[e]))
      continue;
    for (int32_t i = 0; i < m->entries[e].n_inputs; ++i)
      if (m->entries[e].inputs[i] == input)
        return 1;
  }
  return 0;
}

static context_layout layout_context(const dlc_model_desc *m) {
  context_layout l;
  memset(&l, 0, sizeof l);
  int32_t total_outputs = 0, widest_in = 1, widest_out = 1;
  for (int32_t e = 0; e < m->n_entries; ++e) {
    const dlc_entry_desc *entry = &m->entries[e];
    if ((size_t)entry->arena_bytes > l.arena_bytes)
      l.arena_bytes = (size_t)entry->arena_bytes;
    if (entry->n_inputs > widest_in) widest_in = entry->n_inputs;
    if (entry->n_outputs > widest_out) widest_out = entry->n_outputs;
    total_outputs += entry->n_outputs;
    if (!entry_needs_staging(m, entry))
      continue;
    for (int32_t o = 0; o < entry->n_outputs; ++o)
      l.staging_bytes += round_up(tensor_bytes(&entry->outputs[o]), DLCRT_ALIGN);
  }
  for (int32_t i = 0; i < m->n_inputs; ++i)
    if (input_needs_staging(m, i))
      l.staging_bytes += round_up(tensor_bytes(&m->inputs[i]), DLCRT_ALIGN);

  size_t at = round_up(sizeof(dlc_context), DLCRT_ALIGN);
#define DLCRT_PLACE(field, bytes)                                                          \
  do {                                                                                     \
    l.field = at;                                                                          \
    at += round_up((bytes), DLCRT_ALIGN);                                                  \
  } while (0)
  DLCRT_PLACE(state, (size_t)m->state_bytes);
  DLCRT_PLACE(arena, l.arena_bytes);
  DLCRT_PLACE(staging, l.staging_bytes);
  DLCRT_PLACE(staged_inputs, (size_t)m->n_inputs * sizeof(void *));
  DLCRT_PLACE(staged_outputs, (size_t)total_outputs * sizeof(void *));
  DLCRT_PLACE(output_base, (size_t)m->n_entries * sizeof(int32_t));
  DLCRT_PLACE(call_inputs, (size_t)widest_in * sizeof(void *));
  DLCRT_PLACE(call_outputs, (size_t)widest_out * sizeof(void *));
#undef DLCRT_PLACE
  l.end = at;
  return l;
}

/* NULL when `m` can be used, else why not. */
static const char *unusable_descriptor(const dlc_model_desc *m) {
  static _Thread_local char why[DLCRT_ERROR_CAPACITY];
  if (!m)
    return "no model descriptor";
  if (m->abi_version != DLC_ABI_VERSION) {
    snprintf(why, sizeof why,
             "the model was compiled for ABI version %u, this runtime has version %u "
             "(recompile the model with this dlc)",
             (unsigned)m->abi_version, (unsigned)DLC_ABI_VERSION);
    return why;
  }
  if (!descriptor_is_sane(m)) {
    snprintf(why, sizeof why,
             "the descriptor of model '%s' is inconsistent (variables beyond the state "
             "block, or unknown inputs)",
             m->name ? m->name : "?");
    return why;
  }
  return NULL;
}

size_t dlc_context_bytes(const dlc_model_desc *m) {
  return unusable_descriptor(m) ? 0 : layout_context(m).end;
}

/* Lays a context out in `block` (zeroed, aligned, at least layout.end bytes)
 * and initialises its variables. */
static dlc_context *build_context(const dlc_model_desc *m, char *block,
                                  const context_layout *l, int owns_block, uint64_t seed) {
  memset(block, 0, l->end);
  dlc_context *ctx = (dlc_context *)block;
  ctx->model = m;
  ctx->owns_block = owns_block;
  ctx->state = block + l->state;
  ctx->arena = block + l->arena;
  ctx->staging = l->staging_bytes ? block + l->staging : NULL;
  ctx->staged_inputs = (void **)(block + l->staged_inputs);
  ctx->staged_outputs = (void **)(block + l->staged_outputs);
  ctx->output_base = (int32_t *)(block + l->output_base);
  ctx->call_inputs = (const void **)(block + l->call_inputs);
  ctx->call_outputs = (void **)(block + l->call_outputs);

  char *next = ctx->staging;
  for (int32_t i = 0; i < m->n_inputs; ++i) {
    if (!input_needs_staging(m, i))
      continue;
    ctx->staged_inputs[i] = next;
    next += round_up(tensor_bytes(&m->inputs[i]), DLCRT_ALIGN);
  }
  int32_t base = 0;
  for (int32_t e = 0; e < m->n_entries; ++e) {
    const dlc_entry_desc *entry = &m->entries[e];
    ctx->output_base[e] = base;
    if (entry_needs_staging(m, entry)) {
      for (int32_t o = 0; o < entry->n_outputs; ++o) {
        ctx->staged_outputs[base + o] = next;
        next += round_up(tensor_bytes(&entry->outputs[o]), DLCRT_ALIGN);
      }
    }
    base += entry->n_outputs;
  }

  for (int32_t v = 0; v < m->n_vars; ++v)
    init_variable(ctx->state, &m->vars[v], seed);
  dlcrt_pool_init(&ctx->pool, dlcrt_default_threads());
  return ctx;
}

dlc_context *dlc_create(const dlc_model_desc *m, uint64_t seed) {
  create_error[0] = '\0';
  const char *why = unusable_descriptor(m);
  if (why)
    return create_failed("dlc_create: %s", why);
  const context_layout l = layout_context(m);
  char *block = aligned_alloc(DLCRT_ALIGN, l.end);
  if (!block)
    return create_failed(
        "dlc_create: cannot allocate %.1f MiB for model '%s' (variables %.1f MiB, scratch "
        "%.1f MiB, partial-batch staging %.1f MiB)",
        (double)l.end / 1048576.0, m->name, (double)m->state_bytes / 1048576.0,
        (double)l.arena_bytes / 1048576.0, (double)l.staging_bytes / 1048576.0);
  return build_context(m, block, &l, 1, seed);
}

dlc_context *dlc_create_in(const dlc_model_desc *m, void *block, size_t bytes, uint64_t seed) {
  create_error[0] = '\0';
  const char *why = unusable_descriptor(m);
  if (why)
    return create_failed("dlc_create_in: %s", why);
  const context_layout l = layout_context(m);
  if (!block)
    return create_failed("dlc_create_in: the block is NULL");
  if ((uintptr_t)block % DLCRT_ALIGN != 0)
    return create_failed("dlc_create_in: the block at %p is not aligned to %d bytes", block,
                         DLCRT_ALIGN);
  if (bytes < l.end)
    return create_failed("dlc_create_in: model '%s' needs a block of %zu bytes, got %zu",
                         m->name, l.end, bytes);
  return build_context(m, (char *)block, &l, 0, seed);
}

void dlc_destroy(dlc_context *ctx) {
  if (!ctx)
    return;
  dlcrt_pool_stop(&ctx->pool);
  if (ctx->owns_block)
    free(ctx);
}

static int check_run_args(dlc_context *ctx, int entry, const void *const *inputs,
                          void *const *outputs, int64_t rows) {
  const dlc_model_desc *m = ctx->model;
  if (entry < 0 || entry >= m->n_entries)
    return dlcrt_fail(ctx, DLC_ERR_ARG, "no entry #%d: model '%s' has %d entries", entry,
                      m->name, (int)m->n_entries);
  const dlc_entry_desc *e = &m->entries[entry];
  if (!e->fn)
    return dlcrt_fail(ctx, DLC_ERR_ARG, "entry '%s' has no function", e->name);
  if (m->batch > 0) {
    if (e->is_train && rows != m->batch)
      return dlcrt_fail(ctx, DLC_ERR_ARG,
                        "train entry '%s' needs a full batch of %lld rows, got %lld", e->name,
                        (long long)m->batch, (long long)rows);
    if (rows < 1 || rows > m->batch)
      return dlcrt_fail(ctx, DLC_ERR_ARG, "entry '%s': rows must be in 1..%lld, got %lld",
                        e->name, (long long)m->batch, (long long)rows);
  }
  if (e->n_inputs > 0 && !inputs)
    return dlcrt_fail(ctx, DLC_ERR_ARG, "entry '%s': inputs is NULL (expected %d)", e->name,
                      (int)e->n_inputs);
  if (e->n_outputs > 0 && !outputs)
    return dlcrt_fail(ctx, DLC_ERR_ARG, "entry '%s': outputs is NULL (expected %d)", e->name,
                      (int)e->n_outputs);
  for (int32_t i = 0; i < e->n_inputs; ++i)
    if (!inputs[i])
      return dlcrt_fail(ctx, DLC_ERR_ARG, "entry '%s': input '%s' is NULL", e->name,
                        m->inputs[e->inputs[i]].name);
  for (int32_t o = 0; o < e->n_outputs; ++o)
    if (!outputs[o])
      return dlcrt_fail(ctx, DLC_ERR_ARG, "entry '%s': output '%s' is NULL", e->name,
                        e->outputs[o].name);
  return DLC_OK;
}

/* Index inputs (class labels, embedding ids) are checked before the entry
 * runs, so a bad one changes nothing: the kernels cannot report it, and one
 * label of 1000 would make the loss NaN and, after the update, every weight. */
static int check_index_inputs(dlc_context *ctx, const dlc_entry_desc *e,
                              const void *const *inputs, int64_t rows) {
  const dlc_model_desc *m = ctx->model;
  for (int32_t i = 0; i < e->n_inputs; ++i) {
    const dlc_tensor_desc *t = &m->inputs[e->inputs[i]];
    if (t->dtype != DLC_I32 || t->index_bound <= 0)
      continue;
    const int64_t per_row = m->batch > 0 && row_bytes(m, t) ? t->numel / m->batch : 0;
    const int64_t count = per_row ? per_row * rows : t->numel;
    const int32_t *v = (const int32_t *)inputs[i];
    for (int64_t k = 0; k < count; ++k) {
      if (v[k] >= 0 && v[k] < t->index_bound)
        continue;
      if (per_row == 1)
        return dlcrt_fail(ctx, DLC_ERR_ARG,
                          "entry '%s': input '%s' holds %d in row %lld, outside [0, %lld)",
                          e->name, t->name, (int)v[k], (long long)k,
                          (long long)t->index_bound);
      if (per_row > 1)
        return dlcrt_fail(ctx, DLC_ERR_ARG,
                          "entry '%s': input '%s' holds %d in row %lld (element %lld of "
                          "the row), outside [0, %lld)",
                          e->name, t->name, (int)v[k], (long long)(k / per_row),
                          (long long)(k % per_row), (long long)t->index_bound);
      return dlcrt_fail(ctx, DLC_ERR_ARG,
                        "entry '%s': input '%s' holds %d at element %lld, outside [0, %lld)",
                        e->name, t->name, (int)v[k], (long long)k,
                        (long long)t->index_bound);
    }
  }
  return DLC_OK;
}

/* Compiled entries run with denormals flushed to zero (FTZ) and read as zero
 * (DAZ): once training converges, Adam's second moments and small gradients
 * drift into the denormal range, where every x86 float op takes a ~100-cycle
 * microcode assist, halving a step's speed. The caller's mode is restored;
 * the workers take it from the caller with each task (pool.c). */
static void call_entry(const dlc_entry_desc *e, dlc_context *ctx, const void *const *inputs,
                       void *const *outputs, int64_t rows) {
  const dlc_exec exec = {rows, dlcrt_parallel_for, &ctx->pool};
  dlcrt_pool_enter(&ctx->pool);
#if defined(__SSE2__)
  const unsigned int saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
  e->fn(ctx->state, ctx->arena, inputs, outputs, &exec);
  _mm_setcsr(saved);
#else
  e->fn(ctx->state, ctx->arena, inputs, outputs, &exec);
#endif
  dlcrt_pool_leave(&ctx->pool);
}

int dlc_run(dlc_context *ctx, int entry, const void *const *inputs, void *const *outputs,
            int64_t rows) {
  if (!ctx)
    return DLC_ERR_ARG;
  ctx->error[0] = '\0';
  int rc = check_run_args(ctx, entry, inputs, outputs, rows);
  if (rc != DLC_OK)
    return rc;
  const dlc_model_desc *m = ctx->model;
  const dlc_entry_desc *e = &m->entries[entry];
  rc = check_index_inputs(ctx, e, inputs, rows);
  if (rc != DLC_OK)
    return rc;
  if (m->batch <= 0 || rows == m->batch || e->rows_independent) {
    call_entry(e, ctx, inputs, outputs, rows);
    return DLC_OK;
  }

  /* A partial batch of an entry whose rows depend on each other: its code
   * computes full batches only, so the rows are copied into zero-padded
   * full-size buffers (zeros keep the padding rows finite, whatever the model
   * computes on them). */
  for (int32_t i = 0; i < e->n_inputs; ++i) {
    const int32_t index = e->inputs[i];
    const dlc_tensor_desc *t = &m->inputs[index];
    char *staged = ctx->staged_inputs[index];
    const size_t stride = row_bytes(m, t);
    if (stride == 0) {
      memcpy(staged, inputs[i], tensor_bytes(t));
    } else {
      memcpy(staged, inputs[i], stride * (size_t)rows);
      memset(staged + stride * (size_t)rows, 0, stride * (size_t)(m->batch - rows));
    }
    ctx->call_inputs[i] = staged;
  }
  void **staged_outputs = ctx->staged_outputs + ctx->output_base[entry];
  for (int32_t o = 0; o < e->n_outputs; ++o)
    ctx->call_outputs[o] = staged_outputs[o];
  call_entry(e, ctx, (const void *const *)ctx->call_inputs, ctx->call_outputs, m->batch);
  for (int32_t o = 0; o < e->n_outputs; ++o) {
    const dlc_tensor_desc *t = &e->outputs[o];
    const size_t stride = row_bytes(m, t);
    memcpy(outputs[o], staged_outputs[o], stride ? stride * (size_t)rows : tensor_bytes(t));
  }
  return DLC_OK;
}

int dlc_find_entry(const dlc_model_desc *m, const char *name) {
  if (!m || !name)
    return -1;
  for (int32_t e = 0; e < m->n_entries; ++e)
    if (m->entries[e].name && strcmp(m->entries[e].name, name) == 0)
      return e;
  return -1;
}

const char *dlc_error(const dlc_context *ctx) {
  if (ctx)
    return ctx->error;
  return create_error[0] ? create_error : "no context";
}

const dlc_model_desc *dlc_model(const dlc_context *ctx) { return ctx ? ctx->model : NULL; }

void *dlc_var_data(dlc_context *ctx, int var) {
  if (!ctx || var < 0 || var >= ctx->model->n_vars)
    return NULL;
  return ctx->state + ctx->model->vars[var].offset;
}

int dlc_find_var(const dlc_model_desc *m, const char *name) {
  if (!m || !name)
    return -1;
  for (int32_t v = 0; v < m->n_vars; ++v)
    if (m->vars[v].name && strcmp(m->vars[v].name, name) == 0)
      return v;
  return -1;
}

/* The variable `name` of ctx's model, with its element count checked against
 * what the caller passed; NULL (and the message in ctx) when it does not fit. */
static const dlc_tensor_desc *named_var(dlc_context *ctx, const char *what, const char *name,
                                        const void *data, size_t numel) {
  const dlc_model_desc *m = ctx->model;
  if (!name) {
    dlcrt_fail(ctx, DLC_ERR_ARG, "%s: the name is NULL", what);
    return NULL;
  }
  const int v = dlc_find_var(m, name);
  if (v < 0) {
    /* The params are what a caller most likely meant: list them. */
    char names[DLCRT_ERROR_CAPACITY / 2] = "";
    size_t used = 0;
    for (int32_t i = 0; i < m->n_vars && used + 1 < sizeof names; ++i) {
      if (!m->vars[i].trainable)
        continue;
      int n = snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "",
                       m->vars[i].name);
      used = n < 0 ? sizeof names : used + (size_t)n;
    }
    dlcrt_fail(ctx, DLC_ERR_ARG, "%s: model '%s' has no variable '%s' (its params: %s)", what,
               m->name, name, names);
    return NULL;
  }
  const dlc_tensor_desc *t = &m->vars[v];
  if (t->dtype != DLC_F32) {
    dlcrt_fail(ctx, DLC_ERR_ARG, "%s: variable '%s' is not f32", what, name);
    return NULL;
  }
  if (numel != (size_t)t->numel) {
    dlcrt_fail(ctx, DLC_ERR_ARG, "%s: variable '%s' has %lld elements, got %zu", what, name,
               (long long)t->numel, numel);
    return NULL;
  }
  if (!data && numel > 0) {
    dlcrt_fail(ctx, DLC_ERR_ARG, "%s: the data pointer for '%s' is NULL", what, name);
    return NULL;
  }
  return t;
}

int dlc_get_var(dlc_context *ctx, const char *name, float *data, size_t numel) {
  if (!ctx)
    return DLC_ERR_ARG;
  ctx->error[0] = '\0';
  const dlc_tensor_desc *t = named_var(ctx, "get", name, data, numel);
  if (!t)
    return DLC_ERR_ARG;
  memcpy(data, ctx->state + t->offset, numel * sizeof(float));
  return DLC_OK;
}

int dlc_set_var(dlc_context *ctx, const char *name, const float *data, size_t numel) {
  if (!ctx)
    return DLC_ERR_ARG;
  ctx->error[0] = '\0';
  const dlc_tensor_desc *t = named_var(ctx, "set", name, data, numel);
  if (!t)
    return DLC_ERR_ARG;
  /* The same promise as dlc_load: no NaN or infinity gets into a model. */
  for (size_t i = 0; i < numel; ++i)
    if (!isfinite(data[i]))
      return dlcrt_fail(ctx, DLC_ERR_ARG,
                        "set: element %zu of '%s' is %s; the variable is unchanged", i, name,
                        isnan(data[i]) ? "NaN" : "infinite");
  memcpy(ctx->state + t->offset, data, numel * sizeof(float));
  return DLC_OK;
}

int dlc_set_state(dlc_context *ctx, const void *image, size_t bytes) {
  if (!ctx)
    return DLC_ERR_ARG;
  ctx->error[0] = '\0';
  if (!image || bytes != (size_t)ctx->model->state_bytes)
    return dlcrt_fail(ctx, DLC_ERR_ARG, "set_state: model '%s' has %lld bytes of state, got %zu",
                      ctx->model->name, (long long)ctx->model->state_bytes,
                      image ? bytes : (size_t)0);
  memcpy(ctx->state, image, bytes);
  return DLC_OK;
}

/* Same names, dtypes and shapes (the signature) at the same offsets: the
 * blocks mean the same thing byte for byte. */
static int same_state_layout(const dlc_model_desc *a, const dlc_model_desc *b) {
  if (a->signature != b->signature || a->state_bytes != b->state_bytes || a->n_vars != b->n_vars)
    return 0;
  for (int32_t v = 0; v < a->n_vars; ++v) {
    const dlc_tensor_desc *x = &a->vars[v], *y = &b->vars[v];
    if (x->offset != y->offset || x->dtype != y->dtype || x->rank != y->rank ||
        strcmp(x->name, y->name) != 0)
      return 0;
    for (int32_t d = 0; d < x->rank; ++d)
      if (x->dims[d] != y->dims[d])
        return 0;
  }
  return 1;
}

int dlc_copy_state(dlc_context *to, const dlc_context *from) {
  if (!to)
    return DLC_ERR_ARG;
  to->error[0] = '\0';
  if (!from)
    return dlcrt_fail(to, DLC_ERR_ARG, "copy_state: no context to copy from");
  if (!same_state_layout(to->model, from->model))
    return dlcrt_fail(to, DLC_ERR_ARG,
                      "copy_state: model '%s' and model '%s' lay out different variables",
                      to->model->name, from->model->name);
  if (to != from)
    memcpy(to->state, from->state, (size_t)to->model->state_bytes);
  return DLC_OK;
}
