"""Multilayer perceptrons and convolutional networks: the course's classifiers, DQN's Q-networks.

Networks (all ``torch.nn.Module``; inputs are batches, a wrong shape is a ``ValueError`` that names
the expected and the given shape):

- :class:`MLP` — fully connected layers of any widths and activation; :func:`mlp_for_spaces` is
  the Q-network for vector observations (``n_inputs`` numbers in, ``n_outputs`` values out).
- :class:`CNN` — a classifier of 1-channel images of any size from 4×4 up (8×8 digits, 28×28
  MNIST): two convolutional blocks, then adaptive average pooling to 2×2 and a linear layer.
- :func:`conv_features` — a stack of stride-2 convolutions, the feature extractor of
  :class:`ConvQNet`, the Q-network for image observations that :func:`cnn_for_shape` builds
  from an observation shape (channel-last ``(H, W, C)`` uint8 pixels like the gridworld's, or
  channel-first ``(C, H, W)`` floats).

>>> q = mlp_for_spaces(4, 2, hidden=(64, 64))            # CartPole: 4 numbers -> 2 Q-values
>>> q = cnn_for_shape((40, 40, 3), 4, hidden=(128,))      # gridworld "rgb" -> 4 Q-values

Experiments (``rlcourse supervised mlp|cnn --out DIR``). Both train through
:func:`supervised.train.fit` on a seeded 70/15/15 train/validation/test split (the seed also
drives the weights and the batch order: same seed, same metrics except the timings), and run
single-threaded: these models are so small that torch's intra-op threads cost more than they
gain, and on a busy 2-core machine their spinning slows training 10-30×.

:func:`mlp_experiment` writes ``history.csv|png`` (the digit MLP's losses per epoch),
``xor_decision.png`` (the XOR network's output over the unit square with the 4 points and the
0.5 contour) and ``metrics.json`` with keys

- ``xor_accuracy``: fraction of the 4 XOR points classified right (1.0 when XOR is solved);
- ``xor_loss``: binary cross-entropy of the XOR network on the 4 points;
- ``test_accuracy``: the digit MLP's accuracy on the held-out test split (about 0.97);
- ``test_loss``: its mean cross-entropy on the test split;
- ``val_loss``: its lowest validation cross-entropy (the epoch whose weights are kept);
- ``val_accuracy``: its validation accuracy at that epoch;
- ``best_epoch``, ``epochs``: that epoch, and the epochs trained;
- ``n_train``, ``n_val``, ``n_test``: examples in each split;
- ``n_parameters``: trainable parameters of the digit MLP;
- ``train_seconds``: wall-clock seconds of the digit MLP's training.

:func:`cnn_experiment` writes ``history.csv|png``, ``confusion_matrix.png`` (test counts of true
row × predicted column), ``misclassified.png`` (up to 10 misclassified test images, their
true→pred labels left to right in the title) and ``metrics.json`` with the digit MLP's keys from
``test_accuracy`` to ``train_seconds`` (for the CNN; on digits ``test_accuracy`` ≥ 0.98) and

- ``n_errors``: misclassified test images;
- ``image_size``: side of the input images in pixels (8 for digits, 28 for MNIST);
- ``mnist``: 1 when trained on the user's MNIST files, 0 on scikit-learn's digits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from supervised.data import Dataset, Split, check_labels, load_digits, load_mnist, split
from supervised.experiments import save_metrics
from supervised.plots import confusion_matrix_plot, image_grid
from supervised.train import History, TrainConfig, as_tensor, fit, seed_torch

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "gelu": nn.GELU,
}
"""Activation names accepted by :class:`MLP`."""
XOR_STEPS = 500
"""Full-batch Adam steps of the XOR network (a fixed budget, whatever ``epochs`` says)."""
MLP_EPOCHS = 60
"""Default epochs of the digit MLP."""
CNN_EPOCHS = 40
"""Default epochs of the CNN on scikit-learn's digits (about 10 s here)."""
MNIST_EPOCHS = 4
"""Default epochs of the CNN on the user's MNIST files."""
MNIST_LIMIT = 4000
"""Default images used from the MNIST files (a seeded random subset, for speed; None: all)."""


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


class ConvQNet(nn.Module):
    """:func:`conv_features`, flattened, then an :class:`MLP` head: images → ``n_outputs`` values.

    Built for one observation shape. Inputs are batches ``(n, *shape)``: integer tensors (uint8
    pixels) are divided by 255, float tensors are used as they are; channel-last batches
    ``(n, H, W, C)`` are moved to channel-first inside.

    Args:
        shape: one observation's shape, ``(H, W, C)`` if ``channels_last`` else ``(C, H, W)``.
        n_outputs: outputs, e.g. one Q-value per action.
        hidden: widths of the head's hidden layers.
        channels: output channels of the stride-2 convolutions.
        channels_last: the layout of ``shape``; None infers it: channel-last when the last
            dimension is at most 4 and the first is larger (``(40, 40, 3)``), else channel-first.
    """

    def __init__(
        self,
        shape: Sequence[int],
        n_outputs: int,
        hidden: Sequence[int] = (128,),
        channels: Sequence[int] = (16, 32, 32),
        channels_last: bool | None = None,
    ):
        super().__init__()
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3:
            raise ValueError(f"ConvQNet needs an image shape (H, W, C) or (C, H, W), got {shape}")
        _check_sizes("ConvQNet shape", shape)
        if channels_last is None:
            channels_last = shape[2] <= 4 < shape[0]
        self.shape, self.channels_last = shape, channels_last
        c = shape[2] if channels_last else shape[0]
        self.features = conv_features(c, channels)
        with torch.no_grad():
            dummy = torch.zeros(1, *shape)
            n_features = self.features(self._channels_first(dummy)).numel()
        self.head = mlp_for_spaces(n_features, n_outputs, hidden)

    def _channels_first(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2) if self.channels_last else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Observations ``(n, *shape)`` → ``(n, n_outputs)``."""
        if tuple(x.shape[1:]) != self.shape or x.ndim != 4:
            raise ValueError(
                f"ConvQNet expects observations (n, {', '.join(map(str, self.shape))}), "
                f"got shape {tuple(x.shape)}"
            )
        dtype = self.head.layers[0].weight.dtype
        x = x.to(dtype) / 255.0 if not torch.is_floating_point(x) else x.to(dtype)
        return self.head(self.features(self._channels_first(x)).flatten(1))


def cnn_for_shape(
    shape: Sequence[int],
    n_outputs: int,
    hidden: Sequence[int] = (128,),
    channels_last: bool | None = None,
) -> ConvQNet:
    """DQN's Q-network for image observations of ``shape`` (see :class:`ConvQNet`).

    Args:
        shape: one observation's shape: ``(H, W, C)`` (e.g. the gridworld's ``(40, 40, 3)``
            uint8 pixels) or ``(C, H, W)``.
        n_outputs: one output per action.
        hidden: widths of the hidden layers of the head after the convolutions.
        channels_last: the layout of ``shape`` (None: inferred, see :class:`ConvQNet`).
    """
    return ConvQNet(shape, n_outputs, hidden=hidden, channels_last=channels_last)


# -- training helpers ------------------------------------------------------------------------


def cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the model's logits against class indices (a :func:`fit` loss)."""
    return nn.functional.cross_entropy(model(x), y)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of examples whose highest logit is the label (a :func:`fit` metric)."""
    return float((predict(model, x) == as_tensor(y, dtype=None)).double().mean())


def predict(model: nn.Module, x, batch_size: int = 512) -> torch.Tensor:
    """Predicted classes (argmax of the logits), in evaluation mode, without gradients."""
    x = as_tensor(x)
    model.eval()
    with torch.no_grad():
        parts = [model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block; restore the previous count after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train_classifier(
    model: nn.Module, parts: Split, config: TrainConfig
) -> tuple[History, dict[str, float]]:
    """Fit ``model`` with cross-entropy on ``parts``; return the history and test metrics.

    Raises:
        DataError: labels that are not integers in ``0..n_classes-1``.
    """
    n_classes = len(parts.train.classes)
    for name, part in (("train", parts.train), ("val", parts.val), ("test", parts.test)):
        check_labels(part.y, n_classes, f"{name} labels")
    start = time.perf_counter()
    history = fit(
        model,
        cross_entropy,
        (parts.train.x, parts.train.y),
        (parts.val.x, parts.val.y),
        config,
        metrics={"val_accuracy": accuracy},
    )
    seconds = time.perf_counter() - start
    best = history.rows[history.best_epoch - 1]
    x_test, y_test = as_tensor(parts.test.x), as_tensor(parts.test.y, dtype=None)
    model.eval()
    with torch.no_grad():
        test_loss = float(cross_entropy(model, x_test, y_test)) if len(y_test) else math.nan
    metrics = {
        "test_accuracy": accuracy(model, x_test, y_test) if len(y_test) else math.nan,
        "test_loss": test_loss,
        "val_loss": best["val_loss"],
        "val_accuracy": best["val_accuracy"],
        "best_epoch": history.best_epoch,
        "epochs": len(history.rows),
        "n_train": len(parts.train.y),
        "n_val": len(parts.val.y),
        "n_test": len(parts.test.y),
        "n_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "train_seconds": seconds,
    }
    return history, metrics


# -- experiments -----------------------------------------------------------------------------

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
"""The four XOR inputs."""
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float32)
"""Their targets: 1 when exactly one input is 1."""


def bce_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the model's logit against 0/1 targets (a :func:`fit` loss)."""
    return nn.functional.binary_cross_entropy_with_logits(model(x), y)


def train_xor(seed: int = 0, steps: int = XOR_STEPS, progress: bool = False) -> MLP:
    """A 2-8-1 tanh MLP fitted to XOR by full-batch Adam (``steps`` epochs of one batch)."""
    seed_torch(seed)
    model = MLP((2, 8, 1), activation="tanh")
    config = TrainConfig(epochs=steps, batch_size=4, lr=0.05, seed=seed, progress=progress)
    fit(model, bce_loss, (XOR_X, XOR_Y), config=config)
    return model


def plot_xor(model: nn.Module, path: Path) -> Path:
    """The network's output over the unit square, its 0.5 contour, and the 4 XOR points."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    grid = np.linspace(-0.25, 1.25, 151, dtype=np.float32)
    gx, gy = np.meshgrid(grid, grid)
    with torch.no_grad():
        p = torch.sigmoid(model(torch.as_tensor(np.c_[gx.ravel(), gy.ravel()]))).numpy()
    p = p.reshape(gx.shape)
    fig = Figure(figsize=(5.2, 5.2), layout="constrained")
    ax = fig.add_subplot()
    image = ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.8)
    ax.contour(gx, gy, p, levels=[0.5], colors="black", linewidths=2)
    for label, marker, color in ((0, "o", "tab:blue"), (1, "s", "tab:red")):
        points = XOR_X[XOR_Y[:, 0] == label]
        style = {"s": 120, "marker": marker, "c": color, "edgecolors": "black", "zorder": 3}
        ax.scatter(*points.T, label=f"XOR = {label}", **style)
    ax.add_patch(Rectangle((0, 0), 1, 1, fill=False, linestyle=":", edgecolor="grey"))
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal")
    ax.set_title("XOR: learned decision boundary (black: p = 0.5)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=2)
    fig.colorbar(image, ax=ax, label="p(XOR = 1)", shrink=0.85)
    fig.savefig(path, dpi=110)
    return path


def mlp_experiment(
    out: Path, *, epochs: int | None = None, seed: int = 0, progress: bool = True
) -> dict[str, float]:
    """XOR with a 2-8-1 network, then a 64-128-64-10 MLP on scikit-learn's 8×8 digits.

    Args:
        out: output directory (created); see the module docstring for what is written.
        epochs: epochs of the digit MLP (default :data:`MLP_EPOCHS`); XOR always takes
            :data:`XOR_STEPS` steps.
        seed: drives the split, the weights and the batch order.
        progress: show a progress bar over epochs (on a terminal).

    Returns:
        The metrics written to ``metrics.json``.
    """
    out = Path(out)
    parts = split(load_digits(), seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    with single_thread():
        xor = train_xor(seed, progress=progress)
        with torch.no_grad():
            logits = xor(torch.as_tensor(XOR_X))
            xor_loss = float(bce_loss(xor, torch.as_tensor(XOR_X), torch.as_tensor(XOR_Y)))
        xor_accuracy = float(((logits > 0).float() == torch.as_tensor(XOR_Y)).float().mean())
        seed_torch(seed)
        model = MLP((64, 128, 64, 10), activation="relu", dropout=0.1)
        config = TrainConfig(
            epochs=epochs or MLP_EPOCHS, batch_size=32, lr=1e-3, seed=seed, progress=progress
        )
        history, metrics = train_classifier(model, parts, config)
    metrics = {"xor_accuracy": xor_accuracy, "xor_loss": xor_loss, **metrics}
    plot_xor(xor, out / "xor_decision.png")
    history.save(out)
    save_metrics(out, metrics)
    return metrics


def _cnn_data(seed: int, mnist_images, mnist_labels, mnist_limit: int | None) -> Dataset:
    if mnist_images is None and mnist_labels is None:
        return load_digits()
    if mnist_images is None or mnist_labels is None:
        raise ValueError("give both mnist_images and mnist_labels, or neither")
    data = load_mnist(mnist_images, mnist_labels)
    if mnist_limit is not None and len(data.y) > mnist_limit:
        data = data.subset(np.random.default_rng(seed).permutation(len(data.y))[:mnist_limit])
    return data


def cnn_experiment(
    out: Path,
    *,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    mnist_images: str | Path | None = None,
    mnist_labels: str | Path | None = None,
    mnist_limit: int | None = MNIST_LIMIT,
) -> dict[str, float]:
    """A :class:`CNN` on scikit-learn's 8×8 digits, or on the user's MNIST IDX files.

    Args:
        out: output directory (created); see the module docstring for what is written.
        epochs: training epochs (default :data:`CNN_EPOCHS` on digits, :data:`MNIST_EPOCHS` on
            MNIST).
        seed: drives the split (and the MNIST subset), the weights and the batch order.
        progress: show a progress bar over epochs (on a terminal).
        mnist_images: an MNIST IDX image file (plain or gzip); with ``mnist_labels``, the CNN
            trains on these instead of the digits.
        mnist_labels: the matching IDX label file.
        mnist_limit: use a seeded random subset of this many MNIST images (None: all of them;
            the default keeps a run near half a minute here; all 60 000 training images take
            about 1.5 minutes an epoch on one core).

    Returns:
        The metrics written to ``metrics.json``.

    Raises:
        DataError: unreadable MNIST files, or labels outside 0..9.
    """
    out = Path(out)
    mnist = mnist_images is not None or mnist_labels is not None
    data = _cnn_data(seed, mnist_images, mnist_labels, mnist_limit)
    parts = split(data, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    with single_thread():
        seed_torch(seed)
        model = CNN(in_channels=data.x.shape[1], n_classes=len(data.classes))
        config = TrainConfig(
            epochs=epochs or (MNIST_EPOCHS if mnist else CNN_EPOCHS),
            batch_size=64,
            lr=2e-3,
            seed=seed,
            progress=progress,
        )
        history, metrics = train_classifier(model, parts, config)
        pred = predict(model, parts.test.x).numpy()
    wrong = np.flatnonzero(pred != parts.test.y)
    metrics |= {"n_errors": len(wrong), "image_size": data.x.shape[-1], "mnist": int(mnist)}
    history.save(out)
    _plot_errors(parts.test, pred, wrong, metrics["test_accuracy"], out, "MNIST" if mnist else "")
    save_metrics(out, metrics)
    return metrics


def _plot_errors(
    test: Dataset, pred: np.ndarray, wrong: np.ndarray, accuracy_: float, out: Path, name: str
) -> None:
    from sklearn.metrics import confusion_matrix

    classes = test.classes
    matrix = confusion_matrix(test.y, pred, labels=range(len(classes)))
    data = name or "digits"
    confusion_matrix_plot(
        matrix,
        classes,
        out / "confusion_matrix.png",
        f"CNN on {data}: test accuracy {accuracy_:.1%} of {len(test.y)}",
    )
    shown = wrong[:10]
    pairs = " ".join(f"{classes[test.y[i]]}→{classes[pred[i]]}" for i in shown)
    title = (
        f"{len(wrong)} misclassified test {data}, true→pred: {pairs}"
        if len(shown)
        else f"No misclassified test {data}"
    )
    image_grid(test.x[shown], out / "misclassified.png", title=title, columns=10)
