/* train.h - the training loop: act, step the envs, store, update, log. */
#ifndef DDPG_TRAIN_H
#define DDPG_TRAIN_H

#include <stdio.h>

#include "ddpg/backend.h"
#include "ddpg/config.h"
#include "ddpg/ddpg.h"
#include "ddpg/evaluate.h"
#include "ddpg/probe.h"
#include "ddpg/runlog.h"
#include "ddpg/tensor.h"

/* metric windows that may wait for a sync (at most one per iteration; the
 * loop syncs at least every 100 iterations) */
#define TRAIN_METRIC_SLOTS 128

/* The RNG counters of the training loop (Trainer.rng_ctr). */
enum { CTR_WARMUP, CTR_NOISE, N_CTR };

typedef struct {
    const Config *cfg;
    Backend *be;
    RunLog *log;           /* NULL: no run directory */
    ActionBounds bounds;
    VecEnv env;
    Replay replay;
    Ddpg agent;
    Evaluator eval;        /* when cfg->eval_every > 0 */
    Probes probes;         /* when cfg->probe_n > 0 */
    MlpWork act_work;      /* (envs rows) the actor's pass when acting */
    float *obs;            /* (envs, 3) device: the observation to act on */
    float *real_next_obs;  /* (envs, 3) device: the true next observation (for the replay) */
    float *next_obs;       /* (envs, 3) device: the next observation to act on (after
                              auto-reset) */
    float *act;            /* (envs, 1) device */
    float *rew, *term, *trunc; /* (envs) device */
    float *ou_state;       /* (envs, 1) device: OU noise state */
    uint64_t *rng_ctr;     /* (N_CTR) device: warm-up and noise counters */
    /* host side: metric window sums copied back without waiting. Row k of
     * h_metrics (TRAIN_METRIC_SLOTS rows of DDPG_N_METRICS) is valid after
     * the next sync; metric_pending rows wait for it, with the update count
     * and window size each was taken at */
    float *h_metrics;
    int64_t metric_at[TRAIN_METRIC_SLOTS], metric_n[TRAIN_METRIC_SLOTS];
    int metric_pending;
    /* host copies of the episode log (env.log.capacity records) */
    float *h_ret;
    int32_t *h_len, *h_env;
    int64_t *h_step, *h_order;
    float *h_eval_returns; /* (eval_episodes) */
    int64_t log_read;      /* episode records consumed */
    int64_t global_step, updates, episodes, vsteps;
    int64_t last_probe_bucket;
    float last_return;
    double last_eval, best_eval, final_eval;
    int have_eval;
    int64_t last_eval_step;
    int64_t solved_step;
    double solved_wall_s;
    int64_t metric_window, metric_count;
    /* CUDA Graphs of one iteration in its two steady phases */
    BackendGraph graph_explore, graph_update;
} Trainer;

/* Allocates everything. Returns 0, or 2 after printing which allocation of
 * which size did not fit. */
int trainer_create(Trainer *t, const Config *cfg, Backend *be, RunLog *log, FILE *err);
void trainer_destroy(Trainer *t);

/* Lists the trainer's own buffers (the agent, evaluation and probes have
 * their own lists): the envs, the replay, the loop's buffers and counters. */
void trainer_tensors(Trainer *t, TensorList *l);

/* Runs cfg->total_steps env steps; fills s. Returns 0, or 130 when stopped
 * by a signal. */
int trainer_run(Trainer *t, RunSummary *s);

/* Deterministic evaluation (evaluator_run): returns (eval_episodes). */
void trainer_evaluate(Trainer *t, float *returns);

#endif
