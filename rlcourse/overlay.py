"""One figure of runs of any kind (:mod:`rlcourse.run_readers`): a line per label.

Runs sharing a label (the seeds of one setting) are drawn as their mean with a 95% band
(:func:`rlcourse.stats.mean_ci`); when their x differ, each curve is first interpolated
linearly onto the x of all of them, within the range every run covers.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rlcourse.errors import UsageError
from rlcourse.run_readers import UNKNOWN, Run, read_runs
from rlcourse.stats import mean_ci

PREFERRED = ("eval_return", "return")
"""The metric drawn of an input when ``--metric`` is not given: the first it has."""
AXIS_LABELS = {"eval_return": "Greedy evaluation return"}
"""Axis labels of the metrics :data:`rlcourse.plots.LABELS` does not name."""


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over ``window`` points (fewer at the start)."""
    if window <= 1:
        return np.asarray(y, dtype=np.float64)
    sums = np.cumsum(np.insert(np.asarray(y, dtype=np.float64), 0, 0.0))
    index = np.arange(1, len(y) + 1)
    start = np.maximum(index - window, 0)
    return (sums[index] - sums[start]) / (index - start)


def common_grid(runs: list[Run]) -> tuple[np.ndarray, np.ndarray]:
    """``(x, values)``: the runs' curves on one x, shaped ``(runs, x)``.

    Raises:
        UsageError: the runs cover no common x.
    """
    first = runs[0].x
    if all(len(r.x) == len(first) and np.array_equal(r.x, first) for r in runs):
        return first, np.stack([r.y for r in runs])
    low = max(float(r.x.min()) for r in runs)
    high = min(float(r.x.max()) for r in runs)
    if low > high:
        raise UsageError(f"the runs labelled {runs[0].label!r} share no x: they cannot be averaged")
    x = np.unique(np.concatenate([r.x[(r.x >= low) & (r.x <= high)] for r in runs]))
    return x, np.stack([np.interp(x, r.x, r.y) for r in runs])


def group(runs: list[Run]) -> dict[str, dict]:
    """``{label: {x, mean, low, high, n}}`` of runs, in the order labels first appear."""
    labels: dict[str, list[Run]] = {}
    for run in runs:
        labels.setdefault(run.label, []).append(run)
    out = {}
    for label, members in labels.items():
        x, values = common_grid(members)
        mean, low, high, n = mean_ci(values)
        out[label] = {"x": x, "mean": mean, "low": low, "high": high, "n": n}
    return out


def gather(
    inputs: list[str | os.PathLike],
    labels: list[str] | None = None,
    metric: str | None = None,
    window: int = 1,
) -> list[Run]:
    """The runs of ``metric`` (default: per input, the first of :data:`PREFERRED` it has)."""
    if labels and len(labels) != len(inputs):
        raise UsageError(
            f"--label given {len(labels)} times for {len(inputs)} inputs: give one per input"
        )
    if window < 1:
        raise UsageError(f"--smooth {window}: the window must be at least 1")
    chosen = []
    for i, path in enumerate(inputs):
        runs = read_runs(path, labels[i] if labels else None)
        have = list(dict.fromkeys(r.metric for r in runs))
        wanted = metric or next((m for m in PREFERRED if m in have), have[0] if have else None)
        if wanted not in have:
            raise UsageError(f"{path}: no metric {wanted!r} (metrics: {', '.join(have) or 'none'})")
        for run in runs:
            if run.metric == wanted and len(run.y):
                run.y = smooth(run.y, window)
                chosen.append(run)
    if not chosen:
        raise UsageError(f"no {metric or 'return'} recorded yet in {', '.join(map(str, inputs))}")
    return chosen


def plot_overlay(runs: list[Run], path: str | os.PathLike, title: str | None = None) -> Path:
    """Draw every label's mean (a band where it has several runs) on one axis; save a PNG."""
    from matplotlib.figure import Figure

    from common.figures import save_figure
    from rlcourse.plots import LABELS

    groups = group(runs)
    fig = Figure(figsize=(8, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for label, g in groups.items():
        name = f"{label} ({g['n']} runs)" if g["n"] > 1 else label
        (line,) = ax.plot(g["x"], g["mean"], label=name, linewidth=1.2)
        if g["n"] > 1:
            ax.fill_between(
                g["x"], g["low"], g["high"], color=line.get_color(), alpha=0.25, linewidth=0
            )
    metrics = list(dict.fromkeys(r.metric for r in runs))
    x_names = list(dict.fromkeys(r.x_name for r in runs))
    ax.set_xlabel(" / ".join(n.capitalize() + "s" for n in x_names))
    names = AXIS_LABELS | LABELS
    ax.set_ylabel(", ".join(names.get(m, m) for m in metrics))
    envs = sorted({r.env for r in runs if r.env != UNKNOWN})
    ax.set_title(title or f"{', '.join(envs) or 'runs'}: {', '.join(metrics)} (mean, 95% CI)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return save_figure(fig, path, dpi=110)
