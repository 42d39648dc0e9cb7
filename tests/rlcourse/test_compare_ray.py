"""``compare --backend ray``: a comparison's DQN runs as Ray tasks give the numbers of one batch."""

from __future__ import annotations

import numpy as np
import pytest
from rlcourse_helpers import assert_usage_error

import rlcourse
from rlcourse.errors import UsageError

DQN = "dqn:learning_starts=50,train_freq=10,gradient_steps=4,target_update=20,hidden=16"
TINY = f"CartPole-v1 --agents {DQN} --steps 120 --runs 3 --seed 2 --eval-every 60 --eval-episodes 2"


# -- refused before anything runs (no Ray needed) --------------------------------------------------
@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("bandit --agents greedy --steps 5 --backend ray",
         "the ray backend runs each run of an agent with a learner per run (dqn) as a task: "
         "greedy has no learner per run (only agents such as dqn have one); use the local "
         "backend"),
        (f"CartPole-v1 --agents {DQN} random --episodes 2 --backend ray",
         "the ray backend runs each run of an agent with a learner per run (dqn) as a task: "
         "random has no learner per run (only agents such as dqn have one); use the "
         "local backend"),
        (f"CartPole-v1 --agents {DQN} --steps 5 --address 127.0.0.1:1",
         "address '127.0.0.1:1' names a Ray cluster: it needs the ray backend"),
        (f"CartPole-v1 --agents {DQN} --steps 5 --backend spark",
         "argument --backend: invalid choice: 'spark'"),
    ],
    ids=["table-learner", "mixed", "address-without-ray", "unknown-backend"],
)  # fmt: skip
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_bad_backend_combinations_are_one_line_and_write_nothing(cli, tmp_path, arguments,
                                                                 expected, dry_run):  # fmt: skip
    out = tmp_path / "out"
    line = assert_usage_error(
        cli(f"compare {arguments} --runs 2 {'--dry-run ' if dry_run else ''}--out", out)
    )
    assert expected in line, line
    assert not out.exists()


def test_the_api_refuses_the_same_combinations():
    with pytest.raises(UsageError, match="greedy has no learner per run"):
        rlcourse.compare("bandit", ["greedy"], steps=3, runs=2, progress=False, backend="ray")
    with pytest.raises(UsageError, match="needs the ray backend"):
        rlcourse.compare("bandit", ["greedy"], steps=3, runs=2, progress=False,
                         address="127.0.0.1:1")  # fmt: skip


# -- on a real local Ray (skipped without ray) ----------------------------------------------------
@pytest.fixture(scope="module")
def ray():
    """One local Ray for the module, started the way ``--backend ray`` starts it."""
    ray = pytest.importorskip("ray")
    from rlcourse.sweep.backends import init_ray

    if ray.is_initialized():
        pytest.skip("a Ray is already running in this process")
    init_ray(workers=2)
    try:
        yield ray
    finally:
        ray.shutdown()


def _arrays(out) -> dict[str, np.ndarray]:
    with np.load(out / "runs.npz") as saved:
        return dict(saved)


def test_dqn_runs_on_ray_give_the_numbers_of_one_process(cli, tmp_path, ray):
    here, there = tmp_path / "here", tmp_path / "ray"
    assert cli(f"compare {TINY} --workers 1 --out", here).code == 0
    result = cli(f"compare {TINY} --backend ray --out", there)
    assert result.code == 0, result.err
    expected, got = _arrays(here), _arrays(there)
    assert set(expected) == {"agent0.reward", "agent0.eval_return"}
    assert set(got) == set(expected)
    for key, values in expected.items():
        assert np.array_equal(got[key], values), key
    manifest = rlcourse.load_results(there).manifest
    assert manifest["backend"] == "ray" and "workers" not in manifest
    assert ray.is_initialized()  # the Ray already running was used as it is, not stopped


def test_the_api_runs_one_run_on_ray_too(ray):
    settings = {"runs": 1, "steps": 80, "seed": 4, "progress": False}
    alone = rlcourse.compare("CartPole-v1", [DQN], workers=1, **settings)
    there = rlcourse.compare("CartPole-v1", [DQN], backend="ray", **settings)
    assert there.manifest["backend"] == "ray"
    assert np.array_equal(there.data[DQN]["reward"], alone.data[DQN]["reward"])
