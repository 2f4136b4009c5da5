/* checkpoint.c — saving and loading every variable of a context: an atomic
 * write (temp file, fsync, rename) and a load that validates before it copies.
 *
 * Format version 2, all integers little-endian; str = u32 byte length + bytes
 * (no terminator); CRC = CRC-32 (IEEE 802.3, as zlib's crc32):
 *   "DLCCKPT\0"            8 bytes magic
 *   u32 format version     2
 *   header section:        u64 model signature (dlc_model_desc.signature),
 *                          str model name, u32 variable count,
 *                          u32 CRC of the section's bytes before it
 *   per variable section:  str name, u32 dtype, u32 rank, rank x i64 dims,
 *                          u64 byte count, the data (little-endian elements),
 *                          u32 CRC of the section
 *   host section:          u64 byte count, the bytes, u32 CRC of the section
 *                          (what the host saves beside the variables: dlc
 *                          train's position in its data; empty otherwise)
 *   u32 CRC of every byte before it
 * A CRC per section says which part of a damaged file is bad. Version 1 (no
 * section CRCs, no host section) is still read. */
#define _XOPEN_SOURCE 700 /* fsync, fileno, fdopen, getpid, XSI strerror_r */

#include "runtime_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_VERSION 2u
#define CKPT_MAX_RANK 32u /* beyond this a header is corrupt, not a tensor */
static const char ckpt_magic[8] = {'D', 'L', 'C', 'C', 'K', 'P', 'T', '\0'};

/* ---- CRC-32 (reflected polynomial 0xEDB88320). The table is built per call:
 * 2 KB of arithmetic is nothing next to file I/O, and it avoids a lazily
 * initialised global shared between threads. */
typedef struct crc32_state {
  uint32_t table[256];
  uint32_t value;
} crc32_state;

static void crc32_init(crc32_state *c) {
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t r = i;
    for (int bit = 0; bit < 8; ++bit)
      r = (r & 1u) ? (r >> 1) ^ 0xEDB88320u : r >> 1;
    c->table[i] = r;
  }
  c->value = 0xFFFFFFFFu;
}

static void crc32_update(crc32_state *c, const void *data, size_t n) {
  const uint8_t *p = data;
  uint32_t v = c->value;
  for (size_t i = 0; i < n; ++i)
    v = c->table[(v ^ p[i]) & 0xFFu] ^ (v >> 8);
  c->value = v;
}

static uint32_t crc32_final(const crc32_state *c) { return c->value ^ 0xFFFFFFFFu; }

static int host_is_little_endian(void) {
  const uint16_t one = 1;
  return *(const uint8_t *)&one == 1;
}

static void error_text(int errnum, char *buf, size_t size) {
  if (strerror_r(errnum, buf, size) != 0)
    snprintf(buf, size, "error %d", errnum);
}

/* ---- Writing: buffered stdio with a running CRC; the first failure sticks. */
typedef struct ckpt_writer {
  FILE *file;
  crc32_state crc;     /* every byte so far */
  crc32_state section; /* the bytes of the section being written */
  int failed;
} ckpt_writer;

static void put_bytes(ckpt_writer *w, const void *data, size_t n) {
  if (w->failed || n == 0)
    return;
  crc32_update(&w->crc, data, n);
  crc32_update(&w->section, data, n);
  if (fwrite(data, 1, n, w->file) != n)
    w->failed = 1;
}

static void put_u32(ckpt_writer *w, uint32_t v) {
  uint8_t b[4];
  for (int i = 0; i < 4; ++i)
    b[i] = (uint8_t)(v >> (8 * i));
  put_bytes(w, b, sizeof b);
}

static void put_u64(ckpt_writer *w, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i)
    b[i] = (uint8_t)(v >> (8 * i));
  put_bytes(w, b, sizeof b);
}

static void put_str(ckpt_writer *w, const char *s) {
  const size_t n = s ? strlen(s) : 0;
  put_u32(w, (uint32_t)n);
  put_bytes(w, s, n);
}

/* Variables hold 4-byte elements (f32, i32); the file stores them
 * little-endian whatever the host. */
static void put_elements(ckpt_writer *w, const char *data, size_t bytes) {
  if (host_is_little_endian()) {
    put_bytes(w, data, bytes);
    return;
  }
  for (size_t i = 0; i + 4 <= bytes; i += 4) {
    uint32_t v;
    memcpy(&v, data + i, 4);
    put_u32(w, v);
  }
}

static void end_section(ckpt_writer *w) {
  put_u32(w, crc32_final(&w->section));
  crc32_init(&w->section);
}

static void write_checkpoint(ckpt_writer *w, const dlc_context *ctx, const void *host,
                             size_t host_bytes) {
  const dlc_model_desc *m = ctx->model;
  put_bytes(w, ckpt_magic, sizeof ckpt_magic);
  put_u32(w, CKPT_VERSION);
  crc32_init(&w->section);
  put_u64(w, m->signature);
  put_str(w, m->name);
  put_u32(w, (uint32_t)m->n_vars);
  end_section(w);
  for (int32_t i = 0; i < m->n_vars; ++i) {
    const dlc_tensor_desc *v = &m->vars[i];
    const size_t bytes = (size_t)v->numel * dlcrt_dtype_size(v->dtype);
    put_str(w, v->name);
    put_u32(w, (uint32_t)v->dtype);
    put_u32(w, (uint32_t)v->rank);
    for (int32_t d = 0; d < v->rank; ++d)
      put_u64(w, (uint64_t)v->dims[d]);
    put_u64(w, (uint64_t)bytes);
    put_elements(w, ctx->state + v->offset, bytes);
    end_section(w);
  }
  put_u64(w, (uint64_t)host_bytes);
  put_bytes(w, host, host_bytes);
  end_section(w);
  const uint32_t crc = crc32_final(&w->crc);
  put_u32(w, crc);
}

/* Makes the rename itself durable; best effort, since not every file system
 * lets a directory be opened and synced. */
static void sync_parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[4096];
  if (!slash) {
    strcpy(dir, ".");
  } else {
    size_t n = (size_t)(slash - path);
    if (n == 0) n = 1; /* "/file" lives in "/" */
    if (n >= sizeof dir)
      return;
    memcpy(dir, path, n);
    dir[n] = '\0';
  }
  int fd = open(dir, O_RDONLY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

/* The index of the first NaN or infinity among `count` floats at `bytes`,
 * stored little-endian (a checkpoint's payload) or in the host's order, or -1.
 * Such a float has every exponent bit set. */
static int64_t first_non_finite(const void *bytes, int64_t count, int little_endian) {
  const uint8_t *p = bytes;
  for (int64_t k = 0; k < count; ++k) {
    uint32_t bits;
    if (little_endian)
      bits = (uint32_t)p[4 * k] | (uint32_t)p[4 * k + 1] << 8 |
             (uint32_t)p[4 * k + 2] << 16 | (uint32_t)p[4 * k + 3] << 24;
    else
      memcpy(&bits, p + 4 * k, 4);
    if ((bits & 0x7F800000u) == 0x7F800000u)
      return k;
  }
  return -1;
}

/* A fresh temp file beside `path`, so the rename stays on one file system.
 * The pid alone is not enough: two threads of one process saving to the same
 * path would share it, and one could publish the other's half-written file.
 * O_EXCL plus a process-wide counter gives every save its own file; 0666
 * lets the umask decide the checkpoint's permissions, as for any new file. */
static FILE *create_temp(const char *path, char **tmp_out) {
  static atomic_uint counter;
  const size_t size = strlen(path) + 48;
  char *tmp = malloc(size);
  if (!tmp) {
    errno = ENOMEM;
    return NULL;
  }
  for (int attempt = 0; attempt < 100; ++attempt) {
    snprintf(tmp, size, "%s.tmp.%ld.%u", path, (long)getpid(),
             atomic_fetch_add(&counter, 1u));
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0 && errno == EEXIST)
      continue; /* left behind by a crashed process that had our pid */
    if (fd < 0)
      break;
    FILE *file = fdopen(fd, "wb");
    if (!file) {
      const int err = errno;
      close(fd);
      unlink(tmp);
      errno = err;
      break;
    }
    *tmp_out = tmp;
    return file;
  }
  free(tmp);
  return NULL;
}

/* A save killed between creating its temp file and the rename (kill -9, a
 * power cut) leaves PATH.tmp.PID.N behind. The next save to PATH removes
 * those whose process is gone; one whose PID is alive may be another
 * process's save in flight, and is left alone. */
static void remove_stale_temps(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  const size_t base_len = strlen(base), dir_len = slash ? (size_t)(slash - path) : 0;
  char dir[4096];
  if (dir_len + 2 > sizeof dir)
    return;
  if (slash) {
    memcpy(dir, path, dir_len ? dir_len : 1); /* "/file" lives in "/" */
    dir[dir_len ? dir_len : 1] = '\0';
  } else {
    strcpy(dir, ".");
  }
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *entry;
  while ((entry = readdir(d)) != NULL) {
    const char *name = entry->d_name;
    if (strncmp(name, base, base_len) != 0 || strncmp(name + base_len, ".tmp.", 5) != 0)
      continue;
    char *end = NULL;
    const char *digits = name + base_len + 5;
    errno = 0;
    const long pid = strtol(digits, &end, 10);
    if (end == digits || *end != '.' || errno || pid <= 0 || (pid_t)pid == getpid())
      continue;
    const char *counter = end + 1;
    strtoul(counter, &end, 10);
    if (end == counter || *end != '\0')
      continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
      continue; /* alive, or not ours to ask about */
    char stale[4096 + 256];
    if ((size_t)snprintf(stale, sizeof stale, "%s/%s", dir, name) < sizeof stale)
      unlink(stale);
  }
  closedir(d);
}

/* An existing file at `path` is replaced only if it is a checkpoint (or
 * empty): a slip such as `--save model.dl` must not destroy the user's
 * source, and `--save /dev/null` run as root must not rename a regular file
 * over the device. Returns why not to replace it, or NULL; anything
 * unreadable is left for the write itself to report. */
static const char *foreign_file(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return NULL;
  if (S_ISDIR(st.st_mode))
    return "it is a directory";
  if (!S_ISREG(st.st_mode))
    return "it exists and is not a regular file (a device, pipe or socket)";
  if (st.st_size == 0)
    return NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char magic[sizeof ckpt_magic];
  const size_t got = fread(magic, 1, sizeof magic, f);
  fclose(f);
  if (got != sizeof magic || memcmp(magic, ckpt_magic, sizeof magic) != 0)
    return "the file exists and is not a dlc checkpoint";
  return NULL;
}

int dlc_save(dlc_context *ctx, const char *path) {
  return dlc_save_host(ctx, path, NULL, 0);
}

int dlc_save_host(dlc_context *ctx, const char *path, const void *host, size_t host_bytes) {
  if (!ctx)
    return DLC_ERR_ARG;
  ctx->error[0] = '\0';
  if (!path || !*path)
    return dlcrt_fail(ctx, DLC_ERR_ARG, "dlc_save: empty checkpoint path");
  const char *foreign = foreign_file(path);
  if (foreign)
    return dlcrt_fail(ctx, DLC_ERR_IO, "cannot write checkpoint '%s': %s (refusing to replace it)",
                      path, foreign);

  /* A checkpoint must load back, and dlc_load refuses NaN and infinities:
   * saving them would replace a good file with one that cannot be used. */
  for (int32_t i = 0; i < ctx->model->n_vars; ++i) {
    const dlc_tensor_desc *v = &ctx->model->vars[i];
    const int64_t bad = v->dtype == DLC_F32 ? first_non_finite(ctx->state + v->offset, v->numel, 0) : -1;
    if (bad >= 0)
      return dlcrt_fail(ctx, DLC_ERR_ARG,
                        "refusing to save '%s': variable '%s' holds NaN or infinity at "
                        "element %lld (a diverged run?), and such a checkpoint could not be "
                        "loaded",
                        path, v->name, (long long)bad);
  }
  remove_stale_temps(path);

  char why[256];
  char *tmp = NULL;
  ckpt_writer w = {0};
  crc32_init(&w.crc);
  w.file = create_temp(path, &tmp);
  if (!w.file) {
    error_text(errno, why, sizeof why);
    return dlcrt_fail(ctx, DLC_ERR_IO, "cannot write checkpoint '%s': %s", path, why);
  }
  errno = 0;
  write_checkpoint(&w, ctx, host, host_bytes);
  int err = w.failed ? (errno ? errno : EIO) : 0;
  if (!err && fflush(w.file) != 0)
    err = errno;
  /* fsync before rename: otherwise a crash can leave the new name pointing at
   * a file whose data never reached the disk. */
  if (!err && fsync(fileno(w.file)) != 0)
    err = errno;
  if (fclose(w.file) != 0 && !err)
    err = errno;
  if (!err && rename(tmp, path) != 0)
    err = errno;
  if (err) {
    unlink(tmp);
    free(tmp);
    error_text(err, why, sizeof why);
    return dlcrt_fail(ctx, DLC_ERR_IO, "cannot write checkpoint '%s': %s", path, why);
  }
  free(tmp);
  sync_parent_dir(path);
  return DLC_OK;
}

/* ---- Reading: a bounds-checked cursor over the whole file in memory. */
typedef struct ckpt_reader {
  const uint8_t *data;
  size_t size, pos;
  int truncated;
} ckpt_reader;

static const uint8_t *take(ckpt_reader *r, uint64_t n) {
  if (r->truncated || n > r->size - r->pos) {
    r->truncated = 1;
    return NULL;
  }
  const uint8_t *p = r->data + r->pos;
  r->pos += (size_t)n;
  return p;
}

static uint32_t get_u32(ckpt_reader *r) {
  const uint8_t *p = take(r, 4);
  uint32_t v = 0;
  for (int i = 0; p && i < 4; ++i)
    v |= (uint32_t)p[i] << (8 * i);
  return v;
}

static uint64_t get_u64(ckpt_reader *r) {
  const uint8_t *p = take(r, 8);
  uint64_t v = 0;
  for (int i = 0; p && i < 8; ++i)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

typedef struct ckpt_str {
  const char *chars;
  uint32_t len;
} ckpt_str;

static ckpt_str get_str(ckpt_reader *r) {
  ckpt_str s;
  s.len = get_u32(r);
  s.chars = (const char *)take(r, s.len);
  if (!s.chars)
    s.len = 0;
  return s;
}

static int str_equals(ckpt_str s, const char *c) {
  const size_t n = c ? strlen(c) : 0;
  return s.len == n && (n == 0 || memcmp(s.chars, c, n) == 0);
}

static const char *dtype_name(uint32_t dtype) {
  return dtype == DLC_F32 ? "f32" : dtype == DLC_I32 ? "i32" : "unknown dtype";
}

/* "[784, 128]" into buf, from either the model's dims or the file's. */
static void format_shape(char *buf, size_t size, uint32_t rank, const int64_t *model_dims,
                         const uint8_t *file_dims) {
  size_t used = (size_t)snprintf(buf, size, "[");
  for (uint32_t d = 0; d < rank && used < size; ++d) {
    int64_t dim = 0;
    if (model_dims) {
      dim = model_dims[d];
    } else {
      uint64_t u = 0;
      for (int i = 0; i < 8; ++i)
        u |= (uint64_t)file_dims[8 * d + i] << (8 * i);
      dim = (int64_t)u;
    }
    used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? ", " : "", (long long)dim);
  }
  if (used < size)
    snprintf(buf + used, size - used, "]");
}

/* The CRC of data[from, to) against the u32 stored at `to`. */
static int section_intact(const uint8_t *data, size_t from, size_t to) {
  crc32_state crc;
  crc32_init(&crc);
  crc32_update(&crc, data + from, to - from);
  uint32_t stored = 0;
  for (int i = 0; i < 4; ++i)
    stored |= (uint32_t)data[to + (size_t)i] << (8 * i);
  return crc32_final(&crc) == stored;
}

/* Where a checkpoint's parts are, found by check_structure. */
typedef struct ckpt_layout {
  uint32_t version;
  size_t host_at;     /* the host section's bytes (version 2) */
  uint64_t host_bytes;
} ckpt_layout;

/* Walks the file's structure without interpreting it against the model: the
 * file is complete and intact, or there is a message saying why not (for
 * version 2, which section is damaged). */
static int check_structure(dlc_context *ctx, const uint8_t *data, size_t size,
                           ckpt_layout *layout) {
  ckpt_reader r = {data, size, 0, 0};
  if (size < sizeof ckpt_magic || memcmp(data, ckpt_magic, sizeof ckpt_magic) != 0)
    return dlcrt_fail(ctx, DLC_ERR_FORMAT, "not a dlc checkpoint");
  r.pos = sizeof ckpt_magic;
  const uint32_t version = get_u32(&r);
  if (r.truncated)
    return dlcrt_fail(ctx, DLC_ERR_FORMAT, "checkpoint is truncated");
  if (version > CKPT_VERSION)
    return dlcrt_fail(ctx, DLC_ERR_FORMAT,
                      "checkpoint format version %u is newer than this dlc reads (1 to %u); "
                      "load it with the dlc that wrote it, or a newer one",
                      version, CKPT_VERSION);
  if (version < 1)
    return dlcrt_fail(ctx, DLC_ERR_FORMAT, "checkpoint format version %u is not supported",
                      version);
  const int sections = version >= 2;
  size_t section_start = r.pos;
  /* A section's own CRC is checked as soon as it is read, so a damaged file
   * names its first bad section; the CRC over the whole file catches the rest. */
#define END_SECTION(what, ...)                                                                 \
  do {                                                                                         \
    if (sections) {                                                                            \
      const size_t end = r.pos;                                                                \
      get_u32(&r);                                                                             \
      if (!r.truncated && !section_intact(data, section_start, end))                          \
        return dlcrt_fail(ctx, DLC_ERR_FORMAT,                                                 \
                          "checkpoint checksum mismatch (file corrupt): " what, __VA_ARGS__); \
      section_start = r.pos;                                                                   \
    }                                                                                          \
  } while (0)
  get_u64(&r);
  get_str(&r);
  const uint32_t n_vars = get_u32(&r);
  END_SECTION("%s", "the header");
  for (uint32_t i = 0; i < n_vars && !r.truncated; ++i) {
    const ckpt_str name = get_str(&r);
    get_u32(&r);
    const uint32_t rank = get_u32(&r);
    if (!r.truncated && rank > CKPT_MAX_RANK)
      return dlcrt_fail(ctx, DLC_ERR_FORMAT, "checkpoint checksum mismatch (file corrupt)");
    take(&r, 8ull * rank);
    take(&r, get_u64(&r));
    END_SECTION("variable #%u ('%.*s')", i, (int)(name.len > 64 ? 64 : name.len),
                name.chars ? name.chars : "");
  }
  layout->version = version;
  layout->host_bytes = 0;
  if (sections) {
    layout->host_bytes = get_u64(&r);
    layout->host_at = r.pos;
    take(&r, layout->host_bytes);
    END_SECTION("%s", "the trainer's state");
  }
#undef END_SECTION
  const size_t payload_end = r.pos;
  const uint32_t stored_crc = get_u32(&r);
  if (r.truncated)
    return dlcrt_fail(ctx, DLC_ERR_FORMAT, "checkpoint is truncated");
  crc32_state crc;
  crc32_init(&crc);
  crc32_update(&crc, data, payload_end);
  if (crc32_final(&crc) != stored_crc || r.pos != size)
    return dlcrt_fail(ctx, DLC_ERR_FORMAT, "checkpoint checksum mismatch (file corrupt)");
  return DLC_OK;
}

/* Compares a structurally sound file with the model; with `apply` set (only
 * after a successful dry run) copies the data into the context's state. */
static int match_model(dlc_context *ctx, const uint8_t *data, size_t size,
                       const ckpt_layout *layout, int apply) {
  const dlc_model_desc *m = ctx->model;
  ckpt_reader r = {data, size, sizeof ckpt_magic + 4, 0};
  const int sections = layout->version >= 2;
  const uint64_t signature = get_u64(&r);
  const ckpt_str name = get_str(&r);
  if (!str_equals(name, m->name))
    return dlcrt_fail(ctx, DLC_ERR_FORMAT, "checkpoint is for model '%.*s', not '%s'",
                      (int)name.len, name.chars ? name.chars : "", m->name);
  const uint32_t n_vars = get_u32(&r);
  if (n_vars != (uint32_t)m->n_vars)
    return dlcrt_fail(ctx, DLC_ERR_FORMAT,
                      "checkpoint has %u variables, model '%s' has %d", n_vars, m->name,
                      (int)m->n_vars);
  if (sections)
    get_u32(&r); /* the header's CRC, checked by check_structure */
  for (int32_t i = 0; i < m->n_vars; ++i) {
    const dlc_tensor_desc *v = &m->vars[i];
    const ckpt_str var_name = get_str(&r);
    const uint32_t dtype = get_u32(&r);
    const uint32_t rank = get_u32(&r);
    const uint8_t *dims = take(&r, 8ull * rank);
    const uint64_t bytes = get_u64(&r);
    const uint8_t *payload = take(&r, bytes);
    if (sections)
      get_u32(&r); /* the variable's CRC */
    if (!str_equals(var_name, v->name))
      return dlcrt_fail(ctx, DLC_ERR_FORMAT,
                        "checkpoint variable #%d is '%.*s', expected '%s'", (int)i,
                        (int)var_name.len, var_name.chars ? var_name.chars : "", v->name);
    if (dtype != (uint32_t)v->dtype)
      return dlcrt_fail(ctx, DLC_ERR_FORMAT,
                        "variable '%s' is %s in the checkpoint, expected %s", v->name,
                        dtype_name(dtype), dtype_name((uint32_t)v->dtype));
    int same_shape = rank == (uint32_t)v->rank;
    for (uint32_t d = 0; same_shape && d < rank; ++d) {
      uint64_t u = 0;
      for (int b = 0; b < 8; ++b)
        u |= (uint64_t)dims[8 * d + b] << (8 * b);
      same_shape = (int64_t)u == v->dims[d];
    }
    if (!same_shape) {
      char in_file[160], expected[160];
      format_shape(in_file, sizeof in_file, rank, NULL, dims);
      format_shape(expected, sizeof expected, (uint32_t)v->rank, v->dims, NULL);
      return dlcrt_fail(ctx, DLC_ERR_FORMAT,
                        "variable '%s' has shape %s in the checkpoint, expected %s", v->name,
                        in_file, expected);
    }
    const size_t expected_bytes = (size_t)v->numel * dlcrt_dtype_size(v->dtype);
    if (bytes != expected_bytes)
      return dlcrt_fail(ctx, DLC_ERR_FORMAT,
                        "variable '%s' has %llu bytes in the checkpoint, expected %zu",
                        v->name, (unsigned long long)bytes, expected_bytes);
    const int64_t bad = v->dtype == DLC_F32 ? first_non_finite(payload, v->numel, 1) : -1;
    if (bad >= 0)
      return dlcrt_fail(ctx, DLC_ERR_FORMAT,
                        "variable '%s' holds NaN or infinity at element %lld (the "
                        "checkpoint of a diverged run?)",
                        v->name, (long long)bad);
    if (!apply)
      continue;
    char *dst = ctx->state + v->offset;
    if (host_is_little_endian()) {
      memcpy(dst, payload, expected_bytes);
    } else {
      for (size_t k = 0; k + 4 <= expected_bytes; k += 4) {
        const uint32_t e = (uint32_t)payload[k] | (uint32_t)payload[k + 1] << 8 |
                           (uint32_t)payload[k + 2] << 16 | (uint32_t)payload[k + 3] << 24;
        memcpy(dst + k, &e, 4);
      }
    }
  }
  /* Checked last: the per-variable messages above say more when the shapes
   * differ, and this still catches what they cannot see. */
  if (signature != m->signature)
    return dlcrt_fail(ctx, DLC_ERR_FORMAT,
                      "checkpoint is for model '%s' with a different signature", m->name);
  return DLC_OK;
}

static int read_whole_file(dlc_context *ctx, const char *path, uint8_t **data, size_t *size) {
  char why[256];
  /* Non-blocking, so that a pipe given as the path is refused below instead
   * of waiting forever for a writer; a regular file reads the same either way. */
  const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    error_text(errno, why, sizeof why);
    if (fd >= 0)
      close(fd);
    return dlcrt_fail(ctx, DLC_ERR_IO, "cannot read checkpoint '%s': %s", path, why);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return dlcrt_fail(ctx, DLC_ERR_IO, "cannot read checkpoint '%s': not a regular file", path);
  }
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    error_text(errno, why, sizeof why);
    close(fd);
    return dlcrt_fail(ctx, DLC_ERR_IO, "cannot read checkpoint '%s': %s", path, why);
  }
  *size = (size_t)st.st_size;
  *data = malloc(*size ? *size : 1);
  if (!*data) {
    fclose(f);
    return dlcrt_fail(ctx, DLC_ERR_NOMEM, "cannot read checkpoint '%s': out of memory", path);
  }
  const size_t got = fread(*data, 1, *size, f);
  const int read_error = ferror(f);
  fclose(f);
  if (read_error || got != *size) {
    free(*data);
    *data = NULL;
    return dlcrt_fail(ctx, DLC_ERR_IO, "cannot read checkpoint '%s': read error", path);
  }
  return DLC_OK;
}

/* Reads and validates a whole checkpoint against ctx's model; copies the
 * variables in when `apply`, the host section out when `host` is given. */
static int read_checkpoint(dlc_context *ctx, const char *path, int apply, void **host,
                           size_t *host_bytes) {
  if (!ctx)
    return DLC_ERR_ARG;
  ctx->error[0] = '\0';
  if (!path || !*path)
    return dlcrt_fail(ctx, DLC_ERR_ARG, "dlc_load: empty checkpoint path");
  uint8_t *data = NULL;
  size_t size = 0;
  ckpt_layout layout = {0, 0, 0};
  int rc = read_whole_file(ctx, path, &data, &size);
  if (rc == DLC_OK)
    rc = check_structure(ctx, data, size, &layout);
  if (rc == DLC_OK)
    rc = match_model(ctx, data, size, &layout, 0);
  if (rc == DLC_OK && host) {
    *host = NULL;
    *host_bytes = (size_t)layout.host_bytes;
    if (layout.host_bytes > 0) {
      *host = malloc((size_t)layout.host_bytes);
      if (!*host)
        rc = dlcrt_fail(ctx, DLC_ERR_NOMEM, "out of memory reading checkpoint '%s'", path);
      else
        memcpy(*host, data + layout.host_at, (size_t)layout.host_bytes);
    }
  }
  if (rc == DLC_OK && apply)
    rc = match_model(ctx, data, size, &layout, 1);
  free(data);
  if (rc == DLC_ERR_FORMAT) {
    /* The checks above say what is wrong; the path says which file. */
    char what[DLCRT_ERROR_CAPACITY];
    memcpy(what, ctx->error, sizeof what);
    dlcrt_fail(ctx, rc, "%s: %s", path, what);
  }
  return rc;
}

int dlc_load(dlc_context *ctx, const char *path) {
  return read_checkpoint(ctx, path, 1, NULL, NULL);
}

int dlc_read_host_state(dlc_context *ctx, const char *path, void **host, size_t *host_bytes) {
  if (!host || !host_bytes)
    return ctx ? dlcrt_fail(ctx, DLC_ERR_ARG, "dlc_read_host_state: NULL output") : DLC_ERR_ARG;
  return read_checkpoint(ctx, path, 0, host, host_bytes);
}
