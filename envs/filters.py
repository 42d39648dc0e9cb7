"""The denoising actions: PixelRL's nine filters (Furuta et al. 2019) over batches of images.

The actions (:data:`ACTIONS`; scipy.ndimage and skimage filters, borders mirrored): 0 nothing,
1 −1/255, 2 +1/255, 3 Gaussian σ=0.5 and 4 σ=1.5 (5×5 kernels), 5 bilateral with colour σ 0.1
and 6 colour σ 1.0 (5×5 window, spatial σ 5), 7 median 5×5, 8 box 5×5. Results are clipped to
[0, 1]. :func:`filter_bank` computes all of them at once, so a per-pixel step is one gather.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

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
