"""Safe YAML reading that remembers the line and column of every key and value."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..base.errors import Location, Problem, SpecError
from ..base.wording import count_digits, describe_value, one_line, quote

__all__ = [
    "MAX_SPEC_BYTES",
    "KeyPath",
    "SourceMap",
    "copy_tree",
    "dump_yaml",
    "format_path",
    "parse_yaml",
    "read_spec_text",
]

KeyPath = tuple[Any, ...]
MAX_SPEC_BYTES = 1 << 20
"""The most bytes a spec (a file, or the text of a ``--set`` value) may hold: 1 MiB.

A spec describes a run; data belongs in a file a dataset reads. The cap is checked before
anything is parsed, so a huge file or ``/dev/zero`` costs nothing."""
MAX_NODES = 10_000
"""The most values a spec may hold, counted as they are composed (keys aside), and again
with every alias counted in full."""
MAX_DEPTH = 50
"""The deepest a spec's mappings and lists may nest."""
MAX_DIGITS = 4300
"""The most digits of a whole number PyYAML reads or writes (Python's limit)."""
_YAML_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {
    f"{_YAML_TAG}{name}" for name in ("map", "seq", "str", "int", "float", "bool", "null")
}


class _TooLarge(Exception):
    """Past MAX_NODES or MAX_DEPTH: ``why`` says which, and what made it so."""

    def __init__(self, mark: yaml.Mark | None, why: str, hint: str, path: KeyPath = ()) -> None:
        self.mark = mark
        self.why = why
        self.hint = hint
        self.path = path


_MANY = f"more than {MAX_NODES} values"
_DEEP = f"nested more than {MAX_DEPTH} deep"
_LIMITS = f"a spec has at most {MAX_NODES} values, nested at most {MAX_DEPTH} deep"
_DATA_HINT = f"{_LIMITS}; keep data in a file that a dataset reads, such as an .npz"
_SELF_HINT = "give nested data that does not hold itself"
_ALIAS_HINT = f"{_LIMITS}, each alias (*name) counted in full; use fewer aliases"
_LOOP_HINT = f"{_LIMITS}; look for an alias (*name) used inside the value it names"


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


_CORE_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_LEADING_ZERO = re.compile(r"([-+]?)0([0-9]+)")
_CORE_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_CORE_BOOL = {"true": True, "True": True, "TRUE": True}
_CORE_BOOL.update({"false": False, "False": False, "FALSE": False})
_CORE_RESOLVERS = [
    ("null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ("bool", "|".join(_CORE_BOOL), list("tTfF")),
    ("int", _CORE_INT.pattern, list("-+0123456789")),
    ("float", _CORE_FLOAT.pattern, list("-+.0123456789")),
    ("merge", "<<", ["<"]),
]
"""YAML 1.2's core schema (and the ``<<`` merge key), in the order they are tried."""


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2's core schema for plain scalars: ``1e-4`` is a float,
    ``0o17`` octal and ``0x1F`` hexadecimal; ``1:30``, ``yes``, ``on`` and dates are
    text; only ``true`` and ``false`` are booleans. A whole number with a leading zero
    (``017``: 17 in YAML 1.2, octal 15 in YAML 1.1) is refused rather than guessed.

    Values are counted as they are composed: past MAX_NODES or MAX_DEPTH it stops there.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.composed = 0
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        is_key = isinstance(parent, yaml.MappingNode) and index is None
        self.composed += 0 if is_key else 1  # an alias (*name) is a value too
        if self.composed > MAX_NODES:
            raise _TooLarge(mark, _MANY, _DATA_HINT)
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        if self.depth > MAX_DEPTH:
            raise _TooLarge(mark, _DEEP, _LIMITS)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in _CORE_RESOLVERS:
    _Loader.add_implicit_resolver(f"{_YAML_TAG}{_tag}", re.compile(f"^(?:{_pattern})$"), _first)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    """A YAML 1.2 whole number; ValueError for anything else, a leading zero included."""
    text = loader.construct_scalar(node)
    if not isinstance(text, str) or not _CORE_INT.fullmatch(text) or _LEADING_ZERO.fullmatch(text):
        raise ValueError(f"not a YAML 1.2 whole number: {text!r}")
    if text[:2] in ("0o", "0x"):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text)


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> float:
    """A YAML 1.2 number (``.inf``, ``-.inf``, ``.nan`` included); ValueError otherwise."""
    text = loader.construct_scalar(node)
    if not isinstance(text, str) or not _CORE_FLOAT.fullmatch(text):
        raise ValueError(f"not a YAML 1.2 number: {text!r}")
    return float(text.lower().replace(".inf", "inf").replace(".nan", "nan"))


def _construct_bool(loader: _Loader, node: yaml.ScalarNode) -> bool:
    """``true`` or ``false`` (any of YAML 1.2's three spellings); KeyError otherwise."""
    return _CORE_BOOL[loader.construct_scalar(node)]


_Loader.add_constructor(f"{_YAML_TAG}int", _construct_int)
_Loader.add_constructor(f"{_YAML_TAG}float", _construct_float)
_Loader.add_constructor(f"{_YAML_TAG}bool", _construct_bool)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that also quotes text YAML 1.2 would read as something else
    (``0o17``, ``1e5``), so what it writes reads back the same under either version."""


for _tag, _pattern, _first in _CORE_RESOLVERS:
    _Dumper.add_implicit_resolver(f"{_YAML_TAG}{_tag}", re.compile(f"^(?:{_pattern})$"), _first)


def dump_yaml(data: Any) -> str:
    """``data`` as YAML that reads back the same, under YAML 1.2 and 1.1 alike."""
    return str(yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=False))


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


def read_spec_text(path: str | os.PathLike[str], missing_hint: str = "check the path") -> str:
    """The text of the spec file at ``path``: a regular file of at most MAX_SPEC_BYTES
    bytes of UTF-8. Anything else (no file, a folder, a FIFO or a device such as
    ``/dev/zero``, a larger file, other bytes) raises SpecError naming the file.

    The file is opened without blocking and checked before a byte is read, and no more
    than the cap (and one byte) is ever read."""
    label = os.fspath(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise _file_error(label, "no such spec file", missing_hint) from None
    except IsADirectoryError:
        raise _file_error(label, _FOLDER, "name the .yaml file inside it") from None
    except (OSError, ValueError) as error:
        raise _file_error(label, f"cannot be read: {_reason(error)}", "") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        if stat.S_ISDIR(mode):
            raise _file_error(label, _FOLDER, "name the .yaml file inside it")
        what = "is not a regular file (a pipe or a device)"
        raise _file_error(label, what, "name a .yaml file (save a piped spec to a file first)")
    with os.fdopen(descriptor, "rb") as file:
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        try:
            data = file.read(MAX_SPEC_BYTES + 1)
        except OSError as error:
            raise _file_error(label, f"cannot be read: {_reason(error)}", "") from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError([_too_many_bytes(Location(label))])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        what = f"is not UTF-8 text ({error.reason})"
        raise _file_error(label, what, "save the spec as UTF-8") from None


_FOLDER = "is a folder, not a spec file"


def _file_error(label: str, what: str, hint: str) -> SpecError:
    return SpecError([Problem(label, what, None, hint)])


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _too_many_bytes(where: Location) -> Problem:
    return Problem(
        "",
        f"the spec is larger than {MAX_SPEC_BYTES // 1024 // 1024} MiB "
        f"({MAX_SPEC_BYTES} bytes), the most a spec may hold",
        where,
        "a spec describes a run; keep data in a file that a dataset reads, such as an .npz",
    )


def parse_yaml(text: str, source: str) -> tuple[Any, SourceMap, list[Problem]]:
    """Parse ``text`` safely into plain data, a map of locations, and problems.

    Text that cannot be parsed raises SpecError, as does text of more than MAX_SPEC_BYTES
    bytes (before any parsing) and a document of more than MAX_NODES values or nested
    deeper than MAX_DEPTH (found as it is composed, so the rest is never read); a
    refused tag, a scalar that cannot be read as its tag says (``!!int abc``, ``017``)
    or a repeated key is a problem returned beside the rest of the data (the refused
    value is ``None``), so the spec's other problems can be found too.
    """
    if len(text) > MAX_SPEC_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        raise SpecError([_too_many_bytes(Location(source))])
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
    except _TooLarge as error:
        raise SpecError([_too_large(_location(error.mark, source), error)]) from None
    except RecursionError:
        raise SpecError([_too_large(Location(source), _TooLarge(None, _DEEP, _LIMITS))]) from None
    except yaml.MarkedYAMLError as error:
        raise SpecError([_yaml_problem(error, source)]) from None
    except yaml.YAMLError as error:
        raise SpecError([Problem("", f"malformed YAML: {error}", Location(source))]) from None
    finally:
        loader.dispose()
    return data, builder.sources, builder.problems


def _too_large(where: Location | None, error: _TooLarge) -> Problem:
    return Problem(
        format_path(error.path), f"the spec is too large: {error.why}", where, error.hint
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


def _leading_zero(text: str, match: re.Match[str], path: KeyPath, here: Location) -> Problem:
    """``017`` is 17 to YAML 1.2 but octal 15 to YAML 1.1 (and to PyYAML): refused, not guessed."""
    sign, digits = match.groups()
    decimal = f"{sign.lstrip('+')}{digits.lstrip('0') or '0'}"
    octal = not sign and set(digits) <= set("01234567")
    readings = f"{decimal} in YAML 1.2, " + (f"octal {int(digits, 8)}" if octal else "text")
    ways = f"write {decimal}" + (f", or 0o{digits} for octal" if octal else "")
    return Problem(
        format_path(path),
        f"{quote(text)} has a leading zero, so it is ambiguous ({readings} in YAML 1.1)",
        here,
        f"{ways}, or put it in quotes to make it text",
    )


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
        self.count += 1  # the composer counted each node once; here each alias counts in full
        if self.count > MAX_NODES:
            raise _TooLarge(node.start_mark, f"its aliases expand to {_MANY}", _ALIAS_HINT)
        if len(path) > MAX_DEPTH:
            raise _TooLarge(node.start_mark, f"{_DEEP} through aliases", _LOOP_HINT)
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
        leading_zero = _LEADING_ZERO.fullmatch(node.value)
        if node.tag == f"{_YAML_TAG}int" and leading_zero:
            return _leading_zero(node.value, leading_zero, path, here)
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
    SpecError (saying so when a mapping or list holds itself: it nests without end). A
    whole number too long for YAML to write is a problem and refused (None), as in a file.
    """
    copier = _Copier()
    try:
        tree = copier.copy(value, path)
    except _TooLarge as error:
        raise SpecError([_too_large(None, error)]) from None
    return tree, copier.refused, copier.problems


class _Copier:
    """The counterpart of _Builder for a spec given as Python data."""

    def __init__(self) -> None:
        self.count = 0
        self.within: list[int] = []  # the ids of the mappings and lists being copied
        self.refused: set[KeyPath] = set()
        self.problems: list[Problem] = []

    def copy(self, value: Any, path: KeyPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge(None, _MANY, _LIMITS, path)
        if len(path) > MAX_DEPTH:
            if len(set(self.within)) < len(self.within):
                raise _TooLarge(None, "a mapping or list in it holds itself", _SELF_HINT, path)
            raise _TooLarge(None, _DEEP, _LIMITS, path)
        if isinstance(value, int) and not isinstance(value, bool):
            return self._whole_number(value, path)
        if not isinstance(value, (Mapping, list)):
            return value
        self.within.append(id(value))
        try:
            if isinstance(value, list):
                return [self.copy(item, (*path, index)) for index, item in enumerate(value)]
            return {key: self.copy(item, (*path, key)) for key, item in value.items()}
        finally:
            self.within.pop()

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
