"""rlcourse's DQN presets against SB3's DQN with the same settings, same script.

For each env (default Acrobot-v1 and MountainCar-v0) and seed, both train the preset's steps
with its settings (SB3's through ``dqn_vs_sb3.sb3_settings``) on the same env (the preset's
env kwargs), evaluated greedily over 10 episodes ten times along the way and at the end;
evaluation time is not training time. ``--steps N`` shortens a preset: its exploration keeps
its fraction of the run.

MinAtar's 10×10 images do not fit SB3's NatureCNN, so SB3 gets rlcourse's network for them
(:class:`supervised.networks.ImageFeatures`, MinAtar's one 3×3 convolution of 16, then the
preset's 128 hidden units), its boolean channels used as 0/1 as rlcourse does.

    python benchmarks/dqn_presets_vs_sb3.py [--envs Acrobot-v1 MountainCar-v0] [--seeds 1]
    python benchmarks/dqn_presets_vs_sb3.py --envs MinAtar/Breakout-v1 \
        MinAtar/SpaceInvaders-v1 --seeds 3 --steps 50000 --figure ../docs/img/minatar-vs-sb3.png

Reports per env and library: the final and best greedy return at equal steps, the training
seconds until the first evaluation at or above the env's threshold (where it has one), the
whole run's training seconds, and rlcourse's training time as a fraction of SB3's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from dqn_vs_sb3 import evaluate_sb3, sb3_settings

from rlcourse.environments import resolve_env
from rlcourse.presets import preset_for
from rlcourse.training.settings import dqn_config
from rlcourse.training.train import train_dqn

THRESHOLDS = {"Acrobot-v1": -100.0, "MountainCar-v0": -120.0}
EPISODES = 10
PUBLISHED = {
    "MinAtar/Breakout-v1": {"50 000 frames": 3.0, "5 M frames": 10.0},
    "MinAtar/SpaceInvaders-v1": {"50 000 frames": 10.0, "5 M frames": 43.0},
}
"""MinAtar's DQN (Young & Tian 2019), read off img/learning_curves.gif of kenjyoung/MinAtar:
returns while training (ε = 0.1), a moving average over 100 episodes, mean of 30 runs."""


def settings(env_id: str, steps: int | None) -> tuple[int, dict[str, str]]:
    """The preset's steps and ``--set`` values, shortened to ``steps`` when given."""
    preset = preset_for(env_id)
    overrides = preset.overrides()
    if steps is None or steps == preset.steps:
        return preset.steps, overrides
    fraction = steps / preset.steps
    overrides["exploration_steps"] = str(round(int(overrides["exploration_steps"]) * fraction))
    if overrides.get("lr_end", "none") != "none":
        overrides["lr_decay_steps"] = str(steps)
    return steps, overrides


def run_ours(env_id: str, seed: int, steps: int | None) -> dict:
    preset = preset_for(env_id)
    steps, overrides = settings(env_id, steps)
    with tempfile.TemporaryDirectory() as out:
        metrics = train_dqn(env_id, Path(out), env_kwargs=preset.env_kwargs, steps=steps,
                            seed=seed, config=dqn_config(overrides), eval_every=steps // 10,
                            eval_episodes=EPISODES, progress=False)  # fmt: skip
        evals = pd.read_csv(Path(out) / "evaluations.csv")
    return _summary(env_id, evals.mean_return.tolist(), evals.train_seconds.tolist(),
                    metrics["train_seconds"], evals.step.tolist())  # fmt: skip


def image_policy(shape: tuple[int, ...]) -> dict:
    """SB3 policy keywords that read MinAtar's images through rlcourse's small-image network."""
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    from supervised.networks import ImageFeatures

    class SmallImages(BaseFeaturesExtractor):
        def __init__(self, observation_space):
            features = ImageFeatures(observation_space.shape)
            super().__init__(observation_space, features.size)
            self.features = features

        def forward(self, observations):
            return self.features(observations)

    return {"features_extractor_class": SmallImages, "normalize_images": False}


def run_sb3(env_id: str, seed: int, steps: int | None) -> dict:
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    preset = preset_for(env_id)
    steps, overrides = settings(env_id, steps)
    every = steps // 10
    make = resolve_env(env_id, dict(preset.env_kwargs)).make_one

    class Evaluate(BaseCallback):
        def __init__(self):
            super().__init__()
            self.scores, self.times, self.paused, self.start = [], [], 0.0, time.perf_counter()
            self.steps = []

        def _on_step(self) -> bool:
            if self.num_timesteps % every == 0:
                at = time.perf_counter()
                self.times.append(at - self.start - self.paused)
                self.scores.append(evaluate_sb3(self.model, EPISODES, 10_000 + seed, make=make))
                self.steps.append(self.num_timesteps)
                self.paused += time.perf_counter() - at
            return True

    env = make()
    kwargs = sb3_settings(dqn_config(overrides), steps)
    policy = "MlpPolicy"
    if len(env.observation_space.shape) == 3:
        policy = "CnnPolicy"
        kwargs["policy_kwargs"].update(image_policy(env.observation_space.shape))
    model = DQN(policy, env, seed=seed, device="cpu", **kwargs)
    callback = Evaluate()
    model.learn(total_timesteps=steps, callback=callback)
    total = time.perf_counter() - callback.start - callback.paused
    return _summary(env_id, callback.scores, callback.times, total, callback.steps)


def _summary(env_id: str, scores: list, times: list, total: float, steps: list) -> dict:
    threshold = THRESHOLDS.get(env_id, float("inf"))
    reached = next((t for s, t in zip(scores, times, strict=True) if s >= threshold), None)
    return {"final": scores[-1], "best": max(scores), "reached": reached, "seconds": total,
            "curve": list(zip(steps, scores, strict=True))}  # fmt: skip


def plot_curves(curves: dict, path: str) -> None:
    """Each env's greedy evaluations: mean over seeds and the seeds' range, per library."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 3.8), squeeze=False)
    for ax, (env_id, libraries) in zip(axes[0], curves.items(), strict=True):
        for (name, runs), colour in zip(libraries.items(), ("tab:blue", "tab:orange"), strict=True):
            steps = [step for step, _ in runs[0]]
            scores = np.array([[score for _, score in run] for run in runs])
            ax.plot(steps, scores.mean(0), color=colour, label=f"{name} (mean of {len(runs)})")
            ax.fill_between(steps, scores.min(0), scores.max(0), color=colour, alpha=0.2)
        for (label, value), style in zip(PUBLISHED.get(env_id, {}).items(), (":", "--"),
                                         strict=False):  # fmt: skip
            ax.axhline(value, color="grey", ls=style, label=f"MinAtar paper's DQN at {label}")
        ax.set(title=env_id, xlabel="env steps", ylabel=f"greedy return ({EPISODES} episodes)")
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(THRESHOLDS))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, help="shorten each preset to this many steps")
    parser.add_argument("--figure", help="a PNG of the evaluation curves (and published ones)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    curves = {}
    for env_id in args.envs:
        threshold = THRESHOLDS.get(env_id)
        rows = {"rlcourse": [], "sb3": []}
        for seed in range(args.seeds):
            for name, run in (("rlcourse", run_ours), ("sb3", run_sb3)):
                row = run(env_id, seed, args.steps)
                rows[name].append(row)
                reached = (
                    ""
                    if threshold is None
                    else (
                        f"  reached {threshold:.0f} after {row['reached'] or float('nan'):6.1f} s"
                    )
                )
                print(f"{env_id} seed {seed} {name:8s} final {row['final']:7.1f}  best "
                      f"{row['best']:7.1f}{reached}  training {row['seconds']:6.1f} s",
                      flush=True)  # fmt: skip
        for name, runs in rows.items():
            reached = [r["reached"] for r in runs if r["reached"] is not None]
            final = statistics.median(r["final"] for r in runs)
            mean = statistics.mean(r["final"] for r in runs)
            seconds = statistics.median(r["seconds"] for r in runs)
            when = f", median {statistics.median(reached):.1f} s" if reached else ""
            line = (f"  {env_id} {name:8s} final median {final:7.1f} mean {mean:7.1f}  "
                    f"training median {seconds:6.1f} s")  # fmt: skip
            if threshold is not None:
                line += f"  reached {threshold:.0f} on {len(reached)}/{len(runs)}{when}"
            print(line)
        ratio = sum(r["seconds"] for r in rows["rlcourse"]) / sum(r["seconds"] for r in rows["sb3"])
        print(f"  {env_id} rlcourse's training time / SB3's: {ratio:.2f}", flush=True)
        curves[env_id] = {name: [r["curve"] for r in runs] for name, runs in rows.items()}
    if args.figure:
        plot_curves(curves, args.figure)
        print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
