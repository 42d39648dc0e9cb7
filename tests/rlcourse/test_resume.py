"""Long DQN runs: resumable checkpoints, a real SIGKILL and --resume, best.pt, --stop-at."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
from rlcourse_helpers import assert_usage_error, snapshot

from rlcourse.checkpoints import evaluate_checkpoint
from rlcourse.training.settings import dqn_config
from rlcourse.training.train import resume_dqn, train_dqn

SETTINGS = {"learning_starts": "200", "train_freq": "50", "gradient_steps": "5",
            "hidden": "16x16", "buffer_size": "5000"}  # fmt: skip
CLI_SETTINGS = ["--set", *[f"{k}={v}" for k, v in SETTINGS.items()]]
QUICK = ["--eval-every", "1000", "--eval-episodes", "2", *CLI_SETTINGS]
TIMING = {"train_seconds", "steps_per_second", "solved_at_train_seconds"}


def _python_run(out, steps, **kwargs):
    return train_dqn("CartPole-v1", out, steps=steps, seed=3, config=dqn_config(SETTINGS),
                     eval_every=700, eval_episodes=2, progress=False, **kwargs)  # fmt: skip


def assert_same_run(one, two):
    """Same weights (latest, best, target, Adam, buffer), curves and metrics; timing aside."""
    for name in ("checkpoint.pt", "best.pt"):
        a, b = (torch.load(d / name, weights_only=True) for d in (one, two))
        assert a.keys() == b.keys()
        for key in a["model"]:
            assert torch.equal(a["model"][key], b["model"][key]), (name, key)
        assert (a.get("step"), a.get("mean_return")) == (b.get("step"), b.get("mean_return"))
    a, b = (torch.load(d / "resume.pt", weights_only=True)["learner"] for d in (one, two))
    for part in ("online", "target"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), (part, key)
    for key, value in a["buffer"].items():
        if isinstance(value, dict):  # prioritized replay's priorities
            assert value.keys() == b["buffer"][key].keys()
            assert all(torch.equal(part, b["buffer"][key][name]) for name, part in value.items())
            continue
        assert torch.equal(value, b["buffer"][key]) if torch.is_tensor(value) else value == b[
            "buffer"][key]  # fmt: skip
    assert a["rng"] == b["rng"] and a["transitions"] == b["transitions"]
    assert a["n_updates"] == b["n_updates"] and a["losses"] == b["losses"]
    assert torch.equal(a["optimizer"]["state"][0]["exp_avg_sq"],
                       b["optimizer"]["state"][0]["exp_avg_sq"])  # fmt: skip
    assert (one / "episodes.csv").read_bytes() == (two / "episodes.csv").read_bytes()
    evals = [pd.read_csv(d / "evaluations.csv")[["step", "mean_return", "episodes"]]
             for d in (one, two)]  # fmt: skip
    pd.testing.assert_frame_equal(*evals)
    metrics = [json.loads((d / "metrics.json").read_text()) for d in (one, two)]
    assert {k: v for k, v in metrics[0].items() if k not in TIMING} == {
        k: v for k, v in metrics[1].items() if k not in TIMING
    }


def test_stopped_and_resumed_in_python_ends_as_the_uninterrupted_run(tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    _python_run(whole, 2800)
    first = _python_run(parts, 1400)
    assert first["steps"] == 1400
    resumed = resume_dqn(parts, steps=2800, progress=False)
    assert resumed["steps"] == 2800
    assert_same_run(whole, parts)


def test_the_buffer_is_saved_compactly_in_its_own_dtype(tmp_path):
    _python_run(tmp_path, 700)
    buffer = torch.load(tmp_path / "resume.pt", weights_only=True)["learner"]["buffer"]
    assert buffer["obs"].shape == (700, 4) and buffer["obs"].dtype == torch.float32
    assert buffer["terminated"].dtype == torch.bool and buffer["position"] == 700


def _wait_for(path, timeout=120):
    start = time.monotonic()
    while not path.exists():
        assert time.monotonic() - start < timeout, f"{path} never appeared"
        time.sleep(0.02)


def test_a_run_killed_with_sigkill_resumes_to_exactly_the_uninterrupted_run(cli, tmp_path):
    args = ["train", "dqn", "CartPole-v1", "--steps", "5000", *QUICK, "--checkpoint-every", "400"]
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "rlcourse", *args, "--out", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    partial = tmp_path / "killed.partial"
    _wait_for(partial / "resume.pt")
    saved = torch.load(partial / "resume.pt", weights_only=True)["position"]["t"]
    while torch.load(partial / "resume.pt", weights_only=True)["position"]["t"] == saved:
        time.sleep(0.01)  # kill it between two checkpoints, past the first
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not killed.exists() and partial.is_dir()
    at = torch.load(partial / "resume.pt", weights_only=True)["position"]["t"]
    assert 400 <= at < 5000

    result = cli("train dqn --resume", killed)
    assert result.code == 0, result.err
    assert not partial.exists()
    whole = tmp_path / "whole"
    assert cli(*args, "--out", whole).code == 0
    assert_same_run(whole, killed)


def test_best_pt_is_the_best_evaluation_and_evaluate_uses_it(cli, tmp_path):
    out = tmp_path / "run"
    assert cli("train dqn CartPole-v1 --steps 3000", *QUICK, "--out", out).code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    evals = pd.read_csv(out / "evaluations.csv")
    best_row = evals.loc[evals.mean_return.idxmax()]  # the earliest of ties
    assert metrics["best_eval_return"] == best_row.mean_return
    assert metrics["best_eval_step"] == best_row.step
    assert metrics["final_eval_return"] == evals.mean_return.iloc[-1]
    assert (metrics["best_checkpoint"], metrics["final_checkpoint"]) == ("best.pt", "checkpoint.pt")
    best = torch.load(out / "best.pt", weights_only=True)
    assert (best["step"], best["mean_return"]) == (best_row.step, best_row.mean_return)

    result = cli("evaluate", out, "--episodes", "2", "--seed", "10000")
    assert result.code == 0 and "(best.pt)" in result.out
    evaluation = json.loads((out / "evaluation-seed10000-episodes2.json").read_text())
    assert evaluation["checkpoint"] == "best.pt"
    assert (
        evaluation["mean_return"] == best_row.mean_return
    )  # the same greedy episodes as in training
    result = cli("evaluate", out, "--episodes", "2", "--final", "--seed", "10000")
    assert result.code == 0 and "(checkpoint.pt)" in result.out
    final = json.loads((out / "evaluation-final-seed10000-episodes2.json").read_text())
    assert final["mean_return"] == metrics["final_eval_return"]
    assert json.loads((out / "evaluation-seed10000-episodes2.json").read_text()) == evaluation


def test_stop_at_ends_the_run_at_the_first_evaluation_reaching_it(cli, tmp_path):
    out = tmp_path / "run"
    assert cli("train dqn CartPole-v1 --steps 5000 --stop-at 0", *QUICK, "--out", out).code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 1000 and metrics["stopped_early"] is True
    assert list(pd.read_csv(out / "evaluations.csv").step) == [1000]
    assert torch.load(out / "resume.pt", weights_only=True)["position"]["t"] == 1000


def test_training_on_past_the_learning_rates_decay_says_so(cli, tmp_path):
    out = tmp_path / "run"
    assert cli("train dqn CartPole-v1 --steps 1000", *QUICK, "--out", out).code == 0
    result = cli("train dqn --resume", out, "--steps 1500")
    assert result.code == 0, result.err
    assert (
        "note: the learning rate reaches lr_end=0.0 at step 1000 of 1500; a resume keeps it; a "
        "new run with --set lr_decay_steps=1500 spreads it over the run"
    ) in result.err


def test_a_finished_run_trains_on_with_more_steps(cli, tmp_path):
    out, whole = tmp_path / "run", tmp_path / "whole"
    # the learning rate decays over --steps unless fixed: fixed here, so both runs share it
    decay = "lr_decay_steps=3000"
    assert cli("train dqn CartPole-v1 --steps 2000", *QUICK, decay, "--out", out).code == 0
    refused = assert_usage_error(cli("train dqn --resume", out))
    assert refused.endswith(
        f"{out} finished at step 2000 of 2000: nothing to resume (give more steps to train on)"
    )
    assert cli("train dqn --resume", out, "--steps 3000").code == 0
    assert cli("train dqn CartPole-v1 --steps 3000", *QUICK, decay, "--out", whole).code == 0
    assert_same_run(whole, out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--resume", "{out}"],
            "no run to resume at {out}: neither run.partial/ nor a finished training run there",
        ),
        (
            ["--resume", "{out}", "--set", "lr=0.1"],
            "--resume continues with the saved settings; "
            "--set cannot change them (only --steps and --stop-at can)",
        ),
        (["--out", "{out}"], "name the env to train on (or --resume a run)"),
    ],
)
def test_bad_resume_is_one_line(cli, tmp_path, args, message):
    out = tmp_path / "run"
    line = assert_usage_error(cli("train dqn", *[a.format(out=out) for a in args]))
    assert line.endswith(message.format(out=out))


def test_an_interrupted_run_is_never_started_over_without_force(cli, tmp_path):
    out, partial = tmp_path / "run", tmp_path / "run.partial"
    args = ["train dqn CartPole-v1 --steps 1000", *QUICK, "--out", out]
    assert cli(*args).code == 0
    out.rename(partial)  # as a killed run leaves it
    before = snapshot(partial)
    line = assert_usage_error(cli(*args))
    assert line.endswith(f"{partial} holds an interrupted run: continue it with --resume {out}, "
                         "or pass --force to start over")  # fmt: skip
    assert snapshot(partial) == before
    (partial / "thesis.tex").write_text("mine")
    line = assert_usage_error(cli(*args, "--force"))
    assert "holds files rlcourse did not write (thesis.tex)" in line
    (partial / "thesis.tex").unlink()
    assert cli(*args, "--force").code == 0 and not partial.exists()


def test_ctrl_c_before_the_first_checkpoint_says_there_is_nothing_to_resume(
    cli, tmp_path, monkeypatch
):
    import rlcourse.training.train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rlcourse.training.train, "train_from_settings", interrupted)
    out = tmp_path / "run"
    args = ["train dqn CartPole-v1 --steps 1000", *QUICK, "--out", out]
    result = cli(*args)
    assert result.code == 130
    assert result.err.strip().splitlines()[-1] == (
        "rlcourse train: interrupted; no checkpoint was reached, so there is nothing to resume; "
        f"run the same command with --force to start over (it replaces {out}.partial/)"
    )
    line = assert_usage_error(cli("train dqn --resume", out))
    assert line.endswith(f"{out}.partial holds a run interrupted before its first checkpoint: "
                         "nothing to resume; run the training command again with --force to "
                         "start over")  # fmt: skip
    line = assert_usage_error(cli(*args))
    assert line.endswith(f"{out}.partial holds a run interrupted before its first checkpoint "
                         "(nothing to resume); pass --force to start over")  # fmt: skip
    monkeypatch.undo()
    assert cli(*args, "--force").code == 0
    assert (out / "resume.pt").is_file() and not (tmp_path / "run.partial").exists()


def test_ctrl_c_after_a_checkpoint_says_where_it_is_and_resume_continues(
    cli, tmp_path, monkeypatch
):
    import rlcourse.training.callbacks

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # right after the first resume.pt

    monkeypatch.setattr(rlcourse.training.callbacks, "save_curves", interrupted)
    out = tmp_path / "run"
    result = cli("train dqn CartPole-v1 --steps 2000", *QUICK, "--out", out)
    assert result.code == 130
    assert result.err.strip().splitlines()[-1] == (
        f"rlcourse train: interrupted; the last checkpoint is in {out}.partial/: continue with "
        f"rlcourse train dqn --resume {out}"
    )
    monkeypatch.undo()
    assert cli("train dqn --resume", out).code == 0
    assert json.loads((out / "metrics.json").read_text())["steps"] == 2000


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    argv = ["train", "dqn", "CartPole-v1", "--steps", "1000", *QUICK, "--out", str(out)]
    from rlcourse.cli import main

    assert main(argv) == 0
    return out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("CartPoel-v1", "unknown env 'CartPoel-v1'"),
        ("CartPole-v1 --set lr=fast", "lr='fast' is not a number"),
        ("CartPole-v1 --set buffer_size=10", "buffer_size (10) is smaller than one batch (64)"),
        ("Pendulum-v1", "DQN needs Discrete actions"),
        ("CartPole-v1 --steps 500", "learning_starts (1000) >= steps (500)"),
        ("CartPole-v1 --tensorboard --set lr=fast", "lr='fast' is not a number"),
    ],
)
def test_bad_training_input_with_force_leaves_the_old_run_byte_identical(
    cli, finished, args, message
):
    before = snapshot(finished)
    line = assert_usage_error(cli("train dqn", args, "--force --out", finished))
    assert message in line
    assert snapshot(finished) == before
    assert sorted(p.name for p in finished.parent.iterdir()) == ["run"]  # no .partial, no staging


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--env Acrobot-v1", "was trained on CartPole-v1"),
        ("--env NoSuchEnv-v0", "unknown env 'NoSuchEnv-v0'"),
    ],
)
def test_bad_evaluation_input_with_force_leaves_the_run_byte_identical(
    cli, finished, args, message
):
    before = snapshot(finished)
    assert message in assert_usage_error(cli("evaluate", finished, args, "--force"))
    assert snapshot(finished) == before


# -- any off-policy learner trains and resumes the same way ---------------------------------------


def _pixel_run(out, steps, memory=False, episode=3, eval_every=6):
    from agents.pixel_dqn_config import PixelDQNConfig

    config = PixelDQNConfig(buffer_size=64, batch_size=2, learning_starts=4, channels=4, depth=2,
                            exploration_steps=10, train_freq=2, target_update=3,
                            memory=memory)  # fmt: skip
    return train_dqn("pixel-denoise", out, algorithm="pixel-dqn", config=config, steps=steps,
                     env_kwargs={"crop": 36, "max_episode_steps": episode}, eval_every=eval_every,
                     eval_episodes=2, progress=False)  # fmt: skip


def test_a_per_pixel_dqn_with_memory_resumes_and_evaluates_mid_episode_exactly(tmp_path):
    """Episodes of 4 steps, evaluated and cut at step 6: the memory of the episode survives both."""
    whole, parts, unevaluated = tmp_path / "whole", tmp_path / "parts", tmp_path / "unevaluated"
    _pixel_run(whole, 12, memory=True, episode=4)
    saved = torch.load(whole / "resume.pt", weights_only=True)["learner"]["episodes"]
    assert saved["first"].shape == (1, 1, 36, 36) and saved["ended"].tolist() == [True]
    _pixel_run(parts, 6, memory=True, episode=4)
    assert resume_dqn(parts, steps=12, progress=False)["steps"] == 12
    assert_same_run(whole, parts)
    _pixel_run(unevaluated, 12, memory=True, episode=4, eval_every=12)
    a, b = (torch.load(d / "resume.pt", weights_only=True)["learner"] for d in (whole, unevaluated))
    for key in a["online"]:
        assert torch.equal(a["online"][key], b["online"][key]), key  # evaluating changed nothing


def test_the_per_pixel_dqn_trains_and_resumes_exactly_through_the_same_training(tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert _pixel_run(whole, 12)["steps"] == 12
    assert sorted(p.name for p in whole.iterdir()) == sorted(
        [
            "resume.pt",
            "checkpoint.pt",
            "best.pt",
            "episodes.csv",
            "evaluations.csv",
            "training.png",
            "metrics.json",
        ]  # fmt: skip
    )
    saved = torch.load(whole / "resume.pt", weights_only=True)
    assert saved["settings"]["algorithm"] == "pixel-dqn" and saved["learner"]["n_updates"] > 0
    _pixel_run(parts, 6)
    assert resume_dqn(parts, steps=12, progress=False)["steps"] == 12
    assert_same_run(whole, parts)
    best = torch.load(whole / "best.pt", weights_only=True)
    assert best["algorithm"] == "pixel-dqn"
    evaluated = evaluate_checkpoint(whole, episodes=2, seed=10_000)  # as its evaluations were
    assert evaluated["mean_return"] == pytest.approx(best["mean_return"], abs=1e-9)


def _rewrite_settings(run, **changes):
    saved = torch.load(run / "resume.pt", weights_only=True)
    saved["settings"].update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del saved["settings"][key]
    torch.save(saved, run / "resume.pt")


def test_a_run_saved_without_its_learner_is_dqn_and_an_unknown_learner_is_refused(tmp_path):
    from rlcourse.errors import UsageError
    from rlcourse.training.train import prepare_resume

    _python_run(tmp_path, 700)
    _rewrite_settings(tmp_path, algorithm=None)  # as runs were saved before learners had names
    settings, _, _ = prepare_resume(tmp_path, steps=1400)
    assert settings.algorithm == "dqn"
    _rewrite_settings(tmp_path, algorithm="os:system")
    with pytest.raises(UsageError) as refused:
        prepare_resume(tmp_path, steps=1400)
    assert str(refused.value) == (f"{tmp_path / 'resume.pt'} has bad settings: unknown learner "
                                  "'os:system'; known: dqn, pixel-dqn")  # fmt: skip


def test_a_resume_pt_saved_with_the_old_counter_names_resumes_exactly(tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    _pixel_run(whole, 12)
    _pixel_run(parts, 6)
    saved = torch.load(parts / "resume.pt", weights_only=True)
    learner = saved["learner"]
    assert learner["transitions"] == 6 and learner["n_updates"] > 0
    learner["steps"], learner["gradient_steps"] = learner.pop("transitions"), learner.pop(
        "n_updates")  # fmt: skip
    torch.save(saved, parts / "resume.pt")
    assert resume_dqn(parts, steps=12, progress=False)["steps"] == 12
    assert_same_run(whole, parts)


def test_dqn_variants_resume_exactly_with_the_n_step_windows_and_the_sum_tree(tmp_path):
    variants = {**SETTINGS, "n_step": "3", "prioritized": "true", "dueling": "true"}

    def run(out, steps):
        return train_dqn("CartPole-v1", out, steps=steps, seed=3, config=dqn_config(variants),
                         eval_every=350, eval_episodes=2, progress=False)  # fmt: skip

    whole, parts = tmp_path / "whole", tmp_path / "parts"
    run(whole, 700)
    run(parts, 350)  # stopped mid-episode: the windows hold pending steps
    saved = torch.load(parts / "resume.pt", weights_only=True)["learner"]
    assert len(saved["n_step"]) == 1 and 1 <= len(saved["n_step"][0]) <= 2
    stored = saved["transitions"] - len(saved["n_step"][0])  # the pending steps are not stored yet
    assert saved["buffer"]["priorities"]["priorities"].shape == (stored,)
    assert saved["buffer"]["discount"].shape == (stored,)
    resume_dqn(parts, steps=700, progress=False)
    assert_same_run(whole, parts)
    a, b = (torch.load(d / "resume.pt", weights_only=True)["learner"] for d in (whole, parts))
    assert len(a["n_step"][0]) == len(b["n_step"][0])
    for one, two in zip(a["n_step"][0], b["n_step"][0], strict=True):
        assert all(torch.equal(x, y) for x, y in zip(one, two, strict=True))
