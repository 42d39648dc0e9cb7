"""The report's data: held-out evaluation crops of the test images, training crops, PSNR."""

from __future__ import annotations

import numpy as np

from envs.images import CropSource, check_settings, fixed_crops, load_images, psnr
from rlcourse.denoise.config import ReportConfig
from rlcourse.errors import UsageError


def noisy_pairs(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Seeded noisy versions of clean crops, as the envs make them."""
    rng = np.random.default_rng([seed, 7])
    noise = rng.normal(0.0, sigma / 255.0, clean.shape).astype(np.float32)
    return np.clip(clean + noise, 0.0, 1.0)


def evaluation_set(config: ReportConfig) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Clean and noisy crops of the test images, and the image each comes from."""
    images = load_images("test")
    try:
        check_settings(images, config.crop, config.sigma)
    except ValueError as err:
        raise UsageError(str(err)) from None
    clean, names = fixed_crops(images, config.crop, config.eval_per_image, config.seed)
    return clean, noisy_pairs(clean, config.sigma, config.seed + 1), names


def training_crops(config: ReportConfig, n: int, crop: int, salt: int) -> tuple[np.ndarray, ...]:
    """``n`` random noisy/clean crops of the training images (``salt`` tells uses apart)."""
    source = CropSource("train", crop, config.sigma)
    rng = np.random.default_rng([config.seed, salt])
    clean = source.clean(rng, n)
    return source.noisy(clean, rng), clean


def mean_psnr(images: np.ndarray, clean: np.ndarray) -> float:
    """Mean PSNR (dB) over a batch."""
    return float(psnr(images, clean).mean())
