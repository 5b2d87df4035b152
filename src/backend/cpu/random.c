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
            a[(size_t)i * ab.dim + d] = uniform_action_elem(r.v[0], ab.low[d], ab.high[d]);
        }
    *ctr += 1;
}

void cpu_add_noise(Backend *be, float *a, int n, ActionBounds ab, NoiseSpec ns, uint64_t seed,
                   uint64_t *ctr) {
    (void)be;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < ab.dim; d++) {
            size_t k = (size_t)i * ab.dim + d;
            Philox4 r = philox4x32(seed, (uint32_t)k, RNG_NOISE, *ctr);
            float *ou_x = ns.kind == NOISE_OU ? ns.ou_state + k : NULL;
            a[k] = add_noise_elem(a[k], r.v[0], r.v[1], ou_x, ns.sigma, ns.ou_theta, ns.ou_dt,
                                  ns.clip, ns.per_bound, ab.low[d], ab.high[d]);
        }
    *ctr += 1;
}
