/* main.c — a plain C99 application using mnist_mlp compiled ahead of time by
 * dlc: train on synthetic data, predict a partial batch, checkpoint, restore
 * into a second model, and check that a corrupt checkpoint is refused.
 * Exits 0 only if every check holds. */
#include "mnist_mlp.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIDE = 28, PIXELS = SIDE * SIDE, CLASSES = 10, TRAIN_STEPS = 30, PREDICT_ROWS = 37 };

static const char *const CHECKPOINT = "c_app.ckpt";
static const char *const CORRUPT_CHECKPOINT = "c_app_corrupt.ckpt";

static int failures = 0;

static void check(int ok, const char *what) {
  printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok)
    ++failures;
}

/* A tiny LCG keeps the data identical on every platform, unlike rand(). */
static float noise(uint32_t *state) {
  *state = *state * 1664525u + 1013904223u;
  return (float)(*state >> 8) / 16777216.0f;
}

/* Class c lights a 3-pixel-high band starting at row 2 + 2c over faint
 * noise: distinct enough that an MLP learns it within a few dozen steps. */
static void make_examples(float *x, int32_t *y, size_t n, uint32_t *state) {
  for (size_t i = 0; i < n; ++i) {
    const int label = (int)(noise(state) * CLASSES) % CLASSES;
    float *image = x + i * PIXELS;
    for (int p = 0; p < PIXELS; ++p)
      image[p] = 0.2f * noise(state);
    for (int row = 2 + 2 * label; row < 5 + 2 * label; ++row)
      for (int col = 4; col < SIDE - 4; ++col)
        image[row * SIDE + col] = 0.8f + 0.2f * noise(state);
    y[i] = label;
  }
}

static int argmax(const float *row) {
  int best = 0;
  for (int c = 1; c < CLASSES; ++c)
    if (row[c] > row[best])
      best = c;
  return best;
}

/* Copies `from` to `to` with one byte in the middle inverted. */
static int write_corrupt_copy(const char *from, const char *to) {
  FILE *in = fopen(from, "rb");
  if (!in)
    return 0;
  fseek(in, 0, SEEK_END);
  const long size = ftell(in);
  fseek(in, 0, SEEK_SET);
  unsigned char *bytes = malloc(size > 0 ? (size_t)size : 1);
  const int read_ok = bytes && size > 0 && fread(bytes, 1, (size_t)size, in) == (size_t)size;
  fclose(in);
  if (!read_ok) {
    free(bytes);
    return 0;
  }
  bytes[size / 2] ^= 0xFF;
  FILE *out = fopen(to, "wb");
  const int write_ok = out && fwrite(bytes, 1, (size_t)size, out) == (size_t)size;
  if (out)
    fclose(out);
  free(bytes);
  return write_ok;
}

int main(void) {
  const dlc_model_desc *meta = mnist_mlp_metadata();
  check(meta && strcmp(meta->name, "mnist_mlp") == 0 && meta->batch == MNIST_MLP_BATCH,
        "metadata names mnist_mlp with batch MNIST_MLP_BATCH");

  const size_t batch = MNIST_MLP_BATCH;
  float *x = malloc(batch * PIXELS * sizeof *x);
  int32_t *y = malloc(batch * sizeof *y);
  /* One spare row beyond PREDICT_ROWS: predict must not write past n rows. */
  float *probs_a = malloc((PREDICT_ROWS + 1) * CLASSES * sizeof *probs_a);
  float *probs_b = malloc((PREDICT_ROWS + 1) * CLASSES * sizeof *probs_b);
  mnist_mlp *model_a = mnist_mlp_create(42);
  mnist_mlp *model_b = mnist_mlp_create(7);
  if (!x || !y || !probs_a || !probs_b || !model_a || !model_b) {
    fprintf(stderr, "c_app: out of memory (or the model's ABI does not match)\n");
    return 1;
  }

  /* Training: fresh synthetic batches, the loss must fall. */
  uint32_t data_state = 12345u;
  float first_losses = 0, last_losses = 0;
  int finite = 1;
  for (int step = 0; step < TRAIN_STEPS; ++step) {
    float loss = 0;
    make_examples(x, y, batch, &data_state);
    if (mnist_mlp_step(model_a, x, y, &loss) != 0) {
      printf("FAIL: mnist_mlp_step: %s\n", mnist_mlp_error(model_a));
      return 1;
    }
    printf("step %2d  loss %.4f\n", step + 1, loss);
    finite = finite && isfinite(loss);
    if (step < 5)
      first_losses += loss / 5;
    if (step >= TRAIN_STEPS - 5)
      last_losses += loss / 5;
  }
  check(finite, "every loss is finite");
  check(last_losses < 0.8f * first_losses, "the mean loss of the last 5 steps is < 0.8x the first 5");

  /* A partial batch: n < MNIST_MLP_BATCH rows in, exactly n rows out. */
  make_examples(x, y, PREDICT_ROWS, &data_state);
  const float sentinel = -12345.0f;
  for (int c = 0; c < CLASSES; ++c)
    probs_a[PREDICT_ROWS * CLASSES + c] = sentinel;
  const int predict_rc = mnist_mlp_predict(model_a, x, PREDICT_ROWS, probs_a);
  if (predict_rc != 0)
    printf("     mnist_mlp_predict: %s\n", mnist_mlp_error(model_a));
  check(predict_rc == 0, "predict with n < batch succeeds");
  int sums_ok = 1, untouched = 1, correct = 0;
  for (int r = 0; r < PREDICT_ROWS; ++r) {
    float sum = 0;
    for (int c = 0; c < CLASSES; ++c)
      sum += probs_a[r * CLASSES + c];
    sums_ok = sums_ok && fabsf(sum - 1.0f) < 1e-4f;
    correct += argmax(probs_a + r * CLASSES) == y[r];
  }
  for (int c = 0; c < CLASSES; ++c)
    untouched = untouched && probs_a[PREDICT_ROWS * CLASSES + c] == sentinel;
  printf("     accuracy on %d new examples: %d/%d\n", PREDICT_ROWS, correct, PREDICT_ROWS);
  check(sums_ok, "every predicted row of probabilities sums to 1");
  check(untouched, "predict writes no row beyond n");
  check(correct >= PREDICT_ROWS * 8 / 10, "the trained model classifies >= 80% of new examples");

  /* A label outside [0, 10) is refused before the step runs: one bad row must
   * not turn every weight into NaN. */
  const int32_t bad_labels[] = {10, 1000, -1, INT32_MIN};
  int refused = 1;
  make_examples(x, y, batch, &data_state);
  mnist_mlp_predict(model_a, x, PREDICT_ROWS, probs_a);
  for (size_t k = 0; k < sizeof bad_labels / sizeof *bad_labels; ++k) {
    const int32_t saved = y[17];
    float loss = 0;
    y[17] = bad_labels[k];
    const int rc = mnist_mlp_step(model_a, x, y, &loss);
    const char *why = mnist_mlp_error(model_a);
    printf("     a step with label %d in row 17: rc %d, \"%s\"\n", (int)bad_labels[k], rc,
           why ? why : "(null)");
    refused = refused && rc != 0 && why && strstr(why, "row 17");
    y[17] = saved;
  }
  mnist_mlp_predict(model_a, x, PREDICT_ROWS, probs_b);
  check(refused, "a step with a label outside [0, 10) is refused, naming the row");
  check(memcmp(probs_a, probs_b, PREDICT_ROWS * CLASSES * sizeof *probs_a) == 0,
        "the refused steps changed no weight");

  /* Checkpoint round trip into a model created from another seed. */
  const int save_rc = mnist_mlp_save(model_a, CHECKPOINT);
  if (save_rc != 0)
    printf("     mnist_mlp_save: %s\n", mnist_mlp_error(model_a));
  check(save_rc == 0, "save a checkpoint");
  mnist_mlp_predict(model_b, x, PREDICT_ROWS, probs_b);
  check(memcmp(probs_a, probs_b, PREDICT_ROWS * CLASSES * sizeof *probs_a) != 0,
        "a model from another seed predicts differently before loading");
  const int load_rc = mnist_mlp_load(model_b, CHECKPOINT);
  if (load_rc != 0)
    printf("     mnist_mlp_load: %s\n", mnist_mlp_error(model_b));
  check(load_rc == 0, "load the checkpoint into the second model");
  mnist_mlp_predict(model_b, x, PREDICT_ROWS, probs_b);
  check(memcmp(probs_a, probs_b, PREDICT_ROWS * CLASSES * sizeof *probs_a) == 0,
        "after loading, its predictions equal the first model's exactly");

  /* A corrupt checkpoint is refused with a message and changes nothing. */
  check(write_corrupt_copy(CHECKPOINT, CORRUPT_CHECKPOINT), "write a corrupt copy");
  const int corrupt_rc = mnist_mlp_load(model_b, CORRUPT_CHECKPOINT);
  const char *message = mnist_mlp_error(model_b);
  printf("     loading the corrupt copy: rc %d, \"%s\"\n", corrupt_rc, message ? message : "(null)");
  check(corrupt_rc != 0 && message && *message, "the corrupt checkpoint is refused with a message");
  mnist_mlp_predict(model_b, x, PREDICT_ROWS, probs_b);
  check(memcmp(probs_a, probs_b, PREDICT_ROWS * CLASSES * sizeof *probs_a) == 0,
        "the refused load left the model unchanged");
  check(mnist_mlp_load(model_b, "no_such_checkpoint.ckpt") != 0,
        "loading a missing checkpoint fails");

  remove(CHECKPOINT);
  remove(CORRUPT_CHECKPOINT);
  mnist_mlp_destroy(model_a);
  mnist_mlp_destroy(model_b);
  free(x);
  free(y);
  free(probs_a);
  free(probs_b);
  if (failures)
    printf("c_app: %d check(s) failed\n", failures);
  else
    printf("c_app: all checks passed\n");
  return failures ? 1 : 0;
}
