#!/usr/bin/env python3
"""gen_pendulum_fixtures.py - reference transitions from Gymnasium's own Pendulum-v1.

Writes the CSV that tests/test_pendulum.c compares the C environment against
(`make fixtures`, or `python3 scripts/gen_pendulum_fixtures.py OUT.csv`).
Dependencies: scripts/requirements-fixtures.txt.

What is recorded, one row per env.step:
  * SEEDS episodes from gymnasium.make("Pendulum-v1") (the registered env with
    its 200-step TimeLimit): reset(seed=s), 200 steps up to truncation, then
    reset(seed=s + RESEED) and CONTINUE_STEPS more steps (episode 1), so that
    the truncation and the episode after it are covered;
  * HAND episodes started from hand-set states (env.unwrapped.state = ...) with
    high speeds and angles outside [-pi, pi), driven by torques in the spin's
    direction so that the speed clip at 8 is hit again and again.

Actions are drawn from a NumPy RNG in [-3, 3] (so the clip to [-2, 2] is
exercised) and rounded to float32, the C environment's action type. They are
handed to Gymnasium as float64 arrays: with a float32 array NumPy 2 (NEP 50)
evaluates `3.0 / (m l^2) * u` and `0.001 * u**2` in float32, which moves
thdot by up to ~1e-8 against the float64 arithmetic that
include/ddpg/elem.h (pendulum_step_elem) does; with float64 arrays holding the
same values every step is float64 throughout, as in the C code.

Columns: seed, episode, t (step index in the episode), th, thdot (state
before the step), action, next_th, next_thdot (state after), obs0..obs2 (the
float32 observation after the step), reward, terminated, truncated.
Doubles are written with repr (shortest round-trip), float32 values with
NumPy's shortest float32 representation, so strtod / strtof read them exactly.
"""
import csv
import sys

import gymnasium as gym
import numpy as np

SEEDS = range(20)
RESEED = 10_000
CONTINUE_STEPS = 15
ACTION_RANGE = 3.0
# (th, thdot) starts for the hand-set episodes, HAND_STEPS steps each.
HAND_STARTS = [(0.5, 7.9), (-3.0, -7.95), (9.0, 6.0), (-12.0, -7.99)]
HAND_STEPS = 100
HAND_SEED_BASE = 100

COLUMNS = ["seed", "episode", "t", "th", "thdot", "action", "next_th", "next_thdot",
           "obs0", "obs1", "obs2", "reward", "terminated", "truncated"]


def f32(x):
    """Shortest representation that reads back as the same float32."""
    return str(np.float32(x))


def step_row(env, seed, episode, t, a32):
    th, thdot = (float(v) for v in env.unwrapped.state)
    obs, rew, term, trunc, _ = env.step(np.array([float(a32)], dtype=np.float64))
    nth, nthdot = (float(v) for v in env.unwrapped.state)
    assert obs.dtype == np.float32
    row = [seed, episode, t, repr(th), repr(thdot), f32(a32), repr(nth), repr(nthdot),
           f32(obs[0]), f32(obs[1]), f32(obs[2]), repr(float(rew)), int(term), int(trunc)]
    return row, bool(term), bool(trunc)


def random_action(rng):
    return np.float32(rng.uniform(-ACTION_RANGE, ACTION_RANGE))


def seeded_episodes(env, rng):
    rows = []
    for s in SEEDS:
        env.reset(seed=s)
        t = 0
        while True:
            row, term, trunc = step_row(env, s, 0, t, random_action(rng))
            rows.append(row)
            t += 1
            assert not term, "Pendulum-v1 never terminates"
            if trunc:
                break
        assert t == 200, f"seed {s}: truncated after {t} steps, expected 200"
        env.reset(seed=s + RESEED)
        for t in range(CONTINUE_STEPS):
            row, term, trunc = step_row(env, s, 1, t, random_action(rng))
            assert not term and not trunc
            rows.append(row)
    return rows


def hand_episodes(env, rng):
    rows = []
    for k, (th0, thdot0) in enumerate(HAND_STARTS):
        seed = HAND_SEED_BASE + k
        env.reset(seed=seed)
        env.unwrapped.state = np.array([th0, thdot0])
        for t in range(HAND_STEPS):
            thdot = float(env.unwrapped.state[1])
            # torque along the spin keeps the speed at the clip
            a = np.float32(np.sign(thdot if thdot != 0 else 1.0) * rng.uniform(1.5, ACTION_RANGE))
            row, term, trunc = step_row(env, seed, 0, t, a)
            assert not term and not trunc
            rows.append(row)
    return rows


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/pendulum.csv"
    env = gym.make("Pendulum-v1")
    assert env.spec.max_episode_steps == 200
    rng = np.random.default_rng(20240611)
    rows = seeded_episodes(env, rng) + hand_episodes(env, rng)
    env.close()

    n_speed_clip = sum(abs(float(r[7])) == 8.0 for r in rows)
    n_act_clip = sum(abs(float(r[5])) > 2.0 for r in rows)
    n_wrap = sum(abs(float(r[3])) > np.pi for r in rows)
    assert n_speed_clip > 50 and n_act_clip > 1000 and n_wrap > 50, (n_speed_clip, n_act_clip,
                                                                     n_wrap)
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {out} (gymnasium {gym.__version__}, numpy "
          f"{np.__version__}): {n_speed_clip} at the speed clip, {n_act_clip} clipped "
          f"actions, {n_wrap} with |th| > pi")


if __name__ == "__main__":
    main()
