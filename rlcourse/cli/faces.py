"""``rlcourse faces detect|train|enroll|identify``: the face pipeline on the command line.

The handlers import torch and scikit-image only when they run, so building the parser stays
light.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlcourse.cli.common import (
    add_device_option,
    announce_device,
    chosen_device,
    positive_float,
    positive_int,
    seed_int,
)
from rlcourse.errors import UsageError

EXAMPLES = """examples:
  rlcourse faces detect photo.jpg --out boxes.png
  rlcourse faces train --out results/faces          # embedding model, metrics.json, roc.png
  rlcourse faces enroll people/ --gallery gallery.npz --model results/faces/embedder.pt
  rlcourse faces identify photo.jpg --gallery gallery.npz --model results/faces/embedder.pt
Without --model, enroll and identify use the default model (trained once, kept in
$RLCOURSE_CACHE or ~/.cache/rlcourse)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``faces`` and its actions."""
    p = sub.add_parser(
        "faces",
        help="detect, enroll and identify faces",
        description="Face detection (MTCNN-style cascade) and recognition (triplet-loss "
        "embeddings) against a gallery.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    faces = p.add_subparsers(dest="faces_command", required=True, metavar="ACTION")
    _register_detect(faces)
    _register_train(faces)
    _register_enroll(faces)
    _register_identify(faces)


def _register_detect(faces: argparse._SubParsersAction) -> None:
    q = faces.add_parser("detect", help="find faces in an image", description=cmd_detect.__doc__)
    q.add_argument("image", help="an image file (PNG, JPEG, ...)")
    q.add_argument("--out", help="also write a PNG with the boxes drawn")
    q.add_argument("--weights", help="folder of pnet.pt, rnet.pt, onet.pt (default: facenet's)")
    q.add_argument("--force", action="store_true", help="overwrite an existing --out")
    q.set_defaults(func=cmd_detect)


def _register_train(faces: argparse._SubParsersAction) -> None:
    q = faces.add_parser(
        "train", help="train the embedding model", description=cmd_faces_train.__doc__
    )
    q.add_argument("--epochs", type=positive_int, help="training epochs (default 60)")
    q.add_argument("--seed", type=seed_int, default=0, help="seed (default 0)")
    q.add_argument("--out", required=True, help="output directory")
    q.add_argument("--force", action="store_true", help="overwrite an existing --out")
    add_device_option(q)
    q.set_defaults(func=cmd_faces_train)


def _register_enroll(faces: argparse._SubParsersAction) -> None:
    q = faces.add_parser("enroll", help="add people to a gallery", description=cmd_enroll.__doc__)
    q.add_argument("folder", help="a folder of person/image files")
    q.add_argument("--gallery", required=True, help="gallery file (.npz) to create or extend")
    q.add_argument("--model", help="embedding model file (default: the default model)")
    q.add_argument("--cropped", action="store_true", help="images are face crops: no detection")
    q.add_argument("--force", action="store_true", help="replace the gallery instead of adding")
    q.set_defaults(func=cmd_enroll)


def _register_identify(faces: argparse._SubParsersAction) -> None:
    q = faces.add_parser(
        "identify", help="name the faces in an image", description=cmd_identify.__doc__
    )
    q.add_argument("image", help="an image file")
    q.add_argument("--gallery", required=True, help="gallery file written by enroll")
    q.add_argument("--model", help="the model the gallery was enrolled with (default model)")
    q.add_argument(
        "--threshold", type=positive_float, help="unknown beyond this distance (model's)"
    )
    q.add_argument("--out", help="PNG with boxes and names (default IMAGE-faces.png here)")
    q.add_argument("--force", action="store_true", help="overwrite an existing --out")
    q.set_defaults(func=cmd_identify)


def _png_out(path: str, force: bool) -> Path:
    """``--out``: a PNG file that may be written (an existing one only with --force)."""
    from rlcourse.outputs import check_output_file

    out = Path(path)
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out must be a .png file, got {out}")
    check_output_file(out, force)
    return out


def _embedder(model: str | None):
    from supervised.face import default_embedder
    from supervised.face_embed import load_embedder

    return load_embedder(model) if model else default_embedder()


def cmd_detect(args) -> int:
    """Print the faces found in IMAGE, one per line: x0 y0 x1 y1 score."""
    from supervised.face import draw_matches, read_image
    from supervised.face_detect import detect, load_detector
    from supervised.train import single_thread

    out = _png_out(args.out, args.force) if args.out else None
    image = read_image(args.image)
    with single_thread():
        boxes = detect(image, load_detector(args.weights) if args.weights else None)
    for box in boxes:
        print(" ".join(f"{v:.1f}" for v in box[:4]) + f" {box[4]:.3f}")
    print(f"{len(boxes)} face(s) in {args.image}", file=sys.stderr)
    if out:
        from supervised.face import Match

        draw_matches(image, [Match(b, "face", b[4]) for b in boxes], out)
        print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_faces_train(args) -> int:
    """Train the triplet-loss embedding on lfw_subset identities; write the model and ROC."""
    from common import devices
    from rlcourse.outputs import prepare_output
    from supervised.experiments import save_metrics
    from supervised.face_embed import EPOCHS, plot_roc, train_embedder

    out = Path(args.out)
    device = chosen_device(args)
    staged = prepare_output(out, args.force)
    announce_device(device)
    with devices.using(device) as chosen:
        embedder, pairs = train_embedder(seed=args.seed, epochs=args.epochs or EPOCHS,
                                         progress=True)  # fmt: skip
    with staged as staging:
        embedder.save(staging / "embedder.pt")
        plot_roc(pairs, embedder.threshold, staging / "roc.png")
        save_metrics(staging, {**embedder.metrics, "fingerprint": embedder.fingerprint,
                               "device": devices.describe(chosen)})  # fmt: skip
    for key, value in embedder.metrics.items():
        print(f"{key:28s} {value:.4g}" if isinstance(value, float) else f"{key:28s} {value}")
    print(f"wrote {out}/ (embedder.pt, metrics.json, roc.png)", file=sys.stderr)
    return 0


def cmd_enroll(args) -> int:
    """Embed the best face of each FOLDER/person/image into the gallery --gallery.

    The folder's images and an existing gallery are read and checked before the model is loaded
    (or trained); the gallery is then written whole (temp + rename). --force replaces only a
    file that is a gallery.
    """
    from rlcourse.outputs import check_output_file
    from supervised.face import enroll, read_people
    from supervised.train import single_thread

    path = Path(args.gallery)
    check_output_file(path, force=True, flag="--gallery")  # an existing gallery is extended
    portraits = read_people(args.folder)
    existing = _existing_gallery(path, args.force)
    embedder = _embedder(args.model)
    if existing is not None:
        existing.check_model(embedder, path)
    with single_thread():
        gallery = enroll(portraits, embedder, cropped=args.cropped, gallery=existing)
    gallery.save(path)
    people = sorted(set(gallery.names))
    print(f"{path}: {len(gallery.names)} face(s) of {len(people)} people: {', '.join(people)}")
    return 0


def _existing_gallery(path: Path, force: bool):
    """The gallery at ``path`` to extend (None: none there, or --force replaces it).

    Raises:
        UsageError: with --force, a file that is not a gallery (it is not ours to replace).
        DataError: without --force, a file that is not a gallery.
    """
    from supervised.data import DataError
    from supervised.face import load_gallery

    if not path.exists():
        return None
    try:
        gallery = load_gallery(path)
    except DataError as err:
        if force:
            raise UsageError(
                f"{err}; --force replaces only a gallery, so choose another --gallery"
            ) from None
        raise
    return None if force else gallery


def cmd_identify(args) -> int:
    """Name each face in IMAGE from the gallery (unknown beyond the threshold); draw a PNG."""
    from supervised.face import draw_matches, identify, load_gallery, read_image
    from supervised.train import single_thread

    out = _png_out(args.out or f"{Path(args.image).stem}-faces.png", args.force)
    image = read_image(args.image)
    gallery = load_gallery(args.gallery)
    embedder = _embedder(args.model)
    gallery.check_model(embedder, args.gallery)
    with single_thread():
        matches = identify(image, gallery, embedder, threshold=args.threshold)
    for match in matches:
        x0, y0, x1, y1, score = match.box
        print(
            f"{match.name}\t{match.distance:.3f}\t{x0:.0f} {y0:.0f} {x1:.0f} {y1:.0f}\t{score:.3f}"
        )
    draw_matches(image, matches, out)
    print(f"{len(matches)} face(s); wrote {out}", file=sys.stderr)
    return 0
