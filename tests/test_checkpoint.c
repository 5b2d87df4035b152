/* test_checkpoint.c - checkpoints, through the program a user runs: an exact
 * resume, a resume that contradicts the checkpoint, --eval-only, every kind
 * of bad file (exit 2, a message, nothing half-loaded), the divergence guard
 * (exit 3, the last good checkpoint kept), signals (143, 130), the embedded
 * policy (policy.h) against the trainer's actor, and the fuzz regressions. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ddpg/checkpoint.h"
#include "ddpg/ckpt_file.h"
#include "ddpg/policy.h"
#include "helpers.h"
#include "suites.h"

/* A small, quick run: 32 x 32 networks, updates from step 400, windows of one
 * update in updates.csv (so that every row is one update). */
#define SMALL "--device cpu --quiet --hidden 32,32 --batch-size 32 --start-steps 400 " \
              "--update-after 400 --eval-every 400 --eval-episodes 3 --probe-n 4 "

/* a_dir/file and b_dir/file alike but for column skip (-1: none): wall_s is
 * the one column a resumed run may write differently. */
static void expect_same_csv(const char *a_dir, const char *b_dir, const char *file, int skip) {
    char *x = csv_read_without(skip, "%s/%s", a_dir, file);
    char *y = csv_read_without(skip, "%s/%s", b_dir, file);
    ck_assert_msg(strlen(x) > 40, "%s/%s is nearly empty", a_dir, file);
    ck_assert_msg(strcmp(x, y) == 0, "%s differs between the run and the resumed run", file);
    free(x), free(y);
}

/* A short run (SMALL, extra, total_steps) into DIR/run, DIR a new temporary
 * directory (its path in dir). */
static void small_run(const char *extra, int total_steps, char *dir, size_t len) {
    tmpdir_create(dir, len, "ckpt");
    ck_assert_int_eq(run_program(NULL, 0, SMALL "%s --total-steps %d --out %s/run", extra,
                                 total_steps, dir), 0);
}

/* 2400 steps in one run; and 1300 steps (not on the evaluation grid: its
 * last evaluation and probes come after the checkpoint) resumed to 2400: the
 * same episodes, evaluations, updates and probes. On every environment
 * (MountainCar's checkpoint falls mid-episode, with OU noise), and for TD3
 * with LayerNorm (the second critic, the delay's clock, the smoothing noise's
 * counter and the LayerNorm parameters are in the checkpoint). */
static const char *const RESUME_RUNS[] = {"--env pendulum", "--env mountaincar",
                                          "--algo td3 --layer-norm"};

START_TEST(test_resume_is_exact) {
    char dir[64];
    const char *env = RESUME_RUNS[_i];
    tmpdir_create(dir, sizeof dir, "ckpt");
    ck_assert_int_eq(run_program(NULL, 0, SMALL "%s --save-replay --total-steps 2400 --out "
                                 "%s/whole", env, dir), 0);
    ck_assert_int_eq(run_program(NULL, 0, SMALL "%s --save-replay --total-steps 1300 --out "
                                 "%s/parts", env, dir), 0);
    char out[4096];
    ck_assert_msg(run_program(out, sizeof out, "--resume %s/parts --total-steps 2400 --quiet",
                              dir) == 0, "resume failed: %s", out);
    char whole[128], parts[128];
    snprintf(whole, sizeof whole, "%s/whole", dir);
    snprintf(parts, sizeof parts, "%s/parts", dir);
    expect_same_csv(whole, parts, "episodes.csv", 5);
    expect_same_csv(whole, parts, "eval.csv", 1);
    expect_same_csv(whole, parts, "updates.csv", -1);
    expect_same_csv(whole, parts, "probes.csv", -1);
    rm_rf(dir);
}
END_TEST

/* Without the replay a resume goes on (the ring fills again): the logs
 * continue where they were, with no row twice. */
START_TEST(test_resume_without_replay_continues) {
    char dir[64], path[1200];
    small_run("", 1000, dir, sizeof dir);
    ck_assert_int_eq(run_program(NULL, 0, "--resume %s/run --total-steps 2000 --quiet", dir), 0);
    snprintf(path, sizeof path, "%s/run/episodes.csv", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    long prev_episode = 0, prev_step = 0, rows = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f)) {
        long episode, env, len, step;
        double ret;
        ck_assert_int_eq(sscanf(line, "%ld,%ld,%lf,%ld,%ld", &episode, &env, &ret, &len, &step), 5);
        ck_assert_msg(episode == prev_episode + 1 && step > prev_step, "row out of order: %s", line);
        prev_episode = episode, prev_step = step, rows++;
    }
    fclose(f);
    ck_assert_int_eq(rows, 10); /* 2000 steps of 200-step episodes */
    char *js = file_read("%s/run/summary.json", dir);
    /* 601 updates before (steps 400-1000); after, the emptied ring holds a
     * batch of 32 again at step 1032: 969 more */
    ck_assert_msg(strstr(js, "\"env_steps\": 2000") && strstr(js, "\"checkpoint_step\": 2000") &&
                  strstr(js, "\"updates\": 1570"), "summary: %s", js);
    free(js);
    rm_rf(dir);
}
END_TEST

/* A resumed run keeps its configuration: another value names both. */
START_TEST(test_resume_refuses_contradictions) {
    char dir[64], out[4096];
    small_run("", 800, dir, sizeof dir);
    ck_assert_int_eq(run_program(out, sizeof out, "--resume %s/run --hidden 64,64", dir), 2);
    ck_assert_msg(strstr(out, "--hidden 64,64") && strstr(out, "--hidden 32,32"),
                  "the message does not name both values: %s", out);
    ck_assert_int_eq(run_program(out, sizeof out, "--resume %s/run --total-steps 400", dir), 2);
    ck_assert_msg(strstr(out, "--total-steps") && strstr(out, "800"), "message: %s", out);
    ck_assert_int_eq(run_program(out, sizeof out, "--resume %s/nothing", dir), 2);
    ck_assert_msg(strstr(out, "checkpoint.bin"), "message: %s", out);
    rm_rf(dir);
}
END_TEST

/* A checkpoint of a short run, shared by the bad-file cases (in dir). */
static void small_checkpoint_of(const char *extra, char *dir, size_t len, char *path,
                                size_t plen) {
    small_run(extra, 800, dir, len);
    snprintf(path, plen, "%s/run/checkpoint.bin", dir);
}

static void small_checkpoint(char *dir, size_t len, char *path, size_t plen) {
    small_checkpoint_of("", dir, len, path, plen);
}

/* DDPG, and TD3 with LayerNorm (an actor with normalised layers, a second critic). */
static const char *const POLICY_RUNS[] = {"", "--algo td3 --layer-norm"};

/* --eval-only: one JSON line; its mean is the run's last evaluation (same
 * actor, same start states for the same seed). */
START_TEST(test_eval_only) {
    char dir[64], path[200], out[4096];
    small_checkpoint_of(POLICY_RUNS[_i], dir, sizeof dir, path, sizeof path);
    ck_assert_int_eq(run_program(out, sizeof out, "--eval-only %s --device cpu --eval-episodes 3",
                                 path), 0);
    double mean, std, lo, hi;
    int episodes;
    const char *js = strstr(out, "\"mean\"");
    ck_assert_msg(js && sscanf(js, "\"mean\": %lf, \"std\": %lf, \"min\": %lf, \"max\": %lf, "
                                   "\"episodes\": %d", &mean, &std, &lo, &hi, &episodes) == 5,
                  "not the JSON line: %s", out);
    ck_assert_int_eq(episodes, 3);
    ck_assert(lo <= mean && mean <= hi && std >= 0);
    char *rows = file_read("%s/run/eval.csv", dir), *last = strrchr(rows, '\n');
    while (last > rows && last[-1] != '\n') last--; /* the last row */
    double run_mean;
    ck_assert_int_eq(sscanf(strchr(strchr(last, ',') + 1, ',') + 1, "%lf", &run_mean), 1);
    ck_assert_msg(fabs(run_mean - mean) <= 1e-3 * (1 + fabs(mean)),
                  "--eval-only mean %g, the run's last evaluation %g", mean, run_mean);
    free(rows);
    rm_rf(dir);
}
END_TEST

/* Copies src to dst, then applies edit to the bytes (length *n, may change). */
static void copy_edited(const char *src, const char *dst, void (*edit)(char *buf, size_t *n)) {
    FILE *f = fopen(src, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = malloc(1 << 22);
    ck_assert_ptr_nonnull(buf);
    size_t n = fread(buf, 1, 1 << 22, f);
    fclose(f);
    edit(buf, &n);
    f = fopen(dst, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    free(buf);
}

/* The checksum made right again after an edit. */
static void fix_crc(char *b, size_t n) {
    uint32_t crc = ckpt_crc32(0, b, n - 4);
    memcpy(b + n - 4, &crc, 4);
}
static void edit_truncate(char *b, size_t *n) { (void)b, *n = *n / 2; }
static void edit_magic(char *b, size_t *n) { (void)n, b[0] = 'X'; }
static void edit_version(char *b, size_t *n) {
    uint32_t v = CKPT_VERSION + 1;
    memcpy(b + offsetof(CkptHeader, version), &v, 4);
    fix_crc(b, *n);
}
static void edit_env(char *b, size_t *n) {
    memset(b + offsetof(CkptHeader, env), 0, 32);
    strcpy(b + offsetof(CkptHeader, env), "MountainCarContinuous-v0");
    fix_crc(b, *n);
}
static void edit_flip(char *b, size_t *n) { b[*n / 2] ^= 0x10; }
static void edit_empty(char *b, size_t *n) { (void)b, *n = 0; }

static const struct {
    const char *what;
    void (*edit)(char *, size_t *);
    const char *needle; /* in the message */
} BAD[] = {
    {"truncated", edit_truncate, "truncated"},
    {"wrong magic", edit_magic, "magic"},
    {"a future version", edit_version, "version 2 is newer"},
    {"another environment", edit_env, "MountainCarContinuous-v0"},
    {"a flipped byte", edit_flip, "checksum"},
    {"zero length", edit_empty, "empty"},
};

/* Each kind of bad file: exit 2 and a message saying what is wrong, for
 * --eval-only and for --resume (where nothing of the run may change). */
START_TEST(test_bad_file) {
    char dir[64], path[200], bad[300], out[4096];
    small_checkpoint(dir, sizeof dir, path, sizeof path);
    snprintf(bad, sizeof bad, "%s/bad.bin", dir);
    copy_edited(path, bad, BAD[_i].edit);
    int rc = run_program(out, sizeof out, "--eval-only %s --device cpu", bad);
    ck_assert_msg(rc == 2, "%s: exit %d: %s", BAD[_i].what, rc, out);
    ck_assert_msg(strstr(out, BAD[_i].needle) && strstr(out, "error"),
                  "%s: the message lacks '%s': %s", BAD[_i].what, BAD[_i].needle, out);
    ck_assert_msg(strstr(out, "\"mean\"") == NULL, "%s: evaluated anyway", BAD[_i].what);
    /* the same file as a run's checkpoint */
    ck_assert_int_eq(rename(bad, path), 0);
    char episodes[300];
    snprintf(episodes, sizeof episodes, "%s/run/episodes.csv", dir);
    char *before = file_read("%s", episodes);
    ck_assert_int_eq(run_program(out, sizeof out, "--resume %s/run --total-steps 1600", dir), 2);
    ck_assert_msg(strstr(out, BAD[_i].needle), "--resume, %s: %s", BAD[_i].what, out);
    char *after = file_read("%s", episodes);
    ck_assert_msg(strcmp(before, after) == 0, "a refused resume changed episodes.csv");
    free(before), free(after);
    rm_rf(dir);
}
END_TEST

START_TEST(test_bad_file_directory) {
    char dir[64], out[4096];
    tmpdir_create(dir, sizeof dir, "ckpt");
    ck_assert_int_eq(run_program(out, sizeof out, "--eval-only %s --device cpu", dir), 2);
    ck_assert_msg(strstr(out, "is a directory"), "message: %s", out);
    rm_rf(dir);
}
END_TEST

/* An absurd learning rate, once updates start (after the checkpoint at step
 * 400): exit 3, the divergence named in the message and in summary.json,
 * and the checkpoint of step 400 still there and good. */
START_TEST(test_divergence_keeps_last_good_checkpoint) {
    char dir[64], out[4096];
    tmpdir_create(dir, sizeof dir, "ckpt");
    ck_assert_int_eq(run_program(out, sizeof out,
                                 "--device cpu --quiet --hidden 32,32 --batch-size 32 "
                                 "--start-steps 400 --update-after 401 --eval-every 0 "
                                 "--actor-lr 1000 --critic-lr 1000 --total-steps 2000 "
                                 "--save-every 400 --out %s/run", dir), 3);
    ck_assert_msg(strstr(out, "diverged") && strstr(out, "checkpoint.bin (env step 400)"),
                  "message: %s", out);
    char *js = file_read("%s/run/summary.json", dir);
    ck_assert_msg(strstr(js, "\"status\": \"diverged\"") && strstr(js, "\"quantity\"") &&
                  strstr(js, "\"checkpoint_step\": 400"), "summary: %s", js);
    free(js);
    ck_assert_msg(run_program(out, sizeof out, "--eval-only %s/run/checkpoint.bin --device cpu",
                              dir) == 0, "the kept checkpoint: %s", out);
    rm_rf(dir);
}
END_TEST

/* SIGTERM and SIGINT: the run stops cleanly with 143 or 130, writes its
 * checkpoint, and says so in summary.json. */
START_TEST(test_signal_writes_checkpoint) {
    const int sig = _i ? SIGINT : SIGTERM, want = _i ? 130 : 143;
    char dir[64], run_dir[128], path[200];
    tmpdir_create(dir, sizeof dir, "ckpt");
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(test_bin(), "ddpg_cuda", "--device", "cpu", "--quiet", "--hidden", "32,32",
              "--total-steps", "100000000", "--eval-every", "0", "--out", run_dir, (char *)NULL);
        _exit(127);
    }
    snprintf(path, sizeof path, "%s/progress.csv", run_dir);
    struct stat st;
    for (int i = 0; i < 200 && stat(path, &st) != 0; i++) usleep(50000); /* running */
    usleep(300000);
    kill(pid, sig);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == want, "exit %d, want %d",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1, want);
    char *js = file_read("%s/summary.json", run_dir);
    ck_assert_msg(strstr(js, "\"status\": \"interrupted\"") && !strstr(js, "\"checkpoint_step\": null"),
                  "summary: %s", js);
    free(js);
    snprintf(path, sizeof path, "%s/checkpoint.bin", run_dir);
    CkptFile f;
    Error e = {STATUS_OK, ""};
    ck_assert_msg(ckpt_open(&f, path, &e) == STATUS_OK, "%s", e.msg);
    ckpt_close(&f);
    rm_rf(dir);
}
END_TEST

/* The embedded policy (policy.h) acts as the trainer's actor does, on the
 * same observations, to float rounding; and the example program runs. For
 * DDPG, and for TD3 with LayerNorm (an actor with normalised layers). */

START_TEST(test_policy_matches_trainer_actor) {
    char dir[64], path[200], out[4096];
    small_checkpoint_of(POLICY_RUNS[_i], dir, sizeof dir, path, sizeof path);
    char err[512];
    DdpgPolicy *pol = ddpg_policy_load(path, err, sizeof err);
    ck_assert_msg(pol != NULL, "%s", err);
    ck_assert_int_eq(ddpg_policy_obs_dim(pol), 3);
    ck_assert_int_eq(ddpg_policy_act_dim(pol), 1);
    Config c;
    Error e = {STATUS_OK, ""};
    ck_assert_msg(checkpoint_read_config(path, &c, &e) == STATUS_OK, "%s", e.msg);
    Backend *be = backend_cpu_create(1);
    DdpgParams p = {.obs_dim = 3, .act_dim = 1, .hidden = c.hidden, .n_hidden = c.n_hidden,
                    .bounds = {1, {-2.0f}, {2.0f}}, .batch_size = 1, .seed = 1,
                    .layer_norm = c.layer_norm};
    Ddpg d;
    ck_assert_int_eq(ddpg_create(&d, be, &p, NULL), 0);
    ck_assert_msg(checkpoint_load_actor(&d, path, &e) == STATUS_OK, "%s", e.msg);
    enum { N = 64 };
    float obs[N * 3], a_pol[N], a_tr[N];
    for (int i = 0; i < N; i++) {
        double th = 0.1 * i;
        obs[3 * i] = (float)cos(th), obs[3 * i + 1] = (float)sin(th);
        obs[3 * i + 2] = (float)(-8.0 + 0.25 * i);
    }
    MlpWork w;
    ck_assert_int_eq(mlp_work_create(&w, be, &d.actor.shape, N), 0);
    ddpg_act(&d, obs, N, a_tr, &w);
    ddpg_policy_act(pol, obs, N, a_pol);
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_msg(fabsf(a_pol[i] - a_tr[i]) <= 1e-5f * (1.0f + fabsf(a_tr[i])),
                      "obs %d: policy %.9g, trainer %.9g", i, (double)a_pol[i], (double)a_tr[i]);
        distinct += i > 0 && a_tr[i] != a_tr[i - 1];
    }
    ck_assert_msg(distinct > N / 2, "the actions hardly vary: the test cannot tell much");
    mlp_work_destroy(&w, be, &d.actor.shape);
    ddpg_destroy(&d);
    be->destroy(be);
    ddpg_policy_free(pol);
    ck_assert_msg(run_sh(NULL, out, sizeof out, "%s/examples/embed_policy %s", test_build(),
                         path) == 0 && strstr(out, "return over 200 steps"), "example: %s", out);
    rm_rf(dir);
}
END_TEST

/* The fuzz target's seed corpus loads whole; each input it ever crashed on
 * (tests/fuzz/regressions/) is refused or read without a crash. */
START_TEST(test_fuzz_corpus_and_regressions) {
    const char *dirs[] = {"tests/fuzz/checkpoint", "tests/fuzz/regressions"};
    int seeds = 0;
    for (int k = 0; k < 2; k++) {
        DIR *dp = opendir(dirs[k]);
        ck_assert_msg(dp != NULL, "no %s", dirs[k]);
        struct dirent *de;
        while ((de = readdir(dp))) {
            if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0) continue;
            char path[600];
            snprintf(path, sizeof path, "%s/%s", dirs[k], de->d_name);
            CkptFile f;
            Error e = {STATUS_OK, ""};
            Status rc = ckpt_open(&f, path, &e);
            if (k == 0) {
                ck_assert_msg(rc == STATUS_OK, "seed %s: %s", path, e.msg);
                seeds++;
            }
            if (rc == 0) ckpt_close(&f);
        }
        closedir(dp);
    }
    ck_assert_int_ge(seeds, 2);
}
END_TEST

Suite *checkpoint_suite(void) {
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("resume");
    tcase_set_timeout(tc, 180);
    tcase_add_loop_test(tc, test_resume_is_exact, 0,
                        (int)(sizeof RESUME_RUNS / sizeof RESUME_RUNS[0]));
    tcase_add_test(tc, test_resume_without_replay_continues);
    tcase_add_test(tc, test_resume_refuses_contradictions);
    tcase_add_loop_test(tc, test_eval_only, 0, (int)(sizeof POLICY_RUNS / sizeof POLICY_RUNS[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("bad_files");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_bad_file, 0, (int)(sizeof BAD / sizeof BAD[0]));
    tcase_add_test(tc, test_bad_file_directory);
    tcase_add_test(tc, test_fuzz_corpus_and_regressions);
    suite_add_tcase(s, tc);
    tc = tcase_create("stops");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_divergence_keeps_last_good_checkpoint);
    tcase_add_loop_test(tc, test_signal_writes_checkpoint, 0, 2);
    tcase_add_loop_test(tc, test_policy_matches_trainer_actor, 0,
                        (int)(sizeof POLICY_RUNS / sizeof POLICY_RUNS[0]));
    suite_add_tcase(s, tc);
    return s;
}
