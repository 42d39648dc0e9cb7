"""FaceNet-style face embeddings: a small CNN trained with the triplet loss (Schroff et al., 2015).

The network maps a 32×32 grayscale face to a point on the unit sphere (L2-normalized). Training
pulls an *anchor* towards a *positive* (the same identity) and pushes it from a *negative*
(another identity) until the negative is at least ``margin`` further, in squared distance::

    loss = max(0, ‖f(a) − f(p)‖² − ‖f(a) − f(n)‖² + margin)

Triplets are mined **online** in every mini-batch: each (anchor, positive) pair of the batch
takes its **semi-hard** negative, the closest negative that is still further than the positive
(hard enough to teach, not so hard that training collapses); a pair without one takes its
anchor's furthest negative (the fallback of TensorFlow's semi-hard loss).

The identity set is built offline: each of the 100 distinct faces of scikit-image's
``lfw_subset()`` is one identity, seen unaltered (its enrolment photo) and under random
augmentations (rotation, scale, shift, mirror, brightness/contrast, noise). Identities 0–59
train, 60–79 choose the "unknown" distance threshold on an ROC curve, 80–99 test.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common.atomic import atomic_path
from supervised.data import DataError
from supervised.networks import non_finite

SIZE = 32
"""Side of the network's input faces, in pixels."""
DIM = 64
"""Embedding dimension."""
MARGIN = 0.2
"""Triplet margin (squared distance; embeddings are unit vectors, so distances are in [0, 4])."""
VIEWS = 8
"""Images per identity in the identity set: the original and 7 augmentations."""
SPLITS = (60, 80, 100)
"""Identities ``[0, 60)`` train, ``[60, 80)`` choose the threshold, ``[80, 100)`` test."""
EPOCHS = 60
"""Default training budget of :func:`train_embedder`."""


class EmbeddingNet(nn.Module):
    """Three conv–batch-norm–ReLU–pool blocks and a linear layer to a unit vector of ``dim``."""

    def __init__(self, dim: int = DIM, channels: tuple[int, int, int] = (8, 16, 32)):
        super().__init__()
        layers: list[nn.Module] = []
        for n_in, n_out in zip((1, *channels[:-1]), channels, strict=True):
            layers += [nn.Conv2d(n_in, n_out, 3, padding=1), nn.BatchNorm2d(n_out), nn.ReLU()]
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.project = nn.Linear(channels[-1] * (SIZE // 8) ** 2, dim)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Faces ``(n, 1, 32, 32)`` → embeddings ``(n, dim)`` of unit length."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, SIZE, SIZE):
            raise ValueError(f"expected faces (n, 1, {SIZE}, {SIZE}), got {tuple(x.shape)}")
        return F.normalize(self.project(self.features(x)), dim=1)


def squared_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """``‖e_i − e_j‖²`` for all pairs, ``(n, n)``."""
    dots = embeddings @ embeddings.T
    norms = dots.diagonal()
    return (norms[:, None] - 2 * dots + norms[None, :]).clamp(min=0)


def semi_hard_triplet_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, margin: float = MARGIN
) -> torch.Tensor:
    """Mean triplet loss over every (anchor, positive) pair, each with its semi-hard negative.

    For a pair ``(a, p)`` the negative is ``argmin_n d(a, n)`` over the negatives with
    ``d(a, n) > d(a, p)``; if there is none, the negative furthest from ``a``. Distances are
    squared Euclidean. Returns 0 (with a gradient) for a batch without pairs or negatives.
    """
    d = squared_distances(embeddings)
    same = labels[:, None] == labels[None, :]
    negative = ~same
    anchor, positive = torch.nonzero(
        same & ~torch.eye(len(labels), dtype=torch.bool), as_tuple=True
    )
    has_negative = negative[anchor].any(dim=1)
    anchor, positive = anchor[has_negative], positive[has_negative]
    if not len(anchor):
        return embeddings.sum() * 0.0
    d_ap = d[anchor, positive]  # one row per (anchor, positive) pair
    d_an = d[anchor]  # that anchor's distance to every example
    further = negative[anchor] & (d_an > d_ap[:, None])  # the semi-hard candidates
    semi_hard = torch.where(further, d_an, torch.inf).min(dim=1).values
    easiest = torch.where(negative[anchor], d_an, -torch.inf).max(dim=1).values
    d_neg = torch.where(further.any(dim=1), semi_hard, easiest)
    return F.relu(d_ap - d_neg + margin).mean()


def triplet_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """:func:`semi_hard_triplet_loss` of a batch (a :func:`supervised.train.fit` loss)."""
    return semi_hard_triplet_loss(model(x), y)


# --- faces as network inputs ------------------------------------------------------------------


def face_input(gray: np.ndarray) -> np.ndarray:
    """A grayscale face crop → ``(1, 32, 32)`` float32, zero mean and unit variance.

    Standardizing each face removes its overall brightness and contrast.

    Raises:
        DataError: an empty crop.
    """
    from skimage.transform import resize

    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or gray.size == 0:
        raise DataError(f"a face crop must be a non-empty (h, w) array, got shape {gray.shape}")
    face = resize(gray, (SIZE, SIZE), anti_aliasing=True).astype(np.float32)
    return ((face - face.mean()) / max(float(face.std()), 1e-3))[None]


def augment(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random view of a grayscale face in [0, 1]: turned, scaled, shifted, mirrored, relit."""
    from skimage.transform import AffineTransform, warp

    h, w = face.shape
    centre = np.array([w, h]) / 2
    rotate = AffineTransform(rotation=np.deg2rad(rng.uniform(-10, 10)))
    scale = AffineTransform(scale=rng.uniform(0.9, 1.1))
    shift = AffineTransform(translation=rng.uniform(-0.06, 0.06, 2) * w)
    to_centre, back = AffineTransform(translation=-centre), AffineTransform(translation=centre)
    transform = to_centre + rotate + scale + back + shift
    view = warp(face, transform.inverse, mode="reflect")
    if rng.random() < 0.5:
        view = view[:, ::-1]
    view = np.clip(view, 0, 1) ** rng.uniform(0.7, 1.4)  # gamma: lighting
    view = view * rng.uniform(0.8, 1.2) + rng.uniform(-0.1, 0.1)
    return np.clip(view + rng.normal(0, 0.02, view.shape), 0, 1)


@dataclass(frozen=True)
class IdentitySet:
    """Faces ``x`` ``(n, 1, 32, 32)``, identities ``y`` ``(n,)``; view 0 of each is unaltered."""

    x: np.ndarray
    y: np.ndarray
    view: np.ndarray
    """Which view of its identity each face is (0: the original)."""

    def identities(self, start: int, stop: int) -> IdentitySet:
        """The faces of identities ``start ≤ y < stop``."""
        chosen = (self.y >= start) & (self.y < stop)
        return IdentitySet(self.x[chosen], self.y[chosen], self.view[chosen])


def identity_set(views: int = VIEWS, seed: int = 0) -> IdentitySet:
    """The 100 faces of ``lfw_subset()`` as identities, ``views`` images each (built offline)."""
    from skimage.data import lfw_subset

    rng = np.random.default_rng(seed)
    faces = lfw_subset()[:100].astype(np.float32)
    x, y, view = [], [], []
    for identity, face in enumerate(faces):
        for k in range(views):
            x.append(face_input(face if k == 0 else augment(face, rng)))
            y.append(identity)
            view.append(k)
    return IdentitySet(np.stack(x), np.array(y, dtype=np.int64), np.array(view))


# --- evaluation -------------------------------------------------------------------------------


def embed(model: nn.Module, x, batch_size: int = 256) -> np.ndarray:
    """Embeddings ``(n, dim)`` of faces ``(n, 1, 32, 32)``, in evaluation mode."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    model.eval()
    with torch.no_grad():
        parts = [model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, model.dim), np.float32)


def distances(probes: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(n_probes, n_gallery)`` between embeddings."""
    d2 = (probes**2).sum(1)[:, None] - 2 * probes @ gallery.T + (gallery**2).sum(1)[None]
    return np.sqrt(np.clip(d2, 0, None))


@dataclass(frozen=True)
class Verification:
    """Genuine (same identity) and impostor distances of probe–gallery pairs, and their ROC."""

    genuine: np.ndarray
    impostor: np.ndarray

    def roc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(false positive rate, true positive rate, distance threshold)``: accept if below."""
        from sklearn.metrics import roc_curve

        labels = np.r_[np.ones(len(self.genuine)), np.zeros(len(self.impostor))]
        fpr, tpr, thresholds = roc_curve(labels, -np.r_[self.genuine, self.impostor])
        return fpr, tpr, -thresholds

    def auc(self) -> float:
        """Area under the ROC curve: the chance a genuine pair is closer than an impostor pair."""
        from sklearn.metrics import roc_auc_score

        labels = np.r_[np.ones(len(self.genuine)), np.zeros(len(self.impostor))]
        return float(roc_auc_score(labels, -np.r_[self.genuine, self.impostor]))

    def best_threshold(self) -> float:
        """The distance maximizing ``TPR − FPR`` (Youden's J), between two observed distances."""
        fpr, tpr, thresholds = self.roc()
        best = int(np.argmax(tpr - fpr))
        below = thresholds[best + 1] if best + 1 < len(thresholds) else thresholds[best]
        return float((thresholds[best] + below) / 2) if np.isfinite(below) else thresholds[best]


def verification(model: nn.Module, data: IdentitySet) -> Verification:
    """Every augmented view against every identity's original (its enrolment photo)."""
    e = embed(model, data.x)
    gallery, probes = data.view == 0, data.view > 0
    d = distances(e[probes], e[gallery])
    same = data.y[probes][:, None] == data.y[gallery][None, :]
    return Verification(d[same], d[~same])


def open_set(model: nn.Module, data: IdentitySet) -> Verification:
    """Known vs unknown faces: each augmented view's distance to its nearest enrolled original.

    The first half of the identities are enrolled (their originals), the rest are unknown.
    "Genuine" are the views of enrolled identities, "impostor" those of unknown ones: the ROC of
    this split is the one to choose the "unknown" threshold of identification from.
    """
    e = embed(model, data.x)
    gallery, probes = data.view == 0, data.view > 0
    names = data.y[gallery]
    known = names[: len(names) // 2]
    nearest = distances(e[probes], e[gallery][: len(known)]).min(1)
    enrolled = np.isin(data.y[probes], known)
    return Verification(nearest[enrolled], nearest[~enrolled])


def identification(model: nn.Module, data: IdentitySet, threshold: float) -> dict[str, float]:
    """Closed- and open-set identification of augmented views against the originals.

    Closed set: every identity enrolled; a probe is right if its nearest original is its own.
    Open set: the first half of the identities enrolled, the rest unknown; a probe is right if
    it is matched to its identity within ``threshold``, or, unknown, matched to nobody.
    """
    e = embed(model, data.x)
    gallery, probes = data.view == 0, data.view > 0
    d = distances(e[probes], e[gallery])
    names, truth = data.y[gallery], data.y[probes]
    closed = float((names[d.argmin(1)] == truth).mean())
    known = names[: len(names) // 2]
    d_open = d[:, : len(known)]
    nearest, best = known[d_open.argmin(1)], d_open.min(1)
    enrolled = np.isin(truth, known)
    right = np.where(enrolled, (nearest == truth) & (best < threshold), best >= threshold)
    return {
        "closed_set_accuracy": closed,
        "open_set_accuracy": float(right.mean()),
        "unknown_rejected": float((best >= threshold)[~enrolled].mean()),
        "known_accepted": float(((nearest == truth) & (best < threshold))[enrolled].mean()),
    }


# --- the trained model on disk ----------------------------------------------------------------


def fingerprint(model: nn.Module) -> str:
    """A short hash of the weights: galleries remember which model made their embeddings."""
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass
class Embedder:
    """A trained :class:`EmbeddingNet` with its "unknown" threshold and measured metrics."""

    model: EmbeddingNet
    threshold: float
    """Distance above which a face matches nobody in a gallery."""
    metrics: dict

    @property
    def fingerprint(self) -> str:
        """:func:`fingerprint` of the weights."""
        return fingerprint(self.model)

    def save(self, path: str | os.PathLike) -> Path:
        """Write tensors and plain data only (read back with ``weights_only=True``)."""
        path = Path(path)
        saved = {
            "state_dict": self.model.state_dict(),
            "dim": self.model.dim,
            "threshold": self.threshold,
            "metrics": self.metrics,
        }
        # Into a file object: the archive's folder is then "archive", not the temporary's name.
        with atomic_path(path) as temporary, open(temporary, "wb") as file:
            torch.save(saved, file)
        return path


def load_embedder(path: str | os.PathLike) -> Embedder:
    """Read an :class:`Embedder` saved by :meth:`Embedder.save`.

    Raises:
        DataError: no such file, or not an embedder file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such model file (train one with rlcourse faces train)")
    try:
        saved = torch.load(path, weights_only=True, map_location="cpu")
        model = EmbeddingNet(int(saved["dim"]))
        model.load_state_dict(saved["state_dict"])
        threshold = float(saved["threshold"])
    except Exception as err:  # noqa: BLE001 - whatever is wrong, the file is unusable
        raise DataError(f"{path}: not a face embedding model ({type(err).__name__})") from None
    if not (math.isfinite(threshold) and threshold > 0) or non_finite(saved["state_dict"]):
        raise DataError(
            f"{path}: not a usable face embedding model (NaN or infinite weights, or a threshold "
            f"that is not a positive number: {threshold})"
        )
    return Embedder(model.eval(), threshold, dict(saved.get("metrics", {})))


def train_embedder(
    seed: int = 0,
    epochs: int = EPOCHS,
    views: int = VIEWS,
    dim: int = DIM,
    progress: bool = False,
) -> tuple[Embedder, dict[str, Verification]]:
    """Train the embedding on the identity set; choose the threshold; measure on test identities.

    The threshold maximizes ``TPR − FPR`` on the open-set ROC (:func:`open_set`) of the
    validation identities. Returns the embedder, whose ``metrics`` are

    - ``test_closed_set_accuracy``: every test identity enrolled, nearest original right;
    - ``test_open_set_accuracy``: half enrolled; right name within the threshold, or unknown
      rejected (also split into ``test_known_accepted`` and ``test_unknown_rejected``);
    - ``test_roc_auc``: verification (probe vs original, same or other identity) ROC AUC, and
      ``untrained_test_roc_auc`` for the same network before training;
    - ``test_open_set_roc_auc``, ``val_open_set_roc_auc``: known vs unknown ROC AUC;
    - ``threshold``, ``identities``, ``views``;

    and the ``val`` and ``test`` open-set :class:`Verification` (for ROC plots).
    """
    from supervised.train import TrainConfig, fit, seed_torch, single_thread

    data = identity_set(views, seed)
    train, val, test = (data.identities(a, b) for a, b in zip((0, *SPLITS), SPLITS, strict=False))
    seed_torch(seed)
    model = EmbeddingNet(dim)
    untrained = verification(model, test).auc()
    config = TrainConfig(epochs=epochs, batch_size=256, lr=3e-3, seed=seed, progress=progress)
    with single_thread():
        fit(model, triplet_loss, (train.x, train.y), (val.x, val.y), config)
        pairs = {"val": open_set(model, val), "test": open_set(model, test)}
        threshold = pairs["val"].best_threshold()
        scores = identification(model, test, threshold)
        test_pairs = verification(model, test)
    metrics = {f"test_{key}": value for key, value in scores.items()}
    metrics.update(
        test_roc_auc=test_pairs.auc(),
        untrained_test_roc_auc=untrained,
        test_open_set_roc_auc=pairs["test"].auc(),
        val_open_set_roc_auc=pairs["val"].auc(),
        threshold=threshold,
        identities=len(np.unique(data.y)),
        views=views,
    )
    return Embedder(model.eval(), threshold, metrics), pairs


def plot_roc(pairs: dict[str, Verification], threshold: float, path: str | os.PathLike) -> Path:
    """ROC curves (genuine vs impostor distances), the threshold's point on the test curve."""
    from matplotlib.figure import Figure

    from common.figures import save_figure

    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.add_subplot()
    for name, pair in pairs.items():
        fpr, tpr, _ = pair.roc()
        ax.plot(fpr, tpr, label=f"{name} identities (AUC {pair.auc():.3f})")
    test = pairs.get("test", next(iter(pairs.values())))
    tpr = float((test.genuine < threshold).mean())
    fpr = float((test.impostor < threshold).mean())
    ax.plot([fpr], [tpr], "ko", label=f"threshold {threshold:.2f} (chosen on val)")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="chance")
    ax.set_xlabel("False positive rate (unknown face accepted)")
    ax.set_ylabel("True positive rate (enrolled face accepted)")
    ax.set_title("Open-set identification ROC (lfw_subset identities)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return save_figure(fig, path, dpi=110)
