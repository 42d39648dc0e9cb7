"""One figure of runs of any kind (:mod:`rlcourse.run_readers`): a line per label, a panel per env.

Runs sharing a label (the seeds of one setting: without ``--label``, the runs whose saved
settings are equal, :func:`label_by_settings`) are drawn as their mean with a 95% band
(:func:`rlcourse.stats.mean_ci`); when their x differ, each curve is first interpolated
linearly onto the x of all of them, within the range every run covers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from agents.specs import short_specs
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
    if not labels:
        label_by_settings(chosen)
    return chosen


def _flat(settings: dict, prefix: str = "") -> dict[str, str]:
    """``{"config.lr": "0.001", …}``: nested settings as dotted keys and JSON values."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = json.dumps(value, sort_keys=True)
    return flat


def label_by_settings(runs: list[Run]) -> None:
    """Label the runs that carry saved settings by them: equal settings, one label (in place).

    Runs whose settings are equal (the seeds of one setting) are one group. With several
    groups, each is labelled by the settings that differ between them (``agent`` by its value,
    the others as ``key=value``, a learner's parameters without their ``config.`` prefix; the
    env is told by its panel, not its label); a group that differs by its env alone keeps its
    first run's label, as does a single group. Runs without settings keep their labels.
    """
    groups: dict[str, list[Run]] = {}
    for run in runs:
        if run.settings is not None:
            key = json.dumps(run.settings, sort_keys=True, default=str)
            groups.setdefault(key, []).append(run)
    flats = {key: _flat(json.loads(key)) for key in groups}
    specs = [json.loads(flat["agent"]) for flat in flats.values() if "agent" in flat]
    short = short_specs(specs)
    for flat in flats.values():
        if "agent" in flat:
            flat["agent"] = json.dumps(short[json.loads(flat["agent"])])
    names = set().union(*flats.values()) if flats else set()
    differ = sorted(
        name for name in names - {"env"} if len({flat.get(name) for flat in flats.values()}) > 1
    )
    for key, members in groups.items():
        parts = []
        for name in differ:
            value = flats[key].get(name)
            value = "-" if value is None else value.strip('"')
            parts.append(value if name == "agent" else f"{name.removeprefix('config.')}={value}")
        label = ", ".join(parts) or members[0].label
        for run in members:
            run.label = label


def panels(runs: list[Run]) -> dict[str, list[Run]]:
    """``{env: runs}``: a panel per env, in the order envs first appear.

    Runs of an unknown env (SB3's ``evaluations.npz`` without ``monitor.csv``) join the panel of
    the one known env when there is one, else have a panel of their own.
    """
    known = list(dict.fromkeys(r.env for r in runs if r.env != UNKNOWN))
    out: dict[str, list[Run]] = {}
    for run in runs:
        env = known[0] if run.env == UNKNOWN and len(known) == 1 else run.env
        out.setdefault(env, []).append(run)
    return out


def overlay_figure(runs: list[Run], title: str | None = None):
    """Every label's mean (a band where it has several runs): one panel per env, one legend."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from rlcourse.plots import LABELS

    by_env = panels(runs)
    columns = min(len(by_env), 3)
    rows = -(-len(by_env) // columns)
    fig = Figure(figsize=(8 if columns == 1 else 4.6 * columns, 4.8 if rows == 1 else 3.6 * rows),
                 layout="constrained")  # fmt: skip
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    colours: dict[str, str] = {}
    counts: dict[str, set[int]] = {}
    lines = {}
    metrics = list(dict.fromkeys(r.metric for r in runs))
    names = AXIS_LABELS | LABELS
    for ax, (env, members) in zip(axes, by_env.items(), strict=False):
        for label, g in group(members).items():
            colour = colours.setdefault(label, f"C{len(colours) % 10}")
            counts.setdefault(label, set()).add(g["n"])
            (lines[label],) = ax.plot(g["x"], g["mean"], color=colour, linewidth=1.2)
            if g["n"] > 1:
                ax.fill_between(g["x"], g["low"], g["high"], color=colour, alpha=0.25,
                                linewidth=0)  # fmt: skip
        x_names = list(dict.fromkeys(r.x_name for r in members))
        ax.set_xlabel(" / ".join(n.capitalize() + "s" for n in x_names))
        ax.set_ylabel(", ".join(names.get(m, m) for m in metrics))
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # 50000-wide ticks do not collide
        if len(by_env) > 1:
            ax.set_title(env, fontsize="medium")
    for ax in axes[len(by_env) :]:
        ax.set_visible(False)
    legend = [f"{label} ({_runs(counts[label])})" if max(counts[label]) > 1 else label
              for label in lines]  # fmt: skip
    known = [env for env in by_env if env != UNKNOWN]
    heading = title or f"{', '.join(known) or 'runs'}: {', '.join(metrics)} (mean, 95% CI)"
    if len(by_env) == 1:
        axes[0].set_title(heading)
        axes[0].legend(list(lines.values()), legend, fontsize="small")
    else:
        fig.suptitle(title or f"{', '.join(metrics)} (mean, 95% CI)")
        width = fig.get_figwidth()  # about 14 small characters an inch
        fits = max(1, int(width * 14 // (max(map(len, legend)) + 6)))
        fig.legend(list(lines.values()), legend, loc="outside lower center", fontsize="small",
                   ncols=min(len(legend), 4, fits))  # fmt: skip
    return fig


def _runs(counts: set[int]) -> str:
    low, high = min(counts), max(counts)
    return f"{high} runs" if low == high else f"{low}-{high} runs"


def plot_overlay(runs: list[Run], path: str | os.PathLike, title: str | None = None) -> Path:
    """Save :func:`overlay_figure` of the runs as a PNG."""
    from common.figures import save_figure

    return save_figure(overlay_figure(runs, title), path, dpi=110)
