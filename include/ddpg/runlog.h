/* runlog.h - the run directory (docs/design.md section 6): its files, in one
 * table, the CSV logs and the JSON files.
 *
 * Errors follow status.h: a function that can fail returns a Status and
 * fills the caller's Error (which may be NULL: the status only); nothing
 * here prints. */
#ifndef DDPG_RUNLOG_H
#define DDPG_RUNLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ddpg/config.h"
#include "ddpg/status.h"

/* Every file this program writes in a run directory. The run log's CSV files
 * come first, in the order of RunLog.csv and of the sizes a checkpoint keeps
 * (TrainProgress.csv_bytes): the order is part of the checkpoint format. */
typedef enum {
    RUN_FILE_EPISODES,   /* episodes.csv: one row per finished episode */
    RUN_FILE_UPDATES,    /* updates.csv: the update metrics, window means */
    RUN_FILE_PROBES,     /* probes.csv: action and Q on the fixed probe states */
    RUN_FILE_EVAL,       /* eval.csv: one row per evaluation */
    RUN_FILE_PROGRESS,   /* progress.csv: the progress line's figures */
    RUN_FILE_CONFIG,     /* config.json: every setting used, the backend, the version */
    RUN_FILE_SUMMARY,    /* summary.json: how the run ended */
    RUN_FILE_CHECKPOINT, /* checkpoint.bin: the run's state (ckpt_file.h) */
    RUN_FILE_REPORT,     /* report.html: scripts/report.py's page */
    RUN_FILE_COUNT
} RunFile;

#define RUNLOG_N_CSV ((int)RUN_FILE_CONFIG) /* the files before config.json are the CSVs */

/* How a file is replaced: its temporary file while it is written. */
typedef enum {
    RUN_TEMP_NONE,   /* written in place (the CSV logs, appended to) */
    RUN_TEMP_FIXED,  /* .NAME.tmp, renamed over NAME (runjson.c, ckpt_file.c) */
    RUN_TEMP_RANDOM  /* .NAME.<random>.tmp (report.py's tempfile.mkstemp) */
} RunTemp;

typedef struct {
    const char *name;       /* in the run directory */
    RunTemp temp;
    int marks_run;          /* its presence says the directory holds a run */
    int at_start;           /* written before the first step: a start that fails
                               removes it (runlog_discard) */
    const char *csv_header; /* a CSV of the run log: its header line (updates.csv's is
                               "update" and the metric names); NULL: not a CSV */
} RunFileInfo;

/* The table (rundir.c), indexed by RunFile. --overwrite removes every file
 * in it and its temporary files, and nothing else. */
extern const RunFileInfo RUN_FILES[RUN_FILE_COUNT];

/* Enough for DIR/.NAME.tmp of any directory the options hold (Config.out). */
#define RUNDIR_PATH_MAX 1100

/* DIR/NAME of file f. */
void rundir_path(const char *dir, RunFile f, char *buf, size_t len);
/* DIR/.NAME.tmp: file f's temporary file (RUN_TEMP_FIXED). */
void rundir_temp_path(const char *dir, RunFile f, char *buf, size_t len);

typedef struct {
    char dir[1024];
    FILE *csv[RUNLOG_N_CSV]; /* indexed by RunFile */
    char made[8][1024];      /* directories runlog_open created (runlog_discard removes them) */
    int n_made;
    int failed;              /* a write failed: the first file and error */
    int failed_errno;
    char failed_file[RUNDIR_PATH_MAX];
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
 * STATUS_OK, or STATUS_BAD_INPUT (nothing is left behind then). */
Status runlog_open(RunLog *l, const char *dir, const char *const *metrics, int n_metrics,
                   Error *e);
/* Opens the CSV files of an earlier run in dir to append, each cut back to
 * the size in sizes (what it had when the checkpoint being resumed was
 * written), and removes its summary.json (the run goes on). STATUS_OK,
 * STATUS_BAD_INPUT, or STATUS_IO (the summary could not be removed). */
Status runlog_reopen(RunLog *l, const char *dir, const int64_t sizes[RUNLOG_N_CSV], Error *e);
/* Flushes the CSV files to disk and gives their sizes. STATUS_OK or STATUS_IO. */
Status runlog_sync(RunLog *l, int64_t sizes[RUNLOG_N_CSV], Error *e);
/* Writes config.json: every setting, the backend, the device, and the
 * threads used. STATUS_OK, or STATUS_IO naming the file and the error. */
Status runlog_write_config(RunLog *l, const Config *c, const char *backend,
                           const char *device_name, int threads, Error *e);
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
/* Writes summary.json atomically (temporary file, then rename). STATUS_OK,
 * or STATUS_IO naming the file and the error. */
Status runlog_write_summary(RunLog *l, const RunSummary *s, Error *e);

/* Every CSV write is checked: the first that fails marks the log failed
 * (l->failed, l->failed_file, l->failed_errno); these then return STATUS_IO
 * with "cannot write 'FILE': reason". */
Status runlog_flush(RunLog *l, Error *e);
Status runlog_close(RunLog *l, Error *e);
/* The failure a failed log recorded, into e: STATUS_IO (STATUS_OK when it
 * has not failed). */
Status runlog_error(const RunLog *l, Error *e);
/* Closes the files and removes what runlog_open made (the files written
 * before the first step, then the directories it created): a run that did
 * not start leaves nothing behind. */
void runlog_discard(RunLog *l);

/* ---- the run directory (rundir.c) ---- */
/* 1 when dir holds a run: a file of the table that marks one. */
int rundir_holds_run(const char *dir);
/* Removes the files of the table in dir and their temporary files (and
 * nothing else). STATUS_OK, or STATUS_BAD_INPUT. */
Status rundir_clear(const char *dir, Error *e);
/* Where a run goes without --out: runs/<date>-<time>-<env>-s<seed>, with
 * -2, -3, ... when that exists. */
void rundir_default(const Config *c, char *dir, size_t len);
/* Where the run writes (--out, the default runs/... or none; c->out is set),
 * never over another run: a run there is refused (STATUS_BAD_INPUT, naming
 * --resume and --overwrite) unless --overwrite, which clears it. */
Status rundir_choose(Config *c, Error *e);

#endif
