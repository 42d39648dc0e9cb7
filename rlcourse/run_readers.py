"""Readers of every kind of run on disk, as curves one plot or one aggregate can hold.

Four kinds, told apart by their files:

- a results directory (``manifest.json`` and ``runs.npz``, from ``compare`` or ``figure``): a run
  per agent and run, x the episode or step index;
- a ``train dqn`` directory (``evaluations.csv``, ``episodes.csv``): metric ``eval_return`` (the
  greedy evaluations against env steps) and ``return`` (training episodes against env steps);
- a sweep directory (``sweep.json`` and its ``units/``): like a results directory per env;
- Stable-Baselines3 logs: ``evaluations.npz`` of ``EvalCallback`` (metric ``eval_return``: the
  mean of each evaluation's episodes against ``timesteps``) and ``monitor.csv`` of ``Monitor``
  (metric ``return``: each episode's ``r`` against the env steps so far), given as the file or
  as a directory holding it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlcourse.errors import UsageError
from rlcourse.reading import parse_json

KINDS = ("results", "train", "sweep", "sb3")
UNKNOWN = "unknown"
"""The env of runs whose files do not name it (SB3's ``evaluations.npz`` without a monitor)."""
NOT_SETTINGS = frozenset({
    "seed", "eval_seed", "runs", "command", "seconds", "versions", "git_commit", "device",
    "threads", "workers", "backend", "address", "agents", "gym_packages",
})  # fmt: skip
"""Keys of a manifest or of a train run's settings that do not make one setting differ from
another: the seed (and the seeds derived from it), how many runs, and how and where it ran."""
SEED_SUFFIX = re.compile(r"(?:[-_.](?:seed|s|run)?|(?:seed|run))[-_]?\d+$", re.IGNORECASE)
"""A trailing seed in a folder name (``dqn-s0``, ``dqn_seed1``, ``PPO_1``), not in labels."""


@dataclass
class Run:
    """One run's curve of one metric."""

    label: str
    metric: str
    x: np.ndarray
    y: np.ndarray
    env: str = UNKNOWN
    x_name: str = "step"
    settings: dict | None = None
    """What the run was asked to do, its seed left out (:data:`NOT_SETTINGS`): runs whose settings
    are equal are seeds of one setting. None: its files do not say (SB3's logs)."""


def kind_of(path: Path) -> str:
    """Which of :data:`KINDS` ``path`` is.

    Raises:
        UsageError: none of them (one line naming the files looked for).
    """
    if path.is_file() and path.name in ("evaluations.npz", "monitor.csv"):
        return "sb3"
    if path.is_dir():
        if (path / "sweep.json").is_file():
            return "sweep"
        if (path / "manifest.json").is_file() or (path / "runs.npz").is_file():
            return "results"  # one of them missing: reading it says which
        if (path / "evaluations.csv").is_file() or (path / "episodes.csv").is_file():
            return "train"
        if (path / "evaluations.npz").is_file() or (path / "monitor.csv").is_file():
            return "sb3"
    raise UsageError(
        f"{path} is none of: a results directory (manifest.json, runs.npz), a train directory "
        "(evaluations.csv, episodes.csv), a sweep directory (sweep.json), or Stable-Baselines3 "
        "logs (evaluations.npz, monitor.csv)"
    )


def default_label(path: Path) -> str:
    """The directory's name (a file's folder), without a trailing seed such as ``-s0``."""
    name = (path.parent if path.is_file() else path).resolve().name
    return SEED_SUFFIX.sub("", name) or name


def read_runs(path: str | Path, label: str | None = None) -> list[Run]:
    """Every run at ``path``, every metric it has.

    Labels: ``label`` or the default (:func:`default_label`); the runs of a results or sweep
    directory are labelled by agent (``label`` then comes before each agent's name when there
    are several), and by env as well when a sweep has several.
    """
    path = Path(path)
    kind = kind_of(path)
    if kind in ("results", "sweep"):
        return _from_results(path, kind, label)
    if kind == "train":
        return _from_train(path, label or default_label(path))
    return _from_sb3(path, label or default_label(path))


def _from_results(path: Path, kind: str, label: str | None) -> list[Run]:
    if kind == "results":
        from rlcourse.results import load_results

        tables = {None: load_results(path)}
    else:
        from rlcourse.sweep.analysis import load_sweep

        tables = load_sweep(path).results
    runs = []
    for env_label, results in tables.items():
        env = str(results.manifest.get("env", env_label or UNKNOWN))
        x_name = str(results.manifest.get("x", "x"))
        shared = settings_of(results.manifest)
        for agent, per_agent in results.data.items():
            name = f"{label} {agent}" if label and len(results.data) > 1 else label or agent
            name = name if len(tables) == 1 else f"{name} ({env})"
            settings = {**shared, "env": env, "agent": agent}
            for metric, values in per_agent.items():
                x = np.arange(1, values.shape[1] + 1, dtype=np.float64) * results.x_step(metric)
                runs += [Run(name, metric, x, row, env, x_name, settings) for row in values]
    return runs


def settings_of(saved) -> dict | None:
    """The settings in a manifest or a train run's saved settings, without :data:`NOT_SETTINGS`."""
    if not isinstance(saved, dict):
        return None
    return {key: value for key, value in saved.items() if key not in NOT_SETTINGS}


def _read_csv(path: Path, columns: tuple[str, ...], skip: int = 0) -> dict[str, np.ndarray]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for _ in range(skip):
                handle.readline()
            rows = list(csv.DictReader(handle))
        return {c: np.array([float(r[c]) for r in rows], dtype=np.float64) for c in columns}
    except (OSError, KeyError, ValueError, TypeError, UnicodeDecodeError) as err:
        raise UsageError(
            f"cannot read {path}: columns {', '.join(columns)} expected ({err})"
        ) from None


def _from_train(path: Path, label: str) -> list[Run]:
    env, settings = UNKNOWN, None
    if (path / "metrics.json").is_file():
        try:
            about = parse_json((path / "metrics.json").read_text(encoding="utf-8"), "metrics")
        except (UsageError, OSError):
            about = None
        if isinstance(about, dict):
            env = str(about.get("env", UNKNOWN))
            settings = settings_of(about.get("settings"))  # runs trained since it is saved
    runs = []
    if (path / "evaluations.csv").is_file():
        table = _read_csv(path / "evaluations.csv", ("step", "mean_return"))
        runs.append(Run(label, "eval_return", table["step"], table["mean_return"], env,
                        settings=settings))  # fmt: skip
    if (path / "episodes.csv").is_file():
        table = _read_csv(path / "episodes.csv", ("step", "return"))
        runs.append(Run(label, "return", table["step"], table["return"], env, settings=settings))
    return runs


def _from_sb3(path: Path, label: str) -> list[Run]:
    folder = path.parent if path.is_file() else path
    names = [path.name] if path.is_file() else ["evaluations.npz", "monitor.csv"]
    monitor = folder / "monitor.csv"
    env, skip = UNKNOWN, 0
    if monitor.is_file():  # its header names the env, for the evaluations beside it too
        with monitor.open(encoding="utf-8", errors="replace") as handle:
            first = handle.readline()
        if first.startswith("#"):
            skip = 1
            try:
                header = parse_json(first[1:], f"{monitor} header")
            except UsageError:
                header = None
            if isinstance(header, dict) and isinstance(header.get("env_id"), str):
                env = header["env_id"]
    runs = []
    if "evaluations.npz" in names and (folder / "evaluations.npz").is_file():
        try:
            with np.load(folder / "evaluations.npz", allow_pickle=False) as data:
                steps = np.asarray(data["timesteps"], dtype=np.float64)
                results = np.asarray(data["results"], dtype=np.float64)
        except Exception as err:  # a damaged zip can fail in many ways
            raise UsageError(f"cannot read {folder / 'evaluations.npz'}: {err}") from None
        if results.ndim != 2 or results.shape[0] != steps.shape[0]:
            raise UsageError(
                f"{folder / 'evaluations.npz'}: results should be (n_evals, n_episodes), one row "
                f"per timestep; got {results.shape} for {steps.shape[0]} timesteps"
            )
        runs.append(Run(label, "eval_return", steps, results.mean(axis=1), env))
    if "monitor.csv" in names and monitor.is_file():
        table = _read_csv(monitor, ("r", "l"), skip=skip)
        runs.append(Run(label, "return", np.cumsum(table["l"]), table["r"], env))
    return runs
