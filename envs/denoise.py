"""Image denoising as reinforcement learning (PixelRL, Furuta et al. 2019): filters as actions.

A noisy crop of a clean grayscale image is the state; each step applies a filter, to the whole
crop (:class:`ImageDenoiseEnv`) or one filter per pixel (:class:`PixelDenoiseEnv`); the reward is
the drop in squared error against the clean crop. Both have native numpy batches
(:class:`ImageDenoiseVectorEnv`, :class:`PixelDenoiseVectorEnv`).

The crops come from :mod:`envs.images` (scikit-image's bundled pictures split by image, or a
folder of the user's), the actions are :mod:`envs.filters`' (PixelRL's nine filters).

The names of those two modules are still found here (``envs.denoise.ACTIONS``, …) for one
release: import them from :mod:`envs.filters` and :mod:`envs.images`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

# The env uses ACTIONS, the three ways to apply filters, CropSource, psnr and to_uint8; the other
# names are found here for one release only (deprecated: import them from envs.filters/images).
from envs.filters import (  # noqa: F401
    ACTIONS,
    apply_filter,
    apply_per_image,
    apply_per_pixel,
    filter_bank,
    filter_bank_channels,
)
from envs.images import (  # noqa: F401
    IMAGE_SUFFIXES,
    MIN_CROP,
    SPLITS,
    TEST_IMAGES,
    TRAIN_IMAGES,
    CropSource,
    bundled_image,
    check_settings,
    fixed_crops,
    load_folder,
    load_images,
    psnr,
    to_gray,
    to_uint8,
)
from envs.restore_tasks import Task
from envs.vector import NativeVectorEnv

# -- the batch state shared by all four envs ---------------------------------------------------


class DenoiseState:
    """Clean and current crops of a batch, their PSNR at reset; steps apply the task's actions.

    ``states``: in-painting's pixel states (``envs.restore_tasks``), None for the other tasks.
    """

    def __init__(self, source: CropSource, n: int, per_pixel: bool, task: Task | None = None):
        self.source, self.per_pixel, self.task = source, per_pixel, task or Task()
        shape = (n, source.crop, source.crop)
        self.clean = np.zeros(shape, np.float32)
        self.current = np.zeros(shape, np.float32)
        self.states = np.zeros(shape, np.uint8) if task.name == "inpaint" else None
        self.start_psnr = np.zeros(n)

    def reset(self, rng, mask: np.ndarray, options: dict | None) -> None:
        """New crops where ``mask``; ``options`` ``"clean"``, ``"noisy"``, ``"mask"`` give them.

        ``"noisy"`` is the degraded start image of any task; ``"mask"`` in-painting's masks.
        """
        n = int(mask.sum())
        options = options or {}
        shape = (n, self.source.crop, self.source.crop)
        if "clean" in options:
            clean = np.asarray(options["clean"], np.float32).reshape(shape)
        else:
            clean = self.source.clean(rng, n)
        masks = None
        if self.task.name == "inpaint":
            given = options.get("mask")
            masks = self.task.masks(n, shape[1], rng) if given is None else given
            masks = np.asarray(masks, np.float32).reshape(shape)
            self.states[mask] = self.task.start_states(masks)
        if "noisy" in options:
            noisy = np.asarray(options["noisy"], np.float32).reshape(shape)
        elif self.task.name == "denoise":
            noisy = self.source.noisy(clean, rng)
        else:
            noisy = self.task.degrade(clean, masks)
        self.clean[mask], self.current[mask] = clean, noisy
        self.start_psnr[mask] = psnr(noisy, clean)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """Apply the actions; return rewards, the per-pixel reward maps and the info."""
        before = (self.current - self.clean) ** 2
        scale = 255.0**2 / (self.clean.shape[1] * self.clean.shape[2])
        extra = {}
        self.current, self.states, bank = self.task.step(
            self.current, self.states, actions, self.per_pixel
        )
        if self.per_pixel:
            every = before[:, None] - (bank.transpose(1, 0, 2, 3) - self.clean[:, None]) ** 2
            extra["action_reward_maps"] = every * scale
        after = (self.current - self.clean) ** 2
        reward_map = (before - after) * scale
        rewards = reward_map.sum(axis=(1, 2), dtype=np.float64)
        return rewards, reward_map, self.info() | extra

    def info(self) -> dict[str, np.ndarray]:
        """``psnr`` and ``psnr_gain`` (since reset) of every crop."""
        now = psnr(self.current, self.clean)
        return {"psnr": now, "psnr_gain": now - self.start_psnr}

    def obs(self) -> np.ndarray:
        """The observations, uint8 channel-first ``(n, C, H, W)`` (C = 1, inpaint's 2)."""
        return self.task.observe(self.current, self.states)


def _spaces(source: CropSource, per_pixel: bool, task: Task) -> tuple[spaces.Box, spaces.Space]:
    c, n = source.crop, len(task.actions)
    observation = spaces.Box(0, 255, (task.channels, c, c), np.uint8)
    if per_pixel:
        return observation, spaces.MultiDiscrete(np.full((c, c), n))
    return observation, spaces.Discrete(n)


def _check_actions(actions: np.ndarray, shape: tuple[int, ...], n: int) -> np.ndarray:
    actions = np.asarray(actions)
    if (
        actions.shape != shape
        or not np.issubdtype(actions.dtype, np.integer)
        or actions.min() < 0
        or actions.max() >= n
    ):
        raise ValueError(
            f"actions must be integers in 0..{n - 1} of shape {shape}, "
            f"got {actions.dtype} {actions.shape}"
        )
    return actions


class _DenoiseEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    per_pixel = False

    def __init__(
        self,
        images: str | Path | Sequence[np.ndarray] = "train",
        crop: int = 64,
        sigma: float = 25.0,
        render_mode: str | None = None,
        task: str = "denoise",
        mask: str = "centre",
        scale: float = 0.25,
        factor: int = 2,
    ):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.task = Task(task, sigma, mask, scale, factor)
        self.source = CropSource(images, crop, sigma)
        self.task.check_crop(self.source.crop)
        self.observation_space, self.action_space = _spaces(self.source, self.per_pixel, self.task)
        self.state = DenoiseState(self.source, 1, self.per_pixel, self.task)
        self.render_mode = render_mode

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """A new degraded crop (or ``options`` ``"clean"``, ``"noisy"``, ``"mask"``: 2-D)."""
        super().reset(seed=seed)
        self.state.reset(self.np_random, np.ones(1, bool), options)
        return self.state.obs()[0], self._info(self.state.info())

    def step(self, action):
        """Apply the filter(s); reward = (MSE before − MSE after) × 255²."""
        shape = () if not self.per_pixel else self.action_space.shape
        actions = _check_actions(action, shape, len(self.task.actions))[None]
        rewards, reward_map, info = self.state.step(actions)
        info = self._info(info)
        if self.per_pixel:
            info["reward_map"] = reward_map[0]
        return self.state.obs()[0], float(rewards[0]), False, False, info

    @staticmethod
    def _info(info: dict[str, np.ndarray]) -> dict[str, Any]:
        return {key: float(v[0]) if np.ndim(v) == 1 else v[0] for key, v in info.items()}

    def render(self):
        """``rgb_array``: the current crop as an RGB image."""
        if self.render_mode == "rgb_array":
            return np.repeat(to_uint8(self.state.current[0])[..., None], 3, axis=2)
        return None


_DOC_COMMON = """
    ## Observation Space
    `Box(0, 255, (1, crop, crop), uint8)`: the current crop, channel-first; `task="inpaint"`:
    `(2, crop, crop)`, the crop and its pixel states (0 empty, 128 filled, 255 given).

    ## Episode End
    Never terminates; truncated after `max_episode_steps` = T (registered: 5). Change it with
    `gym.make(id, max_episode_steps=T)`.

    ## Information
    `psnr`: PSNR of the current crop against the clean one (dB, data range 1); `psnr_gain`:
    its rise since reset.

    ## Arguments
    `images`: `"train"` (default), `"test"` (the bundled splits, see `envs.images`), a folder of
    images, or a sequence of 2-D arrays; `crop` (default 64, at least 36); `sigma`: the noise
    standard deviation in grey levels of 255 (default 25); `render_mode` (`"rgb_array"`).
    `task`: `"denoise"` (default), `"inpaint"` or `"upres"` (`envs.restore_tasks`: the
    degradation and the actions; the reward is the same); in-painting's `mask` (`"centre"`,
    the course's, or `"random"`) and `scale` (0.25), up-resing's `factor` (2).
    `reset(options={"clean": image, "noisy": image})` starts from given crops (in [0, 1]; `noisy`
    is the degraded start of any task; in-painting also takes `"mask"`, 1 given, 0 hole).
"""


class ImageDenoiseEnv(_DenoiseEnv):
    """Denoise a crop by choosing one filter per step for the whole crop.

    ## Description
    A random crop of a clean grayscale image gets Gaussian noise of `sigma` grey levels
    (clipped to [0, 1]); each step applies one of PixelRL's 9 filters (`envs.filters.ACTIONS`).

    ## Action Space
    `Discrete(9)`: nothing, −1/255, +1/255, Gaussian σ 0.5 and 1.5, bilateral (colour σ 0.1 and
    1.0), median 5×5, box 5×5.

    ## Rewards
    `(MSE_before − MSE_after) × 255²`, the MSE over the crop against the clean crop: the return
    of an episode is the drop of the MSE in grey levels².
    """


class PixelDenoiseEnv(_DenoiseEnv):
    """Denoise a crop by choosing a filter for every pixel at every step (PixelRL).

    ## Description
    As `ImageDenoiseEnv`, but every pixel is an agent: pixel (y, x) takes the value that its
    chosen filter gives there. All 9 filtered crops are computed once per step and gathered.

    ## Action Space
    `MultiDiscrete` of shape `(crop, crop)`, 9 values each (the filters of `ImageDenoiseEnv`;
    another `task`'s actions: `envs.restore_tasks`).

    ## Rewards
    `(MSE_before − MSE_after) × 255²`, the sum of the per-pixel reward map
    `info["reward_map"]` (`(crop, crop)` float32): each pixel's drop of its squared error, in
    grey levels², divided by the number of pixels. `info["action_reward_maps"]`
    (`(A, crop, crop)`, A actions) holds the reward map every action would have given at every
    pixel (the taken action's is `reward_map`): the per-pixel DQN can learn from all of them.
    """

    per_pixel = True


ImageDenoiseEnv.__doc__ += _DOC_COMMON
PixelDenoiseEnv.__doc__ += _DOC_COMMON


class _DenoiseVectorEnv(NativeVectorEnv):
    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}
    per_pixel = False

    def __init__(
        self,
        num_envs: int = 1,
        images: str | Path | Sequence[np.ndarray] = "train",
        crop: int = 64,
        sigma: float = 25.0,
        max_episode_steps: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        task: str = "denoise",
        mask: str = "centre",
        scale: float = 0.25,
        factor: int = 2,
    ):
        if render_mode is not None:
            raise ValueError(f"{type(self).__name__} does not render")
        self.task = Task(task, sigma, mask, scale, factor)
        self.source = CropSource(images, crop, sigma)
        self.task.check_crop(self.source.crop)
        spaces_ = _spaces(self.source, self.per_pixel, self.task)
        super().__init__(num_envs, *spaces_, max_episode_steps, autoreset_mode)
        self.state = DenoiseState(self.source, self.num_envs, self.per_pixel, self.task)
        self._options: dict | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset (see ``NativeVectorEnv.reset``), from given crops if options say so.

        ``options["clean"]`` (and ``options["noisy"]``): crops ``(k, H, W)`` in [0, 1] for the
        ``k`` sub-environments reset.
        """
        self._options = {
            k: v for k, v in (options or {}).items() if k in ("clean", "noisy", "mask")
        }
        try:
            return super().reset(seed=seed, options=options)
        finally:
            self._options = None

    def images(self) -> np.ndarray:
        """The current crops of every run, float32 in [0, 1], ``(num_envs, H, W)`` (a copy).

        Unlike the observations (uint8), not rounded: what the PSNR in ``info`` is measured on.
        """
        return self.state.current.copy()

    def _reset_runs(self, mask):
        self.state.reset(self.np_random, mask, self._options)
        return self.state.obs(), self.state.info()

    def _step_runs(self, actions):
        shape = (self.num_envs, *(self.single_action_space.shape if self.per_pixel else ()))
        actions = _check_actions(actions, shape, len(self.task.actions))
        rewards, reward_map, info = self.state.step(actions)
        if self.per_pixel:
            info["reward_map"] = reward_map
        return self.state.obs(), rewards, np.zeros(self.num_envs, bool), info


class ImageDenoiseVectorEnv(_DenoiseVectorEnv):
    """``num_envs`` crops of :class:`ImageDenoiseEnv`, stepped together in numpy."""


class PixelDenoiseVectorEnv(_DenoiseVectorEnv):
    """``num_envs`` crops of :class:`PixelDenoiseEnv`, stepped together in numpy."""

    per_pixel = True
