"""The sweep TOML: expansion of grids, and errors that name the file, line and key."""

from __future__ import annotations

import textwrap

import pytest

from rlcourse.errors import UsageError
from rlcourse.figures import FIGURES
from rlcourse.sweep.config import DEFAULT_CHUNK, EnvEntry, load_config, parse_config

ISSUE_EXAMPLE = """\
[sweep]
runs = 200
steps = 500        # or: episodes = 300
seed = 0
[[env]]
id = "bandit"      # any env `rlcourse compare` accepts; optional kwargs = { ... }
[[agent]]
name = "epsilon-greedy"
grid = { epsilon = [0.01, 0.1] }
[[agent]]
name = "ucb"
grid = { c = [1, 2] }
"""


def test_the_issue_example_expands_to_specs():
    config = parse_config(ISSUE_EXAMPLE)
    assert config.agents == (
        "epsilon-greedy:epsilon=0.01",
        "epsilon-greedy:epsilon=0.1",
        "ucb:c=1",
        "ucb:c=2",
    )
    assert (config.runs, config.steps, config.episodes, config.seed) == (200, 500, None, 0)
    assert config.chunk == DEFAULT_CHUNK
    assert config.envs == (EnvEntry("bandit", {}),)


def test_grids_are_cartesian_in_file_order_with_fixed_params():
    config = parse_config(
        textwrap.dedent(
            """
            [sweep]
            runs = 3
            episodes = 5
            [[env]]
            id = "gridworld"
            kwargs = { layout = "cliff" }
            [[agent]]
            name = "epsilon-greedy"
            params = { learner = "sarsa", gamma = 1.0 }
            grid = { epsilon = [0.1, 0.2], alpha = [0.5, 1] }
            """
        )
    )
    assert config.agents == (
        "epsilon-greedy:learner=sarsa,gamma=1.0,epsilon=0.1,alpha=0.5",
        "epsilon-greedy:learner=sarsa,gamma=1.0,epsilon=0.1,alpha=1",
        "epsilon-greedy:learner=sarsa,gamma=1.0,epsilon=0.2,alpha=0.5",
        "epsilon-greedy:learner=sarsa,gamma=1.0,epsilon=0.2,alpha=1",
    )
    assert config.envs[0].label == "gridworld:layout=cliff"
    assert config.episodes == 5 and config.steps is None


def test_figure_2_6_file_holds_the_figures_configurations():
    config = load_config("docs/sweeps/fig2.6.toml")
    assert config.agents == FIGURES["2.6"].agents
    assert (config.runs, config.steps) == (FIGURES["2.6"].runs, FIGURES["2.6"].steps)


def test_the_digest_follows_the_numbers_not_the_comments():
    base = parse_config(ISSUE_EXAMPLE)
    assert parse_config(ISSUE_EXAMPLE.replace("# or", "# OR")).digest == base.digest
    assert parse_config(ISSUE_EXAMPLE.replace("seed = 0", "seed = 1")).digest != base.digest
    assert parse_config(ISSUE_EXAMPLE + "").digest == base.digest


def _error(text: str) -> str:
    with pytest.raises(UsageError) as caught:
        parse_config(textwrap.dedent(text), "my.toml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("grid = { c", "grd = { c"), "my.toml, line 12: [[agent]] 2: unknown key 'grd'"),
        (("runs = 200", "runs = '200'"), "my.toml, line 2: [sweep]: 'runs' must be an integer"),
        (("runs = 200", "runs = 0"), "line 2: [sweep]: 'runs' must be a positive integer, got 0"),
        (("seed = 0", "seed = true"), "line 4: [sweep]: 'seed' must be an integer, got bool"),
        (("seed = 0", "sed = 0"), "line 4: [sweep]: unknown key 'sed' (expected runs, steps"),
        (("[[env]]", "[[envs]]"), "line 5: [envs]: unknown table 'envs'"),
        (('id = "bandit"', "id = 3"), "line 6: [[env]] 1: 'id' must be a non-empty string"),
        (
            ("{ epsilon = [0.01, 0.1] }", "{ epsilon = 0.1 }"),
            "line 9: [[agent]] 1: grid.epsilon must be a non-empty array of values, got 0.1",
        ),
        (
            ("{ c = [1, 2] }", "{ c = [1, 1] }"),
            "[[agent]] 2: agent 'ucb:c=1' appears twice in the sweep",
        ),
        (("steps = 500", "episodes = 5\nsteps = 500"), "give exactly one of 'steps' or 'episodes'"),
        (("steps = 500", ""), "[sweep]: give exactly one of 'steps' or 'episodes'"),
        (('name = "ucb"', 'name = "ucb:c=1"'), "line 11: [[agent]] 2: name 'ucb:c=1' holds"),
    ],
)
def test_bad_keys_and_values_name_the_line_and_key(change, expected):
    old, new = change
    assert expected in _error(ISSUE_EXAMPLE.replace(old, new, 1))


def test_sub_table_keys_are_found_too():
    message = _error(
        """
        [sweep]
        runs = 2
        steps = 3
        [[env]]
        id = "bandit"
        [[agent]]
        name = "ucb"
        [agent.grid]
        c = [1, 2]
        d = "x"
        """
    )
    assert "my.toml, line 11: [[agent]] 1: grid.d must be a non-empty array" in message


def test_syntax_errors_and_missing_tables():
    assert "my.toml: not valid TOML" in _error("[sweep\nruns = 1")
    assert "line 2" in _error("[sweep]\nruns = = 1")
    assert "missing the [sweep] table" in _error("[[env]]\nid = 'bandit'")
    assert "give at least one [[agent]] table" in _error(ISSUE_EXAMPLE.split("[[agent]]")[0])
    assert "give at least one [[env]] table" in _error(ISSUE_EXAMPLE.replace("[[env]]", "[env]"))


def test_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read .*nope.toml"):
        load_config(tmp_path / "nope.toml")
