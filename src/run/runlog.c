/* runlog.c - writing the run directory. */
#include "ddpg/runlog.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static const char *CSV_FILES[] = {"episodes.csv", "updates.csv", "probes.csv", "eval.csv",
                                  "progress.csv"};
/* updates.csv's header is "update," and the caller's metric names */
static const char *CSV_HEADERS[] = {
    "episode,env,return,length,global_step,wall_s",
    "update",
    "episode,probe,action,q",
    "global_step,wall_s,mean_return,std_return,min_return,max_return,q_start,discounted_return",
    "global_step,wall_s,episodes,env_steps_per_s,updates_per_s"};
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

static FILE **csv_slot(RunLog *l, int i) {
    FILE **slots[] = {&l->episodes, &l->updates, &l->probes, &l->eval, &l->progress};
    return slots[i];
}

/* Marks the log failed at file i (the first failure is the one kept). */
static void fail(RunLog *l, int i) {
    if (l->failed) return;
    l->failed = 1;
    l->failed_errno = errno ? errno : EIO;
    snprintf(l->failed_file, sizeof l->failed_file, "%s/%s", l->dir, CSV_FILES[i]);
}

/* After a row's fprintf calls: their sum (negative when one failed). */
static void check(RunLog *l, int i, int printed) {
    if (printed < 0 || ferror(*csv_slot(l, i))) fail(l, i);
}

void runlog_report_failure(const RunLog *l, FILE *err) {
    fprintf(err, "error: cannot write '%s': %s\n", l->failed_file, strerror(l->failed_errno));
}

int runlog_open(RunLog *l, const char *dir, const char *const *metrics, int n_metrics,
                FILE *err) {
    memset(l, 0, sizeof *l);
    if (strlen(dir) + 32 >= sizeof l->dir) {
        fprintf(err, "error: --out: path too long\n");
        return 2;
    }
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    if (mkdir_p(dir, l->made, &l->n_made) != 0) {
        fprintf(err, "error: --out: cannot create directory '%s': %s\n", dir, strerror(errno));
        goto undo;
    }
    for (int i = 0; i < N_CSV; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", dir, CSV_FILES[i]);
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(err, "error: --out: cannot write '%s': %s\n", path, strerror(errno));
            goto undo;
        }
        *csv_slot(l, i) = f;
        int n = fprintf(f, "%s", CSV_HEADERS[i]);
        if (csv_slot(l, i) == &l->updates)
            for (int k = 0; k < n_metrics && n >= 0; k++) n = fprintf(f, ",%s", metrics[k]);
        check(l, i, n < 0 ? n : fputc('\n', f));
    }
    if (runlog_flush(l) == 0) return 0;
    runlog_report_failure(l, err);
undo:
    runlog_discard(l);
    return 2;
}

void runlog_discard(RunLog *l) {
    const char *also[] = {"config.json", ".config.json.tmp", "summary.json", ".summary.json.tmp"};
    char path[1100];
    for (int i = 0; i < N_CSV; i++) {
        FILE **f = csv_slot(l, i);
        if (*f) fclose(*f);
        *f = NULL;
        snprintf(path, sizeof path, "%s/%s", l->dir, CSV_FILES[i]);
        unlink(path);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", l->dir, also[i]);
        unlink(path);
    }
    for (int i = l->n_made - 1; i >= 0; i--) rmdir(l->made[i]);
    l->n_made = 0;
}

int runlog_reopen(RunLog *l, const char *dir, const int64_t sizes[RUNLOG_N_CSV], FILE *err) {
    memset(l, 0, sizeof *l);
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    for (int i = 0; i < N_CSV; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", dir, CSV_FILES[i]);
        FILE *f = fopen(path, "r+");
        struct stat st;
        if (!f || fstat(fileno(f), &st) != 0) {
            fprintf(err, "error: --resume: cannot open '%s': %s\n", path, strerror(errno));
            if (f) fclose(f);
            runlog_close(l);
            return 2;
        }
        *csv_slot(l, i) = f;
        if (st.st_size < sizes[i]) {
            fprintf(err, "error: --resume: '%s' has %lld bytes, fewer than the %lld it had when "
                    "the checkpoint was written\n", path, (long long)st.st_size,
                    (long long)sizes[i]);
            runlog_close(l);
            return 2;
        }
        /* rows written after the checkpoint are written again by the resumed run */
        if (ftruncate(fileno(f), (off_t)sizes[i]) != 0 || fseeko(f, 0, SEEK_END) != 0) {
            fprintf(err, "error: --resume: cannot cut '%s' back to the checkpoint: %s\n", path,
                    strerror(errno));
            runlog_close(l);
            return 2;
        }
    }
    return 0;
}

int runlog_sync(RunLog *l, int64_t sizes[RUNLOG_N_CSV]) {
    for (int i = 0; i < N_CSV && !l->failed; i++) {
        FILE *f = *csv_slot(l, i);
        off_t at = -1;
        if (fflush(f) != 0 || fsync(fileno(f)) != 0 || (at = ftello(f)) < 0)
            fail(l, i);
        else
            sizes[i] = (int64_t)at;
    }
    return l->failed ? -1 : 0;
}

void runlog_episode(RunLog *l, int64_t episode, int env, float ret, int len, int64_t global_step,
                    double wall_s) {
    check(l, 0, fprintf(l->episodes, "%lld,%d,%.6g,%d,%lld,%.4f\n", (long long)episode, env, ret,
                        len, (long long)global_step, wall_s));
}

void runlog_update(RunLog *l, int64_t update, const float *m, int n) {
    int k = 0, r = fprintf(l->updates, "%lld", (long long)update);
    for (; k < n && r >= 0; k++) r = fprintf(l->updates, ",%.6g", m[k]);
    check(l, 1, r < 0 ? r : fputc('\n', l->updates));
}

void runlog_probe(RunLog *l, int64_t episode, int n, const float *act, const float *q) {
    for (int i = 0; i < n; i++)
        check(l, 2, fprintf(l->probes, "%lld,%d,%.6g,%.6g\n", (long long)episode, i, act[i], q[i]));
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
    check(l, 3, fprintf(l->eval, "%lld,%.4f,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n",
                        (long long)global_step, wall_s, mean, sqrt(var / n), lo, hi, q_start,
                        discounted));
    if (mean_out) *mean_out = mean;
}

void runlog_progress(RunLog *l, int64_t global_step, double wall_s, int64_t episodes,
                     double sps, double ups) {
    check(l, 4, fprintf(l->progress, "%lld,%.4f,%lld,%.1f,%.1f\n", (long long)global_step, wall_s,
                        (long long)episodes, sps, ups));
}

int runlog_flush(RunLog *l) {
    for (int i = 0; i < N_CSV; i++)
        if (*csv_slot(l, i) && fflush(*csv_slot(l, i)) != 0) fail(l, i);
    return l->failed ? -1 : 0;
}

int runlog_close(RunLog *l) {
    for (int i = 0; i < N_CSV; i++) {
        FILE **f = csv_slot(l, i);
        if (*f && fclose(*f) != 0) fail(l, i);
        *f = NULL;
    }
    return l->failed ? -1 : 0;
}
