/* pendulum.c - parity of kernels/pendulum.cu: resets and steps of many
 * Pendulum-v1 environments, auto-resets and the episode log included. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/elem.h"
#include "ddpg/env.h"
#include "parity.h"

START_TEST(test_env_reset) {
    Pair *p = parity_pair("env_reset");
    if (!p) return;
    const int n = 1025;
    VecEnv eg, ec;
    ck_assert_int_eq(env_create(&eg, p->gpu, n, 42, 16), 0);
    ck_assert_int_eq(env_create(&ec, p->cpu, n, 42, 16), 0);
    Twin obs = twin(p, NULL, sizeof(float) * n * PENDULUM_OBS_DIM);
    for (int rep = 0; rep < 2; rep++) {
        p->gpu->env_reset(p->gpu, &eg, obs.g);
        p->cpu->env_reset(p->cpu, &ec, obs.c);
    }
    expect_twin_close(p, "env_reset obs", obs.g, obs.c, (size_t)n * PENDULUM_OBS_DIM, 1e-6, 0);
    double *thg = fetch(p->gpu, eg.th, sizeof(double) * n),
           *thc = fetch(p->cpu, ec.th, sizeof(double) * n);
    double *wg = fetch(p->gpu, eg.thdot, sizeof(double) * n),
           *wc = fetch(p->cpu, ec.thdot, sizeof(double) * n);
    double dmax = 0;
    for (int i = 0; i < n; i++) {
        dmax = fmax(dmax, fmax(fabs(thg[i] - thc[i]), fabs(wg[i] - wc[i])));
        ck_assert(thg[i] >= -DDPG_PI && thg[i] <= DDPG_PI && wg[i] >= -1.0 && wg[i] <= 1.0);
    }
    printf("gpu_parity/env_reset th,thdot: n=%d max abs %.3g (tol 1e-12)\n", n, dmax);
    ck_assert(dmax <= 1e-12);
    expect_twin_equal(p, "env_reset resets", eg.resets, ec.resets, sizeof(int64_t) * n);
    expect_twin_equal(p, "env_reset t", eg.t, ec.t, sizeof(int32_t) * n);
    ck_assert_int_eq(fetch_i64(p->gpu, eg.resets + n - 1), 2);
    free(thg), free(thc), free(wg), free(wc);
    twin_free(p, &obs);
    env_destroy(&eg, p->gpu);
    env_destroy(&ec, p->cpu);
}
END_TEST

typedef struct {
    int64_t step;
    int32_t env, len;
    float ret;
} Record;

static int record_cmp(const void *a, const void *b) {
    const Record *x = a, *y = b;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    return (x->env > y->env) - (x->env < y->env);
}

/* The finished-episode records of e, sorted by (step, env). */
static Record *fetch_records(Backend *be, const VecEnv *e, int64_t *count) {
    *count = fetch_i64(be, e->log.count);
    int64_t k = *count < e->log.capacity ? *count : e->log.capacity, cap = e->log.capacity;
    float *ret = fetch(be, e->log.ret, sizeof(float) * cap);
    int32_t *len = fetch(be, e->log.len, sizeof(int32_t) * cap);
    int32_t *env = fetch(be, e->log.env, sizeof(int32_t) * cap);
    int64_t *step = fetch(be, e->log.step, sizeof(int64_t) * cap);
    Record *r = malloc(sizeof(Record) * (k ? k : 1));
    ck_assert_ptr_nonnull(r);
    for (int64_t i = 0; i < k; i++) r[i] = (Record){step[i], env[i], len[i], ret[i]};
    qsort(r, (size_t)k, sizeof(Record), record_cmp);
    free(ret), free(len), free(env), free(step);
    return r;
}

/* 1000 steps of 1024 envs from identical states with identical actions
 * (some beyond the torque limit), staggered episode clocks so that envs
 * truncate and auto-reset on every step; resets draw the same numbers on both
 * backends, so everything is compared: observations, rewards, flags, the
 * after-reset observations, the state and the episode log. */
START_TEST(test_env_step) {
    Pair *p = parity_pair("env_step");
    if (!p) return;
    const int n = 1024, steps = 1000, od = PENDULUM_OBS_DIM;
    seed_host_rng(12);
    VecEnv eg, ec;
    ck_assert_int_eq(env_create(&eg, p->gpu, n, 7, 8192), 0);
    ck_assert_int_eq(env_create(&ec, p->cpu, n, 7, 8192), 0);
    double *th = malloc(sizeof(double) * n), *w = malloc(sizeof(double) * n);
    int32_t *t = malloc(sizeof(int32_t) * n);
    ck_assert(th && w && t);
    for (int i = 0; i < n; i++) {
        th[i] = -DDPG_PI + 2 * DDPG_PI * urand();
        w[i] = -8.0 + 16.0 * urand();
        t[i] = i % PENDULUM_MAX_STEPS;
    }
    Backend *bes[2] = {p->gpu, p->cpu};
    VecEnv *es[2] = {&eg, &ec};
    for (int b = 0; b < 2; b++) {
        bes[b]->to_device(bes[b], es[b]->th, th, sizeof(double) * n);
        bes[b]->to_device(bes[b], es[b]->thdot, w, sizeof(double) * n);
        bes[b]->to_device(bes[b], es[b]->t, t, sizeof(int32_t) * n);
    }
    size_t ob = sizeof(float) * n * od, fb = sizeof(float) * n;
    Twin act = twin(p, NULL, fb), real_next = twin(p, NULL, ob), next = twin(p, NULL, ob);
    Twin rew = twin(p, NULL, fb), term = twin(p, NULL, fb), trunc = twin(p, NULL, fb);
    Diff dreal = {0, 0, 0, 0}, drew = dreal, dnext = dreal;
    int64_t truncs = 0;
    float *a = malloc(fb);
    ck_assert_ptr_nonnull(a);
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < n; i++) a[i] = frand(-2.5f, 2.5f);
        twin_set(p, &act, a);
        p->gpu->env_step(p->gpu, &eg, act.g, real_next.g, rew.g, term.g, trunc.g, next.g);
        p->cpu->env_step(p->cpu, &ec, act.c, real_next.c, rew.c, term.c, trunc.c, next.c);
        float *ng = fetch(p->gpu, real_next.g, ob), *nc = fetch(p->cpu, real_next.c, ob);
        float *og = fetch(p->gpu, next.g, ob), *oc = fetch(p->cpu, next.c, ob);
        float *rg = fetch(p->gpu, rew.g, fb), *rc = fetch(p->cpu, rew.c, fb);
        float *tg = fetch(p->gpu, trunc.g, fb), *tc = fetch(p->cpu, trunc.c, fb);
        float *mg = fetch(p->gpu, term.g, fb);
        Diff d1 = diff_floats(ng, nc, (size_t)n * od, NULL, 1e-5, 0);
        Diff d2 = diff_floats(rg, rc, (size_t)n, NULL, 1e-4, 1e-5);
        Diff d3 = diff_floats(og, oc, (size_t)n * od, NULL, 1e-5, 0);
        ck_assert_msg(d1.bad == 0 && d2.bad == 0 && d3.bad == 0,
                      "env_step step %d: real_next_obs %zu, reward %zu, next_obs %zu values "
                      "beyond tolerance (max abs %.3g %.3g %.3g)",
                      s, d1.bad, d2.bad, d3.bad, d1.max_abs, d2.max_abs, d3.max_abs);
        ck_assert_msg(memcmp(tg, tc, fb) == 0, "env_step step %d: truncation flags differ", s);
        for (int i = 0; i < n; i++) {
            ck_assert(mg[i] == 0.0f);
            truncs += tg[i] != 0.0f;
        }
        dreal.max_abs = fmax(dreal.max_abs, d1.max_abs);
        drew.max_abs = fmax(drew.max_abs, d2.max_abs);
        drew.max_rel = fmax(drew.max_rel, d2.max_rel);
        dnext.max_abs = fmax(dnext.max_abs, d3.max_abs);
        free(ng), free(nc), free(og), free(oc), free(rg), free(rc), free(tg), free(tc), free(mg);
    }
    printf("gpu_parity/env_step %d envs x %d steps: real_next_obs max abs %.3g (tol 1e-5), "
           "reward max abs %.3g rel %.3g (tol 1e-4 + 1e-5|r|), next_obs max abs %.3g (tol "
           "1e-5), %lld truncations\n",
           n, steps, dreal.max_abs, drew.max_abs, drew.max_rel, dnext.max_abs, (long long)truncs);
    fflush(stdout);
    ck_assert_int_eq(truncs, (int64_t)n * steps / PENDULUM_MAX_STEPS);
    expect_twin_equal(p, "env_step t", eg.t, ec.t, sizeof(int32_t) * n);
    expect_twin_equal(p, "env_step resets", eg.resets, ec.resets, sizeof(int64_t) * n);
    expect_twin_equal(p, "env_step vstep", eg.vstep, ec.vstep, sizeof(int64_t));
    ck_assert_int_eq(fetch_i64(p->gpu, eg.vstep), steps);
    expect_twin_close(p, "env_step ep_return", eg.ep_return, ec.ep_return, n, 1e-3, 1e-5);
    int64_t cg, cc;
    Record *rg = fetch_records(p->gpu, &eg, &cg), *rc = fetch_records(p->cpu, &ec, &cc);
    ck_assert_int_eq(cg, cc);
    ck_assert_int_eq(cg, truncs);
    double rmax = 0;
    for (int64_t i = 0; i < cg; i++) {
        ck_assert_int_eq(rg[i].step, rc[i].step);
        ck_assert_int_eq(rg[i].env, rc[i].env);
        ck_assert_int_eq(rg[i].len, rc[i].len);
        double d = fabs((double)rg[i].ret - rc[i].ret);
        rmax = fmax(rmax, d / fmax(1.0, fabs(rc[i].ret)));
    }
    printf("gpu_parity/env_step log: %lld records, return max rel %.3g (tol 1e-4)\n", (long long)cg,
           rmax);
    ck_assert(rmax <= 1e-4);
    free(rg), free(rc), free(a), free(th), free(w), free(t);
    twin_free(p, &act), twin_free(p, &real_next), twin_free(p, &next);
    twin_free(p, &rew), twin_free(p, &term), twin_free(p, &trunc);
    env_destroy(&eg, p->gpu);
    env_destroy(&ec, p->cpu);
}
END_TEST

void gpu_pendulum_cases(Suite *s) {
    TCase *tc = parity_tcase("pendulum");
    tcase_add_test(tc, test_env_reset);
    tcase_add_test(tc, test_env_step);
    suite_add_tcase(s, tc);
}
