import json

import numpy as np
import pytest
import torch

from supervised.experiments import save_metrics
from supervised.train import (
    History,
    TrainConfig,
    batches,
    evaluate,
    fit,
    seed_torch,
)


def mse(model, x, y):
    return torch.nn.functional.mse_loss(model(x).squeeze(-1), y)


def linear_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([1.5, -2.0, 0.5]) + 0.3).astype(np.float32)
    return x, y


def test_fit_recovers_a_linear_function():
    x, y = linear_data()
    seed_torch(0)
    model = torch.nn.Linear(3, 1)
    history = fit(
        model,
        mse,
        (x[:200], y[:200]),
        (x[200:], y[200:]),
        TrainConfig(epochs=200, lr=0.05, batch_size=32, progress=False),
    )
    np.testing.assert_allclose(model.weight.detach().numpy()[0], [1.5, -2.0, 0.5], atol=1e-3)
    np.testing.assert_allclose(model.bias.item(), 0.3, atol=1e-3)
    assert history.rows[-1]["val_loss"] < 1e-5
    assert [row["epoch"] for row in history.rows] == list(range(1, 201))


def test_same_seed_same_weights_and_different_seed_different():
    x, y = linear_data()

    def train(seed):
        seed_torch(seed)
        model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        fit(model, mse, (x, y), None, TrainConfig(epochs=3, seed=seed, progress=False))
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    assert torch.equal(train(1), train(1))
    assert not torch.equal(train(1), train(2))


def test_early_stopping_keeps_the_best_epoch_weights():
    x, y = linear_data(64)
    noise = np.random.default_rng(1).normal(size=(64,)).astype(np.float32) * 5
    seed_torch(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    # fitting noise: the validation loss rises after a while and training stops `patience` later
    history = fit(
        model,
        mse,
        (x[:32], y[:32] + noise[:32]),
        (x[32:], y[32:]),
        TrainConfig(epochs=500, lr=0.01, batch_size=8, patience=5, progress=False),
    )
    val = history.column("val_loss")
    assert len(val) < 500
    assert history.best_epoch == int(np.argmin(val)) + 1
    assert len(val) - history.best_epoch == 5
    kept = evaluate(model, mse, torch.as_tensor(x[32:]), torch.as_tensor(y[32:]))
    assert kept == pytest.approx(val.min(), rel=1e-5)


def test_metrics_are_computed_on_validation_data_each_epoch():
    x, y = linear_data()
    seed_torch(0)
    model = torch.nn.Linear(3, 1)
    history = fit(
        model,
        mse,
        (x, y),
        (x[:10], y[:10]),
        TrainConfig(epochs=2, progress=False),
        {"first": lambda m, xv, yv: float(yv[0])},
    )
    assert [row["first"] for row in history.rows] == [pytest.approx(float(y[0]))] * 2


def test_divergence_is_reported():
    x, y = linear_data()
    model = torch.nn.Linear(3, 1)
    with pytest.raises(ValueError, match="training loss became (nan|inf) in epoch 1; lower the lr"):
        fit(
            model,
            mse,
            (x * 1e20, y),
            None,
            TrainConfig(epochs=1, lr=1e10, optimizer="sgd", progress=False),
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs and batch_size must be >= 1"),
        ({"lr": 0.0}, "lr must be > 0"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of adam, sgd"),
        ({"patience": 0}, "patience must be >= 1 or None"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_batches_cover_every_index_once():
    generator = torch.Generator().manual_seed(0)
    parts = list(batches(10, 4, generator))
    assert [len(p) for p in parts] == [4, 4, 2]
    assert sorted(torch.cat(parts).tolist()) == list(range(10))
    assert torch.cat(list(batches(5, 2))).tolist() == [0, 1, 2, 3, 4]


def test_history_and_metrics_files(tmp_path):
    history = History(
        [
            {"epoch": 1, "train_loss": 2.0, "val_loss": 3.0},
            {"epoch": 2, "train_loss": 1.0, "val_loss": 2.5},
        ],
        best_epoch=2,
    )
    history.save(tmp_path)
    assert (tmp_path / "history.csv").read_text().splitlines() == [
        "epoch,train_loss,val_loss",
        "1,2,3",
        "2,1,2.5",
    ]
    assert (tmp_path / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    path = save_metrics(tmp_path, {"b": np.float32(0.5), "a": 3})
    assert json.loads(path.read_text()) == {"a": 3.0, "b": 0.5}
