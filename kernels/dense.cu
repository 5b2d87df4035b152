/* dense.cu - GEMM (cuBLAS), bias + activation and its derivative, column sums,
 * column concat/slice and fill: the layer pieces of mlp.c. */
#include "cuda_common.h"

/* ------------------------------------------------------------------------ */
/* kernels                                                                  */

/* y(rows,cols) = act(y + b) in place, one thread per element. */
__global__ void bias_act_kernel(float *y, const float *b, unsigned n, int cols, Activation act,
                                ActionBounds ab) {
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int j = (int)(i % (unsigned)cols);
        float z = y[i] + b[j];
        if (act == ACT_RELU) {
            z = relu_elem(z);
        } else if (act == ACT_TANH_SCALE) {
            float lo = ab.low[j], hi = ab.high[j];
            z = tanh_scale_elem(z, 0.5f * (hi - lo), 0.5f * (hi + lo));
        }
        y[i] = z;
    }
}

/* dy(rows,cols) *= act'(y), y the activation's output, one thread per element. */
__global__ void act_grad_kernel(float *dy, const float *y, unsigned n, int cols, Activation act,
                                ActionBounds ab) {
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        if (act == ACT_RELU) {
            dy[i] *= relu_grad_elem(y[i]);
        } else {
            int j = (int)(i % (unsigned)cols);
            float lo = ab.low[j], hi = ab.high[j];
            dy[i] *= tanh_scale_grad_elem(y[i], 0.5f * (hi - lo), 0.5f * (hi + lo));
        }
    }
}

/* db(cols) = column sums of dy(rows,cols): a block owns COLSUM_TX columns
 * (coalesced), its COLSUM_TY thread rows stride over the rows, then a fixed
 * tree over the thread rows. Deterministic. */
#define COLSUM_TX 32
#define COLSUM_TY 16
__global__ void col_sum_kernel(float *db, const float *dy, int rows, int cols) {
    __shared__ float sh[COLSUM_TY][COLSUM_TX];
    int tx = threadIdx.x, ty = threadIdx.y;
    int c = blockIdx.x * COLSUM_TX + tx;
    float s = 0.0f;
    if (c < cols)
        for (int r = ty; r < rows; r += COLSUM_TY) s += dy[(size_t)r * cols + c];
    sh[ty][tx] = s;
    __syncthreads();
    for (int k = COLSUM_TY / 2; k > 0; k >>= 1) {
        if (ty < k) sh[ty][tx] += sh[ty + k][tx];
        __syncthreads();
    }
    if (ty == 0 && c < cols) db[c] = sh[0][tx];
}

/* out(rows, ca+cb) = [a(rows,ca) | b(rows,cb)], one thread per output element. */
__global__ void concat_cols_kernel(float *out, const float *a, int ca, const float *b, int cb,
                                   unsigned n) {
    unsigned w = (unsigned)(ca + cb);
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        unsigned r = i / w, j = i % w;
        out[i] = j < (unsigned)ca ? a[(size_t)r * ca + j] : b[(size_t)r * cb + (j - ca)];
    }
}

/* out(rows,cout) = in(rows, c0:c0+cout), one thread per output element. */
__global__ void slice_cols_kernel(float *out, const float *in, int cin, int c0, int cout,
                                  unsigned n) {
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        unsigned r = i / (unsigned)cout, j = i % (unsigned)cout;
        out[i] = in[(size_t)r * cin + c0 + j];
    }
}

/* x(n) = v. */
__global__ void fill_kernel(float *x, float v, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] = v;
}

/* ------------------------------------------------------------------------ */
/* launchers                                                                */

/* Row-major C = alpha op(A) op(B) + beta C through column-major cuBLAS: the
 * row-major (m,n) C is the column-major (n,m) C^T = op(B)^T op(A)^T, and a
 * row-major operand read column-major is already its transpose. FP32 compute
 * (CUBLAS_COMPUTE_32F, no TF32) so that the CPU parity holds to ~1e-5. */
void cuda_gemm(Backend *be, int ta, int tb, int m, int n, int k, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (m <= 0 || n <= 0) return;
    cublasCheck(cublasGemmEx(cuda_ctx(be)->cublas, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                             ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, B, CUDA_R_32F, ldb,
                             A, CUDA_R_32F, lda, &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F,
                             CUBLAS_GEMM_DEFAULT));
}

static ActionBounds bounds_or_zero(Activation act, const ActionBounds *ab) {
    ActionBounds z = {};
    return act == ACT_TANH_SCALE && ab ? *ab : z;
}

void cuda_bias_act(Backend *be, float *y, const float *b, int rows, int cols, Activation act,
                   const ActionBounds *ab) {
    ActionBounds bounds = bounds_or_zero(act, ab);
    int chunk = rows_per_launch(cols);
    for (int r0 = 0; r0 < rows && cols > 0; r0 += chunk) {
        int nr = rows - r0 < chunk ? rows - r0 : chunk;
        unsigned n = (unsigned)nr * (unsigned)cols;
        bias_act_kernel<<<grid_for(be, n), BLOCK, 0, cuda_stream(be)>>>(
            y + (size_t)r0 * cols, b, n, cols, act, bounds);
        cudaCheck(cudaGetLastError());
    }
}

void cuda_act_grad(Backend *be, float *dy, const float *y, int rows, int cols, Activation act,
                   const ActionBounds *ab) {
    if (act != ACT_RELU && act != ACT_TANH_SCALE) return; /* identity: nothing to do */
    ActionBounds bounds = bounds_or_zero(act, ab);
    int chunk = rows_per_launch(cols);
    for (int r0 = 0; r0 < rows && cols > 0; r0 += chunk) {
        int nr = rows - r0 < chunk ? rows - r0 : chunk;
        unsigned n = (unsigned)nr * (unsigned)cols;
        act_grad_kernel<<<grid_for(be, n), BLOCK, 0, cuda_stream(be)>>>(
            dy + (size_t)r0 * cols, y + (size_t)r0 * cols, n, cols, act, bounds);
        cudaCheck(cudaGetLastError());
    }
}

/* The k = 1 product through cuBLAS, then the activation kernel: two tested
 * launches; a fused kernel would save one pass over dz. */
void cuda_outer_act_grad(Backend *be, float *dz, const float *dy, const float *w, const float *y,
                         int rows, int cols, Activation act, const ActionBounds *ab) {
    cuda_gemm(be, 0, 0, rows, cols, 1, 1.0f, dy, 1, w, cols, 0.0f, dz, cols);
    cuda_act_grad(be, dz, y, rows, cols, act, ab);
}

void cuda_col_sum(Backend *be, float *db, const float *dy, int rows, int cols) {
    if (cols <= 0) return;
    dim3 block(COLSUM_TX, COLSUM_TY);
    col_sum_kernel<<<(unsigned)ceil_div(cols, COLSUM_TX), block, 0, cuda_stream(be)>>>(
        db, dy, rows, cols);
    cudaCheck(cudaGetLastError());
}

void cuda_concat_cols(Backend *be, float *out, const float *a, int ca, const float *b, int cb,
                      int rows) {
    int w = ca + cb, chunk = rows_per_launch(w);
    for (int r0 = 0; r0 < rows && w > 0; r0 += chunk) {
        int nr = rows - r0 < chunk ? rows - r0 : chunk;
        unsigned n = (unsigned)nr * (unsigned)w;
        concat_cols_kernel<<<grid_for(be, n), BLOCK, 0, cuda_stream(be)>>>(
            out + (size_t)r0 * w, a + (size_t)r0 * ca, ca, b + (size_t)r0 * cb, cb, n);
        cudaCheck(cudaGetLastError());
    }
}

void cuda_slice_cols(Backend *be, float *out, const float *in, int rows, int cin, int c0,
                     int cout) {
    int chunk = rows_per_launch(cout > cin ? cout : cin);
    for (int r0 = 0; r0 < rows && cout > 0; r0 += chunk) {
        int nr = rows - r0 < chunk ? rows - r0 : chunk;
        unsigned n = (unsigned)nr * (unsigned)cout;
        slice_cols_kernel<<<grid_for(be, n), BLOCK, 0, cuda_stream(be)>>>(
            out + (size_t)r0 * cout, in + (size_t)r0 * cin, cin, c0, cout, n);
        cudaCheck(cudaGetLastError());
    }
}

void cuda_fill(Backend *be, float *x, float v, size_t n) {
    if (n == 0) return;
    fill_kernel<<<grid_for(be, n), BLOCK, 0, cuda_stream(be)>>>(x, v, n);
    cudaCheck(cudaGetLastError());
}
