"""Figures the supervised models share: image grids, mosaics, confusion matrices (PNG, Agg).

Every figure of ``supervised`` is written by :func:`common.figures.save_figure`, atomically.
``supervised.plots.save_figure`` and ``figure_path`` are deprecated aliases of
:mod:`common.figures`, kept for one release.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from common.deprecation import moved
from common.figures import save_figure as _save_figure

__getattr__ = moved("supervised.plots", "common.figures", {"figure_path", "save_figure"})


def image_grid(
    images: np.ndarray,
    path: str | os.PathLike,
    title: str = "",
    columns: int = 10,
    row_labels: Sequence[str] | None = None,
) -> Path:
    """Grayscale images ``(n, 1, h, w)`` or ``(n, h, w)`` in [0, 1], ``columns`` per row."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4:
        images = images[:, 0]
    n = len(images)
    rows = max(1, -(-n // columns))
    fig = Figure(figsize=(columns * 0.8, rows * 0.8 + (0.4 if title else 0)), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if i < n:
            ax.imshow(np.clip(images[i], 0, 1), cmap="gray", vmin=0, vmax=1)
    if row_labels is not None:
        for r, label in enumerate(row_labels[:rows]):
            axes[r, 0].set_ylabel(label, fontsize="small")
    if title:
        fig.suptitle(title)
    return _save_figure(fig, path, dpi=100)


def plot_mosaic(
    images: np.ndarray, path: str | os.PathLike, title: str = "", columns: int = 10, gap: int = 2
) -> Path:
    """Images ``(n, 1, h, w)`` in [0, 1] tiled into one picture, ``columns`` per row.

    One ``imshow`` of the whole mosaic (grey ``gap`` pixels between tiles): much faster than
    :func:`image_grid`'s axes per image when there are many images.
    """
    images = np.clip(
        np.asarray(images, dtype=np.float32).reshape(len(images), *images.shape[-2:]), 0, 1
    )
    n, h, w = images.shape
    rows = max(1, -(-n // columns))
    tiles = np.full((rows * columns, h + gap, w + gap), 0.5, dtype=np.float32)  # grey gaps
    tiles[:n, :h, :w] = images
    mosaic = tiles.reshape(rows, columns, h + gap, w + gap).transpose(0, 2, 1, 3)
    mosaic = mosaic.reshape(rows * (h + gap), columns * (w + gap))[: -gap or None, : -gap or None]
    fig = Figure(figsize=(columns * 0.5, rows * 0.5 + (0.4 if title else 0)), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return _save_figure(fig, path, dpi=100)


def confusion_matrix_plot(
    matrix: np.ndarray, classes: Sequence[str], path: str | os.PathLike, title: str
) -> Path:
    """Counts of (true row, predicted column), annotated."""
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.set_title(title)
    high = matrix.max() / 2 if matrix.size else 0
    for (r, c), count in np.ndenumerate(matrix):
        ax.text(
            c,
            r,
            str(count),
            ha="center",
            va="center",
            fontsize="small",
            color="white" if count > high else "black",
        )
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _save_figure(fig, path, dpi=110)
