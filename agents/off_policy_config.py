"""The hyperparameters every off-policy learner shares, and their validation (no torch needed).

:class:`agents.dqn_config.DQNConfig` and :class:`agents.pixel_dqn_config.PixelDQNConfig` extend
:class:`OffPolicyConfig` with their own fields (and their own defaults); the fields here are
checked here once, for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from agents.strategies import DecayingEpsilon, EpsilonGreedy, Greedy

EXPLORATION = ("linear", "exponential", "constant", "greedy")


@dataclass(frozen=True)
class OffPolicyConfig:
    """Replay, TD target, gradient step, target update and exploration of an off-policy learner."""

    lr: float = 1e-3
    """Adam learning rate (at the start, when it decays)."""
    lr_end: float | None = None
    """The learning rate reached linearly after ``lr_decay_steps`` transitions (None: constant)."""
    lr_decay_steps: int = 0
    """Transitions over which the learning rate goes from ``lr`` to ``lr_end``."""
    gamma: float = 0.99
    """Discount factor."""
    buffer_size: int = 100_000
    """Transitions kept in the replay buffer."""
    batch_size: int = 64
    """Transitions per gradient step."""
    learning_starts: int = 1000
    """Transitions stored before the first gradient step (pure exploration until then)."""
    train_freq: int = 1
    """Transitions between training phases."""
    gradient_steps: int = 1
    """Gradient steps per training phase."""
    target_update: int = 100
    """Gradient steps between target updates."""
    tau: float = 1.0
    """Polyak factor of each target update (1: a hard copy)."""
    max_grad_norm: float = 10.0
    """Gradients are clipped to this global norm."""
    double: bool = False
    """Double DQN: the online network picks the next action, the target network values it."""
    n_step: int = 1
    """n-step returns: rewards summed over n steps, bootstrapping with γ^n (1: one-step DQN).

    An episode's end inside the window cuts it (terminated: no bootstrap; truncated: bootstrap
    from the state where it was cut)."""
    prioritized: bool = False
    """Proportional prioritized replay with importance weights (Schaul et al., 2016).

    Transitions drawn in proportion to (|TD error| + per_eps)^per_alpha through a sum tree,
    each row's loss weighted by (N·P)^−β / max."""
    per_alpha: float = 0.6
    """How much the priorities count (0: uniform draws; 1: proportional to |TD error| + ε)."""
    per_beta: float = 0.4
    """Importance-weight exponent at the start, rising linearly to 1 over ``per_beta_steps``."""
    per_beta_steps: int | None = None
    """Transitions over which β rises to 1 (none: ``lr_decay_steps``, a run's length).

    Where that is 0, β stays at ``per_beta``."""
    per_eps: float = 1e-6
    """Added to |TD error|, so that no transition's priority is 0."""
    exploration: str = "linear"
    """ε schedule: linear, exponential (shared DecayingEpsilon), constant (ε-greedy), greedy."""
    epsilon_start: float = 1.0
    """ε at the first step."""
    epsilon_end: float = 0.05
    """ε after ``exploration_steps`` (and the constant ε)."""
    exploration_steps: int = 10_000
    """Transitions over which ε decays (0: always greedy)."""

    def __post_init__(self):
        for item in fields(self):  # a config read from a checkpoint is checked as one typed
            value = getattr(self, item.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{item.name} must be a finite number, got {value}")
        for name in ("buffer_size", "batch_size", "train_freq", "gradient_steps", "target_update"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("learning_starts", "exploration_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.buffer_size < self.batch_size:
            raise ValueError(
                f"buffer_size ({self.buffer_size}) is smaller than one batch ({self.batch_size})"
            )
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.lr_end is not None and not 0 <= self.lr_end <= self.lr:
            raise ValueError(f"lr_end must be in [0, lr], got {self.lr_end}")
        if self.lr_end is not None and self.lr_decay_steps < 1:
            raise ValueError("lr_end needs lr_decay_steps >= 1 (the transitions it decays over)")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if not self.max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be > 0, got {self.max_grad_norm}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        if self.n_step < 1:
            raise ValueError(f"n_step must be >= 1, got {self.n_step}")
        for name in ("per_alpha", "per_beta"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not self.per_eps > 0:
            raise ValueError(f"per_eps must be > 0, got {self.per_eps}")
        if self.per_beta_steps is not None and self.per_beta_steps < 0:
            raise ValueError(f"per_beta_steps must be >= 0, got {self.per_beta_steps}")
        if self.exploration not in EXPLORATION:
            raise ValueError(f"exploration must be one of {', '.join(EXPLORATION)}")
        self.strategy()  # the strategy checks its own settings (ε in [0, 1], ...)

    def learning_rate(self, transitions: int) -> float:
        """The learning rate after ``transitions`` stored transitions."""
        if self.lr_end is None:
            return self.lr
        done = min(1.0, transitions / self.lr_decay_steps)
        return self.lr + (self.lr_end - self.lr) * done

    def per_beta_at(self, transitions: int) -> float:
        """The importance-weight exponent β after ``transitions`` stored transitions."""
        steps = self.lr_decay_steps if self.per_beta_steps is None else self.per_beta_steps
        if steps <= 0:
            return self.per_beta
        return self.per_beta + (1.0 - self.per_beta) * min(1.0, transitions / steps)

    def strategy(self):
        """The shared exploration strategy these settings describe."""
        if self.exploration == "greedy" or self.exploration_steps == 0:
            return Greedy()
        if self.exploration == "constant":
            return EpsilonGreedy(self.epsilon_end)
        return DecayingEpsilon(
            self.epsilon_start, self.epsilon_end, self.exploration_steps, self.exploration
        )
