"""The per-pixel DQN (agents.pixel_dqn): spaces, per-pixel targets, exploration, learning."""

import numpy as np
import pytest
import torch
from gymnasium import spaces

import agents
from agents.pixel_dqn import PixelDQNAgent, PixelDQNLearner
from agents.pixel_dqn_config import PixelDQNConfig
from supervised.train import single_thread

H = W = 8
OBS = spaces.Box(0, 255, (1, H, W), np.uint8)
PIXEL_ACTIONS = spaces.MultiDiscrete(np.full((H, W), 3))


@pytest.fixture(autouse=True)
def one_thread():
    with single_thread():
        yield


def learner(**kwargs):
    config = PixelDQNConfig(**{"channels": 4, "depth": 2, "batch_size": 2, **kwargs})
    return PixelDQNLearner(config, (H, W), 3, np.random.default_rng(0))


def test_registry_builds_it_for_per_pixel_actions_only():
    agent = agents.make("pixel-dqn:gamma=0.5", OBS, PIXEL_ACTIONS)
    assert isinstance(agent, PixelDQNAgent) and agent.config.gamma == 0.5
    with pytest.raises(agents.SpecError, match="agent 'pixel-dqn' needs image observations"):
        agents.make("pixel-dqn", OBS, spaces.Discrete(9))


def test_actions_are_one_per_pixel_and_greedy_is_the_argmax():
    lrn = learner(exploration_steps=0)
    obs = np.random.default_rng(1).integers(0, 256, (3, 1, H, W), dtype=np.uint8)
    q = lrn.action_values(obs)
    assert q.shape == (3, H, W, 3)
    np.testing.assert_array_equal(lrn.greedy(obs), q.argmax(-1))
    np.testing.assert_array_equal(lrn.act(obs), q.argmax(-1))


def test_exploration_applies_the_shared_strategy_to_every_pixel():
    lrn = learner(epsilon_start=1.0, exploration_steps=10_000)
    obs = np.zeros((4, 1, H, W), np.uint8)
    counts = np.bincount(lrn.act(obs).ravel(), minlength=3)
    assert counts.min() > 0.25 * counts.sum()  # epsilon = 1: uniform over 3 actions per pixel


def test_td_target_is_per_pixel():
    lrn = learner(gamma=0.5, reward_scale=0.1)
    next_obs = torch.zeros(2, 1, H, W, dtype=torch.uint8)
    reward = torch.arange(2 * H * W, dtype=torch.float32).reshape(2, H, W)
    terminated = torch.tensor([0.0, 1.0])
    target = lrn.td_target(reward, next_obs, terminated)
    with torch.no_grad():
        best = lrn.target(next_obs).max(dim=1).values
    torch.testing.assert_close(target[0], reward[0] + 0.5 * best[0])
    torch.testing.assert_close(target[1], reward[1])


def test_stored_rewards_are_the_reward_map_per_pixel_times_the_scale():
    lrn = learner(reward_scale=0.1)
    maps = np.arange(2 * H * W, dtype=np.float32).reshape(2, H, W)
    np.testing.assert_allclose(lrn.rewards(None, {"reward_map": maps}), maps * H * W * 0.1)
    crop_reward = np.array([2.0, -4.0])  # no map: each pixel gets an equal share
    shares = lrn.rewards(crop_reward, {})
    assert shares.shape == (2, H, W)
    np.testing.assert_allclose(shares.sum((1, 2)), crop_reward * H * W * 0.1, rtol=1e-6)


def test_it_learns_which_action_pays_at_each_pixel():
    """Left half: action 2 pays 1, right half: action 0 pays 1 (one-step, gamma 0)."""
    lrn = learner(gamma=0.0, reward_scale=1.0, lr=1e-2, learning_starts=0, buffer_size=64)
    rng = np.random.default_rng(0)
    best = np.zeros((H, W), np.int64)
    best[:, : W // 2] = 2
    for _ in range(80):
        obs = np.zeros((2, 1, H, W), np.uint8)
        obs[:, :, :, : W // 2] = 200  # the halves look different
        actions = rng.integers(3, size=(2, H, W))
        maps = (actions == best).astype(np.float32) / (H * W)  # the env's maps sum to the reward
        lrn.update(obs, actions, None, obs, *[np.zeros(2, bool)] * 2, {"reward_map": maps})
    np.testing.assert_array_equal(lrn.greedy(obs[:1])[0], best)


def test_all_actions_learns_the_reward_of_actions_it_never_takes():
    """Only action 0 is ever taken, yet every action's reward map is learnt (gamma 0)."""
    lrn = learner(
        gamma=0.0, reward_scale=1.0, lr=1e-2, learning_starts=0, buffer_size=64, all_actions=True
    )
    pays = np.array([0.0, 0.5, 1.0], np.float32)[:, None, None]  # action 2 pays most everywhere
    obs = np.full((2, 1, H, W), 100, np.uint8)
    maps = np.broadcast_to(pays / (H * W), (2, 3, H, W))
    never = np.zeros((2, H, W), np.int64)
    for _ in range(150):
        lrn.update(obs, never, None, obs, *[np.zeros(2, bool)] * 2, {"action_reward_maps": maps})
    assert lrn.buffer.reward.shape[1:] == (3, H, W)
    np.testing.assert_allclose(
        lrn.action_values(obs[:1])[0], np.broadcast_to(pays[:, 0, 0], (H, W, 3)), atol=0.1
    )
    assert (lrn.greedy(obs[:1]) == 2).all()


def test_all_actions_targets_share_the_next_value():
    lrn = learner(gamma=0.5, reward_scale=0.1, all_actions=True)
    next_obs = torch.zeros(1, 1, H, W, dtype=torch.uint8)
    reward = torch.ones(1, 3, H, W)
    target = lrn.td_target(reward, next_obs, torch.zeros(1))
    with torch.no_grad():
        best = lrn.target(next_obs).max(dim=1).values
    torch.testing.assert_close(target, reward + 0.5 * best[:, None])


def test_agent_interface_uses_the_reward_map_from_info():
    agent = agents.make(
        "pixel-dqn:channels=4,depth=2,batch_size=1,learning_starts=0", OBS, PIXEL_ACTIONS
    )
    agent.reset(2, np.random.default_rng(0))
    obs = np.zeros((2, 1, H, W), np.uint8)
    actions = agent.act(obs)
    assert actions.shape == (2, H, W)
    maps = np.ones((2, H, W), np.float32)
    done = np.zeros(2, bool)
    agent.update(obs, actions, maps.sum((1, 2)), obs, done, done, info={"reward_map": maps})
    stored = agent.learners[0].buffer.reward[0]
    # per-pixel drops (the map times the pixel count) in Q's units (times reward_scale)
    np.testing.assert_allclose(stored, H * W * agent.config.reward_scale, rtol=1e-6)
    assert agent.learners[0].n_updates == 1


def shifts(images):
    """A lookahead of 3 'filters': unchanged, 0.1 darker, 0.1 lighter."""
    return np.stack([images, np.clip(images - 0.1, 0, 1), np.clip(images + 0.1, 0, 1)], axis=1)


def test_lookahead_channels_are_stored_after_the_image():
    lrn = PixelDQNLearner(
        PixelDQNConfig(channels=4, depth=2, batch_size=1),
        (H, W),
        3,
        np.random.default_rng(0),
        shifts,
    )
    obs = np.full((1, 1, H, W), 153, np.uint8)
    x = lrn.encode(obs)
    assert x.shape == (1, 4, H, W)  # the image (in [0, 1]) and the 3 lookahead channels
    np.testing.assert_allclose(x[0, :, 0, 0], [0.6, 0.6, 0.5, 0.7], atol=1e-3)
    assert lrn.action_values(obs).shape == (1, H, W, 3)


def memory_learner(**kwargs):
    config = PixelDQNConfig(
        **{"channels": 4, "depth": 2, "batch_size": 1, "memory": True, **kwargs}
    )
    return PixelDQNLearner(config, (H, W), 3, np.random.default_rng(0))


def test_memory_feeds_the_trunk_the_episodes_first_observation():
    lrn = memory_learner()
    first = np.full((2, 1, H, W), 10, np.uint8)
    later = np.full((2, 1, H, W), 200, np.uint8)
    lrn.begin_episodes(first)
    x = lrn.encode(later)
    assert x.shape == (2, 2, H, W)  # the first observation (the trunk's), the current one
    np.testing.assert_allclose(x[:, 0], 10 / 255, rtol=1e-3)
    np.testing.assert_allclose(x[:, 1], 200 / 255, rtol=1e-3)
    with torch.no_grad():  # the trunk reads only channel 0: the current image changes the head
        q_first = lrn.online.trunk(torch.as_tensor(x[:, :1]).float())
    torch.testing.assert_close(
        lrn.online.features(torch.as_tensor(x).float())[:, :4], q_first, rtol=1e-3, atol=1e-3
    )


def test_memory_starts_anew_after_an_episode_ends():
    lrn = memory_learner()
    a, b, c = (np.full((2, 1, H, W), v, np.uint8) for v in (10, 20, 30))
    lrn.act(a)  # the first batch starts the episodes
    info = {"reward_map": np.zeros((2, H, W))}
    lrn.update(a, lrn.act(a), None, b, np.zeros(2, bool), np.array([False, True]), info)
    x = lrn.encode(c)  # run 1's episode was truncated: c starts its next one
    np.testing.assert_allclose(x[:, 0, 0, 0], [10 / 255, 30 / 255], rtol=1e-3)
    stored = lrn.buffer.next_obs[1]  # b was stored with the memory of its own episode
    np.testing.assert_allclose(stored[0], 10 / 255, rtol=1e-3)


def test_memory_refuses_a_new_batch_size_in_mid_episode():
    lrn = memory_learner()
    lrn.begin_episodes(np.zeros((2, 1, H, W), np.uint8))
    with pytest.raises(ValueError, match="remembers 2 episodes in progress, got a batch of 3"):
        lrn.act(np.zeros((3, 1, H, W), np.uint8))


def test_estimate_head_needs_gamma_0_and_a_lookahead():
    with pytest.raises(ValueError, match="estimate gives the expected one-step reward"):
        PixelDQNConfig(estimate=True)
    with pytest.raises(ValueError, match="estimate needs a lookahead"):
        learner(estimate=True, gamma=0.0)
    with pytest.raises(agents.SpecError, match="estimate=true needs the filtered images"):
        agents.make("pixel-dqn:estimate=true,gamma=0", OBS, PIXEL_ACTIONS)


def test_agent_interface_with_memory_starts_episodes_after_they_end():
    agent = agents.make("pixel-dqn:channels=4,depth=2,memory=true", OBS, PIXEL_ACTIONS)
    agent.reset(1, np.random.default_rng(0))
    a, b, c = (np.full((1, 1, H, W), v, np.uint8) for v in (10, 20, 30))
    done, maps = np.array([True]), {"reward_map": np.zeros((1, H, W), np.float32)}
    agent.update(a, agent.act(a), np.zeros(1), b, ~done, done, info=maps)
    agent.act(c)  # the loop resets a finished run: c starts its next episode
    np.testing.assert_array_equal(agent.learners[0].first, c)


def test_estimate_head_learns_the_clean_value_from_rewards_alone():
    """Clean pixels are 0.5; the rewards of 'darker' / 'lighter' teach the estimate (gamma 0)."""
    config = PixelDQNConfig(
        channels=4, depth=2, batch_size=4, estimate=True, memory=True, gamma=0.0,
        all_actions=True, reward_scale=1 / 25**2, lr=1e-2, learning_starts=0, buffer_size=64,
    )  # fmt: skip
    lrn = PixelDQNLearner(config, (H, W), 3, np.random.default_rng(0), shifts)
    rng = np.random.default_rng(1)
    for _ in range(150):
        level = rng.choice([0.3, 0.7], size=(4, 1, 1, 1))  # the noisy pixel values
        noisy = np.broadcast_to(level, (4, 1, H, W)).astype(np.float32)
        bank = shifts(noisy[:, 0])
        maps = ((noisy - 0.5) ** 2 - (bank - 0.5) ** 2) * 255**2 / (H * W)  # the env's maps
        obs = np.rint(noisy * 255).astype(np.uint8)
        lrn.begin_episodes(obs)
        info = {"action_reward_maps": maps}
        lrn.update(obs, lrn.act(obs), None, obs, np.zeros(4, bool), np.ones(4, bool), info)
    dark, light = (np.full((1, 1, H, W), v, np.uint8) for v in (77, 178))  # 0.3 and 0.7
    for obs, towards_clean in ((dark, 2), (light, 1)):
        lrn.begin_episodes(obs)
        assert (lrn.greedy(obs) == towards_clean).all()


def test_a_greedy_evaluation_starts_new_episodes_for_a_learner_with_memory():
    from agents.off_policy import GreedyPolicy, SharedLearner

    lrn = memory_learner()
    lrn.act(np.full((2, 1, H, W), 10, np.uint8))  # two training episodes in progress
    evaluation = GreedyPolicy(lrn)
    evaluation.reset(3, np.random.default_rng(0))
    crops = np.full((3, 1, H, W), 99, np.uint8)
    assert evaluation.act(crops).shape == (3, H, W)  # not refused: new episodes began
    np.testing.assert_array_equal(lrn.first, crops)
    SharedLearner(lrn).reset(2, np.random.default_rng(0))
    assert lrn.first is None  # training starts its episodes afresh too


def test_two_channel_observations_train_without_and_with_a_lookahead():
    """In-painting's (image, pixel states) observations: the states are network input channels,
    or the lookahead's input; the stored encodings and the Q-maps have the right shapes."""
    import gymnasium as gym

    import envs  # noqa: F401
    from envs.restore_tasks import Task

    y, x = np.mgrid[0:40, 0:40] / 40.0
    vec = gym.make_vec("rlcourse/PixelDenoise-v0", num_envs=2, images=[x.astype(np.float32)],
                       crop=36, task="inpaint")  # fmt: skip
    config = PixelDQNConfig(learning_starts=2, batch_size=2, buffer_size=8, channels=4, depth=2,
                            all_actions=True, gamma=0.0)  # fmt: skip
    agent = PixelDQNAgent(config, vec.single_observation_space, vec.single_action_space)
    agent.reset(1, np.random.default_rng(0))
    lookahead = PixelDQNLearner(config, (36, 36), 5, np.random.default_rng(0),
                                lookahead=Task("inpaint").lookahead, channels=2)  # fmt: skip
    obs, _ = vec.reset(seed=0)
    for _ in range(3):
        for learner in (agent, lookahead):
            action = learner.act(obs[:1]) if learner is agent else learner.act(obs)
            assert action.shape[-2:] == (36, 36) and action.max() < 5
        both = lookahead.act(obs)
        next_obs, reward, terminated, truncated, info = vec.step(both)
        lookahead.update(obs, both, reward, next_obs, terminated, truncated, info)
        one = {k: v[:1] for k, v in info.items()}
        agent.update(obs[:1], both[:1], reward[:1], next_obs[:1], terminated[:1], truncated[:1],
                     one)  # fmt: skip
        obs = next_obs
    assert lookahead.encode(obs).shape == (2, 1 + 5, 36, 36)  # the image, each action's result
    assert lookahead.action_values(obs).shape == (2, 36, 36, 5)
