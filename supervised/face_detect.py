"""Face detection with an MTCNN-style cascade of three small CNNs (Zhang et al., 2016).

1. **P-Net**, fully convolutional, slides a 12×12 window (stride 2) over an image pyramid (each
   level ``factor`` smaller) and scores every window face / non-face, with a regression of the
   box's corners. Windows above ``thresholds[0]`` survive non-maximum suppression (NMS).
2. **R-Net** rescores each candidate on a 24×24 crop and refines its box.
3. **O-Net** does the same on 48×48 crops (and predicts five landmarks, unused here); a last NMS
   that measures overlap against the smaller box keeps one box per face.

Between stages boxes are moved by the regression (``corner + offset × side``) and squared.
Crops reach outside the image as black pixels. NMS is written here (no torchvision).

Weights: the pretrained ones shipped inside the ``facenet-pytorch`` wheel
(``facenet_pytorch/data/{pnet,rnet,onet}.pt``, installed by ``make install`` with
``--no-deps``); their files are read with ``torch.load(weights_only=True)`` into the networks
below, never through that package's code. Without them the cascade is trained from scratch as a
face / non-face classifier with box regression on scikit-image's ``lfw_subset()`` (100 faces,
100 non-faces of 25×25 pixels): it learns what a face crop looks like, but from 200 images it
is a weak detector on real photographs.

>>> boxes = detect(skimage.data.astronaut())   # [(x0, y0, x1, y1, score), ...], best first
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common.packages import find_installed
from supervised.data import DataError

Box = tuple[float, float, float, float, float]
"""``(x0, y0, x1, y1, score)``: corners in pixels (``x`` is the column), score in [0, 1]."""
THRESHOLDS = (0.6, 0.7, 0.7)
"""Face-probability thresholds of P-, R- and O-Net."""
MIN_FACE = 20
"""Smallest face searched for, in pixels."""
FACTOR = 0.709
"""Scale between pyramid levels (half the area per two levels)."""
WEIGHT_FILES = ("pnet.pt", "rnet.pt", "onet.pt")


def _prelu_conv(n_in: int, n_out: int, kernel: int) -> list[nn.Module]:
    return [nn.Conv2d(n_in, n_out, kernel), nn.PReLU(n_out)]


def _flatten_wh(x: torch.Tensor) -> torch.Tensor:
    """Flatten ``(n, c, h, w)`` in (w, h, c) order, as the pretrained dense layers expect."""
    return x.permute(0, 3, 2, 1).reshape(len(x), -1)


class PNet(nn.Module):
    """Proposal net: 12×12 windows → face logits ``(n, 2, h', w')``, offsets ``(n, 4, h', w')``."""

    size = 12
    #: The pretrained files' layer names, in the order of this network's layers.
    pretrained = ("conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4_1", "conv4_2")

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            *_prelu_conv(3, 10, 3),
            nn.MaxPool2d(2, 2, ceil_mode=True),
            *_prelu_conv(10, 16, 3),
            *_prelu_conv(16, 32, 3),
        )
        self.classify = nn.Conv2d(32, 2, 1)
        self.regress = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, offsets)`` for normalized images ``(n, 3, h, w)``."""
        h = self.body(x)
        return self.classify(h), self.regress(h)


class _CropNet(nn.Module):
    """R- and O-Net: convolutions, a dense layer, then face logits and box offsets."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits (n, 2), offsets (n, 4))`` for normalized crops ``(n, 3, size, size)``."""
        h = self.dense(_flatten_wh(self.body(x)))
        return self.classify(h), self.regress(h)


class RNet(_CropNet):
    """Refinement net: 24×24 crops → face logits ``(n, 2)`` and box offsets ``(n, 4)``."""

    size = 24
    pretrained = (
        *("conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3"),
        *("dense4", "prelu4", "dense5_1", "dense5_2"),
    )

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            *_prelu_conv(3, 28, 3),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            *_prelu_conv(28, 48, 3),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            *_prelu_conv(48, 64, 2),
        )
        self.dense = nn.Sequential(nn.Linear(576, 128), nn.PReLU(128))
        self.classify = nn.Linear(128, 2)
        self.regress = nn.Linear(128, 4)


class ONet(_CropNet):
    """Output net: 48×48 crops → face logits ``(n, 2)``, offsets ``(n, 4)`` (and landmarks)."""

    size = 48
    pretrained = (
        *("conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4", "prelu4"),
        *("dense5", "prelu5", "dense6_1", "dense6_2", "dense6_3"),
    )

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            *_prelu_conv(3, 32, 3),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            *_prelu_conv(32, 64, 3),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            *_prelu_conv(64, 64, 3),
            nn.MaxPool2d(2, 2, ceil_mode=True),
            *_prelu_conv(64, 128, 2),
        )
        self.dense = nn.Sequential(nn.Linear(1152, 256), nn.PReLU(256))
        self.classify = nn.Linear(256, 2)
        self.regress = nn.Linear(256, 4)
        self.landmarks = nn.Linear(256, 10)


NETWORKS = (PNet, RNet, ONet)


def pretrained_state(network: type[nn.Module], state: dict[str, torch.Tensor]) -> dict:
    """Rename a facenet-pytorch state dict's keys onto ``network``'s layers (same order).

    Raises:
        DataError: the state dict has other layers or shapes than ``network``.
    """
    ours = [name for name, module in network().named_modules() if _has_own_parameters(module)]
    if len(ours) != len(network.pretrained):
        raise AssertionError(f"{network.__name__}.pretrained does not list every layer")
    renamed = {}
    for theirs, mine in zip(network.pretrained, ours, strict=True):
        for key in ("weight", "bias"):
            if f"{theirs}.{key}" in state:
                renamed[f"{mine}.{key}"] = state[f"{theirs}.{key}"]
    expected = network().state_dict()
    if renamed.keys() != expected.keys() or any(
        renamed[k].shape != v.shape for k, v in expected.items()
    ):
        raise DataError(f"the weights do not fit {network.__name__} (other layers or shapes)")
    return renamed


def _has_own_parameters(module: nn.Module) -> bool:
    return any(True for _ in module.parameters(recurse=False))


@dataclass
class Detector:
    """The three networks of the cascade and where their weights came from."""

    pnet: PNet
    rnet: RNet
    onet: ONet
    source: str
    """``pretrained (PATH)`` or ``trained from scratch on lfw_subset()``."""

    def eval(self) -> Detector:
        """All three networks in evaluation mode."""
        for net in (self.pnet, self.rnet, self.onet):
            net.eval()
        return self


def facenet_weights_dir() -> Path | None:
    """``facenet_pytorch/data`` when that package is installed (found, never imported)."""
    spec = find_installed("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load_detector(weights: str | os.PathLike | None = None, seed: int = 0) -> Detector:
    """The cascade with pretrained weights from ``weights`` (default: the facenet-pytorch wheel's).

    A folder named in ``weights`` must hold ``pnet.pt``, ``rnet.pt`` and ``onet.pt``. Without
    ``weights``, when facenet-pytorch or one of its files is missing, warns and trains the
    cascade from scratch on ``lfw_subset()`` instead (:func:`train_detector`).

    Raises:
        DataError: a named folder that is missing or lacks a weight file, or a weight file that
            is not a state dict of the right shapes.
    """
    if weights is not None:
        folder = Path(weights)
        if not folder.is_dir():
            raise DataError(
                f"{folder}: no such folder of MTCNN weights ({', '.join(WEIGHT_FILES)})"
            )
        missing = [name for name in WEIGHT_FILES if not (folder / name).is_file()]
        if missing:
            raise DataError(
                f"{folder}: no {', '.join(missing)} (a folder of MTCNN weights holds "
                f"{', '.join(WEIGHT_FILES)})"
            )
    else:
        folder = facenet_weights_dir()
        if folder is None or not all((folder / name).is_file() for name in WEIGHT_FILES):
            warnings.warn(
                f"no MTCNN weights in {folder or 'facenet_pytorch (not installed)'}; training "
                "the cascade from scratch on lfw_subset() (a weak detector on photographs)",
                stacklevel=2,
            )
            return train_detector(seed=seed)[0]
    nets = []
    for network, name in zip(NETWORKS, WEIGHT_FILES, strict=True):
        try:
            state = torch.load(folder / name, weights_only=True, map_location="cpu")
        except Exception as err:  # noqa: BLE001 - any failure means the same: unusable file
            raise DataError(f"{folder / name}: not a readable state dict ({err})") from None
        if not isinstance(state, dict):
            raise DataError(f"{folder / name}: not a state dict but {type(state).__name__}")
        try:
            renamed = pretrained_state(network, state)
        except DataError as err:
            raise DataError(f"{folder / name}: {err}") from None
        net = network()
        net.load_state_dict(renamed)
        nets.append(net)
    return Detector(*nets, source=f"pretrained ({folder})").eval()


@functools.cache
def default_detector() -> Detector:
    """The detector :func:`detect` uses when given none (loaded once per process)."""
    return load_detector()


# --- images, boxes, NMS -----------------------------------------------------------------------


def as_rgb(image) -> torch.Tensor:
    """An image as a float tensor ``(3, h, w)`` of 0–255 values.

    Accepts ``(h, w)`` grayscale or ``(h, w, 3|4)`` colour arrays, integer (0–255) or float
    (0–1) valued.

    Raises:
        DataError: an empty image or one of another shape.
    """
    array = np.asarray(image)
    if array.ndim not in (2, 3) or array.size == 0 or min(array.shape[:2]) < 1:
        raise DataError(f"expected an (h, w) or (h, w, 3) image, got shape {array.shape}")
    if array.ndim == 3:
        if array.shape[2] not in (3, 4):
            raise DataError(f"expected 3 colour channels (RGB), got {array.shape[2]}")
        array = array[..., :3]
    else:
        array = np.repeat(array[..., None], 3, axis=2)
    if np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        scaled = array.astype(np.float32)
    else:
        scaled = array.astype(np.float32) * 255.0
    return torch.from_numpy(np.ascontiguousarray(scaled.transpose(2, 0, 1)))


def normalize(pixels: torch.Tensor) -> torch.Tensor:
    """0–255 pixels to the networks' input range, about [-1, 1]."""
    return (pixels - 127.5) / 128.0


def iou(a, b) -> float:
    """Intersection over union of two boxes ``(x0, y0, x1, y1, ...)``."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, mode: str = "union"):
    """Greedy non-maximum suppression: indices of the kept boxes, best score first.

    Takes the best remaining box, drops every other box that overlaps it by more than
    ``threshold``, repeats. Overlap is intersection over union (``mode="union"``) or over the
    smaller box's area (``"min"``, which also drops a small box inside a big one).
    """
    if mode not in ("union", "min"):
        raise ValueError(f"mode must be 'union' or 'min', got {mode!r}")
    x0, y0, x1, y1 = boxes.unbind(1)
    area = (x1 - x0).clamp(min=0) * (y1 - y0).clamp(min=0)
    order = scores.argsort(descending=True)
    keep = []
    while len(order):
        best, rest = order[0], order[1:]
        keep.append(int(best))
        w = (torch.minimum(x1[best], x1[rest]) - torch.maximum(x0[best], x0[rest])).clamp(min=0)
        h = (torch.minimum(y1[best], y1[rest]) - torch.maximum(y0[best], y0[rest])).clamp(min=0)
        inter = w * h
        if mode == "union":
            overlap = inter / (area[best] + area[rest] - inter).clamp(min=1e-9)
        else:
            overlap = inter / torch.minimum(area[best], area[rest]).clamp(min=1e-9)
        order = rest[overlap <= threshold]
    return torch.tensor(keep, dtype=torch.long)


def regress(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Move each corner by ``offset × side`` (the networks' box regression)."""
    side = torch.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1).repeat(1, 2)
    return boxes + offsets * side


def square(boxes: torch.Tensor) -> torch.Tensor:
    """The square boxes of the longer side around the same centres."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).max(1).values[:, None] / 2
    return torch.cat([centre - half, centre + half], 1)


def crops(pixels: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Normalized ``size × size`` crops ``(n, 3, size, size)`` of boxes; outside is black."""
    _, h, w = pixels.shape
    out = torch.empty(len(boxes), 3, size, size)
    for i, (x0, y0, x1, y1) in enumerate(boxes.round().int().tolist()):
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        patch = torch.zeros(3, y1 - y0, x1 - x0)
        sx, sy, ex, ey = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if ex > sx and ey > sy:
            patch[:, sy - y0 : ey - y0, sx - x0 : ex - x0] = pixels[:, sy:ey, sx:ex]
        out[i] = F.interpolate(patch[None], size=(size, size), mode="area")[0]
    return normalize(out)


# --- the cascade ------------------------------------------------------------------------------


def pyramid(height: int, width: int, min_face: int = MIN_FACE, factor: float = FACTOR):
    """Scales at which a 12-pixel window sees faces from ``min_face`` pixels to the whole image."""
    scale, scales = 12.0 / min_face, []
    while min(height, width) * scale >= 12:
        scales.append(scale)
        scale *= factor
    return scales


def _propose(net: PNet, pixels: torch.Tensor, threshold: float, min_face: int, factor: float):
    """P-Net over the pyramid: candidate boxes ``(k, 4)`` and scores ``(k,)``, NMS-ed."""
    _, h, w = pixels.shape
    found_boxes, found_scores = [], []
    for scale in pyramid(h, w, min_face, factor):
        size = (math.ceil(h * scale), math.ceil(w * scale))
        level = normalize(F.interpolate(pixels[None], size=size, mode="area"))
        logits, offsets = net(level)
        prob = logits.softmax(1)[0, 1]
        rows, cols = torch.nonzero(prob >= threshold, as_tuple=True)
        if not len(rows):
            continue
        corner = torch.stack([cols, rows], 1).float() * 2 / scale
        boxes = torch.cat([corner, corner + 12 / scale], 1)
        scores = prob[rows, cols]
        boxes = regress(boxes, offsets[0, :, rows, cols].T)
        keep = nms(boxes, scores, 0.5)
        found_boxes.append(boxes[keep])
        found_scores.append(scores[keep])
    if not found_boxes:
        return torch.zeros(0, 4), torch.zeros(0)
    boxes, scores = torch.cat(found_boxes), torch.cat(found_scores)
    keep = nms(boxes, scores, 0.7)
    return square(boxes[keep]), scores[keep]


def _refine(net: nn.Module, pixels, boxes, threshold: float, last: bool):
    """Rescore boxes with R-Net or O-Net on crops; keep, regress and NMS the faces."""
    if not len(boxes):
        return boxes, torch.zeros(0)
    logits, offsets = net(crops(pixels, boxes, net.size))
    prob = logits.softmax(1)[:, 1]
    face = prob >= threshold
    boxes, scores = regress(boxes[face], offsets[face]), prob[face]
    keep = nms(boxes, scores, 0.7, mode="min" if last else "union")
    boxes, scores = boxes[keep], scores[keep]
    return (boxes if last else square(boxes)), scores


def detect(
    image,
    detector: Detector | None = None,
    thresholds: tuple[float, float, float] = THRESHOLDS,
    min_face: int = MIN_FACE,
    factor: float = FACTOR,
) -> list[Box]:
    """Faces in ``image``: ``[(x0, y0, x1, y1, score), ...]``, best score first.

    Args:
        image: ``(h, w)`` or ``(h, w, 3)`` array, 0–255 integers or 0–1 floats.
        detector: the cascade (default: :func:`default_detector`).
        thresholds: face-probability thresholds of the three stages.
        min_face: smallest face searched for, in pixels.
        factor: scale between pyramid levels, in (0, 1).

    Raises:
        DataError: an empty image or one of an unusable shape.
    """
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor}")
    pixels = as_rgb(image)
    detector = (detector or default_detector()).eval()
    with torch.no_grad():
        boxes, scores = _propose(detector.pnet, pixels, thresholds[0], min_face, factor)
        boxes, scores = _refine(detector.rnet, pixels, boxes, thresholds[1], last=False)
        boxes, scores = _refine(detector.onet, pixels, boxes, thresholds[2], last=True)
    _, h, w = pixels.shape
    limits = torch.tensor([w, h, w, h], dtype=torch.float32)
    boxes = torch.minimum(boxes.clamp(min=0), limits)
    return [(*map(float, box), float(score)) for box, score in zip(boxes, scores, strict=True)]


# --- training from scratch on lfw_subset() ----------------------------------------------------


def jittered_crops(
    faces: np.ndarray, others: np.ndarray, size: int, copies: int, rng: np.random.Generator
):
    """Training crops ``(n, 3, size, size)`` and targets ``(n, 5)``: label, then box offsets.

    Faces are cut through windows of random size (0.8–1.25 × the face) and shift (±15%), so the
    target offsets (face corners minus window corners, over the window side) are known; non-face
    images give random windows labelled 0 (their offsets are unused). Half of all crops are
    mirrored.
    """
    from skimage.transform import resize

    side = faces.shape[1]
    pad = side
    x, y = [], []
    for images, label in ((faces, 1), (others, 0)):
        padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
        for image in padded:
            for _ in range(copies):
                window = side * rng.uniform(0.8, 1.25) if label else side * rng.uniform(0.5, 1)
                cx, cy = pad + side / 2 + rng.uniform(-0.15, 0.15, 2) * side
                if not label:
                    cx, cy = pad + rng.uniform(window / 2, side - window / 2, 2)
                x0, y0 = round(cx - window / 2), round(cy - window / 2)
                w = max(round(window), 2)
                crop = resize(image[y0 : y0 + w, x0 : x0 + w], (size, size), anti_aliasing=True)
                offsets = np.array([pad - x0, pad - y0, pad + side - x0 - w, pad + side - y0 - w])
                if rng.random() < 0.5:
                    crop = crop[:, ::-1]
                    offsets = np.array([-offsets[2], offsets[1], -offsets[0], offsets[3]])
                x.append(np.repeat(crop[None], 3, axis=0))
                y.append([label, *(offsets / w)])
    pixels = torch.as_tensor(np.array(x, dtype=np.float32) * 255.0)
    return normalize(pixels), torch.as_tensor(np.array(y, dtype=np.float32))


def cascade_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Face / non-face cross-entropy plus half the squared error of the faces' box offsets."""
    logits, offsets = model(x)
    logits, offsets = logits.reshape(len(x), 2), offsets.reshape(len(x), 4)
    label = y[:, 0].long()
    loss = F.cross_entropy(logits, label)
    face = label == 1
    if face.any():
        loss = loss + 0.5 * F.mse_loss(offsets[face], y[face, 1:])
    return loss


def face_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of crops classified right (face probability above or below 0.5)."""
    logits = model(x)[0].reshape(len(x), 2)
    return float((logits.argmax(1) == y[:, 0].long()).float().mean())


def train_detector(
    seed: int = 0, epochs: int = 15, copies: int = 6, progress: bool = False
) -> tuple[Detector, dict[str, float]]:
    """P-, R- and O-Net trained from scratch on ``lfw_subset()``; returns validation accuracies.

    The first 80 faces and 80 non-faces are for training, the last 20 of each for validation
    (the accuracy of each net on their jittered crops, as ``pnet_val_accuracy`` etc.). Each face
    and non-face gives ``copies`` jittered crops (three times as many for the small P-Net).
    """
    from skimage.data import lfw_subset

    from supervised.train import TrainConfig, fit, seed_torch, single_thread

    images = lfw_subset().astype(np.float32)
    faces, others = images[:100], images[100:]
    rng = np.random.default_rng(seed)
    nets, accuracies = [], {}
    config = TrainConfig(epochs=epochs, batch_size=64, lr=2e-3, seed=seed, progress=progress)
    with single_thread():
        for network in NETWORKS:
            n = copies * 3 if network is PNet else copies  # P-Net is cheap and needs more
            train = jittered_crops(faces[:80], others[:80], network.size, n, rng)
            val = jittered_crops(faces[80:], others[80:], network.size, 2, rng)
            seed_torch(seed)
            net = network()
            fit(net, cascade_loss, train, val, config)
            with torch.no_grad():
                accuracies[f"{network.__name__.lower()}_val_accuracy"] = face_accuracy(net, *val)
            nets.append(net)
    detector = Detector(*nets, source="trained from scratch on lfw_subset()").eval()
    return detector, accuracies
