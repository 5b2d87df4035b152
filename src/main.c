/* main.c - ddpg_cuda: parse the command line, pick a backend, train, report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddpg/backend.h"
#include "ddpg/config.h"
#include "ddpg/runlog.h"
#include "ddpg/train.h"

/* Refusals that need more than one option's range. */
static int config_check(const Config *c, FILE *err) {
    if (c->n_hidden < 1) {
        fprintf(err, "error: --hidden: at least one hidden layer\n");
        return 2;
    }
    return 0;
}

/* --device auto: the GPU when there is one, else the CPU with a notice. */
static Backend *pick_backend(const Config *c, FILE *err) {
    if (strcmp(c->device, "cpu") == 0) return backend_cpu_create(c->threads);
    char why[256] = "";
    Backend *be = backend_cuda_create(why, sizeof why);
    if (be) return be;
    if (strcmp(c->device, "cuda") == 0) {
        fprintf(err, "error: --device cuda: %s\n", why);
        return NULL;
    }
    fprintf(err, "notice: no usable GPU (%s); running on the CPU\n", why);
    return backend_cpu_create(c->threads);
}

/* Runs scripts/report.py on the run directory when it and python3 are there. */
static void make_report(const char *argv0, const char *dir) {
    char script[2048];
    const char *slash = strrchr(argv0, '/');
    int base = slash ? (int)(slash - argv0) : 0;
    snprintf(script, sizeof script, "%.*s%sscripts/report.py", base, argv0, slash ? "/" : "");
    if (access(script, R_OK) != 0) return;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "python3 '%s' --quiet '%s'", script, dir);
    if (strchr(dir, '\'') || system(cmd) != 0)
        fprintf(stderr, "notice: no report written (python3 with plotly is needed: run "
                        "scripts/setup.sh)\n");
}

int main(int argc, char **argv) {
    Config cfg;
    config_defaults(&cfg);
    int rc = config_parse(&cfg, argc, argv, stdout, stderr);
    if (rc == 1) return 0;
    if (rc) return 2;
    if (config_check(&cfg, stderr)) return 2;

    Backend *be = pick_backend(&cfg, stderr);
    if (!be) return 2;

    Trainer tr;
    if (trainer_create(&tr, &cfg, be, NULL, stderr)) {
        trainer_destroy(&tr);
        be->destroy(be);
        return 2;
    }
    RunLog log;
    if (cfg.out[0]) {
        if (runlog_open(&log, cfg.out, DDPG_METRIC_NAMES, DDPG_N_METRICS, stderr)) {
            trainer_destroy(&tr);
            be->destroy(be);
            return 2;
        }
        runlog_write_config(&log, &cfg, be->name, be->device_name);
        tr.log = &log;
    }
    if (!cfg.quiet)
        printf("ddpg_cuda %s | %s (%s) | %d envs | %lld steps | hidden %d layers of %d\n",
               DDPG_VERSION, be->name, be->device_name, cfg.envs, (long long)cfg.total_steps,
               cfg.n_hidden, cfg.hidden[0]);
    RunSummary sum;
    rc = trainer_run(&tr, &sum);
    if (cfg.out[0]) {
        runlog_close(&log);
        runlog_write_summary(&log, &sum);
    }
    trainer_destroy(&tr);
    be->destroy(be);
    if (cfg.out[0]) make_report(argv[0], cfg.out);
    return rc;
}
