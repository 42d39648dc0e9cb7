"""A finished sweep's results, and its final performance as Agarwal et al. (2021) report it.

:func:`collect` joins the units into one :class:`~rlcourse.results.Results` per env
(:class:`SweepResults`); :func:`load_sweep` does so from a sweep directory.

A run's *score* is its mean over the final 10% of x (as in ``summary.csv`` of ``compare``). Per
agent configuration and env the scores of its runs give the mean and the interquartile mean (IQM,
the mean of the middle 50%), each with a 95% percentile-bootstrap interval from
:func:`scipy.stats.bootstrap`. Across several envs the bootstrap is *stratified*: the runs of each
env are resampled on their own, so every resample keeps each env's share. A performance profile
is the fraction of runs whose score exceeds τ, for every τ, with 95% Wilson intervals (runs
being independent, the count above τ is binomial).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from common.figures import save_figure
from rlcourse.errors import UsageError
from rlcourse.results import CURVE_COLUMNS, Results
from rlcourse.stats import CONFIDENCE, final_scores
from rlcourse.sweep.config import SweepConfig
from rlcourse.sweep.store import UnitStore, read_config
from rlcourse.sweep.units import plan

N_RESAMPLES = 1000
"""Bootstrap resamples per interval (ample for 95% percentile intervals)."""
SUMMARY_COLUMNS = ["env", "agent", "metric", "mean", "ci_low", "ci_high", "n", "iqm"]
IQM_COLUMNS = ["env", "agent", "metric", "iqm", "ci_low", "ci_high", "n"]
ALL_ENVS = "all envs (normalized)"
"""The ``env`` of aggregate rows: scores min-max normalized per env, then pooled."""


def iqm(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% (25% trimmed from each end)."""
    return stats.trim_mean(values, 0.25, axis=axis)


def _mean_and_iqm(*strata: np.ndarray, axis: int = -1) -> np.ndarray:
    pooled = np.concatenate(strata, axis=axis)
    return np.stack([pooled.mean(axis=axis), iqm(pooled, axis=axis)])


def mean_iqm_intervals(strata: Sequence[np.ndarray], seed: int = 0) -> dict[str, float]:
    """Mean and IQM of the pooled scores, each with a stratified-bootstrap 95% interval.

    Args:
        strata: the scores of each env (one array each); one array for a single env.
        seed: seed of the resampling (intervals are reproducible).

    Returns:
        ``mean, mean_low, mean_high, iqm, iqm_low, iqm_high, n``. With fewer than two runs in
        a stratum no interval can be drawn: it is the point estimate.
    """
    strata = [np.asarray(s, dtype=np.float64) for s in strata]
    mean, middle = _mean_and_iqm(*strata)
    n = sum(len(s) for s in strata)
    if min(len(s) for s in strata) < 2:
        low, high = np.array([mean, middle]), np.array([mean, middle])
    else:
        result = stats.bootstrap(
            strata,
            _mean_and_iqm,
            n_resamples=N_RESAMPLES,
            vectorized=True,
            paired=False,
            confidence_level=CONFIDENCE,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
        low, high = result.confidence_interval.low, result.confidence_interval.high
    return {
        "mean": float(mean),
        "mean_low": float(low[0]),
        "mean_high": float(high[0]),
        "iqm": float(middle),
        "iqm_low": float(low[1]),
        "iqm_high": float(high[1]),
        "n": n,
    }


def final_performance(
    scores: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]],
    seed: int = 0,
    estimate: Callable[..., dict[str, float]] = mean_iqm_intervals,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``summary.csv`` and ``iqm.csv`` tables from ``scores[env][agent][metric]``.

    With more than one env, ``iqm.csv`` also has a row per agent and metric over all envs
    (``env`` = :data:`ALL_ENVS`): each env's scores are min-max normalized by the lowest and
    highest run score of any agent in that env, then bootstrapped stratified by env.
    ``estimate(strata, seed=…)``: what :func:`mean_iqm_intervals` returns (rliable's, in
    :mod:`rlcourse.aggregate_rliable`).
    """
    summary, intervals = [], []
    for env, per_env in scores.items():
        for agent, per_agent in per_env.items():
            for metric, values in per_agent.items():
                row = estimate([values], seed=seed + len(summary))
                summary.append(
                    (env, agent, metric, row["mean"], row["mean_low"], row["mean_high"])
                    + (row["n"], row["iqm"])
                )
                intervals.append(
                    (env, agent, metric, row["iqm"], row["iqm_low"], row["iqm_high"], row["n"])
                )
    if len(scores) > 1:
        normalized = normalize_per_env(scores)
        for (agent, metric), strata in normalized.items():
            row = estimate(strata, seed=seed + len(intervals))
            intervals.append(
                (ALL_ENVS, agent, metric, row["iqm"], row["iqm_low"], row["iqm_high"], row["n"])
            )
    return (
        pd.DataFrame(summary, columns=SUMMARY_COLUMNS),
        pd.DataFrame(intervals, columns=IQM_COLUMNS),
    )


def normalize_per_env(
    scores: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]],
) -> dict[tuple[str, str], list[np.ndarray]]:
    """``{(agent, metric): [normalized scores of each env]}`` for pairs present in every env."""
    envs = list(scores.values())
    pairs = [
        (agent, metric)
        for agent, per_agent in envs[0].items()
        for metric in per_agent
        if all(metric in per_env.get(agent, {}) for per_env in envs)
    ]
    out: dict[tuple[str, str], list[np.ndarray]] = {pair: [] for pair in pairs}
    for per_env in envs:
        for metric in {m for _, m in pairs}:
            pooled = np.concatenate([per_env[a][metric] for a, m in pairs if m == metric])
            low, high = pooled.min(), pooled.max()
            span = high - low if high > low else 1.0
            for agent, m in pairs:
                if m == metric:
                    out[(agent, m)].append((per_env[agent][metric] - low) / span)
    return out


def performance_profile(
    scores: np.ndarray, taus: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fraction of runs with a score above each τ, and its 95% Wilson score interval.

    The Wilson interval is what :meth:`scipy.stats.binomtest` gives with ``method="wilson"``,
    written out here so that it is computed for every τ at once.
    """
    scores = np.asarray(scores)
    n = len(scores)
    above = (scores[:, None] > np.asarray(taus)[None, :]).sum(axis=0)
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    centre = (above + z**2 / 2) / (n + z**2)
    half = z / (n + z**2) * np.sqrt(above * (n - above) / n + z**2 / 4)
    return above / n, np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


FAMILY_COLOURMAPS = ("Blues", "Oranges", "Greens", "Reds", "Purples", "Greys")


def _family_colours(agents: list[str]) -> dict[str, tuple]:
    """One colour map per agent name, one shade per configuration (light to dark in order)."""
    from matplotlib import colormaps

    from agents.specs import parse_spec

    families: dict[str, list[str]] = {}
    for agent in agents:
        families.setdefault(parse_spec(agent)[0], []).append(agent)
    colours = {}
    for i, members in enumerate(families.values()):
        cmap = colormaps[FAMILY_COLOURMAPS[i % len(FAMILY_COLOURMAPS)]]
        shades = np.linspace(0.45, 0.95, len(members)) if len(members) > 1 else [0.75]
        colours |= {agent: cmap(shade) for agent, shade in zip(members, shades, strict=True)}
    return colours


def plot_profiles(
    scores: Mapping[str, np.ndarray], metric: str, title: str, path: str | os.PathLike
) -> Path:
    """Performance profiles of several agents on one env and metric, with 95% bands."""
    from matplotlib.figure import Figure

    from rlcourse.plots import LABELS

    pooled = np.concatenate([np.asarray(s) for s in scores.values()])
    taus = np.linspace(pooled.min(), pooled.max(), 101)
    scale = 100.0 if metric == "optimal_action" else 1.0
    fig = Figure(figsize=(9, 4.8), layout="constrained")
    ax = fig.add_subplot()
    colours = _family_colours(list(scores))
    for agent, values in scores.items():
        fraction, low, high = performance_profile(values, taus)
        colour = colours[agent]
        ax.plot(taus * scale, fraction, label=agent, linewidth=1.2, color=colour)
        ax.fill_between(taus * scale, low, high, color=colour, alpha=0.2, linewidth=0)
    label = LABELS.get(metric, metric)
    ax.set_xlabel(f"τ ({label.lower()}, final 10%)")
    ax.set_ylabel("Fraction of runs with score > τ")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="x-small")
    return save_figure(fig, path, dpi=110)


class SweepResults:
    """A finished sweep: one :class:`~rlcourse.results.Results` per env, and its tables."""

    def __init__(self, config: SweepConfig, results: dict[str, Results], seconds: float):
        self.config = config
        self.results = results
        """``{env label: Results}`` with every agent configuration's runs in run order."""
        self.unit_seconds = seconds
        """Compute seconds of all units (as each unit measured itself)."""

    @cached_property
    def scores(self) -> dict[str, dict[str, dict[str, np.ndarray]]]:
        """Each run's final score, ``scores[env][agent][metric]``."""
        return {
            env: {
                agent: {metric: final_scores(v) for metric, v in per_agent.items()}
                for agent, per_agent in results.data.items()
            }
            for env, results in self.results.items()
        }

    @cached_property
    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(summary, iqm)`` as written to ``summary.csv`` and ``iqm.csv``."""
        return final_performance(self.scores, seed=self.config.seed)

    @property
    def summary(self) -> pd.DataFrame:
        """``env,agent,metric,mean,ci_low,ci_high,n,iqm`` per env, configuration and metric."""
        return self.tables[0]

    @property
    def curves(self) -> pd.DataFrame:
        """``env,agent,metric,x,mean,ci_low,ci_high,n`` at every x."""
        frames = [r.curves.assign(env=env) for env, r in self.results.items()]
        return pd.concat(frames, ignore_index=True)[["env", *CURVE_COLUMNS]]


def collect(config: SweepConfig, store: UnitStore) -> SweepResults:
    """Assemble the finished units into one Results per env (runs in order).

    Raises:
        UsageError: a unit is missing or unreadable.
    """
    data: dict[str, dict[str, dict[str, list[np.ndarray]]]] = {}
    seconds = 0.0
    for unit in plan(config):
        arrays, unit_seconds = store.read(unit)
        seconds += unit_seconds
        per_agent = data.setdefault(unit.env_label, {}).setdefault(unit.agent, {})
        for metric, values in arrays.items():
            per_agent.setdefault(metric, []).append(values)
    results = {}
    for env in config.envs:
        manifest = {
            "env": env.label,
            "env_kwargs": env.kwargs,
            "agents": list(config.agents),
            "runs": config.runs,
            "steps": config.steps,
            "episodes": config.episodes,
            "seed": config.seed,
            "x": "step" if config.steps is not None else "episode",
        }
        if config.eval_every is not None:
            manifest |= {"eval_every": config.eval_every, "eval_episodes": config.eval_episodes}
        joined = {
            agent: {metric: np.concatenate(parts) for metric, parts in per_agent.items()}
            for agent, per_agent in data[env.label].items()
        }
        results[env.label] = Results(joined, manifest)
    return SweepResults(config, results, seconds)


def load_sweep(directory: str | os.PathLike) -> SweepResults:
    """Read a finished sweep directory back (every unit must be there).

    Raises:
        UsageError: not a sweep directory, or a unit missing (run the sweep again to finish it).
    """
    config = read_config(Path(directory))
    store = UnitStore(Path(directory))
    missing = [u for u in plan(config) if not store.path(u).is_file()]
    if missing:
        raise UsageError(
            f"{directory}: {len(missing)} of {len(plan(config))} units not finished; run the "
            "sweep again to resume it"
        )
    return collect(config, store)
