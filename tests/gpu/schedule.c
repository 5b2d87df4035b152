/* schedule.c - the GPU's schedule of an update (kernels/update.cu) against
 * the GPU's own generic update (ddpg_update_generic), for DDPG, TD3, DDPG
 * with LayerNorm and TD3 with LayerNorm, at odd sizes: two agents on the one
 * backend from the same initial networks, each sampling the same batches
 * from one ring.
 *
 * Bit for bit: the schedule launches the generic path's kernels on the same
 * inputs, only some of them on the side stream, and each stream has its own
 * cuBLAS handle and workspace, under which cuBLAS gives the same bits with
 * streams side by side (its documentation, "Results reproducibility").
 * Every network's parameters, targets, gradients, Adam moments and steps,
 * the metrics and the counters. */
#include <stdio.h>
#include <string.h>

#include "ddpg/env.h"
#include "ddpg/envs/pendulum.h"
#include "parity.h"

typedef struct {
    const char *name;
    const int *hidden;
    int batch, updates;
    Algo algo;
    int layer_norm, policy_delay;
} ScheduleCase;

static const int H65_33[2] = {65, 33}, H64[2] = {64, 64}, H17_129[2] = {17, 129};

/* TD3 over 5 or 6 updates: policy steps and others both, the last one of
 * each kind in some case. */
static const ScheduleCase CASES[] = {
    {"schedule_ddpg", H65_33, 257, 3, ALGO_DDPG, 0, 1},
    {"schedule_td3", H64, 129, 5, ALGO_TD3, 0, 2},
    {"schedule_layernorm", H17_129, 65, 3, ALGO_DDPG, 1, 1},
    {"schedule_td3_layernorm", H65_33, 257, 6, ALGO_TD3, 1, 3}};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

static void expect_nets_identical(Pair *same, const ScheduleCase *c, const char *name,
                                  const Net *s, const Net *g) {
    size_t bytes = sizeof(float) * s->shape.n_params;
    const float *sb[] = {s->params, s->target, s->grad, s->adam_m, s->adam_v};
    const float *gb[] = {g->params, g->target, g->grad, g->adam_m, g->adam_v};
    const char *names[] = {"params", "target", "grad", "adam_m", "adam_v"};
    char what[192];
    for (int k = 0; k < 5; k++) {
        snprintf(what, sizeof what, "%s vs generic, %s.%s", c->name, name, names[k]);
        expect_twin_equal(same, what, sb[k], gb[k], bytes);
    }
    snprintf(what, sizeof what, "%s vs generic, %s.adam_step", c->name, name);
    expect_twin_equal(same, what, s->adam_step, g->adam_step, sizeof(int64_t));
}

/* Loop: the cases. */
START_TEST(test_schedule_vs_generic) {
    const ScheduleCase *c = &CASES[_i];
    Pair *p = parity_pair(c->name);
    if (!p) return;
    Pair same = {p->gpu, p->gpu}; /* .g: the schedule's agent, .c: the generic one */
    Replay r;
    ck_assert_int_eq(replay_create(&r, p->gpu, 1000, PENDULUM_OBS_DIM, PENDULUM_ACT_DIM), 0);
    ck_assert_int_eq(env_fill_random(p->gpu, pendulum_spec(), &r, 1000, 5), 0);
    DdpgParams prm = parity_params(c->batch);
    prm.hidden = c->hidden;
    prm.algo = c->algo;
    prm.layer_norm = c->layer_norm;
    prm.policy_delay = c->policy_delay;
    prm.target_noise = 0.2f;
    prm.target_noise_clip = 0.5f;
    Ddpg ds, dg;
    ck_assert_int_eq(ddpg_create(&ds, p->gpu, &prm, NULL), 0);
    ck_assert_int_eq(ddpg_create(&dg, p->gpu, &prm, NULL), 0);
    ck_assert_msg(ds.plan != NULL, "%s: the %s backend's schedule did not take the agent",
                  c->name, p->gpu->name);
    int policy_steps = 0;
    for (int u = 0; u < c->updates; u++) {
        ddpg_update(&ds, &r); /* the schedule */
        p->gpu->replay_sample(p->gpu, &r, &dg.batch, dg.p.seed, dg.sample_ctr);
        dg.updates++; /* as ddpg_update_batch counts: the clock of TD3's delay */
        ddpg_update_generic(&dg);
        policy_steps += ddpg_policy_step(&dg);
    }
    char what[192];
    snprintf(what, sizeof what, "%s vs generic, batch idx", c->name);
    expect_twin_equal(&same, what, ds.batch.idx, dg.batch.idx, sizeof(int64_t) * prm.batch_size);
    expect_nets_identical(&same, c, "actor", &ds.actor, &dg.actor);
    for (int k = 0; k < dg.n_critics; k++)
        expect_nets_identical(&same, c, k ? "critic1" : "critic0", &ds.critic[k], &dg.critic[k]);
    snprintf(what, sizeof what, "%s vs generic, metrics", c->name);
    expect_twin_equal(&same, what, ds.metrics, dg.metrics, sizeof(float) * dg.n_metrics);
    if (c->algo == ALGO_TD3) {
        snprintf(what, sizeof what, "%s vs generic, smooth_ctr", c->name);
        expect_twin_equal(&same, what, ds.smooth_ctr, dg.smooth_ctr, sizeof(uint64_t));
    }
    ck_assert_int_eq(fetch_i64(p->gpu, ds.actor.adam_step), policy_steps);
    ck_assert_int_eq(fetch_i64(p->gpu, ds.critic[dg.n_critics - 1].adam_step), c->updates);
    ddpg_destroy(&ds);
    ddpg_destroy(&dg);
    replay_destroy(&r, p->gpu);
}
END_TEST

void gpu_schedule_cases(Suite *s) {
    TCase *tc = parity_tcase("schedule");
    tcase_add_loop_test(tc, test_schedule_vs_generic, 0, N_CASES);
    suite_add_tcase(s, tc);
}
