/* rng.c — the runtime's random numbers, used to initialise variables.
 * xoshiro256** seeded through splitmix64; uniforms and Box–Muller normals. */
#include "runtime_internal.h"

#include <math.h>

/* Why xoshiro256**: 256 bits of state, passes BigCrush, four shifts and a
 * multiply per number, and — unlike rand() or <random>'s distributions — its
 * integer sequence is fully specified, so a seed means the same weights on
 * every platform, JIT or AOT. splitmix64 is its authors' recommended seeder:
 * it turns any 64-bit seed (0 included) into a well-mixed, non-zero state. */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void dlcrt_rng_seed(dlcrt_rng *rng, uint64_t seed, uint64_t stream) {
  /* Mixing the stream through splitmix64 first keeps nearby streams (or a
   * stream equal to a seed) from starting at related states. */
  uint64_t stream_mix = stream;
  uint64_t x = seed ^ splitmix64(&stream_mix);
  for (int i = 0; i < 4; ++i)
    rng->s[i] = splitmix64(&x);
  rng->has_spare = 0;
  rng->spare_normal = 0.0;
}

uint64_t dlcrt_rng_next(dlcrt_rng *rng) {
  uint64_t *s = rng->s;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* 53 random bits → a double in [0, 1), every value exactly representable. */
static double unit_double(dlcrt_rng *rng) {
  return (double)(dlcrt_rng_next(rng) >> 11) * 0x1.0p-53;
}

float dlcrt_rng_uniform(dlcrt_rng *rng, float lo, float hi) {
  if (!(hi > lo))
    return lo;
  /* In double, then rounded once; rounding can still land on `hi`, which the
   * half-open contract excludes, so step back one float. */
  float v = (float)((double)lo + ((double)hi - (double)lo) * unit_double(rng));
  if (v >= hi)
    v = nextafterf(hi, lo);
  return v;
}

float dlcrt_rng_normal(dlcrt_rng *rng, float mean, float stddev) {
  double z;
  if (rng->has_spare) {
    z = rng->spare_normal;
    rng->has_spare = 0;
  } else {
    /* u1 in (0, 1] so log(u1) is finite. Computing in double and rounding
     * to float once makes a libm's last-ulp differences in log/cos/sin
     * practically never change the float that lands in a weight. */
    const double u1 = 1.0 - unit_double(rng);
    const double u2 = unit_double(rng);
    const double radius = sqrt(-2.0 * log(u1));
    const double angle = 6.283185307179586476925 * u2;
    z = radius * cos(angle);
    rng->spare_normal = radius * sin(angle);
    rng->has_spare = 1;
  }
  return (float)((double)mean + (double)stddev * z);
}

uint64_t dlcrt_hash_name(const char *name) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (const unsigned char *p = (const unsigned char *)name; p && *p; ++p) {
    h ^= *p;
    h *= 0x100000001B3ull;
  }
  return h;
}
