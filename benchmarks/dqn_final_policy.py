"""Does DQN's final policy on CartPole-v1 keep what it learnt? rlcourse alone, 10 seeds.

Trains ``rlcourse train dqn CartPole-v1`` for 50 000 steps per seed (greedy evaluation every
5000), with rlcourse's defaults changed by ``--set``, and counts the seeds whose final policy and
whose best evaluation reach 475. Two seeds run at once (``--workers``).

    python benchmarks/dqn_final_policy.py --set lr_end=none          # a constant learning rate
    python benchmarks/dqn_final_policy.py                            # the defaults
"""

from __future__ import annotations

import argparse
import tempfile
from multiprocessing import Pool
from pathlib import Path

SOLVED = 475.0


def one(job: tuple[int, list[str], int]) -> tuple[int, float, float, list[float]]:
    import pandas as pd
    import torch

    from rlcourse.training.settings import dqn_config
    from rlcourse.training.train import train_dqn

    seed, settings, steps = job
    torch.set_num_threads(1)
    config = dqn_config(dict(item.split("=", 1) for item in settings))
    with tempfile.TemporaryDirectory() as out:
        metrics = train_dqn("CartPole-v1", Path(out), steps=steps, seed=seed, config=config,
                            eval_every=5000, progress=False)  # fmt: skip
        curve = pd.read_csv(Path(out) / "evaluations.csv").mean_return.round(1).tolist()
    return seed, metrics["final_eval_return"], metrics["best_eval_return"], curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    jobs = [(seed, args.set, args.steps) for seed in range(args.seeds)]
    with Pool(args.workers) as pool:
        rows = pool.map(one, jobs)
    for seed, final, best, curve in rows:
        print(f"seed {seed}: final {final:6.1f}  best {best:6.1f}  evaluations {curve}")
    final = sum(row[1] >= SOLVED for row in rows)
    best = sum(row[2] >= SOLVED for row in rows)
    print(f"settings {args.set or 'default'}: final policy >= {SOLVED:.0f} on {final}/{len(rows)}"
          f" seeds, best evaluation on {best}/{len(rows)}")  # fmt: skip


if __name__ == "__main__":
    main()
