/* ddpg.h - the DDPG agent (Lillicrap et al. 2015): actor, critic, their
 * targets, Adam, and one gradient update, all on a backend; and TD3
 * (Fujimoto et al. 2018), its three changes: twin critics whose smaller
 * target value makes the TD target, noise on the target action, and actor and
 * target updates every policy_delay critic updates. */
#ifndef DDPG_DDPG_H
#define DDPG_DDPG_H

#include <stdint.h>
#include <stdio.h>

#include "ddpg/backend.h"
#include "ddpg/mlp.h"
#include "ddpg/net.h"
#include "ddpg/replay.h"
#include "ddpg/tensor.h"

/* Per-update metrics, summed on the device until the host reads them; the
 * columns of updates.csv after `update`. */
enum {
    METRIC_CRITIC_LOSS,
    METRIC_ACTOR_LOSS,
    METRIC_Q_MEAN,
    METRIC_Y_MEAN,
    METRIC_CRITIC_GRAD_NORM,
    METRIC_ACTOR_GRAD_NORM,
    METRIC_Q2_MEAN, /* TD3's second critic: updates.csv has it for TD3 only */
    DDPG_N_METRICS
};
extern const char *const DDPG_METRIC_NAMES[DDPG_N_METRICS];

#define DDPG_MAX_CRITICS 2 /* TD3's twins; DDPG has one */

/* TD3's target smoothing noise is drawn as add_noise draws, under the seed
 * with this salt, so that its draws are not the exploration noise's (the
 * same purpose, RNG_NOISE), counted by Ddpg.smooth_ctr. */
#define DDPG_SMOOTH_SEED_SALT 0xD1B54A32D192ED03ULL

typedef struct {
    int obs_dim, act_dim;
    const int *hidden;
    int n_hidden;
    ActionBounds bounds;
    int batch_size;
    float gamma, tau, grad_clip;
    float actor_lr, critic_lr;
    uint64_t seed;
    int layer_norm;          /* LayerNorm after each hidden linear layer (mlp.h) */
    Algo algo;               /* ALGO_DDPG (0) or ALGO_TD3 */
    float target_noise;      /* TD3: target smoothing std, for an action bound of 1 */
    float target_noise_clip; /* TD3: its clip, for a bound of 1 */
    int policy_delay;        /* TD3: critic updates per actor and target update (0: 1) */
} DdpgParams;

struct Ddpg {
    Backend *be;
    DdpgParams p;
    int hidden[MLP_MAX_LAYERS]; /* p.hidden points here */
    Net actor;
    Net critic[DDPG_MAX_CRITICS];
    int n_critics;        /* 1, or TD3's 2 */
    int n_metrics;        /* of metrics: DDPG_N_METRICS less TD3's own for DDPG */
    int64_t updates;      /* host: updates begun (the clock of TD3's delay) */
    uint64_t *sample_ctr; /* (1) device: replay sampling counter */
    uint64_t *smooth_ctr; /* (1) device: TD3's target smoothing noise counter */
    Batch batch;          /* (batch_size rows) the minibatch of the update */
    float *x_sa;    /* (B, obs+act) device: [obs | act] */
    float *x_next;  /* (B, obs+act) device: [next_obs | mu'(next_obs)] */
    float *x_pi;    /* (B, obs+act) device: [obs | mu(obs)] */
    float *dx_pi;   /* (B, obs+act) device: dLoss_actor / d x_pi */
    float *da;      /* (B, act) device: dLoss_actor / d mu(obs) */
    float *y;       /* (B) device: TD targets */
    float *dq;      /* (B) device: dLoss / dQ */
    float *metrics; /* (n_metrics) device accumulators */
    void *plan;     /* the backend schedule's state (Backend.schedule), or NULL */
};

/* Allocates everything on be and initialises the networks (targets = copies).
 * Returns STATUS_OK, or STATUS_BAD_INPUT with e (when not NULL) saying what
 * did not fit. */
Status ddpg_create(Ddpg *d, Backend *be, const DdpgParams *p, Error *e);
/* ddpg_create in two: the shapes and the schedule's plan, then the buffers
 * (ddpg_tensors lists them in between, for a memory check first). */
int ddpg_init(Ddpg *d, Backend *be, const DdpgParams *p);
Status ddpg_alloc(Ddpg *d, Error *e);
void ddpg_destroy(Ddpg *d);

/* Lists every buffer of the agent (tensor.h): the networks, the sampling
 * counter, the batch and the update's work, and the backend schedule's. */
void ddpg_tensors(Ddpg *d, TensorList *l);

/* Samples d->batch from r and runs ddpg_update_batch. */
void ddpg_update(Ddpg *d, const Replay *r);

/* One gradient update on whatever d->batch holds, through the backend's
 * schedule when it has one for d, else ddpg_update_generic; it counts
 * d->updates first. */
void ddpg_update_batch(Ddpg *d);

/* Whether the update counted last updates the actor and the targets: every
 * update for DDPG, every policy_delay-th for TD3 (the 2nd, 4th, ...; as
 * Stable-Baselines3's TD3). */
int ddpg_policy_step(const Ddpg *d);

/* The reference update, as the notebook's DDPGAgent.update: the TD target
 * from the target networks, the critic's loss and step, the actor's loss
 * through the updated critic and its step, and the soft updates. TD3: both
 * critics' steps, then on a policy step the actor's (through the first
 * critic) and all soft updates. */
void ddpg_update_generic(Ddpg *d);

/* The parts of the reference update, for backend schedules that run them
 * in another arrangement (each documented at its definition). */
void ddpg_td_target(Ddpg *d);
void ddpg_critic_q(Ddpg *d, int k);
void ddpg_critic_loss(Ddpg *d, const float *q);
void ddpg_critic_optim(Ddpg *d, int k, int soft_update);
void ddpg_actor_mu(Ddpg *d);
void ddpg_actor_loss(Ddpg *d, const float *q_pi);
void ddpg_policy_grad(Ddpg *d);
void ddpg_actor_optim(Ddpg *d);

/* act(n, act_dim) = mu(obs(n, obs_dim)); w has at least n rows. */
void ddpg_act(Ddpg *d, const float *obs, int n, float *act, MlpWork *w);

/* Q(s, mu(s)) for n states: act(n, act_dim), q(n); wa/wc works of >= n
 * rows (actor and critic shapes), x (n, obs+act) scratch. */
void ddpg_probe(Ddpg *d, const float *obs, int n, float *act, float *q, MlpWork *wa,
                MlpWork *wc, float *x);

#endif
