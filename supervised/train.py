"""One small training loop for every torch model: epochs, mini-batches, validation, early stopping.

>>> history = fit(model, loss, (x_train, y_train), (x_val, y_val), TrainConfig(epochs=20))
>>> history.save(out)          # history.csv and history.png

``loss(model, x, y)`` returns the mean loss of a batch as a scalar tensor (so autoencoders and
VAEs, whose loss needs more than the outputs, use the same loop). Extra ``metrics`` are computed
on the validation set after every epoch.

Beside the loop, what every torch model here trains with: :func:`seed_torch`,
:func:`count_parameters`, :func:`single_thread` (the course's networks train fastest on one
thread). ``FlatParameters`` and ``flush_denormals`` live in :mod:`common.parameters`; importing
them from here is deprecated (kept for one release).
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from common import devices
from common.atomic import atomic_path
from common.deprecation import moved

Loss = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
Metric = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], float]
OPTIMIZERS = ("adam", "sgd")

__getattr__ = moved("supervised.train", "common.parameters", {"FlatParameters", "flush_denormals"})


def check_budget(epochs: int, batch_size: int, lr: float) -> None:
    """Refuse a training budget that cannot train: epochs or batch size below 1, lr not > 0."""
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of :func:`fit`."""

    epochs: int = 20
    """Passes over the training set."""
    batch_size: int = 64
    """Examples per gradient step."""
    lr: float = 1e-3
    """Learning rate."""
    optimizer: str = "adam"
    """``adam`` or ``sgd`` (with ``momentum``)."""
    momentum: float = 0.9
    """SGD momentum."""
    weight_decay: float = 0.0
    """L2 penalty added by the optimizer."""
    patience: int | None = None
    """Stop after this many epochs without a better validation loss (None: never)."""
    seed: int = 0
    """Seeds initialisation-independent randomness here: the batch order."""
    progress: bool = True
    """Show a progress bar over epochs (on a terminal)."""
    device: str | None = None
    """``auto``, ``cpu`` or ``cuda[:N]`` (None: :func:`common.devices.current`)."""

    def __post_init__(self):
        check_budget(self.epochs, self.batch_size, self.lr)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {self.patience}")


@dataclass
class History:
    """One row per epoch: ``epoch``, ``train_loss``, ``val_loss`` and the metrics."""

    rows: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    """The epoch whose weights the model ends with (lowest validation loss)."""

    def column(self, name: str) -> np.ndarray:
        """One column as an array."""
        return np.array([row[name] for row in self.rows])

    def save(self, directory: str | os.PathLike, name: str = "history") -> None:
        """Write ``<name>.csv`` and ``<name>.png`` (losses per epoch, best epoch marked)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.save_csv(directory / f"{name}.csv")
        self.save_plot(directory / f"{name}.png")

    def save_csv(self, path: str | os.PathLike) -> Path:
        """Write the rows as a CSV file, one line per epoch (6 significant digits)."""
        import pandas as pd

        with atomic_path(path) as temporary:
            pd.DataFrame(self.rows).to_csv(temporary, index=False, float_format="%.6g")
        return Path(path)

    def save_plot(self, path: str | os.PathLike) -> Path:
        """Plot ``train_loss`` and ``val_loss`` per epoch, the best epoch marked, as a PNG."""
        import pandas as pd
        from matplotlib.figure import Figure

        from common.figures import save_figure

        frame = pd.DataFrame(self.rows)
        fig = Figure(figsize=(6, 4), layout="constrained")
        ax = fig.add_subplot()
        for column in ("train_loss", "val_loss"):
            if column in frame:
                ax.plot(frame.epoch, frame[column], marker="o", markersize=3, label=column)
        if self.best_epoch:
            ax.axvline(self.best_epoch, color="grey", linestyle=":", label="best (kept)")
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Loss")
        ax.set_title("Training history")
        ax.grid(alpha=0.3)
        ax.legend()
        return save_figure(fig, path, dpi=110)


def as_tensor(array, dtype=torch.float32) -> torch.Tensor:
    """A tensor from a numpy array (no copy when possible)."""
    return array if isinstance(array, torch.Tensor) else torch.as_tensor(array, dtype=dtype)


def batches(n: int, batch_size: int, generator: torch.Generator | None = None):
    """Index tensors covering ``range(n)`` in mini-batches, shuffled when a generator is given."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def evaluate(model: torch.nn.Module, loss: Loss, x: torch.Tensor, y: torch.Tensor, batch_size=512):
    """Mean loss over a data set, in evaluation mode, without gradients."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for index in batches(len(x), batch_size):
            total += float(loss(model, x[index], y[index])) * len(index)
    return total / max(len(x), 1)


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer ``config`` names (Adam, or SGD with momentum) over the model's parameters."""
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        model.parameters(),
        config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )


def train_epoch(
    model: torch.nn.Module,
    loss: Loss,
    train: tuple[torch.Tensor, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """One pass over ``train`` in shuffled mini-batches, one step each; the mean batch loss."""
    x, y = train
    model.train()
    total = 0.0
    for index in batches(len(x), batch_size, generator):
        optimizer.zero_grad()
        batch_loss = loss(model, x[index], y[index])
        batch_loss.backward()
        optimizer.step()
        total += float(batch_loss.detach()) * len(index)
    return total / len(x)


def validate(
    model: torch.nn.Module,
    loss: Loss,
    val: tuple[torch.Tensor, torch.Tensor],
    metrics: dict[str, Metric] | None = None,
) -> dict[str, float]:
    """``val_loss`` and every metric on the validation set, in evaluation mode."""
    row = {"val_loss": evaluate(model, loss, *val)}
    model.eval()
    with torch.no_grad():
        row.update({name: float(m(model, *val)) for name, m in (metrics or {}).items()})
    return row


def fit(
    model: torch.nn.Module,
    loss: Loss,
    train: tuple,
    val: tuple | None = None,
    config: TrainConfig = TrainConfig(),
    metrics: dict[str, Metric] | None = None,
) -> History:
    """Train ``model`` by mini-batch gradient descent; keep the weights of the best epoch.

    Args:
        model: any ``torch.nn.Module``.
        loss: ``loss(model, x, y)`` -> mean batch loss.
        train: ``(x, y)`` arrays or tensors.
        val: ``(x, y)`` for validation (loss every epoch, early stopping, best weights).
        config: epochs, batch size, optimizer, ...
        metrics: ``{name: metric(model, x, y)}`` computed on the validation set every epoch.

    The model and the data train on ``config.device``; the model comes back on the CPU, where
    the course's plots and numpy code read it. The batch order depends on the seed alone, so a
    run takes the same batches on any device.

    Raises:
        ValueError: the training loss became NaN or infinite (lower the learning rate), or the
            device is not available (:func:`common.devices.resolve`).
    """
    device = devices.resolve(config.device) if config.device else devices.current()
    model.to(device)
    train = (as_tensor(train[0]).to(device), as_tensor(train[1], dtype=None).to(device))
    if val is not None:
        val = (as_tensor(val[0]).to(device), as_tensor(val[1], dtype=None).to(device))
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = make_optimizer(model, config)
    history, best, best_state, waited = History(), math.inf, None, 0
    epochs = tqdm(
        range(1, config.epochs + 1), disable=not config.progress or None, unit="epoch", leave=False
    )
    for epoch in epochs:
        train_loss = train_epoch(model, loss, train, optimizer, config.batch_size, generator)
        if not math.isfinite(train_loss):
            raise ValueError(f"training loss became {train_loss} in epoch {epoch}; lower the lr")
        row = {"epoch": epoch, "train_loss": train_loss}
        if val is not None:
            row.update(validate(model, loss, val, metrics))
        history.rows.append(row)
        current = row.get("val_loss", train_loss)
        epochs.set_postfix(loss=f"{train_loss:.4f}", val=f"{current:.4f}")
        if current < best:
            best, best_state, waited = current, copy.deepcopy(model.state_dict()), 0
            history.best_epoch = epoch
        else:
            waited += 1
            if config.patience is not None and waited >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.to("cpu")
    model.eval()
    return history


def seed_torch(seed: int) -> None:
    """Seed torch's global generator, which initialises layers' weights."""
    torch.manual_seed(seed)


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters (those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Run torch, and the BLAS under numpy and scikit-learn, on ``n`` threads inside the block.

    The previous thread counts come back after the block.
    """
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(n):
            yield
    finally:
        torch.set_num_threads(previous)


def single_thread() -> contextlib.AbstractContextManager[None]:
    """:func:`threads` (1): the fastest for the course's small networks and models.

    Intra-op threads cost them more than they gain: on a busy 2-core machine their spinning
    slows training 10-30×, and a scikit-learn logistic regression of the GAN's digit classifier
    40× (7 s instead of 0.17 s).
    """
    return threads(1)
