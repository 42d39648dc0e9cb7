"""``plot``/``aggregate`` without ``--label``: seeds grouped by saved settings; a panel per env."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from rlcourse.aggregate import aggregate
from rlcourse.overlay import gather, group, overlay_figure

TRAIN = ("train dqn CartPole-v1 --steps 200 --eval-every 100 --eval-episodes 2 "
         "--set learning_starts=100 hidden=8 --out")  # fmt: skip


@pytest.fixture(scope="module")
def saved_settings(tmp_path_factory) -> dict:
    """``metrics.json`` of a real (tiny) ``train dqn`` run."""
    from rlcourse.cli import main

    out = tmp_path_factory.mktemp("train") / "run"
    assert main([*TRAIN.split(), str(out)]) == 0
    return json.loads((out / "metrics.json").read_text())


def _train_dir(folder: Path, saved: dict, seed: int, finals, **config) -> Path:
    """A train directory of ``saved``'s run with another seed (and config), its own curves."""
    folder.mkdir(parents=True)
    metrics = copy.deepcopy(saved)
    metrics["seed"] = metrics["settings"]["seed"] = seed
    metrics["settings"]["config"].update(config)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    rows = "".join(f"{100 * (i + 1)},{r},2,1.0\n" for i, r in enumerate(finals))
    (folder / "evaluations.csv").write_text("step,mean_return,episodes,train_seconds\n" + rows)
    return folder


def test_train_writes_its_settings_into_metrics_json(saved_settings):
    settings = saved_settings["settings"]
    assert (settings["env"], settings["seed"], settings["steps"]) == ("CartPole-v1", 0, 200)
    assert settings["config"]["hidden"] == [8] and settings["config"]["double"] is False


def test_three_train_dirs_of_two_settings_are_two_groups_labelled_by_what_differs(
    saved_settings, tmp_path, cli
):
    # folder names say nothing (no seed suffix, no shared stem): the settings decide
    inputs = [
        _train_dir(tmp_path / "first", saved_settings, 0, [1.0, 3.0]),
        _train_dir(tmp_path / "second", saved_settings, 1, [3.0, 5.0]),
        _train_dir(tmp_path / "third", saved_settings, 0, [7.0, 9.0], double=True),
    ]
    runs = gather(inputs)
    assert [run.label for run in runs] == ["double=false", "double=false", "double=true"]
    groups = group(runs)
    assert list(groups) == ["double=false", "double=true"]
    assert groups["double=false"]["n"] == 2
    np.testing.assert_allclose(groups["double=false"]["mean"], [2.0, 4.0])
    assert groups["double=true"]["n"] == 1
    # aggregate: one label per setting, each with its runs' scores
    scores = aggregate(runs, per_env=False, use_rliable=False)["scores"]["CartPole-v1"]
    assert {label: len(s["eval_return"]) for label, s in scores.items()} == {
        "double=false": 2,
        "double=true": 1,
    }
    out = tmp_path / "fig.png"
    assert cli("plot", *inputs, "--out", out).code == 0 and out.is_file()
    # --label still decides where it is given
    labelled = gather(inputs, ["a", "a", "a"])
    assert {run.label for run in labelled} == {"a"}


def test_runs_of_one_setting_keep_their_folders_label(saved_settings, tmp_path):
    inputs = [_train_dir(tmp_path / f"dqn-s{seed}", saved_settings, seed, [1.0]) for seed in (0, 1)]
    assert {run.label for run in gather(inputs)} == {"dqn"}


def _other_env(folder: Path, saved: dict) -> Path:
    moved = copy.deepcopy(saved)
    moved["env"] = moved["settings"]["env"] = "LunarLander-v3"
    return _train_dir(folder, moved, 0, [-50.0, 10.0])


def test_two_envs_are_two_panels_with_one_legend(saved_settings, tmp_path):
    inputs = [
        _train_dir(tmp_path / "cart-s0", saved_settings, 0, [1.0, 3.0]),
        _train_dir(tmp_path / "cart-s1", saved_settings, 1, [3.0, 5.0]),
        _other_env(tmp_path / "lunar", saved_settings),
    ]
    fig = overlay_figure(gather(inputs))
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["CartPole-v1", "LunarLander-v3"]
    assert [len(ax.lines) for ax in axes] == [1, 1]
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in axes)


def test_one_env_is_one_axes(saved_settings, tmp_path):
    inputs = [_train_dir(tmp_path / f"s{s}", saved_settings, s, [1.0, 2.0]) for s in (0, 1)]
    fig = overlay_figure(gather(inputs))
    assert len(fig.axes) == 1 and fig.axes[0].get_legend() is not None


def test_agents_of_one_input_are_labelled_by_the_parameters_that_set_them_apart(tmp_path, cli):
    """A comparison of variants reads dqn, dqn:double=true, not the specs in full."""
    from agents.specs import short_specs

    specs = ["dqn:lr=0.001,hidden=8", "dqn:lr=0.001,hidden=8,double=true",
             "dqn:lr=0.001,hidden=8,double=true,n_step=3"]  # fmt: skip
    assert short_specs(specs) == {
        specs[0]: "dqn",
        specs[1]: "dqn:double=true",
        specs[2]: "dqn:double=true,n_step=3",
    }
    assert short_specs(["ucb:c=2", "greedy"]) == {"ucb:c=2": "ucb:c=2", "greedy": "greedy"}
    out = tmp_path / "results"
    agents = ["epsilon-greedy:epsilon=0.1,alpha=0.5", "epsilon-greedy:epsilon=0.01,alpha=0.5"]
    result = cli("compare", "bandit", "--agents", *agents, "--steps", "5", "--runs", "3",
                 "--out", out)  # fmt: skip
    assert result.code == 0, result.err
    labels = {run.label for run in gather([out], metric="reward")}
    assert labels == {"epsilon-greedy:epsilon=0.1", "epsilon-greedy:epsilon=0.01"}


def test_greedy_evaluations_of_a_results_directory_are_drawn_at_their_steps(tmp_path, cli):
    out = tmp_path / "results"
    result = cli("compare", "gridworld", "--agents", "epsilon-greedy:alpha=0.5,learner=q-learning",
                 "--steps", "40", "--runs", "2", "--eval-every", "20", "--eval-episodes", "1",
                 "--out", out)  # fmt: skip
    assert result.code == 0, result.err
    runs = gather([out], metric="eval_return")
    assert [run.x.tolist() for run in runs] == [[20.0, 40.0]] * 2
