/* env.h - N environments of one kind stepping in lockstep on a backend.
 *
 * What an environment is: env_api.h. Which ones there are: envs/registry.h
 * (env_find). This file holds what every environment shares: the batch of
 * states, the time limit, the auto-reset, episode returns and the log of
 * finished episodes, and env_step_one, the one step of one env that the CPU
 * backend's loop and the CUDA kernel both run. */
#ifndef DDPG_ENV_H
#define DDPG_ENV_H

#include <stdint.h>

#include "ddpg/env_api.h"
#include "ddpg/replay.h"

typedef struct Backend Backend;
typedef struct TensorList TensorList;

/* Finished episodes, appended by the env step, drained by the host. */
typedef struct {
    int64_t capacity;     /* records the ring holds */
    float *ret;           /* (capacity) device: episode return */
    int32_t *len;         /* (capacity) device: episode length */
    int32_t *env;         /* (capacity) device: env index */
    int64_t *step;        /* (capacity) device: vectorized step at which it ended */
    int64_t *count;       /* (1) device: records ever appended */
} EpisodeLog;

typedef struct {
    const EnvSpec *spec;  /* host: what the envs are */
    int n;                /* environments */
    int obs_dim, act_dim, state_bytes;
    int max_steps;        /* time limit (the spec's) */
    int once;             /* 1: each env plays one episode, then stands still (evaluation) */
    int truncation_as_terminal; /* 1: term = terminated or truncated (the notebook's done) */
    uint64_t seed;        /* reset RNG key */
    uint8_t *state;       /* (n, state_bytes) device: each env's State */
    int32_t *t;           /* (n) device: steps taken in the current episode; -1: done (once) */
    float *ep_return;     /* (n) device: return of the current episode so far */
    int64_t *resets;      /* (n) device: resets so far per env (RNG counter) */
    int64_t *vstep;       /* (1) device: vectorized steps taken */
    EpisodeLog log;
} VecEnv;

/* ---- the registry (src/envs/registry.c) ---- */

/* The environment called name (its Gymnasium id or its alias), or NULL. */
const EnvSpec *env_find(const char *name);
/* Adds an environment that is not in envs/registry.h (one of a program's own,
 * or of the tests). 0, or -1 when its name is taken or the table is full. */
int env_register(const EnvSpec *spec);
/* The i-th environment known, or NULL past the last. */
const EnvSpec *env_at(int i);

/* ---- a batch of envs ---- */

/* Lists the envs' buffers under prefix: their states and counters (state),
 * the episode log (work, but for its record count). */
void env_tensors(VecEnv *e, const EnvSpec *spec, int n, uint64_t seed, int64_t log_capacity,
                 const char *prefix, TensorList *l);

/* Records the episode log must hold to be drained every `interval`
 * vectorized steps without losing one: every env may finish an episode
 * every spec->min_episode_steps steps. */
int64_t env_log_capacity(const EnvSpec *spec, int n, int interval);

/* On their own (tests, benchmarks): 0, or -1 when out of memory. */
int env_create(VecEnv *e, Backend *be, const EnvSpec *spec, int n, uint64_t seed,
               int64_t log_capacity);
void env_destroy(VecEnv *e, Backend *be);

/* Appends n transitions of spec's environment to r from random states
 * (spec->random_state, or start states) and uniformly random actions, not
 * from episodes: a full replay for benchmarks and tests without training, on
 * any backend (made on the host, copied over in chunks). The same seed gives
 * the same transitions. Returns 0, or -1 when a staging buffer cannot be
 * allocated. */
int env_fill_random(Backend *be, const EnvSpec *spec, Replay *r, int n, uint64_t seed);

/* ------------------------------------------------------------------------ */
/* One env's reset and step, for the CPU loop and the CUDA kernel alike.     */
/* f is the environment's functions (spec->fns on the host; NAME_fns() in a  */
/* kernel); e's buffers are where the backend keeps them.                    */

/* The next record's slot of the episode log: an atomic on the GPU. */
DDPG_HD int64_t env_log_next(int64_t *count) {
#ifdef __CUDA_ARCH__
    return (int64_t)atomicAdd((unsigned long long *)count, 1ULL);
#else
    return (*count)++;
#endif
}

/* A new episode for env i (reset draw (seed, i, RNG_RESET, resets[i])): its
 * observation into obs(n, obs_dim). */
DDPG_HD void env_reset_one(EnvFns f, const VecEnv *e, int i, float *obs) {
    void *s = e->state + (size_t)i * (size_t)f.state_bytes;
    EnvRng rng = env_rng(e->seed, (uint32_t)i, RNG_RESET, (uint64_t)e->resets[i]);
    e->resets[i] += 1;
    f.reset(s, &rng);
    e->t[i] = 0;
    e->ep_return[i] = 0.0f;
    f.observe(s, obs + (size_t)i * e->obs_dim);
}

DDPG_HD void env_copy_obs(float *dst, const float *src, int n) {
    for (int c = 0; c < n; c++) dst[c] = src[c];
}

/* Env i's step with act(n, act_dim): the reward, terminated, truncated (the
 * time limit, as Gymnasium's TimeLimit: it may come with terminated), the
 * true next observation into real_next_obs(n, obs_dim); then, when the
 * episode ended, a record in the log and an auto-reset whose observation goes
 * to next_obs (or, with e->once, the env stands still from then on);
 * otherwise next_obs gets the true next observation too (when it is another
 * buffer). */
DDPG_HD void env_step_one(EnvFns f, const VecEnv *e, int i, const float *act,
                          float *real_next_obs, float *rew, float *term, float *trunc,
                          float *next_obs) {
    void *s = e->state + (size_t)i * (size_t)f.state_bytes;
    float *no = real_next_obs + (size_t)i * e->obs_dim, *nx = next_obs + (size_t)i * e->obs_dim;
    if (e->t[i] < 0) { /* once: this env's episode is over */
        f.observe(s, no);
        if (nx != no) env_copy_obs(nx, no, e->obs_dim);
        rew[i] = 0.0f, term[i] = 0.0f, trunc[i] = 0.0f;
        return;
    }
    int terminated = 0;
    float r = f.step(s, act + (size_t)i * e->act_dim, &terminated);
    f.observe(s, no);
    int32_t t = e->t[i] + 1;
    float ret = e->ep_return[i] + r;
    int truncated = t >= e->max_steps;
    rew[i] = r;
    term[i] = terminated || (truncated && e->truncation_as_terminal) ? 1.0f : 0.0f;
    trunc[i] = truncated ? 1.0f : 0.0f;
    if (terminated || truncated) {
        const EpisodeLog *L = &e->log;
        int64_t slot = env_log_next(L->count);
        if (L->capacity > 0) {
            slot %= L->capacity;
            L->ret[slot] = ret;
            L->len[slot] = t;
            L->env[slot] = i;
            L->step[slot] = *e->vstep;
        }
        if (e->once) {
            e->t[i] = -1;
            if (nx != no) env_copy_obs(nx, no, e->obs_dim);
        } else {
            env_reset_one(f, e, i, next_obs);
        }
    } else {
        e->t[i] = t;
        e->ep_return[i] = ret;
        if (nx != no) env_copy_obs(nx, no, e->obs_dim);
    }
}

#endif
