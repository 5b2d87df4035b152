/* train.c - the DDPG training loop over N vectorized environments.
 *
 * One iteration: act (uniform random during --start-steps, else mu(s) plus
 * exploration noise), step all envs, store (s, a, r, s'_true, terminated),
 * then --updates-per-step gradient updates once --update-after steps are in.
 * The iteration only enqueues backend ops, so on the GPU it is captured once
 * as a CUDA Graph and replayed; the host reads results back every so often.
 */
#include "ddpg/train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "ddpg/checkpoint.h"
#include "ddpg/elem.h"

/* Time step of the Ornstein-Uhlenbeck noise process, as Stable-Baselines3's
 * OrnsteinUhlenbeckActionNoise (dt = 1e-2). */
#define OU_DT 1e-2f

static volatile sig_atomic_t g_stop = 0; /* the signal that stops the run */
static void on_signal(int sig) { g_stop = sig; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}


/* ---- one iteration (enqueue only: no host reads) ---- */

typedef struct {
    Trainer *t;
    int random_actions, do_updates;
    int64_t begun; /* the agent's updates before the iteration */
} Iteration;

static void iteration(void *ctx) {
    const Iteration *it = ctx;
    Trainer *t = it->t;
    Backend *be = t->be;
    const Config *c = t->cfg;
    int n = c->envs;
    /* from the same clock each time it runs: a capture that fails runs it twice */
    t->agent.updates = it->begun;
    if (it->random_actions) {
        be->uniform_actions(be, t->act, n, t->bounds, c->seed, t->rng_ctr + CTR_WARMUP);
    } else {
        ddpg_act(&t->agent, t->obs, n, t->act, &t->act_work);
        NoiseSpec ns = {.kind = c->noise, .sigma = (float)c->noise_sigma,
                        .ou_theta = (float)c->ou_theta, .ou_dt = OU_DT, .ou_state = t->ou_state};
        be->add_noise(be, t->act, n, t->bounds, ns, c->seed, t->rng_ctr + CTR_NOISE);
    }
    be->env_step(be, &t->env, t->act, t->real_next_obs, t->rew, t->term, t->trunc, t->next_obs);
    /* Store the true next observation and `terminated`: a time-limit
     * truncation is not terminal, so the critic bootstraps through it; a
     * terminal state is (the TD target drops Q(s')). With
     * --truncation-as-terminal the envs flag truncations as terminal too (the
     * notebook's done = terminated or truncated). */
    be->replay_insert(be, &t->replay, t->obs, t->act, t->rew, t->real_next_obs, t->term, n);
    be->copy(be, t->obs, t->next_obs, sizeof(float) * n * t->spec->obs_dim);
    if (it->do_updates)
        for (int k = 0; k < c->updates_per_step; k++) ddpg_update(&t->agent, &t->replay);
}

/* Runs one iteration: through its graph where the backend has graphs (one
 * per steady phase, and per pattern of TD3's policy steps: graph.h), else op
 * by op. The agent counts the updates it begins (ddpg_update_batch) in host
 * code, which a graph's replay does not run: so the count is set here, the
 * same whether the iteration ran, was captured or was replayed. */
static void run_iteration(Trainer *t, int random_actions, int do_updates) {
    int k = do_updates ? t->cfg->updates_per_step : 0;
    int64_t begun = t->agent.updates;
    Iteration it = {t, random_actions, do_updates, begun};
    BackendGraph *g =
        iteration_graph(&t->graphs, random_actions, k, begun, t->agent.p.policy_delay);
    if (g)
        backend_graph_run(t->be, g, iteration, &it);
    else
        iteration(&it);
    t->agent.updates = begun + k;
}

/* ---- the run ---- */

typedef struct {
    double t0, last_progress;          /* process clock */
    int64_t first_steps, first_updates; /* where this process took the run up */
    int64_t last_steps, last_updates;   /* at the last progress line */
} Clock;

void trainer_evaluate(Trainer *t, float *returns) { evaluator_run(&t->eval, returns); }

/* The terminal's width, or 0 when stdout is not a terminal. */
static int terminal_width(void) {
    struct winsize ws;
    if (!isatty(fileno(stdout))) return 0;
    return ioctl(fileno(stdout), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

/* One progress line: on a terminal it is redrawn in place and keeps to the
 * terminal's width, dropping the least useful fields first; elsewhere (logs,
 * CI) it is printed whole, one line each time. */
static void print_progress(const Trainer *t, double wall, double sps, double ups, int final) {
    const TrainProgress *g = &t->prog;
    const Config *c = t->cfg;
    double eta = g->global_step > 0 && wall > 0
                     ? (c->total_steps - g->global_step) / (g->global_step / wall) : 0;
    char f[9][64];
    snprintf(f[0], 64, "%s %5.1f%%", final ? "done " : "train",
             100.0 * g->global_step / c->total_steps);
    snprintf(f[1], 64, "steps %lld/%lld", (long long)g->global_step, (long long)c->total_steps);
    snprintf(f[2], 64, "ETA %.0fs", eta);
    snprintf(f[3], 64, "episodes %lld", (long long)g->episodes);
    snprintf(f[4], 64, "return %.1f", g->last_return);
    if (g->last_eval_step >= 0)
        snprintf(f[5], 64, "eval %.1f", g->last_eval);
    else
        snprintf(f[5], 64, "eval -");
    snprintf(f[6], 64, "%.0f env-steps/s", sps);
    snprintf(f[7], 64, "%.0f updates/s", ups);
    snprintf(f[8], 64, "%.1fs", wall);
    /* the order fields are given up in, on a narrow terminal */
    static const int drop[] = {7, 3, 1, 8, 2, 6, 4};
    int keep[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, width = terminal_width();
    for (int k = 0; width > 0 && k < 7; k++) {
        int len = 0;
        for (int i = 0; i < 9; i++) len += keep[i] ? (int)strlen(f[i]) + 3 : 0;
        if (len - 3 < width) break;
        keep[drop[k]] = 0;
    }
    printf("%s", width > 0 ? "\r\033[K" : "");
    for (int i = 0, first = 1; i < 9; i++)
        if (keep[i]) printf("%s%s", first ? "" : " | ", f[i]), first = 0;
    printf("%s", width > 0 && !final ? "" : "\n");
    fflush(stdout);
}

static void progress(Trainer *t, Clock *ck, double now, int final) {
    const TrainProgress *g = &t->prog;
    double wall = t->wall_before + (now - ck->t0), dt = now - ck->last_progress;
    double sps = dt > 0 ? (g->global_step - ck->last_steps) / dt : 0;
    double ups = dt > 0 ? (t->agent.updates - ck->last_updates) / dt : 0;
    if (t->log) runlog_progress(t->log, g->global_step, wall, g->episodes, sps, ups);
    if (!t->cfg->quiet) print_progress(t, wall, sps, ups, final);
    if (t->log) runlog_flush(t->log, NULL);
    ck->last_progress = now;
    ck->last_steps = g->global_step;
    ck->last_updates = t->agent.updates;
}

static void summarize(const Trainer *t, double wall, Status st, const Error *err,
                      RunSummary *s) {
    const TrainProgress *g = &t->prog;
    memset(s, 0, sizeof *s);
    s->status = st == STATUS_DIVERGED ? "diverged"
                : st == STATUS_SIGINT || st == STATUS_SIGTERM ? "interrupted"
                : st != STATUS_OK ? "error"
                : g->solved_step >= 0 ? "solved" : "completed";
    s->device = t->be->name;
    s->device_name = t->be->device_name;
    s->env_id = t->spec->id;
    s->solved_return = t->spec->solved_return;
    s->envs = t->cfg->envs;
    s->env_steps = g->global_step;
    s->updates = t->agent.updates;
    s->wall_s = wall;
    s->env_steps_per_s = wall > 0 ? g->global_step / wall : 0;
    s->updates_per_s = wall > 0 ? t->agent.updates / wall : 0;
    s->have_eval = g->last_eval_step >= 0;
    s->final_eval_return = g->final_eval;
    s->best_eval_return = g->best_eval;
    s->solved_step = g->solved_step;
    s->solved_wall_s = g->solved_wall_s;
    s->checkpoint_step = t->checkpoint_step;
    s->diverged_update = t->divergence.update;
    s->diverged_what = t->divergence.seen ? t->divergence.what : NULL;
    s->error = st == STATUS_IO && err->status == STATUS_IO ? err->msg : NULL;
}

/* The run log could not be written (a full disk, an I/O error): into err,
 * unless it holds a failure already. */
static Status log_failed(Trainer *t, Error *err) { return runlog_error(t->log, err); }

/* After a sync, every finished episode and full metric window into the log;
 * then, with a run directory, the checkpoint of the run so far into
 * DIR/checkpoint.bin, with the run log's sizes (a resume cuts the logs back
 * to them). STATUS_OK; STATUS_DIVERGED (no checkpoint written, the last good
 * one stays; said at the end of the run); or STATUS_IO, in err. */
static Status save(Trainer *t, double wall, Error *err) {
    t->be->sync(t->be);
    train_drain_episodes(t, wall);
    train_write_metrics(t);
    if (t->divergence.seen) return STATUS_DIVERGED;
    if (!t->log) return STATUS_OK;
    t->prog.wall_s = wall;
    if (t->log->failed || runlog_sync(t->log, t->prog.csv_bytes, NULL) != 0)
        return log_failed(t, err); /* no checkpoint of a run whose logs are broken */
    char path[1100];
    rundir_path(t->log->dir, RUN_FILE_CHECKPOINT, path, sizeof path);
    Error e;
    error_clear(&e);
    Status rc = checkpoint_save(t, path, &e);
    /* 3 (a tensor not finite) is said once, at the end: t is marked diverged */
    if (rc == STATUS_IO) error_set(err, STATUS_IO, "%s", e.msg);
    if (rc == 0) t->checkpoint_step = t->prog.global_step;
    return (Status)rc;
}

/* The start of this process's part of the run: the signals that stop it,
 * the clock, and for a new run the envs' first observations and the
 * untrained actor's evaluation. */
static void run_begin(Trainer *t, Clock *ck) {
    const Config *c = t->cfg;
    TrainProgress *g = &t->prog;
    g_stop = 0;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    double t0 = now_s();
    *ck = (Clock){t0, t0, g->global_step, t->agent.updates, g->global_step, t->agent.updates};
    t->wall_before = g->wall_s;
    if (!t->resumed) {
        t->be->env_reset(t->be, &t->env, t->obs);
        if (c->eval_every > 0) train_eval(t, 0.0);
        g->next_eval = c->eval_every;
    }
}

/* Whether the run is over: all its steps, a signal, a divergence, or an
 * evaluation at the solved threshold with --stop-when-solved. */
static int run_over(const Trainer *t) {
    const TrainProgress *g = &t->prog;
    return g->global_step >= t->cfg->total_steps || g_stop || t->divergence.seen ||
           (t->cfg->stop_when_solved && g->solved_step >= 0);
}

/* The last checkpoint, first, so that what follows (the last partial metric
 * window, the last probes and evaluation) is written again, in its place, by
 * a resumed run. */
static Status final_save(Trainer *t, double wall, Status st, Error *err) {
    Status saved = save(t, wall, err);
    return st != STATUS_OK ? st : saved;
}

/* The last partial metric window; then, when nothing went wrong, the last
 * probes and the final evaluation (unless one was made at this step). */
static void final_evaluation(Trainer *t, double wall, Status st) {
    const TrainProgress *g = &t->prog;
    train_flush_metrics(t);
    t->be->sync(t->be);
    train_write_metrics(t);
    if (st != STATUS_OK) return;
    train_maybe_probe(t, 1);
    if (t->cfg->eval_every > 0 && g->last_eval_step != g->global_step) train_eval(t, wall);
}

/* What stopped the run, into err: a divergence before all else (with an
 * I/O error seen before it), then an I/O error, then a signal. */
static Status stop_message(const Trainer *t, Status st, Error *err) {
    const TrainDivergence *d = &t->divergence;
    if (d->seen) {
        char ckpt[1200] = "no checkpoint was written", path[1100];
        if (t->checkpoint_step >= 0) {
            rundir_path(t->log->dir, RUN_FILE_CHECKPOINT, path, sizeof path);
            snprintf(ckpt, sizeof ckpt, "the last good checkpoint is %s (env step %lld)", path,
                     (long long)t->checkpoint_step);
        }
        Error before = *err;
        error_clear(err);
        return error_set(err, STATUS_DIVERGED, "diverged: %s is not finite in the updates up "
                         "to %lld; %s%s%s", d->what, (long long)d->update, ckpt,
                         before.status ? "; and " : "", before.status ? before.msg : "");
    }
    if (g_stop && st == STATUS_OK)
        return error_set(err, g_stop == SIGTERM ? STATUS_SIGTERM : STATUS_SIGINT,
                         "interrupted: stopping after %lld env steps",
                         (long long)t->prog.global_step);
    return st;
}

/* The end of the run, whatever stopped it: checkpoint, last records, what
 * stopped it, the summary and the closing progress line. */
static Status run_end(Trainer *t, Clock *ck, Status st, RunSummary *s, Error *err) {
    double end = now_s(), wall = t->wall_before + (end - ck->t0);
    st = final_save(t, wall, st, err);
    final_evaluation(t, wall, st);
    if (t->log && runlog_flush(t->log, NULL) != 0 && (st == STATUS_OK || st == STATUS_IO))
        st = log_failed(t, err);
    st = stop_message(t, st, err);
    t->prog.wall_s = wall;
    summarize(t, wall, st, err, s);
    /* the closing line reports this process's rates */
    ck->last_progress = ck->t0;
    ck->last_steps = ck->first_steps, ck->last_updates = ck->first_updates;
    progress(t, ck, end, 1);
    return st;
}

Status trainer_run(Trainer *t, RunSummary *s, Error *err) {
    const Config *c = t->cfg;
    TrainProgress *g = &t->prog;
    int n = c->envs;
    Clock ck;
    run_begin(t, &ck);
    int64_t next_save = c->save_every > 0 ? (g->global_step / c->save_every + 1) * c->save_every
                                          : 0;
    Status st = STATUS_OK;
    while (st == STATUS_OK && !run_over(t)) {
        int random_actions = g->global_step < c->start_steps;
        /* The update check follows the env step, as in the notebook. */
        int64_t after = g->global_step + n;
        int64_t filled = g->replay_filled + n < c->replay_size ? g->replay_filled + n
                                                               : c->replay_size;
        int do_updates = after >= c->update_after && filled >= c->batch_size;
        run_iteration(t, random_actions, do_updates);
        g->global_step = after;
        g->replay_filled = filled;
        g->vsteps++;
        if (do_updates) {
            g->metric_count += c->updates_per_step;
            if (g->metric_count >= g->metric_window) train_flush_metrics(t);
        }
        double now = now_s(), wall = t->wall_before + (now - ck.t0);
        if (g->vsteps % t->env.max_steps == 0 || g->vsteps % TRAIN_DRAIN_EVERY == 0) {
            train_drain_episodes(t, wall); /* waits for the stream */
            train_write_metrics(t);
            train_maybe_probe(t, 0);
        }
        if (c->eval_every > 0 && g->global_step >= g->next_eval) {
            train_eval(t, wall);
            while (g->next_eval <= g->global_step) g->next_eval += c->eval_every;
        }
        if (t->log && c->save_every > 0 && g->global_step >= next_save) {
            while (next_save <= g->global_step) next_save += c->save_every;
            st = save(t, wall, err);
        }
        if (now - ck.last_progress >= 2.0) progress(t, &ck, now, 0);
        if (st == STATUS_OK && t->log && t->log->failed) st = log_failed(t, err);
    }
    return run_end(t, &ck, st, s, err);
}
