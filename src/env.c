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

void pendulum_fill_random(Backend *be, Replay *r, int n, uint64_t seed) {
    float obs[PENDULUM_OBS_DIM], next_obs[PENDULUM_OBS_DIM], act, rew, term = 0.0f;
    for (int i = 0; i < n; i++) {
        Philox4 x = philox4x32(seed, (uint32_t)i, RNG_FILL, 0);
        double th = -DDPG_PI + 2.0 * DDPG_PI * rng_u01f(x.v[0]);
        double thdot = -PENDULUM_MAX_SPEED + 2.0 * PENDULUM_MAX_SPEED * rng_u01f(x.v[1]);
        act = (float)(-PENDULUM_MAX_TORQUE + 2.0 * PENDULUM_MAX_TORQUE * rng_u01f(x.v[2]));
        pendulum_obs_elem(th, thdot, obs);
        rew = (float)pendulum_step_elem(&th, &thdot, act);
        pendulum_obs_elem(th, thdot, next_obs);
        be->replay_insert(be, r, obs, &act, &rew, next_obs, &term, 1);
    }
}
