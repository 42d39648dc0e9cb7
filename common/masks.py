"""The course's in-painting mask: a square hole in the middle of the image.

The course writes it ``mask[:, low:upper, low:upper] = 0`` with ``scale = 0.25``; here
``low = int(scale · side)`` and ``upper = int((1 − scale) · side)`` per axis, so the hole's side is
half the image's (a quarter of its pixels). Both the in-painting environment
(``envs.restore_tasks``) and the supervised in-painting experiment (``supervised.image_tasks``)
use this one definition.
"""

from __future__ import annotations

import numpy as np

SCALE = 0.25
"""The course's ``scale``: the hole runs from ``scale`` to ``1 − scale`` of each side."""


def centre_masks(shape: tuple[int, int, int], scale: float = SCALE) -> np.ndarray:
    """Masks ``(n, H, W)``: 1 where the pixel is given, 0 in the course's centre hole.

    Raises:
        ValueError: ``scale`` outside (0, 0.5) (no hole).
    """
    n, height, width = shape
    if not 0 < scale < 0.5:
        raise ValueError(f"scale must be in (0, 0.5), got {scale!r}")
    mask = np.ones((n, height, width), dtype=np.float32)
    rows = slice(int(scale * height), int((1 - scale) * height))
    cols = slice(int(scale * width), int((1 - scale) * width))
    mask[:, rows, cols] = 0
    return mask
