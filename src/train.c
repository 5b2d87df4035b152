/* train.c - the DDPG training loop over N vectorized environments.
 *
 * One iteration: act (uniform random during --start-steps, else mu(s) plus
 * exploration noise), step all envs, store (s, a, r, s'_true, terminated),
 * then --updates-per-step gradient updates once --update-after steps are in.
 * The iteration only enqueues backend ops, so on the GPU it is captured once
 * as a CUDA Graph and replayed; the host reads results back every so often.
 */
#include "ddpg/train.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ddpg/elem.h"

/* Time step of the Ornstein-Uhlenbeck noise process, as Stable-Baselines3's
 * OrnsteinUhlenbeckActionNoise (dt = 1e-2). */
#define OU_DT 1e-2f

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

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
    t->solved_step = -1;
    t->best_eval = -INFINITY;
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
    t->metric_window = expected / 5000 + 1;
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

/* ---- host-side bookkeeping ---- */

typedef struct {
    double t0, last_progress;
    int64_t last_steps, last_updates;
} Clock;

static void drain_episodes(Trainer *t, double wall) {
    Backend *be = t->be;
    EpisodeLog *L = &t->env.log;
    int64_t count;
    be->to_host(be, &count, L->count, sizeof count);
    int64_t k = count - t->log_read;
    if (k <= 0) return;
    if (k > L->capacity) { /* cannot happen for Pendulum; keep the newest */
        t->log_read = count - L->capacity;
        k = L->capacity;
    }
    float *ret = t->h_ret;
    int32_t *len = t->h_len, *env = t->h_env;
    int64_t *step = t->h_step, *order = t->h_order;
    be->to_host(be, ret, L->ret, sizeof(float) * L->capacity);
    be->to_host(be, len, L->len, sizeof(int32_t) * L->capacity);
    be->to_host(be, env, L->env, sizeof(int32_t) * L->capacity);
    be->to_host(be, step, L->step, sizeof(int64_t) * L->capacity);
    /* Records in (step, env) order: the GPU appends them in any order. */
    for (int64_t i = 0; i < k; i++) order[i] = (t->log_read + i) % L->capacity;
    for (int64_t i = 1; i < k; i++) { /* insertion sort: nearly sorted input */
        int64_t x = order[i], j = i - 1;
        while (j >= 0 && (step[order[j]] > step[x] ||
                          (step[order[j]] == step[x] && env[order[j]] > env[x]))) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = x;
    }
    for (int64_t i = 0; i < k; i++) {
        int64_t s = order[i];
        t->episodes++;
        t->last_return = ret[s];
        if (t->log)
            runlog_episode(t->log, t->episodes, env[s], ret[s], len[s],
                           (step[s] + 1) * (int64_t)t->cfg->envs, wall);
    }
    t->log_read = count;
}

/* Writes the metric rows whose copies have landed; call after a sync. */
static void write_metrics(Trainer *t) {
    for (int k = 0; k < t->metric_pending; k++) {
        const float *sums = t->h_metrics + (size_t)k * DDPG_N_METRICS;
        float means[DDPG_N_METRICS];
        for (int i = 0; i < DDPG_N_METRICS; i++) means[i] = sums[i] / t->metric_n[k];
        if (t->log) runlog_update(t->log, t->metric_at[k], means, DDPG_N_METRICS);
    }
    t->metric_pending = 0;
}

/* Ends the current metric window: its sums are copied back without waiting
 * (written by write_metrics after the next sync) and the accumulators zeroed. */
static void flush_metrics(Trainer *t) {
    if (t->metric_count == 0) return;
    Backend *be = t->be;
    if (t->metric_pending == TRAIN_METRIC_SLOTS) { /* not expected: the loop syncs often */
        be->sync(be);
        write_metrics(t);
    }
    int k = t->metric_pending++;
    be->to_host_async(be, t->h_metrics + (size_t)k * DDPG_N_METRICS, t->agent.metrics,
                      sizeof(float) * DDPG_N_METRICS);
    t->metric_at[k] = t->updates;
    t->metric_n[k] = t->metric_count;
    be->fill(be, t->agent.metrics, 0.0f, DDPG_N_METRICS);
    t->metric_count = 0;
}

/* As the notebook: the probe states are drawn once the replay holds enough,
 * then probed every probe_every episodes, and once at the end. */
static void maybe_probe(Trainer *t, int final) {
    const Config *c = t->cfg;
    Probes *p = &t->probes;
    if (c->probe_n <= 0) return;
    if (!p->ready) {
        int64_t need = c->probe_n > c->batch_size ? c->probe_n : c->batch_size;
        int64_t filled = t->global_step < c->replay_size ? t->global_step : c->replay_size;
        if (filled < need || t->episodes == 0) return;
        probes_draw(p, &t->replay);
    }
    int64_t bucket = t->episodes / c->probe_every;
    if (!final && bucket == t->last_probe_bucket) return;
    if (final && bucket == t->last_probe_bucket && t->last_probe_bucket >= 0 &&
        t->episodes % c->probe_every == 0)
        return;
    t->last_probe_bucket = bucket;
    probes_run(p);
    if (t->log) runlog_probe(t->log, t->episodes, p->n, p->h_act, p->h_q);
}

void trainer_evaluate(Trainer *t, float *returns) { evaluator_run(&t->eval, returns); }

static void run_eval(Trainer *t, double wall) {
    int ne = t->cfg->eval_episodes;
    float *r = t->h_eval_returns;
    evaluator_run(&t->eval, r);
    double mean = 0;
    for (int i = 0; i < ne; i++) mean += r[i];
    mean /= ne;
    if (t->log) runlog_eval(t->log, t->global_step, wall, r, ne, NULL);
    t->have_eval = 1;
    t->last_eval_step = t->global_step;
    t->last_eval = t->final_eval = mean;
    if (mean > t->best_eval) t->best_eval = mean;
    if (t->solved_step < 0 && mean >= -200.0) {
        t->solved_step = t->global_step;
        t->solved_wall_s = wall;
    }
}

static void progress(Trainer *t, Clock *ck, double now, int final) {
    double wall = now - ck->t0, dt = now - ck->last_progress;
    double sps = dt > 0 ? (t->global_step - ck->last_steps) / dt : 0;
    double ups = dt > 0 ? (t->updates - ck->last_updates) / dt : 0;
    if (t->log) runlog_progress(t->log, t->global_step, wall, t->episodes, sps, ups);
    if (!t->cfg->quiet) {
        char ev[32] = "-";
        if (t->have_eval) snprintf(ev, sizeof ev, "%.1f", t->last_eval);
        /* On a terminal one line that updates in place, with the ETA from the
         * whole-run rate; otherwise plain periodic lines (logs, CI). */
        int tty = isatty(fileno(stdout));
        double pct = 100.0 * t->global_step / t->cfg->total_steps;
        double eta = t->global_step > 0 && wall > 0
                         ? (t->cfg->total_steps - t->global_step) / (t->global_step / wall)
                         : 0;
        printf("%s%s %5.1f%% steps %lld/%lld | ETA %.0fs | episodes %lld | return %.1f | "
               "eval %s | %.0f env-steps/s | %.0f updates/s | %.1fs%s",
               tty ? "\r\033[K" : "", final ? "done " : "train", pct,
               (long long)t->global_step, (long long)t->cfg->total_steps, eta,
               (long long)t->episodes, t->last_return, ev, sps, ups, wall,
               tty && !final ? "" : "\n");
        fflush(stdout);
    }
    if (t->log) runlog_flush(t->log);
    ck->last_progress = now;
    ck->last_steps = t->global_step;
    ck->last_updates = t->updates;
}

static void summarize(const Trainer *t, double wall, RunSummary *s) {
    memset(s, 0, sizeof *s);
    s->device = t->be->name;
    s->device_name = t->be->device_name;
    s->envs = t->cfg->envs;
    s->env_steps = t->global_step;
    s->updates = t->updates;
    s->wall_s = wall;
    s->env_steps_per_s = wall > 0 ? t->global_step / wall : 0;
    s->updates_per_s = wall > 0 ? t->updates / wall : 0;
    s->have_eval = t->have_eval;
    s->final_eval_return = t->final_eval;
    s->best_eval_return = t->best_eval;
    s->solved_step = t->solved_step;
    s->solved_wall_s = t->solved_wall_s;
}

int trainer_run(Trainer *t, RunSummary *s) {
    const Config *c = t->cfg;
    Backend *be = t->be;
    int n = c->envs;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    t->last_probe_bucket = -1;
    t->last_return = NAN;

    be->env_reset(be, &t->env, t->obs);
    Clock ck = {now_s(), 0, 0, 0};
    ck.last_progress = ck.t0;
    if (c->eval_every > 0) run_eval(t, 0.0);
    int64_t next_eval = c->eval_every;

    while (t->global_step < c->total_steps && !g_stop &&
           !(c->stop_when_solved && t->solved_step >= 0)) {
        int random_actions = t->global_step < c->start_steps;
        /* The update check follows the env step, as in the notebook. */
        int64_t after = t->global_step + n;
        int64_t filled = after < c->replay_size ? after : c->replay_size;
        int do_updates = after >= c->update_after && filled >= c->batch_size;
        run_iteration(t, random_actions, do_updates);
        t->global_step = after;
        t->vsteps++;
        if (do_updates) {
            t->updates += c->updates_per_step;
            t->metric_count += c->updates_per_step;
            if (t->metric_count >= t->metric_window) flush_metrics(t);
        }
        double now = now_s();
        if (t->vsteps % t->env.max_steps == 0 || t->vsteps % 100 == 0) {
            drain_episodes(t, now - ck.t0); /* waits for the stream */
            write_metrics(t);
            maybe_probe(t, 0);
        }
        if (c->eval_every > 0 && t->global_step >= next_eval) {
            run_eval(t, now - ck.t0);
            while (next_eval <= t->global_step) next_eval += c->eval_every;
        }
        if (now - ck.last_progress >= 2.0) progress(t, &ck, now, 0);
    }
    be->sync(be);
    double end = now_s();
    drain_episodes(t, end - ck.t0);
    flush_metrics(t);
    be->sync(be);
    write_metrics(t);
    maybe_probe(t, 1);
    if (c->eval_every > 0 && t->last_eval_step != t->global_step) run_eval(t, end - ck.t0);
    if (g_stop) fprintf(stderr, "interrupted: stopping after %lld env steps\n",
                        (long long)t->global_step);
    summarize(t, end - ck.t0, s);
    ck.last_progress = ck.t0; /* the closing line reports whole-run rates */
    ck.last_steps = ck.last_updates = 0;
    progress(t, &ck, end, 1);
    return g_stop ? 130 : 0;
}
