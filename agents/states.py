"""One state index for every observation space a table can use.

A tabular learner keeps a row of its table per state, so it needs each observation as one
integer. ``Discrete`` observations are that already (less their ``start``); ``MultiDiscrete``,
and ``Tuple``/``Dict`` spaces whose parts are all discrete (Blackjack's
``Tuple(Discrete(32), Discrete(11), Discrete(2))``), give one index per combination of their
parts, in mixed radix: the table has a row for every combination the space allows.

>>> from gymnasium import spaces
>>> index = StateIndex.of(spaces.Tuple((spaces.Discrete(32), spaces.Discrete(11))))
>>> index.n, int(index.encode((np.array([3]), np.array([10])))[0])
(352, 43)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

MAX_STATES = 10_000_000
"""The most states a table may have (a larger space is no table's to learn)."""


@dataclass(frozen=True)
class StateIndex:
    """``n`` states, and ``encode``: a batch of observations to their ``(n_runs,)`` indices."""

    n: int
    encode: Callable[[Any], np.ndarray]

    @classmethod
    def of(cls, space: spaces.Space) -> StateIndex | None:
        """The index of a discrete space (None: a part of it is not discrete, or too many)."""
        index = _index(space)
        return index if index is not None and index.n <= MAX_STATES else None


def _index(space: spaces.Space) -> StateIndex | None:
    if isinstance(space, spaces.Discrete):
        start = int(space.start)
        return StateIndex(int(space.n), lambda obs: np.asarray(obs, dtype=np.int64) - start)
    if isinstance(space, spaces.MultiDiscrete):
        sizes, starts = space.nvec.ravel().astype(np.int64), space.start.ravel().astype(np.int64)

        def encode_multi(obs) -> np.ndarray:
            values = np.asarray(obs, dtype=np.int64).reshape(-1, len(sizes)) - starts
            return np.ravel_multi_index(tuple(values.T), tuple(sizes))

        return StateIndex(int(np.prod(sizes, dtype=object)), encode_multi)
    if isinstance(space, spaces.Tuple | spaces.Dict):
        keys = list(space.spaces) if isinstance(space, spaces.Dict) else range(len(space.spaces))
        parts = [_index(space.spaces[key]) for key in keys]
        if not parts or any(part is None for part in parts):
            return None
        sizes = tuple(part.n for part in parts)

        def encode_parts(obs) -> np.ndarray:
            codes = [part.encode(obs[key]) for key, part in zip(keys, parts, strict=True)]
            return np.ravel_multi_index(tuple(codes), sizes)

        n = int(np.prod(sizes, dtype=object))
        return StateIndex(n, encode_parts) if n <= np.iinfo(np.int64).max else None
    return None


class IndexedStates:
    """A tabular agent over a composite discrete space: it sees each observation's index."""

    def __init__(self, agent, index: StateIndex):
        self.agent, self.index = agent, index

    def reset(self, n_runs: int, rng: np.random.Generator) -> None:
        """The agent's reset."""
        self.agent.reset(n_runs, rng)

    def act(self, obs) -> np.ndarray:
        """The agent's action for each observation's state index."""
        return self.agent.act(self.index.encode(obs))

    def update(self, obs, action, reward, next_obs, terminated, truncated, info) -> None:
        """The agent's update, on state indices."""
        self.agent.update(self.index.encode(obs), action, reward, self.index.encode(next_obs),
                          terminated, truncated, info)  # fmt: skip

    def __getattr__(self, name: str):
        if name == "agent":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        if name == "greedy_actions":  # only where the agent inside has one (HasGreedyPolicy)
            greedy = getattr(self.agent, name)
            return lambda obs, runs: greedy(self.index.encode(obs), runs)
        return getattr(self.agent, name)  # values(), ... of the agent inside
