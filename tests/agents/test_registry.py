"""Agent specs and the registry (agents.specs, agents.registry, agents.make)."""

import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import agents
import envs  # noqa: F401  (registers rlcourse/Bandit-v0)
from agents import SpecError, format_spec, parse_spec
from agents.bandit import GradientBanditAgent
from agents.registry import check
from agents.specs import parse_number
from agents.strategies import UCB, DecayingEpsilon, EpsilonGreedy, Greedy
from agents.tabular import ActionValueAgent
from agents.uniform import RandomAgent

BANDIT = gym.make("rlcourse/Bandit-v0")
OBS, ACT = BANDIT.observation_space, BANDIT.action_space
CARTPOLE = gym.make("CartPole-v1")


BANDIT_AGENTS = [name for name, entry in agents.AGENTS.items() if entry.fits(OBS, ACT)]


def make(spec, **params):
    return agents.make(spec, OBS, ACT, **params)


def raises_exactly(message):
    return pytest.raises(SpecError, match=f"^{re.escape(message)}$")


# -- spec strings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "name", "params"),
    [
        ("random", "random", {}),
        ("epsilon-greedy:epsilon=0.1", "epsilon-greedy", {"epsilon": "0.1"}),
        (
            "decaying-epsilon:start=1,end=0.01,schedule=linear",
            "decaying-epsilon",
            {"start": "1", "end": "0.01", "schedule": "linear"},
        ),
        ("ucb:c=2^1", "ucb", {"c": "2^1"}),
    ],
)
def test_parse_and_format_round_trip(spec, name, params):
    assert parse_spec(spec) == (name, params)
    assert format_spec(name, params) == spec
    assert parse_spec(format_spec(name, params)) == (name, params)


def test_parse_spec_keeps_order_and_strips_spaces():
    name, params = parse_spec("  ucb: c = 1 , initial=5 ,alpha=0.1,  ")
    assert name == "ucb"
    assert list(params.items()) == [("c", "1"), ("initial", "5"), ("alpha", "0.1")]
    assert format_spec(name, params) == "ucb:c=1,initial=5,alpha=0.1"


def test_format_spec_of_python_values():
    assert format_spec("epsilon-greedy", {"epsilon": 0.25, "alpha": None}) == (
        "epsilon-greedy:epsilon=0.25,alpha=None"
    )
    assert parse_spec("epsilon-greedy:epsilon=0.25,alpha=None")[1] == {
        "epsilon": "0.25",
        "alpha": "None",
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.5", 0.5),
        ("1/128", 1 / 128),
        ("2^-3", 0.125),
        ("2^-7", 1 / 128),
        ("3/4", 0.75),
        ("1e-2", 0.01),
    ],
)
def test_parse_number(text, value):
    assert parse_number(text) == value


def test_fraction_and_power_values_reach_the_agent():
    agent = make("epsilon-greedy:epsilon=1/128")
    assert agent.strategy.epsilon == 0.0078125
    assert make("epsilon-greedy:epsilon=2^-3").strategy.epsilon == 0.125
    assert make("ucb:c=2^-1").strategy.c == 0.5
    assert make("decaying-epsilon:duration=2^10").strategy.duration == 1024
    assert isinstance(make("decaying-epsilon:duration=2^10").strategy.duration, int)


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("yes", True), ("True", True), ("false", False), ("no", False), ("NO", False)],
)
def test_boolean_values(text, value):
    agent = make(f"gradient-bandit:baseline={text}")
    assert agent.preferences.baseline is value


@pytest.mark.parametrize("text", ["none", "None", "NONE"])
def test_alpha_none_means_sample_averages(text):
    agent = make(f"epsilon-greedy:alpha={text}")
    assert agent.learning.alpha is None
    assert make("epsilon-greedy:alpha=0.1").learning.alpha == 0.1


def test_spec_values_reach_every_part():
    agent = make(
        "decaying-epsilon:start=0.5,end=0.05,duration=20,schedule=inverse,alpha=0.2,initial=3"
    )
    assert agent.strategy == DecayingEpsilon(start=0.5, end=0.05, duration=20, schedule="inverse")
    assert agent.learning.alpha == 0.2 and agent.learning.initial == 3.0
    agent.reset(2, np.random.default_rng(0))
    np.testing.assert_array_equal(agent.q, 3.0)


# -- the registry ----------------------------------------------------------------------------------

EXPECTED_TYPES = {
    "random": (RandomAgent, None),
    "greedy": (ActionValueAgent, Greedy),
    "epsilon-greedy": (ActionValueAgent, EpsilonGreedy),
    "decaying-epsilon": (ActionValueAgent, DecayingEpsilon),
    "ucb": (ActionValueAgent, UCB),
    "gradient-bandit": (GradientBanditAgent, None),
}


def test_registry_names_the_documented_bandit_agents():
    assert set(EXPECTED_TYPES) <= set(agents.AGENTS)
    for name, entry in agents.AGENTS.items():
        assert entry.name == name and entry.summary


def test_only_the_per_pixel_dqn_does_not_fit_the_bandit():
    assert set(agents.AGENTS) - set(BANDIT_AGENTS) == {"pixel-dqn"}


@pytest.mark.parametrize("name", BANDIT_AGENTS)
def test_every_agent_builds_on_the_bandit_with_defaults(name):
    agent = make(name)
    assert isinstance(agent, agents.Agent)
    if name in EXPECTED_TYPES:
        cls, strategy = EXPECTED_TYPES[name]
        assert type(agent) is cls
        if strategy is not None:
            assert type(agent.strategy) is strategy
    n_runs = 7
    agent.reset(n_runs, np.random.default_rng(0))
    obs = np.zeros(n_runs, dtype=np.int64)
    for _ in range(3):
        action = agent.act(obs)
        assert action.shape == (n_runs,)
        assert all(ACT.contains(int(a)) for a in action)
        agent.update(obs, action, np.ones(n_runs), obs, *[np.zeros(n_runs, dtype=bool)] * 2, {})


@pytest.mark.parametrize("name", BANDIT_AGENTS)
def test_defaults_listed_by_parameters_are_the_defaults_used(name):
    entry = agents.AGENTS[name]
    for param, _, doc in entry.parameters():
        assert doc, f"{name}.{param} has no docstring"
    if entry.parts:
        built = make(name)
        parts = [
            getattr(built, attr)
            for attr in ("strategy", "estimate", "preferences")
            if hasattr(built, attr)
        ]
        defaults = {param: default for param, default, _ in entry.parameters()}
        for part in parts:
            for field, value in vars(part).items():
                assert defaults[field] == value


def test_agent_protocol_rejects_incomplete_objects():
    class NoUpdate:
        def reset(self, n_runs, rng): ...

        def act(self, obs): ...

    assert not isinstance(NoUpdate(), agents.Agent)


def test_keyword_params_override_spec_params():
    agent = make("epsilon-greedy:epsilon=0.5,alpha=0.1", epsilon=0.25)
    assert agent.strategy.epsilon == 0.25
    assert agent.learning.alpha == 0.1  # untouched spec params stay
    agent = make("epsilon-greedy:alpha=0.1", alpha=None)
    assert agent.learning.alpha is None
    assert make("ucb", c="1/2").strategy.c == 0.5  # strings are parsed like spec values


# -- errors ----------------------------------------------------------------------------------------


def test_spec_error_is_a_value_error():
    assert issubclass(SpecError, ValueError)


def test_unknown_agent_lists_the_known_names():
    with pytest.raises(SpecError) as err:
        make("sarsa-lambda:alpha=0.1")
    message = str(err.value)
    assert message.startswith("unknown agent 'sarsa-lambda' (agents: ")
    assert message == f"unknown agent 'sarsa-lambda' (agents: {', '.join(agents.AGENTS)})"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "epsilon-greedy:eps=0.1",
            "agent 'epsilon-greedy' has no parameter 'eps' "
            "(parameters: epsilon, alpha, initial, learner, gamma)",
        ),
        (
            "ucb:temperature=1",
            "agent 'ucb' has no parameter 'temperature' "
            "(parameters: c, alpha, initial, learner, gamma)",
        ),
        ("random:epsilon=0.1", "agent 'random' has no parameter 'epsilon' (parameters: none)"),
        ("epsilon-greedy:epsilon=abc", "agent 'epsilon-greedy': epsilon='abc' is not a number"),
        ("epsilon-greedy:epsilon=1/0", "agent 'epsilon-greedy': epsilon='1/0' is not a number"),
        ("epsilon-greedy:epsilon=inf", "agent 'epsilon-greedy': epsilon='inf' is not a number"),
        ("epsilon-greedy:initial=nan", "agent 'epsilon-greedy': initial='nan' is not a number"),
        (
            "decaying-epsilon:duration=1.5",
            "agent 'decaying-epsilon': duration='1.5' is not an integer",
        ),
        (
            "gradient-bandit:baseline=maybe",
            "agent 'gradient-bandit': baseline='maybe' is not true or false",
        ),
        ("epsilon-greedy:epsilon=2", "agent 'epsilon-greedy': epsilon must be in [0, 1], got 2.0"),
        (
            "epsilon-greedy:alpha=0",
            "agent 'epsilon-greedy': alpha must be in (0, 1] (or none for sample averages), "
            "got 0.0",
        ),
        (
            "epsilon-greedy:alpha=1.5",
            "agent 'epsilon-greedy': alpha must be in (0, 1] (or none for sample averages), "
            "got 1.5",
        ),
        ("ucb:c=-1", "agent 'ucb': c must be >= 0, got -1.0"),
        ("gradient-bandit:alpha=0", "agent 'gradient-bandit': alpha must be > 0, got 0.0"),
        (
            "decaying-epsilon:start=0.1,end=0.5",
            "agent 'decaying-epsilon': end (0.5) must not exceed start (0.1)",
        ),
        ("ucb:c", "agent spec 'ucb:c': 'c' is not KEY=VALUE"),
        ("ucb:c=", "agent spec 'ucb:c=': 'c=' is not KEY=VALUE"),
        ("ucb:=2", "agent spec 'ucb:=2': '=2' is not KEY=VALUE"),
        ("ucb:c=1,c=2", "agent spec 'ucb:c=1,c=2': 'c' given twice"),
        ("", "agent spec '' has no name; expected NAME[:KEY=VALUE,...]"),
        (":epsilon=0.1", "agent spec ':epsilon=0.1' has no name; expected NAME[:KEY=VALUE,...]"),
    ],
)
def test_bad_specs_raise_spec_error_with_exact_message(spec, message):
    with raises_exactly(message):
        make(spec)
    with raises_exactly(message):  # the same without an env: what a dry run checks
        check(spec)


def test_check_builds_the_hyperparameters_without_an_env():
    entry, parts = check("ucb:c=2^1,alpha=0.5")
    assert entry is agents.AGENTS["ucb"]
    assert parts[0] == UCB(c=2.0)
    assert parts[1].alpha == 0.5
    assert check("pixel-dqn")[0].name == "pixel-dqn"  # its fit to spaces is make's to check


def test_negative_base_with_fractional_power_is_not_a_number():
    with raises_exactly("agent 'epsilon-greedy': epsilon='-2^0.5' is not a number"):
        make("epsilon-greedy:epsilon=-2^0.5")


def test_parse_spec_alone_refuses_malformed_specs():
    with raises_exactly("agent spec 'ucb:c': 'c' is not KEY=VALUE"):
        parse_spec("ucb:c")
    with raises_exactly("agent spec 'a:x=1,x=1': 'x' given twice"):
        parse_spec("a:x=1,x=1")


def test_bad_keyword_params_raise_spec_error():
    with raises_exactly("agent 'epsilon-greedy': epsilon must be in [0, 1], got 3"):
        make("epsilon-greedy", epsilon=3)
    with raises_exactly(
        "agent 'ucb' has no parameter 'k' (parameters: c, alpha, initial, learner, gamma)"
    ):
        make("ucb", k=3)


TABULAR = ["greedy", "epsilon-greedy", "decaying-epsilon", "ucb", "gradient-bandit"]


@pytest.mark.parametrize("name", TABULAR)
def test_tabular_agent_on_cartpole_says_which_agents_fit(name):
    fitting = ["random", "dqn"]
    message = (
        f"agent {name!r} needs discrete observations (Discrete, MultiDiscrete, or a Tuple/Dict "
        "of them) and Discrete actions, but the env has "
        "observations Box(shape=(4,), dtype=float32) and actions Discrete(2); "
        f"agents that fit: {', '.join(fitting)}"
    )
    with raises_exactly(message):
        agents.make(name, CARTPOLE.observation_space, CARTPOLE.action_space)


def test_random_fits_cartpole_and_box_actions():
    agent = agents.make("random", CARTPOLE.observation_space, CARTPOLE.action_space)
    agent.reset(4, np.random.default_rng(0))
    assert set(agent.act(np.zeros((4, 4)))) <= {0, 1}
    box = spaces.Box(-2.0, 2.0, shape=(3,), dtype=np.float32)
    agent = agents.make("random", CARTPOLE.observation_space, box)
    agent.reset(4, np.random.default_rng(0))
    actions = agent.act(np.zeros((4, 4)))
    assert actions.shape == (4, 3) and all(box.contains(a) for a in actions)


def test_the_agents_themselves_say_whether_they_train_networks():
    from agents.base import trains_networks

    class NewTorchAgent:  # an agent rlcourse has never heard of, marked as TrainsNetworks says
        trains_networks = True

    env = gym.make("CartPole-v1")
    built = {spec: agents.make(spec, env.observation_space, env.action_space)
             for spec in ("random", "dqn")}  # fmt: skip
    assert not trains_networks([built["random"]])
    assert trains_networks([built["random"], built["dqn"]])
    assert trains_networks([NewTorchAgent()])
