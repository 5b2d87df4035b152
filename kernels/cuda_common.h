/* cuda_common.h - private to kernels/: error checks, launch geometry, the CUDA
 * backend's state and streams, block reductions, and the ops each kernel
 * family exports to the Backend table in backend.cu (the mirror of
 * src/backend/cpu/cpu_common.h).
 *
 * Streams: every op goes to the stream that CudaImpl.cur selects, the main
 * stream except inside the update schedule (update.cu), which puts
 * independent work on a side stream with cuda_on_side / cuda_on_main /
 * cuda_join_side. Their events order the two streams, and CUDA Graph
 * capture records them as edges, so a captured update keeps its
 * concurrency. */
#ifndef DDPG_CUDA_COMMON_H
#define DDPG_CUDA_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>

/* backend.h is a C header without extern "C" guards of its own. */
extern "C" {
#include "ddpg/backend.h"
}
#include "ddpg/elem.h"

/* ------------------------------------------------------------------------ */
/* Error checks: file and line, then exit (llm.c's cudaCheck/cublasCheck).  */

static inline void cuda_check_(cudaError_t e, const char *file, int line) {
    if (e != cudaSuccess) {
        fprintf(stderr, "[CUDA ERROR] at %s:%d: %s (%s)\n", file, line, cudaGetErrorString(e),
                cudaGetErrorName(e));
        if (e == cudaErrorStreamCaptureUnsupported || e == cudaErrorStreamCaptureInvalidated)
            fprintf(stderr, "  hint: an op synced or allocated during CUDA Graph capture\n");
        exit(EXIT_FAILURE);
    }
}
#define cudaCheck(err) cuda_check_((err), __FILE__, __LINE__)

static inline void cublas_check_(cublasStatus_t s, const char *file, int line) {
    if (s != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "[cuBLAS ERROR] at %s:%d: %s (%d)\n", file, line,
                cublasGetStatusString(s), (int)s);
        exit(EXIT_FAILURE);
    }
}
#define cublasCheck(status) cublas_check_((status), __FILE__, __LINE__)

static inline void curand_check_(curandStatus_t s, const char *file, int line) {
    if (s != CURAND_STATUS_SUCCESS) {
        fprintf(stderr, "[cuRAND ERROR] at %s:%d: status %d\n", file, line, (int)s);
        exit(EXIT_FAILURE);
    }
}
#define curandCheck(status) curand_check_((status), __FILE__, __LINE__)

/* ------------------------------------------------------------------------ */
/* Backend state.                                                           */

/* cuBLAS workspace set once at creation, so that GEMMs allocate nothing
 * during CUDA Graph capture (32 MiB is cuBLAS's recommendation for Hopper). */
#define CUBLAS_WS_BYTES ((size_t)32 << 20)
#define BLOCK 256            /* threads of an elementwise or grid-stride kernel */
#define REDUCE_THREADS 512   /* threads of a one-block reduction (power of two) */
#define NORM_MAX_BLOCKS 512  /* partial sums of the gradient norm (<= REDUCE_THREADS) */

/* Device scalars the ops pass between their own kernels, never to the host. */
enum { SCALAR_GRAD_NORM = 0, SCALAR_ADAM_BC1 = 1, SCALAR_ADAM_BC2 = 2, SCALAR_COUNT = 4 };

/* The streams: the main one, where every op goes by default and which
 * to_host, sync and graph capture use, and one side stream for the update
 * schedule's concurrent work. Each has its own cuBLAS handle, workspace and
 * scratch, so that ops on the two never share a buffer. */
enum { CUDA_MAIN = 0, CUDA_SIDE = 1, CUDA_STREAMS = 2 };

/* What one stream needs for itself. */
typedef struct {
    cudaStream_t stream;   /* non-blocking */
    cublasHandle_t cublas; /* bound to stream, with its own workspace */
    void *cublas_ws;       /* (CUBLAS_WS_BYTES) device: cuBLAS workspace */
    double *partials;      /* (NORM_MAX_BLOCKS) device: per-block sums of squares */
    float *scalars;        /* (SCALAR_COUNT) device: grad norm, Adam bias corrections */
    cudaEvent_t mark;      /* recorded where the other stream is to wait for this one */
} CudaStreamCtx;

typedef struct {
    CudaStreamCtx s[CUDA_STREAMS];
    int cur;               /* the stream ops go to now: CUDA_MAIN or CUDA_SIDE */
    cublasLtHandle_t lt;   /* for matmuls with an epilogue (linear_act); host-side only */
    int max_blocks;        /* grid cap of grid-stride kernels: SMs x 32 */
} CudaImpl;

static inline CudaImpl *cuda_impl(Backend *be) { return (CudaImpl *)be->impl; }
/* the current stream's context: every op uses these, never s[0] directly */
static inline CudaStreamCtx *cuda_ctx(Backend *be) {
    CudaImpl *c = cuda_impl(be);
    return &c->s[c->cur];
}
static inline cudaStream_t cuda_stream(Backend *be) { return cuda_ctx(be)->stream; }

/* ---- backend.cu: concurrency on two streams ---- */
/* Ops go to the side stream from now on, after everything enqueued on the
 * main stream so far (an event recorded on main, waited for by the side).
 * Called from the main stream; the side's earlier work stays before. */
void cuda_on_side(Backend *be);
/* Ops go to the main stream again; it does not wait for the side's work. */
void cuda_on_main(Backend *be);
/* The main stream waits for everything enqueued on the side so far (an
 * event recorded on the side). A capture must join every side work before
 * it ends. */
void cuda_join_side(Backend *be);

/* ------------------------------------------------------------------------ */
/* Launch geometry.                                                         */

static inline size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* Blocks of BLOCK threads for n elements, capped for grid-stride loops. n > 0. */
static inline int grid_for(Backend *be, size_t n) {
    size_t g = ceil_div(n, BLOCK), cap = (size_t)cuda_impl(be)->max_blocks;
    return (int)(g < cap ? g : cap);
}

/* Sum of v over the block in a fixed tree order (deterministic), returned to
 * every thread. sh has blockDim.x slots; blockDim.x is a power of two. */
template <typename T>
__device__ __forceinline__ T block_sum(T v, T *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    T r = sh[0];
    __syncthreads();
    return r;
}

/* ------------------------------------------------------------------------ */
/* Ops, one kernel family per file; signatures as in struct Backend.        */

/* The table's compute ops (backend.h: BACKEND_COMPUTE_OPS), cuda_<op> each,
 * declared with the table's own types; each is defined in the file of its
 * kernel family (dense, loss, optim, random, norm, env, replay). What follows
 * is what the GPU has beyond the table. */
#define CUDA_DECLARE_OP(op) BACKEND_OP_TYPE(op) cuda_##op;
BACKEND_COMPUTE_OPS(CUDA_DECLARE_OP)
#undef CUDA_DECLARE_OP

/* random.cu */
/* *c += 1 on the device, after the kernels that read it (RNG counters, steps). */
void cuda_counter_increment(Backend *be, uint64_t *c);

/* norm.cu */
/* layernorm_grad's second kernel alone (dgain, dshift; either may be NULL),
 * for the update schedule, which runs it on the side stream beside dx's
 * chain: the same kernel on the same inputs as inside layernorm_grad. */
void cuda_layernorm_dparams(Backend *be, float *dgain, float *dshift, const float *dy,
                            const float *x, const float *mean, const float *rstd, int rows,
                            int cols);

/* update.cu: the GPU's schedule of one DDPG or TD3 update */
extern const DdpgSchedule CUDA_DDPG_SCHEDULE;

#endif /* DDPG_CUDA_COMMON_H */
