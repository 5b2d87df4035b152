/* env.c - the vectorized Pendulum-v1 state's buffers on a backend, and random
 * Pendulum transitions for benchmarks and tests. */
#include "ddpg/env.h"

#include <stdlib.h>
#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/elem.h"
#include "ddpg/tensor.h"

void env_tensors(VecEnv *e, int n, uint64_t seed, int64_t log_capacity, const char *prefix,
                 TensorList *l) {
    e->n = n;
    e->max_steps = PENDULUM_MAX_STEPS;
    e->seed = seed;
    e->log.capacity = log_capacity;
    size_t c = (size_t)log_capacity;
    TENSOR_ADD(l, prefix, "th", &e->th, (size_t)n, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "thdot", &e->thdot, (size_t)n, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "t", &e->t, (size_t)n, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "ep_return", &e->ep_return, (size_t)n, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "resets", &e->resets, (size_t)n, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "vstep", &e->vstep, 1, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "log.count", &e->log.count, 1, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "log.ret", &e->log.ret, c, TENSOR_WORK);
    TENSOR_ADD(l, prefix, "log.len", &e->log.len, c, TENSOR_WORK);
    TENSOR_ADD(l, prefix, "log.env", &e->log.env, c, TENSOR_WORK);
    TENSOR_ADD(l, prefix, "log.step", &e->log.step, c, TENSOR_WORK);
}

int env_create(VecEnv *e, Backend *be, int n, uint64_t seed, int64_t log_capacity) {
    memset(e, 0, sizeof *e);
    TensorList l;
    tensors_init(&l);
    env_tensors(e, n, seed, log_capacity, "env.", &l);
    int rc = tensors_alloc(be, &l, NULL);
    tensors_release(&l);
    return rc;
}

void env_destroy(VecEnv *e, Backend *be) {
    TensorList l;
    tensors_init(&l);
    env_tensors(e, e->n, e->seed, e->log.capacity, "env.", &l);
    tensors_free(be, &l);
    tensors_release(&l);
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
