"""What the commands share: KEY=VALUE pairs, argument types, the summary table, staged output."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlcourse_helpers import assert_usage_error, snapshot

from rlcourse.cli import COMMANDS, build_parser
from rlcourse.cli.common import (
    Parser,
    literal,
    nonempty,
    parse_pairs,
    positive_int,
    print_summary,
    seed_int,
)
from rlcourse.errors import UsageError
from rlcourse.outputs import STAMP, write_stamp


def test_parse_pairs_converts_values_as_typed():
    pairs = parse_pairs(
        ["n=3", "p=0.5", "flag=True", "off=false", "none=None", "name=cliff", "empty=", "eq=a=b"],
        "--env-kwargs",
    )
    assert pairs == {
        "n": 3,
        "p": 0.5,
        "flag": True,
        "off": False,
        "none": None,
        "name": "cliff",
        "empty": "",
        "eq": "a=b",
    }
    assert type(pairs["n"]) is int


def test_parse_pairs_keeps_strings_with_nonempty():
    assert parse_pairs(["lr=1e-3", "hidden=64,64"], "--set", convert=nonempty) == {
        "lr": "1e-3",
        "hidden": "64,64",
    }


def test_parse_pairs_of_nothing_is_empty():
    assert parse_pairs(None, "--set") == {} == parse_pairs([], "--set")


def test_a_later_pair_wins():
    assert parse_pairs(["a=1", "a=2"], "--env-kwargs") == {"a": 2}


@pytest.mark.parametrize(
    ("item", "flag", "convert", "message"),
    [
        ("foo", "--env-kwargs", literal, "--env-kwargs takes KEY=VALUE, got 'foo'"),
        ("=3", "--env-kwargs", literal, "--env-kwargs takes KEY=VALUE, got '=3'"),
        ("foo", "--set", nonempty, "--set takes KEY=VALUE, got 'foo'"),
        ("a=", "--set", nonempty, "--set takes KEY=VALUE, got 'a='"),
        ("=", "--set", nonempty, "--set takes KEY=VALUE, got '='"),
    ],
)
def test_parse_pairs_refuses_with_one_message(item, flag, convert, message):
    with pytest.raises(UsageError) as refused:
        parse_pairs(["ok=1", item], flag, convert=convert)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (positive_int, "0", "must be a positive integer, got 0"),
        (positive_int, "2.5", "'2.5' is not an integer"),
        (seed_int, "-1", "must be a non-negative integer, got -1"),
    ],
)
def test_integer_types_refuse_with_these_messages(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=f"^{message}$"):
        parse(text)
    assert positive_int("7") == 7 and seed_int("0") == 0


def test_print_summary_of_a_comparison(capsys):
    table = pd.DataFrame(
        {
            "agent": ["greedy"],
            "metric": ["reward"],
            "mean": [1.23456],
            "ci_low": [1.0],
            "ci_high": [1.5],
            "n": [10],
        }
    )
    print_summary(table, "summary (final 10% of steps, 10 runs):")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "summary (final 10% of steps, 10 runs):"
    assert lines[1].split() == ["agent", "metric", "mean", "95%", "CI", "n"]
    assert lines[2].split() == ["greedy", "reward", "1.235", "[1.000,", "1.500]", "10"]


def test_print_summary_of_a_sweep_shows_the_iqm_before_n(capsys):
    table = pd.DataFrame(
        {
            "env": ["bandit"],
            "agent": ["ucb:c=2"],
            "metric": ["reward"],
            "mean": [1.0],
            "ci_low": [0.9],
            "ci_high": [1.1],
            "n": [4],
            "iqm": [0.98765],
        }
    )
    print_summary(table, "heading")
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["env", "agent", "metric", "mean", "95%", "CI", "iqm", "n"]
    assert lines[2].split() == ["bandit", "ucb:c=2", "reward", "1.000", "[0.900,", "1.100]"] + [
        "0.988",
        "4",
    ]


@pytest.mark.parametrize("module", COMMANDS, ids=lambda module: module.__name__)
def test_every_command_module_registers_the_same_way(module):
    parser = Parser(prog="rlcourse")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    module.register(sub)
    assert sub.choices, "register added no command"
    assert all(isinstance(command, Parser) for command in sub.choices.values())


def test_the_commands_in_help_order():
    help_text = build_parser().format_help()
    order = ["envs", "agents", "compare", "plot", "figure", "train", "evaluate", "sweep"]
    order += ["supervised", "faces", "denoise", "restore"]
    positions = [help_text.index(f"\n    {name}") for name in order]
    assert positions == sorted(positions)


def test_a_failing_command_keeps_the_old_output_byte_identical(cli, tmp_path, monkeypatch):
    import supervised.experiments

    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text('{"old": 1}\n')
    (out / "plot.png").write_bytes(b"\x89PNG old")
    write_stamp(out)
    before = snapshot(out)

    def fails_half_way(name, directory, **options):
        (directory / "metrics.json").write_text("half")
        raise UsageError("the data ran out")

    monkeypatch.setattr(supervised.experiments, "run", fails_half_way)
    line = assert_usage_error(cli("supervised regression --force --out", out))
    assert line == "rlcourse supervised: error: the data ran out"
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_finished_command_replaces_the_old_output(cli, tmp_path, monkeypatch):
    import supervised.experiments

    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text('{"old": 1}\n')
    (out / "stale.png").write_bytes(b"old")
    write_stamp(out)

    def writes(name, directory, **options):
        (directory / "metrics.json").write_text('{"new": 2}\n')
        return {"loss": 0.5}

    monkeypatch.setattr(supervised.experiments, "run", writes)
    result = cli("supervised regression --force --out", out)
    assert result.code == 0, result.err
    assert result.out.split() == ["loss", "0.5"]
    assert set(snapshot(out)) == {"metrics.json", STAMP}
    assert snapshot(out)["metrics.json"] == b'{"new": 2}\n'


PAIR_TEXT = st.one_of(
    st.text(),
    st.builds("{}={}".format, st.text(max_size=8), st.one_of(st.text(), st.floats().map(str))),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PAIR_TEXT, max_size=6), st.sampled_from([literal, nonempty]))
def test_any_key_value_list_gives_pairs_or_one_usage_error(items, convert):
    try:
        pairs = parse_pairs(items, "--env-kwargs", convert=convert)
    except UsageError as err:
        message = str(err)
        assert message.startswith("--env-kwargs takes KEY=VALUE, got ") and "\n" not in message
        bad = [i for i in items if not i.partition("=")[0] or "=" not in i]
        assert bad or convert is nonempty, (items, message)
        return
    expected = {}
    for item in items:
        key, _, value = item.partition("=")
        expected[key] = convert(value)
    assert pairs.keys() == expected.keys()
    assert repr(pairs) == repr(expected)  # nan == nan as text


@settings(max_examples=200, deadline=None)
@given(st.text(), st.sampled_from([positive_int, seed_int]))
def test_any_text_as_a_count_or_seed_is_an_int_or_an_argparse_error(text, parse):
    try:
        value = parse(text)
    except argparse.ArgumentTypeError as err:
        assert "\n" not in str(err)
        return
    assert isinstance(value, int) and value >= 0
