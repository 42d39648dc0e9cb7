"""Sutton & Barto (2nd ed.) figures as data: env, agents, budget and plot of each.

``rlcourse figure 2.2`` runs one of them; each is also an ordinary ``rlcourse compare`` command
(:func:`compare_command`), printed by ``rlcourse figure --list``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One published figure."""

    title: str
    """What the figure shows."""
    agents: tuple[str, ...]
    """Agent specs, in legend order."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Env arguments (Figure 2.5 shifts the true values to mean +4)."""
    kind: str = "curves"
    """``curves`` (per step or episode) or ``study`` (parameter study)."""
    env: str = "bandit"
    """The env (alias or id)."""
    runs: int = 2000
    """Independent runs, as in the book."""
    steps: int | None = 1000
    """Steps per run (None: an episode budget)."""
    episodes: int | None = None
    """Episodes per run."""
    ylim: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Y-axis range per metric, as the book draws it."""


def _powers(low: int, high: int) -> list[str]:
    """Powers of two 2^low..2^high written as the book does: 1/128 ... 4."""
    return [f"1/{2**-p}" if p < 0 else str(2**p) for p in range(low, high + 1)]


FIGURES: dict[str, Figure] = {
    "2.2": Figure(
        "greedy vs epsilon-greedy, sample averages",
        ("greedy", "epsilon-greedy:epsilon=0.01", "epsilon-greedy:epsilon=0.1"),
    ),
    "2.3": Figure(
        "optimistic initial values (Q1=5, greedy) vs realistic (Q1=0, epsilon=0.1), alpha=0.1",
        ("greedy:alpha=0.1,initial=5", "epsilon-greedy:epsilon=0.1,alpha=0.1"),
    ),
    "2.4": Figure(
        "UCB (c=2) vs epsilon-greedy (epsilon=0.1)", ("ucb:c=2", "epsilon-greedy:epsilon=0.1")
    ),
    "2.5": Figure(
        "gradient bandit with and without baseline, true values shifted to mean +4",
        (
            "gradient-bandit:alpha=0.1",
            "gradient-bandit:alpha=0.1,baseline=false",
            "gradient-bandit:alpha=0.4",
            "gradient-bandit:alpha=0.4,baseline=false",
        ),
        {"value_mean": 4.0},
    ),
    "2.6": Figure(
        "parameter study: mean reward over the first 1000 steps",
        tuple(
            [f"epsilon-greedy:epsilon={v}" for v in _powers(-7, -2)]
            + [f"gradient-bandit:alpha={v}" for v in _powers(-5, 2)]
            + [f"ucb:c={v}" for v in _powers(-4, 2)]
            + [f"greedy:alpha=0.1,initial={v}" for v in _powers(-2, 2)]
        ),
        kind="study",
    ),
    "6.4": Figure(
        "cliff walking: SARSA vs Q-learning, epsilon=0.1, alpha=0.5 (online sum of rewards)",
        (
            "epsilon-greedy:epsilon=0.1,alpha=0.5,learner=sarsa",
            "epsilon-greedy:epsilon=0.1,alpha=0.5,learner=q-learning",
        ),
        {"layout": "cliff"},
        env="gridworld",
        runs=100,
        steps=None,
        episodes=500,
        ylim={"return": (-100.0, 0.0)},
    ),
}


def compare_command(number: str) -> str:
    """The equivalent ``rlcourse compare`` command line (and ``plot --kind study`` for 2.6)."""
    figure, out = FIGURES[number], f"results/fig{number}"
    parts = [f"rlcourse compare {figure.env}", "--agents", *(f"'{a}'" for a in figure.agents)]
    budget = f"--steps {figure.steps}" if figure.steps else f"--episodes {figure.episodes}"
    parts += [budget, f"--runs {figure.runs}"]
    if figure.env_kwargs:
        parts += [
            "--env-kwargs",
            *(
                f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in figure.env_kwargs.items()
            ),
        ]
    parts.append(f"--out {out}")
    if figure.kind == "study":
        parts.append(f"&& rlcourse plot {out} --kind study")
    return " ".join(parts)
