"""`supervised.experiments.run` writes an experiment's `metrics.json`, once; the experiment none."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import supervised.regression
from common import devices
from supervised.experiments import run
from supervised.rnn import experiment as rnn_experiment


@pytest.fixture
def replaced(monkeypatch) -> list[Path]:
    """The targets of every ``os.replace``: the atomic writer's last step, for each file."""
    targets = []
    real = os.replace

    def counting(source, target, **kwargs):
        targets.append(Path(target))
        return real(source, target, **kwargs)

    monkeypatch.setattr(os, "replace", counting)
    return targets


@pytest.fixture
def corpus(tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("the cat sat on the mat. " * 50)
    return path


def test_an_experiment_returns_its_metrics_and_run_writes_them_once(tmp_path, corpus, replaced):
    options = {"epochs": 1, "seed": 1, "progress": False, "corpus": corpus, "length": 16}
    direct = rnn_experiment(tmp_path / "direct", hidden=8, **options)
    assert direct and not (tmp_path / "direct" / "metrics.json").exists()
    assert (tmp_path / "direct" / "samples.txt").is_file()
    assert [p for p in replaced if p.name == "metrics.json"] == []

    out = tmp_path / "run"
    metrics = run("rnn", out, device="cpu", hidden=8, **options)
    assert [p for p in replaced if p.name == "metrics.json"] == [out / "metrics.json"]
    assert metrics.pop("device") == devices.describe(devices.resolve("cpu"))
    assert metrics.keys() == direct.keys() and metrics["cell"] == "gru"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved.pop("device") == devices.describe(devices.resolve("cpu"))
    assert saved == pytest.approx(metrics)


def test_run_writes_the_regression_metrics_once_and_no_device(tmp_path, replaced, monkeypatch):
    calls = []

    def experiment(out, **options):
        calls.append((out, options))
        return {"diabetes_test_r2": 0.5, "ridge_best_lambda": 10.0}

    monkeypatch.setattr(supervised.regression, "experiment", experiment)
    metrics = run("regression", tmp_path / "r", device="cpu", seed=2, progress=False)
    assert calls == [(tmp_path / "r", {"seed": 2, "progress": False})]
    assert metrics == {"diabetes_test_r2": 0.5, "ridge_best_lambda": 10.0}
    assert replaced == [tmp_path / "r" / "metrics.json"]
    assert json.loads((tmp_path / "r" / "metrics.json").read_text()) == metrics
