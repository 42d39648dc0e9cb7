"""A small DCGAN (Radford et al., 2016) that learns to draw 16×16 digits.

Two networks play a game. The generator ``G`` turns noise ``z ~ N(0, I)`` into an image (a
``tanh`` output in [−1, 1]; the real digits are scaled to the same range, and :func:`generate`
maps images back to [0, 1]). The discriminator ``D`` outputs a logit ``D(x)``, with
``σ(D(x))`` its belief that ``x`` is real. Each training step (:func:`train_step`):

1. ``D`` descends ``−[t · log σ(D(x)) + (1 − t) · log(1 − σ(D(x)))] − log(1 − σ(D(G(z))))``, the
   cross-entropy with target ``t`` for real images and 0 for generated ones
   (:func:`discriminator_loss`);
2. ``G`` descends ``−log σ(D(G(z)))`` (:func:`generator_loss`): the *non-saturating* loss, which
   gives ``G`` strong gradients early on, when ``D`` easily rejects its images (minimising
   ``log(1 − σ(D(G(z))))`` instead would give almost none).

GANs do not fit the one-loss loop of :func:`supervised.train.fit` (two networks, two optimizers,
two losses), so this module has its own small loop, with the same mini-batches, ``History`` rows,
progress bar and ``metrics.json``.

**Collapse and its remedy.** When ``D`` becomes over-confident its verdicts saturate, the
gradients it passes to ``G`` vanish or point everywhere at the same few images that currently
fool it, and ``G`` collapses onto a few modes (here: a few digit shapes). The remedy used by
default is **one-sided label smoothing** (Salimans et al., 2016): ``D`` is trained toward
``t = 0.9`` instead of 1 on real images (never on generated ones — smoothing those would reward
``G``'s mistakes), so ``D`` is penalised for certainty and keeps informative gradients. It is the
flag ``GANConfig.label_smoothing`` (``False`` trains toward ``t = 1``). Collapse shows in the
metric ``sample_class_coverage`` as a low count.

``rlcourse supervised gan --out DIR`` runs :func:`experiment` on scikit-learn's 1797 digits at
16×16 and writes into ``DIR``:

- ``metrics.json`` with keys
    - ``d_loss``, ``g_loss``: mean discriminator and generator losses over the final epoch;
    - ``d_real_accuracy``: fraction of the real digits ``D`` calls real (logit > 0) after training;
    - ``d_fake_accuracy``: fraction of 1000 fresh generated images ``D`` calls fake after training
      (both near 0.5–0.8 when the game is balanced; both near 1 means ``D`` has won);
    - ``sample_classifier_confidence``: mean top-class probability that a logistic regression
      (scikit-learn, trained on real 16×16 digits) gives to 100 generated samples — recognisable
      digits score high, blobs low;
    - ``real_classifier_confidence``: the same for 100 held-out real digits (the reference);
    - ``sample_class_coverage``: distinct classes that classifier predicts among the 100 samples
      (10 is every digit; collapse shows as a low number);
    - ``label_smoothing``: 1 when one-sided label smoothing was used, else 0;
- ``samples.png``: 100 samples after training, from a fixed noise batch;
- ``samples_epoch_<k>.png``: the same noise decoded at a few epochs along the way;
- ``losses.png``: both losses per epoch; ``history.csv``: losses and ``D``'s training accuracies
  per epoch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from common import devices
from common.figures import save_figure
from supervised.autoencoder import as_images, check_codes
from supervised.data import Dataset, load_digits, split
from supervised.plots import plot_mosaic
from supervised.train import (
    History,
    as_tensor,
    batches,
    check_budget,
    seed_torch,
    single_thread,
)

SIZE = 16
"""Side of the generated images, in pixels."""
NOISE = 16
"""Dimension of the generator's input noise."""
SMOOTH_REAL_TARGET = 0.9
"""Discriminator target for real images under one-sided label smoothing."""
WIDTH = 16
"""Channels of the first convolution of D (and of the last hidden layer of G); the other
hidden layer has twice as many."""
EPOCHS = 40
"""Default training budget of :func:`experiment`."""


@dataclass(frozen=True)
class GANConfig:
    """Hyperparameters of :func:`train_gan`."""

    epochs: int = EPOCHS
    """Passes over the training images."""
    batch_size: int = 64
    """Real (and generated) images per step."""
    lr: float = 2e-3
    """Adam learning rate of both networks (high for a GAN, but these networks are tiny)."""
    beta1: float = 0.5
    """Adam's first-moment decay (DCGAN's 0.5 damps the oscillations of the game)."""
    label_smoothing: bool = True
    """One-sided label smoothing: train D toward 0.9 instead of 1 on real images."""
    width: int = WIDTH
    """Channel width of both networks (see :data:`WIDTH`)."""
    seed: int = 0
    """Seeds the weights, the batch order and the noise."""
    progress: bool = True
    """Show a progress bar over epochs."""
    snapshots: tuple[int, ...] = field(default_factory=tuple)
    """Epochs after which to keep samples of the fixed noise."""

    def __post_init__(self):
        check_budget(self.epochs, self.batch_size, self.lr)


class Generator(nn.Module):
    """Noise ``(n, 16)`` → images ``(n, 1, 16, 16)`` in [−1, 1] (``tanh`` output).

    A linear projection to ``2 * width`` maps of 4×4, then two stride-2 transposed convolutions
    (4 → 8 → 16) with batch normalisation and ReLU between them, as in DCGAN.
    """

    def __init__(self, noise: int = NOISE, width: int = WIDTH):
        super().__init__()
        self.noise = noise
        self.project = nn.Sequential(
            nn.Linear(noise, 2 * width * 4 * 4), nn.BatchNorm1d(2 * width * 4 * 4), nn.ReLU()
        )
        self.upsample = nn.Sequential(
            nn.Unflatten(1, (2 * width, 4, 4)),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),  # 4 → 8
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),  # 8 → 16
            nn.Tanh(),
        )

    def forward(self, z) -> torch.Tensor:
        """Images for a batch of noise vectors."""
        return self.upsample(self.project(check_codes(z, self.noise, "Generator")))


class Discriminator(nn.Module):
    """Images ``(n, 1, 16, 16)`` in [−1, 1] → one logit each (positive: "real").

    Two stride-2 convolutions (16 → 8 → 4) with leaky ReLUs, then a linear layer. No batch
    normalisation, so real and generated images can share one forward pass.
    """

    def __init__(self, width: int = WIDTH):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1),  # 16 → 8
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),  # 8 → 4
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * width * 4 * 4, 1),
        )

    def forward(self, x) -> torch.Tensor:
        """Logits ``(n,)``."""
        return self.layers(as_images(x, SIZE, "Discriminator")).squeeze(1)


def real_target(label_smoothing: bool) -> float:
    """The discriminator's target for real images: 0.9 with one-sided smoothing, else 1."""
    return SMOOTH_REAL_TARGET if label_smoothing else 1.0


def discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, label_smoothing: bool = False
) -> torch.Tensor:
    """``D``'s cross-entropy: target ``t`` (:func:`real_target`) for real, 0 for generated.

    ``−mean[t log σ(r) + (1 − t) log(1 − σ(r))] − mean[log(1 − σ(f))]``, written with
    log-sigmoids (``log(1 − σ(a)) = log σ(−a)``) so it stays finite for large logits.
    """
    t = real_target(label_smoothing)
    real_term = -(t * F.logsigmoid(real_logits) + (1 - t) * F.logsigmoid(-real_logits)).mean()
    fake_term = -F.logsigmoid(-fake_logits).mean()
    return real_term + fake_term


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating loss ``−mean log σ(D(G(z)))``: ``G`` wants ``D`` to say "real"."""
    return -F.logsigmoid(fake_logits).mean()


def train_step(
    g: Generator,
    d: Discriminator,
    g_opt: torch.optim.Optimizer,
    d_opt: torch.optim.Optimizer,
    real: torch.Tensor,
    noise: torch.Tensor,
    label_smoothing: bool = True,
) -> dict[str, float]:
    """One step of each player on a batch of real images in [−1, 1] and a batch of noise.

    Returns:
        ``d_loss``, ``g_loss`` and ``D``'s accuracies on this batch before its update
        (``d_real_accuracy``, ``d_fake_accuracy``).
    """
    fake = g(noise)
    # 1. The discriminator: real and generated images in one pass; detach() keeps G fixed.
    logits = d(torch.cat([real, fake.detach()]))
    real_logits, fake_logits = logits[: len(real)], logits[len(real) :]
    d_loss = discriminator_loss(real_logits, fake_logits, label_smoothing)
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()
    # 2. The generator, against the just-updated discriminator.
    g_loss = generator_loss(d(fake))
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    return {
        "d_loss": float(d_loss.detach()),
        "g_loss": float(g_loss.detach()),
        "d_real_accuracy": float((real_logits > 0).float().mean()),
        "d_fake_accuracy": float((fake_logits < 0).float().mean()),
    }


@dataclass
class GANResult:
    """What :func:`train_gan` returns."""

    generator: Generator
    """The trained generator (evaluation mode)."""
    discriminator: Discriminator
    """The trained discriminator (evaluation mode)."""
    history: History
    """Per epoch: ``d_loss``, ``g_loss``, ``d_real_accuracy``, ``d_fake_accuracy`` (means)."""
    samples: dict[int, np.ndarray]
    """Samples of :attr:`noise` in [0, 1] after each snapshot epoch."""
    noise: torch.Tensor
    """The fixed noise batch (100 vectors) the samples come from."""


def train_gan(images, config: GANConfig = GANConfig()) -> GANResult:
    """Train a generator and a discriminator on ``images`` ``(n, 1, 16, 16)`` in [0, 1].

    Both networks train on :func:`common.devices.current` (noise is drawn on the CPU, so a
    seed gives the same noise on any device) and come back on the CPU.

    Raises:
        ValueError: images of another shape, or a loss that became NaN or infinite.
    """
    device = devices.current()
    x = (as_images(images, SIZE, "train_gan") * 2 - 1).to(device)  # [0, 1] → tanh's [−1, 1]
    seed_torch(config.seed)
    g, d = Generator(width=config.width).to(device), Discriminator(config.width).to(device)
    betas = (config.beta1, 0.999)
    g_opt = torch.optim.Adam(g.parameters(), config.lr, betas=betas)
    d_opt = torch.optim.Adam(d.parameters(), config.lr, betas=betas)
    rng = torch.Generator().manual_seed(config.seed)
    fixed = torch.randn(100, NOISE, generator=rng)
    history, samples = History(), {}
    epochs = tqdm(
        range(1, config.epochs + 1), disable=not config.progress or None, unit="epoch", leave=False
    )
    for epoch in epochs:
        g.train()
        d.train()
        sums: dict[str, float] = {}
        for index in batches(len(x), config.batch_size, rng):
            noise = torch.randn(len(index), NOISE, generator=rng).to(device)
            step = train_step(g, d, g_opt, d_opt, x[index], noise, config.label_smoothing)
            for key, value in step.items():
                sums[key] = sums.get(key, 0.0) + value * len(index)
        row = {"epoch": epoch, **{key: total / len(x) for key, total in sums.items()}}
        if not all(np.isfinite(list(row.values()))):
            raise ValueError(f"GAN losses became {row} in epoch {epoch}; lower the lr")
        history.rows.append(row)
        epochs.set_postfix(d=f"{row['d_loss']:.3f}", g=f"{row['g_loss']:.3f}")
        if epoch in config.snapshots:
            samples[epoch] = generate(g, fixed)
    history.best_epoch = config.epochs
    g.cpu().eval()
    d.cpu().eval()
    return GANResult(g, d, history, samples, fixed)


def generate(g: Generator, noise) -> np.ndarray:
    """Images ``(n, 1, 16, 16)`` in [0, 1] for ``noise`` (evaluation mode, no gradients)."""
    mode = g.training
    g.eval()
    with torch.no_grad():
        device = next(g.parameters()).device
        images = (g(as_tensor(noise).to(device)) + 1) / 2
    g.train(mode)
    return devices.to_host(images)


def plot_losses(history: History, path: str | os.PathLike, title: str) -> Path:
    """Generator and discriminator losses per epoch."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    epochs = history.column("epoch")
    ax.plot(epochs, history.column("d_loss"), marker="o", markersize=3, label="discriminator")
    ax.plot(epochs, history.column("g_loss"), marker="o", markersize=3, label="generator")
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Mean loss per epoch (nats)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path, dpi=110)


def digit_classifier(x: np.ndarray, y: np.ndarray):
    """A logistic regression (scikit-learn) on flattened images, for judging samples."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000).fit(x.reshape(len(x), -1), y)


def experiment(
    out: str | os.PathLike,
    *,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    label_smoothing: bool = True,
) -> dict[str, float]:
    """Train the DCGAN on 16×16 digits; write sample grids and losses into ``out``.

    Training runs on one torch thread (fastest for networks this small).

    Args:
        out: output directory (created).
        epochs: training epochs (default :data:`EPOCHS`).
        seed: seeds the weights, the batch order and the noise.
        progress: show a progress bar.
        label_smoothing: one-sided label smoothing (real target 0.9).

    Returns:
        The metrics (see the module docstring), which :func:`supervised.experiments.run`
        writes to ``metrics.json``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = epochs or EPOCHS
    data = load_digits(size=SIZE)
    snapshots = tuple(sorted({1, max(1, epochs // 4), max(1, epochs // 2)} - {epochs}))
    config = GANConfig(
        epochs=epochs,
        seed=seed,
        progress=progress,
        label_smoothing=label_smoothing,
        snapshots=snapshots,
    )
    with single_thread():
        result = train_gan(data.x, config)
        final = generate(result.generator, result.noise)
        metrics = discriminator_accuracies(result.discriminator, data.x, result.generator, seed)
    _save_samples_and_losses(result, final, epochs, out)
    last = result.history.rows[-1]
    metrics = {
        "d_loss": last["d_loss"],
        "g_loss": last["g_loss"],
        **metrics,
        **sample_quality(final, data, seed),
        "label_smoothing": int(label_smoothing),
    }
    return metrics


def discriminator_accuracies(
    d: Discriminator, real: np.ndarray, g: Generator, seed: int
) -> dict[str, float]:
    """Fractions: of ``real`` images ``d`` calls real, of 1000 fresh generated ones it calls fake.

    The fresh noise comes from a torch generator seeded with ``seed + 1``.
    """
    fresh = generate(g, torch.randn(1000, NOISE, generator=torch.Generator().manual_seed(seed + 1)))
    with torch.no_grad():
        real_accuracy = float((d(as_tensor(real) * 2 - 1) > 0).float().mean())
        fake_accuracy = float((d(as_tensor(fresh) * 2 - 1) < 0).float().mean())
    return {"d_real_accuracy": real_accuracy, "d_fake_accuracy": fake_accuracy}


def sample_quality(samples: np.ndarray, data: Dataset, seed: int) -> dict[str, float]:
    """How a digit classifier, trained on real digits, judges ``samples`` (100 images).

    The classifier is :func:`digit_classifier` on the training part of ``split(data, seed)``;
    the reference is its confidence on 100 held-out real digits.
    """
    parts = split(data, seed=seed)
    classifier = digit_classifier(parts.train.x, parts.train.y)
    probabilities = classifier.predict_proba(samples.reshape(len(samples), -1))
    reference = classifier.predict_proba(parts.test.x[:100].reshape(100, -1))
    return {
        "sample_classifier_confidence": float(probabilities.max(axis=1).mean()),
        "real_classifier_confidence": float(reference.max(axis=1).mean()),
        "sample_class_coverage": len(set(probabilities.argmax(axis=1).tolist())),
    }


def _save_samples_and_losses(result: GANResult, final: np.ndarray, epochs: int, out: Path) -> None:
    """``samples_epoch_<k>.png``, ``samples.png``, ``losses.png`` and ``history.csv``."""
    for epoch, images in result.samples.items():
        plot_mosaic(
            images, out / f"samples_epoch_{epoch}.png", f"Generated digits after epoch {epoch}"
        )
    plot_mosaic(final, out / "samples.png", f"Generated digits after {epochs} epochs")
    plot_losses(result.history, out / "losses.png", "DCGAN losses")
    result.history.save_csv(out / "history.csv")
