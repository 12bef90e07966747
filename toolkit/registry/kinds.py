"""The kinds of part the toolkit assembles: one descriptor per kind, the single place
each per-kind fact lives.

The hook specifications (:mod:`toolkit.registry.hookspecs`), the spec keys naming a
part and their kind (``gradient`` -> ``gradient_estimator``), the keys plugins may name
a default for, and the label messages use all derive from :data:`KINDS`. A new kind of
part is one more descriptor here, the typed field where a spec names it
(:mod:`toolkit.spec.settings`), and the code that calls it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_KEYS",
    "KINDS",
    "LAYER_PART_KEYS",
    "PART_KEYS",
    "Kind",
    "kind_named",
]


@dataclass(frozen=True)
class Kind:
    """One kind of part: its name, its hook, the inputs the core passes first, what a
    part returns, and the spec keys that name a part of this kind."""

    name: str
    plural: str
    inputs: tuple[str, ...]
    returns: str
    """What a part gives back, for the hook's documentation."""
    keys: tuple[str, ...] = ()
    """The top-level spec keys naming a part of this kind (``gradient``)."""
    layer_keys: tuple[str, ...] = ()
    """The keys of each ``model.layers`` entry naming a part of this kind (``init``)."""
    defaulted: bool = True
    """Whether plugins may name the part a spec gets when it leaves these keys out."""

    @property
    def hook(self) -> str:
        """The hook collecting the parts: ``toolkit_activations``."""
        return f"toolkit_{self.plural}"

    @property
    def label(self) -> str:
        """The kind as messages name it: ``gradient estimator``."""
        return self.name.replace("_", " ")

    @property
    def signature(self) -> str:
        """How the core calls a part: ``f(x, **params) -> array of the shape of x``."""
        inputs = ", ".join([*self.inputs, "**params"])
        return f"f({inputs}) -> {self.returns}"


KINDS: tuple[Kind, ...] = (
    Kind(
        "activation",
        "activations",
        ("x",),
        "an array of the shape of x",
        layer_keys=("activation",),
    ),
    Kind("loss", "losses", ("y", "t"), "float, t one-hot rows or class indices", keys=("loss",)),
    Kind(
        "initializer",
        "initializers",
        ("shape", "rng"),
        "an array of that shape",
        layer_keys=("init", "bias_init"),
    ),
    Kind(
        "gradient_estimator",
        "gradient_estimators",
        ("objective",),
        "{name: gradient}",
        keys=("gradient",),
    ),
    Kind(
        "dataset",
        "datasets",
        ("rng",),
        "a Dataset or an (x, t) pair",
        keys=("data",),
        defaulted=False,
    ),
    Kind(
        "optimizer",
        "optimizers",
        (),
        "an object with update(params, grads)",
        keys=("optimizer",),
    ),
    Kind(
        "layer",
        "layers",
        ("input_shape",),
        "a toolkit.Layer for samples of that shape",
        layer_keys=("type",),
    ),
    Kind(
        "executor",
        "executors",
        ("workers",),
        "a concurrent.futures-style executor (submit, shutdown) running trials of a sweep",
        defaulted=False,
    ),
)

PART_KEYS: dict[str, Kind] = {key: kind for kind in KINDS for key in kind.keys}
"""The top-level spec keys that name a part, and the kind of each."""
LAYER_PART_KEYS: dict[str, Kind] = {key: kind for kind in KINDS for key in kind.layer_keys}
"""The keys of a layer that name a part, and the kind of each."""
DEFAULT_KEYS: tuple[str, ...] = tuple(
    key for keys in (PART_KEYS, LAYER_PART_KEYS) for key, kind in keys.items() if kind.defaulted
)
"""The spec keys whose part a plugin may name as the default (``toolkit_defaults``)."""


def kind_named(name: str) -> Kind:
    """The kind called ``name`` (singular, as in ``"activation"``)."""
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise KeyError(name)
