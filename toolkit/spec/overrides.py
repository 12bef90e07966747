"""``--set KEY=VALUE`` overrides: dotted key paths with list indices, YAML scalar values."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from ..base.errors import Location, Problem, SpecError
from ..base.wording import brief, describe_value, did_you_mean, quote
from .yamlsource import KeyPath, SourceMap, copy_tree, format_path, parse_yaml

__all__ = ["apply_overrides", "looks_like_override", "parse_key", "parse_override"]

_TOKEN = re.compile(r"[^.\[\]]+|\[\d+\]", re.ASCII)
_KEY = re.compile(r"[^.\[\]=\s]+(?:\.[^.\[\]=\s]+|\[\d+\])*", re.ASCII)
_INDEX_DIGITS = 18
"""No list has an index of more digits (nor could Python write one of over 4300 out)."""
EXAMPLE = "for example --set optimizer.learning_rate=0.5 or --set model.layers.0.activation=relu"


def parse_override(text: str) -> tuple[KeyPath, Any]:
    """``"model.layers.0.units=20"`` -> ``(("model", "layers", 0, "units"), 20)``."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise SpecError(
            [Problem("", f"bad override {quote(text)}: expected KEY=VALUE", None, EXAMPLE)]
        )
    path = parse_key(key.strip(), Location(f"--set {text}"))
    where = Location(f"--set {text}")
    try:
        value, _, problems = parse_yaml(raw, f"--set {text}")
    except SpecError as error:
        problems = error.problems
    if problems:
        raise SpecError(
            replace(problem, path=format_path(path), location=where) for problem in problems
        )
    return path, value


def looks_like_override(text: str) -> bool:
    """Whether ``text`` reads as ``KEY=VALUE`` (``optimizer.learning_rate=0.5``), not a path."""
    key, sep, _ = text.partition("=")
    return bool(sep) and "/" not in key and "\\" not in key and bool(_KEY.fullmatch(key))


def parse_key(key: object, where: Location | None = None) -> KeyPath:
    """``"model.layers.0.units"`` or ``"model.layers[0].units"`` -> a key path.

    Raises SpecError for anything else, a key that is not text included."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise _bad_key(key, "expected dotted keys such as model.layers.0.units", where)
    tokens = [token.strip("[]") for token in _TOKEN.findall(key)]
    if any(_is_index(token) and len(token) > _INDEX_DIGITS for token in tokens):
        raise _bad_key(key, "no list has an index that long", where)
    return tuple(int(token) if _is_index(token) else token for token in tokens)


def _is_index(token: str) -> bool:
    """Whether a key token is a list index: ASCII digits only (not '¹' or '٣')."""
    return token.isdecimal() and token.isascii()


def _bad_key(key: object, why: str, where: Location | None) -> SpecError:
    return SpecError([Problem("", f"bad override key {quote(key)}: {why}", where, EXAMPLE)])


def apply_overrides(
    tree: dict[str, Any],
    sources: SourceMap,
    overrides: Iterable[str] | Mapping[str, Any],
    is_part: Callable[[KeyPath], bool] = lambda path: False,
) -> list[Problem]:
    """Set each override in ``tree`` (in place), recording where each value came from.

    A part set to a name (``optimizer=adam``) or by its ``name`` (``optimizer.name=adam``)
    is replaced whole, as ``{"name": "adam"}``: the old part's settings don't carry over,
    and settings given for the new part (``optimizer.learning_rate=0.001``) apply to it.
    Overrides that set a whole value apply before those that set inside it, whatever
    their order (a name-set first, then its settings); the others apply in the order given,
    so of two overrides of the same key the last wins. Each value is copied under a spec's
    limits (see ``copy_tree``), as the spec itself is.
    """
    problems: list[Problem] = []
    if isinstance(overrides, Mapping):
        labelled = [(_label(key, value), key, value) for key, value in overrides.items()]
    else:
        labelled = [(text, None, None) for text in overrides]
    parsed: list[tuple[Location, KeyPath, Any]] = []
    for label, key, value in labelled:
        where = Location(f"--set {label}" if key is None else f"overrides {label}")
        try:
            path, value = parse_override(label) if key is None else (parse_key(key, where), value)
            value, refused, refusals = copy_tree(value, path)
        except SpecError as error:
            problems.extend(replace(problem, location=where) for problem in error.problems)
            continue
        sources.refused |= refused
        problems.extend(replace(problem, location=where) for problem in refusals)
        parsed.append((where, *_as_part_setting(path, value, is_part)))
    for where, path, value in sorted(parsed, key=lambda item: len(item[1])):  # stable
        problem = _set(tree, path, value, is_part)
        if problem:
            problems.append(replace(problem, location=where))
            continue
        for depth in range(1, len(path) + 1):  # containers the override created, and the value
            if path[:depth] not in sources.values or depth == len(path):
                sources.replace(path[:depth], where)
    return problems


def _as_part_setting(
    path: KeyPath, value: Any, is_part: Callable[[KeyPath], bool]
) -> tuple[KeyPath, Any]:
    """A part named by ``part=NAME`` or ``part.name=NAME`` as ``(part, {"name": NAME})``."""
    if path[-1] == "name" and is_part(path[:-1]):
        return path[:-1], {"name": value}
    if isinstance(value, str) and is_part(path):
        return path, {"name": value}
    return path, value


def _label(key: object, value: Any) -> str:
    """How an override given as ``{key: value}`` is named: ``seed=5``."""
    return f"{key if isinstance(key, str) else brief(key)}={brief(value)}"


def _set(
    tree: Any, path: KeyPath, value: Any, is_part: Callable[[KeyPath], bool]
) -> Problem | None:
    """Set ``value`` at ``path``, creating missing mappings on the way (not lists); a part
    on the way given as a bare name (by an earlier override) becomes ``{"name": ...}``."""
    node = tree
    for depth, key in enumerate(path[:-1]):
        child = _child(node, key)
        if isinstance(child, str) and is_part(path[: depth + 1]):
            node[key] = child = {"name": child}
        if child is _MISSING:
            if not (isinstance(node, dict) and isinstance(key, str)):
                return _cannot(path, depth, node)
            if isinstance(path[depth + 1], int):
                return _no_list(path, depth, node)
            node[key] = child = {}
        node = child
    if not _can_set(node, path[-1]):
        return _cannot(path, len(path) - 1, node)
    node[path[-1]] = value
    return None


def _can_set(node: Any, key: str | int) -> bool:
    if isinstance(node, dict):
        return isinstance(key, str)
    return isinstance(node, list) and isinstance(key, int) and key < len(node)


_MISSING = object()


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, dict) and isinstance(key, str):
        return node.get(key, _MISSING)
    if isinstance(node, list) and isinstance(key, int) and key < len(node):
        return node[key]
    return _MISSING


def _no_list(path: KeyPath, depth: int, node: dict[Any, Any]) -> Problem:
    missing = format_path(path[: depth + 1])
    keys = [key for key in node if isinstance(key, str)]  # a Python mapping may have others
    hint = did_you_mean(str(path[depth]), keys) or "add the list in the spec file; "
    return Problem(
        format_path(path), f"cannot set: there is no list {missing}", None, hint + EXAMPLE
    )


def _cannot(path: KeyPath, depth: int, node: Any) -> Problem:
    parent = format_path(path[:depth]) or "the spec"
    key = path[depth]
    if isinstance(node, list) and not isinstance(key, int):
        what = f"{parent} is a list, so its items are numbered: {quote(key)} is not a number"
        hint = f"use an index from 0 to {len(node) - 1}" if node else "add items in the spec file"
    elif isinstance(node, list):
        what = f"{parent} has {len(node)} items, so there is no item {key}"
        hint = f"use an index from 0 to {len(node) - 1}" if node else "add items in the spec file"
    elif isinstance(node, dict):
        what = f"{parent} is a mapping, so '{key}' must be a key, not an index"
        hint = EXAMPLE
    else:
        what = f"{parent} is {describe_value(node)}, not a mapping or a list"
        hint = "set the whole value instead, " + EXAMPLE
    return Problem(format_path(path), f"cannot set: {what}", None, hint)
