"""Exploration strategies: how an agent turns action values into actions.

Each strategy is a small frozen dataclass with two pure methods over a batch of action values
``q[..., A]`` (one row per run, or per run and pixel):

- ``select(q, rng, t, counts) -> actions[...]`` draws one action per row;
- ``probs(q, t, counts) -> p[..., A]`` gives the probabilities ``select`` draws from (what expected
  SARSA and policy-gradient updates need).

``t`` is the number of steps the agent has taken (0 before the first; an off-policy learner's
transitions), ``counts`` the number of times each action was taken, shaped like ``q``. There is
one implementation of each rule here, shared by every learner (bandit estimates, tabular
Q-learning, DQN).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

SCHEDULES = ("exponential", "inverse", "linear")


class Strategy(Protocol):
    """What every exploration strategy provides."""

    def select(self, q: np.ndarray, rng: np.random.Generator, t: int, counts: np.ndarray | None):
        """One action per row of ``q``."""
        ...

    def probs(self, q: np.ndarray, t: int, counts: np.ndarray | None) -> np.ndarray:
        """Probability of every action, shaped like ``q``."""
        ...


@functools.cache
def _count_and_index_matrix(n_actions: int) -> np.ndarray:
    return np.stack([np.ones(n_actions), np.arange(n_actions)], axis=1)


def argmax_random_tie(q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Index of the largest value along the last axis, ties broken uniformly at random.

    Written as ``max``, ``==`` and one matrix product (giving each row's number of maximizers and,
    for a single maximizer, its index) rather than ``argmax``: numpy's ``argmax`` over a short
    last axis is an order of magnitude slower, and this runs every step of every run.
    """
    ties = (q == q.max(axis=-1, keepdims=True)).astype(np.float64)
    count_and_index = ties @ _count_and_index_matrix(q.shape[-1])
    actions = count_and_index[..., 1].astype(np.int64)
    tied = count_and_index[..., 0] > 1
    if tied.any():
        keys = rng.random(ties[tied].shape) * ties[tied]
        actions[tied] = keys.argmax(axis=-1)
    return actions


def sample(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row from the categorical distributions ``probs[..., A]`` (inverse CDF)."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[:-1] + (1,)) * cdf[..., -1:]
    return np.minimum(np.count_nonzero(u >= cdf, axis=-1), probs.shape[-1] - 1)


def greedy_probs(q: np.ndarray) -> np.ndarray:
    """Uniform over the maximizing actions of each row."""
    ties = (q == q.max(axis=-1, keepdims=True)).astype(np.float64)
    return ties / ties.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Random:
    """Uniformly random actions, ignoring the values."""

    def select(self, q, rng, t=0, counts=None):
        """Uniform draw."""
        return rng.integers(q.shape[-1], size=q.shape[:-1])

    def probs(self, q, t=0, counts=None):
        """Uniform probabilities."""
        return np.full(q.shape, 1.0 / q.shape[-1])


@dataclass(frozen=True)
class Greedy:
    """Always a maximizing action, ties broken at random."""

    def select(self, q, rng, t=0, counts=None):
        """Argmax with random tie-break."""
        return argmax_random_tie(q, rng)

    def probs(self, q, t=0, counts=None):
        """Uniform over the maximizers."""
        return greedy_probs(q)


def check_probability(name: str, value: float) -> None:
    """Refuse a probability outside [0, 1] with a message naming it."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


class EpsilonRule:
    """With probability ε(t) a uniformly random action, otherwise a greedy one."""

    def epsilon_at(self, t: int) -> float:
        """The exploration probability at step ``t``."""
        raise NotImplementedError

    def select(self, q, rng, t=0, counts=None):
        """Greedy action, replaced by a uniformly random one with probability ε(t).

        One uniform draw u per row does both: u < ε decides to explore, and then u/ε is uniform
        on [0, 1), so ⌊A·u/ε⌋ is a uniformly random action.
        """
        epsilon, n_actions = self.epsilon_at(t), q.shape[-1]
        greedy = argmax_random_tie(q, rng)
        if epsilon == 0.0:
            return greedy
        u = rng.random(greedy.shape)
        uniform = np.minimum(u / epsilon, 1.0)  # capped: no overflow for a tiny epsilon
        random = np.minimum((uniform * n_actions).astype(np.int64), n_actions - 1)
        return np.where(u < epsilon, random, greedy)

    def probs(self, q, t=0, counts=None):
        """(1 − ε) spread over the maximizers plus ε / A everywhere."""
        epsilon = self.epsilon_at(t)
        return (1.0 - epsilon) * greedy_probs(q) + epsilon / q.shape[-1]


@dataclass(frozen=True)
class EpsilonGreedy(EpsilonRule):
    """ε-greedy with a constant ε."""

    epsilon: float = 0.1
    """Probability of a uniformly random action, in [0, 1]."""

    def __post_init__(self):
        check_probability("epsilon", self.epsilon)

    def epsilon_at(self, t: int) -> float:
        """Constant."""
        return self.epsilon


@dataclass(frozen=True)
class DecayingEpsilon(EpsilonRule):
    """ε-greedy whose ε falls from ``start`` to the floor ``end`` over ``duration`` steps.

    Schedules (all reach ``end`` at ``t = duration`` and stay there):
    ``linear``: a straight line; ``exponential``: ε = start·(end/start)^(t/duration);
    ``inverse``: ε = start / (1 + k·t), k chosen to reach ``end`` (the 1/t family).
    """

    start: float = 1.0
    """ε at the first step."""
    end: float = 0.01
    """The floor ε reaches after ``duration`` steps and keeps."""
    duration: int = 1000
    """Steps from ``start`` to ``end``."""
    schedule: str = "exponential"
    """Shape of the decay: exponential, inverse (1/t) or linear."""

    def __post_init__(self):
        check_probability("start", self.start)
        check_probability("end", self.end)
        if self.end > self.start:
            raise ValueError(f"end ({self.end}) must not exceed start ({self.start})")
        if self.duration < 1:
            raise ValueError(f"duration must be >= 1 step, got {self.duration}")
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}"
            )
        if self.schedule != "linear" and self.end == 0:
            raise ValueError(f"the {self.schedule} schedule never reaches end=0; use end > 0")

    def epsilon_at(self, t: int) -> float:
        """The scheduled ε at step ``t``."""
        start, end, frac = self.start, self.end, t / self.duration
        if frac >= 1.0:
            return end
        if self.schedule == "linear" or start == end:
            eps = start + (end - start) * frac
        elif self.schedule == "exponential":
            eps = start * (end / start) ** frac
        else:  # inverse: start / (1 + k t) with k = (start / end - 1) / duration
            eps = start / (1.0 + (start / end - 1.0) * frac)
        return max(eps, end)


@dataclass(frozen=True)
class UCB:
    """Upper confidence bound: argmax of q + c·sqrt(ln t / N(a)); untried actions first."""

    c: float = 2.0
    """Exploration weight of the confidence bonus (>= 0)."""

    def __post_init__(self):
        if not self.c >= 0:
            raise ValueError(f"c must be >= 0, got {self.c}")

    def scores(self, q, t, counts):
        """The bound itself; +inf for actions never tried."""
        if counts is None:
            raise ValueError("UCB needs action counts")
        with np.errstate(divide="ignore", invalid="ignore"):
            bonus = self.c * np.sqrt(math.log(max(t, 1)) / counts)
        return np.where(counts > 0, q + bonus, np.inf)

    def select(self, q, rng, t=0, counts=None):
        """Argmax of the bound, random tie-break (ln of the 1-based step count, as in the book)."""
        return argmax_random_tie(self.scores(q, t + 1, counts), rng)

    def probs(self, q, t=0, counts=None):
        """Uniform over the maximizers of the bound."""
        return greedy_probs(self.scores(q, t + 1, counts))


@dataclass(frozen=True)
class Softmax:
    """Gibbs/Boltzmann choice: P(a) ∝ exp(q(a) / temperature) (the gradient bandit's policy)."""

    temperature: float = 1.0
    """Softmax temperature (> 0); lower is greedier."""

    def __post_init__(self):
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")

    def probs(self, q, t=0, counts=None):
        """Numerically stable softmax along the last axis."""
        z = (q - q.max(axis=-1, keepdims=True)) / self.temperature
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def select(self, q, rng, t=0, counts=None):
        """A draw from the softmax probabilities."""
        return sample(self.probs(q), rng)
