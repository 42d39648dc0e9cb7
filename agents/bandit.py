"""The gradient bandit (Sutton & Barto §2.8): action preferences learned by gradient ascent.

Action-value learners (bandit estimates and tabular TD control) are in :mod:`agents.tabular`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.base import table_bytes
from agents.strategies import Softmax, sample
from agents.tabular import batch_table, flat_index


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

    def memory_bytes(self, n_runs: int) -> dict[str, int]:
        """The preferences, and a step's temporaries (see :class:`EstimatesMemory`)."""
        return table_bytes(n_runs, self.n_states, self.n_actions, tables=1)

    def _states(self, obs):
        return 0 if self.n_states == 1 else np.asarray(obs)

    def _policy(self, states) -> np.ndarray:
        h = self.h[:, 0] if self.n_states == 1 else self.h[self.rows, states]
        return self.policy.probs(h)

    def act(self, obs) -> np.ndarray:
        """A draw from softmax(H)."""
        return sample(self._policy(self._states(obs)), self.rng)

    def update(self, obs, action, reward, next_obs, terminated, truncated, info) -> None:
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
