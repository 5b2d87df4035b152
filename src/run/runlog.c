/* runlog.c - writing the run directory's CSV logs (the files of RUN_FILES
 * with a CSV header). */
#include "ddpg/runlog.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_CSV RUNLOG_N_CSV

/* mkdir -p; on failure returns -1 with errno set. Records which levels it made. */
static int mkdir_p(const char *path, char made[][1024], int *n_made) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/') buf[--len] = 0;
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            struct stat st;
            if (stat(buf, &st) != 0) {
                if (mkdir(buf, 0755) != 0) return -1;
                if (*n_made < 8) snprintf(made[(*n_made)++], 1024, "%s", buf);
            } else if (!S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                return -1;
            }
            *p = c;
            if (c == 0) break;
        }
    }
    return 0;
}

/* Marks the log failed at file i (the first failure is the one kept). */
static void fail(RunLog *l, int i) {
    if (l->failed) return;
    l->failed = 1;
    l->failed_errno = errno ? errno : EIO;
    rundir_path(l->dir, (RunFile)i, l->failed_file, sizeof l->failed_file);
}

/* After a row's fprintf calls: their sum (negative when one failed). */
static void check(RunLog *l, int i, int printed) {
    if (printed < 0 || ferror(l->csv[i])) fail(l, i);
}

Status runlog_error(const RunLog *l, Error *e) {
    if (!l->failed) return STATUS_OK;
    return error_set(e, STATUS_IO, "cannot write '%s': %s", l->failed_file,
                     strerror(l->failed_errno));
}

/* CSV file i with its header line; updates.csv's names the metrics too. */
static Status create_csv(RunLog *l, int i, const char *const *metrics, int n_metrics,
                         Error *e) {
    char path[RUNDIR_PATH_MAX];
    rundir_path(l->dir, (RunFile)i, path, sizeof path);
    FILE *f = fopen(path, "w");
    if (!f)
        return error_set(e, STATUS_BAD_INPUT, "--out: cannot write '%s': %s", path,
                         strerror(errno));
    l->csv[i] = f;
    int n = fprintf(f, "%s", RUN_FILES[i].csv_header);
    if (i == RUN_FILE_UPDATES)
        for (int k = 0; k < n_metrics && n >= 0; k++) n = fprintf(f, ",%s", metrics[k]);
    check(l, i, n < 0 ? n : fputc('\n', f));
    return STATUS_OK;
}

Status runlog_open(RunLog *l, const char *dir, const char *const *metrics, int n_metrics,
                   Error *e) {
    memset(l, 0, sizeof *l);
    if (strlen(dir) + 32 >= sizeof l->dir)
        return error_set(e, STATUS_BAD_INPUT, "--out: path too long");
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    Status rc = STATUS_OK;
    if (mkdir_p(dir, l->made, &l->n_made) != 0)
        rc = error_set(e, STATUS_BAD_INPUT, "--out: cannot create directory '%s': %s", dir,
                       strerror(errno));
    for (int i = 0; i < N_CSV && rc == STATUS_OK; i++)
        rc = create_csv(l, i, metrics, n_metrics, e);
    Error flushed = {STATUS_OK, ""};
    if (rc == STATUS_OK && runlog_flush(l, &flushed) != STATUS_OK)
        rc = error_set(e, STATUS_BAD_INPUT, "%s", flushed.msg); /* the run did not start */
    if (rc != STATUS_OK) runlog_discard(l);
    return rc;
}

void runlog_discard(RunLog *l) {
    char path[RUNDIR_PATH_MAX];
    for (int i = 0; i < N_CSV; i++) {
        if (l->csv[i]) fclose(l->csv[i]);
        l->csv[i] = NULL;
    }
    for (int f = 0; f < RUN_FILE_COUNT; f++) {
        if (!RUN_FILES[f].at_start) continue;
        rundir_path(l->dir, (RunFile)f, path, sizeof path);
        unlink(path);
        if (RUN_FILES[f].temp == RUN_TEMP_FIXED) {
            rundir_temp_path(l->dir, (RunFile)f, path, sizeof path);
            unlink(path);
        }
    }
    for (int i = l->n_made - 1; i >= 0; i--) rmdir(l->made[i]);
    l->n_made = 0;
}

/* CSV file i of an earlier run, cut back to `size` bytes and open to append. */
static Status reopen_csv(RunLog *l, int i, int64_t size, Error *e) {
    char path[RUNDIR_PATH_MAX];
    rundir_path(l->dir, (RunFile)i, path, sizeof path);
    FILE *f = fopen(path, "r+");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        error_set(e, STATUS_BAD_INPUT, "--resume: cannot open '%s': %s", path, strerror(errno));
        if (f) fclose(f);
        return STATUS_BAD_INPUT;
    }
    l->csv[i] = f;
    if (st.st_size < size)
        return error_set(e, STATUS_BAD_INPUT, "--resume: '%s' has %lld bytes, fewer than the "
                         "%lld it had when the checkpoint was written", path,
                         (long long)st.st_size, (long long)size);
    /* rows written after the checkpoint are written again by the resumed run */
    if (ftruncate(fileno(f), (off_t)size) != 0 || fseeko(f, 0, SEEK_END) != 0)
        return error_set(e, STATUS_BAD_INPUT, "--resume: cannot cut '%s' back to the "
                         "checkpoint: %s", path, strerror(errno));
    return STATUS_OK;
}

Status runlog_reopen(RunLog *l, const char *dir, const int64_t sizes[RUNLOG_N_CSV], Error *e) {
    memset(l, 0, sizeof *l);
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    Status rc = STATUS_OK;
    for (int i = 0; i < N_CSV && rc == STATUS_OK; i++) rc = reopen_csv(l, i, sizes[i], e);
    if (rc != STATUS_OK) {
        runlog_close(l, NULL);
        return rc;
    }
    /* the summary of the run that stopped says no more once it goes on */
    char summary[RUNDIR_PATH_MAX];
    rundir_path(dir, RUN_FILE_SUMMARY, summary, sizeof summary);
    if (unlink(summary) != 0 && errno != ENOENT)
        return error_set(e, STATUS_IO, "--resume: cannot remove '%s': %s", summary,
                         strerror(errno));
    return STATUS_OK;
}

Status runlog_sync(RunLog *l, int64_t sizes[RUNLOG_N_CSV], Error *e) {
    for (int i = 0; i < N_CSV && !l->failed; i++) {
        off_t at = -1;
        if (fflush(l->csv[i]) != 0 || fsync(fileno(l->csv[i])) != 0 ||
            (at = ftello(l->csv[i])) < 0)
            fail(l, i);
        else
            sizes[i] = (int64_t)at;
    }
    return runlog_error(l, e);
}

void runlog_episode(RunLog *l, int64_t episode, int env, float ret, int len, int64_t global_step,
                    double wall_s) {
    check(l, RUN_FILE_EPISODES,
          fprintf(l->csv[RUN_FILE_EPISODES], "%lld,%d,%.6g,%d,%lld,%.4f\n", (long long)episode,
                  env, ret, len, (long long)global_step, wall_s));
}

void runlog_update(RunLog *l, int64_t update, const float *m, int n) {
    FILE *f = l->csv[RUN_FILE_UPDATES];
    int k = 0, r = fprintf(f, "%lld", (long long)update);
    for (; k < n && r >= 0; k++) r = fprintf(f, ",%.6g", m[k]);
    check(l, RUN_FILE_UPDATES, r < 0 ? r : fputc('\n', f));
}

void runlog_probe(RunLog *l, int64_t episode, int n, const float *act, const float *q) {
    for (int i = 0; i < n; i++)
        check(l, RUN_FILE_PROBES, fprintf(l->csv[RUN_FILE_PROBES], "%lld,%d,%.6g,%.6g\n",
                                          (long long)episode, i, act[i], q[i]));
}

void runlog_eval(RunLog *l, int64_t global_step, double wall_s, const float *r, int n,
                 double q_start, double discounted, double *mean_out) {
    double s = 0, lo = r[0], hi = r[0];
    for (int i = 0; i < n; i++) {
        s += r[i];
        lo = r[i] < lo ? r[i] : lo;
        hi = r[i] > hi ? r[i] : hi;
    }
    double mean = s / n, var = 0;
    for (int i = 0; i < n; i++) var += (r[i] - mean) * (r[i] - mean);
    check(l, RUN_FILE_EVAL, fprintf(l->csv[RUN_FILE_EVAL], "%lld,%.4f,%.6g,%.6g,%.6g,%.6g,%.6g,"
                                    "%.6g\n", (long long)global_step, wall_s, mean,
                                    sqrt(var / n), lo, hi, q_start, discounted));
    if (mean_out) *mean_out = mean;
}

void runlog_progress(RunLog *l, int64_t global_step, double wall_s, int64_t episodes,
                     double sps, double ups) {
    check(l, RUN_FILE_PROGRESS,
          fprintf(l->csv[RUN_FILE_PROGRESS], "%lld,%.4f,%lld,%.1f,%.1f\n",
                  (long long)global_step, wall_s, (long long)episodes, sps, ups));
}

Status runlog_flush(RunLog *l, Error *e) {
    for (int i = 0; i < N_CSV; i++)
        if (l->csv[i] && fflush(l->csv[i]) != 0) fail(l, i);
    return runlog_error(l, e);
}

Status runlog_close(RunLog *l, Error *e) {
    for (int i = 0; i < N_CSV; i++) {
        if (l->csv[i] && fclose(l->csv[i]) != 0) fail(l, i);
        l->csv[i] = NULL;
    }
    return runlog_error(l, e);
}
