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
from typing import Any

from ..base.rng import RNG_KINDS
from ..registry.kinds import LAYER_PART_KEYS, PART_KEYS, Kind
from ..registry.parts import REQUIRED
from ..registry.registry import Entry, Registry, UnknownPart
from .resolver import DEFAULTS, TOP_KEYS

__all__ = ["DIALECT", "spec_schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_MAX_SEED = 2**32 - 1
_WHOLE = {"type": "integer", "minimum": 1}


def spec_schema(registry: Registry) -> dict[str, Any]:
    """The schema of a spec whose parts come from ``registry``."""
    properties: dict[str, Any] = {
        "name": {"type": "string", "minLength": 1, "description": "the run's name"},
        "seed": {
            "type": "integer",
            "minimum": 0,
            "maximum": _MAX_SEED,
            "default": DEFAULTS["seed"],
            "description": "seed of the run's random generator",
        },
        "rng": {"enum": list(RNG_KINDS), "default": DEFAULTS["rng"]},
        "plugins": {
            "type": ["array", "null"],
            "items": {"type": "string", "minLength": 1},
            "description": "modules to import and register as plugins, like -p",
        },
        "model": _model(registry),
        "train": _train(),
    }
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
    layer = {
        "type": "object",
        "required": ["units"],
        "properties": {
            "units": {**_WHOLE, "description": "the layer's output size"},
            **{key: _part(registry, kind, key) for key, kind in LAYER_PART_KEYS.items()},
        },
        "additionalProperties": False,
    }
    layers = {"type": "array", "minItems": 1, "items": layer, "description": "dense layers"}
    return {
        "type": "object",
        "required": ["layers"],
        "properties": {"layers": layers},
        "additionalProperties": False,
    }


def _train() -> dict[str, Any]:
    counts = {key: {**_WHOLE, "default": value} for key, value in DEFAULTS["train"].items()}
    return {
        "type": ["object", "null"],
        "properties": {
            **counts,
            "checkpoint_every": {
                **_WHOLE,
                "description": "with --out, a checkpoint every this many iterations",
            },
            "weight_decay": {"type": "number", "minimum": 0, "default": 0},
        },
        "additionalProperties": False,
    }


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
