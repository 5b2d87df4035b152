/* test_rundir.c - a run directory that never lies: an existing run is never
 * overwritten without --overwrite (which removes only this program's files,
 * the files of the run directory's table, which are every file a run writes),
 * a run without --out goes to runs/..., --no-out keeps nothing, a full disk
 * stops the run with exit 4 and says so, memory is checked before anything
 * is allocated, --config FILE repeats a run exactly, the report is found
 * through a symlink, and the progress line keeps to the terminal's width. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ddpg/ckpt_file.h"
#include "ddpg/runlog.h"
#include "helpers.h"
#include "suites.h"

#define SMALL "--device cpu --quiet --hidden 16 --batch-size 16 --start-steps 200 " \
              "--update-after 200 --eval-every 200 --eval-episodes 2 --probe-n 2 "

/* run_sh of line, and the seconds it took in *seconds. */
static int run_sh_timed(const char *dir, const char *line, char *out, size_t len,
                        double *seconds) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = run_sh(dir, out, len, "%s", line);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    return rc;
}

/* The program's absolute path (the tests change directories). */
static const char *bin(void) {
    static char path[1024];
    if (!path[0]) ck_assert_ptr_nonnull(realpath(test_bin(), path));
    return path;
}

/* A second run into a run directory is refused, names --resume and
 * --overwrite, and changes nothing there. */
START_TEST(test_existing_run_refused) {
    char dir[64], line[2048], out[4096];
    tmpdir_create(dir, sizeof dir, "rundir");
    snprintf(line, sizeof line, "%s " SMALL "--total-steps 400 --out run", bin());
    ck_assert_int_eq(run_sh(dir, NULL, 0, "%s", line), 0);
    char run[128];
    snprintf(run, sizeof run, "%s/run", dir);
    char *before = file_read("%s/episodes.csv", run);
    ck_assert_int_eq(run_sh(dir, out, sizeof out, "%s", line), 2);
    ck_assert_msg(strstr(out, "already holds a run") && strstr(out, "--resume") &&
                  strstr(out, "--overwrite"), "message: %s", out);
    char *after = file_read("%s/episodes.csv", run);
    ck_assert_str_eq(before, after);
    free(before), free(after);
    rm_rf(dir);
}
END_TEST

/* --overwrite removes this program's files, not the user's, and runs. */
START_TEST(test_overwrite_removes_only_ours) {
    char dir[64], run[128];
    tmpdir_create(dir, sizeof dir, "rundir");
    snprintf(run, sizeof run, "%s/run", dir);
    ck_assert_int_eq(run_sh(dir, NULL, 0, "%s " SMALL "--total-steps 400 --out run", bin()), 0);
    file_write("mine\n", "%s/notes.txt", run); /* a file of the user's beside the run */
    ck_assert_int_eq(run_sh(dir, NULL, 0, "%s " SMALL "--total-steps 600 --out run --overwrite",
                            bin()), 0);
    ck_assert(path_exists("%s/notes.txt", run));
    char *js = file_read("%s/summary.json", run);
    ck_assert_msg(strstr(js, "\"env_steps\": 600"), "summary: %s", js);
    free(js);
    rm_rf(dir);
}
END_TEST

/* Without --out: runs/<date>-<time>-<env>-s<seed>, named at the start and at
 * the end; --no-out: nothing at all. */
START_TEST(test_default_dir_and_no_out) {
    char dir[64], out[8192];
    tmpdir_create(dir, sizeof dir, "rundir");
    ck_assert_int_eq(run_sh(dir, out, sizeof out, "%s --device cpu --hidden 16 --batch-size 16 "
                            "--start-steps 200 --update-after 200 --total-steps 400 --seed 7",
                            bin()), 0);
    const char *named = strstr(out, "run directory: runs/");
    ck_assert_msg(named && strstr(named, "-pendulum-s7") && strstr(out, "wrote runs/"),
                  "output: %s", out);
    char runs[128];
    snprintf(runs, sizeof runs, "%s/runs", dir);
    ck_assert_int_eq(run_sh(NULL, NULL, 0, "ls %s/*-pendulum-s7/summary.json", runs), 0);
    rm_rf(runs);
    ck_assert_int_eq(run_sh(dir, NULL, 0, "%s " SMALL "--total-steps 400 --no-out", bin()), 0);
    ck_assert_msg(rmdir(dir) == 0, "--no-out left something in the working directory");
}
END_TEST

/* A file size limit (a full disk, as far as the program can tell): exit 4,
 * the file and the error named, summary.json says error, never exit 0. */
START_TEST(test_full_disk_exit_4) {
    char dir[64], out[4096], run[128];
    tmpdir_create(dir, sizeof dir, "rundir");
    ck_assert_int_eq(run_sh(dir, out, sizeof out, "trap '' XFSZ; ulimit -f 40; %s " SMALL
                            "--total-steps 3000 --out run", bin()), 4);
    ck_assert_msg(strstr(out, "cannot write") && strstr(out, "File too large"), "output: %s",
                  out);
    snprintf(run, sizeof run, "%s/run", dir);
    char *js = file_read("%s/summary.json", run);
    ck_assert_msg(strstr(js, "\"status\": \"error\"") && strstr(js, "File too large"),
                  "summary: %s", js);
    free(js);
    ck_assert_msg(!path_exists("%s/checkpoint.bin", run), "a checkpoint of a run with broken logs");
    rm_rf(dir);
}
END_TEST

/* How many names dir holds (. and .. aside). */
static int entries(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d));)
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

/* The run directory's table is every file a run writes: a run (with a
 * checkpoint and a report) writes each file of the table and no other; and
 * rundir_clear (--overwrite) removes exactly those and their temporary files
 * (the checkpoint writer's among them), leaving the user's look-alikes. */
START_TEST(test_table_is_every_file) {
    char dir[64], out[4096], run[128], name[64], path[RUNDIR_PATH_MAX];
    tmpdir_create(dir, sizeof dir, "rundir");
    snprintf(run, sizeof run, "%s/run", dir);
    ck_assert_msg(run_sh(dir, out, sizeof out, "%s " SMALL "--total-steps 400 --save-every 200 "
                         "--out run", bin()) == 0, "output: %s", out);
    for (int f = 0; f < RUN_FILE_COUNT; f++)
        ck_assert_msg(path_exists("%s/%s", run, RUN_FILES[f].name), "the run wrote no %s",
                      RUN_FILES[f].name);
    ck_assert_msg(entries(run) == RUN_FILE_COUNT, "the run wrote a file not in RUN_FILES");
    CkptWriter w; /* ckpt_file.c names its temporary file from the path alone */
    Error e = {STATUS_OK, ""};
    rundir_path(run, RUN_FILE_CHECKPOINT, path, sizeof path);
    rundir_temp_path(run, RUN_FILE_CHECKPOINT, out, sizeof out);
    ck_assert_msg(ckpt_begin(&w, path, &e) == STATUS_OK, "%s", e.msg);
    ck_assert_str_eq(w.tmp, out);
    ckpt_abort(&w);
    /* the temporary files of a run that was killed, and the user's own */
    for (int f = 0; f < RUN_FILE_COUNT; f++) {
        const char *form = RUN_FILES[f].temp == RUN_TEMP_RANDOM ? ".%s.k3x_9q.tmp" : ".%s.tmp";
        snprintf(name, sizeof name, form, RUN_FILES[f].name);
        if (RUN_FILES[f].temp != RUN_TEMP_NONE) file_write("", "%s/%s", run, name);
    }
    const char *mine[] = {"notes.txt", "config.json.bak", ".notes.tmp", ".report.html.tmp.old",
                          "episodes.csv~", ".episodes.csv.tmp"};
    const int n_mine = (int)(sizeof mine / sizeof mine[0]);
    for (int i = 0; i < n_mine; i++) file_write("", "%s/%s", run, mine[i]);
    ck_assert_msg(rundir_clear(run, &e) == STATUS_OK, "%s", e.msg);
    for (int i = 0; i < n_mine; i++)
        ck_assert_msg(path_exists("%s/%s", run, mine[i]), "%s removed", mine[i]);
    ck_assert_msg(entries(run) == n_mine, "a file of the run or a temporary file is left");
    rm_rf(dir);
}
END_TEST

/* The values that used to get the process killed for memory on a 24 GB
 * machine: each needs more than such a machine has. */
static const struct {
    const char *args, *needle;
} HUGE[] = {
    {"--hidden 65536,65536", "--hidden 65536,65536"},
    {"--replay-size 1000000000", "--replay-size 1000000000"},
    {"--envs 16777216 --eval-every 0 --probe-n 0", "--envs 16777216"},
};

/* Memory is added up before anything is allocated: a run that cannot fit is
 * refused at once (exit 2), naming the option and the MiB, leaving nothing. */
START_TEST(test_memory_checked_first) {
    FILE *mi = fopen("/proc/meminfo", "r");
    unsigned long long kb = 0;
    char row[256];
    while (mi && fgets(row, sizeof row, mi) && sscanf(row, "MemAvailable: %llu kB", &kb) != 1) {}
    if (mi) fclose(mi);
    if (kb > 30ull << 20) { /* the smallest of the three needs 34 GB */
        printf("SKIP rundir/memory_checked_first: this machine has %llu MiB available\n",
               kb >> 10);
        return;
    }
    char dir[64], line[2048], out[4096];
    tmpdir_create(dir, sizeof dir, "rundir");
    snprintf(line, sizeof line, "%s --device cpu %s --out run", bin(), HUGE[_i].args);
    double s;
    ck_assert_int_eq(run_sh_timed(dir, line, out, sizeof out, &s), 2);
    ck_assert_msg(strstr(out, HUGE[_i].needle) && strstr(out, "MiB") &&
                  strstr(out, "available"), "message: %s", out);
    ck_assert_msg(s < 5.0, "the refusal took %.1f s: something was allocated first", s);
    ck_assert_msg(!path_exists("%s/run", dir), "a refused run left its directory");
    rm_rf(dir);
}
END_TEST

/* A bad --out is refused before the buffers (a 40,000,000-transition
 * replay: 1.4 GB) are allocated and zeroed. */
START_TEST(test_bad_out_before_allocation) {
    char line[2048], out[4096];
    snprintf(line, sizeof line, "%s --device cpu --replay-size 40000000 --out "
             "/proc/no/such/dir", bin());
    double s;
    ck_assert_int_eq(run_sh_timed(NULL, line, out, sizeof out, &s), 2);
    ck_assert_msg(strstr(out, "--out"), "message: %s", out);
    ck_assert_msg(s < 1.0, "the refusal took %.2f s: the replay was allocated first", s);
}
END_TEST

/* --config with a run's config.json repeats it exactly; a key = value file
 * works and the command line wins; a bad line is named file:line. */
START_TEST(test_config_file) {
    char dir[64], out[4096];
    tmpdir_create(dir, sizeof dir, "rundir");
    ck_assert_int_eq(run_sh(dir, NULL, 0, "%s " SMALL "--total-steps 800 --seed 3 --noise ou "
                            "--out a", bin()), 0);
    ck_assert_int_eq(run_sh(dir, out, sizeof out, "%s --config a/config.json --quiet --out b",
                            bin()), 0);
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    char *ua = file_read("%s/updates.csv", a), *ub = file_read("%s/updates.csv", b);
    ck_assert_msg(strlen(ua) > 100 && strcmp(ua, ub) == 0, "the repeated run differs");
    free(ua), free(ub);
    file_write("# a run of mine\ntotal-steps = 400\nbatch_size = 16\nhidden = 8\nquiet = true\n"
               "seed = 5  # overridden below\n", "%s/c.conf", dir);
    ck_assert_int_eq(run_sh(dir, out, sizeof out, "%s --config c.conf --device cpu --seed 9 "
                            "--out c", bin()), 0);
    char c[128];
    snprintf(c, sizeof c, "%s/c", dir);
    char *js = file_read("%s/config.json", c);
    ck_assert_msg(strstr(js, "\"seed\": 9") && strstr(js, "\"total_steps\": 400") &&
                  strstr(js, "\"batch_size\": 16"), "config.json: %s", js);
    free(js);
    file_write("total-steps = 400\n\nbatch-size = many\n", "%s/c.conf", dir);
    ck_assert_int_eq(run_sh(dir, out, sizeof out, "%s --config c.conf --device cpu --no-out",
                            bin()), 2);
    ck_assert_msg(strstr(out, "c.conf:3") && strstr(out, "--batch-size"), "message: %s", out);
    rm_rf(dir);
}
END_TEST

/* The report is found through a symlink to the program, and a path with an
 * apostrophe and a byte that is not UTF-8 is fine: config.json stays valid
 * JSON; config.json records the threads used. */
START_TEST(test_report_through_symlink_odd_path) {
    char dir[64], out[8192];
    tmpdir_create(dir, sizeof dir, "rundir");
    char link[200];
    snprintf(link, sizeof link, "%s/ddpg", dir);
    ck_assert_int_eq(symlink(bin(), link), 0);
    ck_assert_msg(run_sh(dir, out, sizeof out, "./ddpg " SMALL "--total-steps 400 --threads 3 "
                         "--out \"it's $(printf 'caf\\351')\"") == 0, "output: %s", out);
    char run[128];
    snprintf(run, sizeof run, "%s/it's caf\xe9", dir);
    ck_assert_msg(path_exists("%s/report.html", run), "no report through the symlink: %s", out);
    ck_assert_msg(run_sh(NULL, NULL, 0, "python3 -c \"import json,sys; "
                         "d=json.load(open(sys.argv[1],encoding='utf-8')); "
                         "sys.exit(0 if d['threads'] == 3 else 1)\" \"%s/config.json\"",
                         run) == 0, "config.json is not valid JSON, or threads is not 3");
    /* through PATH, the report is found too */
    ck_assert_msg(run_sh(dir, out, sizeof out, "PATH=\"%s:$PATH\" ddpg " SMALL
                         "--total-steps 400 --out p", dir) == 0, "output: %s", out);
    char p[128];
    snprintf(p, sizeof p, "%s/p", dir);
    ck_assert_msg(path_exists("%s/report.html", p), "no report through PATH: %s", out);
    /* without python3 the notice says so, and the run still succeeds */
    ck_assert_msg(run_sh(dir, out, sizeof out, "PATH=/nonexistent %s/ddpg " SMALL
                         "--total-steps 400 --out q", dir) == 0, "output: %s", out);
    ck_assert_msg(strstr(out, "no report written") && strstr(out, "python3 cannot be run"),
                  "the notice does not name the cause: %s", out);
    rm_rf(dir);
}
END_TEST

/* On an 60-column terminal the progress line never runs past the edge. */
START_TEST(test_progress_fits_terminal) {
    char dir[64], out[1 << 16];
    tmpdir_create(dir, sizeof dir, "rundir");
    ck_assert_int_eq(run_sh(dir, out, sizeof out, "script -qec \"stty cols 60 rows 20; %s "
                            "--device cpu --hidden 64 --total-steps 6000 --update-after 200 "
                            "--start-steps 200 --eval-every 1000 --no-out\" /dev/null", bin()),
                     0);
    int redraws = 0;
    for (char *p = strstr(out, "\r\033[K"); p; p = strstr(p + 1, "\r\033[K")) {
        char *q = p + 4;
        size_t n = strcspn(q, "\r\n");
        ck_assert_msg(n < 60, "a progress line of %zu columns: %.*s", n, (int)n, q);
        redraws++;
    }
    ck_assert_msg(redraws >= 1, "no progress line was drawn: %s", out);
    rmdir(dir);
}
END_TEST

/* What cannot go as asked is said at the start: --total-steps not a multiple
 * of --envs (and the run keeps to 100%), no update ever. */
START_TEST(test_warnings) {
    char out[4096];
    ck_assert_int_eq(run_sh(NULL, out, sizeof out, "%s --device cpu --envs 1000 --total-steps 10 "
                            "--hidden 8 --eval-every 0 --probe-n 0 --no-out", bin()), 0);
    ck_assert_msg(strstr(out, "not a multiple of --envs 1000") && strstr(out, "1000 env steps") &&
                  strstr(out, "100.0%") && !strstr(out, "10000.0%"), "output: %s", out);
    ck_assert_int_eq(run_sh(NULL, out, sizeof out, "%s --device cpu --update-after 5000 "
                            "--total-steps 1000 --hidden 8 --no-out --quiet", bin()), 0);
    ck_assert_msg(strstr(out, "no gradient update will run"), "output: %s", out);
}
END_TEST

Suite *rundir_suite(void) {
    Suite *s = suite_create("rundir");
    TCase *tc = tcase_create("run_directory");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_existing_run_refused);
    tcase_add_test(tc, test_overwrite_removes_only_ours);
    tcase_add_test(tc, test_table_is_every_file);
    tcase_add_test(tc, test_default_dir_and_no_out);
    tcase_add_test(tc, test_full_disk_exit_4);
    tcase_add_loop_test(tc, test_memory_checked_first, 0, (int)(sizeof HUGE / sizeof HUGE[0]));
    tcase_add_test(tc, test_bad_out_before_allocation);
    tcase_add_test(tc, test_config_file);
    tcase_add_test(tc, test_report_through_symlink_odd_path);
    tcase_add_test(tc, test_progress_fits_terminal);
    tcase_add_test(tc, test_warnings);
    suite_add_tcase(s, tc);
    return s;
}
