/* env.c - allocation of the vectorized Pendulum-v1 state on a backend. */
#include "ddpg/env.h"

#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/elem.h"

int env_create(VecEnv *e, Backend *be, int n, uint64_t seed, int64_t log_capacity) {
    memset(e, 0, sizeof *e);
    e->n = n;
    e->max_steps = PENDULUM_MAX_STEPS;
    e->seed = seed;
    e->log.capacity = log_capacity;
    if (!(e->th = be->alloc(be, sizeof(double) * n)) ||
        !(e->thdot = be->alloc(be, sizeof(double) * n)) ||
        !(e->t = be->alloc(be, sizeof(int32_t) * n)) ||
        !(e->ep_return = be->alloc(be, sizeof(float) * n)) ||
        !(e->resets = be->alloc(be, sizeof(int64_t) * n)) ||
        !(e->vstep = be->alloc(be, sizeof(int64_t))) ||
        !(e->log.ret = be->alloc(be, sizeof(float) * log_capacity)) ||
        !(e->log.len = be->alloc(be, sizeof(int32_t) * log_capacity)) ||
        !(e->log.env = be->alloc(be, sizeof(int32_t) * log_capacity)) ||
        !(e->log.step = be->alloc(be, sizeof(int64_t) * log_capacity)) ||
        !(e->log.count = be->alloc(be, sizeof(int64_t))))
        return -1;
    return 0;
}

void env_destroy(VecEnv *e, Backend *be) {
    void *bufs[] = {e->th,      e->thdot,   e->t,       e->ep_return, e->resets,   e->vstep,
                    e->log.ret, e->log.len, e->log.env, e->log.step,  e->log.count};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) be->free(be, bufs[i]);
    memset(e, 0, sizeof *e);
}
