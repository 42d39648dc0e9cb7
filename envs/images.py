"""Images for denoising: scikit-image's bundled pictures or the user's, noisy crops, PSNR.

scikit-image's bundled pictures, made grayscale, split **by image** (a crop of a test image is
never seen in training):

- :data:`TRAIN_IMAGES`: brick, cell, chelsea, clock, grass, gravel, hubble_deep_field,
  immunohistochemistry, moon, page, retina, rocket, text;
- :data:`TEST_IMAGES`: astronaut, camera, coffee, coins;

or a folder of the user's images (PNG, JPEG, TIFF, BMP, GIF), read with ``skimage.io``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
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

MIN_CROP = 36
"""The smallest crop side: Stable-Baselines3's CnnPolicy needs 36×36 images."""
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


@cache
def bundled_image(name: str) -> np.ndarray:
    """One of scikit-image's bundled pictures (``skimage.data.NAME()``), grayscale in [0, 1].

    Read once per process (cached); the array is read-only.
    """
    import skimage.data

    image = to_gray(getattr(skimage.data, name)())
    image.setflags(write=False)
    return image


def load_folder(folder: str | Path) -> dict[str, np.ndarray]:
    """The images of a folder (by file name, sorted), grayscale in [0, 1].

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
                images[path.name] = to_gray(imread(path))
        except Exception as err:  # any decoder error, a decompression bomb: name the file
            raise ValueError(f"cannot read image {path}: {type(err).__name__}: {err}") from None
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


def check_settings(images: dict[str, np.ndarray], crop: int, sigma: float) -> None:
    """Refuse σ <= 0, a crop under :data:`MIN_CROP`, and images smaller than the crop."""
    if not (isinstance(sigma, int | float) and sigma > 0 and np.isfinite(sigma)):
        raise ValueError(f"sigma must be > 0 grey levels (of 255), got {sigma!r}")
    if int(crop) != crop or crop < MIN_CROP:
        raise ValueError(f"crop must be an integer >= {MIN_CROP} pixels, got {crop!r}")
    for name, image in images.items():
        if min(image.shape) < crop:
            raise ValueError(
                f"image {name} is {image.shape[0]}x{image.shape[1]}, smaller than the crop "
                f"{crop}x{crop}; use a smaller crop or larger images"
            )


class CropSource:
    """Random ``crop × crop`` windows of a set of images, with Gaussian noise of ``sigma``/255."""

    def __init__(self, images: str | Path | Sequence[np.ndarray], crop: int, sigma: float):
        self.images = load_images(images)
        check_settings(self.images, crop, sigma)
        self.names = list(self.images)
        self.crop, self.sigma = int(crop), float(sigma)

    def clean(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` crops ``(n, crop, crop)``: a uniform image, then a uniform position in it."""
        out = np.empty((n, self.crop, self.crop), dtype=np.float32)
        for i, which in enumerate(rng.integers(len(self.names), size=n)):
            image = self.images[self.names[which]]
            y = rng.integers(image.shape[0] - self.crop + 1)
            x = rng.integers(image.shape[1] - self.crop + 1)
            out[i] = image[y : y + self.crop, x : x + self.crop]
        return out

    def noisy(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``clean`` plus N(0, (σ/255)²) noise, clipped to [0, 1]."""
        noise = rng.normal(0.0, self.sigma / 255.0, clean.shape).astype(np.float32)
        return np.clip(clean + noise, 0.0, 1.0)


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


def psnr(images: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """PSNR in dB (data range 1) of each image of a batch: 10·log10(1 / MSE) over its pixels."""
    mse = np.mean((images.astype(np.float64) - clean) ** 2, axis=(-2, -1))
    return 10.0 * np.log10(1.0 / np.maximum(mse, 1e-12))


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] as rounded uint8 grey levels."""
    return np.rint(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)
