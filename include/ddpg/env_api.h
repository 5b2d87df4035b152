/* env_api.h - what an environment is.
 *
 * An environment is one header under include/ddpg/envs/ (pendulum.h is the
 * model, PufferLib's C environments the inspiration) holding:
 *
 *   - its constants;
 *   - its state struct, one instance's state: plain data (it is copied,
 *     saved in checkpoints byte for byte, and lives in GPU memory);
 *   - three functions that compile for the host and the device (DDPG_HD):
 *
 *       void  NAME_reset(State *s, EnvRng *rng);                 a start state
 *       float NAME_step(State *s, const float *act, int *terminated);
 *                                          one step: the new state, the reward,
 *                                          *terminated = 1 at a terminal state
 *       void  NAME_observe(const State *s, float *obs);          the observation
 *
 *   - DDPG_ENV_FUNCTIONS(NAME, State), which makes NAME_fns(): the three
 *     functions behind one type-erased table (EnvFns);
 *   - NAME_spec(), host only: what the trainer needs to know (EnvSpec: the
 *     Gymnasium id and a short alias, the observation and action sizes, the
 *     action bounds, the time limit, the solved threshold, defaults of its
 *     own; DDPG_ENV_BINDING(NAME, State) fills in .name and .fns);
 *
 * and an entry in include/ddpg/envs/registry.h. The time limit, the auto-reset
 * on terminated or truncated, episode returns and the log of finished episodes
 * are the trainer's (env_step_one in env.h), the same code for every
 * environment on the CPU and on the GPU: an environment only knows its dynamics.
 */
#ifndef DDPG_ENV_API_H
#define DDPG_ENV_API_H

#include <stddef.h>
#include <stdint.h>

#include "ddpg/elem.h"

#define ENV_MAX_ACT_DIM 8 /* DDPG_MAX_ACT_DIM of backend.h */

/* ------------------------------------------------------------------------ */
/* Randomness of a reset: uniform doubles from a counter-based stream of its  */
/* own (Philox keyed by the run's seed, counted by env index and reset), so   */
/* that every backend and every thread count draws the same start states.    */

typedef struct {
    uint64_t key;      /* the envs' seed */
    uint32_t stream;   /* the env's index */
    uint32_t purpose;  /* RNG_RESET (elem.h), RNG_FILL for random transitions */
    uint64_t counter;  /* the env's reset count */
    uint32_t block;    /* Philox blocks drawn so far in this reset */
    int used;          /* 32-bit words of `w` used (4: draw a new block) */
    uint32_t w[4];
} EnvRng;

DDPG_HD EnvRng env_rng(uint64_t key, uint32_t stream, uint32_t purpose, uint64_t counter) {
    EnvRng r;
    r.key = key;
    r.stream = stream;
    r.purpose = purpose;
    r.counter = counter;
    r.block = 0;
    r.used = 4;
    r.w[0] = r.w[1] = r.w[2] = r.w[3] = 0;
    return r;
}

/* Uniform in [0, 1) with 53 random bits: two per Philox block, the first
 * block at the counter (stream, purpose, counter), the next ones at
 * counter + (block << 40). */
DDPG_HD double env_uniform(EnvRng *r) {
    if (r->used >= 4) {
        Philox4 x = philox4x32(r->key, r->stream, r->purpose,
                               r->counter + ((uint64_t)r->block << 40));
        r->w[0] = x.v[0], r->w[1] = x.v[1], r->w[2] = x.v[2], r->w[3] = x.v[3];
        r->block += 1;
        r->used = 0;
    }
    double u = rng_u01d(r->w[r->used], r->w[r->used + 1]);
    r->used += 2;
    return u;
}

/* Uniform in [lo, hi): lo + (hi - lo) u, as numpy's Generator.uniform,
 * rounded twice on the device too (no FMA), so that both backends start
 * their episodes from the same states. */
DDPG_HD double env_uniform_in(EnvRng *r, double lo, double hi) {
    double u = env_uniform(r);
#ifdef __CUDA_ARCH__
    return __dadd_rn(lo, __dmul_rn(hi - lo, u));
#else
    return lo + (hi - lo) * u;
#endif
}

/* ------------------------------------------------------------------------ */
/* The three functions, type-erased.                                         */

typedef void (*EnvResetFn)(void *state, EnvRng *rng);
typedef float (*EnvStepFn)(void *state, const float *act, int *terminated);
typedef void (*EnvObserveFn)(const void *state, float *obs);

typedef struct {
    EnvResetFn reset;
    EnvStepFn step;
    EnvObserveFn observe;
    int state_bytes; /* sizeof(State) */
} EnvFns;

/* NAME_fns(): NAME_reset, NAME_step and NAME_observe behind EnvFns. Called in
 * a kernel, the table is built in registers and the calls are inlined. */
#define DDPG_ENV_FUNCTIONS(NAME, State)                                                       \
    DDPG_HD void NAME##_reset_any(void *s, EnvRng *r) { NAME##_reset((State *)s, r); }       \
    DDPG_HD float NAME##_step_any(void *s, const float *a, int *term) {                      \
        return NAME##_step((State *)s, a, term);                                              \
    }                                                                                         \
    DDPG_HD void NAME##_observe_any(const void *s, float *o) {                              \
        NAME##_observe((const State *)s, o);                                                  \
    }                                                                                         \
    DDPG_HD EnvFns NAME##_fns(void) {                                                         \
        EnvFns f = {NAME##_reset_any, NAME##_step_any, NAME##_observe_any, (int)sizeof(State)}; \
        return f;                                                                             \
    }

/* ------------------------------------------------------------------------ */
/* The spec.                                                                 */

typedef struct EnvSpec {
    const char *name;        /* NAME of its header's functions: "pendulum" */
    const char *id;          /* Gymnasium id: "Pendulum-v1" (checkpoints record it) */
    const char *alias;       /* short name for --env: "pendulum" */
    const char *about;       /* one line for --help */
    int obs_dim, act_dim;    /* act_dim <= ENV_MAX_ACT_DIM */
    float act_low[ENV_MAX_ACT_DIM], act_high[ENV_MAX_ACT_DIM];
    int max_steps;           /* time limit: an episode is truncated after this many steps */
    int min_episode_steps;   /* the fewest steps an episode can take (sizes the episode
                                log between two reads; 1 when nothing better is known) */
    double solved_return;    /* the evaluation mean return that counts as solved */
    /* Options of its own, under the command line and --config: "key = value"
     * lines with the long option names ("noise = ou\nnoise-sigma = 0.5"), or NULL. */
    const char *defaults;
    EnvFns fns;              /* host functions (the CPU backend's loop) */
    /* A state drawn from the whole state space, for random transitions in
     * tests and benchmarks (env_fill_random); NULL: a start state. */
    EnvResetFn random_state;
} EnvSpec;

/* A spec's .name and .fns: NAME and its functions (the CUDA backend finds
 * NAME's kernels by .name). */
#define DDPG_ENV_BINDING(NAME, State)                                                         \
    .name = #NAME,                                                                            \
    .fns = {NAME##_reset_any, NAME##_step_any, NAME##_observe_any, (int)sizeof(State)}

#endif /* DDPG_ENV_API_H */
