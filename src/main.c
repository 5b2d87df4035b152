/* main.c - ddpg_cuda: parse the command line, pick a backend, then train,
 * resume a run, or evaluate a saved policy; write the report.
 *
 * Order matters: every check of the options and of the run directory, and
 * the memory the run needs, come before any large allocation; a run that
 * cannot start leaves nothing behind. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ddpg/backend.h"
#include "ddpg/checkpoint.h"
#include "ddpg/config.h"
#include "ddpg/env.h"
#include "ddpg/evaluate.h"
#include "ddpg/runlog.h"
#include "ddpg/train.h"

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

/* scripts/report.py beside the program's real file (a checkout), or in
 * ../share/ddpg_cuda/ (make install); 0, or -1 when neither is there. */
static int find_report(char *script, size_t len) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = 0;
    const char *places[] = {"%s/scripts/report.py", "%s/../share/ddpg_cuda/report.py"};
    for (int i = 0; i < 2; i++) {
        snprintf(script, len, places[i], exe);
        if (access(script, R_OK) == 0) return 0;
    }
    return -1;
}

/* Runs report.py on dir, writing the table's report.html (no shell: any
 * bytes in the path are fine). Returns 0, or -1 after a notice with
 * report.py's own message (a missing report is not an error). */
static int make_report(const char *dir) {
    char script[PATH_MAX + 64], page[RUNDIR_PATH_MAX];
    rundir_path(dir, RUN_FILE_REPORT, page, sizeof page);
    if (find_report(script, sizeof script) != 0) {
        fprintf(stderr, "notice: no report written: scripts/report.py is not beside the "
                        "program (make install puts it in PREFIX/share/ddpg_cuda)\n");
        return -1;
    }
    int pipefd[2];
    if (pipe(pipefd) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], STDERR_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        execlp("python3", "python3", script, "--quiet", "-o", page, dir, (char *)NULL);
        fprintf(stderr, "report: python3 cannot be run: %s\n", strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    /* all of report.py's stderr, keeping its last 2 KB: the cause comes last */
    char msg[2048] = "", buf[512];
    size_t got = 0;
    ssize_t r;
    while (pid > 0 && (r = read(pipefd[0], buf, sizeof buf)) > 0) {
        if (got + (size_t)r >= sizeof msg) { /* drop the oldest bytes */
            size_t drop = got + (size_t)r - (sizeof msg - 1);
            memmove(msg, msg + drop, got - drop);
            got -= drop;
        }
        memcpy(msg + got, buf, (size_t)r);
        got += (size_t)r;
    }
    msg[got] = 0;
    close(pipefd[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    /* report.py's last line says why (its messages start "report: ") */
    char *last = msg, *line;
    for (line = strtok(msg, "\n"); line; line = strtok(NULL, "\n")) last = line;
    fprintf(stderr, "notice: no report written (report.py exited %d): %s\n",
            WIFEXITED(status) ? WEXITSTATUS(status) : -1, *last ? last : "no message");
    return -1;
}

/* --eval-only PATH: the checkpoint's actor, --eval-episodes deterministic
 * episodes from --seed's start states, one JSON line. */
static int eval_only(const Config *cli) {
    Config c;
    Error err = {STATUS_OK, ""};
    if (checkpoint_read_config(cli->eval_only, &c, &err)) {
        error_print(&err, stderr);
        return 2;
    }
    c.seed = cli->seed;
    c.eval_episodes = cli->eval_episodes;
    snprintf(c.device, sizeof c.device, "%s", cli->device);
    c.threads = cli->threads;
    Backend *be = pick_backend(&c, stderr);
    if (!be) return 2;
    const EnvSpec *spec = env_find(c.env); /* checkpoint_read_config checked it */
    if (!be->env_supported(be, spec)) {
        fprintf(stderr, "error: --eval-only: the %s backend cannot step %s; --device cpu can\n",
                be->name, spec->id);
        be->destroy(be);
        return 2;
    }
    DdpgParams p = {.obs_dim = spec->obs_dim, .act_dim = spec->act_dim,
                    .hidden = c.hidden, .n_hidden = c.n_hidden, .bounds = env_bounds(spec),
                    .batch_size = 1, .seed = c.seed, .layer_norm = c.layer_norm};
    Ddpg d;
    Evaluator e;
    memset(&e, 0, sizeof e);
    int rc = ddpg_create(&d, be, &p) ? 2 : checkpoint_load_actor(&d, cli->eval_only, &err);
    error_print(&err, stderr);
    /* the actor alone: the checkpoint's critic is not loaded */
    if (rc == 0) rc = evaluator_create(&e, be, &d, spec, c.eval_episodes, c.seed, 0, stderr);
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

/* The closing line: what the run left in its directory. */
static void say_written(const char *dir, const Trainer *t, int report_ok) {
    printf("wrote %s: the logs, %s", dir, RUN_FILES[RUN_FILE_SUMMARY].name);
    if (t->checkpoint_step >= 0)
        printf(", %s (env step %lld)", RUN_FILES[RUN_FILE_CHECKPOINT].name,
               (long long)t->checkpoint_step);
    if (report_ok) printf(", %s", RUN_FILES[RUN_FILE_REPORT].name);
    printf("\n");
}

int main(int argc, char **argv) {
    Config cli, cfg;
    config_defaults(&cli);
    int rc = config_parse(&cli, argc, argv, stdout, stderr);
    if (rc == 1) return 0;
    if (rc) return 2;
    config_scale_defaults(&cli);
    if (config_env_defaults(&cli, stderr) || config_validate(&cli, stderr)) return 2;
    if (cli.eval_only[0]) return eval_only(&cli);
    cfg = cli;
    char ckpt[RUNDIR_PATH_MAX] = "";
    Error err = {STATUS_OK, ""};
    if (cli.resume[0]) { /* the checkpoint's configuration, and what may change */
        Config saved;
        rundir_path(cli.resume, RUN_FILE_CHECKPOINT, ckpt, sizeof ckpt);
        if (checkpoint_read_config(ckpt, &saved, &err)) {
            error_print(&err, stderr);
            return 2;
        }
        if (config_merge_resume(&saved, &cli, &cfg, stderr)) return 2;
    }
    config_settle(&cfg, stderr);
    if (rundir_choose(&cfg, &err)) {
        error_print(&err, stderr);
        return 2;
    }

    Backend *be = pick_backend(&cfg, stderr);
    if (!be) return 2;
    Trainer tr;
    RunLog log;
    memset(&log, 0, sizeof log);
    trainer_init(&tr, &cfg, be, NULL);
    rc = trainer_check_memory(&tr, stderr);
    int fresh_dir = 0; /* the run directory is new: a failed start removes it */
    if (rc == 0 && cfg.out[0] && !ckpt[0]) {
        rc = runlog_open(&log, cfg.out, DDPG_METRIC_NAMES, tr.agent.n_metrics, &err);
        fresh_dir = rc == 0;
    }
    if (rc == 0) rc = trainer_alloc(&tr, stderr);
    if (rc == 0 && ckpt[0]) {
        rc = checkpoint_load(&tr, ckpt, &err);
        if (rc == 0 && tr.prog.global_step > cfg.total_steps)
            rc = error_set(&err, STATUS_BAD_INPUT, "--total-steps %lld: the run is already at "
                           "%lld env steps", (long long)cfg.total_steps,
                           (long long)tr.prog.global_step);
        if (rc == 0) rc = runlog_reopen(&log, cfg.out, tr.prog.csv_bytes, &err);
    }
    if (rc == 0 && cfg.out[0])
        rc = runlog_write_config(&log, &cfg, be->name, be->device_name, be->threads, &err);
    error_print(&err, stderr);
    if (rc) {
        if (fresh_dir) runlog_discard(&log);
        trainer_destroy(&tr);
        be->destroy(be);
        return rc;
    }
    if (cfg.out[0]) tr.log = &log;
    if (!cfg.quiet) {
        printf("ddpg_cuda %s | %s (%s) | %d envs | %lld steps%s | hidden %d layers of %d\n",
               DDPG_VERSION, be->name, be->device_name, cfg.envs, (long long)cfg.total_steps,
               ckpt[0] ? " (resumed)" : "", cfg.n_hidden, cfg.hidden[0]);
        printf("run directory: %s\n", cfg.out[0] ? cfg.out : "none (--no-out)");
    }
    RunSummary sum;
    rc = trainer_run(&tr, &sum);
    int report_ok = 0;
    if (cfg.out[0]) {
        if (runlog_close(&log, rc == 4 ? NULL : &err) != 0 && rc != 4)
            rc = 4, sum.status = "error", sum.error = "a log file could not be written";
        if (runlog_write_summary(&log, &sum, &err) != 0) rc = 4;
        error_print(&err, stderr);
        if (rc != 4) report_ok = make_report(cfg.out) == 0;
        if (!cfg.quiet || rc) say_written(cfg.out, &tr, report_ok);
    }
    trainer_destroy(&tr);
    be->destroy(be);
    return rc;
}
