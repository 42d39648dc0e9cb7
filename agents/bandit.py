"""Bandit learners (Sutton & Barto ch. 2) over a batch of runs: action-value estimates, preferences.

Both keep one table per run and per observed state (a bandit has one state), shaped
``(n_runs, n_states, n_actions)``, and leave the choice of action to a shared strategy
(:mod:`agents.strategies`).

Tables are laid out runs-innermost (Fortran order): reductions over the few actions then run
along contiguous memory, and one update per run is a gather/scatter on the flat table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.strategies import Softmax, Strategy, sample


@dataclass(frozen=True)
class Estimate:
    """How action values are estimated from rewards."""

    alpha: float | None = None
    """Constant step size in (0, 1]; none averages the samples (step 1/n)."""
    initial: float = 0.0
    """Initial estimate Q1 of every action value (high values explore: optimistic)."""

    def __post_init__(self):
        if self.alpha is not None and not 0.0 < self.alpha <= 1.0:
            raise ValueError(
                f"alpha must be in (0, 1] (or none for sample averages), got {self.alpha}"
            )


def batch_table(n_runs: int, n_states: int, n_actions: int, fill: float = 0.0) -> np.ndarray:
    """A ``(n_runs, n_states, n_actions)`` table, runs-innermost in memory."""
    return np.full((n_runs, n_states, n_actions), float(fill), order="F")


def flat_index(rows: np.ndarray, n_states: int, states, actions) -> np.ndarray:
    """Positions of ``table[run, states[run], actions[run]]`` in ``table.ravel("F")``.

    ``rows`` is ``np.arange(n_runs)``, passed in because callers keep it.
    """
    return rows + len(rows) * (states + n_states * actions)


class ActionValueAgent:
    """Action-value estimates Q(a) learned from rewards, acted on by an exploration strategy.

    Update (Sutton & Barto eq. 2.3/2.5): ``Q(a) += step · (R − Q(a))`` with ``step = 1/N(a)``
    (sample average) or a constant ``alpha``.
    """

    def __init__(self, strategy: Strategy, estimate: Estimate, n_states: int, n_actions: int):
        self.strategy, self.estimate = strategy, estimate
        self.n_states, self.n_actions = n_states, n_actions

    def reset(self, n_runs: int, rng: np.random.Generator) -> None:
        """Fresh estimates (all ``initial``) and counts (all 0)."""
        self.rng = rng
        self.q = batch_table(n_runs, self.n_states, self.n_actions, self.estimate.initial)
        self.counts = batch_table(n_runs, self.n_states, self.n_actions)
        self.q_flat, self.counts_flat = self.q.ravel("F"), self.counts.ravel("F")  # views
        self.rows = np.arange(n_runs)
        self.t = 0

    def _at(self, table: np.ndarray, obs) -> np.ndarray:
        if self.n_states == 1:
            return table[:, 0]  # a view: no copy on the bandit's hot path
        return table[self.rows, np.asarray(obs)]

    def act(self, obs) -> np.ndarray:
        """The strategy's choice over the current estimates."""
        return self.strategy.select(
            self._at(self.q, obs), self.rng, self.t, self._at(self.counts, obs)
        )

    def update(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """Move the chosen action's estimate toward the reward."""
        index = flat_index(self.rows, self.n_states, 0 if self.n_states == 1 else obs, action)
        n = self.counts_flat[index] + 1.0
        self.counts_flat[index] = n
        q = self.q_flat[index]
        step = self.estimate.alpha if self.estimate.alpha is not None else 1.0 / n
        self.q_flat[index] = q + step * (reward - q)
        self.t += 1


@dataclass(frozen=True)
class Preferences:
    """The gradient bandit's step size and baseline."""

    alpha: float = 0.1
    """Step size of the preference update (> 0)."""
    baseline: bool = True
    """Subtract the average reward so far from each reward (Sutton & Barto eq. 2.12)."""

    def __post_init__(self):
        if not self.alpha > 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")


class GradientBanditAgent:
    """Action preferences H(a) with a softmax policy, learned by stochastic gradient ascent.

    Update (eq. 2.12): ``H += α (R − R̄) (1[a] − π)``, where R̄ is the average of the rewards before
    this one (R̄ = R on the first step) with the baseline, and 0 without it.
    """

    def __init__(self, preferences: Preferences, n_states: int, n_actions: int):
        self.preferences, self.policy = preferences, Softmax()
        self.n_states, self.n_actions = n_states, n_actions

    def reset(self, n_runs: int, rng: np.random.Generator) -> None:
        """Zero preferences, no rewards seen."""
        self.rng = rng
        self.h = batch_table(n_runs, self.n_states, self.n_actions)
        self.h_flat = self.h.ravel("F")  # a view
        self.mean_reward = np.zeros(n_runs * self.n_states)  # flat (run, state), runs innermost
        self.seen = np.zeros(n_runs * self.n_states)
        self.rows = np.arange(n_runs)
        self.t = 0

    def _states(self, obs):
        return 0 if self.n_states == 1 else np.asarray(obs)

    def _policy(self, states) -> np.ndarray:
        h = self.h[:, 0] if self.n_states == 1 else self.h[self.rows, states]
        return self.policy.probs(h)

    def act(self, obs) -> np.ndarray:
        """A draw from softmax(H)."""
        return sample(self._policy(self._states(obs)), self.rng)

    def update(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """One stochastic-gradient step on the preferences of the observed state."""
        states = self._states(obs)
        at = self.rows + len(self.rows) * states  # (run, state) in the flat baseline arrays
        seen = self.seen[at]
        if self.preferences.baseline:
            baseline = np.where(seen == 0, reward, self.mean_reward[at])
        else:
            baseline = 0.0
        advantage = self.preferences.alpha * (reward - baseline)
        step = advantage[:, None] * self._policy(states)
        if self.n_states == 1:
            self.h[:, 0] -= step  # in place through the view
        else:
            self.h[self.rows, states] -= step
        self.h_flat[flat_index(self.rows, self.n_states, states, action)] += advantage
        self.seen[at] = seen + 1
        self.mean_reward[at] += (reward - self.mean_reward[at]) / (seen + 1)
        self.t += 1
