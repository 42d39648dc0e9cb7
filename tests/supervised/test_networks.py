"""MLP, CNN and the Q-networks: shapes, errors, seeding; the mlp and cnn experiments."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from rlcourse.cli import main
from supervised.data import DataError, Dataset, load_digits, split
from supervised.networks import (
    ACTIVATIONS,
    CNN,
    MLP,
    XOR_X,
    XOR_Y,
    ConvQNet,
    cnn_experiment,
    cnn_for_shape,
    cross_entropy,
    mlp_experiment,
    mlp_for_spaces,
    single_thread,
    train_classifier,
    train_xor,
)
from supervised.train import TrainConfig, fit, seed_torch

# -- MLP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_mlp_shapes_and_activation_layers(activation):
    model = MLP((5, 16, 8, 3), activation=activation, dropout=0.2)
    assert model(torch.randn(7, 5)).shape == (7, 3)
    kinds = [type(layer) for layer in model.layers]
    assert kinds.count(torch.nn.Linear) == 3
    assert kinds.count(ACTIVATIONS[activation]) == 2  # hidden layers only: outputs stay raw
    assert kinds.count(torch.nn.Dropout) == 2


def test_mlp_output_activation_and_flattening():
    model = MLP((64, 10, 2), output_activation="sigmoid")
    out = model(torch.randn(4, 1, 8, 8))  # images are flattened
    assert out.shape == (4, 2)
    assert torch.all((out > 0) & (out < 1))
    assert model(torch.ones(3, 64, dtype=torch.float64)).dtype == torch.float32


def test_mlp_for_spaces_is_a_q_network():
    q = mlp_for_spaces(4, 2, hidden=(64, 64))
    assert q.sizes == (4, 64, 64, 2)
    assert q(torch.zeros(6, 4)).shape == (6, 2)
    assert mlp_for_spaces(3, 5, hidden=()).sizes == (3, 5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sizes": (4,)}, "MLP needs at least input and output sizes, got (4,)"),
        ({"sizes": (4, 0, 2)}, "MLP sizes must be positive integers, got (4, 0, 2)"),
        (
            {"sizes": (4, 2), "activation": "swish"},
            "unknown activation 'swish' (activations: relu, tanh, sigmoid, elu, gelu)",
        ),
        ({"sizes": (4, 2), "dropout": 1.0}, "dropout must be in [0, 1), got 1.0"),
    ],
)
def test_mlp_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        MLP(**kwargs)


def test_mlp_learns_xor():
    with single_thread():
        model = train_xor(seed=0)
    with torch.no_grad():
        predicted = (model(torch.as_tensor(XOR_X)) > 0).float().numpy()
    np.testing.assert_array_equal(predicted, XOR_Y)


# -- CNN and Q-networks ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [8, 28])
def test_cnn_gives_logits_for_digits_and_mnist_sizes(size):
    model = CNN()
    assert model(torch.rand(5, 1, size, size)).shape == (5, 10)


def test_cnn_for_shape_channel_last_uint8():
    rng = np.random.default_rng(0)
    net = cnn_for_shape((40, 40, 3), 4, hidden=(32,))
    assert isinstance(net, ConvQNet) and net.channels_last
    obs = torch.as_tensor(rng.integers(0, 256, (6, 40, 40, 3), dtype=np.uint8))
    q = net(obs)
    assert q.shape == (6, 4) and q.dtype == torch.float32
    torch.testing.assert_close(q, net(obs.float() / 255.0))  # uint8 pixels are scaled to [0, 1]
    wide = cnn_for_shape((40, 120, 3), 4)  # the cliff layout: not square
    assert wide(torch.zeros(2, 40, 120, 3, dtype=torch.uint8)).shape == (2, 4)


def test_cnn_for_shape_channel_first_float():
    net = cnn_for_shape((1, 64, 64), 3, hidden=(64, 64))
    assert not net.channels_last
    assert net(torch.rand(5, 1, 64, 64)).shape == (5, 3)
    forced = cnn_for_shape((3, 3, 3), 2, channels_last=True)
    assert forced(torch.rand(2, 3, 3, 3)).shape == (2, 2)


@pytest.mark.parametrize(
    ("model", "x", "message"),
    [
        (
            CNN(),
            torch.rand(5, 64),
            "CNN expects images (n, 1, height, width) with height and width >= 4, "
            "got shape (5, 64)",
        ),
        (
            CNN(),
            torch.rand(5, 3, 8, 8),
            "CNN expects images (n, 1, height, width) with height and width >= 4, "
            "got shape (5, 3, 8, 8)",
        ),
        (MLP((64, 10)), torch.rand(5, 10), "MLP expects inputs (n, 64), got shape (5, 10)"),
        (
            cnn_for_shape((40, 40, 3), 4),
            torch.zeros(2, 3, 40, 40),
            "ConvQNet expects observations (n, 40, 40, 3), got shape (2, 3, 40, 40)",
        ),
        (
            cnn_for_shape((40, 40, 3), 4),
            torch.zeros(40, 40, 3),
            "ConvQNet expects observations (n, 40, 40, 3), got shape (40, 40, 3)",
        ),
    ],
)
def test_bad_input_shapes(model, x, message):
    with pytest.raises(ValueError) as error:
        model(x)
    assert str(error.value) == message


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
    metrics = cnn_experiment(tmp_path, seed=0, progress=False)
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


def test_numpy_forward_matches_torch_and_is_a_snapshot():
    torch.manual_seed(0)
    model = mlp_for_spaces(4, 3, hidden=(16, 8))
    forward = model.numpy_forward()
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(forward(x), expected, rtol=1e-5, atol=1e-6)
    with torch.no_grad():  # later updates do not reach the copy
        model.layers[0].bias.add_(1.0)
    np.testing.assert_allclose(forward(x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs", [{"activation": "tanh"}, {"output_activation": "relu"}, {"dropout": 0.1}]
)
def test_numpy_forward_only_where_exact(kwargs):
    assert MLP((4, 8, 2), **kwargs).numpy_forward() is None
