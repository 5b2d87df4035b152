/* replay.c - allocation of the replay buffer and minibatches on a backend. */
#include "ddpg/replay.h"

#include <string.h>

#include "ddpg/backend.h"

int replay_create(Replay *r, Backend *be, int64_t capacity, int obs_dim, int act_dim) {
    memset(r, 0, sizeof *r);
    r->capacity = capacity;
    r->obs_dim = obs_dim;
    r->act_dim = act_dim;
    size_t c = (size_t)capacity;
    if (!(r->obs = be->alloc(be, sizeof(float) * c * obs_dim)) ||
        !(r->act = be->alloc(be, sizeof(float) * c * act_dim)) ||
        !(r->rew = be->alloc(be, sizeof(float) * c)) ||
        !(r->next_obs = be->alloc(be, sizeof(float) * c * obs_dim)) ||
        !(r->term = be->alloc(be, sizeof(float) * c)) ||
        !(r->meta = be->alloc(be, sizeof(int64_t) * 2)))
        return -1;
    return 0;
}

void replay_destroy(Replay *r, Backend *be) {
    void *bufs[] = {r->obs, r->act, r->rew, r->next_obs, r->term, r->meta};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) be->free(be, bufs[i]);
    memset(r, 0, sizeof *r);
}

int batch_create(Batch *b, Backend *be, int size, int obs_dim, int act_dim) {
    memset(b, 0, sizeof *b);
    b->size = size;
    size_t n = (size_t)size;
    if (!(b->obs = be->alloc(be, sizeof(float) * n * obs_dim)) ||
        !(b->act = be->alloc(be, sizeof(float) * n * act_dim)) ||
        !(b->rew = be->alloc(be, sizeof(float) * n)) ||
        !(b->next_obs = be->alloc(be, sizeof(float) * n * obs_dim)) ||
        !(b->term = be->alloc(be, sizeof(float) * n)) ||
        !(b->idx = be->alloc(be, sizeof(int64_t) * n)))
        return -1;
    return 0;
}

void batch_destroy(Batch *b, Backend *be) {
    void *bufs[] = {b->obs, b->act, b->rew, b->next_obs, b->term, b->idx};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) be->free(be, bufs[i]);
    memset(b, 0, sizeof *b);
}
