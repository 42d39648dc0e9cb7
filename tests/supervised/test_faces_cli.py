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
    code = main(
        [
            "faces",
            "enroll",
            str(tmp_path / "p"),
            "--gallery",
            str(tmp_path / "g.npz"),
            "--model",
            str(tmp_path / "none.pt"),
        ]
    )
    assert "none.pt: no such model file" in one_line_error(capsys, code)


def test_bad_gallery_and_missing_image(tmp_path, capsys, model):
    (tmp_path / "g.npz").write_text("nope")
    image = save(data.astronaut(), tmp_path / "a.png")
    code = main(
        ["faces", "identify", str(image), "--gallery", str(tmp_path / "g.npz"), "--model", model]
    )
    assert "g.npz: not a face gallery" in one_line_error(capsys, code)
    code = main(["faces", "detect", str(tmp_path / "missing.jpg")])
    assert "missing.jpg: no such image file" in one_line_error(capsys, code)
