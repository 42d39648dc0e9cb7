"""The course's image-to-image tasks as data: (input, target) pairs, classical baselines, measures.

Four tasks, each made from clean images (crops ``(n, H, W)`` in [0, 1], colour ``(n, H, W, 3)``
for colorization). The ``*_pairs`` functions give what a U-Net reads and what it should output,
as ``(n, C, H, W)`` float32 arrays:

- **upres** (:func:`upres_pairs`): the image shrunk ``factor`` times (each small pixel the mean
  of a ``factor × factor`` block, :func:`downsize`), sized back up bicubically (:func:`upsize`);
  target the image. Baselines (:func:`upres_baselines`): nearest, bilinear, bicubic up-sizing.
- **inpaint** (:func:`inpaint_pairs`): the image with a hole (mask 0 inside, 1 outside),
  the hole filled (biharmonic in-painting by default, or the mean of the known pixels), and
  the mask as a second channel; target the image. The course's hole is the centre square
  ``mask[:, low:upper, low:upper] = 0`` with
  ``low = int(scale · size)``, ``upper = int((1 − scale) · size)``, ``scale = 0.25`` (its
  side is half the image's: :func:`centre_masks`); :func:`random_masks` places rectangles
  anywhere. Baselines (:func:`inpaint_baselines`): mean fill and
  ``skimage.restoration.inpaint_biharmonic``.
- **colorize** (:func:`colorize_pairs`): the CIE L*a*b* lightness L/100; target the chroma
  (a*, b*)/100; :func:`lab_to_rgb` puts a prediction back together. (The course's homework
  makes its grey inputs with torchvision's ``adjust_saturation(image, 0)``, which keeps the
  luma Y' of YCbCr; L* is its perceptual counterpart.) Baselines (:func:`colorize_baselines`):
  the grey image (zero chroma) and the training set's mean chroma.
- **interpolate** (:func:`interpolate_pairs`): frames 1 and 3 of a triple (and their
  average); target frame 2.
  :func:`moving_frames` makes triples from still images: a window moving at a constant random
  sub-pixel velocity (``scipy.ndimage.shift``). Baselines (:func:`interpolate_baselines`): the
  average of frames 1 and 3, and frame 1 repeated.

Measures: :func:`psnr` (whole image, or inside a mask), :func:`ssim` (scikit-image's), and
:func:`colourfulness` (Hasler & Süsstrunk 2003). numpy and scikit-image only: no torch.
"""

from __future__ import annotations

import numpy as np

from common.masks import centre_masks

TASKS = ("upres", "inpaint", "colorize", "interpolate")
"""The image-to-image tasks."""
FACTORS = (2, 4)
"""Up-sizing factors of ``upres``."""
MASKS = ("centre", "random")
"""Hole shapes of ``inpaint``: the course's centre square, or random rectangles."""
MAX_SHIFT = 3.0
"""Largest motion of :func:`moving_frames` per frame and axis, in pixels."""


def _batch(images: np.ndarray, ndim: int = 3) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != ndim:
        shape = "(n, H, W)" if ndim == 3 else "(n, H, W, 3)"
        raise ValueError(f"expected a batch of images {shape}, got shape {images.shape}")
    return images


# --- upres -------------------------------------------------------------------------------------


def downsize(images: np.ndarray, factor: int) -> np.ndarray:
    """Images ``(n, H, W)`` shrunk ``factor`` times: each pixel the mean of a block.

    Raises:
        ValueError: a factor below 2, or H or W not a multiple of it.
    """
    from skimage.transform import downscale_local_mean

    images = _batch(images)
    if int(factor) != factor or factor < 2:
        raise ValueError(f"factor must be an integer >= 2, got {factor!r}")
    if images.shape[1] % factor or images.shape[2] % factor:
        raise ValueError(f"image sides {images.shape[1:]} are not multiples of {factor}")
    return downscale_local_mean(images, (1, factor, factor)).astype(np.float32)


def upsize(low: np.ndarray, factor: int, order: int) -> np.ndarray:
    """Images ``(n, h, w)`` sized up ``factor`` times by spline ``order``, clipped to [0, 1].

    Orders: 0 nearest, 1 bilinear, 3 bicubic (``skimage.transform.resize``).
    """
    from skimage.transform import resize

    low = _batch(low)
    shape = (low.shape[0], low.shape[1] * factor, low.shape[2] * factor)
    out = resize(low, shape, order=order, mode="edge", anti_aliasing=False, clip=False)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


UPSIZINGS = {"nearest": 0, "bilinear": 1, "bicubic": 3}
"""``upres`` baselines: their spline orders."""


def upres_pairs(images: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """(bicubic up-sizing of the ``factor`` times shrunk images, the images), ``(n, 1, H, W)``."""
    images = _batch(images)
    return upsize(downsize(images, factor), factor, 3)[:, None], images[:, None]


def upres_baselines(images: np.ndarray, factor: int) -> dict[str, np.ndarray]:
    """Nearest, bilinear and bicubic up-sizings ``(n, H, W)`` of the shrunk ``images``."""
    low = downsize(images, factor)
    return {name: upsize(low, factor, order) for name, order in UPSIZINGS.items()}


# --- inpaint -----------------------------------------------------------------------------------


def random_masks(shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """Masks ``(n, H, W)`` with one rectangular hole (0) each.

    Its sides are uniform in [side/8, side/2], its place uniform in the image.
    """
    n, height, width = shape
    mask = np.ones((n, height, width), dtype=np.float32)
    for i in range(n):
        h = rng.integers(max(height // 8, 1), height // 2 + 1)
        w = rng.integers(max(width // 8, 1), width // 2 + 1)
        y, x = rng.integers(height - h + 1), rng.integers(width - w + 1)
        mask[i, y : y + h, x : x + w] = 0
    return mask


def make_masks(kind: str, shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """:func:`centre_masks` (``"centre"``) or :func:`random_masks` (``"random"``)."""
    if kind not in MASKS:
        raise ValueError(f"mask must be one of {', '.join(MASKS)}, got {kind!r}")
    return centre_masks(shape) if kind == "centre" else random_masks(shape, rng)


def mean_fill(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Each image with its hole (mask 0) filled with the mean of its known pixels."""
    images, masks = _batch(images), _batch(masks)
    known = np.maximum(masks.sum(axis=(1, 2)), 1.0)
    means = (images * masks).sum(axis=(1, 2)) / known
    return images * masks + means[:, None, None] * (1 - masks)


FILLS = ("biharmonic", "mean")
"""How :func:`inpaint_pairs` fills the hole of the U-Net's input."""


def biharmonic_fill(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Each image's hole (mask 0) filled by ``skimage.restoration.inpaint_biharmonic``."""
    from skimage.restoration import inpaint_biharmonic

    filled = [
        inpaint_biharmonic(image, mask == 0)
        for image, mask in zip(_batch(images), _batch(masks), strict=True)
    ]
    return np.clip(np.stack(filled), 0, 1).astype(np.float32)


def inpaint_pairs(
    images: np.ndarray, masks: np.ndarray, fill: str = "biharmonic"
) -> tuple[np.ndarray, np.ndarray]:
    """(filled images and their masks ``(n, 2, H, W)``, the images ``(n, 1, H, W)``).

    ``fill``: ``biharmonic`` (the stronger baseline: a U-Net with a residual output then
    learns a correction of it) or ``mean`` (:func:`mean_fill`).
    """
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {', '.join(FILLS)}, got {fill!r}")
    images = _batch(images)
    filled = biharmonic_fill(images, masks) if fill == "biharmonic" else mean_fill(images, masks)
    return np.stack([filled, masks], axis=1), images[:, None]


def inpaint_baselines(images: np.ndarray, masks: np.ndarray) -> dict[str, np.ndarray]:
    """Mean fill and biharmonic in-painting ``(n, H, W)`` of the holes (mask 0)."""
    return {"mean_fill": mean_fill(images, masks), "biharmonic": biharmonic_fill(images, masks)}


# --- colorize ----------------------------------------------------------------------------------


def colorize_pairs(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lightness L/100 ``(n, 1, H, W)``, chroma (a*, b*)/100 ``(n, 2, H, W)``) of RGB images."""
    from skimage.color import rgb2lab

    lab = rgb2lab(_batch(rgb, 4), channel_axis=-1).astype(np.float32)
    lab = np.moveaxis(lab, -1, 1) / 100.0
    return lab[:, :1], lab[:, 1:]


def lab_to_rgb(lightness: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """RGB images ``(n, H, W, 3)`` in [0, 1] from :func:`colorize_pairs`' L and (a*, b*)."""
    from skimage.color import lab2rgb

    chroma = np.broadcast_to(chroma, (len(lightness), 2, *lightness.shape[2:]))
    lab = np.concatenate([lightness, chroma], axis=1)
    rgb = lab2rgb(np.moveaxis(lab * 100.0, 1, -1).astype(np.float64), channel_axis=-1)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def mean_chroma(rgb: np.ndarray) -> np.ndarray:
    """The mean (a*, b*)/100 over all pixels of images ``(n, H, W, 3)``, shaped ``(1, 2, 1, 1)``."""
    return colorize_pairs(rgb)[1].mean(axis=(0, 2, 3)).reshape(1, 2, 1, 1)


def colorize_baselines(rgb: np.ndarray, chroma: np.ndarray) -> dict[str, np.ndarray]:
    """The grey image (zero chroma) and the image with a fixed chroma, ``(n, H, W, 3)``."""
    lightness, _ = colorize_pairs(rgb)
    return {
        "gray": lab_to_rgb(lightness, np.zeros((1, 2, 1, 1), np.float32)),
        "mean_chroma": lab_to_rgb(lightness, np.asarray(chroma, np.float32)),
    }


def colourfulness(rgb: np.ndarray) -> np.ndarray:
    """Hasler & Süsstrunk's (2003) colourfulness of each image ``(n, H, W, 3)`` in [0, 1].

    With rg = R − G and yb = (R + G)/2 − B on a 0–255 scale:
    M = √(σ_rg² + σ_yb²) + 0.3 · √(μ_rg² + μ_yb²); 0 for a grey image, about 100 for a very
    colourful one.
    """
    rgb = _batch(rgb, 4).astype(np.float64) * 255.0
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    spread = np.hypot(rg.std(axis=(1, 2)), yb.std(axis=(1, 2)))
    return spread + 0.3 * np.hypot(rg.mean(axis=(1, 2)), yb.mean(axis=(1, 2)))


# --- interpolate -------------------------------------------------------------------------------


def shifted_frames(window: np.ndarray, velocity: tuple[float, float], crop: int) -> np.ndarray:
    """Three frames ``(3, crop, crop)`` of a view moving ``velocity`` (rows, columns) per frame.

    Frame 2 is the centre ``crop × crop`` of ``window``; frames 1 and 3 are it moved back and
    forward by ``velocity`` (cubic-spline sub-pixel shifts of the whole window, then cropped).
    """
    from scipy.ndimage import shift

    margin = (window.shape[0] - crop) // 2
    inner = slice(margin, margin + crop)
    frames = [
        shift(window, (-t * velocity[0], -t * velocity[1]), order=3, mode="nearest")[inner, inner]
        if t
        else window[inner, inner]
        for t in (-1, 0, 1)
    ]
    return np.clip(np.stack(frames), 0.0, 1.0).astype(np.float32)


def moving_frames(
    images: dict[str, np.ndarray],
    n: int,
    crop: int,
    rng: np.random.Generator,
    max_shift: float = MAX_SHIFT,
) -> np.ndarray:
    """``n`` frame triples ``(n, 3, crop, crop)`` of windows moving over the images.

    Each is a random window of a random image moving at a velocity uniform in
    [−max_shift, max_shift]² pixels per frame (see :func:`shifted_frames`).
    """
    from common.images import random_crops

    margin = int(np.ceil(max_shift)) + 2
    windows = random_crops(images, n, crop + 2 * margin, rng)
    velocities = rng.uniform(-max_shift, max_shift, size=(n, 2))
    return np.stack([shifted_frames(w, v, crop) for w, v in zip(windows, velocities, strict=True)])


def interpolate_pairs(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inputs ``(n, 3, H, W)``, frame 2 ``(n, 1, H, W)``) of triples ``(n, 3, H, W)``.

    The inputs are the average of frames 1 and 3, then frames 1 and 3: the average first, so
    that a U-Net with a residual output starts from the averaging baseline.
    """
    frames = _frames(frames)
    average = frames[:, [0, 2]].mean(axis=1, keepdims=True)
    return np.concatenate([average, frames[:, [0, 2]]], axis=1), frames[:, [1]]


def interpolate_baselines(frames: np.ndarray) -> dict[str, np.ndarray]:
    """The average of frames 1 and 3, and frame 1 repeated, ``(n, H, W)``."""
    frames = _frames(frames)
    return {"average": frames[:, [0, 2]].mean(axis=1), "repeat": frames[:, 0].copy()}


def _frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"expected frame triples (n, 3, H, W), got shape {frames.shape}")
    return frames


# --- measures ----------------------------------------------------------------------------------


def psnr(images: np.ndarray, targets: np.ndarray, region: np.ndarray | None = None) -> np.ndarray:
    """PSNR in dB (data range 1) of each image of a batch against its target.

    ``region``: per-image masks ``(n, H, W)``; only pixels where it is nonzero count (e.g.
    ``1 − mask``: inside an in-painting hole). Whole images use
    ``skimage.metrics.peak_signal_noise_ratio``.
    """
    from skimage.metrics import peak_signal_noise_ratio

    images, targets = np.asarray(images, np.float64), np.asarray(targets, np.float64)
    if region is None:
        return np.array(
            [
                peak_signal_noise_ratio(t, i, data_range=1.0)
                for i, t in zip(images, targets, strict=True)
            ]
        )
    region = np.asarray(region, bool)
    if images.ndim == region.ndim + 1:  # colour: every channel of a pixel
        region = np.broadcast_to(region[..., None], images.shape)
    squared = np.where(region, (images - targets) ** 2, 0.0)
    axes = tuple(range(1, images.ndim))
    mse = squared.sum(axis=axes) / np.maximum(region.sum(axis=axes), 1)
    return 10.0 * np.log10(1.0 / np.maximum(mse, 1e-12))


def ssim(images: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """SSIM of each image of a batch (``skimage.metrics.structural_similarity``, data range 1).

    Colour images ``(n, H, W, 3)`` are measured over their channels.
    """
    from skimage.metrics import structural_similarity

    channel_axis = -1 if np.ndim(images) == 4 else None
    return np.array(
        [
            structural_similarity(t, i, data_range=1.0, channel_axis=channel_axis)
            for i, t in zip(
                np.asarray(images, np.float64), np.asarray(targets, np.float64), strict=True
            )
        ]
    )
