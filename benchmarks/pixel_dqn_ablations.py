"""What each part of the per-pixel DQN is worth: the report's agent against variants of it.

Every variant trains with the budget of ``rlcourse denoise report`` (same DnCNN, same training
crops, same seed) and is measured on the report's held-out crops, PSNR after every step. Beside
them: the DnCNN, and an oracle that picks at every pixel the filter whose output is nearest the
DnCNN's estimate of the noisy crop (what the estimate head would do if it learnt the DnCNN).

Run: python benchmarks/pixel_dqn_ablations.py [--sigma 25] [--seed 0] [--only NAME ...]
"""

import argparse
import time
from dataclasses import replace

import numpy as np

from agents.off_policy import GreedyPolicy
from envs.filters import apply_per_pixel, filter_bank
from rlcourse.denoise.config import REPORT_PIXEL_DQN, ReportConfig
from rlcourse.denoise.data import evaluation_set, mean_psnr
from rlcourse.denoise.training import rollout, train_dncnn, train_pixel_dqn
from supervised.dncnn import denoise
from supervised.train import single_thread

VARIANTS = {
    "report": {},
    "no-memory": {"pixel_dqn": replace(REPORT_PIXEL_DQN, memory=False)},
    "plain-head": {"pixel_dqn": replace(REPORT_PIXEL_DQN, estimate=False)},
    "all-actions": {"pixel_dqn": replace(REPORT_PIXEL_DQN, all_actions=True)},
    "trunk-from-rewards": {"pixel_from_dncnn": False},
}
"""Name → changes to the report's settings: the trunk reads the current image; a head with one
output per action instead of the estimate; learning from every action's reward map; a
randomly initialised trunk trained with the head (from rewards alone, nothing pretrained)."""


def per_step(noisy: np.ndarray, clean: np.ndarray, actions: np.ndarray) -> list[float]:
    """Mean PSNR after each step of per-pixel ``actions`` ``(T, n, H, W)`` replayed on ``noisy``."""
    images, out = noisy, []
    for step in actions:
        images = apply_per_pixel(images, step)
        out.append(mean_psnr(images, clean))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sigma", type=float, default=25.0, help="noise std (grey levels)")
    parser.add_argument("--seed", type=int, default=0, help="the report's seed")
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), help="run these variants")
    args = parser.parse_args()
    config = ReportConfig(sigma=args.sigma, seed=args.seed)
    clean, noisy, _ = evaluation_set(config)
    rows = []
    with single_thread():
        dncnn, _ = train_dncnn(config, progress=False)
        estimate = denoise(dncnn, noisy)
        rows.append(("dncnn", [mean_psnr(estimate, clean)], 0.0))
        images, oracle = noisy, []
        for _ in range(config.steps):
            bank = filter_bank(images)
            images = apply_per_pixel(images, np.abs(bank - estimate).argmin(0), bank)
            oracle.append(mean_psnr(images, clean))
        rows.append(("oracle: filter nearest the DnCNN", oracle, 0.0))
        for name in args.only or VARIANTS:
            clock = time.perf_counter()
            variant = replace(config, **VARIANTS[name])
            learner, _ = train_pixel_dqn(variant, dncnn, progress=True)
            seconds = time.perf_counter() - clock
            _, actions = rollout(GreedyPolicy(learner), clean, noisy, config.steps, per_pixel=True)
            rows.append((name, per_step(noisy, clean, actions), seconds))
            print(f"{name}: {rows[-1][1][-1]:.2f} dB ({seconds:.0f} s)", flush=True)
    print(f"\nsigma {args.sigma:g}, seed {args.seed}: PSNR (dB) after each step, held-out crops")
    print(
        f"{'method':34s} "
        + " ".join(f"{f't={t + 1}':>6s}" for t in range(config.steps))
        + "  train s"
    )
    for name, psnrs, seconds in rows:
        cells = " ".join(f"{p:6.2f}" for p in psnrs).rjust(6 * config.steps + config.steps - 1)
        print(f"{name:34s} {cells}  {seconds:7.0f}")


if __name__ == "__main__":
    main()
