/* random.c - exploration: uniform random actions and Gaussian or OU noise,
 * from counter-based Philox draws (elem.h) with the counter layout of
 * kernels/random.cu, so that both backends draw the same numbers. */
#include "cpu_common.h"
#include "ddpg/elem.h"

void cpu_uniform_actions(Backend *be, float *a, int n, ActionBounds ab, uint64_t seed,
                                uint64_t *ctr) {
    (void)be;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < ab.dim; d++) {
            Philox4 r = philox4x32(seed, (uint32_t)(i * ab.dim + d), RNG_WARMUP, *ctr);
            a[(size_t)i * ab.dim + d] = ab.low[d] + (ab.high[d] - ab.low[d]) * rng_u01f(r.v[0]);
        }
    *ctr += 1;
}

void cpu_add_noise(Backend *be, float *a, int n, ActionBounds ab, NoiseSpec ns,
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
            } else if (ns.clip > 0.0f) {
                float s = noise_scale_elem(ns.per_bound, ab.low[d], ab.high[d]);
                a[k] = smoothed_action_elem(a[k], ns.sigma * s, z, ns.clip * s, ab.low[d],
                                            ab.high[d]);
            } else {
                float s = noise_scale_elem(ns.per_bound, ab.low[d], ab.high[d]);
                a[k] = noisy_action_elem(a[k], ns.sigma * s, z, ab.low[d], ab.high[d]);
            }
        }
    *ctr += 1;
}
