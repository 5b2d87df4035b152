/* dense.c - GEMM (OpenBLAS), bias + activation and its derivative, ReLU
 * masks, column sums, column concat/slice and fill: the layer pieces of
 * mlp.c and of the update schedule (update.c). The mirror of kernels/dense.cu.
 *
 * A GEMM's result must not depend on the thread count, and OpenBLAS may
 * round a row differently with the number of rows in the call (seen here for
 * parts of 4 rows or fewer, and for small products that its small-matrix
 * kernel takes). So a GEMM is cut into calls by its shape alone: blocks of
 * GEMM_ROW_BLOCK rows of C, never by columns, and a weight gradient
 * (A transposed: rows are the layer's units, k the batch) is one call. The
 * threads take whole blocks. At the update's default sizes (batch 128,
 * 256 units) every product is one call. */
#include <cblas.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include <string.h>

#include "cpu_common.h"
#include "ddpg/elem.h"

/* GEMM_ROW_BLOCK (cpu_common.h) is 128 rows: smaller blocks cost time
 * (bench/results/house_2026-11-30.md times the cuts). */
/* Blocks are handed to other threads only in parts of this many multiply-adds,
 * much more work than a hand-off between cores costs (bench/results/cpu_update.md
 * has a core's sgemm rate and the cross-core round trip). */
#define GEMM_PART_MIN_MACS (1 << 20)

typedef struct {
    int ta, tb, m, n, k;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int lda, ldb, ldc;
} GemmArgs;

/* C(o:o+len, :) = op(A)(o:o+len, :) op(B): one OpenBLAS call. */
static void gemm_rows(const GemmArgs *g, int o, int len) {
    const float *A = g->A + (g->ta ? (size_t)o : (size_t)o * g->lda);
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                g->tb ? CblasTrans : CblasNoTrans, len, g->n, g->k, g->alpha, A, g->lda, g->B,
                g->ldb, g->beta, g->C + (size_t)o * g->ldc, g->ldc);
}

static void gemm_blocks(void *ctx, size_t lo, size_t hi) {
    const GemmArgs *g = ctx;
    for (size_t blk = lo; blk < hi; blk++) {
        int o = (int)blk * GEMM_ROW_BLOCK;
        gemm_rows(g, o, g->m - o < GEMM_ROW_BLOCK ? g->m - o : GEMM_ROW_BLOCK);
    }
}

/* OpenBLAS's kernels for thin products (an input layer's k = obs_dim, an
 * output layer's k = 1) depend much on the operands' orientation: B is
 * copied transposed for a thin k, and a k = 1 product runs as TN
 * (bench/results/cpu_update.md has the times). */
#define GEMM_THIN_K 8

void cpu_gemm(Backend *be, int ta, int tb, int m, int n, int k, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (m <= 0 || n <= 0) return;
    /* A (m,1) with unit stride is the same memory as A^T stored (1,m) */
    if (k == 1 && !ta && lda == 1) ta = 1, lda = m;
    /* B^T (k,n) stored row-major, from B (n,k), for thin k */
    float bt[GEMM_THIN_K * 1024];
    if (tb && k <= GEMM_THIN_K && (size_t)n * k <= sizeof bt / sizeof bt[0]) {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < k; i++) bt[(size_t)i * n + j] = B[(size_t)j * ldb + i];
        B = bt, ldb = n, tb = 0;
    }
    GemmArgs g = {ta, tb, m, n, k, alpha, beta, A, B, C, lda, ldb, ldc};
    if (ta) { /* a weight gradient (dz^T h): its rows are the layer's units */
        gemm_rows(&g, 0, m);
        return;
    }
    size_t blocks = ((size_t)m + GEMM_ROW_BLOCK - 1) / GEMM_ROW_BLOCK;
    size_t block_macs = (size_t)GEMM_ROW_BLOCK * (size_t)n * (size_t)(k > 0 ? k : 1);
    cpu_for(be, blocks, 1, (GEMM_PART_MIN_MACS + block_macs - 1) / block_macs, gemm_blocks, &g);
}

typedef struct {
    float *y;
    const float *b; /* bias_act: bias (cols); act_grad: the activation output y */
    int cols;
    Activation act;
    const ActionBounds *ab;
    uint32_t *mask_out;      /* bias_act: the ReLU mask to write, or NULL */
    const uint32_t *mask_in; /* act_grad: the ReLU mask to read, or NULL: from y */
} RowsArgs;

/* ---- ReLU masks (cpu_common.h) ---- */

/* m(relu_mask_words(cols)) = the bits y(cols) > 0. */
void cpu_relu_mask_row(uint32_t *restrict m, const float *restrict y, int cols) {
    int j = 0, w = 0;
#ifdef __AVX2__
    const __m256 zero = _mm256_setzero_ps();
    for (; j + 32 <= cols; j += 32, w++) {
        uint32_t bits = 0;
        for (int q = 0; q < 4; q++)
            bits |= (uint32_t)_mm256_movemask_ps(
                        _mm256_cmp_ps(_mm256_loadu_ps(y + j + 8 * q), zero, _CMP_GT_OQ))
                    << (8 * q);
        m[w] = bits;
    }
#endif
    for (; j < cols; j += 32, w++) {
        uint32_t bits = 0;
        for (int k = 0; k < 32 && j + k < cols; k++) bits |= (uint32_t)(y[j + k] > 0.0f) << k;
        m[w] = bits;
    }
}

/* ReLU's derivative from the mask: exactly 1 or 0, as relu_grad_elem gives. */
static inline float relu_mask_factor(const uint32_t *m, int j) {
    return (float)((m[j >> 5] >> (j & 31)) & 1u);
}

/* dy(cols) *= ReLU's derivative from m; whole words first (this vectorizes). */
static void relu_grad_mask_row(float *restrict dy, const uint32_t *restrict m, int cols) {
    int j = 0;
    for (; j + 32 <= cols; j += 32) {
        uint32_t word = m[j >> 5];
        for (int k = 0; k < 32; k++) dy[j + k] *= (float)((word >> k) & 1u);
    }
    for (; j < cols; j++) dy[j] *= relu_mask_factor(m, j);
}

static void bias_act_rows(void *ctx, size_t lo, size_t hi) {
    const RowsArgs *a = ctx;
    int cols = a->cols;
    const float *b = a->b;
    for (size_t i = lo; i < hi; i++) {
        float *row = a->y + i * cols;
        switch (a->act) {
        case ACT_RELU:
            for (int j = 0; j < cols; j++) row[j] = relu_elem(row[j] + b[j]);
            if (a->mask_out) cpu_relu_mask_row(a->mask_out + i * relu_mask_words(cols), row, cols);
            break;
        case ACT_TANH_SCALE:
            for (int j = 0; j < cols; j++)
                row[j] = tanh_bounds_elem(row[j] + b[j], a->ab->low[j], a->ab->high[j]);
            break;
        default:
            for (int j = 0; j < cols; j++) row[j] += b[j];
        }
    }
}

static void bias_act(Backend *be, float *y, const float *b, int rows, int cols, Activation act,
                     const ActionBounds *ab, uint32_t *mask) {
    RowsArgs a = {y, b, cols, act, ab, act == ACT_RELU ? mask : NULL, NULL};
    cpu_for(be, (size_t)rows, 1, cpu_rows_min_part(cols), bias_act_rows, &a);
}

/* gemm, then the bias and activation in a second pass over y */
void cpu_linear_act_mask(Backend *be, float *y, const float *x, const float *w, const float *b,
                         int rows, int in, int out, Activation act, const ActionBounds *ab,
                         uint32_t *mask) {
    cpu_gemm(be, 0, 1, rows, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    bias_act(be, y, b, rows, out, act, ab, mask);
}

void cpu_linear_act(Backend *be, float *y, const float *x, const float *w, const float *b,
                    int rows, int in, int out, Activation act, const ActionBounds *ab) {
    cpu_linear_act_mask(be, y, x, w, b, rows, in, out, act, ab, NULL);
}

static void act_grad_rows(void *ctx, size_t lo, size_t hi) {
    const RowsArgs *a = ctx;
    int cols = a->cols;
    for (size_t i = lo; i < hi; i++) {
        float *restrict dy = a->y + i * cols;
        const float *restrict y = a->b + i * cols;
        if (a->act == ACT_RELU && a->mask_in) {
            relu_grad_mask_row(dy, a->mask_in + i * relu_mask_words(cols), cols);
        } else if (a->act == ACT_RELU) {
            for (int j = 0; j < cols; j++) dy[j] *= relu_grad_elem(y[j]);
        } else if (a->act == ACT_TANH_SCALE) {
            for (int j = 0; j < cols; j++)
                dy[j] *= tanh_bounds_grad_elem(y[j], a->ab->low[j], a->ab->high[j]);
        }
    }
}

void cpu_act_grad_mask(Backend *be, float *dy, const float *y, int rows, int cols,
                       Activation act, const ActionBounds *ab, const uint32_t *mask) {
    if (act != ACT_RELU && act != ACT_TANH_SCALE) return;
    RowsArgs a = {dy, y, cols, act, ab, NULL, mask};
    cpu_for(be, (size_t)rows, 1, cpu_rows_min_part(cols), act_grad_rows, &a);
}

void cpu_act_grad(Backend *be, float *dy, const float *y, int rows, int cols, Activation act,
                  const ActionBounds *ab) {
    cpu_act_grad_mask(be, dy, y, rows, cols, act, ab, NULL);
}

typedef struct {
    float *dz;
    const float *dy, *w, *y;
    int cols;
    Activation act;
    const ActionBounds *ab;
    const uint32_t *mask; /* ReLU mask, or NULL: from y */
} OuterArgs;

/* (dy_i w_j) rounds as the k = 1 product does; the activation factor then
 * multiplies it as act_grad would (two products, nothing to contract). */
static void outer_act_grad_rows(void *ctx, size_t lo, size_t hi) {
    const OuterArgs *a = ctx;
    int cols = a->cols;
    const float *restrict w = a->w;
    for (size_t i = lo; i < hi; i++) {
        float *restrict dz = a->dz + i * cols;
        const float *restrict y = a->y + i * cols;
        float dyi = a->dy[i];
        if (a->act == ACT_RELU && a->mask) {
            for (int j = 0; j < cols; j++) dz[j] = dyi * w[j];
            relu_grad_mask_row(dz, a->mask + i * relu_mask_words(cols), cols);
        } else if (a->act == ACT_RELU) {
            /* two statements: written as one expression, GCC 12 left a branch
             * per element here (bench/results/cpu_update.md, commit 898456d) */
            for (int j = 0; j < cols; j++) {
                float g = relu_grad_elem(y[j]);
                dz[j] = dyi * w[j];
                dz[j] *= g;
            }
        } else if (a->act == ACT_TANH_SCALE) {
            for (int j = 0; j < cols; j++)
                dz[j] = (dyi * w[j]) *
                        tanh_bounds_grad_elem(y[j], a->ab->low[j], a->ab->high[j]);
        } else {
            for (int j = 0; j < cols; j++) dz[j] = dyi * w[j];
        }
    }
}

void cpu_outer_act_grad(Backend *be, float *dz, const float *dy, const float *w,
                               const float *y, int rows, int cols, Activation act,
                               const ActionBounds *ab, const uint32_t *mask) {
    OuterArgs a = {dz, dy, w, y, cols, act, ab, mask};
    cpu_for(be, (size_t)rows, 1, cpu_rows_min_part(cols), outer_act_grad_rows, &a);
}

typedef struct {
    float *db;
    const float *dy;
    int rows, cols;
} ColSumArgs;

/* Columns [lo, hi), each summed over the rows in order: the same sums
 * whichever thread runs which columns. */
static void col_sum_cols(void *ctx, size_t lo, size_t hi) {
    const ColSumArgs *a = ctx;
    float *restrict db = a->db; /* restrict: the adds below vectorize across columns */
    for (size_t j = lo; j < hi; j++) db[j] = 0.0f;
    for (int i = 0; i < a->rows; i++) {
        const float *restrict row = a->dy + (size_t)i * a->cols;
        for (size_t j = lo; j < hi; j++) db[j] += row[j];
    }
}

void cpu_col_sum(Backend *be, float *db, const float *dy, int rows, int cols) {
    ColSumArgs a = {db, dy, rows, cols};
    size_t min_part = ROWS_PART_MIN_ELEMS / (size_t)(rows > 0 ? rows : 1);
    cpu_for(be, (size_t)cols, 16, min_part ? min_part : 1, col_sum_cols, &a);
}

void cpu_concat_cols(Backend *be, float *out, const float *a, int ca, const float *b,
                            int cb, int rows) {
    (void)be;
    for (int i = 0; i < rows; i++) {
        memcpy(out + (size_t)i * (ca + cb), a + (size_t)i * ca, sizeof(float) * ca);
        memcpy(out + (size_t)i * (ca + cb) + ca, b + (size_t)i * cb, sizeof(float) * cb);
    }
}

void cpu_slice_cols(Backend *be, float *out, const float *in, int rows, int cin, int c0,
                           int cout) {
    (void)be;
    for (int i = 0; i < rows; i++)
        memcpy(out + (size_t)i * cout, in + (size_t)i * cin + c0, sizeof(float) * cout);
}

void cpu_fill(Backend *be, float *x, float v, size_t n) {
    (void)be;
    for (size_t i = 0; i < n; i++) x[i] = v;
}

