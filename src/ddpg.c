/* ddpg.c - one DDPG gradient update, as the notebook's DDPGAgent.update. */
#include "ddpg/ddpg.h"

#include <stdlib.h>
#include <string.h>

#include "ddpg/errcheck.h"

#define ALLOC_OR_FAIL(ptr, bytes)                        \
    do {                                                 \
        if (!((ptr) = be->alloc(be, (bytes)))) return -1; \
    } while (0)

int ddpg_create(Ddpg *d, Backend *be, const DdpgParams *p) {
    memset(d, 0, sizeof *d);
    d->be = be;
    d->p = *p;
    int od = p->obs_dim, ad = p->act_dim, B = p->batch_size;
    mlp_shape_init(&d->actor_shape, od, p->hidden, p->n_hidden, ad, ACT_TANH_SCALE, &p->bounds);
    mlp_shape_init(&d->critic_shape, od + ad, p->hidden, p->n_hidden, 1, ACT_NONE, NULL);
    size_t na = d->actor_shape.n_params * sizeof(float);
    size_t nc = d->critic_shape.n_params * sizeof(float);
    ALLOC_OR_FAIL(d->actor, na);
    ALLOC_OR_FAIL(d->actor_targ, na);
    ALLOC_OR_FAIL(d->actor_grad, na);
    ALLOC_OR_FAIL(d->actor_m, na);
    ALLOC_OR_FAIL(d->actor_v, na);
    ALLOC_OR_FAIL(d->critic, nc);
    ALLOC_OR_FAIL(d->critic_targ, nc);
    ALLOC_OR_FAIL(d->critic_grad, nc);
    ALLOC_OR_FAIL(d->critic_m, nc);
    ALLOC_OR_FAIL(d->critic_v, nc);
    ALLOC_OR_FAIL(d->adam_step, 2 * sizeof(int64_t));
    if (be->sumsq) {
        ALLOC_OR_FAIL(d->actor_sumsq, sizeof(double) * d->actor_shape.n_layers);
        ALLOC_OR_FAIL(d->critic_sumsq, sizeof(double) * d->critic_shape.n_layers);
    }
    ALLOC_OR_FAIL(d->sample_ctr, sizeof(uint64_t));
    ALLOC_OR_FAIL(d->x_sa, sizeof(float) * B * (od + ad));
    ALLOC_OR_FAIL(d->x_next, sizeof(float) * B * (od + ad));
    ALLOC_OR_FAIL(d->x_pi, sizeof(float) * B * (od + ad));
    ALLOC_OR_FAIL(d->dx_pi, sizeof(float) * B * (od + ad));
    ALLOC_OR_FAIL(d->da, sizeof(float) * B * ad);
    ALLOC_OR_FAIL(d->y, sizeof(float) * B);
    ALLOC_OR_FAIL(d->dq, sizeof(float) * B);
    ALLOC_OR_FAIL(d->metrics, sizeof(float) * DDPG_N_METRICS);
    if (mlp_work_create(&d->w_actor, be, &d->actor_shape, B) ||
        mlp_work_create(&d->w_actor_targ, be, &d->actor_shape, B) ||
        mlp_work_create(&d->w_critic, be, &d->critic_shape, B) ||
        mlp_work_create(&d->w_critic_targ, be, &d->critic_shape, B) ||
        mlp_work_create(&d->w_critic_pi, be, &d->critic_shape, B) ||
        batch_create(&d->batch, be, B, od, ad))
        return -1;

    /* Initialise on the host, upload, and copy into the targets. */
    size_t nmax = na > nc ? na : nc;
    float *host = malloc(nmax);
    mallocCheck(host);
    mlp_init_params(&d->actor_shape, host, p->seed, 0);
    be->to_device(be, d->actor, host, na);
    mlp_init_params(&d->critic_shape, host, p->seed, 1);
    be->to_device(be, d->critic, host, nc);
    be->sync(be);
    free(host);
    be->copy(be, d->actor_targ, d->actor, na);
    be->copy(be, d->critic_targ, d->critic, nc);
    return 0;
}

void ddpg_destroy(Ddpg *d) {
    Backend *be = d->be;
    if (!be) return;
    float *bufs[] = {d->actor,      d->actor_targ, d->actor_grad, d->actor_m, d->actor_v,
                     d->critic,     d->critic_targ, d->critic_grad, d->critic_m, d->critic_v,
                     d->x_sa,       d->x_next,      d->x_pi,        d->dx_pi,    d->da,
                     d->y,          d->dq,          d->metrics};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) be->free(be, bufs[i]);
    if (d->adam_step) be->free(be, d->adam_step);
    if (d->sample_ctr) be->free(be, d->sample_ctr);
    if (d->actor_sumsq) be->free(be, d->actor_sumsq);
    if (d->critic_sumsq) be->free(be, d->critic_sumsq);
    mlp_work_destroy(&d->w_actor, be);
    mlp_work_destroy(&d->w_actor_targ, be);
    mlp_work_destroy(&d->w_critic, be);
    mlp_work_destroy(&d->w_critic_targ, be);
    mlp_work_destroy(&d->w_critic_pi, be);
    batch_destroy(&d->batch, be);
    memset(d, 0, sizeof *d);
}

void ddpg_update(Ddpg *d, const Replay *r) {
    d->be->replay_sample(d->be, r, &d->batch, d->p.seed, d->sample_ctr);
    ddpg_update_batch(d);
}

/* ---- the forward passes of one update, in two independent lanes ---- */

/* Lane 1: the TD target y = r + gamma (1 - terminated) Q'(s', mu'(s')) from
 * the target networks; no gradient flows through it. */
static void td_target_lane(Ddpg *d) {
    Backend *be = d->be;
    const Batch *b = &d->batch;
    int B = d->p.batch_size, od = d->p.obs_dim, ad = d->p.act_dim;
    float *a_next = mlp_forward(be, &d->actor_shape, d->actor_targ, b->next_obs, B,
                                &d->w_actor_targ);
    be->concat_cols(be, d->x_next, b->next_obs, od, a_next, ad, B);
    float *q_next = mlp_forward(be, &d->critic_shape, d->critic_targ, d->x_next, B,
                                &d->w_critic_targ);
    be->td_target(be, d->y, b->rew, b->term, q_next, B, d->p.gamma);
    be->mean_acc(be, d->metrics + METRIC_Y_MEAN, d->y, B, 1.0f);
}

/* Lane 0: Q(s, a) of the online critic, and mu(s) for the actor step. The
 * actor's parameters do not change before the actor step, so computing
 * mu(s) here, beside the critic's work, gives the same numbers. */
static void online_lane(Ddpg *d) {
    Backend *be = d->be;
    const Batch *b = &d->batch;
    int B = d->p.batch_size, od = d->p.obs_dim, ad = d->p.act_dim;
    be->concat_cols(be, d->x_sa, b->obs, od, b->act, ad, B);
    float *q = mlp_forward(be, &d->critic_shape, d->critic, d->x_sa, B, &d->w_critic);
    be->mean_acc(be, d->metrics + METRIC_Q_MEAN, q, B, 1.0f);
    float *a_pi = mlp_forward(be, &d->actor_shape, d->actor, b->obs, B, &d->w_actor);
    be->concat_cols(be, d->x_pi, b->obs, od, a_pi, ad, B);
}

/* The online networks run on lane 0, the caller's thread on the CPU, which
 * then runs their backward passes on activations still in its cache. */
static void forward_lane(void *ctx, int lane) {
    if (lane == 0)
        online_lane(ctx);
    else
        td_target_lane(ctx);
}

/* Critic: regress Q(s,a) to y (mean squared error). */
static void critic_step(Ddpg *d) {
    Backend *be = d->be;
    const DdpgParams *p = &d->p;
    int B = p->batch_size;
    float *m = d->metrics;
    float *q = d->w_critic.h[d->critic_shape.n_layers];
    be->mse_acc(be, m + METRIC_CRITIC_LOSS, q, d->y, B);
    be->mse_grad(be, d->dq, q, d->y, B);
    mlp_backward(be, &d->critic_shape, d->critic, B, &d->w_critic, d->dq, d->critic_grad,
                 d->critic_sumsq, NULL);
    /* Clipping, Adam and the critic's soft update: critic_targ is not read
     * again in this update, so its soft update need not wait for the actor. */
    AdamHyper h = {p->critic_lr, 0.9f, 0.999f, 1e-8f};
    be->optim_step(be, d->critic, d->critic_grad, d->critic_m, d->critic_v,
                   d->critic_shape.n_params, p->grad_clip, m + METRIC_CRITIC_GRAD_NORM, h,
                   d->adam_step + 1, d->critic_targ, p->tau, d->critic_sumsq,
                   d->critic_shape.n_layers);
}

/* dLoss_actor/d mu(s) for rows [r0, r0 + n): Q(s, mu(s)) through the just
 * updated critic, then back through the critic to its action input. Every op
 * here is row by row (nothing sums over the batch), so row blocks can run as
 * independent lanes. */
static void policy_grad_rows(Ddpg *d, int r0, int n) {
    Backend *be = d->be;
    int B = d->p.batch_size, od = d->p.obs_dim, ad = d->p.act_dim, in = od + ad;
    /* its own buffers: each core keeps writing the same rows here, update
     * after update, instead of lines that the other core wrote last */
    MlpWork w = mlp_work_rows(&d->w_critic_pi, &d->critic_shape, r0);
    mlp_forward(be, &d->critic_shape, d->critic, d->x_pi + (size_t)r0 * in, n, &w);
    be->fill(be, d->dq + r0, -1.0f / (float)B, (size_t)n);
    mlp_backward(be, &d->critic_shape, d->critic, n, &w, d->dq + r0, NULL, NULL,
                 d->dx_pi + (size_t)r0 * in);
    be->slice_cols(be, d->da + (size_t)r0 * ad, d->dx_pi + (size_t)r0 * in, n, in, od, ad);
}

static void policy_grad_lane(void *ctx, int lane) {
    Ddpg *d = ctx;
    int half = d->p.batch_size / 2;
    if (lane == 0)
        policy_grad_rows(d, 0, half);
    else
        policy_grad_rows(d, half, d->p.batch_size - half);
}

/* Actor: minimise -mean Q(s, mu(s)) through the just-updated critic; only the
 * actor's parameters change (the critic gets no parameter gradient). */
static void actor_step(Ddpg *d) {
    Backend *be = d->be;
    const DdpgParams *p = &d->p;
    int B = p->batch_size;
    /* Two half batches at once where lanes are concurrent (the CPU's
     * threads); one pass otherwise, where halving would only add launches. */
    if (be->run_lanes && B >= 2)
        be->run_lanes(be, 2, policy_grad_lane, d);
    else
        policy_grad_rows(d, 0, B);
    be->mean_acc(be, d->metrics + METRIC_ACTOR_LOSS, d->w_critic_pi.h[d->critic_shape.n_layers],
                 B, -1.0f);
    mlp_backward(be, &d->actor_shape, d->actor, B, &d->w_actor, d->da, d->actor_grad,
                 d->actor_sumsq, NULL);
    AdamHyper h = {p->actor_lr, 0.9f, 0.999f, 1e-8f};
    be->optim_step(be, d->actor, d->actor_grad, d->actor_m, d->actor_v, d->actor_shape.n_params,
                   p->grad_clip, d->metrics + METRIC_ACTOR_GRAD_NORM, h, d->adam_step + 0,
                   d->actor_targ, p->tau, d->actor_sumsq, d->actor_shape.n_layers);
}

void ddpg_update_batch(Ddpg *d) {
    Backend *be = d->be;
    backend_run_lanes(be, 2, forward_lane, d);
    /* Each step ends with its network's soft target update: after every
     * gradient step, as the notebook. */
    critic_step(d);
    actor_step(d);
}

void ddpg_act(Ddpg *d, const float *obs, int n, float *act, MlpWork *w) {
    float *a = mlp_forward(d->be, &d->actor_shape, d->actor, obs, n, w);
    d->be->copy(d->be, act, a, sizeof(float) * (size_t)n * d->p.act_dim);
}

void ddpg_probe(Ddpg *d, const float *obs, int n, float *act, float *q, MlpWork *wa,
                MlpWork *wc, float *x) {
    Backend *be = d->be;
    int od = d->p.obs_dim, ad = d->p.act_dim;
    ddpg_act(d, obs, n, act, wa);
    be->concat_cols(be, x, obs, od, act, ad, n);
    float *qv = mlp_forward(be, &d->critic_shape, d->critic, x, n, wc);
    be->copy(be, q, qv, sizeof(float) * (size_t)n);
}
