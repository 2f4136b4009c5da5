/* A peer of dlc: a CNN (conv 32 3x3 relu -> max pool 2 -> dense 128 relu ->
 * dense 10, softmax cross-entropy, Adam) hand-written in C over OpenBLAS sgemm
 * (the convolution as im2col + sgemm), NHWC like dlc: what an expert would
 * write instead of using dlc or any framework. tools/bench/cnn.dl is the
 * same model in dlc's DSL. It comes from the peer programs dlc is measured
 * against; its command line, its batches, its timing and its floating-point
 * mode (peer_common.h) were adapted for compare.py, and predict gained the
 * softmax that dlc's and PyTorch's predict compute.
 *
 * Times a train step at --batch rows, and predict (softmax probabilities) at
 * --batch rows and at 1 row, as `dlc bench` does; prints `<entry> <rows>
 * <median seconds>` per figure. Threads are OpenBLAS's: OPENBLAS_NUM_THREADS.
 * Build: cc -O3 -march=native -fno-math-errno -o handwritten_cnn handwritten_cnn.c -lopenblas -lm
 * Run:   OPENBLAS_NUM_THREADS=1 ./handwritten_cnn [--batch 128] [--rounds 5] [--data FILE] */
#include <cblas.h>
#include <math.h>

#include "peer_common.h"

enum { S = 28, O = 26, P = 13, C = 32, F = P * P * C, H = 128, K = 10, NP = 9 * C + C + F * H + H + H * K + K };
static float prm[NP], grd[NP], mom[NP], vel[NP];
#define Wc (prm)
#define bc (prm + 9 * C)
#define W3 (prm + 9 * C + C)
#define b3 (W3 + F * H)
#define W4 (b3 + H)
#define b4 (W4 + H * K)
#define gWc (grd)
#define gbc (grd + 9 * C)
#define gW3 (grd + 9 * C + C)
#define gb3 (gW3 + F * H)
#define gW4 (gb3 + H)
#define gb4 (gW4 + H * K)
static int t_ = 0;

typedef struct { float *col, *conv, *pool, *h, *lg, *dh, *dp, *dconv; int *arg; } Bufs;

static void forward(int B, const float *x, Bufs *b) {
  for (int n = 0; n < B; n++)
    for (int i = 0; i < O; i++)
      for (int j = 0; j < O; j++) {
        float *r = b->col + ((n * O + i) * O + j) * 9;
        for (int di = 0; di < 3; di++) for (int dj = 0; dj < 3; dj++) r[di * 3 + dj] = x[n * S * S + (i + di) * S + j + dj];
      }
  int M = B * O * O;
  for (int r = 0; r < M; r++) memcpy(b->conv + r * C, bc, sizeof(float) * C);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, C, 9, 1, b->col, 9, Wc, C, 1, b->conv, C);
  for (int i = 0; i < M * C; i++) b->conv[i] = b->conv[i] > 0 ? b->conv[i] : 0;
  for (int n = 0; n < B; n++)
    for (int i = 0; i < P; i++)
      for (int j = 0; j < P; j++)
        for (int c = 0; c < C; c++) {
          int best = ((n * O + 2 * i) * O + 2 * j) * C + c;
          for (int di = 0; di < 2; di++) for (int dj = 0; dj < 2; dj++) {
            int q = ((n * O + 2 * i + di) * O + 2 * j + dj) * C + c;
            if (b->conv[q] > b->conv[best]) best = q;
          }
          int o = ((n * P + i) * P + j) * C + c;
          b->pool[o] = b->conv[best]; b->arg[o] = best;
        }
  for (int n = 0; n < B; n++) memcpy(b->h + n * H, b3, sizeof(float) * H);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, F, 1, b->pool, F, W3, H, 1, b->h, H);
  for (int i = 0; i < B * H; i++) b->h[i] = b->h[i] > 0 ? b->h[i] : 0;
  for (int n = 0; n < B; n++) memcpy(b->lg + n * K, b4, sizeof(float) * K);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, K, H, 1, b->h, H, W4, K, 1, b->lg, K);
}

static float step(int B, const float *x, const int *y, Bufs *b) {
  forward(B, x, b);
  float loss = 0;
  for (int i = 0; i < B; i++) {
    float *r = b->lg + i * K, mx = r[0], s = 0;
    for (int k = 1; k < K; k++) mx = r[k] > mx ? r[k] : mx;
    for (int k = 0; k < K; k++) { r[k] = expf(r[k] - mx); s += r[k]; }
    loss += logf(s) - logf(r[y[i]]);
    for (int k = 0; k < K; k++) r[k] = r[k] / s / B;
    r[y[i]] -= 1.0f / B;
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, K, B, 1, b->h, H, b->lg, K, 0, gW4, K);
  memset(gb4, 0, sizeof(float) * K);
  for (int i = 0; i < B; i++) for (int k = 0; k < K; k++) gb4[k] += b->lg[i * K + k];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, K, 1, b->lg, K, W4, K, 0, b->dh, H);
  for (int i = 0; i < B * H; i++) b->dh[i] = b->h[i] > 0 ? b->dh[i] : 0;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, F, H, B, 1, b->pool, F, b->dh, H, 0, gW3, H);
  memset(gb3, 0, sizeof(float) * H);
  for (int i = 0; i < B; i++) for (int j = 0; j < H; j++) gb3[j] += b->dh[i * H + j];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, F, H, 1, b->dh, H, W3, H, 0, b->dp, F);
  int M = B * O * O;
  memset(b->dconv, 0, sizeof(float) * M * C);
  for (int o = 0; o < B * F; o++) { int q = b->arg[o]; if (b->conv[q] > 0) b->dconv[q] = b->dp[o]; }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 9, C, M, 1, b->col, 9, b->dconv, C, 0, gWc, C);
  memset(gbc, 0, sizeof(float) * C);
  for (int r = 0; r < M; r++) for (int c = 0; c < C; c++) gbc[c] += b->dconv[r * C + c];
  t_++;
  float bc1 = 1 - powf(0.9f, t_), bc2 = 1 - powf(0.999f, t_), lr = 1e-3f;
  for (int i = 0; i < NP; i++) {
    mom[i] = 0.9f * mom[i] + 0.1f * grd[i];
    vel[i] = 0.999f * vel[i] + 0.001f * grd[i] * grd[i];
    prm[i] -= lr * (mom[i] / bc1) / (sqrtf(vel[i] / bc2) + 1e-8f);
  }
  return loss / B;
}

/* forward, then the softmax dlc's and PyTorch's predict end with. */
static void predict(int B, const float *x, Bufs *b) {
  forward(B, x, b);
  for (int i = 0; i < B; i++) {
    float *r = b->lg + i * K, mx = r[0], s = 0;
    for (int k = 1; k < K; k++) mx = r[k] > mx ? r[k] : mx;
    for (int k = 0; k < K; k++) { r[k] = expf(r[k] - mx); s += r[k]; }
    for (int k = 0; k < K; k++) r[k] /= s;
  }
}

/* What one timed call needs. A train step takes the next batch of the data
 * each time, as training would. */
typedef struct { int B, rows, batches, next; const float *x; const int *y; Bufs *b; } Run;

static void run_step(void *p) {
  Run *r = p;
  int k = r->next++ % r->batches;
  step(r->B, r->x + (size_t)k * r->B * S * S, r->y + k * r->B, r->b);
}

static void run_predict(void *p) {
  Run *r = p;
  predict(r->rows, r->x, r->b);
}

int main(int argc, char **argv) {
  PeerArgs a = peer_args(argc, argv, 128);
  peer_flush_denormals();
  /* The library and the threads it runs on, for compare.py to check. */
  printf("# %s; %d threads\n", openblas_get_config(), openblas_get_num_threads());
  int B = a.batch;
  srand(1);
  for (int i = 0; i < NP; i++) prm[i] = ((float)rand() / RAND_MAX - 0.5f) * 0.05f;
  Bufs b;
  b.col = malloc(sizeof(float) * B * O * O * 9); b.conv = malloc(sizeof(float) * B * O * O * C);
  b.dconv = malloc(sizeof(float) * B * O * O * C); b.pool = malloc(sizeof(float) * B * F);
  b.dp = malloc(sizeof(float) * B * F); b.arg = malloc(sizeof(int) * B * F);
  b.h = malloc(sizeof(float) * B * H); b.dh = malloc(sizeof(float) * B * H); b.lg = malloc(sizeof(float) * B * K);
  float *x;
  int *y;
  int rows = peer_load_batches(a.data, B, &x, &y);
  Run r = {B, B, rows / B, 0, x, y, &b};
  peer_report(B, a.rounds, run_step, run_predict, &r, &r.rows);
  return 0;
}
