/* test_learning.c - end to end on the CPU: the agent learns Pendulum, and the
 * same seed on the same backend and build gives the same episodes. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/config.h"
#include "ddpg/train.h"
#include "helpers.h"
#include "suites.h"

START_TEST(test_learns_pendulum) {
    /* The notebook's agent, 6000 env steps on one env: the deterministic
     * evaluation goes from the untrained policy's return (about -1200 or
     * worse) to better than -400. */
    Config c;
    config_defaults(&c);
    snprintf(c.device, sizeof c.device, "cpu");
    c.total_steps = 6000;
    c.eval_every = 6000;
    c.quiet = 1;
    Backend *be = backend_cpu_create(0);
    Trainer tr;
    Error err = {STATUS_OK, ""};
    ck_assert_msg(trainer_create(&tr, &c, be, NULL, &err) == STATUS_OK, "%s", err.msg);
    float before[10], after[10];
    trainer_evaluate(&tr, before);
    RunSummary s;
    ck_assert_msg(trainer_run(&tr, &s, &err) == STATUS_OK, "%s", err.msg);
    trainer_evaluate(&tr, after);
    double mb = 0, ma = 0;
    for (int i = 0; i < c.eval_episodes; i++) mb += before[i] / c.eval_episodes;
    for (int i = 0; i < c.eval_episodes; i++) ma += after[i] / c.eval_episodes;
    printf("learning: eval return %.1f before, %.1f after %lld steps (%lld updates, %.1f s)\n",
           mb, ma, (long long)s.env_steps, (long long)s.updates, s.wall_s);
    ck_assert_msg(mb < -900.0, "untrained policy already good? %.1f", mb);
    ck_assert_msg(ma > -400.0, "did not learn: eval return %.1f after 6000 steps", ma);
    ck_assert_double_eq_tol(s.final_eval_return, ma, 1e-3);
    ck_assert_int_eq(s.env_steps, 6000);
    ck_assert_int_eq(s.updates, 6000 - 1000 + 1);
    trainer_destroy(&tr);
    be->destroy(be);
}
END_TEST

/* Trains a small configuration into dir; returns episodes.csv without wall_s. */
static char *run_small(const char *dir, uint64_t seed, int envs) {
    Config c;
    config_defaults(&c);
    snprintf(c.device, sizeof c.device, "cpu");
    snprintf(c.out, sizeof c.out, "%s", dir);
    c.seed = seed;
    c.envs = envs;
    c.total_steps = 2400;
    c.start_steps = 600;
    c.update_after = 300;
    c.batch_size = 32;
    c.hidden[0] = c.hidden[1] = 32;
    c.eval_every = 800;
    c.eval_episodes = 2;
    c.quiet = 1;
    Backend *be = backend_cpu_create(1);
    Trainer tr;
    RunLog log;
    Error err = {STATUS_OK, ""};
    ck_assert_msg(trainer_create(&tr, &c, be, NULL, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_int_eq(runlog_open(&log, dir, DDPG_METRIC_NAMES, tr.agent.n_metrics, NULL), 0);
    tr.log = &log;
    RunSummary s;
    ck_assert_msg(trainer_run(&tr, &s, &err) == STATUS_OK, "%s", err.msg);
    runlog_close(&log, NULL);
    trainer_destroy(&tr);
    be->destroy(be);

    /* without wall_s (column 5, the last), the only timing column */
    return csv_read_without(5, "%s/episodes.csv", dir);
}

START_TEST(test_same_seed_same_episodes) {
    char d1[64], d2[64], d3[64];
    tmpdir_create(d1, sizeof d1, "det");
    tmpdir_create(d2, sizeof d2, "det");
    tmpdir_create(d3, sizeof d3, "det");
    char *a = run_small(d1, 7, 2), *b = run_small(d2, 7, 2), *c = run_small(d3, 8, 2);
    /* 2400 env steps over 2 envs: 12 episodes and the header */
    int rows = 0;
    for (char *p = a; *p; p++) rows += *p == '\n';
    ck_assert_int_eq(rows, 13);
    ck_assert_msg(strcmp(a, b) == 0, "same seed, different episodes:\n%s\n---\n%s", a, b);
    ck_assert_msg(strcmp(a, c) != 0, "a different seed gave the same episodes");
    free(a), free(b), free(c);
    rm_rf(d1), rm_rf(d2), rm_rf(d3);
}
END_TEST

Suite *learning_suite(void) {
    Suite *s = suite_create("learning");
    TCase *tc = tcase_create("cpu");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_same_seed_same_episodes);
    tcase_add_test(tc, test_learns_pendulum);
    suite_add_tcase(s, tc);
    return s;
}
