"""Sutton & Barto (2nd ed.) chapter 2 testbed figures as data: env, agents and plot of each.

``rlcourse figure 2.2`` runs one of them; each is also an ordinary ``rlcourse compare`` command
(:func:`compare_command`), printed by ``rlcourse figure --list``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Figure:
    """One published figure of the 10-armed testbed."""

    title: str
    """What the figure shows."""
    agents: tuple[str, ...]
    """Agent specs, in legend order."""
    env_kwargs: dict[str, float] = field(default_factory=dict)
    """Bandit arguments (Figure 2.5 shifts the true values to mean +4)."""
    kind: str = "curves"
    """``curves`` (per-step reward and % optimal) or ``study`` (parameter study)."""


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
}


def compare_command(
    number: str, runs: int = 2000, steps: int = 1000, out: str | None = None
) -> str:
    """The equivalent ``rlcourse compare`` command line."""
    figure = FIGURES[number]
    parts = ["rlcourse compare bandit", "--agents", *(f"'{a}'" for a in figure.agents)]
    parts += [f"--steps {steps}", f"--runs {runs}"]
    if figure.env_kwargs:
        parts += ["--env-kwargs", *(f"{k}={v:g}" for k, v in figure.env_kwargs.items())]
    if out:
        parts.append(f"--out {out}")
    return " ".join(parts)
