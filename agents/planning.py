"""Dynamic programming on a known model ``P[s][a] = [(prob, next_state, reward, terminated)]``.

The format of Gymnasium's toy-text envs (``FrozenLake-v1``, ``CliffWalking-v1``, ``Taxi``) and
of ``rlcourse/GridWorld-v0``: value iteration and policy iteration (Sutton & Barto §4.3–4.4) give
the optimal reference that learned policies are checked against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Model = dict[int, dict[int, list[tuple[float, int, float, bool]]]]


@dataclass(frozen=True)
class Solution:
    """Optimal values and a greedy policy."""

    values: np.ndarray
    """V*(s), shape (S,)."""
    q: np.ndarray
    """Q*(s, a), shape (S, A)."""
    policy: np.ndarray
    """A greedy action per state (the first maximizer), shape (S,)."""
    iterations: int
    """Sweeps (value iteration) or improvement steps (policy iteration) taken."""


def model_arrays(P: Model) -> tuple[np.ndarray, np.ndarray]:
    """Expected rewards ``R[s, a]`` and transition probabilities ``T[s, a, s']`` (terminal: 0)."""
    n_states, n_actions = len(P), len(P[0])
    rewards = np.zeros((n_states, n_actions))
    transitions = np.zeros((n_states, n_actions, n_states))
    for s, row in P.items():
        for a, outcomes in row.items():
            for prob, nxt, reward, terminated in outcomes:
                rewards[s, a] += prob * reward
                if not terminated:
                    transitions[s, a, nxt] += prob
    return rewards, transitions


def q_from_values(P: Model, values: np.ndarray, gamma: float) -> np.ndarray:
    """One-step lookahead: Q(s, a) = Σ p (r + γ V(s') [not terminal])."""
    rewards, transitions = model_arrays(P)
    return rewards + gamma * transitions @ values


def value_iteration(P: Model, gamma: float = 1.0, theta: float = 1e-10, max_sweeps: int = 100_000):
    """Sweep V(s) ← max_a Σ p (r + γ V(s')) until the largest change is below ``theta``.

    Raises:
        ValueError: no convergence within ``max_sweeps`` (e.g. γ = 1 with a state that cannot end).
    """
    rewards, transitions = model_arrays(P)
    values = np.zeros(len(P))
    for sweep in range(1, max_sweeps + 1):
        q = rewards + gamma * transitions @ values
        new = q.max(axis=1)
        delta = np.abs(new - values).max()
        values = new
        if delta < theta:
            return Solution(values, q, q.argmax(axis=1), sweep)
    raise ValueError(f"value iteration did not converge in {max_sweeps} sweeps (gamma={gamma})")


def evaluate_policy(P: Model, policy: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """V^π of a deterministic policy, solving the linear Bellman equations exactly."""
    rewards, transitions = model_arrays(P)
    states = np.arange(len(P))
    t_pi = transitions[states, policy]
    return np.linalg.solve(np.eye(len(P)) - gamma * t_pi, rewards[states, policy])


def proper_policy(P: Model) -> np.ndarray:
    """A policy that ends every episode with probability 1 (needed to evaluate it with γ = 1).

    Built backwards: first the states with an action that can end the episode, then, sweep by
    sweep, states with an action that can reach a state already covered.

    Raises:
        ValueError: a state from which no action sequence can end the episode.
    """
    n_states = len(P)
    policy = np.full(n_states, -1)
    for s, row in P.items():
        for a, outcomes in row.items():
            if any(term and prob > 0 for prob, _, _, term in outcomes):
                policy[s] = a
                break
    while (policy < 0).any():
        covered = policy >= 0
        added = False
        for s in np.flatnonzero(~covered):
            for a, outcomes in P[s].items():
                if any(prob > 0 and covered[nxt] for prob, nxt, _, _ in outcomes):
                    policy[s], added = a, True
                    break
        if not added:
            stuck = np.flatnonzero(policy < 0).tolist()
            raise ValueError(f"no policy ends an episode from states {stuck}")
    return policy


def policy_iteration(P: Model, gamma: float = 1.0, max_steps: int = 10_000) -> Solution:
    """Alternate exact evaluation and greedy improvement until the policy is stable.

    Starts from :func:`proper_policy`; improvement keeps a policy proper when rewards are
    negative until the end (the layouts here), so every evaluation is well defined.
    """
    rewards, transitions = model_arrays(P)
    policy = proper_policy(P)
    for step in range(1, max_steps + 1):
        try:
            values = evaluate_policy(P, policy, gamma)
        except np.linalg.LinAlgError:
            raise ValueError(f"policy {policy.tolist()} never ends an episode (gamma=1)") from None
        q = rewards + gamma * transitions @ values
        best = q.max(axis=1, keepdims=True)
        stable = np.isclose(q[np.arange(len(P)), policy], best[:, 0], atol=1e-9)
        if stable.all():
            return Solution(values, q, policy, step)
        policy = np.where(stable, policy, q.argmax(axis=1))
    raise ValueError(f"policy iteration did not converge in {max_steps} steps")
