"""Final performance across runs of any kind (:mod:`rlcourse.run_readers`), as rliable reports it.

Each run's score is its mean over the final 10% of its curve (:func:`rlcourse.stats.final_scores`).
IQM with stratified-bootstrap 95% intervals and performance profiles are those of
:mod:`rlcourse.sweep.analysis` (the intervals by rliable where it imports and works:
:mod:`rlcourse.aggregate_rliable`); the probability of improvement P(X > Y) of label X over Y is the
Mann-Whitney U statistic over all pairs of runs divided by their number (ties count half),
averaged over envs, with a 95% bootstrap interval resampling each label's runs per env.
"""

from __future__ import annotations

import os
import re
from itertools import permutations
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from rlcourse.errors import UsageError
from rlcourse.run_readers import Run
from rlcourse.stats import CONFIDENCE, final_scores
from rlcourse.sweep.analysis import N_RESAMPLES, final_performance, normalize_per_env, plot_profiles

IMPROVEMENT_COLUMNS = ["metric", "x", "y", "p_x_over_y", "ci_low", "ci_high", "envs"]


def scores_of(runs: list[Run], per_env: bool) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """``scores[env][label][metric]``: each run's final score.

    Raises:
        UsageError: runs of several envs without ``per_env``.
    """
    envs = sorted({run.env for run in runs})
    if len(envs) > 1 and not per_env:
        raise UsageError(
            f"runs of different envs ({', '.join(envs)}): their scores are not comparable; "
            "pass --per-env to report each env and the normalized aggregate"
        )
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    for run in runs:
        score = float(final_scores(run.y[None, :])[0])
        out.setdefault(run.env, {}).setdefault(run.label, {}).setdefault(run.metric, [])
        out[run.env][run.label][run.metric].append(score)
    return {
        env: {
            label: {m: np.array(v) for m, v in per_label.items()}
            for label, per_label in per_env_scores.items()
        }
        for env, per_env_scores in out.items()
    }


def improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(a run of X scores above a run of Y), ties counting half: Mann-Whitney's U / (n m)."""
    x, y = np.asarray(x)[:, None], np.asarray(y)[None, :]
    return float((x > y).mean() + 0.5 * (x == y).mean())


def improvement_interval(
    pairs: list[tuple[np.ndarray, np.ndarray]], seed: int = 0
) -> tuple[float, float, float]:
    """P(X > Y) averaged over envs (``pairs``: X's and Y's scores per env), 95% interval.

    The interval is scipy's percentile bootstrap resampling each label's runs per env.
    """
    samples = [s for pair in pairs for s in pair]

    def statistic(*s):
        return np.mean([improvement(s[i], s[i + 1]) for i in range(0, len(s), 2)])

    estimate = float(statistic(*samples))
    if min(len(s) for s in samples) < 2:
        return estimate, estimate, estimate
    result = stats.bootstrap(
        samples,
        statistic,
        n_resamples=N_RESAMPLES,
        vectorized=False,
        paired=False,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return estimate, float(result.confidence_interval.low), float(result.confidence_interval.high)


def probability_of_improvement(
    scores, seed: int = 0, interval=improvement_interval
) -> pd.DataFrame:
    """Every ordered pair of labels present in every env, per metric.

    ``interval(pairs, seed)``: the estimate and its interval (:func:`improvement_interval`, or
    rliable's in :mod:`rlcourse.aggregate_rliable`).
    """
    envs = list(scores.values())
    rows = []
    labels = [a for a in envs[0] if all(a in e for e in envs)]
    metrics = list(dict.fromkeys(m for a in labels for m in envs[0][a]))
    for metric in metrics:
        for x, y in permutations(labels, 2):
            pairs = [(e[x][metric], e[y][metric]) for e in envs if metric in e[x].keys() & e[y]]
            if not pairs:
                continue
            estimate, low, high = interval(pairs, seed + len(rows))
            rows.append((metric, x, y, estimate, low, high, len(pairs)))
    return pd.DataFrame(rows, columns=IMPROVEMENT_COLUMNS)


def aggregate(
    runs: list[Run], per_env: bool, seed: int = 0, use_rliable: bool = True
) -> dict[str, Any]:
    """``summary``, ``iqm`` and ``improvement`` tables of the runs' final scores.

    Estimated by rliable where it imports and works (:mod:`rlcourse.aggregate_rliable`), else by
    scipy (``use_rliable=False``: scipy always); ``implementation`` names the one used.
    """
    from rlcourse.aggregate_rliable import SCIPY, load

    scores = scores_of(runs, per_env)
    found, implementation = load() if use_rliable else (None, SCIPY)
    if found is None:
        summary, intervals = final_performance(scores, seed=seed)
        improvements = probability_of_improvement(scores, seed=seed)
    else:
        summary, intervals = final_performance(scores, seed=seed, estimate=found.mean_iqm)
        improvements = probability_of_improvement(scores, seed=seed, interval=found.improvement)
    return {
        "summary": summary,
        "iqm": intervals,
        "improvement": improvements,
        "scores": scores,
        "implementation": implementation,
    }


def safe_name(text: str) -> str:
    """A file name made of ``text``: letters, digits, ``-``, ``_`` and ``.`` kept."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.") or "env"


def draw_profiles(scores, folder: str | os.PathLike) -> list[str]:
    """``profile-<env>-<metric>.png`` per env and metric (and of all envs, normalized)."""
    written = []
    targets = {}
    for env, per_env in scores.items():
        for metric in dict.fromkeys(m for per_label in per_env.values() for m in per_label):
            per_label = {a: s[metric] for a, s in per_env.items() if metric in s}
            targets[f"profile-{safe_name(env)}-{safe_name(metric)}.png"] = (per_label, metric, env)
    if len(scores) > 1:
        pooled: dict[str, dict[str, np.ndarray]] = {}
        for (label, metric), strata in normalize_per_env(scores).items():
            pooled.setdefault(metric, {})[label] = np.concatenate(strata)
        for metric, per_label in pooled.items():
            name = f"profile-all-{safe_name(metric)}.png"
            targets[name] = (per_label, metric, "all envs (normalized)")
    for name, (per_label, metric, env) in targets.items():
        title = f"{env}: performance profiles (95% CI)"
        plot_profiles(per_label, metric, title, f"{folder}/{name}")
        written.append(name)
    return written
