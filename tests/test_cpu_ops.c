/* test_cpu_ops.c - the CPU backend's private ops for its update schedule
 * (src/backend/cpu/cpu_common.h): the one-output layer's fused input gradient and the
 * ReLU masks give bit for bit what the plain ops give, on 1 and 3 threads;
 * and the element math the backends share (elem.h) for the actor's tanh head
 * and the exploration noise, against its definition written out here. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../src/backend/cpu/cpu_common.h"
#include "ddpg/elem.h"
#include "suites.h"

/* Deterministic test data: uniform in [lo, hi) from Philox (elem.h). */
static void fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi) {
    for (size_t i = 0; i < n; i++) {
        Philox4 r = philox4x32(seed, (uint32_t)i, 0x7E57, 0);
        x[i] = lo + (hi - lo) * rng_u01f(r.v[0]);
    }
}

/* outer_act_grad is gemm with k = 1 followed by act_grad, bit for bit, for
 * each activation, at sizes with tails, on 1 and 3 threads; and the ReLU
 * case really masks. */
START_TEST(test_outer_act_grad_matches_gemm_then_act_grad) {
    static const int shapes[][2] = {{1, 1}, {65, 257}, {128, 256}, {300, 3}};
    ActionBounds ab = {3, {-1.0f, 0.0f, -3.0f}, {3.0f, 0.5f, 2.0f}};
    for (int threads = 1; threads <= 3; threads += 2) {
        Backend *be = backend_cpu_create(threads);
        for (int si = 0; si < 4; si++)
            for (int act = ACT_NONE; act <= ACT_TANH_SCALE; act++) {
                int rows = shapes[si][0], cols = shapes[si][1];
                if (act == ACT_TANH_SCALE && cols > ab.dim) continue; /* bounds per column */
                size_t n = (size_t)rows * cols;
                float *dy = be->alloc(be, sizeof(float) * rows);
                float *w = be->alloc(be, sizeof(float) * cols);
                float *y = be->alloc(be, sizeof(float) * n);
                float *ref = be->alloc(be, sizeof(float) * n);
                float *got = be->alloc(be, sizeof(float) * n);
                ck_assert(dy && w && y && ref && got);
                fill_uniform(dy, (size_t)rows, 21 + si, -1.0f, 1.0f);
                fill_uniform(w, (size_t)cols, 22 + si, -1.0f, 1.0f);
                fill_uniform(y, n, 23 + si, -0.5f, 0.5f); /* ReLU outputs: some 0 after clamp */
                for (size_t i = 0; i < n; i++)
                    if (act == ACT_RELU && y[i] < 0.0f) y[i] = 0.0f;
                cpu_gemm(be, 0, 0, rows, cols, 1, 1.0f, dy, 1, w, cols, 0.0f, ref, cols);
                cpu_act_grad(be, ref, y, rows, cols, (Activation)act, &ab);
                cpu_outer_act_grad(be, got, dy, w, y, rows, cols, (Activation)act, &ab, NULL);
                ck_assert_mem_eq(got, ref, sizeof(float) * n);
                if (act == ACT_RELU) {
                    size_t masked = 0;
                    for (size_t i = 0; i < n; i++) {
                        ck_assert(y[i] > 0.0f || got[i] == 0.0f);
                        masked += y[i] == 0.0f;
                    }
                    if (n > 100) ck_assert(masked > n / 4);
                }
                float *bufs[] = {dy, w, y, ref, got};
                for (int k = 0; k < 5; k++) be->free(be, bufs[k]);
            }
        be->destroy(be);
    }
}
END_TEST

/* ReLU masks: linear_act writes the bits y > 0, with whole-word and tail
 * columns; act_grad and outer_act_grad reading the mask give bit for bit
 * what they give reading y; other activations leave the mask alone. */
START_TEST(test_relu_masks_match_activations) {
    static const int shapes[][3] = {{1, 3, 1}, {65, 4, 257}, {128, 256, 256}, {7, 5, 33}};
    for (int threads = 1; threads <= 3; threads += 2) {
        Backend *be = backend_cpu_create(threads);
        for (int si = 0; si < 4; si++) {
            int rows = shapes[si][0], in = shapes[si][1], out = shapes[si][2];
            int words = relu_mask_words(out);
            size_t n = (size_t)rows * out, nm = (size_t)rows * words;
            float *x = be->alloc(be, sizeof(float) * rows * in);
            float *w = be->alloc(be, sizeof(float) * out * in);
            float *b = be->alloc(be, sizeof(float) * out);
            float *y = be->alloc(be, sizeof(float) * n), *dy = be->alloc(be, sizeof(float) * rows);
            float *ref = be->alloc(be, sizeof(float) * n), *got = be->alloc(be, sizeof(float) * n);
            uint32_t *mask = be->alloc(be, sizeof(uint32_t) * nm);
            ck_assert(x && w && b && y && dy && ref && got && mask);
            fill_uniform(x, (size_t)rows * in, 41 + si, -1.0f, 1.0f);
            fill_uniform(w, (size_t)out * in, 42 + si, -0.5f, 0.5f);
            fill_uniform(b, (size_t)out, 43 + si, -0.5f, 0.5f);
            fill_uniform(dy, (size_t)rows, 44 + si, -1.0f, 1.0f);
            memset(mask, 0xA5, sizeof(uint32_t) * nm); /* poison: every bit must be written */
            cpu_linear_act_mask(be, y, x, w, b, rows, in, out, ACT_RELU, NULL, mask);
            size_t ones = 0;
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < words * 32; j++) {
                    int bit = (int)((mask[(size_t)i * words + j / 32] >> (j % 32)) & 1u);
                    if (j < out) {
                        ck_assert_msg(bit == (y[(size_t)i * out + j] > 0.0f),
                                      "mask bit (%d, %d) is %d for y %g", i, j, bit,
                                      (double)y[(size_t)i * out + j]);
                        ones += (size_t)bit;
                    } else {
                        ck_assert_msg(bit == 0, "mask padding bit (%d, %d) set", i, j);
                    }
                }
            if (n > 100) ck_assert(ones > n / 4 && ones < 3 * n / 4);
            /* act_grad: the mask in place of y */
            fill_uniform(ref, n, 45 + si, -1.0f, 1.0f);
            memcpy(got, ref, sizeof(float) * n);
            cpu_act_grad(be, ref, y, rows, out, ACT_RELU, NULL);
            cpu_act_grad_mask(be, got, NULL, rows, out, ACT_RELU, NULL, mask);
            ck_assert_mem_eq(got, ref, sizeof(float) * n);
            /* outer_act_grad likewise */
            float *wo = w; /* a row of out weights */
            cpu_outer_act_grad(be, ref, dy, wo, y, rows, out, ACT_RELU, NULL, NULL);
            cpu_outer_act_grad(be, got, dy, wo, NULL, rows, out, ACT_RELU, NULL, mask);
            ck_assert_mem_eq(got, ref, sizeof(float) * n);
            /* no mask for an identity layer: it is left as it was */
            memset(mask, 0x5A, sizeof(uint32_t) * nm);
            cpu_linear_act_mask(be, y, x, w, b, rows, in, out, ACT_NONE, NULL, mask);
            for (size_t k = 0; k < nm; k++) ck_assert_uint_eq(mask[k], 0x5A5A5A5Au);
            void *bufs[] = {x, w, b, y, dy, ref, got, mask};
            for (int k = 0; k < 8; k++) be->free(be, bufs[k]);
        }
        be->destroy(be);
    }
}
END_TEST

/* The tanh head's scale and shift are the bounds' half range and centre: exact
 * for bounds whose sums are exact, the head's output at z = 0 the centre and
 * inside [low, high], its derivative scale (1 - tanh^2) as the output gives it. */
START_TEST(test_tanh_bounds_from_the_bounds) {
    static const float b[][4] = {/* low, high, half range, centre */
                                 {-2.0f, 2.0f, 2.0f, 0.0f}, {-1.0f, 3.0f, 2.0f, 1.0f},
                                 {0.0f, 0.5f, 0.25f, 0.25f}, {-10.0f, -4.0f, 3.0f, -7.0f}};
    for (int k = 0; k < 4; k++) {
        float lo = b[k][0], hi = b[k][1];
        ck_assert_float_eq(action_half_range(lo, hi), b[k][2]);
        ck_assert_float_eq(action_center(lo, hi), b[k][3]);
        ck_assert_float_eq(tanh_bounds_elem(0.0f, lo, hi), b[k][3]);
        ck_assert_float_eq(tanh_bounds_grad_elem(b[k][3], lo, hi), b[k][2]);
        for (int i = -40; i <= 40; i++) {
            float z = 0.25f * (float)i, a = tanh_bounds_elem(z, lo, hi);
            float want = b[k][2] * tanhf(z) + b[k][3];
            ck_assert_msg(a == want && a >= lo && a <= hi, "tanh_bounds_elem(%g) in [%g, %g]: "
                          "%.9g, expected %.9g", (double)z, (double)lo, (double)hi, (double)a,
                          (double)want);
            double t = tanh((double)z), g = tanh_bounds_grad_elem(a, lo, hi);
            ck_assert_msg(fabs(g - b[k][2] * (1.0 - t * t)) <= 1e-3 * b[k][2], "d/dz at %g: %g",
                          (double)z, g);
        }
    }
}
END_TEST

/* add_noise on the CPU backend, each kind, against the definition written out
 * here in the same float arithmetic (the numbers of every run depend on it):
 * n the draw of counter (k, RNG_NOISE, ctr); Gaussian a + (sigma h) n, per
 * bound h the half range, else 1; TD3's smoothing with the noise clipped to
 * clip h first; OU x += theta (0 - x) dt + sigma sqrt(dt) n, then a + x; the
 * action clipped to its bounds. Every kind reaches a bound, the clip bites. */
START_TEST(test_add_noise_by_hand) {
    enum { N = 65, D = 3, NK = N * D };
    const ActionBounds ab = {D, {-1.0f, 0.0f, -3.0f}, {3.0f, 0.5f, 2.0f}};
    const NoiseSpec kinds[] = {
        {.kind = NOISE_GAUSSIAN, .sigma = 0.7f},
        {.kind = NOISE_GAUSSIAN, .sigma = 0.7f, .per_bound = 1},
        {.kind = NOISE_GAUSSIAN, .sigma = 0.6f, .clip = 0.3f, .per_bound = 1},
        {.kind = NOISE_OU, .sigma = 0.9f, .ou_theta = 0.15f, .ou_dt = 0.01f}};
    Backend *be = backend_cpu_create(1);
    float *a = be->alloc(be, sizeof(float) * NK), *x = be->alloc(be, sizeof(float) * NK);
    float want[NK], xs[NK];
    ck_assert(a && x);
    for (int kind = 0; kind < 4; kind++) {
        NoiseSpec ns = kinds[kind];
        if (ns.kind == NOISE_OU) ns.ou_state = x;
        uint64_t ctr = 5 + (uint64_t)kind;
        int at_bound = 0, clipped = 0;
        fill_uniform(a, NK, 61 + kind, -1.0f, 1.0f);
        fill_uniform(x, NK, 71 + kind, -2.0f, 2.0f);
        for (int k = 0; k < NK; k++) {
            int d = k % D;
            float lo = ab.low[d], hi = ab.high[d], h = ns.per_bound ? 0.5f * (hi - lo) : 1.0f;
            Philox4 r = philox4x32(99, (uint32_t)k, RNG_NOISE, ctr);
            float n = rng_normal(r.v[0], r.v[1]), e = ns.sigma * h * n;
            if (ns.kind == NOISE_OU) {
                xs[k] = x[k] + ns.ou_theta * (0.0f - x[k]) * ns.ou_dt +
                        ns.sigma * sqrtf(ns.ou_dt) * n;
                e = xs[k];
            } else if (ns.clip > 0.0f) {
                float c = ns.clip * h;
                clipped += e < -c || e > c;
                e = e < -c ? -c : e > c ? c : e;
            }
            float v = a[k] + e;
            at_bound += v <= lo || v >= hi;
            want[k] = v < lo ? lo : v > hi ? hi : v;
        }
        be->add_noise(be, a, N, ab, ns, 99, &ctr);
        ck_assert_uint_eq(ctr, 6 + (uint64_t)kind);
        for (int k = 0; k < NK; k++)
            ck_assert_msg(a[k] == want[k], "noise kind %d, element %d: %.9g, expected %.9g",
                          kind, k, (double)a[k], (double)want[k]);
        if (ns.kind == NOISE_OU) ck_assert_mem_eq(x, xs, sizeof xs);
        ck_assert_int_gt(at_bound, 0);
        if (ns.clip > 0.0f) ck_assert_int_gt(clipped, NK / 10);
    }
    be->free(be, a), be->free(be, x);
    be->destroy(be);
}
END_TEST

Suite *cpu_ops_suite(void) {
    Suite *s = suite_create("cpu_ops");
    TCase *tc = tcase_create("schedule_ops");
    tcase_add_test(tc, test_outer_act_grad_matches_gemm_then_act_grad);
    tcase_add_test(tc, test_relu_masks_match_activations);
    suite_add_tcase(s, tc);
    tc = tcase_create("elem");
    tcase_add_test(tc, test_tanh_bounds_from_the_bounds);
    tcase_add_test(tc, test_add_noise_by_hand);
    suite_add_tcase(s, tc);
    return s;
}
