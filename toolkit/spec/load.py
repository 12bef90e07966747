"""Specs: YAML text or a mapping in, a validated and normalized :class:`Spec` out.

Every problem is collected (not only the first) with its key path, its place in
the file or the override that set it, and a fix; then one SpecError holds them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..base.errors import Location, PluginError, Problem, SpecError
from ..base.wording import describe_value
from ..registry.kinds import LAYER_PART_KEYS, PART_KEYS, Kind
from ..registry.manager import ToolkitPluginManager, get_plugin_manager, register_module
from ..registry.parts import BoundPart
from ..registry.registry import Entry, Registry
from .overrides import apply_overrides
from .resolver import DEFAULTS, Resolver
from .settings import TYPE_KEY, Settings
from .yamlsource import (
    KeyPath,
    SourceMap,
    copy_tree,
    dump_yaml,
    format_path,
    parse_yaml,
    read_spec_text,
)

__all__ = ["DEFAULTS", "Spec", "load_spec", "shipped_specs", "spec_summary"]


@dataclass(frozen=True)
class Spec:
    """A validated spec: plain ``config`` data, the registry it was resolved against,
    and where each value came from."""

    config: dict[str, Any]
    registry: Registry
    sources: SourceMap
    source: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    """The files parts' settings name (``{"data.path": "/abs/data.npz"}``), absolute."""
    settings: Settings = field(init=False, repr=False, compare=False)
    """The same spec, typed: what a run reads (``spec.settings.train.iterations``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", Settings.from_config(self.config))

    @property
    def name(self) -> str:
        return self.settings.name

    def locate(self, path: KeyPath) -> Location | None:
        return self.sources.locate(path)

    def problem(self, path: KeyPath, message: str, hint: str = "") -> Problem:
        """A problem found after loading (for example by a part), placed in the source."""
        return Problem(format_path(path), message, self.locate(path), hint)

    def entry(self, path: KeyPath, kind: str | None = None) -> Entry:
        """The registry entry the part at ``path`` resolved to."""
        kind = kind or _kind_at(path).name
        ref = self.value_at(path)
        return self.registry.lookup(kind, ref if isinstance(ref, str) else ref["name"])

    def bind(self, path: KeyPath, kind: str | None = None) -> BoundPart:
        """The part at ``path`` with its settings, ready to call."""
        kind = kind or _kind_at(path).name
        ref = self.value_at(path)
        settings = {key: value for key, value in ref.items() if key != "name"}
        return BoundPart(ref["name"], self.entry(path, kind).part, settings, kind)

    def to_yaml(self) -> str:
        """The resolved spec, defaults and overrides included, as YAML."""
        return dump_yaml(self.config)

    def value_at(self, path: KeyPath) -> Any:
        """The resolved value at a key path, such as ``("model", "layers", 0, "units")``."""
        node: Any = self.config
        for key in path:
            node = node[key]
        return node


def shipped_specs() -> dict[str, Path]:
    """The specs installed with the toolkit, by name.

    An installed wheel holds them as ``toolkit/specs``; an editable install of a
    checkout reads the checkout's top-level ``specs/`` folder.
    """
    try:
        folder: Any = resources.files("toolkit.specs")
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parents[2] / "specs"
    return {
        Path(item.name).stem: Path(str(item))
        for item in folder.iterdir()
        if item.name.endswith(".yaml")
    }


def spec_summary(path: str | os.PathLike[str]) -> str:
    """A spec file's one-line description: the first line of its leading comment
    (an editor's ``# yaml-language-server: ...`` line aside), or ``""``."""
    with open(path, encoding="utf-8") as file:
        for line in file:
            text = line.strip()
            if not text.startswith("#"):
                return ""
            text = text.lstrip("#").strip()
            if text and not text.startswith("yaml-language-server:"):
                return text
    return ""


def load_spec(
    source: str | os.PathLike[str] | Mapping[str, Any],
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
    *,
    manager: ToolkitPluginManager | None = None,
    text: str | None = None,
) -> Spec:
    """Load, override, validate and normalize a spec. Raises SpecError listing every problem.

    ``source`` is a YAML file's path or an already-parsed mapping; file paths in parts'
    settings are relative to the file's folder (to the current one for a mapping), and
    the resolved spec holds them absolute. ``overrides`` are
    ``"KEY=VALUE"`` strings or a ``{key: value}`` mapping with dotted keys. Parts are
    resolved against ``manager`` (by default, every installed plugin), after the
    modules the spec lists under ``plugins:`` are imported and registered with it.
    ``text`` is the file's YAML, read already: ``source`` then only names it (for messages,
    and for the files and plugin modules named relative to its folder) and is not read.
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    tree, sources, label, problems = _read(source, text)
    _expand_part_names(tree)
    if overrides and isinstance(tree, dict):
        problems += apply_overrides(tree, sources, overrides, _is_part)
    manager = manager or get_plugin_manager()
    folder = Path(os.path.abspath(label)).parent if label else None
    folders = [folder, Path.cwd()] if folder else [Path.cwd()]
    problems += _register_spec_plugins(tree, sources, manager, folders)
    registry = Registry.from_manager(manager)
    resolver = Resolver(registry, sources, folder)
    config = resolver.spec(tree, Path(label).stem if label else "unnamed")
    problems += resolver.problems
    if problems:
        raise SpecError(sorted(problems, key=_reading_order))
    named = [module for module in manager.requested if module not in config["plugins"]]
    config["plugins"] += named  # so the resolved spec names every module it needs
    return Spec(config, registry, sources, label, dict(resolver.files))


def _reading_order(problem: Problem) -> tuple[int, int, int]:
    """File problems by line and column, then those of overrides, in the order given."""
    where = problem.location
    if where is None or where.line is None:
        return (1, 0, 0)
    return (0, where.line, where.column or 0)


def _register_spec_plugins(
    tree: Any, sources: SourceMap, manager: ToolkitPluginManager, folders: list[Path]
) -> list[Problem]:
    """Import and register each module under ``plugins:``, looked up in ``folders`` first
    (the spec file's, then the current one), then on the import path; a problem for each
    that fails."""
    modules = tree.get("plugins") if isinstance(tree, dict) else None
    if modules is None:
        return []
    if not isinstance(modules, list):
        where = sources.locate(("plugins",))
        return [
            Problem(
                "plugins", "expected a list of module names", where, "write plugins: [my_module]"
            )
        ]
    problems = []
    for index, module in enumerate(modules):
        where = sources.locate(("plugins", index))
        if not isinstance(module, str) or not module:
            problems.append(
                Problem(
                    f"plugins[{index}]",
                    f"expected a module name, got {describe_value(module)}",
                    where,
                    "write plugins: [my_module]",
                )
            )
            continue
        try:
            register_module(manager, module, folders)
        except PluginError as error:
            problems.append(Problem(f"plugins[{index}]", str(error), where))
    return problems


def _kind_at(path: KeyPath) -> Kind:
    """The kind of the part a spec names at ``path``; KeyError if it names none there."""
    if len(path) == 1:
        return PART_KEYS[str(path[0])]
    if len(path) == 4 and path[:2] == ("model", "layers"):
        return LAYER_PART_KEYS[str(path[3])]
    raise KeyError(format_path(path))


def _is_part(path: KeyPath) -> bool:
    """Whether ``path`` is where a spec names a part with settings (``loss``,
    ``model.layers.0.init``, ...); a layer's ``type`` is a name alone, as overrides set it."""
    if len(path) == 1:
        return path[0] in PART_KEYS
    return (
        len(path) == 4
        and path[:2] == ("model", "layers")
        and path[3] in LAYER_PART_KEYS
        and path[3] != TYPE_KEY
    )


def _expand_part_names(tree: Any) -> None:
    """Turn each part given as a bare name into ``{"name": ...}``, so overrides can reach it."""
    if not isinstance(tree, dict):
        return
    parents: list[tuple[dict[str, Any], tuple[str, ...]]] = [(tree, tuple(PART_KEYS))]
    model = tree.get("model")
    layers = model.get("layers") if isinstance(model, dict) else None
    if isinstance(layers, list):
        named = tuple(key for key in LAYER_PART_KEYS if key != TYPE_KEY)  # type stays a name
        parents += [(layer, named) for layer in layers if isinstance(layer, dict)]
    for parent, keys in parents:
        for key in keys:
            if isinstance(parent.get(key), str):
                parent[key] = {"name": parent[key]}


def _read(
    source: str | os.PathLike[str] | Mapping[str, Any], text: str | None = None
) -> tuple[Any, SourceMap, str | None, list[Problem]]:
    """The parsed tree, where its values stand, its label, and problems found in parsing
    (of ``text`` where it is given, else of the file ``source``)."""
    if isinstance(source, Mapping):
        tree, refused, problems = copy_tree(source)
        return tree, SourceMap(refused=refused), None, problems
    label = os.fspath(source)
    if text is None:
        hint = "check the path; shipped specs: " + ", ".join(sorted(shipped_specs()))
        text = read_spec_text(source, hint)
    tree, sources, problems = parse_yaml(text, label)
    return tree, sources, label, problems
