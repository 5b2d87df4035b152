/* test_gpu_parity.c - every CUDA backend op against the CPU reference backend
 * on identical inputs, with odd sizes (1, 65, 257, 4099) to catch tail
 * handling. Each case prints its largest differences and asserts a stated
 * tolerance. Without a CUDA device each case prints one SKIP line and passes.
 *
 * Both backends draw the same Philox bits for the same (seed, index, purpose,
 * counter) (kernels/cuda_rng.h), so random ops, resets and replay sampling are
 * compared value by value, not only statistically.
 *
 * Check forks each test: the CUDA backend is created inside the test. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/config.h"
#include "ddpg/ddpg.h"
#include "ddpg/elem.h"
#include "ddpg/env.h"
#include "ddpg/replay.h"
#include "ddpg/train.h"
#include "suites.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

typedef struct {
    Backend *gpu, *cpu;
} Pair;

/* Both backends, or one SKIP line and 0 when there is no CUDA device. */
static int pair_open(Pair *p, const char *test) {
    char err[256] = "";
    p->gpu = backend_cuda_create(err, sizeof err);
    if (!p->gpu) {
        printf("SKIP gpu_parity/%s: %s\n", test, err[0] ? err : "no CUDA device");
        fflush(stdout);
        return 0;
    }
    p->cpu = backend_cpu_create(1);
    return 1;
}

static void pair_close(Pair *p) {
    p->gpu->destroy(p->gpu);
    p->cpu->destroy(p->cpu);
}

/* Deterministic host data (splitmix64). */
static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;
static void seed_host_rng(uint64_t s) { g_rng = s * 0x9E3779B97F4A7C15ULL + 1; }
static double urand(void) {
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)urand(); }

static float *host_floats(size_t n, float lo, float hi) {
    float *x = malloc(sizeof(float) * (n ? n : 1));
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) x[i] = frand(lo, hi);
    return x;
}

/* The same bytes on both backends: uploaded from host, or zeroed. */
typedef struct {
    void *g, *c;
    size_t bytes;
} Twin;

static Twin twin(Pair *p, const void *host, size_t bytes) {
    Twin t = {p->gpu->alloc(p->gpu, bytes), p->cpu->alloc(p->cpu, bytes), bytes};
    ck_assert_ptr_nonnull(t.g);
    ck_assert_ptr_nonnull(t.c);
    if (host) {
        p->gpu->to_device(p->gpu, t.g, host, bytes);
        p->cpu->to_device(p->cpu, t.c, host, bytes);
    }
    return t;
}

static void twin_set(Pair *p, Twin *t, const void *host) {
    p->gpu->to_device(p->gpu, t->g, host, t->bytes);
    p->cpu->to_device(p->cpu, t->c, host, t->bytes);
}

static void twin_free(Pair *p, Twin *t) {
    p->gpu->free(p->gpu, t->g);
    p->cpu->free(p->cpu, t->c);
}

/* A host copy of device memory (caller frees). */
static void *fetch(Backend *be, const void *dev, size_t bytes) {
    void *h = malloc(bytes ? bytes : 1);
    ck_assert_ptr_nonnull(h);
    be->to_host(be, h, dev, bytes);
    return h;
}

typedef struct {
    double max_abs, max_rel;
    size_t bad, first_bad;
} Diff;

/* |g - c| <= tol[i] (or atol + rtol |c| when tol is NULL), NaN counts as bad. */
static Diff diff_floats(const float *g, const float *c, size_t n, const double *tol, double atol,
                        double rtol) {
    Diff d = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)g[i] - (double)c[i]);
        double r = a / fmax(fabs((double)c[i]), 1e-30);
        if (a > d.max_abs || isnan(a)) d.max_abs = a;
        if (r > d.max_rel || isnan(r)) d.max_rel = r;
        double t = tol ? tol[i] : atol + rtol * fabs((double)c[i]);
        if (!(a <= t)) {
            if (!d.bad) d.first_bad = i;
            d.bad++;
        }
    }
    return d;
}

static void report(const char *what, Diff d, size_t n, const float *g, const float *c,
                   const char *tol_text) {
    printf("gpu_parity/%s: n=%zu max abs %.3g max rel %.3g (tol %s)\n", what, n, d.max_abs,
           d.max_rel, tol_text);
    fflush(stdout);
    ck_assert_msg(
        d.bad == 0, "%s: %zu of %zu elements beyond tolerance %s; first [%zu] gpu %.9g cpu %.9g",
        what, d.bad, n, tol_text, d.first_bad, (double)g[d.first_bad], (double)c[d.first_bad]);
}

/* Asserts |gpu - cpu| <= atol + rtol |cpu| for host copies of n floats. */
static void expect_close(const char *what, const float *g, const float *c, size_t n, double atol,
                         double rtol) {
    char tol[64];
    snprintf(tol, sizeof tol, "%.0e + %.0e|cpu|", atol, rtol);
    report(what, diff_floats(g, c, n, NULL, atol, rtol), n, g, c, tol);
}

/* Fetches n floats from both backends and compares them. */
static void expect_twin_close(Pair *p, const char *what, const void *gdev, const void *cdev,
                              size_t n, double atol, double rtol) {
    float *g = fetch(p->gpu, gdev, sizeof(float) * n);
    float *c = fetch(p->cpu, cdev, sizeof(float) * n);
    expect_close(what, g, c, n, atol, rtol);
    free(g);
    free(c);
}

/* Fetches `bytes` from both backends and asserts they are identical. */
static void expect_twin_equal(Pair *p, const char *what, const void *gdev, const void *cdev,
                              size_t bytes) {
    unsigned char *g = fetch(p->gpu, gdev, bytes), *c = fetch(p->cpu, cdev, bytes);
    size_t first = bytes;
    for (size_t i = 0; i < bytes && first == bytes; i++)
        if (g[i] != c[i]) first = i;
    printf("gpu_parity/%s: %zu bytes %s\n", what, bytes, first == bytes ? "identical" : "DIFFER");
    fflush(stdout);
    ck_assert_msg(first == bytes, "%s: first differing byte at %zu of %zu", what, first, bytes);
    free(g);
    free(c);
}

static int64_t fetch_i64(Backend *be, const void *dev) {
    int64_t v;
    be->to_host(be, &v, dev, sizeof v);
    return v;
}

static const int SIZES[] = {1, 65, 257, 4099};
#define N_SIZES ((int)(sizeof SIZES / sizeof SIZES[0]))

static ActionBounds test_bounds(int dim) {
    ActionBounds ab;
    memset(&ab, 0, sizeof ab);
    ab.dim = dim;
    for (int d = 0; d < dim; d++) {
        ab.low[d] = -1.0f - 0.5f * d;
        ab.high[d] = 2.0f + 0.25f * d;
    }
    return ab;
}

/* ------------------------------------------------------------------------ */
/* Dense math                                                                */

/* Every transpose combination, odd shapes, padded leading dimensions, alpha
 * and beta; the bound per element is 1e-5 of sum_k |alpha a_ik b_kj| + |beta
 * c_ij| (FP32 accumulation in different orders). Padding must stay untouched. */
START_TEST(test_gemm) {
    Pair p;
    if (!pair_open(&p, "gemm")) return;
    static const int shapes[][3] = {
        {1, 1, 1}, {65, 257, 33}, {257, 65, 4099}, {256, 256, 256}, {4099, 3, 65}};
    seed_host_rng(1);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
                int lda = ac + 3, ldb = bc + 1, ldc = n + 2;
                float alpha = 0.75f, beta = s % 2 ? 0.5f : 0.0f;
                float *A = host_floats((size_t)ar * lda, -1, 1);
                float *B = host_floats((size_t)br * ldb, -1, 1);
                float *C = host_floats((size_t)m * ldc, -1, 1);
                Twin tA = twin(&p, A, sizeof(float) * ar * lda);
                Twin tB = twin(&p, B, sizeof(float) * br * ldb);
                Twin tC = twin(&p, C, sizeof(float) * m * ldc);
                p.gpu->gemm(p.gpu, ta, tb, m, n, k, alpha, tA.g, lda, tB.g, ldb, beta, tC.g, ldc);
                p.cpu->gemm(p.cpu, ta, tb, m, n, k, alpha, tA.c, lda, tB.c, ldb, beta, tC.c, ldc);
                size_t nc = (size_t)m * ldc;
                double *tol = malloc(sizeof(double) * nc);
                ck_assert_ptr_nonnull(tol);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < ldc; j++) {
                        double mag = 0.0;
                        if (j < n) {
                            for (int q = 0; q < k; q++) {
                                double a = ta ? A[(size_t)q * lda + i] : A[(size_t)i * lda + q];
                                double b = tb ? B[(size_t)j * ldb + q] : B[(size_t)q * ldb + j];
                                mag += fabs(alpha * a * b);
                            }
                            mag += fabs(beta * C[(size_t)i * ldc + j]);
                        }
                        tol[(size_t)i * ldc + j] = 1e-5 * mag; /* padding: exact */
                    }
                float *g = fetch(p.gpu, tC.g, sizeof(float) * nc);
                float *c = fetch(p.cpu, tC.c, sizeof(float) * nc);
                char what[128];
                snprintf(what, sizeof what, "gemm ta=%d tb=%d m=%d n=%d k=%d beta=%g", ta, tb, m, n,
                         k, beta);
                report(what, diff_floats(g, c, nc, tol, 0, 0), nc, g, c, "1e-5 sum|terms|");
                free(g), free(c), free(tol), free(A), free(B), free(C);
                twin_free(&p, &tA), twin_free(&p, &tB), twin_free(&p, &tC);
            }
    pair_close(&p);
}
END_TEST

/* linear_act, a forward layer: cuBLASLt with the bias (and ReLU) in its
 * epilogue where it applies, gemm + bias_act otherwise (the tanh head, a
 * bias not aligned to 16 bytes); against the CPU's gemm + bias_act. */
START_TEST(test_linear_act) {
    Pair p;
    if (!pair_open(&p, "linear_act")) return;
    static const int shapes[][3] = {/* rows, in, out */
                                    {1, 3, 1}, {65, 4, 256}, {257, 256, 256}, {4099, 65, 1},
                                    {128, 256, 257}, {33, 256, 3}};
    ActionBounds ab = {3, {-2.0f, -1.0f, 0.0f}, {2.0f, 3.0f, 0.5f}};
    seed_host_rng(31);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int act = 0; act < 3; act++)
            for (int shift = 0; shift < 2; shift++) {
                int rows = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
                if (act == ACT_TANH_SCALE && out > 3) continue;
                float *x = host_floats((size_t)rows * in, -1, 1);
                float *w = host_floats((size_t)out * in, -0.5f, 0.5f);
                float *b = host_floats((size_t)out + 1, -0.5f, 0.5f);
                Twin tx = twin(&p, x, sizeof(float) * rows * in);
                Twin tw = twin(&p, w, sizeof(float) * out * in);
                Twin tb = twin(&p, b, sizeof(float) * (out + 1));
                Twin ty = twin(&p, NULL, sizeof(float) * rows * out);
                /* shift: the bias one float past the (aligned) start */
                p.gpu->linear_act(p.gpu, ty.g, tx.g, tw.g, (float *)tb.g + shift, rows, in, out,
                                  (Activation)act, &ab, NULL);
                p.cpu->linear_act(p.cpu, ty.c, tx.c, tw.c, (float *)tb.c + shift, rows, in, out,
                                  (Activation)act, &ab, NULL);
                size_t n = (size_t)rows * out;
                double *tol = malloc(sizeof(double) * n);
                ck_assert_ptr_nonnull(tol);
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < out; j++) {
                        double mag = fabs(b[j + shift]);
                        for (int q = 0; q < in; q++)
                            mag += fabs((double)x[(size_t)i * in + q] * w[(size_t)j * in + q]);
                        tol[(size_t)i * out + j] = 2e-5 * mag; /* tanh head: slope up to 2 */
                    }
                float *g = fetch(p.gpu, ty.g, sizeof(float) * n);
                float *c = fetch(p.cpu, ty.c, sizeof(float) * n);
                char what[128];
                snprintf(what, sizeof what, "linear_act act=%d rows=%d in=%d out=%d bias+%d", act,
                         rows, in, out, shift);
                report(what, diff_floats(g, c, n, tol, 0, 0), n, g, c, "2e-5 sum|terms|");
                free(g), free(c), free(tol), free(x), free(w), free(b);
                twin_free(&p, &tx), twin_free(&p, &tw), twin_free(&p, &tb), twin_free(&p, &ty);
            }
    pair_close(&p);
}
END_TEST

START_TEST(test_bias_act) {
    Pair p;
    if (!pair_open(&p, "bias_act")) return;
    seed_host_rng(2);
    static const int cols_plain[] = {1, 65, 257}, cols_tanh[] = {1, 3, 8};
    for (int act = ACT_NONE; act <= ACT_TANH_SCALE; act++)
        for (int r = 0; r < N_SIZES; r++)
            for (int ci = 0; ci < 3; ci++) {
                int rows = SIZES[r], cols = act == ACT_TANH_SCALE ? cols_tanh[ci] : cols_plain[ci];
                size_t n = (size_t)rows * cols;
                ActionBounds ab = test_bounds(act == ACT_TANH_SCALE ? cols : 0);
                float *y = host_floats(n, -3, 3), *b = host_floats((size_t)cols, -1, 1);
                Twin ty = twin(&p, y, sizeof(float) * n), tb = twin(&p, b, sizeof(float) * cols);
                p.gpu->bias_act(p.gpu, ty.g, tb.g, rows, cols, (Activation)act, &ab);
                p.cpu->bias_act(p.cpu, ty.c, tb.c, rows, cols, (Activation)act, &ab);
                char what[128];
                snprintf(what, sizeof what, "bias_act act=%d rows=%d cols=%d", act, rows, cols);
                expect_twin_close(&p, what, ty.g, ty.c, n, 1e-6, 1e-6);
                free(y), free(b);
                twin_free(&p, &ty), twin_free(&p, &tb);
            }
    pair_close(&p);
}
END_TEST

/* x(n) (rows of cols) made into what an activation outputs: ReLU with exact
 * zeros, tanh_scale inside its bounds (per column), unchanged for ACT_NONE. */
static void as_activation_outputs(float *x, size_t n, int cols, Activation act,
                                  const ActionBounds *ab) {
    for (size_t i = 0; i < n; i++) {
        int j = (int)(i % (size_t)cols);
        if (act == ACT_RELU) x[i] = relu_elem(x[i]);
        if (act == ACT_TANH_SCALE)
            x[i] = tanh_scale_elem(x[i], 0.5f * (ab->high[j] - ab->low[j]),
                                   0.5f * (ab->high[j] + ab->low[j]));
    }
}

/* y is a genuine activation output (ReLU with exact zeros, tanh_scale inside
 * its bounds); ACT_NONE must leave dy unchanged on both. */
START_TEST(test_act_grad) {
    Pair p;
    if (!pair_open(&p, "act_grad")) return;
    seed_host_rng(3);
    for (int act = ACT_NONE; act <= ACT_TANH_SCALE; act++)
        for (int r = 0; r < N_SIZES; r++) {
            int rows = SIZES[r], cols = act == ACT_TANH_SCALE ? 3 : 65;
            size_t n = (size_t)rows * cols;
            ActionBounds ab = test_bounds(3);
            float *dy = host_floats(n, -1, 1), *y = host_floats(n, -3, 3);
            as_activation_outputs(y, n, cols, (Activation)act, &ab);
            Twin tdy = twin(&p, dy, sizeof(float) * n), ty = twin(&p, y, sizeof(float) * n);
            p.gpu->act_grad(p.gpu, tdy.g, ty.g, rows, cols, (Activation)act, &ab, NULL);
            p.cpu->act_grad(p.cpu, tdy.c, ty.c, rows, cols, (Activation)act, &ab, NULL);
            char what[128];
            snprintf(what, sizeof what, "act_grad act=%d rows=%d cols=%d", act, rows, cols);
            expect_twin_close(&p, what, tdy.g, tdy.c, n, 1e-6, 1e-5);
            if (act == ACT_NONE) {
                float *g = fetch(p.gpu, tdy.g, sizeof(float) * n);
                ck_assert_msg(memcmp(g, dy, sizeof(float) * n) == 0, "ACT_NONE changed dy");
                free(g);
            }
            free(dy), free(y);
            twin_free(&p, &tdy), twin_free(&p, &ty);
        }
    pair_close(&p);
}
END_TEST

START_TEST(test_outer_act_grad) {
    Pair p;
    if (!pair_open(&p, "outer_act_grad")) return;
    seed_host_rng(15);
    for (int act = ACT_NONE; act <= ACT_TANH_SCALE; act++)
        for (int r = 0; r < N_SIZES; r++) {
            int rows = SIZES[r], cols = act == ACT_TANH_SCALE ? 3 : 257;
            size_t n = (size_t)rows * cols;
            ActionBounds ab = test_bounds(3);
            float *dy = host_floats((size_t)rows, -1, 1), *w = host_floats((size_t)cols, -1, 1);
            float *y = host_floats(n, -3, 3);
            as_activation_outputs(y, n, cols, (Activation)act, &ab);
            Twin tdy = twin(&p, dy, sizeof(float) * rows), tw = twin(&p, w, sizeof(float) * cols);
            Twin ty = twin(&p, y, sizeof(float) * n), tz = twin(&p, NULL, sizeof(float) * n);
            p.gpu->outer_act_grad(p.gpu, tz.g, tdy.g, tw.g, ty.g, rows, cols, (Activation)act,
                                  &ab, NULL);
            p.cpu->outer_act_grad(p.cpu, tz.c, tdy.c, tw.c, ty.c, rows, cols, (Activation)act,
                                  &ab, NULL);
            char what[128];
            snprintf(what, sizeof what, "outer_act_grad act=%d rows=%d cols=%d", act, rows, cols);
            expect_twin_close(&p, what, tz.g, tz.c, n, 1e-6, 1e-5);
            free(dy), free(w), free(y);
            twin_free(&p, &tdy), twin_free(&p, &tw), twin_free(&p, &ty), twin_free(&p, &tz);
        }
    pair_close(&p);
}
END_TEST

/* Bound: 1e-5 of the column's sum of |dy| (float sums in different orders). */
START_TEST(test_col_sum) {
    Pair p;
    if (!pair_open(&p, "col_sum")) return;
    seed_host_rng(4);
    static const int cols_list[] = {1, 65, 257};
    for (int r = 0; r < N_SIZES; r++)
        for (int ci = 0; ci < 3; ci++) {
            int rows = SIZES[r], cols = cols_list[ci];
            size_t n = (size_t)rows * cols;
            float *dy = host_floats(n, -1, 1);
            Twin tdy = twin(&p, dy, sizeof(float) * n), tdb = twin(&p, NULL, sizeof(float) * cols);
            p.gpu->col_sum(p.gpu, tdb.g, tdy.g, rows, cols);
            p.cpu->col_sum(p.cpu, tdb.c, tdy.c, rows, cols);
            double *tol = calloc((size_t)cols, sizeof(double));
            ck_assert_ptr_nonnull(tol);
            for (size_t i = 0; i < n; i++) tol[i % (size_t)cols] += 1e-5 * fabs(dy[i]);
            float *g = fetch(p.gpu, tdb.g, sizeof(float) * cols);
            float *c = fetch(p.cpu, tdb.c, sizeof(float) * cols);
            char what[128];
            snprintf(what, sizeof what, "col_sum rows=%d cols=%d", rows, cols);
            report(what, diff_floats(g, c, (size_t)cols, tol, 0, 0), (size_t)cols, g, c,
                   "1e-5 sum|dy|");
            free(g), free(c), free(tol), free(dy);
            twin_free(&p, &tdy), twin_free(&p, &tdb);
        }
    pair_close(&p);
}
END_TEST

START_TEST(test_concat_slice) {
    Pair p;
    if (!pair_open(&p, "concat_slice")) return;
    seed_host_rng(5);
    static const int widths[][2] = {{3, 1}, {1, 65}, {257, 2}};
    for (int r = 0; r < N_SIZES; r++)
        for (int w = 0; w < 3; w++) {
            int rows = SIZES[r], ca = widths[w][0], cb = widths[w][1], cw = ca + cb;
            float *a = host_floats((size_t)rows * ca, -1, 1),
                  *b = host_floats((size_t)rows * cb, -1, 1);
            Twin ta = twin(&p, a, sizeof(float) * rows * ca),
                 tb = twin(&p, b, sizeof(float) * rows * cb);
            Twin to = twin(&p, NULL, sizeof(float) * rows * cw);
            Twin ts = twin(&p, NULL, sizeof(float) * rows * cb);
            p.gpu->concat_cols(p.gpu, to.g, ta.g, ca, tb.g, cb, rows);
            p.cpu->concat_cols(p.cpu, to.c, ta.c, ca, tb.c, cb, rows);
            p.gpu->slice_cols(p.gpu, ts.g, to.g, rows, cw, ca, cb);
            p.cpu->slice_cols(p.cpu, ts.c, to.c, rows, cw, ca, cb);
            char what[128];
            snprintf(what, sizeof what, "concat_cols rows=%d ca=%d cb=%d", rows, ca, cb);
            expect_twin_equal(&p, what, to.g, to.c, to.bytes);
            snprintf(what, sizeof what, "slice_cols rows=%d cin=%d c0=%d cout=%d", rows, cw, ca,
                     cb);
            expect_twin_equal(&p, what, ts.g, ts.c, ts.bytes);
            /* the slice of the concat is b itself */
            float *s = fetch(p.gpu, ts.g, ts.bytes);
            ck_assert_msg(memcmp(s, b, ts.bytes) == 0, "slice(concat(a, b)) != b");
            free(s), free(a), free(b);
            twin_free(&p, &ta), twin_free(&p, &tb), twin_free(&p, &to), twin_free(&p, &ts);
        }
    pair_close(&p);
}
END_TEST

START_TEST(test_fill) {
    Pair p;
    if (!pair_open(&p, "fill")) return;
    static const size_t ns[] = {1, 65, 4099, (1u << 20) + 3};
    for (int i = 0; i < 4; i++) {
        Twin t = twin(&p, NULL, sizeof(float) * ns[i]);
        p.gpu->fill(p.gpu, t.g, -0.375f, ns[i]);
        p.cpu->fill(p.cpu, t.c, -0.375f, ns[i]);
        char what[128];
        snprintf(what, sizeof what, "fill n=%zu", ns[i]);
        expect_twin_equal(&p, what, t.g, t.c, t.bytes);
        twin_free(&p, &t);
    }
    pair_close(&p);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* DDPG pieces                                                               */

START_TEST(test_td_target_mse_grad) {
    Pair p;
    if (!pair_open(&p, "td_target_mse_grad")) return;
    seed_host_rng(6);
    for (int s = 0; s < N_SIZES; s++) {
        int n = SIZES[s];
        float *r = host_floats(n, -16, 0), *qn = host_floats(n, -50, 5),
              *q = host_floats(n, -50, 5);
        float *term = host_floats(n, 0, 1);
        for (int i = 0; i < n; i++) term[i] = term[i] < 0.3f ? 1.0f : 0.0f;
        size_t b = sizeof(float) * n;
        Twin tr = twin(&p, r, b), tt = twin(&p, term, b), tqn = twin(&p, qn, b),
             tq = twin(&p, q, b);
        Twin ty = twin(&p, NULL, b), tdq = twin(&p, NULL, b);
        p.gpu->td_target(p.gpu, ty.g, tr.g, tt.g, tqn.g, n, 0.99f);
        p.cpu->td_target(p.cpu, ty.c, tr.c, tt.c, tqn.c, n, 0.99f);
        p.gpu->mse_grad(p.gpu, tdq.g, tq.g, ty.g, n);
        p.cpu->mse_grad(p.cpu, tdq.c, tq.c, ty.c, n);
        char what[128];
        snprintf(what, sizeof what, "td_target n=%d", n);
        expect_twin_close(&p, what, ty.g, ty.c, n, 1e-5, 1e-6);
        snprintf(what, sizeof what, "mse_grad n=%d", n);
        expect_twin_close(&p, what, tdq.g, tdq.c, n, 1e-6, 1e-5);
        free(r), free(qn), free(q), free(term);
        twin_free(&p, &tr), twin_free(&p, &tt), twin_free(&p, &tqn), twin_free(&p, &tq);
        twin_free(&p, &ty), twin_free(&p, &tdq);
    }
    pair_close(&p);
}
END_TEST

/* The accumulators start non-zero and are hit twice: they must add, not set. */
START_TEST(test_mse_mean_acc) {
    Pair p;
    if (!pair_open(&p, "mse_mean_acc")) return;
    seed_host_rng(7);
    for (int s = 0; s < N_SIZES; s++) {
        int n = SIZES[s];
        float *q = host_floats(n, -10, 10), *y = host_floats(n, -10, 10);
        float acc0[2] = {0.25f, -1.5f};
        Twin tq = twin(&p, q, sizeof(float) * n), ty = twin(&p, y, sizeof(float) * n);
        Twin tacc = twin(&p, acc0, sizeof acc0);
        for (int rep = 0; rep < 2; rep++) {
            p.gpu->mse_acc(p.gpu, (float *)tacc.g, tq.g, ty.g, n);
            p.cpu->mse_acc(p.cpu, (float *)tacc.c, tq.c, ty.c, n);
            p.gpu->mean_acc(p.gpu, (float *)tacc.g + 1, tq.g, n, -0.5f);
            p.cpu->mean_acc(p.cpu, (float *)tacc.c + 1, tq.c, n, -0.5f);
        }
        char what[128];
        snprintf(what, sizeof what, "mse_acc,mean_acc n=%d", n);
        expect_twin_close(&p, what, tacc.g, tacc.c, 2, 1e-6, 1e-6);
        float *c = fetch(p.cpu, tacc.c, sizeof acc0);
        ck_assert_msg(c[0] > acc0[0], "mse_acc did not accumulate");
        free(c), free(q), free(y);
        twin_free(&p, &tq), twin_free(&p, &ty), twin_free(&p, &tacc);
    }
    pair_close(&p);
}
END_TEST

/* No clip (max_norm 0 and huge), clip (half the norm), with and without the
 * norm accumulator; sizes up to several reduction blocks. */
START_TEST(test_clip_grad_norm) {
    Pair p;
    if (!pair_open(&p, "clip_grad_norm")) return;
    seed_host_rng(8);
    static const size_t ns[] = {1, 65, 4099, 300007};
    for (int s = 0; s < 4; s++)
        for (int mode = 0; mode < 4; mode++) {
            size_t n = ns[s];
            float *g = host_floats(n, -1, 1);
            double ss = 0.0;
            for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
            float max_norms[4] = {0.0f, 1e9f, 0.5f * (float)sqrt(ss), 0.25f * (float)sqrt(ss)};
            float acc0 = 3.0f;
            Twin tg = twin(&p, g, sizeof(float) * n), tacc = twin(&p, &acc0, sizeof acc0);
            int with_acc = mode != 3;
            p.gpu->clip_grad_norm(p.gpu, tg.g, n, max_norms[mode], with_acc ? tacc.g : NULL);
            p.cpu->clip_grad_norm(p.cpu, tg.c, n, max_norms[mode], with_acc ? tacc.c : NULL);
            char what[128];
            snprintf(what, sizeof what, "clip_grad_norm n=%zu max_norm=%g g", n, max_norms[mode]);
            expect_twin_close(&p, what, tg.g, tg.c, n, 1e-7, 1e-6);
            snprintf(what, sizeof what, "clip_grad_norm n=%zu max_norm=%g norm_acc", n,
                     max_norms[mode]);
            expect_twin_close(&p, what, tacc.g, tacc.c, 1, 0, 1e-6);
            float *acc = fetch(p.gpu, tacc.g, sizeof(float));
            if (with_acc)
                ck_assert_float_eq_tol(*acc, acc0 + (float)sqrt(ss), 1e-5f * (3 + sqrt(ss)));
            else
                ck_assert_float_eq(*acc, acc0);
            free(acc), free(g);
            twin_free(&p, &tg), twin_free(&p, &tacc);
        }
    pair_close(&p);
}
END_TEST

/* Five steps with fresh gradients on two buffers with their own step
 * counters: p, m, v agree and each step counter reads 5. */
START_TEST(test_adam) {
    Pair p;
    if (!pair_open(&p, "adam")) return;
    seed_host_rng(9);
    static const size_t ns[] = {4099, 65};
    Twin tp[2], tg[2], tm[2], tv[2];
    for (int b = 0; b < 2; b++) {
        float *x = host_floats(ns[b], -1, 1);
        tp[b] = twin(&p, x, sizeof(float) * ns[b]);
        tg[b] = twin(&p, NULL, sizeof(float) * ns[b]);
        tm[b] = twin(&p, NULL, sizeof(float) * ns[b]);
        tv[b] = twin(&p, NULL, sizeof(float) * ns[b]);
        free(x);
    }
    Twin tstep = twin(&p, NULL, 2 * sizeof(int64_t));
    AdamHyper h = {1e-3f, 0.9f, 0.999f, 1e-8f};
    for (int step = 0; step < 5; step++)
        for (int b = 0; b < 2; b++) {
            float *g = host_floats(ns[b], -0.1f, 0.1f);
            g[0] = 0.0f; /* a zero gradient too */
            twin_set(&p, &tg[b], g);
            p.gpu->adam(p.gpu, tp[b].g, tg[b].g, tm[b].g, tv[b].g, ns[b], h,
                        (int64_t *)tstep.g + b);
            p.cpu->adam(p.cpu, tp[b].c, tg[b].c, tm[b].c, tv[b].c, ns[b], h,
                        (int64_t *)tstep.c + b);
            free(g);
        }
    for (int b = 0; b < 2; b++) {
        char what[128];
        snprintf(what, sizeof what, "adam n=%zu p", ns[b]);
        expect_twin_close(&p, what, tp[b].g, tp[b].c, ns[b], 1e-6, 1e-5);
        snprintf(what, sizeof what, "adam n=%zu m", ns[b]);
        expect_twin_close(&p, what, tm[b].g, tm[b].c, ns[b], 1e-7, 1e-5);
        snprintf(what, sizeof what, "adam n=%zu v", ns[b]);
        expect_twin_close(&p, what, tv[b].g, tv[b].c, ns[b], 1e-9, 1e-5);
        ck_assert_int_eq(fetch_i64(p.gpu, (int64_t *)tstep.g + b), 5);
        ck_assert_int_eq(fetch_i64(p.cpu, (int64_t *)tstep.c + b), 5);
        twin_free(&p, &tp[b]), twin_free(&p, &tg[b]), twin_free(&p, &tm[b]), twin_free(&p, &tv[b]);
    }
    twin_free(&p, &tstep);
    pair_close(&p);
}
END_TEST

START_TEST(test_polyak) {
    Pair p;
    if (!pair_open(&p, "polyak")) return;
    seed_host_rng(10);
    for (int s = 0; s < N_SIZES; s++) {
        size_t n = (size_t)SIZES[s];
        float *t = host_floats(n, -1, 1), *src = host_floats(n, -1, 1);
        Twin tt = twin(&p, t, sizeof(float) * n), ts = twin(&p, src, sizeof(float) * n);
        for (int rep = 0; rep < 3; rep++) {
            p.gpu->polyak(p.gpu, tt.g, ts.g, n, 0.005f);
            p.cpu->polyak(p.cpu, tt.c, ts.c, n, 0.005f);
        }
        char what[128];
        snprintf(what, sizeof what, "polyak n=%zu", n);
        expect_twin_close(&p, what, tt.g, tt.c, n, 1e-6, 1e-6);
        free(t), free(src);
        twin_free(&p, &tt), twin_free(&p, &ts);
    }
    pair_close(&p);
}
END_TEST

/* The fused optimizer step: four steps with fresh gradients, clipping active
 * (the norm is 4x the limit), with the soft update; p, m, v, the target, the
 * norm accumulator and the step counter agree. */
/* optim_step at odd sizes, with the norm read from g and with it given as
 * sums of squares of three parts of g (Backend.sumsq's use). */
START_TEST(test_optim_step) {
    Pair p;
    if (!pair_open(&p, "optim_step")) return;
    seed_host_rng(14);
    for (int s = 0; s < 2 * N_SIZES; s++) {
        size_t n = (size_t)SIZES[s % N_SIZES];
        int with_parts = s >= N_SIZES;
        float *x = host_floats(n, -1, 1), *t = host_floats(n, -1, 1);
        Twin tp = twin(&p, x, sizeof(float) * n), tt = twin(&p, t, sizeof(float) * n);
        Twin tg = twin(&p, NULL, sizeof(float) * n), tm = twin(&p, NULL, sizeof(float) * n);
        Twin tv = twin(&p, NULL, sizeof(float) * n), tacc = twin(&p, NULL, sizeof(float));
        Twin tstep = twin(&p, NULL, sizeof(int64_t)), tparts = twin(&p, NULL, 3 * sizeof(double));
        AdamHyper h = {1e-3f, 0.9f, 0.999f, 1e-8f};
        for (int step = 0; step < 4; step++) {
            float *g = host_floats(n, -0.1f, 0.1f);
            double ss = 0.0, parts[3] = {0, 0, 0};
            for (size_t i = 0; i < n; i++) {
                ss += (double)g[i] * g[i];
                parts[i < n / 3 ? 0 : i < n / 2 ? 1 : 2] += (double)g[i] * g[i];
            }
            float max_norm = 0.25f * (float)sqrt(ss);
            twin_set(&p, &tg, g);
            twin_set(&p, &tparts, parts);
            const double *pg = with_parts ? tparts.g : NULL, *pc = with_parts ? tparts.c : NULL;
            p.gpu->optim_step(p.gpu, tp.g, tg.g, tm.g, tv.g, n, max_norm, tacc.g, h,
                              tstep.g, tt.g, 0.01f, pg, 3);
            p.cpu->optim_step(p.cpu, tp.c, tg.c, tm.c, tv.c, n, max_norm, tacc.c, h,
                              tstep.c, tt.c, 0.01f, pc, 3);
            free(g);
        }
        char what[128];
        const char *how = with_parts ? " (norm from parts)" : "";
        snprintf(what, sizeof what, "optim_step n=%zu%s p", n, how);
        expect_twin_close(&p, what, tp.g, tp.c, n, 1e-6, 1e-5);
        snprintf(what, sizeof what, "optim_step n=%zu%s m", n, how);
        expect_twin_close(&p, what, tm.g, tm.c, n, 1e-7, 1e-5);
        snprintf(what, sizeof what, "optim_step n=%zu%s v", n, how);
        expect_twin_close(&p, what, tv.g, tv.c, n, 1e-9, 1e-5);
        snprintf(what, sizeof what, "optim_step n=%zu%s target", n, how);
        expect_twin_close(&p, what, tt.g, tt.c, n, 1e-6, 1e-5);
        snprintf(what, sizeof what, "optim_step n=%zu%s norm_acc", n, how);
        expect_twin_close(&p, what, tacc.g, tacc.c, 1, 0, 1e-6);
        ck_assert_int_eq(fetch_i64(p.gpu, tstep.g), 4);
        ck_assert_int_eq(fetch_i64(p.cpu, tstep.c), 4);
        free(x), free(t);
        twin_free(&p, &tp), twin_free(&p, &tt), twin_free(&p, &tg), twin_free(&p, &tm);
        twin_free(&p, &tv), twin_free(&p, &tacc), twin_free(&p, &tstep), twin_free(&p, &tparts);
    }
    pair_close(&p);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Randomness                                                                */

/* Mean and std of column d of x(n, dim). */
static void col_stats(const float *x, int n, int dim, int d, double *mean, double *std) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += x[(size_t)i * dim + d];
    *mean = s / n;
    for (int i = 0; i < n; i++) {
        double e = x[(size_t)i * dim + d] - *mean;
        s2 += e * e;
    }
    *std = sqrt(s2 / (n > 1 ? n - 1 : 1));
}

/* Same draws as the CPU, inside [low, high], U(low, high) statistics, a fresh
 * draw on the second call and the counter advanced once per call. */
START_TEST(test_uniform_actions) {
    Pair p;
    if (!pair_open(&p, "uniform_actions")) return;
    for (int dim = 1; dim <= 3; dim += 2)
        for (int s = 0; s < N_SIZES; s++) {
            int n = SIZES[s];
            ActionBounds ab = test_bounds(dim);
            size_t total = (size_t)n * dim;
            Twin ta = twin(&p, NULL, sizeof(float) * total),
                 tctr = twin(&p, NULL, sizeof(uint64_t));
            p.gpu->uniform_actions(p.gpu, ta.g, n, ab, 1234, tctr.g);
            p.cpu->uniform_actions(p.cpu, ta.c, n, ab, 1234, tctr.c);
            char what[128];
            snprintf(what, sizeof what, "uniform_actions n=%d dim=%d", n, dim);
            expect_twin_close(&p, what, ta.g, ta.c, total, 1e-6, 1e-6);
            float *a1 = fetch(p.gpu, ta.g, sizeof(float) * total);
            p.gpu->uniform_actions(p.gpu, ta.g, n, ab, 1234, tctr.g);
            p.cpu->uniform_actions(p.cpu, ta.c, n, ab, 1234, tctr.c);
            expect_twin_close(&p, what, ta.g, ta.c, total, 1e-6, 1e-6);
            float *a2 = fetch(p.gpu, ta.g, sizeof(float) * total);
            ck_assert_int_eq(fetch_i64(p.gpu, tctr.g), 2);
            ck_assert_msg(memcmp(a1, a2, sizeof(float) * total) != 0,
                          "second call repeated the first");
            for (size_t k = 0; k < total; k++) {
                int d = (int)(k % (size_t)dim);
                ck_assert_msg(a2[k] >= ab.low[d] && a2[k] <= ab.high[d],
                              "action %g outside [%g, %g]", a2[k], ab.low[d], ab.high[d]);
            }
            if (n >= 4099)
                for (int d = 0; d < dim; d++) {
                    double mean, std, w = ab.high[d] - ab.low[d];
                    col_stats(a2, n, dim, d, &mean, &std);
                    double want_std = w / sqrt(12.0);
                    printf("gpu_parity/%s d=%d: mean %.4f (want %.4f) std %.4f (want %.4f)\n", what,
                           d, mean, 0.5 * (ab.low[d] + ab.high[d]), std, want_std);
                    ck_assert(fabs(mean - 0.5 * (ab.low[d] + ab.high[d])) < 5 * want_std / sqrt(n));
                    ck_assert(fabs(std / want_std - 1.0) < 0.1);
                }
            free(a1), free(a2);
            twin_free(&p, &ta), twin_free(&p, &tctr);
        }
    pair_close(&p);
}
END_TEST

/* Gaussian noise: CPU parity, N(0, sigma) statistics with wide bounds, the
 * bounds respected with narrow ones. */
START_TEST(test_add_noise_gaussian) {
    Pair p;
    if (!pair_open(&p, "add_noise_gaussian")) return;
    const int n = 4099, dim = 2;
    const float sigma = 0.3f, a0 = 0.1f;
    size_t total = (size_t)n * dim;
    float *a = malloc(sizeof(float) * total);
    ck_assert_ptr_nonnull(a);
    for (size_t k = 0; k < total; k++) a[k] = a0;
    for (int narrow = 0; narrow < 2; narrow++) {
        ActionBounds ab = test_bounds(dim);
        for (int d = 0; d < dim; d++) {
            ab.low[d] = narrow ? -0.2f : -100.0f;
            ab.high[d] = narrow ? 0.25f : 100.0f;
        }
        NoiseSpec ns = {NOISE_GAUSSIAN, sigma, 0.15f, 1e-2f, NULL};
        Twin ta = twin(&p, a, sizeof(float) * total), tctr = twin(&p, NULL, sizeof(uint64_t));
        p.gpu->add_noise(p.gpu, ta.g, n, ab, ns, 99, tctr.g);
        p.cpu->add_noise(p.cpu, ta.c, n, ab, ns, 99, tctr.c);
        char what[128];
        snprintf(what, sizeof what, "add_noise gaussian n=%d dim=%d narrow=%d", n, dim, narrow);
        expect_twin_close(&p, what, ta.g, ta.c, total, 1e-5, 1e-5);
        ck_assert_int_eq(fetch_i64(p.gpu, tctr.g), 1);
        float *g = fetch(p.gpu, ta.g, sizeof(float) * total);
        int at_bound = 0;
        for (size_t k = 0; k < total; k++) {
            int d = (int)(k % (size_t)dim);
            ck_assert(g[k] >= ab.low[d] && g[k] <= ab.high[d]);
            at_bound += g[k] == ab.low[d] || g[k] == ab.high[d];
        }
        if (narrow) {
            ck_assert_msg(at_bound > 0, "narrow bounds never clipped");
        } else {
            for (int d = 0; d < dim; d++) {
                double mean, std;
                col_stats(g, n, dim, d, &mean, &std);
                printf("gpu_parity/%s d=%d: mean %.4f (want %.4f) std %.4f (want %.4f)\n", what, d,
                       mean, a0, std, sigma);
                ck_assert(fabs(mean - a0) < 5 * sigma / sqrt(n));
                ck_assert(fabs(std / sigma - 1.0) < 0.1);
            }
        }
        free(g);
        twin_free(&p, &ta), twin_free(&p, &tctr);
    }
    free(a);
    pair_close(&p);
}
END_TEST

/* OU noise: five steps of the process state and the actions agree. */
START_TEST(test_add_noise_ou) {
    Pair p;
    if (!pair_open(&p, "add_noise_ou")) return;
    seed_host_rng(11);
    for (int s = 0; s < N_SIZES; s++) {
        int n = SIZES[s];
        ActionBounds ab = test_bounds(1);
        float *a = host_floats((size_t)n, -1, 2);
        Twin ta = twin(&p, a, sizeof(float) * n), tx = twin(&p, NULL, sizeof(float) * n);
        Twin tctr = twin(&p, NULL, sizeof(uint64_t));
        for (int rep = 0; rep < 5; rep++) {
            NoiseSpec ng = {NOISE_OU, 0.2f, 0.15f, 1e-2f, tx.g}, nc = ng;
            nc.ou_state = tx.c;
            p.gpu->add_noise(p.gpu, ta.g, n, ab, ng, 7, tctr.g);
            p.cpu->add_noise(p.cpu, ta.c, n, ab, nc, 7, tctr.c);
        }
        char what[128];
        snprintf(what, sizeof what, "add_noise ou n=%d state", n);
        expect_twin_close(&p, what, tx.g, tx.c, n, 1e-6, 1e-5);
        snprintf(what, sizeof what, "add_noise ou n=%d actions", n);
        expect_twin_close(&p, what, ta.g, ta.c, n, 1e-6, 1e-5);
        ck_assert_int_eq(fetch_i64(p.gpu, tctr.g), 5);
        free(a);
        twin_free(&p, &ta), twin_free(&p, &tx), twin_free(&p, &tctr);
    }
    pair_close(&p);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Environments                                                              */

START_TEST(test_env_reset) {
    Pair p;
    if (!pair_open(&p, "env_reset")) return;
    const int n = 1025;
    VecEnv eg, ec;
    ck_assert_int_eq(env_create(&eg, p.gpu, n, 42, 16), 0);
    ck_assert_int_eq(env_create(&ec, p.cpu, n, 42, 16), 0);
    Twin obs = twin(&p, NULL, sizeof(float) * n * PENDULUM_OBS_DIM);
    for (int rep = 0; rep < 2; rep++) {
        p.gpu->env_reset(p.gpu, &eg, obs.g);
        p.cpu->env_reset(p.cpu, &ec, obs.c);
    }
    expect_twin_close(&p, "env_reset obs", obs.g, obs.c, (size_t)n * PENDULUM_OBS_DIM, 1e-6, 0);
    double *thg = fetch(p.gpu, eg.th, sizeof(double) * n),
           *thc = fetch(p.cpu, ec.th, sizeof(double) * n);
    double *wg = fetch(p.gpu, eg.thdot, sizeof(double) * n),
           *wc = fetch(p.cpu, ec.thdot, sizeof(double) * n);
    double dmax = 0;
    for (int i = 0; i < n; i++) {
        dmax = fmax(dmax, fmax(fabs(thg[i] - thc[i]), fabs(wg[i] - wc[i])));
        ck_assert(thg[i] >= -DDPG_PI && thg[i] <= DDPG_PI && wg[i] >= -1.0 && wg[i] <= 1.0);
    }
    printf("gpu_parity/env_reset th,thdot: n=%d max abs %.3g (tol 1e-12)\n", n, dmax);
    ck_assert(dmax <= 1e-12);
    expect_twin_equal(&p, "env_reset resets", eg.resets, ec.resets, sizeof(int64_t) * n);
    expect_twin_equal(&p, "env_reset t", eg.t, ec.t, sizeof(int32_t) * n);
    ck_assert_int_eq(fetch_i64(p.gpu, eg.resets + n - 1), 2);
    free(thg), free(thc), free(wg), free(wc);
    twin_free(&p, &obs);
    env_destroy(&eg, p.gpu);
    env_destroy(&ec, p.cpu);
    pair_close(&p);
}
END_TEST

typedef struct {
    int64_t step;
    int32_t env, len;
    float ret;
} Record;

static int record_cmp(const void *a, const void *b) {
    const Record *x = a, *y = b;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    return (x->env > y->env) - (x->env < y->env);
}

/* The finished-episode records of e, sorted by (step, env). */
static Record *fetch_records(Backend *be, const VecEnv *e, int64_t *count) {
    *count = fetch_i64(be, e->log.count);
    int64_t k = *count < e->log.capacity ? *count : e->log.capacity, cap = e->log.capacity;
    float *ret = fetch(be, e->log.ret, sizeof(float) * cap);
    int32_t *len = fetch(be, e->log.len, sizeof(int32_t) * cap);
    int32_t *env = fetch(be, e->log.env, sizeof(int32_t) * cap);
    int64_t *step = fetch(be, e->log.step, sizeof(int64_t) * cap);
    Record *r = malloc(sizeof(Record) * (k ? k : 1));
    ck_assert_ptr_nonnull(r);
    for (int64_t i = 0; i < k; i++) r[i] = (Record){step[i], env[i], len[i], ret[i]};
    qsort(r, (size_t)k, sizeof(Record), record_cmp);
    free(ret), free(len), free(env), free(step);
    return r;
}

/* 1000 steps of 1024 envs from identical states with identical actions
 * (some beyond the torque limit), staggered episode clocks so that envs
 * truncate and auto-reset on every step; resets draw the same numbers on both
 * backends, so everything is compared: observations, rewards, flags, the
 * after-reset observations, the state and the episode log. */
START_TEST(test_env_step) {
    Pair p;
    if (!pair_open(&p, "env_step")) return;
    const int n = 1024, steps = 1000, od = PENDULUM_OBS_DIM;
    seed_host_rng(12);
    VecEnv eg, ec;
    ck_assert_int_eq(env_create(&eg, p.gpu, n, 7, 8192), 0);
    ck_assert_int_eq(env_create(&ec, p.cpu, n, 7, 8192), 0);
    double *th = malloc(sizeof(double) * n), *w = malloc(sizeof(double) * n);
    int32_t *t = malloc(sizeof(int32_t) * n);
    ck_assert(th && w && t);
    for (int i = 0; i < n; i++) {
        th[i] = -DDPG_PI + 2 * DDPG_PI * urand();
        w[i] = -8.0 + 16.0 * urand();
        t[i] = i % PENDULUM_MAX_STEPS;
    }
    Backend *bes[2] = {p.gpu, p.cpu};
    VecEnv *es[2] = {&eg, &ec};
    for (int b = 0; b < 2; b++) {
        bes[b]->to_device(bes[b], es[b]->th, th, sizeof(double) * n);
        bes[b]->to_device(bes[b], es[b]->thdot, w, sizeof(double) * n);
        bes[b]->to_device(bes[b], es[b]->t, t, sizeof(int32_t) * n);
    }
    size_t ob = sizeof(float) * n * od, fb = sizeof(float) * n;
    Twin act = twin(&p, NULL, fb), next = twin(&p, NULL, ob), out = twin(&p, NULL, ob);
    Twin rew = twin(&p, NULL, fb), term = twin(&p, NULL, fb), trunc = twin(&p, NULL, fb);
    Diff dn = {0, 0, 0, 0}, dr = dn, dout = dn;
    int64_t truncs = 0;
    float *a = malloc(fb);
    ck_assert_ptr_nonnull(a);
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < n; i++) a[i] = frand(-2.5f, 2.5f);
        twin_set(&p, &act, a);
        p.gpu->env_step(p.gpu, &eg, act.g, next.g, rew.g, term.g, trunc.g, out.g);
        p.cpu->env_step(p.cpu, &ec, act.c, next.c, rew.c, term.c, trunc.c, out.c);
        float *ng = fetch(p.gpu, next.g, ob), *nc = fetch(p.cpu, next.c, ob);
        float *og = fetch(p.gpu, out.g, ob), *oc = fetch(p.cpu, out.c, ob);
        float *rg = fetch(p.gpu, rew.g, fb), *rc = fetch(p.cpu, rew.c, fb);
        float *tg = fetch(p.gpu, trunc.g, fb), *tc = fetch(p.cpu, trunc.c, fb);
        float *mg = fetch(p.gpu, term.g, fb);
        Diff d1 = diff_floats(ng, nc, (size_t)n * od, NULL, 1e-5, 0);
        Diff d2 = diff_floats(rg, rc, (size_t)n, NULL, 1e-4, 1e-5);
        Diff d3 = diff_floats(og, oc, (size_t)n * od, NULL, 1e-5, 0);
        ck_assert_msg(d1.bad == 0 && d2.bad == 0 && d3.bad == 0,
                      "env_step step %d: next_obs %zu, reward %zu, obs_out %zu values beyond "
                      "tolerance (max abs %.3g %.3g %.3g)",
                      s, d1.bad, d2.bad, d3.bad, d1.max_abs, d2.max_abs, d3.max_abs);
        ck_assert_msg(memcmp(tg, tc, fb) == 0, "env_step step %d: truncation flags differ", s);
        for (int i = 0; i < n; i++) {
            ck_assert(mg[i] == 0.0f);
            truncs += tg[i] != 0.0f;
        }
        dn.max_abs = fmax(dn.max_abs, d1.max_abs);
        dr.max_abs = fmax(dr.max_abs, d2.max_abs);
        dr.max_rel = fmax(dr.max_rel, d2.max_rel);
        dout.max_abs = fmax(dout.max_abs, d3.max_abs);
        free(ng), free(nc), free(og), free(oc), free(rg), free(rc), free(tg), free(tc), free(mg);
    }
    printf("gpu_parity/env_step %d envs x %d steps: next_obs max abs %.3g (tol 1e-5), reward "
           "max abs %.3g rel %.3g (tol 1e-4 + 1e-5|r|), obs_out max abs %.3g (tol 1e-5), %lld "
           "truncations\n",
           n, steps, dn.max_abs, dr.max_abs, dr.max_rel, dout.max_abs, (long long)truncs);
    fflush(stdout);
    ck_assert_int_eq(truncs, (int64_t)n * steps / PENDULUM_MAX_STEPS);
    expect_twin_equal(&p, "env_step t", eg.t, ec.t, sizeof(int32_t) * n);
    expect_twin_equal(&p, "env_step resets", eg.resets, ec.resets, sizeof(int64_t) * n);
    expect_twin_equal(&p, "env_step vstep", eg.vstep, ec.vstep, sizeof(int64_t));
    ck_assert_int_eq(fetch_i64(p.gpu, eg.vstep), steps);
    expect_twin_close(&p, "env_step ep_return", eg.ep_return, ec.ep_return, n, 1e-3, 1e-5);
    int64_t cg, cc;
    Record *rg = fetch_records(p.gpu, &eg, &cg), *rc = fetch_records(p.cpu, &ec, &cc);
    ck_assert_int_eq(cg, cc);
    ck_assert_int_eq(cg, truncs);
    double rmax = 0;
    for (int64_t i = 0; i < cg; i++) {
        ck_assert_int_eq(rg[i].step, rc[i].step);
        ck_assert_int_eq(rg[i].env, rc[i].env);
        ck_assert_int_eq(rg[i].len, rc[i].len);
        double d = fabs((double)rg[i].ret - rc[i].ret);
        rmax = fmax(rmax, d / fmax(1.0, fabs(rc[i].ret)));
    }
    printf("gpu_parity/env_step log: %lld records, return max rel %.3g (tol 1e-4)\n", (long long)cg,
           rmax);
    ck_assert(rmax <= 1e-4);
    free(rg), free(rc), free(a), free(th), free(w), free(t);
    twin_free(&p, &act), twin_free(&p, &next), twin_free(&p, &out);
    twin_free(&p, &rew), twin_free(&p, &term), twin_free(&p, &trunc);
    env_destroy(&eg, p.gpu);
    env_destroy(&ec, p.cpu);
    pair_close(&p);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Replay                                                                    */

static void replay_insert_twin(Pair *p, Replay *rg, Replay *rc, int n) {
    int od = rg->obs_dim, ad = rg->act_dim;
    float *o = host_floats((size_t)n * od, -1, 1), *a = host_floats((size_t)n * ad, -2, 2);
    float *r = host_floats((size_t)n, -16, 0), *no = host_floats((size_t)n * od, -1, 1);
    float *t = host_floats((size_t)n, 0, 1);
    for (int i = 0; i < n; i++) t[i] = t[i] < 0.5f ? 0.0f : 1.0f;
    Twin to = twin(p, o, sizeof(float) * n * od), ta = twin(p, a, sizeof(float) * n * ad);
    Twin tr = twin(p, r, sizeof(float) * n), tn = twin(p, no, sizeof(float) * n * od);
    Twin tt = twin(p, t, sizeof(float) * n);
    p->gpu->replay_insert(p->gpu, rg, to.g, ta.g, tr.g, tn.g, tt.g, n);
    p->cpu->replay_insert(p->cpu, rc, to.c, ta.c, tr.c, tn.c, tt.c, n);
    free(o), free(a), free(r), free(no), free(t);
    twin_free(p, &to), twin_free(p, &ta), twin_free(p, &tr), twin_free(p, &tn), twin_free(p, &tt);
}

static void expect_replay_equal(Pair *p, const Replay *rg, const Replay *rc, const char *when) {
    size_t c = (size_t)rg->capacity;
    char what[128];
    snprintf(what, sizeof what, "replay_insert %s meta", when);
    expect_twin_equal(p, what, rg->meta, rc->meta, 2 * sizeof(int64_t));
    snprintf(what, sizeof what, "replay_insert %s obs", when);
    expect_twin_equal(p, what, rg->obs, rc->obs, sizeof(float) * c * rg->obs_dim);
    snprintf(what, sizeof what, "replay_insert %s act", when);
    expect_twin_equal(p, what, rg->act, rc->act, sizeof(float) * c * rg->act_dim);
    snprintf(what, sizeof what, "replay_insert %s rew,term,next_obs", when);
    expect_twin_equal(p, what, rg->rew, rc->rew, sizeof(float) * c);
    expect_twin_equal(p, what, rg->term, rc->term, sizeof(float) * c);
    expect_twin_equal(p, what, rg->next_obs, rc->next_obs, sizeof(float) * c * rg->obs_dim);
}

/* Inserts that wrap the ring, one longer than the ring; the buffers and the
 * ring pointers must be identical to the CPU's after each. */
START_TEST(test_replay_insert) {
    Pair p;
    if (!pair_open(&p, "replay_insert")) return;
    seed_host_rng(13);
    Replay rg, rc;
    ck_assert_int_eq(replay_create(&rg, p.gpu, 300, 3, 2), 0);
    ck_assert_int_eq(replay_create(&rc, p.cpu, 300, 3, 2), 0);
    static const int chunks[] = {65, 257, 1, 700, 65};
    for (int i = 0; i < 5; i++) {
        replay_insert_twin(&p, &rg, &rc, chunks[i]);
        char when[48];
        snprintf(when, sizeof when, "after %d rows", chunks[i]);
        expect_replay_equal(&p, &rg, &rc, when);
    }
    int64_t meta[2];
    p.gpu->to_host(p.gpu, meta, rg.meta, sizeof meta);
    ck_assert_int_eq(meta[0], (65 + 257 + 1 + 700 + 65) % 300);
    ck_assert_int_eq(meta[1], 300);
    replay_destroy(&rg, p.gpu);
    replay_destroy(&rc, p.cpu);
    pair_close(&p);
}
END_TEST

/* pendulum_fill_random (staged on the host, inserted in chunks) into a ring
 * it wraps, smaller than its 4096-row chunk: the same bytes on both backends. */
START_TEST(test_replay_fill_random) {
    Pair p;
    if (!pair_open(&p, "replay_fill_random")) return;
    Replay rg, rc;
    ck_assert_int_eq(replay_create(&rg, p.gpu, 3001, 3, 1), 0);
    ck_assert_int_eq(replay_create(&rc, p.cpu, 3001, 3, 1), 0);
    ck_assert_int_eq(pendulum_fill_random(p.gpu, &rg, 10000, 3), 0);
    ck_assert_int_eq(pendulum_fill_random(p.cpu, &rc, 10000, 3), 0);
    expect_replay_equal(&p, &rg, &rc, "fill_random 10000 rows");
    replay_destroy(&rg, p.gpu);
    replay_destroy(&rc, p.cpu);
    pair_close(&p);
}
END_TEST

/* Sampling from a partly and a fully filled ring: the CPU's indices and rows;
 * indices inside the fill; each gathered row equal to the stored row at its
 * index; the mean index near the middle of the fill. */
START_TEST(test_replay_sample) {
    Pair p;
    if (!pair_open(&p, "replay_sample")) return;
    seed_host_rng(14);
    const int cap = 300, od = 3, ad = 2;
    Replay rg, rc;
    ck_assert_int_eq(replay_create(&rg, p.gpu, cap, od, ad), 0);
    ck_assert_int_eq(replay_create(&rc, p.cpu, cap, od, ad), 0);
    Twin ctr = twin(&p, NULL, sizeof(uint64_t));
    static const int fills[] = {65, 1000};
    for (int f = 0; f < 2; f++) {
        replay_insert_twin(&p, &rg, &rc, fills[f]);
        int64_t filled = fills[f] < cap ? fills[f] : cap;
        float *ro = fetch(p.gpu, rg.obs, sizeof(float) * cap * od);
        float *ra = fetch(p.gpu, rg.act, sizeof(float) * cap * ad);
        float *rr = fetch(p.gpu, rg.rew, sizeof(float) * cap);
        float *rn = fetch(p.gpu, rg.next_obs, sizeof(float) * cap * od);
        float *rt = fetch(p.gpu, rg.term, sizeof(float) * cap);
        double idx_sum = 0;
        int64_t draws = 0;
        for (int s = 0; s < 3; s++)
            for (int rep = 0; rep < 10; rep++) {
                int B = SIZES[s];
                Batch bg, bc;
                ck_assert_int_eq(batch_create(&bg, p.gpu, B, od, ad), 0);
                ck_assert_int_eq(batch_create(&bc, p.cpu, B, od, ad), 0);
                p.gpu->replay_sample(p.gpu, &rg, &bg, 5, ctr.g);
                p.cpu->replay_sample(p.cpu, &rc, &bc, 5, ctr.c);
                if (rep == 0) {
                    char what[128];
                    snprintf(what, sizeof what, "replay_sample fill=%lld B=%d idx",
                             (long long)filled, B);
                    expect_twin_equal(&p, what, bg.idx, bc.idx, sizeof(int64_t) * B);
                    snprintf(what, sizeof what, "replay_sample fill=%lld B=%d obs",
                             (long long)filled, B);
                    expect_twin_equal(&p, what, bg.obs, bc.obs, sizeof(float) * B * od);
                }
                int64_t *idx = fetch(p.gpu, bg.idx, sizeof(int64_t) * B);
                float *bo = fetch(p.gpu, bg.obs, sizeof(float) * B * od);
                float *ba = fetch(p.gpu, bg.act, sizeof(float) * B * ad);
                float *br = fetch(p.gpu, bg.rew, sizeof(float) * B);
                float *bn = fetch(p.gpu, bg.next_obs, sizeof(float) * B * od);
                float *bt = fetch(p.gpu, bg.term, sizeof(float) * B);
                for (int i = 0; i < B; i++) {
                    int64_t k = idx[i];
                    ck_assert_msg(k >= 0 && k < filled, "index %lld outside [0, %lld)",
                                  (long long)k, (long long)filled);
                    ck_assert(memcmp(bo + (size_t)i * od, ro + k * od, sizeof(float) * od) == 0);
                    ck_assert(memcmp(bn + (size_t)i * od, rn + k * od, sizeof(float) * od) == 0);
                    ck_assert(memcmp(ba + (size_t)i * ad, ra + k * ad, sizeof(float) * ad) == 0);
                    ck_assert(br[i] == rr[k] && bt[i] == rt[k]);
                    idx_sum += (double)k;
                    draws++;
                }
                free(idx), free(bo), free(ba), free(br), free(bn), free(bt);
                batch_destroy(&bg, p.gpu);
                batch_destroy(&bc, p.cpu);
            }
        double mean = idx_sum / draws, want = 0.5 * (filled - 1);
        double sd = sqrt(((double)filled * filled - 1) / 12.0) / sqrt((double)draws);
        printf(
            "gpu_parity/replay_sample fill=%lld: %lld draws, mean index %.2f (want %.2f +- %.2f)\n",
            (long long)filled, (long long)draws, mean, want, 5 * sd);
        ck_assert(fabs(mean - want) < 5 * sd);
        free(ro), free(ra), free(rr), free(rn), free(rt);
    }
    ck_assert_int_eq(fetch_i64(p.gpu, ctr.g), 2 * 3 * 10);
    twin_free(&p, &ctr);
    replay_destroy(&rg, p.gpu);
    replay_destroy(&rc, p.cpu);
    pair_close(&p);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Whole DDPG updates and a captured training iteration                      */

static const int PARITY_HIDDEN[] = {64, 64};

static DdpgParams parity_params(int batch) {
    DdpgParams prm;
    memset(&prm, 0, sizeof prm);
    prm.obs_dim = PENDULUM_OBS_DIM;
    prm.act_dim = PENDULUM_ACT_DIM;
    prm.hidden = PARITY_HIDDEN;
    prm.n_hidden = 2;
    prm.bounds.dim = 1;
    prm.bounds.low[0] = -2.0f;
    prm.bounds.high[0] = 2.0f;
    prm.batch_size = batch;
    prm.gamma = 0.99f;
    prm.tau = 0.005f;
    prm.grad_clip = 1.0f;
    prm.actor_lr = 1e-3f;
    prm.critic_lr = 1e-3f;
    prm.seed = 2024;
    return prm;
}

/* ||gpu - cpu||_2 <= rel ||cpu||_2 for n floats on both backends. Gradients
 * are compared this way: a ReLU whose input is within rounding of 0 may pass
 * one sample's gradient on one backend and not on the other, a legitimate
 * difference of up to ~1/batch in a few elements, while a wrong kernel is off
 * by O(1). With up_to_scale, each side is first divided by its own L2 norm:
 * after optim_step a backend may hold g clipped or unclipped (backend.h), a
 * positive factor apart, so only the direction is theirs to agree on (the
 * clipped size shows in Adam's first moment and the parameters). */
static void expect_twin_l2(Pair *p, const char *what, const float *gdev, const float *cdev,
                           size_t n, double rel, int up_to_scale) {
    float *g = fetch(p->gpu, gdev, sizeof(float) * n), *c = fetch(p->cpu, cdev, sizeof(float) * n);
    double gn = 0, cn = 0;
    for (size_t i = 0; i < n; i++) {
        gn += (double)g[i] * g[i];
        cn += (double)c[i] * c[i];
    }
    gn = sqrt(gn), cn = sqrt(cn);
    double sg = up_to_scale && gn > 0 ? 1 / gn : 1, sc = up_to_scale && cn > 0 ? 1 / cn : 1;
    double dd = 0, cc = 0, amax = 0;
    for (size_t i = 0; i < n; i++) {
        double d = g[i] * sg - c[i] * sc;
        dd += d * d;
        cc += c[i] * sc * (c[i] * sc);
        amax = fmax(amax, fabs(d));
    }
    double r = sqrt(dd) / fmax(sqrt(cc), 1e-30);
    printf("gpu_parity/%s: n=%zu relative L2 difference %.3g, max abs %.3g (tol %.0e L2)", what, n,
           cc > 0 ? r : sqrt(dd), amax, rel);
    if (up_to_scale) printf(" of the directions; norms gpu %.4g cpu %.4g", gn, cn);
    printf("\n");
    fflush(stdout);
    ck_assert_msg(cc > 0 ? r <= rel : dd == 0, "%s: relative L2 difference %.3g > %.0e", what, r,
                  rel);
    free(g), free(c);
}

/* Parameters within 1e-4 (a tenth of one Adam step), gradients and first
 * moments within 1e-2 in relative L2, the metrics, and the device counters. */
static void expect_agents_close(Pair *p, Ddpg *g, Ddpg *c, const char *what) {
    size_t na = g->actor_shape.n_params, nc = g->critic_shape.n_params;
    char w[128];
    enum { PARAMS, MOMENT, GRAD }; /* GRAD: clipped or not, up to scale (expect_twin_l2) */
    struct {
        const char *name;
        float *g, *c;
        size_t n;
        int kind;
    } bufs[] = {{"actor", g->actor, c->actor, na, PARAMS},
                {"actor_targ", g->actor_targ, c->actor_targ, na, PARAMS},
                {"critic", g->critic, c->critic, nc, PARAMS},
                {"critic_targ", g->critic_targ, c->critic_targ, nc, PARAMS},
                {"actor_grad", g->actor_grad, c->actor_grad, na, GRAD},
                {"critic_grad", g->critic_grad, c->critic_grad, nc, GRAD},
                {"actor_m", g->actor_m, c->actor_m, na, MOMENT},
                {"critic_m", g->critic_m, c->critic_m, nc, MOMENT}};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        snprintf(w, sizeof w, "%s %s", what, bufs[i].name);
        if (bufs[i].kind == PARAMS)
            expect_twin_close(p, w, bufs[i].g, bufs[i].c, bufs[i].n, 1e-4, 1e-4);
        else
            expect_twin_l2(p, w, bufs[i].g, bufs[i].c, bufs[i].n, 1e-2, bufs[i].kind == GRAD);
    }
    snprintf(w, sizeof w, "%s metrics", what);
    expect_twin_close(p, w, g->metrics, c->metrics, DDPG_N_METRICS, 1e-4, 1e-3);
    snprintf(w, sizeof w, "%s adam_step", what);
    expect_twin_equal(p, w, g->adam_step, c->adam_step, 2 * sizeof(int64_t));
    snprintf(w, sizeof w, "%s sample_ctr", what);
    expect_twin_equal(p, w, g->sample_ctr, c->sample_ctr, sizeof(uint64_t));
}

/* Three ddpg_update calls (sample, critic step, actor step, Polyak) from the
 * same replay contents and the same initial networks. */
START_TEST(test_ddpg_update) {
    Pair p;
    if (!pair_open(&p, "ddpg_update")) return;
    seed_host_rng(15);
    DdpgParams prm = parity_params(257);
    Replay rg, rc;
    ck_assert_int_eq(replay_create(&rg, p.gpu, 1000, prm.obs_dim, prm.act_dim), 0);
    ck_assert_int_eq(replay_create(&rc, p.cpu, 1000, prm.obs_dim, prm.act_dim), 0);
    replay_insert_twin(&p, &rg, &rc, 1000);
    Ddpg dg, dc;
    ck_assert_int_eq(ddpg_create(&dg, p.gpu, &prm), 0);
    ck_assert_int_eq(ddpg_create(&dc, p.cpu, &prm), 0);
    expect_agents_close(&p, &dg, &dc, "ddpg_update before");
    for (int u = 0; u < 3; u++) {
        ddpg_update(&dg, &rg);
        ddpg_update(&dc, &rc);
    }
    expect_twin_equal(&p, "ddpg_update batch idx", dg.batch.idx, dc.batch.idx,
                      sizeof(int64_t) * prm.batch_size);
    expect_agents_close(&p, &dg, &dc, "ddpg_update x3");
    int64_t steps[2];
    p.gpu->to_host(p.gpu, steps, dg.adam_step, sizeof steps);
    ck_assert_int_eq(steps[0], 3);
    ck_assert_int_eq(steps[1], 3);
    ddpg_destroy(&dg);
    ddpg_destroy(&dc);
    replay_destroy(&rg, p.gpu);
    replay_destroy(&rc, p.cpu);
    pair_close(&p);
}
END_TEST

/* One training iteration on a backend: random actions, env step, replay
 * insert, the next observation, one update. Only enqueues ops. */
typedef struct {
    Backend *be;
    VecEnv env;
    Replay replay;
    Ddpg agent;
    float *obs, *obs_next, *next_obs, *act, *rew, *term, *trunc; /* (n, .) device */
    uint64_t *ctr;                                               /* (1) device */
} Sim;

static void sim_create(Sim *s, Backend *be, int n, const DdpgParams *prm) {
    memset(s, 0, sizeof *s);
    s->be = be;
    ck_assert_int_eq(env_create(&s->env, be, n, 11, 4096), 0);
    ck_assert_int_eq(replay_create(&s->replay, be, 4096, prm->obs_dim, prm->act_dim), 0);
    ck_assert_int_eq(ddpg_create(&s->agent, be, prm), 0);
    size_t ob = sizeof(float) * n * PENDULUM_OBS_DIM, fb = sizeof(float) * n;
    float **bufs[] = {&s->obs, &s->obs_next, &s->next_obs};
    for (int i = 0; i < 3; i++) ck_assert_ptr_nonnull(*bufs[i] = be->alloc(be, ob));
    float **small[] = {&s->act, &s->rew, &s->term, &s->trunc};
    for (int i = 0; i < 4; i++) ck_assert_ptr_nonnull(*small[i] = be->alloc(be, fb));
    ck_assert_ptr_nonnull(s->ctr = be->alloc(be, sizeof(uint64_t)));
    be->env_reset(be, &s->env, s->obs);
}

static void sim_iteration(Sim *s) {
    Backend *be = s->be;
    int n = s->env.n;
    be->uniform_actions(be, s->act, n, s->agent.p.bounds, 3, s->ctr);
    be->env_step(be, &s->env, s->act, s->next_obs, s->rew, s->term, s->trunc, s->obs_next);
    be->replay_insert(be, &s->replay, s->obs, s->act, s->rew, s->next_obs, s->term, n);
    be->copy(be, s->obs, s->obs_next, sizeof(float) * n * PENDULUM_OBS_DIM);
    ddpg_update(&s->agent, &s->replay);
}

static void sim_destroy(Sim *s) {
    Backend *be = s->be;
    void *bufs[] = {s->obs, s->obs_next, s->next_obs, s->act, s->rew, s->term, s->trunc, s->ctr};
    for (int i = 0; i < 8; i++) be->free(be, bufs[i]);
    ddpg_destroy(&s->agent);
    replay_destroy(&s->replay, be);
    env_destroy(&s->env, be);
}

/* The iteration captured once as a CUDA Graph and replayed six times equals
 * six eager iterations on the CPU: every device counter (RNG, replay ring,
 * Adam steps, vectorized step) advances on each replay. */
START_TEST(test_graph_replay) {
    Pair p;
    if (!pair_open(&p, "graph_replay")) return;
    const int n = 64, reps = 6;
    DdpgParams prm = parity_params(65);
    Sim sg, sc;
    sim_create(&sg, p.gpu, n, &prm);
    sim_create(&sc, p.cpu, n, &prm);
    ck_assert_ptr_nonnull(p.gpu->capture_begin);
    ck_assert_int_eq(p.gpu->capture_begin(p.gpu), 0);
    sim_iteration(&sg);
    void *exec = NULL;
    ck_assert_int_eq(p.gpu->capture_end(p.gpu, &exec), 0);
    ck_assert_ptr_nonnull(exec);
    for (int r = 0; r < reps; r++) {
        p.gpu->graph_launch(p.gpu, exec);
        sim_iteration(&sc);
    }
    p.gpu->sync(p.gpu);
    size_t ob = (size_t)n * PENDULUM_OBS_DIM;
    expect_twin_close(&p, "graph_replay obs", sg.obs, sc.obs, ob, 1e-5, 0);
    expect_twin_close(&p, "graph_replay act", sg.act, sc.act, (size_t)n, 1e-6, 1e-6);
    expect_twin_equal(&p, "graph_replay rng ctr", sg.ctr, sc.ctr, sizeof(uint64_t));
    expect_twin_equal(&p, "graph_replay vstep", sg.env.vstep, sc.env.vstep, sizeof(int64_t));
    expect_twin_equal(&p, "graph_replay replay meta", sg.replay.meta, sc.replay.meta,
                      2 * sizeof(int64_t));
    expect_twin_close(&p, "graph_replay replay obs", sg.replay.obs, sc.replay.obs,
                      (size_t)4096 * PENDULUM_OBS_DIM, 1e-5, 0);
    ck_assert_int_eq(fetch_i64(p.gpu, sg.ctr), reps);
    ck_assert_int_eq(fetch_i64(p.gpu, sg.env.vstep), reps);
    ck_assert_int_eq(fetch_i64(p.gpu, sg.replay.meta + 1), (int64_t)n * reps);
    ck_assert_int_eq(fetch_i64(p.gpu, sg.agent.adam_step), reps);
    expect_agents_close(&p, &sg.agent, &sc.agent, "graph_replay");
    p.gpu->graph_destroy(p.gpu, exec);
    sim_destroy(&sg);
    sim_destroy(&sc);
    pair_close(&p);
}
END_TEST

/* Returns of the deterministic evaluation (captured once as a CUDA Graph on
 * the GPU, then replayed) against the CPU's, for the initial actor and again
 * after new actor weights are written in place: the replay must read the
 * networks as they are now and start from the same states each time. */
START_TEST(test_evaluate_graph) {
    Pair p;
    if (!pair_open(&p, "evaluate_graph")) return;
    seed_host_rng(21);
    Config c;
    config_defaults(&c);
    c.envs = 3;
    c.eval_episodes = 7;
    c.replay_size = 1000;
    c.probe_n = 0;
    c.quiet = 1;
    Trainer tg, tc;
    ck_assert_int_eq(trainer_create(&tg, &c, p.gpu, NULL, stderr), 0);
    ck_assert_int_eq(trainer_create(&tc, &c, p.cpu, NULL, stderr), 0);
    size_t na = tg.agent.actor_shape.n_params;
    float *w = malloc(sizeof(float) * na);
    ck_assert_ptr_nonnull(w);
    float rg[3][7], rc[2][7];
    for (int round = 0; round < 2; round++) {
        if (round == 1) { /* new weights, large enough to swing the pendulum */
            for (size_t i = 0; i < na; i++) w[i] = frand(-0.2f, 0.2f);
            p.gpu->to_device(p.gpu, tg.agent.actor, w, sizeof(float) * na);
            p.cpu->to_device(p.cpu, tc.agent.actor, w, sizeof(float) * na);
        }
        trainer_evaluate(&tg, rg[round]);
        trainer_evaluate(&tc, rc[round]);
        double worst = 0;
        for (int i = 0; i < 7; i++) {
            double d = fabs(rg[round][i] - rc[round][i]) / (1 + fabs(rc[round][i]));
            worst = fmax(worst, d);
        }
        printf("gpu_parity/evaluate_graph weights %d: returns %.2f .. %.2f, worst rel "
               "difference %.3g (tol 1e-3)\n", round, rc[round][0], rc[round][6], worst);
        fflush(stdout);
        ck_assert_msg(worst <= 1e-3, "evaluation %d: GPU returns differ from the CPU's by %.3g",
                      round, worst);
    }
    ck_assert_msg(tg.graph_eval != NULL, "the evaluation was not captured as a graph");
    int moved = 0;
    for (int i = 0; i < 7; i++) moved |= fabsf(rc[1][i] - rc[0][i]) > 1.0f;
    ck_assert_msg(moved, "new weights gave the same returns: the test cannot tell a stale replay");
    trainer_evaluate(&tg, rg[2]); /* once more: the same start states, the same returns */
    ck_assert_mem_eq(rg[2], rg[1], sizeof rg[1]);
    free(w);
    trainer_destroy(&tg);
    trainer_destroy(&tc);
    pair_close(&p);
}
END_TEST

/* ------------------------------------------------------------------------ */

static TCase *tcase(const char *name) {
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 300); /* context creation + 1000 env steps with readbacks */
    return tc;
}

Suite *gpu_parity_suite(void) {
    Suite *s = suite_create("gpu_parity");
    TCase *dense = tcase("dense");
    tcase_add_test(dense, test_gemm);
    tcase_add_test(dense, test_linear_act);
    tcase_add_test(dense, test_bias_act);
    tcase_add_test(dense, test_act_grad);
    tcase_add_test(dense, test_outer_act_grad);
    tcase_add_test(dense, test_col_sum);
    tcase_add_test(dense, test_concat_slice);
    tcase_add_test(dense, test_fill);
    suite_add_tcase(s, dense);
    TCase *pieces = tcase("ddpg_pieces");
    tcase_add_test(pieces, test_td_target_mse_grad);
    tcase_add_test(pieces, test_mse_mean_acc);
    tcase_add_test(pieces, test_clip_grad_norm);
    tcase_add_test(pieces, test_adam);
    tcase_add_test(pieces, test_optim_step);
    tcase_add_test(pieces, test_polyak);
    suite_add_tcase(s, pieces);
    TCase *rnd = tcase("random");
    tcase_add_test(rnd, test_uniform_actions);
    tcase_add_test(rnd, test_add_noise_gaussian);
    tcase_add_test(rnd, test_add_noise_ou);
    suite_add_tcase(s, rnd);
    TCase *env = tcase("env");
    tcase_add_test(env, test_env_reset);
    tcase_add_test(env, test_env_step);
    suite_add_tcase(s, env);
    TCase *rep = tcase("replay");
    tcase_add_test(rep, test_replay_insert);
    tcase_add_test(rep, test_replay_fill_random);
    tcase_add_test(rep, test_replay_sample);
    suite_add_tcase(s, rep);
    TCase *agent = tcase("agent");
    tcase_add_test(agent, test_ddpg_update);
    tcase_add_test(agent, test_graph_replay);
    tcase_add_test(agent, test_evaluate_graph);
    suite_add_tcase(s, agent);
    return s;
}
