"""Devices: names resolved and refused, the block that chooses one, training on any device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common import devices
from supervised.networks import mlp_for_spaces
from supervised.train import TrainConfig, fit

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA device here")
no_cuda = pytest.mark.skipif(CUDA, reason="this machine has CUDA")


def test_auto_is_cuda_where_there_is_one_else_the_cpu():
    assert devices.resolve("auto").type == ("cuda" if CUDA else "cpu")
    assert devices.resolve("cpu") == torch.device("cpu")
    assert devices.describe(torch.device("cpu")) == "cpu"


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "CPU", "", "cuda:0:1", 3])
def test_a_bad_name_is_refused_with_the_choices(name):
    with pytest.raises(devices.DeviceError) as error:
        devices.resolve(name)
    assert str(error.value) == f"device must be auto|cpu|cuda[:N], got {name!r}"


@no_cuda
@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_cuda_on_a_machine_without_it_is_one_clear_error(name):
    with pytest.raises(devices.DeviceError) as error:
        devices.resolve(name)
    assert str(error.value) == (
        f"device {name!r}: CUDA is not available on this machine (torch {torch.__version__}); "
        "use --device cpu or auto"
    )


def test_using_sets_the_current_device_for_its_block_only():
    outside = devices.current()
    with devices.using("cpu") as chosen:
        assert chosen == devices.current() == torch.device("cpu")
        with devices.using(None):  # None keeps the block's choice
            assert devices.current() == torch.device("cpu")
    assert devices.current() == outside
    with pytest.raises(devices.DeviceError):
        with devices.using("tpu"):
            pass


def _xor_fit(device: str) -> tuple[torch.nn.Module, list[float]]:
    torch.manual_seed(0)
    model = mlp_for_spaces(2, 1, hidden=(8,))
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([[0], [1], [1], [0]], np.float32)

    def loss(m, xb, yb):
        return torch.nn.functional.binary_cross_entropy_with_logits(m(xb), yb)

    config = TrainConfig(epochs=20, batch_size=2, lr=0.05, progress=False, device=device)
    history = fit(model, loss, (x, y), config=config)
    return model, list(history.column("train_loss"))


def test_fit_trains_on_the_device_asked_and_returns_the_model_on_the_cpu():
    model, losses = _xor_fit("cpu")
    assert next(model.parameters()).device == torch.device("cpu")
    again, losses_again = _xor_fit("cpu")
    assert losses == losses_again  # same seed, same device: the same numbers
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.cuda
@needs_cuda
def test_fit_on_cuda_ends_close_to_the_cpu_run():
    model, losses = _xor_fit("cuda")
    assert next(model.parameters()).device == torch.device("cpu")
    _, cpu_losses = _xor_fit("cpu")
    np.testing.assert_allclose(losses, cpu_losses, rtol=1e-3, atol=1e-4)
