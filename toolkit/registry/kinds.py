"""The kinds of part the toolkit assembles, and how the core calls each."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "Kind", "kind_named"]


@dataclass(frozen=True)
class Kind:
    """One kind of part: its name, its hook, and the inputs the core passes first."""

    name: str
    plural: str
    inputs: tuple[str, ...]

    @property
    def hook(self) -> str:
        return f"toolkit_{self.plural}"


KINDS: tuple[Kind, ...] = (
    Kind("activation", "activations", ("x",)),
    Kind("loss", "losses", ("y", "t")),
    Kind("initializer", "initializers", ("shape", "rng")),
    Kind("gradient_estimator", "gradient_estimators", ("objective",)),
    Kind("dataset", "datasets", ("rng",)),
    Kind("optimizer", "optimizers", ()),
)


def kind_named(name: str) -> Kind:
    """The kind called ``name`` (singular, as in ``"activation"``)."""
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise KeyError(name)
