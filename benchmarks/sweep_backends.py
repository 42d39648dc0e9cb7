"""A sweep serially, on the local process pool, and on a local Ray (default: Figure 2.6).

    .venv/bin/python benchmarks/sweep_backends.py                 # the book's 2000 runs
    .venv/bin/python benchmarks/sweep_backends.py --runs 500      # quicker
    .venv/bin/python benchmarks/sweep_backends.py --config docs/sweeps/dqn-variants-minatar.toml \
        --runs 1 --steps 5000 --no-ray                            # DQN variants, shortened

Each backend runs the same 26 configurations × runs × 1000 steps (docs/sweeps/fig2.6.toml) into a
fresh directory; the three ``summary.csv`` files must be byte-identical. Reported: wall time of
the units (Ray's start-up timed apart), speed-up over the serial run, and Ray's overhead per unit
against the process pool with the same number of workers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

from rlcourse.sweep import load_config, plan, run_sweep
from rlcourse.sweep.backends import init_ray

CONFIG = Path(__file__).parent.parent / "docs" / "sweeps" / "fig2.6.toml"


def _sweep(config, out: Path, **backend) -> dict:
    load = os.getloadavg()[0]
    start = time.perf_counter()
    swept = run_sweep(config, out, progress=False, plots=False, **backend)
    total = time.perf_counter() - start
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "wall": manifest["seconds"],
        "compute": swept.unit_seconds,
        "total": total,
        "load": load,
        "summary": (out / "summary.csv").read_bytes(),
    }


def _shortened(config, steps: int | None):
    """The sweep with ``steps`` per run, its evaluations as many as before (None: as it is)."""
    if steps is None:
        return config
    every = config.eval_every and max(1, config.eval_every * steps // config.steps)
    return dataclasses.replace(config, steps=steps, eval_every=every)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG, help="the sweep (default fig2.6)")
    parser.add_argument("--runs", type=int, default=2000, help="runs per configuration")
    parser.add_argument("--steps", type=int, default=None, help="steps per run (default: file)")
    parser.add_argument("--chunk", type=int, default=None, help="runs per unit (default: file)")
    parser.add_argument("--workers", type=int, default=2, help="pool and Ray workers")
    parser.add_argument("--no-ray", action="store_true", help="serial and process pool only")
    args = parser.parse_args()
    config = _shortened(load_config(args.config), args.steps)
    config = dataclasses.replace(config, runs=args.runs, chunk=args.chunk or config.chunk)
    units = len(plan(config))
    print(
        f"{args.config.name}: {len(config.envs)} env(s) × {len(config.agents)} configurations × "
        f"{config.runs} runs × {config.steps} steps = {units} units of up to {config.chunk} "
        f"runs; {args.workers} workers for the pool and Ray"
    )
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results["serial"] = _sweep(config, tmp / "serial", workers=1)
        results["local"] = _sweep(config, tmp / "local", workers=args.workers)
        if args.no_ray:
            _report(results, units, startup=None)
            return
        import ray

        start = time.perf_counter()
        init_ray(workers=args.workers)
        startup = time.perf_counter() - start
        try:
            results["ray"] = _sweep(config, tmp / "ray", backend="ray")
        finally:
            ray.shutdown()
    _report(results, units, startup)


def _report(results: dict, units: int, startup: float | None) -> None:
    same = len({r["summary"] for r in results.values()}) == 1
    serial = results["serial"]["wall"]
    print(
        f"{'backend':8s} {'units wall s':>12s} {'speed-up':>9s} {'unit compute s':>15s} "
        f"{'load before':>12s}"
    )
    for name, r in results.items():
        print(
            f"{name:8s} {r['wall']:12.2f} {serial / r['wall']:8.2f}× {r['compute']:15.2f} "
            f"{r['load']:12.2f}"
        )
    print(f"cores: {os.cpu_count()}; load = the 1-minute load average (other processes' demand)")
    if startup is not None:
        overhead = (results["ray"]["wall"] - results["local"]["wall"]) / units
        print(f"Ray start-up (not in its wall time): {startup:.1f} s")
        print(f"Ray overhead per unit vs the process pool: {overhead * 1000:+.1f} ms")
    print(
        "analysis after the units (bootstrap, curves; no plots): "
        f"{results['serial']['total'] - serial:.1f} s"
    )
    print(f"summary.csv identical on all {len(results)}: {same}")
    if not same:
        raise SystemExit("backends disagree")


if __name__ == "__main__":
    main()
