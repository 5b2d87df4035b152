/* net.c - a network's buffers, initialisation and optimizer step. */
#include "ddpg/net.h"

#include <stdlib.h>
#include <string.h>

void net_init_shape(Net *n, const MlpShape *shape, int batch) {
    memset(n, 0, sizeof *n);
    n->shape = *shape;
    n->batch = batch;
}

void net_tensors(Net *n, const char *prefix, TensorList *l) {
    size_t np = n->shape.n_params;
    char work[TENSOR_NAME_MAX], target_work[TENSOR_NAME_MAX];
    TENSOR_ADD(l, prefix, "params", &n->params, np, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "target", &n->target, np, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "adam_m", &n->adam_m, np, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "adam_v", &n->adam_v, np, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "adam_step", &n->adam_step, 1, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "grad", &n->grad, np, TENSOR_WORK);
    snprintf(work, sizeof work, "%swork.", prefix);
    snprintf(target_work, sizeof target_work, "%starget_work.", prefix);
    mlp_work_tensors(&n->work, &n->shape, n->batch, 1, work, l);
    mlp_work_tensors(&n->target_work, &n->shape, n->batch, 0, target_work, l);
}

int net_init_params(Backend *be, Net *n, uint64_t seed, uint32_t stream) {
    size_t bytes = sizeof(float) * n->shape.n_params;
    float *host = malloc(bytes);
    if (!host) return -1;
    mlp_init_params(&n->shape, host, seed, stream);
    be->to_device(be, n->params, host, bytes);
    free(host);
    be->copy(be, n->target, n->params, bytes);
    return 0;
}

int net_norm_parts(const Net *n, size_t parts[MLP_MAX_LAYERS]) {
    for (int l = 0; l < n->shape.n_layers; l++) parts[l] = mlp_layer_params(&n->shape, l);
    return n->shape.n_layers;
}

void net_optim_step(Backend *be, Net *n, float lr, float max_norm, float *norm_acc, float tau) {
    size_t parts[MLP_MAX_LAYERS];
    int np = net_norm_parts(n, parts);
    be->optim_step(be, n->params, n->grad, n->adam_m, n->adam_v, n->shape.n_params, parts, np,
                   max_norm, norm_acc, net_adam_hyper(lr), n->adam_step,
                   tau >= 0.0f ? n->target : NULL, tau);
}
