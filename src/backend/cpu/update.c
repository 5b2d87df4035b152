/* update.c - the CPU's schedule of one DDPG update (Backend.schedule): the
 * generic update's numbers (src/ddpg.c; tests/test_schedule.c checks them
 * bit for bit), arranged for a CPU with a few cores.
 *
 *  1. Two parts at once: the TD target from the target networks (the
 *     generic ddpg_td_target), beside the online networks' Q(s, a) and
 *     mu(s). The online part runs on the calling thread, which then runs
 *     their backward passes on activations still in its cache. (mu(s) is
 *     made this early because the actor does not change before its step.)
 *  2. The critic's loss, its backward pass (passes.c: lanes, ReLU masks,
 *     the norm's parts summed where they are made) and optimizer step.
 *  3. Q(s, mu(s)) through the updated critic and dQ/da, in two row blocks
 *     at once (nothing in them sums over the batch), on buffers of their
 *     own: each core keeps writing the same rows, update after update.
 *  4. The actor's backward pass and optimizer step.
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
    uint32_t *critic_mask[MLP_MAX_LAYERS + 1]; /* masks of the critic's Q(s, a) pass */
    uint32_t *actor_mask[MLP_MAX_LAYERS + 1];  /* masks of the actor's mu(s) pass */
    uint32_t *policy_mask[MLP_MAX_LAYERS + 1]; /* masks of the Q(s, mu(s)) pass */
    float *critic_dh2[MLP_MAX_LAYERS + 1];     /* second lanes' gradients (threads > 1) */
    float *actor_dh2[MLP_MAX_LAYERS + 1];
    MlpWork policy_work;                       /* (batch rows) the Q(s, mu(s)) pass */
    double *critic_sumsq, *actor_sumsq;        /* (n_layers) the norm's parts */
} CpuPlan;

/* DDPG without LayerNorm; TD3's twins and LayerNorm take the generic path. */
static int cpu_accepts(Backend *be, const Ddpg *d) {
    (void)be;
    return d->n_critics == 1 && !d->p.layer_norm;
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

static void dh2_tensors(float **dh2, const MlpShape *s, int rows, const char *prefix,
                        TensorList *l) {
    char name[16];
    for (int k = 1; k <= s->n_layers; k++) {
        snprintf(name, sizeof name, "dh2_%d", k);
        TENSOR_ADD(l, prefix, name, &dh2[k], (size_t)rows * s->sizes[k], TENSOR_WORK);
    }
}

static void cpu_plan_tensors(Backend *be, Ddpg *d, TensorList *l) {
    CpuPlan *p = d->plan;
    const MlpShape *a = &d->actor.shape, *c = &d->critic[0].shape;
    int B = d->p.batch_size;
    mask_tensors(p->critic_mask, c, B, "cpu.critic.", l);
    mask_tensors(p->actor_mask, a, B, "cpu.actor.", l);
    mask_tensors(p->policy_mask, c, B, "cpu.policy.", l);
    if (cpu_threads(be) > 1) {
        dh2_tensors(p->critic_dh2, c, B, "cpu.critic.", l);
        dh2_tensors(p->actor_dh2, a, B, "cpu.actor.", l);
    }
    mlp_work_tensors(&p->policy_work, c, B, 1, "cpu.policy.work.", l);
    TENSOR_ADD(l, "cpu.", "critic_sumsq", &p->critic_sumsq, (size_t)c->n_layers, TENSOR_WORK);
    TENSOR_ADD(l, "cpu.", "actor_sumsq", &p->actor_sumsq, (size_t)a->n_layers, TENSOR_WORK);
}

static CpuPass pass_of(const MlpWork *w, uint32_t *const *mask, float *const *dh2) {
    CpuPass p;
    p.w = *w;
    memcpy(p.mask, mask, sizeof p.mask);
    if (dh2)
        memcpy(p.dh2, dh2, sizeof p.dh2);
    else
        memset(p.dh2, 0, sizeof p.dh2);
    return p;
}

/* The update's state on the stack of one call. */
typedef struct {
    Ddpg *d;
    CpuPlan *plan;
    CpuPass critic, actor, policy;
    int split; /* rows of the first Q(s, mu(s)) part */
} Update;

/* Part 0: Q(s, a) and mu(s), and x_pi = [s | mu(s)]. Part 1: the TD target. */
static void forward_part(void *ctx, int part) {
    Update *u = ctx;
    Ddpg *d = u->d;
    if (part == 1) {
        ddpg_td_target(d);
        return;
    }
    Backend *be = d->be;
    const Batch *b = &d->batch;
    Net *c = &d->critic[0], *a = &d->actor;
    int B = d->p.batch_size, od = d->p.obs_dim, ad = d->p.act_dim;
    cpu_concat_cols(be, d->x_sa, b->obs, od, b->act, ad, B);
    float *q = cpu_pass_forward(be, &c->shape, c->params, d->x_sa, B, &u->critic);
    cpu_mean_acc(be, d->metrics + METRIC_Q_MEAN, q, B, 1.0f);
    float *a_pi = cpu_pass_forward(be, &a->shape, a->params, b->obs, B, &u->actor);
    cpu_concat_cols(be, d->x_pi, b->obs, od, a_pi, ad, B);
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

/* Clipping, Adam and the soft update of n, the norm from the sums of
 * squares its backward pass made (the same numbers as net_optim_step). */
static void optim_from_sums(Backend *be, Net *n, const double *sums, float lr, float *norm_acc,
                            const DdpgParams *p) {
    cpu_optim_step_sums(be, n->params, n->grad, n->adam_m, n->adam_v, n->shape.n_params, sums,
                        n->shape.n_layers, p->grad_clip, norm_acc, net_adam_hyper(lr),
                        n->adam_step, n->target, p->tau);
}

static void cpu_update(Backend *be, Ddpg *d) {
    CpuPlan *plan = d->plan;
    Net *c = &d->critic[0], *a = &d->actor;
    const DdpgParams *p = &d->p;
    int B = p->batch_size;
    Update u = {d, plan, pass_of(&c->work, plan->critic_mask, plan->critic_dh2),
                pass_of(&a->work, plan->actor_mask, plan->actor_dh2),
                pass_of(&plan->policy_work, plan->policy_mask, NULL), policy_split(B)};
    cpu_run_parts(be, 2, forward_part, &u);
    /* critic */
    ddpg_critic_loss(d, u.critic.w.h[c->shape.n_layers]);
    cpu_pass_backward(be, &c->shape, c->params, B, &u.critic, d->dq, c->grad, plan->critic_sumsq,
                      NULL);
    optim_from_sums(be, c, plan->critic_sumsq, p->critic_lr,
                    d->metrics + METRIC_CRITIC_GRAD_NORM, p);
    /* actor, through the updated critic */
    if (u.split > 0)
        cpu_run_parts(be, 2, policy_part, &u);
    else
        policy_rows(&u, 0, B);
    ddpg_actor_loss(d, u.policy.w.h[c->shape.n_layers]);
    cpu_pass_backward(be, &a->shape, a->params, B, &u.actor, d->da, a->grad, plan->actor_sumsq,
                      NULL);
    optim_from_sums(be, a, plan->actor_sumsq, p->actor_lr, d->metrics + METRIC_ACTOR_GRAD_NORM,
                    p);
}

const DdpgSchedule CPU_DDPG_SCHEDULE = {"cpu lanes", sizeof(CpuPlan), cpu_accepts,
                                        cpu_plan_tensors, cpu_update};
