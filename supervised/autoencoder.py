"""Autoencoders: the dense 784→128→64→32→64→128→784 network and a convolutional variant.

An autoencoder learns to copy its input through a narrow *code*: the encoder maps a 28×28 image
(784 pixels) to 32 numbers, the decoder maps them back, and the loss is the mean squared
difference between input and output. The bottleneck forces a compression of
784 / 32 = 24.5 ≈ 25×, so the code must keep what matters about a digit — which is why
``model.encode(x)`` is useful as a feature extractor (``experiment`` checks this with a logistic
regression on the codes).

>>> model = DenseAutoencoder()
>>> history = fit(model, reconstruction_loss, (x, x), (x_val, x_val), TrainConfig(epochs=30))
>>> codes = model.encode(x)          # (n, 32)

``rlcourse supervised autoencoder --out DIR`` runs :func:`experiment` on scikit-learn's digits
upsampled to 28×28 and writes into ``DIR``:

- ``metrics.json`` with keys
    - ``dense_test_mse``: mean squared pixel error of the dense autoencoder on the test split;
    - ``conv_test_mse``: the same for the convolutional autoencoder;
    - ``baseline_test_mse``: the same for the trivial model that outputs the mean training image
      (both autoencoders should be far below it);
    - ``compression_ratio``: input pixels per code number, 784 / 32 = 24.5;
    - ``feature_logistic_accuracy``: test accuracy of a logistic regression (scikit-learn) trained
      on the dense encoder's 32-number codes of the training split;
    - ``pixel_logistic_accuracy``: the same logistic regression on the raw 784 pixels, for
      comparison (codes 25× smaller should lose little accuracy);
- ``reconstructions.png``: test digits (top row), the dense reconstructions and the conv ones;
- ``history_dense.csv|png`` and ``history_conv.csv|png``: losses per epoch.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from supervised.data import load_digits, split
from supervised.plots import image_grid
from supervised.train import TrainConfig, as_tensor, fit, seed_torch, single_thread

SIZE = 28
"""Side of the square input images, in pixels."""
CODE = 32
"""Numbers in the code (the bottleneck)."""
DENSE_SIZES = (SIZE * SIZE, 128, 64, CODE)
"""Widths of the dense encoder's layers; the decoder mirrors them."""
EPOCHS = 40
"""Default training budget of :func:`experiment` (each model)."""
LR = 3e-3
"""Adam learning rate of :func:`experiment` (both models)."""


def as_images(x, size: int = SIZE, name: str = "model") -> torch.Tensor:
    """``x`` as a float tensor of images ``(n, 1, size, size)``.

    Accepts ``(n, 1, size, size)``, ``(n, size, size)`` or flattened ``(n, size * size)`` arrays
    or tensors.

    Raises:
        ValueError: any other shape; the message names the expected and the actual shape.
    """
    x = as_tensor(x)
    shape = tuple(x.shape)
    if (
        (x.ndim == 4 and shape[1:] == (1, size, size))
        or (x.ndim == 3 and shape[1:] == (size, size))
        or (x.ndim == 2 and shape[1] == size * size)
    ):
        return x.reshape(len(x), 1, size, size).float()
    raise ValueError(
        f"{name} expects images of shape (n, 1, {size}, {size}), (n, {size}, {size}) or "
        f"(n, {size * size}), got {shape}"
    )


class DenseAutoencoder(nn.Module):
    """784→128→64→32 encoder and 32→64→128→784 decoder (ReLU inside, sigmoid output)."""

    def __init__(self):
        super().__init__()
        sizes = DENSE_SIZES
        encoder: list[nn.Module] = [nn.Flatten()]
        for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
            encoder += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
        decoder: list[nn.Module] = []
        back = sizes[::-1]
        for i, (a, b) in enumerate(zip(back, back[1:], strict=False)):
            decoder += [nn.Linear(a, b), nn.ReLU() if i < len(back) - 2 else nn.Sigmoid()]
        decoder.append(nn.Unflatten(1, (1, SIZE, SIZE)))
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*decoder)

    def encode(self, x) -> torch.Tensor:
        """Codes ``(n, 32)`` of images ``(n, 1, 28, 28)`` (or ``(n, 28, 28)``, ``(n, 784)``)."""
        return self.encoder(as_images(x, name=type(self).__name__))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``(n, 1, 28, 28)`` in [0, 1] from codes ``(n, 32)``."""
        return self.decoder(check_codes(z, CODE, type(self).__name__))

    def forward(self, x) -> torch.Tensor:
        """The reconstruction ``decode(encode(x))``, ``(n, 1, 28, 28)``."""
        return self.decode(self.encode(x))


class ConvAutoencoder(nn.Module):
    """Two stride-2 convolutions (28→14→7) and a linear layer to the same 32-number code.

    The decoder mirrors them with transposed convolutions.
    """

    def __init__(self, channels: tuple[int, int] = (16, 32)):
        super().__init__()
        c1, c2 = channels
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1),  # 28 → 14
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),  # 14 → 7
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c2 * 7 * 7, CODE),
        )
        self.decoder = nn.Sequential(
            nn.Linear(CODE, c2 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (c2, 7, 7)),
            nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1),  # 7 → 14
            nn.ReLU(),
            nn.ConvTranspose2d(c1, 1, 3, stride=2, padding=1, output_padding=1),  # 14 → 28
            nn.Sigmoid(),
        )

    encode = DenseAutoencoder.encode
    decode = DenseAutoencoder.decode
    forward = DenseAutoencoder.forward


def check_codes(z, width: int, name: str = "model") -> torch.Tensor:
    """``z`` as a float tensor ``(n, width)``, or a ValueError naming expected and actual shape."""
    z = as_tensor(z)
    if z.ndim != 2 or z.shape[1] != width:
        raise ValueError(f"{name} expects codes of shape (n, {width}), got {tuple(z.shape)}")
    return z.float()


def reconstruction_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error between ``model(x)`` and the target images ``y``.

    For a plain autoencoder ``y`` is ``x`` itself; a noisy ``x`` with a clean ``y`` trains a
    denoising autoencoder with the same function.
    """
    output = model(x)
    return F.mse_loss(output, y.reshape(output.shape))


def codes(model: nn.Module, x, batch_size: int = 512) -> np.ndarray:
    """``model.encode`` over ``x`` in batches, without gradients, as a numpy array."""
    model.eval()
    x = as_tensor(x)
    with torch.no_grad():
        parts = [model.encode(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return torch.cat(parts).numpy()


def reconstruction_mse(model: nn.Module, x) -> float:
    """Mean squared pixel error of ``model``'s reconstructions of ``x``."""
    model.eval()
    x = as_images(x)
    with torch.no_grad():
        return float(F.mse_loss(model(x), x))


def logistic_accuracy(train_x, train_y, test_x, test_y) -> float:
    """Test accuracy of a standardized logistic regression (scikit-learn) on the features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    classifier.fit(np.asarray(train_x).reshape(len(train_x), -1), train_y)
    return float(classifier.score(np.asarray(test_x).reshape(len(test_x), -1), test_y))


def experiment(
    out: str | os.PathLike, *, epochs: int | None = None, seed: int = 0, progress: bool = True
) -> dict[str, float]:
    """Train the dense and the convolutional autoencoder on 28×28 digits; write plots to ``out``.

    Args:
        out: output directory (created).
        epochs: training epochs of each model (default :data:`EPOCHS`).
        seed: seeds the split, the initial weights and the batch order.
        progress: show progress bars.

    Training runs on one torch thread (fastest for networks this small).

    Returns:
        The metrics (see the module docstring), which :func:`supervised.experiments.run`
        writes to ``metrics.json``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    parts = split(load_digits(size=SIZE), seed=seed)
    train, val, test = parts.train, parts.val, parts.test
    config = TrainConfig(epochs=epochs or EPOCHS, lr=LR, seed=seed, progress=progress)
    metrics: dict[str, float] = {}
    models: dict[str, nn.Module] = {}
    for name, build in (("dense", DenseAutoencoder), ("conv", ConvAutoencoder)):
        seed_torch(seed)
        model = build()
        with single_thread():
            history = fit(model, reconstruction_loss, (train.x, train.x), (val.x, val.x), config)
        history.save(out, name=f"history_{name}")
        metrics[f"{name}_test_mse"] = reconstruction_mse(model, test.x)
        models[name] = model
    mean_image = train.x.mean(axis=0, keepdims=True)
    metrics["baseline_test_mse"] = float(np.mean((test.x - mean_image) ** 2))
    metrics["compression_ratio"] = SIZE * SIZE / CODE
    dense = models["dense"]
    metrics["feature_logistic_accuracy"] = logistic_accuracy(
        codes(dense, train.x), train.y, codes(dense, test.x), test.y
    )
    metrics["pixel_logistic_accuracy"] = logistic_accuracy(train.x, train.y, test.x, test.y)
    shown = torch.as_tensor(test.x[:10])
    with torch.no_grad():
        rows = [shown, models["dense"](shown), models["conv"](shown)]
    image_grid(
        torch.cat(rows).numpy(),
        out / "reconstructions.png",
        title="Test digits and their reconstructions (32-number codes)",
        row_labels=("original", "dense", "conv"),
    )
    return metrics
