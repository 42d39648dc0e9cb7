"""The offline image set: scikit-image's bundled pictures split by image, or a folder of the user's.

scikit-image's bundled pictures, split **by image** (a crop of a test image is never seen in
training):

- :data:`TRAIN_IMAGES`: brick, cell, chelsea, clock, grass, gravel, hubble_deep_field,
  immunohistochemistry, moon, page, retina, rocket, text;
- :data:`TEST_IMAGES`: astronaut, camera, coffee, coins;

or a folder of the user's images (PNG, JPEG, TIFF, BMP, GIF), read with ``skimage.io``: grey
(:func:`to_gray`, what the denoising work and the U-Net's grey tasks read) or colour
(:func:`to_rgb`, colorization). The denoise env (:mod:`envs.images`) and the supervised
image-to-image experiments read the same images through this module.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np

TRAIN_IMAGES = (
    "brick",
    "cell",
    "chelsea",
    "clock",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)
"""scikit-image pictures the agents and the DnCNN learn from."""
TEST_IMAGES = ("astronaut", "camera", "coffee", "coins")
"""Held-out scikit-image pictures every method is measured on."""
SPLITS = {"train": TRAIN_IMAGES, "test": TEST_IMAGES}

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif")


def to_gray(image: np.ndarray) -> np.ndarray:
    """A 2-D float32 image in [0, 1] from gray, RGB or RGBA pixels of any dtype."""
    from skimage.color import rgb2gray, rgba2rgb
    from skimage.util import img_as_float32

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 4:
        image = rgba2rgb(image)
    if image.ndim == 3 and image.shape[-1] == 3:
        image = rgb2gray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a gray, RGB or RGBA image, got shape {image.shape}")
    return np.clip(img_as_float32(image), 0.0, 1.0)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """An ``(H, W, 3)`` float32 image in [0, 1] from gray, RGB or RGBA pixels of any dtype.

    A grey image gets three equal channels (no colour).
    """
    from skimage.color import gray2rgb, rgba2rgb
    from skimage.util import img_as_float32

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 4:
        image = rgba2rgb(image)
    if image.ndim == 2:
        image = gray2rgb(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected a gray, RGB or RGBA image, got shape {image.shape}")
    return np.clip(img_as_float32(image), 0.0, 1.0)


def is_colour(image: np.ndarray) -> bool:
    """Whether an ``(H, W, 3)`` image has any pixel whose channels differ."""
    return image.ndim == 3 and bool(np.ptp(image, axis=-1).max() > 0)


@cache
def bundled_image(name: str, colour: bool = False) -> np.ndarray:
    """One of scikit-image's bundled pictures (``skimage.data.NAME()``) in [0, 1].

    Grayscale ``(H, W)``, or with ``colour`` RGB ``(H, W, 3)``. Read once per process
    (cached); the array is read-only.
    """
    import skimage.data

    image = (to_rgb if colour else to_gray)(getattr(skimage.data, name)())
    image.setflags(write=False)
    return image


def load_folder(
    folder: str | Path, convert: Callable[[np.ndarray], np.ndarray] = to_gray
) -> dict[str, np.ndarray]:
    """The images of a folder (by file name, sorted), grayscale in [0, 1] (or ``convert``-ed).

    ``convert``: what each image's pixels become, :func:`to_gray` or :func:`to_rgb`.

    Raises:
        ValueError: no such folder, no image files in it, a file that cannot be read, or one of
            more pixels than Pillow's limit (``PIL.Image.MAX_IMAGE_PIXELS``: refused unread).
    """
    from PIL import Image
    from skimage.io import imread

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"image folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(
            f"image folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)} files)"
        )
    images = {}
    for path in files:
        try:
            with warnings.catch_warnings():  # over Pillow's pixel limit: refused, not decoded
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                images[path.name] = convert(imread(path))
        except Exception as err:  # any decoder error, a decompression bomb: name the file
            first = (str(err).splitlines() or [""])[0]  # decoders' messages run to many lines
            raise ValueError(f"cannot read image {path}: {type(err).__name__}: {first}") from None
    return images


def load_images(images: str | Path | Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """``"train"``/``"test"`` (the bundled splits), a folder, or a sequence of 2-D arrays."""
    if isinstance(images, str) and images in SPLITS:
        return {name: bundled_image(name) for name in SPLITS[images]}
    if isinstance(images, str | Path):
        return load_folder(images)
    loaded = {f"image{i}": to_gray(image) for i, image in enumerate(images)}
    if not loaded:
        raise ValueError("no images given")
    return loaded


def random_crops(
    images: dict[str, np.ndarray], n: int, crop: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` float32 crops ``(n, crop, crop[, 3])``: a uniform image, then a uniform position."""
    names = list(images)
    first = images[names[0]]
    out = np.empty((n, crop, crop, *first.shape[2:]), dtype=np.float32)
    for i, which in enumerate(rng.integers(len(names), size=n)):
        image = images[names[which]]
        y = rng.integers(image.shape[0] - crop + 1)
        x = rng.integers(image.shape[1] - crop + 1)
        out[i] = image[y : y + crop, x : x + crop]
    return out


def fixed_crops(
    images: dict[str, np.ndarray], crop: int, per_image: int, seed: int = 0
) -> tuple[np.ndarray, list[str]]:
    """``per_image`` seeded random crops of every image (an evaluation set) and their names."""
    rng = np.random.default_rng(seed)
    crops, names = [], []
    for name, image in images.items():
        for _ in range(per_image):
            y = rng.integers(image.shape[0] - crop + 1)
            x = rng.integers(image.shape[1] - crop + 1)
            crops.append(image[y : y + crop, x : x + crop])
            names.append(name)
    return np.stack(crops).astype(np.float32), names
