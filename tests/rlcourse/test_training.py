"""`rlcourse train dqn` and `rlcourse evaluate`: files, safe checkpoints, and every refusal."""

import json

import pytest
import torch
from rlcourse_helpers import assert_usage_error

from rlcourse.cli import main

QUICK = [
    "--steps",
    "1200",
    "--eval-every",
    "600",
    "--eval-episodes",
    "2",
    "--set",
    "learning_starts=200",
    "train_freq=100",
    "gradient_steps=5",
    "hidden=16x16",
    "buffer_size=2000",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("dqn") / "run"
    assert main(["train", "dqn", "CartPole-v1", *QUICK, "--out", str(out)]) == 0
    return out


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_train_writes_checkpoint_curves_and_metrics(trained):
    names = {p.name for p in trained.iterdir()}
    assert {
        "checkpoint.pt",
        "episodes.csv",
        "evaluations.csv",
        "training.png",
        "metrics.json",
    } <= names
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["steps"] == 1200 and metrics["env"] == "CartPole-v1"
    evaluations = (trained / "evaluations.csv").read_text().splitlines()
    assert evaluations[0] == "step,mean_return,episodes,train_seconds"
    assert [line.split(",")[0] for line in evaluations[1:]] == ["600", "1200"]


def test_checkpoint_is_plain_data_loadable_with_weights_only(trained):
    checkpoint = torch.load(trained / "checkpoint.pt", weights_only=True)
    assert checkpoint["env"] == "CartPole-v1" and checkpoint["n_actions"] == 2
    assert checkpoint["observation_shape"] == [4]
    assert checkpoint["config"]["hidden"] == [16, 16] or checkpoint["config"]["hidden"] == (16, 16)
    assert all(isinstance(v, torch.Tensor) for v in checkpoint["model"].values())


def test_evaluate_prints_and_writes_the_greedy_return(trained, capsys):
    assert main(["evaluate", str(trained), "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    result = json.loads((trained / "evaluation-seed0-episodes3.json").read_text())
    assert result["episodes"] == 3 and len(result["returns"]) == 3
    assert f"mean return {result['mean_return']:.2f}" in out
    again = main(["evaluate", str(trained), "--episodes", "3"])
    assert (
        again == 0
        and json.loads((trained / "evaluation-seed0-episodes3.json").read_text()) == result
    )


def test_a_checkpoint_from_another_env_is_refused(trained, capsys):
    assert main(["evaluate", str(trained), "--env", "Acrobot-v1"]) == 2
    line = one_error_line(capsys)
    assert "was trained on CartPole-v1 (observations [4], 2 actions)" in line
    assert "Acrobot-v1 has observations [6] and 3 actions" in line


def test_a_corrupt_checkpoint_is_refused(tmp_path, capsys):
    (tmp_path / "checkpoint.pt").write_bytes(b"\x00garbage")
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "checkpoint.pt is corrupt" in one_error_line(capsys)


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_pickled_object_is_refused_never_unpickled(tmp_path, capsys):
    torch.save({"model": Payload()}, tmp_path / "checkpoint.pt")
    assert main(["evaluate", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "this must never run" not in captured.out
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "is not a plain state dict (refused, not unpickled)" in err[0]


def test_a_plain_dict_that_is_not_a_checkpoint_is_refused(tmp_path, capsys):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "checkpoint.pt")
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "is not an rlcourse DQN checkpoint" in one_error_line(capsys)


def test_missing_checkpoint(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "holds no checkpoint.pt" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Pendulum-v1", "--steps", "100"], "DQN needs Discrete actions"),
        (
            ["CartPole-v1", "--steps", "500"],
            "learning_starts (1000) >= steps (500): the agent would never take a gradient step",
        ),
        (
            ["CartPole-v1", "--set", "buffer_size=10"],
            "buffer_size (10) is smaller than one batch (64)",
        ),
        (["CartPole-v1", "--set", "lr=fast"], "lr='fast' is not a number"),
        (["CartPole-v1", "--set", "epsilon=0.1"], "agent 'dqn' has no parameter 'epsilon'"),
        (["CartPole-v1", "--set", "n_step=0"], "agent 'dqn': n_step must be >= 1, got 0"),
        (
            ["CartPole-v1", "--set", "prioritized=true", "per_alpha=1.5"],
            "agent 'dqn': per_alpha must be in [0, 1], got 1.5",
        ),
        (["NoSuchEnv-v0"], "unknown env 'NoSuchEnv-v0'"),
    ],
)
def test_bad_training_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["train", "dqn", *args, "--out", str(out)]) == 2
    assert message in one_error_line(capsys)
    assert not (out / "checkpoint.pt").exists()


def test_a_comparison_with_alpha_outside_0_1_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["compare", "CartPole-v1", "--agents", "dqn:prioritized=true,per_alpha=2",
            "--episodes", "2", "--out", str(out)]  # fmt: skip
    assert main(argv) == 2
    assert one_error_line(capsys) == (
        "rlcourse compare: error: agent 'dqn': per_alpha must be in [0, 1], got 2.0"
    )
    assert not out.exists()


def test_tensorboard_without_the_package_says_how_to_get_it(tmp_path, capsys):
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("tensorboard is installed here")
    assert (
        main(
            ["train", "dqn", "CartPole-v1", *QUICK, "--tensorboard", "--out", str(tmp_path / "tb")]
        )
        == 2
    )
    assert "pip install 'rlcourse[tensorboard]'" in one_error_line(capsys)


def test_existing_output_is_kept_without_force(trained, capsys):
    before = (trained / "checkpoint.pt").read_bytes()
    assert main(["train", "dqn", "CartPole-v1", *QUICK, "--out", str(trained)]) == 2
    assert "already exists" in one_error_line(capsys)
    assert (trained / "checkpoint.pt").read_bytes() == before


# -- code named by a file never runs -------------------------------------------------------------
EVIL = """
import pathlib
pathlib.Path("MARKER").write_text("ran")
import gymnasium as gym
Env = lambda **kwargs: gym.make("CartPole-v1")
"""


def _checkpoint_naming(trained, tmp_path, **changes):
    out = tmp_path / "received"
    out.mkdir()
    for name in ("checkpoint.pt", "best.pt"):
        checkpoint = torch.load(trained / name, weights_only=True)
        torch.save({**checkpoint, **changes}, out / name)
    return out


def test_a_module_named_by_a_checkpoint_is_never_imported(trained, tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = f"evil_{tmp_path.name}"  # a name no other test has imported
    (tmp_path / f"{module}.py").write_text(EVIL)
    out = _checkpoint_naming(trained, tmp_path, env=f"{module}:Env", env_kwargs={})
    line = assert_usage_error(cli("evaluate", out, "--episodes", "1"))
    assert line.endswith(
        f"best.pt names the env '{module}:Env', which is code to import and run; from a file "
        "rlcourse makes only registered Gymnasium ids. If you trust it, name it yourself: "
        f"--env {module}:Env"
    )
    assert not (tmp_path / "MARKER").exists()
    assert cli("evaluate", out, "--episodes", "1", "--env", f"{module}:Env").code == 0
    assert (tmp_path / "MARKER").read_text() == "ran"  # named on the command line: trusted


def test_the_working_directory_never_shadows_a_module(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tabnanny.py").write_text("raise SystemExit('shadowed')\n")  # a stdlib name
    (tmp_path / "mine.py").write_text(
        "import tabnanny\nimport gymnasium as gym\nEnv = lambda: gym.make('CartPole-v1')\n"
    )
    result = cli("compare mine:Env --agents random --steps 5 --runs 1 --out", tmp_path / "o")
    assert result.code == 0, result.err
    import sys

    assert sys.path.index(str(tmp_path)) > sys.path.index(
        next(p for p in sys.path if p.endswith("site-packages"))
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"observation_shape": "abc"}, "has a bad observation_shape or n_actions: 'abc', 2"),
        ({"n_actions": 2.5}, "has a bad observation_shape or n_actions: [4], 2.5"),
        ({"env": 3}, "names its env wrongly: 3 with {}"),
        ({"env_kwargs": [1]}, "names its env wrongly: 'CartPole-v1' with [1]"),
        ({"config": {"lr": "x"}}, "has a bad config"),
    ],
)
def test_a_checkpoint_with_fields_of_the_wrong_types_is_one_line(
    trained, tmp_path, cli, changes, message
):
    out = _checkpoint_naming(trained, tmp_path, **changes)
    assert message in assert_usage_error(cli("evaluate", out, "--episodes", "1"))


# -- memory ----------------------------------------------------------------------------------------
def test_a_replay_buffer_that_cannot_fit_is_refused_before_anything(tmp_path, cli, monkeypatch):
    import rlcourse.memory

    monkeypatch.setattr(rlcourse.memory, "available_bytes", lambda: 5_000_000)
    out = tmp_path / "out"
    line = assert_usage_error(cli("train dqn CartPole-v1 --out", out))
    assert line == (
        "rlcourse train: error: needs about 6.9 MB (replay buffer 4.6 MB, networks 1.6 MB, "
        "results 500.6 kB, envs 170.0 kB) but 5.0 MB is available; lower --steps, "
        "--eval-episodes or the sizes of --set (buffer_size, hidden)"
    )  # 100 000 × (2 × 4 float32 + int64 action + float32 reward + 2 flags) = 4.6 MB
    assert not out.exists() and not (tmp_path / "out.partial").exists()
    assert cli("train dqn CartPole-v1 --set buffer_size=50000 --dry-run --out", out).code == 0


def test_dry_run_prints_the_plan_and_memory_and_writes_nothing(tmp_path, cli):
    out = tmp_path / "out"
    result = cli("train dqn CartPole-v1 --steps 100000 --dry-run --out", out)
    assert result.code == 0
    assert result.out.splitlines() == [
        f"would train DQN on CartPole-v1 for 100000 steps into {out}/",
        "preset: CartPole-v1",
        "memory: about 7.4 MB (replay buffer 4.6 MB, networks 1.6 MB, results 1.0 MB, envs "
        "170.0 kB)",
    ]
    assert list(tmp_path.iterdir()) == []


def test_the_old_module_re_exports_the_training_names_with_a_deprecation_warning(monkeypatch):
    import importlib
    import sys

    import rlcourse.training.train as train

    monkeypatch.delitem(sys.modules, "rlcourse.dqn_training", raising=False)
    with pytest.warns(DeprecationWarning, match="rlcourse.dqn_training is deprecated"):
        old = importlib.import_module("rlcourse.dqn_training")
    for name in ("train_dqn", "resume_dqn", "prepare_training", "prepare_resume",
                 "train_from_settings", "finished_metrics", "RUN_FILES"):  # fmt: skip
        assert getattr(old, name) is getattr(train, name)
    assert sorted(old.__all__) == sorted(name for name in old.__all__ if hasattr(old, name))


def test_settings_is_the_training_config_under_its_old_name_with_a_deprecation_warning():
    import rlcourse.training.settings as settings

    with pytest.warns(DeprecationWarning, match="settings.Settings is deprecated.*TrainingConfig"):
        from rlcourse.training.settings import Settings
    assert Settings is settings.TrainingConfig
    with pytest.raises(AttributeError, match="no attribute 'Setting'"):
        settings.Setting  # noqa: B018


def test_the_defaults_have_one_home_the_command_and_the_library_read(cli):
    import inspect

    from rlcourse.training import settings
    from rlcourse.training.train import prepare_training

    defaults = inspect.signature(prepare_training).parameters
    assert (defaults["steps"].default, defaults["eval_every"].default,
            defaults["eval_episodes"].default) == (settings.STEPS, settings.EVAL_EVERY,
                                                   settings.EVAL_EPISODES)  # fmt: skip
    helped = cli("train --help").out
    assert f"or {settings.STEPS})" in helped and f"({settings.EVAL_EVERY})" in helped
