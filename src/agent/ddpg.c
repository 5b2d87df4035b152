/* ddpg.c - one DDPG gradient update, as the notebook's DDPGAgent.update, and
 * TD3's, as Fujimoto et al. 2018 (Algorithm 1) and Stable-Baselines3's TD3. */
#include "ddpg/ddpg.h"

#include <stdlib.h>
#include <string.h>

#include "ddpg/errcheck.h"

const char *const DDPG_METRIC_NAMES[DDPG_N_METRICS] = {
    "critic_loss", "actor_loss",      "q_mean", "y_mean", "critic_grad_norm",
    "actor_grad_norm", "q2_mean"};


void ddpg_tensors(Ddpg *d, TensorList *l) {
    const DdpgParams *p = &d->p;
    int B = p->batch_size, od = p->obs_dim, ad = p->act_dim;
    char hidden[96] = "";
    for (int i = 0, k = 0; i < p->n_hidden && k < (int)sizeof hidden; i++)
        k += snprintf(hidden + k, sizeof hidden - (size_t)k, "%s%d", i ? "," : "", p->hidden[i]);
    tensors_why(l, "--hidden %s with --batch-size %d", hidden, B);
    net_tensors(&d->actor, "actor.", l);
    /* the action bounds of its tanh head: what an embedded policy needs (policy.h) */
    TENSOR_ADD_HOST(l, "actor.", "action_low", d->actor.shape.bounds.low, (size_t)ad,
                    TENSOR_STATE);
    TENSOR_ADD_HOST(l, "actor.", "action_high", d->actor.shape.bounds.high, (size_t)ad,
                    TENSOR_STATE);
    for (int i = 0; i < d->n_critics; i++) {
        char prefix[24];
        snprintf(prefix, sizeof prefix, "critic%d.", i);
        net_tensors(&d->critic[i], prefix, l);
    }
    TENSOR_ADD(l, "", "sample_ctr", &d->sample_ctr, 1, TENSOR_STATE);
    TENSOR_ADD_HOST(l, "", "updates", &d->updates, 1, TENSOR_STATE);
    if (p->algo == ALGO_TD3) TENSOR_ADD(l, "", "smooth_ctr", &d->smooth_ctr, 1, TENSOR_STATE);
    batch_tensors(&d->batch, B, od, ad, "batch.", TENSOR_WORK, l);
    size_t nx = (size_t)B * (od + ad);
    TENSOR_ADD(l, "update.", "x_sa", &d->x_sa, nx, TENSOR_WORK);
    TENSOR_ADD(l, "update.", "x_next", &d->x_next, nx, TENSOR_WORK);
    TENSOR_ADD(l, "update.", "x_pi", &d->x_pi, nx, TENSOR_WORK);
    TENSOR_ADD(l, "update.", "dx_pi", &d->dx_pi, nx, TENSOR_WORK);
    TENSOR_ADD(l, "update.", "da", &d->da, (size_t)B * ad, TENSOR_WORK);
    TENSOR_ADD(l, "update.", "y", &d->y, (size_t)B, TENSOR_WORK);
    TENSOR_ADD(l, "update.", "dq", &d->dq, (size_t)B, TENSOR_WORK);
    /* the current metric window's sums: state, so that a resumed run's
     * updates.csv goes on as if it had not stopped */
    TENSOR_ADD(l, "", "metrics", &d->metrics, (size_t)d->n_metrics, TENSOR_STATE);
    if (d->plan && d->be->schedule->tensors) d->be->schedule->tensors(d->be, d, l);
}

int ddpg_init(Ddpg *d, Backend *be, const DdpgParams *p) {
    memset(d, 0, sizeof *d);
    d->be = be;
    d->p = *p;
    memcpy(d->hidden, p->hidden, sizeof(int) * (size_t)p->n_hidden);
    d->p.hidden = d->hidden;
    if (d->p.policy_delay < 1) d->p.policy_delay = 1;
    d->p.bounds.dim = p->act_dim; /* the ops that draw noise loop over bounds.dim */
    int od = p->obs_dim, ad = p->act_dim;
    MlpShape actor, critic;
    mlp_shape_init(&actor, od, p->hidden, p->n_hidden, ad, ACT_TANH_SCALE, &d->p.bounds);
    mlp_shape_init(&critic, od + ad, p->hidden, p->n_hidden, 1, ACT_NONE, NULL);
    if (p->layer_norm) mlp_shape_layer_norm(&actor), mlp_shape_layer_norm(&critic);
    net_init_shape(&d->actor, &actor, p->batch_size);
    d->n_critics = p->algo == ALGO_TD3 ? 2 : 1;
    d->n_metrics = p->algo == ALGO_TD3 ? DDPG_N_METRICS : METRIC_Q2_MEAN;
    for (int k = 0; k < d->n_critics; k++) net_init_shape(&d->critic[k], &critic, p->batch_size);
    const DdpgSchedule *s = be->schedule;
    if (s && s->accepts(be, d)) {
        d->plan = calloc(1, s->plan_bytes ? s->plan_bytes : 1);
        mallocCheck(d->plan);
    }
    return 0;
}

Status ddpg_alloc(Ddpg *d, Error *e) {
    TensorList l;
    tensors_init(&l);
    ddpg_tensors(d, &l);
    Status st = tensors_alloc(d->be, &l, e);
    tensors_release(&l);
    if (st) return st;
    int rc;
    /* streams: the actor 0, critic k k + 1 (DDPG's critic is TD3's first) */
    rc = net_init_params(d->be, &d->actor, d->p.seed, 0);
    for (int k = 0; k < d->n_critics && rc == 0; k++)
        rc = net_init_params(d->be, &d->critic[k], d->p.seed, (uint32_t)k + 1);
    if (rc)
        return error_set(e, STATUS_BAD_INPUT,
                         "out of host memory for the initial parameters (--hidden)");
    return STATUS_OK;
}

Status ddpg_create(Ddpg *d, Backend *be, const DdpgParams *p, Error *e) {
    ddpg_init(d, be, p);
    return ddpg_alloc(d, e);
}

void ddpg_destroy(Ddpg *d) {
    if (!d->be) return;
    TensorList l;
    tensors_init(&l);
    ddpg_tensors(d, &l);
    tensors_free(d->be, &l);
    tensors_release(&l);
    free(d->plan);
    memset(d, 0, sizeof *d);
}

void ddpg_update(Ddpg *d, const Replay *r) {
    d->be->replay_sample(d->be, r, &d->batch, d->p.seed, d->sample_ctr);
    ddpg_update_batch(d);
}

int ddpg_policy_step(const Ddpg *d) { return d->updates % d->p.policy_delay == 0; }

void ddpg_update_batch(Ddpg *d) {
    d->updates++;
    if (d->plan)
        d->be->schedule->update(d->be, d);
    else
        ddpg_update_generic(d);
}

/* ---- the parts of one update ---- */

/* y = r + gamma (1 - terminated) Q'(s', mu'(s')) from the target networks,
 * on their own works; no gradient flows through it. TD3: the target action
 * gets clipped Gaussian noise (scaled to each dimension's half range, then
 * clipped to the bounds), and Q' is the smaller of the twin targets. */
void ddpg_td_target(Ddpg *d) {
    Backend *be = d->be;
    const Batch *b = &d->batch;
    const DdpgParams *p = &d->p;
    Net *a = &d->actor;
    int B = p->batch_size, od = p->obs_dim, ad = p->act_dim;
    float *a_next = mlp_forward(be, &a->shape, a->target, b->next_obs, B, &a->target_work);
    if (p->algo == ALGO_TD3) {
        NoiseSpec ns = {.kind = NOISE_GAUSSIAN, .sigma = p->target_noise,
                        .clip = p->target_noise_clip, .per_bound = 1};
        be->add_noise(be, a_next, B, p->bounds, ns, p->seed ^ DDPG_SMOOTH_SEED_SALT, d->smooth_ctr);
    }
    be->concat_cols(be, d->x_next, b->next_obs, od, a_next, ad, B);
    float *q_next[DDPG_MAX_CRITICS] = {NULL, NULL};
    for (int k = 0; k < d->n_critics; k++) {
        Net *c = &d->critic[k];
        q_next[k] = mlp_forward(be, &c->shape, c->target, d->x_next, B, &c->target_work);
    }
    be->td_target(be, d->y, b->rew, b->term, q_next[0], q_next[1], B, p->gamma);
    be->mean_acc(be, d->metrics + METRIC_Y_MEAN, d->y, B, 1.0f);
}

/* Q(s, a) of the batch's own actions on critic k's work, kept there for
 * its backward pass. */
void ddpg_critic_q(Ddpg *d, int k) {
    Backend *be = d->be;
    const Batch *b = &d->batch;
    Net *c = &d->critic[k];
    int B = d->p.batch_size, od = d->p.obs_dim, ad = d->p.act_dim;
    if (k == 0) be->concat_cols(be, d->x_sa, b->obs, od, b->act, ad, B);
    float *q = mlp_forward(be, &c->shape, c->params, d->x_sa, B, &c->work);
    be->mean_acc(be, d->metrics + (k == 0 ? METRIC_Q_MEAN : METRIC_Q2_MEAN), q, B, 1.0f);
}

/* A critic's loss mean((q - y)^2) (a metric: TD3's twins' sum) and its gradient dq. */
void ddpg_critic_loss(Ddpg *d, const float *q) {
    Backend *be = d->be;
    int B = d->p.batch_size;
    be->mse_acc(be, d->metrics + METRIC_CRITIC_LOSS, q, d->y, B);
    be->mse_grad(be, d->dq, q, d->y, B);
}

/* Clipping, Adam, and (soft_update) the soft update of critic k's target.
 * The target is not read again in this update, so updating it now gives the
 * notebook's numbers (it soft-updates both targets after both steps). The
 * gradient norm metric is the first critic's. */
void ddpg_critic_optim(Ddpg *d, int k, int soft_update) {
    const DdpgParams *p = &d->p;
    net_optim_step(d->be, &d->critic[k], p->critic_lr, p->grad_clip,
                   k == 0 ? d->metrics + METRIC_CRITIC_GRAD_NORM : NULL,
                   soft_update ? p->tau : -1.0f);
}

/* mu(s) on the actor's work, kept for its backward pass, and x_pi = [s | mu(s)]. */
void ddpg_actor_mu(Ddpg *d) {
    Backend *be = d->be;
    int B = d->p.batch_size, od = d->p.obs_dim, ad = d->p.act_dim;
    float *a_pi = mlp_forward(be, &d->actor.shape, d->actor.params, d->batch.obs, B,
                              &d->actor.work);
    be->concat_cols(be, d->x_pi, d->batch.obs, od, a_pi, ad, B);
}

/* The actor's loss -mean Q(s, mu(s)), a metric. */
void ddpg_actor_loss(Ddpg *d, const float *q_pi) {
    d->be->mean_acc(d->be, d->metrics + METRIC_ACTOR_LOSS, q_pi, d->p.batch_size, -1.0f);
}

/* da = dLoss_actor / d mu(s): Q(s, mu(s)) through the just updated critic
 * (on its work: the critic's backward pass is done), then back through it
 * to its action input. The critic gets no parameter gradient. */
void ddpg_policy_grad(Ddpg *d) {
    Backend *be = d->be;
    Net *c = &d->critic[0];
    int B = d->p.batch_size, od = d->p.obs_dim, ad = d->p.act_dim;
    float *q_pi = mlp_forward(be, &c->shape, c->params, d->x_pi, B, &c->work);
    ddpg_actor_loss(d, q_pi);
    be->fill(be, d->dq, -1.0f / (float)B, (size_t)B); /* d(-mean q)/dq */
    mlp_backward(be, &c->shape, c->params, B, &c->work, d->dq, NULL, d->dx_pi);
    be->slice_cols(be, d->da, d->dx_pi, B, od + ad, od, ad);
}

/* Clipping, Adam, and the soft update of the actor's target. */
void ddpg_actor_optim(Ddpg *d) {
    const DdpgParams *p = &d->p;
    net_optim_step(d->be, &d->actor, p->actor_lr, p->grad_clip,
                   d->metrics + METRIC_ACTOR_GRAD_NORM, p->tau);
}

void ddpg_update_generic(Ddpg *d) {
    Backend *be = d->be;
    Net *actor = &d->actor;
    int B = d->p.batch_size, policy = ddpg_policy_step(d);
    /* TD target from the target networks */
    ddpg_td_target(d);
    /* each critic: regress Q(s, a) to y */
    for (int k = 0; k < d->n_critics; k++) {
        Net *c = &d->critic[k];
        ddpg_critic_q(d, k);
        ddpg_critic_loss(d, c->work.h[c->shape.n_layers]);
        mlp_backward(be, &c->shape, c->params, B, &c->work, d->dq, c->grad, NULL);
        ddpg_critic_optim(d, k, policy);
    }
    if (!policy) return; /* TD3: the actor and the targets wait */
    /* actor: maximise Q(s, mu(s)) through the updated (first) critic */
    ddpg_actor_mu(d);
    ddpg_policy_grad(d);
    mlp_backward(be, &actor->shape, actor->params, B, &actor->work, d->da, actor->grad, NULL);
    ddpg_actor_optim(d);
    /* The soft updates of the targets ended the optimizer steps. */
}

void ddpg_act(Ddpg *d, const float *obs, int n, float *act, MlpWork *w) {
    float *a = mlp_forward(d->be, &d->actor.shape, d->actor.params, obs, n, w);
    d->be->copy(d->be, act, a, sizeof(float) * (size_t)n * d->p.act_dim);
}

void ddpg_probe(Ddpg *d, const float *obs, int n, float *act, float *q, MlpWork *wa,
                MlpWork *wc, float *x) {
    Backend *be = d->be;
    Net *c = &d->critic[0];
    int od = d->p.obs_dim, ad = d->p.act_dim;
    ddpg_act(d, obs, n, act, wa);
    be->concat_cols(be, x, obs, od, act, ad, n);
    float *qv = mlp_forward(be, &c->shape, c->params, x, n, wc);
    be->copy(be, q, qv, sizeof(float) * (size_t)n);
}
