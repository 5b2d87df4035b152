/* train.h - the training loop: act, step the envs, store, update, log. */
#ifndef DDPG_TRAIN_H
#define DDPG_TRAIN_H

#include <stdio.h>

#include "ddpg/backend.h"
#include "ddpg/config.h"
#include "ddpg/ddpg.h"
#include "ddpg/runlog.h"

/* metric windows that may wait for a sync (at most one per iteration; the
 * loop syncs at least every 100 iterations) */
#define TRAIN_METRIC_SLOTS 128

typedef struct {
    const Config *cfg;
    Backend *be;
    RunLog *log;           /* NULL: no run directory */
    ActionBounds bounds;
    VecEnv env, eval_env;
    Replay replay;
    Ddpg agent;
    MlpWork w_act;         /* envs rows */
    MlpWork w_eval;        /* eval_episodes rows */
    MlpWork w_probe_a, w_probe_c; /* probe_n rows */
    Batch probe_batch;     /* probe_n states sampled once from replay */
    float *obs;            /* (envs, 3) device: observation to act on */
    float *obs_next_iter;  /* (envs, 3) device: after auto-reset */
    float *next_obs;       /* (envs, 3) device: true next observation */
    float *act;            /* (envs, 1) device */
    float *rew, *term, *trunc; /* (envs) device */
    float *eval_obs, *eval_obs2, *eval_next, *eval_rew, *eval_term, *eval_trunc;
    float *probe_act, *probe_q, *probe_x; /* (probe_n), (probe_n), (probe_n, 4) device */
    float *ou_state;       /* (envs, 1) device, OU noise only */
    uint64_t *ctr;         /* (3) device: warm-up, noise, probe-sample counters */
    /* host side */
    /* metric window sums copied back without waiting: row k of h_metrics
     * (TRAIN_METRIC_SLOTS rows of DDPG_N_METRICS, pinned on the GPU) is valid
     * after the next sync; metric_pending rows wait for it, with the update
     * count and window size each was taken at */
    float *h_metrics;
    int64_t metric_at[TRAIN_METRIC_SLOTS], metric_n[TRAIN_METRIC_SLOTS];
    int metric_pending;
    /* host copies, allocated once: the episode log (env.log.capacity), the
     * evaluation's records and returns (eval_episodes), the probes (probe_n) */
    float *h_ret;
    int32_t *h_len, *h_env;
    int64_t *h_step, *h_order;
    float *h_eval_ret, *h_eval_returns;
    int32_t *h_eval_env;
    int64_t *h_eval_zeros;
    float *h_probe_a, *h_probe_q;
    int64_t log_read;      /* episode records consumed */
    int64_t global_step, updates, episodes, vsteps;
    int probes_ready;
    int64_t last_probe_bucket;
    float last_return;
    double last_eval, best_eval, final_eval;
    int have_eval;
    int64_t last_eval_step;
    int64_t solved_step;
    double solved_wall_s;
    int64_t metric_window, metric_count;
    void *graph_explore, *graph_update; /* CUDA Graphs of one iteration, when supported */
    void *graph_eval;      /* CUDA Graph of one evaluation's episodes, when supported */
    int eval_eager;        /* its capture failed: evaluate op by op */
} Trainer;

/* Allocates everything. Returns 0, or 2 after printing which allocation of
 * which size did not fit. */
int trainer_create(Trainer *t, const Config *cfg, Backend *be, RunLog *log, FILE *err);
void trainer_destroy(Trainer *t);

/* Runs cfg->total_steps env steps; fills s. Returns 0. */
int trainer_run(Trainer *t, RunSummary *s);

/* Deterministic evaluation: eval_episodes episodes from fixed start states,
 * no noise; returns written to returns (eval_episodes). */
void trainer_evaluate(Trainer *t, float *returns);

#endif
