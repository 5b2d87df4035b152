/* train.h - the training loop: act, step the envs, store, update, log. */
#ifndef DDPG_TRAIN_H
#define DDPG_TRAIN_H

#include <stdio.h>

#include "ddpg/backend.h"
#include "ddpg/config.h"
#include "ddpg/ddpg.h"
#include "ddpg/evaluate.h"
#include "ddpg/graph.h"
#include "ddpg/probe.h"
#include "ddpg/runlog.h"
#include "ddpg/status.h"
#include "ddpg/tensor.h"

/* The loop reads the episode log (and syncs) at least every this many
 * vectorized steps. */
#define TRAIN_DRAIN_EVERY 100
/* metric windows that may wait for a sync (at most one per iteration) */
#define TRAIN_METRIC_SLOTS 128

/* The RNG counters of the training loop (Trainer.rng_ctr). */
enum { CTR_WARMUP, CTR_NOISE, N_CTR };

/* Where the run is: the loop's host-side counters, saved in checkpoints
 * (train_progress_tensors), so that a resumed run goes on exactly. The
 * gradient updates are the agent's count (Ddpg.updates, the clock of TD3's
 * delay), which checkpoints hold as train.updates too. */
typedef struct {
    int64_t global_step;       /* env steps, summed over all envs */
    int64_t vsteps;            /* vectorized steps */
    int64_t episodes;          /* finished episodes logged */
    int64_t log_read;          /* episode-log records consumed */
    int64_t replay_filled;     /* transitions in the replay (0 after a resume without it) */
    int64_t next_eval;         /* the env step of the next evaluation */
    int64_t last_eval_step;    /* of the last evaluation, -1 before any */
    int64_t solved_step;       /* first evaluation at or above the threshold, -1: none */
    int64_t last_probe_bucket; /* episodes / probe_every at the last probe, -1: none */
    int64_t metric_window;     /* updates per row of updates.csv */
    int64_t metric_count;      /* updates in the current window (sums in agent.metrics) */
    double last_eval, best_eval, final_eval, solved_wall_s, last_return;
    double wall_s;             /* wall time of the run before this process (resumed runs) */
    int64_t csv_bytes[RUNLOG_N_CSV]; /* the run log's sizes when the checkpoint was written */
} TrainProgress;

/* Metric window sums copied back without waiting (train_flush_metrics): row
 * k is valid after the next sync; `pending` rows wait for it, each with the
 * update count and the window size it was taken at. */
typedef struct {
    float *sums;                    /* (TRAIN_METRIC_SLOTS, DDPG_N_METRICS) host */
    int64_t at[TRAIN_METRIC_SLOTS]; /* the update count at the window's end */
    int64_t n[TRAIN_METRIC_SLOTS];  /* updates in the window */
    int pending;
} TrainHostMetrics;

/* Host copies of the episode log (env.log.capacity records each). */
typedef struct {
    float *ret;
    int32_t *len, *env;
    int64_t *step;
    int64_t *order; /* the records to write, in (step, env) order */
} TrainHostLog;

/* The first metric or parameter seen not finite (train_mark_diverged). */
typedef struct {
    int seen;
    int64_t update;  /* in the updates up to this count */
    char what[64];   /* the metric's or the tensor's name */
} TrainDivergence;

typedef struct {
    const Config *cfg;
    Backend *be;
    RunLog *log;           /* NULL: no run directory, no checkpoints */
    FILE *warn;            /* warnings: stderr unless the caller sets another */
    const EnvSpec *spec;   /* the environment (cfg->env) */
    ActionBounds bounds;   /* its action space */
    VecEnv env;
    Replay replay;
    Ddpg agent;            /* agent.updates: the run's gradient updates */
    Evaluator eval;        /* when cfg->eval_every > 0 */
    Probes probes;         /* when cfg->probe_n > 0 */
    MlpWork act_work;      /* (envs rows) the actor's pass when acting */
    float *obs;            /* (envs, obs_dim) device: the observation to act on */
    float *real_next_obs;  /* (envs, obs_dim) device: the true next observation (for the
                              replay) */
    float *next_obs;       /* (envs, obs_dim) device: the next observation to act on (after
                              auto-reset) */
    float *act;            /* (envs, act_dim) device */
    float *rew, *term, *trunc; /* (envs) device */
    float *ou_state;       /* (envs, act_dim) device: OU noise state */
    uint64_t *rng_ctr;     /* (N_CTR) device: warm-up and noise counters */
    TrainProgress prog;
    TrainHostMetrics host_metrics;
    TrainHostLog host_log;
    float *h_eval_returns; /* (eval_episodes) host */
    TrainDivergence divergence;
    int resumed;           /* prog came from a checkpoint */
    double wall_before;    /* prog.wall_s when this process took the run up */
    int64_t checkpoint_step; /* env step of the last checkpoint written or loaded, -1: none */
    IterationGraphs graphs; /* the iteration's CUDA Graphs (graph.h) */
} Trainer;

/* trainer_init, trainer_check_memory, trainer_alloc. STATUS_OK, or
 * STATUS_BAD_INPUT with what does not fit in err. */
Status trainer_create(Trainer *t, const Config *cfg, Backend *be, RunLog *log, Error *err);
/* The structs and shapes of a run, no buffer yet. */
void trainer_init(Trainer *t, const Config *cfg, Backend *be, RunLog *log);
/* Everything the run will allocate, on the backend and on the host. */
void trainer_all_tensors(Trainer *t, TensorList *dev, TensorList *host);
/* Refuses (STATUS_BAD_INPUT, with the MiB each option asks for in err) a
 * run that needs more memory than the device and the host have available,
 * or an environment the backend cannot step. */
Status trainer_check_memory(Trainer *t, Error *err);
/* Allocates what trainer_all_tensors lists. STATUS_OK, or STATUS_BAD_INPUT
 * with what did not fit in err. */
Status trainer_alloc(Trainer *t, Error *err);
void trainer_destroy(Trainer *t);

/* Lists the trainer's own buffers (the agent, evaluation and probes have
 * their own lists): the envs, the replay, the loop's buffers and counters. */
void trainer_tensors(Trainer *t, TensorList *l);
/* Lists the counters of t->prog, host data. */
void train_progress_tensors(Trainer *t, TensorList *l);

/* Runs to cfg->total_steps env steps (from where a resumed run is); fills s
 * (whose error points into err). Returns STATUS_OK; STATUS_DIVERGED when
 * the run diverged; STATUS_IO when a log or a checkpoint could not be
 * written; STATUS_SIGINT or STATUS_SIGTERM when stopped by the signal.
 * Prints only its progress (stdout); err says what ended the run otherwise
 * (for a signal: "interrupted: stopping after N env steps"). */
Status trainer_run(Trainer *t, RunSummary *s, Error *err);

/* Deterministic evaluation (evaluator_run): returns (eval_episodes). */
void trainer_evaluate(Trainer *t, float *returns);

/* ---- the loop's records (log.c) ---- */
/* Finished episodes from the device's log into episodes.csv (waits). */
void train_drain_episodes(Trainer *t, double wall);
/* Writes the metric rows whose copies have landed (call after a sync);
 * marks the run diverged at the first row that is not finite. */
void train_write_metrics(Trainer *t);
/* Marks the run diverged, the first time: `what` (a metric, a tensor) was
 * not finite in the updates up to `update`. */
void train_mark_diverged(Trainer *t, int64_t update, const char *what);
/* Ends the current metric window (its row is written after the next sync). */
void train_flush_metrics(Trainer *t);
/* The probes, at every probe_every finished episodes, and once at the end. */
void train_maybe_probe(Trainer *t, int final);
/* One evaluation into eval.csv and the run's best and solved marks. */
void train_eval(Trainer *t, double wall);

#endif
