"""Bandit learners (Sutton & Barto ch. 2) over a batch of runs: action-value estimates, preferences.

Both keep one table per run and per observed state (a bandit has one state), shaped
``(n_runs, n_states, n_actions)``, and leave the choice of action to a shared strategy
(:mod:`agents.strategies`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.strategies import Softmax, Strategy


@dataclass(frozen=True)
class Estimate:
    """How action values are estimated from rewards."""

    alpha: float | None = None
    """Constant step size in (0, 1]; none averages the samples (step 1/n)."""
    initial: float = 0.0
    """Initial estimate Q1 of every action value (high values explore: optimistic)."""

    def __post_init__(self):
        if self.alpha is not None and not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1] (or none for sample averages), got {self.alpha}")


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
        shape = (n_runs, self.n_states, self.n_actions)
        self.q = np.full(shape, float(self.estimate.initial))
        self.counts = np.zeros(shape)
        self.rows = np.arange(n_runs)
        self.t = 0

    def _at(self, table: np.ndarray, obs) -> np.ndarray:
        if self.n_states == 1:
            return table[:, 0]  # a view: no copy on the bandit's hot path
        return table[self.rows, np.asarray(obs)]

    def act(self, obs) -> np.ndarray:
        """The strategy's choice over the current estimates."""
        return self.strategy.select(self._at(self.q, obs), self.rng, self.t, self._at(self.counts, obs))

    def update(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """Move the chosen action's estimate toward the reward."""
        states = 0 if self.n_states == 1 else np.asarray(obs)
        index = (self.rows, states, action)
        self.counts[index] += 1
        step = self.estimate.alpha if self.estimate.alpha is not None else 1.0 / self.counts[index]
        self.q[index] += step * (reward - self.q[index])
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
        self.h = np.zeros((n_runs, self.n_states, self.n_actions))
        self.mean_reward = np.zeros((n_runs, self.n_states))
        self.seen = np.zeros((n_runs, self.n_states))
        self.rows = np.arange(n_runs)
        self.t = 0

    def act(self, obs) -> np.ndarray:
        """A draw from softmax(H)."""
        h = self.h[:, 0] if self.n_states == 1 else self.h[self.rows, np.asarray(obs)]
        return self.policy.select(h, self.rng)

    def update(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """One stochastic-gradient step on the preferences of the observed state."""
        states = np.zeros(len(self.rows), dtype=np.int64) if self.n_states == 1 else np.asarray(obs)
        h = self.h[self.rows, states]
        first = self.seen[self.rows, states] == 0
        baseline = np.where(first, reward, self.mean_reward[self.rows, states])
        if not self.preferences.baseline:
            baseline = np.zeros_like(baseline)
        onehot = np.zeros_like(h)
        onehot[self.rows, action] = 1.0
        advantage = self.preferences.alpha * (reward - baseline)
        self.h[self.rows, states] = h + advantage[:, None] * (onehot - self.policy.probs(h))
        self.seen[self.rows, states] += 1
        self.mean_reward[self.rows, states] += (
            reward - self.mean_reward[self.rows, states]
        ) / self.seen[self.rows, states]
        self.t += 1
