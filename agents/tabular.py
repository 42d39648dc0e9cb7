"""Action values in tables over a batch of runs: bandit estimates and tabular TD control.

One learner, :class:`ActionValueAgent`, keeps ``Q[run, state, action]`` and leaves the choice of
action to a shared strategy (:mod:`agents.strategies`). Its update moves ``Q(s, a)`` toward a
target with step ``1/N(s, a)`` (sample average) or a constant ``alpha``; the ``learner`` picks the
target (Sutton & Barto eq. 2.3, 6.8, 6.9, 6.7):

- ``bandit``:          R                                 (one state, no bootstrapping)
- ``q-learning``:      R + γ · max_a Q(s', a)
- ``sarsa``:           R + γ · Q(s', a'), a' the action the strategy then takes in s'
- ``expected-sarsa``:  R + γ · Σ_a π(a | s') Q(s', a), π the strategy's probabilities

The bootstrap term is dropped when ``s'`` is terminal, and kept on truncation (a time limit is
not the end of the task).

Tables are laid out runs-innermost (Fortran order): reductions over the few actions then run
along contiguous memory, and one update per run is a gather/scatter on the flat table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.base import table_bytes
from agents.strategies import Strategy

LEARNERS = ("auto", "bandit", "q-learning", "sarsa", "expected-sarsa")


@dataclass(frozen=True)
class ValueLearning:
    """How action values are learned."""

    alpha: float | None = None
    """Constant step size in (0, 1]; none averages the samples (step 1/n)."""
    initial: float = 0.0
    """Initial estimate Q1 of every action value (high values explore: optimistic)."""
    learner: str = "auto"
    """Target: bandit, q-learning, sarsa, expected-sarsa; auto = bandit for one state."""
    gamma: float = 1.0
    """Discount of the bootstrapped value of the next state, in [0, 1]."""

    def __post_init__(self):
        if self.alpha is not None and not 0.0 < self.alpha <= 1.0:
            raise ValueError(
                f"alpha must be in (0, 1] (or none for sample averages), got {self.alpha}"
            )
        if self.learner not in LEARNERS:
            raise ValueError(f"learner must be one of {', '.join(LEARNERS)}, got {self.learner!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")


def batch_table(n_runs: int, n_states: int, n_actions: int, fill: float = 0.0) -> np.ndarray:
    """A ``(n_runs, n_states, n_actions)`` table, runs-innermost in memory."""
    return np.full((n_runs, n_states, n_actions), float(fill), order="F")


def flat_index(rows: np.ndarray, n_states: int, states, actions) -> np.ndarray:
    """Positions of ``table[run, states[run], actions[run]]`` in ``table.ravel("F")``.

    ``rows`` is ``np.arange(n_runs)``, passed in because callers keep it.
    """
    return rows + len(rows) * (states + n_states * actions)


class ActionValueAgent:
    """Action values ``Q(s, a)`` learned toward the ``learner``'s target, acted on by a strategy."""

    def __init__(self, strategy: Strategy, learning: ValueLearning, n_states: int, n_actions: int):
        self.strategy, self.learning = strategy, learning
        self.n_states, self.n_actions = n_states, n_actions
        learner = learning.learner
        self.learner = (
            ("bandit" if n_states == 1 else "q-learning") if learner == "auto" else learner
        )

    def reset(self, n_runs: int, rng: np.random.Generator) -> None:
        """Fresh estimates (all ``initial``) and counts (all 0)."""
        self.rng = rng
        self.q = batch_table(n_runs, self.n_states, self.n_actions, self.learning.initial)
        self.counts = batch_table(n_runs, self.n_states, self.n_actions)
        self.q_flat, self.counts_flat = self.q.ravel("F"), self.counts.ravel("F")  # views
        self.rows = np.arange(n_runs)
        self.t = 0
        self.planned: np.ndarray | None = None  # SARSA's next actions, chosen at update

    def values(self) -> np.ndarray:
        """The learned action values ``Q[run, state, action]``."""
        return self.q

    def memory_bytes(self, n_runs: int) -> dict[str, int]:
        """The estimates and counts, and a step's temporaries (see :class:`EstimatesMemory`)."""
        return table_bytes(n_runs, self.n_states, self.n_actions, tables=2)

    def _at(self, table: np.ndarray, states, rows=None) -> np.ndarray:
        """Each run's row of ``table`` for its state: ``(n_runs, n_actions)`` (or ``rows`` only)."""
        if self.n_states == 1 and rows is None:
            return table[:, 0]  # a view: no copy on the bandit's hot path
        return table[self.rows if rows is None else rows, np.asarray(states)]

    def _choose(self, states, rows=None) -> np.ndarray:
        return self.strategy.select(
            self._at(self.q, states, rows), self.rng, self.t, self._at(self.counts, states, rows)
        )

    def greedy_actions(self, obs, runs: np.ndarray) -> np.ndarray:
        """The action of highest estimate (the first of ties) in row ``j``'s state, run ``runs[j]``.

        See :class:`agents.base.HasGreedyPolicy`.
        """
        states = 0 if self.n_states == 1 else np.asarray(obs)
        return self.q[runs, states].argmax(axis=-1)

    def act(self, obs) -> np.ndarray:
        """The strategy's choice over the current estimates (SARSA: the action it planned)."""
        planned, self.planned = self.planned, None
        if planned is None:
            return self._choose(obs)
        restarted = np.flatnonzero(planned < 0)  # their episode ended: choose in the new one
        if len(restarted):
            planned[restarted] = self._choose(np.asarray(obs)[restarted], restarted)
        return planned

    def update(self, obs, action, reward, next_obs, terminated, truncated, info) -> None:
        """Move ``Q(obs, action)`` toward the learner's target."""
        target = np.asarray(reward, dtype=np.float64)
        if self.learner != "bandit":
            target = target + self.learning.gamma * np.where(
                terminated,
                0.0,
                self._next_value(next_obs, np.asarray(terminated) | np.asarray(truncated)),
            )
        states = 0 if self.n_states == 1 else np.asarray(obs)
        index = flat_index(self.rows, self.n_states, states, action)
        n = self.counts_flat[index] + 1.0
        self.counts_flat[index] = n
        q = self.q_flat[index]
        step = self.learning.alpha if self.learning.alpha is not None else 1.0 / n
        self.q_flat[index] = q + step * (target - q)
        self.t += 1

    def _next_value(self, next_obs, done: np.ndarray) -> np.ndarray:
        """The bootstrapped value of ``next_obs`` under the learner (before this update)."""
        q_next = self._at(self.q, next_obs)
        if self.learner == "q-learning":
            return q_next.max(axis=-1)
        if self.learner == "expected-sarsa":
            probs = self.strategy.probs(q_next, self.t, self._at(self.counts, next_obs))
            return (probs * q_next).sum(axis=-1)
        # SARSA: the next action is chosen now, from the values before this update, and taken
        # by the next act(); runs whose episode ended start afresh after their reset.
        next_actions = self._choose(next_obs)
        self.planned = np.where(done, -1, next_actions)
        return q_next[self.rows, next_actions]
