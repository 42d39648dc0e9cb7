"""``--device`` on every command that trains or runs a torch model; checkpoints on any device."""

from __future__ import annotations

import json

import pytest
import torch
from rlcourse_helpers import assert_usage_error

from common import devices
from rlcourse.checkpoints import evaluate_checkpoint
from rlcourse.training.settings import dqn_config
from rlcourse.training.train import resume_dqn, train_dqn

CUDA = torch.cuda.is_available()
SETTINGS = {"learning_starts": "100", "train_freq": "4", "gradient_steps": "4",
            "target_update": "50", "buffer_size": "2000", "hidden": "32"}  # fmt: skip
TINY = "--steps 600 --eval-every 300 --eval-episodes 2 --set learning_starts=100"


@pytest.mark.skipif(CUDA, reason="this machine has CUDA")
@pytest.mark.parametrize(
    "command",
    [
        f"train dqn CartPole-v1 {TINY} --device cuda --out {{out}}",
        "compare CartPole-v1 --agents dqn --episodes 2 --runs 1 --device cuda --out {out}",
        "supervised mlp --epochs 1 --device cuda --out {out}",
        "faces train --epochs 1 --device cuda --out {out}",
        "denoise report --quick --device cuda:0 --out {out}",
        "evaluate {out} --device cuda",
    ],
    ids=["train", "compare", "supervised", "faces", "denoise", "evaluate"],
)
def test_cuda_without_cuda_is_one_line_and_writes_nothing(cli, tmp_path, command):
    out = tmp_path / "out"
    line = assert_usage_error(cli(command.format(out=out)))
    assert line.endswith(
        f"CUDA is not available on this machine (torch {torch.__version__}); "
        "use --device cpu or auto"
    )
    assert not out.exists() and not list(tmp_path.iterdir())


def test_the_device_is_printed_and_recorded(cli, tmp_path):
    trained = cli(f"train dqn CartPole-v1 {TINY} --device cpu --out", tmp_path / "run")
    assert trained.code == 0, trained.err
    assert "device: cpu" in trained.err.splitlines()
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["device"] == "cpu"
    compared = cli("compare CartPole-v1 --agents dqn:learning_starts=50 --episodes 2 --runs 1 "
                   "--out", tmp_path / "dqn")  # fmt: skip
    assert compared.code == 0, compared.err
    assert "device: cpu" in compared.err.splitlines()
    manifest = json.loads((tmp_path / "dqn" / "manifest.json").read_text())
    assert manifest["device"].startswith("cuda:0 (") if CUDA else manifest["device"] == "cpu"
    bandit = cli("compare bandit --agents greedy --steps 5 --runs 2 --out", tmp_path / "b")
    assert bandit.code == 0 and "device:" not in bandit.err
    assert "device" not in json.loads((tmp_path / "b" / "manifest.json").read_text())


def test_checkpoints_hold_cpu_tensors_whatever_trained_them(tmp_path):
    train_dqn("CartPole-v1", tmp_path / "run", steps=400, seed=0, config=dqn_config(SETTINGS),
              eval_every=200, eval_episodes=2, progress=False)  # fmt: skip
    for name in ("checkpoint.pt", "best.pt"):
        saved = torch.load(tmp_path / "run" / name, weights_only=True)
        assert {t.device.type for t in saved["model"].values()} == {"cpu"}
    state = torch.load(tmp_path / "run" / "resume.pt", weights_only=True)
    tensors = [t for t in state["learner"]["optimizer"]["state"][0].values() if t.ndim]
    assert tensors and {t.device.type for t in tensors} == {"cpu"}


@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason="no CUDA device here")
def test_a_run_trained_on_cuda_evaluates_and_resumes_on_the_cpu_and_back(tmp_path):
    common = {"seed": 0, "config": dqn_config(SETTINGS), "eval_every": 300, "eval_episodes": 5,
              "progress": False}  # fmt: skip
    gpu = train_dqn("CartPole-v1", tmp_path / "gpu", steps=600, device="cuda", **common)
    assert gpu["device"].startswith("cuda:0 (")
    again = train_dqn("CartPole-v1", tmp_path / "gpu2", steps=600, device="cuda", **common)
    assert again["final_eval_return"] == gpu["final_eval_return"]  # same seed, same device
    with devices.using("cpu"):
        on_cpu = evaluate_checkpoint(tmp_path / "gpu", episodes=5)
    with devices.using("cuda"):
        on_gpu = evaluate_checkpoint(tmp_path / "gpu", episodes=5, force=True)
    assert on_cpu["returns"] == on_gpu["returns"]
    resumed = resume_dqn(tmp_path / "gpu", steps=900, device="cpu", progress=False)
    assert resumed["device"] == "cpu" and resumed["steps"] == 900
