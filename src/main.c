/* main.c - ddpg_cuda: parse the command line, pick a backend, then train,
 * resume a run, or evaluate a saved policy; write the report.
 *
 * Order matters: every check of the options and of the run directory, and
 * the memory the run needs, come before any large allocation; a run that
 * cannot start leaves nothing behind.
 *
 * Errors (status.h): each step returns a Status and fills one Error; main
 * prints it once, where the program stops, and exits with the status.
 * Notices and warnings go to stderr as they happen. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
static Status pick_backend(const Config *c, Backend **be, Error *e) {
    *be = NULL;
    if (strcmp(c->device, "cpu") != 0) {
        char why[256] = "";
        *be = backend_cuda_create(why, sizeof why);
        if (*be) return STATUS_OK;
        if (strcmp(c->device, "cuda") == 0)
            return error_set(e, STATUS_BAD_INPUT, "--device cuda: %s", why);
        fprintf(stderr, "notice: no usable GPU (%s); running on the CPU\n", why);
    }
    *be = backend_cpu_create(c->threads);
    return STATUS_OK;
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

/* The returns' statistics as --eval-only's one JSON line. */
static void print_eval(const char *path, const float *r, int n, uint64_t seed) {
    double mean = 0, var = 0, lo = r[0], hi = r[0];
    for (int i = 0; i < n; i++) mean += r[i] / n;
    for (int i = 0; i < n; i++) {
        var += (r[i] - mean) * (r[i] - mean) / n;
        lo = fmin(lo, r[i]), hi = fmax(hi, r[i]);
    }
    printf("{\"checkpoint\": \"%s\", \"mean\": %.6g, \"std\": %.6g, \"min\": %.6g, "
           "\"max\": %.6g, \"episodes\": %d, \"seed\": %llu}\n", path, mean, sqrt(var), lo, hi,
           n, (unsigned long long)seed);
}

/* --eval-only PATH: the checkpoint's actor, --eval-episodes deterministic
 * episodes from --seed's start states, one JSON line. */
static Status eval_only(const Config *cli, Error *e) {
    Config c;
    Backend *be = NULL;
    Status rc = checkpoint_read_config(cli->eval_only, &c, e);
    if (rc) return rc;
    c.seed = cli->seed;
    c.eval_episodes = cli->eval_episodes;
    snprintf(c.device, sizeof c.device, "%s", cli->device);
    c.threads = cli->threads;
    if ((rc = pick_backend(&c, &be, e))) return rc;
    const EnvSpec *spec = env_find(c.env); /* checkpoint_read_config checked it */
    if (!be->env_supported(be, spec)) {
        rc = error_set(e, STATUS_BAD_INPUT, "--eval-only: the %s backend cannot step %s; "
                       "--device cpu can", be->name, spec->id);
        be->destroy(be);
        return rc;
    }
    DdpgParams p = {.obs_dim = spec->obs_dim, .act_dim = spec->act_dim,
                    .hidden = c.hidden, .n_hidden = c.n_hidden, .bounds = env_bounds(spec),
                    .batch_size = 1, .seed = c.seed, .layer_norm = c.layer_norm};
    Ddpg d;
    Evaluator ev;
    memset(&ev, 0, sizeof ev);
    float *r = NULL;
    /* the actor alone: the checkpoint's critic is not loaded */
    rc = ddpg_create(&d, be, &p, e);
    if (rc == STATUS_OK) rc = checkpoint_load_actor(&d, cli->eval_only, e);
    if (rc == STATUS_OK) rc = evaluator_create(&ev, be, &d, spec, c.eval_episodes, c.seed, 0, e);
    if (rc == STATUS_OK && !(r = malloc(sizeof(float) * (size_t)c.eval_episodes)))
        rc = error_set(e, STATUS_BAD_INPUT, "out of host memory");
    if (rc == STATUS_OK) {
        evaluator_run(&ev, r);
        print_eval(cli->eval_only, r, c.eval_episodes, c.seed);
    }
    free(r);
    evaluator_destroy(&ev);
    ddpg_destroy(&d);
    be->destroy(be);
    return rc;
}

/* A training run: what main's steps share. */
typedef struct {
    Config cfg;
    char ckpt[RUNDIR_PATH_MAX]; /* --resume: the checkpoint it continues from, else "" */
    Backend *be;
    Trainer tr;
    RunLog log;
    int fresh_dir;              /* runlog_open made the run directory's files */
    RunSummary sum;
} Run;

/* The command line (and --config) into cli, with the scaled and the
 * environment's defaults, checked. *done: --help or --version was printed. */
static Status parse(Config *cli, int argc, char **argv, int *done, Error *e) {
    config_defaults(cli);
    Status rc = config_parse(cli, argc, argv, stdout, done, e);
    if (rc || *done) return rc;
    config_scale_defaults(cli);
    rc = config_env_defaults(cli, e);
    return rc ? rc : config_validate(cli, e);
}

/* The run's configuration (with --resume DIR, the checkpoint's with what the
 * command line may change), settled, and its directory chosen. */
static Status configure(const Config *cli, Run *r, Error *e) {
    r->cfg = *cli;
    if (cli->resume[0]) {
        Config saved;
        rundir_path(cli->resume, RUN_FILE_CHECKPOINT, r->ckpt, sizeof r->ckpt);
        Status rc = checkpoint_read_config(r->ckpt, &saved, e);
        if (rc) return rc;
        if ((rc = config_merge_resume(&saved, cli, &r->cfg, e))) return rc;
    }
    config_settle(&r->cfg, stderr);
    return rundir_choose(&r->cfg, e);
}

/* --resume: the checkpoint into the trainer, the logs cut back to it. */
static Status resume(Run *r, Error *e) {
    Status rc = checkpoint_load(&r->tr, r->ckpt, e);
    if (rc) return rc;
    if (r->tr.prog.global_step > r->cfg.total_steps)
        return error_set(e, STATUS_BAD_INPUT, "--total-steps %lld: the run is already at %lld "
                         "env steps", (long long)r->cfg.total_steps,
                         (long long)r->tr.prog.global_step);
    return runlog_reopen(&r->log, r->cfg.out, r->tr.prog.csv_bytes, e);
}

/* Everything before the first step: the backend, the memory check, the run
 * directory's first files, the buffers, a resume's checkpoint, config.json.
 * A start that fails removes the files it made. */
static Status start(Run *r, Error *e) {
    const Config *c = &r->cfg;
    Status rc = pick_backend(c, &r->be, e);
    if (rc) return rc;
    trainer_init(&r->tr, c, r->be, NULL);
    rc = trainer_check_memory(&r->tr, e);
    if (rc == STATUS_OK && c->out[0] && !r->ckpt[0]) {
        rc = runlog_open(&r->log, c->out, DDPG_METRIC_NAMES, r->tr.agent.n_metrics, e);
        r->fresh_dir = rc == STATUS_OK;
    }
    if (rc == STATUS_OK) rc = trainer_alloc(&r->tr, e);
    if (rc == STATUS_OK && r->ckpt[0]) rc = resume(r, e);
    if (rc == STATUS_OK && c->out[0])
        rc = runlog_write_config(&r->log, c, r->be->name, r->be->device_name, r->be->threads, e);
    if (rc && r->fresh_dir) runlog_discard(&r->log);
    if (rc == STATUS_OK && c->out[0]) r->tr.log = &r->log;
    return rc;
}

/* The run to its end, then its logs closed and summary.json written. */
static Status train(Run *r, Error *e) {
    const Config *c = &r->cfg;
    if (!c->quiet) {
        printf("ddpg_cuda %s | %s (%s) | %d envs | %lld steps%s | hidden %d layers of %d\n",
               DDPG_VERSION, r->be->name, r->be->device_name, c->envs,
               (long long)c->total_steps, r->ckpt[0] ? " (resumed)" : "", c->n_hidden,
               c->hidden[0]);
        printf("run directory: %s\n", c->out[0] ? c->out : "none (--no-out)");
    }
    Status rc = trainer_run(&r->tr, &r->sum, e);
    if (!c->out[0]) return rc;
    if (runlog_close(&r->log, e) && rc != STATUS_IO) {
        rc = STATUS_IO;
        r->sum.status = "error", r->sum.error = "a log file could not be written";
    }
    if (runlog_write_summary(&r->log, &r->sum, e)) rc = STATUS_IO;
    return rc;
}

/* The report, and the closing line: what the run left in its directory. */
static void report(const Run *r, Status rc) {
    const char *dir = r->cfg.out;
    if (!dir[0]) return;
    int report_ok = rc != STATUS_IO && make_report(dir) == 0;
    if (r->cfg.quiet && rc == STATUS_OK) return;
    printf("wrote %s: the logs, %s", dir, RUN_FILES[RUN_FILE_SUMMARY].name);
    if (r->tr.checkpoint_step >= 0)
        printf(", %s (env step %lld)", RUN_FILES[RUN_FILE_CHECKPOINT].name,
               (long long)r->tr.checkpoint_step);
    if (report_ok) printf(", %s", RUN_FILES[RUN_FILE_REPORT].name);
    printf("\n");
}

/* Frees what start made (each part only when it was made). */
static void run_destroy(Run *r) {
    runlog_close(&r->log, NULL);
    trainer_destroy(&r->tr);
    if (r->be) r->be->destroy(r->be);
}

int main(int argc, char **argv) {
    static Run r; /* large, and one per process */
    Config cli;
    Error e = {STATUS_OK, ""};
    int done = 0;
    Status rc = parse(&cli, argc, argv, &done, &e);
    if (rc == STATUS_OK && !done && cli.eval_only[0]) {
        rc = eval_only(&cli, &e);
    } else if (rc == STATUS_OK && !done) {
        rc = configure(&cli, &r, &e); /* the configuration and the run directory */
        if (rc == STATUS_OK) rc = start(&r, &e);
        if (rc == STATUS_OK) {
            rc = train(&r, &e);
            report(&r, rc);
        }
        run_destroy(&r);
    }
    /* a stop by a signal is said as such, not as an error */
    if (rc == STATUS_SIGINT || rc == STATUS_SIGTERM)
        fprintf(stderr, "%s\n", e.msg);
    else
        error_print(&e, stderr);
    return rc;
}
