"""IQM, stratified bootstrap intervals, per-env normalization, performance profiles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from rlcourse.stats import final_scores
from rlcourse.sweep.analysis import (
    ALL_ENVS,
    final_performance,
    iqm,
    mean_iqm_intervals,
    normalize_per_env,
    performance_profile,
    plot_profiles,
)


def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm(np.array([0.0, 1, 2, 3, 4, 5, 6, 100])) == pytest.approx(3.5)  # mean of 2..5
    assert iqm(np.arange(12.0)) == pytest.approx(np.mean(np.arange(3, 9)))


def test_final_scores_average_the_last_tenth():
    values = np.tile(np.arange(1.0, 21.0), (3, 1))
    np.testing.assert_allclose(final_scores(values), [19.5] * 3)  # last 2 of 20


def test_intervals_cover_the_truth_and_are_reproducible():
    rng = np.random.default_rng(0)
    scores = rng.normal(1.0, 1.0, size=400)
    row = mean_iqm_intervals([scores], seed=7)
    assert row == mean_iqm_intervals([scores], seed=7)
    assert row["mean"] == pytest.approx(scores.mean())
    assert row["iqm"] == pytest.approx(stats.trim_mean(scores, 0.25))
    assert row["mean_low"] < 1.0 < row["mean_high"]
    assert row["iqm_low"] < 1.0 < row["iqm_high"]
    half = (row["mean_high"] - row["mean_low"]) / 2  # about 1.96 standard errors
    assert half == pytest.approx(1.96 / np.sqrt(400), rel=0.15)
    single = mean_iqm_intervals([np.array([2.0])])
    assert single["mean_low"] == single["mean_high"] == 2.0 and single["n"] == 1


def test_the_bootstrap_is_stratified_by_env():
    # Two envs with very different scores: resampling each on its own keeps their shares, so
    # the pooled mean varies only through the within-env spread (tiny here).
    strata = [np.full(50, 0.0) + np.linspace(0, 0.01, 50), np.full(10, 1.0)]
    row = mean_iqm_intervals(strata, seed=1)
    assert row["n"] == 60
    assert row["mean_high"] - row["mean_low"] < 0.01  # unstratified: about 0.18


def test_normalized_aggregates_over_envs():
    scores = {
        "a": {"x": {"reward": np.array([0.0, 1.0])}, "y": {"reward": np.array([2.0, 2.0])}},
        "b": {"x": {"reward": np.array([10.0, 30.0])}, "y": {"reward": np.array([20.0, 20.0])}},
    }
    normalized = normalize_per_env(scores)
    np.testing.assert_allclose(normalized[("x", "reward")][0], [0.0, 0.5])
    np.testing.assert_allclose(normalized[("x", "reward")][1], [0.0, 1.0])
    summary, intervals = final_performance(scores)
    assert len(summary) == 4
    assert intervals[intervals.env == ALL_ENVS].agent.tolist() == ["x", "y"]


def test_profiles_match_scipys_wilson_interval(tmp_path):
    scores = np.random.default_rng(2).random(37)
    taus = np.linspace(0, 1, 11)
    fraction, low, high = performance_profile(scores, taus)
    for i, tau in enumerate(taus):
        k = int((scores > tau).sum())
        assert fraction[i] == k / 37
        interval = stats.binomtest(k, 37).proportion_ci(method="wilson")
        assert (low[i], high[i]) == pytest.approx((interval.low, interval.high))
    path = plot_profiles({"a": scores, "b": scores / 2}, "reward", "t", tmp_path / "p.png")
    assert path.stat().st_size > 10_000
