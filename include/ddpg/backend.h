/* backend.h - the operations the algorithm is written against.
 *
 * src/mlp.c, src/ddpg.c and src/train.c call only these. Two implementations:
 * src/cpu/ (OpenBLAS + loops over include/ddpg/elem.h, always built) and
 * kernels/ (cuBLAS, cuRAND and CUDA kernels, unless CPU=1).
 *
 * Conventions, for every op:
 *  - "device" pointers point into memory from be->alloc (host memory on the CPU).
 *  - Matrices are row-major. A layer's weight is (out, in) as in torch.nn.Linear.
 *  - Ops are enqueued in order on the backend's one stream; nothing returns a
 *    value to the host except to_host/sync. Scalars that change between
 *    iterations (replay fill, RNG counters, Adam step) live in device memory
 *    so that one iteration can be captured once and replayed (CUDA Graphs).
 *  - Reductions are deterministic (fixed order, no float atomics).
 */
#ifndef DDPG_BACKEND_H
#define DDPG_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "ddpg/env.h"
#include "ddpg/replay.h"

typedef enum { ACT_NONE = 0, ACT_RELU = 1, ACT_TANH_SCALE = 2 } Activation;

#define DDPG_MAX_ACT_DIM 8

/* Box action space; passed by value to kernels. */
typedef struct {
    int dim;
    float low[DDPG_MAX_ACT_DIM];
    float high[DDPG_MAX_ACT_DIM];
} ActionBounds;

typedef enum { NOISE_GAUSSIAN = 0, NOISE_OU = 1 } NoiseKind;

typedef struct {
    NoiseKind kind;
    float sigma;     /* std in action units */
    float ou_theta;  /* OU mean reversion */
    float ou_dt;     /* OU time step */
    float *ou_state; /* (n, act_dim) device: OU process state, NULL for Gaussian */
} NoiseSpec;

typedef struct {
    float lr, beta1, beta2, eps;
} AdamHyper;

typedef struct Backend Backend;

/* One lane of concurrent work; see Backend.run_lanes. */
typedef void (*LaneFn)(void *ctx, int lane);

struct Backend {
    const char *name;      /* "cpu" or "cuda" */
    char device_name[128]; /* e.g. "NVIDIA H100 80GB HBM3" or the CPU model */
    void *impl;            /* backend private state */

    void (*destroy)(Backend *be);

    /* ---- memory ---- */
    void *(*alloc)(Backend *be, size_t bytes); /* zeroed; NULL when out of memory */
    void (*free)(Backend *be, void *p);
    void (*to_device)(Backend *be, void *dst, const void *src, size_t bytes);
    void (*to_host)(Backend *be, void *dst, const void *src, size_t bytes); /* waits */
    void (*copy)(Backend *be, void *dst, const void *src, size_t bytes);    /* device to device */
    void (*sync)(Backend *be);
    /* host memory suited to to_host_async (pinned on the GPU) */
    void *(*host_alloc)(Backend *be, size_t bytes);
    void (*host_free)(Backend *be, void *p);
    /* enqueue a copy; `dst` is valid after the next sync */
    void (*to_host_async)(Backend *be, void *dst, const void *src, size_t bytes);

    /* ---- dense math ---- */
    /* ReLU masks (1 on the CPU, 0 on the GPU): linear_act may write, for a
     * ReLU layer, the bits y > 0 into mask (relu_mask_words(out) words per
     * row, bit j of a row in word j / 32 at bit j % 32), and act_grad and
     * outer_act_grad then read ReLU's derivative from the mask instead of y.
     * The same numbers either way. Why: in the CPU's backward lanes the core
     * that did not run the forward pass reads 4 KB of mask instead of the
     * other core's 128 KB activations, whose lines the next forward pass
     * would have to take back. Where relu_masks is 0, masks must be NULL. */
    int relu_masks;
    /* C(m,n) = alpha op(A) op(B) + beta C, row-major, op = transpose when t* != 0 */
    void (*gemm)(Backend *be, int ta, int tb, int m, int n, int k, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
    /* A forward layer: y(rows,out) = act(x(rows,in) w(out,in)^T + b(out)).
     * The same as gemm (beta 0) then bias_act, which is what the CPU does;
     * the GPU folds the bias and a ReLU into the product's epilogue
     * (cuBLASLt), one launch instead of two. */
    void (*linear_act)(Backend *be, float *y, const float *x, const float *w, const float *b,
                       int rows, int in, int out, Activation act, const ActionBounds *ab,
                       uint32_t *mask);
    /* y(rows,cols) = act(y + b) in place; ab is used by ACT_TANH_SCALE only */
    void (*bias_act)(Backend *be, float *y, const float *b, int rows, int cols, Activation act,
                     const ActionBounds *ab);
    /* dy(rows,cols) *= act'(.) where y(rows,cols) is the activation's output
     * (for a ReLU with a mask, the mask stands in for y; see relu_masks) */
    void (*act_grad)(Backend *be, float *dy, const float *y, int rows, int cols, Activation act,
                     const ActionBounds *ab, const uint32_t *mask);
    /* dz(rows,cols) = (dy(rows) w(cols)^T) * act'(y(rows,cols)): the input
     * gradient of a layer with one output (an outer product: no sums), taken
     * on through the activation below it. The same numbers as gemm with k = 1
     * and then act_grad; the CPU does it in one pass instead of two. */
    void (*outer_act_grad)(Backend *be, float *dz, const float *dy, const float *w,
                           const float *y, int rows, int cols, Activation act,
                           const ActionBounds *ab, const uint32_t *mask);
    /* db(cols) = sum over rows of dy(rows,cols) */
    void (*col_sum)(Backend *be, float *db, const float *dy, int rows, int cols);
    /* out(rows, ca+cb) = [a(rows,ca) | b(rows,cb)] */
    void (*concat_cols)(Backend *be, float *out, const float *a, int ca, const float *b, int cb,
                        int rows);
    /* out(rows,cout) = in(rows, c0:c0+cout) of in(rows,cin) */
    void (*slice_cols)(Backend *be, float *out, const float *in, int rows, int cin, int c0,
                       int cout);
    void (*fill)(Backend *be, float *x, float v, size_t n);

    /* ---- DDPG pieces ---- */
    /* y(n) = r + gamma (1 - term) q_next */
    void (*td_target)(Backend *be, float *y, const float *r, const float *term,
                      const float *q_next, int n, float gamma);
    /* dq(n) = 2 (q - y) / n, the gradient of mean((q - y)^2) */
    void (*mse_grad)(Backend *be, float *dq, const float *q, const float *y, int n);
    /* *acc += mean((q - y)^2)  (acc: one device float) */
    void (*mse_acc)(Backend *be, float *acc, const float *q, const float *y, int n);
    /* *acc += scale * mean(x) */
    void (*mean_acc)(Backend *be, float *acc, const float *x, int n, float scale);
    /* Global L2 norm of g(n); when max_norm > 0 scale g by clip_coef_elem.
     * *norm_acc += the norm before clipping (norm_acc may be NULL). */
    void (*clip_grad_norm)(Backend *be, float *g, size_t n, float max_norm, float *norm_acc);
    /* Adam on a flat buffer; *step (device) is incremented first, as in torch.optim.Adam */
    void (*adam)(Backend *be, float *p, const float *g, float *m, float *v, size_t n,
                 AdamHyper h, int64_t *step);
    /* targ(n) = (1 - tau) targ + tau src */
    void (*polyak)(Backend *be, float *targ, const float *src, size_t n, float tau);
    /* One network's optimizer step: clip_grad_norm(g, n, max_norm, norm_acc),
     * adam(p, g, m, v, n, h, step), then polyak(targ, p, n, tau) unless targ
     * is NULL; the same numbers as those calls in turn, except that g may be
     * left unclipped. The CPU fuses them: two passes over the buffers, not five.
     * sumsq (device, nsumsq <= 512 doubles), when not NULL, holds sums of
     * squares of disjoint parts of g that cover it (see Backend.sumsq): the
     * norm is then sqrt of their sum in index order, and g is not read for it. */
    void (*optim_step)(Backend *be, float *p, float *g, float *m, float *v, size_t n,
                       float max_norm, float *norm_acc, AdamHyper h, int64_t *step, float *targ,
                       float tau, const double *sumsq, int nsumsq);

    /* ---- randomness (counter *ctr is device memory, advanced by one per call) ---- */
    /* a(n, ab.dim) ~ U(low, high) */
    void (*uniform_actions)(Backend *be, float *a, int n, ActionBounds ab, uint64_t seed,
                            uint64_t *ctr);
    /* a(n, ab.dim) = clip(a + noise, low, high), Gaussian or OU per ns */
    void (*add_noise)(Backend *be, float *a, int n, ActionBounds ab, NoiseSpec ns,
                      uint64_t seed, uint64_t *ctr);

    /* ---- environments ---- */
    /* reset every env in e; obs(n, 3) */
    void (*env_reset)(Backend *be, VecEnv *e, float *obs);
    /* Step all envs with act(n,1). next_obs(n,3) is the true next observation,
     * obs_out(n,3) the observation to act on next (after auto-reset).
     * rew(n), term(n), trunc(n) as 0/1 floats. Finished episodes go to e->log. */
    void (*env_step)(Backend *be, VecEnv *e, const float *act, float *next_obs, float *rew,
                     float *term, float *trunc, float *obs_out);

    /* ---- replay ---- */
    /* append n transitions (ring, overwriting the oldest) */
    void (*replay_insert)(Backend *be, Replay *r, const float *obs, const float *act,
                          const float *rew, const float *next_obs, const float *term, int n);
    /* b->size slots uniform over the filled ones, gathered into b */
    void (*replay_sample)(Backend *be, const Replay *r, Batch *b, uint64_t seed, uint64_t *ctr);

    /* ---- optional: concurrency ---- */
    /* Runs fn(ctx, lane) for lane = 0..n-1 at once and returns when all are
     * done. Lanes must be independent: no lane reads or writes what another
     * writes. The CPU runs them on its threads, and the ops a lane issues run
     * on that lane's thread only. NULL where lanes would not overlap (one CPU
     * thread; the GPU's single stream): backend_run_lanes then runs them in
     * order, and callers may skip splitting work into lanes at all. */
    void (*run_lanes)(Backend *be, int n, LaneFn fn, void *ctx);

    /* ---- optional: gradient norms where the gradients are made ---- */
    /* *out (one device double) = the sum of squares of x(n), in an order fixed
     * by n alone (the same value for any thread count). Issued in the lane
     * that wrote x, it reads x while it is still in that core's cache, so
     * optim_step need not read g again for the norm. NULL where that would
     * not pay (the GPU: one more launch in the lane): optim_step reads g. */
    void (*sumsq)(Backend *be, double *out, const float *x, size_t n);

    /* ---- optional: CUDA Graphs (NULL on the CPU) ---- */
    int (*capture_begin)(Backend *be);
    int (*capture_end)(Backend *be, void **graph_exec);
    void (*graph_launch)(Backend *be, void *graph_exec);
    void (*graph_destroy)(Backend *be, void *graph_exec);
};

/* 32-bit words per row of a ReLU mask of `cols` columns (see relu_masks). */
static inline int relu_mask_words(int cols) { return (cols + 31) / 32; }

/* Runs independent lanes through be->run_lanes, or one after the other. */
static inline void backend_run_lanes(Backend *be, int n, LaneFn fn, void *ctx) {
    if (be->run_lanes) {
        be->run_lanes(be, n, fn, ctx);
        return;
    }
    for (int lane = 0; lane < n; lane++) fn(ctx, lane);
}

/* CPU backend with `threads` threads (<= 0: one per online core). OpenBLAS
 * runs single-threaded; the backend splits large ops and runs lanes across
 * its own threads. Sets flush-to-zero/denormals-are-zero on the calling
 * thread. Never fails (a worker that cannot start leaves fewer threads). */
Backend *backend_cpu_create(int threads);

/* CUDA backend on device 0, or NULL with a reason in err (no device, driver too
 * old, built with CPU=1). */
Backend *backend_cuda_create(char *err, size_t errlen);

/* 1 when this binary was built with the CUDA backend. */
int backend_cuda_compiled(void);

#endif
