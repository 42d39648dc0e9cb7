"""What ``rlcourse restore report`` measures and how much it trains."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from agents.pixel_dqn_config import PixelDQNConfig
from envs.images import MIN_CROP
from envs.restore_tasks import MASKS, Task
from rlcourse.denoise.config import scheduled_pixel_dqn
from rlcourse.errors import UsageError

REPORT_TASKS = ("inpaint", "upres")
"""The tasks this report measures (``denoise`` has ``rlcourse denoise report``)."""

RESTORE_PIXEL_DQN = PixelDQNConfig(lr=1e-3, gamma=0.0, gradient_steps=4, all_actions=True)
"""The report's per-pixel DQN: every action's one-step reward at every pixel regressed (γ = 0,
``all_actions``: the env's reward map of each action), its head seeing what each action makes
of the image (the lookahead), the whole Q-map network learnt from the rewards (no pretrained
trunk). The fields that follow from the report's other settings are filled in by
:meth:`RestoreConfig.pixel_dqn_config`."""


@dataclass(frozen=True)
class RestoreConfig:
    """What ``rlcourse restore report`` measures and how much it trains."""

    task: str = "inpaint"
    """``inpaint`` or ``upres``."""
    mask: str = "centre"
    """In-painting's hole: the course's centre square or one at a random place per crop."""
    factor: int = 2
    """Up-resing's factor."""
    crop: int = 48
    """Side of the crops (training and evaluation)."""
    steps: int = 5
    """Episode length T: actions per pixel per crop."""
    seed: int = 0
    """Seeds the crops, the masks, the weights and the exploration."""
    eval_per_image: int = 8
    """Evaluation crops per test image."""
    unet_pairs: int = 600
    """(input, target) training crops of the U-Net (one more tenth for validation)."""
    unet_epochs: int = 5
    """U-Net training epochs."""
    unet_base: int = 16
    """The U-Net's feature maps at full size (doubled at each of its 2 halvings)."""
    pixel_envs: int = 8
    """Crops the per-pixel DQN steps together."""
    pixel_episodes: int = 24
    """Episodes of ``pixel_envs`` crops each the per-pixel DQN trains on."""
    pixel_dqn: PixelDQNConfig = field(default=RESTORE_PIXEL_DQN)
    """The per-pixel DQN's hyperparameters (see :data:`RESTORE_PIXEL_DQN`)."""
    channels: int = 24
    """Feature maps of the Q-map network."""
    depth: int = 5
    """Hidden convolution layers of the Q-map network."""

    def __post_init__(self):
        if self.task not in REPORT_TASKS:
            raise UsageError(f"task must be one of {', '.join(REPORT_TASKS)}, got {self.task!r}")
        if self.mask not in MASKS:
            raise UsageError(f"mask must be one of {', '.join(MASKS)}, got {self.mask!r}")
        if self.crop < MIN_CROP:
            raise UsageError(f"crop must be >= {MIN_CROP} pixels, got {self.crop}")
        try:
            self.env_task().check_crop(self.crop)
        except ValueError as err:
            raise UsageError(str(err)) from None

    def env_task(self) -> Task:
        """The environments' task."""
        return Task(self.task, mask=self.mask, factor=self.factor)

    def env_kwargs(self) -> dict:
        """The task's keyword arguments of the per-pixel environment."""
        return {"task": self.task, "mask": self.mask, "factor": self.factor}

    def pixel_dqn_config(self) -> PixelDQNConfig:
        """:attr:`pixel_dqn` with what follows from the rest: sizes and schedules."""
        return scheduled_pixel_dqn(
            self.pixel_dqn,
            envs=self.pixel_envs,
            steps=self.steps,
            episodes=self.pixel_episodes,
            reward_scale=1.0 / 25.0**2,
            channels=self.channels,
            depth=self.depth,
        )


QUICK = {
    "eval_per_image": 2,
    "unet_pairs": 48,
    "unet_epochs": 1,
    "unet_base": 4,
    "pixel_envs": 2,
    "pixel_episodes": 3,
    "pixel_dqn": replace(RESTORE_PIXEL_DQN, gradient_steps=1),
    "channels": 8,
    "depth": 3,
}
"""``--quick``: the whole pipeline in seconds (numbers are not meaningful)."""
