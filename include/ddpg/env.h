/* env.h - N Pendulum-v1 environments stepping in lockstep on a backend. */
#ifndef DDPG_ENV_H
#define DDPG_ENV_H

#include <stdint.h>

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
    int n;                /* environments */
    int max_steps;        /* time limit (200 for Pendulum-v1) */
    uint64_t seed;        /* reset RNG key */
    double *th;           /* (n) device: angle */
    double *thdot;        /* (n) device: angular velocity */
    int32_t *t;           /* (n) device: steps taken in the current episode */
    float *ep_return;     /* (n) device: return of the current episode so far */
    int64_t *resets;      /* (n) device: resets so far per env (RNG counter) */
    int64_t *vstep;       /* (1) device: vectorized steps taken */
    EpisodeLog log;
} VecEnv;

/* Lists the envs' buffers under prefix: their states and counters (state),
 * the episode log (work, but for its record count). */
void env_tensors(VecEnv *e, int n, uint64_t seed, int64_t log_capacity, const char *prefix,
                 TensorList *l);

/* On their own (tests, benchmarks): 0, or -1 when out of memory. */
int env_create(VecEnv *e, Backend *be, int n, uint64_t seed, int64_t log_capacity);
void env_destroy(VecEnv *e, Backend *be);

/* Appends n Pendulum transitions to r from uniformly random states (angle in
 * [-pi, pi), speed in [-8, 8)) and actions (in [-2, 2)), not from episodes: a
 * full replay for benchmarks and tests without training, on any backend (made
 * on the host, copied over in chunks). The same seed gives the same
 * transitions. Returns 0, or -1 when a staging buffer cannot be allocated. */
int pendulum_fill_random(Backend *be, Replay *r, int n, uint64_t seed);

#endif
