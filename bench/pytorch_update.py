#!/usr/bin/env python3
"""pytorch_update.py - the notebook's DDPG update in PyTorch, timed on the CPU.

    python3 bench/pytorch_update.py [--updates 200] [--round-s 0.5] [--rounds 5] [--threads 1,2]

The peer that our update is compared with (bench_update's and bench_cpu's 256,256 batch
128 rows), measured in the same `make bench`: the code of the PyTorch teaching notebook
this project was ported from (its ReplayBuffer, mlp, Actor, Critic and DDPGAgent.update,
copied below as they are) with its settings: Pendulum's sizes (obs 3,
act 1 in [-2, 2]), hidden 256,256, batch 128, gamma 0.99, tau 0.005, Adam 1e-3 for both
networks, gradient clipping at norm 1, MSE critic loss, -Q actor loss, soft updates.

One update is what the notebook's training loop does per gradient step:
`agent.update(buf.sample(BATCH_SIZE))`, the replay sample included (as ddpg_update
samples the replay in ours). The replay holds 20,000 transitions of Pendulum-v1's
dynamics from uniformly random states and actions. Per thread count
(torch.set_num_threads): 20 warm-up updates, then the median of `rounds` rounds of about
`round_s` seconds each (5 to `updates` updates, from the warm-up's pace: on a host busy
with other work, torch's threads can take a hundred times longer, and a fixed count
took minutes).

Without torch (scripts/setup_bench.sh installs it) the table shows the recorded
reference, labelled with its source, and the JSON's measured figures are null. Last
line: one JSON object (bench_common.h's figures schema).
"""
import argparse
import json
import math
import statistics
import sys
import time

# The figure that stands in when torch is missing: never mixed with measured ones.
RECORDED_REFERENCE = {
    "us_per_update": 3512,
    "threads": 1,
    "source": "issue 15, notebook PyTorch update measured on this machine kind",
}

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    TORCH_ERROR = None
except ImportError as e:  # torch (or numpy) absent: the recorded reference only
    TORCH_ERROR = str(e)

OBS_DIM, ACT_DIM, ACT_HIGH = 3, 1, 2.0
HIDDEN_SIZES = (256, 256)
BATCH_SIZE = 128
GAMMA = 0.99
TAU = 0.005
ACTOR_LR = 1e-3
CRITIC_LR = 1e-3
GRAD_CLIP_NORM = 1.0
REPLAY_N = 20_000
SEED = 42
WARMUP = 20

if TORCH_ERROR is None:
    # ---- the notebook's code, as it is (comments and the act() method left out) ----

    class ReplayBuffer:
        def __init__(self, obs_dim: int, act_dim: int, size: int, seed: int):
            self.obs_buf = np.zeros((size, obs_dim), dtype=np.float32)
            self.next_obs_buf = np.zeros((size, obs_dim), dtype=np.float32)
            self.act_buf = np.zeros((size, act_dim), dtype=np.float32)
            self.rew_buf = np.zeros((size, 1), dtype=np.float32)
            self.done_buf = np.zeros((size, 1), dtype=np.float32)
            self.max_size = int(size)
            self.ptr = 0
            self.size = 0
            self.rng = np.random.default_rng(seed)

        def add(self, obs, act, rew: float, next_obs, done: bool):
            self.obs_buf[self.ptr] = obs
            self.act_buf[self.ptr] = act
            self.rew_buf[self.ptr] = rew
            self.next_obs_buf[self.ptr] = next_obs
            self.done_buf[self.ptr] = float(done)
            self.ptr = (self.ptr + 1) % self.max_size
            self.size = min(self.size + 1, self.max_size)

        def sample(self, batch_size: int):
            idx = self.rng.integers(0, self.size, size=batch_size)
            batch = dict(
                obs=self.obs_buf[idx],
                act=self.act_buf[idx],
                rew=self.rew_buf[idx],
                next_obs=self.next_obs_buf[idx],
                done=self.done_buf[idx],
            )
            return batch

    def mlp(sizes, activation=nn.ReLU, output_activation=nn.Identity):
        layers = []
        for i in range(len(sizes) - 1):
            act = activation if i < len(sizes) - 2 else output_activation
            layers += [nn.Linear(sizes[i], sizes[i + 1]), act()]
        return nn.Sequential(*layers)

    class Actor(nn.Module):
        def __init__(self, obs_dim, act_dim, hidden_sizes, action_scale, action_bias):
            super().__init__()
            self.net = mlp([obs_dim, *hidden_sizes, act_dim], activation=nn.ReLU,
                           output_activation=nn.Tanh)
            self.register_buffer('action_scale', torch.as_tensor(action_scale, dtype=torch.float32))
            self.register_buffer('action_bias', torch.as_tensor(action_bias, dtype=torch.float32))

        def forward(self, obs):
            a = self.net(obs)
            return self.action_scale * a + self.action_bias

    class Critic(nn.Module):
        def __init__(self, obs_dim, act_dim, hidden_sizes):
            super().__init__()
            self.net = mlp([obs_dim + act_dim, *hidden_sizes, 1], activation=nn.ReLU,
                           output_activation=nn.Identity)

        def forward(self, obs, act):
            x = torch.cat([obs, act], dim=-1)
            return self.net(x)

    class DDPGAgent:
        def __init__(self, obs_dim, act_dim, action_scale, action_bias, hidden_sizes, device):
            self.device = torch.device(device)
            self.actor = Actor(obs_dim, act_dim, hidden_sizes, action_scale, action_bias).to(self.device)
            self.critic = Critic(obs_dim, act_dim, hidden_sizes).to(self.device)
            self.target_actor = Actor(obs_dim, act_dim, hidden_sizes, action_scale,
                                      action_bias).to(self.device)
            self.target_critic = Critic(obs_dim, act_dim, hidden_sizes).to(self.device)
            self.target_actor.load_state_dict(self.actor.state_dict())
            self.target_critic.load_state_dict(self.critic.state_dict())
            self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=ACTOR_LR)
            self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=CRITIC_LR)

        def update(self, batch):
            obs = torch.as_tensor(batch['obs'], dtype=torch.float32, device=self.device)
            act = torch.as_tensor(batch['act'], dtype=torch.float32, device=self.device)
            rew = torch.as_tensor(batch['rew'], dtype=torch.float32, device=self.device)
            next_obs = torch.as_tensor(batch['next_obs'], dtype=torch.float32, device=self.device)
            done = torch.as_tensor(batch['done'], dtype=torch.float32, device=self.device)
            # --- Critic update ---
            with torch.no_grad():
                next_act = self.target_actor(next_obs)
                target_q_next = self.target_critic(next_obs, next_act)
                y = rew + GAMMA * (1.0 - done) * target_q_next
            q = self.critic(obs, act)
            critic_loss = F.mse_loss(q, y)
            self.critic_opt.zero_grad(set_to_none=True)
            critic_loss.backward()
            torch.nn.utils.clip_grad_norm_(self.critic.parameters(), GRAD_CLIP_NORM)
            self.critic_opt.step()
            # --- Actor update ---
            self.actor_opt.zero_grad(set_to_none=True)
            actor_actions = self.actor(obs)
            actor_loss = -self.critic(obs, actor_actions).mean()
            actor_loss.backward()
            torch.nn.utils.clip_grad_norm_(self.actor.parameters(), GRAD_CLIP_NORM)
            self.actor_opt.step()
            # --- Soft update target networks ---
            with torch.no_grad():
                for p, p_targ in zip(self.actor.parameters(), self.target_actor.parameters()):
                    p_targ.data.mul_(1.0 - TAU)
                    p_targ.data.add_(TAU * p.data)
                for p, p_targ in zip(self.critic.parameters(), self.target_critic.parameters()):
                    p_targ.data.mul_(1.0 - TAU)
                    p_targ.data.add_(TAU * p.data)
            return {
                'critic_loss': float(critic_loss.item()),
                'actor_loss': float(actor_loss.item()),
                'q_mean': float(q.detach().mean().item()),
                'y_mean': float(y.detach().mean().item()),
            }

    # ---- the bench ----

    def pendulum_replay(n: int, seed: int) -> "ReplayBuffer":
        """n transitions of Pendulum-v1's dynamics (Gymnasium: g 10, m 1, l 1, dt 0.05,
        speed clipped to 8) from uniformly random states and actions; done 0."""
        rng = np.random.default_rng(seed)
        th = rng.uniform(-math.pi, math.pi, n)
        thdot = rng.uniform(-8.0, 8.0, n)
        u = rng.uniform(-ACT_HIGH, ACT_HIGH, n)
        norm_th = (th + math.pi) % (2 * math.pi) - math.pi
        rew = -(norm_th ** 2 + 0.1 * thdot ** 2 + 0.001 * u ** 2)
        new_thdot = np.clip(thdot + (3 * 10.0 / 2 * np.sin(th) + 3.0 * u) * 0.05, -8.0, 8.0)
        new_th = th + new_thdot * 0.05
        buf = ReplayBuffer(OBS_DIM, ACT_DIM, n, seed)
        buf.obs_buf[:] = np.stack([np.cos(th), np.sin(th), thdot], axis=1)
        buf.next_obs_buf[:] = np.stack([np.cos(new_th), np.sin(new_th), new_thdot], axis=1)
        buf.act_buf[:, 0] = u
        buf.rew_buf[:, 0] = rew
        buf.size = n
        return buf

    def time_updates(threads: int, max_updates: int, rounds: int, round_s: float) -> float:
        """Median microseconds per update over `rounds` rounds of about round_s each (from
        the warm-up's pace; 5 to max_updates updates)."""
        torch.set_num_threads(threads)
        torch.manual_seed(SEED)
        agent = DDPGAgent(OBS_DIM, ACT_DIM, np.float32([ACT_HIGH]), np.float32([0.0]),
                          HIDDEN_SIZES, "cpu")
        buf = pendulum_replay(REPLAY_N, SEED)
        t0 = time.perf_counter()
        for _ in range(WARMUP):
            agent.update(buf.sample(BATCH_SIZE))
        pace = (time.perf_counter() - t0) / WARMUP
        n = max(5, min(max_updates, round(round_s / pace)))
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(n):
                agent.update(buf.sample(BATCH_SIZE))
            times.append((time.perf_counter() - t0) / n * 1e6)
        return statistics.median(times)


def torch_blas():
    """torch's BLAS and the CPU kernels it picked, from its build configuration (it does
    not use OpenBLAS's kernels, which the C programs print)."""
    cfg = torch.__config__.show()
    blas = next((w.split("=", 1)[1].strip(",") for w in cfg.split() if w.startswith("BLAS_INFO=")),
                "unknown")
    cap = next((l.split(":", 1)[1].strip() for l in cfg.splitlines() if "CPU capability" in l),
               "unknown")
    return f"BLAS {blas}, CPU capability {cap}"


def figure(threads, value):
    return {"backend": "pytorch-cpu", "threads": threads, "metric": "update_us", "env": None,
            "envs": 0, "batch": BATCH_SIZE, "hidden": ",".join(map(str, HIDDEN_SIZES)),
            "config": "the notebook's DDPGAgent.update(buf.sample(128))",
            "value": None if value is None else round(value, 3), "unit": "us", "flops": None,
            "fraction_of_gemm_bound": None, "gpu_cpu_ratio": None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--updates", type=int, default=200, help="most updates per round (200)")
    ap.add_argument("--round-s", type=float, default=0.5, help="seconds per round (0.5)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds per thread count (5)")
    ap.add_argument("--threads", default="1,2", help="torch thread counts, comma-separated (1,2)")
    a = ap.parse_args()
    try:
        threads = [int(t) for t in a.threads.split(",")]
    except ValueError:
        ap.error(f"--threads: not a list of integers: {a.threads}")
    if a.updates < 5 or a.rounds < 1 or min(threads) < 1 or not a.round_s > 0:
        ap.error("--updates must be at least 5, --rounds and every thread count at least 1, "
                 "--round-s more than 0")
    out = {"bench": "pytorch_update", "torch": None, "no_torch": TORCH_ERROR,
           "max_updates": a.updates, "rounds": a.rounds, "round_s": a.round_s,
           "recorded_reference": RECORDED_REFERENCE}
    hidden = ",".join(map(str, HIDDEN_SIZES))
    print(f"the notebook's DDPG update in PyTorch: hidden {hidden}, batch {BATCH_SIZE}, "
          "Pendulum's sizes (obs 3, act 1), replay sample included")
    if TORCH_ERROR is not None:
        ref = RECORDED_REFERENCE
        print(f"PyTorch: not measured ({TORCH_ERROR}; scripts/setup.sh installs numpy, "
              "scripts/setup_bench.sh torch)")
        print(f"{'threads':>8} {'us/update':>12}")
        print(f"{ref['threads']:>8} {'-':>12}   recorded reference: {ref['us_per_update']} us, "
              f"{ref['source']}")
        out["us_per_update"] = {str(t): None for t in threads}
        out["figures"] = []
        print(json.dumps(out))
        return 0
    out["torch"] = torch.__version__
    out["torch_blas"] = torch_blas()
    print(f"PyTorch {torch.__version__} on the CPU ({out['torch_blas']}), median of "
          f"{a.rounds} rounds of about {a.round_s} s (5 to {a.updates} updates) after "
          f"{WARMUP} warm-up updates")
    print(f"{'threads':>8} {'us/update':>12}")
    out["us_per_update"] = {}
    out["figures"] = []
    for t in threads:
        us = time_updates(t, a.updates, a.rounds, a.round_s)
        print(f"{t:>8} {us:>12.1f}")
        out["us_per_update"][str(t)] = round(us, 1)
        out["figures"].append(figure(t, us))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
