"""Plugging environments in: Gymnasium ids, module:Class, factories, env kwargs, and broken envs.

Every broken env gives one clear error naming the env and what is wrong: ``UsageError`` in Python,
exit status 2 and exactly one stderr line (no traceback) on the command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
from rlcourse_helpers import assert_usage_error

import rlcourse
from rlcourse import UsageError, load_results
from rlcourse.environments import registered_id, resolve_env

TAXI = "Taxi-v3" if "Taxi-v3" in gym.registry else "Taxi-v4"  # gymnasium >= 1.3: Taxi-v4 only
MODULE = "rlcourse_test_plugging_envs"

ENV_MODULE = textwrap.dedent(
    '''
    """Envs written by test_plugging.py: one that never ends, and broken ones."""

    import gymnasium as gym
    from gymnasium import spaces


    class Treadmill(gym.Env):
        """Never terminates: the observation cycles through n_states cells, reward -1 a step."""

        metadata = {"render_modes": []}

        def __init__(self, n_states=3):
            self.n_states = n_states
            self.observation_space = spaces.Discrete(n_states)
            self.action_space = spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.position = 0
            return 0, {}

        def step(self, action):
            self.position = (self.position + 1) % self.n_states
            return self.position, -1.0, False, False, {}


    class NanReward(Treadmill):
        def step(self, action):
            return 1, float("nan"), False, False, {}


    class FourTuple(Treadmill):
        def step(self, action):
            return 1, -1.0, True, {}


    class StepRaises(Treadmill):
        def step(self, action):
            raise RuntimeError("the simulator crashed")


    class ResetRaises(Treadmill):
        def reset(self, *, seed=None, options=None):
            raise RuntimeError("no map loaded")


    class NoActionSpace(Treadmill):
        def __init__(self):
            super().__init__()
            self.action_space = None


    class NoObservationSpace(Treadmill):
        def __init__(self):
            super().__init__()
            self.observation_space = None


    def not_an_env():
        return object()
    '''
)


@pytest.fixture
def plug(tmp_path, monkeypatch):
    """The env module above, importable from the user's path, and a working directory."""
    (tmp_path / f"{MODULE}.py").write_text(ENV_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    sys.modules.pop(MODULE, None)
    yield tmp_path
    sys.modules.pop(MODULE, None)


def success_rate(results, agent):
    row = results.summary[(results.summary.agent == agent) & (results.summary.metric == "return")]
    return float(row["mean"].iloc[0])


# -- registered Gymnasium ids ----------------------------------------------------------------------
def test_frozen_lake_q_learning_learns_to_reach_the_goal():
    learner = "greedy:alpha=0.2,initial=1,learner=q-learning,gamma=0.99"  # optimism explores
    results = rlcourse.compare(
        "FrozenLake-v1", [learner, "random"], runs=4, episodes=250, seed=0, progress=False
    )
    assert results.manifest["env"] == "FrozenLake-v1" and results.manifest["x"] == "episode"
    for agent in (learner, "random"):
        returns = results.data[agent]["return"]
        assert returns.shape == (4, 250)
        assert set(np.unique(returns)) <= {0.0, 1.0}  # 1 for reaching the goal
        assert (results.data[agent]["length"] >= 2).all()
        assert (results.data[agent]["length"] <= 100).all()  # FrozenLake's time limit
    assert results.action_values[learner].shape == (4, 16, 4)
    # Final 10% of episodes: the learner reaches the goal far more often than random (~1.5%).
    learned, random = success_rate(results, learner), success_rate(results, "random")
    assert learned > 0.4 and random < 0.1 and learned > random + 0.3, (learned, random)


def test_cliff_walking_with_sarsa_and_q_learning():
    specs = [
        "epsilon-greedy:epsilon=0.1,alpha=0.5,learner=sarsa",
        "epsilon-greedy:epsilon=0.1,alpha=0.5,learner=q-learning",
    ]
    results = rlcourse.compare("CliffWalking-v1", specs, runs=3, episodes=60, progress=False)
    for spec in specs:
        returns, lengths = results.data[spec]["return"], results.data[spec]["length"]
        assert returns.shape == lengths.shape == (3, 60)
        assert (lengths >= 13).all()  # no shorter way from S to G
        # -1 a step, -100 (not -1) for a step onto the cliff: return = -length - 99 * falls.
        falls = (-returns - lengths) / 99
        np.testing.assert_array_equal(falls, np.round(falls))
        assert (falls >= 0).all()
        assert returns[:, -10:].mean() > returns[:, :10].mean()  # it learns
        assert results.action_values[spec].shape == (3, 48, 4)


def test_taxi_with_tabular_agents():
    spec = "epsilon-greedy:epsilon=0.1,alpha=0.5,learner=expected-sarsa,gamma=0.99"
    results = rlcourse.compare(TAXI, [spec, "random"], runs=3, episodes=30, progress=False)
    assert results.manifest["env"] == TAXI
    for agent in (spec, "random"):
        lengths = results.data[agent]["length"]
        assert lengths.shape == (3, 30)
        assert ((lengths >= 1) & (lengths <= 200)).all()  # Taxi's time limit truncates at 200
        assert (results.data[agent]["return"] <= 20).all()
    assert results.action_values[spec].shape == (3, 500, 6)
    assert results.data[spec]["return"][:, -10:].mean() > results.data["random"]["return"].mean()


@pytest.mark.skipif("Taxi-v3" in gym.registry, reason="this gymnasium still registers Taxi-v3")
def test_a_deprecated_id_names_its_successor():
    with pytest.raises(UsageError) as excinfo:
        rlcourse.compare("Taxi-v3", ["random"], runs=1, episodes=1, progress=False)
    assert "Taxi-v4" in str(excinfo.value)


@pytest.mark.parametrize("env", [":Foo", ".relative:Env", "my envs:Env", "my_envs:", "::"])
def test_a_malformed_entry_point_is_one_clear_error_and_imports_nothing(env):
    message = (
        f"env {env!r} is not module:Class (a module path such as my_envs.grid, a colon, then a "
        "class or factory in it)"
    )
    for check in (registered_id, resolve_env):
        with pytest.raises(UsageError) as excinfo:
            check(env)
        assert str(excinfo.value) == message


def test_registered_id_builds_nothing():
    assert registered_id("bandit") == "rlcourse/Bandit-v0"
    assert registered_id("CartPole-v1") == "CartPole-v1"
    assert registered_id("not_a_module_anywhere:Env") is None  # its form is right; not imported
    assert "not_a_module_anywhere" not in sys.modules


def test_cartpole_with_random():
    results = rlcourse.compare("CartPole-v1", ["random"], runs=3, episodes=10, progress=False)
    lengths, returns = results.data["random"]["length"], results.data["random"]["return"]
    assert lengths.shape == (3, 10)
    assert ((lengths >= 1) & (lengths <= 500)).all()
    np.testing.assert_array_equal(returns, lengths)  # +1 a step
    assert results.action_values == {}
    capped = rlcourse.compare(
        "CartPole-v1",
        ["random"],
        runs=3,
        episodes=10,
        env_kwargs={"max_episode_steps": 8},
        progress=False,
    )
    assert (capped.data["random"]["length"] <= 8).all()
    assert (capped.data["random"]["length"] == 8).any()


def test_gridworld_max_episode_steps_from_env_kwargs():
    results = rlcourse.compare(
        "gridworld",
        ["random"],
        runs=4,
        episodes=3,
        env_kwargs={"layout": "four-rooms", "max_episode_steps": 5},
        progress=False,
    )
    np.testing.assert_array_equal(results.data["random"]["length"], np.full((4, 3), 5))


# -- envs the user brings --------------------------------------------------------------------------
def test_an_env_factory_with_kwargs_and_a_time_limit(plug):
    from rlcourse_test_plugging_envs import Treadmill

    def treadmill(n_states=3):
        return Treadmill(n_states)

    results = rlcourse.compare(
        treadmill,
        ["greedy:learner=sarsa", "random"],
        runs=2,
        episodes=4,
        env_kwargs={"n_states": 5, "max_episode_steps": 6},
        progress=False,
    )
    assert results.manifest["env"] == "treadmill"
    assert results.manifest["env_kwargs"] == {"n_states": 5, "max_episode_steps": 6}
    for agent in ("greedy:learner=sarsa", "random"):
        np.testing.assert_array_equal(results.data[agent]["length"], np.full((2, 4), 6))
        np.testing.assert_array_equal(results.data[agent]["return"], np.full((2, 4), -6.0))
    assert results.action_values["greedy:learner=sarsa"].shape == (2, 5, 2)  # n_states reached it


def test_module_class_with_max_episode_steps_truncates_a_never_ending_env(plug):
    spec = f"{MODULE}:Treadmill"
    results = rlcourse.compare(
        spec,
        ["epsilon-greedy:learner=q-learning", "random"],
        runs=3,
        episodes=4,
        env_kwargs={"max_episode_steps": 7, "n_states": 4},
        progress=False,
    )
    assert results.manifest["env"] == spec
    for agent in results.agents:
        np.testing.assert_array_equal(results.data[agent]["length"], np.full((3, 4), 7))
        np.testing.assert_array_equal(results.data[agent]["return"], np.full((3, 4), -7.0))
    # Truncation is not termination: Q-learning bootstraps, so values fall below -1.
    assert results.action_values["epsilon-greedy:learner=q-learning"].min() < -1.0


def test_cli_env_kwargs_reach_a_module_class(plug, cli):
    out = plug / "out"
    result = cli(
        f"compare {MODULE}:Treadmill --agents greedy random --episodes 3 --runs 2",
        "--env-kwargs max_episode_steps=7 n_states=5 --out",
        out,
    )
    assert result.code == 0, result.err
    saved = load_results(out)
    assert saved.manifest["env"] == f"{MODULE}:Treadmill"
    assert saved.manifest["env_kwargs"] == {"max_episode_steps": 7, "n_states": 5}
    for agent in ("greedy", "random"):
        np.testing.assert_array_equal(saved.data[agent]["length"], np.full((2, 3), 7))
    assert saved.action_values["greedy"].shape == (2, 5, 2)
    assert "summary" in result.out


def test_cli_env_kwargs_reach_a_gymnasium_id(tmp_path, cli):
    out = tmp_path / "lake"
    result = cli(
        "compare FrozenLake-v1 --agents 'epsilon-greedy:learner=q-learning' --episodes 4",
        "--runs 2 --env-kwargs map_name=8x8 is_slippery=false --out",
        out,
    )
    assert result.code == 0, result.err
    saved = load_results(out)
    assert saved.manifest["env_kwargs"] == {"map_name": "8x8", "is_slippery": False}
    assert saved.action_values["epsilon-greedy:learner=q-learning"].shape == (2, 64, 4)  # 8x8 map
    assert saved.data["epsilon-greedy:learner=q-learning"]["length"].shape == (2, 4)
    assert (out / "return.png").is_file() and (out / "length.png").is_file()


# -- broken envs: one clear error ------------------------------------------------------------------
BROKEN = {  # class or factory name -> what the message must say besides the env's name
    "NanReward": "returned a non-finite reward nan (run 0)",
    "FourTuple": "failed in step: ValueError: not enough values to unpack (expected 5, got 4)",
    "StepRaises": "failed in step: RuntimeError: the simulator crashed",
    "ResetRaises": "failed in reset: RuntimeError: no map loaded",
    "NoActionSpace": "action space does not inherit from `gymnasium.spaces.Space`",
    "NoObservationSpace": "observation space does not inherit from `gymnasium.spaces.Space`",
    "not_an_env": "returned an object of type 'object', not a gymnasium.Env",
}


# gymnasium's passive checker warns about these before the loop refuses them (see the last test).
quiet_checker = pytest.mark.filterwarnings(
    "ignore:.*(The reward is a NaN value|old step API):UserWarning",
    "ignore:.*(The reward is a NaN value|old step API):DeprecationWarning",
)


@quiet_checker
@pytest.mark.parametrize("name", BROKEN)
def test_broken_env_python_error_names_the_env_and_the_fault(plug, name):
    import rlcourse_test_plugging_envs as module

    for env, label in ((f"{MODULE}:{name}", f"{MODULE}:{name}"), (getattr(module, name), name)):
        with pytest.raises(UsageError) as excinfo:
            rlcourse.compare(env, ["random"], runs=2, episodes=2, progress=False)
        message = str(excinfo.value)
        assert label in message and BROKEN[name] in message, message
        assert "\n" not in message


@quiet_checker
@pytest.mark.parametrize("name", BROKEN)
def test_broken_env_cli_exit_2_and_one_line(plug, cli, name):
    spec = f"{MODULE}:{name}"
    with pytest.raises(UsageError) as excinfo:
        rlcourse.compare(spec, ["random"], runs=2, episodes=2, progress=False)
    out = plug / "out"
    result = cli(f"compare {spec} --agents random --episodes 2 --runs 2 --out", out)
    line = assert_usage_error(result)
    assert line == f"rlcourse compare: error: {excinfo.value}"
    assert result.out == ""
    assert not out.exists()  # nothing written


def test_greedy_on_cartpole_names_the_agents_that_fit(tmp_path, cli):
    with pytest.raises(UsageError) as excinfo:
        rlcourse.compare("CartPole-v1", ["greedy"], runs=1, episodes=1, progress=False)
    message = str(excinfo.value)
    assert message.startswith("agent 'greedy' needs discrete observations (Discrete, MultiDiscrete")
    assert "Box(shape=(4,), dtype=float32)" in message
    assert message.endswith("agents that fit: random, dqn")
    result = cli("compare CartPole-v1 --agents greedy --episodes 2 --runs 2 --out", tmp_path / "o")
    assert assert_usage_error(result) == f"rlcourse compare: error: {message}"


def run_console(plug, name):
    """The real ``python -m rlcourse`` (warnings go to stderr as they would for a user)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RLCOURSE_DEBUG", "PYTHONWARNINGS")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plug), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "rlcourse", "compare", f"{MODULE}:{name}", "--agents", "random"]
    argv += ["--episodes", "2", "--runs", "2", "--out", str(plug / "out")]
    return subprocess.run(argv, capture_output=True, text=True, cwd=plug, env=env, timeout=120)


def test_console_step_error_is_one_line(plug):
    proc = run_console(plug, "StepRaises")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"rlcourse compare: error: env {MODULE}:StepRaises " + BROKEN["StepRaises"]
    ]


@pytest.mark.parametrize("name", ["NanReward", "FourTuple"])
def test_console_nan_and_old_step_api_errors_are_one_line(plug, name):
    proc = run_console(plug, name)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"rlcourse compare: error: env {MODULE}:{name} {BROKEN[name]}"
    ]


PLUG_PACKAGE = textwrap.dedent(
    '''
    """Registers plug/MyEnv-v0 on import (written by test_plugging.py)."""

    import pathlib

    import gymnasium as gym

    pathlib.Path(__file__).with_name("imported").touch()
    if "plug/MyEnv-v0" not in gym.registry:
        gym.register("plug/MyEnv-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv",
                     max_episode_steps=20)
    '''
)


def _plug_package(folder, name: str):
    """Write package ``name`` into ``folder``; its import registers plug/MyEnv-v0 (and marks it)."""
    package = folder / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(PLUG_PACKAGE)
    return package / "imported"


@pytest.fixture
def unregistered(monkeypatch):
    """plug/MyEnv-v0 is not registered before the test nor after it; its packages forgotten."""
    names = ("rlcourse_plug_site", "rlcourse_plug_here")
    yield
    gym.registry.pop("plug/MyEnv-v0", None)
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture
def site_package(tmp_path, monkeypatch, unregistered):
    """An installed package (in a site dir on sys.path) whose import registers plug/MyEnv-v0."""
    site = tmp_path / "site-packages"
    marker = _plug_package(site, "rlcourse_plug_site")
    monkeypatch.syspath_prepend(str(site))
    return marker


def _unknown_plug_line() -> str:
    from envs import ALIASES

    aliases = ", ".join(ALIASES)
    return (
        f"unknown env 'plug/MyEnv-v0' (aliases: {aliases}; any registered Gymnasium id; or "
        "module:Class; another package's id: --gym-package PACKAGE, or PACKAGE:ID)"
    )


def test_gym_package_registers_another_packages_ids(cli, tmp_path, site_package):
    out = tmp_path / "plug"
    line = assert_usage_error(cli("compare plug/MyEnv-v0 --agents random --episodes 2 --runs 1 "
                                  "--out", out))  # fmt: skip
    assert line == f"rlcourse compare: error: {_unknown_plug_line()}"
    assert not site_package.exists() and not out.exists()
    result = cli("compare plug/MyEnv-v0 --gym-package rlcourse_plug_site --agents random "
                 "--episodes 2 --runs 1 --out", out)  # fmt: skip
    assert result.code == 0, result.err
    assert site_package.exists()
    assert load_results(out).manifest["env"] == "plug/MyEnv-v0"
    train = cli("train dqn plug/MyEnv-v0 --gym-package rlcourse_plug_site --dry-run --out",
                tmp_path / "dqn")  # fmt: skip
    assert train.code == 0, train.err


def test_module_id_form_imports_the_package_first(site_package):
    source = resolve_env("rlcourse_plug_site:plug/MyEnv-v0")
    assert site_package.exists()
    assert source.make_one().spec.id == "plug/MyEnv-v0"


@pytest.mark.parametrize(
    "command",
    [
        "compare CartPole-v1 --agents random --episodes 1 --runs 1 --out {out}",
        "train dqn CartPole-v1 --out {out}",
        "train dqn CartPole-v1 --dry-run --out {out}",
        "evaluate {out}",
        "sweep {toml} --out {out}",
        "sweep {toml} --dry-run --out {out}",
    ],
)
def test_an_unknown_gym_package_is_one_line_and_nothing_is_written(cli, tmp_path, command):
    toml = tmp_path / "s.toml"
    toml.write_text('[sweep]\nruns = 1\nsteps = 2\n[[env]]\nid = "bandit"\n'
                    '[[agent]]\nname = "random"\n')  # fmt: skip
    out = tmp_path / "out"
    argv = command.format(out=out, toml=toml) + " --gym-package rlcourse_no_such_package"
    line = assert_usage_error(cli(argv))
    assert line.endswith(
        "error: --gym-package 'rlcourse_no_such_package': no installed package of that name "
        "(pip install it; one in the working folder is not imported)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_a_package_in_the_working_folder_is_never_imported(cli, tmp_path, monkeypatch,
                                                          unregistered):  # fmt: skip
    here = tmp_path / "here"
    marker = _plug_package(here, "rlcourse_plug_here")
    monkeypatch.chdir(here)
    monkeypatch.syspath_prepend(str(here))  # as `python -m` puts the working folder first
    line = assert_usage_error(
        cli(
            "compare plug/MyEnv-v0 --gym-package rlcourse_plug_here --agents random --episodes 1 "
            "--out",
            tmp_path / "out",
        )  # fmt: skip
    )
    assert "--gym-package 'rlcourse_plug_here': no installed package of that name" in line
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_sweep_workers_import_the_files_gym_packages(cli, tmp_path, site_package):
    from rlcourse.sweep.config import parse_config
    from rlcourse.sweep.units import plan, run_unit

    text = ('[sweep]\nruns = 2\nepisodes = 1\ngym_packages = ["rlcourse_plug_site"]\n'
            '[[env]]\nid = "plug/MyEnv-v0"\n[[agent]]\nname = "random"\n')  # fmt: skip
    (tmp_path / "s.toml").write_text(text)
    dry = cli("sweep", tmp_path / "s.toml", "--dry-run --out", tmp_path / "out")
    assert dry.code == 0, dry.err
    assert not site_package.exists()  # a dry run checks that it is installed, imports nothing
    (unit,) = plan(parse_config(text))
    assert unit.gym_packages == ("rlcourse_plug_site",)
    arrays, _ = run_unit(unit)  # what each worker runs: it imports the package first
    assert site_package.exists() and arrays["return"].shape[0] == 2
    result = cli("sweep", tmp_path / "s.toml", "--workers 1 --no-plots --out", tmp_path / "out")
    assert result.code == 0, result.err
    recorded = json.loads((tmp_path / "out" / "sweep.json").read_text())["config"]
    assert recorded["gym_packages"] == ["rlcourse_plug_site"]


TRAIN_PLUG = ("train dqn plug/MyEnv-v0 --gym-package rlcourse_plug_site --steps 60 --eval-every 30 "
              "--eval-episodes 1 --set learning_starts=20 hidden=8 --out")  # fmt: skip


def _forget_plug(marker) -> None:
    """As a new process starts: plug/MyEnv-v0 unregistered, its package not imported."""
    gym.registry.pop("plug/MyEnv-v0", None)
    sys.modules.pop("rlcourse_plug_site", None)
    marker.unlink()


def test_a_resume_imports_the_packages_the_run_was_started_with(cli, tmp_path, site_package):
    out = tmp_path / "run"
    assert cli(TRAIN_PLUG, out).code == 0
    settings = json.loads((out / "metrics.json").read_text())["settings"]
    assert settings["gym_packages"] == ["rlcourse_plug_site"]
    _forget_plug(site_package)
    result = cli("train dqn --resume", out, "--steps 90")  # no --gym-package given again
    assert result.code == 0, result.err
    assert site_package.exists()
    assert json.loads((out / "metrics.json").read_text())["steps"] == 90


@pytest.mark.parametrize(
    ("saved", "expected"),
    [
        (["rlcourse_no_such_package"],
         "--gym-package 'rlcourse_no_such_package': no installed package of that name (pip "
         "install it; one in the working folder is not imported)"),
        (["os; import this"], "--gym-package 'os; import this' is not a package name (such as "
                              "highway_env)"),
        (["rlcourse_plug_here"],
         "--gym-package 'rlcourse_plug_here': no installed package of that name (pip install it; "
         "one in the working folder is not imported)"),
    ],
    ids=["not-installed", "not-a-name", "working-folder"],
)  # fmt: skip
def test_a_resume_checks_the_saved_package_names_as_given_ones(
    cli, tmp_path, site_package, monkeypatch, saved, expected
):
    import torch

    out = tmp_path / "run"
    assert cli(TRAIN_PLUG, out).code == 0
    state = torch.load(out / "resume.pt", weights_only=True)
    state["settings"]["gym_packages"] = saved
    torch.save(state, out / "resume.pt")
    here = tmp_path / "here"
    marker = _plug_package(here, "rlcourse_plug_here")
    monkeypatch.chdir(here)
    monkeypatch.syspath_prepend(str(here))  # as `python -m` puts the working folder first
    before = sorted(p.name for p in out.iterdir())
    line = assert_usage_error(cli("train dqn --resume", out, "--steps 90"))
    assert (
        line == f"rlcourse train: error: {out / 'resume.pt'} names a package to import: {expected}"
    )
    assert not marker.exists()
    assert sorted(p.name for p in out.iterdir()) == before


def test_compare_workers_import_the_gym_packages(site_package):
    """A comparison's run on a worker (a Ray task has imported nothing) imports them first."""
    from rlcourse.comparison_workers import RunUnit, run_unit

    unit = RunUnit("plug/MyEnv-v0", {}, (), "dqn:learning_starts=5,hidden=8", 0, 2, 10, None, 0,
                   None, None, 1, ("rlcourse_plug_site",))  # fmt: skip
    arrays, _ = run_unit(unit)
    assert site_package.exists() and arrays["reward"].shape == (1, 10)
