"""Plots as a pure function of results: reward curves with 95% bands, and parameter studies.

Figures are drawn with :class:`matplotlib.figure.Figure` (the Agg canvas, no pyplot state) and
saved as PNG, atomically (:func:`common.figures.save_figure`).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter

from agents.specs import format_spec, parse_number, parse_spec, short_specs
from common.figures import figure_path, save_figure
from rlcourse.errors import UsageError
from rlcourse.results import Results, load_results
from rlcourse.stats import mean_ci

LABELS = {
    "reward": "Average reward",
    "optimal_action": "% Optimal action",
    "return": "Return per episode",
    "length": "Steps per episode",
    "eval_return": "Greedy evaluation return",
}
KINDS = ("curves", "study", "values")
ARROWS = {"up": (0, -1), "right": (1, 0), "down": (0, 1), "left": (-1, 0)}


def _title(results: Results, what: str) -> str:
    m = results.manifest
    n = m.get("runs", "?")
    return f"{m.get('env', 'env')}: {what} ({n} runs, 95% CI)"


def plot_curves(results: Results, metric: str, path: str | os.PathLike) -> Path:
    """One line per agent, mean over runs, with a shaded 95% confidence band."""
    _check_metric(results, metric)
    fig = Figure(figsize=(8, 4.8), layout="constrained")
    _draw_curves(fig.add_subplot(), results, metric)
    fig.axes[0].set_title(_title(results, LABELS.get(metric, metric).lower()))
    return save_figure(fig, path, dpi=110)


def plot_panels(results: Results, metrics: list[str], path: str | os.PathLike) -> Path:
    """Several metrics in one figure: a panel each, one above the other, the x axis shared."""
    for metric in metrics:
        _check_metric(results, metric)
    fig = Figure(figsize=(8, 1 + 3.4 * len(metrics)), layout="constrained")
    axes = fig.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
    for i, (ax, metric) in enumerate(zip(axes, metrics, strict=True)):
        _draw_curves(ax, results, metric, legend=i == 0)  # the same agents in every panel
    for ax in axes[:-1]:
        ax.set_xlabel("")
    fig.suptitle(_title(results, ", ".join(LABELS.get(m, m).lower() for m in metrics)))
    return save_figure(fig, path, dpi=110)


def _draw_curves(ax, results: Results, metric: str, legend: bool = True) -> None:
    scale = 100.0 if metric == "optimal_action" else 1.0
    curves = results.curves[results.curves.metric == metric]
    names = short_specs(list(curves.agent.unique()))  # what sets each apart
    for agent, rows in curves.groupby("agent", sort=False):
        (line,) = ax.plot(rows.x, rows["mean"] * scale, label=names[agent], linewidth=1.2)
        ax.fill_between(
            rows.x,
            rows.ci_low * scale,
            rows.ci_high * scale,
            color=line.get_color(),
            alpha=0.25,
            linewidth=0,
        )
    ax.set_xlabel(results.manifest.get("x", "x").capitalize() + "s")
    ax.set_ylabel(LABELS.get(metric, metric))
    ylim = results.manifest.get("plot", {}).get("ylim", {}).get(metric)
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(loc="best", fontsize="small")


def study_families(agents: list[str]) -> dict[str, tuple[str, list[tuple[float, str]]]]:
    """Group agent specs into families that differ in exactly one numeric parameter.

    Returns:
        ``{family label: (parameter, [(value, agent label), ...] sorted by value)}``.
    """
    by_name: dict[str, list[tuple[str, dict[str, str]]]] = defaultdict(list)
    for label in agents:
        name, params = parse_spec(label)
        by_name[name].append((label, params))
    families = {}
    for name, members in by_name.items():
        keys = sorted({k for _, params in members for k in params})
        varying = [k for k in keys if len({params.get(k) for _, params in members}) > 1]
        if len(members) < 2 or len(varying) != 1:
            raise UsageError(
                f"a parameter study needs agents of one name that differ in exactly one parameter; "
                f"{name!r} has {len(members)} agent(s) differing in {varying or 'nothing'}"
            )
        (key,) = varying
        fixed = {k: v for k, v in members[0][1].items() if k != key}
        try:
            points = sorted((parse_number(params[key]), label) for label, params in members)
        except (KeyError, ValueError, ZeroDivisionError):
            raise UsageError(
                f"parameter {key!r} of {name!r} is not numeric in every agent"
            ) from None
        families[format_spec(name, fixed)] = (key, points)
    return families


def _power_of_two_label(value: float, _pos=None) -> str:
    if value >= 1:
        return f"{value:g}"
    return f"1/{1 / value:g}"


def plot_study(results: Results, path: str | os.PathLike, metric: str = "reward") -> Path:
    """Sutton & Barto Figure 2.6 style: mean of ``metric`` over all x against each parameter."""
    _check_metric(results, metric)
    means = results.run_means(metric)
    fig = Figure(figsize=(8, 4.8), layout="constrained")
    ax = fig.add_subplot()
    ticks: set[float] = set()
    for family, (key, points) in study_families(results.agents).items():
        xs = np.array([value for value, _ in points])
        stats = [mean_ci(means[label]) for _, label in points]
        mean = np.array([s[0] for s in stats])
        low, high = np.array([s[1] for s in stats]), np.array([s[2] for s in stats])
        (line,) = ax.plot(xs, mean, marker="o", markersize=3, label=f"{family} ({key})")
        ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.25, linewidth=0)
        ticks.update(xs.tolist())
    ax.set_xscale("log", base=2)
    if all(t > 0 and float(np.log2(t)).is_integer() for t in ticks):
        ax.xaxis.set_major_locator(FixedLocator(sorted(ticks)))
        ax.xaxis.set_major_formatter(FuncFormatter(_power_of_two_label))
    ax.set_xlabel("Parameter (ε, α, c, Q₀)")
    steps = results.manifest.get("steps") or results.manifest.get("episodes")
    ax.set_ylabel(
        f"{LABELS.get(metric, metric)} over first {steps} {results.manifest.get('x', 'x')}s"
    )
    ax.set_title(_title(results, "parameter study"))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return save_figure(fig, path, dpi=110)


Grid = tuple[np.ndarray, tuple[str, ...], dict]
"""A grid env's cell characters ``(rows, cols)``, action names and transition model ``P``."""


def _grid_of(results: Results, env: str | None = None) -> Grid:
    """The grid of the env the results came from (``env`` if the user named one).

    Without ``env``, the manifest's env: a registered id only, as a name read from a file
    never imports code.
    """
    from rlcourse.environments import resolve_env

    m = results.manifest
    kwargs = m.get("env_kwargs") or {}
    if env is None:
        source = resolve_env(m.get("env"), kwargs, read_from="manifest.json")
    else:
        source = resolve_env(env, kwargs)
    one = source.make_one().unwrapped
    model = getattr(one, "model", None)
    if model is not None and hasattr(model, "layout"):  # rlcourse/GridWorld-v0
        from envs.gridworld import ACTION_NAMES

        return model.layout.as_array(), tuple(ACTION_NAMES), model.P
    desc = getattr(one, "desc", None)
    if desc is not None and type(one).__name__ == "FrozenLakeEnv":
        chars = np.vectorize(lambda b: b.decode())(desc)
        return chars, ("left", "down", "right", "up"), one.P
    shape = getattr(one, "shape", None)
    if type(one).__name__ == "CliffWalkingEnv" and shape is not None:
        return np.full(shape, "."), ("up", "right", "down", "left"), one.P
    raise UsageError(
        f"value heatmaps need a grid env (rlcourse/GridWorld-v0, ...), not {source.name}"
    )


def _value_grid(results: Results, env: str | None = None) -> Grid:
    """:func:`_grid_of`, once the saved values are known to fit it.

    Raises:
        UsageError: no saved values, an env that is no grid, or values of another shape.
    """
    if not results.action_values:
        raise UsageError("these results hold no learned values (tabular agents save them)")
    grid = _grid_of(results, env)
    chars, actions, _ = grid
    for label, q in results.action_values.items():
        if q.ndim != 3 or q.shape[1:] != (chars.size, len(actions)):
            raise UsageError(
                f"the values of {label!r} have shape {q.shape}, not (runs, {chars.size} states, "
                f"{len(actions)} actions) as the grid of {env or results.manifest.get('env')}"
            )
    return grid


def _draw_values(ax, chars: np.ndarray, q: np.ndarray, actions, title: str, norm) -> object:
    rows, cols = chars.shape
    values = q.max(axis=1).reshape(rows, cols).astype(float)
    blocked = np.isin(chars, ["#", "C"])  # cells never occupied: walls, and cliffs (teleport)
    image = ax.imshow(np.ma.masked_where(blocked, values), cmap="viridis", norm=norm)
    ax.imshow(np.ma.masked_where(~blocked, np.ones_like(values)), cmap="Greys", vmin=0, vmax=1.2)
    greedy = q.argmax(axis=1).reshape(rows, cols)
    for r in range(rows):
        for c in range(cols):
            ch = chars[r, c]
            if ch in "GHXC#":
                ax.text(c, r, ch.strip("#"), ha="center", va="center", color="white")
                continue
            dx, dy = ARROWS[actions[greedy[r, c]]]
            ax.annotate(
                "",
                (c + 0.3 * dx, r + 0.3 * dy),
                (c - 0.3 * dx, r - 0.3 * dy),
                arrowprops={"arrowstyle": "->", "color": "white", "lw": 1.2},
            )
    ax.set_title(title, fontsize="small")
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def plot_values(results: Results, path: str | os.PathLike, env: str | None = None) -> Path:
    """Heatmaps of max_a Q(s, a) with the greedy policy as arrows, per agent (mean over runs).

    Beside them, the optimum from value iteration, with the γ of the first agent's spec. The
    grid is the manifest's env (a registered id), or ``env`` when the caller names one.
    """
    return _draw_value_figure(results, path, _value_grid(results, env))


def _draw_value_figure(results: Results, path: str | os.PathLike, grid: Grid) -> Path:
    from matplotlib.colors import Normalize

    from agents.planning import value_iteration

    chars, actions, P = grid
    panels = {label: q.mean(axis=0) for label, q in results.action_values.items()}
    try:
        gamma = parse_number(parse_spec(next(iter(panels)))[1].get("gamma", "1"))
    except (ValueError, ZeroDivisionError):
        gamma = 1.0
    try:
        panels["optimal (value iteration)"] = value_iteration(P, gamma).q
    except ValueError:
        pass  # no optimum with gamma = 1 (a state that cannot end): show the agents only
    occupied = ~np.isin(chars.ravel(), ["#", "C"])
    lows = [q.max(axis=1)[occupied].min() for q in panels.values()]
    highs = [q.max(axis=1)[occupied].max() for q in panels.values()]
    norm = Normalize(min(lows), max(highs))
    rows, cols = chars.shape
    fig = Figure(
        figsize=(min(4 * len(panels), 16), 1 + 3.2 * rows / cols * 1.2), layout="constrained"
    )
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (label, q) in zip(axes, panels.items(), strict=True):
        image = _draw_values(ax, chars, q, actions, label, norm)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="max_a Q(s, a)")
    fig.suptitle(f"{results.manifest.get('env')}: learned values and greedy policy")
    return save_figure(fig, path, dpi=110)


def plans(
    results: Results | str | os.PathLike,
    metric: str | None = None,
    out: str | os.PathLike | None = None,
    kind: str = "curves",
    env: str | None = None,
) -> dict[Path, Callable[[], Path]]:
    """What :func:`plot` would write: each file and the function that draws it, all checked.

    The results, the kind, the metric, a parameter study's families, and the grid env of value
    heatmaps are checked here, before anything is drawn or written: a command checks the paths
    next, then draws.

    Raises:
        UsageError: naming what does not fit.
    """
    directory = None
    if not isinstance(results, Results):
        directory = Path(results)
        results = load_results(directory)
    if kind not in KINDS:
        raise UsageError(f"unknown plot kind {kind!r} (kinds: {', '.join(KINDS)})")
    folder = None
    is_folder = out is not None and (Path(out).is_dir() and not Path(out).suffix)
    if out is not None and (str(out).endswith(("/", os.sep)) or is_folder):
        folder, out = Path(out), None  # every plot into that folder, by its usual name
    elif out is not None:
        try:
            out = figure_path(out)
        except ValueError as err:
            raise UsageError(str(err)) from None
    where = folder or directory
    if kind == "study":
        metric = metric or results.metrics[0]
        _check_metric(results, metric)
        study_families(results.agents)
        target = out or _default_dir(where) / "study.png"
        return {target: partial(plot_study, results, target, metric)}
    if kind == "values":
        grid = _value_grid(results, env)
        target = out or _default_dir(where) / "values.png"
        return {target: partial(_draw_value_figure, results, target, grid)}
    metrics = [metric] if metric else results.metrics
    for name in metrics:
        _check_metric(results, name)
    if out is not None:  # one file: one metric, or a panel per metric
        if len(metrics) > 1:
            return {out: partial(plot_panels, results, metrics, out)}
        return {out: partial(plot_curves, results, metrics[0], out)}
    targets = {m: _default_dir(where) / f"{m}.png" for m in metrics}
    return {path: partial(plot_curves, results, m, path) for m, path in targets.items()}


def plot(
    results: Results | str | os.PathLike,
    metric: str | None = None,
    out: str | os.PathLike | None = None,
    kind: str = "curves",
    env: str | None = None,
    force: bool = False,
) -> list[Path]:
    """Plot results (an object or a results directory); return the files written.

    Without ``out``, plots go into the results directory as ``<metric>.png`` (curves),
    ``study.png`` or ``values.png``; with ``out`` a folder (ending in ``/``, or an existing one
    without a suffix), they go there under those names; with ``out`` a file, one figure is
    written there (a panel per metric when there are several; without a suffix, ``.png``).
    ``env`` names the grid of value heatmaps (default: the manifest's env, a registered id only).

    A plot rlcourse wrote into the results directory is replaced; any other existing file only
    with ``force``. What it writes into a directory rlcourse wrote joins that directory's stamp,
    so the directory stays rlcourse's (``save(..., force=True)`` may replace it).

    Raises:
        UsageError: no such metric or kind, or an existing file and no ``force``.
    """
    from rlcourse.outputs import add_to_stamp, check_output_file, read_stamp

    drawings = plans(results, metric, out, kind, env)
    directory = None if isinstance(results, Results) else Path(results)
    ours = set((read_stamp(directory) or {}).get("files", [])) if directory else set()
    for path in drawings:
        check_output_file(path, force or (out is None and path.name in ours))
    written = []
    for path, draw in drawings.items():
        written.append(draw())
        add_to_stamp(path.parent, path.name)
    return written


def _check_metric(results: Results, metric: str) -> None:
    if metric not in results.metrics:
        raise UsageError(
            f"no metric {metric!r} in these results (metrics: {', '.join(results.metrics)})"
        )


def _default_dir(directory: Path | None) -> Path:
    if directory is None:
        raise UsageError("results not loaded from a directory: give out=")
    return directory
