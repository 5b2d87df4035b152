/* mlp.h - a multilayer perceptron whose parameters are one flat buffer. */
#ifndef DDPG_MLP_H
#define DDPG_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "ddpg/backend.h"
#include "ddpg/tensor.h"

#define MLP_MAX_LAYERS 10

/* Layer l maps sizes[l] -> sizes[l+1]; ReLU on hidden layers, out_act last.
 * With layer_norm, a hidden layer is Linear, LayerNorm (its own gain and
 * shift, torch.nn.LayerNorm), ReLU. Flat layout, per layer: W (out, in)
 * row-major, then b (out), as torch.nn.Linear; then, for a normalised layer,
 * gain (out) and shift (out). */
typedef struct {
    int n_layers;
    int sizes[MLP_MAX_LAYERS + 1];
    Activation out_act;
    ActionBounds bounds;          /* for ACT_TANH_SCALE */
    int layer_norm;               /* 1: hidden layers are normalised (mlp_shape_layer_norm) */
    size_t w_off[MLP_MAX_LAYERS]; /* offset of W_l in the flat buffer */
    size_t b_off[MLP_MAX_LAYERS]; /* offset of b_l */
    size_t g_off[MLP_MAX_LAYERS]; /* offset of layer l's LayerNorm gain, then its shift */
    size_t n_params;
} MlpShape;

/* Activations of one pass over up to max_rows rows, kept for its backward pass. */
typedef struct {
    int max_rows;
    float *h[MLP_MAX_LAYERS + 1];  /* h[0] = input (borrowed), h[l] (rows, sizes[l]) device */
    float *dh[MLP_MAX_LAYERS + 1]; /* dLoss/dh[l] for l >= 1, same shapes, device; NULL
                                      for a pass without backward */
    /* normalised layers only (index l + 1 for layer l, as h): */
    float *z[MLP_MAX_LAYERS + 1];    /* (rows, sizes[l]) the linear output, normalised */
    float *mean[MLP_MAX_LAYERS + 1]; /* (rows) its row means */
    float *rstd[MLP_MAX_LAYERS + 1]; /* (rows) 1 / sqrt(var + eps) */
    float *dz[MLP_MAX_LAYERS + 1];   /* (rows, sizes[l]) dLoss/dz, for a backward pass */
} MlpWork;

void mlp_shape_init(MlpShape *s, int in, const int *hidden, int n_hidden, int out,
                    Activation out_act, const ActionBounds *bounds);
/* LayerNorm after every hidden layer's linear map (the layout grows by its
 * gains and shifts). */
void mlp_shape_layer_norm(MlpShape *s);
/* Whether layer l is normalised. */
static inline int mlp_layer_normed(const MlpShape *s, int l) {
    return s->layer_norm && l < s->n_layers - 1;
}

/* Layer l's activation: ReLU on hidden layers, out_act on the last. */
Activation mlp_layer_act(const MlpShape *s, int l);

/* Elements of layer l's W and b (and LayerNorm gain and shift), which lie next
 * to each other in the flat buffer: the parts of the gradient norm
 * (Backend.optim_step). */
size_t mlp_layer_params(const MlpShape *s, int l);

/* PyTorch's nn.Linear default: W, b ~ U(-1/sqrt(in), 1/sqrt(in)); LayerNorm's
 * gain 1 and shift 0. The same W and b with and without LayerNorm. Host buffer. */
void mlp_init_params(const MlpShape *s, float *params_host, uint64_t seed, uint32_t stream);

/* Lists w's buffers for max_rows rows (with the gradients dh when
 * backward is set) under prefix, e.g. "actor.work.". */
void mlp_work_tensors(MlpWork *w, const MlpShape *s, int max_rows, int backward,
                      const char *prefix, TensorList *l);

/* A work with gradients, on its own (tests, benchmarks): 0, or -1 when out of memory. */
int mlp_work_create(MlpWork *w, Backend *be, const MlpShape *s, int max_rows);
void mlp_work_destroy(MlpWork *w, Backend *be, const MlpShape *s);

/* out = w->h[n_layers] (rows, sizes[n_layers]); x (rows, sizes[0]) device. */
float *mlp_forward(Backend *be, const MlpShape *s, const float *params, const float *x, int rows,
                   MlpWork *w);

/* The steps of layer l's backward pass, which mlp_backward runs from the
 * top layer down; dz, layer l's gradient before its activation (and
 * LayerNorm), lives in dh[l+1] (dz[l+1] for a normalised layer):
 *  - act_grad:    dh[l+1] *= act'(h[l+1]), in place
 *  - norm_grad:   a normalised layer's dz[l+1] from dh[l+1], and its gain and
 *                 shift gradients into grads when non-NULL; nothing otherwise
 *  - param_grads: dW_l (out,in) = dz^T h[l] and db_l = the column sums of dz,
 *                 into grads (flat, like params)
 *  - input_grad:  dh[l] (rows,in) = dz W_l, or dx below the first layer */
void mlp_layer_act_grad(Backend *be, const MlpShape *s, MlpWork *w, int rows, int l);
void mlp_layer_norm_grad(Backend *be, const MlpShape *s, const float *params, MlpWork *w,
                         int rows, int l, float *grads);
void mlp_layer_param_grads(Backend *be, const MlpShape *s, const MlpWork *w, int rows, int l,
                           float *grads);
void mlp_layer_input_grad(Backend *be, const MlpShape *s, const float *params, MlpWork *w,
                          int rows, int l, float *dx);

/* Backward of the last forward on w. dy (rows, out) is dLoss/d(output) and is
 * copied into w. grads (flat, like params) is overwritten when non-NULL; dx
 * (rows, in) gets dLoss/dx when non-NULL. */
void mlp_backward(Backend *be, const MlpShape *s, const float *params, int rows, MlpWork *w,
                  const float *dy, float *grads, float *dx);

#endif
