/* backend_cpu.c - the reference backend: OpenBLAS GEMMs, loops over elem.h.
 * "Device" memory is host memory; every op runs to completion when called.
 *
 * Threads: OpenBLAS runs single-threaded and the backend keeps its own pool
 * (pool.h). A large op called outside a lane is split into contiguous parts,
 * one per thread; inside a lane (run_lanes) every op runs on the lane's
 * thread. Splits never change a result: a GEMM is cut along M or N (each
 * output element keeps its own K loop) and reductions use fixed chunks, so
 * any thread count gives bit-identical numbers (tests/test_cpu_threads.c). */
#include <cblas.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddpg/backend.h"
#include "ddpg/elem.h"
#include "ddpg/errcheck.h"
#include "pool.h"

typedef struct {
    Pool *pool;
    int threads;
    unsigned next_colour; /* see cpu_alloc */
} Cpu;

/* Below these sizes an op runs whole on the calling thread: a hand-off to
 * the pool costs about a microsecond. */
#define GEMM_PART_MIN_MACS (1 << 20) /* ~20 us of sgemm on one core */
#define ELEM_PART_MIN 8192           /* elements of an element-wise pass */
#define ROWS_PART_MIN_ELEMS 32768    /* elements of a row-wise pass */
#define NORM_CHUNK 4096              /* fixed reduction chunk of the gradient norm */

/* ---- splitting ---- */

typedef void (*RangeFn)(void *ctx, size_t lo, size_t hi);

typedef struct {
    RangeFn body;
    void *ctx;
    size_t n, chunk;
} RangeJob;

static void range_task(void *arg, int part) {
    const RangeJob *j = arg;
    size_t lo = (size_t)part * j->chunk;
    size_t hi = j->n - lo < j->chunk ? j->n : lo + j->chunk;
    if (lo < hi) j->body(j->ctx, lo, hi);
}

/* body(ctx, lo, hi) over [0, n) in contiguous parts of at least min_part
 * items (multiples of align), one per thread; a single call when n is small
 * or the caller is already a lane. */
static void cpu_for(Backend *be, size_t n, size_t align, size_t min_part, RangeFn body,
                    void *ctx) {
    const Cpu *c = be->impl;
    size_t parts = pool_in_task() ? 1 : (size_t)c->threads;
    if (min_part < 1) min_part = 1;
    if (n / min_part < parts) parts = n / min_part;
    if (parts <= 1) {
        body(ctx, 0, n);
        return;
    }
    size_t chunk = (n + parts - 1) / parts;
    chunk = (chunk + align - 1) / align * align;
    RangeJob j = {body, ctx, n, chunk};
    pool_run(c->pool, (int)((n + chunk - 1) / chunk), range_task, &j);
}

static void cpu_run_lanes(Backend *be, int n, LaneFn fn, void *ctx) {
    pool_run(((Cpu *)be->impl)->pool, n, fn, ctx);
}

/* ---- memory ---- */

/* Large blocks come from mmap and so all start at the same offset in a page:
 * the streams of an element-wise pass (Adam reads p, g, m, v) then compete
 * for the same cache sets, which made Adam 1.4x slower. Each block of at
 * least COLOUR_MIN bytes starts at its own multiple of 64 bytes within the
 * page ("cache colouring"). A header line before the block keeps the
 * pointer that malloc returned. */
#define COLOUR_MIN 16384
#define COLOURS 61 /* prime, so the offsets of consecutive blocks differ */

static void *cpu_alloc(Backend *be, size_t bytes) {
    Cpu *c = be->impl;
    size_t rounded = (bytes + 63) / 64 * 64; /* 64-byte alignment for SIMD */
    size_t colour = bytes >= COLOUR_MIN ? 64 * (c->next_colour++ % COLOURS) : 0;
    char *raw = aligned_alloc(64, 64 + colour + (rounded ? rounded : 64));
    if (!raw) return NULL;
    char *p = raw + 64 + colour;
    ((void **)p)[-1] = raw;
    memset(p, 0, rounded ? rounded : 64);
    return p;
}
static void cpu_free(Backend *be, void *p) {
    (void)be;
    if (p) free(((void **)p)[-1]);
}
static void cpu_memcpy(Backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    if (bytes) memmove(dst, src, bytes);
}
static void cpu_sync(Backend *be) { (void)be; }
static void *cpu_host_alloc(Backend *be, size_t bytes) { return cpu_alloc(be, bytes); }

static void cpu_destroy(Backend *be) {
    Cpu *c = be->impl;
    pool_destroy(c->pool);
    free(c);
    free(be);
}

/* ---- dense math ---- */

typedef struct {
    int ta, tb, m, n, k;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int lda, ldb, ldc;
    int split_n; /* parts are column blocks of C (else row blocks) */
} GemmArgs;

static void gemm_part(void *ctx, size_t lo, size_t hi) {
    const GemmArgs *g = ctx;
    int o = (int)lo, len = (int)(hi - lo);
    int m = g->m, n = g->n;
    const float *A = g->A, *B = g->B;
    float *C = g->C;
    if (g->split_n) { /* C(:, o:o+len) = op(A) op(B)(:, o:o+len) */
        n = len;
        B += g->tb ? (size_t)o * g->ldb : (size_t)o;
        C += o;
    } else { /* C(o:o+len, :) = op(A)(o:o+len, :) op(B) */
        m = len;
        A += g->ta ? (size_t)o : (size_t)o * g->lda;
        C += (size_t)o * g->ldc;
    }
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                g->tb ? CblasTrans : CblasNoTrans, m, n, g->k, g->alpha, A, g->lda, B, g->ldb,
                g->beta, C, g->ldc);
}

/* OpenBLAS's kernels for thin products (an input layer's k = obs_dim, an
 * output layer's k = 1) depend much on the operands' orientation: at
 * 128x256x4, C = X W^T takes 5.8 us and C = X (W^T stored) 3.5 us; at
 * 128x256x1 the outer product takes 2.9 us as NN and 1.8 us as TN. */
#define GEMM_THIN_K 8

static void cpu_gemm(Backend *be, int ta, int tb, int m, int n, int k, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C,
                     int ldc) {
    /* A (m,1) with unit stride is the same memory as A^T stored (1,m) */
    if (k == 1 && !ta && lda == 1 && m > 0) ta = 1, lda = m;
    /* B^T (k,n) stored row-major, from B (n,k), for thin k */
    float bt[GEMM_THIN_K * 1024];
    if (tb && k <= GEMM_THIN_K && (size_t)n * k <= sizeof bt / sizeof bt[0]) {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < k; i++) bt[(size_t)i * n + j] = B[(size_t)j * ldb + i];
        B = bt, ldb = n, tb = 0;
    }
    GemmArgs g = {ta, tb, m, n, k, alpha, beta, A, B, C, lda, ldb, ldc, n >= m};
    /* Column blocks measured 4% faster than row blocks at 128x256x256. */
    size_t dim = (size_t)(g.split_n ? n : m);
    size_t macs_per_item = (size_t)(g.split_n ? m : n) * (size_t)(k > 0 ? k : 1);
    size_t min_part = (GEMM_PART_MIN_MACS + macs_per_item - 1) / (macs_per_item ? macs_per_item : 1);
    cpu_for(be, dim, 16, min_part < 32 ? 32 : min_part, gemm_part, &g);
}

typedef struct {
    float *y;
    const float *b; /* bias_act: bias (cols); act_grad: the activation output y */
    int cols;
    Activation act;
    const ActionBounds *ab;
    uint32_t *mask_out;      /* bias_act: the ReLU mask to write (Backend.relu_masks), or NULL */
    const uint32_t *mask_in; /* act_grad: the ReLU mask to read, or NULL: from y */
} RowsArgs;

/* ---- ReLU masks (Backend.relu_masks) ---- */

/* m(relu_mask_words(cols)) = the bits y(cols) > 0. */
static void relu_mask_row(uint32_t *restrict m, const float *restrict y, int cols) {
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

static size_t rows_min_part(int cols) {
    size_t m = ROWS_PART_MIN_ELEMS / (size_t)(cols > 0 ? cols : 1);
    return m ? m : 1;
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
            if (a->mask_out) relu_mask_row(a->mask_out + i * relu_mask_words(cols), row, cols);
            break;
        case ACT_TANH_SCALE:
            for (int j = 0; j < cols; j++) {
                float lo_ = a->ab->low[j], hi_ = a->ab->high[j];
                row[j] = tanh_scale_elem(row[j] + b[j], 0.5f * (hi_ - lo_), 0.5f * (hi_ + lo_));
            }
            break;
        default:
            for (int j = 0; j < cols; j++) row[j] += b[j];
        }
    }
}

static void bias_act_mask(Backend *be, float *y, const float *b, int rows, int cols,
                          Activation act, const ActionBounds *ab, uint32_t *mask) {
    RowsArgs a = {y, b, cols, act, ab, act == ACT_RELU ? mask : NULL, NULL};
    cpu_for(be, (size_t)rows, 1, rows_min_part(cols), bias_act_rows, &a);
}

static void cpu_bias_act(Backend *be, float *y, const float *b, int rows, int cols,
                         Activation act, const ActionBounds *ab) {
    bias_act_mask(be, y, b, rows, cols, act, ab, NULL);
}

static void cpu_linear_act(Backend *be, float *y, const float *x, const float *w, const float *b,
                           int rows, int in, int out, Activation act, const ActionBounds *ab,
                           uint32_t *mask) {
    cpu_gemm(be, 0, 1, rows, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    bias_act_mask(be, y, b, rows, out, act, ab, mask);
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
            for (int j = 0; j < cols; j++) {
                float lo_ = a->ab->low[j], hi_ = a->ab->high[j];
                dy[j] *= tanh_scale_grad_elem(y[j], 0.5f * (hi_ - lo_), 0.5f * (hi_ + lo_));
            }
        }
    }
}

static void cpu_act_grad(Backend *be, float *dy, const float *y, int rows, int cols,
                         Activation act, const ActionBounds *ab, const uint32_t *mask) {
    if (act != ACT_RELU && act != ACT_TANH_SCALE) return;
    RowsArgs a = {dy, y, cols, act, ab, NULL, mask};
    cpu_for(be, (size_t)rows, 1, rows_min_part(cols), act_grad_rows, &a);
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
             * per element here (35 us instead of 5 us at 128x256) */
            for (int j = 0; j < cols; j++) {
                float g = relu_grad_elem(y[j]);
                dz[j] = dyi * w[j];
                dz[j] *= g;
            }
        } else if (a->act == ACT_TANH_SCALE) {
            for (int j = 0; j < cols; j++) {
                float lo_ = a->ab->low[j], hi_ = a->ab->high[j];
                dz[j] = (dyi * w[j]) *
                        tanh_scale_grad_elem(y[j], 0.5f * (hi_ - lo_), 0.5f * (hi_ + lo_));
            }
        } else {
            for (int j = 0; j < cols; j++) dz[j] = dyi * w[j];
        }
    }
}

static void cpu_outer_act_grad(Backend *be, float *dz, const float *dy, const float *w,
                               const float *y, int rows, int cols, Activation act,
                               const ActionBounds *ab, const uint32_t *mask) {
    OuterArgs a = {dz, dy, w, y, cols, act, ab, mask};
    cpu_for(be, (size_t)rows, 1, rows_min_part(cols), outer_act_grad_rows, &a);
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

static void cpu_col_sum(Backend *be, float *db, const float *dy, int rows, int cols) {
    ColSumArgs a = {db, dy, rows, cols};
    size_t min_part = ROWS_PART_MIN_ELEMS / (size_t)(rows > 0 ? rows : 1);
    cpu_for(be, (size_t)cols, 16, min_part ? min_part : 1, col_sum_cols, &a);
}

static void cpu_concat_cols(Backend *be, float *out, const float *a, int ca, const float *b,
                            int cb, int rows) {
    (void)be;
    for (int i = 0; i < rows; i++) {
        memcpy(out + (size_t)i * (ca + cb), a + (size_t)i * ca, sizeof(float) * ca);
        memcpy(out + (size_t)i * (ca + cb) + ca, b + (size_t)i * cb, sizeof(float) * cb);
    }
}

static void cpu_slice_cols(Backend *be, float *out, const float *in, int rows, int cin, int c0,
                           int cout) {
    (void)be;
    for (int i = 0; i < rows; i++)
        memcpy(out + (size_t)i * cout, in + (size_t)i * cin + c0, sizeof(float) * cout);
}

static void cpu_fill(Backend *be, float *x, float v, size_t n) {
    (void)be;
    for (size_t i = 0; i < n; i++) x[i] = v;
}

/* ---- DDPG pieces ---- */

static void cpu_td_target(Backend *be, float *y, const float *r, const float *term,
                          const float *q_next, int n, float gamma) {
    (void)be;
    for (int i = 0; i < n; i++) y[i] = td_target_elem(r[i], term[i], q_next[i], gamma);
}

static void cpu_mse_grad(Backend *be, float *dq, const float *q, const float *y, int n) {
    (void)be;
    float inv_n = 1.0f / (float)n;
    for (int i = 0; i < n; i++) dq[i] = mse_grad_elem(q[i], y[i], inv_n);
}

static void cpu_mse_acc(Backend *be, float *acc, const float *q, const float *y, int n) {
    (void)be;
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        double d = (double)q[i] - (double)y[i];
        s += d * d;
    }
    *acc += (float)(s / n);
}

static void cpu_mean_acc(Backend *be, float *acc, const float *x, int n, float scale) {
    (void)be;
    double s = 0.0;
    for (int i = 0; i < n; i++) s += x[i];
    *acc += scale * (float)(s / n);
}

/* Sum of squares of g(n): SUMSQ_LANES float lanes in a fixed order
 * (vectorizes), combined in double. 32 lanes are four independent 8-wide
 * accumulators: 2.3 us for 65792 floats in cache, against 4.5 us with 16
 * (two chains, each waiting on the FMA before it). */
#define SUMSQ_LANES 32
static double sum_squares(const float *g, size_t n) {
    float lane[SUMSQ_LANES] = {0};
    size_t i = 0;
    for (; i + SUMSQ_LANES <= n; i += SUMSQ_LANES)
        for (int k = 0; k < SUMSQ_LANES; k++) lane[k] += g[i + k] * g[i + k];
    double s = 0.0;
    for (; i < n; i++) s += (double)g[i] * g[i];
    for (int k = 0; k < SUMSQ_LANES; k++) s += lane[k];
    return s;
}

typedef struct {
    float *g;
    size_t n;
    double *chunk_sums; /* (ceil(n / NORM_CHUNK)) */
    float scale;
} NormArgs;

static void norm_chunks(void *ctx, size_t lo, size_t hi) {
    const NormArgs *a = ctx;
    for (size_t c = lo; c < hi; c++) {
        size_t off = c * NORM_CHUNK, len = a->n - off < NORM_CHUNK ? a->n - off : NORM_CHUNK;
        a->chunk_sums[c] = sum_squares(a->g + off, len);
    }
}

static void scale_part(void *ctx, size_t lo, size_t hi) {
    const NormArgs *a = ctx;
    float *restrict g = a->g;
    for (size_t j = lo; j < hi; j++) g[j] *= a->scale;
}

/* The L2 norm of g(n) over fixed chunks summed in order: the same norm for
 * any thread count. */
static float grad_norm(Backend *be, float *g, size_t n) {
    size_t nc = (n + NORM_CHUNK - 1) / NORM_CHUNK;
    double stack_sums[256];
    double *sums = nc <= 256 ? stack_sums : malloc(sizeof(double) * nc);
    mallocCheck(sums);
    NormArgs a = {g, n, sums, 1.0f};
    cpu_for(be, nc, 1, ELEM_PART_MIN / NORM_CHUNK, norm_chunks, &a);
    double s = 0.0;
    for (size_t c = 0; c < nc; c++) s += sums[c];
    if (sums != stack_sums) free(sums);
    return (float)sqrt(s);
}

/* The factor that clips g(n) to global norm max_norm: below 1 only when
 * max_norm > 0 and the norm is above it. *norm_acc += the norm when given. */
static float clip_from_norm(float norm, float max_norm, float *norm_acc) {
    if (norm_acc) *norm_acc += norm;
    float c = max_norm > 0.0f ? clip_coef_elem(norm, max_norm) : 1.0f;
    return c < 1.0f ? c : 1.0f;
}

/* The same, with the norm read from g (when it is wanted at all). */
static float clip_factor(Backend *be, float *g, size_t n, float max_norm, float *norm_acc) {
    if (max_norm <= 0.0f && !norm_acc) return 1.0f;
    return clip_from_norm(grad_norm(be, g, n), max_norm, norm_acc);
}

/* Backend.sumsq: fixed chunks summed in order, as grad_norm, on this thread
 * only (it runs in the lane that wrote x). */
static void cpu_sumsq(Backend *be, double *out, const float *x, size_t n) {
    (void)be;
    double s = 0.0;
    for (size_t off = 0; off < n; off += NORM_CHUNK)
        s += sum_squares(x + off, n - off < NORM_CHUNK ? n - off : NORM_CHUNK);
    *out = s;
}

static void cpu_clip_grad_norm(Backend *be, float *g, size_t n, float max_norm,
                               float *norm_acc) {
    NormArgs a = {g, n, NULL, clip_factor(be, g, n, max_norm, norm_acc)};
    if (a.scale < 1.0f) cpu_for(be, n, 16, ELEM_PART_MIN, scale_part, &a);
}

typedef struct {
    float *p, *m, *v, *targ;
    const float *g;
    AdamHyper h;
    float bc1, bc2;
    float gscale, tau; /* optim_step: the clip coefficient and the soft update */
} AdamArgs;

/* Bias corrections after incrementing the step, as torch.optim.Adam. */
static AdamArgs adam_args(float *p, const float *g, float *m, float *v, AdamHyper h,
                          int64_t *step) {
    *step += 1;
    AdamArgs a = {p, m, v, NULL, g, h, (float)(1.0 - pow(h.beta1, (double)*step)),
                  (float)(1.0 - pow(h.beta2, (double)*step)), 1.0f, 0.0f};
    return a;
}

static void optim_part(void *ctx, size_t lo, size_t hi);

static void cpu_adam(Backend *be, float *p, const float *g, float *m, float *v, size_t n,
                     AdamHyper h, int64_t *step) {
    AdamArgs a = adam_args(p, g, m, v, h, step); /* no clipping (x 1 is exact), no target */
    cpu_for(be, n, 16, ELEM_PART_MIN, optim_part, &a);
}

typedef struct {
    float *targ;
    const float *src;
    float tau;
} PolyakArgs;

static void polyak_part(void *ctx, size_t lo, size_t hi) {
    const PolyakArgs *a = ctx;
    float *restrict t = a->targ;
    const float *restrict s = a->src;
    float tau = a->tau;
    for (size_t i = lo; i < hi; i++) t[i] = polyak_elem(t[i], s[i], tau);
}

static void cpu_polyak(Backend *be, float *targ, const float *src, size_t n, float tau) {
    PolyakArgs a = {targ, src, tau};
    cpu_for(be, n, 16, ELEM_PART_MIN, polyak_part, &a);
}

/* Adam, with the clip coefficient and the soft update folded in: g * gscale
 * is what the clip pass would have stored (a coefficient of 1 changes
 * nothing), and the target follows p where targ is non-NULL. */
static void optim_part(void *ctx, size_t lo, size_t hi) {
    const AdamArgs *a = ctx;
    float *restrict p = a->p, *restrict m = a->m, *restrict v = a->v, *restrict t = a->targ;
    const float *restrict g = a->g;
    AdamHyper h = a->h;
    float bc1 = a->bc1, bc2 = a->bc2, gscale = a->gscale, tau = a->tau;
    if (t) {
        for (size_t i = lo; i < hi; i++) {
            adam_elem(&p[i], g[i] * gscale, &m[i], &v[i], h.lr, h.beta1, h.beta2, h.eps, bc1,
                      bc2);
            t[i] = polyak_elem(t[i], p[i], tau);
        }
    } else {
        for (size_t i = lo; i < hi; i++)
            adam_elem(&p[i], g[i] * gscale, &m[i], &v[i], h.lr, h.beta1, h.beta2, h.eps, bc1,
                      bc2);
    }
}

static void cpu_optim_step(Backend *be, float *p, float *g, float *m, float *v, size_t n,
                           float max_norm, float *norm_acc, AdamHyper h, int64_t *step,
                           float *targ, float tau, const double *sumsq, int nsumsq) {
    AdamArgs a = adam_args(p, g, m, v, h, step);
    if (sumsq) {
        double s = 0.0;
        for (int i = 0; i < nsumsq; i++) s += sumsq[i];
        a.gscale = clip_from_norm((float)sqrt(s), max_norm, norm_acc);
    } else {
        a.gscale = clip_factor(be, g, n, max_norm, norm_acc);
    }
    a.targ = targ;
    a.tau = tau;
    cpu_for(be, n, 16, ELEM_PART_MIN, optim_part, &a);
}

/* ---- randomness ---- */

static void cpu_uniform_actions(Backend *be, float *a, int n, ActionBounds ab, uint64_t seed,
                                uint64_t *ctr) {
    (void)be;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < ab.dim; d++) {
            Philox4 r = philox4x32(seed, (uint32_t)(i * ab.dim + d), RNG_WARMUP, *ctr);
            a[(size_t)i * ab.dim + d] = ab.low[d] + (ab.high[d] - ab.low[d]) * rng_u01f(r.v[0]);
        }
    *ctr += 1;
}

static void cpu_add_noise(Backend *be, float *a, int n, ActionBounds ab, NoiseSpec ns,
                          uint64_t seed, uint64_t *ctr) {
    (void)be;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < ab.dim; d++) {
            size_t k = (size_t)i * ab.dim + d;
            Philox4 r = philox4x32(seed, (uint32_t)k, RNG_NOISE, *ctr);
            float z = rng_normal(r.v[0], r.v[1]);
            if (ns.kind == NOISE_OU) {
                ns.ou_state[k] = ou_step_elem(ns.ou_state[k], ns.ou_theta, 0.0f, ns.sigma,
                                              ns.ou_dt, z);
                a[k] = noisy_action_elem(a[k], 1.0f, ns.ou_state[k], ab.low[d], ab.high[d]);
            } else {
                a[k] = noisy_action_elem(a[k], ns.sigma, z, ab.low[d], ab.high[d]);
            }
        }
    *ctr += 1;
}

/* ---- environments ---- */

static void env_reset_one(VecEnv *e, int i, float *obs) {
    Philox4 r = philox4x32(e->seed, (uint32_t)i, RNG_RESET, (uint64_t)e->resets[i]);
    e->resets[i] += 1;
    pendulum_reset_elem(&e->th[i], &e->thdot[i], rng_u01d(r.v[0], r.v[1]),
                        rng_u01d(r.v[2], r.v[3]));
    e->t[i] = 0;
    e->ep_return[i] = 0.0f;
    pendulum_obs_elem(e->th[i], e->thdot[i], obs + (size_t)i * PENDULUM_OBS_DIM);
}

static void cpu_env_reset(Backend *be, VecEnv *e, float *obs) {
    (void)be;
    for (int i = 0; i < e->n; i++) env_reset_one(e, i, obs);
}

static void cpu_env_step(Backend *be, VecEnv *e, const float *act, float *next_obs, float *rew,
                         float *term, float *trunc, float *obs_out) {
    (void)be;
    for (int i = 0; i < e->n; i++) {
        float r = (float)pendulum_step_elem(&e->th[i], &e->thdot[i], act[i]);
        float *no = next_obs + (size_t)i * PENDULUM_OBS_DIM;
        pendulum_obs_elem(e->th[i], e->thdot[i], no);
        e->t[i] += 1;
        e->ep_return[i] += r;
        rew[i] = r;
        term[i] = 0.0f; /* Pendulum-v1 never terminates */
        int done = e->t[i] >= e->max_steps;
        trunc[i] = done ? 1.0f : 0.0f;
        if (done) {
            EpisodeLog *L = &e->log;
            int64_t slot = *L->count % L->capacity;
            L->ret[slot] = e->ep_return[i];
            L->len[slot] = e->t[i];
            L->env[slot] = i;
            L->step[slot] = *e->vstep;
            *L->count += 1;
            env_reset_one(e, i, obs_out);
        } else if (obs_out != next_obs) {
            memcpy(obs_out + (size_t)i * PENDULUM_OBS_DIM, no, sizeof(float) * PENDULUM_OBS_DIM);
        }
    }
    *e->vstep += 1;
}

/* ---- replay ---- */

static void cpu_replay_insert(Backend *be, Replay *r, const float *obs, const float *act,
                              const float *rew, const float *next_obs, const float *term, int n) {
    (void)be;
    int od = r->obs_dim, ad = r->act_dim;
    int64_t slot = r->meta[0];
    for (int i = 0; i < n; i++) {
        memcpy(r->obs + slot * od, obs + (size_t)i * od, sizeof(float) * od);
        memcpy(r->act + slot * ad, act + (size_t)i * ad, sizeof(float) * ad);
        memcpy(r->next_obs + slot * od, next_obs + (size_t)i * od, sizeof(float) * od);
        r->rew[slot] = rew[i];
        r->term[slot] = term[i];
        slot = (slot + 1) % r->capacity;
    }
    r->meta[0] = slot;
    r->meta[1] = r->meta[1] + n < r->capacity ? r->meta[1] + n : r->capacity;
}

typedef struct {
    const Replay *r;
    Batch *b;
    uint64_t seed, ctr;
} SampleArgs;

static void sample_rows(void *ctx, size_t lo, size_t hi) {
    const SampleArgs *a = ctx;
    const Replay *r = a->r;
    Batch *b = a->b;
    int od = r->obs_dim, ad = r->act_dim;
    uint64_t filled = (uint64_t)r->meta[1];
    /* All indices first, with the rows' cache lines requested, then the
     * copies: the random rows are mostly out of cache, and the misses of a
     * whole batch then overlap instead of coming one at a time. */
    for (size_t i = lo; i < hi; i++) {
        Philox4 x = philox4x32(a->seed, (uint32_t)i, RNG_SAMPLE, a->ctr);
        /* 64 random bits modulo the fill: bias below 2^-30 for any real capacity */
        uint64_t w = ((uint64_t)x.v[0] << 32) | x.v[1];
        int64_t k = filled ? (int64_t)(w % filled) : 0;
        b->idx[i] = k;
        __builtin_prefetch(r->obs + k * od);
        __builtin_prefetch(r->act + k * ad);
        __builtin_prefetch(r->next_obs + k * od);
        __builtin_prefetch(r->rew + k);
        __builtin_prefetch(r->term + k);
    }
    for (size_t i = lo; i < hi; i++) {
        int64_t k = b->idx[i];
        /* rows of a few floats: loops, not memcpy calls */
        for (int j = 0; j < od; j++) b->obs[i * od + j] = r->obs[k * od + j];
        for (int j = 0; j < ad; j++) b->act[i * ad + j] = r->act[k * ad + j];
        for (int j = 0; j < od; j++) b->next_obs[i * od + j] = r->next_obs[k * od + j];
        b->rew[i] = r->rew[k];
        b->term[i] = r->term[k];
    }
}

static void cpu_replay_sample(Backend *be, const Replay *r, Batch *b, uint64_t seed,
                              uint64_t *ctr) {
    SampleArgs a = {r, b, seed, *ctr};
    cpu_for(be, (size_t)b->size, 1, 64, sample_rows, &a);
    *ctr += 1;
}

/* ---- creation ---- */

static void cpu_device_name(char *buf, size_t len) {
    snprintf(buf, len, "CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ') c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, len, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

Backend *backend_cpu_create(int threads) {
    Backend *be = calloc(1, sizeof *be);
    Cpu *c = calloc(1, sizeof *c);
    mallocCheck(be);
    mallocCheck(c);
    if (threads <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (int)online : 1;
    }
    /* Our threads split the work; OpenBLAS inside each stays on one core. */
    openblas_set_num_threads(1);
    c->pool = pool_create(threads);
    if (!c->pool) c->pool = pool_create(1); /* no threads to spare: run inline */
    mallocCheck(c->pool);
    c->threads = pool_threads(c->pool);
    be->impl = c;
    be->name = "cpu";
    cpu_device_name(be->device_name, sizeof be->device_name);
    be->destroy = cpu_destroy;
    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->to_device = cpu_memcpy;
    be->to_host = cpu_memcpy;
    be->copy = cpu_memcpy;
    be->sync = cpu_sync;
    be->host_alloc = cpu_host_alloc;
    be->host_free = cpu_free;
    be->to_host_async = cpu_memcpy;
    be->gemm = cpu_gemm;
    be->bias_act = cpu_bias_act;
    be->linear_act = cpu_linear_act;
    be->relu_masks = 1;
    be->act_grad = cpu_act_grad;
    be->outer_act_grad = cpu_outer_act_grad;
    be->col_sum = cpu_col_sum;
    be->concat_cols = cpu_concat_cols;
    be->slice_cols = cpu_slice_cols;
    be->fill = cpu_fill;
    be->td_target = cpu_td_target;
    be->mse_grad = cpu_mse_grad;
    be->mse_acc = cpu_mse_acc;
    be->mean_acc = cpu_mean_acc;
    be->clip_grad_norm = cpu_clip_grad_norm;
    be->adam = cpu_adam;
    be->optim_step = cpu_optim_step;
    be->sumsq = cpu_sumsq;
    be->polyak = cpu_polyak;
    be->uniform_actions = cpu_uniform_actions;
    be->add_noise = cpu_add_noise;
    be->env_reset = cpu_env_reset;
    be->env_step = cpu_env_step;
    be->replay_insert = cpu_replay_insert;
    be->replay_sample = cpu_replay_sample;
    if (c->threads > 1) be->run_lanes = cpu_run_lanes;
    return be;
}
