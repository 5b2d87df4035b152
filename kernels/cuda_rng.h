/* cuda_rng.h - private to kernels/: one 128-bit draw from cuRAND's Philox4_32_10.
 *
 * cuRAND's Philox4_32_10 is the Random123 Philox-4x32-10 that elem.h's
 * philox4x32 implements for the CPU backend. curand_init(seed, subsequence,
 * offset) sets the counter to (offset/4 as 64 bits, subsequence as 64 bits), so
 * with subsequence = ctr and offset = 4 (purpose << 32 | index) the draw's counter
 * is (index, purpose, ctr lo, ctr hi): the CPU backend's layout. Both backends
 * then draw the same bits for the same (seed, index, purpose, ctr); the tests
 * rely on it, and so does comparing GPU and CPU runs op by op. */
#ifndef DDPG_CUDA_RNG_H
#define DDPG_CUDA_RNG_H

#include <curand_kernel.h>

#include "cuda_common.h"

__device__ __forceinline__ uint4 philox_draw(uint64_t seed, uint32_t index, uint32_t purpose,
                                             uint64_t ctr) {
    curandStatePhilox4_32_10_t s;
    curand_init((unsigned long long)seed, (unsigned long long)ctr,
                4ULL * (((unsigned long long)purpose << 32) | index), &s);
    return curand4(&s);
}

#endif /* DDPG_CUDA_RNG_H */
