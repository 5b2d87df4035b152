/* norm.c - parity of kernels/norm.cu: LayerNorm forward (with and without
 * its ReLU) and backward, at odd widths and row counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "parity.h"

START_TEST(test_layernorm) {
    Pair *p = parity_pair("layernorm");
    if (!p) return;
    seed_host_rng(31);
    static const int shapes[][2] = {{1, 1}, {65, 33}, {257, 256}, {4099, 7}, {3, 1025}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        size_t n = (size_t)rows * cols, b = sizeof(float) * n, bc = sizeof(float) * cols;
        float *x = host_floats(n, -3, 5), *dy = host_floats(n, -1, 1);
        float *gain = host_floats((size_t)cols, 0.5f, 1.5f), *shift = host_floats((size_t)cols, -1, 1);
        Twin tx = twin(p, x, b), tdy = twin(p, dy, b), tg = twin(p, gain, bc), ts = twin(p, shift, bc);
        Twin ty = twin(p, NULL, b), tm = twin(p, NULL, sizeof(float) * rows);
        Twin tr = twin(p, NULL, sizeof(float) * rows), tdx = twin(p, NULL, b);
        Twin tdg = twin(p, NULL, bc), tds = twin(p, NULL, bc);
        char what[128];
        for (int relu = 0; relu < 2; relu++) {
            Activation act = relu ? ACT_RELU : ACT_NONE;
            p->gpu->layernorm(p->gpu, ty.g, tx.g, tg.g, ts.g, tm.g, tr.g, rows, cols, act);
            p->cpu->layernorm(p->cpu, ty.c, tx.c, tg.c, ts.c, tm.c, tr.c, rows, cols, act);
            snprintf(what, sizeof what, "layernorm %dx%d relu=%d y", rows, cols, relu);
            expect_twin_close(p, what, ty.g, ty.c, n, 1e-4, 1e-4);
        }
        snprintf(what, sizeof what, "layernorm %dx%d mean", rows, cols);
        expect_twin_close(p, what, tm.g, tm.c, (size_t)rows, 1e-5, 1e-5);
        snprintf(what, sizeof what, "layernorm %dx%d rstd", rows, cols);
        expect_twin_close(p, what, tr.g, tr.c, (size_t)rows, 1e-5, 1e-4);
        p->gpu->layernorm_grad(p->gpu, tdx.g, tdg.g, tds.g, tdy.g, tx.g, tg.g, tm.g, tr.g, rows,
                               cols);
        p->cpu->layernorm_grad(p->cpu, tdx.c, tdg.c, tds.c, tdy.c, tx.c, tg.c, tm.c, tr.c, rows,
                               cols);
        snprintf(what, sizeof what, "layernorm_grad %dx%d dx", rows, cols);
        expect_twin_close(p, what, tdx.g, tdx.c, n, 1e-4, 1e-3);
        snprintf(what, sizeof what, "layernorm_grad %dx%d dgain", rows, cols);
        expect_twin_close(p, what, tdg.g, tdg.c, (size_t)cols, 1e-3, 1e-4);
        snprintf(what, sizeof what, "layernorm_grad %dx%d dshift", rows, cols);
        expect_twin_close(p, what, tds.g, tds.c, (size_t)cols, 1e-3, 1e-4);
        /* without the parameter gradients: the same dx */
        p->gpu->layernorm_grad(p->gpu, tdy.g, NULL, NULL, tdx.g, tx.g, tg.g, tm.g, tr.g, rows,
                               cols);
        p->cpu->layernorm_grad(p->cpu, tdy.c, NULL, NULL, tdx.c, tx.c, tg.c, tm.c, tr.c, rows,
                               cols);
        snprintf(what, sizeof what, "layernorm_grad %dx%d dx (no dgain)", rows, cols);
        expect_twin_close(p, what, tdy.g, tdy.c, n, 1e-3, 1e-3);
        free(x), free(dy), free(gain), free(shift);
        Twin *all[] = {&tx, &tdy, &tg, &ts, &ty, &tm, &tr, &tdx, &tdg, &tds};
        for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) twin_free(p, all[k]);
    }
}
END_TEST

void gpu_norm_cases(Suite *s) {
    TCase *tc = parity_tcase("norm");
    tcase_add_test(tc, test_layernorm);
    suite_add_tcase(s, tc);
}
