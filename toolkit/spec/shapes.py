"""Each layer made for the shape of the samples it takes, from the data's sample shape on:
the layers' output shapes, checked before any data is drawn or weight initialised.

A layer part is called with the shape of each sample reaching it and its settings
(those naming a part bound to it); it returns the layer, which says the shape its
samples leave with. A setting that cannot work for that shape (a kernel larger than
the input) is a ``SettingError`` from the part, reported at that setting's key path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from ..base.errors import SettingError
from ..registry.kinds import LAYER_PART_KEYS
from ..registry.parts import BoundPart
from ..registry.registry import Registry
from .settings import TYPE_KEY
from .yamlsource import KeyPath

__all__ = ["LayerFailed", "Planned", "Shape", "as_shape", "plan_layers", "shown"]

Shape = tuple[int, ...]
Report = Callable[[KeyPath, str, str], None]


@dataclass(frozen=True)
class Planned:
    """One layer made: its key path, its type's name, and the layer object."""

    path: KeyPath
    type: str
    layer: Any

    @property
    def output_shape(self) -> Shape:
        """The shape of each sample it gives."""
        return tuple(self.layer.output_shape)


class LayerFailed(Exception):
    """A layer part raised something other than a SettingError: the part's failure."""

    def __init__(self, path: KeyPath, name: str, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.path, self.name, self.error = path, name, error


def as_shape(value: Any) -> Shape | None:
    """A sample shape from an int (a number of features) or a sequence of positive ints."""
    if _whole(value):
        return (int(value),) if int(value) > 0 else None
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        return None
    if all(_whole(v) and int(v) > 0 for v in value):
        return tuple(int(v) for v in value)
    return None


def _whole(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def plan_layers(
    registry: Registry,
    layers: Sequence[Mapping[str, Any]],
    input_shape: Shape,
    report: Report,
) -> list[Planned] | None:
    """Each resolved layer made for the shape reaching it, in order; None after the
    first layer whose settings cannot work for that shape (reported at the setting).
    A part that fails otherwise raises ``LayerFailed``."""
    shape = input_shape
    planned: list[Planned] = []
    for index, config in enumerate(layers):
        path: KeyPath = ("model", "layers", index)
        made = _make(registry, path, config, shape, report)
        if made is None:
            return None
        planned.append(made)
        shape = made.output_shape
    return planned


def _make(
    registry: Registry,
    path: KeyPath,
    config: Mapping[str, Any],
    shape: Shape,
    report: Report,
) -> Planned | None:
    name = str(config[TYPE_KEY])
    entry = registry.lookup(LAYER_PART_KEYS[TYPE_KEY].name, name)
    settings = {key: _bound(registry, key, value) for key, value in config.items()}
    del settings[TYPE_KEY]
    try:
        layer = entry.part.fn(shape, **settings)
    except SettingError as error:
        blamed = (*path, error.setting) if error.setting in settings else path
        report(blamed, f"layer '{name}' on samples of shape {shown(shape)}: {error.message}", "")
        return None
    except Exception as error:
        raise LayerFailed(path, name, error) from error
    if not getattr(layer, "type_name", ""):
        layer.type_name = name
    output = as_shape(getattr(layer, "output_shape", None))
    if output is None:
        raise LayerFailed(
            path, name, TypeError(f"it made {type(layer).__name__} without an output_shape")
        )
    return Planned(path, name, layer)


def _bound(registry: Registry, key: str, value: Any) -> Any:
    """A setting as the layer part takes it: a part setting as a bound part."""
    kind = LAYER_PART_KEYS.get(key)
    if kind is None or key == TYPE_KEY or not isinstance(value, Mapping):
        return value
    settings = {k: v for k, v in value.items() if k != "name"}
    part = registry.lookup(kind.name, value["name"]).part
    return BoundPart(str(value["name"]), part, settings, kind.name)


def shown(shape: Shape) -> str:
    """``(64,)``, ``(1, 8, 8)``: a shape as messages show it."""
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
