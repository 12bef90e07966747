"""Checks a parsed spec against the schema and the registry, filling every default.

Every problem is collected, not only the first, each with its key path, its place
and a fix.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, fields, replace
from numbers import Integral
from pathlib import Path
from typing import Any

from ..base.errors import Problem, SpecError
from ..base.wording import article, describe_value, did_you_mean, quote
from ..registry.kinds import LAYER_PART_KEYS, PART_KEYS, Kind, kind_named
from ..registry.parts import REQUIRED, BoundPart, as_float, check_settings
from ..registry.registry import Registry, UnknownPart
from .settings import DEFAULTS, TOP_KEYS, TYPE_KEY, Rule, Settings, Train, rule_of
from .shapes import LayerFailed, Shape, as_shape, plan_layers, shown
from .yamlsource import KeyPath, SourceMap, format_path

__all__ = [
    "DEFAULTS",
    "TOP_KEYS",
    "Resolver",
    "bind_part",
    "output_mismatch",
    "output_problem",
]

_DATASET = PART_KEYS["data"]

_LAYER = LAYER_PART_KEYS[TYPE_KEY]

_EXAMPLE = "see specs/two_layer_sigmoid.yaml for a complete spec"
_LAYER_EXAMPLE = "write each layer as '- {units: 10, activation: relu}'"


def bind_part(
    registry: Registry, kind: str, ref: str | Mapping[str, Any], path: KeyPath
) -> BoundPart:
    """A part from a name or ``{"name": ..., **settings}``; raises SpecError if it won't do."""
    resolver = Resolver(registry, SourceMap())
    resolved = resolver.part(dict(ref) if isinstance(ref, Mapping) else ref, path, kind_named(kind))
    if resolved is None or resolver.problems:
        raise SpecError(resolver.problems)
    entry = registry.lookup(kind, resolved["name"])
    settings = {key: value for key, value in resolved.items() if key != "name"}
    return BoundPart(resolved["name"], entry.part, settings, kind)


class Resolver:
    """Walks a parsed spec, filling defaults and collecting every problem.

    ``folder`` is where relative file paths the spec file gives in parts' settings are
    read from (the file's folder); those from overrides, or without a folder, are read
    from the current folder.
    """

    def __init__(self, registry: Registry, sources: SourceMap, folder: Path | None = None) -> None:
        self.registry = registry
        self.sources = sources
        self.folder = folder
        self.problems: list[Problem] = []
        self.files: dict[str, str] = {}
        """The files parts' settings name, by dotted key path (``data.path``), absolute."""

    def report(
        self,
        path: KeyPath,
        message: str,
        hint: str = "",
        *,
        at_key: bool = False,
        at: KeyPath | None = None,
    ) -> None:
        """Record a problem at ``path`` (placed at ``at``, or at the key, when given)."""
        if self.sources.is_refused(path):
            return
        where = self.sources.locate(at or path, at_key=at_key)
        self.problems.append(Problem(format_path(path), message, where, hint))

    def spec(self, tree: Any, default_name: str) -> dict[str, Any]:
        """The whole spec, resolved."""
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
        given: dict[str, Callable[[], Any]] = {
            "plugins": lambda: _plugins(top),
            "model": lambda: self.model(top),
            "train": lambda: self.train(top.get("train")),
        }
        config: dict[str, Any] = {}
        for setting in fields(Settings):  # in the spec's order, so problems come so too
            key, rule = setting.name, rule_of(setting)
            if key in PART_KEYS:
                config[key] = self.part(top.get(key), (key,), PART_KEYS[key])
            elif rule is not None:
                default = default_name if setting.default is MISSING else setting.default
                config[key] = self.setting(top, (key,), rule, default)
            else:
                config[key] = given[key]()
        if self._data_checkable(config):
            self.data(config)
        return config

    def _data_checkable(self, config: dict[str, Any]) -> bool:
        """Whether the data and the output layer resolved, so they can be checked together."""
        layers = config["model"]["layers"]
        if not config["data"] or not layers or not layers[-1]:
            return False
        last = format_path(("model", "layers", len(layers) - 1))
        return not any(
            problem.path.split(".")[0].split("[")[0] == "data" or problem.path.startswith(last)
            for problem in self.problems
        )

    def _layers_plannable(self, layers: list[Any]) -> bool:
        """Whether every layer resolved without a problem, so each can be made."""
        return all(layers) and not any(p.path.startswith("model") for p in self.problems)

    def data(self, config: dict[str, Any]) -> None:
        """Check the layers against the sample shape and the class count the dataset
        declares from its settings (``Part.features``, ``Part.classes``), building no data:
        each layer is made for its input's shape, and the last must give one value per
        class. What a dataset does not declare, or whose declaration fails, is checked when
        its data is built."""
        ref = config["data"]
        settings = {key: value for key, value in ref.items() if key != "name"}
        part = self.registry.lookup(_DATASET.name, ref["name"]).part
        classes = _declared(part.classes, settings)
        features = as_shape(_declared(part.features, settings))
        layers = config["model"]["layers"]
        if features is not None and self._layers_plannable(layers):
            try:
                planned = plan_layers(self.registry, layers, features, self.report)
            except LayerFailed:  # the build makes the layer again, and reports the failure
                return
            if planned is None:
                return
            output: Shape | None = planned[-1].output_shape
        else:
            units = layers[-1].get("units")
            output = (units,) if isinstance(units, int) else None
        if isinstance(classes, Integral) and output is not None and output != (int(classes),):
            path, message, hint = output_problem(len(layers) - 1, layers[-1], output, int(classes))
            self.report(path, message, hint)

    def setting(self, parent: dict[str, Any], path: KeyPath, rule: Rule, default: Any) -> Any:
        """A plain setting, checked by its rule (see :mod:`toolkit.spec.settings`)."""
        minimum = rule.minimum or 0
        if rule.type == "whole":
            return self.integer(parent, path, default, int(minimum), rule.maximum)
        if rule.type == "number":
            return self.number(parent, path, default, float(minimum))
        if rule.type == "choice":
            return self.choice(parent, path, rule.choices, default)
        return self.text(parent, path, default)

    def mapping(
        self, value: Any, path: KeyPath, keys: Iterable[str], required: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        """``value`` if it is a mapping; reports unknown keys and missing required ones."""
        keys = tuple(keys)
        if not isinstance(value, dict):
            self.report(
                path, f"expected a mapping, got {describe_value(value)}", "keys: " + ", ".join(keys)
            )
            return None
        for key in value:
            if key not in keys:
                hint = did_you_mean(key, keys) + "keys: " + ", ".join(keys)
                self.report((*path, key), f"unknown key {_key_words(key)}", hint, at_key=True)
        for key in required:
            if key not in value:
                self.report((*path, key), f"missing required key '{key}'", _EXAMPLE)
        return value

    def text(self, parent: dict[str, Any], path: KeyPath, default: str) -> str:
        """A non-empty text value, or its default."""
        value = parent.get(path[-1], default)
        if not isinstance(value, str) or not value:
            self.report(
                path, f"expected text, got {describe_value(value)}", "put the value in quotes"
            )
        return str(value)

    def integer(
        self,
        parent: dict[str, Any],
        path: KeyPath,
        default: int | None,
        minimum: int,
        maximum: int | None = None,
    ) -> int:
        """A whole number within bounds, or its default; present but empty is a problem."""
        value = parent.get(path[-1], default)
        if value is None and path[-1] not in parent:
            return 0  # missing and required: mapping() reported it
        if isinstance(value, bool) or not isinstance(value, int):
            self.report(path, f"expected a whole number, got {describe_value(value)}")
            return 0
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            self.report(path, f"must be {bound}, got {describe_value(value)}")
        return value

    def choice(
        self, parent: dict[str, Any], path: KeyPath, choices: tuple[str, ...], default: str
    ) -> str:
        """One of ``choices``, or the default."""
        value = parent.get(path[-1], default)
        if value not in choices:
            hint = did_you_mean(value, choices) + "choose " + " or ".join(choices)
            self.report(path, f"unknown {path[-1]} {describe_value(value)}", hint)
        return str(value)

    def model(self, top: dict[str, Any]) -> dict[str, Any]:
        """``model.layers``: a non-empty list of layers."""
        if "model" not in top:
            return {"layers": []}  # reported as missing
        model = self.mapping(top["model"], ("model",), ("layers",), required=("layers",)) or {}
        if "layers" not in model:
            return {"layers": []}
        layers = model["layers"]
        if not isinstance(layers, list) or not layers:
            self.report(
                ("model", "layers"),
                f"expected a list of at least one layer, got {describe_value(layers)}",
                _LAYER_EXAMPLE,
            )
            return {"layers": []}
        return {
            "layers": [self.layer(layer, ("model", "layers", i)) for i, layer in enumerate(layers)]
        }

    def layer(self, value: Any, path: KeyPath) -> dict[str, Any]:
        """One layer: its ``type`` (the plugins' default where left out) and that layer
        part's settings; a setting named like a part key (``activation``, ``init``) is
        resolved as a part of that kind."""
        if not isinstance(value, dict):
            self.report(path, f"expected a mapping, got {describe_value(value)}", _LAYER_EXAMPLE)
            return {}
        named = value.get(TYPE_KEY)
        if TYPE_KEY in value and not isinstance(named, str):
            self.report(
                (*path, TYPE_KEY),
                f"expected a layer type name, got {describe_value(named)}",
                "available: " + ", ".join(self.registry.names(_LAYER.name)) + self._left_out(),
            )
            return {}
        name = self._layer_type(named, (*path, TYPE_KEY))
        if name is None:
            return {}
        params = self.registry.lookup(_LAYER.name, name).part.params or {}
        self._unknown_layer_keys(value, path, name, params)
        resolved: dict[str, Any] = {TYPE_KEY: name}
        plain = {key: default for key, default in params.items() if key not in LAYER_PART_KEYS}
        resolved.update(self._layer_settings(value, path, name, plain))
        resolved.update(self._layer_parts(value, path, params))
        return resolved

    def _layer_parts(
        self, value: dict[str, Any], path: KeyPath, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The layer part's settings that name parts (``activation``, ``init``), each
        resolved as its kind, or the plugins' default; a required one left out is a
        problem, not the default."""
        parts: dict[str, Any] = {}
        for key, default in params.items():
            kind = LAYER_PART_KEYS.get(key)
            if kind is None:
                continue
            if default is REQUIRED and value.get(key) is None:
                available = ", ".join(self.registry.names(kind.name))
                hint = f"name {article(kind.label)} {kind.label}: {available}"
                self.report((*path, key), f"missing required key '{key}'", hint)
                continue
            parts[key] = self.part(value.get(key), (*path, key), kind)
        return parts

    def _left_out(self) -> str:
        """What a layer without ``type`` is, for a hint: `` (leave 'type' out for 'dense')``."""
        try:
            default = self.registry.default(TYPE_KEY)
        except UnknownPart:
            return ""
        return f" (leave 'type' out for {quote(default)})" if default else ""

    def _layer_type(self, named: str | None, path: KeyPath) -> str | None:
        """The layer part's name: as given, or the plugins' default; None if there is none."""
        try:
            name = named if named is not None else self.registry.default(TYPE_KEY)
            if name is None:
                self.report(
                    path,
                    "missing layer type",
                    "available: " + ", ".join(self.registry.names(_LAYER.name)),
                )
                return None
            self.registry.lookup(_LAYER.name, name)
        except UnknownPart as error:
            self.report(path, error.message, error.hint)
            return None
        return name

    def _unknown_layer_keys(
        self, value: dict[str, Any], path: KeyPath, name: str, params: Mapping[str, Any]
    ) -> None:
        keys = (TYPE_KEY, *params)
        takes = (
            f"layer '{name}' takes: " + ", ".join(keys)
            if params
            else (f"layer '{name}' takes no settings besides 'type'; remove it")
        )
        for key in value:
            if key not in keys:
                hint = did_you_mean(key, keys) + takes
                self.report((*path, key), f"unknown key {_key_words(key)}", hint, at_key=True)

    def _layer_settings(
        self, value: dict[str, Any], path: KeyPath, name: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """The layer part's plain settings, defaults filled, each problem at its key."""
        given = {key: value[key] for key in value if key in params}
        part = replace(self.registry.lookup(_LAYER.name, name).part, params=params)
        settings, problems = check_settings(part, given)
        for param, message, hint in problems:
            if message.startswith("missing required parameter"):
                message, hint = f"missing required key '{param}'", hint or _LAYER_EXAMPLE
            elif message.startswith("unknown"):
                continue  # reported by _unknown_layer_keys
            self.report((*path, param), message, hint)
        return settings

    def train(self, value: Any) -> dict[str, Any]:
        """The training settings: positive whole numbers, and a weight decay of 0 or more.

        ``checkpoint_every`` is left out when unset: checkpoints then follow the clock
        (see ``trainer.CHECKPOINT_SECONDS``).
        """
        keys = [setting.name for setting in fields(Train)]
        train = (self.mapping(value, ("train",), keys) if value is not None else {}) or {}
        settings: dict[str, Any] = {}
        for setting in fields(Train):
            rule = rule_of(setting)
            if rule is None or (rule.optional and setting.name not in train):
                continue
            settings[setting.name] = self.setting(
                train, ("train", setting.name), rule, setting.default
            )
        return settings

    def number(
        self, parent: dict[str, Any], path: KeyPath, default: float, minimum: float
    ) -> float:
        """A finite number of at least ``minimum``, or its default."""
        value = parent.get(path[-1], default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.report(path, f"expected a number, got {describe_value(value)}")
            return default
        number = as_float(value)
        if not math.isfinite(number) or number < minimum:
            self.report(
                path,
                f"must be a finite number of at least {minimum:g}, got {describe_value(value)}",
            )
        return number

    def part(self, value: Any, path: KeyPath, kind: Kind) -> dict[str, Any] | None:
        """``"relu"`` or ``{name: leaky_relu, slope: 0.1}`` -> ``{"name": ..., **settings}``.

        A part left out is the plugins' default for its key, where they give one.
        """
        label = kind.label
        available = "available: " + ", ".join(self.registry.names(kind.name))
        if isinstance(value, str):
            value = {"name": value}
        if value is not None and not isinstance(value, dict):
            self.report(
                path,
                f"expected {article(label)} {label} name or a mapping with "
                f"'name', got {describe_value(value)}",
                available,
            )
            return None
        given = dict(value or {})
        name = given.pop("name", None)
        if name is None:
            try:
                name = self.registry.default(str(path[-1]))
            except UnknownPart as error:
                self.report(path, error.message, error.hint)
                return None
        if name is None:
            self.report(path, f"missing {label}", "name one of: " + available[11:])
            return None
        if not isinstance(name, str):
            self.report(
                path,
                f"expected {article(label)} {label} name, got {describe_value(name)}",
                available,
                at=(*path, "name"),
            )
            return None
        try:
            entry = self.registry.lookup(kind.name, name)
        except UnknownPart as error:
            self.report(path, error.message, error.hint, at=(*path, "name"))
            return None
        settings, problems = check_settings(entry.part, given)
        for param, message, hint in problems:
            self.report(
                (*path, param),
                f"{label} {quote(name)}: {message}",
                hint,
                at_key=message.startswith("unknown"),
            )
        for param in entry.part.paths:
            settings[param] = self.file_path(settings.get(param), (*path, param))
        return {"name": name, **settings}

    def file_path(self, value: Any, path: KeyPath) -> Any:
        """A relative file path made absolute: from the spec file's folder where the file
        wrote it, from the current folder where an override (or a mapping) gave it."""
        if not isinstance(value, str) or not value:
            return value
        where = self.sources.locate(path)
        in_file = self.folder is not None and where is not None and where.line is not None
        folder = self.folder if in_file and self.folder is not None else Path.cwd()
        absolute = os.path.normpath(os.path.join(folder, os.path.expanduser(value)))
        self.files[format_path(path)] = absolute
        return absolute


def _declared(declaration: Callable[..., Any] | None, settings: Mapping[str, Any]) -> Any:
    """What a dataset declares from its settings, or None (none declared, or it failed:
    the build calls the dataset, and reports it)."""
    if declaration is None:
        return None
    try:
        return declaration(**settings)
    except (Exception, SystemExit):
        return None


def output_problem(
    index: int, layer: Mapping[str, Any], output: Shape, classes: int
) -> tuple[KeyPath, str, str]:
    """Where and why the last layer's output does not fit the data's classes, and the fix."""
    units = layer.get("units")
    if isinstance(units, int) and output == (units,):
        return ("model", "layers", index, "units"), *output_mismatch(units, classes)
    return (
        ("model", "layers", index),
        f"the output layer gives samples of shape {shown(output)} but the data has "
        f"{classes} classes",
        f"end with a layer that gives {classes} values per sample",
    )


def output_mismatch(units: int, classes: int) -> tuple[str, str]:
    """The message and the fix when the output layer's units are not the data's classes."""
    return (
        f"the output layer has {units} units but the data has {classes} classes",
        f"set units: {classes}",
    )


def _plugins(top: dict[str, Any]) -> list[Any]:
    """The modules under ``plugins:``; none if it is not a list (loading reported that)."""
    modules = top.get("plugins")
    return list(modules) if isinstance(modules, list) else []


def _key_words(key: Any) -> str:
    """A key as a message names it: ``'units'``, ``'' (an empty key)``, ``1``."""
    return f"{quote(key)} (an empty key)" if key == "" else quote(key)
