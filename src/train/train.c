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
} Iteration;

static void iteration(void *ctx) {
    const Iteration *it = ctx;
    Trainer *t = it->t;
    Backend *be = t->be;
    const Config *c = t->cfg;
    int n = c->envs;
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

/* Which of the iteration's updates are policy steps (ddpg_policy_step):
 * bit j for the agent's update updates + j + 1; all of them for DDPG. A
 * graph replays a fixed sequence of ops, so TD3's delay needs one graph per
 * pattern; -1 when the pattern does not fit a mask (more than 64 updates an
 * iteration with a delay). */
static int64_t policy_pattern(const Trainer *t) {
    int k = t->cfg->updates_per_step, delay = t->agent.p.policy_delay;
    if (delay == 1) return 0; /* one pattern: every update */
    if (k > 64) return -1;
    /* 64 updates (the scaled default at 4096 envs) fill the mask; with a delay
     * of 2 or more it is never all ones, so never the -1 above */
    uint64_t mask = 0;
    for (int j = 0; j < k; j++)
        if ((t->prog.updates + j + 1) % delay == 0) mask |= (uint64_t)1 << j;
    return (int64_t)mask;
}

/* The graph of an update iteration with this pattern (captured at its first
 * use), or NULL: run op by op. */
static BackendGraph *update_graph(Trainer *t, int64_t pattern) {
    if (pattern < 0) return NULL;
    for (int i = 0; i < t->n_update_graphs; i++)
        if (t->update_pattern[i] == pattern) return &t->graph_update[i];
    if (t->n_update_graphs == TRAIN_UPDATE_GRAPHS) return NULL;
    t->update_pattern[t->n_update_graphs] = pattern;
    return &t->graph_update[t->n_update_graphs++];
}

/* Runs one iteration: the two steady phases through a CUDA Graph each when
 * the backend has them (one per pattern of TD3's delay), the rare mixed ones
 * op by op. The agent's update clock is set from the loop's first: a
 * graph's replay does not run the host code that counts. */
static void run_iteration(Trainer *t, int random_actions, int do_updates) {
    Iteration it = {t, random_actions, do_updates};
    t->agent.updates = t->prog.updates;
    BackendGraph *g = NULL;
    if (random_actions && !do_updates)
        g = &t->graph_explore;
    else if (!random_actions && do_updates)
        g = update_graph(t, policy_pattern(t));
    if (g)
        backend_graph_run(t->be, g, iteration, &it);
    else
        iteration(&it);
    t->agent.updates = t->prog.updates + (do_updates ? t->cfg->updates_per_step : 0);
}

/* ---- the run ---- */

typedef struct {
    double t0, last_progress; /* process clock */
    int64_t last_steps, last_updates;
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
    double ups = dt > 0 ? (g->updates - ck->last_updates) / dt : 0;
    if (t->log) runlog_progress(t->log, g->global_step, wall, g->episodes, sps, ups);
    if (!t->cfg->quiet) print_progress(t, wall, sps, ups, final);
    if (t->log) runlog_flush(t->log, NULL);
    ck->last_progress = now;
    ck->last_steps = g->global_step;
    ck->last_updates = g->updates;
}

static void summarize(const Trainer *t, double wall, int rc, RunSummary *s) {
    const TrainProgress *g = &t->prog;
    memset(s, 0, sizeof *s);
    s->status = rc == 3 ? "diverged" : rc == 130 || rc == 143 ? "interrupted" : rc ? "error"
                : g->solved_step >= 0 ? "solved" : "completed";
    s->device = t->be->name;
    s->device_name = t->be->device_name;
    s->env_id = t->spec->id;
    s->solved_return = t->spec->solved_return;
    s->envs = t->cfg->envs;
    s->env_steps = g->global_step;
    s->updates = g->updates;
    s->wall_s = wall;
    s->env_steps_per_s = wall > 0 ? g->global_step / wall : 0;
    s->updates_per_s = wall > 0 ? g->updates / wall : 0;
    s->have_eval = g->last_eval_step >= 0;
    s->final_eval_return = g->final_eval;
    s->best_eval_return = g->best_eval;
    s->solved_step = g->solved_step;
    s->solved_wall_s = g->solved_wall_s;
    s->checkpoint_step = t->checkpoint_step;
    s->diverged_update = t->diverged_update;
    s->diverged_what = t->diverged ? t->diverged_what : NULL;
    s->error = rc == 4 && t->error[0] ? t->error : NULL;
}

/* The run log could not be written: say so once, and remember it for the
 * summary (a full disk, an I/O error). */
static void log_failed(Trainer *t) {
    if (t->error[0]) return;
    Error e = {STATUS_OK, ""};
    runlog_error(t->log, &e);
    error_print(&e, stderr);
    snprintf(t->error, sizeof t->error, "%s", e.msg);
}

/* After a sync, every finished episode and full metric window into the log;
 * then, with a run directory, the checkpoint of the run so far into
 * DIR/checkpoint.bin, with the run log's sizes (a resume cuts the logs back
 * to them). 0, 3 (diverged: no checkpoint written, the last good one
 * stays) or 4 (an I/O error, said on stderr). */
static int save(Trainer *t, double wall) {
    t->be->sync(t->be);
    train_drain_episodes(t, wall);
    train_write_metrics(t);
    if (t->diverged) return 3;
    if (!t->log) return 0;
    t->prog.wall_s = wall;
    if (t->log->failed || runlog_sync(t->log, t->prog.csv_bytes, NULL) != 0) {
        log_failed(t);
        return 4; /* no checkpoint of a run whose logs are broken: the last one stays */
    }
    char path[1100];
    rundir_path(t->log->dir, RUN_FILE_CHECKPOINT, path, sizeof path);
    Error e = {STATUS_OK, ""};
    int rc = checkpoint_save(t, path, &e);
    if (rc == STATUS_IO) error_print(&e, stderr); /* a divergence is said once, below */
    if (rc == 0) t->checkpoint_step = t->prog.global_step;
    return rc;
}

int trainer_run(Trainer *t, RunSummary *s) {
    const Config *c = t->cfg;
    Backend *be = t->be;
    TrainProgress *g = &t->prog;
    int n = c->envs;
    g_stop = 0;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    const int64_t start_steps = g->global_step, start_updates = g->updates;
    Clock ck = {now_s(), 0, start_steps, start_updates};
    ck.last_progress = ck.t0;
    t->wall_before = g->wall_s;
    if (!t->resumed) {
        be->env_reset(be, &t->env, t->obs);
        if (c->eval_every > 0) train_eval(t, 0.0);
        g->next_eval = c->eval_every;
    }
    int64_t next_save = c->save_every > 0 ? (g->global_step / c->save_every + 1) * c->save_every
                                          : 0;
    int rc = 0;
    while (g->global_step < c->total_steps && !g_stop && !t->diverged && rc == 0 &&
           !(c->stop_when_solved && g->solved_step >= 0)) {
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
            g->updates += c->updates_per_step;
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
            rc = save(t, wall);
        }
        if (now - ck.last_progress >= 2.0) progress(t, &ck, now, 0);
        if (t->log && t->log->failed && rc == 0) {
            log_failed(t);
            rc = 4;
        }
    }
    double end = now_s(), wall = t->wall_before + (end - ck.t0);
    /* the checkpoint first, so that what follows (the last partial metric
     * window, the last probes and evaluation) is written again, in its
     * place, by a resumed run */
    int saved = save(t, wall);
    if (rc == 0) rc = saved;
    train_flush_metrics(t);
    be->sync(be);
    train_write_metrics(t);
    if (rc == 0) {
        train_maybe_probe(t, 1);
        if (c->eval_every > 0 && g->last_eval_step != g->global_step) train_eval(t, wall);
    }
    if (t->log && runlog_flush(t->log, NULL) != 0 && (rc == 0 || rc == 4)) {
        log_failed(t);
        rc = 4;
    }
    if (t->diverged) {
        rc = 3;
        fprintf(stderr, "error: diverged: %s is not finite in the updates up to %lld; ",
                t->diverged_what, (long long)t->diverged_update);
        if (t->checkpoint_step >= 0)
            fprintf(stderr, "the last good checkpoint is %s/checkpoint.bin (env step %lld)\n",
                    t->log->dir, (long long)t->checkpoint_step);
        else
            fprintf(stderr, "no checkpoint was written\n");
    }
    if (g_stop) {
        /* on a line of its own, below the progress line */
        fprintf(stderr, "%sinterrupted: stopping after %lld env steps\n",
                !c->quiet && isatty(fileno(stdout)) ? "\n" : "", (long long)g->global_step);
        if (rc == 0) rc = g_stop == SIGTERM ? 143 : 130;
    }
    g->wall_s = wall;
    summarize(t, wall, rc, s);
    /* the closing line reports this process's rates */
    ck.last_progress = ck.t0;
    ck.last_steps = start_steps, ck.last_updates = start_updates;
    progress(t, &ck, end, 1);
    return rc;
}
