"""Results of a comparison: raw per-run arrays, their curves and summary, and their directory.

A results directory holds:

- ``manifest.json``: command, env, agents (in order), budget, seed, x-axis, versions, git commit;
- ``runs.npz``: the raw per-run arrays, ``agent<i>.<metric>`` with shape ``(runs, x)``;
- ``curves.csv``: ``agent,metric,x,mean,ci_low,ci_high,n`` (x counts from 1; ``eval_return``,
  the greedy evaluations of ``compare --eval-every N``, at x = N, 2N, …);
- ``summary.csv``: ``agent,metric,mean,ci_low,ci_high,n`` over the final 10% of x
  (each run's mean over that window, then the mean and 95% t-interval across runs);
- ``values.npz``: learned action values ``agent<i>``, ``(runs, states, actions)``, of the agents
  that keep a table (value heatmaps are drawn from it);
- the PNG plots (see :mod:`rlcourse.plots`).
"""

from __future__ import annotations

import json
import math
import os
import platform
import reprlib
import subprocess
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.atomic import atomic_path, write_text
from rlcourse.errors import UsageError
from rlcourse.outputs import prepare_output
from rlcourse.reading import UnreadableFile, read_json
from rlcourse.stats import final_scores, mean_ci

CURVE_COLUMNS = ["agent", "metric", "x", "mean", "ci_low", "ci_high", "n"]
SUMMARY_COLUMNS = ["agent", "metric", "mean", "ci_low", "ci_high", "n"]
FILES = ("manifest.json", "runs.npz", "curves.csv", "summary.csv")


class Results:
    """Per-run arrays ``data[agent][metric]``, shaped ``(runs, x)``, and their manifest."""

    def __init__(
        self,
        data: dict[str, dict[str, np.ndarray]],
        manifest: dict[str, Any],
        action_values: dict[str, np.ndarray] | None = None,
    ):
        self.data = data
        self.manifest = manifest
        self.action_values = action_values or {}
        """Learned action values per agent that has them, ``(runs, states, actions)``."""

    @property
    def agents(self) -> list[str]:
        """Agent labels in the order they were given."""
        return list(self.data)

    @property
    def metrics(self) -> list[str]:
        """Metric names, in recording order."""
        names: list[str] = []
        for per_agent in self.data.values():
            names += [m for m in per_agent if m not in names]
        return names

    @cached_property
    def curves(self) -> pd.DataFrame:
        """Mean and 95% CI across runs at every x, one row per (agent, metric, x)."""
        frames = []
        for agent, per_agent in self.data.items():
            for metric, values in per_agent.items():
                mean, low, high, n = mean_ci(values)
                frames.append(
                    pd.DataFrame(
                        {
                            "agent": agent,
                            "metric": metric,
                            "x": np.arange(1, values.shape[1] + 1) * self.x_step(metric),
                            "mean": mean,
                            "ci_low": low,
                            "ci_high": high,
                            "n": n,
                        }
                    )
                )
        return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS]

    def x_step(self, metric: str) -> int:
        """The x between two columns of ``metric``: ``eval_every`` for ``eval_return``, else 1."""
        every = self.manifest.get("eval_every")
        if metric == "eval_return" and isinstance(every, int) and every >= 1:
            return every
        return 1

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Mean and 95% CI across runs of each run's mean over the final 10% of x."""
        rows = []
        for agent, per_agent in self.data.items():
            for metric, values in per_agent.items():
                mean, low, high, n = mean_ci(final_scores(values))
                rows.append((agent, metric, float(mean), float(low), float(high), n))
        return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)

    def run_means(self, metric: str) -> dict[str, np.ndarray]:
        """Each run's mean over all of x, per agent (what a parameter study plots)."""
        return {a: m[metric].mean(axis=1) for a, m in self.data.items() if metric in m}

    def save(self, directory: str | os.PathLike, force: bool = False) -> Path:
        """Write the directory; refuse an existing non-empty one unless ``force``.

        Files go to a staging directory beside it, swapped in at the end, so an interrupted save
        leaves either the old directory or the new one, never a mixture.
        """
        with prepare_output(directory, force) as staging:
            self.write(staging)
        return Path(directory)

    def write(self, directory: str | os.PathLike) -> None:
        """Write the files into ``directory`` as they are (:meth:`save` is the checked way)."""
        directory = Path(directory)
        arrays = {
            f"agent{i}.{metric}": values
            for i, per_agent in enumerate(self.data.values())
            for metric, values in per_agent.items()
        }
        with atomic_path(directory / "runs.npz") as temporary:
            np.savez(temporary, **arrays)  # float32 noise barely compresses
        if self.action_values:
            index = {label: i for i, label in enumerate(self.data)}
            with atomic_path(directory / "values.npz") as temporary:
                np.savez_compressed(
                    temporary,
                    **{f"agent{index[label]}": q for label, q in self.action_values.items()},
                )
        write_text(
            directory / "manifest.json", json.dumps(self.manifest, indent=2, default=repr) + "\n"
        )
        for name, frame in (("curves.csv", self.curves), ("summary.csv", self.summary)):
            write_text(directory / name, frame.to_csv(index=False, float_format="%.6g"))


def load_results(directory: str | os.PathLike) -> Results:
    """Read a results directory written by :meth:`Results.save`.

    Raises:
        UsageError: the directory is missing, incomplete, or its files cannot be read.
    """
    path = Path(directory)
    if not path.is_dir():
        raise UsageError(f"{path} is not a results directory (no such directory)")
    missing = [name for name in ("manifest.json", "runs.npz") if not (path / name).is_file()]
    if missing:
        raise UsageError(f"{path} is not a results directory (missing {', '.join(missing)})")
    try:
        manifest = read_json(path / "manifest.json")
    except UnreadableFile as err:
        raise UsageError(f"cannot read results in {path}: manifest.json {err.reason}") from None
    problem = manifest_problem(manifest)
    if problem:
        raise UsageError(f"cannot read results in {path}: manifest.json {problem}")
    labels = manifest["agents"]
    try:
        data: dict[str, dict[str, np.ndarray]] = {label: {} for label in labels}
        with np.load(path / "runs.npz") as arrays:
            for key in arrays.files:
                index, _, metric = key.removeprefix("agent").partition(".")
                data[labels[int(index)]][metric] = arrays[key]
        action_values = {}
        if (path / "values.npz").is_file():
            with np.load(path / "values.npz") as arrays:
                action_values = {
                    labels[int(key.removeprefix("agent"))]: arrays[key] for key in arrays.files
                }
    except Exception as err:  # a damaged file can fail in many ways (zip, zlib, json, pickle)
        raise UsageError(f"cannot read results in {path}: {type(err).__name__}: {err}") from None
    for label, per_agent in data.items():
        if not per_agent:
            raise UsageError(f"cannot read results in {path}: no arrays for agent {label!r}")
        for metric, values in per_agent.items():
            problem = array_problem(values, manifest.get("runs"))
            if problem:
                raise UsageError(f"cannot read results in {path}: {label!r} {metric} {problem}")
    for label, values in action_values.items():
        problem = array_problem(values, manifest.get("runs"), dims=("runs", "states", "actions"))
        if problem:
            raise UsageError(f"cannot read results in {path}: values.npz of {label!r} {problem}")
    return Results(data, manifest, action_values)


def array_problem(
    values: np.ndarray,
    runs: Any,
    counted_by: str = "manifest.json",
    dims: tuple[str, ...] = ("runs", "x"),
) -> str | None:
    """What is wrong with an array read from a file (None: nothing), to end a sentence.

    It must have the axes ``dims`` (a metric's ``(runs, x)``; action values' ``(runs, states,
    actions)``), none empty, hold ``runs`` rows (as ``counted_by`` says), and finite numbers.
    """
    if values.ndim != len(dims) or 0 in values.shape[1:]:
        return f"has shape {values.shape}, not ({', '.join(dims)})"
    if runs is not None and values.shape[0] != runs:
        return f"has {values.shape[0]} runs, but {counted_by} says {runs}"
    if values.dtype.kind not in "biuf":
        return f"holds {values.dtype} values, not numbers"
    if not np.isfinite(values).all():
        return "holds NaN or infinite values"
    return None


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: Any) -> bool:
    return _integer(value) and value >= 1


def _number(value: Any) -> bool:
    return _integer(value) or isinstance(value, float)


def _ylim(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(pair, list)
        and len(pair) == 2
        and all(_number(v) and math.isfinite(v) for v in pair)
        for pair in value.values()
    )


MANIFEST_FIELDS: dict[str, tuple[str, Any]] = {
    "command": ("a string or null", lambda v: v is None or isinstance(v, str)),
    "env": ("a string", lambda v: isinstance(v, str)),
    "env_kwargs": ("an object or null", lambda v: v is None or isinstance(v, dict)),
    "runs": ("a positive integer", _count),
    "steps": ("a positive integer or null", lambda v: v is None or _count(v)),
    "episodes": ("a positive integer or null", lambda v: v is None or _count(v)),
    "seed": ("an integer or null", lambda v: v is None or _integer(v)),
    "x": ("a string", lambda v: isinstance(v, str)),
    "seconds": (
        "an object of numbers",
        lambda v: isinstance(v, dict) and all(map(_number, v.values())),
    ),
    "plot": (
        "an object (its 'ylim': {metric: [low, high]})",
        lambda v: isinstance(v, dict) and _ylim(v.get("ylim", {})),
    ),
}
"""The manifest fields rlcourse reads back, what each must be, and its check (when present)."""


def manifest_problem(manifest: Any) -> str | None:
    """What is wrong with a manifest read from a file (None: nothing), to finish a sentence.

    A manifest may come from someone else: every field that plots and tables use is checked
    for its type here, so that a wrong one is one clear line rather than a failure deep inside.
    """
    if not isinstance(manifest, dict):
        return f"is not a JSON object but {type(manifest).__name__}"
    agents = manifest.get("agents")
    if not (isinstance(agents, list) and agents and all(isinstance(a, str) for a in agents)):
        return f"'agents' must be a non-empty list of strings, got {reprlib.repr(agents)}"
    if len(set(agents)) < len(agents):
        return f"'agents' names an agent twice: {reprlib.repr(agents)}"
    for field, (expected, valid) in MANIFEST_FIELDS.items():
        if field in manifest and not valid(manifest[field]):
            return f"{field!r} must be {expected}, got {reprlib.repr(manifest[field])}"
    return None


def provenance() -> dict[str, Any]:
    """Versions and the git commit, for the manifest."""
    versions = {"python": platform.python_version()}
    for package in ("rlcourse", "numpy", "gymnasium", "scipy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"versions": versions, "git_commit": commit}
