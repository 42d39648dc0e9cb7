"""The report's figure: clean, noisy and denoised crops, and the per-pixel agent's actions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from common.atomic import atomic_path
from envs.filters import ACTIONS
from envs.images import psnr
from rlcourse.denoise.config import ReportConfig


def plot_report(
    path: Path,
    config: ReportConfig,
    clean: np.ndarray,
    outputs: dict[str, np.ndarray],
    actions: np.ndarray,
    names: list[str],
    action_names: Sequence[str] = ACTIONS,
    title: str | None = None,
) -> Path:
    """One row per test image: the images, then the per-pixel agent's action map per step.

    ``config`` gives the steps (and the title's σ unless ``title``); ``action_names`` the
    legend of the action maps.
    """
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    heading = title or f"Denoising held-out crops, σ = {config.sigma:g}"
    rows = [names.index(name) for name in dict.fromkeys(names)]  # the first crop of each image
    columns = 1 + len(outputs) + config.steps
    fig = Figure(figsize=(1.55 * columns, 1.7 * len(rows) + 0.9), layout="constrained")
    grid = fig.subplots(len(rows), columns, squeeze=False)
    colors = ListedColormap(colormaps["tab10"].colors[: len(action_names)])
    labels = {"pixel-dqn": "pixel DQN (RL)", "dncnn": "DnCNN", "unet": "U-Net"}
    for r, i in enumerate(rows):
        panels = [("clean", clean[i])] + [(m, images[i]) for m, images in outputs.items()]
        for c, (method, image) in enumerate(panels):
            ax = grid[r, c]
            ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            if method == "clean":
                title = f"{names[i]}\nclean"
            else:
                name = labels.get(method, method.replace(":", ":\n")) + "\n" if r == 0 else ""
                title = f"{name}{psnr(image, clean[i]):.2f} dB"
            ax.set_title(title, fontsize=7)
        for t in range(config.steps):
            ax = grid[r, len(panels) + t]
            ax.imshow(actions[t, i], cmap=colors, vmin=-0.5, vmax=len(action_names) - 0.5)
            ax.set_title(f"actions, step {t + 1}", fontsize=7)
    for ax in grid.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Patch(color=colors(a), label=name) for a, name in enumerate(action_names)]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(action_names), fontsize=7)
    fig.suptitle(f"{heading} (PSNR of each crop)", fontsize=9)
    with atomic_path(path) as temporary:
        fig.savefig(temporary, dpi=120)
    return path
