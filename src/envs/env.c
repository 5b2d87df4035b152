/* env.c - a batch of envs' buffers on a backend, and random transitions
 * for benchmarks and tests. */
#include "ddpg/env.h"

#include <stdlib.h>
#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/tensor.h"

/* ---- a batch of envs ---- */

void env_tensors(VecEnv *e, const EnvSpec *spec, int n, uint64_t seed, int64_t log_capacity,
                 const char *prefix, TensorList *l) {
    e->spec = spec;
    e->n = n;
    e->obs_dim = spec->obs_dim;
    e->act_dim = spec->act_dim;
    e->state_bytes = spec->fns.state_bytes;
    e->max_steps = spec->max_steps;
    e->seed = seed;
    e->log.capacity = log_capacity;
    size_t c = (size_t)log_capacity;
    TENSOR_ADD(l, prefix, "state", &e->state, (size_t)n * (size_t)e->state_bytes, TENSOR_STATE);
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

int64_t env_log_capacity(const EnvSpec *spec, int n, int interval) {
    int m = spec->min_episode_steps > 0 ? spec->min_episode_steps : 1;
    int64_t per_env = (interval + m - 1) / m; /* episodes one env can end in `interval` steps */
    return (int64_t)n * per_env + 1024;
}

int env_create(VecEnv *e, Backend *be, const EnvSpec *spec, int n, uint64_t seed,
               int64_t log_capacity) {
    memset(e, 0, sizeof *e);
    TensorList l;
    tensors_init(&l);
    env_tensors(e, spec, n, seed, log_capacity, "env.", &l);
    int rc = tensors_alloc(be, &l, NULL);
    tensors_release(&l);
    return rc;
}

void env_destroy(VecEnv *e, Backend *be) {
    TensorList l;
    tensors_init(&l);
    env_tensors(e, e->spec, e->n, e->seed, e->log.capacity, "env.", &l);
    tensors_free(be, &l);
    tensors_release(&l);
    memset(e, 0, sizeof *e);
}

int env_fill_random(Backend *be, const EnvSpec *spec, Replay *r, int n, uint64_t seed) {
    const int od = spec->obs_dim, ad = spec->act_dim, row = 2 * od + ad + 2;
    const EnvFns f = spec->fns;
    EnvResetFn draw = spec->random_state ? spec->random_state : f.reset;
    /* rows per replay_insert: a chunk must not wrap onto itself in the ring */
    int chunk = r->capacity < 4096 ? (int)r->capacity : 4096;
    if (n <= 0 || chunk <= 0) return 0;
    float *host = malloc(sizeof(float) * (size_t)row * (size_t)chunk);
    float *dev = be->alloc(be, sizeof(float) * (size_t)row * (size_t)chunk);
    void *state = malloc((size_t)f.state_bytes);
    int rc = host && dev && state ? 0 : -1;
    for (int i0 = 0; !rc && i0 < n; i0 += chunk) {
        int m = n - i0 < chunk ? n - i0 : chunk;
        float *obs = host, *next_obs = host + (size_t)od * m, *act = next_obs + (size_t)od * m;
        float *rew = act + (size_t)ad * m, *term = rew + m;
        for (int j = 0; j < m; j++) {
            EnvRng rng = env_rng(seed, (uint32_t)(i0 + j), RNG_FILL, 0);
            draw(state, &rng);
            for (int k = 0; k < ad; k++)
                act[(size_t)ad * j + k] =
                    (float)env_uniform_in(&rng, spec->act_low[k], spec->act_high[k]);
            f.observe(state, obs + (size_t)od * j);
            int terminated = 0;
            rew[j] = f.step(state, act + (size_t)ad * j, &terminated);
            f.observe(state, next_obs + (size_t)od * j);
            term[j] = terminated ? 1.0f : 0.0f;
        }
        be->to_device(be, dev, host, sizeof(float) * (size_t)row * (size_t)m);
        be->replay_insert(be, r, dev, dev + (act - host), dev + (rew - host),
                          dev + (next_obs - host), dev + (term - host), m);
    }
    free(host);
    free(state);
    if (dev) be->free(be, dev);
    return rc;
}
