/* Two different models, compiled to two libraries, linked into one program:
 * both train and predict, each through its own prefixed API, and neither's
 * runtime (each model.so carries its own, hidden) disturbs the other. Also
 * the caller-owned context (create_in), params by name, and refusals. */
#include "autoencoder.h"
#include "mnist_mlp.h"
#include "synthetic.h"

#include <math.h>
#include <string.h>

/* The mlp's whole context lives in this static block: no malloc at all. */
static _Alignas(MNIST_MLP_ALIGNMENT) char mlp_block[MNIST_MLP_CONTEXT_BYTES];

static float x[MNIST_MLP_X_NUMEL], probs[MNIST_MLP_PROBS_NUMEL];
static int32_t y[MNIST_MLP_Y_NUMEL];
static float image[AUTOENCODER_IMAGE_NUMEL];
static float w[784 * 128], w2[784 * 128];

static int argmax10(const float *p) {
  int best = 0;
  for (int k = 1; k < 10; ++k)
    if (p[k] > p[best])
      best = k;
  return best;
}

int main(void) {
  /* create_in refuses a block too small or misaligned, and says why. */
  CHECK(mnist_mlp_create_in(mlp_block, sizeof mlp_block - 1, 1) == NULL);
  CHECK(strstr(mnist_mlp_error(NULL), "needs a block of") != NULL);
  CHECK(mnist_mlp_create_in(mlp_block + 1, sizeof mlp_block - 64, 1) == NULL);
  CHECK(strstr(mnist_mlp_error(NULL), "not aligned") != NULL);

  mnist_mlp *mlp = mnist_mlp_create_in(mlp_block, sizeof mlp_block, 1);
  CHECK(mlp != NULL);
  CHECK((char *)mlp >= mlp_block && (char *)mlp < mlp_block + sizeof mlp_block);
  autoencoder *ae = autoencoder_create(2);
  CHECK(ae != NULL);
  CHECK(strcmp(mnist_mlp_metadata()->name, "mnist_mlp") == 0);
  CHECK(strcmp(autoencoder_metadata()->name, "autoencoder") == 0);
  CHECK(mnist_mlp_metadata()->signature != autoencoder_metadata()->signature);

  /* A context from create_in starts as one from create with the same seed. */
  mnist_mlp *heap = mnist_mlp_create(1);
  CHECK(heap != NULL);
  CHECK_OK(mnist_mlp_get_param(mlp, "dense_1.w", w, 784 * 128), mlp, mnist_mlp_error);
  CHECK_OK(mnist_mlp_get_param(heap, "dense_1.w", w2, 784 * 128), heap, mnist_mlp_error);
  CHECK(memcmp(w, w2, sizeof w) == 0);
  mnist_mlp_destroy(heap);

  /* Interleaved training: both losses fall. */
  uint32_t s = 7;
  float mlp_first = 0, mlp_last = 0, ae_first = 0, ae_last = 0;
  for (int step = 0; step < 40; ++step) {
    synthetic_batch(&s, x, y, MNIST_MLP_BATCH);
    float loss;
    CHECK_OK(mnist_mlp_step(mlp, x, y, &loss), mlp, mnist_mlp_error);
    if (step == 0) mlp_first = loss;
    mlp_last = loss;
    CHECK_OK(autoencoder_step(ae, x, x, &loss), ae, autoencoder_error);
    if (step == 0) ae_first = loss;
    ae_last = loss;
  }
  printf("mnist_mlp loss %.4f -> %.4f, autoencoder loss %.4f -> %.4f\n", mlp_first,
         mlp_last, ae_first, ae_last);
  CHECK(mlp_last < 0.5f * mlp_first);
  CHECK(ae_last < 0.8f * ae_first);

  /* Both predict, on a partial batch. */
  synthetic_batch(&s, x, y, 5);
  CHECK_OK(mnist_mlp_predict(mlp, x, 5, probs), mlp, mnist_mlp_error);
  int right = 0;
  for (int r = 0; r < 5; ++r)
    right += argmax10(probs + 10 * r) == y[r];
  CHECK(right >= 4);
  CHECK_OK(autoencoder_predict(ae, x, 5, image), ae, autoencoder_error);
  for (int i = 0; i < 5 * 784; ++i)
    CHECK(image[i] >= 0.0f && image[i] <= 1.0f);

  /* Params by name: zeroing dense_2.w makes every class equally likely; the
   * trained values set back restore the predictions exactly. */
  static float saved[128 * 10], saved_b[10], zeros[128 * 10], before[50];
  memcpy(before, probs, sizeof before);
  CHECK_OK(mnist_mlp_get_param(mlp, "dense_2.w", saved, 1280), mlp, mnist_mlp_error);
  CHECK_OK(mnist_mlp_get_param(mlp, "dense_2.b", saved_b, 10), mlp, mnist_mlp_error);
  CHECK_OK(mnist_mlp_set_param(mlp, "dense_2.w", zeros, 1280), mlp, mnist_mlp_error);
  CHECK_OK(mnist_mlp_set_param(mlp, "dense_2.b", zeros, 10), mlp, mnist_mlp_error);
  CHECK_OK(mnist_mlp_predict(mlp, x, 5, probs), mlp, mnist_mlp_error);
  for (int i = 0; i < 50; ++i)
    CHECK(fabsf(probs[i] - 0.1f) < 1e-6f);
  CHECK_OK(mnist_mlp_set_param(mlp, "dense_2.w", saved, 1280), mlp, mnist_mlp_error);
  CHECK_OK(mnist_mlp_set_param(mlp, "dense_2.b", saved_b, 10), mlp, mnist_mlp_error);
  CHECK_OK(mnist_mlp_predict(mlp, x, 5, probs), mlp, mnist_mlp_error);
  CHECK(memcmp(probs, before, sizeof before) == 0);

  /* Bad names, sizes and values are refused with a message, changing nothing. */
  CHECK(mnist_mlp_get_param(mlp, "dense_3.w", w, 10) != 0);
  CHECK(strstr(mnist_mlp_error(mlp), "no variable 'dense_3.w'") != NULL);
  CHECK(strstr(mnist_mlp_error(mlp), "dense_1.w, dense_1.b, dense_2.w, dense_2.b") != NULL);
  CHECK(mnist_mlp_get_param(mlp, "dense_2.b", w, 11) != 0);
  CHECK(strstr(mnist_mlp_error(mlp), "has 10 elements, got 11") != NULL);
  saved[17] = NAN;
  CHECK(mnist_mlp_set_param(mlp, "dense_2.w", saved, 1280) != 0);
  CHECK(strstr(mnist_mlp_error(mlp), "element 17 of 'dense_2.w' is NaN") != NULL);
  /* Optimizer state is reachable by name too. */
  float t;
  CHECK_OK(mnist_mlp_get_param(mlp, "step.adam.t", &t, 1), mlp, mnist_mlp_error);
  CHECK(t == 40.0f);

  /* One model's checkpoint is refused by the other, which keeps its weights. */
  CHECK_OK(mnist_mlp_save(mlp, "two_models.mlp.ckpt"), mlp, mnist_mlp_error);
  static float ae_w[784 * 128], ae_w_after[784 * 128];
  CHECK_OK(autoencoder_get_param(ae, "dense_1.w", ae_w, 784 * 128), ae, autoencoder_error);
  CHECK(autoencoder_load(ae, "two_models.mlp.ckpt") != 0);
  printf("autoencoder_load of the mlp's checkpoint: %s\n", autoencoder_error(ae));
  CHECK_OK(autoencoder_get_param(ae, "dense_1.w", ae_w_after, 784 * 128), ae,
           autoencoder_error);
  CHECK(memcmp(ae_w, ae_w_after, sizeof ae_w) == 0);

  mnist_mlp_destroy(mlp); /* frees nothing: the block is ours */
  autoencoder_destroy(ae);
  printf("two models: ok\n");
  return 0;
}
