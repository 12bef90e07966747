"""A JSON Schema of the spec, generated from the live registry, for editors.

Every registered part appears by its bare and its qualified name, with its parameters,
their defaults and its description, so that an editor's YAML support completes and
checks a spec (``# yaml-language-server: $schema=spec.schema.json``). The schema is never
stricter than ``load_spec``: what the loader accepts validates. Where the loader knows
more than a schema can say (an ambiguous bare name, the data's class count, a part's own
``validate``), the schema is looser and the loader has the last word.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import MISSING, Field, fields
from typing import Any

from ..registry.kinds import LAYER_PART_KEYS, PART_KEYS, Kind
from ..registry.parts import REQUIRED
from ..registry.registry import Entry, Registry, UnknownPart
from .settings import TOP_KEYS, TYPE_KEY, Rule, Settings, Train, rule_of

__all__ = ["DIALECT", "spec_schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def spec_schema(registry: Registry) -> dict[str, Any]:
    """The schema of a spec whose parts come from ``registry``."""
    properties: dict[str, Any] = {
        "plugins": {
            "type": ["array", "null"],
            "items": {"type": "string", "minLength": 1},
            "description": "modules to import and register as plugins, like -p",
        },
        "model": _model(registry),
        "train": _train(),
    }
    properties.update(_plain_settings(fields(Settings)))
    for key, kind in PART_KEYS.items():
        properties[key] = _part(registry, kind, key)
    return {
        "$schema": DIALECT,
        "title": "layer-toolkit spec",
        "type": "object",
        "required": ["data", "model"],
        "properties": {key: properties[key] for key in TOP_KEYS},
        "additionalProperties": False,
    }


def _model(registry: Registry) -> dict[str, Any]:
    kind = LAYER_PART_KEYS[TYPE_KEY]
    default = _default(registry, TYPE_KEY)
    forms = [
        _layer(registry, entry, name)
        for entry in registry.entries(kind.name)
        for name in (entry.name, entry.qualified_name)
    ]
    forms += [_layer(registry, e, None) for e in registry.entries(kind.name) if e.name == default]
    layer = {"description": "a layer: its type and that type's settings", "anyOf": forms}
    layers = {"type": "array", "minItems": 1, "items": layer, "description": "the layers"}
    return {
        "type": "object",
        "required": ["layers"],
        "properties": {"layers": layers},
        "additionalProperties": False,
    }


def _layer(registry: Registry, entry: Entry, name: str | None) -> dict[str, Any]:
    """One layer type's entry under ``name`` (``type`` left out: the default type's)."""
    params = entry.part.params or {}
    properties: dict[str, Any] = {TYPE_KEY: {"const": name}} if name is not None else {}
    required = [TYPE_KEY] if name is not None else []
    for param, default in params.items():
        kind = LAYER_PART_KEYS.get(param)
        properties[param] = _part(registry, kind, param) if kind else _parameter(default)
        if default is REQUIRED:
            required.append(param)
    form: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    if entry.part.description:
        form["description"] = entry.part.description
    return form


def _train() -> dict[str, Any]:
    return {
        "type": ["object", "null"],
        "properties": _plain_settings(fields(Train)),
        "additionalProperties": False,
    }


def _plain_settings(settings: Iterable[Field[Any]]) -> dict[str, Any]:
    """The plain settings among ``settings``, as their rules state them."""
    found = {}
    for setting in settings:
        rule = rule_of(setting)
        if rule is not None:
            found[setting.name] = _plain(rule, setting.default)
    return found


def _plain(rule: Rule, default: Any) -> dict[str, Any]:
    """A plain setting's schema: its type and bounds, its default and description."""
    if rule.type == "choice":
        schema: dict[str, Any] = {"enum": list(rule.choices)}
    elif rule.type == "text":
        schema = {"type": "string", "minLength": 1}
    else:
        schema = {"type": "integer" if rule.type == "whole" else "number"}
        schema["minimum"] = rule.minimum if rule.minimum is not None else 0
        if rule.maximum is not None:
            schema["maximum"] = rule.maximum
    if default is not MISSING and default is not None:
        whole = isinstance(default, float) and default.is_integer()
        schema["default"] = int(default) if whole else default  # JSON has one number type
    if rule.description:
        schema["description"] = rule.description
    return schema


def _part(registry: Registry, kind: Kind, key: str) -> dict[str, Any]:
    """A part: a name, or a mapping with ``name`` and the part's parameters.

    Where the plugins name a default for ``key``, the part may be left empty (``null``)
    or given as a mapping without ``name``: the default part's parameters.
    """
    entries = registry.entries(kind.name)
    names = sorted({name for entry in entries for name in (entry.name, entry.qualified_name)})
    forms: list[dict[str, Any]] = [{"type": "string", "enum": names}]
    forms += [
        _settings(entry, name) for entry in entries for name in (entry.name, entry.qualified_name)
    ]
    default = _default(registry, key)
    if default is not None:
        forms.append({"type": "null"})
        forms += [_settings(entry, None) for entry in entries if entry.name == default]
    return {"description": f"{kind.label} part: a name, or a mapping with 'name'", "anyOf": forms}


def _default(registry: Registry, key: str) -> str | None:
    """The part the plugins name for ``key`` when a spec leaves it out, if they name one."""
    try:
        return registry.default(key)
    except UnknownPart:
        return None


def _settings(entry: Entry, name: str | None) -> dict[str, Any]:
    """The mapping form of one part under ``name``, or of the default part (``name`` left
    out or null)."""
    params = entry.part.params or {}
    properties = {param: _parameter(default) for param, default in params.items()}
    required = [param for param, default in params.items() if default is REQUIRED]
    named = {"const": name} if name is not None else {"type": "null"}
    properties = {"name": named, **properties}
    if name is not None:
        required = ["name", *required]
    form: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    if entry.part.description:
        form["description"] = entry.part.description
    return form


def _parameter(default: Any) -> dict[str, Any]:
    """A parameter's type, as the loader checks it from its default, and the default."""
    if isinstance(default, bool):
        schema: dict[str, Any] = {"type": "boolean"}
    elif isinstance(default, int):
        schema = {"type": "integer"}
    elif isinstance(default, float):
        schema = {"type": "number"}
    elif isinstance(default, str):
        schema = {"type": "string"}
    else:
        schema = {}
    if default is not REQUIRED and _plain_json(default):
        schema["default"] = default
    return schema


def _plain_json(value: Any) -> bool:
    """Whether ``value`` is written as JSON as it is (no nan, no infinity, no objects)."""
    if isinstance(value, float) and not math.isfinite(value):
        return False
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True
