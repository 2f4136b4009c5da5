/* main.c — trains the spirals model (spirals.dl, compiled into spirals.so and
 * spirals.h by dlc_add_model in CMakeLists.txt) on points it draws itself,
 * measures it on new points, draws the regions it learned, and saves a
 * checkpoint that a second model loads back. Exits 1 when the library
 * reports an error or the restored model predicts differently. */
#include "spirals.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { ARMS = 3, TRAIN_STEPS = 1500, TEST_POINTS = 600, MAP_COLS = 48, MAP_ROWS = 20 };

/* A fixed LCG: the same points on every machine, unlike rand(). */
static uint32_t rng_state = 2024u;
static float uniform(void) { /* in [0, 1) */
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)(rng_state >> 8) / 16777216.0f;
}

/* A point on arm k: at radius r, turned 8r radians past the arm's start
 * (1.3 turns at the rim; the arms start 120 degrees apart), a little off
 * the curve. */
static void draw_points(float *xy, int32_t *arm, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const int k = (int)(uniform() * ARMS) % ARMS;
    const float r = 0.05f + 0.95f * uniform();
    const float angle = 2.0943951f * k + 8.0f * r + 0.3f * (uniform() - 0.5f);
    xy[2 * i] = r * cosf(angle);
    xy[2 * i + 1] = r * sinf(angle);
    arm[i] = k;
  }
}

static int argmax(const float *probs) {
  int best = 0;
  for (int k = 1; k < ARMS; ++k)
    if (probs[k] > probs[best])
      best = k;
  return best;
}

/* Any number of points: predict takes 1 to SPIRALS_BATCH rows per call. */
static int predict_all(spirals *model, const float *xy, size_t n, float *probs) {
  for (size_t i = 0; i < n; i += SPIRALS_BATCH) {
    const size_t rows = n - i < SPIRALS_BATCH ? n - i : SPIRALS_BATCH;
    const int rc = spirals_predict(model, xy + 2 * i, rows, probs + ARMS * i);
    if (rc != 0)
      return rc;
  }
  return 0;
}

static int fail(const spirals *model, const char *what) {
  fprintf(stderr, "spirals_app: %s failed: %s\n", what, spirals_error(model));
  return 1;
}

int main(int argc, char **argv) {
  const char *checkpoint = argc > 1 ? argv[1] : "spirals.ckpt";
  printf("model %s: batch %d, %d parameters\n", spirals_metadata()->name, SPIRALS_BATCH,
         SPIRALS_NUM_PARAMS);

  spirals *model = spirals_create(1);
  if (!model)
    return fail(NULL, "spirals_create");
  static float xy[SPIRALS_BATCH * 2];
  static int32_t arm[SPIRALS_BATCH];
  for (int step = 1; step <= TRAIN_STEPS; ++step) {
    float loss = 0;
    draw_points(xy, arm, SPIRALS_BATCH);
    if (spirals_step(model, xy, arm, &loss) != 0)
      return fail(model, "spirals_step");
    if (step == 1 || step % 300 == 0)
      printf("step %4d  loss %.4f\n", step, loss);
  }

  static float test_xy[TEST_POINTS * 2], probs[TEST_POINTS * ARMS];
  static int32_t test_arm[TEST_POINTS];
  draw_points(test_xy, test_arm, TEST_POINTS);
  if (predict_all(model, test_xy, TEST_POINTS, probs) != 0)
    return fail(model, "spirals_predict");
  int correct = 0;
  for (int i = 0; i < TEST_POINTS; ++i)
    correct += argmax(probs + ARMS * i) == test_arm[i];
  printf("accuracy on %d new points: %.1f%%\n", TEST_POINTS, 100.0 * correct / TEST_POINTS);

  /* The arm the model predicts over [-1, 1] x [-1, 1], one letter per cell. */
  static float grid[MAP_ROWS * MAP_COLS * 2], grid_probs[MAP_ROWS * MAP_COLS * ARMS];
  for (int r = 0; r < MAP_ROWS; ++r)
    for (int c = 0; c < MAP_COLS; ++c) {
      grid[2 * (r * MAP_COLS + c)] = -1.0f + 2.0f * (c + 0.5f) / MAP_COLS;
      grid[2 * (r * MAP_COLS + c) + 1] = 1.0f - 2.0f * (r + 0.5f) / MAP_ROWS;
    }
  if (predict_all(model, grid, MAP_ROWS * MAP_COLS, grid_probs) != 0)
    return fail(model, "spirals_predict");
  for (int r = 0; r < MAP_ROWS; ++r) {
    for (int c = 0; c < MAP_COLS; ++c)
      putchar("abc"[argmax(grid_probs + ARMS * (r * MAP_COLS + c))]);
    putchar('\n');
  }

  /* A checkpoint holds every variable: a model created from another seed
   * that loads it predicts exactly the same. */
  if (spirals_save(model, checkpoint) != 0)
    return fail(model, "spirals_save");
  spirals *restored = spirals_create(2);
  if (!restored)
    return fail(NULL, "spirals_create");
  static float restored_probs[TEST_POINTS * ARMS];
  if (spirals_load(restored, checkpoint) != 0)
    return fail(restored, "spirals_load");
  if (predict_all(restored, test_xy, TEST_POINTS, restored_probs) != 0)
    return fail(restored, "spirals_predict");
  const int same = memcmp(probs, restored_probs, sizeof probs) == 0;
  printf("saved %s; a model loading it predicts %s\n", checkpoint,
         same ? "the same" : "DIFFERENTLY");
  spirals_destroy(restored);
  spirals_destroy(model);
  return same ? 0 : 1;
}
