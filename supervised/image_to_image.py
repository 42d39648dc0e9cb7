"""A U-Net trained on each image-to-image task, measured against the classical baselines.

``rlcourse supervised upres|inpaint|colorize|interpolate`` runs :func:`experiment` for one task
(:mod:`supervised.image_tasks` makes its pairs and baselines): it trains a
:class:`~supervised.unet.UNet` on random crops of the training images
(:func:`train_unet`), then measures it and every baseline on fixed crops of the held-out
images, which it never trains on. Images: scikit-image's bundled pictures split by image as
the denoise env splits them (:mod:`common.images`; colour ones only for colorization), or a
folder (``images=DIR``: its last quarter by file name held out, at least one image).

Files: ``examples.png`` (held-out crops: input, U-Net, target, best baseline), ``history.csv``
and ``history.png`` (losses per epoch). Metrics: ``<method>_psnr`` and ``<method>_ssim`` for
``unet`` and each baseline (mean over the held-out crops, dB and [0, 1]); ``best_baseline``;
``unet_gain_db`` (the U-Net's PSNR minus the best baseline's); in-painting measures PSNR
inside the hole (``<method>_psnr_hole``, what its gain is over), colorization the
colourfulness (Hasler & Süsstrunk) of each method and of the targets. Also the settings
(``task``, ``crop``, ``eval_crop``, ``epochs``, ``factor`` or ``mask``, ``train_crops``,
``held_out_crops``), ``parameters`` (the U-Net's), ``best_epoch`` (the one kept) and ``seconds``
(wall time of the whole experiment).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from supervised import image_tasks as tasks
from supervised.data import DataError
from supervised.train import (
    History,
    TrainConfig,
    count_parameters,
    fit,
    seed_torch,
    single_thread,
)
from supervised.unet import UNet


@dataclass(frozen=True)
class TaskConfig:
    """A task's network, data and training budget."""

    crop: int = 32
    """Side of the square crops trained on."""
    eval_crop: int = 48
    """Side of the held-out crops measured on (in-painting: ``crop``, its hole scales)."""
    train_crops: int = 4096
    """Random training crops (drawn once, before training)."""
    val_crops: int = 128
    """Random crops of the training images for validation (the best epoch is kept)."""
    eval_per_image: int = 8
    """Held-out crops per test image (fixed: the same for every seed)."""
    epochs: int = 5
    """Passes over the training crops (the default budget)."""
    batch_size: int = 16
    """Crops per gradient step."""
    lr: float = 2e-3
    """Adam's learning rate."""
    base: int = 16
    """The U-Net's feature maps at full size."""
    depth: int = 2
    """The U-Net's halvings."""
    block: str = "residual"
    """``conv`` or ``residual`` blocks."""
    residual_output: bool = True
    """Predict a correction of the input's first channels."""
    augment: bool = False
    """Train ``upres``/``inpaint`` on crops inverted, turned, mirrored (:func:`augmented`)."""


CONFIGS = {
    "upres": TaskConfig(),
    "inpaint": TaskConfig(crop=48, train_crops=2048, epochs=4, depth=3, augment=True),
    "colorize": TaskConfig(eval_crop=64, epochs=4, residual_output=False),
    "interpolate": TaskConfig(),
}
"""Each task's defaults (under 90 s on one CPU thread)."""
CHANNELS = {"upres": (1, 1), "inpaint": (2, 1), "colorize": (1, 2), "interpolate": (3, 1)}
"""(input, output) channels of each task's U-Net."""
EVAL_SEED = 12345
"""Seeds the held-out crops (and their masks, frames), the same for every training seed."""


@dataclass(frozen=True)
class Batch:
    """One set of examples of a task: the U-Net's inputs and targets, and the clean images."""

    x: np.ndarray
    """Inputs ``(n, C_in, H, W)``."""
    y: np.ndarray
    """Targets ``(n, C_out, H, W)``."""
    clean: np.ndarray
    """What the baselines read: crops ``(n, H, W[, 3])``, frame triples, or the masks' images."""
    masks: np.ndarray | None = None
    """In-painting: the masks ``(n, H, W)`` (0 in the hole)."""


def check_task(task: str, factor: int = 2, mask: str = "centre") -> None:
    """Refuse an unknown task, up-sizing factor or mask kind."""
    if task not in tasks.TASKS:
        raise ValueError(f"task must be one of {', '.join(tasks.TASKS)}, got {task!r}")
    if factor not in tasks.FACTORS:
        raise ValueError(f"factor must be one of {tasks.FACTORS}, got {factor!r}")
    if mask not in tasks.MASKS:
        raise ValueError(f"mask must be one of {', '.join(tasks.MASKS)}, got {mask!r}")


def make_batch(
    task: str,
    images: dict[str, np.ndarray],
    n: int,
    crop: int,
    rng: np.random.Generator,
    factor: int = 2,
    mask: str = "centre",
    augment: bool = False,
) -> Batch:
    """``n`` random examples of ``task`` from crops of ``images`` (colour ones for colorize).

    ``augment``: the crops of ``upres`` and ``inpaint`` go through :func:`augmented` first.
    """
    from common.images import random_crops

    if task == "interpolate":
        frames = tasks.moving_frames(images, n, crop, rng)
        return Batch(*tasks.interpolate_pairs(frames), clean=frames)
    clean = random_crops(images, n, crop, rng)
    if augment and task in ("upres", "inpaint"):
        clean = augmented(clean, rng)
    if task == "upres":
        return Batch(*tasks.upres_pairs(clean, factor), clean=clean)
    if task == "inpaint":
        masks = tasks.make_masks(mask, clean.shape, rng)
        return Batch(*tasks.inpaint_pairs(clean, masks), clean=clean, masks=masks)
    return Batch(*tasks.colorize_pairs(clean), clean=clean)


def augmented(crops: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grey crops ``(n, H, W)`` inverted, turned and mirrored at random.

    Each is inverted (1 − x) with probability 1/2, turned by a random multiple of 90° and
    mirrored with probability 1/2.
    """
    out = np.where(rng.random(len(crops))[:, None, None] < 0.5, 1.0 - crops, crops)
    turns, mirrors = rng.integers(4, size=len(crops)), rng.random(len(crops)) < 0.5
    out = np.stack(
        [
            np.rot90(c, k)[:, ::-1] if m else np.rot90(c, k)
            for c, k, m in zip(out, turns, mirrors, strict=True)
        ]
    )
    return np.ascontiguousarray(out, dtype=np.float32)


def split_images(
    task: str, images: str | os.PathLike | None = None, config: TaskConfig | None = None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The training and the held-out images of ``task``.

    ``None``: the bundled pictures' split (:mod:`common.images`), colour ones for colorize; a
    folder: its images by file name, the last quarter (at least one) held out.

    Raises:
        DataError: an unreadable folder or file, one over Pillow's pixel limit, fewer than two
            images, an image smaller than the task's crop, or (colorize) no colour image to
            train on.
    """
    from common.images import SPLITS, bundled_image, is_colour, load_folder, to_gray, to_rgb

    colour = task == "colorize"
    if images is None:
        split = [
            {name: bundled_image(name, colour) for name in SPLITS[part]}
            for part in ("train", "test")
        ]
        if colour:
            split = [{k: v for k, v in part.items() if is_colour(v)} for part in split]
        return split[0], split[1]
    try:
        loaded = load_folder(images, to_rgb if colour else to_gray)
    except ValueError as err:
        raise DataError(str(err)) from None
    if len(loaded) < 2:
        raise DataError(
            f"image folder {images} holds {len(loaded)} image; the image-to-image experiments "
            "need at least 2 (one to train on, one held out)"
        )
    config = config or CONFIGS[task]
    crop = max(config.crop, config.eval_crop)
    margin = 2 * (int(np.ceil(tasks.MAX_SHIFT)) + 2) if task == "interpolate" else 0
    for name, image in loaded.items():
        if min(image.shape[:2]) < crop + margin:
            raise DataError(
                f"image {name} is {image.shape[0]}x{image.shape[1]}, too small for {task}'s "
                f"{crop}x{crop} crops" + (f" (and {margin} pixels of margin)" if margin else "")
            )
    names = sorted(loaded)
    held = max(1, len(names) // 4)
    train = {name: loaded[name] for name in names[:-held]}
    if colour and not any(is_colour(image) for image in train.values()):
        raise DataError(f"colorize needs colour images to train on; those in {images} are grey")
    return train, {name: loaded[name] for name in names[-held:]}


def unet_output(task: str, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The U-Net's output for ``task``; in-painting keeps the known pixels as they are."""
    output = model(x)
    if task != "inpaint":
        return output
    keep = x[:, 1:2]
    return x[:, :1] * keep + output * (1 - keep)


def task_loss(task: str):
    """The mean squared error of :func:`unet_output` (a :func:`fit` loss)."""

    def loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(unet_output(task, model, x), y)

    return loss


def train_unet(
    task: str,
    images: dict[str, np.ndarray] | str | os.PathLike | None = None,
    *,
    epochs: int | None = None,
    seed: int = 0,
    factor: int = 2,
    mask: str = "centre",
    config: TaskConfig | None = None,
    progress: bool = False,
) -> tuple[UNet, History]:
    """Train a U-Net on ``task`` from random crops of ``images``; return it and its history.

    Args:
        task: ``upres``, ``inpaint``, ``colorize`` or ``interpolate``.
        images: training images ``{name: (H, W)}`` (``(H, W, 3)`` for colorize), or as
            :func:`split_images` reads them (``None``: the bundled training pictures; a folder:
            all but its held-out quarter).
        epochs: passes over the crops (None: the task's default, :data:`CONFIGS`).
        seed: the crops, masks, weights and batch order.
        factor: ``upres``: 2 or 4.
        mask: ``inpaint``: ``centre`` (the course's) or ``random``.
        config: the network, data and budget (None: the task's default).
        progress: show a progress bar over epochs.

    Returns:
        The trained U-Net (in evaluation mode, on the CPU; apply it with :func:`predict`) and
        its :class:`~supervised.train.History`; the best validation epoch's weights are kept.
    """
    check_task(task, factor, mask)
    config = config or CONFIGS[task]
    if not isinstance(images, dict):
        images = split_images(task, images, config)[0]
    rng = np.random.default_rng([seed, 1])
    size = config.crop
    train = make_batch(task, images, config.train_crops, size, rng, factor, mask, config.augment)
    val = make_batch(task, images, config.val_crops, size, rng, factor, mask)
    seed_torch(seed)
    n_in, n_out = CHANNELS[task]
    model = UNet(n_in, n_out, config.base, config.depth, config.block, config.residual_output)
    # start from a baseline: the input itself (bicubic, mean fill, frame average) or zero chroma
    torch.nn.init.zeros_(model.head.weight)
    torch.nn.init.zeros_(model.head.bias)
    budget = TrainConfig(
        epochs=epochs or config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=seed,
        progress=progress,
    )
    with single_thread():
        history = fit(model, task_loss(task), (train.x, train.y), (val.x, val.y), budget)
    return model, history


def predict(task: str, model: torch.nn.Module, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The U-Net's outputs ``(n, C_out, H, W)`` for inputs ``(n, C_in, H, W)``, not clipped."""
    model.eval()
    out = []
    with torch.no_grad(), single_thread():
        for start in range(0, len(x), batch_size):
            batch = torch.as_tensor(np.asarray(x[start : start + batch_size], np.float32))
            out.append(unet_output(task, model, batch).numpy())
    return np.concatenate(out)


def evaluate(
    task: str,
    model: torch.nn.Module,
    batch: Batch,
    factor: int = 2,
    chroma: np.ndarray | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray], np.ndarray]:
    """Measure the U-Net and the baselines on held-out examples.

    ``chroma``: colorize's mean-chroma baseline, ``(1, 2, 1, 1)`` (the training set's).

    Returns:
        The metrics (see the module docstring), every method's outputs (``unet`` first, as the
        targets are shaped) and the targets.
    """
    out = predict(task, model, batch.x)
    if task == "colorize":
        target = batch.clean
        outputs = {"unet": tasks.lab_to_rgb(batch.x, out)}
        outputs.update(tasks.colorize_baselines(batch.clean, chroma))
    else:
        target = batch.y[:, 0]
        outputs = {"unet": np.clip(out[:, 0], 0.0, 1.0)}
        if task == "upres":
            outputs.update(tasks.upres_baselines(batch.clean, factor))
        elif task == "inpaint":
            outputs.update(tasks.inpaint_baselines(batch.clean, batch.masks))
        else:
            outputs.update(tasks.interpolate_baselines(batch.clean))
    metrics: dict[str, Any] = {}
    for method, images in outputs.items():
        metrics[f"{method}_psnr"] = float(tasks.psnr(images, target).mean())
        metrics[f"{method}_ssim"] = float(tasks.ssim(images, target).mean())
        if task == "inpaint":
            metrics[f"{method}_psnr_hole"] = float(
                tasks.psnr(images, target, 1 - batch.masks).mean()
            )
        if task == "colorize":
            metrics[f"{method}_colourfulness"] = float(tasks.colourfulness(images).mean())
    if task == "colorize":
        metrics["target_colourfulness"] = float(tasks.colourfulness(target).mean())
    key = "psnr_hole" if task == "inpaint" else "psnr"
    best = max((m for m in outputs if m != "unet"), key=lambda m: metrics[f"{m}_{key}"])
    metrics["best_baseline"] = best
    metrics["unet_gain_db"] = metrics[f"unet_{key}"] - metrics[f"{best}_{key}"]
    return metrics, outputs, target


def training_chroma(images: dict[str, np.ndarray], crop: int, n: int = 512) -> np.ndarray:
    """Colorize's mean-chroma baseline: the mean (a*, b*)/100 of ``n`` seeded random crops."""
    from common.images import random_crops

    return tasks.mean_chroma(random_crops(images, n, crop, np.random.default_rng(EVAL_SEED)))


def experiment(
    out: str | os.PathLike,
    task: str,
    *,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    images: str | os.PathLike | None = None,
    factor: int = 2,
    mask: str = "centre",
    config: TaskConfig | None = None,
) -> dict[str, Any]:
    """Train a U-Net on ``task`` and measure it beside the baselines on held-out images.

    Writes ``examples.png`` and the training history into ``out``; returns the metrics, which
    :func:`supervised.experiments.run` writes to ``metrics.json``.

    Raises:
        DataError: bad images (see :func:`split_images`).
    """
    from supervised.image_figure import examples_figure

    check_task(task, factor, mask)
    config = config or CONFIGS[task]
    started = time.perf_counter()
    train_images, test_images = split_images(task, images, config)
    model, history = train_unet(
        task,
        train_images,
        epochs=epochs,
        seed=seed,
        factor=factor,
        mask=mask,
        config=config,
        progress=progress,
    )
    rng = np.random.default_rng(EVAL_SEED)
    n = config.eval_per_image * len(test_images)
    batch = make_batch(task, test_images, n, config.eval_crop, rng, factor, mask)
    chroma = training_chroma(train_images, config.crop) if task == "colorize" else None
    metrics, outputs, target = evaluate(task, model, batch, factor, chroma)
    settings: dict[str, Any] = {
        "task": task,
        "crop": config.crop,
        "epochs": epochs or config.epochs,
    }
    if task == "upres":
        settings["factor"] = factor
    if task == "inpaint":
        settings["mask"] = mask
    metrics = {**settings, **metrics}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    history.save(out)
    examples_figure(task, batch, outputs, target, metrics, out / "examples.png", factor)
    return {
        **metrics,
        "train_crops": config.train_crops,
        "held_out_crops": n,
        "parameters": count_parameters(model),
        "best_epoch": history.best_epoch,
        "seconds": time.perf_counter() - started,
    }


def upres_experiment(out: str | os.PathLike, *, factor: int = 2, **options) -> dict[str, Any]:
    """``rlcourse supervised upres``: ×2 or ×4 (``factor``); see :func:`experiment`."""
    return experiment(out, "upres", factor=factor, **options)


def inpaint_experiment(
    out: str | os.PathLike, *, mask: str = "centre", **options
) -> dict[str, Any]:
    """``rlcourse supervised inpaint``: ``centre`` or ``random`` holes; see :func:`experiment`."""
    return experiment(out, "inpaint", mask=mask, **options)


def colorize_experiment(out: str | os.PathLike, **options) -> dict[str, Any]:
    """``rlcourse supervised colorize``; see :func:`experiment`."""
    return experiment(out, "colorize", **options)


def interpolate_experiment(out: str | os.PathLike, **options) -> dict[str, Any]:
    """``rlcourse supervised interpolate``; see :func:`experiment`."""
    return experiment(out, "interpolate", **options)
