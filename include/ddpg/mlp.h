/* mlp.h - a multilayer perceptron whose parameters are one flat buffer. */
#ifndef DDPG_MLP_H
#define DDPG_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "ddpg/backend.h"

#define MLP_MAX_LAYERS 10

/* Layer l maps sizes[l] -> sizes[l+1]; ReLU on hidden layers, out_act last.
 * Flat layout, per layer: W (out, in) row-major, then b (out), as torch.nn.Linear. */
typedef struct {
    int n_layers;
    int sizes[MLP_MAX_LAYERS + 1];
    Activation out_act;
    ActionBounds bounds;          /* for ACT_TANH_SCALE */
    size_t w_off[MLP_MAX_LAYERS]; /* offset of W_l in the flat buffer */
    size_t b_off[MLP_MAX_LAYERS]; /* offset of b_l */
    size_t n_params;
} MlpShape;

/* Activations of one forward pass, kept for the backward pass. */
typedef struct {
    int max_rows;
    float *h[MLP_MAX_LAYERS + 1];  /* h[0] = input (borrowed), h[l] (rows, sizes[l]) device */
    float *dh[MLP_MAX_LAYERS + 1]; /* gradients w.r.t. h[l], same shapes, device */
    /* A second lane's own copies of dh, where the backend has concurrent
     * lanes (else NULL): see mlp_backward. */
    float *dh2[MLP_MAX_LAYERS + 1];
    /* ReLU masks of the hidden outputs h[l] (rows, relu_mask_words(sizes[l])
     * words) device, where the backend has relu_masks (else NULL): the
     * backward pass reads these 4 KB instead of h[l] (see Backend.relu_masks). */
    uint32_t *mask[MLP_MAX_LAYERS + 1];
} MlpWork;

void mlp_shape_init(MlpShape *s, int in, const int *hidden, int n_hidden, int out,
                    Activation out_act, const ActionBounds *bounds);

/* PyTorch's nn.Linear default: W, b ~ U(-1/sqrt(in), 1/sqrt(in)). Host buffer. */
void mlp_init_params(const MlpShape *s, float *params_host, uint64_t seed, uint32_t stream);

int mlp_work_create(MlpWork *w, Backend *be, const MlpShape *s, int max_rows);
void mlp_work_destroy(MlpWork *w, Backend *be);

/* A view of w's rows [row0, max_rows): the same buffers, offset. */
MlpWork mlp_work_rows(const MlpWork *w, const MlpShape *s, int row0);

/* out = w->h[n_layers] (rows, sizes[n_layers]); x (rows, sizes[0]) device. */
float *mlp_forward(Backend *be, const MlpShape *s, const float *params, const float *x, int rows,
                   MlpWork *w);

/* Backward of the last forward on w. dy (rows, out) is dLoss/d(output) and is
 * copied into w. grads (flat, like params) is overwritten when non-NULL; dx
 * (rows, in) gets dLoss/dx when non-NULL. grad_sumsq (device, n_layers
 * doubles), when not NULL with grads and where the backend has sumsq, gets
 * layer l's sum of squares of its dW and db in [l], for optim_step. */
void mlp_backward(Backend *be, const MlpShape *s, const float *params, int rows, MlpWork *w,
                  const float *dy, float *grads, double *grad_sumsq, float *dx);

#endif
