"""The feature networks style transfer can measure images with: which layers, which input scale.

- ``vgg19``: Gatys et al.'s choice, VGG-19 trained on ImageNet, from a weights file the user
  gives (:func:`supervised.vgg.load_vgg19`); style at ``relu1_1 … relu5_1``, content at
  ``relu4_2``. No package on the registries this course installs from ships these weights
  (docs/supervised.md lists what was checked), so there is no default file.
- ``random`` (the default): a VGG-like stack of five 3×3 convolutions (32, 64, 128, 256, 256
  channels, ReLU, average pooling between the last four) with random He-normal weights drawn
  from the seed. Random convolutional features describe texture well enough for Gram-matrix
  style losses (Ustyuzhaninov et al., 2017; He et al., 2016) and keep an image's layout;
  they know nothing of objects, so the result follows colours and fine texture rather than
  strokes. Style at every ReLU, content at the fourth.
- ``mtcnn``: the convolutional body of the pretrained O-Net of the face detector
  (:mod:`supervised.face_detect`, weights from the facenet-pytorch wheel): trained, but on
  48×48 face crops and with four small layers (32–128 channels). Style at its four PReLUs,
  content at the third.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from supervised.data import DataError

NETWORKS = ("random", "mtcnn", "vgg19")
"""Feature networks to choose from (``vgg19`` needs a weights file)."""
RANDOM_CHANNELS = (32, 64, 128, 256, 256)
"""Channels of the ``random`` network's convolutions (an average pool before each after two)."""


@dataclass
class FeatureNet:
    """A frozen network and the layers whose outputs the losses compare."""

    name: str
    """One of :data:`NETWORKS`."""
    source: str
    """Where its weights came from, for the output and ``metrics.json``."""
    body: nn.Sequential
    style_layers: tuple[int, ...]
    """Indices into ``body`` of the layers whose Gram matrices the style loss compares."""
    content_layers: tuple[int, ...]
    """Indices into ``body`` of the layers whose activations the content loss compares."""
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    """Input normalisation: ``(rgb - mean) / std`` of an RGB image in [0, 1]."""

    def __post_init__(self):
        self.body.eval()
        for parameter in self.body.parameters():
            parameter.requires_grad_(False)
        for module in self.body:
            if isinstance(module, nn.ReLU):  # in-place would overwrite a kept activation
                module.inplace = False

    def features(self, image: torch.Tensor) -> dict[int, torch.Tensor]:
        """The activations of the style and content layers for images ``(n, 3, h, w)`` in [0, 1]."""
        mean = torch.tensor(self.mean, dtype=image.dtype, device=image.device)[:, None, None]
        std = torch.tensor(self.std, dtype=image.dtype, device=image.device)[:, None, None]
        wanted = set(self.style_layers) | set(self.content_layers)
        last = max(wanted)
        h, out = (image - mean) / std, {}
        for index, module in enumerate(self.body):
            h = module(h)
            if index in wanted:
                out[index] = h
            if index == last:
                break
        return out


def random_net(seed: int = 0) -> FeatureNet:
    """The ``random`` network: He-normal weights drawn from ``seed`` (torch's global state kept)."""
    generator = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    channels = 3
    for i, width in enumerate(RANDOM_CHANNELS):
        if i >= 2:
            layers.append(nn.AvgPool2d(2))
        conv = nn.Conv2d(channels, width, kernel_size=3, padding=1)
        with torch.no_grad():
            conv.weight.normal_(0.0, (2.0 / (channels * 9)) ** 0.5, generator=generator)
            conv.bias.zero_()
        layers += [conv, nn.ReLU()]
        channels = width
    body = nn.Sequential(*layers)
    relus = tuple(i for i, m in enumerate(body) if isinstance(m, nn.ReLU))
    return FeatureNet(
        "random",
        f"random convolutions (seed {seed})",
        body,
        relus,
        (relus[3],),
        (0.45, 0.45, 0.45),
        (0.25, 0.25, 0.25),
    )


def mtcnn_net() -> FeatureNet:
    """The ``mtcnn`` network: the pretrained O-Net's convolutions (facenet-pytorch's weights).

    Raises:
        DataError: facenet-pytorch or its ``onet.pt`` is not installed, or the file is unusable.
    """
    from supervised.face_detect import ONet, facenet_weights_dir, pretrained_state

    folder = facenet_weights_dir()
    path = folder / "onet.pt" if folder is not None else None
    if path is None or not path.is_file():
        raise DataError(
            "--network mtcnn needs the O-Net weights of the facenet-pytorch wheel "
            "(make install puts them there); none found"
        )
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
        net = ONet()
        net.load_state_dict(pretrained_state(ONet, state))
    except Exception as err:  # noqa: BLE001 - any failure means the same: unusable file
        raise DataError(f"{path}: not usable O-Net weights ({err})") from None
    prelus = tuple(i for i, m in enumerate(net.body) if isinstance(m, nn.PReLU))
    # The O-Net was trained on (rgb * 255 - 127.5) / 128.
    return FeatureNet(
        "mtcnn",
        "MTCNN O-Net convolutions (facenet_pytorch/data/onet.pt)",
        net.body,
        prelus,
        (prelus[2],),
        (127.5 / 255,) * 3,
        (128 / 255,) * 3,
    )


def vgg19_net(weights: str | os.PathLike) -> FeatureNet:
    """The ``vgg19`` network with the weights of the state dict file ``weights``.

    Raises:
        DataError: see :func:`supervised.vgg.load_vgg19`.
    """
    from supervised import vgg

    body = vgg.load_vgg19(weights)[: max(vgg.LAYERS.values()) + 1]
    return FeatureNet(
        "vgg19",
        f"VGG-19 ({weights})",
        body,
        tuple(vgg.LAYERS[name] for name in vgg.STYLE_LAYERS),
        tuple(vgg.LAYERS[name] for name in vgg.CONTENT_LAYERS),
        vgg.IMAGENET_MEAN,
        vgg.IMAGENET_STD,
    )


def feature_net(
    network: str | None = None, weights: str | os.PathLike | None = None, seed: int = 0
) -> FeatureNet:
    """The network named ``network`` (default: ``vgg19`` with ``weights``, else ``random``).

    Raises:
        DataError: an unknown name, ``vgg19`` without ``weights`` or ``weights`` with another
            network, or weights that cannot be used.
    """
    network = network or ("vgg19" if weights is not None else "random")
    if network not in NETWORKS:
        raise DataError(f"unknown network {network!r} (networks: {', '.join(NETWORKS)})")
    if network == "vgg19":
        if weights is None:
            raise DataError(
                "--network vgg19 needs --weights FILE (torchvision's VGG-19 state dict)"
            )
        return vgg19_net(weights)
    if weights is not None:
        raise DataError(f"--weights is a VGG-19 state dict; --network {network} takes none")
    return random_net(seed) if network == "random" else mtcnn_net()
