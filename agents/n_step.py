"""n-step returns: each env's last ``n`` steps, folded into one stored transition.

The transition stored for the step at time ``t`` is

    (s_t, a_t, r_t + γ r_{t+1} + … + γ^{m−1} r_{t+m−1}, s_{t+m}, terminated_{t+m−1}, γ^m)

with ``m = n``, or fewer where the episode ended inside the window: at ``terminated`` the target
does not bootstrap; at a time limit (``truncated``) it bootstraps from the state where the
episode was cut, ``γ^m · max_a Q(s_{t+m}, a)``. Each env of a batch keeps its own window, so a
batch of envs (one learner fed by several, or several runs) never mixes episodes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np


class NStepWindows:
    """The pending steps of every env of a batch (``(obs, action, reward)`` each)."""

    def __init__(self, n: int, gamma: float):
        if n < 1:
            raise ValueError(f"n_step must be >= 1, got {n}")
        self.n, self.gamma = int(n), float(gamma)
        self.windows: list[deque] = []

    def add(self, env: int, obs, action, reward, next_obs, terminated, truncated,
            store: Callable[..., None]) -> None:  # fmt: skip
        """One step of ``env``; each transition it completes goes to ``store``.

        ``store(obs, action, return, next_obs, terminated, truncated, discount)``: the oldest
        step once the window holds ``n``, every pending one when the episode ends here.
        """
        while len(self.windows) <= env:
            self.windows.append(deque())
        window = self.windows[env]
        window.append((_copy(obs), np.array(action), np.array(reward)))
        if terminated or truncated:
            while window:
                self._store_oldest(window, next_obs, terminated, truncated, store)
        elif len(window) == self.n:
            self._store_oldest(window, next_obs, False, False, store)

    def _store_oldest(self, window: deque, next_obs, terminated, truncated, store) -> None:
        """The oldest step's ``n``-step (or shorter) transition, stored and dropped."""
        ret = 0.0
        for k, (_, _, reward) in enumerate(window):
            ret = ret + self.gamma**k * np.asarray(reward, dtype=np.float64)
        obs, action, _ = window.popleft()
        discount = self.gamma ** (len(window) + 1)
        store(obs, action, np.asarray(ret, dtype=np.float32), next_obs, terminated, truncated,
              discount)  # fmt: skip

    def state(self, to_saved: Callable[[Any], Any]) -> list:
        """Each env's pending steps as plain data (``to_saved`` of each part: e.g. tensors)."""
        return [[[to_saved(part) for part in step] for step in window] for window in self.windows]

    def load_state(self, state: list, from_saved: Callable[[Any], Any]) -> None:
        """Put back what :meth:`state` gave."""
        self.windows = [deque(tuple(from_saved(part) for part in step) for step in window)
                        for window in state]  # fmt: skip


def _copy(obs):
    """An observation's own copy (an array, or a mapping of them): envs may reuse theirs."""
    if isinstance(obs, dict):
        return {name: np.array(part) for name, part in obs.items()}
    return np.array(obs)
