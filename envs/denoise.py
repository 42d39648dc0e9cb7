"""Image denoising as reinforcement learning (PixelRL, Furuta et al. 2019): filters as actions.

A noisy crop of a clean grayscale image is the state; each step applies a filter, to the whole
crop (:class:`ImageDenoiseEnv`) or one filter per pixel (:class:`PixelDenoiseEnv`); the reward is
the drop in squared error against the clean crop. Both have native numpy batches
(:class:`ImageDenoiseVectorEnv`, :class:`PixelDenoiseVectorEnv`).

Images: scikit-image's bundled pictures, made grayscale, split **by image** (a crop of a test
image is never seen in training):

- :data:`TRAIN_IMAGES`: brick, cell, chelsea, clock, grass, gravel, hubble_deep_field,
  immunohistochemistry, moon, page, retina, rocket, text;
- :data:`TEST_IMAGES`: astronaut, camera, coffee, coins;

or a folder of the user's images (PNG, JPEG, TIFF, BMP, GIF), read with ``skimage.io``.

The actions (:data:`ACTIONS`, PixelRL's set; scipy.ndimage and skimage filters, borders mirrored):
0 nothing, 1 −1/255, 2 +1/255, 3 Gaussian σ=0.5 and 4 σ=1.5 (5×5 kernels), 5 bilateral with
colour σ 0.1 and 6 colour σ 1.0 (5×5 window, spatial σ 5), 7 median 5×5, 8 box 5×5. Results are
clipped to [0, 1]. :func:`filter_bank` computes all of them at once, so a per-pixel step is one
gather.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from envs.vector import NativeVectorEnv

TRAIN_IMAGES = (
    "brick",
    "cell",
    "chelsea",
    "clock",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)
"""scikit-image pictures the agents and the DnCNN learn from."""
TEST_IMAGES = ("astronaut", "camera", "coffee", "coins")
"""Held-out scikit-image pictures every method is measured on."""
SPLITS = {"train": TRAIN_IMAGES, "test": TEST_IMAGES}

ACTIONS = (
    "nothing",
    "minus-1",
    "plus-1",
    "gaussian-0.5",
    "gaussian-1.5",
    "bilateral-0.1",
    "bilateral-1.0",
    "median-5",
    "box-5",
)
"""Names of the actions, in action-index order."""
MIN_CROP = 36
"""The smallest crop side: Stable-Baselines3's CnnPolicy needs 36×36 images."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif")


# -- the filters ------------------------------------------------------------------------------


def _gaussian(sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    from scipy import ndimage

    return lambda x: ndimage.gaussian_filter(x, (0, sigma, sigma), mode="mirror", radius=(0, 2, 2))


def _bilateral(sigma_color: float) -> Callable[[np.ndarray], np.ndarray]:
    from skimage.restoration import denoise_bilateral

    def apply(x: np.ndarray) -> np.ndarray:
        return np.stack(
            [
                denoise_bilateral(
                    image, win_size=5, sigma_color=sigma_color, sigma_spatial=5.0, mode="reflect"
                )
                for image in x
            ]
        )

    return apply


def _median(x: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.median_filter(x, size=(1, 5, 5), mode="mirror")


def _box(x: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.uniform_filter(x, size=(1, 5, 5), mode="mirror")


@cache
def _filters() -> tuple[Callable[[np.ndarray], np.ndarray], ...]:
    return (
        lambda x: x,
        lambda x: x - 1.0 / 255.0,
        lambda x: x + 1.0 / 255.0,
        _gaussian(0.5),
        _gaussian(1.5),
        _bilateral(0.1),
        _bilateral(1.0),
        _median,
        _box,
    )


def apply_filter(images: np.ndarray, action: int) -> np.ndarray:
    """Action ``action`` applied to a batch ``(n, H, W)`` of images in [0, 1], clipped."""
    out = _filters()[int(action)](np.asarray(images, dtype=np.float32))
    return np.clip(out, 0.0, 1.0, dtype=np.float32)


def filter_bank(images: np.ndarray) -> np.ndarray:
    """Every action applied to a batch ``(n, H, W)``: ``(len(ACTIONS), n, H, W)`` float32."""
    return np.stack([apply_filter(images, a) for a in range(len(ACTIONS))])


def filter_bank_channels(images: np.ndarray) -> np.ndarray:
    """:func:`filter_bank` with the actions as channels: ``(n, len(ACTIONS), H, W)``."""
    return filter_bank(images).transpose(1, 0, 2, 3)


def apply_per_image(images: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Image ``i`` of the batch filtered by ``actions[i]`` (each filter run once, on its images)."""
    out = np.empty_like(images, dtype=np.float32)
    for action in np.unique(actions):
        rows = actions == action
        out[rows] = apply_filter(images[rows], action)
    return out


def apply_per_pixel(
    images: np.ndarray, actions: np.ndarray, bank: np.ndarray | None = None
) -> np.ndarray:
    """Pixel ``(i, y, x)`` filtered by ``actions[i, y, x]``: one gather from :func:`filter_bank`.

    ``bank``: the images' filter bank if already computed.
    """
    bank = filter_bank(images) if bank is None else bank
    return np.take_along_axis(bank, actions[None].astype(np.intp), axis=0)[0]


# -- images -------------------------------------------------------------------------------------


def to_gray(image: np.ndarray) -> np.ndarray:
    """A 2-D float32 image in [0, 1] from gray, RGB or RGBA pixels of any dtype."""
    from skimage.color import rgb2gray, rgba2rgb
    from skimage.util import img_as_float32

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 4:
        image = rgba2rgb(image)
    if image.ndim == 3 and image.shape[-1] == 3:
        image = rgb2gray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a gray, RGB or RGBA image, got shape {image.shape}")
    return np.clip(img_as_float32(image), 0.0, 1.0)


@cache
def bundled_image(name: str) -> np.ndarray:
    """One of scikit-image's bundled pictures (``skimage.data.NAME()``), grayscale in [0, 1].

    Read once per process (cached); the array is read-only.
    """
    import skimage.data

    image = to_gray(getattr(skimage.data, name)())
    image.setflags(write=False)
    return image


def load_folder(folder: str | Path) -> dict[str, np.ndarray]:
    """The images of a folder (by file name, sorted), grayscale in [0, 1].

    Raises:
        ValueError: no such folder, no image files in it, a file that cannot be read, or one of
            more pixels than Pillow's limit (``PIL.Image.MAX_IMAGE_PIXELS``: refused unread).
    """
    from PIL import Image
    from skimage.io import imread

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"image folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(
            f"image folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)} files)"
        )
    images = {}
    for path in files:
        try:
            with warnings.catch_warnings():  # over Pillow's pixel limit: refused, not decoded
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                images[path.name] = to_gray(imread(path))
        except Exception as err:  # any decoder error, a decompression bomb: name the file
            raise ValueError(f"cannot read image {path}: {type(err).__name__}: {err}") from None
    return images


def load_images(images: str | Path | Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """``"train"``/``"test"`` (the bundled splits), a folder, or a sequence of 2-D arrays."""
    if isinstance(images, str) and images in SPLITS:
        return {name: bundled_image(name) for name in SPLITS[images]}
    if isinstance(images, str | Path):
        return load_folder(images)
    loaded = {f"image{i}": to_gray(image) for i, image in enumerate(images)}
    if not loaded:
        raise ValueError("no images given")
    return loaded


def check_settings(images: dict[str, np.ndarray], crop: int, sigma: float) -> None:
    """Refuse σ <= 0, a crop under :data:`MIN_CROP`, and images smaller than the crop."""
    if not (isinstance(sigma, int | float) and sigma > 0 and np.isfinite(sigma)):
        raise ValueError(f"sigma must be > 0 grey levels (of 255), got {sigma!r}")
    if int(crop) != crop or crop < MIN_CROP:
        raise ValueError(f"crop must be an integer >= {MIN_CROP} pixels, got {crop!r}")
    for name, image in images.items():
        if min(image.shape) < crop:
            raise ValueError(
                f"image {name} is {image.shape[0]}x{image.shape[1]}, smaller than the crop "
                f"{crop}x{crop}; use a smaller crop or larger images"
            )


class CropSource:
    """Random ``crop × crop`` windows of a set of images, with Gaussian noise of ``sigma``/255."""

    def __init__(self, images: str | Path | Sequence[np.ndarray], crop: int, sigma: float):
        self.images = load_images(images)
        check_settings(self.images, crop, sigma)
        self.names = list(self.images)
        self.crop, self.sigma = int(crop), float(sigma)

    def clean(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` crops ``(n, crop, crop)``: a uniform image, then a uniform position in it."""
        out = np.empty((n, self.crop, self.crop), dtype=np.float32)
        for i, which in enumerate(rng.integers(len(self.names), size=n)):
            image = self.images[self.names[which]]
            y = rng.integers(image.shape[0] - self.crop + 1)
            x = rng.integers(image.shape[1] - self.crop + 1)
            out[i] = image[y : y + self.crop, x : x + self.crop]
        return out

    def noisy(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``clean`` plus N(0, (σ/255)²) noise, clipped to [0, 1]."""
        noise = rng.normal(0.0, self.sigma / 255.0, clean.shape).astype(np.float32)
        return np.clip(clean + noise, 0.0, 1.0)


def fixed_crops(
    images: dict[str, np.ndarray], crop: int, per_image: int, seed: int = 0
) -> tuple[np.ndarray, list[str]]:
    """``per_image`` seeded random crops of every image (an evaluation set) and their names."""
    rng = np.random.default_rng(seed)
    crops, names = [], []
    for name, image in images.items():
        for _ in range(per_image):
            y = rng.integers(image.shape[0] - crop + 1)
            x = rng.integers(image.shape[1] - crop + 1)
            crops.append(image[y : y + crop, x : x + crop])
            names.append(name)
    return np.stack(crops).astype(np.float32), names


def psnr(images: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """PSNR in dB (data range 1) of each image of a batch: 10·log10(1 / MSE) over its pixels."""
    mse = np.mean((images.astype(np.float64) - clean) ** 2, axis=(-2, -1))
    return 10.0 * np.log10(1.0 / np.maximum(mse, 1e-12))


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] as rounded uint8 grey levels."""
    return np.rint(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


# -- the batch state shared by all four envs ---------------------------------------------------


class DenoiseState:
    """Clean and current crops of a batch, their PSNR at reset; steps apply actions."""

    def __init__(self, source: CropSource, n: int, per_pixel: bool):
        self.source, self.per_pixel = source, per_pixel
        shape = (n, source.crop, source.crop)
        self.clean = np.zeros(shape, np.float32)
        self.current = np.zeros(shape, np.float32)
        self.start_psnr = np.zeros(n)

    def reset(self, rng, mask: np.ndarray, options: dict | None) -> None:
        """New crops where ``mask``; ``options["clean"]`` (and ``"noisy"``) give them instead."""
        n = int(mask.sum())
        options = options or {}
        shape = (n, self.source.crop, self.source.crop)
        if "clean" in options:
            clean = np.asarray(options["clean"], np.float32).reshape(shape)
        else:
            clean = self.source.clean(rng, n)
        if "noisy" in options:
            noisy = np.asarray(options["noisy"], np.float32).reshape(shape)
        else:
            noisy = self.source.noisy(clean, rng)
        self.clean[mask], self.current[mask] = clean, noisy
        self.start_psnr[mask] = psnr(noisy, clean)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """Apply the actions; return rewards, the per-pixel reward maps and the info."""
        before = (self.current - self.clean) ** 2
        scale = 255.0**2 / (self.clean.shape[1] * self.clean.shape[2])
        extra = {}
        if self.per_pixel:
            bank = filter_bank(self.current)
            every = before[:, None] - (bank.transpose(1, 0, 2, 3) - self.clean[:, None]) ** 2
            extra["action_reward_maps"] = every * scale
            self.current = apply_per_pixel(self.current, actions, bank)
        else:
            self.current = apply_per_image(self.current, actions)
        after = (self.current - self.clean) ** 2
        reward_map = (before - after) * scale
        rewards = reward_map.sum(axis=(1, 2), dtype=np.float64)
        return rewards, reward_map, self.info() | extra

    def info(self) -> dict[str, np.ndarray]:
        """``psnr`` and ``psnr_gain`` (since reset) of every crop."""
        now = psnr(self.current, self.clean)
        return {"psnr": now, "psnr_gain": now - self.start_psnr}

    def obs(self) -> np.ndarray:
        """The current crops as uint8, channel-first ``(n, 1, H, W)``."""
        return to_uint8(self.current)[:, None]


def _spaces(source: CropSource, per_pixel: bool) -> tuple[spaces.Box, spaces.Space]:
    c = source.crop
    observation = spaces.Box(0, 255, (1, c, c), np.uint8)
    if per_pixel:
        return observation, spaces.MultiDiscrete(np.full((c, c), len(ACTIONS)))
    return observation, spaces.Discrete(len(ACTIONS))


def _check_actions(actions: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    actions = np.asarray(actions)
    if (
        actions.shape != shape
        or not np.issubdtype(actions.dtype, np.integer)
        or actions.min() < 0
        or actions.max() >= len(ACTIONS)
    ):
        raise ValueError(
            f"actions must be integers in 0..{len(ACTIONS) - 1} of shape {shape}, "
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
    ):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.source = CropSource(images, crop, sigma)
        self.observation_space, self.action_space = _spaces(self.source, self.per_pixel)
        self.state = DenoiseState(self.source, 1, self.per_pixel)
        self.render_mode = render_mode

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """A new noisy crop (or ``options["clean"]``, ``options["noisy"]``: 2-D images)."""
        super().reset(seed=seed)
        self.state.reset(self.np_random, np.ones(1, bool), options)
        return self.state.obs()[0], self._info(self.state.info())

    def step(self, action):
        """Apply the filter(s); reward = (MSE before − MSE after) × 255²."""
        shape = () if not self.per_pixel else self.action_space.shape
        actions = _check_actions(action, shape)[None]
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
    `Box(0, 255, (1, crop, crop), uint8)`: the current crop, channel-first.

    ## Episode End
    Never terminates; truncated after `max_episode_steps` = T (registered: 5). Change it with
    `gym.make(id, max_episode_steps=T)`.

    ## Information
    `psnr`: PSNR of the current crop against the clean one (dB, data range 1); `psnr_gain`:
    its rise since reset.

    ## Arguments
    `images`: `"train"` (default), `"test"` (the bundled splits, see `envs.denoise`), a folder of
    images, or a sequence of 2-D arrays; `crop` (default 64, at least 36); `sigma`: the noise
    standard deviation in grey levels of 255 (default 25); `render_mode` (`"rgb_array"`).
    `reset(options={"clean": image, "noisy": image})` starts from given crops (in [0, 1]).
"""


class ImageDenoiseEnv(_DenoiseEnv):
    """Denoise a crop by choosing one filter per step for the whole crop.

    ## Description
    A random crop of a clean grayscale image gets Gaussian noise of `sigma` grey levels
    (clipped to [0, 1]); each step applies one of PixelRL's 9 filters (`envs.denoise.ACTIONS`).

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
    `MultiDiscrete` of shape `(crop, crop)`, 9 values each (the filters of `ImageDenoiseEnv`).

    ## Rewards
    `(MSE_before − MSE_after) × 255²`, the sum of the per-pixel reward map
    `info["reward_map"]` (`(crop, crop)` float32): each pixel's drop of its squared error, in
    grey levels², divided by the number of pixels. `info["action_reward_maps"]`
    (`(9, crop, crop)`) holds the reward map every action would have given at every pixel (the
    taken action's is `reward_map`): the per-pixel DQN can learn from all of them.
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
    ):
        if render_mode is not None:
            raise ValueError(f"{type(self).__name__} does not render")
        self.source = CropSource(images, crop, sigma)
        super().__init__(
            num_envs, *_spaces(self.source, self.per_pixel), max_episode_steps, autoreset_mode
        )
        self.state = DenoiseState(self.source, self.num_envs, self.per_pixel)
        self._options: dict | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset (see ``NativeVectorEnv.reset``), from given crops if options say so.

        ``options["clean"]`` (and ``options["noisy"]``): crops ``(k, H, W)`` in [0, 1] for the
        ``k`` sub-environments reset.
        """
        self._options = {k: v for k, v in (options or {}).items() if k in ("clean", "noisy")}
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
        rewards, reward_map, info = self.state.step(_check_actions(actions, shape))
        if self.per_pixel:
            info["reward_map"] = reward_map
        return self.state.obs(), rewards, np.zeros(self.num_envs, bool), info


class ImageDenoiseVectorEnv(_DenoiseVectorEnv):
    """``num_envs`` crops of :class:`ImageDenoiseEnv`, stepped together in numpy."""


class PixelDenoiseVectorEnv(_DenoiseVectorEnv):
    """``num_envs`` crops of :class:`PixelDenoiseEnv`, stepped together in numpy."""

    per_pixel = True
