#!/usr/bin/env python3
"""gen_mountain_car_fixtures.py - reference transitions from Gymnasium's own
MountainCarContinuous-v0.

Writes the CSV that tests/test_mountain_car.c compares the C environment
against (`python3 scripts/gen_mountain_car_fixtures.py OUT.csv`).
Dependencies: scripts/requirements-fixtures.txt.

What is recorded, one row per env.step of gymnasium.make(
"MountainCarContinuous-v0") (the registered env with its 999-step TimeLimit):
  * RANDOM_SEEDS episodes: reset(seed=s), actions uniform in [-2, 2] up to the
    truncation at 999 steps;
  * GOAL_SEEDS episodes: reset(seed=s), then a noisy bang-bang controller
    (push along the velocity, |a| uniform in [0.7, 1.5], exactly 1 a fifth of
    the time) that reaches the flag in 78-108 steps: terminated episodes;
  * FIRST_SEEDS episodes: reset(seed=s) and FIRST_STEPS random steps: many first
    steps after a reset, the only ones whose arithmetic is float64;
  * HAND episodes from hand-set states (env.unwrapped.state = np.array(...,
    dtype=np.float32), as after a step): into the left wall at full speed
    (position clipped to -1.2, velocity zeroed), along the velocity clip at
    +-0.07 both ways, past the right end (position clipped to 0.6), at the flag
    moving left (not terminated), and onto 0.45f and the float32 just below it
    (the goal test compares float32: 0.45f < 0.45 terminates).

Actions are drawn from a NumPy RNG, rounded to float32 and handed to Gymnasium
as float32 arrays: the action space's dtype, what a float32 policy gives and
the C environment's action type. The dtype matters: under NumPy 2 (NEP 50) an
in-range float32 action makes the velocity update float32 arithmetic, a clipped
one (min/max then return a Python float) float64; the table in
include/ddpg/envs/mountain_car.h says which operation has which precision.

Columns: seed, episode, t (step index in the episode), f64 (1: the state is
still the float64 array of the reset: the first step), position, velocity
(state before the step), obs0, obs1 (the float32 observation before the step:
reset's, or the previous step's), action, next_position, next_velocity (state
after), next_obs0, next_obs1 (the observation the step returned), reward,
terminated, truncated. States and the reward are written with repr of the
Python float (shortest round-trip, exact for float32 and float64 values alike),
float32 values with NumPy's shortest float32 representation, so strtod / strtof
read them exactly.
"""
import csv
import sys

import gymnasium as gym
import numpy as np

ENV_ID = "MountainCarContinuous-v0"
RANDOM_SEEDS = [0]
RANDOM_RANGE = 2.0
GOAL_SEEDS = range(100, 116)
FIRST_SEEDS = range(200, 240)
FIRST_STEPS = 3
HAND_SEED = 300
HAND_STEPS = 60
# (position, velocity, direction of the push) of the hand-set episodes
HAND_STARTS = [
    (-0.9, -0.069, -1.0),  # left at the speed clip, into the wall, pushed against it
    (-0.9, 0.069, 1.0),  # pushed down into the valley: the clip at +0.07
    (0.2, -0.069, -1.0),  # the clip at -0.07 from the right, then the wall
    (0.58, 0.06, 1.0),  # past the right end: position clipped to 0.6
    (0.5, -0.01, -1.0),  # beyond the flag moving left: not at the goal
]
FLOAT32_GOAL_START = 0.40  # start of the episodes that land on 0.45f

COLUMNS = ["seed", "episode", "t", "f64", "position", "velocity", "obs0", "obs1", "action",
           "next_position", "next_velocity", "next_obs0", "next_obs1", "reward", "terminated",
           "truncated"]


def f32(x):
    """Shortest representation that reads back as the same float32."""
    return str(np.float32(x))


def run(env, seed, episode, obs, actions):
    """Steps env with the float32 actions that actions(state) gives until the
    episode ends or actions returns None; one row per step."""
    rows = []
    t = 0
    while True:
        state = env.unwrapped.state
        a = actions(t, state)
        if a is None:
            return rows
        f64 = int(state.dtype == np.float64)
        pos, vel = (float(v) for v in state)
        nobs, rew, term, trunc, _ = env.step(np.array([a], dtype=np.float32))
        npos, nvel = (float(v) for v in env.unwrapped.state)
        assert nobs.dtype == np.float32 and env.unwrapped.state.dtype == np.float32
        assert (npos, nvel) == (float(nobs[0]), float(nobs[1]))
        rows.append([seed, episode, t, f64, repr(pos), repr(vel), f32(obs[0]), f32(obs[1]),
                     f32(a), repr(npos), repr(nvel), f32(nobs[0]), f32(nobs[1]), repr(float(rew)),
                     int(term), int(trunc)])
        obs = nobs
        t += 1
        if term or trunc:
            return rows


def bang_bang(rng):
    """Push along the velocity (either way at rest), noisily."""
    def act(t, state):
        v = float(state[1])
        d = np.sign(v) if v != 0 else rng.choice([-1.0, 1.0])
        return np.float32(d * (1.0 if rng.random() < 0.2 else rng.uniform(0.7, 1.5)))
    return act


def random_actions(rng, steps=None):
    """Uniform in [-RANDOM_RANGE, RANDOM_RANGE], for `steps` steps or to the end."""
    def act(t, state):
        return None if t == steps else np.float32(rng.uniform(-RANDOM_RANGE, RANDOM_RANGE))
    return act


def seeded_episodes(env, rng):
    rows = []
    for s in RANDOM_SEEDS:
        obs, _ = env.reset(seed=s)
        rows += run(env, s, 0, obs, random_actions(rng))
        assert rows[-1][2] == 998 and rows[-1][-1] == 1 and rows[-1][-2] == 0, "not truncated"
    for s in GOAL_SEEDS:
        obs, _ = env.reset(seed=s)
        rows += run(env, s, 0, obs, bang_bang(rng))
        assert rows[-1][-2] == 1, f"seed {s}: the controller missed the flag"
    for s in FIRST_SEEDS:
        obs, _ = env.reset(seed=s)
        rows += run(env, s, 0, obs, random_actions(rng, FIRST_STEPS))
    return rows


def landing_velocity(probe, target):
    """A float32 velocity that takes a car at FLOAT32_GOAL_START exactly onto
    the float32 position target under action 0, found by stepping the env."""
    p0 = np.float32(FLOAT32_GOAL_START)
    # just short of it: position + velocity + dv with dv = -0.0025 cos(3 position)
    v = np.float32(target - p0 + 0.0025 * np.cos(3 * float(p0)) - 1e-7)
    for _ in range(1000):
        probe.state = np.array([p0, v], dtype=np.float32)
        probe.step(np.array([0.0], dtype=np.float32))
        if probe.state[0] == target:
            return float(v)
        v = np.nextafter(v, np.float32(1.0))
    raise AssertionError(f"no velocity lands on {target!r}")


def hand_episodes(env, rng):
    rows = []
    starts = [(p, v, lambda t, st, d=d: np.float32(d * rng.uniform(0.9, 1.6)))
              for p, v, d in HAND_STARTS]
    probe = gym.make(ENV_ID).unwrapped
    probe.reset(seed=0)
    goal = np.float32(0.45)
    for target in (goal, np.nextafter(goal, np.float32(0.0))):
        starts.append((FLOAT32_GOAL_START, landing_velocity(probe, target),
                       lambda t, st: np.float32(0.0) if t == 0 else None))
    for k, (p, v, act) in enumerate(starts):
        env.reset(seed=HAND_SEED + k)
        env.unwrapped.state = np.array([p, v], dtype=np.float32)
        obs = env.unwrapped.state.copy()
        rows += run(env, HAND_SEED + k, 0, obs,
                    lambda t, st, act=act: None if t == HAND_STEPS else act(t, st))
    return rows


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/mountain_car.csv"
    env = gym.make(ENV_ID)
    assert env.spec.max_episode_steps == 999 and env.spec.reward_threshold == 90.0
    rng = np.random.default_rng(20240612)
    rows = seeded_episodes(env, rng) + hand_episodes(env, rng)
    env.close()

    wall = np.float32(-1.2)
    n_term = sum(r[14] for r in rows)
    n_trunc = sum(r[15] and r[2] == 998 for r in rows)
    n_clip = sum(abs(np.float32(r[8])) > 1 for r in rows)
    n_unit = sum(abs(np.float32(r[8])) == 1 for r in rows)
    n_first = sum(r[3] for r in rows)
    n_wall = sum(float(r[9]) == wall and float(r[10]) == 0.0 and float(r[5]) < 0 for r in rows)
    n_vclip = sum(abs(float(r[10])) == np.float32(0.07) for r in rows)
    n_goal32 = sum(float(r[9]) == np.float32(0.45) and r[14] for r in rows)
    assert n_term >= 10 and n_trunc >= 1 and n_clip > 100 and n_unit > 100, (n_term, n_trunc)
    assert n_first >= 50 and n_wall >= 10 and n_vclip >= 10 and n_goal32 == 1, (
        n_first, n_wall, n_vclip, n_goal32)
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {out} (gymnasium {gym.__version__}, numpy "
          f"{np.__version__}): {n_term} terminated, {n_trunc} truncated at 999, {n_first} first "
          f"steps, {n_clip} clipped actions, {n_unit} of +-1, {n_wall} into the wall, {n_vclip} at "
          f"the velocity clip, {n_goal32} on 0.45f")


if __name__ == "__main__":
    main()
