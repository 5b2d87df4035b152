/* norm.c - LayerNorm forward and backward over rows (the mirror of
 * kernels/norm.cu). Row statistics are summed in double in index order,
 * rows split over the threads, the gain and shift gradients column by column
 * over the rows in order: the same numbers for any thread count. */
#include "cpu_common.h"
#include "ddpg/elem.h"

typedef struct {
    float *y, *mean, *rstd;
    const float *x, *gain, *shift;
    int cols;
    Activation act;
} NormArgs;

static void norm_rows(void *ctx, size_t lo, size_t hi) {
    const NormArgs *a = ctx;
    int n = a->cols;
    for (size_t i = lo; i < hi; i++) {
        const float *x = a->x + i * (size_t)n;
        float *y = a->y + i * (size_t)n;
        double s = 0.0;
        for (int j = 0; j < n; j++) s += x[j];
        float mean = (float)(s / n);
        double v = 0.0;
        for (int j = 0; j < n; j++) v += (double)(x[j] - mean) * (double)(x[j] - mean);
        float rstd = (float)(1.0 / sqrt(v / n + (double)LN_EPS));
        for (int j = 0; j < n; j++) {
            float o = layernorm_elem(x[j], mean, rstd, a->gain[j], a->shift[j]);
            y[j] = a->act == ACT_RELU ? relu_elem(o) : o;
        }
        a->mean[i] = mean;
        a->rstd[i] = rstd;
    }
}

void cpu_layernorm(Backend *be, float *y, const float *x, const float *gain, const float *shift,
                   float *mean, float *rstd, int rows, int cols, Activation act) {
    NormArgs a = {y, mean, rstd, x, gain, shift, cols, act};
    cpu_for(be, (size_t)rows, 1, cpu_rows_min_part(cols), norm_rows, &a);
}

typedef struct {
    float *dx, *dgain, *dshift;
    const float *dy, *x, *gain, *mean, *rstd;
    int rows, cols;
} NormGradArgs;

static void norm_grad_rows(void *ctx, size_t lo, size_t hi) {
    const NormGradArgs *a = ctx;
    int n = a->cols;
    for (size_t i = lo; i < hi; i++) {
        const float *dy = a->dy + i * (size_t)n, *x = a->x + i * (size_t)n;
        float mean = a->mean[i], rstd = a->rstd[i];
        double sg = 0.0, sgx = 0.0;
        for (int j = 0; j < n; j++) {
            float g = dy[j] * a->gain[j], xhat = (x[j] - mean) * rstd;
            sg += g;
            sgx += (double)g * xhat;
        }
        float mg = (float)(sg / n), mgx = (float)(sgx / n);
        float *dx = a->dx + i * (size_t)n;
        for (int j = 0; j < n; j++)
            dx[j] = layernorm_dx_elem(dy[j], a->gain[j], (x[j] - mean) * rstd, mg, mgx, rstd);
    }
}

/* Columns [lo, hi) of dgain and dshift, each summed over the rows in order. */
static void norm_grad_cols(void *ctx, size_t lo, size_t hi) {
    const NormGradArgs *a = ctx;
    for (size_t j = lo; j < hi; j++) {
        float sg = 0.0f, ss = 0.0f;
        for (int i = 0; i < a->rows; i++) {
            size_t k = (size_t)i * a->cols + j;
            sg += a->dy[k] * ((a->x[k] - a->mean[i]) * a->rstd[i]);
            ss += a->dy[k];
        }
        if (a->dgain) a->dgain[j] = sg;
        if (a->dshift) a->dshift[j] = ss;
    }
}

void cpu_layernorm_grad(Backend *be, float *dx, float *dgain, float *dshift, const float *dy,
                        const float *x, const float *gain, const float *mean, const float *rstd,
                        int rows, int cols) {
    NormGradArgs a = {dx, dgain, dshift, dy, x, gain, mean, rstd, rows, cols};
    cpu_for(be, (size_t)rows, 1, cpu_rows_min_part(cols), norm_grad_rows, &a);
    if (dgain || dshift) {
        size_t min_part = ROWS_PART_MIN_ELEMS / (size_t)(rows > 0 ? rows : 1);
        cpu_for(be, (size_t)cols, 16, min_part ? min_part : 1, norm_grad_cols, &a);
    }
}
