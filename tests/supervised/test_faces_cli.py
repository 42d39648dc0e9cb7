import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.transform import rescale

from rlcourse.cli import main
from supervised.face import Gallery, enroll, identify, load_gallery


@pytest.fixture
def model(small_embedder, tmp_path):
    return str(small_embedder[0].save(tmp_path / "embedder.pt"))


def save(array, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def people(root, faces=(0, 1, 2)):
    lfw = (data.lfw_subset() * 255).astype(np.uint8)
    for i in faces:
        save(lfw[i], root / f"person{i}" / "a.png")
    return root


def one_line_error(capsys, code, command="faces"):
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith(f"rlcourse {command}: error: ") and "\n" not in err, err
    return err


def test_detect_prints_the_astronauts_face_and_draws_it(tmp_path, capsys):
    image = save(data.astronaut(), tmp_path / "astronaut.png")
    code = main(["faces", "detect", str(image), "--out", str(tmp_path / "boxes.png")])
    out = capsys.readouterr().out.split("\n")
    assert code == 0 and len(out) == 2 and out[1] == ""
    x0, y0, x1, y1, score = map(float, out[0].split())
    assert 150 < x0 < x1 < 300 and 40 < y0 < y1 < 200 and score > 0.9
    assert (tmp_path / "boxes.png").stat().st_size > 10_000


def test_enroll_then_identify_the_astronaut(small_embedder, tmp_path, capsys, model):
    astronaut = data.astronaut()
    save(
        (rescale(astronaut, 0.8, channel_axis=2) * 255).astype(np.uint8),
        tmp_path / "p/eileen/1.png",
    )
    people(tmp_path / "p", faces=(5, 6))
    gallery = tmp_path / "g.npz"
    assert (
        main(["faces", "enroll", str(tmp_path / "p"), "--gallery", str(gallery), "--model", model])
        == 0
    )
    assert "of 3 people: eileen, person5, person6" in capsys.readouterr().out
    image = save(astronaut, tmp_path / "astronaut.png")
    out_png = tmp_path / "named.png"
    code = main(
        [
            "faces",
            "identify",
            str(image),
            "--gallery",
            str(gallery),
            "--model",
            model,
            "--out",
            str(out_png),
        ]
    )
    assert code == 0
    name, distance, *_ = capsys.readouterr().out.split("\t")
    assert name == "eileen" and float(distance) < small_embedder[0].threshold
    assert out_png.stat().st_size > 10_000
    # a threshold of 0 makes everyone unknown
    matches = identify(astronaut, load_gallery(gallery), small_embedder[0], threshold=0.0)
    assert [m.name for m in matches] == ["unknown"]


def test_enroll_cropped_faces_adds_to_a_gallery(small_embedder, tmp_path):
    embedder = small_embedder[0]
    first = enroll(people(tmp_path / "a", (0, 1)), embedder, cropped=True)
    both = enroll(people(tmp_path / "b", (2,)), embedder, cropped=True, gallery=first)
    assert both.names == ["person0", "person1", "person2"]
    assert both.embeddings.shape == (3, embedder.model.dim)
    both.save(tmp_path / "g.npz")
    again = load_gallery(tmp_path / "g.npz")
    assert again.names == both.names and np.allclose(again.embeddings, both.embeddings)
    assert again.fingerprint == embedder.fingerprint


def test_a_gallery_from_another_model_is_refused(tmp_path, capsys, model):
    gallery = tmp_path / "g.npz"
    Gallery("0123456789abcdef", ["x"], np.zeros((1, 64), np.float32), ["x.png"]).save(gallery)
    image = save(data.astronaut(), tmp_path / "astronaut.png")
    code = main(["faces", "identify", str(image), "--gallery", str(gallery), "--model", model])
    err = one_line_error(capsys, code)
    assert "was enrolled with another model (fingerprint 0123456789abcdef" in err
    code = main(
        [
            "faces",
            "enroll",
            str(people(tmp_path / "p")),
            "--gallery",
            str(gallery),
            "--model",
            model,
            "--cropped",
        ]
    )
    assert "enrolled with another model" in one_line_error(capsys, code)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty file, not an image"), (b"GIF89a not really", "unreadable image")],
)
def test_empty_or_unreadable_images_are_refused(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    err = one_line_error(capsys, main(["faces", "detect", str(bad)]))
    assert f"bad.png: {message}" in err
    (tmp_path / "p" / "ann").mkdir(parents=True)
    (tmp_path / "p" / "ann" / "x.png").write_bytes(content)
    enroll_argv = ["faces", "enroll", str(tmp_path / "p"), "--gallery", str(tmp_path / "g.npz")]
    code = main([*enroll_argv, "--model", str(tmp_path / "none.pt")])
    assert f"x.png: {message}" in one_line_error(capsys, code)  # before the model is read
    (tmp_path / "p" / "ann" / "x.png").unlink()
    save(data.astronaut(), tmp_path / "p" / "ann" / "y.png")
    code = main([*enroll_argv, "--model", str(tmp_path / "none.pt")])
    assert "none.pt: no such model file" in one_line_error(capsys, code)
    assert not (tmp_path / "g.npz").exists()


def test_bad_gallery_and_missing_image(tmp_path, capsys, model):
    (tmp_path / "g.npz").write_text("nope")
    image = save(data.astronaut(), tmp_path / "a.png")
    code = main(
        ["faces", "identify", str(image), "--gallery", str(tmp_path / "g.npz"), "--model", model]
    )
    assert "g.npz: not a face gallery" in one_line_error(capsys, code)
    code = main(["faces", "detect", str(tmp_path / "missing.jpg")])
    assert "missing.jpg: no such image file" in one_line_error(capsys, code)


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG file whose header claims ``width × height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


BOMB = (
    "bomb.png: 10,000,000,000 pixels, over the limit of 89,478,485; refused unread "
    "(a decompression bomb?)"
)


def test_a_decompression_bomb_is_refused_unread_by_every_faces_command(tmp_path, capsys, model):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(100_000, 100_000))
    err = one_line_error(capsys, main(["faces", "detect", str(bomb)]))
    assert err == f"rlcourse faces: error: {tmp_path / BOMB}"
    gallery = tmp_path / "g.npz"
    people(tmp_path / "p", faces=(0,))
    (tmp_path / "p" / "person0" / "bomb.png").write_bytes(bomb.read_bytes())
    enroll_argv = ["faces", "enroll", str(tmp_path / "p"), "--gallery", str(gallery)]
    err = one_line_error(capsys, main([*enroll_argv, "--model", model, "--cropped"]))
    assert err == f"rlcourse faces: error: {tmp_path / 'p' / 'person0' / BOMB}"
    assert not gallery.exists()
    Gallery("0123456789abcdef", ["x"], np.zeros((1, 64), np.float32), ["x.png"]).save(gallery)
    code = main(["faces", "identify", str(bomb), "--gallery", str(gallery), "--model", model])
    assert one_line_error(capsys, code) == f"rlcourse faces: error: {tmp_path / BOMB}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.png", "embedder.pt", "g.npz", "p"]


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path, capsys, monkeypatch):
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)  # Pillow only warns below twice this
    image = save(np.zeros((40, 40), np.uint8), tmp_path / "big.png")
    err = one_line_error(capsys, main(["faces", "detect", str(image)]))
    assert err == (
        f"rlcourse faces: error: {image}: 1,600 pixels, over the limit of 1,000; refused unread "
        "(a decompression bomb?)"
    )


def test_detect_refuses_a_weights_folder_that_is_not_there(tmp_path, capsys, monkeypatch):
    import supervised.face_detect as fd

    monkeypatch.setattr(fd, "train_detector", lambda seed=0: pytest.fail("trained from scratch"))
    image = save(data.astronaut(), tmp_path / "astronaut.png")
    code = main(["faces", "detect", str(image), "--weights", str(tmp_path / "nowhere")])
    assert one_line_error(capsys, code) == (
        f"rlcourse faces: error: {tmp_path / 'nowhere'}: no such folder of MTCNN weights "
        "(pnet.pt, rnet.pt, onet.pt)"
    )
    assert capsys.readouterr().out == ""


def test_detect_out_is_refused_when_it_exists_or_cannot_be_made(tmp_path, capsys):
    image = save(data.astronaut(), tmp_path / "astronaut.png")
    (tmp_path / "boxes.png").write_bytes(b"mine")
    code = main(["faces", "detect", str(image), "--out", str(tmp_path / "boxes.png")])
    assert one_line_error(capsys, code) == (
        f"rlcourse faces: error: {tmp_path / 'boxes.png'} already exists; choose another --out "
        "or pass --force"
    )
    assert (tmp_path / "boxes.png").read_bytes() == b"mine"
    code = main(["faces", "detect", str(image), "--out", str(tmp_path / "astronaut.png/b.png")])
    assert one_line_error(capsys, code) == (
        f"rlcourse faces: error: {tmp_path / 'astronaut.png'} is a file, so --out "
        f"{tmp_path / 'astronaut.png/b.png'} cannot be made; choose another"
    )


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_enroll_never_replaces_a_file_that_is_not_a_gallery(tmp_path, capsys, model, force):
    gallery = tmp_path / "thesis.npz"
    np.savez(gallery, chapter=np.arange(3))
    before = gallery.read_bytes()
    argv = ["faces", "enroll", str(people(tmp_path / "p")), "--gallery", str(gallery)]
    err = one_line_error(capsys, main([*argv, "--model", model, "--cropped", *force]))
    expected = f"rlcourse faces: error: {gallery}: not a face gallery (KeyError)"
    if force:
        expected += "; --force replaces only a gallery, so choose another --gallery"
    assert err == expected
    assert gallery.read_bytes() == before


def test_enroll_refuses_a_gallery_path_that_is_a_folder(tmp_path, capsys, model):
    (tmp_path / "g.npz").mkdir()
    argv = ["faces", "enroll", str(people(tmp_path / "p")), "--gallery", str(tmp_path / "g.npz")]
    err = one_line_error(capsys, main([*argv, "--model", model, "--cropped", "--force"]))
    folder = tmp_path / "g.npz"
    assert err == f"rlcourse faces: error: {folder} is a directory; --gallery takes a file name"


def test_an_unreadable_default_model_is_trained_again(small_embedder, tmp_path, monkeypatch):
    import supervised.face as face

    monkeypatch.setenv("RLCOURSE_CACHE", str(tmp_path))
    face.default_embedder_path().write_bytes(b"PK\x03\x04 cut short")
    monkeypatch.setattr(face, "train_embedder", lambda seed=0, progress=True: small_embedder)
    embedder = face.default_embedder(progress=False)
    assert embedder is small_embedder[0]
    again = face.load_embedder(face.default_embedder_path())
    assert again.fingerprint == small_embedder[0].fingerprint


def test_a_gallery_of_nan_embeddings_is_refused(tmp_path):
    from supervised.data import DataError

    gallery = tmp_path / "g.npz"
    Gallery("0123456789abcdef", ["x"], np.full((1, 64), np.nan, np.float32), ["x.png"]).save(
        gallery
    )
    with pytest.raises(DataError, match="not a face gallery \\(NaN or infinite embeddings\\)"):
        load_gallery(gallery)


@pytest.mark.parametrize("damage", ["threshold", "weights"])
def test_an_embedder_with_nan_weights_or_threshold_is_refused(model, damage):
    import torch

    from supervised.data import DataError
    from supervised.face_embed import load_embedder

    saved = torch.load(model, weights_only=True)
    if damage == "threshold":
        saved["threshold"] = float("nan")
    else:
        next(iter(saved["state_dict"].values()))[0] = float("nan")
    torch.save(saved, model)
    with pytest.raises(DataError, match="not a usable face embedding model"):
        load_embedder(model)
