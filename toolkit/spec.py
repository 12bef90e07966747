"""Specs: YAML text or a mapping in, a validated and normalized :class:`Spec` out.

Every problem is collected (not only the first) with its key path, its place in
the file or the override that set it, and a fix; then one SpecError holds them all.
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .data import as_dataset
from .errors import Location, PluginError, Problem, SpecError
from .manager import ToolkitPluginManager, get_plugin_manager, register_module
from .overrides import apply_overrides
from .parts import BoundPart, check_settings
from .registry import Entry, Registry, UnknownPart
from .rng import RNG_KINDS, make_rng
from .suggest import did_you_mean
from .yamlsource import KeyPath, SourceMap, format_path, parse_yaml

__all__ = ["DEFAULTS", "Spec", "load_spec", "setting_path", "shipped_specs"]


TOP_KEYS = (
    "name",
    "seed",
    "rng",
    "plugins",
    "data",
    "model",
    "loss",
    "gradient",
    "optimizer",
    "train",
)
LAYER_KEYS = ("units", "activation", "init", "bias_init")
DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "rng": "default",
    "loss": "cross_entropy",
    "gradient": "central_difference",
    "optimizer": "sgd",
    "layer": {"activation": "identity", "init": "normal", "bias_init": "zeros"},
    "train": {"iterations": 100, "batch_size": 100, "log_every": 10},
}
"""What a spec gets for each key it leaves out (``data`` and ``model.layers`` have none)."""

_LAYER_KINDS = {"activation": "activation", "init": "initializer", "bias_init": "initializer"}
_EXAMPLE = "see specs/two_layer_sigmoid.yaml for a complete spec"


@dataclass(frozen=True)
class Spec:
    """A validated spec: plain ``config`` data, the registry it was resolved against,
    and where each value came from."""

    config: dict[str, Any]
    registry: Registry
    sources: SourceMap
    source: str | None = None

    @property
    def name(self) -> str:
        return str(self.config["name"])

    def locate(self, path: KeyPath) -> Location | None:
        return self.sources.locate(path)

    def problem(self, path: KeyPath, message: str, hint: str = "") -> Problem:
        """A problem found after loading (for example by a part), placed in the source."""
        return Problem(format_path(path), message, self.locate(path), hint)

    def entry(self, path: KeyPath, kind: str) -> Entry:
        """The registry entry the part at ``path`` resolved to."""
        return self.registry.lookup(kind, self.value_at(path)["name"])

    def bind(self, path: KeyPath, kind: str) -> BoundPart:
        """The part at ``path`` with its settings, ready to call."""
        ref = self.value_at(path)
        settings = {key: value for key, value in ref.items() if key != "name"}
        return BoundPart(ref["name"], self.entry(path, kind).part, settings)

    def to_yaml(self) -> str:
        """The resolved spec, defaults and overrides included, as YAML."""
        return str(yaml.safe_dump(self.config, sort_keys=False))

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
        folder = Path(__file__).resolve().parent.parent / "specs"
    return {
        Path(item.name).stem: Path(str(item))
        for item in folder.iterdir()
        if item.name.endswith(".yaml")
    }


def load_spec(
    source: str | os.PathLike[str] | Mapping[str, Any],
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
    *,
    manager: ToolkitPluginManager | None = None,
) -> Spec:
    """Load, override, validate and normalize a spec. Raises SpecError listing every problem.

    ``source`` is a YAML file's path or an already-parsed mapping. ``overrides`` are
    ``"KEY=VALUE"`` strings or a ``{key: value}`` mapping with dotted keys. Parts are
    resolved against ``manager`` (by default, every installed plugin), after the
    modules the spec lists under ``plugins:`` are imported and registered with it.
    """
    tree, sources, label = _read(source)
    _expand_part_names(tree)
    problems = (
        apply_overrides(tree, sources, overrides) if overrides and isinstance(tree, dict) else []
    )
    manager = manager or get_plugin_manager()
    problems += _register_spec_plugins(tree, sources, manager)
    registry = Registry.from_manager(manager)
    default_name = Path(label).stem if label else "unnamed"
    resolver = _Resolver(registry, sources)
    config = resolver.spec(tree, default_name)
    problems += resolver.problems
    if problems:
        raise SpecError(problems)
    return Spec(config, registry, sources, label)


def _register_spec_plugins(
    tree: Any, sources: SourceMap, manager: ToolkitPluginManager
) -> list[Problem]:
    """Import and register each module under ``plugins:``; a problem for each that fails."""
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
                Problem(f"plugins[{index}]", f"expected a module name, got {module!r}", where)
            )
            continue
        try:
            register_module(manager, module)
        except PluginError as error:
            problems.append(Problem(f"plugins[{index}]", str(error), where))
    return problems


def setting_path(path: KeyPath, message: str, settings: Mapping[str, Any]) -> KeyPath:
    """Where a part's error points: the setting its message begins with, else the part."""
    first = re.match(r"\w+", message)
    return (*path, first.group()) if first and first.group() in settings else path


def _expand_part_names(tree: Any) -> None:
    """Turn each part given as a bare name into ``{"name": ...}``, so overrides can reach it."""
    if not isinstance(tree, dict):
        return
    parents: list[tuple[dict[str, Any], tuple[str, ...]]] = [
        (tree, ("data", "loss", "gradient", "optimizer"))
    ]
    model = tree.get("model")
    layers = model.get("layers") if isinstance(model, dict) else None
    if isinstance(layers, list):
        parents += [(layer, tuple(_LAYER_KINDS)) for layer in layers if isinstance(layer, dict)]
    for parent, keys in parents:
        for key in keys:
            if isinstance(parent.get(key), str):
                parent[key] = {"name": parent[key]}


def _read(source: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[Any, SourceMap, str | None]:
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source)), SourceMap(), None
    path = Path(source)
    label = os.fspath(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            [
                Problem(
                    label,
                    "no such spec file",
                    None,
                    "check the path; shipped specs: " + ", ".join(sorted(shipped_specs())),
                )
            ]
        ) from None
    except IsADirectoryError:
        raise SpecError(
            [Problem(label, "is a folder, not a spec file", None, "name the .yaml file inside it")]
        ) from None
    except UnicodeDecodeError as error:
        raise SpecError(
            [Problem(label, f"is not UTF-8 text ({error.reason})", None, "save the spec as UTF-8")]
        ) from None
    except OSError as error:
        raise SpecError([Problem(label, f"cannot be read: {error.strerror}", None, "")]) from None
    tree, sources = parse_yaml(text, label)
    return tree, sources, label


class _Resolver:
    """Walks a parsed spec, filling defaults and collecting every problem."""

    def __init__(self, registry: Registry, sources: SourceMap) -> None:
        self.registry = registry
        self.sources = sources
        self.problems: list[Problem] = []

    def report(
        self,
        path: KeyPath,
        message: str,
        hint: str = "",
        *,
        at_key: bool = False,
        at: KeyPath | None = None,
    ) -> None:
        where = self.sources.locate(at or path, at_key=at_key)
        self.problems.append(Problem(format_path(path) or "spec", message, where, hint))

    def spec(self, tree: Any, default_name: str) -> dict[str, Any]:
        if tree is None:
            self.report(
                (),
                "the spec is empty",
                "a spec needs at least 'data' and 'model.layers'; " + _EXAMPLE,
            )
            return {}
        top = self.mapping(tree, (), TOP_KEYS, required=("data", "model"))
        if top is None:
            return {}
        rng = self.choice(top, ("rng",), RNG_KINDS)
        config = {
            "name": self.text(top, ("name",), default_name),
            "seed": self.integer(top, ("seed",), DEFAULTS["seed"], 0, 2**32 - 1),
            "rng": rng,
            "plugins": list(top.get("plugins") or []),
            "data": self.part(top.get("data"), ("data",), "dataset"),
            "model": self.model(top.get("model")),
            "loss": self.part(top.get("loss"), ("loss",), "loss"),
            "gradient": self.part(top.get("gradient"), ("gradient",), "gradient_estimator"),
            "optimizer": self.part(top.get("optimizer"), ("optimizer",), "optimizer"),
            "train": self.train(top.get("train")),
        }
        self.data(config)
        return config

    def data(self, config: dict[str, Any]) -> None:
        """Load the data once, with a generator of its own, to check it against the model."""
        ref, seed = config["data"], config["seed"]
        if not ref or config["rng"] not in RNG_KINDS or not 0 <= (seed or 0) < 2**32:
            return
        settings = {key: value for key, value in ref.items() if key != "name"}
        bound = BoundPart(ref["name"], self.registry.lookup("dataset", ref["name"]).part, settings)
        try:
            data = as_dataset(bound(make_rng(config["rng"], seed or 0)))
        except ValueError as error:
            path = setting_path(("data",), str(error), settings)
            self.report(path, f"dataset '{ref['name']}': {error}", at=path)
            return
        except Exception:  # a broken dataset part fails the run, where it is reported
            return
        layers = config["model"]["layers"]
        units = layers[-1].get("units") if layers else None
        if isinstance(units, int) and units != data.classes:
            self.report(
                ("model", "layers", len(layers) - 1, "units"),
                f"the output layer has {units} units but the data has {data.classes} classes",
                f"set units: {data.classes}",
            )

    def mapping(
        self, value: Any, path: KeyPath, keys: Iterable[str], required: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        keys = tuple(keys)
        if not isinstance(value, dict):
            self.report(
                path, f"expected a mapping, got {_kind_of(value)}", "keys: " + ", ".join(keys)
            )
            return None
        for key in value:
            if key not in keys:
                self.report(
                    (*path, key),
                    f"unknown key '{key}'",
                    did_you_mean(key, keys) + "keys: " + ", ".join(keys),
                    at_key=True,
                )
        for key in required:
            if value.get(key) is None:
                self.report((*path, key), f"missing required key '{key}'", _EXAMPLE)
        return value

    def text(self, parent: dict[str, Any], path: KeyPath, default: str) -> str:
        value = parent.get(path[-1], default)
        if not isinstance(value, str) or not value:
            self.report(path, f"expected text, got {_kind_of(value)}")
        return str(value)

    def integer(
        self,
        parent: dict[str, Any],
        path: KeyPath,
        default: int | None,
        minimum: int,
        maximum: int | None = None,
    ) -> int | None:
        value = parent.get(path[-1], default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.report(path, f"expected a whole number, got {_kind_of(value)}")
            return None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            self.report(path, f"must be {bound}, got {value}")
        return value

    def choice(self, parent: dict[str, Any], path: KeyPath, choices: tuple[str, ...]) -> str:
        value = parent.get(path[-1], DEFAULTS[path[-1]])
        if value not in choices:
            self.report(
                path,
                f"unknown {path[-1]} {value!r}",
                did_you_mean(str(value), choices) + "choose " + " or ".join(choices),
            )
        return str(value)

    def model(self, value: Any) -> dict[str, Any]:
        model = (
            self.mapping(value, ("model",), ("layers",), required=("layers",))
            if value is not None
            else None
        )
        layers = (model or {}).get("layers")
        if layers is None:
            return {"layers": []}
        if not isinstance(layers, list) or not layers:
            self.report(
                ("model", "layers"),
                f"expected a list of at least one layer, got {_kind_of(layers)}",
                "write each layer as '- {units: 10, activation: relu}'",
            )
            return {"layers": []}
        return {
            "layers": [self.layer(layer, ("model", "layers", i)) for i, layer in enumerate(layers)]
        }

    def layer(self, value: Any, path: KeyPath) -> dict[str, Any]:
        layer = self.mapping(value, path, LAYER_KEYS, required=("units",))
        if layer is None:
            return {}
        resolved: dict[str, Any] = {"units": self.integer(layer, (*path, "units"), None, 1)}
        for key, kind in _LAYER_KINDS.items():
            resolved[key] = self.part(layer.get(key), (*path, key), kind, DEFAULTS["layer"][key])
        return resolved

    def train(self, value: Any) -> dict[str, Any]:
        defaults = DEFAULTS["train"]
        train = self.mapping(value, ("train",), defaults) if value is not None else {}
        return {
            key: self.integer(train or {}, ("train", key), default, 1)
            for key, default in defaults.items()
        }

    def part(
        self, value: Any, path: KeyPath, kind: str, default: str | None = None
    ) -> dict[str, Any] | None:
        """``"relu"`` or ``{name: leaky_relu, slope: 0.1}`` -> ``{"name": ..., **settings}``."""
        default = default or DEFAULTS.get(path[-1])
        label = kind.replace("_", " ")
        given = dict(value) if isinstance(value, dict) else {}
        if isinstance(value, str):
            given = {"name": value}
        elif value is not None and not isinstance(value, dict):
            self.report(
                path,
                f"expected {_article(label)} {label} name or a mapping with 'name', "
                f"got {_kind_of(value)}",
                "available: " + ", ".join(self.registry.names(kind)),
            )
            return None
        name = given.pop("name", None) or default
        if name is None:
            self.report(
                path, f"missing {label}", "name one of: " + ", ".join(self.registry.names(kind))
            )
            return None
        if not isinstance(name, str):
            self.report(
                path,
                f"expected {_article(label)} {label} name, got {_kind_of(name)}",
                at=(*path, "name"),
            )
            return None
        try:
            entry = self.registry.lookup(kind, name)
        except UnknownPart as error:
            self.report(path, error.message, error.hint, at=(*path, "name"))
            return None
        settings, problems = check_settings(entry.part, given)
        for param, message, hint in problems:
            self.report(
                (*path, param),
                f"{label} '{name}': {message}",
                hint,
                at_key=message.startswith("unknown"),
            )
        return {"name": name, **settings}


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value}"
    names: dict[type, str] = {dict: "a mapping", list: "a list", str: f"text {value!r}"}
    return names.get(type(value), repr(value))


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
