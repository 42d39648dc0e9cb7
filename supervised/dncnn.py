"""The DnCNN denoiser, its convolutional trunk, the Q-map network built on that trunk, and training.

Both networks are a :func:`conv_trunk` (3×3 convolutions with ReLU, any image size) and a head:

- :class:`DnCNN` (Zhang et al. 2017, smaller): the head predicts the noise, the output is the
  input minus it (residual learning); :func:`train_dncnn` fits it with :func:`supervised.train.fit`
  on (noisy, clean) patches;
- :class:`QMapNet`: the head gives one value per action at every pixel, ``(n, A, H, W)``: the
  per-pixel DQN's Q-map. Its trunk has the DnCNN's shape, so it can start from a trained DnCNN's
  trunk (:meth:`QMapNet.load_trunk`).

Inputs are batches ``(n, 1, H, W)``: uint8 grey levels (divided by 255 inside) or floats in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from supervised.train import History, TrainConfig, fit


@dataclass(frozen=True)
class TrunkConfig:
    """Shape of the convolutional trunk shared by :class:`DnCNN` and :class:`QMapNet`."""

    channels: int = 32
    """Feature maps of every hidden convolution."""
    depth: int = 7
    """3×3 convolution + ReLU layers (DnCNN's depth is this plus its output layer)."""
    dilations: tuple[int, ...] | None = None
    """Dilation of each layer (None: all 1); PixelRL uses 1, 2, 3, 4, 3, 2, 1."""

    def __post_init__(self):
        if self.channels < 1 or self.depth < 1:
            raise ValueError(f"channels and depth must be >= 1, got {self.channels}, {self.depth}")
        if self.dilations is not None and (
            len(self.dilations) != self.depth or min(self.dilations) < 1
        ):
            raise ValueError(f"dilations must be {self.depth} positive integers")

    @property
    def receptive_field(self) -> int:
        """Side of the square of input pixels one output pixel sees (head included)."""
        return 1 + 2 * sum(self.dilations or (1,) * self.depth) + 2


def conv_trunk(config: TrunkConfig) -> nn.Sequential:
    """``depth`` 3×3 convolutions with ReLU: 1 channel in, ``channels`` out, same size."""
    layers: list[nn.Module] = []
    n_in = 1
    for dilation in config.dilations or (1,) * config.depth:
        layers += [nn.Conv2d(n_in, config.channels, 3, padding=dilation, dilation=dilation)]
        layers += [nn.ReLU()]
        n_in = config.channels
    return nn.Sequential(*layers)


def as_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 grey levels to floats in [0, 1]; floats pass through."""
    return x.float() / 255.0 if not torch.is_floating_point(x) else x.float()


def _check_batch(name: str, x: torch.Tensor) -> None:
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"{name} expects images (n, 1, H, W), got shape {tuple(x.shape)}")


class DnCNN(nn.Module):
    """Residual denoiser: ``x − noise(x)``, the noise predicted by trunk + a 3×3 convolution."""

    def __init__(self, config: TrunkConfig = TrunkConfig()):
        super().__init__()
        self.config = config
        self.trunk = conv_trunk(config)
        self.head = nn.Conv2d(config.channels, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Noisy images ``(n, 1, H, W)`` → denoised, same shape (not clipped)."""
        _check_batch("DnCNN", x)
        x = as_unit(x)
        return x - self.head(self.trunk(x))


class QMapNet(nn.Module):
    """Q-values of ``n_actions`` actions at every pixel.

    Input: ``(n, 1 + extra, H, W)``; the trunk reads channel 0, a small head sees the trunk's
    features and all the channels: a 3×3 convolution, then two 1×1 convolutions (per-pixel
    layers). With a trained trunk kept fixed, :meth:`features` can be computed once per image
    and only :attr:`head` trained.

    With ``estimate_scale`` (the *estimate head*, see :meth:`q_of_features`) the head predicts the
    noise of channel 0 instead, and the extra channels must be the current image and what each
    action would make of it: ``extra = 1 + n_actions``.
    """

    def __init__(
        self,
        n_actions: int,
        config: TrunkConfig = TrunkConfig(),
        extra: int = 0,
        head: int = 32,
        estimate_scale: float | None = None,
    ):
        super().__init__()
        if n_actions < 1 or extra < 0:
            raise ValueError(f"need n_actions >= 1 and extra >= 0, got {n_actions}, {extra}")
        if estimate_scale is not None and extra != 1 + n_actions:
            raise ValueError(
                f"an estimate head needs the current image and its {n_actions} filtered "
                f"versions as extra channels ({1 + n_actions}), got {extra}"
            )
        self.config, self.extra, self.n_actions = config, extra, n_actions
        self.estimate_scale = estimate_scale
        self.trunk = conv_trunk(config)
        estimating = estimate_scale is not None
        self.head = nn.Sequential(
            nn.Conv2d(config.channels + 1 + (0 if estimating else extra), head, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(head, head, 1),
            nn.ReLU(),
            nn.Conv2d(head, 1 if estimating else n_actions, 1),
        )

    def features(self, x: torch.Tensor, trunk: torch.Tensor | None = None) -> torch.Tensor:
        """The head's input: trunk features, then the channels (``channels + 1 + extra``).

        ``trunk``: the trunk's features of channel 0 if already computed (they depend on
        channel 0 alone, e.g. an episode's first image, the same at every step).
        """
        if x.ndim != 4 or x.shape[1] != 1 + self.extra:
            raise ValueError(
                f"QMapNet expects images (n, {1 + self.extra}, H, W), got shape {tuple(x.shape)}"
            )
        x = as_unit(x)
        return torch.cat([self.trunk(x[:, :1]) if trunk is None else trunk, x], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs ``(n, 1 + extra, H, W)`` → Q-maps ``(n, n_actions, H, W)``."""
        return self.q_of_features(self.features(x))

    def q_of_features(self, features: torch.Tensor) -> torch.Tensor:
        """Q-maps from :meth:`features`: the head's output, or the estimate head's Q.

        The estimate head reads the trunk's features and its image (channel 0, e.g. the noisy
        image an episode started from) and predicts that image's noise; ĉ = image − noise is the
        estimate of the clean image. With x the current image and f_a(x) what action a makes of
        it (the extra channels), the value of a at a pixel is

            Q_a = s · ((x − ĉ)² − (f_a(x) − ĉ)²)

        the drop of squared error a gives if the clean pixel is ĉ: the reward's own form, in
        reward units (s = ``estimate_scale``). If ĉ is the clean pixel's expectation this is
        the expected one-step reward exactly (the variance of the clean pixel cancels), so the
        head learns from rewards alone what a supervised denoiser learns from clean images.
        """
        c = self.config.channels
        if self.estimate_scale is None:
            return self.head(features)
        clean = features[:, c : c + 1] - self.head(features[:, : c + 1])
        current, filtered = features[:, c + 1 : c + 2], features[:, c + 2 :]
        return self.estimate_scale * ((current - clean).square() - (filtered - clean).square())

    def load_trunk(self, model: nn.Module) -> None:
        """Start from another network's trunk (a trained :class:`DnCNN` of the same shape)."""
        self.trunk.load_state_dict(model.trunk.state_dict())


def mse_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the denoised ``x`` against the clean ``y`` (a :func:`fit` loss)."""
    return nn.functional.mse_loss(model(x), y)


def psnr_metric(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean PSNR (dB, data range 1) of the clipped outputs over the batch (a :func:`fit` metric)."""
    mse = (model(x).clamp(0, 1) - y).square().mean(dim=(1, 2, 3))
    return float((10 * torch.log10(1 / mse.clamp_min(1e-12))).mean())


def train_dncnn(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    config: TrainConfig,
    trunk: TrunkConfig = TrunkConfig(),
) -> tuple[DnCNN, History]:
    """Fit a :class:`DnCNN` to (noisy, clean) patches ``(n, H, W)`` in [0, 1]; keep the best epoch.

    The weights come from torch's global generator (seed it with ``seed_torch`` first).
    """
    model = DnCNN(trunk)
    pairs = [tuple(np.asarray(a, np.float32)[:, None] for a in part) for part in (train, val)]
    history = fit(model, mse_loss, pairs[0], pairs[1], config, metrics={"val_psnr": psnr_metric})
    return model, history


def denoise(model: nn.Module, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """A denoiser's output for images ``(n, H, W)`` in [0, 1], clipped to [0, 1]."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = torch.as_tensor(np.asarray(images[start : start + batch_size], np.float32))
            out.append(model(x[:, None]).clamp(0, 1)[:, 0].numpy())
    return np.concatenate(out) if out else np.zeros_like(images, dtype=np.float32)
