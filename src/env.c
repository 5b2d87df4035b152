/* env.c - allocation of the vectorized Pendulum-v1 state on a backend. */
#include "ddpg/env.h"

#include <stdlib.h>
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

int pendulum_fill_random(Backend *be, Replay *r, int n, uint64_t seed) {
    enum { OBS = PENDULUM_OBS_DIM, ROW = 2 * PENDULUM_OBS_DIM + 3 }; /* obs, next_obs, act, rew, term */
    /* rows per replay_insert: a chunk must not wrap onto itself in the ring */
    int chunk = r->capacity < 4096 ? (int)r->capacity : 4096;
    if (n <= 0 || chunk <= 0) return 0;
    float *host = malloc(sizeof(float) * ROW * (size_t)chunk);
    float *dev = be->alloc(be, sizeof(float) * ROW * (size_t)chunk);
    int rc = host && dev ? 0 : -1;
    for (int i0 = 0; !rc && i0 < n; i0 += chunk) {
        int m = n - i0 < chunk ? n - i0 : chunk;
        float *obs = host, *next_obs = host + OBS * m, *act = host + 2 * OBS * m;
        float *rew = act + m, *term = rew + m;
        for (int j = 0; j < m; j++) {
            Philox4 x = philox4x32(seed, (uint32_t)(i0 + j), RNG_FILL, 0);
            double th = -DDPG_PI + 2.0 * DDPG_PI * rng_u01f(x.v[0]);
            double thdot = -PENDULUM_MAX_SPEED + 2.0 * PENDULUM_MAX_SPEED * rng_u01f(x.v[1]);
            act[j] = (float)(-PENDULUM_MAX_TORQUE + 2.0 * PENDULUM_MAX_TORQUE * rng_u01f(x.v[2]));
            pendulum_obs_elem(th, thdot, obs + OBS * j);
            rew[j] = (float)pendulum_step_elem(&th, &thdot, act[j]);
            pendulum_obs_elem(th, thdot, next_obs + OBS * j);
            term[j] = 0.0f;
        }
        be->to_device(be, dev, host, sizeof(float) * ROW * (size_t)m);
        be->replay_insert(be, r, dev, dev + (act - host), dev + (rew - host),
                          dev + (next_obs - host), dev + (term - host), m);
    }
    free(host);
    if (dev) be->free(be, dev);
    return rc;
}
