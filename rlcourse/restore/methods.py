"""The restore report's data and its non-RL methods: classical restorers and a U-Net.

Everything is measured on held-out crops of the test images (:data:`envs.images.TEST_IMAGES`);
the U-Net trains on crops of the training images, degraded as the environments degrade them.
"""

from __future__ import annotations

import numpy as np

from envs.images import CropSource, fixed_crops, load_images, psnr
from envs.restore_tasks import block_means, interpolate
from rlcourse.restore.config import RestoreConfig


def degraded(config: RestoreConfig, clean: np.ndarray, rng: np.random.Generator) -> tuple:
    """The start images of clean crops and their masks (1 given; all ones for upres)."""
    task = config.env_task()
    if config.task == "inpaint":
        masks = task.masks(len(clean), config.crop, rng)
    else:
        masks = np.ones_like(clean)
    return task.degrade(clean, masks), masks


def evaluation_set(config: RestoreConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Clean crops of the test images, their degraded versions and masks, each crop's image."""
    clean, names = fixed_crops(load_images("test"), config.crop, config.eval_per_image, config.seed)
    start, masks = degraded(config, clean, np.random.default_rng([config.seed, 21]))
    return clean, start, masks, names


def training_pairs(config: RestoreConfig, n: int, salt: int) -> tuple[np.ndarray, ...]:
    """``n`` random clean crops of the training images, degraded; ``(start, masks, clean)``."""
    rng = np.random.default_rng([config.seed, salt])
    clean = CropSource("train", config.crop, 25.0).clean(rng, n)
    start, masks = degraded(config, clean, rng)
    return start, masks, clean


def classical(config: RestoreConfig, start: np.ndarray, masks: np.ndarray) -> dict:
    """The classical methods' outputs: mean fill and biharmonic, or the interpolations."""
    if config.task == "inpaint":
        from skimage.restoration import inpaint_biharmonic

        given = masks > 0.5
        means = (start * given).sum(axis=(1, 2)) / given.sum(axis=(1, 2))
        fill = np.where(given, start, means[:, None, None]).astype(np.float32)
        harmonic = np.stack(
            [
                inpaint_biharmonic(image.astype(np.float64), ~g)
                for image, g in zip(start, given, strict=True)
            ]
        )
        return {"mean-fill": fill, "biharmonic": np.clip(harmonic, 0, 1).astype(np.float32)}
    low = block_means(start, config.factor)
    return {
        "bilinear": interpolate(low, config.factor, 1),
        "bicubic": interpolate(low, config.factor, 3),
    }


def unet_inputs(config: RestoreConfig, start: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The U-Net's input ``(n, C, H, W)``: the start image (and in-painting's mask)."""
    if config.task == "inpaint":
        return np.stack([start, masks], axis=1).astype(np.float32)
    return start[:, None].astype(np.float32)


def train_unet(config: RestoreConfig, progress: bool = False):
    """A U-Net fitted to (degraded, clean) training crops of the task; the model and history.

    The report's own small training (``supervised.train.fit``, MSE, Adam): the input is what
    the environment starts from (in-painting: with the mask as a second channel), the output a
    correction of it (``residual_output``). One function, so that a shared U-Net trainer can
    replace it.
    """
    import torch

    from supervised.train import TrainConfig, fit, seed_torch
    from supervised.unet import UNet

    def pairs(n, salt):
        start, masks, clean = training_pairs(config, n, salt)
        return unet_inputs(config, start, masks), clean[:, None]

    train = pairs(config.unet_pairs, 31)
    val = pairs(max(config.unet_pairs // 10, 8), 32)
    seed_torch(config.seed)
    channels = 2 if config.task == "inpaint" else 1
    model = UNet(channels, 1, base=config.unet_base, depth=2, residual_output=True)

    def loss(model, x, y):
        return torch.nn.functional.mse_loss(model(x), y)

    fit_config = TrainConfig(
        epochs=config.unet_epochs, batch_size=16, lr=2e-3, seed=config.seed, progress=progress
    )
    return model, fit(model, loss, train, val, fit_config)


def run_unet(model, config: RestoreConfig, start: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The U-Net's restorations of the start images, clipped to [0, 1]."""
    import torch

    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(unet_inputs(config, start, masks)))
    return out.clamp(0, 1)[:, 0].numpy()


def scores(images: np.ndarray, clean: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM over the crops; with a hole, the PSNR inside it too."""
    from skimage.metrics import structural_similarity

    out = {
        "psnr": float(psnr(images, clean).mean()),
        "ssim": float(
            np.mean(
                [
                    structural_similarity(a, b, data_range=1.0)
                    for a, b in zip(images, clean, strict=True)
                ]
            )
        ),
    }
    hole = masks < 0.5
    if hole.any():
        error = ((images.astype(np.float64) - clean) ** 2 * hole).sum(axis=(1, 2))
        mse = error / np.maximum(hole.sum(axis=(1, 2)), 1)
        out["psnr_hole"] = float((10 * np.log10(1 / np.maximum(mse, 1e-12))).mean())
    return out
