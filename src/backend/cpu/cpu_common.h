/* cpu_common.h - private to src/backend/cpu/: the CPU backend's state, how it splits
 * work over its threads, and the ops each family exports to the Backend
 * table in backend.c (the mirror of kernels/cuda_common.h).
 *
 * Threads: OpenBLAS runs single-threaded and the backend keeps its own pool
 * (pool.h). A large op called outside a pool task is split into contiguous
 * parts, one per thread; inside a task every op runs whole on the task's
 * thread. No split changes a result: element-wise passes are split by
 * element, reductions use fixed chunks, and a GEMM is cut into row blocks
 * that depend on its shape alone (dense.c). So every thread count gives the
 * same bits (tests/test_cpu_threads.c).
 */
#ifndef DDPG_CPU_COMMON_H
#define DDPG_CPU_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "ddpg/backend.h"
#include "pool.h"

typedef struct {
    Pool *pool;
    int threads;
    unsigned next_colour; /* see cpu_alloc */
} Cpu;

static inline int cpu_threads(const Backend *be) { return ((const Cpu *)be->impl)->threads; }

/* Below these sizes an op runs whole on the calling thread: a hand-off to
 * the pool costs about a microsecond. */
#define ELEM_PART_MIN 8192        /* elements of an element-wise pass */
#define ROWS_PART_MIN_ELEMS 32768 /* elements of a row-wise pass */

/* ---- backend.c: splitting ---- */

typedef void (*RangeFn)(void *ctx, size_t lo, size_t hi);

/* body(ctx, lo, hi) over [0, n) in contiguous parts of at least min_part
 * items (multiples of align), one per thread; a single call when n is small
 * or the caller is already a pool task. */
void cpu_for(Backend *be, size_t n, size_t align, size_t min_part, RangeFn body, void *ctx);

/* Rows of a row-wise pass over `cols` columns worth a part of their own. */
size_t cpu_rows_min_part(int cols);

/* fn(ctx, i) for i in [0, n), at once on the pool's threads (in order on
 * one thread): for the update schedule's independent parts (update.c). */
void cpu_run_parts(Backend *be, int n, PoolFn fn, void *ctx);

/* The table's compute ops (backend.h: BACKEND_COMPUTE_OPS), cpu_<op> each,
 * declared with the table's own types; each is defined in the file of its op
 * family (dense, loss, optim, random, norm, env, replay). What follows them
 * here is what the CPU has beyond the table. */
#define CPU_DECLARE_OP(op) BACKEND_OP_TYPE(op) cpu_##op;
BACKEND_COMPUTE_OPS(CPU_DECLARE_OP)
#undef CPU_DECLARE_OP

/* ---- dense.c ---- */
/* Rows of C per OpenBLAS call (dense.c says why a GEMM is cut by its shape alone) */
#define GEMM_ROW_BLOCK 128

/* ReLU masks, for the update schedule: bit j of row i, in word j / 32 of
 * the row's relu_mask_words(cols) words, is y(i, j) > 0. A backward pass
 * that reads the mask instead of y gets the same numbers (ReLU's derivative
 * is exactly 1 or 0) and reads 32 times less memory (update.c says why that
 * matters). */
static inline int relu_mask_words(int cols) { return (cols + 31) / 32; }
/* one row's mask: m(relu_mask_words(cols)) = the bits y(cols) > 0 */
void cpu_relu_mask_row(uint32_t *restrict m, const float *restrict y, int cols);
/* linear_act, and for a ReLU layer the mask of y (mask may be NULL) */
void cpu_linear_act_mask(Backend *be, float *y, const float *x, const float *w, const float *b,
                         int rows, int in, int out, Activation act, const ActionBounds *ab,
                         uint32_t *mask);
/* act_grad, with ReLU's derivative read from mask when it is not NULL */
void cpu_act_grad_mask(Backend *be, float *dy, const float *y, int rows, int cols,
                       Activation act, const ActionBounds *ab, const uint32_t *mask);
/* dz(rows,cols) = (dy(rows) w(cols)^T) * act'(y(rows,cols)): a one-output
 * layer's input gradient (an outer product) taken through the activation
 * below it in one pass; the same numbers as gemm with k = 1 then act_grad. */
void cpu_outer_act_grad(Backend *be, float *dz, const float *dy, const float *w, const float *y,
                        int rows, int cols, Activation act, const ActionBounds *ab,
                        const uint32_t *mask);

/* ---- optim.c ---- */
/* One part's sum of squares, as optim_step sums it (fixed chunks, this thread). */
double cpu_part_sumsq(const float *x, size_t n);
/* optim_step with the parts' sums of squares already made (sums[nparts],
 * e.g. by the backward pass, while the gradient was in cache): the same
 * numbers, without reading g for the norm. */
void cpu_optim_step_sums(Backend *be, float *p, float *g, float *m, float *v, size_t n,
                         const double *sums, int nparts, float max_norm, float *norm_acc,
                         AdamHyper h, int64_t *step, float *targ, float tau);

/* ---- norm.c ---- */
/* For the update schedule: layernorm, and with ACT_RELU the mask of y (mask
 * may be NULL); and layernorm_grad's two halves, which its passes run on
 * different lanes: dx (rows) and dgain, dshift (columns; either may be
 * NULL), the same numbers as layernorm_grad. */
void cpu_layernorm_mask(Backend *be, float *y, const float *x, const float *gain,
                        const float *shift, float *mean, float *rstd, int rows, int cols,
                        Activation act, uint32_t *mask);
void cpu_layernorm_dx(Backend *be, float *dx, const float *dy, const float *x,
                      const float *gain, const float *mean, const float *rstd, int rows,
                      int cols);
void cpu_layernorm_dparams(Backend *be, float *dgain, float *dshift, const float *dy,
                           const float *x, const float *mean, const float *rstd, int rows,
                           int cols);

/* ---- update.c: the CPU's schedule of one DDPG update ---- */
extern const DdpgSchedule CPU_DDPG_SCHEDULE;

#endif
