"""The ``rlcourse`` command line: in-process through ``main``, and as the console script."""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rlcourse_helpers import assert_usage_error, snapshot

import rlcourse
from rlcourse import UsageError, load_results
from rlcourse.cli import main
from rlcourse.outputs import STAMP, write_stamp

AGENT_NAMES = ["random", "greedy", "epsilon-greedy", "decaying-epsilon", "ucb", "gradient-bandit"]
SMALL = "--steps 30 --runs 8"
FILES = ["manifest.json", "curves.csv", "summary.csv", "runs.npz", "reward.png"]
FILES += ["optimal_action.png", "values.npz"]  # values.npz: tabular agents keep Q
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Run every test in its own directory, so that nothing lands in the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def _saved_once(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("template") / "saved"
    argv = shlex.split(f"compare bandit --agents greedy ucb {SMALL}") + ["--out", str(out)]
    assert main(argv) == 0
    return out


@pytest.fixture
def saved(tmp_path, _saved_once) -> Path:
    """A results directory written by ``rlcourse compare`` (with its PNGs), a fresh copy."""
    return Path(shutil.copytree(_saved_once, tmp_path / "saved"))


def console_script() -> str:
    script = Path(sys.executable).parent / "rlcourse"
    if script.exists():
        return str(script)
    found = shutil.which("rlcourse")
    if found is None:
        pytest.skip("the rlcourse console script is not installed")
    return found


# -- listings and help -----------------------------------------------------------------------------
def test_envs_lists_the_bandit(cli):
    result = cli("envs")
    assert result.code == 0
    rows = [line.split() for line in result.out.splitlines() if line.startswith("rlcourse/")]
    assert ["rlcourse/Bandit-v0", "bandit"] in [row[:2] for row in rows]
    assert "module:Class" in result.out


def test_agents_lists_all_six(cli):
    result = cli("agents")
    assert result.code == 0
    listed = [line.split(":")[0] for line in result.out.splitlines() if line and line[0] != " "]
    for name in AGENT_NAMES:
        assert name in listed
    assert "    epsilon=0.1" in result.out  # parameters with their defaults
    assert "    c=2.0" in result.out


@pytest.mark.parametrize("command", ["", "envs", "agents", "compare", "plot", "figure"])
def test_help_of_every_subcommand(cli, command):
    result = cli(command, "--help")
    assert result.code == 0
    assert "usage: rlcourse" in result.out
    assert result.err == ""


def test_compare_help_has_an_example(cli):
    result = cli("compare --help")
    assert "--agents" in result.out and "--steps" in result.out and "example:" in result.out


def test_no_subcommand_is_a_usage_error(cli):
    assert_usage_error(cli())


# -- compare ---------------------------------------------------------------------------------------
def test_compare_writes_the_results_directory_and_prints_the_summary(cli, tmp_path):
    out = tmp_path / "run"
    result = cli(
        "compare bandit --agents greedy epsilon-greedy:epsilon=0.1 --steps 40 --runs 10 --seed 3",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, STAMP])
    for png in ("reward.png", "optimal_action.png"):
        assert (out / png).read_bytes()[:8] == PNG_MAGIC

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["agents"] == ["greedy", "epsilon-greedy:epsilon=0.1"]
    assert (manifest["runs"], manifest["steps"], manifest["seed"]) == (10, 40, 3)
    assert manifest["command"].startswith("rlcourse compare bandit")

    # The printed table is the summary: one row per agent and metric, with n.
    lines = result.out.splitlines()
    assert lines[0].startswith("summary") and "10 runs" in lines[0]
    assert lines[1].split() == ["agent", "metric", "mean", "95%", "CI", "n"]
    summary = pd.read_csv(out / "summary.csv")
    assert len(lines) == 2 + len(summary)
    for line, (_, row) in zip(lines[2:], summary.iterrows(), strict=True):
        assert line.split()[:3] == [row.agent, row.metric, f"{row['mean']:.3f}"]
        assert line.split()[-1] == "10"
    # The same numbers a Python compare with the same arguments gives.
    same = rlcourse.compare(
        "bandit", ["greedy", "epsilon-greedy:epsilon=0.1"], runs=10, steps=40, seed=3,
        progress=False,
    )  # fmt: skip
    np.testing.assert_allclose(summary["mean"], same.summary["mean"], rtol=1e-5)


def test_compare_episodes_and_env_kwargs(cli, tmp_path):
    out = tmp_path / "lake"
    result = cli(
        "compare FrozenLake-v1 --agents random --episodes 5 --runs 4",
        "--env-kwargs is_slippery=false map_name=4x4 --out",
        out,
    )
    assert result.code == 0, result.err
    assert {"return.png", "length.png"} <= {p.name for p in out.iterdir()}
    loaded = load_results(out)
    assert loaded.manifest["env_kwargs"] == {"is_slippery": False, "map_name": "4x4"}
    assert loaded.data["random"]["length"].shape == (4, 5)
    assert "return" in result.out and "length" in result.out


def test_env_kwargs_numbers_reach_the_env(cli, tmp_path):
    command = "compare bandit --agents random --steps 20 --runs 30 --seed 1"
    assert cli(command, "--out a").code == 0
    assert cli(command, "--env-kwargs value_mean=4 --out b").code == 0
    base, shifted = load_results(tmp_path / "a"), load_results(tmp_path / "b")
    assert shifted.manifest["env_kwargs"] == {"value_mean": 4}
    difference = shifted.data["random"]["reward"].mean() - base.data["random"]["reward"].mean()
    assert difference == pytest.approx(4.0, abs=0.05)


def test_compare_a_module_class_env(cli, tmp_path, monkeypatch):
    name = "rlcourse_cli_test_env"
    (tmp_path / f"{name}.py").write_text("from rlcourse_helpers import CountingEnv as Counting\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        result = cli(
            f"compare {name}:Counting --agents random --episodes 3 --runs 2",
            "--env-kwargs length=4 --out mine",
        )
    finally:
        sys.modules.pop(name, None)
    assert result.code == 0, result.err
    lengths = load_results(tmp_path / "mine").data["random"]["length"]
    np.testing.assert_array_equal(lengths, np.full((2, 3), 4))


def test_same_seed_same_results_different_seed_different(cli, tmp_path):
    def arrays(out, seed):
        command = f"compare bandit --agents epsilon-greedy:epsilon=0.1 {SMALL} --seed {seed}"
        assert cli(command, "--out", out).code == 0
        return load_results(out).data["epsilon-greedy:epsilon=0.1"]["reward"]

    first, again, other = arrays("a", 5), arrays("b", 5), arrays("c", 6)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    summaries = [(tmp_path / d / "summary.csv").read_bytes() for d in "ab"]
    assert summaries[0] == summaries[1]


def test_default_out_is_under_results(cli, tmp_path):
    result = cli("compare bandit --agents greedy --steps 5 --runs 2")
    assert result.code == 0, result.err
    (made,) = (tmp_path / "results").iterdir()
    assert made.name.startswith("bandit-")
    assert (made / "runs.npz").is_file()


def run_script(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the installed ``rlcourse`` console script, as a user would."""
    return subprocess.run(
        [console_script(), *shlex.split(command)],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_console_script(tmp_path):
    completed = run_script(
        "compare bandit --agents greedy ucb:c=1 --steps 50 --runs 20 --out out", tmp_path
    )
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, STAMP])
    rows = [line.split() for line in completed.stdout.splitlines()]
    assert rows[1] == ["agent", "metric", "mean", "95%", "CI", "n"]
    assert [row[:2] for row in rows[2:]] == [
        ["greedy", "reward"],
        ["greedy", "optimal_action"],
        ["ucb:c=1", "reward"],
        ["ucb:c=1", "optimal_action"],
    ]
    assert all(row[-1] == "20" for row in rows[2:])
    loaded = load_results(out)
    assert loaded.data["greedy"]["reward"].shape == (20, 50)
    summary = pd.read_csv(out / "summary.csv")
    for row, (_, expected) in zip(rows[2:], summary.iterrows(), strict=True):
        assert row[2] == f"{expected['mean']:.3f}"


def test_the_console_script_refuses_bad_input(tmp_path):
    completed = run_script("compare bandit --agents nobody --steps 5 --out out", tmp_path)
    assert completed.returncode == 2
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "nobody" in lines[0]
    assert "Traceback" not in completed.stderr
    assert completed.stdout == ""
    assert not (tmp_path / "out").exists()


# -- bad input: one line on stderr, exit 2, nothing written ----------------------------------------
BAD_INPUT = {
    # name: (command line, a word the error line must mention)
    "unknown env": ("compare nowhere-v0 --agents greedy --steps 5", "nowhere-v0"),
    "unknown agent": ("compare bandit --agents greedy wizard --steps 5", "wizard"),
    "epsilon above 1": ("compare bandit --agents epsilon-greedy:epsilon=1.5 --steps 5", "epsilon"),
    "epsilon below 0": ("compare bandit --agents epsilon-greedy:epsilon=-0.1 --steps 5", "epsilon"),
    "non-numeric epsilon": ("compare bandit --agents epsilon-greedy:epsilon=abc --steps 5", "abc"),
    "unknown parameter": ("compare bandit --agents ucb:temperature=2 --steps 5", "temperature"),
    "not KEY=VALUE": ("compare bandit --agents ucb:c --steps 5", "ucb:c"),
    "negative steps": ("compare bandit --agents greedy --steps -5", "--steps"),
    "zero steps": ("compare bandit --agents greedy --steps 0", "--steps"),
    "non-numeric steps": ("compare bandit --agents greedy --steps many", "--steps"),
    "negative episodes": ("compare bandit --agents greedy --episodes -2", "--episodes"),
    "negative runs": ("compare bandit --agents greedy --steps 5 --runs -1", "--runs"),
    "zero runs": ("compare bandit --agents greedy --steps 5 --runs 0", "--runs"),
    "non-numeric runs": ("compare bandit --agents greedy --steps 5 --runs lots", "--runs"),
    "no budget": ("compare bandit --agents greedy", "--steps"),
    "two budgets": ("compare bandit --agents greedy --steps 5 --episodes 5", "--episodes"),
    "no agents": ("compare bandit --steps 5", "--agents"),
    "greedy on CartPole": ("compare CartPole-v1 --agents greedy --steps 5", "random"),
    "ucb on CartPole": ("compare CartPole-v1 --agents random ucb --episodes 2", "ucb"),
    "unknown env kwarg": (
        "compare bandit --agents greedy --steps 5 --env-kwargs arms_count=3",
        "arms_count",
    ),
    "bad env kwarg value": ("compare bandit --agents greedy --steps 5 --env-kwargs k=-1", "k"),
    "env kwarg not K=V": (
        "compare bandit --agents greedy --steps 5 --env-kwargs value_mean",
        "value_mean",
    ),
    "unimportable module:Class": (
        "compare no_such_module_abc:Env --agents random --steps 5",
        "no_such_module_abc",
    ),
    "negative seed": ("compare bandit --agents greedy --steps 5 --seed -1", "seed"),
    "env kwarg the env refuses with KeyError": (
        "compare FrozenLake-v1 --agents random --episodes 2 --env-kwargs map_name=9x9",
        "9x9",
    ),
    "unknown figure": ("figure 9.9", "9.9"),
    "figure with zero runs": ("figure 2.2 --runs 0", "--runs"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input(cli, tmp_path, case):
    command, mentioned = BAD_INPUT[case]
    result = cli(command, "--out", tmp_path / "out")
    line = assert_usage_error(result)
    assert mentioned in line
    assert result.out == ""
    assert not (tmp_path / "out").exists()


def test_compare_refuses_an_image_folder_with_an_image_over_the_pixel_limit(
    cli, tmp_path, monkeypatch
):
    from PIL import Image

    (tmp_path / "photos").mkdir()
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "photos" / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow only warns below twice this
    result = cli("compare denoise --agents random --steps 3 --env-kwargs images=photos --out o")
    line = assert_usage_error(result)
    assert line.endswith(
        "ValueError: cannot read image photos/big.png: DecompressionBombWarning: Image size "
        "(1600 pixels) exceeds limit of 1000 pixels, could be decompression bomb DOS attack."
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_existing_out_is_refused_and_kept(cli, saved):
    before = snapshot(saved)
    result = cli("compare bandit --agents ucb --steps 9 --runs 3 --seed 9 --out", saved)
    line = assert_usage_error(result)
    assert "--force" in line and str(saved) in line
    assert snapshot(saved) == before


def test_existing_out_with_user_files_is_refused_and_kept(cli, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    assert_usage_error(cli(f"compare bandit --agents greedy {SMALL} --out mine"))
    assert snapshot(tmp_path / "mine") == {"thesis.tex": b"precious"}


def test_bad_input_with_force_loses_nothing(cli, saved):
    before = snapshot(saved)
    result = cli(f"compare bandit --agents wizard {SMALL} --force --out", saved)
    assert_usage_error(result)
    assert snapshot(saved) == before


def test_force_overwrites(cli, saved):
    result = cli("compare bandit --agents ucb --steps 9 --runs 3 --seed 9 --force --out", saved)
    assert result.code == 0, result.err
    loaded = load_results(saved)
    assert loaded.agents == ["ucb"]
    assert loaded.manifest["seed"] == 9
    assert loaded.data["ucb"]["reward"].shape == (3, 9)
    assert pd.read_csv(saved / "summary.csv").agent.unique().tolist() == ["ucb"]


def test_out_that_is_a_file_is_refused(cli, tmp_path):
    (tmp_path / "notes").write_text("keep me")
    result = cli(f"compare bandit --agents greedy {SMALL} --out notes")
    assert_usage_error(result)
    assert (tmp_path / "notes").read_text() == "keep me"


def test_debug_environment_variable_shows_the_exception(monkeypatch, capsys):
    monkeypatch.setenv("RLCOURSE_DEBUG", "1")
    with pytest.raises(UsageError):
        main(["compare", "nowhere-v0", "--agents", "greedy", "--steps", "5", "--out", "x"])


# -- plot ------------------------------------------------------------------------------------------
def test_plot_replots_from_disk(cli, saved):
    for png in saved.glob("*.png"):
        png.unlink()
    result = cli("plot", saved)
    assert result.code == 0, result.err
    assert {Path(line).name for line in result.out.split()} == {"reward.png", "optimal_action.png"}
    for name in ("reward.png", "optimal_action.png"):
        assert (saved / name).read_bytes()[:8] == PNG_MAGIC


def test_plot_one_metric_to_a_file_and_force(cli, saved, tmp_path):
    target = tmp_path / "curve.png"
    result = cli("plot", saved, "--metric optimal_action --out", target)
    assert result.code == 0, result.err
    assert result.out.strip() == str(target)
    assert target.read_bytes()[:8] == PNG_MAGIC

    target.write_bytes(b"old")
    line = assert_usage_error(cli("plot", saved, "--metric reward --out", target))
    assert "--force" in line
    assert target.read_bytes() == b"old"

    assert cli("plot", saved, "--metric reward --force --out", target).code == 0
    assert target.read_bytes()[:8] == PNG_MAGIC


def test_plot_study(cli, tmp_path):
    out = tmp_path / "study"
    agents = "epsilon-greedy:epsilon=1/16 epsilon-greedy:epsilon=1/4 ucb:c=1 ucb:c=2"
    assert cli(f"compare bandit --agents {agents} {SMALL} --out", out).code == 0
    result = cli("plot", out, "--kind study")
    assert result.code == 0, result.err
    assert (out / "study.png").read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize(
    "extra",
    [
        "--metric regret",
        "--kind study",  # greedy and ucb are no parameter study
        "--kind violin",
    ],
)
def test_plot_refuses_bad_requests(cli, saved, extra):
    before = snapshot(saved)
    assert_usage_error(cli("plot", saved, extra))
    assert snapshot(saved) == before
    assert not Path("one.png").exists()


def _deflate_corrupted(path: Path) -> None:
    """A runs.npz whose deflate stream is broken (a zlib error, not a CRC one)."""
    zeros = np.zeros((8, 30), dtype=np.float32)  # compresses, so it is stored deflated
    np.savez_compressed(path, **{"agent0.reward": zeros, "agent1.reward": zeros})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        member = archive.infolist()[0]
    assert member.compress_type == zipfile.ZIP_DEFLATED
    offset = member.header_offset
    name_length, extra_length = struct.unpack("<HH", data[offset + 26 : offset + 30])
    start = offset + 30 + name_length + extra_length
    data[start : start + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))


def _wrong_rank(path: Path) -> None:
    np.savez_compressed(path, **{"agent0.reward": np.arange(5.0), "agent1.reward": np.arange(5.0)})


UNREADABLE = {
    "runs.npz missing": lambda d: (d / "runs.npz").unlink(),
    "manifest.json missing": lambda d: (d / "manifest.json").unlink(),
    "runs.npz is text": lambda d: (d / "runs.npz").write_text("not a zip archive\n"),
    "runs.npz truncated": lambda d: (d / "runs.npz").write_bytes(
        (d / "runs.npz").read_bytes()[:300]
    ),
    "runs.npz empty": lambda d: (d / "runs.npz").write_bytes(b""),
    "runs.npz bad CRC": lambda d: (d / "runs.npz").write_bytes(
        (lambda b: b[:400] + bytes(x ^ 0xFF for x in b[400:410]) + b[410:])(
            (d / "runs.npz").read_bytes()
        )
    ),
    "runs.npz corrupted deflate stream": lambda d: _deflate_corrupted(d / "runs.npz"),
    "runs.npz arrays of the wrong shape": lambda d: _wrong_rank(d / "runs.npz"),
    "runs.npz holds no arrays": lambda d: np.savez(d / "runs.npz"),
    "manifest.json garbage": lambda d: (d / "manifest.json").write_text("{agents: greedy"),
    "manifest.json binary": lambda d: (d / "manifest.json").write_bytes(b"\xff\xfe\x00\x01junk"),
    "manifest.json a list": lambda d: (d / "manifest.json").write_text("[1, 2, 3]"),
    "manifest.json without agents": lambda d: (d / "manifest.json").write_text('{"runs": 8}'),
    "manifest.json with too few agents": lambda d: (d / "manifest.json").write_text(
        '{"agents": ["greedy"]}'
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_plot_an_unreadable_results_directory(cli, saved, case):
    UNREADABLE[case](saved)
    before = snapshot(saved)
    line = assert_usage_error(cli("plot", saved))
    assert str(saved) in line
    assert snapshot(saved) == before


def test_plot_a_missing_directory(cli, tmp_path):
    line = assert_usage_error(cli("plot", tmp_path / "never-written"))
    assert "never-written" in line


WRONG_TYPES = {
    "runs": ("x", "'runs' must be a positive integer, got 'x'"),
    "agents": (5, "'agents' must be a non-empty list of strings, got 5"),
    "env": (3, "'env' must be a string, got 3"),
    "seconds": ([], "'seconds' must be an object of numbers, got []"),
    "x": (5, "'x' must be a string, got 5"),
    "steps": ("many", "'steps' must be a positive integer or null, got 'many'"),
    "plot": (
        {"ylim": {"reward": 7}},
        "'plot' must be an object (its 'ylim': {metric: [low, high]})",
    ),
}


@pytest.mark.parametrize("field", list(WRONG_TYPES))
@pytest.mark.parametrize("kind", ["curves", "study", "values"])
def test_plot_refuses_a_manifest_field_of_the_wrong_type(cli, saved, field, kind):
    value, message = WRONG_TYPES[field]
    manifest = json.loads((saved / "manifest.json").read_text())
    (saved / "manifest.json").write_text(json.dumps({**manifest, field: value}))
    before = snapshot(saved)
    line = assert_usage_error(cli("plot", saved, "--kind", kind))
    assert line.startswith(f"rlcourse plot: error: cannot read results in {saved}: manifest.json ")
    assert message in line
    assert snapshot(saved) == before


def test_plot_refuses_an_agent_named_twice(cli, saved):
    manifest = json.loads((saved / "manifest.json").read_text())
    (saved / "manifest.json").write_text(json.dumps({**manifest, "agents": ["ucb", "ucb"]}))
    line = assert_usage_error(cli("plot", saved))
    assert line.endswith("manifest.json 'agents' names an agent twice: ['ucb', 'ucb']")


def test_plot_out_without_a_suffix_is_a_png_and_is_not_overwritten(cli, saved, tmp_path):
    (tmp_path / "report.png").write_bytes(b"mine")
    line = assert_usage_error(cli("plot", saved, "--metric reward --out report"))
    assert line == (
        f"rlcourse plot: error: {Path('report.png')} already exists; "
        "choose another --out or pass --force"
    )
    assert (tmp_path / "report.png").read_bytes() == b"mine"
    result = cli("plot", saved, "--metric reward --out report --force")
    assert result.code == 0, result.err
    assert result.out.split() == ["report.png"]
    assert (tmp_path / "report.png").read_bytes()[:8] == PNG_MAGIC


def test_plot_out_creates_missing_folders(cli, saved, tmp_path):
    result = cli("plot", saved, "--metric reward --out new/folder/curve.png")
    assert result.code == 0, result.err
    assert (tmp_path / "new/folder/curve.png").read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("notes/curve.png", "notes is a file, so --out notes/curve.png cannot be made"),
        ("curve.txt", "curve.txt: matplotlib writes no .txt files (it writes .avif, .eps,"),
        ("folder.png", "folder.png is a directory; --out takes a file name"),
    ],
)
def test_plot_out_refuses_what_cannot_be_written(cli, saved, tmp_path, out, message):
    (tmp_path / "notes").write_text("keep")
    (tmp_path / "folder.png").mkdir()
    line = assert_usage_error(cli("plot", saved, "--metric reward --force --out", out))
    assert line.startswith(f"rlcourse plot: error: {message}")
    assert (tmp_path / "notes").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.png", "notes", "saved"]


def test_plot_into_the_results_directory_keeps_its_stamp_complete(cli, saved):
    assert cli("plot", saved, "--metric reward --out", saved / "extra.png").code == 0
    stamp = json.loads((saved / STAMP).read_text())
    assert "extra.png" in stamp["files"]
    result = cli("compare bandit --agents ucb --steps 9 --runs 3 --force --out", saved)
    assert result.code == 0, result.err
    assert not (saved / "extra.png").exists()


def test_plot_refuses_a_file_in_the_results_directory_it_did_not_write(cli, saved):
    (saved / "reward.png").unlink()
    write_stamp(saved)  # as compare left it, without reward.png
    (saved / "reward.png").write_bytes(b"mine")
    line = assert_usage_error(cli("plot", saved))
    assert line.endswith(
        f"{saved / 'reward.png'} already exists; choose another --out or pass --force"
    )
    assert (saved / "reward.png").read_bytes() == b"mine"


GRID_MODULE = """\
from pathlib import Path

Path("imported.marker").write_text("this module ran")

from envs.gridworld import GridWorldEnv as Grid
"""


def test_plot_values_runs_a_module_from_the_manifest_only_when_named(cli, tmp_path, monkeypatch):
    out = tmp_path / "grid"
    agent = "epsilon-greedy:epsilon=0.1,alpha=0.5"
    command = f"compare gridworld --agents {agent} --episodes 3 --runs 2 --env-kwargs layout=cliff"
    assert cli(command, "--out", out).code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "env": "rlcourse_grid_abc:Grid"}))
    (tmp_path / "rlcourse_grid_abc.py").write_text(GRID_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    marker = tmp_path / "imported.marker"
    try:
        line = assert_usage_error(cli("plot", out, "--kind values"))
        assert line == (
            "rlcourse plot: error: manifest.json names the env 'rlcourse_grid_abc:Grid', which is "
            "code to import and run; from a file rlcourse makes only registered Gymnasium ids. "
            "If you trust it, name it yourself: --env rlcourse_grid_abc:Grid"
        )
        assert not marker.exists() and not (out / "values.png").exists()
        result = cli("plot", out, "--kind values --env rlcourse_grid_abc:Grid")
    finally:
        sys.modules.pop("rlcourse_grid_abc", None)
    assert result.code == 0, result.err
    assert marker.read_text() == "this module ran"
    assert (out / "values.png").read_bytes()[:8] == PNG_MAGIC


def test_plot_env_is_for_value_heatmaps_only(cli, saved):
    before = snapshot(saved)
    line = assert_usage_error(cli("plot", saved, "--env bandit"))
    assert line == (
        "rlcourse plot: error: --env names the grid of --kind values; the other kinds need no env"
    )
    assert snapshot(saved) == before


def test_plot_values_refuses_an_env_whose_grid_does_not_fit(cli, tmp_path):
    out = tmp_path / "grid"
    agent = "epsilon-greedy:epsilon=0.1,alpha=0.5"
    command = f"compare gridworld --agents {agent} --episodes 3 --runs 2"
    assert cli(command, "--out", out).code == 0
    before = snapshot(out)
    line = assert_usage_error(cli("plot", out, "--kind values --env CliffWalking-v1"))
    assert line == (
        f"rlcourse plot: error: the values of {agent!r} have shape (2, 16, 4), not (runs, "
        "48 states, 4 actions) as the grid of CliffWalking-v1"
    )
    assert snapshot(out) == before


# -- figure ----------------------------------------------------------------------------------------
def test_figure_list(cli):
    result = cli("figure --list")
    assert result.code == 0
    for number in ("2.2", "2.3", "2.4", "2.5", "2.6"):
        assert f"Figure {number}:" in result.out
    assert "rlcourse compare bandit" in result.out


def test_figure_runs_small(cli, tmp_path):
    out = tmp_path / "fig"
    result = cli("figure 2.2 --runs 6 --steps 20 --out", out)
    assert result.code == 0, result.err
    assert {"reward.png", "optimal_action.png", "runs.npz"} <= {p.name for p in out.iterdir()}
    assert load_results(out).agents == [
        "greedy",
        "epsilon-greedy:epsilon=0.01",
        "epsilon-greedy:epsilon=0.1",
    ]
    assert_usage_error(cli("figure 2.2 --runs 6 --steps 20 --out", out))  # exists already


def test_figure_study_runs_small(cli, tmp_path):
    out = tmp_path / "fig26"
    result = cli("figure 2.6 --runs 3 --steps 10 --out", out)
    assert result.code == 0, result.err
    assert (out / "study.png").is_file()
    assert "mean reward over all 10 steps" in result.out


def test_compare_dry_run_prints_the_plan_and_memory_and_writes_nothing(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("compare CartPole-v1 --agents dqn random --runs 10 --steps 1000 --dry-run --out",
                 out)  # fmt: skip
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"would compare dqn, random on CartPole-v1: 10 runs of 1000 steps each, into {out}/",
        "memory: about 62.9 MB (results 150.0 kB, analysis 464.0 kB, envs 81.0 kB, replay buffers "
        "46.0 MB, networks 16.2 MB, agent temporaries 640 B)",
    ]
    assert list(tmp_path.iterdir()) == []


def test_compare_refuses_a_batch_that_will_not_fit_in_one_line(cli, tmp_path, monkeypatch):
    import rlcourse.memory

    monkeypatch.setattr(rlcourse.memory, "available_bytes", lambda: 1_000_000_000)
    line = assert_usage_error(
        cli("compare bandit --agents greedy --runs 100000 --steps 10000 --out", tmp_path / "o")
    )
    assert line == (
        "rlcourse compare: error: needs about 34.1 GB (results 10.0 GB, analysis 24.0 GB, envs "
        "40.1 MB, agent tables 16.0 MB, agent temporaries 32.0 MB) but 1.0 GB is available; "
        "lower the runs, the budget, or the sizes in the agents' or the env's settings"
    )
    assert list(tmp_path.iterdir()) == []


def test_plot_several_metrics_into_one_file_draws_a_panel_each(cli, saved, tmp_path):
    from PIL import Image

    out = tmp_path / "both.png"
    result = cli("plot", saved, "--out", out)
    assert result.code == 0, result.err
    assert result.out.split() == [str(out)]
    single = tmp_path / "reward.png"
    assert cli("plot", saved, "--metric reward --out", single).code == 0
    both, one = Image.open(out), Image.open(single)
    assert both.width == one.width and both.height > 1.3 * one.height  # two panels, stacked


def test_plot_out_a_folder_writes_each_plot_there(cli, saved, tmp_path):
    folder = tmp_path / "figs"
    result = cli("plot", saved, "--out", f"{folder}/")
    assert result.code == 0, result.err
    assert sorted(p.name for p in folder.iterdir()) == ["optimal_action.png", "reward.png"]
    assert all((folder / name).read_bytes()[:8] == PNG_MAGIC for name in os.listdir(folder))
    again = assert_usage_error(cli("plot", saved, "--out", folder))  # an existing folder too
    assert again.endswith(".png already exists; choose another --out or pass --force")
