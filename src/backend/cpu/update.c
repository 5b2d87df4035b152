/* update.c - the CPU's schedule of one DDPG or TD3 update, with or without
 * LayerNorm (Backend.schedule): the generic update's numbers (src/agent/
 * ddpg.c; tests/test_schedule.c checks them bit for bit), arranged for a
 * CPU with a few cores.
 *
 *  1. Two parts at once: the TD target from the target networks (the
 *     generic ddpg_td_target: TD3's smoothing noise and twin targets
 *     included), beside the online critics' Q(s, a) and, on a policy step,
 *     mu(s). The online part runs on the calling thread, which then runs
 *     their backward passes on activations still in its cache. (mu(s) is
 *     made this early because the actor does not change before its step.)
 *  2. The critics' losses, backward passes (passes.c: lanes, ReLU masks,
 *     LayerNorm, the norm's parts summed where they are made) and optimizer
 *     steps: DDPG's one critic with its backward pass in two lanes, TD3's
 *     twins as two parts at once, each whole on one core.
 *  3. On a policy step (every update for DDPG, every policy_delay-th for
 *     TD3): Q(s, mu(s)) through the updated first critic and dQ/da, in two
 *     row blocks at once (nothing in them sums over the batch), on buffers
 *     of their own: each core keeps writing the same rows, update after
 *     update.
 *  4. Then the actor's backward pass and optimizer step. The soft updates
 *     of the targets end the optimizer steps of a policy step, as in the
 *     generic update.
 *
 * Every part runs the same ops on the same rows for any thread count (with
 * one thread, one after the other), so the numbers never depend on it.
 * Per-phase times are in bench/results/cpu_update.md.
 */
#include <string.h>

#include "cpu_common.h"
#include "ddpg/ddpg.h"
#include "passes.h"

/* What the schedule keeps per agent (Ddpg.plan), beside the agent's own. */
typedef struct {
    uint32_t *critic_mask[DDPG_MAX_CRITICS][MLP_MAX_LAYERS + 1]; /* of each Q(s, a) pass */
    uint32_t *actor_mask[MLP_MAX_LAYERS + 1];  /* masks of the actor's mu(s) pass */
    uint32_t *policy_mask[MLP_MAX_LAYERS + 1]; /* masks of the Q(s, mu(s)) pass */
    /* second lanes' gradients (threads > 1; the critic's for DDPG only:
     * TD3's twins step side by side, each on one core) */
    float *critic_dh2[MLP_MAX_LAYERS + 1], *critic_dz2[MLP_MAX_LAYERS + 1];
    float *actor_dh2[MLP_MAX_LAYERS + 1], *actor_dz2[MLP_MAX_LAYERS + 1];
    MlpWork policy_work;                       /* (batch rows) the Q(s, mu(s)) pass */
    float *dq0;                                /* (batch) TD3: the first critic's dq */
    double *critic_sumsq[DDPG_MAX_CRITICS], *actor_sumsq; /* (n_layers) the norm's parts */
} CpuPlan;

/* Every agent: DDPG and TD3, with and without LayerNorm. */
static int cpu_accepts(Backend *be, const Ddpg *d) {
    (void)be;
    return d->n_critics >= 1 && d->n_critics <= DDPG_MAX_CRITICS;
}

static void mask_tensors(uint32_t **mask, const MlpShape *s, int rows, const char *prefix,
                         TensorList *l) {
    char name[16];
    for (int k = 1; k < s->n_layers; k++) { /* the hidden layers: ReLU */
        snprintf(name, sizeof name, "mask%d", k);
        TENSOR_ADD(l, prefix, name, &mask[k], (size_t)rows * relu_mask_words(s->sizes[k]),
                   TENSOR_WORK);
    }
}

static void lane2_tensors(float **dh2, float **dz2, const MlpShape *s, int rows,
                          const char *prefix, TensorList *l) {
    char name[16];
    for (int k = 1; k <= s->n_layers; k++) {
        snprintf(name, sizeof name, "dh2_%d", k);
        TENSOR_ADD(l, prefix, name, &dh2[k], (size_t)rows * s->sizes[k], TENSOR_WORK);
        if (!mlp_layer_normed(s, k - 1)) continue;
        snprintf(name, sizeof name, "dz2_%d", k);
        TENSOR_ADD(l, prefix, name, &dz2[k], (size_t)rows * s->sizes[k], TENSOR_WORK);
    }
}

static void cpu_plan_tensors(Backend *be, Ddpg *d, TensorList *l) {
    CpuPlan *p = d->plan;
    const MlpShape *a = &d->actor.shape, *c = &d->critic[0].shape;
    int B = d->p.batch_size;
    char prefix[24];
    for (int k = 0; k < d->n_critics; k++) {
        snprintf(prefix, sizeof prefix, "cpu.critic%d.", k);
        mask_tensors(p->critic_mask[k], c, B, prefix, l);
        snprintf(prefix, sizeof prefix, "critic%d_sumsq", k);
        TENSOR_ADD(l, "cpu.", prefix, &p->critic_sumsq[k], (size_t)c->n_layers, TENSOR_WORK);
    }
    mask_tensors(p->actor_mask, a, B, "cpu.actor.", l);
    mask_tensors(p->policy_mask, c, B, "cpu.policy.", l);
    if (cpu_threads(be) > 1) {
        if (d->n_critics == 1) lane2_tensors(p->critic_dh2, p->critic_dz2, c, B, "cpu.critic0.", l);
        lane2_tensors(p->actor_dh2, p->actor_dz2, a, B, "cpu.actor.", l);
    }
    mlp_work_tensors(&p->policy_work, c, B, 1, "cpu.policy.work.", l);
    if (d->n_critics > 1) TENSOR_ADD(l, "cpu.", "dq0", &p->dq0, (size_t)B, TENSOR_WORK);
    TENSOR_ADD(l, "cpu.", "actor_sumsq", &p->actor_sumsq, (size_t)a->n_layers, TENSOR_WORK);
}

static CpuPass pass_of(const MlpWork *w, uint32_t *const *mask, float *const *dh2,
                       float *const *dz2) {
    CpuPass p;
    memset(&p, 0, sizeof p);
    p.w = *w;
    memcpy(p.mask, mask, sizeof p.mask);
    if (dh2) memcpy(p.dh2, dh2, sizeof p.dh2);
    if (dz2) memcpy(p.dz2, dz2, sizeof p.dz2);
    return p;
}

/* The update's state on the stack of one call. */
typedef struct {
    Ddpg *d;
    CpuPlan *plan;
    CpuPass critic[DDPG_MAX_CRITICS], actor, policy;
    int split;  /* rows of the first Q(s, mu(s)) part */
    int policy_step; /* ddpg_policy_step: the actor and the targets move */
} Update;

/* Part 0: Q(s, a) of each critic, and on a policy step mu(s) and x_pi =
 * [s | mu(s)]. Part 1: the TD target. */
static void forward_part(void *ctx, int part) {
    Update *u = ctx;
    Ddpg *d = u->d;
    if (part == 1) {
        ddpg_td_target(d);
        return;
    }
    Backend *be = d->be;
    const Batch *b = &d->batch;
    Net *a = &d->actor;
    int B = d->p.batch_size, od = d->p.obs_dim, ad = d->p.act_dim;
    cpu_concat_cols(be, d->x_sa, b->obs, od, b->act, ad, B);
    for (int k = 0; k < d->n_critics; k++) {
        Net *c = &d->critic[k];
        float *q = cpu_pass_forward(be, &c->shape, c->params, d->x_sa, B, &u->critic[k]);
        cpu_mean_acc(be, d->metrics + (k == 0 ? METRIC_Q_MEAN : METRIC_Q2_MEAN), q, B, 1.0f);
    }
    if (!u->policy_step) return;
    float *a_pi = cpu_pass_forward(be, &a->shape, a->params, b->obs, B, &u->actor);
    cpu_concat_cols(be, d->x_pi, b->obs, od, a_pi, ad, B);
}

/* Clipping, Adam and (soft_update) the soft update of n, the norm from the
 * sums of squares its backward pass made (the same numbers as net_optim_step). */
static void optim_from_sums(Backend *be, Net *n, const double *sums, float lr, float *norm_acc,
                            const DdpgParams *p, int soft_update) {
    cpu_optim_step_sums(be, n->params, n->grad, n->adam_m, n->adam_v, n->shape.n_params, sums,
                        n->shape.n_layers, p->grad_clip, norm_acc, net_adam_hyper(lr),
                        n->adam_step, soft_update ? n->target : NULL, p->tau);
}

/* Critic k's backward pass from dq and its optimizer step (the gradient
 * norm metric is the first critic's, as ddpg_critic_optim). */
static void critic_step(Update *u, int k, const float *dq) {
    Ddpg *d = u->d;
    Net *c = &d->critic[k];
    cpu_pass_backward(d->be, &c->shape, c->params, d->p.batch_size, &u->critic[k], dq, c->grad,
                      u->plan->critic_sumsq[k], NULL);
    optim_from_sums(d->be, c, u->plan->critic_sumsq[k], d->p.critic_lr,
                    k == 0 ? d->metrics + METRIC_CRITIC_GRAD_NORM : NULL, &d->p, u->policy_step);
}

/* TD3's twins, one on each core: critic 0 from the dq kept in dq0, critic 1
 * from d->dq. */
static void critic_part(void *ctx, int k) {
    Update *u = ctx;
    critic_step(u, k, k == 0 ? u->plan->dq0 : u->d->dq);
}

/* The critics' steps. Their losses are one metric, summed in the generic
 * order (the first critic's first), and each loss leaves its gradient in
 * d->dq: the first critic's is kept in dq0 before the second's is made. */
static void critics_step(Update *u) {
    Ddpg *d = u->d;
    int B = d->p.batch_size;
    const float *q0 = u->critic[0].w.h[d->critic[0].shape.n_layers];
    ddpg_critic_loss(d, q0);
    if (d->n_critics == 1) { /* one critic: its backward pass in two lanes */
        critic_step(u, 0, d->dq);
        return;
    }
    memcpy(u->plan->dq0, d->dq, sizeof(float) * (size_t)B);
    ddpg_critic_loss(d, u->critic[1].w.h[d->critic[1].shape.n_layers]);
    cpu_run_parts(d->be, 2, critic_part, u);
}

/* dLoss_actor/d mu(s) for rows [r0, r0 + n): Q(s, mu(s)) through the just
 * updated critic, then back through it to its action input. */
static void policy_rows(Update *u, int r0, int n) {
    Ddpg *d = u->d;
    Backend *be = d->be;
    Net *c = &d->critic[0];
    int B = d->p.batch_size, od = d->p.obs_dim, ad = d->p.act_dim, in = od + ad;
    CpuPass p = cpu_pass_rows(&u->policy, &c->shape, r0);
    cpu_pass_forward(be, &c->shape, c->params, d->x_pi + (size_t)r0 * in, n, &p);
    cpu_fill(be, d->dq + r0, -1.0f / (float)B, (size_t)n);
    cpu_pass_backward(be, &c->shape, c->params, n, &p, d->dq + r0, NULL, NULL,
                      d->dx_pi + (size_t)r0 * in);
    cpu_slice_cols(be, d->da + (size_t)r0 * ad, d->dx_pi + (size_t)r0 * in, n, in, od, ad);
}

static void policy_part(void *ctx, int part) {
    Update *u = ctx;
    int B = u->d->p.batch_size;
    if (part == 0)
        policy_rows(u, 0, u->split);
    else
        policy_rows(u, u->split, B - u->split);
}

/* Where the Q(s, mu(s)) pass cuts the batch, the same for every thread
 * count. OpenBLAS may round a row differently with the rows of its call
 * (dense.c): from two blocks of GEMM_ROW_BLOCK rows on, the cut is a
 * multiple of the block, so each part makes exactly the calls of the whole
 * pass; below that it is a multiple of 32 rows, which gives the whole pass's
 * numbers at the sizes tests/test_schedule.c checks; under 64 rows, no cut. */
static int policy_split(int B) {
    if (B >= 2 * GEMM_ROW_BLOCK) return B / (2 * GEMM_ROW_BLOCK) * GEMM_ROW_BLOCK;
    return B / 64 * 32;
}

/* The actor's step through the updated first critic: Q(s, mu(s)) and
 * dQ/da in two row blocks at once, then its backward pass and step. */
static void actor_step(Update *u) {
    Ddpg *d = u->d;
    Net *c = &d->critic[0], *a = &d->actor;
    int B = d->p.batch_size;
    if (u->split > 0)
        cpu_run_parts(d->be, 2, policy_part, u);
    else
        policy_rows(u, 0, B);
    ddpg_actor_loss(d, u->policy.w.h[c->shape.n_layers]);
    cpu_pass_backward(d->be, &a->shape, a->params, B, &u->actor, d->da, a->grad,
                      u->plan->actor_sumsq, NULL);
    optim_from_sums(d->be, a, u->plan->actor_sumsq, d->p.actor_lr,
                    d->metrics + METRIC_ACTOR_GRAD_NORM, &d->p, 1);
}

static void cpu_update(Backend *be, Ddpg *d) {
    CpuPlan *plan = d->plan;
    Update u;
    memset(&u, 0, sizeof u);
    u.d = d, u.plan = plan;
    for (int k = 0; k < d->n_critics; k++)
        u.critic[k] = pass_of(&d->critic[k].work, plan->critic_mask[k],
                              k == 0 ? plan->critic_dh2 : NULL, k == 0 ? plan->critic_dz2 : NULL);
    u.actor = pass_of(&d->actor.work, plan->actor_mask, plan->actor_dh2, plan->actor_dz2);
    u.policy = pass_of(&plan->policy_work, plan->policy_mask, NULL, NULL);
    u.split = policy_split(d->p.batch_size);
    u.policy_step = ddpg_policy_step(d);
    cpu_run_parts(be, 2, forward_part, &u);
    critics_step(&u);
    if (u.policy_step) actor_step(&u); /* TD3: the actor and the targets wait otherwise */
}

const DdpgSchedule CPU_DDPG_SCHEDULE = {"cpu lanes", sizeof(CpuPlan), cpu_accepts,
                                        cpu_plan_tensors, cpu_update};
