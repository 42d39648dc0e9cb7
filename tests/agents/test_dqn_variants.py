"""DQN's variants: dueling heads, n-step returns, prioritized replay (each off by default)."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from scipy import stats

import envs  # noqa: F401
from agents.dqn import DQNLearner, learner_memory
from agents.dqn_config import DQNConfig
from agents.n_step import NStepWindows
from agents.replay import ReplayBuffer
from agents.sum_tree import Priorities, SumTree
from supervised.networks import ConvQNet, DuelingHead, q_network_parameters

CARTPOLE = gym.make("CartPole-v1")


def learner(**overrides) -> DQNLearner:
    config = DQNConfig(**{"hidden": (8,), "buffer_size": 100, "learning_starts": 0, **overrides})
    return DQNLearner(
        config, CARTPOLE.observation_space, CARTPOLE.action_space, np.random.default_rng(0)
    )


# -- dueling ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_dueling_q_is_value_plus_advantage_minus_its_mean_and_v_learns_from_every_action(kind):
    torch.manual_seed(0)
    if kind == "mlp":
        net, x = DuelingHead(4, 3, (8,)), torch.randn(5, 4)
        head, features = net, x
    else:
        net, x = ConvQNet((5, 5, 2), 3, hidden=(8,), dueling=True), torch.randn(5, 5, 5, 2)
        head, features = net.head, net.features(x)
    q = net(x)
    v, a = head.value(features), head.advantage(features)
    torch.testing.assert_close(q, v + a - a.mean(dim=1, keepdim=True))
    torch.testing.assert_close(q.mean(dim=1, keepdim=True), v)  # V is Q's mean over actions
    for action in range(3):  # a loss on any one action's Q moves V
        net.zero_grad()
        net(x)[:, action].sum().backward()
        value_out = head.value.layers[-1]
        assert value_out.bias.grad.item() == pytest.approx(5.0)  # dQ_a/dV = 1 for every row
        assert value_out.weight.grad.abs().sum() > 0


def test_dueling_dqn_builds_dueling_networks_and_counts_their_parameters():
    dqn = learner(dueling=True)
    assert isinstance(dqn.online, DuelingHead)
    counted = sum(p.numel() for p in dqn.online.parameters())
    assert (
        counted
        == q_network_parameters((4,), 2, (8,), dueling=True)
        == (5 * 8 + 9 * 1) + (5 * 8 + 9 * 2)
    )
    assert dqn.action_values(np.zeros((1, 4), np.float32)).shape == (1, 2)
    for _ in range(64):
        dqn.buffer.add(np.ones(4), 1, 1.0, np.ones(4), False, False)
    before = [p.clone() for p in dqn.online.value.parameters()]
    dqn.train(1)
    assert dqn.n_updates == 1
    moved = zip(before, dqn.online.value.parameters(), strict=True)
    assert any(not torch.equal(a, b) for a, b in moved)


# -- n-step returns --------------------------------------------------------------------------------


def _windows_run(steps, n=3, gamma=0.5):
    """Feed (reward, terminated, truncated) steps of one env; what is stored, by its obs."""
    stored = []
    windows = NStepWindows(n, gamma)
    for t, (reward, terminated, truncated) in enumerate(steps):
        windows.add(0, np.float32(t), 0, reward, np.float32(t + 1), terminated, truncated,
                    store=lambda *row: stored.append(row))  # fmt: skip
    return {
        int(obs): (float(ret), float(next_obs), bool(term), bool(trunc), disc)
        for obs, _, ret, next_obs, term, trunc, disc in stored
    }


def test_n_step_returns_by_hand_with_a_termination_and_a_truncation_inside_the_window():
    g = 0.5
    # episode 1: steps 0-3, terminated at 3; episode 2: steps 4-5, truncated at 5; then 6-8 going on
    steps = [(1, 0, 0), (2, 0, 0), (4, 0, 0), (8, 1, 0), (16, 0, 0), (32, 0, 1),
             (64, 0, 0), (128, 0, 0), (256, 0, 0)]  # fmt: skip
    stored = _windows_run([(r, bool(te), bool(tr)) for r, te, tr in steps])
    assert stored == {
        0: (1 + g * 2 + g**2 * 4, 3.0, False, False, g**3),  # a full window: bootstrap s_3, γ^3
        1: (2 + g * 4 + g**2 * 8, 4.0, True, False, g**3),  # ends at the termination: no bootstrap
        2: (4 + g * 8, 4.0, True, False, g**2),
        3: (8, 4.0, True, False, g),
        4: (16 + g * 32, 6.0, False, True, g**2),  # cut by the time limit: bootstrap from s_6
        5: (32, 6.0, False, True, g),
        6: (64 + g * 128 + g**2 * 256, 9.0, False, False, g**3),
    }  # 7 and 8 wait for more steps


def test_n_step_windows_are_kept_per_env_of_a_batch():
    dqn = learner(n_step=2, gamma=0.5, learning_starts=1000)
    obs = np.arange(8, dtype=np.float32).reshape(2, 4)
    for t in range(3):  # env 0 rewards 1, env 1 rewards 10; env 1 terminates at t = 1
        dqn.update(obs + t, np.array([0, 1]), np.array([1.0, 10.0]), obs + t + 1,
                   np.array([False, t == 1]), np.array([False, False]), {})  # fmt: skip
    buffer = dqn.buffer
    rows = {(float(buffer.obs[i, 0]), float(buffer.reward[i]), float(buffer.discount[i]),
             bool(buffer.terminated[i])) for i in range(len(buffer))}  # fmt: skip
    assert rows == {
        (0.0, 1.5, 0.25, False), (1.0, 1.5, 0.25, False),  # env 0: 1 + γ·1, two steps on
        (4.0, 15.0, 0.25, True), (5.0, 10.0, 0.5, True),  # env 1: cut at its termination
    }  # fmt: skip
    assert all(buffer.action[i] == (buffer.obs[i, 0] >= 4) for i in range(len(buffer)))


def test_n_step_td_target_bootstraps_with_each_transitions_discount():
    dqn = learner(n_step=3, gamma=0.9)
    next_obs = torch.randn(3, 4)
    with torch.no_grad():
        best = dqn.target(next_obs).max(dim=1).values
    target = dqn.td_target(torch.tensor([1.0, 2.0, 3.0]), next_obs,
                           torch.tensor([0.0, 1.0, 0.0]),
                           torch.tensor([0.729, 0.81, 0.81]))  # fmt: skip
    torch.testing.assert_close(target, torch.stack(
        [1 + 0.729 * best[0], torch.tensor(2.0), 3 + 0.81 * best[2]]))  # fmt: skip


# -- the sum tree and prioritized replay -----------------------------------------------------------


def test_sum_tree_totals_and_prefix_search():
    tree = SumTree(5)  # not a power of two
    tree.update(np.arange(5), [1.0, 2.0, 3.0, 4.0, 0.0])
    assert tree.total == 10.0
    assert tree.min == 0.0
    assert tree.find(np.array([0.0, 0.99, 1.0, 2.99, 3.0, 5.99, 6.0, 9.99])).tolist() == [
        0, 0, 1, 1, 2, 2, 3, 3,
    ]  # fmt: skip
    tree.update([1, 4], [0.5, 2.0])
    assert tree.total == 10.5 and tree.nodes[1] == tree.nodes[2] + tree.nodes[3]
    assert tree[[0, 1, 2, 3, 4]].tolist() == [1.0, 0.5, 3.0, 4.0, 2.0]
    assert tree.min == 0.5  # the minima's root (the slots never set are not counted)


def test_prioritized_draws_follow_the_priorities_chi_square():
    priorities = Priorities(8, alpha=1.0, eps=1e-6)
    wanted = np.array([1, 2, 3, 4, 0, 5, 1, 4], dtype=float)
    priorities.update(np.arange(8), wanted - 1e-6)
    rng = np.random.default_rng(0)
    counts = np.zeros(8)
    for _ in range(200):
        slots, _ = priorities.sample(64, 8, 1.0, rng)
        counts += np.bincount(slots, minlength=8)
    assert counts[4] == 0  # priority 0 (ε aside): never drawn
    expected = counts.sum() * wanted / wanted.sum()
    keep = expected > 0
    assert stats.chisquare(counts[keep], expected[keep]).pvalue > 0.01


def test_importance_weights_and_alpha():
    priorities = Priorities(4, alpha=0.5, eps=0.0 + 1e-12)
    priorities.update(np.arange(4), [1.0, 4.0, 9.0, 16.0])  # priorities: √|δ| = 1, 2, 3, 4
    assert priorities.tree[np.arange(4)] == pytest.approx([1, 2, 3, 4])
    slots, weights = priorities.sample(10, 4, 0.5, np.random.default_rng(1))
    p = np.array([1, 2, 3, 4]) / 10
    expected = (4 * p[slots]) ** -0.5 / (4 * p.min()) ** -0.5
    assert weights == pytest.approx(expected, rel=1e-6)
    assert weights.max() <= 1.0
    _, uniform = priorities.sample(10, 4, 0.0, np.random.default_rng(1))
    assert uniform == pytest.approx(np.ones(10))  # β = 0: no correction


def test_new_transitions_get_the_largest_priority_and_a_step_updates_the_drawn_ones():
    dqn = learner(prioritized=True, per_alpha=1.0, batch_size=4, buffer_size=50)
    rng = np.random.default_rng(0)
    for _ in range(10):
        dqn.update(rng.normal(size=(1, 4)).astype(np.float32), np.array([0]), np.array([1.0]),
                   rng.normal(size=(1, 4)).astype(np.float32), np.array([False]),
                   np.array([False]), {})  # fmt: skip
    priorities = dqn.buffer.priorities
    assert priorities.tree[np.arange(10)].tolist() == [priorities.max_priority] * 10
    before = priorities.tree[np.arange(10)].copy()
    batch = dqn.buffer.sample_prioritized(4, 0.4, np.random.default_rng(5))
    obs, action, reward, next_obs, terminated = dqn.on_device(batch)
    target = dqn.td_target(reward, next_obs, terminated)
    with torch.no_grad():
        q = dqn.online(obs).gather(1, action.unsqueeze(1)).squeeze(1)
    td = dqn.gradient_step(obs, action, target, torch.as_tensor(batch.weights))
    np.testing.assert_allclose(td, (target - q).abs().numpy(), rtol=1e-5)
    priorities.update(batch.slots, td)
    after = priorities.tree[np.arange(10)]
    drawn = np.unique(batch.slots)
    np.testing.assert_allclose(after[drawn], [abs(td[list(batch.slots).index(s)]) + 1e-6
                                              for s in drawn])  # fmt: skip
    untouched = np.setdiff1d(np.arange(10), drawn)
    assert (after[untouched] == before[untouched]).all()
    assert priorities.tree.total == pytest.approx(after.sum())
    dqn.update(np.zeros((1, 4), np.float32), np.array([1]), np.array([0.0]),
               np.zeros((1, 4), np.float32), np.array([True]), np.array([False]), {})  # fmt: skip
    assert priorities.tree[[10]][0] == priorities.max_priority


def test_beta_rises_to_one_over_the_run():
    config = DQNConfig(prioritized=True, per_beta=0.4, lr_decay_steps=1000)
    assert [config.per_beta_at(t) for t in (0, 500, 1000, 5000)] == pytest.approx(
        [0.4, 0.7, 1.0, 1.0]
    )
    assert DQNConfig(per_beta=0.4, per_beta_steps=100).per_beta_at(50) == pytest.approx(0.7)


def test_prioritized_training_draws_from_the_tree_and_updates_it():
    dqn = learner(prioritized=True, batch_size=8, learning_starts=20, train_freq=10,
                  gradient_steps=3)  # fmt: skip
    rng = np.random.default_rng(1)
    for _ in range(30):
        dqn.update(rng.normal(size=(1, 4)).astype(np.float32), np.array([1]), np.array([1.0]),
                   rng.normal(size=(1, 4)).astype(np.float32), np.array([False]),
                   np.array([False]), {})  # fmt: skip
    assert dqn.n_updates == 3
    tree = dqn.buffer.priorities.tree
    assert len(set(tree[np.arange(30)].round(8))) > 2  # priorities set by TD errors


def test_memory_estimate_counts_the_sum_tree():
    plain = learner_memory(DQNConfig(buffer_size=1000), CARTPOLE.observation_space,
                           CARTPOLE.action_space)  # fmt: skip
    per = learner_memory(DQNConfig(buffer_size=1000, prioritized=True),
                         CARTPOLE.observation_space, CARTPOLE.action_space)  # fmt: skip
    assert "sum tree" not in plain and per["sum tree"] == 2 * 2 * 1024 * 8
    tree = SumTree(1000)
    assert tree.nodes.nbytes + tree.mins.nbytes == per["sum tree"]


def test_buffer_state_keeps_priorities_and_n_step_discounts():
    buffer = ReplayBuffer(10, (2,), discounts=True, priorities=Priorities(10, 0.6, 1e-6))
    for i in range(4):
        buffer.add(np.ones(2), 0, 1.0, np.ones(2), False, False, discount=0.5**i)
    buffer.priorities.update([1, 2], [3.0, 0.1])
    copy = ReplayBuffer(10, (2,), discounts=True, priorities=Priorities(10, 0.6, 1e-6))
    copy.load_state(buffer.state())
    assert copy.discount[:4].tolist() == [1.0, 0.5, 0.25, 0.125]
    assert (copy.priorities.tree.nodes == buffer.priorities.tree.nodes).all()
    assert copy.priorities.max_priority == buffer.priorities.max_priority


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_step": 0}, "n_step must be >= 1, got 0"),
        ({"per_alpha": 2.0}, "per_alpha must be in [0, 1], got 2.0"),
        ({"per_beta": -0.1}, "per_beta must be in [0, 1], got -0.1"),
        ({"per_eps": 0.0}, "per_eps must be > 0, got 0.0"),
    ],
)
def test_variant_settings_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        DQNConfig(**kwargs)


def test_defaults_are_plain_dqn():
    config = DQNConfig()
    assert (config.dueling, config.n_step, config.prioritized) == (False, 1, False)
    dqn = learner()
    assert dqn.windows is None and dqn.buffer.priorities is None
    assert "discount" not in dqn.buffer.state()


def test_the_per_pixel_dqn_takes_the_core_variants_too():
    from agents.pixel_dqn import PixelDQNLearner
    from agents.pixel_dqn_config import PixelDQNConfig

    config = PixelDQNConfig(channels=4, depth=2, batch_size=2, learning_starts=0, buffer_size=16,
                            gamma=0.5, n_step=2, prioritized=True)  # fmt: skip
    lrn = PixelDQNLearner(config, (4, 4), 3, np.random.default_rng(0))
    obs = np.full((1, 1, 4, 4), 100, np.uint8)
    for t in range(4):
        lrn.update(obs, np.zeros((1, 4, 4), np.int64), np.array([1.0]), obs,
                   np.array([t == 3]), np.array([False]), {})  # fmt: skip
    assert lrn.buffer.discount[: len(lrn.buffer)].tolist() == [0.25, 0.25, 0.25, 0.5]
    assert lrn.n_updates > 0
    assert len(np.unique(lrn.buffer.priorities.tree[np.arange(4)])) > 1
