"""Sweeps on a real local Ray (started here on 127.0.0.1, stopped after): identical results."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement
from rlcourse_helpers import assert_usage_error

ray = pytest.importorskip("ray")

from rlcourse.sweep import Unit, run_sweep, run_unit  # noqa: E402
from rlcourse.sweep.backends import check_loopback, execute, init_ray  # noqa: E402
from rlcourse.sweep.config import parse_config  # noqa: E402

TOML = """\
[sweep]
runs = 10
steps = 40
seed = 5
chunk = 4
[[env]]
id = "bandit"
[[agent]]
name = "epsilon-greedy"
grid = { epsilon = [0.0, 0.1] }
"""


def test_the_installed_ray_is_in_the_range_pyproject_allows():
    """The upper bound of ``ray`` covers the version these tests run (the loopback check relies
    on Ray internals: a new major version must be tested before it is allowed)."""
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    (line,) = pyproject["project"]["optional-dependencies"]["ray"]
    allowed = Requirement(line).specifier
    assert allowed.contains(ray.__version__), (line, ray.__version__)
    assert allowed.contains("2.9.0") and not allowed.contains("3.0.0"), line


def test_a_local_ray_beyond_loopback_is_refused_and_shut_down(tmp_path, cli, monkeypatch):
    if ray.is_initialized():  # runs before the module's Ray starts (tests run in file order)
        pytest.skip("a Ray is already running in this process")
    real_nodes = ray.nodes

    def exposed_nodes():  # as Ray reports a node bound to the machine's address
        return [{**node, "NodeManagerAddress": "192.0.2.7"} for node in real_nodes()]

    monkeypatch.setattr(ray, "nodes", exposed_nodes)
    config = tmp_path / "sweep.toml"
    config.write_text(TOML)
    out = tmp_path / "out"
    line = assert_usage_error(cli("sweep", config, "--backend ray --workers 1 --out", out))
    assert line == (
        f"rlcourse sweep: error: the local Ray (ray {ray.__version__}) started on 192.0.2.7, "
        "not on 127.0.0.1 alone, where other machines could send it work; it was shut down. "
        "Use --backend local, or start a Ray cluster yourself and pass --address"
    )
    assert not ray.is_initialized()
    assert not out.exists()  # refused before the directory was touched


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module, started the way ``--backend ray`` starts it."""
    if ray.is_initialized():
        pytest.skip("a Ray is already running in this process")
    init_ray(workers=2)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _arrays(swept):
    return {
        (agent, metric): values
        for agent, per_agent in swept.results["bandit"].data.items()
        for metric, values in per_agent.items()
    }


def _listening_addresses(pids: set[int]) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Local addresses of the TCP sockets in LISTEN state that the processes ``pids`` hold."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue  # a worker that just ended
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                raw = bytes.fromhex(fields[1].split(":")[0])
                # /proc prints each 32-bit word in host (little-endian) order
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                address = ipaddress.ip_address(words)
                addresses.append(getattr(address, "ipv4_mapped", None) or address)
    return addresses


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads Linux's /proc")
def test_ray_listens_on_loopback_only(local_ray):
    check_loopback()  # what init_ray checked: passes, and Ray is still up
    assert ray.is_initialized()
    host = local_ray.rpartition(":")[0]
    assert ipaddress.ip_address(host).is_loopback
    assert all(ipaddress.ip_address(n["NodeManagerAddress"]).is_loopback for n in ray.nodes())
    addresses = _listening_addresses(_descendants(os.getpid()) | {os.getpid()})
    assert len(addresses) >= 3, "found too few sockets of the Ray processes (gcs, raylet, ...)"
    assert all(address.is_loopback for address in addresses), addresses


def test_ray_gives_the_same_numbers_as_this_process(local_ray, tmp_path):
    config = parse_config(TOML)
    here = run_sweep(config, tmp_path / "serial", workers=1, progress=False, plots=False)
    there = run_sweep(config, tmp_path / "ray", backend="ray", progress=False, plots=False)
    for key, values in _arrays(here).items():
        np.testing.assert_array_equal(_arrays(there)[key], values)
    for name in ("summary.csv", "iqm.csv", "curves.csv"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()


def test_a_failing_unit_on_ray_is_a_usage_error(local_ray):
    from rlcourse.errors import UsageError

    bad = Unit("bandit", {}, "ucb:k=1", 0, 2, 0, 5, None)
    with pytest.raises(UsageError, match="'k'"):
        list(execute(run_unit, [bad], backend="ray"))


def test_the_cli_connects_to_an_existing_cluster_by_address(local_ray, tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text(TOML)
    env = {**os.environ, "RAY_ADDRESS": local_ray}
    completed = subprocess.run(
        [sys.executable, "-m", "rlcourse", "sweep", str(config), "--backend", "ray"]
        + ["--out", str(tmp_path / "cluster"), "--no-plots"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    run_sweep(parse_config(TOML), tmp_path / "serial", workers=1, progress=False, plots=False)
    assert (tmp_path / "cluster" / "summary.csv").read_bytes() == (
        tmp_path / "serial" / "summary.csv"
    ).read_bytes()


def test_ray_workers_never_import_modules_from_the_working_folder(local_ray, tmp_path):
    """Ray puts the driver's working folder on its workers' path: a ``gymnasium.py``,
    ``agents.py`` or ``envs.py`` there must not be imported in place of the installed ones."""
    marker = tmp_path / "imported"
    for name in ("gymnasium", "agents", "envs"):
        (tmp_path / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write('{name}\\n')\n")
    (tmp_path / "sweep.toml").write_text(TOML)
    command = Path(sys.executable).with_name("rlcourse")  # the installed command, as users run it
    completed = subprocess.run(
        [command, "sweep", "sweep.toml", "--backend", "ray", "--out", "o", "--no-plots"],
        cwd=tmp_path,
        env={**os.environ, "RAY_ADDRESS": local_ray},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert not marker.exists(), marker.read_text()
    assert (tmp_path / "o" / "summary.csv").is_file()
