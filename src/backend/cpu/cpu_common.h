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

/* ---- dense.c ---- */
/* Rows of C per OpenBLAS call (dense.c says why a GEMM is cut by its shape alone) */
#define GEMM_ROW_BLOCK 128
void cpu_gemm(Backend *be, int ta, int tb, int m, int n, int k, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc);
void cpu_linear_act(Backend *be, float *y, const float *x, const float *w, const float *b,
                    int rows, int in, int out, Activation act, const ActionBounds *ab);
void cpu_act_grad(Backend *be, float *dy, const float *y, int rows, int cols, Activation act,
                  const ActionBounds *ab);
void cpu_col_sum(Backend *be, float *db, const float *dy, int rows, int cols);
void cpu_concat_cols(Backend *be, float *out, const float *a, int ca, const float *b, int cb,
                     int rows);
void cpu_slice_cols(Backend *be, float *out, const float *in, int rows, int cin, int c0,
                    int cout);
void cpu_fill(Backend *be, float *x, float v, size_t n);

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

/* ---- loss.c ---- */
void cpu_axpy(Backend *be, float *y, const float *x, float alpha, int n);
void cpu_td_target(Backend *be, float *y, const float *r, const float *term, const float *q_next,
                   const float *q_next2, int n, float gamma);
void cpu_mse_grad(Backend *be, float *dq, const float *q, const float *y, int n);
void cpu_mse_acc(Backend *be, float *acc, const float *q, const float *y, int n);
void cpu_mean_acc(Backend *be, float *acc, const float *x, int n, float scale);

/* ---- optim.c ---- */
void cpu_optim_step(Backend *be, float *p, float *g, float *m, float *v, size_t n,
                    const size_t *parts, int nparts, float max_norm, float *norm_acc,
                    AdamHyper h, int64_t *step, float *targ, float tau);
/* One part's sum of squares, as optim_step sums it (fixed chunks, this thread). */
double cpu_part_sumsq(const float *x, size_t n);
/* optim_step with the parts' sums of squares already made (sums[nparts],
 * e.g. by the backward pass, while the gradient was in cache): the same
 * numbers, without reading g for the norm. */
void cpu_optim_step_sums(Backend *be, float *p, float *g, float *m, float *v, size_t n,
                         const double *sums, int nparts, float max_norm, float *norm_acc,
                         AdamHyper h, int64_t *step, float *targ, float tau);

/* ---- random.c ---- */
void cpu_uniform_actions(Backend *be, float *a, int n, ActionBounds ab, uint64_t seed,
                         uint64_t *ctr);
void cpu_add_noise(Backend *be, float *a, int n, ActionBounds ab, NoiseSpec ns, uint64_t seed,
                   uint64_t *ctr);

/* ---- norm.c ---- */
void cpu_layernorm(Backend *be, float *y, const float *x, const float *gain, const float *shift,
                   float *mean, float *rstd, int rows, int cols, Activation act);
void cpu_layernorm_grad(Backend *be, float *dx, float *dgain, float *dshift, const float *dy,
                        const float *x, const float *gain, const float *mean, const float *rstd,
                        int rows, int cols);
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

/* ---- env.c ---- */
int cpu_env_supported(Backend *be, const EnvSpec *spec);
void cpu_env_reset(Backend *be, VecEnv *e, float *obs);
void cpu_env_step(Backend *be, VecEnv *e, const float *act, float *real_next_obs, float *rew,
                  float *term, float *trunc, float *next_obs);

/* ---- replay.c ---- */
void cpu_replay_insert(Backend *be, Replay *r, const float *obs, const float *act,
                       const float *rew, const float *next_obs, const float *term, int n);
void cpu_replay_sample(Backend *be, const Replay *r, Batch *b, uint64_t seed, uint64_t *ctr);

/* ---- update.c: the CPU's schedule of one DDPG update ---- */
extern const DdpgSchedule CPU_DDPG_SCHEDULE;

#endif
