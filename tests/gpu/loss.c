/* loss.c - parity of kernels/loss.cu: the TD target, the MSE gradient and
 * the metric accumulators. */
#include <stdio.h>
#include <stdlib.h>

#include "parity.h"

START_TEST(test_td_target_mse_grad) {
    Pair *p = parity_pair("td_target_mse_grad");
    if (!p) return;
    seed_host_rng(6);
    for (int s = 0; s < N_SIZES; s++) {
        int n = SIZES[s];
        float *r = host_floats(n, -16, 0), *qn = host_floats(n, -50, 5),
              *q = host_floats(n, -50, 5);
        float *term = host_floats(n, 0, 1);
        for (int i = 0; i < n; i++) term[i] = term[i] < 0.3f ? 1.0f : 0.0f;
        size_t b = sizeof(float) * n;
        Twin tr = twin(p, r, b), tt = twin(p, term, b), tqn = twin(p, qn, b), tq = twin(p, q, b);
        Twin ty = twin(p, NULL, b), tdq = twin(p, NULL, b);
        p->gpu->td_target(p->gpu, ty.g, tr.g, tt.g, tqn.g, NULL, n, 0.99f);
        p->cpu->td_target(p->cpu, ty.c, tr.c, tt.c, tqn.c, NULL, n, 0.99f);
        p->gpu->mse_grad(p->gpu, tdq.g, tq.g, ty.g, n);
        p->cpu->mse_grad(p->cpu, tdq.c, tq.c, ty.c, n);
        char what[128];
        snprintf(what, sizeof what, "td_target n=%d", n);
        expect_twin_close(p, what, ty.g, ty.c, n, 1e-5, 1e-6);
        snprintf(what, sizeof what, "mse_grad n=%d", n);
        expect_twin_close(p, what, tdq.g, tdq.c, n, 1e-6, 1e-5);
        free(r), free(qn), free(q), free(term);
        twin_free(p, &tr), twin_free(p, &tt), twin_free(p, &tqn), twin_free(p, &tq);
        twin_free(p, &ty), twin_free(p, &tdq);
    }
}
END_TEST

/* The accumulators start non-zero and are hit twice: they must add, not set. */
START_TEST(test_mse_mean_acc) {
    Pair *p = parity_pair("mse_mean_acc");
    if (!p) return;
    seed_host_rng(7);
    for (int s = 0; s < N_SIZES; s++) {
        int n = SIZES[s];
        float *q = host_floats(n, -10, 10), *y = host_floats(n, -10, 10);
        float acc0[2] = {0.25f, -1.5f};
        Twin tq = twin(p, q, sizeof(float) * n), ty = twin(p, y, sizeof(float) * n);
        Twin tacc = twin(p, acc0, sizeof acc0);
        for (int rep = 0; rep < 2; rep++) {
            p->gpu->mse_acc(p->gpu, (float *)tacc.g, tq.g, ty.g, n);
            p->cpu->mse_acc(p->cpu, (float *)tacc.c, tq.c, ty.c, n);
            p->gpu->mean_acc(p->gpu, (float *)tacc.g + 1, tq.g, n, -0.5f);
            p->cpu->mean_acc(p->cpu, (float *)tacc.c + 1, tq.c, n, -0.5f);
        }
        char what[128];
        snprintf(what, sizeof what, "mse_acc,mean_acc n=%d", n);
        expect_twin_close(p, what, tacc.g, tacc.c, 2, 1e-6, 1e-6);
        float *c = fetch(p->cpu, tacc.c, sizeof acc0);
        ck_assert_msg(c[0] > acc0[0], "mse_acc did not accumulate");
        free(c), free(q), free(y);
        twin_free(p, &tq), twin_free(p, &ty), twin_free(p, &tacc);
    }
}
END_TEST

/* TD3's target: the smaller of two target critics' values; and axpy (an
 * evaluation's discounted returns), hit twice. */
START_TEST(test_td_target_twin_axpy) {
    Pair *p = parity_pair("td_target_twin_axpy");
    if (!p) return;
    seed_host_rng(8);
    for (int s = 0; s < N_SIZES; s++) {
        int n = SIZES[s];
        size_t b = sizeof(float) * n;
        float *r = host_floats(n, -16, 0), *q1 = host_floats(n, -50, 5),
              *q2 = host_floats(n, -50, 5), *term = host_floats(n, 0, 1);
        for (int i = 0; i < n; i++) term[i] = term[i] < 0.3f ? 1.0f : 0.0f;
        Twin tr = twin(p, r, b), tt = twin(p, term, b), t1 = twin(p, q1, b), t2 = twin(p, q2, b);
        Twin ty = twin(p, NULL, b), tacc = twin(p, q1, b);
        p->gpu->td_target(p->gpu, ty.g, tr.g, tt.g, t1.g, t2.g, n, 0.99f);
        p->cpu->td_target(p->cpu, ty.c, tr.c, tt.c, t1.c, t2.c, n, 0.99f);
        char what[128];
        snprintf(what, sizeof what, "td_target twin n=%d", n);
        expect_twin_close(p, what, ty.g, ty.c, n, 1e-5, 1e-6);
        float *y = fetch(p->cpu, ty.c, b); /* the CPU's against the definition */
        for (int i = 0; i < n; i++) {
            float m = q1[i] < q2[i] ? q1[i] : q2[i];
            ck_assert_float_eq(y[i], r[i] + 0.99f * (1.0f - term[i]) * m);
        }
        for (int rep = 0; rep < 2; rep++) {
            p->gpu->axpy(p->gpu, tacc.g, tr.g, 0.7f, n);
            p->cpu->axpy(p->cpu, tacc.c, tr.c, 0.7f, n);
        }
        snprintf(what, sizeof what, "axpy n=%d", n);
        expect_twin_equal(p, what, tacc.g, tacc.c, b);
        free(r), free(q1), free(q2), free(term), free(y);
        twin_free(p, &tr), twin_free(p, &tt), twin_free(p, &t1), twin_free(p, &t2);
        twin_free(p, &ty), twin_free(p, &tacc);
    }
}
END_TEST

void gpu_loss_cases(Suite *s) {
    TCase *tc = parity_tcase("loss");
    tcase_add_test(tc, test_td_target_mse_grad);
    tcase_add_test(tc, test_mse_mean_acc);
    tcase_add_test(tc, test_td_target_twin_axpy);
    suite_add_tcase(s, tc);
}
