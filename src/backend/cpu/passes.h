/* passes.h - private to src/backend/cpu/: the update schedule's MLP passes (passes.c). */
#ifndef DDPG_CPU_PASSES_H
#define DDPG_CPU_PASSES_H

#include <stdint.h>

#include "ddpg/backend.h"
#include "ddpg/mlp.h"

/* One pass of a network over a batch, as the schedule runs it. */
typedef struct {
    MlpWork w;                          /* activations and gradients (a view of a work) */
    uint32_t *mask[MLP_MAX_LAYERS + 1]; /* ReLU masks of the hidden h[l], else NULL */
    float *dh2[MLP_MAX_LAYERS + 1];     /* the second lane's own dh[l] (l >= 1), or NULL */
    float *dz2[MLP_MAX_LAYERS + 1];     /* its own dz[l] of normalised layers, or NULL */
} CpuPass;

/* mlp_forward, also writing the masks (of ReLU, after LayerNorm where
 * there is one). */
float *cpu_pass_forward(Backend *be, const MlpShape *s, const float *params, const float *x,
                        int rows, CpuPass *p);

/* mlp_backward's numbers (tests/test_schedule.c) on the last forward of p;
 * with grads and sumsq, sumsq[l] = the sum of squares of layer l's dW and
 * db (and a normalised layer's gain and shift gradients), as the norm's
 * parts (cpu_optim_step_sums). */
void cpu_pass_backward(Backend *be, const MlpShape *s, const float *params, int rows,
                       const CpuPass *p, const float *dy, float *grads, double *sumsq,
                       float *dx);

/* p's rows [row0, max_rows): the same buffers, offset. */
CpuPass cpu_pass_rows(const CpuPass *p, const MlpShape *s, int row0);

#endif
