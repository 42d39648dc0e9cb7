"""Tabular TD control in agents.tabular: each learner's update by hand on tiny transitions.

Targets (Sutton & Barto eq. 6.8, 6.9, 6.7): Q-learning R + γ max_a Q(s', a); SARSA R + γ Q(s', a')
with a' the action the next act() takes; expected SARSA R + γ Σ_a π(a | s') Q(s', a); the bandit
learner R. The bootstrap is dropped on termination and kept on truncation.
"""

import gymnasium as gym
import numpy as np
import pytest

import agents
import envs  # noqa: F401  (registers rlcourse/GridWorld-v0)
from agents import SpecError
from agents.strategies import DecayingEpsilon, EpsilonGreedy, Greedy
from agents.tabular import ActionValueAgent, ValueLearning

TD_LEARNERS = ["q-learning", "sarsa", "expected-sarsa"]


def make_agent(
    learner,
    strategy=None,
    *,
    alpha=0.5,
    gamma=0.9,
    initial=0.0,
    n_states=3,
    n_actions=3,
    runs=1,
    seed=0,
):
    estimate = ValueLearning(alpha=alpha, initial=initial, learner=learner, gamma=gamma)
    agent = ActionValueAgent(strategy or Greedy(), estimate, n_states, n_actions)
    agent.reset(runs, np.random.default_rng(seed))
    return agent


def flags(*values):
    return np.array(values, dtype=bool)


def ints(*values):
    return np.array(values, dtype=np.int64)


def floats(*values):
    return np.array(values, dtype=np.float64)


def step(agent, obs, action, reward, next_obs, terminated=None, truncated=None):
    n = len(obs)
    agent.update(
        ints(*obs),
        ints(*action),
        floats(*reward),
        ints(*next_obs),
        flags(*(terminated or [False] * n)),
        flags(*(truncated or [False] * n)),
        {},
    )


def assert_only_changed(before, after, changed):
    """``after`` equals ``before`` except at the (run, state, action) triples in ``changed``."""
    mask = np.ones(before.shape, dtype=bool)
    for index in changed:
        mask[index] = False
    np.testing.assert_array_equal(after[mask], before[mask])


# -- one update of each learner, by hand -----------------------------------------------------------
def test_q_learning_target_is_reward_plus_discounted_max_of_next_state():
    agent = make_agent("q-learning", alpha=0.5, gamma=0.9, runs=2)
    agent.q[:, 0] = [[0.5, 0.0, 0.0], [0.0, 2.0, 0.0]]
    agent.q[:, 1] = [[1.0, 4.0, 2.0], [3.0, -1.0, 0.0]]
    before = agent.values().copy()
    step(agent, obs=[0, 0], action=[0, 1], reward=[1.0, -2.0], next_obs=[1, 1])
    q = agent.values()
    # run 0: target 1 + 0.9 * 4 = 4.6, Q = 0.5 + 0.5 (4.6 - 0.5); run 1: target -2 + 0.9 * 3 = 0.7
    assert q[0, 0, 0] == pytest.approx(0.5 + 0.5 * (4.6 - 0.5))
    assert q[1, 0, 1] == pytest.approx(2.0 + 0.5 * (0.7 - 2.0))
    assert_only_changed(before, q, [(0, 0, 0), (1, 0, 1)])
    np.testing.assert_array_equal(agent.counts.sum(axis=(1, 2)), [1, 1])
    assert agent.counts[0, 0, 0] == 1 and agent.counts[1, 0, 1] == 1
    assert agent.t == 1


def test_q_learning_bootstraps_from_the_values_before_this_update():
    # A self-loop s -> s: the max is taken over Q(s, .) before Q(s, a) moves.
    agent = make_agent("q-learning", alpha=1.0, gamma=0.5, n_states=2, n_actions=2)
    agent.q[0, 0] = [4.0, 1.0]
    step(agent, obs=[0], action=[0], reward=[1.0], next_obs=[0])
    assert agent.q[0, 0, 0] == pytest.approx(1.0 + 0.5 * 4.0)


def test_sarsa_target_uses_the_action_the_next_act_returns():
    # epsilon = 1: a' is uniformly random, so only the planned action can match it every time.
    n_runs = 300
    agent = make_agent("sarsa", EpsilonGreedy(1.0), alpha=1.0, gamma=1.0, n_actions=4, runs=n_runs)
    agent.q[:, 1] = [10.0, 20.0, 30.0, 40.0]
    step(
        agent,
        obs=[0] * n_runs,
        action=[0] * n_runs,
        reward=[0.0] * n_runs,
        next_obs=[1] * n_runs,
    )
    # With alpha = 1, Q(0, 0) = Q(1, a') = 10 (a' + 1): read a' back from the table.
    bootstrapped = agent.q[:, 0, 0]
    assert np.isin(bootstrapped, [10.0, 20.0, 30.0, 40.0]).all()
    planned = (bootstrapped / 10).astype(np.int64) - 1
    assert set(planned.tolist()) == {0, 1, 2, 3}  # a random a', not a fixed one
    np.testing.assert_array_equal(agent.act(ints(*[1] * n_runs)), planned)


def test_sarsa_continuing_runs_take_the_planned_action_ended_runs_choose_afresh():
    # Greedy: a' = argmax Q(s'=1) = 2 for every run. Run 0 continues, run 1 terminates, run 2 is
    # truncated; the ended runs are reset to state 0, where each run's own table prefers another
    # action (run 1: 1, run 2: 3).
    agent = make_agent("sarsa", Greedy(), alpha=1.0, gamma=0.5, n_actions=4, runs=3)
    agent.q[:, 1] = [0.0, 0.0, 6.0, 0.0]
    agent.q[1, 0] = [0.0, 5.0, 0.0, 0.0]
    agent.q[2, 0] = [0.0, 0.0, 0.0, 5.0]
    step(
        agent,
        obs=[2, 2, 2],
        action=[0, 0, 0],
        reward=[-1.0, -1.0, -1.0],
        next_obs=[1, 1, 1],
        terminated=[False, True, False],
        truncated=[False, False, True],
    )
    # Terminated: no bootstrap; truncated: bootstrapped like a continuing run.
    np.testing.assert_allclose(agent.q[:, 2, 0], [-1.0 + 0.5 * 6.0, -1.0, -1.0 + 0.5 * 6.0])
    # The planned action stands even if Q(s') changes before act() (it was chosen at update).
    agent.q[0, 1] = [9.0, 0.0, 0.0, 0.0]
    np.testing.assert_array_equal(agent.act(ints(1, 0, 0)), [2, 1, 3])
    # The plan is used once: the next act() chooses from the current values.
    np.testing.assert_array_equal(agent.act(ints(1, 0, 0)), [0, 1, 3])


def test_sarsa_without_a_plan_acts_like_its_strategy():
    agent = make_agent("sarsa", Greedy(), n_actions=4, runs=2)
    agent.q[0, 0] = [0.0, 0.0, 1.0, 0.0]
    agent.q[1, 2] = [0.0, 0.0, 0.0, 1.0]
    np.testing.assert_array_equal(agent.act(ints(0, 2)), [2, 3])


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        # ties at 3 (actions 1, 2): (1 - 0.2) / 2 + 0.2 / 4 = 0.45 each; 0.2 / 4 = 0.05 the others
        (EpsilonGreedy(0.2), 0.05 * 1.0 + 0.45 * 3.0 + 0.45 * 3.0 + 0.05 * -2.0),
        (EpsilonGreedy(0.0), 3.0),
        (EpsilonGreedy(1.0), (1.0 + 3.0 + 3.0 - 2.0) / 4),
        (Greedy(), 3.0),
    ],
    ids=["eps0.2", "eps0", "eps1", "greedy"],
)
def test_expected_sarsa_target_uses_the_strategy_probabilities(strategy, expected):
    agent = make_agent("expected-sarsa", strategy, alpha=1.0, gamma=0.5, n_actions=4)
    agent.q[0, 1] = [1.0, 3.0, 3.0, -2.0]
    before = agent.values().copy()
    step(agent, obs=[0], action=[3], reward=[2.0], next_obs=[1])
    assert agent.q[0, 0, 3] == pytest.approx(2.0 + 0.5 * expected)
    assert_only_changed(before, agent.values(), [(0, 0, 3)])


def test_expected_sarsa_matches_the_strategy_probs_method_on_random_tables():
    rng = np.random.default_rng(7)
    strategy = EpsilonGreedy(0.3)
    agent = make_agent(
        "expected-sarsa", strategy, alpha=1.0, gamma=0.8, n_states=5, n_actions=4, runs=6
    )
    agent.q[:] = rng.integers(-3, 3, size=agent.q.shape)  # integers: ties happen
    next_q = agent.q[np.arange(6), 4].copy()
    step(agent, obs=[0] * 6, action=[1] * 6, reward=[0.5] * 6, next_obs=[4] * 6)
    probs = strategy.probs(next_q)
    np.testing.assert_allclose(agent.q[:, 0, 1], 0.5 + 0.8 * (probs * next_q).sum(axis=1))


@pytest.mark.parametrize("learner", TD_LEARNERS)
def test_terminated_drops_the_bootstrap_truncated_keeps_it(learner):
    # Q(s'=1, .) = 2 everywhere: every learner's bootstrapped value of s' is 2.
    agent = make_agent(learner, EpsilonGreedy(0.1), alpha=1.0, gamma=0.5, runs=3)
    agent.q[:, 1] = 2.0
    step(
        agent,
        obs=[0, 0, 0],
        action=[0, 0, 0],
        reward=[-1.0, -1.0, -1.0],
        next_obs=[1, 1, 1],
        terminated=[False, True, False],
        truncated=[False, False, True],
    )
    np.testing.assert_allclose(agent.q[:, 0, 0], [-1.0 + 0.5 * 2, -1.0, -1.0 + 0.5 * 2])


@pytest.mark.parametrize("learner", TD_LEARNERS)
def test_gamma_zero_is_the_reward_alone(learner):
    agent = make_agent(learner, alpha=1.0, gamma=0.0)
    agent.q[0, 1] = [7.0, 8.0, 9.0]
    step(agent, obs=[0], action=[2], reward=[3.0], next_obs=[1])
    assert agent.q[0, 0, 2] == 3.0


def test_bandit_learner_ignores_the_next_state():
    agent = make_agent("bandit", alpha=1.0, gamma=1.0, runs=2)
    agent.q[:, 1] = 100.0
    step(agent, obs=[0, 2], action=[1, 2], reward=[3.0, -4.0], next_obs=[1, 1])
    assert agent.q[0, 0, 1] == 3.0 and agent.q[1, 2, 2] == -4.0
    assert agent.planned is None


def test_bandit_learner_on_one_state_ignores_whatever_next_obs_says():
    agent = make_agent("bandit", alpha=None, n_states=1, n_actions=2)
    step(agent, obs=[0], action=[1], reward=[2.0], next_obs=[0], terminated=[False])
    step(agent, obs=[0], action=[1], reward=[4.0], next_obs=[0], truncated=[True])
    np.testing.assert_allclose(agent.values(), [[[0.0, 3.0]]])


@pytest.mark.parametrize(
    ("n_states", "learner"), [(1, "bandit"), (2, "q-learning"), (16, "q-learning")]
)
def test_auto_learner_is_bandit_for_one_state_and_q_learning_otherwise(n_states, learner):
    agent = make_agent("auto", alpha=1.0, gamma=0.5, n_states=n_states, n_actions=2)
    assert agent.learner == learner
    next_state = n_states - 1
    agent.q[0, next_state] = [1.0, 6.0]  # for one state, s' = s and the bandit ignores it
    step(agent, obs=[0], action=[0], reward=[1.0], next_obs=[next_state])
    assert agent.q[0, 0, 0] == (1.0 if learner == "bandit" else 1.0 + 0.5 * 6.0)


def test_explicit_learner_is_kept():
    for learner in ("bandit", *TD_LEARNERS):
        assert make_agent(learner).learner == learner
    assert make_agent("q-learning", n_states=1).learner == "q-learning"


# -- step sizes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("initial", [0.0, 10.0])
def test_sample_average_versus_constant_alpha(initial):
    rewards = [1.0, 2.0, 6.0]
    averaged = make_agent("q-learning", alpha=None, initial=initial)
    constant = make_agent("q-learning", alpha=0.5, initial=initial)
    for agent in (averaged, constant):
        for reward in rewards:
            step(agent, obs=[0], action=[1], reward=[reward], next_obs=[1], terminated=[True])
    # Sample averages forget Q1 at the first step (step 1/1); constant alpha weights it (1/2)^n.
    assert averaged.q[0, 0, 1] == pytest.approx(np.mean(rewards))
    expected = initial
    for reward in rewards:
        expected += 0.5 * (reward - expected)
    assert constant.q[0, 0, 1] == pytest.approx(expected)
    assert averaged.counts[0, 0, 1] == 3 and constant.counts[0, 0, 1] == 3
    assert averaged.q[0, 0, 0] == initial  # untouched entries keep Q1


def test_sample_average_counts_are_per_state_action_and_run():
    agent = make_agent("q-learning", alpha=None, gamma=0.0, runs=2)
    step(agent, obs=[0, 0], action=[0, 0], reward=[2.0, 5.0], next_obs=[1, 1])
    step(agent, obs=[0, 1], action=[0, 0], reward=[4.0, 7.0], next_obs=[1, 1])
    step(agent, obs=[1, 0], action=[0, 0], reward=[9.0, 1.0], next_obs=[1, 1])
    assert agent.q[0, 0, 0] == 3.0 and agent.q[0, 1, 0] == 9.0
    assert agent.q[1, 0, 0] == 3.0 and agent.q[1, 1, 0] == 7.0
    np.testing.assert_array_equal(agent.counts[0, :2, 0], [2, 1])
    np.testing.assert_array_equal(agent.counts[1, :2, 0], [2, 1])


# -- the agents the registry builds on a discrete-state env ----------------------------------------
@pytest.fixture(scope="module")
def grid_spaces():
    env = gym.make("rlcourse/GridWorld-v0")  # 4x4: Discrete(16) states, Discrete(4) actions
    return env.observation_space, env.action_space


@pytest.mark.parametrize(
    ("name", "strategy"),
    [("greedy", Greedy), ("epsilon-greedy", EpsilonGreedy), ("decaying-epsilon", DecayingEpsilon)],
)
@pytest.mark.parametrize("learner", TD_LEARNERS)
def test_registry_builds_a_tabular_learner_with_the_shared_strategy(
    grid_spaces, name, strategy, learner
):
    agent = agents.make(f"{name}:learner={learner},alpha=0.3,gamma=0.9", *grid_spaces)
    assert isinstance(agent, ActionValueAgent)
    assert type(agent.strategy) is strategy
    assert agent.learner == learner
    assert agent.learning == ValueLearning(alpha=0.3, initial=0.0, learner=learner, gamma=0.9)
    assert (agent.n_states, agent.n_actions) == (16, 4)


def test_registry_default_learner_on_a_gridworld_is_q_learning(grid_spaces):
    agent = agents.make("epsilon-greedy:epsilon=0.1,alpha=0.5", *grid_spaces)
    assert agent.learning.learner == "auto" and agent.learner == "q-learning"
    assert agent.learning.gamma == 1.0


def test_values_shape_and_live_table(grid_spaces):
    agent = agents.make("epsilon-greedy:initial=-2,learner=sarsa", *grid_spaces)
    agent.reset(5, np.random.default_rng(0))
    values = agent.values()
    assert values.shape == (5, 16, 4)
    assert (values == -2.0).all()
    step(
        agent,
        obs=[5] * 5,
        action=[1] * 5,
        reward=[-1.0] * 5,
        next_obs=[6] * 5,
        terminated=[True] * 5,
    )
    assert (agent.values()[:, 5, 1] != -2.0).all()
    agent.reset(2, np.random.default_rng(0))
    assert agent.values().shape == (2, 16, 4) and (agent.values() == -2.0).all()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "epsilon-greedy:learner=td",
            "agent 'epsilon-greedy': learner must be one of auto, bandit, q-learning, sarsa, "
            "expected-sarsa, got 'td'",
        ),
        ("epsilon-greedy:gamma=1.5", "agent 'epsilon-greedy': gamma must be in [0, 1], got 1.5"),
        ("greedy:gamma=-0.1", "agent 'greedy': gamma must be in [0, 1], got -0.1"),
        ("decaying-epsilon:gamma=x", "agent 'decaying-epsilon': gamma='x' is not a number"),
    ],
)
def test_learner_and_gamma_validation(grid_spaces, spec, message):
    with pytest.raises(SpecError) as excinfo:
        agents.make(spec, *grid_spaces)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"learner": "Q-learning"}, "learner must be one of"),
        ({"gamma": 1.01}, "gamma must be in [0, 1], got 1.01"),
        ({"alpha": 0.0}, "alpha must be in (0, 1]"),
    ],
)
def test_estimate_refuses_bad_values(kwargs, message):
    with pytest.raises(ValueError) as excinfo:
        ValueLearning(**kwargs)
    assert message in str(excinfo.value)
