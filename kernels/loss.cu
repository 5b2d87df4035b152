/* loss.cu - the critic's TD target and MSE loss, and the metric reductions.
 * Reductions are one block in a fixed order (deterministic) and accumulate in
 * double like the CPU backend; n is a minibatch, so one block is plenty. */
#include "cuda_common.h"

/* ------------------------------------------------------------------------ */
/* kernels                                                                  */

/* y(n) = r + gamma (1 - term) q_next, or min(q_next, q_next2) when q_next2 is given. */
__global__ void td_target_kernel(float *y, const float *r, const float *term,
                                 const float *q_next, const float *q_next2, int n, float gamma) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        float q = q_next2 ? min_q_elem(q_next[i], q_next2[i]) : q_next[i];
        y[i] = td_target_elem(r[i], term[i], q, gamma);
    }
}

/* y(n) += alpha x(n). */
__global__ void axpy_kernel(float *y, const float *x, float alpha, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        y[i] = __fadd_rn(y[i], __fmul_rn(alpha, x[i])); /* no FMA: the CPU's rounding */
}

/* dq(n) = 2 (q - y) / n. */
__global__ void mse_grad_kernel(float *dq, const float *q, const float *y, int n, float inv_n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        dq[i] = mse_grad_elem(q[i], y[i], inv_n);
}

/* *acc += mean((q - y)^2), one block. */
__global__ void mse_acc_kernel(float *acc, const float *q, const float *y, int n) {
    __shared__ double sh[REDUCE_THREADS];
    double s = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        double d = (double)q[i] - (double)y[i];
        s += d * d;
    }
    s = block_sum(s, sh);
    if (threadIdx.x == 0) *acc += (float)(s / n);
}

/* *acc += scale * mean(x), one block. */
__global__ void mean_acc_kernel(float *acc, const float *x, int n, float scale) {
    __shared__ double sh[REDUCE_THREADS];
    double s = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += x[i];
    s = block_sum(s, sh);
    if (threadIdx.x == 0) *acc += scale * (float)(s / n);
}

/* ------------------------------------------------------------------------ */
/* launchers                                                                */

void cuda_axpy(Backend *be, float *y, const float *x, float alpha, int n) {
    if (n <= 0) return;
    axpy_kernel<<<grid_for(be, (size_t)n), BLOCK, 0, cuda_stream(be)>>>(y, x, alpha, n);
    cudaCheck(cudaGetLastError());
}

void cuda_td_target(Backend *be, float *y, const float *r, const float *term,
                    const float *q_next, const float *q_next2, int n, float gamma) {
    if (n <= 0) return;
    td_target_kernel<<<grid_for(be, (size_t)n), BLOCK, 0, cuda_stream(be)>>>(
        y, r, term, q_next, q_next2, n, gamma);
    cudaCheck(cudaGetLastError());
}

void cuda_mse_grad(Backend *be, float *dq, const float *q, const float *y, int n) {
    if (n <= 0) return;
    mse_grad_kernel<<<grid_for(be, (size_t)n), BLOCK, 0, cuda_stream(be)>>>(dq, q, y, n,
                                                                             1.0f / (float)n);
    cudaCheck(cudaGetLastError());
}

void cuda_mse_acc(Backend *be, float *acc, const float *q, const float *y, int n) {
    mse_acc_kernel<<<1, REDUCE_THREADS, 0, cuda_stream(be)>>>(acc, q, y, n);
    cudaCheck(cudaGetLastError());
}

void cuda_mean_acc(Backend *be, float *acc, const float *x, int n, float scale) {
    mean_acc_kernel<<<1, REDUCE_THREADS, 0, cuda_stream(be)>>>(acc, x, n, scale);
    cudaCheck(cudaGetLastError());
}
