"""DnCNN and the Q-map network (supervised.dncnn): shapes, inputs, trunk sharing, learning."""

import numpy as np
import pytest
import torch

from supervised.dncnn import DnCNN, QMapNet, TrunkConfig, denoise, train_dncnn
from supervised.train import TrainConfig, seed_torch, single_thread

SMALL = TrunkConfig(channels=8, depth=3)


def test_fully_convolutional_shapes_and_uint8_input():
    seed_torch(0)
    q = QMapNet(9, SMALL)
    for h, w in ((36, 36), (20, 52)):
        assert q(torch.zeros(2, 1, h, w)).shape == (2, 9, h, w)
    pixels = torch.randint(0, 256, (1, 1, 16, 16), dtype=torch.uint8)
    torch.testing.assert_close(q(pixels), q(pixels.float() / 255))
    dncnn = DnCNN(SMALL)
    assert dncnn(torch.zeros(3, 1, 16, 16)).shape == (3, 1, 16, 16)
    with pytest.raises(ValueError, match=r"expects images \(n, 1, H, W\), got shape \(16, 16\)"):
        dncnn(torch.zeros(16, 16))


def test_dilations_set_the_receptive_field():
    config = TrunkConfig(channels=4, depth=3, dilations=(1, 2, 1))
    assert config.receptive_field == 11
    seed_torch(0)
    net = DnCNN(config)
    x = torch.zeros(1, 1, 31, 31, requires_grad=True)
    net(x)[0, 0, 15, 15].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).ravel()
    assert int(rows.max() - rows.min() + 1) == 11
    with pytest.raises(ValueError, match="dilations must be 3 positive integers"):
        TrunkConfig(channels=4, depth=3, dilations=(1, 2))


def test_a_q_map_starts_from_a_dncnn_trunk():
    seed_torch(0)
    dncnn, q = DnCNN(SMALL), QMapNet(9, SMALL)
    q.load_trunk(dncnn)
    for a, b in zip(dncnn.trunk.parameters(), q.trunk.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_dncnn_learns_to_denoise_flat_patches():
    rng = np.random.default_rng(0)
    clean = np.repeat(rng.uniform(0.2, 0.8, (64, 1, 1)), 12, axis=1).repeat(12, axis=2)
    clean = clean.astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    seed_torch(0)
    config = TrainConfig(epochs=30, batch_size=16, lr=3e-3, progress=False)
    with single_thread():
        model, history = train_dncnn(
            (noisy[:48], clean[:48]), (noisy[48:], clean[48:]), config, SMALL
        )
    out = denoise(model, noisy[48:])
    before = np.mean((noisy[48:] - clean[48:]) ** 2)
    assert np.mean((out - clean[48:]) ** 2) < before / 2
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert history.column("val_psnr")[-1] > history.column("val_psnr")[0]


def test_estimate_head_values_each_action_by_its_drop_of_error_against_the_estimate():
    """Q_a = s·((x − ĉ)² − (f_a − ĉ)²), ĉ = channel 0 − the head's noise, x = channel 1."""
    q = QMapNet(3, SMALL, extra=4, estimate_scale=2.0)
    last = q.head[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(0.1)  # the predicted noise: 0.1 everywhere
    x = torch.rand(2, 5, 6, 6)
    clean = x[:, :1] - 0.1
    expected = 2.0 * ((x[:, 1:2] - clean) ** 2 - (x[:, 2:] - clean) ** 2)
    torch.testing.assert_close(q(x), expected)
    assert q.head[0].in_channels == SMALL.channels + 1  # the head reads the trunk's image only
    with pytest.raises(ValueError, match="estimate head needs the current image and its 3"):
        QMapNet(3, SMALL, extra=3, estimate_scale=1.0)
