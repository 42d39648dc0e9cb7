"""rlcourse DQN against Stable-Baselines3's DQN on CartPole-v1, same script, same seeds.

Both use rlcourse's default DQN settings (:class:`agents.dqn_config.DQNConfig`), translated for
SB3 by :func:`sb3_settings`. SB3 counts its target update interval in env steps, so "every 10"
with train_freq 256 syncs the target once before each training phase: rlcourse's
target_update = gradient_steps is the same schedule. Every ``--eval-every`` env steps (and at the
last) both are evaluated greedily over 20 episodes; evaluation time is not training time. A seed
is solved at the first evaluation with mean return >= 475; both train all ``--steps``
(``--stop-when-solved`` stops there), so the final policy's return is measured too.

    python benchmarks/dqn_vs_sb3.py [--seeds 10] [--steps 50000] [--eval-every 2500]

Reports per library: solve rate, median training seconds to solve, env steps per second, and
on how many seeds the final policy and the best evaluation reach 475.
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

from agents.dqn_config import DQNConfig
from common.parameters import flush_denormals
from rlcourse.training.settings import dqn_config
from rlcourse.training.train import train_dqn

SOLVED = 475.0


def evaluate_sb3(model, episodes: int, seed: int, env_id: str = "CartPole-v1", make=None) -> float:
    env = make() if make else gym.make(env_id)
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


def sb3_settings(config: DQNConfig, steps: int) -> dict:
    """SB3 DQN keyword arguments for the same settings as rlcourse's ``config``."""
    if config.tau != 1.0 or config.double:
        raise SystemExit("only DQN with hard target syncs maps onto SB3's DQN")
    # SB3 counts the target interval in env steps; rlcourse in gradient steps
    interval = config.target_update * config.train_freq // config.gradient_steps
    lr, lr_end = config.lr, config.lr_end
    if lr_end is not None and config.lr_decay_steps != steps:
        raise SystemExit("a learning-rate decay maps onto SB3 only over the whole run")
    return {
        # SB3 calls a schedule with the fraction of training left (1 → 0)
        "learning_rate": lr if lr_end is None else (lambda left: lr_end + (lr - lr_end) * left),
        "batch_size": config.batch_size,
        "buffer_size": config.buffer_size,
        "learning_starts": config.learning_starts,
        "gamma": config.gamma,
        # once per training phase: any value up to train_freq syncs the target once before each
        # phase, as rlcourse's target_update = gradient_steps does (rl-zoo's CartPole says 10)
        "target_update_interval": 10 if config.target_update == config.gradient_steps else interval,
        "train_freq": config.train_freq,
        "gradient_steps": config.gradient_steps,
        "exploration_fraction": config.exploration_steps / steps,
        "exploration_initial_eps": config.epsilon_start,
        "exploration_final_eps": config.epsilon_end,
        "max_grad_norm": config.max_grad_norm,
        "policy_kwargs": {"net_arch": list(config.hidden)},
    }


def run_sb3(seed: int, steps: int, eval_every: int, stop: bool, config: DQNConfig,
            flush: bool = False) -> dict:  # fmt: skip
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    class Evaluate(BaseCallback):
        def __init__(self):
            super().__init__()
            self.eval_seconds, self.solved_at, self.start = 0.0, None, time.perf_counter()
            self.scores = []

        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every and self.num_timesteps != steps:
                return True
            paused = time.perf_counter()
            train_seconds = paused - self.start - self.eval_seconds
            score = evaluate_sb3(self.model, 20, 10_000 + seed)
            self.scores.append(score)
            self.eval_seconds += time.perf_counter() - paused
            if score >= SOLVED and self.solved_at is None:
                self.solved_at = (self.num_timesteps, train_seconds)
                return not stop
            return True

    model = DQN("MlpPolicy", gym.make("CartPole-v1"), seed=seed, device="cpu",
                **sb3_settings(config, steps))  # fmt: skip
    callback = Evaluate()
    with flush_denormals() if flush else contextlib.nullcontext():
        model.learn(total_timesteps=steps, callback=callback)
    train_seconds = time.perf_counter() - callback.start - callback.eval_seconds
    return {
        "solved_at_step": callback.solved_at[0] if callback.solved_at else None,
        "solved_at_seconds": callback.solved_at[1] if callback.solved_at else None,
        "steps_per_second": model.num_timesteps / train_seconds,
        "final": callback.scores[-1],
        "best": max(callback.scores),
    }


def run_ours(seed: int, steps: int, eval_every: int, stop: bool, config: DQNConfig) -> dict:
    with tempfile.TemporaryDirectory() as out:
        metrics = train_dqn(
            "CartPole-v1",
            Path(out),
            steps=steps,
            seed=seed,
            eval_every=eval_every,
            stop_at=SOLVED if stop else None,
            config=config,
            progress=False,
        )
    return {
        "solved_at_step": metrics["solved_at_step"],
        "solved_at_seconds": metrics["solved_at_train_seconds"],
        "steps_per_second": metrics["steps_per_second"],
        "final": metrics["final_eval_return"],
        "best": metrics["best_eval_return"],
    }


def summary(name: str, rows: list[dict]) -> tuple[float, float | None]:
    solved = [r["solved_at_seconds"] for r in rows if r["solved_at_seconds"] is not None]
    median = statistics.median(solved) if solved else None
    sps = statistics.median(r["steps_per_second"] for r in rows)
    median_text = f"{median:7.1f} s" if median is not None else "      —"
    final = sum(r["final"] >= SOLVED for r in rows)
    best = sum(r["best"] >= SOLVED for r in rows)
    print(
        f"  {name:10s} solved {len(solved)}/{len(rows)}   median time to solve {median_text}"
        f"   median env steps/s {sps:7.0f}   final policy >= {SOLVED:.0f}: {final}/{len(rows)}"
        f"   best >= {SOLVED:.0f}: {best}/{len(rows)}"
    )
    return len(solved) / len(rows), median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--eval-every", type=int, default=2500)
    parser.add_argument(
        "--stop-when-solved", action="store_true", help="stop at the first solved evaluation"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both (default 1)")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="DQN settings other than rlcourse's defaults, for both")  # fmt: skip
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
    config = dqn_config(dict(item.split("=", 1) for item in args.set))
    print(f"settings: {config}")
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
            row = run(seed, args.steps, args.eval_every, args.stop_when_solved, config)
            results[name].append(row)
            print(
                f"seed {seed} {name:9s} solved at step {row['solved_at_step']}, "
                f"{row['solved_at_seconds'] or float('nan'):.1f} s, "
                f"{row['steps_per_second']:.0f} steps/s, final {row['final']:.1f}, "
                f"best {row['best']:.1f}",
                flush=True,
            )
    print(f"CartPole-v1, {args.seeds} seeds, up to {args.steps} steps, solved = greedy mean >= 475")
    ours_rate, ours_median = summary("rlcourse", results["rlcourse"])
    if args.skip_sb3:
        return
    sb3_rate, sb3_median = summary("sb3", results["sb3"])
    finals = [sum(r["final"] >= SOLVED for r in results[n]) for n in ("rlcourse", "sb3")]
    print(f"  final policy >= {SOLVED:.0f}, rlcourse vs sb3: {finals[0]} vs {finals[1]} of "
          f"{args.seeds} (target: >= 8 and >= sb3's)")  # fmt: skip
    if ours_median and sb3_median:
        print(
            f"  time to solve, rlcourse / sb3: {ours_median / sb3_median:.2f}"
            f" (target <= 0.5); solve rate {ours_rate:.0%} vs {sb3_rate:.0%} (target >=)"
        )


if __name__ == "__main__":
    main()
