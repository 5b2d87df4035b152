/* net.h - a trained network: its MLP, its target copy, and what training it
 * needs, all listed in one table (tensor.h). */
#ifndef DDPG_NET_H
#define DDPG_NET_H

#include "ddpg/backend.h"
#include "ddpg/mlp.h"
#include "ddpg/tensor.h"

typedef struct {
    MlpShape shape;
    int batch;           /* rows of the two works */
    float *params;       /* (n_params) device */
    float *target;       /* (n_params) device: target network, a Polyak average of params */
    float *grad;         /* (n_params) device: dLoss/dparams of the last backward pass */
    float *adam_m;       /* (n_params) device: Adam's first moment */
    float *adam_v;       /* (n_params) device: Adam's second moment */
    int64_t *adam_step;  /* (1) device: Adam's step count */
    MlpWork work;        /* (batch rows) activations and gradients of the online pass */
    MlpWork target_work; /* (batch rows) activations of the target network's pass */
} Net;

/* Sets the shape; buffers come from net_tensors. */
void net_init_shape(Net *n, const MlpShape *shape, int batch);

/* Lists n's buffers under prefix ("actor.", "critic0."): state (params,
 * target, Adam moments and step) and work (grad, the two works). */
void net_tensors(Net *n, const char *prefix, TensorList *l);

/* Parameters as PyTorch initialises nn.Linear (seed, stream), and the
 * target as their copy. Returns 0, or -1 when a host buffer cannot be had. */
int net_init_params(Backend *be, Net *n, uint64_t seed, uint32_t stream);

/* Clipping to the global norm max_norm (*norm_acc += the norm, unless
 * norm_acc is NULL), Adam with step size lr on n's gradient, then the soft
 * update of the target with rate tau, none when tau < 0 (Backend.optim_step,
 * one part per layer for the norm). */
void net_optim_step(Backend *be, Net *n, float lr, float max_norm, float *norm_acc, float tau);

/* torch.optim.Adam's defaults, with step size lr. */
static inline AdamHyper net_adam_hyper(float lr) {
    AdamHyper h = {lr, 0.9f, 0.999f, 1e-8f};
    return h;
}

/* The norm's parts: one per layer (mlp_layer_params). Returns their count. */
int net_norm_parts(const Net *n, size_t parts[MLP_MAX_LAYERS]);

#endif
