"""The per-pixel DQN's hyperparameters, importable without torch (specs are parsed first)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from agents.off_policy_config import OffPolicyConfig


@dataclass(frozen=True)
class PixelDQNConfig(OffPolicyConfig):
    """Hyperparameters of the per-pixel DQN (one Q-vector per pixel, PixelRL's setting).

    A transition is a whole crop with its per-pixel reward map; the shared fields count crops.
    The shared fields redeclared below only change their default (and say it in crops).
    """

    lr: float = 5e-4
    """Adam learning rate."""
    gamma: float = 0.8
    """Discount factor."""
    buffer_size: int = 2000
    """Crops (transitions of whole crops, with their reward maps) kept in the replay buffer."""
    batch_size: int = 8
    """Crops per gradient step (every pixel of each is a sample)."""
    learning_starts: int = 64
    """Crop transitions stored before the first gradient step."""
    exploration_steps: int = 2000
    """Crop transitions over which ε decays (0: always greedy)."""
    reward_scale: float = 1.0 / 625.0
    """Per-pixel rewards (drop of the squared error in grey levels²) are multiplied by this."""
    all_actions: bool = False
    """Learn from every action's reward map (the env's ``info["action_reward_maps"]``), not
    only the taken one's: each pixel's Q-vector is regressed on ``c·r_a(p) + γ·V(s')(p)`` for
    all ``a`` (exact for γ = 0, where Q is the expected one-step reward; for γ > 0 the next
    value is the one after the actions taken, an approximation)."""
    estimate: bool = False
    """Estimate head (:meth:`supervised.dncnn.QMapNet.q_of_features`): the network estimates
    the clean image and an action's Q at a pixel is the drop of squared error it would give
    against that estimate, the reward's own form. Q is then the expected one-step reward, so it
    needs ``gamma = 0`` and a lookahead giving what each action makes of the image."""
    memory: bool = False
    """The trunk reads the episode's first observation, which the learner keeps (its memory),
    not the current one; the head also sees the current image. A denoiser's trunk sees the
    noisy image it was trained on at every step, not a half-filtered one."""
    channels: int = 32
    """Feature maps of the Q-map network's hidden convolutions."""
    depth: int = 7
    """3×3 convolution + ReLU layers before the Q head (the DnCNN trunk's shape)."""
    freeze_trunk: bool = False
    """Train only the head: the trunk (loaded from a trained DnCNN) stays fixed, so the replay
    buffer keeps each crop's features and a gradient step costs only the head."""

    def __post_init__(self):
        super().__post_init__()
        if not self.reward_scale > 0:
            raise ValueError(f"reward_scale must be > 0, got {self.reward_scale}")
        if self.estimate and self.gamma != 0:
            raise ValueError(
                f"estimate gives the expected one-step reward: it needs gamma = 0, got {self.gamma}"
            )
        if self.channels < 1 or self.depth < 1:
            raise ValueError(f"channels and depth must be >= 1, got {self.channels}, {self.depth}")


def check_spaces(observation_space: spaces.Space, action_space: spaces.Space) -> None:
    """Images ``(1, H, W)`` in, one Discrete choice per pixel ``(H, W)`` out."""
    if not (isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 3):
        raise ValueError(f"pixel-dqn needs image observations (1, H, W), got {observation_space}")
    if (
        not isinstance(action_space, spaces.MultiDiscrete)
        or action_space.shape != observation_space.shape[1:]
        or len(np.unique(action_space.nvec)) != 1
    ):
        raise ValueError(
            f"pixel-dqn needs one action per pixel, MultiDiscrete of shape "
            f"{observation_space.shape[1:]} with the same count everywhere, got {action_space}"
        )


def fits(observation_space: spaces.Space, action_space: spaces.Space) -> bool:
    """Whether :func:`check_spaces` accepts these spaces."""
    try:
        check_spaces(observation_space, action_space)
    except ValueError:
        return False
    return True
