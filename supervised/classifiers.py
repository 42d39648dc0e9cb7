"""Classifiers trained with cross-entropy, and the course's MLP and CNN experiments.

Training helpers for any classifier of :mod:`supervised.networks` (or any module that returns
logits): :func:`cross_entropy` (a :func:`supervised.train.fit` loss), :func:`accuracy` (a metric),
:func:`predict_classes`, and :func:`train_classifier`, which fits on a train/validation/test
:class:`supervised.data.Split` and returns the history and the test metrics.

The experiments, ``rlcourse supervised mlp|cnn --out DIR``, both train through
:func:`supervised.train.fit` on a seeded 70/15/15 train/validation/test split (the seed also
drives the weights and the batch order: same seed, same metrics except the timings), and run
single-threaded: these models are so small that torch's intra-op threads cost more than they
gain, and on a busy 2-core machine their spinning slows training 10-30×.

:func:`mlp_experiment` writes ``history.csv|png`` (the digit MLP's losses per epoch),
``xor_decision.png`` (the XOR network's output over the unit square with the 4 points and the
0.5 contour) and returns the metrics (``rlcourse supervised mlp`` writes them to ``metrics.json``)
with keys

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
true→pred labels left to right in the title) and returns the metrics (``rlcourse supervised
cnn`` writes them to ``metrics.json``) with the digit MLP's keys from
``test_accuracy`` to ``train_seconds`` (for the CNN; on digits ``test_accuracy`` ≥ 0.98) and

- ``n_errors``: misclassified test images;
- ``image_size``: side of the input images in pixels (8 for digits, 28 for MNIST);
- ``mnist``: 1 when trained on the user's MNIST files, 0 on scikit-learn's digits.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common.figures import save_figure
from supervised.data import Dataset, Split, check_labels, load_digits, load_mnist, split
from supervised.networks import CNN, MLP
from supervised.plots import confusion_matrix_plot, image_grid
from supervised.train import (
    History,
    TrainConfig,
    as_tensor,
    count_parameters,
    fit,
    seed_torch,
    single_thread,
)

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


# -- training classifiers --------------------------------------------------------------------


def cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the model's logits against class indices (a :func:`fit` loss)."""
    return nn.functional.cross_entropy(model(x), y)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of examples whose highest logit is the label (a :func:`fit` metric)."""
    return float((predict_classes(model, x) == as_tensor(y, dtype=None)).double().mean())


def predict_classes(model: nn.Module, x, batch_size: int = 512) -> torch.Tensor:
    """Predicted classes (argmax of the logits), in evaluation mode, without gradients."""
    x = as_tensor(x)
    model.eval()
    with torch.no_grad():
        parts = [model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)


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
        "n_parameters": count_parameters(model),
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
    return save_figure(fig, path, dpi=110)


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
        The metrics (see the module docstring), which :func:`supervised.experiments.run`
        writes to ``metrics.json``.
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
    return metrics


def cnn_data(
    seed: int = 0, mnist_images=None, mnist_labels=None, mnist_limit: int | None = MNIST_LIMIT
) -> Dataset:
    """The CNN's data: scikit-learn's digits, or (a seeded subset of) the user's MNIST files.

    Raises:
        DataError: unreadable MNIST files, or labels outside 0..9.
    """
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
        The metrics (see the module docstring), which :func:`supervised.experiments.run`
        writes to ``metrics.json``.

    Raises:
        DataError: unreadable MNIST files, or labels outside 0..9.
    """
    out = Path(out)
    mnist = mnist_images is not None or mnist_labels is not None
    data = cnn_data(seed, mnist_images, mnist_labels, mnist_limit)
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
        pred = predict_classes(model, parts.test.x).numpy()
    wrong = np.flatnonzero(pred != parts.test.y)
    metrics |= {"n_errors": len(wrong), "image_size": data.x.shape[-1], "mnist": int(mnist)}
    history.save(out)
    _plot_errors(parts.test, pred, wrong, metrics["test_accuracy"], out, "MNIST" if mnist else "")
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
