"""A small DCGAN (Radford et al., 2016) that learns to draw 16×16 digits.

Two networks play a game: the generator ``G`` turns noise ``z ~ N(0, I)`` into an image, the
discriminator ``D`` outputs a logit of "this image is real". Each training step:

1. ``D`` takes a step on ``BCE(D(x), real_label) + BCE(D(G(z)), 0)``;
2. ``G`` takes a step on ``BCE(D(G(z)), 1)`` (the non-saturating loss: G maximises log D(G(z))).

**Mode collapse** — the generator settling on a few images that fool ``D`` — is the classic
failure. The remedy used here is **one-sided label smoothing** (Salimans et al., 2016): ``D`` is
trained toward 0.9 instead of 1 for real images (``label_smoothing=0.1``), so it never becomes
over-confident and its gradients to ``G`` stay informative. The metric
``sample_class_coverage`` (how many of the 10 digit classes a classifier sees among 100 samples)
shows collapse as a low number.

``rlcourse supervised gan --out DIR`` runs :func:`experiment` on scikit-learn's digits at 16×16
and writes into ``DIR``:

- ``metrics.json`` with keys
    - ``d_loss``, ``g_loss``: mean discriminator and generator losses over the last epoch;
    - ``d_real_accuracy``, ``d_fake_accuracy``: fractions of real images called real and of
      generated images called fake by ``D`` after training (near 0.5–0.8 when the game is
      balanced; 1.0 for both means ``D`` has won and ``G`` learns nothing);
    - ``sample_classifier_confidence``: mean top-class probability that a logistic regression
      trained on real digits gives to 100 generated samples (recognisable digits score high);
    - ``sample_class_coverage``: distinct classes that classifier predicts among those samples;
    - ``epochs``, ``train_seconds``;
- ``samples.png`` (100 samples from fixed noise after training), ``samples_epoch_<k>.png`` (the
  same noise at a few epochs along the way) and ``losses.png`` (both losses per epoch).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from supervised.data import load_digits
from supervised.experiments import save_metrics
from supervised.plots import image_grid
from supervised.train import batches, seed_torch

NOISE = 32
SIZE = 16
EPOCHS = 40


class Generator(nn.Module):
    """Noise ``(n, 32)`` → images ``(n, 1, 16, 16)`` in [0, 1] (a sigmoid output)."""

    def __init__(self, noise: int = NOISE):
        super().__init__()
        self.noise = noise
        self.project = nn.Sequential(
            nn.Linear(noise, 64 * 4 * 4), nn.BatchNorm1d(64 * 4 * 4), nn.ReLU()
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),  # 4 -> 8
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),  # 8 -> 16
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images for a batch of noise vectors."""
        if z.ndim != 2 or z.shape[1] != self.noise:
            raise ValueError(
                f"Generator expects noise (n, {self.noise}), got shape {tuple(z.shape)}"
            )
        return self.upsample(self.project(z).view(-1, 64, 4, 4))


class Discriminator(nn.Module):
    """Images ``(n, 1, 16, 16)`` → one logit each (real > 0)."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, 32, 4, stride=2, padding=1),  # 16 -> 8
            nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 4, stride=2, padding=1),  # 8 -> 4
            nn.BatchNorm2d(64),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n,)``."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, SIZE, SIZE):
            raise ValueError(
                f"Discriminator expects images (n, 1, {SIZE}, {SIZE}), got shape {tuple(x.shape)}"
            )
        return self.layers(x).squeeze(1)


def discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.1) -> torch.Tensor:
    """BCE toward ``1 − label_smoothing`` for real images and 0 for generated ones."""
    real_target = torch.full_like(real_logits, 1.0 - label_smoothing)
    return F.binary_cross_entropy_with_logits(
        real_logits, real_target
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating loss: BCE of D's verdict on generated images toward "real"."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def train_gan(
    images: np.ndarray,
    epochs: int = EPOCHS,
    seed: int = 0,
    label_smoothing: float = 0.1,
    batch_size: int = 64,
    snapshots: tuple[int, ...] = (),
    progress: bool = True,
):
    """Train G and D on ``images``; return them, per-epoch losses and snapshot samples."""
    from tqdm.auto import tqdm

    seed_torch(seed)
    g, d = Generator(), Discriminator()
    g_opt = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.999))
    x = torch.as_tensor(images, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    fixed = torch.randn(100, NOISE, generator=generator)
    losses, samples = [], {}
    for epoch in tqdm(
        range(1, epochs + 1), disable=not progress or None, unit="epoch", leave=False
    ):
        g.train()
        d.train()
        d_total = g_total = 0.0
        for index in batches(len(x), batch_size, generator):
            real = x[index]
            z = torch.randn(len(real), NOISE, generator=generator)
            fake = g(z)
            d_opt.zero_grad()
            d_loss = discriminator_loss(d(real), d(fake.detach()), label_smoothing)
            d_loss.backward()
            d_opt.step()
            g_opt.zero_grad()
            g_loss = generator_loss(d(fake))
            g_loss.backward()
            g_opt.step()
            d_total += float(d_loss.detach()) * len(real)
            g_total += float(g_loss.detach()) * len(real)
        losses.append((epoch, d_total / len(x), g_total / len(x)))
        if epoch in snapshots:
            samples[epoch] = sample(g, fixed)
    g.eval()
    d.eval()
    return g, d, losses, samples, fixed


def sample(g: Generator, noise: torch.Tensor) -> np.ndarray:
    """Images for ``noise``, in evaluation mode."""
    g.eval()
    with torch.no_grad():
        images = g(noise).numpy()
    g.train()
    return images


def experiment(out: Path, *, epochs: int | None = None, seed: int = 0, progress: bool = True):
    """Train the DCGAN on 16×16 digits; write metrics, sample grids and losses into ``out``."""
    from matplotlib.figure import Figure
    from sklearn.linear_model import LogisticRegression

    from supervised.networks import single_thread

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = epochs or EPOCHS
    data = load_digits(size=SIZE)
    snapshots = tuple(sorted({max(1, epochs // 8), max(1, epochs // 2), epochs}))
    start = time.perf_counter()
    with single_thread():
        g, d, losses, samples, fixed = train_gan(
            data.x, epochs, seed, snapshots=snapshots, progress=progress
        )
    seconds = time.perf_counter() - start
    for epoch, images in samples.items():
        image_grid(
            images, out / f"samples_epoch_{epoch}.png", f"Generated digits after epoch {epoch}"
        )
    final = sample(g, fixed)
    image_grid(final, out / "samples.png", f"Generated digits after {epochs} epochs (fixed noise)")

    with torch.no_grad():
        real_accuracy = float((d(torch.as_tensor(data.x[:500])) > 0).float().mean())
        fake_accuracy = float((d(torch.as_tensor(final)) < 0).float().mean())
    classifier = LogisticRegression(max_iter=2000).fit(data.x.reshape(len(data.x), -1), data.y)
    probabilities = classifier.predict_proba(final.reshape(len(final), -1))
    epochs_axis = [e for e, _, _ in losses]
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(epochs_axis, [dl for _, dl, _ in losses], label="discriminator")
    ax.plot(epochs_axis, [gl for _, _, gl in losses], label="generator")
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Mean loss (BCE)")
    ax.set_title("DCGAN losses")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(out / "losses.png", dpi=110)
    metrics = {
        "d_loss": losses[-1][1],
        "g_loss": losses[-1][2],
        "d_real_accuracy": real_accuracy,
        "d_fake_accuracy": fake_accuracy,
        "sample_classifier_confidence": float(probabilities.max(axis=1).mean()),
        "sample_class_coverage": int(len(set(probabilities.argmax(axis=1)))),
        "epochs": epochs,
        "train_seconds": round(seconds, 2),
    }
    save_metrics(out, metrics)
    return metrics
