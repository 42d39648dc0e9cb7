"""The image-restoration tasks of the per-pixel environments: denoise, inpaint, upres.

A task says how a clean crop is degraded at reset, which actions a pixel can take and what each
makes of the current image, and what the agent observes. The reward is the same for all: the drop
of the squared error against the clean crop (:mod:`envs.denoise`).

- ``denoise``: Gaussian noise of ``sigma`` grey levels; PixelRL's nine filters
  (:data:`envs.filters.ACTIONS`). Observation ``(1, H, W)``: the image.
- ``inpaint``: a square hole, the course's centre mask (:func:`centre_mask`: side
  ``scale``·2·crop around the centre, ``scale`` = 0.25: half the side, a quarter of the pixels)
  or one of that size at a random place (``mask="random"``); the hole starts black
  (``image · mask``, as the course makes it). Every pixel is *given* (outside the hole, never
  changed by any action), *filled* (a hole pixel that a filling action reached) or *empty*.
  Actions (:data:`INPAINT_ACTIONS`), at hole pixels only:

  0. ``keep``;
  1. ``propagate``: the mean of the given or filled 4-neighbours (kept where there are none);
     the pixel becomes filled;
  2. ``fill-wide``: the Gaussian-weighted mean (σ = 6 pixels, reach 18) of the given and filled
     pixels (normalized convolution); the pixel becomes filled;
  3. ``diffuse``: the mean of all 4 neighbours, one step of the heat equation (x + Δx/4);
  4. ``median-3``: the median of the 3×3 neighbourhood.

  Observation ``(2, H, W)``: the image, and the pixel states as grey levels (0 empty, 128 filled,
  255 given), so that what every action does is a function of the observation.
- ``upres``: the crop is reduced ``factor`` times by averaging ``factor × factor`` blocks and
  brought back to full size by repeating each pixel (nearest neighbour), as the course up-sizes.
  Actions (:data:`UPRES_ACTIONS`), from the current image: 0 ``keep``; 1 ``bilinear`` and
  2 ``bicubic``: the image's block means (the low-resolution image) interpolated back to full
  size (linear and cubic splines, ``scipy.ndimage.zoom``); 3 ``unsharp``: ``x + (x − G₁·x)``
  (Gaussian σ = 1, 5×5); 4 ``smooth``: Gaussian σ = 0.5 (5×5). Each result is then shifted,
  block by block, to the image's block means (back-projection), so the low-resolution image
  never changes. Observation ``(1, H, W)``.

Borders are mirrored (``scipy.ndimage``'s ``mirror``), results clipped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.masks import centre_masks
from envs.filters import ACTIONS as DENOISE_ACTIONS
from envs.filters import apply_per_image, filter_bank

TASKS = ("denoise", "inpaint", "upres")
"""The tasks, ``task=`` of the per-pixel environments."""
MASKS = ("centre", "random")
"""Where the in-painting hole is: the course's centre square, or a square at a random place."""
INPAINT_ACTIONS = ("keep", "propagate", "fill-wide", "diffuse", "median-3")
UPRES_ACTIONS = ("keep", "bilinear", "bicubic", "unsharp", "smooth")

EMPTY, FILLED, GIVEN = 0, 1, 2
"""The in-painting pixel states."""
STATE_GREY = np.array([0, 128, 255], np.uint8)
"""The grey level of each pixel state in the in-painting observation's second channel."""
FILL_SIGMA = 6.0
"""σ (pixels) of ``fill-wide``'s Gaussian weights; they reach 3σ."""


def centre_mask(size: int, scale: float = 0.25) -> np.ndarray:
    """The course's in-painting mask of a ``size × size`` image: 1 given, 0 in the hole.

    ``mask[low:upper, low:upper] = 0`` (:func:`common.masks.centre_masks`): with ``scale`` =
    0.25 the hole is half the side (a quarter of the pixels).
    """
    return centre_masks((1, size, size), scale)[0]


def random_masks(size: int, scale: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` masks with a hole of the centre mask's size at a uniformly random place."""
    side = int(size * (1 - scale)) - int(size * scale)
    masks = np.ones((n, size, size), np.float32)
    for mask, (y, x) in zip(masks, rng.integers(size - side + 1, size=(n, 2)), strict=True):
        mask[y : y + side, x : x + side] = 0
    return masks


def _neighbours(images: np.ndarray) -> np.ndarray:
    """The 4 neighbours of every pixel, ``(4, n, H, W)`` (up, down, left, right; mirrored)."""
    p = np.pad(images, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    return np.stack([p[:, :-2, 1:-1], p[:, 2:, 1:-1], p[:, 1:-1, :-2], p[:, 1:-1, 2:]])


def inpaint_bank(images: np.ndarray, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What every in-painting action makes of a batch, and where each fills.

    ``images`` ``(n, H, W)`` in [0, 1], ``states`` ``(n, H, W)`` (:data:`EMPTY`, :data:`FILLED`,
    :data:`GIVEN`). Returns the images ``(A, n, H, W)`` (given pixels unchanged by every action)
    and the pixels each action fills ``(A, n, H, W)`` bool.
    """
    from scipy import ndimage

    images = np.asarray(images, np.float32)
    known = (states != EMPTY).astype(np.float32)
    near = _neighbours(images)
    near_known = _neighbours(known)
    count = near_known.sum(axis=0)
    propagated = np.where(count > 0, (near * near_known).sum(axis=0) / np.maximum(count, 1), images)

    def blur(x):
        return ndimage.gaussian_filter(x, (0, FILL_SIGMA, FILL_SIGMA), mode="mirror", truncate=3.0)

    weight = blur(known)
    reached = weight > 1e-6
    wide = np.where(reached, blur(images * known) / np.maximum(weight, 1e-6), images)
    diffused = near.mean(axis=0)
    median = ndimage.median_filter(images, size=(1, 3, 3), mode="mirror")
    bank = np.clip(np.stack([images, propagated, wide, diffused, median]), 0.0, 1.0)
    given = states == GIVEN
    bank = np.where(given[None], images[None], bank).astype(np.float32)
    none = np.zeros_like(given)
    fills = np.stack([none, (count > 0) & ~given, reached & ~given, none, none])
    return bank, fills


def block_means(images: np.ndarray, factor: int) -> np.ndarray:
    """``(n, H, W)`` → ``(n, H/factor, W/factor)``: the mean of each ``factor × factor`` block."""
    n, height, width = images.shape
    blocks = images.reshape(n, height // factor, factor, width // factor, factor)
    return blocks.mean(axis=(2, 4), dtype=np.float64).astype(np.float32)


def nearest_up(images: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel repeated ``factor × factor`` times (nearest-neighbour up-sizing)."""
    return np.repeat(np.repeat(images, factor, axis=-2), factor, axis=-1)


def interpolate(low: np.ndarray, factor: int, order: int) -> np.ndarray:
    """Low-resolution images ``(n, h, w)`` up-sized ``factor`` times by splines of ``order``.

    ``scipy.ndimage.zoom`` with pixel centres aligned (``grid_mode``), edges repeated; 1 is
    bilinear, 3 bicubic (cubic B-spline). Clipped to [0, 1].
    """
    from scipy import ndimage

    out = [
        ndimage.zoom(image, factor, order=order, mode="nearest", grid_mode=True) for image in low
    ]
    return np.clip(np.stack(out), 0.0, 1.0).astype(np.float32)


def back_project(images: np.ndarray, low: np.ndarray, factor: int) -> np.ndarray:
    """``images`` corrected to have the block means ``low``: each block shifted by its difference.

    Clipped to [0, 1] (so exact where clipping does not bite).
    """
    shifted = images + nearest_up(low - block_means(images, factor), factor)
    return np.clip(shifted, 0.0, 1.0).astype(np.float32)


def upres_bank(images: np.ndarray, factor: int) -> np.ndarray:
    """What every up-resing action makes of a batch ``(n, H, W)``: ``(A, n, H, W)``.

    Every result is back-projected (:func:`back_project`) onto the image's block means, so the
    low-resolution image stays what it was at reset and an action taken again changes nothing
    more (``bilinear`` and ``bicubic`` interpolate the same block means).
    """
    from scipy import ndimage

    images = np.asarray(images, np.float32)
    low = block_means(images, factor)

    def gaussian(x, sigma):
        return ndimage.gaussian_filter(x, (0, sigma, sigma), mode="mirror", radius=(0, 2, 2))

    sharp = 2.0 * images - gaussian(images, 1.0)
    bank = [interpolate(low, factor, 1), interpolate(low, factor, 3), sharp]
    bank.append(gaussian(images, 0.5))
    return np.stack([images, *(back_project(x, low, factor) for x in bank)])


@dataclass(frozen=True)
class Task:
    """A restoration task: its degradation, actions and observation (see the module docstring).

    ``sigma``: denoise's noise (grey levels of 255); ``mask``, ``scale``: inpaint's hole;
    ``factor``: upres's reduction.
    """

    name: str = "denoise"
    sigma: float = 25.0
    mask: str = "centre"
    scale: float = 0.25
    factor: int = 2

    def __post_init__(self):
        if self.name not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.name!r}")
        if self.mask not in MASKS:
            raise ValueError(f"mask must be one of {', '.join(MASKS)}, got {self.mask!r}")
        if not 0 < self.scale < 0.5:
            raise ValueError(f"scale must be in (0, 0.5), got {self.scale!r}")
        if isinstance(self.factor, bool) or int(self.factor) != self.factor or self.factor < 2:
            raise ValueError(f"factor must be an integer >= 2, got {self.factor!r}")

    @property
    def actions(self) -> tuple[str, ...]:
        """The names of the actions, in action-index order."""
        return {"denoise": DENOISE_ACTIONS, "inpaint": INPAINT_ACTIONS}.get(
            self.name, UPRES_ACTIONS
        )

    @property
    def channels(self) -> int:
        """Channels of the observation: 2 for inpaint (image, pixel states), else 1."""
        return 2 if self.name == "inpaint" else 1

    def check_crop(self, crop: int) -> None:
        """Refuse a crop that upres cannot reduce or inpaint leaves no hole in."""
        if self.name == "upres" and crop % self.factor:
            raise ValueError(f"upres needs a crop divisible by factor {self.factor}, got {crop}")
        if self.name == "inpaint" and int(crop * (1 - self.scale)) <= int(crop * self.scale):
            raise ValueError(f"scale {self.scale} leaves no hole in a crop of {crop}")

    def masks(self, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
        """In-painting masks ``(n, size, size)`` (1 given): the centre one or random ones."""
        if self.mask == "centre":
            return np.broadcast_to(centre_mask(size, self.scale), (n, size, size)).copy()
        return random_masks(size, self.scale, n, rng)

    def degrade(self, clean: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
        """The start images of inpaint (``clean · masks``) and upres (nearest up-sized)."""
        if self.name == "inpaint":
            return (clean * masks).astype(np.float32)
        return nearest_up(block_means(clean, self.factor), self.factor)

    def start_states(self, masks: np.ndarray) -> np.ndarray:
        """The in-painting pixel states at reset: given where the mask is 1, else empty."""
        return np.where(masks > 0.5, GIVEN, EMPTY).astype(np.uint8)

    def bank(self, images: np.ndarray, states: np.ndarray | None = None) -> np.ndarray:
        """Every action applied to a batch ``(n, H, W)``: ``(A, n, H, W)`` float32."""
        if self.name == "denoise":
            return filter_bank(images)
        if self.name == "inpaint":
            return inpaint_bank(images, states)[0]
        return upres_bank(images, self.factor)

    def step(
        self, images: np.ndarray, states: np.ndarray | None, actions: np.ndarray, per_pixel: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Apply actions (per pixel ``(n, H, W)`` or per image ``(n,)``).

        Returns the new images, the new in-painting states (None for the other tasks) and the
        bank of every action's result where it was computed (None for denoise per image).
        """
        if self.name == "denoise" and not per_pixel:
            return apply_per_image(images, actions), None, None
        fills = None
        if self.name == "inpaint":
            bank, fills = inpaint_bank(images, states)
        else:
            bank = self.bank(images)
        chosen = actions if per_pixel else np.broadcast_to(actions[:, None, None], images.shape)
        index = chosen[None].astype(np.intp)
        new = np.take_along_axis(bank, index, axis=0)[0]
        if fills is not None:
            filled = np.take_along_axis(fills, index, axis=0)[0]
            states = np.where(filled, FILLED, states).astype(np.uint8)
        return new, states, bank

    def observe(self, images: np.ndarray, states: np.ndarray | None) -> np.ndarray:
        """The observation of a batch, uint8 ``(n, channels, H, W)``."""
        grey = np.rint(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)[:, None]
        if self.name != "inpaint":
            return grey
        return np.concatenate([grey, STATE_GREY[states][:, None]], axis=1)

    def lookahead(self, observations: np.ndarray) -> np.ndarray:
        """What every action makes of observed images, as channels ``(n, A, H, W)``.

        ``observations``: the observations in [0, 1] (grey levels / 255), ``(n, channels, H, W)``
        or, with one channel, ``(n, H, W)``. The per-pixel DQN's lookahead.
        """
        observations = np.asarray(observations, np.float32)
        if observations.ndim == 3:
            observations = observations[:, None]
        states = None
        if self.name == "inpaint":
            grey = np.rint(observations[:, 1] * 255.0)
            states = np.select([grey > 191, grey > 63], [GIVEN, FILLED], EMPTY).astype(np.uint8)
        return self.bank(observations[:, 0], states).transpose(1, 0, 2, 3)
