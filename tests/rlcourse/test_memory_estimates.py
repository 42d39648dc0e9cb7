"""Memory refused up front: every allocation that grows with an input is in the estimate.

Each command refuses, in one line with the estimate and the memory available (exit 2), before
it allocates or writes anything; a count no run could reach is refused in one line too.
"""

import numpy as np
import pytest
import torch
from gymnasium import spaces
from rlcourse_helpers import assert_usage_error, snapshot

import rlcourse
import rlcourse.memory
from agents.dqn import DQNLearner, learner_memory, q_network
from agents.dqn_config import DQNConfig
from agents.encodings import encoding
from agents.off_policy import NETWORK_COPIES
from rlcourse.cli import main
from rlcourse.errors import UsageError
from supervised.networks import q_network_parameters

AVAILABLE = 16_000_000_000
"""What the tests say is available (the machine's own memory differs)."""


@pytest.fixture(autouse=True)
def sixteen_gigabytes(monkeypatch):
    monkeypatch.setattr(rlcourse.memory, "available_bytes", lambda: AVAILABLE)


def refused(result) -> str:
    """The one line of a refusal, which says what is available."""
    line = assert_usage_error(result)
    assert "but 16.0 GB is available" in line or "more than any run could reach" in line
    return line


# -- DQN's networks ----------------------------------------------------------------------------


def test_train_dry_run_counts_the_networks(cli, tmp_path):
    out = tmp_path / "out"
    line = refused(cli("train dqn CartPole-v1 --set hidden=100000x100000 --dry-run --out", out))
    # (4 + 1) × 100 000 + (100 000 + 1) × 100 000 + (100 000 + 1) × 2 parameters, float32, ×6
    assert line.startswith("rlcourse train: error: needs about 240.0 GB (replay buffer 4.6 MB, ")
    assert "networks 240.0 GB" in line
    assert list(tmp_path.iterdir()) == []


def test_compare_refuses_a_network_that_will_not_fit_before_any_run(cli, tmp_path):
    out = tmp_path / "out"
    line = refused(
        cli("compare CartPole-v1 --agents dqn:hidden=100000x100000 --runs 1 --steps 100 --out", out)
    )
    assert line.startswith("rlcourse compare: error: needs about 240.0 GB (")
    assert "networks 240.0 GB" in line
    assert list(tmp_path.iterdir()) == []


def test_the_estimate_of_a_network_is_the_count_of_the_network_built():
    cases = [
        (spaces.Box(-1, 1, (4,)), (16, 8)),  # an MLP
        (spaces.Discrete(7), (5,)),  # one-hot: an MLP of 7 inputs
        (spaces.Box(0, 255, (40, 40, 3), "uint8"), (32,)),  # stride-2 convolutions
        (spaces.Box(0, 1, (4, 10, 10)), (16,)),  # a small image: one 3×3 convolution
        (spaces.Box(0, 255, (21, 17, 3), "uint8"), (8,)),  # odd sizes round up
        (
            spaces.Dict(
                {"image": spaces.Box(0, 255, (7, 7, 3), "uint8"), "direction": spaces.Discrete(4)}
            ),
            (12,),
        ),  # several arrays: a MultiInputQNet
    ]
    for space, hidden in cases:
        stored = encoding(space)
        for dueling in (False, True):  # dueling: a value and an advantage stream
            network = q_network(stored, 3, hidden, dueling)
            built = sum(p.numel() for p in network.parameters())
            assert q_network_parameters(stored.shape, 3, hidden, dueling) == built, space


def test_a_learner_holds_what_its_estimate_says_of_its_networks():
    space, actions = spaces.Box(-1, 1, (4,)), spaces.Discrete(2)
    config = DQNConfig(hidden=(16, 8), buffer_size=500, batch_size=32)
    learner = DQNLearner(config, space, actions, np.random.default_rng(0))
    built = sum(p.numel() for p in learner.online.parameters())
    estimate = learner_memory(config, space, actions)
    assert estimate["networks"] == 4 * built * (NETWORK_COPIES + 1)  # + the MLP's acting copy
    assert estimate["replay buffer"] == learner.buffer.nbytes
    # the online and target networks, the gradients: what the learner has allocated already
    held = [learner.online, learner.target]
    assert sum(p.numel() for net in held for p in net.parameters()) == 2 * built
    assert learner.flat.grads.numel() == built and learner.flat.grads.dtype == torch.float32


def test_the_estimate_of_a_learner_with_every_variant_counts_its_sum_tree_and_discounts():
    space, actions = spaces.Box(-1, 1, (4,)), spaces.Discrete(2)
    config = DQNConfig(hidden=(16,), buffer_size=500, batch_size=32, dueling=True, n_step=3,
                       prioritized=True)  # fmt: skip
    learner = DQNLearner(config, space, actions, np.random.default_rng(0))
    built = sum(p.numel() for p in learner.online.parameters())
    estimate = learner_memory(config, space, actions)
    assert estimate["networks"] == 4 * built * NETWORK_COPIES  # no numpy acting copy
    assert estimate["replay buffer"] == learner.buffer.nbytes  # with the discounts
    tree = learner.buffer.priorities.tree
    assert estimate["sum tree"] == tree.nodes.nbytes + tree.mins.nbytes


# -- the run loop's per-step and per-episode arrays -------------------------------------------


def test_train_dry_run_refuses_steps_beyond_any_run(cli, tmp_path):
    out = tmp_path / "out"
    line = refused(cli("train dqn CartPole-v1 --steps 1000000000000000 --dry-run --out", out))
    assert line == (
        "rlcourse train: error: steps 1,000,000,000,000,000 is more than any run could reach "
        "(at most 1,000,000,000,000)"
    )
    assert list(tmp_path.iterdir()) == []


def test_train_counts_its_per_step_arrays(cli, tmp_path):
    out = tmp_path / "out"
    line = refused(cli("train dqn CartPole-v1 --steps 10000000000 --dry-run --out", out))
    assert "results 100.0 GB" in line  # 10^10 steps × (float32 reward + bool) × 2
    assert list(tmp_path.iterdir()) == []


def test_train_counts_the_envs_of_its_evaluations(cli, tmp_path):
    out = tmp_path / "out"
    line = refused(cli("train dqn CartPole-v1 --eval-episodes 100000000 --out", out))
    assert "envs 809.6 GB" in line  # 10^8 single envs side by side
    assert list(tmp_path.iterdir()) == []


def test_compare_refuses_counts_beyond_any_run(cli, tmp_path):
    out = tmp_path / "out"
    line = refused(cli("compare bandit --agents greedy --runs 10000000000000 --steps 1 --out", out))
    assert line == (
        "rlcourse compare: error: runs 10,000,000,000,000 is more than any run could reach "
        "(at most 1,000,000,000,000)"
    )
    assert list(tmp_path.iterdir()) == []


def test_the_loop_refuses_its_arrays_before_it_makes_them():
    from rlcourse.comparison import make_agents
    from rlcourse.environments import resolve_env

    source = resolve_env("bandit")
    agent = make_agents(source, ["greedy"])["greedy"]
    with pytest.raises(UsageError, match=r"^needs about 20.0 GB \(results 20.0 GB\) but 16.0 GB"):
        rlcourse.run(source, agent, runs=2000, steps=1_000_000, progress=False)


# -- the envs' native state --------------------------------------------------------------------


def test_a_bandit_with_a_billion_arms_is_refused_before_any_run(cli, tmp_path):
    out = tmp_path / "out"
    line = refused(
        cli(
            "compare bandit --env-kwargs k=1000000000 --agents epsilon-greedy --runs 2 --steps 10",
            "--out",
            out,
        )  # fmt: skip
    )
    # each run: 10^9 arms' values (and a draw's three arrays) in the env, Q and counts in the agent
    assert line.startswith("rlcourse compare: error: needs about 160.0 GB (")
    assert "envs 64.0 GB, agent tables 32.0 GB, agent temporaries 64.0 GB" in line
    assert list(tmp_path.iterdir()) == []


def test_a_bandit_too_large_to_make_once_is_refused_with_the_estimate(cli, tmp_path):
    out = tmp_path / "out"
    # the env made once to read its spaces holds no arm values until it is reset
    line = refused(
        cli(
            "compare bandit --env-kwargs k=100000000000 --agents greedy --runs 1 --steps 10",
            "--out",
            out,
        )  # fmt: skip
    )
    assert line.startswith("rlcourse compare: error: needs about 8.0 TB (")
    assert list(tmp_path.iterdir()) == []


# -- evaluation ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("dqn") / "run"
    quick = (
        "train dqn CartPole-v1 --steps 200 --eval-every 200 --eval-episodes 1 --set "
        "learning_starts=100 train_freq=100 gradient_steps=1 hidden=8 buffer_size=200"
    )
    assert main([*quick.split(), "--out", str(out)]) == 0
    return out


def test_evaluate_refuses_episodes_that_will_not_fit(cli, trained):
    before = snapshot(trained)
    line = refused(cli("evaluate", trained, "--episodes 100000000000"))
    # 10^11 single envs side by side, and their returns and lengths
    assert line == (
        "rlcourse evaluate: error: needs about 812.8 TB (results 3.2 TB, envs 809.6 TB) but "
        "16.0 GB is available; lower --episodes"
    )
    line = refused(cli("evaluate", trained, "--episodes 10000000000000"))
    assert "episodes 10,000,000,000,000 is more than any run could reach" in line
    assert snapshot(trained) == before and not list(trained.glob("evaluation*.json"))


# -- sweeps --------------------------------------------------------------------------------------


def sweep_file(tmp_path, steps: int, runs: int = 10):
    path = tmp_path / "sweep.toml"
    path.write_text(
        f'[sweep]\nruns = {runs}\nsteps = {steps}\n[[env]]\nid = "bandit"\n'
        '[[agent]]\nname = "epsilon-greedy"\n'
    )
    return path


@pytest.mark.parametrize("dry_run", ["--dry-run", ""])
def test_a_sweep_refuses_steps_beyond_any_run(cli, tmp_path, dry_run):
    config, out = sweep_file(tmp_path, 2**63 - 1), tmp_path / "out"
    line = refused(cli("sweep", config, "--workers 1 --out", out, dry_run))
    assert line == (
        "rlcourse sweep: error: sweep.toml, line 3: [sweep]: steps 9,223,372,036,854,775,807 is "
        "more than any run could reach (at most 1,000,000,000,000)"
    )
    assert not out.exists()


@pytest.mark.parametrize(("dry_run", "results"), [("--dry-run", "40.0 GB"), ("", "45.0 GB")])
def test_a_sweep_refuses_result_arrays_that_will_not_fit(cli, tmp_path, dry_run, results):
    config, out = sweep_file(tmp_path, 1_000_000, runs=2000), tmp_path / "out"
    line = refused(cli("sweep", config, "--workers 1 --out", out, dry_run))
    # 2000 runs × 10^6 steps × 5 bytes, collected and joined (× 2 × 2); a sweep that builds its
    # agents adds the unit a worker runs (500 runs × 10^6 steps × 5 bytes × 2)
    assert line.startswith("rlcourse sweep: error: needs about ")
    assert f"(results {results}," in line
    assert line.endswith("lower runs, steps or episodes, or chunk in [sweep], or --workers")
    assert not out.exists()


def test_a_sweep_dry_run_prints_the_memory_of_its_results(cli, tmp_path):
    result = cli("sweep", sweep_file(tmp_path, 100, runs=20), "--workers 1 --dry-run --out",
                 tmp_path / "out")  # fmt: skip
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == (
        "memory: about 99.2 kB (results 40.0 kB, analysis 59.2 kB), and the agents' and envs' "
        "own (not built)"
    )


def test_a_checkpoint_whose_config_asks_for_too_much_is_refused_before_building(
    cli, trained, tmp_path
):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    for name in ("best.pt", "checkpoint.pt"):
        checkpoint = torch.load(copy / name, weights_only=True)
        checkpoint["config"]["hidden"] = [100_000, 100_000]  # a file is data: it asks, we check
        torch.save(checkpoint, copy / name)
    before = snapshot(copy)
    line = refused(cli("evaluate", copy, "--episodes 2"))
    assert line.startswith("rlcourse evaluate: error: needs about 240.0 GB (replay buffer ")
    assert line.endswith(f"{copy / 'best.pt'} asks for more (its config's buffer_size, hidden)")
    assert snapshot(copy) == before


def test_gridworld_runs_count_their_pixels(cli, tmp_path):
    out = tmp_path / "out"
    line = refused(
        cli(
            "compare gridworld --env-kwargs observation=rgb --agents random --runs 2000000",
            "--steps 1 --out",
            out,
        )  # fmt: skip
    )
    # 2 × 10^6 runs × (3 observations of 40 × 40 × 3 bytes + 17 bytes of state + 48 of the loop)
    assert "envs 28.9 GB" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "spec",
    [
        "pixel-dqn:channels=4,depth=2,buffer_size=300",
        "pixel-dqn:channels=4,depth=2,buffer_size=300,memory=true,all_actions=true",
        "pixel-dqn:channels=4,depth=2,buffer_size=300,freeze_trunk=true",
    ],
)
def test_the_per_pixel_dqn_estimates_the_buffers_it_makes(spec):
    import agents

    image, per_pixel = spaces.Box(0, 1, (1, 6, 5)), spaces.MultiDiscrete(np.full((6, 5), 9))
    agent = agents.make(spec, image, per_pixel)
    estimate = agent.memory_bytes(2)["replay buffers"]
    agent.reset(2, np.random.default_rng(0))
    assert estimate == sum(learner.buffer.nbytes for learner in agent.learners)


def test_the_per_pixel_dqn_estimates_its_sum_trees_and_discounts():
    import agents

    image, per_pixel = spaces.Box(0, 1, (1, 6, 5)), spaces.MultiDiscrete(np.full((6, 5), 9))
    spec = "pixel-dqn:channels=4,depth=2,buffer_size=300,prioritized=true,n_step=3"
    agent = agents.make(spec, image, per_pixel)
    estimate = agent.memory_bytes(2)
    agent.reset(2, np.random.default_rng(0))
    assert estimate["replay buffers"] == sum(learner.buffer.nbytes for learner in agent.learners)
    trees = [learner.buffer.priorities.tree for learner in agent.learners]
    assert estimate["sum trees"] == sum(t.nodes.nbytes + t.mins.nbytes for t in trees)
    from rlcourse.training.learners import learner_kind

    one = learner_kind("pixel-dqn").memory(agent.config, image, per_pixel)
    assert one == {"replay buffer": estimate["replay buffers"] // 2,
                   "sum tree": estimate["sum trees"] // 2}  # fmt: skip


# -- greedy evaluations of a comparison -------------------------------------------------------


def test_compare_counts_its_evaluation_batch():
    from rlcourse.comparison import plan_comparison
    from rlcourse.memory import evaluation_memory

    settings = {"runs": 10, "steps": None, "episodes": 20, "seed": 0}
    source, _, plain = plan_comparison("FrozenLake-v1", ["epsilon-greedy", "greedy"], **settings)
    _, _, evaluated = plan_comparison("FrozenLake-v1", ["epsilon-greedy", "greedy"], **settings,
                                      eval_every=5, eval_episodes=7)  # fmt: skip
    batch = evaluation_memory(source, 10 * 7)  # every run's 7 episodes side by side
    assert evaluated["envs"] == plain["envs"] + batch["envs"]
    eval_return = 2 * 10 * (20 // 5) * 8  # two agents' (runs, evaluations) float64
    assert evaluated["results"] == plain["results"] + batch["results"] + eval_return
    assert evaluated["analysis"] > plain["analysis"]  # a third metric's curve


def test_compare_refuses_evaluations_that_will_not_fit(cli, tmp_path):
    out = tmp_path / "out"
    command = ("compare FrozenLake-v1 --agents greedy --episodes 10 --runs 10 --eval-every 5 "
               "--eval-episodes 100000000 --dry-run --out")  # fmt: skip
    line = refused(cli(command, out))
    assert "envs " in line and "GB" in line  # 10^9 evaluation envs side by side
    assert list(tmp_path.iterdir()) == []
