"""Measure how far the golden numbers that come out of torch move when only the rounding changes.

``python tests/rlcourse/golden_spread.py`` runs the torch-trained golden commands of
``test_golden.py`` in fresh processes, each under a *profile* that makes this CPU round as
another would: the ATen kernels' instruction set (``ATEN_CPU_CAPABILITY``), oneDNN's
(``ONEDNN_MAX_CPU_ISA``), MKL's (``MKL_ENABLE_INSTRUCTIONS``), numpy's SIMD dispatch
(``NPY_DISABLE_CPU_FEATURES``) and the thread count. It then reruns the native profile with
other seeds, the spread a real change of behaviour produces. It prints, for every number, the
largest deviation from the native profile in each group, as JSON; the tolerances in
``test_golden.py`` sit between the two.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from test_golden import DQN  # noqa: E402

AVX512_NUMPY = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR"
PROFILES = {  # name: environment that makes this CPU round as another one would
    "native": {},
    "one-thread": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "NPY_DISABLE_CPU_FEATURES": AVX512_NUMPY,
    },
    "avx2-one-thread": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "NPY_DISABLE_CPU_FEATURES": AVX512_NUMPY,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    },
    "sse": {
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
        "NPY_DISABLE_CPU_FEATURES": AVX512_NUMPY + " AVX2 FMA3 F16C AVX",
    },
}


def _rlcourse(*args: str, env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "rlcourse", *args]
    subprocess.run(command, check=True, env={**os.environ, **env}, capture_output=True)


def denoise(seed: int, env: dict[str, str]) -> dict[str, float]:
    """The quick report's PSNR per method."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "d"
        _rlcourse("denoise", "report", "--quick", "--sigma", "30", "--seed", str(seed),
                  "--out", str(out), env=env)  # fmt: skip
        table = pd.read_csv(out / "psnr.csv")
    return {f"denoise {m}": float(p) for m, p in zip(table.iloc[:, 0], table["psnr"], strict=True)}


def dqn(seed: int, env: dict[str, str]) -> dict[str, float]:
    """The short DQN run: its evaluations, episodes and a later greedy evaluation."""
    command = DQN.replace("--seed 2", f"--seed {seed}").split()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dqn"
        _rlcourse(*command, "--out", str(out), env=env)
        _rlcourse("evaluate", str(out), "--episodes", "5", "--seed", "3", "--final", env=env)
        evaluations = pd.read_csv(out / "evaluations.csv")
        episodes = pd.read_csv(out / "episodes.csv")
        answer = out / "evaluation-final-seed3-episodes5.json"
        evaluate = json.loads(answer.read_text())["returns"]
    pairs = zip(evaluations["step"], evaluations["mean_return"], strict=True)
    numbers = {f"dqn eval@{step}": float(mean) for step, mean in pairs}
    numbers["dqn episodes"] = float(len(episodes))
    numbers["dqn evaluate mean"] = float(sum(evaluate) / len(evaluate))
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5, 6])
    args = parser.parse_args()
    golden_seed = {"denoise": 1, "dqn": 2}
    measured: dict[str, dict[str, dict[str, float]]] = {}
    for name, env in PROFILES.items():
        measured[name] = {**denoise(golden_seed["denoise"], env), **dqn(golden_seed["dqn"], env)}
        print(name, "done", file=sys.stderr)
    for seed in args.seeds:
        measured[f"seed {seed}"] = {**denoise(seed, {}), **dqn(seed, {})}
        print("seed", seed, "done", file=sys.stderr)
    native = measured["native"]
    report = {}
    for key, value in native.items():
        rounding = [abs(measured[p][key] - value) for p in PROFILES if p != "native"]
        seeds = [abs(measured[f"seed {s}"][key] - value) for s in args.seeds]
        profiles = {p: measured[p][key] for p in PROFILES}
        report[key] = {"native": value, "rounding": max(rounding), "seeds": max(seeds),
                       "profiles": profiles}  # fmt: skip
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
