"""``rlcourse aggregate`` by rliable where it imports and works, else by scipy: the same numbers.

Both implementations compute the same estimates (pooled IQM and mean, probability of improvement
averaged over envs) with a stratified percentile bootstrap of the same number of resamples, but
their resamples are drawn by different generators. The point estimates are equal; the interval
ends differ by the Monte Carlo error of a 2.5% (97.5%) quantile of B = 1000 resamples: for a
bootstrap distribution of standard deviation σ, that error is about
sqrt(p (1 - p) / B) / φ(1.96) σ ≈ 0.085 σ, so the ends of the two intervals differ by about
0.12 σ, and σ ≈ width / 3.92. The tests allow 0.2 of the scipy interval's width (≈ 0.8 σ,
more than six standard errors of the difference).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import rlcourse.aggregate_rliable as rliable_methods
from rlcourse.aggregate import aggregate, probability_of_improvement
from rlcourse.overlay import gather
from rlcourse.sweep.analysis import final_performance

TOLERANCE = 0.2
"""Of the scipy interval's width: see the module's docstring."""


def _scores() -> dict:
    """Two envs, two labels, 12 runs in one env and 7 in the other (strata of unequal size)."""
    rng = np.random.default_rng(0)
    return {
        "A-v0": {"x": {"return": rng.normal(1.0, 1.0, 12)}, "y": {"return": rng.normal(0, 1, 12)}},
        "B-v0": {"x": {"return": rng.normal(5.0, 2.0, 7)}, "y": {"return": rng.normal(4, 2, 7)}},
    }


def _train_dir(folder, final: float):
    folder.mkdir(parents=True)
    (folder / "evaluations.csv").write_text(
        f"step,mean_return,episodes,train_seconds\n100,{final},5,1\n"
    )
    (folder / "metrics.json").write_text(json.dumps({"env": "CartPole-v1", "seed": 0}))
    return folder


@pytest.fixture
def found():
    found, implementation = rliable_methods.load()
    if found is None:
        pytest.skip(f"rliable is not usable here: {implementation}")
    assert implementation == f"rliable {found.version}"
    return found


def test_rliable_and_scipy_agree_on_iqm_and_its_intervals(found):
    scores = _scores()
    _, by_scipy = final_performance(scores, seed=3)
    _, by_rliable = final_performance(scores, seed=3, estimate=found.mean_iqm)
    assert len(by_scipy) == 6  # 2 envs × 2 labels, and 2 normalized rows over both envs
    assert list(by_rliable["iqm"]) == list(by_scipy["iqm"])  # exactly
    width = by_scipy["ci_high"] - by_scipy["ci_low"]
    assert (width > 0).all()
    for end in ("ci_low", "ci_high"):
        assert (abs(by_rliable[end] - by_scipy[end]) <= TOLERANCE * width).all(), end


def test_rliable_and_scipy_agree_on_the_probability_of_improvement(found):
    scores = _scores()
    by_scipy = probability_of_improvement(scores, seed=3)
    by_rliable = probability_of_improvement(scores, seed=3, interval=found.improvement)
    np.testing.assert_allclose(by_rliable["p_x_over_y"], by_scipy["p_x_over_y"], rtol=0, atol=1e-12)
    width = by_scipy["ci_high"] - by_scipy["ci_low"]
    for end in ("ci_low", "ci_high"):
        assert (abs(by_rliable[end] - by_scipy[end]) <= TOLERANCE * width).all(), end


def test_without_rliable_scipy_is_used_and_named(monkeypatch, tmp_path):
    def missing(name):
        raise ImportError(name)

    monkeypatch.setattr(rliable_methods, "import_installed", missing)
    assert rliable_methods.load() == (None, "scipy (rliable is not installed)")
    runs = gather([_train_dir(tmp_path / f"a-s{seed}", seed) for seed in range(3)])
    assert aggregate(runs, per_env=False)["implementation"] == "scipy (rliable is not installed)"
    assert aggregate(runs, per_env=False, use_rliable=False)["implementation"] == "scipy"


def test_a_broken_rliable_falls_back_to_scipy_and_says_why(monkeypatch):
    class Broken:  # as rliable 1.2 with arch 8: the bootstrap refuses its random_state
        @staticmethod
        def get_interval_estimates(*args, **kwargs):
            raise TypeError("Input `random_state` has type <class 'NoneType'>.")

    modules = {"rliable.library": Broken, "rliable.metrics": np}
    monkeypatch.setattr(rliable_methods, "import_installed", modules.__getitem__)
    monkeypatch.setattr(rliable_methods.metadata, "version", lambda name: "1.2.0")
    assert rliable_methods.load() == (
        None,
        "scipy (rliable does not work here: TypeError: Input `random_state` has type "
        "<class 'NoneType'>.)",
    )


def test_the_output_names_the_implementation(cli, tmp_path):
    inputs = [_train_dir(tmp_path / f"a-s{seed}", seed) for seed in range(3)]
    result = cli("aggregate", *inputs)
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == f"intervals by {rliable_methods.load()[1]}"
