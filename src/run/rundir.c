/* rundir.c - the run directory's files, in one table; where a run goes, and
 * never over another run. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ddpg/runlog.h"

/* Each row: the name, its temporary file, whether it marks a run, whether it
 * is written before the first step, and a CSV's header (updates.csv's is
 * "update", then the caller's metric names). */
const RunFileInfo RUN_FILES[RUN_FILE_COUNT] = {
    [RUN_FILE_EPISODES]   = {"episodes.csv",   RUN_TEMP_NONE,   0, 1,
                             "episode,env,return,length,global_step,wall_s"},
    [RUN_FILE_UPDATES]    = {"updates.csv",    RUN_TEMP_NONE,   0, 1, "update"},
    [RUN_FILE_PROBES]     = {"probes.csv",     RUN_TEMP_NONE,   0, 1, "episode,probe,action,q"},
    [RUN_FILE_EVAL]       = {"eval.csv",       RUN_TEMP_NONE,   0, 1,
                             "global_step,wall_s,mean_return,std_return,min_return,max_return,"
                             "q_start,discounted_return"},
    [RUN_FILE_PROGRESS]   = {"progress.csv",   RUN_TEMP_NONE,   0, 1,
                             "global_step,wall_s,episodes,env_steps_per_s,updates_per_s"},
    [RUN_FILE_CONFIG]     = {"config.json",    RUN_TEMP_FIXED,  1, 1, NULL},
    [RUN_FILE_SUMMARY]    = {"summary.json",   RUN_TEMP_FIXED,  1, 0, NULL},
    [RUN_FILE_CHECKPOINT] = {"checkpoint.bin", RUN_TEMP_FIXED,  0, 0, NULL},
    [RUN_FILE_REPORT]     = {"report.html",    RUN_TEMP_RANDOM, 0, 0, NULL},
};

void rundir_path(const char *dir, RunFile f, char *buf, size_t len) {
    snprintf(buf, len, "%s/%s", dir, RUN_FILES[f].name);
}

void rundir_temp_path(const char *dir, RunFile f, char *buf, size_t len) {
    snprintf(buf, len, "%s/.%s.tmp", dir, RUN_FILES[f].name);
}

int rundir_holds_run(const char *dir) {
    char path[RUNDIR_PATH_MAX];
    struct stat st;
    for (int f = 0; f < RUN_FILE_COUNT; f++) {
        rundir_path(dir, (RunFile)f, path, sizeof path);
        if (RUN_FILES[f].marks_run && stat(path, &st) == 0) return 1;
    }
    return 0;
}

/* Whether name is the temporary file of a file of the table. */
static int is_temp(const char *name) {
    size_t n = strlen(name);
    for (int f = 0; f < RUN_FILE_COUNT; f++) {
        const char *ours = RUN_FILES[f].name;
        size_t k = strlen(ours);
        int prefix = name[0] == '.' && strncmp(name + 1, ours, k) == 0;
        int tmp = n >= 5 && strcmp(name + n - 4, ".tmp") == 0;
        if (!prefix || !tmp) continue;
        if (RUN_FILES[f].temp == RUN_TEMP_FIXED && n == k + 5) return 1;
        if (RUN_FILES[f].temp == RUN_TEMP_RANDOM && n > k + 6 && name[k + 1] == '.') return 1;
    }
    return 0;
}

static Status remove_file(const char *path, Error *e) {
    if (unlink(path) == 0 || errno == ENOENT) return STATUS_OK;
    return error_set(e, STATUS_BAD_INPUT, "--overwrite: cannot remove '%s': %s", path,
                     strerror(errno));
}

Status rundir_clear(const char *dir, Error *e) {
    char path[RUNDIR_PATH_MAX];
    Status rc = STATUS_OK;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && rc == STATUS_OK && (de = readdir(d))) {
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (is_temp(de->d_name)) rc = remove_file(path, e);
    }
    if (d) closedir(d);
    for (int f = 0; f < RUN_FILE_COUNT && rc == STATUS_OK; f++) {
        rundir_path(dir, (RunFile)f, path, sizeof path);
        rc = remove_file(path, e);
    }
    return rc;
}

void rundir_default(const Config *c, char *dir, size_t len) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32], base[512];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(base, sizeof base, "runs/%s-%s-s%llu", stamp, c->env, (unsigned long long)c->seed);
    snprintf(dir, len, "%s", base);
    struct stat st;
    for (int k = 2; stat(dir, &st) == 0 && k < 1000; k++) snprintf(dir, len, "%s-%d", base, k);
}

Status rundir_choose(Config *c, Error *e) {
    if (c->resume[0] || c->no_out) return STATUS_OK;
    if (!c->out[0]) rundir_default(c, c->out, sizeof c->out);
    if (!rundir_holds_run(c->out)) return STATUS_OK;
    if (c->overwrite) return rundir_clear(c->out, e);
    char ckpt[RUNDIR_PATH_MAX];
    struct stat st;
    rundir_path(c->out, RUN_FILE_CHECKPOINT, ckpt, sizeof ckpt);
    return error_set(e, STATUS_BAD_INPUT, "--out %s already holds a run: %s--overwrite replaces "
                     "it (only the files ddpg_cuda writes are removed)", c->out,
                     stat(ckpt, &st) == 0 ? "--resume it continues it from its checkpoint, or "
                                          : "");
}
