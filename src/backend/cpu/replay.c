/* replay.c - the ring replay buffer: insert a vectorized step, sample a
 * minibatch uniformly over the filled slots (the mirror of kernels/replay.cu). */
#include <string.h>

#include "cpu_common.h"
#include "ddpg/elem.h"

void cpu_replay_insert(Backend *be, Replay *r, const float *obs, const float *act,
                       const float *rew, const float *next_obs, const float *term, int n) {
    (void)be;
    int od = r->obs_dim, ad = r->act_dim;
    int64_t slot = r->cursor->next;
    for (int i = 0; i < n; i++) {
        memcpy(r->obs + slot * od, obs + (size_t)i * od, sizeof(float) * od);
        memcpy(r->act + slot * ad, act + (size_t)i * ad, sizeof(float) * ad);
        memcpy(r->next_obs + slot * od, next_obs + (size_t)i * od, sizeof(float) * od);
        r->rew[slot] = rew[i];
        r->term[slot] = term[i];
        slot = (slot + 1) % r->capacity;
    }
    ReplayCursor *c = r->cursor;
    c->next = slot;
    c->filled = c->filled + n < r->capacity ? c->filled + n : r->capacity;
}

typedef struct {
    const Replay *r;
    Batch *b;
    uint64_t seed, ctr;
} SampleArgs;

static void sample_rows(void *ctx, size_t lo, size_t hi) {
    const SampleArgs *a = ctx;
    const Replay *r = a->r;
    Batch *b = a->b;
    int od = r->obs_dim, ad = r->act_dim;
    uint64_t filled = (uint64_t)r->cursor->filled;
    /* All indices first, with the rows' cache lines requested, then the
     * copies: the random rows are mostly out of cache, and the misses of a
     * whole batch then overlap instead of coming one at a time. */
    for (size_t i = lo; i < hi; i++) {
        Philox4 x = philox4x32(a->seed, (uint32_t)i, RNG_SAMPLE, a->ctr);
        /* 64 random bits modulo the fill: bias below 2^-30 for any real capacity */
        uint64_t w = ((uint64_t)x.v[0] << 32) | x.v[1];
        int64_t k = filled ? (int64_t)(w % filled) : 0;
        b->idx[i] = k;
        __builtin_prefetch(r->obs + k * od);
        __builtin_prefetch(r->act + k * ad);
        __builtin_prefetch(r->next_obs + k * od);
        __builtin_prefetch(r->rew + k);
        __builtin_prefetch(r->term + k);
    }
    for (size_t i = lo; i < hi; i++) {
        int64_t k = b->idx[i];
        /* rows of a few floats: loops, not memcpy calls */
        for (int j = 0; j < od; j++) b->obs[i * od + j] = r->obs[k * od + j];
        for (int j = 0; j < ad; j++) b->act[i * ad + j] = r->act[k * ad + j];
        for (int j = 0; j < od; j++) b->next_obs[i * od + j] = r->next_obs[k * od + j];
        b->rew[i] = r->rew[k];
        b->term[i] = r->term[k];
    }
}

void cpu_replay_sample(Backend *be, const Replay *r, Batch *b, uint64_t seed, uint64_t *ctr) {
    SampleArgs a = {r, b, seed, *ctr};
    cpu_for(be, (size_t)b->size, 1, 64, sample_rows, &a);
    *ctr += 1;
}
