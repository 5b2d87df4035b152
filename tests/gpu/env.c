/* env.c - parity of kernels/env.cu for every environment of the registry:
 * resets and steps of many envs, auto-resets on termination and truncation,
 * and the episode log. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../envs/reach.h"
#include "ddpg/env.h"
#include "ddpg/train.h"
#include "parity.h"

START_TEST(test_env_reset) {
    Pair *p = parity_pair("env_reset");
    if (!p) return;
    const int n = 1025;
    for (int k = 0; env_at(k); k++) {
        const EnvSpec *spec = env_at(k);
        ck_assert_msg(p->gpu->env_supported(p->gpu, spec), "%s: no kernels", spec->id);
        VecEnv eg, ec;
        ck_assert_int_eq(env_create(&eg, p->gpu, spec, n, 42, 16), 0);
        ck_assert_int_eq(env_create(&ec, p->cpu, spec, n, 42, 16), 0);
        size_t no = (size_t)n * spec->obs_dim;
        Twin obs = twin(p, NULL, sizeof(float) * no);
        for (int rep = 0; rep < 2; rep++) {
            p->gpu->env_reset(p->gpu, &eg, obs.g);
            p->cpu->env_reset(p->cpu, &ec, obs.c);
        }
        printf("gpu_parity/env_reset %s: ", spec->id);
        expect_twin_close(p, "env_reset obs", obs.g, obs.c, no, 1e-6, 0);
        expect_twin_equal(p, "env_reset resets", eg.resets, ec.resets, sizeof(int64_t) * n);
        expect_twin_equal(p, "env_reset t", eg.t, ec.t, sizeof(int32_t) * n);
        ck_assert_int_eq(fetch_i64(p->gpu, eg.resets + n - 1), 2);
        twin_free(p, &obs);
        env_destroy(&eg, p->gpu);
        env_destroy(&ec, p->cpu);
    }
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

/* 1000 steps of 1024 envs of one environment from identical states with
 * identical actions (a quarter beyond the bounds), staggered episode clocks
 * so that envs truncate and auto-reset on every step, and states from the
 * whole state space so that those that can terminate do. Before each step
 * the GPU's states are set to the CPU's (one ulp of a GPU cos must not
 * decide a termination 500 steps later); resets draw the same numbers on
 * both backends, so everything else runs on its own and is compared:
 * observations, rewards, flags, the after-reset observations, the clocks and
 * the episode log. */
static void env_step_parity(Pair *p, const EnvSpec *spec) {
    const int n = 1024, steps = 1000, od = spec->obs_dim, ad = spec->act_dim;
    const size_t sb = (size_t)spec->fns.state_bytes * n;
    seed_host_rng(12);
    VecEnv eg, ec;
    int64_t cap = env_log_capacity(spec, n, steps);
    ck_assert_int_eq(env_create(&eg, p->gpu, spec, n, 7, cap), 0);
    ck_assert_int_eq(env_create(&ec, p->cpu, spec, n, 7, cap), 0);
    uint8_t *state = malloc(sb);
    int32_t *t = malloc(sizeof(int32_t) * n);
    ck_assert(state && t);
    for (int i = 0; i < n; i++) {
        EnvRng rng = env_rng(99, (uint32_t)i, RNG_FILL, 0);
        (spec->random_state ? spec->random_state : spec->fns.reset)(
            state + (size_t)i * spec->fns.state_bytes, &rng);
        t[i] = i % spec->max_steps;
    }
    Backend *bes[2] = {p->gpu, p->cpu};
    VecEnv *es[2] = {&eg, &ec};
    for (int b = 0; b < 2; b++) {
        bes[b]->to_device(bes[b], es[b]->state, state, sb);
        bes[b]->to_device(bes[b], es[b]->t, t, sizeof(int32_t) * n);
    }
    size_t ob = sizeof(float) * n * od, ab = sizeof(float) * n * ad, fb = sizeof(float) * n;
    Twin act = twin(p, NULL, ab), real_next = twin(p, NULL, ob), next = twin(p, NULL, ob);
    Twin rew = twin(p, NULL, fb), term = twin(p, NULL, fb), trunc = twin(p, NULL, fb);
    Diff dreal = {0, 0, 0, 0}, drew = dreal, dnext = dreal;
    int64_t truncs = 0, terms = 0;
    float *a = malloc(ab);
    ck_assert_ptr_nonnull(a);
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < n * ad; i++) {
            float lo = spec->act_low[i % ad], hi = spec->act_high[i % ad], w = hi - lo;
            a[i] = frand(lo - w / 8, hi + w / 8);
        }
        twin_set(p, &act, a);
        uint8_t *sc = fetch(p->cpu, ec.state, sb);
        p->gpu->to_device(p->gpu, eg.state, sc, sb);
        free(sc);
        p->gpu->env_step(p->gpu, &eg, act.g, real_next.g, rew.g, term.g, trunc.g, next.g);
        p->cpu->env_step(p->cpu, &ec, act.c, real_next.c, rew.c, term.c, trunc.c, next.c);
        float *ng = fetch(p->gpu, real_next.g, ob), *nc = fetch(p->cpu, real_next.c, ob);
        float *og = fetch(p->gpu, next.g, ob), *oc = fetch(p->cpu, next.c, ob);
        float *rg = fetch(p->gpu, rew.g, fb), *rc = fetch(p->cpu, rew.c, fb);
        float *tg = fetch(p->gpu, trunc.g, fb), *tc = fetch(p->cpu, trunc.c, fb);
        float *mg = fetch(p->gpu, term.g, fb), *mc = fetch(p->cpu, term.c, fb);
        Diff d1 = diff_floats(ng, nc, (size_t)n * od, NULL, 1e-5, 1e-6);
        Diff d2 = diff_floats(rg, rc, (size_t)n, NULL, 1e-4, 1e-5);
        Diff d3 = diff_floats(og, oc, (size_t)n * od, NULL, 1e-5, 1e-6);
        ck_assert_msg(d1.bad == 0 && d2.bad == 0 && d3.bad == 0,
                      "%s env_step step %d: real_next_obs %zu, reward %zu, next_obs %zu values "
                      "beyond tolerance (max abs %.3g %.3g %.3g)", spec->id,
                      s, d1.bad, d2.bad, d3.bad, d1.max_abs, d2.max_abs, d3.max_abs);
        ck_assert_msg(memcmp(tg, tc, fb) == 0, "%s step %d: truncation flags differ", spec->id, s);
        ck_assert_msg(memcmp(mg, mc, fb) == 0, "%s step %d: termination flags differ", spec->id,
                      s);
        for (int i = 0; i < n; i++) truncs += tg[i] != 0.0f, terms += mg[i] != 0.0f;
        dreal.max_abs = fmax(dreal.max_abs, d1.max_abs);
        drew.max_abs = fmax(drew.max_abs, d2.max_abs);
        drew.max_rel = fmax(drew.max_rel, d2.max_rel);
        dnext.max_abs = fmax(dnext.max_abs, d3.max_abs);
        free(ng), free(nc), free(og), free(oc), free(rg), free(rc), free(tg), free(tc);
        free(mg), free(mc);
    }
    printf("gpu_parity/env_step %s, %d envs x %d steps: real_next_obs max abs %.3g (tol 1e-5 + "
           "1e-6|x|), reward max abs %.3g rel %.3g (tol 1e-4 + 1e-5|r|), next_obs max abs %.3g, "
           "%lld truncations, %lld terminations\n", spec->id, n, steps, dreal.max_abs,
           drew.max_abs, drew.max_rel, dnext.max_abs, (long long)truncs, (long long)terms);
    fflush(stdout);
    ck_assert(truncs > 0);
    expect_twin_equal(p, "env_step t", eg.t, ec.t, sizeof(int32_t) * n);
    expect_twin_equal(p, "env_step resets", eg.resets, ec.resets, sizeof(int64_t) * n);
    expect_twin_equal(p, "env_step vstep", eg.vstep, ec.vstep, sizeof(int64_t));
    ck_assert_int_eq(fetch_i64(p->gpu, eg.vstep), steps);
    expect_twin_close(p, "env_step ep_return", eg.ep_return, ec.ep_return, n, 1e-3, 1e-5);
    int64_t cg, cc;
    Record *rg = fetch_records(p->gpu, &eg, &cg), *rc = fetch_records(p->cpu, &ec, &cc);
    ck_assert_int_eq(cg, cc);
    ck_assert_int_le(cg, truncs + terms); /* both on one step: one record */
    double rmax = 0;
    for (int64_t i = 0; i < cg; i++) {
        ck_assert_int_eq(rg[i].step, rc[i].step);
        ck_assert_int_eq(rg[i].env, rc[i].env);
        ck_assert_int_eq(rg[i].len, rc[i].len);
        double d = fabs((double)rg[i].ret - rc[i].ret);
        rmax = fmax(rmax, d / fmax(1.0, fabs(rc[i].ret)));
    }
    printf("gpu_parity/env_step %s log: %lld records, return max rel %.3g (tol 1e-4)\n",
           spec->id, (long long)cg, rmax);
    ck_assert(rmax <= 1e-4);
    free(rg), free(rc), free(a), free(state), free(t);
    twin_free(p, &act), twin_free(p, &real_next), twin_free(p, &next);
    twin_free(p, &rew), twin_free(p, &term), twin_free(p, &trunc);
    env_destroy(&eg, p->gpu);
    env_destroy(&ec, p->cpu);
}

START_TEST(test_env_step) {
    Pair *p = parity_pair("env_step");
    if (!p) return;
    for (int k = 0; env_at(k); k++) env_step_parity(p, env_at(k));
}
END_TEST

/* 1,048,576 envs of each environment, reset from the same seed and stepped
 * 20 times with the same random actions on both backends, each on its own
 * states (no copy between them): the step counters and resets equal, and
 * the observations of a sample of envs (every 1021st) within tolerance (the
 * device's sin and cos may differ from glibc's by an ulp). Sizes where the
 * GPU's grid is many waves deep. */
static void env_million_parity(Pair *p, const EnvSpec *spec) {
    const int n = 1 << 20, steps = 20, od = spec->obs_dim, ad = spec->act_dim, stride = 1021;
    seed_host_rng(13);
    VecEnv eg, ec;
    int64_t cap = env_log_capacity(spec, n, steps);
    ck_assert_int_eq(env_create(&eg, p->gpu, spec, n, 11, cap), 0);
    ck_assert_int_eq(env_create(&ec, p->cpu, spec, n, 11, cap), 0);
    size_t ob = sizeof(float) * n * od, ab = sizeof(float) * n * ad, fb = sizeof(float) * n;
    Twin obs = twin(p, NULL, ob), act = twin(p, NULL, ab), real_next = twin(p, NULL, ob);
    Twin rew = twin(p, NULL, fb), term = twin(p, NULL, fb), trunc = twin(p, NULL, fb);
    p->gpu->env_reset(p->gpu, &eg, obs.g);
    p->cpu->env_reset(p->cpu, &ec, obs.c);
    float *a = malloc(ab);
    ck_assert_ptr_nonnull(a);
    for (int s = 0; s < steps; s++) {
        for (size_t i = 0; i < (size_t)n * ad; i++)
            a[i] = frand(spec->act_low[i % ad], spec->act_high[i % ad]);
        twin_set(p, &act, a);
        p->gpu->env_step(p->gpu, &eg, act.g, real_next.g, rew.g, term.g, trunc.g, obs.g);
        p->cpu->env_step(p->cpu, &ec, act.c, real_next.c, rew.c, term.c, trunc.c, obs.c);
    }
    float *og = fetch(p->gpu, obs.g, ob), *oc = fetch(p->cpu, obs.c, ob);
    size_t m = 0, k = (size_t)(n / stride + 1) * od;
    float *sg = malloc(sizeof(float) * k), *sc = malloc(sizeof(float) * k);
    ck_assert(sg && sc);
    for (size_t i = 0; i < (size_t)n; i += stride)
        for (int j = 0; j < od; j++, m++) sg[m] = og[i * od + j], sc[m] = oc[i * od + j];
    Diff d = diff_floats(sg, sc, m, NULL, 1e-4, 1e-5);
    printf("gpu_parity/env_million %s, %d envs x %d steps: %zu sampled observations, max abs "
           "%.3g (tol 1e-4 + 1e-5|x|)\n", spec->id, n, steps, m, d.max_abs);
    fflush(stdout);
    ck_assert_msg(d.bad == 0, "%s: %zu of %zu sampled observations beyond tolerance", spec->id,
                  d.bad, m);
    expect_twin_equal(p, "env_million t", eg.t, ec.t, sizeof(int32_t) * n);
    expect_twin_equal(p, "env_million resets", eg.resets, ec.resets, sizeof(int64_t) * n);
    ck_assert_int_eq(fetch_i64(p->gpu, eg.vstep), steps);
    free(og), free(oc), free(sg), free(sc), free(a);
    twin_free(p, &obs), twin_free(p, &act), twin_free(p, &real_next);
    twin_free(p, &rew), twin_free(p, &term), twin_free(p, &trunc);
    env_destroy(&eg, p->gpu);
    env_destroy(&ec, p->cpu);
}

START_TEST(test_env_million) {
    Pair *p = parity_pair("env_million");
    if (!p) return;
    for (int k = 0; env_at(k); k++) env_million_parity(p, env_at(k));
}
END_TEST

/* An environment registered at run time has no kernels: the GPU says so, and
 * a run of it is refused before anything is allocated, naming --device cpu. */
START_TEST(test_env_unsupported) {
    Pair *p = parity_pair("env_unsupported");
    if (!p) return;
    if (!env_find("reach")) ck_assert_int_eq(env_register(reach_spec()), 0);
    const EnvSpec *spec = env_find("reach");
    ck_assert(p->cpu->env_supported(p->cpu, spec));
    ck_assert(!p->gpu->env_supported(p->gpu, spec));
    Config c;
    config_defaults(&c);
    snprintf(c.env, sizeof c.env, "reach");
    Trainer tr;
    trainer_init(&tr, &c, p->gpu, NULL);
    Error err = {STATUS_OK, ""};
    ck_assert_int_eq(trainer_check_memory(&tr, &err), STATUS_BAD_INPUT);
    const char *msg = err.msg;
    ck_assert_msg(strstr(msg, "--env reach") && strstr(msg, "--device cpu"), "message: %s", msg);
    printf("gpu_parity/env_unsupported: %s\n", msg);
}
END_TEST

void gpu_env_cases(Suite *s) {
    TCase *tc = parity_tcase("env");
    tcase_add_test(tc, test_env_reset);
    tcase_add_test(tc, test_env_step);
    tcase_add_test(tc, test_env_million);
    tcase_add_test(tc, test_env_unsupported);
    suite_add_tcase(s, tc);
}
