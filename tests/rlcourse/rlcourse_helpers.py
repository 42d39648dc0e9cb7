"""Helpers of the rlcourse tests: tiny envs, a recording agent, CLI result checks.

(A uniquely named module rather than conftest.py, so that test modules can import it.)
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class CountingEnv(gym.Env):
    """Observation = steps taken in this episode; terminates after ``length`` steps.

    With ``stop_action`` set, taking that action ends the episode at once (so runs of a batch
    end their episodes at different times). Reward 1 per step.
    """

    metadata = {"render_modes": []}

    def __init__(self, length: int = 3, stop_action: int | None = None):
        self.length, self.stop_action = length, stop_action
        self.observation_space = spaces.Discrete(length + 1)
        self.action_space = spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.t, {}

    def step(self, action):
        self.t += 1
        terminated = self.t >= self.length or (
            self.stop_action is not None and int(action) == self.stop_action
        )
        return self.t, 1.0, bool(terminated), False, {}


@dataclass
class Transition:
    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray


class RecordingAgent:
    """Uniformly random over ``n_actions`` (or a constant action); records every update."""

    def __init__(self, n_actions: int = 2, constant: int | None = None):
        self.n_actions, self.constant = n_actions, constant
        self.log: list[Transition] = []
        self.acted_on: list[np.ndarray] = []

    def reset(self, n_runs, rng):
        self.n_runs, self.rng = n_runs, rng
        self.log, self.acted_on = [], []

    def act(self, obs):
        self.acted_on.append(np.array(obs, copy=True))
        if self.constant is not None:
            return np.full(self.n_runs, self.constant)
        return self.rng.integers(self.n_actions, size=self.n_runs)

    def update(self, obs, action, reward, next_obs, terminated, truncated, info):
        self.log.append(
            Transition(
                *(np.array(v, copy=True) for v in (obs, action, reward, next_obs)),
                np.array(terminated, copy=True),
                np.array(truncated, copy=True),
            )
        )


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def assert_usage_error(result: CliResult) -> str:
    """Exit 2, exactly one non-empty line on stderr, no traceback; return that line."""
    assert result.code == 2, (result.code, result.err)
    assert len(result.err_lines) == 1, result.err
    assert "Traceback" not in result.err
    assert result.err_lines[0].startswith("rlcourse"), result.err
    assert "error" in result.err_lines[0]
    return result.err_lines[0]


def snapshot(directory) -> dict[str, bytes]:
    """Every file under ``directory`` and its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
