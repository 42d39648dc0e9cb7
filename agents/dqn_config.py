"""DQN's hyperparameters, importable without torch (agent specs are parsed before any training)."""

from __future__ import annotations

from dataclasses import dataclass

from agents.strategies import DecayingEpsilon, EpsilonGreedy, Greedy

EXPLORATION = ("linear", "exponential", "constant", "greedy")


@dataclass(frozen=True)
class DQNConfig:
    """Hyperparameters of DQN (defaults: rl-zoo's tuned CartPole-v1 settings)."""

    lr: float = 2.3e-3
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount factor."""
    buffer_size: int = 100_000
    """Transitions kept in the replay buffer."""
    batch_size: int = 64
    """Transitions per gradient step."""
    learning_starts: int = 1000
    """Env steps of pure exploration before the first gradient step."""
    train_freq: int = 256
    """Env steps between training phases."""
    gradient_steps: int = 128
    """Gradient steps per training phase."""
    target_update: int = 128
    """Gradient steps between target updates (rl-zoo's "every 10 env steps" in SB3, whose
    counter is env steps, means once per training phase: 128 gradient steps here)."""
    tau: float = 1.0
    """Polyak factor of each target update (1: a hard copy)."""
    max_grad_norm: float = 10.0
    """Gradients are clipped to this global norm."""
    double: bool = False
    """Double DQN: the online network picks the next action, the target network values it."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of the MLP (vector observations) or its head (images)."""
    exploration: str = "linear"
    """ε schedule: linear, exponential (shared DecayingEpsilon), constant (ε-greedy), greedy."""
    epsilon_start: float = 1.0
    """ε at the first step."""
    epsilon_end: float = 0.04
    """ε after ``exploration_steps`` (and the constant ε)."""
    exploration_steps: int = 8000
    """Env steps over which ε decays (rl-zoo: 16% of 50 000)."""

    def __post_init__(self):
        for name in (
            "buffer_size",
            "batch_size",
            "train_freq",
            "gradient_steps",
            "target_update",
            "exploration_steps",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_starts < 0:
            raise ValueError(f"learning_starts must be >= 0, got {self.learning_starts}")
        if self.buffer_size < self.batch_size:
            raise ValueError(
                f"buffer_size ({self.buffer_size}) is smaller than one batch ({self.batch_size})"
            )
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        if self.exploration not in EXPLORATION:
            raise ValueError(f"exploration must be one of {', '.join(EXPLORATION)}")
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must be positive layer sizes, got {self.hidden}")

    def strategy(self):
        """The shared exploration strategy these settings describe."""
        if self.exploration == "greedy":
            return Greedy()
        if self.exploration == "constant":
            return EpsilonGreedy(self.epsilon_end)
        return DecayingEpsilon(
            self.epsilon_start, self.epsilon_end, self.exploration_steps, self.exploration
        )
