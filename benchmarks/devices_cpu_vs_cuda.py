"""CPU against CUDA for the torch work of rlcourse, same script, same settings.

Three workloads, each timed on every device this machine has (``cpu``, and ``cuda`` where
``torch.cuda.is_available()``):

- ``supervised cnn``: the digits CNN experiment (``--epochs``);
- ``train dqn MinAtar/Breakout-v1``: its preset, shortened to ``--dqn-steps`` env steps;
- the per-pixel DQN: ``pixel-dqn`` on ``pixel-denoise`` for ``--pixel-episodes`` episodes.

    python benchmarks/devices_cpu_vs_cuda.py [--epochs 5] [--dqn-steps 10000]

Prints seconds per workload and device, and CUDA's speed-up over the CPU; on a machine without
CUDA it says so and times the CPU alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import rlcourse
from rlcourse.presets import preset_for
from rlcourse.training.settings import dqn_config
from rlcourse.training.train import train_dqn
from supervised.experiments import run


def supervised_cnn(device: str, args) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run("cnn", Path(out) / "cnn", device=device, epochs=args.epochs, seed=0)
        return time.perf_counter() - start


def minatar_dqn(device: str, args) -> float:
    preset = preset_for("MinAtar/Breakout-v1")
    overrides = {**preset.overrides(), "learning_starts": "1000",
                 "exploration_steps": str(args.dqn_steps // 2)}  # fmt: skip
    with tempfile.TemporaryDirectory() as out:
        metrics = train_dqn("MinAtar/Breakout-v1", Path(out) / "run", env_kwargs=preset.env_kwargs,
                            steps=args.dqn_steps, seed=0, config=dqn_config(overrides),
                            eval_every=args.dqn_steps, eval_episodes=2, progress=False,
                            device=device)  # fmt: skip
    return metrics["train_seconds"]


def pixel_dqn(device: str, args) -> float:
    start = time.perf_counter()
    rlcourse.compare("pixel-denoise", ["pixel-dqn"], runs=1, episodes=args.pixel_episodes,
                     progress=False, device=device)  # fmt: skip
    return time.perf_counter() - start


WORKLOADS = {"supervised cnn": supervised_cnn, "train dqn MinAtar": minatar_dqn,
             "pixel-dqn": pixel_dqn}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dqn-steps", type=int, default=10_000)
    parser.add_argument("--pixel-episodes", type=int, default=20)
    args = parser.parse_args()
    names = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if len(names) == 1:
        print("no CUDA device on this machine: timing the CPU alone")
    else:
        print(f"CUDA: {torch.cuda.get_device_name(0)}")
    torch.set_num_threads(1)  # rlcourse's default for its small networks on a CPU
    for workload, measure in WORKLOADS.items():
        seconds = {device: measure(device, args) for device in names}
        line = "  ".join(f"{device} {s:7.1f} s" for device, s in seconds.items())
        if "cuda" in seconds:
            line += f"  CUDA speed-up {seconds['cpu'] / seconds['cuda']:.2f}x"
        print(f"{workload:20s} {line}", flush=True)


if __name__ == "__main__":
    main()
