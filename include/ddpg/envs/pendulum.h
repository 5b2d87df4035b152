/* pendulum.h - Pendulum-v1, as gymnasium/envs/classic_control/pendulum.py
 * defines it: swing a pendulum up and keep it upright with a bounded torque.
 *
 * The model of an environment (env_api.h says what one is). The state is
 * float64, like the reference's numpy state, so the dynamics match
 * Gymnasium's to the last bit (tests/test_pendulum.c); the observation is
 * float32 [cos th, sin th, thdot]. It never terminates: every episode is
 * truncated at 200 steps. */
#ifndef DDPG_ENVS_PENDULUM_H
#define DDPG_ENVS_PENDULUM_H

#include "ddpg/env_api.h"

#define PENDULUM_MAX_SPEED 8.0
#define PENDULUM_MAX_TORQUE 2.0
#define PENDULUM_DT 0.05
#define PENDULUM_G 10.0
#define PENDULUM_M 1.0
#define PENDULUM_L 1.0
#define PENDULUM_MAX_STEPS 200 /* TimeLimit of the registered Pendulum-v1 */
#define PENDULUM_OBS_DIM 3
#define PENDULUM_ACT_DIM 1

typedef struct {
    double th;    /* angle, 0 = upright */
    double thdot; /* angular velocity */
} Pendulum;

/* ((x + pi) mod 2pi) - pi with Python's floor-mod semantics. */
DDPG_HD double pendulum_angle_normalize(double x) {
    const double two_pi = 2.0 * DDPG_PI;
    double r = fmod(x + DDPG_PI, two_pi);
    if (r < 0.0) r += two_pi;
    return r - DDPG_PI;
}

DDPG_HD double pendulum_clip(double x, double lo, double hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* One step of the dynamics. Updates (*th, *thdot) and returns the reward. */
DDPG_HD double pendulum_step_elem(double *th, double *thdot, float action) {
    double u = pendulum_clip((double)action, -PENDULUM_MAX_TORQUE, PENDULUM_MAX_TORQUE);
    double t = *th, w = *thdot;
    double tn = pendulum_angle_normalize(t);
    double cost = tn * tn + 0.1 * w * w + 0.001 * (u * u);
    double nw = w + (3.0 * PENDULUM_G / (2.0 * PENDULUM_L) * sin(t) +
                     3.0 / (PENDULUM_M * PENDULUM_L * PENDULUM_L) * u) * PENDULUM_DT;
    nw = pendulum_clip(nw, -PENDULUM_MAX_SPEED, PENDULUM_MAX_SPEED);
    *th = t + nw * PENDULUM_DT;
    *thdot = nw;
    return -cost;
}

DDPG_HD void pendulum_obs_elem(double th, double thdot, float *obs /* (3) */) {
    obs[0] = (float)cos(th);
    obs[1] = (float)sin(th);
    obs[2] = (float)thdot;
}

/* ---- the environment's three functions ---- */

/* th ~ U(-pi, pi), thdot ~ U(-1, 1) */
DDPG_HD void pendulum_reset(Pendulum *s, EnvRng *rng) {
    s->th = env_uniform_in(rng, -DDPG_PI, DDPG_PI);
    s->thdot = env_uniform_in(rng, -1.0, 1.0);
}

DDPG_HD float pendulum_step(Pendulum *s, const float *act, int *terminated) {
    *terminated = 0;
    return (float)pendulum_step_elem(&s->th, &s->thdot, act[0]);
}

DDPG_HD void pendulum_observe(const Pendulum *s, float *obs) {
    pendulum_obs_elem(s->th, s->thdot, obs);
}

DDPG_ENV_FUNCTIONS(pendulum, Pendulum)

#ifndef __CUDACC__
/* Any angle, any speed the dynamics allow: random transitions. */
static inline void pendulum_random_state(void *state, EnvRng *rng) {
    Pendulum *s = (Pendulum *)state;
    s->th = env_uniform_in(rng, -DDPG_PI, DDPG_PI);
    s->thdot = env_uniform_in(rng, -PENDULUM_MAX_SPEED, PENDULUM_MAX_SPEED);
}

static inline const EnvSpec *pendulum_spec(void) {
    static const EnvSpec spec = {
        DDPG_ENV_BINDING(pendulum, Pendulum),
        .id = "Pendulum-v1",
        .alias = "pendulum",
        .about = "swing a pendulum up and hold it (solved: -200)",
        .obs_dim = PENDULUM_OBS_DIM,
        .act_dim = PENDULUM_ACT_DIM,
        .act_low = {(float)-PENDULUM_MAX_TORQUE},
        .act_high = {(float)PENDULUM_MAX_TORQUE},
        .max_steps = PENDULUM_MAX_STEPS,
        .min_episode_steps = PENDULUM_MAX_STEPS, /* it never terminates */
        .solved_return = -200.0, /* the notebook's threshold */
        .defaults = NULL,        /* the notebook's defaults are the program's */
        .random_state = pendulum_random_state,
    };
    return &spec;
}
#endif

#endif /* DDPG_ENVS_PENDULUM_H */
