"""Train one DQN on one env, save a checkpoint that loads safely, and evaluate it greedily.

``rlcourse train dqn ENV --out DIR`` writes into DIR:

- ``checkpoint.pt``: ``{"model": state_dict, "config": {...}, "env": ..., "env_kwargs": {...},
  "observation_shape": [...], "n_actions": n}``: tensors and plain data only, read back with
  ``torch.load(weights_only=True)``, so a checkpoint is never unpickled as code;
- ``episodes.csv`` (``step,return,length`` of every training episode) and
  ``evaluations.csv`` (``step,mean_return,episodes,train_seconds``: greedy evaluations during
  training; ``train_seconds`` is the training time so far, evaluations not counted);
- ``training.png``: training returns against env steps, with the greedy evaluations;
- ``metrics.json``: final greedy evaluation, steps, seconds, steps per second.

``rlcourse evaluate DIR`` runs the greedy policy and writes ``evaluation.json``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from agents.base import SpecError, build_params
from agents.dqn_config import DQNConfig
from rlcourse.environments import EnvSource, resolve_env
from rlcourse.errors import UsageError

SOLVED = {"CartPole-v1": 475.0}
"""Greedy mean returns that count as solving an env (for reports)."""


def dqn_config(overrides: dict[str, str]) -> DQNConfig:
    """A :class:`DQNConfig` from ``--set KEY=VALUE`` strings (refused with the known keys)."""
    try:
        return build_params(DQNConfig, overrides, "dqn")
    except SpecError as err:
        raise UsageError(str(err)) from None


def evaluate_greedy(learner, env, episodes: int, seed: int) -> np.ndarray:
    """Returns of ``episodes`` greedy episodes (ε = 0), env seeded ``seed, seed + 1, ...``."""
    returns = np.zeros(episodes)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(learner.greedy(obs))
            returns[episode] += reward
            done = terminated or truncated
    return returns


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
    import torch
    from tqdm.auto import tqdm

    from agents.dqn import DQNLearner, check_spaces

    config = config or DQNConfig()
    source = resolve_env(env, env_kwargs)
    train_env, eval_env = source.make_one(), source.make_one()
    try:
        check_spaces(train_env.observation_space, train_env.action_space)
    except ValueError as err:
        raise UsageError(f"{err}; agents that fit {source.name}: random") from None
    if steps < 1:
        raise UsageError(f"steps must be >= 1, got {steps}")
    if config.learning_starts >= steps:
        raise UsageError(
            f"learning_starts ({config.learning_starts}) >= steps ({steps}): the agent would "
            "never take a gradient step; lower learning_starts or raise --steps"
        )
    learner = DQNLearner(
        config,
        train_env.observation_space,
        train_env.action_space,
        np.random.default_rng([seed, 1]),
    )
    writer = _tensorboard(out) if tensorboard else None
    episodes, evaluations = [], []
    obs, _ = train_env.reset(seed=seed)
    episode_return, episode_length, start, eval_seconds = 0.0, 0, time.perf_counter(), 0.0
    bar = tqdm(range(1, steps + 1), disable=not progress or None, unit="step", leave=False)
    for step in bar:
        action = learner.act(obs)
        next_obs, reward, terminated, truncated, _ = train_env.step(action)
        learner.observe(obs, action, reward, next_obs, terminated, truncated)
        episode_return, episode_length, obs = episode_return + reward, episode_length + 1, next_obs
        if terminated or truncated:
            episodes.append((step, episode_return, episode_length))
            if writer:
                writer.add_scalar("charts/episodic_return", episode_return, step)
                writer.add_scalar("charts/episodic_length", episode_length, step)
            obs, _ = train_env.reset()
            episode_return, episode_length = 0.0, 0
        if writer and learner.losses and step % 100 == 0:
            writer.add_scalar("losses/td_loss", learner.losses[-1], step)
            writer.add_scalar("charts/SPS", step / (time.perf_counter() - start), step)
        if step % eval_every == 0 or step == steps:
            paused = time.perf_counter()
            train_seconds = paused - start - eval_seconds  # evaluations are not training time
            score = float(evaluate_greedy(learner, eval_env, eval_episodes, 10_000 + seed).mean())
            eval_seconds += time.perf_counter() - paused
            evaluations.append((step, score, eval_episodes, train_seconds))
            bar.set_postfix(eval=f"{score:.1f}")
            if writer:
                writer.add_scalar("eval/mean_return", score, step)
            if stop_when_solved and score >= SOLVED.get(source.name, math.inf):
                break
    seconds = time.perf_counter() - start
    if writer:
        writer.close()
    torch.save(
        {
            "model": learner.online.state_dict(),
            "config": asdict(config),
            "env": source.name,
            "env_kwargs": source.kwargs,
            "observation_shape": list(learner.buffer.obs.shape[1:]),
            "n_actions": learner.n_actions,
        },
        out / "checkpoint.pt",
    )
    _save_curves(out, source.name, episodes, evaluations)
    target = SOLVED.get(source.name, math.inf)
    solved = next((e for e in evaluations if e[1] >= target), None)
    metrics = {
        "env": source.name,
        "steps": step,
        "seed": seed,
        "seconds": round(seconds, 3),
        "train_seconds": round(seconds - eval_seconds, 3),
        "steps_per_second": round(step / (seconds - eval_seconds), 1),
        "episodes": len(episodes),
        "final_eval_return": evaluations[-1][1],
        "best_eval_return": max(e[1] for e in evaluations),
        "solved_at_step": solved[0] if solved else None,
        "solved_at_train_seconds": round(solved[3], 3) if solved else None,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


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
    frame.to_csv(out / "episodes.csv", index=False)
    evals = pd.DataFrame(evaluations, columns=["step", "mean_return", "episodes", "train_seconds"])
    evals.to_csv(out / "evaluations.csv", index=False)
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
    fig.savefig(out / "training.png", dpi=110)


def load_checkpoint(directory: Path, env: str | None = None) -> tuple[Any, EnvSource, dict]:
    """The trained learner, the env to run it on, and the raw checkpoint.

    Raises:
        UsageError: no checkpoint, a corrupt one, one that is not plain tensors and data (it is
            refused, never unpickled), or an env whose spaces differ from the checkpoint's.
    """
    import pickle
    import re
    import zipfile

    import torch

    from agents.dqn import DQNLearner

    path = Path(directory) / "checkpoint.pt"
    if not path.is_file():
        raise UsageError(f"{directory} holds no checkpoint.pt (train one with rlcourse train)")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        raise UsageError(f"{path} is corrupt: not a torch checkpoint archive")
    try:
        checkpoint = torch.load(path, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: \S+ \S+", str(err))
        why = found.group(0) if found else "it holds more than tensors and plain data"
        raise UsageError(
            f"{path} is not a plain state dict (refused, not unpickled): {why}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise UsageError(f"{path} is corrupt: {type(err).__name__}: {err}") from None
    needed = ("model", "config", "env", "env_kwargs", "observation_shape", "n_actions")
    if not isinstance(checkpoint, dict) or any(key not in checkpoint for key in needed):
        raise UsageError(f"{path} is not an rlcourse DQN checkpoint (keys {', '.join(needed)})")
    try:
        config = DQNConfig(
            **{**checkpoint["config"], "hidden": tuple(checkpoint["config"]["hidden"])}
        )
    except (TypeError, ValueError) as err:
        raise UsageError(f"{path} has a bad config: {err}") from None
    source = resolve_env(env or checkpoint["env"], None if env else checkpoint["env_kwargs"])
    probe = source.make_one()
    learner = DQNLearner(
        config, probe.observation_space, probe.action_space, np.random.default_rng(0)
    )
    shape, n_actions = list(learner.buffer.obs.shape[1:]), learner.n_actions
    if shape != list(checkpoint["observation_shape"]) or n_actions != checkpoint["n_actions"]:
        raise UsageError(
            f"{path} was trained on {checkpoint['env']} (observations "
            f"{checkpoint['observation_shape']}, {checkpoint['n_actions']} actions); "
            f"{source.name} has observations {shape} and "
            f"{n_actions} actions"
        )
    try:
        learner.load_weights(checkpoint["model"])
    except (RuntimeError, TypeError) as err:
        raise UsageError(f"{path} does not fit the network: {str(err).splitlines()[0]}") from None
    return learner, source, checkpoint


def evaluate_checkpoint(directory: Path, episodes: int = 20, seed: int = 0, env: str | None = None):
    """Greedy returns of a saved DQN; writes ``evaluation.json`` into ``directory``."""
    from rlcourse.stats import mean_ci

    learner, source, _ = load_checkpoint(directory, env)
    returns = evaluate_greedy(learner, source.make_one(), episodes, seed)
    mean, low, high, n = mean_ci(returns)
    result = {
        "env": source.name,
        "episodes": n,
        "seed": seed,
        "mean_return": float(mean),
        "ci_low": float(low),
        "ci_high": float(high),
        "returns": returns.tolist(),
    }
    (Path(directory) / "evaluation.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
