/* A peer of dlc: the MLP of examples/mnist_mlp.dl (784-128 relu-10, softmax
 * cross-entropy, Adam) hand-written in C over OpenBLAS sgemm, in static
 * buffers: what an expert would write instead of using dlc or any framework.
 * It comes from the peer programs dlc is measured against; only its command
 * line, its batches, its timing and its floating-point mode (peer_common.h)
 * were adapted for compare.py.
 *
 * Times a train step at --batch rows, and predict (softmax probabilities) at
 * --batch rows and at 1 row, as `dlc bench` does; prints `<entry> <rows>
 * <median seconds>` per figure. Threads are OpenBLAS's: OPENBLAS_NUM_THREADS.
 * Build: cc -O3 -march=native -fno-math-errno -o handwritten_mlp handwritten_mlp.c -lopenblas -lm
 * Run:   OPENBLAS_NUM_THREADS=1 ./handwritten_mlp [--batch 128] [--rounds 5] [--data FILE] */
#include <cblas.h>
#include <math.h>

#include "peer_common.h"

enum { D = 784, H = 128, K = 10 };
static float W1[D * H], b1[H], W2[H * K], b2[K];
static float gW1[D * H], gb1[H], gW2[H * K], gb2[K];
static float m_[D * H + H + H * K + K], v_[D * H + H + H * K + K];
static int t_ = 0;

static void adam(float *p, const float *g, float *m, float *v, int n, float lr, float bc1, float bc2) {
  for (int i = 0; i < n; i++) {
    m[i] = 0.9f * m[i] + 0.1f * g[i];
    v[i] = 0.999f * v[i] + 0.001f * g[i] * g[i];
    p[i] -= lr * (m[i] / bc1) / (sqrtf(v[i] / bc2) + 1e-8f);
  }
}

static float step(int B, const float *x, const int *y, float *h, float *lg, float *dh) {
  /* forward */
  for (int i = 0; i < B; i++) memcpy(h + i * H, b1, sizeof b1);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, D, 1, x, D, W1, H, 1, h, H);
  for (int i = 0; i < B * H; i++) h[i] = h[i] > 0 ? h[i] : 0;
  for (int i = 0; i < B; i++) memcpy(lg + i * K, b2, sizeof b2);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, K, H, 1, h, H, W2, K, 1, lg, K);
  /* softmax cross-entropy, gradient in place */
  float loss = 0;
  for (int i = 0; i < B; i++) {
    float *r = lg + i * K, mx = r[0], s = 0;
    for (int k = 1; k < K; k++) mx = r[k] > mx ? r[k] : mx;
    for (int k = 0; k < K; k++) { r[k] = expf(r[k] - mx); s += r[k]; }
    loss += logf(s) - logf(r[y[i]]);
    for (int k = 0; k < K; k++) r[k] = r[k] / s / B;
    r[y[i]] -= 1.0f / B;
  }
  /* backward */
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, K, B, 1, h, H, lg, K, 0, gW2, K);
  memset(gb2, 0, sizeof gb2);
  for (int i = 0; i < B; i++) for (int k = 0; k < K; k++) gb2[k] += lg[i * K + k];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, K, 1, lg, K, W2, K, 0, dh, H);
  for (int i = 0; i < B * H; i++) dh[i] = h[i] > 0 ? dh[i] : 0;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, H, B, 1, x, D, dh, H, 0, gW1, H);
  memset(gb1, 0, sizeof gb1);
  for (int i = 0; i < B; i++) for (int j = 0; j < H; j++) gb1[j] += dh[i * H + j];
  /* Adam */
  t_++;
  float bc1 = 1 - powf(0.9f, t_), bc2 = 1 - powf(0.999f, t_), lr = 1e-3f;
  float *m = m_, *v = v_;
  adam(W1, gW1, m, v, D * H, lr, bc1, bc2); m += D * H; v += D * H;
  adam(b1, gb1, m, v, H, lr, bc1, bc2); m += H; v += H;
  adam(W2, gW2, m, v, H * K, lr, bc1, bc2); m += H * K; v += H * K;
  adam(b2, gb2, m, v, K, lr, bc1, bc2);
  return loss / B;
}

static void predict(int B, const float *x, float *h, float *lg) {
  for (int i = 0; i < B; i++) memcpy(h + i * H, b1, sizeof b1);
  if (B == 1) cblas_sgemv(CblasRowMajor, CblasTrans, D, H, 1, W1, H, x, 1, 1, h, 1);
  else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, D, 1, x, D, W1, H, 1, h, H);
  for (int i = 0; i < B * H; i++) h[i] = h[i] > 0 ? h[i] : 0;
  for (int i = 0; i < B; i++) memcpy(lg + i * K, b2, sizeof b2);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, K, H, 1, h, H, W2, K, 1, lg, K);
  for (int i = 0; i < B; i++) {
    float *r = lg + i * K, mx = r[0], s = 0;
    for (int k = 1; k < K; k++) mx = r[k] > mx ? r[k] : mx;
    for (int k = 0; k < K; k++) { r[k] = expf(r[k] - mx); s += r[k]; }
    for (int k = 0; k < K; k++) r[k] /= s;
  }
}

/* What one timed call needs. A train step takes the next batch of the data
 * each time, as training would. */
typedef struct { int B, rows, batches, next; const float *x; const int *y; float *h, *lg, *dh; } Run;

static void run_step(void *p) {
  Run *r = p;
  int k = r->next++ % r->batches;
  step(r->B, r->x + (size_t)k * r->B * D, r->y + k * r->B, r->h, r->lg, r->dh);
}

static void run_predict(void *p) {
  Run *r = p;
  predict(r->rows, r->x, r->h, r->lg);
}

int main(int argc, char **argv) {
  PeerArgs a = peer_args(argc, argv, 128);
  peer_flush_denormals();
  /* The library and the threads it runs on, for compare.py to check. */
  printf("# %s; %d threads\n", openblas_get_config(), openblas_get_num_threads());
  int B = a.batch;
  srand(1);
  for (int i = 0; i < D * H; i++) W1[i] = ((float)rand() / RAND_MAX - 0.5f) * 0.07f;
  for (int i = 0; i < H * K; i++) W2[i] = ((float)rand() / RAND_MAX - 0.5f) * 0.17f;
  float *x;
  int *y;
  int rows = peer_load_batches(a.data, B, &x, &y);
  Run r = {B, B, rows / B, 0, x, y, malloc(sizeof(float) * B * H), malloc(sizeof(float) * B * K),
           malloc(sizeof(float) * B * H)};
  peer_report(B, a.rounds, run_step, run_predict, &r, &r.rows);
  return 0;
}
