"""The sweep TOML: expansion of grids, and errors that name the file, line and key."""

from __future__ import annotations

import copy
import datetime
import io
import json
import re
import textwrap
import tomllib
from contextlib import redirect_stderr, redirect_stdout

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agents import AGENTS
from rlcourse.cli import main
from rlcourse.errors import UsageError
from rlcourse.figures import FIGURES
from rlcourse.sweep.config import (
    DEFAULT_CHUNK,
    EnvEntry,
    config_from_dict,
    load_config,
    parse_config,
)
from rlcourse.sweep.units import check_names, plan

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


def test_gym_packages_are_recorded_and_a_sweep_without_them_keeps_its_digest():
    base = parse_config(ISSUE_EXAMPLE)
    assert "gym_packages" not in base.as_dict()  # older sweep.json files load with their hash
    text = ISSUE_EXAMPLE.replace("seed = 0", 'seed = 0\ngym_packages = ["highway_env", "a.b"]')
    config = parse_config(text)
    assert config.gym_packages == ("highway_env", "a.b")
    assert config.as_dict()["gym_packages"] == ["highway_env", "a.b"]
    assert config.digest != base.digest
    assert config_from_dict(json.loads(json.dumps(config.as_dict())), "sweep.json") == config
    assert config_from_dict(json.loads(json.dumps(base.as_dict())), "sweep.json") == base
    assert {unit.gym_packages for unit in plan(config)} == {("highway_env", "a.b")}
    assert [u.digest for u in plan(config)] == [u.digest for u in plan(base)]  # same numbers


@pytest.mark.parametrize("value", ['"highway_env"', "[1]", '["../evil"]', '[""]'])
def test_gym_packages_must_be_a_list_of_package_names(value):
    text = ISSUE_EXAMPLE.replace("seed = 0", f"seed = 0\ngym_packages = {value}")
    assert _error(text) == (
        "my.toml, line 5: [sweep]: 'gym_packages' must be a list of package names, such as "
        '["highway_env"]'
    )


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


# -- any file --------------------------------------------------------------------------------------


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")  # DEL is escaped too


def _toml_value(value) -> str:
    """One TOML value (inline) for what tomllib returns."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value)  # nan, inf, 1e+16 are TOML as Python writes them
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"


def _toml(document: dict) -> str:
    """A TOML file: plain keys first, then [tables], then [[arrays of tables]]."""
    tables = {k: v for k, v in document.items() if isinstance(v, dict)}
    arrays = {
        k: v
        for k, v in document.items()
        if isinstance(v, list) and v and all(isinstance(t, dict) for t in v)
    }
    lines = [
        f"{_toml_key(k)} = {_toml_value(v)}"
        for k, v in document.items()
        if k not in tables and k not in arrays
    ]
    for key, table in [*tables.items(), *((k, t) for k, ts in arrays.items() for t in ts)]:
        lines.append(f"[[{_toml_key(key)}]]" if key in arrays else f"[{_toml_key(key)}]")
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


KEYS = st.text(max_size=6)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.text(max_size=10),
    st.dates(),
    st.times(),
    st.datetimes(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=6,
)
COUNTS = st.one_of(st.integers(1, 40), st.integers(-2, 2**63 - 1))
PARAM_NAMES = st.sampled_from(["epsilon", "c", "alpha", "initial", "learner", "k"])
PARAM_VALUES = st.one_of(SCALARS, st.sampled_from(["1/128", "2^-3", "sarsa", "none", "a,b"]))
SWEEP = st.builds(
    lambda table, budget: table | budget,
    st.fixed_dictionaries({"runs": COUNTS}, optional={"seed": COUNTS, "chunk": COUNTS}),
    st.one_of(
        st.fixed_dictionaries({"steps": COUNTS}), st.fixed_dictionaries({"episodes": COUNTS})
    ),
)
ENV = st.fixed_dictionaries(
    {"id": st.sampled_from(["bandit", "gridworld", "CartPole-v1", "nope", "x.y:Env", ":x"])},
    optional={"kwargs": st.dictionaries(KEYS, VALUES, max_size=3)},
)
AGENT = st.fixed_dictionaries(
    {"name": st.sampled_from([*AGENTS, "nope", "a:b"])},
    optional={
        "params": st.dictionaries(PARAM_NAMES, PARAM_VALUES, max_size=2),
        "grid": st.dictionaries(PARAM_NAMES, st.lists(PARAM_VALUES, max_size=3), max_size=2),
    },
)
SWEEPS = st.fixed_dictionaries(
    {
        "sweep": SWEEP,
        "env": st.lists(ENV, min_size=1, max_size=3),
        "agent": st.lists(AGENT, min_size=1, max_size=3),
    }
)


def _mutate(document: dict, path: list[int], value) -> dict:
    """``document`` with the node that ``path`` picks (index by index) replaced by ``value``."""
    document = copy.deepcopy(document)
    node = document
    for step in path:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = keys[step % len(keys)]
        if not isinstance(node[key], dict | list) or step == path[-1]:
            node[key] = value
            break
        node = node[key]
    return document


DOCUMENTS = st.one_of(
    SWEEPS,
    st.builds(_mutate, SWEEPS, st.lists(st.integers(0, 20), min_size=1, max_size=4), VALUES),
    st.dictionaries(st.sampled_from(["sweep", "env", "agent", "extra"]), VALUES, max_size=3),
)


def _config_or_one_line(text: str):
    """The config of ``text`` (its names checked, its plan made), or None after one clear line."""
    try:
        config = parse_config(text, "any.toml")
        check_names(config)
    except UsageError as err:
        assert str(err) and "\n" not in str(err), str(err)
        return None
    units = plan(config)
    assert len(units) == len(config.envs) * len(config.agents) * -(-config.runs // config.chunk)
    assert len({unit.digest for unit in units}) == len(units)
    return config


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder the property tests write their files into (one file at a time)."""
    return tmp_path_factory.mktemp("any")


def _dry_run(directory, text: str) -> tuple[int, str, str]:
    """``rlcourse sweep FILE --dry-run`` on ``text``: exit status, stdout, stderr."""
    path = directory / "any.toml"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["sweep", str(path), "--dry-run", "--out", str(directory / "out")])
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS)
@example(
    {
        "sweep": {"runs": 1, "steps": 1},
        "env": [{"id": "bandit", "kwargs": {"start": datetime.date(1979, 5, 27)}}],
        "agent": [{"name": "greedy"}],
    }
)
@example(  # a key with a line break made a two-line message
    {
        "sweep": {"runs": 1, "steps": 1},
        "env": [{"id": "bandit", "kwargs": {"\n": datetime.date(2000, 1, 1)}}],
        "agent": [{"name": "random"}],
    }
)
@example({"sweep": {"runs": 1, "steps": 1}, "env": [False], "agent": [{"name": "random"}]})
@example(  # 2**63 - 1 runs in chunks of 500: a plan of 10**16 units never ended
    {
        "sweep": {"runs": 2**63 - 1, "steps": 1},
        "env": [{"id": "bandit"}],
        "agent": [{"name": "random"}],
    }
)
@example(  # a grid of 10**6 configurations
    {
        "sweep": {"runs": 1, "steps": 1},
        "env": [{"id": "bandit"}],
        "agent": [
            {"name": "ucb", "grid": {k: list(range(100)) for k in ("c", "alpha", "initial")}}
        ],
    }
)
@example(  # a multi-line layout: its label (tables, plots, messages) stays on one line
    {
        "sweep": {"runs": 1, "steps": 1},
        "env": [{"id": "nope", "kwargs": {"layout": "S.\n.G"}}],
        "agent": [{"name": "random"}],
    }
)
def test_any_toml_document_is_a_sweep_or_one_usage_error(scratch, document):
    text = _toml(document)
    assert _canonical(tomllib.loads(text)) == _canonical(document)  # the file says what we meant
    config = _config_or_one_line(text)
    code, out, err = _dry_run(scratch, text)
    if config is None:
        assert code == 2 and len(err.splitlines()) == 1, err
        assert err.startswith("rlcourse sweep: error: any.toml") or "[[" in err, err
    elif code == 2:  # a valid sweep whose results will not fit in memory
        assert len(err.splitlines()) == 1 and err.startswith("rlcourse sweep: error: needs about")
    else:
        assert code == 0, err
        assert f"units: {len(plan(config))} " in out
    assert not (scratch / "out").exists()


def _canonical(data) -> str:
    return json.dumps(data, sort_keys=True, default=lambda date: date.isoformat())


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="[]=\"'{},.#\n runsteps0123agentvid")))
def test_any_text_is_a_sweep_or_one_usage_error(text):
    _config_or_one_line(text)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=40))
@example(b"# caf\xe9\n")  # was a UnicodeDecodeError traceback
def test_any_bytes_in_a_file_are_a_sweep_or_one_usage_error(scratch, data):
    path = scratch / "sweep.toml"
    path.write_bytes(ISSUE_EXAMPLE.encode() + data)
    try:
        load_config(path)
    except UsageError as err:
        assert str(err).startswith("sweep.toml") and "\n" not in str(err)


def test_a_layout_on_several_lines_is_labelled_on_one():
    config = parse_config(
        ISSUE_EXAMPLE.replace('id = "bandit"', 'id = "gridworld"\nkwargs = { layout = "S.\\n.G" }')
    )
    assert config.envs[0].kwargs == {"layout": "S.\n.G"}
    assert config.envs[0].label == "gridworld:layout=S.\\n.G"


def test_more_units_than_a_sweep_may_have_are_refused_before_planning():
    message = _error(ISSUE_EXAMPLE.replace("runs = 200", "runs = 1000000000000"))
    assert message == (
        "my.toml, line 2: [sweep]: 1 env(s) × 4 agent configuration(s) × 2,000,000,000 "
        "chunk(s) of up to 500 runs make 8,000,000,000 units, more than a sweep may have "
        "(100,000); raise 'chunk' or split the sweep"
    )
    message = _error(ISSUE_EXAMPLE.replace("runs = 200", "runs = 9223372036854775807"))
    assert message == (
        "my.toml, line 2: [sweep]: runs 9,223,372,036,854,775,807 is more than any run could "
        "reach (at most 1,000,000,000,000)"
    )


STORED = st.one_of(  # what a sweep.json from anywhere may hold as its configuration
    st.builds(
        _mutate,
        st.just(parse_config(ISSUE_EXAMPLE).as_dict()),
        st.lists(st.integers(0, 20), min_size=1, max_size=4),
        VALUES,
    ),
    st.dictionaries(
        st.sampled_from(["runs", "steps", "episodes", "seed", "chunk", "envs", "agents", "x"]),
        VALUES,
    ),
    VALUES,
)


@settings(max_examples=300, deadline=None)
@given(STORED)
def test_any_stored_configuration_is_a_sweep_or_one_usage_error(data):
    data = json.loads(_canonical(data))  # as sweep.json holds it
    try:
        config = config_from_dict(data, "sweep.json")
    except UsageError as err:
        assert str(err).startswith("sweep.json") and "\n" not in str(err), str(err)
        return
    assert _canonical(config.as_dict()) == _canonical(data)


@settings(max_examples=100, deadline=None)
@given(SWEEPS)
def test_a_sweep_reads_back_from_its_stored_configuration(document):
    try:
        config = parse_config(_toml(document))
    except UsageError:
        return
    stored = json.loads(json.dumps(config.as_dict()))
    assert config_from_dict(stored, "sweep.json") == config
    assert config_from_dict(stored, "sweep.json").digest == config.digest
