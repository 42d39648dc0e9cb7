import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

import agents
import envs  # noqa: F401
from agents.dqn import DQNAgent, DQNLearner
from agents.dqn_config import DQNConfig

CARTPOLE = gym.make("CartPole-v1")


def learner(**overrides) -> DQNLearner:
    config = DQNConfig(**{"hidden": (8,), "buffer_size": 100, "learning_starts": 0, **overrides})
    return DQNLearner(
        config, CARTPOLE.observation_space, CARTPOLE.action_space, np.random.default_rng(0)
    )


def test_td_target_drops_the_bootstrap_only_when_terminated():
    dqn = learner(gamma=0.9)
    next_obs = torch.randn(3, 4)
    with torch.no_grad():
        best = dqn.target(next_obs).max(dim=1).values
    reward = torch.tensor([1.0, 2.0, 3.0])
    terminated = torch.tensor([0.0, 1.0, 0.0])
    target = dqn.td_target(reward, next_obs, terminated)
    torch.testing.assert_close(
        target, torch.stack([1 + 0.9 * best[0], torch.tensor(2.0), 3 + 0.9 * best[2]])
    )


def test_double_dqn_target_values_the_online_choice_with_the_target_network():
    dqn = learner(gamma=1.0, double=True)
    with torch.no_grad():  # make the two networks disagree
        for p in dqn.target.parameters():
            p.add_(torch.randn_like(p))
    next_obs = torch.randn(5, 4)
    with torch.no_grad():
        choice = dqn.online(next_obs).argmax(dim=1)
        expected = dqn.target(next_obs)[torch.arange(5), choice]
    target = dqn.td_target(torch.zeros(5), next_obs, torch.zeros(5))
    torch.testing.assert_close(target, expected)


def test_truncated_transitions_still_bootstrap_in_training():
    dqn = learner(gamma=1.0, batch_size=1, buffer_size=1)
    obs = np.zeros(4, dtype=np.float32)
    dqn.buffer.add(obs, 0, 1.0, obs, False, True)  # truncated: not the end of the task
    batch = dqn.buffer.sample(1, dqn.rng)
    target = dqn.td_target(
        torch.as_tensor(batch.reward),
        torch.as_tensor(batch.next_obs),
        torch.as_tensor(batch.terminated, dtype=torch.float32),
    )
    with torch.no_grad():
        assert target.item() == pytest.approx(
            1.0 + dqn.target(torch.as_tensor(obs)[None]).max().item()
        )


def test_a_gradient_step_moves_q_toward_the_target():
    dqn = learner(gamma=0.0, lr=0.01, batch_size=16, buffer_size=16, target_update=1000)
    obs = np.ones(4, dtype=np.float32)
    for _ in range(16):
        dqn.buffer.add(obs, 1, 5.0, obs, True, False)
    before = dqn.action_values(obs[None])[0, 1]
    for _ in range(20):
        dqn.train_step()
    after = dqn.action_values(obs[None])[0, 1]
    assert abs(after - 5.0) < abs(before - 5.0)


def test_target_network_hard_and_polyak_updates():
    dqn = learner(tau=1.0)
    with torch.no_grad():
        for p in dqn.online.parameters():
            p.add_(1.0)
    dqn.update_target()
    for t, o in zip(dqn.target.parameters(), dqn.online.parameters(), strict=True):
        torch.testing.assert_close(t, o)
    soft = learner(tau=0.25)
    old = [p.clone() for p in soft.target.parameters()]
    with torch.no_grad():
        for p in soft.online.parameters():
            p.add_(1.0)
    soft.update_target()
    for t, o, before in zip(soft.target.parameters(), soft.online.parameters(), old, strict=True):
        torch.testing.assert_close(t, 0.75 * before + 0.25 * o)


def test_training_starts_after_learning_starts_every_train_freq_steps():
    dqn = learner(learning_starts=10, train_freq=4, gradient_steps=3, batch_size=2)
    obs = np.zeros(4, dtype=np.float32)
    for _ in range(20):
        dqn.update(obs[None], [0], [1.0], obs[None], [False], [False], {})
    # transitions 12, 16, 20 are past learning_starts and multiples of train_freq
    assert dqn.n_updates == 9


def test_exploration_uses_the_shared_strategies():
    from agents.strategies import DecayingEpsilon, EpsilonGreedy, Greedy

    assert DQNConfig().strategy() == DecayingEpsilon(1.0, 0.04, 8000, "linear")
    assert DQNConfig(exploration="greedy").strategy() == Greedy()
    assert DQNConfig(exploration="constant", epsilon_end=0.2).strategy() == EpsilonGreedy(0.2)


def test_same_seed_same_networks_and_actions():
    a, b = learner(), learner()
    for p, q in zip(a.online.parameters(), b.online.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    obs = np.ones(4, dtype=np.float32)
    assert [a.act(obs[None])[0] for _ in range(20)] == [b.act(obs[None])[0] for _ in range(20)]


def test_agent_runs_in_a_comparison_on_cartpole_and_a_discrete_gridworld():
    import rlcourse

    spec = (
        "dqn:hidden=16,learning_starts=50,train_freq=10,gradient_steps=2,buffer_size=500,"
        "batch_size=16"
    )
    results = rlcourse.compare("CartPole-v1", [spec], runs=2, episodes=3, progress=False)
    assert results.data[spec]["return"].shape == (2, 3)
    grid = rlcourse.compare("gridworld", [spec], runs=2, episodes=2, progress=False)
    assert grid.data[spec]["length"].shape == (2, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"buffer_size": 32, "batch_size": 64}, "buffer_size (32) is smaller than one batch (64)"),
        ({"learning_starts": -1}, "learning_starts must be >= 0"),
        ({"tau": 0.0}, "tau must be in (0, 1]"),
        ({"gamma": 1.5}, "gamma must be in [0, 1]"),
        ({"exploration": "boltzmann"}, "exploration must be one of linear, exponential"),
        ({"hidden": ()}, "hidden must be positive layer sizes"),
    ],
)
def test_config_refuses_bad_values(kwargs, message):
    with pytest.raises(
        ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        DQNConfig(**kwargs)


def test_continuous_actions_are_refused_naming_the_agent_that_fits():
    pendulum = gym.make("Pendulum-v1")
    with pytest.raises(agents.SpecError) as err:
        agents.make("dqn", pendulum.observation_space, pendulum.action_space)
    assert "needs Discrete actions and observations it can read (Box, Discrete" in str(err.value)
    assert str(err.value).endswith("agents that fit: random")
    with pytest.raises(ValueError, match="DQN needs Discrete actions"):
        DQNAgent(DQNConfig(), pendulum.observation_space, pendulum.action_space)


def test_spec_parses_layer_sizes():
    agent = agents.make(
        "dqn:hidden=32x16,double=true", CARTPOLE.observation_space, CARTPOLE.action_space
    )
    assert agent.config.hidden == (32, 16) and agent.config.double
    with pytest.raises(agents.SpecError, match="hidden='a' is not sizes like 64x64"):
        agents.make("dqn:hidden=a", CARTPOLE.observation_space, CARTPOLE.action_space)


def test_image_observations_get_a_cnn():
    env = gym.make("rlcourse/GridWorld-v0", observation="rgb")
    dqn = DQNLearner(
        DQNConfig(hidden=(16,), buffer_size=10, batch_size=4),
        env.observation_space,
        env.action_space,
        np.random.default_rng(0),
    )
    obs, _ = env.reset(seed=0)
    assert dqn.buffer.obs.dtype == np.uint8
    assert dqn.action_values(obs[None]).shape == (1, 4)
    assert any(isinstance(m, torch.nn.Conv2d) for m in dqn.online.modules())


def test_discrete_states_are_one_hot_encoded():
    env = gym.make("rlcourse/GridWorld-v0")
    dqn = DQNLearner(
        DQNConfig(hidden=(8,), buffer_size=10, batch_size=4),
        env.observation_space,
        env.action_space,
        np.random.default_rng(0),
    )
    np.testing.assert_array_equal(
        dqn.encode(np.array([5, 2])), np.eye(16, dtype=np.float32)[[5, 2]]
    )
    assert dqn.buffer.obs.shape == (10, 16)
    assert spaces.Discrete(16) == env.observation_space


def test_acting_copy_follows_training_and_loaded_weights():
    dqn = learner(hidden=(16,), batch_size=4)
    obs = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)

    def torch_q():
        with torch.no_grad():
            return dqn.online(torch.as_tensor(obs)).numpy()

    np.testing.assert_allclose(dqn.action_values(obs), torch_q(), rtol=1e-5, atol=1e-6)
    for _ in range(8):
        dqn.buffer.add(obs[0], 1, 1.0, obs[1], False, False)
    dqn.train_step()
    np.testing.assert_allclose(dqn.action_values(obs), torch_q(), rtol=1e-5, atol=1e-6)
    other = learner(hidden=(16,))
    with torch.no_grad():
        for p in other.online.parameters():
            p.add_(1.0)
    dqn.load_weights(other.online.state_dict())
    np.testing.assert_allclose(dqn.action_values(obs), torch_q(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(dqn.target(torch.as_tensor(obs)), dqn.online(torch.as_tensor(obs)))


@pytest.mark.parametrize("double", [False, True])
def test_training_in_spans_equals_batch_by_batch(double):
    """Targets computed once per span of a fixed target network = one batch at a time."""
    rng = np.random.default_rng(3)
    spans, steps = learner(target_update=4, double=double), learner(target_update=4, double=double)
    for dqn in (spans, steps):
        dqn.rng = np.random.default_rng(7)
    for _ in range(30):
        transition = (
            rng.normal(size=4),
            int(rng.integers(2)),
            1.0,
            rng.normal(size=4),
            False,
            False,
        )
        spans.buffer.add(*transition)
        steps.buffer.add(*transition)
    spans.train(10)  # spans of 4, 4, 2 (double: ten of 1), target updated after 4 and 8
    for _ in range(10):
        steps.train_step()
    assert spans.n_updates == steps.n_updates == 10
    np.testing.assert_allclose(spans.losses, steps.losses, rtol=1e-5)
    for a, b in zip(spans.target.parameters(), steps.target.parameters(), strict=True):
        torch.testing.assert_close(a, b)
