/* elem.h - per-element math shared by the CPU backend and the CUDA kernels.
 *
 * Every function here is `static inline` and compiles for host and device
 * (DDPG_HD). The CPU backend calls them in loops, a CUDA kernel calls them once
 * per thread; backends differ only in GEMM, reductions, memory and launch.
 */
#ifndef DDPG_ELEM_H
#define DDPG_ELEM_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define DDPG_HD __host__ __device__ __forceinline__
#else
#define DDPG_HD static inline
#endif

#define DDPG_PI 3.14159265358979323846

/* ------------------------------------------------------------------------ */
/* Counter-based RNG (Philox4x32-10, Salmon et al., SC'11) for the CPU      */
/* backend and for parameter initialisation. The GPU backend draws its      */
/* noise from cuRAND.                                                        */

typedef struct { uint32_t v[4]; } Philox4;

DDPG_HD uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* key: the seed; counter: (stream, purpose, index lo, index hi). */
DDPG_HD Philox4 philox4x32(uint64_t key, uint32_t c0, uint32_t c1, uint64_t c23) {
    uint32_t x0 = c0, x1 = c1, x2 = (uint32_t)c23, x3 = (uint32_t)(c23 >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = philox_mulhilo(0xD2511F53u, x0, &hi0);
        uint32_t lo1 = philox_mulhilo(0xCD9E8D57u, x2, &hi1);
        uint32_t n0 = hi1 ^ x1 ^ k0, n2 = hi0 ^ x3 ^ k1;
        x0 = n0; x1 = lo1; x2 = n2; x3 = lo0;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    Philox4 out;
    out.v[0] = x0; out.v[1] = x1; out.v[2] = x2; out.v[3] = x3;
    return out;
}

/* Uniform float in [0, 1) from 24 random bits. */
DDPG_HD float rng_u01f(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }
/* Uniform double in [0, 1) from 53 random bits. */
DDPG_HD double rng_u01d(uint32_t a, uint32_t b) {
    uint64_t x = ((uint64_t)a << 21) ^ (uint64_t)(b >> 11);
    return (double)(x & ((1ULL << 53) - 1)) * (1.0 / 9007199254740992.0);
}
/* Standard normal from two uniform words (Box-Muller, first output). */
DDPG_HD float rng_normal(uint32_t a, uint32_t b) {
    float u1 = ((float)(a >> 8) + 1.0f) * (1.0f / 16777217.0f); /* (0, 1] */
    float u2 = rng_u01f(b);
    return sqrtf(-2.0f * logf(u1)) * cosf(2.0f * (float)DDPG_PI * u2);
}

/* RNG purposes (second counter word) so that streams never overlap. The
 * evaluation envs and the probe states use the purposes of the training
 * envs and the replay draws under keys of their own (src/train/evaluate.c,
 * src/train/probe.c). */
enum {
    RNG_INIT = 1,
    RNG_RESET = 2,
    RNG_NOISE = 3,
    RNG_WARMUP = 4,
    RNG_SAMPLE = 5,
    RNG_FILL = 99 /* env_fill_random (benchmarks and tests) */
};

/* ------------------------------------------------------------------------ */
/* Network element math.                                                    */

DDPG_HD float relu_elem(float x) { return x > 0.0f ? x : 0.0f; }
/* d relu / dx, written in terms of the output y = relu(x). */
DDPG_HD float relu_grad_elem(float y) { return y > 0.0f ? 1.0f : 0.0f; }

/* An action dimension's half range (high - low) / 2 and centre (high + low) / 2: the
 * scale and shift of the actor's tanh head, and the noise scale of NoiseSpec.per_bound. */
DDPG_HD float action_half_range(float low, float high) { return 0.5f * (high - low); }
DDPG_HD float action_center(float low, float high) { return 0.5f * (high + low); }

/* Actor head: a = scale tanh(z) + shift into [low, high], scale and shift as above. */
DDPG_HD float tanh_bounds_elem(float z, float low, float high) {
    return action_half_range(low, high) * tanhf(z) + action_center(low, high);
}
/* da/dz in terms of the output a: scale (1 - t^2), t = (a - shift) / scale. */
DDPG_HD float tanh_bounds_grad_elem(float a, float low, float high) {
    float scale = action_half_range(low, high);
    float t = (a - action_center(low, high)) / scale;
    return scale * (1.0f - t * t);
}

/* LayerNorm (Ba et al. 2016) as torch.nn.LayerNorm over a row of n: xhat =
 * (x - mean) rstd with rstd = 1 / sqrt(var + eps) (the biased variance),
 * y = xhat gain + shift. */
#define LN_EPS 1e-5f

DDPG_HD float layernorm_elem(float x, float mean, float rstd, float gain, float shift) {
    return (x - mean) * rstd * gain + shift;
}

/* dx_i = rstd (g_i - mean_j g_j - xhat_i mean_j (g_j xhat_j)), where g = dy gain is
 * the gradient of xhat; the two means are the row's (llm.c's layernorm_backward). */
DDPG_HD float layernorm_dx_elem(float dy, float gain, float xhat, float mean_g,
                                float mean_gxhat, float rstd) {
    return rstd * (dy * gain - mean_g - xhat * mean_gxhat);
}

/* Critic loss L = mean((q - y)^2): dL/dq_i = 2 (q_i - y_i) / n. */
DDPG_HD float mse_grad_elem(float q, float y, float inv_n) { return 2.0f * (q - y) * inv_n; }

/* TD target y = r + gamma (1 - terminated) Q'(s', mu'(s')). */
DDPG_HD float td_target_elem(float r, float term, float q_next, float gamma) {
    return r + gamma * (1.0f - term) * q_next;
}

/* TD3's clipped double Q: the smaller of the twin target critics' values. */
DDPG_HD float min_q_elem(float q1, float q2) { return q2 < q1 ? q2 : q1; }

/* Adam (Kingma & Ba 2015, Algorithm 1) in torch.optim.Adam's arrangement:
 *   p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps),  bc1 = 1 - b1^t, bc2 = 1 - b2^t,
 * with eps outside the square root. The division by sqrt(bc2) is a product
 * with its reciprocal, so an element costs one division and one square root
 * (the loop-invariant terms are hoisted), not three divisions and a root
 * (bench/results/cpu_update.md has the times). */
DDPG_HD void adam_elem(float *p, float g, float *m, float *v, float lr, float b1, float b2,
                       float eps, float bc1, float bc2) {
    float mn = b1 * *m + (1.0f - b1) * g;
    float vn = b2 * *v + (1.0f - b2) * g * g;
    float step = lr / bc1, inv_sqrt_bc2 = 1.0f / sqrtf(bc2);
    *m = mn;
    *v = vn;
    *p -= step * mn / (sqrtf(vn) * inv_sqrt_bc2 + eps);
}

/* Polyak averaging of target networks: t <- (1 - tau) t + tau p. */
DDPG_HD float polyak_elem(float t, float p, float tau) { return (1.0f - tau) * t + tau * p; }

/* Gradient clipping factor, as torch.nn.utils.clip_grad_norm_: scale by
 * max_norm / (norm + 1e-6) when that is below 1. */
DDPG_HD float clip_coef_elem(float norm, float max_norm) {
    float c = max_norm / (norm + 1e-6f);
    return c < 1.0f ? c : 1.0f;
}

/* TD3's target policy smoothing: a = clip(a + clip(sigma n, -c, c), low, high). */
DDPG_HD float smoothed_action_elem(float a, float sigma, float n, float c, float low,
                                   float high) {
    float e = sigma * n;
    e = e < -c ? -c : (e > c ? c : e);
    float x = a + e;
    return x < low ? low : (x > high ? high : x);
}

/* The noise scale of one action dimension: 1, or its half range (NoiseSpec.per_bound). */
DDPG_HD float noise_scale_elem(int per_bound, float low, float high) {
    return per_bound ? action_half_range(low, high) : 1.0f;
}

/* Exploration: a = clip(a + sigma * n, low, high). */
DDPG_HD float noisy_action_elem(float a, float sigma, float n, float low, float high) {
    float x = a + sigma * n;
    return x < low ? low : (x > high ? high : x);
}

/* Ornstein-Uhlenbeck noise (Uhlenbeck & Ornstein 1930, DDPG paper sec. 7):
 * x <- x + theta (mu - x) dt + sigma sqrt(dt) n. */
DDPG_HD float ou_step_elem(float x, float theta, float mu, float sigma, float dt, float n) {
    return x + theta * (mu - x) * dt + sigma * sqrtf(dt) * n;
}

/* Warm-up exploration: an action uniform in [low, high) from one Philox word. */
DDPG_HD float uniform_action_elem(uint32_t r0, float low, float high) {
    return low + (high - low) * rng_u01f(r0);
}

/* One element of add_noise (backend.h's NoiseSpec, field by field: elem.h knows no
 * backend types), from the two Philox words of its counter: n ~ N(0, 1), then
 *  - OU (ou_x, this element's process state, not NULL): x steps with n and is added;
 *  - Gaussian (ou_x NULL): sigma n is added, first clipped to [-clip, clip] when clip > 0
 *    (TD3's target policy smoothing); with per_bound, sigma and clip are for a bound of 1
 *    and scale with the half range;
 * and the action is clipped to [low, high]. */
DDPG_HD float add_noise_elem(float a, uint32_t r0, uint32_t r1, float *ou_x, float sigma,
                             float ou_theta, float ou_dt, float clip, int per_bound, float low,
                             float high) {
    float n = rng_normal(r0, r1);
    if (ou_x) {
        float x = ou_step_elem(*ou_x, ou_theta, 0.0f, sigma, ou_dt, n);
        *ou_x = x;
        return noisy_action_elem(a, 1.0f, x, low, high);
    }
    float s = noise_scale_elem(per_bound, low, high);
    if (clip > 0.0f) return smoothed_action_elem(a, sigma * s, n, clip * s, low, high);
    return noisy_action_elem(a, sigma * s, n, low, high);
}

#endif /* DDPG_ELEM_H */
