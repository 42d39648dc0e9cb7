"""The course's face pipeline: detect → crop → embed → compare → identify.

- :func:`detect` (``supervised.face_detect``): an MTCNN-style cascade, ``[(x0, y0, x1, y1,
  score), ...]``.
- Each face box is cut out of the grayscale image, resized to 32×32 and standardized
  (:func:`supervised.face_embed.face_input`), then embedded on the unit sphere by a network
  trained with the triplet loss (:mod:`supervised.face_embed`).
- A :class:`Gallery` holds the embeddings of enrolled people (``enroll`` reads a folder
  ``person/image``) and the fingerprint of the model that made them: a gallery is only ever
  compared with embeddings of the same model.
- :func:`identify` names each face by its nearest gallery embedding, or ``unknown`` when that is
  further than the threshold chosen on an ROC curve (:class:`supervised.face_embed.Embedder`).

:func:`lbp_comparison` measures the detector against scikit-image's LBP cascade on a set of
face and non-face crops.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.atomic import atomic_path
from supervised.data import IMAGE_SUFFIXES, DataError, read_image_file
from supervised.face_detect import Box, Detector, detect, iou
from supervised.face_embed import Embedder, embed, face_input, load_embedder, train_embedder

__all__ = [
    "Gallery",
    "Portrait",
    "detect",
    "enroll",
    "identify",
    "iou",
    "lbp_faces",
    "read_image",
    "read_people",
]

UNKNOWN = "unknown"
"""The name of a face that matches nobody in the gallery."""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as an ``(h, w, 3)`` uint8 RGB array (:func:`supervised.data.read_image_file`).

    Raises:
        DataError: no such file, an empty file, one that is not a readable image, or one of
            more pixels than Pillow's limit (refused unread).
    """
    return read_image_file(path, "RGB")


def gray(image) -> np.ndarray:
    """An image as a float grayscale ``(h, w)`` array in [0, 1]."""
    from skimage.color import rgb2gray

    array = np.asarray(image)
    if array.ndim == 3:
        array = rgb2gray(array[..., :3])
    elif np.issubdtype(array.dtype, np.integer):
        array = array / 255.0
    return array.astype(np.float32)


def face_crop(image, box) -> np.ndarray:
    """The embedding network's input ``(1, 32, 32)`` for the face in ``box`` of ``image``."""
    g = gray(image)
    h, w = g.shape
    x0, y0 = max(int(round(box[0])), 0), max(int(round(box[1])), 0)
    x1, y1 = min(int(round(box[2])), w), min(int(round(box[3])), h)
    if x1 <= x0 or y1 <= y0:
        raise DataError(f"the face box {tuple(round(v) for v in box[:4])} is outside the image")
    return face_input(g[y0:y1, x0:x1])


# --- gallery ----------------------------------------------------------------------------------


@dataclass
class Gallery:
    """Enrolled people: one embedding per enrolled image, with its person's name."""

    fingerprint: str
    """:func:`supervised.face_embed.fingerprint` of the model that made the embeddings."""
    names: list[str] = field(default_factory=list)
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    files: list[str] = field(default_factory=list)
    """Where each embedding came from."""

    def save(self, path: str | os.PathLike) -> Path:
        """Write a ``.npz`` file of arrays and strings only (read back without pickle)."""
        path = Path(path)
        with atomic_path(path) as temporary, open(temporary, "wb") as file:
            np.savez(  # into a file object: numpy adds no .npz suffix
                file,
                fingerprint=np.array(self.fingerprint),
                names=np.array(self.names, dtype=str),
                embeddings=self.embeddings.astype(np.float32),
                files=np.array(self.files, dtype=str),
            )
        return path

    def check_model(self, embedder: Embedder, path: str | os.PathLike = "the gallery") -> None:
        """Refuse a model other than the one that made this gallery.

        Raises:
            DataError: the fingerprints differ.
        """
        if embedder.fingerprint != self.fingerprint:
            raise DataError(
                f"{path} was enrolled with another model (fingerprint {self.fingerprint}, this "
                f"model is {embedder.fingerprint}); enroll again with this model"
            )


def load_gallery(path: str | os.PathLike) -> Gallery:
    """Read a gallery written by :meth:`Gallery.save`.

    Raises:
        DataError: no such file, or not a gallery file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such gallery file (make one with rlcourse faces enroll)")
    try:
        with np.load(path, allow_pickle=False) as saved:
            gallery = Gallery(
                str(saved["fingerprint"]),
                [str(n) for n in saved["names"]],
                saved["embeddings"].astype(np.float32),
                [str(f) for f in saved["files"]],
            )
    except Exception as err:  # noqa: BLE001 - whatever is wrong, the file is unusable
        raise DataError(f"{path}: not a face gallery ({type(err).__name__})") from None
    if len(gallery.names) != len(gallery.embeddings):
        raise DataError(f"{path}: not a face gallery (names and embeddings differ in number)")
    if not np.isfinite(gallery.embeddings).all():
        raise DataError(f"{path}: not a face gallery (NaN or infinite embeddings)")
    return gallery


@dataclass(frozen=True)
class Portrait:
    """One image of an enrolment folder: whose it is, where it came from, its pixels."""

    person: str
    file: Path
    image: np.ndarray


def read_people(folder: str | os.PathLike) -> list[Portrait]:
    """Every image of ``folder/<person>/<image>``, read (people and images in name order).

    Raises:
        DataError: no such folder, no person folders, no images in them, or an image that is
            unreadable, empty or too large (:func:`read_image`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    people = sorted(p for p in folder.iterdir() if p.is_dir())
    if not people:
        raise DataError(f"{folder}: no person folders (expected {folder}/<person>/<image>)")
    portraits = [
        Portrait(person.name, file, read_image(file))
        for person in people
        for file in sorted(person.iterdir())
        if file.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not portraits:
        raise DataError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in the person folders")
    return portraits


def enroll(
    people: str | os.PathLike | Sequence[Portrait],
    embedder: Embedder,
    detector: Detector | None = None,
    cropped: bool = False,
    gallery: Gallery | None = None,
) -> Gallery:
    """Embed the best face of every image in ``folder/<person>/<image>`` into a gallery.

    Args:
        people: the folder, one sub-folder per person named after them, or its
            :func:`read_people`.
        embedder: the embedding model.
        detector: the face detector (default: the pretrained cascade).
        cropped: the images are face crops already (no detection).
        gallery: add to this gallery (made by the same model) instead of a new one.

    Images where no face is found are skipped with a note on stderr.

    Raises:
        DataError: what :func:`read_people` refuses, no face found at all, or a gallery made by
            another model.
    """
    portraits = read_people(people) if isinstance(people, str | os.PathLike) else list(people)
    gallery = gallery or Gallery(embedder.fingerprint)
    gallery.check_model(embedder)
    inputs, names, files = [], [], []
    for portrait in portraits:
        if cropped:
            box = (0, 0, portrait.image.shape[1], portrait.image.shape[0])
        else:
            found = detect(portrait.image, detector)
            if not found:
                print(f"{portrait.file}: no face found; skipped", file=sys.stderr)
                continue
            box = found[0]
        inputs.append(face_crop(portrait.image, box))
        names.append(portrait.person)
        files.append(str(portrait.file))
    if not inputs:
        where = Path(people) if isinstance(people, str | os.PathLike) else "the enrolment folder"
        raise DataError(f"{where}: no face found in any image of the person folders")
    new = embed(embedder.model, np.stack(inputs))
    old = gallery.embeddings.reshape(-1, new.shape[1])
    return Gallery(
        gallery.fingerprint,
        gallery.names + names,
        np.concatenate([old, new]),
        gallery.files + files,
    )


@dataclass(frozen=True)
class Match:
    """One face found in an image and who it is."""

    box: Box
    name: str
    """The nearest enrolled person, or ``unknown``."""
    distance: float
    """Distance to the nearest gallery embedding."""


def identify(
    image,
    gallery: Gallery,
    embedder: Embedder,
    detector: Detector | None = None,
    threshold: float | None = None,
) -> list[Match]:
    """Detect the faces of ``image`` and name each by the gallery (``unknown`` beyond threshold).

    Raises:
        DataError: an empty gallery or one made by another model; an unusable image.
    """
    gallery.check_model(embedder)
    if not gallery.names:
        raise DataError("the gallery is empty")
    threshold = embedder.threshold if threshold is None else threshold
    boxes = detect(image, detector)
    if not boxes:
        return []
    from supervised.face_embed import distances

    e = embed(embedder.model, np.stack([face_crop(image, box) for box in boxes]))
    d = distances(e, gallery.embeddings)
    nearest = d.argmin(1)
    return [
        Match(box, gallery.names[j] if d[i, j] < threshold else UNKNOWN, float(d[i, j]))
        for i, (box, j) in enumerate(zip(boxes, nearest, strict=True))
    ]


def draw_matches(image, matches: list[Match], path: str | os.PathLike) -> Path:
    """The image with each face's box and name (and distance) drawn, as a PNG."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from common.figures import save_figure

    image = np.asarray(image)
    h, w = image.shape[:2]
    fig = Figure(figsize=(7, 7 * h / w), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
    for match in matches:
        x0, y0, x1, y1, _ = match.box
        colour = "tab:red" if match.name == UNKNOWN else "tab:green"
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color=colour, lw=2))
        ax.text(
            x0,
            y0 - 4,
            f"{match.name} ({match.distance:.2f})",
            color="white",
            fontsize=10,
            bbox={"facecolor": colour, "alpha": 0.8, "pad": 2, "edgecolor": "none"},
        )
    ax.set_axis_off()
    ax.set_title(f"{len(matches)} face(s)" if matches else "no face found")
    return save_figure(fig, path, dpi=100)


# --- the default embedder ---------------------------------------------------------------------


def default_embedder_path() -> Path:
    """Where the default embedder is kept: ``$RLCOURSE_CACHE`` or ``~/.cache/rlcourse``."""
    root = os.environ.get("RLCOURSE_CACHE") or Path.home() / ".cache" / "rlcourse"
    return Path(root) / "face-embedder-seed0.pt"


def default_embedder(progress: bool = True) -> Embedder:
    """The default embedder: read from its cache file, or trained (seed 0) once and saved.

    The cache is written temp + rename; one that cannot be read is trained and written again.
    """
    path = default_embedder_path()
    if path.is_file():
        try:
            return load_embedder(path)
        except DataError as err:  # rlcourse's own cache: made again rather than left broken
            print(f"{err}; training the default face embedding again", file=sys.stderr)
    else:
        print(f"training the default face embedding (once) into {path}", file=sys.stderr)
    embedder, _ = train_embedder(seed=0, progress=progress)
    embedder.save(path)
    return embedder


# --- the detector against scikit-image's LBP cascade ------------------------------------------


def lbp_faces(image, min_size: int = 40, max_size: int | None = None) -> list[Box]:
    """Faces found by scikit-image's LBP frontal-face cascade, as ``(x0, y0, x1, y1, 1.0)``."""
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    g = gray(image)
    cascade = Cascade(lbp_frontal_face_cascade_filename())
    top = max_size or min(g.shape)
    found = cascade.detect_multi_scale(
        img=g, scale_factor=1.2, step_ratio=1, min_size=(min_size, min_size), max_size=(top, top)
    )
    return [
        (d["c"], d["r"], d["c"] + d["width"], d["r"] + d["height"], 1.0)
        for d in sorted(found, key=lambda d: (d["r"], d["c"]))
    ]


def crop_set(n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """``n`` faces and ``n`` non-faces of ``lfw_subset()`` as 160×160 crops, and their labels.

    Each 25×25 image is enlarged 4× (to 100 pixels, a face the size both detectors look for)
    and framed by its own edge pixels, so a face is not alone on a flat background.
    """
    from skimage.data import lfw_subset
    from skimage.transform import resize

    images = lfw_subset()
    chosen = np.r_[0:n, 100 : 100 + n]
    crops = [
        np.pad(resize(images[i], (100, 100), anti_aliasing=True), 30, mode="edge") for i in chosen
    ]
    return np.stack(crops), np.r_[np.ones(n, bool), np.zeros(n, bool)]


def precision_recall(found: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Precision and recall of ``found`` (a face was reported) against ``truth``."""
    hits = float((found & truth).sum())
    return hits / max(int(found.sum()), 1), hits / max(int(truth.sum()), 1)


def lbp_comparison(detector: Detector | None = None, n: int = 100) -> dict[str, float]:
    """Precision and recall of the cascade and of the LBP cascade on :func:`crop_set` crops.

    A crop counts as "face found" when a detector reports at least one box on it.
    """
    crops, truth = crop_set(n)
    ours = np.array([bool(detect(c, detector)) for c in crops])
    lbp = np.array([bool(lbp_faces(c)) for c in crops])
    p_ours, r_ours = precision_recall(ours, truth)
    p_lbp, r_lbp = precision_recall(lbp, truth)
    return {
        "mtcnn_precision": p_ours,
        "mtcnn_recall": r_ours,
        "lbp_precision": p_lbp,
        "lbp_recall": r_lbp,
        "crops": len(crops),
    }
