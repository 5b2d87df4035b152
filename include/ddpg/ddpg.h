/* ddpg.h - the DDPG agent (Lillicrap et al. 2015): actor, critic, their
 * targets, Adam, and one gradient update, all on a backend. */
#ifndef DDPG_DDPG_H
#define DDPG_DDPG_H

#include <stdint.h>

#include "ddpg/backend.h"
#include "ddpg/mlp.h"
#include "ddpg/replay.h"

/* Per-update metrics, summed on the device until the host reads them. */
enum {
    METRIC_CRITIC_LOSS,
    METRIC_ACTOR_LOSS,
    METRIC_Q_MEAN,
    METRIC_Y_MEAN,
    METRIC_CRITIC_GRAD_NORM,
    METRIC_ACTOR_GRAD_NORM,
    DDPG_N_METRICS
};

typedef struct {
    int obs_dim, act_dim;
    const int *hidden;
    int n_hidden;
    ActionBounds bounds;
    int batch_size;
    float gamma, tau, grad_clip;
    float actor_lr, critic_lr;
    uint64_t seed;
} DdpgParams;

typedef struct {
    Backend *be;
    DdpgParams p;
    MlpShape actor_shape, critic_shape;
    float *actor, *actor_targ;     /* (actor_shape.n_params) device */
    float *critic, *critic_targ;   /* (critic_shape.n_params) device */
    float *actor_grad, *actor_m, *actor_v;    /* (actor n_params) device */
    float *critic_grad, *critic_m, *critic_v; /* (critic n_params) device */
    int64_t *adam_step;            /* (2) device: actor, critic */
    /* (n_layers) device: each layer's sum of squares of its gradient, made by
     * mlp_backward where the backend has sumsq (else NULL), for optim_step */
    double *actor_sumsq, *critic_sumsq;
    uint64_t *sample_ctr;          /* (1) device: replay sampling counter */
    MlpWork w_actor, w_critic, w_actor_targ, w_critic_targ; /* batch_size rows */
    MlpWork w_critic_pi; /* Q(s, mu(s)) of the actor step */
    Batch batch;
    float *x_sa;     /* (B, obs+act) device: [obs | act] */
    float *x_next;   /* (B, obs+act) device: [next_obs | mu'(next_obs)] */
    float *x_pi;     /* (B, obs+act) device: [obs | mu(obs)] */
    float *dx_pi;    /* (B, obs+act) device: dLoss_actor / d x_pi */
    float *da;       /* (B, act) device: dLoss_actor / d mu(obs) */
    float *y;        /* (B) device: TD targets */
    float *dq;       /* (B) device: dLoss / dQ */
    float *metrics;  /* (DDPG_N_METRICS) device accumulators */
} Ddpg;

/* Allocates everything on be and initialises the networks (targets = copies).
 * Returns 0, or -1 when the backend is out of memory. */
int ddpg_create(Ddpg *d, Backend *be, const DdpgParams *p);
void ddpg_destroy(Ddpg *d);

/* Samples d->batch from r and runs ddpg_update_batch. */
void ddpg_update(Ddpg *d, const Replay *r);

/* One gradient update on whatever d->batch holds: critic step, actor step
 * (through the updated critic), then Polyak averaging of both targets. */
void ddpg_update_batch(Ddpg *d);

/* act(n, act_dim) = mu(obs(n, obs_dim)); w has at least n rows. */
void ddpg_act(Ddpg *d, const float *obs, int n, float *act, MlpWork *w);

/* Q(s, mu(s)) for n states: act(n, act_dim), q(n); wa/wc workspaces of >= n
 * rows (actor and critic shapes), x (n, obs+act) scratch. */
void ddpg_probe(Ddpg *d, const float *obs, int n, float *act, float *q, MlpWork *wa,
                MlpWork *wc, float *x);

#endif
