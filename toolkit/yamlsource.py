"""Safe YAML reading that remembers the line and column of every key and value."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Location, Problem, SpecError
from .wording import count_digits, describe_value, one_line, quote

__all__ = ["KeyPath", "SourceMap", "copy_tree", "format_path", "parse_yaml"]

KeyPath = tuple[Any, ...]
MAX_NODES = 10_000
MAX_DEPTH = 50
MAX_DIGITS = 4300
"""The most digits of a whole number PyYAML reads or writes (Python's limit)."""
_YAML_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {
    f"{_YAML_TAG}{name}" for name in ("map", "seq", "str", "int", "float", "bool", "null")
}


class _TooLarge(Exception):
    def __init__(self, mark: yaml.Mark | None, path: KeyPath = ()) -> None:
        self.mark = mark
        self.path = path


_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""What PyYAML counts as the end of a line."""
_DECIMAL = re.compile(r"[-+]?[0-9][0-9_]*")
_UNREADABLE = (ValueError, IndexError, KeyError)
"""What PyYAML raises for a scalar its tag does not fit (``!!int abc``, ``!!bool maybe``)."""
_READ_AS = {
    "int": ("a whole number", "a whole number such as 5"),
    "float": ("a number", "a number such as 0.5"),
    "bool": ("true or false", "true or false"),
}
"""What a tag's scalars must be, in a message and in its hint."""


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
    """``("model", "layers", 0, "units")`` -> ``"model.layers[0].units"``.

    A key that is empty, holds ``.``, ``[`` or ``]`` or an unprintable character is
    quoted (``train.'da\\nta'``); a key that is not text is shown as Python writes it.
    """
    text = ""
    for key in path:
        if isinstance(key, int) and not isinstance(key, bool):
            text += f"[{describe_value(key)}]"  # a long one is described, not written out
        else:
            text += f".{_key_text(key)}" if text else _key_text(key)
    return text


def _key_text(key: Any) -> str:
    if not isinstance(key, str):
        return one_line(repr(key))
    plain = key.isprintable() and key.strip() == key and not set(key) & set(".[]")
    return key if key and plain else quote(key)


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

    Text that cannot be parsed raises SpecError; a refused tag, a scalar that cannot be
    read as its tag says (``!!int abc``) or a repeated key is a problem returned beside
    the rest of the data (the refused value is ``None``), so the spec's other problems
    can be found too.
    """
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as error:
        raise SpecError([_unprintable(error, text, source)]) from None
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


def _too_large(
    where: Location | None, path: KeyPath = (), culprit: str = "an alias that refers to itself"
) -> Problem:
    return Problem(
        format_path(path),
        "the spec is too large or too deeply nested",
        where,
        f"a spec has at most {MAX_NODES} values, nested at most {MAX_DEPTH} deep; "
        f"look for {culprit}",
    )


def _unprintable(error: yaml.reader.ReaderError, text: str, source: str) -> Problem:
    """PyYAML refuses control characters anywhere in the text: which one, and where."""
    lines = _LINE_BREAK.split(text[: error.position])
    where = Location(source, len(lines), len(lines[-1]) + 1)
    char = chr(error.character) if isinstance(error.character, int) else str(error.character)
    return Problem(
        "",
        f"the unprintable character {quote(char)} is not allowed in YAML",
        where,
        'remove it, or write it as an escape in double quotes, such as "\\x01"',
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
    """Turns composed nodes into plain data, recording locations and refusing tags and
    scalars that cannot be read."""

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
            return self.refuse(path, self._tag_problem(node, path, here))
        if isinstance(node, yaml.ScalarNode):
            try:
                return self._scalar(node)
            except _UNREADABLE:
                return self.refuse(path, self._unreadable(node, path, here))
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)  # the only other kind of node
        return self._mapping(node, path)

    def refuse(self, path: KeyPath, problem: Problem) -> None:
        """Report ``problem`` and leave nothing at ``path`` (nothing more is said of it)."""
        self.problems.append(problem)
        self.sources.refused.add(path)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        """The scalar's value; one of _UNREADABLE if PyYAML cannot read it as its tag says."""
        return self.loader.construct_object(node, deep=True)

    def _tag_problem(self, node: yaml.Node, path: KeyPath, here: Location) -> Problem:
        tag = node.tag.replace(_YAML_TAG, "!!")
        return Problem(
            format_path(path),
            f"YAML tag {quote(tag)} is not allowed",
            here,
            "a spec holds only plain mappings, lists, text, numbers, booleans and null; "
            "remove the tag",
        )

    def _unreadable(self, node: yaml.ScalarNode, path: KeyPath, here: Location) -> Problem:
        """A scalar PyYAML cannot read as its tag says: ``!!int abc``, ``0x_``, ``!!bool no``."""
        kind, example = _READ_AS.get(node.tag.replace(_YAML_TAG, ""), ("a value", "a value"))
        if _DECIMAL.fullmatch(node.value) and len(node.value) > MAX_DIGITS:
            digits = sum(char.isdigit() for char in node.value)
            return Problem(
                format_path(path),
                f"cannot read a whole number of {digits} digits",
                here,
                f"a spec's whole numbers have at most {MAX_DIGITS} digits",
            )
        plain_tag = self.loader.resolve(yaml.ScalarNode, node.value, (True, False))  # type: ignore[no-untyped-call]
        implicit = plain_tag == node.tag  # 0x_ looks like a whole number; !!int abc is tagged
        tag = "" if implicit else node.tag.replace(_YAML_TAG, "!!") + " "
        fix = "put it in quotes to make it text" if implicit else "remove the tag"
        return Problem(
            format_path(path),
            f"cannot read {tag}{quote(node.value)} as {kind}",
            here,
            f"write {example}, or {fix}",
        )

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key_at = _location(key_node.start_mark, self.source)
            key = self._key(key_node, path, key_at)
            if key is None:
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

    def _key(self, node: yaml.Node, path: KeyPath, here: Location) -> str | None:
        """The text of a key, or None once the reason it cannot be a key is reported."""
        if node.tag not in _PLAIN_TAGS:
            self.problems.append(self._tag_problem(node, path, here))
            return None
        key = None
        if isinstance(node, yaml.ScalarNode):
            try:
                key = self._scalar(node)
            except _UNREADABLE:
                self.problems.append(self._unreadable(node, path, here))
                return None
        if not isinstance(key, str):
            self.problems.append(
                Problem(
                    format_path(path),
                    "keys must be plain words",
                    here,
                    "write the key as text, for example 'units'",
                )
            )
            return None
        return key


def copy_tree(value: Any, path: KeyPath = ()) -> tuple[Any, set[KeyPath], list[Problem]]:
    """Copy a spec (or part of one, at ``path``) given as Python data, held to the limits
    of a YAML spec; returns the copy, the paths refused and their problems.

    Mappings and lists are copied, so loading never changes the caller's data; other
    values are shared. At most MAX_NODES values nested at most MAX_DEPTH deep, else
    SpecError (a mapping that holds itself nests without end). A whole number too long
    for YAML to write is a problem and refused (None), as in a file.
    """
    copier = _Copier()
    try:
        tree = copier.copy(value, path)
    except _TooLarge as error:
        raise SpecError(
            [_too_large(None, error.path, "a mapping or list that holds itself")]
        ) from None
    return tree, copier.refused, copier.problems


class _Copier:
    """The counterpart of _Builder for a spec given as Python data."""

    def __init__(self) -> None:
        self.count = 0
        self.refused: set[KeyPath] = set()
        self.problems: list[Problem] = []

    def copy(self, value: Any, path: KeyPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES or len(path) > MAX_DEPTH:
            raise _TooLarge(None, path)
        if isinstance(value, Mapping):
            return {key: self.copy(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.copy(item, (*path, index)) for index, item in enumerate(value)]
        if isinstance(value, int) and not isinstance(value, bool):
            return self._whole_number(value, path)
        return value

    def _whole_number(self, value: int, path: KeyPath) -> int | None:
        if count_digits(value) <= MAX_DIGITS:
            return value
        self.refused.add(path)
        self.problems.append(
            Problem(
                format_path(path),
                f"{describe_value(value)} is too long",
                None,
                f"a spec's whole numbers have at most {MAX_DIGITS} digits",
            )
        )
        return None
