"""The agent interface: three methods over a batch of independent runs.

An agent handles a **batch of independent runs** at once: observations, actions and rewards carry
a leading ``n_runs`` axis, so 2000 runs of the 10-armed testbed are one numpy array, not 2000
Python loops. A single run is ``n_runs=1``. The run loop (:func:`rlcourse.run`) calls exactly
these three methods, with the same arguments for every agent, and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Agent(Protocol):
    """``reset``, then ``act → (env step) → update`` for every step of a batch of runs."""

    def reset(self, n_runs: int, rng: np.random.Generator) -> None:
        """Forget everything: fresh learner state for ``n_runs`` independent runs."""
        ...

    def act(self, obs: Any) -> np.ndarray:
        """One action per run, shape ``(n_runs, ...)``, for the batch of observations ``obs``."""
        ...

    def update(
        self,
        obs: Any,
        action: np.ndarray,
        reward: np.ndarray,
        next_obs: Any,
        terminated: np.ndarray,
        truncated: np.ndarray,
        info: Mapping[str, Any],
    ) -> None:
        """Learn from one real transition per run (never from an autoreset step).

        ``info`` is the vector env's info of the step: arrays with a leading ``n_runs`` axis
        (e.g. ``info["reward_map"]`` of ``PixelDenoise``, ``info["optimal_action"]`` of the
        bandit), ``{}`` when the env gives none. Agents that need nothing from it ignore it.
        """
        ...


@runtime_checkable
class KeepsActionValues(Protocol):
    """An agent with a table of action values, ``(n_runs, states, actions)``.

    :func:`rlcourse.compare` saves the table of such an agent after its runs (``values.npz``),
    from which ``rlcourse plot --kind values`` draws value and policy heatmaps.
    """

    def values(self) -> np.ndarray:
        """The learned action values of every run."""
        ...


@runtime_checkable
class TrainsNetworks(Protocol):
    """An agent with torch networks (DQN, the per-pixel DQN).

    :func:`rlcourse.compare` runs it on the device asked for (:mod:`common.devices`) and
    records that device in the manifest; a comparison without one never imports torch.
    """

    trains_networks: bool


def trains_networks(agents: Iterable[Any]) -> bool:
    """Whether any of the agents has torch networks (:class:`TrainsNetworks`)."""
    return any(isinstance(agent, TrainsNetworks) for agent in agents)


@runtime_checkable
class HasGreedyPolicy(Protocol):
    """An agent whose every run has a greedy policy (table learners, DQN's learner per run).

    ``rlcourse compare --eval-every`` evaluates these policies on evaluation envs of their own
    (:mod:`rlcourse.evaluations`); agents without one are refused there.
    """

    def greedy_actions(self, obs: Any, runs: np.ndarray) -> np.ndarray:
        """Row ``j``'s greedy action under run ``runs[j]``'s policy; learns and draws nothing.

        ``runs`` is sorted, each run's rows side by side.
        """
        ...


@runtime_checkable
class EstimatesMemory(Protocol):
    """An agent whose memory grows with its settings or the env's size, and says how much first.

    :func:`rlcourse.compare` (and every command that runs agents) adds this to its estimate and
    refuses, before any run starts, what will not fit.
    """

    def memory_bytes(self, n_runs: int) -> dict[str, int]:
        """The bytes ``n_runs`` runs of this agent will hold at most, by part (``networks``)."""
        ...


STEP_TEMPORARIES = 4
"""Arrays of ``(n_runs, n_actions)`` numbers a strategy makes at each step (its choice's
scores, ties, probabilities), counted in the estimates of the table agents."""


def table_bytes(n_runs: int, n_states: int, n_actions: int, tables: int) -> dict[str, int]:
    """The estimate of an agent with ``tables`` float64 tables ``(n_runs, n_states, n_actions)``.

    With the temporaries of a strategy's choice at each step (:data:`STEP_TEMPORARIES`).
    """
    return {
        "agent tables": 8 * n_runs * n_states * n_actions * tables,
        "agent temporaries": 8 * n_runs * n_actions * STEP_TEMPORARIES,
    }
