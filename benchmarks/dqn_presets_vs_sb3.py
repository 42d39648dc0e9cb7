"""rlcourse's DQN presets against SB3's DQN with the same (rl-zoo) settings, same script.

For each env (default Acrobot-v1 and MountainCar-v0) and seed, both train the preset's steps
with its settings (SB3's through ``dqn_vs_sb3.sb3_settings``), evaluated greedily over 10
episodes ten times along the way and at the end; evaluation time is not training time.

    python benchmarks/dqn_presets_vs_sb3.py [--envs Acrobot-v1 MountainCar-v0] [--seeds 1]

Reports per env and library: the final and best greedy return at equal steps, and the training
seconds until the first evaluation at or above the env's threshold.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import pandas as pd
import torch
from dqn_vs_sb3 import evaluate_sb3, sb3_settings

from rlcourse.dqn_training import dqn_config, train_dqn
from rlcourse.presets import preset_for

THRESHOLDS = {"Acrobot-v1": -100.0, "MountainCar-v0": -120.0}
EPISODES = 10


def run_ours(env_id: str, seed: int) -> dict:
    preset = preset_for(env_id)
    config = dqn_config(preset.overrides())
    with tempfile.TemporaryDirectory() as out:
        metrics = train_dqn(env_id, Path(out), steps=preset.steps, seed=seed, config=config,
                            eval_every=preset.steps // 10, eval_episodes=EPISODES,
                            progress=False)  # fmt: skip
        evals = pd.read_csv(Path(out) / "evaluations.csv")
    return _summary(env_id, evals.mean_return.tolist(), evals.train_seconds.tolist(),
                    metrics["train_seconds"])  # fmt: skip


def run_sb3(env_id: str, seed: int) -> dict:
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    preset = preset_for(env_id)
    steps, every = preset.steps, preset.steps // 10

    class Evaluate(BaseCallback):
        def __init__(self):
            super().__init__()
            self.scores, self.times, self.paused, self.start = [], [], 0.0, time.perf_counter()

        def _on_step(self) -> bool:
            if self.num_timesteps % every == 0:
                at = time.perf_counter()
                self.times.append(at - self.start - self.paused)
                self.scores.append(evaluate_sb3(self.model, EPISODES, 10_000 + seed, env_id))
                self.paused += time.perf_counter() - at
            return True

    model = DQN("MlpPolicy", gym.make(env_id), seed=seed, device="cpu",
                **sb3_settings(dqn_config(preset.overrides()), steps))  # fmt: skip
    callback = Evaluate()
    model.learn(total_timesteps=steps, callback=callback)
    total = time.perf_counter() - callback.start - callback.paused
    return _summary(env_id, callback.scores, callback.times, total)


def _summary(env_id: str, scores: list, times: list, total: float) -> dict:
    threshold = THRESHOLDS[env_id]
    reached = next((t for s, t in zip(scores, times, strict=True) if s >= threshold), None)
    return {"final": scores[-1], "best": max(scores), "reached": reached, "seconds": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(THRESHOLDS))
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for env_id in args.envs:
        rows = {"rlcourse": [], "sb3": []}
        for seed in range(args.seeds):
            for name, run in (("rlcourse", run_ours), ("sb3", run_sb3)):
                row = run(env_id, seed)
                rows[name].append(row)
                print(f"{env_id} seed {seed} {name:8s} final {row['final']:7.1f}  best "
                      f"{row['best']:7.1f}  reached {THRESHOLDS[env_id]:.0f} after "
                      f"{row['reached'] or float('nan'):6.1f} s  training {row['seconds']:6.1f} s",
                      flush=True)  # fmt: skip
        for name, runs in rows.items():
            reached = [r["reached"] for r in runs if r["reached"] is not None]
            final = statistics.median(r["final"] for r in runs)
            when = f", median {statistics.median(reached):.1f} s" if reached else ""
            print(f"  {env_id} {name:8s} median final {final:7.1f}  reached "
                  f"{THRESHOLDS[env_id]:.0f} on {len(reached)}/{len(runs)}{when}")  # fmt: skip


if __name__ == "__main__":
    main()
