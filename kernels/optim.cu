/* optim.cu - one network's optimizer step on flat buffers: the global
 * gradient norm for clipping, Adam and the soft target update (the mirror
 * of src/backend/cpu/optim.c). Nothing here reads back to the host: the norm, the
 * Adam step and its bias corrections stay in device memory, so a captured
 * CUDA Graph replays them correctly. */
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

/* One block: the norm = sqrt(sum of the partials) when nparts > 0 (*norm_acc
 * += it when given), and the next Adam step: *step += 1, then the bias
 * corrections 1 - beta^t of the new step, as torch.optim.Adam (the step
 * counts from 1 at the first update). One thread increments, so it happens
 * once and before any element reads it. */
__global__ void norm_adam_step_kernel(float *norm, float *norm_acc, const double *partials,
                                      int nparts, int64_t *step, float *bc, float beta1,
                                      float beta2) {
    __shared__ double sh[REDUCE_THREADS];
    if (nparts > 0) {
        double s = threadIdx.x < (unsigned)nparts ? partials[threadIdx.x] : 0.0;
        s = block_sum(s, sh);
        if (threadIdx.x == 0) {
            float v = (float)sqrt(s);
            *norm = v;
            if (norm_acc) *norm_acc += v;
        }
    }
    if (threadIdx.x == 0) {
        int64_t t = *step + 1;
        *step = t;
        bc[0] = (float)(1.0 - pow((double)beta1, (double)t));
        bc[1] = (float)(1.0 - pow((double)beta2, (double)t));
    }
}

/* One pass: g clipped on the fly (g itself is left as it was), Adam, and
 * the soft update of targ (when not NULL) from the new p. norm NULL: no
 * clipping. */
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

/* ------------------------------------------------------------------------ */
/* launchers                                                                */

/* Three kernels: per-block partial sums of squares over a grid whose size
 * depends on n alone, so the summation order is fixed (skipped when neither
 * clipping nor the norm is wanted); the norm with the Adam step; one fused
 * pass. No float atomics, no host sync. The norm's parts (one per layer)
 * are ignored: g is reduced as a whole, as backend.h allows, and rounds a
 * little differently from the CPU's sum of per-part sums. g is left
 * unclipped. */
void cuda_optim_step(Backend *be, float *p, float *g, float *m, float *v, size_t n,
                     const size_t *parts, int nparts, float max_norm, float *norm_acc,
                     AdamHyper h, int64_t *step, float *targ, float tau) {
    (void)parts;
    (void)nparts;
    CudaStreamCtx *c = cuda_ctx(be);
    int blocks = 0; /* partial sums of the norm */
    if (n > 0 && (max_norm > 0.0f || norm_acc)) {
        size_t want = ceil_div(n, BLOCK);
        blocks = (int)(want < NORM_MAX_BLOCKS ? want : NORM_MAX_BLOCKS);
        sumsq_partials_kernel<<<blocks, BLOCK, 0, c->stream>>>(c->partials, g, n);
        cudaCheck(cudaGetLastError());
    }
    float *norm = c->scalars + SCALAR_GRAD_NORM, *bc = c->scalars + SCALAR_ADAM_BC1;
    norm_adam_step_kernel<<<1, REDUCE_THREADS, 0, c->stream>>>(norm, norm_acc, c->partials, blocks,
                                                               step, bc, h.beta1, h.beta2);
    cudaCheck(cudaGetLastError());
    if (n == 0) return;
    optim_kernel<<<grid_for(be, n), BLOCK, 0, c->stream>>>(
        p, g, m, v, targ, n, h, bc, blocks > 0 && max_norm > 0.0f ? norm : NULL, max_norm, tau);
    cudaCheck(cudaGetLastError());
}
