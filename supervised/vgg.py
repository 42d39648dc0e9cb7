"""VGG-19's convolutional part, built by hand in torch, and a loader for its pretrained weights.

:func:`vgg19_features` is the ``features`` stack of torchvision's ``vgg19`` (configuration "E"
of Simonyan & Zisserman, 2015) layer for layer: ``Conv2d(3×3, padding 1)`` + ``ReLU`` sixteen
times in five blocks of 2, 2, 4, 4 and 4 convolutions, each block closed by a 2×2 max pool. The
indices are torchvision's, so a state dict saved from ``torchvision.models.vgg19(...)`` (its
``features.N.weight`` / ``features.N.bias`` entries; ``classifier.*`` entries are ignored) loads
with :func:`load_vgg19` without torchvision being installed. Nothing is downloaded: the
weights are a file the user has (``rlcourse supervised style --weights FILE``).

The file is read with ``torch.load(weights_only=True)``, which refuses pickled code, and every
key and shape is checked before it is used.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from supervised.data import DataError

CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M")
CONFIG += (512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
"""VGG-19's ``features``: output channels of each 3×3 convolution, ``M`` a 2×2 max pool."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
"""The normalisation torchvision's pretrained VGG-19 expects of RGB images in [0, 1]."""
LAYERS = {
    "relu1_1": 1,
    "relu2_1": 6,
    "relu3_1": 11,
    "relu4_1": 20,
    "relu4_2": 22,
    "relu5_1": 29,
}
"""Gatys et al.'s layers by name: their indices in ``features`` (the ReLU after each conv)."""
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYERS = ("relu4_2",)


def vgg19_features() -> nn.Sequential:
    """The ``features`` of torchvision's ``vgg19()`` (randomly initialised), same indices."""
    layers: list[nn.Module] = []
    channels = 3
    for item in CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = item
    return nn.Sequential(*layers)


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """``features.N.weight|bias`` → shape, of every parameter of :func:`vgg19_features`."""
    shapes, channels, index = {}, 3, 0
    for item in CONFIG:
        if item == "M":
            index += 1
            continue
        shapes[f"features.{index}.weight"] = (item, channels, 3, 3)
        shapes[f"features.{index}.bias"] = (item,)
        channels, index = item, index + 2
    return shapes


def check_state(state: object, source: str = "the weights") -> dict[str, torch.Tensor]:
    """The ``features`` entries of a VGG-19 state dict, keys renamed for ``nn.Sequential``.

    Raises:
        DataError: not a dict of tensors, a missing or unexpected key, or a wrong shape (the
            message names the first one).
    """
    if not isinstance(state, dict):
        raise DataError(f"{source}: not a state dict but {type(state).__name__}")
    shapes = expected_shapes()
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise DataError(f"{source}: not a state dict of tensors (entry {key!r})")
        if key not in shapes and not key.startswith("classifier."):
            raise DataError(
                f"{source}: unexpected entry {key!r}; not torchvision's VGG-19 layout "
                "(features.N.weight/bias)"
            )
    missing = [key for key in shapes if key not in state]
    if missing:
        raise DataError(
            f"{source}: no {missing[0]} ({len(missing)} of VGG-19's {len(shapes)} feature "
            "entries missing; torchvision's VGG-19 layout expected)"
        )
    for key, shape in shapes.items():
        if tuple(state[key].shape) != shape:
            raise DataError(
                f"{source}: {key} has shape {tuple(state[key].shape)}, VGG-19's is {shape}"
            )
    return {key.removeprefix("features."): state[key].float() for key in shapes}


def load_vgg19(path: str | os.PathLike) -> nn.Sequential:
    """VGG-19's ``features`` with the weights of the state dict file ``path``, in eval mode.

    Raises:
        DataError: no such file, one ``torch.load(weights_only=True)`` cannot read (e.g. a
            pickled model rather than a state dict), or one that is not VGG-19's layout.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such weights file")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # noqa: BLE001 - any failure means the same: unusable file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: not a readable state dict ({first})") from None
    net = vgg19_features()
    net.load_state_dict(check_state(state, str(path)))
    return net.eval()
