/* test_config.c - refusals with their status and message, and the defaults
 * that scale with --envs (src/config/scale.c): the notebook's values at one
 * env, the scaled ones from the table, and everything the user sets
 * (command line, --config) winning over them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddpg/config.h"
#include "suites.h"

/* config_parse, then the scaled defaults, as main does; STATUS_OK when
 * accepted (else the message is printed). */
static Status parse(Config *c, int argc, char **argv) {
    Error e;
    error_clear(&e);
    int printed;
    config_defaults(c);
    Status s = config_parse(c, argc, argv, stdout, &printed, &e);
    if (s == STATUS_OK) {
        config_scale_defaults(c);
        s = config_env_defaults(c, &e);
    }
    if (s == STATUS_OK) s = config_validate(c, &e);
    error_print(&e, stderr);
    return s;
}

/* A refusal is STATUS_BAD_INPUT with the message the program prints. */
START_TEST(test_refusals_fill_the_error) {
    static const struct {
        char *argv[5];
        const char *msg;
    } want[] = {
        {{"ddpg_cuda", "--gamma", "2"}, "--gamma: 2 is out of range [0, 1]"},
        {{"ddpg_cuda", "--tau", "0"}, "--tau: 0 is out of range (0, 1]"},
        {{"ddpg_cuda", "--noise", "pink"}, "--noise: 'pink' is not one of gaussian|ou"},
        {{"ddpg_cuda", "--layer-norm=1"}, "--layer-norm takes no value"},
        {{"ddpg_cuda", "--hidden", "4,0"},
         "--hidden: '4,0' is not a comma-separated list of widths, each in [1, 65536]"},
        {{"ddpg_cuda", "--out", "--quiet"},
         "--out --quiet: a path that starts with -- (is the value of --out missing?)"},
        {{"ddpg_cuda", "--batch-size", "300", "--replay-size"},
         "--replay-size needs a value (see --help)"},
        {{"ddpg_cuda", "--stop-when-solved", "--eval-every", "0"},
         "--stop-when-solved needs evaluations: --eval-every 0 turns them off"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int argc = 0;
        while (argc < 5 && want[i].argv[argc]) argc++;
        Config c;
        Error e = {0};
        int printed;
        config_defaults(&c);
        Status s = config_parse(&c, argc, (char **)want[i].argv, stdout, &printed, &e);
        if (s == STATUS_OK) s = config_validate(&c, &e);
        ck_assert_int_eq(s, STATUS_BAD_INPUT);
        ck_assert_int_eq(e.status, STATUS_BAD_INPUT);
        ck_assert_str_eq(e.msg, want[i].msg);
    }
    Config saved, cli, merged;
    config_defaults(&saved);
    char *argv[] = {"ddpg_cuda", "--seed", "7", "--total-steps", "99", NULL};
    int printed;
    config_defaults(&cli);
    ck_assert_int_eq(config_parse(&cli, 5, argv, stdout, &printed, NULL), STATUS_OK);
    Error e = {0};
    ck_assert_int_eq(config_merge_resume(&saved, &cli, &merged, &e), STATUS_BAD_INPUT);
    ck_assert_str_eq(e.msg, "--seed 7 contradicts the checkpoint's --seed 42 (a resumed run "
                            "keeps its configuration)");
}
END_TEST

/* --envs 1 (said or not) keeps every default of the notebook, bit for bit. */
START_TEST(test_one_env_is_the_notebook) {
    Config d, c;
    config_defaults(&d);
    char *argv[] = {"ddpg_cuda", NULL};
    ck_assert_int_eq(parse(&c, 1, argv), 0);
    ck_assert_int_eq(memcmp(&c, &d, sizeof c), 0);
    char *argv1[] = {"ddpg_cuda", "--envs", "1", NULL};
    ck_assert_int_eq(parse(&c, 3, argv1), 0);
    c.set = 0;
    ck_assert_int_eq(memcmp(&c, &d, sizeof c), 0);
    Config s;
    config_scaled_values(1, &s);
    ck_assert_int_eq(memcmp(&s, &d, sizeof s), 0);
}
END_TEST

/* The values chosen from the solve study at 16, 256 and 4096 envs. */
START_TEST(test_scaled_values) {
    static const struct {
        int envs, batch, ups;
        double tau, lr;
        long long replay, start, after, eval_every;
        int episodes;
    } want[] = {
        {16, 512, 1, 0.05, 5e-3, 200000, 2000, 1000, 1000, 16},
        {256, 512, 4, 0.05, 5e-3, 200000, 2048, 1024, 3200, 100},
        {4096, 512, 64, 0.05, 5e-3, 1024000, 32768, 16384, 3200, 100},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char envs[16];
        snprintf(envs, sizeof envs, "%d", want[i].envs);
        char *argv[] = {"ddpg_cuda", "--envs", envs, NULL};
        Config c;
        ck_assert_int_eq(parse(&c, 3, argv), 0);
        ck_assert_int_eq(c.batch_size, want[i].batch);
        ck_assert_int_eq(c.updates_per_step, want[i].ups);
        ck_assert_double_eq(c.tau, want[i].tau);
        ck_assert_double_eq(c.actor_lr, want[i].lr);
        ck_assert_double_eq(c.critic_lr, want[i].lr);
        ck_assert_int_eq(c.replay_size, want[i].replay);
        ck_assert_int_eq(c.start_steps, want[i].start);
        ck_assert_int_eq(c.update_after, want[i].after);
        ck_assert_int_eq(c.eval_every, want[i].eval_every);
        ck_assert_int_eq(c.eval_episodes, want[i].episodes);
        /* what is not scaled stays the notebook's */
        ck_assert_double_eq(c.gamma, 0.99);
        ck_assert_double_eq(c.noise_sigma, 0.1);
        ck_assert_int_eq(c.hidden[0], 256);
    }
}
END_TEST

/* At any --envs the scaled defaults make a run that config_validate accepts,
 * with no fewer transitions per vectorized step kept than before, and the
 * random and warm-up phases lasting whole vectorized steps as at one env. */
START_TEST(test_scaled_values_are_sane_everywhere) {
    Config prev;
    config_scaled_values(1, &prev);
    for (int envs = 1; envs <= 16777216; envs = envs < 300 ? envs + 1 : envs * 3 / 2) {
        Config s;
        config_scaled_values(envs, &s);
        ck_assert_msg(config_validate(&s, NULL) == STATUS_OK, "--envs %d", envs);
        ck_assert_msg(s.batch_size >= prev.batch_size && s.replay_size >= prev.replay_size &&
                          s.tau >= prev.tau && s.updates_per_step >= prev.updates_per_step,
                      "--envs %d scales a default down", envs);
        ck_assert_msg(s.replay_size >= (250LL * envs < 1000000000 ? 250LL * envs : 1000000000),
                      "--envs %d: replay", envs);
        ck_assert_msg(s.start_steps >= 2000 && s.update_after >= 1000 && s.eval_every >= 1000,
                      "--envs %d: below the notebook", envs);
        ck_assert_msg(s.eval_episodes >= 10 && s.eval_episodes <= 100, "--envs %d", envs);
        ck_assert_msg(s.updates_per_step == (envs <= 64 ? 1 : envs <= 640000 ? (envs + 63) / 64
                                                                          : 10000),
                      "--envs %d: updates per step", envs);
        /* a configuration the command line could give: a checkpoint saves it as
         * words and reads them back (the fuzzer found 840328 envs outside) */
        char text[1 << 14];
        Config back;
        ck_assert_int_ge(config_to_text(&s, text, sizeof text), 0);
        ck_assert_msg(config_from_text(&back, text, NULL) == STATUS_OK, "--envs %d", envs);
        ck_assert_int_eq(back.updates_per_step, s.updates_per_step);
        ck_assert_int_eq(back.replay_size, s.replay_size);
        prev = s;
    }
}
END_TEST

/* What the command line or --config sets is kept; the rest is scaled. */
START_TEST(test_user_settings_win) {
    char *argv[] = {"ddpg_cuda", "--envs", "256", "--batch-size", "64", "--tau", "0.005",
                    "--eval-episodes", "10", NULL};
    Config c;
    ck_assert_int_eq(parse(&c, 9, argv), 0);
    ck_assert_int_eq(c.batch_size, 64);
    ck_assert_double_eq(c.tau, 0.005);
    ck_assert_int_eq(c.eval_episodes, 10);
    ck_assert_double_eq(c.actor_lr, 5e-3); /* not set: scaled */
    ck_assert_int_eq(c.updates_per_step, 4);
    ck_assert_int_eq(c.eval_every, 3200);
    /* the evaluation's cadence (about 50 updates) follows a chosen --updates-per-step */
    char *argv1[] = {"ddpg_cuda", "--envs", "256", "--updates-per-step", "16", NULL};
    ck_assert_int_eq(parse(&c, 5, argv1), 0);
    ck_assert_int_eq(c.eval_every, 1000);
    char *argv3[] = {"ddpg_cuda", "--envs", "256", "--updates-per-step", "1", NULL};
    ck_assert_int_eq(parse(&c, 5, argv3), 0);
    ck_assert_int_eq(c.eval_every, 12800);

    char path[] = "/tmp/ddpg_config_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "envs = 4096\ncritic-lr = 0.0005\nreplay-size = 300\n");
    fclose(f);
    char *argv2[] = {"ddpg_cuda", "--config", path, "--actor-lr", "0.002", NULL};
    ck_assert_int_eq(parse(&c, 5, argv2), 0);
    unlink(path);
    ck_assert_int_eq(c.envs, 4096);
    ck_assert_double_eq(c.critic_lr, 5e-4);
    ck_assert_double_eq(c.actor_lr, 2e-3);
    ck_assert_int_eq(c.updates_per_step, 64);
    /* a replay made smaller than the scaled batch: the batch follows it, so
     * that the run is not refused for an option the user never set */
    ck_assert_int_eq(c.replay_size, 300);
    ck_assert_int_eq(c.batch_size, 300);
}
END_TEST

/* An environment's own defaults win over the scaled ones; the command line
 * over both. */
START_TEST(test_env_defaults_win_over_scaled) {
    char *argv[] = {"ddpg_cuda", "--env", "mountaincar", "--envs", "256", NULL};
    Config c;
    ck_assert_int_eq(parse(&c, 5, argv), 0);
    ck_assert_double_eq(c.actor_lr, 1e-3); /* MountainCar's */
    ck_assert_double_eq(c.critic_lr, 1e-3);
    ck_assert_int_eq(c.noise, NOISE_OU);
    ck_assert_int_eq(c.batch_size, 512); /* scaled */
    ck_assert_int_eq(c.updates_per_step, 4);
    /* episodes of 999 steps: an evaluation every 250 updates, not 50 */
    ck_assert_int_eq(c.eval_every, 250 * 256 / 4);
    char *argv1[] = {"ddpg_cuda", "--env", "mountaincar", NULL};
    ck_assert_int_eq(parse(&c, 3, argv1), 0);
    ck_assert_int_eq(c.eval_every, 1000); /* one env: the notebook's */
    char *argv2[] = {"ddpg_cuda", "--env", "mountaincar", "--envs", "256", "--critic-lr",
                     "0.004", NULL};
    ck_assert_int_eq(parse(&c, 7, argv2), 0);
    ck_assert_double_eq(c.critic_lr, 4e-3);
    ck_assert_double_eq(c.actor_lr, 1e-3);
}
END_TEST

Suite *config_suite(void) {
    Suite *s = suite_create("config");
    TCase *refusals = tcase_create("refusals");
    tcase_add_test(refusals, test_refusals_fill_the_error);
    suite_add_tcase(s, refusals);
    TCase *tc = tcase_create("scaled_defaults");
    tcase_add_test(tc, test_one_env_is_the_notebook);
    tcase_add_test(tc, test_scaled_values);
    tcase_add_test(tc, test_scaled_values_are_sane_everywhere);
    tcase_add_test(tc, test_user_settings_win);
    tcase_add_test(tc, test_env_defaults_win_over_scaled);
    suite_add_tcase(s, tc);
    return s;
}
