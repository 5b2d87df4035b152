/* norm.cu - LayerNorm forward and backward over rows (the mirror of
 * src/backend/cpu/norm.c, element math from elem.h): one warp per row for the row
 * statistics and the input gradient, a column-block reduction (as col_sum)
 * for the gain and shift gradients. Every sum has a fixed order: the same
 * bits on every run. */
#include "cuda_common.h"

#define NORM_WARPS 8 /* rows per block of the row kernels */

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* y = act(layernorm(x)) for one row per warp; the lanes stride over the
 * columns; two passes (mean, then the variance about it), as the CPU. */
__global__ void layernorm_kernel(float *y, const float *x, const float *gain, const float *shift,
                                 float *mean, float *rstd, int rows, int cols, Activation act) {
    int lane = threadIdx.x & 31;
    int r = blockIdx.x * NORM_WARPS + (threadIdx.x >> 5);
    if (r >= rows) return;
    const float *xr = x + (size_t)r * cols;
    float s = 0.0f;
    for (int j = lane; j < cols; j += 32) s += xr[j];
    float m = warp_sum(s) / (float)cols;
    float v = 0.0f;
    for (int j = lane; j < cols; j += 32) v += (xr[j] - m) * (xr[j] - m);
    float rs = rsqrtf(warp_sum(v) / (float)cols + LN_EPS);
    float *yr = y + (size_t)r * cols;
    for (int j = lane; j < cols; j += 32) {
        float o = layernorm_elem(xr[j], m, rs, gain[j], shift[j]);
        yr[j] = act == ACT_RELU ? relu_elem(o) : o;
    }
    if (lane == 0) mean[r] = m, rstd[r] = rs;
}

/* dx of one row per warp. */
__global__ void layernorm_dx_kernel(float *dx, const float *dy, const float *x, const float *gain,
                                    const float *mean, const float *rstd, int rows, int cols) {
    int lane = threadIdx.x & 31;
    int r = blockIdx.x * NORM_WARPS + (threadIdx.x >> 5);
    if (r >= rows) return;
    const float *dyr = dy + (size_t)r * cols, *xr = x + (size_t)r * cols;
    float m = mean[r], rs = rstd[r], sg = 0.0f, sgx = 0.0f;
    for (int j = lane; j < cols; j += 32) {
        float g = dyr[j] * gain[j];
        sg += g;
        sgx += g * ((xr[j] - m) * rs);
    }
    float mg = warp_sum(sg) / (float)cols, mgx = warp_sum(sgx) / (float)cols;
    float *dxr = dx + (size_t)r * cols;
    for (int j = lane; j < cols; j += 32)
        dxr[j] = layernorm_dx_elem(dyr[j], gain[j], (xr[j] - m) * rs, mg, mgx, rs);
}

/* dgain and dshift: sums over the rows per column (col_sum's arrangement). */
#define NORMCOL_TX 32
#define NORMCOL_TY 16
__global__ void layernorm_dparams_kernel(float *dgain, float *dshift, const float *dy,
                                         const float *x, const float *mean, const float *rstd,
                                         int rows, int cols) {
    __shared__ float sg[NORMCOL_TY][NORMCOL_TX], ss[NORMCOL_TY][NORMCOL_TX];
    int tx = threadIdx.x, ty = threadIdx.y;
    int c = blockIdx.x * NORMCOL_TX + tx;
    float a = 0.0f, b = 0.0f;
    if (c < cols)
        for (int r = ty; r < rows; r += NORMCOL_TY) {
            size_t k = (size_t)r * cols + c;
            a += dy[k] * ((x[k] - mean[r]) * rstd[r]);
            b += dy[k];
        }
    sg[ty][tx] = a;
    ss[ty][tx] = b;
    __syncthreads();
    for (int k = NORMCOL_TY / 2; k > 0; k >>= 1) {
        if (ty < k) sg[ty][tx] += sg[ty + k][tx], ss[ty][tx] += ss[ty + k][tx];
        __syncthreads();
    }
    if (ty == 0 && c < cols) {
        if (dgain) dgain[c] = sg[0][tx];
        if (dshift) dshift[c] = ss[0][tx];
    }
}

/* ------------------------------------------------------------------------ */
/* launchers                                                                */

void cuda_layernorm(Backend *be, float *y, const float *x, const float *gain, const float *shift,
                    float *mean, float *rstd, int rows, int cols, Activation act) {
    if (rows <= 0 || cols <= 0) return;
    layernorm_kernel<<<(unsigned)ceil_div(rows, NORM_WARPS), 32 * NORM_WARPS, 0,
                       cuda_stream(be)>>>(y, x, gain, shift, mean, rstd, rows, cols, act);
    cudaCheck(cudaGetLastError());
}

void cuda_layernorm_dparams(Backend *be, float *dgain, float *dshift, const float *dy,
                            const float *x, const float *mean, const float *rstd, int rows,
                            int cols) {
    if (rows <= 0 || cols <= 0 || (!dgain && !dshift)) return;
    dim3 block(NORMCOL_TX, NORMCOL_TY);
    layernorm_dparams_kernel<<<(unsigned)ceil_div(cols, NORMCOL_TX), block, 0, cuda_stream(be)>>>(
        dgain, dshift, dy, x, mean, rstd, rows, cols);
    cudaCheck(cudaGetLastError());
}

void cuda_layernorm_grad(Backend *be, float *dx, float *dgain, float *dshift, const float *dy,
                         const float *x, const float *gain, const float *mean, const float *rstd,
                         int rows, int cols) {
    if (rows <= 0 || cols <= 0) return;
    layernorm_dx_kernel<<<(unsigned)ceil_div(rows, NORM_WARPS), 32 * NORM_WARPS, 0,
                          cuda_stream(be)>>>(dx, dy, x, gain, mean, rstd, rows, cols);
    cudaCheck(cudaGetLastError());
    cuda_layernorm_dparams(be, dgain, dshift, dy, x, mean, rstd, rows, cols);
}
