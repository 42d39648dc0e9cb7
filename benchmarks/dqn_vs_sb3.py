"""rlcourse DQN against Stable-Baselines3's DQN on CartPole-v1, same script, same seeds.

Both use the rl-zoo CartPole-v1 settings (lr 2.3e-3, batch 64, buffer 100 000, learning_starts
1000, gamma 0.99, target update every 10, train_freq 256, gradient_steps 128, exploration fraction
0.16 of 50 000 steps, final epsilon 0.04, net [256, 256]). SB3 counts its target update interval
in env steps, so "every 10" with train_freq 256 syncs the target once before each training phase:
rlcourse's target_update=128 gradient steps (its default) is the same schedule. Every
``--eval-every`` env steps both are evaluated greedily over 20 episodes; evaluation time is not
training time. A seed is solved
at the first evaluation with mean return >= 475; training stops there (``--no-stop`` runs on).

    python benchmarks/dqn_vs_sb3.py [--seeds 5] [--steps 50000] [--eval-every 2500]

Reports per library: solve rate, median training seconds to solve, env steps per second.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from rlcourse.dqn_training import train_dqn
from supervised.train import flush_denormals

SOLVED = 475.0


def evaluate_sb3(model, episodes: int, seed: int) -> float:
    env = gym.make("CartPole-v1")
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done, total = False, 0.0
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(int(action))
            total += reward
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def run_sb3(seed: int, steps: int, eval_every: int, stop: bool, flush: bool = False) -> dict:
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    class Evaluate(BaseCallback):
        def __init__(self):
            super().__init__()
            self.eval_seconds, self.solved_at, self.start = 0.0, None, time.perf_counter()

        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every:
                return True
            paused = time.perf_counter()
            train_seconds = paused - self.start - self.eval_seconds
            score = evaluate_sb3(self.model, 20, 10_000 + seed)
            self.eval_seconds += time.perf_counter() - paused
            if score >= SOLVED and self.solved_at is None:
                self.solved_at = (self.num_timesteps, train_seconds)
                return not stop
            return True

    model = DQN(
        "MlpPolicy",
        gym.make("CartPole-v1"),
        learning_rate=2.3e-3,
        batch_size=64,
        buffer_size=100_000,
        learning_starts=1000,
        gamma=0.99,
        target_update_interval=10,
        train_freq=256,
        gradient_steps=128,
        exploration_fraction=0.16,
        exploration_final_eps=0.04,
        policy_kwargs={"net_arch": [256, 256]},
        seed=seed,
        device="cpu",
    )
    callback = Evaluate()
    with flush_denormals() if flush else contextlib.nullcontext():
        model.learn(total_timesteps=steps, callback=callback)
    train_seconds = time.perf_counter() - callback.start - callback.eval_seconds
    return {
        "solved_at_step": callback.solved_at[0] if callback.solved_at else None,
        "solved_at_seconds": callback.solved_at[1] if callback.solved_at else None,
        "steps_per_second": model.num_timesteps / train_seconds,
    }


def run_ours(seed: int, steps: int, eval_every: int, stop: bool) -> dict:
    with tempfile.TemporaryDirectory() as out:
        metrics = train_dqn(
            "CartPole-v1",
            Path(out),
            steps=steps,
            seed=seed,
            eval_every=eval_every,
            stop_at=SOLVED if stop else None,
            progress=False,
        )
    return {
        "solved_at_step": metrics["solved_at_step"],
        "solved_at_seconds": metrics["solved_at_train_seconds"],
        "steps_per_second": metrics["steps_per_second"],
    }


def summary(name: str, rows: list[dict]) -> tuple[float, float | None]:
    solved = [r["solved_at_seconds"] for r in rows if r["solved_at_seconds"] is not None]
    median = statistics.median(solved) if solved else None
    sps = statistics.median(r["steps_per_second"] for r in rows)
    median_text = f"{median:7.1f} s" if median is not None else "      —"
    print(
        f"  {name:10s} solved {len(solved)}/{len(rows)}   median time to solve {median_text}"
        f"   median env steps/s {sps:7.0f}"
    )
    return len(solved) / len(rows), median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--eval-every", type=int, default=2500)
    parser.add_argument("--no-stop", action="store_true", help="train all steps after solving")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both (default 1)")
    parser.add_argument("--skip-sb3", action="store_true", help="rlcourse only (the 10-seed check)")
    parser.add_argument(
        "--sb3-flush-denormals",
        action="store_true",
        help="run SB3 with denormals flushed too (rlcourse's DQN always trains that way)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # small networks: one thread is fastest, and fair to both
    print(
        f"torch threads: {torch.get_num_threads()}; SB3 denormals flushed: "
        f"{args.sb3_flush_denormals}"
    )
    results = {"rlcourse": [], "sb3": []}
    for seed in range(args.seeds):
        runners = (
            (("rlcourse", run_ours),)
            if args.skip_sb3
            else (
                ("rlcourse", run_ours),
                ("sb3", functools.partial(run_sb3, flush=args.sb3_flush_denormals)),
            )
        )
        for name, run in runners:
            row = run(seed, args.steps, args.eval_every, not args.no_stop)
            results[name].append(row)
            print(
                f"seed {seed} {name:9s} solved at step {row['solved_at_step']}, "
                f"{row['solved_at_seconds'] or float('nan'):.1f} s, "
                f"{row['steps_per_second']:.0f} steps/s",
                flush=True,
            )
    print(f"CartPole-v1, {args.seeds} seeds, up to {args.steps} steps, solved = greedy mean >= 475")
    ours_rate, ours_median = summary("rlcourse", results["rlcourse"])
    if args.skip_sb3:
        return
    sb3_rate, sb3_median = summary("sb3", results["sb3"])
    if ours_median and sb3_median:
        print(
            f"  time to solve, rlcourse / sb3: {ours_median / sb3_median:.2f}"
            f" (target <= 0.5); solve rate {ours_rate:.0%} vs {sb3_rate:.0%} (target >=)"
        )


if __name__ == "__main__":
    main()
