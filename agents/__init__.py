"""Agents over batches of independent runs, sharing one interface and one set of strategies.

>>> import agents, gymnasium as gym   # importing agents registers the rlcourse/ env ids too
>>> env = gym.make("rlcourse/Bandit-v0")
>>> agent = agents.make("epsilon-greedy:epsilon=0.1", env.observation_space, env.action_space)
"""

import envs  # noqa: F401  (registers the rlcourse/ ids: the only use agents makes of envs)
from agents.base import Agent, KeepsActionValues
from agents.registry import AGENTS, make
from agents.specs import SpecError, format_spec, parse_spec

__all__ = ["AGENTS", "Agent", "KeepsActionValues", "SpecError", "format_spec", "make", "parse_spec"]
