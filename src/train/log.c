/* log.c - what the training loop records: finished episodes, metric
 * windows, evaluations and probes, into the run log; and the divergence
 * guard on the metrics. */
#include <math.h>
#include <string.h>

#include "ddpg/train.h"

void train_drain_episodes(Trainer *t, double wall) {
    Backend *be = t->be;
    EpisodeLog *L = &t->env.log;
    TrainProgress *g = &t->prog;
    int64_t count;
    be->to_host(be, &count, L->count, sizeof count);
    int64_t k = count - g->log_read;
    if (k <= 0) return;
    if (k > L->capacity) { /* an environment that ends episodes faster than its spec says */
        fprintf(t->warn, "warning: %lld finished episodes were not logged: %s ends episodes in "
                "fewer than its min_episode_steps (%d)\n", (long long)(k - L->capacity),
                t->spec->id, t->spec->min_episode_steps);
        g->log_read = count - L->capacity;
        k = L->capacity;
    }
    TrainHostLog *h = &t->host_log;
    float *ret = h->ret;
    int32_t *len = h->len, *env = h->env;
    int64_t *step = h->step, *order = h->order;
    be->to_host(be, ret, L->ret, sizeof(float) * L->capacity);
    be->to_host(be, len, L->len, sizeof(int32_t) * L->capacity);
    be->to_host(be, env, L->env, sizeof(int32_t) * L->capacity);
    be->to_host(be, step, L->step, sizeof(int64_t) * L->capacity);
    /* Records in (step, env) order: the GPU appends them in any order. */
    for (int64_t i = 0; i < k; i++) order[i] = (g->log_read + i) % L->capacity;
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
        g->episodes++;
        g->last_return = ret[s];
        if (t->log)
            runlog_episode(t->log, g->episodes, env[s], ret[s], len[s],
                           (step[s] + 1) * (int64_t)t->cfg->envs, wall);
    }
    g->log_read = count;
}

/* The actor's metrics come from its steps alone: every update for DDPG,
 * every policy_delay-th for TD3 (update u, counted from 1, when u % delay ==
 * 0). A window of updates (end - n, end] holds this many of them; the
 * metric window is a multiple of the delay, so only a last, partial window
 * may hold none (its actor columns are then nan: nothing was measured). */
static int64_t actor_steps(const Ddpg *d, int64_t end, int64_t n) {
    int64_t k = d->p.policy_delay;
    return end / k - (end - n) / k;
}

void train_mark_diverged(Trainer *t, int64_t update, const char *what) {
    TrainDivergence *d = &t->divergence;
    if (d->seen) return;
    d->seen = 1;
    d->update = update;
    snprintf(d->what, sizeof d->what, "%s", what);
}

void train_write_metrics(Trainer *t) {
    TrainHostMetrics *h = &t->host_metrics;
    int nm = t->agent.n_metrics;
    for (int k = 0; k < h->pending; k++) {
        const float *sums = h->sums + (size_t)k * DDPG_N_METRICS;
        float means[DDPG_N_METRICS];
        int64_t na = actor_steps(&t->agent, h->at[k], h->n[k]);
        for (int i = 0; i < nm; i++) {
            int actor = i == METRIC_ACTOR_LOSS || i == METRIC_ACTOR_GRAD_NORM;
            if (actor && na == 0) {
                means[i] = NAN;
                continue;
            }
            means[i] = sums[i] / (actor ? na : h->n[k]);
            /* a loss, a Q value or a gradient norm (of the parameters) that
             * is NaN or infinite: the run has diverged */
            if (!isfinite(means[i])) train_mark_diverged(t, h->at[k], DDPG_METRIC_NAMES[i]);
        }
        if (t->log) runlog_update(t->log, h->at[k], means, nm);
    }
    h->pending = 0;
}

void train_flush_metrics(Trainer *t) {
    TrainProgress *g = &t->prog;
    TrainHostMetrics *h = &t->host_metrics;
    if (g->metric_count == 0) return;
    Backend *be = t->be;
    if (h->pending == TRAIN_METRIC_SLOTS) { /* not expected: the loop syncs often */
        be->sync(be);
        train_write_metrics(t);
    }
    int k = h->pending++;
    be->to_host_async(be, h->sums + (size_t)k * DDPG_N_METRICS, t->agent.metrics,
                      sizeof(float) * (size_t)t->agent.n_metrics);
    h->at[k] = t->agent.updates;
    h->n[k] = g->metric_count;
    be->fill(be, t->agent.metrics, 0.0f, (size_t)t->agent.n_metrics);
    g->metric_count = 0;
}

/* As the notebook: the probe states are drawn once the replay holds enough,
 * then probed every probe_every episodes, and once at the end. */
void train_maybe_probe(Trainer *t, int final) {
    const Config *c = t->cfg;
    TrainProgress *g = &t->prog;
    Probes *p = &t->probes;
    if (c->probe_n <= 0) return;
    if (!p->ready) {
        int64_t need = c->probe_n > c->batch_size ? c->probe_n : c->batch_size;
        if (g->replay_filled < need || g->episodes == 0) return;
        probes_draw(p, &t->replay);
    }
    int64_t bucket = g->episodes / c->probe_every;
    if (!final && bucket == g->last_probe_bucket) return;
    if (final && bucket == g->last_probe_bucket && g->last_probe_bucket >= 0 &&
        g->episodes % c->probe_every == 0)
        return;
    g->last_probe_bucket = bucket;
    probes_run(p);
    if (t->log) runlog_probe(t->log, g->episodes, p->n, p->h_act, p->h_q);
}

void train_eval(Trainer *t, double wall) {
    TrainProgress *g = &t->prog;
    int ne = t->cfg->eval_episodes;
    float *r = t->h_eval_returns;
    evaluator_run(&t->eval, r);
    double mean = 0;
    for (int i = 0; i < ne; i++) mean += r[i];
    mean /= ne;
    double q = 0, disc = 0;
    for (int i = 0; i < ne; i++) q += t->eval.h_q[i] / ne, disc += t->eval.h_disc[i] / ne;
    if (t->log) runlog_eval(t->log, g->global_step, wall, r, ne, q, disc, NULL);
    g->last_eval_step = g->global_step;
    g->last_eval = g->final_eval = mean;
    if (mean > g->best_eval) g->best_eval = mean;
    if (g->solved_step < 0 && mean >= t->spec->solved_return) {
        g->solved_step = g->global_step;
        g->solved_wall_s = wall;
    }
}
