"""Property-based fuzzing of spec loading: whatever comes in, a Spec or a SpecError comes out.

``toolkit.load_spec`` takes a YAML file's path or a mapping, plus ``--set`` overrides. For
any input it has exactly two allowed outcomes: a valid :class:`toolkit.Spec`, or a
:class:`toolkit.SpecError` whose message is non-empty, holds no traceback, and has one line
per problem, each naming its place (a key path, a file location or the ``--set`` that
caused it). No other exception may escape, and YAML never runs anything: a Python tag is
refused and its side effect (a sentinel file) never happens.

The properties run at CI size with a fixed derandomized search; the same properties run
again with thousands of random examples under ``pytest -m slow``.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

import toolkit
from tests.helpers import SPECS, RunCli, fuzz_settings, write
from toolkit.registry.kinds import KINDS, LAYER_PART_KEYS
from toolkit.registry.manager import ToolkitPluginManager, get_plugin_manager
from toolkit.registry.registry import Registry
from toolkit.spec.resolver import TOP_KEYS

VALID_TEXT = (SPECS / "two_layer_sigmoid.yaml").read_text(encoding="utf-8")
VALID: dict[str, Any] = yaml.safe_load(VALID_TEXT)
SENTINEL = "SENTINEL"
"""Stands in a tagged snippet for the path of a file that must never be created."""

CI, SLOW = fuzz_settings(ci=200, slow=3000)


# -- The one manager every example shares, put back as it was after each load ----------------

_BASE_MANAGER = get_plugin_manager()
_BASE_PLUGINS = {name for name, _ in _BASE_MANAGER.list_name_plugin()}
_BASE_REQUESTED = set(_BASE_MANAGER.requested)
_BASE_FAILURES = len(_BASE_MANAGER.failures)
_REGISTRY = Registry.from_manager(_BASE_MANAGER)


@contextmanager
def shared_manager() -> Iterator[ToolkitPluginManager]:
    """The installed plugins, without the ~20 ms of loading them for each example.

    Modules a fuzzed ``plugins:`` list manages to import are unregistered afterwards.
    """
    try:
        yield _BASE_MANAGER
    finally:
        for name, _ in _BASE_MANAGER.list_name_plugin():
            if name not in _BASE_PLUGINS:
                _BASE_MANAGER.unregister(name=name)
        _BASE_MANAGER.requested.clear()
        _BASE_MANAGER.requested.update(_BASE_REQUESTED)
        del _BASE_MANAGER.failures[_BASE_FAILURES:]


# -- The property: a Spec, or a well-formed SpecError ----------------------------------------

_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")  # what PyYAML counts as a new line


def load(
    source: str | Path | dict[Any, Any],
    overrides: Any = None,
    text: str | None = None,
) -> toolkit.Spec | toolkit.SpecError:
    """Load ``source`` and check the outcome; anything but a Spec or SpecError escapes."""
    label = str(source) if isinstance(source, (str, Path)) else None
    try:
        with shared_manager() as manager:
            spec = toolkit.load_spec(source, overrides, manager=manager)
    except toolkit.SpecError as error:
        check_spec_error(error, label, text)
        record(f"SpecError, {min(len(error.problems), 5)} problem(s)")
        return error
    record("a valid Spec")
    assert isinstance(spec, toolkit.Spec)
    assert set(TOP_KEYS) <= set(spec.config), spec.config
    spec.to_yaml()  # a valid spec can always be written back out
    return spec


def record(outcome: str) -> None:
    """Count outcomes in --hypothesis-show-statistics (5 stands for 5 or more problems)."""
    if currently_in_test_context():
        event(outcome)


def check_spec_error(error: toolkit.SpecError, label: str | None, text: str | None) -> None:
    """Non-empty, no traceback, one line per problem, and every line names its place."""
    message = str(error)
    assert message.strip(), "SpecError with an empty message"
    assert "Traceback" not in message and 'File "' not in message, message
    assert error.problems, "SpecError without problems"
    lines = message.splitlines()  # as the command line splits it into 'error:' lines
    assert len(lines) == len(error.problems), f"a problem spans several lines: {message!r}"
    for problem, line in zip(error.problems, lines, strict=True):
        assert line == str(problem)
        assert line.strip(), f"blank problem line in {message!r}"
        where = problem.location
        named = bool(problem.path) or where is not None or line.startswith("bad override '")
        assert named, f"problem names no place: {line!r}"
        if problem.path:
            assert line.startswith(f"{problem.path}: "), line
        if where is None:
            continue
        assert f"({where})" in line, line
        from_override = where.source.startswith(("--set ", "overrides "))
        assert from_override or where.source == label, (where, label)
        if where.line is not None and text is not None and not from_override:
            assert 1 <= where.line <= len(_LINE_BREAK.split(text)) + 1, (where, line)


def write_spec(folder: Path, content: str | bytes) -> Path:
    path = folder / "spec.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


# -- Values: scalars of every YAML-ish type, nested ------------------------------------------

KNOWN_KEYS = sorted(
    {*TOP_KEYS, *LAYER_PART_KEYS, "units", "layers", "name"}
    | {param for entry in _REGISTRY.entries() for param in entry.part.params or {}}
    | {"checkpoint_every", "weight_decay", "iterations", "batch_size", "log_every"}
)
PARAMS = sorted({param for entry in _REGISTRY.entries() for param in entry.part.params or {}})
PART_NAMES = sorted(
    {name for kind in KINDS for name in _REGISTRY.names(kind.name)}
    | {f"{entry.plugin}:{entry.name}" for entry in _REGISTRY.entries()}
)
SPECIAL_STRINGS = [
    *("on", "off", "yes", "no", "y", "n", "~", "null", "Null", "NULL", "true", "False"),
    *("1e5", "1e-4", "1.0e+3", ".inf", "-.inf", ".nan", "0x1F", "0o17", "017", "0b101"),
    *("1_000", "1:30", "2024-01-01", "2024-01-01T12:00:00Z", "", " ", "\t", "-", "?", ":"),
    *("#", "&a", "*a", "!tag", "%YAML", "---", "...", "'", '"', "a: b", "[", "{", "}"),
    *("\n", "a\nb", "a\rb", "a\u2028b", "a\x85b", "\x00", "\x1b[31m", "\ufeff", "é", "名前"),
    *("\U0001f642", "x" * 300, "legacy", "default", "model.layers", "plugins[0]"),
]
BIG_INTS = [
    *(2**31, 2**32 - 1, 2**32, 2**53 + 1, 2**63, 2**64, -(2**63)),
    *(10**308, 10**309, 10**400, 10**4299, -(10**400)),
]
INTS = st.one_of(st.integers(-3, 300), st.integers(), st.sampled_from(BIG_INTS))
FLOATS = st.one_of(
    st.floats(), st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e-300, 5e-324, 1e308])
)
TEXTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(SPECIAL_STRINGS),
    st.sampled_from(PART_NAMES),
    st.sampled_from(KNOWN_KEYS),
)
SCALARS = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXTS)
KEYS = st.one_of(
    st.sampled_from(KNOWN_KEYS),
    st.text(max_size=8),
    st.sampled_from(SPECIAL_STRINGS),
    st.integers(-2, 2),
    st.none(),
    st.booleans(),
)


def nested(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)
        ),
        max_leaves=12,
    )


VALUES = nested(SCALARS)
DUMPABLE_VALUES = nested(st.one_of(SCALARS, st.dates(), st.datetimes()))


# -- Mutations of the valid spec ---------------------------------------------------------------

Tree = Any
KeyPath = tuple[Any, ...]


def walk(node: Tree, path: KeyPath = (), seen: frozenset[int] = frozenset()) -> Iterator[KeyPath]:
    """Every key path in ``node`` (the root first); shared subtrees are walked each time."""
    yield path
    if id(node) in seen:
        return
    inner = seen | {id(node)}
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key), inner)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index), inner)


def get(tree: Tree, path: KeyPath) -> Any:
    for key in path:
        tree = tree[key]
    return tree


@st.composite
def mutated_trees(
    draw: st.DrawFn,
    values: st.SearchStrategy[Any] = VALUES,
    *,
    any_root: bool = False,
    max_depth: int = 60,
) -> Tree:
    """The valid spec with a few random mutations: keys dropped, renamed, added, values
    replaced by random data, wrapped deeper, or shared between two places (aliases)."""
    tree: Tree = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(0, 5))):
        paths = list(walk(tree))
        path = draw(st.sampled_from(paths))
        operation = draw(
            st.sampled_from(
                ["replace", "drop", "rename", "add", "nest", "share", "part", "tweak", "tweak"]
            )
        )
        if not path:
            if any_root and operation == "replace":
                tree = draw(values)
            elif isinstance(tree, dict):
                tree[draw(KEYS)] = draw(values)
            continue
        parent, key = get(tree, path[:-1]), path[-1]
        if operation == "replace":
            parent[key] = draw(values)
        elif operation == "tweak":
            parent[key] = draw(plausible(parent[key]))
        elif operation == "drop":
            del parent[key]
        elif operation == "rename" and isinstance(parent, dict):
            parent[draw(KEYS)] = parent.pop(key)
        elif operation == "add":
            target = parent[key]
            if isinstance(target, dict):
                target[draw(KEYS)] = draw(values)
            elif isinstance(target, list):
                target.insert(draw(st.integers(0, len(target))), draw(values))
        elif operation == "nest":
            depth = draw(st.sampled_from([1, 2, 3, 10, 49, 50, 51, max_depth]))
            for _ in range(depth):
                if draw(st.booleans()):
                    parent[key] = [None]
                    parent, key = parent[key], 0
                else:
                    name = draw(st.sampled_from(["name", "layers", "units", "x"]))
                    parent[key] = {name: None}
                    parent, key = parent[key], name
            parent[key] = draw(values)
        elif operation == "share":
            others = [p for p in paths if p and p[: len(path)] != path and path[: len(p)] != p]
            if others:
                parent[key] = get(tree, draw(st.sampled_from(others)))
        elif operation == "part":
            name = draw(st.sampled_from(PART_NAMES))
            given = draw(st.dictionaries(st.sampled_from(PARAMS), values, max_size=3))
            parent[key] = draw(st.sampled_from([name, {"name": name, **given}, given]))
    return tree


def plausible(value: Any) -> st.SearchStrategy[Any]:
    """A value of the same type as ``value``, often one a spec could really hold."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-1, 40)
    if isinstance(value, float):
        return st.one_of(st.floats(-0.5, 1.5), st.sampled_from([0.0, 1.0, 1e-4, 1e-20]))
    if isinstance(value, str):
        return st.sampled_from([*PART_NAMES, "default", "legacy", "x"])
    if isinstance(value, list):
        layer = st.fixed_dictionaries(
            {"units": st.integers(0, 12)},
            optional={key: st.sampled_from(PART_NAMES) for key in LAYER_PART_KEYS},
        )
        return st.lists(layer, max_size=3)
    return st.just(value)


# Dataset sizes that would make validation (which draws the data) take seconds or gigabytes
# are kept out; sizes too large to allocate at all fail at once and stay in.
_SIZE_DEFAULTS = {"samples": 1000, "features": 100, "classes": 10, "hidden": 16}


def affordable(tree: Tree) -> bool:
    data = tree.get("data") if isinstance(tree, dict) else None
    if not isinstance(data, dict):
        return True
    sizes = dict(_SIZE_DEFAULTS)
    for key, value in data.items():
        if isinstance(value, int) and not isinstance(value, bool):
            sizes[str(key)] = abs(value)
    values = list(sizes.values())
    if any(5 * 10**4 < value < 10**11 for value in values):
        return False
    return not any(2 * 10**6 < a * b < 10**11 for a in values for b in values)


def affordable_text(text: str | bytes) -> bool:
    try:
        return affordable(yaml.safe_load(text))
    except Exception:
        return True  # what PyYAML cannot read, the toolkit cannot run either


# -- YAML text: arbitrary, dumped mutations, hand-made edits and whole documents --------------

TAGGED = [
    *("!!binary aGVsbG8=", "!!set {a, b}", "!!omap [a: 1]", "!!pairs [a: 1]"),
    *("!!timestamp 2024-01-01", "!!python/name:os.system", "!!python/module:os"),
    f'!!python/object/apply:os.system ["touch {SENTINEL}"]',
    f'!!python/object/new:os.system ["touch {SENTINEL}"]',
    f'!!python/object/apply:builtins.open ["{SENTINEL}", "w"]',
    f'!!python/object/apply:subprocess.call [["touch", "{SENTINEL}"]]',
    f'!!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ["{SENTINEL}"]]',
    "!<tag:yaml.org,2002:python/name:os.system> x",
    *("!custom x", "!custom {a: 1}", "!!int abc", "!!int ''", "!!float abc", "!!bool maybe"),
    *("!!null x", "!!str 5", "!!int 5", "!!float 1", "!!map {a: 1}", "!!seq [1]", "!!merge x"),
]
PLAIN = [
    *("on", "off", "yes", "~", "null", "1e5", "1.0e-4", ".inf", "-.inf", ".nan", "0x1F"),
    *("0x_", "0b_", "0o17", "017", "1_000", "1:30", "190:20:30", "2024-01-01", "'quoted'"),
    *('"dq\\n"', '"\\0"', '"a\\u2028b"', "|\n  block", ">\n  folded", "[1, 2", "{a: 1"),
    *('"unterminated', "*undefined", "&a [*a]", "&x 1", "{name: relu, slope: .nan}", "? a"),
    *("- a", ":", "-", "@", "`", "%", "#comment", "9" * 30, "9" * 5000, "[" * 300, "{"),
    *("{units: 3}", "[{units: 3}]", "random", "relu", "sgd", "[]", "{}", "''"),
]
SNIPPETS = st.one_of(
    st.sampled_from(TAGGED),
    st.sampled_from(PLAIN),
    st.text(max_size=10),
    DUMPABLE_VALUES.map(
        lambda value: yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    ),
)


def alias_bomb(levels: int, width: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


WHOLE_DOCUMENTS = [
    *("", "\n", "# only a comment\n", "---\n", "...\n", "---\n...\n", "~\n", "null\n"),
    *("[]\n", "{}\n", "- 1\n- 2\n", "5\n", "hello\n", "'text'\n", "!!binary aGVsbG8=\n"),
    "%YAML 1.2\n---\n" + VALID_TEXT,
    "%YAML 1.1\n%YAML 1.1\n---\na: 1\n",
    "%TAG ! tag:example.com,2000:\n---\n" + VALID_TEXT,
    VALID_TEXT + "---\n" + VALID_TEXT,
    VALID_TEXT + "...\n",
    "\ufeff" + VALID_TEXT,
    VALID_TEXT.replace("\n", "\r\n"),
    VALID_TEXT.replace("\n", "\r"),
    VALID_TEXT.replace("  ", "\t"),
    VALID_TEXT + "\x00",
    VALID_TEXT + "name: a\x01b\n",
    VALID_TEXT + "name: a\x7fb\n",
    alias_bomb(5),
    alias_bomb(9, 10),
    VALID_TEXT + "train: &t {iterations: 1, more: *t}\n",
    "a: &a [*a]\n",
    "&a {model: *a}\n",
    "[" * 60 + "]" * 60 + "\n",
    "{a: " * 1200 + "1" + "}" * 1200 + "\n",
    "".join(f"{'  ' * depth}a{depth}:\n" for depth in range(200)),
    "x: &x {units: 3}\n" + VALID_TEXT + "extra: {<<: *x}\n",
    VALID_TEXT + "train: {<<: 5}\n",
    VALID_TEXT + "train: {<<: [*nope]}\n",
    VALID_TEXT + "? [a, b]\n: 1\n",
    VALID_TEXT + "? {a: 1}\n: 1\n",
    VALID_TEXT + f'!!python/object/apply:os.system ["touch {SENTINEL}"] : 1\n',
    VALID_TEXT + "!!int abc : 1\n",
    VALID_TEXT + "seed: 1\nseed: 2\n",
    VALID_TEXT + '"da\\nta": 1\n',
    "seed: " + "9" * 5000 + "\n" + VALID_TEXT,
]


def _lines_with_values(text: str) -> list[int]:
    return [i for i, line in enumerate(text.split("\n")) if ": " in line]


@st.composite
def edited(draw: st.DrawFn, text: str) -> str:
    """``text`` with a few hand-made edits: snippets put in, lines dropped or repeated,
    tabs, cuts and stray characters."""
    for _ in range(draw(st.integers(1, 3))):
        lines = text.split("\n")
        edit = draw(
            st.sampled_from(
                ["value", "insert", "drop", "repeat", "tab", "cut", "chars", "wrap", "newlines"]
            )
        )
        at = draw(st.integers(0, max(len(lines) - 1, 0)))
        if edit == "value" and _lines_with_values(text):
            at = draw(st.sampled_from(_lines_with_values(text)))
            head = lines[at][: lines[at].index(": ") + 2]
            lines[at] = head + draw(SNIPPETS)
        elif edit == "insert":
            indent = draw(st.sampled_from(["", "  ", "    ", "\t", " "]))
            key = draw(st.one_of(st.sampled_from(KNOWN_KEYS), st.sampled_from(SPECIAL_STRINGS)))
            lines.insert(at, f"{indent}{key}: {draw(SNIPPETS)}")
        elif edit == "drop" and lines:
            del lines[at]
        elif edit == "repeat" and lines:
            lines.insert(at, lines[at])
        elif edit == "tab" and lines:
            lines[at] = re.sub(r"^ +", "\t", lines[at])
        elif edit in ("cut", "chars"):
            offset = draw(st.integers(0, len(text)))
            extra = draw(st.text(max_size=5)) if edit == "chars" else ""
            text = text[:offset] + extra + (text[offset:] if edit == "chars" else "")
            continue
        elif edit == "wrap":
            before, after = draw(
                st.sampled_from(
                    [
                        ("---\n", ""),
                        ("", "---\nb: 1\n"),
                        ("%YAML 1.1\n---\n", ""),
                        ("- ", ""),
                        ("\ufeff", ""),
                        ("", "\n..."),
                        ("a: &a\n", ""),
                    ]
                )
            )
            text = before + text + after
            continue
        elif edit == "newlines":
            text = text.replace("\n", draw(st.sampled_from(["\r\n", "\r", "\u2028", "\x85"])))
            continue
        text = "\n".join(lines)
    return text


@st.composite
def dumped(draw: st.DrawFn) -> str:
    """A mutated spec written out by yaml.safe_dump, in block or flow style."""
    tree = draw(mutated_trees(DUMPABLE_VALUES, any_root=True))
    return str(
        yaml.safe_dump(
            tree,
            sort_keys=False,
            allow_unicode=draw(st.booleans()),
            default_flow_style=draw(st.sampled_from([False, True, None])),
        )
    )


YAML_TEXTS = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(list("{}[]:,-?&*!|>'\"%@`#\n \t\\aZ09._~")), max_size=40),
    dumped(),
    dumped().flatmap(edited),
    edited(VALID_TEXT),
    st.sampled_from(WHOLE_DOCUMENTS),
    st.sampled_from(WHOLE_DOCUMENTS).flatmap(edited),
)
FILE_CONTENTS = st.one_of(YAML_TEXTS, st.binary(max_size=64))


def check_file(folder: Path, content: str | bytes) -> None:
    sentinel = folder / "pwned"
    if isinstance(content, str):
        content = content.replace(SENTINEL, str(sentinel))
    path = write_spec(folder, content)
    text = content if isinstance(content, str) else None
    load(path, text=text)
    assert not sentinel.exists(), "a YAML tag ran code"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each example's spec file is written (module-scoped: examples share it)."""
    return tmp_path_factory.mktemp("fuzz")


@CI
@given(content=FILE_CONTENTS)
def test_yaml_file_gives_spec_or_spec_error(folder: Path, content: str | bytes) -> None:
    """Any file content: a Spec or a well-formed SpecError, and no tag runs anything."""
    if not affordable_text(content):
        return
    check_file(folder, content)


@pytest.mark.slow
@SLOW
@given(content=FILE_CONTENTS)
def test_yaml_file_gives_spec_or_spec_error_long(folder: Path, content: str | bytes) -> None:
    if not affordable_text(content):
        return
    check_file(folder, content)


# -- Mappings given directly -------------------------------------------------------------------

MAPPINGS = st.one_of(
    mutated_trees(max_depth=400),
    mutated_trees(max_depth=400),
    mutated_trees(max_depth=400),
    st.dictionaries(KEYS, VALUES, max_size=6),
    st.dictionaries(st.sampled_from(list(TOP_KEYS)), VALUES, max_size=10),
)


def check_mapping(tree: dict[Any, Any]) -> None:
    before = copy.deepcopy(tree) if _plain(tree) else None
    load(tree)
    if before is not None:
        assert _same(tree, before), "load_spec changed the mapping it was given"


def _plain(tree: Any) -> bool:
    """Whether ``tree`` has no cycle and is shallow enough for this file to copy and compare."""
    stack: list[tuple[Any, frozenset[int]]] = [(tree, frozenset())]
    while stack:
        node, ancestors = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        if id(node) in ancestors or len(ancestors) > 100:
            return False
        children = node.values() if isinstance(node, dict) else node
        stack += [(child, ancestors | {id(node)}) for child in children]
    return True


def _same(a: Any, b: Any) -> bool:
    """Equal, counting nan as equal to nan."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


@CI
@given(tree=MAPPINGS)
def test_mapping_gives_spec_or_spec_error(tree: dict[Any, Any]) -> None:
    """Any mapping: a Spec or a well-formed SpecError, and the mapping is left as it was."""
    if affordable(tree):
        check_mapping(tree)


@pytest.mark.slow
@SLOW
@given(tree=MAPPINGS)
def test_mapping_gives_spec_or_spec_error_long(tree: dict[Any, Any]) -> None:
    if affordable(tree):
        check_mapping(tree)


# -- Overrides ---------------------------------------------------------------------------------

OVERRIDE_KEYS = st.one_of(
    st.sampled_from(
        [
            *("seed", "rng", "name", "plugins", "plugins.0", "data", "data.name", "data.x"),
            *("data.samples", "data.classes", "model", "model.layers", "model.layers.0"),
            *("model.layers.0.units", "model.layers[1].activation", "model.layers.0.init"),
            *("model.layers.1.activation.name", "model.layers.0.init.scale", "model.layers.7"),
            *("model.layers.0.init.name", "model.layers.2.units", "model.layers.-1.units"),
            *("loss", "loss.name", "gradient.h", "gradient.name", "optimizer.learning_rate"),
            *("optimizer.name", "optimizer.momentum", "train.iterations", "train.weight_decay"),
            *("train.x", "x", "x.y.z", "seed.x", "name.0", "model.layers.0.units.x"),
            *("model.layers.x", "model.0", "train[0]", "", " ", "=", ".", "..", "a..b"),
            *("[0]", "a[", "a]", "a.[0]", "a[b]", "model.layers[0][0]", "a b", "é.ß"),
            *("model.layers.99999999999999999999.units", "model.layers.0x1", "seed\u2028x"),
        ]
    ),
    st.lists(
        st.one_of(
            st.sampled_from(KNOWN_KEYS),
            st.text(min_size=1, max_size=6),
            st.integers(0, 3).map(str),
            st.integers(0, 3).map(lambda index: f"[{index}]"),
        ),
        min_size=1,
        max_size=5,
    ).map(lambda parts: ".".join(parts).replace(".[", "[")),
    st.text(max_size=10),
)
OVERRIDE_VALUES = st.one_of(
    SNIPPETS,
    st.integers(-1, 20).map(str),
    st.sampled_from(["0.5", "1e-3", "0", "legacy", "default", "{name: adam}", "[{units: 10}]"]),
    INTS.map(str),
    FLOATS.map(repr),
    st.sampled_from(PART_NAMES),
)
OVERRIDE_TEXTS = st.one_of(
    st.builds(lambda key, value: f"{key}={value}", OVERRIDE_KEYS, OVERRIDE_VALUES),
    st.text(max_size=20),
)
PLAUSIBLE_OVERRIDES = st.builds(
    "{}={}".format,
    st.sampled_from(
        [
            *("seed", "rng", "name", "loss", "gradient", "gradient.h", "optimizer.name"),
            *("optimizer.learning_rate", "model.layers.0.units", "model.layers[1].activation"),
            *("model.layers.0.init.scale", "train.iterations", "train.weight_decay"),
            *("data.classes", "data.name"),
        ]
    ),
    st.one_of(
        st.integers(-1, 12).map(str),
        st.sampled_from(["0.5", "1e-3", "legacy", "default", "run 1"]),
        st.sampled_from(PART_NAMES),
    ),
)
OVERRIDES = st.one_of(
    st.lists(PLAUSIBLE_OVERRIDES, max_size=3),
    st.lists(st.one_of(PLAUSIBLE_OVERRIDES, OVERRIDE_TEXTS), max_size=4),
    OVERRIDE_TEXTS,
    st.dictionaries(OVERRIDE_KEYS, VALUES, max_size=3),
)
_DIGIT_RUN = re.compile(r"\d{5,11}")


def affordable_overrides(overrides: Any) -> bool:
    """No override sets a dataset size that would take long to draw (see affordable)."""
    items = overrides.items() if isinstance(overrides, dict) else []
    if isinstance(overrides, str):
        overrides = [overrides]
    if isinstance(overrides, list):
        items = [text.partition("=")[::2] for text in overrides]
    for key, value in items:
        if key.strip().startswith("data") and _DIGIT_RUN.search(repr(value)):
            return False
    return True


def check_overrides(folder: Path, overrides: Any, from_file: bool) -> None:
    sentinel = folder / "pwned"
    if isinstance(overrides, str):
        overrides = overrides.replace(SENTINEL, str(sentinel))
    elif isinstance(overrides, list):
        overrides = [text.replace(SENTINEL, str(sentinel)) for text in overrides]
    if from_file:
        load(write_spec(folder, VALID_TEXT), overrides, VALID_TEXT)
    else:
        load(VALID, overrides)
    assert not sentinel.exists(), "a YAML tag in an override ran code"


@CI
@given(overrides=OVERRIDES, from_file=st.booleans())
def test_overrides_give_spec_or_spec_error(folder: Path, overrides: Any, from_file: bool) -> None:
    """Any overrides on the valid spec: a Spec or a well-formed SpecError."""
    if affordable_overrides(overrides):
        check_overrides(folder, overrides, from_file)


@pytest.mark.slow
@SLOW
@given(overrides=OVERRIDES, from_file=st.booleans())
def test_overrides_give_spec_or_spec_error_long(
    folder: Path, overrides: Any, from_file: bool
) -> None:
    if affordable_overrides(overrides):
        check_overrides(folder, overrides, from_file)


# -- Fixed cases: each input that once broke the property, and tags that must not run --------

BASE = "data: {name: random, samples: 20, features: 5, classes: 3}\nmodel: {layers: [{units: 3}]}\n"
MINIMAL: dict[str, Any] = {
    "data": {"name": "random", "samples": 20, "features": 5, "classes": 3},
    "model": {"layers": [{"units": 3}]},
}


def _deep(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for _ in range(depth):
        node = {"a": node}
    return node


NASTY_FILES = {
    "int-tag-on-text": BASE + "seed: !!int abc\n",
    "int-tag-on-empty": BASE + "seed: !!int ''\n",
    "float-tag-on-text": BASE + "gradient: {name: central_difference, h: !!float abc}\n",
    "bool-tag-on-text": BASE + "name: !!bool maybe\n",
    "plain-0b_": BASE + "seed: 0b_\n",
    "plain-0x_": BASE + "seed: 0x_\n",
    "int-tag-on-key": BASE + "!!int abc : 1\n",
    "int-over-4300-digits": BASE + "seed: " + "9" * 4301 + "\n",
    "nul-character": BASE + "name: a\x00b\n",
    "control-character": BASE + "name: a\x01b\n",
    "plugins-a-number": BASE + "plugins: 5\n",
    "plugins-true": BASE + "plugins: true\n",
    "float-setting-huge-int": BASE + "optimizer: {name: sgd, learning_rate: 1" + "0" * 400 + "}\n",
    "weight-decay-huge-int": BASE + "train: {weight_decay: 1" + "0" * 400 + "}\n",
    "teacher-samples-huge-int": (
        "data: {name: teacher, samples: 1" + "0" * 400 + "}\nmodel: {layers: [{units: 3}]}\n"
    ),
    "newline-in-key": BASE + '"da\\nta": 1\n',
    "line-separator-in-key": BASE + '"x\\u2028y": 1\n',
    "newline-in-part-name": BASE + 'loss: "cross\\nentropy"\n',
    "newline-in-npz-path": (
        'data: {name: npz, path: "no\\nsuch.npz"}\nmodel: {layers: [{units: 3}]}\n'
    ),
    "alias-bomb": alias_bomb(6),
    "alias-to-itself": "a: &a [*a]\n",
    "nested-1200-deep": "{a: " * 1200 + "1" + "}" * 1200 + "\n",
    "two-documents": BASE + "---\n" + BASE,
    "top-level-list": "- 1\n- 2\n",
    "tab-indentation": "model:\n\tlayers: []\n",
}
NASTY_MAPPINGS: dict[str, Callable[[], dict[Any, Any]]] = {
    "plugins-a-number": lambda: {**MINIMAL, "plugins": 5},
    "float-setting-huge-int": lambda: {**MINIMAL, "gradient": {"name": "spsa", "c": 10**400}},
    "seed-over-4300-digits": lambda: {**MINIMAL, "seed": 10**4300},
    "name-over-4300-digits": lambda: {**MINIMAL, "name": 10**4300},
    "nested-1000-deep": lambda: {**MINIMAL, "train": _deep(1000)},
    "newline-in-key": lambda: {**MINIMAL, "da\nta": 1},
    "empty-key": lambda: {**MINIMAL, "": 1},
    "refers-to-itself": lambda: (lambda spec: spec.update(train=spec) or spec)(dict(MINIMAL)),
}
NASTY_OVERRIDES: dict[str, tuple[dict[Any, Any], Any]] = {
    "int-tag-on-text": (MINIMAL, ["seed=!!int abc"]),
    "plain-0x_": (MINIMAL, ["data.samples=0x_"]),
    "nul-character": (MINIMAL, ["name=a\x00b"]),
    "huge-int-for-float": (MINIMAL, ["gradient.h=1" + "0" * 400]),
    "plugins-a-number": (MINIMAL, ["plugins=5"]),
    "newline-in-part-name": (MINIMAL, ['model.layers.0.activation="re\\nlu"']),
    "line-separator-in-key": (MINIMAL, ["seed\u2028x=1"]),
    "superscript-digit-index": (MINIMAL, ["model.layers.\u00b9.units=3"]),
    "non-text-key-on-the-way": ({**MINIMAL, "model": {1: 2}}, ["model.layers.0.units=3"]),
    "mapping-form-huge-int": (MINIMAL, {"seed": 10**4300}),
}


@pytest.mark.parametrize("text", NASTY_FILES.values(), ids=NASTY_FILES.keys())
def test_nasty_file(folder: Path, text: str) -> None:
    load(write_spec(folder, text), text=text)


@pytest.mark.parametrize("make", NASTY_MAPPINGS.values(), ids=NASTY_MAPPINGS.keys())
def test_nasty_mapping(make: Callable[[], dict[Any, Any]]) -> None:
    load(make())


@pytest.mark.parametrize(
    ("base", "overrides"), NASTY_OVERRIDES.values(), ids=NASTY_OVERRIDES.keys()
)
def test_nasty_override(base: dict[Any, Any], overrides: Any) -> None:
    load(base, overrides)


DANGEROUS_TAGS = [snippet for snippet in TAGGED if snippet.startswith("!!python/")]
PLACES = {
    "value": BASE + "name: {tag}\n",
    "list-item": BASE + "plugins: [{tag}]\n",
    "nested": BASE + "optimizer: {name: sgd, learning_rate: {tag}}\n",
    "key": BASE + "? {tag}\n: 1\n",
    "root": "{tag}\n",
    "anchored": BASE + "x: &x {tag}\nname: *x\n",
}


@pytest.mark.parametrize("place", PLACES.values(), ids=PLACES.keys())
@pytest.mark.parametrize("tag", DANGEROUS_TAGS)
def test_python_tags_are_refused_and_never_run(tmp_path: Path, place: str, tag: str) -> None:
    """A Python tag anywhere is a SpecError, and the code it names does not run."""
    sentinel = tmp_path / "pwned"
    text = place.replace("{tag}", tag.replace(SENTINEL, str(sentinel)))
    outcome = load(write_spec(tmp_path, text), text=text)
    assert isinstance(outcome, toolkit.SpecError)
    assert not sentinel.exists(), "a YAML tag ran code"


@pytest.mark.parametrize("tag", DANGEROUS_TAGS)
def test_python_tags_in_overrides_are_refused_and_never_run(tmp_path: Path, tag: str) -> None:
    sentinel = tmp_path / "pwned"
    outcome = load(MINIMAL, [f"name={tag.replace(SENTINEL, str(sentinel))}"])
    assert isinstance(outcome, toolkit.SpecError)
    assert not sentinel.exists(), "a YAML tag in an override ran code"


# -- The command line on a few of them ---------------------------------------------------------

CLI_CASES = {
    "python-tag": (f'name: !!python/object/apply:os.system ["touch {SENTINEL}"]\n' + BASE, []),
    "alias-bomb": (alias_bomb(6), []),
    "alias-to-itself": ("a: &a [*a]\n", []),
    "two-documents": (BASE + "---\n" + BASE, []),
    "top-level-list": ("- 1\n- 2\n", []),
    "binary": (b"\xff\xfe\x00garbage", []),
    "int-tag-on-text": (BASE + "seed: !!int abc\n", []),
    "nul-character": (BASE + "name: a\x00b\n", []),
    "plugins-a-number": (BASE + "plugins: 5\n", []),
    "float-setting-huge-int": (BASE + "gradient: {name: spsa, c: 1" + "0" * 400 + "}\n", []),
    "newline-in-key": (BASE + '"da\\nta": 1\n', []),
    "override-int-tag": (BASE, ["--set", "seed=!!int abc"]),
    "override-python-tag": (BASE, ["--set", f"name=!!python/name:os.system {SENTINEL}"]),
}


@pytest.mark.parametrize(("content", "extra"), CLI_CASES.values(), ids=CLI_CASES.keys())
def test_cli_validate_refuses_nasty_files(
    run_cli: RunCli, tmp_path: Path, content: str | bytes, extra: list[str]
) -> None:
    """`toolkit validate` exits 2 with only `error:` lines naming the file, no traceback."""
    sentinel = tmp_path / "pwned"
    if isinstance(content, str):
        content = content.replace(SENTINEL, str(sentinel))
        write(tmp_path / "nasty.yaml", content)
    else:
        (tmp_path / "nasty.yaml").write_bytes(content)
    extra = [arg.replace(SENTINEL, str(sentinel)) for arg in extra]
    result = run_cli("validate", "nasty.yaml", *extra)
    assert not sentinel.exists(), "a YAML tag ran code"
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert "valid" not in result.stdout.split(), result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "no error message on stderr"
    for line in lines:
        assert line.startswith("error: "), lines
        assert "nasty.yaml" in line or "--set " in line, f"names no place: {line!r}"
