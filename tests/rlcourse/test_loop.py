"""The run loop and compare: seeding, common random numbers, episodes, envs, real transitions."""

from __future__ import annotations

import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
from rlcourse_helpers import CountingEnv, RecordingAgent

import agents
import rlcourse
from rlcourse import UsageError
from rlcourse.environments import resolve_env
from rlcourse.loop import run as run_loop


def _arrays(res):
    return {(a, m): v for a, per in res.data.items() for m, v in per.items()}


def assert_same(res1, res2):
    one, two = _arrays(res1), _arrays(res2)
    assert one.keys() == two.keys()
    for key in one:
        np.testing.assert_array_equal(one[key], two[key], err_msg=str(key))


# -- determinism and common random numbers ---------------------------------------------------------
BANDIT_AGENTS = ["epsilon-greedy:epsilon=0.1", "gradient-bandit:alpha=0.1", "ucb:c=2", "random"]


def test_same_seed_same_results_different_seed_different():
    kwargs = dict(runs=10, steps=40, progress=False)
    first = rlcourse.compare("bandit", BANDIT_AGENTS, seed=3, **kwargs)
    again = rlcourse.compare("bandit", BANDIT_AGENTS, seed=3, **kwargs)
    other = rlcourse.compare("bandit", BANDIT_AGENTS, seed=4, **kwargs)
    assert_same(first, again)
    for agent in BANDIT_AGENTS:
        assert not np.array_equal(first.data[agent]["reward"], other.data[agent]["reward"])
    assert first.summary.equals(again.summary)


def test_same_seed_same_episodes_on_a_gymnasium_env():
    kwargs = dict(runs=4, episodes=5, progress=False)
    first = rlcourse.compare("FrozenLake-v1", ["random"], seed=11, **kwargs)
    assert_same(first, rlcourse.compare("FrozenLake-v1", ["random"], seed=11, **kwargs))
    other = rlcourse.compare("FrozenLake-v1", ["random"], seed=12, **kwargs)
    assert not np.array_equal(first.data["random"]["length"], other.data["random"]["length"])


def test_runs_are_independent_problems():
    res = rlcourse.compare("bandit", ["greedy"], runs=6, steps=20, progress=False)
    rewards = res.data["greedy"]["reward"]
    assert len({row.tobytes() for row in rewards}) == 6


def test_results_of_an_agent_do_not_depend_on_its_neighbours():
    kwargs = dict(runs=10, steps=40, seed=5, progress=False)
    alone = rlcourse.compare("bandit", ["greedy"], **kwargs)
    together = rlcourse.compare("bandit", ["greedy", "ucb"], **kwargs)
    reversed_ = rlcourse.compare(
        "bandit", ["ucb", "epsilon-greedy:epsilon=0.5", "greedy"], **kwargs
    )
    for res in (together, reversed_):
        for metric in ("reward", "optimal_action"):
            np.testing.assert_array_equal(res.data["greedy"][metric], alone.data["greedy"][metric])
    np.testing.assert_array_equal(together.data["ucb"]["reward"], reversed_.data["ucb"]["reward"])


def test_all_agents_face_the_same_problems():
    # Two agents that always pull arm 0 face the same bandits, so they get the same rewards.
    pull_zero = {"a": RecordingAgent(10, constant=0), "b": RecordingAgent(10, constant=0)}
    res = rlcourse.compare("bandit", pull_zero, runs=8, steps=5, progress=False)
    np.testing.assert_array_equal(res.data["a"]["reward"], res.data["b"]["reward"])


def test_duplicate_specs_are_relabelled_and_identical():
    res = rlcourse.compare("bandit", ["greedy", "greedy"], runs=5, steps=10, progress=False)
    assert res.agents == ["greedy", "greedy (2)"]
    np.testing.assert_array_equal(res.data["greedy"]["reward"], res.data["greedy (2)"]["reward"])


def test_sync_env_seeds_run_i_with_seed_plus_i():
    # A Python (non-native) env runs in a SyncVectorEnv: run i is seeded with seed + i.
    def pulls(seed):
        agent = RecordingAgent(10, constant=0)
        res = rlcourse.compare(
            "envs.bandit:BanditEnv", {"zero": agent}, runs=3, steps=6, seed=seed, progress=False
        )
        return res.data["zero"]["reward"]

    batch = pulls(20)
    for i in range(3):
        np.testing.assert_array_equal(batch[i], pulls(20 + i)[0])


# -- what compare records --------------------------------------------------------------------------
def test_step_budget_shapes_and_manifest():
    res = rlcourse.compare(
        "bandit", ["greedy", "epsilon-greedy:epsilon=0.1"], runs=7, steps=13, seed=2, progress=False
    )
    assert res.agents == ["greedy", "epsilon-greedy:epsilon=0.1"]
    for per_agent in res.data.values():
        assert list(per_agent) == ["reward", "optimal_action"]
        assert per_agent["reward"].shape == (7, 13)
        assert np.issubdtype(per_agent["reward"].dtype, np.floating)
        assert per_agent["optimal_action"].shape == (7, 13)
        assert per_agent["optimal_action"].dtype == bool
    m = res.manifest
    assert m["env"] == "rlcourse/Bandit-v0"
    assert m["agents"] == res.agents
    assert (m["runs"], m["steps"], m["episodes"], m["seed"], m["x"]) == (7, 13, None, 2, "step")
    assert m["env_kwargs"] == {}


def test_labels_from_a_mapping_and_agent_objects():
    env = gym.make("rlcourse/Bandit-v0")
    agent = agents.make("ucb:c=1", env.observation_space, env.action_space)
    res = rlcourse.compare(
        "bandit", {"mine": agent, "book": "ucb:c=1"}, runs=4, steps=10, progress=False
    )
    assert res.agents == ["mine", "book"]
    np.testing.assert_array_equal(res.data["mine"]["reward"], res.data["book"]["reward"])


def test_episode_mode_on_frozen_lake():
    res = rlcourse.compare("FrozenLake-v1", ["random"], runs=12, episodes=15, progress=False)
    returns, lengths = res.data["random"]["return"], res.data["random"]["length"]
    assert list(res.data["random"]) == ["return", "length"]
    assert returns.shape == lengths.shape == (12, 15)
    assert set(np.unique(returns)) <= {0.0, 1.0}
    assert lengths.min() >= 1
    assert lengths.max() <= 100  # FrozenLake-v1's time limit
    assert res.manifest["x"] == "episode"
    assert (res.manifest["episodes"], res.manifest["steps"]) == (15, None)


def test_episode_mode_with_a_box_observation_env():
    res = rlcourse.compare("CartPole-v1", ["random"], runs=3, episodes=4, progress=False)
    returns, lengths = res.data["random"]["return"], res.data["random"]["length"]
    assert lengths.shape == (3, 4)
    assert ((lengths >= 1) & (lengths <= 500)).all()
    np.testing.assert_array_equal(returns, lengths)  # CartPole pays 1 per step


def test_episodes_end_by_truncation_too():
    # The bandit never terminates; its registered time limit (1000 steps) ends its episodes.
    res = rlcourse.compare("bandit", ["greedy"], runs=2, episodes=2, progress=False)
    assert (res.data["greedy"]["length"] == 1000).all()


def test_step_mode_runs_through_episode_ends():
    res = rlcourse.compare(CountingEnv, ["random"], runs=2, steps=10, progress=False)
    np.testing.assert_array_equal(res.data["random"]["reward"], np.ones((2, 10)))


# -- environments a user brings --------------------------------------------------------------------
def test_a_python_env_factory():
    res = rlcourse.compare(CountingEnv, ["random", "greedy"], runs=3, episodes=4, progress=False)
    assert res.manifest["env"] == "CountingEnv"
    for agent in ("random", "greedy"):
        np.testing.assert_array_equal(res.data[agent]["length"], np.full((3, 4), 3))
        np.testing.assert_array_equal(res.data[agent]["return"], np.full((3, 4), 3.0))

    def make_counting(length=3):
        return CountingEnv(length=length)

    res = rlcourse.compare(
        make_counting, ["random"], runs=2, episodes=3, env_kwargs={"length": 5}, progress=False
    )
    np.testing.assert_array_equal(res.data["random"]["length"], np.full((2, 3), 5))
    assert res.manifest["env_kwargs"] == {"length": 5}


TINY_ENV = textwrap.dedent(
    '''
    """A two-state chain written by a test."""

    import gymnasium as gym
    from gymnasium import spaces


    class Chain(gym.Env):
        metadata = {"render_modes": []}

        def __init__(self, goal=2):
            self.goal = goal
            self.observation_space = spaces.Discrete(goal + 1)
            self.action_space = spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.position = 0
            return 0, {}

        def step(self, action):
            self.position += 1
            done = self.position >= self.goal
            return self.position, float(done), done, False, {"optimal_action": action == 1}
    '''
)


@pytest.fixture
def tiny_env_module(tmp_path, monkeypatch):
    name = "rlcourse_test_tiny_chain"
    (tmp_path / f"{name}.py").write_text(TINY_ENV)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_a_module_class_entry_point(tiny_env_module):
    spec = f"{tiny_env_module}:Chain"
    res = rlcourse.compare(
        spec,
        ["greedy", "epsilon-greedy:epsilon=0.2"],
        runs=3,
        episodes=4,
        env_kwargs={"goal": 3},
        progress=False,
    )
    assert res.manifest["env"] == spec
    assert res.manifest["env_kwargs"] == {"goal": 3}
    np.testing.assert_array_equal(res.data["greedy"]["length"], np.full((3, 4), 3))
    np.testing.assert_array_equal(res.data["greedy"]["return"], np.ones((3, 4)))

    steps = rlcourse.compare(spec, ["random"], runs=4, steps=12, progress=False)
    assert list(steps.data["random"]) == ["reward", "optimal_action"]
    assert steps.data["random"]["optimal_action"].shape == (4, 12)


def test_bad_entry_points(tiny_env_module):
    with pytest.raises(UsageError, match="cannot import"):
        rlcourse.compare("no_such_module_xyz:Env", ["random"], runs=1, steps=1, progress=False)
    with pytest.raises(UsageError, match="has no"):
        rlcourse.compare(f"{tiny_env_module}:Nope", ["random"], runs=1, steps=1, progress=False)
    with pytest.raises(UsageError):
        rlcourse.compare(
            f"{tiny_env_module}:Chain",
            ["random"],
            runs=1,
            steps=1,
            env_kwargs={"colour": "red"},
            progress=False,
        )


# -- the agent learns only from real transitions ---------------------------------------------------
def _check_real_transitions(agent: RecordingAgent, runs: int):
    assert agent.log, "the agent was never updated"
    for t, tr in enumerate(agent.log):
        np.testing.assert_array_equal(tr.next_obs, tr.obs + 1, err_msg=f"update {t}")
        np.testing.assert_array_equal(agent.acted_on[t], tr.obs)
        assert tr.obs.shape == (runs,)
        if t + 1 < len(agent.log):
            done = tr.terminated | tr.truncated
            following = agent.log[t + 1].obs
            # A run whose episode ended starts the next from the reset observation 0 ...
            np.testing.assert_array_equal(following[done], 0)
            # ... and the others carry on from where they were.
            np.testing.assert_array_equal(following[~done], tr.next_obs[~done])


@pytest.mark.parametrize("budget", [{"steps": 25}, {"episodes": 6}])
def test_no_update_from_a_finished_episode(budget):
    agent = RecordingAgent(2)
    rlcourse.compare(CountingEnv, {"rec": agent}, runs=4, progress=False, **budget)
    _check_real_transitions(agent, 4)
    assert any(tr.terminated.any() for tr in agent.log)


def test_no_update_from_a_finished_episode_with_staggered_ends_and_truncation():
    def make():  # action 1 ends an episode early; a time limit of 4 truncates length-6 episodes
        return gym.wrappers.TimeLimit(CountingEnv(length=6, stop_action=1), max_episode_steps=4)

    agent = RecordingAgent(2)
    res = rlcourse.compare(make, {"rec": agent}, runs=5, episodes=8, seed=1, progress=False)
    _check_real_transitions(agent, 5)
    assert any(tr.truncated.any() for tr in agent.log)
    assert any((tr.terminated != tr.terminated[0]).any() for tr in agent.log)  # staggered
    lengths = res.data["rec"]["length"]
    assert ((lengths >= 1) & (lengths <= 4)).all()
    # Episode lengths are what the recorded transitions say.
    done = np.array([tr.terminated | tr.truncated for tr in agent.log])
    for run in range(5):
        ends = np.flatnonzero(done[:, run]) + 1
        np.testing.assert_array_equal(np.diff(ends, prepend=0)[:8], lengths[run])


def test_native_vector_env_truncation_is_not_a_fake_transition():
    # The bandit truncates after its registered 1000 steps; the step after must be a real pull
    # (a next-step autoreset would return reward 0 and ignore the action).
    agent = RecordingAgent(10)
    res = rlcourse.compare("bandit", {"rec": agent}, runs=6, steps=1003, progress=False)
    truncated = np.array([tr.truncated for tr in agent.log])
    assert truncated[999].all() and not truncated[:999].any() and not truncated[1000:].any()
    rewards = res.data["rec"]["reward"]
    assert (rewards[:, 1000] != 0).all()
    np.testing.assert_allclose(agent.log[1000].reward, rewards[:, 1000], rtol=1e-6)


# -- env_kwargs ------------------------------------------------------------------------------------
def test_env_kwargs_are_passed_through():
    kwargs = dict(runs=40, steps=25, seed=0, progress=False)
    base = rlcourse.compare("bandit", ["random"], **kwargs)
    shifted = rlcourse.compare("bandit", ["random"], env_kwargs={"value_mean": 4}, **kwargs)
    assert shifted.manifest["env_kwargs"] == {"value_mean": 4}
    base_mean = base.data["random"]["reward"].mean()
    shifted_mean = shifted.data["random"]["reward"].mean()
    assert abs(base_mean) < 0.5
    assert shifted_mean - base_mean == pytest.approx(4.0, abs=0.05)
    assert abs(shifted_mean - 4.0) < 0.5


def test_env_kwargs_change_the_spaces():
    res = rlcourse.compare(
        "bandit", ["random"], runs=100, steps=4, env_kwargs={"k": 3}, progress=False
    )
    assert res.data["random"]["optimal_action"].mean() == pytest.approx(1 / 3, abs=0.1)
    assert resolve_env("bandit", {"k": 3}).make_one().action_space.n == 3


# -- refusals --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "agent_specs", "budget", "match"),
    [
        ("no-such-env", ["greedy"], {"steps": 5}, "unknown env"),
        ("bandit", ["no-such-agent"], {"steps": 5}, "unknown agent"),
        ("bandit", ["epsilon-greedy:epsilon=1.5"], {"steps": 5}, "epsilon"),
        ("bandit", ["epsilon-greedy:epsilon=-0.1"], {"steps": 5}, "epsilon"),
        ("bandit", ["epsilon-greedy:epsilon=lots"], {"steps": 5}, "epsilon"),
        ("bandit", ["ucb:c=-1"], {"steps": 5}, "c"),
        ("CartPole-v1", ["greedy"], {"steps": 5}, "random"),
        ("bandit", [], {"steps": 5}, "agent"),
        ("bandit", ["greedy"], {"steps": 0}, "steps"),
        ("bandit", ["greedy"], {"steps": -5}, "steps"),
        ("bandit", ["greedy"], {"steps": 2.5}, "steps"),
        ("bandit", ["greedy"], {"episodes": -1}, "episodes"),
        ("bandit", ["greedy"], {"steps": 5, "runs": 0}, "runs"),
        ("bandit", ["greedy"], {"steps": 5, "runs": -3}, "runs"),
        ("bandit", ["greedy"], {}, "steps or episodes"),
        ("bandit", ["greedy"], {"steps": 5, "episodes": 5}, "steps or episodes"),
    ],
)
def test_compare_refuses_bad_input(env, agent_specs, budget, match):
    budget.setdefault("runs", 2)
    with pytest.raises(UsageError, match=match):
        rlcourse.compare(env, agent_specs, progress=False, **budget)


def test_compare_refuses_bad_env_kwargs():
    with pytest.raises(UsageError, match="value_men"):
        rlcourse.compare("bandit", ["greedy"], runs=2, steps=2, env_kwargs={"value_men": 4})
    with pytest.raises(UsageError):
        rlcourse.compare("bandit", ["greedy"], runs=2, steps=2, env_kwargs={"k": 0})


def test_a_mismatch_names_the_agents_that_fit():
    with pytest.raises(UsageError) as excinfo:
        rlcourse.compare("CartPole-v1", ["gradient-bandit"], runs=1, steps=1, progress=False)
    message = str(excinfo.value)
    assert "gradient-bandit" in message and "random" in message and "Discrete" in message


def test_run_directly():
    source = resolve_env("bandit")
    env = source.make_one()
    agent = agents.make("greedy", env.observation_space, env.action_space)
    metrics = rlcourse.run(source, agent, runs=3, steps=7, seed=1, progress=False)
    assert set(metrics) == {"reward", "optimal_action"}
    assert metrics["reward"].shape == (3, 7)
    again = rlcourse.run(source, agent, runs=3, steps=7, seed=1, progress=False)
    np.testing.assert_array_equal(metrics["reward"], again["reward"])  # reset() forgets


def test_callbacks_see_every_step_and_episode_and_can_stop_the_loop():
    source = resolve_env(lambda: CountingEnv(length=3))
    seen = []

    def note(step):
        seen.append((step.t, step.done.tolist(), step.episode_return.tolist()))
        return step.t == 5  # stop after the fifth step

    metrics = rlcourse.run(source, RecordingAgent(2), runs=2, steps=100, callbacks=[note],
                           progress=False)  # fmt: skip
    assert [t for t, _, _ in seen] == [1, 2, 3, 4, 5]
    assert seen[2] == (3, [True, True], [3.0, 3.0])  # the return of the episode that just ended
    assert seen[3][2] == [1.0, 1.0]  # a new episode after the loop's reset
    assert metrics["reward"].shape == (2, 5)  # the steps taken, not the budget


def test_every_callback_runs_at_the_step_one_of_them_stops():
    source = resolve_env("bandit")
    calls = []
    rlcourse.run(source, RecordingAgent(10), runs=1, steps=10, progress=False,
                 callbacks=[lambda step: True, lambda step: calls.append(step.t)])  # fmt: skip
    assert calls == [1]


# -- resumable runs --------------------------------------------------------------------------------
class ObsPolicy:
    """Pushes CartPole's cart towards the pole's lean (the action depends on the observation)."""

    def reset(self, n_runs, rng):
        pass

    def act(self, obs):
        return (np.asarray(obs)[:, -2] > 0).astype(np.int64)

    def update(self, *transition):
        pass


class NoisyEnv(gym.Env):
    """Random start and random episode ends, all drawn from np_random (a test of the restore)."""

    observation_space = gym.spaces.Box(-10, 10, (2,))
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return self.x, {}

    def step(self, action):
        self.x = (self.x + self.np_random.normal(0, 0.1, 2) - action).astype(np.float32) % 3 - 1
        return self.x, float(self.x[0]), bool(self.np_random.random() < 0.05), False, {}


def _trajectory(source, steps, **kwargs):
    seen, positions = [], {}

    def record(step):
        seen.append((step.t, step.next_obs.copy(), float(step.reward[0]), bool(step.done[0])))
        positions[step.t] = step.position()

    run_loop(source, ObsPolicy(), runs=1, steps=steps, seed=5, progress=False, callbacks=[record],
        **kwargs)  # fmt: skip
    return seen, positions


@pytest.mark.parametrize("env", ["CartPole-v1", NoisyEnv])
def test_a_resumed_run_goes_on_exactly_as_the_uninterrupted_one(env):
    from rlcourse.checkpoints import single_envs

    source = single_envs(resolve_env(env))
    full, positions = _trajectory(source, 400, resumable=True)
    ends = [t for t, _, _, done in full if done]
    assert len(ends) >= 2  # the positions below include a fresh and a later episode
    for t in (1, 17, ends[0], ends[0] + 1, ends[1] + 3, 399):
        rest, _ = _trajectory(source, 400, resume=positions[t])
        assert [r[0] for r in rest] == list(range(t + 1, 401))
        for (_, obs, reward, done), (_, obs2, reward2, done2) in zip(full[t:], rest, strict=True):
            np.testing.assert_array_equal(obs, obs2)
            assert (reward, done) == (reward2, done2)


def test_a_position_survives_a_checkpoint_file(tmp_path):
    import torch

    from rlcourse.checkpoints import single_envs
    from rlcourse.loop import Position

    source = single_envs(resolve_env(NoisyEnv))
    _, positions = _trajectory(source, 60, resumable=True)
    torch.save(positions[50].as_dict(), tmp_path / "p.pt")
    back = Position.from_dict(torch.load(tmp_path / "p.pt", weights_only=True))
    assert back.as_dict() == positions[50].as_dict()


def test_resumable_runs_are_refused_where_they_cannot_be_exact():
    source = resolve_env("CartPole-v1")
    with pytest.raises(UsageError, match="a resumable run is one run with a step budget"):
        run_loop(source, ObsPolicy(), runs=2, steps=10, resumable=True)
    with pytest.raises(UsageError, match="a resumable run is one run with a step budget"):
        run_loop(source, ObsPolicy(), runs=1, episodes=2, resumable=True)
    _, positions = _trajectory(resolve_env("CartPole-v1"), 10, resumable=True)
    with pytest.raises(UsageError, match="already at step 10 of 10; nothing to resume"):
        run_loop(source, ObsPolicy(), runs=1, steps=10, resume=positions[10])


def test_position_needs_a_resumable_run():
    with pytest.raises(ValueError, match="resumable=True"):
        _trajectory(resolve_env("CartPole-v1"), 3)


def test_compare_refuses_what_will_not_fit_before_any_run(monkeypatch):
    import rlcourse.memory

    monkeypatch.setattr(rlcourse.memory, "available_bytes", lambda: 10_000_000)
    with pytest.raises(UsageError) as refused:
        rlcourse.compare("CartPole-v1", ["dqn", "random"], runs=30, steps=1000, progress=False)
    # 30 runs × 100 000 transitions × 46 bytes; results (2 agents + a copy) × 30 runs × 1000
    # steps × 5 bytes; 30 runs × 67 586 parameters × 4 bytes × 6 copies
    assert str(refused.value) == (
        "needs about 188.3 MB (results 450.0 kB, analysis 944.0 kB, envs 242.9 kB, replay buffers "
        "138.0 MB, networks 48.7 MB, agent temporaries 1.9 kB) but 10.0 MB is available; "
        "lower the runs, the budget, or the sizes in the agents' or the env's settings"
    )


# -- where compare lives ---------------------------------------------------------------------------
def test_rlcourse_compare_is_the_function_after_its_module_is_imported():
    import subprocess

    code = (
        "import rlcourse.comparison\nimport rlcourse\n"
        "res = rlcourse.compare('bandit', ['greedy'], runs=2, steps=3, progress=False)\n"
        "print(rlcourse.compare is rlcourse.comparison.compare, list(res.data))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True ['greedy']"


@pytest.mark.parametrize("name", ["compare", "plan_comparison", "make_agents"])
def test_the_comparison_is_still_found_in_the_loop_module_deprecated(name):
    import rlcourse.comparison
    import rlcourse.loop

    with pytest.warns(DeprecationWarning, match=rf"^rlcourse.loop.{name} is deprecated; import"):
        found = getattr(rlcourse.loop, name)
    assert found is getattr(rlcourse.comparison, name)
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        rlcourse.loop.nothing_here  # noqa: B018
