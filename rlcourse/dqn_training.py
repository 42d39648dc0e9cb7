"""Train one DQN on one env: the run loop with callbacks that evaluate, log and checkpoint.

``rlcourse train dqn ENV --out DIR`` writes into DIR:

- ``checkpoint.pt``: the online network and what it was trained on (:mod:`rlcourse.checkpoints`),
  rewritten at every evaluation;
- ``episodes.csv`` (``step,return,length`` of every training episode) and
  ``evaluations.csv`` (``step,mean_return,episodes,train_seconds``: greedy evaluations during
  training; ``train_seconds`` is the training time so far, evaluations not counted);
- ``training.png``: training returns against env steps, with the greedy evaluations;
- ``metrics.json``: final greedy evaluation, steps, seconds, steps per second.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from agents.dqn_config import DQNConfig
from agents.specs import SpecError, build_params
from rlcourse.checkpoints import evaluate_greedy, save_checkpoint, single_envs
from rlcourse.environments import EnvSource, resolve_env
from rlcourse.errors import UsageError
from rlcourse.loop import Step, run
from supervised.atomic import atomic_path, write_text

SOLVED = {"CartPole-v1": 475.0}
"""Greedy mean returns that count as solving an env (for reports)."""


def dqn_config(overrides: dict[str, str]) -> DQNConfig:
    """A :class:`DQNConfig` from ``--set KEY=VALUE`` strings (refused with the known keys)."""
    try:
        return build_params(DQNConfig, overrides, "dqn")
    except SpecError as err:
        raise UsageError(str(err)) from None


class EpisodeLog:
    """Callback: ``(step, return, length)`` of every training episode (one run)."""

    def __init__(self, writer=None):
        self.rows: list[tuple[int, float, int]] = []
        self.writer = writer

    def __call__(self, step: Step) -> None:
        """Note an episode that ended at this step."""
        if step.done[0]:
            ret, length = float(step.episode_return[0]), int(step.episode_length[0])
            self.rows.append((step.t, ret, length))
            if self.writer:
                self.writer.add_scalar("charts/episodic_return", ret, step.t)
                self.writer.add_scalar("charts/episodic_length", length, step.t)


class Evaluations:
    """Callback: a greedy evaluation every ``every`` steps and at the last, then a checkpoint.

    The time it takes is kept apart (``seconds``), so training time excludes evaluations.
    Returns ``True`` (stop) when ``stop_at`` is reached.
    """

    def __init__(self, learner, source: EnvSource, out: Path, *, every: int, last: int,
                 episodes: int, seed: int, stop_at: float = math.inf, writer=None):  # fmt: skip
        self.learner, self.source, self.out = learner, source, out
        self.every, self.last, self.episodes, self.seed = every, last, episodes, seed
        self.stop_at, self.writer = stop_at, writer
        self.rows: list[tuple[int, float, int, float]] = []
        self.start, self.seconds = time.perf_counter(), 0.0

    def __call__(self, step: Step) -> bool:
        """Evaluate (and checkpoint) when due; stop at the threshold."""
        if step.t % self.every and step.t != self.last:
            return False
        paused = time.perf_counter()
        train_seconds = paused - self.start - self.seconds
        score = float(evaluate_greedy(self.learner, self.source, self.episodes, self.seed).mean())
        save_checkpoint(self.out / "checkpoint.pt", self.learner, self.source)
        self.seconds += time.perf_counter() - paused
        self.rows.append((step.t, score, self.episodes, train_seconds))
        step.bar.set_postfix(eval=f"{score:.1f}")
        if self.writer:
            self.writer.add_scalar("eval/mean_return", score, step.t)
        return score >= self.stop_at


def loss_log(learner, writer, every: int = 100):
    """Callback: TD loss and steps per second to TensorBoard every ``every`` steps."""
    start = time.perf_counter()

    def log(step: Step) -> None:
        if learner.losses and step.t % every == 0:
            writer.add_scalar("losses/td_loss", learner.losses[-1], step.t)
            writer.add_scalar("charts/SPS", step.t / (time.perf_counter() - start), step.t)

    return log


def train_dqn(
    env: str,
    out: Path,
    *,
    steps: int = 50_000,
    seed: int = 0,
    config: DQNConfig | None = None,
    env_kwargs: dict[str, Any] | None = None,
    eval_every: int = 5000,
    eval_episodes: int = 20,
    stop_when_solved: bool = False,
    progress: bool = True,
    tensorboard: bool = False,
) -> dict[str, float]:
    """Train, evaluate every ``eval_every`` steps, save everything into ``out``; return metrics.

    Raises:
        UsageError: bad env, spaces DQN cannot use, or ``learning_starts`` >= ``steps`` (it
            would never learn).
    """
    from agents.dqn import DQNLearner, check_spaces
    from agents.off_policy import OneLearner

    config = config or DQNConfig()
    source = resolve_env(env, env_kwargs)
    probe = source.make_one()
    try:
        check_spaces(probe.observation_space, probe.action_space)
    except ValueError as err:
        raise UsageError(f"{err}; agents that fit {source.name}: random") from None
    _check_steps(steps, config)
    learner = DQNLearner(
        config, probe.observation_space, probe.action_space, np.random.default_rng([seed, 1])
    )
    probe.close()
    writer = _tensorboard(out) if tensorboard else None
    episodes = EpisodeLog(writer)
    stop_at = SOLVED.get(source.name, math.inf) if stop_when_solved else math.inf
    evaluations = Evaluations(learner, source, Path(out), every=eval_every, last=steps,
                              episodes=eval_episodes, seed=10_000 + seed, stop_at=stop_at,
                              writer=writer)  # fmt: skip
    callbacks = [episodes, evaluations] + ([loss_log(learner, writer)] if writer else [])
    start = time.perf_counter()
    rewards = run(single_envs(source), OneLearner(learner), runs=1, steps=steps, seed=seed,
                  progress=progress, callbacks=callbacks)["reward"]  # fmt: skip
    seconds = time.perf_counter() - start
    if writer:
        writer.close()
    _save_curves(Path(out), source.name, episodes.rows, evaluations.rows)
    metrics = _metrics(source.name, rewards.shape[1], seed, seconds, evaluations, episodes.rows)
    write_text(Path(out) / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def _check_steps(steps: int, config: DQNConfig) -> None:
    if steps < 1:
        raise UsageError(f"steps must be >= 1, got {steps}")
    if config.learning_starts >= steps:
        raise UsageError(
            f"learning_starts ({config.learning_starts}) >= steps ({steps}): the agent would "
            "never take a gradient step; lower learning_starts or raise --steps"
        )


def _metrics(env: str, steps: int, seed: int, seconds: float, evaluations: Evaluations,
             episodes: list) -> dict[str, Any]:  # fmt: skip
    rows, eval_seconds = evaluations.rows, evaluations.seconds
    solved = next((e for e in rows if e[1] >= SOLVED.get(env, math.inf)), None)
    return {
        "env": env,
        "steps": steps,
        "seed": seed,
        "seconds": round(seconds, 3),
        "train_seconds": round(seconds - eval_seconds, 3),
        "steps_per_second": round(steps / (seconds - eval_seconds), 1),
        "episodes": len(episodes),
        "final_eval_return": rows[-1][1],
        "best_eval_return": max(e[1] for e in rows),
        "solved_at_step": solved[0] if solved else None,
        "solved_at_train_seconds": round(solved[3], 3) if solved else None,
    }


def _tensorboard(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError(
            "--tensorboard needs the tensorboard package: pip install 'rlcourse[tensorboard]'"
        ) from None
    return SummaryWriter(str(out / "tensorboard"))


def _save_curves(out: Path, env: str, episodes: list, evaluations: list) -> None:
    import pandas as pd
    from matplotlib.figure import Figure

    frame = pd.DataFrame(episodes, columns=["step", "return", "length"])
    write_text(out / "episodes.csv", frame.to_csv(index=False))
    evals = pd.DataFrame(evaluations, columns=["step", "mean_return", "episodes", "train_seconds"])
    write_text(out / "evaluations.csv", evals.to_csv(index=False))
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    if len(frame):
        ax.plot(frame.step, frame["return"], color="0.7", linewidth=0.8, label="training episodes")
        smooth = frame["return"].rolling(20, min_periods=1).mean()
        ax.plot(frame.step, smooth, label="training, mean of 20")
    ax.plot(evals.step, evals.mean_return, marker="o", label="greedy evaluation")
    ax.set_xlabel("Env steps")
    ax.set_ylabel("Return")
    ax.set_title(f"DQN on {env}")
    ax.grid(alpha=0.3)
    ax.legend()
    with atomic_path(out / "training.png") as temporary:
        fig.savefig(temporary, dpi=110)
