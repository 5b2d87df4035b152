/* dense.c - parity of kernels/dense.cu: GEMM, a forward layer, the
 * activation's derivative, column sums, concat/slice and fill. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/elem.h"
#include "parity.h"

/* Fetches C(rows, cols) from both sides and compares each element with its
 * own bound tol[i] (which the caller computed from the terms of its sum). */
static void expect_bounded(Pair *p, const char *what, const Twin *t, size_t n, const double *tol,
                           const char *tol_text) {
    float *g = fetch(p->gpu, t->g, sizeof(float) * n);
    float *c = fetch(p->cpu, t->c, sizeof(float) * n);
    report(what, diff_floats(g, c, n, tol, 0, 0), n, g, c, tol_text);
    free(g), free(c);
}

/* Every transpose combination, odd shapes, padded leading dimensions, alpha
 * and beta; the bound per element is 1e-5 of sum_k |alpha a_ik b_kj| + |beta
 * c_ij| (FP32 accumulation in different orders). Padding must stay untouched. */
START_TEST(test_gemm) {
    Pair *p = parity_pair("gemm");
    if (!p) return;
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
                Twin tA = twin(p, A, sizeof(float) * ar * lda);
                Twin tB = twin(p, B, sizeof(float) * br * ldb);
                Twin tC = twin(p, C, sizeof(float) * m * ldc);
                p->gpu->gemm(p->gpu, ta, tb, m, n, k, alpha, tA.g, lda, tB.g, ldb, beta, tC.g, ldc);
                p->cpu->gemm(p->cpu, ta, tb, m, n, k, alpha, tA.c, lda, tB.c, ldb, beta, tC.c, ldc);
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
                char what[128];
                snprintf(what, sizeof what, "gemm ta=%d tb=%d m=%d n=%d k=%d beta=%g", ta, tb, m, n,
                         k, beta);
                expect_bounded(p, what, &tC, nc, tol, "1e-5 sum|terms|");
                free(tol), free(A), free(B), free(C);
                twin_free(p, &tA), twin_free(p, &tB), twin_free(p, &tC);
            }
}
END_TEST

/* linear_act, a forward layer, for each activation: cuBLASLt with the bias
 * (and ReLU) in its epilogue where it applies, else GEMM then the bias and
 * activation kernel (the tanh head, and a bias not aligned to 16 bytes:
 * shift 1); against the CPU's. */
START_TEST(test_linear_act) {
    Pair *p = parity_pair("linear_act");
    if (!p) return;
    static const int shapes[][3] = {/* rows, in, out */
                                    {1, 3, 1}, {65, 4, 256}, {257, 256, 256}, {4099, 65, 1},
                                    {128, 256, 257}, {33, 256, 3}};
    ActionBounds ab = {3, {-2.0f, -1.0f, 0.0f}, {2.0f, 3.0f, 0.5f}};
    seed_host_rng(31);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int act = ACT_NONE; act <= ACT_TANH_SCALE; act++)
            for (int shift = 0; shift < 2; shift++) {
                int rows = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
                if (act == ACT_TANH_SCALE && out > 3) continue;
                float *x = host_floats((size_t)rows * in, -1, 1);
                float *w = host_floats((size_t)out * in, -0.5f, 0.5f);
                float *b = host_floats((size_t)out + 1, -0.5f, 0.5f);
                Twin tx = twin(p, x, sizeof(float) * rows * in);
                Twin tw = twin(p, w, sizeof(float) * out * in);
                Twin tb = twin(p, b, sizeof(float) * (out + 1));
                Twin ty = twin(p, NULL, sizeof(float) * rows * out);
                /* shift: the bias one float past the (aligned) start */
                p->gpu->linear_act(p->gpu, ty.g, tx.g, tw.g, (float *)tb.g + shift, rows, in, out,
                                   (Activation)act, &ab);
                p->cpu->linear_act(p->cpu, ty.c, tx.c, tw.c, (float *)tb.c + shift, rows, in, out,
                                   (Activation)act, &ab);
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
                char what[128];
                snprintf(what, sizeof what, "linear_act act=%d rows=%d in=%d out=%d bias+%d", act,
                         rows, in, out, shift);
                expect_bounded(p, what, &ty, n, tol, "2e-5 sum|terms|");
                free(tol), free(x), free(w), free(b);
                twin_free(p, &tx), twin_free(p, &tw), twin_free(p, &tb), twin_free(p, &ty);
            }
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
            x[i] = tanh_bounds_elem(x[i], ab->low[j], ab->high[j]);
    }
}

/* y is a genuine activation output (ReLU with exact zeros, tanh_scale inside
 * its bounds); ACT_NONE must leave dy unchanged on both. */
START_TEST(test_act_grad) {
    Pair *p = parity_pair("act_grad");
    if (!p) return;
    seed_host_rng(3);
    for (int act = ACT_NONE; act <= ACT_TANH_SCALE; act++)
        for (int r = 0; r < N_SIZES; r++) {
            int rows = SIZES[r], cols = act == ACT_TANH_SCALE ? 3 : 65;
            size_t n = (size_t)rows * cols;
            ActionBounds ab = test_bounds(3);
            float *dy = host_floats(n, -1, 1), *y = host_floats(n, -3, 3);
            as_activation_outputs(y, n, cols, (Activation)act, &ab);
            Twin tdy = twin(p, dy, sizeof(float) * n), ty = twin(p, y, sizeof(float) * n);
            p->gpu->act_grad(p->gpu, tdy.g, ty.g, rows, cols, (Activation)act, &ab);
            p->cpu->act_grad(p->cpu, tdy.c, ty.c, rows, cols, (Activation)act, &ab);
            char what[128];
            snprintf(what, sizeof what, "act_grad act=%d rows=%d cols=%d", act, rows, cols);
            expect_twin_close(p, what, tdy.g, tdy.c, n, 1e-6, 1e-5);
            if (act == ACT_NONE) {
                float *g = fetch(p->gpu, tdy.g, sizeof(float) * n);
                ck_assert_msg(memcmp(g, dy, sizeof(float) * n) == 0, "ACT_NONE changed dy");
                free(g);
            }
            free(dy), free(y);
            twin_free(p, &tdy), twin_free(p, &ty);
        }
}
END_TEST

/* Bound: 1e-5 of the column's sum of |dy| (float sums in different orders). */
START_TEST(test_col_sum) {
    Pair *p = parity_pair("col_sum");
    if (!p) return;
    seed_host_rng(4);
    static const int cols_list[] = {1, 65, 257};
    for (int r = 0; r < N_SIZES; r++)
        for (int ci = 0; ci < 3; ci++) {
            int rows = SIZES[r], cols = cols_list[ci];
            size_t n = (size_t)rows * cols;
            float *dy = host_floats(n, -1, 1);
            Twin tdy = twin(p, dy, sizeof(float) * n), tdb = twin(p, NULL, sizeof(float) * cols);
            p->gpu->col_sum(p->gpu, tdb.g, tdy.g, rows, cols);
            p->cpu->col_sum(p->cpu, tdb.c, tdy.c, rows, cols);
            double *tol = calloc((size_t)cols, sizeof(double));
            ck_assert_ptr_nonnull(tol);
            for (size_t i = 0; i < n; i++) tol[i % (size_t)cols] += 1e-5 * fabs(dy[i]);
            char what[128];
            snprintf(what, sizeof what, "col_sum rows=%d cols=%d", rows, cols);
            expect_bounded(p, what, &tdb, (size_t)cols, tol, "1e-5 sum|dy|");
            free(tol), free(dy);
            twin_free(p, &tdy), twin_free(p, &tdb);
        }
}
END_TEST

START_TEST(test_concat_slice) {
    Pair *p = parity_pair("concat_slice");
    if (!p) return;
    seed_host_rng(5);
    static const int widths[][2] = {{3, 1}, {1, 65}, {257, 2}};
    for (int r = 0; r < N_SIZES; r++)
        for (int w = 0; w < 3; w++) {
            int rows = SIZES[r], ca = widths[w][0], cb = widths[w][1], cw = ca + cb;
            float *a = host_floats((size_t)rows * ca, -1, 1),
                  *b = host_floats((size_t)rows * cb, -1, 1);
            Twin ta = twin(p, a, sizeof(float) * rows * ca),
                 tb = twin(p, b, sizeof(float) * rows * cb);
            Twin to = twin(p, NULL, sizeof(float) * rows * cw);
            Twin ts = twin(p, NULL, sizeof(float) * rows * cb);
            p->gpu->concat_cols(p->gpu, to.g, ta.g, ca, tb.g, cb, rows);
            p->cpu->concat_cols(p->cpu, to.c, ta.c, ca, tb.c, cb, rows);
            p->gpu->slice_cols(p->gpu, ts.g, to.g, rows, cw, ca, cb);
            p->cpu->slice_cols(p->cpu, ts.c, to.c, rows, cw, ca, cb);
            char what[128];
            snprintf(what, sizeof what, "concat_cols rows=%d ca=%d cb=%d", rows, ca, cb);
            expect_twin_equal(p, what, to.g, to.c, to.bytes);
            snprintf(what, sizeof what, "slice_cols rows=%d cin=%d c0=%d cout=%d", rows, cw, ca,
                     cb);
            expect_twin_equal(p, what, ts.g, ts.c, ts.bytes);
            /* the slice of the concat is b itself */
            float *s = fetch(p->gpu, ts.g, ts.bytes);
            ck_assert_msg(memcmp(s, b, ts.bytes) == 0, "slice(concat(a, b)) != b");
            free(s), free(a), free(b);
            twin_free(p, &ta), twin_free(p, &tb), twin_free(p, &to), twin_free(p, &ts);
        }
}
END_TEST

START_TEST(test_fill) {
    Pair *p = parity_pair("fill");
    if (!p) return;
    static const size_t ns[] = {1, 65, 4099, (1u << 20) + 3};
    for (int i = 0; i < 4; i++) {
        Twin t = twin(p, NULL, sizeof(float) * ns[i]);
        p->gpu->fill(p->gpu, t.g, -0.375f, ns[i]);
        p->cpu->fill(p->cpu, t.c, -0.375f, ns[i]);
        char what[128];
        snprintf(what, sizeof what, "fill n=%zu", ns[i]);
        expect_twin_equal(p, what, t.g, t.c, t.bytes);
        twin_free(p, &t);
    }
}
END_TEST

void gpu_dense_cases(Suite *s) {
    TCase *tc = parity_tcase("dense");
    tcase_add_test(tc, test_gemm);
    tcase_add_test(tc, test_linear_act);
    tcase_add_test(tc, test_act_grad);
    tcase_add_test(tc, test_col_sum);
    tcase_add_test(tc, test_concat_slice);
    tcase_add_test(tc, test_fill);
    suite_add_tcase(s, tc);
}
