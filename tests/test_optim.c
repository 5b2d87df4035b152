/* test_optim.c - Adam, Polyak averaging, gradient clipping, the TD target and
 * losses, and one whole ddpg_update_batch, against values computed here in
 * double from the published formulas. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/ddpg.h"
#include "ddpg/elem.h"
#include "ddpg/mlp.h"
#include "suites.h"

/* |got - want| <= rtol |want| + atol, with both numbers in the message */
#define ck_assert_close(got, want, rtol, atol)                                                 \
    do {                                                                                       \
        double g_ = (got), w_ = (want);                                                        \
        ck_assert_msg(fabs(g_ - w_) <= (rtol) * fabs(w_) + (atol), "%s = %.9g, expected %.9g", \
                      #got, g_, w_);                                                           \
    } while (0)

/* ---- Adam --------------------------------------------------------------- */

/* torch.optim.Adam (amsgrad=False, weight_decay=0), one step t >= 1, written
 * out as its documentation states it:
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)   */
static void torch_adam_step(double *p, double g, double *m, double *v, int64_t t, double lr,
                            double b1, double b2, double eps) {
    *m = b1 * *m + (1.0 - b1) * g;
    *v = b2 * *v + (1.0 - b2) * g * g;
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    *p -= lr / bc1 * *m / (sqrt(*v) / sqrt(bc2) + eps);
}

enum { ADAM_N = 5 };

/* Runs `steps` be->adam calls from step counter `t0` and compares p, m, v
 * after each with torch_adam_step in double. Gradient 1e-9 makes sqrt(v_hat)
 * smaller than eps, so the placement of eps matters. */
static void check_adam(int64_t t0, int steps) {
    Backend *be = backend_cpu_create(1);
    const float grads[3][ADAM_N] = {{0.5f, -2.0f, 1e-9f, 0.0f, 3.0f},
                                    {-0.25f, -1.0f, 1e-9f, 0.0f, 0.1f},
                                    {1.0f, 4.0f, -1e-9f, 0.0f, -3.0f}};
    const float p0[ADAM_N] = {1.0f, -0.5f, 0.25f, 2.0f, 0.0f};
    const float m0[ADAM_N] = {0.0f, 0.0f, 0.0f, 0.0f, 0.1f}; /* resumed state when t0 > 0 */
    const float v0[ADAM_N] = {0.0f, 0.0f, 0.0f, 0.0f, 0.2f};
    AdamHyper h = {0.01f, 0.9f, 0.999f, 1e-8f};
    float *p = be->alloc(be, sizeof p0), *g = be->alloc(be, sizeof p0);
    float *m = be->alloc(be, sizeof p0), *v = be->alloc(be, sizeof p0);
    int64_t *step = be->alloc(be, sizeof(int64_t));
    ck_assert(p && g && m && v && step);
    memcpy(p, p0, sizeof p0);
    if (t0 > 0) memcpy(m, m0, sizeof m0), memcpy(v, v0, sizeof v0);
    *step = t0;
    double pd[ADAM_N], md[ADAM_N], vd[ADAM_N];
    for (int i = 0; i < ADAM_N; i++) pd[i] = p[i], md[i] = m[i], vd[i] = v[i];

    for (int s = 0; s < steps; s++) {
        memcpy(g, grads[s], sizeof p0);
        be->adam(be, p, g, m, v, ADAM_N, h, step);
        ck_assert_int_eq(*step, t0 + s + 1); /* incremented first, as torch */
        for (int i = 0; i < ADAM_N; i++) {
            torch_adam_step(&pd[i], grads[s][i], &md[i], &vd[i], t0 + s + 1, h.lr, h.beta1,
                            h.beta2, h.eps);
            ck_assert_close(m[i], md[i], 1e-6, 1e-30);
            ck_assert_close(v[i], vd[i], 1e-6, 1e-30);
            /* the update is ~lr = 1e-2, so 1e-6 absolute is 1e-4 of a step */
            ck_assert_close(p[i], pd[i], 0.0, 1e-6);
        }
        ck_assert_mem_eq(g, grads[s], sizeof p0); /* the gradient is an input */
    }
    be->free(be, p), be->free(be, g), be->free(be, m), be->free(be, v), be->free(be, step);
    be->destroy(be);
}

START_TEST(test_adam_three_steps_from_zero) { check_adam(0, 3); }
END_TEST

/* From a saved state the bias corrections use the incremented counter. */
START_TEST(test_adam_resumes_step_counter) { check_adam(9, 3); }
END_TEST

/* Step one of Adam moves every parameter with a nonzero gradient by ~lr:
 * m_hat / sqrt(v_hat) = sign(g). */
START_TEST(test_adam_first_step_is_lr_sign) {
    Backend *be = backend_cpu_create(1);
    enum { N = 257 };
    float *p = be->alloc(be, sizeof(float) * N), *g = be->alloc(be, sizeof(float) * N);
    float *m = be->alloc(be, sizeof(float) * N), *v = be->alloc(be, sizeof(float) * N);
    int64_t *step = be->alloc(be, sizeof(int64_t));
    ck_assert(p && g && m && v && step);
    for (int i = 0; i < N; i++) g[i] = (i % 2 ? 1.0f : -1.0f) * (0.01f + i);
    AdamHyper h = {1e-3f, 0.9f, 0.999f, 1e-8f};
    be->adam(be, p, g, m, v, N, h, step);
    for (int i = 0; i < N; i++) ck_assert_close(p[i], g[i] > 0 ? -1e-3 : 1e-3, 1e-5, 0.0);
    be->free(be, p), be->free(be, g), be->free(be, m), be->free(be, v), be->free(be, step);
    be->destroy(be);
}
END_TEST

/* ---- Polyak ------------------------------------------------------------- */

START_TEST(test_polyak_hand_values) {
    Backend *be = backend_cpu_create(1);
    float *t = be->alloc(be, sizeof(float) * 4), *s = be->alloc(be, sizeof(float) * 4);
    ck_assert(t && s);
    const float t0[4] = {1.0f, 2.0f, 3.0f, -4.0f}, s0[4] = {3.0f, -2.0f, 0.5f, -4.0f};
    memcpy(t, t0, sizeof t0), memcpy(s, s0, sizeof s0);
    be->polyak(be, t, s, 4, 0.25f); /* 0.75 t + 0.25 s */
    const double want[4] = {1.5, 1.0, 2.375, -4.0};
    for (int i = 0; i < 4; i++) ck_assert_close(t[i], want[i], 1e-7, 0.0);
    ck_assert_mem_eq(s, s0, sizeof s0);
    be->polyak(be, t, s, 4, 1.0f); /* tau 1 copies */
    ck_assert_mem_eq(t, s0, sizeof s0);
    memcpy(t, t0, sizeof t0);
    be->polyak(be, t, s, 4, 0.0f); /* tau 0 keeps */
    ck_assert_mem_eq(t, t0, sizeof t0);
    be->free(be, t), be->free(be, s);
    be->destroy(be);
}
END_TEST

/* ---- the fused optimizer step -------------------------------------------- */

static float *rand_floats(size_t n, unsigned seed, float scale) {
    float *x = malloc(sizeof(float) * n);
    ck_assert_ptr_nonnull(x);
    srand(seed);
    for (size_t i = 0; i < n; i++) x[i] = scale * (2.0f * (float)rand() / (float)RAND_MAX - 1.0f);
    return x;
}

/* optim_step gives bit for bit what clip_grad_norm, adam and polyak give in
 * turn: over three steps, clipping on (active or not) and off, with and
 * without a target, on 1 and 3 threads, at sizes that leave tails. */
START_TEST(test_optim_step_equals_clip_adam_polyak) {
    static const size_t ns[] = {65, 4099, 70001};
    static const float max_norms[] = {0.0f, 1e9f, 0.01f};
    for (int threads = 1; threads <= 3; threads += 2) {
        Backend *be = backend_cpu_create(threads);
        for (int si = 0; si < 3; si++)
            for (int mi = 0; mi < 3; mi++)
                for (int with_targ = 0; with_targ < 2; with_targ++) {
                    size_t n = ns[si];
                    /* [0] the three calls, [1] optim_step */
                    float *p[2], *g[2], *m[2], *v[2], *t[2], *acc[2];
                    int64_t *step[2];
                    for (int k = 0; k < 2; k++) {
                        p[k] = be->alloc(be, sizeof(float) * n);
                        g[k] = be->alloc(be, sizeof(float) * n);
                        m[k] = be->alloc(be, sizeof(float) * n);
                        v[k] = be->alloc(be, sizeof(float) * n);
                        t[k] = be->alloc(be, sizeof(float) * n);
                        acc[k] = be->alloc(be, sizeof(float));
                        step[k] = be->alloc(be, sizeof(int64_t));
                        ck_assert(p[k] && g[k] && m[k] && v[k] && t[k] && acc[k] && step[k]);
                        float *x = rand_floats(n, 11, 1.0f);
                        memcpy(p[k], x, sizeof(float) * n);
                        free(x);
                        x = rand_floats(n, 12, 1.0f);
                        memcpy(t[k], x, sizeof(float) * n);
                        free(x);
                    }
                    AdamHyper h = {1e-3f, 0.9f, 0.999f, 1e-8f};
                    for (int it = 0; it < 3; it++) {
                        float *gr = rand_floats(n, 100u + (unsigned)it, 0.05f);
                        memcpy(g[0], gr, sizeof(float) * n), memcpy(g[1], gr, sizeof(float) * n);
                        free(gr);
                        float mx = max_norms[mi];
                        be->clip_grad_norm(be, g[0], n, mx, acc[0]);
                        be->adam(be, p[0], g[0], m[0], v[0], n, h, step[0]);
                        if (with_targ) be->polyak(be, t[0], p[0], n, 0.01f);
                        be->optim_step(be, p[1], g[1], m[1], v[1], n, mx, acc[1], h, step[1],
                                       with_targ ? t[1] : NULL, 0.01f, NULL, 0);
                    }
                    ck_assert_mem_eq(p[1], p[0], sizeof(float) * n);
                    ck_assert_mem_eq(m[1], m[0], sizeof(float) * n);
                    ck_assert_mem_eq(v[1], v[0], sizeof(float) * n);
                    ck_assert_mem_eq(t[1], t[0], sizeof(float) * n);
                    ck_assert_float_eq(*acc[1], *acc[0]);
                    ck_assert_int_eq(*step[1], 3);
                    ck_assert_int_eq(*step[0], 3);
                    /* the clip really acted where it should */
                    if (mi == 2) ck_assert(*acc[0] > 3.0f * max_norms[2]);
                    for (int k = 0; k < 2; k++) {
                        be->free(be, p[k]), be->free(be, g[k]), be->free(be, m[k]);
                        be->free(be, v[k]), be->free(be, t[k]), be->free(be, acc[k]);
                        be->free(be, step[k]);
                    }
                }
        be->destroy(be);
    }
}
END_TEST

/* Backend.sumsq and optim_step's norm from parts: sumsq matches a double sum
 * and is the same on 1 and 3 threads; optim_step with the parts of g gives
 * what it gives reading g (the norm summed in another order: within rounding),
 * and really uses the parts (parts 4x too big double the norm). */
START_TEST(test_optim_step_norm_from_sumsq_parts) {
    enum { N = 70001 };
    const size_t cut[4] = {0, 1000, 66537, N}; /* three uneven parts */
    Backend *be1 = backend_cpu_create(1), *be3 = backend_cpu_create(3);
    float *gr = rand_floats(N, 21, 0.05f);
    double parts[3], parts3[3], want = 0.0;
    for (int k = 0; k < 3; k++) {
        double ref = 0.0;
        for (size_t i = cut[k]; i < cut[k + 1]; i++) ref += (double)gr[i] * gr[i];
        be1->sumsq(be1, &parts[k], gr + cut[k], cut[k + 1] - cut[k]);
        be3->sumsq(be3, &parts3[k], gr + cut[k], cut[k + 1] - cut[k]);
        ck_assert_msg(fabs(parts[k] - ref) <= 1e-6 * ref, "part %d: %.10g, want %.10g", k,
                      parts[k], ref);
        ck_assert(parts3[k] == parts[k]);
        want += ref;
    }
    AdamHyper h = {1e-3f, 0.9f, 0.999f, 1e-8f};
    float max_norm = 0.1f * (float)sqrt(want); /* clipping active */
    /* [0] norm read from g, [1] from the parts, [2] from parts 4x too big */
    float *p[3], *m[3], *v[3], *t[3], acc[3] = {0, 0, 0};
    int64_t step[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        p[k] = rand_floats(N, 22, 1.0f), t[k] = rand_floats(N, 23, 1.0f);
        m[k] = calloc(N, sizeof(float)), v[k] = calloc(N, sizeof(float));
        ck_assert(m[k] && v[k]);
    }
    double big[3] = {4 * parts[0], 4 * parts[1], 4 * parts[2]};
    be1->optim_step(be1, p[0], gr, m[0], v[0], N, max_norm, &acc[0], h, &step[0], t[0], 0.01f,
                    NULL, 0);
    be1->optim_step(be1, p[1], gr, m[1], v[1], N, max_norm, &acc[1], h, &step[1], t[1], 0.01f,
                    parts, 3);
    be1->optim_step(be1, p[2], gr, m[2], v[2], N, max_norm, &acc[2], h, &step[2], t[2], 0.01f,
                    big, 3);
    ck_assert_float_eq_tol(acc[1], acc[0], 1e-6f * acc[0]);
    ck_assert_float_eq_tol(acc[2], 2.0f * acc[0], 1e-5f * acc[0]);
    double dm = 0, dm2 = 0;
    for (size_t i = 0; i < N; i++) {
        dm = fmax(dm, fabs(m[1][i] - m[0][i]) / (fabs(m[0][i]) + 1e-12));
        dm2 = fmax(dm2, fabs(m[2][i] - m[0][i]) / (fabs(m[0][i]) + 1e-12));
        ck_assert(fabsf(p[1][i] - p[0][i]) <= 1e-6f && fabsf(t[1][i] - t[0][i]) <= 1e-6f);
    }
    ck_assert_msg(dm < 1e-5, "first moments differ by %.3g (relative)", dm);
    ck_assert_msg(dm2 > 0.4, "parts 4x too big changed the clipped gradient by only %.3g", dm2);
    for (int k = 0; k < 3; k++) free(p[k]), free(m[k]), free(v[k]), free(t[k]);
    free(gr);
    be1->destroy(be1);
    be3->destroy(be3);
}
END_TEST

/* ---- gradient clipping -------------------------------------------------- */

START_TEST(test_clip_grad_norm_scales_to_max) {
    Backend *be = backend_cpu_create(1);
    enum { N = 1001 };
    float *g = be->alloc(be, sizeof(float) * N), *acc = be->alloc(be, sizeof(float));
    ck_assert(g && acc);
    double norm2 = 0.0;
    for (int i = 0; i < N; i++) {
        g[i] = (float)sin(0.37 * i) * (1.0f + (float)(i % 7));
        norm2 += (double)g[i] * g[i];
    }
    double norm = sqrt(norm2), max_norm = 2.5;
    ck_assert(norm > 10.0 * max_norm);
    float *g0 = malloc(sizeof(float) * N);
    ck_assert_ptr_nonnull(g0);
    memcpy(g0, g, sizeof(float) * N);
    *acc = 1.0f;
    be->clip_grad_norm(be, g, N, (float)max_norm, acc);
    /* torch.nn.utils.clip_grad_norm_: g *= max_norm / (norm + 1e-6) */
    double c = max_norm / (norm + 1e-6), after = 0.0;
    for (int i = 0; i < N; i++) {
        ck_assert_close(g[i], g0[i] * c, 1e-6, 1e-12);
        after += (double)g[i] * g[i];
    }
    ck_assert_close(sqrt(after), max_norm, 1e-6, 0.0);
    ck_assert_close(*acc, 1.0 + norm, 1e-6, 0.0); /* accumulates the norm before clipping */

    /* a second call accumulates again, now of the clipped vector */
    be->clip_grad_norm(be, g, N, (float)max_norm, acc);
    ck_assert_close(*acc, 1.0 + norm + max_norm, 1e-6, 0.0);
    free(g0);
    be->free(be, g), be->free(be, acc);
    be->destroy(be);
}
END_TEST

START_TEST(test_clip_grad_norm_below_max_and_off) {
    Backend *be = backend_cpu_create(1);
    float *g = be->alloc(be, sizeof(float) * 2), *acc = be->alloc(be, sizeof(float));
    ck_assert(g && acc);
    const float small[2] = {0.3f, 0.4f}, big[2] = {3.0f, 4.0f};
    memcpy(g, small, sizeof small);
    be->clip_grad_norm(be, g, 2, 1.0f, acc); /* norm 0.5 < 1: unchanged */
    ck_assert_mem_eq(g, small, sizeof small);
    ck_assert_close(*acc, 0.5, 1e-6, 0.0);

    memcpy(g, big, sizeof big);
    be->clip_grad_norm(be, g, 2, 0.0f, acc); /* max_norm 0: no clipping, norm still counted */
    ck_assert_mem_eq(g, big, sizeof big);
    ck_assert_close(*acc, 5.5, 1e-6, 0.0);

    be->clip_grad_norm(be, g, 2, 1.0f, NULL); /* norm_acc may be NULL */
    ck_assert_close(g[0], 0.6, 1e-6, 0.0);
    ck_assert_close(g[1], 0.8, 1e-6, 0.0);

    /* torch's 1e-6 in the denominator shows on tiny norms: 1e-6 / (2e-6 + 1e-6) */
    g[0] = 1.2e-6f, g[1] = 1.6e-6f;
    be->clip_grad_norm(be, g, 2, 1e-6f, NULL);
    ck_assert_close(g[0], 1.2e-6 / 3.0, 1e-5, 0.0);
    ck_assert_close(g[1], 1.6e-6 / 3.0, 1e-5, 0.0);
    be->free(be, g), be->free(be, acc);
    be->destroy(be);
}
END_TEST

/* ---- TD target and losses ----------------------------------------------- */

START_TEST(test_td_target_and_losses) {
    Backend *be = backend_cpu_create(1);
    enum { N = 4 };
    const float r[N] = {-1.0f, 0.5f, -3.0f, 2.0f}, term[N] = {0.0f, 1.0f, 0.0f, 1.0f};
    const float qn[N] = {10.0f, 7.0f, -2.0f, 100.0f}, q[N] = {8.0f, 1.0f, -4.0f, 2.5f};
    float *d_r = be->alloc(be, sizeof r), *d_term = be->alloc(be, sizeof r);
    float *d_qn = be->alloc(be, sizeof r), *d_q = be->alloc(be, sizeof r);
    float *y = be->alloc(be, sizeof r), *dq = be->alloc(be, sizeof r);
    float *acc = be->alloc(be, sizeof(float) * 2);
    ck_assert(d_r && d_term && d_qn && d_q && y && dq && acc);
    memcpy(d_r, r, sizeof r), memcpy(d_term, term, sizeof r);
    memcpy(d_qn, qn, sizeof r), memcpy(d_q, q, sizeof r);

    be->td_target(be, y, d_r, d_term, d_qn, N, 0.5f); /* r + 0.5 (1 - term) q' */
    const double y_want[N] = {4.0, 0.5, -4.0, 2.0};
    for (int i = 0; i < N; i++) ck_assert_close(y[i], y_want[i], 1e-7, 0.0);

    be->mse_grad(be, dq, d_q, y, N); /* 2 (q - y) / N */
    const double dq_want[N] = {2.0, 0.25, 0.0, 0.25};
    for (int i = 0; i < N; i++) ck_assert_close(dq[i], dq_want[i], 1e-7, 0.0);

    acc[0] = 1.0f, acc[1] = 0.5f;
    be->mse_acc(be, acc, d_q, y, N); /* += (16 + 0.25 + 0 + 0.25) / 4 */
    ck_assert_close(acc[0], 1.0 + 4.125, 1e-7, 0.0);
    ck_assert_close(acc[1], 0.5, 0.0, 0.0);
    be->mean_acc(be, acc + 1, d_q, N, -2.0f); /* += -2 mean(q) = -2 * 7.5 / 4 */
    ck_assert_close(acc[1], 0.5 - 3.75, 1e-7, 0.0);
    ck_assert_close(acc[0], 5.125, 1e-7, 0.0);

    float *bufs[] = {d_r, d_term, d_qn, d_q, y, dq, acc};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) be->free(be, bufs[i]);
    be->destroy(be);
}
END_TEST

/* ---- one ddpg_update_batch ---------------------------------------------- */

enum { UB = 5, UOD = 3, UAD = 1 };
static const int U_HIDDEN[2] = {8, 8};

static DdpgParams update_params(float grad_clip) {
    DdpgParams p = {.obs_dim = UOD, .act_dim = UAD, .hidden = U_HIDDEN, .n_hidden = 2,
                    .bounds = {1, {-2.0f}, {2.0f}}, .batch_size = UB, .gamma = 0.99f,
                    .tau = 0.1f, .grad_clip = grad_clip, .actor_lr = 0.05f, .critic_lr = 0.1f,
                    .seed = 3};
    return p;
}

static void fill_batch(Batch *b) {
    for (int i = 0; i < UB; i++) {
        for (int j = 0; j < UOD; j++) {
            b->obs[i * UOD + j] = (float)sin(1.0 + i + 0.7 * j);
            b->next_obs[i * UOD + j] = (float)cos(2.0 + 0.3 * i - j);
        }
        b->act[i] = -2.0f + 0.9f * i;
        b->rew[i] = -0.5f * i - 1.0f;
        b->term[i] = i == 2 ? 1.0f : 0.0f;
    }
}

static float *host_copy(const float *x, size_t n) {
    float *c = malloc(sizeof(float) * n);
    ck_assert_ptr_nonnull(c);
    memcpy(c, x, sizeof(float) * n);
    return c;
}

static double l2(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

/* targ_new = (1 - tau) targ_old + tau online_new, element by element */
static void check_polyak_moved(const char *what, const float *targ_new, const float *targ_old,
                               const float *online_new, size_t n, double tau) {
    size_t moved = 0;
    for (size_t k = 0; k < n; k++) {
        double want = (1.0 - tau) * targ_old[k] + tau * online_new[k];
        ck_assert_msg(fabs(targ_new[k] - want) <= 1e-6,
                      "%s[%zu] = %.9g, expected (1-tau) %.9g + tau %.9g = %.9g", what, k,
                      (double)targ_new[k], (double)targ_old[k], (double)online_new[k], want);
        double step = (double)online_new[k] - targ_old[k];
        if (fabs(step) > 1e-2) { /* the fraction of the way it moved is tau */
            ck_assert_close((targ_new[k] - targ_old[k]) / step, tau, 1e-4, 0.0);
            moved++;
        }
    }
    ck_assert_msg(moved > n / 2, "%s: only %zu of %zu online parameters moved", what, moved, n);
}

static void check_first_adam_step(const char *what, const float *before, const float *after,
                                  const float *grad, size_t n, double lr) {
    size_t moved = 0;
    for (size_t k = 0; k < n; k++) {
        if (fabsf(grad[k]) < 1e-5f) continue; /* eps 1e-8 would show below this */
        ck_assert_msg(fabs(before[k] - after[k] - copysign(lr, grad[k])) <= 1e-3 * lr,
                      "%s[%zu]: %.9g -> %.9g with gradient %g, lr %g", what, k,
                      (double)before[k], (double)after[k], (double)grad[k], lr);
        moved++;
    }
    ck_assert_msg(moved > n / 2, "%s: only %zu of %zu gradients nonzero", what, moved, n);
}

START_TEST(test_update_batch_targets_counters_metrics) {
    Backend *be = backend_cpu_create(1);
    DdpgParams prm = update_params(0.0f);
    Ddpg d;
    ck_assert_int_eq(ddpg_create(&d, be, &prm), 0);
    size_t na = d.actor_shape.n_params, nc = d.critic_shape.n_params;
    ck_assert_mem_eq(d.actor_targ, d.actor, sizeof(float) * na); /* targets start as copies */
    ck_assert_mem_eq(d.critic_targ, d.critic, sizeof(float) * nc);
    /* targets unlike the online nets, so that mixing them up shows */
    mlp_init_params(&d.actor_shape, d.actor_targ, 100, 0);
    mlp_init_params(&d.critic_shape, d.critic_targ, 100, 1);
    fill_batch(&d.batch);
    Batch *b = &d.batch;

    /* Critic loss and means, computed before the update with separate workspaces. */
    MlpWork wa, wc;
    ck_assert_int_eq(mlp_work_create(&wa, be, &d.actor_shape, UB), 0);
    ck_assert_int_eq(mlp_work_create(&wc, be, &d.critic_shape, UB), 0);
    float x[UB * (UOD + UAD)];
    double y[UB], q[UB], loss = 0.0, q_mean = 0.0, y_mean = 0.0;
    const float *a_next = mlp_forward(be, &d.actor_shape, d.actor_targ, b->next_obs, UB, &wa);
    for (int i = 0; i < UB; i++) {
        memcpy(x + i * (UOD + UAD), b->next_obs + i * UOD, sizeof(float) * UOD);
        x[i * (UOD + UAD) + UOD] = a_next[i];
    }
    const float *qn = mlp_forward(be, &d.critic_shape, d.critic_targ, x, UB, &wc);
    for (int i = 0; i < UB; i++) y[i] = b->rew[i] + 0.99 * (1.0 - b->term[i]) * qn[i];
    for (int i = 0; i < UB; i++) {
        memcpy(x + i * (UOD + UAD), b->obs + i * UOD, sizeof(float) * UOD);
        x[i * (UOD + UAD) + UOD] = b->act[i];
    }
    const float *qv = mlp_forward(be, &d.critic_shape, d.critic, x, UB, &wc);
    for (int i = 0; i < UB; i++) {
        q[i] = qv[i];
        loss += (q[i] - y[i]) * (q[i] - y[i]) / UB;
        q_mean += q[i] / UB, y_mean += y[i] / UB;
    }

    float *actor0 = host_copy(d.actor, na), *critic0 = host_copy(d.critic, nc);
    float *actor_targ0 = host_copy(d.actor_targ, na), *critic_targ0 = host_copy(d.critic_targ, nc);
    ddpg_update_batch(&d);

    ck_assert_int_eq(d.adam_step[0], 1);
    ck_assert_int_eq(d.adam_step[1], 1);
    check_polyak_moved("actor_targ", d.actor_targ, actor_targ0, d.actor, na, prm.tau);
    check_polyak_moved("critic_targ", d.critic_targ, critic_targ0, d.critic, nc, prm.tau);

    const float *m = d.metrics;
    for (int k = 0; k < DDPG_N_METRICS; k++)
        ck_assert_msg(isfinite(m[k]), "metric %d = %g", k, m[k]);
    for (int i = 0; i < UB; i++) ck_assert_close(d.y[i], y[i], 1e-5, 1e-6); /* TD targets */
    ck_assert_close(m[METRIC_CRITIC_LOSS], loss, 1e-5, 1e-7);
    ck_assert_close(m[METRIC_Q_MEAN], q_mean, 1e-5, 1e-6);
    ck_assert_close(m[METRIC_Y_MEAN], y_mean, 1e-5, 1e-6);
    /* grad_clip 0: the gradients left in the buffers are the unclipped ones */
    ck_assert_close(m[METRIC_CRITIC_GRAD_NORM], l2(d.critic_grad, nc), 1e-5, 0.0);
    ck_assert_close(m[METRIC_ACTOR_GRAD_NORM], l2(d.actor_grad, na), 1e-5, 0.0);
    ck_assert(m[METRIC_CRITIC_GRAD_NORM] > 0.0f && m[METRIC_ACTOR_GRAD_NORM] > 0.0f);
    /* actor loss: -mean Q(s, mu(s)) with the actor before and the critic after its step */
    const float *a_pi = mlp_forward(be, &d.actor_shape, actor0, b->obs, UB, &wa);
    for (int i = 0; i < UB; i++) {
        memcpy(x + i * (UOD + UAD), b->obs + i * UOD, sizeof(float) * UOD);
        x[i * (UOD + UAD) + UOD] = a_pi[i];
    }
    const float *q_pi = mlp_forward(be, &d.critic_shape, d.critic, x, UB, &wc);
    double actor_loss = 0.0;
    for (int i = 0; i < UB; i++) actor_loss -= (double)q_pi[i] / UB;
    ck_assert_close(m[METRIC_ACTOR_LOSS], actor_loss, 1e-5, 1e-6);
    /* Adam's first step moves each parameter by its net's lr (m_hat/sqrt(v_hat) = +-1) */
    check_first_adam_step("actor", actor0, d.actor, d.actor_grad, na, prm.actor_lr);
    check_first_adam_step("critic", critic0, d.critic, d.critic_grad, nc, prm.critic_lr);

    /* a second update: the counters reach 2, the metrics accumulate */
    float loss1 = m[METRIC_CRITIC_LOSS];
    ddpg_update_batch(&d);
    ck_assert_int_eq(d.adam_step[0], 2);
    ck_assert_int_eq(d.adam_step[1], 2);
    ck_assert(d.metrics[METRIC_CRITIC_LOSS] > loss1);

    free(actor0), free(critic0), free(actor_targ0), free(critic_targ0);
    mlp_work_destroy(&wa, be), mlp_work_destroy(&wc, be);
    ddpg_destroy(&d);
    be->destroy(be);
}
END_TEST

/* With grad_clip the gradient that reaches Adam is scaled to the clip norm:
 * after the first step Adam's first moment is (1 - beta1) times it. The
 * metric reports the norm before clipping (same as an unclipped update). */
START_TEST(test_update_batch_clips_gradients) {
    Backend *be = backend_cpu_create(1);
    DdpgParams p0 = update_params(0.0f), p1 = update_params(1e-3f);
    Ddpg d0, d1;
    ck_assert_int_eq(ddpg_create(&d0, be, &p0), 0);
    ck_assert_int_eq(ddpg_create(&d1, be, &p1), 0);
    fill_batch(&d0.batch);
    fill_batch(&d1.batch);
    ddpg_update_batch(&d0);
    ddpg_update_batch(&d1);
    size_t na = d0.actor_shape.n_params, nc = d0.critic_shape.n_params;
    double norm = d0.metrics[METRIC_CRITIC_GRAD_NORM];
    ck_assert(norm > 10.0 * p1.grad_clip);
    ck_assert_close(d1.metrics[METRIC_CRITIC_GRAD_NORM], norm, 1e-6, 0.0);
    ck_assert_close(l2(d0.critic_m, nc), 0.1 * norm, 1e-5, 0.0); /* unclipped */
    ck_assert_close(l2(d1.critic_m, nc), 0.1 * p1.grad_clip, 1e-5, 0.0);
    double c = p1.grad_clip / (norm + 1e-6);
    for (size_t k = 0; k < nc; k++)
        ck_assert_close(d1.critic_m[k], 0.1 * c * d0.critic_grad[k], 1e-5, 1e-12);
    ck_assert(d1.metrics[METRIC_ACTOR_GRAD_NORM] > 10.0 * p1.grad_clip);
    ck_assert_close(l2(d1.actor_m, na), 0.1 * p1.grad_clip, 1e-5, 0.0);
    ddpg_destroy(&d0), ddpg_destroy(&d1);
    be->destroy(be);
}
END_TEST

Suite *optim_suite(void) {
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("adam");
    tcase_add_test(tc, test_adam_three_steps_from_zero);
    tcase_add_test(tc, test_adam_resumes_step_counter);
    tcase_add_test(tc, test_adam_first_step_is_lr_sign);
    suite_add_tcase(s, tc);

    tc = tcase_create("polyak_clip");
    tcase_add_test(tc, test_polyak_hand_values);
    tcase_add_test(tc, test_clip_grad_norm_scales_to_max);
    tcase_add_test(tc, test_clip_grad_norm_below_max_and_off);
    tcase_add_test(tc, test_optim_step_equals_clip_adam_polyak);
    tcase_add_test(tc, test_optim_step_norm_from_sumsq_parts);
    suite_add_tcase(s, tc);

    tc = tcase_create("losses");
    tcase_add_test(tc, test_td_target_and_losses);
    suite_add_tcase(s, tc);

    tc = tcase_create("update_batch");
    tcase_add_test(tc, test_update_batch_targets_counters_metrics);
    tcase_add_test(tc, test_update_batch_clips_gradients);
    suite_add_tcase(s, tc);
    return s;
}
