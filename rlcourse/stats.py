"""Means with 95% confidence intervals across independent runs (Student's t, from scipy.stats)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


def mean_ci(values: np.ndarray, confidence: float = CONFIDENCE):
    """Mean over axis 0 (the runs) with a two-sided t confidence interval.

    Returns:
        ``(mean, low, high, n)``; with one run, or no spread, the interval is the mean itself.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    mean = values.mean(axis=0)
    if n < 2:
        return mean, mean.copy(), mean.copy(), n
    half = stats.sem(values, axis=0) * stats.t.ppf(0.5 + confidence / 2, df=n - 1)
    return mean, mean - half, mean + half, n


def final_window(n_points: int, fraction: float = 0.1) -> int:
    """How many trailing points make the final ``fraction`` of a curve (at least one)."""
    return max(1, math.ceil(fraction * n_points))


def final_scores(values: np.ndarray) -> np.ndarray:
    """Each run's mean over the final 10% of x (:func:`final_window`), from ``(runs, x)``."""
    values = np.asarray(values, dtype=np.float64)
    return values[:, -final_window(values.shape[1]) :].mean(axis=1)
