"""Multilayer perceptrons and convolutional networks: the course's classifiers, DQN's Q-networks.

All are ``torch.nn.Module``; inputs are batches, and a wrong shape is a ``ValueError`` that names
the expected and the given shape. This module imports torch and numpy only (no plotting), so an
agent that builds a Q-network imports nothing else; the experiments that train and plot these
networks live in :mod:`supervised.classifiers`.

- :class:`MLP` — fully connected layers of any widths and activation; :func:`mlp_for_spaces` is
  the Q-network for vector observations (``n_inputs`` numbers in, ``n_outputs`` values out).
- :class:`CNN` — a classifier of 1-channel images of any size from 4×4 up (8×8 digits, 28×28
  MNIST): two convolutional blocks, then adaptive average pooling to 2×2 and a linear layer.
- :func:`conv_features` — a stack of stride-2 convolutions, the feature extractor of
  :class:`ConvQNet`, the Q-network for image observations that :func:`cnn_for_shape` builds
  from an observation shape (channel-last ``(H, W, C)`` uint8 pixels like the gridworld's, or
  channel-first ``(C, H, W)`` floats); :class:`MultiInputQNet` reads observations of several
  arrays (images through their own convolutions, vectors as they are) through one head.

>>> q = mlp_for_spaces(4, 2, hidden=(64, 64))            # CartPole: 4 numbers -> 2 Q-values
>>> q = cnn_for_shape((40, 40, 3), 4, hidden=(128,))      # gridworld "rgb" -> 4 Q-values

:func:`mlp_parameters`, :func:`image_features_size` and :func:`q_network_parameters` count a
network's parameters by arithmetic from the same sizes, without building it (memory estimates).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "gelu": nn.GELU,
}
"""Activation names accepted by :class:`MLP`."""


def _check_sizes(name: str, sizes: Sequence[int]) -> None:
    if any(not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 1 for s in sizes):
        raise ValueError(f"{name} must be positive integers, got {tuple(sizes)}")


class MLP(nn.Module):
    """A multilayer perceptron: ``Linear → activation (→ dropout)`` per hidden layer.

    Inputs are ``(n, sizes[0])``, or ``(n, ...)`` with ``sizes[0]`` numbers per example (images
    are flattened); any numeric dtype is cast to the weights' dtype. Outputs are
    ``(n, sizes[-1])``, raw (logits, Q-values) unless ``output_activation`` is given.

    Args:
        sizes: layer widths, inputs first and outputs last: ``(64, 128, 10)`` is one hidden layer.
        activation: of the hidden layers: ``relu``, ``tanh``, ``sigmoid``, ``elu`` or ``gelu``.
        output_activation: an activation name for the outputs, or None for none.
        dropout: probability of zeroing a hidden unit during training (0: no dropout layers).

    Raises:
        ValueError: fewer than two sizes, a size below 1, an unknown activation, or dropout
            outside [0, 1).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        output_activation: str | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        sizes = tuple(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least input and output sizes, got {sizes}")
        _check_sizes("MLP sizes", sizes)
        for name in (activation, output_activation):
            if name is not None and name not in ACTIVATIONS:
                raise ValueError(
                    f"unknown activation {name!r} (activations: {', '.join(ACTIVATIONS)})"
                )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.sizes = sizes
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        if output_activation is not None:
            layers.append(ACTIVATIONS[output_activation]())
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, sizes[0])`` (or ``(n, ...)`` of that many numbers) → ``(n, sizes[-1])``."""
        if x.ndim < 2 or math.prod(x.shape[1:]) != self.sizes[0]:
            raise ValueError(f"MLP expects inputs (n, {self.sizes[0]}), got shape {tuple(x.shape)}")
        dtype = self.layers[0].weight.dtype
        return self.layers(x.reshape(len(x), -1).to(dtype))

    def numpy_forward(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """A numpy copy of the current weights as a function ``(n, ...) → (n, sizes[-1])``.

        For acting one observation at a time (DQN): torch's per-operation dispatch costs more
        than the arithmetic of one small input. The copy does not follow later updates; take a new
        one after training. None where the copy would not be exact: other activations than ReLU,
        an output activation, or dropout.
        """
        if not all(isinstance(layer, (nn.Linear, nn.ReLU)) for layer in self.layers) or isinstance(
            self.layers[-1], nn.ReLU
        ):
            return None
        weights = [
            (layer.weight.detach().numpy().T.copy(), layer.bias.detach().numpy().copy())
            for layer in self.layers
            if isinstance(layer, nn.Linear)
        ]

        def forward(x: np.ndarray) -> np.ndarray:
            h = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
            for i, (weight, bias) in enumerate(weights):
                h = h @ weight + bias
                if i < len(weights) - 1:
                    np.maximum(h, 0.0, out=h)
            return h

        return forward


def mlp_for_spaces(
    n_inputs: int, n_outputs: int, hidden: Sequence[int] = (64, 64), activation: str = "relu"
) -> MLP:
    """The MLP ``n_inputs → hidden... → n_outputs`` with raw outputs (DQN's Q-network).

    Args:
        n_inputs: numbers per observation (``prod(observation_space.shape)``).
        n_outputs: outputs, e.g. one Q-value per action.
        hidden: widths of the hidden layers (``()`` gives a linear model).
        activation: of the hidden layers (see :data:`ACTIVATIONS`).
    """
    return MLP((n_inputs, *hidden, n_outputs), activation=activation)


class DuelingHead(nn.Module):
    """Dueling Q-values (Wang et al., 2016): ``Q = V + A − mean_a A`` from two MLP streams.

    ``value``: ``n_inputs → hidden... → 1``; ``advantage``: ``n_inputs → hidden... → n_outputs``.
    Subtracting the advantages' mean makes V and A identifiable (Q's mean over actions is V), and
    every action's Q passes its gradient to V. Inputs as :class:`MLP`'s.
    """

    def __init__(self, n_inputs: int, n_outputs: int, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        self.value = mlp_for_spaces(n_inputs, 1, hidden)
        self.advantage = mlp_for_spaces(n_inputs, n_outputs, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, n_inputs)`` → ``(n, n_outputs)``."""
        advantage = self.advantage(x)
        return self.value(x) + advantage - advantage.mean(dim=1, keepdim=True)


def q_head(n_inputs: int, n_outputs: int, hidden: Sequence[int], dueling: bool = False):
    """A Q-network's head: an MLP, or a :class:`DuelingHead` of two."""
    if dueling:
        return DuelingHead(n_inputs, n_outputs, hidden)
    return mlp_for_spaces(n_inputs, n_outputs, hidden)


def q_head_parameters(n_inputs: int, n_outputs: int, hidden: Sequence[int], dueling: bool) -> int:
    """The parameters of :func:`q_head`: one MLP, or a value and an advantage stream."""
    if dueling:
        return mlp_parameters((n_inputs, *hidden, 1)) + mlp_parameters(
            (n_inputs, *hidden, n_outputs)
        )
    return mlp_parameters((n_inputs, *hidden, n_outputs))


def mlp_parameters(sizes: Sequence[int]) -> int:
    """The parameters of :class:`MLP` ``(sizes)``: a weight matrix and a bias per layer."""
    return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False))


def _conv_block(n_in: int, n_out: int) -> list[nn.Module]:
    return [nn.Conv2d(n_in, n_out, 3, padding=1), nn.BatchNorm2d(n_out), nn.ReLU()]


class CNN(nn.Module):
    """A small convolutional classifier of images ``(n, in_channels, height, width)``.

    ``conv-conv-pool-conv-pool`` (3×3 convolutions with batch norm and ReLU, 2×2 max pooling),
    adaptive average pooling to 2×2 — so one network takes 8×8 digits and 28×28 MNIST alike —
    then dropout and a linear layer to ``n_classes`` logits. Height and width must be >= 4.

    Args:
        in_channels: channels of the input images (1 for grayscale).
        n_classes: outputs (logits).
        channels: output channels of the first two and of the third convolution.
        dropout: dropout before the linear layer.
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_classes: int = 10,
        channels: tuple[int, int] = (32, 64),
        dropout: float = 0.3,
    ):
        super().__init__()
        _check_sizes("CNN in_channels, n_classes and channels", (in_channels, n_classes, *channels))
        if len(channels) != 2:
            raise ValueError(f"CNN channels must be two numbers, got {tuple(channels)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        c1, c2 = channels
        self.in_channels = in_channels
        self.features = nn.Sequential(
            *_conv_block(in_channels, c1),
            *_conv_block(c1, c1),
            nn.MaxPool2d(2),
            *_conv_block(c1, c2),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(4 * c2, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(n, in_channels, height, width)`` → logits ``(n, n_classes)``."""
        if x.ndim != 4 or x.shape[1] != self.in_channels or min(x.shape[2:]) < 4:
            raise ValueError(
                f"CNN expects images (n, {self.in_channels}, height, width) with height and "
                f"width >= 4, got shape {tuple(x.shape)}"
            )
        return self.head(self.features(x.to(self.head[-1].weight.dtype)))


def conv_features(in_channels: int, channels: Sequence[int] = (16, 32, 32)) -> nn.Sequential:
    """3×3 stride-2 convolutions with ReLU: each halves height and width (rounding up).

    Args:
        in_channels: channels of the input images ``(n, in_channels, H, W)``.
        channels: output channels of each convolution.
    """
    _check_sizes("conv channels", (in_channels, *channels))
    layers: list[nn.Module] = []
    for n_in, n_out in zip((in_channels, *channels[:-1]), channels, strict=True):
        layers += [nn.Conv2d(n_in, n_out, 3, stride=2, padding=1), nn.ReLU()]
    return nn.Sequential(*layers)


SMALL_IMAGE = 16
"""Images whose height or width is at most this (MinAtar's 10×10, Minigrid's 7×7 view) are read
by one 3×3 stride-1 convolution, as in MinAtar's DQN (Young & Tian, 2019): stride-2
convolutions would shrink them to a pixel or two."""


def _image_layout(shape: Sequence[int], channels_last: bool | None) -> tuple[int, int, int, bool]:
    """``(in_channels, height, width, channels_last)`` of an image shape (see ImageFeatures)."""
    shape = tuple(int(s) for s in shape)
    if channels_last is None:
        channels_last = shape[2] <= 4 < shape[0]
    in_channels, height, width = (shape[2], *shape[:2]) if channels_last else shape
    return in_channels, height, width, channels_last


def image_features_size(
    shape: Sequence[int], channels: Sequence[int] = (16, 32, 32), channels_last: bool | None = None
) -> tuple[int, int]:
    """``(parameters, features per image)`` of :class:`ImageFeatures`, by arithmetic.

    A 3×3 stride-2 convolution with padding 1 makes ``ceil(n / 2)`` of ``n`` pixels; the small
    images' 3×3 convolution without padding ``n - 2``.
    """
    in_channels, height, width, _ = _image_layout(shape, channels_last)
    if min(height, width) <= SMALL_IMAGE:
        layers, height, width = [(in_channels, channels[0])], height - 2, width - 2
    else:
        layers = list(zip((in_channels, *channels[:-1]), channels, strict=True))
        for _ in channels:
            height, width = -(-height // 2), -(-width // 2)
    parameters = sum((9 * n_in + 1) * n_out for n_in, n_out in layers)
    return parameters, layers[-1][1] * height * width


def q_network_parameters(
    shape: Sequence[int] | dict[str, Sequence[int]],
    n_outputs: int,
    hidden: Sequence[int],
    dueling: bool = False,
) -> int:
    """The parameters of DQN's Q-network for observations stored as ``shape``, by arithmetic.

    The network DQN builds (``agents.dqn.q_network``): an MLP of a vector, a
    :class:`ConvQNet` of an image (3-D), a :class:`MultiInputQNet` of several arrays; with
    ``dueling``, their head is a :class:`DuelingHead`.
    """
    parts = shape if isinstance(shape, dict) else {"": shape}
    if not isinstance(shape, dict) and len(shape) != 3:
        return q_head_parameters(math.prod(shape), n_outputs, hidden, dueling)
    parameters, features = 0, 0
    for part in parts.values():
        if len(part) == 3:
            conv, size = image_features_size(part)
            parameters, features = parameters + conv, features + size
        else:
            features += math.prod(part)
    return parameters + q_head_parameters(features, n_outputs, hidden, dueling)


class ImageFeatures(nn.Sequential):
    """Convolutional features of images of one shape, as numbers and channel-first, flattened.

    :func:`conv_features` for images larger than :data:`SMALL_IMAGE`; one 3×3 convolution (no
    padding, ``channels[0]`` channels) and a ReLU for smaller ones.

    Inputs are batches ``(n, *shape)``: uint8 pixels are divided by 255, other tensors (floats,
    MinAtar's boolean channels) are used as numbers as they are; channel-last batches
    ``(n, H, W, C)`` are moved to channel-first inside. ``size`` is the features per image.

    Args:
        shape: one image's shape, ``(H, W, C)`` if ``channels_last`` else ``(C, H, W)``.
        channels: output channels of the stride-2 convolutions.
        channels_last: the layout of ``shape``; None infers it: channel-last when the last
            dimension is at most 4 and the first is larger (``(40, 40, 3)``), else channel-first.
    """

    def __init__(
        self,
        shape: Sequence[int],
        channels: Sequence[int] = (16, 32, 32),
        channels_last: bool | None = None,
    ):
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3:
            raise ValueError(f"a CNN needs an image shape (H, W, C) or (C, H, W), got {shape}")
        _check_sizes("image shape", shape)
        in_channels, height, width, channels_last = _image_layout(shape, channels_last)
        if min(height, width) <= SMALL_IMAGE:  # MinAtar's network: one stride-1 convolution
            _check_sizes("conv channels", channels[:1])
            super().__init__(nn.Conv2d(in_channels, channels[0], 3), nn.ReLU())
        else:
            super().__init__(*conv_features(in_channels, channels))
        self.shape, self.channels_last = shape, channels_last
        with torch.no_grad():
            self.size = self(torch.zeros(1, *shape)).shape[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(n, *shape)`` → features ``(n, size)``."""
        if tuple(x.shape[1:]) != self.shape or x.ndim != 4:
            raise ValueError(
                f"ImageFeatures expects images (n, {', '.join(map(str, self.shape))}), "
                f"got shape {tuple(x.shape)}"
            )
        dtype = self[0].weight.dtype
        x = x.to(dtype) / 255.0 if x.dtype == torch.uint8 else x.to(dtype)
        return super().forward(x.permute(0, 3, 1, 2) if self.channels_last else x).flatten(1)


class ConvQNet(nn.Module):
    """:class:`ImageFeatures` then an :class:`MLP` head: images → ``n_outputs`` values.

    Built for one observation shape; inputs are batches ``(n, *shape)`` (see
    :class:`ImageFeatures` for their dtype and layout).

    Args:
        shape: one observation's shape, ``(H, W, C)`` if ``channels_last`` else ``(C, H, W)``.
        n_outputs: outputs, e.g. one Q-value per action.
        hidden: widths of the head's hidden layers.
        channels: output channels of the stride-2 convolutions.
        channels_last: the layout of ``shape`` (None: inferred, see :class:`ImageFeatures`).
        dueling: the head is a :class:`DuelingHead` (value and advantage streams).
    """

    def __init__(
        self,
        shape: Sequence[int],
        n_outputs: int,
        hidden: Sequence[int] = (128,),
        channels: Sequence[int] = (16, 32, 32),
        channels_last: bool | None = None,
        dueling: bool = False,
    ):
        super().__init__()
        self.features = ImageFeatures(shape, channels, channels_last)
        self.shape, self.channels_last = self.features.shape, self.features.channels_last
        self.head = q_head(self.features.size, n_outputs, hidden, dueling)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Observations ``(n, *shape)`` → ``(n, n_outputs)``."""
        return self.head(self.features(x))


class MultiInputQNet(nn.Module):
    """Observations of several arrays (a Dict or Tuple space) → ``n_outputs`` values.

    Each image (3-D) part goes through its own :class:`ImageFeatures`; the other parts are
    already flat vectors. The features of all parts, concatenated in the given order, go through
    one :class:`MLP` head: what Stable-Baselines3's ``MultiInputPolicy`` does.

    Args:
        shapes: each part's name and shape (one observation's), in order.
        n_outputs: outputs, e.g. one Q-value per action.
        hidden: widths of the head's hidden layers.
        channels: output channels of each image's stride-2 convolutions.
        dueling: the head is a :class:`DuelingHead` (value and advantage streams).
    """

    def __init__(
        self,
        shapes: dict[str, Sequence[int]],
        n_outputs: int,
        hidden: Sequence[int] = (128,),
        channels: Sequence[int] = (16, 32, 32),
        dueling: bool = False,
    ):
        super().__init__()
        shapes = {name: tuple(int(n) for n in shape) for name, shape in shapes.items()}
        bad = {name: shape for name, shape in shapes.items() if len(shape) not in (1, 3)}
        if not shapes or bad:
            raise ValueError(f"MultiInputQNet needs vectors and images as parts, got {shapes}")
        self.shapes = shapes
        self.images = nn.ModuleDict(
            {
                str(i): ImageFeatures(shape, channels)
                for i, shape in enumerate(shapes.values())
                if len(shape) == 3
            }  # fmt: skip
        )
        size = sum(
            self.images[str(i)].size if len(shape) == 3 else shape[0]
            for i, shape in enumerate(shapes.values())
        )
        self.head = q_head(size, n_outputs, hidden, dueling)

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        """A batch of each part, ``{name: (n, *shape)}`` → ``(n, n_outputs)``."""
        if set(x) != set(self.shapes):
            raise ValueError(f"MultiInputQNet expects the parts {list(self.shapes)}, got {list(x)}")
        dtype = next(self.head.parameters()).dtype
        features = [
            self.images[str(i)](x[name]) if str(i) in self.images else x[name].to(dtype)
            for i, name in enumerate(self.shapes)
        ]
        return self.head(torch.cat(features, dim=1))


def cnn_for_shape(
    shape: Sequence[int],
    n_outputs: int,
    hidden: Sequence[int] = (128,),
    channels_last: bool | None = None,
    dueling: bool = False,
) -> ConvQNet:
    """DQN's Q-network for image observations of ``shape`` (see :class:`ConvQNet`).

    Args:
        shape: one observation's shape: ``(H, W, C)`` (e.g. the gridworld's ``(40, 40, 3)``
            uint8 pixels) or ``(C, H, W)``.
        n_outputs: one output per action.
        hidden: widths of the hidden layers of the head after the convolutions.
        channels_last: the layout of ``shape`` (None: inferred, see :class:`ConvQNet`).
        dueling: value and advantage streams (see :class:`DuelingHead`).
    """
    return ConvQNet(shape, n_outputs, hidden=hidden, channels_last=channels_last, dueling=dueling)


def non_finite(state: dict) -> list[str]:
    """Names of the floating-point tensors of a state dict that hold NaN or infinite values."""
    return [
        str(name)
        for name, tensor in state.items()
        if torch.is_tensor(tensor) and tensor.is_floating_point() and not tensor.isfinite().all()
    ]
