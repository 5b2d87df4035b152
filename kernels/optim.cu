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

/* norm = sqrt(sum of the partials), one block; *norm_acc += norm if given. */
__global__ void grad_norm_kernel(float *norm, float *norm_acc, const double *partials,
                                 int nparts) {
    __shared__ double sh[REDUCE_THREADS];
    double s = threadIdx.x < (unsigned)nparts ? partials[threadIdx.x] : 0.0;
    s = block_sum(s, sh);
    if (threadIdx.x == 0) {
        float v = (float)sqrt(s);
        *norm = v;
        if (norm_acc) *norm_acc += v;
    }
}

/* g(n) *= clip_coef_elem(*norm, max_norm) when that is below 1. */
__global__ void clip_scale_kernel(float *g, size_t n, float max_norm, const float *norm) {
    float c = clip_coef_elem(*norm, max_norm);
    if (c >= 1.0f) return;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        g[i] *= c;
}

/* One thread: *step += 1, then bias corrections 1 - b^t for the new step, as
 * torch.optim.Adam (the step counts from 1 at the first update). */
__global__ void adam_step_kernel(int64_t *step, float *bc, float beta1, float beta2) {
    int64_t t = *step + 1;
    *step = t;
    bc[0] = (float)(1.0 - pow((double)beta1, (double)t));
    bc[1] = (float)(1.0 - pow((double)beta2, (double)t));
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
    CudaImpl *c = cuda_impl(be);
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
    CudaImpl *c = cuda_impl(be);
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

/* The three launchers in turn (g is left clipped). Each is a few small
 * kernels that a CUDA graph replays back to back; fusing them here would save
 * two passes over g and p, not a host round trip. */
void cuda_optim_step(Backend *be, float *p, float *g, float *m, float *v, size_t n, float max_norm,
                     float *norm_acc, AdamHyper h, int64_t *step, float *targ, float tau) {
    cuda_clip_grad_norm(be, g, n, max_norm, norm_acc);
    cuda_adam(be, p, g, m, v, n, h, step);
    if (targ) cuda_polyak(be, targ, p, n, tau);
}
