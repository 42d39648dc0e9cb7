"""The classical denoisers the agents are measured against.

Fixed filters, the best fixed sequence of filters, and scikit-image's denoisers with their main
parameter tuned on training crops.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from envs.filters import ACTIONS, apply_filter, filter_bank
from rlcourse.denoise.config import ReportConfig
from rlcourse.denoise.data import mean_psnr


def run_sequence(noisy: np.ndarray, sequence: tuple[int, ...]) -> np.ndarray:
    """The actions of ``sequence`` applied in turn to every crop."""
    images = noisy
    for action in sequence:
        images = apply_filter(images, action)
    return images


def best_sequence(
    noisy: np.ndarray, clean: np.ndarray, steps: int, beam: int
) -> tuple[tuple[int, ...], float]:
    """The fixed action sequence of length ``steps`` of highest mean PSNR (beam search)."""
    frontier = [((), noisy)]
    for _ in range(steps):
        scored = []
        for sequence, images in frontier:
            for action, filtered in enumerate(filter_bank(images)):
                scored.append((mean_psnr(filtered, clean), sequence + (action,), filtered))
        scored.sort(key=lambda item: -item[0])
        frontier = [(sequence, images) for _, sequence, images in scored[:beam]]
    best = frontier[0][0]
    return best, mean_psnr(run_sequence(noisy, best), clean)


def _skimage_denoisers() -> dict[str, tuple[Callable, tuple[float, ...], str]]:
    """Name → (denoise(image, parameter, sigma), parameter grid, what the parameter is)."""
    from skimage.restoration import (
        denoise_bilateral,
        denoise_nl_means,
        denoise_tv_chambolle,
        denoise_wavelet,
        estimate_sigma,
    )

    def nl_means(image, k, sigma):
        estimated = float(estimate_sigma(image))
        return denoise_nl_means(
            image, h=k * estimated, sigma=estimated, patch_size=5, patch_distance=6, fast_mode=True
        )

    def wavelet(image, k, sigma):
        estimated = float(estimate_sigma(image))
        return denoise_wavelet(
            image, sigma=k * estimated, method="BayesShrink", mode="soft", rescale_sigma=True
        )

    def tv(image, weight, sigma):
        return denoise_tv_chambolle(image, weight=weight)

    def bilateral(image, sigma_color, sigma):
        return denoise_bilateral(image, win_size=7, sigma_color=sigma_color, sigma_spatial=2.0)

    return {
        "tv-chambolle": (tv, (0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.17, 0.22, 0.3), "weight"),
        "wavelet": (wavelet, (0.5, 0.75, 1.0, 1.25, 1.5, 2.0), "sigma / estimate_sigma"),
        "nl-means": (nl_means, (0.5, 0.65, 0.8, 0.95, 1.1, 1.3), "h / estimate_sigma"),
        "bilateral": (bilateral, (0.03, 0.05, 0.08, 0.12, 0.17, 0.25, 0.35), "sigma_color"),
    }


def apply_each(fn: Callable, images: np.ndarray, parameter: float, sigma: float) -> np.ndarray:
    """``fn(image, parameter, sigma)`` on every image of a batch, clipped to [0, 1]."""
    out = np.stack([fn(image.astype(np.float64), parameter, sigma) for image in images])
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def classical(
    config: ReportConfig, clean: np.ndarray, noisy: np.ndarray, tune: tuple[np.ndarray, ...]
) -> tuple[dict[str, np.ndarray], dict]:
    """Outputs of the filters, the best sequence and the tuned skimage denoisers; their settings."""
    outputs, settings = {}, {}
    for action, name in enumerate(ACTIONS):
        outputs[f"filter:{name}"] = run_sequence(noisy, (action,) * config.steps)
    tune_noisy, tune_clean = tune
    sequence, train_psnr = best_sequence(tune_noisy, tune_clean, config.steps, config.beam)
    outputs["sequence:best"] = run_sequence(noisy, sequence)
    settings["sequence:best"] = {
        "actions": [ACTIONS[a] for a in sequence],
        "train_psnr": round(train_psnr, 3),
    }
    for name, (fn, grid, meaning) in _skimage_denoisers().items():
        scores = [mean_psnr(apply_each(fn, tune_noisy, p, config.sigma), tune_clean) for p in grid]
        best = grid[int(np.argmax(scores))]
        outputs[f"skimage:{name}"] = apply_each(fn, noisy, best, config.sigma)
        settings[f"skimage:{name}"] = {meaning: best, "train_psnr": round(max(scores), 3)}
    return outputs, settings
