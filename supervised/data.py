"""Data that works offline: scikit-learn's bundled sets, MNIST IDX files, image folders; splits.

Every loader returns numpy arrays; :class:`Dataset` bundles features ``x``, targets ``y`` and the
class names. Bad files give :class:`DataError` (a ``ValueError``) naming the file and the problem.
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
#: IDX type codes (the third byte of the magic number) and their big-endian numpy dtypes.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataError(ValueError):
    """A data file or array that cannot be used; the message names it and what is wrong."""


@dataclass(frozen=True)
class Dataset:
    """Features and targets, with class names for classification sets."""

    x: np.ndarray
    """Features: ``(n, d)`` tables or ``(n, 1, h, w)`` images in [0, 1]."""
    y: np.ndarray
    """Targets: ``(n,)`` class indices (int64) or values (float)."""
    classes: tuple[str, ...] = field(default_factory=tuple)
    """Class names (empty for regression)."""

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise DataError(f"{len(self.x)} inputs but {len(self.y)} targets")

    def subset(self, index: np.ndarray) -> Dataset:
        """The rows ``index``."""
        return Dataset(self.x[index], self.y[index], self.classes)


def load_digits(size: int = 8) -> Dataset:
    """scikit-learn's 1797 handwritten digits as ``(n, 1, size, size)`` images in [0, 1].

    ``size=28`` upsamples the 8×8 images bilinearly to MNIST's size (for the 784-input models).
    """
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    images = digits.images.astype(np.float32) / 16.0
    if size != 8:
        if size < 1:
            raise DataError(f"digit size must be >= 1 pixel, got {size}")
        images = np.clip(zoom(images, (1, size / 8, size / 8), order=1), 0.0, 1.0)
    return Dataset(
        images[:, None], digits.target.astype(np.int64), tuple(str(d) for d in range(10))
    )


def load_diabetes() -> Dataset:
    """scikit-learn's diabetes regression set: 442 patients, 10 features, disease progression."""
    from sklearn.datasets import load_diabetes as sklearn_diabetes

    data = sklearn_diabetes()
    return Dataset(data.data.astype(np.float64), data.target.astype(np.float64))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (MNIST's format), plain or gzip-compressed, into a numpy array.

    Raises:
        DataError: missing file, bad magic number, or a size that disagrees with the header.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DataError(f"{path}: corrupt gzip data ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: header says shape {shape} ({expected} bytes of data), file has "
            f"{len(raw) - header}"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def load_mnist(images: str | os.PathLike, labels: str | os.PathLike) -> Dataset:
    """MNIST (or Fashion-MNIST) from the user's IDX files: ``(n, 1, 28, 28)`` in [0, 1].

    Raises:
        DataError: unreadable files, images not (n, h, w), labels not (n,) in 0..9, counts differ.
    """
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3:
        raise DataError(f"{images}: images must be (n, height, width), got shape {x.shape}")
    if y.ndim != 1:
        raise DataError(f"{labels}: labels must be (n,), got shape {y.shape}")
    if len(x) != len(y):
        raise DataError(f"{images} has {len(x)} images but {labels} has {len(y)} labels")
    check_labels(y, 10, str(labels))
    return Dataset(
        (x.astype(np.float32) / 255.0)[:, None], y.astype(np.int64), tuple(map(str, range(10)))
    )


def read_image_file(
    path: str | os.PathLike, mode: str = "RGB", size: int | None = None
) -> np.ndarray:
    """An image file as a uint8 array in Pillow's ``mode`` (``RGB``: ``(h, w, 3)``, ``L``: gray).

    ``size`` resizes it to ``size × size``. An image of more pixels than Pillow's limit
    (``PIL.Image.MAX_IMAGE_PIXELS``, about 89 million) is refused before it is decoded: a
    small file can claim billions of pixels (a decompression bomb).

    Raises:
        DataError: no such file, an empty file, one that is not a readable image, too many
            pixels, or none.
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image = image.convert(mode)
                if size is not None:
                    image = image.resize((size, size))
                array = np.asarray(image)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        found = re.search(r"\((\d+) pixels\)", str(err))
        pixels = f"{int(found.group(1)):,}" if found else "too many"
        raise DataError(
            f"{path}: {pixels} pixels, over the limit of {Image.MAX_IMAGE_PIXELS:,}; "
            "refused unread (a decompression bomb?)"
        ) from None
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise DataError(f"{path}: unreadable image ({err})") from None
    if array.size == 0:
        raise DataError(f"{path}: the image has no pixels")
    return array


def load_image_folder(root: str | os.PathLike, size: int | None = None) -> Dataset:
    """Images in ``root/<class>/<file>`` as grayscale ``(n, 1, h, w)`` in [0, 1].

    One class per folder, sorted by name. ``size`` resizes every image to ``size × size``.

    Raises:
        DataError: no such folder, no class folders or images, an unreadable image, or images of
            different sizes without ``size``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{root}: no class folders (expected {root}/<class>/<image>)")
    images, labels = [], []
    for index, name in enumerate(classes):
        for file in sorted((root / name).iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            images.append(read_image_file(file, "L", size).astype(np.float32) / 255.0)
            labels.append(index)
    if not images:
        raise DataError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) in the class folders")
    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        raise DataError(f"{root}: images have different sizes {sorted(shapes)}; pass a size")
    return Dataset(np.stack(images)[:, None], np.array(labels, dtype=np.int64), tuple(classes))


def check_labels(y: np.ndarray, n_classes: int, name: str = "labels") -> None:
    """Refuse labels that are not integers in ``0..n_classes-1``."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{name}: labels must be integers, got {y.dtype}")
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise DataError(f"{name}: labels must be in 0..{n_classes - 1}, found {y.min()}..{y.max()}")


@dataclass(frozen=True)
class Split:
    """Train, validation and test parts of a dataset."""

    train: Dataset
    val: Dataset
    test: Dataset


def split(data: Dataset, val: float = 0.15, test: float = 0.15, seed: int = 0) -> Split:
    """A deterministic shuffled split (the same seed gives the same parts)."""
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise DataError(f"val ({val}) and test ({test}) fractions must be >= 0 and sum below 1")
    order = np.random.default_rng(seed).permutation(len(data.x))
    n_test, n_val = round(test * len(order)), round(val * len(order))
    return Split(
        data.subset(order[n_test + n_val :]),
        data.subset(order[n_test : n_test + n_val]),
        data.subset(order[:n_test]),
    )


@dataclass(frozen=True)
class Scaler:
    """Per-feature shift and scale, fitted on training data and applied to any data."""

    shift: np.ndarray
    """Subtracted: the mean (standardize) or the minimum (normalize)."""
    scale: np.ndarray
    """Divided by: the standard deviation or the range (1 where it is 0)."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Transform ``x``."""
        return (x - self.shift) / self.scale

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Undo the transform."""
        return z * self.scale + self.shift


def standardizer(x: np.ndarray) -> Scaler:
    """Zero mean, unit variance per feature (of ``x``, the training data)."""
    std = x.std(axis=0)
    return Scaler(x.mean(axis=0), np.where(std > 0, std, 1.0))


def normalizer(x: np.ndarray) -> Scaler:
    """Each feature into [0, 1] (of ``x``, the training data)."""
    low, high = x.min(axis=0), x.max(axis=0)
    return Scaler(low, np.where(high > low, high - low, 1.0))
