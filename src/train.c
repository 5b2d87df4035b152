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
#include "ddpg/errcheck.h"

enum { CTR_WARMUP, CTR_NOISE, CTR_PROBE, N_CTR };

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

/* "256,256": the hidden widths as --hidden takes them, into buf. */
static const char *hidden_list(const Config *c, char *buf, size_t len) {
    size_t k = 0;
    buf[0] = 0;
    for (int l = 0; l < c->n_hidden && k < len; l++)
        k += (size_t)snprintf(buf + k, len - k, "%s%d", l ? "," : "", c->hidden[l]);
    return buf;
}

/* The hidden widths summed: activation floats per row of one pass. */
static double hidden_width(const Config *c) {
    double w = 0;
    for (int l = 0; l < c->n_hidden; l++) w += c->hidden[l];
    return w;
}

static int alloc_or_report(Backend *be, void **p, size_t bytes, const char *what, FILE *err) {
    *p = be->alloc(be, bytes);
    if (!*p) {
        fprintf(err, "error: %s: cannot allocate %.1f MiB for %s on the %s device\n", be->name,
                bytes / 1048576.0, what, be->name);
        return 2;
    }
    return 0;
}
#define ALLOC(ptr, bytes, what) \
    if (alloc_or_report(be, (void **)&(ptr), (bytes), (what), err)) return 2

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
    int n = c->envs, od = PENDULUM_OBS_DIM, ad = PENDULUM_ACT_DIM;

    /* Pendulum episodes last exactly 200 steps, so between two drains (at
     * most every 100 vectorized steps) each env finishes at most once. */
    if (env_create(&t->env, be, n, c->seed, (int64_t)n + 1024) ||
        env_create(&t->eval_env, be, c->eval_episodes, c->seed ^ 0x9E3779B97F4A7C15ULL,
                   c->eval_episodes)) {
        fprintf(err, "error: %s: cannot allocate the state of %d environments\n", be->name, n);
        return 2;
    }
    if (replay_create(&t->replay, be, c->replay_size, od, ad)) {
        fprintf(err, "error: %s: cannot allocate the replay buffer: --replay-size %lld needs "
                "%.1f MiB\n", be->name, (long long)c->replay_size,
                (double)c->replay_size * (2 * od + ad + 2) * 4 / 1048576.0);
        return 2;
    }
    DdpgParams p = {.obs_dim = od,
                    .act_dim = ad,
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
    if (ddpg_create(&t->agent, be, &p)) {
        /* what the networks need: parameters, targets, gradients and both Adam
         * moments, and one batch's activations and their gradients per pass */
        MlpShape sa, sc;
        mlp_shape_init(&sa, od, c->hidden, c->n_hidden, ad, ACT_TANH_SCALE, &t->bounds);
        mlp_shape_init(&sc, od + ad, c->hidden, c->n_hidden, 1, ACT_NONE, NULL);
        double mib = (5.0 * (double)(sa.n_params + sc.n_params) +
                      2.0 * 5 * c->batch_size * hidden_width(c)) * sizeof(float) / 1048576.0;
        fprintf(err, "error: %s: cannot allocate the networks: --hidden %s and --batch-size %d "
                "need about %.0f MiB\n", be->name, hidden_list(c, (char[256]){0}, 256),
                c->batch_size, mib);
        return 2;
    }
    if (mlp_work_create(&t->w_act, be, &t->agent.actor_shape, n) ||
        mlp_work_create(&t->w_eval, be, &t->agent.actor_shape, c->eval_episodes)) {
        double width = ad + hidden_width(c);
        fprintf(err, "error: %s: cannot allocate actor activations for --envs %d: about %.0f MiB "
                "with --hidden %s\n", be->name, n, 2.0 * n * width * sizeof(float) / 1048576.0,
                hidden_list(c, (char[256]){0}, 256));
        return 2;
    }
    ALLOC(t->obs, sizeof(float) * n * od, "observations");
    ALLOC(t->obs_next_iter, sizeof(float) * n * od, "observations");
    ALLOC(t->next_obs, sizeof(float) * n * od, "observations");
    ALLOC(t->act, sizeof(float) * n * ad, "actions");
    ALLOC(t->rew, sizeof(float) * n, "rewards");
    ALLOC(t->term, sizeof(float) * n, "terminations");
    ALLOC(t->trunc, sizeof(float) * n, "truncations");
    ALLOC(t->ou_state, sizeof(float) * n * ad, "OU noise state");
    ALLOC(t->ctr, sizeof(uint64_t) * N_CTR, "RNG counters");
    int ne = c->eval_episodes;
    ALLOC(t->eval_obs, sizeof(float) * ne * od, "eval observations");
    ALLOC(t->eval_obs2, sizeof(float) * ne * od, "eval observations");
    ALLOC(t->eval_next, sizeof(float) * ne * od, "eval observations");
    ALLOC(t->eval_rew, sizeof(float) * ne, "eval rewards");
    ALLOC(t->eval_term, sizeof(float) * ne, "eval flags");
    ALLOC(t->eval_trunc, sizeof(float) * ne, "eval flags");
    if (c->probe_n > 0) {
        int pn = c->probe_n;
        if (mlp_work_create(&t->w_probe_a, be, &t->agent.actor_shape, pn) ||
            mlp_work_create(&t->w_probe_c, be, &t->agent.critic_shape, pn) ||
            batch_create(&t->probe_batch, be, pn, od, ad)) {
            fprintf(err, "error: %s: cannot allocate %d probe states\n", be->name, pn);
            return 2;
        }
        ALLOC(t->probe_act, sizeof(float) * pn * ad, "probe actions");
        ALLOC(t->probe_q, sizeof(float) * pn, "probe Q values");
        ALLOC(t->probe_x, sizeof(float) * pn * (od + ad), "probe inputs");
    }
    t->h_metrics = be->host_alloc(be, sizeof(float) * DDPG_N_METRICS * TRAIN_METRIC_SLOTS);
    mallocCheck(t->h_metrics);
    size_t cap = (size_t)t->env.log.capacity, pn = c->probe_n > 0 ? (size_t)c->probe_n : 1;
    t->h_ret = be->host_alloc(be, sizeof(float) * cap);
    t->h_len = be->host_alloc(be, sizeof(int32_t) * cap);
    t->h_env = be->host_alloc(be, sizeof(int32_t) * cap);
    t->h_step = be->host_alloc(be, sizeof(int64_t) * cap);
    t->h_order = be->host_alloc(be, sizeof(int64_t) * cap);
    t->h_eval_ret = be->host_alloc(be, sizeof(float) * ne);
    t->h_eval_returns = be->host_alloc(be, sizeof(float) * ne);
    t->h_eval_env = be->host_alloc(be, sizeof(int32_t) * ne);
    t->h_eval_zeros = be->host_alloc(be, sizeof(int64_t) * ne);
    t->h_probe_a = be->host_alloc(be, sizeof(float) * pn * ad);
    t->h_probe_q = be->host_alloc(be, sizeof(float) * pn);
    mallocCheck(t->h_ret), mallocCheck(t->h_len), mallocCheck(t->h_env);
    mallocCheck(t->h_step), mallocCheck(t->h_order), mallocCheck(t->h_eval_ret);
    mallocCheck(t->h_eval_returns), mallocCheck(t->h_eval_env), mallocCheck(t->h_eval_zeros);
    mallocCheck(t->h_probe_a), mallocCheck(t->h_probe_q);
    memset(t->h_eval_zeros, 0, sizeof(int64_t) * ne);

    /* updates.csv holds window means so that it stays under ~5000 rows. */
    int64_t first = c->update_after > c->batch_size ? c->update_after : c->batch_size;
    int64_t vec_steps = (c->total_steps - first) / n + 1;
    int64_t expected = vec_steps > 0 ? vec_steps * c->updates_per_step : 1;
    t->metric_window = expected / 5000 + 1;
    return 0;
}

void trainer_destroy(Trainer *t) {
    Backend *be = t->be;
    if (!be) return;
    void *bufs[] = {t->obs,      t->obs_next_iter, t->next_obs,  t->act,       t->rew,
                    t->term,     t->trunc,         t->ou_state,  t->ctr,       t->eval_obs,
                    t->eval_obs2, t->eval_next,    t->eval_rew,  t->eval_term,
                    t->eval_trunc, t->probe_act,   t->probe_q,   t->probe_x};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) be->free(be, bufs[i]);
    void *host[] = {t->h_metrics,   t->h_ret,          t->h_len,      t->h_env,
                    t->h_step,      t->h_order,        t->h_eval_ret, t->h_eval_returns,
                    t->h_eval_env,  t->h_eval_zeros,   t->h_probe_a,  t->h_probe_q};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++)
        if (host[i]) be->host_free(be, host[i]);
    if (be->graph_destroy) {
        if (t->graph_explore) be->graph_destroy(be, t->graph_explore);
        if (t->graph_update) be->graph_destroy(be, t->graph_update);
        if (t->graph_eval) be->graph_destroy(be, t->graph_eval);
    }
    mlp_work_destroy(&t->w_act, be);
    mlp_work_destroy(&t->w_eval, be);
    mlp_work_destroy(&t->w_probe_a, be);
    mlp_work_destroy(&t->w_probe_c, be);
    batch_destroy(&t->probe_batch, be);
    ddpg_destroy(&t->agent);
    replay_destroy(&t->replay, be);
    env_destroy(&t->env, be);
    env_destroy(&t->eval_env, be);
    memset(t, 0, sizeof *t);
}

/* ---- one iteration (enqueue only: no host reads) ---- */

static void iteration(Trainer *t, int random_actions, int do_updates) {
    Backend *be = t->be;
    const Config *c = t->cfg;
    int n = c->envs;
    if (random_actions) {
        be->uniform_actions(be, t->act, n, t->bounds, c->seed, t->ctr + CTR_WARMUP);
    } else {
        ddpg_act(&t->agent, t->obs, n, t->act, &t->w_act);
        NoiseSpec ns = {c->noise[0] == 'o' ? NOISE_OU : NOISE_GAUSSIAN, (float)c->noise_sigma,
                        (float)c->ou_theta, 1e-2f, t->ou_state};
        be->add_noise(be, t->act, n, t->bounds, ns, c->seed, t->ctr + CTR_NOISE);
    }
    be->env_step(be, &t->env, t->act, t->next_obs, t->rew, t->term, t->trunc, t->obs_next_iter);
    /* Store the true next observation and `terminated` only: a time-limit
     * truncation is not terminal, so the critic bootstraps through it. The
     * notebook's done = terminated or truncated is reproduced on request;
     * Pendulum never terminates, so that flag is exactly `truncated`. */
    const float *done = c->truncation_as_terminal ? t->trunc : t->term;
    be->replay_insert(be, &t->replay, t->obs, t->act, t->rew, t->next_obs, done, n);
    be->copy(be, t->obs, t->obs_next_iter, sizeof(float) * n * PENDULUM_OBS_DIM);
    if (do_updates)
        for (int k = 0; k < c->updates_per_step; k++) ddpg_update(&t->agent, &t->replay);
}

/* Runs one iteration, through a CUDA Graph when the backend has them. */
static void run_iteration(Trainer *t, int random_actions, int do_updates) {
    Backend *be = t->be;
    /* Graphs for the two steady phases; the rare mixed phases run eagerly. */
    void **slot = NULL;
    if (be->capture_begin && random_actions && !do_updates) slot = &t->graph_explore;
    if (be->capture_begin && !random_actions && do_updates) slot = &t->graph_update;
    if (!slot) {
        iteration(t, random_actions, do_updates);
        return;
    }
    if (!*slot) {
        if (be->capture_begin(be) == 0) {
            iteration(t, random_actions, do_updates);
            if (be->capture_end(be, slot) != 0) *slot = NULL;
        }
        if (!*slot) { /* capture failed: run eagerly from now on */
            iteration(t, random_actions, do_updates);
            return;
        }
    }
    be->graph_launch(be, *slot);
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
        if (t->log) runlog_update(t->log, t->metric_at[k], means);
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

static void maybe_probe(Trainer *t, int final) {
    const Config *c = t->cfg;
    Backend *be = t->be;
    if (c->probe_n <= 0) return;
    int64_t need = c->probe_n > c->batch_size ? c->probe_n : c->batch_size;
    int64_t filled = t->global_step < c->replay_size ? t->global_step : c->replay_size;
    if (!t->probes_ready) {
        /* As the notebook: fix the probe states once replay has enough data. */
        if (filled < need || t->episodes == 0) return;
        be->replay_sample(be, &t->replay, &t->probe_batch, c->seed ^ 0x50B3ULL,
                          t->ctr + CTR_PROBE);
        t->probes_ready = 1;
    }
    int64_t bucket = t->episodes / c->probe_every;
    if (!final && bucket == t->last_probe_bucket) return;
    if (final && bucket == t->last_probe_bucket && t->last_probe_bucket >= 0 &&
        t->episodes % c->probe_every == 0)
        return;
    t->last_probe_bucket = bucket;
    int pn = c->probe_n;
    ddpg_probe(&t->agent, t->probe_batch.obs, pn, t->probe_act, t->probe_q, &t->w_probe_a,
               &t->w_probe_c, t->probe_x);
    be->to_host(be, t->h_probe_a, t->probe_act, sizeof(float) * pn);
    be->to_host(be, t->h_probe_q, t->probe_q, sizeof(float) * pn);
    if (t->log) runlog_probe(t->log, t->episodes, pn, t->h_probe_a, t->h_probe_q);
}

/* Enqueues one evaluation: reset, then max_steps noiseless steps. */
static void eval_episodes(Trainer *t) {
    Backend *be = t->be;
    VecEnv *e = &t->eval_env;
    int ne = t->cfg->eval_episodes;
    /* no copies between the steps: the env reads the actor's output in
     * place, and the observations alternate between two buffers */
    float *obs[2] = {t->eval_obs, t->eval_obs2};
    be->env_reset(be, e, obs[0]);
    for (int s = 0; s < e->max_steps; s++) {
        const float *a = mlp_forward(be, &t->agent.actor_shape, t->agent.actor, obs[s & 1], ne,
                                     &t->w_eval);
        be->env_step(be, e, a, t->eval_next, t->eval_rew, t->eval_term, t->eval_trunc,
                     obs[(s + 1) & 1]);
    }
}

void trainer_evaluate(Trainer *t, float *returns) {
    Backend *be = t->be;
    VecEnv *e = &t->eval_env;
    int ne = t->cfg->eval_episodes;
    /* Same start states at every evaluation: rewind the reset counters. */
    be->to_device(be, e->resets, t->h_eval_zeros, sizeof(int64_t) * ne);
    be->to_device(be, e->log.count, t->h_eval_zeros, sizeof(int64_t));
    /* The episodes read the networks in place, so on the GPU they are captured
     * once and replayed at every evaluation (thousands of small launches). */
    if (be->capture_begin && !t->graph_eval && !t->eval_eager) {
        if (be->capture_begin(be) == 0) {
            eval_episodes(t);
            if (be->capture_end(be, &t->graph_eval) != 0) t->graph_eval = NULL;
        }
        t->eval_eager = !t->graph_eval;
    }
    if (t->graph_eval)
        be->graph_launch(be, t->graph_eval);
    else
        eval_episodes(t);
    /* Every env finished exactly one episode; records are in any order. */
    be->to_host(be, t->h_eval_ret, e->log.ret, sizeof(float) * ne);
    be->to_host(be, t->h_eval_env, e->log.env, sizeof(int32_t) * ne);
    for (int i = 0; i < ne; i++) returns[t->h_eval_env[i]] = t->h_eval_ret[i];
}

static void run_eval(Trainer *t, double wall) {
    int ne = t->cfg->eval_episodes;
    float *r = t->h_eval_returns;
    trainer_evaluate(t, r);
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

    double wall = end - ck.t0;
    memset(s, 0, sizeof *s);
    s->device = be->name;
    s->device_name = be->device_name;
    s->envs = n;
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
    ck.last_progress = ck.t0; /* the closing line reports whole-run rates */
    ck.last_steps = ck.last_updates = 0;
    progress(t, &ck, end, 1);
    return g_stop ? 130 : 0;
}
