"""A variational autoencoder (VAE) with a 2-D latent space, on 28×28 digits.

The encoder maps an image ``x`` to a Gaussian ``q(z|x) = N(μ, diag σ²)`` (it outputs ``μ`` and
``log σ²``); the decoder maps a latent ``z`` to Bernoulli pixel probabilities ``p(x|z)``. Training
maximises the evidence lower bound (ELBO) on ``log p(x)``::

    ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) ‖ N(0, I))  ≤  log p(x)

so the loss per image is ``reconstruction + KL`` with

- ``reconstruction = −log p(x|z)``: the binary cross-entropy summed over the 784 pixels, at one
  sample ``z`` (:func:`reconstruction_nll`);
- ``KL = −½ Σ_j (1 + log σ_j² − μ_j² − σ_j²)``: the closed form for two Gaussians
  (:func:`kl_divergence`).

Sampling ``z`` is made differentiable by the *reparameterization trick*
``z = μ + σ · ε`` with ``ε ~ N(0, I)`` (:func:`reparameterize`): the randomness sits in ``ε``, so
gradients flow to ``μ`` and ``log σ²``. Everything is in nats per image. The digits' pixels are
grey levels in [0, 1], not binary; the cross-entropy is still the standard loss for them, but the
"likelihood" is then a bound-like score rather than a normalised probability, so the ELBO is
best compared between models on the same data.

``rlcourse supervised vae --out DIR`` runs :func:`experiment` and writes into ``DIR``:

- ``metrics.json`` with keys
    - ``elbo``: mean ELBO of the test images, nats per image (higher is better; negative);
    - ``reconstruction``: its mean reconstruction term ``−E_q[log p(x|z)]``, nats per image;
    - ``kl``: its mean KL term, nats per image (``elbo = −(reconstruction + kl)``);
    - ``val_loss``: the best validation loss (``−ELBO``, one sample of ``z``) during training;
    - ``untrained_elbo``: the test ELBO of the same network before training, for comparison;
- ``latent_scatter.png``: the latent means ``μ`` of the test digits, coloured by class;
- ``latent_grid.png``: images decoded from a 15×15 grid of latent points at normal quantiles;
- ``reconstructions.png``: test digits and their reconstructions (decoded from ``μ``);
- ``history.csv|png``: losses per epoch.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common.figures import save_figure
from supervised.autoencoder import SIZE, as_images, check_codes
from supervised.data import Dataset, load_digits, split
from supervised.plots import image_grid
from supervised.train import TrainConfig, fit, seed_torch, single_thread

LATENT = 2
"""Default latent dimension (2, so the latent space can be drawn)."""
HIDDEN = (256, 128)
"""Widths of the encoder's hidden layers; the decoder mirrors them."""
EPOCHS = 60
"""Default training budget of :func:`experiment`."""
LR = 3e-3
"""Adam learning rate of :func:`experiment`."""
GRID = 15
"""Side of the decoded latent grid in ``latent_grid.png``."""


class VAE(nn.Module):
    """Dense encoder 784→256→128→(μ, log σ²) and decoder latent→128→256→784 (pixel logits)."""

    def __init__(self, latent: int = LATENT, hidden: tuple[int, ...] = HIDDEN):
        super().__init__()
        if latent < 1:
            raise ValueError(f"latent dimension must be >= 1, got {latent}")
        self.latent = latent
        widths = (SIZE * SIZE, *hidden)
        body: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(widths, widths[1:], strict=False):
            body += [nn.Linear(a, b), nn.ReLU()]
        self.encoder = nn.Sequential(*body)
        self.mean = nn.Linear(widths[-1], latent)
        self.logvar = nn.Linear(widths[-1], latent)
        back = (latent, *hidden[::-1])
        head: list[nn.Module] = []
        for a, b in zip(back, back[1:], strict=False):
            head += [nn.Linear(a, b), nn.ReLU()]
        head += [nn.Linear(back[-1], SIZE * SIZE), nn.Unflatten(1, (1, SIZE, SIZE))]
        self.decoder = nn.Sequential(*head)

    def encode(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """``(μ, log σ²)`` of ``q(z|x)``, each ``(n, latent)``, for images ``(n, 1, 28, 28)``."""
        h = self.encoder(as_images(x, name="VAE"))
        return self.mean(h), self.logvar(h)

    def decode_logits(self, z) -> torch.Tensor:
        """Pixel logits ``(n, 1, 28, 28)`` of ``p(x|z)`` for latents ``(n, latent)``."""
        return self.decoder(check_codes(z, self.latent, "VAE"))

    def decode(self, z) -> torch.Tensor:
        """Pixel probabilities (the mean image) ``(n, 1, 28, 28)`` in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logits, μ, log σ²)``: one reparameterized sample ``z`` decoded to pixel logits."""
        mu, logvar = self.encode(x)
        return self.decode_logits(reparameterize(mu, logvar)), mu, logvar


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A sample ``z = μ + σ · ε``, ``ε ~ N(0, I)``, differentiable in ``μ`` and ``log σ²``."""
    epsilon = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    sigma = torch.exp(0.5 * logvar)
    return mu + sigma * epsilon


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(μ, σ²) ‖ N(0, I))`` per example ``(n,)``, in nats, in closed form."""
    return -0.5 * torch.sum(1 + logvar - mu**2 - torch.exp(logvar), dim=1)


def reconstruction_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``−log p(x|z)`` per example ``(n,)``: Bernoulli cross-entropy summed over the pixels.

    With ``p = sigmoid(logit)``: ``−[x log p + (1 − x) log(1 − p)]``, written with log-sigmoids
    (``log(1 − p) = log sigmoid(−logit)``) so it stays finite for large logits.
    """
    x = x.reshape(logits.shape)
    per_pixel = -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))
    return per_pixel.flatten(1).sum(dim=1)


def elbo_terms(
    model: VAE, x, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(reconstruction, kl)`` per example, one sample of ``z`` each; ELBO = −(their sum)."""
    x = as_images(x, name="VAE")
    mu, logvar = model.encode(x)
    logits = model.decode_logits(reparameterize(mu, logvar, generator))
    return reconstruction_nll(logits, x), kl_divergence(mu, logvar)


def vae_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """The negative ELBO, averaged over the batch (nats per image); ``y`` is ignored."""
    reconstruction, kl = elbo_terms(model, x)
    return (reconstruction + kl).mean()


def evaluate_elbo(model: VAE, x, samples: int = 10, seed: int = 0) -> dict[str, float]:
    """Mean ``elbo``, ``reconstruction`` and ``kl`` over ``x`` (nats per image).

    The reconstruction term's expectation over ``q(z|x)`` is averaged over ``samples`` draws of
    ``z`` from a generator seeded with ``seed`` (so the numbers are repeatable).
    """
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    x = as_images(x, name="VAE")
    with torch.no_grad():
        draws = [elbo_terms(model, x, generator) for _ in range(samples)]
    reconstruction = float(torch.stack([r for r, _ in draws]).mean())
    kl = float(draws[0][1].mean())
    return {"elbo": -(reconstruction + kl), "reconstruction": reconstruction, "kl": kl}


def latent_means(model: VAE, x) -> np.ndarray:
    """``μ`` of ``q(z|x)`` for each image, ``(n, latent)``."""
    model.eval()
    with torch.no_grad():
        return model.encode(x)[0].numpy()


def decode_grid(model: VAE, side: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    """Decoded images on a ``side × side`` grid over the first two latent dimensions.

    The grid points are the normal quantiles at probabilities 0.05 … 0.95 (so they cover the
    prior's mass evenly); other latent dimensions are 0. Returns ``(images, values)``: images
    ``(side, side, 28, 28)`` with row ``i`` at ``z₂ = values[::-1][i]`` (top is high) and column
    ``j`` at ``z₁ = values[j]``.
    """
    from scipy.stats import norm

    values = norm.ppf(np.linspace(0.05, 0.95, side))
    z = np.zeros((side, side, model.latent), dtype=np.float32)
    z[..., 0] = values[None, :]
    if model.latent > 1:
        z[..., 1] = values[::-1, None]
    model.eval()
    with torch.no_grad():
        images = model.decode(torch.as_tensor(z.reshape(-1, model.latent))).numpy()
    return images.reshape(side, side, SIZE, SIZE), values


def plot_latent_scatter(
    means: np.ndarray, labels: np.ndarray, path: str | os.PathLike, title: str
) -> Path:
    """The 2-D latent means coloured by class, with a legend."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 5.5), layout="constrained")
    ax = fig.add_subplot()
    colours = colormaps["tab10"]
    for digit in np.unique(labels):
        chosen = labels == digit
        ax.scatter(
            means[chosen, 0],
            means[chosen, 1],
            s=12,
            alpha=0.8,
            color=colours(int(digit) % 10),
            label=str(digit),
        )
    ax.set_xlabel("μ₁")
    ax.set_ylabel("μ₂")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(title="digit", loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=2)
    return save_figure(fig, path, dpi=110)


def plot_latent_grid(images: np.ndarray, values: np.ndarray, path: str | os.PathLike) -> Path:
    """One mosaic of the decoded grid, axes labelled with the latent coordinates."""
    from matplotlib.figure import Figure

    side, _, h, w = images.shape
    gap = 2  # grey pixels between cells: the digits fill their frames edge to edge
    padded = np.pad(images, ((0, 0), (0, 0), (0, gap), (0, gap)), constant_values=0.5)
    h, w = h + gap, w + gap
    mosaic = padded.transpose(0, 2, 1, 3).reshape(side * h, side * w)[:-gap, :-gap]
    fig = Figure(figsize=(6.5, 6.5), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1)
    centres = np.arange(side) * w + w / 2 - 0.5
    ticks = range(0, side, 2)
    ax.set_xticks(centres[::2], [f"{values[j]:.1f}" for j in ticks])
    ax.set_yticks(centres[::2], [f"{values[::-1][i]:.1f}" for i in ticks])
    ax.set_xlabel("z₁")
    ax.set_ylabel("z₂")
    ax.set_title(f"Digits decoded from a {side}×{side} grid of latent points")
    return save_figure(fig, path, dpi=110)


def experiment(
    out: str | os.PathLike,
    *,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    latent: int = LATENT,
) -> dict[str, float]:
    """Train a VAE on 28×28 digits; write latent-space plots into ``out``; return the metrics.

    Args:
        out: output directory (created).
        epochs: training epochs (default :data:`EPOCHS`).
        seed: seeds the split, the weights, the batch order and the samples of ``z``.
        progress: show a progress bar.
        latent: latent dimension; the plots show the first two.

    Training runs on one torch thread (fastest for networks this small).

    Returns:
        The metrics (see the module docstring), which :func:`supervised.experiments.run`
        writes to ``metrics.json``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    parts = split(load_digits(size=SIZE), seed=seed)
    train, val, test = parts.train, parts.val, parts.test
    seed_torch(seed)
    model = VAE(latent)
    untrained = evaluate_elbo(model, test.x, seed=seed)["elbo"]
    config = TrainConfig(epochs=epochs or EPOCHS, lr=LR, seed=seed, progress=progress)
    with single_thread():
        history = fit(model, vae_loss, (train.x, train.y), (val.x, val.y), config)
    history.save(out)
    metrics = evaluate_elbo(model, test.x, seed=seed)
    metrics["val_loss"] = float(history.column("val_loss").min())
    metrics["untrained_elbo"] = untrained
    _plot_latent_space(model, test, out)
    return metrics


def _plot_latent_space(model: VAE, test: Dataset, out: Path) -> None:
    """Write ``latent_scatter.png``, ``latent_grid.png`` and ``reconstructions.png``."""
    means = latent_means(model, test.x)
    if model.latent >= 2:
        plot_latent_scatter(
            means, test.y, out / "latent_scatter.png", "Latent means of the test digits"
        )
    else:
        padded = np.column_stack([means[:, 0], np.zeros(len(means))])
        plot_latent_scatter(
            padded, test.y, out / "latent_scatter.png", "Latent means of the test digits (1-D)"
        )
    plot_latent_grid(*decode_grid(model), out / "latent_grid.png")
    shown = torch.as_tensor(test.x[:10])
    with torch.no_grad():
        decoded = model.decode(model.encode(shown)[0])
    image_grid(
        torch.cat([shown, decoded]).numpy(),
        out / "reconstructions.png",
        title="Test digits and their VAE reconstructions (decoded from μ)",
        row_labels=("original", "VAE"),
    )
