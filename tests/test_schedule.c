/* test_schedule.c - the CPU backend's schedule of a DDPG or TD3 update, with
 * and without LayerNorm (src/backend/cpu/update.c, passes.c), gives bit for
 * bit the numbers of the generic update (src/agent/ddpg.c) on the same
 * inputs, on 1, 2 and 3 threads, at odd sizes: every parameter, target,
 * gradient, Adam moment and step, metric and counter. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/backend/cpu/cpu_common.h"
#include "../src/backend/cpu/passes.h"
#include "ddpg/ddpg.h"
#include "ddpg/elem.h"
#include "ddpg/env.h"
#include "ddpg/replay.h"
#include "ddpg/envs/pendulum.h"
#include "suites.h"

/* One case: the agent's sizes and features, the updates, the threads. */
typedef struct {
    const int *hidden;
    int n_hidden, batch;
    float grad_clip;
    int updates;
    Algo algo;
    int layer_norm, policy_delay; /* policy_delay: TD3's, 0 for DDPG */
} Case;

static DdpgParams params(const Case *c) {
    DdpgParams p = {.obs_dim = PENDULUM_OBS_DIM, .act_dim = PENDULUM_ACT_DIM,
                    .hidden = c->hidden, .n_hidden = c->n_hidden, .bounds = {1, {-2.0f}, {2.0f}},
                    .batch_size = c->batch, .gamma = 0.99f, .tau = 0.05f,
                    .grad_clip = c->grad_clip, .actor_lr = 3e-3f, .critic_lr = 3e-3f, .seed = 5,
                    .layer_norm = c->layer_norm, .algo = c->algo, .target_noise = 0.2f,
                    .target_noise_clip = 0.5f, .policy_delay = c->policy_delay};
    return p;
}

/* Bit for bit, naming the first difference. */
static void expect_same(const char *config, const char *what, const void *a, const void *b,
                        size_t bytes) {
    if (memcmp(a, b, bytes) == 0) return;
    size_t k = 0;
    while (((const char *)a)[k] == ((const char *)b)[k]) k++;
    ck_abort_msg("%s: %s differs from the generic path at byte %zu of %zu", config, what, k,
                 bytes);
}

static void expect_nets_same(const char *config, const char *name, const Net *s, const Net *g) {
    size_t bytes = sizeof(float) * s->shape.n_params;
    char what[64];
    const float *sb[] = {s->params, s->target, s->grad, s->adam_m, s->adam_v};
    const float *gb[] = {g->params, g->target, g->grad, g->adam_m, g->adam_v};
    const char *names[] = {"params", "target", "grad", "adam_m", "adam_v"};
    for (int k = 0; k < 5; k++) {
        snprintf(what, sizeof what, "%s.%s", name, names[k]);
        expect_same(config, what, sb[k], gb[k], bytes);
    }
    snprintf(what, sizeof what, "%s.adam_step", name);
    expect_same(config, what, s->adam_step, g->adam_step, sizeof(int64_t));
}

static void describe(char *buf, size_t len, int threads, const Case *c) {
    int k = snprintf(buf, len, "%s%s, %d thread%s, hidden ", c->algo == ALGO_TD3 ? "TD3" : "DDPG",
                     c->layer_norm ? "+LayerNorm" : "", threads, threads > 1 ? "s" : "");
    for (int l = 0; l < c->n_hidden; l++)
        k += snprintf(buf + k, len - (size_t)k, "%s%d", l ? "," : "", c->hidden[l]);
    snprintf(buf + k, len - (size_t)k, ", batch %d, clip %g, delay %d, %d updates", c->batch,
             (double)c->grad_clip, c->policy_delay, c->updates);
}

/* Updates from the same replay and initial networks: one agent through its
 * backend's schedule (ddpg_update_batch), one through ddpg_update_generic;
 * then every network's buffers, the counters and the metrics compared. */
static void check_schedule(int threads, const Case *c) {
    char config[160];
    describe(config, sizeof config, threads, c);
    Backend *be = backend_cpu_create(threads);
    ck_assert_int_eq(cpu_threads(be), threads);
    DdpgParams p = params(c);
    Replay r;
    ck_assert_int_eq(replay_create(&r, be, 3000, p.obs_dim, p.act_dim), 0);
    ck_assert_int_eq(env_fill_random(be, pendulum_spec(), &r, 3000, 9), 0);
    Ddpg sched, gen;
    ck_assert_int_eq(ddpg_create(&sched, be, &p, NULL), 0);
    ck_assert_int_eq(ddpg_create(&gen, be, &p, NULL), 0);
    ck_assert_msg(sched.plan != NULL, "%s: the CPU schedule did not take the agent", config);
    int policy_steps = 0;
    for (int u = 0; u < c->updates; u++) {
        ddpg_update(&sched, &r);
        be->replay_sample(be, &r, &gen.batch, gen.p.seed, gen.sample_ctr);
        gen.updates++; /* as ddpg_update_batch counts: the clock of TD3's delay */
        ddpg_update_generic(&gen);
        policy_steps += ddpg_policy_step(&gen);
    }
    expect_same(config, "batch", sched.batch.idx, gen.batch.idx, sizeof(int64_t) * c->batch);
    expect_nets_same(config, "actor", &sched.actor, &gen.actor);
    for (int k = 0; k < gen.n_critics; k++) {
        char name[16];
        snprintf(name, sizeof name, "critic%d", k);
        expect_nets_same(config, name, &sched.critic[k], &gen.critic[k]);
        ck_assert_int_eq(*sched.critic[k].adam_step, c->updates);
    }
    expect_same(config, "metrics", sched.metrics, gen.metrics, sizeof(float) * gen.n_metrics);
    if (c->algo == ALGO_TD3)
        expect_same(config, "smooth_ctr", sched.smooth_ctr, gen.smooth_ctr, sizeof(uint64_t));
    ck_assert_int_eq(*sched.actor.adam_step, policy_steps);
    ck_assert_int_eq(sched.updates, c->updates);
    ddpg_destroy(&sched);
    ddpg_destroy(&gen);
    replay_destroy(&r, be);
    be->destroy(be);
}

static const int H256[2] = {256, 256};
static const int H65_33[2] = {65, 33};
static const int H64x3[3] = {64, 64, 64};
static const int H17_9[2] = {17, 9};

/* The default networks at batch 128: the lanes fork the 256 x 256 layers
 * and the Q(s, mu(s)) pass is cut in two blocks of 64 rows. Loop: threads. */
START_TEST(test_schedule_default_sizes) {
    Case c = {H256, 2, 128, 1.0f, 3, ALGO_DDPG, 0, 0};
    check_schedule(_i, &c);
}
END_TEST

/* Odd sizes: a batch of 37 (no cut of the Q(s, mu(s)) pass), 65 (cut at 32
 * rows), 300 (cut at a GEMM row block, 128), uneven widths and three hidden
 * layers, clipping active and off. Loop: threads. */
START_TEST(test_schedule_odd_sizes) {
    const Case cases[] = {{H65_33, 2, 37, 1.0f, 3, ALGO_DDPG, 0, 0},
                          {H64x3, 3, 65, 0.0f, 3, ALGO_DDPG, 0, 0},
                          {H17_9, 2, 300, 0.05f, 2, ALGO_DDPG, 0, 0},
                          {H65_33, 2, 19, 0.0f, 2, ALGO_DDPG, 0, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) check_schedule(_i, &cases[k]);
}
END_TEST

/* LayerNorm: the same sizes, each normalised layer's forward (with the ReLU
 * mask after it) and backward (its dx in the lanes, its gain and shift
 * gradients beside dW); the default networks fork their normalised 256 x 256
 * layers. Loop: threads. */
START_TEST(test_schedule_layer_norm) {
    const Case cases[] = {{H256, 2, 128, 1.0f, 3, ALGO_DDPG, 1, 0},
                          {H65_33, 2, 37, 1.0f, 3, ALGO_DDPG, 1, 0},
                          {H64x3, 3, 65, 0.0f, 3, ALGO_DDPG, 1, 0},
                          {H17_9, 2, 300, 0.05f, 2, ALGO_DDPG, 1, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) check_schedule(_i, &cases[k]);
}
END_TEST

/* TD3, with and without LayerNorm: the twin critics' steps side by side,
 * the actor and the soft updates on policy steps only. Delays 1, 2 and 3
 * over 4-7 updates, so that the last update is a policy step for some
 * cases and not for others (the actor's gradient of its last step must
 * survive the steps between). Loop: threads. */
START_TEST(test_schedule_td3) {
    const Case cases[] = {{H256, 2, 128, 1.0f, 4, ALGO_TD3, 0, 2},
                          {H65_33, 2, 37, 1.0f, 5, ALGO_TD3, 0, 1},
                          {H64x3, 3, 65, 0.0f, 7, ALGO_TD3, 0, 3},
                          {H17_9, 2, 300, 0.05f, 5, ALGO_TD3, 0, 2},
                          {H256, 2, 128, 1.0f, 5, ALGO_TD3, 1, 2},
                          {H65_33, 2, 37, 1.0f, 7, ALGO_TD3, 1, 3},
                          {H64x3, 3, 65, 0.0f, 5, ALGO_TD3, 1, 1},
                          {H17_9, 2, 300, 0.05f, 6, ALGO_TD3, 1, 2}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) check_schedule(_i, &cases[k]);
}
END_TEST

/* The optimizer step from the backward pass's sums of squares
 * (cpu_optim_step_sums) is optim_step's from the gradient g. */
static void check_optim_from_sums(Backend *be, const MlpShape *s, const float *params,
                                  float *g, const double *sums) {
    size_t np = s->n_params, parts[MLP_MAX_LAYERS];
    for (int l = 0; l < s->n_layers; l++) parts[l] = mlp_layer_params(s, l);
    float *pm[2][4], acc[2] = {0, 0};
    int64_t step[2] = {0, 0};
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < 4; b++) {
            pm[k][b] = calloc(np, sizeof(float));
            ck_assert_ptr_nonnull(pm[k][b]);
            if (b == 0) memcpy(pm[k][b], params, sizeof(float) * np);
        }
    AdamHyper h = {1e-3f, 0.9f, 0.999f, 1e-8f};
    be->optim_step(be, pm[0][0], g, pm[0][1], pm[0][2], np, parts, s->n_layers, 0.5f, &acc[0],
                   h, &step[0], pm[0][3], 0.1f);
    cpu_optim_step_sums(be, pm[1][0], g, pm[1][1], pm[1][2], np, sums, s->n_layers, 0.5f,
                        &acc[1], h, &step[1], pm[1][3], 0.1f);
    ck_assert(acc[0] == acc[1] && acc[0] > 0.5f); /* the clip acted */
    for (int b = 0; b < 4; b++) ck_assert_mem_eq(pm[1][b], pm[0][b], sizeof(float) * np);
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < 4; b++) free(pm[k][b]);
}

/* A pass's own buffers: masks, and the second lane's gradients. */
static void pass_buffers(CpuPass *p, const MlpShape *s, int rows, int alloc) {
    for (int l = 1; l <= s->n_layers; l++) {
        size_t n = (size_t)rows * s->sizes[l];
        if (!alloc) {
            free(p->mask[l]), free(p->dh2[l]), free(p->dz2[l]);
            continue;
        }
        if (l < s->n_layers) p->mask[l] = calloc((size_t)rows * relu_mask_words(s->sizes[l]), 4);
        p->dh2[l] = calloc(n, sizeof(float));
        if (mlp_layer_normed(s, l - 1)) p->dz2[l] = calloc(n, sizeof(float));
    }
}

/* cpu_pass_forward and cpu_pass_backward (masks, lanes, the second lane's
 * gradients, LayerNorm) against mlp_forward and mlp_backward, bit for bit;
 * the per-layer sums of squares are the norm's parts. */
static void check_passes(Backend *be, int layer_norm) {
    static const int widths[3] = {257, 129, 65};
    const int rows = 131, in = 5, out = 1;
    MlpShape s;
    mlp_shape_init(&s, in, widths, 3, out, ACT_NONE, NULL);
    if (layer_norm) mlp_shape_layer_norm(&s);
    MlpWork wg, ws;
    ck_assert_int_eq(mlp_work_create(&wg, be, &s, rows), 0);
    ck_assert_int_eq(mlp_work_create(&ws, be, &s, rows), 0);
    size_t np = s.n_params;
    float *params = malloc(sizeof(float) * np), *x = malloc(sizeof(float) * rows * in);
    float *dy = malloc(sizeof(float) * rows), *g[2], *dx[2];
    ck_assert(params && x && dy);
    mlp_init_params(&s, params, 3, 0);
    for (int l = 0; l < s.n_layers && layer_norm; l++) /* gains and shifts away from 1 and 0 */
        for (int j = 0; mlp_layer_normed(&s, l) && j < 2 * s.sizes[l + 1]; j++)
            params[s.g_off[l] + j] += 0.3f * (float)sin(1.7 * j);
    for (int i = 0; i < rows * in; i++) x[i] = (float)sin(0.3 * i);
    for (int i = 0; i < rows; i++) dy[i] = (float)cos(0.7 * i);
    for (int k = 0; k < 2; k++) {
        g[k] = calloc(np, sizeof(float));
        dx[k] = calloc((size_t)rows * in, sizeof(float));
        ck_assert(g[k] && dx[k]);
    }
    CpuPass p;
    memset(&p, 0, sizeof p);
    p.w = ws;
    pass_buffers(&p, &s, rows, 1);
    double sums[MLP_MAX_LAYERS];
    mlp_forward(be, &s, params, x, rows, &wg);
    mlp_backward(be, &s, params, rows, &wg, dy, g[0], dx[0]);
    cpu_pass_forward(be, &s, params, x, rows, &p);
    cpu_pass_backward(be, &s, params, rows, &p, dy, g[1], sums, dx[1]);
    for (int l = 1; l <= s.n_layers; l++)
        ck_assert_mem_eq(ws.h[l], wg.h[l], sizeof(float) * rows * s.sizes[l]);
    ck_assert_mem_eq(g[1], g[0], sizeof(float) * np);
    ck_assert_mem_eq(dx[1], dx[0], sizeof(float) * rows * in);
    for (int l = 0; l < s.n_layers; l++) {
        double want = cpu_part_sumsq(g[0] + s.w_off[l], mlp_layer_params(&s, l));
        ck_assert_msg(sums[l] == want, "layer %d: sum of squares %.17g, want %.17g", l, sums[l],
                      want);
    }
    check_optim_from_sums(be, &s, params, g[1], sums);
    for (int k = 0; k < 2; k++) free(g[k]), free(dx[k]);
    pass_buffers(&p, &s, rows, 0);
    free(params), free(x), free(dy);
    mlp_work_destroy(&wg, be, &s);
    mlp_work_destroy(&ws, be, &s);
}

/* The passes on their own, without and with LayerNorm; and the optimizer
 * step from their sums of squares. Loop: threads. */
START_TEST(test_passes_match_mlp) {
    Backend *be = backend_cpu_create(_i);
    check_passes(be, 0);
    check_passes(be, 1);
    be->destroy(be);
}
END_TEST

/* LayerNorm as plain loops, one row at a time (norm.c before its rows were
 * summed side by side): the numbers norm.c must keep. */
static void plain_layernorm(float *y, float *mean, float *rstd, const float *x,
                            const float *gain, const float *shift, int rows, int n, int relu) {
    for (int i = 0; i < rows; i++) {
        const float *xr = x + (size_t)i * n;
        double s = 0.0, v = 0.0;
        for (int j = 0; j < n; j++) s += xr[j];
        float m = (float)(s / n);
        for (int j = 0; j < n; j++) v += (double)(xr[j] - m) * (double)(xr[j] - m);
        float rs = (float)(1.0 / sqrt(v / n + (double)LN_EPS));
        for (int j = 0; j < n; j++) {
            float o = layernorm_elem(xr[j], m, rs, gain[j], shift[j]);
            y[(size_t)i * n + j] = relu ? relu_elem(o) : o;
        }
        mean[i] = m, rstd[i] = rs;
    }
}

static void plain_layernorm_grad(float *dx, float *dgain, float *dshift, const float *dy,
                                 const float *x, const float *gain, const float *mean,
                                 const float *rstd, int rows, int n) {
    for (int i = 0; i < rows; i++) {
        const float *d = dy + (size_t)i * n, *xr = x + (size_t)i * n;
        double sg = 0.0, sgx = 0.0;
        for (int j = 0; j < n; j++) {
            float g = d[j] * gain[j], xhat = (xr[j] - mean[i]) * rstd[i];
            sg += g;
            sgx += (double)g * xhat;
        }
        float mg = (float)(sg / n), mgx = (float)(sgx / n);
        for (int j = 0; j < n; j++)
            dx[(size_t)i * n + j] = layernorm_dx_elem(d[j], gain[j], (xr[j] - mean[i]) * rstd[i],
                                                      mg, mgx, rstd[i]);
    }
    for (int j = 0; j < n; j++) {
        float sg = 0.0f, ss = 0.0f;
        for (int i = 0; i < rows; i++) {
            size_t k = (size_t)i * n + j;
            sg += dy[k] * ((x[k] - mean[i]) * rstd[i]);
            ss += dy[k];
        }
        dgain[j] = sg, dshift[j] = ss;
    }
}

/* scale sin(.), and with wide set, times 2^-20 .. 2^20: sums in double
 * that round, so that their order shows */
static float *test_floats(size_t n, double f, double scale, int wide) {
    float *x = malloc(sizeof(float) * (n ? n : 1));
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(scale * sin(f * (double)i + 0.1 * (i % 7)) *
                       (wide ? ldexp(1.0, (int)(i * 13 % 41) - 20) : 1.0));
    return x;
}

/* norm.c's LayerNorm (rows summed side by side, the gain and shift sums
 * across columns, the masked forward and the backward in halves) gives the
 * plain loops' bits, at row counts around its blocks of rows and odd
 * widths; the mask is ReLU's. Loop: 1 and 3 threads. */
START_TEST(test_norm_matches_plain_loops) {
    Backend *be = backend_cpu_create(_i == 0 ? 1 : 3);
    static const int ROWS[] = {1, 3, 4, 5, 9, 131, 300}, COLS[] = {1, 7, 33, 257};
    for (int ri = 0; ri < 7; ri++)
        for (int ci = 0; ci < 4; ci++) {
            int rows = ROWS[ri], n = COLS[ci];
            size_t e = (size_t)rows * n;
            float *x = test_floats(e, 0.37, 2.0, 1), *dy = test_floats(e, 0.91, 1.0, 1);
            float *gain = test_floats((size_t)n, 1.3, 0.5, 0);
            float *shift = test_floats((size_t)n, 0.7, 0.2, 0);
            float *b[2][7]; /* y, mean, rstd, dx, dgain, dshift; [6]: the mask */
            for (int k = 0; k < 2; k++)
                for (int q = 0; q < 7; q++) b[k][q] = calloc(e + 1, sizeof(float));
            plain_layernorm(b[0][0], b[0][1], b[0][2], x, gain, shift, rows, n, 1);
            cpu_layernorm_mask(be, b[1][0], x, gain, shift, b[1][1], b[1][2], rows, n, ACT_RELU,
                               (uint32_t *)b[1][6]);
            for (int q = 0; q < 3; q++)
                ck_assert_mem_eq(b[1][q], b[0][q], sizeof(float) * (q ? (size_t)rows : e));
            for (size_t i = 0; i < e; i++) {
                uint32_t bit = ((uint32_t *)b[1][6])[i / n * relu_mask_words(n) + i % n / 32];
                ck_assert_int_eq((bit >> (i % n % 32)) & 1u, b[0][0][i] > 0.0f);
            }
            plain_layernorm(b[0][0], b[0][1], b[0][2], x, gain, shift, rows, n, 0);
            cpu_layernorm(be, b[1][0], x, gain, shift, b[1][1], b[1][2], rows, n, ACT_NONE);
            ck_assert_mem_eq(b[1][0], b[0][0], sizeof(float) * e);
            plain_layernorm_grad(b[0][3], b[0][4], b[0][5], dy, x, gain, b[0][1], b[0][2], rows, n);
            cpu_layernorm_grad(be, b[1][3], b[1][4], b[1][5], dy, x, gain, b[1][1], b[1][2], rows,
                               n);
            ck_assert_mem_eq(b[1][3], b[0][3], sizeof(float) * e);
            ck_assert_mem_eq(b[1][4], b[0][4], sizeof(float) * (size_t)n);
            ck_assert_mem_eq(b[1][5], b[0][5], sizeof(float) * (size_t)n);
            for (int k = 0; k < 2; k++)
                for (int q = 0; q < 7; q++) free(b[k][q]);
            free(x), free(dy), free(gain), free(shift);
        }
    be->destroy(be);
}
END_TEST

Suite *schedule_suite(void) {
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("cpu_vs_generic");
    tcase_set_timeout(tc, 120); /* 256 x 256 updates on 1 thread under a parallel build */
    tcase_add_loop_test(tc, test_norm_matches_plain_loops, 0, 2);
    tcase_add_loop_test(tc, test_passes_match_mlp, 1, 4);
    tcase_add_loop_test(tc, test_schedule_default_sizes, 1, 4);
    tcase_add_loop_test(tc, test_schedule_odd_sizes, 1, 4);
    tcase_add_loop_test(tc, test_schedule_layer_norm, 1, 4);
    tcase_add_loop_test(tc, test_schedule_td3, 1, 4);
    suite_add_tcase(s, tc);
    return s;
}
