/* random.cu - exploration: uniform random actions and Gaussian or OU noise,
 * from cuRAND Philox draws (cuda_rng.h). The per-call counter lives in device
 * memory: every thread reads it, then a one-thread kernel advances it, so a
 * captured CUDA Graph draws fresh numbers on every replay. */
#include "cuda_rng.h"

/* ------------------------------------------------------------------------ */
/* kernels                                                                  */

/* a(n, dim) ~ U(low[d], high[d]); element k uses counter (k, RNG_WARMUP, *ctr). */
__global__ void uniform_actions_kernel(float *a, unsigned total, ActionBounds ab, uint64_t seed,
                                       const uint64_t *ctr) {
    uint64_t c = *ctr;
    for (unsigned k = blockIdx.x * blockDim.x + threadIdx.x; k < total;
         k += gridDim.x * blockDim.x) {
        int d = (int)(k % (unsigned)ab.dim);
        uint4 r = philox_draw(seed, k, RNG_WARMUP, c);
        a[k] = uniform_action_elem(r.x, ab.low[d], ab.high[d]);
    }
}

/* a(n, dim) = clip(a + noise), elem.h's add_noise_elem per element. Element k
 * uses counter (k, RNG_NOISE, *ctr). */
__global__ void add_noise_kernel(float *a, unsigned total, ActionBounds ab, NoiseSpec ns,
                                 uint64_t seed, const uint64_t *ctr) {
    uint64_t c = *ctr;
    for (unsigned k = blockIdx.x * blockDim.x + threadIdx.x; k < total;
         k += gridDim.x * blockDim.x) {
        int d = (int)(k % (unsigned)ab.dim);
        uint4 r = philox_draw(seed, k, RNG_NOISE, c);
        float *ou_x = ns.kind == NOISE_OU ? ns.ou_state + k : NULL;
        a[k] = add_noise_elem(a[k], r.x, r.y, ou_x, ns.sigma, ns.ou_theta, ns.ou_dt, ns.clip,
                              ns.per_bound, ab.low[d], ab.high[d]);
    }
}

/* *c += 1 (one thread). */
__global__ void counter_increment_kernel(unsigned long long *c) { *c += 1ULL; }

/* ------------------------------------------------------------------------ */
/* launchers                                                                */

void cuda_counter_increment(Backend *be, uint64_t *c) {
    counter_increment_kernel<<<1, 1, 0, cuda_stream(be)>>>((unsigned long long *)c);
    cudaCheck(cudaGetLastError());
}

void cuda_uniform_actions(Backend *be, float *a, int n, ActionBounds ab, uint64_t seed,
                          uint64_t *ctr) {
    unsigned total = n > 0 && ab.dim > 0 ? (unsigned)n * (unsigned)ab.dim : 0u;
    if (total > 0) {
        uniform_actions_kernel<<<grid_for(be, total), BLOCK, 0, cuda_stream(be)>>>(a, total, ab,
                                                                                   seed, ctr);
        cudaCheck(cudaGetLastError());
    }
    cuda_counter_increment(be, ctr);
}

void cuda_add_noise(Backend *be, float *a, int n, ActionBounds ab, NoiseSpec ns, uint64_t seed,
                    uint64_t *ctr) {
    unsigned total = n > 0 && ab.dim > 0 ? (unsigned)n * (unsigned)ab.dim : 0u;
    if (total > 0) {
        add_noise_kernel<<<grid_for(be, total), BLOCK, 0, cuda_stream(be)>>>(a, total, ab, ns,
                                                                             seed, ctr);
        cudaCheck(cudaGetLastError());
    }
    cuda_counter_increment(be, ctr);
}
