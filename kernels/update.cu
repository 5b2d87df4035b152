/* update.cu - the GPU's schedule of one DDPG update (Backend.schedule): the
 * generic update's ops (src/ddpg.c, ddpg_update_generic) on the same
 * buffers, so the same numbers up to GPU rounding (tests/gpu/update.c),
 * with the independent ones on a second stream.
 *
 * One update is a chain of small kernels, each too small to fill the GPU,
 * so work that does not depend on the chain runs beside it:
 *  1. the TD target (both target networks) on the side stream, while main
 *     runs Q(s, a) of the online critic and mu(s) of the actor (which does
 *     not change before its own step, so making it this early gives the
 *     same numbers); main joins before the loss, which needs y;
 *  2. in each backward pass, main runs the chain through the layers (the
 *     activation's derivative, then dX = dz W), and each layer's weight and
 *     bias gradients (dz^T h, the column sums of dz) go to the side stream
 *     once that layer's dz is made; main joins before the optimizer step.
 * The rest (the optimizer steps, Q(s, mu(s)) and dQ/da, which makes no
 * parameter gradient) runs on main in the generic order.
 *
 * The streams are ordered by events (cuda_on_side, cuda_join_side), which
 * a CUDA Graph capture records as edges: a captured update keeps this
 * concurrency. Nothing here syncs, allocates or reads back, and the
 * schedule needs no buffers beyond the agent's. */
#include "cuda_common.h"

extern "C" {
#include "ddpg/ddpg.h"
}

/* Runs DDPG agents without LayerNorm; TD3's twins and LayerNorm take the
 * generic path. */
static int cuda_accepts(Backend *be, const Ddpg *d) {
    (void)be;
    return d->n_critics == 1 && !d->p.layer_norm;
}

/* mlp_backward(be, s, n->params, rows, &n->work, dy, n->grad, NULL): the
 * same steps (mlp.h), each layer's weight and bias gradients on the side
 * stream. The side's layer l reads dz = dh[l+1] and h[l] and writes only
 * n->grad; after forking it, main writes only dh[l] and below (dX, then the
 * next layer's act_grad in place), so the two never touch what the other
 * writes. */
static void backward_two_streams(Backend *be, Net *n, int rows, const float *dy) {
    const MlpShape *s = &n->shape;
    MlpWork *w = &n->work;
    int L = s->n_layers;
    be->copy(be, w->dh[L], dy, sizeof(float) * (size_t)rows * s->sizes[L]);
    for (int l = L - 1; l >= 0; l--) {
        mlp_layer_act_grad(be, s, w, rows, l);
        cuda_on_side(be);
        mlp_layer_param_grads(be, s, w, rows, l, n->grad);
        cuda_on_main(be);
        if (l > 0) mlp_layer_input_grad(be, s, n->params, w, rows, l, NULL);
    }
    cuda_join_side(be);
}

static void cuda_update(Backend *be, Ddpg *d) {
    Net *actor = &d->actor, *critic = &d->critic[0];
    int B = d->p.batch_size;
    /* TD target from the target networks, beside Q(s, a) and mu(s) */
    cuda_on_side(be);
    ddpg_td_target(d);
    cuda_on_main(be);
    ddpg_critic_q(d, 0);
    ddpg_actor_mu(d);
    cuda_join_side(be);
    /* critic: regress Q(s, a) to y */
    ddpg_critic_loss(d, critic->work.h[critic->shape.n_layers]);
    backward_two_streams(be, critic, B, d->dq);
    ddpg_critic_optim(d, 0, 1);
    /* actor: maximise Q(s, mu(s)) through the updated critic */
    ddpg_policy_grad(d);
    backward_two_streams(be, actor, B, d->da);
    ddpg_actor_optim(d);
}

const DdpgSchedule CUDA_DDPG_SCHEDULE = {"cuda streams", 0, cuda_accepts, NULL, cuda_update};
