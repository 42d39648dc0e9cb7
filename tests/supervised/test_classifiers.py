"""Classifier training and the mlp and cnn experiments (supervised.classifiers)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from rlcourse.cli import main
from supervised.classifiers import (
    XOR_X,
    XOR_Y,
    accuracy,
    cross_entropy,
    mlp_experiment,
    predict_classes,
    train_classifier,
    train_xor,
)
from supervised.data import DataError, Dataset, load_digits, split
from supervised.experiments import run
from supervised.networks import CNN, MLP
from supervised.train import TrainConfig, fit, seed_torch, single_thread

# -- training classifiers -------------------------------------------------------------------


def test_mlp_learns_xor():
    with single_thread():
        model = train_xor(seed=0)
    with torch.no_grad():
        predicted = (model(torch.as_tensor(XOR_X)) > 0).float().numpy()
    np.testing.assert_array_equal(predicted, XOR_Y)


def test_predict_classes_and_accuracy_read_the_highest_logit():
    model = MLP((2, 3))
    with torch.no_grad():
        model.layers[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
        model.layers[0].bias.zero_()
    x = torch.tensor([[2.0, 1.0], [-1.0, 3.0], [-1.0, -2.0], [5.0, 4.0]])
    assert predict_classes(model, x, batch_size=3).tolist() == [0, 1, 2, 0]
    assert accuracy(model, x, torch.tensor([0, 1, 2, 1])) == 0.75
    assert predict_classes(model, torch.zeros(0, 2)).shape == (0,)


def test_same_seed_same_weights():
    parts = split(load_digits(), seed=0)
    train = (parts.train.x[:200], parts.train.y[:200])

    def trained(seed):
        with single_thread():
            seed_torch(seed)
            model = CNN(channels=(8, 16))
            fit(
                model, cross_entropy, train, config=TrainConfig(epochs=2, seed=seed, progress=False)
            )
        return model.state_dict()

    first, second, other = trained(1), trained(1), trained(2)
    for name, value in first.items():
        torch.testing.assert_close(value, second[name], rtol=0, atol=0)
    assert not torch.equal(first["head.2.weight"], other["head.2.weight"])


def test_labels_out_of_range_are_refused():
    x = np.zeros((6, 1, 8, 8), np.float32)
    bad = Dataset(x, np.array([0, 1, 2, 3, 4, 10]), tuple(map(str, range(10))))
    parts = split(bad, seed=0, val=0.34, test=0.34)
    with pytest.raises(DataError, match=re.escape("labels must be in 0..9, found")):
        train_classifier(CNN(), parts, TrainConfig(epochs=1, progress=False))


# -- experiments ----------------------------------------------------------------------------

PNGS = ("history.png", "confusion_matrix.png", "misclassified.png")


@pytest.mark.slow
def test_cnn_experiment_reaches_98_percent(tmp_path):
    metrics = run("cnn", tmp_path, seed=0, progress=False)
    assert metrics["test_accuracy"] >= 0.98
    assert metrics["n_test"] == 270 and metrics["image_size"] == 8 and metrics["mnist"] == 0
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test_accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert {"val_loss", "train_seconds", "n_train"} <= saved.keys()
    for name in (*PNGS, "history.csv"):
        assert (tmp_path / name).stat().st_size > 1000, name


def test_mlp_experiment_through_the_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RLCOURSE_DEBUG", raising=False)
    out = tmp_path / "mlp"
    assert main(["supervised", "mlp", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["xor_accuracy"] == 1.0 and metrics["xor_loss"] < 0.05
    assert metrics["test_accuracy"] >= 0.95
    for name in ("history.csv", "history.png", "xor_decision.png"):
        assert (out / name).stat().st_size > 500, name
    assert "test_accuracy" in capsys.readouterr().out


def test_mlp_experiment_is_repeatable(tmp_path):
    first = mlp_experiment(tmp_path / "a", epochs=2, seed=3, progress=False)
    second = mlp_experiment(tmp_path / "b", epochs=2, seed=3, progress=False)
    first.pop("train_seconds"), second.pop("train_seconds")
    assert first == second


def write_idx(path, array: np.ndarray) -> None:
    """An IDX file of unsigned bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_files(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = tmp_path / "images.idx", tmp_path / "labels.idx"
    write_idx(images, rng.integers(0, 256, (60, 28, 28)))
    write_idx(labels, np.arange(60) % 10)
    return images, labels


def test_cnn_on_mnist_files(tmp_path, mnist_files, capsys, monkeypatch):
    monkeypatch.delenv("RLCOURSE_DEBUG", raising=False)
    images, labels = mnist_files
    out = tmp_path / "out"
    argv = ["supervised", "cnn", "--out", str(out), "--epochs", "1"]
    assert main([*argv, "--mnist-images", str(images), "--mnist-labels", str(labels)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["mnist"] == 1 and metrics["image_size"] == 28 and metrics["epochs"] == 1
    assert (metrics["n_train"], metrics["n_val"], metrics["n_test"]) == (42, 9, 9)
    for name in PNGS:
        assert (out / name).is_file(), name


def test_cnn_refuses_bad_mnist_labels(tmp_path, mnist_files, capsys, monkeypatch):
    monkeypatch.delenv("RLCOURSE_DEBUG", raising=False)
    images, _ = mnist_files
    labels = tmp_path / "bad-labels.idx"
    write_idx(labels, np.arange(60) % 12)
    out = tmp_path / "out"
    argv = ["supervised", "cnn", "--out", str(out), "--epochs", "1"]
    capsys.readouterr()
    assert main([*argv, "--mnist-images", str(images), "--mnist-labels", str(labels)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err == (
        f"rlcourse supervised: error: {labels}: labels must be in 0..9, found 0..11\n"
    )
    assert not out.exists()
