"""A base for native vector environments that compute every sub-environment in numpy.

Subclasses write two batched methods, ``_reset_runs(mask)`` and ``_step_runs(actions)``; this class
does the Gymnasium vector-env bookkeeping around them: seeding, the time limit, and the three
autoreset modes of Gymnasium 1.x.

Autoreset modes (``metadata["autoreset_mode"]``, chosen with the ``autoreset_mode`` argument):

- ``NEXT_STEP`` (Gymnasium's default): the step after an episode ends resets that sub-environment,
  ignores its action and returns reward 0. That step is no real transition: learners must skip it.
- ``SAME_STEP``: the ending step returns the first observation of the next episode and puts the
  real last observation in ``info["final_obs"]`` (mask ``info["_final_obs"]``).
- ``DISABLED``: nothing resets by itself; call ``reset(options={"reset_mask": done})``. This is what
  rlcourse's run loop uses, so every transition an agent learns from is a real one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space


class NativeVectorEnv(VectorEnv):
    """Batch of independent sub-environments computed together in numpy."""

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        max_episode_steps: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
    ):
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if max_episode_steps is not None and int(max_episode_steps) < 1:
            raise ValueError(f"max_episode_steps must be >= 1 or None, got {max_episode_steps}")
        self.num_envs = int(num_envs)
        self.single_observation_space = observation_space
        self.single_action_space = action_space
        self.observation_space = batch_space(observation_space, self.num_envs)
        self.action_space = batch_space(action_space, self.num_envs)
        self.max_episode_steps = None if max_episode_steps is None else int(max_episode_steps)
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        self.elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)

    @classmethod
    def bytes_per_run(cls, **kwargs: Any) -> int:
        """The most bytes a batch made with ``kwargs`` holds per sub-env beyond its observations.

        A memory estimate, before the batch is made. The base keeps a step counter and a flag
        per sub-environment; a subclass whose state grows with its arguments adds its own.
        """
        return 8 + 1

    # -- to be written by subclasses -------------------------------------------------------------
    def _reset_runs(self, mask: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """Start new episodes where ``mask`` is true; return the full observation batch and info."""
        raise NotImplementedError

    def _step_runs(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """Advance every sub-environment; return observations, rewards, terminations and info."""
        raise NotImplementedError

    # -- Gymnasium vector API ----------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset all sub-environments, or those in ``options["reset_mask"]``.

        An integer ``seed`` seeds the one generator that draws for the whole batch.
        """
        super().reset(seed=seed)  # sets self._np_random from the seed
        mask = np.ones(self.num_envs, dtype=bool)
        if options and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"])
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
                raise ValueError(
                    f"options['reset_mask'] must be a bool array of shape ({self.num_envs},)"
                )
        self.elapsed[mask] = 0
        self._needs_reset[mask] = False
        return self._reset_runs(mask)

    def step(self, actions: Any):
        """Step every sub-environment with its action (see the module docstring for autoreset)."""
        actions = np.asarray(actions)
        pending = (
            self._needs_reset.copy() if self.autoreset_mode == AutoresetMode.NEXT_STEP else None
        )
        obs, rewards, terminated, info = self._step_runs(actions)
        self.elapsed += 1
        truncated = np.zeros(self.num_envs, dtype=bool)
        if self.max_episode_steps is not None:
            truncated = (self.elapsed >= self.max_episode_steps) & ~terminated
        done = terminated | truncated

        if pending is not None:
            if pending.any():  # these steps were resets, not transitions
                obs, _ = self._reset_runs(pending)
                self.elapsed[pending] = 0
                rewards = np.where(pending, 0.0, rewards)
                terminated, truncated = terminated & ~pending, truncated & ~pending
                done = terminated | truncated
            self._needs_reset = done
        elif self.autoreset_mode == AutoresetMode.SAME_STEP and done.any():
            final_obs = obs.copy()
            obs, _ = self._reset_runs(done)
            self.elapsed[done] = 0
            info = {**info, "final_obs": final_obs, "_final_obs": done}
        return obs, rewards, terminated, truncated, info
