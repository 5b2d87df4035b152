/* backend.h - the operations the algorithm is written against.
 *
 * src/agent/ (mlp.c, net.c, ddpg.c) and the training loop (src/train/) call
 * only these. Two implementations: src/backend/cpu/ (OpenBLAS and loops over
 * include/ddpg/elem.h, always built) and kernels/ (cuBLAS, cuRAND and CUDA
 * kernels, unless CPU=1), one file per op family in each (dense, norm, loss,
 * optim, random, env, replay), plus each backend's own schedule of a DDPG
 * update (update.c, update.cu; see Backend.schedule).
 *
 * Conventions, for every op:
 *  - "device" pointers point into memory from be->alloc (host memory on the CPU).
 *  - Matrices are row-major. A layer's weight is (out, in) as in torch.nn.Linear.
 *  - Ops are enqueued in the order they are called and run as if in that
 *    order (a backend's schedule may run independent ones side by side);
 *    nothing returns a value to the host except to_host and sync. Scalars
 *    that change between iterations (replay fill, RNG counters, Adam steps)
 *    live in device memory, so that one iteration can be captured once and
 *    replayed (CUDA Graphs).
 *  - Results depend on the inputs alone: reductions have a fixed order (no
 *    float atomics), and the CPU gives the same bits for any thread count.
 */
#ifndef DDPG_BACKEND_H
#define DDPG_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "ddpg/env.h"
#include "ddpg/replay.h"

typedef enum { ACT_NONE = 0, ACT_RELU = 1, ACT_TANH_SCALE = 2 } Activation;

#define DDPG_MAX_ACT_DIM ENV_MAX_ACT_DIM /* env_api.h */

/* Box action space; passed by value to kernels. */
typedef struct {
    int dim;
    float low[DDPG_MAX_ACT_DIM];
    float high[DDPG_MAX_ACT_DIM];
} ActionBounds;

/* An environment's action space. */
static inline ActionBounds env_bounds(const EnvSpec *spec) {
    ActionBounds b;
    b.dim = spec->act_dim;
    for (int k = 0; k < DDPG_MAX_ACT_DIM; k++) {
        b.low[k] = k < spec->act_dim ? spec->act_low[k] : 0.0f;
        b.high[k] = k < spec->act_dim ? spec->act_high[k] : 0.0f;
    }
    return b;
}

typedef enum { NOISE_GAUSSIAN = 0, NOISE_OU = 1 } NoiseKind;

/* The algorithm: DDPG, or TD3 (Fujimoto et al. 2018). */
typedef enum { ALGO_DDPG = 0, ALGO_TD3 = 1 } Algo;

typedef struct {
    NoiseKind kind;
    float sigma;     /* std in action units */
    float ou_theta;  /* OU mean reversion */
    float ou_dt;     /* OU time step */
    float *ou_state; /* (n, act_dim) device: OU process state, NULL for Gaussian */
    float clip;      /* Gaussian: the noise is clipped to [-clip, clip] before it is
                        added (TD3's target policy smoothing); 0: not clipped */
    int per_bound;   /* 1: sigma and clip are for a bound of 1, scaled to each
                        dimension's half range (high - low) / 2 */
} NoiseSpec;

typedef struct {
    float lr, beta1, beta2, eps;
} AdamHyper;

typedef struct Backend Backend;
typedef struct Ddpg Ddpg;
typedef struct TensorList TensorList;

/* A backend's own arrangement of one DDPG update (Backend.schedule): the
 * parts of the generic ddpg_update_batch (src/agent/ddpg.c), run in an order and
 * a concurrency that suit the hardware, with the same numbers (on the CPU
 * bit for bit, tests/test_schedule.c; on the GPU as its parity cases
 * allow). */
typedef struct {
    const char *name;
    size_t plan_bytes; /* the schedule's host state per agent (Ddpg.plan), zeroed */
    /* 1 when it runs agent d's update; 0 leaves d to the generic path */
    int (*accepts)(Backend *be, const Ddpg *d);
    /* Appends the device buffers it needs beyond the agent's own, held in
     * d->plan, to the agent's tensor list (so they are allocated, freed and
     * counted with the rest). NULL when it needs none. */
    void (*tensors)(Backend *be, Ddpg *d, TensorList *l);
    /* One update on whatever d->batch holds. */
    void (*update)(Backend *be, Ddpg *d);
} DdpgSchedule;

struct Backend {
    const char *name;      /* "cpu" or "cuda" */
    char device_name[128]; /* e.g. "NVIDIA H100 80GB HBM3" or the CPU model */
    int threads;           /* the CPU backend's threads (0 on the GPU) */
    void *impl;            /* backend private state */

    void (*destroy)(Backend *be);

    /* ---- memory ---- */
    /* bytes the backend could still allocate (the GPU's free memory; on the
     * CPU, the host's MemAvailable) */
    size_t (*mem_available)(Backend *be);
    int shares_host_memory; /* 1: device memory is host memory (the CPU) */
    void *(*alloc)(Backend *be, size_t bytes); /* zeroed; NULL when out of memory */
    void (*free)(Backend *be, void *p);
    void (*to_device)(Backend *be, void *dst, const void *src, size_t bytes);
    void (*to_host)(Backend *be, void *dst, const void *src, size_t bytes); /* waits */
    void (*copy)(Backend *be, void *dst, const void *src, size_t bytes);    /* device to device */
    void (*sync)(Backend *be);
    /* host memory suited to to_host_async (pinned on the GPU), zeroed; NULL
     * when out of memory */
    void *(*host_alloc)(Backend *be, size_t bytes);
    void (*host_free)(Backend *be, void *p);
    /* enqueue a copy; `dst` is valid after the next sync */
    void (*to_host_async)(Backend *be, void *dst, const void *src, size_t bytes);

    /* ---- dense math ---- */
    /* C(m,n) = alpha op(A) op(B) + beta C, row-major, op = transpose when t* != 0 */
    void (*gemm)(Backend *be, int ta, int tb, int m, int n, int k, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
    /* A forward layer: y(rows,out) = act(x(rows,in) w(out,in)^T + b(out));
     * ab is used by ACT_TANH_SCALE only. */
    void (*linear_act)(Backend *be, float *y, const float *x, const float *w, const float *b,
                       int rows, int in, int out, Activation act, const ActionBounds *ab);
    /* dy(rows,cols) *= act'(.) where y(rows,cols) is the activation's output */
    void (*act_grad)(Backend *be, float *dy, const float *y, int rows, int cols, Activation act,
                     const ActionBounds *ab);
    /* db(cols) = sum over rows of dy(rows,cols) */
    void (*col_sum)(Backend *be, float *db, const float *dy, int rows, int cols);
    /* out(rows, ca+cb) = [a(rows,ca) | b(rows,cb)] */
    void (*concat_cols)(Backend *be, float *out, const float *a, int ca, const float *b, int cb,
                        int rows);
    /* out(rows,cout) = in(rows, c0:c0+cout) of in(rows,cin) */
    void (*slice_cols)(Backend *be, float *out, const float *in, int rows, int cin, int c0,
                       int cout);
    void (*fill)(Backend *be, float *x, float v, size_t n);

    /* ---- LayerNorm (elem.h: layernorm_elem, layernorm_dx_elem) ---- */
    /* Each row of x(rows, cols): y = act((x - mean) rstd gain + shift) with
     * act ACT_NONE or ACT_RELU; mean(rows) and rstd(rows) = 1 / sqrt(var +
     * LN_EPS) are kept for the backward pass. Row sums in a fixed order. */
    void (*layernorm)(Backend *be, float *y, const float *x, const float *gain,
                      const float *shift, float *mean, float *rstd, int rows, int cols,
                      Activation act);
    /* Its backward pass without the activation: dx(rows, cols) from dy, the
     * gradient of the scaled output, and x, gain, mean, rstd of the forward
     * pass; dgain(cols) = sum over rows of dy xhat and dshift(cols) = sum of
     * dy, overwritten, unless NULL. dx may not alias dy. */
    void (*layernorm_grad)(Backend *be, float *dx, float *dgain, float *dshift, const float *dy,
                           const float *x, const float *gain, const float *mean,
                           const float *rstd, int rows, int cols);

    /* ---- losses and metrics ---- */
    /* y(n) = r + gamma (1 - term) q_next; with q_next2 (TD3's twin target
     * critic; NULL for DDPG) min(q_next, q_next2) in place of q_next */
    void (*td_target)(Backend *be, float *y, const float *r, const float *term,
                      const float *q_next, const float *q_next2, int n, float gamma);
    /* dq(n) = 2 (q - y) / n, the gradient of mean((q - y)^2) */
    void (*mse_grad)(Backend *be, float *dq, const float *q, const float *y, int n);
    /* *acc += mean((q - y)^2)  (acc: one device float) */
    void (*mse_acc)(Backend *be, float *acc, const float *q, const float *y, int n);
    /* *acc += scale * mean(x) */
    void (*mean_acc)(Backend *be, float *acc, const float *x, int n, float scale);
    /* y(n) += alpha x(n) (an evaluation's discounted returns) */
    void (*axpy)(Backend *be, float *y, const float *x, float alpha, int n);

    /* ---- optimizer ---- */
    /* One network's optimizer step on flat buffers of n floats:
     *  1. clip g to global L2 norm max_norm as torch.nn.utils.clip_grad_norm_
     *     (max_norm <= 0: no clipping); *norm_acc += the norm before clipping
     *     (norm_acc may be NULL). The norm is the square root of the sum, in
     *     order, of the sums of squares of consecutive parts of g (part sizes
     *     parts[0..nparts), summing to n: one per layer, as torch takes one
     *     norm per parameter tensor). The CPU sums each part in fixed chunks,
     *     so the norm depends on the part sizes, never on the thread count;
     *     the GPU reduces g as a whole and may round differently.
     *  2. Adam on p with m, v; *step (device) is incremented first, as
     *     torch.optim.Adam;
     *  3. the soft update targ = (1 - tau) targ + tau p, unless targ is NULL.
     * g may be left unclipped (the clipped gradient is not stored). */
    void (*optim_step)(Backend *be, float *p, float *g, float *m, float *v, size_t n,
                       const size_t *parts, int nparts, float max_norm, float *norm_acc,
                       AdamHyper h, int64_t *step, float *targ, float tau);

    /* ---- randomness (counter *ctr is device memory, advanced by one per call) ---- */
    /* a(n, ab.dim) ~ U(low, high) */
    void (*uniform_actions)(Backend *be, float *a, int n, ActionBounds ab, uint64_t seed,
                            uint64_t *ctr);
    /* a(n, ab.dim) = clip(a + noise, low, high), Gaussian or OU per ns */
    void (*add_noise)(Backend *be, float *a, int n, ActionBounds ab, NoiseSpec ns,
                      uint64_t seed, uint64_t *ctr);

    /* ---- environments (env.h's env_reset_one and env_step_one, per env) ---- */
    /* whether this backend can step spec's environment (the CUDA backend: one
     * of envs/registry.h, whose kernels it has) */
    int (*env_supported)(Backend *be, const EnvSpec *spec);
    /* reset every env in e; obs(n, obs_dim) */
    void (*env_reset)(Backend *be, VecEnv *e, float *obs);
    /* Step all envs with act(n, act_dim). real_next_obs(n, obs_dim) is the
     * true next observation (for the replay), next_obs(n, obs_dim) the
     * observation to act on next: the same, or after an auto-reset.
     * rew(n), term(n), trunc(n) as 0/1 floats. Finished episodes go to
     * e->log. */
    void (*env_step)(Backend *be, VecEnv *e, const float *act, float *real_next_obs, float *rew,
                     float *term, float *trunc, float *next_obs);

    /* ---- replay ---- */
    /* append n transitions (ring, overwriting the oldest) */
    void (*replay_insert)(Backend *be, Replay *r, const float *obs, const float *act,
                          const float *rew, const float *next_obs, const float *term, int n);
    /* b->size slots uniform over the filled ones, gathered into b */
    void (*replay_sample)(Backend *be, const Replay *r, Batch *b, uint64_t seed, uint64_t *ctr);

    /* ---- optional ---- */
    /* This backend's own schedule of one DDPG update; NULL: the generic one. */
    const DdpgSchedule *schedule;
    /* CUDA Graphs (NULL on the CPU): see backend_graph_run (graph.h). */
    int (*capture_begin)(Backend *be);
    int (*capture_end)(Backend *be, void **graph_exec);
    void (*graph_launch)(Backend *be, void *graph_exec);
    void (*graph_destroy)(Backend *be, void *graph_exec);
};

/* The compute ops every backend implements under its own prefix (cpu_gemm,
 * cuda_gemm, ...), in one list: a backend declares its functions with the
 * table's own types (BACKEND_OP_TYPE, so that a definition that strays from
 * the contract above does not compile) and fills the table from it. Memory,
 * graphs and the schedule differ between backends and are set by hand. */
#define BACKEND_COMPUTE_OPS(X)                                                                \
    X(gemm) X(linear_act) X(act_grad) X(col_sum) X(concat_cols) X(slice_cols) X(fill)         \
    X(layernorm) X(layernorm_grad) X(td_target) X(mse_grad) X(mse_acc) X(mean_acc) X(axpy)    \
    X(optim_step) X(uniform_actions) X(add_noise) X(env_supported) X(env_reset) X(env_step)   \
    X(replay_insert) X(replay_sample)
/* The function type of Backend.op (a GNU C extension that gcc, clang and nvcc
 * take, in C and C++). */
#define BACKEND_OP_TYPE(op) __typeof__(*((Backend *)0)->op)

/* The host memory that can still be had without swapping (/proc/meminfo's
 * MemAvailable), or SIZE_MAX where it cannot be read. */
size_t host_memory_available(void);

/* CPU backend with `threads` threads (<= 0: one per online core). OpenBLAS
 * runs single-threaded; the backend splits large ops and runs the parts of
 * its update schedule across its own threads. Sets flush-to-zero and
 * denormals-are-zero on the calling thread. Never fails (a worker that
 * cannot start leaves fewer threads). */
Backend *backend_cpu_create(int threads);

/* CUDA backend on device 0, or NULL with a reason in err (no device, driver too
 * old, built with CPU=1). */
Backend *backend_cuda_create(char *err, size_t errlen);

#endif
