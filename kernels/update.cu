/* update.cu - the GPU's schedule of one DDPG or TD3 update, with or without
 * LayerNorm (Backend.schedule): the generic update's kernels (src/agent/
 * ddpg.c, ddpg_update_generic) on the same inputs, with the independent ones
 * on a second stream. Each stream has its own cuBLAS handle and workspace,
 * the conditions under which cuBLAS gives the same bits with streams side by
 * side (its documentation, "Results reproducibility"), so the same numbers
 * as the generic path (tests/gpu/schedule.c).
 *
 * One update is a chain of small kernels, each too small to fill the GPU,
 * so work that does not depend on the chain runs beside it:
 *  1. the TD target (the target networks, TD3's smoothing noise and twin
 *     targets) on the side stream, while main runs Q(s, a) of each online
 *     critic and, on a policy step, mu(s) of the actor (which does not
 *     change before its own step, so making it this early gives the same
 *     numbers); main joins before the losses, which need y;
 *  2. DDPG's critic: in its backward pass main runs the chain through the
 *     layers (the activation's derivative, a normalised layer's LayerNorm
 *     dx, then dX = dz W), and each layer's weight and bias gradients (dz^T
 *     h, the column sums of dz, and LayerNorm's gain and shift gradients) go
 *     to the side stream once that layer's dz is made; main joins before the
 *     optimizer step. TD3's twins: both losses on main (their sum is one
 *     metric, in the generic order), then the second critic's whole step
 *     (backward pass and optimizer) on the side stream beside the first's on
 *     main;
 *  3. on a policy step, Q(s, mu(s)) and dQ/da (no parameter gradient) on
 *     main, then the actor's backward pass as in 2 and its step.
 *
 * The streams are ordered by events (cuda_on_side, cuda_join_side), which
 * a CUDA Graph capture records as edges: a captured update keeps this
 * concurrency. Nothing here syncs, allocates or reads back. */
#include "cuda_common.h"

extern "C" {
#include "ddpg/ddpg.h"
}

/* What the schedule keeps per agent (Ddpg.plan). */
typedef struct {
    float *dq0; /* (batch) device, TD3: the first critic's dq, beside the second's in d->dq */
} CudaPlan;

/* Every agent: DDPG and TD3, with and without LayerNorm. */
static int cuda_accepts(Backend *be, const Ddpg *d) {
    (void)be;
    return d->n_critics >= 1 && d->n_critics <= DDPG_MAX_CRITICS;
}

static void cuda_plan_tensors(Backend *be, Ddpg *d, TensorList *l) {
    (void)be;
    CudaPlan *p = (CudaPlan *)d->plan;
    /* tensor_add, as TENSOR_ADD (whose _Generic is C only) */
    if (d->n_critics > 1)
        tensor_add(l, "cuda.", "dq0", &p->dq0, NULL, (size_t)d->p.batch_size, sizeof(float),
                   DT_F32, TENSOR_WORK);
}

/* mlp_backward(be, s, n->params, rows, &n->work, dy, n->grad, NULL): the
 * same kernels (mlp.h's steps; a normalised layer's layernorm_grad as its
 * two kernels), each layer's weight, bias, gain and shift gradients on the
 * side stream. The side's layer l reads dz (dh[l+1], or dz[l+1]), dh[l+1]
 * after the activation, z[l+1], the row statistics and h[l], and writes only
 * n->grad; after forking it, main writes only dh[l] and below (dX, then the
 * next layer's act_grad in place and LayerNorm dx), so the two never touch
 * what the other writes. */
static void backward_two_streams(Backend *be, Net *n, int rows, const float *dy) {
    const MlpShape *s = &n->shape;
    MlpWork *w = &n->work;
    int L = s->n_layers;
    be->copy(be, w->dh[L], dy, sizeof(float) * (size_t)rows * s->sizes[L]);
    for (int l = L - 1; l >= 0; l--) {
        int out = s->sizes[l + 1];
        mlp_layer_act_grad(be, s, w, rows, l);
        mlp_layer_norm_grad(be, s, n->params, w, rows, l, NULL); /* dz[l+1] only */
        cuda_on_side(be);
        if (mlp_layer_normed(s, l)) {
            float *dgain = n->grad + s->g_off[l];
            cuda_layernorm_dparams(be, dgain, dgain + out, w->dh[l + 1], w->z[l + 1],
                                   w->mean[l + 1], w->rstd[l + 1], rows, out);
        }
        mlp_layer_param_grads(be, s, w, rows, l, n->grad);
        cuda_on_main(be);
        if (l > 0) mlp_layer_input_grad(be, s, n->params, w, rows, l, NULL);
    }
    cuda_join_side(be);
}

/* The critics' steps (soft_update: a policy step's soft updates of their
 * targets). */
static void critics_step(Backend *be, Ddpg *d, int soft_update) {
    Net *c0 = &d->critic[0], *c1 = &d->critic[1];
    int B = d->p.batch_size;
    ddpg_critic_loss(d, c0->work.h[c0->shape.n_layers]);
    if (d->n_critics == 1) {
        backward_two_streams(be, c0, B, d->dq);
        ddpg_critic_optim(d, 0, soft_update);
        return;
    }
    /* TD3: the first critic's dq kept, then the second's loss into d->dq */
    float *dq0 = ((CudaPlan *)d->plan)->dq0;
    be->copy(be, dq0, d->dq, sizeof(float) * (size_t)B);
    ddpg_critic_loss(d, c1->work.h[c1->shape.n_layers]);
    cuda_on_side(be);
    mlp_backward(be, &c1->shape, c1->params, B, &c1->work, d->dq, c1->grad, NULL);
    ddpg_critic_optim(d, 1, soft_update);
    cuda_on_main(be);
    mlp_backward(be, &c0->shape, c0->params, B, &c0->work, dq0, c0->grad, NULL);
    ddpg_critic_optim(d, 0, soft_update);
    cuda_join_side(be); /* before d->dq is written again */
}

static void cuda_update(Backend *be, Ddpg *d) {
    Net *actor = &d->actor;
    int B = d->p.batch_size, policy = ddpg_policy_step(d);
    /* TD target from the target networks, beside Q(s, a) and mu(s) */
    cuda_on_side(be);
    ddpg_td_target(d);
    cuda_on_main(be);
    for (int k = 0; k < d->n_critics; k++) ddpg_critic_q(d, k);
    if (policy) ddpg_actor_mu(d);
    cuda_join_side(be);
    /* each critic: regress Q(s, a) to y */
    critics_step(be, d, policy);
    if (!policy) return; /* TD3: the actor and the targets wait */
    /* actor: maximise Q(s, mu(s)) through the updated (first) critic */
    ddpg_policy_grad(d);
    backward_two_streams(be, actor, B, d->da);
    ddpg_actor_optim(d);
}

const DdpgSchedule CUDA_DDPG_SCHEDULE = {"cuda streams", sizeof(CudaPlan), cuda_accepts,
                                         cuda_plan_tensors, cuda_update};
