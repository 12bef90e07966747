"""The resolved spec, typed: frozen dataclasses a run reads by attribute, checked by mypy.

The plain settings (``seed``, ``rng``, every ``train`` key) declare here, in a
:class:`Rule`, how they are checked and described: the resolver checks a spec by these
rules and the JSON schema states them. So a new plain setting is one field here and
the code that reads it. The parts' keys come from the kind descriptors
(:mod:`toolkit.registry.kinds`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, Literal

from ..base.rng import RNG_KINDS
from ..registry.kinds import LAYER_PART_KEYS, PART_KEYS, Kind
from .yamlsource import KeyPath

__all__ = [
    "DEFAULTS",
    "TOP_KEYS",
    "TYPE_KEY",
    "Layer",
    "Model",
    "PartRef",
    "Rule",
    "Settings",
    "Train",
    "rule_of",
]

MAX_SEED = 2**32 - 1
TYPE_KEY = "type"
"""The key of a layer naming its layer part; its other keys are that part's settings."""


@dataclass(frozen=True)
class Rule:
    """How a plain setting is checked: a whole number, a number, a text or a choice,
    within bounds; ``optional`` ones are left out of the resolved spec when unset."""

    type: Literal["whole", "number", "text", "choice"]
    minimum: float | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    description: str = ""
    optional: bool = False


def _rule(**given: Any) -> dict[str, Rule]:
    return {"rule": Rule(**given)}


def rule_of(setting: Field[Any]) -> Rule | None:
    """The rule a field declares, if it is a plain setting."""
    found = setting.metadata.get("rule")
    return found if isinstance(found, Rule) else None


@dataclass(frozen=True)
class PartRef:
    """A part as the resolved spec names it: its name and settings, its kind, its key path."""

    name: str
    settings: Mapping[str, Any]
    kind: Kind
    path: KeyPath

    @classmethod
    def at(cls, path: KeyPath, kind: Kind, ref: Mapping[str, Any]) -> PartRef:
        """From the resolved ``{"name": ..., **settings}`` at ``path``."""
        settings = {key: value for key, value in ref.items() if key != "name"}
        return cls(str(ref["name"]), settings, kind, path)


@dataclass(frozen=True)
class Layer:
    """One layer: its type (a layer part, with the entry's plain settings: ``units``,
    ``rate``) and the parts its settings name (``activation``, ``init``), by key."""

    type: PartRef
    parts: Mapping[str, PartRef]

    @property
    def path(self) -> KeyPath:
        """The layer's key path: ``("model", "layers", 0)``."""
        return self.type.path[:-1]

    def setting(self, key: str) -> Any:
        """A plain setting of the layer (``units``), or None where its type has none."""
        return self.type.settings.get(key)


@dataclass(frozen=True)
class Model:
    """``model``: the layers, input side first."""

    layers: tuple[Layer, ...]


@dataclass(frozen=True)
class Train:
    """``train``: how long a run trains, on what batches, and how it logs."""

    iterations: int = field(default=100, metadata=_rule(type="whole", minimum=1))
    batch_size: int = field(default=100, metadata=_rule(type="whole", minimum=1))
    log_every: int = field(default=10, metadata=_rule(type="whole", minimum=1))
    checkpoint_every: int | None = field(
        default=None,
        metadata=_rule(
            type="whole",
            minimum=1,
            optional=True,
            description="with --out, a checkpoint every this many iterations",
        ),
    )
    weight_decay: float = field(default=0.0, metadata=_rule(type="number", minimum=0))


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The whole resolved spec, defaults filled, in the order a spec's keys are read."""

    name: str = field(metadata=_rule(type="text", description="the run's name"))
    seed: int = field(
        default=0,
        metadata=_rule(
            type="whole",
            minimum=0,
            maximum=MAX_SEED,
            description="seed of the run's random generator",
        ),
    )
    rng: str = field(default="default", metadata=_rule(type="choice", choices=RNG_KINDS))
    plugins: tuple[str, ...] = ()
    data: PartRef
    model: Model
    loss: PartRef
    gradient: PartRef
    optimizer: PartRef
    train: Train = Train()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """The typed form of a resolved spec's plain data (``Spec.config``)."""
        given: dict[str, Any] = {
            key: PartRef.at((key,), kind, config[key]) for key, kind in PART_KEYS.items()
        }
        layers = tuple(
            _layer(("model", "layers", index), layer)
            for index, layer in enumerate(config["model"]["layers"])
        )
        return cls(
            name=config["name"],
            seed=config["seed"],
            rng=config["rng"],
            plugins=tuple(config["plugins"]),
            model=Model(layers),
            train=Train(**config["train"]),
            **given,
        )

    def parts(self) -> list[PartRef]:
        """Every part the spec names, in the spec's order: data, each layer's, the rest."""
        found: list[PartRef] = []
        for key in TOP_KEYS:
            if key in PART_KEYS:
                found.append(getattr(self, key))
            elif key == "model":
                found += [
                    ref
                    for layer in self.model.layers
                    for ref in (layer.type, *layer.parts.values())
                ]
        return found


def _layer(path: KeyPath, layer: Mapping[str, Any]) -> Layer:
    parts = {
        key: PartRef.at((*path, key), LAYER_PART_KEYS[key], value)
        for key, value in layer.items()
        if key in LAYER_PART_KEYS and key != TYPE_KEY
    }
    plain = {key: value for key, value in layer.items() if key not in parts and key != TYPE_KEY}
    kind = LAYER_PART_KEYS[TYPE_KEY]
    return Layer(PartRef(str(layer[TYPE_KEY]), plain, kind, (*path, TYPE_KEY)), parts)


TOP_KEYS: tuple[str, ...] = tuple(setting.name for setting in fields(Settings))
"""The keys a spec may give, in the order they are read."""
DEFAULTS: dict[str, Any] = {
    **{s.name: s.default for s in fields(Settings) if rule_of(s) and s.default is not MISSING},
    "train": {
        s.name: s.default for s in fields(Train) if not (rule_of(s) or Rule("text")).optional
    },
}
"""What a spec gets for each plain key it leaves out. A part left out gets the one the
plugins name through ``toolkit_defaults`` (``data`` and ``model.layers`` have none)."""
