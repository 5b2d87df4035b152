/* norm.c - LayerNorm forward and backward over rows (the mirror of
 * kernels/norm.cu). Row statistics are summed in double in index order,
 * rows split over the threads, the gain and shift gradients column by column
 * over the rows in order: the same numbers for any thread count.
 *
 * A row's sums in index order are one chain of dependent double adds, which
 * waits on the adder's latency at every element. NORM_ROWS rows are summed
 * side by side, each still in its own index order (the same numbers), so
 * that their chains overlap: with AVX2, eight rows' columns are transposed
 * into vectors (one lane per row) and summed lane by lane, as the scalar
 * loops would. The gain and shift gradients run the rows in the outer loop,
 * so that their adds vectorize across columns. tests/test_schedule.c checks
 * all of it against plain loops, bit for bit. */
#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "cpu_common.h"
#include "ddpg/elem.h"

#define NORM_ROWS 8       /* rows whose sums run side by side (AVX2: one lane each) */
#define NORM_COL_CHUNK 64 /* columns of dgain and dshift summed at once */

typedef struct {
    float *y, *mean, *rstd;
    const float *x, *gain, *shift;
    int cols;
    Activation act;
    uint32_t *mask; /* the ReLU mask of y (cpu_common.h), or NULL */
} NormArgs;

#ifdef __AVX2__
/* t[k] = column j + k of the 8 rows of x (row stride n), lane r from row r. */
static inline void load_columns8(const float *x, size_t n, int j, __m256 t[8]) {
    __m256 r[8], u[8], v[8];
    for (int k = 0; k < 8; k++) r[k] = _mm256_loadu_ps(x + (size_t)k * n + j);
    for (int k = 0; k < 8; k += 2) {
        u[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);     /* r0[0] r1[0] r0[1] r1[1] | [4] [5] */
        u[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]); /* [2] [3] | [6] [7] */
    }
    for (int k = 0; k < 8; k += 4) {
        v[k] = _mm256_shuffle_ps(u[k], u[k + 2], _MM_SHUFFLE(1, 0, 1, 0));     /* col 0 | 4 */
        v[k + 1] = _mm256_shuffle_ps(u[k], u[k + 2], _MM_SHUFFLE(3, 2, 3, 2)); /* col 1 | 5 */
        v[k + 2] = _mm256_shuffle_ps(u[k + 1], u[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        v[k + 3] = _mm256_shuffle_ps(u[k + 1], u[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int k = 0; k < 4; k++) {
        t[k] = _mm256_permute2f128_ps(v[k], v[k + 4], 0x20);
        t[k + 4] = _mm256_permute2f128_ps(v[k], v[k + 4], 0x31);
    }
}

/* The 8 lanes of f as doubles, added to lo (rows 0-3) and hi (rows 4-7). */
static inline void add_pd8(__m256d *lo, __m256d *hi, __m256 f) {
    *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(f)));
    *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)));
}

/* s[8] = the sums of the 8 rows' columns [0, j), j the returned multiple of 8. */
static int sums8(const float *x, int n, double *s) {
    __m256d lo = _mm256_setzero_pd(), hi = lo;
    int j = 0;
    for (__m256 t[8]; j + 8 <= n; j += 8) {
        load_columns8(x, (size_t)n, j, t);
        for (int k = 0; k < 8; k++) add_pd8(&lo, &hi, t[k]);
    }
    _mm256_storeu_pd(s, lo), _mm256_storeu_pd(s + 4, hi);
    return j;
}

/* v[8] = the sums of (x - m[r])^2 over the 8 rows' columns [0, j) (d in
 * float, its square in double). */
static int squares8(const float *x, int n, const float *m, double *v) {
    __m256d lo = _mm256_setzero_pd(), hi = lo;
    __m256 mv = _mm256_loadu_ps(m);
    int j = 0;
    for (__m256 t[8]; j + 8 <= n; j += 8) {
        load_columns8(x, (size_t)n, j, t);
        for (int k = 0; k < 8; k++) {
            __m256 d = _mm256_sub_ps(t[k], mv);
            __m256d dl = _mm256_cvtps_pd(_mm256_castps256_ps128(d));
            __m256d dh = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
            lo = _mm256_add_pd(lo, _mm256_mul_pd(dl, dl));
            hi = _mm256_add_pd(hi, _mm256_mul_pd(dh, dh));
        }
    }
    _mm256_storeu_pd(v, lo), _mm256_storeu_pd(v + 4, hi);
    return j;
}
#endif

/* mean and rstd of nr rows of x (row stride n) at once; nr is a constant
 * where this is inlined, so the sums stay in registers. */
static inline __attribute__((always_inline)) void row_stats(const float *x, int n, int nr,
                                                            float *mean, float *rstd) {
    double s[NORM_ROWS] = {0}, v[NORM_ROWS] = {0};
    int j0 = 0;
#ifdef __AVX2__
    if (nr == 8) j0 = sums8(x, n, s);
#endif
    for (int j = j0; j < n; j++)
        for (int r = 0; r < nr; r++) s[r] += x[(size_t)r * n + j];
    float m[NORM_ROWS];
    for (int r = 0; r < nr; r++) m[r] = (float)(s[r] / n);
#ifdef __AVX2__
    if (nr == 8) j0 = squares8(x, n, m, v);
#endif
    for (int j = j0; j < n; j++)
        for (int r = 0; r < nr; r++) {
            float d = x[(size_t)r * n + j] - m[r];
            v[r] += (double)d * (double)d;
        }
    for (int r = 0; r < nr; r++) {
        mean[r] = m[r];
        rstd[r] = (float)(1.0 / sqrt(v[r] / n + (double)LN_EPS));
    }
}

static void norm_rows(void *ctx, size_t lo, size_t hi) {
    const NormArgs *a = ctx;
    int n = a->cols;
    for (size_t i = lo; i < hi;) {
        int nr = hi - i >= NORM_ROWS ? NORM_ROWS : 1;
        const float *x0 = a->x + i * (size_t)n;
        if (nr == NORM_ROWS)
            row_stats(x0, n, NORM_ROWS, a->mean + i, a->rstd + i);
        else
            row_stats(x0, n, 1, a->mean + i, a->rstd + i);
        for (int r = 0; r < nr; r++, i++) {
            const float *x = a->x + i * (size_t)n;
            float *y = a->y + i * (size_t)n, mean = a->mean[i], rstd = a->rstd[i];
            for (int j = 0; j < n; j++) {
                float o = layernorm_elem(x[j], mean, rstd, a->gain[j], a->shift[j]);
                y[j] = a->act == ACT_RELU ? relu_elem(o) : o;
            }
            if (a->mask) cpu_relu_mask_row(a->mask + i * relu_mask_words(n), y, n);
        }
    }
}

void cpu_layernorm_mask(Backend *be, float *y, const float *x, const float *gain,
                        const float *shift, float *mean, float *rstd, int rows, int cols,
                        Activation act, uint32_t *mask) {
    NormArgs a = {y, mean, rstd, x, gain, shift, cols, act, act == ACT_RELU ? mask : NULL};
    cpu_for(be, (size_t)rows, 1, cpu_rows_min_part(cols), norm_rows, &a);
}

void cpu_layernorm(Backend *be, float *y, const float *x, const float *gain, const float *shift,
                   float *mean, float *rstd, int rows, int cols, Activation act) {
    cpu_layernorm_mask(be, y, x, gain, shift, mean, rstd, rows, cols, act, NULL);
}

typedef struct {
    float *dx, *dgain, *dshift;
    const float *dy, *x, *gain, *mean, *rstd;
    int rows, cols;
} NormGradArgs;

#ifdef __AVX2__
/* sg[8], sgx[8] = the sums of g = dy gain and of g xhat over the 8 rows'
 * columns [0, j), j the returned multiple of 8 (g and xhat in float, their
 * product in double). */
static int grad_sums8(const NormGradArgs *a, size_t i0, double *sg, double *sgx) {
    int n = a->cols, j = 0;
    const float *dy = a->dy + i0 * (size_t)n, *x = a->x + i0 * (size_t)n;
    __m256d gl = _mm256_setzero_pd(), gh = gl, xl = gl, xh = gl;
    __m256 mv = _mm256_loadu_ps(a->mean + i0), rv = _mm256_loadu_ps(a->rstd + i0);
    for (__m256 td[8], tx[8]; j + 8 <= n; j += 8) {
        load_columns8(dy, (size_t)n, j, td);
        load_columns8(x, (size_t)n, j, tx);
        for (int k = 0; k < 8; k++) {
            __m256 g = _mm256_mul_ps(td[k], _mm256_set1_ps(a->gain[j + k]));
            __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(tx[k], mv), rv);
            __m256d g_lo = _mm256_cvtps_pd(_mm256_castps256_ps128(g));
            __m256d g_hi = _mm256_cvtps_pd(_mm256_extractf128_ps(g, 1));
            __m256d x_lo = _mm256_cvtps_pd(_mm256_castps256_ps128(xhat));
            __m256d x_hi = _mm256_cvtps_pd(_mm256_extractf128_ps(xhat, 1));
            gl = _mm256_add_pd(gl, g_lo), gh = _mm256_add_pd(gh, g_hi);
            xl = _mm256_add_pd(xl, _mm256_mul_pd(g_lo, x_lo));
            xh = _mm256_add_pd(xh, _mm256_mul_pd(g_hi, x_hi));
        }
    }
    _mm256_storeu_pd(sg, gl), _mm256_storeu_pd(sg + 4, gh);
    _mm256_storeu_pd(sgx, xl), _mm256_storeu_pd(sgx + 4, xh);
    return j;
}
#endif

/* The row means of g = dy gain and of g xhat for nr rows at once (as row_stats). */
static inline __attribute__((always_inline)) void grad_row_means(const NormGradArgs *a,
                                                                 size_t i0, int nr, float *mg,
                                                                 float *mgx) {
    int n = a->cols, j0 = 0;
    double sg[NORM_ROWS] = {0}, sgx[NORM_ROWS] = {0};
    const float *dy = a->dy + i0 * (size_t)n, *x = a->x + i0 * (size_t)n;
#ifdef __AVX2__
    if (nr == 8) j0 = grad_sums8(a, i0, sg, sgx);
#endif
    for (int j = j0; j < n; j++)
        for (int r = 0; r < nr; r++) {
            size_t k = (size_t)r * n + j;
            float g = dy[k] * a->gain[j], xhat = (x[k] - a->mean[i0 + r]) * a->rstd[i0 + r];
            sg[r] += g;
            sgx[r] += (double)g * xhat;
        }
    for (int r = 0; r < nr; r++) mg[r] = (float)(sg[r] / n), mgx[r] = (float)(sgx[r] / n);
}

static void norm_grad_rows(void *ctx, size_t lo, size_t hi) {
    const NormGradArgs *a = ctx;
    int n = a->cols;
    for (size_t i = lo; i < hi;) {
        int nr = hi - i >= NORM_ROWS ? NORM_ROWS : 1;
        float mg[NORM_ROWS], mgx[NORM_ROWS];
        if (nr == NORM_ROWS)
            grad_row_means(a, i, NORM_ROWS, mg, mgx);
        else
            grad_row_means(a, i, 1, mg, mgx);
        for (int r = 0; r < nr; r++, i++) {
            const float *dy = a->dy + i * (size_t)n, *x = a->x + i * (size_t)n;
            float mean = a->mean[i], rstd = a->rstd[i], *dx = a->dx + i * (size_t)n;
            for (int j = 0; j < n; j++)
                dx[j] = layernorm_dx_elem(dy[j], a->gain[j], (x[j] - mean) * rstd, mg[r], mgx[r],
                                          rstd);
        }
    }
}

/* Columns [lo, hi) of dgain and dshift, each summed over the rows in order. */
static void norm_grad_cols(void *ctx, size_t lo, size_t hi) {
    const NormGradArgs *a = ctx;
    for (size_t c0 = lo; c0 < hi; c0 += NORM_COL_CHUNK) {
        size_t nc = hi - c0 < NORM_COL_CHUNK ? hi - c0 : NORM_COL_CHUNK;
        float sg[NORM_COL_CHUNK] = {0}, ss[NORM_COL_CHUNK] = {0};
        for (int i = 0; i < a->rows; i++) {
            const float *restrict dy = a->dy + (size_t)i * a->cols + c0;
            const float *restrict x = a->x + (size_t)i * a->cols + c0;
            float mean = a->mean[i], rstd = a->rstd[i];
            for (size_t j = 0; j < nc; j++) {
                sg[j] += dy[j] * ((x[j] - mean) * rstd);
                ss[j] += dy[j];
            }
        }
        for (size_t j = 0; j < nc; j++) {
            if (a->dgain) a->dgain[c0 + j] = sg[j];
            if (a->dshift) a->dshift[c0 + j] = ss[j];
        }
    }
}

void cpu_layernorm_dx(Backend *be, float *dx, const float *dy, const float *x,
                      const float *gain, const float *mean, const float *rstd, int rows,
                      int cols) {
    NormGradArgs a = {dx, NULL, NULL, dy, x, gain, mean, rstd, rows, cols};
    cpu_for(be, (size_t)rows, 1, cpu_rows_min_part(cols), norm_grad_rows, &a);
}

void cpu_layernorm_dparams(Backend *be, float *dgain, float *dshift, const float *dy,
                           const float *x, const float *mean, const float *rstd, int rows,
                           int cols) {
    if (!dgain && !dshift) return;
    NormGradArgs a = {NULL, dgain, dshift, dy, x, NULL, mean, rstd, rows, cols};
    size_t min_part = ROWS_PART_MIN_ELEMS / (size_t)(rows > 0 ? rows : 1);
    cpu_for(be, (size_t)cols, 16, min_part ? min_part : 1, norm_grad_cols, &a);
}

void cpu_layernorm_grad(Backend *be, float *dx, float *dgain, float *dshift, const float *dy,
                        const float *x, const float *gain, const float *mean, const float *rstd,
                        int rows, int cols) {
    cpu_layernorm_dx(be, dx, dy, x, gain, mean, rstd, rows, cols);
    cpu_layernorm_dparams(be, dgain, dshift, dy, x, mean, rstd, rows, cols);
}
