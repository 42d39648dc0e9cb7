"""--wrapper module:Class[:k=v,...]: applied in order, recorded, and never re-applied from a file
unless the user names it again."""

from __future__ import annotations

import json

import pytest
import torch
from rlcourse_helpers import assert_usage_error

import rlcourse
from rlcourse.environments import resolve_env

STACK = "gymnasium.wrappers:FrameStackObservation:stack_size=4"
QUICK = ("--steps 600 --eval-every 600 --eval-episodes 2 --set learning_starts=200 train_freq=100 "
         "gradient_steps=5 hidden=16x16 buffer_size=1000")  # fmt: skip


def test_wrappers_apply_in_order_with_their_kwargs():
    plain = resolve_env("CartPole-v1").make_one().observation_space.shape
    stacked = resolve_env("CartPole-v1", wrappers=[STACK]).make_one()
    assert plain == (4,) and stacked.observation_space.shape == (4, 4)
    twice = resolve_env(
        "CartPole-v1",
        wrappers=["gymnasium.wrappers:FlattenObservation", STACK.replace("4", "3")],
    ).make_one()
    assert twice.observation_space.shape == (3, 4)


def test_minigrid_image_wrapper_turns_the_dict_into_an_image():
    env = resolve_env("MiniGrid-Empty-5x5-v0", wrappers=["minigrid.wrappers:ImgObsWrapper"])
    assert env.make_one().observation_space.shape == (7, 7, 3)


def test_compare_records_the_wrappers_in_the_manifest(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("compare CartPole-v1 --agents random --steps 20 --runs 2 --wrapper", STACK,
                 "--out", out)  # fmt: skip
    assert result.code == 0, result.err
    assert json.loads((out / "manifest.json").read_text())["wrappers"] == [STACK]
    results = rlcourse.compare("CartPole-v1", ["random"], runs=2, steps=5, wrappers=[STACK],
                               progress=False)  # fmt: skip
    assert results.manifest["wrappers"] == [STACK]


@pytest.mark.parametrize(
    ("wrapper", "message"),
    [
        ("no_such_module:W", "cannot import 'no_such_module' for wrapper 'no_such_module:W'"),
        ("gymnasium.wrappers:Nope", "module 'gymnasium.wrappers' has no wrapper 'Nope'"),
        ("gymnasium.wrappers", "wrapper 'gymnasium.wrappers' is not module:Class[:KEY=VALUE,...]"),
        (f"{STACK},oops", "wrapper '" + STACK + ",oops': 'oops' is not KEY=VALUE"),
        ("gymnasium.wrappers:FrameStackObservation:stack_size=0",
         "wrapper gymnasium.wrappers:FrameStackObservation refused {'stack_size': 0}: "
         "ValueError: The stack_size needs to be greater than zero"),
        ("gymnasium.wrappers:FrameStackObservation:size=4",
         "wrapper gymnasium.wrappers:FrameStackObservation refused {'size': 4}: TypeError:"),
    ],
)  # fmt: skip
def test_a_bad_wrapper_is_one_line(cli, tmp_path, wrapper, message):
    line = assert_usage_error(
        cli(
            "compare CartPole-v1 --agents random --steps 5 --wrapper",
            wrapper,
            "--out",
            tmp_path / "o",
        )  # fmt: skip
    )
    assert message in line
    assert not (tmp_path / "o").exists()


MARKING = """
import pathlib
import gymnasium as gym
pathlib.Path("MARKER").write_text("ran")
class Double(gym.ObservationWrapper):
    def observation(self, obs):
        return obs
"""


def test_saved_wrappers_run_only_when_named_again(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = f"wrap_{tmp_path.name}"
    (tmp_path / f"{module}.py").write_text(MARKING)
    wrapper = f"{module}:Double"
    out = tmp_path / "run"
    assert cli("train dqn CartPole-v1", QUICK, "--wrapper", wrapper, "--out", out).code == 0
    assert torch.load(out / "best.pt", weights_only=True)["wrappers"] == [wrapper]
    (tmp_path / "MARKER").unlink()  # the training ran it: the user named it then

    import sys

    sys.modules.pop(module, None)  # as in a new process that received the directory
    line = assert_usage_error(cli("evaluate", out, "--episodes 1"))
    assert line.endswith(
        f"best.pt applies the wrappers {wrapper}, code to import and run; if you trust them, "
        f"name them yourself: --wrapper {wrapper}"
    )
    line = assert_usage_error(cli("train dqn --resume", out, "--steps 900"))
    assert "resume.pt applies the wrappers" in line
    assert not (tmp_path / "MARKER").exists() and not (tmp_path / "run.partial").exists()
    assert cli("evaluate", out, "--episodes 1 --wrapper", wrapper).code == 0
    assert (tmp_path / "MARKER").exists()
    assert cli("train dqn --resume", out, "--steps 900 --wrapper", wrapper).code == 0
