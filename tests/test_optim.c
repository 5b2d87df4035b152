/* test_optim.c - the optimizer step (gradient clipping, Adam, Polyak
 * averaging), the TD target and losses, and one whole ddpg_update_batch,
 * against values computed here in double from the published formulas. */
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

/* ---- Backend.optim_step: clipping, Adam, soft update ------------------- */

/* One optim_step's buffers (host memory: the CPU backend's "device"). */
typedef struct {
    Backend *be;
    size_t n;
    float *p, *g, *m, *v, *t, *acc;
    int64_t *step;
} Opt;

static Opt opt_new(Backend *be, size_t n) {
    Opt o = {be, n, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    float **bufs[] = {&o.p, &o.g, &o.m, &o.v, &o.t};
    for (int k = 0; k < 5; k++) {
        *bufs[k] = be->alloc(be, sizeof(float) * n);
        ck_assert_ptr_nonnull(*bufs[k]);
    }
    o.acc = be->alloc(be, sizeof(float));
    o.step = be->alloc(be, sizeof(int64_t));
    ck_assert(o.acc && o.step);
    return o;
}

static void opt_free(Opt *o) {
    float *bufs[] = {o->p, o->g, o->m, o->v, o->t, o->acc};
    for (int k = 0; k < 6; k++) o->be->free(o->be, bufs[k]);
    o->be->free(o->be, o->step);
}

/* optim_step over o's buffers, g in one part, with a target when tau > 0 */
static void opt_step(Opt *o, float max_norm, float *norm_acc, AdamHyper h, float tau) {
    size_t part = o->n;
    o->be->optim_step(o->be, o->p, o->g, o->m, o->v, o->n, &part, 1, max_norm, norm_acc, h,
                      o->step, tau > 0.0f ? o->t : NULL, tau);
}

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

/* Runs `steps` optim_step calls (no clipping, no target) from step counter
 * `t0` and compares p, m, v after each with torch_adam_step in double.
 * Gradient 1e-9 makes sqrt(v_hat) smaller than eps, so the placement of eps
 * matters. */
static void check_adam(int64_t t0, int steps) {
    Backend *be = backend_cpu_create(1);
    const float grads[3][ADAM_N] = {{0.5f, -2.0f, 1e-9f, 0.0f, 3.0f},
                                    {-0.25f, -1.0f, 1e-9f, 0.0f, 0.1f},
                                    {1.0f, 4.0f, -1e-9f, 0.0f, -3.0f}};
    const float p0[ADAM_N] = {1.0f, -0.5f, 0.25f, 2.0f, 0.0f};
    const float m0[ADAM_N] = {0.0f, 0.0f, 0.0f, 0.0f, 0.1f}; /* resumed state when t0 > 0 */
    const float v0[ADAM_N] = {0.0f, 0.0f, 0.0f, 0.0f, 0.2f};
    AdamHyper h = {0.01f, 0.9f, 0.999f, 1e-8f};
    Opt o = opt_new(be, ADAM_N);
    memcpy(o.p, p0, sizeof p0);
    if (t0 > 0) memcpy(o.m, m0, sizeof m0), memcpy(o.v, v0, sizeof v0);
    *o.step = t0;
    double pd[ADAM_N], md[ADAM_N], vd[ADAM_N];
    for (int i = 0; i < ADAM_N; i++) pd[i] = o.p[i], md[i] = o.m[i], vd[i] = o.v[i];

    for (int s = 0; s < steps; s++) {
        memcpy(o.g, grads[s], sizeof p0);
        opt_step(&o, 0.0f, NULL, h, 0.0f);
        ck_assert_int_eq(*o.step, t0 + s + 1); /* incremented first, as torch */
        for (int i = 0; i < ADAM_N; i++) {
            torch_adam_step(&pd[i], grads[s][i], &md[i], &vd[i], t0 + s + 1, h.lr, h.beta1,
                            h.beta2, h.eps);
            ck_assert_close(o.m[i], md[i], 1e-6, 1e-30);
            ck_assert_close(o.v[i], vd[i], 1e-6, 1e-30);
            /* the update is ~lr = 1e-2, so 1e-6 absolute is 1e-4 of a step */
            ck_assert_close(o.p[i], pd[i], 0.0, 1e-6);
        }
        ck_assert_mem_eq(o.g, grads[s], sizeof p0); /* not clipping: the gradient is an input */
    }
    opt_free(&o);
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
    Opt o = opt_new(be, N);
    for (int i = 0; i < N; i++) o.g[i] = (i % 2 ? 1.0f : -1.0f) * (0.01f + i);
    AdamHyper h = {1e-3f, 0.9f, 0.999f, 1e-8f};
    opt_step(&o, 0.0f, NULL, h, 0.0f);
    for (int i = 0; i < N; i++) ck_assert_close(o.p[i], o.g[i] > 0 ? -1e-3 : 1e-3, 1e-5, 0.0);
    opt_free(&o);
    be->destroy(be);
}
END_TEST

/* The soft update follows the new parameters: with lr 0 they stay as they
 * are, and the target moves tau of the way to them. */
START_TEST(test_polyak_hand_values) {
    Backend *be = backend_cpu_create(1);
    Opt o = opt_new(be, 4);
    const float t0[4] = {1.0f, 2.0f, 3.0f, -4.0f}, p0[4] = {3.0f, -2.0f, 0.5f, -4.0f};
    AdamHyper still = {0.0f, 0.9f, 0.999f, 1e-8f};
    memcpy(o.t, t0, sizeof t0), memcpy(o.p, p0, sizeof p0);
    opt_step(&o, 0.0f, NULL, still, 0.25f); /* 0.75 t + 0.25 p */
    const double want[4] = {1.5, 1.0, 2.375, -4.0};
    for (int i = 0; i < 4; i++) ck_assert_close(o.t[i], want[i], 1e-7, 0.0);
    ck_assert_mem_eq(o.p, p0, sizeof p0);
    opt_step(&o, 0.0f, NULL, still, 1.0f); /* tau 1 copies */
    ck_assert_mem_eq(o.t, p0, sizeof p0);
    opt_free(&o);
    be->destroy(be);
}
END_TEST

/* After one step from zero moments, m = (1 - beta1) g_clipped: the gradient
 * Adam saw, whether or not g itself was left unclipped (backend.h). */
static double clipped_g(const Opt *o, size_t i) { return o->m[i] / 0.1; }

START_TEST(test_clip_grad_norm_scales_to_max) {
    Backend *be = backend_cpu_create(1);
    enum { N = 1001 };
    Opt o = opt_new(be, N);
    double norm2 = 0.0;
    for (int i = 0; i < N; i++) {
        o.g[i] = (float)sin(0.37 * i) * (1.0f + (float)(i % 7));
        norm2 += (double)o.g[i] * o.g[i];
    }
    double norm = sqrt(norm2), max_norm = 2.5;
    ck_assert(norm > 10.0 * max_norm);
    float *g0 = malloc(sizeof(float) * N);
    ck_assert_ptr_nonnull(g0);
    memcpy(g0, o.g, sizeof(float) * N);
    *o.acc = 1.0f;
    AdamHyper h = {1e-3f, 0.9f, 0.999f, 1e-8f};
    opt_step(&o, (float)max_norm, o.acc, h, 0.0f);
    /* torch.nn.utils.clip_grad_norm_: g *= max_norm / (norm + 1e-6) */
    double c = max_norm / (norm + 1e-6), after = 0.0;
    for (int i = 0; i < N; i++) {
        ck_assert_close(clipped_g(&o, i), g0[i] * c, 1e-5, 1e-9);
        after += clipped_g(&o, i) * clipped_g(&o, i);
    }
    ck_assert_close(sqrt(after), max_norm, 1e-5, 0.0);
    ck_assert_close(*o.acc, 1.0 + norm, 1e-6, 0.0); /* accumulates the norm before clipping */
    free(g0);
    opt_free(&o);
    be->destroy(be);
}
END_TEST

START_TEST(test_clip_grad_norm_below_max_and_off) {
    Backend *be = backend_cpu_create(1);
    AdamHyper h = {1e-3f, 0.9f, 0.999f, 1e-8f};
    const float small[2] = {0.3f, 0.4f}, big[2] = {3.0f, 4.0f}, tiny[2] = {1.2e-6f, 1.6e-6f};
    struct {
        const float *g;
        float max_norm;
        double scale; /* of g, as Adam sees it */
    } cases[] = {{small, 1.0f, 1.0},          /* norm 0.5 < 1: unchanged */
                 {big, 0.0f, 1.0},            /* max_norm 0: no clipping */
                 {big, 1.0f, 0.2},            /* 1 / 5 */
                 {tiny, 1e-6f, 1.0 / 3.0}};   /* torch's 1e-6: 1e-6 / (2e-6 + 1e-6) */
    for (int k = 0; k < 4; k++) {
        Opt o = opt_new(be, 2);
        memcpy(o.g, cases[k].g, sizeof small);
        *o.acc = 0.5f;
        opt_step(&o, cases[k].max_norm, k == 2 ? NULL : o.acc, h, 0.0f); /* norm_acc may be NULL */
        for (int i = 0; i < 2; i++)
            ck_assert_close(clipped_g(&o, (size_t)i), cases[k].g[i] * cases[k].scale, 1e-5, 0.0);
        double norm = hypot(cases[k].g[0], cases[k].g[1]);
        ck_assert_close(*o.acc, k == 2 ? 0.5 : 0.5 + norm, 1e-6, 0.0); /* counted when asked */
        opt_free(&o);
    }
    be->destroy(be);
}
END_TEST

/* The norm is summed part by part (one part per layer): uneven parts give
 * the one-part norm within rounding, and the same bits on 1 and 3 threads. */
START_TEST(test_optim_step_norm_over_parts) {
    enum { N = 70001 };
    const size_t parts[3] = {1000, 65537, N - 66537};
    Backend *be[2] = {backend_cpu_create(1), backend_cpu_create(3)};
    AdamHyper h = {1e-3f, 0.9f, 0.999f, 1e-8f};
    float acc[3];
    float *m[3];
    for (int k = 0; k < 3; k++) { /* [0], [1]: three parts on 1 and 3 threads; [2]: one part */
        Opt o = opt_new(be[k == 1], N);
        srand(21);
        double want = 0.0;
        for (size_t i = 0; i < N; i++) {
            o.g[i] = 0.05f * (2.0f * (float)rand() / (float)RAND_MAX - 1.0f);
            want += (double)o.g[i] * o.g[i];
        }
        *o.acc = 0.0f;
        size_t one = N;
        o.be->optim_step(o.be, o.p, o.g, o.m, o.v, N, k < 2 ? parts : &one, k < 2 ? 3 : 1,
                         0.1f * (float)sqrt(want), o.acc, h, o.step, o.t, 0.01f);
        acc[k] = *o.acc;
        ck_assert_close(acc[k], sqrt(want), 1e-6, 0.0);
        m[k] = malloc(sizeof(float) * N);
        ck_assert_ptr_nonnull(m[k]);
        memcpy(m[k], o.m, sizeof(float) * N);
        opt_free(&o);
    }
    ck_assert(acc[0] == acc[1]);
    ck_assert_mem_eq(m[0], m[1], sizeof(float) * N);
    ck_assert_float_eq_tol(acc[2], acc[0], 1e-6f * acc[0]);
    for (int k = 0; k < 3; k++) free(m[k]);
    be[0]->destroy(be[0]);
    be[1]->destroy(be[1]);
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

    be->td_target(be, y, d_r, d_term, d_qn, NULL, N, 0.5f); /* r + 0.5 (1 - term) q' */
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
    ck_assert_int_eq(ddpg_create(&d, be, &prm, NULL), 0);
    size_t na = d.actor.shape.n_params, nc = d.critic[0].shape.n_params;
    /* targets start as copies */
    ck_assert_mem_eq(d.actor.target, d.actor.params, sizeof(float) * na);
    ck_assert_mem_eq(d.critic[0].target, d.critic[0].params, sizeof(float) * nc);
    /* targets unlike the online nets, so that mixing them up shows */
    mlp_init_params(&d.actor.shape, d.actor.target, 100, 0);
    mlp_init_params(&d.critic[0].shape, d.critic[0].target, 100, 1);
    fill_batch(&d.batch);
    Batch *b = &d.batch;

    /* Critic loss and means, computed before the update with separate workspaces. */
    MlpWork wa, wc;
    ck_assert_int_eq(mlp_work_create(&wa, be, &d.actor.shape, UB), 0);
    ck_assert_int_eq(mlp_work_create(&wc, be, &d.critic[0].shape, UB), 0);
    float x[UB * (UOD + UAD)];
    double y[UB], q[UB], loss = 0.0, q_mean = 0.0, y_mean = 0.0;
    const float *a_next = mlp_forward(be, &d.actor.shape, d.actor.target, b->next_obs, UB, &wa);
    for (int i = 0; i < UB; i++) {
        memcpy(x + i * (UOD + UAD), b->next_obs + i * UOD, sizeof(float) * UOD);
        x[i * (UOD + UAD) + UOD] = a_next[i];
    }
    const float *qn = mlp_forward(be, &d.critic[0].shape, d.critic[0].target, x, UB, &wc);
    for (int i = 0; i < UB; i++) y[i] = b->rew[i] + 0.99 * (1.0 - b->term[i]) * qn[i];
    for (int i = 0; i < UB; i++) {
        memcpy(x + i * (UOD + UAD), b->obs + i * UOD, sizeof(float) * UOD);
        x[i * (UOD + UAD) + UOD] = b->act[i];
    }
    const float *qv = mlp_forward(be, &d.critic[0].shape, d.critic[0].params, x, UB, &wc);
    for (int i = 0; i < UB; i++) {
        q[i] = qv[i];
        loss += (q[i] - y[i]) * (q[i] - y[i]) / UB;
        q_mean += q[i] / UB, y_mean += y[i] / UB;
    }

    float *actor0 = host_copy(d.actor.params, na), *critic0 = host_copy(d.critic[0].params, nc);
    float *actor_targ0 = host_copy(d.actor.target, na);
    float *critic_targ0 = host_copy(d.critic[0].target, nc);
    ddpg_update_batch(&d);

    ck_assert_int_eq(*d.actor.adam_step, 1);
    ck_assert_int_eq(*d.critic[0].adam_step, 1);
    check_polyak_moved("actor_targ", d.actor.target, actor_targ0, d.actor.params, na, prm.tau);
    check_polyak_moved("critic_targ", d.critic[0].target, critic_targ0, d.critic[0].params, nc,
                       prm.tau);

    const float *m = d.metrics;
    for (int k = 0; k < d.n_metrics; k++)
        ck_assert_msg(isfinite(m[k]), "metric %d = %g", k, m[k]);
    for (int i = 0; i < UB; i++) ck_assert_close(d.y[i], y[i], 1e-5, 1e-6); /* TD targets */
    ck_assert_close(m[METRIC_CRITIC_LOSS], loss, 1e-5, 1e-7);
    ck_assert_close(m[METRIC_Q_MEAN], q_mean, 1e-5, 1e-6);
    ck_assert_close(m[METRIC_Y_MEAN], y_mean, 1e-5, 1e-6);
    /* grad_clip 0: the gradients left in the buffers are the unclipped ones */
    ck_assert_close(m[METRIC_CRITIC_GRAD_NORM], l2(d.critic[0].grad, nc), 1e-5, 0.0);
    ck_assert_close(m[METRIC_ACTOR_GRAD_NORM], l2(d.actor.grad, na), 1e-5, 0.0);
    ck_assert(m[METRIC_CRITIC_GRAD_NORM] > 0.0f && m[METRIC_ACTOR_GRAD_NORM] > 0.0f);
    /* actor loss: -mean Q(s, mu(s)) with the actor before and the critic after its step */
    const float *a_pi = mlp_forward(be, &d.actor.shape, actor0, b->obs, UB, &wa);
    for (int i = 0; i < UB; i++) {
        memcpy(x + i * (UOD + UAD), b->obs + i * UOD, sizeof(float) * UOD);
        x[i * (UOD + UAD) + UOD] = a_pi[i];
    }
    const float *q_pi = mlp_forward(be, &d.critic[0].shape, d.critic[0].params, x, UB, &wc);
    double actor_loss = 0.0;
    for (int i = 0; i < UB; i++) actor_loss -= (double)q_pi[i] / UB;
    ck_assert_close(m[METRIC_ACTOR_LOSS], actor_loss, 1e-5, 1e-6);
    /* Adam's first step moves each parameter by its net's lr (m_hat/sqrt(v_hat) = +-1) */
    check_first_adam_step("actor", actor0, d.actor.params, d.actor.grad, na, prm.actor_lr);
    check_first_adam_step("critic", critic0, d.critic[0].params, d.critic[0].grad, nc,
                          prm.critic_lr);

    /* a second update: the counters reach 2, the metrics accumulate */
    float loss1 = m[METRIC_CRITIC_LOSS];
    ddpg_update_batch(&d);
    ck_assert_int_eq(*d.actor.adam_step, 2);
    ck_assert_int_eq(*d.critic[0].adam_step, 2);
    ck_assert(d.metrics[METRIC_CRITIC_LOSS] > loss1);

    free(actor0), free(critic0), free(actor_targ0), free(critic_targ0);
    mlp_work_destroy(&wa, be, &d.actor.shape), mlp_work_destroy(&wc, be, &d.critic[0].shape);
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
    ck_assert_int_eq(ddpg_create(&d0, be, &p0, NULL), 0);
    ck_assert_int_eq(ddpg_create(&d1, be, &p1, NULL), 0);
    fill_batch(&d0.batch);
    fill_batch(&d1.batch);
    ddpg_update_batch(&d0);
    ddpg_update_batch(&d1);
    size_t na = d0.actor.shape.n_params, nc = d0.critic[0].shape.n_params;
    double norm = d0.metrics[METRIC_CRITIC_GRAD_NORM];
    ck_assert(norm > 10.0 * p1.grad_clip);
    ck_assert_close(d1.metrics[METRIC_CRITIC_GRAD_NORM], norm, 1e-6, 0.0);
    ck_assert_close(l2(d0.critic[0].adam_m, nc), 0.1 * norm, 1e-5, 0.0); /* unclipped */
    ck_assert_close(l2(d1.critic[0].adam_m, nc), 0.1 * p1.grad_clip, 1e-5, 0.0);
    double c = p1.grad_clip / (norm + 1e-6);
    for (size_t k = 0; k < nc; k++)
        ck_assert_close(d1.critic[0].adam_m[k], 0.1 * c * d0.critic[0].grad[k], 1e-5, 1e-12);
    ck_assert(d1.metrics[METRIC_ACTOR_GRAD_NORM] > 10.0 * p1.grad_clip);
    ck_assert_close(l2(d1.actor.adam_m, na), 0.1 * p1.grad_clip, 1e-5, 0.0);
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
    tcase_add_test(tc, test_optim_step_norm_over_parts);
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
