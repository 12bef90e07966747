"""Safe YAML reading that remembers the line and column of every key and value."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Location, Problem, SpecError

__all__ = ["KeyPath", "SourceMap", "format_path", "parse_yaml"]

KeyPath = tuple[Any, ...]
MAX_NODES = 10_000
MAX_DEPTH = 50
_YAML_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {
    f"{_YAML_TAG}{name}" for name in ("map", "seq", "str", "int", "float", "bool", "null")
}


class _TooLarge(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2's plain scalars: ``1e-4`` is a float; ``yes``, ``on``
    and dates are text; only ``true`` and ``false`` are booleans."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if not tag.endswith((":timestamp", ":bool"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def format_path(path: KeyPath) -> str:
    """``("model", "layers", 0, "units")`` -> ``"model.layers[0].units"``."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text


@dataclass
class SourceMap:
    """Where each key path's value (and key) stands in the source, and which values were
    refused while parsing (already reported: nothing more is said about them)."""

    values: dict[KeyPath, Location] = field(default_factory=dict)
    keys: dict[KeyPath, Location] = field(default_factory=dict)
    refused: set[KeyPath] = field(default_factory=set)

    def is_refused(self, path: KeyPath) -> bool:
        """Whether ``path`` or one of its ancestors was refused while parsing."""
        return any(path[:end] in self.refused for end in range(len(path) + 1))

    def locate(self, path: KeyPath, *, at_key: bool = False) -> Location | None:
        """The location of ``path``, or of its nearest ancestor that has one."""
        if at_key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return None

    def replace(self, path: KeyPath, location: Location) -> None:
        """Forget what stood under ``path`` and record ``location`` for it."""
        for table in (self.values, self.keys):
            for stale in [p for p in table if p[: len(path)] == path]:
                del table[stale]
        self.values[path] = location


def parse_yaml(text: str, source: str) -> tuple[Any, SourceMap, list[Problem]]:
    """Parse ``text`` safely into plain data, a map of locations, and problems.

    Text that cannot be parsed raises SpecError; a refused tag or a repeated key is a
    problem returned beside the rest of the data (the refused value is ``None``), so
    the spec's other problems can be found too.
    """
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, SourceMap(values={(): Location(source)}), []
        builder = _Builder(loader, source)
        data = builder.build(root, ())
    except (_TooLarge, RecursionError) as error:
        mark = error.mark if isinstance(error, _TooLarge) else None
        raise SpecError([_too_large(_location(mark, source))]) from None
    except yaml.MarkedYAMLError as error:
        raise SpecError([_yaml_problem(error, source)]) from None
    except yaml.YAMLError as error:
        raise SpecError([Problem("", f"malformed YAML: {error}", Location(source))]) from None
    finally:
        loader.dispose()
    return data, builder.sources, builder.problems


def _too_large(where: Location) -> Problem:
    return Problem(
        "",
        "the spec is too large or too deeply nested",
        where,
        f"a spec has at most {MAX_NODES} values, nested at most {MAX_DEPTH} deep; "
        "look for an alias that refers to itself",
    )


def _location(mark: yaml.Mark | None, source: str) -> Location:
    if mark is None:
        return Location(source)
    return Location(source, mark.line + 1, mark.column + 1)


def _yaml_problem(error: yaml.MarkedYAMLError, source: str) -> Problem:
    """One line from PyYAML's error: what it found, and where the construct it was in began.

    At the end of the file (an unclosed quote or bracket) the start of the construct is
    the useful place; elsewhere the place of the problem is.
    """
    problem = error.problem or "cannot parse"
    mark = error.problem_mark or error.context_mark
    if error.context and problem.startswith("but "):
        problem = f"{error.context}, {problem}"
    elif error.context and error.context.startswith("while"):
        problem = f"{problem} {error.context.strip()}"
        at_end = "end of stream" in problem or "end of the stream" in problem
        if at_end and error.context_mark is not None:
            mark = error.context_mark
    hint = "check the indentation, colons and quotes on that line and the one before"
    if "'\\t'" in problem:
        hint = "indent with spaces: YAML does not allow tabs"
    return Problem("", f"malformed YAML: {problem}", _location(mark, source), hint)


class _Builder:
    """Turns composed nodes into plain data, recording locations and refusing tags."""

    def __init__(self, loader: _Loader, source: str) -> None:
        self.loader = loader
        self.source = source
        self.sources = SourceMap()
        self.problems: list[Problem] = []
        self.count = 0

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES or len(path) > MAX_DEPTH:
            raise _TooLarge(node.start_mark)
        here = _location(node.start_mark, self.source)
        self.sources.values[path] = here
        if node.tag not in _PLAIN_TAGS:
            tag = node.tag.replace(_YAML_TAG, "!!")
            self.problems.append(
                Problem(
                    format_path(path),
                    f"YAML tag '{tag}' is not allowed",
                    here,
                    "a spec holds only plain mappings, lists, text, numbers, booleans and null; "
                    "remove the tag",
                )
            )
            self.sources.refused.add(path)
            return None
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)  # the only other kind of node
        return self._mapping(node, path)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key_at = _location(key_node.start_mark, self.source)
            key = (
                self.loader.construct_object(key_node, deep=True)
                if isinstance(key_node, yaml.ScalarNode)
                else None
            )
            if not isinstance(key, str):
                self.problems.append(
                    Problem(
                        format_path(path),
                        "keys must be plain words",
                        key_at,
                        "write the key as text, for example 'units'",
                    )
                )
                continue
            if key in result:
                self.problems.append(
                    Problem(
                        format_path((*path, key)), "key given twice", key_at, "remove one of them"
                    )
                )
                continue
            self.sources.keys[(*path, key)] = key_at
            result[key] = self.build(value_node, (*path, key))
        return result
