/* replay.cu - the device-resident ring replay buffer: insert a vectorized step,
 * sample a minibatch uniformly over the filled slots (the mirror of
 * src/backend/cpu/replay.c). The ring's cursor (write slot and fill count) stays on
 * the device and is advanced by a one-thread kernel after the kernels that
 * read it. */
#include "cuda_rng.h"

/* ------------------------------------------------------------------------ */
/* kernels                                                                  */

/* Row i of the n new transitions goes to slot (cursor->next + i) mod capacity.
 * When n > capacity only the last `capacity` rows survive a sequential insert;
 * only those are written, so no two threads write the same slot. */
__global__ void replay_insert_kernel(Replay r, const float *obs, const float *act,
                                     const float *rew, const float *next_obs, const float *term,
                                     int n) {
    int64_t start = r.cursor->next;
    int first = (int64_t)n > r.capacity ? (int)(n - r.capacity) : 0;
    int od = r.obs_dim, ad = r.act_dim;
    for (int i = first + blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += gridDim.x * blockDim.x) {
        int64_t slot = (start + i) % r.capacity;
        for (int c = 0; c < od; c++) {
            r.obs[slot * od + c] = obs[(size_t)i * od + c];
            r.next_obs[slot * od + c] = next_obs[(size_t)i * od + c];
        }
        for (int c = 0; c < ad; c++) r.act[slot * ad + c] = act[(size_t)i * ad + c];
        r.rew[slot] = rew[i];
        r.term[slot] = term[i];
    }
}

/* next = (next + n) mod capacity, filled = min(filled + n, capacity). */
__global__ void replay_advance_kernel(ReplayCursor *c, int64_t capacity, int n) {
    c->next = (c->next + n) % capacity;
    int64_t filled = c->filled + n;
    c->filled = filled < capacity ? filled : capacity;
}

/* b.idx(size) uniform over [0, filled) from draw (i, RNG_SAMPLE, *ctr) as the
 * CPU (64 bits modulo the fill), and the rows gathered into b. */
__global__ void replay_sample_kernel(Replay r, Batch b, uint64_t seed, const uint64_t *ctr) {
    uint64_t filled = (uint64_t)r.cursor->filled, c = *ctr;
    int od = r.obs_dim, ad = r.act_dim;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < b.size; i += gridDim.x * blockDim.x) {
        uint4 x = philox_draw(seed, (uint32_t)i, RNG_SAMPLE, c);
        uint64_t w = ((uint64_t)x.x << 32) | x.y;
        int64_t k = filled ? (int64_t)(w % filled) : 0;
        b.idx[i] = k;
        for (int j = 0; j < od; j++) {
            b.obs[(size_t)i * od + j] = r.obs[k * od + j];
            b.next_obs[(size_t)i * od + j] = r.next_obs[k * od + j];
        }
        for (int j = 0; j < ad; j++) b.act[(size_t)i * ad + j] = r.act[k * ad + j];
        b.rew[i] = r.rew[k];
        b.term[i] = r.term[k];
    }
}

/* ------------------------------------------------------------------------ */
/* launchers                                                                */

/* Two kernels: the row copies, then the cursor. */
void cuda_replay_insert(Backend *be, Replay *r, const float *obs, const float *act,
                        const float *rew, const float *next_obs, const float *term, int n) {
    if (n <= 0 || r->capacity <= 0) return;
    replay_insert_kernel<<<grid_for(be, (size_t)n), BLOCK, 0, cuda_stream(be)>>>(
        *r, obs, act, rew, next_obs, term, n);
    cudaCheck(cudaGetLastError());
    replay_advance_kernel<<<1, 1, 0, cuda_stream(be)>>>(r->cursor, r->capacity, n);
    cudaCheck(cudaGetLastError());
}

/* Two kernels: draw and gather, then *ctr += 1. */
void cuda_replay_sample(Backend *be, const Replay *r, Batch *b, uint64_t seed, uint64_t *ctr) {
    if (b->size > 0) {
        replay_sample_kernel<<<grid_for(be, (size_t)b->size), BLOCK, 0, cuda_stream(be)>>>(
            *r, *b, seed, ctr);
        cudaCheck(cudaGetLastError());
    }
    cuda_counter_increment(be, ctr);
}
