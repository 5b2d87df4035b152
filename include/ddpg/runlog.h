/* runlog.h - the run directory (docs/design.md section 6): CSV logs and JSON files. */
#ifndef DDPG_RUNLOG_H
#define DDPG_RUNLOG_H

#include <stdint.h>
#include <stdio.h>

#include "ddpg/config.h"

#define RUNLOG_N_CSV 5 /* episodes, updates, probes, eval, progress */

typedef struct {
    char dir[1024];
    FILE *episodes, *updates, *probes, *eval, *progress;
    char made[8][1024];   /* directories runlog_open created (runlog_discard removes them) */
    int n_made;
    int failed;           /* a write failed: the first file and error */
    int failed_errno;
    char failed_file[1100];
} RunLog;

typedef struct {
    const char *status;    /* completed, solved, interrupted, diverged, error */
    const char *error;     /* status error: what went wrong, else NULL */
    const char *device, *device_name;
    const char *env_id;    /* the environment's Gymnasium id */
    double solved_return;  /* its solved threshold */
    int envs;
    int64_t env_steps, updates;
    double wall_s, env_steps_per_s, updates_per_s;
    int have_eval;
    double final_eval_return, best_eval_return;
    int64_t solved_step; /* -1 = not solved */
    double solved_wall_s;
    int64_t checkpoint_step;     /* env step of the checkpoint in the run directory, -1: none */
    int64_t diverged_update;     /* status diverged: the update where it was seen */
    const char *diverged_what;   /* and the quantity */
} RunSummary;

/* Creates dir (and parents) and the CSV files with their headers; the
 * columns of updates.csv are `update` and the n_metrics metric names.
 * Returns 0, or 2 after printing why to err (nothing is left behind then). */
int runlog_open(RunLog *l, const char *dir, const char *const *metrics, int n_metrics,
                FILE *err);
/* Opens the CSV files of an earlier run in dir to append, each cut back to
 * the size in sizes (what it had when the checkpoint being resumed was
 * written). Returns 0, or 2 after printing why to err. */
int runlog_reopen(RunLog *l, const char *dir, const int64_t sizes[RUNLOG_N_CSV], FILE *err);
/* Flushes the CSV files to disk and gives their sizes. 0, or -1 with errno. */
int runlog_sync(RunLog *l, int64_t sizes[RUNLOG_N_CSV]);
/* Writes config.json: every setting, the backend, the device, and the
 * threads used. 0, or -1 after a message naming the file and the error. */
int runlog_write_config(RunLog *l, const Config *c, const char *backend, const char *device_name,
                        int threads);
void runlog_episode(RunLog *l, int64_t episode, int env, float ret, int len, int64_t global_step,
                    double wall_s);
/* One row of updates.csv: the update count and n metric values. */
void runlog_update(RunLog *l, int64_t update, const float *means, int n);
void runlog_probe(RunLog *l, int64_t episode, int n, const float *act, const float *q);
/* One row of eval.csv: the returns' mean, std, min and max, and the means of
 * the critic's Q1(s0, mu(s0)) at the start states and of the discounted
 * returns (evaluate.h). */
void runlog_eval(RunLog *l, int64_t global_step, double wall_s, const float *returns, int n,
                 double q_start, double discounted, double *mean_out);
void runlog_progress(RunLog *l, int64_t global_step, double wall_s, int64_t episodes,
                     double env_steps_per_s, double updates_per_s);
/* Writes summary.json atomically (temporary file, then rename). 0, or -1
 * after a message naming the file and the error. */
int runlog_write_summary(RunLog *l, const RunSummary *s);

/* Every CSV write is checked: the first that fails marks the log failed
 * (l->failed, l->failed_file, l->failed_errno), and these return -1. */
int runlog_flush(RunLog *l);
int runlog_close(RunLog *l);
/* "error: cannot write 'FILE': reason" on err, for a failed log. */
void runlog_report_failure(const RunLog *l, FILE *err);
/* Closes the files and removes what runlog_open made (its CSV files and
 * config.json, then the directories it created): a run that did not start
 * leaves nothing behind. */
void runlog_discard(RunLog *l);

/* ---- the run directory (rundir.c) ---- */
/* 1 when dir holds a run: its config.json or summary.json. */
int rundir_holds_run(const char *dir);
/* Removes the files this program writes in dir (and nothing else). 0, or
 * 2 after a message. */
int rundir_clear(const char *dir, FILE *err);
/* Where a run goes without --out: runs/<date>-<time>-<env>-s<seed>, with
 * -2, -3, ... when that exists. */
void rundir_default(const Config *c, char *dir, size_t len);

#endif
