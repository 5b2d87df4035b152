/* reach.h - Reach-v0, an environment that lives only in the tests: it proves
 * that adding one is this header and one line (env_register in
 * tests/test_envs.c, or an entry in include/ddpg/envs/registry.h), and it has
 * what the built-in ones lack: two action dimensions with bounds of their own,
 * and episodes that end at a goal within a few steps.
 *
 * A point in the plane starts at distance 0.5 to 1 from the origin and moves
 * by the action each step; reward -|p| a step, +10 on reaching |p| < 0.1,
 * which terminates the episode. Time limit 40 steps. */
#ifndef DDPG_TESTS_ENVS_REACH_H
#define DDPG_TESTS_ENVS_REACH_H

#include "ddpg/env_api.h"

#define REACH_MAX_STEPS 40
#define REACH_GOAL 0.1
/* actions: x in [-0.1, 0.1], y in [-0.05, 0.15] */
#define REACH_X_MAX 0.1
#define REACH_Y_LOW (-0.05)
#define REACH_Y_HIGH 0.15

typedef struct {
    double x, y;
} Reach;

DDPG_HD void reach_reset(Reach *s, EnvRng *rng) {
    double r = env_uniform_in(rng, 0.5, 1.0), a = env_uniform_in(rng, -DDPG_PI, DDPG_PI);
    s->x = r * cos(a);
    s->y = r * sin(a);
}

DDPG_HD double reach_clip(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

DDPG_HD float reach_step(Reach *s, const float *act, int *terminated) {
    s->x += reach_clip(act[0], -REACH_X_MAX, REACH_X_MAX);
    s->y += reach_clip(act[1], REACH_Y_LOW, REACH_Y_HIGH);
    double d = sqrt(s->x * s->x + s->y * s->y);
    *terminated = d < REACH_GOAL;
    return (float)(*terminated ? 10.0 - d : -d);
}

DDPG_HD void reach_observe(const Reach *s, float *obs) {
    obs[0] = (float)s->x;
    obs[1] = (float)s->y;
    obs[2] = (float)sqrt(s->x * s->x + s->y * s->y);
}

DDPG_ENV_FUNCTIONS(reach, Reach)

#ifndef __CUDACC__
static inline const EnvSpec *reach_spec(void) {
    static const EnvSpec spec = {
        DDPG_ENV_BINDING(reach, Reach),
        .id = "Reach-v0",
        .alias = "reach",
        .about = "move a point to the origin (a test environment)",
        .obs_dim = 3,
        .act_dim = 2,
        .act_low = {(float)-REACH_X_MAX, (float)REACH_Y_LOW},
        .act_high = {(float)REACH_X_MAX, (float)REACH_Y_HIGH},
        .max_steps = REACH_MAX_STEPS,
        /* from 0.5 away, at most |(0.1, 0.15)| = 0.18 a step, to within 0.1: 3 steps */
        .min_episode_steps = 3,
        .solved_return = 5.0,
        .defaults = "start-steps = 300\nupdate-after = 200\neval-every = 500\n",
        .random_state = NULL,
    };
    return &spec;
}
#endif

#endif
