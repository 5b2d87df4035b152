/* test_envs.c - the environment interface: the registry, every spec, the
 * shared step (auto-reset on terminated or truncated, the episode log, one
 * episode per env in an evaluation), per-env defaults, and an environment that
 * lives only here (tests/envs/reach.h) trained end to end. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/config.h"
#include "ddpg/env.h"
#include "ddpg/train.h"
#include "envs/reach.h"
#include "suites.h"

/* Reach-v0 in the registry (each test runs in a process of its own). */
static const EnvSpec *reach(void) {
    if (!env_find("reach")) ck_assert_int_eq(env_register(reach_spec()), 0);
    return env_find("reach");
}

START_TEST(test_registry) {
    const EnvSpec *p = env_find("pendulum"), *m = env_find("mountaincar");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_eq(env_find("Pendulum-v1"), p);
    ck_assert_ptr_eq(env_find("MountainCarContinuous-v0"), m);
    ck_assert_ptr_null(env_find("CartPole-v1"));
    ck_assert_ptr_null(env_find(""));
    ck_assert_ptr_null(env_find("reach"));
    int builtin = 0;
    while (env_at(builtin)) builtin++;
    ck_assert_int_eq(builtin, 2);
    ck_assert_ptr_nonnull(reach());
    ck_assert_ptr_eq(env_at(builtin), reach());
    ck_assert_ptr_eq(env_find("Reach-v0"), reach());
    ck_assert_int_eq(env_register(reach_spec()), -1); /* its names are taken */
    ck_assert_ptr_null(env_at(builtin + 1));
}
END_TEST

/* Every environment's spec says what its functions do, and its defaults are
 * options that parse. */
START_TEST(test_every_spec_is_consistent) {
    reach();
    for (int i = 0; env_at(i); i++) {
        const EnvSpec *e = env_at(i);
        ck_assert_msg(e->name && *e->name && e->id && *e->id && e->alias && *e->alias && e->about,
                      "env %d: a name is missing", i);
        for (int j = 0; j < i; j++)
            ck_assert_msg(strcmp(env_at(j)->alias, e->alias) && strcmp(env_at(j)->id, e->id) &&
                              strcmp(env_at(j)->name, e->name),
                          "%s: a name taken by %s", e->id, env_at(j)->id);
        ck_assert(e->obs_dim >= 1 && e->obs_dim <= 1024);
        ck_assert(e->act_dim >= 1 && e->act_dim <= ENV_MAX_ACT_DIM);
        for (int k = 0; k < e->act_dim; k++) ck_assert(e->act_low[k] < e->act_high[k]);
        ck_assert(e->max_steps >= e->min_episode_steps && e->min_episode_steps >= 1);
        ck_assert(e->fns.reset && e->fns.step && e->fns.observe && e->fns.state_bytes > 0);
        ck_assert(isfinite(e->solved_return));
        Config c;
        config_defaults(&c);
        snprintf(c.env, sizeof c.env, "%s", e->alias);
        Error why = {0};
        ck_assert_msg(config_env_defaults(&c, &why) == STATUS_OK,
                      "%s: its defaults do not parse: %s", e->id, why.msg);
    }
    ck_assert_ptr_null(env_find("pendulum")->defaults); /* the notebook's are the program's */
}
END_TEST

/* An environment's defaults apply under the command line and --config. */
START_TEST(test_env_defaults_under_the_command_line) {
    Config c;
    config_defaults(&c);
    char *argv[] = {"ddpg_cuda", "--env", "MountainCarContinuous-v0", NULL};
    int printed;
    ck_assert_int_eq(config_parse(&c, 3, argv, stdout, &printed, NULL), STATUS_OK);
    ck_assert_str_eq(c.env, "mountaincar"); /* stored by its alias */
    ck_assert_int_eq(config_env_defaults(&c, NULL), STATUS_OK);
    ck_assert_int_eq(c.noise, NOISE_OU);
    ck_assert_double_eq(c.noise_sigma, 0.5);
    config_defaults(&c);
    char *argv2[] = {"ddpg_cuda", "--noise-sigma", "0.25", "--env", "mountaincar", NULL};
    ck_assert_int_eq(config_parse(&c, 5, argv2, stdout, &printed, NULL), STATUS_OK);
    ck_assert_int_eq(config_env_defaults(&c, NULL), STATUS_OK);
    ck_assert_int_eq(c.noise, NOISE_OU);
    ck_assert_double_eq(c.noise_sigma, 0.25);
    config_defaults(&c);
    char *argv3[] = {"ddpg_cuda", "--env", "cartpole", NULL};
    Error e = {0};
    ck_assert_int_eq(config_parse(&c, 3, argv3, stdout, &printed, &e), STATUS_BAD_INPUT);
    ck_assert_msg(strstr(e.msg, "'cartpole' is not an environment") && strstr(e.msg, "mountaincar"),
                  "the message does not name the environments: %s", e.msg);
}
END_TEST

/* The shared step on every environment: random actions from random start
 * states, 7 envs, 1500 steps: every episode ends by termination or at the
 * time limit, never before min_episode_steps; each end is logged once, with
 * its length, its return and the step; a truncation is flagged only at the
 * limit; the env starts over (its clock at 0, its reset counter up). */
START_TEST(test_shared_step_on_every_env) {
    reach();
    Backend *be = backend_cpu_create(1);
    enum { N = 7, STEPS = 1500 };
    for (int k = 0; env_at(k); k++) {
        const EnvSpec *spec = env_at(k);
        int od = spec->obs_dim, ad = spec->act_dim;
        VecEnv e;
        ck_assert_int_eq(env_create(&e, be, spec, N, 3, env_log_capacity(spec, N, STEPS)), 0);
        float *obs = malloc(sizeof(float) * N * od), *next = malloc(sizeof(float) * N * od);
        float *real = malloc(sizeof(float) * N * od), *act = malloc(sizeof(float) * N * ad);
        float rew[N], term[N], trunc[N];
        double ret[N] = {0};
        int len[N] = {0}, terms = 0, truncs = 0, ends = 0;
        ck_assert(obs && next && real && act);
        be->env_reset(be, &e, obs);
        uint64_t draw = 0;
        for (int s = 0; s < STEPS; s++) {
            for (int i = 0; i < N * ad; i++) {
                Philox4 x = philox4x32(5, (uint32_t)k, 0, draw++);
                act[i] = spec->act_low[i % ad] +
                         (spec->act_high[i % ad] - spec->act_low[i % ad]) * rng_u01f(x.v[0]);
            }
            int64_t before = *e.log.count;
            be->env_step(be, &e, act, real, rew, term, trunc, next);
            for (int i = 0; i < N; i++) {
                len[i]++, ret[i] += rew[i];
                ck_assert(trunc[i] == (len[i] == spec->max_steps ? 1.0f : 0.0f));
                if (term[i] == 0.0f && trunc[i] == 0.0f) {
                    ck_assert_int_eq(e.t[i], len[i]);
                    ck_assert_mem_eq(next + i * od, real + i * od, sizeof(float) * od);
                    continue;
                }
                terms += term[i] != 0.0f, truncs += trunc[i] != 0.0f, ends++;
                ck_assert_msg(len[i] >= spec->min_episode_steps, "%s: an episode of %d steps",
                              spec->id, len[i]);
                int64_t r = before;
                while (r < *e.log.count && e.log.env[r % e.log.capacity] != i) r++;
                ck_assert_msg(r < *e.log.count, "%s: env %d's episode is not logged", spec->id, i);
                r %= e.log.capacity;
                ck_assert_int_eq(e.log.len[r], len[i]);
                ck_assert_int_eq(e.log.step[r], s);
                ck_assert_msg(fabs(e.log.ret[r] - ret[i]) <= 1e-3 * (1 + fabs(ret[i])),
                              "%s: return %g, rewards sum to %g", spec->id, e.log.ret[r], ret[i]);
                ck_assert_int_eq(e.t[i], 0);
                len[i] = 0, ret[i] = 0;
            }
            memcpy(obs, next, sizeof(float) * N * od);
        }
        printf("envs: %s, %d envs x %d random steps: %d terminations, %d truncations\n",
               spec->id, N, STEPS, terms, truncs);
        ck_assert_int_eq(*e.log.count, ends); /* terminated at the limit: one record */
        ck_assert_int_eq(*e.vstep, STEPS);
        if (strcmp(spec->id, "Pendulum-v1") == 0) ck_assert_int_eq(terms, 0);
        if (strcmp(spec->id, "Reach-v0") == 0) ck_assert(terms > 0);
        free(obs), free(next), free(real), free(act);
        env_destroy(&e, be);
    }
    be->destroy(be);
}
END_TEST

/* VecEnv.once (evaluations): each env plays one episode and then stands
 * still: one record each, its clock at -1, its observation kept. */
START_TEST(test_once_one_episode_per_env) {
    const EnvSpec *spec = reach();
    Backend *be = backend_cpu_create(1);
    enum { N = 5 };
    VecEnv e;
    ck_assert_int_eq(env_create(&e, be, spec, N, 11, N), 0);
    e.once = 1;
    float obs[N * 3], real[N * 3], act[N * 2], rew[N], term[N], trunc[N];
    be->env_reset(be, &e, obs);
    for (int s = 0; s < REACH_MAX_STEPS; s++) {
        for (int i = 0; i < N; i++) { /* straight at the origin for envs 0-2, away for 3-4 */
            float *o = obs + 3 * i, sgn = i < 3 ? -1.0f : 1.0f;
            act[2 * i] = sgn * o[0], act[2 * i + 1] = sgn * o[1];
        }
        be->env_step(be, &e, act, real, rew, term, trunc, obs);
    }
    ck_assert_int_eq(*e.log.count, N);
    int done_early = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(e.t[i], -1);
        done_early += e.log.len[i] < REACH_MAX_STEPS;
    }
    ck_assert_int_eq(done_early, 3);
    /* standing still: another step changes nothing and logs nothing */
    float before[N * 3];
    memcpy(before, obs, sizeof before);
    be->env_step(be, &e, act, real, rew, term, trunc, obs);
    ck_assert_mem_eq(obs, before, sizeof before);
    ck_assert_int_eq(*e.log.count, N);
    for (int i = 0; i < N; i++) ck_assert(rew[i] == 0.0f && term[i] == 0.0f);
    env_destroy(&e, be);
    be->destroy(be);
}
END_TEST

/* Trains Reach-v0 (an environment of the tests alone) in-process; returns
 * the trainer's replay term flags summed and the episodes that ended early. */
static void train_reach(int truncation_as_terminal, int64_t *terms_in_replay,
                        int64_t *early, int64_t *episodes, double *best_eval) {
    reach();
    Config c;
    config_defaults(&c);
    snprintf(c.env, sizeof c.env, "reach");
    ck_assert_int_eq(config_env_defaults(&c, NULL), STATUS_OK);
    snprintf(c.device, sizeof c.device, "cpu");
    c.total_steps = 3000;
    c.hidden[0] = c.hidden[1] = 32;
    c.batch_size = 32;
    c.eval_episodes = 4;
    c.truncation_as_terminal = truncation_as_terminal;
    c.quiet = 1;
    Backend *be = backend_cpu_create(1);
    Trainer tr;
    Error err = {STATUS_OK, ""};
    ck_assert_msg(trainer_create(&tr, &c, be, NULL, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_int_eq(tr.spec->act_dim, 2);
    RunSummary s;
    ck_assert_msg(trainer_run(&tr, &s, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_int_eq(tr.prog.replay_filled, 3000); /* the ring has not wrapped */
    *terms_in_replay = 0;
    for (int64_t i = 0; i < tr.prog.replay_filled; i++) *terms_in_replay += tr.replay.term[i] != 0;
    /* every episode, from the env's log (a ring that has not wrapped) */
    *early = 0;
    *episodes = *tr.env.log.count;
    ck_assert_int_le(*episodes, tr.env.log.capacity);
    for (int64_t i = 0; i < *episodes; i++) *early += tr.env.log.len[i] < REACH_MAX_STEPS;
    *best_eval = s.best_eval_return;
    trainer_destroy(&tr);
    be->destroy(be);
}

/* The replay stores terminated = 1 exactly at the transitions that reached
 * the goal (not at the time limit), so the TD target drops Q(s') there and
 * only there (y = r + gamma (1 - term) Q': test_mlp.c checks that
 * arithmetic); with --truncation-as-terminal at both. Reach-v0 is learnt. */
START_TEST(test_reach_trains_and_stores_terminations) {
    int64_t terms, early, episodes;
    double best;
    train_reach(0, &terms, &early, &episodes, &best);
    printf("envs: Reach-v0 3000 steps: %lld episodes, %lld reached the goal, best evaluation "
           "%.2f (solved: 5)\n", (long long)episodes, (long long)early, best);
    ck_assert(early > 0 && early < episodes);
    ck_assert_int_eq(terms, early);
    ck_assert_msg(best >= 5.0, "Reach-v0 not learnt in 3000 steps: best evaluation %.2f", best);
    train_reach(1, &terms, &early, &episodes, &best);
    ck_assert_int_eq(terms, episodes);
}
END_TEST

Suite *envs_suite(void) {
    Suite *s = suite_create("envs");
    TCase *tc = tcase_create("interface");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_registry);
    tcase_add_test(tc, test_every_spec_is_consistent);
    tcase_add_test(tc, test_env_defaults_under_the_command_line);
    tcase_add_test(tc, test_shared_step_on_every_env);
    tcase_add_test(tc, test_once_one_episode_per_env);
    tcase_add_test(tc, test_reach_trains_and_stores_terminations);
    suite_add_tcase(s, tc);
    return s;
}
