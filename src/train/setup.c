/* setup.c - a training run's buffers: what it lists, the memory check
 * before anything is allocated, creation and destruction. */
#include <math.h>
#include <string.h>

#include "ddpg/env.h"
#include "ddpg/train.h"

/* Every episode that can end between two reads of the log. */
static int64_t episode_log_capacity(const Trainer *t) {
    return env_log_capacity(t->spec, t->cfg->envs, TRAIN_DRAIN_EVERY);
}

void trainer_tensors(Trainer *t, TensorList *l) {
    const Config *c = t->cfg;
    int n = c->envs, od = t->spec->obs_dim, ad = t->spec->act_dim;
    size_t no = (size_t)n * od, na = (size_t)n * ad;
    tensors_why(l, "--envs %d", n);
    env_tensors(&t->env, t->spec, n, c->seed, episode_log_capacity(t), "env.", l);
    t->env.truncation_as_terminal = c->truncation_as_terminal;
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
    /* the agent's count, under the name checkpoints have always had for it
     * beside the agent's own "updates" (the same number twice) */
    TENSOR_ADD_HOST(l, p, "updates", &t->agent.updates, 1, TENSOR_STATE);
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
    size_t cap = (size_t)episode_log_capacity(t);
    TrainHostLog *h = &t->host_log;
    TENSOR_ADD(l, "host.", "metrics", &t->host_metrics.sums,
               (size_t)DDPG_N_METRICS * TRAIN_METRIC_SLOTS, TENSOR_WORK);
    tensors_why(l, "--envs %d", t->cfg->envs);
    TENSOR_ADD(l, "host.log.", "ret", &h->ret, cap, TENSOR_WORK);
    TENSOR_ADD(l, "host.log.", "len", &h->len, cap, TENSOR_WORK);
    TENSOR_ADD(l, "host.log.", "env", &h->env, cap, TENSOR_WORK);
    TENSOR_ADD(l, "host.log.", "step", &h->step, cap, TENSOR_WORK);
    TENSOR_ADD(l, "host.log.", "order", &h->order, cap, TENSOR_WORK);
    tensors_why(l, "--eval-episodes %d", t->cfg->eval_episodes);
    TENSOR_ADD(l, "host.", "eval_returns", &t->h_eval_returns, (size_t)t->cfg->eval_episodes,
               TENSOR_WORK);
}

void trainer_init(Trainer *t, const Config *c, Backend *be, RunLog *log) {
    memset(t, 0, sizeof *t);
    t->cfg = c;
    t->be = be;
    t->log = log;
    t->warn = stderr;
    t->spec = env_find(c->env); /* config_parse checked the name */
    t->bounds = env_bounds(t->spec);
    TrainProgress *g = &t->prog;
    g->solved_step = -1;
    g->last_eval_step = -1;
    g->last_probe_bucket = -1;
    g->best_eval = -INFINITY;
    g->last_return = NAN;
    t->checkpoint_step = -1;
    DdpgParams p = {.obs_dim = t->spec->obs_dim,
                    .act_dim = t->spec->act_dim,
                    .hidden = c->hidden,
                    .n_hidden = c->n_hidden,
                    .bounds = t->bounds,
                    .batch_size = c->batch_size,
                    .gamma = (float)c->gamma,
                    .tau = (float)c->tau,
                    .grad_clip = (float)c->grad_clip,
                    .actor_lr = (float)c->actor_lr,
                    .critic_lr = (float)c->critic_lr,
                    .seed = c->seed,
                    .layer_norm = c->layer_norm,
                    .algo = (Algo)c->algo,
                    .target_noise = (float)c->target_noise,
                    .target_noise_clip = (float)c->target_noise_clip,
                    .policy_delay = c->algo == ALGO_TD3 ? c->policy_delay : 1};
    ddpg_init(&t->agent, be, &p);
    if (c->eval_every > 0)
        evaluator_init(&t->eval, be, &t->agent, t->spec, c->eval_episodes, c->seed, 1);
    if (c->probe_n > 0) probes_init(&t->probes, be, &t->agent, c->probe_n, c->seed);
    /* updates.csv holds window means so that it stays under ~5000 rows. */
    int64_t first = c->update_after > c->batch_size ? c->update_after : c->batch_size;
    int64_t vec_steps = (c->total_steps - first) / c->envs + 1;
    int64_t expected = vec_steps > 0 ? vec_steps * c->updates_per_step : 1;
    /* a whole number of TD3's delays, so that each window holds as many actor steps */
    int64_t w = expected / 5000 + 1, delay = t->agent.p.policy_delay;
    g->metric_window = (w + delay - 1) / delay * delay;
}

void trainer_all_tensors(Trainer *t, TensorList *dev, TensorList *host) {
    ddpg_tensors(&t->agent, dev);
    trainer_tensors(t, dev);
    host_tensors(t, host);
    if (t->cfg->eval_every > 0) {
        evaluator_tensors(&t->eval, dev);
        evaluator_host_tensors(&t->eval, host);
    }
    if (t->cfg->probe_n > 0) {
        probes_tensors(&t->probes, dev);
        probes_host_tensors(&t->probes, host);
    }
}

/* Headroom beside the listed buffers: the libraries' own (OpenBLAS, cuBLAS),
 * thread stacks, the report's Python. */
#define MEM_HEADROOM ((size_t)256 << 20)

/* The MiB each cause ("--replay-size 200000") needs in l, largest first, into buf. */
static void causes(const TensorList *l, char *buf, size_t len) {
    const char *done[64];
    int nd = 0;
    size_t k = 0;
    buf[0] = 0;
    for (int pass = 0; pass < 4 && k < len; pass++) { /* the four largest */
        const char *best = NULL;
        size_t best_bytes = 0;
        for (int i = 0; i < l->n; i++) {
            const char *w = l->t[i].why[0] ? l->t[i].why : "the rest";
            int seen = 0;
            for (int d = 0; d < nd; d++) seen |= !strcmp(done[d], w);
            size_t b = l->t[i].why[0] ? tensors_bytes(l, w) : 0;
            if (!seen && b > best_bytes) best = w, best_bytes = b;
        }
        if (!best || nd == 64) break;
        done[nd++] = best;
        k += (size_t)snprintf(buf + k, len - k, "%s%s needs %.1f MiB", pass ? ", " : "", best,
                              best_bytes / 1048576.0);
    }
}

Status trainer_check_memory(Trainer *t, Error *err) {
    Backend *be = t->be;
    if (!be->env_supported(be, t->spec))
        return error_set(err, STATUS_BAD_INPUT, "--env %s: the %s backend cannot step it (its "
                         "kernels are made for the environments of include/ddpg/envs/"
                         "registry.h); --device cpu can", t->spec->alias, be->name);
    TensorList dev, host;
    tensors_init(&dev);
    tensors_init(&host);
    trainer_all_tensors(t, &dev, &host);
    size_t need_dev = tensors_bytes(&dev, NULL), need_host = tensors_bytes(&host, NULL);
    size_t have_host = host_memory_available(), have_dev = be->mem_available(be);
    Status st = STATUS_OK;
    char why[512];
    const char *kind = NULL;
    size_t need = 0, have = 0;
    if (be->shares_host_memory && need_dev + need_host + MEM_HEADROOM > have_host)
        kind = "memory", need = need_dev + need_host, have = have_host;
    else if (!be->shares_host_memory && need_dev + MEM_HEADROOM > have_dev)
        kind = "device memory", need = need_dev, have = have_dev;
    else if (!be->shares_host_memory && need_host + MEM_HEADROOM > have_host)
        kind = "host memory", need = need_host, have = have_host;
    if (kind) {
        causes(&dev, why, sizeof why);
        st = error_set(err, STATUS_BAD_INPUT, "%s: the run needs %.1f MiB of %s and %.1f MiB "
                       "are available (less %.0f MiB kept free): %s", be->name, need / 1048576.0,
                       kind, have / 1048576.0, MEM_HEADROOM / 1048576.0, why);
    }
    tensors_release(&dev);
    tensors_release(&host);
    return st;
}

Status trainer_alloc(Trainer *t, Error *err) {
    const Config *c = t->cfg;
    Backend *be = t->be;
    Status st = ddpg_alloc(&t->agent, err);
    if (st) return st;
    TensorList l, h;
    tensors_init(&l);
    tensors_init(&h);
    trainer_tensors(t, &l);
    host_tensors(t, &h);
    st = tensors_alloc(be, &l, err);
    if (st == STATUS_OK) st = tensors_alloc_host(be, &h, err);
    tensors_release(&l);
    tensors_release(&h);
    if (st == STATUS_OK && c->eval_every > 0) st = evaluator_alloc(&t->eval, err);
    if (st == STATUS_OK && c->probe_n > 0) st = probes_alloc(&t->probes, err);
    return st;
}

Status trainer_create(Trainer *t, const Config *c, Backend *be, RunLog *log, Error *err) {
    trainer_init(t, c, be, log);
    Status st = trainer_check_memory(t, err);
    return st != STATUS_OK ? st : trainer_alloc(t, err);
}

void trainer_destroy(Trainer *t) {
    Backend *be = t->be;
    if (!be) return;
    iteration_graphs_free(be, &t->graphs);
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

