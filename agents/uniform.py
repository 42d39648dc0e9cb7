"""The uniformly random agent: the baseline that fits every environment."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from agents.base import table_bytes
from agents.strategies import Random


class RandomAgent:
    """Uniformly random actions; Discrete spaces through the shared :class:`Random` strategy."""

    def __init__(self, action_space: spaces.Space):
        self.action_space = action_space
        self.strategy = Random()

    def reset(self, n_runs: int, rng: np.random.Generator) -> None:
        """Take the generator the draws come from."""
        self.n_runs, self.rng = n_runs, rng
        if not isinstance(self.action_space, spaces.Discrete):
            self.action_space.seed(int(rng.integers(2**63 - 1)))

    def memory_bytes(self, n_runs: int) -> dict[str, int]:
        """A step's uniform values and the strategy's temporaries (see :class:`EstimatesMemory`)."""
        n = int(self.action_space.n) if isinstance(self.action_space, spaces.Discrete) else 1
        return table_bytes(n_runs, 0, n, tables=0)

    def act(self, obs) -> np.ndarray:
        """One uniform action per run."""
        space = self.action_space
        if isinstance(space, spaces.Discrete):
            q = np.zeros((self.n_runs, int(space.n)))
            return self.strategy.select(q, self.rng) + int(space.start)
        return np.stack([np.asarray(space.sample()) for _ in range(self.n_runs)])

    def update(self, obs, action, reward, next_obs, terminated, truncated, info) -> None:
        """Nothing to learn."""
