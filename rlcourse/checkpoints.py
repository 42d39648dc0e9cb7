"""DQN checkpoints: saved as tensors and plain data, loaded safely, evaluated greedily.

``checkpoint.pt`` holds ``{"model": state_dict, "config": {...}, "env": ..., "env_kwargs": {...},
"observation_shape": [...], "n_actions": n}``: tensors and plain data only, read back with
``torch.load(weights_only=True)``, so a checkpoint is never unpickled as code.
``rlcourse evaluate DIR`` runs the greedy policy and writes ``evaluation.json``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np

from agents.dqn_config import DQNConfig
from rlcourse.environments import EnvSource, resolve_env
from rlcourse.errors import UsageError
from rlcourse.loop import VectorSource, run
from rlcourse.outputs import add_to_stamp
from supervised.atomic import atomic_path, write_text


def single_envs(source: EnvSource) -> VectorSource:
    """A source's runs as single envs side by side, never its native batch.

    Run *i* of a batch seeded ``s`` is then the lone env reset with seed ``s + i``: a training
    run or a greedy episode is the same whether it runs alone or in a batch.
    """
    return VectorSource(source.name, functools.partial(source.make_runs, native=False))


def save_checkpoint(path: Path, learner, source: EnvSource) -> None:
    """Write the learner's state and the env it was trained on (atomically)."""
    import torch

    checkpoint = {
        **learner.state(),
        "env": source.name,
        "env_kwargs": source.kwargs,
        "observation_shape": list(learner.buffer.obs.shape[1:]),
        "n_actions": learner.n_actions,
    }
    with atomic_path(path) as temporary:
        torch.save(checkpoint, temporary)


def evaluate_greedy(learner, source: EnvSource, episodes: int, seed: int) -> np.ndarray:
    """Returns of ``episodes`` greedy episodes (ε = 0), episode *i*'s env seeded ``seed + i``.

    The episodes run side by side as the runs of one batch of the run loop.
    """
    from agents.off_policy import GreedyPolicy

    metrics = run(single_envs(source), GreedyPolicy(learner), runs=episodes, episodes=1,
                  seed=seed, progress=False)  # fmt: skip
    return metrics["return"][:, 0]


def load_checkpoint(directory: Path, env: str | None = None) -> tuple[Any, EnvSource, dict]:
    """The trained learner, the env to run it on, and the raw checkpoint.

    Raises:
        UsageError: no checkpoint, a corrupt one, one that is not plain tensors and data (it is
            refused, never unpickled), or an env whose spaces differ from the checkpoint's.
    """
    from agents.dqn import DQNLearner

    path = Path(directory) / "checkpoint.pt"
    checkpoint = read_checkpoint(path)
    try:
        config = DQNConfig(
            **{**checkpoint["config"], "hidden": tuple(checkpoint["config"]["hidden"])}
        )
    except (TypeError, ValueError) as err:
        raise UsageError(f"{path} has a bad config: {err}") from None
    if env:
        source = resolve_env(env)
    else:
        source = resolve_env(checkpoint["env"], checkpoint["env_kwargs"], read_from=str(path))
    probe = source.make_one()
    learner = DQNLearner(
        config, probe.observation_space, probe.action_space, np.random.default_rng(0)
    )
    shape, n_actions = list(learner.buffer.obs.shape[1:]), learner.n_actions
    if shape != list(checkpoint["observation_shape"]) or n_actions != checkpoint["n_actions"]:
        raise UsageError(
            f"{path} was trained on {checkpoint['env']} (observations "
            f"{checkpoint['observation_shape']}, {checkpoint['n_actions']} actions); "
            f"{source.name} has observations {shape} and {n_actions} actions"
        )
    try:
        learner.load_weights(checkpoint["model"])
    except (RuntimeError, TypeError) as err:
        raise UsageError(f"{path} does not fit the network: {str(err).splitlines()[0]}") from None
    return learner, source, checkpoint


def read_checkpoint(path: Path) -> dict:
    """A checkpoint file's tensors and plain data (``weights_only``: never code).

    Raises:
        UsageError: no such file, a corrupt one, or one that is not an rlcourse checkpoint.
    """
    import pickle
    import re
    import zipfile

    import torch

    if not path.is_file():
        raise UsageError(f"{path.parent} holds no checkpoint.pt (train one with rlcourse train)")
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
    return checkpoint


def evaluate_checkpoint(directory: Path, episodes: int = 20, seed: int = 0, env: str | None = None):
    """Greedy returns of a saved DQN; writes ``evaluation.json`` into ``directory``."""
    from rlcourse.stats import mean_ci

    learner, source, _ = load_checkpoint(directory, env)
    returns = evaluate_greedy(learner, source, episodes, seed)
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
    write_text(Path(directory) / "evaluation.json", json.dumps(result, indent=2) + "\n")
    add_to_stamp(Path(directory), "evaluation.json")
    return result
