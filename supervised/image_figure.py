"""The image-to-image experiments' figure: held-out examples, input / U-Net / target / baseline."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from supervised import image_tasks as tasks

ROWS = 3
"""Examples shown, each from a different held-out image where there are enough."""
TITLES = {
    "upres": "Up-sizing ×{factor}",
    "inpaint": "In-painting ({mask} hole)",
    "colorize": "Colorization from lightness",
    "interpolate": "Frame interpolation: frame 2 from frames 1 and 3",
}


def input_columns(task: str, batch, factor: int) -> dict[str, np.ndarray]:
    """What the U-Net reads, as images to look at (one or two columns)."""
    if task == "upres":
        low = tasks.downsize(batch.clean, factor)
        return {f"input (1/{factor} size)": tasks.upsize(low, factor, 0)}
    if task == "inpaint":
        return {"input (hole)": batch.clean * batch.masks}
    if task == "colorize":
        return {"input (lightness)": np.repeat(batch.x[:, 0, ..., None], 3, axis=-1)}
    return {"frame 1": batch.x[:, 1], "frame 3": batch.x[:, 2]}


def example_rows(n: int, rows: int = ROWS) -> list[int]:
    """Indices of ``rows`` examples spread over ``n`` (held-out crops come image by image)."""
    return sorted({int(i) for i in np.linspace(0, n - 1, min(rows, n))})


def examples_figure(
    task: str,
    batch,
    outputs: dict[str, np.ndarray],
    target: np.ndarray,
    metrics: dict[str, Any],
    path: str | os.PathLike,
    factor: int = 2,
) -> Path:
    """Save the held-out examples: input(s), U-Net, target, best baseline, with PSNRs."""
    from matplotlib.figure import Figure

    from common.figures import save_figure

    best = metrics["best_baseline"]
    hole = 1 - batch.masks if task == "inpaint" else None
    columns = {
        **input_columns(task, batch, factor),
        "U-Net": outputs["unet"],
        "target": target,
        f"best baseline: {best}": outputs[best],
    }
    scored = ("U-Net", f"best baseline: {best}")
    rows = example_rows(len(target))
    fig = Figure(figsize=(2.2 * len(columns), 2.3 * len(rows) + 0.5), layout="constrained")
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    for r, index in enumerate(rows):
        for c, (name, images) in enumerate(columns.items()):
            ax = axes[r, c]
            image = np.clip(images[index], 0, 1)
            ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            label = name
            if name in scored:
                region = None if hole is None else hole[index : index + 1]
                value = tasks.psnr(images[index : index + 1], target[index : index + 1], region)
                label += f"\n{value[0]:.1f} dB" + (" in hole" if hole is not None else "")
            ax.set_title(label if r == 0 or name in scored else "", fontsize=8)
    key = "psnr_hole" if task == "inpaint" else "psnr"
    fig.suptitle(
        TITLES[task].format(factor=factor, mask=metrics.get("mask", ""))
        + f" (held out; mean U-Net {metrics[f'unet_{key}']:.2f} dB, "
        f"{best} {metrics[f'{best}_{key}']:.2f} dB)",
        fontsize=9,
    )
    return save_figure(fig, path, dpi=110)
