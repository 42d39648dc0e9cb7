"""Agent specs: the shell-friendly strings that name an agent and its hyperparameters.

``epsilon-greedy:epsilon=0.1,alpha=0.1`` is a name and ``KEY=VALUE`` pairs; the values are turned
into the fields of the agent's hyperparameter dataclasses (:func:`build_params`), whose one-line
field docstrings are what ``rlcourse agents`` lists (:func:`field_docs`).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import types
import typing
from typing import Any


class SpecError(ValueError):
    """An agent spec that names no agent, a parameter it lacks, or a value it refuses."""


def describe_space(space: Any) -> str:
    """A short description of a Gymnasium space for error messages (Box without its bounds)."""
    shape = getattr(space, "shape", None)
    if type(space).__name__ == "Box":
        return f"Box(shape={shape}, dtype={space.dtype})"
    return str(space)


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``NAME[:KEY=VALUE[,KEY=VALUE...]]`` into the name and the raw parameter strings.

    >>> parse_spec("epsilon-greedy:epsilon=0.1,alpha=0.1")
    ('epsilon-greedy', {'epsilon': '0.1', 'alpha': '0.1'})
    """
    name, _, rest = spec.strip().partition(":")
    if not name:
        raise SpecError(f"agent spec {spec!r} has no name; expected NAME[:KEY=VALUE,...]")
    params: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise SpecError(f"agent spec {spec!r}: {item!r} is not KEY=VALUE")
        if key in params:
            raise SpecError(f"agent spec {spec!r}: {key!r} given twice")
        params[key] = value
    return name, params


def format_spec(name: str, params: dict[str, Any]) -> str:
    """The inverse of :func:`parse_spec` (parameters in the given order)."""
    if not params:
        return name
    return name + ":" + ",".join(f"{key}={value}" for key, value in params.items())


def short_specs(specs: list[str]) -> dict[str, str]:
    """Each agent spec without the parameters every spec sets alike: ``{spec: short}``.

    ``dqn:lr=0.001,double=true`` and ``dqn:lr=0.001`` read ``dqn:double=true`` and ``dqn``:
    what sets each apart, as the plots and tables of a sweep of variants want it.
    """
    parsed = {spec: parse_spec(spec) for spec in dict.fromkeys(specs)}
    if len(parsed) < 2:
        return {spec: spec for spec in parsed}
    items = [set(params.items()) for _, params in parsed.values()]
    common = set.intersection(*items)
    return {
        spec: format_spec(name, {k: v for k, v in params.items() if (k, v) not in common})
        for spec, (name, params) in parsed.items()
    }


def parse_number(text: str) -> float:
    """A float, also written as a fraction (``1/128``) or a power of two (``2^-7``)."""
    text = text.strip()
    if "/" in text:
        num, _, den = text.partition("/")
        return float(num) / float(den)
    if "^" in text:
        base, _, exponent = text.partition("^")
        value = float(base) ** float(exponent)
        if isinstance(value, complex):
            raise ValueError(f"{text} is not a real number")
        return value
    return float(text)


def convert(text: str, kind: Any, key: str) -> Any:
    """Turn the string ``text`` into a value of the annotated type ``kind`` of parameter ``key``."""
    options = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
    if text.lower() == "none" and type(None) in options:
        return None
    target = next(option for option in options if option is not type(None))
    target = typing.get_origin(target) or target  # tuple[int, ...] -> tuple
    try:
        if target is bool:
            lowered = text.lower()
            if lowered in ("true", "yes", "1", "on"):
                return True
            if lowered in ("false", "no", "0", "off"):
                return False
            raise ValueError
        if target is int:
            value = parse_number(text)
            if value != int(value):
                raise ValueError
            return int(value)
        if target is float:
            value = parse_number(text)
            if not math.isfinite(value):
                raise ValueError
            return value
        if target is tuple:  # layer sizes: 256x256
            return tuple(int(part) for part in text.lower().split("x"))
        return target(text)
    except (ValueError, ZeroDivisionError, OverflowError):
        expected = {
            bool: "true or false",
            int: "an integer",
            float: "a number",
            tuple: "sizes like 64x64",
        }.get(target, target)
        raise SpecError(f"{key}={text!r} is not {expected}") from None


def field_docs(cls: type) -> dict[str, str]:
    """The one-line docstrings written under each field of a dataclass (for ``--help`` lists)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            body = ast.parse(inspect.getsource(klass)).body[0].body
        except (OSError, TypeError):
            continue
        for node, after in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = after.value.value.strip().splitlines()[0]
    return docs


def check_keys(raw: dict[str, Any], known: list[str], agent: str) -> None:
    """Refuse the first key of ``raw`` that is not a parameter of ``agent``."""
    for key in raw:
        if key not in known:
            names = ", ".join(known) or "none"
            raise SpecError(f"agent {agent!r} has no parameter {key!r} (parameters: {names})")


def build_params(cls: type, raw: dict[str, Any], agent: str) -> Any:
    """Instantiate the hyperparameter dataclass ``cls`` from spec strings (or Python values)."""
    check_keys(raw, [f.name for f in dataclasses.fields(cls)], agent)
    hints = typing.get_type_hints(cls)
    try:
        values = {
            key: convert(value, hints[key], key) if isinstance(value, str) else value
            for key, value in raw.items()
        }
        return cls(**values)
    except (ValueError, TypeError) as err:  # SpecError is a ValueError
        raise SpecError(f"agent {agent!r}: {err}") from None
