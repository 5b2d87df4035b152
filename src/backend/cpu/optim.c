/* optim.c - one network's optimizer step: the global gradient norm for
 * clipping, Adam and the soft target update in one pass (the mirror of
 * kernels/optim.cu). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu_common.h"
#include "ddpg/elem.h"

#define NORM_CHUNK 4096 /* fixed reduction chunk of the gradient norm */
#define MAX_NORM_PARTS 64

/* Sum of squares of g(n): SUMSQ_LANES float lanes in a fixed order
 * (vectorizes), combined in double. 32 lanes are four independent 8-wide
 * accumulators, twice as fast as 16 (two chains, each waiting on the FMA
 * before it; bench/results/cpu_update.md). */
#define SUMSQ_LANES 32
static double sum_squares(const float *g, size_t n) {
    float lane[SUMSQ_LANES] = {0};
    size_t i = 0;
    for (; i + SUMSQ_LANES <= n; i += SUMSQ_LANES)
        for (int k = 0; k < SUMSQ_LANES; k++) lane[k] += g[i + k] * g[i + k];
    double s = 0.0;
    for (; i < n; i++) s += (double)g[i] * g[i];
    for (int k = 0; k < SUMSQ_LANES; k++) s += lane[k];
    return s;
}

double cpu_part_sumsq(const float *x, size_t n) {
    double s = 0.0;
    for (size_t off = 0; off < n; off += NORM_CHUNK)
        s += sum_squares(x + off, n - off < NORM_CHUNK ? n - off : NORM_CHUNK);
    return s;
}

/* The factor that clips g to global norm max_norm: below 1 only when
 * max_norm > 0 and the norm is above it. *norm_acc += the norm when given. */
static float clip_from_norm(float norm, float max_norm, float *norm_acc) {
    if (norm_acc) *norm_acc += norm;
    float c = max_norm > 0.0f ? clip_coef_elem(norm, max_norm) : 1.0f;
    return c < 1.0f ? c : 1.0f;
}

typedef struct {
    float *p, *m, *v, *targ;
    const float *g;
    AdamHyper h;
    float bc1, bc2;
    float gscale, tau; /* the clip coefficient and the soft update's rate */
} AdamArgs;

/* Adam, with the clip coefficient and the soft update folded in: g * gscale
 * is what a clip pass would have stored (a coefficient of 1 changes
 * nothing), and the target follows p where targ is non-NULL. */
static void optim_part(void *ctx, size_t lo, size_t hi) {
    const AdamArgs *a = ctx;
    float *restrict p = a->p, *restrict m = a->m, *restrict v = a->v, *restrict t = a->targ;
    const float *restrict g = a->g;
    AdamHyper h = a->h;
    float bc1 = a->bc1, bc2 = a->bc2, gscale = a->gscale, tau = a->tau;
    if (t) {
        for (size_t i = lo; i < hi; i++) {
            adam_elem(&p[i], g[i] * gscale, &m[i], &v[i], h.lr, h.beta1, h.beta2, h.eps, bc1,
                      bc2);
            t[i] = polyak_elem(t[i], p[i], tau);
        }
    } else {
        for (size_t i = lo; i < hi; i++)
            adam_elem(&p[i], g[i] * gscale, &m[i], &v[i], h.lr, h.beta1, h.beta2, h.eps, bc1,
                      bc2);
    }
}

void cpu_optim_step_sums(Backend *be, float *p, float *g, float *m, float *v, size_t n,
                         const double *sums, int nparts, float max_norm, float *norm_acc,
                         AdamHyper h, int64_t *step, float *targ, float tau) {
    /* the step first, then its bias corrections, as torch.optim.Adam */
    *step += 1;
    AdamArgs a = {p, m, v, targ, g, h, (float)(1.0 - pow(h.beta1, (double)*step)),
                  (float)(1.0 - pow(h.beta2, (double)*step)), 1.0f, tau};
    if (max_norm > 0.0f || norm_acc) {
        double s = 0.0;
        for (int i = 0; i < nparts; i++) s += sums[i];
        a.gscale = clip_from_norm((float)sqrt(s), max_norm, norm_acc);
    }
    cpu_for(be, n, 16, ELEM_PART_MIN, optim_part, &a);
}

void cpu_optim_step(Backend *be, float *p, float *g, float *m, float *v, size_t n,
                    const size_t *parts, int nparts, float max_norm, float *norm_acc,
                    AdamHyper h, int64_t *step, float *targ, float tau) {
    double sums[MAX_NORM_PARTS];
    if (nparts > MAX_NORM_PARTS) {
        fprintf(stderr, "cpu optim_step: %d norm parts, at most %d\n", nparts, MAX_NORM_PARTS);
        exit(EXIT_FAILURE);
    }
    if (max_norm > 0.0f || norm_acc) {
        size_t off = 0;
        for (int i = 0; i < nparts; i++) {
            sums[i] = cpu_part_sumsq(g + off, parts[i]);
            off += parts[i];
        }
    }
    cpu_optim_step_sums(be, p, g, m, v, n, sums, nparts, max_norm, norm_acc, h, step, targ, tau);
}
