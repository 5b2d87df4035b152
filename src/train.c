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

/* Pendulum episodes last exactly 200 steps, so between two drains (at most
 * every 100 vectorized steps) each env finishes at most once. */
static int64_t episode_log_capacity(int envs) { return (int64_t)envs + 1024; }

void trainer_tensors(Trainer *t, TensorList *l) {
    const Config *c = t->cfg;
    int n = c->envs, od = PENDULUM_OBS_DIM, ad = PENDULUM_ACT_DIM;
    size_t no = (size_t)n * od, na = (size_t)n * ad;
    tensors_why(l, "--envs %d", n);
    env_tensors(&t->env, n, c->seed, episode_log_capacity(n), "env.", l);
    mlp_work_tensors(&t->act_work, &t->agent.actor.shape, n, 0, "act.actor.", l);
    TENSOR_ADD(l, "act.", "obs", &t->obs, no, TENSOR_STATE);
    TENSOR_ADD(l, "act.", "ou_state", &t->ou_state, na, TENSOR_STATE);
    TENSOR_ADD(l, "act.", "real_next_obs", &t->real_next_obs, no, TENSOR_WORK);
    TENSOR_ADD(l, "act.", "next_obs", &t->next_obs, no, TENSOR_WORK);
    TENSOR_ADD(l, "act.", "act", &t->act, na, TENSOR_WORK);
    TENSOR_ADD(l, "act.", "rew", &t->rew, (size_t)n, TENSOR_WORK);
    TENSOR_ADD(l, "act.", "term", &t->term, (size_t)n, TENSOR_WORK);
    TENSOR_ADD(l, "act.", "trunc", &t->trunc, (size_t)n, TENSOR_WORK);
    TENSOR_ADD(l, "", "rng_ctr", &t->rng_ctr, N_CTR, TENSOR_STATE);
    tensors_why(l, "--replay-size %lld", (long long)c->replay_size);
    replay_tensors(&t->replay, c->replay_size, od, ad, "replay.", l);
}

void train_progress_tensors(Trainer *t, TensorList *l) {
    TrainProgress *g = &t->prog;
    const char *p = "train.";
    TENSOR_ADD_HOST(l, p, "global_step", &g->global_step, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "vsteps", &g->vsteps, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "updates", &g->updates, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "episodes", &g->episodes, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "log_read", &g->log_read, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "replay_filled", &g->replay_filled, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "next_eval", &g->next_eval, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "last_eval_step", &g->last_eval_step, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "solved_step", &g->solved_step, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "last_probe_bucket", &g->last_probe_bucket, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "metric_window", &g->metric_window, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "metric_count", &g->metric_count, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "last_eval", &g->last_eval, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "best_eval", &g->best_eval, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "final_eval", &g->final_eval, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "solved_wall_s", &g->solved_wall_s, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "last_return", &g->last_return, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "wall_s", &g->wall_s, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, p, "csv_bytes", g->csv_bytes, RUNLOG_N_CSV, TENSOR_STATE);
}

/* Host buffers, pinned on the GPU. */
static void host_tensors(Trainer *t, TensorList *l) {
    size_t cap = (size_t)episode_log_capacity(t->cfg->envs);
    TENSOR_ADD(l, "host.", "metrics", &t->h_metrics, (size_t)DDPG_N_METRICS * TRAIN_METRIC_SLOTS,
               TENSOR_WORK);
    tensors_why(l, "--envs %d", t->cfg->envs);
    TENSOR_ADD(l, "host.log.", "ret", &t->h_ret, cap, TENSOR_WORK);
    TENSOR_ADD(l, "host.log.", "len", &t->h_len, cap, TENSOR_WORK);
    TENSOR_ADD(l, "host.log.", "env", &t->h_env, cap, TENSOR_WORK);
    TENSOR_ADD(l, "host.log.", "step", &t->h_step, cap, TENSOR_WORK);
    TENSOR_ADD(l, "host.log.", "order", &t->h_order, cap, TENSOR_WORK);
    tensors_why(l, "--eval-episodes %d", t->cfg->eval_episodes);
    TENSOR_ADD(l, "host.", "eval_returns", &t->h_eval_returns, (size_t)t->cfg->eval_episodes,
               TENSOR_WORK);
}

int trainer_create(Trainer *t, const Config *c, Backend *be, RunLog *log, FILE *err) {
    memset(t, 0, sizeof *t);
    t->cfg = c;
    t->be = be;
    t->log = log;
    t->bounds.dim = PENDULUM_ACT_DIM;
    t->bounds.low[0] = (float)-PENDULUM_MAX_TORQUE;
    t->bounds.high[0] = (float)PENDULUM_MAX_TORQUE;
    TrainProgress *g = &t->prog;
    g->solved_step = -1;
    g->last_eval_step = -1;
    g->last_probe_bucket = -1;
    g->best_eval = -INFINITY;
    g->last_return = NAN;
    t->checkpoint_step = -1;
    DdpgParams p = {.obs_dim = PENDULUM_OBS_DIM,
                    .act_dim = PENDULUM_ACT_DIM,
                    .hidden = c->hidden,
                    .n_hidden = c->n_hidden,
                    .bounds = t->bounds,
                    .batch_size = c->batch_size,
                    .gamma = (float)c->gamma,
                    .tau = (float)c->tau,
                    .grad_clip = (float)c->grad_clip,
                    .actor_lr = (float)c->actor_lr,
                    .critic_lr = (float)c->critic_lr,
                    .seed = c->seed};
    if (ddpg_create(&t->agent, be, &p)) return 2;
    TensorList l, h;
    tensors_init(&l);
    tensors_init(&h);
    trainer_tensors(t, &l);
    host_tensors(t, &h);
    int rc = tensors_alloc(be, &l, err) || tensors_alloc_host(be, &h, err);
    tensors_release(&l);
    tensors_release(&h);
    if (rc) return 2;
    if (c->eval_every > 0 &&
        evaluator_create(&t->eval, be, &t->agent, c->eval_episodes, c->seed, err))
        return 2;
    if (c->probe_n > 0 && probes_create(&t->probes, be, &t->agent, c->probe_n, c->seed, err))
        return 2;

    /* updates.csv holds window means so that it stays under ~5000 rows. */
    int64_t first = c->update_after > c->batch_size ? c->update_after : c->batch_size;
    int64_t vec_steps = (c->total_steps - first) / c->envs + 1;
    int64_t expected = vec_steps > 0 ? vec_steps * c->updates_per_step : 1;
    g->metric_window = expected / 5000 + 1;
    return 0;
}

void trainer_destroy(Trainer *t) {
    Backend *be = t->be;
    if (!be) return;
    backend_graph_free(be, &t->graph_explore);
    backend_graph_free(be, &t->graph_update);
    probes_destroy(&t->probes);
    evaluator_destroy(&t->eval);
    TensorList l, h;
    tensors_init(&l);
    tensors_init(&h);
    trainer_tensors(t, &l);
    host_tensors(t, &h);
    tensors_free(be, &l);
    tensors_free_host(be, &h);
    tensors_release(&l);
    tensors_release(&h);
    ddpg_destroy(&t->agent);
    memset(t, 0, sizeof *t);
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
        NoiseSpec ns = {c->noise, (float)c->noise_sigma, (float)c->ou_theta, OU_DT, t->ou_state};
        be->add_noise(be, t->act, n, t->bounds, ns, c->seed, t->rng_ctr + CTR_NOISE);
    }
    be->env_step(be, &t->env, t->act, t->real_next_obs, t->rew, t->term, t->trunc, t->next_obs);
    /* Store the true next observation and `terminated` only: a time-limit
     * truncation is not terminal, so the critic bootstraps through it. The
     * notebook's done = terminated or truncated is reproduced on request;
     * Pendulum never terminates, so that flag is exactly `truncated`. */
    const float *done = c->truncation_as_terminal ? t->trunc : t->term;
    be->replay_insert(be, &t->replay, t->obs, t->act, t->rew, t->real_next_obs, done, n);
    be->copy(be, t->obs, t->next_obs, sizeof(float) * n * PENDULUM_OBS_DIM);
    if (it->do_updates)
        for (int k = 0; k < c->updates_per_step; k++) ddpg_update(&t->agent, &t->replay);
}

/* Runs one iteration: the two steady phases through a CUDA Graph each when
 * the backend has them, the rare mixed ones op by op. */
static void run_iteration(Trainer *t, int random_actions, int do_updates) {
    Iteration it = {t, random_actions, do_updates};
    if (random_actions && !do_updates)
        backend_graph_run(t->be, &t->graph_explore, iteration, &it);
    else if (!random_actions && do_updates)
        backend_graph_run(t->be, &t->graph_update, iteration, &it);
    else
        iteration(&it);
}

/* ---- the run ---- */

typedef struct {
    double t0, last_progress; /* process clock */
    int64_t last_steps, last_updates;
} Clock;

void trainer_evaluate(Trainer *t, float *returns) { evaluator_run(&t->eval, returns); }

static void progress(Trainer *t, Clock *ck, double now, int final) {
    const TrainProgress *g = &t->prog;
    double wall = t->wall_before + (now - ck->t0), dt = now - ck->last_progress;
    double sps = dt > 0 ? (g->global_step - ck->last_steps) / dt : 0;
    double ups = dt > 0 ? (g->updates - ck->last_updates) / dt : 0;
    if (t->log) runlog_progress(t->log, g->global_step, wall, g->episodes, sps, ups);
    if (!t->cfg->quiet) {
        char ev[32] = "-";
        if (g->last_eval_step >= 0) snprintf(ev, sizeof ev, "%.1f", g->last_eval);
        /* On a terminal one line that updates in place, with the ETA from the
         * whole-run rate; otherwise plain periodic lines (logs, CI). */
        int tty = isatty(fileno(stdout));
        double pct = 100.0 * g->global_step / t->cfg->total_steps;
        double eta = g->global_step > 0 && wall > 0
                         ? (t->cfg->total_steps - g->global_step) / (g->global_step / wall)
                         : 0;
        printf("%s%s %5.1f%% steps %lld/%lld | ETA %.0fs | episodes %lld | return %.1f | "
               "eval %s | %.0f env-steps/s | %.0f updates/s | %.1fs%s",
               tty ? "\r\033[K" : "", final ? "done " : "train", pct,
               (long long)g->global_step, (long long)t->cfg->total_steps, eta,
               (long long)g->episodes, g->last_return, ev, sps, ups, wall,
               tty && !final ? "" : "\n");
        fflush(stdout);
    }
    if (t->log) runlog_flush(t->log);
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
    if (runlog_sync(t->log, t->prog.csv_bytes) != 0) {
        fprintf(stderr, "error: cannot write the run log in '%s': %s\n", t->log->dir,
                strerror(errno));
        return 4;
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/checkpoint.bin", t->log->dir);
    int rc = checkpoint_save(t, path, stderr);
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
    Clock ck = {now_s(), 0, g->global_step, g->updates};
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
        if (g->vsteps % t->env.max_steps == 0 || g->vsteps % 100 == 0) {
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
        fprintf(stderr, "\ninterrupted: stopping after %lld env steps\n",
                (long long)g->global_step);
        if (rc == 0) rc = g_stop == SIGTERM ? 143 : 130;
    }
    g->wall_s = wall;
    summarize(t, wall, rc, s);
    ck.last_progress = ck.t0; /* the closing line reports this process's rates */
    progress(t, &ck, end, 1);
    return rc;
}
