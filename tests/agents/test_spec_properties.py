"""Property tests: any text as an agent spec gives an agent or one clear SpecError."""

from __future__ import annotations

import gymnasium as gym
from hypothesis import given, settings
from hypothesis import strategies as st

import agents
import envs  # noqa: F401  (registers rlcourse/Bandit-v0)
from agents import SpecError, format_spec, parse_spec
from agents.registry import check

BANDIT = gym.make("rlcourse/Bandit-v0")
TORCH_AGENTS = {"dqn", "pixel-dqn"}  # checked without an env only: building one costs seconds

NAMES = st.sampled_from([*agents.AGENTS, "", "nope", " ucb ", "UCB"])
KEYS = st.sampled_from(
    sorted({name for entry in agents.AGENTS.values() for name, _, _ in entry.parameters()})
)
NUMBERS = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.builds("{}/{}".format, st.integers(-9, 9), st.integers(-9, 9)),
    st.builds("{}^{}".format, st.floats(-1e3, 1e3).map(repr), st.floats(-400, 400).map(repr)),
    st.builds("{}x{}".format, st.integers(-3, 300), st.integers(-3, 300)),
)
VALUES = st.one_of(NUMBERS, st.sampled_from(["none", "true", "off", "linear", "sarsa"]), st.text())
SPECS = st.one_of(
    st.text(),
    st.builds(
        lambda name, pairs: format_spec(name, dict(pairs)),
        NAMES,
        st.lists(st.tuples(st.one_of(KEYS, st.text(max_size=5)), VALUES), max_size=4),
    ),
)


def _one_line(err: Exception) -> str:
    message = str(err)
    assert message and "\n" not in message, message
    return message


@settings(max_examples=500, deadline=None)
@given(SPECS)
def test_any_text_builds_an_agent_or_raises_one_spec_error(spec):
    try:
        name, params = parse_spec(spec)
        assert parse_spec(format_spec(name, params)) == (name, params)  # it writes back as read
        entry, parts = check(spec)
    except SpecError as err:
        _one_line(err)
        return
    assert entry.name == name
    if entry.name in TORCH_AGENTS:
        return
    try:
        agent = agents.make(spec, BANDIT.observation_space, BANDIT.action_space)
    except SpecError as err:  # the agent does not fit the bandit
        assert "needs" in _one_line(err)
        return
    assert isinstance(agent, agents.Agent)
