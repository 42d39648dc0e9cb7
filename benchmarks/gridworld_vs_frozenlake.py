"""GridWorld-v0 against Gymnasium's FrozenLake-v1 and sync vector env, and the Figure 6.4 timing.

Everything runs here, in one process:

(a) one env through ``gymnasium.make``: ``rlcourse/GridWorld-v0`` with layout ``frozen-8x8`` against
    ``FrozenLake-v1`` (map 8x8, slippery), the same number of steps with the same pre-drawn random
    actions (mapped to FrozenLake's action order), resetting when an episode ends; best of N.
(b) 1000 runs at once: the native vector env (``vectorization_mode="vector_entry_point"``) against
    Gymnasium's ``SyncVectorEnv`` of the same id (``vectorization_mode="sync"``); env steps per
    second = batch steps per second x 1000; best of N.
(c) Sutton & Barto Figure 6.4 in full: SARSA and Q-learning (epsilon = 0.1, alpha = 0.5) on the
    cliff, 100 runs x 500 episodes, through ``rlcourse.compare``; wall time and the mean return over
    episodes 101-500 (the book's figure: SARSA about -25, Q-learning about -50).

    python benchmarks/gridworld_vs_frozenlake.py [--quick] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers rlcourse/GridWorld-v0)
import rlcourse

GRID = "rlcourse/GridWorld-v0"
#: Our actions are 0 up, 1 right, 2 down, 3 left; FrozenLake's 0 left, 1 down, 2 right, 3 up.
TO_LAKE = (3, 2, 1, 0)
FIGURE_6_4 = {
    "SARSA": "epsilon-greedy:epsilon=0.1,alpha=0.5,learner=sarsa",
    "Q-learning": "epsilon-greedy:epsilon=0.1,alpha=0.5,learner=q-learning",
}
BOOK = {"SARSA": -25.0, "Q-learning": -50.0}


def single_env_rate(env: gym.Env, actions: list[int], repeats: int) -> tuple[float, float]:
    """Best steps per CPU second over ``repeats``, and the mean episode length (a sanity check)."""
    best, lengths = 0.0, []
    for repeat in range(repeats):
        env.reset(seed=repeat)
        episodes = 0
        start = time.process_time()
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
                episodes += 1
        best = max(best, len(actions) / (time.process_time() - start))
        lengths.append(len(actions) / max(episodes, 1))
    return best, float(np.mean(lengths))


def vector_env_rate(vec: gym.vector.VectorEnv, actions: np.ndarray, repeats: int) -> float:
    """Best env steps (batch steps x batch size) per CPU second over ``repeats``."""
    best = 0.0
    for repeat in range(repeats):
        vec.reset(seed=repeat)
        start = time.process_time()
        for batch in actions:
            vec.step(batch)
        best = max(best, actions.size / (time.process_time() - start))
    return best


def figure_6_4(runs: int, episodes: int) -> tuple[float, float, dict[str, float]]:
    """Wall and CPU seconds of the comparison, and each learner's mean return over 101-500."""
    agents = list(FIGURE_6_4.values())
    kwargs = {"env_kwargs": {"layout": "cliff"}, "progress": False}
    rlcourse.compare("gridworld", agents, runs=2, episodes=2, **kwargs)  # warm-up: imports
    wall, cpu = time.perf_counter(), time.process_time()
    results = rlcourse.compare("gridworld", agents, runs=runs, episodes=episodes, **kwargs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    means = {
        name: float(results.data[spec]["return"][:, 100:].mean())
        for name, spec in FIGURE_6_4.items()
    }
    return wall, cpu, means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and runs (a smoke run)")
    parser.add_argument("--repeats", type=int, default=3, help="(a), (b): best of N")
    parser.add_argument("--num-envs", type=int, default=1000)
    args = parser.parse_args()
    single_steps = 20_000 if args.quick else 200_000
    native_batches, sync_batches = (100, 10) if args.quick else (2000, 100)
    runs = 20 if args.quick else 100
    rng = np.random.default_rng(0)

    # (a) one env each, through gym.make
    actions = rng.integers(4, size=single_steps).tolist()
    ours_env = gym.make(GRID, layout="frozen-8x8")
    lake_env = gym.make("FrozenLake-v1", map_name="8x8", is_slippery=True)
    ours_a, ours_len = single_env_rate(ours_env, actions, args.repeats)
    lake_a, lake_len = single_env_rate(lake_env, [TO_LAKE[a] for a in actions], args.repeats)

    # (b) a batch of runs: native numpy vector env against Gymnasium's sync vector env
    n = args.num_envs
    native = gym.make_vec(
        GRID, num_envs=n, vectorization_mode="vector_entry_point", layout="frozen-8x8"
    )
    sync = gym.make_vec(GRID, num_envs=n, vectorization_mode="sync", layout="frozen-8x8")
    native_b = vector_env_rate(native, rng.integers(4, size=(native_batches, n)), args.repeats)
    sync_b = vector_env_rate(sync, rng.integers(4, size=(sync_batches, n)), args.repeats)
    native.close()
    sync.close()

    # (c) Figure 6.4
    wall, cpu, means = figure_6_4(runs, 500)

    print(
        f"GridWorld-v0 frozen-8x8 vs FrozenLake-v1 8x8 slippery (CPU time, best of {args.repeats})"
    )
    print(f"{'measurement':34s} {'rlcourse':>14s} {'peer':>14s} {'ratio':>8s}  target")
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    ratio_a, ratio_b = ours_a / lake_a, native_b / sync_b
    print(
        f"{'(a) gym.make, steps/s':34s} {ours_a:14,.0f} {lake_a:14,.0f} {ratio_a:7.2f}x"
        f"  >= 1.0x {ok(ratio_a >= 1.0)}"
    )
    print(
        f"{f'(b) {n} envs, env steps/s':34s} {native_b:14,.0f} {sync_b:14,.0f} {ratio_b:7.0f}x"
        f"  >= 50x {ok(ratio_b >= 50)}"
    )
    print(
        f"    (a) {single_steps:,} steps each; mean episode length {ours_len:.1f} vs"
        f" {lake_len:.1f} (random actions: same dynamics, same length)"
    )
    print(f"    (b) {native_batches:,} native and {sync_batches:,} sync batch steps")
    target = f"< 10 s {ok(wall < 10)}" if runs == 100 else "(--quick: no target)"
    print(
        f"(c) Figure 6.4, 2 learners x {runs} runs x 500 episodes on the cliff:"
        f" {wall:.2f} s wall ({cpu:.2f} s CPU)  {target}"
    )
    print("    mean return over episodes 101-500 (book):")
    for name, mean in means.items():
        print(f"      {name:12s} {mean:8.2f}  ({BOOK[name]:+.0f})")


if __name__ == "__main__":
    main()
