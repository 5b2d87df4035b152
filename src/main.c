/* main.c - ddpg_cuda: parse the command line, pick a backend, then train,
 * resume a run, or evaluate a saved policy; write the report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddpg/backend.h"
#include "ddpg/checkpoint.h"
#include "ddpg/config.h"
#include "ddpg/elem.h"
#include "ddpg/evaluate.h"
#include "ddpg/runlog.h"
#include "ddpg/train.h"

/* Refusals that need more than one option's range. */
static int config_check(const Config *c, FILE *err) {
    if (c->n_hidden < 1) {
        fprintf(err, "error: --hidden: at least one hidden layer\n");
        return 2;
    }
    if (c->resume[0] && c->eval_only[0]) {
        fprintf(err, "error: --resume and --eval-only: one at a time\n");
        return 2;
    }
    if (c->resume[0] && c->out[0] && strcmp(c->out, c->resume) != 0) {
        fprintf(err, "error: --out %s: a resumed run writes to its own directory (--resume %s)\n",
                c->out, c->resume);
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

/* --eval-only PATH: the checkpoint's actor, --eval-episodes deterministic
 * episodes from --seed's start states, one JSON line. */
static int eval_only(const Config *cli) {
    Config c;
    if (checkpoint_read_config(cli->eval_only, &c, stderr)) return 2;
    c.seed = cli->seed;
    c.eval_episodes = cli->eval_episodes;
    snprintf(c.device, sizeof c.device, "%s", cli->device);
    c.threads = cli->threads;
    Backend *be = pick_backend(&c, stderr);
    if (!be) return 2;
    DdpgParams p = {.obs_dim = PENDULUM_OBS_DIM, .act_dim = PENDULUM_ACT_DIM,
                    .hidden = c.hidden, .n_hidden = c.n_hidden,
                    .bounds = {1, {-PENDULUM_MAX_TORQUE}, {PENDULUM_MAX_TORQUE}},
                    .batch_size = 1, .seed = c.seed};
    Ddpg d;
    Evaluator e;
    memset(&e, 0, sizeof e);
    int rc = ddpg_create(&d, be, &p) ? 2 : checkpoint_load_actor(&d, cli->eval_only, stderr);
    if (rc == 0) rc = evaluator_create(&e, be, &d, c.eval_episodes, c.seed, stderr);
    if (rc == 0) {
        int n = c.eval_episodes;
        float *r = malloc(sizeof(float) * (size_t)n);
        if (!r) {
            fprintf(stderr, "error: out of host memory\n");
            rc = 2;
        } else {
            evaluator_run(&e, r);
            double mean = 0, var = 0, lo = r[0], hi = r[0];
            for (int i = 0; i < n; i++) mean += r[i] / n;
            for (int i = 0; i < n; i++) {
                var += (r[i] - mean) * (r[i] - mean) / n;
                lo = fmin(lo, r[i]), hi = fmax(hi, r[i]);
            }
            printf("{\"checkpoint\": \"%s\", \"mean\": %.6g, \"std\": %.6g, \"min\": %.6g, "
                   "\"max\": %.6g, \"episodes\": %d, \"seed\": %llu}\n", cli->eval_only, mean,
                   sqrt(var), lo, hi, n, (unsigned long long)c.seed);
            free(r);
        }
    }
    evaluator_destroy(&e);
    ddpg_destroy(&d);
    be->destroy(be);
    return rc;
}

int main(int argc, char **argv) {
    Config cli, cfg;
    config_defaults(&cli);
    int rc = config_parse(&cli, argc, argv, stdout, stderr);
    if (rc == 1) return 0;
    if (rc || config_check(&cli, stderr)) return 2;
    if (cli.eval_only[0]) return eval_only(&cli);
    cfg = cli;
    char ckpt[1100] = "";
    if (cli.resume[0]) { /* the checkpoint's configuration, and what may change */
        Config saved;
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", cli.resume);
        if (checkpoint_read_config(ckpt, &saved, stderr) ||
            config_merge_resume(&saved, &cli, &cfg, stderr))
            return 2;
    }

    Backend *be = pick_backend(&cfg, stderr);
    if (!be) return 2;
    Trainer tr;
    RunLog log;
    rc = trainer_create(&tr, &cfg, be, NULL, stderr);
    if (rc == 0 && ckpt[0]) {
        rc = checkpoint_load(&tr, ckpt, stderr);
        if (rc == 0 && tr.prog.global_step > cfg.total_steps) {
            fprintf(stderr, "error: --total-steps %lld: the run is already at %lld env steps\n",
                    (long long)cfg.total_steps, (long long)tr.prog.global_step);
            rc = 2;
        }
    }
    if (rc == 0 && cfg.out[0]) {
        rc = ckpt[0] ? runlog_reopen(&log, cfg.out, tr.prog.csv_bytes, stderr)
                     : runlog_open(&log, cfg.out, DDPG_METRIC_NAMES, DDPG_N_METRICS, stderr);
        if (rc == 0) {
            runlog_write_config(&log, &cfg, be->name, be->device_name);
            tr.log = &log;
        }
    }
    if (rc) {
        trainer_destroy(&tr);
        be->destroy(be);
        return 2;
    }
    if (!cfg.quiet)
        printf("ddpg_cuda %s | %s (%s) | %d envs | %lld steps%s | hidden %d layers of %d\n",
               DDPG_VERSION, be->name, be->device_name, cfg.envs, (long long)cfg.total_steps,
               ckpt[0] ? " (resumed)" : "", cfg.n_hidden, cfg.hidden[0]);
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
