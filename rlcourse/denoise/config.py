"""What ``rlcourse denoise report`` measures and how much it trains."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from agents.pixel_dqn_config import PixelDQNConfig
from envs.images import MIN_CROP
from rlcourse.errors import UsageError

REPORT_PIXEL_DQN = PixelDQNConfig(
    lr=1e-3, gamma=0.0, gradient_steps=16, freeze_trunk=True, estimate=True, memory=True
)
"""The report's per-pixel DQN: each step's expected reward per pixel (γ = 0) through the
estimate head, with memory, training only the head on a frozen DnCNN trunk. The fields that
follow from the report's other settings are filled in by :meth:`ReportConfig.pixel_dqn_config`."""


@dataclass(frozen=True)
class ReportConfig:
    """What ``rlcourse denoise report`` measures and how much it trains."""

    sigma: float = 25.0
    """Noise standard deviation in grey levels of 255."""
    crop: int = 64
    """Side of the crops (training and evaluation)."""
    steps: int = 5
    """Episode length T: filters applied per crop."""
    seed: int = 0
    """Seeds the crops, the noise, the weights and the exploration."""
    eval_per_image: int = 16
    """Evaluation crops per test image."""
    tune_crops: int = 32
    """Training crops the classical parameters and the fixed sequence are chosen on."""
    beam: int = 9
    """Beam width of the search for the best fixed sequence."""
    dncnn_patches: int = 2000
    """Noisy/clean 40×40 training patches of the DnCNN (one more tenth for validation)."""
    dncnn_epochs: int = 3
    """DnCNN training epochs."""
    dqn_steps: int = 10_000
    """Env steps of the image-level DQN."""
    pixel_envs: int = 8
    """Crops the per-pixel DQN steps together."""
    pixel_episodes: int = 20
    """Episodes of ``pixel_envs`` crops each the per-pixel DQN trains on."""
    pixel_dqn: PixelDQNConfig = field(default=REPORT_PIXEL_DQN)
    """The per-pixel DQN's hyperparameters (see :data:`REPORT_PIXEL_DQN`)."""
    pixel_from_dncnn: bool = True
    """Start the per-pixel DQN's trunk from the trained DnCNN's (else ``freeze_trunk`` is off)."""
    pixel_lookahead: bool = True
    """The Q head also sees what each action would make of the image (the 9 filtered images);
    without it the estimate head is off."""
    channels: int = 32
    """Feature maps of the DnCNN and of the Q-map network."""
    depth: int = 7
    """Hidden convolution layers of the DnCNN and of the Q-map network."""

    def __post_init__(self):
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise UsageError(f"sigma must be > 0 grey levels (of 255) and finite, got {self.sigma}")
        if self.crop < MIN_CROP:
            raise UsageError(f"crop must be >= {MIN_CROP} pixels, got {self.crop}")

    def pixel_dqn_config(self) -> PixelDQNConfig:
        """:attr:`pixel_dqn` with what follows from the rest: scales, sizes, schedules."""
        return scheduled_pixel_dqn(
            self.pixel_dqn,
            envs=self.pixel_envs,
            steps=self.steps,
            episodes=self.pixel_episodes,
            freeze_trunk=self.pixel_dqn.freeze_trunk and self.pixel_from_dncnn,
            estimate=self.pixel_dqn.estimate and self.pixel_lookahead,
            reward_scale=1.0 / self.sigma**2,
            channels=self.channels,
            depth=self.depth,
        )


def scheduled_pixel_dqn(
    base: PixelDQNConfig, *, envs: int, steps: int, episodes: int, **settings
) -> PixelDQNConfig:
    """A report's per-pixel DQN: ``base`` with ``settings`` and the schedule of its budget.

    ``envs`` crops stepped together for ``steps`` steps make one episode's transitions: learning
    starts after the first episode, ε decays over the first third of the ``episodes``, and the
    buffer holds 50 episodes.
    """
    transitions = envs * steps  # crop transitions per episode of the batch
    return replace(
        base,
        **settings,
        exploration_steps=transitions * episodes // 3,
        learning_starts=transitions,
        buffer_size=max(transitions * 50, 64),
    )


QUICK = {
    "eval_per_image": 4,
    "tune_crops": 8,
    "beam": 3,
    "dncnn_patches": 300,
    "dncnn_epochs": 2,
    "dqn_steps": 600,
    "pixel_envs": 4,
    "pixel_episodes": 10,
    "pixel_dqn": replace(REPORT_PIXEL_DQN, gradient_steps=2),
    "channels": 16,
    "depth": 4,
}
"""``--quick``: the whole pipeline in well under a minute (numbers are not meaningful)."""
