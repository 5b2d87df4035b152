/* rundir.c - where a run goes, and never over another run. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ddpg/runlog.h"

/* Every file this program writes in a run directory (and their temporary
 * files, ".NAME.tmp"): what --overwrite removes, and nothing else. */
static const char *const OURS[] = {"config.json",  "summary.json", "episodes.csv",
                                   "updates.csv",  "probes.csv",   "eval.csv",
                                   "progress.csv", "report.html",  "checkpoint.bin"};
#define N_OURS (sizeof OURS / sizeof OURS[0])

static int exists(const char *dir, const char *name) {
    char path[1200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

int rundir_holds_run(const char *dir) {
    return exists(dir, "config.json") || exists(dir, "summary.json");
}

/* report.py's temporary page: .report.html.<random>.tmp */
static int report_temp(const char *name) {
    size_t n = strlen(name);
    return strncmp(name, ".report.html.", 13) == 0 && n > 17 && !strcmp(name + n - 4, ".tmp");
}

int rundir_clear(const char *dir, FILE *err) {
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (report_temp(de->d_name) && unlink(path) != 0 && errno != ENOENT) {
            fprintf(err, "error: --overwrite: cannot remove '%s': %s\n", path, strerror(errno));
            closedir(d);
            return 2;
        }
    }
    if (d) closedir(d);
    for (size_t i = 0; i < 2 * N_OURS; i++) {
        char path[1200];
        if (i < N_OURS)
            snprintf(path, sizeof path, "%s/%s", dir, OURS[i]);
        else
            snprintf(path, sizeof path, "%s/.%s.tmp", dir, OURS[i - N_OURS]);
        if (unlink(path) != 0 && errno != ENOENT) {
            fprintf(err, "error: --overwrite: cannot remove '%s': %s\n", path, strerror(errno));
            return 2;
        }
    }
    return 0;
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
