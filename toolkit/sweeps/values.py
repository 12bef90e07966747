"""Swept values as text: the YAML an override writes for a value, and lists of values
written ``V1,V2,...`` on a command line.

A value's text reads back, with the spec's YAML reader, as the same value of the same type:
``1.0e-05`` (not ``1e-05``, which YAML 1.1 readers take for text), ``'0.1'`` for the text
0.1, ``true``, ``null``. It is always one line, so it fits in ``KEY=VALUE`` and in messages.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..base.errors import Location, Problem, SpecError
from ..base.wording import describe_value, quote
from ..spec.yamlsource import dump_yaml, parse_yaml

__all__ = ["SCALAR_HINT", "is_scalar", "key_text", "parse_values", "same_value", "value_text"]

SCALAR_HINT = "write text, a number, true, false or null"
_FLOW_INDICATORS = set(",[]{}#&*!|>'\"%@`:?")
_END = "\n...\n"


def is_scalar(value: object) -> bool:
    """Whether ``value`` is what a YAML scalar reads as: text, a number, a boolean, null."""
    return value is None or isinstance(value, (str, int, float, bool))


def same_value(a: object, b: object) -> bool:
    """Equal and of the same type (``1``, ``1.0`` and ``true`` differ), NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same_value, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same_value(a[key], b[key]) for key in a)
    return a == b


def value_text(value: Any, *, flow: bool = False) -> str:
    """One line of YAML that reads back as ``value`` (a scalar, or lists and mappings of
    them, written in flow style). With ``flow``, text is quoted where a comma or a bracket
    would end it, so that the result can stand in a comma-separated list."""
    if isinstance(value, np.generic):  # a numpy number, as the Python number it holds
        value = value.item()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(item, flow=True) for item in value) + "]"
    if isinstance(value, dict):
        pairs = value.items()
        items = (f"{value_text(k, flow=True)}: {value_text(v, flow=True)}" for k, v in pairs)
        return "{" + ", ".join(items) + "}"
    if not is_scalar(value):
        raise TypeError(f"not a YAML value: {describe_value(value)}")
    text = dump_yaml(value)
    text = text[: -len(_END)] if text.endswith(_END) else text.rstrip("\n")
    plain = "\n" not in text and not (flow and isinstance(value, str) and _needs_quotes(text))
    if plain and _reads_back(text, value):
        return text
    return _double_quoted(str(value))


def key_text(path: tuple[Any, ...]) -> str:
    """A key path as ``--set`` writes it: ``model.layers.0.units``."""
    return ".".join(str(key) for key in path)


def parse_values(text: str, where: Location, path: str) -> list[Any]:
    """``"0.1,abc,'a,b'"`` -> ``[0.1, "abc", "a,b"]``: YAML scalars separated by commas.

    Raises SpecError (at ``where``, for the key ``path``) for text that is not such a list,
    or holds a list or a mapping."""
    ends = text.strip()
    if ends.startswith(",") or ends.endswith(","):
        raise SpecError(
            [Problem(path, f"{quote(text)} has an empty value", where, "remove the extra comma")]
        )
    try:
        values, _, problems = parse_yaml(f"[{text}]", where.source)
    except SpecError as error:
        problems = error.problems
        values = None
    if problems or not isinstance(values, list):
        reason = "; ".join(problem.message for problem in problems) or "not a list"
        raise SpecError(
            [
                Problem(
                    path,
                    f"cannot read {quote(text)} as values separated by commas ({reason})",
                    where,
                    "write values such as 0.1,0.01 or a,b; quote a value that holds a comma",
                )
            ]
        )
    for value in values:
        if not is_scalar(value):
            raise SpecError(
                [
                    Problem(
                        path,
                        f"each value must be a YAML scalar, not {describe_value(value)}",
                        where,
                        SCALAR_HINT,
                    )
                ]
            )
    return values


def _needs_quotes(text: str) -> bool:
    return bool(set(text) & _FLOW_INDICATORS) or text != text.strip()


def _reads_back(text: str, value: Any) -> bool:
    try:
        read, _, problems = parse_yaml(text, "value")
    except SpecError:
        return False
    return not problems and same_value(read, value)


def _double_quoted(text: str) -> str:
    """``text`` in YAML's double quotes, every character that is not printable ASCII
    escaped (``\\n``, ``\\xE9``, ``\\U0001F600``), so it is one line of plain ASCII."""
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= code < 127:
            out.append(char)
        elif code < 0x100:
            out.append(f"\\x{code:02X}")
        elif code < 0x10000:
            out.append(f"\\u{code:04X}")
        else:
            out.append(f"\\U{code:08X}")
    return '"' + "".join(out) + '"'
