/* optim.cu - global-norm gradient clipping, Adam and Polyak averaging on flat
 * parameter buffers. Nothing here reads back to the host: the norm, the Adam
 * step and its bias corrections stay in device memory, so a captured CUDA
 * Graph replays them correctly. */
#include "cuda_common.h"

/* ------------------------------------------------------------------------ */
/* kernels                                                                  */

/* partials[block] = sum of g^2 over the block's grid-stride share (double). */
__global__ void sumsq_partials_kernel(double *partials, const float *g, size_t n) {
    __shared__ double sh[BLOCK];
    double s = 0.0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        s += (double)g[i] * g[i];
    s = block_sum(s, sh);
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

/* norm = sqrt(sum of the partials), by the whole block; *norm_acc += norm
 * if given. */
__device__ __forceinline__ void norm_from_partials(float *norm, float *norm_acc,
                                                   const double *partials, int nparts,
                                                   double *sh) {
    double s = threadIdx.x < (unsigned)nparts ? partials[threadIdx.x] : 0.0;
    s = block_sum(s, sh);
    if (threadIdx.x == 0) {
        float v = (float)sqrt(s);
        *norm = v;
        if (norm_acc) *norm_acc += v;
    }
}

/* *step += 1, then bias corrections 1 - b^t for the new step, as
 * torch.optim.Adam (the step counts from 1 at the first update). One thread. */
__device__ __forceinline__ void adam_next_step(int64_t *step, float *bc, float beta1,
                                               float beta2) {
    int64_t t = *step + 1;
    *step = t;
    bc[0] = (float)(1.0 - pow((double)beta1, (double)t));
    bc[1] = (float)(1.0 - pow((double)beta2, (double)t));
}

/* One block: the norm from the partials. */
__global__ void grad_norm_kernel(float *norm, float *norm_acc, const double *partials,
                                 int nparts) {
    __shared__ double sh[REDUCE_THREADS];
    norm_from_partials(norm, norm_acc, partials, nparts, sh);
}

/* g(n) *= clip_coef_elem(*norm, max_norm) when that is below 1. */
__global__ void clip_scale_kernel(float *g, size_t n, float max_norm, const float *norm) {
    float c = clip_coef_elem(*norm, max_norm);
    if (c >= 1.0f) return;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        g[i] *= c;
}

/* One thread: the next Adam step. */
__global__ void adam_step_kernel(int64_t *step, float *bc, float beta1, float beta2) {
    adam_next_step(step, bc, beta1, beta2);
}

/* One block, for optim_step: the norm from the partials (when nparts > 0)
 * and the next Adam step, in one launch. */
__global__ void norm_adam_step_kernel(float *norm, float *norm_acc, const double *partials,
                                      int nparts, int64_t *step, float *bc, float beta1,
                                      float beta2) {
    __shared__ double sh[REDUCE_THREADS];
    if (nparts > 0) norm_from_partials(norm, norm_acc, partials, nparts, sh);
    if (threadIdx.x == 0) adam_next_step(step, bc, beta1, beta2);
}

/* Adam on p(n) with the bias corrections bc(2) of this step. */
__global__ void adam_kernel(float *p, const float *g, float *m, float *v, size_t n, AdamHyper h,
                            const float *bc) {
    float bc1 = bc[0], bc2 = bc[1];
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float pi = p[i], mi = m[i], vi = v[i];
        adam_elem(&pi, g[i], &mi, &vi, h.lr, h.beta1, h.beta2, h.eps, bc1, bc2);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
    }
}

/* One pass of optim_step: g clipped on the fly (the same product that
 * clip_scale_kernel stores; g itself is left as it was), Adam, and the soft
 * update of targ (when not NULL) from the new p. norm NULL: no clipping. */
__global__ void optim_kernel(float *p, const float *g, float *m, float *v, float *targ, size_t n,
                             AdamHyper h, const float *bc, const float *norm, float max_norm,
                             float tau) {
    float c = norm ? clip_coef_elem(*norm, max_norm) : 1.0f;
    float bc1 = bc[0], bc2 = bc[1];
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float gi = g[i];
        if (c < 1.0f) gi *= c;
        float pi = p[i], mi = m[i], vi = v[i];
        adam_elem(&pi, gi, &mi, &vi, h.lr, h.beta1, h.beta2, h.eps, bc1, bc2);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
        if (targ) targ[i] = polyak_elem(targ[i], pi, tau);
    }
}

/* targ(n) = (1 - tau) targ + tau src. */
__global__ void polyak_kernel(float *targ, const float *src, size_t n, float tau) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        targ[i] = polyak_elem(targ[i], src[i], tau);
}

/* ------------------------------------------------------------------------ */
/* launchers                                                                */

/* Three kernels: per-block partial sums over a grid whose size depends on n
 * only (so the summation order is fixed), the norm from the partials, the
 * scaling. No float atomics, no host sync. */
void cuda_clip_grad_norm(Backend *be, float *g, size_t n, float max_norm, float *norm_acc) {
    CudaStreamCtx *c = cuda_ctx(be);
    if (n == 0 || (max_norm <= 0.0f && !norm_acc)) return;
    size_t want = ceil_div(n, BLOCK);
    int nparts = (int)(want < NORM_MAX_BLOCKS ? want : NORM_MAX_BLOCKS);
    float *norm = c->scalars + SCALAR_GRAD_NORM;
    sumsq_partials_kernel<<<nparts, BLOCK, 0, c->stream>>>(c->partials, g, n);
    cudaCheck(cudaGetLastError());
    grad_norm_kernel<<<1, REDUCE_THREADS, 0, c->stream>>>(norm, norm_acc, c->partials, nparts);
    cudaCheck(cudaGetLastError());
    if (max_norm > 0.0f) {
        clip_scale_kernel<<<grid_for(be, n), BLOCK, 0, c->stream>>>(g, n, max_norm, norm);
        cudaCheck(cudaGetLastError());
    }
}

/* Two kernels: the step and bias corrections (one thread, so the increment
 * happens once and before any element reads it), then the update. */
void cuda_adam(Backend *be, float *p, const float *g, float *m, float *v, size_t n, AdamHyper h,
               int64_t *step) {
    CudaStreamCtx *c = cuda_ctx(be);
    float *bc = c->scalars + SCALAR_ADAM_BC1;
    adam_step_kernel<<<1, 1, 0, c->stream>>>(step, bc, h.beta1, h.beta2);
    cudaCheck(cudaGetLastError());
    if (n == 0) return;
    adam_kernel<<<grid_for(be, n), BLOCK, 0, c->stream>>>(p, g, m, v, n, h, bc);
    cudaCheck(cudaGetLastError());
}

void cuda_polyak(Backend *be, float *targ, const float *src, size_t n, float tau) {
    if (n == 0) return;
    polyak_kernel<<<grid_for(be, n), BLOCK, 0, cuda_stream(be)>>>(targ, src, n, tau);
    cudaCheck(cudaGetLastError());
}

/* Three kernels instead of the six of clip_grad_norm, adam and polyak in
 * turn: the partial sums of squares (skipped when neither clipping nor the
 * norm is wanted, or when the caller's sumsq parts stand in for them), the
 * norm with the Adam step, and one fused pass. g is left unclipped, as
 * backend.h allows. */
void cuda_optim_step(Backend *be, float *p, float *g, float *m, float *v, size_t n, float max_norm,
                     float *norm_acc, AdamHyper h, int64_t *step, float *targ, float tau,
                     const double *sumsq, int nsumsq) {
    CudaStreamCtx *c = cuda_ctx(be);
    int want_norm = n > 0 && (max_norm > 0.0f || norm_acc);
    size_t blocks = ceil_div(n, BLOCK);
    int nparts = 0;
    const double *parts = c->partials;
    if (want_norm && sumsq) {
        if (nsumsq > REDUCE_THREADS) {
            fprintf(stderr, "cuda_optim_step: %d sumsq parts, at most %d\n", nsumsq,
                    REDUCE_THREADS);
            exit(EXIT_FAILURE);
        }
        parts = sumsq;
        nparts = nsumsq;
    } else if (want_norm) {
        nparts = (int)(blocks < NORM_MAX_BLOCKS ? blocks : NORM_MAX_BLOCKS);
        sumsq_partials_kernel<<<nparts, BLOCK, 0, c->stream>>>(c->partials, g, n);
        cudaCheck(cudaGetLastError());
    }
    float *norm = c->scalars + SCALAR_GRAD_NORM, *bc = c->scalars + SCALAR_ADAM_BC1;
    norm_adam_step_kernel<<<1, REDUCE_THREADS, 0, c->stream>>>(norm, norm_acc, parts, nparts,
                                                               step, bc, h.beta1, h.beta2);
    cudaCheck(cudaGetLastError());
    if (n == 0) return;
    optim_kernel<<<grid_for(be, n), BLOCK, 0, c->stream>>>(
        p, g, m, v, targ, n, h, bc, nparts > 0 && max_norm > 0.0f ? norm : NULL, max_norm, tau);
    cudaCheck(cudaGetLastError());
}
