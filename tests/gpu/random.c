/* random.c - parity of kernels/random.cu: uniform random actions and
 * Gaussian or OU exploration noise, draw for draw. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parity.h"

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
    Pair *p = parity_pair("uniform_actions");
    if (!p) return;
    for (int dim = 1; dim <= 3; dim += 2)
        for (int s = 0; s < N_SIZES; s++) {
            int n = SIZES[s];
            ActionBounds ab = test_bounds(dim);
            size_t total = (size_t)n * dim;
            Twin ta = twin(p, NULL, sizeof(float) * total),
                 tctr = twin(p, NULL, sizeof(uint64_t));
            p->gpu->uniform_actions(p->gpu, ta.g, n, ab, 1234, tctr.g);
            p->cpu->uniform_actions(p->cpu, ta.c, n, ab, 1234, tctr.c);
            char what[128];
            snprintf(what, sizeof what, "uniform_actions n=%d dim=%d", n, dim);
            expect_twin_close(p, what, ta.g, ta.c, total, 1e-6, 1e-6);
            float *a1 = fetch(p->gpu, ta.g, sizeof(float) * total);
            p->gpu->uniform_actions(p->gpu, ta.g, n, ab, 1234, tctr.g);
            p->cpu->uniform_actions(p->cpu, ta.c, n, ab, 1234, tctr.c);
            expect_twin_close(p, what, ta.g, ta.c, total, 1e-6, 1e-6);
            float *a2 = fetch(p->gpu, ta.g, sizeof(float) * total);
            ck_assert_int_eq(fetch_i64(p->gpu, tctr.g), 2);
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
            twin_free(p, &ta), twin_free(p, &tctr);
        }
}
END_TEST

/* Gaussian noise: CPU parity, N(0, sigma) statistics with wide bounds, the
 * bounds respected with narrow ones. */
/* TD3's target smoothing: noise of sigma and clip per unit of each
 * dimension's half range, clipped, then the action clipped to the bounds. */
START_TEST(test_add_noise_smoothing) {
    Pair *p = parity_pair("add_noise_smoothing");
    if (!p) return;
    const int n = 4099, dim = 2;
    size_t total = (size_t)n * dim;
    ActionBounds ab = {dim, {-1.0f, -0.5f}, {3.0f, 0.5f}}; /* half ranges 2 and 0.5 */
    float *a = host_floats(total, -1.0f, 0.5f);
    for (size_t k = 0; k < total; k++) a[k] = k % 2 ? 0.5f * a[k] : a[k];
    NoiseSpec ns = {.kind = NOISE_GAUSSIAN, .sigma = 0.4f, .clip = 0.3f, .per_bound = 1};
    Twin ta = twin(p, a, sizeof(float) * total), tctr = twin(p, NULL, sizeof(uint64_t));
    p->gpu->add_noise(p->gpu, ta.g, n, ab, ns, 7, tctr.g);
    p->cpu->add_noise(p->cpu, ta.c, n, ab, ns, 7, tctr.c);
    expect_twin_close(p, "add_noise smoothing", ta.g, ta.c, total, 1e-5, 1e-5);
    float *g = fetch(p->gpu, ta.g, sizeof(float) * total);
    int clipped = 0;
    for (size_t k = 0; k < total; k++) {
        int d = (int)(k % (size_t)dim);
        float half = 0.5f * (ab.high[d] - ab.low[d]), e = g[k] - a[k];
        ck_assert(g[k] >= ab.low[d] && g[k] <= ab.high[d]);
        ck_assert(fabsf(e) <= 0.3f * half * (1 + 1e-6f));
        clipped += fabsf(fabsf(e) - 0.3f * half) < 1e-6f * half;
    }
    ck_assert_msg(clipped > 0, "the noise was never clipped");
    free(a), free(g);
    twin_free(p, &ta), twin_free(p, &tctr);
}
END_TEST

START_TEST(test_add_noise_gaussian) {
    Pair *p = parity_pair("add_noise_gaussian");
    if (!p) return;
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
        NoiseSpec ns = {.kind = NOISE_GAUSSIAN, .sigma = sigma, .ou_theta = 0.15f, .ou_dt = 1e-2f};
        Twin ta = twin(p, a, sizeof(float) * total), tctr = twin(p, NULL, sizeof(uint64_t));
        p->gpu->add_noise(p->gpu, ta.g, n, ab, ns, 99, tctr.g);
        p->cpu->add_noise(p->cpu, ta.c, n, ab, ns, 99, tctr.c);
        char what[128];
        snprintf(what, sizeof what, "add_noise gaussian n=%d dim=%d narrow=%d", n, dim, narrow);
        expect_twin_close(p, what, ta.g, ta.c, total, 1e-5, 1e-5);
        ck_assert_int_eq(fetch_i64(p->gpu, tctr.g), 1);
        float *g = fetch(p->gpu, ta.g, sizeof(float) * total);
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
        twin_free(p, &ta), twin_free(p, &tctr);
    }
    free(a);
}
END_TEST

/* OU noise: five steps of the process state and the actions agree. */
START_TEST(test_add_noise_ou) {
    Pair *p = parity_pair("add_noise_ou");
    if (!p) return;
    seed_host_rng(11);
    for (int s = 0; s < N_SIZES; s++) {
        int n = SIZES[s];
        ActionBounds ab = test_bounds(1);
        float *a = host_floats((size_t)n, -1, 2);
        Twin ta = twin(p, a, sizeof(float) * n), tx = twin(p, NULL, sizeof(float) * n);
        Twin tctr = twin(p, NULL, sizeof(uint64_t));
        for (int rep = 0; rep < 5; rep++) {
            NoiseSpec ng = {.kind = NOISE_OU, .sigma = 0.2f, .ou_theta = 0.15f, .ou_dt = 1e-2f,
                            .ou_state = tx.g},
                      nc = ng;
            nc.ou_state = tx.c;
            p->gpu->add_noise(p->gpu, ta.g, n, ab, ng, 7, tctr.g);
            p->cpu->add_noise(p->cpu, ta.c, n, ab, nc, 7, tctr.c);
        }
        char what[128];
        snprintf(what, sizeof what, "add_noise ou n=%d state", n);
        expect_twin_close(p, what, tx.g, tx.c, n, 1e-6, 1e-5);
        snprintf(what, sizeof what, "add_noise ou n=%d actions", n);
        expect_twin_close(p, what, ta.g, ta.c, n, 1e-6, 1e-5);
        ck_assert_int_eq(fetch_i64(p->gpu, tctr.g), 5);
        free(a);
        twin_free(p, &ta), twin_free(p, &tx), twin_free(p, &tctr);
    }
}
END_TEST

void gpu_random_cases(Suite *s) {
    TCase *tc = parity_tcase("random");
    tcase_add_test(tc, test_uniform_actions);
    tcase_add_test(tc, test_add_noise_gaussian);
    tcase_add_test(tc, test_add_noise_smoothing);
    tcase_add_test(tc, test_add_noise_ou);
    suite_add_tcase(s, tc);
}
