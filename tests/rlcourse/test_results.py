"""Results: curves and summary statistics, the results directory, and plots."""

from __future__ import annotations

import json
import math

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import rlcourse
from rlcourse import Results, UsageError, load_results
from rlcourse.plots import study_families

CURVE_COLUMNS = ["agent", "metric", "x", "mean", "ci_low", "ci_high", "n"]
SUMMARY_COLUMNS = ["agent", "metric", "mean", "ci_low", "ci_high", "n"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
AGENTS = ["greedy", "epsilon-greedy:epsilon=0.1,alpha=0.1"]  # a label with a comma (CSV quoting)


@pytest.fixture(scope="module")
def results() -> Results:
    return rlcourse.compare("bandit", AGENTS, runs=12, steps=35, seed=7, progress=False)


@pytest.fixture(scope="module")
def episode_results() -> Results:
    return rlcourse.compare("FrozenLake-v1", ["random"], runs=6, episodes=8, seed=1, progress=False)


def hand_mean_ci(samples: np.ndarray) -> tuple[float, float, float]:
    """Mean and two-sided 95% Student-t interval, written out."""
    n = len(samples)
    mean = float(np.mean(samples))
    half = stats.t.ppf(0.975, df=n - 1) * np.std(samples, ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def assert_png(path, min_width=200, min_height=150):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    assert width >= min_width and height >= min_height
    assert width < 5000 and height < 5000
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    # Something was drawn: not a single flat colour.
    assert np.ptp(image[..., :3]) > 0.1


# -- curves and summary ----------------------------------------------------------------------------
def test_columns_exactly_as_specified(results, episode_results):
    for res in (results, episode_results):
        assert list(res.curves.columns) == CURVE_COLUMNS
        assert list(res.summary.columns) == SUMMARY_COLUMNS


def test_metric_names(results, episode_results):
    assert results.metrics == ["reward", "optimal_action"]
    assert episode_results.metrics == ["return", "length"]
    assert set(results.summary.metric) == {"reward", "optimal_action"}
    assert set(episode_results.curves.metric) == {"return", "length"}


def test_curves_match_per_x_hand_computation(results):
    curves = results.curves
    assert len(curves) == len(AGENTS) * 2 * 35
    for agent in AGENTS:
        for metric in ("reward", "optimal_action"):
            values = results.data[agent][metric].astype(np.float64)
            rows = curves[(curves.agent == agent) & (curves.metric == metric)]
            assert rows.x.tolist() == list(range(1, 36))
            assert (rows.n == 12).all()
            for x in (1, 17, 35):
                row = rows[rows.x == x].iloc[0]
                column = values[:, x - 1]
                mean = column.mean()
                assert row["mean"] == pytest.approx(mean)
                if column.std() == 0:
                    assert row.ci_low == pytest.approx(mean) and row.ci_high == pytest.approx(mean)
                else:
                    _, low, high = hand_mean_ci(column)
                    assert (row.ci_low, row.ci_high) == pytest.approx((low, high))


def test_summary_matches_hand_computation(results):
    summary = results.summary
    assert len(summary) == len(AGENTS) * 2
    window = math.ceil(0.1 * 35)  # 4 steps
    for agent in AGENTS:
        for metric in ("reward", "optimal_action"):
            per_run = results.data[agent][metric][:, -window:].astype(np.float64).mean(axis=1)
            row = summary[(summary.agent == agent) & (summary.metric == metric)].iloc[0]
            mean, low, high = hand_mean_ci(per_run)
            assert row["mean"] == pytest.approx(mean)
            assert row.ci_low == pytest.approx(low)
            assert row.ci_high == pytest.approx(high)
            assert row.n == 12


def test_summary_of_episode_results(episode_results):
    window = math.ceil(0.1 * 8)  # 1 episode
    lengths = episode_results.data["random"]["length"]
    row = episode_results.summary.set_index("metric").loc["length"]
    assert row["mean"] == pytest.approx(lengths[:, -window:].mean())
    assert row.n == 6


@pytest.mark.parametrize(
    ("points", "window"), [(1, 1), (5, 1), (10, 1), (11, 2), (15, 2), (100, 10), (101, 11)]
)
def test_summary_window_is_ceil_of_ten_percent(points, window):
    rng = np.random.default_rng(points)
    values = rng.normal(size=(4, points))
    summary = Results({"a": {"reward": values}}, {"runs": 4}).summary
    mean, low, high = hand_mean_ci(values[:, -window:].mean(axis=1))
    assert summary.loc[0, ["mean", "ci_low", "ci_high"]].tolist() == pytest.approx(
        [mean, low, high]
    )


def test_results_from_known_arrays_give_known_numbers():
    # 3 runs, 15 steps: the final 10% is the last ceil(1.5) = 2 steps, whose per-run means are
    # 1, 2, 3 (a window of 1 would give 2, 3, 4; a window of 3 would take in the 100s).
    values = np.full((3, 15), 100.0)
    values[:, -2:] = [[0.0, 2.0], [1.0, 3.0], [2.0, 4.0]]
    res = Results({"known": {"reward": values}}, {"runs": 3, "x": "step"})

    half = 4.302652729749464 / math.sqrt(3)  # t(0.975, df=2) * sd 1 / sqrt(3)
    row = res.summary.iloc[0]
    assert (row.agent, row.metric, row.n) == ("known", "reward", 3)
    assert row["mean"] == pytest.approx(2.0)
    assert row.ci_low == pytest.approx(2.0 - half)
    assert row.ci_high == pytest.approx(2.0 + half)
    assert half == pytest.approx(2.4841377)

    curves = res.curves
    assert curves.x.tolist() == list(range(1, 16))
    first = curves.iloc[0]  # every run 100: no spread, the interval is the mean itself
    assert (first["mean"], first.ci_low, first.ci_high, first.n) == (100.0, 100.0, 100.0, 3)
    last = curves.iloc[-1]  # 2, 3, 4
    assert last["mean"] == pytest.approx(3.0)
    assert (last.ci_low, last.ci_high) == pytest.approx((3.0 - half, 3.0 + half))


def test_boolean_metric_is_a_fraction():
    hits = np.array([[True, False, True, True], [False, False, True, True]])
    res = Results({"a": {"optimal_action": hits}}, {"runs": 2})
    assert res.curves["mean"].tolist() == pytest.approx([0.5, 0.0, 1.0, 1.0])
    assert res.summary["mean"].iloc[0] == pytest.approx(1.0)


def test_single_run_gives_a_degenerate_interval_not_nan():
    res = Results({"a": {"reward": np.array([[1.0, 2.0, 3.0]])}}, {"runs": 1})
    row = res.summary.iloc[0]
    assert (row["mean"], row.ci_low, row.ci_high, row.n) == (3.0, 3.0, 3.0, 1)
    assert not res.curves[["mean", "ci_low", "ci_high"]].isna().any().any()


def test_n_equals_runs(results, episode_results):
    assert (results.summary.n == 12).all() and (results.curves.n == 12).all()
    assert (episode_results.summary.n == 6).all() and (episode_results.curves.n == 6).all()


def test_run_means(results):
    means = results.run_means("reward")
    assert list(means) == AGENTS
    np.testing.assert_allclose(means["greedy"], results.data["greedy"]["reward"].mean(axis=1))


# -- the results directory -------------------------------------------------------------------------
def test_save_writes_the_files_with_exact_headers(results, tmp_path):
    out = results.save(tmp_path / "res")
    assert out == tmp_path / "res"
    assert sorted(p.name for p in out.iterdir()) == [
        ".rlcourse.json",
        "curves.csv",
        "manifest.json",
        "runs.npz",
        "summary.csv",
        "values.npz",  # the agents keep action-value tables
    ]
    loaded = rlcourse.load_results(out)
    assert loaded.action_values.keys() == results.action_values.keys()
    for label, q in results.action_values.items():
        assert q.shape == (results.manifest["runs"], 1, 10)
        np.testing.assert_array_equal(loaded.action_values[label], q)
    assert (out / "curves.csv").read_text().splitlines()[0] == ",".join(CURVE_COLUMNS)
    assert (out / "summary.csv").read_text().splitlines()[0] == ",".join(SUMMARY_COLUMNS)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["agents"] == AGENTS
    assert manifest["env"] == "rlcourse/Bandit-v0"
    assert (manifest["runs"], manifest["steps"], manifest["episodes"]) == (12, 35, None)
    assert (manifest["seed"], manifest["x"]) == (7, "step")


def test_save_load_round_trip(results, tmp_path):
    results.save(tmp_path / "res")
    loaded = load_results(tmp_path / "res")
    assert loaded.agents == results.agents
    assert loaded.metrics == results.metrics
    assert loaded.manifest == results.manifest
    for agent in results.agents:
        assert list(loaded.data[agent]) == list(results.data[agent])
        for metric, values in results.data[agent].items():
            assert loaded.data[agent][metric].dtype == values.dtype
            np.testing.assert_array_equal(loaded.data[agent][metric], values)
    pd.testing.assert_frame_equal(loaded.curves, results.curves)
    pd.testing.assert_frame_equal(loaded.summary, results.summary)


def test_episode_results_round_trip(episode_results, tmp_path):
    episode_results.save(tmp_path / "ep")
    loaded = load_results(tmp_path / "ep")
    np.testing.assert_array_equal(
        loaded.data["random"]["length"], episode_results.data["random"]["length"]
    )
    assert loaded.manifest["x"] == "episode"
    pd.testing.assert_frame_equal(loaded.summary, episode_results.summary)


def test_csv_files_hold_the_curves_and_summary(results, tmp_path):
    results.save(tmp_path / "res")
    for name, frame in (("curves.csv", results.curves), ("summary.csv", results.summary)):
        on_disk = pd.read_csv(tmp_path / "res" / name)
        assert list(on_disk.columns) == list(frame.columns)
        assert on_disk.agent.tolist() == frame.agent.tolist()  # incl. the label with a comma
        assert on_disk.metric.tolist() == frame.metric.tolist()
        assert on_disk.n.tolist() == frame.n.tolist()
        for column in ("mean", "ci_low", "ci_high"):
            np.testing.assert_allclose(on_disk[column], frame[column], rtol=1e-5, atol=1e-6)


def test_hand_built_results_round_trip(tmp_path):
    data = {
        "a": {"reward": np.arange(12, dtype=np.float32).reshape(3, 4)},
        "b": {"reward": np.ones((3, 4), dtype=np.float32), "optimal_action": np.eye(3, 4) > 0},
    }
    manifest = {"agents": ["a", "b"], "runs": 3, "steps": 4, "x": "step", "env": "test"}
    Results(data, manifest).save(tmp_path / "r")
    loaded = load_results(tmp_path / "r")
    assert loaded.manifest == manifest
    assert loaded.metrics == ["reward", "optimal_action"]
    np.testing.assert_array_equal(loaded.data["b"]["optimal_action"], np.eye(3, 4) > 0)
    np.testing.assert_array_equal(loaded.data["a"]["reward"], data["a"]["reward"])


@pytest.mark.parametrize("force", [False, True])
def test_save_never_replaces_a_directory_that_holds_no_results(results, tmp_path, force):
    target = tmp_path / "res"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="non-empty directory not written by rlcourse"):
        results.save(target, force=force)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert (target / "notes.txt").read_text() == "mine"


def test_save_refuses_an_existing_results_directory_and_keeps_it(results, tmp_path):
    target = tmp_path / "res"
    results.save(target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    other = rlcourse.compare("bandit", ["ucb"], runs=3, steps=10, seed=99, progress=False)
    with pytest.raises(UsageError):
        other.save(target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before


def test_save_with_force_replaces(results, tmp_path):
    target = tmp_path / "res"
    results.save(target)
    other = rlcourse.compare("bandit", ["ucb"], runs=3, steps=10, seed=99, progress=False)
    other.save(target, force=True)
    loaded = load_results(target)
    assert loaded.agents == ["ucb"]
    assert loaded.manifest["seed"] == 99
    np.testing.assert_array_equal(loaded.data["ucb"]["reward"], other.data["ucb"]["reward"])
    # No staging directories are left next to the target.
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_save_into_an_empty_existing_directory(results, tmp_path):
    (tmp_path / "empty").mkdir()
    results.save(tmp_path / "empty")
    assert load_results(tmp_path / "empty").agents == AGENTS


def test_save_refuses_a_file(results, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError):
        results.save(tmp_path / "file", force=True)
    assert (tmp_path / "file").read_text() == "x"


def test_load_results_refuses_what_is_not_a_results_directory(tmp_path):
    with pytest.raises(UsageError, match="no such directory"):
        load_results(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="missing"):
        load_results(tmp_path / "empty")


# -- plots -----------------------------------------------------------------------------------------
def test_plot_directory_writes_one_png_per_metric(results, tmp_path):
    results.save(tmp_path / "res")
    written = rlcourse.plot(tmp_path / "res")
    assert sorted(p.name for p in written) == ["optimal_action.png", "reward.png"]
    for path in written:
        assert path.parent == tmp_path / "res"
        assert_png(path)


def test_plot_one_metric_to_a_file(results, tmp_path):
    written = rlcourse.plot(results, metric="reward", out=tmp_path / "reward-curve.png")
    assert written == [tmp_path / "reward-curve.png"]
    assert_png(written[0])


def test_plot_episode_metrics(episode_results, tmp_path):
    episode_results.save(tmp_path / "ep")
    written = rlcourse.plot(tmp_path / "ep")
    assert sorted(p.name for p in written) == ["length.png", "return.png"]
    for path in written:
        assert_png(path)


def test_plot_refuses_bad_requests(results, tmp_path):
    results.save(tmp_path / "res")
    with pytest.raises(UsageError, match="no metric"):
        rlcourse.plot(tmp_path / "res", metric="nonsense")
    with pytest.raises(UsageError):
        rlcourse.plot(tmp_path / "res", kind="histogram")
    with pytest.raises(UsageError):  # an object, not a directory: needs out=
        rlcourse.plot(results)
    with pytest.raises(UsageError):
        rlcourse.plot(tmp_path / "nowhere")


def test_plot_of_two_metrics_into_one_file_is_one_figure_of_two_panels(results, tmp_path):
    results.save(tmp_path / "res")
    assert rlcourse.plot(tmp_path / "res", out=tmp_path / "one.png") == [tmp_path / "one.png"]
    assert rlcourse.plot(results, out=f"{tmp_path}/figs/") == [  # a folder: a trailing /
        tmp_path / "figs" / f"{metric}.png" for metric in results.metrics
    ]


STUDY = [
    "epsilon-greedy:epsilon=1/64",
    "epsilon-greedy:epsilon=1/16",
    "epsilon-greedy:epsilon=1/4",
    "ucb:c=1/2",
    "ucb:c=1",
    "ucb:c=2",
]


def test_plot_study(tmp_path):
    res = rlcourse.compare("bandit", STUDY, runs=8, steps=30, progress=False)
    written = rlcourse.plot(res, kind="study", out=tmp_path / "study.png")
    assert written == [tmp_path / "study.png"]
    assert_png(written[0])

    res.save(tmp_path / "res")
    written = rlcourse.plot(tmp_path / "res", kind="study")
    assert written == [tmp_path / "res" / "study.png"]
    assert_png(written[0])


def test_study_families_group_by_name_and_sort_by_value():
    families = study_families(list(reversed(STUDY)))
    assert families == {
        "ucb": ("c", [(0.5, "ucb:c=1/2"), (1.0, "ucb:c=1"), (2.0, "ucb:c=2")]),
        "epsilon-greedy": (
            "epsilon",
            [
                (1 / 64, "epsilon-greedy:epsilon=1/64"),
                (1 / 16, "epsilon-greedy:epsilon=1/16"),
                (1 / 4, "epsilon-greedy:epsilon=1/4"),
            ],
        ),
    }
    fixed = study_families(["greedy:alpha=0.1,initial=1", "greedy:alpha=0.1,initial=4"])
    assert fixed == {
        "greedy:alpha=0.1": (
            "initial",
            [(1.0, "greedy:alpha=0.1,initial=1"), (4.0, "greedy:alpha=0.1,initial=4")],
        )
    }


def _fake(labels):
    rng = np.random.default_rng(0)
    return Results({label: {"reward": rng.normal(size=(3, 5))} for label in labels}, {"runs": 3})


@pytest.mark.parametrize(
    "labels",
    [
        # two parameters vary at once
        ["epsilon-greedy:epsilon=0.1,alpha=0.1", "epsilon-greedy:epsilon=0.2,alpha=0.2"],
        # a family of one
        ["epsilon-greedy:epsilon=0.1", "epsilon-greedy:epsilon=0.2", "ucb:c=1"],
        # nothing varies (the same parameters, written in another order)
        ["ucb:c=1,alpha=0.1", "ucb:alpha=0.1,c=1"],
        # a parameter that is not numeric
        ["decaying-epsilon:schedule=linear", "decaying-epsilon:schedule=inverse"],
    ],
    ids=["two-parameters-vary", "family-of-one", "nothing-varies", "not-numeric"],
)
def test_plot_study_refuses_what_is_not_a_one_parameter_study(labels, tmp_path):
    with pytest.raises(UsageError):
        rlcourse.plot(_fake(labels), kind="study", out=tmp_path / "study.png")
    assert not (tmp_path / "study.png").exists()


def test_plot_study_refuses_two_varying_parameters_from_a_real_comparison(tmp_path):
    res = rlcourse.compare(
        "bandit",
        ["epsilon-greedy:epsilon=0.1,alpha=0.1", "epsilon-greedy:epsilon=0.2,alpha=0.2"],
        runs=3,
        steps=5,
        progress=False,
    )
    res.save(tmp_path / "res")
    with pytest.raises(UsageError, match="exactly one parameter"):
        rlcourse.plot(tmp_path / "res", kind="study")
    assert not (tmp_path / "res" / "study.png").exists()
