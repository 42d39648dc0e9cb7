"""What a run has logged: its curves, their files (CSV, plot), its metrics and TensorBoard."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from common.atomic import atomic_path, write_text
from rlcourse.errors import UsageError

SOLVED = {"CartPole-v1": 475.0}
"""Greedy mean returns that count as solving an env (for reports)."""


@dataclass
class Curves:
    """What a run has logged so far: training episodes, greedy evaluations, the best one."""

    episodes: list[tuple[int, float, int]] = field(default_factory=list)
    evaluations: list[tuple[int, float, int, float]] = field(default_factory=list)
    best_step: int | None = None
    best_return: float = -math.inf


def metrics(settings, steps: int, train_seconds: float, curves: Curves) -> dict:
    """``metrics.json``'s numbers of a run of ``settings`` that took ``steps`` steps."""
    rows = curves.evaluations
    solved = next((e for e in rows if e[1] >= SOLVED.get(settings.env, math.inf)), None)
    return {
        "env": settings.env,
        "settings": asdict(settings),
        "steps": steps,
        "seed": settings.seed,
        "train_seconds": round(train_seconds, 3),
        "steps_per_second": round(steps / train_seconds, 1),
        "episodes": len(curves.episodes),
        "final_eval_return": rows[-1][1],
        "final_checkpoint": "checkpoint.pt",
        "best_eval_return": curves.best_return,
        "best_eval_step": curves.best_step,
        "best_checkpoint": "best.pt",
        "stopped_early": steps < settings.steps,
        "solved_at_step": solved[0] if solved else None,
        "solved_at_train_seconds": round(solved[3], 3) if solved else None,
    }


def require_tensorboard():
    """TensorBoard's ``SummaryWriter``.

    Raises:
        UsageError: the tensorboard package is missing (says how to install it).
    """
    from common.packages import import_installed

    try:
        import_installed("tensorboard")  # what torch.utils.tensorboard imports: the installed one
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError(
            "--tensorboard needs the tensorboard package: pip install 'rlcourse[tensorboard]'"
        ) from None
    return SummaryWriter


def tensorboard(out: Path):
    """A TensorBoard writer into ``out/tensorboard``."""
    return require_tensorboard()(str(out / "tensorboard"))


def save_curves(out: Path, env: str, curves: Curves, title: str = "DQN") -> None:
    """``episodes.csv``, ``evaluations.csv`` and ``training.png`` of the run so far.

    ``title``: the learner's name, as the plot says it.
    """
    import pandas as pd
    from matplotlib.figure import Figure

    frame = pd.DataFrame(curves.episodes, columns=["step", "return", "length"])
    write_text(out / "episodes.csv", frame.to_csv(index=False))
    columns = ["step", "mean_return", "episodes", "train_seconds"]
    evals = pd.DataFrame(curves.evaluations, columns=columns)
    write_text(out / "evaluations.csv", evals.to_csv(index=False))
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    if len(frame):
        ax.plot(frame.step, frame["return"], color="0.7", linewidth=0.8, label="training episodes")
        smooth = frame["return"].rolling(20, min_periods=1).mean()
        ax.plot(frame.step, smooth, label="training, mean of 20")
    ax.plot(evals.step, evals.mean_return, marker="o", label="greedy evaluation")
    if curves.best_step is not None:
        ax.plot([curves.best_step], [curves.best_return], marker="*", markersize=14,
                linestyle="none", color="C3", label="best (best.pt)")  # fmt: skip
    ax.set_xlabel("Env steps")
    ax.set_ylabel("Return")
    ax.set_title(f"{title} on {env}")
    ax.grid(alpha=0.3)
    ax.legend()
    with atomic_path(out / "training.png") as temporary:
        fig.savefig(temporary, dpi=110)
