"""MLP, CNN and the Q-networks: shapes, errors, numpy forward; their import brings no plotting."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from supervised.networks import (
    ACTIVATIONS,
    CNN,
    MLP,
    ConvQNet,
    MultiInputQNet,
    cnn_for_shape,
    mlp_for_spaces,
)


@pytest.mark.parametrize("module", ["supervised.networks", "supervised.dncnn"])
def test_importing_agents_networks_imports_no_plotting_nor_experiments(module):
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('matplotlib', 'pandas', 'sklearn') or m in "
        "('supervised.classifiers', 'supervised.plots', 'supervised.experiments')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


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


def test_boolean_channels_are_ones_and_zeros_not_pixels():
    net = cnn_for_shape((10, 10, 4), 3, hidden=(16,))  # MinAtar: 10×10, 4 boolean channels
    assert net.channels_last
    obs = torch.as_tensor(np.random.default_rng(1).random((5, 10, 10, 4)) < 0.3)
    torch.testing.assert_close(net(obs), net(obs.float()))
    assert not torch.allclose(net(obs), net(obs.float() / 255.0))


def test_cnn_for_shape_channel_first_float():
    net = cnn_for_shape((1, 64, 64), 3, hidden=(64, 64))
    assert not net.channels_last
    assert net(torch.rand(5, 1, 64, 64)).shape == (5, 3)
    forced = cnn_for_shape((3, 3, 3), 2, channels_last=True)
    assert forced(torch.rand(2, 3, 3, 3)).shape == (2, 2)


def test_multi_input_q_net_reads_each_image_with_its_own_convolutions():
    shapes = {"image": (7, 7, 3), "(flat)": (5,), "frames": (2, 10, 10)}
    net = MultiInputQNet(shapes, 3, hidden=(16,))
    assert len(net.images) == 2 and net.images["0"].channels_last
    assert not net.images["2"].channels_last
    rng = np.random.default_rng(0)
    x = {
        "image": torch.as_tensor(rng.integers(0, 11, (4, 7, 7, 3), dtype=np.uint8)),
        "(flat)": torch.rand(4, 5),
        "frames": torch.rand(4, 2, 10, 10),
    }
    q = net(x)
    assert q.shape == (4, 3)
    torch.testing.assert_close(q, net({**x, "image": x["image"].float() / 255.0}))
    changed = net({**x, "(flat)": x["(flat)"] + 1})  # every part reaches the head
    assert not torch.allclose(q, changed)
    with pytest.raises(ValueError, match=r"expects the parts \['image', '\(flat\)', 'frames'\]"):
        net({"image": x["image"]})
    with pytest.raises(ValueError, match="needs vectors and images as parts"):
        MultiInputQNet({"plane": (3, 3)}, 2)


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
            "ImageFeatures expects images (n, 40, 40, 3), got shape (2, 3, 40, 40)",
        ),
        (
            cnn_for_shape((40, 40, 3), 4),
            torch.zeros(40, 40, 3),
            "ImageFeatures expects images (n, 40, 40, 3), got shape (40, 40, 3)",
        ),
    ],
)
def test_bad_input_shapes(model, x, message):
    with pytest.raises(ValueError) as error:
        model(x)
    assert str(error.value) == message


# -- the numpy forward of DQN's MLP ---------------------------------------------------------


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
