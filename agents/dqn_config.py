"""DQN's hyperparameters, importable without torch (agent specs are parsed before any training)."""

from __future__ import annotations

from dataclasses import dataclass

from agents.off_policy_config import OffPolicyConfig


@dataclass(frozen=True)
class DQNConfig(OffPolicyConfig):
    """Hyperparameters of DQN (defaults: rl-zoo's tuned CartPole-v1 settings, lr decaying to 0).

    The shared fields of :class:`OffPolicyConfig` redeclared below only change their default.
    """

    lr: float = 2.3e-3
    """Adam learning rate (at the start)."""
    lr_end: float | None = 0.0
    """The learning rate reached linearly after ``lr_decay_steps`` transitions (None: constant).

    Decaying to 0 over the run keeps the final policy from collapsing (CartPole, 10 seeds: the
    final greedy return reaches 475 on 9 instead of 3; docs/benchmarks.md).
    """
    lr_decay_steps: int = 50_000
    """Transitions over which the learning rate decays (the length of a default run)."""
    train_freq: int = 256
    """Transitions between training phases (env steps, when one env feeds the learner)."""
    gradient_steps: int = 128
    """Gradient steps per training phase."""
    target_update: int = 128
    """Gradient steps between target updates (rl-zoo's "every 10 env steps" in SB3, whose
    counter is env steps, means once per training phase: 128 gradient steps here)."""
    epsilon_end: float = 0.04
    """ε after ``exploration_steps`` (and the constant ε)."""
    exploration_steps: int = 8000
    """Transitions over which ε decays (rl-zoo: 16% of 50 000; 0: always greedy)."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of the MLP (vector observations) or its head (images)."""
    dueling: bool = False
    """Dueling network: value and advantage streams, Q = V + A − mean A (Wang et al., 2016).

    Each stream has the layers of ``hidden`` (after the convolutions, for images)."""

    def __post_init__(self):
        super().__post_init__()
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must be positive layer sizes, got {self.hidden}")
