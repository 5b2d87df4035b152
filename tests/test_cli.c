/* test_cli.c - the command line: every refusal exits 2 with a message naming
 * the option, before any work (no run directory); good input runs. */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddpg/backend.h"
#include "ddpg/config.h"
#include "helpers.h"
#include "suites.h"

/* Each refusal: args, a word the message must contain. */
static const struct {
    const char *args, *needle;
} REFUSALS[] = {
    {"--envs 0", "--envs"},
    {"--envs -4", "--envs"},
    {"--envs abc", "--envs"},
    {"--envs 2.5", "--envs"},
    {"--batch-size -1", "--batch-size"},
    {"--batch-size 0", "--batch-size"},
    {"--replay-size -100", "--replay-size"},
    {"--total-steps 0", "--total-steps"},
    {"--start-steps -1", "--start-steps"},
    {"--update-after -5", "--update-after"},
    {"--updates-per-step 0", "--updates-per-step"},
    {"--tau 0", "--tau"},
    {"--tau 1.5", "--tau"},
    {"--tau -0.1", "--tau"},
    {"--gamma 1.01", "--gamma"},
    {"--gamma -0.5", "--gamma"},
    {"--gamma nan", "--gamma"},
    {"--actor-lr 0", "--actor-lr"},
    {"--critic-lr x1", "--critic-lr"},
    {"--noise-sigma -0.1", "--noise-sigma"},
    {"--noise pink", "--noise"},
    {"--grad-clip -1", "--grad-clip"},
    {"--probe-every 0", "--probe-every"},
    {"--eval-episodes 0", "--eval-episodes"},
    {"--eval-every -1", "--eval-every"},
    {"--seed -3", "--seed"},
    {"--hidden 0", "--hidden"},
    {"--hidden 256,0", "--hidden"},
    {"--hidden abc", "--hidden"},
    {"--hidden 256,", "--hidden"},
    {"--hidden 1,2,3,4,5,6,7,8,9", "--hidden"},
    {"--device tpu", "--device"},
    {"--env CartPole-v1", "--env: 'CartPole-v1' is not an environment (pendulum or Pendulum-v1, "
                          "mountaincar or MountainCarContinuous-v0)"},
    {"--env --envs 4", "--env: '--envs' is not an environment"},
    {"--bogus 3", "--bogus"},
    {"--envs", "--envs"},
    {"stray", "stray"},
    {"--quiet=1", "--quiet"},
    {"--batch-size 512 --replay-size 100", "--batch-size is larger than --replay-size"},
    {"--stop-when-solved --eval-every 0", "--stop-when-solved needs evaluations"},
    {"--out --envs 4", "--out --envs: a path that starts with --"},
    {"--no-out", "--no-out"},
    {"--overwrite --resume x", "--overwrite and --resume"},
    {"--config /nonexistent/file", "--config /nonexistent/file"},
    {"--actor-lr 1001", "--actor-lr"},
    {"--algo sac", "--algo: 'sac' is not one of ddpg|td3"},
    {"--policy-delay 0", "--policy-delay"},
    {"--target-noise-clip 0", "--target-noise-clip"},
    {"--target-noise -0.1", "--target-noise"},
    {"--layer-norm=1", "--layer-norm takes no value"},
};

START_TEST(test_refusal) {
    char out[4096], dir[64];
    tmpdir_create(dir, sizeof dir, "cli");
    char run_dir[600];
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    /* --out goes first so that the refusal must come before it is created */
    int rc = run_program(out, sizeof out, "--out %s %s", run_dir, REFUSALS[_i].args);
    ck_assert_msg(rc == 2, "'%s' exited %d, want 2; output: %s", REFUSALS[_i].args, rc, out);
    ck_assert_msg(strstr(out, REFUSALS[_i].needle) != NULL,
                  "'%s': message does not name '%s': %s", REFUSALS[_i].args,
                  REFUSALS[_i].needle, out);
    ck_assert_msg(strstr(out, "error") != NULL, "no 'error' in: %s", out);
    ck_assert_msg(!path_exists("%s", run_dir), "'%s' left a run directory behind",
                  REFUSALS[_i].args);
    rmdir(dir);
}
END_TEST

START_TEST(test_out_uncreatable) {
    char out[4096], dir[64];
    /* a path below a regular file cannot be a directory */
    tmpdir_create(dir, sizeof dir, "cli");
    char file[600];
    snprintf(file, sizeof file, "%s/afile", dir);
    file_write("", "%s", file);
    int rc = run_program(out, sizeof out, "--device cpu --total-steps 10 --out %s/sub/run", file);
    ck_assert_msg(rc == 2, "exit %d, want 2: %s", rc, out);
    ck_assert_msg(strstr(out, "--out") != NULL, "message does not name --out: %s", out);
    rm_rf(dir);
}
END_TEST

START_TEST(test_out_partial_levels_removed) {
    /* --out a/b/FILE/c: 'a' and 'b' get created, then FILE blocks; both are
     * removed again so nothing is left behind. */
    char out[4096], path[700], dir[64];
    tmpdir_create(dir, sizeof dir, "cli");
    snprintf(path, sizeof path, "%s/blocker", dir);
    file_write("", "%s", path);
    int rc = run_program(out, sizeof out, "--device cpu --total-steps 10 --out %s/blocker/x/y",
                         dir);
    ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
    unlink(path);
    ck_assert_msg(rmdir(dir) == 0, "temporary dir not empty after a refused --out");
}
END_TEST

/* Memory that cannot be had is bad input too: exit 2 before any run
 * directory, with a message naming the option that asked for it and what
 * it needs (under a 1.5 GB address-space limit, so that it fails here). */
static const struct {
    const char *args, *needle;
} TOO_BIG[] = {
    {"--replay-size 100000000", "--replay-size 100000000 needs"},
    {"--hidden 8192,8192 --batch-size 4096", "--hidden 8192,8192 with --batch-size 4096 needs"},
    {"--envs 16000000 --eval-every 0 --probe-n 0", "--envs 16000000 needs"},
};

START_TEST(test_out_of_memory_names_option) {
#ifdef __SANITIZE_ADDRESS__
    printf("SKIP cli/out_of_memory: an address-space limit and AddressSanitizer do not mix\n");
    return;
#endif
    char out[4096], dir[64];
    tmpdir_create(dir, sizeof dir, "cli");
    int rc = run_sh(NULL, out, sizeof out,
                    "ulimit -v 1500000; %s --device cpu --quiet --out %s/run %s", test_bin(), dir,
                    TOO_BIG[_i].args);
    ck_assert_msg(rc == 2, "'%s' exited %d, want 2: %s", TOO_BIG[_i].args, rc, out);
    ck_assert_msg(strstr(out, TOO_BIG[_i].needle) && strstr(out, "MiB"),
                  "'%s': the message does not say '%s ... MiB': %s", TOO_BIG[_i].args,
                  TOO_BIG[_i].needle, out);
    ck_assert_msg(rmdir(dir) == 0, "'%s' left a run directory behind", TOO_BIG[_i].args);
}
END_TEST

START_TEST(test_device_cuda_without_gpu) {
    /* --device cuda: a clear refusal where there is no GPU, a run where there is */
    char out[4096], why[256] = "";
    Backend *be = backend_cuda_create(why, sizeof why);
    int have_gpu = be != NULL;
    if (be) be->destroy(be);
    int rc = run_program(out, sizeof out, "--device cuda --total-steps 200 --eval-every 0 --quiet");
    if (have_gpu) {
        ck_assert_msg(rc == 0, "GPU present but --device cuda exited %d: %s", rc, out);
    } else {
        ck_assert_msg(rc == 2, "no GPU but --device cuda exited %d: %s", rc, out);
        ck_assert_msg(strstr(out, "--device cuda") != NULL, "message lacks the option: %s", out);
    }
}
END_TEST

START_TEST(test_help_lists_every_option) {
    char out[16384];
    int rc = run_program(out, sizeof out, "--help");
    ck_assert_int_eq(rc, 0);
    const char *opts[] = {"--env ", "--envs", "--device", "--seed", "--total-steps",
                          "--batch-size", "--replay-size", "--gamma", "--tau", "--actor-lr",
                          "--critic-lr", "--start-steps", "--update-after",
                          "--updates-per-step", "--noise-sigma", "--hidden", "--grad-clip",
                          "--probe-n", "--probe-every", "--eval-every", "--eval-episodes",
                          "--out", "--help", "--version", "--algo ddpg|td3", "--layer-norm",
                          "--target-noise R", "--target-noise-clip R", "--policy-delay N"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        ck_assert_msg(strstr(out, opts[i]) != NULL, "--help does not list %s", opts[i]);
    /* every numeric option says what it accepts, and reals are called so */
    const char *numeric[] = {"--envs N", "--seed N", "--total-steps N", "--batch-size N",
                             "--gamma R", "--tau R", "--actor-lr R", "--noise-sigma R",
                             "--hidden W,W,...", "--eval-every N", "--threads N",
                             "--save-every N"};
    for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++) {
        const char *at = strstr(out, numeric[i]);
        ck_assert_msg(at != NULL, "--help does not show %s", numeric[i]);
        const char *end = strstr(at, "]\n  --");
        ck_assert_msg(end != NULL, "--help: no default for %s", numeric[i]);
        char text[512]; /* the entry with its wrapped lines joined */
        size_t k = 0;
        for (const char *c = at; c < end && k + 1 < sizeof text; c++)
            if (!(isspace((unsigned char)*c) && k > 0 && text[k - 1] == ' '))
                text[k++] = isspace((unsigned char)*c) ? ' ' : *c;
        text[k] = 0;
        ck_assert_msg(strstr(text, "in [") || strstr(text, "in ("),
                      "--help gives no range for %s: %s", numeric[i], text);
    }
    ck_assert_msg(strstr(out, "a real in (0, 1]"), "--tau is not called a real");
    /* every environment, with its own defaults */
    ck_assert_msg(strstr(out, "pendulum, Pendulum-v1") &&
                      strstr(out, "mountaincar, MountainCarContinuous-v0"),
                  "--help does not list the environments");
    char flat[16384]; /* wrapped lines joined */
    size_t k = 0;
    for (const char *c = out; *c && k + 1 < sizeof flat; c++)
        if (!(isspace((unsigned char)*c) && k > 0 && flat[k - 1] == ' '))
            flat[k++] = isspace((unsigned char)*c) ? ' ' : *c;
    flat[k] = 0;
    ck_assert_msg(strstr(flat, "999 steps; defaults: --noise ou, --noise-sigma 0.5"),
                  "--help does not give MountainCar's defaults");
    /* defaults equal the notebook's values */
    const char *defaults[] = {"[128]", "[200000]", "[0.99]", "[0.005]", "[0.001]", "[2000]",
                              "[1000]", "[0.1]", "[256,256]", "[32]", "[5]", "[42]"};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        ck_assert_msg(strstr(out, defaults[i]) != NULL, "--help lacks default %s", defaults[i]);
}
END_TEST

START_TEST(test_version) {
    char out[1024];
    ck_assert_int_eq(run_program(out, sizeof out, "--version"), 0);
    ck_assert_msg(strstr(out, DDPG_VERSION) != NULL, "version missing: %s", out);
}
END_TEST

static int file_starts_with(const char *path, const char *prefix) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[512] = "";
    char *ok = fgets(line, sizeof line, f);
    fclose(f);
    return ok && strncmp(line, prefix, strlen(prefix)) == 0;
}

/* A run of args into DIR/run, DIR a new temporary directory (its path in
 * dir): it exits 0, and each {file, text} of want is a file of DIR/run that
 * holds the text. */
static void expect_run_writes(char *dir, size_t len, const char *args,
                              const char *const (*want)[2], size_t n) {
    char out[8192];
    tmpdir_create(dir, len, "cli");
    int rc = run_program(out, sizeof out, "%s --out %s/run", args, dir);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    for (size_t i = 0; i < n; i++) {
        char *text = file_read("%s/run/%s", dir, want[i][0]);
        ck_assert_msg(strstr(text, want[i][1]), "%s lacks %s", want[i][0], want[i][1]);
        free(text);
    }
}

/* TD3 with LayerNorm through the program: the second critic's Q mean in
 * updates.csv, the critic's view of the evaluations in eval.csv, the
 * algorithm and its options in config.json and the checkpoint. */
START_TEST(test_td3_layer_norm_run) {
    char out[8192], dir[64];
    const char *const want[][2] = {
        {"updates.csv",
         "update,critic_loss,actor_loss,q_mean,y_mean,critic_grad_norm,actor_grad_norm,q2_mean"},
        {"eval.csv", "mean_return,std_return,min_return,max_return,q_start,discounted_return"},
        {"config.json", "\"algo\": \"td3\""},
        {"config.json", "\"layer_norm\": true"},
        {"config.json", "\"policy_delay\": 3"},
        {"config.json", "\"target_noise\": 0.1"}};
    expect_run_writes(dir, sizeof dir,
                      "--device cpu --algo td3 --layer-norm --policy-delay 3 --target-noise 0.1 "
                      "--total-steps 900 --start-steps 300 --update-after 300 --batch-size 16 "
                      "--hidden 16 --eval-every 300 --eval-episodes 2 --quiet",
                      want, sizeof want / sizeof want[0]);
    ck_assert_int_eq(run_program(out, sizeof out, "--resume %s/run --algo ddpg", dir), 2);
    ck_assert_msg(strstr(out, "--algo ddpg contradicts the checkpoint's --algo td3"), "%s", out);
    rm_rf(dir);
}
END_TEST

/* --env by its Gymnasium id: stored by its alias, its defaults applied, its
 * id and threshold in config.json and summary.json; terminations logged. */
START_TEST(test_mountaincar_run) {
    char dir[64];
    const char *const want[][2] = {{"config.json", "\"env\": \"mountaincar\""},
                             {"config.json", "\"env_id\": \"MountainCarContinuous-v0\""},
                             {"config.json", "\"solved_return\": 90.0"},
                             {"config.json", "\"noise\": \"ou\""},
                             {"config.json", "\"noise_sigma\": 0.5"},
                             {"summary.json", "\"env_id\": \"MountainCarContinuous-v0\""},
                             {"summary.json", "\"solved_return\": 90.0"},
                             {"episodes.csv", "episode,env,return,length,global_step,wall_s"}};
    expect_run_writes(dir, sizeof dir,
                      "--device cpu --env MountainCarContinuous-v0 --total-steps 1200 "
                      "--start-steps 300 --update-after 300 --batch-size 16 --hidden 16 "
                      "--eval-every 600 --eval-episodes 2 --quiet",
                      want, sizeof want / sizeof want[0]);
    rm_rf(dir);
}
END_TEST

START_TEST(test_good_run_writes_run_directory) {
    char out[8192], path[900], dir[64];
    tmpdir_create(dir, sizeof dir, "cli");
    int rc = run_program(out, sizeof out,
                         "--device cpu --envs 2 --total-steps 1200 --start-steps 400 "
                         "--update-after 400 --batch-size 32 --hidden 32,32 --eval-every 400 "
                         "--eval-episodes 3 --probe-n 4 --probe-every 1 --quiet --out=%s/run",
                         dir);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    struct {
        const char *file, *header;
        int min_lines;
    } files[] = {{"episodes.csv", "episode,env,return,length,global_step,wall_s", 7},
                 {"updates.csv", "update,critic_loss,actor_loss,q_mean,y_mean", 2},
                 {"probes.csv", "episode,probe,action,q", 5},
                 {"eval.csv", "global_step,wall_s,mean_return,std_return,min_return", 4},
                 {"progress.csv", "global_step,wall_s,episodes", 2},
                 {"config.json", "{", 5},
                 {"summary.json", "{", 10}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/run/%s", dir, files[i].file);
        ck_assert_msg(file_starts_with(path, files[i].header), "%s: bad or missing header",
                      files[i].file);
        ck_assert_msg(file_lines("%s", path) >= files[i].min_lines, "%s: only %d lines",
                      files[i].file, file_lines("%s", path));
    }
    /* 2 envs x 1200 steps = 6 episodes of 200 steps, + the header */
    ck_assert_int_eq(file_lines("%s/run/episodes.csv", dir), 1 + 6);
    /* 3 evaluations (0, 400, 800) + the final one at 1200 */
    ck_assert_int_eq(file_lines("%s/run/eval.csv", dir), 1 + 4);
    char *js = file_read("%s/run/summary.json", dir);
    const char *keys[] = {"\"device\"", "\"envs\": 2", "\"env_steps\": 1200", "\"updates\": 401",
                          "\"wall_s\"", "\"env_steps_per_s\"", "\"updates_per_s\"",
                          "\"final_eval_return\"", "\"best_eval_return\"", "\"solved_step\"",
                          "\"solved_wall_s\""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(strstr(js, keys[i]) != NULL, "summary.json lacks %s:\n%s", keys[i], js);
    free(js);
    rm_rf(dir);
}
END_TEST

Suite *cli_suite(void) {
    Suite *s = suite_create("cli");
    TCase *bad = tcase_create("refusals");
    tcase_set_timeout(bad, 60);
    tcase_add_loop_test(bad, test_refusal, 0, (int)(sizeof REFUSALS / sizeof REFUSALS[0]));
    tcase_add_test(bad, test_out_uncreatable);
    tcase_add_test(bad, test_out_partial_levels_removed);
    tcase_add_test(bad, test_device_cuda_without_gpu);
    tcase_add_loop_test(bad, test_out_of_memory_names_option, 0,
                        (int)(sizeof TOO_BIG / sizeof TOO_BIG[0]));
    suite_add_tcase(s, bad);
    TCase *good = tcase_create("good");
    tcase_set_timeout(good, 120);
    tcase_add_test(good, test_help_lists_every_option);
    tcase_add_test(good, test_version);
    tcase_add_test(good, test_good_run_writes_run_directory);
    tcase_add_test(good, test_mountaincar_run);
    tcase_add_test(good, test_td3_layer_norm_run);
    suite_add_tcase(s, good);
    return s;
}
