"""Figure 2.2 through rlcourse against the per-run, per-step Python loop of a course notebook.

The peer is the way the testbed is usually written by hand: one ``gym.make`` env, a small agent
class acting on one step at a time, and a loop over runs and steps. Both run here, in one process,
on the same problem (2000 runs x 1000 steps, greedy and epsilon = 0.01 / 0.1).

The loop's cost is linear in the number of runs (runs are independent and identical in work), so by
default it runs ``--loop-runs`` of them and scales to 2000; ``--loop-runs 2000`` runs them all.

    python benchmarks/bandit_vs_loop.py [--loop-runs 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers rlcourse/Bandit-v0)
import rlcourse
from rlcourse.figures import FIGURES

EPSILONS = {"greedy": 0.0, "epsilon-greedy:epsilon=0.01": 0.01, "epsilon-greedy:epsilon=0.1": 0.1}


class NotebookAgent:
    """Sample-average epsilon-greedy for one run, one step at a time."""

    def __init__(self, k: int, epsilon: float, rng: np.random.Generator):
        self.q, self.n = np.zeros(k), np.zeros(k)
        self.epsilon, self.rng = epsilon, rng

    def act(self) -> int:
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(len(self.q)))
        return int(self.rng.choice(np.flatnonzero(self.q == self.q.max())))

    def update(self, action: int, reward: float) -> None:
        self.n[action] += 1
        self.q[action] += (reward - self.q[action]) / self.n[action]


def notebook_loop(epsilon: float, runs: int, steps: int) -> np.ndarray:
    rewards = np.zeros((runs, steps))
    env = gym.make("rlcourse/Bandit-v0")
    for run in range(runs):
        env.reset(seed=run)
        agent = NotebookAgent(env.action_space.n, epsilon, np.random.default_rng([run, 1]))
        for t in range(steps):
            action = agent.act()
            _, reward, _, _, _ = env.step(action)
            agent.update(action, reward)
            rewards[run, t] = reward
    return rewards


def best_of(repeats: int, fn):
    times, result = [], None
    for _ in range(repeats):
        start = time.process_time()
        result = fn()
        times.append(time.process_time() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--loop-runs", type=int, default=100, help="runs of the loop to time")
    parser.add_argument("--repeats", type=int, default=3, help="rlcourse timings: best of N")
    args = parser.parse_args()
    agents = list(FIGURES["2.2"].agents)
    rlcourse.compare("bandit", agents, runs=10, steps=10, progress=False)  # warm-up: imports

    ours, results = best_of(
        args.repeats,
        lambda: rlcourse.compare(
            "bandit", agents, runs=args.runs, steps=args.steps, progress=False
        ),
    )
    loop_measured = 0.0
    loop_rewards = {}
    for spec in agents:
        start = time.process_time()
        loop_rewards[spec] = notebook_loop(EPSILONS[spec], args.loop_runs, args.steps)
        loop_measured += time.process_time() - start
    loop = loop_measured * args.runs / args.loop_runs

    study_agents = list(FIGURES["2.6"].agents)
    study, _ = best_of(
        1,
        lambda: rlcourse.compare(
            "bandit", study_agents, runs=args.runs, steps=args.steps, progress=False
        ),
    )

    print(f"Figure 2.2: {len(agents)} agents x {args.runs} runs x {args.steps} steps (CPU seconds)")
    print(f"  rlcourse.compare (best of {args.repeats}):  {ours:8.3f} s")
    print(
        f"  notebook loop, {args.loop_runs} runs measured: {loop_measured:8.3f} s"
        f" -> {args.runs} runs: {loop:8.1f} s"
    )
    print(f"  speed-up: {loop / ours:8.0f}x")
    print("  final-100-step mean reward, rlcourse vs loop (same algorithm, different draws):")
    for spec in agents:
        a = results.data[spec]["reward"][:, -100:].mean()
        b = loop_rewards[spec][:, -100:].mean()
        print(f"    {spec:30s} {a:6.3f}  {b:6.3f}")
    print(f"Figure 2.6: {len(study_agents)} configurations: {study:8.3f} s")


if __name__ == "__main__":
    main()
