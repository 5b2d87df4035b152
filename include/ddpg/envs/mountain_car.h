/* mountain_car.h - MountainCarContinuous-v0, as
 * gymnasium/envs/classic_control/continuous_mountain_car.py defines it: drive an
 * underpowered car out of a valley, rocking it back and forth, to the flag on
 * the right hill. +100 at the flag, -0.1 a^2 every step.
 *
 * It matches Gymnasium under NumPy 2 bit for bit (tests/test_mountain_car.c),
 * which takes care: the reference's state is np.float32 after a step
 * (np.array([position, velocity], dtype=np.float32)) but float64 right after a
 * reset (np.array([uniform, 0])), and NumPy 2's promotion rules (NEP 50: a
 * Python float takes the dtype of the numpy operand, in comparisons too) give
 * every operation its own precision. With the float32 action a (the action
 * space's dtype):
 *
 *   gravity  g = 0.0025 * math.cos(3 * position)    double (math.cos); 3 * position
 *                                                   is float32 at later steps
 *   force       a when -1 <= a <= 1 (np.float32); the Python float +-1.0 when
 *               clipped (min/max return their Python bound)
 *   dv          in range: float32, a * 0.0015f - (float)g
 *               clipped:  double,  +-0.0015 - g
 *   velocity += dv, then clip, position += velocity, then clip:
 *               later steps: float32 (a double dv is rounded to float32 first),
 *                            bounds and goal compared as float32 (0.45f < 0.45:
 *                            a float32 position of 0.45f is at the goal)
 *               first step after a reset: float64
 *   reward      double, from the unclipped action; the new state is rounded to
 *               float32.
 *
 * The state keeps doubles and a flag for the first step. */
#ifndef DDPG_ENVS_MOUNTAIN_CAR_H
#define DDPG_ENVS_MOUNTAIN_CAR_H

#include "ddpg/env_api.h"

#define MOUNTAIN_CAR_MIN_POSITION (-1.2)
#define MOUNTAIN_CAR_MAX_POSITION 0.6
#define MOUNTAIN_CAR_MAX_SPEED 0.07
#define MOUNTAIN_CAR_GOAL_POSITION 0.45
#define MOUNTAIN_CAR_GOAL_VELOCITY 0.0 /* the registered env's goal_velocity */
#define MOUNTAIN_CAR_POWER 0.0015
#define MOUNTAIN_CAR_GRAVITY 0.0025
#define MOUNTAIN_CAR_MAX_ACTION 1.0
#define MOUNTAIN_CAR_GOAL_REWARD 100.0
#define MOUNTAIN_CAR_MAX_STEPS 999 /* TimeLimit of the registered MountainCarContinuous-v0 */
#define MOUNTAIN_CAR_OBS_DIM 2
#define MOUNTAIN_CAR_ACT_DIM 1

/* The fewest steps an episode can take. The car starts at rest at
 * position >= -0.6 and terminates at position >= 0.45, 1.05 further. A step
 * changes the velocity by at most 0.0015 (full force) + 0.0025 (gravity) =
 * 0.004, and the velocity is clipped to 0.07, so after k steps v_k <=
 * min(0.004 k, 0.07) and the position has moved at most sum_k v_k:
 *   23 steps: 0.004 (1 + ... + 17) + 6 * 0.07 = 0.612 + 0.42 = 1.032 < 1.05,
 *   24 steps: 1.102.
 * No episode ends before its 24th step; the float32 roundings (~1e-8 a step)
 * cannot close the 0.018 gap. (Full throttle along the velocity, the fastest
 * controller we know, needs 75 from the best start: tests/test_mountain_car.c.) */
#define MOUNTAIN_CAR_MIN_EPISODE_STEPS 24

typedef struct {
    double position; /* float32 values after a step; float64 after a reset */
    double velocity;
    int f64;         /* 1: as reset left it, no step since: the float64 arithmetic */
    int pad;         /* 0, so that no byte of a saved state is uninitialised */
} MountainCar;

/* Plain arithmetic below, rounded as NumPy rounds it: a * b + c is two
 * roundings, never one FMA. The host compilers get -ffp-contract=off (GCC
 * contracts otherwise, as C++ or -std=gnu11, with -march=x86-64-v3) and
 * kernels/env.cu -fmad=false; `make test-env-ptx` checks env.cu's PTX. */
/* Whether min(max(a, -1.0), 1.0) returns a Python bound rather than a. NaN
 * is in range, as with Python's min/max. */
DDPG_HD int mountain_car_clipped(float a) {
    return a < (float)-MOUNTAIN_CAR_MAX_ACTION || a > (float)MOUNTAIN_CAR_MAX_ACTION;
}

/* The velocity change of action a at the gravity term g (the table above). */
DDPG_HD double mountain_car_dv(float a, double g) {
    if (mountain_car_clipped(a))
        return (a > 0.0f ? MOUNTAIN_CAR_POWER : -MOUNTAIN_CAR_POWER) - g;
    return a * (float)MOUNTAIN_CAR_POWER - (float)g;
}

/* 0.0025 cos(3 x). The device's cos may differ from glibc's by an ulp, and
 * then so may the GPU's trajectories from Gymnasium's. */
DDPG_HD double mountain_car_gravity(double three_x) {
    return MOUNTAIN_CAR_GRAVITY * cos(three_x);
}

/* The first step after a reset: velocity and position float64 (dv as the
 * table says), bounds and goal compared as doubles. */
DDPG_HD int mountain_car_step_f64(MountainCar *s, float a) {
    double p = s->position;
    double v = s->velocity;
    v = v + mountain_car_dv(a, mountain_car_gravity(3.0 * p));
    if (v > MOUNTAIN_CAR_MAX_SPEED) v = MOUNTAIN_CAR_MAX_SPEED;
    if (v < -MOUNTAIN_CAR_MAX_SPEED) v = -MOUNTAIN_CAR_MAX_SPEED;
    p = p + v;
    if (p > MOUNTAIN_CAR_MAX_POSITION) p = MOUNTAIN_CAR_MAX_POSITION;
    if (p < MOUNTAIN_CAR_MIN_POSITION) p = MOUNTAIN_CAR_MIN_POSITION;
    if (p == MOUNTAIN_CAR_MIN_POSITION && v < 0.0) v = 0.0; /* inelastic wall */
    s->position = (float)p, s->velocity = (float)v;
    return p >= MOUNTAIN_CAR_GOAL_POSITION && v >= MOUNTAIN_CAR_GOAL_VELOCITY;
}

/* Later steps: float32, with the bounds rounded to float32. Clipping to the
 * rounded bound gives what Python's clip to the double bound gives once the
 * state is stored as float32. */
DDPG_HD int mountain_car_step_f32(MountainCar *s, float a) {
    float p = (float)s->position;
    float v = (float)s->velocity;
    double g = mountain_car_gravity(3.0f * p);
    v = v + (float)mountain_car_dv(a, g);
    if (v > (float)MOUNTAIN_CAR_MAX_SPEED) v = (float)MOUNTAIN_CAR_MAX_SPEED;
    if (v < (float)-MOUNTAIN_CAR_MAX_SPEED) v = (float)-MOUNTAIN_CAR_MAX_SPEED;
    p = p + v;
    if (p > (float)MOUNTAIN_CAR_MAX_POSITION) p = (float)MOUNTAIN_CAR_MAX_POSITION;
    if (p < (float)MOUNTAIN_CAR_MIN_POSITION) p = (float)MOUNTAIN_CAR_MIN_POSITION;
    if (p == (float)MOUNTAIN_CAR_MIN_POSITION && v < 0.0f) v = 0.0f;
    s->position = p, s->velocity = v;
    return p >= (float)MOUNTAIN_CAR_GOAL_POSITION && v >= (float)MOUNTAIN_CAR_GOAL_VELOCITY;
}

/* The reward as Gymnasium's Python float: 100 at the goal, minus
 * math.pow(a, 2) * 0.1 of the unclipped action (a * a is exact in double). */
DDPG_HD double mountain_car_reward(float a, int terminated) {
    double sq = (double)a * (double)a;
    return (terminated ? MOUNTAIN_CAR_GOAL_REWARD : 0.0) - sq * 0.1;
}

/* ---- the environment's three functions ---- */

/* position ~ U(-0.6, -0.4), at rest; float64 until the first step */
DDPG_HD void mountain_car_reset(MountainCar *s, EnvRng *rng) {
    s->position = env_uniform_in(rng, -0.6, -0.4);
    s->velocity = 0.0;
    s->f64 = 1;
    s->pad = 0;
}

DDPG_HD float mountain_car_step(MountainCar *s, const float *act, int *terminated) {
    int term = s->f64 ? mountain_car_step_f64(s, act[0]) : mountain_car_step_f32(s, act[0]);
    s->f64 = 0;
    *terminated = term;
    return (float)mountain_car_reward(act[0], term);
}

DDPG_HD void mountain_car_observe(const MountainCar *s, float *obs /* (2) */) {
    obs[0] = (float)s->position;
    obs[1] = (float)s->velocity;
}

DDPG_ENV_FUNCTIONS(mountain_car, MountainCar)

#ifndef __CUDACC__
/* Any position and velocity, as float32 (a state after a step): random
 * transitions. */
static inline void mountain_car_random_state(void *state, EnvRng *rng) {
    MountainCar *s = (MountainCar *)state;
    s->position = (float)env_uniform_in(rng, MOUNTAIN_CAR_MIN_POSITION, MOUNTAIN_CAR_MAX_POSITION);
    s->velocity = (float)env_uniform_in(rng, -MOUNTAIN_CAR_MAX_SPEED, MOUNTAIN_CAR_MAX_SPEED);
    s->f64 = 0;
    s->pad = 0;
}

static inline const EnvSpec *mountain_car_spec(void) {
    static const EnvSpec spec = {
        DDPG_ENV_BINDING(mountain_car, MountainCar),
        .id = "MountainCarContinuous-v0",
        .alias = "mountaincar",
        .about = "drive an underpowered car out of a valley to the flag (solved: 90)",
        .obs_dim = MOUNTAIN_CAR_OBS_DIM,
        .act_dim = MOUNTAIN_CAR_ACT_DIM,
        .act_low = {(float)-MOUNTAIN_CAR_MAX_ACTION},
        .act_high = {(float)MOUNTAIN_CAR_MAX_ACTION},
        .max_steps = MOUNTAIN_CAR_MAX_STEPS,
        .min_episode_steps = MOUNTAIN_CAR_MIN_EPISODE_STEPS,
        .solved_return = 90.0, /* reward_threshold of the registered env */
        /* The Stable-Baselines3 zoo's DDPG for this env (hyperparams/ddpg.yml):
         * Ornstein-Uhlenbeck noise of sigma 0.5. The reward for the flag is
         * sparse; small uncorrelated noise rarely finds it and the policy
         * learns to stand still. The learning rates stay the notebook's at any
         * --envs: at 256 envs the scaled 5e-3 (chosen on Pendulum) solved 1 of
         * 3 seeds within 1M env steps, 1e-3 all 3 in 3,040-4,288 updates
         * (bench/results/solve_study_2026-11-30.md). */
        .defaults = "noise = ou\nnoise-sigma = 0.5\nactor-lr = 0.001\ncritic-lr = 0.001\n",
        .random_state = mountain_car_random_state,
    };
    return &spec;
}
#endif

#endif /* DDPG_ENVS_MOUNTAIN_CAR_H */
