"""``compare``: torch threads of agents that train networks."""

from __future__ import annotations

import pytest
import torch
from rlcourse_helpers import assert_usage_error

import rlcourse
from agents.uniform import RandomAgent
from rlcourse.errors import UsageError


class ThreadProbe(RandomAgent):
    """A random agent that says it trains networks and records torch's threads as it acts."""

    trains_networks = True

    def __init__(self, action_space):
        super().__init__(action_space)
        self.seen: set[int] = set()

    def act(self, obs):
        self.seen.add(torch.get_num_threads())
        return super().act(obs)


@pytest.mark.parametrize("threads", [1, 2])
def test_compare_runs_network_agents_on_the_threads_asked_and_records_them(threads):
    import gymnasium as gym

    probe = ThreadProbe(gym.spaces.Discrete(10))
    before = torch.get_num_threads()
    torch.set_num_threads(3 - threads)  # the other count, so that a run left alone shows it
    try:
        results = rlcourse.compare("bandit", {"probe": probe}, steps=3, runs=2, progress=False,
                                   threads=threads)  # fmt: skip
        assert torch.get_num_threads() == 3 - threads  # given back after the comparison
    finally:
        torch.set_num_threads(before)
    assert probe.seen == {threads}
    assert results.manifest["threads"] == threads
    assert results.manifest["device"] == "cpu"


def test_compare_threads_default_to_one_and_tables_record_none(cli, tmp_path):
    results = rlcourse.compare("bandit", ["greedy"], steps=3, runs=2, progress=False)
    assert "threads" not in results.manifest
    with pytest.raises(UsageError, match="threads must be a positive integer, not 0"):
        rlcourse.compare("bandit", ["greedy"], steps=3, runs=2, progress=False, threads=0)
    line = assert_usage_error(cli("compare bandit --agents greedy --steps 3 --threads 0 --out",
                                  tmp_path / "out"))  # fmt: skip
    assert "--threads" in line
    assert not (tmp_path / "out").exists()
