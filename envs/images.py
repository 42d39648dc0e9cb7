"""Images for denoising: scikit-image's bundled pictures or the user's, noisy crops, PSNR.

The images themselves (the bundled pictures' train/test split, a user's folder, grey
conversion) come from :mod:`common.images`, which the supervised image-to-image experiments
share; their names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from common.images import (  # noqa: F401  (re-exported: the env's public names)
    IMAGE_SUFFIXES,
    SPLITS,
    TEST_IMAGES,
    TRAIN_IMAGES,
    bundled_image,
    fixed_crops,
    load_folder,
    load_images,
    random_crops,
    to_gray,
)

MIN_CROP = 36
"""The smallest crop side: Stable-Baselines3's CnnPolicy needs 36×36 images."""


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
        return random_crops(self.images, n, self.crop, rng)

    def noisy(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``clean`` plus N(0, (σ/255)²) noise, clipped to [0, 1]."""
        noise = rng.normal(0.0, self.sigma / 255.0, clean.shape).astype(np.float32)
        return np.clip(clean + noise, 0.0, 1.0)


def psnr(images: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """PSNR in dB (data range 1) of each image of a batch: 10·log10(1 / MSE) over its pixels."""
    mse = np.mean((images.astype(np.float64) - clean) ** 2, axis=(-2, -1))
    return 10.0 * np.log10(1.0 / np.maximum(mse, 1e-12))


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] as rounded uint8 grey levels."""
    return np.rint(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)
