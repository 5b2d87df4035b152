/* dense.cu - GEMM (cuBLAS), a forward layer (cuBLASLt with a bias epilogue,
 * or GEMM then bias + activation), the activation's derivative, column sums,
 * column concat/slice and fill: the layer pieces of mlp.c. The mirror of
 * src/backend/cpu/dense.c. */
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
            z = tanh_bounds_elem(z, ab.low[j], ab.high[j]);
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
            dy[i] *= tanh_bounds_grad_elem(y[i], ab.low[j], ab.high[j]);
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

/* The largest power of two, up to 256, that divides the address: what the
 * cuBLASLt heuristic may assume of the pointer. */
static uint32_t align_of(const void *p) {
    uintptr_t a = (uintptr_t)p;
    uint32_t r = 256;
    while (r > 4 && a % r) r >>= 1;
    return r;
}

#define LT_OK(call) ((call) == CUBLAS_STATUS_SUCCESS)

/* y(rows,out) = epilogue(x(rows,in) w^T + b) as one cuBLASLt matmul, the
 * bias (and ReLU) in its epilogue. Column-major, y^T (out,rows) = w^T-op
 * of w read as (in,out), times x read as (in,rows); the bias runs along
 * y^T's rows, i.e. per output unit. The descriptors are made per call: the
 * training loop replays a captured graph, so this host work happens once.
 * Returns -1 (having launched nothing) when cuBLASLt offers no algorithm. */
static int lt_linear(Backend *be, float *y, const float *x, const float *w, const float *b,
                     int rows, int in, int out, Activation act) {
    CudaStreamCtx *c = cuda_ctx(be);
    cublasLtHandle_t lt = cuda_impl(be)->lt;
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t lw = NULL, lx = NULL, ly = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    cublasOperation_t tw = CUBLAS_OP_T, tx = CUBLAS_OP_N;
    cublasLtEpilogue_t epi = act == ACT_RELU ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
    uint64_t ws = CUBLAS_WS_BYTES;
    uint32_t aw = align_of(w), ax = align_of(x), ay = align_of(y);
    cublasLtMatmulHeuristicResult_t h;
    int found = 0;
    int ready =
        LT_OK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F)) &&
        LT_OK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &tw, sizeof tw)) &&
        LT_OK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tx, sizeof tx)) &&
        LT_OK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi)) &&
        LT_OK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &b, sizeof b)) &&
        LT_OK(cublasLtMatrixLayoutCreate(&lw, CUDA_R_32F, in, out, in)) &&
        LT_OK(cublasLtMatrixLayoutCreate(&lx, CUDA_R_32F, in, rows, in)) &&
        LT_OK(cublasLtMatrixLayoutCreate(&ly, CUDA_R_32F, out, rows, out)) &&
        LT_OK(cublasLtMatmulPreferenceCreate(&pref)) &&
        LT_OK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                   &ws, sizeof ws)) &&
        LT_OK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                                   &aw, sizeof aw)) &&
        LT_OK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                                   &ax, sizeof ax)) &&
        LT_OK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                                   &ay, sizeof ay)) &&
        LT_OK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                                                   &ay, sizeof ay)) &&
        LT_OK(cublasLtMatmulAlgoGetHeuristic(lt, op, lw, lx, ly, ly, pref, 1, &h, &found)) &&
        found > 0;
    if (ready) {
        const float one = 1.0f, zero = 0.0f;
        cublasCheck(cublasLtMatmul(lt, op, &one, w, lw, x, lx, &zero, y, ly, y, ly, &h.algo,
                                   c->cublas_ws, CUBLAS_WS_BYTES, c->stream));
    }
    if (pref) cublasCheck(cublasLtMatmulPreferenceDestroy(pref));
    if (ly) cublasCheck(cublasLtMatrixLayoutDestroy(ly));
    if (lx) cublasCheck(cublasLtMatrixLayoutDestroy(lx));
    if (lw) cublasCheck(cublasLtMatrixLayoutDestroy(lw));
    if (op) cublasCheck(cublasLtMatmulDescDestroy(op));
    return ready ? 0 : -1;
}

static ActionBounds bounds_or_zero(Activation act, const ActionBounds *ab) {
    ActionBounds z = {};
    return act == ACT_TANH_SCALE && ab ? *ab : z;
}

/* launch(r0, n) for the row chunks [r0, r0 + n / cols) of a (rows, cols)
 * kernel whose element index is a 32-bit unsigned below 2^31: each chunk
 * has at most that many elements (one chunk in practice). Checks each
 * launch. */
template <typename Launch>
static void for_row_chunks(int rows, int cols, Launch launch) {
    if (rows <= 0 || cols <= 0) return;
    int chunk = 0x7fffffff / cols;
    for (int r0 = 0; r0 < rows; r0 += chunk) {
        int nr = rows - r0 < chunk ? rows - r0 : chunk;
        launch(r0, (unsigned)nr * (unsigned)cols);
        cudaCheck(cudaGetLastError());
    }
}

/* y(rows,cols) = act(y + b) in place: the tail of a forward layer that
 * cuBLASLt does not take (cuda_linear_act). */
static void bias_act(Backend *be, float *y, const float *b, int rows, int cols, Activation act,
                     const ActionBounds *ab) {
    ActionBounds bounds = bounds_or_zero(act, ab);
    for_row_chunks(rows, cols, [&](int r0, unsigned n) {
        bias_act_kernel<<<grid_for(be, n), BLOCK, 0, cuda_stream(be)>>>(y + (size_t)r0 * cols, b,
                                                                        n, cols, act, bounds);
    });
}

/* ReLU and identity layers through lt_linear where cuBLASLt takes them (a
 * bias aligned to 16 bytes); the tanh head, and anything else, as
 * cuda_gemm then bias_act. */
void cuda_linear_act(Backend *be, float *y, const float *x, const float *w, const float *b,
                     int rows, int in, int out, Activation act, const ActionBounds *ab) {
    if (rows <= 0 || out <= 0) return;
    if (in > 0 && (act == ACT_RELU || act == ACT_NONE) && (uintptr_t)b % 16 == 0 &&
        lt_linear(be, y, x, w, b, rows, in, out, act) == 0)
        return;
    cuda_gemm(be, 0, 1, rows, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    bias_act(be, y, b, rows, out, act, ab);
}

void cuda_act_grad(Backend *be, float *dy, const float *y, int rows, int cols, Activation act,
                   const ActionBounds *ab) {
    if (act != ACT_RELU && act != ACT_TANH_SCALE) return; /* identity: nothing to do */
    ActionBounds bounds = bounds_or_zero(act, ab);
    for_row_chunks(rows, cols, [&](int r0, unsigned n) {
        size_t o = (size_t)r0 * cols;
        act_grad_kernel<<<grid_for(be, n), BLOCK, 0, cuda_stream(be)>>>(dy + o, y + o, n, cols,
                                                                        act, bounds);
    });
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
    int w = ca + cb;
    for_row_chunks(rows, w, [&](int r0, unsigned n) {
        concat_cols_kernel<<<grid_for(be, n), BLOCK, 0, cuda_stream(be)>>>(
            out + (size_t)r0 * w, a + (size_t)r0 * ca, ca, b + (size_t)r0 * cb, cb, n);
    });
}

/* The chunks count output elements: the kernel reads the input at 64-bit offsets. */
void cuda_slice_cols(Backend *be, float *out, const float *in, int rows, int cin, int c0,
                     int cout) {
    for_row_chunks(rows, cout, [&](int r0, unsigned n) {
        slice_cols_kernel<<<grid_for(be, n), BLOCK, 0, cuda_stream(be)>>>(
            out + (size_t)r0 * cout, in + (size_t)r0 * cin, cin, c0, cout, n);
    });
}

void cuda_fill(Backend *be, float *x, float v, size_t n) {
    if (n == 0) return;
    fill_kernel<<<grid_for(be, n), BLOCK, 0, cuda_stream(be)>>>(x, v, n);
    cudaCheck(cudaGetLastError());
}
