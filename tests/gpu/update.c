/* update.c - whole DDPG updates on the GPU (its schedule, kernels/update.cu)
 * against the CPU's and against the GPU's own generic update; a training
 * iteration captured as a CUDA Graph and replayed; the evaluation graph. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/config.h"
#include "ddpg/elem.h"
#include "ddpg/env.h"
#include "ddpg/tensor.h"
#include "ddpg/train.h"
#include "ddpg/envs/pendulum.h"
#include "parity.h"

/* Three ddpg_update calls (sample, critic step, actor step, soft updates)
 * from the same replay contents and the same initial networks, each
 * backend through its own schedule. */
START_TEST(test_ddpg_update) {
    Pair *p = parity_pair("ddpg_update");
    if (!p) return;
    seed_host_rng(15);
    DdpgParams prm = parity_params(257);
    AgentTwin a;
    agent_twin_create(p, &a, &prm);
    expect_agents_close(p, &a.g, &a.c, "ddpg_update before");
    agent_twin_update(&a, 3);
    expect_twin_equal(p, "ddpg_update batch idx", a.g.batch.idx, a.c.batch.idx,
                      sizeof(int64_t) * prm.batch_size);
    expect_agents_close(p, &a.g, &a.c, "ddpg_update x3");
    ck_assert_int_eq(fetch_i64(p->gpu, a.g.actor.adam_step), 3);
    ck_assert_int_eq(fetch_i64(p->gpu, a.g.critic[0].adam_step), 3);
    agent_twin_destroy(p, &a);
}
END_TEST

/* Five TD3 updates with LayerNorm (twin critics, target smoothing with the
 * same Philox draws, delayed actor and target updates: the actor moves on the
 * 2nd and 4th) at an odd batch and odd widths, through each backend's
 * schedule, against the CPU. */
START_TEST(test_td3_update) {
    Pair *p = parity_pair("td3_update");
    if (!p) return;
    seed_host_rng(16);
    static const int hidden[2] = {65, 33};
    DdpgParams prm = parity_params(129);
    prm.hidden = hidden;
    prm.algo = ALGO_TD3;
    prm.layer_norm = 1;
    prm.target_noise = 0.2f;
    prm.target_noise_clip = 0.5f;
    prm.policy_delay = 2;
    AgentTwin a;
    agent_twin_create(p, &a, &prm);
    ck_assert_ptr_nonnull(a.g.plan); /* the GPU's schedule takes TD3 with LayerNorm */
    agent_twin_update(&a, 5);
    expect_agents_close(p, &a.g, &a.c, "td3_update x5");
    expect_twin_equal(p, "td3_update smooth_ctr", a.g.smooth_ctr, a.c.smooth_ctr,
                      sizeof(uint64_t));
    ck_assert_int_eq(fetch_i64(p->gpu, a.g.actor.adam_step), 2);
    ck_assert_int_eq(fetch_i64(p->gpu, a.g.critic[1].adam_step), 5);
    agent_twin_destroy(p, &a);
}
END_TEST

/* The GPU's schedule (ddpg_update_batch through d->plan) against the GPU's
 * generic update (ddpg_update_generic): two agents on the one backend from
 * the same initial networks, each sampling the same batches from one ring,
 * three updates, at odd sizes; compared as the GPU is against the CPU. */
START_TEST(test_schedule) {
    Pair *p = parity_pair("schedule");
    if (!p) return;
    Pair same = {p->gpu, p->gpu}; /* .g: the schedule's agent, .c: the generic one */
    static const int hiddens[][2] = {{65, 33}, {64, 64}};
    Replay r;
    ck_assert_int_eq(replay_create(&r, p->gpu, 1000, PENDULUM_OBS_DIM, PENDULUM_ACT_DIM), 0);
    ck_assert_int_eq(env_fill_random(p->gpu, pendulum_spec(), &r, 1000, 5), 0);
    for (int h = 0; h < 2; h++) {
        DdpgParams prm = parity_params(257);
        prm.hidden = hiddens[h];
        Ddpg ds, dg;
        ck_assert_int_eq(ddpg_create(&ds, p->gpu, &prm, NULL), 0);
        ck_assert_int_eq(ddpg_create(&dg, p->gpu, &prm, NULL), 0);
        ck_assert_msg(ds.plan != NULL, "the %s backend's schedule did not take the agent",
                      p->gpu->name);
        for (int u = 0; u < 3; u++) {
            ddpg_update(&ds, &r); /* the schedule */
            p->gpu->replay_sample(p->gpu, &r, &dg.batch, dg.p.seed, dg.sample_ctr);
            ddpg_update_generic(&dg);
        }
        char what[96];
        snprintf(what, sizeof what, "schedule vs generic, hidden %d,%d, batch idx", hiddens[h][0],
                 hiddens[h][1]);
        expect_twin_equal(&same, what, ds.batch.idx, dg.batch.idx,
                          sizeof(int64_t) * prm.batch_size);
        snprintf(what, sizeof what, "schedule vs generic, hidden %d,%d, x3", hiddens[h][0],
                 hiddens[h][1]);
        expect_agents_close(&same, &ds, &dg, what);
        ddpg_destroy(&ds);
        ddpg_destroy(&dg);
    }
    replay_destroy(&r, p->gpu);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* A training iteration, captured                                            */

#define SIM_UPDATES 2 /* updates per iteration: two schedules back to back */

/* One training iteration on a backend: random actions, env step, replay
 * insert, the next observation, SIM_UPDATES updates. */
typedef struct {
    Backend *be;
    VecEnv env;
    Replay replay;
    Ddpg agent;
    float *obs, *real_next_obs, *next_obs; /* (n, 3) device */
    float *act, *rew, *term, *trunc;       /* (n) device */
    uint64_t *ctr;                         /* (1) device: the uniform actions' counter */
} Sim;

static void sim_tensors(Sim *s, int n, TensorList *l) {
    size_t ob = (size_t)n * PENDULUM_OBS_DIM;
    TENSOR_ADD(l, "sim.", "obs", &s->obs, ob, TENSOR_WORK);
    TENSOR_ADD(l, "sim.", "real_next_obs", &s->real_next_obs, ob, TENSOR_WORK);
    TENSOR_ADD(l, "sim.", "next_obs", &s->next_obs, ob, TENSOR_WORK);
    TENSOR_ADD(l, "sim.", "act", &s->act, (size_t)n, TENSOR_WORK);
    TENSOR_ADD(l, "sim.", "rew", &s->rew, (size_t)n, TENSOR_WORK);
    TENSOR_ADD(l, "sim.", "term", &s->term, (size_t)n, TENSOR_WORK);
    TENSOR_ADD(l, "sim.", "trunc", &s->trunc, (size_t)n, TENSOR_WORK);
    TENSOR_ADD(l, "sim.", "ctr", &s->ctr, 1, TENSOR_STATE);
}

static void sim_create(Sim *s, Backend *be, int n, const DdpgParams *prm) {
    memset(s, 0, sizeof *s);
    s->be = be;
    ck_assert_int_eq(env_create(&s->env, be, pendulum_spec(), n, 11, 4096), 0);
    ck_assert_int_eq(replay_create(&s->replay, be, 4096, prm->obs_dim, prm->act_dim), 0);
    ck_assert_int_eq(ddpg_create(&s->agent, be, prm, NULL), 0);
    TensorList l;
    tensors_init(&l);
    sim_tensors(s, n, &l);
    ck_assert_int_eq(tensors_alloc(be, &l, NULL), 0);
    tensors_release(&l);
    be->env_reset(be, &s->env, s->obs);
}

static void sim_iteration(void *ctx) {
    Sim *s = ctx;
    Backend *be = s->be;
    int n = s->env.n;
    be->uniform_actions(be, s->act, n, s->agent.p.bounds, 3, s->ctr);
    be->env_step(be, &s->env, s->act, s->real_next_obs, s->rew, s->term, s->trunc, s->next_obs);
    be->replay_insert(be, &s->replay, s->obs, s->act, s->rew, s->real_next_obs, s->term, n);
    be->copy(be, s->obs, s->next_obs, sizeof(float) * n * PENDULUM_OBS_DIM);
    for (int k = 0; k < SIM_UPDATES; k++) ddpg_update(&s->agent, &s->replay);
}

static void sim_destroy(Sim *s) {
    TensorList l;
    tensors_init(&l);
    sim_tensors(s, s->env.n, &l);
    tensors_free(s->be, &l);
    tensors_release(&l);
    ddpg_destroy(&s->agent);
    replay_destroy(&s->replay, s->be);
    env_destroy(&s->env, s->be);
}

/* The iteration captured once as a CUDA Graph (backend_graph_run) and
 * replayed, six iterations in all, equals six eager iterations on the CPU:
 * every device counter (RNG, replay cursor, Adam steps, vectorized step)
 * advances on each replay, and the updates' two streams are joined. */
START_TEST(test_graph_replay) {
    Pair *p = parity_pair("graph_replay");
    if (!p) return;
    const int n = 64, reps = 6;
    DdpgParams prm = parity_params(65);
    Sim sg, sc;
    sim_create(&sg, p->gpu, n, &prm);
    sim_create(&sc, p->cpu, n, &prm);
    BackendGraph graph = {NULL, 0};
    for (int r = 0; r < reps; r++) {
        backend_graph_run(p->gpu, &graph, sim_iteration, &sg);
        sim_iteration(&sc);
    }
    p->gpu->sync(p->gpu);
    size_t ob = (size_t)n * PENDULUM_OBS_DIM;
    expect_twin_close(p, "graph_replay obs", sg.obs, sc.obs, ob, 1e-5, 0);
    expect_twin_close(p, "graph_replay act", sg.act, sc.act, (size_t)n, 1e-6, 1e-6);
    expect_twin_equal(p, "graph_replay rng ctr", sg.ctr, sc.ctr, sizeof(uint64_t));
    expect_twin_equal(p, "graph_replay vstep", sg.env.vstep, sc.env.vstep, sizeof(int64_t));
    expect_twin_equal(p, "graph_replay replay cursor", sg.replay.cursor, sc.replay.cursor,
                      sizeof(ReplayCursor));
    expect_twin_close(p, "graph_replay replay obs", sg.replay.obs, sc.replay.obs,
                      (size_t)4096 * PENDULUM_OBS_DIM, 1e-5, 0);
    ck_assert_int_eq(fetch_i64(p->gpu, sg.ctr), reps);
    ck_assert_int_eq(fetch_i64(p->gpu, sg.env.vstep), reps);
    ck_assert_int_eq(fetch_i64(p->gpu, &sg.replay.cursor->filled), (int64_t)n * reps);
    ck_assert_int_eq(fetch_i64(p->gpu, sg.agent.actor.adam_step), SIM_UPDATES * reps);
    ck_assert_int_eq(fetch_i64(p->gpu, sg.agent.critic[0].adam_step), SIM_UPDATES * reps);
    expect_agents_close(p, &sg.agent, &sc.agent, "graph_replay");
    ck_assert_msg(graph.exec != NULL, "the iteration was not captured as a CUDA Graph");
    backend_graph_free(p->gpu, &graph);
    sim_destroy(&sg);
    sim_destroy(&sc);
}
END_TEST

/* TD3's delay under CUDA Graphs: a short training run through the trainer
 * (the iterations after the random steps replayed as graphs), 3 updates an
 * iteration with a delay of 2, so that the policy steps fall on alternate
 * patterns (one graph each); the actor steps exactly on every second update,
 * and the agents end as the CPU's. Again with 64 updates an iteration (the
 * scaled default at 4096 envs): one pattern, one graph; after 832 updates a
 * flip of the twins' min from rounding alone can move a critic far, so
 * that run is compared with the same run op by op on the same GPU, bit for
 * bit, rather than with the CPU. */
START_TEST(test_td3_training_graphs) {
    static const int UPS[2] = {3, 64};
    int ups = UPS[_i], updates = 13 * ups;
    Pair *p = parity_pair(ups == 3 ? "td3_training_graphs" : "td3_training_graphs_64");
    if (!p) return;
    Config c;
    config_defaults(&c);
    c.algo = ALGO_TD3;
    c.envs = 4;
    c.start_steps = c.update_after = 100;
    c.total_steps = 148; /* 37 iterations, 13 with updates */
    c.updates_per_step = ups;
    c.batch_size = 33;
    c.hidden[0] = c.hidden[1] = 32;
    c.eval_every = 0;
    c.probe_n = 0;
    c.quiet = 1;
    Trainer tg, tc;
    Error err = {STATUS_OK, ""};
    Backend eager = *p->gpu; /* the same device and streams; no graphs */
    eager.capture_begin = NULL;
    Backend *other = ups == 3 ? p->cpu : &eager;
    ck_assert_msg(trainer_create(&tg, &c, p->gpu, NULL, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_msg(trainer_create(&tc, &c, other, NULL, &err) == STATUS_OK, "%s", err.msg);
    RunSummary sg, sc;
    ck_assert_msg(trainer_run(&tg, &sg, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_msg(trainer_run(&tc, &sc, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_int_eq(sg.updates, updates);
    /* graphs instantiated, not slots taken: a failed capture counts none */
    ck_assert_int_eq(graph_cache_count(&tg.graphs.update), ups % 2 ? 2 : 1);
    ck_assert_int_eq(fetch_i64(p->gpu, tg.agent.actor.adam_step), updates / 2);
    ck_assert_int_eq(fetch_i64(p->gpu, tg.agent.critic[1].adam_step), updates);
    ck_assert_int_eq(fetch_i64(p->gpu, tg.agent.smooth_ctr), updates);
    if (ups == 3) {
        expect_agents_close(p, &tg.agent, &tc.agent, "td3 training with graphs");
    } else {
        Pair same = {p->gpu, p->gpu};
        ck_assert_int_eq(graph_cache_count(&tc.graphs.update), 0);
        expect_trainers_identical(&same, &tg, &tc, "td3 training, 64 updates: graphs, eager");
    }
    trainer_destroy(&tg);
    trainer_destroy(&tc);
}
END_TEST

/* Returns of the deterministic evaluation (captured once as a CUDA Graph on
 * the GPU, then replayed) against the CPU's, for the initial actor and again
 * after new actor weights are written in place: the replay must read the
 * networks as they are now and start from the same states each time. */
START_TEST(test_evaluate_graph) {
    Pair *p = parity_pair("evaluate_graph");
    if (!p) return;
    seed_host_rng(21);
    Config c;
    config_defaults(&c);
    c.envs = 3;
    c.eval_every = 1000;
    c.eval_episodes = 7;
    c.replay_size = 1000;
    c.probe_n = 0;
    c.quiet = 1;
    Trainer tg, tc;
    Error err = {STATUS_OK, ""};
    ck_assert_msg(trainer_create(&tg, &c, p->gpu, NULL, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_msg(trainer_create(&tc, &c, p->cpu, NULL, &err) == STATUS_OK, "%s", err.msg);
    size_t na = tg.agent.actor.shape.n_params;
    float *w = malloc(sizeof(float) * na);
    ck_assert_ptr_nonnull(w);
    float rg[3][7], rc[2][7];
    for (int round = 0; round < 2; round++) {
        if (round == 1) { /* new weights, large enough to swing the pendulum */
            for (size_t i = 0; i < na; i++) w[i] = frand(-0.2f, 0.2f);
            p->gpu->to_device(p->gpu, tg.agent.actor.params, w, sizeof(float) * na);
            p->cpu->to_device(p->cpu, tc.agent.actor.params, w, sizeof(float) * na);
        }
        trainer_evaluate(&tg, rg[round]);
        trainer_evaluate(&tc, rc[round]);
        double worst = 0;
        for (int i = 0; i < 7; i++) {
            double d = fabs(rg[round][i] - rc[round][i]) / (1 + fabs(rc[round][i]));
            worst = fmax(worst, d);
        }
        printf("gpu_parity/evaluate_graph weights %d: returns %.2f .. %.2f, worst rel "
               "difference %.3g (tol 1e-3)\n", round, rc[round][0], rc[round][6], worst);
        fflush(stdout);
        ck_assert_msg(worst <= 1e-3, "evaluation %d: GPU returns differ from the CPU's by %.3g",
                      round, worst);
    }
    int moved = 0;
    for (int i = 0; i < 7; i++) moved |= fabsf(rc[1][i] - rc[0][i]) > 1.0f;
    ck_assert_msg(moved, "new weights gave the same returns: the test cannot tell a stale replay");
    trainer_evaluate(&tg, rg[2]); /* once more: the same start states, the same returns */
    ck_assert_mem_eq(rg[2], rg[1], sizeof rg[1]);
    ck_assert_msg(tg.eval.graph.exec != NULL, "the evaluation was not captured as a CUDA Graph");
    free(w);
    trainer_destroy(&tg);
    trainer_destroy(&tc);
}
END_TEST

void gpu_update_cases(Suite *s) {
    TCase *tc = parity_tcase("update");
    tcase_add_test(tc, test_ddpg_update);
    tcase_add_test(tc, test_td3_update);
    tcase_add_test(tc, test_schedule);
    tcase_add_test(tc, test_graph_replay);
    tcase_add_loop_test(tc, test_td3_training_graphs, 0, 2); /* 3 and 64 updates an iteration */
    tcase_add_test(tc, test_evaluate_graph);
    suite_add_tcase(s, tc);
}
