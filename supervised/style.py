"""Neural style transfer (Gatys, Ecker & Bethge, 2016): an image optimised to match two others.

A frozen feature network (:mod:`supervised.style_nets`) describes an image by its activations
``F_l`` (``c × hw`` at layer ``l``). Content is the activations themselves; style is their
**Gram matrix** ``G_l = F_l F_lᵀ / (c·h·w)``: which channels fire together, wherever in the
image, so it keeps texture and colour and forgets layout. The result ``x`` starts as the
content image and L-BFGS changes its pixels to lower

    content_weight · Σ_l ‖F_l(x) − F_l(content)‖² / ‖F_l(content)‖²
    + style_weight · mean_l ‖G_l(x) − G_l(style)‖² / ‖G_l(content) − G_l(style)‖²

Each term is relative: the content loss is the share of the content image's activation energy
that moved, the style loss the share of the content image's distance to the style Gram
matrices that is left (1.0 at the start). So the weights mean the same for every network, and
the losses of two networks can be put side by side.

``rlcourse supervised style [--content IMG] [--style IMG] [--size N] [--steps N]
[--network random|mtcnn|vgg19] [--weights FILE] [--style-weight W] --out DIR`` runs
:func:`experiment` (defaults: scikit-image's astronaut photograph and its immunohistochemistry
slide, a colourful texture) and writes into ``DIR``:

- ``metrics.json`` with ``style_loss_before|after``, ``content_loss_before|after`` (the terms
  above, at the content image and at the result), ``network`` and ``network_source`` (which
  network measured them), ``size``, ``steps``, ``style_weight``, ``evaluations`` (loss and
  gradient computations L-BFGS made) and ``seconds`` (of the transfer);
- ``style.png``: content, style and result side by side; ``result.png``: the result alone.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from common.atomic import atomic_path
from supervised.data import DataError, read_image_file
from supervised.style_nets import FeatureNet, feature_net
from supervised.train import single_thread

SIZE = 256
"""Default length in pixels of the images' longer side."""
STEPS = 50
"""Default L-BFGS iterations."""
MIN_SIDE = 32
"""Fewest pixels an image's shorter side may have (the networks pool it 3 to 4 times)."""
STYLE_WEIGHT = 10.0
CONTENT_WEIGHT = 1.0


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrices ``(n, c, c)`` of activations ``(n, c, h, w)``, divided by ``c·h·w``."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def load_image(path: str | os.PathLike | None, default: str, size: int) -> np.ndarray:
    """An RGB image as float ``(h, w, 3)`` in [0, 1], its longer side ``size`` pixels.

    ``path`` None: ``skimage.data.<default>()``.

    Raises:
        DataError: no such file, an unreadable one, or one over Pillow's pixel limit (refused
            before it is decoded).
    """
    import skimage.data
    import skimage.transform

    image = getattr(skimage.data, default)() if path is None else read_image_file(path, "RGB")
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    image = image[..., :3].astype(np.float32) / 255.0
    h, w = image.shape[:2]
    scale = size / max(h, w)
    shape = (max(1, round(h * scale)), max(1, round(w * scale)))
    return skimage.transform.resize(image, shape, anti_aliasing=scale < 1).astype(np.float32)


def as_tensor(image: np.ndarray) -> torch.Tensor:
    """``(h, w, 3)`` → a contiguous ``(1, 3, h, w)`` float tensor."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].float()


class StyleLoss:
    """The two relative loss terms of the module docstring, for one content and style image."""

    def __init__(self, net: FeatureNet, content: torch.Tensor, style: torch.Tensor):
        self.net = net
        with torch.no_grad():
            at_content = net.features(content)
            style_grams = {i: gram(f) for i, f in net.features(style).items()}
        self.content = {i: at_content[i] for i in net.content_layers}
        self.content_norm = {i: _nonzero(at_content[i].pow(2).mean()) for i in net.content_layers}
        self.grams = {i: style_grams[i] for i in net.style_layers}
        # 1.0 at the content image, whatever the scale of the layer's activations
        self.style_norm = {
            i: _nonzero(F.mse_loss(gram(at_content[i]), self.grams[i])) for i in net.style_layers
        }

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(content loss, style loss)`` of ``image`` ``(1, 3, h, w)``."""
        features = self.net.features(image)
        content = sum(
            F.mse_loss(features[i], self.content[i]) / self.content_norm[i]
            for i in self.net.content_layers
        )
        style = sum(
            F.mse_loss(gram(features[i]), self.grams[i]) / self.style_norm[i]
            for i in self.net.style_layers
        ) / len(self.net.style_layers)
        return content, style


def _nonzero(norm: torch.Tensor) -> torch.Tensor:
    """``norm``, or 1 where it is 0 (identical images, or a layer that is all zeros)."""
    return torch.where(norm > 0, norm, torch.ones_like(norm))


def transfer(
    net: FeatureNet,
    content: np.ndarray,
    style: np.ndarray,
    steps: int = STEPS,
    style_weight: float = STYLE_WEIGHT,
    content_weight: float = CONTENT_WEIGHT,
    progress: bool = False,
) -> tuple[np.ndarray, dict[str, float]]:
    """The content image restyled by ``steps`` L-BFGS iterations on its pixels, and the losses.

    Pixels are kept in [0, 1] (clipped before every evaluation). Returns the result as a float
    ``(h, w, 3)`` array and the metrics ``style_loss_before|after``,
    ``content_loss_before|after``, ``evaluations`` (forward-backward passes).
    """
    losses = StyleLoss(net, as_tensor(content), as_tensor(style))
    image = as_tensor(content).clone().requires_grad_(True)
    with torch.no_grad():
        content_before, style_before = losses(image)
    optimizer = torch.optim.LBFGS(
        [image],
        lr=1.0,
        max_iter=steps,
        history_size=20,
        line_search_fn="strong_wolfe",
    )
    evaluations = 0

    def closure() -> torch.Tensor:
        nonlocal evaluations
        optimizer.zero_grad()
        with torch.no_grad():
            image.clamp_(0.0, 1.0)
        content_loss, style_loss = losses(image)
        total = content_weight * content_loss + style_weight * style_loss
        total.backward()
        evaluations += 1
        if progress and evaluations % 25 == 0:
            print(
                f"evaluation {evaluations}: style {style_loss.item():.4g} "
                f"content {content_loss.item():.4g}",
                file=sys.stderr,
            )
        return total

    optimizer.step(closure)
    with torch.no_grad():
        image.clamp_(0.0, 1.0)
        content_after, style_after = losses(image)
    result = image.detach()[0].numpy().transpose(1, 2, 0)
    return result, {
        "style_loss_before": float(style_before),
        "style_loss_after": float(style_after),
        "content_loss_before": float(content_before),
        "content_loss_after": float(content_after),
        "evaluations": evaluations,
    }


def style_inputs(
    content: str | os.PathLike | None = None,
    style: str | os.PathLike | None = None,
    size: int = SIZE,
    network: str | None = None,
    weights: str | os.PathLike | None = None,
    seed: int = 0,
) -> tuple[FeatureNet, np.ndarray, np.ndarray]:
    """The feature network and the two images, read and checked (before anything is written).

    Raises:
        DataError: an unreadable or too large image, an unknown network or unusable weights.
    """
    net = feature_net(network, weights, seed)
    images = (
        load_image(content, "astronaut", size),
        load_image(style, "immunohistochemistry", size),
    )
    for name, path, image in zip(("content", "style"), (content, style), images, strict=True):
        if min(image.shape[:2]) < MIN_SIDE:
            raise DataError(
                f"{path or 'the ' + name + ' image'}: {image.shape[1]}×{image.shape[0]} pixels at "
                f"--size {size}; its shorter side needs at least {MIN_SIDE}"
            )
    return net, *images


def experiment(
    out: str | os.PathLike,
    *,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    content: str | os.PathLike | None = None,
    style: str | os.PathLike | None = None,
    size: int | None = None,
    steps: int | None = None,
    network: str | None = None,
    weights: str | os.PathLike | None = None,
    style_weight: float = STYLE_WEIGHT,
) -> dict[str, float | str]:
    """Restyle ``content`` (default: astronaut) after ``style``; write the figure and result.

    ``epochs`` is unused (the budget is ``steps`` of L-BFGS). Runs on one torch thread.

    Raises:
        DataError: see :func:`style_inputs`.

    Returns:
        The metrics (module docstring), which :func:`supervised.experiments.run` writes to
        ``metrics.json``.
    """
    del epochs
    out = Path(out)
    size, steps = size or SIZE, steps or STEPS
    net, content_image, style_image = style_inputs(content, style, size, network, weights, seed)
    start = time.perf_counter()
    with single_thread():
        result, metrics = transfer(
            net, content_image, style_image, steps, style_weight, progress=progress
        )
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    save_image(result, out / "result.png")
    style_figure(content_image, style_image, result, metrics, net.name, out / "style.png")
    return {
        **metrics,
        "network": net.name,
        "network_source": net.source,
        "size": size,
        "steps": steps,
        "style_weight": style_weight,
        "seconds": round(seconds, 1),
    }


def save_image(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a float ``(h, w, 3)`` image in [0, 1] as a PNG, atomically."""
    from PIL import Image

    pixels = (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
    with atomic_path(path) as temporary:
        Image.fromarray(pixels).save(temporary, format="PNG")
    return Path(path)


def style_figure(
    content: np.ndarray,
    style: np.ndarray,
    result: np.ndarray,
    metrics: dict,
    network: str,
    path: str | os.PathLike,
) -> Path:
    """Content, style and result side by side, the losses in the result's title."""
    from matplotlib.figure import Figure

    from common.figures import save_figure

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    titles = (
        "content",
        "style",
        f"result ({network})\nstyle loss {metrics['style_loss_before']:.3g} → "
        f"{metrics['style_loss_after']:.3g}, content {metrics['content_loss_after']:.3g}",
    )
    for ax, image, title in zip(axes, (content, style, result), titles, strict=True):
        ax.imshow(np.clip(image, 0, 1))
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    return save_figure(fig, path)
