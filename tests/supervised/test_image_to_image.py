"""The U-Net's image-to-image training and the `rlcourse supervised upres|inpaint|...` commands."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from rlcourse.cli import main
from supervised import image_to_image as i2i
from supervised.data import DataError

TINY = i2i.TaskConfig(
    crop=16, eval_crop=16, train_crops=32, val_crops=8, eval_per_image=2, base=4, depth=1
)


def tiny(task: str) -> i2i.TaskConfig:
    """The smallest budget; colorize's U-Net outputs chroma, no correction of its input."""
    return replace(TINY, residual_output=task != "colorize")


@pytest.fixture
def photos(tmp_path):
    """A folder of four 64×64 colour images."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        pixels = (rng.uniform(size=(64, 64, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"p{i}.png")
    return folder


def run_cli(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("task", ["upres", "inpaint", "colorize", "interpolate"])
def test_a_tiny_training_lowers_the_loss(task, photos):
    train, _ = i2i.split_images(task, photos)
    model, history = i2i.train_unet(task, train, epochs=3, seed=0, config=tiny(task))
    losses = history.column("train_loss")
    assert losses[-1] < losses[0]
    x = i2i.make_batch(task, train, 2, 16, np.random.default_rng(0)).x
    assert i2i.predict(task, model, x).shape == (2, i2i.CHANNELS[task][1], 16, 16)


def test_in_painting_keeps_the_known_pixels(photos):
    train, _ = i2i.split_images("inpaint", photos)
    model, _ = i2i.train_unet("inpaint", train, epochs=1, config=TINY)
    batch = i2i.make_batch("inpaint", train, 3, 16, np.random.default_rng(1), mask="random")
    out = i2i.predict("inpaint", model, batch.x)[:, 0]
    known = batch.masks == 1
    np.testing.assert_allclose(out[known], batch.clean[known], atol=1e-6)


def test_the_folder_split_holds_out_its_last_quarter(photos):
    train, held_out = i2i.split_images("upres", photos)
    assert list(train) == ["p0.png", "p1.png", "p2.png"] and list(held_out) == ["p3.png"]
    assert train["p0.png"].ndim == 2
    assert i2i.split_images("colorize", photos)[0]["p0.png"].shape == (64, 64, 3)


def test_the_bundled_colour_split_keeps_colour_pictures_only():
    train, held_out = i2i.split_images("colorize")
    assert sorted(held_out) == ["astronaut", "coffee"]
    assert "chelsea" in train and "camera" not in held_out and "moon" not in train


def test_experiment_writes_its_figure_and_measures_every_method(tmp_path, photos):
    metrics = i2i.experiment(
        tmp_path / "out", "inpaint", epochs=1, progress=False, images=photos, config=TINY
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "examples.png",
        "history.csv",
        "history.png",
    ]
    for method in ("unet", "mean_fill", "biharmonic"):
        assert {f"{method}_psnr", f"{method}_ssim", f"{method}_psnr_hole"} <= metrics.keys()
    best = metrics["best_baseline"]
    gain = metrics["unet_psnr_hole"] - metrics[f"{best}_psnr_hole"]
    assert metrics["unet_gain_db"] == pytest.approx(gain)
    assert metrics["mask"] == "centre" and metrics["held_out_crops"] == 2


def test_cli_runs_an_experiment_into_out(tmp_path, photos, capsys, monkeypatch):
    monkeypatch.setitem(i2i.CONFIGS, "upres", TINY)
    out = tmp_path / "o"
    argv = ["supervised", "upres", "--factor", "4", "--epochs", "1", "--images", str(photos)]
    code, stdout, _ = run_cli([*argv, "--out", str(out)], capsys)
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["factor"] == 4 and metrics["best_baseline"] in ("nearest", "bilinear", "bicubic")
    assert (out / "examples.png").is_file() and "unet_gain_db" in stdout


def write_images(folder, shapes):
    folder.mkdir()
    for i, shape in enumerate(shapes):
        Image.fromarray(np.zeros(shape, np.uint8)).save(folder / f"i{i}.png")
    return folder


BAD = {
    "one image": (
        ["upres"],
        [(64, 64)],
        "image folder {folder} holds 1 image; the image-to-image experiments need at least 2 "
        "(one to train on, one held out)",
    ),
    "too small": (
        ["inpaint"],
        [(64, 64), (20, 64)],
        "image i1.png is 20x64, too small for inpaint's 48x48 crops",
    ),
    "grey for colorize": (
        ["colorize"],
        [(80, 80), (80, 80)],
        "colorize needs colour images to train on; those in {folder} are grey",
    ),
    "no folder": (["interpolate"], None, "image folder {folder} does not exist"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_cli_refuses_bad_image_folders_with_one_line(tmp_path, capsys, case):
    argv, shapes, message = BAD[case]
    folder = tmp_path / "imgs"
    if shapes is not None:
        write_images(folder, shapes)
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        ["supervised", *argv, "--images", str(folder), "--out", str(out)], capsys
    )
    assert code == 2 and stdout == ""
    assert err == f"rlcourse supervised: error: {message.format(folder=folder)}\n"
    assert not out.exists()


def test_cli_refuses_an_image_over_pillows_limit_and_an_unreadable_file(
    tmp_path, capsys, monkeypatch
):
    folder = write_images(tmp_path / "imgs", [(40, 40), (40, 40)])
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow only warns below twice this
    code, _, err = run_cli(
        ["supervised", "upres", "--images", str(folder), "--out", str(tmp_path / "o")], capsys
    )
    assert code == 2 and err.count("\n") == 1
    assert err == (
        f"rlcourse supervised: error: cannot read image {folder}/i0.png: "
        "DecompressionBombWarning: Image size (1600 pixels) exceeds limit of 1000 pixels, "
        "could be decompression bomb DOS attack.\n"
    )
    monkeypatch.undo()
    (folder / "i1.png").write_bytes(b"not a png")
    code, _, err = run_cli(
        ["supervised", "upres", "--images", str(folder), "--out", str(tmp_path / "o")], capsys
    )
    assert code == 2 and err.count("\n") == 1 and f"cannot read image {folder}/i1.png" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rnn", "--factor", "2"], "--factor is an option of the upres experiment"),
        (["upres", "--mask", "random"], "--mask is an option of the inpaint experiment"),
        (
            ["gan", "--images", "x"],
            "--images is an option of the upres, inpaint, colorize, interpolate experiments",
        ),
    ],
)
def test_cli_refuses_options_of_other_experiments(tmp_path, capsys, argv, message):
    code, _, err = run_cli(["supervised", *argv, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err == f"rlcourse supervised: error: {message}\n"
    assert not (tmp_path / "o").exists()


def test_unknown_task_factor_and_mask_are_refused():
    with pytest.raises(ValueError, match="task must be one of"):
        i2i.check_task("deblur")
    with pytest.raises(ValueError, match="factor must be one of"):
        i2i.check_task("upres", factor=3)
    with pytest.raises(ValueError, match="mask must be one of"):
        i2i.check_task("inpaint", mask="ring")
    with pytest.raises(DataError, match="does not exist"):
        i2i.split_images("upres", "/no/such/folder")


def test_augmented_crops_are_turned_mirrored_or_inverted_copies():
    crops = np.random.default_rng(7).uniform(size=(40, 6, 6)).astype(np.float32)
    out = i2i.augmented(crops, np.random.default_rng(8))
    inverted = 0
    for crop, new in zip(crops, out, strict=True):
        variants = [
            np.rot90(c, k)[:, ::-1] if m else np.rot90(c, k)
            for c in (crop, 1 - crop)
            for k in range(4)
            for m in (False, True)
        ]
        matches = [i for i, v in enumerate(variants) if np.array_equal(v, new)]
        assert matches
        inverted += matches[0] >= 8
    assert 5 < inverted < 35
