/* update_bound.h - what bench_update.c compares an update's time with: its
 * GEMM FLOPs (from the layer shapes, checked against the products that the
 * generic update runs) and the backend's GEMM rate. Header only, for
 * bench_update.c alone, so that the program is still one .c file of bench/. */
#ifndef DDPG_BENCH_UPDATE_BOUND_H
#define DDPG_BENCH_UPDATE_BOUND_H

#include "bench_common.h"
#include "ddpg/ddpg.h"

/* ---- FLOPs ---- */

/* 2 rows in out, summed over the layers of s from layer `from` on: the
 * GEMMs of one forward pass (from = 0), or of one of the two products of a
 * backward pass, the weight gradients or the input gradients. */
static double pass_flops(const MlpShape *s, int rows, int from) {
    double f = 0;
    for (int l = from; l < s->n_layers; l++) f += 2.0 * rows * s->sizes[l] * s->sizes[l + 1];
    return f;
}

/* One update's GEMM FLOPs, as src/agent/ddpg.c runs it, on average over
 * TD3's policy_delay updates. With P(net) the products of one pass over the
 * batch and P1(net) the same without the first layer (no gradient goes to a
 * network's input), A the actor, C a critic and n the critics (TD3: 2):
 *   the TD target, mu'(s') and Q'(s', a')                      P(A) + n P(C)
 *   each critic's step: Q(s, a), weight and input gradients    n (2 P(C) + P1(C))
 * and on a policy step (one update in policy_delay):
 *   the actor's loss: mu(s), Q(s, mu(s)) and its gradient
 *     to the action (through every critic layer, no weights)   P(A) + 2 P(C)
 *   the actor's step: weight and input gradients               P(A) + P1(A)
 * The element-wise work (bias, activations, LayerNorm, losses, Adam) is not
 * counted. */
static double update_flops(const Ddpg *d) {
    const MlpShape *a = &d->actor.shape, *c = &d->critic[0].shape;
    int B = d->p.batch_size, n = d->n_critics;
    double A = pass_flops(a, B, 0), A1 = pass_flops(a, B, 1);
    double C = pass_flops(c, B, 0), C1 = pass_flops(c, B, 1);
    return (A + n * C) + n * (2 * C + C1) + ((A + 2 * C) + (A + A1)) / d->p.policy_delay;
}

/* The check: the products that policy_delay generic updates run (one of
 * them a policy step), per update, counted at the backend's gemm and
 * linear_act (the forward layer) ops. */
static double g_counted;
static void (*g_gemm)(Backend *, int, int, int, int, int, float, const float *, int,
                      const float *, int, float, float *, int);
static void (*g_linear_act)(Backend *, float *, const float *, const float *, const float *,
                            int, int, int, Activation, const ActionBounds *);

static void counting_gemm(Backend *be, int ta, int tb, int m, int n, int k, float alpha,
                          const float *A, int lda, const float *B, int ldb, float beta, float *C,
                          int ldc) {
    g_counted += 2.0 * m * n * k;
    g_gemm(be, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void counting_linear_act(Backend *be, float *y, const float *x, const float *w,
                                const float *b, int rows, int in, int out, Activation act,
                                const ActionBounds *ab) {
    g_counted += 2.0 * rows * in * out;
    g_linear_act(be, y, x, w, b, rows, in, out, act, ab);
}

static double counted_flops(Ddpg *d) {
    Backend *be = d->be;
    g_gemm = be->gemm, g_linear_act = be->linear_act;
    be->gemm = counting_gemm, be->linear_act = counting_linear_act;
    g_counted = 0;
    for (int u = 0; u < d->p.policy_delay; u++) {
        d->updates++; /* as ddpg_update_batch counts: the clock of TD3's delay */
        ddpg_update_generic(d);
    }
    be->sync(be);
    be->gemm = g_gemm, be->linear_act = g_linear_act;
    return g_counted / d->p.policy_delay;
}

/* ---- the GEMM rate ---- */

typedef struct {
    Backend *be;
    float *A, *B, *C; /* (256, 256) device each */
} GemmCtx;

#define RATE_N 256

static void one_gemm(void *ctx) {
    GemmCtx *g = ctx;
    g->be->gemm(g->be, 0, 1, RATE_N, RATE_N, RATE_N, 1.0f, g->A, RATE_N, g->B, RATE_N, 0.0f,
                g->C, RATE_N);
}

/* GFLOP/s of be's gemm op at 256x256x256 (A B^T, the forward layer's form):
 * the fastest of RATE_ROUNDS rounds of round_s, as a bound is the machine at
 * its best (and on a shared host the least disturbed round); NAN when out of
 * memory. */
#define RATE_ROUNDS 11
static double gemm_rate(Backend *be, double round_s) {
    size_t n = (size_t)RATE_N * RATE_N, bytes = sizeof(float) * n;
    GemmCtx g = {be, be->alloc(be, bytes), be->alloc(be, bytes), be->alloc(be, bytes)};
    double gflops = NAN;
    float *host = malloc(bytes);
    if (g.A && g.B && g.C && host) {
        srand(1);
        for (size_t i = 0; i < n; i++) host[i] = (float)rand() / RAND_MAX - 0.5f;
        be->to_device(be, g.A, host, bytes);
        be->to_device(be, g.B, host, bytes);
        BenchWork w = {be, one_gemm, &g, NULL, 1, 1};
        bench_calibrate(&w, round_s, 1 << 20);
        double t[RATE_ROUNDS];
        bench_time_rounds(&w, RATE_ROUNDS, t);
        double us = t[0];
        gflops = 2.0 * RATE_N * RATE_N * RATE_N / us * 1e-3;
    }
    free(host);
    if (g.A) be->free(be, g.A);
    if (g.B) be->free(be, g.B);
    if (g.C) be->free(be, g.C);
    return gflops;
}

static double fraction_of_bound(double flops, double gflops, double us) {
    return flops / (gflops * 1e3) / us;
}

#endif
